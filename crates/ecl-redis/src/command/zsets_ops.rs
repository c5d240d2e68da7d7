//! Sorted-set commands, second half: set algebra (ZUNION/ZINTER/ZDIFF and STORE forms,
//! ZINTERCARD), pops (ZPOPMIN/ZPOPMAX, ZMPOP and the blocking BZPOPMIN/BZPOPMAX/BZMPOP),
//! ZRANDMEMBER and ZSCAN.
//!
//! Place in the flow: registered beside `zsets.rs`; the data structure lives in `db/zset.rs`.
//! Algebra accepts plain sets as inputs (every member scoring 1), as Redis does.

use super::coll::{self, NumkeysStyle, cleanup, keys_of, numkeys, numkeys_positions};
use super::flags::*;
use super::keys::{parse_cursor, scan_opts};
use super::ks;
use super::zsets::{R, W, reply_entries, store_entries};
use super::{
    AclCategories, Argv, Cmd, CommandSpec, Ctx, Keys, Release, Release::Redis, Since, acl,
};
use crate::client::TimeoutReply;
use crate::config::notify;
use crate::db::zset::ZSet;
use crate::db::{Key, Value, wrong_type};
use crate::errors::{self, CmdError, CmdResult};
use crate::glob::glob_match;

fn keys_at1(a: &Argv<'_>) -> Vec<usize> {
    numkeys_positions(a, 1)
}
fn keys_store(a: &Argv<'_>) -> Vec<usize> {
    let mut v = vec![1];
    v.extend(numkeys_positions(a, 2));
    v
}
fn keys_at2(a: &Argv<'_>) -> Vec<usize> {
    numkeys_positions(a, 2)
}

const K1: Keys = Keys::Range(1, 1, 1);
const BLK: AclCategories = AclCategories::all_of(&[W, acl::SLOW, acl::BLOCKING]);

