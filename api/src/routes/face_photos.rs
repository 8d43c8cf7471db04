//! Enrollment photos of any face profile (missing persons, employees, students): reading them
//! from a multipart body, storing them, and queueing one `face.enroll` job each. The routes of
//! each kind of person own the form; this module owns what a photo is.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use uuid::Uuid;
use vigil_core::faces::{self, FacePhoto, NewPhoto, PhotoStatus};
use vigil_core::jobs::{self, NewJob};
use vigil_core::storage::ObjectKey;

use crate::error::{ApiError, ApiResult};
use crate::state::ApiState;
use crate::upload::Part;

/// Largest photo accepted (bytes).
pub const MAX_PHOTO_BYTES: u64 = 20 * 1024 * 1024;

#[derive(Debug, Object, Default)]
#[oai(rename_all = "camelCase")]
pub struct PhotoCounts {
    pub total: i64,
    pub pending: i64,
    pub enrolled: i64,
    pub rejected: i64,
    pub failed: i64,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct PhotoDto {
    pub id: Uuid,
    /// `pending` (enrollment queued), `enrolled`, `rejected` (see `reason`) or `failed`.
    pub status: PhotoStatus,
    /// Why the photo was rejected or failed, in words for the user.
    pub reason: Option<String>,
    pub content_type: String,
    pub size_bytes: i64,
    pub original_filename: Option<String>,
    /// The enrolled face: box, detector score, size, sharpness.
    pub face: Option<serde_json::Value>,
    /// The enrollment job.
    pub job_id: Option<Uuid>,
    /// A time-limited download link of the photo.
    pub url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub async fn photo_dto(state: &ApiState, p: FacePhoto) -> PhotoDto {
    let url = state
        .ctx
        .storage
        .download_url(&p.object_key, state.ctx.config.download_url_ttl())
        .await
        .ok();
    PhotoDto {
        id: p.id,
        status: p.status,
        reason: p.reason,
        content_type: p.content_type,
        size_bytes: p.size_bytes,
        original_filename: p.original_filename,
        face: p.face,
        job_id: p.job_id,
        url,
        created_at: p.created_at,
        updated_at: p.updated_at,
    }
}

/// Photo counts by status of several profiles (one query).
pub async fn counts_for(
    state: &ApiState,
    profiles: &[Uuid],
) -> ApiResult<HashMap<Uuid, PhotoCounts>> {
    let mut conn = super::conn(state).await?;
    let mut out: HashMap<Uuid, PhotoCounts> = HashMap::new();
    for (profile, status, n) in faces::photo_counts(&mut conn, profiles).await? {
        let c = out.entry(profile).or_default();
        c.total += n;
        match status {
            PhotoStatus::Pending => c.pending = n,
            PhotoStatus::Enrolled => c.enrolled = n,
            PhotoStatus::Rejected => c.rejected = n,
            PhotoStatus::Failed => c.failed = n,
        }
    }
    Ok(out)
}

/// Recognises JPEG and PNG by their first bytes (the declared content type is not trusted).
pub fn sniff_image(head: &[u8]) -> Option<(&'static str, &'static str)> {
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(("image/jpeg", "jpg"))
    } else if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(("image/png", "png"))
    } else {
        None
    }
}

/// A photo stored but not recorded yet.
pub struct StoredPhoto {
    id: Uuid,
    key: String,
    name: Option<String>,
    size: i64,
    content_type: &'static str,
}

/// The photos of one upload, stored as they are read. If the upload fails part-way, `discard`
/// deletes what was stored, so no half upload is left behind.
pub struct PhotoBatch {
    profile: Uuid,
    field: &'static str,
    files: Vec<StoredPhoto>,
}

