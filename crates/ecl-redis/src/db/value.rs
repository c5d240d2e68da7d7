//! The value stored under a key, and the per-key entry metadata (expiry, LRU/LFU, version).
//!
//! Place in the flow: [`crate::db::Db`] maps keys to [`Entry`]; command families read and
//! mutate the [`Value`] through `Db` so memory accounting, WATCH versions and expiry stay right.
//! HyperLogLog values are strings (as in Redis, `TYPE` says `string`), so they have no variant.

use super::bytes::{INLINE, SmallBytes};
use super::{hash::Hash, list::List, set::Set, stream::Stream, zset::ZSet};

/// Fixed per-key cost counted in `used_memory`: the keyspace's slab slot, which holds the key
/// and the value inline when they are short (the bucket is counted per table).
pub const KEY_OVERHEAD: usize = super::Dict::<Entry>::SLOT_BYTES;

/// Bytes a key costs in the keyspace: its slot plus the heap block of a key too long to be
/// kept inline.
pub fn key_size(key: &[u8]) -> usize {
    KEY_OVERHEAD + if key.len() > INLINE { key.len() } else { 0 }
}

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
/// the HyperLogLog commands becomes `raw` whatever its length. Any mutable access (through
/// [`DerefMut`](std::ops::DerefMut) or [`Str::vec_mut`]) therefore marks the string raw; SET-like
/// paths build a fresh [`Str`] (or call [`Str::assign`]) and INCR-style rewrites call
/// [`Str::reencode`]. The encoding is bookkeeping only: the bytes live inline up to
/// [`super::bytes::INLINE`] bytes whatever the encoding says (see [`SmallBytes`]).
#[derive(Clone, Debug, Default)]
pub struct Str {
    bytes: SmallBytes,
    /// The [`StrKind`] in the low two bits and, above them, the EXEC whose queued command stored
    /// this string as its argument (0: none; see [`Str::hold`]). One word instead of two keeps
    /// [`Value`] at 32 bytes; EXEC tags come from a 64-bit counter and never reach 2^62.
    meta: u64,
}

const KIND_BITS: u32 = 2;

fn kind_code(k: StrKind) -> u64 {
    match k {
        StrKind::Fresh => 0,
        StrKind::Plain => 1,
        StrKind::Raw => 2,
        StrKind::Copied => 3,
    }
}

/// Equality is of content and encoding; who holds the object is not part of the value.
impl PartialEq for Str {
    fn eq(&self, other: &Str) -> bool {
        self.bytes == other.bytes && self.kind() == other.kind()
    }
}

impl Eq for Str {}

impl Str {
    fn with_kind(bytes: SmallBytes, kind: StrKind) -> Str {
        Str {
            bytes,
            meta: kind_code(kind),
        }
    }
    fn set_meta(&mut self, kind: StrKind, held: u64) {
        self.meta = (held << KIND_BITS) | kind_code(kind);
    }
    /// A string held as `raw` whatever its content (BITOP, HyperLogLog results).
    pub fn raw(bytes: Vec<u8>) -> Str {
        Str::with_kind(bytes.into(), StrKind::Raw)
    }
    /// A string built without the integer attempt (`embstr` up to 44 bytes, else `raw`).
    pub fn plain(bytes: Vec<u8>) -> Str {
        Str::with_kind(bytes.into(), StrKind::Plain)
    }
    /// How the string is held.
    pub fn kind(&self) -> StrKind {
        match self.meta & ((1 << KIND_BITS) - 1) {
            0 => StrKind::Fresh,
            1 => StrKind::Plain,
            2 => StrKind::Raw,
            _ => StrKind::Copied,
        }
    }
    /// Replaces the content as a SET-like command would (encoding chosen from the content).
    pub fn assign(&mut self, val: &[u8]) {
        self.bytes = val.into();
        self.set_meta(StrKind::Fresh, 0);
    }
    /// After an in-place rewrite that Redis performs by building a new object from the bytes
    /// (INCR family, APPEND creating the key): the encoding follows the content again.
    pub fn reencode(&mut self) {
        self.set_meta(StrKind::Fresh, 0);
    }
    /// Marks the string as the argument object of a command queued in the EXEC tagged `exec`
    /// (0: none). Redis stores SET's (SETNX, SETEX, GETSET, MSET, APPEND to a new key…) argument
    /// object itself and a queued command's arguments stay referenced until EXEC ends, so until
    /// then `OBJECT REFCOUNT` counts 2 (checked on redis-server 7.0.15: 2 inside the EXEC, also
    /// after RENAME/MOVE/SWAPDB; 1 after APPEND or SETRANGE edit it, for a COPY, for a SET run
    /// by a script, and once EXEC returned).
    pub fn hold(&mut self, exec: u64) {
        self.set_meta(self.kind(), exec);
    }
    /// The EXEC tag given by [`Str::hold`] (0: none).
    pub fn held_by(&self) -> u64 {
        self.meta >> KIND_BITS
    }
    /// A copy held as an object of its own (COPY duplicates the value; a shared integer's copy
    /// is no longer shared).
    pub fn unshare(&mut self) {
        let kind = match self.kind() {
            StrKind::Fresh => StrKind::Copied,
            k => k,
        };
        self.set_meta(kind, 0);
    }
    /// Whether Redis would hold this string as one of its shared integers: built by a SET-like
    /// command (or INCR, RESTORE) from a canonical integer in `0..10000`. Sharing also needs a
    /// maxmemory policy that allows it, which the caller checks.
    pub fn is_shared_integer(&self) -> bool {
        self.kind() == StrKind::Fresh
            && self.bytes.len() <= 4
            && crate::db::string::parse_i64(&self.bytes)
                .is_some_and(|v| (0..SHARED_INTEGERS).contains(&v))
    }
    /// The bytes, by value.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes.into_vec()
    }
    /// The bytes as a growable vector for edits that change the length (APPEND, SETRANGE,
    /// SETBIT): marks the string raw, as [`DerefMut`](std::ops::DerefMut) does.
    pub fn vec_mut(&mut self) -> &mut Vec<u8> {
        self.set_meta(StrKind::Raw, 0);
        self.bytes.vec_mut()
    }
    /// Heap bytes held besides the [`Value`] itself (0 for a string kept inline).
    pub fn heap_size(&self) -> usize {
        self.bytes.heap_size()
    }
}

