//! Generic key commands: DEL, UNLINK, EXISTS, TYPE, the EXPIRE/TTL family, PERSIST, KEYS, SCAN,
//! RENAME(NX), COPY, MOVE, RANDOMKEY, TOUCH, OBJECT, WAIT.
//!
//! Place in the flow: handlers over [`crate::db::Db`] that do not care about value types (SORT
//! lives in `sort.rs`, DUMP/RESTORE in `dump.rs`).

use super::OwnedArgv;
use super::flags::*;
use super::ks;
use super::{AclCategories, Argv, Cmd, CommandSpec, Ctx, Keys, Release::Redis, acl, container, v};
use crate::config::notify;
use crate::db::Value;
use crate::db::evict::{self, Policy};
use crate::engine::replication;
use crate::errors::{self, CmdError, CmdResult, c_string};
use crate::glob::glob_match;

const KS: AclCategories = acl::KEYSPACE;
const K1: Keys = Keys::Range(1, 1, 1);
const KALL: Keys = Keys::Range(1, -1, 1);

/// Generic family table.
pub const COMMANDS: &[CommandSpec] = &[
    Cmd::new("del", del).arity(-2).flags(&[WRITE]).acl(&[KS, acl::WRITE, acl::SLOW]).keys(KALL).since(Redis(1, 0, 0)).group("generic").ks(&[ks::RM | ks::DELETE]).doc("Deletes one or more keys."),
    Cmd::new("unlink", del).arity(-2).flags(&[WRITE, FAST]).acl(&[KS, acl::WRITE, acl::FAST]).keys(KALL).since(Redis(4, 0, 0)).group("generic").ks(&[ks::RM | ks::DELETE])
        .doc("Asynchronously deletes one or more keys."),
    Cmd::new("exists", exists).arity(-2).flags(&[READONLY, FAST]).acl(&[KS, acl::READ, acl::FAST]).keys(KALL).since(Redis(1, 0, 0)).group("generic").ks(&[ks::RO])
        .doc("Determines whether one or more keys exist."),
    Cmd::new("type", type_cmd).arity(2).flags(&[READONLY, FAST]).acl(&[KS, acl::READ, acl::FAST]).keys(K1).since(Redis(1, 0, 0)).group("generic").ks(&[ks::RO])
        .doc("Determines the type of value stored at a key."),
    Cmd::new("expire", expire).arity(-3).flags(&[WRITE, FAST]).acl(&[KS, acl::WRITE, acl::FAST]).keys(K1).since(Redis(1, 0, 0)).group("generic")
        .doc("Sets the expiration time of a key in seconds."),
    Cmd::new("pexpire", pexpire).arity(-3).flags(&[WRITE, FAST]).acl(&[KS, acl::WRITE, acl::FAST]).keys(K1).since(Redis(2, 6, 0)).group("generic")
        .doc("Sets the expiration time of a key in milliseconds."),
    Cmd::new("expireat", expireat).arity(-3).flags(&[WRITE, FAST]).acl(&[KS, acl::WRITE, acl::FAST]).keys(K1).since(Redis(1, 2, 0)).group("generic")
        .doc("Sets the expiration time of a key to a Unix timestamp."),
    Cmd::new("pexpireat", pexpireat).arity(-3).flags(&[WRITE, FAST]).acl(&[KS, acl::WRITE, acl::FAST]).keys(K1).since(Redis(2, 6, 0)).group("generic")
        .doc("Sets the expiration time of a key to a Unix milliseconds timestamp."),
    Cmd::new("ttl", ttl).arity(2).flags(&[READONLY, FAST]).acl(&[KS, acl::READ, acl::FAST]).keys(K1).since(Redis(1, 0, 0)).group("generic")
        .doc("Returns the expiration time in seconds of a key."),
    Cmd::new("pttl", pttl).arity(2).flags(&[READONLY, FAST]).acl(&[KS, acl::READ, acl::FAST]).keys(K1).since(Redis(2, 6, 0)).group("generic")
        .doc("Returns the expiration time in milliseconds of a key."),
    Cmd::new("expiretime", expiretime).arity(2).flags(&[READONLY, FAST]).acl(&[KS, acl::READ, acl::FAST]).keys(K1).since(Redis(7, 0, 0)).group("generic")
        .doc("Returns the expiration time of a key as a Unix timestamp."),
    Cmd::new("pexpiretime", pexpiretime).arity(2).flags(&[READONLY, FAST]).acl(&[KS, acl::READ, acl::FAST]).keys(K1).since(Redis(7, 0, 0)).group("generic")
        .doc("Returns the expiration time of a key as a Unix milliseconds timestamp."),
    Cmd::new("persist", persist).arity(2).flags(&[WRITE, FAST]).acl(&[KS, acl::WRITE, acl::FAST]).keys(K1).since(Redis(2, 2, 0)).group("generic")
        .doc("Removes the expiration time of a key."),
    Cmd::new("keys", keys).arity(2).flags(&[READONLY]).acl(&[KS, acl::READ, acl::SLOW, acl::DANGEROUS]).since(Redis(1, 0, 0)).group("generic")
        .doc("Returns all key names that match a pattern."),
    Cmd::new("scan", scan).arity(-2).flags(&[READONLY]).acl(&[KS, acl::READ, acl::SLOW]).since(Redis(2, 8, 0)).group("generic")
        .doc("Iterates over the key names in the database."),
    Cmd::new("rename", rename).arity(3).flags(&[WRITE]).acl(&[KS, acl::WRITE, acl::SLOW]).keys(Keys::Range(1, 2, 1)).since(Redis(1, 0, 0)).group("generic").ks(&[ks::RW | ks::ACCESS | ks::DELETE, ks::OW | ks::UPDATE])
        .doc("Renames a key and overwrites the destination."),
    Cmd::new("renamenx", renamenx).arity(3).flags(&[WRITE, FAST]).acl(&[KS, acl::WRITE, acl::FAST]).keys(Keys::Range(1, 2, 1)).since(Redis(1, 0, 0)).group("generic").ks(&[ks::RW | ks::ACCESS | ks::DELETE, ks::OW | ks::INSERT])
        .doc("Renames a key only when the target key name doesn't exist."),
    Cmd::new("copy", copy).arity(-3).flags(&[WRITE, DENYOOM]).acl(&[KS, acl::WRITE, acl::SLOW]).keys(Keys::Range(1, 2, 1)).since(Redis(6, 2, 0)).group("generic").ks(&[ks::RO | ks::ACCESS, ks::OW | ks::UPDATE])
        .doc("Copies the value of a key to a new key."),
    Cmd::new("move", move_cmd).arity(3).flags(&[WRITE, FAST]).acl(&[KS, acl::WRITE, acl::FAST]).keys(K1).since(Redis(1, 0, 0)).group("generic").ks(&[ks::RW | ks::ACCESS | ks::UPDATE])
        .doc("Moves a key to another database."),
    Cmd::new("randomkey", randomkey).arity(1).flags(&[READONLY]).acl(&[KS, acl::READ, acl::SLOW]).since(Redis(1, 0, 0)).group("generic")
        .doc("Returns a random key name from the database."),
    Cmd::new("touch", touch).arity(-2).flags(&[READONLY, FAST]).acl(&[KS, acl::READ, acl::FAST]).keys(KALL).since(Redis(3, 2, 1)).group("generic").ks(&[ks::RO])
        .doc("Returns the number of existing keys out of those specified after updating the time they were last accessed."),
    Cmd::new("object", container).arity(-2).acl(&[acl::SLOW]).since(Redis(2, 2, 3)).group("generic")
        .doc("A container for object introspection commands.")
        .subs(OBJECT),
    Cmd::new("wait", wait).arity(3).flags(&[NOSCRIPT]).acl(&[acl::SLOW, acl::CONNECTION]).since(Redis(3, 0, 0)).group("generic")
        .doc("Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed."),
];

