//! The `CLUSTER` command family and `READONLY` / `READWRITE` / `ASKING`.
//!
//! Place in the flow: registered in the command table like any family. Every reply is
//! rendered from the topology the supervisor set ([`crate::cluster::ClusterState`]), in the formats
//! Redis 7 documents; every address is the announced endpoint from that topology. Replication
//! offsets of the other nodes come from [`offsets`], a process-wide registry each node
//! publishes its offset to (all nodes live in this process), so no node ever takes another
//! node's lock.

use crate::cluster::{ClusterNodeInfo, ClusterShard, SLOTS, key_slot, offsets};
use crate::command::flags::*;
use crate::command::{
    AclCategories, Argv, Cmd, CommandSpec, Ctx, Flags, Release, Release::Redis, Release::Valkey,
    Since, acl, container,
};
use crate::engine::wall_ms;
use crate::errors::{self, CmdError, CmdResult};
use std::fmt::Write as _;

const SLOW: AclCategories = acl::SLOW;

/// Commands of this family.
pub const COMMANDS: &[CommandSpec] = &[
    Cmd::new("cluster", container)
        .arity(-2)
        .acl(&[SLOW])
        .since(Redis(3, 0, 0))
        .group("cluster")
        .doc("A container for Redis Cluster commands.")
        .subs(SUBS),
    Cmd::new("readonly", readonly)
        .arity(1)
        .flags(&[LOADING, STALE, FAST])
        .acl(&[acl::CONNECTION, acl::FAST])
        .since(Redis(3, 0, 0))
        .group("cluster")
        .doc("Enables read-only queries for a connection to a Redis Cluster replica node."),
    Cmd::new("readwrite", readwrite)
        .arity(1)
        .flags(&[LOADING, STALE, FAST])
        .acl(&[acl::CONNECTION, acl::FAST])
        .since(Redis(3, 0, 0))
        .group("cluster")
        .doc("Enables read-write queries for a connection to a Reids Cluster replica node."),
    Cmd::new("asking", asking)
        .arity(1)
        .flags(&[FAST])
        .acl(&[acl::CONNECTION, acl::FAST])
        .since(Redis(3, 0, 0))
        .group("cluster")
        .doc("Signals that a cluster client is following an -ASK redirect."),
];

/// Read-only CLUSTER subcommands: Redis 7.0 flags them `stale` only (not `loading`).
const INFO_FLAGS: Flags = STALE;

const SUBS: &[CommandSpec] = &[
    Cmd::new("slots", slots)
        .arity(2)
        .flags(&[INFO_FLAGS])
        .acl(&[SLOW])
        .since(Redis(3, 0, 0))
        .group("cluster")
        .doc("Returns the mapping of cluster slots to nodes."),
    Cmd::new("shards", shards)
        .arity(2)
        .flags(&[INFO_FLAGS])
        .acl(&[SLOW])
        .since(Redis(7, 0, 0))
        .group("cluster")
        .doc("Returns the mapping of cluster slots to shards."),
    Cmd::new("nodes", nodes)
        .arity(2)
        .flags(&[INFO_FLAGS])
        .acl(&[SLOW])
        .since(Redis(3, 0, 0))
        .group("cluster")
        .doc("Returns the cluster configuration for a node."),
    Cmd::new("info", info)
        .arity(2)
        .flags(&[INFO_FLAGS])
        .acl(&[SLOW])
        .since(Redis(3, 0, 0))
        .group("cluster")
        .doc("Returns information about the state of a node."),
    Cmd::new("myid", myid)
        .arity(2)
        .flags(&[INFO_FLAGS])
        .acl(&[SLOW])
        .since(Redis(3, 0, 0))
        .group("cluster")
        .doc("Returns the ID of a node."),
    Cmd::new("myshardid", myshardid)
        .arity(2)
        .flags(&[INFO_FLAGS])
        .acl(&[SLOW])
        .since(Redis(7, 2, 0))
        .group("cluster")
        .doc("Returns the shard ID of a node."),
    Cmd::new("help", help)
        .arity(2)
        .flags(&[LOADING, STALE])
        .acl(&[SLOW])
        .since(Redis(5, 0, 0))
        .group("cluster")
        .doc("Returns helpful text about the different subcommands."),
    Cmd::new("keyslot", keyslot)
        .arity(3)
        .flags(&[STALE])
        .acl(&[SLOW])
        .since(Redis(3, 0, 0))
        .group("cluster")
        .doc("Returns the hash slot for a key."),
    Cmd::new("countkeysinslot", countkeysinslot)
        .arity(3)
        .flags(&[STALE])
        .acl(&[SLOW])
        .since(Redis(3, 0, 0))
        .group("cluster")
        .doc("Returns the number of keys in a hash slot."),
    Cmd::new("getkeysinslot", getkeysinslot)
        .arity(4)
        .flags(&[STALE])
        .acl(&[SLOW])
        .since(Redis(3, 0, 0))
        .group("cluster")
        .doc("Returns the key names in a hash slot."),
    Cmd::new("replicas", replicas)
        .arity(3)
        .flags(&[ADMIN, STALE])
        .acl(&[SLOW, acl::ADMIN, acl::DANGEROUS])
        .since(Redis(5, 0, 0))
        .group("cluster")
        .doc("Lists the replica nodes of a master node."),
    Cmd::new("slaves", replicas)
        .arity(3)
        .flags(&[ADMIN, STALE])
        .acl(&[SLOW, acl::ADMIN, acl::DANGEROUS])
        .since(Redis(3, 0, 0))
        .group("cluster")
        .doc("Lists the replica nodes of a master node."),
    Cmd::new("links", links)
        .arity(2)
        .flags(&[INFO_FLAGS])
        .acl(&[SLOW])
        .since(Redis(7, 0, 0))
        .group("cluster")
        .doc("Returns a list of all TCP links to and from peer nodes."),
    Cmd::new("slot-stats", slot_stats)
        .arity(-4)
        .flags(&[LOADING, STALE])
        .acl(&[SLOW])
        .since(Valkey(8, 0, 0))
        .group("cluster")
        .doc("Returns per-slot statistics of the slots this node's shard serves."),
];

