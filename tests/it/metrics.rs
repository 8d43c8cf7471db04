//! Metrics an autoscaler reads: queue gauges on the API, job counters on worker pods.

use std::time::Duration;

use serde_json::json;
use vigil_testkit::TestApp;
use vigil_testkit::jobs::{submit_canary, wait_finished};

#[tokio::test(flavor = "multi_thread")]
async fn queue_gauges_and_worker_pod_counters_are_exported() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = TestApp::spawn_with(|c| {
        c.metrics_addr = Some(([127, 0, 0, 1], port).into());
    })
    .await;
    let admin = app.as_new_user("ROLE-ADMIN").await;
    // No worker yet: the job waits, and the gauges say so.
    let id = submit_canary(&admin, json!({})).await;
    let anonymous = app.anonymous();
    let api = anonymous.get(app.url("/metrics")).await.text();
    for gauge in [
        "vigil_queue_depth{queue=\"default\"}",
        "vigil_queue_running{queue=\"default\"}",
        "vigil_queue_oldest_queued_age_seconds{queue=\"default\"}",
        "vigil_queue_stream_depth{queue=\"default\"}",
        "vigil_queue_workers{queue=\"default\"}",
        "vigil_workers",
    ] {
        assert!(api.contains(gauge), "{gauge} missing:\n{api}");
    }

    // A worker pod serves its own counters on VIGIL_METRICS_ADDR.
    let worker = app.start_worker_process(env!("CARGO_BIN_EXE_vigil"));
    let done = wait_finished(&admin, &id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "succeeded", "{}", worker.log_text());
    let pod = anonymous
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .text();
    assert!(
        pod.contains("vigil_jobs_finished_total{kind=\"canary\",outcome=\"succeeded\"} 1"),
        "{pod}"
    );
    assert!(
        pod.contains("vigil_job_duration_seconds_bucket{kind=\"canary\""),
        "{pod}"
    );
    let live = anonymous
        .get(format!("http://127.0.0.1:{port}/health/live"))
        .await
        .text();
    assert_eq!(live, "ok");
}
