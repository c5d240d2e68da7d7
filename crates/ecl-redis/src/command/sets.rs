//! Set commands.
//!
//! Place in the flow: argument parsing and reply shaping for `Value::Set`; membership storage
//! lives in `db/set.rs`. Writes keep the intset/listpack/hashtable encoding in step with the
//! `set-max-*` parameters and emit `sadd` / `srem` / `spop` / `*store` events. Whole-set
//! replies use the RESP3 set type.

use super::OwnedArgv;
use super::coll::{self, NumkeysStyle, cleanup, numkeys, numkeys_positions, read};
use super::flags::*;
use super::keys::{parse_cursor, scan_opts};
use super::ks;
use super::{AclCategories, Argv, Cmd, CommandSpec, Ctx, Keys, Release::Redis, acl};
use crate::config::notify;
use crate::db::set::Set;
use crate::db::{Key, Value};
use crate::errors::{self, CmdError, CmdResult};
use crate::glob::glob_match;

const R: AclCategories = acl::READ.with(acl::SET);
const W: AclCategories = acl::WRITE.with(acl::SET);
const K1: Keys = Keys::Range(1, 1, 1);
const KALL: Keys = Keys::Range(1, -1, 1);

fn card_keys(a: &Argv<'_>) -> Vec<usize> {
    numkeys_positions(a, 1)
}

/// Set family table.
pub const COMMANDS: &[CommandSpec] = &[
    Cmd::new("sadd", sadd).arity(-3).flags(&[WRITE, DENYOOM, FAST]).acl(&[W, acl::FAST]).keys(K1).since(Redis(1, 0, 0)).group("set").ks(&[ks::RW | ks::INSERT]).doc("Adds one or more members to a set. Creates the key if it doesn't exist."),
    Cmd::new("srem", srem).arity(-3).flags(&[WRITE, FAST]).acl(&[W, acl::FAST]).keys(K1).since(Redis(1, 0, 0)).group("set").ks(&[ks::RW | ks::DELETE]).doc("Removes one or more members from a set. Deletes the set if the last member was removed."),
    Cmd::new("smembers", smembers).arity(2).flags(&[READONLY]).acl(&[R, acl::SLOW]).keys(K1).since(Redis(1, 0, 0)).group("set").doc("Returns all members of a set."),
    Cmd::new("sismember", sismember).arity(3).flags(&[READONLY, FAST]).acl(&[R, acl::FAST]).keys(K1).since(Redis(1, 0, 0)).group("set").ks(&[ks::RO]).doc("Determines whether a member belongs to a set."),
    Cmd::new("smismember", smismember).arity(-3).flags(&[READONLY, FAST]).acl(&[R, acl::FAST]).keys(K1).since(Redis(6, 2, 0)).group("set").doc("Determines whether multiple members belong to a set."),
    Cmd::new("scard", scard).arity(2).flags(&[READONLY, FAST]).acl(&[R, acl::FAST]).keys(K1).since(Redis(1, 0, 0)).group("set").ks(&[ks::RO]).doc("Returns the number of members in a set."),
    Cmd::new("spop", spop).arity(-2).flags(&[WRITE, FAST]).acl(&[W, acl::FAST]).keys(K1).since(Redis(1, 0, 0)).group("set").ks(&[ks::RW | ks::ACCESS | ks::DELETE]).doc("Returns one or more random members from a set after removing them. Deletes the set if the last member was popped."),
    Cmd::new("srandmember", srandmember).arity(-2).flags(&[READONLY]).acl(&[R, acl::SLOW]).keys(K1).since(Redis(1, 0, 0)).group("set").doc("Get one or multiple random members from a set"),
    Cmd::new("smove", smove).arity(4).flags(&[WRITE, FAST]).acl(&[W, acl::FAST]).keys(Keys::Range(1, 2, 1)).since(Redis(1, 0, 0)).group("set").ks(&[ks::RW | ks::ACCESS | ks::DELETE, ks::RW | ks::INSERT]).doc("Moves a member from one set to another."),
    Cmd::new("sinter", sinter).arity(-2).flags(&[READONLY]).acl(&[R, acl::SLOW]).keys(KALL).since(Redis(1, 0, 0)).group("set").doc("Returns the intersect of multiple sets."),
    Cmd::new("sintercard", sintercard).arity(-3).flags(&[READONLY, MOVABLE_KEYS]).acl(&[R, acl::SLOW]).keys(Keys::Custom(card_keys)).since(Redis(7, 0, 0)).group("set").doc("Returns the number of members of the intersect of multiple sets."),
    Cmd::new("sinterstore", sinterstore).arity(-3).flags(&[WRITE, DENYOOM]).acl(&[W, acl::SLOW]).keys(KALL).since(Redis(1, 0, 0)).group("set").ks(&[ks::RW | ks::UPDATE, ks::RO | ks::ACCESS]).doc("Stores the intersect of multiple sets in a key."),
    Cmd::new("sunion", sunion).arity(-2).flags(&[READONLY]).acl(&[R, acl::SLOW]).keys(KALL).since(Redis(1, 0, 0)).group("set").doc("Returns the union of multiple sets."),
    Cmd::new("sunionstore", sunionstore).arity(-3).flags(&[WRITE, DENYOOM]).acl(&[W, acl::SLOW]).keys(KALL).since(Redis(1, 0, 0)).group("set").ks(&[ks::OW | ks::UPDATE, ks::RO | ks::ACCESS]).doc("Stores the union of multiple sets in a key."),
    Cmd::new("sdiff", sdiff).arity(-2).flags(&[READONLY]).acl(&[R, acl::SLOW]).keys(KALL).since(Redis(1, 0, 0)).group("set").doc("Returns the difference of multiple sets."),
    Cmd::new("sdiffstore", sdiffstore).arity(-3).flags(&[WRITE, DENYOOM]).acl(&[W, acl::SLOW]).keys(KALL).since(Redis(1, 0, 0)).group("set").ks(&[ks::OW | ks::UPDATE, ks::RO | ks::ACCESS]).doc("Stores the difference of multiple sets in a key."),
    Cmd::new("sscan", sscan).arity(-3).flags(&[READONLY]).acl(&[R, acl::SLOW]).keys(K1).since(Redis(2, 8, 0)).group("set").doc("Iterates over members of a set."),
];

