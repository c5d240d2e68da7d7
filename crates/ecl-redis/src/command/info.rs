//! INFO: every section Redis prints, with values that are true of this node.
//!
//! Place in the flow: the `info` entry of the server family points here; the supervisor's
//! health checks and redis-cli users read it. Figures we do not have (fork times, allocator
//! internals) are reported as an idle Redis would.

use super::{Argv, Ctx, v};
use crate::engine::Engine;
use crate::errors::CmdResult;
use crate::version::{Release, Since};
use std::fmt::Write;

const DEFAULT: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];
const ALL_EXTRA: &[&str] = &["commandstats", "latencystats"];

/// Human-readable bytes as Redis prints them (`1.50M`).
pub fn human(n: u64) -> String {
    let f = n as f64;
    if n < 1024 {
        format!("{n}B")
    } else if f < 1024.0 * 1024.0 {
        format!("{:.2}K", f / 1024.0)
    } else if f < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}M", f / 1024.0 / 1024.0)
    } else {
        format!("{:.2}G", f / 1024.0 / 1024.0 / 1024.0)
    }
}

fn cpu_seconds() -> (f64, f64) {
    // utime and stime, fields 14 and 15 of /proc/self/stat, in clock ticks (100 Hz on Linux).
    let Ok(s) = std::fs::read_to_string("/proc/self/stat") else {
        return (0.0, 0.0);
    };
    let rest = s.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let get = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0) / 100.0;
    (get(11), get(12))
}

/// Entry point for `INFO [section ...]`.
pub fn info(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let mut wanted: Vec<String> = argv
        .iter_from(1)
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    if wanted.is_empty() || wanted.iter().any(|w| w == "default") {
        wanted.extend(DEFAULT.iter().map(|s| s.to_string()));
    }
    if wanted.iter().any(|w| w == "all" || w == "everything") {
        wanted.extend(DEFAULT.iter().chain(ALL_EXTRA).map(|s| s.to_string()));
    }
    let now = ctx.now;
    let id = ctx.client.id;
    let text = render(ctx.eng, &wanted, now, id);
    ctx.out.verbatim("txt", text.as_bytes());
    Ok(())
}

/// Renders the requested sections in Redis' order.
pub fn render(eng: &mut Engine, wanted: &[String], now: i64, _client: u64) -> String {
    let order = [
        "server",
        "clients",
        "memory",
        "persistence",
        "stats",
        "replication",
        "cpu",
        "modules",
        "commandstats",
        "errorstats",
        "latencystats",
        "cluster",
        "keyspace",
    ];
    let mut s = String::new();
    for sec in order {
        if !wanted.iter().any(|w| w == sec) {
            continue;
        }
        if !s.is_empty() {
            s.push_str("\r\n");
        }
        match sec {
            "server" => server(eng, &mut s, now),
            "clients" => clients(eng, &mut s),
            "memory" => memory(eng, &mut s),
            "persistence" => persistence(eng, &mut s),
            "stats" => {
                stats(eng, &mut s);
                broken(eng, &mut s);
            }
            "replication" => replication(eng, &mut s),
            "cpu" => {
                let (u, sy) = cpu_seconds();
                let _ = write!(
                    s,
                    "# CPU\r\nused_cpu_sys:{sy:.6}\r\nused_cpu_user:{u:.6}\r\nused_cpu_sys_children:0.000000\r\nused_cpu_user_children:0.000000\r\nused_cpu_sys_main_thread:{sy:.6}\r\nused_cpu_user_main_thread:{u:.6}\r\n"
                );
            }
            "modules" => s.push_str("# Modules\r\n"),
            "commandstats" => commandstats(eng, &mut s),
            "latencystats" => latencystats(eng, &mut s),
            "errorstats" => {
                s.push_str("# Errorstats\r\n");
                let mut errs: Vec<_> = eng.stats.errors.iter().collect();
                errs.sort();
                for (code, n) in errs {
                    let _ = write!(s, "errorstat_{code}:count={n}\r\n");
                }
            }
            "cluster" => {
                let _ = write!(
                    s,
                    "# Cluster\r\ncluster_enabled:{}\r\n",
                    u8::from(eng.info.cluster)
                );
            }
            "keyspace" => {
                s.push_str("# Keyspace\r\n");
                for (i, db) in eng.dbs.iter().enumerate() {
                    if db.is_empty() {
                        continue;
                    }
                    let mut total = 0i64;
                    let mut n = 0i64;
                    for (_, e) in db.iter().filter(|(_, e)| e.expire_at > now).take(10_000) {
                        total += e.expire_at - now;
                        n += 1;
                    }
                    let avg = if n > 0 { total / n } else { 0 };
                    let _ = write!(
                        s,
                        "db{i}:keys={},expires={},avg_ttl={avg}\r\n",
                        db.len(),
                        db.expires_len()
                    );
                }
            }
            _ => {}
        }
    }
    s
}

