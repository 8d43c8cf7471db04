//! Camera watchers at scale: N loopback cameras (1280×720 H.264 at 25 fps showing face-api's
//! sample 5, five people) counted at 1 sampled frame per second by one or more `vigil worker`
//! processes on this machine. For each N it prints CPU per camera, detector time per frame,
//! the rest of the CPU per frame (demuxing, decoding, colour conversion), the worst lag
//! (frame received → analysed), the share of expected frames analysed, and at the end the
//! largest N that keeps up (lag under 2 s and at least 95 % of the frames analysed). Needs
//! the test services (`scripts/bench-cameras.sh` starts them and runs this).
//!
//!   VIGIL_BENCH_CAMERAS=4,8,16,20 VIGIL_BENCH_WORKERS=1 cargo bench --profile dev --bench cameras
//!
//! `VIGIL_BENCH_MOTION=pan` makes every frame differ (a slow pan with sensor noise, 1280×720):
//! the still clip's P-frames are nearly empty, so it understates decoding.

use std::time::{Duration, Instant};

use serde_json::Value;
use vigil_testkit::cameras::{camera_body, people_clip};
use vigil_testkit::{TestApp, WorkerProcess};

const VIGIL: &str = env!("CARGO_BIN_EXE_vigil");
const WARM_UP: Duration = Duration::from_secs(25);
const MEASURE: Duration = Duration::from_secs(40);
const MAX_LAG_MS: u64 = 2000;

fn env_list(name: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(name)
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| default.to_vec())
}

/// User + system CPU seconds of the processes so far (Linux `/proc`, 100 ticks per second).
fn cpu_secs(pids: &[u32]) -> f64 {
    pids.iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .map(|stat| {
            // Fields after the command name (which may contain spaces): state is field 3.
            let rest = &stat[stat.rfind(')').unwrap_or(0) + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks: f64 =
                f[11].parse::<f64>().unwrap_or(0.0) + f[12].parse::<f64>().unwrap_or(0.0);
            ticks / 100.0
        })
        .sum()
}

struct Row {
    cameras: usize,
    cpu_per_camera: f64,
    model_ms: f64,
    other_ms: f64,
    max_lag_ms: u64,
    analysed: f64,
}

impl Row {
    fn keeps_up(&self) -> bool {
        self.max_lag_ms < MAX_LAG_MS && self.analysed >= 0.95
    }
}

/// Every watcher's counters (`framesAnalysed`, `lagMs`), by camera.
async fn counters(app: &TestApp, token: &str, ids: &[String]) -> Vec<Value> {
    let caller = app.as_user(token);
    let mut out = Vec::new();
    for id in ids {
        let camera = caller.get_data(format!("/cameras/{id}")).await;
        let job = camera["watcherJobId"].as_str().unwrap_or_default();
        let job = caller.get_data(format!("/jobs/{job}")).await;
        out.push(job["counters"].clone());
    }
    out
}

/// The cameras' picture: sample 5 (five people) as a still, or panned with noise.
fn clip() -> std::path::PathBuf {
    if std::env::var("VIGIL_BENCH_MOTION").as_deref() != Ok("pan") {
        return people_clip(5);
    }
    let media = vigil_testkit::media::media();
    let out = media.path("bench-camera-pan.mp4");
    if !out.exists() {
        vigil_video::synth::ClipBuilder::new(1280, 720, 25.0)
            .still(media.sample(5), 20.0)
            .motion(vigil_video::synth::Motion::Pan)
            .noise(8)
            .write_h264(&out)
            .expect("panning clip");
    }
    out
}

async fn run(n: usize, workers: usize) -> Row {
    let app = TestApp::spawn_with(|c| {
        c.worker_queue_concurrency = format!("live={n},search=2,vision=1");
        c.camera_count_window_secs = 10;
    })
    .await;
    let procs: Vec<WorkerProcess> = (0..workers)
        .map(|_| app.start_worker_process(VIGIL))
        .collect();
    let pids: Vec<u32> = procs.iter().map(WorkerProcess::pid).collect();
    let token = app.admin().await;
    let admin = app.as_user(&token);
    let clip = clip();
    let servers: Vec<_> = (0..n)
        .map(|_| vigil_video::synth::serve_live(&clip, 0).unwrap())
        .collect();
    let mut ids = Vec::new();
    for (i, s) in servers.iter().enumerate() {
        let camera = admin
            .post_json(
                "/cameras",
                camera_body(&format!("Bench {i}"), "HTTP", s.url()),
            )
            .await
            .expect(201)
            .data();
        ids.push(camera["id"].as_str().unwrap().to_string());
    }
    tokio::time::sleep(WARM_UP).await;
    let before = counters(&app, &token, &ids).await;
    let cpu0 = cpu_secs(&pids);
    let t0 = Instant::now();
    let from = chrono::Utc::now();
    tokio::time::sleep(MEASURE).await;
    let cpu = cpu_secs(&pids) - cpu0;
    let secs = t0.elapsed().as_secs_f64();
    let after = counters(&app, &token, &ids).await;
    let frames = |v: &Value| v["framesAnalysed"].as_f64().unwrap_or(0.0);
    let analysed: f64 = before
        .iter()
        .zip(&after)
        .map(|(b, a)| frames(a) - frames(b))
        .sum();
    let max_lag_ms = after
        .iter()
        .filter_map(|c| c["lagMs"].as_u64())
        .max()
        .unwrap_or(u64::MAX);
    let from = from.to_rfc3339();
    let windows = admin
        .get("/camera-counts")
        .query(&[("from", from.as_str()), ("pageSize", "100")])
        .await
        .expect(200)
        .items();
    let model_ms = windows
        .iter()
        .filter_map(|w| w["inferenceTimeMs"].as_f64())
        .sum::<f64>()
        / windows.len().max(1) as f64;
    let cpu_ms_per_frame = cpu * 1000.0 / analysed.max(1.0);
    drop(servers);
    drop(procs);
    Row {
        cameras: n,
        cpu_per_camera: cpu / secs / n as f64,
        model_ms,
        other_ms: (cpu_ms_per_frame - model_ms).max(0.0),
        max_lag_ms,
        analysed: analysed / (n as f64 * secs),
    }
}

#[tokio::main]
async fn main() {
    let sizes = env_list("VIGIL_BENCH_CAMERAS", &[4, 8, 12, 16, 20]);
    let workers = env_list("VIGIL_BENCH_WORKERS", &[1]);
    for w in workers {
        let content = match std::env::var("VIGIL_BENCH_MOTION").as_deref() {
            Ok("pan") => "panning with noise",
            _ => "still",
        };
        println!(
            "\n{w} worker process(es), 1280x720 H.264 25 fps ({content}), 1 sampled fps per camera"
        );
        println!(
            "cameras | CPU cores/camera | detector ms/frame | other CPU ms/frame | max lag ms | frames analysed | keeps up"
        );
        let mut best = 0;
        for &n in &sizes {
            let r = run(n, w).await;
            println!(
                "{:>7} | {:>16.3} | {:>17.1} | {:>18.1} | {:>10} | {:>14.0}% | {}",
                r.cameras,
                r.cpu_per_camera,
                r.model_ms,
                r.other_ms,
                r.max_lag_ms,
                r.analysed * 100.0,
                if r.keeps_up() { "yes" } else { "no" }
            );
            if r.keeps_up() {
                best = best.max(n);
            }
        }
        println!("largest N that keeps up with {w} worker(s): {best}");
    }
}
