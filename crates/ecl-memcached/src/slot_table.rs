//! The hash index of one store shard: from a key's hash to the item's slot in the shard's
//! entries.
//!
//! Place in the flow: `store::Shard` owns one; `ShardGuard::find` probes it on every request
//! with a key, `insert` and `unlink` keep it in step with the entries.
//!
//! Why not a general hash table (hashbrown's, which this replaced): there a lookup reads a
//! control-byte group and then the bucket, two cache lines far apart once a shard holds more
//! than a few thousand items, and a memcached get is mostly cache misses (perf under memaslap's
//! 10-key multi-get put a third of the engine's own time in the lookup, on exactly those two
//! loads and the entry's). Here a bucket is one `u64`: 32 bits of the hash beside the slot,
//! probed linearly, so a lookup usually reads one cache line before the entry. The stored hash
//! bits also let the table grow without reading a single key (a general table re-hashes every
//! key on growth, a cache miss per item), and they turn away all but about one in 2^(32 - log2
//! buckets) of the other keys met on the way without a key comparison.

/// An empty bucket. A used one holds `slot + 1` in its low half, so it is never zero.
const EMPTY: u64 = 0;

/// Buckets of a new table (a power of two).
const MIN_BUCKETS: usize = 16;

/// Bytes of table one item costs on average: a bucket of 8 bytes at a load between 3/8 (just
/// grown) and 3/4 (about to grow), for the store's per-item memory accounting.
pub(crate) const BYTES_PER_ITEM: usize = 14;

/// Maps 64-bit key hashes to `u32` slots. Keys are not stored: a lookup confirms a candidate
/// slot with the caller's comparison.
#[derive(Default)]
pub(crate) struct SlotTable {
    /// `(hash's low 32 bits) << 32 | (slot + 1)`, or [`EMPTY`]; a power of two long, or empty.
    buckets: Box<[u64]>,
    len: usize,
}

/// The part of `hash` kept in a bucket; its low bits choose the home bucket. (The store picks
/// a key's shard from the high half, so these bits still vary inside one shard.)
fn tag(hash: u64) -> u32 {
    hash as u32
}

fn slot_of(bucket: u64) -> u32 {
    (bucket as u32).wrapping_sub(1)
}

fn tag_of(bucket: u64) -> u32 {
    (bucket >> 32) as u32
}

impl SlotTable {
    /// An empty table (allocates on the first insert).
    pub(crate) fn new() -> SlotTable {
        SlotTable::default()
    }

