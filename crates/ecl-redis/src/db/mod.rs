//! The keyspace: one [`Db`] per logical database, with lazy and active expiry, WATCH versions,
//! access tracking for LRU/LFU eviction and per-value memory accounting.
//!
//! Place in the flow: command handlers reach the selected `Db` through the command context and
//! only ever read or change keys through its methods, so that:
//! - expired keys are never visible (lazy expiry on every lookup, plus [`Db::active_expire`]
//!   sampling keys with a TTL like Redis' active expiry cycle, so untouched keys disappear too);
//! - every modification of a watched key counts in its watch record (WATCH compares at EXEC;
//!   keys nobody watches carry no version, which keeps a keyspace slot small);
//! - `used_memory` stays exact with respect to our own accounting ([`Value::mem_size`] is O(1)).
//!
//! Data-structure algorithms live beside this file (`list.rs`, `hash.rs`, `set.rs`, `zset.rs`,
//! `string.rs`), never in command files.

pub mod bytes;
pub mod dict;
pub mod digest;
pub mod evict;
pub mod geohash;
pub mod hash;
pub mod hll;
pub mod hll_sparse;
pub mod lazyfree;
pub mod list;
pub mod longdouble;
pub mod set;
pub mod slots;
pub mod snapshot;
pub mod stream;
pub mod string;
pub mod value;
pub mod zset;

pub use dict::{Dict, Key};
pub use snapshot::SnapCursor;
pub use value::{Entry, KEY_OVERHEAD, Str, StrKind, Value, key_size};

use crate::errors::{self, CmdError};
use std::collections::HashMap;

/// How key accesses update the `lru` field (follows `maxmemory-policy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessMode {
    /// LRU clock in seconds.
    Lru,
    /// LFU counter with logarithmic increment and time decay.
    Lfu {
        /// `lfu-log-factor`.
        log_factor: u32,
        /// `lfu-decay-time` in minutes.
        decay_minutes: u32,
    },
}

/// One logical database.
#[derive(Debug)]
pub struct Db {
    dict: Dict<Entry>,
    /// Keys that have a TTL (for active expiry and volatile-* eviction sampling).
    volatile: Dict<()>,
    used: usize,
    /// Keys some client WATCHes, with what marks them changed besides their version.
    watched: HashMap<Key, WatchRecord>,
    /// Keys removed by expiry since the engine last drained them (for `expired` notifications).
    pub expired_log: Vec<Key>,
    /// Keys created since the engine last drained them, when `new` notifications are on.
    pub new_log: Vec<Key>,
    /// Whether to record created keys (`notify-keyspace-events` has `n`).
    pub track_new: bool,
    /// Keys written since the engine last drained them, while clients track keys (client-side
    /// caching): the keys redis-server signals as modified, so a write that changes nothing
    /// (SET NX on an existing key, SADD of a member already there) invalidates nothing.
    /// Expiry goes to `expired_log` instead; FLUSH and SWAPDB are invalidated whole.
    pub modified_log: Option<Vec<Key>>,
    /// Counters reported by INFO.
    pub hits: u64,
    /// Lookups that found nothing.
    pub misses: u64,
    /// Keys removed because their TTL passed.
    pub expired: u64,
    /// How accesses are recorded.
    pub access: AccessMode,
    /// The running command's client asked for CLIENT NO-TOUCH: lookups leave the access time
    /// (LRU/LFU) as it is (set per command by the dispatcher).
    pub no_touch: bool,
    /// Replica mode: an expired key reads as missing but stays until the primary's DEL.
    pub keep_expired: bool,
    /// CLIENT PAUSE in effect until this time (ms; 0 = none): as in redis-server, an expired
    /// key reads as missing but is not deleted before then, so the dataset stays as it was
    /// (`Engine::set_pause` keeps it in step; the cron skips active expiry meanwhile).
    pub expiry_paused_until: i64,
    /// A point-in-time image of this database being collected (see [`snapshot`]).
    pub snap: Option<Box<SnapCursor>>,
    /// Keys by hash slot (database 0 of a cluster-mode node; see [`slots`]).
    slot_index: Option<Box<slots::SlotIndex>>,
    /// Non-zero while an EXEC runs (the same tag in every database of the node): strings a
    /// queued SET-like command stores carry it (see [`value::Str::hold`]), since Redis keeps the
    /// queued arguments, one of which is the stored object, until EXEC ends.
    pub exec_tag: u64,
    /// The node's background freeing, and whether an expired key (`lazyfree-lazy-expire`) or
    /// a value a write replaces (`lazyfree-lazy-server-del`) goes there (set with the other
    /// per-database settings by `Engine::refresh_access_mode`).
    pub lazyfree: lazyfree::LazyFree,
    /// `lazyfree-lazy-expire`.
    pub lazy_expire: bool,
    /// `lazyfree-lazy-server-del`.
    pub lazy_server_del: bool,
    rng: u64,
}

