//! `/videos`: uploaded footage and live stream URLs that searches read.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::multipart::Upload;
use poem_openapi::{ApiResponse, Multipart, Object, OpenApi};
use tokio_util::io::StreamReader;
use uuid::Uuid;
use vigil_core::auth::{Permission, Sealer, authorize_owner};
use vigil_core::egress;
use vigil_core::jobs::{self, NewJob};
use vigil_core::storage::{ObjectKey, orphans};
use vigil_core::videos::{
    self, Filter, NewVideo, ProbeRequest, STREAM_URL_SEAL, Video, VideoKind, VideoStatus,
};

use super::Tag;
use crate::auth::BearerAuth;
use crate::envelope::{self, Created, Envelope, NoContent, Ok};
use crate::error::{ApiError, ApiResult};
use crate::middleware::note;
use crate::params::{Choice, Paging};
use crate::state::ApiState;
use crate::upload::{FormLimits, MultipartBody};

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct VideoDto {
    pub id: Uuid,
    /// `file` (uploaded) or `live` (a stream URL).
    pub kind: VideoKind,
    pub title: String,
    pub description: Option<String>,
    /// Files: `uploaded` → `probing` → `ready` or `failed` (see `error`). Live: `ready`.
    pub status: VideoStatus,
    /// Why the video cannot be used (not a video, cannot be decoded...).
    pub error: Option<String>,
    pub duration_secs: Option<f64>,
    pub fps: Option<f64>,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub codec: Option<String>,
    pub container: Option<String>,
    pub bit_rate: Option<i64>,
    pub size_bytes: Option<i64>,
    pub original_filename: Option<String>,
    pub content_type: Option<String>,
    /// The stream URL with every credential form removed (user info, token-like query values,
    /// RTMP stream keys).
    pub stream_url: Option<String>,
    pub probe_job_id: Option<Uuid>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl VideoDto {
    /// The video as shown: its stream URL opened and redacted.
    pub fn new(v: Video, sealer: &Sealer) -> Self {
        let stream_url = match v.stream_url(sealer) {
            Ok(url) => url.as_deref().map(egress::redact),
            Err(e) => {
                tracing::error!(video = %v.id, error = %e, "stream URL does not open");
                Some("(unreadable)".into())
            }
        };
        Self {
            id: v.id,
            kind: v.kind,
            title: v.title,
            description: v.description,
            status: v.status,
            error: v.error,
            duration_secs: v.duration_secs,
            fps: v.fps,
            width: v.width,
            height: v.height,
            codec: v.codec,
            container: v.container,
            bit_rate: v.bit_rate,
            size_bytes: v.size_bytes,
            original_filename: v.original_filename,
            content_type: v.content_type,
            stream_url,
            probe_job_id: v.probe_job_id,
            created_by: v.created_by,
            created_at: v.created_at,
            updated_at: v.updated_at,
        }
    }
}

#[derive(Debug, Multipart)]
pub struct VideoUpload {
    /// The video file (any container and codec FFmpeg decodes: MP4, MKV, AVI, TS...).
    pub file: Upload,
    pub title: Option<String>,
    pub description: Option<String>,
}

/// What an upload's parts said.
#[derive(Default)]
struct StoredUpload {
    title: Option<String>,
    description: Option<String>,
    original: Option<String>,
    content_type: Option<String>,
    /// Bytes stored, once the file part was read.
    size: Option<u64>,
}

impl StoredUpload {
    fn check(&self) -> Result<(), ApiError> {
        match self.size {
            None => Err(ApiError::validation("file", "a file is required")),
            Some(0) => Err(ApiError::validation("file", "the file is empty")),
            Some(_) if self.title.as_ref().is_some_and(|t| t.chars().count() > 200) => {
                Err(ApiError::validation("title", "at most 200 characters"))
            }
            Some(_) => Ok(()),
        }
    }
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct RegisterLive {
    #[oai(validator(min_length = 1, max_length = 200))]
    pub title: String,
    /// A stream URL: `rtsp://user:pass@camera/stream`, `http://host/live.ts`, `rtmp://…`.
    /// It must point at an address the deployment allows (`VIGIL_STREAM_ALLOW_CIDRS`; never
    /// loopback, link-local or the deployment's own services).
    #[oai(validator(min_length = 1, max_length = 2000))]
    pub url: String,
    #[oai(validator(max_length = 5000))]
    pub description: Option<String>,
}

#[derive(ApiResponse)]
pub enum VideoAccepted {
    /// Stored; the probe job reads its metadata (poll the video).
    #[oai(status = 202)]
    Accepted(Json<Envelope<VideoDto>>, #[oai(header = "Location")] String),
}

pub struct VideosApi {
    pub state: Arc<ApiState>,
}

#[OpenApi(prefix_path = "/api/v1/videos", tag = "Tag::Search")]
impl VideosApi {
    /// Upload a recorded video (multipart: `file`, optional `title`, `description`). The
    /// caller's permission is checked before any of the body is read; the file streams into
    /// storage as it arrives, never into memory or temp files; `VIGIL_MAX_UPLOAD_BYTES` limits
    /// it and text fields are at most 16 KiB. A `video.probe` job then reads its duration,
    /// frame rate, resolution and codec, or marks it `failed` with the reason.
    #[oai(path = "/", method = "post", operation_id = "videos.create")]
    async fn upload(
        &self,
        req: &Request,
        auth: BearerAuth,
        body: MultipartBody<VideoUpload>,
    ) -> ApiResult<VideoAccepted> {
        auth.0.require(Permission::VideosWrite)?;
        let _slot = self.state.uploads.take()?;
        let limit = self.state.ctx.config.max_upload_bytes;
        let mut form = body.read(FormLimits {
            text_fields: &["title", "description"],
            file_fields: &["file"],
            max_parts: 3,
            max_file_bytes: limit,
            max_total_bytes: limit.saturating_add(64 * 1024),
        });
        let id = Uuid::now_v7();
        let key = ObjectKey::Video { id }.to_string();
        let mut upload = StoredUpload::default();
        let read = async {
            while let Some(part) = form.next().await? {
                match part.name() {
                    "title" => upload.title = Some(part.text().await?),
                    "description" => upload.description = Some(part.text().await?),
                    _ if upload.size.is_some() => {
                        return Err(ApiError::validation("file", "send one file per upload"));
                    }
                    _ => {
                        upload.original = part.file_name();
                        upload.content_type = part.content_type();
                        let reader = StreamReader::new(part.into_stream());
                        let content_type = upload
                            .content_type
                            .clone()
                            .unwrap_or_else(|| "application/octet-stream".into());
                        upload.size = Some(
                            self.state
                                .ctx
                                .storage
                                .put(&key, Box::pin(reader), &content_type)
                                .await
                                .map_err(|e| match e {
                                    // The stream's own error (too large, malformed) says more.
                                    vigil_core::Error::Internal(_) => {
                                        ApiError::bad_request(format!("upload interrupted: {e}"))
                                    }
                                    other => other.into(),
                                })?,
                        );
                    }
                }
            }
            upload.check()
        };
        if let Err(e) = read.await {
            self.state.ctx.storage.delete(&key).await.ok();
            return Err(e);
        }
        let StoredUpload {
            title,
            description,
            original,
            content_type,
            size,
        } = upload;
        let title = title
            .filter(|t| !t.trim().is_empty())
            .or_else(|| original.clone())
            .unwrap_or_else(|| "Untitled video".into());
        let content_type = content_type.unwrap_or_else(|| "application/octet-stream".into());
        let size = size.unwrap_or_default();
        let mut conn = super::conn(&self.state).await?;
        videos::create(
            &mut conn,
            NewVideo {
                id,
                kind: VideoKind::File,
                title: title.trim(),
                description: description.as_deref(),
                object_key: Some(&key),
                original_filename: original.as_deref(),
                content_type: Some(&content_type),
                size_bytes: Some(size as i64),
                stream_url: None,
                status: VideoStatus::Uploaded,
                created_by: Some(auth.0.user.id),
            },
        )
        .await?;
        drop(conn);
        let job = NewJob::of(&ProbeRequest { video_id: id })
            .created_by(Some(auth.0.user.id))
            .idempotency_key(Some(format!("probe:{id}")));
        let (job, _) = jobs::enqueue(&self.state.ctx, job).await?;
        let mut conn = super::conn(&self.state).await?;
        videos::set_probe_job(&mut conn, id, job.id).await?;
        let video = videos::get(&mut conn, id).await?;
        note(req, |n| n.resource_id = Some(video.id.to_string()));
        Ok(VideoAccepted::Accepted(
            envelope::ok(VideoDto::new(video, self.state.ctx.secrets.sealer())),
            format!("/api/v1/videos/{id}"),
        ))
    }

    /// Register a live stream (RTSP, HTTP, TCP... any URL FFmpeg opens). It is watched while a
    /// search includes it; credentials in the URL are kept but never shown.
    #[oai(path = "/live", method = "post", operation_id = "videos.live.create")]
    async fn register_live(
        &self,
        req: &Request,
        auth: BearerAuth,
        body: Json<RegisterLive>,
    ) -> ApiResult<Created<VideoDto>> {
        auth.0.require(Permission::VideosWrite)?;
        let b = body.0;
        // The obvious refusals now (scheme, options, literal internal addresses); the worker
        // checks the resolved address again right before every connection.
        let url = self
            .state
            .egress
            .precheck(b.url.trim())
            .map_err(|e| ApiError::validation("url", e.user_message()))?;
        let mut conn = super::conn(&self.state).await?;
        let video = videos::create(
            &mut conn,
            NewVideo {
                id: Uuid::now_v7(),
                kind: VideoKind::Live,
                title: b.title.trim(),
                description: b.description.as_deref(),
                object_key: None,
                original_filename: None,
                content_type: None,
                size_bytes: None,
                stream_url: Some(
                    &self
                        .state
                        .ctx
                        .secrets
                        .sealer()
                        .seal_str(url.as_str(), STREAM_URL_SEAL),
                ),
                status: VideoStatus::Ready,
                created_by: Some(auth.0.user.id),
            },
        )
        .await?;
        note(req, |n| n.resource_id = Some(video.id.to_string()));
        Ok(envelope::created(VideoDto::new(
            video,
            self.state.ctx.secrets.sealer(),
        )))
    }

    /// List videos and streams, filtered by kind (`file`, `live`) or status.
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        auth: BearerAuth,
        kind: Query<Option<Choice<VideoKind>>>,
        status: Query<Option<Choice<VideoStatus>>>,
        paging: Paging,
    ) -> ApiResult<Ok<Vec<VideoDto>>> {
        auth.0.require(Permission::VideosRead)?;
        let filter = Filter {
            kind: kind.0.map(|k| k.get("kind")).transpose()?,
            status: status.0.map(|s| s.get("status")).transpose()?,
        };
        let mut conn = super::conn(&self.state).await?;
        let page = videos::list(&mut conn, &filter, paging.0).await?;
        let sealer = self.state.ctx.secrets.sealer();
        Ok(envelope::page(page.map(|v| VideoDto::new(v, sealer))))
    }

    #[oai(path = "/:id", method = "get")]
    async fn get(&self, auth: BearerAuth, id: Path<Uuid>) -> ApiResult<Ok<VideoDto>> {
        auth.0.require(Permission::VideosRead)?;
        let mut conn = super::conn(&self.state).await?;
        let video = videos::get(&mut conn, id.0).await?;
        Ok(envelope::ok(VideoDto::new(
            video,
            self.state.ctx.secrets.sealer(),
        )))
    }

    /// Delete a video with its file and every search result in it (thumbnails included): its
    /// creator (with `videos:write`) or an admin.
    #[oai(path = "/:id", method = "delete", operation_id = "videos.delete")]
    async fn delete(&self, auth: BearerAuth, id: Path<Uuid>) -> ApiResult<NoContent> {
        auth.0.require(Permission::VideosWrite)?;
        let mut conn = super::conn(&self.state).await?;
        let video = videos::get(&mut conn, id.0).await?;
        authorize_owner(
            video.created_by,
            auth.0.user.id,
            &auth.0.permissions,
            Permission::VideosWrite,
            "video",
        )?;
        videos::delete(&mut conn, video.id).await?;
        drop(conn);
        orphans::sweep_after_delete(&self.state.ctx).await;
        Ok(NoContent::NoContent)
    }
}
