//! Scripting commands: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT LOAD/EXISTS/FLUSH/KILL,
//! plus Valkey 8.0's SCRIPT SHOW.
//!
//! Place in the flow: the dispatcher calls these handlers under the node lock; they check the
//! arguments as Redis does (numkeys, NOSCRIPT, shebang flags) and hand the script to
//! [`super::script_run::run_script`], which runs it in the node's Lua state. The EVAL itself is
//! never replicated: the script's write commands are (see the scripting module).

use super::flags::*;
use super::script_run::{self, Invocation};
use super::{Argv, Cmd, CommandSpec, Ctx, Keys, Release::Redis, Release::Valkey, acl, container};
use crate::errors::{CmdError, CmdResult};
pub(super) use crate::scripting::lua_version_of;
use crate::scripting::{self, NOSCRIPT_MSG};

const SCRIPT_ACL: &[super::AclCategories] = &[acl::SLOW, acl::SCRIPTING];

/// The shape every command that runs a script or function shares (EVAL, EVALSHA, FCALL and
/// their `_RO` forms), as Redis 7.0 declares them: keys after numkeys, `@slow @scripting`; the
/// read-only forms are READONLY where the others may replicate. Callers add release and doc.
pub(super) const fn script_runner(
    name: &'static str,
    handler: super::Handler,
    read_only: bool,
) -> CommandSpec {
    let flags: &[super::Flags] = if read_only {
        &[
            NOSCRIPT,
            SKIP_MONITOR,
            STALE,
            READONLY,
            NO_MANDATORY_KEYS,
            MOVABLE_KEYS,
        ]
    } else {
        &[
            NOSCRIPT,
            SKIP_MONITOR,
            MAY_REPLICATE,
            STALE,
            NO_MANDATORY_KEYS,
            MOVABLE_KEYS,
        ]
    };
    Cmd::new(name, handler)
        .arity(-3)
        .flags(flags)
        .acl(SCRIPT_ACL)
        .keys(Keys::Custom(eval_keys))
        .legacy(0, 0, 0)
        .group("scripting")
}

/// Scripting family table.
pub const COMMANDS: &[CommandSpec] = &[
    script_runner("eval", eval, false)
        .since(Redis(2, 6, 0))
        .doc("Executes a server-side Lua script."),
    script_runner("evalsha", evalsha, false)
        .since(Redis(2, 6, 0))
        .doc("Executes a server-side Lua script by SHA1 digest."),
    script_runner("eval_ro", eval_ro, true)
        .since(Redis(7, 0, 0))
        .doc("Executes a read-only server-side Lua script."),
    script_runner("evalsha_ro", evalsha_ro, true)
        .since(Redis(7, 0, 0))
        .doc("Executes a read-only server-side Lua script by SHA1 digest."),
    Cmd::new("script", container)
        .arity(-2)
        .acl(&[acl::SLOW])
        .since(Redis(2, 6, 0))
        .group("scripting")
        .doc("A container for Lua scripts management commands.")
        .subs(SCRIPT_SUBS),
];

const SCRIPT_SUBS: &[CommandSpec] = &[
    Cmd::new("load", script_load)
        .arity(3)
        .flags(&[NOSCRIPT, STALE])
        .acl(SCRIPT_ACL)
        .since(Redis(2, 6, 0))
        .group("scripting")
        .doc("Loads a server-side Lua script to the script cache."),
    Cmd::new("exists", script_exists)
        .arity(-3)
        .flags(&[NOSCRIPT])
        .acl(SCRIPT_ACL)
        .since(Redis(2, 6, 0))
        .group("scripting")
        .doc("Determines whether server-side Lua scripts exist in the script cache."),
    Cmd::new("flush", script_flush)
        .arity(-2)
        .flags(&[NOSCRIPT])
        .acl(SCRIPT_ACL)
        .since(Redis(2, 6, 0))
        .group("scripting")
        .doc("Removes all server-side Lua scripts from the script cache."),
    Cmd::new("kill", script_kill)
        .arity(2)
        .flags(&[NOSCRIPT, ALLOW_BUSY])
        .acl(SCRIPT_ACL)
        .since(Redis(2, 6, 0))
        .group("scripting")
        .doc("Terminates a server-side Lua script during execution."),
    Cmd::new("help", script_help)
        .arity(2)
        .flags(&[LOADING, STALE])
        .acl(SCRIPT_ACL)
        .since(Redis(5, 0, 0))
        .group("scripting")
        .doc("Returns helpful text about the different subcommands."),
    Cmd::new("show", script_show)
        .arity(3)
        .flags(&[NOSCRIPT])
        .acl(SCRIPT_ACL)
        .since(Valkey(8, 0, 0))
        .group("scripting")
        .doc("Shows the original source code of a cached script."),
];

