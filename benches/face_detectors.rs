//! Face detectors compared on footage with known truth (docs/benchmarks.md "Face detectors on
//! busy footage"): the recall bench's fixed 1280×720 corridor camera (H.264 at 1.5 Mbit/s,
//! sensor noise, three people crossing at all times, faces 40–200 px, 30 % dimmed, 30 %
//! motion-blurred), decoded at 2 fps as a search decodes it. On every sampled frame each
//! detector configuration runs on its own and is scored against where every face is:
//! recall by face width and condition, detections that match no face, and milliseconds per
//! frame. No services needed.
//!
//!   cargo bench --profile dev --bench face_detectors
//!   VIGIL_THREADS=2 (default 1: a search segment's detector shares the cores with another)

use std::time::Instant;

use image::RgbImage;
use vigil_models::blazeface::BlazeFace;
use vigil_models::image_ops::Rect;
use vigil_models::{FaceBox, FacePipeline, Precision, SsdConfig, with_precision};
use vigil_testkit::media::media;
use vigil_testkit::scenes::crossing_crowd;
use vigil_video::scene::{Scene, Walker};
use vigil_video::{FrameSampler, Input, SampleOptions};

const W: u32 = 1280;
const H: u32 = 720;
const SECS: f64 = 90.0;
const BUCKETS: [&str; 4] = ["40–60 px", "60–80 px", "80–120 px", "120+ px"];
const CONDITIONS: [&str; 3] = ["clear", "dim", "blurred"];

fn bucket(size: f32) -> usize {
    match size {
        s if s < 60.0 => 0,
        s if s < 80.0 => 1,
        s if s < 120.0 => 2,
        _ => 3,
    }
}

/// A face fully on screen at a frame: centre, width, bucket, condition.
struct Truth {
    cx: f32,
    cy: f32,
    width: f32,
    bucket: usize,
    condition: usize,
}

fn truth(walkers: &[Walker], t: f64) -> Vec<Truth> {
    walkers
        .iter()
        .filter_map(|w| {
            let (cx, cy) = w.position(t)?;
            let half = w.face_px / 2.0;
            // Faces are about 1.3× as tall as wide.
            let inside = cx - half >= 0.0
                && cx + half <= W as f32
                && cy - half * 1.3 >= 0.0
                && cy + half * 1.3 <= H as f32;
            inside.then(|| Truth {
                cx,
                cy,
                width: w.face_px,
                bucket: bucket(w.face_px),
                condition: if w.blur_px > 0 {
                    2
                } else if w.brightness < 1.0 {
                    1
                } else {
                    0
                },
            })
        })
        .collect()
}

fn matches(b: &FaceBox, t: &Truth) -> bool {
    let (cx, cy) = (b.x + b.width / 2.0, b.y + b.height / 2.0);
    let close = (cx - t.cx).abs() <= t.width * 0.5 && (cy - t.cy).abs() <= t.width * 0.65;
    close && b.width >= t.width * 0.5 && b.width <= t.width * 2.0
}

/// One detector configuration's tally.
#[derive(Default)]
struct Tally {
    found: [[u32; 3]; 4],
    faces: [[u32; 3]; 4],
    unmatched: u32,
    frames: u32,
    ms: f64,
    passes: u64,
}

