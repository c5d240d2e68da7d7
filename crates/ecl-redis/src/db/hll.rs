//! HyperLogLog: Redis' `HYLL` string layout (sparse and dense), register updates and the
//! cardinality estimator.
//!
//! Place in the flow: `command/hyperloglog.rs` parses arguments and stores the bytes produced
//! here as plain string values, so GET/SET/DUMP/RESTORE round-trip with Redis. Layout (from
//! Redis' documentation of the format): 16-byte header `"HYLL"`, encoding byte (0 dense,
//! 1 sparse), 3 unused bytes, 8-byte little-endian cached cardinality whose top bit marks it
//! stale; then 16384 six-bit registers (dense, 12288 bytes, little-endian bit packing) or the
//! sparse opcodes ZERO `00xxxxxx`, XZERO `01xxxxxx yyyyyyyy` and VAL `1vvvvvxx`. Elements are
//! hashed with MurmurHash64A (seed 0xadc83b19); the estimator is Ertl's improved raw estimator,
//! as Redis uses since 5.0. PFADD and PFMERGE edit the bytes in place (`db/hll_sparse.rs`);
//! reads decode to a register array.

/// Number of registers (2^14).
pub const REGISTERS: usize = 16384;
const P: u32 = 14;
const Q: u32 = 64 - P;
/// Header bytes before the registers or opcodes.
pub(crate) const HDR: usize = 16;
/// Size of a dense HLL string.
pub const DENSE_SIZE: usize = HDR + REGISTERS * 6 / 8;
/// Encoding byte of a dense HLL.
pub(crate) const DENSE: u8 = 0;
const SPARSE: u8 = 1;
/// The highest register value a sparse VAL opcode holds.
pub(crate) const SPARSE_VAL_MAX: u8 = 32;

/// Why bytes could not be used as a HyperLogLog.
#[derive(Debug, PartialEq, Eq)]
pub enum HllError {
    /// Not an HLL at all (`WRONGTYPE Key is not a valid HyperLogLog string value.`).
    NotHll,
    /// Header fine but the payload is corrupt (`INVALIDOBJ Corrupted HLL object detected`).
    Corrupt,
}

/// A decoded HyperLogLog.
#[derive(Clone, Debug)]
pub struct Hll {
    /// One register per bucket (0..=Q+1).
    pub regs: Vec<u8>,
    /// Whether the source (or result) is dense.
    pub dense: bool,
    /// Cached cardinality, when valid.
    pub cached: Option<u64>,
}

impl Default for Hll {
    fn default() -> Self {
        Hll::new()
    }
}

