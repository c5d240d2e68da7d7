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
use crate::db::{Dict, Key, Value, wrong_type};
pub use crate::engine::encodings::fit_encoding_in;
use crate::engine::encodings::{listpack_limits_of, set_limits_of};
use crate::errors::CmdError;
pub use crate::resp::reply::format_g17;

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

/// The optional trailing `COUNT n` of the *MPOP commands, starting at argument `i`: 1 when
/// absent; a repeated or unknown option is a syntax error, and `n` must be positive.
pub fn mpop_count(argv: &Argv<'_>, mut i: usize) -> Result<usize, CmdError> {
    let mut count = None;
    while i < argv.len() {
        if argv.is(i, "count") && i + 1 < argv.len() && count.is_none() {
            // Redis gives this one message for any COUNT that is not a positive integer.
            let c = argv.i64(i + 1).unwrap_or(0);
            if c <= 0 {
                return Err(crate::errors::COUNT_NOT_POSITIVE.into());
            }
            count = Some(c as usize);
            i += 2;
        } else {
            return Err(crate::errors::SYNTAX.into());
        }
    }
    Ok(count.unwrap_or(1))
}

/// Reads a collection for a command that reads it (counts hits/misses); `None` when missing,
/// WRONGTYPE when the key holds another type.
pub fn read<'a, T: Coll>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> Result<Option<&'a T>, CmdError> {
    let now = ctx.now;
    match ctx.eng.dbs[ctx.client.db].get(key, now) {
        None => Ok(None),
        Some(e) => T::of(&e.value).map(Some).ok_or_else(wrong_type),
    }
}

/// Reads a collection without touching statistics (pre-checks that decide whether a write
/// will change anything: Redis only marks a key modified, for WATCH, when it really changes).
pub fn peek<'a, T: Coll>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> Result<Option<&'a T>, CmdError> {
    let now = ctx.now;
    match ctx.eng.dbs[ctx.client.db].peek(key, now) {
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
/// by [`cleanup`]). `Ok(None)` when missing and not created; a value of another type is left
/// as it is (WRONGTYPE) and its watchers see no change, as in Redis.
pub fn write<T: Coll, R>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    create: bool,
    f: impl FnOnce(&mut T) -> R,
) -> Result<Option<R>, CmdError> {
    let now = ctx.now;
    let db = &mut ctx.eng.dbs[ctx.client.db];
    // One lookup: a value of another type is found (never replaced) and reported unchanged,
    // so its watchers see nothing.
    let mut v = if create {
        db.get_or_create(key, now, T::make).0
    } else {
        match db.get_mut(key, now) {
            Some(v) => v,
            None => return Ok(None),
        }
    };
    match T::of_mut(&mut v) {
        Some(c) => Ok(Some(f(c))),
        None => {
            v.unchanged();
            Err(wrong_type())
        }
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
        ctx.write(key).notify(notify::GENERIC, "del");
    }
}

/// An integer configuration parameter (`default` when unset or unparsable).
pub fn cfg_i64(ctx: &Ctx<'_>, name: &str, default: i64) -> i64 {
    ctx.eng.cfg.get_i64(name).unwrap_or(default)
}

/// `(max entries, max value length)` for a `<type>-max-listpack-*` pair. Plain fields of the
/// node's configuration, read for every write: a value already in its final encoding ignores
/// them (hashes, sets and sorted sets only convert one way), which costs less than looking the
/// key up first to skip them.
pub fn listpack_limits(ctx: &Ctx<'_>, ty: &str) -> (usize, usize) {
    listpack_limits_of(ctx.eng, ty)
}

/// Whether the node speaks Redis 7.2+ (listpack-encoded small lists and sets, ZRANK
/// WITHSCORE); older versions keep lists as quicklists and sets as intset/hashtable only.
pub fn is_72(ctx: &Ctx<'_>) -> bool {
    ctx.version() >= super::v(7, 2, 0)
}

/// The set encoding thresholds (no listpack stage before Redis 7.2).
pub fn set_limits(ctx: &Ctx<'_>) -> SetLimits {
    set_limits_of(ctx.eng)
}

/// Which error wording a `numkeys` command uses (Redis differs per command).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum NumkeysStyle {
    /// SINTERCARD / ZINTERCARD: both limits have their own message.
    Card,
    /// LMPOP / ZMPOP and blocking forms: too many keys is a syntax error.
    Mpop,
    /// ZUNION / ZINTER / ZDIFF (+STORE): "at least 1 input key" and syntax error.
    Algebra,
}

