//! LZF compression and decompression (the format Redis uses for compressed RDB strings).
//!
//! Place in the flow: RESTORE and RDB loading call [`decompress`] on strings stored with the LZF
//! special encoding; the RDB file writer calls [`compress`] ([`Compressor`]) on longer strings. Format, as documented for liblzf: a control byte `c`; if `c < 32` a literal
//! run of `c + 1` bytes follows; otherwise a back-reference of length `(c >> 5) + 2` (length 7
//! means an extra length byte follows) at distance `((c & 31) << 8) + next + 1`.

/// Decompresses `input` into exactly `out_len` bytes; `None` on malformed input.
pub fn decompress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(out_len.min(64 << 20));
    let mut i = 0;
    while i < input.len() {
        let c = input[i] as usize;
        i += 1;
        if c < 32 {
            let n = c + 1;
            out.extend_from_slice(input.get(i..i + n)?);
            i += n;
        } else {
            let mut len = c >> 5;
            if len == 7 {
                len += *input.get(i)? as usize;
                i += 1;
            }
            len += 2;
            let back = ((c & 31) << 8) + *input.get(i)? as usize + 1;
            i += 1;
            if back > out.len() {
                return None;
            }
            let start = out.len() - back;
            for k in 0..len {
                let b = out[start + k];
                out.push(b);
            }
        }
        if out.len() > out_len {
            return None;
        }
    }
    if out.len() == out_len {
        Some(out)
    } else {
        None
    }
}

/// Longest back-reference the format can express: `7 + 255 + 2` bytes.
const MAX_REF: usize = 264;
/// Farthest a back-reference can point (13-bit offset + 1).
const MAX_OFF: usize = 8192;
/// Longest literal run one control byte covers.
const MAX_LIT: usize = 32;

/// An LZF compressor whose match table is reused across calls (an RDB file compresses
/// millions of strings; a fresh table per string would cost more than the compression).
pub struct Compressor {
    /// Per 3-byte hash: `base + position + 1` of the last occurrence (entries from earlier
    /// calls are below `base` and so read as empty, with no clearing between calls).
    table: Vec<u64>,
    base: u64,
}

impl Default for Compressor {
    fn default() -> Self {
        Compressor {
            table: vec![0; 1 << HBITS],
            base: 0,
        }
    }
}

const HBITS: u32 = 13;

impl Compressor {
    /// Compresses `input` into LZF; `None` when the result would not be smaller than
    /// `max_len` (the caller then stores the bytes raw, as Redis does for incompressible data).
    pub fn compress(&mut self, input: &[u8], max_len: usize) -> Option<Vec<u8>> {
        let base = self.base;
        self.base += input.len() as u64 + 1;
        let mut out = Vec::with_capacity(input.len().min(max_len) + 1);
        let mut lit_start = 0;
        let mut i = 0;
        while i + 2 < input.len() {
            let seq =
                u32::from(input[i]) << 16 | u32::from(input[i + 1]) << 8 | u32::from(input[i + 2]);
            let h = (seq.wrapping_mul(2_654_435_761) >> (32 - HBITS)) as usize;
            let stored = self.table[h];
            self.table[h] = base + i as u64 + 1;
            let cand = (stored > base).then(|| (stored - base - 1) as usize);
            match cand.filter(|&c| i - c <= MAX_OFF && input[c..c + 3] == input[i..i + 3]) {
                Some(c) => {
                    let limit = (input.len() - i).min(MAX_REF);
                    let mut len = 3;
                    while len < limit && input[c + len] == input[i + len] {
                        len += 1;
                    }
                    push_literals(&mut out, &input[lit_start..i]);
                    push_ref(&mut out, len, i - c - 1);
                    i += len;
                    lit_start = i;
                }
                None => i += 1,
            }
            if out.len() >= max_len {
                return None;
            }
        }
        push_literals(&mut out, &input[lit_start..]);
        (out.len() < max_len).then_some(out)
    }
}

fn push_literals(out: &mut Vec<u8>, lit: &[u8]) {
    for run in lit.chunks(MAX_LIT) {
        out.push((run.len() - 1) as u8);
        out.extend_from_slice(run);
    }
}

fn push_ref(out: &mut Vec<u8>, len: usize, off: usize) {
    let l = len - 2;
    let hi = (off >> 8) as u8;
    if l < 7 {
        out.push(((l as u8) << 5) | hi);
    } else {
        out.push((7 << 5) | hi);
        out.push((l - 7) as u8);
    }
    out.push(off as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_and_backref() {
        // "abc" literal, then a back-reference of length 6 at distance 3: "abcabcabc".
        let input = [2, b'a', b'b', b'c', (4 << 5), 2];
        assert_eq!(decompress(&input, 9).unwrap(), b"abcabcabc");
        assert!(decompress(&input, 8).is_none());
        assert!(
            decompress(&[0x20, 5], 3).is_none(),
            "reference before start"
        );
    }

    #[test]
    fn compress_round_trips() {
        let mut z = Compressor::default();
        let mut rng = 0x1234_5678_u64;
        for len in [21usize, 100, 300, 5000, 70_000] {
            // Repetitive text with some noise: compressible, with long and short matches.
            let data: Vec<u8> = (0..len)
                .map(|i| {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    if rng.is_multiple_of(10) {
                        rng as u8
                    } else {
                        b"abcdefgh"[i % 8]
                    }
                })
                .collect();
            let c = z.compress(&data, data.len()).expect("compressible");
            assert!(c.len() < data.len());
            assert_eq!(decompress(&c, data.len()).unwrap(), data);
        }
        let noise: Vec<u8> = (0..64u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        assert!(
            z.compress(&noise, noise.len()).is_none(),
            "incompressible input is refused"
        );
    }
}
