//! Image → network-input conversion, reproducing face-api's `padToSquare` + tfjs's legacy
//! `resizeBilinear` (alignCorners = false, halfPixelCenters = false) bit for bit, without ever
//! materialising the padded image: the resize samples a virtual padded crop, so an 8000×6000
//! photo costs no more memory than its 512×512 network input.

use image::RgbImage;
use rayon::prelude::*;

/// An integer pixel rectangle inside an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

/// How padding to a square is placed (face-api's `isCenterImage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PadMode {
    /// Zeros appended after the image on the short axis (SSD input).
    BottomRight,
    /// Zeros split around the image, the larger half after (landmark and recognition nets).
    Center,
}

/// Per-channel affine normalisation applied after resizing: `(v - sub[c]) * mul[c]`.
#[derive(Debug, Clone, Copy)]
pub struct Normalize {
    pub sub: [f32; 3],
    pub mul: [f32; 3],
}

impl Normalize {
    /// `x / 127.5 - 1` (SSD-MobileNetV1).
    pub const SSD: Normalize = Normalize {
        sub: [127.5; 3],
        mul: [1.0 / 127.5; 3],
    };
    /// `(x - [122.782, 117.001, 104.298]) / 255` (face-api's landmark and recognition nets).
    pub const FACE_MEAN: Normalize = Normalize {
        sub: [122.782, 117.001, 104.298],
        mul: [1.0 / 255.0; 3],
    };
    /// Raw 0..255 values.
    pub const IDENTITY: Normalize = Normalize {
        sub: [0.0; 3],
        mul: [1.0; 3],
    };
}

/// Clips a float box to the image and floors it like face-api's `Box.clipAtImageBorders` +
/// `floor`; `None` when nothing of it is inside the image.
pub fn clip_floor_box(x: f64, y: f64, w: f64, h: f64, img_w: u32, img_h: u32) -> Option<Rect> {
    let (iw, ih) = (img_w as f64, img_h as f64);
    let (right, bottom) = (x + w, y + h);
    let cx = x.max(0.0);
    let cy = y.max(0.0);
    let cw = (right - cx).min(iw - cx);
    let ch = (bottom - cy).min(ih - cy);
    let (fx, fy, fw, fh) = (cx.floor(), cy.floor(), cw.floor(), ch.floor());
    if !(fw >= 1.0 && fh >= 1.0 && fx < iw && fy < ih) {
        return None;
    }
    let rect = Rect {
        x: fx as u32,
        y: fy as u32,
        width: (fw as u32).min(img_w - fx as u32),
        height: (fh as u32).min(img_h - fy as u32),
    };
    Some(rect)
}

/// One axis of a legacy bilinear resize: for every output index, the two source indices and
/// the fraction between them, computed in f64 as tfjs does.
fn axis_taps(in_len: usize, out_len: usize) -> Vec<(usize, usize, f32)> {
    let scale = in_len as f64 / out_len as f64;
    (0..out_len)
        .map(|o| {
            let src = o as f64 * scale;
            let i0 = src.floor() as usize;
            let i1 = (src.ceil() as usize).min(in_len - 1);
            (i0.min(in_len - 1), i1, (src - i0 as f64) as f32)
        })
        .collect()
}

