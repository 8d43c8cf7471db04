//! Hand-built image files for the decoding tests: hostile headers need bytes no encoder
//! writes, so they are assembled here segment by segment instead of kept as fixtures.
#![allow(dead_code)]

/// A marker segment: `FF marker`, big-endian length (counting itself), body.
pub fn segment(marker: u8, body: &[u8]) -> Vec<u8> {
    let mut s = vec![0xFF, marker];
    s.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
    s.extend_from_slice(body);
    s
}

/// A quantisation table of ones, 8-bit, under table spec byte `spec`.
pub fn dqt(spec: u8) -> Vec<u8> {
    let mut body = vec![spec];
    body.extend_from_slice(&[1; 64]);
    segment(0xDB, &body)
}

/// A Huffman table with one 1-bit code, `0`, for the value 0: as DC that is "no change", as AC
/// "end of block", so every block costs two zero bits and decodes to flat grey.
pub fn dht(spec: u8) -> Vec<u8> {
    let mut body = vec![spec, 1];
    body.extend_from_slice(&[0; 15]);
    body.push(0);
    segment(0xC4, &body)
}

/// A baseline frame header (SOF0) with `(id, sampling h<<4|v, quantisation table)` per
/// component.
pub fn sof(precision: u8, width: u16, height: u16, comps: &[(u8, u8, u8)]) -> Vec<u8> {
    let mut body = vec![precision];
    body.extend_from_slice(&height.to_be_bytes());
    body.extend_from_slice(&width.to_be_bytes());
    body.push(comps.len() as u8);
    for &(id, hv, tq) in comps {
        body.extend_from_slice(&[id, hv, tq]);
    }
    segment(0xC0, &body)
}

/// A scan header over `(component id, DC table << 4 | AC table)`; the scan data follows it.
pub fn sos(comps: &[(u8, u8)]) -> Vec<u8> {
    let mut body = vec![comps.len() as u8];
    for &(id, tables) in comps {
        body.extend_from_slice(&[id, tables]);
    }
    body.extend_from_slice(&[0, 63, 0]);
    segment(0xDA, &body)
}

/// The Adobe APP14 segment that makes 4 components CMYK.
pub fn adobe() -> Vec<u8> {
    segment(0xEE, b"Adobe\0\x64\0\0\0\0\0")
}

/// SOI + the given segments, as one file.
pub fn file(parts: &[Vec<u8>]) -> Vec<u8> {
    let mut f = vec![0xFF, 0xD8];
    for p in parts {
        f.extend_from_slice(p);
    }
    f
}

/// Components `0..n`, 1×1 sampling, table 0.
pub fn comps(n: usize) -> Vec<(u8, u8, u8)> {
    (0..n).map(|i| (i as u8, 0x11, 0)).collect()
}

/// The headers of an `n`-component `width`×`height` baseline JPEG, up to and including the
/// scan header, ready for scan data.
pub fn headers(width: u16, height: u16, n: usize) -> Vec<u8> {
    let c = comps(n);
    let scan: Vec<(u8, u8)> = c.iter().map(|&(id, _, _)| (id, 0x00)).collect();
    file(&[
        dqt(0),
        dht(0x00),
        dht(0x10),
        sof(8, width, height, &c),
        sos(&scan),
    ])
}

/// A complete, valid flat-grey JPEG: two zero bits per block, then EOI.
pub fn grey(width: u16, height: u16, n: usize) -> Vec<u8> {
    let blocks = (width as usize).div_ceil(8) * (height as usize).div_ceil(8) * n;
    let mut f = headers(width, height, n);
    f.resize(f.len() + (2 * blocks).div_ceil(8), 0);
    f.extend_from_slice(&[0xFF, 0xD9]);
    f
}

/// The file from the report: 255 components of 10000×10000, a scan over all of them, and no
/// scan data at all.
pub fn reported_bomb() -> Vec<u8> {
    headers(10_000, 10_000, 255)
}

/// A PNG whose header declares `width`×`height` RGB8 but whose data is one tiny zlib stream.
pub fn png_bomb(width: u32, height: u32) -> Vec<u8> {
    use std::io::Write;
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], body: &[u8]) {
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(body);
        out.extend_from_slice(&crc.sum().to_be_bytes());
    }
    let mut f = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut f, b"IHDR", &ihdr);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(&[0; 4096]).unwrap();
    chunk(&mut f, b"IDAT", &z.finish().unwrap());
    chunk(&mut f, b"IEND", &[]);
    f
}
