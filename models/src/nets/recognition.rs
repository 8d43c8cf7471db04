//! face-api's face recognition net (`face_recognition_model`, dlib's ResNet-34 with reduced
//! widths): 150×150 dlib-aligned crop → 128-d descriptor (not L2-normalised).

use candle_core::{Device, Tensor};
use image::RgbImage;

use crate::error::{Error, Result};
use crate::kernels::cpu::{Precision, with_precision};
use crate::kernels::epilogue::{Act, ChannelAffine};
use crate::kernels::image_ops::{Normalize, PadMode, Rect, crop_pad_resize};
use crate::kernels::pool::MaxPool;
use crate::tfjs::layers::{Conv2d, Padding, global_mean, vec_of};
use crate::tfjs::weights::WeightStore;

/// Network input side.
pub const INPUT_SIZE: usize = 150;
/// Descriptor length.
pub const DESCRIPTOR_LEN: usize = 128;

/// conv + bias, then the scale layer, folded into one affine: (x+b)·s + t = x·s + (b·s + t).
fn conv_layer(
    w: &WeightStore,
    p: &str,
    stride: usize,
    padding: Padding,
    relu: bool,
) -> Result<Conv2d> {
    let f = w.get(&format!("{p}/conv/filters"))?;
    let co = *f.shape.last().unwrap_or(&0);
    let b = vec_of(w.get(&format!("{p}/conv/bias"))?, co, p)?;
    let s = vec_of(w.get(&format!("{p}/scale/weights"))?, co, p)?;
    let t = vec_of(w.get(&format!("{p}/scale/biases"))?, co, p)?;
    let shift: Vec<f32> = (0..co).map(|k| b[k] * s[k] + t[k]).collect();
    let act = if relu { Act::Relu } else { Act::None };
    Conv2d::from_hwio(
        f,
        stride,
        padding,
        ChannelAffine {
            scale: Some(s.into()),
            shift: shift.into(),
            act,
        },
    )
}

#[derive(Debug)]
struct Residual {
    conv1: Conv2d,
    /// conv2 with no activation, for the down blocks whose shapes need padding first.
    conv2: Conv2d,
    /// conv2 with the shortcut add and ReLU fused into its epilogue.
    conv2_add_relu: Conv2d,
    down: bool,
}

