//! Depthwise 2-D convolution as a candle `CustomOp1`, fused with its epilogue so each layer
//! touches memory once. candle 0.11 runs a grouped convolution as one convolution per group
//! (~50 ms for a 32-group 3×3 on 32×150×150); the MobileNets in SSD and CenterNet and the
//! landmark net's separable blocks are mostly depthwise layers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};
use rayon::prelude::*;

#[cfg(target_arch = "x86_64")]
use super::cpu;
use super::epilogue::{ChannelAffine, contiguous_f32};

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
        if w < 32 && cpu::avx512() {
            // SAFETY: the CPU supports AVX-512F (checked by `cpu::avx512`).
            return unsafe { self.plane_avx512(c, src, h, w, scratch, out) };
        }
        #[cfg(target_arch = "x86_64")]
        if cpu::has_avx2_fma() {
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
