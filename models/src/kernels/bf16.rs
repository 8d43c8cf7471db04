//! A bf16 GEMM for the convolutions, with the same per-channel epilogue as the f32 AVX-512
//! kernel ([`super::sgemm`]), on whichever bf16 hardware the CPU has: Intel AMX tiles, or
//! AVX-512 BF16 dot products (AMD Zen 4 and later, Intel Cooper Lake and later, and AMX CPUs
//! whose hypervisor does not pass the tile state through).
//!
//! One `tdpbf16ps` multiplies a 16×32 bf16 tile of A by a 32×16 tile of B into a 16×16 f32
//! tile: 8,192 multiply-adds, where an AVX-512 FMA does 16 and a `vdpbf16ps` 32 (two bf16
//! products per f32 lane). Measured (docs/benchmarks.md): on a Xeon with AMX ~1.8 T
//! multiply-adds/s in a tight loop against ~0.1 T for f32 FMAs; on an AMD EPYC (Zen 4)
//! `vdpbf16ps` runs at twice the multiply-adds of f32 FMAs. Operands are rounded to bf16
//! (8 bits of mantissa) and accumulated in f32: the networks' outputs move by about what their
//! bf16 weights differ from f32 ones (docs/models.md has the measured drift of each network),
//! which is why [`super::cpu::bf16`] can be switched off.
//!
//! Layout, shared by both instruction sets: A (weights) is packed once at load into 16-row ×
//! 32-deep tiles ([`pack_a`]); B (activations) is read in place through the same offset table
//! as the f32 kernel and converted per block into "VNNI" pairs (row r of a B tile holds, for
//! each of 16 columns, the values of inner indices 2r and 2r+1): the order `tdpbf16ps` takes,
//! and one `vdpbf16ps` operand per row. A block is 32 columns; a run of blocks has its B
//! converted once, and each 32-row pair of A tiles is then multiplied by every block of the
//! run, so the weights of the 512- and 1024-channel layers come from memory once per run
//! instead of once per block.
//!
//! AMX: 2×2 output tiles per step (tmm0–3 accumulate, tmm4–5 hold A, tmm6–7 hold B). The tile
//! instructions are written as inline assembly (Rust's AMX intrinsics are not stable); tile
//! registers are not visible to the compiler, which never emits AMX code itself, so they keep
//! their values between the `asm!` blocks of one kernel call. Dot products: 8 rows × 32
//! columns (16 rows × 16 for narrow blocks) of f32 sums in 16 zmm registers, each row's bf16
//! pair of A broadcast against a row of converted B.

use super::epilogue::ChannelAffine;
use super::sgemm::{self, Block};

/// Rows of a tile of A (output channels).
pub const TM: usize = 16;
/// Columns of a tile of B (output positions).
pub const TN: usize = 16;
/// Inner dimension of one tile step (bf16 values per tile row of A).
pub const TK: usize = 32;
/// Rows of A per step: two tiles.
pub const MR: usize = 2 * TM;
/// Bytes per tile row (every tile used here is 16 rows × 64 bytes).
const ROW_BYTES: usize = 64;
/// bf16 values per tile.
const TILE: usize = TM * TK;

/// Rounds an f32 to bf16, to nearest even (what `vcvtneps2bf16` does; no NaNs occur here).
pub(crate) fn round(x: f32) -> u16 {
    let b = x.to_bits();
    ((b + 0x7fff + ((b >> 16) & 1)) >> 16) as u16
}

/// Packs row-major `[m, k]` weights into bf16 tiles: `⌈m/32⌉·2` panels of 16 rows, each
/// `⌈k/32⌉` tiles of `[16 rows][32]` stored one after the other (zeros pad rows and depth).
pub fn pack_a(w: &[f32], m: usize, k: usize) -> Vec<u16> {
    let kc = k.div_ceil(TK);
    let panels = m.div_ceil(MR) * 2;
    let mut out = vec![0u16; panels * kc * TILE];
    for (r, row) in w.chunks_exact(k).take(m).enumerate() {
        let panel = &mut out[(r / TM) * kc * TILE..][..kc * TILE];
        for (p, v) in row.iter().enumerate() {
            panel[(p / TK) * TILE + (r % TM) * TK + p % TK] = round(*v);
        }
    }
    out
}