fn require_cluster(ctx: &Ctx<'_>) -> CmdResult {
    if ctx.eng.info.cluster {
        Ok(())
    } else {
        Err(errors::CLUSTER_DISABLED.into())
    }
}

/// READONLY / READWRITE need cluster mode, except from Valkey 8.0 on, where a standalone
/// replica uses them for `CLIENT CAPA redirect` clients.
fn require_cluster_or_standalone_reads(ctx: &Ctx<'_>) -> CmdResult {
    if ctx.has(Since::from(Release::Valkey(8, 0, 0))) {
        return Ok(());
    }
    require_cluster(ctx)
}

fn readonly(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    require_cluster_or_standalone_reads(ctx)?;
    ctx.client.readonly = true;
    ctx.out.ok();
    Ok(())
}

fn readwrite(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    require_cluster_or_standalone_reads(ctx)?;
    ctx.client.readonly = false;
    ctx.out.ok();
    Ok(())
}

fn asking(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    require_cluster(ctx)?;
    ctx.client.asking = true;
    ctx.out.ok();
    Ok(())
}

/// A node with its role in the topology.
struct Member<'a> {
    node: &'a ClusterNodeInfo,
    shard: usize,
    primary: bool,
}

fn members(shards: &[ClusterShard]) -> Vec<Member<'_>> {
    let mut v = Vec::new();
    for (i, s) in shards.iter().enumerate() {
        v.push(Member {
            node: &s.primary,
            shard: i,
            primary: true,
        });
        for r in &s.replicas {
            v.push(Member {
                node: r,
                shard: i,
                primary: false,
            });
        }
    }
    v
}

fn node_entry(ctx: &mut Ctx<'_>, n: &ClusterNodeInfo) {
    ctx.out.array(4);
    ctx.out.bulk(n.ip.as_bytes());
    ctx.out.int(i64::from(n.port));
    ctx.out.bulk(n.node_id.as_bytes());
    match &n.hostname {
        Some(h) => {
            ctx.out.map(1);
            ctx.out.bulk(b"hostname");
            ctx.out.bulk(h.as_bytes());
        }
        None => ctx.out.map(0),
    }
}

fn slots(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    require_cluster(ctx)?;
    let shards = ctx.eng.cluster.topology.shards.clone();
    let ranges: Vec<(u16, u16, &ClusterShard)> = shards
        .iter()
        .flat_map(|s| s.slots.iter().map(move |&(a, b)| (a, b, s)))
        .collect();
    ctx.out.array(ranges.len());
    for (a, b, s) in ranges {
        ctx.out.array(3 + s.replicas.len());
        ctx.out.int(i64::from(a));
        ctx.out.int(i64::from(b));
        node_entry(ctx, &s.primary);
        for r in &s.replicas {
            node_entry(ctx, r);
        }
    }
    Ok(())
}

