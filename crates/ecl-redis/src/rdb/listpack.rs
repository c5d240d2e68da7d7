//! The compact encodings Redis puts inside RDB values: listpack (7.0+ lists, hashes, sets,
//! sorted sets), intset (integer sets) and, read only, the older ziplist.
//!
//! Place in the flow: `rdb::decode_value` calls the decoders when RESTORE or an RDB file
//! brings a payload produced by a real Redis; the RDB file writer calls the encoders. Layouts follow the Redis listpack and intset specifications; every read is
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

/// Builds a listpack blob element by element (the form Redis 7 stores small hashes, sorted
/// sets, list nodes and, from 7.2, small sets in). Strings that are canonical integers are
/// stored in the integer encodings, as Redis does.
pub struct ListpackWriter {
    buf: Vec<u8>,
    count: usize,
}

impl Default for ListpackWriter {
    fn default() -> Self {
        ListpackWriter {
            buf: vec![0; 6],
            count: 0,
        }
    }
}

impl ListpackWriter {
    /// Bytes the finished blob would take now (header, elements, end byte).
    pub fn size(&self) -> usize {
        self.buf.len() + 1
    }

    /// Elements added so far.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Appends one element.
    pub fn push(&mut self, e: &[u8]) {
        let start = self.buf.len();
        match canonical_int(e) {
            Some(v) => self.push_int(v),
            None => self.push_str(e),
        }
        let enc_len = self.buf.len() - start;
        push_backlen(&mut self.buf, enc_len);
        self.count += 1;
    }

    fn push_int(&mut self, v: i64) {
        let b = &mut self.buf;
        if (0..=127).contains(&v) {
            b.push(v as u8);
        } else if (-4096..=4095).contains(&v) {
            let u = (v as u64) & 0x1FFF;
            b.extend_from_slice(&[0xC0 | (u >> 8) as u8, u as u8]);
        } else if i16::try_from(v).is_ok() {
            b.push(0xF1);
            b.extend_from_slice(&(v as i16).to_le_bytes());
        } else if (-(1 << 23)..(1 << 23)).contains(&v) {
            b.push(0xF2);
            b.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        } else if i32::try_from(v).is_ok() {
            b.push(0xF3);
            b.extend_from_slice(&(v as i32).to_le_bytes());
        } else {
            b.push(0xF4);
            b.extend_from_slice(&v.to_le_bytes());
        }
    }

    fn push_str(&mut self, e: &[u8]) {
        let b = &mut self.buf;
        let l = e.len();
        if l < 64 {
            b.push(0x80 | l as u8);
        } else if l < 4096 {
            b.extend_from_slice(&[0xE0 | (l >> 8) as u8, l as u8]);
        } else {
            b.push(0xF0);
            b.extend_from_slice(&(l as u32).to_le_bytes());
        }
        b.extend_from_slice(e);
    }

    /// The finished blob: total size and element count in the header, then the end byte.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(0xFF);
        let total = self.buf.len() as u32;
        self.buf[..4].copy_from_slice(&total.to_le_bytes());
        // Counts past 65534 are stored as 65535 ("unknown, walk the listpack").
        let n = self.count.min(65535) as u16;
        self.buf[4..6].copy_from_slice(&n.to_le_bytes());
        self.buf
    }
}

/// The integer a string spells canonically (no sign on zero, no leading zeros or spaces), the
/// only strings Redis stores as integers.
pub fn canonical_int(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let v = crate::db::string::parse_i64(s)?;
    (crate::db::string::i64_bytes(v) == s).then_some(v)
}

/// The back-length after an element: its encoded length in 7-bit groups, read right to left
/// (the rightmost byte holds the low bits; a set high bit means another byte follows leftwards).
fn push_backlen(b: &mut Vec<u8>, l: usize) {
    let n = backlen_size(l);
    for i in (0..n).rev() {
        let group = ((l >> (7 * i)) & 0x7F) as u8;
        b.push(if i == n - 1 { group } else { group | 0x80 });
    }
}

/// Encodes integers as an intset blob: the narrowest width (2, 4 or 8 bytes) that holds them
/// all, members ascending.
pub fn intset_encode(members: &mut [i64]) -> Vec<u8> {
    intset_encode_wide(members, 2)
}

