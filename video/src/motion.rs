//! "Is this frame the reference frame, moved?" — for skipping analysis of frames that show
//! nothing new. A fixed camera watching an empty corridor, or a camera panning slowly over a
//! crowd that stands still, produces frames whose content is all in an earlier frame: the
//! faces are the same faces, only (for the pan) shifted. A frame passes when one global shift
//! of the reference explains it everywhere the two overlap; anything moving on its own (a
//! person walking in, a door opening) changes some block beyond the tolerance and fails it.
//!
//! Works on a luma sketch of the frame, 8×8-pixel cell averages (160×90 cells at 720p), which
//! averages out sensor noise and compression ringing and is cheap to build (~1 ms at 720p).

use image::RgbImage;

/// Frame pixels per sketch cell, each way.
const CELL: u32 = 8;
/// Sketch cells per comparison block, each way (40×40 frame pixels).
const BLOCK: usize = 5;
/// Tolerances on block means after alignment, in grey levels (0–255): the mean over all
/// blocks and the largest single block. A face entering even one block moves that block far
/// more than noise, compression or resampling do.
const MEAN_DIFF: f32 = 1.0;
const MAX_DIFF: f32 = 6.0;

/// A frame's luma at cell resolution.
#[derive(Debug, Clone)]
pub struct Sketch {
    width: usize,
    height: usize,
    cells: Vec<f32>,
}

/// How a frame relates to a reference sketch: the same content moved by `dx`, `dy` frame
/// pixels (a point at `(x, y)` in the reference is at `(x + dx, y + dy)` in the frame).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Shift {
    pub dx: f32,
    pub dy: f32,
}

impl Sketch {
    /// The sketch of `img` (any size; images smaller than a cell give an empty sketch, which
    /// never matches).
    pub fn of(img: &RgbImage) -> Self {
        let width = (img.width() / CELL) as usize;
        let height = (img.height() / CELL) as usize;
        let mut cells = vec![0f32; width * height];
        let stride = img.width() as usize * 3;
        let raw = img.as_raw();
        let mut row_sums = vec![0u32; width];
        for cy in 0..height {
            row_sums.iter_mut().for_each(|s| *s = 0);
            for y in cy * CELL as usize..(cy + 1) * CELL as usize {
                let line = &raw[y * stride..y * stride + width * CELL as usize * 3];
                for (cx, cell) in line.chunks_exact(CELL as usize * 3).enumerate() {
                    // BT.601-ish weights in integers: (R + 2G + B) / 4.
                    let s: u32 = cell
                        .chunks_exact(3)
                        .map(|p| u32::from(p[0]) + 2 * u32::from(p[1]) + u32::from(p[2]))
                        .sum();
                    row_sums[cx] += s;
                }
            }
            let norm = 1.0 / (4 * CELL * CELL) as f32;
            for (cx, s) in row_sums.iter().enumerate() {
                cells[cy * width + cx] = *s as f32 * norm;
            }
        }
        Sketch {
            width,
            height,
            cells,
        }
    }

    /// The shift (at most `max_shift` frame pixels each way) under which this frame shows the
    /// `reference` frame's content, or `None` when no shift explains it: a scene change,
    /// something moving on its own, a zoom, or frames of different sizes.
    pub fn shift_from(&self, reference: &Sketch, max_shift: f32) -> Option<Shift> {
        if self.width != reference.width
            || self.height != reference.height
            || self.width < 4 * BLOCK
            || self.height < 4 * BLOCK
        {
            return None;
        }
        let radius = (max_shift / CELL as f32).ceil() as isize;
        let (sx, sy) = self.best_integer_shift(reference, radius);
        let (fx, fy) = self.refine(reference, sx, sy);
        let shift = Shift {
            dx: fx * CELL as f32,
            dy: fy * CELL as f32,
        };
        if shift.dx.abs() > max_shift || shift.dy.abs() > max_shift {
            return None;
        }
        self.explained_by(reference, fx, fy).then_some(shift)
    }

    /// Whether the frame region `(x, y, width, height)` (frame pixels) differs from the same
    /// region of the reference beyond noise in any block, without alignment: for deciding, on a
    /// fixed camera, which parts of a frame need looking at again. Sketches of different sizes
    /// always differ.
    pub fn region_changed(
        &self,
        reference: &Sketch,
        x: u32,
        y: u32,
        width: u32,
        height: u32,
    ) -> bool {
        if self.width != reference.width || self.height != reference.height {
            return true;
        }
        let cx0 = (x / CELL) as usize;
        let cy0 = (y / CELL) as usize;
        let cx1 = ((x + width).div_ceil(CELL) as usize).min(self.width);
        let cy1 = ((y + height).div_ceil(CELL) as usize).min(self.height);
        for by in (cy0..cy1).step_by(BLOCK) {
            for bx in (cx0..cx1).step_by(BLOCK) {
                let (mut here, mut there, mut n) = (0f32, 0f32, 0usize);
                for cy in by..(by + BLOCK).min(cy1) {
                    for cx in bx..(bx + BLOCK).min(cx1) {
                        here += self.cells[cy * self.width + cx];
                        there += reference.cells[cy * self.width + cx];
                        n += 1;
                    }
                }
                if n > 0 && (here - there).abs() / n as f32 > MAX_DIFF {
                    return true;
                }
            }
        }
        false
    }

