//! String commands: GET/SET family, counters, ranges, MGET/MSET, LCS.
//!
//! Place in the flow: argument parsing and reply shaping for `Value::Str`; number rules and range
//! arithmetic live in `db/string.rs`. Each write bumps `dirty`, emits its keyspace event and
//! wakes nothing (strings never serve blocked clients).

use super::OwnedArgv;
use super::flags::*;
use super::ks;
use super::{
    AclCategories, Argv, Cmd, CommandSpec, Ctx, Keys, Release, Release::Redis, Since, acl, v,
};
use crate::config::notify;
use crate::db::string::{clamp_range, format_float_human, parse_f64, parse_i64, set_i64};
use crate::db::{Value, as_str, longdouble};
use crate::engine::replication;
use crate::errors::{self, CmdError, CmdResult};

const R: AclCategories = acl::READ.with(acl::STRING);
const W: AclCategories = acl::WRITE.with(acl::STRING);
const K1: Keys = Keys::Range(1, 1, 1);

/// String family table.
pub const COMMANDS: &[CommandSpec] = &[
    Cmd::new("get", get).arity(2).flags(&[READONLY, FAST]).acl(&[R, acl::FAST]).keys(K1).since(Redis(1, 0, 0)).group("string").doc("Returns the string value of a key."),
    Cmd::new("set", set).arity(-3).flags(&[WRITE, DENYOOM]).acl(&[W, acl::SLOW]).keys(K1).since(Redis(1, 0, 0)).group("string")
        .ks_var(&[ks::RW | ks::ACCESS | ks::UPDATE | ks::VARIABLE_FLAGS], set_key_flags)
        .doc("Sets the string value of a key, ignoring its type. The key is created if it doesn't exist."),
    Cmd::new("setnx", setnx).arity(3).flags(&[WRITE, DENYOOM, FAST]).acl(&[W, acl::FAST]).keys(K1).since(Redis(1, 0, 0)).group("string").ks(&[ks::OW | ks::INSERT])
        .doc("Set the string value of a key only when the key doesn't exist."),
    Cmd::new("setex", setex).arity(4).flags(&[WRITE, DENYOOM]).acl(&[W, acl::SLOW]).keys(K1).since(Redis(2, 0, 0)).group("string").ks(&[ks::OW | ks::UPDATE])
        .doc("Sets the string value and expiration time of a key. Creates the key if it doesn't exist."),
    Cmd::new("psetex", psetex).arity(4).flags(&[WRITE, DENYOOM]).acl(&[W, acl::SLOW]).keys(K1).since(Redis(2, 6, 0)).group("string").ks(&[ks::OW | ks::UPDATE])
        .doc("Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist."),
    Cmd::new("getset", getset).arity(3).flags(&[WRITE, DENYOOM, FAST]).acl(&[W, acl::FAST]).keys(K1).since(Redis(1, 0, 0)).group("string").ks(&[ks::RW | ks::ACCESS | ks::UPDATE])
        .doc("Returns the previous string value of a key after setting it to a new value."),
    Cmd::new("getdel", getdel).arity(2).flags(&[WRITE, FAST]).acl(&[W, acl::FAST]).keys(K1).since(Redis(6, 2, 0)).group("string").ks(&[ks::RW | ks::ACCESS | ks::DELETE])
        .doc("Returns the string value of a key after deleting the key."),
    Cmd::new("getex", getex).arity(-2).flags(&[WRITE, FAST]).acl(&[W, acl::FAST]).keys(K1).since(Redis(6, 2, 0)).group("string").ks(&[ks::RW | ks::ACCESS | ks::UPDATE])
        .doc("Returns the string value of a key after setting its expiration time."),
    Cmd::new("mget", mget).arity(-2).flags(&[READONLY, FAST]).acl(&[R, acl::FAST]).keys(Keys::Range(1, -1, 1)).since(Redis(1, 0, 0)).group("string")
        .doc("Atomically returns the string values of one or more keys."),
    Cmd::new("mset", mset).arity(-3).flags(&[WRITE, DENYOOM]).acl(&[W, acl::SLOW]).keys(Keys::Range(1, -1, 2)).since(Redis(1, 0, 1)).group("string").ks(&[ks::OW | ks::UPDATE])
        .doc("Atomically creates or modifies the string values of one or more keys."),
    Cmd::new("msetnx", msetnx).arity(-3).flags(&[WRITE, DENYOOM]).acl(&[W, acl::SLOW]).keys(Keys::Range(1, -1, 2)).since(Redis(1, 0, 1)).group("string").ks(&[ks::OW | ks::INSERT])
        .doc("Atomically modifies the string values of one or more keys only when all keys don't exist."),
    Cmd::new("incr", incr).arity(2).flags(&[WRITE, DENYOOM, FAST]).acl(&[W, acl::FAST]).keys(K1).since(Redis(1, 0, 0)).group("string").ks(&[ks::RW | ks::ACCESS | ks::UPDATE])
        .doc("Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."),
    Cmd::new("decr", decr).arity(2).flags(&[WRITE, DENYOOM, FAST]).acl(&[W, acl::FAST]).keys(K1).since(Redis(1, 0, 0)).group("string").ks(&[ks::RW | ks::ACCESS | ks::UPDATE])
        .doc("Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."),
    Cmd::new("incrby", incrby).arity(3).flags(&[WRITE, DENYOOM, FAST]).acl(&[W, acl::FAST]).keys(K1).since(Redis(1, 0, 0)).group("string").ks(&[ks::RW | ks::ACCESS | ks::UPDATE])
        .doc("Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist."),
    Cmd::new("decrby", decrby).arity(3).flags(&[WRITE, DENYOOM, FAST]).acl(&[W, acl::FAST]).keys(K1).since(Redis(1, 0, 0)).group("string").ks(&[ks::RW | ks::ACCESS | ks::UPDATE])
        .doc("Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist."),
    Cmd::new("incrbyfloat", incrbyfloat).arity(3).flags(&[WRITE, DENYOOM, FAST]).acl(&[W, acl::FAST]).keys(K1).since(Redis(2, 6, 0)).group("string").ks(&[ks::RW | ks::ACCESS | ks::UPDATE])
        .doc("Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist."),
    Cmd::new("append", append).arity(3).flags(&[WRITE, DENYOOM, FAST]).acl(&[W, acl::FAST]).keys(K1).since(Redis(2, 0, 0)).group("string").ks(&[ks::RW | ks::INSERT])
        .doc("Appends a string to the value of a key. Creates the key if it doesn't exist."),
    Cmd::new("strlen", strlen).arity(2).flags(&[READONLY, FAST]).acl(&[R, acl::FAST]).keys(K1).since(Redis(2, 2, 0)).group("string").ks(&[ks::RO]).doc("Returns the length of a string value."),
    Cmd::new("getrange", getrange).arity(4).flags(&[READONLY]).acl(&[R, acl::SLOW]).keys(K1).since(Redis(2, 4, 0)).group("string")
        .doc("Returns a substring of the string stored at a key."),
    Cmd::new("substr", getrange).arity(4).flags(&[READONLY]).acl(&[R, acl::SLOW]).keys(K1).since(Redis(1, 0, 0)).group("string")
        .doc("Returns a substring from a string value."),
    Cmd::new("setrange", setrange).arity(4).flags(&[WRITE, DENYOOM]).acl(&[W, acl::SLOW]).keys(K1).since(Redis(2, 2, 0)).group("string")
        .doc("Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist."),
    Cmd::new("lcs", lcs).arity(-3).flags(&[READONLY]).acl(&[R, acl::SLOW]).keys(Keys::Range(1, 2, 1)).since(Redis(7, 0, 0)).group("string")
        .doc("Finds the longest common substring."),
];

