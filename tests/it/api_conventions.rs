//! What every endpoint shares (DESIGN §4): the error envelope with request ids, body limits,
//! rate limiting, the OpenAPI document and Swagger UI, CORS.

use reqwest::Method;
use serde_json::json;
use vigil_testkit::TestApp;
use vigil_testkit::client::chunked;

#[tokio::test(flavor = "multi_thread")]
async fn malformed_and_mistyped_json_get_400_envelopes() {
    let app = TestApp::spawn().await;
    let anonymous = app.anonymous();
    let login = |content_type: &str, body: &'static str| {
        anonymous.post("/auth/login").body(content_type, body)
    };
    let resp = login("application/json", "{\"username\": ")
        .await
        .expect_error(400, "BAD_REQUEST");
    assert_eq!(
        resp.json()["requestId"],
        resp.header("x-request-id").unwrap()
    );

    let resp = login("application/json", r#"{"username": 42, "password": ["x"]}"#).await;
    assert!(matches!(resp.status(), 400 | 422), "{}", resp.status());
    assert_eq!(resp.json()["success"], false);

    login("application/json", r#"{"username": "only"}"#)
        .await
        .expect(400);

    login("text/plain", "hi")
        .await
        .expect_error(415, "UNSUPPORTED_MEDIA_TYPE");

    let admin = app.as_new_user("ROLE-ADMIN").await;
    admin
        .get("/users?pageSize=1000")
        .await
        .expect_error(422, "VALIDATION_ERROR");
    admin.get("/users/not-a-uuid").await.expect(400);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_route_is_404_envelope_with_request_id() {
    let app = TestApp::spawn().await;
    let anonymous = app.anonymous();
    let resp = anonymous
        .get("/does-not-exist")
        .header("x-request-id", "trace-123")
        .await
        .expect_error(404, "NOT_FOUND");
    assert_eq!(resp.header("x-request-id"), Some("trace-123"));
    assert_eq!(resp.json()["requestId"], "trace-123");
    // An unsafe caller-supplied id is replaced.
    let resp = anonymous
        .get(app.url("/nope"))
        .header("x-request-id", "bad id\twith spaces")
        .await;
    assert_ne!(resp.header("x-request-id").unwrap(), "bad id\twith spaces");
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_bodies_get_413_with_or_without_content_length() {
    let app = TestApp::spawn_with(|c| c.max_body_bytes = 4096).await;
    let login = |body: reqwest::Body| {
        app.anonymous()
            .post("/auth/login")
            .body("application/json", body)
    };
    let big = format!(
        "{{\"username\": \"{}\", \"password\": \"x\"}}",
        "a".repeat(10_000)
    );
    login(big.clone().into())
        .await
        .expect_error(413, "PAYLOAD_TOO_LARGE");

    // Chunked: no Content-Length, the limit is enforced while reading.
    login(chunked(big.into_bytes(), 1000)).await.expect(413);

    // A small chunked body still works.
    let small = json!({ "username": "nobody@example.test", "password": "whatever1" })
        .to_string()
        .into_bytes();
    let len = small.len();
    login(chunked(small, len)).await.expect(401);
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_answers_429_in_the_envelope() {
    let app = TestApp::spawn_with(|c| {
        c.rate_limit_per_second = 1;
        c.rate_limit_burst = 3;
    })
    .await;
    let anonymous = app.anonymous();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let resp = anonymous.get("/nothing-here").await;
        statuses.push(resp.status());
        if resp.status() == 429 {
            assert!(resp.header("retry-after").is_some());
            resp.expect_error(429, "RATE_LIMITED");
        }
    }
    assert_eq!(&statuses[..3], &[404, 404, 404], "{statuses:?}");
    assert!(statuses[3..].contains(&429), "{statuses:?}");
    // Probes are never limited.
    anonymous.get(app.url("/health/live")).await.expect(200);
}

#[tokio::test(flavor = "multi_thread")]
async fn openapi_document_swagger_ui_and_metrics() {
    let app = TestApp::spawn().await;
    let anonymous = app.anonymous();
    let spec = anonymous.get("/openapi.json").await.json();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/auth/logout",
        "/api/v1/auth/me",
        "/api/v1/users",
        "/api/v1/users/{id}",
        "/api/v1/users/{id}/password",
        "/api/v1/roles",
        "/api/v1/audit",
        "/health/live",
        "/health/ready",
        "/metrics",
        "/api/v1/files",
    ] {
        assert!(
            spec["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
    // Error responses are documented with the envelope.
    assert!(
        spec["paths"]["/api/v1/users"]["post"]["responses"]
            .get("403")
            .is_some()
    );
    assert!(spec["components"]["schemas"].get("ErrorEnvelope").is_some());

    let ui = anonymous.get(app.url("/docs")).await.expect(200);
    assert!(ui.text().to_lowercase().contains("swagger"));

    let metrics = anonymous.get(app.url("/metrics")).await.text();
    assert!(metrics.contains("vigil_http_requests_total"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread")]
async fn cors_headers_on_success_and_error_responses() {
    let app = TestApp::spawn_with(|c| c.cors_origins = "https://dashboard.example".into()).await;
    let anonymous = app.anonymous();
    let resp = anonymous
        .get("/nope")
        .header("origin", "https://dashboard.example")
        .await
        .expect(404);
    assert_eq!(
        resp.header("access-control-allow-origin"),
        Some("https://dashboard.example")
    );
    let resp = anonymous
        .request(Method::OPTIONS, "/auth/login")
        .header("origin", "https://dashboard.example")
        .header("access-control-request-method", "POST")
        .await;
    assert!((200..300).contains(&resp.status()), "{}", resp.status());
    let resp = anonymous
        .get(app.url("/health/live"))
        .header("origin", "https://evil.example")
        .await;
    assert!(resp.header("access-control-allow-origin").is_none());
}
