//! Missing-person searches: which persons, which footage, which settings; and what they found
//! (per-frame detections and the appearances built from them).
//!
//! A search's status is its parent job's: the database mirrors every status change of the job
//! onto the search row (a trigger, migration 4), so the job system is the one writer and the
//! row keeps the outcome after job retention removes the job.

pub mod control;
pub mod dashboard;
pub mod face_tracks;
pub mod notify;
pub mod progress;
pub mod read;
pub mod request;
pub mod results;
pub mod sightings;
pub mod tracks;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::db::paginate::{PageRequest, Paged, Paginate};
use crate::db::schema::{search_persons, search_videos, searches};
use crate::db::text_enum::text_enum;
use crate::error::{Error, Result};
use crate::jobs::{Job, JobPayload, JobStatus, KindSpec, kinds};

/// Euclidean descriptor distance at or under which a sampled face votes for a person.
/// Measured on the face-api sample photos (docs/search.md, models/tests/calibration.rs):
/// enrolled from a photo crop and seen in a compressed 720p frame, the same person stays under
/// 0.40 (p95 0.36) while strangers come no closer than 0.48; the usual 0.6 matches strangers
/// in ~5 % of frames.
// Same value as `vigil_models::gallery::STRICT_THRESHOLD` (core does not link the models).
pub const DEFAULT_THRESHOLD: f32 = 0.4;
/// A face must be at least this much closer to the searched person than to anyone else
/// enrolled, or it does not vote.
pub const DEFAULT_MIN_MARGIN: f32 = 0.05;
/// Sampled frames that must vote for a person before a track becomes an appearance.
pub const DEFAULT_MIN_VOTES: u32 = 2;
/// Farthest a track's best faces may lie from the person to be listed as a possible sighting.
/// The person's own small, blurred faces measured 0.56–0.69 in CCTV-grade footage (docs/search.md
/// "Small faces"); strangers' tracks of the same size start around 0.56 too, which is why a
/// track must also stand out from the video's other tracks.
pub const DEFAULT_SIGHTING_DISTANCE: f32 = 0.75;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct SearchSettings {
    /// Frames sampled per second of footage.
    pub sample_fps: f64,
    /// Distance at or under which a face votes for a person.
    pub threshold: f32,
    /// Faces up to this distance extend a track (without voting), so a person turning away for
    /// a moment does not split one appearance into two.
    pub track_threshold: f32,
    pub min_margin: f32,
    pub min_votes: u32,
    /// Longest gap without the person inside one appearance.
    pub max_gap_secs: f64,
    /// Recorded videos are split into segments of this length, each a child job.
    pub segment_secs: f64,
    /// Faces smaller than this (box side, pixels) are ignored: too small to recognise.
    pub min_face_px: f32,
    /// Face tracks whose best faces lie within this distance of the person, and stand out from
    /// the video's other tracks, are listed as possible sightings for review.
    pub sighting_distance: f32,
    /// Also run the second face detector (BlazeFace) on each analysed frame: finds small (down
    /// to ~40 px at 720p), dim and motion-blurred faces the SSD misses, for about a third more
    /// detector time.
    pub small_faces: bool,
    /// Queue priority of the search's jobs.
    pub priority: Priority,
    /// Email users with the reviewer role about each appearance.
    pub notify_reviewers: bool,
}

impl Default for SearchSettings {
    fn default() -> Self {
        Self {
            sample_fps: 2.0,
            threshold: DEFAULT_THRESHOLD,
            track_threshold: DEFAULT_THRESHOLD + 0.1,
            min_margin: DEFAULT_MIN_MARGIN,
            min_votes: DEFAULT_MIN_VOTES,
            max_gap_secs: 1.5,
            segment_secs: 30.0,
            min_face_px: 20.0,
            sighting_distance: DEFAULT_SIGHTING_DISTANCE,
            small_faces: true,
            priority: Priority::Normal,
            notify_reviewers: true,
        }
    }
}

impl SearchSettings {
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &'static str, msg: &str| Err(Error::validation(field, msg.to_string()));
        if !(0.1..=30.0).contains(&self.sample_fps) {
            return bad("settings.sampleFps", "sampleFps must be between 0.1 and 30");
        }
        if !(0.1..=1.5).contains(&self.threshold) {
            return bad(
                "settings.threshold",
                "threshold must be between 0.1 and 1.5",
            );
        }
        if self.track_threshold < self.threshold || self.track_threshold > 1.5 {
            return bad(
                "settings.trackThreshold",
                "trackThreshold must be between threshold and 1.5",
            );
        }
        if !(0.0..=1.0).contains(&self.min_margin) {
            return bad("settings.minMargin", "minMargin must be between 0 and 1");
        }
        if !(1..=100).contains(&self.min_votes) {
            return bad("settings.minVotes", "minVotes must be between 1 and 100");
        }
        if !(0.0..=60.0).contains(&self.max_gap_secs) {
            return bad("settings.maxGapSecs", "maxGapSecs must be between 0 and 60");
        }
        if !(2.0..=3600.0).contains(&self.segment_secs) {
            return bad(
                "settings.segmentSecs",
                "segmentSecs must be between 2 and 3600",
            );
        }
        if !(0.0..=1000.0).contains(&self.min_face_px) {
            return bad("settings.minFacePx", "minFacePx must be between 0 and 1000");
        }
        if self.sighting_distance < self.threshold || self.sighting_distance > 1.2 {
            return bad(
                "settings.sightingDistance",
                "sightingDistance must be between threshold and 1.2",
            );
        }
        Ok(())
    }

    /// How far from a person a track may lie to be listed as a possible sighting.
    pub fn sighting_bounds(&self) -> sightings::Bounds {
        sightings::Bounds {
            threshold: self.threshold,
            max_distance: self.sighting_distance,
        }
    }
}