/// Sets the encoding of a collection built outside the families (RESTORE, RDB load) from its
/// content and the node's thresholds, as Redis picks it when loading.
pub fn fit_encoding(ctx: &Ctx<'_>, v: &mut Value) {
    fit_encoding_in(ctx.eng, v)
}

/// Parses `numkeys key…` at `at`: the keys, with Redis' errors for the command's style.
pub fn numkeys<'a>(
    argv: &Argv<'a>,
    at: usize,
    style: NumkeysStyle,
) -> Result<Vec<&'a [u8]>, CmdError> {
    // The *MPOP and *INTERCARD-style commands answer any bad numkeys with one message.
    let n = match argv.i64(at) {
        Ok(n) => n,
        Err(e) if style == NumkeysStyle::Algebra => return Err(e),
        Err(_) => return Err("ERR numkeys should be greater than 0".into()),
    };
    if n <= 0 {
        if style == NumkeysStyle::Algebra {
            let name = argv.str(0).to_ascii_lowercase();
            return Err(format!("ERR at least 1 input key is needed for '{name}' command").into());
        }
        return Err("ERR numkeys should be greater than 0".into());
    }
    let n = n as usize;
    if n > argv.len().saturating_sub(at + 1) {
        if style == NumkeysStyle::Card {
            return Err("ERR Number of keys can't be greater than number of args".into());
        }
        return Err(crate::errors::SYNTAX.into());
    }
    Ok(argv.iter_from(at + 1).take(n).collect())
}

/// Formats a score as the node's Redis version does: `%.17g` before 7.2, the shortest
/// round-trip form from 7.2 on (and on Valkey).
pub fn score_text(ctx: &Ctx<'_>, v: f64) -> String {
    // `%.17g` keeps the sign of a negative zero.
    if !is_72(ctx) && v == 0.0 && v.is_sign_negative() {
        return "-0".to_string();
    }
    if is_72(ctx) || !v.is_finite() || v == 0.0 {
        return crate::resp::reply::format_double(v);
    }
    format_g17(v)
}

/// Writes a score: RESP3 double or RESP2 bulk string, formatted per [`score_text`].
pub fn reply_score(ctx: &mut Ctx<'_>, v: f64) {
    let legacy = !is_72(ctx);
    write_score(ctx.out, legacy, v);
}

/// [`reply_score`] on a bare reply buffer; `legacy` selects `%.17g` (before Redis 7.2).
pub fn write_score(out: &mut crate::resp::Reply, legacy: bool, v: f64) {
    let s = if legacy && v == 0.0 && v.is_sign_negative() {
        "-0".to_string() // `%.17g` keeps the sign of a negative zero
    } else if legacy && v.is_finite() && v != 0.0 {
        format_g17(v)
    } else {
        crate::resp::reply::format_double(v)
    };
    if out.resp3 {
        out.raw(b",");
        out.raw(s.as_bytes());
        out.raw(b"\r\n");
    } else {
        out.bulk(s.as_bytes());
    }
}

/// Sorts members numerically when they would live in an intset (all integers, within
/// `set-max-intset-entries`), since Redis replies from an intset in ascending order.
pub fn intset_order(ctx: &Ctx<'_>, items: &mut [Key]) {
    let lim = set_limits(ctx).intset_entries;
    if items.len() > lim {
        return;
    }
    let mut nums = Vec::with_capacity(items.len());
    for m in items.iter() {
        match crate::db::string::parse_i64(m) {
            Some(n) if m.len() <= 20 => nums.push(n),
            _ => return,
        }
    }
    let mut idx: Vec<usize> = (0..items.len()).collect();
    idx.sort_by_key(|&i| nums[i]);
    let sorted: Vec<Key> = idx.iter().map(|&i| items[i].clone()).collect();
    items.clone_from_slice(&sorted);
}

/// Key positions of a `numkeys`-style command whose count sits at `at` (for the table).
pub fn numkeys_positions(argv: &Argv<'_>, at: usize) -> Vec<usize> {
    match crate::db::string::parse_i64(argv.get(at)) {
        Some(n) if n > 0 => (at + 1..(at + 1 + n as usize).min(argv.len())).collect(),
        _ => Vec::new(),
    }
}

