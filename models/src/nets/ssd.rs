//! SSD-MobileNetV1 face detector (face-api's `ssd_mobilenetv1`): 512×512 input, 5118 stored
//! anchors, TF-OD box decoding and face-api's own greedy NMS.

use candle_core::{Device, Tensor};
use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::kernels::epilogue::{Act, ChannelAffine};
use crate::kernels::image_ops::{Normalize, PadMode, Rect, crop_pad_resize};
use crate::tfjs::layers::{Conv2d, Depthwise, Padding, bias_act, vec_of};
use crate::tfjs::weights::WeightStore;

/// Network input side.
pub const INPUT_SIZE: usize = 512;
/// TF's default batch-norm epsilon as stored in f32 (0.0010000000474974513).
const BN_EPS: f32 = 0.001;

/// Detector thresholds; defaults are face-api's.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct SsdConfig {
    /// Keep candidates with score strictly above this (default 0.5).
    pub min_confidence: f32,
    /// Suppress a candidate whose IoU with a kept box exceeds this (default 0.5).
    pub iou_threshold: f32,
    /// At most this many faces per image (default 100).
    pub max_results: usize,
    /// Frames stacked into one forward pass by `detect_batch` (default 1: on CPU the 512×512
    /// activations of several frames fall out of cache and per-frame time goes up, see
    /// docs/benchmarks.md; raise it for accelerators).
    pub frames_per_pass: usize,
    /// Run on the image's own rows of the padded square only (the padding below a landscape
    /// image cut off, rounded up to a multiple of 32): 512×288 for 16:9, 56 % of the work. The
    /// anchors of the rows kept are the square's, so boxes decode the same; only receptive
    /// fields reaching below the picture see zeros instead of padding. Off by default (the
    /// reference runs the square).
    pub crop_padding: bool,
}

impl Default for SsdConfig {
    fn default() -> Self {
        SsdConfig {
            min_confidence: 0.5,
            iou_threshold: 0.5,
            max_results: 100,
            frames_per_pass: 1,
            crop_padding: false,
        }
    }
}

/// Anchors per cell of each prediction layer (whose grids are 32, 16, 8, 4, 2 and 1 cells wide
/// at 512).
const ANCHORS_PER_CELL: [usize; 6] = [3, 6, 6, 6, 6, 6];
/// Input rows are multiples of this (the backbone's total stride).
const ROW_MULTIPLE: usize = 32;

/// A detected face box in image pixels (`x`, `y` top-left), with its score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FaceBox {
    pub score: f32,
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
}

/// Per image of a batch: decoded boxes (`[ymin, xmin, ymax, xmax]`, normalised to the padded
/// square) and face scores, one per anchor.
pub type SsdOutput = (Vec<Vec<[f32; 4]>>, Vec<Vec<f32>>);

/// The loaded detector.
#[derive(Debug)]
pub struct SsdMobilenetV1 {
    conv0: Conv2d,
    pairs: Vec<(Depthwise, Conv2d)>,
    extra: Vec<Conv2d>,
    box_pred: Vec<Conv2d>,
    class_pred: Vec<Conv2d>,
    /// `[ymin, xmin, ymax, xmax]`, normalised.
    anchors: Vec<[f32; 4]>,
    pub config: SsdConfig,
    params: usize,
}

fn pointwise(w: &WeightStore, prefix: &str, stride: usize) -> Result<Conv2d> {
    let filt = w.get(&format!("{prefix}/weights"))?;
    let co = *filt.shape.last().unwrap_or(&0);
    let off = vec_of(
        w.get(&format!("{prefix}/convolution_bn_offset"))?,
        co,
        prefix,
    )?;
    Conv2d::from_hwio(filt, stride, Padding::Same, bias_act(off, Act::Relu6))
}

