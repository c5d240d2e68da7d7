//! Hash commands.
//!
//! Place in the flow: argument parsing and reply shaping for `Value::Hash`; the storage lives
//! in `db/hash.rs`. Writes keep the listpack/hashtable encoding in step with
//! `hash-max-listpack-*`, bump `dirty` and emit `hset` / `hdel` / `hincrby` /
//! `hincrbyfloat` events.

use super::coll::{self, cleanup, read};
use super::flags::*;
use super::keys::{parse_cursor, scan_opts};
use super::ks;
use super::{
    AclCategories, Argv, Cmd, CommandSpec, Ctx, Keys, Release, Release::Redis, Since, acl,
};
use crate::config::notify;
use crate::db::bytes::SmallBytes;
use crate::db::hash::Hash;
use crate::db::longdouble;
use crate::db::string::{format_float_human, parse_f64, parse_i64};
use crate::errors::{self, CmdError, CmdResult};
use crate::glob::glob_match;

const R: AclCategories = acl::READ.with(acl::HASH);
const W: AclCategories = acl::WRITE.with(acl::HASH);
const K1: Keys = Keys::Range(1, 1, 1);

/// Hash family table.
pub const COMMANDS: &[CommandSpec] = &[
    Cmd::new("hset", hset).arity(-4).flags(&[WRITE, DENYOOM, FAST]).acl(&[W, acl::FAST]).keys(K1).since(Redis(2, 0, 0)).group("hash").doc("Creates or modifies the value of a field in a hash."),
    Cmd::new("hmset", hmset).arity(-4).flags(&[WRITE, DENYOOM, FAST]).acl(&[W, acl::FAST]).keys(K1).since(Redis(2, 0, 0)).group("hash").doc("Sets the values of multiple fields."),
    Cmd::new("hsetnx", hsetnx).arity(4).flags(&[WRITE, DENYOOM, FAST]).acl(&[W, acl::FAST]).keys(K1).since(Redis(2, 0, 0)).group("hash").ks(&[ks::RW | ks::INSERT]).doc("Sets the value of a field in a hash only when the field doesn't exist."),
    Cmd::new("hget", hget).arity(3).flags(&[READONLY, FAST]).acl(&[R, acl::FAST]).keys(K1).since(Redis(2, 0, 0)).group("hash").doc("Returns the value of a field in a hash."),
    Cmd::new("hmget", hmget).arity(-3).flags(&[READONLY, FAST]).acl(&[R, acl::FAST]).keys(K1).since(Redis(2, 0, 0)).group("hash").doc("Returns the values of all fields in a hash."),
    Cmd::new("hdel", hdel).arity(-3).flags(&[WRITE, FAST]).acl(&[W, acl::FAST]).keys(K1).since(Redis(2, 0, 0)).group("hash").ks(&[ks::RW | ks::DELETE]).doc("Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain."),
    Cmd::new("hlen", hlen).arity(2).flags(&[READONLY, FAST]).acl(&[R, acl::FAST]).keys(K1).since(Redis(2, 0, 0)).group("hash").ks(&[ks::RO]).doc("Returns the number of fields in a hash."),
    Cmd::new("hstrlen", hstrlen).arity(3).flags(&[READONLY, FAST]).acl(&[R, acl::FAST]).keys(K1).since(Redis(3, 2, 0)).group("hash").ks(&[ks::RO]).doc("Returns the length of the value of a field."),
    Cmd::new("hexists", hexists).arity(3).flags(&[READONLY, FAST]).acl(&[R, acl::FAST]).keys(K1).since(Redis(2, 0, 0)).group("hash").ks(&[ks::RO]).doc("Determines whether a field exists in a hash."),
    Cmd::new("hkeys", hkeys).arity(2).flags(&[READONLY]).acl(&[R, acl::SLOW]).keys(K1).since(Redis(2, 0, 0)).group("hash").doc("Returns all fields in a hash."),
    Cmd::new("hvals", hvals).arity(2).flags(&[READONLY]).acl(&[R, acl::SLOW]).keys(K1).since(Redis(2, 0, 0)).group("hash").doc("Returns all values in a hash."),
    Cmd::new("hgetall", hgetall).arity(2).flags(&[READONLY]).acl(&[R, acl::SLOW]).keys(K1).since(Redis(2, 0, 0)).group("hash").doc("Returns all fields and values in a hash."),
    Cmd::new("hincrby", hincrby).arity(4).flags(&[WRITE, DENYOOM, FAST]).acl(&[W, acl::FAST]).keys(K1).since(Redis(2, 0, 0)).group("hash").ks(&[ks::RW | ks::ACCESS | ks::UPDATE]).doc("Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist."),
    Cmd::new("hincrbyfloat", hincrbyfloat).arity(4).flags(&[WRITE, DENYOOM, FAST]).acl(&[W, acl::FAST]).keys(K1).since(Redis(2, 6, 0)).group("hash").ks(&[ks::RW | ks::ACCESS | ks::UPDATE]).doc("Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist."),
    Cmd::new("hrandfield", hrandfield).arity(-2).flags(&[READONLY]).acl(&[R, acl::SLOW]).keys(K1).since(Redis(6, 2, 0)).group("hash").doc("Returns one or more random fields from a hash."),
    Cmd::new("hscan", hscan).arity(-3).flags(&[READONLY]).acl(&[R, acl::SLOW]).keys(K1).since(Redis(2, 8, 0)).group("hash").doc("Iterates over fields and values of a hash."),
];

