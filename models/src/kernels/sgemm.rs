//! An AVX-512 f32 GEMM micro-kernel for the convolutions, with the per-channel epilogue
//! (scale, shift, residual, activation) applied to the tile while it is still in registers.
//!
//! The `gemm` crate packs both operands on every call and only has AVX2 kernels on stable
//! Rust (its AVX-512 ones sit behind the `x86-v4` feature, which also helps it a little); the
//! recognition and landmark nets call it ~40 times per face on small matrices, where packing
//! and dispatch cost as much as the arithmetic. Here the weights are packed once at load
//! ([`pack_a`]) and B is never packed: each B row is addressed through an offset table, so a
//! convolution reads its (padded) input planes in place instead of building an im2col (see
//! [`Block`]), and masked loads/stores handle ragged edges.
//!
//! C (`[M, N]`) = A (`[M, K]`, packed) · B (`[K, N]`). Tiles are [`MR`] rows of A × up to
//! [`NR`] columns of B (two zmm registers per row).

use super::epilogue::{Act, ChannelAffine};

/// Rows of A per tile: every channel count in the face nets is a multiple of 8.
pub const MR: usize = 8;
/// Columns of B per tile.
pub const NR: usize = 32;
/// How many k steps ahead the narrow kernel prefetches weights.
const PREFETCH: usize = 64;

/// Packs row-major `[m, k]` weights into panels of [`MR`] rows, each stored `[k][MR]`
/// (zero rows pad the last panel), the order the kernel broadcasts them in.
pub fn pack_a(w: &[f32], m: usize, k: usize) -> Vec<f32> {
    let panels = m.div_ceil(MR);
    let mut out = vec![0f32; panels * k * MR];
    for (r, row) in w.chunks_exact(k).take(m).enumerate() {
        let panel = &mut out[(r / MR) * k * MR..][..k * MR];
        for (p, v) in row.iter().enumerate() {
            panel[p * MR + r % MR] = *v;
        }
    }
    out
}

/// One block of output: rows `m0..m1` × the `nc` output positions from `q0` of one image.
///
/// Positions are "wide": `q = oy·pw + ox` with `ox < pw`, where only `ox < ow` are real
/// outputs (the others are the wrap-around of a padded row and are dropped on store). With
/// `pw == ow` this is plain row-major order. B row `p` of the block starts at `b + boff[p]`.
pub struct Block {
    /// Packed A (from [`pack_a`]) and the inner dimension.
    pub a: *const f32,
    pub k: usize,
    /// First and one-past-last output row; `m0` is a multiple of [`MR`].
    pub m0: usize,
    pub m1: usize,
    /// B at position `q0` of row 0, and the `k` row offsets.
    pub b: *const f32,
    pub boff: *const usize,
    pub q0: usize,
    pub nc: usize,
    pub pw: usize,
    pub ow: usize,
    /// C of the image (row 0, output 0) and its row stride; a residual has the same layout.
    pub c: *mut f32,
    pub ldc: usize,
    pub residual: Option<*const f32>,
}

/// Computes one [`Block`] and applies `epi` (channel = output row).
///
/// # Safety
/// The CPU must support AVX-512F ([`super::cpu::avx512`]); `a` must hold `⌈m1/MR⌉·k·MR`
/// packed values; `boff` must hold `k` offsets and `b + boff[p]` be readable for `nc` values;
/// every real output (`ox < ow`) of the block maps into rows `m0..m1` of `c` (and of the
/// residual) with stride `ldc`, and no other thread may touch those outputs meanwhile.
#[cfg(target_arch = "x86_64")]
pub unsafe fn run_block(blk: &Block, epi: &ChannelAffine) {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        if blk.nc > 16 {
            block_avx512::<2>(blk, epi)
        } else {
            block_avx512::<1>(blk, epi)
        }
    }
}

