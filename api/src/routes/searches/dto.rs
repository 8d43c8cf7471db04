//! What the search routes send and receive, and pure conversions from the core's read model.
//! Nothing here touches the database; thumbnail links are signed by the caller and passed in.

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use uuid::Uuid;
use vigil_core::geometry::BoxPx;
use vigil_core::jobs::JobStatus;
use vigil_core::searches::face_tracks::{FaceTrack, ReviewStatus};
use vigil_core::searches::read::{SearchView, VideoLine};
use vigil_core::searches::results::{Appearance, Detection, DetectionSummary};
use vigil_core::searches::{Priority, SearchSettings};
use vigil_core::videos::VideoKind;

use crate::params::Choice;

/// Search settings; every field is optional and defaults as documented in `docs/search.md`.
#[derive(Debug, Object, Default)]
#[oai(rename_all = "camelCase")]
pub struct SettingsInput {
    /// Frames sampled per second of footage (default 2).
    #[oai(validator(minimum(value = "0.1"), maximum(value = "30")))]
    pub sample_fps: Option<f64>,
    /// Descriptor distance at or under which a face votes for the person (default 0.4).
    #[oai(validator(minimum(value = "0.1"), maximum(value = "1.5")))]
    pub threshold: Option<f32>,
    /// Distance up to which faces extend an appearance without voting (default threshold + 0.1);
    /// at least `threshold`.
    #[oai(validator(minimum(value = "0.1"), maximum(value = "1.5")))]
    pub track_threshold: Option<f32>,
    /// Required lead over the next closest enrolled identity (default 0.05).
    #[oai(validator(minimum(value = "0"), maximum(value = "1")))]
    pub min_margin: Option<f32>,
    /// Voting frames needed for an appearance (default 2).
    #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
    pub min_votes: Option<u32>,
    /// Longest gap inside one appearance, seconds (default 1.5).
    #[oai(validator(minimum(value = "0"), maximum(value = "60")))]
    pub max_gap_secs: Option<f64>,
    /// Length of the segments recorded videos are split into (default 30 s).
    #[oai(validator(minimum(value = "2"), maximum(value = "3600")))]
    pub segment_secs: Option<f64>,
    /// Faces smaller than this many pixels are ignored (default 20).
    #[oai(validator(minimum(value = "0"), maximum(value = "1000")))]
    pub min_face_px: Option<f32>,
    /// Tracks whose best faces lie within this distance and stand out from the video's other
    /// tracks are listed as possible sightings (default 0.75).
    pub sighting_distance: Option<f32>,
    /// Also run the second face detector, which finds small (down to ~40 px at 720p), dim and
    /// motion-blurred faces the first misses (default true; about a third more detector time
    /// per analysed frame, docs/search.md).
    pub small_faces: Option<bool>,
    /// Queue priority (default `normal`).
    pub priority: Option<Choice<Priority>>,
    /// Email reviewers about each appearance (default true).
    pub notify_reviewers: Option<bool>,
}

