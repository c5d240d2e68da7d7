//! The item store of one node: sharded hash tables, a byte budget with LRU eviction, CAS
//! counters, lazy expiry, delayed flush and the background reaper's sweep.
//!
//! Place in the flow: protocol handlers (`protocol::text`, `meta`, `binary`) hash a key, lock
//! its shard through [`Store::lock`] and work on the [`ShardGuard`]; nothing else holds the
//! lock, and no lock is held across an `.await`. There is no global lock: each shard has its
//! own mutex, table and LRU list, and the only shared atomics are the byte total and the CAS
//! counter.
//!
//! Memory: an item costs its key and value bytes plus [`ITEM_OVERHEAD`] (its slot, its table
//! slot, the allocator's header), counted honestly against `memory_limit`. After a write the
//! shard evicts its own least recently used items until the node is within budget, and if it
//! has none left it evicts from the other shards. With `error_on_memory_exhausted` a write that
//! does not fit (after reclaiming expired items) is refused instead.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::keyhash::KeyHasher;
use crate::slab_class::{self, ClassCounter, ClassCounters};
use crate::slot_table::{self, SlotTable};
use crate::stats::{Counter, Counters};
use crate::watch::{self, LogHub, Lookup};

/// Keys [`Store::warm`] reads at once: a multi-key get warms its keys in groups of this many.
pub(crate) const WARM_KEYS: usize = 16;

/// "No slot" in the LRU links and the free list.
const NIL: u32 = u32::MAX;

/// Memcached's item header (48 bytes) as used by its item-size check.
const MEMCACHED_ITEM_HEADER: usize = 48;

/// Relative expiry times above this are absolute Unix times (30 days, as memcached).
pub(crate) const REALTIME_MAXDELTA: i64 = 60 * 60 * 24 * 30;

/// Item flag: fetched at least once since stored.
const FETCHED: u8 = 1;
/// Item flag: marked stale by a meta invalidation.
const STALE: u8 = 2;
/// Item flag: a meta "win" token was handed out for it.
const WIN_SENT: u8 = 4;

/// Bytes one item costs beyond its key and value: its slot in the shard, its table entry
/// (index plus control byte), and a typical allocator header for its data block.
pub(crate) const ITEM_OVERHEAD: usize =
    std::mem::size_of::<Entry>() + slot_table::BYTES_PER_ITEM + 16;

/// One stored item. Key and value share one allocation.
struct Entry {
    data: Box<[u8]>,
    cas: u64,
    flags: u32,
    /// Absolute expiry (Unix seconds); 0 = never.
    exptime: u32,
    /// Last access or update (Unix seconds).
    atime: u32,
    prev: u32,
    next: u32,
    key_len: u8,
    bits: u8,
}

impl Entry {
    fn key(&self) -> &[u8] {
        &self.data[..self.key_len as usize]
    }
    fn value(&self) -> &[u8] {
        &self.data[self.key_len as usize..]
    }
    fn cost(&self) -> u64 {
        (self.data.len() + ITEM_OVERHEAD) as u64
    }
    fn is_free(&self) -> bool {
        self.key_len == 0
    }
}

/// The clock of a node: Unix seconds, with an offset tests can move forward.
pub(crate) struct Clock {
    offset: AtomicI64,
    started: u32,
}

impl Clock {
    fn new() -> Clock {
        let mut c = Clock {
            offset: AtomicI64::new(0),
            started: 0,
        };
        c.started = c.now().saturating_sub(2);
        c
    }

    /// Current Unix time in seconds as the node sees it.
    pub(crate) fn now(&self) -> u32 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0) as i64;
        (real + self.offset.load(Ordering::Relaxed)).clamp(0, u32::MAX as i64) as u32
    }

    /// Unix time the node started (a little before, as memcached does, so that an absolute
    /// expiry of "now" is in the future of the start).
    pub(crate) fn started(&self) -> u32 {
        self.started
    }

    /// Moves the clock forward (tests and emulated time only).
    pub(crate) fn advance(&self, secs: i64) {
        self.offset.fetch_add(secs, Ordering::Relaxed);
    }

    /// Converts a protocol exptime to an absolute expiry: 0 never, negative already expired,
    /// up to 30 days relative, above that absolute Unix time (in the past = expired).
    pub(crate) fn expiry(&self, exptime: i64) -> u32 {
        if exptime == 0 {
            0
        } else if exptime < 0 {
            1
        } else if exptime <= REALTIME_MAXDELTA {
            (self.now() as i64 + exptime).min(u32::MAX as i64) as u32
        } else if exptime <= self.started as i64 {
            1
        } else {
            exptime.min(u32::MAX as i64) as u32
        }
    }

    /// The meta `t` flag (mg, ma): -1 for never, else memcached's relative expiry minus its
    /// clock as an unsigned 32-bit number, so an item given a TTL already past (`N-1`, `T-1`)
    /// reads as a huge value. memcached counts from 60 s before our `started` (its
    /// `process_started`) and keeps an already-expired item at relative time 1.
    pub(crate) fn ttl_flag(&self, exptime: u32) -> i64 {
        if exptime == 0 {
            return -1;
        }
        let origin = i64::from(self.started) - 60;
        let rel = if exptime == 1 {
            1
        } else {
            i64::from(exptime) - origin
        };
        (rel - (i64::from(self.now()) - origin)).rem_euclid(1 << 32)
    }

    /// Remaining TTL (`me` reports its negation): -1 for never.
    pub(crate) fn ttl(&self, exptime: u32) -> i64 {
        if exptime == 0 {
            -1
        } else {
            exptime as i64 - self.now() as i64
        }
    }
}

