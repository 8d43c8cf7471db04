//! Vigil's scheduler: drives periodic work (health, cleanup, counting) under a lock so several
//! replicas enqueue each tick once.

use std::time::Duration;

use vigil_core::{AppContext, health};

const HEALTH_EVERY: Duration = Duration::from_secs(60);

/// Runs until `shutdown` resolves.
pub async fn run(
    ctx: AppContext,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    tracing::info!("scheduler started");
    let health_loop = async {
        let mut tick = tokio::time::interval(HEALTH_EVERY);
        loop {
            tick.tick().await;
            for component in health::check_all(&ctx).await {
                if component.status == health::Status::Down {
                    tracing::warn!(component = component.name, error = ?component.error, "dependency down");
                }
            }
        }
    };
    tokio::select! {
        _ = health_loop => {}
        _ = shutdown => {}
    }
    tracing::info!("scheduler stopped");
    Ok(())
}
