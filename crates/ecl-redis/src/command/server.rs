//! Server commands: DBSIZE, FLUSHDB, FLUSHALL, SWAPDB, TIME, LASTSAVE, SAVE/BGSAVE, CONFIG,
//! SLOWLOG, MONITOR, LATENCY, MEMORY, LOLWUT (INFO lives in `info.rs`, DEBUG in `debug.rs`).
//!
//! Place in the flow: handlers over the whole node state ([`crate::engine::Engine`]).

use super::flags::*;
use super::ks;
use super::{
    AclCategories, Argv, Cmd, CommandSpec, Ctx, Keys, Release, Release::Redis, Since, acl,
    container,
};
use crate::errors::{self, CmdError, CmdResult};

const ADM: AclCategories = AclCategories::all_of(&[acl::ADMIN, acl::SLOW, acl::DANGEROUS]);

/// Server family table.
pub const COMMANDS: &[CommandSpec] = &[
    Cmd::new("dbsize", dbsize)
        .arity(1)
        .flags(&[READONLY, FAST])
        .acl(&[acl::KEYSPACE, acl::READ, acl::FAST])
        .since(Redis(1, 0, 0))
        .group("server")
        .doc("Returns the number of keys in the database."),
    Cmd::new("flushdb", flushdb)
        .arity(-1)
        .flags(&[WRITE])
        .acl(&[acl::KEYSPACE, acl::WRITE, acl::SLOW, acl::DANGEROUS])
        .since(Redis(1, 0, 0))
        .group("server")
        .doc("Remove all keys from the current database."),
    Cmd::new("flushall", flushall)
        .arity(-1)
        .flags(&[WRITE])
        .acl(&[acl::KEYSPACE, acl::WRITE, acl::SLOW, acl::DANGEROUS])
        .since(Redis(1, 0, 0))
        .group("server")
        .doc("Removes all keys from all databases."),
    Cmd::new("swapdb", swapdb)
        .arity(3)
        .flags(&[WRITE, FAST])
        .acl(&[acl::KEYSPACE, acl::WRITE, acl::FAST, acl::DANGEROUS])
        .since(Redis(4, 0, 0))
        .group("server")
        .doc("Swaps two Redis databases."),
    Cmd::new("time", time)
        .arity(1)
        .flags(&[LOADING, STALE, FAST])
        .acl(&[acl::FAST])
        .since(Redis(2, 6, 0))
        .group("server")
        .doc("Returns the server time."),
    Cmd::new("lastsave", lastsave)
        .arity(1)
        .flags(&[LOADING, STALE, FAST])
        .acl(&[acl::FAST, acl::ADMIN, acl::DANGEROUS])
        .since(Redis(1, 0, 0))
        .group("server")
        .doc("Returns the Unix timestamp of the last successful save to disk."),
    Cmd::new("save", save)
        .arity(1)
        .flags(&[ADMIN, NOSCRIPT, NO_ASYNC_LOADING, NO_MULTI])
        .acl(&[ADM])
        .since(Redis(1, 0, 0))
        .group("server")
        .doc("Synchronously saves the database(s) to disk."),
    Cmd::new("bgrewriteaof", bgrewriteaof)
        .arity(1)
        .flags(&[ADMIN, NOSCRIPT, NO_ASYNC_LOADING])
        .acl(&[ADM])
        .since(Redis(1, 0, 0))
        .group("server")
        .doc("Asynchronously rewrites the append-only file to disk."),
    Cmd::new("bgsave", bgsave)
        .arity(-1)
        .flags(&[ADMIN, NOSCRIPT, NO_ASYNC_LOADING])
        .acl(&[ADM])
        .since(Redis(1, 0, 0))
        .group("server")
        .doc("Asynchronously saves the database(s) to disk."),
    Cmd::new("config", container)
        .arity(-2)
        .acl(&[acl::SLOW])
        .since(Redis(2, 0, 0))
        .group("server")
        .doc("A container for server configuration commands.")
        .subs(CONFIG),
    Cmd::new("slowlog", container)
        .arity(-2)
        .acl(&[acl::SLOW])
        .since(Redis(2, 2, 12))
        .group("server")
        .doc("A container for slow log commands.")
        .subs(SLOWLOG),
    Cmd::new("monitor", monitor)
        .arity(1)
        .flags(&[ADMIN, NOSCRIPT, LOADING, STALE])
        .acl(&[ADM])
        .since(Redis(1, 0, 0))
        .group("server")
        .doc("Listens for all requests received by the server in real-time."),
    Cmd::new("latency", container)
        .arity(-2)
        .acl(&[acl::SLOW])
        .since(Redis(2, 8, 13))
        .group("server")
        .doc("A container for latency diagnostics commands.")
        .subs(super::latency::SUBCOMMANDS),
    Cmd::new("memory", container)
        .arity(-2)
        .acl(&[acl::SLOW])
        .since(Redis(4, 0, 0))
        .group("server")
        .doc("A container for memory diagnostics commands.")
        .subs(MEMORY),
    Cmd::new("lolwut", lolwut)
        .arity(-1)
        .flags(&[READONLY, FAST])
        .acl(&[acl::READ, acl::FAST])
        .since(Redis(5, 0, 0))
        .group("server")
        .doc("Displays computer art and the Redis version"),
    Cmd::new("debug", super::debug::debug)
        .arity(-2)
        .flags(&[ADMIN, NOSCRIPT, LOADING, STALE])
        .acl(&[ADM])
        .since(Redis(1, 0, 0))
        .group("server")
        .doc("A container for debugging commands."),
    Cmd::new("role", role)
        .arity(1)
        .flags(&[NOSCRIPT, LOADING, STALE, FAST])
        .acl(&[acl::ADMIN, acl::FAST, acl::DANGEROUS])
        .since(Redis(2, 8, 12))
        .group("server")
        .doc("Returns the replication role."),
    Cmd::new("info", super::info::info)
        .arity(-1)
        .flags(&[LOADING, STALE])
        .acl(&[acl::SLOW, acl::DANGEROUS])
        .since(Redis(1, 0, 0))
        .group("server")
        .doc("Returns information and statistics about the server."),
    Cmd::new("module", container)
        .arity(-2)
        .acl(&[acl::SLOW])
        .since(Redis(4, 0, 0))
        .group("server")
        .doc("A container for module commands.")
        .subs(MODULE),
    Cmd::new("replicaof", replicaof)
        .arity(3)
        .flags(&[ADMIN, NOSCRIPT, STALE, NO_ASYNC_LOADING])
        .acl(&[ADM])
        .since(Redis(5, 0, 0))
        .group("server")
        .doc("Configures a server as replica of another, or promotes it to a master."),
    Cmd::new("slaveof", replicaof)
        .arity(3)
        .flags(&[ADMIN, NOSCRIPT, STALE, NO_ASYNC_LOADING])
        .acl(&[ADM])
        .since(Redis(1, 0, 0))
        .group("server")
        .doc("Sets a Redis server as a replica of another, or promotes it to being a master."),
];

