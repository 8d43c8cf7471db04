//! Vision models on candle. No database, HTTP or video code lives here: callers hand in RGB
//! images and get detections, landmarks and embeddings back.
//!
//! - [`fetch_models`] puts the pinned, checksummed weights in a cache directory
//!   ([`default_cache_dir`]) that runs and tests share; [`model_info`] describes them.
//! - [`FacePipeline`]: SSD-MobileNetV1 face detector → 68 landmarks → dlib-aligned crop →
//!   128-d descriptor ([`Face`]); [`Gallery`] matches descriptors.
//! - [`PersonDetector`]: CenterNet persons (and other COCO classes) ([`Detection`]).
//! - [`decode_rgb`] / [`load_rgb`] turn image files into the `RgbImage`s the models take.
//!
//! Results reproduce the original JavaScript implementations (face-api, human) to within
//! float rounding; see `docs/models.md`.
//!
//! Layout, by what things are: [`nets`] (the networks, the face pipeline, matching),
//! [`kernels`] (CPU compute), [`tfjs`] (weight files, TF layer conventions, the graph
//! executor), [`cache`] (fetching and describing the weights), [`decode`] (image files).

pub mod cache;
pub mod decode;
pub mod error;
pub mod exposure;
pub mod kernels;
pub mod nets;
pub mod tfjs;

pub use cache::fetch::{FetchReport, default_cache_dir, fetch_models};
pub use cache::info::{ModelInfo, model_info};
pub use decode::{decode_rgb, load_rgb};
pub use error::{Error, Result};
pub use kernels::cpu::{Precision, with_precision};
pub use nets::centernet::{
    CenterNetConfig, CenterNetInput, Detection, Person, PersonDetector, PersonsReport,
};
pub use nets::gallery::{Gallery, Match};
pub use nets::pipeline::{BBox, Face, FacePipeline, FacesReport};
pub use nets::ssd::{FaceBox, SsdConfig};

// The flat module paths from before the crate was grouped into folders
// (`vigil_models::gallery::similarity`, `vigil_models::fetch::ensure_fetched`, …), kept so code
// outside the crate need not change. New code should use the grouped paths.
pub use cache::{fetch, info};
pub use decode::jpeg;
pub use kernels::{alloc, conv, image_ops};
pub use nets::{blazeface, centernet, gallery, landmarks, pipeline, recognition, ssd};
pub use tfjs::{graph, layers, weights};

/// The old `depthwise` module, which also held the epilogue, the elementwise ops and max
/// pooling before they got files of their own.
pub mod depthwise {
    pub use crate::kernels::depthwise::*;
    pub use crate::kernels::epilogue::{Act, AddAct, ChannelAffine, ChannelScale, Elem};
    pub use crate::kernels::pool::MaxPool;
}

/// The old `sgemm` module, which also held the AVX-512 switch now in [`kernels::cpu`].
pub mod sgemm {
    pub use crate::kernels::cpu::{avx512 as available, set_avx512_disabled as set_disabled};
    pub use crate::kernels::sgemm::*;
}
