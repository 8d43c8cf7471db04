//! Recognition on a camera stream: a loopback camera shows nobody for 20 s, then face-api's
//! sample 1 (the enrolled target among strangers) for 15 s, then nobody. The watcher's face
//! analyser reports the target as `authorized` with a track id, her attendance log starts
//! within 2 s of her appearance, her presence is on-site and then off-site after the
//! configured absence; the strangers are visitors with one unknown-face alert. The same
//! camera's frame sent on demand, the provider's test, config and call log, and the person's
//! history are checked on the same app.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use vigil_testkit::TestApp;
use vigil_testkit::attendance::enroll_employee;
use vigil_testkit::cameras::{camera_body, create_camera, wait_watching};
use vigil_testkit::jobs::wait_succeeded;
use vigil_testkit::media::{TARGET_SAMPLE, media};

/// Nobody on screen before the target appears, and how long she stays.
const LEAD_SECS: f64 = 20.0;
const SHOWN_SECS: f64 = 15.0;
const ABSENCE_SECS: u64 = 10;

fn appearance_clip() -> std::path::PathBuf {
    let m = media();
    let out = m.path("camera-target-appears.mp4");
    let (w, h) = image::image_dimensions(m.sample(TARGET_SAMPLE)).unwrap();
    vigil_video::synth::ClipBuilder::new(w & !1, h & !1, 25.0)
        .colour("0x303030", LEAD_SECS)
        .still(m.sample(TARGET_SAMPLE), SHOWN_SECS)
        .colour("0x303030", 120.0)
        .noise(6)
        .write_h264(&out)
        .unwrap();
    out
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_camera_recognises_an_enrolled_person_and_her_attendance_follows() {
    let mut app = TestApp::spawn_with(|c| {
        c.attendance_absence_secs = ABSENCE_SECS;
        c.camera_offline_secs = 30;
    })
    .await;
    app.start_worker();
    let admin = app.as_user(&app.admin().await);
    let operator = app.as_new_user("ROLE-OPERATOR").await;
    let viewer = app.as_new_user("ROLE-VIEWER").await;
    let target = enroll_employee(
        &admin,
        "Sophia Martinez",
        "EMP-00412",
        media().target_photo(),
    )
    .await;

    let server = vigil_video::synth::serve_live(appearance_clip(), 0).unwrap();
    let mut body = camera_body("Main entrance", "HTTP", server.url());
    body["faceRecognition"] = json!(true);
    body["faceSampleFps"] = json!(2);
    let camera = create_camera(&operator, body).await;
    assert_eq!(camera["faceRecognition"], true);
    let id = camera["id"].as_str().unwrap().to_string();

    // The loopback server starts its clip when the watcher connects: that moment is the
    // clip's zero.
    wait_watching(&admin, &id).await;
    let zero = Utc::now();
    let appeared = zero + chrono::Duration::milliseconds((LEAD_SECS * 1000.0) as i64);

    let live = operator
        .wait_for(
            format!("/detections/live?cameraId={id}"),
            Duration::from_secs(120),
            Duration::from_millis(500),
            |d| {
                d.as_array()
                    .unwrap()
                    .iter()
                    .any(|d| d["status"] == "authorized")
            },
        )
        .await;
    let her = live
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["status"] == "authorized")
        .unwrap()
        .clone();
    assert_eq!(her["personId"], "EMP-00412", "{her}");
    assert_eq!(her["name"], "Sophia Martinez");
    assert_eq!(her["cameraId"], id.as_str());
    assert!(
        her["trackId"].as_str().unwrap().starts_with("TRACK-"),
        "{her}"
    );
    assert!(her["confidence"].as_f64().unwrap() > 50.0, "{her}");
    assert!(
        her["boundingBox"]["width"].as_f64().unwrap() > 100.0,
        "{her}"
    );
    let thumb = app
        .client
        .get(her["thumbnail"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(thumb.status(), 200);
    let bytes = thumb.bytes().await.unwrap();
    assert_eq!(&bytes[..3], &[0xFF, 0xD8, 0xFF], "a JPEG");

    // Her log opens within 2 s of her appearance.
    let logs = operator
        .wait_for(
            "/attendance/logs",
            Duration::from_secs(30),
            Duration::from_millis(500),
            |l| !l.as_array().unwrap().is_empty(),
        )
        .await;
    let log = &logs.as_array().unwrap()[0];
    assert_eq!(log["employeeId"], "EMP-00412", "{log}");
    let lag = (time(&log["timeInAt"]) - appeared).num_milliseconds().abs();
    assert!(
        lag <= 2000,
        "timeIn {} vs appearance {appeared}",
        log["timeInAt"]
    );
    let records = operator
        .get("/attendance/records")
        .await
        .expect(200)
        .items();
    assert_eq!(records[0]["status"], "on-site", "{records:?}");

    // The strangers beside her are visitors (large, clear faces nobody enrolled), raising one
    // unknown-face alert for the camera however many they are.
    let visitors = operator
        .get("/detections")
        .query(&[("cameraId", id.as_str()), ("status", "visitor")])
        .await
        .expect(200)
        .items();
    assert!(!visitors.is_empty());
    assert!(visitors.iter().all(|v| v["personId"].is_null()));

    // She leaves at 35 s: the track closes, her time out follows, and after the configured
    // absence she is off-site.
    let left = appeared + chrono::Duration::milliseconds((SHOWN_SECS * 1000.0) as i64);
    let records = operator
        .wait_for(
            "/attendance/records",
            Duration::from_secs(90),
            Duration::from_secs(1),
            |r| r[0]["status"] == "off-site",
        )
        .await;
    assert!(Utc::now() >= left, "{records}");
    let log = &operator.get("/attendance/logs").await.expect(200).items()[0];
    let out_lag = (time(&log["timeOutAt"]) - left).num_milliseconds().abs();
    assert!(
        out_lag <= 3000,
        "timeOut {} vs leaving {left}",
        log["timeOutAt"]
    );
    let track = operator.get_data("/history/person/EMP-00412").await;
    let track = &track.as_array().unwrap()[0];
    assert_eq!(track["trackId"], her["trackId"]);
    assert!(track["frames"].as_i64().unwrap() >= 3, "{track}");

    // Her sighting shows the camera's thumbnail; a reviewer who rejects it makes the track's
    // face a negative example of her, as a rejected capture's face is.
    let reviewer = app.as_new_user("ROLE-REVIEWER").await;
    let event = reviewer
        .get("/attendance/events")
        .await
        .expect(200)
        .items()
        .into_iter()
        .find(|e| e["detectionId"] == her["id"])
        .expect("her sighting");
    assert_eq!(event["source"], "camera", "{event}");
    assert!(event["imageUrl"].is_string(), "{event}");
    reviewer
        .post_json(
            format!("/attendance/{}/review", event["id"].as_str().unwrap()),
            json!({ "action": "reject" }),
        )
        .await
        .expect(200);
    let negatives: i64 = {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use vigil_core::db::schema::face_negatives;
        let mut conn = app.ctx.db.get().await.unwrap();
        let detection: uuid::Uuid = her["id"].as_str().unwrap().parse().unwrap();
        face_negatives::table
            .filter(face_negatives::detection_id.eq(detection))
            .count()
            .get_result(&mut conn)
            .await
            .unwrap()
    };
    assert_eq!(negatives, 1);

    // A frame sent on demand: the job stores what it saw and logs the call.
    let queued = operator
        .post_json("/detections/send-frame", json!({ "cameraId": id }))
        .await
        .expect(202)
        .data();
    assert_eq!(queued["status"], "queued");
    let job = wait_succeeded(
        &operator,
        queued["jobId"].as_str().unwrap(),
        Duration::from_secs(60),
    )
    .await;
    assert!(job["result"]["latencyMs"].as_u64().is_some(), "{job}");
    let calls = operator
        .get("/detections/events")
        .query(&[("cameraId", id.as_str())])
        .await
        .expect(200)
        .items();
    assert_eq!(calls[0]["status"], "received", "{calls:?}");
    assert_eq!(calls[0]["cameraName"], "Main entrance");

    // The provider: tested, configured; only the built-in one exists.
    let started = Instant::now();
    let tested = admin
        .post("/detections/test-provider")
        .await
        .expect(200)
        .data();
    assert_eq!(tested["status"], "connected", "{tested}");
    assert!(tested["latencyMs"].as_u64().unwrap() > 0);
    assert!(started.elapsed() < Duration::from_secs(20));
    let config = operator.get_data("/detections/provider/config").await;
    assert_eq!(config["status"], "connected");
    assert!(config["lastHeartbeat"].is_string());
    assert!(config["averageLatencyMs"].as_i64().unwrap() > 0);
    admin
        .put_json(
            "/detections/provider/config",
            json!({ "endpoint": "ftp://detector.example/detect" }),
        )
        .await
        .expect_error(422, "VALIDATION_ERROR");
    operator
        .put_json("/detections/provider/config", json!({ "enabled": false }))
        .await
        .expect(403);
    let off = admin
        .put_json(
            "/detections/provider/config",
            json!({ "enabled": false, "version": config["version"] }),
        )
        .await
        .expect(200)
        .data();
    assert_eq!(off["enabled"], false);
    admin
        .put_json(
            "/detections/provider/config",
            json!({ "enabled": true, "version": config["version"] }),
        )
        .await
        .expect(409);
    operator
        .post_json("/detections/send-frame", json!({ "cameraId": id }))
        .await
        .expect(409);

    // Bad input and access.
    operator
        .post_json("/detections/send-frame", json!({ "cameraId": "CAM-404" }))
        .await
        .expect_error(422, "VALIDATION_ERROR");
    viewer
        .post_json("/detections/send-frame", json!({ "cameraId": id }))
        .await
        .expect(403);
    viewer.get("/detections/live").await.expect(200);
    operator
        .get("/detections/live?limit=1000")
        .await
        .expect_error(422, "VALIDATION_ERROR");
    operator.get("/history/person/EMP-404").await.expect(404);

    // Erasing her erases what the cameras kept of her.
    admin.delete(format!("/faces/{target}")).await.expect(204);
    operator.get("/history/person/EMP-00412").await.expect(404);
    let hers = operator
        .get("/detections")
        .query(&[("cameraId", id.as_str()), ("status", "authorized")])
        .await
        .expect(200)
        .items();
    assert!(hers.is_empty(), "{hers:?}");
}
