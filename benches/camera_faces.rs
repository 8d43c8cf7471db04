//! Camera face recognition on footage with known truth (docs/attendance.md "Measured on camera
//! footage"): the attendance thresholds judged on camera tracks, not device photos. A fixed
//! 1280×720 camera over a corridor (sensor noise, H.264 at 1.5 Mbit/s, `vigil_video::scene`)
//! where one person at a time crosses in 4 s: six enrolled employees (each enrolled from a
//! crop of their sample photo, walking as its mirror image) and the other faces of the sample
//! photos as strangers, at face widths 80, 110 and 150 px, clear and dimmed to 45 %. One
//! watcher with face recognition at 2 sampled fps; each detection is matched to the walker on
//! screen at its first sighting. Prints, for enrolled walkers and for strangers: authorized as
//! the right person, waiting for review (pending), authorized as someone else, unknown or
//! visitor, and not detected. Needs the test services (`scripts/bench-attendance.sh faces`).
//!
//!   cargo bench --profile dev --bench camera_faces

use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};
use vigil_testkit::TestApp;
use vigil_testkit::attendance::{register_face, wait_images_processed};
use vigil_testkit::cameras::{camera_body, create_camera, wait_watching};
use vigil_testkit::media::{SampleFace, media};
use vigil_video::scene::{Scene, Walker};

const VIGIL: &str = env!("CARGO_BIN_EXE_vigil");
const W: u32 = 1280;
const H: u32 = 720;
const CROSSING_SECS: f64 = 4.0;
const EVERY_SECS: f64 = 5.0;
/// The clip starts with an empty corridor while the watcher settles.
const LEAD_SECS: f64 = 3.0;
const SIZES: [f32; 3] = [80.0, 110.0, 150.0];
const ENROLLED: usize = 6;

fn png(face: &SampleFace) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    face.head
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

#[derive(Default, Debug)]
struct Tally {
    right: usize,
    pending: usize,
    wrong: usize,
    not_recognised: usize,
    missed: usize,
}

