//! The job model. PostgreSQL holds every job (the truth and the backlog); Redis Streams carry
//! job ids to workers (see `stream`), fed in a bounded window by `dispatch`. Workers claim rows
//! atomically, so a duplicate or stale message is harmless: effects happen once per claim, and
//! handlers are idempotent across claims.

pub mod backlog;
pub mod canary;
pub mod control;
pub mod dispatch;
pub mod family;
pub mod kinds;
pub mod lease;
pub mod overview;
pub mod queues;
pub mod store;
pub mod stream;
pub mod workers;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::db::schema::jobs;
use crate::db::text_enum::text_enum;

pub use kinds::KindSpec;

text_enum! {
    /// Where a job is in its life. Searches and their per-video lines mirror their jobs' status
    /// with the same values.
    pub enum JobStatus {
        Queued = "queued",
        Running = "running",
        Paused = "paused",
        Succeeded = "succeeded",
        Failed = "failed",
        Cancelled = "cancelled",
    }
}

impl JobStatus {
    pub const TERMINAL: [JobStatus; 3] = [
        JobStatus::Succeeded,
        JobStatus::Failed,
        JobStatus::Cancelled,
    ];

    pub fn is_terminal(self) -> bool {
        Self::TERMINAL.contains(&self)
    }
}

/// A job's payload. Each payload type names the one kind that runs it, so a payload can only
/// be submitted as its own kind, and the worker hands each handler its payload already typed.
pub trait JobPayload: Serialize + DeserializeOwned + Send + Sync + 'static {
    const KIND: &'static KindSpec;
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = jobs, check_for_backend(diesel::pg::Pg))]
pub struct Job {
    pub id: Uuid,
    pub kind: String,
    pub queue: String,
    pub status: JobStatus,
    pub priority: i16,
    pub payload: serde_json::Value,
    pub result: Option<serde_json::Value>,
    pub error: Option<String>,
    pub progress: f32,
    pub stage: Option<String>,
    pub counters: Option<serde_json::Value>,
    pub checkpoint: Option<serde_json::Value>,
    pub eta_at: Option<DateTime<Utc>>,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_after: DateTime<Utc>,
    pub dispatched_at: Option<DateTime<Utc>>,
    pub message_id: Option<String>,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub cancel_requested: bool,
    pub pause_requested: bool,
    pub idempotency_key: Option<String>,
    pub parent_id: Option<Uuid>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// A job to submit.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: &'static KindSpec,
    pub payload: serde_json::Value,
    pub priority: i16,
    pub idempotency_key: Option<String>,
    pub parent_id: Option<Uuid>,
    pub created_by: Option<Uuid>,
}

impl NewJob {
    /// A job running `payload` as the payload's kind.
    pub fn of<P: JobPayload>(payload: &P) -> Self {
        Self {
            kind: P::KIND,
            // Payloads are plain data structs: serialising them cannot fail.
            payload: serde_json::to_value(payload).expect("job payloads serialise to JSON"),
            priority: 0,
            idempotency_key: None,
            parent_id: None,
            created_by: None,
        }
    }

    pub fn created_by(mut self, user: Option<Uuid>) -> Self {
        self.created_by = user;
        self
    }

    pub fn idempotency_key(mut self, key: Option<String>) -> Self {
        self.idempotency_key = key;
        self
    }

    pub fn parent(mut self, parent: Uuid) -> Self {
        self.parent_id = Some(parent);
        self
    }

    /// Higher runs first within a queue.
    pub fn priority(mut self, priority: i16) -> Self {
        self.priority = priority;
        self
    }
}

/// Submits a job and, when its queue's window has room, puts it on the stream at once (the
/// dispatcher would otherwise pick it up within a quarter second). A Redis failure here loses
/// nothing: the row stays in the backlog.
pub async fn enqueue(ctx: &crate::AppContext, new: NewJob) -> crate::Result<(Job, bool)> {
    let (job, created) = {
        let mut conn = ctx.db.get().await?;
        store::submit(&mut conn, new).await?
    };
    if created {
        publish_now(ctx, &job).await;
    }
    Ok((job, created))
}

/// Longest the fast path waits for Redis. A slow or unreachable Redis then costs a request a
/// quarter second, not the client's retries and timeouts (seconds).
const FAST_PATH_BUDGET: std::time::Duration = std::time::Duration::from_millis(250);

/// The fast path of a just-submitted top-level job: onto its stream at once when the queue
/// is not paused and its window has room. Failing here loses nothing: the dispatcher sends
/// every undispatched job within a quarter second. No PostgreSQL connection is held while
/// Redis answers: in a Redis outage, requests holding connections while Redis times out
/// would empty the pool and turn every other request into a 503.
pub async fn publish_now(ctx: &crate::AppContext, job: &Job) {
    if job.parent_id.is_some() {
        return;
    }
    let fast_path = async {
        let paused = {
            let mut conn = ctx.db.get().await?;
            queues::paused(&mut conn).await?
        };
        if paused.contains(&job.queue) {
            return Ok::<_, crate::Error>(());
        }
        let sent = tokio::time::timeout(FAST_PATH_BUDGET, async {
            if stream::depth(&ctx.redis, &job.queue).await? >= ctx.config.dispatch_window as u64 {
                return Ok::<_, crate::Error>(None);
            }
            Ok(Some(stream::publish(&ctx.redis, &job.queue, job.id).await?))
        })
        .await
        .map_err(|_| {
            crate::Error::unavailable("redis", "no answer within the fast path's budget")
        })??;
        if let Some(message) = sent {
            let mut conn = ctx.db.get().await?;
            backlog::mark_dispatched(&mut conn, job.id, &message).await?;
        }
        Ok(())
    };
    if let Err(e) = fast_path.await {
        tracing::debug!(error = %e, job = %job.id, "immediate dispatch skipped; the dispatcher will send it");
    }
}

impl Default for JobStatus {
    /// Where every job starts.
    fn default() -> Self {
        JobStatus::Queued
    }
}
