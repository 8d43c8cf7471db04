//! NCHW building blocks over candle shared by the networks: TF-"SAME"-aware convolutions with a
//! fused epilogue, loaded from TF (HWIO) weights.

use std::sync::Arc;

use candle_core::{D, Tensor};

use super::weights::RawTensor;
use crate::error::{Error, Result};
use crate::kernels::conv::ConvKernel;
use crate::kernels::depthwise::{self, DepthwiseConv};
use crate::kernels::epilogue::{Act, ChannelAffine};

/// TF padding mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    Same,
    Valid,
}

/// TF "SAME" padding (before, after) for one axis; the extra pixel goes after.
pub fn same_pad(input: usize, k: usize, s: usize) -> (usize, usize) {
    let out = input.div_ceil(s);
    let total = ((out.saturating_sub(1)) * s + k).saturating_sub(input);
    (total / 2, total - total / 2)
}

/// A dense convolution from TF (HWIO) weights with a fused per-channel epilogue.
#[derive(Debug, Clone)]
pub struct Conv2d {
    kernel: ConvKernel,
    padding: Padding,
}

impl Conv2d {
    /// From a TF `[kh, kw, in, out]` filter; bias/activation go into `epilogue`.
    pub fn from_hwio(
        w: &RawTensor,
        stride: usize,
        padding: Padding,
        epilogue: ChannelAffine,
    ) -> Result<Self> {
        let [kh, kw, ci, co] = w.shape[..] else {
            return Err(Error::Weights(format!(
                "conv filter must be 4-D, got {:?}",
                w.shape
            )));
        };
        if kh != kw || stride == 0 {
            return Err(Error::Weights(format!(
                "unsupported kernel {kh}x{kw} stride {stride}"
            )));
        }
        if epilogue.shift.len() != co {
            return Err(Error::Weights(format!(
                "epilogue has {} channels, conv {co}",
                epilogue.shift.len()
            )));
        }
        let src = w.to_f32();
        // HWIO → [O, I·kh·kw], the row order im2col produces.
        let mut weights = vec![0f32; co * ci * kh * kw];
        for ky in 0..kh {
            for kx in 0..kw {
                for i in 0..ci {
                    for o in 0..co {
                        weights[o * ci * kh * kw + (i * kh + ky) * kw + kx] =
                            src[((ky * kw + kx) * ci + i) * co + o];
                    }
                }
            }
        }
        Ok(Conv2d {
            kernel: ConvKernel {
                packed: crate::kernels::sgemm::pack_a(&weights, co, ci * kh * kw).into(),
                packed_bf16: Default::default(),
                weights: weights.into(),
                out_channels: co,
                in_channels: ci,
                k: kh,
                stride,
                pad: (0, 0, 0, 0),
                epilogue,
            },
            padding,
        })
    }

    /// Output channels.
    pub fn out_channels(&self) -> usize {
        self.kernel.out_channels
    }

    /// The same convolution with another activation (weights shared).
    pub fn with_act(&self, act: Act) -> Self {
        let mut c = self.clone();
        c.kernel.epilogue.act = act;
        c
    }

    /// The epilogue (bias/scale/activation).
    pub fn epilogue_mut(&mut self) -> &mut ChannelAffine {
        &mut self.kernel.epilogue
    }

    fn kernel_for(&self, h: usize, w: usize) -> ConvKernel {
        let mut k = self.kernel.clone();
        if self.padding == Padding::Same {
            let (pt, pb) = same_pad(h, k.k, k.stride);
            let (pl, pr) = same_pad(w, k.k, k.stride);
            k.pad = (pt, pb, pl, pr);
        }
        k
    }

    /// NCHW in → NCHW out.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (_, _, h, w) = x.dims4()?;
        Ok(self.kernel_for(h, w).forward(x)?)
    }

    /// `act(conv(x)·scale + shift + residual)`; `residual` must have the output's shape.
    pub fn forward_add(&self, x: &Tensor, residual: &Tensor) -> Result<Tensor> {
        let (_, _, h, w) = x.dims4()?;
        Ok(self.kernel_for(h, w).forward_add(x, residual)?)
    }

    /// Reference path through candle's `conv2d` (tests only).
    pub fn forward_candle(&self, x: &Tensor) -> Result<Tensor> {
        let k = &self.kernel;
        let (_, _, h, w) = x.dims4()?;
        let kk = self.kernel_for(h, w);
        let (pt, pb, pl, pr) = kk.pad;
        let wt = Tensor::from_slice(
            &k.weights,
            (k.out_channels, k.in_channels, k.k, k.k),
            x.device(),
        )?;
        let xp = x.pad_with_zeros(2, pt, pb)?.pad_with_zeros(3, pl, pr)?;
        let y = xp.conv2d(&wt, 0, k.stride, 1, 1)?;
        Ok(k.epilogue.forward(&y)?)
    }
}

