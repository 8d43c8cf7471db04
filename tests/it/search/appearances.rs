//! What a search finds: when the person appears (and nowhere else), across segment
//! boundaries and under a panning camera, with thumbnails, emails, dashboard counts, exports
//! and deletion.

use std::time::Duration;

use serde_json::{Value, json};
use vigil_testkit::jobs::{is_finished, wait_succeeded};
use vigil_testkit::media::media;
use vigil_testkit::missing_persons::enroll;
use vigil_testkit::search::{submit_search, wait_search};
use vigil_testkit::videos::{upload_video, wait_probed};
use vigil_testkit::{TestApp, received_mail, wait_for_mail};

/// The summary's only appearance, which must span 4–9 s within a second each way (the
/// `appears_4_to_9` clips); returns its start and end.
fn the_appearance_4_to_9(summary: &Value) -> (f64, f64) {
    assert_eq!(summary["appearances"], 1, "{summary}");
    let a = &summary["videos"][0]["appearances"][0];
    let (start, end) = (
        a["startSecs"].as_f64().unwrap(),
        a["endSecs"].as_f64().unwrap(),
    );
    assert!((start - 4.0).abs() <= 1.0, "starts at {start}: {summary}");
    assert!((end - 9.0).abs() <= 1.0, "ends at {end}: {summary}");
    (start, end)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panning_camera_gives_the_same_times_with_boxes_that_follow_the_face() {
    let app = TestApp::spawn_with_worker().await;
    let operator = app.as_new_user("ROLE-OPERATOR").await;
    let name = format!("Pan {}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let person = enroll(&operator, &name, media().target_photo()).await;
    let video = upload_video(&operator, &media().appears_4_to_9_panning(), "Patrol cam").await;
    let video_id = video["id"].as_str().unwrap().to_string();
    assert_eq!(wait_probed(&operator, &video_id).await["status"], "ready");
    let id = submit_search(
        &operator,
        json!({ "missingPersonIds": [person], "videoIds": [video_id],
                "settings": { "segmentSecs": 5, "notifyReviewers": false } }),
    )
    .await;
    let status = wait_search(&operator, &id, Duration::from_secs(240), is_finished).await;
    assert_eq!(status["status"], "succeeded", "{status}");
    // Frames that are the last analysed picture moved took over its analysis.
    let (sampled, analysed) = (
        status["framesProcessed"].as_i64().unwrap(),
        status["framesAnalysed"].as_i64().unwrap(),
    );
    assert!(sampled >= 27 && analysed < sampled, "{status}");

    let summary = operator.get_data(format!("/searches/{id}/summary")).await;
    the_appearance_4_to_9(&summary);

    // The face's box moves with the picture, also on frames whose analysis was taken over.
    let dets = operator
        .get_data(format!("/searches/{id}/detections?pageSize=100"))
        .await;
    let xs: Vec<f64> = dets
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["box"]["x"].as_f64().unwrap())
        .collect();
    assert!(xs.len() >= 8, "{dets}");
    let spread =
        xs.iter().cloned().fold(f64::MIN, f64::max) - xs.iter().cloned().fold(f64::MAX, f64::min);
    assert!(spread > 10.0, "boxes do not follow the pan: {xs:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_search_reports_when_the_person_appears_and_nowhere_else() {
    let app = TestApp::spawn_with_worker().await;
    let operator = app.as_new_user("ROLE-OPERATOR").await;
    let (reviewer, _) = app.create_user("ROLE-REVIEWER").await;
    // A name of this test's own: the mailbox is shared by every test.
    let name = format!("Ada {}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let person = enroll(&operator, &name, media().target_photo()).await;
    let video = upload_video(&operator, &media().appears_4_to_9(), "Station cam").await;
    let video_id = video["id"].as_str().unwrap().to_string();
    let video = wait_probed(&operator, &video_id).await;
    assert_eq!(video["status"], "ready", "{video}");
    assert!(
        (video["durationSecs"].as_f64().unwrap() - 14.0).abs() < 0.2,
        "{video}"
    );
    assert_eq!(video["width"], 1280);
    assert_eq!(video["codec"], "h264");

    // 5 s segments: the appearance (4–9 s) crosses a boundary and must come out whole.
    let id = submit_search(
        &operator,
        json!({
            "name": format!("Station {name}"),
            "missingPersonIds": [person],
            "videoIds": [video_id],
            "settings": { "segmentSecs": 5 },
        }),
    )
    .await;
    let status = wait_search(&operator, &id, Duration::from_secs(240), is_finished).await;
    assert_eq!(status["status"], "succeeded", "{status}");
    assert_eq!(status["videos"][0]["segments"], 3, "{status}");
    assert_eq!(status["videos"][0]["progress"], 100.0);
    assert!(
        status["framesProcessed"].as_i64().unwrap() >= 27,
        "{status}"
    );

    let summary = operator.get_data(format!("/searches/{id}/summary")).await;
    let (start, end) = the_appearance_4_to_9(&summary);
    let a = &summary["videos"][0]["appearances"][0];
    assert_eq!(a["missingPersonId"], json!(person));
    assert!(a["frames"].as_i64().unwrap() >= 8, "{a}");
    let anonymous = app.anonymous();
    let thumb = anonymous.get(a["thumbnailUrl"].as_str().unwrap()).await;
    assert!(
        thumb.bytes().starts_with(&[0xFF, 0xD8]),
        "thumbnail is a JPEG"
    );

    // Every confirmed detection lies inside the appearance; the frames endpoint links them.
    let dets = operator
        .get_data(format!("/searches/{id}/detections?pageSize=100"))
        .await;
    let dets = dets.as_array().unwrap();
    assert!(!dets.is_empty());
    assert!(dets.iter().all(|d| {
        let t = d["timeSecs"].as_f64().unwrap();
        t >= start - 0.01 && t <= end + 0.01 && d["thumbnailUrl"].is_string()
    }));
    let strong = operator
        .get_data(format!(
            "/searches/{id}/detections?minScore=0.99&pageSize=100"
        ))
        .await;
    assert!(strong.as_array().unwrap().len() <= dets.len());
    let per_video = operator
        .get_data(format!("/searches/{id}/detections/summary"))
        .await;
    assert_eq!(per_video[0]["appearances"], 1);

    // One email per appearance to the reviewer, one summary to the creator — once each.
    let sighting = wait_for_mail(
        &format!("possible sighting of {name}"),
        Duration::from_secs(20),
    )
    .await
    .expect("appearance email");
    assert!(sighting.contains(&reviewer), "sent to the reviewer");
    wait_for_mail(
        &format!("search \"Station {name}\" succeeded"),
        Duration::from_secs(20),
    )
    .await
    .expect("summary email");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mails = received_mail();
    let sightings = mails
        .iter()
        .filter(|m| m.contains(&format!("possible sighting of {name}")))
        .count();
    assert_eq!(sightings, 1, "one email per appearance");

    let dashboard = operator.get_data("/dashboard/stats").await;
    assert_eq!(dashboard["appearances"], 1);
    assert_eq!(dashboard["searches"]["byStatus"]["succeeded"], 1);
    let recent = operator.get_data("/dashboard/recent-searches").await;
    assert_eq!(recent[0]["id"], json!(id));
    // Strangers' clear faces are not passed off as possible sightings.
    let sightings = operator
        .get_data(format!("/searches/{id}/possible-sightings"))
        .await;
    assert_eq!(sightings, json!([]), "{sightings}");

    // The export job renders the appearances, with thumbnails in the PDF.
    let job = operator
        .post(format!("/searches/{id}/export"))
        .query(&[("format", "pdf")])
        .await
        .expect(202)
        .data();
    let job = wait_succeeded(
        &operator,
        job["id"].as_str().unwrap(),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(job["result"]["rows"], 1);

    // Deleting the search removes its results and thumbnails.
    let thumb_url = a["thumbnailUrl"].as_str().unwrap().to_string();
    operator.delete(format!("/searches/{id}")).await.expect(204);
    operator.get(format!("/searches/{id}")).await.expect(404);
    anonymous.get(thumb_url).await.expect(404);
}
