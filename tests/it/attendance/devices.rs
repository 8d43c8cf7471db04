//! Capture devices: keys shown once and stored hashed, rotated and revoked; a device key may
//! only heartbeat and capture; online/offline from the last contact.

use serde_json::json;
use vigil_testkit::TestApp;
use vigil_testkit::attendance::create_device;

#[tokio::test(flavor = "multi_thread")]
async fn device_keys_are_shown_once_rotate_revoke_and_only_capture() {
    let app = TestApp::spawn().await;
    let operator = app.as_new_user("ROLE-OPERATOR").await;
    let (id, key) = create_device(&operator, "Door cam", "ROOM-101").await;
    assert!(key.starts_with("vgd_"), "{key}");
    let device = operator.get_data(format!("/devices/{id}")).await;
    assert!(device.get("apiKey").is_none(), "{device}");
    assert_eq!(device["online"], false);
    assert_eq!(device["connection"], "offline");
    assert!(key.starts_with(device["keyPrefix"].as_str().unwrap()));
    // Only the hash is stored.
    {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use vigil_core::db::schema::devices;
        let mut conn = app.ctx.db.get().await.unwrap();
        let stored: Option<String> = devices::table
            .select(devices::key_hash)
            .first(&mut conn)
            .await
            .unwrap();
        let stored = stored.unwrap();
        assert!(!stored.contains(&key[4..]));
    }

    let as_device = app.as_user(&key);
    let beat = as_device
        .post("/devices/heartbeat")
        .await
        .expect(200)
        .data();
    assert_eq!(beat["deviceId"], id.as_str());
    let device = operator.get_data(format!("/devices/{id}")).await;
    assert_eq!(device["online"], true);
    assert!(device["lastSeen"].is_string());

    // A device key is for capturing and heartbeats only; a user token is not a device key.
    as_device
        .get("/devices")
        .await
        .expect_error(403, "FORBIDDEN");
    as_device.get("/faces").await.expect_error(403, "FORBIDDEN");
    as_device
        .post_json(
            "/students",
            json!({ "studentNumber": "S1", "fullName": "X" }),
        )
        .await
        .expect_error(403, "FORBIDDEN");
    operator
        .post("/devices/heartbeat")
        .await
        .expect_error(403, "FORBIDDEN");
    app.as_user("vgd_not-a-key")
        .post("/devices/heartbeat")
        .await
        .expect_error(401, "UNAUTHORIZED");

    // Rotation: the old key stops at once, the new one works.
    let rotated = operator
        .post(format!("/devices/{id}/key"))
        .await
        .expect(201)
        .data();
    let new_key = rotated["apiKey"].as_str().unwrap().to_string();
    assert_ne!(new_key, key);
    as_device
        .post("/devices/heartbeat")
        .await
        .expect_error(401, "UNAUTHORIZED");
    let as_device = app.as_user(&new_key);
    as_device.post("/devices/heartbeat").await.expect(200);

    // An inactive device is refused; active again, it works.
    operator
        .put_json(format!("/devices/{id}"), json!({ "status": "inactive" }))
        .await
        .expect(200);
    as_device
        .post("/devices/heartbeat")
        .await
        .expect_error(403, "FORBIDDEN");
    operator
        .put_json(
            format!("/devices/{id}"),
            json!({ "status": "active", "location": null }),
        )
        .await
        .expect(200);
    as_device.post("/devices/heartbeat").await.expect(200);

    // Revocation.
    let revoked = operator
        .delete(format!("/devices/{id}/key"))
        .await
        .expect(200)
        .data();
    assert!(revoked["keyPrefix"].is_null());
    as_device
        .post("/devices/heartbeat")
        .await
        .expect_error(401, "UNAUTHORIZED");

    // Lists and permissions.
    create_device(&operator, "Lab cam", "LAB-2").await;
    let listed = operator
        .get("/devices?classroomId=LAB-2")
        .await
        .expect(200)
        .items();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["name"], "Lab cam");
    let viewer = app.as_new_user("ROLE-VIEWER").await;
    viewer
        .post_json("/devices", json!({ "name": "Mine" }))
        .await
        .expect_error(403, "FORBIDDEN");
    operator.delete(format!("/devices/{id}")).await.expect(204);
    operator
        .get(format!("/devices/{id}"))
        .await
        .expect_error(404, "NOT_FOUND");
}