fn server(eng: &Engine, s: &mut String, now: i64) {
    let info = &eng.info;
    let engine = eng.table.engine;
    let up = info.started.elapsed().as_secs();
    let mode = if info.cluster {
        "cluster"
    } else {
        "standalone"
    };
    let _ = write!(
        s,
        "# Server\r\nredis_version:{}\r\n",
        engine.redis_version(&info.version)
    );
    if let Some(own) = engine.valkey_version(&info.version) {
        let _ = write!(
            s,
            "server_name:{}\r\nvalkey_version:{own}\r\nvalkey_release_stage:ga\r\n",
            engine.name()
        );
    }
    let _ = write!(
        s,
        "redis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:0\r\n{}:{mode}\r\nos:{} {}\r\narch_bits:64\r\nmonotonic_clock:POSIX clock_gettime\r\nmultiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\ngcc_version:0.0.0\r\nprocess_id:{}\r\nprocess_supervised:no\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{up}\r\nuptime_in_days:{}\r\nhz:10\r\nconfigured_hz:10\r\nlru_clock:{}\r\nexecutable:/usr/local/bin/{}-server\r\nconfig_file:\r\nio_threads_active:0\r\n",
        engine.mode_field(),
        std::env::consts::OS,
        std::env::consts::ARCH,
        std::process::id(),
        info.run_id,
        info.port,
        now * 1000,
        up / 86400,
        (now / 1000) & 0xFF_FFFF,
        engine.name(),
    );
    if info.compat >= v(7, 2, 0) {
        s.push_str("listener0:name=tcp,bind=*,bind=-::*,port=");
        let _ = write!(s, "{}\r\n", info.port);
    }
}

/// Fields Redis 7.2 added to INFO (`# Clients`: pubsub_clients, watching_clients,
/// total_watched_keys, total_blocking_keys, total_blocking_keys_on_nokey; `# Stats`:
/// acl_access_denied_*). redis-server 7.0.15 has none of them; the emulator's ElastiCache 7.1
/// nodes keep them, as they had them (7.1's INFO is not verified), and so does every Valkey.
const LATER_INFO_FIELDS: Since = Since::from(Release::Redis(7, 1, 0)).or_valkey(7, 2, 0);

fn clients(eng: &Engine, s: &mut String) {
    let later = eng.info.release.has(LATER_INFO_FIELDS);
    let _ = write!(
        s,
        "# Clients\r\nconnected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\nclient_recent_max_input_buffer:20480\r\nclient_recent_max_output_buffer:0\r\nblocked_clients:{}\r\ntracking_clients:{}\r\n",
        eng.clients.map.len(),
        eng.cfg.get("maxclients").unwrap_or_default(),
        eng.blocked_count(),
        eng.tracking.clients.len(),
    );
    if later {
        let watching = eng.clients.map.values().filter(|c| c.watched > 0).count();
        let pubsub = eng.clients.pubsub_clients();
        let _ = write!(
            s,
            "pubsub_clients:{pubsub}\r\nwatching_clients:{watching}\r\n"
        );
    }
    let _ = write!(
        s,
        "clients_in_timeout_table:{}\r\n",
        eng.blocked_with_deadline()
    );
    if later {
        let watched: usize = eng.clients.map.values().map(|c| c.watched).sum();
        let _ = write!(
            s,
            "total_watched_keys:{watched}\r\ntotal_blocking_keys:{}\r\ntotal_blocking_keys_on_nokey:0\r\n",
            eng.blocking_keys(),
        );
    }
}

