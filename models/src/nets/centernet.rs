//! Person (and COCO object) detection with human's CenterNet (MobileNetV3 backbone, stride-4
//! heatmap head), run through the graph executor; decoding replicates the graph's own
//! peak/top-k stage and human's NMS.

use std::path::Path;

use candle_core::{Device, Tensor};
use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::pipeline::{BBox, Threads};
use crate::cache::fetch::{self, paths};
use crate::error::{Error, Result};
use crate::kernels::image_ops::{Normalize, resize_chw};
use crate::tfjs::graph::CompiledGraph;
use crate::tfjs::weights::GraphModel;

/// Network input side (the reference's square input).
pub const INPUT_SIZE: usize = 512;
/// Input sides are multiples of this (the backbone's total stride).
const INPUT_MULTIPLE: usize = 32;
const STRIDE: usize = 4;
const TOP_K: usize = 100;
const HEAT_LOGITS: &str = "tower_0/CenternetHead/centernet_cls_output/BiasAdd";

/// The 80 COCO labels in the model's class order.
pub const COCO_LABELS: [&str; 80] = [
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic light",
    "fire hydrant",
    "stop sign",
    "parking meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "umbrella",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports ball",
    "kite",
    "baseball bat",
    "baseball glove",
    "skateboard",
    "surfboard",
    "tennis racket",
    "bottle",
    "wine glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "couch",
    "potted plant",
    "bed",
    "dining table",
    "toilet",
    "tv",
    "laptop",
    "mouse",
    "remote",
    "keyboard",
    "cell phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy bear",
    "hair drier",
    "toothbrush",
];

/// Detector thresholds; defaults are those the reference run used with human.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CenterNetConfig {
    /// Keep detections scoring strictly above this (default 0.2).
    pub min_confidence: f32,
    /// Class-agnostic NMS IoU threshold (default 0.4).
    pub iou_threshold: f32,
    /// At most this many detections (all classes) per image before class filtering (default 20).
    pub max_detected: usize,
    /// COCO class ids to return; `None` = all classes. Default: persons only (`[0]`).
    pub classes: Option<Vec<usize>>,
    /// Frames stacked into one forward pass by `detect_batch` (default 1: faster per frame on
    /// CPU, see docs/benchmarks.md).
    pub frames_per_pass: usize,
    /// How a frame becomes the network's input.
    pub input: CenterNetInput,
}

/// How a frame is resized for the network. The network is fully convolutional, so any size
/// that is a multiple of 32 runs; its cost grows with the area.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CenterNetInput {
    /// Stretched to `n`×`n`, as the reference (human) runs it: a 16:9 frame is squeezed
    /// sideways.
    Square(usize),
    /// The frame's own shape, the longer side `n` (both sides rounded to a multiple of 32):
    /// a 16:9 frame at 512 is 512×288, 56 % of the square's work, with people in their real
    /// proportions (docs/models.md "Person detector input").
    KeepAspect(usize),
}

impl CenterNetInput {
    /// Input (width, height) for a `width`×`height` frame.
    pub fn size_for(self, width: u32, height: u32) -> (usize, usize) {
        let round = |v: f32| ((v / INPUT_MULTIPLE as f32).round() as usize).max(1) * INPUT_MULTIPLE;
        match self {
            CenterNetInput::Square(n) => (round(n as f32), round(n as f32)),
            CenterNetInput::KeepAspect(n) => {
                let long = width.max(height).max(1) as f32;
                let k = n as f32 / long;
                (round(width as f32 * k), round(height as f32 * k))
            }
        }
    }
}

impl Default for CenterNetConfig {
    fn default() -> Self {
        CenterNetConfig {
            min_confidence: 0.2,
            iou_threshold: 0.4,
            max_detected: 20,
            classes: Some(vec![0]),
            frames_per_pass: 1,
            input: CenterNetInput::Square(INPUT_SIZE),
        }
    }
}

/// One detected object in image pixels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    pub score: f32,
    /// COCO class id (0 = person).
    pub class: usize,
    pub label: String,
    #[serde(rename = "box")]
    pub bbox: BBox,
}

/// A person as `vigil persons` prints it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Person {
    pub score: f32,
    #[serde(rename = "box")]
    pub bbox: BBox,
}

/// What `vigil persons` prints per image.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PersonsReport {
    pub image: String,
    pub persons: Vec<Person>,
}

impl From<&Detection> for Person {
    fn from(d: &Detection) -> Self {
        Person {
            score: d.score,
            bbox: d.bbox,
        }
    }
}

/// The loaded CenterNet detector.
#[derive(Debug)]
pub struct PersonDetector {
    graph: CompiledGraph,
    pub config: CenterNetConfig,
    threads: Threads,
}

