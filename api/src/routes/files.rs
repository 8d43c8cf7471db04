use std::sync::Arc;

use poem::Body;
use poem_openapi::param::Query;
use poem_openapi::payload::Attachment;
use poem_openapi::{ApiResponse, OpenApi};
use vigil_core::storage::verify_download;

use super::Tag;
use crate::error::{ApiError, ApiResult};
use crate::state::ApiState;

#[derive(ApiResponse)]
pub enum FileResponse {
    /// The object's bytes, streamed.
    #[oai(status = 200)]
    Ok(
        Attachment<Body>,
        #[oai(header = "Content-Length")] u64,
        #[oai(header = "Cache-Control")] String,
    ),
}

pub struct FilesApi {
    pub state: Arc<ApiState>,
}

#[OpenApi(prefix_path = "/api/v1/files", tag = "Tag::Files")]
impl FilesApi {
    /// Download an object from local storage through a signed link (the `downloadUrl` that
    /// other endpoints return). The signature is the credential: no token is needed.
    #[oai(path = "/", method = "get")]
    async fn download(
        &self,
        key: Query<String>,
        expires: Query<i64>,
        signature: Query<String>,
    ) -> ApiResult<FileResponse> {
        if !verify_download(&self.state.ctx.secrets, &key.0, expires.0, &signature.0) {
            return Err(ApiError::forbidden("invalid or expired download link"));
        }
        let object = self.state.ctx.storage.get(&key.0).await?;
        let filename = key.0.rsplit('/').next().unwrap_or("download").to_string();
        Ok(FileResponse::Ok(
            Attachment::new(Body::from_async_read(object.body)).filename(filename),
            object.info.size,
            "private, max-age=300".into(),
        ))
    }
}