fn offset_of(ctx: &Ctx<'_>, id: &str) -> u64 {
    if id == ctx.eng.cluster.node_id {
        ctx.eng.repl.offset
    } else {
        offsets::get(id)
    }
}

fn shards(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    require_cluster(ctx)?;
    let shards = ctx.eng.cluster.topology.shards.clone();
    ctx.out.array(shards.len());
    for s in &shards {
        ctx.out.map(2);
        ctx.out.bulk(b"slots");
        ctx.out.array(s.slots.len() * 2);
        for &(a, b) in &s.slots {
            ctx.out.int(i64::from(a));
            ctx.out.int(i64::from(b));
        }
        ctx.out.bulk(b"nodes");
        ctx.out.array(1 + s.replicas.len());
        let all = std::iter::once((&s.primary, true)).chain(s.replicas.iter().map(|r| (r, false)));
        for (n, primary) in all {
            ctx.out.map(if n.hostname.is_some() { 8 } else { 7 });
            ctx.out.bulk(b"id");
            ctx.out.bulk(n.node_id.as_bytes());
            ctx.out.bulk(b"port");
            ctx.out.int(i64::from(n.port));
            ctx.out.bulk(b"ip");
            ctx.out.bulk(n.ip.as_bytes());
            ctx.out.bulk(b"endpoint");
            ctx.out.bulk(n.ip.as_bytes());
            if let Some(h) = &n.hostname {
                ctx.out.bulk(b"hostname");
                ctx.out.bulk(h.as_bytes());
            }
            ctx.out.bulk(b"role");
            ctx.out.bulk(if primary { b"master" } else { b"replica" });
            ctx.out.bulk(b"replication-offset");
            let off = offset_of(ctx, &n.node_id);
            ctx.out.int(off as i64);
            ctx.out.bulk(b"health");
            ctx.out.bulk(b"online");
        }
    }
    Ok(())
}

/// One `CLUSTER NODES` line (without the newline).
fn node_line(ctx: &Ctx<'_>, m: &Member<'_>, now: i64) -> String {
    let st = &ctx.eng.cluster;
    let me = m.node.node_id == st.node_id;
    let shard = &st.topology.shards[m.shard];
    let mut line = format!(
        "{} {}:{}@{}",
        m.node.node_id,
        m.node.ip,
        m.node.port,
        u32::from(m.node.port) + 10000
    );
    if let Some(h) = &m.node.hostname {
        let _ = write!(line, ",{h}");
    }
    let role = if m.primary { "master" } else { "slave" };
    let flags = if me {
        format!("myself,{role}")
    } else {
        role.to_string()
    };
    let master = if m.primary {
        "-".to_string()
    } else {
        shard.primary.node_id.clone()
    };
    let pong = if me { 0 } else { now };
    let _ = write!(line, " {flags} {master} 0 {pong} {} connected", m.shard + 1);
    if m.primary {
        for &(a, b) in &shard.slots {
            if a == b {
                let _ = write!(line, " {a}");
            } else {
                let _ = write!(line, " {a}-{b}");
            }
        }
    }
    if me {
        line.push_str(&st.move_annotations());
    }
    line
}

fn nodes(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    require_cluster(ctx)?;
    let now = wall_ms();
    let topo = ctx.eng.cluster.topology.clone();
    let mut text = String::new();
    let all = members(&topo.shards);
    let listed = all
        .iter()
        .any(|m| m.node.node_id == ctx.eng.cluster.node_id);
    for m in &all {
        text.push_str(&node_line(ctx, m, now));
        text.push('\n');
    }
    if !listed {
        // Not in any shard yet: a lone master without slots, as a fresh cluster node.
        let _ = writeln!(
            text,
            "{} {}:{}@{} myself,master - 0 0 0 connected",
            ctx.eng.cluster.node_id,
            ctx.eng.cfg.get("bind").unwrap_or_default(),
            ctx.eng.info.port,
            u32::from(ctx.eng.info.port) + 10000
        );
    }
    ctx.out.verbatim("txt", text.as_bytes());
    Ok(())
}

