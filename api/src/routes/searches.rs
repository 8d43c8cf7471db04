use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection;
use poem::Request;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;
use vigil_core::exports::{ExportFilters, ExportRequest};
use vigil_core::jobs::{self, Job, JobStatus, NewJob, kinds, store};
use vigil_core::searches::results::{self, Appearance, Detection, DetectionFilter};
use vigil_core::searches::{self, NewSearch, Search, SearchJob, SearchSettings, SearchVideoState};
use vigil_core::{faces, missing_persons, videos};

use super::Tag;
use super::jobs::{Accepted, submit};
use crate::auth::{BearerAuth, Principal};
use crate::envelope::{self, Envelope, NoContent, Ok, Page};
use crate::error::{ApiError, ApiResult};
use crate::middleware::note;
use crate::state::ApiState;

const MAX_PERSONS: usize = 50;
const MAX_VIDEOS: usize = 200;

/// Search settings; every field is optional and defaults as documented in `docs/search.md`.
#[derive(Debug, Object, Default)]
#[oai(rename_all = "camelCase")]
pub struct SettingsInput {
    /// Frames sampled per second of footage (default 2).
    pub sample_fps: Option<f64>,
    /// Descriptor distance at or under which a face votes for the person (default 0.4).
    pub threshold: Option<f32>,
    /// Distance up to which faces extend an appearance without voting (default threshold + 0.1).
    pub track_threshold: Option<f32>,
    /// Required lead over the next closest enrolled identity (default 0.05).
    pub min_margin: Option<f32>,
    /// Voting frames needed for an appearance (default 2).
    pub min_votes: Option<u32>,
    /// Longest gap inside one appearance, seconds (default 1.5).
    pub max_gap_secs: Option<f64>,
    /// Length of the segments recorded videos are split into (default 30 s).
    pub segment_secs: Option<f64>,
    /// Faces smaller than this many pixels are ignored (default 20).
    pub min_face_px: Option<f32>,
    /// `low`, `normal` (default) or `high`.
    pub priority: Option<String>,
    /// Email reviewers about each appearance (default true).
    pub notify_reviewers: Option<bool>,
}