/// Settings of a node that the store consults and that can change at runtime.
pub(crate) struct StoreSettings {
    /// Byte budget.
    pub(crate) memory_limit: AtomicU64,
    /// Largest item (memcached `-I`).
    pub(crate) max_item_size: AtomicUsize,
    /// CAS disabled (`-C`): every item reports CAS 0.
    pub(crate) cas_disabled: AtomicBool,
    /// Refuse writes instead of evicting (`-M`).
    pub(crate) no_evict: AtomicBool,
}

/// Read-only view of an item handed to protocol code under the shard lock.
pub(crate) struct ItemView<'a> {
    /// The key.
    pub(crate) key: &'a [u8],
    /// The value.
    pub(crate) value: &'a [u8],
    /// Client flags.
    pub(crate) flags: u32,
    /// Absolute expiry, 0 = never.
    pub(crate) exptime: u32,
    /// CAS unique.
    pub(crate) cas: u64,
    /// Last access (Unix seconds) before this request.
    pub(crate) atime: u32,
    /// Fetched before this request.
    pub(crate) fetched: bool,
    /// Marked stale by a meta invalidation.
    pub(crate) stale: bool,
    /// A win token was handed out already.
    pub(crate) win_sent: bool,
}

impl ItemView<'_> {
    /// The item's state bits (fetched, stale, win sent), for a rewrite that keeps them.
    pub(crate) fn bits(&self) -> u8 {
        (if self.fetched { FETCHED } else { 0 })
            | (if self.stale { STALE } else { 0 })
            | (if self.win_sent { WIN_SENT } else { 0 })
    }
}

/// Why an item could not be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoreError {
    /// Bigger than `max_item_size`.
    TooLarge,
    /// No room within the budget (`-M`, or bigger than the whole cache).
    NoMemory,
}

/// A new item to write.
pub(crate) struct NewItem<'a> {
    pub(crate) flags: u32,
    pub(crate) exptime: u32,
    /// Value parts, concatenated (append/prepend write old and new parts).
    pub(crate) parts: [&'a [u8]; 2],
    /// CAS to use instead of a fresh one (meta `E`).
    pub(crate) cas: Option<u64>,
    /// Carry these item bits (meta stale/win states) to the new item.
    pub(crate) bits: u8,
    /// The old item rewritten where it is, as memcached rewrites an incr/decr result that fits
    /// in the old value: not a new item for `total_items`.
    pub(crate) in_place: bool,
}

struct Shard {
    table: SlotTable,
    entries: Vec<Entry>,
    free: u32,
    head: u32,
    tail: u32,
    /// Reaper position in `entries`.
    cursor: usize,
}

/// The sharded item store of one node.
pub(crate) struct Store {
    shards: Box<[Mutex<Shard>]>,
    /// Keyed hash of the keys (see `keyhash` for why not SipHash).
    hasher: KeyHasher,
    used: AtomicU64,
    items: AtomicU64,
    cas: AtomicU64,
    /// Pending delayed flush (Unix seconds); 0 = none.
    flush_at: AtomicU32,
    /// Node clock.
    pub(crate) clock: Clock,
    /// Runtime settings.
    pub(crate) settings: StoreSettings,
    /// Counters of the node.
    pub(crate) counters: Counters,
    /// Counters of the node by slab class (`stats items`).
    pub(crate) classes: ClassCounters,
    /// The node's log watchers (`watch`): lookups and evictions are logged here.
    pub(crate) log: LogHub,
}

/// A locked shard, positioned on one key.
pub(crate) struct ShardGuard<'a> {
    store: &'a Store,
    shard: Option<MutexGuard<'a, Shard>>,
    index: usize,
    hash: u64,
    now: u32,
    /// Set when a write pushed the node over budget: evict from other shards on drop.
    over_budget: bool,
}

/// A live item as [`Store::walk_from`] shows it.
pub(crate) struct LiveItem<'a> {
    pub(crate) key: &'a [u8],
    pub(crate) value_len: usize,
    /// Absolute expiry (Unix seconds), 0 = never.
    pub(crate) exptime: u32,
    /// Last access (Unix seconds).
    pub(crate) atime: u32,
    pub(crate) cas: u64,
    /// Fetched since stored.
    pub(crate) fetched: bool,
}

/// Slot of an item inside a locked shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Slot(u32);

impl Store {
    /// An empty store.
    pub(crate) fn new(
        memory_limit: u64,
        max_item_size: usize,
        cas_disabled: bool,
        no_evict: bool,
        threads: usize,
    ) -> Store {
        // Enough shards that worker threads rarely meet on one lock, a power of two.
        let n = (threads.max(1) * 16).next_power_of_two().clamp(16, 256);
        let shards = (0..n)
            .map(|_| {
                Mutex::new(Shard {
                    table: SlotTable::new(),
                    entries: Vec::new(),
                    free: NIL,
                    head: NIL,
                    tail: NIL,
                    cursor: 0,
                })
            })
            .collect();
        Store {
            shards,
            hasher: KeyHasher::new(),
            used: AtomicU64::new(0),
            items: AtomicU64::new(0),
            cas: AtomicU64::new(0),
            flush_at: AtomicU32::new(0),
            clock: Clock::new(),
            settings: StoreSettings {
                memory_limit: AtomicU64::new(memory_limit),
                max_item_size: AtomicUsize::new(max_item_size),
                cas_disabled: AtomicBool::new(cas_disabled),
                no_evict: AtomicBool::new(no_evict),
            },
            counters: Counters::new(),
            classes: ClassCounters::new(),
            log: LogHub::default(),
        }
    }

