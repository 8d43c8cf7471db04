//! A search of a live stream reports hits while the stream runs, and stop ends it.

use std::time::Duration;

use serde_json::json;
use vigil_testkit::TestApp;
use vigil_testkit::jobs::is_finished;
use vigil_testkit::media::media;
use vigil_testkit::missing_persons::enroll;
use vigil_testkit::search::{control, submit_search, wait_search};

#[tokio::test(flavor = "multi_thread")]
async fn a_live_stream_reports_hits_while_it_runs_and_stop_ends_it() {
    let app = TestApp::spawn_with_worker().await;
    let operator = app.as_new_user("ROLE-OPERATOR").await;
    let person = enroll(&operator, "Ada Target", media().target_photo()).await;
    let server = vigil_video::synth::serve_live(media().appears_4_to_9(), 0).unwrap();
    let live = operator
        .post_json(
            "/videos/live",
            json!({ "title": "Gate camera", "url": server.url() }),
        )
        .await
        .expect(201)
        .data();
    assert_eq!(live["kind"], "live");
    let body = json!({ "missingPersonIds": [person], "videoIds": [live["id"]] });
    let id = submit_search(&operator, body).await;
    let running = wait_search(&operator, &id, Duration::from_secs(120), |s| {
        s["appearances"].as_i64().unwrap_or(0) > 0
    })
    .await;
    assert_eq!(
        running["status"], "running",
        "hits arrive while the stream runs"
    );
    let summary = operator.get_data(format!("/searches/{id}/summary")).await;
    assert!(
        summary["videos"][0]["appearances"][0]["startedAt"].is_string(),
        "{summary}"
    );

    control(&operator, &id, "stop").await;
    let status = wait_search(&operator, &id, Duration::from_secs(60), is_finished).await;
    assert_eq!(status["status"], "succeeded", "{status}");
    drop(server);
}