/// Copies `cols` columns of B (rows at `b + boff[p]`) into consecutive panels of [`NR`]
/// columns, each stored `[k][NR]` (zero beyond `cols`), reading every row in one run.
///
/// # Safety
/// The CPU must support AVX-512F; `b + boff[p]` must be readable for `cols` values for every
/// `p < boff.len()`; `dst` must hold `boff.len()·NR·⌈cols/NR⌉` values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
pub unsafe fn pack_b(b: *const f32, boff: &[usize], cols: usize, dst: &mut [f32]) {
    use std::arch::x86_64::*;
    let k = boff.len();
    let panels = cols.div_ceil(NR);
    assert!(dst.len() >= k * NR * panels);
    for (p, &off) in boff.iter().enumerate() {
        for v in 0..2 * panels {
            let n = cols.saturating_sub(16 * v).min(16);
            let mask = ((1u32 << n) - 1) as __mmask16;
            // SAFETY: lanes below `cols` are readable (the caller's contract) and masked-off
            // lanes are not read; the store stays inside `dst` (checked above).
            unsafe {
                let x = _mm512_maskz_loadu_ps(mask, b.wrapping_add(off + 16 * v));
                let d = dst
                    .as_mut_ptr()
                    .add((v / 2) * k * NR + p * NR + 16 * (v % 2));
                _mm512_storeu_ps(d, x);
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
pub unsafe fn pack_b(_: *const f32, _: &[usize], _: usize, _: &mut [f32]) {
    unreachable!("cpu::avx512() is false off x86_64")
}

/// Calls `f(mask, offset)` for each run of lanes `0..lanes` of the vector at wide position
/// `q` that are real outputs; `offset` is the dense index of lane 0 (lanes of one run are
/// consecutive outputs), possibly "negative" (wrapping) for runs that do not start at lane 0.
#[inline(always)]
fn runs(q: usize, lanes: usize, pw: usize, ow: usize, mut f: impl FnMut(u16, usize)) {
    if pw == ow {
        return f(((1u32 << lanes) - 1) as u16, q);
    }
    let mut l = 0;
    while l < lanes {
        let (oy, ox) = ((q + l) / pw, (q + l) % pw);
        let run = (pw - ox).min(lanes - l);
        if ox < ow {
            let n = run.min(ow - ox);
            f(
                (((1u32 << n) - 1) << l) as u16,
                (oy * ow + ox).wrapping_sub(l),
            );
        }
        l += run;
    }
}

/// Where each 16-lane vector of a block's columns puts its real outputs (the same for every
/// row): found once per block, as the divisions involved cost as much as a short K loop.
pub(crate) struct Segments {
    segs: [[(u16, usize); 16]; 2],
    len: [usize; 2],
}

impl Segments {
    pub(crate) fn of(blk: &Block) -> Segments {
        let mut out = Segments {
            segs: [[(0, 0); 16]; 2],
            len: [0; 2],
        };
        for v in 0..blk.nc.div_ceil(16).min(2) {
            let lanes = blk.nc.saturating_sub(16 * v).min(16);
            runs(blk.q0 + 16 * v, lanes, blk.pw, blk.ow, |mask, off| {
                out.segs[v][out.len[v]] = (mask, off);
                out.len[v] += 1;
            });
        }
        out
    }
}

/// Applies `epi` to the sums `x` of output row (channel) `ch`, columns `16v..16v+16` of the
/// block, and stores its real outputs.
///
/// # Safety
/// The CPU must support AVX-512F; the contract of [`run_block`] for `blk`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
pub(crate) unsafe fn store_row(
    blk: &Block,
    epi: &ChannelAffine,
    segs: &Segments,
    ch: usize,
    v: usize,
    x: std::arch::x86_64::__m512,
) {
    use std::arch::x86_64::*;
    let segs = &segs.segs[v][..segs.len[v]];
    // SAFETY: masked loads and stores never touch disabled lanes, so wrapping offsets of
    // disabled lanes are never dereferenced; enabled lanes are inside `c` and the residual
    // (the caller's contract).
    unsafe {
        let sc = _mm512_set1_ps(epi.scale.as_ref().map_or(1.0, |s| s[ch]));
        let sh = _mm512_set1_ps(epi.shift[ch]);
        let dst = blk.c.add(ch * blk.ldc);
        // Same operation order as `ChannelAffine::apply_plane`: x·s + t + r.
        let mut x = _mm512_add_ps(_mm512_mul_ps(x, sc), sh);
        if let Some(r) = blk.residual {
            let r = r.add(ch * blk.ldc);
            let mut rv = _mm512_setzero_ps();
            for &(mask, off) in segs {
                rv = _mm512_mask_loadu_ps(rv, mask, r.wrapping_add(off));
            }
            x = _mm512_add_ps(x, rv);
        }
        let zero = _mm512_setzero_ps();
        x = match epi.act {
            Act::None => x,
            Act::Relu => _mm512_max_ps(x, zero),
            Act::Relu6 => _mm512_min_ps(_mm512_max_ps(x, zero), _mm512_set1_ps(6.0)),
            Act::HardSwish(kf) => {
                let t = _mm512_add_ps(x, _mm512_set1_ps(3.0));
                let t = _mm512_min_ps(_mm512_max_ps(t, zero), _mm512_set1_ps(6.0));
                _mm512_mul_ps(_mm512_mul_ps(x, t), _mm512_set1_ps(kf))
            }
        };
        for &(mask, off) in segs {
            _mm512_mask_storeu_ps(dst.wrapping_add(off), mask, x);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn block_avx512<const NV: usize>(blk: &Block, epi: &ChannelAffine) {
    use std::arch::x86_64::*;
    let lanes: [usize; NV] = std::array::from_fn(|v| blk.nc.saturating_sub(16 * v).min(16));
    let masks: [__mmask16; NV] = std::array::from_fn(|v| ((1u32 << lanes[v]) - 1) as __mmask16);
    let segs = Segments::of(blk);
    let k = blk.k;
    let mut m = blk.m0;
    while m < blk.m1 {
        let mr = (blk.m1 - m).min(MR);
        // SAFETY (whole block): bounds are the caller's contract; masked loads and stores never
        // touch disabled lanes, so wrapping offsets of disabled lanes are never dereferenced.
        unsafe {
            let a = blk.a.add(m * k);
            let mut acc = [[_mm512_setzero_ps(); NV]; MR];
            if NV == 2 {
                for p in 0..k {
                    let bp = blk.b.add(*blk.boff.add(p));
                    let b: [__m512; NV] =
                        std::array::from_fn(|v| _mm512_maskz_loadu_ps(masks[v], bp.add(16 * v)));
                    let ap = a.add(p * MR);
                    for (i, row) in acc.iter_mut().enumerate() {
                        let ai = _mm512_set1_ps(*ap.add(i));
                        for v in 0..NV {
                            row[v] = _mm512_fmadd_ps(ai, b[v], row[v]);
                        }
                    }
                }
            } else {
                // One register per row is too few independent FMA chains to hide their
                // latency: even and odd k go to separate accumulators.
                let mut acc2 = [_mm512_setzero_ps(); MR];
                let mut p = 0;
                while p + 1 < k {
                    // Weights are used for only ≤ 16 columns here and stream from L3 or memory
                    // (2.4 MB per 256-channel layer): fetch them well ahead of use.
                    _mm_prefetch::<_MM_HINT_T0>(a.wrapping_add((p + PREFETCH) * MR) as *const i8);
                    let b0 = _mm512_maskz_loadu_ps(masks[0], blk.b.add(*blk.boff.add(p)));
                    let b1 = _mm512_maskz_loadu_ps(masks[0], blk.b.add(*blk.boff.add(p + 1)));
                    let ap = a.add(p * MR);
                    for (i, (row, r2)) in acc.iter_mut().zip(acc2.iter_mut()).enumerate() {
                        row[0] = _mm512_fmadd_ps(_mm512_set1_ps(*ap.add(i)), b0, row[0]);
                        *r2 = _mm512_fmadd_ps(_mm512_set1_ps(*ap.add(MR + i)), b1, *r2);
                    }
                    p += 2;
                }
                if p < k {
                    let b0 = _mm512_maskz_loadu_ps(masks[0], blk.b.add(*blk.boff.add(p)));
                    let ap = a.add(p * MR);
                    for (i, row) in acc.iter_mut().enumerate() {
                        row[0] = _mm512_fmadd_ps(_mm512_set1_ps(*ap.add(i)), b0, row[0]);
                    }
                }
                for (row, r2) in acc.iter_mut().zip(acc2) {
                    row[0] = _mm512_add_ps(row[0], r2);
                }
            }
            for (i, row) in acc.iter().enumerate().take(mr) {
                for (v, x) in row.iter().enumerate() {
                    store_row(blk, epi, &segs, m + i, v, *x);
                }
            }
        }
        m += MR;
    }
}

#[cfg(not(target_arch = "x86_64"))]
pub unsafe fn run_block(_: &Block, _: &ChannelAffine) {
    unreachable!("cpu::avx512() is false off x86_64")
}
