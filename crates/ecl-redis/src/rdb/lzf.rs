//! LZF compression and decompression (the format Redis uses for compressed RDB strings).
//!
//! Place in the flow: RESTORE and RDB loading call [`decompress`] on strings stored with the LZF
//! special encoding; the RDB file writer calls [`Compressor::compress`] on longer strings. Format, as documented for liblzf: a control byte `c`; if `c < 32` a literal
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
/// Bits of the match table index (liblzf's `HLOG` as Redis builds it).
const HLOG: u32 = 16;

/// An LZF compressor whose match table is reused across calls (an RDB file compresses
/// millions of strings; a fresh table per string would cost more than the compression).
///
/// It makes the choices liblzf makes in the configuration Redis builds it with (16-bit table,
/// "very fast" mode), so its output is byte-identical to a real server's: the table is indexed
/// by a hash of the next three bytes, a candidate is taken only if its first three bytes agree,
/// it lies within 8 KiB and is not the very first byte of the input; after a match only the
/// match's last two positions are entered in the table; a match stops two bytes before the end
/// of the input except that a match found with more than 16 bytes left is first checked 16
/// bytes ahead unconditionally (liblzf's unrolled loop), and literals are cut in runs of 32.
pub struct Compressor {
    /// Per hash: `base + position` of the last occurrence (entries from earlier calls are
    /// below `base` and so read as empty, with no clearing between calls).
    table: Vec<u64>,
    base: u64,
}

impl Default for Compressor {
    fn default() -> Self {
        Compressor {
            table: vec![0; 1 << HLOG],
            base: 1,
        }
    }
}

/// liblzf's table index for the three bytes ending `h` (`h` = b0 << 16 | b1 << 8 | b2, with
/// older bytes above them, which the mask drops).
fn slot(h: u32) -> usize {
    ((h >> 8).wrapping_sub(h.wrapping_mul(5)) & ((1 << HLOG) - 1)) as usize
}

/// Output under construction, with liblzf's bounds: `op` counts the byte reserved for the
/// current literal run's control byte.
struct Out {
    buf: Vec<u8>,
    /// Index of the current run's control byte.
    run: usize,
    lit: usize,
}

impl Out {
    fn start_run(&mut self) {
        self.run = self.buf.len();
        self.buf.push(0);
        self.lit = 0;
    }

    fn literal(&mut self, b: u8) {
        self.buf.push(b);
        self.lit += 1;
        if self.lit == MAX_LIT {
            self.buf[self.run] = (MAX_LIT - 1) as u8;
            self.start_run();
        }
    }

    /// Closes the current run (dropping its control byte when it holds no literal).
    fn end_run(&mut self) {
        if self.lit == 0 {
            self.buf.pop();
        } else {
            self.buf[self.run] = (self.lit - 1) as u8;
        }
    }
}

impl Compressor {
    /// Compresses `input` into LZF; `None` when the result would not fit in `max_len` bytes
    /// (the caller then stores the bytes raw, as Redis does for incompressible data).
    pub fn compress(&mut self, input: &[u8], max_len: usize) -> Option<Vec<u8>> {
        let n = input.len();
        if n == 0 || max_len == 0 {
            return None;
        }
        let base = self.base;
        self.base += n as u64 + 1;
        let mut out = Out {
            buf: Vec::with_capacity(max_len.min(n) + 2),
            run: 0,
            lit: 0,
        };
        out.start_run();
        let mut ip = 0usize;
        let mut h = (u32::from(input[0]) << 8) | u32::from(*input.get(1).unwrap_or(&0));
        while ip + 2 < n {
            h = (h << 8) | u32::from(input[ip + 2]);
            let s = slot(h);
            let stored = self.table[s];
            self.table[s] = base + ip as u64;
            let cand = (stored > base).then(|| (stored - base) as usize);
            let found = cand.filter(|&r| {
                r < ip && ip - r - 1 < MAX_OFF && input[r..r + 3] == input[ip..ip + 3]
            });
            let Some(r) = found else {
                // liblzf refuses to write a literal once the output is full.
                if out.buf.len() >= max_len {
                    return None;
                }
                out.literal(input[ip]);
                ip += 1;
                continue;
            };
            let off = ip - r - 1;
            // Conservative room check for the reference (and the next run's control byte).
            if out.buf.len() + 4 >= max_len
                && out.buf.len() - usize::from(out.lit == 0) + 4 >= max_len
            {
                return None;
            }
            let len = match_len(input, r, ip);
            out.end_run();
            let l = len - 2;
            if l < 7 {
                out.buf.push(((l << 5) | (off >> 8)) as u8);
            } else {
                out.buf.push(((7 << 5) | (off >> 8)) as u8);
                out.buf.push((l - 7) as u8);
            }
            out.buf.push(off as u8);
            out.start_run();
            ip += len;
            if ip + 2 >= n {
                break;
            }
            // Only the match's last two positions enter the table ("very fast" mode).
            for p in [ip - 2, ip - 1] {
                h = (u32::from(input[p]) << 16)
                    | (u32::from(input[p + 1]) << 8)
                    | u32::from(input[p + 2]);
                self.table[slot(h)] = base + p as u64;
            }
        }
        if out.buf.len() + 3 > max_len {
            return None;
        }
        while ip < n {
            out.literal(input[ip]);
            ip += 1;
        }
        out.end_run();
        Some(out.buf)
    }
}

/// Length of the match between `input[r..]` and `input[ip..]` (at least 3, already checked),
/// as liblzf measures it: at most `MAX_REF` and two bytes short of the input's end, except that
/// with more than 16 bytes allowed it first compares 16 more bytes without the end check.
fn match_len(input: &[u8], r: usize, ip: usize) -> usize {
    let maxlen = (input.len() - ip - 2).min(MAX_REF);
    let mut len = 2;
    if maxlen > 16 {
        for _ in 0..16 {
            len += 1;
            if input[r + len] != input[ip + len] {
                return len;
            }
        }
    }
    loop {
        len += 1;
        if len >= maxlen || input[r + len] != input[ip + len] {
            return len;
        }
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

    /// liblzf's choices, as redis-server 7.0.15 stores these strings (no reference to the
    /// first byte; a match found with more than 16 bytes left runs to the input's end).
    #[test]
    fn same_output_as_liblzf() {
        let mut z = Compressor::default();
        let x21 = [b'x'; 21];
        assert_eq!(
            z.compress(&x21, 17).unwrap(),
            [1, b'x', b'x', 0xE0, 0x0A, 0]
        );
        let abc = b"abc".repeat(100);
        assert_eq!(
            z.compress(&abc, 296).unwrap(),
            [
                3, b'a', b'b', b'c', b'a', 0xE0, 0xFF, 2, 0xE1, 0x15, 7, 1, b'b', b'c'
            ]
        );
        assert!(z.compress(b"abcdefghijklmnopqrstuvwxyz", 22).is_none());
    }

    #[test]
    fn compress_round_trips() {
        let mut z = Compressor::default();
        let mut rng = 0x1234_5678_u64;
        // (liblzf never refers back to the first byte, so the shortest inputs may stay raw.)
        for len in [32usize, 100, 300, 5000, 70_000] {
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
            let c = z
                .compress(&data, data.len())
                .unwrap_or_else(|| panic!("compressible: {len}"));
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