/// Reads a string value (`None` when missing), WRONGTYPE otherwise; counts hits/misses.
fn read_str<'a>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> Result<Option<&'a [u8]>, CmdError> {
    lookup_str(ctx, key, true)
}

/// The string at `key`: a read lookup when `read`, else a write's, which counts no keyspace
/// hit or miss (see [`crate::db::Db::lookup_for`]).
fn lookup_str<'a>(
    ctx: &'a mut Ctx<'_>,
    key: &[u8],
    read: bool,
) -> Result<Option<&'a [u8]>, CmdError> {
    let now = ctx.now;
    match ctx.eng.dbs[ctx.client.db].lookup_for(key, now, read) {
        None => Ok(None),
        Some(e) => as_str(&e.value).map(Some),
    }
}

fn get(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let now = ctx.now;
    let db = &mut ctx.eng.dbs[ctx.client.db];
    match db.get(argv.get(1), now) {
        None => ctx.out.null(),
        Some(e) => match &e.value {
            Value::Str(s) => ctx.out.bulk(s),
            _ => return Err(errors::WRONGTYPE.into()),
        },
    }
    Ok(())
}

/// Expiry option parsed from SET/GETEX arguments.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum Ttl {
    #[default]
    None,
    Keep,
    Persist,
    At(i64),
}

