//! JPEG thumbnails of frames and of detected boxes.

use image::error::{EncodingError, ImageFormatHint};
use image::imageops::{self, FilterType};
use image::{ImageError, ImageFormat, RgbImage};

use crate::error::VideoError;

/// A rectangle in pixel coordinates of a frame, as detectors report it (fractional values and
/// boxes that stick out of the frame are fine).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CropBox {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
}

/// Encodes an RGB image as baseline JPEG (4:2:0 chroma); `quality` is clamped to 1–100.
///
/// With the `jpeg-encoder` crate (SIMD on x86-64), not `image`'s encoder: a 220 px face
/// thumbnail took 0.45 ms against 1.73 ms and came out half the size, and a search stores
/// several per analysed frame (docs/benchmarks.md, "Where the time goes").
pub fn encode_jpeg(image: &RgbImage, quality: u8) -> Result<Vec<u8>, VideoError> {
    let failed = |e: Box<dyn std::error::Error + Send + Sync>| {
        VideoError::Image(ImageError::Encoding(EncodingError::new(
            ImageFormatHint::Exact(ImageFormat::Jpeg),
            e,
        )))
    };
    let (Ok(width), Ok(height)) = (u16::try_from(image.width()), u16::try_from(image.height()))
    else {
        return Err(failed("a JPEG is at most 65,535 pixels each way".into()));
    };
    let mut out = Vec::with_capacity(image.as_raw().len() / 10);
    jpeg_encoder::Encoder::new(&mut out, quality.clamp(1, 100))
        .encode(image.as_raw(), width, height, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| failed(e.into()))?;
    Ok(out)
}

/// Cuts `bbox` out of `image`, grown by `margin` × its width/height on every side (0.25 adds a
/// quarter of the box on the left, the right, the top and the bottom), clamped to the image,
/// and shrunk so its longer side is at most `max_side` pixels (never enlarged).
///
/// Returns `None` when the box does not overlap the image or is degenerate.
pub fn crop_box(image: &RgbImage, bbox: CropBox, margin: f32, max_side: u32) -> Option<RgbImage> {
    let values = [bbox.x, bbox.y, bbox.width, bbox.height, margin];
    if values.iter().any(|v| !v.is_finite()) || bbox.width <= 0.0 || bbox.height <= 0.0 {
        return None;
    }
    let margin = margin.max(0.0);
    let (img_w, img_h) = (image.width() as f32, image.height() as f32);
    let x0 = (bbox.x - bbox.width * margin).floor().clamp(0.0, img_w);
    let y0 = (bbox.y - bbox.height * margin).floor().clamp(0.0, img_h);
    let x1 = (bbox.x + bbox.width * (1.0 + margin))
        .ceil()
        .clamp(0.0, img_w);
    let y1 = (bbox.y + bbox.height * (1.0 + margin))
        .ceil()
        .clamp(0.0, img_h);
    let (w, h) = ((x1 - x0) as u32, (y1 - y0) as u32);
    if w == 0 || h == 0 {
        return None;
    }
    let crop = imageops::crop_imm(image, x0 as u32, y0 as u32, w, h).to_image();
    Some(shrink_to(crop, max_side))
}

/// [`crop_box`] followed by [`encode_jpeg`]; `Ok(None)` when the box misses the image.
pub fn crop_jpeg(
    image: &RgbImage,
    bbox: CropBox,
    margin: f32,
    max_side: u32,
    quality: u8,
) -> Result<Option<Vec<u8>>, VideoError> {
    crop_box(image, bbox, margin, max_side)
        .map(|crop| encode_jpeg(&crop, quality))
        .transpose()
}

/// Shrinks `image` so its longer side is at most `max_side` (0 means no limit), keeping the
/// aspect ratio; smaller images are returned unchanged.
pub fn shrink_to(image: RgbImage, max_side: u32) -> RgbImage {
    let long = image.width().max(image.height());
    if max_side == 0 || long <= max_side {
        return image;
    }
    let scale = max_side as f64 / long as f64;
    let w = ((image.width() as f64 * scale).round() as u32).max(1);
    let h = ((image.height() as f64 * scale).round() as u32).max(1);
    // Triangle (bilinear with a support matching the scale) avoids the aliasing of nearest
    // and costs far less than Lanczos, which thumbnails of this size do not need.
    imageops::resize(&image, w, h, FilterType::Triangle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    fn gradient(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| Rgb([(x % 256) as u8, (y % 256) as u8, 128]))
    }

    #[test]
    fn jpeg_round_trips() {
        let img = gradient(64, 48);
        let jpeg = encode_jpeg(&img, 85).unwrap();
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
        let decoded = image::load_from_memory(&jpeg).unwrap().to_rgb8();
        assert_eq!(decoded.dimensions(), (64, 48));
    }

    #[test]
    fn crop_adds_margin_and_clamps() {
        let img = gradient(200, 100);
        let bbox = CropBox {
            x: 50.0,
            y: 20.0,
            width: 40.0,
            height: 20.0,
        };
        let crop = crop_box(&img, bbox, 0.25, 0).unwrap();
        assert_eq!(crop.dimensions(), (60, 30));
        assert_eq!(crop.get_pixel(0, 0), img.get_pixel(40, 15));

        let edge = CropBox {
            x: 180.0,
            y: -10.0,
            width: 40.0,
            height: 40.0,
        };
        let crop = crop_box(&img, edge, 0.5, 0).unwrap();
        assert_eq!(crop.dimensions(), (40, 50));
    }

    #[test]
    fn crop_shrinks_long_side() {
        let img = gradient(400, 300);
        let bbox = CropBox {
            x: 0.0,
            y: 0.0,
            width: 400.0,
            height: 200.0,
        };
        let crop = crop_box(&img, bbox, 0.0, 100).unwrap();
        assert_eq!(crop.dimensions(), (100, 50));
    }

    #[test]
    fn crop_outside_or_degenerate_is_none() {
        let img = gradient(100, 100);
        let outside = CropBox {
            x: 150.0,
            y: 10.0,
            width: 20.0,
            height: 20.0,
        };
        assert!(crop_box(&img, outside, 0.1, 64).is_none());
        let empty = CropBox {
            x: 10.0,
            y: 10.0,
            width: 0.0,
            height: 20.0,
        };
        assert!(crop_box(&img, empty, 0.1, 64).is_none());
        let nan = CropBox {
            x: f32::NAN,
            y: 10.0,
            width: 5.0,
            height: 5.0,
        };
        assert!(crop_box(&img, nan, 0.1, 64).is_none());
        assert!(crop_jpeg(&img, outside, 0.1, 64, 80).unwrap().is_none());
    }
}
