//! Hand-written CPU kernels as candle `CustomOp1`s: a depthwise convolution (candle 0.11 runs a
//! grouped convolution as one convolution per group, ~50 ms for a 32-group 3×3 on 32×150×150)
//! and a per-channel affine + activation epilogue, both fused so each layer touches memory once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Shape, Tensor};
use rayon::prelude::*;

/// Whether the CPU has AVX2 and FMA (checked once; the std macro caches the answer).
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) fn has_avx2_fma() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

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
    /// Apply ReLU to the input as it is read (the landmark net convolves `relu(sum)` while
    /// keeping `sum` for its residual: fusing saves a pass and an allocation per layer).
    pub in_relu: bool,
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

    /// One channel plane; dispatches to an AVX2+FMA build of the same code when available
    /// (the crate is compiled for baseline x86-64, i.e. SSE2 only).
    fn plane(
        &self,
        c: usize,
        src: &[f32],
        h: usize,
        w: usize,
        scratch: &mut Vec<f32>,
        out: &mut [f32],
    ) {
        // 512-bit vectors pay off on the small planes' single "wide" run; on large planes the
        // 256-bit build was measured as fast or faster (SSD).
        #[cfg(target_arch = "x86_64")]
        if w < 32 && crate::sgemm::available() {
            // SAFETY: the CPU supports AVX-512F (checked by `available`).
            return unsafe { self.plane_avx512(c, src, h, w, scratch, out) };
        }
        #[cfg(target_arch = "x86_64")]
        if has_avx2_fma() {
            // SAFETY: the CPU supports the features this build was compiled for.
            return unsafe { self.plane_avx2(c, src, h, w, scratch, out) };
        }
        self.plane_generic(c, src, h, w, scratch, out)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx2,fma")]
    unsafe fn plane_avx512(
        &self,
        c: usize,
        src: &[f32],
        h: usize,
        w: usize,
        scratch: &mut Vec<f32>,
        out: &mut [f32],
    ) {
        self.plane_generic(c, src, h, w, scratch, out)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn plane_avx2(
        &self,
        c: usize,
        src: &[f32],
        h: usize,
        w: usize,
        scratch: &mut Vec<f32>,
        out: &mut [f32],
    ) {
        self.plane_generic(c, src, h, w, scratch, out)
    }

    #[inline(always)]
    fn plane_generic(
        &self,
        c: usize,
        src: &[f32],
        h: usize,
        w: usize,
        scratch: &mut Vec<f32>,
        out: &mut [f32],
    ) {
        let (pt, pb, pl, pr) = self.pad;
        let (hp, wp) = (h + pt + pb, w + pl + pr);
        let (oh, ow) = self.out_hw(h, w);
        let s = self.stride;
        // The zero-padded plane, split into `s` column phases so that every kernel tap reads a
        // contiguous run: phase q holds columns q, q+s, q+2s, ... of the padded row.
        let pw = wp.div_ceil(s);
        // Small stride-1 planes are convolved as one "wide" run over the flattened padded
        // plane (outputs at padded-row pitch, the wrap-around columns dropped afterwards):
        // row-by-row loops over 7–28 columns would be mostly scalar remainders.
        let wide = s == 1 && kh_is(self, 3) && ow < 32;
        let wl = if wide { (oh - 1) * pw + ow } else { 0 };
        // Every plane of one call writes the same interior positions, so the zero border a
        // task's first plane laid down stays valid: no need to clear the scratch per plane.
        let need = s * hp * pw + self.kw + wl;
        if scratch.len() != need {
            scratch.clear();
            scratch.resize(need, 0.0);
        }
        let relu_in = self.in_relu;
        let f = |v: f32| if relu_in { v.max(0.0) } else { v };
        for y in 0..h {
            let line = &src[y * w..(y + 1) * w];
            if s == 1 {
                let o = (y + pt) * pw + pl;
                if relu_in {
                    for (d, v) in scratch[o..o + w].iter_mut().zip(line) {
                        *d = v.max(0.0);
                    }
                } else {
                    scratch[o..o + w].copy_from_slice(line);
                }
                continue;
            }
            if s == 2 {
                // Even/odd split of the padded row, written pairwise.
                let (p0, p1) = scratch.split_at_mut(hp * pw);
                let r0 = &mut p0[(y + pt) * pw..(y + pt + 1) * pw];
                let r1 = &mut p1[(y + pt) * pw..(y + pt + 1) * pw];
                let (da, oa, db, ob) = if pl % 2 == 0 {
                    (r0, pl / 2, r1, pl / 2)
                } else {
                    (r1, pl / 2, r0, pl / 2 + 1)
                };
                let n = w / 2;
                let (da, db) = (&mut da[oa..oa + w.div_ceil(2)], &mut db[ob..ob + n]);
                for (k, pair) in line.chunks_exact(2).enumerate() {
                    da[k] = f(pair[0]);
                    db[k] = f(pair[1]);
                }
                if w % 2 == 1 {
                    da[n] = f(line[w - 1]);
                }
                continue;
            }
            for q in 0..s {
                // First input column landing in phase q, and its slot in that phase's row.
                let x0 = (q + s - pl % s) % s;
                if x0 >= w {
                    continue;
                }
                let o = q * hp * pw + (y + pt) * pw + (x0 + pl) / s;
                let n = (w - x0).div_ceil(s);
                for (d, v) in scratch[o..o + n].iter_mut().zip(line[x0..].chunks(s)) {
                    *d = f(v[0]);
                }
            }
        }
        let (kh, kw) = (self.kh, self.kw);
        let k = &self.weights[c * kh * kw..(c + 1) * kh * kw];
        let k: &[f32] = if kh * kw == 9 { &k[..9] } else { k };
        if wide {
            let (padded, rest) = scratch.split_at_mut(hp * pw + self.kw);
            let acc = &mut rest[..wl];
            let t = |i: usize, j: usize| &padded[i * pw + j..][..wl];
            let (t0, t1, t2, t3, t4, t5, t6, t7, t8) = (
                t(0, 0),
                t(0, 1),
                t(0, 2),
                t(1, 0),
                t(1, 1),
                t(1, 2),
                t(2, 0),
                t(2, 1),
                t(2, 2),
            );
            // Same expression as the row loop below, so both give identical results.
            for q in 0..wl {
                acc[q] = k[0] * t0[q]
                    + k[1] * t1[q]
                    + k[2] * t2[q]
                    + k[3] * t3[q]
                    + k[4] * t4[q]
                    + k[5] * t5[q]
                    + k[6] * t6[q]
                    + k[7] * t7[q]
                    + k[8] * t8[q];
            }
            for (oy, orow) in out.chunks_exact_mut(ow).enumerate() {
                orow.copy_from_slice(&acc[oy * pw..oy * pw + ow]);
            }
            self.epilogue.apply_plane(c, out, None);
            return;
        }
        // Input run for tap (i, j) of output row oy.
        let tap = |oy: usize, i: usize, j: usize| -> &[f32] {
            let o = (j % s) * hp * pw + (oy * s + i) * pw + j / s;
            &scratch[o..o + ow]
        };
        for oy in 0..oh {
            let orow = &mut out[oy * ow..(oy + 1) * ow];
            if kh == 3 && kw == 3 {
                // All nine taps in one pass keeps the output row in registers.
                let (t0, t1, t2) = (
                    &tap(oy, 0, 0)[..ow],
                    &tap(oy, 0, 1)[..ow],
                    &tap(oy, 0, 2)[..ow],
                );
                let (t3, t4, t5) = (
                    &tap(oy, 1, 0)[..ow],
                    &tap(oy, 1, 1)[..ow],
                    &tap(oy, 1, 2)[..ow],
                );
                let (t6, t7, t8) = (
                    &tap(oy, 2, 0)[..ow],
                    &tap(oy, 2, 1)[..ow],
                    &tap(oy, 2, 2)[..ow],
                );
                let orow = &mut orow[..ow];
                for x in 0..ow {
                    orow[x] = k[0] * t0[x]
                        + k[1] * t1[x]
                        + k[2] * t2[x]
                        + k[3] * t3[x]
                        + k[4] * t4[x]
                        + k[5] * t5[x]
                        + k[6] * t6[x]
                        + k[7] * t7[x]
                        + k[8] * t8[x];
                }
                continue;
            }
            orow.fill(0.0);
            for i in 0..kh {
                let kr = &k[i * kw..(i + 1) * kw];
                let mut j = 0;
                // Taps of one kernel row in groups of up to five per pass over the output row.
                while j < kw {
                    let g = (kw - j).min(5);
                    let t: [&[f32]; 5] = std::array::from_fn(|m| tap(oy, i, j + m.min(g - 1)));
                    let kv: [f32; 5] = std::array::from_fn(|m| if m < g { kr[j + m] } else { 0.0 });
                    let (t0, t1, t2, t3, t4) = (
                        &t[0][..ow],
                        &t[1][..ow],
                        &t[2][..ow],
                        &t[3][..ow],
                        &t[4][..ow],
                    );
                    let orow = &mut orow[..ow];
                    for x in 0..ow {
                        orow[x] += kv[0] * t0[x]
                            + kv[1] * t1[x]
                            + kv[2] * t2[x]
                            + kv[3] * t3[x]
                            + kv[4] * t4[x];
                    }
                    j += g;
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
            // Tiny maps (the landmark net's 7×7 planes) go to one task: splitting costs more.
            out.par_chunks_mut(oh * ow)
                .with_min_len((1 << 15) / (oh * ow).max(1))
                .enumerate()
                .for_each_init(Vec::new, |padded, (i, o)| {
                    let plane = &src[i * h * w..(i + 1) * h * w];
                    self.plane(i % c, plane, h, w, padded, o);
                });
        }
        Ok((CpuStorage::F32(out), Shape::from((n, c, oh, ow))))
    }
}

fn kh_is(d: &DepthwiseConv, k: usize) -> bool {
    d.kh == k && d.kw == k
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

/// Max pooling over `k`×`k` windows with stride `s` and no padding, NCHW. candle's generic
/// pooling recomputes every index per element and cost ~4 % of a descriptor pass.
#[derive(Debug, Clone, Copy)]
pub struct MaxPool {
    pub k: usize,
    pub s: usize,
}

impl MaxPool {
    /// Pools a 4-D tensor.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.contiguous()?.apply_op1_no_bwd(self)
    }
}

impl CustomOp1 for MaxPool {
    fn name(&self) -> &'static str {
        "vigil-max-pool"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let src = contiguous_f32(storage, layout)?;
        let (n, c, h, w) = layout.shape().dims4()?;
        let (k, s) = (self.k, self.s);
        if k == 0 || s == 0 || h < k || w < k {
            candle_core::bail!("max pool {k}/{s} on {h}x{w}");
        }
        let (oh, ow) = ((h - k) / s + 1, (w - k) / s + 1);
        let mut out = vec![0f32; n * c * oh * ow];
        out.par_chunks_mut(oh * ow)
            .with_min_len(8)
            .enumerate()
            .for_each_init(Vec::new, |rowmax: &mut Vec<f32>, (i, o)| {
                let plane = &src[i * h * w..(i + 1) * h * w];
                for (oy, orow) in o.chunks_exact_mut(ow).enumerate() {
                    // Vertical max of the window's rows, then horizontal windows over it.
                    rowmax.clear();
                    rowmax.extend_from_slice(&plane[oy * s * w..][..w]);
                    for ky in 1..k {
                        let line = &plane[(oy * s + ky) * w..][..w];
                        rowmax
                            .iter_mut()
                            .zip(line)
                            .for_each(|(m, v)| *m = m.max(*v));
                    }
                    for (ox, d) in orow.iter_mut().enumerate() {
                        *d = rowmax[ox * s..ox * s + k]
                            .iter()
                            .fold(f32::NEG_INFINITY, |a, v| a.max(*v));
                    }
                }
            });
        Ok((CpuStorage::F32(out), Shape::from((n, c, oh, ow))))
    }
}