/// Key positions of EVAL-style commands: `numkeys` keys after the script.
pub(super) fn eval_keys(argv: &Argv<'_>) -> Vec<usize> {
    let n = std::str::from_utf8(argv.get(2))
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(0);
    if n > argv.len().saturating_sub(3) {
        return Vec::new();
    }
    (3..3 + n).collect()
}

fn eval(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    eval_generic(ctx, argv, false, false)
}

fn evalsha(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    eval_generic(ctx, argv, true, false)
}

fn eval_ro(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    eval_generic(ctx, argv, false, true)
}

fn evalsha_ro(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    eval_generic(ctx, argv, true, true)
}

/// `REDIS_VERSION` and `REDIS_VERSION_NUM` of the node's Redis-compatible release.
pub(super) fn lua_version(ctx: &Ctx<'_>) -> (String, u32) {
    lua_version_of(ctx.version())
}

fn numkeys(argv: &Argv<'_>) -> Result<usize, CmdError> {
    let n = std::str::from_utf8(argv.get(2))
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or(CmdError::from(crate::errors::NOT_INTEGER))?;
    if n < 0 {
        return Err("ERR Number of keys can't be negative".into());
    }
    if n as usize > argv.len() - 3 {
        return Err("ERR Number of keys can't be greater than number of args".into());
    }
    Ok(n as usize)
}

fn eval_generic(ctx: &mut Ctx<'_>, argv: &Argv<'_>, by_sha: bool, ro: bool) -> CmdResult {
    // The table marks EVAL `skip_monitor` (as Redis does) because MONITOR must see it before
    // the script's own commands, and only once it passed the generic checks.
    if !ctx.eng.clients.monitors.is_empty() && !ctx.client.detached {
        super::dispatch::feed_monitors(ctx.eng, ctx.client, argv, ctx.now);
    }
    // A digest that is not 40 characters long cannot name a script: NOSCRIPT before numkeys.
    if by_sha && argv.get(1).len() != 40 {
        return Err(NOSCRIPT_MSG.into());
    }
    let n = numkeys(argv)?;
    // EVALSHA: the digest in lowercase, without an allocation (it is 40 bytes long).
    let mut digest = [0u8; 40];
    let (sha, flags, index) = if by_sha {
        digest.copy_from_slice(argv.get(1));
        digest.make_ascii_lowercase();
        let sha = std::str::from_utf8(&digest).map_err(|_| CmdError(NOSCRIPT_MSG.into()))?;
        let Some((flags, index)) = ctx.eng.scripts.lookup(sha) else {
            return Err(NOSCRIPT_MSG.into());
        };
        (std::borrow::Cow::Borrowed(sha), flags, Some(index))
    } else {
        // The shebang is read before the script is cached: a refused script is not cached.
        let flags = scripting::shebang_flags(argv.get(1)).map_err(|e| CmdError(e.into()))?;
        (std::borrow::Cow::Owned(String::new()), flags, None)
    };
    if flags.no_cluster && ctx.eng.info.cluster {
        return Err("ERR Can not run script on cluster, 'no-cluster' flag is set.".into());
    }
    let read_only = ro || flags.no_writes;
    // A script that declares its flags and may write is refused by a replica up front.
    if flags.shebang && !read_only && ctx.eng.repl.is_replica() && !ctx.client.master {
        return Err(crate::errors::READONLY_REPLICA.into());
    }
    // A script that declares its flags may write unless it says otherwise, so over the memory
    // limit it is refused up front (Redis' rule), unless it declares `allow-oom`.
    if flags.shebang && !flags.allow_oom && !read_only && over_memory(ctx) {
        return Err(crate::errors::OOM.into());
    }
    // Likewise a primary short of good replicas (`min-replicas-to-write`) refuses it.
    if flags.shebang && !read_only && !ctx.client.master && ctx.eng.too_few_good_replicas(ctx.now) {
        return Err(crate::errors::NOREPLICAS.into());
    }
    let (sha, index) = match index {
        Some(index) => (sha, index),
        None => {
            let sha = scripting::sha1hex(argv.get(1));
            let sha = if ctx.eng.scripts.exists(&sha) {
                sha
            } else {
                load_script(ctx, argv.get(1))?
            };
            let Some((_, index)) = ctx.eng.scripts.lookup(&sha) else {
                return Err(NOSCRIPT_MSG.into());
            };
            (std::borrow::Cow::Owned(sha), index)
        }
    };
    // The script's writes go to replicas (as MULTI/EXEC), the EVAL itself never.
    ctx.propagate(Vec::new());
    let inv = Invocation {
        sha: &sha,
        argv,
        nkeys: n,
        read_only,
        cross_slot: flags.cross_slot || !flags.shebang,
    };
    // `allow-oom`: the script's commands run as CLIENT NO-EVICT ones do, past the limit.
    let saved = ctx.client.allow_oom;
    ctx.client.allow_oom |= flags.allow_oom;
    let res = run_off_worker(|| script_run::run_script(ctx.eng, ctx.client, ctx.out, index, &inv));
    ctx.client.allow_oom = saved;
    script_run::outcome(ctx, res)
}

