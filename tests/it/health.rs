use serde_json::Value;
use vigil_testkit::TestApp;

use crate::assert_error_envelope;

#[tokio::test(flavor = "multi_thread")]
async fn ready_when_every_dependency_answers() {
    let app = TestApp::spawn().await;
    let resp = app
        .client
        .get(app.url("/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = app
        .client
        .get(app.url("/health/ready"))
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["data"]["ready"], true, "{body}");
    let names: Vec<&str> = body["data"]["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["postgres", "redis", "storage", "smtp"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn not_ready_when_redis_is_unreachable() {
    // Nothing listens on port 1: the process still starts, and readiness says why it is not ready.
    let app = TestApp::spawn_with(|c| c.redis_url = "redis://127.0.0.1:1".into()).await;
    let resp = app
        .client
        .get(app.url("/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    let body: Value = resp.json().await.unwrap();
    let err = assert_error_envelope(&body, "SERVICE_UNAVAILABLE");
    assert!(err["message"].as_str().unwrap().contains("redis"), "{body}");
    let redis = err["details"]["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "redis")
        .unwrap()
        .clone();
    assert_eq!(redis["status"], "down");
    // Liveness is unaffected, and the API still serves what does not need Redis.
    assert_eq!(
        app.client
            .get(app.url("/health/live"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let (email, password) = app.create_user("ROLE-VIEWER").await;
    app.login(&email, &password).await;
}