impl PersonDetector {
    /// Loads CenterNet from `cache_dir`; [`Error::MissingModels`] when the cache is empty.
    pub fn load(cache_dir: &Path) -> Result<Self> {
        fetch::ensure_fetched(cache_dir)?;
        crate::kernels::alloc::tune_allocator();
        let model = GraphModel::load(&paths::centernet(cache_dir))?;
        // The heatmap is taken before its sigmoid: peaks and thresholds are found on logits
        // (sigmoid is monotonic) and only the few candidates get a sigmoid.
        let graph = CompiledGraph::compile(&model, "tower_0/images", &[HEAT_LOGITS, "tower_0/wh"])?;
        Ok(PersonDetector {
            graph,
            config: CenterNetConfig::default(),
            threads: Threads::default(),
        })
    }

    /// Sets thresholds and class filter.
    pub fn with_config(mut self, config: CenterNetConfig) -> Self {
        self.config = config;
        self
    }

    /// Runs on `n` threads (0 = default).
    pub fn with_threads(mut self, n: usize) -> Result<Self> {
        self.threads = Threads::new(n)?;
        Ok(self)
    }

    /// Number of float constants (parameters) in the graph.
    pub fn param_count(&self) -> usize {
        self.graph.param_count()
    }

    /// Detections in one image (persons only by default). Empty images give none.
    pub fn detect(&self, img: &RgbImage) -> Result<Vec<Detection>> {
        Ok(self.detect_batch(&[img])?.pop().unwrap_or_default())
    }

    /// Detections for several images, `config.frames_per_pass` frames per forward pass.
    pub fn detect_batch(&self, images: &[&RgbImage]) -> Result<Vec<Vec<Detection>>> {
        let live: Vec<usize> = (0..images.len())
            .filter(|&i| images[i].width() > 0 && images[i].height() > 0)
            .collect();
        let mut out = vec![Vec::new(); images.len()];
        let size = |i: &usize| {
            self.config
                .input
                .size_for(images[*i].width(), images[*i].height())
        };
        // Frames stack into one pass only when their inputs have the same size.
        for same in live.chunk_by(|a, b| size(a) == size(b)) {
            let (w, h) = size(&same[0]);
            for chunk in same.chunks(self.config.frames_per_pass.max(1)) {
                let dets = self
                    .threads
                    .run(|| self.forward_frames(images, chunk, w, h))?;
                for (&i, d) in chunk.iter().zip(dets) {
                    out[i] = d;
                }
            }
        }
        Ok(out)
    }

    fn forward_frames(
        &self,
        images: &[&RgbImage],
        idx: &[usize],
        w: usize,
        h: usize,
    ) -> Result<Vec<Vec<Detection>>> {
        let plane = 3 * w * h;
        let mut buf = vec![0f32; idx.len() * plane];
        for (k, &i) in idx.iter().enumerate() {
            resize_chw(
                images[i],
                w,
                h,
                Normalize::IDENTITY,
                &mut buf[k * plane..(k + 1) * plane],
            );
        }
        let x = Tensor::from_vec(buf, (idx.len(), 3, h, w), &Device::Cpu)?;
        let outs = self.graph.run(&x)?;
        let [heat, wh] = &outs[..] else {
            return Err(Error::Graph("CenterNet must have two outputs".into()));
        };
        let (b, nc, gh, gw) = heat.dims4()?;
        let heat = heat.flatten_all()?.to_vec1::<f32>()?;
        let whv = wh.flatten_all()?.to_vec1::<f32>()?;
        if wh.dims4()? != (b, 4, gh, gw) || nc != COCO_LABELS.len() || b != idx.len() {
            return Err(Error::Graph("unexpected CenterNet output shapes".into()));
        }
        Ok(idx
            .iter()
            .enumerate()
            .map(|(k, &i)| {
                let hm = &heat[k * nc * gh * gw..(k + 1) * nc * gh * gw];
                let sz = &whv[k * 4 * gh * gw..(k + 1) * 4 * gh * gw];
                let raw = decode(hm, sz, nc, gh, gw, self.config.min_confidence);
                self.postprocess(&raw, (w, h), images[i].width(), images[i].height())
            })
            .collect())
    }