/// Sorted-set algebra, pops and scans.
pub const COMMANDS: &[CommandSpec] = &[
    Cmd::new("zunion", zunion).arity(-3).flags(&[READONLY, MOVABLE_KEYS]).acl(&[R, acl::SLOW]).keys(Keys::Custom(keys_at1)).since(Redis(6, 2, 0)).group("sorted-set").doc("Returns the union of multiple sorted sets."),
    Cmd::new("zinter", zinter).arity(-3).flags(&[READONLY, MOVABLE_KEYS]).acl(&[R, acl::SLOW]).keys(Keys::Custom(keys_at1)).since(Redis(6, 2, 0)).group("sorted-set").doc("Returns the intersect of multiple sorted sets."),
    Cmd::new("zdiff", zdiff).arity(-3).flags(&[READONLY, MOVABLE_KEYS]).acl(&[R, acl::SLOW]).keys(Keys::Custom(keys_at1)).since(Redis(6, 2, 0)).group("sorted-set").doc("Returns the difference between multiple sorted sets."),
    Cmd::new("zunionstore", zunionstore).arity(-4).flags(&[WRITE, DENYOOM, MOVABLE_KEYS]).acl(&[W, acl::SLOW]).keys(Keys::Custom(keys_store)).since(Redis(2, 0, 0)).group("sorted-set").legacy(1, 1, 1).ks(&[ks::OW | ks::UPDATE, ks::RO | ks::ACCESS]).doc("Stores the union of multiple sorted sets in a key."),
    Cmd::new("zinterstore", zinterstore).arity(-4).flags(&[WRITE, DENYOOM, MOVABLE_KEYS]).acl(&[W, acl::SLOW]).keys(Keys::Custom(keys_store)).since(Redis(2, 0, 0)).group("sorted-set").legacy(1, 1, 1).ks(&[ks::OW | ks::UPDATE, ks::RO | ks::ACCESS]).doc("Stores the intersect of multiple sorted sets in a key."),
    Cmd::new("zdiffstore", zdiffstore).arity(-4).flags(&[WRITE, DENYOOM, MOVABLE_KEYS]).acl(&[W, acl::SLOW]).keys(Keys::Custom(keys_store)).since(Redis(6, 2, 0)).group("sorted-set").legacy(1, 1, 1).ks(&[ks::OW | ks::UPDATE, ks::RO | ks::ACCESS]).doc("Stores the difference of multiple sorted sets in a key."),
    Cmd::new("zintercard", zintercard).arity(-3).flags(&[READONLY, MOVABLE_KEYS]).acl(&[R, acl::SLOW]).keys(Keys::Custom(keys_at1)).since(Redis(7, 0, 0)).group("sorted-set").doc("Returns the number of members of the intersect of multiple sorted sets."),
    Cmd::new("zpopmin", zpopmin).arity(-2).flags(&[WRITE, FAST]).acl(&[W, acl::FAST]).keys(K1).since(Redis(5, 0, 0)).group("sorted-set").ks(&[ks::RW | ks::ACCESS | ks::DELETE]).doc("Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped."),
    Cmd::new("zpopmax", zpopmax).arity(-2).flags(&[WRITE, FAST]).acl(&[W, acl::FAST]).keys(K1).since(Redis(5, 0, 0)).group("sorted-set").ks(&[ks::RW | ks::ACCESS | ks::DELETE]).doc("Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped."),
    Cmd::new("zmpop", zmpop).arity(-4).flags(&[WRITE, MOVABLE_KEYS]).acl(&[W, acl::SLOW]).keys(Keys::Custom(keys_at1)).since(Redis(7, 0, 0)).group("sorted-set").ks(&[ks::RW | ks::ACCESS | ks::DELETE]).doc("Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped."),
    Cmd::new("bzpopmin", bzpopmin).arity(-3).flags(&[WRITE, FAST, BLOCKING, NOSCRIPT]).acl(&[W, acl::FAST, acl::BLOCKING]).keys(Keys::Range(1, -2, 1)).since(Redis(5, 0, 0)).group("sorted-set").ks(&[ks::RW | ks::ACCESS | ks::DELETE]).doc("Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped."),
    Cmd::new("bzpopmax", bzpopmax).arity(-3).flags(&[WRITE, FAST, BLOCKING, NOSCRIPT]).acl(&[W, acl::FAST, acl::BLOCKING]).keys(Keys::Range(1, -2, 1)).since(Redis(5, 0, 0)).group("sorted-set").ks(&[ks::RW | ks::ACCESS | ks::DELETE]).doc("Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise. Deletes the sorted set if the last element was popped."),
    Cmd::new("bzmpop", bzmpop).arity(-5).flags(&[WRITE, BLOCKING, MOVABLE_KEYS]).acl(&[BLK]).keys(Keys::Custom(keys_at2)).since(Redis(7, 0, 0)).group("sorted-set").ks(&[ks::RW | ks::ACCESS | ks::DELETE]).doc("Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped."),
    Cmd::new("zrandmember", zrandmember).arity(-2).flags(&[READONLY]).acl(&[R, acl::SLOW]).keys(K1).since(Redis(6, 2, 0)).group("sorted-set").doc("Returns one or more random members from a sorted set."),
    Cmd::new("zscan", zscan).arity(-3).flags(&[READONLY]).acl(&[R, acl::SLOW]).keys(K1).since(Redis(2, 8, 0)).group("sorted-set").doc("Iterates over members and scores of a sorted set."),
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Agg {
    Sum,
    Min,
    Max,
}

/// Members and scores of a sorted set or plain set (scores 1); `None` when missing. Counts no
/// keyspace hit or miss: [`check_types`] counted each source, as redis-server looks each up
/// once.
fn load(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Vec<(Key, f64)>>, CmdError> {
    let now = ctx.now;
    match ctx.eng.dbs[ctx.client.db].peek(key, now) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::ZSet(z) => Ok(Some(z.iter().collect())),
            Value::Set(s) => Ok(Some(s.iter().map(|m| (m.clone(), 1.0)).collect())),
            _ => Err(wrong_type()),
        },
    }
}

/// Redis checks the input keys' types right after `numkeys`, before it reads the options: a
/// WRONGTYPE key wins over a syntax error further on.
fn check_types(ctx: &mut Ctx<'_>, argv: &Argv<'_>, at: usize) -> Result<(), CmdError> {
    let now = ctx.now;
    for k in numkeys(argv, at, NumkeysStyle::Algebra)? {
        if let Some(e) = ctx.eng.dbs[ctx.client.db].get(k, now)
            && !matches!(e.value, Value::ZSet(_) | Value::Set(_))
        {
            return Err(wrong_type());
        }
    }
    Ok(())
}

fn aggregate(a: f64, b: f64, agg: Agg) -> f64 {
    match agg {
        Agg::Sum => {
            let s = a + b;
            // inf + -inf: Redis treats the NaN as 0.
            if s.is_nan() { 0.0 } else { s }
        }
        Agg::Min => a.min(b),
        Agg::Max => a.max(b),
    }
}

fn weighted(s: f64, w: f64) -> f64 {
    let r = s * w;
    if r.is_nan() { 0.0 } else { r }
}

/// Parsed `numkeys key… [WEIGHTS…] [AGGREGATE…] [WITHSCORES]`.
struct AlgebraArgs<'a> {
    keys: Vec<&'a [u8]>,
    weights: Vec<f64>,
    agg: Agg,
    withscores: bool,
}

