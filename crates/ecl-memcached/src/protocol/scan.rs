//! Byte scanning for the text and meta parsers: the newline that ends a request line and the
//! space-separated words of a line, eight bytes at a time.
//!
//! Place in the flow: `text::parse` looks for the line end with [`find_byte`] and splits the
//! line into words with [`Words`]; `text::Keys` and `meta` split with [`Words`] too. Why: a
//! request line is scanned several times (newline, tokens, keys), and a byte-at-a-time loop
//! costs a few instructions per byte on every pass, which showed among the largest user-space
//! items per `get` under memaslap (keys of 64 bytes).

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Index of the first `needle` in `hay`.
///
/// Each 8-byte word is xor-ed with the needle repeated, so matching bytes become zero; the
/// classic zero-byte test `(x - 0x01..) & !x & 0x80..` marks them. A borrow can only mark a
/// byte above a real zero byte, so the lowest mark (little-endian: the first byte) is exact.
pub(crate) fn find_byte(hay: &[u8], needle: u8) -> Option<usize> {
    let pattern = LO * u64::from(needle);
    let mut words = hay.chunks_exact(8);
    let mut base = 0;
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        let x = u64::from_le_bytes(b) ^ pattern;
        let zero = x.wrapping_sub(LO) & !x & HI;
        if zero != 0 {
            return Some(base + (zero.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| b == needle)
        .map(|i| base + i)
}

/// The non-empty words of a line separated by spaces (`line.split(' ')` without the empty
/// pieces), each with its offset in the line.
pub(crate) struct Words<'a> {
    line: &'a [u8],
    pos: usize,
}

impl<'a> Words<'a> {
    /// The words of `line`.
    pub(crate) fn new(line: &'a [u8]) -> Words<'a> {
        Words { line, pos: 0 }
    }

    /// The next word and its offset in the line.
    pub(crate) fn next_at(&mut self) -> Option<(usize, &'a [u8])> {
        while self.line.get(self.pos) == Some(&b' ') {
            self.pos += 1;
        }
        let start = self.pos;
        let rest = self.line.get(start..).filter(|r| !r.is_empty())?;
        let len = find_byte(rest, b' ').unwrap_or(rest.len());
        self.pos = start + len;
        Some((start, &rest[..len]))
    }
}

impl<'a> Iterator for Words<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        self.next_at().map(|(_, w)| w)
    }
}

#[cfg(test)]
mod tests {
    use super::{Words, find_byte};

    /// Deterministic pseudo-random bytes drawn from a small alphabet rich in the needles.
    fn lines() -> impl Iterator<Item = Vec<u8>> {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        (0..5_000).map(move |i| {
            let len = i % 97;
            (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    b" \n\ra\x80\xff0"[(x % 7) as usize]
                })
                .collect()
        })
    }

    #[test]
    fn find_byte_agrees_with_position() {
        for line in lines() {
            for needle in [b' ', b'\n', b'\r', 0x80, 0xff, 0x7f, 0] {
                let want = line.iter().position(|&b| b == needle);
                assert_eq!(find_byte(&line, needle), want, "{line:?} {needle}");
            }
        }
    }

    #[test]
    fn words_agree_with_split() {
        for line in lines() {
            let want: Vec<&[u8]> = line
                .split(|&b| b == b' ')
                .filter(|w| !w.is_empty())
                .collect();
            let got: Vec<&[u8]> = Words::new(&line).collect();
            assert_eq!(got, want);
            let mut words = Words::new(&line);
            while let Some((at, w)) = words.next_at() {
                assert_eq!(&line[at..at + w.len()], w);
            }
        }
    }
}