    fn postprocess(
        &self,
        raw: &[RawDet],
        input: (usize, usize),
        width: u32,
        height: u32,
    ) -> Vec<Detection> {
        let cfg = &self.config;
        let keep = tf_nms(raw, cfg.max_detected, cfg.iou_threshold, cfg.min_confidence);
        let (sx, sy) = (input.0 as f32, input.1 as f32);
        let (w, h) = (width as f32, height as f32);
        keep.into_iter()
            .map(|i| &raw[i])
            .filter(|d| cfg.classes.as_ref().is_none_or(|c| c.contains(&d.class)))
            .map(|d| {
                let (x, y) = (d.x1 / sx, d.y1 / sy);
                Detection {
                    score: d.score,
                    class: d.class,
                    label: COCO_LABELS.get(d.class).unwrap_or(&"unknown").to_string(),
                    bbox: BBox {
                        x: x * w,
                        y: y * h,
                        width: (d.x2 / sx - x) * w,
                        height: (d.y2 / sy - y) * h,
                    },
                }
            })
            .collect()
    }
}

/// A decoded candidate in input pixels.
#[derive(Debug, Clone, Copy)]
struct RawDet {
    x1: f32,
    y1: f32,
    x2: f32,
    y2: f32,
    score: f32,
    class: usize,
}

/// The graph's in-model decode on heatmap logits: 3×3 peak mask, top-100 over
/// (y, x, class), box from wh. Candidates at or below `min_score` are skipped up front: NMS
/// would drop them anyway, and a top-100 cut taken after the threshold keeps the same survivors.
fn decode(
    logits: &[f32],
    wh: &[f32],
    nc: usize,
    gh: usize,
    gw: usize,
    min_score: f32,
) -> Vec<RawDet> {
    let plane = gh * gw;
    let min_logit = if min_score <= 0.0 {
        f32::NEG_INFINITY
    } else if min_score >= 1.0 {
        f32::INFINITY
    } else {
        // A hair below the exact logit, so rounding cannot drop a candidate the sigmoid keeps.
        (min_score / (1.0 - min_score)).ln() - 1e-4
    };
    let mut peaks: Vec<(f32, usize)> = Vec::new();
    for c in 0..nc {
        let p = &logits[c * plane..(c + 1) * plane];
        for y in 0..gh {
            let row = &p[y * gw..(y + 1) * gw];
            for (x, &v) in row.iter().enumerate() {
                if v <= min_logit {
                    continue;
                }
                let mut m = v;
                for yy in y.saturating_sub(1)..(y + 2).min(gh) {
                    for xx in x.saturating_sub(1)..(x + 2).min(gw) {
                        m = m.max(p[yy * gw + xx]);
                    }
                }
                let score = 1.0 / (1.0 + (-v).exp());
                if m == v && score > min_score {
                    peaks.push((score, (y * gw + x) * nc + c));
                }
            }
        }
    }
    // TF top-k: descending values, lower flat index first on ties.
    peaks.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    peaks.truncate(TOP_K);
    peaks
        .into_iter()
        .map(|(score, idx)| {
            let class = idx % nc;
            let x = (idx / nc) % gw;
            let y = idx / nc / gw;
            let at = |k: usize| wh[k * plane + y * gw + x];
            let (cx, cy) = ((x * STRIDE) as f32, (y * STRIDE) as f32);
            RawDet {
                x1: cx - at(0),
                y1: cy - at(1),
                x2: cx + at(2),
                y2: cy + at(3),
                score,
                class,
            }
        })
        .collect()
}

fn iou(a: &RawDet, b: &RawDet) -> f32 {
    let (ay0, ay1) = (a.y1.min(a.y2), a.y1.max(a.y2));
    let (ax0, ax1) = (a.x1.min(a.x2), a.x1.max(a.x2));
    let (by0, by1) = (b.y1.min(b.y2), b.y1.max(b.y2));
    let (bx0, bx1) = (b.x1.min(b.x2), b.x1.max(b.x2));
    let area_a = (ay1 - ay0) * (ax1 - ax0);
    let area_b = (by1 - by0) * (bx1 - bx0);
    if area_a <= 0.0 || area_b <= 0.0 {
        return 0.0;
    }
    let ih = (ay1.min(by1) - ay0.max(by0)).max(0.0);
    let iw = (ax1.min(bx1) - ax0.max(bx0)).max(0.0);
    let inter = ih * iw;
    inter / (area_a + area_b - inter)
}

/// tf.image.nonMaxSuppression: score > threshold, descending, drop IoU ≥ `iou_thr` overlaps.
fn tf_nms(d: &[RawDet], max: usize, iou_thr: f32, score_thr: f32) -> Vec<usize> {
    let mut cand: Vec<usize> = (0..d.len()).filter(|&i| d[i].score > score_thr).collect();
    cand.sort_by(|&a, &b| d[b].score.total_cmp(&d[a].score).then(a.cmp(&b)));
    let mut kept: Vec<usize> = Vec::new();
    for i in cand {
        if kept.len() >= max {
            break;
        }
        if kept.iter().all(|&j| iou(&d[i], &d[j]) < iou_thr) {
            kept.push(i);
        }
    }
    kept
}
