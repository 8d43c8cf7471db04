use futures::stream;
use serde_json::{Value, json};
use vigil_testkit::TestApp;

use crate::assert_error_envelope;

async fn post_raw(app: &TestApp, path: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_and_mistyped_json_get_400_envelopes() {
    let app = TestApp::spawn().await;
    let resp = post_raw(&app, "/api/v1/auth/login", "{\"username\": ").await;
    assert_eq!(resp.status(), 400);
    let request_id = resp.headers()["x-request-id"].to_str().unwrap().to_string();
    let body: Value = resp.json().await.unwrap();
    assert_error_envelope(&body, "BAD_REQUEST");
    assert_eq!(body["requestId"], request_id.as_str());

    let resp = post_raw(
        &app,
        "/api/v1/auth/login",
        r#"{"username": 42, "password": ["x"]}"#,
    )
    .await;
    assert!(
        matches!(resp.status().as_u16(), 400 | 422),
        "{}",
        resp.status()
    );
    assert_eq!(resp.json::<Value>().await.unwrap()["success"], false);

    let resp = post_raw(&app, "/api/v1/auth/login", r#"{"username": "only"}"#).await;
    assert_eq!(resp.status(), 400);

    let resp = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "text/plain")
        .body("hi")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    assert_error_envelope(&resp.json().await.unwrap(), "UNSUPPORTED_MEDIA_TYPE");

    let admin = app.token_for("ROLE-ADMIN").await;
    let resp = app
        .client
        .get(app.url("/api/v1/users?pageSize=1000"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);
    assert_error_envelope(&resp.json().await.unwrap(), "VALIDATION_ERROR");
    let resp = app
        .client
        .get(app.url("/api/v1/users/not-a-uuid"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_route_is_404_envelope_with_request_id() {
    let app = TestApp::spawn().await;
    let resp = app
        .client
        .get(app.url("/api/v1/does-not-exist"))
        .header("x-request-id", "trace-123")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.headers()["x-request-id"], "trace-123");
    let body: Value = resp.json().await.unwrap();
    assert_error_envelope(&body, "NOT_FOUND");
    assert_eq!(body["requestId"], "trace-123");
    // An unsafe caller-supplied id is replaced.
    let resp = app
        .client
        .get(app.url("/nope"))
        .header("x-request-id", "bad id\twith spaces")
        .send()
        .await
        .unwrap();
    assert_ne!(resp.headers()["x-request-id"], "bad id\twith spaces");
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_bodies_get_413_with_or_without_content_length() {
    let app = TestApp::spawn_with(|c| c.max_body_bytes = 4096).await;
    let big = format!(
        "{{\"username\": \"{}\", \"password\": \"x\"}}",
        "a".repeat(10_000)
    );
    let resp = post_raw(&app, "/api/v1/auth/login", big.clone()).await;
    assert_eq!(resp.status(), 413);
    assert_error_envelope(&resp.json().await.unwrap(), "PAYLOAD_TOO_LARGE");

    // Chunked: no Content-Length, the limit is enforced while reading.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = big
        .into_bytes()
        .chunks(1000)
        .map(|c| Ok(c.to_vec()))
        .collect();
    let resp = post_raw(
        &app,
        "/api/v1/auth/login",
        reqwest::Body::wrap_stream(stream::iter(chunks)),
    )
    .await;
    assert_eq!(resp.status(), 413);

    // A small chunked body still works.
    let small = json!({ "username": "nobody@example.test", "password": "whatever1" })
        .to_string()
        .into_bytes();
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![Ok(small)];
    let resp = post_raw(
        &app,
        "/api/v1/auth/login",
        reqwest::Body::wrap_stream(stream::iter(chunks)),
    )
    .await;
    assert_eq!(resp.status(), 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_answers_429_in_the_envelope() {
    let app = TestApp::spawn_with(|c| {
        c.rate_limit_per_second = 1;
        c.rate_limit_burst = 3;
    })
    .await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let resp = app
            .client
            .get(app.url("/api/v1/nothing-here"))
            .send()
            .await
            .unwrap();
        statuses.push(resp.status().as_u16());
        if resp.status() == 429 {
            assert!(resp.headers().get("retry-after").is_some());
            assert_error_envelope(&resp.json().await.unwrap(), "RATE_LIMITED");
        }
    }
    assert_eq!(&statuses[..3], &[404, 404, 404], "{statuses:?}");
    assert!(statuses[3..].contains(&429), "{statuses:?}");
    // Probes are never limited.
    assert_eq!(
        app.client
            .get(app.url("/health/live"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn openapi_document_swagger_ui_and_metrics() {
    let app = TestApp::spawn().await;
    let spec: Value = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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

    let ui = app.client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(ui.status(), 200);
    assert!(ui.text().await.unwrap().to_lowercase().contains("swagger"));

    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("vigil_http_requests_total"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread")]
async fn cors_headers_on_success_and_error_responses() {
    let app = TestApp::spawn_with(|c| c.cors_origins = "https://dashboard.example".into()).await;
    let resp = app
        .client
        .get(app.url("/api/v1/nope"))
        .header("origin", "https://dashboard.example")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        "https://dashboard.example"
    );
    let resp = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/v1/auth/login"))
        .header("origin", "https://dashboard.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let resp = app
        .client
        .get(app.url("/health/live"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(resp.headers().get("access-control-allow-origin").is_none());
}
