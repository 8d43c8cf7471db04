//! Decoding throughput on a generated 60 s 1280×720 H.264 clip at 25 fps with moving content.
//!
//! `cargo bench -p vigil-video --bench decode`; `VIGIL_BENCH_RUNS=n` sets the repetitions
//! (default 3, the median is reported). Prints a Markdown table.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use vigil_video::synth::{ClipBuilder, Motion};
use vigil_video::{FrameSampler, SampleOptions, probe, scan};

const CLIP_SECS: f64 = 60.0;

/// The bench clip with the given noise strength: 20 s of colour and 40 s of a photo, under a
/// slow pan. Noise 3 gives ~0.2 Mbit/s (easy content), 8 gives a few Mbit/s, like a CCTV
/// camera at 720p.
fn clip(noise: u8) -> PathBuf {
    let photo = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sample1.jpg");
    let builder = ClipBuilder::new(1280, 720, 25.0)
        .colour("gray", 10.0)
        .still(&photo, 20.0)
        .colour("0x405060", 10.0)
        .still(&photo, 20.0)
        .motion(Motion::Pan)
        .noise(noise);
    assert_eq!(builder.duration_secs(), CLIP_SECS);
    let out = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("vigil-video-bench-60s-720p-noise{noise}.mp4"));
    if !out.is_file() {
        eprintln!("generating {} ...", out.display());
        let partial = out.with_extension("partial.mp4");
        builder.write_h264(&partial).expect("generate bench clip");
        std::fs::rename(&partial, &out).expect("move clip into place");
    }
    out
}