impl Residual {
    fn load(w: &WeightStore, p: &str, down: bool) -> Result<Self> {
        let (s, pad) = if down {
            (2, Padding::Valid)
        } else {
            (1, Padding::Same)
        };
        let conv2 = conv_layer(w, &format!("{p}/conv2"), 1, Padding::Same, false)?;
        Ok(Residual {
            conv1: conv_layer(w, &format!("{p}/conv1"), s, pad, true)?,
            conv2_add_relu: conv2.with_act(Act::Relu),
            conv2,
            down,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.conv1.forward(x)?;
        if !self.down {
            return self.conv2_add_relu.forward_add(&h, x);
        }
        let mut pooled = x.avg_pool2d(2)?;
        let (_, pc, ph, pw) = pooled.dims4()?;
        let oc = self.conv2.out_channels();
        if pc != oc {
            // face-api concatenates zero channels to the pooled shortcut.
            pooled = pooled.pad_with_zeros(1, 0, oc.saturating_sub(pc))?;
        }
        let (_, _, hh, hw) = h.dims4()?;
        if (hh, hw) == (ph, pw) {
            return self.conv2_add_relu.forward_add(&h, &pooled);
        }
        // The strided branch is one pixel short: face-api appends a zero row and column to it.
        let out = self.conv2.forward(&h)?;
        let (_, _, oh, ow) = out.dims4()?;
        let out = out
            .pad_with_zeros(2, 0, ph.saturating_sub(oh))?
            .pad_with_zeros(3, 0, pw.saturating_sub(ow))?;
        Ok((out + pooled)?.relu()?)
    }
}

/// The loaded recognition net.
#[derive(Debug)]
pub struct RecognitionNet {
    conv_down: Conv2d,
    blocks: Vec<Residual>,
    fc: Tensor,
    params: usize,
}

impl RecognitionNet {
    /// Builds the net from face-api's `face_recognition_model` weights.
    pub fn from_weights(w: &WeightStore) -> Result<Self> {
        let conv_down = conv_layer(w, "conv32_down", 2, Padding::Valid, true)?;
        let spec: [(&str, bool); 14] = [
            ("conv32_1", false),
            ("conv32_2", false),
            ("conv32_3", false),
            ("conv64_down", true),
            ("conv64_1", false),
            ("conv64_2", false),
            ("conv64_3", false),
            ("conv128_down", true),
            ("conv128_1", false),
            ("conv128_2", false),
            ("conv256_down", true),
            ("conv256_1", false),
            ("conv256_2", false),
            ("conv256_down_out", true),
        ];
        let blocks = spec
            .iter()
            .map(|(p, d)| Residual::load(w, p, *d))
            .collect::<Result<Vec<_>>>()?;
        Ok(RecognitionNet {
            conv_down,
            blocks,
            fc: w.tensor("fc", &[256, DESCRIPTOR_LEN])?,
            params: w.float_params(|_| false),
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

    /// Descriptors for a preprocessed batch `[B,3,150,150]`.
    pub fn forward(&self, x: &Tensor) -> Result<Vec<[f32; DESCRIPTOR_LEN]>> {
        // bf16 wherever the CPU has AMX tiles, whatever the caller runs in: on the same crop
        // the descriptor stays within 0.005 of f32 (the parity bound is 0.01) at half the time
        // (docs/models.md, "Precision").
        with_precision(Precision::Bf16, || {
            let h = self.conv_down.forward(x)?;
            let mut h = MaxPool { k: 3, s: 2 }.forward(&h)?;
            for b in &self.blocks {
                h = b.forward(&h)?;
            }
            let d = global_mean(&h)?.matmul(&self.fc)?.to_vec2::<f32>()?;
            d.into_iter()
                .map(|v| {
                    v.try_into()
                        .map_err(|_| Error::Weights("descriptor length differs from 128".into()))
                })
                .collect()
        })
    }

    /// Descriptors for several (image, dlib-aligned crop) pairs in one forward pass.
    pub fn describe_crops(
        &self,
        crops: &[(&RgbImage, Rect)],
    ) -> Result<Vec<[f32; DESCRIPTOR_LEN]>> {
        if crops.is_empty() {
            return Ok(Vec::new());
        }
        let plane = 3 * INPUT_SIZE * INPUT_SIZE;
        let mut buf = vec![0f32; crops.len() * plane];
        for (k, (img, r)) in crops.iter().enumerate() {
            if r.x + r.width > img.width() || r.y + r.height > img.height() {
                return Err(Error::Input(format!("crop {r:?} outside the image")));
            }
            crop_pad_resize(
                img,
                *r,
                PadMode::Center,
                INPUT_SIZE,
                Normalize::FACE_MEAN,
                &mut buf[k * plane..(k + 1) * plane],
            );
        }
        let x = Tensor::from_vec(buf, (crops.len(), 3, INPUT_SIZE, INPUT_SIZE), &Device::Cpu)?;
        self.forward(&x)
    }
}

/// face-api's dlib alignment: the square crop (in image pixels, before clipping) from the eye
/// and mouth centres of absolute landmarks; `crop_w`/`crop_h` are the landmark crop's size.
pub fn dlib_align_rect(pts: &[[f32; 2]; 68], crop_w: f64, crop_h: f64) -> (f64, f64, f64, f64) {
    let mean = |r: std::ops::Range<usize>| {
        let n = r.len() as f64;
        let (sx, sy) = r.fold((0.0, 0.0), |(sx, sy), i| {
            (sx + pts[i][0] as f64, sy + pts[i][1] as f64)
        });
        (sx / n, sy / n)
    };
    let (l, r, m) = (mean(36..42), mean(42..48), mean(48..68));
    let dist = |a: (f64, f64), b: (f64, f64)| ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt();
    let d = (dist(m, l) + dist(m, r)) / 2.0;
    let size = (d / 0.45).floor();
    let refp = ((l.0 + r.0 + m.0) / 3.0, (l.1 + r.1 + m.1) / 3.0);
    let x = (refp.0 - 0.5 * size).max(0.0).floor();
    let y = (refp.1 - 0.43 * size).max(0.0).floor();
    (x, y, size.min(crop_w + x), size.min(crop_h + y))
}
