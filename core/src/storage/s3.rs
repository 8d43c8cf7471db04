use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream as AwsBody;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use tokio::io::AsyncReadExt;

use super::{ByteStream, Object, ObjectInfo, Storage, validate_key};
use crate::config::Config;
use crate::error::{Error, Result};

/// Parts of a multipart upload; S3 wants ≥ 5 MiB for all but the last. This bounds the memory
/// one upload holds.
const PART_SIZE: usize = 8 * 1024 * 1024;

#[derive(Debug)]
pub struct S3Storage {
    client: aws_sdk_s3::Client,
    /// Signs download URLs for the address clients use, when it differs from Vigil's own.
    presign_client: aws_sdk_s3::Client,
    bucket: String,
}

fn s3_err(e: impl std::error::Error) -> Error {
    Error::unavailable("storage", DisplayErrorContext(e))
}

async fn client_for(config: &Config, endpoint: Option<&str>) -> aws_sdk_s3::Client {
    let shared = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(config.s3_region.clone()))
        .load()
        .await;
    let mut builder = aws_sdk_s3::config::Builder::from(&shared)
        .force_path_style(config.s3_path_style)
        // Only checksum when S3 demands it: MinIO and other compatible servers differ in their
        // support for the newer default (trailing CRC checksums).
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
    if let Some(endpoint) = endpoint {
        builder = builder.endpoint_url(endpoint);
    }
    if let (Some(id), Some(secret)) = (&config.s3_access_key_id, &config.s3_secret_access_key) {
        builder =
            builder.credentials_provider(Credentials::new(id, secret, None, None, "vigil-config"));
    }
    aws_sdk_s3::Client::from_conf(builder.build())
}

impl S3Storage {
    async fn presigned_get(
        &self,
        client: &aws_sdk_s3::Client,
        key: &str,
        ttl: Duration,
    ) -> Result<String> {
        validate_key(key)?;
        let presigning = PresigningConfig::expires_in(ttl)
            .map_err(|e| Error::validation("ttl", e.to_string()))?;
        let request = client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(presigning)
            .await
            .map_err(s3_err)?;
        Ok(request.uri().to_string())
    }

    pub async fn from_config(config: &Config) -> Result<Self> {
        let client = client_for(config, config.s3_endpoint.as_deref()).await;
        let presign_client = match &config.s3_public_endpoint {
            Some(public) => client_for(config, Some(public)).await,
            None => client.clone(),
        };
        Ok(Self {
            client,
            presign_client,
            bucket: config.s3_bucket.clone(),
        })
    }

    /// Creates the bucket when it does not exist (single-machine and test set-ups; in
    /// docker-compose the minio init container does it).
    pub async fn ensure_bucket(&self) -> Result<()> {
        if self
            .client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .is_ok()
        {
            return Ok(());
        }
        match self
            .client
            .create_bucket()
            .bucket(&self.bucket)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let already = e.as_service_error().is_some_and(|s| {
                    s.is_bucket_already_owned_by_you() || s.is_bucket_already_exists()
                });
                if already { Ok(()) } else { Err(s3_err(e)) }
            }
        }
    }

    async fn multipart(
        &self,
        key: &str,
        first: Vec<u8>,
        body: &mut ByteStream,
        content_type: &str,
    ) -> Result<u64> {
        let upload = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .send()
            .await
            .map_err(s3_err)?;
        let upload_id = upload
            .upload_id()
            .ok_or_else(|| {
                Error::unavailable("storage", "no upload id in CreateMultipartUpload reply")
            })?
            .to_string();
        let result = async {
            let mut parts = Vec::new();
            let mut total = 0u64;
            let mut chunk = first;
            let mut number = 1;
            loop {
                total += chunk.len() as u64;
                let part = self
                    .client
                    .upload_part()
                    .bucket(&self.bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .part_number(number)
                    .body(AwsBody::from(chunk))
                    .send()
                    .await
                    .map_err(s3_err)?;
                parts.push(
                    CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(part.e_tag().map(String::from))
                        .build(),
                );
                chunk = read_chunk(body).await?;
                if chunk.is_empty() {
                    break;
                }
                number += 1;
            }
            self.client
                .complete_multipart_upload()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(&upload_id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(parts))
                        .build(),
                )
                .send()
                .await
                .map_err(s3_err)?;
            Ok(total)
        }
        .await;
        if result.is_err() {
            let _ = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(&upload_id)
                .send()
                .await;
        }
        result
    }
}

/// Reads up to one part from the stream (short only at end of stream).
async fn read_chunk(body: &mut ByteStream) -> Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(PART_SIZE);
    while buf.len() < PART_SIZE {
        let n = body
            .as_mut()
            .take((PART_SIZE - buf.len()) as u64)
            .read_to_end(&mut buf)
            .await
            .map_err(|e| Error::validation("body", format!("reading upload failed: {e}")))?;
        if n == 0 {
            break;
        }
    }
    Ok(buf)
}

#[async_trait]
impl Storage for S3Storage {
    async fn put(&self, key: &str, mut body: ByteStream, content_type: &str) -> Result<u64> {
        validate_key(key)?;
        let first = read_chunk(&mut body).await?;
        if first.len() < PART_SIZE {
            let len = first.len() as u64;
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .content_type(content_type)
                .body(AwsBody::from(first))
                .send()
                .await
                .map_err(s3_err)?;
            return Ok(len);
        }
        self.multipart(key, first, &mut body, content_type).await
    }

    async fn get(&self, key: &str) -> Result<Object> {
        validate_key(key)?;
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error().is_some_and(|s| s.is_no_such_key()) {
                    Error::not_found(format!("object {key} not found"))
                } else {
                    s3_err(e)
                }
            })?;
        let info = ObjectInfo {
            size: out.content_length().unwrap_or(0).max(0) as u64,
            content_type: out
                .content_type()
                .unwrap_or("application/octet-stream")
                .to_string(),
        };
        Ok(Object {
            info,
            body: Box::pin(out.body.into_async_read()),
        })
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>> {
        validate_key(key)?;
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(Some(ObjectInfo {
                size: out.content_length().unwrap_or(0).max(0) as u64,
                content_type: out
                    .content_type()
                    .unwrap_or("application/octet-stream")
                    .to_string(),
            })),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(s3_err(e)),
        }
    }

    async fn delete(&self, key: &str) -> Result<()> {
        validate_key(key)?;
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(s3_err)?;
        Ok(())
    }

    async fn download_url(&self, key: &str, ttl: Duration) -> Result<String> {
        self.presigned_get(&self.presign_client, key, ttl).await
    }

    /// Presigned on the internal endpoint: workers read from where Vigil reaches S3.
    async fn media_location(&self, key: &str, ttl: Duration) -> Result<String> {
        self.presigned_get(&self.client, key, ttl).await
    }

    async fn check(&self) -> Result<()> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(s3_err)?;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "s3"
    }
}