/// Converts a relative/absolute time argument into an absolute ms deadline.
fn deadline(
    ctx: &Ctx<'_>,
    argv: &Argv<'_>,
    i: usize,
    unit_ms: i64,
    absolute: bool,
    name: &str,
) -> Result<i64, CmdError> {
    let n = argv.i64(i)?;
    if n <= 0 {
        return Err(errors::invalid_expire(name));
    }
    let ms = n
        .checked_mul(unit_ms)
        .ok_or_else(|| errors::invalid_expire(name))?;
    if absolute {
        Ok(ms)
    } else {
        ms.checked_add(ctx.now)
            .ok_or_else(|| errors::invalid_expire(name))
    }
}

/// Stores a string, in place when the key already holds a string.
pub fn store_str(ctx: &mut Ctx<'_>, key: &[u8], val: &[u8], keep_ttl: bool) {
    let now = ctx.now;
    let held = exec_hold(ctx);
    let db = &mut ctx.eng.dbs[ctx.client.db];
    if keep_ttl && let Some(mut v) = db.get_mut(key, now) {
        if let Value::Str(s) = &mut *v {
            s.assign(val);
            s.hold(held);
            return;
        }
        *v = Value::Str(held_str(val.to_vec(), held));
        return;
    }
    db.set(key, Value::Str(held_str(val.to_vec(), held)), now, keep_ttl);
}

/// The EXEC tag a string stored from this command's argument carries: the running EXEC's when
/// the command is one of its queued commands, 0 otherwise (a script's `redis.call` arguments are
/// released as the call returns, even inside EXEC).
fn exec_hold(ctx: &mut Ctx<'_>) -> u64 {
    if ctx.eng.scripts.running {
        0
    } else {
        ctx.db().exec_tag
    }
}

fn held_str(bytes: Vec<u8>, held: u64) -> crate::db::Str {
    let mut s = crate::db::Str::from(bytes);
    s.hold(held);
    s
}

/// SET's options after the value.
#[derive(Default)]
struct SetOptions<'a> {
    nx: bool,
    xx: bool,
    want_get: bool,
    /// Valkey 8.1's compare-and-set: store only over an equal string value.
    ifeq: Option<&'a [u8]>,
    ttl: Ttl,
}

/// Parses SET's options (those the node's version has). Redis validates the time once every
/// option has parsed: a syntax error further on wins over a bad time.
fn parse_set_options<'a>(ctx: &Ctx<'_>, argv: &'a Argv<'_>) -> Result<SetOptions<'a>, CmdError> {
    let mut o = SetOptions::default();
    let mut pending = None;
    let mut i = 3;
    while i < argv.len() {
        let a = argv.get(i);
        let has_next = i + 1 < argv.len();
        let is = |name: &[u8]| a.eq_ignore_ascii_case(name);
        if is(b"nx") && !o.xx && o.ifeq.is_none() {
            o.nx = true;
        } else if is(b"xx") && !o.nx && o.ifeq.is_none() {
            o.xx = true;
        } else if is(b"ifeq")
            && has_next
            && !o.nx
            && !o.xx
            && o.ifeq.is_none()
            && ctx.has(Since::from(Release::Valkey(8, 1, 0)))
        {
            o.ifeq = Some(argv.get(i + 1));
            i += 1;
        } else if is(b"get") && ctx.version() >= v(6, 2, 0) {
            o.want_get = true;
        } else if is(b"keepttl") && o.ttl == Ttl::None && ctx.version() >= v(6, 0, 0) {
            o.ttl = Ttl::Keep;
        } else if o.ttl == Ttl::None && has_next && (is(b"ex") || is(b"px")) {
            o.ttl = Ttl::At(0);
            pending = Some((i + 1, if is(b"ex") { 1000 } else { 1 }, false));
            i += 1;
        } else if o.ttl == Ttl::None
            && has_next
            && ctx.version() >= v(6, 2, 0)
            && (is(b"exat") || is(b"pxat"))
        {
            o.ttl = Ttl::At(0);
            pending = Some((i + 1, if is(b"exat") { 1000 } else { 1 }, true));
            i += 1;
        } else {
            return Err(errors::SYNTAX.into());
        }
        i += 1;
    }
    if o.nx && o.want_get && ctx.version() < v(7, 0, 0) {
        return Err(errors::SYNTAX.into());
    }
    if let Some((j, unit, abs)) = pending {
        o.ttl = Ttl::At(deadline(ctx, argv, j, unit, abs, "set")?);
    }
    Ok(o)
}