impl SsdMobilenetV1 {
    /// Builds the network from face-api's `ssd_mobilenetv1_model` weights.
    pub fn from_weights(w: &WeightStore) -> Result<Self> {
        let conv0 = pointwise(w, "MobilenetV1/Conv2d_0_pointwise", 2)?;
        let mut pairs = Vec::new();
        for i in 1..=13 {
            let stride = if [2, 4, 6, 12].contains(&i) { 2 } else { 1 };
            let p = format!("MobilenetV1/Conv2d_{i}_depthwise");
            let filt = w.get(&format!("{p}/depthwise_weights"))?;
            let c = filt.shape.get(2).copied().unwrap_or(0);
            let gamma = vec_of(w.get(&format!("{p}/BatchNorm/gamma"))?, c, &p)?;
            let beta = vec_of(w.get(&format!("{p}/BatchNorm/beta"))?, c, &p)?;
            let mean = vec_of(w.get(&format!("{p}/BatchNorm/moving_mean"))?, c, &p)?;
            let var = vec_of(w.get(&format!("{p}/BatchNorm/moving_variance"))?, c, &p)?;
            // Batch norm folded into the depthwise epilogue: (x-mean)/sqrt(var+eps)*gamma+beta.
            let scale: Vec<f32> = (0..c)
                .map(|k| gamma[k] / (var[k] + BN_EPS).sqrt())
                .collect();
            let shift: Vec<f32> = (0..c).map(|k| beta[k] - mean[k] * scale[k]).collect();
            let dw = Depthwise::from_tf(
                filt,
                stride,
                Padding::Same,
                ChannelAffine {
                    scale: Some(scale.into()),
                    shift: shift.into(),
                    act: Act::Relu6,
                },
            )?;
            let pw = pointwise(w, &format!("MobilenetV1/Conv2d_{i}_pointwise"), 1)?;
            pairs.push((dw, pw));
        }
        let extra = (0..8)
            .map(|i| pointwise(w, &format!("Prediction/Conv2d_{i}_pointwise"), 1 + i % 2))
            .collect::<Result<Vec<_>>>()?;
        let head = |i: usize, kind: &str| -> Result<Conv2d> {
            let p = format!("Prediction/BoxPredictor_{i}/{kind}");
            let filt = w.get(&format!("{p}/weights"))?;
            let co = *filt.shape.last().unwrap_or(&0);
            let b = vec_of(w.get(&format!("{p}/biases"))?, co, &p)?;
            Conv2d::from_hwio(filt, 1, Padding::Same, bias_act(b, Act::None))
        };
        let box_pred = (0..6)
            .map(|i| head(i, "BoxEncodingPredictor"))
            .collect::<Result<Vec<_>>>()?;
        let class_pred = (0..6)
            .map(|i| head(i, "ClassPredictor"))
            .collect::<Result<Vec<_>>>()?;
        let a = w.get("Output/extra_dim")?;
        let av = a.to_f32();
        if av.len() % 4 != 0 || av.is_empty() {
            return Err(Error::Weights(
                "anchor table Output/extra_dim malformed".into(),
            ));
        }
        let anchors = av
            .chunks_exact(4)
            .map(|c| [c[0], c[1], c[2], c[3]])
            .collect();
        let params = w.float_params(|n| n == "Output/extra_dim" || n.starts_with("Preprocessor"));
        Ok(SsdMobilenetV1 {
            conv0,
            pairs,
            extra,
            box_pred,
            class_pred,
            anchors,
            config: SsdConfig::default(),
            params,
        })
    }

    /// Loads from a face-api weights manifest.
    pub fn load(manifest: &std::path::Path) -> Result<Self> {
        Self::from_weights(&WeightStore::load_manifest(manifest)?)
    }

    /// Number of learned parameters.
    pub fn param_count(&self) -> usize {
        self.params
    }

    /// Network input for one image: pad bottom/right to square, legacy bilinear to 512, `x/127.5-1`.
    pub fn preprocess(img: &RgbImage, out: &mut [f32]) {
        let rect = Rect {
            x: 0,
            y: 0,
            width: img.width(),
            height: img.height(),
        };
        crop_pad_resize(
            img,
            rect,
            PadMode::BottomRight,
            INPUT_SIZE,
            Normalize::SSD,
            out,
        );
    }

