//! Image files → `RgbImage`. Decoding sits apart from the networks because it is the one
//! place where bytes from users arrive in this crate: the networks only ever see an
//! `RgbImage` of known size, so everything about hostile input (formats, limits, damaged
//! files) is handled here and nowhere else.
//!
//! Every decode is bounded by [`DecodeLimits`]: the image's declared size is checked against
//! a pixel cap before anything that size is allocated (a ~1 KB JPEG declaring 255 components
//! of 10000×10000 once made the whole process allocate 24 GB), and what the decoders may
//! allocate in total follows from the same cap.
//!
//! What is not here: resizing and normalising for a network (`kernels::image_ops`), and video
//! frames (decoded by the video crate).

pub mod jpeg;

use std::io::{Cursor, Read};
use std::path::Path;

use image::{ImageError, ImageReader, RgbImage};

use crate::error::{Error, Result};

/// How large an image [`decode_rgb_with`] and [`load_rgb_with`] accept. One number, the pixel
/// cap, bounds everything: the size check, the `image` crate's own limits and the memory the
/// decoders may take ([`max_alloc_bytes`](Self::max_alloc_bytes)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Most pixels (width × height) an image may have.
    pub max_pixels: u64,
}

impl DecodeLimits {
    /// 40 megapixels: above the usual photos (phones save 12 MP by default, most cameras
    /// 20–33 MP) and far beyond what the 512-pixel networks can use; full-resolution modes
    /// of 48 MP and larger sensors need a higher setting.
    pub const DEFAULT_MAX_PIXELS: u64 = 40_000_000;

    /// Memory decoding may take per allowed pixel. The jpeg-js-compatible decoder keeps every
    /// DCT coefficient until the end (4 bytes per sample: progressive files refine them scan
    /// by scan), then one byte per sample per component plane and 3 for the RGB result: 18
    /// bytes per pixel for a 3-component file without chroma subsampling, the most it takes.
    /// The `image` crate needs at most 8 (16-bit RGBA) plus the 3 of the RGB conversion.
    pub const BYTES_PER_PIXEL: u64 = 18;

    /// Memory allowed on top of [`BYTES_PER_PIXEL`](Self::BYTES_PER_PIXEL): JPEG codes whole
    /// blocks of up to 32×32 pixels, so a decoder holds up to 31 more columns and rows than
    /// the image has — at most ~61 MB for a 65535-pixel-wide sliver, next to nothing for
    /// photos.
    pub const SLACK_BYTES: u64 = 64 << 20;

    /// A cap of `max_pixels`.
    pub const fn new(max_pixels: u64) -> Self {
        DecodeLimits { max_pixels }
    }

    /// The most memory one decode may allocate: [`BYTES_PER_PIXEL`](Self::BYTES_PER_PIXEL)
    /// per allowed pixel plus [`SLACK_BYTES`](Self::SLACK_BYTES) (784 MB at the default cap).
    /// Also the largest file [`load_rgb_with`] reads.
    pub fn max_alloc_bytes(&self) -> u64 {
        self.max_pixels
            .saturating_mul(Self::BYTES_PER_PIXEL)
            .saturating_add(Self::SLACK_BYTES)
    }

    /// Refuses a `width`×`height` image with no pixels or more than the cap.
    pub fn check_size(&self, width: u64, height: u64) -> Result<()> {
        if width == 0 || height == 0 {
            return Err(Error::BadImage(format!(
                "the image is {width}×{height} pixels: it has no pixels"
            )));
        }
        if width.saturating_mul(height) > self.max_pixels {
            return Err(Error::ImageTooLarge {
                width,
                height,
                max_pixels: self.max_pixels,
            });
        }
        Ok(())
    }

    /// The same bounds in the `image` crate's terms. A side cannot be longer than the pixel
    /// count, and the crate checks its output buffer and its decoders' own buffers against
    /// `max_alloc`.
    fn image_limits(&self) -> image::Limits {
        let side = u32::try_from(self.max_pixels).unwrap_or(u32::MAX);
        let mut l = image::Limits::default();
        l.max_image_width = Some(side);
        l.max_image_height = Some(side);
        l.max_alloc = Some(self.max_alloc_bytes());
        l
    }
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits::new(Self::DEFAULT_MAX_PIXELS)
    }
}