/// Whether SET's condition (NX, XX, IFEQ) refuses the write, given the old value GET read.
fn set_refused(
    db: &mut crate::db::Db,
    key: &[u8],
    now: i64,
    o: &SetOptions<'_>,
    old: &Option<Option<Vec<u8>>>,
) -> Result<bool, CmdError> {
    let exists = if !(o.nx || o.xx) {
        false
    } else {
        match old {
            Some(prev) => prev.is_some() || db.exists(key, now),
            None => db.exists(key, now),
        }
    };
    let ifeq_refused = match o.ifeq {
        None => false,
        Some(expected) => match db.get(key, now) {
            None => true,
            Some(e) => as_str(&e.value)? != expected,
        },
    };
    Ok((o.nx && exists) || (o.xx && !exists) || ifeq_refused)
}

/// What replicas and the AOF get for a SET with a TTL: `SET key value PXAT ms` alone, its
/// other options dropped, as redis-server 7.0.15 writes it (checked in its AOF, a deadline in
/// the past included).
fn propagate_set(ctx: &mut Ctx<'_>, key: &[u8], val: &[u8], o: &SetOptions<'_>) {
    if !ctx.replicating() {
        return;
    }
    match o.ttl {
        Ttl::At(at) => ctx.propagate(vec![replication::set_pxat(key, val, at)]),
        // The IFEQ condition held here: replicas get the plain write.
        _ if o.ifeq.is_some() => {
            let mut set = vec![b"SET".as_slice(), key, val];
            if o.ttl == Ttl::Keep {
                set.push(b"KEEPTTL");
            }
            ctx.propagate(vec![OwnedArgv::from_slices(set)]);
        }
        _ => {}
    }
}

fn set(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let o = parse_set_options(ctx, argv)?;
    let key = argv.get(1);
    let now = ctx.now;
    let db = &mut ctx.eng.dbs[ctx.client.db];
    let old: Option<Option<Vec<u8>>> = if o.want_get {
        match db.get(key, now) {
            None => Some(None),
            Some(e) => Some(Some(as_str(&e.value)?.to_vec())),
        }
    } else {
        None
    };
    if set_refused(db, key, now, &o, &old)? {
        match old {
            Some(Some(prev)) => ctx.out.bulk(&prev),
            _ => ctx.out.null(),
        }
        return Ok(());
    }
    store_str(ctx, key, argv.get(2), o.ttl == Ttl::Keep);
    if let Ttl::At(at) = o.ttl {
        ctx.db().set_expire(key, at, now);
    }
    ctx.write(key).notify(notify::STRING, "set").dirty(1);
    if matches!(o.ttl, Ttl::At(_)) {
        ctx.write(key).notify(notify::GENERIC, "expire");
    }
    propagate_set(ctx, key, argv.get(2), &o);
    match old {
        Some(Some(prev)) => ctx.out.bulk(&prev),
        Some(None) => ctx.out.null(),
        None => ctx.out.ok(),
    }
    Ok(())
}

fn setnx(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let now = ctx.now;
    if ctx.db().exists(argv.get(1), now) {
        ctx.out.int(0);
        return Ok(());
    }
    store_str(ctx, argv.get(1), argv.get(2), false);
    ctx.write(argv.get(1))
        .notify(notify::STRING, "set")
        .dirty(1);
    ctx.out.int(1);
    Ok(())
}

fn setex_generic(ctx: &mut Ctx<'_>, argv: &Argv<'_>, unit: i64, name: &str) -> CmdResult {
    let at = deadline(ctx, argv, 2, unit, false, name)?;
    let key = argv.get(1);
    store_str(ctx, key, argv.get(3), false);
    let now = ctx.now;
    ctx.db().set_expire(key, at, now);
    ctx.write(key)
        .notify(notify::STRING, "set")
        .notify(notify::GENERIC, "expire")
        .dirty(1);
    if ctx.replicating() {
        // Replicas get SET with the absolute instant, as from a SET with a TTL.
        ctx.propagate(vec![replication::set_pxat(key, argv.get(3), at)]);
    }
    ctx.out.ok();
    Ok(())
}