/// HSCAN/SSCAN/ZSCAN on a missing key: Redis answers the empty scan (and WRONGTYPE) right
/// after the cursor, before it reads the options. True when it replied.
pub fn scan_missing<T: Coll>(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<bool, CmdError> {
    if check::<T>(ctx, key)? {
        return Ok(false);
    }
    read::<T>(ctx, key)?; // counts the keyspace miss, as Redis's lookup does
    scan_reply(ctx, 0, &[]);
    Ok(true)
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

/// Largest `|count|` HRANDFIELD / SRANDMEMBER / ZRANDMEMBER answer with repetitions: the
/// reply is built in memory, so an absurd count must not exhaust the process (see
/// [`refuse_huge_random_reply`]).
pub const MAX_RANDOM_COUNT: u64 = 1 << 24;

/// Checks a random-member count as Redis reads it (within ±i64::MAX).
pub fn random_count(c: i64) -> Result<i64, CmdError> {
    if c == i64::MIN {
        return Err(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
                .into(),
        );
    }
    Ok(c)
}

/// Whether a count asks for more repeated draws than [`MAX_RANDOM_COUNT`].
pub fn huge_random_count(count: Option<i64>) -> bool {
    count.is_some_and(|c| c < 0 && c.unsigned_abs() > MAX_RANDOM_COUNT)
}

/// Smallest reply bytes one repeated draw adds (`$0\r\n\r\n`, an empty member).
const MIN_DRAW_BYTES: u64 = 6;

/// Answers a [`huge_random_count`] of draws from an existing collection: redis-server starts
/// streaming a reply of gigabytes, so when the client's hard `client-output-buffer-limit`
/// cannot hold even the smallest such reply it closes the client mid-reply; the node closes it
/// at once (`Ok(())`, no reply). Otherwise redis-server would build the whole reply, and the
/// node answers `ERR value is out of range` instead (README, "Differences from AWS").
pub fn answer_huge_random_count(ctx: &mut Ctx<'_>, count: i64) -> crate::errors::CmdResult {
    let limit = ctx.eng.cfg.output_limits.class(ctx.client.sub_count() > 0);
    let smallest_reply = count.unsigned_abs().saturating_mul(MIN_DRAW_BYTES);
    if limit.hard == 0 || smallest_reply <= limit.hard {
        return Err("ERR value is out of range".into());
    }
    ctx.client.close = true;
    Ok(())
}

/// Random keys of `d` per Redis' count rules (positive: distinct, at most `len`; negative:
/// `|count|` draws with repetition), in O(count) for small counts: big collections are
/// sampled through the table instead of being copied.
pub fn sample_keys<V>(d: &Dict<V>, count: i64) -> Vec<Key> {
    use rand::RngExt;
    let len = d.len();
    if len == 0 || count == 0 {
        return Vec::new();
    }
    let mut r = rand::rng();
    let mut draw = || d.random_entry(|| r.random::<u64>()).map(|(k, _)| k.clone());
    if count < 0 {
        // Callers refuse counts above MAX_RANDOM_COUNT; the bound here is only a backstop.
        let n = count.unsigned_abs().min(MAX_RANDOM_COUNT) as usize;
        return (0..n).filter_map(|_| draw()).collect();
    }
    let n = (count as u64).min(len as u64) as usize;
    if n * 3 <= len {
        let mut seen = std::collections::HashSet::with_capacity(n);
        let mut out = Vec::with_capacity(n);
        for _ in 0..n.saturating_mul(64).max(1024) {
            if out.len() == n {
                return out;
            }
            if let Some(k) = draw()
                && seen.insert(k.clone())
            {
                out.push(k);
            }
        }
    }
    // Large share of the collection: a partial shuffle of all keys.
    let mut all: Vec<Key> = d.iter().map(|(k, _)| k.clone()).collect();
    for i in 0..n {
        let j = i + rand_below(all.len() - i);
        all.swap(i, j);
    }
    all.truncate(n);
    all
}

/// Uniform random number in `0..n` (n > 0).
pub fn rand_below(n: usize) -> usize {
    use rand::RngExt;
    rand::rng().random_range(0..n.max(1))
}

#[cfg(test)]
mod tests {
    use super::format_g17;

    #[test]
    fn g17_matches_c() {
        assert_eq!(format_g17(1.1), "1.1000000000000001");
        assert_eq!(format_g17(0.1), "0.10000000000000001");
        assert_eq!(format_g17(3.0), "3");
        assert_eq!(format_g17(1.5e-7), "1.4999999999999999e-07");
        assert_eq!(format_g17(1e20), "1e+20");
        assert_eq!(format_g17(123456789.123), "123456789.123");
        assert_eq!(format_g17(-2.5), "-2.5");
        assert_eq!(format_g17(0.0001), "0.0001");
    }
}