/// Writes the `size`×`size` CHW network input for `rect` of `img` into `out` (len 3·size²):
/// the crop padded to a square with zeros (`pad`), resized with legacy bilinear, normalised.
/// A crop that is already `size`×`size` and square is copied as is, as tfjs skips the resize.
pub fn crop_pad_resize(
    img: &RgbImage,
    rect: Rect,
    pad: PadMode,
    size: usize,
    norm: Normalize,
    out: &mut [f32],
) {
    let plane = size * size;
    debug_assert_eq!(out.len(), 3 * plane);
    let (w, h) = (rect.width as usize, rect.height as usize);
    if w == 0 || h == 0 || size == 0 {
        for c in 0..3 {
            out[c * plane..(c + 1) * plane].fill((0.0 - norm.sub[c]) * norm.mul[c]);
        }
        return;
    }
    let side = w.max(h);
    let diff = side - w.min(h);
    let append = match pad {
        PadMode::BottomRight => diff,
        // JS Math.round: halves round up.
        PadMode::Center => diff.div_ceil(2),
    };
    let prepend = diff - append;
    let (pre_x, pre_y) = if h > w { (prepend, 0) } else { (0, prepend) };
    let taps = axis_taps(side, size);
    let img_w = img.width() as usize;
    let raw = img.as_raw();
    // Source pixel of the padded square, or zeros in the padding.
    let px = |py: usize, pxx: usize| -> [f32; 3] {
        let (yy, xx) = (py as isize - pre_y as isize, pxx as isize - pre_x as isize);
        if yy < 0 || xx < 0 || yy as usize >= h || xx as usize >= w {
            return [0.0; 3];
        }
        let o = ((rect.y as usize + yy as usize) * img_w + rect.x as usize + xx as usize) * 3;
        [raw[o] as f32, raw[o + 1] as f32, raw[o + 2] as f32]
    };
    // One task per group of output rows, all three planes at once so every source pixel is
    // fetched (and bounds-checked) once for its three channels.
    let (p0, rest) = out.split_at_mut(plane);
    let (p1, p2) = rest.split_at_mut(plane);
    p0.par_chunks_mut(size)
        .zip(p1.par_chunks_mut(size))
        .zip(p2.par_chunks_mut(size))
        .with_min_len(16)
        .enumerate()
        .for_each(|(oy, ((r0, r1), r2))| {
            let (y0, y1, fy) = taps[oy];
            let rows: [&mut [f32]; 3] = [r0, r1, r2];
            for (x, &(x0, x1, fx)) in taps.iter().enumerate() {
                let (tl, tr, bl, br) = (px(y0, x0), px(y0, x1), px(y1, x0), px(y1, x1));
                for c in 0..3 {
                    let top = tl[c] + (tr[c] - tl[c]) * fx;
                    let bottom = bl[c] + (br[c] - bl[c]) * fx;
                    let v = top + (bottom - top) * fy;
                    rows[c][x] = (v - norm.sub[c]) * norm.mul[c];
                }
            }
        });
}

/// Plain legacy bilinear resize of a whole image to `out_w`×`out_h` (no padding), CHW, as
/// human's object detectors feed their graphs.
pub fn resize_chw(img: &RgbImage, out_w: usize, out_h: usize, norm: Normalize, out: &mut [f32]) {
    let plane = out_w * out_h;
    let (w, h) = (img.width() as usize, img.height() as usize);
    if w == 0 || h == 0 {
        for c in 0..3 {
            out[c * plane..(c + 1) * plane].fill((0.0 - norm.sub[c]) * norm.mul[c]);
        }
        return;
    }
    let tx = axis_taps(w, out_w);
    let ty = axis_taps(h, out_h);
    let raw = img.as_raw();
    let at = |y: usize, x: usize, c: usize| raw[(y * w + x) * 3 + c] as f32;
    out.par_chunks_mut(out_w.max(1))
        .with_min_len(64)
        .enumerate()
        .for_each(|(i, row)| {
            let (c, oy) = (i / out_h.max(1), i % out_h.max(1));
            let (y0, y1, fy) = ty[oy];
            for (o, &(x0, x1, fx)) in row.iter_mut().zip(&tx) {
                let top = at(y0, x0, c) + (at(y0, x1, c) - at(y0, x0, c)) * fx;
                let bottom = at(y1, x0, c) + (at(y1, x1, c) - at(y1, x0, c)) * fx;
                *o = (top + (bottom - top) * fy - norm.sub[c]) * norm.mul[c];
            }
        });
}

