use std::sync::Arc;

use poem::Request;
use poem_openapi::payload::PlainText;
use poem_openapi::{Object, OpenApi};
use vigil_core::health::{self, ComponentHealth, Status};
use vigil_core::metrics;

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
    /// 503 with the failing components in `error.details` otherwise. Checked at most every
    /// two seconds, however often it is asked. When `VIGIL_METRICS_TOKEN` is set, the
    /// components (latencies, errors naming hosts) are only listed for that bearer token.
    #[oai(path = "/health/ready", method = "get")]
    async fn ready(&self, req: &Request) -> ApiResult<Ok<Readiness>> {
        let state = &self.state;
        let components = state.readiness.get(|| health::check_all(&state.ctx)).await;
        let ready = health::is_ready(&components);
        let down: Vec<&str> = components
            .iter()
            .filter(|c| c.required && c.status != Status::Up)
            .map(|c| c.name)
            .collect();
        let message = format!("not ready: {} down", down.join(", "));
        let body = Readiness {
            ready,
            components: if metrics::token_accepted(&state.ctx.config, bearer(req)) {
                components.into_iter().map(Into::into).collect()
            } else {
                Vec::new()
            },
        };
        if ready {
            Ok(envelope::ok(body))
        } else {
            Err(ApiError::unavailable(message).with_details(
                serde_json::to_value(poem_openapi::types::ToJSON::to_json(&body))
                    .unwrap_or_default(),
            ))
        }
    }

    /// Prometheus metrics (text exposition format). Queue gauges are read at most every two
    /// seconds. With `VIGIL_METRICS_TOKEN` set, only for `Authorization: Bearer <token>`.
    #[oai(path = "/metrics", method = "get")]
    async fn metrics(&self, req: &Request) -> ApiResult<PlainText<String>> {
        let state = &self.state;
        if !metrics::token_accepted(&state.ctx.config, bearer(req)) {
            return Err(ApiError::unauthorized(
                "metrics need the bearer token set in VIGIL_METRICS_TOKEN",
            ));
        }
        state
            .gauges
            .get(|| async {
                if let Err(e) = metrics::record_queue_gauges(&state.ctx).await {
                    tracing::warn!(error = %e, "queue gauges not refreshed for this scrape");
                }
            })
            .await;
        Ok(PlainText(state.metrics.render()))
    }
}

/// The request's bearer token, if any.
fn bearer(req: &Request) -> Option<&str> {
    req.headers()
        .get(poem::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}
