//! Dense convolution as a candle `CustomOp1`: im2col (skipped for 1×1/stride 1) + one GEMM per
//! image through the `gemm` crate candle itself uses, with the bias/scale/activation epilogue
//! (and optionally a residual add) fused into the same pass over the output. Going through
//! candle's generic `conv2d` + elementwise ops instead cost an extra read/write of every
//! activation per op, spin-waiting worker pools and a `/proc/cpuinfo` read per matmul.

use std::sync::Arc;

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Shape, Tensor};
use rayon::prelude::*;

use crate::depthwise::ChannelAffine;

/// A convolution kernel: weights `[O, C·k·k]`, stride, explicit padding, fused epilogue.
#[derive(Debug, Clone)]
pub struct ConvKernel {
    pub weights: Arc<[f32]>,
    pub out_channels: usize,
    pub in_channels: usize,
    pub k: usize,
    pub stride: usize,
    /// (top, bottom, left, right)
    pub pad: (usize, usize, usize, usize),
    pub epilogue: ChannelAffine,
}

fn contiguous<'a>(s: &'a CpuStorage, l: &Layout) -> candle_core::Result<&'a [f32]> {
    let data = match s {
        CpuStorage::F32(d) => d.as_slice(),
        _ => candle_core::bail!("vigil conv only handles f32"),
    };
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => candle_core::bail!("vigil conv needs contiguous input"),
    }
}

/// Parallelism for GEMM: the rayon pool we are running in.
fn parallelism() -> gemm::Parallelism {
    let n = rayon::current_num_threads();
    if n > 1 {
        gemm::Parallelism::Rayon(n)
    } else {
        gemm::Parallelism::None
    }
}

impl ConvKernel {
    /// Output (height, width) for an input of (h, w).
    pub fn out_hw(&self, h: usize, w: usize) -> (usize, usize) {
        let (pt, pb, pl, pr) = self.pad;
        (
            (h + pt + pb).saturating_sub(self.k) / self.stride + 1,
            (w + pl + pr).saturating_sub(self.k) / self.stride + 1,
        )
    }

    fn is_pointwise(&self) -> bool {
        self.k == 1 && self.stride == 1 && self.pad == (0, 0, 0, 0)
    }

    /// im2col of one image `[C, H, W]` into `[C·k·k, OH·OW]`. The valid output-column range
    /// of each kernel tap is computed once per row, so the copy itself has no bounds tests.
    fn im2col(&self, src: &[f32], h: usize, w: usize, cols: &mut [f32]) {
        let (oh, ow) = self.out_hw(h, w);
        let (k, s) = (self.k, self.stride);
        let (pt, _, pl, _) = self.pad;
        cols.par_chunks_mut(k * k * oh * ow)
            .enumerate()
            .for_each(|(c, rows)| {
                let plane = &src[c * h * w..(c + 1) * h * w];
                for ky in 0..k {
                    for kx in 0..k {
                        // Output columns whose input column ox·s + kx − pl lies inside [0, w).
                        let lo = pl.saturating_sub(kx).div_ceil(s).min(ow);
                        let hi = if w + pl > kx {
                            ((w + pl - kx - 1) / s + 1).min(ow)
                        } else {
                            0
                        }
                        .max(lo);
                        let row = &mut rows[(ky * k + kx) * oh * ow..(ky * k + kx + 1) * oh * ow];
                        for oy in 0..oh {
                            let dst = &mut row[oy * ow..(oy + 1) * ow];
                            let iy = oy * s + ky;
                            if iy < pt || iy - pt >= h {
                                dst.fill(0.0);
                                continue;
                            }
                            let line = &plane[(iy - pt) * w..(iy - pt + 1) * w];
                            dst[..lo].fill(0.0);
                            dst[hi..].fill(0.0);
                            if hi > lo {
                                let start = lo * s + kx - pl;
                                if s == 1 {
                                    dst[lo..hi].copy_from_slice(&line[start..start + (hi - lo)]);
                                } else {
                                    let src_iter = line[start..].iter().step_by(s);
                                    for (d, v) in dst[lo..hi].iter_mut().zip(src_iter) {
                                        *d = *v;
                                    }
                                }
                            }
                        }
                    }
                }
            });
    }