const OBJECT: &[CommandSpec] = &[
    Cmd::new("encoding", object_encoding)
        .arity(3)
        .flags(&[READONLY])
        .acl(&[KS, acl::READ, acl::SLOW])
        .keys(Keys::Range(2, 2, 1))
        .since(Redis(2, 2, 3))
        .group("generic")
        .ks(&[ks::RO])
        .doc("Returns the internal encoding of a Redis object."),
    Cmd::new("freq", object_freq)
        .arity(3)
        .flags(&[READONLY])
        .acl(&[KS, acl::READ, acl::SLOW])
        .keys(Keys::Range(2, 2, 1))
        .since(Redis(4, 0, 0))
        .group("generic")
        .ks(&[ks::RO])
        .doc("Returns the logarithmic access frequency counter of a Redis object."),
    Cmd::new("idletime", object_idletime)
        .arity(3)
        .flags(&[READONLY])
        .acl(&[KS, acl::READ, acl::SLOW])
        .keys(Keys::Range(2, 2, 1))
        .since(Redis(2, 2, 3))
        .group("generic")
        .ks(&[ks::RO])
        .doc("Returns the time since the last access to a Redis object."),
    Cmd::new("refcount", object_refcount)
        .arity(3)
        .flags(&[READONLY])
        .acl(&[KS, acl::READ, acl::SLOW])
        .keys(Keys::Range(2, 2, 1))
        .since(Redis(2, 2, 3))
        .group("generic")
        .ks(&[ks::RO])
        .doc("Returns the reference count of a value of a key."),
    Cmd::new("help", object_help)
        .arity(2)
        .flags(&[LOADING, STALE])
        .acl(&[KS, acl::SLOW])
        .since(Redis(6, 2, 0))
        .group("generic")
        .doc("Returns helpful text about the different subcommands."),
];