/// `40 MP`, `2.5 MP` or `5000 pixels`, for messages about the cap.
pub(crate) fn megapixels(n: u64) -> String {
    if n < 10_000 {
        return format!("{n} pixels");
    }
    let s = format!("{:.2}", n as f64 / 1e6);
    format!("{} MP", s.trim_end_matches('0').trim_end_matches('.'))
}

/// [`load_rgb_with`] under the default [`DecodeLimits`].
pub fn load_rgb(path: &Path) -> Result<RgbImage> {
    load_rgb_with(path, &DecodeLimits::default())
}

/// Decodes an image file to RGB8 (see [`decode_rgb_with`]). A file larger than
/// [`DecodeLimits::max_alloc_bytes`] is refused without being read whole: no image within the
/// cap needs that many bytes.
pub fn load_rgb_with(path: &Path, limits: &DecodeLimits) -> Result<RgbImage> {
    let max = limits.max_alloc_bytes();
    let too_big = || {
        Error::BadImage(format!(
            "the file is larger than {} MB, more than any image within the {} limit needs",
            max >> 20,
            megapixels(limits.max_pixels)
        ))
    };
    let file = std::fs::File::open(path).map_err(crate::error::io_err(path))?;
    let len = file.metadata().map_err(crate::error::io_err(path))?.len();
    if len > max {
        return Err(too_big());
    }
    // The file may grow between the size check and the read.
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(crate::error::io_err(path))?;
    if bytes.len() as u64 > max {
        return Err(too_big());
    }
    decode_rgb_with(&bytes, limits)
}

/// [`decode_rgb_with`] under the default [`DecodeLimits`].
pub fn decode_rgb(bytes: &[u8]) -> Result<RgbImage> {
    decode_rgb_with(bytes, &DecodeLimits::default())
}

/// Decodes in-memory file contents to RGB8 within `limits`. JPEGs go through
/// [`jpeg::decode_jpeg_with`], which gives the same pixels as the reference implementation's
/// decoder (jpeg-js); other formats, and JPEG variants that decoder does not implement
/// (arithmetic coding, 12-bit, CMYK, damaged entropy-coded data), through the `image` crate.
/// Grayscale, RGBA and 16-bit inputs are converted.
///
/// Fails with [`Error::ImageTooLarge`] above the cap and [`Error::BadImage`] for files that
/// cannot be a usable image (truncated, impossible header values); both are decided from
/// the headers, before the image is decoded.
pub fn decode_rgb_with(bytes: &[u8], limits: &DecodeLimits) -> Result<RgbImage> {
    if bytes.starts_with(&[0xFF, 0xD8]) {
        match jpeg::decode(bytes, limits) {
            Ok(img) => return Ok(img),
            Err(jpeg::Fail::Refuse(e)) => return Err(e),
            Err(jpeg::Fail::Decline(why)) => {
                tracing::debug!("jpeg-js compatible decoder declined ({why}); using image crate")
            }
        }
    }
    decode_with_image_crate(bytes, limits)
}

/// The `image` crate's decoders, after the header's size has passed [`DecodeLimits`]: they are
/// told the same limits, so a header that lies about the size cannot make them allocate more.
fn decode_with_image_crate(bytes: &[u8], limits: &DecodeLimits) -> Result<RgbImage> {
    let reader = || -> Result<ImageReader<Cursor<&[u8]>>> {
        let mut r = ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(ImageError::from)?;
        r.limits(limits.image_limits());
        Ok(r)
    };
    let limit_err = |e: ImageError| match e {
        ImageError::Limits(l) => Error::BadImage(format!(
            "decoding the image would take more memory than the {} limit allows ({l})",
            megapixels(limits.max_pixels)
        )),
        e => Error::Image(e),
    };
    let (w, h) = reader()?.into_dimensions().map_err(limit_err)?;
    limits.check_size(w.into(), h.into())?;
    Ok(reader()?.decode().map_err(limit_err)?.to_rgb8())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn megapixels_reads_well() {
        assert_eq!(megapixels(40_000_000), "40 MP");
        assert_eq!(megapixels(2_500_000), "2.5 MP");
        assert_eq!(megapixels(123_456), "0.12 MP");
        assert_eq!(megapixels(5000), "5000 pixels");
    }

    #[test]
    fn too_large_message_names_size_and_limit() {
        let e = DecodeLimits::default()
            .check_size(10_000, 10_000)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "the image is 10000×10000 pixels, more than the 40 MP limit"
        );
        assert!(DecodeLimits::default().check_size(8000, 5000).is_ok());
        assert!(DecodeLimits::default().check_size(0, 5).is_err());
    }
}