    fn at(&self, x: isize, y: isize) -> f32 {
        self.cells[y as usize * self.width + x as usize]
    }

    /// Mean absolute difference between this sketch and the reference moved by whole cells,
    /// over the region both cover (with the search radius trimmed from every edge, so that
    /// every candidate shift is scored on the same number of cells).
    fn sad(&self, reference: &Sketch, dx: isize, dy: isize, radius: isize) -> f32 {
        let (w, h) = (self.width as isize, self.height as isize);
        let mut sum = 0f32;
        for y in radius..h - radius {
            let row = &self.cells[(y * w) as usize..((y + 1) * w) as usize];
            let ref_row = &reference.cells[((y - dy) * w) as usize..((y - dy + 1) * w) as usize];
            let a = &row[radius as usize..(w - radius) as usize];
            let b = &ref_row[(radius - dx) as usize..(w - radius - dx) as usize];
            sum += a.iter().zip(b).map(|(p, q)| (p - q).abs()).sum::<f32>();
        }
        sum / ((w - 2 * radius) * (h - 2 * radius)) as f32
    }

    fn best_integer_shift(&self, reference: &Sketch, radius: isize) -> (isize, isize) {
        let mut best = (0, 0, self.sad(reference, 0, 0, radius));
        for dy in -radius..=radius {
            for dx in -radius..=radius {
                let score = self.sad(reference, dx, dy, radius);
                if score < best.2 {
                    best = (dx, dy, score);
                }
            }
        }
        (best.0, best.1)
    }

    /// Sub-cell shift by a parabola through the error at the best whole shift and its
    /// neighbours, each axis on its own.
    fn refine(&self, reference: &Sketch, dx: isize, dy: isize) -> (f32, f32) {
        let radius = dx.abs().max(dy.abs()) + 1;
        if 2 * radius + 2 >= self.width.min(self.height) as isize {
            return (dx as f32, dy as f32);
        }
        let c = self.sad(reference, dx, dy, radius);
        let offset = |minus: f32, plus: f32| {
            let curvature = minus + plus - 2.0 * c;
            if curvature > f32::EPSILON {
                (0.5 * (minus - plus) / curvature).clamp(-0.5, 0.5)
            } else {
                0.0
            }
        };
        let ox = offset(
            self.sad(reference, dx - 1, dy, radius),
            self.sad(reference, dx + 1, dy, radius),
        );
        let oy = offset(
            self.sad(reference, dx, dy - 1, radius),
            self.sad(reference, dx, dy + 1, radius),
        );
        (dx as f32 + ox, dy as f32 + oy)
    }

