//! The value stored under a key, and the per-key entry metadata (expiry, LRU/LFU, version).
//!
//! Place in the flow: [`crate::db::Db`] maps keys to [`Entry`]; command families read and
//! mutate the [`Value`] through `Db` so memory accounting, WATCH versions and expiry stay right.
//! HyperLogLog values are strings (as in Redis, `TYPE` says `string`), so they have no variant.

use super::{hash::Hash, list::List, set::Set, stream::Stream, zset::ZSet};

/// Fixed per-key overhead counted in `used_memory` (entry, dict slot, bucket), roughly what
/// Redis reports per small key.
pub const KEY_OVERHEAD: usize = 56;

/// How Redis would hold a string object, beyond what its bytes say.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StrKind {
    /// Built from a SET-like argument: `int` when integer-like, else `embstr` up to 44 bytes.
    #[default]
    Fresh,
    /// Built as a plain string without the integer attempt (INCRBYFLOAT results).
    Plain,
    /// Edited in place or built by BITOP/HyperLogLog: `raw` whatever its length.
    Raw,
    /// A copy of a [`StrKind::Fresh`] string (COPY): the same encoding, but an object of its own,
    /// never one of Redis' shared integers.
    Copied,
}

/// `OBJECT REFCOUNT` of Redis' shared integer objects (`INT_MAX`).
pub const SHARED_REFCOUNT: i64 = 2_147_483_647;
/// Redis shares the integer objects below this (`OBJ_SHARED_INTEGERS`).
const SHARED_INTEGERS: i64 = 10_000;

/// A string value plus how Redis would have encoded it.
///
/// Redis picks `int`/`embstr` only when it builds a string from a SET-like command's argument;
/// a string edited in place (APPEND, SETRANGE, SETBIT, BITFIELD, PFADD) or built by BITOP or
/// the HyperLogLog commands becomes `raw` whatever its length. Any mutable access through
/// [`DerefMut`](std::ops::DerefMut) therefore marks the string raw; SET-like paths build a
/// fresh [`Str`] (or call [`Str::assign`]) and INCR-style rewrites call [`Str::reencode`].
#[derive(Clone, Debug, Default)]
pub struct Str {
    bytes: Vec<u8>,
    kind: StrKind,
    /// The EXEC whose queued command stored this string as its argument (0: none); see
    /// [`Str::hold`].
    held: u64,
}

/// Equality is of content and encoding; who holds the object is not part of the value.
impl PartialEq for Str {
    fn eq(&self, other: &Str) -> bool {
        self.bytes == other.bytes && self.kind == other.kind
    }
}

impl Eq for Str {}

impl Str {
    /// A string held as `raw` whatever its content (BITOP, HyperLogLog results).
    pub fn raw(bytes: Vec<u8>) -> Str {
        Str {
            bytes,
            kind: StrKind::Raw,
            held: 0,
        }
    }
    /// A string built without the integer attempt (`embstr` up to 44 bytes, else `raw`).
    pub fn plain(bytes: Vec<u8>) -> Str {
        Str {
            bytes,
            kind: StrKind::Plain,
            held: 0,
        }
    }
    /// How the string is held.
    pub fn kind(&self) -> StrKind {
        self.kind
    }
    /// Replaces the content as a SET-like command would (encoding chosen from the content).
    pub fn assign(&mut self, val: &[u8]) {
        self.bytes.clear();
        self.bytes.extend_from_slice(val);
        self.kind = StrKind::Fresh;
        self.held = 0;
    }
    /// After an in-place rewrite that Redis performs by building a new object from the bytes
    /// (INCR family, APPEND creating the key): the encoding follows the content again.
    pub fn reencode(&mut self) {
        self.kind = StrKind::Fresh;
        self.held = 0;
    }
    /// Marks the string as the argument object of a command queued in the EXEC tagged `exec`
    /// (0: none). Redis stores SET's (SETNX, SETEX, GETSET, MSET, APPEND to a new key…) argument
    /// object itself and a queued command's arguments stay referenced until EXEC ends, so until
    /// then `OBJECT REFCOUNT` counts 2 (checked on redis-server 7.0.15: 2 inside the EXEC, also
    /// after RENAME/MOVE/SWAPDB; 1 after APPEND or SETRANGE edit it, for a COPY, for a SET run
    /// by a script, and once EXEC returned).
    pub fn hold(&mut self, exec: u64) {
        self.held = exec;
    }
    /// The EXEC tag given by [`Str::hold`] (0: none).
    pub fn held_by(&self) -> u64 {
        self.held
    }
    /// A copy held as an object of its own (COPY duplicates the value; a shared integer's copy
    /// is no longer shared).
    pub fn unshare(&mut self) {
        self.held = 0;
        if self.kind == StrKind::Fresh {
            self.kind = StrKind::Copied;
        }
    }
    /// Whether Redis would hold this string as one of its shared integers: built by a SET-like
    /// command (or INCR, RESTORE) from a canonical integer in `0..10000`. Sharing also needs a
    /// maxmemory policy that allows it, which the caller checks.
    pub fn is_shared_integer(&self) -> bool {
        self.kind == StrKind::Fresh
            && self.bytes.len() <= 4
            && crate::db::string::parse_i64(&self.bytes)
                .is_some_and(|v| (0..SHARED_INTEGERS).contains(&v))
    }
    /// The bytes, by value.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

impl From<Vec<u8>> for Str {
    fn from(bytes: Vec<u8>) -> Str {
        Str {
            bytes,
            kind: StrKind::Fresh,
            held: 0,
        }
    }
}

impl std::ops::Deref for Str {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.bytes
    }
}

impl std::ops::DerefMut for Str {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        // Redis edits a private copy of a shared object: an EXEC's argument no longer.
        self.kind = StrKind::Raw;
        self.held = 0;
        &mut self.bytes
    }
}

impl PartialEq<[u8]> for Str {
    fn eq(&self, other: &[u8]) -> bool {
        self.bytes == other
    }
}

impl<const N: usize> PartialEq<&[u8; N]> for Str {
    fn eq(&self, other: &&[u8; N]) -> bool {
        self.bytes == other[..]
    }
}

/// A Redis value.
#[derive(Clone, Debug)]
pub enum Value {
    /// String (also integers, bitmaps and HyperLogLogs).
    Str(Str),
    /// List.
    List(Box<List>),
    /// Hash.
    Hash(Box<Hash>),
    /// Set.
    Set(Box<Set>),
    /// Sorted set.
    ZSet(Box<ZSet>),
    /// Stream.
    Stream(Box<Stream>),
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
            Value::Stream(_) => "stream",
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
            Value::Stream(s) => s.mem_size(),
        }
    }

    /// The name `OBJECT ENCODING` reports, using the default listpack/intset thresholds.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => {
                if s.kind() == StrKind::Raw || (s.kind() == StrKind::Plain && s.len() > 44) {
                    "raw"
                } else if s.kind() == StrKind::Plain {
                    "embstr"
                } else if s.len() <= 20 && crate::db::string::parse_i64(s).is_some() {
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
            Value::Stream(_) => "stream",
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
