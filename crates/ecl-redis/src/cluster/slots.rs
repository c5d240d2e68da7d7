//! Hash slots: CRC16 (XMODEM) of the key, or of its hash tag, modulo 16384.
//!
//! Place in the flow: `command::route` and `CLUSTER KEYSLOT/COUNTKEYSINSLOT/GETKEYSINSLOT`
//! map keys to slots with [`key_slot`].

/// Number of hash slots.
pub const SLOTS: usize = 16384;

/// CRC16/XMODEM (polynomial 0x1021, initial value 0, no reflection), eight bytes per step
/// ("slicing by 8"): `CRC16_TABLES[k][b]` is the CRC of byte `b` followed by `k` zero bytes,
/// so by linearity a block's CRC is the XOR of one lookup per byte, the running CRC folded
/// into the block's first two bytes. Every keyed command on a cluster-mode node hashes its
/// key; on 10–40-byte keys this runs about a third of the instructions of a byte-at-a-time
/// table. Tables (4 KiB) built at compile time.
const CRC16_TABLES: [[u16; 256]; 8] = {
    let mut t = [[0u16; 256]; 8];
    let mut b = 0;
    while b < 256 {
        let mut c = (b as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 0x8000 != 0 {
                (c << 1) ^ 0x1021
            } else {
                c << 1
            };
            bit += 1;
        }
        t[0][b] = c;
        b += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut b = 0;
        while b < 256 {
            let prev = t[k - 1][b];
            t[k][b] = (prev << 8) ^ t[0][(prev >> 8) as usize];
            b += 1;
        }
        k += 1;
    }
    t
};

/// CRC16/XMODEM of `b`.
fn crc16(b: &[u8]) -> u16 {
    let t = &CRC16_TABLES;
    let mut crc = 0u16;
    let mut blocks = b.chunks_exact(8);
    for w in &mut blocks {
        let [hi, lo] = crc.to_be_bytes();
        crc = t[7][(hi ^ w[0]) as usize]
            ^ t[6][(lo ^ w[1]) as usize]
            ^ t[5][w[2] as usize]
            ^ t[4][w[3] as usize]
            ^ t[3][w[4] as usize]
            ^ t[2][w[5] as usize]
            ^ t[1][w[6] as usize]
            ^ t[0][w[7] as usize];
    }
    (blocks.remainder().iter()).fold(crc, |crc, &x| {
        (crc << 8) ^ t[0][((crc >> 8) as u8 ^ x) as usize]
    })
}

/// Position of the first `{` in `b`, eight bytes at a time (the classic "has zero byte" word
/// test on `word ^ 0x7b7b…`): most keys have no hash tag and are scanned to the end.
fn find_open_brace(b: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut at = 0;
    for w in b.chunks_exact(8) {
        let x = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]])
            ^ (ONES * u64::from(b'{'));
        if x.wrapping_sub(ONES) & !x & HIGHS != 0 {
            break;
        }
        at += 8;
    }
    b[at..].iter().position(|&c| c == b'{').map(|p| at + p)
}

/// The part of a key that is hashed: the content of the first `{…}` if non-empty, else the
/// whole key (Redis' hash-tag rule).
pub fn hash_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = find_open_brace(key)
        && let Some(len) = key[open + 1..].iter().position(|&b| b == b'}')
        && len > 0
    {
        return &key[open + 1..open + 1 + len];
    }
    key
}

/// Slot of a key.
pub fn key_slot(key: &[u8]) -> u16 {
    crc16(hash_tag(key)) & (SLOTS as u16 - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_slots() {
        // Values from the Redis cluster specification and `CLUSTER KEYSLOT` examples.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(crc16(b""), 0);
        assert_eq!(key_slot(b"somekey"), 11058);
        assert_eq!(key_slot(b"foo{hash_tag}"), key_slot(b"hash_tag"));
        assert_eq!(key_slot(b"foo{}{bar}"), key_slot(b"foo{}{bar}"));
        assert_eq!(hash_tag(b"foo{}{bar}"), b"foo{}{bar}");
        assert_eq!(hash_tag(b"foo{{bar}}zap"), b"{bar");
        assert_eq!(hash_tag(b"foo{bar}{zap}"), b"bar");
        assert_eq!(
            hash_tag(b"0123456789abcdef{tag}"),
            b"tag",
            "brace past two words"
        );
        assert_eq!(
            hash_tag(b"01234567{x}"),
            b"x",
            "brace opening the second word"
        );
        assert_eq!(find_open_brace(b"0123456789abcdef"), None);
        for n in 0..40 {
            let mut k = vec![b'a'; n];
            k.push(b'{');
            assert_eq!(find_open_brace(&k), Some(n));
        }
        // Against the crc crate's XMODEM on keys of every length up to 70 bytes.
        let reference = crc::Crc::<u16>::new(&crc::CRC_16_XMODEM);
        let long: Vec<u8> = (0..70u8).map(|i| i.wrapping_mul(37)).collect();
        for n in 0..=long.len() {
            assert_eq!(crc16(&long[..n]), reference.checksum(&long[..n]));
        }
    }
}
