//! An external detection provider (a double that keeps the contract's rules): configured with
//! its key (shown as `***`), tested, sent a camera's frame; its faces become detections, the
//! person it names an authorized sighting with an attendance event. A wrong key, a broken
//! answer and a disallowed endpoint give reasons, not detections.

use std::time::Duration;

use serde_json::json;
use vigil_testkit::TestApp;
use vigil_testkit::attendance::enroll_employee;
use vigil_testkit::cameras::{create_stream_camera, test_pattern};
use vigil_testkit::jobs::{wait_finished, wait_succeeded};
use vigil_testkit::media::media;
use vigil_testkit::provider::ProviderDouble;

#[tokio::test(flavor = "multi_thread")]
async fn an_external_provider_answers_frames_sent_on_demand() {
    let app = TestApp::spawn_with_worker().await;
    let admin = app.as_user(&app.admin().await);
    let operator = app.as_new_user("ROLE-OPERATOR").await;
    enroll_employee(&operator, "Ada Lovelace", "EMP-9", media().target_photo()).await;
    let server = vigil_video::synth::serve_rtsp(test_pattern(), 0).unwrap();
    let camera = create_stream_camera(&operator, "Door", server.url(), false).await;
    let camera = camera["id"].as_str().unwrap().to_string();
    let provider = ProviderDouble::start("k-123").await;
    provider.answer(json!([
        { "box": { "x": 100, "y": 80, "width": 120, "height": 150 }, "personId": "EMP-9", "confidence": 0.97 },
        { "box": { "x": 400, "y": 90, "width": 90, "height": 110 }, "personId": null, "confidence": 0.4 }
    ]));

    // Where frames go is the admin's: an internal address or another scheme is refused.
    for endpoint in [
        "http://169.254.169.254/latest/meta-data",
        "ftp://10.0.0.9/detect",
    ] {
        admin
            .put_json(
                "/detections/provider/config",
                json!({ "endpoint": endpoint }),
            )
            .await
            .expect_error(422, "VALIDATION_ERROR");
    }
    let config = admin
        .put_json(
            "/detections/provider/config",
            json!({ "providerName": "Door AI", "endpoint": provider.url, "apiKey": "k-123" }),
        )
        .await
        .expect(200)
        .data();
    assert_eq!(config["endpoint"], provider.url.as_str());
    assert_eq!(config["apiKey"], "***");
    assert_eq!(config["status"], "offline", "not measured yet: {config}");
    assert_eq!(
        operator.get_data("/detections/provider/config").await["apiKey"],
        "***"
    );

    let tested = admin
        .post("/detections/test-provider")
        .await
        .expect(200)
        .data();
    assert_eq!(tested["status"], "connected", "{tested}");
    assert!(
        tested["message"].as_str().unwrap().contains("external"),
        "{tested}"
    );
    assert_eq!(provider.frames(), [(None, 1280, 720)]);

    let send = || operator.post_json("/detections/send-frame", json!({ "cameraId": camera }));
    let queued = send().await.expect(202).data();
    let job = wait_succeeded(
        &operator,
        queued["jobId"].as_str().unwrap(),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(job["result"]["faces"], 2, "{job}");
    let sent = provider.frames();
    assert_eq!(sent[1].0.as_deref(), Some(camera.as_str()), "{sent:?}");
    let live = operator
        .get("/detections/live")
        .query(&[("cameraId", camera.as_str())])
        .await
        .expect(200)
        .data();
    let live = live.as_array().unwrap();
    assert_eq!(live.len(), 2, "{live:?}");
    let ada = live.iter().find(|d| d["personId"] == "EMP-9").expect("Ada");
    assert_eq!(ada["status"], "authorized", "{ada}");
    assert!(
        (ada["confidence"].as_f64().unwrap() - 97.0).abs() < 1e-3,
        "percent: {ada}"
    );
    assert_eq!(ada["boundingBox"]["width"], 120.0);
    assert!(ada["thumbnail"].is_string(), "{ada}");
    let other = live.iter().find(|d| d["personId"].is_null()).unwrap();
    assert_eq!(other["status"], "unknown", "{other}");
    let events = admin.get("/attendance/events").await.expect(200).items();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["detectionId"], ada["id"]);
    assert_eq!(events[0]["status"], "approved");

    // A broken answer fails the frame with a reason, and is logged.
    provider.answer(json!("not a list"));
    let queued = send().await.expect(202).data();
    let job = wait_finished(
        &operator,
        queued["jobId"].as_str().unwrap(),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(job["status"], "failed", "{job}");
    assert!(
        job["error"]
            .as_str()
            .unwrap()
            .contains("not the expected JSON"),
        "{job}"
    );
    let calls = operator
        .get("/detections/events")
        .query(&[("cameraId", camera.as_str())])
        .await
        .expect(200)
        .items();
    assert_eq!(calls[0]["status"], "error", "{calls:?}");

    // A token in the URL is shown as `***`, and the URL as shown, sent back, keeps it.
    provider.answer(json!([]));
    let tokened = format!("{}?token=s3cret", provider.url);
    let shown = admin
        .put_json(
            "/detections/provider/config",
            json!({ "endpoint": tokened }),
        )
        .await
        .expect(200)
        .data();
    assert_eq!(
        shown["endpoint"],
        format!("{}?token=***", provider.url),
        "{shown}"
    );
    let kept = admin
        .put_json(
            "/detections/provider/config",
            json!({ "endpoint": shown["endpoint"], "providerName": "Door AI 2" }),
        )
        .await
        .expect(200)
        .data();
    assert_eq!(kept["endpoint"], shown["endpoint"]);
    let tested = admin
        .post("/detections/test-provider")
        .await
        .expect(200)
        .data();
    assert_eq!(tested["status"], "connected", "the token kept: {tested}");

    // A wrong key: the test says so, and the provider is offline.
    let wrong = admin
        .put_json("/detections/provider/config", json!({ "apiKey": "wrong" }))
        .await
        .expect(200)
        .data();
    assert_eq!(wrong["apiKey"], "***");
    let tested = admin
        .post("/detections/test-provider")
        .await
        .expect(200)
        .data();
    assert_eq!(tested["status"], "offline", "{tested}");
    assert!(
        tested["message"].as_str().unwrap().contains("401"),
        "{tested}"
    );

    // Back to the built-in models: the key goes with the external provider.
    let builtin = admin
        .put_json(
            "/detections/provider/config",
            json!({ "endpoint": "builtin" }),
        )
        .await
        .expect(200)
        .data();
    assert!(builtin["apiKey"].is_null(), "{builtin}");
    admin
        .put_json("/detections/provider/config", json!({ "apiKey": "k" }))
        .await
        .expect_error(422, "VALIDATION_ERROR");
}
