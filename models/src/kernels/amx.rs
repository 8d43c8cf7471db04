//! A bf16 GEMM on Intel AMX tiles for the convolutions, with the same per-channel epilogue as
//! the f32 AVX-512 kernel ([`super::sgemm`]).
//!
//! One `tdpbf16ps` multiplies a 16×32 bf16 tile of A by a 32×16 tile of B into a 16×16 f32
//! tile: 8,192 multiply-adds, where an AVX-512 FMA does 16. Measured on a 2 vCPU Xeon with AMX
//! (docs/benchmarks.md): ~1.8 T multiply-adds/s in a tight loop against ~0.1 T for f32 FMAs, so
//! the convolutions become bound by reading and converting their operands, not by arithmetic.
//! Operands are rounded to bf16 (8 bits of mantissa) and accumulated in f32: the networks'
//! outputs move by about what their bf16 weights differ from f32 ones (docs/models.md has the
//! measured drift of each network), which is why [`super::cpu::amx`] can be switched off.
//!
//! Layout: A (weights) is packed once at load into 16-row × 32-deep tiles ([`pack_a`]); B
//! (activations) is read in place through the same offset table as the f32 kernel and
//! converted per block into "VNNI" pairs (row r of a B tile holds, for each of 16 columns, the
//! values of inner indices 2r and 2r+1), the order `tdpbf16ps` takes. A block is 32 columns;
//! a run of blocks has its B converted once, and each 32-row pair of A tiles is then multiplied
//! by every block of the run (2×2 output tiles per step: tmm0–3 accumulate, tmm4–5 hold A,
//! tmm6–7 hold B), so the weights of the 512- and 1024-channel layers come from memory once per
//! run instead of once per block.
//!
//! The tile instructions are written as inline assembly (Rust's AMX intrinsics are not
//! stable); tile registers are not visible to the compiler, which never emits AMX code
//! itself, so they keep their values between the `asm!` blocks of one kernel call.

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
pub(crate) fn bf16(x: f32) -> u16 {
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
            panel[(p / TK) * TILE + (r % TM) * TK + p % TK] = bf16(*v);
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
/// memory once for the whole run and multiplied by every block's B while it is in cache.
/// `scratch` holds the converted B ([`b_len`] values per block).
///
/// # Safety
/// [`super::cpu::amx`] must be true on this thread's process; `a` must be [`pack_a`] of the
/// blocks' `[m, k]` weights with `m ≥ m1`; otherwise the contract of [`sgemm::run_block`] for
/// every block.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
pub unsafe fn run_blocks(blks: &[Block], a: &[u16], scratch: &mut [u16], epi: &ChannelAffine) {
    use std::arch::asm;
    use std::arch::x86_64::*;
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
    // SAFETY (whole function): conversions follow `convert_b`'s contract (checked above); tile
    // loads read whole 1 KB tiles of `a` and `scratch`, inside both (checked above); outputs
    // are written by `sgemm::store_row` under each block's contract.
    unsafe {
        for (blk, dst) in blks.iter().zip(scratch.chunks_exact_mut(per_block)) {
            convert_b(blk, dst);
        }
        asm!("ldtilecfg [{}]", in(reg) &CONFIG, options(nostack, readonly));
        let mut out = [[0f32; TM * TN]; 4];
        let mut m = m0;
        while m < m1 {
            let a0 = a.as_ptr().add((m / TM) * kc * TILE);
            let a1 = a0.add(kc * TILE);
            for (j, blk) in blks.iter().enumerate() {
                let b = scratch.as_ptr().add(j * per_block);
                asm!(
                    "tilezero tmm0",
                    "tilezero tmm1",
                    "tilezero tmm2",
                    "tilezero tmm3",
                    options(nostack, nomem)
                );
                for kk in 0..kc {
                    let b0 = b.add(kk * 2 * TILE);
                    asm!(
                        "tileloadd tmm4, [{a0} + {s}*1]",
                        "tileloadd tmm5, [{a1} + {s}*1]",
                        "tileloadd tmm6, [{b0} + {s}*1]",
                        "tileloadd tmm7, [{b1} + {s}*1]",
                        "tdpbf16ps tmm0, tmm4, tmm6",
                        "tdpbf16ps tmm1, tmm4, tmm7",
                        "tdpbf16ps tmm2, tmm5, tmm6",
                        "tdpbf16ps tmm3, tmm5, tmm7",
                        a0 = in(reg) a0.add(kk * TILE),
                        a1 = in(reg) a1.add(kk * TILE),
                        b0 = in(reg) b0,
                        b1 = in(reg) b0.add(TILE),
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
                        let x = _mm512_loadu_ps(out[(i / TM) * 2 + v][(i % TM) * TN..].as_ptr());
                        sgemm::store_row(blk, epi, &segs[j], m + i, v, x);
                    }
                }
            }
            m += MR;
        }
        asm!("tilerelease", options(nostack, nomem));
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
    unreachable!("cpu::amx() is false off x86_64")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bf16_rounds_to_nearest_even() {
        assert_eq!(bf16(1.0), 0x3f80);
        // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1.0).
        assert_eq!(bf16(1.0 + 1.0 / 256.0), 0x3f80);
        assert_eq!(bf16(1.0 + 3.0 / 256.0), 0x3f82);
        assert_eq!(bf16(-2.5), 0xc020);
    }
}
