use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem_openapi::param::Path;
use poem_openapi::{Object, OpenApi};
use vigil_core::auth::Permission;
use vigil_core::jobs::{kinds, overview, queues};

use super::{Tag, conn};
use crate::auth::BearerAuth;
use crate::envelope::{self, Ok};
use crate::error::{ApiError, ApiResult};
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
    let (queues, _) = overview::queues(&state.ctx).await?;
    Ok(queues
        .into_iter()
        .map(|q| QueueDto {
            paused: q.paused,
            queued: q.stats.queued,
            running: q.stats.running,
            paused_jobs: q.stats.paused,
            failed: q.stats.failed,
            succeeded: q.stats.succeeded,
            cancelled: q.stats.cancelled,
            oldest_queued_at: q.stats.oldest_queued_at,
            oldest_queued_age_secs: q.oldest_queued_age_secs.map(|s| s as i64),
            stream_depth: q.stream_depth,
            workers: q.workers.unwrap_or(0),
            kinds: q.kinds.into_iter().map(String::from).collect(),
            name: q.name,
        })
        .collect())
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
        auth.0.require(Permission::JobsRead)?;
        Ok(envelope::ok(queue_overview(&self.state).await?))
    }

    /// Stop handing this queue's jobs to workers (running jobs finish; submissions still queue).
    #[oai(path = "/:name/pause", method = "post", operation_id = "queues.pause")]
    async fn pause(&self, auth: BearerAuth, name: Path<String>) -> ApiResult<Ok<Vec<QueueDto>>> {
        auth.0.require(Permission::QueuesManage)?;
        known_queue(&name.0)?;
        let mut conn = conn(&self.state).await?;
        queues::set_paused(&mut conn, &name.0, true).await?;
        Ok(envelope::ok(queue_overview(&self.state).await?))
    }

    #[oai(
        path = "/:name/resume",
        method = "post",
        operation_id = "queues.resume"
    )]
    async fn resume(&self, auth: BearerAuth, name: Path<String>) -> ApiResult<Ok<Vec<QueueDto>>> {
        auth.0.require(Permission::QueuesManage)?;
        known_queue(&name.0)?;
        let mut conn = conn(&self.state).await?;
        queues::set_paused(&mut conn, &name.0, false).await?;
        Ok(envelope::ok(queue_overview(&self.state).await?))
    }
}
