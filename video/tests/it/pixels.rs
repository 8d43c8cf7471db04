//! The pixel cap: pictures above `SampleOptions::max_pixels` fail with a clear reason before
//! they are allocated or converted, whether the stream declares them up front or switches to
//! them mid-way.

use std::path::Path;
use std::process::Command;

use vigil_video::synth::ClipBuilder;
use vigil_video::{FrameSampler, Input, SampleOptions, VideoError, probe, probe_with, scan};

use crate::common::{TempDir, clip, standard_clip};

const CAP: u64 = 640 * 480;

fn capped() -> SampleOptions {
    SampleOptions {
        max_pixels: CAP,
        ..SampleOptions::default()
    }
}

fn is_too_large(err: &VideoError, size: (u32, u32)) -> bool {
    matches!(err, VideoError::TooLarge { width, height, max_pixels }
        if (*width, *height) == size && *max_pixels == CAP)
}

#[test]
fn a_declared_picture_above_the_cap_is_refused_at_open() {
    let clip = Input::file(standard_clip());
    let err = FrameSampler::open(&clip, capped())
        .err()
        .expect("too large");
    assert!(is_too_large(&err, (1280, 720)), "{err:?}");
    assert_eq!(err.user_message(), "the video's picture is too large");
    assert!(!err.is_transient());
    assert!(is_too_large(
        &probe_with(&clip, &capped()).unwrap_err(),
        (1280, 720)
    ));
    assert!(is_too_large(
        &scan(&clip, &capped()).unwrap_err(),
        (1280, 720)
    ));
    // The default cap takes 4K and more.
    assert_eq!(probe(&clip).unwrap().width, 1280);
}

/// Remuxes `src` into MPEG-TS with its timestamps moved by `offset_secs`.
fn to_ts(src: &Path, dst: &Path, offset_secs: f64) {
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i"])
        .arg(src)
        .args(["-c", "copy", "-output_ts_offset", &offset_secs.to_string()])
        .args(["-f", "mpegts"])
        .arg(dst)
        .status()
        .expect("run ffmpeg");
    assert!(status.success());
}

#[test]
fn a_stream_that_grows_mid_way_is_stopped_before_conversion() {
    // A camera switching from 320×240 to 1280×720 after 2 s, as one MPEG-TS stream.
    let dir = TempDir::new("pixels-grow");
    let small = clip(
        &ClipBuilder::new(320, 240, 10.0)
            .colour("red", 2.0)
            .keyint(10),
    );
    let large = clip(
        &ClipBuilder::new(1280, 720, 10.0)
            .colour("blue", 2.0)
            .keyint(10),
    );
    let (a, b) = (dir.path("a.ts"), dir.path("b.ts"));
    to_ts(&small, &a, 0.0);
    to_ts(&large, &b, 2.0);
    let mut bytes = std::fs::read(&a).unwrap();
    bytes.extend(std::fs::read(&b).unwrap());
    let grows = dir.path("grows.ts");
    std::fs::write(&grows, bytes).unwrap();

    // Uncapped, both sizes decode (the file is what it claims).
    let sizes: Vec<(u32, u32)> = FrameSampler::open(Input::file(&grows), SampleOptions::default())
        .unwrap()
        .map(|f| f.map(|f| (f.width(), f.height())))
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        sizes.contains(&(320, 240)) && sizes.contains(&(1280, 720)),
        "{sizes:?}"
    );

    let mut sampler = FrameSampler::open(Input::file(&grows), capped()).expect("opens small");
    let mut small_frames = 0;
    let err = loop {
        match sampler.next() {
            Some(Ok(frame)) => {
                assert_eq!((frame.width(), frame.height()), (320, 240));
                small_frames += 1;
            }
            Some(Err(e)) => break e,
            None => panic!("the large part passed the cap"),
        }
    };
    assert!(small_frames >= 3, "{small_frames} frames before the switch");
    assert!(is_too_large(&err, (1280, 720)), "{err:?}");
}

#[test]
fn a_zero_cap_is_invalid() {
    let options = SampleOptions {
        max_pixels: 0,
        ..SampleOptions::default()
    };
    let err = FrameSampler::open(Input::file(standard_clip()), options)
        .err()
        .unwrap();
    assert!(matches!(err, VideoError::InvalidOptions(_)), "{err:?}");
}