fn setex(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    setex_generic(ctx, argv, 1000, "setex")
}

fn psetex(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    setex_generic(ctx, argv, 1, "psetex")
}

fn getset(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let old = read_str(ctx, argv.get(1))?.map(<[u8]>::to_vec);
    store_str(ctx, argv.get(1), argv.get(2), false);
    ctx.write(argv.get(1))
        .notify(notify::STRING, "set")
        .dirty(1);
    match old {
        Some(o) => ctx.out.bulk(&o),
        None => ctx.out.null(),
    }
    Ok(())
}

fn getdel(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let key = argv.get(1);
    let Some(old) = read_str(ctx, key)?.map(<[u8]>::to_vec) else {
        ctx.out.null();
        return Ok(());
    };
    ctx.db().remove(key);
    ctx.write(key).notify(notify::GENERIC, "del").dirty(1);
    ctx.out.bulk(&old);
    Ok(())
}

fn getex(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let mut ttl = Ttl::None;
    let mut pending = None;
    let mut i = 2;
    while i < argv.len() {
        let a = argv.get(i);
        let has_next = i + 1 < argv.len();
        if a.eq_ignore_ascii_case(b"persist") && ttl == Ttl::None {
            ttl = Ttl::Persist;
        } else if ttl == Ttl::None && has_next {
            let (unit, abs) = match a.to_ascii_lowercase().as_slice() {
                b"ex" => (1000, false),
                b"px" => (1, false),
                b"exat" => (1000, true),
                b"pxat" => (1, true),
                _ => return Err(errors::SYNTAX.into()),
            };
            // Read once the key is known to exist: Redis answers nil for a missing key
            // before it validates the time.
            ttl = Ttl::At(0);
            pending = Some((i + 1, unit, abs));
            i += 1;
        } else {
            return Err(errors::SYNTAX.into());
        }
        i += 1;
    }
    let key = argv.get(1);
    let Some(val) = read_str(ctx, key)?.map(<[u8]>::to_vec) else {
        ctx.out.null();
        return Ok(());
    };
    if let Some((j, unit, abs)) = pending {
        ttl = Ttl::At(deadline(ctx, argv, j, unit, abs, "getex")?);
    }
    let now = ctx.now;
    match ttl {
        Ttl::At(at) if at <= now => {
            ctx.db().remove(key);
            ctx.write(key).notify(notify::GENERIC, "del").dirty(1);
        }
        Ttl::At(at) => {
            ctx.db().set_expire(key, at, now);
            ctx.write(key).notify(notify::GENERIC, "expire").dirty(1);
        }
        Ttl::Persist if ctx.db().expire_at(key, now).is_some_and(|t| t != 0) => {
            ctx.db().set_expire(key, 0, now);
            ctx.write(key).notify(notify::GENERIC, "persist").dirty(1);
        }
        _ => {}
    }
    if ctx.replicating() && argv.len() > 2 {
        // Replicas get the TTL change alone, as an absolute instant or PERSIST.
        let cmds = match ctx.stored_expiry(key) {
            Some(at) if at > 0 => vec![replication::pexpireat(key, at)],
            Some(_) => vec![OwnedArgv::from_slices([b"PERSIST".as_slice(), key])],
            None => Vec::new(),
        };
        ctx.propagate(cmds);
    }
    ctx.out.bulk(&val);
    Ok(())
}

fn mget(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let now = ctx.now;
    let db = &mut ctx.eng.dbs[ctx.client.db];
    ctx.out.array(argv.len() - 1);
    for k in argv.iter_from(1) {
        match db.get(k, now).map(|e| &e.value) {
            Some(Value::Str(s)) => ctx.out.bulk(s),
            _ => ctx.out.null(),
        }
    }
    Ok(())
}

fn mset(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    if argv.len().is_multiple_of(2) {
        return Err(errors::wrong_arity("mset"));
    }
    for i in (1..argv.len()).step_by(2) {
        store_str(ctx, argv.get(i), argv.get(i + 1), false);
        ctx.write(argv.get(i)).notify(notify::STRING, "set");
    }
    ctx.dirty((argv.len() / 2) as u64);
    ctx.out.ok();
    Ok(())
}