impl From<Vec<u8>> for Str {
    fn from(bytes: Vec<u8>) -> Str {
        Str::with_kind(bytes.into(), StrKind::Fresh)
    }
}

impl std::ops::Deref for Str {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

impl std::ops::DerefMut for Str {
    fn deref_mut(&mut self) -> &mut [u8] {
        // Redis edits a private copy of a shared object: an EXEC's argument no longer.
        self.set_meta(StrKind::Raw, 0);
        self.bytes.as_mut_slice()
    }
}

impl PartialEq<[u8]> for Str {
    fn eq(&self, other: &[u8]) -> bool {
        *self.bytes == *other
    }
}

impl<const N: usize> PartialEq<&[u8; N]> for Str {
    fn eq(&self, other: &&[u8; N]) -> bool {
        *self.bytes == other[..]
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
            Value::Str(s) => s.heap_size(),
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
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small key costs one slab slot and nothing else; these sizes are what the memory
    /// figures of issue 17 rest on, so growing them should be a decision, not an accident.
    #[test]
    fn per_key_sizes() {
        assert_eq!(std::mem::size_of::<Str>(), 32);
        assert_eq!(std::mem::size_of::<Value>(), 32);
        assert_eq!(std::mem::size_of::<Entry>(), 48);
        assert_eq!(KEY_OVERHEAD, 80);
        assert_eq!(key_size(b"key:0000001"), KEY_OVERHEAD);
        assert_eq!(key_size(&[b'k'; 40]), KEY_OVERHEAD + 40);
    }

    #[test]
    fn small_strings_stay_inline_whatever_their_encoding() {
        let v = Value::Str(b"value:0001".to_vec().into());
        assert_eq!((v.mem_size(), v.encoding()), (0, "embstr"));
        let v = Value::Str(b"12345".to_vec().into());
        assert_eq!((v.mem_size(), v.encoding()), (0, "int"));
        let mut s = Str::from(b"abc".to_vec());
        s.vec_mut().extend_from_slice(b"def");
        assert_eq!(Value::Str(s).encoding(), "raw");
        let v = Value::Str(vec![b'x'; 100].into());
        assert_eq!((v.mem_size(), v.encoding()), (100, "raw"));
    }

    #[test]
    fn exec_tag_and_kind_share_a_word() {
        let mut s = Str::plain(b"x".to_vec());
        s.hold(u64::MAX >> 2);
        assert_eq!((s.kind(), s.held_by()), (StrKind::Plain, u64::MAX >> 2));
        s.unshare();
        assert_eq!((s.kind(), s.held_by()), (StrKind::Plain, 0));
        let mut s = Str::from(b"1".to_vec());
        s.hold(7);
        s[0] = b'2';
        assert_eq!((s.kind(), s.held_by()), (StrKind::Raw, 0));
    }
}
