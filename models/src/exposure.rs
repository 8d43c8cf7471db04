//! Dark pictures brightened before face detection. The face detector misses most faces in a
//! picture exposed at 40 % (a door device at dusk, an unlit corridor): measured on device-like
//! captures, 53 % of them had no face found; a plain gain that brings the picture's highlights
//! back up recovers them (worker/tests/capture_calibration.rs, docs/attendance.md). The gain
//! is set by the bright end of the picture, not its mean, so a well-exposed face in front of
//! a dark background is left alone; a global gain keeps the face's proportions and colours, so
//! descriptors stay comparable with the enrollment photos.

use std::borrow::Cow;

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

/// The gain a dark `img` needs; `None` when it is exposed well enough as it is, or black
/// (nothing to recover there).
pub fn gain(img: &RgbImage) -> Option<f32> {
    let highlight = highlight_luma(img) as f32;
    if highlight < 8.0 {
        return None;
    }
    Some((TARGET_HIGHLIGHT / highlight).min(MAX_GAIN)).filter(|g| *g >= MIN_GAIN)
}

/// `img` as the face detector should see it: brightened by [`gain`] when dark, else itself
/// (no copy).
pub fn lift_dark(img: &RgbImage) -> Cow<'_, RgbImage> {
    let Some(gain) = gain(img) else {
        return Cow::Borrowed(img);
    };
    let mut out = img.clone();
    for p in out.pixels_mut() {
        p.0 = p.0.map(|c| (c as f32 * gain).min(255.0) as u8);
    }
    Cow::Owned(out)
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
        let well_exposed = scene(120, 200);
        assert!(gain(&well_exposed).is_none(), "well exposed");
        assert!(matches!(lift_dark(&well_exposed), Cow::Borrowed(_)));
        assert!(
            gain(&scene(20, 210)).is_none(),
            "a lit face before a dark background"
        );
        assert!(gain(&RgbImage::new(64, 48)).is_none(), "black");
        let dim = scene(30, 80);
        let g = gain(&dim).expect("dim");
        assert!((g - 230.0 / 80.0).abs() < 0.05, "{g}");
        assert!(highlight_luma(&lift_dark(&dim)) >= 225);
        assert_eq!(
            gain(&scene(5, 20)),
            Some(MAX_GAIN),
            "noise is not amplified without bound"
        );
    }
}
