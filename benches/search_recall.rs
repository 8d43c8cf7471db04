//! Search recall on footage with known truth (docs/search.md "Recall by face size"): a fixed
//! 1280×720 camera over a corridor, sensor noise, H.264 at 1.5 Mbit/s, people walking across
//! all the time (the other 22 faces of the sample photos, 3 on screen at once, faces 40–200 px
//! wide). Clip "with" adds the searched person crossing 24 times: faces 48, 70, 100 and 160 px
//! wide, each clear, dimmed to 45 % and motion-blurred, each once per direction; clip
//! "without" has only the others. The person's passes use the mirror image of the enrollment
//! photo's face (the only photo there is; mirrored, the face is not the enrolled pixels).
//! Prints per size bucket and condition: passes found as appearances (start within 1 s),
//! as possible sightings only, or missed; the person's rank among possible sightings; false
//! appearances; possible sightings per hour without the person; and the speed. Needs the
//! test services (`scripts/bench-search.sh recall` starts them and runs this).
//!
//!   cargo bench --profile dev --bench search_recall

use std::time::{Duration, Instant};

use image::RgbImage;
use serde_json::{Value, json};
use vigil_testkit::TestApp;
use vigil_testkit::media::media;
use vigil_testkit::missing_persons::enroll;
use vigil_testkit::scenes::{BLUR_PX, crossing_crowd};
use vigil_testkit::search::{ScanStages, submit_search, wait_search};
use vigil_testkit::videos::upload_probed;
use vigil_video::scene::{Scene, Walker};

const VIGIL: &str = env!("CARGO_BIN_EXE_vigil");
const W: u32 = 1280;
const H: u32 = 720;
const PASS_SECS: f64 = 5.0;
const PASS_EVERY: f64 = 7.0;
const SIZES: [f32; 4] = [48.0, 70.0, 100.0, 160.0];

#[derive(Clone, Copy, PartialEq, Debug)]
enum Condition {
    Clear,
    Dim,
    Blurred,
}

const CONDITIONS: [Condition; 3] = [Condition::Clear, Condition::Dim, Condition::Blurred];

/// One crossing of the searched person.
struct Pass {
    size: f32,
    condition: Condition,
    start: f64,
    end: f64,
}

fn bucket(size: f32) -> &'static str {
    match size {
        s if s < 60.0 => "40–60 px",
        s if s < 80.0 => "60–80 px",
        s if s < 120.0 => "80–120 px",
        _ => "120+ px",
    }
}

fn target_walkers(picture: &RgbImage, face: f32) -> (Vec<Walker>, Vec<Pass>) {
    let mut walkers = Vec::new();
    let mut passes = Vec::new();
    let mut start = 1.0;
    for direction in [1.0f32, -1.0] {
        for &size in &SIZES {
            for condition in CONDITIONS {
                // Enters and leaves fully inside the frame, so the pass is the time on screen.
                let margin = size * 1.2;
                let (from_x, to_x) = (margin, W as f32 - margin);
                let (from_x, to_x) = if direction > 0.0 {
                    (from_x, to_x)
                } else {
                    (to_x, from_x)
                };
                let y = H as f32 * if direction > 0.0 { 0.4 } else { 0.6 };
                walkers.push(Walker {
                    picture: picture.clone(),
                    face_in_picture: face,
                    face_px: size,
                    from: (from_x, y),
                    to: (to_x, y),
                    start_secs: start,
                    end_secs: start + PASS_SECS,
                    blur_px: if condition == Condition::Blurred {
                        BLUR_PX
                    } else {
                        0
                    },
                    brightness: if condition == Condition::Dim {
                        0.45
                    } else {
                        1.0
                    },
                });
                passes.push(Pass {
                    size,
                    condition,
                    start,
                    end: start + PASS_SECS,
                });
                start += PASS_EVERY;
            }
        }
    }
    (walkers, passes)
}

fn overlaps(a: (f64, f64), b: (f64, f64)) -> bool {
    a.0 <= b.1 && b.0 <= a.1
}

struct Found {
    appearances: Vec<(f64, f64)>,
    /// (rank, start, end, distance)
    sightings: Vec<(i64, f64, f64, f64)>,
    secs: f64,
}