/// Legacy bilinear resize (alignCorners = false, halfPixelCenters = false) of an NCHW tensor.
pub fn resize_legacy_nchw(
    x: &candle_core::Tensor,
    out_h: usize,
    out_w: usize,
) -> candle_core::Result<candle_core::Tensor> {
    let (n, c, h, w) = x.dims4()?;
    if h == 0 || w == 0 {
        candle_core::bail!("resize of an empty tensor");
    }
    let src = x.flatten_all()?.to_vec1::<f32>()?;
    let ty = axis_taps(h, out_h);
    let tx = axis_taps(w, out_w);
    let mut out = vec![0f32; n * c * out_h * out_w];
    for (p, o) in src
        .chunks_exact(h * w)
        .zip(out.chunks_exact_mut(out_h * out_w))
    {
        for (oy, &(y0, y1, fy)) in ty.iter().enumerate() {
            let (r0, r1) = (&p[y0 * w..(y0 + 1) * w], &p[y1 * w..(y1 + 1) * w]);
            for (ox, &(x0, x1, fx)) in tx.iter().enumerate() {
                let top = r0[x0] + (r0[x1] - r0[x0]) * fx;
                let bottom = r1[x0] + (r1[x1] - r1[x0]) * fx;
                o[oy * out_w + ox] = top + (bottom - top) * fy;
            }
        }
    }
    candle_core::Tensor::from_vec(out, (n, c, out_h, out_w), x.device())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crop_pad_resize_matches_per_channel_bilinear() {
        let img = RgbImage::from_fn(37, 23, |x, y| {
            image::Rgb([(x * 7 + y) as u8, (x * 3 + y * 11) as u8, (x * y) as u8])
        });
        let rect = Rect {
            x: 3,
            y: 2,
            width: 30,
            height: 17,
        };
        for (pad, size) in [(PadMode::Center, 48), (PadMode::BottomRight, 20)] {
            let mut out = vec![0f32; 3 * size * size];
            crop_pad_resize(&img, rect, pad, size, Normalize::FACE_MEAN, &mut out);
            // The straightforward per-channel formula the kernel computes.
            let side = 30usize;
            let diff = 30usize - 17;
            let append = match pad {
                PadMode::BottomRight => diff,
                PadMode::Center => diff.div_ceil(2),
            };
            let pre_y = diff - append;
            let taps = axis_taps(side, size);
            let px = |py: usize, pxx: usize, c: usize| -> f32 {
                let yy = py as isize - pre_y as isize;
                if !(0..17).contains(&yy) || pxx >= 30 {
                    return 0.0;
                }
                img.get_pixel(3 + pxx as u32, 2 + yy as u32)[c] as f32
            };
            for c in 0..3 {
                for (oy, &(y0, y1, fy)) in taps.iter().enumerate() {
                    for (ox, &(x0, x1, fx)) in taps.iter().enumerate() {
                        let top = px(y0, x0, c) + (px(y0, x1, c) - px(y0, x0, c)) * fx;
                        let bottom = px(y1, x0, c) + (px(y1, x1, c) - px(y1, x0, c)) * fx;
                        let v = top + (bottom - top) * fy;
                        let want = (v - Normalize::FACE_MEAN.sub[c]) * Normalize::FACE_MEAN.mul[c];
                        assert_eq!(out[(c * size + oy) * size + ox], want, "c{c} ({ox},{oy})");
                    }
                }
            }
        }
    }

    #[test]
    fn center_padding_puts_larger_half_after() {
        // 1 wide, 4 high → diff 3: prepend 1, append 2 (JS rounds 1.5 up).
        let img = RgbImage::from_pixel(1, 4, image::Rgb([255, 255, 255]));
        let rect = Rect {
            x: 0,
            y: 0,
            width: 1,
            height: 4,
        };
        let mut out = vec![0.0; 3 * 16];
        crop_pad_resize(
            &img,
            rect,
            PadMode::Center,
            4,
            Normalize::IDENTITY,
            &mut out,
        );
        let row: Vec<f32> = out[..4].to_vec();
        assert_eq!(row, vec![0.0, 255.0, 0.0, 0.0]);
    }

    #[test]
    fn legacy_taps_match_tf() {
        let t = axis_taps(4, 2);
        assert_eq!(t, vec![(0, 0, 0.0), (2, 2, 0.0)]);
        let t = axis_taps(3, 2);
        assert_eq!(t[1], (1, 2, 0.5));
    }

    #[test]
    fn clip_rejects_outside_boxes() {
        assert!(clip_floor_box(10.0, 10.0, 5.0, 5.0, 8, 8).is_none());
        assert_eq!(
            clip_floor_box(-3.5, 2.7, 10.0, 4.0, 8, 8),
            Some(Rect {
                x: 0,
                y: 2,
                width: 6,
                height: 4
            })
        );
    }
}
