//! Each queue at a glance, from PostgreSQL (job counts, paused flag) and Redis (stream depth,
//! live workers): what ops see at `GET /api/v1/queues` and autoscalers at `/metrics`.

use chrono::Utc;

use super::{kinds, queues, stream, workers};
use crate::AppContext;
use crate::error::Result;

#[derive(Debug, Clone)]
pub struct QueueOverview {
    pub name: String,
    pub stats: queues::QueueStats,
    pub paused: bool,
    /// How long the oldest queued job has waited.
    pub oldest_queued_age_secs: Option<f64>,
    /// Messages on the queue's stream; `None` when Redis is unreachable.
    pub stream_depth: Option<u64>,
    /// Live worker processes serving the queue; `None` when Redis is unreachable.
    pub workers: Option<u64>,
    /// The job kinds that run on the queue.
    pub kinds: Vec<&'static str>,
}

/// Every queue, and the live worker processes in all. A Redis outage leaves the Redis figures
/// out rather than failing: the PostgreSQL figures, which drive scaling, are still right.
pub async fn queues(ctx: &AppContext) -> Result<(Vec<QueueOverview>, Option<u64>)> {
    let (stats, paused) = {
        let mut conn = ctx.db.get().await?;
        (
            queues::stats(&mut conn).await?,
            queues::paused(&mut conn).await?,
        )
    };
    let live = workers::live(&ctx.redis).await.ok();
    let now = Utc::now();
    let mut out = Vec::with_capacity(stats.len());
    for (name, stats) in stats {
        out.push(QueueOverview {
            paused: paused.contains(&name),
            oldest_queued_age_secs: stats
                .oldest_queued_at
                .map(|t| (now - t).num_milliseconds().max(0) as f64 / 1000.0),
            stream_depth: stream::depth(&ctx.redis, &name).await.ok(),
            workers: live
                .as_ref()
                .map(|l| l.iter().filter(|w| w.queues.contains(&name)).count() as u64),
            kinds: kinds::ALL
                .iter()
                .filter(|k| k.queue == name)
                .map(|k| k.name)
                .collect(),
            stats,
            name,
        });
    }
    Ok((out, live.map(|l| l.len() as u64)))
}
