use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use tokio::io::AsyncWriteExt;

use super::{ByteStream, Object, ObjectInfo, Storage, content_type_for, validate_key};
use crate::auth::Secrets;
use crate::error::{Error, Result};

/// Objects as files under a directory. Writes go to a temporary file in `.tmp/` and are renamed
/// into place, so a crash mid-upload never leaves a partial object under its key.
#[derive(Debug)]
pub struct LocalStorage {
    root: PathBuf,
    public_url: String,
    secrets: Secrets,
}

/// Route that serves signed downloads of local objects (see the API's files route).
pub const SIGNED_ROUTE: &str = "/api/v1/files";

impl LocalStorage {
    pub fn new(root: PathBuf, public_url: String, secrets: Secrets) -> Result<Self> {
        std::fs::create_dir_all(root.join(".tmp"))
            .map_err(|e| Error::Config(format!("storage directory {}: {e}", root.display())))?;
        Ok(Self {
            root,
            public_url,
            secrets,
        })
    }

    fn path(&self, key: &str) -> Result<PathBuf> {
        validate_key(key)?;
        Ok(self.root.join(key))
    }
}

fn signed_message(key: &str, expires: i64) -> String {
    format!("{key}|{expires}")
}

/// Checks a signed download request (the API's files route): the signature must match and the
/// link must not have expired.
pub fn verify_download(secrets: &Secrets, key: &str, expires: i64, signature: &str) -> bool {
    expires >= Utc::now().timestamp() && secrets.verify(&signed_message(key, expires), signature)
}

fn io_err(e: std::io::Error) -> Error {
    Error::unavailable("storage", e)
}

#[async_trait]
impl Storage for LocalStorage {
    async fn put(&self, key: &str, mut body: ByteStream, _content_type: &str) -> Result<u64> {
        let path = self.path(key)?;
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(io_err)?;
        }
        let tmp = self
            .root
            .join(".tmp")
            .join(uuid::Uuid::new_v4().to_string());
        let result = async {
            let mut file = tokio::fs::File::create(&tmp).await?;
            let written = tokio::io::copy(&mut body, &mut file).await?;
            file.flush().await?;
            file.sync_all().await?;
            tokio::fs::rename(&tmp, &path).await?;
            Ok::<_, std::io::Error>(written)
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        result.map_err(io_err)
    }

    async fn get(&self, key: &str) -> Result<Object> {
        let path = self.path(key)?;
        let file = match tokio::fs::File::open(&path).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::not_found(format!("object {key} not found")));
            }
            Err(e) => return Err(io_err(e)),
        };
        let size = file.metadata().await.map_err(io_err)?.len();
        Ok(Object {
            info: ObjectInfo {
                size,
                content_type: content_type_for(key).into(),
            },
            body: Box::pin(file),
        })
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>> {
        let path = self.path(key)?;
        match tokio::fs::metadata(&path).await {
            Ok(meta) if meta.is_file() => Ok(Some(ObjectInfo {
                size: meta.len(),
                content_type: content_type_for(key).into(),
            })),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(e)),
        }
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let path = self.path(key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(e)),
        }
    }

    async fn download_url(&self, key: &str, ttl: Duration) -> Result<String> {
        validate_key(key)?;
        let expires = Utc::now().timestamp() + ttl.as_secs() as i64;
        let signature = self.secrets.sign(&signed_message(key, expires));
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("key", key)
            .append_pair("expires", &expires.to_string())
            .append_pair("signature", &signature)
            .finish();
        Ok(format!("{}{SIGNED_ROUTE}?{query}", self.public_url))
    }

    async fn media_location(&self, key: &str, _ttl: Duration) -> Result<String> {
        let path = self.path(key)?;
        if !tokio::fs::try_exists(&path).await.map_err(io_err)? {
            return Err(Error::not_found(format!("no object {key:?}")));
        }
        Ok(path.to_string_lossy().into_owned())
    }

    async fn check(&self) -> Result<()> {
        let probe = self
            .root
            .join(".tmp")
            .join(format!("ready-{}", uuid::Uuid::new_v4()));
        tokio::fs::write(&probe, b"ok").await.map_err(io_err)?;
        tokio::fs::remove_file(&probe).await.map_err(io_err)?;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "local"
    }
}