    /// Slots in the table.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn mask(&self) -> usize {
        self.buckets.len().wrapping_sub(1)
    }

    /// The slot stored under `hash` for which `is_key(slot)` holds.
    pub(crate) fn find(&self, hash: u64, mut is_key: impl FnMut(u32) -> bool) -> Option<u32> {
        if self.buckets.is_empty() {
            return None;
        }
        let (tag, mask) = (tag(hash), self.mask());
        let mut i = tag as usize & mask;
        loop {
            let b = self.buckets[i];
            if b == EMPTY {
                return None;
            }
            if tag_of(b) == tag && is_key(slot_of(b)) {
                return Some(slot_of(b));
            }
            i = (i + 1) & mask;
        }
    }

    /// Adds `slot` under `hash`; the caller guarantees the key is not in the table yet.
    pub(crate) fn insert(&mut self, hash: u64, slot: u32) {
        // Grow at three quarters full: linear probing's runs lengthen quickly beyond.
        if (self.len + 1) * 4 > self.buckets.len() * 3 {
            self.grow();
        }
        self.place(tag(hash), slot);
        self.len += 1;
    }

    /// Writes a bucket for `(tag, slot)` at the first free place from its home.
    fn place(&mut self, tag: u32, slot: u32) {
        let mask = self.mask();
        let mut i = tag as usize & mask;
        while self.buckets[i] != EMPTY {
            i = (i + 1) & mask;
        }
        self.buckets[i] = (u64::from(tag) << 32) | u64::from(slot.wrapping_add(1));
    }

    /// Doubles the buckets, placing every entry again from its stored tag.
    fn grow(&mut self) {
        let size = (self.buckets.len() * 2).max(MIN_BUCKETS);
        let old = std::mem::replace(&mut self.buckets, vec![EMPTY; size].into_boxed_slice());
        for b in old.iter().copied().filter(|&b| b != EMPTY) {
            self.place(tag_of(b), slot_of(b));
        }
    }

    /// Removes `slot`, stored under `hash`. False when it is not there.
    pub(crate) fn remove(&mut self, hash: u64, slot: u32) -> bool {
        let Some(mut hole) = self.find_bucket(hash, slot) else {
            return false;
        };
        // Backward-shift deletion: later members of the run whose home is not between the hole
        // and themselves move into the hole, so every lookup still finds its entry without
        // crossing an empty bucket (no tombstones to clean up later).
        let mask = self.mask();
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let b = self.buckets[j];
            if b == EMPTY {
                break;
            }
            let home = tag_of(b) as usize & mask;
            if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(hole) & mask) {
                self.buckets[hole] = b;
                hole = j;
            }
        }
        self.buckets[hole] = EMPTY;
        self.len -= 1;
        true
    }

    /// The bucket holding `slot` under `hash`.
    fn find_bucket(&self, hash: u64, slot: u32) -> Option<usize> {
        if self.buckets.is_empty() {
            return None;
        }
        let mask = self.mask();
        let want = (u64::from(tag(hash)) << 32) | u64::from(slot.wrapping_add(1));
        let mut i = tag(hash) as usize & mask;
        loop {
            match self.buckets[i] {
                EMPTY => return None,
                b if b == want => return Some(i),
                _ => i = (i + 1) & mask,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Rng;
    use std::collections::HashMap;

    /// Random inserts, removals and lookups against a `HashMap` model. Hashes come from a
    /// small set of home buckets and tags, so runs are long, wrap around the end, and many
    /// keys share a tag (the comparison must tell them apart).
    #[test]
    fn agrees_with_a_map_under_collisions() {
        for (spread, rounds) in [(8u64, 4_000), (64, 20_000), (u64::MAX, 20_000)] {
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ spread);
            let mut table = SlotTable::new();
            // key -> (hash, slot), and slot -> key for the comparison.
            let mut model: HashMap<u64, (u64, u32)> = HashMap::new();
            let mut key_of: HashMap<u32, u64> = HashMap::new();
            let mut next_slot = 0u32;
            for _ in 0..rounds {
                let key = rng.next() % 3_000;
                // Low bits (home and tag) from a few values; high bits from the key.
                let hash = (key << 40) | ((key.wrapping_mul(0x9e37_79b9) % spread) & 0xffff_ffff);
                let found = table.find(hash, |s| key_of.get(&s) == Some(&key));
                assert_eq!(found, model.get(&key).map(|&(_, s)| s));
                match (found, rng.next() % 3) {
                    (Some(slot), 0) => {
                        assert!(table.remove(hash, slot));
                        assert!(!table.remove(hash, slot));
                        model.remove(&key);
                        key_of.remove(&slot);
                    }
                    (None, _) => {
                        table.insert(hash, next_slot);
                        model.insert(key, (hash, next_slot));
                        key_of.insert(next_slot, key);
                        next_slot += 1;
                    }
                    _ => {}
                }
                assert_eq!(table.len(), model.len());
            }
            // Everything left is still found, through growths and shifts.
            for &(hash, slot) in model.values() {
                assert_eq!(table.find(hash, |s| s == slot), Some(slot));
            }
        }
    }

    #[test]
    fn empty_table_finds_and_removes_nothing() {
        let mut table = SlotTable::new();
        assert_eq!(table.find(7, |_| true), None);
        assert!(!table.remove(7, 0));
        table.insert(7, 0);
        assert_eq!(table.find(7, |s| s == 0), Some(0));
        assert_eq!(table.find(8, |_| true), None);
    }
}
