//! A baseline/progressive JPEG decoder that reproduces jpeg-js 0.4.4 (the decoder face-api's
//! reference run used) bit for bit: pdf.js's integer Loeffler IDCT, nearest-neighbour chroma
//! upsampling and truncating YCbCr→RGB conversion.
//!
//! Why not the `image` crate's decoder: it rounds colour conversion and upsamples chroma
//! smoothly, so its pixels differ from jpeg-js's by ~0.4 grey levels on average (rgb sums of
//! the samples off by ~1 %), which moves boxes and landmarks by 1–2 px and descriptors by
//! ~0.05 — more than the tolerances the reference comparison allows. Files this decoder does
//! not handle (arithmetic coding, 12-bit, CMYK, multi-frame) fall back to `image`.
//!
//! Input is hostile (photos are uploaded by users), so unlike jpeg-js the header is checked
//! before anything is allocated: component count (1, 3, or 4 with an Adobe marker), sampling
//! factors (1–4), table ids (0–3), non-zero dimensions, the pixel cap and the memory the
//! decode will need ([`DecodeLimits`]). Decoding stops at the end of the data instead of
//! reading zeros past it as jpeg-js does; see [`Bits::bit`] for why that changes no result.
//! Besides the caps, the checks only reject what the JPEG standard forbids, so valid files
//! decode bit for bit as before.

use image::RgbImage;

use super::{DecodeLimits, megapixels};
use crate::error::{Error, Result};

const ZIGZAG: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

const COS1: i64 = 4017;
const SIN1: i64 = 799;
const COS3: i64 = 3406;
const SIN3: i64 = 2276;
const COS6: i64 = 1567;
const SIN6: i64 = 3784;
const SQRT2: i64 = 5793;
const SQRT1D2: i64 = 2896;

/// Most scans a file may have. Encoders write 1–3 (baseline) or about 10 (progressive), but a
/// scan of end-of-band runs costs a few bytes of input and a pass over every block of its
/// component, so without a cap a small file could keep a core busy for minutes.
const MAX_SCANS: usize = 500;

/// Why [`decode`] did not produce an image.
pub(crate) enum Fail {
    /// Not an image anyone should decode: over the limits, truncated, or declaring values no
    /// encoder writes. Returned to the caller; no other decoder gets a try.
    Refuse(Error),
    /// Possibly a valid JPEG this port does not implement, or damaged entropy-coded data that
    /// a more lenient decoder may still make something of: the `image` crate gets a try,
    /// under the same limits.
    Decline(String),
}

type R<T> = std::result::Result<T, Fail>;

/// A file that breaks the format's rules, in words a user can act on.
fn invalid(msg: impl std::fmt::Display) -> Fail {
    Fail::Refuse(Error::BadImage(format!("invalid JPEG: {msg}")))
}

fn truncated() -> Fail {
    Fail::Refuse(Error::BadImage(
        "the JPEG file is truncated: its image data ends before the image is complete".into(),
    ))
}

fn decline(msg: impl Into<String>) -> Fail {
    Fail::Decline(msg.into())
}

/// JS `(v) >> n` on an int32-converted value.
#[inline(always)]
fn sh(v: i64, n: u32) -> i32 {
    (v as i32) >> n
}

#[derive(Clone, Default)]
struct Huffman {
    /// (code length, code) → value, as canonical tables.
    maxcode: [i32; 18],
    valptr: [i32; 17],
    mincode: [i32; 17],
    values: Vec<u8>,
}

impl Huffman {
    fn new(lengths: &[u8; 16], values: Vec<u8>) -> Self {
        let mut h = Huffman {
            maxcode: [-1; 18],
            values,
            ..Default::default()
        };
        let mut code = 0i32;
        let mut k = 0i32;
        for l in 1..=16 {
            let n = lengths[l - 1] as i32;
            h.valptr[l] = k;
            h.mincode[l] = code;
            code += n;
            k += n;
            h.maxcode[l] = if n > 0 { code - 1 } else { -1 };
            code <<= 1;
        }
        h.maxcode[17] = i32::MAX;
        h
    }
}