fn parse_algebra<'a>(
    argv: &Argv<'a>,
    at: usize,
    op: Op,
    store: bool,
) -> Result<AlgebraArgs<'a>, CmdError> {
    let keys = numkeys(argv, at, NumkeysStyle::Algebra)?;
    let mut a = AlgebraArgs {
        weights: vec![1.0; keys.len()],
        keys,
        agg: Agg::Sum,
        withscores: false,
    };
    let mut i = at + 1 + a.keys.len();
    while i < argv.len() {
        let left = argv.len() - i - 1;
        if op != Op::Diff && argv.is(i, "weights") && left >= a.keys.len() {
            for j in 0..a.keys.len() {
                a.weights[j] = crate::db::zset::parse_score(argv.get(i + 1 + j))
                    .ok_or(CmdError::from("ERR weight value is not a float"))?;
            }
            i += 1 + a.keys.len();
        } else if op != Op::Diff && argv.is(i, "aggregate") && left >= 1 {
            let w = argv.get(i + 1);
            a.agg = if w.eq_ignore_ascii_case(b"sum") {
                Agg::Sum
            } else if w.eq_ignore_ascii_case(b"min") {
                Agg::Min
            } else if w.eq_ignore_ascii_case(b"max") {
                Agg::Max
            } else {
                return Err(errors::SYNTAX.into());
            };
            i += 2;
        } else if !store && argv.is(i, "withscores") {
            a.withscores = true;
            i += 1;
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    Ok(a)
}

/// Computes the algebra; result sorted by (score, member).
fn compute(
    ctx: &mut Ctx<'_>,
    a: &AlgebraArgs<'_>,
    op: Op,
    limit: usize,
) -> Result<Vec<(Key, f64)>, CmdError> {
    let mut inputs = Vec::with_capacity(a.keys.len());
    for k in &a.keys {
        inputs.push(load(ctx, k)?);
    }
    let mut acc: std::collections::HashMap<Key, f64> = std::collections::HashMap::new();
    match op {
        Op::Union => {
            for (idx, inp) in inputs.iter().enumerate() {
                for (m, s) in inp.iter().flatten() {
                    let w = weighted(*s, a.weights[idx]);
                    acc.entry(m.clone())
                        .and_modify(|x| *x = aggregate(*x, w, a.agg))
                        .or_insert(w);
                }
            }
        }
        Op::Inter => {
            if inputs.iter().any(|i| i.is_none()) {
                return Ok(Vec::new());
            }
            let maps: Vec<std::collections::HashMap<&Key, f64>> = inputs
                .iter()
                .flatten()
                .map(|v| v.iter().map(|(m, s)| (m, *s)).collect())
                .collect();
            if let Some(Some(first)) = inputs.first() {
                'outer: for (m, s) in first {
                    let mut score = weighted(*s, a.weights[0]);
                    for (j, map) in maps.iter().enumerate().skip(1) {
                        match map.get(m) {
                            Some(x) => score = aggregate(score, weighted(*x, a.weights[j]), a.agg),
                            None => continue 'outer,
                        }
                    }
                    acc.insert(m.clone(), score);
                    if limit > 0 && acc.len() >= limit {
                        break;
                    }
                }
            }
        }
        Op::Diff => {
            let mut it = inputs.into_iter();
            if let Some(Some(first)) = it.next() {
                let others: std::collections::HashSet<Key> =
                    it.flatten().flatten().map(|(m, _)| m).collect();
                for (m, s) in first {
                    if !others.contains(&m) {
                        acc.insert(m, s);
                    }
                }
            }
        }
    }
    let mut out: Vec<(Key, f64)> = acc.into_iter().collect();
    out.sort_by(|x, y| {
        crate::db::zset::Score(x.1)
            .cmp(&crate::db::zset::Score(y.1))
            .then_with(|| x.0.cmp(&y.0))
    });
    Ok(out)
}

fn algebra(ctx: &mut Ctx<'_>, argv: &Argv<'_>, op: Op) -> CmdResult {
    check_types(ctx, argv, 1)?;
    let a = parse_algebra(argv, 1, op, false)?;
    let r = compute(ctx, &a, op, 0)?;
    reply_entries(ctx, &r, a.withscores);
    Ok(())
}

fn algebra_store(ctx: &mut Ctx<'_>, argv: &Argv<'_>, op: Op, event: &'static str) -> CmdResult {
    check_types(ctx, argv, 2)?;
    let a = parse_algebra(argv, 2, op, true)?;
    let r = compute(ctx, &a, op, 0)?;
    store_entries(ctx, argv.get(1), &r, event);
    ctx.out.int(r.len() as i64);
    Ok(())
}

