//! Captures from a device recognised with the real models: the same face auto-approved into a
//! log, a stranger unknown, a photo without a face a capture with a reason, a face below the
//! auto-approve confidence pending until a reviewer approves it, a rejected match not approved
//! again, a repeated capture id one capture; manual entries and deletes.

use std::time::Duration;

use serde_json::{Value, json};
use vigil_testkit::TestApp;
use vigil_testkit::attendance::{
    Capture, capture, create_device, enroll_employee, wait_images_processed,
};
use vigil_testkit::jobs::{accepted, wait_succeeded};
use vigil_testkit::media::{TARGET_BOX, TARGET_SAMPLE, blank_png, media};

/// Another crop of the enrolled face: tighter than the enrollment photo.
fn same_face() -> Vec<u8> {
    let (x, y, w, h) = TARGET_BOX;
    media().png(
        TARGET_SAMPLE,
        Some((x - w / 4, y - h / 4, w * 3 / 2, h * 3 / 2)),
    )
}

fn data(resp: vigil_testkit::Response) -> Value {
    resp.expect(200).data()
}

#[tokio::test(flavor = "multi_thread")]
async fn captures_are_recognised_reviewed_and_logged() {
    let app = TestApp::spawn_with_worker().await;
    let operator = app.as_new_user("ROLE-OPERATOR").await;
    let reviewer = app.as_new_user("ROLE-REVIEWER").await;
    let ada = enroll_employee(
        &operator,
        "Ada Lovelace",
        "EMP-00412",
        media().target_photo(),
    )
    .await;
    let (device_id, key) = create_device(&operator, "Door cam", "ROOM-101").await;
    let device = app.as_user(&key);
    let send = |capture_id: &str, image: Vec<u8>, at: &str| {
        let (device_id, capture_id, at) =
            (device_id.clone(), capture_id.to_string(), at.to_string());
        let device = &device;
        async move {
            let c = Capture {
                device_id: &device_id,
                capture_id: &capture_id,
                image,
                timestamp: Some(&at),
                classroom_id: None,
            };
            capture(device, c, Some("20s")).await
        }
    };

    // Another crop of the same face: recognised, approved without review, logged.
    let first = data(send("c-1", same_face(), "2026-11-02T09:00:00Z").await);
    assert_eq!(first["status"], "authorized", "{first}");
    assert_eq!(first["predictedPersonId"], ada.as_str());
    assert_eq!(first["predictedNumber"], "EMP-00412");
    assert_eq!(first["reviewStatus"], "approved");
    assert_eq!(first["autoApproved"], true);
    assert!(first["confidence"].as_f64().unwrap() >= 0.9, "{first}");
    assert_eq!(first["classroomId"], "ROOM-101");
    let logs = operator
        .get("/attendance/logs?dateFrom=2026-11-02&dateTo=2026-11-02")
        .await
        .expect(200)
        .items();
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!(logs[0]["employeeId"], "EMP-00412");
    assert_eq!(logs[0]["timeIn"], "09:00:00");
    assert_eq!(logs[0]["status"], "present");
    assert_eq!(logs[0]["odooStatus"], "pending");

    // The same capture id again (a retry from the device's buffer): the first capture.
    let again = data(send("c-1", same_face(), "2026-11-02T09:00:00Z").await);
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["duplicate"], true);

    // A stranger: unknown, nobody named.
    let stranger = data(send("c-2", media().png(4, None), "2026-11-02T09:05:00Z").await);
    assert_eq!(stranger["status"], "unknown", "{stranger}");
    assert!(stranger["predictedPersonId"].is_null());
    assert!(stranger["attendanceId"].is_null());

    // No face: a capture with a reason, not an error.
    let wall = data(send("c-3", blank_png(640, 480, 90), "2026-11-02T09:06:00Z").await);
    assert_eq!(wall["status"], "no_face");
    assert!(
        wall["reason"].as_str().unwrap().contains("no face"),
        "{wall}"
    );

    // Presence: the last approved sighting was long ago.
    let records = operator
        .get("/attendance/records")
        .await
        .expect(200)
        .items();
    assert_eq!(records[0]["personId"], "EMP-00412");
    assert_eq!(records[0]["status"], "off-site");

    // A reviewer rejects the first match: the same face is no longer approved automatically.
    reviewer
        .post_json(
            format!(
                "/attendance/{}/review",
                first["attendanceId"].as_str().unwrap()
            ),
            json!({ "action": "reject", "notes": "not her" }),
        )
        .await
        .expect(200);
    // Its log goes with it: no approved sighting is left that day.
    assert!(
        operator
            .get("/attendance/logs")
            .await
            .expect(200)
            .items()
            .is_empty()
    );
    let repeat = data(send("c-5", same_face(), "2026-11-02T18:00:00Z").await);
    assert_eq!(repeat["status"], "authorized");
    assert_eq!(repeat["reviewStatus"], "pending", "{repeat}");
    assert!(
        repeat["reviewReason"]
            .as_str()
            .unwrap()
            .contains("rejected"),
        "{repeat}"
    );

    let now = chrono::Utc::now().to_rfc3339();
    let present = data(send("c-6", media().target_photo(), &now).await);
    assert_eq!(present["reviewStatus"], "approved", "{present}");
    let records = operator
        .get("/attendance/records")
        .await
        .expect(200)
        .items();
    assert_eq!(records[0]["status"], "on-site");

    let stats = operator
        .get("/attendance/statistics?dateFrom=2026-11-02&dateTo=2026-11-02")
        .await
        .expect(200)
        .data();
    assert_eq!(stats["logs"], 0);
    assert_eq!(stats["pendingReviews"], 1);
    assert_eq!(stats["rejectedEvents"], 1);
    assert_eq!(stats["approvedEvents"], 0);

    // Erasing the person erases the captures that show them.
    operator.delete(format!("/faces/{ada}")).await.expect(204);
    device
        .get(format!("/capture/{}", first["id"].as_str().unwrap()))
        .await
        .expect_error(404, "NOT_FOUND");
    assert!(
        operator
            .get("/attendance/logs")
            .await
            .expect(200)
            .items()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unsure_recognitions_wait_for_a_reviewer() {
    // Auto-approval only for near-identical faces: another crop of the enrolled face (a real
    // distance, confidence ~0.9–0.99) lands between the two confidences and waits for review.
    let mut app = TestApp::spawn_with(|c| c.attendance_auto_approve_confidence = 0.99995).await;
    app.start_worker();
    let operator = app.as_new_user("ROLE-OPERATOR").await;
    let reviewer = app.as_new_user("ROLE-REVIEWER").await;
    let ada = enroll_employee(&operator, "Ada Lovelace", "EMP-7", media().target_photo()).await;
    let (device_id, key) = create_device(&operator, "Door cam", "ROOM-7").await;
    let device = app.as_user(&key);
    let c = Capture {
        device_id: &device_id,
        capture_id: "u-1",
        image: same_face(),
        timestamp: Some("2026-11-03T08:00:00Z"),
        classroom_id: Some("ROOM-8"),
    };
    let unsure = data(capture(&device, c, Some("20s")).await);
    assert_eq!(unsure["status"], "authorized", "{unsure}");
    assert_eq!(unsure["predictedPersonId"], ada.as_str());
    assert_eq!(unsure["reviewStatus"], "pending", "{unsure}");
    assert!(
        unsure["reviewReason"]
            .as_str()
            .unwrap()
            .contains("below the auto-approve")
    );
    let confidence = unsure["confidence"].as_f64().unwrap();
    assert!((0.3..0.99995).contains(&confidence), "{unsure}");
    let event = unsure["attendanceId"].as_str().unwrap().to_string();

    let pending = reviewer
        .get("/attendance/pending")
        .await
        .expect(200)
        .items();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["id"], event.as_str());
    assert_eq!(pending[0]["person"]["number"], "EMP-7");
    assert!(pending[0]["imageUrl"].is_string());
    assert!(
        operator
            .get("/attendance/logs")
            .await
            .expect(200)
            .items()
            .is_empty()
    );
    operator
        .post_json(
            format!("/attendance/{event}/review"),
            json!({ "action": "approve" }),
        )
        .await
        .expect_error(403, "FORBIDDEN");
    reviewer
        .post_json(
            format!("/attendance/{event}/review"),
            json!({ "action": "shrug" }),
        )
        .await
        .expect_error(422, "VALIDATION_ERROR");
    let approved = reviewer
        .post_json(
            format!("/attendance/{event}/review"),
            json!({ "action": "approve", "notes": "checked the photo" }),
        )
        .await
        .expect(200)
        .data();
    assert_eq!(approved["status"], "approved");
    assert_eq!(approved["reviewNotes"], "checked the photo");
    assert!(
        reviewer
            .get("/attendance/pending")
            .await
            .expect(200)
            .items()
            .is_empty()
    );
    let logs = operator
        .get("/attendance/logs?search=ada")
        .await
        .expect(200)
        .items();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0]["date"], "2026-11-03");
    assert_eq!(logs[0]["timeIn"], "08:00:00");
    assert_eq!(logs[0]["classroomId"], "ROOM-8");
    assert_eq!(logs[0]["odooStatus"], "pending");

    // Manual entries: a reviewer's count at once, an operator's wait for review.
    let by_reviewer = reviewer
        .post_json(
            "/attendance/manual",
            json!({ "employeeId": "EMP-7", "timestamp": "2026-11-03T17:00:00Z", "note": "badge" }),
        )
        .await
        .expect(201)
        .data();
    assert_eq!(by_reviewer["status"], "approved");
    let by_operator = operator
        .post_json(
            "/attendance/manual",
            json!({ "employeeId": "EMP-7", "timestamp": "2026-11-04T09:00:00Z" }),
        )
        .await
        .expect(201)
        .data();
    assert_eq!(by_operator["status"], "pending");
    operator
        .post_json(
            "/attendance/manual",
            json!({ "employeeId": "NOBODY", "timestamp": "2026-11-04T09:00:00Z" }),
        )
        .await
        .expect_error(422, "VALIDATION_ERROR");
    let day = operator
        .get("/attendance/logs?dateFrom=2026-11-03&dateTo=2026-11-03")
        .await
        .expect(200)
        .items();
    assert_eq!(day[0]["timeOut"], "17:00:00");
    assert_eq!(day[0]["events"], 2);

    // Deleting a sighting rebuilds the day's log; deleting the log removes the day.
    reviewer
        .delete(format!(
            "/attendance/{}",
            by_reviewer["id"].as_str().unwrap()
        ))
        .await
        .expect(204);
    let log = operator.get("/attendance/logs").await.expect(200).items()[0].clone();
    assert_eq!(log["timeOut"], "08:00:00");
    reviewer
        .delete(format!("/attendance/{}", log["id"].as_str().unwrap()))
        .await
        .expect(204);
    assert!(
        operator
            .get("/attendance/logs")
            .await
            .expect(200)
            .items()
            .is_empty()
    );
    // A correction can add the face seen to the right person's photos, through enrollment's
    // checks. (The reviewer says this face is Grace's; from then on it is hers.)
    let other_face = media().png(2, Some((1331, 7, 425, 535)));
    let grace = enroll_employee(&operator, "Grace Hopper", "EMP-8", other_face).await;
    let c = Capture {
        device_id: &device_id,
        capture_id: "u-2",
        image: same_face(),
        timestamp: Some("2026-11-03T12:00:00Z"),
        classroom_id: None,
    };
    let second = data(capture(&device, c, Some("20s")).await);
    assert_eq!(second["predictedPersonId"], ada.as_str(), "{second}");
    let event = second["attendanceId"].as_str().unwrap().to_string();
    let correct = json!({ "action": "correct", "personId": grace, "addToGallery": true });
    reviewer
        .post_json(format!("/attendance/{event}/review"), correct.clone())
        .await
        .expect_error(403, "FORBIDDEN");
    let admin = app.as_user(&app.admin().await);
    admin
        .post_json(
            format!("/attendance/{event}/review"),
            json!({ "action": "reject", "addToGallery": true }),
        )
        .await
        .expect_error(422, "VALIDATION_ERROR");
    // A manual entry has no face to add.
    admin
        .post_json(
            format!("/attendance/{}/review", by_operator["id"].as_str().unwrap()),
            json!({ "action": "approve", "addToGallery": true }),
        )
        .await
        .expect_error(422, "VALIDATION_ERROR");
    let corrected = admin
        .post_json(format!("/attendance/{event}/review"), correct)
        .await
        .expect(200)
        .data();
    assert_eq!(corrected["person"]["number"], "EMP-8", "{corrected}");
    assert_eq!(corrected["predictedPersonId"], ada.as_str());
    assert_eq!(
        corrected["galleryPhoto"]["status"], "pending",
        "{corrected}"
    );
    let photos = wait_images_processed(&operator, "/faces", &grace).await;
    assert_eq!(photos.len(), 2, "{photos:?}");
    assert!(
        photos.iter().all(|p| p["status"] == "enrolled"),
        "{photos:?}"
    );
    let c = Capture {
        device_id: &device_id,
        capture_id: "u-3",
        image: same_face(),
        timestamp: Some("2026-11-03T13:00:00Z"),
        classroom_id: None,
    };
    let third = data(capture(&device, c, Some("20s")).await);
    assert_eq!(third["predictedPersonId"], grace.as_str(), "{third}");

    // The day's export shows the face behind each time in: a link in CSV, the picture in PDF.
    let export = |format: &str| {
        admin.post_json(
            "/attendance/export",
            json!({ "format": format, "dateFrom": "2026-11-03", "dateTo": "2026-11-03" }),
        )
    };
    let job = accepted(export("csv").await);
    let job = wait_succeeded(&admin, job["id"].as_str().unwrap(), Duration::from_secs(30)).await;
    let csv = app
        .anonymous()
        .get(job["result"]["downloadUrl"].as_str().unwrap())
        .await
        .text();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let face_column = reader.headers().unwrap().len() - 1;
    assert_eq!(&reader.headers().unwrap()[face_column], "time in face url");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1, "{csv}");
    assert_eq!(&rows[0][1], "EMP-8");
    let face = app.anonymous().get(&rows[0][face_column]).await.expect(200);
    assert!(
        face.bytes().starts_with(b"\x89PNG"),
        "the capture's picture"
    );
    let job = accepted(export("pdf").await);
    let job = wait_succeeded(&admin, job["id"].as_str().unwrap(), Duration::from_secs(30)).await;
    let pdf = app
        .anonymous()
        .get(job["result"]["downloadUrl"].as_str().unwrap())
        .await;
    assert!(
        pdf.bytes().windows(6).any(|w| w == b"/Image"),
        "the PDF shows the face"
    );

    let audit = admin.get("/audit?pageSize=100").await.items();
    for action in [
        "attendance.review",
        "attendance.manual",
        "attendance.delete",
        "capture.create",
    ] {
        assert!(
            audit.iter().any(|r| r["action"] == action),
            "{action} not audited"
        );
    }
}
