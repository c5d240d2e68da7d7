//! Stream consumer groups: XGROUP CREATE `[MKSTREAM] [ENTRIESREAD]` / SETID / DESTROY /
//! CREATECONSUMER / DELCONSUMER, XREADGROUP (new entries with `>`, a consumer's history with
//! an ID, NOACK, COUNT, BLOCK), XACK, XPENDING (summary, and extended with IDLE and a
//! consumer), XCLAIM (IDLE/TIME/RETRYCOUNT/FORCE/JUSTID/LASTID) and XAUTOCLAIM.
//!
//! Place in the flow: registered beside `streams.rs`, which parses XREAD/XREADGROUP and
//! serves them; the groups, consumers and pending lists live in `db/stream.rs`.

use super::flags::*;
use super::streams::{parse_id_pub as parse_id, with_stream_meta, xreadgroup};
use super::{AclCategories, Argv, Cmd, CommandSpec, Ctx, Keys, Release::Redis, acl, container, ks};
use crate::config::notify;
use crate::db::stream::{Group, Stream, StreamId};
use crate::db::{Value, wrong_type};
use crate::errors::{self, CmdError, CmdResult};

const R: AclCategories = acl::READ.with(acl::STREAM);
const W: AclCategories = acl::WRITE.with(acl::STREAM);
const K1: Keys = Keys::Range(1, 1, 1);
const K2: Keys = Keys::Range(2, 2, 1);

fn xreadgroup_keys(a: &Argv<'_>) -> Vec<usize> {
    match (1..a.len()).find(|&i| a.is(i, "streams")) {
        Some(p) => (p + 1..p + 1 + (a.len() - p - 1) / 2).collect(),
        None => Vec::new(),
    }
}

const XGROUP: &[CommandSpec] = &[
    Cmd::new("create", xgroup_create)
        .arity(-5)
        .flags(&[WRITE, DENYOOM])
        .acl(&[W, acl::SLOW])
        .keys(K2)
        .ks(&[ks::RW | ks::INSERT])
        .since(Redis(5, 0, 0))
        .group("stream")
        .doc("Creates a consumer group."),
    Cmd::new("setid", xgroup_setid)
        .arity(-5)
        .flags(&[WRITE])
        .acl(&[W, acl::SLOW])
        .keys(K2)
        .since(Redis(5, 0, 0))
        .group("stream")
        .doc("Sets the last-delivered ID of a consumer group."),
    Cmd::new("destroy", xgroup_destroy)
        .arity(4)
        .flags(&[WRITE])
        .acl(&[W, acl::SLOW])
        .keys(K2)
        .ks(&[ks::RW | ks::DELETE])
        .since(Redis(5, 0, 0))
        .group("stream")
        .doc("Destroys a consumer group."),
    Cmd::new("createconsumer", xgroup_createconsumer)
        .arity(5)
        .flags(&[WRITE, DENYOOM])
        .acl(&[W, acl::SLOW])
        .keys(K2)
        .ks(&[ks::RW | ks::INSERT])
        .since(Redis(6, 2, 0))
        .group("stream")
        .doc("Creates a consumer in a consumer group."),
    Cmd::new("delconsumer", xgroup_delconsumer)
        .arity(5)
        .flags(&[WRITE])
        .acl(&[W, acl::SLOW])
        .keys(K2)
        .ks(&[ks::RW | ks::DELETE])
        .since(Redis(5, 0, 0))
        .group("stream")
        .doc("Deletes a consumer from a consumer group."),
    Cmd::new("help", xgroup_help)
        .arity(2)
        .flags(&[LOADING, STALE])
        .acl(&[acl::STREAM.with(acl::SLOW)])
        .since(Redis(5, 0, 0))
        .group("stream")
        .doc("Show helpful text about the different subcommands"),
];