impl PhotoBatch {
    pub fn new(profile: Uuid, field: &'static str) -> Self {
        Self {
            profile,
            field,
            files: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Reads one file part (one photo in memory at a time), checks it is a JPEG or PNG, and
    /// stores it.
    pub async fn store(&mut self, state: &ApiState, part: Part) -> ApiResult<()> {
        let field = self.field;
        let name = part.file_name();
        let label = name
            .clone()
            .unwrap_or_else(|| format!("photo {}", self.files.len() + 1));
        let bytes = part.bytes().await.map_err(|e| match e.status.as_u16() {
            413 => ApiError::validation(
                field,
                format!(
                    "{label} is larger than {} MB",
                    MAX_PHOTO_BYTES / 1024 / 1024
                ),
            ),
            _ => e,
        })?;
        self.store_bytes(state, bytes.to_vec(), name, &label).await
    }

    /// Stores one photo already in memory (an upload's part, or a sighting's face a reviewer
    /// adds to the right person's gallery).
    pub async fn store_bytes(
        &mut self,
        state: &ApiState,
        bytes: Vec<u8>,
        name: Option<String>,
        label: &str,
    ) -> ApiResult<()> {
        let Some((content_type, ext)) = sniff_image(&bytes) else {
            return Err(ApiError::validation(
                self.field,
                format!("{label} is not a JPEG or PNG image"),
            ));
        };
        let id = Uuid::now_v7();
        let key = ObjectKey::FacePhoto {
            profile: self.profile,
            photo: id,
            extension: ext,
        }
        .to_string();
        let size = bytes.len() as i64;
        state
            .ctx
            .storage
            .put_bytes(&key, bytes, content_type)
            .await?;
        self.files.push(StoredPhoto {
            id,
            key,
            name,
            size,
            content_type,
        });
        Ok(())
    }

    /// Deletes the stored objects of a failed upload.
    pub async fn discard(self, state: &ApiState) {
        for f in &self.files {
            state.ctx.storage.delete(&f.key).await.ok();
        }
    }

    /// Records each photo and queues its enrollment job.
    pub async fn enroll(self, state: &ApiState, user: Option<Uuid>) -> ApiResult<Vec<PhotoDto>> {
        let mut out = Vec::with_capacity(self.files.len());
        for f in self.files {
            let mut conn = super::conn(state).await?;
            let photo = faces::add_photo(
                &mut conn,
                NewPhoto {
                    id: f.id,
                    profile_id: self.profile,
                    object_key: &f.key,
                    content_type: f.content_type,
                    size_bytes: f.size,
                    original_filename: f.name.as_deref(),
                    created_by: user,
                },
            )
            .await?;
            drop(conn);
            let job = NewJob::of(&faces::EnrollRequest { photo_id: f.id })
                .created_by(user)
                .idempotency_key(Some(format!("enroll:{}", f.id)));
            let (job, _) = jobs::enqueue(&state.ctx, job).await?;
            let mut conn = super::conn(state).await?;
            faces::set_photo_job(&mut conn, f.id, job.id).await?;
            let photo = FacePhoto {
                job_id: Some(job.id),
                ..photo
            };
            out.push(photo_dto(state, photo).await);
        }
        Ok(out)
    }
}

/// Most photos listed for one person (enrollment takes at most five at a time).
const MAX_LISTED_PHOTOS: u32 = 100;

/// The photos of a profile with their enrollment status and, for rejected ones, the reason.
pub async fn list(state: &ApiState, profile: Uuid) -> ApiResult<Vec<PhotoDto>> {
    let mut conn = super::conn(state).await?;
    let photos = faces::photos_page(
        &mut conn,
        profile,
        vigil_core::db::PageRequest::at_offset(0, MAX_LISTED_PHOTOS),
    )
    .await?
    .items;
    drop(conn);
    let mut out = Vec::with_capacity(photos.len());
    for p in photos {
        out.push(photo_dto(state, p).await);
    }
    Ok(out)
}

/// Deletes one photo of `profile` with its embedding and stored object.
pub async fn delete(state: &ApiState, profile: Uuid, photo: Uuid) -> ApiResult<()> {
    let mut conn = super::conn(state).await?;
    let photo = faces::get_photo(&mut conn, photo).await?;
    if photo.profile_id != profile {
        return Err(ApiError::not_found("no such photo of this person"));
    }
    faces::delete_photo(&mut conn, photo.id).await?;
    drop(conn);
    if let Err(e) = state.ctx.storage.delete(&photo.object_key).await {
        tracing::warn!(key = %photo.object_key, error = %e, "photo object not deleted");
    }
    Ok(())
}

/// Deletes stored objects after their rows are gone; a failure is logged, not returned (the
/// rows, which hold the only references, are already deleted).
pub async fn delete_objects(state: &ApiState, keys: &[String]) {
    for key in keys {
        if let Err(e) = state.ctx.storage.delete(key).await {
            tracing::warn!(%key, error = %e, "object not deleted; cleanup will not find it");
        }
    }
}
