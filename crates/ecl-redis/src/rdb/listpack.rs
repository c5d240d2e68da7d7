//! Decoders for the compact encodings real Redis puts inside DUMP payloads: listpack (7.0+
//! lists, hashes, sets, sorted sets) and intset (integer sets).
//!
//! Place in the flow: `rdb::decode_value` calls these when RESTORE receives a payload produced
//! by a real Redis. Layouts follow the Redis listpack and intset specifications; every read is
//! bounds-checked so a hostile payload yields `None`, never a panic.

/// One listpack element.
#[derive(Clone, Debug, PartialEq)]
pub enum Elem {
    /// A string element.
    Str(Vec<u8>),
    /// An integer element.
    Int(i64),
}

impl Elem {
    /// The element as bytes (integers in decimal).
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Elem::Str(s) => s,
            Elem::Int(i) => crate::db::string::i64_bytes(i),
        }
    }
}

fn backlen_size(l: usize) -> usize {
    match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

fn le(b: &[u8]) -> u64 {
    b.iter().rev().fold(0u64, |a, &x| (a << 8) | u64::from(x))
}

fn sign_extend(v: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

/// Decodes a listpack blob into its elements.
pub fn listpack(b: &[u8]) -> Option<Vec<Elem>> {
    if b.len() < 7 {
        return None;
    }
    let mut p = 6;
    let mut out = Vec::new();
    loop {
        let c = *b.get(p)?;
        if c == 0xFF {
            return Some(out);
        }
        let (elem, enc_len) = if c & 0x80 == 0 {
            (Elem::Int(i64::from(c & 0x7F)), 1)
        } else if c & 0xC0 == 0x80 {
            let l = (c & 0x3F) as usize;
            (Elem::Str(b.get(p + 1..p + 1 + l)?.to_vec()), 1 + l)
        } else if c & 0xE0 == 0xC0 {
            let v = (u64::from(c & 0x1F) << 8) | u64::from(*b.get(p + 1)?);
            (Elem::Int(sign_extend(v, 13)), 2)
        } else if c & 0xF0 == 0xE0 {
            let l = ((usize::from(c & 0x0F)) << 8) | usize::from(*b.get(p + 1)?);
            (Elem::Str(b.get(p + 2..p + 2 + l)?.to_vec()), 2 + l)
        } else {
            match c {
                0xF0 => {
                    let l = le(b.get(p + 1..p + 5)?) as usize;
                    (Elem::Str(b.get(p + 5..p + 5 + l)?.to_vec()), 5 + l)
                }
                0xF1 => (Elem::Int(sign_extend(le(b.get(p + 1..p + 3)?), 16)), 3),
                0xF2 => (Elem::Int(sign_extend(le(b.get(p + 1..p + 4)?), 24)), 4),
                0xF3 => (Elem::Int(sign_extend(le(b.get(p + 1..p + 5)?), 32)), 5),
                0xF4 => (Elem::Int(le(b.get(p + 1..p + 9)?) as i64), 9),
                _ => return None,
            }
        };
        out.push(elem);
        p += enc_len + backlen_size(enc_len);
    }
}

/// Decodes an intset blob.
pub fn intset(b: &[u8]) -> Option<Vec<i64>> {
    let width = le(b.get(0..4)?) as usize;
    let n = le(b.get(4..8)?) as usize;
    if !matches!(width, 2 | 4 | 8) {
        return None;
    }
    let mut out = Vec::with_capacity(n.min(1 << 16));
    for i in 0..n {
        let s = 8 + i * width;
        out.push(sign_extend(le(b.get(s..s + width)?), (width * 8) as u32));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listpack_elements() {
        // header (6 bytes), 7-bit uint 5, 6-bit string "ab", 13-bit int -2, end.
        let mut lp = vec![0, 0, 0, 0, 3, 0];
        lp.extend_from_slice(&[0x05, 1]);
        lp.extend_from_slice(&[0x82, b'a', b'b', 3]);
        lp.extend_from_slice(&[0xDF, 0xFE, 2]);
        lp.push(0xFF);
        assert_eq!(
            listpack(&lp).unwrap(),
            vec![Elem::Int(5), Elem::Str(b"ab".to_vec()), Elem::Int(-2)]
        );
        assert!(listpack(&lp[..9]).is_none());
    }

    #[test]
    fn intsets() {
        let b = [2, 0, 0, 0, 2, 0, 0, 0, 0xFF, 0xFF, 7, 0];
        assert_eq!(intset(&b).unwrap(), vec![-1, 7]);
        assert!(intset(&b[..10]).is_none());
    }
}