/// [`intset_encode`] with at least `min_width` bytes per element (an intset never narrows).
pub fn intset_encode_wide(members: &mut [i64], min_width: usize) -> Vec<u8> {
    members.sort_unstable();
    let needed: usize = match (members.first(), members.last()) {
        (Some(&lo), Some(&hi)) if lo >= i64::from(i16::MIN) && hi <= i64::from(i16::MAX) => 2,
        (Some(&lo), Some(&hi)) if lo >= i64::from(i32::MIN) && hi <= i64::from(i32::MAX) => 4,
        (None, _) | (_, None) => 2,
        _ => 8,
    };
    let width = needed.max(min_width);
    let mut b = Vec::with_capacity(8 + width * members.len());
    b.extend_from_slice(&(width as u32).to_le_bytes());
    b.extend_from_slice(&(members.len() as u32).to_le_bytes());
    for m in members.iter() {
        b.extend_from_slice(&m.to_le_bytes()[..width]);
    }
    b
}

/// Decodes a ziplist blob (the compact form of Redis before 7.0, found in RDB 9 files and in
/// quicklist-1 nodes) into its elements.
pub fn ziplist(b: &[u8]) -> Option<Vec<Elem>> {
    let mut p = 10;
    let mut out = Vec::new();
    loop {
        let first = *b.get(p)?;
        if first == 0xFF {
            return Some(out);
        }
        // The previous entry's length: one byte, or 0xFE and four bytes.
        p += if first == 0xFE { 5 } else { 1 };
        let c = *b.get(p)?;
        let (elem, used) = match c >> 6 {
            0 => {
                let l = usize::from(c & 0x3F);
                (Elem::Str(b.get(p + 1..p + 1 + l)?.to_vec()), 1 + l)
            }
            1 => {
                let l = (usize::from(c & 0x3F) << 8) | usize::from(*b.get(p + 1)?);
                (Elem::Str(b.get(p + 2..p + 2 + l)?.to_vec()), 2 + l)
            }
            2 => {
                let l = u32::from_be_bytes(b.get(p + 1..p + 5)?.try_into().ok()?) as usize;
                (Elem::Str(b.get(p + 5..p + 5 + l)?.to_vec()), 5 + l)
            }
            _ => zip_int(b, p, c)?,
        };
        out.push(elem);
        p += used;
    }
}

/// A ziplist integer entry at `p` with encoding byte `c`: (element, bytes used).
fn zip_int(b: &[u8], p: usize, c: u8) -> Option<(Elem, usize)> {
    let int = |n: usize, bits: u32| -> Option<i64> {
        Some(sign_extend(le(b.get(p + 1..p + 1 + n)?), bits))
    };
    Some(match c {
        0xC0 => (Elem::Int(int(2, 16)?), 3),
        0xD0 => (Elem::Int(int(4, 32)?), 5),
        0xE0 => (Elem::Int(int(8, 64)?), 9),
        0xF0 => (Elem::Int(int(3, 24)?), 4),
        0xFE => (Elem::Int(int(1, 8)?), 2),
        0xF1..=0xFD => (Elem::Int(i64::from(c & 0x0F) - 1), 1),
        _ => return None,
    })
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

    #[test]
    fn listpack_writer_round_trips() {
        let items: Vec<Vec<u8>> = vec![
            b"0".to_vec(),
            b"127".to_vec(),
            b"-1".to_vec(),
            b"4095".to_vec(),
            b"-4096".to_vec(),
            b"30000".to_vec(),
            b"-8000000".to_vec(),
            b"2000000000".to_vec(),
            b"-9223372036854775808".to_vec(),
            b"007".to_vec(),
            b"".to_vec(),
            vec![b'x'; 63],
            vec![b'y'; 64],
            vec![b'z'; 4095],
            vec![b'w'; 5000],
        ];
        let mut w = ListpackWriter::default();
        for i in &items {
            w.push(i);
        }
        let blob = w.finish();
        let back: Vec<Vec<u8>> = listpack(&blob)
            .unwrap()
            .into_iter()
            .map(Elem::into_bytes)
            .collect();
        assert_eq!(back, items);
        assert_eq!(
            u32::from_le_bytes(blob[..4].try_into().unwrap()) as usize,
            blob.len()
        );
        let mut ints = vec![5, -70000, 3];
        assert_eq!(
            intset(&intset_encode(&mut ints)).unwrap(),
            vec![-70000, 3, 5]
        );
    }

    #[test]
    fn ziplist_elements() {
        // header (10 bytes), "ab", immediate 7, int16 -300, end.
        let mut zl = vec![0; 10];
        zl.extend_from_slice(&[0, 0x02, b'a', b'b']);
        zl.extend_from_slice(&[4, 0xF8]);
        zl.extend_from_slice(&[2, 0xC0]);
        zl.extend_from_slice(&(-300i16).to_le_bytes());
        zl.push(0xFF);
        assert_eq!(
            ziplist(&zl).unwrap(),
            vec![Elem::Str(b"ab".to_vec()), Elem::Int(7), Elem::Int(-300)]
        );
        assert!(ziplist(&zl[..14]).is_none());
    }
}
