//! Shared helpers: temporary directories, the photo fixture and generated clips.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use image::RgbImage;
use vigil_video::synth::ClipBuilder;

/// A directory under cargo's per-target scratch space, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "vigil-video-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The face photo (face-api's sample1, scaled to 960 px) used as still content.
pub fn photo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sample1.jpg")
}

/// The standard clip: 1280×720 at 25 fps, gray for 4 s, the photo for 5 s, gray for 1 s.
pub fn standard_clip() -> PathBuf {
    clip(&standard_builder())
}

/// The clip `builder` describes, generated once and kept in cargo's scratch directory under a
/// name derived from the builder's settings (encoding is the slow part of these tests).
pub fn clip(builder: &ClipBuilder) -> PathBuf {
    static LOCK: Mutex<()> = Mutex::new(());
    let mut hasher = DefaultHasher::new();
    format!("{builder:?}").hash(&mut hasher);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("vigil-video-clips");
    let out = dir.join(format!("{:016x}.mp4", hasher.finish()));
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if !out.is_file() {
        std::fs::create_dir_all(&dir).expect("create clip dir");
        // Written under a temporary name so a concurrent test process never sees half a file.
        let partial = dir.join(format!("partial-{}.mp4", std::process::id()));
        builder.write_h264(&partial).expect("generate clip");
        std::fs::rename(&partial, &out).expect("move clip into place");
    }
    out
}

pub fn standard_builder() -> ClipBuilder {
    ClipBuilder::new(1280, 720, 25.0)
        .colour("gray", 4.0)
        .still(photo(), 5.0)
        .colour("gray", 1.0)
}

pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// Standard deviation of all channel values: ~0 for a flat colour, large for a photo.
pub fn spread(image: &RgbImage) -> f64 {
    let raw = image.as_raw();
    let n = raw.len() as f64;
    let mean = raw.iter().map(|&v| v as f64).sum::<f64>() / n;
    (raw.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n).sqrt()
}

pub fn mean(image: &RgbImage) -> f64 {
    let raw = image.as_raw();
    raw.iter().map(|&v| v as f64).sum::<f64>() / raw.len() as f64
}

/// Copies the streams of `src` into an MPEG-TS file (a container that seeks only
/// approximately and does not start at timestamp 0).
pub fn remux_ts(src: &Path, dst: &Path) {
    let status = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i"])
        .arg(src)
        .args(["-c", "copy", "-f", "mpegts"])
        .arg(dst)
        .status()
        .expect("run ffmpeg");
    assert!(status.success(), "remux to MPEG-TS failed");
}
