//! Dark pictures brightened before face detection. The face detector misses most faces in a
//! picture exposed at 40 % (a door device at dusk, an unlit corridor): measured on device-like
//! captures, 53 % of them had no face found; a plain gain that brings the picture's highlights
//! back up recovers them (worker/tests/capture_calibration.rs, docs/attendance.md). The gain
//! is set by the bright end of the picture, not its mean, so a well-exposed face in front of
//! a dark background is left alone; a global gain keeps the face's proportions and colours, so
//! descriptors stay comparable with the enrollment photos.

use image::RgbImage;

/// The luma the picture's highlights (its 98th percentile) are brought to.
const TARGET_HIGHLIGHT: f32 = 230.0;
/// Gains below this are not worth applying: the picture is exposed well enough.
const MIN_GAIN: f32 = 1.5;
/// Most gain applied: beyond it, noise is amplified more than the face.
const MAX_GAIN: f32 = 3.0;

/// The 98th percentile of luma (BT.601) over a 1-in-16 pixel sample.
pub fn highlight_luma(img: &RgbImage) -> u8 {
    let mut histogram = [0u32; 256];
    let mut n = 0u32;
    for y in (0..img.height()).step_by(4) {
        for x in (0..img.width()).step_by(4) {
            let [r, g, b] = img.get_pixel(x, y).0;
            let luma = (299 * r as u32 + 587 * g as u32 + 114 * b as u32) / 1000;
            histogram[luma as usize] += 1;
            n += 1;
        }
    }
    let mut above = 0u32;
    for (luma, count) in histogram.iter().enumerate().rev() {
        above += count;
        if above * 50 >= n {
            return luma as u8;
        }
    }
    0
}

/// A brightened copy of `img` when it is dark (and not black: nothing to recover there), with
/// the gain used; `None` when it is exposed well enough as it is.
pub fn lift_dark(img: &RgbImage) -> Option<(RgbImage, f32)> {
    let highlight = highlight_luma(img) as f32;
    if highlight < 8.0 {
        return None;
    }
    let gain = (TARGET_HIGHLIGHT / highlight).min(MAX_GAIN);
    if gain < MIN_GAIN {
        return None;
    }
    let mut out = img.clone();
    for p in out.pixels_mut() {
        p.0 = p.0.map(|c| (c as f32 * gain).min(255.0) as u8);
    }
    Some((out, gain))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    /// A dark background with a bright patch (a lit face) covering a tenth of the picture.
    fn scene(background: u8, patch: u8) -> RgbImage {
        RgbImage::from_fn(100, 100, |x, _| {
            let v = if x < 10 { patch } else { background };
            Rgb([v, v, v])
        })
    }

    #[test]
    fn only_dark_pictures_are_lifted() {
        assert!(lift_dark(&scene(120, 200)).is_none(), "well exposed");
        assert!(
            lift_dark(&scene(20, 210)).is_none(),
            "a lit face before a dark background"
        );
        assert!(lift_dark(&RgbImage::new(64, 48)).is_none(), "black");
        let (lifted, gain) = lift_dark(&scene(30, 80)).expect("dim");
        assert!((gain - 230.0 / 80.0).abs() < 0.05, "{gain}");
        assert!(highlight_luma(&lifted) >= 225);
        let (_, gain) = lift_dark(&scene(5, 20)).expect("night");
        assert_eq!(gain, MAX_GAIN, "noise is not amplified without bound");
    }
}
