//! The per-channel epilogue every convolution ends with — `act(x·scale[c] + shift[c] (+ residual))`
//! — and the small elementwise candle ops built from it. It lives apart from the convolutions
//! because all of them (depthwise, im2col + `gemm`, the AVX-512 GEMM) apply the same epilogue
//! and must round identically; keeping it here lets each kernel depend on it without depending
//! on another kernel.

use std::sync::Arc;

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Shape, Tensor};
use rayon::prelude::*;

#[cfg(target_arch = "x86_64")]
use super::cpu::has_avx2_fma;

/// Activation applied after the per-channel affine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Act {
    None,
    Relu,
    Relu6,
    /// `x * relu6(x + 3) * k` (MobileNetV3; the graph's constant `k` ≈ 1/6 is kept as stored).
    HardSwish(f32),
}

/// Per-channel `y = act(x * scale[c] + shift[c])` (scale omitted = 1).
#[derive(Debug, Clone)]
pub struct ChannelAffine {
    pub scale: Option<Arc<[f32]>>,
    pub shift: Arc<[f32]>,
    pub act: Act,
}

impl ChannelAffine {
    /// Shift-only affine (a bias) followed by `act`.
    pub fn bias(shift: Vec<f32>, act: Act) -> Self {
        ChannelAffine {
            scale: None,
            shift: shift.into(),
            act,
        }
    }

    /// Applies the affine (plus an optional residual, added before the activation) to one
    /// channel plane `c` in place.
    pub fn apply_plane(&self, c: usize, data: &mut [f32], residual: Option<&[f32]>) {
        #[cfg(target_arch = "x86_64")]
        if has_avx2_fma() {
            // SAFETY: the CPU supports the features this build was compiled for.
            return unsafe { self.apply_plane_avx2(c, data, residual) };
        }
        self.apply_plane_generic(c, data, residual)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn apply_plane_avx2(&self, c: usize, data: &mut [f32], residual: Option<&[f32]>) {
        self.apply_plane_generic(c, data, residual)
    }

    #[inline(always)]
    fn apply_plane_generic(&self, c: usize, data: &mut [f32], residual: Option<&[f32]>) {
        let sh = self.shift[c];
        let sc = self.scale.as_ref().map(|s| s[c]).unwrap_or(1.0);
        let act = self.act;
        // Monomorphised per activation so the inner loops vectorise.
        macro_rules! go {
            ($f:expr) => {
                match residual {
                    None => data.iter_mut().for_each(|v| *v = $f(*v * sc + sh)),
                    Some(r) => data
                        .iter_mut()
                        .zip(r)
                        .for_each(|(v, r)| *v = $f(*v * sc + sh + r)),
                }
            };
        }
        match act {
            Act::None => go!(|v: f32| v),
            Act::Relu => go!(|v: f32| v.max(0.0)),
            Act::Relu6 => go!(|v: f32| v.clamp(0.0, 6.0)),
            Act::HardSwish(k) => go!(|v: f32| v * (v + 3.0).clamp(0.0, 6.0) * k),
        }
    }

    /// Applies the affine to an NCHW tensor (channels = dim 1).
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.apply_op1_no_bwd(self)
    }
}

pub(crate) fn contiguous_f32<'a>(
    storage: &'a CpuStorage,
    layout: &Layout,
) -> candle_core::Result<&'a [f32]> {
    let data = match storage {
        CpuStorage::F32(d) => d.as_slice(),
        _ => candle_core::bail!("vigil kernels only handle f32"),
    };
    match layout.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => candle_core::bail!("vigil kernels need contiguous input"),
    }
}

impl CustomOp1 for ChannelAffine {
    fn name(&self) -> &'static str {
        "vigil-channel-affine"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let src = contiguous_f32(storage, layout)?;
        let dims = layout.shape().dims();
        if dims.len() < 2 || dims[1] != self.shift.len() {
            candle_core::bail!(
                "channel affine: shape {dims:?} vs {} channels",
                self.shift.len()
            );
        }
        let c = dims[1];
        let plane: usize = dims[2..].iter().product();
        let mut out = src.to_vec();
        if let Some(per) = 4096usize.checked_div(plane) {
            // Small planes are grouped so each rayon task has a few thousand elements.
            let per = per.max(1);
            out.par_chunks_mut(per * plane)
                .enumerate()
                .for_each(|(i, chunk)| {
                    for (j, p) in chunk.chunks_mut(plane).enumerate() {
                        self.apply_plane((i * per + j) % c, p, None);
                    }
                });
        }
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }
}

/// Elementwise `act(x * mul + add)` with scalar constants.
#[derive(Debug, Clone, Copy)]
pub struct Elem {
    pub mul: f32,
    pub add: f32,
    pub act: Act,
}

impl Elem {
    /// Applies to any contiguous f32 tensor.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.contiguous()?.apply_op1_no_bwd(self)
    }
}

const CHUNK: usize = 64 * 1024;

impl CustomOp1 for Elem {
    fn name(&self) -> &'static str {
        "vigil-elem"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let mut out = contiguous_f32(storage, layout)?.to_vec();
        let e = ChannelAffine {
            scale: Some(vec![self.mul].into()),
            shift: vec![self.add].into(),
            act: self.act,
        };
        out.par_chunks_mut(CHUNK)
            .for_each(|p| e.apply_plane(0, p, None));
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }
}

/// `act(a + b)` for two tensors of the same shape.
#[derive(Debug, Clone, Copy)]
pub struct AddAct(pub Act);

impl AddAct {
    /// Adds two same-shaped tensors.
    pub fn forward(&self, a: &Tensor, b: &Tensor) -> candle_core::Result<Tensor> {
        a.contiguous()?.apply_op2_no_bwd(&b.contiguous()?, self)
    }
}

impl CustomOp2 for AddAct {
    fn name(&self) -> &'static str {
        "vigil-add-act"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        if l1.shape() != l2.shape() {
            candle_core::bail!("add: shapes {:?} and {:?}", l1.shape(), l2.shape());
        }
        let mut out = contiguous_f32(s1, l1)?.to_vec();
        let b = contiguous_f32(s2, l2)?;
        let e = ChannelAffine::bias(vec![0.0], self.0);
        out.par_chunks_mut(CHUNK)
            .zip(b.par_chunks(CHUNK))
            .for_each(|(p, r)| e.apply_plane(0, p, Some(r)));
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

/// `x[n, c, :, :] * s[n, c]` (squeeze-and-excitation gating): x NCHW, s `[N, C, 1, 1]`.
#[derive(Debug, Clone, Copy)]
pub struct ChannelScale;

impl CustomOp2 for ChannelScale {
    fn name(&self) -> &'static str {
        "vigil-channel-scale"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = l1.shape().dims4()?;
        if l2.shape().dims() != [n, c, 1, 1] {
            candle_core::bail!("channel scale: {:?} by {:?}", l1.shape(), l2.shape());
        }
        let mut out = contiguous_f32(s1, l1)?.to_vec();
        let s = contiguous_f32(s2, l2)?;
        if h * w > 0 {
            out.par_chunks_mut(h * w).enumerate().for_each(|(i, p)| {
                let k = s[i];
                p.iter_mut().for_each(|v| *v *= k);
            });
        }
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}
