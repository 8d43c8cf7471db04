//! Dense convolution as a candle `CustomOp1`: im2col (skipped for 1×1/stride 1) + one GEMM per
//! image through the `gemm` crate candle itself uses, with the bias/scale/activation epilogue
//! (and optionally a residual add) fused into the same pass over the output. Going through
//! candle's generic `conv2d` + elementwise ops instead cost an extra read/write of every
//! activation per op, spin-waiting worker pools and a `/proc/cpuinfo` read per matmul.

use std::sync::{Arc, OnceLock};

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::epilogue::ChannelAffine;
use super::{bf16, cpu, sgemm};

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
    /// `weights` in [`sgemm::pack_a`]'s panel order, for the AVX-512 path.
    pub packed: Arc<[f32]>,
    /// `weights` as bf16 tiles ([`bf16::pack_a`]), packed on first use by the bf16 path and
    /// shared by every clone of the kernel.
    pub packed_bf16: Arc<OnceLock<Vec<u16>>>,
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

/// Runs `task(t)` for every `t < tasks`: inline when there is one, else on the rayon pool.
fn run_tasks(tasks: usize, task: impl Fn(usize) + Send + Sync) {
    if tasks == 1 {
        task(0);
    } else {
        (0..tasks).into_par_iter().for_each(task);
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

    /// im2col of output positions `p0..p0 + len` of one image into `dst` (`[C·k·k, len]`,
    /// row stride `ld ≥ len`).
    #[allow(clippy::too_many_arguments)]
    fn im2col_range(
        &self,
        src: &[f32],
        h: usize,
        w: usize,
        p0: usize,
        len: usize,
        ld: usize,
        dst: &mut [f32],
    ) {
        let (_, ow) = self.out_hw(h, w);
        let (k, s) = (self.k, self.stride);
        let (pt, _, pl, _) = self.pad;
        for c in 0..self.in_channels {
            let plane = &src[c * h * w..(c + 1) * h * w];
            for ky in 0..k {
                for kx in 0..k {
                    let (lo, hi) = self.tap_columns(kx, w, ow);
                    let r = (c * k + ky) * k + kx;
                    let drow = &mut dst[r * ld..r * ld + len];
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

    /// Output columns `lo..hi` (of `ow`) whose horizontal tap `kx` lands inside an input row
    /// of width `w`; the others read left or right padding.
    fn tap_columns(&self, kx: usize, w: usize, ow: usize) -> (usize, usize) {
        let (s, pl) = (self.stride, self.pad.2);
        let lo = pl.saturating_sub(kx).div_ceil(s).min(ow);
        let hi = if w + pl > kx {
            ((w + pl - kx - 1) / s + 1).min(ow)
        } else {
            0
        };
        (lo, hi.max(lo))
    }

    /// im2col of one input channel plane over the whole output map into a zeroed `dst`
    /// (`[k·k, oh·ow]`): only in-bounds taps are copied, so padding costs nothing.
    fn im2col_channel(&self, plane: &[f32], h: usize, w: usize, dst: &mut [f32]) {
        let (oh, ow) = self.out_hw(h, w);
        let (k, s) = (self.k, self.stride);
        let (pt, _, pl, _) = self.pad;
        for ky in 0..k {
            for kx in 0..k {
                let (lo, hi) = self.tap_columns(kx, w, ow);
                if hi == lo {
                    continue;
                }
                let x0 = lo * s + kx - pl;
                let drow = &mut dst[(ky * k + kx) * oh * ow..][..oh * ow];
                for (oy, seg) in drow.chunks_exact_mut(ow).enumerate() {
                    let iy = oy * s + ky;
                    if iy < pt || iy - pt >= h {
                        continue;
                    }
                    let line = &plane[(iy - pt) * w..][..w];
                    let seg = &mut seg[lo..hi];
                    if s == 1 {
                        seg.copy_from_slice(&line[x0..x0 + seg.len()]);
                    } else {
                        for (j, d) in seg.iter_mut().enumerate() {
                            *d = line[x0 + j * s];
                        }
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
        if cpu::avx512() {
            return self.run_avx512(src, n, h, w, residual);
        }
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
                self.im2col_range(img, h, w, c0, len, len, &mut scratch[..kk * len]);
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

    /// The AVX-512 path (see [`sgemm`]). B is read in place: 1×1 convolutions use the input
    /// planes, others a zero-padded copy of them split into stride phases, so that every
    /// kernel tap is a constant offset from the output position ("wide" rows of the padded
    /// width, whose extra columns are computed and dropped — 5–10 % extra work on the 17×17 and
    /// larger maps, against an im2col that cost as much as the GEMM). Maps narrower than 16
    /// columns would waste too much that way and use a (cheap, small) im2col instead.
    ///
    /// Work is split into column panels of `NR` positions, and for maps with too few panels to
    /// occupy every thread (the 8×8 and smaller stages) also into groups of output channels.
    fn run_avx512(
        &self,
        src: &[f32],
        n: usize,
        h: usize,
        w: usize,
        residual: Option<&[f32]>,
    ) -> (Vec<f32>, usize, usize) {
        let (oh, ow) = self.out_hw(h, w);
        let (o, c, k, s) = (self.out_channels, self.in_channels, self.k, self.stride);
        let kk = c * k * k;
        let ohw = oh * ow;
        let len = n * o * ohw;
        if len == 0 {
            return (Vec::new(), oh, ow);
        }
        // Not zero-filled: the tasks below write every element (zeroing cost ~3 % of a
        // landmark pass).
        let mut out: Vec<f32> = Vec::with_capacity(len);
        let prepared: Vec<f32>;
        // (B of image 0, per-image stride, row offsets, wide row width)
        let (bsrc, img_stride, boff, pw): (&[f32], usize, Vec<usize>, usize) = if self
            .is_pointwise()
        {
            (src, c * h * w, (0..c).map(|p| p * h * w).collect(), ow)
        } else if ow >= 16 {
            let (pt, pb, pl, pr) = self.pad;
            let (hp, wp) = (h + pt + pb, w + pl + pr);
            let (ph, pw) = (hp.div_ceil(s), wp.div_ceil(s));
            let plane = ph * pw;
            let per_c = s * s * plane;
            let stride = c * per_c;
            let mut buf = vec![0f32; n * stride];
            for (img, dst) in src
                .chunks_exact(c * h * w)
                .zip(buf.chunks_exact_mut(stride))
            {
                for (chan, d) in img.chunks_exact(h * w).zip(dst.chunks_exact_mut(per_c)) {
                    for (y, line) in chan.chunks_exact(w).enumerate() {
                        let yy = y + pt;
                        let row = (yy % s) * s * plane + (yy / s) * pw;
                        for qx in 0..s {
                            // First input column in column phase qx, and its slot.
                            let x0 = (qx + s - pl % s) % s;
                            if x0 >= w {
                                continue;
                            }
                            let at = row + qx * plane + (x0 + pl) / s;
                            let cnt = (w - x0).div_ceil(s);
                            if s == 1 {
                                d[at..at + cnt].copy_from_slice(line);
                            } else {
                                for (t, v) in
                                    d[at..at + cnt].iter_mut().zip(line[x0..].iter().step_by(s))
                                {
                                    *t = *v;
                                }
                            }
                        }
                    }
                }
            }
            let mut boff = Vec::with_capacity(kk);
            for ch in 0..c {
                for ky in 0..k {
                    for kx in 0..k {
                        boff.push(
                            ch * per_c + ((ky % s) * s + kx % s) * plane + (ky / s) * pw + kx / s,
                        );
                    }
                }
            }
            prepared = buf;
            (&prepared[..], stride, boff, pw)
        } else {
            // One task per input channel (k·k rows of the im2col each).
            let mut cols = vec![0f32; n * kk * ohw];
            let per_c = k * k * ohw;
            let fill = |(i, dst): (usize, &mut [f32])| {
                let (b, ch) = (i / c, i % c);
                self.im2col_channel(&src[(b * c + ch) * h * w..][..h * w], h, w, dst);
            };
            if n * kk * ohw >= 1 << 15 && rayon::current_num_threads() > 1 {
                cols.par_chunks_mut(per_c)
                    .with_min_len(8)
                    .enumerate()
                    .for_each(fill);
            } else {
                cols.chunks_mut(per_c).enumerate().for_each(fill);
            }
            prepared = cols;
            (
                &prepared[..],
                kk * ohw,
                (0..kk).map(|p| p * ohw).collect(),
                ow,
            )
        };
        // Wide positions per image: up to the last real output.
        let q_total = (oh - 1) * pw + ow;
        let (nr, mr) = (sgemm::NR, sgemm::MR);
        let np = q_total.div_ceil(nr);
        let units = n * np;
        let mp = o.div_ceil(mr);
        let threads = rayon::current_num_threads().max(1);
        // ~0.5M multiply-adds (≈10 µs) per task at least: smaller tasks cost more in
        // dispatch than they save.
        let macs = n * o * ohw * kk;
        let want = if threads == 1 {
            1
        } else {
            (macs >> 19).clamp(1, 4 * threads)
        };
        let row_groups = want.div_ceil(units).min(mp).max(1);
        let col_groups = units.min(want).max(1);
        let panel_off: Vec<usize> = (0..kk).map(|p| p * nr).collect();
        let dst = SendPtr(out.as_mut_ptr());
        let block_at = |m0: usize, m1: usize, u: usize| {
            let (b, q0) = (u / np, (u % np) * nr);
            sgemm::Block {
                a: self.packed.as_ptr(),
                k: kk,
                m0,
                m1,
                b: bsrc[b * img_stride + q0..].as_ptr(),
                boff: boff.as_ptr(),
                q0,
                nc: nr.min(q_total - q0),
                pw,
                ow,
                // SAFETY: b·o·ohw < out.len() (b < n).
                c: unsafe { dst.get().add(b * o * ohw) },
                ldc: ohw,
                residual: residual.map(|res| res[b * o * ohw..].as_ptr()),
            }
        };
        if cpu::bf16_now() {
            // Row groups in pairs of 16-row tiles; each task converts the B of a run of column
            // blocks once and runs every row of its group over the run (`bf16::run_blocks`).
            let a16 = self
                .packed_bf16
                .get_or_init(|| bf16::pack_a(&self.weights, o, kk));
            let mp = o.div_ceil(bf16::MR);
            let row_groups = want.div_ceil(units).min(mp).max(1);
            let task = |t: usize| {
                let (g, r) = (t / row_groups, t % row_groups);
                let (m0, m1) = (
                    r * mp / row_groups * bf16::MR,
                    ((r + 1) * mp / row_groups * bf16::MR).min(o),
                );
                let (u0, u1) = (g * units / col_groups, (g + 1) * units / col_groups);
                // Runs of up to 8 blocks of one image whose converted B stays within 256 KB.
                let per = ((1usize << 17) / bf16::b_len(kk)).clamp(1, 8);
                let mut scratch = vec![0u16; per * bf16::b_len(kk)];
                let mut u = u0;
                while u < u1 {
                    let end = u1.min((u / np + 1) * np).min(u + per);
                    let run: Vec<sgemm::Block> = (u..end).map(|u| block_at(m0, m1, u)).collect();
                    // SAFETY: the bf16 GEMM can run (`cpu::bf16`); `a16` packs the
                    // o×kk weights; as for `sgemm::run_block` below, B rows and outputs of the
                    // blocks are in bounds and tasks write disjoint rows or positions.
                    unsafe { bf16::run_blocks(&run, a16, &mut scratch, &self.epilogue) };
                    u = end;
                }
            };
            run_tasks(row_groups * col_groups, task);
            // SAFETY: as below: the tasks cover every image, row and position.
            unsafe { out.set_len(len) };
            return (out, oh, ow);
        }
        let task = |t: usize| {
            let (g, r) = (t / row_groups, t % row_groups);
            let (p0, p1) = (r * mp / row_groups, (r + 1) * mp / row_groups);
            let (m0, m1) = (p0 * mr, (p1 * mr).min(o));
            let (u0, u1) = (g * units / col_groups, (g + 1) * units / col_groups);
            let block = |m0: usize, m1: usize, u: usize, panel: Option<*const f32>| {
                let mut blk = block_at(m0, m1, u);
                if let Some(panel) = panel {
                    blk.b = panel;
                    blk.boff = panel_off.as_ptr();
                }
                // SAFETY: AVX-512F was detected; `packed` holds ⌈o/MR⌉·kk·MR values; `boff`
                // has kk offsets, and image b's B rows from q0 stay inside `bsrc` for the
                // block's real lanes (q < q_total); real outputs of positions q0..q0+nc map
                // inside image b's o×ohw output, and tasks write disjoint rows m0..m1 or
                // disjoint positions; the residual has the output's shape.
                unsafe { sgemm::run_block(&blk, &self.epilogue) };
            };
            // Keep the larger operand's block in cache: sweep the columns under one panel of
            // weights when the weights dominate (the 8×8 and smaller stages, whose weights
            // come from L3 or memory), else the weights under one (packed) column panel.
            if m1 - m0 > (u1 - u0) * nr {
                for mb in (m0..m1).step_by(mr) {
                    (u0..u1).for_each(|u| block(mb, (mb + mr).min(m1), u, None));
                }
            } else if m1 - m0 > mr {
                // B rows of large maps lie whole planes apart (64 KB for 128×128): a
                // power-of-two stride that maps every row to the same L1 set, and too many
                // streams for the prefetchers when read 32 columns at a time. Runs of up to
                // 8 panels (≤ 512 KB) are copied into contiguous panels once and then reused
                // by every row panel.
                let per = ((1usize << 17) / (kk * nr)).clamp(1, 8);
                let mut panels = Vec::new();
                let mut u = u0;
                while u < u1 {
                    let b = u / np;
                    let end = u1.min((b + 1) * np).min(u + per);
                    let q0 = (u % np) * nr;
                    panels.resize(kk * nr * (end - u), 0.0);
                    // SAFETY: AVX-512F was detected; image b's B rows from q0 are readable
                    // for the real lanes (q < q_total) of these panels, as for `run_block`.
                    unsafe {
                        sgemm::pack_b(
                            bsrc[b * img_stride + q0..].as_ptr(),
                            &boff,
                            (q_total - q0).min((end - u) * nr),
                            &mut panels,
                        )
                    };
                    for j in 0..end - u {
                        block(m0, m1, u + j, Some(panels[j * kk * nr..].as_ptr()));
                    }
                    u = end;
                }
            } else {
                (u0..u1).for_each(|u| block(m0, m1, u, None));
            }
        };
        run_tasks(row_groups * col_groups, task);
        // SAFETY: capacity is len; the tasks cover every image b < n, every row < o (row
        // groups span all ⌈o/MR⌉ panels) and every position q < q_total, whose real outputs
        // are exactly the oh×ow outputs of the image, so all len elements are initialised.
        unsafe { out.set_len(len) };
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
