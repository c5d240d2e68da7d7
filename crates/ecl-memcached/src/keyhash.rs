//! The keyed hash of item keys: picks a key's shard and its place in the shard's table.
//!
//! Place in the flow: `store::Store` hashes every key once per request (and again when a
//! table grows or an item is unlinked) with the [`KeyHasher`] it creates at start.
//!
//! Why not std's `RandomState` (SipHash-1-3): it costs about a hundred instructions for a
//! memcached-sized key, on every request. This hash takes one 64 x 64 -> 128-bit multiply per
//! eight key bytes, folding the product's halves together, under two 64-bit keys drawn from
//! std's per-process random seed. It is not a cryptographic PRF: it resists an attacker who
//! cannot observe the node's memory or timing closely enough to learn the keys, which is what
//! a local emulator needs (flooding one table slot with colliding keys would require them).

use std::hash::BuildHasher;

/// Odd constants (digits of pi) that spread the length and the tail into the state.
const P0: u64 = 0x243f_6a88_85a3_08d3;
const P1: u64 = 0x1319_8a2e_0370_7344;
const P2: u64 = 0xa409_3822_299f_31d0;

/// A keyed hash of byte strings, random per store.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeyHasher {
    k0: u64,
    k1: u64,
}

/// The 128-bit product of `a` and `b`, its two halves xor-ed: every input bit reaches many
/// output bits in one multiply.
fn fold(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

impl KeyHasher {
    /// A hasher with keys drawn from std's random seed (different for every store).
    pub(crate) fn new() -> KeyHasher {
        let seed = std::hash::RandomState::new();
        KeyHasher {
            k0: seed.hash_one(P0),
            // An odd multiplier key is never zero.
            k1: seed.hash_one(P1) | 1,
        }
    }

    /// The hash of `key`.
    pub(crate) fn hash(&self, key: &[u8]) -> u64 {
        let mut h = self.k0 ^ fold(key.len() as u64 ^ P0, self.k1);
        let mut words = key.chunks_exact(8);
        for w in &mut words {
            let mut b = [0u8; 8];
            b.copy_from_slice(w);
            h = fold(h ^ u64::from_le_bytes(b), self.k1 ^ P1);
        }
        let tail = words.remainder();
        if !tail.is_empty() {
            let mut b = [0u8; 8];
            b[..tail.len()].copy_from_slice(tail);
            h = fold(h ^ u64::from_le_bytes(b), self.k1 ^ P2);
        }
        fold(h ^ self.k0, self.k1)
    }
}

#[cfg(test)]
mod tests {
    use super::KeyHasher;
    use std::collections::HashSet;

    #[test]
    fn equal_keys_agree_and_near_keys_differ() {
        let h = KeyHasher::new();
        assert_eq!(h.hash(b"key:000001"), h.hash(b"key:000001"));
        // Keys differing in one byte, in the tail or in a full word, or only in length
        // (a zero byte appended), all land on different hashes.
        let mut seen = HashSet::new();
        for i in 0..20_000u32 {
            assert!(seen.insert(h.hash(format!("key:{i:06}").as_bytes())));
        }
        assert_ne!(h.hash(b"abcdefgh"), h.hash(b"abcdefgh\0"));
        assert_ne!(h.hash(b""), h.hash(b"\0"));
    }

    #[test]
    fn sequential_keys_spread_over_shards_and_buckets() {
        // The store takes the shard from bits 32.. and its slot table the home bucket from the
        // low bits, keeping bits 0..32 as the tag that turns other keys away (the bits above
        // a table's home bits do that work): each must spread sequential keys evenly.
        let h = KeyHasher::new();
        let mut shards = [0u32; 16];
        let mut low = [0u32; 16];
        let mut top = [0u32; 128];
        let n = 64_000u32;
        for i in 0..n {
            let v = h.hash(format!("memtier-{i}").as_bytes());
            shards[((v >> 32) & 15) as usize] += 1;
            low[(v & 15) as usize] += 1;
            top[((v >> 25) & 127) as usize] += 1;
        }
        for count in shards.iter().chain(low.iter()) {
            assert!(
                (3_400..=4_600).contains(count),
                "{count} of {n} in one of 16"
            );
        }
        for count in top {
            assert!(
                (300..=700).contains(&count),
                "{count} of {n} in one of 128 tags"
            );
        }
    }

    #[test]
    fn two_stores_hash_differently() {
        let (a, b) = (KeyHasher::new(), KeyHasher::new());
        assert_ne!(a.hash(b"same key"), b.hash(b"same key"));
    }
}
