//! Vision models on candle. No database, HTTP or video code lives here: callers hand in RGB
//! images and get detections, landmarks and embeddings back.
//!
//! - [`fetch_models`] puts the pinned, checksummed weights in a cache directory
//!   ([`default_cache_dir`]) that runs and tests share; [`model_info`] describes them.
//! - [`FacePipeline`]: SSD-MobileNetV1 face detector → 68 landmarks → dlib-aligned crop →
//!   128-d descriptor ([`Face`]); [`Gallery`] matches descriptors.
//! - [`PersonDetector`]: CenterNet persons (and other COCO classes) ([`Detection`]).
//!
//! Results reproduce the original JavaScript implementations (face-api, human) to within
//! float rounding; see `docs/models.md`.

pub mod alloc;
pub mod centernet;
pub mod conv;
pub mod depthwise;
pub mod error;
pub mod fetch;
pub mod gallery;
pub mod graph;
pub mod image_ops;
pub mod info;
pub mod jpeg;
pub mod landmarks;
pub mod layers;
pub mod pipeline;
pub mod recognition;
pub mod sgemm;
pub mod ssd;
pub mod weights;

pub use centernet::{CenterNetConfig, Detection, Person, PersonDetector, PersonsReport};
pub use error::{Error, Result};
pub use fetch::{FetchReport, default_cache_dir, fetch_models};
pub use gallery::{Gallery, Match};
pub use info::{ModelInfo, model_info};
pub use pipeline::{BBox, Face, FacePipeline, FacesReport, decode_rgb, load_rgb};
pub use ssd::{FaceBox, SsdConfig};