/// DEL and UNLINK: UNLINK (and DEL with `lazyfree-lazy-user-del yes`) frees a large value in
/// the background.
fn del(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let now = ctx.now;
    let lazy = ctx.eng.cfg.lazy_user_del || argv.is(0, "unlink");
    let mut n = 0;
    for k in argv.iter_from(1) {
        ctx.db().expire_if_needed(k, now);
        if let Some(entry) = ctx.db().remove(k) {
            if lazy {
                ctx.eng.lazyfree.release(entry.value);
            }
            n += 1;
            ctx.write(k).notify(notify::GENERIC, "del");
        }
    }
    ctx.dirty(n);
    ctx.out.int(n as i64);
    Ok(())
}

fn exists(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let now = ctx.now;
    let n = argv
        .iter_from(1)
        // A read that counts a keyspace hit or miss and leaves access times alone, as
        // redis-server looks keys up for EXISTS (and TYPE, OBJECT).
        .filter(|k| ctx.eng.dbs[ctx.client.db].get_untouched(k, now).is_some())
        .count();
    ctx.out.int(n as i64);
    Ok(())
}

fn type_cmd(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let now = ctx.now;
    let t = ctx
        .db()
        .get_untouched(argv.get(1), now)
        .map_or("none", |e| e.value.type_name());
    ctx.out.simple(t);
    Ok(())
}

/// Shared EXPIRE family: `unit_ms` per argument unit, `absolute` for *AT variants.
fn expire_generic(
    ctx: &mut Ctx<'_>,
    argv: &Argv<'_>,
    unit_ms: i64,
    absolute: bool,
    name: &str,
) -> CmdResult {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for i in 3..argv.len() {
        if ctx.version() < v(7, 0, 0) {
            return Err(errors::wrong_arity(name));
        }
        match argv.get(i).to_ascii_lowercase().as_slice() {
            b"nx" => nx = true,
            b"xx" => xx = true,
            b"gt" => gt = true,
            b"lt" => lt = true,
            _ => {
                return Err(CmdError(
                    format!(
                        "ERR Unsupported option {}",
                        // Redis formats the option as a C string: it ends at a NUL byte.
                        errors::show(c_string(argv.get(i)), usize::MAX)
                    )
                    .into(),
                ));
            }
        }
    }
    if nx && (xx || gt || lt) {
        return Err("ERR NX and XX, GT or LT options at the same time are not compatible".into());
    }
    if gt && lt {
        return Err("ERR GT and LT options at the same time are not compatible".into());
    }
    let n = argv.i64(2)?;
    let key = argv.get(1);
    let now = ctx.now;
    let ms = n
        .checked_mul(unit_ms)
        .ok_or_else(|| errors::invalid_expire(name))?;
    let at = if absolute {
        ms
    } else {
        ms.checked_add(now)
            .ok_or_else(|| errors::invalid_expire(name))?
    };
    let Some(cur) = ctx.db().expire_at(key, now) else {
        ctx.out.int(0);
        return Ok(());
    };
    // No TTL counts as an infinite TTL for GT/LT: LT always sets one (even at i64::MAX), GT
    // never does.
    let persistent = cur == 0;
    if (nx && !persistent)
        || (xx && persistent)
        || (gt && (persistent || at <= cur))
        || (lt && !persistent && at >= cur)
    {
        ctx.out.int(0);
        return Ok(());
    }
    if at <= now {
        ctx.db().remove(key);
        ctx.write(key).notify(notify::GENERIC, "del");
    } else {
        ctx.db().set_expire(key, at, now);
        ctx.write(key).notify(notify::GENERIC, "expire");
    }
    ctx.dirty(1);
    if ctx.replicating() {
        // Replicas get the absolute instant, or the DEL a past deadline amounted to.
        match ctx.stored_expiry(key) {
            None => ctx.propagate(vec![OwnedArgv::from_slices([b"DEL".as_slice(), key])]),
            Some(at) if at > 0 => ctx.propagate(vec![replication::pexpireat(key, at)]),
            Some(_) => {}
        }
    }
    ctx.out.int(1);
    Ok(())
}