/// Consumer-group commands.
pub const COMMANDS: &[CommandSpec] = &[
    Cmd::new("xgroup", container).arity(-2).acl(&[acl::SLOW]).since(Redis(5, 0, 0)).group("stream").doc("A container for consumer groups commands.").subs(XGROUP),
    Cmd::new("xreadgroup", xreadgroup).arity(-7).flags(&[WRITE, BLOCKING, MOVABLE_KEYS]).acl(&[W, acl::SLOW, acl::BLOCKING]).keys(Keys::Custom(xreadgroup_keys)).since(Redis(5, 0, 0)).group("stream").doc("Returns new or historical messages from a stream for a consumer in a group. Blocks until a message is available otherwise."),
    Cmd::new("xack", xack).arity(-4).flags(&[WRITE, FAST]).acl(&[W, acl::FAST]).keys(K1).since(Redis(5, 0, 0)).group("stream").doc("Returns the number of messages that were successfully acknowledged by the consumer group member of a stream."),
    Cmd::new("xclaim", xclaim).arity(-6).flags(&[WRITE, FAST]).acl(&[W, acl::FAST]).keys(K1).since(Redis(5, 0, 0)).group("stream").doc("Changes, or acquires, ownership of a message in a consumer group, as if the message was delivered a consumer group member."),
    Cmd::new("xautoclaim", xautoclaim).arity(-6).flags(&[WRITE, FAST]).acl(&[W, acl::FAST]).keys(K1).ks(&[ks::RW | ks::DELETE]).since(Redis(6, 2, 0)).group("stream").doc("Changes, or acquires, ownership of messages in a consumer group, as if the messages were delivered to as consumer group member."),
    Cmd::new("xpending", xpending).arity(-3).flags(&[READONLY]).acl(&[R, acl::SLOW]).keys(K1).since(Redis(5, 0, 0)).group("stream").doc("Returns the information and entries from a stream consumer group's pending entries list."),
];

fn xgroup_help(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    super::help::help(
        ctx,
        "XGROUP",
        &[
            "CREATE <key> <groupname> <id|$> [MKSTREAM] [ENTRIESREAD <entries_read>]",
            "    Create a consumer group reading after <id> ($: the last entry); MKSTREAM",
            "    creates an empty stream when <key> does not exist.",
            "CREATECONSUMER <key> <groupname> <consumer>",
            "    Add a consumer to a group.",
            "DELCONSUMER <key> <groupname> <consumer>",
            "    Remove a consumer and its pending entries from a group.",
            "DESTROY <key> <groupname>",
            "    Remove a consumer group.",
            "SETID <key> <groupname> <id|$> [ENTRIESREAD <entries_read>]",
            "    Move a group's last delivered id (and its entries-read counter).",
        ],
    );
    Ok(())
}

/// The stream at `key` for reading (WRONGTYPE for other types).
fn stream_at<'c>(ctx: &'c mut Ctx<'_>, key: &[u8]) -> Result<Option<&'c Stream>, CmdError> {
    stream_lookup(ctx, key, true)
}

/// The stream at `key`, a keyspace hit or miss counted when `counted` (a read lookup).
fn stream_lookup<'c>(
    ctx: &'c mut Ctx<'_>,
    key: &[u8],
    counted: bool,
) -> Result<Option<&'c Stream>, CmdError> {
    let now = ctx.now;
    match ctx.eng.dbs[ctx.client.db]
        .lookup_for(key, now, counted)
        .map(|e| &e.value)
    {
        None => Ok(None),
        Some(Value::Stream(s)) => Ok(Some(s)),
        Some(_) => Err(wrong_type()),
    }
}

/// [`stream_at`] for XGROUP, which redis-server looks up as a write: no keyspace hit or miss.
fn stream_for_group<'c>(ctx: &'c mut Ctx<'_>, key: &[u8]) -> Result<Option<&'c Stream>, CmdError> {
    stream_lookup(ctx, key, false)
}

/// The subcommand error Redis gives for options it does not know.
fn subcommand_error(argv: &Argv<'_>) -> CmdError {
    format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try XGROUP HELP.",
        String::from_utf8_lossy(argv.get(1))
    )
    .into()
}

/// `ENTRIESREAD n` (and for CREATE, `MKSTREAM`) from argument 5 on.
fn group_options(argv: &Argv<'_>, create: bool) -> Result<(bool, i64), CmdError> {
    let (mut mkstream, mut read, mut i) = (false, -1i64, 5);
    while i < argv.len() {
        if create && argv.is(i, "mkstream") {
            mkstream = true;
            i += 1;
        } else if argv.is(i, "entriesread") && i + 1 < argv.len() {
            read = argv.i64(i + 1)?;
            if read < -1 {
                return Err("ERR value for ENTRIESREAD must be positive or -1".into());
            }
            i += 2;
        } else {
            return Err(subcommand_error(argv));
        }
    }
    Ok((mkstream, read))
}