/// CLUSTER HELP: the subcommands this node has (ElastiCache's set: no slot or node
/// administration). Like every CLUSTER subcommand, refused on a cluster-disabled node.
fn help(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    require_cluster(ctx)?;
    super::help::help(
        ctx,
        "CLUSTER",
        &[
            "COUNTKEYSINSLOT <slot>",
            "    The number of keys in hash slot <slot> on this node.",
            "GETKEYSINSLOT <slot> <count>",
            "    Up to <count> key names of hash slot <slot> on this node.",
            "INFO",
            "    The cluster's state, slot counts, size and epochs.",
            "KEYSLOT <key>",
            "    The hash slot of <key>.",
            "LINKS",
            "    The node's cluster bus links.",
            "MYID",
            "    This node's id.",
            "NODES",
            "    The cluster's nodes, one line each, in the nodes.conf format.",
            "REPLICAS <node-id>",
            "    The replicas of primary <node-id>, in the NODES format.",
            "SHARDS",
            "    The cluster's shards: slot ranges and nodes.",
            "SLAVES <node-id>",
            "    The same as REPLICAS (deprecated name).",
            "SLOTS",
            "    The cluster's slot ranges and the nodes serving them.",
        ],
    );
    Ok(())
}

fn info(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    require_cluster(ctx)?;
    let st = &ctx.eng.cluster;
    let assigned = st.assigned();
    let known = members(&st.topology.shards).len().max(1);
    let size = st
        .topology
        .shards
        .iter()
        .filter(|s| !s.slots.is_empty())
        .count();
    let state = if assigned == SLOTS { "ok" } else { "fail" };
    let my_epoch = st.my_shard.map_or(0, |i| i + 1);
    let links = known.saturating_sub(1) as u64;
    let ticks = (wall_ms() - st.since_ms).max(0) as u64 / 1000 * links;
    let text = format!(
        "cluster_state:{state}\r\ncluster_slots_assigned:{assigned}\r\ncluster_slots_ok:{assigned}\r\ncluster_slots_pfail:0\r\ncluster_slots_fail:0\r\ncluster_known_nodes:{known}\r\ncluster_size:{size}\r\ncluster_current_epoch:{}\r\ncluster_my_epoch:{my_epoch}\r\ncluster_stats_messages_ping_sent:{ticks}\r\ncluster_stats_messages_pong_sent:{ticks}\r\ncluster_stats_messages_sent:{}\r\ncluster_stats_messages_ping_received:{ticks}\r\ncluster_stats_messages_pong_received:{ticks}\r\ncluster_stats_messages_received:{}\r\ntotal_cluster_links_buffer_limit_exceeded:0\r\n",
        st.topology.shards.len(),
        ticks * 2,
        ticks * 2,
    );
    ctx.out.verbatim("txt", text.as_bytes());
    Ok(())
}

fn myid(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    require_cluster(ctx)?;
    let id = ctx.eng.cluster.node_id.clone();
    ctx.out.bulk(id.as_bytes());
    Ok(())
}

fn myshardid(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    require_cluster(ctx)?;
    let id = match ctx.eng.cluster.me() {
        Some((s, _, _)) => s.shard_id.clone(),
        None => ctx.eng.cluster.node_id.clone(),
    };
    ctx.out.bulk(id.as_bytes());
    Ok(())
}

fn keyslot(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    require_cluster(ctx)?;
    ctx.out.int(i64::from(key_slot(argv.get(2))));
    Ok(())
}

fn slot_arg(argv: &Argv<'_>, i: usize) -> Result<u16, CmdError> {
    let n = argv
        .i64(i)
        .map_err(|_| CmdError::from("ERR Invalid slot"))?;
    if !(0..SLOTS as i64).contains(&n) {
        return Err("ERR Invalid slot".into());
    }
    Ok(n as u16)
}

/// Live keys of database 0 in `slot`, at most `limit`: from the slot index (cluster mode
/// keeps one), else a scan of the keyspace.
fn keys_in_slot(ctx: &mut Ctx<'_>, slot: u16, limit: usize) -> Vec<Vec<u8>> {
    let now = ctx.now;
    let db = &mut ctx.eng.dbs[0];
    if let Some(keys) = db.slot_keys(&[(slot, slot)], limit, now) {
        return keys.into_iter().map(|k| k.to_vec()).collect();
    }
    db.iter()
        .filter(|(k, e)| (e.expire_at == 0 || e.expire_at > now) && key_slot(k) == slot)
        .take(limit)
        .map(|(k, _)| k.to_vec())
        .collect()
}