/// Compiles and caches an EVAL body the cache does not hold yet; returns its SHA-1.
fn load_script(ctx: &mut Ctx<'_>, body: &[u8]) -> Result<String, CmdError> {
    let (ver, num) = lua_version(ctx);
    ctx.eng
        .scripts
        .load(body, &ver, num)
        .map_err(|e| CmdError(e.into()))
}

/// Whether the node is over `maxmemory` even after eviction (primaries only, as for commands).
pub(super) fn over_memory(ctx: &mut Ctx<'_>) -> bool {
    let now = ctx.now;
    ctx.eng.cfg.maxmemory > 0 && !ctx.eng.repl.is_replica() && !ctx.eng.evict_if_needed(now)
}

fn script_load(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let (ver, num) = lua_version(ctx);
    let sha = ctx
        .eng
        .scripts
        .load(argv.get(2), &ver, num)
        .map_err(|e| CmdError(e.into()))?;
    ctx.out.bulk(sha.as_bytes());
    Ok(())
}

fn script_exists(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    ctx.out.array(argv.len() - 2);
    for sha in argv.iter_from(2) {
        let known = ctx.eng.scripts.exists(&String::from_utf8_lossy(sha));
        ctx.out.int(i64::from(known));
    }
    Ok(())
}

/// SCRIPT SHOW: the cached script's source as it was loaded, for debugging a SHA-1 seen in
/// MONITOR or the slow log.
fn script_show(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let sha = String::from_utf8_lossy(argv.get(2));
    match ctx.eng.scripts.body(&sha) {
        Some(body) => {
            ctx.out.bulk(body);
            Ok(())
        }
        None => Err("NOSCRIPT No matching script.".into()),
    }
}

fn script_flush(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    if argv.len() > 3 || (argv.len() == 3 && !argv.is(2, "sync") && !argv.is(2, "async")) {
        return Err("ERR SCRIPT FLUSH only support SYNC|ASYNC option".into());
    }
    ctx.eng.scripts.flush();
    ctx.out.ok();
    Ok(())
}

fn script_kill(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    kill_running(ctx, false)
}

/// SCRIPT KILL (`function` false) and FUNCTION KILL: a script runs under the node lock, so
/// these reach one only as a visit between the busy script's steps (`engine::visits`);
/// otherwise none is running. Each stops only its own kind ([`ScriptWatch::request_kill`]).
///
/// [`ScriptWatch::request_kill`]: crate::scripting::ScriptWatch::request_kill
pub(super) fn kill_running(ctx: &mut Ctx<'_>, function: bool) -> CmdResult {
    if !ctx.eng.scripts.visiting {
        return Err("NOTBUSY No scripts in execution right now.".into());
    }
    ctx.eng.scripts.watch.request_kill(function)?;
    ctx.out.ok();
    Ok(())
}

fn script_help(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    super::help::help(
        ctx,
        "SCRIPT",
        &[
            "EXISTS <sha1> [<sha1> ...]",
            "    For each SHA-1, 1 if that script is cached, else 0.",
            "FLUSH [ASYNC|SYNC]",
            "    Forget every cached script (functions are kept).",
            "KILL",
            "    Stop the running script (only if it has not written).",
            "LOAD <script>",
            "    Cache a script without running it; returns its SHA-1.",
        ],
    );
    Ok(())
}

/// Runs a script or function in place. A script costs no thread hand-off up front (that
/// hand-off cost more than a short script itself); one that runs long leaves the runtime's
/// worker from its kill check instead (`scripting::leave_worker`).
pub(super) fn run_off_worker<T>(f: impl FnOnce() -> T) -> T {
    f()
}
