//! Redis 7 functions commands: FCALL, FCALL_RO and FUNCTION LOAD/LIST/DELETE/FLUSH/DUMP/
//! RESTORE/STATS/KILL/HELP.
//!
//! Place in the flow: the dispatcher calls these handlers under the node lock. The library
//! registry is [`crate::scripting::functions`]; FCALL runs a function through the same runner
//! as EVAL ([`super::script_run::run_function`]), so its writes reach replicas as the script's
//! MULTI/EXEC unit (never the FCALL), while the FUNCTION commands that change libraries are
//! write commands the dispatcher replicates verbatim.

use super::flags::*;
use super::script_run::{self, Invocation};
use super::scripting::{lua_version, over_memory, run_off_worker, script_runner};
use super::{Argv, Cmd, CommandSpec, Ctx, Release::Redis, acl, container};
use crate::errors::{CmdError, CmdResult};
use crate::resp::Reply;
use crate::scripting::RunningFunction;
use crate::scripting::functions::{RestorePolicy, flag_names};

const SCRIPT_ACL: &[super::AclCategories] = &[acl::SLOW, acl::SCRIPTING];
const WRITE_ACL: &[super::AclCategories] = &[acl::WRITE, acl::SLOW, acl::SCRIPTING];

/// Functions family table.
pub const COMMANDS: &[CommandSpec] = &[
    script_runner("fcall", fcall, false)
        .since(Redis(7, 0, 0))
        .doc("Invokes a function."),
    script_runner("fcall_ro", fcall_ro, true)
        .since(Redis(7, 0, 0))
        .doc("Invokes a read-only function."),
    Cmd::new("function", container)
        .arity(-2)
        .acl(&[acl::SLOW])
        .since(Redis(7, 0, 0))
        .group("scripting")
        .doc("A container for function commands.")
        .subs(FUNCTION_SUBS),
];

const fn sub(name: &'static str, h: super::Handler, arity: i32, doc: &'static str) -> CommandSpec {
    Cmd::new(name, h)
        .arity(arity)
        .acl(SCRIPT_ACL)
        .since(Redis(7, 0, 0))
        .group("scripting")
        .doc(doc)
}

const FUNCTION_SUBS: &[CommandSpec] = &[
    sub("load", load, -3, "Creates a library.")
        .flags(&[WRITE, DENYOOM, NOSCRIPT])
        .acl(WRITE_ACL),
    sub("delete", delete, 3, "Deletes a library and its functions.")
        .flags(&[WRITE, NOSCRIPT])
        .acl(WRITE_ACL),
    sub("flush", flush, -2, "Deletes all libraries and functions.")
        .flags(&[WRITE, NOSCRIPT])
        .acl(WRITE_ACL),
    sub(
        "restore",
        restore,
        -3,
        "Restores all libraries from a payload.",
    )
    .flags(&[WRITE, DENYOOM, NOSCRIPT])
    .acl(WRITE_ACL),
    sub("list", list, -2, "Returns information about all libraries.").flags(&[NOSCRIPT]),
    sub(
        "dump",
        dump,
        2,
        "Dumps all libraries into a serialized binary payload.",
    )
    .flags(&[NOSCRIPT]),
    sub(
        "stats",
        stats,
        2,
        "Returns information about a function during execution.",
    )
    .flags(&[NOSCRIPT, ALLOW_BUSY]),
    sub("kill", kill, 2, "Terminates a function during execution.").flags(&[NOSCRIPT, ALLOW_BUSY]),
    sub(
        "help",
        help,
        2,
        "Returns helpful text about the different subcommands.",
    )
    .flags(&[LOADING, STALE]),
];

fn fcall(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    fcall_generic(ctx, argv, false)
}

fn fcall_ro(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    fcall_generic(ctx, argv, true)
}

/// FCALL's `numkeys`, with Redis' words for a bad one.
fn numkeys(argv: &Argv<'_>) -> Result<usize, CmdError> {
    let n = std::str::from_utf8(argv.get(2))
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or(CmdError::from("ERR Bad number of keys provided"))?;
    if n < 0 {
        return Err("ERR Number of keys can't be negative".into());
    }
    if n as usize > argv.len() - 3 {
        return Err("ERR Number of keys can't be greater than number of args".into());
    }
    Ok(n as usize)
}

