//! Prometheus metrics through the `metrics` facade. One recorder per process: the all-in-one
//! binary and the test harness start several apps in one process, so it is installed once.
//!
//! Process counters (HTTP requests, jobs started/finished, job durations) are recorded where
//! they happen. Queue gauges (depth, oldest queued age, workers) describe the whole deployment,
//! so they are read from PostgreSQL and Redis when the API's `/metrics` is scraped: an
//! autoscaler scraping any API replica sees the same, current figures.

use std::net::SocketAddr;
use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::AppContext;
use crate::jobs::overview;

const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    300.0, 900.0, 3600.0,
];

pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .expect("static bucket list is valid")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (embedding); then ours only renders.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Sets the per-queue gauges from the queue overview. Redis being down leaves the Redis-based
/// gauges at their last values rather than failing the scrape.
pub async fn record_queue_gauges(ctx: &AppContext) -> crate::Result<()> {
    let (queues, workers) = overview::queues(ctx).await?;
    for q in &queues {
        let labels = [("queue", q.name.clone())];
        metrics::gauge!("vigil_queue_depth", &labels).set(q.stats.queued as f64);
        metrics::gauge!("vigil_queue_running", &labels).set(q.stats.running as f64);
        metrics::gauge!("vigil_queue_failed", &labels).set(q.stats.failed as f64);
        metrics::gauge!("vigil_queue_paused", &labels).set(f64::from(u8::from(q.paused)));
        metrics::gauge!("vigil_queue_oldest_queued_age_seconds", &labels)
            .set(q.oldest_queued_age_secs.unwrap_or(0.0));
        if let Some(depth) = q.stream_depth {
            metrics::gauge!("vigil_queue_stream_depth", &labels).set(depth as f64);
        }
        if let Some(n) = q.workers {
            metrics::gauge!("vigil_queue_workers", &labels).set(n as f64);
        }
    }
    if let Some(n) = workers {
        metrics::gauge!("vigil_workers").set(n as f64);
    }
    Ok(())
}

/// Whether a request with bearer token `given` may read metrics: always when no
/// `VIGIL_METRICS_TOKEN` is set, else only with that token (compared in constant time).
pub fn token_accepted(config: &crate::Config, given: Option<&str>) -> bool {
    let Some(expected) = config.metrics_token.as_deref().map(str::trim) else {
        return true;
    };
    let Some(given) = given.map(str::trim) else {
        return false;
    };
    let (a, b) = (expected.as_bytes(), given.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Serves this process's metrics at `http://{VIGIL_METRICS_ADDR}/metrics` when that is set:
/// worker and scheduler pods have no API of their own. Abort the handle to stop serving.
pub fn spawn_exporter(ctx: &AppContext) -> Option<tokio::task::JoinHandle<()>> {
    let addr = ctx.config.metrics_addr?;
    // Install the recorder now, so counts from before the first scrape are kept.
    handle();
    let config = ctx.config.clone();
    Some(tokio::spawn(async move {
        if let Err(e) = serve(addr, config).await {
            tracing::error!(%addr, error = %e, "metrics endpoint stopped");
        }
    }))
}

async fn serve(addr: SocketAddr, config: std::sync::Arc<crate::Config>) -> std::io::Result<()> {
    use poem::http::StatusCode;
    use poem::listener::TcpListener;
    use poem::web::Data;
    use poem::{EndpointExt, IntoResponse, Request, Response, Route, get, handler};

    #[handler]
    fn render(req: &Request, config: Data<&std::sync::Arc<crate::Config>>) -> Response {
        let given = req
            .header(poem::http::header::AUTHORIZATION)
            .and_then(|v| v.strip_prefix("Bearer "));
        if token_accepted(&config, given) {
            handle().render().into_response()
        } else {
            StatusCode::UNAUTHORIZED.into_response()
        }
    }
    #[handler]
    fn live() -> &'static str {
        "ok"
    }
    let app = Route::new()
        .at("/metrics", get(render))
        .at("/health/live", get(live))
        .data(config)
        .with(poem::middleware::Tracing);
    tracing::info!(%addr, "serving metrics");
    poem::Server::new(TcpListener::bind(addr)).run(app).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_metrics_token_is_needed_only_when_set() {
        let open = crate::Config::default();
        assert!(token_accepted(&open, None));
        let guarded = crate::Config {
            metrics_token: Some("0123456789abcdef-token".into()),
            ..crate::Config::default()
        };
        assert!(!token_accepted(&guarded, None));
        assert!(!token_accepted(&guarded, Some("0123456789abcdef-toke")));
        assert!(!token_accepted(&guarded, Some("0123456789abcdef-tokeN")));
        assert!(token_accepted(&guarded, Some("0123456789abcdef-token")));
    }
}