const MODULE: &[CommandSpec] = &[
    Cmd::new("list", module_list)
        .arity(2)
        .flags(&[ADMIN, NOSCRIPT])
        .acl(&[ADM])
        .since(Redis(4, 0, 0))
        .group("server")
        .doc("Returns all loaded modules."),
    Cmd::new("help", module_help)
        .arity(2)
        .flags(&[LOADING, STALE])
        .acl(&[acl::SLOW])
        .since(Redis(5, 0, 0))
        .group("server")
        .doc("Returns helpful text about the different subcommands."),
];

const CONFIG: &[CommandSpec] = &[
    Cmd::new("get", config_get)
        .arity(-3)
        .flags(&[ADMIN, NOSCRIPT, LOADING, STALE])
        .acl(&[ADM])
        .since(Redis(2, 0, 0))
        .group("server")
        .doc("Returns the effective values of configuration parameters."),
    Cmd::new("set", config_set)
        .arity(-4)
        .flags(&[ADMIN, NOSCRIPT, LOADING, STALE])
        .acl(&[ADM])
        .since(Redis(2, 0, 0))
        .group("server")
        .doc("Sets configuration parameters in-flight."),
    Cmd::new("resetstat", config_resetstat)
        .arity(2)
        .flags(&[ADMIN, NOSCRIPT, LOADING, STALE])
        .acl(&[ADM])
        .since(Redis(2, 0, 0))
        .group("server")
        .doc("Resets the server's statistics."),
    Cmd::new("rewrite", config_rewrite)
        .arity(2)
        .flags(&[ADMIN, NOSCRIPT, LOADING, STALE])
        .acl(&[ADM])
        .since(Redis(2, 8, 0))
        .group("server")
        .doc("Persists the effective configuration to file."),
    Cmd::new("help", config_help)
        .arity(2)
        .flags(&[LOADING, STALE])
        .acl(&[acl::SLOW])
        .since(Redis(5, 0, 0))
        .group("server")
        .doc("Returns helpful text about the different subcommands."),
];

