use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota};
use metrics_exporter_prometheus::PrometheusHandle;
use vigil_core::AppContext;
use vigil_core::egress::EgressPolicy;
use vigil_core::health::ComponentHealth;

use crate::recent::Recent;
use crate::sse::StreamSlots;
use crate::upload::UploadSlots;

/// Shared by every request; reachable from middleware and checkers as request data.
pub struct ApiState {
    pub ctx: AppContext,
    /// Per-client (IP) token bucket. Per process: behind several API replicas the effective
    /// limit is the sum, which is the usual trade-off for keeping Redis off the request path.
    pub limiter: DefaultKeyedRateLimiter<IpAddr>,
    pub metrics: PrometheusHandle,
    pub uploads: UploadSlots,
    /// Checks stream URLs when they are registered (the worker checks them again on use).
    pub egress: EgressPolicy,
    /// The last readiness check, reused for `PROBE_TTL`.
    pub readiness: Recent<Vec<ComponentHealth>>,
    /// When the queue gauges were last read for `/metrics`, reused for `PROBE_TTL`.
    pub gauges: Recent<()>,
    /// Open progress streams per user.
    pub streams: StreamSlots,
}

/// How long a readiness check or a metrics reading is reused: short enough for load balancers
/// and autoscalers, long enough that polling costs nothing.
pub const PROBE_TTL: Duration = Duration::from_secs(2);

impl ApiState {
    pub fn new(ctx: AppContext) -> Arc<Self> {
        let config = &ctx.config;
        let per_second = NonZeroU32::new(config.rate_limit_per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(config.rate_limit_burst.max(config.rate_limit_per_second))
            .unwrap_or(per_second);
        Arc::new(Self {
            limiter: DefaultKeyedRateLimiter::keyed(
                Quota::per_second(per_second).allow_burst(burst),
            ),
            metrics: vigil_core::metrics::handle(),
            uploads: UploadSlots::new(config.max_concurrent_uploads),
            egress: EgressPolicy::new(config).expect("stream settings were validated at start-up"),
            readiness: Recent::new(PROBE_TTL),
            gauges: Recent::new(PROBE_TTL),
            streams: StreamSlots::new(config.sse_max_streams_per_user),
            ctx,
        })
    }
}
