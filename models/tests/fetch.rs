//! The weight cache: idempotent fetch, checksum enforcement, model info.

mod common;

use vigil_models::fetch::{self, PACKAGES, is_fetched};
use vigil_models::{fetch_models, model_info};

#[test]
fn fetch_is_idempotent_and_complete() {
    let cache = common::cache();
    let again = fetch_models(&cache).expect("second fetch");
    for r in &again {
        assert!(!r.downloaded, "{} was downloaded again", r.package);
    }
    for p in PACKAGES {
        assert!(is_fetched(&cache, &p));
    }
    let files: Vec<&String> = again.iter().flat_map(|r| &r.files).collect();
    for needed in [
        "face-api/model/ssd_mobilenetv1_model-weights_manifest.json",
        "face-api/model/face_landmark_68_model.bin",
        "face-api/model/face_recognition_model.bin",
        "face-api/demo/sample6.jpg",
        "human-models/models/centernet.json",
        "human-models/models/centernet.bin",
        "human-models/models/blazeface-back.json",
        "human-models/models/blazeface-back.bin",
    ] {
        assert!(
            files.iter().any(|f| f.ends_with(needed)),
            "{needed} missing"
        );
    }
    // Only the needed files are unpacked (no tiny detector, age/gender, ...).
    assert!(
        !files
            .iter()
            .any(|f| f.contains("tiny_face_detector") || f.contains("nanodet"))
    );
}

#[test]
fn checksum_mismatch_is_refused() {
    let dir = std::env::temp_dir().join(format!("vigil-fetch-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("x.tgz");
    std::fs::write(&f, b"not the pinned tarball").unwrap();
    let sum = fetch::sha256_file(&f).unwrap();
    assert_ne!(sum, fetch::FACE_API.sha256);
    assert_eq!(sum.len(), 64);
    // An empty cache reports missing models instead of panicking.
    let err = vigil_models::FacePipeline::load(&dir).unwrap_err();
    assert!(
        matches!(err, vigil_models::Error::MissingModels(_)),
        "{err}"
    );
    assert!(vigil_models::PersonDetector::load(&dir).is_err());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn model_info_lists_five_models_with_parameters() {
    let infos = model_info(&common::cache()).expect("info");
    assert_eq!(infos.len(), 5);
    for i in &infos {
        println!(
            "{:18} {:>10} params  {}@{}  sha256 {}",
            i.name, i.parameters, i.package, i.version, i.tarball_sha256
        );
        assert!(
            i.parameters > 10_000,
            "{} has {} parameters",
            i.name,
            i.parameters
        );
        assert_eq!(i.tarball_sha256.len(), 64);
    }
}