fn memory(eng: &mut Engine, s: &mut String) {
    let used = eng.used_memory();
    eng.stats.peak_memory = eng.stats.peak_memory.max(used);
    let peak = eng.stats.peak_memory;
    let startup = crate::engine::BASE_MEMORY;
    let dataset = used.saturating_sub(startup);
    let max = eng.cfg.maxmemory;
    let total_sys = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<u64>().ok())
        })
        .map_or(0, |k| k * 1024);
    let rss = used + used / 10;
    let (scripts_mem, scripts_n) = (eng.scripts.bodies_bytes, eng.scripts.len());
    let (lib_n, fn_n) = eng.scripts.functions.counts();
    let _ = write!(
        s,
        "# Memory\r\nused_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\nused_memory_peak:{peak}\r\nused_memory_peak_human:{}\r\nused_memory_peak_perc:{:.2}%\r\nused_memory_overhead:{startup}\r\nused_memory_startup:{startup}\r\nused_memory_dataset:{dataset}\r\nused_memory_dataset_perc:{:.2}%\r\nallocator_allocated:{used}\r\nallocator_active:{rss}\r\nallocator_resident:{rss}\r\ntotal_system_memory:{total_sys}\r\ntotal_system_memory_human:{}\r\nused_memory_lua:31744\r\nused_memory_vm_eval:31744\r\nused_memory_lua_human:31.00K\r\nused_memory_scripts_eval:{scripts_mem}\r\nnumber_of_cached_scripts:{scripts_n}\r\nnumber_of_functions:{fn_n}\r\nnumber_of_libraries:{lib_n}\r\nused_memory_vm_functions:32768\r\nused_memory_vm_total:64512\r\nused_memory_vm_total_human:63.00K\r\nused_memory_functions:184\r\nused_memory_scripts:184\r\nused_memory_scripts_human:184B\r\nmaxmemory:{max}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{}\r\nallocator_frag_ratio:1.00\r\nallocator_frag_bytes:0\r\nallocator_rss_ratio:1.00\r\nallocator_rss_bytes:0\r\nrss_overhead_ratio:1.00\r\nrss_overhead_bytes:0\r\nmem_fragmentation_ratio:1.10\r\nmem_fragmentation_bytes:{}\r\nmem_not_counted_for_evict:0\r\nmem_replication_backlog:0\r\nmem_total_replication_buffers:0\r\nmem_clients_slaves:0\r\nmem_clients_normal:{}\r\nmem_cluster_links:0\r\nmem_aof_buffer:0\r\nmem_allocator:jemalloc-5.3.0\r\nactive_defrag_running:0\r\nlazyfree_pending_objects:{}\r\nlazyfreed_objects:{}\r\n",
        human(used),
        human(rss),
        human(peak),
        if peak > 0 {
            used as f64 * 100.0 / peak as f64
        } else {
            100.0
        },
        if used > 0 {
            dataset as f64 * 100.0 / used as f64
        } else {
            0.0
        },
        human(total_sys),
        human(max),
        eng.cfg.policy.name(),
        rss - used,
        eng.clients.memory(),
        eng.lazyfree.pending(),
        eng.lazyfree.freed(),
    );
}

fn persistence(eng: &Engine, s: &mut String) {
    crate::persistence::info_section(eng, s);
}