/// The bookkeeping of one watched key: a watched key created and deleted again, or emptied by
/// FLUSHALL, reads as changed, while FLUSHALL leaves a watched key that did not exist unchanged
/// (redis-server marks only watched keys that existed); SWAPDB likewise touches only watched
/// keys that exist in one of the two databases.
#[derive(Debug, Default)]
struct WatchRecord {
    /// How many watches name the key.
    watchers: usize,
    /// Modifications of the key (deletion included) since the record was made.
    changes: u64,
    /// SWAPDBs that touched the key (it existed in one of the two databases).
    swaps: u64,
}

impl Default for Db {
    fn default() -> Self {
        Db::new()
    }
}

/// Mutable access to a value; on drop it re-accounts the value's memory and, unless
/// [`ValueMut::unchanged`] was called, counts a modification of the key for its watchers.
pub struct ValueMut<'a> {
    v: &'a mut Value,
    used: &'a mut usize,
    old: usize,
    /// The watch record's change counter, when some client watches the key.
    touch: Option<&'a mut u64>,
    /// The modified-keys log, which already holds the key (taken back by `unchanged`).
    logged: Option<&'a mut Vec<Key>>,
}

impl ValueMut<'_> {
    /// Watchers of the key see no change: the command failed without changing the value
    /// (INCR of a non-integer, WRONGTYPE) or changed what Redis does not signal (a stream's
    /// consumer groups), as Redis signals only keys it modified.
    pub fn unchanged(mut self) {
        self.touch = None;
        if let Some(log) = self.logged.take() {
            log.pop();
        }
    }
}

impl std::ops::Deref for ValueMut<'_> {
    type Target = Value;
    fn deref(&self) -> &Value {
        self.v
    }
}

impl std::ops::DerefMut for ValueMut<'_> {
    fn deref_mut(&mut self) -> &mut Value {
        self.v
    }
}

impl Drop for ValueMut<'_> {
    fn drop(&mut self) {
        *self.used = (*self.used + self.v.mem_size()).saturating_sub(self.old);
        if let Some(t) = self.touch.as_deref_mut() {
            *t += 1;
        }
    }
}

/// Bytes a key and its value take: the slab slot, the key's heap block if any, the value's.
pub fn entry_size(key: &[u8], v: &Value) -> usize {
    key_size(key) + v.mem_size()
}

impl Db {
    /// An empty database.
    pub fn new() -> Db {
        Db {
            dict: Dict::new(),
            volatile: Dict::new(),
            used: 0,
            watched: HashMap::new(),
            expired_log: Vec::new(),
            new_log: Vec::new(),
            track_new: false,
            modified_log: None,
            hits: 0,
            misses: 0,
            expired: 0,
            access: AccessMode::Lru,
            no_touch: false,
            keep_expired: false,
            expiry_paused_until: 0,
            snap: None,
            slot_index: None,
            exec_tag: 0,
            lazyfree: Default::default(),
            lazy_expire: false,
            lazy_server_del: false,
            rng: {
                // Distinct, never-zero xorshift seeds per database.
                static NEXT: std::sync::atomic::AtomicU64 =
                    std::sync::atomic::AtomicU64::new(0x2545_F491_4F6C_DD1D);
                NEXT.fetch_add(0x9E37_79B9_7F4A_7C15, std::sync::atomic::Ordering::Relaxed) | 1
            },
        }
    }