    /// memcached's slab class id (1-based) of an item whose key and value take `data_len`
    /// bytes, as log lines name it.
    pub(crate) fn class_id(&self, data_len: usize) -> usize {
        let max_item = self.settings.max_item_size.load(Ordering::Relaxed);
        slab_class::class_index(max_item, slab_class::item_size(data_len, 0)) + 1
    }

    /// Records `counter` for the class of an item whose key and value take `data_len` bytes.
    fn class_event(&self, data_len: usize, counter: ClassCounter) {
        let max_item = self.settings.max_item_size.load(Ordering::Relaxed);
        let class = slab_class::class_index(max_item, slab_class::item_size(data_len, 0));
        self.classes.incr(class, counter);
    }

    /// Bytes accounted to items.
    pub(crate) fn bytes(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Items currently stored (including expired ones not yet reclaimed).
    pub(crate) fn items(&self) -> u64 {
        self.items.load(Ordering::Relaxed)
    }

    /// Next CAS unique (0 when CAS is disabled).
    pub(crate) fn next_cas(&self) -> u64 {
        if self.settings.cas_disabled.load(Ordering::Relaxed) {
            0
        } else {
            self.cas.fetch_add(1, Ordering::Relaxed) + 1
        }
    }

    /// Whether a value of `value_len` bytes under a key of `key_len` bytes exceeds the item
    /// size limit, counted as memcached counts an item (header, key, CAS, value and CRLF).
    pub(crate) fn too_large(&self, key_len: usize, value_len: usize) -> bool {
        let cas = if self.settings.cas_disabled.load(Ordering::Relaxed) {
            0
        } else {
            8
        };
        MEMCACHED_ITEM_HEADER + cas + key_len + 1 + value_len + 2
            > self.settings.max_item_size.load(Ordering::Relaxed)
    }

    /// Locks the shard of `key`.
    pub(crate) fn lock(&self, key: &[u8]) -> ShardGuard<'_> {
        self.lock_at(key, self.clock.now())
    }