const SLOWLOG: &[CommandSpec] = &[
    Cmd::new("get", slowlog_get)
        .arity(-2)
        .flags(&[ADMIN, LOADING, STALE])
        .acl(&[ADM])
        .since(Redis(2, 2, 12))
        .group("server")
        .doc("Returns the slow log's entries."),
    Cmd::new("len", slowlog_len)
        .arity(2)
        .flags(&[ADMIN, LOADING, STALE])
        .acl(&[ADM])
        .since(Redis(2, 2, 12))
        .group("server")
        .doc("Returns the number of entries in the slow log."),
    Cmd::new("reset", slowlog_reset)
        .arity(2)
        .flags(&[ADMIN, LOADING, STALE])
        .acl(&[ADM])
        .since(Redis(2, 2, 12))
        .group("server")
        .doc("Clears all entries from the slow log."),
    Cmd::new("help", slowlog_help)
        .arity(2)
        .flags(&[LOADING, STALE])
        .acl(&[acl::SLOW])
        .since(Redis(6, 2, 0))
        .group("server")
        .doc("Show helpful text about the different subcommands"),
];

const MEMORY: &[CommandSpec] = &[
    Cmd::new("usage", memory_usage)
        .arity(-3)
        .flags(&[READONLY])
        .acl(&[acl::READ, acl::SLOW])
        .keys(Keys::Range(2, 2, 1))
        .since(Redis(4, 0, 0))
        .group("server")
        .ks(&[ks::RO])
        .doc("Estimates the memory usage of a key."),
    Cmd::new("stats", memory_stats)
        .arity(2)
        .acl(&[acl::SLOW])
        .since(Redis(4, 0, 0))
        .group("server")
        .doc("Returns details about memory usage."),
    Cmd::new("doctor", memory_doctor)
        .arity(2)
        .acl(&[acl::SLOW])
        .since(Redis(4, 0, 0))
        .group("server")
        .doc("Outputs a memory problems report."),
    Cmd::new("purge", memory_purge)
        .arity(2)
        .acl(&[acl::SLOW])
        .since(Redis(4, 0, 0))
        .group("server")
        .doc("Asks the allocator to release memory."),
    Cmd::new("malloc-stats", memory_malloc_stats)
        .arity(2)
        .acl(&[acl::SLOW])
        .since(Redis(4, 0, 0))
        .group("server")
        .doc("Returns the allocator statistics."),
    Cmd::new("help", memory_help)
        .arity(2)
        .flags(&[LOADING, STALE])
        .acl(&[acl::SLOW])
        .since(Redis(4, 0, 0))
        .group("server")
        .doc("Returns helpful text about the different subcommands."),
];

fn module_list(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    ctx.out.array(0);
    Ok(())
}

fn module_help(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    super::help::help(
        ctx,
        "MODULE",
        &["LIST", "    Return a list of loaded modules."],
    );
    Ok(())
}

/// REPLICAOF / SLAVEOF. A node is a master; `NO ONE` is accepted (nothing to change). Following
/// another server is the replication layer's job, which drives nodes through the supervisor.
fn replicaof(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    if ctx.eng.info.cluster {
        return Err("ERR REPLICAOF not allowed in cluster mode.".into());
    }
    if argv.is(1, "no") && argv.is(2, "one") {
        ctx.out.ok();
        return Ok(());
    }
    argv.i64(2)
        .map_err(|_| CmdError::from("ERR Invalid master port"))?;
    Err("ERR REPLICAOF to an arbitrary server is not supported; replicas are created through the ElastiCache API".into())
}

fn dbsize(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    let n = ctx.db().len();
    ctx.out.int(n as i64);
    Ok(())
}

/// Whether a FLUSHALL/FLUSHDB frees in the background: ASYNC, or neither flag with
/// `lazyfree-lazy-user-flush yes`.
fn flush_lazily(ctx: &Ctx<'_>, argv: &Argv<'_>) -> Result<bool, CmdError> {
    match argv.len() {
        1 => Ok(ctx.eng.cfg.lazy_user_flush),
        2 if argv.is(1, "async") => Ok(true),
        2 if argv.is(1, "sync") => Ok(false),
        _ => Err(errors::SYNTAX.into()),
    }
}