fn main() {
    let threads: usize = std::env::var("VIGIL_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let faces = media().sample_faces();
    let heads: Vec<(RgbImage, f32)> = faces
        .iter()
        .map(|f| (f.head.clone(), f.face_width))
        .collect();
    let walkers = crossing_crowd(&heads, SECS, 5);
    let dir = std::env::temp_dir().join(format!("vigil-bench-detectors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let clip = dir.join("crowd.mp4");
    Scene::cctv_720p(walkers.clone(), SECS)
        .write_h264(&clip)
        .unwrap();

    let cache = vigil_models::default_cache_dir();
    vigil_models::fetch_models(&cache).unwrap();
    // Leaked: the configurations below are boxed closures over them, some wrapped again.
    let ssd: &'static FacePipeline = Box::leak(Box::new(
        FacePipeline::load(&cache)
            .unwrap()
            .with_config(SsdConfig {
                crop_padding: true,
                ..SsdConfig::default()
            })
            .with_threads(threads)
            .unwrap(),
    ));
    let blaze: &'static BlazeFace = Box::leak(Box::new(
        BlazeFace::load(&cache)
            .unwrap()
            .with_threads(threads)
            .unwrap(),
    ));
    type Run = Box<dyn Fn(&RgbImage) -> (Vec<FaceBox>, u64)>;
    let detectors = || -> Vec<(&str, Run)> {
        vec![
            (
                "SSD, full frame (512×288)",
                Box::new(move |img| (ssd.detect_boxes(img).unwrap(), 1)),
            ),
            (
                "BlazeFace, full frame (256 letterboxed), human's threshold 0.2",
                Box::new(move |img| {
                    let r = Rect {
                        x: 0,
                        y: 0,
                        width: W,
                        height: H,
                    };
                    (blaze.detect_region(img, r).unwrap(), 1)
                }),
            ),
            (
                "SSD + BlazeFace's extra faces at ≥ 0.3 (search with small faces)",
                Box::new(move |img| (ssd.detect_boxes_all_sizes(img).unwrap(), 2)),
            ),
        ]
    };
    let mut configs: Vec<(String, Run)> = detectors()
        .into_iter()
        .map(|(name, run)| (name.to_string(), run))
        .collect();
    // The same in bf16 (what search runs where the CPU has AMX tiles or AVX-512 BF16).
    if vigil_models::kernels::cpu::bf16() {
        for (name, run) in detectors() {
            let run: Run = Box::new(move |img| with_precision(Precision::Bf16, || run(img)));
            configs.push((format!("{name}, bf16"), run));
        }
    } else {
        println!("no bf16 GEMM on this CPU (neither AMX nor AVX-512 BF16): no bf16 rows");
    }
    let mut tallies: Vec<Tally> = configs.iter().map(|_| Tally::default()).collect();

    let sampler = FrameSampler::open(Input::file(&clip), SampleOptions::default()).unwrap();
    for frame in sampler {
        let frame = frame.unwrap();
        let truth = truth(&walkers, frame.timestamp_secs);
        for ((_, run), tally) in configs.iter().zip(tallies.iter_mut()) {
            let t = Instant::now();
            let (boxes, passes) = run(&frame.image);
            tally.ms += t.elapsed().as_secs_f64() * 1e3;
            tally.passes += passes;
            tally.frames += 1;
            for f in &truth {
                tally.faces[f.bucket][f.condition] += 1;
                if boxes.iter().any(|b| matches(b, f)) {
                    tally.found[f.bucket][f.condition] += 1;
                }
            }
            tally.unmatched += boxes
                .iter()
                .filter(|b| !truth.iter().any(|f| matches(b, f)))
                .count() as u32;
        }
    }

    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "face detectors on {SECS:.0} s of busy 720p footage at 2 fps; {threads} thread(s); {cpu}; load {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    for ((name, _), t) in configs.iter().zip(&tallies) {
        println!(
            "\n{name}: {:.1} ms/frame ({:.1} passes/frame), {:.2} unmatched boxes/frame",
            t.ms / t.frames as f64,
            t.passes as f64 / t.frames as f64,
            t.unmatched as f64 / t.frames as f64
        );
        for (b, label) in BUCKETS.iter().enumerate() {
            let cells: Vec<String> = CONDITIONS
                .iter()
                .enumerate()
                .map(|(c, cond)| {
                    let (found, all) = (t.found[b][c], t.faces[b][c]);
                    format!(
                        "{cond} {found}/{all} ({:.0} %)",
                        100.0 * found as f64 / all.max(1) as f64
                    )
                })
                .collect();
            println!("  {label:>9}: {}", cells.join(", "));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
