//! Peak memory while refusing hostile images. The reported ~1 KB JPEG (255 components,
//! 10000×10000, no scan data) made the process grow to 24 GB; each crafted file here must be
//! refused within 200 MB of peak-RSS growth.
//!
//! Its own test binary with a single test: peak RSS (`VmHWM`) is per process, so other tests
//! running alongside would blur the figures. Run with `--nocapture` to see them. It uses only
//! `decode_rgb`, so the same file also measures a build from before the limits existed.

mod craft;

use std::time::Instant;

const BUDGET_MB: u64 = 200;

/// A field of `/proc/self/status` in kB (Linux only).
fn status_kb(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Resets `VmHWM` to the current RSS (Linux ≥ 4.0); false where that is not allowed, and the
/// figures are then peaks since the start of the test, an upper bound.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

#[test]
fn hostile_images_are_refused_in_bounded_memory() {
    if status_kb("VmHWM:").is_none() {
        eprintln!("no /proc/self/status here: peak memory not measured");
        return;
    }
    // Smallest expected damage first, the reported file last: a build without the limits
    // runs out of memory on it (run such a build under `ulimit -v`).
    let files: Vec<(&str, Vec<u8>)> = vec![
        (
            "PNG declaring 100000×100000",
            craft::png_bomb(100_000, 100_000),
        ),
        (
            "JPEG 6000×6000 (36 MP), 3 components, no scan data",
            craft::headers(6000, 6000, 3),
        ),
        (
            "JPEG 1024×1024, 255 components, no scan data",
            craft::headers(1024, 1024, 255),
        ),
        (
            "JPEG 10000×10000, 3 components, no scan data",
            craft::headers(10_000, 10_000, 3),
        ),
        (
            "JPEG 10000×10000, 255 components, no scan data (the report)",
            craft::reported_bomb(),
        ),
    ];
    let start = status_kb("VmHWM:").unwrap();
    let mut over = Vec::new();
    for (name, bytes) in &files {
        let exact = reset_peak();
        let base = status_kb("VmRSS:").unwrap();
        let t = Instant::now();
        let result = vigil_models::decode_rgb(bytes);
        let took = t.elapsed();
        let peak = status_kb("VmHWM:").unwrap();
        let grew_mb = peak.saturating_sub(if exact { base } else { start }) / 1024;
        let outcome = match &result {
            Ok(img) => format!("decoded {}×{}", img.width(), img.height()),
            Err(e) => format!("refused: {e}"),
        };
        eprintln!(
            "{name} ({} bytes): peak RSS +{grew_mb} MB, {:.0} ms, {outcome}",
            bytes.len(),
            took.as_secs_f64() * 1e3
        );
        if result.is_ok() || grew_mb >= BUDGET_MB {
            over.push(format!("{name}: +{grew_mb} MB, {outcome}"));
        }
    }
    assert!(
        over.is_empty(),
        "each file must be refused with under {BUDGET_MB} MB of peak growth; these were not:\n{}",
        over.join("\n")
    );
}