impl SettingsInput {
    pub fn resolve(self) -> Result<SearchSettings, crate::error::ApiError> {
        let d = SearchSettings::default();
        let threshold = self.threshold.unwrap_or(d.threshold);
        Ok(SearchSettings {
            sample_fps: self.sample_fps.unwrap_or(d.sample_fps),
            threshold,
            track_threshold: self.track_threshold.unwrap_or(threshold + 0.1),
            min_margin: self.min_margin.unwrap_or(d.min_margin),
            min_votes: self.min_votes.unwrap_or(d.min_votes),
            max_gap_secs: self.max_gap_secs.unwrap_or(d.max_gap_secs),
            segment_secs: self.segment_secs.unwrap_or(d.segment_secs),
            min_face_px: self.min_face_px.unwrap_or(d.min_face_px),
            sighting_distance: self
                .sighting_distance
                .unwrap_or(d.sighting_distance.max(threshold + 0.1)),
            small_faces: self.small_faces.unwrap_or(d.small_faces),
            priority: match self.priority {
                Some(p) => p.get("settings.priority")?,
                None => d.priority,
            },
            notify_reviewers: self.notify_reviewers.unwrap_or(d.notify_reviewers),
        })
    }
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct CreateSearch {
    #[oai(validator(max_length = 200))]
    pub name: Option<String>,
    #[oai(validator(min_items = 1, max_items = 50))]
    pub missing_person_ids: Vec<Uuid>,
    /// Recorded videos (status `ready`) and live streams.
    #[oai(validator(min_items = 1, max_items = 200))]
    pub video_ids: Vec<Uuid>,
    #[oai(default)]
    pub settings: Option<SettingsInput>,
    /// Extra email addresses told about each appearance (with a thumbnail link valid for a
    /// day): at most `VIGIL_NOTIFY_MAX_RECIPIENTS` (5), inside `VIGIL_NOTIFY_ALLOWED_DOMAINS`
    /// when that is set.
    #[oai(default, validator(max_items = 100))]
    pub notify: Vec<String>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct PersonRef {
    pub id: Uuid,
    pub name: String,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct SearchDto {
    pub id: Uuid,
    pub name: Option<String>,
    pub status: JobStatus,
    /// 0–100 over all videos (live streams count once stopped).
    pub progress: f32,
    pub stage: Option<String>,
    pub eta_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub persons: Vec<PersonRef>,
    pub videos: i64,
    pub appearances: i64,
    pub detections: i64,
    pub settings: serde_json::Value,
    pub notify: Vec<String>,
    pub summary: Option<serde_json::Value>,
    /// The parent job (see `/api/v1/jobs/{id}`).
    pub job_id: Uuid,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<SearchView> for SearchDto {
    fn from(v: SearchView) -> Self {
        let (status, progress) = (v.status(), v.progress());
        let job = v.job;
        let s = v.search;
        SearchDto {
            id: s.id,
            name: s.name,
            status,
            progress,
            stage: job.as_ref().and_then(|j| j.stage.clone()),
            eta_at: job.as_ref().and_then(|j| j.eta_at),
            error: job.and_then(|j| j.error),
            persons: v
                .persons
                .into_iter()
                .map(|(id, name)| PersonRef { id, name })
                .collect(),
            videos: v.videos,
            appearances: v.appearances,
            detections: v.detections,
            settings: s.settings,
            notify: s.notify,
            summary: s.summary,
            job_id: s.job_id,
            created_by: s.created_by,
            created_at: s.created_at,
            finished_at: s.finished_at,
        }
    }
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct SearchVideoDto {
    pub video_id: Uuid,
    pub title: String,
    /// `file` or `live`.
    pub kind: Option<VideoKind>,
    pub status: JobStatus,
    pub error: Option<String>,
    pub progress: f32,
    pub eta_at: Option<DateTime<Utc>>,
    pub segments: i64,
    pub segments_done: i64,
    pub frames_processed: i64,
    /// Sampled frames the models ran on; the others showed the last analysed picture,
    /// unchanged or moved as a whole (a pan), and took over its analysis.
    pub frames_analysed: i64,
    /// Seconds of footage searched (live: seconds watched).
    pub seconds_processed: f64,
    pub duration_secs: Option<f64>,
    pub appearances: i64,
}

impl From<VideoLine> for SearchVideoDto {
    fn from(l: VideoLine) -> Self {
        SearchVideoDto {
            video_id: l.video_id,
            title: l.title,
            kind: l.kind,
            status: l.state.status,
            error: l.state.error,
            progress: l.progress,
            eta_at: l.eta_at,
            segments: i64::from(l.state.segments),
            segments_done: i64::from(l.state.segments_done),
            frames_processed: l.state.frames_processed,
            frames_analysed: l.state.frames_analysed,
            seconds_processed: l.state.seconds_processed,
            duration_secs: l.duration_secs,
            appearances: l.appearances,
        }
    }
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct SearchStatusDto {
    pub id: Uuid,
    pub status: JobStatus,
    pub progress: f32,
    pub stage: Option<String>,
    pub eta_at: Option<DateTime<Utc>>,
    pub frames_processed: i64,
    pub frames_analysed: i64,
    pub appearances: i64,
    pub detections: i64,
    pub videos: Vec<SearchVideoDto>,
}

impl SearchStatusDto {
    pub fn new(search: SearchDto, videos: Vec<SearchVideoDto>) -> Self {
        SearchStatusDto {
            id: search.id,
            status: search.status,
            progress: search.progress,
            stage: search.stage,
            eta_at: search.eta_at,
            frames_processed: videos.iter().map(|v| v.frames_processed).sum(),
            frames_analysed: videos.iter().map(|v| v.frames_analysed).sum(),
            appearances: search.appearances,
            detections: search.detections,
            videos,
        }
    }
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct DetectionDto {
    pub id: Uuid,
    pub video_id: Uuid,
    pub missing_person_id: Uuid,
    pub appearance_id: Option<Uuid>,
    /// Position in the video (seconds); for live streams, Unix time in seconds.
    pub time_secs: f64,
    /// Wall-clock time of the frame (live streams).
    pub observed_at: Option<DateTime<Utc>>,
    #[oai(rename = "box")]
    pub bbox: BoxPx,
    pub detector_score: f32,
    /// Euclidean descriptor distance to the person's nearest enrolled photo.
    pub distance: f32,
    /// Similarity in 0–1 (0.5 at the default threshold).
    pub score: f32,
    pub runner_up_margin: Option<f32>,
    /// Time-limited link to the frame's thumbnail (the face with context).
    pub thumbnail_url: Option<String>,
}

impl DetectionDto {
    pub fn new(d: Detection, thumbnail_url: Option<String>) -> Self {
        DetectionDto {
            thumbnail_url,
            id: d.id,
            video_id: d.video_id,
            missing_person_id: d.missing_person_id,
            appearance_id: d.appearance_id,
            time_secs: d.frame_ms as f64 / 1000.0,
            observed_at: d.observed_at,
            bbox: d.bbox,
            detector_score: d.detector_score,
            distance: d.distance,
            score: d.score,
            runner_up_margin: d.runner_up_margin,
        }
    }
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct AppearanceDto {
    pub id: Uuid,
    pub video_id: Uuid,
    pub video_title: String,
    pub missing_person_id: Uuid,
    pub person_name: String,
    /// First and last seen (seconds into the video; Unix seconds for live streams).
    pub start_secs: f64,
    pub end_secs: f64,
    pub started_at: Option<DateTime<Utc>>,
    pub frames: i32,
    pub best_score: f32,
    pub best_distance: f32,
    pub best_secs: f64,
    pub best_box: BoxPx,
    pub thumbnail_url: Option<String>,
}

impl AppearanceDto {
    pub fn new(
        a: Appearance,
        video_title: String,
        person_name: String,
        thumbnail_url: Option<String>,
    ) -> Self {
        AppearanceDto {
            thumbnail_url,
            video_title,
            person_name,
            id: a.id,
            video_id: a.video_id,
            missing_person_id: a.missing_person_id,
            start_secs: a.start_secs,
            end_secs: a.end_secs,
            started_at: a.started_at,
            frames: a.frames,
            best_score: a.best_score,
            best_distance: a.best_distance,
            best_secs: a.best_secs,
            best_box: a.best_box,
        }
    }
}

/// A possible sighting: a face track too small or unclear to confirm, but nearer the person
/// than the video's other tracks. Never an appearance until a reviewer confirms it.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct SightingDto {
    pub id: Uuid,
    pub video_id: Uuid,
    pub missing_person_id: Uuid,
    /// 1 = the most likely in its video.
    pub rank: i32,
    /// How far the track stands out from the video's other tracks (robust standard
    /// deviations; more negative = closer to the person than the others).
    pub standout: f32,
    /// First and last seen (seconds into the video; Unix seconds for live streams).
    pub start_secs: f64,
    pub end_secs: f64,
    pub frames: i32,
    /// Mean distance of the track's best faces to the person, and the best one.
    pub distance: f32,
    pub best_distance: f32,
    pub best_secs: f64,
    /// Quality: the best face's size and the largest face seen (shorter box side, pixels).
    pub face_px: f32,
    pub max_face_px: f32,
    pub thumbnail_url: Option<String>,
    pub review_status: Option<ReviewStatus>,
    pub review_note: Option<String>,
    pub reviewed_by: Option<Uuid>,
    pub reviewed_at: Option<DateTime<Utc>>,
}

impl SightingDto {
    pub fn new(t: FaceTrack, thumbnail_url: Option<String>) -> Self {
        SightingDto {
            id: t.id,
            video_id: t.video_id,
            missing_person_id: t.missing_person_id,
            rank: t.sighting_rank.unwrap_or_default(),
            standout: t.sighting_standout.unwrap_or_default(),
            start_secs: t.start_ms as f64 / 1000.0,
            end_secs: t.end_ms as f64 / 1000.0,
            frames: t.frames,
            distance: t.distance,
            best_distance: t.best_distance,
            best_secs: t.best_ms as f64 / 1000.0,
            face_px: t.best_px,
            max_face_px: t.max_px,
            thumbnail_url,
            review_status: t.review_status,
            review_note: t.review_note,
            reviewed_by: t.reviewed_by,
            reviewed_at: t.reviewed_at,
        }
    }
}

/// A reviewer's verdict on a possible sighting.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct SightingReview {
    /// `confirmed` (it is the person) or `dismissed` (it is not); `pending` reopens it.
    pub status: Choice<ReviewStatus>,
    #[oai(validator(max_length = 2000))]
    pub note: Option<String>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct VideoSummaryDto {
    pub video_id: Uuid,
    pub title: String,
    pub status: JobStatus,
    pub error: Option<String>,
    /// The first appearances in time order, at most `SUMMARY_APPEARANCES_PER_VIDEO` (50);
    /// `appearancesTotal` says how many there are. Every one is in the export and in
    /// `/searches/{id}/detections`.
    pub appearances: Vec<AppearanceDto>,
    pub appearances_total: i64,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct SearchSummaryDto {
    pub id: Uuid,
    pub status: JobStatus,
    /// Appearances in all videos (not only those listed).
    pub appearances: i64,
    /// Possible sightings listed for review (see `/searches/{id}/possible-sightings`).
    pub possible_sightings: i64,
    pub videos: Vec<VideoSummaryDto>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct DetectionSummaryDto {
    pub video_id: Uuid,
    pub missing_person_id: Uuid,
    pub detections: i64,
    pub appearances: i64,
    pub first_seen_secs: f64,
    pub last_seen_secs: f64,
    pub best_score: f32,
}

impl From<DetectionSummary> for DetectionSummaryDto {
    fn from(r: DetectionSummary) -> Self {
        DetectionSummaryDto {
            video_id: r.video_id,
            missing_person_id: r.missing_person_id,
            detections: r.detections,
            appearances: r.appearances,
            first_seen_secs: r.first_seen_secs,
            last_seen_secs: r.last_seen_secs,
            best_score: r.best_score,
        }
    }
}