fn flushdb(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let lazy = flush_lazily(ctx, argv)?;
    let i = ctx.client.db;
    let n = ctx.eng.dbs[i].len() as u64;
    if lazy {
        ctx.eng.flush_db_lazily(i);
    } else {
        ctx.eng.flush_db(i);
    }
    release_stream_waiters(ctx, i..i + 1);
    ctx.dirty(n.max(1));
    ctx.out.ok();
    Ok(())
}

fn flushall(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let lazy = flush_lazily(ctx, argv)?;
    let n = ctx.eng.total_keys();
    if lazy {
        ctx.eng.flush_all_lazily();
    } else {
        ctx.eng.flush_all();
    }
    release_stream_waiters(ctx, 0..ctx.eng.dbs.len());
    ctx.dirty(n.max(1));
    ctx.out.ok();
    Ok(())
}

/// After a flush: XREADGROUP waiters on the emptied databases learn their stream is gone.
fn release_stream_waiters(ctx: &mut Ctx<'_>, dbs: std::ops::Range<usize>) {
    for d in dbs {
        for (db, k) in ctx.eng.waited_keys_in(d, d) {
            ctx.eng.signal_stream_gone(db, &k);
        }
    }
}

fn swapdb(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    if ctx.eng.info.cluster {
        return Err("ERR SWAPDB is not allowed in cluster mode".into());
    }
    // Redis reads both as C ints: anything beyond the i32 range is as invalid as a non-number.
    let a = argv
        .i64(1)
        .ok()
        .filter(|a| i32::try_from(*a).is_ok())
        .ok_or_else(|| CmdError::from("ERR invalid first DB index"))?;
    let b = argv
        .i64(2)
        .ok()
        .filter(|b| i32::try_from(*b).is_ok())
        .ok_or_else(|| CmdError::from("ERR invalid second DB index"))?;
    let n = ctx.eng.dbs.len() as i64;
    if a < 0 || a >= n || b < 0 || b >= n {
        return Err(errors::DB_INDEX_OUT_OF_RANGE.into());
    }
    let (a, b) = (a as usize, b as usize);
    if a != b {
        ctx.eng.dbs.swap(a, b);
        let (lo, hi) = ctx.eng.dbs.split_at_mut(a.max(b));
        crate::db::Db::keep_watches_across_swap(&mut lo[a.min(b)], &mut hi[0], ctx.now);
        // Clients blocked on either database may now be servable.
        let keys = ctx.eng.waited_keys_in(a, b);
        for (d, k) in &keys {
            ctx.write_in(*d, k).ready();
        }
    }
    ctx.dirty(1);
    ctx.out.ok();
    Ok(())
}

fn time(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let off = ctx.eng.clock_offset();
    let total_us = d.as_micros() as i64 + off * 1000;
    ctx.out.array(2);
    ctx.out.bulk((total_us / 1_000_000).to_string().as_bytes());
    ctx.out.bulk((total_us % 1_000_000).to_string().as_bytes());
    Ok(())
}

fn lastsave(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    ctx.out.int(ctx.eng.lastsave());
    Ok(())
}

fn save(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    // To `dir/dbfilename` when the node has a data directory, else kept in memory.
    crate::persistence::save(ctx.eng).map_err(|e| format!("ERR {e}"))?;
    ctx.out.ok();
    Ok(())
}

fn bgsave(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    if argv.len() == 2 && argv.is(1, "cancel") && ctx.has(Since::from(Release::Valkey(8, 1, 0))) {
        return bgsave_cancel(ctx);
    }
    if argv.len() > 2 || (argv.len() == 2 && !argv.is(1, "schedule")) {
        return Err(errors::SYNTAX.into());
    }
    // A point-in-time image collected a slice at a time; a thread writes it.
    let status =
        crate::persistence::bgsave(ctx.eng, argv.len() == 2).map_err(|e| format!("ERR {e}"))?;
    ctx.out.simple(status);
    Ok(())
}

