//! memcached's per-prefix statistics (`stats detail on|off|dump`): while collection is on,
//! every get, store and delete of a key holding the delimiter `:` counts under the key's
//! prefix (the bytes before the first `:`), and `stats detail dump` lists the prefixes.
//!
//! Place in the flow: the retrieval, storage and delete handlers of the text and binary
//! protocols (`execute::text`, `execute::binary`) call [`PrefixStats::record`] where memcached
//! counts: a get after its lookup (hit or not), a store as soon as its command is read
//! (whether it then stores or not), a delete before its lookup. Increments, touches and the
//! meta commands are not counted, as in memcached. `stats reset` clears the table. While
//! collection is off (the default) a request pays one relaxed atomic load.
//!
//! The dump lists prefixes in memcached's order: by the MurmurHash3 (memcached's default
//! hash) of the prefix modulo memcached's 256 buckets, the newest first within a bucket.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// The byte that ends a prefix (memcached's default `-D`).
const DELIMITER: u8 = b':';
/// memcached's prefix table has this many buckets; the dump walks them in order.
const BUCKETS: u32 = 256;
/// Prefixes tracked at most: a client inventing a prefix per key cannot grow the table
/// without bound (memcached has no such cap; past it, new prefixes are not counted).
const MAX_PREFIXES: usize = 100_000;

/// What a request did to a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// A retrieval, found or not.
    Get { hit: bool },
    /// A storage command (set, add, replace, append, prepend, cas).
    Set,
    /// A delete.
    Delete,
}

#[derive(Clone, Copy, Default)]
struct Counts {
    gets: u64,
    hits: u64,
    sets: u64,
    deletes: u64,
    /// Creation order: newer prefixes come first in their bucket.
    born: u64,
}

#[derive(Default)]
struct Table {
    prefixes: HashMap<Vec<u8>, Counts>,
    created: u64,
}

/// One node's prefix statistics.
#[derive(Default)]
pub(crate) struct PrefixStats {
    enabled: AtomicBool,
    table: Mutex<Table>,
}

impl PrefixStats {
    /// `stats detail on` / `off`.
    pub(crate) fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
    }

    /// Whether collection is on (`stats settings` shows it as `detail_enabled`).
    pub(crate) fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Counts `event` under the prefix of `key`, when collection is on and the key has one.
    /// Inlined: with collection off (the usual case) a request pays one relaxed load.
    #[inline]
    pub(crate) fn record(&self, key: &[u8], event: Event) {
        if self.enabled() {
            self.record_slow(key, event);
        }
    }

    #[cold]
    fn record_slow(&self, key: &[u8], event: Event) {
        let Some(end) = key.iter().position(|&b| b == DELIMITER) else {
            return;
        };
        let prefix = &key[..end];
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        let table = &mut *table;
        if !table.prefixes.contains_key(prefix) {
            if table.prefixes.len() >= MAX_PREFIXES {
                return;
            }
            table.created += 1;
            let counts = Counts {
                born: table.created,
                ..Counts::default()
            };
            table.prefixes.insert(prefix.to_vec(), counts);
        }
        let Some(counts) = table.prefixes.get_mut(prefix) else {
            return;
        };
        match event {
            Event::Get { hit } => {
                counts.gets += 1;
                counts.hits += u64::from(hit);
            }
            Event::Set => counts.sets += 1,
            Event::Delete => counts.deletes += 1,
        }
    }

    /// `stats reset`: forgets every prefix (collection stays as it was).
    pub(crate) fn clear(&self) {
        *self.table.lock().unwrap_or_else(|p| p.into_inner()) = Table::default();
    }

    /// The `stats detail dump` text: a `PREFIX` line per prefix, then `END`.
    pub(crate) fn dump(&self) -> Vec<u8> {
        // Copied out so that sorting (and hashing every prefix) happens outside the lock the
        // request handlers take.
        let mut rows: Vec<(Vec<u8>, Counts)> = {
            let table = self.table.lock().unwrap_or_else(|p| p.into_inner());
            table
                .prefixes
                .iter()
                .map(|(p, c)| (p.clone(), *c))
                .collect()
        };
        rows.sort_by_cached_key(|(prefix, c)| {
            (murmur3_32(prefix) % BUCKETS, std::cmp::Reverse(c.born))
        });
        let mut out = Vec::new();
        for (prefix, c) in &rows {
            out.extend_from_slice(b"PREFIX ");
            out.extend_from_slice(prefix);
            let line = format!(
                " get {} hit {} set {} del {}\r\n",
                c.gets, c.hits, c.sets, c.deletes
            );
            out.extend_from_slice(line.as_bytes());
        }
        out.extend_from_slice(b"END\r\n");
        out
    }
}

/// MurmurHash3, x86 32-bit variant, seed 0 (Austin Appleby's published algorithm), which
/// memcached uses by default to place a prefix in its table.
fn murmur3_32(data: &[u8]) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let scramble = |k: u32| k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
    let mut h: u32 = 0;
    let mut blocks = data.chunks_exact(4);
    for block in &mut blocks {
        let k = u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
        h ^= scramble(k);
        h = h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        let k = tail
            .iter()
            .enumerate()
            .fold(0u32, |k, (i, &b)| k | u32::from(b) << (8 * i));
        h ^= scramble(k);
    }
    h ^= data.len() as u32;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

#[cfg(test)]
mod tests {
    use super::{Event, PrefixStats, murmur3_32};

    #[test]
    fn murmur3_matches_the_published_test_vectors() {
        assert_eq!(murmur3_32(b""), 0);
        assert_eq!(murmur3_32(b"hello"), 0x248b_fa47);
        assert_eq!(
            murmur3_32(b"The quick brown fox jumps over the lazy dog"),
            0x2e4f_f723
        );
    }

    #[test]
    fn counts_only_while_on_and_only_keys_with_a_prefix() {
        let s = PrefixStats::default();
        s.record(b"foo:1", Event::Set);
        assert_eq!(s.dump(), b"END\r\n");
        s.set_enabled(true);
        s.record(b"foo:1", Event::Set);
        s.record(b"foo:2", Event::Get { hit: false });
        s.record(b"foo:1", Event::Get { hit: true });
        s.record(b"foo:3", Event::Delete);
        s.record(b"plain", Event::Set);
        assert_eq!(s.dump(), b"PREFIX foo get 2 hit 1 set 1 del 1\r\nEND\r\n");
        s.clear();
        assert_eq!(s.dump(), b"END\r\n");
        assert!(s.enabled());
    }
}
