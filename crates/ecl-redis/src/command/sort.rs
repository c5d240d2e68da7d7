//! SORT and SORT_RO: sort list, set or sorted-set elements numerically or lexicographically,
//! optionally by external weights (`BY`), projecting external values (`GET`), with `LIMIT` and
//! `STORE`.
//!
//! Place in the flow: generic family; reads other keys through patterns (`weight_*`,
//! `hash_*->field`), as Redis documents.

use super::flags::*;
use super::ks;
use super::partial_sort::partial_sort;
use super::{Argv, Cmd, CommandSpec, Ctx, Keys, Release, Release::Redis, Since, acl};
use crate::cluster::slots;
use crate::config::notify;
use crate::db::list::List;
use crate::db::{Db, Value};
use crate::errors::{self, CmdError, CmdResult};

/// SORT family table.
pub const COMMANDS: &[CommandSpec] = &[
    Cmd::new("sort", sort)
        .arity(-2)
        .flags(&[WRITE, DENYOOM, MOVABLE_KEYS])
        .acl(&[
            acl::WRITE,
            acl::SET,
            acl::SORTEDSET,
            acl::LIST,
            acl::SLOW,
            acl::DANGEROUS,
        ])
        .keys(Keys::Custom(sort_keys))
        .since(Redis(1, 0, 0))
        .group("generic")
        .legacy(1, 1, 1)
        .ks(&[ks::RO | ks::ACCESS, ks::OW | ks::UPDATE])
        .doc(
            "Sorts the elements in a list, a set, or a sorted set, optionally storing the result.",
        ),
    Cmd::new("sort_ro", sort_ro)
        .arity(-2)
        .flags(&[READONLY, MOVABLE_KEYS])
        .acl(&[
            acl::READ,
            acl::SET,
            acl::SORTEDSET,
            acl::LIST,
            acl::SLOW,
            acl::DANGEROUS,
        ])
        .keys(Keys::Custom(sort_ro_keys))
        .since(Redis(7, 0, 0))
        .group("generic")
        .legacy(1, 1, 1)
        .doc("Returns the sorted elements of a list, a set, or a sorted set."),
];

/// SORT's keys as redis-server 7.0 finds them: the source and the last STORE's destination,
/// skipping the arguments of LIMIT (two), GET and BY (one each), so `LIMIT 0 STORE x` names
/// no destination and `GET STORE STORE x` names `x`.
fn sort_keys(argv: &Argv<'_>) -> Vec<usize> {
    let mut store = None;
    let mut i = 2;
    while i < argv.len() {
        let skip = if argv.is(i, "limit") {
            2
        } else if argv.is(i, "get") || argv.is(i, "by") {
            1
        } else if argv.is(i, "store") {
            if i + 1 < argv.len() {
                store = Some(i + 1);
            }
            1
        } else {
            0
        };
        i += skip + 1;
    }
    std::iter::once(1).chain(store).collect()
}

fn sort_ro_keys(_: &Argv<'_>) -> Vec<usize> {
    vec![1]
}

/// Looks a pattern up for `elem`: `*` is replaced by the element; `key->field` reads a hash.
fn lookup(db: &mut Db, now: i64, pattern: &[u8], elem: &[u8]) -> Option<Vec<u8>> {
    if pattern == b"#" {
        return Some(elem.to_vec());
    }
    let star = pattern.iter().position(|&b| b == b'*')?;
    let arrow = pattern
        .windows(2)
        .rposition(|w| w == b"->")
        .filter(|&a| a > star && a + 2 < pattern.len());
    let (key_pat, field) = match arrow {
        Some(a) => (&pattern[..a], Some(&pattern[a + 2..])),
        None => (pattern, None),
    };
    let mut key = key_pat[..star].to_vec();
    key.extend_from_slice(elem);
    key.extend_from_slice(&key_pat[star + 1..]);
    // A read lookup, as redis-server's: a keyspace hit or miss for each key a pattern names.
    let e = db.get(&key, now)?;
    match (&e.value, field) {
        (Value::Str(s), None) => Some(s.to_vec()),
        (Value::Hash(h), Some(f)) => h.get(f).map(|v| v.to_vec()),
        _ => None,
    }
}

/// SORT's options as parsed from its arguments.
#[derive(Default)]
struct SortArgs<'a> {
    by: Option<&'a [u8]>,
    gets: Vec<&'a [u8]>,
    desc: bool,
    alpha: bool,
    limit: Option<(i64, i64)>,
    store: Option<&'a [u8]>,
}

