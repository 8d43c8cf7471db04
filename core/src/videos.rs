//! Footage: uploaded files (probed by a `video.probe` job) and live streams (a URL ffmpeg can
//! open). Searches read them; the worker fills in the probe metadata.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::Sealer;
use crate::db::paginate::{PageRequest, Paged, Paginate};
use crate::db::schema::videos;
use crate::db::text_enum::text_enum;
use crate::error::{Error, Result};
use crate::jobs::{JobPayload, KindSpec, kinds};

text_enum! {
    /// An uploaded file, or a live stream URL.
    pub enum VideoKind {
        File = "file",
        Live = "live",
    }
}

text_enum! {
    /// An upload's way to being searchable: stored, probed, then ready (or failed, with a
    /// reason). Live streams are `ready` from the start.
    pub enum VideoStatus {
        Uploaded = "uploaded",
        Probing = "probing",
        Ready = "ready",
        Failed = "failed",
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = videos, check_for_backend(diesel::pg::Pg))]
pub struct Video {
    pub id: Uuid,
    pub kind: VideoKind,
    pub title: String,
    pub description: Option<String>,
    pub object_key: Option<String>,
    pub original_filename: Option<String>,
    pub content_type: Option<String>,
    pub size_bytes: Option<i64>,
    /// Sealed (see [`Video::stream_url`]): stream URLs carry camera credentials.
    #[serde(skip)]
    pub stream_url: Option<String>,
    pub status: VideoStatus,
    pub error: Option<String>,
    pub duration_secs: Option<f64>,
    pub fps: Option<f64>,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub codec: Option<String>,
    pub container: Option<String>,
    pub bit_rate: Option<i64>,
    pub probe_job_id: Option<Uuid>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What sealed stream URLs are bound to (see `auth::sealed`).
pub const STREAM_URL_SEAL: &str = "stream-url";

impl Video {
    pub fn is_live(&self) -> bool {
        self.kind == VideoKind::Live
    }

    /// The live stream's URL, credentials included, opened from its sealed form. URLs stored
    /// before sealing existed are read as they are.
    pub fn stream_url(&self, sealer: &Sealer) -> Result<Option<String>> {
        match &self.stream_url {
            Some(url) if Sealer::is_sealed(url) => Ok(Some(sealer.open_str(url, STREAM_URL_SEAL)?)),
            other => Ok(other.clone()),
        }
    }
}

/// What a probe found out; stored on the video.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeResult {
    pub duration_secs: Option<f64>,
    pub fps: Option<f64>,
    pub width: u32,
    pub height: u32,
    pub codec: String,
    pub container: String,
    pub bit_rate: Option<u64>,
}

/// The payload of a `video.probe` job.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeRequest {
    pub video_id: Uuid,
}

impl JobPayload for ProbeRequest {
    const KIND: &'static KindSpec = &kinds::VIDEO_PROBE;
}

pub struct NewVideo<'a> {
    pub id: Uuid,
    pub kind: VideoKind,
    pub title: &'a str,
    pub description: Option<&'a str>,
    pub object_key: Option<&'a str>,
    pub original_filename: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub size_bytes: Option<i64>,
    /// Sealed by the caller (`Sealer::seal_str(url, STREAM_URL_SEAL)`).
    pub stream_url: Option<&'a str>,
    pub status: VideoStatus,
    pub created_by: Option<Uuid>,
}

pub async fn create(conn: &mut AsyncPgConnection, v: NewVideo<'_>) -> Result<Video> {
    Ok(diesel::insert_into(videos::table)
        .values((
            videos::id.eq(v.id),
            videos::kind.eq(v.kind),
            videos::title.eq(v.title),
            videos::description.eq(v.description),
            videos::object_key.eq(v.object_key),
            videos::original_filename.eq(v.original_filename),
            videos::content_type.eq(v.content_type),
            videos::size_bytes.eq(v.size_bytes),
            videos::stream_url.eq(v.stream_url),
            videos::status.eq(v.status),
            videos::created_by.eq(v.created_by),
        ))
        .returning(Video::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn get(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Video> {
    videos::table
        .find(id)
        .select(Video::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| Error::not_found("no such video"))
}

pub async fn get_many(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> Result<Vec<Video>> {
    Ok(videos::table
        .filter(videos::id.eq_any(ids))
        .select(Video::as_select())
        .load(conn)
        .await?)
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub kind: Option<VideoKind>,
    pub status: Option<VideoStatus>,
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &Filter,
    page: PageRequest,
) -> Result<Paged<Video>> {
    let mut q = videos::table.into_boxed();
    if let Some(kind) = filter.kind {
        q = q.filter(videos::kind.eq(kind));
    }
    if let Some(status) = filter.status {
        q = q.filter(videos::status.eq(status));
    }
    q.order((videos::created_at.desc(), videos::id.desc()))
        .select(Video::as_select())
        .paginate(page)
        .load_page(conn)
        .await
}

/// Records the probe job. The status moves to `probing` only from `uploaded`: a fast worker
/// may already have finished the probe, and its verdict must not be overwritten.
pub async fn set_probe_job(conn: &mut AsyncPgConnection, id: Uuid, job: Uuid) -> Result<()> {
    diesel::update(videos::table.find(id))
        .set(videos::probe_job_id.eq(job))
        .execute(conn)
        .await?;
    diesel::update(videos::table.find(id))
        .filter(videos::status.eq(VideoStatus::Uploaded))
        .set((
            videos::status.eq(VideoStatus::Probing),
            videos::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_probed(conn: &mut AsyncPgConnection, id: Uuid, p: &ProbeResult) -> Result<()> {
    diesel::update(videos::table.find(id))
        .set((
            videos::status.eq(VideoStatus::Ready),
            videos::error.eq(None::<String>),
            videos::duration_secs.eq(p.duration_secs),
            videos::fps.eq(p.fps),
            videos::width.eq(p.width as i32),
            videos::height.eq(p.height as i32),
            videos::codec.eq(&p.codec),
            videos::container.eq(&p.container),
            videos::bit_rate.eq(p.bit_rate.map(|b| b as i64)),
            videos::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_failed(conn: &mut AsyncPgConnection, id: Uuid, reason: &str) -> Result<()> {
    diesel::update(videos::table.find(id))
        .set((
            videos::status.eq(VideoStatus::Failed),
            videos::error.eq(reason),
            videos::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Seals stream URLs stored in clear by versions before sealing (run at start-up; a no-op once
/// done).
pub async fn seal_clear_stream_urls(
    conn: &mut AsyncPgConnection,
    sealer: &Sealer,
) -> Result<usize> {
    let clear: Vec<(Uuid, String)> = videos::table
        .filter(videos::stream_url.is_not_null())
        .filter(diesel::dsl::not(videos::stream_url.like("v1.%")))
        .select((videos::id, videos::stream_url.assume_not_null()))
        .load(conn)
        .await?;
    for (id, url) in &clear {
        diesel::update(videos::table.find(id))
            .set(videos::stream_url.eq(sealer.seal_str(url, STREAM_URL_SEAL)))
            .execute(conn)
            .await?;
    }
    Ok(clear.len())
}

/// Deletes the video and its search results; the database lists its file and thumbnails for
/// deletion from storage (`storage::orphans`).
pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> Result<()> {
    diesel::delete(videos::table.find(id)).execute(conn).await?;
    Ok(())
}
