use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::Request;
use poem_openapi::param::Path;
use poem_openapi::{Object, OpenApi};
use vigil_core::jobs::{kinds, store, stream};

use super::{Tag, conn};
use crate::auth::BearerAuth;
use crate::envelope::{self, Ok};
use crate::error::{ApiError, ApiResult};
use crate::middleware::note;
use crate::state::ApiState;

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct QueueDto {
    pub name: String,
    pub paused: bool,
    pub queued: i64,
    pub running: i64,
    pub paused_jobs: i64,
    pub failed: i64,
    pub succeeded: i64,
    pub cancelled: i64,
    pub oldest_queued_at: Option<DateTime<Utc>>,
    /// Seconds the oldest queued job has waited.
    pub oldest_queued_age_secs: Option<i64>,
    /// Messages on the queue's Redis stream (the dispatch window in use); null when Redis is down.
    pub stream_depth: Option<u64>,
    /// Live worker processes serving this queue.
    pub workers: u64,
    pub kinds: Vec<String>,
}

pub async fn queue_overview(state: &ApiState) -> ApiResult<Vec<QueueDto>> {
    let mut conn = conn(state).await?;
    let stats = store::queue_stats(&mut conn).await?;
    let paused = store::paused_queues(&mut conn).await?;
    let workers = vigil_core::jobs::workers::live(&state.ctx.redis)
        .await
        .unwrap_or_default();
    let now = Utc::now();
    let mut out = Vec::new();
    for (name, s) in stats {
        out.push(QueueDto {
            paused: paused.contains(&name),
            queued: s.queued,
            running: s.running,
            paused_jobs: s.paused,
            failed: s.failed,
            succeeded: s.succeeded,
            cancelled: s.cancelled,
            oldest_queued_at: s.oldest_queued_at,
            oldest_queued_age_secs: s.oldest_queued_at.map(|t| (now - t).num_seconds().max(0)),
            stream_depth: stream::depth(&state.ctx.redis, &name).await.ok(),
            workers: workers.iter().filter(|w| w.queues.contains(&name)).count() as u64,
            kinds: kinds::ALL
                .iter()
                .filter(|k| k.queue == name)
                .map(|k| k.name.to_string())
                .collect(),
            name,
        });
    }
    Ok(out)
}

pub struct QueuesApi {
    pub state: Arc<ApiState>,
}

fn known_queue(name: &str) -> ApiResult<()> {
    if kinds::queues().contains(&name) {
        Ok(())
    } else {
        Err(ApiError::not_found(format!(
            "no queue named {name:?}; queues are {}",
            kinds::queues().join(", ")
        )))
    }
}

#[OpenApi(prefix_path = "/api/v1/queues", tag = "Tag::Queues")]
impl QueuesApi {
    /// Every queue: jobs by status, oldest queued age, stream depth, live workers, paused flag.
    #[oai(path = "/", method = "get")]
    async fn list(&self, auth: BearerAuth) -> ApiResult<Ok<Vec<QueueDto>>> {
        auth.0.require("jobs:read")?;
        Ok(envelope::ok(queue_overview(&self.state).await?))
    }

    /// Stop handing this queue's jobs to workers (running jobs finish; submissions still queue).
    #[oai(path = "/:name/pause", method = "post")]
    async fn pause(
        &self,
        req: &Request,
        auth: BearerAuth,
        name: Path<String>,
    ) -> ApiResult<Ok<Vec<QueueDto>>> {
        note(req, |n| n.action = Some("queues.pause".into()));
        auth.0.require("queues:manage")?;
        known_queue(&name.0)?;
        let mut conn = conn(&self.state).await?;
        store::set_queue_paused(&mut conn, &name.0, true).await?;
        Ok(envelope::ok(queue_overview(&self.state).await?))
    }

    #[oai(path = "/:name/resume", method = "post")]
    async fn resume(
        &self,
        req: &Request,
        auth: BearerAuth,
        name: Path<String>,
    ) -> ApiResult<Ok<Vec<QueueDto>>> {
        note(req, |n| n.action = Some("queues.resume".into()));
        auth.0.require("queues:manage")?;
        known_queue(&name.0)?;
        let mut conn = conn(&self.state).await?;
        store::set_queue_paused(&mut conn, &name.0, false).await?;
        Ok(envelope::ok(queue_overview(&self.state).await?))
    }
}
