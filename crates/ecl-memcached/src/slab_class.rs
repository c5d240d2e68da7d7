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

/// memcached's largest chunk: half its 1 MiB slab page (`slab_chunk_max`); bigger items are
/// chained from chunks of it.
pub(crate) const SLAB_CHUNK_MAX: usize = 512 * 1024;

/// The largest chunk for an item size limit: [`SLAB_CHUNK_MAX`], or the limit when smaller
/// (memcached refuses a chunk larger than `-I`).
pub(crate) fn chunk_max(max_item: usize) -> usize {
    SLAB_CHUNK_MAX.min(max_item.max(1024))
}

/// Chunk sizes of memcached's default classes, index `i` being class `i + 1`: from 96 bytes
/// (its 48-byte header and 48 bytes of data), each the previous times 1.25 rounded up to 8
/// bytes, while the unrounded product stays under the largest chunk / 1.25; then the largest
/// chunk itself. With 1 MiB items: 39 classes, 96 to 524,288 bytes, as `memcached -vv` lists.
pub(crate) fn chunk_sizes(max_item: usize) -> Vec<usize> {
    let largest = chunk_max(max_item);
    let stop = largest as f64 / 1.25;
    let mut sizes = Vec::new();
    let mut size = 96usize;
    while sizes.len() < MAX_CLASSES - 2 && (size as f64) < stop {
        let aligned = size.div_ceil(8) * 8;
        sizes.push(aligned);
        size = (aligned as f64 * 1.25) as usize;
    }
    sizes.push(largest);
    sizes
}

/// Size memcached would account an item at, from its key and value lengths.
pub(crate) fn item_size(key_len: usize, value_len: usize) -> usize {
    ITEM_EXTRA + key_len + value_len
}

/// Index (class id minus one) in `sizes` ([`chunk_sizes`]) of the class an item of `size`
/// bytes goes to: the first whose chunk holds it, the largest for bigger items.
pub(crate) fn class_in(sizes: &[usize], size: usize) -> usize {
    sizes
        .partition_point(|&chunk| chunk < size)
        .min(sizes.len().saturating_sub(1))
}

/// [`class_in`] for the item size limit `max_item`, from a table kept for the last limit
/// asked about (the store calls this on every eviction; the limit rarely changes).
pub(crate) fn class_index(max_item: usize, size: usize) -> usize {
    thread_local! {
        static TABLE: std::cell::RefCell<(usize, Vec<usize>)> =
            const { std::cell::RefCell::new((0, Vec::new())) };
    }
    TABLE.with(|table| {
        let mut table = table.borrow_mut();
        if table.0 != max_item || table.1.is_empty() {
            *table = (max_item, chunk_sizes(max_item));
        }
        class_in(&table.1, size)
    })
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
        // `memcached -vv` of 1.6.18 with default settings: 39 classes.
        let sizes = chunk_sizes(1 << 20);
        assert_eq!(sizes.len(), 39);
        assert_eq!(&sizes[..4], &[96, 120, 152, 192]);
        assert_eq!(&sizes[36..], &[315_872, 394_840, 524_288]);
        assert_eq!(chunk_sizes(4 << 20), sizes);
        assert_eq!(class_index(1 << 20, item_size(1, 1)), 0);
        assert_eq!(class_index(1 << 20, 96), 0);
        assert_eq!(class_index(1 << 20, 97), 1);
        assert_eq!(class_index(1 << 20, 10 << 20), 38);
        assert_eq!(*chunk_sizes(1024).last().unwrap_or(&0), 1024);
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