impl SortArgs<'_> {
    /// BY names a constant key (no `*`): Redis skips sorting then.
    fn dont_sort(&self) -> bool {
        self.by.is_some_and(|b| !b.contains(&b'*'))
    }
}

fn parse_sort_args<'a>(
    argv: &'a Argv<'_>,
    read_only: bool,
    guard: &PatternGuard,
) -> Result<SortArgs<'a>, CmdError> {
    let mut a = SortArgs::default();
    let mut i = 2;
    while i < argv.len() {
        let left = argv.len() - i - 1;
        if argv.is(i, "asc") {
            a.desc = false;
        } else if argv.is(i, "desc") {
            a.desc = true;
        } else if argv.is(i, "alpha") {
            a.alpha = true;
        } else if argv.is(i, "limit") && left >= 2 {
            a.limit = Some((argv.i64(i + 1)?, argv.i64(i + 2)?));
            i += 2;
        } else if argv.is(i, "store") && left >= 1 && !read_only {
            a.store = Some(argv.get(i + 1));
            i += 1;
        } else if argv.is(i, "by") && left >= 1 {
            a.by = Some(argv.get(i + 1));
            if !a.dont_sort() {
                guard.admit("BY", argv.get(i + 1), argv.get(1))?;
            }
            i += 1;
        } else if argv.is(i, "get") && left >= 1 {
            guard.admit("GET", argv.get(i + 1), argv.get(1))?;
            a.gets.push(argv.get(i + 1));
            i += 1;
        } else {
            return Err(errors::SYNTAX.into());
        }
        i += 1;
    }
    Ok(a)
}

/// The elements of the list, set or sorted set at `key`, and whether their order means
/// something (lists and sorted sets).
fn load_elements(db: &mut Db, key: &[u8], now: i64) -> Result<(Vec<Vec<u8>>, bool), CmdError> {
    // Redis converts a listpack sorted set it sorts to a skiplist, for good (OBJECT ENCODING,
    // ZSCAN order and DUMP show it); not a modification (WATCH keeps its version).
    if matches!(db.peek(key, now).map(|e| &e.value), Some(Value::ZSet(z)) if z.encoding() == "listpack")
        && let Some(mut v) = db.get_mut(key, now)
    {
        if let Value::ZSet(z) = &mut *v {
            z.to_skiplist();
        }
        v.unchanged();
    }
    Ok(match db.get(key, now).map(|e| &e.value) {
        None => (Vec::new(), false),
        Some(Value::List(l)) => (l.iter().map(|e| e.to_vec()).collect(), true),
        Some(Value::Set(s)) => (s.iter().map(|m| m.to_vec()).collect(), false),
        Some(Value::ZSet(z)) => (z.iter().map(|(m, _)| m.to_vec()).collect(), true),
        Some(_) => return Err(errors::WRONGTYPE.into()),
    })
}

/// Sorts `elems` by their weights (the elements themselves, or what BY points at).
fn sort_by_weights(
    db: &mut Db,
    now: i64,
    elems: Vec<Vec<u8>>,
    a: &SortArgs<'_>,
) -> Result<Vec<Vec<u8>>, CmdError> {
    // Weights: numeric unless ALPHA (a missing weight is 0); with ALPHA and BY, a missing
    // weight sorts first.
    let mut keyed: Vec<Weighed> = Vec::with_capacity(elems.len());
    for e in elems {
        let w = match a.by {
            Some(p) => lookup(db, now, p, &e),
            None => Some(e.clone()),
        };
        let num = if a.alpha {
            0.0
        } else {
            match w.as_deref() {
                None | Some(b"") => 0.0,
                Some(wb) => weight(wb).ok_or(CmdError::from(
                    "ERR One or more scores can't be converted into double",
                ))?,
            }
        };
        keyed.push(Weighed {
            num,
            text: w,
            elem: e,
        });
    }
    let order = SortOrder {
        alpha: a.alpha,
        by_pattern: a.by.is_some(),
        desc: a.desc,
    };
    let mut compare = |x: &Weighed, y: &Weighed| order.compare(x, y);
    let len = keyed.len();
    let (lo, hi) = limit_positions(a.limit, len);
    if a.by.is_some() && len > 0 && (lo != 0 || hi != len as i64 - 1) {
        // Redis sorts only the LIMIT window then, with its partial quicksort: ties (equal
        // ALPHA weights) come out in that algorithm's order.
        if lo <= hi {
            partial_sort(&mut keyed, lo as usize, hi as usize, &mut compare);
        }
    } else {
        // glibc's qsort, a merge sort: ties keep their order, DESC included.
        keyed.sort_by(compare);
    }
    Ok(keyed.into_iter().map(|k| k.elem).collect())
}