#[derive(Clone)]
struct Component {
    id: u8,
    h: usize,
    v: usize,
    tq: usize,
    blocks_per_line: usize,
    blocks_per_column: usize,
    /// Row stride of `blocks` (blocks per line rounded up to whole MCUs).
    blocks_stride: usize,
    /// 64 coefficients per block, flat: `vec![0; n]` of a scalar comes from the allocator
    /// already zeroed (untouched pages cost no memory until a block is decoded), while a
    /// `vec!` of `[i32; 64]` arrays writes every zero — which made a header alone, with no
    /// data behind it, cost the whole image's memory.
    blocks: Vec<i32>,
    pred: i32,
    dc: usize,
    ac: usize,
}

struct Frame {
    progressive: bool,
    width: usize,
    height: usize,
    comps: Vec<Component>,
    max_h: usize,
    max_v: usize,
    mcus_per_line: usize,
    mcus_per_column: usize,
}

struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    buf: u32,
    count: u32,
}

impl Bits<'_> {
    /// The next bit of entropy-coded data.
    ///
    /// Past the end of the data jpeg-js reads `undefined` (→ 0 bits) and goes on decoding the
    /// rest of the image, but it never returns that image: the marker it then looks for after
    /// the scan lies past the end too, reads as 0, and it throws "marker was not found". So
    /// stopping at the first bit past the end gives jpeg-js's outcome (an error) without
    /// decoding — and touching the memory of — every remaining block.
    fn bit(&mut self) -> R<i32> {
        if self.count > 0 {
            self.count -= 1;
            return Ok(((self.buf >> self.count) & 1) as i32);
        }
        let b = *self.data.get(self.pos).ok_or_else(truncated)?;
        self.pos += 1;
        if b == 0xFF {
            // A stuffed 0xFF needs its 0x00; jpeg-js would read it past the end as above.
            let next = *self.data.get(self.pos).ok_or_else(truncated)?;
            self.pos += 1;
            if next != 0 {
                return Err(decline(format!(
                    "marker {:X} inside the image data",
                    0xFF00 | next as u32
                )));
            }
        }
        self.buf = b as u32;
        self.count = 7;
        Ok((b >> 7) as i32)
    }

    fn huff(&mut self, h: &Huffman) -> R<i32> {
        let mut code = 0i32;
        for l in 1..=16 {
            code = (code << 1) | self.bit()?;
            if h.maxcode[l] >= 0 && code <= h.maxcode[l] {
                let idx = (h.valptr[l] + code - h.mincode[l]) as usize;
                return h
                    .values
                    .get(idx)
                    .map(|&v| v as i32)
                    .ok_or_else(|| decline("Huffman code without a value"));
            }
        }
        Err(decline("invalid Huffman code"))
    }

    fn receive(&mut self, len: i32) -> R<i32> {
        let mut n = 0i32;
        for _ in 0..len {
            n = (n << 1) | self.bit()?;
        }
        Ok(n)
    }

    fn extend(&mut self, len: i32) -> R<i32> {
        if len == 0 {
            return Ok(0);
        }
        // 8-bit JPEGs code at most 11-bit differences and 10-bit coefficients; longer ones
        // are damaged data, and past 31 the shifts below would overflow.
        if len > 16 {
            return Err(decline(format!("{len}-bit coefficient in the image data")));
        }
        let n = self.receive(len)?;
        if len < 32 && n >= 1 << (len - 1) {
            Ok(n)
        } else {
            Ok(n + (-1i32 << len) + 1)
        }
    }
}

struct ScanState {
    eobrun: i32,
    ac_state: u8,
    ac_next: i32,
}