fn fcall_generic(ctx: &mut Ctx<'_>, argv: &Argv<'_>, ro: bool) -> CmdResult {
    // MONITOR sees the FCALL (even a refused one) before the function's commands.
    if !ctx.eng.clients.monitors.is_empty() && !ctx.client.detached {
        super::dispatch::feed_monitors(ctx.eng, ctx.client, argv, ctx.now);
    }
    let wanted = String::from_utf8_lossy(argv.get(1));
    let Some((func, flags, name)) = ctx.eng.scripts.functions.get(&wanted) else {
        return Err("ERR Function not found".into());
    };
    let n = numkeys(argv)?;
    if flags.no_cluster && ctx.eng.info.cluster {
        return Err("ERR Can not run script on cluster, 'no-cluster' flag is set.".into());
    }
    if !flags.no_writes {
        if ctx.eng.repl.is_replica() && !ctx.client.master {
            return Err(crate::errors::READONLY_REPLICA.into());
        }
        if !flags.allow_oom && over_memory(ctx) {
            return Err(crate::errors::OOM.into());
        }
        if !ctx.client.master && ctx.eng.too_few_good_replicas(ctx.now) {
            return Err(crate::errors::NOREPLICAS.into());
        }
        if ro {
            return Err("ERR Can not execute a script with write flag using *_ro command.".into());
        }
    }
    // The function's writes go to replicas (as MULTI/EXEC), the FCALL itself never.
    ctx.propagate(Vec::new());
    let counts = ctx.eng.scripts.functions.counts();
    ctx.eng.scripts.watch.set_running(Some(RunningFunction {
        name: name.clone(),
        argv: argv.iter_from(0).map(<[u8]>::to_vec).collect(),
        started_ms: crate::engine::wall_ms(),
        counts,
    }));
    let inv = Invocation {
        sha: &name,
        argv,
        nkeys: n,
        read_only: flags.no_writes,
        cross_slot: flags.cross_slot,
    };
    let saved = ctx.client.allow_oom;
    ctx.client.allow_oom |= flags.allow_oom;
    let res = run_off_worker(|| script_run::run_function(ctx.eng, ctx.client, ctx.out, func, &inv));
    ctx.client.allow_oom = saved;
    ctx.eng.scripts.watch.set_running(None);
    script_run::outcome(ctx, res)
}

fn load(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let mut replace = false;
    for i in 2..argv.len() - 1 {
        if argv.is(i, "replace") {
            replace = true;
        } else {
            let opt = String::from_utf8_lossy(argv.get(i));
            return Err(CmdError(format!("ERR Unknown option given: {opt}").into()));
        }
    }
    let (ver, num) = lua_version(ctx);
    let code = argv.get(argv.len() - 1);
    let name = ctx
        .eng
        .scripts
        .functions
        .load(code, replace, (&ver, num))
        .map_err(|e| CmdError(e.into()))?;
    ctx.dirty(1);
    ctx.out.bulk(name.as_bytes());
    Ok(())
}

fn delete(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let name = String::from_utf8_lossy(argv.get(2));
    ctx.eng
        .scripts
        .functions
        .delete(&name)
        .map_err(|e| CmdError(e.into()))?;
    ctx.dirty(1);
    ctx.out.ok();
    Ok(())
}

/// Redis' reply to a subcommand given too many arguments (named as the client typed it).
fn syntax_error(argv: &Argv<'_>) -> CmdError {
    let sub = String::from_utf8_lossy(argv.get(1));
    CmdError(
        format!(
            "ERR unknown subcommand or wrong number of arguments for '{sub}'. Try FUNCTION HELP."
        )
        .into(),
    )
}

fn flush(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    if argv.len() > 3 {
        return Err(syntax_error(argv));
    }
    if argv.len() == 3 && !argv.is(2, "sync") && !argv.is(2, "async") {
        return Err("ERR FUNCTION FLUSH only supports SYNC|ASYNC option".into());
    }
    ctx.eng.scripts.functions.flush();
    ctx.dirty(1);
    ctx.out.ok();
    Ok(())
}