/// The reply rows: the LIMIT window of the sorted elements, each as itself or as what each GET
/// pattern points at.
fn project_rows(
    db: &mut Db,
    now: i64,
    elems: Vec<Vec<u8>>,
    a: &SortArgs<'_>,
) -> Vec<Option<Vec<u8>>> {
    let (start, count) = a.limit.unwrap_or((0, -1));
    let start = start.max(0) as usize;
    let take = if count < 0 {
        usize::MAX
    } else {
        count as usize
    };
    let mut rows: Vec<Option<Vec<u8>>> = Vec::new();
    for e in elems.into_iter().skip(start).take(take) {
        if a.gets.is_empty() {
            rows.push(Some(e));
        } else {
            for g in &a.gets {
                rows.push(lookup(db, now, g, &e));
            }
        }
    }
    rows
}

/// SORT … STORE: the rows become a list at `dst` (an empty result deletes it).
fn store_rows(ctx: &mut Ctx<'_>, dst: &[u8], rows: Vec<Option<Vec<u8>>>) {
    let n = rows.len();
    let now = ctx.now;
    if n == 0 {
        if ctx.db().remove(dst).is_some() {
            ctx.write(dst).notify(notify::GENERIC, "del");
        }
    } else {
        let mut l = List::new();
        for r in rows {
            l.push_back(r.unwrap_or_default());
        }
        // Encoding as Redis picks it for the stored list: quicklist before 7.2,
        // listpack when it fits from 7.2 on.
        let mut v = Value::List(Box::new(l));
        super::coll::fit_encoding(ctx, &mut v);
        ctx.db().set(dst, v, now, false);
        ctx.write(dst).notify(notify::LIST, "sortstore").ready();
    }
    ctx.dirty(n as u64);
    ctx.out.int(n as i64);
}

/// Where SORT's BY and GET patterns may reach for this client, checked as each option is
/// parsed (so a refused pattern answers before a later syntax error, as in Redis): cluster
/// mode confines them to the sorted key's slot (Valkey 8) or refuses them (earlier releases),
/// and from Redis 7 the user must be allowed to read every key, since a pattern reads keys
/// that no key spec names.
struct PatternGuard {
    cluster: bool,
    same_slot_allowed: bool,
    reads_every_key: bool,
}

impl PatternGuard {
    fn new(ctx: &Ctx<'_>, argv: &Argv<'_>) -> PatternGuard {
        let table = &ctx.eng.table;
        let acl_checked = ctx.has(crate::acl::selector::SINCE_7);
        // Only a SORT with options can name a pattern (the check walks the user's selectors).
        let reads_every_key = match &ctx.client.user {
            Some(u) if acl_checked && argv.len() > 2 => {
                let spec = table.entries[ctx.cmd_id].spec;
                crate::acl::reads_every_key(u, table, ctx.cmd_id, spec, argv)
            }
            _ => true,
        };
        PatternGuard {
            cluster: ctx.eng.info.cluster,
            same_slot_allowed: ctx.has(Since::from(Release::Valkey(8, 0, 0))),
            reads_every_key,
        }
    }

    /// Whether `option` (`BY` / `GET`) may use `pattern` when sorting `key`.
    fn admit(&self, option: &str, pattern: &[u8], key: &[u8]) -> Result<(), CmdError> {
        if self.cluster && !self.same_slot_allowed {
            return Err(format!("ERR {option} option of SORT denied in Cluster mode.").into());
        }
        if self.cluster && pattern_slot(pattern) != Some(slots::key_slot(key)) {
            return Err(format!(
                "ERR {option} option of SORT denied in Cluster mode when keys formed by the pattern may be in different slots."
            )
            .into());
        }
        if !self.reads_every_key {
            return Err(format!(
                "ERR {option} option of SORT denied due to insufficient ACL permissions."
            )
            .into());
        }
        Ok(())
    }
}

