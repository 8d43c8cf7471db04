//! face-api's 68-point landmark net (`face_landmark_68_model`): four dense blocks of separable
//! convolutions on a 112×112 centred-padded crop, then a fully connected layer.

use candle_core::{Device, Tensor};
use image::RgbImage;

use crate::error::{Error, Result};
use crate::kernels::cpu::{Precision, with_precision};
use crate::kernels::epilogue::Act;
use crate::kernels::image_ops::{Normalize, PadMode, Rect, crop_pad_resize};
use crate::tfjs::layers::{Conv2d, Depthwise, Padding, bias_act, global_mean, vec_of};
use crate::tfjs::weights::WeightStore;

/// Network input side.
pub const INPUT_SIZE: usize = 112;

/// A separable conv: depthwise 3×3 (no bias) → pointwise 1×1 + bias, no activation.
#[derive(Debug)]
struct SepConv {
    dw: Depthwise,
    pw: Conv2d,
}

impl SepConv {
    fn load(w: &WeightStore, p: &str, stride: usize) -> Result<Self> {
        let dwf = w.get(&format!("{p}/depthwise_filter"))?;
        let c = dwf.shape.get(2).copied().unwrap_or(0);
        let dw = Depthwise::from_tf(
            dwf,
            stride,
            Padding::Same,
            bias_act(vec![0.0; c], Act::None),
        )?;
        let pwf = w.get(&format!("{p}/pointwise_filter"))?;
        let co = *pwf.shape.last().unwrap_or(&0);
        let b = vec_of(w.get(&format!("{p}/bias"))?, co, p)?;
        let pw = Conv2d::from_hwio(pwf, 1, Padding::Same, bias_act(b, Act::None))?;
        Ok(SepConv { dw, pw })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.pw.forward(&self.dw.forward(x)?)
    }

    /// This conv on `relu(x)` (fused into the depthwise input), optionally with a ReLU after.
    fn relu_in_out(mut self, input: bool, output: bool) -> Self {
        if input {
            self.dw = self.dw.with_input_relu();
        }
        if output {
            self.pw = self.pw.with_act(Act::Relu);
        }
        self
    }

    /// `sep(x) + residual`, the add fused into the pointwise epilogue.
    fn forward_add(&self, x: &Tensor, residual: &Tensor) -> Result<Tensor> {
        self.pw.forward_add(&self.dw.forward(x)?, residual)
    }
}

#[derive(Debug)]
enum FirstConv {
    Dense(Conv2d),
    Sep(SepConv),
}

#[derive(Debug)]
struct DenseBlock {
    conv0: FirstConv,
    convs: [SepConv; 3],
}

impl DenseBlock {
    /// Running sums: s12 = out1 + out2, s123 = s12 + out3; each conv sees relu(sum). The
    /// ReLUs are fused: into conv0's epilogue, into the inputs of convs 2 and 3, and into the
    /// epilogue of conv 3 (after its residual add) — see `from_weights`.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let out1 = match &self.conv0 {
            FirstConv::Dense(c) => c.forward(x)?,
            FirstConv::Sep(s) => s.forward(x)?,
        };
        let s12 = self.convs[0].forward_add(&out1, &out1)?;
        let s123 = self.convs[1].forward_add(&s12, &s12)?;
        self.convs[2].forward_add(&s123, &s123)
    }
}

/// The loaded landmark net.
#[derive(Debug)]
pub struct LandmarkNet {
    blocks: Vec<DenseBlock>,
    fc_w: Tensor,
    fc_b: Tensor,
    params: usize,
}

impl LandmarkNet {
    /// Builds the net from face-api's `face_landmark_68_model` weights.
    pub fn from_weights(w: &WeightStore) -> Result<Self> {
        let mut blocks = Vec::new();
        for i in 0..4 {
            let p = format!("dense{i}");
            let conv0 = if i == 0 {
                let f = w.get(&format!("{p}/conv0/filters"))?;
                let co = *f.shape.last().unwrap_or(&0);
                let b = vec_of(w.get(&format!("{p}/conv0/bias"))?, co, &p)?;
                FirstConv::Dense(Conv2d::from_hwio(
                    f,
                    2,
                    Padding::Same,
                    bias_act(b, Act::Relu),
                )?)
            } else {
                FirstConv::Sep(SepConv::load(w, &format!("{p}/conv0"), 2)?.relu_in_out(false, true))
            };
            let convs = [
                SepConv::load(w, &format!("{p}/conv1"), 1)?,
                SepConv::load(w, &format!("{p}/conv2"), 1)?.relu_in_out(true, false),
                SepConv::load(w, &format!("{p}/conv3"), 1)?.relu_in_out(true, true),
            ];
            blocks.push(DenseBlock { conv0, convs });
        }
        let fc_w = w.tensor("fc/weights", &[256, 136])?;
        let fc_b = w.tensor("fc/bias", &[136])?;
        Ok(LandmarkNet {
            blocks,
            fc_w,
            fc_b,
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

    /// Raw output for a preprocessed batch `[B,3,112,112]`: `[B,136]`, (x, y) interleaved in
    /// units of the padded 112 square.
    pub fn forward(&self, x: &Tensor) -> Result<Vec<Vec<f32>>> {
        // f32 whatever the caller runs in: a sub-pixel change moves the descriptor crop by
        // a pixel, and the descriptor by up to 0.06 (docs/models.md, "Precision").
        with_precision(Precision::F32, || {
            let mut h = x.clone();
            for b in &self.blocks {
                h = b.forward(&h)?;
            }
            // avgPool 7×7 stride 2 VALID on the 7×7 map is a global mean.
            let pooled = global_mean(&h)?;
            let out = pooled.matmul(&self.fc_w)?.broadcast_add(&self.fc_b)?;
            Ok(out.to_vec2::<f32>()?)
        })
    }

    /// Landmarks for several (image, crop) pairs in one forward pass. Each result holds 68
    /// points in the crop's own pixel coordinates (not shifted by the crop origin).
    pub fn detect_crops(&self, crops: &[(&RgbImage, Rect)]) -> Result<Vec<[[f32; 2]; 68]>> {
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
        let raw = self.forward(&x)?;
        Ok(raw
            .iter()
            .zip(crops)
            .map(|(o, (_, r))| to_crop_coords(o, r.width as f32, r.height as f32))
            .collect())
    }
}

/// face-api's `postProcess`: undo the centred padding and scale to crop pixels.
fn to_crop_coords(out: &[f32], w: f32, h: f32) -> [[f32; 2]; 68] {
    let s = INPUT_SIZE as f32;
    let scale = s / w.max(h);
    let (sw, sh) = (w * scale, h * scale);
    let pad_x = if sw < sh { (sw - sh).abs() / 2.0 } else { 0.0 };
    let pad_y = if sh < sw { (sw - sh).abs() / 2.0 } else { 0.0 };
    let mut pts = [[0f32; 2]; 68];
    for (i, p) in pts.iter_mut().enumerate() {
        let rx = (out[2 * i] * s - pad_x) / sw;
        let ry = (out[2 * i + 1] * s - pad_y) / sh;
        *p = [rx * w, ry * h];
    }
    pts
}