/// Looks up key and group for a subcommand that needs the group: NOGROUP when missing.
fn need_group(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> Result<(), CmdError> {
    let (key, g) = (argv.get(2), argv.get(3));
    let found = stream_for_group(ctx, key)?.is_some_and(|s| s.groups.contains_key(g));
    let exists = stream_for_group(ctx, key)?.is_some();
    if !exists {
        return Err(missing_key());
    }
    if !found {
        return Err(format!(
            "NOGROUP No such consumer group '{}' for key name '{}'",
            String::from_utf8_lossy(g),
            String::from_utf8_lossy(key)
        )
        .into());
    }
    Ok(())
}

fn missing_key() -> CmdError {
    "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.".into()
}

fn xgroup_create(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let (mkstream, read) = group_options(argv, true)?;
    if argv.len() > 8 {
        return Err(subcommand_error(argv));
    }
    let key = argv.get(2);
    let last = stream_for_group(ctx, key)?.map(|s| s.last_id);
    if last.is_none() && !mkstream {
        return Err(missing_key());
    }
    let id = match argv.get(4) {
        b"$" => last.unwrap_or_default(),
        a => parse_id(a, 0, true)?,
    };
    if last.is_none() {
        let now = ctx.now;
        ctx.db()
            .set(key, Value::Stream(Box::new(Stream::new())), now, false);
    }
    let name = argv.get(3);
    let created = with_stream_meta(ctx, key, |s| {
        if s.groups.contains_key(name) {
            return false;
        }
        let g = Group {
            last_id: id,
            entries_read: read,
            ..Group::default()
        };
        s.groups.insert(name.into(), g);
        true
    })
    .unwrap_or(false);
    if !created {
        return Err("BUSYGROUP Consumer Group name already exists".into());
    }
    ctx.out.ok();
    ctx.write(key)
        .notify(notify::STREAM, "xgroup-create")
        .dirty(1);
    Ok(())
}

fn xgroup_setid(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let (_, read) = group_options(argv, false)?;
    need_group(ctx, argv)?;
    if argv.len() != 5 && argv.len() != 7 {
        return Err(subcommand_error(argv));
    }
    let key = argv.get(2);
    let last = stream_for_group(ctx, key)?
        .map(|s| s.last_id)
        .unwrap_or_default();
    let id = match argv.get(4) {
        b"$" => last,
        a => parse_id(a, 0, false)?,
    };
    let g = argv.get(3);
    with_stream_meta(ctx, key, |s| {
        if let Some(g) = s.groups.get_mut(g) {
            g.last_id = id;
            g.entries_read = read;
        }
    });
    ctx.out.ok();
    ctx.write(key)
        .notify(notify::STREAM, "xgroup-setid")
        .dirty(1);
    Ok(())
}

fn xgroup_destroy(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let key = argv.get(2);
    if stream_for_group(ctx, key)?.is_none() {
        return Err(missing_key());
    }
    let g = argv.get(3);
    let gone = with_stream_meta(ctx, key, |s| s.groups.remove(g).is_some()).unwrap_or(false);
    ctx.out.int(i64::from(gone));
    if gone {
        // Wake XREADGROUP clients of the group: they answer NOGROUP.
        ctx.write(key)
            .notify(notify::STREAM, "xgroup-destroy")
            .dirty(1)
            .ready();
    }
    Ok(())
}

fn xgroup_createconsumer(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    need_group(ctx, argv)?;
    let (key, g, c) = (argv.get(2), argv.get(3), argv.get(4));
    let now = ctx.now;
    let created = with_stream_meta(ctx, key, |s| {
        let Some(g) = s.groups.get_mut(g) else {
            return false;
        };
        if g.consumers.contains_key(c) {
            return false;
        }
        g.consumers.entry(c.into()).or_default().seen_ms = now;
        true
    })
    .unwrap_or(false);
    if created {
        ctx.write(key)
            .notify(notify::STREAM, "xgroup-createconsumer")
            .dirty(1);
    }
    ctx.out.int(i64::from(created));
    Ok(())
}

fn xgroup_delconsumer(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    need_group(ctx, argv)?;
    let (key, g, c) = (argv.get(2), argv.get(3), argv.get(4));
    let pending = with_stream_meta(ctx, key, |s| {
        let g = s.groups.get_mut(g)?;
        let gone = g.consumers.remove(c)?;
        for id in &gone.pel {
            g.pel.remove(id);
        }
        Some(gone.pel.len())
    })
    .flatten();
    if pending.is_some() {
        ctx.write(key)
            .notify(notify::STREAM, "xgroup-delconsumer")
            .dirty(1);
    }
    ctx.out.int(pending.unwrap_or(0) as i64);
    Ok(())
}

fn xack(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let (key, g) = (argv.get(1), argv.get(2));
    let has = stream_at(ctx, key)?.is_some_and(|s| s.groups.contains_key(g));
    if !has {
        ctx.out.int(0);
        return Ok(());
    }
    let ids = argv
        .iter_from(3)
        .map(|a| parse_id(a, 0, true))
        .collect::<Result<Vec<_>, _>>()?;
    let acked = with_stream_meta(ctx, key, |s| {
        s.groups
            .get_mut(g)
            .map_or(0, |g| ids.iter().filter(|id| g.ack(**id)).count())
    })
    .unwrap_or(0);
    if acked > 0 {
        ctx.dirty(acked as u64);
    }
    ctx.out.int(acked as i64);
    Ok(())
}

/// XPENDING's extended form: (min idle, start, end, count, consumer).
type Extended<'a> = (i64, StreamId, StreamId, usize, Option<&'a [u8]>);