    /// Locks the shard of `key` for a request whose clock reading is `now` (a multi-key
    /// request reads the clock once, not once per key).
    pub(crate) fn lock_at(&self, key: &[u8], now: u32) -> ShardGuard<'_> {
        let hash = self.hasher.hash(key);
        let index = self.shard_index(hash);
        let shard = lock(&self.shards[index]);
        ShardGuard {
            store: self,
            shard: Some(shard),
            index,
            hash,
            now,
            over_budget: false,
        }
    }

    /// The shard of a key with hash `hash`: from the hash's high half, as the shard's table
    /// takes its buckets from the low half.
    fn shard_index(&self, hash: u64) -> usize {
        ((hash >> 32) as usize) & (self.shards.len() - 1)
    }

    /// `flush_all` without a delay: removes every item now, counted as memcached's LRU
    /// maintainer counts the flushed items it takes away in the background.
    ///
    /// memcached 1.6.18 leaves flushed items in place and its maintainer reclaims them within
    /// a second (checked: 20,000 items, 1 s after `flush_all`, `curr_items 0`, `reclaimed
    /// 19998` after two gets had counted `get_flushed`); each counts `reclaimed`, and
    /// `expired_unfetched` if never fetched. The node frees them at once, so the counters
    /// settle to the same values; a get in between counts a miss, not `get_flushed`.
    pub(crate) fn flush_now(&self) {
        self.remove_all(true);
    }

    /// Removes every item without counting anything (a reboot or a shutdown of the node).
    pub(crate) fn clear(&self) {
        self.remove_all(false);
    }

    fn remove_all(&self, count_reclaimed: bool) {
        self.flush_at.store(0, Ordering::Relaxed);
        // memcached marks the flush point with a CAS id, so CAS values continue as there.
        self.next_cas();
        for (index, shard) in self.shards.iter().enumerate() {
            let mut s = lock(shard);
            let mut freed = 0;
            for e in s.entries.iter().filter(|e| !e.is_free()) {
                freed += e.cost();
                if count_reclaimed {
                    self.count_reclaimed(index, e);
                }
            }
            let count = s.table.len() as u64;
            s.table = SlotTable::new();
            s.entries = Vec::new();
            s.free = NIL;
            s.head = NIL;
            s.tail = NIL;
            s.cursor = 0;
            self.used.fetch_sub(freed, Ordering::Relaxed);
            self.items.fetch_sub(count, Ordering::Relaxed);
        }
    }

    /// Invalidates every item not updated or accessed after `at` (Unix seconds), from then on.
    pub(crate) fn flush_at(&self, at: u32) {
        self.flush_at.store(at, Ordering::Relaxed);
        // memcached marks a flush point with a CAS id when the point is already reached
        // (`flush_all 1`, a time in the past), as a flush without delay does: CAS values go
        // on from there on both.
        if flush_started(at, self.clock.now()) {
            self.next_cas();
        }
    }

    /// One reaper pass: reclaims up to `budget` slots per shard that are expired or flushed,
    /// and performs a due delayed flush completely.
    pub(crate) fn reap(&self, budget: usize) {
        let now = self.clock.now();
        let flush = self.flush_at.load(Ordering::Relaxed);
        let flush_due = flush_started(flush, now);
        for (index, shard) in self.shards.iter().enumerate() {
            let mut s = lock(shard);
            let len = s.entries.len();
            if len == 0 {
                continue;
            }
            let steps = if flush_due { len } else { budget.min(len) };
            for _ in 0..steps {
                let i = s.cursor % len;
                s.cursor = i + 1;
                let e = &s.entries[i];
                if e.is_free() {
                    continue;
                }
                let dead = (e.exptime != 0 && e.exptime <= now) || (flush_due && e.atime < flush);
                if dead {
                    self.count_reclaimed(index, e);
                    self.unlink(&mut s, i as u32);
                }
            }
        }
        // Items stored in the flush's first second are flushed too: forget it only after.
        if flush_due && flush <= now {
            let _ = self
                .flush_at
                .compare_exchange(flush, 0, Ordering::Relaxed, Ordering::Relaxed);
        }
    }

    /// Counts a dead item taken away in the background as memcached's LRU maintainer counts
    /// the expired and flushed items it takes off the LRU tails (`reclaimed`, and
    /// `expired_unfetched` for one never fetched): with memcached 1.6.18's defaults it finds
    /// them within a second or two, before its crawler does (checked by hand: five expired
    /// keys, 2 s later, `reclaimed 5`, `crawler_reclaimed 0`). `lru_crawler crawl` counts
    /// `crawler_reclaimed` instead (Store::crawl).
    fn count_reclaimed(&self, stripe: usize, e: &Entry) {
        if e.bits & FETCHED == 0 {
            self.counters.incr(stripe, Counter::ExpiredUnfetched);
            self.class_event(e.data.len(), ClassCounter::ExpiredUnfetched);
        }
        self.counters.incr(stripe, Counter::Reclaimed);
        self.class_event(e.data.len(), ClassCounter::Reclaimed);
    }

    /// Walks the live items from `cursor` (0 = the start; a value this returned), calling `f`
    /// with each until it returns `false`: then returns where to go on, `None` once every
    /// shard was walked. One shard lock at a time; a caller that stops every so many items
    /// (a metadump does) lets the node's other connections in between.
    pub(crate) fn walk_from(
        &self,
        cursor: u64,
        mut f: impl FnMut(&LiveItem<'_>) -> bool,
    ) -> Option<u64> {
        let now = self.clock.now();
        let flush = self.flush_at.load(Ordering::Relaxed);
        let (first_shard, first_slot) = ((cursor >> 32) as usize, (cursor & 0xffff_ffff) as usize);
        for (index, shard) in self.shards.iter().enumerate().skip(first_shard) {
            let s = lock(shard);
            let from = if index == first_shard { first_slot } else { 0 };
            for (i, e) in s.entries.iter().enumerate().skip(from) {
                let dead = (e.exptime != 0 && e.exptime <= now)
                    || (flush_started(flush, now) && e.atime < flush);
                if e.is_free() || dead {
                    continue;
                }
                let item = LiveItem {
                    key: e.key(),
                    value_len: e.data.len() - e.key_len as usize,
                    exptime: e.exptime,
                    atime: e.atime,
                    cas: e.cas,
                    fetched: e.bits & FETCHED != 0,
                };
                if !f(&item) {
                    return Some(((index as u64) << 32) | i as u64);
                }
            }
        }
        None
    }

    /// `lru_crawler crawl`: removes now the expired and flushed items of the classes `wanted`
    /// picks (by class index), looking at no more than `per_class` items of a class (memcached's
    /// `lru_crawler tocrawl`; 0 = all), counting the crawler's work per class.
    pub(crate) fn crawl(&self, wanted: impl Fn(usize) -> bool, per_class: usize) {
        let now = self.clock.now();
        let flush = self.flush_at.load(Ordering::Relaxed);
        let max_item = self.settings.max_item_size.load(Ordering::Relaxed);
        let mut visited = [0usize; slab_class::MAX_CLASSES];
        for (index, shard) in self.shards.iter().enumerate() {
            let mut s = lock(shard);
            for i in 0..s.entries.len() {
                let e = &s.entries[i];
                if e.is_free() {
                    continue;
                }
                let len = e.data.len();
                let class = slab_class::class_index(max_item, slab_class::item_size(len, 0));
                if !wanted(class) || (per_class != 0 && visited[class] >= per_class) {
                    continue;
                }
                visited[class] += 1;
                self.counters.incr(index, Counter::CrawlerItemsChecked);
                self.classes.incr(class, ClassCounter::CrawlerItemsChecked);
                let expired = e.exptime != 0 && e.exptime <= now;
                if expired || (flush_started(flush, now) && e.atime < flush) {
                    if expired && e.bits & FETCHED == 0 {
                        self.counters.incr(index, Counter::ExpiredUnfetched);
                        self.classes.incr(class, ClassCounter::ExpiredUnfetched);
                    }
                    self.counters.incr(index, Counter::CrawlerReclaimed);
                    self.classes.incr(class, ClassCounter::CrawlerReclaimed);
                    self.unlink(&mut s, i as u32);
                }
            }
        }
    }

    /// Calls `f(key, value length, expiry, last access)` for every live item (stats
    /// items/slabs, cachedump); holds one shard lock at a time.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&[u8], usize, u32, u32)) {
        let now = self.clock.now();
        for shard in self.shards.iter() {
            let s = lock(shard);
            for e in s.entries.iter().filter(|e| !e.is_free()) {
                if e.exptime == 0 || e.exptime > now {
                    f(
                        e.key(),
                        e.data.len() - e.key_len as usize,
                        e.exptime,
                        e.atime,
                    );
                }
            }
        }
    }

    /// Evicts least recently used items from every shard until within budget (after the
    /// budget was lowered at runtime).
    pub(crate) fn enforce_budget(&self) {
        let limit = self.settings.memory_limit.load(Ordering::Relaxed);
        loop {
            let mut progressed = false;
            for (i, shard) in self.shards.iter().enumerate() {
                if self.used.load(Ordering::Relaxed) <= limit {
                    return;
                }
                let mut s = lock(shard);
                let tail = s.tail;
                if tail != NIL {
                    self.evict(&mut s, i, tail);
                    progressed = true;
                }
            }
            if !progressed {
                return;
            }
        }
    }

    /// Reads, changing nothing, the cache lines that looking up each of `keys` will read (the
    /// table bucket, the entry, the start of the item), with every shard involved locked at
    /// once, so that the processor waits for the keys' cache misses together. A multi-key get
    /// calls it before serving its keys one by one: looked up one at a time, each key's shard
    /// lock (a locked instruction, which first completes the loads before it) waits out the
    /// previous key's misses, so they add up. Shards are locked in index order, and nothing
    /// else holds two shard locks, so this cannot deadlock. At most [`WARM_KEYS`] keys are
    /// read; the rest are ignored.
    pub(crate) fn warm(&self, keys: &[&[u8]]) {
        let keys = &keys[..keys.len().min(WARM_KEYS)];
        let mut hashes = [0u64; WARM_KEYS];
        let mut shard_of = [0usize; WARM_KEYS];
        for (k, key) in keys.iter().enumerate() {
            hashes[k] = self.hasher.hash(key);
            shard_of[k] = self.shard_index(hashes[k]);
        }
        let mut order: Vec<usize> = shard_of[..keys.len()].to_vec();
        order.sort_unstable();
        order.dedup();
        let guards: Vec<MutexGuard<'_, Shard>> =
            order.iter().map(|&i| lock(&self.shards[i])).collect();
        let mut found = 0usize;
        for (k, key) in keys.iter().enumerate() {
            let Ok(g) = order.binary_search(&shard_of[k]) else {
                continue;
            };
            let s = &*guards[g];
            let hit = s
                .table
                .find(hashes[k], |i| s.entries[i as usize].key() == *key);
            found += usize::from(hit.is_some());
        }
        // Keeps the reads from being optimised away.
        std::hint::black_box(found);
    }

    /// Evicts least recently used items from shards other than `skip` until within budget.
    fn evict_elsewhere(&self, skip: usize) {
        let n = self.shards.len();
        let mut idle_rounds = 0;
        let mut i = skip;
        while self.used.load(Ordering::Relaxed) > self.settings.memory_limit.load(Ordering::Relaxed)
        {
            i = (i + 1) % n;
            if i == skip {
                idle_rounds += 1;
                if idle_rounds > 1 {
                    break;
                }
                continue;
            }
            let mut s = lock(&self.shards[i]);
            let tail = s.tail;
            if tail != NIL {
                idle_rounds = 0;
                self.evict(&mut s, i, tail);
            }
        }
    }

    fn evict(&self, s: &mut Shard, index: usize, slot: u32) {
        let e = &s.entries[slot as usize];
        let now = self.clock.now();
        let max_item = self.settings.max_item_size.load(Ordering::Relaxed);
        let class = slab_class::class_index(max_item, slab_class::item_size(e.data.len(), 0));
        if e.exptime != 0 && e.exptime <= now {
            self.counters.incr(index, Counter::Reclaimed);
            self.classes.incr(class, ClassCounter::Reclaimed);
        } else {
            if self.log.wants(watch::kind::EVICTIONS) {
                let ttl = if e.exptime == 0 {
                    -1
                } else {
                    i64::from(e.exptime) - i64::from(now)
                };
                self.log.eviction(
                    e.key(),
                    e.bits & FETCHED != 0,
                    ttl,
                    now.saturating_sub(e.atime),
                    (class + 1, e.value().len()),
                );
            }
            self.counters.incr(index, Counter::Evictions);
            self.classes.incr(class, ClassCounter::Evicted);
            if e.exptime != 0 {
                self.classes.incr(class, ClassCounter::EvictedNonzero);
            }
            if e.bits & FETCHED == 0 {
                self.counters.incr(index, Counter::EvictedUnfetched);
                self.classes.incr(class, ClassCounter::EvictedUnfetched);
            }
            self.classes
                .set_evicted_time(class, u64::from(now.saturating_sub(e.atime)));
        }
        self.unlink(s, slot);
    }

    /// Removes slot `slot` from table, LRU and accounting.
    fn unlink(&self, s: &mut Shard, slot: u32) {
        let hash = self.hasher.hash(s.entries[slot as usize].key());
        s.table.remove(hash, slot);
        lru_remove(s, slot);
        let e = &mut s.entries[slot as usize];
        let cost = e.cost();
        e.data = Box::new([]);
        e.key_len = 0;
        e.bits = 0;
        e.next = s.free;
        s.free = slot;
        self.used.fetch_sub(cost, Ordering::Relaxed);
        self.items.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Locks a mutex, recovering from poisoning (a panicked holder cannot corrupt the shard's
/// invariants mid-way in a way later readers could not survive: every mutation is completed
/// before any call that could panic).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn lru_remove(s: &mut Shard, slot: u32) {
    let (prev, next) = {
        let e = &s.entries[slot as usize];
        (e.prev, e.next)
    };
    if prev == NIL {
        s.head = next
    } else {
        s.entries[prev as usize].next = next
    }
    if next == NIL {
        s.tail = prev
    } else {
        s.entries[next as usize].prev = prev
    }
    let e = &mut s.entries[slot as usize];
    e.prev = NIL;
    e.next = NIL;
}

fn lru_push_front(s: &mut Shard, slot: u32) {
    let old = s.head;
    {
        let e = &mut s.entries[slot as usize];
        e.prev = NIL;
        e.next = old;
    }
    if old != NIL {
        s.entries[old as usize].prev = slot;
    } else {
        s.tail = slot;
    }
    s.head = slot;
}

impl ShardGuard<'_> {
    fn s(&mut self) -> &mut Shard {
        // The guard is only taken out in Drop.
        self.shard
            .as_deref_mut()
            .unwrap_or_else(|| unreachable_shard())
    }

    /// The node clock's "now" for this request.
    pub(crate) fn now(&self) -> u32 {
        self.now
    }

    /// Stripe for counters touched under this shard.
    pub(crate) fn stripe(&self) -> usize {
        self.index
    }

    /// Finds the live item of `key`, reclaiming it first if expired or flushed. Counts
    /// `get_expired` / `get_flushed` when `count_fetch` is set.
    pub(crate) fn find(&mut self, key: &[u8], count_fetch: bool) -> Option<Slot> {
        let hash = self.hash;
        let now = self.now;
        let flush = self.store.flush_at.load(Ordering::Relaxed);
        let store = self.store;
        let index = self.index;
        let s = self.s();
        let Some(slot) = s.table.find(hash, |i| s.entries[i as usize].key() == key) else {
            if store.log.wants(watch::kind::FETCHERS) {
                store.log.item_get(key, Lookup::Missing, (0, 0));
            }
            return None;
        };
        let e = &s.entries[slot as usize];
        let expired = e.exptime != 0 && e.exptime <= now;
        let flushed = flush_started(flush, now) && e.atime < flush;
        if store.log.wants(watch::kind::FETCHERS) {
            let found = match (expired, flushed) {
                (true, _) => Lookup::Expired,
                (_, true) => Lookup::Flushed,
                _ => Lookup::Hit,
            };
            // memcached names the class and size only of an item it hands back.
            let item = if found == Lookup::Hit {
                (store.class_id(e.data.len()), e.value().len())
            } else {
                (0, 0)
            };
            store.log.item_get(key, found, item);
        }
        if expired || flushed {
            if count_fetch {
                let c = if expired {
                    Counter::GetExpired
                } else {
                    Counter::GetFlushed
                };
                store.counters.incr(index, c);
            }
            if e.bits & FETCHED == 0 && expired {
                store.counters.incr(index, Counter::ExpiredUnfetched);
                store.class_event(e.data.len(), ClassCounter::ExpiredUnfetched);
            }
            store.unlink(s, slot);
            return None;
        }
        Some(Slot(slot))
    }

    /// A view of the item in `slot`.
    pub(crate) fn view(&mut self, slot: Slot) -> ItemView<'_> {
        let e = &self.s().entries[slot.0 as usize];
        ItemView {
            key: e.key(),
            value: e.value(),
            flags: e.flags,
            exptime: e.exptime,
            cas: e.cas,
            atime: e.atime,
            fetched: e.bits & FETCHED != 0,
            stale: e.bits & STALE != 0,
            win_sent: e.bits & WIN_SENT != 0,
        }
    }

    /// Records an access: moves the item to the LRU head (unless `bump` is false), marks it
    /// fetched and updates its access time.
    pub(crate) fn touch_access(&mut self, slot: Slot, bump: bool, fetched: bool) {
        let now = self.now;
        let s = self.s();
        if bump && s.head != slot.0 {
            lru_remove(s, slot.0);
            lru_push_front(s, slot.0);
        }
        let e = &mut s.entries[slot.0 as usize];
        if bump {
            e.atime = now;
        }
        if fetched {
            e.bits |= FETCHED;
        }
    }

    /// Sets the absolute expiry of the item.
    pub(crate) fn set_exptime(&mut self, slot: Slot, exptime: u32) {
        self.s().entries[slot.0 as usize].exptime = exptime;
    }

    /// Sets or clears the meta win-token-sent mark.
    pub(crate) fn set_win_sent(&mut self, slot: Slot, on: bool) {
        let e = &mut self.s().entries[slot.0 as usize];
        if on {
            e.bits |= WIN_SENT
        } else {
            e.bits &= !WIN_SENT
        }
    }

    /// Marks the item stale (meta invalidation) with a new CAS.
    pub(crate) fn mark_stale(&mut self, slot: Slot, cas: u64) {
        let e = &mut self.s().entries[slot.0 as usize];
        e.bits |= STALE;
        e.bits &= !WIN_SENT;
        e.cas = cas;
    }

    /// Removes the item.
    pub(crate) fn remove(&mut self, slot: Slot) {
        let store = self.store;
        store.unlink(self.s(), slot.0);
    }

    /// Stores `item` under `key`, replacing `existing` if given. Returns the new slot and CAS.
    pub(crate) fn write(
        &mut self,
        key: &[u8],
        existing: Option<Slot>,
        item: NewItem<'_>,
    ) -> Result<(Slot, u64), StoreError> {
        let value_len = item.parts[0].len() + item.parts[1].len();
        if key.is_empty() || key.len() > u8::MAX as usize {
            return Err(StoreError::TooLarge);
        }
        if self.store.too_large(key.len(), value_len) {
            return Err(StoreError::TooLarge);
        }
        let cost = (key.len() + value_len + ITEM_OVERHEAD) as u64;
        let limit = self.store.settings.memory_limit.load(Ordering::Relaxed);
        let old_cost = existing
            .map(|s| self.s().entries[s.0 as usize].cost())
            .unwrap_or(0);
        let data_len = key.len() + value_len;
        if cost > limit {
            self.store.class_event(data_len, ClassCounter::OutOfMemory);
            return Err(StoreError::NoMemory);
        }
        if self.store.settings.no_evict.load(Ordering::Relaxed)
            && self.store.bytes() + cost > limit + old_cost
        {
            self.reclaim_expired(64);
            if self.store.bytes() + cost > limit + old_cost {
                self.store.class_event(data_len, ClassCounter::OutOfMemory);
                return Err(StoreError::NoMemory);
            }
        }
        let mut data = Vec::with_capacity(key.len() + value_len);
        data.extend_from_slice(key);
        data.extend_from_slice(item.parts[0]);
        data.extend_from_slice(item.parts[1]);
        let cas = item.cas.unwrap_or_else(|| self.store.next_cas());
        if let Some(old) = existing {
            return Ok(self.overwrite(old, data, cas, &item, old_cost));
        }
        let entry = Entry {
            data: data.into_boxed_slice(),
            cas,
            flags: item.flags,
            exptime: item.exptime,
            atime: self.now,
            prev: NIL,
            next: NIL,
            key_len: key.len() as u8,
            bits: item.bits,
        };
        let hash = self.hash;
        let s = self.s();
        let slot = if s.free != NIL {
            let slot = s.free;
            s.free = s.entries[slot as usize].next;
            s.entries[slot as usize] = entry;
            slot
        } else {
            s.entries.push(entry);
            (s.entries.len() - 1) as u32
        };
        s.table.insert(hash, slot);
        lru_push_front(s, slot);
        self.store.used.fetch_add(cost, Ordering::Relaxed);
        self.store.items.fetch_add(1, Ordering::Relaxed);
        self.store.counters.incr(self.index, Counter::TotalItems);
        self.enforce_budget(slot);
        Ok((Slot(slot), cas))
    }

    /// Replaces the item in `slot` (same key) by `data` in place: its table entry stays, it
    /// moves to the LRU head, and the byte total changes by the difference. The same outcome
    /// as removing it and inserting anew (which would reuse this very slot), without hashing
    /// the key again or touching the table.
    fn overwrite(
        &mut self,
        slot: Slot,
        data: Vec<u8>,
        cas: u64,
        item: &NewItem<'_>,
        old_cost: u64,
    ) -> (Slot, u64) {
        let now = self.now;
        let s = self.s();
        if s.head != slot.0 {
            lru_remove(s, slot.0);
            lru_push_front(s, slot.0);
        }
        let e = &mut s.entries[slot.0 as usize];
        e.data = data.into_boxed_slice();
        e.cas = cas;
        e.flags = item.flags;
        e.exptime = item.exptime;
        e.atime = now;
        e.bits = item.bits;
        let cost = e.cost();
        // Shrink before growing, so no reader sees a total above the truth.
        if cost < old_cost {
            self.store
                .used
                .fetch_sub(old_cost - cost, Ordering::Relaxed);
        } else {
            self.store
                .used
                .fetch_add(cost - old_cost, Ordering::Relaxed);
        }
        if !item.in_place {
            self.store.counters.incr(self.index, Counter::TotalItems);
        }
        self.enforce_budget(slot.0);
        (slot, cas)
    }

    /// Evicts from this shard's LRU tail (never `keep`) until within budget; if this shard
    /// runs out, the guard evicts from other shards when it is dropped.
    fn enforce_budget(&mut self, keep: u32) {
        let store = self.store;
        let index = self.index;
        let limit = store.settings.memory_limit.load(Ordering::Relaxed);
        while store.used.load(Ordering::Relaxed) > limit {
            let s = self.s();
            let mut victim = s.tail;
            if victim == keep {
                victim = s.entries[keep as usize].prev;
            }
            if victim == NIL {
                self.over_budget = true;
                return;
            }
            store.evict(s, index, victim);
        }
    }

    /// Reclaims up to `n` expired items from this shard's LRU tail side.
    fn reclaim_expired(&mut self, n: usize) {
        let now = self.now;
        let store = self.store;
        let index = self.index;
        let s = self.s();
        let mut cur = s.tail;
        for _ in 0..n {
            if cur == NIL {
                break;
            }
            let prev = s.entries[cur as usize].prev;
            let e = &s.entries[cur as usize];
            if e.exptime != 0 && e.exptime <= now {
                store.counters.incr(index, Counter::Reclaimed);
                store.class_event(e.data.len(), ClassCounter::Reclaimed);
                store.unlink(s, cur);
            }
            cur = prev;
        }
    }
}