fn sadd(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let key = argv.get(1);
    let nothing_new =
        coll::peek::<Set>(ctx, key)?.is_some_and(|s| argv.iter_from(2).all(|m| s.contains(m)));
    if nothing_new {
        ctx.out.int(0);
        return Ok(());
    }
    let lim = coll::set_limits(ctx);
    let n = coll::write::<Set, _>(ctx, key, true, |s| {
        let members: Vec<&[u8]> = argv.iter_from(2).collect();
        let n = members.iter().filter(|m| s.insert(m)).count();
        s.check_encoding(lim, &members);
        n
    })?
    .unwrap_or(0);
    ctx.out.int(n as i64);
    if n > 0 {
        ctx.write(key).notify(notify::SET, "sadd").dirty(n as u64);
    } else {
        // Redis creates nothing new, but `get_or_create` may have made an empty set.
        ctx.db().remove_if_empty(key);
    }
    Ok(())
}

fn srem(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let key = argv.get(1);
    if !coll::peek::<Set>(ctx, key)?.is_some_and(|s| argv.iter_from(2).any(|m| s.contains(m))) {
        ctx.out.int(0);
        return Ok(());
    }
    let n = coll::write::<Set, _>(ctx, key, false, |s| {
        argv.iter_from(2).filter(|m| s.remove(m)).count()
    })?
    .unwrap_or(0);
    ctx.out.int(n as i64);
    if n > 0 {
        ctx.write(key).notify(notify::SET, "srem").dirty(n as u64);
        cleanup(ctx, key);
    }
    Ok(())
}

