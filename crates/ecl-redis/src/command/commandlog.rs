//! COMMANDLOG GET / LEN / RESET (Valkey 8.1): three command logs with one shape. `slow` is
//! the slow log SLOWLOG already keeps (Valkey 8.1 documents SLOWLOG as its alternative
//! name); `large-request` and `large-reply` record commands whose request or reply is larger
//! than a threshold.
//!
//! Place in the flow: the dispatcher calls [`crate::engine::commandlog::record`] after each command on a release that
//! has the command ([`SINCE`]); the logs live in the engine (`engine::commandlog::LargeLogs`) and the handlers
//! here read them. Thresholds and lengths are the `commandlog-*` parameters (`config.rs`),
//! which exist on the same releases.

use super::flags::*;
use super::{AclCategories, Argv, Cmd, CommandSpec, Ctx, Release::Valkey, Since, acl, container};
use crate::engine::SlowEntry;
use crate::engine::commandlog::SizeLog;
use crate::errors::{self, CmdResult};

/// The releases having the command (and the two size logs).
pub const SINCE: Since = Since::from(Valkey(8, 1, 0));

const ADM: AclCategories = AclCategories::all_of(&[acl::ADMIN, acl::SLOW, acl::DANGEROUS]);

/// COMMANDLOG family table.
pub const COMMANDS: &[CommandSpec] = &[Cmd::new("commandlog", container)
    .arity(-2)
    .acl(&[acl::SLOW])
    .since(Valkey(8, 1, 0))
    .group("server")
    .doc("A container for command log commands.")
    .subs(SUBS)];

const SUBS: &[CommandSpec] = &[
    Cmd::new("get", commandlog_get)
        .arity(4)
        .flags(&[ADMIN, LOADING, STALE])
        .acl(&[ADM])
        .since(Valkey(8, 1, 0))
        .group("server")
        .doc("Returns the specified command log's entries."),
    Cmd::new("len", commandlog_len)
        .arity(3)
        .flags(&[ADMIN, LOADING, STALE])
        .acl(&[ADM])
        .since(Valkey(8, 1, 0))
        .group("server")
        .doc("Returns the number of entries in the specified type of command log."),
    Cmd::new("reset", commandlog_reset)
        .arity(3)
        .flags(&[ADMIN, LOADING, STALE])
        .acl(&[ADM])
        .since(Valkey(8, 1, 0))
        .group("server")
        .doc("Clears all entries from the specified type of command log."),
    Cmd::new("help", commandlog_help)
        .arity(2)
        .flags(&[LOADING, STALE])
        .acl(&[acl::SLOW])
        .since(Valkey(8, 1, 0))
        .group("server")
        .doc("Show helpful text about the different subcommands"),
];

/// Which log a COMMANDLOG call names.
enum Kind {
    Slow,
    Request,
    Reply,
}

fn kind(argv: &Argv<'_>, i: usize) -> Result<Kind, errors::CmdError> {
    if argv.is(i, "slow") {
        Ok(Kind::Slow)
    } else if argv.is(i, "large-request") {
        Ok(Kind::Request)
    } else if argv.is(i, "large-reply") {
        Ok(Kind::Reply)
    } else {
        Err("ERR type should be one of the following: slow, large-request, large-reply".into())
    }
}

fn commandlog_get(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let count = argv.i64(2)?;
    if count < -1 {
        return Err("ERR count should be greater than or equal to -1".into());
    }
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    let entries: Vec<SlowEntry> = match kind(argv, 3)? {
        Kind::Slow => ctx.eng.slowlog_entries(count),
        Kind::Request => take(&ctx.eng.commandlog.request, count),
        Kind::Reply => take(&ctx.eng.commandlog.reply, count),
    };
    ctx.out.array(entries.len());
    for e in entries {
        ctx.out.array(6);
        ctx.out.int(e.id as i64);
        ctx.out.int(e.time);
        ctx.out.int(e.usec as i64);
        ctx.out.bulk_array(e.args.iter().map(Vec::as_slice));
        ctx.out.bulk(e.addr.as_bytes());
        ctx.out.bulk(e.name.as_bytes());
    }
    Ok(())
}

fn take(log: &SizeLog, count: usize) -> Vec<SlowEntry> {
    log.entries.iter().take(count).cloned().collect()
}

fn commandlog_len(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let n = match kind(argv, 2)? {
        Kind::Slow => ctx.eng.slowlog_len(),
        Kind::Request => ctx.eng.commandlog.request.entries.len(),
        Kind::Reply => ctx.eng.commandlog.reply.entries.len(),
    };
    ctx.out.int(n as i64);
    Ok(())
}

fn commandlog_reset(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    match kind(argv, 2)? {
        Kind::Slow => ctx.eng.slowlog_reset(),
        Kind::Request => ctx.eng.commandlog.request.entries.clear(),
        Kind::Reply => ctx.eng.commandlog.reply.entries.clear(),
    }
    ctx.out.ok();
    Ok(())
}

fn commandlog_help(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    super::help::help(
        ctx,
        "COMMANDLOG",
        &[
            "GET <count> <type>",
            "    The newest <count> entries of the <type> log (-1: all).",
            "LEN <type>",
            "    Number of entries in the <type> log.",
            "RESET <type>",
            "    Empty the <type> log.",
            "<type> is slow, large-request or large-reply.",
        ],
    );
    Ok(())
}
