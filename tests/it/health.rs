//! Health probes: liveness always, readiness only when every dependency answers, saying which
//! one does not.

use vigil_testkit::TestApp;

#[tokio::test(flavor = "multi_thread")]
async fn ready_when_every_dependency_answers() {
    let app = TestApp::spawn().await;
    let anonymous = app.anonymous();
    anonymous.get(app.url("/health/live")).await.expect(200);
    let ready = anonymous.get(app.url("/health/ready")).await.data();
    assert_eq!(ready["ready"], true, "{ready}");
    let names: Vec<&str> = ready["components"]
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
    let anonymous = app.anonymous();
    let resp = anonymous
        .get(app.url("/health/ready"))
        .await
        .expect_error(503, "SERVICE_UNAVAILABLE");
    let err = resp.error();
    assert!(
        err["message"].as_str().unwrap().contains("redis"),
        "{}",
        resp.text()
    );
    let redis = err["details"]["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "redis")
        .unwrap()
        .clone();
    assert_eq!(redis["status"], "down");
    // Liveness is unaffected, and the API still serves what does not need Redis.
    anonymous.get(app.url("/health/live")).await.expect(200);
    let (email, password) = app.create_user("ROLE-VIEWER").await;
    app.login(&email, &password).await;
}