fn expire(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    expire_generic(ctx, argv, 1000, false, "expire")
}
fn pexpire(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    expire_generic(ctx, argv, 1, false, "pexpire")
}
fn expireat(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    expire_generic(ctx, argv, 1000, true, "expireat")
}
fn pexpireat(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    expire_generic(ctx, argv, 1, true, "pexpireat")
}

/// TTL-family reply: -2 missing, -1 no TTL, else `f(expire_at)`.
fn ttl_generic(ctx: &mut Ctx<'_>, argv: &Argv<'_>, f: impl Fn(i64, i64) -> i64) -> CmdResult {
    let now = ctx.now;
    let r = match ctx.db().get_untouched(argv.get(1), now) {
        None => -2,
        Some(e) if e.expire_at == 0 => -1,
        Some(e) => f(e.expire_at, now),
    };
    ctx.out.int(r);
    Ok(())
}

fn ttl(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    ttl_generic(ctx, argv, |at, now| ((at - now).max(0) + 500) / 1000)
}
fn pttl(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    ttl_generic(ctx, argv, |at, now| (at - now).max(0))
}
fn expiretime(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    ttl_generic(ctx, argv, |at, _| at / 1000)
}
fn pexpiretime(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    ttl_generic(ctx, argv, |at, _| at)
}

fn persist(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let now = ctx.now;
    let key = argv.get(1);
    match ctx.db().expire_at(key, now) {
        Some(at) if at != 0 => {
            ctx.db().set_expire(key, 0, now);
            ctx.write(key).notify(notify::GENERIC, "persist").dirty(1);
            ctx.out.int(1);
        }
        _ => ctx.out.int(0),
    }
    Ok(())
}

fn keys(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let now = ctx.now;
    let pat = argv.get(1);
    let all = pat == b"*";
    let found: Vec<&[u8]> = ctx.eng.dbs[ctx.client.db]
        .iter()
        .filter(|(k, e)| (e.expire_at == 0 || e.expire_at > now) && (all || glob_match(pat, k)))
        .map(|(k, _)| &**k)
        .collect();
    ctx.out.array(found.len());
    for k in found {
        ctx.out.bulk(k);
    }
    Ok(())
}

/// Parses a SCAN cursor (`ERR invalid cursor`).
/// Redis reads it with `strtoul`: an optional sign (a minus wraps, so `-1` is the largest
/// cursor), no leading space, no overflow; an empty string is cursor 0.
pub fn parse_cursor(b: &[u8]) -> Result<u64, CmdError> {
    let invalid = || CmdError::from("ERR invalid cursor");
    if b.is_empty() {
        return Ok(0);
    }
    let (neg, digits) = match b[0] {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    let v = std::str::from_utf8(digits)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(invalid)?;
    Ok(if neg { v.wrapping_neg() } else { v })
}

/// SCAN-family options: MATCH, COUNT, TYPE (TYPE only when `allow_type`), NOVALUES for HSCAN.
pub struct ScanOpts<'a> {
    /// MATCH pattern.
    pub pattern: Option<&'a [u8]>,
    /// COUNT hint.
    pub count: usize,
    /// TYPE filter.
    pub type_name: Option<String>,
    /// The collection's "names only" flag was given: HSCAN NOVALUES (Redis 7.4, Valkey 8.0),
    /// ZSCAN NOSCORES (Valkey 8.0).
    pub novalues: bool,
}