/// The one slot every key a pattern forms hashes to: the pattern's hash tag (`{user1}:w_*`)
/// when no wildcard comes before the tag closes, or the pattern's own slot when it has neither
/// (`#`, a constant key); `None` when keys could land anywhere.
fn pattern_slot(pattern: &[u8]) -> Option<u16> {
    let wild = |b: &u8| matches!(b, b'*' | b'?' | b'[' | b'\\');
    let Some(open) = pattern.iter().position(|&b| b == b'{' || wild(&b)) else {
        return Some(slots::key_slot(pattern));
    };
    if pattern[open] != b'{' {
        return None;
    }
    let rest = &pattern[open + 1..];
    let close = rest.iter().position(|&b| b == b'}' || wild(&b))?;
    (rest[close] == b'}' && close > 0).then(|| slots::key_slot(&rest[..close]))
}

fn sort_generic(ctx: &mut Ctx<'_>, argv: &Argv<'_>, read_only: bool) -> CmdResult {
    let a = parse_sort_args(argv, read_only, &PatternGuard::new(ctx, argv))?;
    let now = ctx.now;
    let db = &mut ctx.eng.dbs[ctx.client.db];
    let (mut elems, ordered) = load_elements(db, argv.get(1), now)?;
    if !a.dont_sort() {
        elems = sort_by_weights(db, now, elems, &a)?;
    } else if !ordered {
        // Unordered sources without sorting: Redis gives a deterministic byte order then.
        elems.sort();
    } else if a.desc {
        elems.reverse();
    }
    let rows = project_rows(db, now, elems, &a);
    match a.store {
        Some(dst) => store_rows(ctx, dst, rows),
        None => {
            ctx.out.array(rows.len());
            for r in rows {
                match r {
                    Some(b) => ctx.out.bulk(&b),
                    None => ctx.out.null(),
                }
            }
        }
    }
    Ok(())
}

fn sort(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    sort_generic(ctx, argv, false)
}

fn sort_ro(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    sort_generic(ctx, argv, true)
}

/// One element to sort with its weight: the number (numeric sorts) and the text (ALPHA; the
/// weight key's value with BY, `None` when that key is missing).
struct Weighed {
    num: f64,
    text: Option<Vec<u8>>,
    elem: Vec<u8>,
}

/// SORT's comparison as Redis makes it: numbers with ties broken by the elements' bytes;
/// ALPHA with BY by the weights alone (a missing one first, equal ones tie); ALPHA alone by
/// the elements; DESC negates the comparison (it does not reverse ties).
#[derive(Clone, Copy)]
struct SortOrder {
    alpha: bool,
    by_pattern: bool,
    desc: bool,
}

impl SortOrder {
    fn compare(self, a: &Weighed, b: &Weighed) -> std::cmp::Ordering {
        use std::cmp::Ordering::{Equal, Greater, Less};
        let o = if !self.alpha {
            a.num
                .partial_cmp(&b.num)
                .unwrap_or(Equal)
                .then_with(|| a.elem.cmp(&b.elem))
        } else if self.by_pattern {
            match (&a.text, &b.text) {
                (None, None) => Equal,
                (None, Some(_)) => Less,
                (Some(_), None) => Greater,
                (Some(x), Some(y)) => x.cmp(y),
            }
        } else {
            a.elem.cmp(&b.elem)
        };
        if self.desc { o.reverse() } else { o }
    }
}

/// The positions LIMIT asks for, as Redis computes them before sorting: `(start, end)`
/// inclusive, clamped to the vector (`end < start` when nothing is returned).
fn limit_positions(limit: Option<(i64, i64)>, len: usize) -> (i64, i64) {
    let len = len as i64;
    let (offset, count) = limit.unwrap_or((0, -1));
    let mut start = offset.max(0);
    let mut end = if count < 0 {
        len - 1
    } else {
        start.saturating_add(count) - 1
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    if end >= len {
        end = len - 1;
    }
    (start, end)
}

/// A numeric weight as Redis' SORT reads it: strtod over the C string (leading white space
/// skipped, the text ends at a NUL, an empty text is 0, nothing may follow the number), with
/// overflow, underflow and subnormal results refused as strtod's ERANGE is (ZADD refuses only
/// overflow and underflow to zero).
fn weight(b: &[u8]) -> Option<f64> {
    let b = b.split(|&c| c == 0).next().unwrap_or_default();
    if b.is_empty() {
        return Some(0.0);
    }
    let start = b
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))?;
    crate::db::zset::parse_score(&b[start..]).filter(|v| *v == 0.0 || v.abs() >= f64::MIN_POSITIVE)
}