/// Consumes a sampler, failing on any error; returns the number of frames.
fn drain(sampler: FrameSampler) -> u64 {
    let mut frames = 0;
    for frame in sampler {
        frame.expect("frame");
        frames += 1;
    }
    frames
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn runs() -> usize {
    std::env::var("VIGIL_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(3)
}

/// Decoder settings under test: threads (0 = auto), skip non-reference frames, skip the
/// loop filter.
type Config = (usize, bool, bool);

fn options((threads, skip_non_reference, skip_loop_filter): Config) -> SampleOptions {
    SampleOptions {
        decoder_threads: threads,
        skip_non_reference,
        skip_loop_filter,
        ..SampleOptions::default()
    }
}

fn threads_label(threads: usize) -> String {
    match threads {
        0 => "auto".into(),
        n => n.to_string(),
    }
}

fn main() {
    let runs = runs();
    for noise in [3, 8] {
        bench_clip(&clip(noise), runs);
    }
    println!(
        "\nmedian of {runs} runs; 'frames' is frames decoded (full decode) or emitted \
         (sampling); CPU s is this process's user+system time, all threads"
    );
}

fn bench_clip(clip: &Path, runs: usize) {
    let location = clip.to_str().expect("utf-8 path");
    let info = probe(location).expect("probe bench clip");
    println!(
        "\n### {}x{} {} {:.0} fps, {:.1} s, {:.2} Mbit/s\n",
        info.width,
        info.height,
        info.codec,
        info.fps.unwrap_or(0.0),
        info.duration_secs.unwrap_or(0.0),
        info.bit_rate.unwrap_or(0) as f64 / 1e6
    );
    println!(
        "| mode | decoder threads | skip non-ref | skip loop filter | frames | wall s | CPU s | video-s per wall-s | video-s per CPU-s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let row = |mode: &str, threads: &str, (_, nonref, lf): Config, measured: (f64, f64, u64)| {
        let (wall, cpu, frames) = measured;
        println!(
            "| {mode} | {threads} | {} | {} | {frames} | {wall:.2} | {cpu:.2} | {:.1} | {:.1} |",
            yes_no(nonref),
            yes_no(lf),
            CLIP_SECS / wall,
            CLIP_SECS / cpu
        );
    };
    let configs: [Config; 5] = [
        (1, false, false),
        (2, false, false),
        (1, true, false),
        (1, false, true),
        (1, true, true),
    ];
    for config in configs {
        let measured = timed(runs, || {
            scan(location, &options(config)).expect("scan").frames
        });
        row(
            "full decode, no RGB",
            &threads_label(config.0),
            config,
            measured,
        );
    }
    for config in configs {
        let measured = timed(runs, || {
            drain(FrameSampler::open(location, options(config)).expect("open"))
        });
        row(
            "sample 2 fps + RGB",
            &threads_label(config.0),
            config,
            measured,
        );
    }
    // For comparison: converting every frame to RGB, as video-rs's decoder does.
    let every = SampleOptions {
        fps: 25.0,
        ..options((1, false, false))
    };
    let measured = timed(runs, || {
        drain(FrameSampler::open(location, every.clone()).expect("open"))
    });
    row("every frame + RGB", "1", (1, false, false), measured);
    // How the worker fans out: two segments on two threads, one decoder thread each.
    for config in [(1, false, false), (1, true, false), (1, true, true)] {
        let measured = timed(runs, || {
            let halves: Vec<_> = [(0.0, Some(CLIP_SECS / 2.0)), (CLIP_SECS / 2.0, None)]
                .into_iter()
                .map(|(start, end)| {
                    let location = location.to_string();
                    std::thread::spawn(move || {
                        let options = SampleOptions {
                            start_secs: start,
                            end_secs: end,
                            ..options(config)
                        };
                        drain(FrameSampler::open(&location, options).expect("open"))
                    })
                })
                .collect();
            halves.into_iter().map(|h| h.join().expect("segment")).sum()
        });
        row(
            "sample 2 fps + RGB, 2 segments in parallel",
            "1 each",
            config,
            measured,
        );
    }

    // What skipping costs in picture quality, against the exact frames.
    let exact: Vec<_> = FrameSampler::open(location, options((1, false, false)))
        .expect("open")
        .map(|f| f.expect("frame"))
        .collect();
    for config in [(1, true, false), (1, false, true), (1, true, true)] {
        let fast: Vec<_> = FrameSampler::open(location, options(config))
            .expect("open")
            .map(|f| f.expect("frame"))
            .collect();
        let (mut same, mut total_diff, mut worst) = (0, 0.0, 0.0f64);
        let mut moved = 0.0f64;
        for (a, b) in exact.iter().zip(&fast) {
            moved = moved.max(b.timestamp_secs - a.timestamp_secs);
            if a.timestamp_secs == b.timestamp_secs {
                let diff = mean_abs_diff(a.image.as_raw(), b.image.as_raw());
                same += 1;
                total_diff += diff;
                worst = worst.max(diff);
            }
        }
        println!(
            "\nskip non-ref {}, skip loop filter {}: {} of {} samples on the same frame, \
             samples moved by at most {:.0} ms; mean |Δ| per channel on the same frames: \
             average {:.2}, worst {:.2} (0–255)",
            yes_no(config.1),
            yes_no(config.2),
            same,
            exact.len(),
            moved * 1000.0,
            if same > 0 {
                total_diff / same as f64
            } else {
                0.0
            },
            worst
        );
    }
}

/// Runs `f` `runs` times; the median wall time and median CPU time (this process, all
/// threads) in seconds, and the last result.
fn timed(runs: usize, mut f: impl FnMut() -> u64) -> (f64, f64, u64) {
    let mut walls = Vec::new();
    let mut cpus = Vec::new();
    let mut result = 0;
    for _ in 0..runs {
        let (started, cpu_before) = (Instant::now(), cpu_secs());
        result = f();
        walls.push(started.elapsed());
        cpus.push(Duration::from_secs_f64(cpu_secs() - cpu_before));
    }
    (
        median(walls).as_secs_f64(),
        median(cpus).as_secs_f64(),
        result,
    )
}

/// User + system CPU time of this process from /proc (Linux; 0 elsewhere). CPU time shows
/// the cost independent of how busy the shared machine is, which wall time does not.
fn cpu_secs() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // /proc reports in USER_HZ, which is 100 on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    let sum: u64 = a.iter().zip(b).map(|(&x, &y)| x.abs_diff(y) as u64).sum();
    sum as f64 / a.len() as f64
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}
