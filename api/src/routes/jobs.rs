use std::sync::Arc;
use std::time::Duration;
use vigil_core::auth::Permission;

use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use poem::Request;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::{EventStream, Json};
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;
use vigil_core::exports;
use vigil_core::jobs::canary::CanaryJob;
use vigil_core::jobs::store::{self, JobFilter};
use vigil_core::jobs::{self, Job, JobStatus, NewJob, control};

use super::{Tag, conn};
use crate::auth::{BearerAuth, Principal};
use crate::envelope::{self, Envelope, Ok};
use crate::error::{ApiError, ApiResult};
use crate::middleware::note;
use crate::params::{Choice, Paging};
use crate::sse::{Authority, StreamSlot};
use crate::state::ApiState;

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct JobLinks {
    #[oai(rename = "self")]
    pub self_: String,
    pub events: String,
    pub cancel: String,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct JobDto {
    pub id: Uuid,
    pub kind: String,
    pub queue: String,
    pub status: JobStatus,
    pub priority: i16,
    /// 0–100.
    pub progress: f32,
    pub stage: Option<String>,
    pub counters: Option<serde_json::Value>,
    pub eta_at: Option<DateTime<Utc>>,
    pub attempts: i32,
    pub max_attempts: i32,
    /// What the job produced. Withheld (null) from callers who may not read what it read: an
    /// export's download link is for callers with its source's permission (`audit:read` for
    /// audit exports, `searches:read` for search exports).
    pub result: Option<serde_json::Value>,
    /// The last error (kept on retries and on failure).
    pub error: Option<String>,
    pub cancel_requested: bool,
    pub pause_requested: bool,
    /// The worker holding a running job, and until when its lease runs.
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub parent_id: Option<Uuid>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub links: JobLinks,
}

impl JobDto {
    /// The job as `who` may see it.
    pub fn for_caller(j: Job, who: &Principal) -> Self {
        let readable = exports::result_readable(&j, &who.permissions);
        let mut dto = Self::from(j);
        if !readable {
            dto.result = None;
        }
        dto
    }
}

impl From<Job> for JobDto {
    fn from(j: Job) -> Self {
        let base = format!("/api/v1/jobs/{}", j.id);
        Self {
            links: JobLinks {
                events: format!("{base}/events"),
                cancel: format!("{base}/cancel"),
                self_: base,
            },
            id: j.id,
            kind: j.kind,
            queue: j.queue,
            status: j.status,
            priority: j.priority,
            progress: j.progress,
            stage: j.stage,
            counters: j.counters,
            eta_at: j.eta_at,
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            result: j.result,
            error: j.error,
            cancel_requested: j.cancel_requested,
            pause_requested: j.pause_requested,
            lease_owner: j.lease_owner,
            lease_expires_at: j.lease_expires_at,
            parent_id: j.parent_id,
            created_by: j.created_by,
            created_at: j.created_at,
            started_at: j.started_at,
            finished_at: j.finished_at,
            updated_at: j.updated_at,
        }
    }
}

/// `202 Accepted` with the job; `Location` points at it.
#[derive(ApiResponse)]
pub enum Accepted {
    #[oai(status = 202)]
    Accepted(Json<Envelope<JobDto>>, #[oai(header = "Location")] String),
}

pub fn accepted(job: Job) -> Accepted {
    let location = format!("/api/v1/jobs/{}", job.id);
    Accepted::Accepted(envelope::ok(job.into()), location)
}

/// Submits a job for the caller, honouring an `Idempotency-Key`: a resubmission returns the
/// first job.
pub async fn submit(
    state: &ApiState,
    req: &Request,
    who: &Principal,
    new: NewJob,
    key: Option<String>,
) -> ApiResult<Accepted> {
    let (job, created) = jobs::enqueue(
        &state.ctx,
        new.created_by(Some(who.user.id)).idempotency_key(key),
    )
    .await?;
    note(req, |n| {
        n.resource_id = Some(job.id.to_string());
        n.context =
            Some(serde_json::json!({ "jobId": job.id, "kind": job.kind, "duplicate": !created }));
    });
    Ok(accepted(job))
}

/// Whether the caller may act on this job: its creator with `jobs:write`, or an admin.
fn may_control(who: &Principal, job: &Job) -> ApiResult<()> {
    if who.permissions.allows(Permission::JobsAdmin)
        || (job.created_by == Some(who.user.id) && who.permissions.allows(Permission::JobsWrite))
    {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "only the job's creator (with jobs:write) or an admin may do this",
        ))
    }
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct CanaryRequest {
    /// How long the job runs, in milliseconds (max 1 hour).
    #[oai(default, validator(maximum(value = "3600000")))]
    pub duration_ms: u64,
    #[oai(default)]
    pub fail: bool,
    #[oai(default)]
    pub panic: bool,
    /// Email this address and write an object to storage when done.
    pub notify: Option<String>,
}

pub struct JobsApi {
    pub state: Arc<ApiState>,
}

/// A progress stream's state between polls; its slot is freed when the stream is dropped.
struct Follow {
    state: Arc<ApiState>,
    authority: Authority,
    last: Option<DateTime<Utc>>,
    done: bool,
    _slot: StreamSlot,
}

#[OpenApi(prefix_path = "/api/v1/jobs", tag = "Tag::Jobs")]
impl JobsApi {
    /// List jobs, newest first, filtered by kind, status, creator, parent or queue.
    #[allow(clippy::too_many_arguments)]
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        auth: BearerAuth,
        kind: Query<Option<String>>,
        status: Query<Option<Choice<JobStatus>>>,
        #[oai(name = "createdBy")] created_by: Query<Option<Uuid>>,
        #[oai(name = "parentId")] parent_id: Query<Option<Uuid>>,
        queue: Query<Option<String>>,
        paging: Paging,
    ) -> ApiResult<Ok<Vec<JobDto>>> {
        auth.0.require(Permission::JobsRead)?;
        let filter = JobFilter {
            kind: kind.0,
            status: status.0.map(|s| s.get("status")).transpose()?,
            created_by: created_by.0,
            parent_id: parent_id.0,
            queue: queue.0,
        };
        let mut conn = conn(&self.state).await?;
        let page = store::list(&mut conn, &filter, paging.0).await?;
        Ok(envelope::page(page.map(|j| JobDto::for_caller(j, &auth.0))))
    }

    /// One job with its progress, stage, counters and ETA.
    #[oai(path = "/:id", method = "get")]
    async fn get(&self, auth: BearerAuth, id: Path<Uuid>) -> ApiResult<Ok<JobDto>> {
        auth.0.require(Permission::JobsRead)?;
        let mut conn = conn(&self.state).await?;
        Ok(envelope::ok(JobDto::for_caller(
            store::get(&mut conn, id.0).await?,
            &auth.0,
        )))
    }

    /// Progress as server-sent events: one `job` event per change, until the job finishes,
    /// the access token expires, or the caller loses access (then reconnect with a fresh
    /// token). At most `VIGIL_SSE_MAX_STREAMS_PER_USER` streams per user are open at once
    /// (429 beyond).
    #[oai(path = "/:id/events", method = "get")]
    async fn events(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<EventStream<BoxStream<'static, JobDto>>> {
        auth.0.require(Permission::JobsRead)?;
        let id = id.0;
        // 404 before the stream starts.
        {
            let mut conn = conn(&self.state).await?;
            store::get(&mut conn, id).await?;
        }
        let slot = self.state.streams.take(auth.0.user.id)?;
        let follow = Follow {
            state: self.state.clone(),
            authority: Authority::new(auth.0, Permission::JobsRead),
            last: None,
            done: false,
            _slot: slot,
        };
        let stream = futures::stream::unfold(follow, move |mut f| async move {
            if f.done {
                return None;
            }
            loop {
                if f.last.is_some() {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                if !f.authority.still_valid(&f.state).await {
                    return None;
                }
                let job = {
                    let mut conn = f.state.ctx.db.get().await.ok()?;
                    store::get(&mut conn, id).await.ok()?
                };
                if Some(job.updated_at) != f.last {
                    f.last = Some(job.updated_at);
                    f.done = job.status.is_terminal();
                    let dto = JobDto::for_caller(job, &f.authority.who);
                    return Some((dto, f));
                }
            }
        });
        Ok(
            EventStream::new(Box::pin(stream) as BoxStream<'static, JobDto>)
                .to_event(|job| {
                    let data = serde_json::to_string(&poem_openapi::types::ToJSON::to_json(&job))
                        .unwrap_or_default();
                    poem::web::sse::Event::message(data)
                        .event_type("job")
                        .id(job.updated_at.to_rfc3339())
                })
                .keep_alive(Duration::from_secs(15)),
        )
    }

    /// Cancel: a queued or paused job at once; a running one within about two seconds. Never
    /// retried afterwards.
    #[oai(path = "/:id/cancel", method = "post", operation_id = "jobs.cancel")]
    async fn cancel(&self, auth: BearerAuth, id: Path<Uuid>) -> ApiResult<Ok<JobDto>> {
        let mut conn = conn(&self.state).await?;
        may_control(&auth.0, &store::get(&mut conn, id.0).await?)?;
        Ok(envelope::ok(JobDto::for_caller(
            control::request_cancel(&mut conn, id.0).await?,
            &auth.0,
        )))
    }

    /// Pause a job of a kind that checkpoints (409 otherwise); resume continues from there.
    #[oai(path = "/:id/pause", method = "post", operation_id = "jobs.pause")]
    async fn pause(&self, auth: BearerAuth, id: Path<Uuid>) -> ApiResult<Ok<JobDto>> {
        let mut conn = conn(&self.state).await?;
        may_control(&auth.0, &store::get(&mut conn, id.0).await?)?;
        Ok(envelope::ok(JobDto::for_caller(
            control::request_pause(&mut conn, id.0).await?,
            &auth.0,
        )))
    }

    #[oai(path = "/:id/resume", method = "post", operation_id = "jobs.resume")]
    async fn resume(&self, auth: BearerAuth, id: Path<Uuid>) -> ApiResult<Ok<JobDto>> {
        let mut conn = conn(&self.state).await?;
        may_control(&auth.0, &store::get(&mut conn, id.0).await?)?;
        Ok(envelope::ok(JobDto::for_caller(
            control::resume(&mut conn, id.0).await?,
            &auth.0,
        )))
    }

    /// Re-queue a failed or cancelled job with fresh attempts (admin).
    #[oai(path = "/:id/retry", method = "post", operation_id = "jobs.retry")]
    async fn retry(&self, auth: BearerAuth, id: Path<Uuid>) -> ApiResult<Ok<JobDto>> {
        auth.0.require(Permission::JobsAdmin)?;
        let mut conn = conn(&self.state).await?;
        Ok(envelope::ok(JobDto::for_caller(
            control::retry(&mut conn, id.0).await?,
            &auth.0,
        )))
    }

    /// Submit a diagnostic job (admin): sleeps, optionally fails or panics, optionally emails
    /// and writes to storage. Checks the whole pipeline.
    #[oai(path = "/canary", method = "post", operation_id = "jobs.canary")]
    async fn canary(
        &self,
        req: &Request,
        auth: BearerAuth,
        #[oai(name = "Idempotency-Key")] idempotency_key: Header<Option<String>>,
        body: Json<CanaryRequest>,
    ) -> ApiResult<Accepted> {
        auth.0.require(Permission::JobsAdmin)?;
        let b = body.0;
        let payload = CanaryJob {
            duration_ms: b.duration_ms,
            fail: b.fail,
            panic: b.panic,
            notify: b.notify,
            ..Default::default()
        };
        submit(
            &self.state,
            req,
            &auth.0,
            NewJob::of(&payload),
            idempotency_key.0,
        )
        .await
    }
}