/// A depthwise convolution from a TF `[kh, kw, C, 1]` filter with "SAME"/"VALID" padding.
#[derive(Debug, Clone)]
pub struct Depthwise {
    weights: Arc<[f32]>,
    channels: usize,
    k: usize,
    stride: usize,
    padding: Padding,
    epilogue: ChannelAffine,
    in_relu: bool,
}

impl Depthwise {
    /// From a TF depthwise filter `[kh, kw, C, 1]`.
    pub fn from_tf(
        w: &RawTensor,
        stride: usize,
        padding: Padding,
        epilogue: ChannelAffine,
    ) -> Result<Self> {
        let [kh, kw, c, 1] = w.shape[..] else {
            return Err(Error::Weights(format!(
                "depthwise filter must be [k,k,C,1], got {:?}",
                w.shape
            )));
        };
        if kh != kw || epilogue.shift.len() != c {
            return Err(Error::Weights(format!(
                "bad depthwise filter {:?}",
                w.shape
            )));
        }
        let src = w.to_f32();
        let mut weights = vec![0f32; c * kh * kw];
        for i in 0..kh {
            for j in 0..kw {
                for ch in 0..c {
                    weights[ch * kh * kw + i * kw + j] = src[(i * kw + j) * c + ch];
                }
            }
        }
        Ok(Depthwise {
            weights: weights.into(),
            channels: c,
            k: kh,
            stride,
            padding,
            epilogue,
            in_relu: false,
        })
    }

    /// The same convolution applied to `relu(x)` (fused into the kernel's input copy).
    pub fn with_input_relu(mut self) -> Self {
        self.in_relu = true;
        self
    }

    fn op(&self, h: usize, w: usize) -> DepthwiseConv {
        let pad = match self.padding {
            Padding::Same => {
                let (pt, pb) = same_pad(h, self.k, self.stride);
                let (pl, pr) = same_pad(w, self.k, self.stride);
                (pt, pb, pl, pr)
            }
            Padding::Valid => (0, 0, 0, 0),
        };
        DepthwiseConv {
            weights: self.weights.clone(),
            channels: self.channels,
            kh: self.k,
            kw: self.k,
            stride: self.stride,
            pad,
            epilogue: self.epilogue.clone(),
            in_relu: self.in_relu,
        }
    }

    /// The epilogue (bias/scale/activation).
    pub fn epilogue_mut(&mut self) -> &mut ChannelAffine {
        &mut self.epilogue
    }

    /// NCHW in → NCHW out, with the fast kernel.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if depthwise::use_candle_grouped() {
            return self.forward_candle(x);
        }
        let (_, _, h, w) = x.dims4()?;
        Ok(self.op(h, w).forward(x)?)
    }

    /// The same computation through candle's grouped `conv2d` (one convolution per group);
    /// kept for the before/after benchmark and as a cross-check in tests.
    pub fn forward_candle(&self, x: &Tensor) -> Result<Tensor> {
        let (_, _, h, w) = x.dims4()?;
        let op = self.op(h, w);
        let (pt, pb, pl, pr) = op.pad;
        let kernel = Tensor::from_slice(
            &self.weights,
            (self.channels, 1, self.k, self.k),
            x.device(),
        )?;
        let x = if self.in_relu { x.relu()? } else { x.clone() };
        let xp = x.pad_with_zeros(2, pt, pb)?.pad_with_zeros(3, pl, pr)?;
        let y = xp.conv2d(&kernel, 0, self.stride, 1, self.channels)?;
        Ok(self.epilogue.forward(&y)?)
    }
}

/// Global average over H and W: NCHW → `[N, C]`.
pub fn global_mean(x: &Tensor) -> Result<Tensor> {
    Ok(x.flatten_from(2)?.mean(D::Minus1)?)
}

/// Reads a per-channel vector.
pub fn vec_of(t: &RawTensor, len: usize, name: &str) -> Result<Vec<f32>> {
    let v = t.to_f32();
    if v.len() != len {
        return Err(Error::Weights(format!(
            "{name}: expected {len} values, got {}",
            v.len()
        )));
    }
    Ok(v)
}

