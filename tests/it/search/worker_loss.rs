//! A search survives a SIGKILLed worker process without storing any hit twice.

use std::time::Duration;

use serde_json::json;
use vigil_testkit::TestApp;
use vigil_testkit::jobs::is_finished;
use vigil_testkit::media::media;
use vigil_testkit::missing_persons::enroll;
use vigil_testkit::search::{submit_search, wait_search};
use vigil_testkit::videos::upload_probed;

#[tokio::test(flavor = "multi_thread")]
async fn a_search_survives_a_sigkilled_worker_without_duplicate_hits() {
    let app = TestApp::spawn().await;
    let operator = app.as_new_user("ROLE-OPERATOR").await;
    let mut helper = app.start_worker_process(env!("CARGO_BIN_EXE_vigil"));
    let person = enroll(&operator, "Ada Target", media().target_photo()).await;
    let video = upload_probed(&operator, &media().long_40s(), "Long").await;
    // One segment for the whole video: the kill lands in the middle of its only job.
    let body = json!({ "missingPersonIds": [person], "videoIds": [video["id"]],
                       "settings": { "segmentSecs": 60 } });
    let id = submit_search(&operator, body).await;
    wait_search(&operator, &id, Duration::from_secs(120), |s| {
        s["detections"].as_i64().unwrap_or(0) > 0
            || s["videos"][0]["framesProcessed"].as_i64().unwrap_or(0) >= 50
    })
    .await;
    helper.kill9();
    let replacement = app.start_worker_process(env!("CARGO_BIN_EXE_vigil"));
    let status = wait_search(&operator, &id, Duration::from_secs(240), is_finished).await;
    assert_eq!(
        status["status"],
        "succeeded",
        "{status}\n{}",
        replacement.log_text()
    );
    let summary = operator.get_data(format!("/searches/{id}/summary")).await;
    assert_eq!(summary["appearances"], 1, "{summary}");
    let a = &summary["videos"][0]["appearances"][0];
    assert!(
        (a["startSecs"].as_f64().unwrap() - 20.0).abs() <= 1.0,
        "{a}"
    );
    // Detections are unique per frame: the rerun stored nothing twice.
    let dets = operator
        .get(format!("/searches/{id}/detections?pageSize=100"))
        .await
        .expect(200)
        .items();
    let mut times: Vec<i64> = dets
        .iter()
        .map(|d| (d["timeSecs"].as_f64().unwrap() * 1000.0) as i64)
        .collect();
    let n = times.len();
    times.dedup();
    assert_eq!(times.len(), n);
    assert_eq!(a["frames"].as_i64().unwrap(), n as i64);
}
