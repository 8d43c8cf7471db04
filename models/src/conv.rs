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

/// A raw output pointer shared by tasks that write disjoint parts of one buffer.
#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
// SAFETY: only used for disjoint writes, see `ConvKernel::run`.
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

impl SendPtr {
    // A method (not field access) so closures capture the whole Send wrapper.
    fn get(self) -> *mut f32 {
        self.0
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

    /// im2col of output positions `p0..p0 + len` of one image into `dst` (`[C·k·k, len]`).
    fn im2col_range(
        &self,
        src: &[f32],
        h: usize,
        w: usize,
        p0: usize,
        len: usize,
        dst: &mut [f32],
    ) {
        let (_, ow) = self.out_hw(h, w);
        let (k, s) = (self.k, self.stride);
        let (pt, _, pl, _) = self.pad;
        for c in 0..self.in_channels {
            let plane = &src[c * h * w..(c + 1) * h * w];
            for ky in 0..k {
                for kx in 0..k {
                    let lo = pl.saturating_sub(kx).div_ceil(s).min(ow);
                    let hi = if w + pl > kx {
                        ((w + pl - kx - 1) / s + 1).min(ow)
                    } else {
                        0
                    }
                    .max(lo);
                    let r = (c * k + ky) * k + kx;
                    let drow = &mut dst[r * len..(r + 1) * len];
                    let mut p = p0;
                    while p < p0 + len {
                        let (oy, ox0) = (p / ow, p % ow);
                        let ox1 = ow.min(ox0 + (p0 + len - p));
                        let seg = &mut drow[p - p0..p - p0 + (ox1 - ox0)];
                        let iy = oy * s + ky;
                        if iy < pt || iy - pt >= h {
                            seg.fill(0.0);
                        } else {
                            let line = &plane[(iy - pt) * w..(iy - pt + 1) * w];
                            let (a, b) = (lo.clamp(ox0, ox1), hi.clamp(ox0, ox1));
                            seg[..a - ox0].fill(0.0);
                            seg[b - ox0..].fill(0.0);
                            if b > a {
                                let start = a * s + kx - pl;
                                let out = &mut seg[a - ox0..b - ox0];
                                if s == 1 {
                                    out.copy_from_slice(&line[start..start + (b - a)]);
                                } else {
                                    for (d, v) in
                                        out.iter_mut().zip(line[start..].iter().step_by(s))
                                    {
                                        *d = *v;
                                    }
                                }
                            }
                        }
                        p += ox1 - ox0;
                    }
                }
            }
        }
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
        if out.is_empty() {
            return (out, oh, ow);
        }
        let threads = rayon::current_num_threads().max(1);
        // At least ~2M multiply-adds per task: below that, dispatch and cache traffic between
        // cores cost more than they save (the landmark net's maps are 56×56 and smaller).
        let min_block = ((1usize << 21) / (o * kk).max(1)).max(256);
        let blocks = ohw.div_ceil(ohw.div_ceil(4 * threads).max(min_block).min(ohw));
        // Balanced column blocks.
        let block = ohw.div_ceil(blocks);
        // Small maps with many channels (the recognition net's 8×8 and 4×4 stages) split
        // along output channels instead, in multiples of the GEMM micro-kernel's 16 rows.
        let row_block = if threads > 1 && n * blocks < threads && o * ohw * kk >= 1 << 22 {
            o.div_ceil(2 * threads).next_multiple_of(16).min(o)
        } else {
            o
        };
        let row_blocks = o.div_ceil(row_block);
        // Row-split tasks share one im2col of the (small) map; column-block tasks build
        // their own block of it, so each conv is a single parallel region.
        let shared_cols = if !self.is_pointwise() && row_blocks > 1 {
            let mut cols = vec![0f32; n * kk * ohw];
            for b in 0..n {
                let img = &src[b * c * h * w..(b + 1) * c * h * w];
                self.im2col_range(
                    img,
                    h,
                    w,
                    0,
                    ohw,
                    &mut cols[b * kk * ohw..(b + 1) * kk * ohw],
                );
            }
            cols
        } else {
            Vec::new()
        };
        let dst = SendPtr(out.as_mut_ptr());
        let epi = &self.epilogue;
        let task = |scratch: &mut Vec<f32>, t: usize| {
            let (b, r, j) = (
                t / (blocks * row_blocks),
                (t / blocks) % row_blocks,
                t % blocks,
            );
            let (c0, o0) = (j * block, r * row_block);
            let len = block.min(ohw - c0);
            let rows = row_block.min(o - o0);
            let img = &src[b * c * h * w..(b + 1) * c * h * w];
            // (pointer to column c0 of the kk-row right-hand side, its row stride)
            let (rhs, rhs_rs): (*const f32, usize) = if self.is_pointwise() {
                (img[c0..].as_ptr(), ohw)
            } else if !shared_cols.is_empty() {
                (shared_cols[b * kk * ohw + c0..].as_ptr(), ohw)
            } else {
                scratch.resize(kk * len, 0.0);
                self.im2col_range(img, h, w, c0, len, &mut scratch[..kk * len]);
                (scratch.as_ptr(), len)
            };
            // SAFETY: each task writes only rows o0..o0+rows × columns c0..c0+len of image b's
            // o×ohw output, disjoint from every other task; lhs is o×kk and rhs kk×(≥len) with
            // row stride rhs_rs, row-major, and every offset stays in bounds.
            unsafe {
                let d = dst.get().add(b * o * ohw + o0 * ohw + c0);
                gemm::gemm(
                    rows,
                    len,
                    kk,
                    d,
                    1,
                    ohw as isize,
                    false,
                    self.weights.as_ptr().add(o0 * kk),
                    1,
                    kk as isize,
                    rhs,
                    1,
                    rhs_rs as isize,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
                for ch in 0..rows {
                    let row = std::slice::from_raw_parts_mut(d.add(ch * ohw), len);
                    let res = residual.map(|r| &r[b * o * ohw + (o0 + ch) * ohw + c0..][..len]);
                    epi.apply_plane(o0 + ch, row, res);
                }
            }
        };
        let tasks = n * row_blocks * blocks;
        if tasks == 1 {
            task(&mut Vec::new(), 0);
        } else {
            (0..tasks).into_par_iter().for_each_init(Vec::new, task);
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
