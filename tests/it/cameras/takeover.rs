//! A worker process killed with SIGKILL while it watches a camera: another process takes the
//! watch over within 60 s, the gap shows as missing or partial windows, and no window is
//! written twice.

use std::time::Duration;

use chrono::{DateTime, Utc};
use vigil_testkit::TestApp;
use vigil_testkit::cameras::{create_stream_camera, is_whole, test_pattern, wait_counts};

const VIGIL: &str = env!("CARGO_BIN_EXE_vigil");

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_watchers_camera_is_taken_over_within_a_minute() {
    let app = TestApp::spawn_with(|c| {
        c.camera_count_window_secs = 10;
        c.camera_offline_secs = 30;
    })
    .await;
    let operator = app.as_new_user("ROLE-OPERATOR").await;
    // RTSP: the server outlives a client that vanishes and serves the next one.
    let server = vigil_video::synth::serve_rtsp(test_pattern(), 0).unwrap();
    let mut first = app.start_worker_process(VIGIL);
    let camera = create_stream_camera(&operator, "Dock", server.url(), true).await;
    let id = camera["id"].as_str().unwrap();
    let whole = |c: &[serde_json::Value]| c.iter().any(is_whole);
    wait_counts(&operator, id, Duration::from_secs(120), whole).await;

    first.kill9();
    let killed: DateTime<Utc> = Utc::now();
    let _second = app.start_worker_process(VIGIL);
    let resumed = wait_counts(&operator, id, Duration::from_secs(90), |c| {
        c.iter().any(|w| start(w) > killed)
    })
    .await;
    let first_after = resumed
        .iter()
        .filter(|w| start(w) > killed)
        .min_by_key(|w| start(w))
        .unwrap();
    assert!(
        start(first_after) - killed < chrono::Duration::seconds(60),
        "resumed at {first_after}, killed at {killed}"
    );
    // The window the kill interrupted has no row or a partial one; none is whole by accident.
    let cut = resumed
        .iter()
        .find(|w| start(w) <= killed && killed < end(w));
    assert!(cut.is_none_or(|w| w["partial"] == true), "{cut:?}");
    assert_eq!(
        first_after["partial"], true,
        "the new watch starts mid-window"
    );
    let mut starts: Vec<DateTime<Utc>> = resumed.iter().map(start).collect();
    starts.sort();
    starts.dedup();
    assert_eq!(starts.len(), resumed.len(), "no window twice");
}

fn start(w: &serde_json::Value) -> DateTime<Utc> {
    w["windowStart"].as_str().unwrap().parse().unwrap()
}

fn end(w: &serde_json::Value) -> DateTime<Utc> {
    w["windowEnd"].as_str().unwrap().parse().unwrap()
}