impl Tally {
    fn row(&self, label: &str, n: usize) -> String {
        format!(
            "| {label} | {n} | {} | {} | {} | {} | {} |",
            self.right, self.pending, self.wrong, self.not_recognised, self.missed
        )
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let faces = media().sample_faces();
    let app = TestApp::spawn_with(|c| c.unknown_face_alert_cooldown_secs = 3600).await;
    let admin = app.as_user(&app.admin().await);
    let mut worker = app.start_worker_process(VIGIL);
    // The clearest faces that enrollment accepts (one per sample) are employees; everyone
    // else, rejected photos included, is a stranger.
    let mut order: Vec<&SampleFace> = faces.iter().collect();
    order.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut employees: Vec<&SampleFace> = Vec::new();
    let mut numbers = Vec::new();
    for face in order {
        if employees.len() == ENROLLED || employees.iter().any(|e| e.sample == face.sample) {
            continue;
        }
        let number = format!("EMP-{}", employees.len() + 1);
        let name = format!("Employee {}", employees.len() + 1);
        let id = register_face(
            &admin,
            &[("name", name.as_str()), ("employeeId", number.as_str())],
            vec![("face.png", png(face))],
        )
        .await
        .expect(201)
        .id();
        let photos = wait_images_processed(&admin, "/faces", &id).await;
        if photos[0]["status"] == "enrolled" {
            employees.push(face);
            numbers.push(number);
        } else {
            admin.delete(format!("/faces/{id}")).await.expect(204);
        }
    }
    let strangers: Vec<&SampleFace> = faces
        .iter()
        .filter(|f| !employees.iter().any(|e| std::ptr::eq(*e, *f)))
        .collect();

    // Who crosses when: every employee and stranger at every size, clear and dim, in turn.
    let mut walkers = Vec::new();
    let mut truth: Vec<(f64, f64, Option<String>, f32)> = Vec::new();
    let mut t = LEAD_SECS;
    let mut crossing = 0usize;
    for &size in &SIZES {
        for dim in [false, true] {
            let people = employees
                .iter()
                .enumerate()
                .map(|(i, e)| (Some(numbers[i].clone()), *e))
                .chain(strangers.iter().step_by(2).map(|s| (None, *s)));
            for (number, face) in people {
                let picture = if number.is_some() {
                    image::imageops::flip_horizontal(&face.head)
                } else {
                    face.head.clone()
                };
                let rightwards = crossing.is_multiple_of(2);
                let y = H as f32 * if rightwards { 0.4 } else { 0.55 };
                let (from, to) = if rightwards {
                    (size * 1.2, W as f32 - size * 1.2)
                } else {
                    (W as f32 - size * 1.2, size * 1.2)
                };
                walkers.push(Walker {
                    picture,
                    face_in_picture: face.face_width,
                    face_px: size,
                    from: (from, y),
                    to: (to, y),
                    start_secs: t,
                    end_secs: t + CROSSING_SECS,
                    blur_px: 0,
                    brightness: if dim { 0.45 } else { 1.0 },
                });
                truth.push((t, t + CROSSING_SECS, number, size));
                t += EVERY_SECS;
                crossing += 1;
            }
        }
    }
    let secs = t + 2.0;
    let dir = std::env::temp_dir().join(format!("vigil-bench-camera-faces-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let clip = dir.join("corridor.mp4");
    Scene::cctv_720p(walkers, secs).write_h264(&clip).unwrap();
    println!(
        "{secs:.0} s clip, {} crossings ({} enrolled, {} strangers' faces)",
        truth.len(),
        employees.len(),
        strangers.len().div_ceil(2)
    );

    let server = vigil_video::synth::serve_live(&clip, 0).unwrap();
    let mut body = camera_body("Corridor", "HTTP", server.url());
    body["faceRecognition"] = json!(true);
    body["faceSampleFps"] = json!(2);
    let camera = create_camera(&admin, body).await;
    let id = camera["id"].as_str().unwrap().to_string();
    wait_watching(&admin, &id).await;
    // The server starts the clip when the watcher connects: its zero.
    let zero = Utc::now();
    tokio::time::sleep(Duration::from_secs_f64(secs + 8.0)).await;

    let mut detections: Vec<Value> = Vec::new();
    for page in 1.. {
        let items = admin
            .get(format!(
                "/detections?cameraId={id}&page={page}&pageSize=100"
            ))
            .await
            .expect(200)
            .items();
        let last = items.len() < 100;
        detections.extend(items);
        if last {
            break;
        }
    }
    // Clip time of each detection's first sighting. The watcher's `watching` stage only
    // roughly marks the clip's start (the server may start on an earlier connection), so the
    // offset is found as the one under which the most named detections fall on a crossing of
    // the person they name — crossings last 4 s, one person at a time, so one offset stands
    // out — and printed.
    let firsts: Vec<(f64, Option<&str>)> = detections
        .iter()
        .map(|d| {
            let first: chrono::DateTime<Utc> = d["firstSeen"].as_str().unwrap().parse().unwrap();
            let at = (first - zero).num_milliseconds() as f64 / 1000.0;
            (at, d["personId"].as_str())
        })
        .collect();
    let walker_at = |at: f64| {
        truth
            .iter()
            .position(|w| at >= w.0 - 0.5 && at <= w.1 + 0.5)
    };
    let agreeing = |shift: f64| {
        firsts
            .iter()
            .filter(|(at, named)| {
                named.is_some()
                    && walker_at(at - shift).is_some_and(|i| truth[i].2.as_deref() == *named)
            })
            .count()
    };
    let shift = (-80..=80)
        .map(|k| k as f64 * 0.25)
        .max_by_key(|&s| agreeing(s))
        .unwrap_or(0.0);
    println!("clip offset {shift:+.2} s from the watcher's start");
    let mut enrolled = Tally::default();
    let mut others = Tally::default();
    let mut seen = vec![false; truth.len()];
    for (d, (at, named)) in detections.iter().zip(&firsts) {
        let Some(i) = walker_at(at - shift) else {
            continue;
        };
        if std::mem::replace(&mut seen[i], true) {
            continue; // a track split in two: judged by its first part
        }
        let tally = if truth[i].2.is_some() {
            &mut enrolled
        } else {
            &mut others
        };
        match (d["status"].as_str(), *named) {
            (Some("authorized"), n) if n == truth[i].2.as_deref() => tally.right += 1,
            (Some("authorized"), _) => tally.wrong += 1,
            (Some("unknown"), Some(n)) if Some(n) == truth[i].2.as_deref() => tally.pending += 1,
            (Some("unknown"), Some(_)) => tally.wrong += 1,
            _ => tally.not_recognised += 1,
        }
    }
    let n_enrolled = truth.iter().filter(|w| w.2.is_some()).count();
    for (i, w) in truth.iter().enumerate() {
        if !seen[i] {
            if w.2.is_some() {
                enrolled.missed += 1;
            } else {
                others.missed += 1;
            }
        }
    }
    println!(
        "| crossings | n | authorized, right person | pending, right person | named someone else | unknown / visitor | no detection |"
    );
    println!("|---|---|---|---|---|---|---|");
    println!("{}", enrolled.row("enrolled", n_enrolled));
    println!("{}", others.row("strangers", truth.len() - n_enrolled));
    println!("{} detections stored", detections.len());
    worker.kill9();
}