    /// A fast xorshift random number (sampling only; no security needs).
    pub fn random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }

    /// Number of keys (including expired ones not yet reclaimed, as DBSIZE does).
    pub fn len(&self) -> usize {
        self.dict.len()
    }

    /// Whether the database holds no keys.
    pub fn is_empty(&self) -> bool {
        self.dict.is_empty()
    }

    /// Keys with a TTL.
    pub fn expires_len(&self) -> usize {
        self.volatile.len()
    }

    /// Bytes accounted to keys and values.
    pub fn used_memory(&self) -> usize {
        let index = self
            .slot_index
            .as_deref()
            .map_or(0, slots::SlotIndex::mem_bytes);
        let volatile = self.volatile.len() * Dict::<()>::SLOT_BYTES;
        self.used
            + self.dict.bucket_count() * 4
            + self.volatile.bucket_count() * 4
            + volatile
            + index
    }

    /// The change counter of `key`'s watch record, if some client watches it (no hashing when
    /// nobody watches anything). Takes the map, not `self`, so callers can hold an entry.
    fn watch_counter<'a>(
        watched: &'a mut HashMap<Key, WatchRecord>,
        key: &[u8],
    ) -> Option<&'a mut u64> {
        if watched.is_empty() {
            return None;
        }
        watched.get_mut(key).map(|w| &mut w.changes)
    }

    /// Counts a modification of `key` for its watchers.
    fn touch_watched(watched: &mut HashMap<Key, WatchRecord>, key: &[u8]) {
        if let Some(c) = Self::watch_counter(watched, key) {
            *c += 1;
        }
    }

    /// Records a write of `key` in the modified-keys log, when it is kept.
    fn log_modified(log: &mut Option<Vec<Key>>, key: &[u8]) {
        if let Some(log) = log {
            log.push(key.into());
        }
    }

    /// The log, holding `key`, for a [`ValueMut`] to take it back if nothing changes.
    fn log_for_value<'a>(log: &'a mut Option<Vec<Key>>, key: &[u8]) -> Option<&'a mut Vec<Key>> {
        let log = log.as_mut()?;
        log.push(key.into());
        Some(log)
    }

    fn touch(access: AccessMode, e: &mut Entry, now_ms: i64) {
        match access {
            AccessMode::Lru => e.lru = (now_ms / 1000) as u32,
            AccessMode::Lfu {
                log_factor,
                decay_minutes,
            } => e.lru = evict::lfu_touch(e.lru, now_ms, log_factor, decay_minutes),
        }
    }

    fn initial_lru(&self, now_ms: i64) -> u32 {
        match self.access {
            AccessMode::Lru => (now_ms / 1000) as u32,
            AccessMode::Lfu { .. } => evict::lfu_initial(now_ms),
        }
    }

    /// Deletes `key` if its TTL has passed; true when it did.
    pub fn expire_if_needed(&mut self, key: &[u8], now_ms: i64) -> bool {
        // Every key with a TTL is in `volatile`: without any, no lookup is needed (the common
        // case of a cache filled without TTLs, where this ran once per write).
        if self.volatile.is_empty() {
            return false;
        }
        let expired =
            matches!(self.dict.get(key), Some(e) if e.expire_at != 0 && e.expire_at <= now_ms);
        if expired && (self.keep_expired || now_ms < self.expiry_paused_until) {
            return true;
        }
        if expired {
            self.before_change(key);
            self.unindex(key);
        }
        if expired && let Some((k, e)) = self.dict.remove(key) {
            self.used = self.used.saturating_sub(entry_size(&k, &e.value));
            self.volatile.remove(key);
            Self::touch_watched(&mut self.watched, key);
            self.expired += 1;
            self.expired_log.push(k);
            if self.lazy_expire {
                self.lazyfree.release(e.value);
            }
        }
        expired
    }

    /// Read lookup by a command that reads the key: counts a keyspace hit or miss and records
    /// the access for LRU/LFU. One hash lookup on the common path.
    pub fn get(&mut self, key: &[u8], now_ms: i64) -> Option<&Entry> {
        let touch = !self.no_touch;
        self.lookup(key, now_ms, touch)
    }

    /// [`Db::get`] that leaves the access time alone (TTL, PTTL, EXPIRETIME: Redis looks
    /// these up with its no-touch flag) but counts the hit or miss.
    pub fn get_untouched(&mut self, key: &[u8], now_ms: i64) -> Option<&Entry> {
        self.lookup(key, now_ms, false)
    }

    #[inline]
    fn lookup(&mut self, key: &[u8], now_ms: i64, touch: bool) -> Option<&Entry> {
        let Some(i) = self.dict.index_of(key) else {
            self.misses += 1;
            return None;
        };
        if self
            .dict
            .at(i)
            .is_some_and(|e| e.expire_at != 0 && e.expire_at <= now_ms)
        {
            self.expire_if_needed(key, now_ms);
            self.misses += 1;
            return None;
        }
        let access = self.access;
        let e = self.dict.at_mut(i)?;
        self.hits += 1;
        if touch {
            Self::touch(access, e, now_ms);
        }
        Some(e)
    }

    /// [`Db::get`] for a read (a keyspace hit or miss, the access time updated), or when
    /// `!read` [`Db::peek`]: a write's lookup, which redis-server counts nowhere.
    pub fn lookup_for(&mut self, key: &[u8], now_ms: i64, read: bool) -> Option<&Entry> {
        if read {
            self.get(key, now_ms)
        } else {
            self.peek(key, now_ms)
        }
    }

    /// Lookup without side effects on statistics or access time (TYPE-like introspection still
    /// expires lazily).
    pub fn peek(&mut self, key: &[u8], now_ms: i64) -> Option<&Entry> {
        if self.expire_if_needed(key, now_ms) {
            return None;
        }
        self.dict.get(key)
    }

    /// Lookup without expiring anything (for callers that already expired, e.g. SCAN filters).
    pub fn peek_raw(&self, key: &[u8]) -> Option<&Entry> {
        self.dict.get(key)
    }

    /// Whether `key` exists (expires lazily; no statistics).
    pub fn exists(&mut self, key: &[u8], now_ms: i64) -> bool {
        self.peek(key, now_ms).is_some()
    }

    /// Write lookup: the value for in-place modification (marks the key modified).
    pub fn get_mut(&mut self, key: &[u8], now_ms: i64) -> Option<ValueMut<'_>> {
        self.before_change(key);
        let i = self.dict.index_of(key)?;
        if self
            .dict
            .at(i)
            .is_some_and(|e| e.expire_at != 0 && e.expire_at <= now_ms)
        {
            self.expire_if_needed(key, now_ms);
            return None;
        }
        let access = self.access;
        let e = self.dict.at_mut(i)?;
        if !self.no_touch {
            Self::touch(access, e, now_ms);
        }
        let old = e.value.mem_size();
        Some(ValueMut {
            v: &mut e.value,
            used: &mut self.used,
            old,
            touch: Self::watch_counter(&mut self.watched, key),
            logged: Self::log_for_value(&mut self.modified_log, key),
        })
    }

    /// Accounts for an existing entry found already expired by a write that reuses its slot.
    fn reclaim_expired_in_place(&mut self, key: &[u8], old_size: usize) {
        self.used = self.used.saturating_sub(old_size);
        self.volatile.remove(key);
        Self::touch_watched(&mut self.watched, key);
        self.expired += 1;
        self.expired_log.push(key.into());
    }

    /// Write lookup that creates the key with `make()` when missing (no TTL). Returns the value
    /// and whether it was created. Callers must check the variant (WRONGTYPE) themselves.
    pub fn get_or_create(
        &mut self,
        key: &[u8],
        now_ms: i64,
        make: impl FnOnce() -> Value,
    ) -> (ValueMut<'_>, bool) {
        self.before_change(key);
        let lru = self.initial_lru(now_ms);
        let access = self.access;
        let mut make = Some(make);
        let mut fresh = || make.take().map_or(Value::Str(Str::default()), |f| f());
        let (e, mut created) =
            Self::entry_for_write(&mut self.dict, self.slot_index.as_deref_mut(), key, lru);
        let mut reclaimed = None;
        if created {
            e.value = fresh();
        } else if e.expire_at != 0 && e.expire_at <= now_ms {
            // The old value expired: the write sees a fresh key.
            reclaimed = Some(entry_size(key, &e.value));
            e.value = fresh();
            e.expire_at = 0;
            e.lru = lru;
            created = true;
        } else if !self.no_touch {
            Self::touch(access, e, now_ms);
        }
        // Field-level bookkeeping (not a method call) so `e` stays borrowed: one hash lookup.
        // A created key reads as changed to its watchers even if the caller then reports the
        // access unchanged: it exists now.
        if let Some(sz) = reclaimed {
            self.used = self.used.saturating_sub(sz);
            self.volatile.remove(key);
            Self::touch_watched(&mut self.watched, key);
            self.expired += 1;
            self.expired_log.push(key.into());
        }
        if created {
            self.used += key_size(key);
            if self.track_new {
                self.new_log.push(key.into());
            }
            Self::log_modified(&mut self.modified_log, key);
        }
        // A new value counts from zero so that its whole size is added on drop.
        let old = if created { 0 } else { e.value.mem_size() };
        let logged = match created {
            true => None,
            false => Self::log_for_value(&mut self.modified_log, key),
        };
        (
            ValueMut {
                v: &mut e.value,
                used: &mut self.used,
                old,
                touch: Self::watch_counter(&mut self.watched, key),
                logged,
            },
            created,
        )
    }

    /// Stores `value` under `key`, replacing any value. The TTL is cleared unless `keep_ttl`.
    pub fn set(&mut self, key: &[u8], value: Value, now_ms: i64, keep_ttl: bool) {
        self.before_change(key);
        Self::touch_watched(&mut self.watched, key);
        Self::log_modified(&mut self.modified_log, key);
        let lru = self.initial_lru(now_ms);
        let new_size = value.mem_size();
        let (e, created) =
            Self::entry_for_write(&mut self.dict, self.slot_index.as_deref_mut(), key, lru);
        let expired = !created && e.expire_at != 0 && e.expire_at <= now_ms;
        let old_size = if created { 0 } else { e.value.mem_size() };
        let replaced = std::mem::replace(&mut e.value, value);
        if self.lazy_server_del && !created {
            self.lazyfree.release(replaced);
        }
        e.lru = lru;
        let had_ttl = e.expire_at != 0;
        if !keep_ttl || expired {
            e.expire_at = 0;
        }
        if (created || expired) && self.track_new {
            self.new_log.push(key.into());
        }
        if created {
            self.used += key_size(key) + new_size;
        } else if expired {
            self.reclaim_expired_in_place(key, key_size(key) + old_size);
            self.used += key_size(key) + new_size;
        } else {
            self.used = (self.used + new_size).saturating_sub(old_size);
            if had_ttl && !keep_ttl {
                self.volatile.remove(key);
            }
        }
    }

    /// Removes a key (no expiry check needed: an expired key is removed either way).
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        self.before_change(key);
        self.unindex(key);
        let (k, e) = self.dict.remove(key)?;
        self.used = self.used.saturating_sub(entry_size(&k, &e.value));
        if e.expire_at != 0 {
            self.volatile.remove(key);
        }
        Self::touch_watched(&mut self.watched, key);
        Self::log_modified(&mut self.modified_log, key);
        Some(e)
    }

    /// Removes a key if it holds an empty collection (Redis never keeps empty collections).
    pub fn remove_if_empty(&mut self, key: &[u8]) -> bool {
        let empty = match self.dict.get(key).map(|e| &e.value) {
            Some(Value::List(l)) => l.is_empty(),
            Some(Value::Hash(h)) => h.is_empty(),
            Some(Value::Set(s)) => s.is_empty(),
            Some(Value::ZSet(z)) => z.is_empty(),
            _ => false,
        };
        if empty {
            self.remove(key);
        }
        empty
    }

    /// Inserts a whole entry (RENAME, MOVE, COPY, RESTORE), replacing any existing key.
    pub fn insert_entry(&mut self, key: &[u8], e: Entry) {
        self.before_change(key);
        if self.remove(key).is_none() {
            if self.track_new {
                self.new_log.push(key.into());
            }
            Self::log_modified(&mut self.modified_log, key);
        }
        Self::touch_watched(&mut self.watched, key);
        self.used += entry_size(key, &e.value);
        if e.expire_at != 0 {
            self.volatile.insert(key.into(), ());
        }
        self.dict.insert(key.into(), e);
        if let Some(ix) = self.slot_index.as_deref_mut()
            && let Some(pos) = self.dict.index_of(key)
            && ix.add(pos)
        {
            ix.resolve(|p| self.dict.slot_at(p as usize).map(|(k, _)| &**k));
        }
    }

    /// Sets the absolute expiry (ms) of an existing key; `0` removes the TTL. Returns false
    /// when the key does not exist.
    pub fn set_expire(&mut self, key: &[u8], at_ms: i64, now_ms: i64) -> bool {
        self.expire_if_needed(key, now_ms);
        self.before_change(key);
        let Some(e) = self.dict.get_mut(key) else {
            return false;
        };
        let had = e.expire_at != 0;
        e.expire_at = at_ms;
        Self::touch_watched(&mut self.watched, key);
        Self::log_modified(&mut self.modified_log, key);
        match (had, at_ms != 0) {
            (false, true) => {
                self.volatile.insert(key.into(), ());
            }
            (true, false) => {
                self.volatile.remove(key);
            }
            _ => {}
        }
        true
    }

    /// Absolute expiry in ms of a live key (`Some(0)` = no TTL, `None` = no key).
    pub fn expire_at(&mut self, key: &[u8], now_ms: i64) -> Option<i64> {
        self.peek(key, now_ms).map(|e| e.expire_at)
    }

    /// Current modification version of a watched key (call [`Db::watch_key`] first), for
    /// WATCH: the changes counted since the watch record was made, and whether the key exists
    /// (so a key that expired or was created without a write reported reads as changed too).
    pub fn version(&mut self, key: &[u8], now_ms: i64) -> Option<u64> {
        let exists = self.peek(key, now_ms).is_some();
        let changes = self.watched.get(key).map_or(0, |w| w.changes);
        Some(changes * 2 + u64::from(exists))
    }

    /// How many SWAPDBs touched watched `key` (a WATCH compares it at EXEC as it compares the
    /// version).
    pub fn swap_epoch(&self, key: &[u8]) -> u64 {
        self.watched.get(key).map_or(0, |w| w.swaps)
    }

    /// A client starts watching `key` (call before reading its [`Db::version`]).
    pub fn watch_key(&mut self, key: &[u8]) {
        self.watched.entry(key.into()).or_default().watchers += 1;
    }

    /// A client stops watching `key`; its deletion record goes with the last watcher.
    pub fn unwatch_key(&mut self, key: &[u8]) {
        if let Some(w) = self.watched.get_mut(key) {
            w.watchers = w.watchers.saturating_sub(1);
            if w.watchers == 0 {
                self.watched.remove(key);
            }
        }
    }

    /// SWAPDB moves the data, not the watches (they name a database index): swaps the
    /// watch records back, and touches each watched key that exists in either database (as
    /// redis-server does; a watched key missing from both, or only there as an expired key
    /// not yet deleted, stays unchanged).
    pub fn keep_watches_across_swap(a: &mut Db, b: &mut Db, now_ms: i64) {
        std::mem::swap(&mut a.watched, &mut b.watched);
        let dicts = (&a.dict, &b.dict);
        Db::touch_existing(&mut a.watched, dicts, now_ms);
        Db::touch_existing(&mut b.watched, dicts, now_ms);
        a.expire_stale_watched(now_ms);
        b.expire_stale_watched(now_ms);
    }

    /// A stale key SWAPDB brought under a watch reads as absent already at WATCH time (as in
    /// redis-server): it expires now, without counting as a change for its watchers.
    fn expire_stale_watched(&mut self, now_ms: i64) {
        let stale: Vec<Key> = (self.watched.keys())
            .filter(|k| {
                matches!(self.dict.get(k), Some(e) if e.expire_at != 0 && e.expire_at <= now_ms)
            })
            .cloned()
            .collect();
        for k in stale {
            let before = self.watched.get(&k).map(|w| w.changes);
            self.expire_if_needed(&k, now_ms);
            if let (Some(w), Some(before)) = (self.watched.get_mut(&k), before) {
                w.changes = before;
            }
        }
    }

    fn touch_existing(
        watched: &mut HashMap<Key, WatchRecord>,
        (x, y): (&Dict<Entry>, &Dict<Entry>),
        now_ms: i64,
    ) {
        let live = |e: &Entry| e.expire_at == 0 || e.expire_at > now_ms;
        for (k, w) in watched.iter_mut() {
            if x.get(k).is_some_and(live) || y.get(k).is_some_and(live) {
                w.swaps += 1;
            }
        }
    }

    /// Removes every key.
    pub fn clear(&mut self) {
        drop(self.take_table());
    }

    /// Removes every key and gives the table that held them, for the caller to drop (FLUSHDB
    /// ASYNC drops it in the background); `None` when a snapshot in progress keeps it.
    pub fn take_table(&mut self) -> Option<Dict<Entry>> {
        let emptied: Vec<Key> = (self.watched.keys())
            .filter(|k| self.dict.get(k).is_some())
            .cloned()
            .collect();
        for k in emptied {
            Self::touch_watched(&mut self.watched, &k);
        }
        let table = match self.snap.as_deref_mut() {
            // A snapshot in progress keeps reading the table as it was.
            Some(s) if s.frozen.is_none() && !s.done => {
                s.frozen = Some(std::mem::take(&mut self.dict));
                None
            }
            _ => Some(std::mem::take(&mut self.dict)),
        };
        if let Some(ix) = self.slot_index.as_mut() {
            ix.clear();
        }
        self.volatile.clear();
        self.used = 0;
        table
    }

    /// Keeps a per-slot key index from now on (database 0 of a cluster-mode node), built
    /// from the keys the table holds.
    pub fn enable_slot_index(&mut self) {
        if self.slot_index.is_none() {
            let mut ix = slots::SlotIndex::default();
            for pos in 0..self.dict.slot_count() {
                if self.dict.slot_at(pos).is_some() {
                    ix.add(pos as u32);
                }
            }
            ix.resolve(|p| self.dict.slot_at(p as usize).map(|(k, _)| &**k));
            self.slot_index = Some(Box::new(ix));
        }
    }

    /// The entry a write stores into, created blank (and indexed by slot) when missing;
    /// whether it was created.
    fn entry_for_write<'a>(
        dict: &'a mut Dict<Entry>,
        index: Option<&mut slots::SlotIndex>,
        key: &[u8],
        lru: u32,
    ) -> (&'a mut Entry, bool) {
        let blank = || Entry {
            value: Value::Str(Str::default()),
            expire_at: 0,
            lru,
        };
        let Some(ix) = index else {
            return dict.get_or_insert_with(key, blank);
        };
        let (pos, created) = dict.get_or_insert_index(key, blank);
        if created && ix.add(pos) {
            ix.resolve(|p| dict.slot_at(p as usize).map(|(k, _)| &**k));
        }
        (dict.at_mut(pos).expect("slab index just returned"), created)
    }

    /// Drops `key` from the slot index before it leaves the table.
    fn unindex(&mut self, key: &[u8]) {
        if let Some(ix) = self.slot_index.as_deref_mut()
            && let Some(pos) = self.dict.index_of(key)
        {
            ix.remove(pos);
        }
    }

    /// Up to `limit` live keys of the slots in `ranges` (inclusive), slot by slot; `None`
    /// without a slot index (the caller scans instead).
    pub fn slot_keys(
        &mut self,
        ranges: &[(u16, u16)],
        limit: usize,
        now_ms: i64,
    ) -> Option<Vec<Key>> {
        let ix = self.slot_index.as_deref_mut()?;
        ix.resolve(|p| self.dict.slot_at(p as usize).map(|(k, _)| &**k));
        let keys = (ix.slots_in(ranges).into_iter())
            .flat_map(|slot| ix.positions(slot))
            .filter_map(|pos| self.dict.slot_at(pos as usize))
            .filter(|(_, e)| e.expire_at == 0 || e.expire_at > now_ms)
            .map(|(k, _)| k.clone())
            .take(limit)
            .collect();
        Some(keys)
    }

    /// One SCAN step over the keyspace; `visit` gets live keys only.
    pub fn scan(
        &self,
        cursor: u64,
        count: usize,
        now_ms: i64,
        mut visit: impl FnMut(&Key, &Entry),
    ) -> u64 {
        self.dict.scan(cursor, count, |k, e| {
            if e.expire_at == 0 || e.expire_at > now_ms {
                visit(k, e)
            }
        })
    }

    /// Iterates all keys, including logically-expired ones (callers filter with `now`).
    pub fn iter(&self) -> impl Iterator<Item = (&Key, &Entry)> {
        self.dict.iter()
    }

    /// A random live key (RANDOMKEY); expired keys met on the way are reclaimed.
    pub fn random_key(&mut self, now_ms: i64) -> Option<Key> {
        for _ in 0..100 {
            let mut r = self.rng;
            let k = self
                .dict
                .random_entry(|| {
                    r ^= r << 13;
                    r ^= r >> 7;
                    r ^= r << 17;
                    r
                })
                .map(|(k, _)| k.clone())?;
            self.rng = r;
            if !self.expire_if_needed(&k, now_ms) {
                return Some(k);
            }
        }
        None
    }

    /// A random key among those with a TTL, with its entry (eviction, active expiry).
    pub fn random_volatile(&mut self) -> Option<(Key, &Entry)> {
        let mut r = self.rng;
        let k = self
            .volatile
            .random_entry(|| {
                r ^= r << 13;
                r ^= r >> 7;
                r ^= r << 17;
                r
            })
            .map(|(k, _)| k.clone())?;
        self.rng = r;
        let e = self.dict.get(&k)?;
        Some((k, e))
    }

    /// A random key with its entry (allkeys-* eviction).
    pub fn random_any(&mut self) -> Option<(Key, &Entry)> {
        let mut r = self.rng;
        let (k, e) = self.dict.random_entry(|| {
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            r
        })?;
        self.rng = r;
        Some((k.clone(), e))
    }

    /// Active expiry, as Redis' cycle: sample up to 20 keys with a TTL, delete the expired
    /// ones, repeat while more than 25% of a sample was expired, within `max_rounds`.
    /// Returns how many keys were deleted.
    pub fn active_expire(&mut self, now_ms: i64, max_rounds: usize) -> usize {
        let mut deleted = 0;
        for _ in 0..max_rounds {
            if self.volatile.is_empty() {
                break;
            }
            let sample = self.volatile.len().min(20);
            let mut hit = 0;
            for _ in 0..sample {
                let Some((k, _)) = self.random_volatile() else {
                    break;
                };
                if self.expire_if_needed(&k, now_ms) {
                    hit += 1;
                }
            }
            deleted += hit;
            if hit * 4 <= sample {
                break;
            }
        }
        deleted
    }

    /// Removes every key whose TTL passed (DEBUG-like full sweep, used by tests and SWAPDB).
    pub fn expire_all_due(&mut self, now_ms: i64) -> usize {
        let due: Vec<Key> = self
            .volatile
            .iter()
            .filter(|(k, _)| matches!(self.dict.get(k), Some(e) if e.expire_at <= now_ms))
            .map(|(k, _)| k.clone())
            .collect();
        let n = due.len();
        for k in due {
            self.expire_if_needed(&k, now_ms);
        }
        n
    }
}

