//! Bad captures get clear answers: not an image, too large, no capture id, an unknown or
//! another device, a revoked key, a user token; a device key reaches nothing else.

use vigil_testkit::TestApp;
use vigil_testkit::attendance::{Capture, capture, create_device};
use vigil_testkit::media::blank_png;

fn shot<'a>(device_id: &'a str, capture_id: &'a str, image: Vec<u8>) -> Capture<'a> {
    Capture {
        device_id,
        capture_id,
        image,
        timestamp: None,
        classroom_id: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_captures_are_refused_clearly() {
    let app = TestApp::spawn_with(|c| c.max_capture_bytes = 64 * 1024).await;
    let operator = app.as_new_user("ROLE-OPERATOR").await;
    let (id, key) = create_device(&operator, "Door cam", "ROOM-1").await;
    let (other_id, _) = create_device(&operator, "Lab cam", "LAB-1").await;
    let device = app.as_user(&key);
    let png = blank_png(64, 64, 10);

    capture(
        &device,
        shot(&id, "a", b"not an image at all".to_vec()),
        None,
    )
    .await
    .expect_error(422, "VALIDATION_ERROR");
    capture(&device, shot(&id, "b", vec![0xFF; 200 * 1024]), None)
        .await
        .expect_error(413, "PAYLOAD_TOO_LARGE");
    capture(&device, shot(&id, "", png.clone()), None)
        .await
        .expect_error(422, "VALIDATION_ERROR");
    capture(
        &device,
        shot("0192d0d0-0000-7000-8000-000000000000", "c", png.clone()),
        None,
    )
    .await
    .expect_error(404, "NOT_FOUND");
    capture(&device, shot(&other_id, "d", png.clone()), None)
        .await
        .expect_error(403, "FORBIDDEN");
    let bad_time = Capture {
        timestamp: Some("yesterday"),
        ..shot(&id, "e", png.clone())
    };
    capture(&device, bad_time, None)
        .await
        .expect_error(422, "VALIDATION_ERROR");
    // Nothing was stored for the refused ones.
    {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use vigil_core::db::schema::captures;
        let mut conn = app.ctx.db.get().await.unwrap();
        let n: i64 = captures::table.count().get_result(&mut conn).await.unwrap();
        assert_eq!(n, 0);
    }

    // Accepted without a worker: 202 while it waits to be recognised.
    let accepted = capture(&device, shot(&id, "f", png.clone()), None)
        .await
        .expect(202)
        .data();
    assert_eq!(accepted["status"], "processing");
    assert!(accepted["jobId"].is_string());
    let read = device
        .get(format!("/capture/{}", accepted["id"].as_str().unwrap()))
        .await
        .expect(200)
        .data();
    assert_eq!(read["captureId"], "f");

    // A user token is not a device key; a device key is nothing else.
    capture(&operator, shot(&id, "g", png.clone()), None)
        .await
        .expect_error(403, "FORBIDDEN");
    device
        .get("/attendance/logs")
        .await
        .expect_error(403, "FORBIDDEN");
    device
        .get("/attendance/pending")
        .await
        .expect_error(403, "FORBIDDEN");

    // A revoked key is refused outright.
    operator
        .delete(format!("/devices/{id}/key"))
        .await
        .expect(200);
    capture(&device, shot(&id, "h", png), None)
        .await
        .expect_error(401, "UNAUTHORIZED");
}
