//! List commands, including the blocking pops and moves.
//!
//! Place in the flow: argument parsing and reply shaping for `Value::List`; the list algorithms
//! live in `db/list.rs`. Pushes emit their event and mark the key `ready` so blocked clients are
//! served (in FIFO order by the dispatcher); blocking commands try first and otherwise park
//! with `ctx.block`, which answers the timeout reply at once inside MULTI.

use super::coll::{self, NumkeysStyle, cleanup, keys_of, numkeys, numkeys_positions, read};
use super::flags::*;
use super::ks;
use super::{AclCategories, Argv, Cmd, CommandSpec, Ctx, Keys, Release::Redis, acl};
use crate::client::TimeoutReply;
use crate::config::notify;
use crate::db::bytes::SmallBytes;
use crate::db::list::{End, List};
use crate::db::string::rank_range;
use crate::errors::{self, CmdError, CmdResult};

const R: AclCategories = acl::READ.with(acl::LIST);
const W: AclCategories = acl::WRITE.with(acl::LIST);
const K1: Keys = Keys::Range(1, 1, 1);
const K12: Keys = Keys::Range(1, 2, 1);
const BLK: AclCategories = AclCategories::all_of(&[W, acl::SLOW, acl::BLOCKING]);

fn lmpop_keys(a: &Argv<'_>) -> Vec<usize> {
    numkeys_positions(a, 1)
}
fn blmpop_keys(a: &Argv<'_>) -> Vec<usize> {
    numkeys_positions(a, 2)
}