fn xpending_range<'a>(argv: &Argv<'a>) -> Result<Extended<'a>, CmdError> {
    let mut at = 3;
    let mut idle = 0;
    if argv.is(3, "idle") {
        idle = argv.i64(4)?;
        if argv.len() < 8 {
            return Err(errors::SYNTAX.into());
        }
        at += 2;
    }
    let count = argv.i64(at + 2)?.max(0) as usize;
    let start = super::streams::parse_bound_pub(argv.get(at), true)?;
    let end = super::streams::parse_bound_pub(argv.get(at + 1), false)?;
    let consumer = (at + 3 < argv.len()).then(|| argv.get(at + 3));
    Ok((idle, start, end, count, consumer))
}

fn xpending(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    if argv.len() != 3 && !(6..=9).contains(&argv.len()) {
        return Err(errors::SYNTAX.into());
    }
    let ext = if argv.len() >= 6 {
        Some(xpending_range(argv)?)
    } else {
        None
    };
    let (key, gname) = (argv.get(1), argv.get(2));
    let now = ctx.now;
    let Some(g) = stream_at(ctx, key)?.and_then(|s| s.groups.get(gname)) else {
        return Err(no_group(key, gname));
    };
    let g = g.clone();
    match ext {
        None => pending_summary(ctx, &g),
        Some((idle, start, end, count, consumer)) => {
            let ids: Vec<StreamId> = match consumer {
                Some(c) => match g.consumers.get(c) {
                    Some(c) => c.pel.iter().copied().collect(),
                    None => Vec::new(),
                },
                None => g.pel.keys().copied().collect(),
            };
            let rows: Vec<_> = ids
                .into_iter()
                .filter(|id| *id >= start && *id <= end)
                .filter_map(|id| g.pel.get(&id).map(|p| (id, p)))
                .filter(|(_, p)| idle == 0 || now - p.delivered_ms >= idle)
                .take(count)
                .collect();
            ctx.out.array(rows.len());
            for (id, p) in rows {
                ctx.out.array(4);
                ctx.out.bulk(id.text().as_bytes());
                ctx.out.bulk(&p.consumer);
                ctx.out.int((now - p.delivered_ms).max(0));
                ctx.out.int(p.deliveries as i64);
            }
        }
    }
    Ok(())
}

fn pending_summary(ctx: &mut Ctx<'_>, g: &Group) {
    ctx.out.array(4);
    ctx.out.int(g.pel.len() as i64);
    let (Some(first), Some(last)) = (g.pel.keys().next(), g.pel.keys().next_back()) else {
        ctx.out.null();
        ctx.out.null();
        ctx.out.null_array();
        return;
    };
    ctx.out.bulk(first.text().as_bytes());
    ctx.out.bulk(last.text().as_bytes());
    let busy: Vec<_> = g
        .consumers
        .iter()
        .filter(|(_, c)| !c.pel.is_empty())
        .collect();
    ctx.out.array(busy.len());
    for (name, c) in busy {
        ctx.out.array(2);
        ctx.out.bulk(name);
        ctx.out.bulk(c.pel.len().to_string().as_bytes());
    }
}

/// One XCLAIM / XAUTOCLAIM reply element: the ID alone (JUSTID) or the entry.
enum Claimed {
    Id(StreamId),
    Entry(StreamId, Vec<Vec<u8>>),
}

