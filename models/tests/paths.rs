//! The crate's public paths from before `src/` was grouped into folders must keep resolving:
//! other crates (the worker, the root CLI, benches) and any outside code name them. This file
//! only has to compile; each `use` is one path that must not break.
#![allow(unused_imports)]

// Re-exported at the root.
use vigil_models::{
    BBox, CenterNetConfig, Detection, Error, Face, FaceBox, FacePipeline, FacesReport, FetchReport,
    Gallery, Match, ModelInfo, Person, PersonDetector, PersonsReport, Result, SsdConfig,
    decode_rgb, default_cache_dir, fetch_models, load_rgb, model_info,
};
// Used by other crates.
use vigil_models::fetch::{PACKAGES, ensure_fetched, is_fetched, paths::sample_image};
use vigil_models::gallery::{STRICT_THRESHOLD, distance, similarity};
// The old flat module names.
use vigil_models::centernet::PersonDetector as _;
use vigil_models::conv::ConvKernel;
use vigil_models::depthwise::{
    Act, AddAct, ChannelAffine, ChannelScale, DepthwiseConv, Elem, MaxPool, set_use_candle_grouped,
    use_candle_grouped,
};
use vigil_models::graph::CompiledGraph;
use vigil_models::image_ops::Rect;
use vigil_models::info::ModelInfo as _;
use vigil_models::jpeg::decode_jpeg;
use vigil_models::landmarks::LandmarkNet;
use vigil_models::layers::{Conv2d, Depthwise, Padding};
use vigil_models::pipeline::Threads;
use vigil_models::recognition::DESCRIPTOR_LEN;
use vigil_models::sgemm::{MR, NR, available, pack_a, set_disabled};
use vigil_models::ssd::SsdMobilenetV1;
use vigil_models::weights::{RawTensor, TensorData};

#[test]
fn old_paths_still_resolve() {
    assert!(matches!(
        Error::MissingModels(std::path::PathBuf::new()),
        vigil_models::Error::MissingModels(_)
    ));
    // The AVX-512 switch has one state whichever path sets it.
    set_disabled(true);
    assert!(!available() && !vigil_models::kernels::cpu::avx512());
    set_disabled(false);
}
