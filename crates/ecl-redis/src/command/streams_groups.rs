//! Stream consumer groups: XGROUP CREATE [MKSTREAM] [ENTRIESREAD] / SETID / DESTROY /
//! CREATECONSUMER / DELCONSUMER, XREADGROUP (new entries with `>`, a consumer's history with
//! an ID, NOACK, COUNT, BLOCK), XACK and XPENDING (summary, and extended with IDLE and a
//! consumer).
//!
//! Place in the flow: registered beside `streams.rs`, which parses XREAD/XREADGROUP and
//! serves them; the groups, consumers and pending lists live in `db/stream.rs`.

use super::flags::*;
use super::streams::{parse_id_pub as parse_id, xreadgroup};
use super::{AclCategories, Argv, Cmd, CommandSpec, Ctx, Keys, Release::Redis, acl, container};
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
        .since(Redis(5, 0, 0))
        .group("stream")
        .doc("Destroys a consumer group."),
    Cmd::new("createconsumer", xgroup_createconsumer)
        .arity(5)
        .flags(&[WRITE, DENYOOM])
        .acl(&[W, acl::SLOW])
        .keys(K2)
        .since(Redis(6, 2, 0))
        .group("stream")
        .doc("Creates a consumer in a consumer group."),
    Cmd::new("delconsumer", xgroup_delconsumer)
        .arity(5)
        .flags(&[WRITE])
        .acl(&[W, acl::SLOW])
        .keys(K2)
        .since(Redis(5, 0, 0))
        .group("stream")
        .doc("Deletes a consumer from a consumer group."),
];

/// Consumer-group commands.
pub const COMMANDS: &[CommandSpec] = &[
    Cmd::new("xgroup", container).arity(-2).acl(&[acl::SLOW]).since(Redis(5, 0, 0)).group("stream").doc("A container for consumer groups commands.").subs(XGROUP),
    Cmd::new("xreadgroup", xreadgroup).arity(-7).flags(&[WRITE, BLOCKING, MOVABLE_KEYS]).acl(&[W, acl::SLOW, acl::BLOCKING]).keys(Keys::Custom(xreadgroup_keys)).since(Redis(5, 0, 0)).group("stream").doc("Returns new or historical messages from a stream for a consumer in a group. Blocks until a message is available otherwise."),
    Cmd::new("xack", xack).arity(-4).flags(&[WRITE, FAST]).acl(&[W, acl::FAST]).keys(K1).since(Redis(5, 0, 0)).group("stream").doc("Returns the number of messages that were successfully acknowledged by the consumer group member of a stream."),
    Cmd::new("xpending", xpending).arity(-3).flags(&[READONLY]).acl(&[R, acl::SLOW]).keys(K1).since(Redis(5, 0, 0)).group("stream").doc("Returns the information and entries from a stream consumer group's pending entries list."),
];

/// The stream at `key` for reading (WRONGTYPE for other types).
fn stream_at<'c>(ctx: &'c mut Ctx<'_>, key: &[u8]) -> Result<Option<&'c Stream>, CmdError> {
    let now = ctx.now;
    match ctx.eng.dbs[ctx.client.db].get(key, now).map(|e| &e.value) {
        None => Ok(None),
        Some(Value::Stream(s)) => Ok(Some(s)),
        Some(_) => Err(wrong_type()),
    }
}

/// Runs `f` on the stream at `key`.
fn with_stream<R>(ctx: &mut Ctx<'_>, key: &[u8], f: impl FnOnce(&mut Stream) -> R) -> Option<R> {
    let now = ctx.now;
    let mut v = ctx.eng.dbs[ctx.client.db].get_mut(key, now)?;
    match &mut *v {
        Value::Stream(s) => Some(f(s)),
        _ => None,
    }
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
    let found = stream_at(ctx, key)?.is_some_and(|s| s.groups.contains_key(g));
    let exists = stream_at(ctx, key)?.is_some();
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
    let last = stream_at(ctx, key)?.map(|s| s.last_id);
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
    let created = with_stream(ctx, key, |s| {
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
    let last = stream_at(ctx, key)?.map(|s| s.last_id).unwrap_or_default();
    let id = match argv.get(4) {
        b"$" => last,
        a => parse_id(a, 0, false)?,
    };
    let g = argv.get(3);
    with_stream(ctx, key, |s| {
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
    if stream_at(ctx, key)?.is_none() {
        return Err(missing_key());
    }
    let g = argv.get(3);
    let gone = with_stream(ctx, key, |s| s.groups.remove(g).is_some()).unwrap_or(false);
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
    let created = with_stream(ctx, key, |s| {
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
    let pending = with_stream(ctx, key, |s| {
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
    let acked = with_stream(ctx, key, |s| {
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
        return Err(format!(
            "NOGROUP No such key '{}' or consumer group '{}'",
            String::from_utf8_lossy(key),
            String::from_utf8_lossy(gname)
        )
        .into());
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
