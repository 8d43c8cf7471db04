//! Retention: the cleanup job erases capture photos older than `VIGIL_CAPTURE_RETENTION_DAYS`
//! (the capture's decision stays) and deletes camera detections older than
//! `VIGIL_DETECTION_RETENTION_DAYS` with their thumbnails; newer ones are kept.

use std::time::Duration;

use diesel_async::RunQueryDsl;
use vigil_testkit::TestApp;
use vigil_testkit::attendance::{Capture, capture, create_device};
use vigil_testkit::cameras::lan_camera;
use vigil_testkit::jobs::wait_succeeded;
use vigil_testkit::media::blank_png;

#[tokio::test(flavor = "multi_thread")]
async fn old_capture_photos_and_detections_are_let_go() {
    let app = TestApp::spawn_with(|c| {
        c.capture_retention_days = 30;
        c.detection_retention_days = 30;
    })
    .await;
    let admin = app.as_new_user("ROLE-ADMIN").await;
    let (device_id, key) = create_device(&admin, "Door", "ROOM-1").await;
    let device = app.as_user(&key);
    let mut photos = Vec::new();
    for (id, at) in [
        ("old", "2026-01-05T08:00:00Z"),
        ("new", &chrono::Utc::now().to_rfc3339()[..]),
    ] {
        let c = Capture {
            device_id: &device_id,
            capture_id: id,
            image: blank_png(64, 64, 80),
            timestamp: Some(at),
            classroom_id: None,
        };
        let sent = capture(&device, c, None).await.expect(202).data();
        photos.push(sent["id"].as_str().unwrap().to_string());
    }
    let camera = admin
        .post_json("/cameras", lan_camera("Gate", 30))
        .await
        .expect(201)
        .data();
    let camera = camera["id"].as_str().unwrap();
    let keys: Vec<(String, String)> = {
        let mut conn = app.ctx.db.get().await.unwrap();
        let mut keys = Vec::new();
        for (track, age) in [("old", "40 days"), ("new", "1 day")] {
            let key = format!("detections/{camera}/2026-01-01/{track}.jpg");
            app.ctx
                .storage
                .put_bytes(&key, b"jpeg".to_vec(), "image/jpeg")
                .await
                .unwrap();
            diesel::sql_query(format!(
                "INSERT INTO face_detections (id, camera_id, track_id, source, status, bbox, face_px, \
                 frames, first_seen, last_seen, thumbnail_key) VALUES (gen_random_uuid(), '{camera}', \
                 '{track}', 'stream', 'visitor', '{{\"x\":0,\"y\":0,\"width\":90,\"height\":90}}', 90, 3, \
                 now() - interval '{age}', now() - interval '{age}', '{key}')"
            ))
            .execute(&mut conn)
            .await
            .unwrap();
            keys.push((track.to_string(), key));
        }
        keys
    };
    let capture_keys: Vec<Option<String>> = {
        let mut conn = app.ctx.db.get().await.unwrap();
        let mut out = Vec::new();
        for id in &photos {
            #[derive(diesel::QueryableByName)]
            struct Key {
                #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
                object_key: Option<String>,
            }
            let k: Key =
                diesel::sql_query(format!("SELECT object_key FROM captures WHERE id = '{id}'"))
                    .get_result(&mut conn)
                    .await
                    .unwrap();
            out.push(k.object_key);
        }
        out
    };
    let (old_photo, new_photo) = (
        capture_keys[0].clone().unwrap(),
        capture_keys[1].clone().unwrap(),
    );

    let mut app = app;
    app.start_worker();
    let (cleanup, _) = vigil_core::jobs::enqueue(
        &app.ctx,
        vigil_core::jobs::NewJob::of(&vigil_core::maintenance::CleanupJob { tick: None }),
    )
    .await
    .unwrap();
    let done = wait_succeeded(&admin, &cleanup.id.to_string(), Duration::from_secs(60)).await;
    assert_eq!(done["result"]["capturePhotosErased"], 1, "{done}");
    assert_eq!(done["result"]["detectionsDeleted"], 1, "{done}");
    let storage = &app.ctx.storage;
    assert!(storage.head(&old_photo).await.unwrap().is_none());
    assert!(storage.head(&new_photo).await.unwrap().is_some());
    assert!(storage.head(&keys[0].1).await.unwrap().is_none());
    assert!(storage.head(&keys[1].1).await.unwrap().is_some());
    // The old capture is still there, without its photo.
    let old = device.get_data(format!("/capture/{}", photos[0])).await;
    assert_eq!(old["captureId"], "old", "{old}");
    let left = admin
        .get("/detections")
        .query(&[("cameraId", camera)])
        .await
        .expect(200)
        .items();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["trackId"], "new");
}