impl SettingsInput {
    fn resolve(self) -> SearchSettings {
        let d = SearchSettings::default();
        let threshold = self.threshold.unwrap_or(d.threshold);
        SearchSettings {
            sample_fps: self.sample_fps.unwrap_or(d.sample_fps),
            threshold,
            track_threshold: self.track_threshold.unwrap_or(threshold + 0.1),
            min_margin: self.min_margin.unwrap_or(d.min_margin),
            min_votes: self.min_votes.unwrap_or(d.min_votes),
            max_gap_secs: self.max_gap_secs.unwrap_or(d.max_gap_secs),
            segment_secs: self.segment_secs.unwrap_or(d.segment_secs),
            min_face_px: self.min_face_px.unwrap_or(d.min_face_px),
            priority: self.priority.unwrap_or(d.priority),
            notify_reviewers: self.notify_reviewers.unwrap_or(d.notify_reviewers),
        }
    }
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct CreateSearch {
    #[oai(validator(max_length = 200))]
    pub name: Option<String>,
    pub missing_person_ids: Vec<Uuid>,
    /// Recorded videos (status `ready`) and live streams.
    pub video_ids: Vec<Uuid>,
    #[oai(default)]
    pub settings: Option<SettingsInput>,
    /// Extra email addresses told about each appearance.
    #[oai(default)]
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
    /// `queued`, `running`, `paused`, `succeeded`, `failed` or `cancelled`.
    pub status: String,
    /// 0–100 over all videos (live streams count once stopped).
    pub progress: f32,
    pub stage: Option<String>,
    pub eta_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub persons: Vec<PersonRef>,
    pub videos: usize,
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

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct SearchVideoDto {
    pub video_id: Uuid,
    pub title: String,
    /// `file` or `live`.
    pub kind: String,
    pub status: String,
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

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct SearchStatusDto {
    pub id: Uuid,
    pub status: String,
    pub progress: f32,
    pub stage: Option<String>,
    pub eta_at: Option<DateTime<Utc>>,
    pub frames_processed: i64,
    pub frames_analysed: i64,
    pub appearances: i64,
    pub detections: i64,
    pub videos: Vec<SearchVideoDto>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct BoxDto {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
}

fn box_dto(v: &serde_json::Value) -> BoxDto {
    let f = |k: &str| v[k].as_f64().unwrap_or_default() as f32;
    BoxDto {
        x: f("x"),
        y: f("y"),
        width: f("width"),
        height: f("height"),
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
    pub bbox: BoxDto,
    pub detector_score: f32,
    /// Euclidean descriptor distance to the person's nearest enrolled photo.
    pub distance: f32,
    /// Similarity in 0–1 (0.5 at the default threshold).
    pub score: f32,
    pub runner_up_margin: Option<f32>,
    /// Time-limited link to the frame's thumbnail (the face with context).
    pub thumbnail_url: Option<String>,
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
    pub best_box: BoxDto,
    pub thumbnail_url: Option<String>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct VideoSummaryDto {
    pub video_id: Uuid,
    pub title: String,
    pub status: String,
    pub error: Option<String>,
    pub appearances: Vec<AppearanceDto>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct SearchSummaryDto {
    pub id: Uuid,
    pub status: String,
    pub appearances: i64,
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

#[derive(ApiResponse)]
pub enum SearchAccepted {
    /// Queued; poll `/api/v1/searches/{id}/status`.
    #[oai(status = 202)]
    Accepted(
        Json<Envelope<SearchDto>>,
        #[oai(header = "Location")] String,
    ),
}

pub struct SearchesApi {
    pub state: Arc<ApiState>,
}

async fn load(state: &ApiState, id: Uuid) -> ApiResult<(Search, Option<Job>)> {
    let mut conn = super::conn(state).await?;
    let search = searches::get(&mut conn, id).await?;
    let job = store::get(&mut conn, search.job_id).await.ok();
    Ok((search, job))
}

/// The live job's status while it exists; the stored outcome after retention removed it.
fn status_of(search: &Search, job: Option<&Job>) -> String {
    job.map(|j| j.status.clone())
        .unwrap_or_else(|| search.status.clone())
}

pub(crate) async fn search_dto(
    state: &ApiState,
    search: Search,
    job: Option<Job>,
) -> ApiResult<SearchDto> {
    let mut conn = super::conn(state).await?;
    let person_ids = searches::person_ids(&mut conn, search.id).await?;
    let persons = missing_persons::get_many(&mut conn, &person_ids)
        .await?
        .into_iter()
        .map(|p| PersonRef {
            id: p.id,
            name: p.name,
        })
        .collect();
    let video_count = searches::videos(&mut conn, search.id).await?.len();
    let (detections, appearances) = results::counts(&mut conn, search.id).await?;
    let status = status_of(&search, job.as_ref());
    let terminal = JobStatus::parse(&status).is_some_and(JobStatus::is_terminal);
    Ok(SearchDto {
        id: search.id,
        name: search.name,
        progress: job
            .as_ref()
            .map(|j| j.progress)
            .unwrap_or(if terminal { 100.0 } else { 0.0 }),
        stage: job.as_ref().and_then(|j| j.stage.clone()),
        eta_at: job.as_ref().and_then(|j| j.eta_at),
        error: job.as_ref().and_then(|j| j.error.clone()),
        status,
        persons,
        videos: video_count,
        appearances,
        detections,
        settings: search.settings,
        notify: search.notify,
        summary: search.summary,
        job_id: search.job_id,
        created_by: search.created_by,
        created_at: search.created_at,
        finished_at: search.finished_at,
    })
}

/// DTOs of searches already loaded (lists): only their jobs are read.
pub(crate) async fn search_dtos(state: &ApiState, rows: Vec<Search>) -> ApiResult<Vec<SearchDto>> {
    let mut out = Vec::with_capacity(rows.len());
    for search in rows {
        let job = {
            let mut conn = super::conn(state).await?;
            store::get(&mut conn, search.job_id).await.ok()
        };
        out.push(search_dto(state, search, job).await?);
    }
    Ok(out)
}

/// Per-video progress: from the child jobs while they exist, else from what the search stored
/// when it finished.
async fn video_lines(state: &ApiState, search: &Search) -> ApiResult<Vec<SearchVideoDto>> {
    let mut conn = super::conn(state).await?;
    let lines = searches::videos(&mut conn, search.id).await?;
    let ids: Vec<Uuid> = lines.iter().map(|l| l.video_id).collect();
    let videos: HashMap<Uuid, videos::Video> = videos::get_many(&mut conn, &ids)
        .await?
        .into_iter()
        .map(|v| (v.id, v))
        .collect();
    let children = store::children(&mut conn, search.job_id).await?;
    let appearances = results::appearances(&mut conn, search.id).await?;
    let mut out = Vec::new();
    for line in lines {
        let video = videos.get(&line.video_id);
        let found = appearances
            .iter()
            .filter(|a| a.video_id == line.video_id)
            .count() as i64;
        let mut dto = SearchVideoDto {
            video_id: line.video_id,
            title: video.map(|v| v.title.clone()).unwrap_or_default(),
            kind: video.map(|v| v.kind.clone()).unwrap_or_default(),
            status: line.status.clone(),
            error: line.error.clone(),
            progress: if line.status == "succeeded" {
                100.0
            } else {
                0.0
            },
            eta_at: None,
            segments: i64::from(line.segments),
            segments_done: i64::from(line.segments_done),
            frames_processed: line.frames_processed,
            frames_analysed: line.frames_analysed,
            seconds_processed: line.seconds_processed,
            duration_secs: video.and_then(|v| v.duration_secs),
            appearances: found,
        };
        if let Some(state) = SearchVideoState::from_children(&children, line.video_id) {
            let jobs = searches::video_children(&children, line.video_id);
            // While it runs, a retrying segment's last error is worth showing too.
            dto.error = state
                .error
                .or_else(|| jobs.iter().find_map(|j| j.error.clone()))
                .or(dto.error);
            dto.status = state.status;
            dto.progress = jobs
                .iter()
                .map(|j| {
                    if j.status().is_terminal() {
                        100.0
                    } else {
                        j.progress
                    }
                })
                .sum::<f32>()
                / jobs.len() as f32;
            dto.eta_at = jobs.iter().filter_map(|j| j.eta_at).max();
            dto.segments = i64::from(state.segments);
            dto.segments_done = i64::from(state.segments_done);
            dto.frames_processed = state.frames_processed;
            dto.frames_analysed = state.frames_analysed;
            dto.seconds_processed = state.seconds_processed;
        }
        out.push(dto);
    }
    Ok(out)
}

async fn thumbnail_url(state: &ApiState, key: Option<&str>) -> Option<String> {
    let key = key.filter(|k| !k.is_empty())?;
    state
        .ctx
        .storage
        .download_url(key, state.ctx.config.download_url_ttl())
        .await
        .ok()
}

async fn detection_dto(state: &ApiState, d: Detection) -> DetectionDto {
    DetectionDto {
        thumbnail_url: thumbnail_url(state, d.frame_key.as_deref()).await,
        id: d.id,
        video_id: d.video_id,
        missing_person_id: d.missing_person_id,
        appearance_id: d.appearance_id,
        time_secs: d.frame_ms as f64 / 1000.0,
        observed_at: d.observed_at,
        bbox: box_dto(&d.bbox),
        detector_score: d.detector_score,
        distance: d.distance,
        score: d.score,
        runner_up_margin: d.runner_up_margin,
    }
}

async fn appearance_dto(
    state: &ApiState,
    a: Appearance,
    titles: &HashMap<Uuid, String>,
    names: &HashMap<Uuid, String>,
) -> AppearanceDto {
    AppearanceDto {
        thumbnail_url: thumbnail_url(state, Some(&a.thumbnail_key)).await,
        video_title: titles.get(&a.video_id).cloned().unwrap_or_default(),
        person_name: names.get(&a.missing_person_id).cloned().unwrap_or_default(),
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
        best_box: box_dto(&a.best_box),
    }
}

fn may_control(who: &Principal, search: &Search) -> ApiResult<()> {
    if who.permissions.allows("jobs:admin")
        || (search.created_by == Some(who.user.id) && who.permissions.allows("searches:write"))
    {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "only the search's creator (or an admin) may control it",
        ))
    }
}

fn detection_filter(
    video: Option<Uuid>,
    person: Option<Uuid>,
    min_score: Option<f32>,
    from: Option<f64>,
    to: Option<f64>,
    unconfirmed: Option<bool>,
) -> DetectionFilter {
    DetectionFilter {
        video,
        person,
        min_score,
        from_secs: from,
        to_secs: to,
        include_unconfirmed: unconfirmed.unwrap_or(false),
    }
}

#[OpenApi(prefix_path = "/api/v1/searches", tag = "Tag::Search")]
impl SearchesApi {
    /// Start a search for missing persons in recorded videos and live streams. It runs as a
    /// parent job with one child per video segment (any worker takes them) and per live
    /// stream. Honours `Idempotency-Key`.
    #[oai(path = "/", method = "post")]
    async fn create(
        &self,
        req: &Request,
        auth: BearerAuth,
        #[oai(name = "Idempotency-Key")] key: Header<Option<String>>,
        body: Json<CreateSearch>,
    ) -> ApiResult<SearchAccepted> {
        auth.0.require("searches:write")?;
        let b = body.0;
        let settings = b.settings.unwrap_or_default().resolve();
        settings.validate()?;
        let mut person_ids = b.missing_person_ids;
        person_ids.sort();
        person_ids.dedup();
        let mut video_ids = b.video_ids;
        video_ids.sort();
        video_ids.dedup();
        if person_ids.is_empty() || person_ids.len() > MAX_PERSONS {
            return Err(ApiError::validation(
                "missingPersonIds",
                format!("give 1 to {MAX_PERSONS} missing persons"),
            ));
        }
        if video_ids.is_empty() || video_ids.len() > MAX_VIDEOS {
            return Err(ApiError::validation(
                "videoIds",
                format!("give 1 to {MAX_VIDEOS} videos or streams"),
            ));
        }
        if !b.notify.is_empty() {
            // The mailer's own address check, so a bad address is a 422 now, not a failed
            // email later.
            let probe = vigil_core::email::Email {
                to: b.notify.clone(),
                subject: String::new(),
                text: String::new(),
                html: None,
            };
            self.state
                .ctx
                .mailer
                .build(&probe)
                .map_err(|e| ApiError::validation("notify", e.to_string()))?;
        }
        let mut conn = super::conn(&self.state).await?;
        let persons = missing_persons::get_many(&mut conn, &person_ids).await?;
        if let Some(missing) = person_ids
            .iter()
            .find(|id| !persons.iter().any(|p| p.id == **id))
        {
            return Err(ApiError::validation(
                "missingPersonIds",
                format!("no missing person {missing}"),
            ));
        }
        let profiles: Vec<Uuid> = persons.iter().map(|p| p.profile_id).collect();
        let enrolled: HashMap<Uuid, i64> = faces::photo_counts(&mut conn, &profiles)
            .await?
            .into_iter()
            .filter(|(_, status, _)| status == faces::photo_status::ENROLLED)
            .map(|(profile, _, n)| (profile, n))
            .collect();
        if let Some(p) = persons
            .iter()
            .find(|p| !enrolled.contains_key(&p.profile_id))
        {
            return Err(ApiError::validation(
                "missingPersonIds",
                format!(
                    "{} has no enrolled photo yet: upload a clear photo and wait for its enrollment",
                    p.name
                ),
            ));
        }
        let found = videos::get_many(&mut conn, &video_ids).await?;
        for id in &video_ids {
            let Some(v) = found.iter().find(|v| v.id == *id) else {
                return Err(ApiError::validation("videoIds", format!("no video {id}")));
            };
            if v.status != videos::status::READY {
                let why = match (&v.status[..], &v.error) {
                    (_, Some(e)) => format!("video {} cannot be searched: {e}", v.title),
                    (status, None) => format!(
                        "video {} is not ready yet ({status}); wait for its probe",
                        v.title
                    ),
                };
                return Err(ApiError::validation("videoIds", why));
            }
        }
        drop(conn);

        let search_id = Uuid::now_v7();
        let job = NewJob::new(&kinds::SEARCH, serde_json::json!(SearchJob { search_id }))
            .priority(settings.job_priority().unwrap_or(0))
            .created_by(Some(auth.0.user.id))
            .idempotency_key(key.0);
        // The job and the search row it reads commit together, and only then is the job
        // published: a worker never sees the job without its search.
        let mut conn = super::conn(&self.state).await?;
        let notify = b.notify.clone();
        let name = b.name.clone();
        let user = auth.0.user.id;
        let (job, created, search) = conn
            .transaction::<_, vigil_core::Error, _>(async move |conn| {
                let (job, created) = store::submit(conn, job).await?;
                let search = if created {
                    searches::create(
                        conn,
                        NewSearch {
                            id: search_id,
                            job_id: job.id,
                            name: name.as_deref(),
                            settings: &settings,
                            notify: &notify,
                            persons: &person_ids,
                            videos: &video_ids,
                            created_by: Some(user),
                        },
                    )
                    .await?
                } else {
                    searches::by_job(conn, job.id).await?.ok_or_else(|| {
                        vigil_core::Error::conflict(
                            "this Idempotency-Key was used for another kind of request",
                        )
                    })?
                };
                Ok((job, created, search))
            })
            .await?;
        if created {
            jobs::publish_now(&self.state.ctx, &mut conn, &job).await;
        }
        drop(conn);
        note(req, |n| n.resource_id = Some(search.id.to_string()));
        let location = format!("/api/v1/searches/{}", search.id);
        Ok(SearchAccepted::Accepted(
            envelope::ok(search_dto(&self.state, search, Some(job)).await?),
            location,
        ))
    }

    /// List searches, newest first, filtered by status or creator.
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        auth: BearerAuth,
        status: Query<Option<String>>,
        #[oai(name = "createdBy")] created_by: Query<Option<Uuid>>,
        page: Query<Option<u32>>,
        #[oai(name = "pageSize")] page_size: Query<Option<u32>>,
    ) -> ApiResult<Ok<Vec<SearchDto>>> {
        auth.0.require("searches:read")?;
        let page = Page::new(page.0, page_size.0)?;
        let filter = searches::Filter {
            status: status.0,
            created_by: created_by.0,
        };
        let mut conn = super::conn(&self.state).await?;
        let (items, total) =
            searches::list(&mut conn, &filter, page.offset(), page.limit()).await?;
        drop(conn);
        Ok(envelope::page(
            search_dtos(&self.state, items).await?,
            &page,
            total,
        ))
    }

    #[oai(path = "/:id", method = "get")]
    async fn get(&self, auth: BearerAuth, id: Path<Uuid>) -> ApiResult<Ok<SearchDto>> {
        auth.0.require("searches:read")?;
        let (search, job) = load(&self.state, id.0).await?;
        Ok(envelope::ok(search_dto(&self.state, search, job).await?))
    }

    /// Progress: overall and per video (percent, frames processed, ETA), hits so far.
    #[oai(path = "/:id/status", method = "get")]
    async fn status(&self, auth: BearerAuth, id: Path<Uuid>) -> ApiResult<Ok<SearchStatusDto>> {
        auth.0.require("searches:read")?;
        let (search, job) = load(&self.state, id.0).await?;
        let videos = video_lines(&self.state, &search).await?;
        let dto = search_dto(&self.state, search, job).await?;
        Ok(envelope::ok(SearchStatusDto {
            id: dto.id,
            status: dto.status,
            progress: dto.progress,
            stage: dto.stage,
            eta_at: dto.eta_at,
            frames_processed: videos.iter().map(|v| v.frames_processed).sum(),
            frames_analysed: videos.iter().map(|v| v.frames_analysed).sum(),
            appearances: dto.appearances,
            detections: dto.detections,
            videos,
        }))
    }

    /// The search's videos and streams with their progress.
    #[oai(path = "/:id/videos", method = "get")]
    async fn videos(&self, auth: BearerAuth, id: Path<Uuid>) -> ApiResult<Ok<Vec<SearchVideoDto>>> {
        auth.0.require("searches:read")?;
        let (search, _) = load(&self.state, id.0).await?;
        Ok(envelope::ok(video_lines(&self.state, &search).await?))
    }

    /// Matching frames, in video and time order. By default only frames that are part of an
    /// appearance; `includeUnconfirmed=true` adds lone or weak matches.
    #[allow(clippy::too_many_arguments)]
    #[oai(path = "/:id/detections", method = "get")]
    async fn detections(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        #[oai(name = "videoId")] video_id: Query<Option<Uuid>>,
        #[oai(name = "missingPersonId")] person_id: Query<Option<Uuid>>,
        #[oai(name = "minScore")] min_score: Query<Option<f32>>,
        #[oai(name = "fromSecs")] from_secs: Query<Option<f64>>,
        #[oai(name = "toSecs")] to_secs: Query<Option<f64>>,
        #[oai(name = "includeUnconfirmed")] unconfirmed: Query<Option<bool>>,
        page: Query<Option<u32>>,
        #[oai(name = "pageSize")] page_size: Query<Option<u32>>,
    ) -> ApiResult<Ok<Vec<DetectionDto>>> {
        auth.0.require("searches:read")?;
        let page = Page::new(page.0, page_size.0)?;
        let filter = detection_filter(
            video_id.0,
            person_id.0,
            min_score.0,
            from_secs.0,
            to_secs.0,
            unconfirmed.0,
        );
        let mut conn = super::conn(&self.state).await?;
        searches::get(&mut conn, id.0).await?;
        let (rows, total) =
            results::list_detections(&mut conn, id.0, &filter, page.offset(), page.limit()).await?;
        drop(conn);
        let mut out = Vec::with_capacity(rows.len());
        for d in rows {
            out.push(detection_dto(&self.state, d).await);
        }
        Ok(envelope::page(out, &page, total))
    }

    /// Per video and person: confirmed detections, appearances, first/last seen, best score.
    #[oai(path = "/:id/detections/summary", method = "get")]
    async fn detection_summary(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Ok<Vec<DetectionSummaryDto>>> {
        auth.0.require("searches:read")?;
        let mut conn = super::conn(&self.state).await?;
        searches::get(&mut conn, id.0).await?;
        let rows = results::detection_summary(&mut conn, id.0).await?;
        Ok(envelope::ok(
            rows.into_iter()
                .map(|r| DetectionSummaryDto {
                    video_id: r.video_id,
                    missing_person_id: r.missing_person_id,
                    detections: r.detections,
                    appearances: r.appearances,
                    first_seen_secs: r.first_seen_secs,
                    last_seen_secs: r.last_seen_secs,
                    best_score: r.best_score,
                })
                .collect(),
        ))
    }

    /// Thumbnails of matching frames (the detections that have one), paginated.
    #[oai(path = "/:id/detections/frames", method = "get")]
    async fn frames(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        #[oai(name = "videoId")] video_id: Query<Option<Uuid>>,
        #[oai(name = "minScore")] min_score: Query<Option<f32>>,
        page: Query<Option<u32>>,
        #[oai(name = "pageSize")] page_size: Query<Option<u32>>,
    ) -> ApiResult<Ok<Vec<DetectionDto>>> {
        self.detections(
            auth,
            id,
            video_id,
            Query(None),
            min_score,
            Query(None),
            Query(None),
            Query(None),
            page,
            page_size,
        )
        .await
    }

    /// The result: appearances per video (first/last seen, best frame's thumbnail and score).
    #[oai(path = "/:id/summary", method = "get")]
    async fn summary(&self, auth: BearerAuth, id: Path<Uuid>) -> ApiResult<Ok<SearchSummaryDto>> {
        auth.0.require("searches:read")?;
        let (search, job) = load(&self.state, id.0).await?;
        let lines = video_lines(&self.state, &search).await?;
        let mut conn = super::conn(&self.state).await?;
        let appearances = results::appearances(&mut conn, search.id).await?;
        let person_ids = searches::person_ids(&mut conn, search.id).await?;
        let names: HashMap<Uuid, String> = missing_persons::get_many(&mut conn, &person_ids)
            .await?
            .into_iter()
            .map(|p| (p.id, p.name))
            .collect();
        drop(conn);
        let titles: HashMap<Uuid, String> = lines
            .iter()
            .map(|l| (l.video_id, l.title.clone()))
            .collect();
        let total = appearances.len() as i64;
        let mut by_video: HashMap<Uuid, Vec<AppearanceDto>> = HashMap::new();
        for a in appearances {
            let video = a.video_id;
            by_video
                .entry(video)
                .or_default()
                .push(appearance_dto(&self.state, a, &titles, &names).await);
        }
        Ok(envelope::ok(SearchSummaryDto {
            id: search.id,
            status: status_of(&search, job.as_ref()),
            appearances: total,
            videos: lines
                .into_iter()
                .map(|l| VideoSummaryDto {
                    appearances: by_video.remove(&l.video_id).unwrap_or_default(),
                    video_id: l.video_id,
                    title: l.title,
                    status: l.status,
                    error: l.error,
                })
                .collect(),
        }))
    }

    /// Delete a search with its detections, appearances and thumbnails; a running one is
    /// cancelled first.
    #[oai(path = "/:id", method = "delete")]
    async fn delete(&self, auth: BearerAuth, id: Path<Uuid>) -> ApiResult<NoContent> {
        let mut conn = super::conn(&self.state).await?;
        let search = searches::get(&mut conn, id.0).await?;
        may_control(&auth.0, &search)?;
        if store::get(&mut conn, search.job_id)
            .await
            .is_ok_and(|j| !j.status().is_terminal())
        {
            store::request_cancel(&mut conn, search.job_id).await?;
        }
        let keys = searches::delete(&mut conn, search.id).await?;
        drop(conn);
        for key in keys {
            if let Err(e) = self.state.ctx.storage.delete(&key).await {
                tracing::warn!(%key, error = %e, "thumbnail not deleted");
            }
        }
        Ok(NoContent::NoContent)
    }

    /// Cancel the search: stops every video within a few seconds; results so far stay.
    #[oai(path = "/:id/cancel", method = "put")]
    async fn cancel(&self, auth: BearerAuth, id: Path<Uuid>) -> ApiResult<Ok<SearchDto>> {
        self.control(auth, id.0, "cancel").await
    }

    /// Pause the search: running segments checkpoint, queued ones wait.
    #[oai(path = "/:id/pause", method = "put")]
    async fn pause(&self, auth: BearerAuth, id: Path<Uuid>) -> ApiResult<Ok<SearchDto>> {
        self.control(auth, id.0, "pause").await
    }

    /// Resume a paused search from its checkpoints; finished segments are not redone.
    #[oai(path = "/:id/resume", method = "put")]
    async fn resume(&self, auth: BearerAuth, id: Path<Uuid>) -> ApiResult<Ok<SearchDto>> {
        self.control(auth, id.0, "resume").await
    }

    /// Stop watching the search's live streams (they finish as succeeded); recorded videos
    /// go on. `videoId` stops one stream only.
    #[oai(path = "/:id/stop", method = "put")]
    async fn stop(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        #[oai(name = "videoId")] video_id: Query<Option<Uuid>>,
    ) -> ApiResult<Ok<SearchDto>> {
        let mut conn = super::conn(&self.state).await?;
        let search = searches::get(&mut conn, id.0).await?;
        may_control(&auth.0, &search)?;
        searches::request_stop(&mut conn, search.id, video_id.0).await?;
        drop(conn);
        let (search, job) = load(&self.state, id.0).await?;
        Ok(envelope::ok(search_dto(&self.state, search, job).await?))
    }

    /// Export the search's appearances as CSV or PDF (with thumbnails) through an export job;
    /// its result holds the download link.
    #[oai(path = "/:id/export", method = "get")]
    async fn export(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<Uuid>,
        format: Query<Option<String>>,
    ) -> ApiResult<Accepted> {
        auth.0.require("searches:read")?;
        auth.0.require("exports:write")?;
        let format = format.0.unwrap_or_else(|| "csv".into());
        if !matches!(format.as_str(), "csv" | "pdf") {
            return Err(ApiError::validation("format", "format must be csv or pdf"));
        }
        let mut conn = super::conn(&self.state).await?;
        let search = searches::get(&mut conn, id.0).await?;
        drop(conn);
        let request = ExportRequest {
            format,
            source: "search".into(),
            filters: ExportFilters {
                search_id: Some(search.id),
                ..Default::default()
            },
        };
        let job = NewJob::new(&kinds::EXPORT, serde_json::json!(request));
        submit(&self.state, req, &auth.0, job, None).await
    }
}

impl SearchesApi {
    async fn control(&self, auth: BearerAuth, id: Uuid, action: &str) -> ApiResult<Ok<SearchDto>> {
        let mut conn = super::conn(&self.state).await?;
        let search = searches::get(&mut conn, id).await?;
        may_control(&auth.0, &search)?;
        let job = match action {
            "cancel" => store::request_cancel(&mut conn, search.job_id).await?,
            "pause" => store::request_pause(&mut conn, search.job_id).await?,
            _ => store::resume(&mut conn, search.job_id).await?,
        };
        if job.status != search.status {
            searches::set_status(&mut conn, search.id, &job.status, search.summary.clone()).await?;
        }
        drop(conn);
        let (search, job) = load(&self.state, id).await?;
        Ok(envelope::ok(search_dto(&self.state, search, job).await?))
    }
}
