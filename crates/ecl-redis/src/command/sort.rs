//! SORT and SORT_RO: sort list, set or sorted-set elements numerically or lexicographically,
//! optionally by external weights (`BY`), projecting external values (`GET`), with `LIMIT` and
//! `STORE`.
//!
//! Place in the flow: generic family; reads other keys through patterns (`weight_*`,
//! `hash_*->field`), as Redis documents.

use super::flags::*;
use super::ks;
use super::{Argv, Cmd, CommandSpec, Ctx, Keys, Release::Redis, acl};
use crate::config::notify;
use crate::db::list::List;
use crate::db::string::parse_f64;
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

fn sort_keys(argv: &Argv<'_>) -> Vec<usize> {
    let mut k = vec![1];
    let mut i = 2;
    while i < argv.len() {
        if argv.is(i, "store") && i + 1 < argv.len() {
            k.push(i + 1);
            i += 2;
        } else {
            i += 1;
        }
    }
    k
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
    let e = db.peek(&key, now)?;
    match (&e.value, field) {
        (Value::Str(s), None) => Some(s.to_vec()),
        (Value::Hash(h), Some(f)) => h.get(f).cloned(),
        _ => None,
    }
}

fn sort_generic(ctx: &mut Ctx<'_>, argv: &Argv<'_>, read_only: bool) -> CmdResult {
    let mut by: Option<&[u8]> = None;
    let mut gets: Vec<&[u8]> = Vec::new();
    let mut desc = false;
    let mut alpha = false;
    let mut limit: Option<(i64, i64)> = None;
    let mut store: Option<&[u8]> = None;
    let mut i = 2;
    while i < argv.len() {
        let left = argv.len() - i - 1;
        if argv.is(i, "asc") {
            desc = false;
        } else if argv.is(i, "desc") {
            desc = true;
        } else if argv.is(i, "alpha") {
            alpha = true;
        } else if argv.is(i, "limit") && left >= 2 {
            limit = Some((argv.i64(i + 1)?, argv.i64(i + 2)?));
            i += 2;
        } else if argv.is(i, "store") && left >= 1 && !read_only {
            store = Some(argv.get(i + 1));
            i += 1;
        } else if argv.is(i, "by") && left >= 1 {
            by = Some(argv.get(i + 1));
            i += 1;
        } else if argv.is(i, "get") && left >= 1 {
            gets.push(argv.get(i + 1));
            i += 1;
        } else {
            return Err(errors::SYNTAX.into());
        }
        i += 1;
    }
    if ctx.eng.info.cluster
        && (by.is_some_and(|b| b.contains(&b'*')) || gets.iter().any(|g| *g != b"#"))
    {
        return Err("ERR BY/GET option with pattern is not supported in cluster mode".into());
    }
    let now = ctx.now;
    let db = &mut ctx.eng.dbs[ctx.client.db];
    let (mut elems, ordered): (Vec<Vec<u8>>, bool) =
        match db.get(argv.get(1), now).map(|e| &e.value) {
            None => (Vec::new(), false),
            Some(Value::List(l)) => (l.iter().cloned().collect(), true),
            Some(Value::Set(s)) => (s.iter().map(|m| m.to_vec()).collect(), false),
            Some(Value::ZSet(z)) => (z.iter().map(|(m, _)| m.to_vec()).collect(), true),
            Some(_) => return Err(errors::WRONGTYPE.into()),
        };
    let dont_sort = by.is_some_and(|b| !b.contains(&b'*'));
    if !dont_sort {
        // Weights: numeric unless ALPHA; missing weights sort as 0 / empty.
        let mut keyed: Vec<(Option<f64>, Vec<u8>, Vec<u8>)> = Vec::with_capacity(elems.len());
        for e in elems.drain(..) {
            let w = match by {
                Some(p) => lookup(db, now, p, &e),
                None => Some(e.clone()),
            };
            let wb = w.unwrap_or_default();
            let num = if alpha {
                None
            } else if wb.is_empty() {
                Some(0.0)
            } else {
                Some(parse_f64(&wb).ok_or(CmdError::from(
                    "ERR One or more scores can't be converted into double",
                ))?)
            };
            keyed.push((num, wb, e));
        }
        keyed.sort_by(|a, b| {
            let o = match (a.0, b.0) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                _ => a.1.cmp(&b.1),
            };
            o.then_with(|| a.2.cmp(&b.2))
        });
        if desc {
            keyed.reverse();
        }
        elems = keyed.into_iter().map(|k| k.2).collect();
    } else if !ordered {
        // Unordered sources without sorting: Redis gives a deterministic byte order then.
        elems.sort();
    } else if desc {
        elems.reverse();
    }
    let (start, count) = limit.unwrap_or((0, -1));
    let start = start.max(0) as usize;
    let take = if count < 0 {
        usize::MAX
    } else {
        count as usize
    };
    let picked: Vec<Vec<u8>> = elems.into_iter().skip(start).take(take).collect();
    let mut rows: Vec<Option<Vec<u8>>> = Vec::new();
    for e in &picked {
        if gets.is_empty() {
            rows.push(Some(e.clone()));
        } else {
            for g in &gets {
                rows.push(lookup(db, now, g, e));
            }
        }
    }
    match store {
        Some(dst) => {
            let n = rows.len();
            if n == 0 {
                if db.remove(dst).is_some() {
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