fn stats(eng: &Engine, s: &mut String) {
    use std::sync::atomic::Ordering::Relaxed;
    let st = &eng.stats;
    // Socket counters move as the connections read and write (see `IoTotals`).
    let io = &eng.clients.io;
    let tracked = eng.tracking.totals();
    let _ = write!(
        s,
        "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\ninstantaneous_ops_per_sec:{}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\ntotal_net_repl_input_bytes:0\r\ntotal_net_repl_output_bytes:0\r\ninstantaneous_input_kbps:0.00\r\ninstantaneous_output_kbps:0.00\r\ninstantaneous_input_repl_kbps:0.00\r\ninstantaneous_output_repl_kbps:0.00\r\nrejected_connections:{}\r\nsync_full:0\r\nsync_partial_ok:0\r\nsync_partial_err:0\r\nexpired_keys:{}\r\nexpired_stale_perc:0.00\r\nexpired_time_cap_reached_count:0\r\nexpire_cycle_cpu_milliseconds:0\r\nevicted_keys:{}\r\nevicted_clients:{}\r\ntotal_eviction_exceeded_time:0\r\ncurrent_eviction_exceeded_time:0\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\npubsubshard_channels:{}\r\nlatest_fork_usec:0\r\ntotal_forks:{}\r\nmigrate_cached_sockets:0\r\nslave_expires_tracked_keys:0\r\nactive_defrag_hits:0\r\nactive_defrag_misses:0\r\nactive_defrag_key_hits:0\r\nactive_defrag_key_misses:0\r\ntotal_active_defrag_time:0\r\ncurrent_active_defrag_time:0\r\ntracking_total_keys:{}\r\ntracking_total_items:{}\r\ntracking_total_prefixes:{}\r\nunexpected_error_replies:0\r\ntotal_error_replies:{}\r\ndump_payload_sanitizations:0\r\ntotal_reads_processed:{}\r\ntotal_writes_processed:{}\r\nio_threaded_reads_processed:0\r\nio_threaded_writes_processed:0\r\nreply_buffer_shrinks:0\r\nreply_buffer_expands:0\r\n",
        eng.clients.total_connections,
        st.commands,
        eng.ops_per_sec(),
        io.read_bytes.load(Relaxed),
        st.net_out,
        st.rejected_conns,
        eng.expired_keys(),
        st.evicted,
        st.evicted_clients,
        eng.keyspace_hits(),
        eng.keyspace_misses(),
        eng.pubsub.channels.len(),
        eng.pubsub.patterns.len(),
        eng.pubsub.shard.len(),
        eng.persist.forks,
        tracked.0,
        tracked.1,
        tracked.2,
        st.error_replies,
        io.reads.load(Relaxed),
        io.writes.load(Relaxed),
    );
    if eng.info.release.has(LATER_INFO_FIELDS) {
        let d = &eng.acl.denied;
        let _ = write!(
            s,
            "acl_access_denied_auth:{}\r\nacl_access_denied_cmd:{}\r\nacl_access_denied_key:{}\r\nacl_access_denied_channel:{}\r\n",
            d.auth, d.command, d.key, d.channel,
        );
    }
}

fn replication(eng: &mut Engine, s: &mut String) {
    super::replication::info_section(eng, s);
}

fn commandstats(eng: &Engine, s: &mut String) {
    s.push_str("# Commandstats\r\n");
    for (i, e) in eng.table.entries.iter().enumerate() {
        let Some(st) = eng.stats.cmd.get(i) else {
            continue;
        };
        if st.calls == 0 && st.rejected == 0 && st.failed == 0 {
            continue;
        }
        let per = if st.calls > 0 {
            st.usec as f64 / st.calls as f64
        } else {
            0.0
        };
        let _ = write!(
            s,
            "cmdstat_{}:calls={},usec={},usec_per_call={per:.2},rejected_calls={},failed_calls={}\r\n",
            e.full_name, st.calls, st.usec, st.rejected, st.failed
        );
    }
}

/// Each command's run time at the `latency-tracking-info-percentiles` (µs), for the commands
/// run since the last CONFIG RESETSTAT; nothing while `latency-tracking` is off.
fn latencystats(eng: &Engine, s: &mut String) {
    s.push_str("# Latencystats\r\n");
    if !eng.cfg.latency_tracking {
        return;
    }
    for (i, e) in eng.table.entries.iter().enumerate() {
        let Some(h) = eng.stats.cmd.get(i).and_then(|st| st.latency.as_deref()) else {
            continue;
        };
        let _ = write!(s, "latency_percentiles_usec_{}:", e.full_name);
        for (n, &p) in eng.cfg.latency_percentiles.iter().enumerate() {
            let sep = if n == 0 { "" } else { "," };
            let label = crate::latency::percentiles::label(p);
            let _ = write!(s, "{sep}p{label}={:.3}", h.usec_at_percentile(p));
        }
        s.push_str("\r\n");
    }
}

/// `ecl_node_broken` (emulator field, end of `# Stats`): 1 once a command panicked and the
/// node refuses commands until rebooted, with `ecl_node_broken_reason` (the panic message).
fn broken(eng: &Engine, s: &mut String) {
    match eng.broken() {
        Some(reason) => {
            let _ = write!(
                s,
                "ecl_node_broken:1\r\necl_node_broken_reason:{reason}\r\n"
            );
        }
        None => s.push_str("ecl_node_broken:0\r\n"),
    }
}