/// bf16 values of converted B one block needs (see [`run_blocks`]).
pub fn b_len(k: usize) -> usize {
    k.div_ceil(TK) * 2 * TILE
}

/// The tile configuration: palette 1, tiles 0–7 all 16 rows × 64 bytes.
#[repr(C, align(64))]
struct TileConfig {
    palette: u8,
    start_row: u8,
    reserved: [u8; 14],
    colsb: [u16; 16],
    rows: [u8; 16],
}

const CONFIG: TileConfig = TileConfig {
    palette: 1,
    start_row: 0,
    reserved: [0; 14],
    colsb: [64, 64, 64, 64, 64, 64, 64, 64, 0, 0, 0, 0, 0, 0, 0, 0],
    rows: [16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0, 0, 0, 0],
};

/// Computes rows `m0..m1` (`m0` a multiple of [`MR`]) of a run of [`Block`]s (the same rows
/// and depth, each at most [`sgemm::NR`] columns) from bf16-packed A (`blk.a` is not read) and
/// applies `epi`. Every block's B is converted first, then each pair of A tiles is loaded from
/// memory once for the whole run and multiplied by every block's B while it is in cache: on
/// AMX tiles where [`super::cpu::amx`] is on, else with AVX-512 BF16 dot products.
/// `scratch` holds the converted B ([`b_len`] values per block).
///
/// # Safety
/// [`super::cpu::bf16`] must be true; `a` must be [`pack_a`] of the blocks' `[m, k]` weights
/// with `m ≥ m1`; otherwise the contract of [`sgemm::run_block`] for every block.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
pub unsafe fn run_blocks(blks: &[Block], a: &[u16], scratch: &mut [u16], epi: &ChannelAffine) {
    let Some(first) = blks.first() else { return };
    let (k, m0, m1) = (first.k, first.m0, first.m1);
    debug_assert!(m0.is_multiple_of(MR));
    let kc = k.div_ceil(TK);
    let per_block = b_len(k);
    assert!(
        blks.iter()
            .all(|b| (b.k, b.m0, b.m1) == (k, m0, m1) && b.nc <= 2 * TN)
            && scratch.len() >= blks.len() * per_block
            && a.len() >= m1.div_ceil(MR) * 2 * kc * TILE
    );
    let segs: Vec<sgemm::Segments> = blks.iter().map(sgemm::Segments::of).collect();
    // SAFETY (whole function): conversions follow `convert_b`'s contract (checked above); the
    // products read whole tiles of `a` and `scratch`, inside both (checked above); outputs are
    // written by `sgemm::store_row` under each block's contract.
    unsafe {
        for (blk, dst) in blks.iter().zip(scratch.chunks_exact_mut(per_block)) {
            convert_b(blk, dst);
        }
        let run = Run {
            blks,
            segs: &segs,
            a: a.as_ptr(),
            b: scratch.as_ptr(),
            kc,
            epi,
        };
        if super::cpu::amx() {
            run.tiles();
        } else {
            run.dots();
        }
    }
}

/// A run of blocks whose B is converted ([`convert_b`]), ready to be multiplied.
#[cfg(target_arch = "x86_64")]
struct Run<'a> {
    blks: &'a [Block],
    segs: &'a [sgemm::Segments],
    /// Packed A ([`pack_a`]) and converted B (block j at `j·b_len(k)`).
    a: *const u16,
    b: *const u16,
    /// Tile steps along the inner dimension.
    kc: usize,
    epi: &'a ChannelAffine,
}