/// `ChannelAffine` with no scale and an activation: the common conv + bias + act epilogue.
pub fn bias_act(bias: Vec<f32>, act: Act) -> ChannelAffine {
    ChannelAffine::bias(bias, act)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tf_same_padding() {
        assert_eq!(same_pad(512, 3, 2), (0, 1));
        assert_eq!(same_pad(7, 3, 2), (1, 1));
        assert_eq!(same_pad(32, 3, 1), (1, 1));
        assert_eq!(same_pad(32, 1, 1), (0, 0));
    }

    #[test]
    fn gemm_conv_matches_candle_conv2d() -> Result<()> {
        let dev = candle_core::Device::Cpu;
        for (k, stride, pad, h, w) in [
            (3, 1, Padding::Same, 1, 1),
            (3, 1, Padding::Same, 4, 4),
            (3, 1, Padding::Same, 9, 7),
            (3, 2, Padding::Same, 10, 11),
            (7, 2, Padding::Valid, 20, 17),
            (1, 1, Padding::Same, 5, 6),
            // Wide enough (≥ 16 output columns) for the AVX-512 path's in-place B.
            (3, 1, Padding::Same, 20, 37),
            (3, 2, Padding::Same, 40, 35),
            (3, 2, Padding::Valid, 35, 35),
            (7, 2, Padding::Valid, 41, 40),
            (1, 1, Padding::Same, 9, 21),
        ] {
            let (ci, co) = (4, 6);
            let wv: Vec<f32> = (0..k * k * ci * co)
                .map(|i| ((i * 29 % 23) as f32 - 11.0) / 11.0)
                .collect();
            let raw = RawTensor {
                shape: vec![k, k, ci, co],
                data: crate::tfjs::weights::TensorData::F32(wv),
            };
            let shift: Vec<f32> = (0..co).map(|i| i as f32 * 0.1 - 0.2).collect();
            let conv = Conv2d::from_hwio(&raw, stride, pad, bias_act(shift, Act::Relu))?;
            let x = Tensor::randn(0f32, 1.0, (2, ci, h, w), &dev)?;
            let a = conv.forward(&x)?;
            let b = conv.forward_candle(&x)?;
            let diff = (a - b)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?;
            assert!(diff < 1e-4, "k{k} s{stride}: max diff {diff}");
        }
        Ok(())
    }

    #[test]
    fn fused_residual_and_both_gemm_paths_agree() -> Result<()> {
        let dev = candle_core::Device::Cpu;
        // Channel counts that are not multiples of the kernel's 8 rows, maps on both sides
        // of the in-place/im2col switch, a batch of 3.
        for (k, ci, co, h, w) in [(3, 5, 20, 17, 19), (3, 12, 9, 6, 5), (1, 7, 13, 11, 33)] {
            let wv: Vec<f32> = (0..k * k * ci * co)
                .map(|i| ((i * 31 % 19) as f32 - 9.0) / 9.0)
                .collect();
            let raw = RawTensor {
                shape: vec![k, k, ci, co],
                data: crate::tfjs::weights::TensorData::F32(wv),
            };
            let shift: Vec<f32> = (0..co).map(|i| i as f32 * 0.05 - 0.3).collect();
            let epi = ChannelAffine {
                scale: Some((0..co).map(|i| 0.5 + i as f32 * 0.1).collect()),
                shift: shift.into(),
                act: Act::Relu,
            };
            let conv = Conv2d::from_hwio(&raw, 1, Padding::Same, epi)?;
            let x = Tensor::randn(0f32, 1.0, (3, ci, h, w), &dev)?;
            let res = Tensor::randn(0f32, 1.0, (3, co, h, w), &dev)?;
            let plain = conv.with_act(Act::None).forward_candle(&x)?;
            let want = (plain + &res)?.relu()?;
            for portable in [false, true] {
                crate::kernels::cpu::set_avx512_disabled(portable);
                let got = conv.forward_add(&x, &res);
                crate::kernels::cpu::set_avx512_disabled(false);
                let diff = (got? - &want)?
                    .abs()?
                    .flatten_all()?
                    .max(0)?
                    .to_scalar::<f32>()?;
                assert!(
                    diff < 1e-4,
                    "k{k} {h}x{w} portable={portable}: max diff {diff}"
                );
            }
        }
        Ok(())
    }

    #[test]
    fn bf16_gemm_matches_candle_on_bf16_operands() -> Result<()> {
        use crate::kernels::cpu;
        if !cpu::bf16() {
            eprintln!(
                "neither AMX nor AVX-512 BF16 on this machine: the bf16 path is not exercised"
            );
            return Ok(());
        }
        // Tiles where the CPU has them, and dot products where it has those (AMX CPUs have
        // both; the switch is process-wide, and other tests only see the sums' order change).
        let mut paths = vec![cpu::amx()];
        if cpu::amx() && cpu::has_avx512_bf16() {
            paths.push(false);
        }
        for tiles in paths {
            cpu::set_amx_disabled(!tiles);
            let checked = bf16_cases_match_candle(if tiles { "tiles" } else { "dots" });
            cpu::set_amx_disabled(false);
            checked?;
        }
        Ok(())
    }

    fn bf16_cases_match_candle(path: &str) -> Result<()> {
        use crate::kernels::cpu::{Precision, with_precision};
        let dev = candle_core::Device::Cpu;
        let round = |v: f32| f32::from_bits(u32::from(crate::kernels::bf16::round(v)) << 16);
        // Products of bf16 values are exact in f32, so against candle on the same rounded
        // operands only the order of the sums differs. Depths around the tile's 32, channel
        // counts around its 16 and 32 rows, wide and narrow maps, a batch of 2, a residual.
        for (k, s, ci, co, h, w) in [
            (1, 1, 7, 13, 11, 33),
            (1, 1, 64, 48, 9, 40),
            (3, 1, 5, 20, 17, 19),
            (3, 2, 33, 40, 24, 35),
            (3, 1, 12, 9, 6, 5),
        ] {
            let wv: Vec<f32> = (0..k * k * ci * co)
                .map(|i| round(((i * 31 % 19) as f32 - 9.0) / 9.0))
                .collect();
            let raw = RawTensor {
                shape: vec![k, k, ci, co],
                data: crate::tfjs::weights::TensorData::F32(wv),
            };
            let epi = ChannelAffine {
                scale: Some((0..co).map(|i| 0.5 + i as f32 * 0.1).collect()),
                shift: (0..co).map(|i| i as f32 * 0.05 - 0.3).collect(),
                act: Act::Relu,
            };
            let conv = Conv2d::from_hwio(&raw, s, Padding::Same, epi)?;
            let x = Tensor::randn(0f32, 1.0, (2, ci, h, w), &dev)?;
            let x = Tensor::from_vec(
                x.flatten_all()?
                    .to_vec1::<f32>()?
                    .into_iter()
                    .map(round)
                    .collect(),
                x.shape(),
                &dev,
            )?;
            let want = conv.forward_candle(&x)?;
            let got = with_precision(Precision::Bf16, || conv.forward(&x))?;
            let res = Tensor::randn(0f32, 1.0, want.shape(), &dev)?;
            let want_res = (conv.with_act(Act::None).forward_candle(&x)? + &res)?.relu()?;
            let got_res = with_precision(Precision::Bf16, || conv.forward_add(&x, &res))?;
            for (got, want) in [(got, want), (got_res, want_res)] {
                let diff = (got - want)?
                    .abs()?
                    .flatten_all()?
                    .max(0)?
                    .to_scalar::<f32>()?;
                assert!(
                    diff < 1e-4,
                    "{path}: k{k} s{s} {ci}->{co} {h}x{w}: max diff {diff}"
                );
            }
        }
        Ok(())
    }

    #[test]
    fn depthwise_kernel_matches_candle_grouped_conv() -> Result<()> {
        let dev = candle_core::Device::Cpu;
        let cases = [
            (3, 1, 9, 7),
            (3, 2, 10, 10),
            (3, 2, 9, 11),
            (5, 1, 8, 9),
            (5, 2, 11, 12),
            (3, 3, 10, 10),
            (3, 1, 7, 7),
            (3, 1, 14, 13),
            (3, 1, 40, 40),
        ];
        for (i, (k, stride, h, w)) in cases.into_iter().enumerate() {
            let c = 5;
            let wv: Vec<f32> = (0..k * k * c)
                .map(|i| ((i * 37 % 17) as f32 - 8.0) / 8.0)
                .collect();
            let raw = RawTensor {
                shape: vec![k, k, c, 1],
                data: crate::tfjs::weights::TensorData::F32(wv),
            };
            let shift: Vec<f32> = (0..c).map(|i| i as f32 * 0.1).collect();
            let mut dw =
                Depthwise::from_tf(&raw, stride, Padding::Same, bias_act(shift, Act::Relu6))?;
            if i % 2 == 1 {
                dw = dw.with_input_relu();
            }
            let x = Tensor::randn(0f32, 1.0, (2, c, h, w), &dev)?;
            let a = dw.forward(&x)?;
            let b = dw.forward_candle(&x)?;
            let diff = (a - b)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?;
            assert!(diff < 1e-5, "stride {stride}: max diff {diff}");
        }
        Ok(())
    }
}