/// A CLUSTER SLOT-STATS metric (`key-count` always; the others with
/// `cluster-slot-stats-enabled`).
#[derive(Clone, Copy)]
enum Metric {
    KeyCount,
    CpuUsec,
    NetIn,
    NetOut,
}

/// What CLUSTER SLOT-STATS lists: a slot range, or the slots ordered by a metric.
enum SlotSelection {
    Range(u16, u16),
    Ordered {
        by: Metric,
        limit: usize,
        ascending: bool,
    },
}

fn slot_stats_args(argv: &Argv<'_>, enabled: bool) -> Result<SlotSelection, CmdError> {
    if argv.is(2, "slotsrange") && argv.len() == 5 {
        let (start, end) = (slot_arg(argv, 3)?, slot_arg(argv, 4)?);
        if start > end {
            return Err(format!(
                "ERR Start slot number {start} is greater than end slot number {end}"
            )
            .into());
        }
        return Ok(SlotSelection::Range(start, end));
    }
    if !argv.is(2, "orderby") {
        return Err(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLUSTER HELP.",
            String::from_utf8_lossy(argv.get(1))
        )
        .into());
    }
    // The usage metrics are sort keys only while they are kept.
    let by = match argv.str(3).to_ascii_lowercase().as_str() {
        "key-count" => Metric::KeyCount,
        "cpu-usec" if enabled => Metric::CpuUsec,
        "network-bytes-in" if enabled => Metric::NetIn,
        "network-bytes-out" if enabled => Metric::NetOut,
        _ => return Err("ERR Unrecognized sort metric for ORDERBY.".into()),
    };
    let (mut limit, mut ascending, mut i) = (SLOTS, false, 4);
    let (mut limits, mut orders) = (0, 0);
    while i < argv.len() {
        if argv.is(i, "limit") && i + 1 < argv.len() {
            let bad = || {
                CmdError::from(format!(
                    "ERR Limit has to lie in between 1 and {SLOTS} (maximum number of slots)."
                ))
            };
            let n = argv.i64(i + 1).map_err(|_| bad())?;
            if !(1..=SLOTS as i64).contains(&n) {
                return Err(bad());
            }
            limit = n as usize;
            limits += 1;
            i += 2;
        } else if argv.is(i, "asc") || argv.is(i, "desc") {
            ascending = argv.is(i, "asc");
            orders += 1;
            i += 1;
        } else {
            return Err(errors::SYNTAX.into());
        }
        if limits > 1 || orders > 1 {
            return Err("ERR Multiple filters of the same type are disallowed.".into());
        }
    }
    Ok(SlotSelection::Ordered {
        by,
        limit,
        ascending,
    })
}

/// One slot's figures, in the order SLOT-STATS lists them.
#[derive(Clone, Copy)]
struct SlotFigures {
    keys: i64,
    usage: crate::engine::slot_stats::SlotUsage,
}

impl SlotFigures {
    fn metric(&self, m: Metric) -> u64 {
        match m {
            Metric::KeyCount => self.keys as u64,
            Metric::CpuUsec => self.usage.cpu_usec,
            Metric::NetIn => self.usage.net_in,
            Metric::NetOut => self.usage.net_out,
        }
    }
}