fn list(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let (mut with_code, mut pattern): (bool, Option<&[u8]>) = (false, None);
    let mut i = 2;
    while i < argv.len() {
        if !with_code && argv.is(i, "withcode") {
            with_code = true;
        } else if pattern.is_none() && argv.is(i, "libraryname") {
            if i + 1 >= argv.len() {
                return Err("ERR library name argument was not given".into());
            }
            i += 1;
            pattern = Some(argv.get(i));
        } else {
            let arg = String::from_utf8_lossy(argv.get(i));
            return Err(CmdError(format!("ERR Unknown argument {arg}").into()));
        }
        i += 1;
    }
    let libs: Vec<_> = ctx
        .eng
        .scripts
        .functions
        .libraries()
        .filter(|l| pattern.is_none_or(|p| crate::glob::glob_match_nocase(p, l.name.as_bytes())))
        .collect();
    let out = &mut *ctx.out;
    out.array(libs.len());
    for lib in libs {
        out.map(if with_code { 4 } else { 3 });
        out.bulk(b"library_name");
        out.bulk(lib.name.as_bytes());
        out.bulk(b"engine");
        out.bulk(b"LUA");
        out.bulk(b"functions");
        out.array(lib.functions.len());
        for f in &lib.functions {
            out.map(3);
            out.bulk(b"name");
            out.bulk(f.name.as_bytes());
            out.bulk(b"description");
            match &f.description {
                Some(d) => out.bulk(d),
                None => out.null(),
            }
            out.bulk(b"flags");
            let names = flag_names(&f.flags);
            out.set(names.len());
            for n in names {
                out.simple(n);
            }
        }
        if with_code {
            out.bulk(b"library_code");
            out.bulk(&lib.code);
        }
    }
    Ok(())
}

fn dump(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    let codes = ctx.eng.scripts.functions.codes();
    let payload = crate::rdb::functions::dump_payload(&codes, ctx.version());
    ctx.out.bulk(&payload);
    Ok(())
}

fn restore(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let policy = match argv.len() {
        3 => RestorePolicy::Append,
        4 if argv.is(3, "append") => RestorePolicy::Append,
        4 if argv.is(3, "replace") => RestorePolicy::Replace,
        4 if argv.is(3, "flush") => RestorePolicy::Flush,
        4 => {
            return Err(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."
                    .into(),
            );
        }
        _ => return Err(syntax_error(argv)),
    };
    let codes = crate::rdb::functions::read_payload(argv.get(2), ctx.version())?;
    let (ver, num) = lua_version(ctx);
    ctx.eng
        .scripts
        .functions
        .restore(&codes, policy, (&ver, num))
        .map_err(|e| CmdError(e.into()))?;
    ctx.dirty(1);
    ctx.out.ok();
    Ok(())
}

fn stats(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    // A running script holds the node lock: this command sees one only as a visit between
    // its steps (`engine::visits`), where an EVAL script makes it BUSY, as in Redis.
    if ctx.eng.scripts.visiting {
        let watch = &ctx.eng.scripts.watch;
        let Some(r) = watch.running_function() else {
            return Err(watch.busy_error().into());
        };
        stats_reply(ctx.out, Some(&r), r.counts);
        return Ok(());
    }
    let counts = ctx.eng.scripts.functions.counts();
    stats_reply(ctx.out, None, counts);
    Ok(())
}

/// FUNCTION STATS: the running function (if any) and the Lua engine's library and function
/// counts.
pub fn stats_reply(out: &mut Reply, running: Option<&RunningFunction>, counts: (usize, usize)) {
    out.map(2);
    out.bulk(b"running_script");
    match running {
        None => out.null(),
        Some(r) => {
            out.map(3);
            out.bulk(b"name");
            out.bulk(r.name.as_bytes());
            out.bulk(b"command");
            out.bulk_array(r.argv.iter().map(Vec::as_slice));
            out.bulk(b"duration_ms");
            out.int((crate::engine::wall_ms() - r.started_ms).max(0));
        }
    }
    out.bulk(b"engines");
    out.map(1);
    out.bulk(b"LUA");
    out.map(2);
    out.bulk(b"libraries_count");
    out.int(counts.0 as i64);
    out.bulk(b"functions_count");
    out.int(counts.1 as i64);
}

fn kill(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    super::scripting::kill_running(ctx, true)
}

fn help(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    super::help::help(
        ctx,
        "FUNCTION",
        &[
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Load a library (`#!lua name=<library>` first line); REPLACE overwrites one of the same name.",
            "DELETE <LIBRARY NAME>",
            "    Remove a library and its functions.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Libraries (those whose name matches PATTERN), their engine, functions and, with WITHCODE, code.",
            "STATS",
            "    The function running now (name, command, duration in ms) and the engines' counts.",
            "KILL",
            "    Stop the running function (only if it has not written).",
            "FLUSH [ASYNC|SYNC]",
            "    Remove every library.",
            "DUMP",
            "    A serialized payload of every library, for FUNCTION RESTORE.",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "    Load the libraries of a payload: FLUSH drops the current ones first, APPEND (the",
            "    default) refuses a library that exists, REPLACE replaces it.",
        ],
    );
    Ok(())
}