fn reply_claimed(ctx: &mut Ctx<'_>, items: &[Claimed]) {
    ctx.out.array(items.len());
    for c in items {
        match c {
            Claimed::Id(id) => ctx.out.bulk(id.text().as_bytes()),
            Claimed::Entry(id, fields) => {
                ctx.out.array(2);
                ctx.out.bulk(id.text().as_bytes());
                ctx.out.bulk_array(fields.iter().map(Vec::as_slice));
            }
        }
    }
}

/// The NOGROUP error of XCLAIM / XAUTOCLAIM / XPENDING.
fn no_group(key: &[u8], g: &[u8]) -> CmdError {
    format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(g)
    )
    .into()
}

/// XCLAIM's options after the IDs.
#[derive(Default)]
struct ClaimOpts {
    /// Delivery time to record (None: now).
    time: Option<i64>,
    retry: Option<i64>,
    force: bool,
    justid: bool,
    last_id: StreamId,
}

fn claim_opts(argv: &Argv<'_>, mut j: usize, now: i64) -> Result<ClaimOpts, CmdError> {
    let mut o = ClaimOpts::default();
    let int = |j: usize, what: &str| {
        crate::db::string::parse_i64(argv.get(j))
            .ok_or_else(|| CmdError::from(format!("ERR Invalid {what} option argument for XCLAIM")))
    };
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        if argv.is(j, "force") {
            o.force = true;
        } else if argv.is(j, "justid") {
            o.justid = true;
        } else if argv.is(j, "idle") && more > 0 {
            j += 1;
            o.time = Some(now - int(j, "IDLE")?);
        } else if argv.is(j, "time") && more > 0 {
            j += 1;
            o.time = Some(int(j, "TIME")?);
        } else if argv.is(j, "retrycount") && more > 0 {
            j += 1;
            o.retry = Some(int(j, "RETRYCOUNT")?);
        } else if argv.is(j, "lastid") && more > 0 {
            j += 1;
            o.last_id = parse_id(argv.get(j), 0, true)?;
        } else {
            return Err(format!(
                "ERR Unrecognized XCLAIM option '{}'",
                String::from_utf8_lossy(argv.get(j))
            )
            .into());
        }
        j += 1;
    }
    Ok(o)
}

/// Hands pending entry `id` to `consumer` (creating the consumer when needed); false when
/// the entry is not pending (and not forced) or not idle enough.
fn claim_one(
    g: &mut Group,
    id: StreamId,
    consumer: &[u8],
    min_idle: i64,
    now: i64,
    force: bool,
) -> bool {
    if force && !g.pel.contains_key(&id) {
        g.pel.insert(
            id,
            crate::db::stream::Pending {
                consumer: Default::default(),
                delivered_ms: now,
                deliveries: 0,
            },
        );
    }
    let Some(p) = g.pel.get(&id) else {
        return false;
    };
    let owned = !p.consumer.is_empty() || !force;
    if owned && min_idle > 0 && now - p.delivered_ms < min_idle {
        return false;
    }
    let old = p.consumer.clone();
    if &*old != consumer
        && let Some(c) = g.consumers.get_mut(&old)
    {
        c.pel.remove(&id);
    }
    g.consumers
        .entry(consumer.into())
        .or_default()
        .pel
        .insert(id);
    if let Some(p) = g.pel.get_mut(&id) {
        p.consumer = consumer.into();
    }
    true
}

