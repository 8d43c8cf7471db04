//! Enrollment keeps one clear face per photo and says why it rejects the others.

use serde_json::Value;
use vigil_testkit::TestApp;
use vigil_testkit::media::{TARGET_SAMPLE, blank_png, media};
use vigil_testkit::missing_persons::{create_person, upload_photos, wait_photos_processed};

#[tokio::test(flavor = "multi_thread")]
async fn enrollment_keeps_one_clear_face_and_says_why_it_rejects_others() {
    let app = TestApp::spawn_with_worker().await;
    let operator = app.as_new_user("ROLE-OPERATOR").await;
    let person = create_person(&operator, "Grace Example").await;

    let queued = upload_photos(
        &operator,
        &person,
        vec![
            ("face.png", media().target_photo()),
            ("wall.png", blank_png(640, 480, 128)),
            ("group.png", media().png(TARGET_SAMPLE, None)),
        ],
    )
    .await
    .expect(202)
    .items();
    assert_eq!(queued.len(), 3);
    assert!(
        queued
            .iter()
            .all(|p| p["status"] == "pending" && p["jobId"].is_string())
    );

    let photos = wait_photos_processed(&operator, &person).await;
    let by_name = |n: &str| -> Value {
        photos
            .iter()
            .find(|p| p["originalFilename"] == n)
            .unwrap()
            .clone()
    };
    let face = by_name("face.png");
    assert_eq!(face["status"], "enrolled", "{face}");
    assert!(face["face"]["sizePx"].as_f64().unwrap() >= 64.0, "{face}");
    let wall = by_name("wall.png");
    assert_eq!(wall["status"], "rejected");
    assert!(
        wall["reason"].as_str().unwrap().contains("no face"),
        "{wall}"
    );
    let group = by_name("group.png");
    assert_eq!(group["status"], "rejected");
    assert!(
        group["reason"]
            .as_str()
            .unwrap()
            .contains("several faces found (3)"),
        "{group}"
    );

    let person_dto = operator
        .get_data(format!("/missing-persons/{person}"))
        .await;
    assert_eq!(person_dto["photos"]["enrolled"], 1);
    assert_eq!(person_dto["photos"]["rejected"], 2);

    // Not an image at all: refused before anything is stored.
    upload_photos(&operator, &person, vec![("notes.txt", b"hello".to_vec())])
        .await
        .expect_error(422, "VALIDATION_ERROR");
}