    /// Raw network output for a preprocessed batch `[B,3,512,512]`: decoded boxes
    /// `[B,5118,4]` (ymin,xmin,ymax,xmax in the padded square, normalised) and face scores `[B,5118]`.
    pub fn forward(&self, x: &Tensor) -> Result<SsdOutput> {
        let b = x.dim(0)?;
        let mut h = self.conv0.forward(x)?;
        let mut conv11 = None;
        for (i, (dw, pw)) in self.pairs.iter().enumerate() {
            h = pw.forward(&dw.forward(&h)?)?;
            if i + 1 == 11 {
                conv11 = Some(h.clone());
            }
        }
        let conv11 = conv11.ok_or_else(|| Error::Weights("mobilenet too short".into()))?;
        let mut feats = vec![conv11, h.clone()];
        let mut e = h;
        for (i, conv) in self.extra.iter().enumerate() {
            e = conv.forward(&e)?;
            if i % 2 == 1 {
                feats.push(e.clone());
            }
        }
        let mut boxes = Vec::new();
        let mut classes = Vec::new();
        // The anchors of the rows each layer produced: all of them for the square input, the
        // top rows of each layer's (row-major) block for a cropped one.
        let mut anchors = Vec::with_capacity(self.anchors.len());
        let mut offset = 0;
        for (i, f) in feats.iter().enumerate() {
            let (_, _, rows, cols) = f.dims4()?;
            let per_cell = ANCHORS_PER_CELL.get(i).copied().unwrap_or(0);
            let kept = rows.min(cols) * cols * per_cell;
            anchors.extend(
                self.anchors
                    .get(offset..offset + kept)
                    .ok_or_else(|| Error::Weights("anchor table too short".into()))?,
            );
            offset += cols * cols * per_cell;
            // NCHW → NHWC so anchors come out row-major (y, x, anchor) like TF's reshape.
            let bx = self.box_pred[i]
                .forward(f)?
                .permute((0, 2, 3, 1))?
                .reshape((b, (), 4))?;
            let cl = self.class_pred[i]
                .forward(f)?
                .permute((0, 2, 3, 1))?
                .reshape((b, (), 3))?;
            boxes.push(bx);
            classes.push(cl);
        }
        let boxes = Tensor::cat(&boxes, 1)?.to_vec3::<f32>()?;
        let classes = Tensor::cat(&classes, 1)?.to_vec3::<f32>()?;
        if offset != self.anchors.len() || boxes.first().map(|v| v.len()) != Some(anchors.len()) {
            return Err(Error::Weights(
                "anchor count differs from prediction count".into(),
            ));
        }
        let decoded = boxes.iter().map(|enc| decode(&anchors, enc)).collect();
        let scores = classes
            .iter()
            .map(|c| c.iter().map(|l| 1.0 / (1.0 + (-l[1]).exp())).collect())
            .collect();
        Ok((decoded, scores))
    }

    /// Detects faces in a batch of images, `config.frames_per_pass` frames per forward pass.
    /// Empty images give no faces.
    pub fn detect_batch(&self, images: &[&RgbImage]) -> Result<Vec<Vec<FaceBox>>> {
        let live: Vec<usize> = (0..images.len())
            .filter(|&i| images[i].width() > 0 && images[i].height() > 0)
            .collect();
        let mut out = vec![Vec::new(); images.len()];
        let square = 3 * INPUT_SIZE * INPUT_SIZE;
        let rows = |i: &usize| self.input_rows(images[*i]);
        // Frames stack into one pass only when they keep the same rows.
        for same in live.chunk_by(|a, b| rows(a) == rows(b)) {
            let h = rows(&same[0]);
            let plane = 3 * h * INPUT_SIZE;
            for chunk in same.chunks(self.config.frames_per_pass.max(1)) {
                let mut padded = vec![0f32; square];
                let mut buf = vec![0f32; chunk.len() * plane];
                for (k, &i) in chunk.iter().enumerate() {
                    Self::preprocess(images[i], &mut padded);
                    // Each channel's top `h` rows of the square.
                    for c in 0..3 {
                        let from = c * INPUT_SIZE * INPUT_SIZE;
                        let to = k * plane + c * h * INPUT_SIZE;
                        buf[to..to + h * INPUT_SIZE]
                            .copy_from_slice(&padded[from..from + h * INPUT_SIZE]);
                    }
                }
                let x = Tensor::from_vec(buf, (chunk.len(), 3, h, INPUT_SIZE), &Device::Cpu)?;
                let (boxes, scores) = self.forward(&x)?;
                for (k, &i) in chunk.iter().enumerate() {
                    out[i] = self.postprocess(
                        &boxes[k],
                        &scores[k],
                        images[i].width(),
                        images[i].height(),
                    );
                }
            }
        }
        Ok(out)
    }

