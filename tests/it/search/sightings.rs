//! Faces too blurred to confirm, but closer to the person than everyone else in the footage,
//! are listed as possible sightings for review — never as appearances, never dropped.

use std::time::Duration;

use serde_json::json;
use vigil_testkit::TestApp;
use vigil_testkit::jobs::{is_finished, wait_succeeded};
use vigil_testkit::media::media;
use vigil_testkit::missing_persons::enroll;
use vigil_testkit::search::{submit_search, wait_search};
use vigil_testkit::videos::{upload_video, wait_probed};

#[tokio::test(flavor = "multi_thread")]
async fn a_blurred_face_in_a_crowd_is_a_ranked_possible_sighting_for_review() {
    let app = TestApp::spawn_with_worker().await;
    let operator = app.as_new_user("ROLE-OPERATOR").await;
    let reviewer = app.as_new_user("ROLE-REVIEWER").await;
    let name = format!("Crowd {}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let person = enroll(&operator, &name, media().target_photo()).await;
    let video = upload_video(&operator, &media().blurred_crowd(), "Station hall").await;
    let video_id = video["id"].as_str().unwrap().to_string();
    assert_eq!(wait_probed(&operator, &video_id).await["status"], "ready");
    let id = submit_search(
        &operator,
        json!({ "missingPersonIds": [person], "videoIds": [video_id],
                "settings": { "notifyReviewers": false } }),
    )
    .await;
    let status = wait_search(&operator, &id, Duration::from_secs(240), is_finished).await;
    assert_eq!(status["status"], "succeeded", "{status}");

    // Not confirmed...
    let summary = operator.get_data(format!("/searches/{id}/summary")).await;
    assert_eq!(summary["appearances"], 0, "{summary}");
    assert_eq!(summary["possibleSightings"], 1, "{summary}");
    // ...but listed first, with the face, its size and how far it stands out.
    let sightings = operator
        .get_data(format!("/searches/{id}/possible-sightings"))
        .await;
    let s = &sightings[0];
    assert_eq!(s["rank"], 1, "{sightings}");
    assert_eq!(s["missingPersonId"], json!(person));
    assert_eq!(s["reviewStatus"], "pending");
    let distance = s["distance"].as_f64().unwrap();
    assert!(distance > 0.4 && distance <= 0.75, "{s}");
    assert!(s["standout"].as_f64().unwrap() <= -2.0, "{s}");
    assert!(s["facePx"].as_f64().unwrap() < 140.0, "{s}");
    // The face is in the top-left corner of the crowd for the whole clip.
    assert!(
        s["endSecs"].as_f64().unwrap() - s["startSecs"].as_f64().unwrap() >= 5.0,
        "{s}"
    );
    let thumbnail = s["thumbnailUrl"].as_str().expect("a thumbnail").to_string();
    let jpeg = app.anonymous().get(&thumbnail).await.expect(200);
    assert!(jpeg.bytes().starts_with(&[0xFF, 0xD8]), "a JPEG");

    // Reviewers confirm or dismiss; others may not.
    let path = format!(
        "/searches/{id}/possible-sightings/{}/review",
        s["id"].as_str().unwrap()
    );
    operator
        .put_json(&path, json!({ "status": "confirmed" }))
        .await
        .expect_error(403, "FORBIDDEN");
    let reviewed = reviewer
        .put_json(
            &path,
            json!({ "status": "confirmed", "note": "same jacket" }),
        )
        .await
        .expect(200)
        .data();
    assert_eq!(reviewed["reviewStatus"], "confirmed");
    reviewer
        .put_json(&path, json!({ "status": "maybe" }))
        .await
        .expect_error(422, "VALIDATION_ERROR");

    // The export lists it, apart from appearances.
    let job = operator
        .post(format!("/searches/{id}/export"))
        .query(&[("format", "csv")])
        .await
        .expect(202)
        .data();
    let job = wait_succeeded(
        &operator,
        job["id"].as_str().unwrap(),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(job["result"]["rows"], 1, "{job}");
    let csv = app
        .anonymous()
        .get(job["result"]["downloadUrl"].as_str().unwrap())
        .await
        .expect(200)
        .text();
    assert!(csv.contains("possible sighting #1 (confirmed)"), "{csv}");
}

/// The SSD sees a 720p frame at 0.4×: a ~45 px face reaches it at ~18 px and is not found.
/// With small faces on, the second detector (BlazeFace) finds it and, sharp, it is recognised.
#[tokio::test(flavor = "multi_thread")]
async fn small_faces_far_from_the_camera_are_found_by_the_second_detector() {
    let app = TestApp::spawn_with_worker().await;
    let operator = app.as_new_user("ROLE-OPERATOR").await;
    let name = format!("Far {}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let person = enroll(&operator, &name, media().target_photo()).await;
    let video = upload_video(&operator, &media().distant_crowd(), "Square").await;
    let video_id = video["id"].as_str().unwrap().to_string();
    assert_eq!(wait_probed(&operator, &video_id).await["status"], "ready");
    let mut found = Vec::new();
    for small_faces in [false, true] {
        let id = submit_search(
            &operator,
            json!({ "missingPersonIds": [person], "videoIds": [video_id],
                    "settings": { "notifyReviewers": false, "smallFaces": small_faces } }),
        )
        .await;
        let status = wait_search(&operator, &id, Duration::from_secs(240), is_finished).await;
        assert_eq!(status["status"], "succeeded", "{status}");
        found.push(operator.get_data(format!("/searches/{id}/summary")).await);
    }
    assert_eq!(found[0]["appearances"], 0, "full frame only: {}", found[0]);
    assert_eq!(found[1]["appearances"], 1, "with small faces: {}", found[1]);
    let a = &found[1]["videos"][0]["appearances"][0];
    assert_eq!(a["missingPersonId"], json!(person));
    assert!(a["bestBox"]["width"].as_f64().unwrap() < 60.0, "{a}");
    // The whole clip: the face sits in the top-left corner throughout.
    assert!(a["endSecs"].as_f64().unwrap() >= 7.0, "{a}");
}