    fn run(
        &self,
        src: &[f32],
        n: usize,
        h: usize,
        w: usize,
        residual: Option<&[f32]>,
    ) -> (Vec<f32>, usize, usize) {
        let (oh, ow) = self.out_hw(h, w);
        let (o, c) = (self.out_channels, self.in_channels);
        let kk = c * self.k * self.k;
        let ohw = oh * ow;
        let mut out = vec![0f32; n * o * ohw];
        let mut cols = if self.is_pointwise() {
            Vec::new()
        } else {
            vec![0f32; kk * ohw]
        };
        for b in 0..n {
            let img = &src[b * c * h * w..(b + 1) * c * h * w];
            let rhs: &[f32] = if self.is_pointwise() {
                img
            } else {
                self.im2col(img, h, w, &mut cols);
                &cols
            };
            let dst = &mut out[b * o * ohw..(b + 1) * o * ohw];
            // SAFETY: dst is o×ohw, weights o×kk, rhs kk×ohw, all row-major and in bounds.
            unsafe {
                gemm::gemm(
                    o,
                    ohw,
                    kk,
                    dst.as_mut_ptr(),
                    1,
                    ohw as isize,
                    false,
                    self.weights.as_ptr(),
                    1,
                    kk as isize,
                    rhs.as_ptr(),
                    1,
                    ohw as isize,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    parallelism(),
                );
            }
        }
        let epi = &self.epilogue;
        match residual {
            None => out
                .par_chunks_mut(ohw.max(1))
                .enumerate()
                .for_each(|(i, p)| epi.apply_plane(i % o, p, None)),
            Some(r) => out
                .par_chunks_mut(ohw.max(1))
                .zip(r.par_chunks(ohw.max(1)))
                .enumerate()
                .for_each(|(i, (p, r))| epi.apply_plane(i % o, p, Some(r))),
        }
        (out, oh, ow)
    }

    fn check(&self, l: &Layout) -> candle_core::Result<(usize, usize, usize, usize)> {
        let (n, c, h, w) = l.shape().dims4()?;
        if c != self.in_channels {
            candle_core::bail!("conv: input has {c} channels, kernel {}", self.in_channels);
        }
        Ok((n, c, h, w))
    }

    /// Runs on an NCHW tensor.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.contiguous()?.apply_op1_no_bwd(self)
    }

    /// `act(conv(x)·scale + shift + residual)`, the residual having the output's shape.
    pub fn forward_add(&self, x: &Tensor, residual: &Tensor) -> candle_core::Result<Tensor> {
        x.contiguous()?
            .apply_op2_no_bwd(&residual.contiguous()?, self)
    }
}

impl CustomOp1 for ConvKernel {
    fn name(&self) -> &'static str {
        "vigil-conv2d"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (n, _, h, w) = self.check(l)?;
        let (out, oh, ow) = self.run(contiguous(s, l)?, n, h, w, None);
        Ok((
            CpuStorage::F32(out),
            Shape::from((n, self.out_channels, oh, ow)),
        ))
    }
}

impl CustomOp2 for ConvKernel {
    fn name(&self) -> &'static str {
        "vigil-conv2d-add"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (n, _, h, w) = self.check(l1)?;
        let (oh, ow) = self.out_hw(h, w);
        if l2.shape().dims() != [n, self.out_channels, oh, ow] {
            candle_core::bail!("conv residual has shape {:?}", l2.shape());
        }
        let (out, oh, ow) = self.run(contiguous(s1, l1)?, n, h, w, Some(contiguous(s2, l2)?));
        Ok((
            CpuStorage::F32(out),
            Shape::from((n, self.out_channels, oh, ow)),
        ))
    }
}