fn msetnx(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    if argv.len().is_multiple_of(2) {
        return Err(errors::wrong_arity("msetnx"));
    }
    let now = ctx.now;
    for i in (1..argv.len()).step_by(2) {
        if ctx.db().exists(argv.get(i), now) {
            ctx.out.int(0);
            return Ok(());
        }
    }
    for i in (1..argv.len()).step_by(2) {
        store_str(ctx, argv.get(i), argv.get(i + 1), false);
        ctx.write(argv.get(i)).notify(notify::STRING, "set");
    }
    ctx.dirty((argv.len() / 2) as u64);
    ctx.out.int(1);
    Ok(())
}

/// Adds `by` to the integer at `key` (creating it as 0), in place.
fn incr_by(ctx: &mut Ctx<'_>, key: &[u8], by: i64) -> CmdResult {
    let now = ctx.now;
    let db = &mut ctx.eng.dbs[ctx.client.db];
    let (mut val, _) = db.get_or_create(key, now, || Value::Str(b"0".to_vec().into()));
    let Value::Str(s) = &mut *val else {
        val.unchanged();
        return Err(errors::WRONGTYPE.into());
    };
    let next = parse_i64(s)
        .ok_or(errors::NOT_INTEGER)
        .and_then(|cur| cur.checked_add(by).ok_or(errors::INCR_OVERFLOW));
    let new = match next {
        Ok(n) => n,
        Err(e) => {
            val.unchanged();
            return Err(e.into());
        }
    };
    set_i64(s, new);
    drop(val);
    ctx.write(key).notify(notify::STRING, "incrby").dirty(1);
    ctx.out.int(new);
    Ok(())
}

fn incr(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    incr_by(ctx, argv.get(1), 1)
}

fn decr(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    incr_by(ctx, argv.get(1), -1)
}

fn incrby(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let by = argv.i64(2)?;
    incr_by(ctx, argv.get(1), by)
}

fn decrby(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let by = argv.i64(2)?;
    if by == i64::MIN {
        return Err("ERR decrement would overflow".into());
    }
    incr_by(ctx, argv.get(1), -by)
}

fn incrbyfloat(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let key = argv.get(1);
    let now = ctx.now;
    // Redis checks the key (WRONGTYPE, then its current value) before the increment.
    // A write's lookup: no keyspace hit or miss, as redis-server counts INCRBYFLOAT.
    let (cur, cur_text) = match lookup_str(ctx, key, false)? {
        None => (0.0, b"0".to_vec()),
        Some(s) => match parse_f64(s) {
            Some(f) if !beyond_long_double(f, s) => (f, s.to_vec()),
            _ => return Err(errors::NOT_FLOAT.into()),
        },
    };
    let by = argv.f64(2)?;
    if beyond_long_double(by, argv.get(2)) {
        return Err(errors::NOT_FLOAT.into());
    }
    // Redis adds in x87 long double and prints `%.17Lf` trimmed: reproduce its exact text
    // (`f64` would drift, e.g. after repeated `INCRBYFLOAT k 0.1`), falling back to `f64`
    // only for operands that are not plain decimals (exponents, inf).
    let text = match longdouble::add_decimal(&cur_text, argv.get(2)) {
        Some(Ok(text)) => text,
        Some(Err(())) => return Err(errors::INCR_NAN.into()),
        None => {
            let new = cur + by;
            if !new.is_finite() {
                return Err(errors::INCR_NAN.into());
            }
            format_float_human(new)
        }
    };
    let keep = ctx.db().expire_at(key, now).is_some();
    // Redis builds the result as a plain string object (never `int`), and replicates the
    // command as a SET whose argument is that same object: inside EXEC the queued command keeps
    // it referenced until EXEC ends, as SET's argument is (OBJECT REFCOUNT 2; found seed 2013).
    let held = exec_hold(ctx);
    let mut stored = crate::db::Str::plain(text.as_bytes().to_vec());
    stored.hold(held);
    let stored = Value::Str(stored);
    ctx.db().set(key, stored, now, keep);
    ctx.write(key)
        .notify(notify::STRING, "incrbyfloat")
        .dirty(1);
    ctx.out.bulk(text.as_bytes());
    Ok(())
}

/// A numeral too large even for a long double (`strtold` reports ERANGE, which Redis treats
/// as "not a valid float"); `inf` spelled out is a valid float that fails later instead.
fn beyond_long_double(parsed: f64, text: &[u8]) -> bool {
    !parsed.is_finite() && text.iter().any(u8::is_ascii_digit) && longdouble::parse(text).is_none()
}

