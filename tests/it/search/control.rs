//! Controlling a running search: pause resumes without redoing finished segments, cancel
//! stops every segment within seconds.

use std::time::Duration;

use serde_json::{Value, json};
use vigil_testkit::TestApp;
use vigil_testkit::jobs::is_finished;
use vigil_testkit::media::media;
use vigil_testkit::missing_persons::enroll;
use vigil_testkit::search::{control, submit_search, wait_search};
use vigil_testkit::videos::upload_probed;

#[tokio::test(flavor = "multi_thread")]
async fn pause_resumes_without_redoing_segments_and_cancel_stops_quickly() {
    let app = TestApp::spawn_with_worker().await;
    let operator = app.as_new_user("ROLE-OPERATOR").await;
    let person = enroll(&operator, "Ada Target", media().target_photo()).await;
    let video = upload_probed(&operator, &media().long_40s(), "Long").await;

    let body = json!({ "missingPersonIds": [person], "videoIds": [video["id"]],
                       "settings": { "segmentSecs": 5 } });
    let id = submit_search(&operator, body.clone()).await;
    // Pause once some segments are done and others are not.
    let before = wait_search(&operator, &id, Duration::from_secs(180), |s| {
        s["videos"][0]["segmentsDone"].as_i64().unwrap_or(0) >= 2
    })
    .await;
    assert_ne!(before["status"], "succeeded", "paused too late: {before}");
    let paused = control(&operator, &id, "pause").await;
    assert_eq!(paused["status"], "paused");
    let search = operator.get_data(format!("/searches/{id}")).await;
    let job_id = search["jobId"].as_str().unwrap().to_string();
    let children_path = format!("/jobs?parentId={job_id}&pageSize=100");
    // Running segments checkpoint and stop; nothing finishes while paused.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let during = operator.get_data(&children_path).await;
    let done_then: Vec<(String, Value)> = during
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "succeeded")
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["finishedAt"].clone(),
            )
        })
        .collect();
    assert!(
        during
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["status"] != "running"),
        "{during}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let still = operator
        .get_data(&children_path)
        .await
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "succeeded")
        .count();
    assert_eq!(still, done_then.len(), "no progress while paused");

    let resumed = control(&operator, &id, "resume").await;
    assert_ne!(resumed["status"], "paused");
    let status = wait_search(&operator, &id, Duration::from_secs(300), is_finished).await;
    assert_eq!(status["status"], "succeeded", "{status}");
    let after = operator.get_data(children_path).await;
    for (child, finished_at) in &done_then {
        let c = after
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == json!(child))
            .unwrap();
        assert_eq!(
            c["finishedAt"], *finished_at,
            "segment {child} was not redone"
        );
        assert_eq!(c["attempts"], 1);
    }
    let summary = operator.get_data(format!("/searches/{id}/summary")).await;
    assert_eq!(summary["appearances"], 1, "{summary}");

    // Cancel: everything stops within a few seconds and stays stopped.
    let id = submit_search(&operator, body).await;
    wait_search(&operator, &id, Duration::from_secs(120), |s| {
        s["framesProcessed"].as_i64().unwrap_or(0) > 0
    })
    .await;
    let started = tokio::time::Instant::now();
    control(&operator, &id, "cancel").await;
    let search = operator.get_data(format!("/searches/{id}")).await;
    let job_id = search["jobId"].as_str().unwrap().to_string();
    loop {
        let children = operator
            .get_data(format!("/jobs?parentId={job_id}&pageSize=100"))
            .await;
        if children
            .as_array()
            .unwrap()
            .iter()
            .all(|c| matches!(c["status"].as_str(), Some("cancelled" | "succeeded")))
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "children still running: {children}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        operator.get_data(format!("/searches/{id}")).await["status"],
        "cancelled"
    );
}