text_enum! {
    /// How a search's jobs queue against other work.
    pub enum Priority {
        Low = "low",
        Normal = "normal",
        High = "high",
    }
}

impl Priority {
    /// The job priority (higher runs first within a queue).
    pub fn job_priority(self) -> i16 {
        match self {
            Priority::Low => -10,
            Priority::Normal => 0,
            Priority::High => 10,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = searches, check_for_backend(diesel::pg::Pg))]
pub struct Search {
    pub id: Uuid,
    pub name: Option<String>,
    pub job_id: Uuid,
    pub status: JobStatus,
    pub settings: serde_json::Value,
    pub notify: Vec<String>,
    pub summary: Option<serde_json::Value>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl Search {
    pub fn settings(&self) -> SearchSettings {
        serde_json::from_value(self.settings.clone()).unwrap_or_default()
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = search_videos, check_for_backend(diesel::pg::Pg))]
pub struct SearchVideo {
    pub search_id: Uuid,
    pub video_id: Uuid,
    pub status: JobStatus,
    pub error: Option<String>,
    pub segments: i32,
    pub segments_done: i32,
    pub frames_processed: i64,
    pub frames_analysed: i64,
    pub seconds_processed: f64,
    pub stop_requested: bool,
}

/// The payload of a `search` job.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchJob {
    pub search_id: Uuid,
}

impl JobPayload for SearchJob {
    const KIND: &'static KindSpec = &kinds::SEARCH;
}

/// The payload of a `search.segment` job: one time range of one recorded video.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SegmentJob {
    pub search_id: Uuid,
    pub video_id: Uuid,
    pub index: u32,
    pub start_secs: f64,
    /// `None` for the last segment: a container's stated duration can be short.
    pub end_secs: Option<f64>,
}

impl JobPayload for SegmentJob {
    const KIND: &'static KindSpec = &kinds::SEARCH_SEGMENT;
}

/// The payload of a `search.live` job: one live stream, watched until the search stops it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveWatchJob {
    pub search_id: Uuid,
    pub video_id: Uuid,
}

impl JobPayload for LiveWatchJob {
    const KIND: &'static KindSpec = &kinds::SEARCH_LIVE;
}

/// The figures a search child reports as its job's counters while it runs; the search's
/// per-video lines add them up (`progress::by_video`, in SQL).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ChildCounters {
    pub video_id: Option<Uuid>,
    /// Sampled frames processed.
    pub frames_processed: u64,
    /// Sampled frames the models ran on (the others showed the last analysed picture).
    pub frames_analysed: u64,
    pub hits: u64,
    /// Seconds of footage searched (live: seconds watched).
    pub seconds_processed: f64,
    pub live: bool,
}

impl ChildCounters {
    pub fn of(job: &Job) -> Option<Self> {
        serde_json::from_value(job.counters.clone()?).ok()
    }
}

pub struct NewSearch<'a> {
    pub id: Uuid,
    pub job_id: Uuid,
    pub name: Option<&'a str>,
    pub settings: &'a SearchSettings,
    pub notify: &'a [String],
    pub persons: &'a [Uuid],
    pub videos: &'a [Uuid],
    pub created_by: Option<Uuid>,
}

pub async fn create(conn: &mut AsyncPgConnection, s: NewSearch<'_>) -> Result<Search> {
    let settings = serde_json::to_value(s.settings).map_err(anyhow::Error::from)?;
    conn.transaction::<_, Error, _>(async move |conn| {
        diesel::insert_into(searches::table)
            .values((
                searches::id.eq(s.id),
                searches::job_id.eq(s.job_id),
                searches::name.eq(s.name),
                searches::settings.eq(settings),
                searches::notify.eq(s.notify),
                searches::created_by.eq(s.created_by),
            ))
            .execute(conn)
            .await?;
        let persons: Vec<_> = s
            .persons
            .iter()
            .map(|p| {
                (
                    search_persons::search_id.eq(s.id),
                    search_persons::missing_person_id.eq(*p),
                )
            })
            .collect();
        diesel::insert_into(search_persons::table)
            .values(persons)
            .execute(conn)
            .await?;
        let videos: Vec<_> = s
            .videos
            .iter()
            .map(|v| {
                (
                    search_videos::search_id.eq(s.id),
                    search_videos::video_id.eq(*v),
                )
            })
            .collect();
        diesel::insert_into(search_videos::table)
            .values(videos)
            .execute(conn)
            .await?;
        get(conn, s.id).await
    })
    .await
}

