//! Object storage: a local directory (the single-machine default) or an S3-compatible bucket.
//! Bodies stream in and out as `AsyncRead`; nothing is buffered whole in memory.

mod keys;
mod local;
pub mod orphans;
mod s3;

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::AsyncRead;

pub use keys::{KeyKind, ObjectKey, validate_key};
pub use local::{LocalStorage, SIGNED_ROUTE, verify_download};
pub use s3::S3Storage;

use crate::auth::Secrets;
use crate::config::{Config, StorageBackend};
use crate::error::Result;

pub type ByteStream = Pin<Box<dyn AsyncRead + Send>>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
    pub content_type: String,
}

pub struct Object {
    pub info: ObjectInfo,
    pub body: ByteStream,
}

#[async_trait]
pub trait Storage: Send + Sync + std::fmt::Debug {
    /// Streams `body` to `key`, replacing any object there. Readers never see a partial object.
    /// Returns the number of bytes stored.
    async fn put(&self, key: &str, body: ByteStream, content_type: &str) -> Result<u64>;

    /// Opens `key` for streaming; `Error::NotFound` when absent.
    async fn get(&self, key: &str) -> Result<Object>;

    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>>;

    /// Deletes `key`; deleting a missing object is not an error.
    async fn delete(&self, key: &str) -> Result<()>;

    /// A URL a client can download `key` from without other credentials, valid for `ttl`:
    /// presigned for S3, a signed API route for the local directory.
    async fn download_url(&self, key: &str, ttl: Duration) -> Result<String>;

    /// Where ffmpeg (in a worker) can read `key` in place, seeking as it needs: the file's path
    /// for the local directory, a presigned URL on the internal endpoint for S3. Large videos
    /// are never copied to the worker.
    async fn media_location(&self, key: &str, ttl: Duration) -> Result<String>;

    /// Readiness: the bucket or directory is reachable and writable.
    async fn check(&self) -> Result<()>;

    fn backend(&self) -> &'static str;

    async fn put_bytes(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<u64> {
        self.put(key, Box::pin(std::io::Cursor::new(bytes)), content_type)
            .await
    }

    async fn get_bytes(&self, key: &str) -> Result<Vec<u8>> {
        use tokio::io::AsyncReadExt;
        let mut object = self.get(key).await?;
        let mut buf = Vec::with_capacity(object.info.size as usize);
        object
            .body
            .read_to_end(&mut buf)
            .await
            .map_err(|e| crate::Error::unavailable("storage", e))?;
        Ok(buf)
    }
}

/// Builds the storage the configuration names.
pub async fn from_config(config: &Config, secrets: &Secrets) -> Result<Arc<dyn Storage>> {
    Ok(match config.storage_backend {
        StorageBackend::Local => Arc::new(LocalStorage::new(
            config.storage_dir.clone(),
            config.public_url(),
            secrets.clone(),
        )?),
        StorageBackend::S3 => {
            let s3 = S3Storage::from_config(config).await?;
            // Best effort: an unreachable S3 must not stop start-up; readiness reports it.
            if let Err(e) = s3.ensure_bucket().await {
                tracing::warn!(error = %e, bucket = %config.s3_bucket, "could not ensure the S3 bucket exists");
            }
            Arc::new(s3)
        }
    })
}

/// Guesses a content type from a key's extension (local storage keeps no metadata).
pub fn content_type_for(key: &str) -> &'static str {
    match key
        .rsplit('.')
        .next()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("png") => "image/png",
        Some("mp4") => "video/mp4",
        Some("csv") => "text/csv",
        Some("pdf") => "application/pdf",
        Some("json") => "application/json",
        Some("txt") => "text/plain",
        _ => "application/octet-stream",
    }
}
