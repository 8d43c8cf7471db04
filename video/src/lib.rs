//! Vigil's video input: probing uploads and stream URLs, sampling RGB frames on a global time
//! grid from files and live streams, JPEG thumbnails, and synthetic test media.
//!
//! Everything here is blocking; the worker calls it from `tokio::task::spawn_blocking`.
//!
//! Every open goes through an [`Input`], which fixes what FFmpeg may do for that kind of
//! source (protocol and container whitelists, no redirects, verified TLS); stream URLs come
//! from `vigil_core::egress` already checked and rewritten to an IP address.
//!
//! Decoding uses FFmpeg through video-rs, and through the ffmpeg-next it re-exports where
//! video-rs lacks what is needed (see `source.rs` for why). There is no database, HTTP or job
//! code in this crate.

mod error;
mod input;
mod motion;
mod probe;
mod sampler;
pub mod scene;
mod source;
pub mod synth;
mod thumb;

pub use error::VideoError;
pub use input::{HTTP_STREAM_FORMATS, Input, InputKind, StreamProtocol, UPLOAD_FORMATS};
pub use motion::{Shift, Sketch};
pub use probe::{VideoInfo, probe, probe_with};
pub use sampler::{
    DEFAULT_MAX_PIXELS, Frame, FrameSampler, SampleOptions, SamplerStats, ScanReport, scan,
};
pub use source::CancelHandle;
pub use thumb::{CropBox, crop_box, crop_jpeg, encode_jpeg, shrink_to};

/// Initialises FFmpeg once per process and routes its log output to `tracing` (target
/// `video`), so that FFmpeg does not write to stderr behind the logger's back.
pub(crate) fn init() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        if let Err(e) = video_rs::init() {
            tracing::warn!(error = %e, "FFmpeg initialisation reported an error");
        }
    });
}
