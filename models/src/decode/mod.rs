//! Image files → `RgbImage`. Decoding sits apart from the networks because it is the one
//! place where bytes from users arrive in this crate: the networks only ever see an
//! `RgbImage` of known size, so everything about hostile input (formats, limits, damaged
//! files) is handled here and nowhere else.
//!
//! What is not here: resizing and normalising for a network (`kernels::image_ops`), and video
//! frames (decoded by the video crate).

pub mod jpeg;

use std::path::Path;

use image::RgbImage;

use crate::error::Result;

/// Decodes an image file to RGB8. JPEGs go through [`jpeg::decode_jpeg`], which gives
/// the same pixels as the reference implementation's decoder (jpeg-js); anything else, and
/// JPEG variants that decoder does not handle, through the `image` crate. Grayscale, RGBA and
/// 16-bit inputs are converted.
pub fn load_rgb(path: &Path) -> Result<RgbImage> {
    let bytes = std::fs::read(path).map_err(crate::error::io_err(path))?;
    decode_rgb(&bytes)
}

/// [`load_rgb`] on in-memory file contents.
pub fn decode_rgb(bytes: &[u8]) -> Result<RgbImage> {
    if bytes.starts_with(&[0xFF, 0xD8]) {
        match jpeg::decode_jpeg(bytes) {
            Ok(img) => return Ok(img),
            Err(e) => {
                tracing::debug!("jpeg-js compatible decoder declined ({e}); using image crate")
            }
        }
    }
    Ok(image::load_from_memory(bytes)?.to_rgb8())
}