/// MurmurHash64A over `data` with `seed` (little-endian word reads, as Redis uses).
pub fn murmur64a(data: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (data.len() as u64).wrapping_mul(M);
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let mut k = u64::from_le_bytes(w);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        for (i, b) in rest.iter().enumerate() {
            h ^= u64::from(*b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// Register index and run length (position of the first set bit, 1-based) for an element.
pub fn pattern(elem: &[u8]) -> (usize, u8) {
    let h = murmur64a(elem, 0xadc8_3b19);
    let index = (h & (REGISTERS as u64 - 1)) as usize;
    let rest = (h >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

impl Hll {
    /// All registers zero.
    pub fn new() -> Hll {
        Hll {
            regs: vec![0; REGISTERS],
            dense: false,
            // A new HLL starts with its cached cardinality marked stale, as in Redis.
            cached: None,
        }
    }

    /// Decodes Redis' representation.
    pub fn decode(b: &[u8]) -> Result<Hll, HllError> {
        check_header(b)?;
        let enc = b[4];
        let cached = if b[15] & 0x80 != 0 {
            None
        } else {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[8..16]);
            Some(u64::from_le_bytes(w))
        };
        let mut regs = vec![0u8; REGISTERS];
        match enc {
            DENSE => {
                let p = &b[HDR..];
                for (i, r) in regs.iter_mut().enumerate() {
                    *r = dense_get(p, i);
                }
            }
            SPARSE => {
                let mut idx = 0usize;
                let mut i = HDR;
                while i < b.len() {
                    let op = b[i];
                    let (run, val) = if op & 0xc0 == 0 {
                        i += 1;
                        ((op & 0x3f) as usize + 1, 0)
                    } else if op & 0xc0 == 0x40 {
                        let lo = *b.get(i + 1).ok_or(HllError::Corrupt)?;
                        i += 2;
                        ((((op & 0x3f) as usize) << 8 | lo as usize) + 1, 0)
                    } else {
                        i += 1;
                        ((op & 0x3) as usize + 1, ((op >> 2) & 0x1f) + 1)
                    };
                    if idx + run > REGISTERS {
                        return Err(HllError::Corrupt);
                    }
                    regs[idx..idx + run].fill(val);
                    idx += run;
                }
                if idx != REGISTERS {
                    return Err(HllError::Corrupt);
                }
            }
            _ => return Err(HllError::NotHll),
        }
        Ok(Hll {
            regs,
            dense: enc == DENSE,
            cached,
        })
    }

    /// Adds an element; true when a register changed.
    pub fn add(&mut self, elem: &[u8]) -> bool {
        let (i, n) = pattern(elem);
        if self.regs[i] < n {
            self.regs[i] = n;
            self.cached = None;
            true
        } else {
            false
        }
    }

    /// Register-wise maximum with `o` (PFMERGE / multi-key PFCOUNT).
    pub fn merge(&mut self, o: &Hll) {
        for (a, b) in self.regs.iter_mut().zip(&o.regs) {
            if *b > *a {
                *a = *b;
                self.cached = None;
            }
        }
        if o.dense {
            self.dense = true;
        }
    }

    /// Estimated cardinality (Ertl's improved estimator).
    pub fn count(&self) -> u64 {
        let m = REGISTERS as f64;
        let mut histo = [0u32; 64];
        for &r in &self.regs {
            histo[(r as usize).min(63)] += 1;
        }
        let q = Q as usize;
        let mut z = m * tau((m - f64::from(histo[q + 1])) / m);
        for j in (1..=q).rev() {
            z += f64::from(histo[j]);
            z *= 0.5;
        }
        z += m * sigma(f64::from(histo[0]) / m);
        let alpha = 0.5 / std::f64::consts::LN_2;
        (alpha * m * m / z).round() as u64
    }

    /// Encodes as Redis would store it (sparse when allowed and within `sparse_max`).
    pub fn encode(&self, sparse_max: usize) -> Vec<u8> {
        if !self.dense
            && let Some(s) = self.encode_sparse(sparse_max)
        {
            return s;
        }
        let mut out = self.header(DENSE);
        out.resize(DENSE_SIZE, 0);
        let p = &mut out[HDR..];
        for (i, &r) in self.regs.iter().enumerate() {
            dense_set(p, i, r);
        }
        out
    }

    fn header(&self, enc: u8) -> Vec<u8> {
        let mut out = Vec::with_capacity(DENSE_SIZE);
        out.extend_from_slice(b"HYLL");
        out.extend_from_slice(&[enc, 0, 0, 0]);
        match self.cached {
            Some(c) => out.extend_from_slice(&c.to_le_bytes()),
            None => out.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0x80]),
        }
        out
    }

    fn encode_sparse(&self, max: usize) -> Option<Vec<u8>> {
        let mut out = self.header(SPARSE);
        let mut i = 0;
        while i < REGISTERS {
            let v = self.regs[i];
            let mut j = i;
            while j < REGISTERS && self.regs[j] == v {
                j += 1;
            }
            let mut run = j - i;
            if v == 0 {
                while run > 0 {
                    if run > 64 {
                        let n = run.min(16384) - 1;
                        out.push(0x40 | (n >> 8) as u8);
                        out.push((n & 0xff) as u8);
                        run -= n + 1;
                    } else {
                        out.push((run - 1) as u8);
                        run = 0;
                    }
                }
            } else {
                if v > SPARSE_VAL_MAX {
                    return None;
                }
                while run > 0 {
                    let n = run.min(4);
                    out.push(0x80 | ((v - 1) << 2) | (n as u8 - 1));
                    run -= n;
                }
            }
            if out.len() > max {
                return None;
            }
            i = j;
        }
        Some(out)
    }
}

/// The valid cached cardinality in an HLL header, without decoding the registers.
pub fn cached_count(b: &[u8]) -> Option<u64> {
    if b.len() < HDR || &b[..4] != b"HYLL" || b[4] > SPARSE || b[15] & 0x80 != 0 {
        return None;
    }
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[8..16]);
    Some(u64::from_le_bytes(w))
}

/// What Redis checks before using a string as an HLL: magic, a known encoding, and the exact
/// size of a dense one. The sparse opcodes are read only by the operations that walk them, so
/// a PFADD with no elements answers 0 on a sparse HLL whose payload is corrupt.
pub fn check_header(b: &[u8]) -> Result<(), HllError> {
    if b.len() < HDR || &b[..4] != b"HYLL" {
        return Err(HllError::NotHll);
    }
    match b[4] {
        DENSE if b.len() != DENSE_SIZE => Err(HllError::NotHll),
        DENSE | SPARSE => Ok(()),
        _ => Err(HllError::NotHll),
    }
}

/// Whether `b` is a well-formed dense HLL (updated in place, without decoding).
pub fn is_dense(b: &[u8]) -> bool {
    b.len() == DENSE_SIZE && &b[..4] == b"HYLL" && b[4] == DENSE
}

/// Marks the cached cardinality in the header stale (only its top bit: the other bytes stay,
/// as in Redis).
pub fn mark_stale(b: &mut [u8]) {
    b[15] |= 0x80;
}

/// Writes a freshly computed cardinality into the header (valid again).
pub fn store_cached(b: &mut [u8], n: u64) {
    b[8..HDR].copy_from_slice(&n.to_le_bytes());
}

/// Whether `b` (header already checked) is a sparse HLL.
pub fn is_sparse(b: &[u8]) -> bool {
    b.len() >= HDR && b[4] == SPARSE
}

/// Raises register `index` of the dense HLL `b` to `count` when lower; true when it did.
pub fn dense_raise(b: &mut [u8], index: usize, count: u8) -> bool {
    let p = &mut b[HDR..];
    if dense_get(p, index) < count {
        dense_set(p, index, count);
        true
    } else {
        false
    }
}

fn dense_get(p: &[u8], i: usize) -> u8 {
    let bit = i * 6;
    let (b, s) = (bit / 8, bit % 8);
    let lo = u16::from(p[b]);
    let hi = u16::from(*p.get(b + 1).unwrap_or(&0));
    (((lo | (hi << 8)) >> s) & 0x3f) as u8
}

pub(crate) fn dense_set(p: &mut [u8], i: usize, v: u8) {
    let bit = i * 6;
    let (b, s) = (bit / 8, bit % 8);
    let v = u16::from(v & 0x3f) << s;
    let mask = 0x3fu16 << s;
    p[b] = (p[b] & !(mask as u8)) | (v as u8);
    if b + 1 < p.len() {
        let (m2, v2) = ((mask >> 8) as u8, (v >> 8) as u8);
        p[b + 1] = (p[b + 1] & !m2) | v2;
    }
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let prev = z;
        z += x * y;
        y += y;
        if prev == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let prev = z;
        y *= 0.5;
        z -= (1.0 - x).powi(2) * y;
        if prev == z {
            return z / 3.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_sparse_matches_redis_layout() {
        let h = Hll::new();
        let b = h.encode(3000);
        // Header + one XZERO opcode covering all 16384 registers.
        assert_eq!(&b[..5], b"HYLL\x01");
        assert_eq!(&b[16..], &[0x7f, 0xff]);
        assert_eq!(Hll::decode(&b).map(|h| h.count()), Ok(0));
    }

    #[test]
    fn estimates_within_error_and_roundtrip() {
        let mut h = Hll::new();
        for i in 0..100_000u32 {
            h.add(format!("elem:{i}").as_bytes());
        }
        let c = h.count() as f64;
        assert!((c - 100_000.0).abs() / 100_000.0 < 0.03, "estimate {c}");
        let dense = h.encode(3000);
        assert_eq!(dense.len(), DENSE_SIZE);
        let back = Hll::decode(&dense).unwrap_or_default();
        assert_eq!(back.regs, h.regs);
        assert!(back.dense);
    }

    #[test]
    fn sparse_roundtrip_and_rejects_garbage() {
        let mut h = Hll::new();
        for i in 0..50u32 {
            h.add(&i.to_le_bytes());
        }
        let s = h.encode(3000);
        assert_eq!(s[4], SPARSE);
        let back = Hll::decode(&s).unwrap_or_default();
        assert_eq!(back.regs, h.regs);
        assert_eq!(Hll::decode(b"hello").err(), Some(HllError::NotHll));
        let mut bad = s.clone();
        bad.push(0x3f);
        assert_eq!(Hll::decode(&bad).err(), Some(HllError::Corrupt));
    }

    #[test]
    fn dense_in_place_matches_decoded_updates() {
        let mut h = Hll::new();
        h.dense = true;
        let mut bytes = h.encode(3000);
        assert!(is_dense(&bytes));
        let elems: Vec<Vec<u8>> = (0..2000u32).map(|i| i.to_be_bytes().to_vec()).collect();
        let mut raised = 0;
        for e in &elems {
            let (i, n) = pattern(e);
            raised += usize::from(dense_raise(&mut bytes, i, n));
            h.add(e);
        }
        assert!(raised > 0);
        assert!(elems.iter().all(|e| {
            let (i, n) = pattern(e);
            !dense_raise(&mut bytes, i, n)
        }));
        assert_eq!(Hll::decode(&bytes).map(|d| d.regs), Ok(h.regs));
    }

    #[test]
    fn murmur_is_stable() {
        assert_ne!(murmur64a(b"a", 1), murmur64a(b"b", 1));
        assert_eq!(murmur64a(b"", 0), 0);
    }
}
