//! The value stored under a key, and the per-key entry metadata (expiry, LRU/LFU, version).
//!
//! Place in the flow: [`crate::db::Db`] maps keys to [`Entry`]; command families read and
//! mutate the [`Value`] through `Db` so memory accounting, WATCH versions and expiry stay right.
//! HyperLogLog values are strings (as in Redis, `TYPE` says `string`), so they have no variant.

use super::{hash::Hash, list::List, set::Set, zset::ZSet};

/// Fixed per-key overhead counted in `used_memory` (entry, dict slot, bucket), roughly what
/// Redis reports per small key.
pub const KEY_OVERHEAD: usize = 56;

/// A Redis value.
#[derive(Clone, Debug)]
pub enum Value {
    /// String (also integers, bitmaps and HyperLogLogs).
    Str(Vec<u8>),
    /// List.
    List(Box<List>),
    /// Hash.
    Hash(Box<Hash>),
    /// Set.
    Set(Box<Set>),
    /// Sorted set.
    ZSet(Box<ZSet>),
}

impl Value {
    /// The name `TYPE` reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
        }
    }

    /// Approximate bytes used by the value (O(1): collections keep running totals).
    pub fn mem_size(&self) -> usize {
        match self {
            Value::Str(s) => s.capacity() + 16,
            Value::List(l) => l.mem_size(),
            Value::Hash(h) => h.mem_size(),
            Value::Set(s) => s.mem_size(),
            Value::ZSet(z) => z.mem_size(),
        }
    }

    /// The name `OBJECT ENCODING` reports, using the default listpack/intset thresholds.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => {
                if s.len() <= 20 && crate::db::string::parse_i64(s).is_some() {
                    "int"
                } else if s.len() <= 44 {
                    "embstr"
                } else {
                    "raw"
                }
            }
            Value::List(l) => l.encoding(),
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
        }
    }
}

/// What the keyspace stores per key.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The value.
    pub value: Value,
    /// Absolute expiry in Unix milliseconds; 0 means no TTL.
    pub expire_at: i64,
    /// LRU clock (seconds) or LFU data (`minutes << 8 | counter`), per maxmemory-policy.
    pub lru: u32,
    /// Modification version (from the database's counter), for WATCH.
    pub ver: u64,
}
