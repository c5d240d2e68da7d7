//! XINFO STREAM [FULL [COUNT n]] / GROUPS / CONSUMERS: what a stream, its groups and their
//! consumers hold, in Redis 7.0's reply shapes (maps in RESP3, flat arrays in RESP2).
//!
//! Place in the flow: registered beside `streams.rs` and `streams_groups.rs`; reads
//! `db/stream.rs`. `radix-tree-nodes` counts Redis' internal radix-tree nodes, which this
//! engine does not have: it reports the node count plus one, a plausible figure only.

use super::flags::*;
use super::{Argv, Cmd, CommandSpec, Ctx, Keys, Release::Redis, acl, container};
use crate::db::stream::{Group, Stream, StreamId};
use crate::db::{Value, wrong_type};
use crate::errors::{self, CmdError, CmdResult};

const R: super::AclCategories = acl::READ.with(acl::STREAM).with(acl::SLOW);
const K2: Keys = Keys::Range(2, 2, 1);

const XINFO: &[CommandSpec] = &[
    Cmd::new("stream", xinfo_stream)
        .arity(-3)
        .flags(&[READONLY])
        .acl(&[R])
        .keys(K2)
        .since(Redis(5, 0, 0))
        .group("stream")
        .doc("Returns information about a stream."),
    Cmd::new("groups", xinfo_groups)
        .arity(3)
        .flags(&[READONLY])
        .acl(&[R])
        .keys(K2)
        .since(Redis(5, 0, 0))
        .group("stream")
        .doc("Returns a list of the consumer groups of a stream."),
    Cmd::new("consumers", xinfo_consumers)
        .arity(4)
        .flags(&[READONLY])
        .acl(&[R])
        .keys(K2)
        .since(Redis(5, 0, 0))
        .group("stream")
        .doc("Returns a list of the consumers in a consumer group."),
    Cmd::new("help", xinfo_help)
        .arity(2)
        .flags(&[LOADING, STALE])
        .acl(&[acl::STREAM.with(acl::SLOW)])
        .since(Redis(5, 0, 0))
        .group("stream")
        .doc("Show helpful text about the different subcommands"),
];

fn xinfo_help(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    super::help::help(
        ctx,
        "XINFO",
        &[
            "CONSUMERS <key> <groupname>",
            "    The consumers of group <groupname>: name, pending entries, idle time.",
            "GROUPS <key>",
            "    The consumer groups of the stream.",
            "STREAM <key> [FULL [COUNT <count>]]",
            "    The stream's length, ids and first and last entries (FULL: its entries, groups",
            "    and consumers, up to <count> of each, 10 by default, 0 for all).",
        ],
    );
    Ok(())
}

/// The XINFO container.
pub const COMMANDS: &[CommandSpec] = &[Cmd::new("xinfo", container)
    .arity(-2)
    .acl(&[acl::SLOW])
    .since(Redis(5, 0, 0))
    .group("stream")
    .doc("A container for stream introspection commands.")
    .subs(XINFO)];

/// A copy of the stream at argument 2 (`ERR no such key` when missing).
fn stream_arg(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> Result<Stream, CmdError> {
    let now = ctx.now;
    match ctx.eng.dbs[ctx.client.db]
        .get(argv.get(2), now)
        .map(|e| &e.value)
    {
        None => Err(errors::NO_SUCH_KEY.into()),
        Some(Value::Stream(s)) => Ok((**s).clone()),
        Some(_) => Err(wrong_type()),
    }
}

fn subcommand_error(argv: &Argv<'_>) -> CmdError {
    format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try XINFO HELP.",
        String::from_utf8_lossy(argv.get(1))
    )
    .into()
}

fn id_bulk(ctx: &mut Ctx<'_>, id: StreamId) {
    ctx.out.bulk(id.text().as_bytes());
}

fn key(ctx: &mut Ctx<'_>, k: &str) {
    ctx.out.bulk(k.as_bytes());
}

fn opt_int(ctx: &mut Ctx<'_>, v: Option<i64>) {
    match v {
        Some(v) => ctx.out.int(v),
        None => ctx.out.null(),
    }
}

/// An entry `[id, [field, value, ...]]`, or null when absent.
fn entry(ctx: &mut Ctx<'_>, e: Option<(StreamId, &[Vec<u8>])>) {
    match e {
        Some((id, fields)) => {
            ctx.out.array(2);
            id_bulk(ctx, id);
            ctx.out.bulk_array(fields.iter().map(Vec::as_slice));
        }
        None => ctx.out.null(),
    }
}