/// CLUSTER SLOT-STATS (Valkey 8.0): per slot of this node's shard its `key-count` and, with
/// `cluster-slot-stats-enabled`, `cpu-usec`, `network-bytes-in` and `network-bytes-out`
/// (`engine::slot_stats`), for a slot range (ascending slots) or ordered by one of them
/// (ties by ascending slot).
fn slot_stats(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    require_cluster(ctx)?;
    let enabled = ctx.eng.cfg.slot_stats;
    let selection = slot_stats_args(argv, enabled)?;
    let mut mine = vec![false; SLOTS];
    if let Some((shard, _, _)) = ctx.eng.cluster.me() {
        for &(a, b) in &shard.slots {
            mine[a as usize..=b as usize].fill(true);
        }
    }
    let now = ctx.now;
    let mut counts = vec![0i64; SLOTS];
    for (k, e) in ctx.eng.dbs[0].iter() {
        if e.expire_at == 0 || e.expire_at > now {
            counts[key_slot(k) as usize] += 1;
        }
    }
    let stats = &ctx.eng.slot_stats;
    let figures = |s: usize| SlotFigures {
        keys: counts[s],
        usage: stats.get(s),
    };
    let rows: Vec<(usize, SlotFigures)> = match selection {
        SlotSelection::Range(a, b) => (a as usize..=b as usize)
            .filter(|&s| mine[s])
            .map(|s| (s, figures(s)))
            .collect(),
        SlotSelection::Ordered {
            by,
            limit,
            ascending,
        } => {
            let mut all: Vec<(usize, SlotFigures)> = (0..SLOTS)
                .filter(|&s| mine[s])
                .map(|s| (s, figures(s)))
                .collect();
            all.sort_by(|x, y| {
                let (a, b) = (x.1.metric(by), y.1.metric(by));
                let by_metric = if ascending { a.cmp(&b) } else { b.cmp(&a) };
                by_metric.then(x.0.cmp(&y.0))
            });
            all.truncate(limit);
            all
        }
    };
    ctx.out.array(rows.len());
    for (slot, f) in rows {
        ctx.out.array(2);
        ctx.out.int(slot as i64);
        ctx.out.map(if enabled { 4 } else { 1 });
        ctx.out.bulk(b"key-count");
        ctx.out.int(f.keys);
        if enabled {
            for (name, v) in [
                (&b"cpu-usec"[..], f.usage.cpu_usec),
                (b"network-bytes-in", f.usage.net_in),
                (b"network-bytes-out", f.usage.net_out),
            ] {
                ctx.out.bulk(name);
                ctx.out.int(v as i64);
            }
        }
    }
    Ok(())
}

fn countkeysinslot(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    require_cluster(ctx)?;
    let slot = slot_arg(argv, 2)?;
    let n = keys_in_slot(ctx, slot, usize::MAX).len();
    ctx.out.int(n as i64);
    Ok(())
}

fn getkeysinslot(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    require_cluster(ctx)?;
    let slot = slot_arg(argv, 2)?;
    let count = argv.i64(3)?;
    if count < 0 {
        return Err("ERR Invalid number of keys".into());
    }
    let keys = keys_in_slot(ctx, slot, count as usize);
    ctx.out.array(keys.len());
    for k in &keys {
        ctx.out.bulk(k);
    }
    Ok(())
}

fn replicas(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    require_cluster(ctx)?;
    let id = argv.str(2);
    let topo = ctx.eng.cluster.topology.clone();
    let all = members(&topo.shards);
    let Some(m) = all.iter().find(|m| m.node.node_id == id) else {
        return Err(format!("ERR Unknown node {id}").into());
    };
    if !m.primary {
        return Err("ERR The specified node is not a master".into());
    }
    let now = wall_ms();
    let lines: Vec<String> = all
        .iter()
        .filter(|r| !r.primary && r.shard == m.shard)
        .map(|r| format!("{}\n", node_line(ctx, r, now)))
        .collect();
    ctx.out.array(lines.len());
    for l in &lines {
        ctx.out.verbatim("txt", l.as_bytes());
    }
    Ok(())
}

fn links(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    require_cluster(ctx)?;
    let me = ctx.eng.cluster.node_id.clone();
    let since = ctx.eng.cluster.since_ms;
    let topo = ctx.eng.cluster.topology.clone();
    let peers: Vec<String> = members(&topo.shards)
        .iter()
        .filter(|m| m.node.node_id != me)
        .map(|m| m.node.node_id.clone())
        .collect();
    ctx.out.array(peers.len() * 2);
    for p in &peers {
        for (dir, events) in [("to", "rw"), ("from", "r")] {
            ctx.out.map(6);
            ctx.out.bulk(b"direction");
            ctx.out.bulk(dir.as_bytes());
            ctx.out.bulk(b"node");
            ctx.out.bulk(p.as_bytes());
            ctx.out.bulk(b"create-time");
            ctx.out.int(since);
            ctx.out.bulk(b"events");
            ctx.out.bulk(events.as_bytes());
            ctx.out.bulk(b"send-buffer-allocated");
            ctx.out.int(0);
            ctx.out.bulk(b"send-buffer-used");
            ctx.out.int(0);
        }
    }
    Ok(())
}
