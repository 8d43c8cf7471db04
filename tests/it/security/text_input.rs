//! Text input: NUL characters and bytes that are not UTF-8 get a 4xx wherever they come in
//! (path, query, JSON), never a 500 from the database; the OpenAPI document states the
//! constraints the server enforces, and breaking one is a 422 naming the field.

use serde_json::{Value, json};
use vigil_testkit::TestApp;

#[tokio::test(flavor = "multi_thread")]
async fn nul_and_invalid_utf8_are_refused_everywhere() {
    let app = TestApp::spawn().await;
    let admin = app.as_user(&app.admin().await);
    // Found by a fuzzer: PostgreSQL refuses NUL in text, which was a 500.
    let resp = admin
        .get("/missing-persons?q=%00")
        .await
        .expect_error(422, "VALIDATION_ERROR");
    assert_eq!(resp.error()["details"]["field"], "query");
    admin
        .get("/missing-persons?q=%FF%FE")
        .await
        .expect_error(400, "BAD_REQUEST");
    for path in ["/roles/ROLE%00", "/queues/search%00/pause"] {
        let caller = admin.clone();
        let resp = if path.ends_with("pause") {
            caller.post(path).await
        } else {
            caller.get(path).await
        };
        resp.expect_error(422, "VALIDATION_ERROR");
    }
    let resp = admin
        .post_json(
            "/missing-persons",
            json!({ "name": "Ada", "notes": "before\u{0}after" }),
        )
        .await
        .expect_error(422, "VALIDATION_ERROR");
    assert_eq!(resp.error()["details"]["field"], "notes");
    let resp = admin
        .post_json(
            "/searches",
            json!({ "missingPersonIds": [], "videoIds": [], "notify": ["a@b.test", "x\u{0}"] }),
        )
        .await
        .expect_error(422, "VALIDATION_ERROR");
    assert_eq!(resp.error()["details"]["field"], "notify[1]");
    // Unauthenticated input reaches the login throttle and the audit log: checked first too.
    app.anonymous()
        .post_json(
            "/auth/login",
            json!({ "username": "admin\u{0}@example.test", "password": "whatever1" }),
        )
        .await
        .expect_error(422, "VALIDATION_ERROR");
    // Invalid UTF-8 inside JSON is malformed JSON.
    admin
        .post("/missing-persons")
        .body("application/json", b"{\"name\": \"\xff\xfe\"}".to_vec())
        .await
        .expect_error(400, "BAD_REQUEST");
    // A JSON string that only looks like an escaped NUL is fine.
    admin
        .post_json("/missing-persons", json!({ "name": "back\\u0000slash" }))
        .await
        .expect(201);
    assert_eq!(
        admin.get("/missing-persons").await.expect(200).meta()["total"],
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn documented_constraints_are_enforced_as_422() {
    let app = TestApp::spawn().await;
    let admin = app.as_user(&app.admin().await);
    let doc: Value = app
        .anonymous()
        .get("/openapi.json")
        .await
        .expect(200)
        .json();
    let schema = |name: &str| doc["components"]["schemas"][name]["properties"].clone();
    let person = schema("CreateMissingPerson");
    assert_eq!(person["age"]["maximum"].as_f64(), Some(150.0));
    assert_eq!(person["heightCm"]["minimum"].as_f64(), Some(20.0));
    let update = schema("UpdateMissingPerson");
    assert_eq!(update["notes"]["maxLength"].as_u64(), Some(5000));
    let settings = schema("SettingsInput");
    assert_eq!(settings["sampleFps"]["minimum"].as_f64(), Some(0.1));
    assert_eq!(settings["segmentSecs"]["maximum"].as_f64(), Some(3600.0));
    let search = schema("CreateSearch");
    assert_eq!(search["videoIds"]["maxItems"].as_u64(), Some(200));
    assert_eq!(
        schema("CreateUser")["password"]["minLength"].as_u64(),
        Some(8)
    );

    let resp = admin
        .post_json("/missing-persons", json!({ "name": "Old", "age": 400 }))
        .await
        .expect_error(422, "VALIDATION_ERROR");
    assert_eq!(resp.error()["details"]["field"], "age");
    let ids: Vec<String> = (0..201).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    let resp = admin
        .post_json(
            "/searches",
            json!({ "missingPersonIds": [ids[0]], "videoIds": ids }),
        )
        .await
        .expect_error(422, "VALIDATION_ERROR");
    assert_eq!(resp.error()["details"]["field"], "videoIds");
}
