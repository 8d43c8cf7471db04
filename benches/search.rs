//! Search speed end to end, through the API: a 60 s 1280×720 H.264 clip searched at 2 sampled
//! frames per second by 1 and then 2 separate worker processes, reported as seconds of video
//! per wall-clock second (the clock runs from submission to the search's end), beside the
//! decode-only ceiling of the same clips. Needs the test services (`scripts/bench-search.sh`
//! starts them and runs this).
//!
//!   VIGIL_BENCH_WORKERS=1,2 VIGIL_BENCH_SEGMENT_SECS=10 cargo bench --profile dev --bench search

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use vigil_testkit::TestApp;
use vigil_testkit::reqwest::multipart::{Form, Part};
use vigil_video::synth::{ClipBuilder, Motion};

const VIGIL: &str = env!("CARGO_BIN_EXE_vigil");

async fn data(resp: vigil_testkit::reqwest::Response) -> Value {
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert!(status.is_success(), "{status}: {body}");
    body["data"].clone()
}

async fn poll(app: &TestApp, token: &str, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    loop {
        let v = data(
            app.client
                .get(app.url(path))
                .bearer_auth(token)
                .send()
                .await
                .unwrap(),
        )
        .await;
        if done(&v) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn upload(app: &TestApp, token: &str, path: &Path) -> String {
    let form = Form::new().part(
        "file",
        Part::bytes(std::fs::read(path).unwrap()).file_name("clip.mp4"),
    );
    let v = data(
        app.client
            .post(app.url("/api/v1/videos"))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let id = v["id"].as_str().unwrap().to_string();
    poll(app, token, &format!("/api/v1/videos/{id}"), |v| {
        v["status"] == "ready"
    })
    .await;
    id
}

async fn search(
    app: &TestApp,
    token: &str,
    person: &str,
    video: &str,
    segment: f64,
) -> (f64, Value) {
    let started = Instant::now();
    let s = data(
        app.client
            .post(app.url("/api/v1/searches"))
            .bearer_auth(token)
            .json(&json!({ "missingPersonIds": [person], "videoIds": [video],
                           "settings": { "sampleFps": 2, "segmentSecs": segment,
                                         "notifyReviewers": false } }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let id = s["id"].as_str().unwrap();
    let status = poll(app, token, &format!("/api/v1/searches/{id}/status"), |s| {
        matches!(
            s["status"].as_str(),
            Some("succeeded" | "failed" | "cancelled")
        )
    })
    .await;
    assert_eq!(status["status"], "succeeded", "{status}");
    (started.elapsed().as_secs_f64(), status)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let workers: Vec<usize> = std::env::var("VIGIL_BENCH_WORKERS")
        .unwrap_or_else(|_| "1,2".into())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    let segment: f64 = std::env::var("VIGIL_BENCH_SEGMENT_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10.0);
    // Search jobs each worker process runs at once (default: the configuration's default).
    let concurrency: Option<usize> = std::env::var("VIGIL_BENCH_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok());

    let dir = tempfile_dir();
    let cache = vigil_models::default_cache_dir();
    vigil_models::fetch_models(&cache).unwrap();
    for n in 1..=6 {
        vigil_models::load_rgb(&vigil_models::fetch::paths::sample_image(&cache, n))
            .unwrap()
            .save(dir.join(format!("s{n}.png")))
            .unwrap();
    }
    // Ten seconds of each group photo (3–5 faces each): once as a fixed camera sees it (the
    // scene changes six times), once panning (every sampled frame differs: the worst case).
    let mut clips = Vec::new();
    for (name, motion) in [("static", Motion::None), ("panning", Motion::Pan)] {
        let clip = dir.join(format!("bench-60s-{name}.mp4"));
        let mut builder = ClipBuilder::new(1280, 720, 25.0).motion(motion);
        for n in [1, 2, 3, 4, 5, 6] {
            builder = builder.still(dir.join(format!("s{n}.png")), 10.0);
        }
        builder.write_h264(&clip).unwrap();
        clips.push((name, clip));
    }
    for (name, clip) in &clips {
        for parts in [1, 2] {
            // Best of two: the first pass also pays for reading the new file from disk.
            let secs = decode_only(clip, parts).min(decode_only(clip, parts));
            println!(
                "decode  {name:<8} {parts} segment(s) in parallel  60 s of video sampled at 2 fps in {secs:.2} s = {:.1}x real time  (ceiling: no models)",
                60.0 / secs
            );
        }
    }
    let face = image::open(dir.join("s1.png")).unwrap().to_rgb8();
    let face = image::imageops::crop_imm(&face, 307, 212, 392, 524).to_image();
    let mut png = std::io::Cursor::new(Vec::new());
    face.write_to(&mut png, image::ImageFormat::Png).unwrap();

    for &n in &workers {
        let app = TestApp::spawn_with(|c| {
            if let Some(n) = concurrency {
                c.worker_queue_concurrency = format!("search={n},vision=1");
            }
        })
        .await;
        let per_process = app
            .ctx
            .config
            .concurrency_for(vigil_core::jobs::kinds::SEARCH_SEGMENT.queue);
        let token = app.admin().await;
        let mut procs: Vec<_> = (0..n).map(|_| app.start_worker_process(VIGIL)).collect();
        let person = data(
            app.client
                .post(app.url("/api/v1/missing-persons"))
                .bearer_auth(&token)
                .json(&json!({ "name": "Bench Target" }))
                .send()
                .await
                .unwrap(),
        )
        .await["id"]
            .as_str()
            .unwrap()
            .to_string();
        let form = Form::new().part(
            "photos",
            Part::bytes(png.get_ref().clone()).file_name("t.png"),
        );
        data(
            app.client
                .post(app.url(&format!("/api/v1/missing-persons/{person}/photos")))
                .bearer_auth(&token)
                .multipart(form)
                .send()
                .await
                .unwrap(),
        )
        .await;
        poll(
            &app,
            &token,
            &format!("/api/v1/missing-persons/{person}"),
            |p| p["photos"]["enrolled"] == 1,
        )
        .await;
        for (i, (name, clip)) in clips.iter().enumerate() {
            let video = upload(&app, &token, clip).await;
            if i == 0 {
                // Warm-up: every worker process loads the models once.
                search(&app, &token, &person, &video, segment).await;
            }
            let (secs, status) = search(&app, &token, &person, &video, segment).await;
            let frames = status["framesProcessed"].as_i64().unwrap_or_default();
            let analysed = status["framesAnalysed"].as_i64().unwrap_or_default();
            println!(
                "search  {name:<8} workers={n} concurrency={per_process} segment={segment:.0}s  60 s of video in {secs:.2} s = {:.1}x real time  ({frames} frames sampled, {analysed} analysed, {} appearance(s))",
                60.0 / secs,
                status["appearances"]
            );
        }
        for p in &mut procs {
            p.kill9();
        }
    }
}

/// Wall time to sample the whole clip at 2 fps exactly as search segments do (RGB frames,
/// non-reference frames skipped), split into `parts` ranges decoded on as many threads.
fn decode_only(clip: &Path, parts: usize) -> f64 {
    let started = Instant::now();
    let step = 60.0 / parts as f64;
    std::thread::scope(|scope| {
        for i in 0..parts {
            scope.spawn(move || {
                let options = vigil_video::SampleOptions {
                    fps: 2.0,
                    start_secs: i as f64 * step,
                    end_secs: Some((i + 1) as f64 * step),
                    skip_non_reference: true,
                    ..Default::default()
                };
                let sampler =
                    vigil_video::FrameSampler::open(clip.to_str().unwrap(), options).unwrap();
                for frame in sampler {
                    std::hint::black_box(frame.unwrap());
                }
            });
        }
    });
    started.elapsed().as_secs_f64()
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("vigil-bench-search-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