/// BGSAVE CANCEL (Valkey 8.1): the running save is stopped (its thread notices at its next
/// slice or chunk and writes nothing, so the previous file stays; LASTSAVE and
/// `rdb_last_bgsave_status` are left as they were, as after Valkey's cancelled child) and a
/// scheduled one is dropped. A save still collecting gives its snapshot cursors back now, so
/// a BGSAVE right after starts at once.
fn bgsave_cancel(ctx: &mut Ctx<'_>) -> CmdResult {
    let eng = &mut *ctx.eng;
    let running = eng.persist.bgsave.take().is_some();
    let scheduled = std::mem::take(&mut eng.persist.bgsave_scheduled);
    if running {
        if std::mem::take(&mut eng.persist.bgsave_collecting) {
            for d in &mut eng.dbs {
                d.snap = None;
            }
        }
        ctx.out.simple("Background saving cancelled");
    } else if scheduled {
        ctx.out.simple("Scheduled background saving cancelled");
    } else {
        return Err("ERR Background saving is currently not in progress or scheduled".into());
    }
    Ok(())
}

fn bgrewriteaof(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    // Inside MULTI/EXEC or a script redis-server cannot fork, so it schedules the rewrite for
    // its cron: with the AOF on the node does the same; without it the rewrite (a file write
    // under the lock) runs now, and the reply is the scheduled one either way.
    let inside = ctx.client.in_exec || ctx.eng.scripts.running;
    if inside && let Some(aof) = &mut ctx.eng.persist.aof {
        if aof.rewrite.is_some() {
            return Err("ERR Background append only file rewriting already in progress".into());
        }
        aof.rewrite_scheduled = true;
        ctx.out
            .simple("Background append only file rewriting scheduled");
        return Ok(());
    }
    let started =
        crate::persistence::aof_rewrite::start(ctx.eng).map_err(|e| format!("ERR {e}"))?;
    ctx.out.simple(if started && !inside {
        "Background append only file rewriting started"
    } else {
        "Background append only file rewriting scheduled"
    });
    Ok(())
}

fn config_get(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for p in argv.iter_from(2) {
        for (n, val) in ctx.eng.cfg.get_matching(p) {
            if !pairs.iter().any(|(x, _)| *x == n) {
                let val = match n.as_str() {
                    "replicaof" | "slaveof" => ctx.eng.replicaof(),
                    _ => val,
                };
                pairs.push((n, val));
            }
        }
    }
    ctx.out.map(pairs.len());
    for (n, val) in pairs {
        ctx.out.bulk(n.as_bytes());
        ctx.out.bulk(val.as_bytes());
    }
    Ok(())
}

fn config_set(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    if !argv.len().is_multiple_of(2) {
        return Err(errors::wrong_arity("config|set"));
    }
    // Atomic like Redis 7: validate all on a copy, then commit.
    let mut next = ctx.eng.cfg.clone();
    let mut seen: Vec<String> = Vec::new();
    for i in (2..argv.len()).step_by(2) {
        let name = argv.str(i).to_ascii_lowercase();
        if seen.contains(&name) {
            return Err(CmdError(format!("ERR CONFIG SET failed (possibly related to argument '{name}') - duplicate parameter").into()));
        }
        seen.push(name.clone());
        // `dir` and `dbfilename` are protected as in redis-server 7 (`enable-protected-configs
        // no`), on every release: the node's owner keeps snapshots and the AOF there.
        // `requirepass` when the owner (the ElastiCache API) manages the AUTH token and users.
        if matches!(name.as_str(), "dir" | "dbfilename")
            || (name == "requirepass" && ctx.eng.acl.owner_managed)
        {
            return Err(CmdError(format!("ERR CONFIG SET failed (possibly related to argument '{name}') - can't set protected config").into()));
        }
        next.set(&name, &argv.str(i + 1))
            .map_err(|e| CmdError(format!("ERR {e}").into()))?;
    }
    let pass_changed = next.requirepass != ctx.eng.cfg.requirepass;
    ctx.eng.cfg = next;
    ctx.eng.refresh_access_mode();
    crate::persistence::aof::config_changed(ctx.eng).map_err(|e| CmdError(e.into()))?;
    if pass_changed {
        ctx.eng.sync_requirepass();
    }
    // A lower limit evicts at once (Redis runs its eviction when `maxmemory` is set), not
    // only before the next command, so subscribers hear `evicted` without another command.
    if seen.iter().any(|n| n == "maxmemory")
        && ctx.eng.cfg.maxmemory > 0
        && !ctx.eng.repl.is_replica()
    {
        ctx.eng.evict_if_needed(ctx.now);
    }
    ctx.out.ok();
    Ok(())
}

