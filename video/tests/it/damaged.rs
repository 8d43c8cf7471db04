use vigil_video::synth::{self, ClipBuilder, Motion};
use vigil_video::{FrameSampler, SampleOptions, VideoError, probe};

use crate::common::{TempDir, clip, path_str, photo};

fn moving_clip(faststart: bool) -> std::path::PathBuf {
    clip(
        &ClipBuilder::new(640, 360, 25.0)
            .colour("gray", 3.0)
            .still(photo(), 7.0)
            .motion(Motion::Pan)
            .keyint(25)
            .faststart(faststart),
    )
}

#[test]
fn corruption_in_the_middle_is_skipped() {
    let dir = TempDir::new("corrupt");
    let path = dir.path("corrupt.mp4");
    synth::corrupt_copy(moving_clip(false), &path, 0.5, 16 * 1024).unwrap();

    let mut sampler = FrameSampler::open(path_str(&path), SampleOptions::default()).unwrap();
    let mut times = Vec::new();
    for item in sampler.by_ref() {
        match item {
            Ok(frame) => times.push(frame.timestamp_secs),
            Err(e) => panic!("corrupt data should be skipped, got {e}"),
        }
    }
    assert!(times.iter().filter(|&&t| t < 4.0).count() >= 8, "{times:?}");
    assert!(
        times.iter().any(|&t| t > 7.0),
        "nothing after the damage: {times:?}"
    );
    assert!(times.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn heavy_corruption_never_panics() {
    let dir = TempDir::new("corrupt-heavy");
    let source = moving_clip(true);
    for (i, (at, len)) in [(0.02, 4096), (0.3, 200_000), (0.9, 50_000), (0.0, 64)]
        .into_iter()
        .enumerate()
    {
        let path = dir.path(&format!("c{i}.mp4"));
        synth::corrupt_copy(&source, &path, at, len).unwrap();
        // Any outcome but a panic or a hang is acceptable for arbitrary damage.
        let _ = probe(path_str(&path));
        if let Ok(sampler) = FrameSampler::open(path_str(&path), SampleOptions::default()) {
            let n = sampler.take(100).count();
            assert!(n <= 20 + 1);
        }
    }
}

#[test]
fn a_truncated_file_with_its_index_in_front_ends_cleanly() {
    let dir = TempDir::new("truncated");
    let path = dir.path("cut.mp4");
    synth::truncated_copy(moving_clip(true), &path, 0.5).unwrap();

    let info = probe(path_str(&path)).expect("the header is intact");
    assert!((info.duration_secs.unwrap() - 10.0).abs() < 0.1);

    let mut sampler = FrameSampler::open(path_str(&path), SampleOptions::default()).unwrap();
    let frames: Vec<_> = sampler
        .by_ref()
        .collect::<Result<_, VideoError>>()
        .expect("a truncated file ends without an error");
    assert!(
        frames.len() >= 4 && frames.len() < 18,
        "{} frames",
        frames.len()
    );
    let stats = sampler.stats();
    assert!(stats.ended_early, "{stats:?}");
}

#[test]
fn a_truncated_file_without_its_index_cannot_be_opened() {
    let dir = TempDir::new("truncated-moov");
    let path = dir.path("cut.mp4");
    synth::truncated_copy(moving_clip(false), &path, 0.8).unwrap();
    let err = FrameSampler::open(path_str(&path), SampleOptions::default())
        .err()
        .expect("no index, no video");
    assert!(matches!(err, VideoError::NotVideo(_)), "{err:?}");
}