#[cfg(target_arch = "x86_64")]
impl Run<'_> {
    /// The first bf16 of A tile step `kk` of the 16-row panel holding row `m`.
    fn a_tile(&self, m: usize, kk: usize) -> *const u16 {
        self.a.wrapping_add(((m / TM) * self.kc + kk) * TILE)
    }

    /// The first bf16 of B tile (`kk`, column half `v`) of block `j`.
    fn b_tile(&self, j: usize, kk: usize, v: usize) -> *const u16 {
        self.b
            .wrapping_add(j * self.kc * 2 * TILE + (kk * 2 + v) * TILE)
    }

    /// On AMX tiles: each step multiplies two A tiles (32 rows) by a block's two B tiles.
    ///
    /// # Safety
    /// [`super::cpu::amx`] is true; the contract of [`run_blocks`], whose checks passed.
    #[target_feature(enable = "avx512f")]
    unsafe fn tiles(&self) {
        use std::arch::asm;
        use std::arch::x86_64::*;
        let (m0, m1) = (self.blks[0].m0, self.blks[0].m1);
        // SAFETY: tile loads read whole 1 KB tiles inside A and B; stores go to `out`; outputs
        // are written by `sgemm::store_row` under each block's contract (the caller's).
        unsafe {
            asm!("ldtilecfg [{}]", in(reg) &CONFIG, options(nostack, readonly));
            let mut out = [[0f32; TM * TN]; 4];
            let mut m = m0;
            while m < m1 {
                for (j, blk) in self.blks.iter().enumerate() {
                    asm!(
                        "tilezero tmm0",
                        "tilezero tmm1",
                        "tilezero tmm2",
                        "tilezero tmm3",
                        options(nostack, nomem)
                    );
                    for kk in 0..self.kc {
                        asm!(
                            "tileloadd tmm4, [{a0} + {s}*1]",
                            "tileloadd tmm5, [{a1} + {s}*1]",
                            "tileloadd tmm6, [{b0} + {s}*1]",
                            "tileloadd tmm7, [{b1} + {s}*1]",
                            "tdpbf16ps tmm0, tmm4, tmm6",
                            "tdpbf16ps tmm1, tmm4, tmm7",
                            "tdpbf16ps tmm2, tmm5, tmm6",
                            "tdpbf16ps tmm3, tmm5, tmm7",
                            a0 = in(reg) self.a_tile(m, kk),
                            a1 = in(reg) self.a_tile(m + TM, kk),
                            b0 = in(reg) self.b_tile(j, kk, 0),
                            b1 = in(reg) self.b_tile(j, kk, 1),
                            s = in(reg) ROW_BYTES,
                            options(nostack, readonly)
                        );
                    }
                    asm!(
                        "tilestored [{c0} + {s}*1], tmm0",
                        "tilestored [{c1} + {s}*1], tmm1",
                        "tilestored [{c2} + {s}*1], tmm2",
                        "tilestored [{c3} + {s}*1], tmm3",
                        c0 = in(reg) out[0].as_mut_ptr(),
                        c1 = in(reg) out[1].as_mut_ptr(),
                        c2 = in(reg) out[2].as_mut_ptr(),
                        c3 = in(reg) out[3].as_mut_ptr(),
                        s = in(reg) ROW_BYTES,
                        options(nostack)
                    );
                    for i in 0..MR.min(m1 - m) {
                        for v in 0..blk.nc.div_ceil(TN) {
                            let x =
                                _mm512_loadu_ps(out[(i / TM) * 2 + v][(i % TM) * TN..].as_ptr());
                            sgemm::store_row(blk, self.epi, &self.segs[j], m + i, v, x);
                        }
                    }
                }
                m += MR;
            }
            asm!("tilerelease", options(nostack, nomem));
        }
    }

    /// With AVX-512 BF16 dot products: for each 32 rows, every block of the run, in groups of
    /// rows that keep 16 sums in registers.
    ///
    /// # Safety
    /// The CPU has AVX-512 BF16; the contract of [`run_blocks`], whose checks passed.
    #[target_feature(enable = "avx512f,avx512bf16")]
    unsafe fn dots(&self) {
        let (m0, m1) = (self.blks[0].m0, self.blks[0].m1);
        let mut m = m0;
        while m < m1 {
            for (j, blk) in self.blks.iter().enumerate() {
                // SAFETY: forwarded from this function's contract.
                unsafe {
                    if blk.nc > TN {
                        for r in (0..MR).step_by(8) {
                            self.dot_rows::<2, 8>(j, m + r, m1);
                        }
                    } else {
                        for r in (0..MR).step_by(TM) {
                            self.dot_rows::<1, TM>(j, m + r, m1);
                        }
                    }
                }
            }
            m += MR;
        }
    }

    /// Rows `m..m + R` (within one 16-row panel; those at or past `m1` are computed from A's
    /// zero padding and not stored) × the `NV` column halves of block `j`.
    ///
    /// # Safety
    /// As for [`Run::dots`]; `m < m1` or nothing is done.
    #[target_feature(enable = "avx512f,avx512bf16")]
    #[inline]
    unsafe fn dot_rows<const NV: usize, const R: usize>(&self, j: usize, m: usize, m1: usize) {
        use std::arch::x86_64::*;
        if m >= m1 {
            return;
        }
        debug_assert!(m % TM + R <= TM);
        let mut acc = [[_mm512_setzero_ps(); NV]; R];
        // SAFETY: A tiles (rows of 64 bytes, 16 per tile) and B tiles (16 rows of 64 bytes per
        // column half) are read inside `a` and the scratch (checked by `run_blocks`).
        unsafe {
            for kk in 0..self.kc {
                let a = self.a_tile(m, kk).add((m % TM) * TK) as *const i32;
                let b: [*const __m512i; NV] =
                    std::array::from_fn(|v| self.b_tile(j, kk, v) as *const __m512i);
                for r in 0..TK / 2 {
                    let bv: [__m512bh; NV] = std::array::from_fn(|v| {
                        std::mem::transmute(_mm512_loadu_si512(b[v].add(r)))
                    });
                    for (i, row) in acc.iter_mut().enumerate() {
                        let ai: __m512bh =
                            std::mem::transmute(_mm512_set1_epi32(*a.add(i * TK / 2 + r)));
                        for v in 0..NV {
                            row[v] = _mm512_dpbf16_ps(row[v], ai, bv[v]);
                        }
                    }
                }
            }
            let blk = &self.blks[j];
            for (i, row) in acc.iter().enumerate().take(m1 - m) {
                for (v, x) in row.iter().enumerate() {
                    sgemm::store_row(blk, self.epi, &self.segs[j], m + i, v, *x);
                }
            }
        }
    }
}