/// WRONGTYPE unless `v` is a string; returns the bytes.
pub fn as_str(v: &Value) -> Result<&[u8], CmdError> {
    match v {
        Value::Str(s) => Ok(s),
        _ => Err(errors::WRONGTYPE.into()),
    }
}

/// The WRONGTYPE error, for families' own matches.
pub fn wrong_type() -> CmdError {
    errors::WRONGTYPE.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::Str(v.as_bytes().to_vec().into())
    }

    #[test]
    fn lazy_expiry_and_accounting() {
        let mut db = Db::new();
        db.set(b"a", s("1"), 1000, false);
        db.set(b"b", s("2"), 1000, false);
        let used = db.used;
        assert!(used > 0);
        assert!(db.set_expire(b"a", 1500, 1000));
        assert_eq!(db.expires_len(), 1);
        assert!(db.get(b"a", 1499).is_some());
        assert!(db.get(b"a", 1500).is_none());
        assert_eq!(db.expired, 1);
        assert_eq!(db.expires_len(), 0);
        assert_eq!(db.expired_log.len(), 1);
        db.remove(b"b");
        assert_eq!(db.used, 0);
    }

    #[test]
    fn value_mut_reaccounts() {
        let mut db = Db::new();
        db.set(b"k", s("x"), 0, false);
        let before = db.used;
        if let Some(mut v) = db.get_mut(b"k", 0)
            && let Value::Str(b) = &mut *v
        {
            b.vec_mut().extend_from_slice(&[0u8; 1000]);
        }
        assert!(db.used >= before + 1000);
    }

    #[test]
    fn versions_change_on_write() {
        let mut db = Db::new();
        db.set(b"k", s("x"), 0, false);
        db.watch_key(b"k");
        let v1 = db.version(b"k", 0);
        db.set(b"k", s("x"), 0, false);
        assert_ne!(db.version(b"k", 0), v1);
    }

    /// Every way a watched key changes moves its version; a failed write and other keys'
    /// writes do not.
    #[test]
    fn a_stale_key_swapped_under_a_watch_expires_unnoticed() {
        let (mut a, mut b) = (Db::new(), Db::new());
        a.set(b"x", s("foo"), 0, false);
        a.set_expire(b"x", 10, 0);
        b.watch_key(b"x");
        let ver = b.version(b"x", 20);
        std::mem::swap(&mut a, &mut b);
        Db::keep_watches_across_swap(&mut a, &mut b, 20);
        assert!(b.peek_raw(b"x").is_none(), "expired at the swap");
        assert_eq!(b.version(b"x", 20), ver, "not a change for the watcher");
    }

    #[test]
    fn watched_versions_follow_every_change() {
        let mut db = Db::new();
        db.set(b"k", s("1"), 0, false);
        db.watch_key(b"k");
        db.watch_key(b"missing");
        let mut v = db.version(b"k", 0);
        let gone = db.version(b"missing", 0);
        fn changed(db: &mut Db, v: &mut Option<u64>, what: &str) {
            let now = db.version(b"k", 0);
            assert_ne!(now, *v, "{what}");
            *v = now;
        }
        drop(db.get_mut(b"k", 0));
        changed(&mut db, &mut v, "get_mut");
        db.set_expire(b"k", 50, 0);
        changed(&mut db, &mut v, "expire");
        db.set(b"other", s("x"), 0, false);
        if let Some(m) = db.get_mut(b"k", 0) {
            m.unchanged();
        }
        assert_eq!(db.version(b"k", 0), v, "unchanged access, other key");
        assert!(db.get(b"k", 60).is_none());
        changed(&mut db, &mut v, "expired");
        db.get_or_create(b"k", 60, || s("2")).0.unchanged();
        changed(&mut db, &mut v, "created");
        db.remove(b"k");
        changed(&mut db, &mut v, "removed");
        db.get_or_create(b"k", 60, || s("3"));
        db.remove(b"k");
        changed(&mut db, &mut v, "created and removed again");
        assert_eq!(db.version(b"missing", 0), gone, "never touched");
        db.set(b"k", s("4"), 0, false);
        changed(&mut db, &mut v, "set");
        db.clear();
        changed(&mut db, &mut v, "flushed");
        assert_eq!(
            db.version(b"missing", 0),
            gone,
            "a flush leaves missing keys alone"
        );
    }

    #[test]
    fn active_expiry_reclaims_untouched_keys() {
        let mut db = Db::new();
        for i in 0..100 {
            let k = format!("k{i}");
            db.set(k.as_bytes(), s("v"), 0, false);
            db.set_expire(k.as_bytes(), 10, 0);
        }
        db.set(b"keep", s("v"), 0, false);
        let mut n = 0;
        for _ in 0..100 {
            n += db.active_expire(20, 16);
        }
        assert_eq!(n, 100);
        assert_eq!(db.len(), 1);
    }
}