pub async fn get(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Search> {
    searches::table
        .find(id)
        .select(Search::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| Error::not_found("no such search"))
}

pub async fn by_job(conn: &mut AsyncPgConnection, job: Uuid) -> Result<Option<Search>> {
    Ok(searches::table
        .filter(searches::job_id.eq(job))
        .select(Search::as_select())
        .first(conn)
        .await
        .optional()?)
}

pub async fn person_ids(conn: &mut AsyncPgConnection, search: Uuid) -> Result<Vec<Uuid>> {
    Ok(search_persons::table
        .filter(search_persons::search_id.eq(search))
        .select(search_persons::missing_person_id)
        .load(conn)
        .await?)
}

pub async fn videos(conn: &mut AsyncPgConnection, search: Uuid) -> Result<Vec<SearchVideo>> {
    Ok(search_videos::table
        .filter(search_videos::search_id.eq(search))
        .select(SearchVideo::as_select())
        .load(conn)
        .await?)
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Any of these statuses (all when empty).
    pub status: Vec<JobStatus>,
    pub created_by: Option<Uuid>,
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &Filter,
    page: PageRequest,
) -> Result<Paged<Search>> {
    let mut q = searches::table.into_boxed();
    if !filter.status.is_empty() {
        q = q.filter(searches::status.eq_any(filter.status.clone()));
    }
    if let Some(by) = filter.created_by {
        q = q.filter(searches::created_by.eq(by));
    }
    q.order((searches::created_at.desc(), searches::id.desc()))
        .select(Search::as_select())
        .paginate(page)
        .load_page(conn)
        .await
}

/// Stores what the search found, once its children are done. (Its status follows its job.)
pub async fn set_summary(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    summary: &SearchSummary,
) -> Result<()> {
    let summary = serde_json::to_value(summary).map_err(anyhow::Error::from)?;
    diesel::update(searches::table.find(id))
        .set((
            searches::summary.eq(Some(summary)),
            searches::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// The outcome of a finished search, stored on it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchSummary {
    pub videos: usize,
    pub videos_succeeded: usize,
    pub videos_failed: usize,
    pub videos_cancelled: usize,
    pub appearances: usize,
    /// Tracks listed for review as possible sightings (not confirmed appearances).
    #[serde(default)]
    pub possible_sightings: usize,
}

/// Updates one video's line of a search.
pub async fn set_video_state(
    conn: &mut AsyncPgConnection,
    search: Uuid,
    video: Uuid,
    state: &SearchVideoState,
) -> Result<()> {
    diesel::update(search_videos::table.find((search, video)))
        .set((
            search_videos::status.eq(&state.status),
            search_videos::error.eq(&state.error),
            search_videos::segments.eq(state.segments),
            search_videos::segments_done.eq(state.segments_done),
            search_videos::frames_processed.eq(state.frames_processed),
            search_videos::frames_analysed.eq(state.frames_analysed),
            search_videos::seconds_processed.eq(state.seconds_processed),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchVideoState {
    pub status: JobStatus,
    pub error: Option<String>,
    pub segments: i32,
    /// Segments finished, whatever their outcome.
    pub segments_done: i32,
    pub frames_processed: i64,
    pub frames_analysed: i64,
    pub seconds_processed: f64,
}

/// Asks the live watches of a search (or of one of its videos) to end.
pub async fn request_stop(
    conn: &mut AsyncPgConnection,
    search: Uuid,
    video: Option<Uuid>,
) -> Result<usize> {
    let mut q = diesel::update(search_videos::table)
        .filter(search_videos::search_id.eq(search))
        .into_boxed();
    if let Some(video) = video {
        q = q.filter(search_videos::video_id.eq(video));
    }
    Ok(q.set(search_videos::stop_requested.eq(true))
        .execute(conn)
        .await?)
}

pub async fn stop_requested(
    conn: &mut AsyncPgConnection,
    search: Uuid,
    video: Uuid,
) -> Result<bool> {
    Ok(search_videos::table
        .find((search, video))
        .select(search_videos::stop_requested)
        .first(conn)
        .await
        .optional()?
        .unwrap_or(true))
}

/// Deletes a search with its results; the database lists its thumbnails for deletion from
/// storage (`storage::orphans`).
pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> Result<()> {
    get(conn, id).await?;
    diesel::delete(searches::table.find(id))
        .execute(conn)
        .await?;
    Ok(())
}