fn xinfo_stream(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let s = stream_arg(ctx, argv)?;
    let full = match argv.len() {
        3 => None,
        4 if argv.is(3, "full") => Some(10),
        6 if argv.is(3, "full") && argv.is(4, "count") => {
            let c = argv.i64(5)?;
            Some(if c < 0 { 10 } else { c })
        }
        _ => return Err(subcommand_error(argv)),
    };
    ctx.out.map(if full.is_some() { 9 } else { 10 });
    key(ctx, "length");
    ctx.out.int(s.len() as i64);
    key(ctx, "radix-tree-keys");
    ctx.out.int(s.node_count() as i64);
    key(ctx, "radix-tree-nodes");
    ctx.out.int(s.node_count() as i64 + 1);
    key(ctx, "last-generated-id");
    id_bulk(ctx, s.last_id);
    key(ctx, "max-deleted-entry-id");
    id_bulk(ctx, s.max_deleted_id);
    key(ctx, "entries-added");
    ctx.out.int(s.entries_added as i64);
    key(ctx, "recorded-first-entry-id");
    id_bulk(ctx, s.first_id());
    let Some(count) = full else {
        key(ctx, "groups");
        ctx.out.int(s.groups.len() as i64);
        let first = s.range(StreamId::MIN, StreamId::MAX, false, 1);
        let last = s.range(StreamId::MIN, StreamId::MAX, true, 1);
        key(ctx, "first-entry");
        entry(ctx, first.first().copied());
        key(ctx, "last-entry");
        entry(ctx, last.first().copied());
        return Ok(());
    };
    let count = count.max(0) as usize;
    key(ctx, "entries");
    let items = s.range(StreamId::MIN, StreamId::MAX, false, count);
    super::streams::reply_entries(ctx.out, &items);
    key(ctx, "groups");
    ctx.out.array(s.groups.len());
    for (name, g) in &s.groups {
        full_group(ctx, &s, name, g, count);
    }
    Ok(())
}

/// One group of XINFO STREAM FULL, pending lists cut to `count` (0: all).
fn full_group(ctx: &mut Ctx<'_>, s: &Stream, name: &[u8], g: &Group, count: usize) {
    let take = if count == 0 { usize::MAX } else { count };
    ctx.out.map(7);
    key(ctx, "name");
    ctx.out.bulk(name);
    key(ctx, "last-delivered-id");
    id_bulk(ctx, g.last_id);
    key(ctx, "entries-read");
    opt_int(ctx, (g.entries_read != -1).then_some(g.entries_read));
    key(ctx, "lag");
    opt_int(ctx, s.lag(g));
    key(ctx, "pel-count");
    ctx.out.int(g.pel.len() as i64);
    key(ctx, "pending");
    let rows: Vec<_> = g.pel.iter().take(take).collect();
    ctx.out.array(rows.len());
    for (id, p) in rows {
        ctx.out.array(4);
        id_bulk(ctx, *id);
        ctx.out.bulk(&p.consumer);
        ctx.out.int(p.delivered_ms);
        ctx.out.int(p.deliveries as i64);
    }
    key(ctx, "consumers");
    ctx.out.array(g.consumers.len());
    for (cname, c) in &g.consumers {
        ctx.out.map(4);
        key(ctx, "name");
        ctx.out.bulk(cname);
        key(ctx, "seen-time");
        ctx.out.int(c.seen_ms);
        key(ctx, "pel-count");
        ctx.out.int(c.pel.len() as i64);
        key(ctx, "pending");
        let ids: Vec<_> = c.pel.iter().take(take).collect();
        ctx.out.array(ids.len());
        for id in ids {
            let p = g.pel.get(id);
            ctx.out.array(3);
            id_bulk(ctx, *id);
            ctx.out.int(p.map_or(0, |p| p.delivered_ms));
            ctx.out.int(p.map_or(0, |p| p.deliveries as i64));
        }
    }
}

fn xinfo_groups(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let s = stream_arg(ctx, argv)?;
    ctx.out.array(s.groups.len());
    for (name, g) in &s.groups {
        ctx.out.map(6);
        key(ctx, "name");
        ctx.out.bulk(name);
        key(ctx, "consumers");
        ctx.out.int(g.consumers.len() as i64);
        key(ctx, "pending");
        ctx.out.int(g.pel.len() as i64);
        key(ctx, "last-delivered-id");
        id_bulk(ctx, g.last_id);
        key(ctx, "entries-read");
        opt_int(ctx, (g.entries_read != -1).then_some(g.entries_read));
        key(ctx, "lag");
        opt_int(ctx, s.lag(g));
    }
    Ok(())
}

fn xinfo_consumers(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let s = stream_arg(ctx, argv)?;
    let gname = argv.get(3);
    let Some(g) = s.groups.get(gname) else {
        return Err(format!(
            "NOGROUP No such consumer group '{}' for key name '{}'",
            String::from_utf8_lossy(gname),
            String::from_utf8_lossy(argv.get(2))
        )
        .into());
    };
    let now = ctx.now;
    ctx.out.array(g.consumers.len());
    for (name, c) in &g.consumers {
        ctx.out.map(3);
        key(ctx, "name");
        ctx.out.bulk(name);
        key(ctx, "pending");
        ctx.out.int(c.pel.len() as i64);
        key(ctx, "idle");
        ctx.out.int((now - c.seen_ms).max(0));
    }
    Ok(())
}