impl Drop for ShardGuard<'_> {
    fn drop(&mut self) {
        drop(self.shard.take());
        if self.over_budget {
            self.store.evict_elsewhere(self.index);
        }
    }
}

#[cold]
fn unreachable_shard() -> &'static mut Shard {
    // A ShardGuard always holds its lock until Drop; reaching this is a logic error in this
    // module, never a consequence of input.
    unreachable!("shard guard used after release")
}

/// Whether a delayed flush at `at` (0: none) applies at `now`. memcached's flush point is one
/// second before the requested time (`oldest_live`) and an item is gone once the clock reaches
/// it if it was last stored or bumped at or before it: `flush_all 1` empties the cache at once,
/// items stored in the same second included, and `flush_all 2` a second later.
fn flush_started(at: u32, now: u32) -> bool {
    at != 0 && at <= now.saturating_add(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(v: &[u8]) -> NewItem<'_> {
        NewItem {
            flags: 0,
            exptime: 0,
            parts: [v, b""],
            cas: None,
            bits: 0,
            in_place: false,
        }
    }

    #[test]
    fn write_find_remove_keeps_accounting() {
        let store = Store::new(1 << 20, 1 << 20, false, false, 1);
        {
            let mut g = store.lock(b"k");
            g.write(b"k", None, item(b"value"))
                .map_err(|_| ())
                .unwrap_or_else(|_| panic!());
        }
        assert_eq!(store.items(), 1);
        assert_eq!(store.bytes(), (1 + 5 + ITEM_OVERHEAD) as u64);
        let mut g = store.lock(b"k");
        let slot = g.find(b"k", true);
        assert!(slot.is_some());
        if let Some(slot) = slot {
            assert_eq!(g.view(slot).value, b"value");
            g.remove(slot);
        }
        drop(g);
        assert_eq!(store.items(), 0);
        assert_eq!(store.bytes(), 0);
    }

    #[test]
    fn overwrite_replaces_in_place_and_keeps_accounting() {
        let store = Store::new(1 << 20, 1 << 20, false, false, 1);
        let mut g = store.lock(b"k");
        let (first, cas1) = g.write(b"k", None, item(b"v")).unwrap_or_else(|_| panic!());
        let (second, cas2) = g
            .write(b"k", Some(first), item(b"a longer value"))
            .unwrap_or_else(|_| panic!());
        assert_eq!(first, second);
        assert!(cas2 > cas1);
        let slot = g.find(b"k", false);
        assert_eq!(slot, Some(second));
        assert_eq!(g.view(second).value, b"a longer value");
        let (_, cas3) = g
            .write(b"k", Some(second), item(b"x"))
            .unwrap_or_else(|_| panic!());
        assert!(cas3 > cas2);
        drop(g);
        assert_eq!(store.items(), 1);
        assert_eq!(store.bytes(), (1 + 1 + ITEM_OVERHEAD) as u64);
        assert_eq!(store.counters.get(Counter::TotalItems), 3);
    }

    /// `warm` locks several shards at once while writers (which evict across shards when over
    /// budget) lock one at a time: four threads of both must all finish, and warming changes
    /// neither the items nor the LRU order.
    #[test]
    fn warm_changes_nothing_and_never_deadlocks_with_writers() {
        let budget = 2_000 * (ITEM_OVERHEAD as u64 + 12);
        let store = Store::new(budget, 1 << 20, false, false, 4);
        let key = |i: u32| format!("key{i:05}");
        std::thread::scope(|scope| {
            for t in 0..4u32 {
                let store = &store;
                scope.spawn(move || {
                    for round in 0..3_000u32 {
                        let first = (round * 7 + t * 1_000) % 5_000;
                        if t % 2 == 0 {
                            let keys: Vec<String> =
                                (first..first + WARM_KEYS as u32 + 3).map(key).collect();
                            let keys: Vec<&[u8]> = keys.iter().map(|k| k.as_bytes()).collect();
                            store.warm(&keys);
                        } else {
                            let k = key(first);
                            let mut g = store.lock(k.as_bytes());
                            assert!(g.write(k.as_bytes(), None, item(b"1234")).is_ok());
                        }
                    }
                });
            }
        });
        let before = (
            store.items(),
            store.bytes(),
            store.counters.get(Counter::GetHits),
        );
        let tail =
            |store: &Store| -> Vec<u32> { store.shards.iter().map(|s| lock(s).tail).collect() };
        let tails = tail(&store);
        let keys: Vec<String> = (0..WARM_KEYS as u32).map(key).collect();
        let keys: Vec<&[u8]> = keys.iter().map(|k| k.as_bytes()).collect();
        store.warm(&keys);
        assert_eq!(
            before,
            (
                store.items(),
                store.bytes(),
                store.counters.get(Counter::GetHits)
            )
        );
        assert_eq!(tails, tail(&store));
    }

    #[test]
    fn budget_evicts_least_recently_used() {
        let budget = 100 * (ITEM_OVERHEAD as u64 + 12);
        let store = Store::new(budget, 1 << 20, false, false, 1);
        for i in 0..1000u32 {
            let key = format!("key{i:05}");
            let mut g = store.lock(key.as_bytes());
            assert!(g.write(key.as_bytes(), None, item(b"1234")).is_ok());
        }
        assert!(store.bytes() <= budget);
        assert!(store.items() >= 50 && store.items() <= 100);
        // The most recent key survives.
        let mut g = store.lock(b"key00999");
        assert!(g.find(b"key00999", false).is_some());
    }

    #[test]
    fn no_evict_mode_refuses() {
        let budget = 10 * (ITEM_OVERHEAD as u64 + 12);
        let store = Store::new(budget, 1 << 20, false, true, 1);
        let mut refused = 0;
        for i in 0..100u32 {
            let key = format!("key{i:05}");
            let mut g = store.lock(key.as_bytes());
            if g.write(key.as_bytes(), None, item(b"1234")) == Err(StoreError::NoMemory) {
                refused += 1;
            }
        }
        assert!(refused >= 90);
        assert!(store.bytes() <= budget);
    }

    #[test]
    fn expiry_rules() {
        let store = Store::new(1 << 20, 1 << 20, false, false, 1);
        let now = store.clock.now();
        assert_eq!(store.clock.expiry(0), 0);
        assert_eq!(store.clock.expiry(-1), 1);
        assert_eq!(store.clock.expiry(10), now + 10);
        assert_eq!(store.clock.expiry(REALTIME_MAXDELTA + 1), 1);
        assert_eq!(store.clock.expiry(now as i64 + 100), now + 100);
    }
}
