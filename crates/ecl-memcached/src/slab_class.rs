//! memcached's slab classes, as a node presents its items: the class an item of a given size
//! would live in under memcached's default layout, and the per-class counters `stats items`
//! reports (evictions, reclaims, unfetched expiries, out-of-memory refusals, crawler work).
//!
//! Place in the flow: a node has no slab allocator, but tools read memory by class (`stats
//! items`, `stats slabs`, `stats cachedump`). The store (`store.rs`) records each eviction,
//! reclaim and crawler visit in [`ClassCounters`] under the class of the item's size when it
//! happens; `execute::stats` walks the items to count them per class and reads the counters.

use std::sync::atomic::{AtomicU64, Ordering};

/// memcached's item header (48 bytes) plus its CAS (8), the key's NUL and the value's CRLF:
/// what memcached accounts an item at, and so the size that picks its class.
const ITEM_EXTRA: usize = 48 + 8 + 1 + 2;

/// memcached has at most this many classes.
pub(crate) const MAX_CLASSES: usize = 64;

/// Chunk sizes of memcached's default classes (96-byte first chunk, factor 1.25, 8-byte
/// alignment) up to the largest class, half the item size limit (at least 1 KiB), in order:
/// the `i`-th is class `i + 1`.
fn chunks(max_item: usize) -> impl Iterator<Item = usize> {
    let limit = (max_item / 2).max(1024);
    let mut next = Some(96usize);
    let mut count = 0;
    std::iter::from_fn(move || {
        let size = next?;
        count += 1;
        if size >= limit || count == MAX_CLASSES {
            next = None;
            return Some(limit);
        }
        next = Some(((size as f64 * 1.25) as usize + 7) & !7);
        Some(size)
    })
}

/// Every class's chunk size (index `i` is class `i + 1`).
pub(crate) fn chunk_sizes(max_item: usize) -> Vec<usize> {
    chunks(max_item).collect()
}

/// Size memcached would account an item at, from its key and value lengths.
pub(crate) fn item_size(key_len: usize, value_len: usize) -> usize {
    ITEM_EXTRA + key_len + value_len
}

/// Index (class id minus one) of the class an item of `size` bytes goes to: the first whose
/// chunk holds it, the largest for bigger items (memcached chains those in chunks of it).
/// Computed without allocating: the store calls it on every eviction.
pub(crate) fn class_index(max_item: usize, size: usize) -> usize {
    let mut last = 0;
    for (i, chunk) in chunks(max_item).enumerate() {
        last = i;
        if size <= chunk {
            return i;
        }
    }
    last
}

/// The per-class counters of `stats items`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClassCounter {
    /// Items evicted while live.
    Evicted,
    /// ... of which had an expiry time.
    EvictedNonzero,
    /// Writes refused for lack of memory (`-M`).
    OutOfMemory,
    /// Expired items whose memory a write took back.
    Reclaimed,
    /// Expired items never fetched.
    ExpiredUnfetched,
    /// Evicted items never fetched.
    EvictedUnfetched,
    /// Expired or flushed items the background sweep removed.
    CrawlerReclaimed,
    /// Items the background sweep looked at.
    CrawlerItemsChecked,
}

/// Number of [`ClassCounter`] variants.
const KINDS: usize = ClassCounter::CrawlerItemsChecked as usize + 1;

/// Counters per slab class, plus each class's `evicted_time` (seconds since the most recently
/// evicted item was last used).
pub(crate) struct ClassCounters {
    counts: Box<[[AtomicU64; KINDS]]>,
    evicted_time: Box<[AtomicU64]>,
}

impl ClassCounters {
    /// All at zero.
    pub(crate) fn new() -> ClassCounters {
        ClassCounters {
            counts: (0..MAX_CLASSES)
                .map(|_| std::array::from_fn(|_| AtomicU64::new(0)))
                .collect(),
            evicted_time: (0..MAX_CLASSES).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Adds one to `counter` of class index `class`.
    pub(crate) fn incr(&self, class: usize, counter: ClassCounter) {
        if let Some(row) = self.counts.get(class) {
            row[counter as usize].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records the idle seconds of an item just evicted from class index `class`.
    pub(crate) fn set_evicted_time(&self, class: usize, idle_secs: u64) {
        if let Some(t) = self.evicted_time.get(class) {
            t.store(idle_secs, Ordering::Relaxed);
        }
    }

    /// `counter` of class index `class`.
    pub(crate) fn get(&self, class: usize, counter: ClassCounter) -> u64 {
        self.counts
            .get(class)
            .map_or(0, |row| row[counter as usize].load(Ordering::Relaxed))
    }

    /// `evicted_time` of class index `class`.
    pub(crate) fn evicted_time(&self, class: usize) -> u64 {
        self.evicted_time
            .get(class)
            .map_or(0, |t| t.load(Ordering::Relaxed))
    }

    /// `stats reset`.
    pub(crate) fn reset(&self) {
        for row in self.counts.iter() {
            for c in row {
                c.store(0, Ordering::Relaxed);
            }
        }
        for t in self.evicted_time.iter() {
            t.store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_layout_and_class_of_a_size() {
        let sizes = chunk_sizes(1 << 20);
        assert_eq!(&sizes[..4], &[96, 120, 152, 192]);
        assert_eq!(*sizes.last().unwrap_or(&0), 512 * 1024);
        assert_eq!(class_index(1 << 20, item_size(1, 1)), 0);
        assert_eq!(class_index(1 << 20, 97), 1);
        assert_eq!(class_index(1 << 20, 10 << 20), sizes.len() - 1);
        assert_eq!(
            chunk_sizes(1024),
            vec![96, 120, 152, 192, 240, 304, 384, 480, 600, 752, 944, 1024]
        );
    }

    #[test]
    fn counters_per_class_and_reset() {
        let c = ClassCounters::new();
        c.incr(3, ClassCounter::Evicted);
        c.set_evicted_time(3, 7);
        assert_eq!(c.get(3, ClassCounter::Evicted), 1);
        assert_eq!(c.evicted_time(3), 7);
        c.incr(MAX_CLASSES + 5, ClassCounter::Evicted);
        c.reset();
        assert_eq!(c.get(3, ClassCounter::Evicted), 0);
    }
}
