//! What a search and a live source may not be: a person without an enrolled photo, a zero
//! sample rate, local files and non-URLs as streams, viewers creating persons.

use serde_json::json;
use vigil_testkit::TestApp;
use vigil_testkit::missing_persons::create_person;
use vigil_testkit::search::start_search;

#[tokio::test(flavor = "multi_thread")]
async fn search_input_is_checked() {
    let app = TestApp::spawn().await;
    let operator = app.as_new_user("ROLE-OPERATOR").await;
    let person = create_person(&operator, "No Photo Yet").await;
    let add_live =
        |url: &str| operator.post_json("/videos/live", json!({ "title": "Cam", "url": url }));
    let live = add_live("rtsp://admin:secret@10.0.0.5/stream1")
        .await
        .expect(201)
        .data();
    assert_eq!(
        live["streamUrl"], "rtsp://***@10.0.0.5/stream1",
        "credentials are never shown"
    );

    let resp = start_search(
        &operator,
        json!({ "missingPersonIds": [person], "videoIds": [live["id"]] }),
    )
    .await
    .expect(422);
    assert!(
        resp.error()["message"]
            .as_str()
            .unwrap()
            .contains("no enrolled photo")
    );

    start_search(
        &operator,
        json!({ "missingPersonIds": [person], "videoIds": [live["id"]], "settings": { "sampleFps": 0 } }),
    )
    .await
    .expect(422);

    for url in ["file:///etc/passwd", "not a url", "concat:/etc/passwd"] {
        let resp = add_live(url).await;
        assert_eq!(resp.status(), 422, "{url}");
    }
    let viewer = app.as_new_user("ROLE-VIEWER").await;
    viewer
        .post_json("/missing-persons", json!({ "name": "X" }))
        .await
        .expect(403);
}