fn config_resetstat(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    let n = ctx.eng.table.entries.len();
    let st = &mut ctx.eng.stats;
    st.commands = 0;
    // The ops/sec samples count from the old total: start them afresh.
    st.ops_samples.clear();
    st.cmd = vec![Default::default(); n];
    st.errors.clear();
    st.error_replies = 0;
    ctx.eng.acl.denied = Default::default();
    ctx.eng.lazyfree.reset_stats();
    ctx.eng.persist.forks = 0;
    let st = &mut ctx.eng.stats;
    st.evicted = 0;
    st.evicted_clients = 0;
    st.expired_base = 0;
    st.hits_base = 0;
    st.misses_base = 0;
    st.net_out = 0;
    // total_connections_received too (redis-server: 0 right after CONFIG RESETSTAT).
    ctx.eng.clients.total_connections = 0;
    ctx.eng.clients.io.reset();
    st.rejected_conns = 0;
    st.published = 0;
    for db in &mut ctx.eng.dbs {
        db.hits = 0;
        db.misses = 0;
        db.expired = 0;
    }
    ctx.eng.slowlog_reset();
    // CLUSTER SLOT-STATS' usage counters are statistics too (Valkey resets them here).
    ctx.eng.slot_stats = Default::default();
    ctx.out.ok();
    Ok(())
}

fn config_rewrite(_: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    Err("ERR The server is running without a config file".into())
}

fn config_help(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    super::help::help(
        ctx,
        "CONFIG",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    );
    Ok(())
}

fn slowlog_get(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let count = if argv.len() == 3 {
        let c = argv.i64(2)?;
        if c < -1 {
            return Err("ERR count should be greater than or equal to -1".into());
        }
        if c == -1 { usize::MAX } else { c as usize }
    } else if argv.len() == 2 {
        10
    } else {
        return Err(errors::wrong_arity("slowlog|get"));
    };
    let entries = ctx.eng.slowlog_entries(count);
    ctx.out.array(entries.len());
    for e in entries {
        ctx.out.array(6);
        ctx.out.int(e.id as i64);
        ctx.out.int(e.time);
        ctx.out.int(e.usec as i64);
        ctx.out.array(e.args.len());
        for a in &e.args {
            ctx.out.bulk(a);
        }
        ctx.out.bulk(e.addr.as_bytes());
        ctx.out.bulk(e.name.as_bytes());
    }
    Ok(())
}

fn slowlog_len(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    ctx.out.int(ctx.eng.slowlog_len() as i64);
    Ok(())
}

fn slowlog_reset(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    ctx.eng.slowlog_reset();
    ctx.out.ok();
    Ok(())
}

fn slowlog_help(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    super::help::help(
        ctx,
        "SLOWLOG",
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    );
    Ok(())
}

fn monitor(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    if ctx.client.multi.is_some() || ctx.client.in_exec {
        return Err("ERR MONITOR isn't allowed in a transaction".into());
    }
    let id = ctx.client.id;
    if !ctx.eng.clients.monitors.contains(&id) {
        ctx.eng.clients.monitors.push(id);
    }
    if let Some(ci) = ctx.eng.clients.map.get_mut(&id) {
        ci.monitor = true;
    }
    ctx.out.ok();
    Ok(())
}