async fn search(caller: &vigil_testkit::Caller, person: &str, video: &str) -> Found {
    let started = Instant::now();
    let id = submit_search(
        caller,
        json!({ "missingPersonIds": [person], "videoIds": [video],
                "settings": { "notifyReviewers": false } }),
    )
    .await;
    let status = wait_search(caller, &id, Duration::from_secs(3600), |s| {
        matches!(
            s["status"].as_str(),
            Some("succeeded" | "failed" | "cancelled")
        )
    })
    .await;
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(status["status"], "succeeded", "{status}");
    let summary = caller.get_data(format!("/searches/{id}/summary")).await;
    let appearances = summary["videos"][0]["appearances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["startSecs"].as_f64().unwrap(),
                a["endSecs"].as_f64().unwrap(),
            )
        })
        .collect();
    let sightings = caller
        .get(format!("/searches/{id}/possible-sightings?pageSize=100"))
        .await
        .expect(200)
        .items()
        .iter()
        .map(|s: &Value| {
            (
                s["rank"].as_i64().unwrap(),
                s["startSecs"].as_f64().unwrap(),
                s["endSecs"].as_f64().unwrap(),
                s["distance"].as_f64().unwrap(),
            )
        })
        .collect();
    Found {
        appearances,
        sightings,
        secs,
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let dir = std::env::temp_dir().join(format!("vigil-bench-recall-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let faces = media().sample_faces();
    let heads: Vec<(RgbImage, f32)> = faces
        .iter()
        .filter(|f| !f.is_target)
        .map(|f| (f.head.clone(), f.face_width))
        .collect();
    let target = faces.iter().find(|f| f.is_target).expect("the target face");
    let (target_picture, target_face) = (
        image::imageops::flip_horizontal(&target.head),
        target.face_width,
    );

    let made = Instant::now();
    let (mut walkers, passes) = target_walkers(&target_picture, target_face);
    let with_secs = passes.last().unwrap().end + 2.0;
    walkers.extend(crossing_crowd(&heads, with_secs, 7));
    let with = dir.join("with.mp4");
    Scene::cctv_720p(walkers, with_secs)
        .write_h264(&with)
        .unwrap();
    let without_secs = 180.0;
    let without = dir.join("without.mp4");
    Scene::cctv_720p(crossing_crowd(&heads, without_secs, 11), without_secs)
        .write_h264(&without)
        .unwrap();
    println!(
        "clips: {with_secs:.0} s with the person ({} passes), {without_secs:.0} s without; made in {:.0} s",
        passes.len(),
        made.elapsed().as_secs_f64()
    );

    let app = TestApp::spawn().await;
    let admin = app.as_user(&app.admin().await);
    let mut worker = app.start_worker_process(VIGIL);
    let person = enroll(&admin, "Recall Target", media().target_photo()).await;
    let with_video = upload_probed(&admin, &with, "with").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let without_video = upload_probed(&admin, &without, "without").await["id"]
        .as_str()
        .unwrap()
        .to_string();

    let before = ScanStages::from_log(&worker.log_text());
    let found = search(&admin, &person, &with_video).await;
    let stages = ScanStages::from_log(&worker.log_text());
    println!(
        "search with the person: {with_secs:.0} s of video in {:.1} s = {:.1}x real time",
        found.secs,
        with_secs / found.secs
    );
    println!("  {}", stages.since(before));
    println!("| size | condition | found as | start error | sighting rank (distance) |");
    println!("|---|---|---|---|---|");
    // Per bucket: appearances starting within 1 s, appearances starting later, possible
    // sightings only, missed.
    let mut by_bucket: Vec<(&str, [usize; 4])> =
        SIZES.iter().map(|&s| (bucket(s), [0; 4])).collect();
    for p in &passes {
        let span = (p.start - 1.0, p.end + 1.0);
        let appearance = found.appearances.iter().find(|&&a| overlaps(a, span));
        let sighting = found.sightings.iter().find(|s| overlaps((s.1, s.2), span));
        let counts = &mut by_bucket
            .iter_mut()
            .find(|b| b.0 == bucket(p.size))
            .unwrap()
            .1;
        let (found_as, error, rank) = match (appearance, sighting) {
            (Some(a), _) => {
                let error = a.0 - p.start;
                counts[if error.abs() <= 1.0 { 0 } else { 1 }] += 1;
                ("appearance", format!("{error:+.1} s"), String::new())
            }
            (None, Some(s)) => {
                counts[2] += 1;
                let rank = format!("#{} ({:.2})", s.0, s.3);
                ("possible sighting", String::new(), rank)
            }
            (None, None) => {
                counts[3] += 1;
                ("missed", String::new(), String::new())
            }
        };
        println!(
            "| {} px | {:?} | {found_as} | {error} | {rank} |",
            p.size, p.condition
        );
    }
    // Appearances overlapping no pass are false (other people called the person).
    let false_appearances: Vec<(f64, f64)> = found
        .appearances
        .iter()
        .filter(|&&a| {
            !passes
                .iter()
                .any(|p| overlaps(a, (p.start - 1.0, p.end + 1.0)))
        })
        .copied()
        .collect();
    let per_bucket = passes.len() / SIZES.len();
    println!(
        "| bucket | appearances (start within 1 s) | appearances starting later | possible sightings only | missed |"
    );
    println!("|---|---|---|---|---|");
    for (b, [on_time, late, sighting, missed]) in &by_bucket {
        println!(
            "| {b} | {on_time}/{per_bucket} | {late}/{per_bucket} | {sighting}/{per_bucket} | {missed}/{per_bucket} |"
        );
    }
    let target_sightings: Vec<i64> = found
        .sightings
        .iter()
        .filter(|s| {
            passes
                .iter()
                .any(|p| overlaps((s.1, s.2), (p.start - 1.0, p.end + 1.0)))
        })
        .map(|s| s.0)
        .collect();
    println!(
        "false appearances: {} {false_appearances:?}; possible sightings: {} ({} of them the person, ranks {:?})",
        false_appearances.len(),
        found.sightings.len(),
        target_sightings.len(),
        target_sightings
    );

    let found = search(&admin, &person, &without_video).await;
    let before = stages;
    let stages = ScanStages::from_log(&worker.log_text());
    println!(
        "search without the person: {without_secs:.0} s in {:.1} s = {:.1}x real time; {} appearance(s) (false), {} possible sighting(s) = {:.0} per hour of footage",
        found.secs,
        without_secs / found.secs,
        found.appearances.len(),
        found.sightings.len(),
        found.sightings.len() as f64 * 3600.0 / without_secs
    );
    println!("  {}", stages.since(before));
    worker.kill9();
}
