//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong while fetching, loading or running a model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("i/o error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("model fetch failed: {0}")]
    Fetch(String),
    #[error("checksum mismatch for {file}: expected {expected}, got {actual}")]
    Checksum {
        file: String,
        expected: String,
        actual: String,
    },
    #[error(
        "model files missing in {0} — run `vigil models fetch` (or call vigil_models::fetch_models) first"
    )]
    MissingModels(PathBuf),
    #[error("bad weights: {0}")]
    Weights(String),
    #[error("unsupported graph: {0}")]
    Graph(String),
    #[error("bad input: {0}")]
    Input(String),
    /// An image over the pixel cap of [`DecodeLimits`](crate::decode::DecodeLimits), refused
    /// before anything the size of the image was allocated.
    #[error(
        "the image is {width}×{height} pixels, more than the {} limit",
        crate::decode::megapixels(*.max_pixels)
    )]
    ImageTooLarge {
        width: u64,
        height: u64,
        max_pixels: u64,
    },
    /// A file that cannot be a usable image: truncated, or declaring values no encoder writes
    /// (the reason says which, in words a user can act on).
    #[error("{0}")]
    BadImage(String),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    #[error(transparent)]
    Image(#[from] image::ImageError),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

/// Crate-wide result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}
