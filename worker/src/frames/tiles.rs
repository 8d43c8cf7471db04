//! Small faces. The face detector sees a frame scaled to 512 px on its longer side, so at 720p
//! a 64 px face reaches it at ~25 px, below what it finds; cut into overlapping tiles of
//! [`TILE_SIDE`] the same face reaches it at ~50 px (measured: 53–72 px boxes, scores
//! 0.56–0.98, on 640×360 tiles of CCTV footage where the full frame found nothing). Tiles add
//! detector passes, so on a fixed camera a tile whose picture has not changed since the last
//! analysed frame keeps that frame's small faces instead of being looked at again.

use vigil_models::{FaceBox, FacePipeline};
use vigil_video::Sketch;

/// Tile side in frame pixels: the detector sees a tile at 512/664 ≈ 0.77×.
pub const TILE_SIDE: u32 = 664;
/// Neighbouring tiles overlap by at least this much, so a small face lies whole in one.
const MIN_OVERLAP: u32 = 48;
/// Tile boxes at least this wide are the full-frame pass's to find (it sees them at ≥ 38 px
/// at 720p); a tile's view of a large face is often cut by the tile's edge.
const SMALL_FACE_MAX_PX: f32 = 100.0;
/// A tile box overlapping a kept box this much is the same face.
const SAME_FACE_IOU: f32 = 0.3;
/// A tile kept from an earlier frame is looked at again after this many analysed frames
/// anyway, so slow changes below the motion tolerance cannot hide a face for long.
const MAX_REUSE: u32 = 8;
/// When every tile changed at once — the camera moves, or the scene cut — at most this many
/// are looked at per analysed frame, the longest unseen first; the others give no small
/// faces this frame and come next. A moving camera then pays 1 + 2 detector passes per
/// frame instead of 1 + 4 at 720p, and a still picture after a cut is finished on the next
/// frame (see [`TileDetector::pending`]).
const BUDGET_WHEN_ALL_CHANGED: usize = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tile {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

/// The tiles of a `width`×`height` frame; none when the detector already sees the whole frame
/// at about the tiles' scale.
pub fn plan(width: u32, height: u32) -> Vec<Tile> {
    if width.max(height) <= TILE_SIDE * 5 / 4 {
        return Vec::new();
    }
    let xs = starts(width);
    let ys = starts(height);
    ys.iter()
        .flat_map(|&(y, h)| {
            xs.iter().map(move |&(x, w)| Tile {
                x,
                y,
                width: w,
                height: h,
            })
        })
        .collect()
}

/// Evenly spaced tile starts (and lengths) along one axis, overlapping by at least
/// [`MIN_OVERLAP`].
fn starts(len: u32) -> Vec<(u32, u32)> {
    if len <= TILE_SIDE {
        return vec![(0, len)];
    }
    let n = (len - MIN_OVERLAP).div_ceil(TILE_SIDE - MIN_OVERLAP);
    let span = len - TILE_SIDE;
    (0..n)
        .map(|i| ((span as u64 * i as u64 / (n as u64 - 1)) as u32, TILE_SIDE))
        .collect()
}

fn iou(a: &FaceBox, b: &FaceBox) -> f32 {
    let w = (a.x + a.width).min(b.x + b.width) - a.x.max(b.x);
    let h = (a.y + a.height).min(b.y + b.height) - a.y.max(b.y);
    if w <= 0.0 || h <= 0.0 {
        return 0.0;
    }
    let inter = w * h;
    inter / (a.width * a.height + b.width * b.height - inter)
}

/// A tile's boxes in frame coordinates: small ones only, and none cut by an edge the tile
/// shares with a neighbour (the neighbour sees that face whole).
fn small_faces_of(tile: &Tile, frame_w: u32, frame_h: u32, boxes: &[FaceBox]) -> Vec<FaceBox> {
    const EDGE: f32 = 2.0;
    let inner_left = tile.x > 0;
    let inner_top = tile.y > 0;
    let inner_right = tile.x + tile.width < frame_w;
    let inner_bottom = tile.y + tile.height < frame_h;
    boxes
        .iter()
        .filter(|b| b.width < SMALL_FACE_MAX_PX)
        .filter(|b| {
            !(inner_left && b.x <= EDGE
                || inner_top && b.y <= EDGE
                || inner_right && b.x + b.width >= tile.width as f32 - EDGE
                || inner_bottom && b.y + b.height >= tile.height as f32 - EDGE)
        })
        .map(|b| FaceBox {
            x: b.x + tile.x as f32,
            y: b.y + tile.y as f32,
            ..*b
        })
        .collect()
}

/// The full frame's boxes plus the tiles' small faces that are not already among them (best
/// score first where tiles overlap).
pub fn merge(full: Vec<FaceBox>, tiled: Vec<FaceBox>) -> Vec<FaceBox> {
    let mut tiled = tiled;
    tiled.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept = full;
    for b in tiled {
        if kept.iter().all(|k| iou(k, &b) < SAME_FACE_IOU) {
            kept.push(b);
        }
    }
    kept
}

/// What the last analysed frame's tiles found.
struct Seen {
    sketch: Sketch,
    faces: Vec<Vec<FaceBox>>,
    reused: Vec<u32>,
    /// Tiles passed over by the budget: looked at first next time, whatever changed.
    skipped: Vec<bool>,
}

/// Detects small faces on the tiles of each analysed frame, looking again only at tiles whose
/// picture changed since the last analysed frame.
#[derive(Default)]
pub struct TileDetector {
    last: Option<Seen>,
    /// Tiles looked at, kept from an earlier frame, and passed over by the budget (for the
    /// benchmark).
    pub detected: u64,
    pub reused: u64,
    pub skipped: u64,
}

impl TileDetector {
    /// The frame's faces: `full` (the full-frame pass) and the tiles' small faces.
    pub fn detect(
        &mut self,
        pipeline: &FacePipeline,
        image: &image::RgbImage,
        sketch: &Sketch,
        full: Vec<FaceBox>,
    ) -> vigil_models::Result<Vec<FaceBox>> {
        let (w, h) = image.dimensions();
        let tiles = plan(w, h);
        if tiles.is_empty() {
            return Ok(full);
        }
        let last = self.last.take().filter(|l| l.faces.len() == tiles.len());
        let keep: Vec<bool> = tiles
            .iter()
            .enumerate()
            .map(|(i, t)| match &last {
                Some(l) => {
                    !l.skipped[i]
                        && l.reused[i] < MAX_REUSE
                        && !sketch.region_changed(&l.sketch, t.x, t.y, t.width, t.height)
                }
                None => false,
            })
            .collect();
        // Every tile changed (and some were seen before): look at the longest unseen ones,
        // skipped tiles first, within the budget.
        let mut skip = vec![false; tiles.len()];
        if let Some(l) = &last
            && keep.iter().all(|k| !k)
            && tiles.len() > BUDGET_WHEN_ALL_CHANGED
        {
            let mut order: Vec<usize> = (0..tiles.len()).collect();
            order.sort_by_key(|&i| (!l.skipped[i], std::cmp::Reverse(l.reused[i]), i));
            for &i in &order[BUDGET_WHEN_ALL_CHANGED..] {
                skip[i] = true;
            }
        }
        let crops: Vec<image::RgbImage> = tiles
            .iter()
            .enumerate()
            .filter(|(i, _)| !keep[*i] && !skip[*i])
            .map(|(_, t)| image::imageops::crop_imm(image, t.x, t.y, t.width, t.height).to_image())
            .collect();
        let refs: Vec<&image::RgbImage> = crops.iter().collect();
        let mut found = pipeline.detect_boxes_batch(&refs)?.into_iter();
        let mut faces = Vec::with_capacity(tiles.len());
        let mut reused = Vec::with_capacity(tiles.len());
        for (i, t) in tiles.iter().enumerate() {
            match (&last, keep[i]) {
                (Some(l), true) => {
                    faces.push(l.faces[i].clone());
                    reused.push(l.reused[i] + 1);
                    self.reused += 1;
                }
                // Its picture changed: its old faces would be in the wrong place.
                _ if skip[i] => {
                    faces.push(Vec::new());
                    reused.push(last.as_ref().map_or(0, |l| l.reused[i]) + 1);
                    self.skipped += 1;
                }
                _ => {
                    let boxes = found.next().unwrap_or_default();
                    faces.push(small_faces_of(t, w, h, &boxes));
                    reused.push(0);
                    self.detected += 1;
                }
            }
        }
        let merged = merge(full, faces.iter().flatten().copied().collect());
        self.last = Some(Seen {
            sketch: sketch.clone(),
            faces,
            reused,
            skipped: skip,
        });
        Ok(merged)
    }

    /// Whether the budget passed over tiles of the last analysed frame: on a still picture
    /// the next frame should be analysed anyway so they are looked at.
    pub fn pending(&self) -> bool {
        self.last
            .as_ref()
            .is_some_and(|l| l.skipped.iter().any(|s| *s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(x: f32, y: f32, side: f32, score: f32) -> FaceBox {
        FaceBox {
            score,
            x,
            y,
            width: side,
            height: side,
        }
    }

    #[test]
    fn frames_the_detector_sees_well_enough_get_no_tiles() {
        assert!(plan(640, 360).is_empty());
        assert!(plan(800, 600).is_empty());
    }

    #[test]
    fn tiles_cover_the_frame_with_overlap() {
        for (w, h, n) in [(1280, 720, 4), (1920, 1080, 8), (2560, 1440, 15)] {
            let tiles = plan(w, h);
            assert_eq!(tiles.len(), n, "{w}×{h}: {tiles:?}");
            // Every pixel is inside a tile, and every small face inside one tile whole.
            for (px, py) in [(0, 0), (w - 1, h - 1), (w / 2, h / 2), (w / 3, h - 1)] {
                assert!(
                    tiles.iter().any(|t| px >= t.x
                        && px < t.x + t.width
                        && py >= t.y
                        && py < t.y + t.height)
                );
            }
            for t in &tiles {
                assert!(t.x + t.width <= w && t.y + t.height <= h);
            }
            let xs: Vec<u32> = tiles.iter().filter(|t| t.y == 0).map(|t| t.x).collect();
            for pair in xs.windows(2) {
                assert!(pair[0] + TILE_SIDE - pair[1] >= MIN_OVERLAP, "{xs:?}");
            }
        }
    }

    #[test]
    fn tiles_add_small_faces_the_full_frame_missed_once() {
        let tiles = plan(1280, 720);
        let (left, right) = (tiles[0], tiles[1]);
        // A 40 px face in the overlap of the two top tiles: both see it.
        let at = 620.0;
        let in_left = small_faces_of(&left, 1280, 720, &[face(at, 100.0, 40.0, 0.9)]);
        let in_right = small_faces_of(
            &right,
            1280,
            720,
            &[face(at - right.x as f32, 100.0, 40.0, 0.8)],
        );
        let full = vec![face(900.0, 300.0, 160.0, 0.99)];
        let merged = merge(full, [in_left, in_right].concat());
        assert_eq!(merged.len(), 2, "{merged:?}");
        assert_eq!(merged[1].score, 0.9);
        assert_eq!(merged[1].x, at);
    }

    #[test]
    fn large_and_cut_faces_are_left_to_the_full_frame() {
        let tiles = plan(1280, 720);
        let left = tiles[0];
        let boxes = [
            face(100.0, 100.0, 140.0, 0.9),                   // large
            face(left.width as f32 - 30.0, 200.0, 30.0, 0.9), // cut by the inner edge
            face(0.0, 200.0, 40.0, 0.9),                      // on the frame's own edge: kept
        ];
        let kept = small_faces_of(&left, 1280, 720, &boxes);
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert_eq!(kept[0].x, 0.0);
    }
}
