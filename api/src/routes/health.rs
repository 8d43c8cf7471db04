use std::sync::Arc;

use poem_openapi::payload::PlainText;
use poem_openapi::{Object, OpenApi};
use vigil_core::health::{self, ComponentHealth, Status};

use super::Tag;
use crate::envelope::{self, Ok};
use crate::error::{ApiError, ApiResult};
use crate::state::ApiState;

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct Liveness {
    pub status: String,
    pub version: String,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct Component {
    pub name: String,
    /// `up`, `down` or `disabled` (not configured).
    pub status: String,
    pub latency_ms: u64,
    pub error: Option<String>,
    pub required: bool,
}

impl From<ComponentHealth> for Component {
    fn from(c: ComponentHealth) -> Self {
        Self {
            name: c.name.into(),
            status: match c.status {
                Status::Up => "up",
                Status::Down => "down",
                Status::Disabled => "disabled",
            }
            .into(),
            latency_ms: c.latency_ms,
            error: c.error,
            required: c.required,
        }
    }
}

#[derive(Debug, Object)]
pub struct Readiness {
    pub ready: bool,
    pub components: Vec<Component>,
}

pub struct HealthApi {
    pub state: Arc<ApiState>,
}

#[OpenApi(tag = "Tag::Health")]
impl HealthApi {
    /// Liveness: the process serves HTTP. Checks nothing else, so a dependency outage does not
    /// get the pod restarted.
    #[oai(path = "/health/live", method = "get")]
    async fn live(&self) -> Ok<Liveness> {
        envelope::ok(Liveness {
            status: "ok".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        })
    }

    /// Readiness: PostgreSQL, Redis and storage answer (SMTP is reported, not required).
    /// 503 with the failing components in `error.details` otherwise.
    #[oai(path = "/health/ready", method = "get")]
    async fn ready(&self) -> ApiResult<Ok<Readiness>> {
        let components = health::check_all(&self.state.ctx).await;
        let ready = health::is_ready(&components);
        let body = Readiness {
            ready,
            components: components.into_iter().map(Into::into).collect(),
        };
        if ready {
            Ok(envelope::ok(body))
        } else {
            let down: Vec<&str> = body
                .components
                .iter()
                .filter(|c| c.required && c.status != "up")
                .map(|c| c.name.as_str())
                .collect();
            Err(
                ApiError::unavailable(format!("not ready: {} down", down.join(", "))).with_details(
                    serde_json::to_value(poem_openapi::types::ToJSON::to_json(&body))
                        .unwrap_or_default(),
                ),
            )
        }
    }

    /// Prometheus metrics (text exposition format).
    #[oai(path = "/metrics", method = "get")]
    async fn metrics(&self) -> PlainText<String> {
        if let Err(e) = vigil_core::metrics::record_queue_gauges(&self.state.ctx).await {
            tracing::warn!(error = %e, "queue gauges not refreshed for this scrape");
        }
        PlainText(self.state.metrics.render())
    }
}
