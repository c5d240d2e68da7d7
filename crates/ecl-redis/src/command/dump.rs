//! DUMP and RESTORE over our RDB codec ([`crate::rdb`]).
//!
//! Place in the flow: generic key commands; payloads are interchangeable with real Redis.

use super::flags::*;
use super::ks;
use super::{Argv, Cmd, CommandSpec, Ctx, Keys, OwnedArgv, Release::Redis, acl};
use crate::config::notify;
use crate::db::{Entry, evict};
use crate::errors::{self, CmdResult};
use crate::rdb::{self, RestoreError};

/// DUMP/RESTORE table.
pub const COMMANDS: &[CommandSpec] = &[
    Cmd::new("dump", dump)
        .arity(2)
        .flags(&[READONLY])
        .acl(&[acl::KEYSPACE, acl::READ, acl::SLOW])
        .keys(Keys::Range(1, 1, 1))
        .since(Redis(2, 6, 0))
        .group("generic")
        .doc("Returns a serialized representation of the value stored at a key."),
    Cmd::new("restore", restore)
        .arity(-4)
        .flags(&[WRITE, DENYOOM])
        .acl(&[acl::KEYSPACE, acl::WRITE, acl::SLOW, acl::DANGEROUS])
        .keys(Keys::Range(1, 1, 1))
        .since(Redis(2, 6, 0))
        .group("generic")
        .ks(&[ks::OW | ks::UPDATE])
        .doc("Creates a key from the serialized representation of a value."),
];

fn dump(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let now = ctx.now;
    let compat = ctx.version();
    match ctx.db().get(argv.get(1), now) {
        Some(e) => {
            let p = rdb::dump(&e.value, compat);
            ctx.out.bulk(&p);
        }
        None => ctx.out.null(),
    }
    Ok(())
}

fn restore(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let key = argv.get(1);
    let (mut replace, mut absttl) = (false, false);
    let mut idle: Option<i64> = None;
    let mut freq: Option<i64> = None;
    let mut i = 4;
    while i < argv.len() {
        if argv.is(i, "replace") {
            replace = true;
            i += 1;
        } else if argv.is(i, "absttl") {
            absttl = true;
            i += 1;
        } else if argv.is(i, "idletime") && i + 1 < argv.len() && freq.is_none() {
            let t = argv.i64(i + 1)?;
            if t < 0 {
                return Err("ERR Invalid IDLETIME value, must be >= 0".into());
            }
            idle = Some(t);
            i += 2;
        } else if argv.is(i, "freq") && i + 1 < argv.len() && idle.is_none() {
            let f = argv.i64(i + 1)?;
            if !(0..=255).contains(&f) {
                return Err("ERR Invalid FREQ value, must be >= 0 and <= 255".into());
            }
            freq = Some(f);
            i += 2;
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    // Redis reads the options, then refuses an existing key, and only then reads the TTL.
    let now = ctx.now;
    if !replace && ctx.db().exists(key, now) {
        return Err("BUSYKEY Target key name already exists.".into());
    }
    let ttl = argv.i64(2)?;
    if ttl < 0 {
        return Err("ERR Invalid TTL value, must be >= 0".into());
    }
    let value = match rdb::restore(argv.get(3), ctx.version()) {
        Ok(mut v) => {
            // Encodings follow the node's thresholds, as when Redis loads a value.
            super::coll::fit_encoding(ctx, &mut v);
            v
        }
        Err(RestoreError::VersionOrChecksum) => {
            return Err("ERR DUMP payload version or checksum are wrong".into());
        }
        Err(RestoreError::BadFormat) => return Err("ERR Bad data format".into()),
    };
    let expire_at = match ttl {
        0 => 0,
        t if absttl => t,
        t => now.saturating_add(t),
    };
    if expire_at != 0 && expire_at <= now {
        if ctx.db().remove(key).is_some() {
            ctx.write(key).notify(notify::GENERIC, "del").dirty(1);
            // Replicas and the AOF see the deletion, as redis-server propagates it.
            if ctx.replicating() {
                ctx.propagate(vec![OwnedArgv::from_slices([&b"DEL"[..], key])]);
            }
        }
        ctx.out.ok();
        return Ok(());
    }
    let lru = match (idle, freq) {
        (_, Some(f)) => ((now / 60_000) as u32 & 0xFFFF) << 8 | f as u32,
        (Some(t), _) => ((now / 1000) - t).max(0) as u32,
        _ if ctx.eng.cfg.policy.is_lfu() => evict::lfu_initial(now),
        _ => (now / 1000) as u32,
    };
    ctx.db().insert_entry(
        key,
        Entry {
            value,
            expire_at,
            lru,
        },
    );
    ctx.write(key)
        .notify(notify::GENERIC, "restore")
        .dirty(1)
        .ready();
    // A relative TTL goes to replicas and the AOF as the absolute time it ends at, with
    // ABSTTL appended (redis-server's rewrite), so a replay later does not extend it.
    if ctx.replicating() && ttl > 0 && !absttl {
        let at = expire_at.to_string();
        let mut args: Vec<&[u8]> = argv.iter_from(0).collect();
        args[2] = at.as_bytes();
        args.push(b"ABSTTL");
        ctx.propagate(vec![OwnedArgv::from_slices(args)]);
    }
    ctx.out.ok();
    Ok(())
}
