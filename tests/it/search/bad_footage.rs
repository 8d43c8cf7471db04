//! Bad footage (not a video, a truncated file) fails with a reason, while the rest of the
//! search completes.

use std::time::Duration;

use serde_json::{Value, json};
use vigil_testkit::TestApp;
use vigil_testkit::jobs::is_finished;
use vigil_testkit::media::media;
use vigil_testkit::missing_persons::enroll;
use vigil_testkit::search::{start_search, submit_search, wait_search};
use vigil_testkit::videos::upload_probed;

#[tokio::test(flavor = "multi_thread")]
async fn bad_footage_fails_with_a_reason_while_the_rest_of_the_search_completes() {
    let app = TestApp::spawn_with_worker().await;
    let operator = app.as_new_user("ROLE-OPERATOR").await;
    let person = enroll(&operator, "Ada Target", media().target_photo()).await;

    let text = media().path("not-a-video.mp4");
    std::fs::write(&text, b"this is not a video, just text pretending").unwrap();
    let bad = upload_probed(&operator, &text, "Bogus").await;
    assert_eq!(bad["status"], "failed");
    assert!(
        bad["error"].as_str().unwrap().contains("not a video"),
        "{bad}"
    );

    let good = upload_probed(&operator, &media().appears_4_to_9(), "Good").await;
    let cut = upload_probed(&operator, &media().truncated(), "Cut").await;
    assert_eq!(cut["status"], "ready", "the header is intact: {cut}");

    // A failed video cannot be searched: said up front.
    let refused = start_search(
        &operator,
        json!({ "missingPersonIds": [person], "videoIds": [good["id"], bad["id"]] }),
    )
    .await
    .expect_error(422, "VALIDATION_ERROR");
    assert!(
        refused.error()["message"]
            .as_str()
            .unwrap()
            .contains("not a video")
    );

    let id = submit_search(
        &operator,
        json!({ "missingPersonIds": [person], "videoIds": [good["id"], cut["id"]],
                "settings": { "segmentSecs": 10 } }),
    )
    .await;
    let status = wait_search(&operator, &id, Duration::from_secs(300), is_finished).await;
    assert_eq!(status["status"], "succeeded", "{status}");
    let line = |vid: &Value| {
        status["videos"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["videoId"] == *vid)
            .unwrap()
            .clone()
    };
    assert_eq!(line(&good["id"])["status"], "succeeded");
    assert_eq!(line(&good["id"])["appearances"], 1);
    let cut_line = line(&cut["id"]);
    assert_eq!(cut_line["status"], "failed", "{cut_line}");
    assert!(
        cut_line["error"].as_str().unwrap().contains("truncated"),
        "{cut_line}"
    );
}
