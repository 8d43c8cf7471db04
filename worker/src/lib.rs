//! Vigil's worker: runs queued jobs. Media decoding and the vision models live here, never in
//! the API process.

use std::time::Duration;

use vigil_core::AppContext;

/// How often a worker refreshes its presence key, and how long the key outlives a silent
/// worker. Ops endpoints count workers from these keys.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(10);
const HEARTBEAT_TTL_SECS: u64 = 30;

/// A name unique per process: the pod/host name plus a boot id, so a restarted pod never
/// collides with its previous self.
pub fn worker_id(ctx: &AppContext) -> String {
    let boot = uuid::Uuid::new_v4().simple().to_string();
    format!("{}-{}", ctx.config.instance_name(), &boot[..8])
}

/// Runs the worker until `shutdown` resolves. A Redis outage is logged and retried, never
/// fatal.
pub async fn run(
    ctx: AppContext,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let id = worker_id(&ctx);
    tracing::info!(worker = %id, "worker started");
    let key = ctx.redis.key(&format!("workers:{id}"));
    let heartbeat = async {
        let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
        loop {
            tick.tick().await;
            let mut conn = ctx.redis.conn();
            let info = serde_json::json!({ "id": id, "startedAt": chrono::Utc::now() }).to_string();
            let result: redis::RedisResult<()> = redis::cmd("SET")
                .arg(&key)
                .arg(info)
                .arg("EX")
                .arg(HEARTBEAT_TTL_SECS)
                .query_async(&mut conn)
                .await;
            if let Err(e) = result {
                tracing::warn!(error = %e, "worker heartbeat failed; retrying");
            }
        }
    };
    tokio::select! {
        _ = heartbeat => {}
        _ = shutdown => {}
    }
    let mut conn = ctx.redis.conn();
    let _: redis::RedisResult<()> = redis::cmd("DEL").arg(&key).query_async(&mut conn).await;
    tracing::info!(worker = %id, "worker stopped");
    Ok(())
}