#[allow(clippy::too_many_arguments)]
fn decode_block(
    bits: &mut Bits,
    c: &mut Component,
    blk: usize,
    frame_progressive: bool,
    ss: usize,
    se: usize,
    ah: u32,
    al: u32,
    dcs: &[Huffman],
    acs: &[Huffman],
    st: &mut ScanState,
) -> R<()> {
    let dc = &dcs[c.dc];
    let ac = &acs[c.ac];
    let Some(zz) = c.blocks.as_chunks_mut::<64>().0.get_mut(blk) else {
        return Ok(());
    };
    if !frame_progressive {
        let t = bits.huff(dc)?;
        let diff = if t == 0 { 0 } else { bits.extend(t)? };
        c.pred = c.pred.wrapping_add(diff);
        zz[0] = c.pred;
        let mut k = 1;
        while k < 64 {
            let rs = bits.huff(ac)?;
            let (s, r) = (rs & 15, rs >> 4);
            if s == 0 {
                if r < 15 {
                    break;
                }
                k += 16;
                continue;
            }
            k += r as usize;
            let v = bits.extend(s)?;
            if k < 64 {
                zz[ZIGZAG[k]] = v;
            }
            k += 1;
        }
        return Ok(());
    }
    if ss == 0 {
        if ah == 0 {
            let t = bits.huff(dc)?;
            let diff = if t == 0 { 0 } else { bits.extend(t)? << al };
            c.pred = c.pred.wrapping_add(diff);
            zz[0] = c.pred;
        } else {
            zz[0] |= bits.bit()? << al;
        }
        return Ok(());
    }
    if ah == 0 {
        if st.eobrun > 0 {
            st.eobrun -= 1;
            return Ok(());
        }
        let mut k = ss;
        while k <= se {
            let rs = bits.huff(ac)?;
            let (s, r) = (rs & 15, rs >> 4);
            if s == 0 {
                if r < 15 {
                    st.eobrun = bits.receive(r)? + (1 << r) - 1;
                    break;
                }
                k += 16;
                continue;
            }
            k += r as usize;
            let v = bits.extend(s)?.wrapping_mul(1 << al);
            if k < 64 {
                zz[ZIGZAG[k]] = v;
            }
            k += 1;
        }
        return Ok(());
    }
    // Successive approximation refinement of AC coefficients.
    let mut k = ss;
    let mut r = 0i32;
    while k <= se {
        let z = ZIGZAG[k.min(63)];
        let dir = if zz[z] < 0 { -1 } else { 1 };
        match st.ac_state {
            0 => {
                let rs = bits.huff(ac)?;
                let s = rs & 15;
                r = rs >> 4;
                if s == 0 {
                    if r < 15 {
                        st.eobrun = bits.receive(r)? + (1 << r);
                        st.ac_state = 4;
                    } else {
                        r = 16;
                        st.ac_state = 1;
                    }
                } else {
                    if s != 1 {
                        return Err(decline("invalid AC refinement code"));
                    }
                    st.ac_next = bits.extend(s)?;
                    st.ac_state = if r != 0 { 2 } else { 3 };
                }
                continue;
            }
            1 | 2 => {
                if zz[z] != 0 {
                    zz[z] += (bits.bit()? << al) * dir;
                } else {
                    r -= 1;
                    if r == 0 {
                        st.ac_state = if st.ac_state == 2 { 3 } else { 0 };
                    }
                }
            }
            3 => {
                if zz[z] != 0 {
                    zz[z] += (bits.bit()? << al) * dir;
                } else {
                    zz[z] = st.ac_next << al;
                    st.ac_state = 0;
                }
            }
            _ => {
                if zz[z] != 0 {
                    zz[z] += (bits.bit()? << al) * dir;
                }
            }
        }
        k += 1;
    }
    if st.ac_state == 4 {
        st.eobrun -= 1;
        if st.eobrun == 0 {
            st.ac_state = 0;
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn decode_scan(
    data: &[u8],
    offset: usize,
    frame: &mut Frame,
    scan: &[usize],
    reset_interval: usize,
    ss: usize,
    se: usize,
    ah: u32,
    al: u32,
    dcs: &[Huffman],
    acs: &[Huffman],
) -> R<usize> {
    let mut bits = Bits {
        data,
        pos: offset,
        buf: 0,
        count: 0,
    };
    let mut st = ScanState {
        eobrun: 0,
        ac_state: 0,
        ac_next: 0,
    };
    let single = scan.len() == 1;
    let expected = if single {
        let c = &frame.comps[scan[0]];
        c.blocks_per_line * c.blocks_per_column
    } else {
        frame.mcus_per_line * frame.mcus_per_column
    };
    let reset = if reset_interval == 0 {
        expected
    } else {
        reset_interval
    };
    let prog = frame.progressive;
    let mut mcu = 0usize;
    while mcu < expected {
        for &ci in scan {
            frame.comps[ci].pred = 0;
        }
        st.eobrun = 0;
        if single {
            let c = &mut frame.comps[scan[0]];
            for _ in 0..reset {
                let (row, col) = (mcu / c.blocks_per_line, mcu % c.blocks_per_line);
                let blk = row * c.blocks_stride + col;
                decode_block(&mut bits, c, blk, prog, ss, se, ah, al, dcs, acs, &mut st)?;
                mcu += 1;
            }
        } else {
            for _ in 0..reset {
                let (mrow, mcol) = (mcu / frame.mcus_per_line, mcu % frame.mcus_per_line);
                for &ci in scan {
                    let c = &mut frame.comps[ci];
                    for j in 0..c.v {
                        for k in 0..c.h {
                            let blk = (mrow * c.v + j) * c.blocks_stride + mcol * c.h + k;
                            decode_block(
                                &mut bits, c, blk, prog, ss, se, ah, al, dcs, acs, &mut st,
                            )?;
                        }
                    }
                }
                mcu += 1;
                if mcu == expected {
                    break;
                }
            }
        }
        let mut off = bits.pos;
        if mcu == expected {
            // Skip trailing bytes of the scan up to the next marker.
            while off + 2 < data.len() {
                if data[off] == 0xFF && data[off + 1] != 0 {
                    break;
                }
                off += 1;
            }
        }
        bits.count = 0;
        let marker =
            ((*data.get(off).unwrap_or(&0) as u32) << 8) | *data.get(off + 1).unwrap_or(&0) as u32;
        if marker < 0xFF00 {
            // jpeg-js throws here; a more lenient decoder may still use the data.
            return Err(decline("no marker after the image data"));
        }
        if (0xFFD0..=0xFFD7).contains(&marker) {
            bits.pos = off + 2;
        } else {
            bits.pos = off;
            break;
        }
    }
    Ok(bits.pos - offset)
}

/// pdf.js / poppler integer IDCT + dequantisation, exactly as jpeg-js computes it.
fn idct(zz: &[i32; 64], qt: &[i32; 64], out: &mut [u8; 64]) {
    let mut p = [0i32; 64];
    for i in 0..64 {
        p[i] = zz[i].wrapping_mul(qt[i]);
    }
    for i in 0..8 {
        let r = 8 * i;
        let q = |k: usize| p[r + k] as i64;
        if (1..8).all(|k| p[r + k] == 0) {
            let t = sh(SQRT2 * q(0) + 512, 10);
            p[r..r + 8].fill(t);
            continue;
        }
        let mut v0 = sh(SQRT2 * q(0) + 128, 8) as i64;
        let mut v1 = sh(SQRT2 * q(4) + 128, 8) as i64;
        let mut v2 = q(2);
        let mut v3 = q(6);
        let mut v4 = sh(SQRT1D2 * (q(1) - q(7)) + 128, 8) as i64;
        let mut v7 = sh(SQRT1D2 * (q(1) + q(7)) + 128, 8) as i64;
        let mut v5 = ((p[r + 3]) << 4) as i64;
        let mut v6 = ((p[r + 5]) << 4) as i64;
        let mut t;
        t = sh(v0 - v1 + 1, 1) as i64;
        v0 = sh(v0 + v1 + 1, 1) as i64;
        v1 = t;
        t = sh(v2 * SIN6 + v3 * COS6 + 128, 8) as i64;
        v2 = sh(v2 * COS6 - v3 * SIN6 + 128, 8) as i64;
        v3 = t;
        t = sh(v4 - v6 + 1, 1) as i64;
        v4 = sh(v4 + v6 + 1, 1) as i64;
        v6 = t;
        t = sh(v7 + v5 + 1, 1) as i64;
        v5 = sh(v7 - v5 + 1, 1) as i64;
        v7 = t;
        t = sh(v0 - v3 + 1, 1) as i64;
        v0 = sh(v0 + v3 + 1, 1) as i64;
        v3 = t;
        t = sh(v1 - v2 + 1, 1) as i64;
        v1 = sh(v1 + v2 + 1, 1) as i64;
        v2 = t;
        t = sh(v4 * SIN3 + v7 * COS3 + 2048, 12) as i64;
        v4 = sh(v4 * COS3 - v7 * SIN3 + 2048, 12) as i64;
        v7 = t;
        t = sh(v5 * SIN1 + v6 * COS1 + 2048, 12) as i64;
        v5 = sh(v5 * COS1 - v6 * SIN1 + 2048, 12) as i64;
        v6 = t;
        p[r] = (v0 + v7) as i32;
        p[r + 7] = (v0 - v7) as i32;
        p[r + 1] = (v1 + v6) as i32;
        p[r + 6] = (v1 - v6) as i32;
        p[r + 2] = (v2 + v5) as i32;
        p[r + 5] = (v2 - v5) as i32;
        p[r + 3] = (v3 + v4) as i32;
        p[r + 4] = (v3 - v4) as i32;
    }
    for c in 0..8 {
        let q = |k: usize| p[k * 8 + c] as i64;
        if (1..8).all(|k| p[k * 8 + c] == 0) {
            let t = sh(SQRT2 * q(0) + 8192, 14);
            for k in 0..8 {
                p[k * 8 + c] = t;
            }
            continue;
        }
        let mut v0 = sh(SQRT2 * q(0) + 2048, 12) as i64;
        let mut v1 = sh(SQRT2 * q(4) + 2048, 12) as i64;
        let mut v2 = q(2);
        let mut v3 = q(6);
        let mut v4 = sh(SQRT1D2 * (q(1) - q(7)) + 2048, 12) as i64;
        let mut v7 = sh(SQRT1D2 * (q(1) + q(7)) + 2048, 12) as i64;
        let mut v5 = q(3);
        let mut v6 = q(5);
        let mut t;
        t = sh(v0 - v1 + 1, 1) as i64;
        v0 = sh(v0 + v1 + 1, 1) as i64;
        v1 = t;
        t = sh(v2 * SIN6 + v3 * COS6 + 2048, 12) as i64;
        v2 = sh(v2 * COS6 - v3 * SIN6 + 2048, 12) as i64;
        v3 = t;
        t = sh(v4 - v6 + 1, 1) as i64;
        v4 = sh(v4 + v6 + 1, 1) as i64;
        v6 = t;
        t = sh(v7 + v5 + 1, 1) as i64;
        v5 = sh(v7 - v5 + 1, 1) as i64;
        v7 = t;
        t = sh(v0 - v3 + 1, 1) as i64;
        v0 = sh(v0 + v3 + 1, 1) as i64;
        v3 = t;
        t = sh(v1 - v2 + 1, 1) as i64;
        v1 = sh(v1 + v2 + 1, 1) as i64;
        v2 = t;
        t = sh(v4 * SIN3 + v7 * COS3 + 2048, 12) as i64;
        v4 = sh(v4 * COS3 - v7 * SIN3 + 2048, 12) as i64;
        v7 = t;
        t = sh(v5 * SIN1 + v6 * COS1 + 2048, 12) as i64;
        v5 = sh(v5 * COS1 - v6 * SIN1 + 2048, 12) as i64;
        v6 = t;
        p[c] = (v0 + v7) as i32;
        p[7 * 8 + c] = (v0 - v7) as i32;
        p[8 + c] = (v1 + v6) as i32;
        p[6 * 8 + c] = (v1 - v6) as i32;
        p[2 * 8 + c] = (v2 + v5) as i32;
        p[5 * 8 + c] = (v2 - v5) as i32;
        p[3 * 8 + c] = (v3 + v4) as i32;
        p[4 * 8 + c] = (v3 - v4) as i32;
    }
    for i in 0..64 {
        let s = 128 + ((p[i].wrapping_add(8)) >> 4);
        out[i] = s.clamp(0, 255) as u8;
    }
}

/// Decoded sample plane of one component (`blocks_per_line*8` wide).
fn component_plane(c: &Component, qt: &[i32; 64]) -> (Vec<u8>, usize) {
    let spl = c.blocks_per_line * 8;
    let mut plane = vec![0u8; spl * c.blocks_per_column * 8];
    let mut out = [0u8; 64];
    let blocks = c.blocks.as_chunks::<64>().0;
    for br in 0..c.blocks_per_column {
        for bc in 0..c.blocks_per_line {
            idct(&blocks[br * c.blocks_stride + bc], qt, &mut out);
            for j in 0..8 {
                let o = (br * 8 + j) * spl + bc * 8;
                plane[o..o + 8].copy_from_slice(&out[j * 8..j * 8 + 8]);
            }
        }
    }
    (plane, spl)
}

fn clamp8(v: f64) -> u8 {
    // jpeg-js stores into a Uint8Array: clamp, then truncate toward zero.
    v.clamp(0.0, 255.0) as u8
}

/// Decodes a JPEG exactly as jpeg-js 0.4.4 (`useTArray`, RGB output), within the default
/// [`DecodeLimits`]. Unlike [`super::decode_rgb`] it has no fallback: a JPEG variant this
/// decoder does not implement is an error.
pub fn decode_jpeg(data: &[u8]) -> Result<RgbImage> {
    decode_jpeg_with(data, &DecodeLimits::default())
}

/// [`decode_jpeg`] within `limits`.
pub fn decode_jpeg_with(data: &[u8], limits: &DecodeLimits) -> Result<RgbImage> {
    decode(data, limits).map_err(|f| match f {
        Fail::Refuse(e) => e,
        Fail::Decline(why) => Error::BadImage(format!(
            "the JPEG cannot be decoded the way the reference decoder does: {why}"
        )),
    })
}

/// Bytes a frame will hold at once at the end of decoding: every component's coefficient
/// blocks (kept from the first scan to the last), its decoded sample plane, and the RGB image.
fn frame_bytes(comps: &[Component], mcus_per_column: usize, width: usize, height: usize) -> u64 {
    let per_comp: u64 = comps
        .iter()
        .map(|c| {
            let blocks = (mcus_per_column * c.v * c.blocks_stride) as u64;
            let plane = (c.blocks_per_line * 8 * c.blocks_per_column * 8) as u64;
            blocks * 256 + plane
        })
        .sum();
    per_comp + (width * height * 3) as u64
}

/// [`decode_jpeg_with`], telling files to refuse from files another decoder may handle.
pub(crate) fn decode(data: &[u8], limits: &DecodeLimits) -> R<RgbImage> {
    let mut pos = 0usize;
    let u16_at = |p: usize| -> R<usize> {
        match data.get(p..p + 2) {
            Some(b) => Ok(((b[0] as usize) << 8) | b[1] as usize),
            None => Err(truncated()),
        }
    };
    if u16_at(0)? != 0xFFD8 {
        return Err(invalid("no start-of-image marker"));
    }
    pos += 2;
    let mut qts: Vec<[i32; 64]> = vec![[0; 64]; 4];
    let mut dcs: Vec<Huffman> = vec![Huffman::default(); 4];
    let mut acs: Vec<Huffman> = vec![Huffman::default(); 4];
    let mut frame: Option<Frame> = None;
    let mut reset_interval = 0usize;
    let mut adobe = false;
    let mut scans = 0usize;
    loop {
        let marker = u16_at(pos)?;
        pos += 2;
        match marker {
            0xFFD9 => break,
            0xFF00 => {}
            0xFFE0..=0xFFEF | 0xFFFE => {
                let len = u16_at(pos)?;
                if marker == 0xFFEE && data.get(pos + 2..pos + 8) == Some(b"Adobe\0") {
                    adobe = true;
                }
                pos += len;
            }
            0xFFDB => {
                let len = u16_at(pos)?;
                let end = pos + len;
                pos += 2;
                while pos < end {
                    let spec = *data.get(pos).ok_or_else(truncated)?;
                    pos += 1;
                    if spec & 15 > 3 {
                        return Err(invalid(format!(
                            "quantisation table id {} (JPEG has 0–3)",
                            spec & 15
                        )));
                    }
                    if spec >> 4 > 1 {
                        return Err(invalid(
                            "a quantisation table of neither 8- nor 16-bit values",
                        ));
                    }
                    let mut t = [0i32; 64];
                    for z in ZIGZAG {
                        if spec >> 4 == 0 {
                            t[z] = *data.get(pos).ok_or_else(truncated)? as i32;
                            pos += 1;
                        } else {
                            t[z] = u16_at(pos)? as i32;
                            pos += 2;
                        }
                    }
                    qts[(spec & 3) as usize] = t;
                }
            }
            0xFFC0..=0xFFC2 => {
                if frame.is_some() {
                    return Err(decline("more than one frame"));
                }
                let p = pos + 2;
                let precision = *data.get(p).ok_or_else(truncated)?;
                let height = u16_at(p + 1)?;
                let width = u16_at(p + 3)?;
                let n = *data.get(p + 5).ok_or_else(truncated)? as usize;
                // Everything the allocation below depends on is checked first.
                if width == 0 || height == 0 {
                    return Err(invalid(format!(
                        "the header gives the image a size of {width}×{height} pixels"
                    )));
                }
                match n {
                    1 | 3 => {}
                    4 if adobe => {}
                    4 => {
                        return Err(invalid(
                            "4 colour components without the Adobe marker that says what they are",
                        ));
                    }
                    _ => {
                        return Err(invalid(format!(
                            "{n} colour components (JPEG images have 1, 3, or 4 with an Adobe marker)"
                        )));
                    }
                }
                limits
                    .check_size(width as u64, height as u64)
                    .map_err(Fail::Refuse)?;
                match precision {
                    8 => {}
                    12 => return Err(decline("12-bit samples")),
                    _ => {
                        return Err(invalid(format!(
                            "{precision}-bit samples (JPEG has 8 or 12)"
                        )));
                    }
                }
                if n == 4 {
                    return Err(decline("4 colour components (CMYK or YCCK)"));
                }
                let mut comps: Vec<Component> = Vec::with_capacity(n);
                for i in 0..n {
                    let o = p + 6 + 3 * i;
                    let (id, hv, tq) = match data.get(o..o + 3) {
                        Some(s) => (s[0], s[1], s[2]),
                        None => return Err(truncated()),
                    };
                    let (h, v) = ((hv >> 4) as usize, (hv & 15) as usize);
                    if h == 0 || v == 0 || h > 4 || v > 4 {
                        return Err(invalid(format!(
                            "sampling factors {h}×{v} (JPEG allows 1 to 4)"
                        )));
                    }
                    if tq > 3 {
                        return Err(invalid(format!(
                            "quantisation table id {tq} (JPEG has 0–3)"
                        )));
                    }
                    if comps.iter().any(|c| c.id == id) {
                        return Err(invalid(format!("two colour components with the id {id}")));
                    }
                    comps.push(Component {
                        id,
                        h,
                        v,
                        tq: tq as usize,
                        blocks_per_line: 0,
                        blocks_per_column: 0,
                        blocks_stride: 0,
                        blocks: Vec::new(),
                        pred: 0,
                        dc: 0,
                        ac: 0,
                    });
                }
                let max_h = comps.iter().map(|c| c.h).max().unwrap_or(1);
                let max_v = comps.iter().map(|c| c.v).max().unwrap_or(1);
                let mcus_per_line = width.div_ceil(8 * max_h);
                let mcus_per_column = height.div_ceil(8 * max_v);
                for c in comps.iter_mut() {
                    c.blocks_per_line = (width.div_ceil(8) * c.h).div_ceil(max_h);
                    c.blocks_per_column = (height.div_ceil(8) * c.v).div_ceil(max_v);
                    c.blocks_stride = mcus_per_line * c.h;
                }
                // Within the pixel cap this cannot fail (see `DecodeLimits::SLACK_BYTES`); it
                // keeps the allocation bounded should that reasoning ever stop holding.
                let need = frame_bytes(&comps, mcus_per_column, width, height);
                if need > limits.max_alloc_bytes() {
                    return Err(Fail::Refuse(Error::BadImage(format!(
                        "decoding this {width}×{height} JPEG would take {} MB, more than the \
                         {} MB allowed for images up to {}",
                        need >> 20,
                        limits.max_alloc_bytes() >> 20,
                        megapixels(limits.max_pixels)
                    ))));
                }
                for c in comps.iter_mut() {
                    c.blocks = vec![0; 64 * mcus_per_column * c.v * c.blocks_stride];
                }
                frame = Some(Frame {
                    progressive: marker == 0xFFC2,
                    width,
                    height,
                    comps,
                    max_h,
                    max_v,
                    mcus_per_line,
                    mcus_per_column,
                });
                pos += u16_at(pos)?;
            }
            0xFFC4 => {
                let len = u16_at(pos)?;
                let end = pos + len;
                pos += 2;
                while pos < end {
                    let spec = *data.get(pos).ok_or_else(truncated)?;
                    if spec >> 4 > 1 || spec & 15 > 3 {
                        return Err(invalid(format!(
                            "Huffman table class {} id {} (JPEG has classes 0–1, ids 0–3)",
                            spec >> 4,
                            spec & 15
                        )));
                    }
                    let lengths: [u8; 16] = data
                        .get(pos + 1..pos + 17)
                        .and_then(|s| s.try_into().ok())
                        .ok_or_else(truncated)?;
                    let total: usize = lengths.iter().map(|&l| l as usize).sum();
                    if total > 256 {
                        return Err(invalid(format!(
                            "a Huffman table of {total} codes (at most 256)"
                        )));
                    }
                    let values = data
                        .get(pos + 17..pos + 17 + total)
                        .ok_or_else(truncated)?
                        .to_vec();
                    pos += 17 + total;
                    let table = Huffman::new(&lengths, values);
                    if spec >> 4 == 0 {
                        dcs[(spec & 3) as usize] = table;
                    } else {
                        acs[(spec & 3) as usize] = table;
                    }
                }
            }
            0xFFDD => {
                reset_interval = u16_at(pos + 2)?;
                pos += 4;
            }
            0xFFDC => pos += 4,
            0xFFDA => {
                scans += 1;
                if scans > MAX_SCANS {
                    return Err(invalid(format!("more than {MAX_SCANS} scans")));
                }
                let f = frame
                    .as_mut()
                    .ok_or_else(|| invalid("image data before the frame header"))?;
                let n = *data.get(pos + 2).ok_or_else(truncated)? as usize;
                if n == 0 || n > 4 || n > f.comps.len() {
                    return Err(invalid(format!(
                        "a scan of {n} components (1 to 4, and at most the frame's {})",
                        f.comps.len()
                    )));
                }
                let mut p = pos + 3;
                let mut scan = Vec::with_capacity(n);
                for _ in 0..n {
                    let (id, tables) = match data.get(p..p + 2) {
                        Some(s) => (s[0], s[1]),
                        None => return Err(truncated()),
                    };
                    let ci = f.comps.iter().position(|c| c.id == id).ok_or_else(|| {
                        invalid(format!("a scan of component {id}, which the frame lacks"))
                    })?;
                    if scan.contains(&ci) {
                        return Err(invalid(format!("a scan naming component {id} twice")));
                    }
                    let (dc, ac) = (tables >> 4, tables & 15);
                    if dc > 3 || ac > 3 {
                        return Err(invalid(format!(
                            "Huffman table ids {dc} and {ac} (JPEG has 0–3)"
                        )));
                    }
                    f.comps[ci].dc = dc as usize;
                    f.comps[ci].ac = ac as usize;
                    scan.push(ci);
                    p += 2;
                }
                let (ss, se, a) = match data.get(p..p + 3) {
                    Some(s) => (s[0] as usize, s[1] as usize, s[2]),
                    None => return Err(truncated()),
                };
                p += 3;
                let (ah, al) = ((a >> 4) as u32, (a & 15) as u32);
                // Baseline decoding ignores these, as jpeg-js does.
                if f.progressive && (ss > se || se > 63 || ah > 13 || al > 13) {
                    return Err(invalid(format!(
                        "progressive scan parameters Ss={ss} Se={se} Ah={ah} Al={al}"
                    )));
                }
                let used = decode_scan(
                    data,
                    p,
                    f,
                    &scan,
                    reset_interval,
                    ss,
                    se.min(63),
                    ah,
                    al,
                    &dcs,
                    &acs,
                )?;
                pos = p + used;
            }
            0xFFFF => {
                if data.get(pos) != Some(&0xFF) {
                    pos -= 1;
                }
            }
            _ => return Err(decline(format!("marker {marker:X}"))),
        }
    }
    let f = frame.ok_or_else(|| invalid("no frame header"))?;
    let planes: Vec<(Vec<u8>, usize, f64, f64)> = f
        .comps
        .iter()
        .map(|c| {
            let (pl, spl) = component_plane(c, &qts[c.tq]);
            (
                pl,
                spl,
                c.h as f64 / f.max_h as f64,
                c.v as f64 / f.max_v as f64,
            )
        })
        .collect();
    let (w, h) = (f.width, f.height);
    let mut out = vec![0u8; w * h * 3];
    let sample = |k: usize, x: usize, y: usize| -> f64 {
        let (pl, spl, sx, sy) = &planes[k];
        let (xx, yy) = ((x as f64 * sx) as usize, (y as f64 * sy) as usize);
        pl.get(yy * spl + xx).copied().unwrap_or(0) as f64
    };
    for y in 0..h {
        for x in 0..w {
            let o = (y * w + x) * 3;
            if planes.len() == 1 {
                let v = sample(0, x, y) as u8;
                out[o..o + 3].fill(v);
            } else {
                let (yv, cb, cr) = (sample(0, x, y), sample(1, x, y), sample(2, x, y));
                out[o] = clamp8(yv + 1.402 * (cr - 128.0));
                out[o + 1] = clamp8(yv - 0.3441363 * (cb - 128.0) - 0.71413636 * (cr - 128.0));
                out[o + 2] = clamp8(yv + 1.772 * (cb - 128.0));
            }
        }
    }
    RgbImage::from_raw(w as u32, h as u32, out).ok_or_else(|| invalid("image size"))
}
