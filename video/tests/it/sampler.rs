use vigil_video::synth::{ClipBuilder, Motion};
use vigil_video::{Frame, FrameSampler, SampleOptions, VideoError, scan};

use crate::common::{TempDir, clip, mean, path_str, photo, remux_ts, spread, standard_clip};

fn sample(path: &std::path::Path, options: SampleOptions) -> Vec<Frame> {
    FrameSampler::open(path_str(path), options)
        .expect("open sampler")
        .collect::<Result<Vec<_>, _>>()
        .expect("sampling")
}

fn range(fps: f64, start: f64, end: Option<f64>) -> SampleOptions {
    SampleOptions {
        fps,
        start_secs: start,
        end_secs: end,
        ..SampleOptions::default()
    }
}

/// Timestamps and sample indices, for comparing passes.
fn keys(frames: &[Frame]) -> Vec<(u64, f64)> {
    frames
        .iter()
        .map(|f| (f.sample_index, f.timestamp_secs))
        .collect()
}

#[test]
fn two_fps_over_ten_seconds_gives_twenty_frames_on_the_grid() {
    let frames = sample(&standard_clip(), range(2.0, 0.0, None));
    assert_eq!(frames.len(), 20);
    for (k, frame) in frames.iter().enumerate() {
        let grid = k as f64 / 2.0;
        // The first 25 fps frame at or after the grid time.
        let expected = (grid * 25.0).ceil() / 25.0;
        assert_eq!(frame.sample_index, k as u64);
        assert!(
            (frame.timestamp_secs - expected).abs() < 1e-6,
            "frame {k}: {} vs {expected}",
            frame.timestamp_secs
        );
        assert_eq!((frame.width(), frame.height()), (1280, 720));
        assert_eq!(frame.image.as_raw().len(), 1280 * 720 * 3);
    }
}

#[test]
fn segments_sample_exactly_the_frames_of_one_pass() {
    // Keyframes every 1.2 s, so segment starts fall inside GOPs and need real seeking.
    let clip = clip(
        &ClipBuilder::new(640, 360, 25.0)
            .colour("gray", 4.0)
            .still(photo(), 5.0)
            .colour("gray", 1.0)
            .motion(Motion::Pan)
            .keyint(30),
    );
    let whole = sample(&clip, range(2.0, 0.0, None));
    assert_eq!(whole.len(), 20);

    let mut parts = sample(&clip, range(2.0, 0.0, Some(4.0)));
    let mut second = FrameSampler::open(path_str(&clip), range(2.0, 4.0, Some(10.0))).unwrap();
    parts.extend(second.by_ref().collect::<Result<Vec<_>, _>>().unwrap());
    assert_eq!(keys(&parts), keys(&whole));
    // It sought to a keyframe shortly before 4 s instead of decoding from the beginning.
    let decoded = second.stats().decoded_frames;
    assert!((150..=185).contains(&decoded), "decoded {decoded} frames");
    for (a, b) in parts.iter().zip(&whole) {
        assert!(a.image == b.image, "pixels differ at {}", a.timestamp_secs);
    }

    // Boundaries off the grid and off keyframes, at a rate that does not divide 25 fps.
    let whole = sample(&clip, range(3.0, 0.0, None));
    let mut parts = Vec::new();
    for (start, end) in [(0.0, Some(3.3)), (3.3, Some(7.1)), (7.1, None)] {
        parts.extend(sample(&clip, range(3.0, start, end)));
    }
    assert_eq!(keys(&parts), keys(&whole));
}

#[test]
fn segments_match_in_mpegts_too() {
    let dir = TempDir::new("segments-ts");
    let ts = dir.path("clip.ts");
    remux_ts(&standard_clip(), &ts);
    let whole = sample(&ts, range(2.0, 0.0, None));
    assert_eq!(
        keys(&whole),
        keys(&sample(&standard_clip(), range(2.0, 0.0, None)))
    );
    let mut parts = Vec::new();
    for (start, end) in [(0.0, Some(4.0)), (4.0, Some(6.5)), (6.5, None)] {
        parts.extend(sample(&ts, range(2.0, start, end)));
    }
    assert_eq!(keys(&parts), keys(&whole));
}

#[test]
fn slow_video_frames_are_sampled_once_each() {
    // 5 fps content sampled at 10 fps: each frame serves two grid points but appears once.
    let clip = clip(
        &ClipBuilder::new(320, 240, 5.0)
            .colour("red", 4.0)
            .motion(Motion::Pan),
    );
    let whole = sample(&clip, range(10.0, 0.0, None));
    assert_eq!(whole.len(), 20);
    assert!(
        whole
            .windows(2)
            .all(|w| w[0].timestamp_secs < w[1].timestamp_secs)
    );
    let mut parts = sample(&clip, range(10.0, 0.0, Some(1.05)));
    parts.extend(sample(&clip, range(10.0, 1.05, None)));
    assert_eq!(keys(&parts), keys(&whole));
}

