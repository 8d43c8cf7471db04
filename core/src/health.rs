//! Dependency checks shared by the readiness endpoint and the scheduler's health task.

use std::future::Future;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::context::AppContext;
use crate::error::Result;

const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Up,
    Down,
    /// Not configured (e.g. no SMTP server): reported, but not a readiness failure.
    Disabled,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentHealth {
    pub name: &'static str,
    pub status: Status,
    pub latency_ms: u64,
    pub error: Option<String>,
    /// Whether the service cannot serve requests while this component is down.
    pub required: bool,
}

async fn probe<F: Future<Output = Result<()>>>(
    name: &'static str,
    required: bool,
    check: F,
) -> ComponentHealth {
    let started = Instant::now();
    let outcome = tokio::time::timeout(CHECK_TIMEOUT, check).await;
    let (status, error) = match outcome {
        Ok(Ok(())) => (Status::Up, None),
        Ok(Err(e)) => (Status::Down, Some(e.to_string())),
        Err(_) => (
            Status::Down,
            Some(format!("no answer within {}s", CHECK_TIMEOUT.as_secs())),
        ),
    };
    ComponentHealth {
        name,
        status,
        latency_ms: started.elapsed().as_millis() as u64,
        error,
        required,
    }
}

/// Checks every dependency concurrently, each bounded by a timeout.
pub async fn check_all(ctx: &AppContext) -> Vec<ComponentHealth> {
    let smtp = async {
        if ctx.mailer.is_configured() {
            probe("smtp", false, ctx.mailer.check()).await
        } else {
            ComponentHealth {
                name: "smtp",
                status: Status::Disabled,
                latency_ms: 0,
                error: None,
                required: false,
            }
        }
    };
    let (postgres, redis, storage, smtp) = tokio::join!(
        probe("postgres", true, crate::db::ping(&ctx.db)),
        probe("redis", true, ctx.redis.ping()),
        probe("storage", true, ctx.storage.check()),
        smtp,
    );
    vec![postgres, redis, storage, smtp]
}

pub fn is_ready(components: &[ComponentHealth]) -> bool {
    components
        .iter()
        .all(|c| !c.required || c.status == Status::Up)
}
