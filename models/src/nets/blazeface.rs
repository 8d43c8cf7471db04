//! BlazeFace (the 256×256 "back camera" variant human ships as `blazeface-back`): a face
//! detector with about a ninth of the SSD's multiply-adds (≈ 0.19 G per pass against ≈ 1.7 G
//! for the SSD at 512×288; 3.4× less time on our kernels, whose GEMM suits its thin 24–96
//! channel layers less well), run through the graph executor. Pre- and post-processing
//! follow human 3.3.6's `blazeface.ts`: legacy bilinear resize to 256×256, `x / 127.5 - 1`,
//! 896 anchors (16×16 cells × 2 at stride 16, then 8×8 × 6 at stride 32), centre and size
//! regressed in input pixels, sigmoid scores, TF non-max suppression.
//!
//! Search runs it beside the SSD for the faces the SSD misses — small, dim and motion-blurred
//! ones ([`crate::FacePipeline::detect_boxes_all_sizes`], docs/search.md). Its boxes are
//! square and sit lower than the SSD's (brows to chin, not forehead to chin);
//! [`BlazeFace::ssd_like`] maps one onto the box the SSD would draw, which the landmark net
//! downstream was trained on.

use std::path::Path;

use candle_core::{Device, Tensor};
use image::RgbImage;

use super::pipeline::Threads;
use super::ssd::FaceBox;
use crate::cache::fetch::{self, paths};
use crate::error::{Error, Result};
use crate::kernels::image_ops::{Normalize, PadMode, Rect, crop_pad_resize, resize_chw};
use crate::tfjs::graph::CompiledGraph;
use crate::tfjs::weights::GraphModel;

/// The network's input side.
pub const INPUT_SIZE: usize = 256;
/// Anchors: (stride, anchors per cell), in the order the outputs are concatenated.
const GRIDS: [(usize, usize); 2] = [(16, 2), (32, 6)];
pub const ANCHORS: usize = 896;
/// Values per anchor in the reference's batch: logit, box (dx, dy, w, h), 6 keypoints (x, y).
pub const ROW: usize = 17;
/// The four head convolutions (before the graph's reshapes): scores and regressors at
/// stride 16, then at stride 32.
const HEADS: [&str; 4] = [
    "StatefulPartitionedCall/functional_1/conv2d_33/BiasAdd",
    "StatefulPartitionedCall/functional_1/conv2d_35/BiasAdd",
    "StatefulPartitionedCall/functional_1/conv2d_34/BiasAdd",
    "StatefulPartitionedCall/functional_1/conv2d_36/BiasAdd",
];

/// Detection thresholds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlazeFaceConfig {
    pub min_confidence: f32,
    pub iou_threshold: f32,
    pub max_detected: usize,
}

impl Default for BlazeFaceConfig {
    fn default() -> Self {
        BlazeFaceConfig {
            min_confidence: 0.2,
            iou_threshold: 0.2,
            max_detected: 50,
        }
    }
}

/// One anchor's decoded candidate, in input (256) pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub score: f32,
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
}

/// The loaded detector.
#[derive(Debug)]
pub struct BlazeFace {
    graph: CompiledGraph,
    anchors: Vec<[f32; 2]>,
    pub config: BlazeFaceConfig,
    threads: Threads,
}