/// Members in the order Redis replies with them (ascending for intsets).
fn members(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Vec<Key>, CmdError> {
    let (mut items, intset) = match read::<Set>(ctx, key)? {
        Some(s) => (s.iter().cloned().collect(), s.encoding() == "intset"),
        None => (Vec::new(), false),
    };
    if intset {
        coll::intset_order(ctx, &mut items);
    }
    Ok(items)
}

fn reply_set(ctx: &mut Ctx<'_>, items: &[Key]) {
    ctx.out.set(items.len());
    for m in items {
        ctx.out.bulk(m);
    }
}

fn smembers(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let m = members(ctx, argv.get(1))?;
    reply_set(ctx, &m);
    Ok(())
}

fn sismember(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let b = read::<Set>(ctx, argv.get(1))?.is_some_and(|s| s.contains(argv.get(2)));
    ctx.out.int(i64::from(b));
    Ok(())
}

fn smismember(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let r: Vec<bool> = match read::<Set>(ctx, argv.get(1))? {
        Some(s) => argv.iter_from(2).map(|m| s.contains(m)).collect(),
        None => vec![false; argv.len() - 2],
    };
    ctx.out.array(r.len());
    for b in r {
        ctx.out.int(i64::from(b));
    }
    Ok(())
}

fn scard(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let n = read::<Set>(ctx, argv.get(1))?.map_or(0, |s| s.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn spop(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let key = argv.get(1);
    if argv.len() > 3 {
        return Err(errors::SYNTAX.into());
    }
    let count = if argv.len() == 3 {
        match crate::db::string::parse_i64(argv.get(2)) {
            Some(n) if n >= 0 => Some(n),
            _ => return Err("ERR value is out of range, must be positive".into()),
        }
    } else {
        None
    };
    // A write's lookup: no keyspace hit or miss, as redis-server counts it.
    let chosen: Vec<Key> = coll::peek::<Set>(ctx, key)?
        .map(|s| coll::sample_keys(s.dict(), count.unwrap_or(1)))
        .unwrap_or_default();
    if !chosen.is_empty() {
        coll::write::<Set, _>(ctx, key, false, |s| {
            for m in &chosen {
                s.remove(m);
            }
        })?;
        ctx.write(key)
            .notify(notify::SET, "spop")
            .dirty(chosen.len() as u64);
        cleanup(ctx, key);
        if ctx.replicating() {
            // Members are picked at random: replicas remove the ones popped here.
            let mut srem = OwnedArgv::from_slices([b"SREM".as_slice(), key]);
            for m in &chosen {
                srem.push(m);
            }
            ctx.propagate(vec![srem]);
        }
    }
    match count {
        None => match chosen.first() {
            Some(m) => ctx.out.bulk(m),
            None => ctx.out.null(),
        },
        Some(_) => reply_set(ctx, &chosen),
    }
    Ok(())
}

fn srandmember(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    if argv.len() > 3 {
        return Err(errors::SYNTAX.into());
    }
    let count = if argv.len() == 3 {
        let c = argv.i64(2)?;
        Some(if c < 0 { coll::random_count(c)? } else { c })
    } else {
        None
    };
    if coll::huge_random_count(count) && coll::peek::<Set>(ctx, argv.get(1))?.is_some() {
        return coll::answer_huge_random_count(ctx, count.unwrap_or_default());
    }
    let chosen: Vec<Key> = read::<Set>(ctx, argv.get(1))?
        .map(|s| coll::sample_keys(s.dict(), count.unwrap_or(1)))
        .unwrap_or_default();
    match count {
        None => match chosen.first() {
            Some(m) => ctx.out.bulk(m),
            None => ctx.out.null(),
        },
        Some(_) => {
            ctx.out.array(chosen.len());
            for m in &chosen {
                ctx.out.bulk(m);
            }
        }
    }
    Ok(())
}

fn smove(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let (src, dst, m) = (argv.get(1), argv.get(2), argv.get(3));
    // A write's lookup: no keyspace hit or miss, as redis-server counts it.
    let src_has = coll::peek::<Set>(ctx, src)?.map(|s| s.contains(m));
    // As Redis: a missing source answers 0 before the destination's type is looked at.
    if src_has.is_some() {
        coll::check::<Set>(ctx, dst)?;
    }
    match src_has {
        None | Some(false) => {
            ctx.out.int(0);
            return Ok(());
        }
        Some(true) if src == dst => {
            ctx.out.int(1);
            return Ok(());
        }
        Some(true) => {}
    }
    coll::write::<Set, _>(ctx, src, false, |s| s.remove(m))?;
    ctx.write(src).notify(notify::SET, "srem");
    cleanup(ctx, src);
    // A destination that has the member already is not written (its WATCHers see nothing).
    if coll::peek::<Set>(ctx, dst)?.is_some_and(|s| s.contains(m)) {
        ctx.dirty(1);
        ctx.out.int(1);
        return Ok(());
    }
    let lim = coll::set_limits(ctx);
    let added = coll::write::<Set, _>(ctx, dst, true, |s| {
        let a = s.insert(m);
        s.check_encoding(lim, &[m]);
        a
    })?;
    if added == Some(true) {
        ctx.write(dst).notify(notify::SET, "sadd");
    }
    ctx.dirty(1);
    ctx.out.int(1);
    Ok(())
}

/// Set algebra over the sets at `keys` (missing keys are empty sets).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Inter,
    Union,
    Diff,
}

fn compute(ctx: &mut Ctx<'_>, keys: &[&[u8]], op: Op, limit: usize) -> Result<Vec<Key>, CmdError> {
    let mut sets: Vec<Option<Vec<Key>>> = Vec::with_capacity(keys.len());
    for k in keys {
        sets.push(read::<Set>(ctx, k)?.map(|s| s.iter().cloned().collect()));
    }
    let mut out = Vec::new();
    match op {
        Op::Union => {
            let mut seen = std::collections::HashSet::new();
            for m in sets.into_iter().flatten().flatten() {
                if seen.insert(m.clone()) {
                    out.push(m);
                }
            }
        }
        Op::Inter => {
            if sets.iter().any(|s| s.is_none()) {
                return Ok(out);
            }
            let mut sets: Vec<Vec<Key>> = sets.into_iter().flatten().collect();
            sets.sort_by_key(|s| s.len());
            let rest: Vec<std::collections::HashSet<&Key>> =
                sets.iter().skip(1).map(|s| s.iter().collect()).collect();
            if let Some(first) = sets.first() {
                for m in first {
                    if rest.iter().all(|s| s.contains(m)) {
                        out.push(m.clone());
                        if limit > 0 && out.len() >= limit {
                            break;
                        }
                    }
                }
            }
        }
        Op::Diff => {
            let mut it = sets.into_iter();
            let Some(Some(first)) = it.next() else {
                return Ok(out);
            };
            let others: std::collections::HashSet<Key> = it.flatten().flatten().collect();
            out = first.into_iter().filter(|m| !others.contains(m)).collect();
        }
    }
    Ok(out)
}

fn algebra(ctx: &mut Ctx<'_>, argv: &Argv<'_>, op: Op) -> CmdResult {
    let keys: Vec<&[u8]> = argv.iter_from(1).collect();
    let mut r = compute(ctx, &keys, op, 0)?;
    coll::intset_order(ctx, &mut r);
    reply_set(ctx, &r);
    Ok(())
}

fn algebra_store(ctx: &mut Ctx<'_>, argv: &Argv<'_>, op: Op, event: &'static str) -> CmdResult {
    let dst = argv.get(1);
    let keys: Vec<&[u8]> = argv.iter_from(2).collect();
    let r = compute(ctx, &keys, op, 0)?;
    let lim = coll::set_limits(ctx);
    let mut s = Set::new();
    for m in &r {
        s.insert(m);
    }
    let all: Vec<&[u8]> = r.iter().map(|m| &m[..]).collect();
    s.check_encoding(lim, &all);
    let now = ctx.now;
    let existed = ctx.db().exists(dst, now);
    let stored = coll::store(ctx, dst, Value::Set(Box::new(s)), r.is_empty());
    if stored {
        ctx.write(dst).notify(notify::SET, event);
    } else if existed {
        ctx.write(dst).notify(notify::GENERIC, "del");
    }
    ctx.dirty(1);
    ctx.out.int(r.len() as i64);
    Ok(())
}

fn sinter(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    algebra(ctx, argv, Op::Inter)
}
fn sunion(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    algebra(ctx, argv, Op::Union)
}
fn sdiff(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    algebra(ctx, argv, Op::Diff)
}
fn sinterstore(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    algebra_store(ctx, argv, Op::Inter, "sinterstore")
}
fn sunionstore(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    algebra_store(ctx, argv, Op::Union, "sunionstore")
}
fn sdiffstore(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    algebra_store(ctx, argv, Op::Diff, "sdiffstore")
}

fn sintercard(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let keys = numkeys(argv, 1, NumkeysStyle::Card)?;
    let mut i = 2 + keys.len();
    let mut limit = 0usize;
    while i < argv.len() {
        if argv.is(i, "limit") && i + 1 < argv.len() {
            // Redis gives this one message for any LIMIT that is not a non-negative integer.
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
    let r = compute(ctx, &keys, Op::Inter, limit)?;
    ctx.out.int(r.len() as i64);
    Ok(())
}

fn sscan(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let cursor = parse_cursor(argv.get(2))?;
    if coll::scan_missing::<Set>(ctx, argv.get(1))? {
        return Ok(());
    }
    let o = scan_opts(argv, 3, false, None)?;
    if o.novalues {
        return Err(errors::SYNTAX.into());
    }
    let mut items = Vec::new();
    let next = match read::<Set>(ctx, argv.get(1))? {
        None => 0,
        Some(s) => {
            let mut visit = |k: &[u8]| {
                if o.pattern.is_none_or(|p| glob_match(p, k)) {
                    items.push(k.to_vec());
                }
            };
            if s.encoding() != "hashtable" {
                let mut all: Vec<Key> = s.iter().cloned().collect();
                if s.encoding() == "intset" {
                    all.sort_by_key(|m| crate::db::string::parse_i64(m).unwrap_or(0));
                }
                for k in &all {
                    visit(k);
                }
                0
            } else {
                s.dict().scan(cursor, o.count, |k, _| visit(k))
            }
        }
    };
    coll::scan_reply(ctx, next, &items);
    Ok(())
}