    /// Block means of this sketch against those of the reference sampled at the shifted
    /// positions (bilinear), on every block whose reference area lies inside the reference.
    fn explained_by(&self, reference: &Sketch, fx: f32, fy: f32) -> bool {
        let (w, h) = (self.width, self.height);
        let (mut total, mut blocks, mut worst) = (0f32, 0usize, 0f32);
        for by in (0..h - BLOCK + 1).step_by(BLOCK) {
            for bx in (0..w - BLOCK + 1).step_by(BLOCK) {
                let mut here = 0f32;
                let mut there = 0f32;
                let mut inside = true;
                'cells: for y in by..by + BLOCK {
                    for x in bx..bx + BLOCK {
                        let (rx, ry) = (x as f32 - fx, y as f32 - fy);
                        if rx < 0.0 || ry < 0.0 || rx > (w - 1) as f32 || ry > (h - 1) as f32 {
                            inside = false;
                            break 'cells;
                        }
                        here += self.cells[y * w + x];
                        there += reference.bilinear(rx, ry);
                    }
                }
                if !inside {
                    continue;
                }
                let diff = (here - there).abs() / (BLOCK * BLOCK) as f32;
                total += diff;
                worst = worst.max(diff);
                blocks += 1;
                if worst > MAX_DIFF {
                    return false;
                }
            }
        }
        blocks > 0 && total / blocks as f32 <= MEAN_DIFF
    }

    fn bilinear(&self, x: f32, y: f32) -> f32 {
        let (x0, y0) = (x.floor() as isize, y.floor() as isize);
        let x1 = (x0 + 1).min(self.width as isize - 1);
        let y1 = (y0 + 1).min(self.height as isize - 1);
        let (tx, ty) = (x - x0 as f32, y - y0 as f32);
        let top = self.at(x0, y0) * (1.0 - tx) + self.at(x1, y0) * tx;
        let bottom = self.at(x0, y1) * (1.0 - tx) + self.at(x1, y1) * tx;
        top * (1.0 - ty) + bottom * ty
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A textured test picture (smooth gradients plus a few bright rectangles whose edges
    /// ramp over a few pixels, as edges do in camera pictures), sampled at real-valued
    /// offsets so shifted copies are exact.
    fn scene(w: u32, h: u32, ox: f32, oy: f32) -> RgbImage {
        let ramp = |d: f32| (d / 4.0 + 0.5).clamp(0.0, 1.0);
        RgbImage::from_fn(w, h, |x, y| {
            let (u, v) = (x as f32 - ox, y as f32 - oy);
            let mut l = 100.0 + 60.0 * (u / 37.0).sin() * (v / 23.0).cos();
            for (rx, ry, size) in [
                (200.0, 150.0, 90.0),
                (700.0, 400.0, 120.0),
                (1000.0, 200.0, 60.0),
            ] {
                let inside = ramp(u - rx)
                    .min(ramp(rx + size - u))
                    .min(ramp(v - ry))
                    .min(ramp(ry + size - v));
                l += (230.0 - l) * inside;
            }
            let l = l.clamp(0.0, 255.0) as u8;
            image::Rgb([l, l, l])
        })
    }

    #[test]
    fn same_frame_is_not_moved() {
        let a = Sketch::of(&scene(1280, 720, 0.0, 0.0));
        let s = a.shift_from(&a, 32.0).unwrap();
        assert!(s.dx.abs() < 0.1 && s.dy.abs() < 0.1, "{s:?}");
    }

    #[test]
    fn a_pan_is_measured_to_a_pixel_or_two() {
        let reference = Sketch::of(&scene(1280, 720, 0.0, 0.0));
        for (dx, dy) in [(12.0, -5.0), (-20.5, 7.25), (3.0, 0.0), (-30.0, -28.0)] {
            let moved = Sketch::of(&scene(1280, 720, dx, dy));
            let s = moved
                .shift_from(&reference, 32.0)
                .unwrap_or_else(|| panic!("shift {dx},{dy} not recognised"));
            assert!(
                (s.dx - dx).abs() < 2.0 && (s.dy - dy).abs() < 2.0,
                "{dx},{dy} → {s:?}"
            );
        }
    }

    #[test]
    fn new_content_or_a_large_move_is_not_the_same_scene() {
        let reference_img = scene(1280, 720, 0.0, 0.0);
        let reference = Sketch::of(&reference_img);
        // Something appears in one place only (a 60×80 px "face").
        let mut changed = reference_img.clone();
        for y in 300..380 {
            for x in 500..560 {
                changed.put_pixel(x, y, image::Rgb([40, 30, 30]));
            }
        }
        assert!(Sketch::of(&changed).shift_from(&reference, 32.0).is_none());
        // Moved further than allowed.
        assert!(
            Sketch::of(&scene(1280, 720, 60.0, 0.0))
                .shift_from(&reference, 32.0)
                .is_none()
        );
        // Another picture altogether.
        let other = RgbImage::from_fn(1280, 720, |x, y| {
            image::Rgb([(x / 5) as u8, (y / 3) as u8, 90])
        });
        assert!(Sketch::of(&other).shift_from(&reference, 32.0).is_none());
        // Different sizes and tiny frames never match.
        assert!(
            Sketch::of(&scene(640, 360, 0.0, 0.0))
                .shift_from(&reference, 32.0)
                .is_none()
        );
        let tiny = Sketch::of(&RgbImage::new(7, 7));
        assert!(tiny.shift_from(&tiny, 32.0).is_none());
    }

    #[test]
    fn a_region_changes_only_where_something_moved() {
        let reference = scene(1280, 720, 0.0, 0.0);
        let mut frame = reference.clone();
        // A face-sized patch appears in the top-left quarter.
        for y in 100..150 {
            for x in 100..150 {
                frame.put_pixel(x, y, image::Rgb([250, 250, 250]));
            }
        }
        let (a, b) = (Sketch::of(&frame), Sketch::of(&reference));
        assert!(a.region_changed(&b, 0, 0, 640, 360));
        assert!(!a.region_changed(&b, 640, 0, 640, 360));
        assert!(!a.region_changed(&b, 0, 360, 640, 360));
        assert!(!b.region_changed(&b, 0, 0, 1280, 720));
    }
}