    /// Rows of the padded square the network sees for `img`: all 512, or with `crop_padding`
    /// the picture's own rows rounded up to a multiple of 32.
    fn input_rows(&self, img: &RgbImage) -> usize {
        if !self.config.crop_padding {
            return INPUT_SIZE;
        }
        let (w, h) = (img.width() as f64, img.height() as f64);
        let rows = (h * INPUT_SIZE as f64 / w.max(h)).round() as usize;
        rows.div_ceil(ROW_MULTIPLE)
            .clamp(1, INPUT_SIZE / ROW_MULTIPLE)
            * ROW_MULTIPLE
    }

    /// Thresholding, NMS and mapping back to image pixels, as face-api's `locateFaces`.
    pub fn postprocess(
        &self,
        boxes: &[[f32; 4]],
        scores: &[f32],
        width: u32,
        height: u32,
    ) -> Vec<FaceBox> {
        let keep = nms(boxes, scores, &self.config);
        let (w, h) = (width as f64, height as f64);
        let s = INPUT_SIZE as f64 / w.max(h);
        let (rw, rh) = ((w * s).round().max(1.0), (h * s).round().max(1.0));
        let (pad_x, pad_y) = (INPUT_SIZE as f64 / rw, INPUT_SIZE as f64 / rh);
        keep.into_iter()
            .map(|i| {
                let b = boxes[i];
                let top = (b[0] as f64).max(0.0) * pad_y;
                let bottom = (b[2] as f64).min(1.0) * pad_y;
                let left = (b[1] as f64).max(0.0) * pad_x;
                let right = (b[3] as f64).min(1.0) * pad_x;
                FaceBox {
                    score: scores[i],
                    x: (left * w) as f32,
                    y: (top * h) as f32,
                    width: ((right - left) * w) as f32,
                    height: ((bottom - top) * h) as f32,
                }
            })
            .collect()
    }
}

/// TF-OD box decoding (scale factors 10, 10, 5, 5) against `anchors`.
fn decode(anchors: &[[f32; 4]], enc: &[Vec<f32>]) -> Vec<[f32; 4]> {
    anchors
        .iter()
        .zip(enc)
        .map(|(a, t)| {
            let (ha, wa) = (a[2] - a[0], a[3] - a[1]);
            let (cya, cxa) = (a[0] + ha / 2.0, a[1] + wa / 2.0);
            let half_h = (t[2] / 5.0).exp() * ha / 2.0;
            let cy = t[0] / 10.0 * ha + cya;
            let half_w = (t[3] / 5.0).exp() * wa / 2.0;
            let cx = t[1] / 10.0 * wa + cxa;
            [cy - half_h, cx - half_w, cy + half_h, cx + half_w]
        })
        .collect()
}

fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let (ay0, ax0, ay1, ax1) = (
        a[0].min(a[2]),
        a[1].min(a[3]),
        a[0].max(a[2]),
        a[1].max(a[3]),
    );
    let (by0, bx0, by1, bx1) = (
        b[0].min(b[2]),
        b[1].min(b[3]),
        b[0].max(b[2]),
        b[1].max(b[3]),
    );
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

/// face-api's greedy NMS: candidates above `min_confidence` by descending score; a candidate is
/// dropped when its IoU with any already kept box exceeds `iou_threshold`.
pub fn nms(boxes: &[[f32; 4]], scores: &[f32], cfg: &SsdConfig) -> Vec<usize> {
    let mut cand: Vec<usize> = (0..scores.len().min(boxes.len()))
        .filter(|&i| scores[i] > cfg.min_confidence)
        .collect();
    cand.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut kept: Vec<usize> = Vec::new();
    for i in cand {
        if kept.len() >= cfg.max_results {
            break;
        }
        if kept
            .iter()
            .all(|&j| iou(&boxes[i], &boxes[j]) <= cfg.iou_threshold)
        {
            kept.push(i);
        }
    }
    kept
}
