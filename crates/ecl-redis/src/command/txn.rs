//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! Place in the flow: the dispatcher queues commands while a client is in MULTI (after the
//! table's arity/unknown checks, flagging the transaction on any queueing error); EXEC runs the
//! queue in one go under the node lock, so nothing interleaves. WATCH records each key's
//! version and how many SWAPDBs touched it; EXEC aborts (null reply) if either changed — a
//! write, an expiry (the key reads as missing), a FLUSHDB/FLUSHALL or SWAPDB of a key that
//! existed.

use super::flags::*;
use super::{AclCategories, Argv, Cmd, CommandSpec, Ctx, Flags, Keys, Release::Redis, acl};
use crate::client::Watch;
use crate::errors::{self, CmdResult};

const T: AclCategories = acl::TRANSACTION.with(acl::FAST);
const TX: Flags = Flags::all_of(&[NOSCRIPT, LOADING, STALE, FAST, ALLOW_BUSY]);

/// Transaction family table.
pub const COMMANDS: &[CommandSpec] = &[
    Cmd::new("multi", multi)
        .arity(1)
        .flags(&[TX, TXN_CONTROL])
        .acl(&[T])
        .since(Redis(1, 2, 0))
        .group("transactions")
        .doc("Starts a transaction."),
    Cmd::new("exec", exec)
        .arity(1)
        .flags(&[NOSCRIPT, LOADING, STALE, SKIP_SLOWLOG, TXN_CONTROL])
        .acl(&[acl::TRANSACTION, acl::SLOW])
        .since(Redis(1, 2, 0))
        .group("transactions")
        .doc("Executes all commands in a transaction."),
    Cmd::new("discard", discard)
        .arity(1)
        .flags(&[TX, TXN_CONTROL])
        .acl(&[T])
        .since(Redis(2, 0, 0))
        .group("transactions")
        .doc("Discards a transaction."),
    Cmd::new("watch", watch)
        .arity(-2)
        .flags(&[TX, TXN_CONTROL])
        .acl(&[T])
        .keys(Keys::Range(1, -1, 1))
        .since(Redis(2, 2, 0))
        .group("transactions")
        .doc("Monitors changes to keys to determine the execution of a transaction."),
    Cmd::new("unwatch", unwatch)
        .arity(1)
        .flags(&[TX])
        .acl(&[T])
        .since(Redis(2, 2, 0))
        .group("transactions")
        .doc("Forgets about watched keys of a transaction."),
];

fn multi(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(errors::MULTI_NESTED.into());
    }
    ctx.client.multi = Some(Vec::new());
    ctx.client.multi_dirty = false;
    ctx.out.ok();
    Ok(())
}

fn discard(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    if ctx.client.multi.take().is_none() {
        return Err(errors::DISCARD_NO_MULTI.into());
    }
    ctx.client.multi_dirty = false;
    ctx.eng.release_watches(ctx.client);
    ctx.out.ok();
    Ok(())
}

/// Whether any watched key changed since WATCH.
fn watches_dirty(ctx: &mut Ctx<'_>) -> bool {
    let now = ctx.now;
    let watches = std::mem::take(&mut ctx.client.watches);
    let dirty = watches.iter().any(|w| {
        let db = &mut ctx.eng.dbs[w.db];
        db.swap_epoch(&w.key) != w.epoch || db.version(&w.key, now) != w.ver
    });
    ctx.client.watches = watches;
    dirty
}

fn exec(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    let Some(queue) = ctx.client.multi.take() else {
        return Err(errors::EXEC_NO_MULTI.into());
    };
    if std::mem::take(&mut ctx.client.multi_dirty) {
        ctx.eng.release_watches(ctx.client);
        return Err(errors::EXECABORT.into());
    }
    if watches_dirty(ctx) {
        ctx.eng.release_watches(ctx.client);
        ctx.out.null_array();
        return Ok(());
    }
    ctx.eng.release_watches(ctx.client);
    ctx.out.array(queue.len());
    ctx.client.in_exec = true;
    // Tags the strings the queued commands store from their arguments (OBJECT REFCOUNT counts
    // the queue's reference until EXEC ends); unique per process, so a tag outlives its EXEC
    // without matching a later one.
    static EXEC_TAGS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let tag = EXEC_TAGS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    set_exec_tag(ctx, tag);
    for argv in &queue {
        super::dispatch::dispatch(ctx.eng, ctx.client, ctx.out, &argv.as_argv());
    }
    set_exec_tag(ctx, 0);
    ctx.client.in_exec = false;
    Ok(())
}

fn set_exec_tag(ctx: &mut Ctx<'_>, tag: u64) {
    for db in &mut ctx.eng.dbs {
        db.exec_tag = tag;
    }
}

fn watch(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(errors::WATCH_IN_MULTI.into());
    }
    let now = ctx.now;
    let dbi = ctx.client.db;
    for k in argv.iter_from(1) {
        if ctx
            .client
            .watches
            .iter()
            .any(|w| w.db == dbi && *w.key == *k)
        {
            continue;
        }
        let db = &mut ctx.eng.dbs[dbi];
        db.watch_key(k);
        let w = Watch {
            db: dbi,
            key: k.into(),
            ver: db.version(k, now),
            epoch: db.swap_epoch(k),
        };
        ctx.client.watches.push(w);
    }
    ctx.out.ok();
    Ok(())
}

fn unwatch(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    ctx.eng.release_watches(ctx.client);
    ctx.out.ok();
    Ok(())
}
