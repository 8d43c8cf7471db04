//! Attendance figures (docs/benchmarks.md "Attendance"): capture → decision latency of
//! `POST /capture?wait=10s` with 1080p JPEGs showing one enrolled face, at steady rates, with
//! one or more `vigil worker` processes on this machine; and the latency of
//! `GET /detections/live` (the live view's poll) at a steady request rate. Needs the test
//! services (`scripts/bench-attendance.sh` starts them and runs this).
//!
//!   VIGIL_BENCH_RATES=5,10,20 VIGIL_BENCH_WORKERS=1,2 VIGIL_BENCH_SECS=20 \
//!   VIGIL_BENCH_LIVE_RATE=500 cargo bench --profile dev --bench attendance

use std::sync::Arc;
use std::time::{Duration, Instant};

use image::{Rgb, RgbImage};
use tokio::sync::Mutex;
use vigil_testkit::attendance::{Capture, capture, create_device, enroll_employee};
use vigil_testkit::cameras::lan_camera;
use vigil_testkit::media::{TARGET_BOX, TARGET_SAMPLE, media};
use vigil_testkit::{TestApp, WorkerProcess};

const VIGIL: &str = env!("CARGO_BIN_EXE_vigil");

fn env_list(name: &str, default: &[u64]) -> Vec<u64> {
    std::env::var(name)
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| default.to_vec())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// A 1920×1080 JPEG with the target's face (≈ 180 px wide) on a plain background, as a door
/// device would send it.
fn capture_jpeg() -> Vec<u8> {
    let sample = image::open(media().sample(TARGET_SAMPLE))
        .unwrap()
        .to_rgb8();
    let (x, y, w, h) = TARGET_BOX;
    let (cx, cy, cw, ch) = (x - w / 2, y - h / 2, w * 2, h * 2);
    let face = image::imageops::crop_imm(&sample, cx, cy, cw, ch).to_image();
    let mut canvas = RgbImage::from_pixel(1920, 1080, Rgb([120, 124, 128]));
    image::imageops::overlay(&mut canvas, &face, 900, 300);
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode_image(&canvas)
        .unwrap();
    out
}

async fn captures(workers: usize, rates: &[u64], secs: u64) {
    let app = TestApp::spawn().await;
    let procs: Vec<WorkerProcess> = (0..workers)
        .map(|_| app.start_worker_process(VIGIL))
        .collect();
    let admin = app.as_user(&app.admin().await);
    enroll_employee(&admin, "Bench", "EMP-1", media().target_photo()).await;
    let (device_id, key) = create_device(&admin, "Door", "ROOM-1").await;
    let device = Arc::new(app.as_user(&key));
    let jpeg = Arc::new(capture_jpeg());
    // Models load on the first capture of each worker process.
    for i in 0..(2 * workers) {
        let c = Capture {
            device_id: &device_id,
            capture_id: &format!("warm-{i}"),
            image: jpeg.to_vec(),
            timestamp: None,
            classroom_id: None,
        };
        capture(&device, c, Some("10s")).await;
    }
    for &rate in rates {
        let latencies = Arc::new(Mutex::new(Vec::new()));
        let undecided = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let total = rate * secs;
        let started = Instant::now();
        let mut tasks = Vec::new();
        for i in 0..total {
            let due = started + Duration::from_secs_f64(i as f64 / rate as f64);
            tokio::time::sleep_until(due.into()).await;
            let (device, jpeg, device_id) = (device.clone(), jpeg.clone(), device_id.clone());
            let (latencies, undecided) = (latencies.clone(), undecided.clone());
            tasks.push(tokio::spawn(async move {
                let t = Instant::now();
                let c = Capture {
                    device_id: &device_id,
                    capture_id: &format!("r{rate}-{i}"),
                    image: jpeg.to_vec(),
                    timestamp: None,
                    classroom_id: None,
                };
                let resp = capture(&device, c, Some("10s")).await;
                let ms = t.elapsed().as_secs_f64() * 1000.0;
                if resp.status() == 200 && resp.json()["data"]["status"] != "processing" {
                    latencies.lock().await.push(ms);
                } else {
                    undecided.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let mut l = latencies.lock().await.clone();
        l.sort_by(f64::total_cmp);
        println!(
            "captures workers={workers} rate={rate:>2}/s n={total:<4} decided={:<4} p50={:>6.0} ms p95={:>6.0} ms p99={:>6.0} ms undecided-within-10s={}",
            l.len(),
            percentile(&l, 0.5),
            percentile(&l, 0.95),
            percentile(&l, 0.99),
            undecided.load(std::sync::atomic::Ordering::Relaxed),
        );
    }
    drop(procs);
}

async fn live(rate: u64, secs: u64) {
    let app = TestApp::spawn().await;
    let admin = app.as_user(&app.admin().await);
    let camera = admin
        .post_json("/cameras", lan_camera("Bench", 20))
        .await
        .expect(201)
        .data();
    let id = camera["id"].as_str().unwrap().to_string();
    // A busy day of one camera: 20,000 face tracks over the last 10 hours.
    {
        let mut conn = app.ctx.db.get().await.unwrap();
        use diesel_async::RunQueryDsl;
        diesel::sql_query(format!(
        "INSERT INTO face_detections (id, camera_id, track_id, source, status, confidence, bbox, \
         face_px, frames, first_seen, last_seen) \
         SELECT gen_random_uuid(), '{id}', 'TRACK-' || n, 'stream', 'visitor', 0.2, \
         '{{\"x\":10,\"y\":10,\"width\":120,\"height\":120}}'::jsonb, 120, 5, \
         now() - (n || ' seconds')::interval * 1.8, now() - (n || ' seconds')::interval * 1.8 \
         FROM generate_series(1, 20000) n"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
        drop(conn);
    }
    let caller = Arc::new(admin);
    let path = format!("/detections/live?cameraId={id}&limit=20");
    let latencies = Arc::new(Mutex::new(Vec::with_capacity((rate * secs) as usize)));
    let errors = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..rate * secs {
        let due = started + Duration::from_secs_f64(i as f64 / rate as f64);
        tokio::time::sleep_until(due.into()).await;
        let (caller, path, latencies, errors) = (
            caller.clone(),
            path.clone(),
            latencies.clone(),
            errors.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let resp = caller.get(&path).send().await;
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            if resp.status() == 200 {
                latencies.lock().await.push(ms);
            } else {
                errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let achieved = (rate * secs) as f64 / started.elapsed().as_secs_f64();
    let mut l = latencies.lock().await.clone();
    l.sort_by(f64::total_cmp);
    println!(
        "live detections rate={rate}/s achieved={achieved:.0}/s n={} p50={:.1} ms p95={:.1} ms p99={:.1} ms max={:.1} ms errors={}",
        l.len(),
        percentile(&l, 0.5),
        percentile(&l, 0.95),
        percentile(&l, 0.99),
        l.last().copied().unwrap_or(f64::NAN),
        errors.load(std::sync::atomic::Ordering::Relaxed),
    );
}

#[tokio::main]
async fn main() {
    let secs = env_list("VIGIL_BENCH_SECS", &[20])[0];
    let rates = env_list("VIGIL_BENCH_RATES", &[5, 10, 20]);
    for workers in env_list("VIGIL_BENCH_WORKERS", &[1, 2]) {
        captures(workers as usize, &rates, secs).await;
    }
    for rate in env_list("VIGIL_BENCH_LIVE_RATE", &[500]) {
        live(rate, 10).await;
    }
}
