//! LZF decompression (the format Redis uses for compressed RDB strings).
//!
//! Place in the flow: RESTORE and RDB loading call [`decompress`] on strings stored with the LZF
//! special encoding. Format, as documented for liblzf: a control byte `c`; if `c < 32` a literal
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
}
