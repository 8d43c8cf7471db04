//! Vigil's worker: runs queued jobs. One apalis worker per queue reads that queue's Redis stream
//! through Vigil's own backend; every process also dispatches the PostgreSQL backlog and
//! reconciles after failures. Media decoding and the vision models live here, never in the API.

pub mod backend;
pub mod context;
pub mod export;
pub mod frames;
pub mod handlers;
pub mod media;
pub mod registry;
pub mod runtime;
pub mod vision;

use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::*;
use tokio::sync::watch;
use vigil_core::AppContext;
use vigil_core::jobs::{dispatch, stream};

use backend::{Source, redis_stream_backend};
use runtime::{Runtime, handle_delivery};

/// How often a worker refreshes its presence key, and how long the key outlives a silent
/// worker. The queues endpoint counts workers from these keys.
const PRESENCE_EVERY: Duration = Duration::from_secs(5);
const PRESENCE_TTL_SECS: u64 = 15;
/// Running jobs get this long to finish after SIGTERM; then they are released to the queue.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// A name unique per process: the pod/host name plus a boot id, so a restarted pod never
/// collides with its previous self (in apalis or in the Redis consumer group).
pub fn worker_id(ctx: &AppContext) -> String {
    let boot = uuid::Uuid::new_v4().simple().to_string();
    format!("{}-{}", ctx.config.instance_name(), &boot[..8])
}

async fn presence(ctx: AppContext, id: String, queues: Vec<String>) {
    let key = ctx.redis.key(&format!("workers:{id}"));
    let started = chrono::Utc::now();
    let mut tick = tokio::time::interval(PRESENCE_EVERY);
    loop {
        tick.tick().await;
        let info =
            serde_json::json!({ "id": id, "queues": queues, "startedAt": started }).to_string();
        let mut conn = ctx.redis.conn();
        let result: redis::RedisResult<()> = redis::cmd("SET")
            .arg(&key)
            .arg(info)
            .arg("EX")
            .arg(PRESENCE_TTL_SECS)
            .query_async(&mut conn)
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "worker presence update failed; retrying");
        }
    }
}

/// Runs the worker until `shutdown` resolves: stops fetching, lets running jobs finish (or
/// releases them after a grace period), and exits. Redis or PostgreSQL outages are waited out.
pub async fn run(
    ctx: AppContext,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let id = worker_id(&ctx);
    let queues = ctx.config.worker_queues();
    tracing::info!(worker = %id, ?queues, concurrency = ctx.config.worker_concurrency, "worker started");
    // Resolves the deployment's own service hosts (denied to streams) once per process.
    let egress = vigil_core::egress::EgressPolicy::load(&ctx.config).await?;
    let runtime = Arc::new(Runtime::new(
        ctx.clone(),
        egress,
        id.clone(),
        Arc::new(handlers::registry()),
    ));
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };

    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn({
        let ctx = ctx.clone();
        let every = Duration::from_secs(ctx.config.reconcile_interval_secs.max(1));
        let stop = stopped(stop_rx.clone());
        async move { dispatch::run(ctx, every, stop).await }
    });
    let mut monitor = Monitor::new();
    for queue in &queues {
        if let Err(e) = stream::ensure_group(&ctx.redis, queue).await {
            tracing::warn!(%queue, error = %e, "could not prepare the queue's stream yet; the backend retries");
        }
        let source = Source {
            ctx: ctx.clone(),
            queue: queue.clone(),
            consumer: id.clone(),
        };
        let runtime = runtime.clone();
        let name = format!("{id}:{queue}");
        let concurrency = ctx.config.concurrency_for(queue);
        monitor = monitor.register(move |_| {
            WorkerBuilder::new(name.clone())
                .backend(redis_stream_backend(source.clone()))
                .data(runtime.clone())
                .concurrency(concurrency)
                .parallelize(tokio::spawn)
                .build(handle_delivery)
        });
    }
    let stop = stopped(stop_rx.clone());
    tasks.spawn(async move {
        if let Err(e) = monitor
            .run_with_signal(async move {
                stop.await;
                Ok(())
            })
            .await
        {
            tracing::error!(error = %e, "queue workers stopped with an error");
        }
    });
    let presence_task = tokio::spawn(presence(ctx.clone(), id.clone(), queues));
    let exporter = vigil_core::metrics::spawn_exporter(&ctx);

    shutdown.await;
    tracing::info!(worker = %id, "stopping: no new jobs; waiting for running ones");
    let _ = stop_tx.send(true);
    runtime.drain(SHUTDOWN_GRACE).await;
    presence_task.abort();
    if let Some(exporter) = exporter {
        exporter.abort();
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    let mut conn = ctx.redis.conn();
    let _: redis::RedisResult<()> = redis::cmd("DEL")
        .arg(ctx.redis.key(&format!("workers:{id}")))
        .query_async(&mut conn)
        .await;
    tracing::info!(worker = %id, "worker stopped");
    Ok(())
}