#[test]
fn the_photo_is_visible_exactly_while_it_is_shown() {
    let frames = sample(&standard_clip(), range(2.0, 0.0, None));
    for frame in &frames {
        let t = frame.timestamp_secs;
        let (spread, mean) = (spread(&frame.image), mean(&frame.image));
        if (4.0..9.0).contains(&t) {
            assert!(spread > 20.0, "photo expected at {t}: spread {spread}");
        } else {
            assert!(spread < 3.0, "gray expected at {t}: spread {spread}");
            assert!(
                (mean - 128.0).abs() < 8.0,
                "gray expected at {t}: mean {mean}"
            );
        }
    }
}

#[test]
fn a_range_past_the_end_is_empty() {
    let frames = sample(&standard_clip(), range(2.0, 30.0, Some(40.0)));
    assert!(frames.is_empty());
}

#[test]
fn the_last_segment_stops_at_the_end_of_the_video() {
    let mut sampler =
        FrameSampler::open(path_str(&standard_clip()), range(2.0, 8.0, None)).unwrap();
    let frames: Vec<_> = sampler.by_ref().collect::<Result<_, _>>().unwrap();
    assert_eq!(frames.first().map(|f| f.sample_index), Some(16));
    assert_eq!(frames.len(), 4);
    let stats = sampler.stats();
    assert!(!stats.ended_early, "{stats:?}");
    assert_eq!(stats.emitted_frames, 4);
    assert!(stats.decoded_frames >= 50, "{stats:?}");
}

#[test]
fn invalid_options_are_rejected() {
    let clip = standard_clip();
    for options in [
        range(0.0, 0.0, None),
        range(f64::NAN, 0.0, None),
        range(2.0, -1.0, None),
        range(2.0, 5.0, Some(5.0)),
        SampleOptions {
            start_secs: 3.0,
            ..SampleOptions::live()
        },
    ] {
        let err = FrameSampler::open(path_str(&clip), options.clone())
            .err()
            .unwrap_or_else(|| panic!("accepted {options:?}"));
        assert!(matches!(err, VideoError::InvalidOptions(_)), "{err:?}");
    }
}

#[test]
fn scan_counts_every_frame() {
    let report = scan(path_str(&standard_clip()), &SampleOptions::default()).unwrap();
    assert_eq!(report.frames, 250);
    assert_eq!(report.corrupt_packets, 0);
    assert!((report.last_timestamp_secs.unwrap() - 9.96).abs() < 1e-6);
    let report = scan(
        path_str(&standard_clip()),
        &SampleOptions {
            end_secs: Some(2.0),
            ..SampleOptions::default()
        },
    )
    .unwrap();
    assert_eq!(report.frames, 50);
}

#[test]
fn decoder_settings_do_not_change_the_frames() {
    let clip = standard_clip();
    let one = sample(&clip, range(2.0, 0.0, None));
    let auto = sample(
        &clip,
        SampleOptions {
            decoder_threads: 0,
            ..range(2.0, 0.0, None)
        },
    );
    assert_eq!(keys(&one), keys(&auto));
    assert!(one.iter().zip(&auto).all(|(a, b)| a.image == b.image));

    // Skipping non-reference frames may move a sample to a neighbouring frame, never more.
    let skipping = sample(
        &clip,
        SampleOptions {
            skip_non_reference: true,
            ..range(2.0, 0.0, None)
        },
    );
    assert!(skipping.len() >= 19, "{}", skipping.len());
    let unfiltered = sample(
        &clip,
        SampleOptions {
            skip_loop_filter: true,
            ..range(2.0, 0.0, None)
        },
    );
    assert_eq!(keys(&unfiltered), keys(&one));
    for (a, b) in one.iter().zip(&unfiltered) {
        let diff: u64 = a
            .image
            .as_raw()
            .iter()
            .zip(b.image.as_raw())
            .map(|(&x, &y)| u64::from(x.abs_diff(y)))
            .sum();
        let mean = diff as f64 / a.image.as_raw().len() as f64;
        assert!(
            mean < 8.0,
            "deblocking skipped at {}: mean |Δ| {mean}",
            a.timestamp_secs
        );
    }
    for frame in &skipping {
        let grid = frame.sample_index as f64 / 2.0;
        assert!(frame.timestamp_secs >= grid && frame.timestamp_secs < grid + 0.2);
    }
}

#[test]
fn cancelling_stops_the_sampler() {
    let mut sampler =
        FrameSampler::open(path_str(&standard_clip()), range(2.0, 0.0, None)).unwrap();
    assert!(sampler.next().unwrap().is_ok());
    sampler.cancel_handle().cancel();
    let outcome: Vec<_> = sampler
        .by_ref()
        .map(|r| r.map(|f| f.timestamp_secs))
        .collect();
    assert!(
        matches!(outcome.last(), Some(Err(VideoError::Cancelled))),
        "{outcome:?}"
    );
    assert!(outcome.len() <= 3);
}
