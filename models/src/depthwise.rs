//! Hand-written CPU kernels as candle `CustomOp1`s: a depthwise convolution (candle 0.11 runs a
//! grouped convolution as one convolution per group, ~50 ms for a 32-group 3×3 on 32×150×150)
//! and a per-channel affine + activation epilogue, both fused so each layer touches memory once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Shape, Tensor};
use rayon::prelude::*;

static USE_CANDLE_GROUPED: AtomicBool = AtomicBool::new(false);

/// Routes every depthwise layer through candle's grouped `conv2d` instead of the hand-written
/// kernel. Only for the before/after benchmark; process-wide.
pub fn set_use_candle_grouped(on: bool) {
    USE_CANDLE_GROUPED.store(on, Ordering::Relaxed);
}

/// Whether [`set_use_candle_grouped`] is on.
pub fn use_candle_grouped() -> bool {
    USE_CANDLE_GROUPED.load(Ordering::Relaxed)
}

/// Activation applied after the per-channel affine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Act {
    None,
    Relu,
    Relu6,
    /// `x * relu6(x + 3) * k` (MobileNetV3; the graph's constant `k` ≈ 1/6 is kept as stored).
    HardSwish(f32),
}

impl Act {
    #[inline(always)]
    fn apply(self, v: f32) -> f32 {
        match self {
            Act::None => v,
            Act::Relu => v.max(0.0),
            Act::Relu6 => v.clamp(0.0, 6.0),
            Act::HardSwish(k) => v * (v + 3.0).clamp(0.0, 6.0) * k,
        }
    }
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
    #[inline]
    pub fn apply_plane(&self, c: usize, data: &mut [f32], residual: Option<&[f32]>) {
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

fn contiguous_f32<'a>(storage: &'a CpuStorage, layout: &Layout) -> candle_core::Result<&'a [f32]> {
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

/// Depthwise 2-D convolution over NCHW with explicit (possibly asymmetric, TF "SAME") zero
/// padding, fused with a per-channel affine + activation.
#[derive(Debug, Clone)]
pub struct DepthwiseConv {
    /// `[C, kh, kw]` row-major.
    pub weights: Arc<[f32]>,
    pub channels: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: usize,
    /// (top, bottom, left, right)
    pub pad: (usize, usize, usize, usize),
    pub epilogue: ChannelAffine,
}

impl DepthwiseConv {
    /// Output (height, width) for an input of (h, w).
    pub fn out_hw(&self, h: usize, w: usize) -> (usize, usize) {
        let (pt, pb, pl, pr) = self.pad;
        let hp = h + pt + pb;
        let wp = w + pl + pr;
        (
            (hp.saturating_sub(self.kh)) / self.stride + 1,
            (wp.saturating_sub(self.kw)) / self.stride + 1,
        )
    }

    /// Runs the convolution on an NCHW tensor.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.contiguous()?.apply_op1_no_bwd(self)
    }

    fn plane(
        &self,
        c: usize,
        src: &[f32],
        h: usize,
        w: usize,
        padded: &mut Vec<f32>,
        out: &mut [f32],
    ) {
        let (pt, pb, pl, pr) = self.pad;
        let (hp, wp) = (h + pt + pb, w + pl + pr);
        let (oh, ow) = self.out_hw(h, w);
        padded.clear();
        padded.resize(hp * wp, 0.0);
        for y in 0..h {
            padded[(y + pt) * wp + pl..(y + pt) * wp + pl + w]
                .copy_from_slice(&src[y * w..(y + 1) * w]);
        }
        let k = &self.weights[c * self.kh * self.kw..(c + 1) * self.kh * self.kw];
        let s = self.stride;
        for oy in 0..oh {
            let orow = &mut out[oy * ow..(oy + 1) * ow];
            orow.fill(0.0);
            for i in 0..self.kh {
                let row = &padded[(oy * s + i) * wp..(oy * s + i + 1) * wp];
                for j in 0..self.kw {
                    let kv = k[i * self.kw + j];
                    if s == 1 {
                        let r = &row[j..j + ow];
                        for (o, &v) in orow.iter_mut().zip(r) {
                            *o += kv * v;
                        }
                    } else {
                        for (ox, o) in orow.iter_mut().enumerate() {
                            *o += kv * row[ox * s + j];
                        }
                    }
                }
            }
        }
        self.epilogue.apply_plane(c, out, None);
    }
}

impl CustomOp1 for DepthwiseConv {
    fn name(&self) -> &'static str {
        "vigil-depthwise-conv"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let src = contiguous_f32(storage, layout)?;
        let (n, c, h, w) = layout.shape().dims4()?;
        if c != self.channels {
            candle_core::bail!(
                "depthwise: input has {c} channels, kernel {}",
                self.channels
            );
        }
        let (oh, ow) = self.out_hw(h, w);
        let mut out = vec![0f32; n * c * oh * ow];
        if !out.is_empty() {
            out.par_chunks_mut(oh * ow)
                .enumerate()
                .for_each_init(Vec::new, |padded, (i, o)| {
                    let plane = &src[i * h * w..(i + 1) * h * w];
                    self.plane(i % c, plane, h, w, padded, o);
                });
        }
        Ok((CpuStorage::F32(out), Shape::from((n, c, oh, ow))))
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

const CHUNK: usize = 16 * 1024;

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