fn zunion(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    algebra(ctx, argv, Op::Union)
}
fn zinter(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    algebra(ctx, argv, Op::Inter)
}
fn zdiff(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    algebra(ctx, argv, Op::Diff)
}
fn zunionstore(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    algebra_store(ctx, argv, Op::Union, "zunionstore")
}
fn zinterstore(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    algebra_store(ctx, argv, Op::Inter, "zinterstore")
}
fn zdiffstore(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    algebra_store(ctx, argv, Op::Diff, "zdiffstore")
}

fn zintercard(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    // ZINTERCARD takes the ZUNION/ZINTER path in Redis: its numkeys errors and key checks.
    let keys = numkeys(argv, 1, NumkeysStyle::Algebra)?;
    check_types(ctx, argv, 1)?;
    let mut i = 2 + keys.len();
    let mut limit = 0usize;
    while i < argv.len() {
        if argv.is(i, "limit") && i + 1 < argv.len() {
            limit = argv
                .i64(i + 1)
                .ok()
                .and_then(|l| usize::try_from(l).ok())
                .ok_or(CmdError::from("ERR LIMIT can't be negative"))?;
            i += 2;
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    let a = AlgebraArgs {
        weights: vec![1.0; keys.len()],
        keys,
        agg: Agg::Sum,
        withscores: false,
    };
    let r = compute(ctx, &a, Op::Inter, limit)?;
    ctx.out.int(r.len() as i64);
    Ok(())
}

/// Pops up to `count` lowest (or highest) members; `None` when the key is missing.
fn pop_n(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    max: bool,
    count: usize,
) -> Result<Option<Vec<(Key, f64)>>, CmdError> {
    if count == 0 {
        // Type checked, nothing popped and the key not touched (Redis answers at once).
        coll::check::<ZSet>(ctx, key)?;
        return Ok(None);
    }
    let got = coll::write::<ZSet, _>(ctx, key, false, |z| {
        let n = count.min(z.len());
        let items = if max {
            let mut v = z.range(z.len() - n, z.len());
            v.reverse();
            v
        } else {
            z.range(0, n)
        };
        for (m, _) in &items {
            z.remove(m);
        }
        items
    })?;
    if let Some(items) = &got
        && !items.is_empty()
    {
        ctx.write(key)
            .notify(notify::ZSET, if max { "zpopmax" } else { "zpopmin" })
            .dirty(items.len() as u64);
        cleanup(ctx, key);
    }
    Ok(got)
}

fn pop_generic(ctx: &mut Ctx<'_>, argv: &Argv<'_>, max: bool) -> CmdResult {
    if argv.len() > 3 {
        return Err(errors::SYNTAX.into());
    }
    let count = if argv.len() == 3 {
        match crate::db::string::parse_i64(argv.get(2)) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => return Err("ERR value is out of range, must be positive".into()),
        }
    } else {
        None
    };
    let items = pop_n(ctx, argv.get(1), max, count.unwrap_or(1))?.unwrap_or_default();
    if count.is_some() && ctx.out.resp3 {
        reply_entries(ctx, &items, true);
    } else {
        ctx.out.array(items.len() * 2);
        for (m, s) in &items {
            ctx.out.bulk(m);
            coll::reply_score(ctx, *s);
        }
    }
    Ok(())
}

fn zpopmin(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    pop_generic(ctx, argv, false)
}
fn zpopmax(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    pop_generic(ctx, argv, true)
}

fn first_nonempty<'k>(ctx: &mut Ctx<'_>, keys: &[&'k [u8]]) -> Result<Option<&'k [u8]>, CmdError> {
    for k in keys {
        if coll::check::<ZSet>(ctx, k)? {
            return Ok(Some(k));
        }
    }
    Ok(None)
}

fn bpop_generic(ctx: &mut Ctx<'_>, argv: &Argv<'_>, max: bool) -> CmdResult {
    let keys: Vec<&[u8]> = argv.iter_from(1).take(argv.len() - 2).collect();
    let deadline = ctx.timeout_arg(argv, argv.len() - 1)?;
    if let Some(k) = first_nonempty(ctx, &keys)?
        && let Some(items) = pop_n(ctx, k, max, 1)?
        && let Some((m, s)) = items.first()
    {
        ctx.out.array(3);
        ctx.out.bulk(k);
        ctx.out.bulk(m);
        coll::reply_score(ctx, *s);
        return Ok(());
    }
    ctx.block(keys_of(&keys), deadline, TimeoutReply::NullArray)
}

fn bzpopmin(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    bpop_generic(ctx, argv, false)
}
fn bzpopmax(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    bpop_generic(ctx, argv, true)
}

fn mpop_args<'a>(argv: &Argv<'a>, at: usize) -> Result<(Vec<&'a [u8]>, bool, usize), CmdError> {
    let keys = numkeys(argv, at, NumkeysStyle::Mpop)?;
    let mut i = at + 1 + keys.len();
    let max = if argv.is(i, "max") {
        true
    } else if argv.is(i, "min") {
        false
    } else {
        return Err(errors::SYNTAX.into());
    };
    i += 1;
    Ok((keys, max, coll::mpop_count(argv, i)?))
}

fn mpop_try(ctx: &mut Ctx<'_>, keys: &[&[u8]], max: bool, count: usize) -> Result<bool, CmdError> {
    if let Some(k) = first_nonempty(ctx, keys)?
        && let Some(items) = pop_n(ctx, k, max, count)?
    {
        ctx.out.array(2);
        ctx.out.bulk(k);
        ctx.out.array(items.len());
        for (m, s) in &items {
            ctx.out.array(2);
            ctx.out.bulk(m);
            coll::reply_score(ctx, *s);
        }
        return Ok(true);
    }
    Ok(false)
}

fn zmpop(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let (keys, max, count) = mpop_args(argv, 1)?;
    if !mpop_try(ctx, &keys, max, count)? {
        ctx.out.null_array();
    }
    Ok(())
}

fn bzmpop(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let (keys, max, count) = mpop_args(argv, 2)?;
    // Redis reads the timeout after all the other arguments.
    let deadline = ctx.timeout_arg(argv, 1)?;
    if mpop_try(ctx, &keys, max, count)? {
        return Ok(());
    }
    ctx.block(keys_of(&keys), deadline, TimeoutReply::NullArray)
}

fn zrandmember(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let mut ws = false;
    let count = if argv.len() >= 3 {
        let c = argv.i64(2)?;
        if c == i64::MIN {
            // Redis reads the count within ±LONG_MAX before it looks at what follows.
            coll::random_count(c)?;
        }
        if argv.len() == 4 && argv.is(3, "withscores") {
            ws = true;
        } else if argv.len() > 3 {
            return Err(errors::SYNTAX.into());
        }
        if ws && c.unsigned_abs() > (i64::MAX as u64) / 2 {
            return Err("ERR value is out of range".into());
        }
        Some(if c < 0 { coll::random_count(c)? } else { c })
    } else {
        None
    };
    if coll::huge_random_count(count) && coll::peek::<ZSet>(ctx, argv.get(1))?.is_some() {
        return coll::answer_huge_random_count(ctx, count.unwrap_or_default());
    }
    let chosen: Vec<(Key, f64)> = match coll::read::<ZSet>(ctx, argv.get(1))? {
        None => Vec::new(),
        Some(z) => coll::sample_keys(z.dict(), count.unwrap_or(1))
            .into_iter()
            .map(|m| {
                let s = z.score(&m).unwrap_or(0.0);
                (m, s)
            })
            .collect(),
    };
    let Some(_) = count else {
        match chosen.first() {
            Some((m, _)) => ctx.out.bulk(m),
            None => ctx.out.null(),
        }
        return Ok(());
    };
    reply_entries(ctx, &chosen, ws);
    Ok(())
}

fn zscan(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let cursor = parse_cursor(argv.get(2))?;
    if coll::scan_missing::<ZSet>(ctx, argv.get(1))? {
        return Ok(());
    }
    let noscores = Since::from(Release::Valkey(8, 0, 0));
    let o = scan_opts(argv, 3, false, ctx.has(noscores).then_some("noscores"))?;
    let mut items = Vec::new();
    let legacy = !coll::is_72(ctx);
    let next = match coll::read::<ZSet>(ctx, argv.get(1))? {
        None => 0,
        Some(z) => {
            let mut visit = |k: &[u8], s: f64| {
                if o.pattern.is_none_or(|p| glob_match(p, k)) {
                    items.push(k.to_vec());
                    if o.novalues {
                        return;
                    }
                    let text = if legacy && s.is_finite() && s != 0.0 {
                        coll::format_g17(s)
                    } else {
                        crate::resp::reply::format_double(s)
                    };
                    items.push(text.into_bytes());
                }
            };
            if z.encoding() == "listpack" {
                for (k, s) in z.iter() {
                    visit(&k, s);
                }
                0
            } else {
                z.dict().scan(cursor, o.count, |k, s| visit(k, *s))
            }
        }
    };
    coll::scan_reply(ctx, next, &items);
    Ok(())
}
