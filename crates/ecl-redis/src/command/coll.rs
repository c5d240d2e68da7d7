//! Helpers shared by the collection families (lists, hashes, sets, sorted sets): typed reads
//! and writes with WRONGTYPE checks, empty-key cleanup, encoding limits from the
//! configuration, `numkeys` parsing and scan replies.
//!
//! Place in the flow: handlers in `lists.rs`, `hashes.rs`, `sets.rs`, `zsets*.rs` call these
//! so every family treats types, memory accounting (via the `ValueMut` guard), WATCH versions
//! and the "never keep an empty collection" rule the same way.

use super::{Argv, Ctx};
use crate::config::notify;
use crate::db::hash::Hash;
use crate::db::list::List;
use crate::db::set::{Set, SetLimits};
use crate::db::zset::ZSet;
use crate::db::{Key, Value, wrong_type};
use crate::errors::CmdError;

/// A collection type stored in a [`Value`] variant.
pub trait Coll: Sized {
    /// An empty value of this type, wrapped.
    fn make() -> Value;
    /// The collection inside `v`, when `v` has this type.
    fn of(v: &Value) -> Option<&Self>;
    /// Mutable form of [`Coll::of`].
    fn of_mut(v: &mut Value) -> Option<&mut Self>;
}

macro_rules! coll {
    ($t:ty, $var:ident) => {
        impl Coll for $t {
            fn make() -> Value {
                Value::$var(Box::default())
            }
            fn of(v: &Value) -> Option<&Self> {
                match v {
                    Value::$var(x) => Some(x),
                    _ => None,
                }
            }
            fn of_mut(v: &mut Value) -> Option<&mut Self> {
                match v {
                    Value::$var(x) => Some(x),
                    _ => None,
                }
            }
        }
    };
}
coll!(List, List);
coll!(Hash, Hash);
coll!(Set, Set);
coll!(ZSet, ZSet);

/// Reads a collection for a command that reads it (counts hits/misses); `None` when missing,
/// WRONGTYPE when the key holds another type.
pub fn read<'a, T: Coll>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> Result<Option<&'a T>, CmdError> {
    let now = ctx.now;
    match ctx.eng.dbs[ctx.client.db].get(key, now) {
        None => Ok(None),
        Some(e) => T::of(&e.value).map(Some).ok_or_else(wrong_type),
    }
}

/// Checks the type of `key` without touching statistics; true when it exists.
pub fn check<T: Coll>(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<bool, CmdError> {
    let now = ctx.now;
    match ctx.eng.dbs[ctx.client.db].peek(key, now) {
        None => Ok(false),
        Some(e) => T::of(&e.value).map(|_| true).ok_or_else(wrong_type),
    }
}

/// Runs `f` on the collection at `key`, creating it when `create` (an empty result is removed
/// by [`cleanup`]). `Ok(None)` when missing and not created; WRONGTYPE checked before any
/// change so a failed command leaves WATCH versions alone.
pub fn write<T: Coll, R>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    create: bool,
    f: impl FnOnce(&mut T) -> R,
) -> Result<Option<R>, CmdError> {
    let exists = check::<T>(ctx, key)?;
    if !exists && !create {
        return Ok(None);
    }
    let now = ctx.now;
    let db = &mut ctx.eng.dbs[ctx.client.db];
    let (mut v, _) = db.get_or_create(key, now, T::make);
    match T::of_mut(&mut v) {
        Some(c) => Ok(Some(f(c))),
        None => Err(wrong_type()),
    }
}

/// Replaces `key` with a new collection value (STORE variants): an empty result deletes the
/// key instead. Returns true when something was stored.
pub fn store(ctx: &mut Ctx<'_>, key: &[u8], v: Value, empty: bool) -> bool {
    let now = ctx.now;
    let db = ctx.db();
    if empty {
        db.remove(key);
        false
    } else {
        db.set(key, v, now, false);
        true
    }
}

/// Removes `key` if its collection became empty, with the `del` notification Redis sends.
pub fn cleanup(ctx: &mut Ctx<'_>, key: &[u8]) {
    if ctx.db().remove_if_empty(key) {
        ctx.notify(notify::GENERIC, "del", key);
    }
}

/// An integer configuration parameter (`default` when unset or unparsable).
pub fn cfg_i64(ctx: &Ctx<'_>, name: &str, default: i64) -> i64 {
    ctx.eng
        .cfg
        .get(name)
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// `(max entries, max value length)` for a `<type>-max-listpack-*` pair.
pub fn listpack_limits(ctx: &Ctx<'_>, ty: &str) -> (usize, usize) {
    let e = cfg_i64(ctx, &format!("{ty}-max-listpack-entries"), 128);
    let v = cfg_i64(ctx, &format!("{ty}-max-listpack-value"), 64);
    (e.max(0) as usize, v.max(0) as usize)
}

/// The set encoding thresholds.
pub fn set_limits(ctx: &Ctx<'_>) -> SetLimits {
    let (listpack_entries, listpack_value) = listpack_limits(ctx, "set");
    SetLimits {
        intset_entries: cfg_i64(ctx, "set-max-intset-entries", 512).max(0) as usize,
        listpack_entries,
        listpack_value,
    }
}

/// Parses `numkeys key…` at `at`: the keys, with Redis' errors.
pub fn numkeys<'a>(argv: &Argv<'a>, at: usize) -> Result<Vec<&'a [u8]>, CmdError> {
    let n = argv.i64(at)?;
    if n <= 0 {
        return Err("ERR numkeys should be greater than 0".into());
    }
    let n = n as usize;
    if n > argv.len().saturating_sub(at + 1) {
        return Err("ERR Number of keys can't be greater than number of args".into());
    }
    Ok(argv.iter_from(at + 1).take(n).collect())
}

/// Key positions of a `numkeys`-style command whose count sits at `at` (for the table).
pub fn numkeys_positions(argv: &Argv<'_>, at: usize) -> Vec<usize> {
    match crate::db::string::parse_i64(argv.get(at)) {
        Some(n) if n > 0 => (at + 1..(at + 1 + n as usize).min(argv.len())).collect(),
        _ => Vec::new(),
    }
}

/// Writes a `[cursor, [items…]]` scan reply.
pub fn scan_reply(ctx: &mut Ctx<'_>, next: u64, items: &[Vec<u8>]) {
    ctx.out.array(2);
    ctx.out.bulk(next.to_string().as_bytes());
    ctx.out.array(items.len());
    for i in items {
        ctx.out.bulk(i);
    }
}

/// Converts owned keys for [`Ctx::block`].
pub fn keys_of(keys: &[&[u8]]) -> Vec<Key> {
    keys.iter().map(|k| Key::from(*k)).collect()
}

/// Uniform random number in `0..n` (n > 0).
pub fn rand_below(n: usize) -> usize {
    use rand::RngExt;
    rand::rng().random_range(0..n.max(1))
}