/// List family table.
pub const COMMANDS: &[CommandSpec] = &[
    Cmd::new("lpush", lpush).arity(-3).flags(&[WRITE, DENYOOM, FAST]).acl(&[W, acl::FAST]).keys(K1).since(Redis(1, 0, 0)).group("list").ks(&[ks::RW | ks::INSERT]).doc("Prepends one or more elements to a list. Creates the key if it doesn't exist."),
    Cmd::new("rpush", rpush).arity(-3).flags(&[WRITE, DENYOOM, FAST]).acl(&[W, acl::FAST]).keys(K1).since(Redis(1, 0, 0)).group("list").ks(&[ks::RW | ks::INSERT]).doc("Appends one or more elements to a list. Creates the key if it doesn't exist."),
    Cmd::new("lpushx", lpushx).arity(-3).flags(&[WRITE, DENYOOM, FAST]).acl(&[W, acl::FAST]).keys(K1).since(Redis(2, 2, 0)).group("list").ks(&[ks::RW | ks::INSERT]).doc("Prepends one or more elements to a list only when the list exists."),
    Cmd::new("rpushx", rpushx).arity(-3).flags(&[WRITE, DENYOOM, FAST]).acl(&[W, acl::FAST]).keys(K1).since(Redis(2, 2, 0)).group("list").ks(&[ks::RW | ks::INSERT]).doc("Appends an element to a list only when the list exists."),
    Cmd::new("lpop", lpop).arity(-2).flags(&[WRITE, FAST]).acl(&[W, acl::FAST]).keys(K1).since(Redis(1, 0, 0)).group("list").ks(&[ks::RW | ks::ACCESS | ks::DELETE]).doc("Returns the first elements in a list after removing it. Deletes the list if the last element was popped."),
    Cmd::new("rpop", rpop).arity(-2).flags(&[WRITE, FAST]).acl(&[W, acl::FAST]).keys(K1).since(Redis(1, 0, 0)).group("list").ks(&[ks::RW | ks::ACCESS | ks::DELETE]).doc("Returns and removes the last elements of a list. Deletes the list if the last element was popped."),
    Cmd::new("llen", llen).arity(2).flags(&[READONLY, FAST]).acl(&[R, acl::FAST]).keys(K1).since(Redis(1, 0, 0)).group("list").ks(&[ks::RO]).doc("Returns the length of a list."),
    Cmd::new("lrange", lrange).arity(4).flags(&[READONLY]).acl(&[R, acl::SLOW]).keys(K1).since(Redis(1, 0, 0)).group("list").doc("Returns a range of elements from a list."),
    Cmd::new("lindex", lindex).arity(3).flags(&[READONLY]).acl(&[R, acl::SLOW]).keys(K1).since(Redis(1, 0, 0)).group("list").doc("Returns an element from a list by its index."),
    Cmd::new("lset", lset).arity(4).flags(&[WRITE, DENYOOM]).acl(&[W, acl::SLOW]).keys(K1).since(Redis(1, 0, 0)).group("list").doc("Sets the value of an element in a list by its index."),
    Cmd::new("linsert", linsert).arity(5).flags(&[WRITE, DENYOOM]).acl(&[W, acl::SLOW]).keys(K1).since(Redis(2, 2, 0)).group("list").ks(&[ks::RW | ks::INSERT]).doc("Inserts an element before or after another element in a list."),
    Cmd::new("lrem", lrem).arity(4).flags(&[WRITE]).acl(&[W, acl::SLOW]).keys(K1).since(Redis(1, 0, 0)).group("list").ks(&[ks::RW | ks::DELETE]).doc("Removes elements from a list. Deletes the list if the last element was removed."),
    Cmd::new("ltrim", ltrim).arity(4).flags(&[WRITE]).acl(&[W, acl::SLOW]).keys(K1).since(Redis(1, 0, 0)).group("list").ks(&[ks::RW | ks::DELETE]).doc("Removes elements from both ends a list. Deletes the list if all elements were trimmed."),
    Cmd::new("lpos", lpos).arity(-3).flags(&[READONLY]).acl(&[R, acl::SLOW]).keys(K1).since(Redis(6, 0, 6)).group("list").doc("Returns the index of matching elements in a list."),
    Cmd::new("lmove", lmove).arity(5).flags(&[WRITE, DENYOOM]).acl(&[W, acl::SLOW]).keys(K12).since(Redis(6, 2, 0)).group("list").ks(&[ks::RW | ks::ACCESS | ks::DELETE, ks::RW | ks::INSERT]).doc("Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved."),
    Cmd::new("rpoplpush", rpoplpush).arity(3).flags(&[WRITE, DENYOOM]).acl(&[W, acl::SLOW]).keys(K12).since(Redis(1, 2, 0)).group("list").ks(&[ks::RW | ks::ACCESS | ks::DELETE, ks::RW | ks::INSERT]).doc("Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped."),
    Cmd::new("lmpop", lmpop).arity(-4).flags(&[WRITE, MOVABLE_KEYS]).acl(&[W, acl::SLOW]).keys(Keys::Custom(lmpop_keys)).since(Redis(7, 0, 0)).group("list").ks(&[ks::RW | ks::ACCESS | ks::DELETE]).doc("Returns multiple elements from a list after removing them. Deletes the list if the last element was popped."),
    Cmd::new("blpop", blpop).arity(-3).flags(&[WRITE, BLOCKING, NOSCRIPT]).acl(&[BLK]).keys(Keys::Range(1, -2, 1)).since(Redis(2, 0, 0)).group("list").ks(&[ks::RW | ks::ACCESS | ks::DELETE]).doc("Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
    Cmd::new("brpop", brpop).arity(-3).flags(&[WRITE, BLOCKING, NOSCRIPT]).acl(&[BLK]).keys(Keys::Range(1, -2, 1)).since(Redis(2, 0, 0)).group("list").ks(&[ks::RW | ks::ACCESS | ks::DELETE]).doc("Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
    Cmd::new("blmove", blmove).arity(6).flags(&[WRITE, DENYOOM, BLOCKING, NOSCRIPT]).acl(&[BLK]).keys(K12).since(Redis(6, 2, 0)).group("list").ks(&[ks::RW | ks::ACCESS | ks::DELETE, ks::RW | ks::INSERT]).doc("Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved."),
    Cmd::new("brpoplpush", brpoplpush).arity(4).flags(&[WRITE, DENYOOM, BLOCKING, NOSCRIPT]).acl(&[BLK]).keys(K12).since(Redis(2, 2, 0)).group("list").ks(&[ks::RW | ks::ACCESS | ks::DELETE, ks::RW | ks::INSERT]).doc("Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped."),
    Cmd::new("blmpop", blmpop).arity(-5).flags(&[WRITE, BLOCKING, MOVABLE_KEYS]).acl(&[BLK]).keys(Keys::Custom(blmpop_keys)).since(Redis(7, 0, 0)).group("list").ks(&[ks::RW | ks::ACCESS | ks::DELETE]).doc("Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
];

/// `list-max-listpack-size`, or `None` before Redis 7.2 (lists are always quicklists there).
fn max_size(ctx: &Ctx<'_>) -> Option<i64> {
    coll::is_72(ctx).then_some(ctx.eng.cfg.encoding.list_size)
}

fn event(end: End, push: bool) -> &'static str {
    match (end, push) {
        (End::Left, true) => "lpush",
        (End::Right, true) => "rpush",
        (End::Left, false) => "lpop",
        (End::Right, false) => "rpop",
    }
}

fn push_generic(ctx: &mut Ctx<'_>, argv: &Argv<'_>, end: End, only_existing: bool) -> CmdResult {
    let key = argv.get(1);
    let ms = max_size(ctx);
    let n = coll::write::<List, _>(ctx, key, !only_existing, |l| {
        for e in argv.iter_from(2) {
            l.push(end, e);
        }
        l.check_encoding(ms);
        l.len()
    })?;
    match n {
        None => ctx.out.int(0),
        Some(n) => {
            ctx.out.int(n as i64);
            ctx.write(key)
                .notify(notify::LIST, event(end, true))
                .dirty(argv.len() as u64 - 2)
                .ready();
        }
    }
    Ok(())
}

fn lpush(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    push_generic(ctx, argv, End::Left, false)
}
fn rpush(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    push_generic(ctx, argv, End::Right, false)
}
fn lpushx(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    push_generic(ctx, argv, End::Left, true)
}
fn rpushx(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    push_generic(ctx, argv, End::Right, true)
}

/// Pops up to `count` elements from `key` with events and cleanup; `None` when missing.
fn pop_n(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    end: End,
    count: usize,
) -> Result<Option<Vec<SmallBytes>>, CmdError> {
    let ms = max_size(ctx);
    let got = coll::write::<List, _>(ctx, key, false, |l| {
        let mut out = Vec::new();
        while out.len() < count {
            match l.pop(end) {
                Some(x) => out.push(x),
                None => break,
            }
        }
        l.check_encoding(ms);
        out
    })?;
    if let Some(items) = &got
        && !items.is_empty()
    {
        ctx.write(key)
            .notify(notify::LIST, event(end, false))
            .dirty(items.len() as u64);
        cleanup(ctx, key);
    }
    Ok(got)
}

fn positive_count(argv: &Argv<'_>, i: usize) -> Result<usize, CmdError> {
    match crate::db::string::parse_i64(argv.get(i)) {
        Some(n) if n >= 0 => Ok(n as usize),
        _ => Err("ERR value is out of range, must be positive".into()),
    }
}

fn pop_generic(ctx: &mut Ctx<'_>, argv: &Argv<'_>, end: End) -> CmdResult {
    if argv.len() > 3 {
        let name = argv.str(0).to_ascii_lowercase();
        return Err(errors::wrong_arity(&name));
    }
    let key = argv.get(1);
    let count = if argv.len() == 3 {
        Some(positive_count(argv, 2)?)
    } else {
        None
    };
    if count == Some(0) {
        if coll::check::<List>(ctx, key)? {
            ctx.out.array(0);
        } else {
            ctx.out.null_array();
        }
        return Ok(());
    }
    match (pop_n(ctx, key, end, count.unwrap_or(1))?, count) {
        (None, None) => ctx.out.null(),
        (None, Some(_)) => ctx.out.null_array(),
        (Some(items), None) => match items.first() {
            Some(x) => ctx.out.bulk(x),
            None => ctx.out.null(),
        },
        (Some(items), Some(_)) => ctx.out.bulk_array(items.iter().map(|x| x.as_slice())),
    }
    Ok(())
}

fn lpop(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    pop_generic(ctx, argv, End::Left)
}
fn rpop(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    pop_generic(ctx, argv, End::Right)
}

fn llen(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let n = read::<List>(ctx, argv.get(1))?.map_or(0, |l| l.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn lrange(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let (s, e) = (argv.i64(2)?, argv.i64(3)?);
    // Replies straight from the list (no element copies): the database and the reply
    // buffer are disjoint parts of the context.
    let now = ctx.now;
    let out = &mut *ctx.out;
    let l = match ctx.eng.dbs[ctx.client.db].get(argv.get(1), now) {
        None => {
            out.array(0);
            return Ok(());
        }
        Some(en) => match &en.value {
            crate::db::Value::List(l) => l,
            _ => return Err(crate::db::wrong_type()),
        },
    };
    match rank_range(s, e, l.len()) {
        None => out.array(0),
        Some((a, b)) => out.bulk_array(l.iter().skip(a).take(b - a + 1).map(|x| x.as_slice())),
    }
    Ok(())
}

fn lindex(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    // Redis looks the key up (nil, WRONGTYPE) before it parses the index.
    let Some(l) = read::<List>(ctx, argv.get(1))? else {
        ctx.out.null();
        return Ok(());
    };
    let i = argv.i64(2)?;
    let item = l.index(i).and_then(|j| l.get(j)).cloned();
    match item {
        Some(x) => ctx.out.bulk(&x),
        None => ctx.out.null(),
    }
    Ok(())
}

fn lset(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let key = argv.get(1);
    // Redis looks the key up (no such key, WRONGTYPE) before it parses the index.
    if !coll::check::<List>(ctx, key)? {
        return Err(errors::NO_SUCH_KEY.into());
    }
    let i = argv.i64(2)?;
    // An index out of range changes nothing: checked before the write access, which would
    // count as a modification for WATCH.
    if coll::peek::<List>(ctx, key)?.is_some_and(|l| l.index(i).is_none()) {
        return Err("ERR index out of range".into());
    }
    let ms = max_size(ctx);
    let r = coll::write::<List, _>(ctx, key, false, |l| {
        let ok = l.index(i).is_some_and(|j| l.set(j, argv.get(3)));
        l.check_encoding(ms);
        ok
    })?;
    match r {
        None => Err(errors::NO_SUCH_KEY.into()),
        Some(false) => Err("ERR index out of range".into()),
        Some(true) => {
            ctx.out.ok();
            ctx.write(key).notify(notify::LIST, "lset").dirty(1);
            Ok(())
        }
    }
}

fn linsert(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let after = if argv.is(2, "after") {
        true
    } else if argv.is(2, "before") {
        false
    } else {
        return Err(errors::SYNTAX.into());
    };
    let key = argv.get(1);
    match coll::peek::<List>(ctx, key)? {
        None => {
            ctx.out.int(0);
            return Ok(());
        }
        Some(l) if !l.iter().any(|x| x == argv.get(3)) => {
            ctx.out.int(-1);
            return Ok(());
        }
        Some(_) => {}
    }
    let ms = max_size(ctx);
    let r = coll::write::<List, _>(ctx, key, false, |l| {
        let n = l.insert_at_pivot(argv.get(3), argv.get(4), after);
        l.check_encoding(ms);
        n
    })?;
    match r {
        None => ctx.out.int(0),
        Some(None) => ctx.out.int(-1),
        Some(Some(n)) => {
            ctx.out.int(n as i64);
            ctx.write(key).notify(notify::LIST, "linsert").dirty(1);
        }
    }
    Ok(())
}

fn lrem(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let key = argv.get(1);
    let count = argv.i64(2)?;
    if !coll::peek::<List>(ctx, key)?.is_some_and(|l| l.iter().any(|x| x == argv.get(3))) {
        ctx.out.int(0);
        return Ok(());
    }
    let ms = max_size(ctx);
    let n = coll::write::<List, _>(ctx, key, false, |l| {
        let n = l.remove_matching(argv.get(3), count);
        l.check_encoding(ms);
        n
    })?
    .unwrap_or(0);
    ctx.out.int(n as i64);
    if n > 0 {
        ctx.write(key).notify(notify::LIST, "lrem").dirty(n as u64);
        cleanup(ctx, key);
    }
    Ok(())
}

fn ltrim(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let key = argv.get(1);
    let (s, e) = (argv.i64(2)?, argv.i64(3)?);
    let ms = max_size(ctx);
    let r = coll::write::<List, _>(ctx, key, false, |l| {
        let before = l.len();
        l.trim(s, e);
        l.check_encoding(ms);
        before - l.len()
    })?;
    ctx.out.ok();
    if let Some(removed) = r {
        ctx.write(key)
            .notify(notify::LIST, "ltrim")
            .dirty(removed as u64);
        cleanup(ctx, key);
    }
    Ok(())
}

fn lpos(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let (mut rank, mut count, mut maxlen) = (1i64, None, 0usize);
    let mut i = 3;
    while i < argv.len() {
        if i + 1 >= argv.len() {
            return Err(errors::SYNTAX.into());
        }
        if argv.is(i, "rank") {
            rank = argv.i64(i + 1)?;
            if rank == i64::MIN {
                // Redis 7.0 ends up treating the most negative rank as -1.
                rank = -1;
            }
            if rank == 0 {
                return Err("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list".into());
            }
        } else if argv.is(i, "count") {
            // Redis gives one message for any COUNT or MAXLEN that is not a non-negative integer.
            let c = argv.i64(i + 1).ok().and_then(|c| usize::try_from(c).ok());
            count = Some(c.ok_or(CmdError::from("ERR COUNT can't be negative"))?);
        } else if argv.is(i, "maxlen") {
            let m = argv.i64(i + 1).ok().and_then(|m| usize::try_from(m).ok());
            maxlen = m.ok_or(CmdError::from("ERR MAXLEN can't be negative"))?;
        } else {
            return Err(errors::SYNTAX.into());
        }
        i += 2;
    }
    let found = read::<List>(ctx, argv.get(1))?
        .map(|l| l.positions(argv.get(2), rank, count.unwrap_or(1), maxlen))
        .unwrap_or_default();
    match count {
        Some(_) => {
            ctx.out.array(found.len());
            for p in found {
                ctx.out.int(p as i64);
            }
        }
        None => match found.first() {
            Some(p) => ctx.out.int(*p as i64),
            None => ctx.out.null(),
        },
    }
    Ok(())
}

/// LMOVE core: `Ok(None)` when the source is missing/empty. WRONGTYPE on either key is
/// reported before anything moves.
fn move_one(
    ctx: &mut Ctx<'_>,
    src: &[u8],
    dst: &[u8],
    from: End,
    to: End,
) -> Result<Option<SmallBytes>, CmdError> {
    if !coll::check::<List>(ctx, src)? {
        return Ok(None);
    }
    coll::check::<List>(ctx, dst)?;
    let Some(mut got) = pop_n(ctx, src, from, 1)? else {
        return Ok(None);
    };
    let Some(x) = got.pop() else {
        return Ok(None);
    };
    let ms = max_size(ctx);
    coll::write::<List, _>(ctx, dst, true, |l| {
        l.push(to, x.clone());
        l.check_encoding(ms);
    })?;
    ctx.write(dst)
        .notify(notify::LIST, event(to, true))
        .dirty(1)
        .ready();
    Ok(Some(x))
}

fn ends(argv: &Argv<'_>, i: usize) -> Result<(End, End), CmdError> {
    match (End::parse(argv.get(i)), End::parse(argv.get(i + 1))) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(errors::SYNTAX.into()),
    }
}

fn reply_moved(ctx: &mut Ctx<'_>, x: Option<SmallBytes>) {
    match x {
        Some(x) => ctx.out.bulk(&x),
        None => ctx.out.null(),
    }
}

fn lmove(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let (from, to) = ends(argv, 3)?;
    let x = move_one(ctx, argv.get(1), argv.get(2), from, to)?;
    reply_moved(ctx, x);
    Ok(())
}

fn rpoplpush(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let x = move_one(ctx, argv.get(1), argv.get(2), End::Right, End::Left)?;
    reply_moved(ctx, x);
    Ok(())
}

fn blmove_generic(ctx: &mut Ctx<'_>, argv: &Argv<'_>, from: End, to: End, t: usize) -> CmdResult {
    let deadline = ctx.timeout_arg(argv, t)?;
    match move_one(ctx, argv.get(1), argv.get(2), from, to)? {
        Some(x) => {
            ctx.out.bulk(&x);
            Ok(())
        }
        // Inside MULTI: a null bulk at once; a real timeout answers a null array (as Redis).
        None if ctx.client.in_exec => {
            ctx.out.null();
            Ok(())
        }
        None => ctx.block(keys_of(&[argv.get(1)]), deadline, TimeoutReply::NullArray),
    }
}

fn blmove(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let (from, to) = ends(argv, 3)?;
    blmove_generic(ctx, argv, from, to, 5)
}

fn brpoplpush(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    blmove_generic(ctx, argv, End::Right, End::Left, 3)
}

/// First non-empty list among `keys` (WRONGTYPE for a non-list key met on the way).
fn first_nonempty<'k>(ctx: &mut Ctx<'_>, keys: &[&'k [u8]]) -> Result<Option<&'k [u8]>, CmdError> {
    for k in keys {
        if coll::check::<List>(ctx, k)? {
            return Ok(Some(k));
        }
    }
    Ok(None)
}

fn bpop_generic(ctx: &mut Ctx<'_>, argv: &Argv<'_>, end: End) -> CmdResult {
    let keys: Vec<&[u8]> = argv.iter_from(1).take(argv.len() - 2).collect();
    let deadline = ctx.timeout_arg(argv, argv.len() - 1)?;
    if let Some(k) = first_nonempty(ctx, &keys)?
        && let Some(items) = pop_n(ctx, k, end, 1)?
        && let Some(x) = items.first()
    {
        ctx.out.array(2);
        ctx.out.bulk(k);
        ctx.out.bulk(x);
        return Ok(());
    }
    ctx.block(keys_of(&keys), deadline, TimeoutReply::NullArray)
}

fn blpop(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    bpop_generic(ctx, argv, End::Left)
}
fn brpop(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    bpop_generic(ctx, argv, End::Right)
}

/// Parses `numkeys key… LEFT|RIGHT [COUNT n]` starting at `at`.
fn mpop_args<'a>(argv: &Argv<'a>, at: usize) -> Result<(Vec<&'a [u8]>, End, usize), CmdError> {
    let keys = numkeys(argv, at, NumkeysStyle::Mpop)?;
    let mut i = at + 1 + keys.len();
    let end = End::parse(argv.get(i)).ok_or(CmdError::from(errors::SYNTAX))?;
    i += 1;
    Ok((keys, end, coll::mpop_count(argv, i)?))
}

/// Pops from the first non-empty list; true when it replied with `[key, [elements]]`.
fn mpop_try(ctx: &mut Ctx<'_>, keys: &[&[u8]], end: End, count: usize) -> Result<bool, CmdError> {
    if let Some(k) = first_nonempty(ctx, keys)?
        && let Some(items) = pop_n(ctx, k, end, count)?
    {
        ctx.out.array(2);
        ctx.out.bulk(k);
        ctx.out.bulk_array(items.iter().map(|x| x.as_slice()));
        return Ok(true);
    }
    Ok(false)
}

fn lmpop(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let (keys, end, count) = mpop_args(argv, 1)?;
    if !mpop_try(ctx, &keys, end, count)? {
        ctx.out.null_array();
    }
    Ok(())
}

fn blmpop(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let (keys, end, count) = mpop_args(argv, 2)?;
    // Redis reads the timeout after all the other arguments.
    let deadline = ctx.timeout_arg(argv, 1)?;
    if mpop_try(ctx, &keys, end, count)? {
        return Ok(());
    }
    ctx.block(keys_of(&keys), deadline, TimeoutReply::NullArray)
}
