//! `vigil models info`: what each model is, where it comes from and how big it is.

use std::path::Path;

use serde::Serialize;

use super::fetch::{self, FACE_API, HUMAN_MODELS, PackageSpec, paths};
use crate::error::Result;
use crate::tfjs::weights::{GraphModel, WeightStore};

/// Provenance and size of one model.
#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    pub name: String,
    pub task: String,
    pub package: String,
    pub version: String,
    pub license: String,
    /// SHA-256 of the npm tarball the files come from.
    pub tarball_sha256: String,
    /// Files used, relative to the cache dir.
    pub files: Vec<String>,
    /// Network input (width×height).
    pub input: String,
    /// Learned float parameters, counted from the loaded weights.
    pub parameters: usize,
}

fn info(
    name: &str,
    task: &str,
    spec: &PackageSpec,
    files: Vec<String>,
    input: &str,
    parameters: usize,
) -> ModelInfo {
    ModelInfo {
        name: name.into(),
        task: task.into(),
        package: spec.name.into(),
        version: spec.version.into(),
        license: spec.license.into(),
        tarball_sha256: spec.sha256.into(),
        files,
        input: input.into(),
        parameters,
    }
}

fn with_bin(manifest: &Path, cache: &Path) -> Vec<String> {
    let rel = |p: &Path| {
        p.strip_prefix(cache)
            .unwrap_or(p)
            .to_string_lossy()
            .into_owned()
    };
    let m = rel(manifest);
    let bin = m
        .replace("-weights_manifest.json", ".bin")
        .replace(".json", ".bin");
    vec![m, bin]
}

/// Loads every model's weights from `cache_dir` and describes it; fails with
/// [`crate::Error::MissingModels`] when the cache is empty.
pub fn model_info(cache_dir: &Path) -> Result<Vec<ModelInfo>> {
    fetch::ensure_fetched(cache_dir)?;
    let ssd = WeightStore::load_manifest(&paths::ssd(cache_dir))?;
    let lm = WeightStore::load_manifest(&paths::landmarks(cache_dir))?;
    let rec = WeightStore::load_manifest(&paths::recognition(cache_dir))?;
    let cn = GraphModel::load(&paths::centernet(cache_dir))?;
    let bf = GraphModel::load(&paths::blazeface(cache_dir))?;
    Ok(vec![
        info(
            "ssd_mobilenetv1",
            "face detection",
            &FACE_API,
            with_bin(&paths::ssd(cache_dir), cache_dir),
            "512x512",
            ssd.float_params(|n| n == "Output/extra_dim" || n.starts_with("Preprocessor")),
        ),
        info(
            "face_landmark_68",
            "68-point face landmarks",
            &FACE_API,
            with_bin(&paths::landmarks(cache_dir), cache_dir),
            "112x112",
            lm.float_params(|_| false),
        ),
        info(
            "face_recognition",
            "128-d face descriptor (ResNet-34)",
            &FACE_API,
            with_bin(&paths::recognition(cache_dir), cache_dir),
            "150x150",
            rec.float_params(|_| false),
        ),
        info(
            "centernet",
            "person / COCO object detection (MobileNetV3 CenterNet)",
            &HUMAN_MODELS,
            with_bin(&paths::centernet(cache_dir), cache_dir),
            "512x512",
            cn.weights.float_params(|_| false),
        ),
        info(
            "blazeface_back",
            "face detection for small, dim and blurred faces (BlazeFace)",
            &HUMAN_MODELS,
            with_bin(&paths::blazeface(cache_dir), cache_dir),
            "256x256",
            bf.weights.float_params(|_| false),
        ),
    ])
}