/// human's `generateAnchors` for a 256 input: cell centres, one row per anchor.
fn anchors() -> Vec<[f32; 2]> {
    let mut out = Vec::with_capacity(ANCHORS);
    for (stride, per_cell) in GRIDS {
        let cells = INPUT_SIZE.div_ceil(stride);
        for gy in 0..cells {
            for gx in 0..cells {
                let c = [
                    stride as f32 * (gx as f32 + 0.5),
                    stride as f32 * (gy as f32 + 0.5),
                ];
                out.extend(std::iter::repeat_n(c, per_cell));
            }
        }
    }
    out
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

impl BlazeFace {
    /// Loads `blazeface-back` from `cache_dir`; [`Error::MissingModels`] when the cache is empty.
    pub fn load(cache_dir: &Path) -> Result<Self> {
        fetch::ensure_fetched(cache_dir)?;
        let model = GraphModel::load(&paths::blazeface(cache_dir))?;
        Ok(BlazeFace {
            graph: CompiledGraph::compile(&model, "input", &HEADS)?,
            anchors: anchors(),
            config: BlazeFaceConfig::default(),
            threads: Threads::default(),
        })
    }

    /// Sets thresholds.
    pub fn with_config(mut self, config: BlazeFaceConfig) -> Self {
        self.config = config;
        self
    }

    /// Runs on `n` threads (0 = the caller's pool).
    pub fn with_threads(mut self, n: usize) -> Result<Self> {
        self.threads = Threads::new(n)?;
        Ok(self)
    }

    /// Number of float constants (parameters) in the graph.
    pub fn param_count(&self) -> usize {
        self.graph.param_count()
    }

    /// The reference's `[896, 17]` batch for a normalised 3×256×256 CHW input: per anchor the
    /// score logit, box and keypoint regressions, rows in anchor order.
    pub fn raw(&self, input: Vec<f32>) -> Result<Vec<[f32; ROW]>> {
        let x = Tensor::from_vec(input, (1, 3, INPUT_SIZE, INPUT_SIZE), &Device::Cpu)?;
        let outs = self.threads.run(|| self.graph.run(&x))?;
        let mut rows = Vec::with_capacity(ANCHORS);
        for (pair, (stride, per_cell)) in outs.chunks_exact(2).zip(GRIDS) {
            let cells = INPUT_SIZE / stride;
            let (scores, regs) = (&pair[0], &pair[1]);
            if scores.dims4()? != (1, per_cell, cells, cells)
                || regs.dims4()? != (1, per_cell * (ROW - 1), cells, cells)
            {
                return Err(Error::Graph("unexpected BlazeFace head shapes".into()));
            }
            let s = scores.flatten_all()?.to_vec1::<f32>()?;
            let r = regs.flatten_all()?.to_vec1::<f32>()?;
            let plane = cells * cells;
            // NCHW heads; the graph's reshape reads NHWC: row = (cell, anchor), channel =
            // anchor * 16 + value.
            for cell in 0..plane {
                for a in 0..per_cell {
                    let mut row = [0f32; ROW];
                    row[0] = s[a * plane + cell];
                    for (k, v) in row[1..].iter_mut().enumerate() {
                        *v = r[(a * (ROW - 1) + k) * plane + cell];
                    }
                    rows.push(row);
                }
            }
        }
        Ok(rows)
    }

    /// Every anchor's candidate (human's `decodeBoxes` and sigmoid), in input pixels.
    pub fn candidates(&self, rows: &[[f32; ROW]]) -> Vec<Candidate> {
        rows.iter()
            .zip(&self.anchors)
            .map(|(r, a)| {
                let (cx, cy) = (r[1] + a[0], r[2] + a[1]);
                let (hw, hh) = (r[3] / 2.0, r[4] / 2.0);
                Candidate {
                    score: sigmoid(r[0]),
                    x1: cx - hw,
                    y1: cy - hh,
                    x2: cx + hw,
                    y2: cy + hh,
                }
            })
            .collect()
    }

    /// Faces in a whole image stretched to 256×256, as human runs it; boxes in image pixels.
    pub fn detect(&self, img: &RgbImage) -> Result<Vec<FaceBox>> {
        if img.width() == 0 || img.height() == 0 {
            return Ok(Vec::new());
        }
        let mut buf = vec![0f32; 3 * INPUT_SIZE * INPUT_SIZE];
        resize_chw(img, INPUT_SIZE, INPUT_SIZE, Normalize::SSD, &mut buf);
        let sx = img.width() as f32 / INPUT_SIZE as f32;
        let sy = img.height() as f32 / INPUT_SIZE as f32;
        self.detect_input(buf, 0.0, 0.0, sx, sy)
    }

    /// Faces in `rect` of `img` (padded to a square at its bottom or right, so faces keep
    /// their shape); boxes in image pixels.
    pub fn detect_region(&self, img: &RgbImage, rect: Rect) -> Result<Vec<FaceBox>> {
        if rect.width == 0 || rect.height == 0 {
            return Ok(Vec::new());
        }
        let mut buf = vec![0f32; 3 * INPUT_SIZE * INPUT_SIZE];
        crop_pad_resize(
            img,
            rect,
            PadMode::BottomRight,
            INPUT_SIZE,
            Normalize::SSD,
            &mut buf,
        );
        let k = rect.width.max(rect.height) as f32 / INPUT_SIZE as f32;
        self.detect_input(buf, rect.x as f32, rect.y as f32, k, k)
    }

    fn detect_input(
        &self,
        buf: Vec<f32>,
        ox: f32,
        oy: f32,
        sx: f32,
        sy: f32,
    ) -> Result<Vec<FaceBox>> {
        let cands = self.candidates(&self.raw(buf)?);
        let cfg = self.config;
        Ok(nms(
            &cands,
            cfg.max_detected,
            cfg.iou_threshold,
            cfg.min_confidence,
        )
        .into_iter()
        .map(|i| {
            let c = &cands[i];
            FaceBox {
                score: c.score,
                x: ox + c.x1 * sx,
                y: oy + c.y1 * sy,
                width: (c.x2 - c.x1) * sx,
                height: (c.y2 - c.y1) * sy,
            }
        })
        .collect())
    }

    /// The box the SSD draws around the face BlazeFace boxed as `b`: fitted on the 22 faces of
    /// the sample photos both find (BlazeFace on the letterboxed photo), mean ratios of the
    /// SSD's box to BlazeFace's; `models/tests/blazeface.rs` checks the fit.
    pub fn ssd_like(b: &FaceBox) -> FaceBox {
        let (cx, cy) = (b.x + b.width / 2.0, b.y + b.height / 2.0);
        let (w, h) = (b.width * SSD_FIT.0, b.height * SSD_FIT.1);
        let cy = cy + b.height * SSD_FIT.2;
        FaceBox {
            score: b.score,
            x: cx - w / 2.0,
            y: cy - h / 2.0,
            width: w,
            height: h,
        }
    }
}

/// (width scale, height scale, centre shift down as a fraction of the height) from
/// BlazeFace's box to the SSD's (the centre moves up: the SSD boxes the forehead too).
const SSD_FIT: (f32, f32, f32) = (0.889, 1.29, -0.148);

/// TF's greedy non-max suppression (`tf.image.nonMaxSuppression`): best score first, ties by
/// index; a candidate is kept unless it overlaps a kept one by `iou` or more.
pub fn nms(c: &[Candidate], max: usize, iou: f32, min_score: f32) -> Vec<usize> {
    let mut order: Vec<usize> = (0..c.len()).filter(|&i| c[i].score > min_score).collect();
    order.sort_by(|&a, &b| c[b].score.total_cmp(&c[a].score).then(a.cmp(&b)));
    let overlap = |a: &Candidate, b: &Candidate| {
        let area = |c: &Candidate| (c.x2 - c.x1).max(0.0) * (c.y2 - c.y1).max(0.0);
        let iw = (a.x2.min(b.x2) - a.x1.max(b.x1)).max(0.0);
        let ih = (a.y2.min(b.y2) - a.y1.max(b.y1)).max(0.0);
        let inter = iw * ih;
        let union = area(a) + area(b) - inter;
        if union <= 0.0 { 0.0 } else { inter / union }
    };
    let mut kept: Vec<usize> = Vec::new();
    for i in order {
        if kept.len() >= max {
            break;
        }
        if kept.iter().all(|&j| overlap(&c[i], &c[j]) < iou) {
            kept.push(i);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_follow_humans_grid() {
        let a = anchors();
        assert_eq!(a.len(), ANCHORS);
        assert_eq!(a[0], [8.0, 8.0]);
        assert_eq!(a[1], [8.0, 8.0]);
        assert_eq!(a[2], [24.0, 8.0]);
        // The stride-32 grid starts after 16·16·2 anchors, six per cell.
        assert_eq!(a[512], [16.0, 16.0]);
        assert_eq!(a[517], [16.0, 16.0]);
        assert_eq!(a[518], [48.0, 16.0]);
        assert_eq!(a[895], [240.0, 240.0]);
    }

    #[test]
    fn nms_keeps_the_best_of_overlapping_boxes() {
        let b = |score, x1| Candidate {
            score,
            x1,
            y1: 0.0,
            x2: x1 + 10.0,
            y2: 10.0,
        };
        let c = [b(0.5, 0.0), b(0.9, 1.0), b(0.8, 50.0), b(0.1, 80.0)];
        assert_eq!(nms(&c, 10, 0.2, 0.2), vec![1, 2]);
        assert_eq!(nms(&c, 1, 0.2, 0.2), vec![1]);
    }
}