fn xclaim(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let (key, gname, cname) = (argv.get(1), argv.get(2), argv.get(3));
    let has = stream_at(ctx, key)?.is_some_and(|s| s.groups.contains_key(gname));
    if !has {
        return Err(no_group(key, gname));
    }
    let min_idle = crate::db::string::parse_i64(argv.get(4))
        .ok_or(CmdError::from(
            "ERR Invalid min-idle-time argument for XCLAIM",
        ))?
        .max(0);
    let mut ids = Vec::new();
    let mut j = 5;
    while j < argv.len() {
        match parse_id(argv.get(j), 0, true) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let now = ctx.now;
    let o = claim_opts(argv, j, now)?;
    let when = o.time.filter(|t| (0..=now).contains(t)).unwrap_or(now);
    let (items, created) = with_stream_meta(ctx, key, |s| {
        let Some(mut g) = s.groups.remove(gname) else {
            return (Vec::new(), false);
        };
        let created = !g.consumers.contains_key(cname);
        if o.last_id > g.last_id {
            g.last_id = o.last_id;
        }
        let mut items = Vec::new();
        for id in ids {
            let Some(fields) = s.get(id).map(<[Vec<u8>]>::to_vec) else {
                // Gone from the stream: it leaves the pending lists too.
                g.ack(id);
                continue;
            };
            if !claim_one(&mut g, id, cname, min_idle, now, o.force) {
                continue;
            }
            if let Some(p) = g.pel.get_mut(&id) {
                p.delivered_ms = when;
                match o.retry {
                    Some(r) if r >= 0 => p.deliveries = r as u64,
                    _ if !o.justid => p.deliveries += 1,
                    _ => {}
                }
            }
            items.push(if o.justid {
                Claimed::Id(id)
            } else {
                Claimed::Entry(id, fields)
            });
        }
        let created = created && g.consumers.contains_key(cname);
        s.groups.insert(gname.into(), g);
        (items, created)
    })
    .unwrap_or((Vec::new(), false));
    if created {
        ctx.write(key)
            .notify(notify::STREAM, "xgroup-createconsumer");
    }
    ctx.dirty(1);
    reply_claimed(ctx, &items);
    Ok(())
}

/// XAUTOCLAIM's arguments: (min idle, start, count, justid).
fn autoclaim_args(argv: &Argv<'_>) -> Result<(i64, StreamId, usize, bool), CmdError> {
    let min_idle = crate::db::string::parse_i64(argv.get(4))
        .ok_or(CmdError::from(
            "ERR Invalid min-idle-time argument for XAUTOCLAIM",
        ))?
        .max(0);
    let start = super::streams::parse_bound_pub(argv.get(5), true)?;
    let (mut count, mut justid, mut j) = (100usize, false, 6);
    while j < argv.len() {
        if argv.is(j, "count") && j + 1 < argv.len() {
            count = crate::db::string::parse_i64(argv.get(j + 1))
                .filter(|c| (1..=576_460_752_303_423_487).contains(c))
                .ok_or(CmdError::from("ERR COUNT must be > 0"))? as usize;
            j += 1;
        } else if argv.is(j, "justid") {
            justid = true;
        } else {
            return Err(errors::SYNTAX.into());
        }
        j += 1;
    }
    Ok((min_idle, start, count, justid))
}

fn xautoclaim(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let (key, gname, cname) = (argv.get(1), argv.get(2), argv.get(3));
    let (min_idle, start, mut count, justid) = autoclaim_args(argv)?;
    let has = stream_at(ctx, key)?.is_some_and(|s| s.groups.contains_key(gname));
    if !has {
        return Err(no_group(key, gname));
    }
    let now = ctx.now;
    let out = with_stream_meta(ctx, key, |s| {
        let mut g = s.groups.remove(gname)?;
        let created = !g.consumers.contains_key(cname);
        let (mut items, mut deleted) = (Vec::new(), Vec::new());
        let mut attempts = count.saturating_mul(10);
        let mut last = None;
        let candidates: Vec<StreamId> = g.pel.range(start..).map(|(k, _)| *k).collect();
        for id in candidates {
            if attempts == 0 || count == 0 {
                break;
            }
            attempts -= 1;
            last = Some(id);
            let Some(fields) = s.get(id).map(<[Vec<u8>]>::to_vec) else {
                g.ack(id);
                deleted.push(id);
                count -= 1;
                continue;
            };
            if !claim_one(&mut g, id, cname, min_idle, now, false) {
                continue;
            }
            if let Some(p) = g.pel.get_mut(&id) {
                p.delivered_ms = now;
                if !justid {
                    p.deliveries += 1;
                }
            }
            items.push(if justid {
                Claimed::Id(id)
            } else {
                Claimed::Entry(id, fields)
            });
            count -= 1;
        }
        // The cursor: the first pending ID after the last one examined (0-0 at the end).
        let next = last
            .and_then(|l| l.incr())
            .and_then(|n| g.pel.range(n..).next().map(|(k, _)| *k))
            .unwrap_or_default();
        let created = created && g.consumers.contains_key(cname);
        s.groups.insert(gname.into(), g);
        Some((next, items, deleted, created))
    })
    .flatten();
    let Some((next, items, deleted, created)) = out else {
        return Err(no_group(key, gname));
    };
    if created {
        ctx.write(key)
            .notify(notify::STREAM, "xgroup-createconsumer");
    }
    ctx.dirty(1);
    ctx.out.array(3);
    ctx.out.bulk(next.text().as_bytes());
    reply_claimed(ctx, &items);
    ctx.out.array(deleted.len());
    for id in deleted {
        ctx.out.bulk(id.text().as_bytes());
    }
    Ok(())
}