/// Converts a block's B into bf16 pairs in `dst` ([`b_len`] values): row r of tile (kk, v) is
/// inner indices 2r, 2r+1 of tile step kk (32 deep) for columns 16v..16v+16; depth beyond k
/// and columns beyond the block are zero.
///
/// # Safety
/// The CPU must support AVX-512F; B rows of `blk` are readable for its real lanes
/// ([`sgemm::run_block`]'s contract); `dst` holds at least [`b_len`]`(blk.k)` values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn convert_b(blk: &Block, dst: &mut [u16]) {
    use std::arch::x86_64::*;
    let k = blk.k;
    assert!(dst.len() >= b_len(k));
    let nv = blk.nc.div_ceil(TN);
    let masks: [__mmask16; 2] = std::array::from_fn(|v| {
        let lanes = blk.nc.saturating_sub(TN * v).min(TN);
        ((1u32 << lanes) - 1) as __mmask16
    });
    let round = |x: __m512i| {
        let odd = _mm512_and_si512(_mm512_srli_epi32::<16>(x), _mm512_set1_epi32(1));
        _mm512_add_epi32(x, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7fff)))
    };
    // SAFETY: masked-off lanes are not read and enabled ones are readable (the caller's
    // contract); stores stay inside `dst` (checked above).
    unsafe {
        let load = |p: usize, v: usize| {
            if p < k {
                _mm512_castps_si512(_mm512_maskz_loadu_ps(
                    masks[v],
                    blk.b.add(*blk.boff.add(p) + TN * v),
                ))
            } else {
                _mm512_setzero_si512()
            }
        };
        for kk in 0..k.div_ceil(TK) {
            for v in 0..2 {
                let tile = dst.as_mut_ptr().add((kk * 2 + v) * TILE);
                for r in 0..TM {
                    let p = kk * TK + 2 * r;
                    let (lo, hi) = if v < nv {
                        (round(load(p, v)), round(load(p + 1, v)))
                    } else {
                        (_mm512_setzero_si512(), _mm512_setzero_si512())
                    };
                    let pair = _mm512_or_si512(
                        _mm512_and_si512(hi, _mm512_set1_epi32(0xffff_0000u32 as i32)),
                        _mm512_srli_epi32::<16>(lo),
                    );
                    _mm512_storeu_si512(tile.add(r * TK) as *mut __m512i, pair);
                }
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
pub unsafe fn run_blocks(_: &[Block], _: &[u16], _: &mut [u16], _: &ChannelAffine) {
    unreachable!("cpu::bf16() is false off x86_64")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bf16_rounds_to_nearest_even() {
        assert_eq!(round(1.0), 0x3f80);
        // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1.0).
        assert_eq!(round(1.0 + 1.0 / 256.0), 0x3f80);
        assert_eq!(round(1.0 + 3.0 / 256.0), 0x3f82);
        assert_eq!(round(-2.5), 0xc020);
    }
}