/// Sets field/value pairs from `argv[2..]`; the number of new fields.
fn set_pairs(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> Result<usize, CmdError> {
    if !argv.len().is_multiple_of(2) {
        let name = argv.str(0).to_ascii_lowercase();
        return Err(errors::wrong_arity(&name));
    }
    let key = argv.get(1);
    let (me, mv) = coll::listpack_limits(ctx, "hash");
    let added = coll::write::<Hash, _>(ctx, key, true, |h| {
        let mut added = 0;
        let mut longest = 0;
        let mut i = 2;
        while i + 1 < argv.len() {
            let (f, val) = (argv.get(i), argv.get(i + 1));
            longest = longest.max(f.len()).max(val.len());
            if h.insert(f, val) {
                added += 1;
            }
            i += 2;
        }
        h.check_encoding(me, mv, longest);
        added
    })?
    .unwrap_or(0);
    ctx.write(key)
        .notify(notify::HASH, "hset")
        .dirty((argv.len() as u64 - 2) / 2);
    Ok(added)
}

fn hset(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let n = set_pairs(ctx, argv)?;
    ctx.out.int(n as i64);
    Ok(())
}

fn hmset(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    set_pairs(ctx, argv)?;
    ctx.out.ok();
    Ok(())
}

fn hsetnx(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let key = argv.get(1);
    let (f, val) = (argv.get(2), argv.get(3));
    // A write's lookup: no keyspace hit or miss, as redis-server counts it.
    let exists = coll::peek::<Hash>(ctx, key)?.is_some_and(|h| h.get(f).is_some());
    if exists {
        ctx.out.int(0);
        return Ok(());
    }
    let (me, mv) = coll::listpack_limits(ctx, "hash");
    coll::write::<Hash, _>(ctx, key, true, |h| {
        h.insert(f, val);
        h.check_encoding(me, mv, f.len().max(val.len()));
    })?;
    ctx.out.int(1);
    ctx.write(key).notify(notify::HASH, "hset").dirty(1);
    Ok(())
}

fn hget(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    match read::<Hash>(ctx, argv.get(1))?
        .and_then(|h| h.get(argv.get(2)))
        .cloned()
    {
        Some(x) => ctx.out.bulk(&x),
        None => ctx.out.null(),
    }
    Ok(())
}

fn hmget(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let vals: Vec<Option<SmallBytes>> = match read::<Hash>(ctx, argv.get(1))? {
        Some(h) => argv.iter_from(2).map(|f| h.get(f).cloned()).collect(),
        None => vec![None; argv.len() - 2],
    };
    ctx.out.array(vals.len());
    for x in vals {
        match x {
            Some(x) => ctx.out.bulk(&x),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn hdel(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let key = argv.get(1);
    if !coll::peek::<Hash>(ctx, key)?.is_some_and(|h| argv.iter_from(2).any(|f| h.get(f).is_some()))
    {
        ctx.out.int(0);
        return Ok(());
    }
    let n = coll::write::<Hash, _>(ctx, key, false, |h| {
        argv.iter_from(2).filter(|f| h.remove(f).is_some()).count()
    })?
    .unwrap_or(0);
    ctx.out.int(n as i64);
    if n > 0 {
        ctx.write(key).notify(notify::HASH, "hdel").dirty(n as u64);
        cleanup(ctx, key);
    }
    Ok(())
}

fn hlen(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let n = read::<Hash>(ctx, argv.get(1))?.map_or(0, |h| h.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn hstrlen(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let n = read::<Hash>(ctx, argv.get(1))?
        .and_then(|h| h.get(argv.get(2)))
        .map_or(0, |x| x.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn hexists(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let b = read::<Hash>(ctx, argv.get(1))?.is_some_and(|h| h.get(argv.get(2)).is_some());
    ctx.out.int(i64::from(b));
    Ok(())
}

/// A field and its value.
type Pair = (SmallBytes, SmallBytes);

/// Field/value pairs of a hash (empty when missing).
fn all_pairs(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Vec<Pair>, CmdError> {
    Ok(read::<Hash>(ctx, key)?
        .map(|h| h.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default())
}

fn hkeys(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let p = all_pairs(ctx, argv.get(1))?;
    ctx.out.bulk_array(p.iter().map(|(k, _)| k.as_slice()));
    Ok(())
}

fn hvals(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let p = all_pairs(ctx, argv.get(1))?;
    ctx.out.bulk_array(p.iter().map(|(_, v)| v.as_slice()));
    Ok(())
}

fn hgetall(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let p = all_pairs(ctx, argv.get(1))?;
    ctx.out.map(p.len());
    for (k, v) in &p {
        ctx.out.bulk(k);
        ctx.out.bulk(v);
    }
    Ok(())
}

/// Read-modify-write of one field; `f` maps the current value to the new bytes.
fn update_field(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    field: &[u8],
    f: impl FnOnce(Option<&[u8]>) -> Result<Vec<u8>, CmdError>,
) -> Result<Vec<u8>, CmdError> {
    // A write's lookup (HINCRBY, HINCRBYFLOAT): no keyspace hit or miss, as redis-server.
    let cur = coll::peek::<Hash>(ctx, key)?
        .and_then(|h| h.get(field))
        .cloned();
    let new = f(cur.as_deref())?;
    let (me, mv) = coll::listpack_limits(ctx, "hash");
    let stored = new.clone();
    coll::write::<Hash, _>(ctx, key, true, |h| {
        let longest = field.len().max(stored.len());
        h.insert(field, stored);
        h.check_encoding(me, mv, longest);
    })?;
    ctx.dirty(1);
    Ok(new)
}

fn hincrby(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let by = argv.i64(3)?;
    let key = argv.get(1);
    let new = update_field(ctx, key, argv.get(2), |cur| {
        let old = match cur {
            None => 0,
            Some(b) => parse_i64(b).ok_or(CmdError::from("ERR hash value is not an integer"))?,
        };
        let n = old
            .checked_add(by)
            .ok_or(CmdError::from(errors::INCR_OVERFLOW))?;
        Ok(n.to_string().into_bytes())
    })?;
    ctx.out.int(parse_i64(&new).unwrap_or(0));
    ctx.write(key).notify(notify::HASH, "hincrby");
    Ok(())
}

fn hincrbyfloat(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let by = argv.f64(3)?;
    // Redis checks the increment as a long double: 1e400 is finite there.
    if !by.is_finite() && longdouble::parse(argv.get(3)).is_none() {
        return Err("ERR value is NaN or Infinity".into());
    }
    let key = argv.get(1);
    let incr = argv.get(3);
    let new = update_field(ctx, key, argv.get(2), |cur| {
        let old = match cur {
            None => 0.0,
            Some(b) => parse_f64(b).ok_or(CmdError::from("ERR hash value is not a float"))?,
        };
        // Redis adds in x87 long double and prints `%.17Lf`: reproduce its exact text.
        let old_text: &[u8] = cur.unwrap_or(b"0");
        match longdouble::add_decimal(old_text, incr) {
            Some(Ok(text)) => return Ok(text.into_bytes()),
            Some(Err(())) => return Err(errors::INCR_NAN.into()),
            None => {}
        }
        let n = old + by;
        if !n.is_finite() {
            return Err(errors::INCR_NAN.into());
        }
        Ok(format_float_human(n).into_bytes())
    })?;
    ctx.out.bulk(&new);
    ctx.write(key).notify(notify::HASH, "hincrbyfloat");
    Ok(())
}

fn hrandfield(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let mut with_values = false;
    let count = if argv.len() >= 3 {
        let c = argv.i64(2)?;
        if c == i64::MIN {
            // Redis reads the count within ±LONG_MAX before it looks at what follows.
            coll::random_count(c)?;
        }
        if argv.len() == 4 && argv.is(3, "withvalues") {
            with_values = true;
        } else if argv.len() > 3 {
            return Err(errors::SYNTAX.into());
        }
        if with_values && c.unsigned_abs() > (i64::MAX as u64) / 2 {
            return Err("ERR value is out of range".into());
        }
        Some(if c < 0 { coll::random_count(c)? } else { c })
    } else {
        None
    };
    if coll::huge_random_count(count) && coll::peek::<Hash>(ctx, argv.get(1))?.is_some() {
        return coll::answer_huge_random_count(ctx, count.unwrap_or_default());
    }
    let picked: Vec<Pair> = match read::<Hash>(ctx, argv.get(1))? {
        None => Vec::new(),
        Some(h) => coll::sample_keys(h.dict(), count.unwrap_or(1))
            .into_iter()
            .map(|k| {
                let v = h.get(&k).cloned().unwrap_or_default();
                (k, v)
            })
            .collect(),
    };
    let Some(_) = count else {
        match picked.first() {
            Some((k, _)) => ctx.out.bulk(k),
            None => ctx.out.null(),
        }
        return Ok(());
    };
    let resp3 = ctx.out.resp3;
    if with_values && resp3 {
        ctx.out.array(picked.len());
    } else {
        ctx.out
            .array(picked.len() * if with_values { 2 } else { 1 });
    }
    for (k, v) in &picked {
        if with_values && resp3 {
            ctx.out.array(2);
        }
        ctx.out.bulk(k);
        if with_values {
            ctx.out.bulk(v);
        }
    }
    Ok(())
}

fn hscan(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let cursor = parse_cursor(argv.get(2))?;
    if coll::scan_missing::<Hash>(ctx, argv.get(1))? {
        return Ok(());
    }
    let novalues = Since::from(Release::Redis(7, 4, 0)).or_valkey(8, 0, 0);
    let o = scan_opts(argv, 3, false, ctx.has(novalues).then_some("novalues"))?;
    let mut items = Vec::new();
    let next = match read::<Hash>(ctx, argv.get(1))? {
        None => 0,
        Some(h) => {
            let mut visit = |k: &[u8], v: &[u8]| {
                if o.pattern.is_some_and(|p| !glob_match(p, k)) {
                    return;
                }
                items.push(k.to_vec());
                if !o.novalues {
                    items.push(v.to_vec());
                }
            };
            if h.encoding() == "listpack" {
                // Small encodings answer everything in one call, as Redis does.
                for (k, v) in h.iter() {
                    visit(k, v);
                }
                0
            } else {
                h.dict().scan(cursor, o.count, |k, v| visit(k, v))
            }
        }
    };
    coll::scan_reply(ctx, next, &items);
    Ok(())
}