/// Parses SCAN options starting at `from`: TYPE when `allow_type` (SCAN), and `names_only`
/// when the node's release has that flag for this command (else it is a syntax error).
pub fn scan_opts<'a>(
    argv: &Argv<'a>,
    from: usize,
    allow_type: bool,
    names_only: Option<&str>,
) -> Result<ScanOpts<'a>, CmdError> {
    let mut o = ScanOpts {
        pattern: None,
        count: 10,
        type_name: None,
        novalues: false,
    };
    let mut i = from;
    while i < argv.len() {
        let has = i + 1 < argv.len();
        if argv.is(i, "match") && has {
            o.pattern = Some(argv.get(i + 1));
            i += 2;
        } else if argv.is(i, "count") && has {
            let c = argv.i64(i + 1)?;
            if c < 1 {
                return Err(errors::SYNTAX.into());
            }
            o.count = c as usize;
            i += 2;
        } else if argv.is(i, "type") && has && allow_type {
            o.type_name = Some(argv.str(i + 1).to_ascii_lowercase());
            i += 2;
        } else if names_only.is_some_and(|flag| argv.is(i, flag)) {
            o.novalues = true;
            i += 1;
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    Ok(o)
}

fn scan(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let cursor = parse_cursor(argv.get(1))?;
    let o = scan_opts(argv, 2, true, None)?;
    let now = ctx.now;
    let mut found: Vec<Vec<u8>> = Vec::new();
    let next = ctx.eng.dbs[ctx.client.db].scan(cursor, o.count, now, |k, e| {
        if o.pattern.is_some_and(|p| !glob_match(p, k)) {
            return;
        }
        if o.type_name
            .as_deref()
            .is_some_and(|t| t != e.value.type_name())
        {
            return;
        }
        found.push(k.to_vec());
    });
    ctx.out.array(2);
    ctx.out.bulk(next.to_string().as_bytes());
    ctx.out.array(found.len());
    for k in found {
        ctx.out.bulk(&k);
    }
    Ok(())
}

fn rename_generic(ctx: &mut Ctx<'_>, argv: &Argv<'_>, nx: bool) -> CmdResult {
    let (src, dst) = (argv.get(1), argv.get(2));
    let now = ctx.now;
    if !ctx.db().exists(src, now) {
        return Err(errors::NO_SUCH_KEY.into());
    }
    if src == dst {
        if nx {
            ctx.out.int(0);
        } else {
            ctx.out.ok();
        }
        return Ok(());
    }
    if nx && ctx.db().exists(dst, now) {
        ctx.out.int(0);
        return Ok(());
    }
    let Some(e) = ctx.db().remove(src) else {
        return Err(errors::NO_SUCH_KEY.into());
    };
    ctx.db().insert_entry(dst, e);
    ctx.write(src).notify(notify::GENERIC, "rename_from");
    ctx.write(dst)
        .notify(notify::GENERIC, "rename_to")
        .dirty(1)
        .ready();
    if nx {
        ctx.out.int(1);
    } else {
        ctx.out.ok();
    }
    Ok(())
}

fn rename(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    rename_generic(ctx, argv, false)
}
fn renamenx(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    rename_generic(ctx, argv, true)
}

fn db_index(ctx: &Ctx<'_>, argv: &Argv<'_>, i: usize) -> Result<usize, CmdError> {
    let d = argv.i64(i)?;
    if i32::try_from(d).is_err() {
        return Err(errors::INT_OUT_OF_RANGE.into());
    }
    if d < 0 || d as usize >= ctx.eng.dbs.len() {
        return Err(errors::DB_INDEX_OUT_OF_RANGE.into());
    }
    Ok(d as usize)
}

fn copy(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let (src, dst) = (argv.get(1), argv.get(2));
    let mut dst_db = ctx.client.db;
    let mut replace = false;
    let mut i = 3;
    while i < argv.len() {
        if argv.is(i, "replace") {
            replace = true;
            i += 1;
        } else if argv.is(i, "db") && i + 1 < argv.len() {
            dst_db = db_index(ctx, argv, i + 1)?;
            i += 2;
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    if src == dst && dst_db == ctx.client.db {
        return Err(errors::SAME_OBJECT.into());
    }
    let now = ctx.now;
    // The source is read as GET reads (a keyspace hit or miss, its access time updated).
    let Some(mut e) = ctx.db().get(src, now).cloned() else {
        ctx.out.int(0);
        return Ok(());
    };
    if let crate::db::Value::Str(s) = &mut e.value {
        s.unshare();
    }
    if ctx.eng.dbs[dst_db].exists(dst, now) && !replace {
        ctx.out.int(0);
        return Ok(());
    }
    ctx.eng.dbs[dst_db].insert_entry(dst, e);
    ctx.write_in(dst_db, dst)
        .notify(notify::GENERIC, "copy_to")
        .dirty(1)
        .ready();
    ctx.out.int(1);
    Ok(())
}

fn move_cmd(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    if ctx.eng.info.cluster {
        return Err("ERR MOVE is not allowed in cluster mode".into());
    }
    let key = argv.get(1);
    let dst = db_index(ctx, argv, 2)?;
    let src = ctx.client.db;
    if dst == src {
        return Err(errors::SAME_OBJECT.into());
    }
    let now = ctx.now;
    if !ctx.db().exists(key, now) || ctx.eng.dbs[dst].exists(key, now) {
        ctx.out.int(0);
        return Ok(());
    }
    let Some(e) = ctx.db().remove(key) else {
        ctx.out.int(0);
        return Ok(());
    };
    ctx.eng.dbs[dst].insert_entry(key, e);
    ctx.write_in(src, key).notify(notify::GENERIC, "move_from");
    ctx.write_in(dst, key)
        .notify(notify::GENERIC, "move_to")
        .dirty(1)
        .ready();
    ctx.out.int(1);
    Ok(())
}

fn randomkey(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    let now = ctx.now;
    match ctx.db().random_key(now) {
        Some(k) => ctx.out.bulk(&k),
        None => ctx.out.null(),
    }
    Ok(())
}

fn touch(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let now = ctx.now;
    let mut n = 0;
    for k in argv.iter_from(1) {
        let db = &mut ctx.eng.dbs[ctx.client.db];
        if db.get(k, now).is_some() {
            n += 1;
        }
    }
    ctx.out.int(n);
    Ok(())
}

fn object_encoding(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let now = ctx.now;
    match ctx.db().get_untouched(argv.get(2), now) {
        Some(e) => {
            let enc = e.value.encoding();
            ctx.out.bulk(enc.as_bytes());
        }
        None => ctx.out.null(),
    }
    Ok(())
}

fn object_freq(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    // redis-server looks the key up first: a missing key answers null whatever the policy.
    let now = ctx.now;
    let Some(lru) = ctx.db().get_untouched(argv.get(2), now).map(|e| e.lru) else {
        ctx.out.null();
        return Ok(());
    };
    if !ctx.eng.cfg.policy.is_lfu() {
        return Err("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.".into());
    }
    let decay = ctx.eng.cfg.lfu_decay_time;
    ctx.out.int(i64::from(evict::lfu_decayed(lru, now, decay)));
    Ok(())
}

fn object_idletime(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    // As OBJECT FREQ: the key first, then the policy.
    let now = ctx.now;
    let Some(lru) = ctx.db().get_untouched(argv.get(2), now).map(|e| e.lru) else {
        ctx.out.null();
        return Ok(());
    };
    if ctx.eng.cfg.policy.is_lfu() {
        return Err("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.".into());
    }
    let idle = ((now / 1000) as u32).wrapping_sub(lru) as i64;
    ctx.out.int(idle.max(0));
    Ok(())
}

fn object_refcount(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let now = ctx.now;
    // Redis shares small integers unless an LRU/LFU policy with a memory limit needs per-key
    // access data (`MAXMEMORY_FLAG_NO_SHARED_INTEGERS`). Redis decides when it builds the
    // value; we decide when asked, so a value built before the policy changed reads as built
    // under the new one.
    let policy = ctx.eng.cfg.policy;
    let sharing = ctx.eng.cfg.maxmemory == 0
        || !(policy.is_lfu() || matches!(policy, Policy::AllKeysLru | Policy::VolatileLru));
    let exec = ctx.db().exec_tag;
    match ctx.db().get_untouched(argv.get(2), now) {
        Some(e) => {
            let shared = matches!(&e.value, Value::Str(s) if sharing && s.is_shared_integer());
            // A string stored from an argument of this EXEC's queue: the queue holds it too.
            let queued = matches!(&e.value, Value::Str(s) if exec != 0 && s.held_by() == exec);
            ctx.out.int(if shared {
                crate::db::value::SHARED_REFCOUNT
            } else if queued {
                2
            } else {
                1
            });
        }
        None => ctx.out.null(),
    }
    Ok(())
}

fn object_help(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    super::help::help(
        ctx,
        "OBJECT",
        &[
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "FREQ <key>",
            "    Return the access frequency index of the key <key>.",
            "IDLETIME <key>",
            "    Return the idle time of the key <key>.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
        ],
    );
    Ok(())
}

fn wait(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    super::replication::wait_cmd(ctx, argv)
}
