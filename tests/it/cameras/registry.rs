//! The camera registry through the API: generated ids, credentials never shown and sealed at
//! rest, filters and pages, stale versions refused, validation with fields, import all or
//! nothing with per-row errors, export that imports back.

use serde_json::{Value, json};
use vigil_testkit::TestApp;
use vigil_testkit::cameras::{camera_body, create_camera, lan_camera};

#[tokio::test(flavor = "multi_thread")]
async fn cameras_are_created_read_updated_and_deleted() {
    let app = TestApp::spawn().await;
    let operator = app.as_new_user("ROLE-OPERATOR").await;
    let mut body = lan_camera("Main Entrance", 12);
    body["username"] = json!("admin");
    body["password"] = json!("s3cret-pass");
    body["tags"] = json!(["primary", "entry"]);
    let first = create_camera(&operator, body).await;
    assert_eq!(first["id"], "CAM-01");
    assert_eq!(first["password"], "***");
    assert_eq!(first["username"], "admin");
    assert_eq!(first["status"], "offline");
    assert_eq!(first["ipAddress"], "192.168.1.12");
    assert_eq!(first["enabled"], true);
    assert_eq!(first["version"], 1);
    let second = create_camera(&operator, lan_camera("Loading Dock", 13)).await;
    assert_eq!(second["id"], "CAM-02");
    let mut disabled = lan_camera("Roof", 14);
    disabled["id"] = json!("roof-1");
    disabled["enabled"] = json!(false);
    create_camera(&operator, disabled).await;

    // Credentials in the URL are hidden too; nothing shown carries the password.
    let mut tokened = camera_body(
        "Yard",
        "HTTP",
        "http://u:urlpass@192.168.1.15/live.ts?token=abc",
    );
    tokened["id"] = json!("yard");
    let yard = create_camera(&operator, tokened).await;
    let shown = yard["streamUrl"].as_str().unwrap();
    assert!(
        !shown.contains("urlpass") && !shown.contains("abc"),
        "{shown}"
    );

    let viewer = app.as_new_user("ROLE-VIEWER").await;
    let got = viewer.get_data("/cameras/CAM-01").await;
    assert_eq!(got["name"], "Main Entrance");
    assert_eq!(got["tags"], json!(["primary", "entry"]));
    assert!(!got.to_string().contains("s3cret-pass"));
    viewer
        .post_json("/cameras", lan_camera("Nope", 30))
        .await
        .expect_error(403, "FORBIDDEN");

    // Filters and pages.
    let page = operator
        .get("/cameras")
        .query(&[("pageSize", "2")])
        .await
        .expect(200);
    assert_eq!(page.items().len(), 2);
    assert_eq!(page.meta()["total"], 4);
    assert_eq!(page.meta()["totalPages"], 2);
    let ids = |resp: vigil_testkit::Response| -> Vec<String> {
        resp.items()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect()
    };
    let off = operator
        .get("/cameras")
        .query(&[("enabled", "false")])
        .await
        .expect(200);
    assert_eq!(ids(off), ["roof-1"]);
    let http = operator
        .get("/cameras")
        .query(&[("streamType", "HTTP")])
        .await
        .expect(200);
    assert_eq!(ids(http), ["yard"]);
    let dock = operator
        .get("/cameras")
        .query(&[("search", "dock")])
        .await
        .expect(200);
    assert_eq!(ids(dock), ["CAM-02"]);
    operator
        .get("/cameras")
        .query(&[("status", "broken")])
        .await
        .expect_error(422, "VALIDATION_ERROR");

    // Update with the version read; the password survives a PUT of what was read.
    let mut edit = got.clone();
    edit["name"] = json!("Main Entrance (north)");
    let updated = operator
        .put_json("/cameras/CAM-01", edit.clone())
        .await
        .expect(200)
        .data();
    assert_eq!(updated["name"], "Main Entrance (north)");
    assert_eq!(updated["version"], 2);
    assert_eq!(updated["password"], "***");
    assert_eq!(updated["streamUrl"], got["streamUrl"]);
    // The same edit again carries version 1: someone changed the camera meanwhile.
    let stale = operator
        .put_json("/cameras/CAM-01", edit)
        .await
        .expect_error(409, "CONFLICT");
    assert!(
        stale.error()["message"]
            .as_str()
            .unwrap()
            .contains("version")
    );
    assert_eq!(operator.get_data("/cameras/CAM-01").await["version"], 2);

    // State changes.
    let paused = operator
        .patch_json("/cameras/CAM-02/state", json!({ "enabled": false }))
        .await
        .expect(200)
        .data();
    assert_eq!(paused["enabled"], false);
    let maint = operator
        .patch_json("/cameras/CAM-02/state", json!({ "maintenance": true }))
        .await
        .expect(200)
        .data();
    assert_eq!(maint["status"], "maintenance");

    operator.delete("/cameras/CAM-02").await.expect(204);
    operator
        .get("/cameras/CAM-02")
        .await
        .expect_error(404, "NOT_FOUND");
    // Generated ids follow the highest one in use.
    assert_eq!(
        create_camera(&operator, lan_camera("New", 16)).await["id"],
        "CAM-02"
    );

    // Sealed at rest: a database dump gives neither password away.
    let dump = stored_secrets(&app).await;
    assert!(
        !dump.contains("s3cret-pass") && !dump.contains("urlpass"),
        "{dump}"
    );
    assert!(!dump.contains("admin"), "usernames are sealed too: {dump}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_cameras_are_refused_with_their_field() {
    let app = TestApp::spawn().await;
    let admin = app.as_user(&app.admin().await);
    let refused = |body: Value, field: &'static str| {
        let admin = admin.clone();
        async move {
            let resp = admin
                .post_json("/cameras", body.clone())
                .await
                .expect_error(422, "VALIDATION_ERROR");
            assert_eq!(
                resp.error()["details"]["field"],
                field,
                "{body}: {}",
                resp.json()
            );
            resp.error()["message"].as_str().unwrap().to_string()
        }
    };
    refused(lan_camera("", 20), "name").await;
    refused(camera_body("x", "RTSP", "not a url"), "streamUrl").await;
    // Disallowed addresses: metadata, loopback v6, a listener URL, a local file.
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:8080/",
        "tcp://0.0.0.0:9999?listen=1",
        "file:///etc/passwd",
    ] {
        let t = if url.starts_with("http") {
            "HTTP"
        } else {
            "RTSP"
        };
        let message = refused(camera_body("x", t, url), "streamUrl").await;
        assert!(!message.contains("169.254"), "{message}");
    }
    let message = refused(
        camera_body("x", "RTSP", "http://192.168.1.20/a.ts"),
        "streamUrl",
    )
    .await;
    assert!(message.contains("RTSP"), "{message}");
    refused(
        camera_body("x", "ONVIF", "rtsp://192.168.1.20/a"),
        "streamType",
    )
    .await;
    let mut bad_id = lan_camera("x", 20);
    bad_id["id"] = json!("../etc");
    refused(bad_id, "id").await;
    let mut bad_roi = lan_camera("x", 20);
    bad_roi["roi"] = json!([{ "x": 0.1, "y": 0.1 }, { "x": 0.9, "y": 0.1 }]);
    refused(bad_roi, "roi").await;
    let mut bad_fps = lan_camera("x", 20);
    bad_fps["sampleFps"] = json!(50);
    refused(bad_fps, "sampleFps").await;
    // Malformed JSON is the parser's 400.
    admin
        .post("/cameras")
        .body("application/json", "{\"name\": ")
        .await
        .expect_error(400, "BAD_REQUEST");

    let mut fixed = lan_camera("Gate", 21);
    fixed["id"] = json!("GATE-1");
    create_camera(&admin, fixed.clone()).await;
    admin
        .post_json("/cameras", fixed)
        .await
        .expect_error(409, "CONFLICT");
    let all = admin.get("/cameras").await.expect(200);
    assert_eq!(
        all.meta()["total"],
        1,
        "nothing half-written: {}",
        all.json()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn import_is_all_or_nothing_and_export_round_trips() {
    let app = TestApp::spawn().await;
    let admin = app.as_user(&app.admin().await);
    let mut tagged = lan_camera("Lobby", 40);
    tagged["id"] = json!("LOBBY");
    tagged["tags"] = json!(["entry"]);
    tagged["sampleFps"] = json!(2.0);
    tagged["roi"] = json!([{ "x": 0, "y": 0 }, { "x": 1, "y": 0 }, { "x": 1, "y": 0.5 }]);
    tagged["username"] = json!("viewer");
    let rows = json!([
        tagged,
        lan_camera("Hall", 41),
        camera_body("Metadata", "HTTP", "http://169.254.169.254/"),
        { "name": "No URL", "streamType": "RTSP" },
        { "id": "LOBBY", "name": "Twin", "streamType": "RTSP", "streamUrl": "rtsp://192.168.1.42/" },
    ]);
    let resp = admin
        .post_json("/cameras/import", rows.clone())
        .await
        .expect_error(422, "VALIDATION_ERROR");
    let failed = resp.error()["details"]["rows"].as_array().unwrap().clone();
    let indexes: Vec<u64> = failed
        .iter()
        .map(|r| r["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indexes, [2, 3, 4], "{}", resp.json());
    assert_eq!(failed[0]["errors"][0]["field"], "streamUrl");
    assert_eq!(failed[2]["errors"][0]["field"], "id");
    let none = admin.get("/cameras").await.expect(200);
    assert_eq!(none.meta()["total"], 0, "a bad row imports nothing");

    let good = json!([rows[0], rows[1]]);
    let imported = admin
        .post_json("/cameras/import", good)
        .await
        .expect(201)
        .data();
    assert_eq!(imported["imported"], 2);
    assert_eq!(imported["cameras"][1]["id"], "CAM-01");
    // Importing the same ids again is refused row by row.
    admin
        .post_json("/cameras/import", json!([rows[0]]))
        .await
        .expect_error(422, "VALIDATION_ERROR");

    let exported = admin.get_data("/cameras/export").await;
    assert_eq!(exported.as_array().unwrap().len(), 2);
    assert!(exported[0].get("password").is_none());
    for c in exported.as_array().unwrap() {
        admin
            .delete(format!("/cameras/{}", c["id"].as_str().unwrap()))
            .await
            .expect(204);
    }
    admin
        .post_json("/cameras/import", exported.clone())
        .await
        .expect(201);
    assert_eq!(admin.get_data("/cameras/export").await, exported);
}

async fn stored_secrets(app: &TestApp) -> String {
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        secrets: String,
    }
    let mut conn = app.ctx.db.get().await.unwrap();
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT concat_ws(' ', stream_url, username, password) AS secrets FROM cameras",
    )
    .load(&mut conn)
    .await
    .unwrap();
    rows.into_iter()
        .map(|r| r.secrets)
        .collect::<Vec<_>>()
        .join("\n")
}