fn max_len(ctx: &Ctx<'_>) -> usize {
    ctx.eng.cfg.proto_max_bulk_len
}

fn append(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let key = argv.get(1);
    let add = argv.get(2);
    let now = ctx.now;
    let limit = max_len(ctx);
    let held = exec_hold(ctx);
    let db = &mut ctx.eng.dbs[ctx.client.db];
    if let Some(e) = db.peek(key, now) {
        let s = as_str(&e.value)?;
        if s.len() + add.len() > limit {
            return Err(errors::STRING_TOO_LONG.into());
        }
    }
    let (mut val, created) = db.get_or_create(key, now, || Value::Str(Vec::new().into()));
    let Value::Str(s) = &mut *val else {
        return Err(errors::WRONGTYPE.into());
    };
    s.vec_mut().extend_from_slice(add);
    if created {
        // APPEND to a missing key stores its argument as SET would.
        s.reencode();
        s.hold(held);
    }
    let n = s.len();
    drop(val);
    ctx.write(key).notify(notify::STRING, "append").dirty(1);
    ctx.out.int(n as i64);
    Ok(())
}

fn strlen(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let n = read_str(ctx, argv.get(1))?.map_or(0, |s| s.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn getrange(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let (s, e) = (argv.i64(2)?, argv.i64(3)?);
    let val = read_str(ctx, argv.get(1))?;
    let slice: Vec<u8> = match val {
        None => Vec::new(),
        Some(v) => {
            // Redis special-cases a negative start beyond a negative end as empty.
            if s < 0 && e < 0 && s > e {
                Vec::new()
            } else {
                clamp_range(s, e, v.len())
                    .map(|(a, b)| v[a..=b].to_vec())
                    .unwrap_or_default()
            }
        }
    };
    ctx.out.bulk(&slice);
    Ok(())
}

fn setrange(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let off = argv.i64(2)?;
    if off < 0 {
        return Err("ERR offset is out of range".into());
    }
    let off = off as usize;
    let key = argv.get(1);
    let val = argv.get(3);
    let now = ctx.now;
    let limit = max_len(ctx);
    let db = &mut ctx.eng.dbs[ctx.client.db];
    let cur_len = match db.peek(key, now) {
        Some(e) => as_str(&e.value)?.len(),
        None => {
            if val.is_empty() {
                ctx.out.int(0);
                return Ok(());
            }
            0
        }
    };
    if val.is_empty() {
        ctx.out.int(cur_len as i64);
        return Ok(());
    }
    if off + val.len() > limit {
        return Err(errors::STRING_TOO_LONG.into());
    }
    let (mut v, _) = db.get_or_create(key, now, || Value::Str(Vec::new().into()));
    let Value::Str(s) = &mut *v else {
        return Err(errors::WRONGTYPE.into());
    };
    if s.len() < off + val.len() {
        s.vec_mut().resize(off + val.len(), 0);
    }
    s[off..off + val.len()].copy_from_slice(val);
    let n = s.len();
    drop(v);
    ctx.write(key).notify(notify::STRING, "setrange").dirty(1);
    ctx.out.int(n as i64);
    Ok(())
}

/// One LCS match: ranges in the first and second string, and its length.
type LcsMatch = ((usize, usize), (usize, usize), usize);

/// The longest-common-subsequence length table of `a` and `b`, row-major with rows of
/// `b.len() + 1` cells.
fn lcs_table(a: &[u8], b: &[u8]) -> Vec<u32> {
    let w = b.len() + 1;
    let mut dp = vec![0u32; (a.len() + 1) * w];
    for x in 1..=a.len() {
        for y in 1..=b.len() {
            dp[x * w + y] = if a[x - 1] == b[y - 1] {
                dp[(x - 1) * w + y - 1] + 1
            } else {
                dp[(x - 1) * w + y].max(dp[x * w + y - 1])
            };
        }
    }
    dp
}

/// Walks the table back from the end, as Redis does: the common subsequence and its matching
/// ranges, last range first.
fn lcs_walk(a: &[u8], b: &[u8], dp: &[u32]) -> (Vec<u8>, Vec<LcsMatch>) {
    let w = b.len() + 1;
    let total = dp[a.len() * w + b.len()] as usize;
    let mut seq = vec![0u8; total];
    let mut matches: Vec<LcsMatch> = Vec::new();
    let (mut x, mut y, mut k) = (a.len(), b.len(), total);
    let mut cur: Option<((usize, usize), (usize, usize))> = None;
    while x > 0 && y > 0 {
        if a[x - 1] == b[y - 1] {
            k -= 1;
            seq[k] = a[x - 1];
            match cur.as_mut() {
                Some((ra, rb)) if ra.0 == x && rb.0 == y => {
                    ra.0 = x - 1;
                    rb.0 = y - 1;
                }
                _ => {
                    if let Some((ra, rb)) = cur.take() {
                        matches.push((ra, rb, ra.1 - ra.0 + 1));
                    }
                    cur = Some(((x - 1, x - 1), (y - 1, y - 1)));
                }
            }
            x -= 1;
            y -= 1;
        } else if dp[(x - 1) * w + y] > dp[x * w + y - 1] {
            x -= 1;
        } else {
            y -= 1;
        }
    }
    if let Some((ra, rb)) = cur.take() {
        matches.push((ra, rb, ra.1 - ra.0 + 1));
    }
    (seq, matches)
}

/// LCS … IDX: the ranges of at least `min_len`, with their lengths when asked.
fn reply_lcs_idx(
    ctx: &mut Ctx<'_>,
    matches: Vec<LcsMatch>,
    min_len: i64,
    with_len: bool,
    total: usize,
) {
    let kept: Vec<_> = matches
        .into_iter()
        .filter(|m| m.2 as i64 >= min_len)
        .collect();
    ctx.out.map(2);
    ctx.out.bulk(b"matches");
    ctx.out.array(kept.len());
    for (ra, rb, l) in kept {
        ctx.out.array(if with_len { 3 } else { 2 });
        ctx.out.array(2);
        ctx.out.int(ra.0 as i64);
        ctx.out.int(ra.1 as i64);
        ctx.out.array(2);
        ctx.out.int(rb.0 as i64);
        ctx.out.int(rb.1 as i64);
        if with_len {
            ctx.out.int(l as i64);
        }
    }
    ctx.out.bulk(b"len");
    ctx.out.int(total as i64);
}

fn lcs(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    // Redis checks both keys' types before it reads the options.
    let now = ctx.now;
    let db = &mut ctx.eng.dbs[ctx.client.db];
    let mut fetch = |k: &[u8]| -> Result<Vec<u8>, CmdError> {
        match db.get(k, now).map(|e| &e.value) {
            None => Ok(Vec::new()),
            Some(Value::Str(s)) => Ok(s.to_vec()),
            Some(_) => Err("ERR The specified keys must contain string values".into()),
        }
    };
    let a = fetch(argv.get(1))?;
    let b = fetch(argv.get(2))?;
    let (mut want_len, mut want_idx, mut with_len) = (false, false, false);
    let mut min_len = 0i64;
    let mut i = 3;
    while i < argv.len() {
        if argv.is(i, "len") {
            want_len = true;
        } else if argv.is(i, "idx") {
            want_idx = true;
        } else if argv.is(i, "withmatchlen") {
            with_len = true;
        } else if argv.is(i, "minmatchlen") && i + 1 < argv.len() {
            min_len = argv.i64(i + 1)?.max(0);
            i += 1;
        } else {
            return Err(errors::SYNTAX.into());
        }
        i += 1;
    }
    if want_len && want_idx {
        return Err("ERR If you want both the length and indexes, please just use IDX.".into());
    }
    let cells = (a.len() + 1).saturating_mul(b.len() + 1);
    if cells.saturating_mul(4) > ctx.eng.cfg.proto_max_bulk_len {
        return Err(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len".into(),
        );
    }
    let dp = lcs_table(&a, &b);
    let (seq, matches) = lcs_walk(&a, &b, &dp);
    if want_len {
        ctx.out.int(seq.len() as i64);
    } else if want_idx {
        reply_lcs_idx(ctx, matches, min_len, with_len, seq.len());
    } else {
        ctx.out.bulk(&seq);
    }
    Ok(())
}

/// SET overwrites its key blindly unless GET asks for the old value first.
fn set_key_flags(argv: &Argv<'_>, _nth: usize) -> u16 {
    if (3..argv.len()).any(|i| argv.is(i, "get")) {
        ks::RW | ks::ACCESS | ks::UPDATE
    } else {
        ks::OW | ks::UPDATE
    }
}