fn memory_usage(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let mut i = 3;
    while i < argv.len() {
        if argv.is(i, "samples") && i + 1 < argv.len() {
            argv.i64(i + 1)?;
            i += 2;
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    let now = ctx.now;
    let key = argv.get(2);
    match ctx.db().peek(key, now) {
        Some(e) => {
            let n = crate::db::entry_size(key, &e.value);
            ctx.out.int(n as i64);
        }
        None => ctx.out.null(),
    }
    Ok(())
}

fn memory_stats(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    let used = ctx.eng.used_memory();
    ctx.eng.stats.peak_memory = ctx.eng.stats.peak_memory.max(used);
    let peak = ctx.eng.stats.peak_memory;
    // Same model as INFO memory: resident size is the accounted size plus 10%.
    let rss = used + used / 10;
    // Redis keeps these ratios in single-precision floats and prints them as doubles
    // (`%.17g` before 7.2), hence the f32 round trip.
    let legacy = !super::coll::is_72(ctx);
    let keys = ctx.eng.total_keys();
    let data: u64 = ctx.eng.dbs.iter().map(|d| d.used_memory() as u64).sum();
    let clients = ctx.eng.clients.map.len() as u64 * 1024;
    let startup = crate::engine::BASE_MEMORY;
    let dbs: Vec<(usize, usize, usize)> = ctx
        .eng
        .dbs
        .iter()
        .enumerate()
        .filter(|(_, d)| !d.is_empty())
        .map(|(i, d)| (i, d.len(), d.expires_len()))
        .collect();
    let overhead = startup + clients;
    let pct = |part: u64, whole: u64| {
        if whole == 0 {
            0.0
        } else {
            f64::from((part as f64 * 100.0 / whole as f64) as f32)
        }
    };
    let ratio = |a: u64, b: u64| {
        if b == 0 {
            0.0
        } else {
            f64::from((a as f64 / b as f64) as f32)
        }
    };
    let floats = [
        (
            "dataset.percentage",
            pct(data, used.saturating_sub(startup)),
        ),
        ("peak.percentage", pct(used, peak)),
    ];
    let allocator = [
        ("allocator.allocated", used),
        ("allocator.active", rss),
        ("allocator.resident", rss),
    ];
    let frag = [
        (
            "allocator-fragmentation.ratio",
            ratio(rss, used),
            rss - used,
        ),
        ("allocator-rss.ratio", 1.0, 0),
        ("rss-overhead.ratio", 1.0, 0),
    ];
    let out = &mut *ctx.out;
    out.map(14 + dbs.len() + floats.len() + allocator.len() + 2 * frag.len() + 2);
    let mut kv = |k: &str, n: u64| {
        out.bulk(k.as_bytes());
        out.int(n as i64);
    };
    kv("peak.allocated", used);
    kv("total.allocated", used);
    kv("startup.allocated", startup);
    kv("replication.backlog", 0);
    kv("clients.slaves", 0);
    kv("clients.normal", clients);
    kv("cluster.links", 0);
    kv("aof.buffer", 0);
    kv("lua.caches", 0);
    kv("functions.caches", 0);
    kv("overhead.total", overhead);
    kv("keys.count", keys);
    kv("keys.bytes-per-key", data.checked_div(keys).unwrap_or(0));
    kv("dataset.bytes", data);
    for (i, n, e) in dbs {
        out.bulk(format!("db.{i}").as_bytes());
        out.map(2);
        out.bulk(b"overhead.hashtable.main");
        out.int(n as i64 * 8);
        out.bulk(b"overhead.hashtable.expires");
        out.int(e as i64 * 8);
    }
    for (k, f) in floats {
        out.bulk(k.as_bytes());
        super::coll::write_score(out, legacy, f);
    }
    for (k, n) in allocator {
        out.bulk(k.as_bytes());
        out.int(n as i64);
    }
    for (k, f, bytes) in frag {
        out.bulk(k.as_bytes());
        super::coll::write_score(out, legacy, f);
        out.bulk(k.replace(".ratio", ".bytes").as_bytes());
        out.int(bytes as i64);
    }
    out.bulk(b"fragmentation");
    super::coll::write_score(out, legacy, ratio(rss, used));
    out.bulk(b"fragmentation.bytes");
    out.int((rss - used) as i64);
    Ok(())
}

fn memory_doctor(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    ctx.out.verbatim("txt", b"Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.");
    Ok(())
}

fn memory_purge(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    ctx.out.ok();
    Ok(())
}

fn memory_malloc_stats(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    ctx.out
        .verbatim("txt", b"Stats not supported for the current allocator");
    Ok(())
}

fn memory_help(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    super::help::help(
        ctx,
        "MEMORY",
        &[
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value.",
        ],
    );
    Ok(())
}

fn lolwut(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let mut i = 1;
    while i < argv.len() {
        if argv.is(i, "version") && i + 1 < argv.len() {
            argv.i64(i + 1)?;
            i += 2;
        } else {
            argv.i64(i)?;
            i += 1;
        }
    }
    // Our own small piece of art: a staircase of cache lines.
    let mut art = String::new();
    for row in 0..6 {
        art.push_str(&" ".repeat(row * 2));
        art.push_str(&"\u{2588}".repeat(12 - row * 2));
        art.push('\n');
    }
    let name = ctx.eng.table.engine.product();
    art.push_str(&format!(
        "\nelasticache-local. {} ver. {}\n",
        name, ctx.eng.info.version
    ));
    ctx.out.verbatim("txt", art.as_bytes());
    Ok(())
}

fn role(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    super::replication::role_cmd(ctx, argv)
}
