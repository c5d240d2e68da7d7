//! Runtime configuration (`CONFIG GET/SET`, initial parameters from the supervisor).
//!
//! Place in the flow: [`Config`] lives inside the engine; `CONFIG SET`, `RedisNode::config_set`
//! and node start all go through [`Config::set`], which validates like Redis and refreshes the
//! typed copies the hot paths read (maxmemory, policy, notification flags, bulk limit…).
//! Parameters ElastiCache exposes in its Redis parameter groups are all known here; values are kept in their
//! canonical string form so `CONFIG GET` echoes what Redis would. A parameter a later release
//! brought ([`LATER`]) exists only on the nodes of that release or newer: elsewhere it is an
//! unknown option, as the older engine answers.

use crate::db::evict::Policy;
use crate::glob::glob_match_nocase;
use crate::memsize::parse_memory;
use crate::version::{
    EngineVersion,
    Release::{Redis, Valkey},
    Since,
};
use std::collections::BTreeMap;

/// How a parameter's value is validated and normalised.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// Memory size (`100mb`, `1gb`…), shown in bytes.
    Bytes,
    /// Memory size with a lower bound (Redis's floor for the query buffer limits).
    BytesAtLeast(u64),
    /// Integer within bounds.
    Int(i64, i64),
    /// `yes` / `no`.
    Bool,
    /// One of the listed words.
    Enum(&'static [&'static str]),
    /// Free text.
    Text,
    /// Keyspace notification flags.
    Notify,
    /// Accepted but immutable at runtime.
    ReadOnly,
    /// Settable at runtime on redis-server, fixed on a node (its address is the cluster's
    /// endpoint): setting the value it has is accepted, as redis-server accepts it, and any
    /// other value is refused as immutable.
    NodeFixed,
    /// `client-output-buffer-limit`: class groups merged into the current limits.
    BufferLimits,
    /// `latency-tracking-info-percentiles`: numbers from 0 to 100.
    Percentiles,
    /// A memory size or a percentage of `maxmemory` (`maxmemory-clients`).
    BytesOrPercent,
}

/// (name, default, kind). Names as Redis spells them; aliases are listed separately.
const PARAMS: &[(&str, &str, Kind)] = &[
    ("maxmemory", "0", Kind::Bytes),
    (
        "maxmemory-policy",
        "noeviction",
        Kind::Enum(&[
            "noeviction",
            "allkeys-lru",
            "volatile-lru",
            "allkeys-lfu",
            "volatile-lfu",
            "allkeys-random",
            "volatile-random",
            "volatile-ttl",
        ]),
    ),
    ("maxmemory-samples", "5", Kind::Int(1, i32::MAX as i64)),
    ("maxmemory-eviction-tenacity", "10", Kind::Int(0, 100)),
    ("maxmemory-clients", "0", Kind::BytesOrPercent),
    ("lfu-log-factor", "10", Kind::Int(0, i32::MAX as i64)),
    ("lfu-decay-time", "1", Kind::Int(0, i32::MAX as i64)),
    ("timeout", "0", Kind::Int(0, i32::MAX as i64)),
    ("tcp-keepalive", "300", Kind::Int(0, i32::MAX as i64)),
    ("notify-keyspace-events", "", Kind::Notify),
    ("databases", "16", Kind::ReadOnly),
    ("slowlog-log-slower-than", "10000", Kind::Int(-1, i64::MAX)),
    ("slowlog-max-len", "128", Kind::Int(0, i64::MAX)),
    (
        "commandlog-request-larger-than",
        "1048576",
        Kind::Int(-1, i64::MAX),
    ),
    (
        "commandlog-large-request-max-len",
        "128",
        Kind::Int(0, i64::MAX),
    ),
    (
        "commandlog-reply-larger-than",
        "1048576",
        Kind::Int(-1, i64::MAX),
    ),
    (
        "commandlog-large-reply-max-len",
        "128",
        Kind::Int(0, i64::MAX),
    ),
    ("latency-monitor-threshold", "0", Kind::Int(0, i64::MAX)),
    ("latency-tracking", "yes", Kind::Bool),
    ("busy-reply-threshold", "5000", Kind::Int(0, i64::MAX)),
    ("maxclients", "65000", Kind::Int(1, i64::MAX)),
    ("appendonly", "no", Kind::Bool),
    (
        "appendfsync",
        "everysec",
        Kind::Enum(&["always", "everysec", "no"]),
    ),
    ("appenddirname", "appendonlydir", Kind::ReadOnly),
    ("appendfilename", "appendonly.aof", Kind::ReadOnly),
    ("aof-use-rdb-preamble", "yes", Kind::Bool),
    ("aof-load-truncated", "yes", Kind::Bool),
    ("auto-aof-rewrite-percentage", "100", Kind::Int(0, i64::MAX)),
    ("auto-aof-rewrite-min-size", "67108864", Kind::Bytes),
    ("save", "", Kind::Text),
    ("close-on-replica-write", "yes", Kind::Bool),
    ("min-replicas-to-write", "0", Kind::Int(0, i64::MAX)),
    ("min-replicas-max-lag", "10", Kind::Int(0, i64::MAX)),
    ("repl-backlog-size", "1048576", Kind::Bytes),
    ("repl-backlog-ttl", "3600", Kind::Int(0, i64::MAX)),
    ("repl-timeout", "60", Kind::Int(1, i64::MAX)),
    ("replica-lazy-flush", "yes", Kind::Bool),
    ("replica-ignore-maxmemory", "yes", Kind::Bool),
    ("replica-read-only", "yes", Kind::Bool),
    ("replica-announce-ip", "", Kind::Text),
    ("replica-announce-port", "0", Kind::Int(0, 65535)),
    (
        "client-query-buffer-limit",
        "1073741824",
        Kind::BytesAtLeast(1 << 20),
    ),
    (
        "proto-max-bulk-len",
        "536870912",
        Kind::BytesAtLeast(1 << 20),
    ),
    ("lazyfree-lazy-eviction", "no", Kind::Bool),
    ("lazyfree-lazy-expire", "no", Kind::Bool),
    ("lazyfree-lazy-server-del", "no", Kind::Bool),
    ("lazyfree-lazy-user-del", "no", Kind::Bool),
    ("lazyfree-lazy-user-flush", "no", Kind::Bool),
    ("activedefrag", "no", Kind::Bool),
    ("active-defrag-cycle-min", "1", Kind::Int(1, 99)),
    ("active-defrag-cycle-max", "25", Kind::Int(1, 99)),
    ("active-defrag-ignore-bytes", "104857600", Kind::Bytes),
    ("active-defrag-threshold-lower", "10", Kind::Int(0, 1000)),
    ("active-defrag-threshold-upper", "100", Kind::Int(0, 1000)),
    ("active-expire-effort", "1", Kind::Int(1, 10)),
    ("activerehashing", "yes", Kind::Bool),
    (
        "acl-pubsub-default",
        "resetchannels",
        Kind::Enum(&["resetchannels", "allchannels"]),
    ),
    ("acllog-max-len", "128", Kind::Int(0, i64::MAX)),
    ("tracking-table-max-keys", "1000000", Kind::Int(0, i64::MAX)),
    ("hash-max-listpack-entries", "128", Kind::Int(0, i64::MAX)),
    ("hash-max-listpack-value", "64", Kind::Int(0, i64::MAX)),
    ("zset-max-listpack-entries", "128", Kind::Int(0, i64::MAX)),
    ("zset-max-listpack-value", "64", Kind::Int(0, i64::MAX)),
    (
        "list-max-listpack-size",
        "-2",
        Kind::Int(i64::MIN, i64::MAX),
    ),
    ("list-compress-depth", "0", Kind::Int(0, i64::MAX)),
    ("set-max-intset-entries", "512", Kind::Int(0, i64::MAX)),
    ("set-max-listpack-entries", "128", Kind::Int(0, i64::MAX)),
    ("set-max-listpack-value", "64", Kind::Int(0, i64::MAX)),
    ("stream-node-max-bytes", "4096", Kind::Bytes),
    ("stream-node-max-entries", "100", Kind::Int(0, i64::MAX)),
    ("hll-sparse-max-bytes", "3000", Kind::Bytes),
    ("cluster-enabled", "no", Kind::ReadOnly),
    ("cluster-require-full-coverage", "yes", Kind::Bool),
    ("cluster-allow-reads-when-down", "no", Kind::Bool),
    ("cluster-allow-pubsubshard-when-down", "yes", Kind::Bool),
    ("cluster-node-timeout", "15000", Kind::Int(0, i64::MAX)),
    ("cluster-slot-stats-enabled", "no", Kind::Bool),
    ("hz", "10", Kind::Int(1, 500)),
    ("dynamic-hz", "yes", Kind::Bool),
    ("io-threads", "1", Kind::ReadOnly),
    ("requirepass", "", Kind::Text),
    ("port", "6379", Kind::NodeFixed),
    ("bind", "", Kind::NodeFixed),
    ("protected-mode", "no", Kind::Bool),
    (
        "loglevel",
        "notice",
        Kind::Enum(&["debug", "verbose", "notice", "warning", "nothing"]),
    ),
    ("dir", "/data", Kind::Text),
    ("dbfilename", "dump.rdb", Kind::Text),
    (
        "client-output-buffer-limit",
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        Kind::BufferLimits,
    ),
    ("enable-debug-command", "yes", Kind::ReadOnly),
    // redis-server's start-up settings, immutable at runtime there too, with a node's values:
    // CONFIG SET of one is refused as redis-server refuses it.
    ("daemonize", "no", Kind::ReadOnly),
    ("supervised", "no", Kind::ReadOnly),
    ("pidfile", "", Kind::ReadOnly),
    ("logfile", "", Kind::ReadOnly),
    ("syslog-enabled", "no", Kind::ReadOnly),
    ("syslog-ident", "redis", Kind::ReadOnly),
    ("syslog-facility", "local0", Kind::ReadOnly),
    ("tcp-backlog", "511", Kind::ReadOnly),
    ("unixsocket", "", Kind::ReadOnly),
    ("unixsocketperm", "0", Kind::ReadOnly),
    ("always-show-logo", "no", Kind::ReadOnly),
    ("set-proc-title", "no", Kind::ReadOnly),
    ("io-threads-do-reads", "no", Kind::ReadOnly),
    ("aclfile", "", Kind::ReadOnly),
    ("enable-protected-configs", "no", Kind::ReadOnly),
    ("enable-module-command", "no", Kind::ReadOnly),
    // The primary this node replicates ("host port", empty on a primary): the engine fills
    // it in for CONFIG GET (`Engine::replicaof`); REPLICAOF changes it, not CONFIG SET.
    ("replicaof", "", Kind::ReadOnly),
    (
        "latency-tracking-info-percentiles",
        "50 99 99.9",
        Kind::Percentiles,
    ),
];

/// Renamed parameters and the canonical name they map to.
const ALIASES: &[(&str, &str)] = &[
    ("hash-max-ziplist-entries", "hash-max-listpack-entries"),
    ("hash-max-ziplist-value", "hash-max-listpack-value"),
    ("zset-max-ziplist-entries", "zset-max-listpack-entries"),
    ("zset-max-ziplist-value", "zset-max-listpack-value"),
    ("list-max-ziplist-size", "list-max-listpack-size"),
    ("close-on-slave-write", "close-on-replica-write"),
    ("slaveof", "replicaof"),
    ("min-slaves-to-write", "min-replicas-to-write"),
    ("min-slaves-max-lag", "min-replicas-max-lag"),
    ("slave-lazy-flush", "replica-lazy-flush"),
    ("slave-read-only", "replica-read-only"),
    ("lua-time-limit", "busy-reply-threshold"),
    // Valkey 8.1 names the slow log's two settings as the command log's slow type; both
    // spellings stay valid and name the same value.
    (
        "commandlog-execution-slower-than",
        "slowlog-log-slower-than",
    ),
    ("commandlog-slow-execution-max-len", "slowlog-max-len"),
];

/// Valkey 8.1's command log parameters.
const COMMANDLOG: Since = Since::from(Valkey(8, 1, 0));

/// Names (canonical or alias) a later release brought, with the first release having them.
const LATER: &[(&str, Since)] = &[
    ("commandlog-execution-slower-than", COMMANDLOG),
    ("commandlog-slow-execution-max-len", COMMANDLOG),
    ("commandlog-request-larger-than", COMMANDLOG),
    ("commandlog-large-request-max-len", COMMANDLOG),
    ("commandlog-reply-larger-than", COMMANDLOG),
    ("commandlog-large-reply-max-len", COMMANDLOG),
    ("cluster-slot-stats-enabled", Since::from(Valkey(8, 0, 0))),
    ("maxmemory-clients", Since::from(Redis(7, 0, 0))),
];

/// Keyspace notification class bits (`notify-keyspace-events`).
pub mod notify {
    #![allow(missing_docs)]
    pub const KEYSPACE: u32 = 1 << 0; // K
    pub const KEYEVENT: u32 = 1 << 1; // E
    pub const GENERIC: u32 = 1 << 2; // g
    pub const STRING: u32 = 1 << 3; // $
    pub const LIST: u32 = 1 << 4; // l
    pub const SET: u32 = 1 << 5; // s
    pub const HASH: u32 = 1 << 6; // h
    pub const ZSET: u32 = 1 << 7; // z
    pub const EXPIRED: u32 = 1 << 8; // x
    pub const EVICTED: u32 = 1 << 9; // e
    pub const STREAM: u32 = 1 << 10; // t
    pub const KEY_MISS: u32 = 1 << 11; // m
    pub const MODULE: u32 = 1 << 12; // d
    pub const NEW: u32 = 1 << 13; // n
    /// What `A` stands for.
    pub const ALL: u32 =
        GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;
}

/// Parses notification flags; `None` on an unknown character.
pub fn parse_notify(s: &str) -> Option<u32> {
    use notify::*;
    let mut f = 0;
    for c in s.chars() {
        f |= match c {
            'A' => ALL,
            'g' => GENERIC,
            '$' => STRING,
            'l' => LIST,
            's' => SET,
            'h' => HASH,
            'z' => ZSET,
            'x' => EXPIRED,
            'e' => EVICTED,
            'K' => KEYSPACE,
            'E' => KEYEVENT,
            't' => STREAM,
            'm' => KEY_MISS,
            'd' => MODULE,
            'n' => NEW,
            _ => return None,
        };
    }
    Some(f)
}

/// Canonical flag string, in Redis' order.
pub fn notify_to_string(f: u32) -> String {
    use notify::*;
    let mut s = String::new();
    if f & ALL == ALL {
        s.push('A');
    } else {
        for (bit, c) in [
            (GENERIC, 'g'),
            (STRING, '$'),
            (LIST, 'l'),
            (SET, 's'),
            (HASH, 'h'),
            (ZSET, 'z'),
            (EXPIRED, 'x'),
            (EVICTED, 'e'),
            (STREAM, 't'),
            (MODULE, 'd'),
            (NEW, 'n'),
        ] {
            if f & bit != 0 {
                s.push(c);
            }
        }
    }
    // redis-server's order: `n` only without `A` (which does not show it), `m` last.
    for (bit, c) in [(KEYSPACE, 'K'), (KEYEVENT, 'E'), (KEY_MISS, 'm')] {
        if f & bit != 0 {
            s.push(c);
        }
    }
    s
}

/// The node's configuration.
#[derive(Clone, Debug)]
pub struct Config {
    values: BTreeMap<&'static str, String>,
    /// The integer-valued parameters parsed once when set, so commands that consult a
    /// threshold on every call (listpack/intset limits) skip name canonicalisation, the string
    /// clone and the parse: the profile of ZADD/HSET at -P 16 showed ~7% of CPU there.
    ints: BTreeMap<&'static str, i64>,
    /// `maxmemory` in bytes (0 = none).
    pub maxmemory: u64,
    /// `maxmemory-policy`.
    pub policy: Policy,
    /// `maxmemory-samples`.
    pub samples: usize,
    /// `lfu-log-factor`.
    pub lfu_log_factor: u32,
    /// `lfu-decay-time`.
    pub lfu_decay_time: u32,
    /// `notify-keyspace-events` bits.
    pub notify: u32,
    /// Idle client timeout (seconds, 0 = none).
    pub timeout: u64,
    /// `proto-max-bulk-len`.
    pub proto_max_bulk_len: usize,
    /// `client-query-buffer-limit`.
    pub query_buffer_limit: usize,
    /// `slowlog-log-slower-than` (µs; negative disables).
    pub slowlog_slower_than: i64,
    /// `slowlog-max-len`.
    pub slowlog_max_len: usize,
    /// `commandlog-request-larger-than` (bytes; negative disables the log).
    pub request_larger_than: i64,
    /// `commandlog-large-request-max-len`.
    pub request_log_max_len: usize,
    /// `commandlog-reply-larger-than` (bytes; negative disables the log).
    pub reply_larger_than: i64,
    /// `commandlog-large-reply-max-len`.
    pub reply_log_max_len: usize,
    /// `cluster-slot-stats-enabled`: whether CPU and network use is counted per slot.
    pub slot_stats: bool,
    /// The release whose parameters the node offers (`None`: every parameter known here).
    release: Option<EngineVersion>,
    /// Password of the default user.
    pub requirepass: Option<String>,
    /// `active-expire-effort` (1–10).
    pub active_expire_effort: usize,
    /// Whether the periodic cycle expires keys (`DEBUG SET-ACTIVE-EXPIRE 0` turns it off, as
    /// Redis's tests do for deterministic expiry: keys then expire only when accessed).
    pub active_expire_enabled: bool,
    /// `latency-monitor-threshold` in ms (0 = off).
    pub latency_threshold_ms: u64,
    /// `latency-tracking`: every call's run time goes into its command's histogram.
    pub latency_tracking: bool,
    /// `latency-tracking-info-percentiles`: what INFO latencystats prints.
    pub latency_percentiles: Vec<f64>,
    /// `client-output-buffer-limit`, per class.
    pub output_limits: crate::outbuf::OutputLimits,
    /// `busy-reply-threshold` (alias `lua-time-limit`), ms: read on every script run.
    pub busy_reply_threshold: i64,
    /// `maxclients`: read on every accepted connection.
    pub maxclients: usize,
    /// `maxmemory-clients`: read after every batch while it is set.
    pub maxmemory_clients: ClientMemoryLimit,
    /// `tracking-table-max-keys`: read before every command while clients track keys.
    pub tracking_table_max_keys: usize,
    /// `min-replicas-to-write` and `min-replicas-max-lag` (seconds): read before every write
    /// of a primary; either at 0 turns the check off, as in Redis.
    pub min_replicas: (usize, i64),
    /// `DEBUG PAUSE-CRON 1`: the node's periodic cycle does nothing (tests).
    pub cron_paused: bool,
    /// `lazyfree-lazy-user-del`: DEL frees large values in the background, as UNLINK does.
    pub lazy_user_del: bool,
    /// `lazyfree-lazy-user-flush`: FLUSHALL/FLUSHDB without SYNC or ASYNC free in the
    /// background.
    pub lazy_user_flush: bool,
    /// `lazyfree-lazy-expire`.
    pub lazy_expire: bool,
    /// `lazyfree-lazy-eviction`.
    pub lazy_eviction: bool,
    /// `lazyfree-lazy-server-del`.
    pub lazy_server_del: bool,
    /// `DEBUG SET-DISABLE-DENY-SCRIPTS 1`: scripts may call `noscript` commands (tests).
    pub scripts_may_call_noscript: bool,
    /// The collection encoding limits, read on every write to a hash, zset, set or list (a
    /// lookup by name in the parameter map cost ~500 instructions, two per HSET or ZADD).
    pub encoding: EncodingLimits,
}

/// `*-max-listpack-*`, `set-max-intset-entries`, `list-max-listpack-size` and
/// `stream-node-max-entries`, as the parameters set them (the defaults are Redis's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncodingLimits {
    /// `hash-max-listpack-entries`, `hash-max-listpack-value`.
    pub hash: (i64, i64),
    /// `zset-max-listpack-entries`, `zset-max-listpack-value`.
    pub zset: (i64, i64),
    /// `set-max-listpack-entries`, `set-max-listpack-value`.
    pub set: (i64, i64),
    /// `set-max-intset-entries`.
    pub intset_entries: i64,
    /// `list-max-listpack-size`.
    pub list_size: i64,
    /// `stream-node-max-entries`.
    pub stream_node_entries: i64,
}

impl Default for EncodingLimits {
    fn default() -> Self {
        EncodingLimits {
            hash: (128, 64),
            zset: (128, 64),
            set: (128, 64),
            intset_entries: 512,
            list_size: -2,
            stream_node_entries: 100,
        }
    }
}

impl EncodingLimits {
    /// Takes the parameter `name`'s new integer value when it is one of these.
    fn update(&mut self, name: &str, v: i64) {
        let field = match name {
            "hash-max-listpack-entries" => &mut self.hash.0,
            "hash-max-listpack-value" => &mut self.hash.1,
            "zset-max-listpack-entries" => &mut self.zset.0,
            "zset-max-listpack-value" => &mut self.zset.1,
            "set-max-listpack-entries" => &mut self.set.0,
            "set-max-listpack-value" => &mut self.set.1,
            "set-max-intset-entries" => &mut self.intset_entries,
            "list-max-listpack-size" => &mut self.list_size,
            "stream-node-max-entries" => &mut self.stream_node_entries,
            _ => return,
        };
        *field = v;
    }
}

impl Default for Config {
    fn default() -> Self {
        let mut c = Config {
            values: BTreeMap::new(),
            ints: BTreeMap::new(),
            maxmemory: 0,
            policy: Policy::NoEviction,
            samples: 5,
            lfu_log_factor: 10,
            lfu_decay_time: 1,
            notify: 0,
            timeout: 0,
            proto_max_bulk_len: 512 << 20,
            query_buffer_limit: 1 << 30,
            slowlog_slower_than: 10_000,
            slowlog_max_len: 128,
            request_larger_than: 1 << 20,
            request_log_max_len: 128,
            reply_larger_than: 1 << 20,
            reply_log_max_len: 128,
            slot_stats: false,
            release: None,
            requirepass: None,
            active_expire_effort: 1,
            active_expire_enabled: true,
            latency_threshold_ms: 0,
            latency_tracking: true,
            latency_percentiles: vec![50.0, 99.0, 99.9],
            output_limits: crate::outbuf::OutputLimits::default(),
            busy_reply_threshold: 5000,
            maxclients: 65000,
            maxmemory_clients: ClientMemoryLimit::Bytes(0),
            tracking_table_max_keys: 1_000_000,
            min_replicas: (0, 10),
            cron_paused: false,
            lazy_user_del: false,
            lazy_user_flush: false,
            lazy_expire: false,
            lazy_eviction: false,
            lazy_server_del: false,
            scripts_may_call_noscript: false,
            encoding: EncodingLimits::default(),
        };
        for (name, def, _) in PARAMS {
            c.put(name, def.to_string());
        }
        c
    }
}

/// `maxmemory-clients`: how much memory the clients together may use before the largest is
/// evicted (0: no limit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientMemoryLimit {
    /// A size in bytes.
    Bytes(u64),
    /// A percentage of `maxmemory` (no limit while `maxmemory` is 0).
    Percent(u64),
}

impl ClientMemoryLimit {
    /// The limit in bytes with this `maxmemory` (0: none).
    pub fn bytes(self, maxmemory: u64) -> u64 {
        match self {
            ClientMemoryLimit::Bytes(b) => b,
            ClientMemoryLimit::Percent(p) => maxmemory / 100 * p + maxmemory % 100 * p / 100,
        }
    }
}

/// A memory size (`1mb`) or a percentage (`10%`, at most 100), with redis-server's errors.
fn parse_bytes_or_percent(value: &str) -> Result<ClientMemoryLimit, &'static str> {
    const BAD: &str = "argument must be a memory or percent value";
    if let Some(p) = value.strip_suffix('%') {
        let p: u64 = p.parse().map_err(|_| BAD)?;
        if p > 100 {
            return Err("percentage argument must be less or equal to 100");
        }
        return Ok(ClientMemoryLimit::Percent(p));
    }
    parse_memory(value).map(ClientMemoryLimit::Bytes).ok_or(BAD)
}

fn canonical(name: &str) -> Option<(&'static str, Kind)> {
    canonical_lower(&name.to_ascii_lowercase())
}

fn canonical_lower(lower: &str) -> Option<(&'static str, Kind)> {
    let target = ALIASES
        .iter()
        .find(|(a, _)| *a == lower)
        .map(|(_, t)| *t)
        .unwrap_or(lower);
    PARAMS
        .iter()
        .find(|(n, _, _)| *n == target)
        .map(|(n, _, k)| (*n, *k))
}

impl Config {
    /// The configuration of a node of `release`: the parameters that release has, at their
    /// defaults.
    pub fn for_release(release: EngineVersion) -> Config {
        let mut c = Config {
            release: Some(release),
            ..Config::default()
        };
        for (name, since) in LATER {
            if !release.has(*since) {
                c.values.remove(name);
                c.ints.remove(name);
            }
        }
        c
    }

    /// Whether the node's release has a parameter of this (lowercase) name.
    fn offers(&self, lower: &str) -> bool {
        match (self.release, LATER.iter().find(|(n, _)| *n == lower)) {
            (Some(release), Some((_, since))) => release.has(*since),
            _ => true,
        }
    }

    /// A parameter name resolved for this node: canonical name and kind, `None` when the
    /// node's release does not have it.
    fn lookup(&self, name: &str) -> Option<(&'static str, Kind)> {
        let lower = name.to_ascii_lowercase();
        if !self.offers(&lower) {
            return None;
        }
        canonical_lower(&lower)
    }

    /// Sets a parameter like `CONFIG SET` (validation, normalisation, typed refresh). The error
    /// is the reason text; the caller wraps it in Redis' CONFIG SET message.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let given = name.to_ascii_lowercase();
        let Some((name, kind)) = self.lookup(name) else {
            return Err(format!(
                "Unknown option or number of arguments for CONFIG SET - '{name}'"
            ));
        };
        // The error names the parameter as the client spelled it (an alias stays an alias).
        let bad = |why: &str| {
            Err(format!(
                "CONFIG SET failed (possibly related to argument '{given}') - {why}"
            ))
        };
        let norm = match kind {
            Kind::ReadOnly => return bad("can't set immutable config"),
            Kind::NodeFixed if self.get(name).as_deref() == Some(value) => return Ok(()),
            Kind::NodeFixed => return bad("can't set immutable config"),
            Kind::Bytes => match parse_memory(value) {
                Some(v) => v.to_string(),
                None => return bad("argument must be a memory value"),
            },
            Kind::BytesAtLeast(min) => match parse_memory(value) {
                Some(v) if v >= min && v <= i64::MAX as u64 => v.to_string(),
                Some(_) => {
                    return bad(&format!(
                        "argument must be between {min} and {} inclusive",
                        i64::MAX
                    ));
                }
                None => return bad("argument must be a memory value"),
            },
            Kind::Int(lo, hi) => match value.parse::<i64>() {
                Ok(v) if v >= lo && v <= hi => v.to_string(),
                Ok(_) => return bad(&format!("argument must be between {lo} and {hi} inclusive")),
                Err(_) => return bad("argument couldn't be parsed into an integer"),
            },
            Kind::Bool => match value.to_ascii_lowercase().as_str() {
                "yes" | "no" => value.to_ascii_lowercase(),
                _ => return bad("argument must be 'yes' or 'no'"),
            },
            Kind::Enum(opts) => {
                let l = value.to_ascii_lowercase();
                if opts.contains(&l.as_str()) {
                    l
                } else {
                    return bad(&format!(
                        "argument(s) must be one of the following: {}",
                        opts.join(", ")
                    ));
                }
            }
            Kind::Notify => match parse_notify(value) {
                Some(f) => notify_to_string(f),
                None => return bad("Invalid event class character. Use 'Ag$lshzxeKEtmdn'."),
            },
            Kind::Text => value.to_string(),
            Kind::BufferLimits => match self.output_limits.updated(value) {
                Ok(limits) => limits.to_config_string(),
                Err(why) => return bad(why),
            },
            Kind::BytesOrPercent => match parse_bytes_or_percent(value) {
                Ok(ClientMemoryLimit::Percent(0)) => "0".to_string(),
                Ok(ClientMemoryLimit::Percent(p)) => format!("{p}%"),
                Ok(ClientMemoryLimit::Bytes(b)) => b.to_string(),
                Err(why) => return bad(why),
            },
            Kind::Percentiles => match crate::latency::percentiles::parse(value) {
                // Kept as given: the printed form rounds to six decimals, and INFO computes
                // with the value itself (0.0000001 is not percentile 0), as Redis does.
                Ok(ps) => {
                    let shown = crate::latency::percentiles::to_config_string(&ps);
                    self.latency_percentiles = ps;
                    shown
                }
                Err(why) => return bad(why),
            },
        };
        self.put(name, norm);
        self.refresh(name);
        Ok(())
    }

    /// Sets a value bypassing the read-only check (initial parameters from the supervisor).
    pub fn set_initial(&mut self, name: &str, value: &str) -> Result<(), String> {
        if let Some((n, Kind::ReadOnly | Kind::NodeFixed)) = self.lookup(name) {
            self.put(n, value.to_string());
            return Ok(());
        }
        self.set(name, value)
    }

    fn refresh(&mut self, name: &str) {
        let get = |c: &Config| c.values.get(name).cloned().unwrap_or_default();
        match name {
            "maxmemory" => self.maxmemory = get(self).parse().unwrap_or(0),
            "maxmemory-policy" => {
                self.policy = Policy::parse(&get(self)).unwrap_or(Policy::NoEviction)
            }
            "maxmemory-samples" => self.samples = get(self).parse().unwrap_or(5),
            "lfu-log-factor" => self.lfu_log_factor = get(self).parse().unwrap_or(10),
            "lfu-decay-time" => self.lfu_decay_time = get(self).parse().unwrap_or(1),
            "notify-keyspace-events" => self.notify = parse_notify(&get(self)).unwrap_or(0),
            "timeout" => self.timeout = get(self).parse().unwrap_or(0),
            "proto-max-bulk-len" => {
                self.proto_max_bulk_len = get(self).parse().unwrap_or(512 << 20)
            }
            "client-query-buffer-limit" => {
                self.query_buffer_limit = get(self).parse().unwrap_or(1 << 30)
            }
            "slowlog-log-slower-than" => {
                self.slowlog_slower_than = get(self).parse().unwrap_or(10_000)
            }
            "slowlog-max-len" => self.slowlog_max_len = get(self).parse().unwrap_or(128),
            "commandlog-request-larger-than" => {
                self.request_larger_than = get(self).parse().unwrap_or(1 << 20)
            }
            "commandlog-large-request-max-len" => {
                self.request_log_max_len = get(self).parse().unwrap_or(128)
            }
            "commandlog-reply-larger-than" => {
                self.reply_larger_than = get(self).parse().unwrap_or(1 << 20)
            }
            "commandlog-large-reply-max-len" => {
                self.reply_log_max_len = get(self).parse().unwrap_or(128)
            }
            "cluster-slot-stats-enabled" => self.slot_stats = get(self) == "yes",
            "latency-monitor-threshold" => {
                self.latency_threshold_ms = get(self).parse().unwrap_or(0)
            }
            "latency-tracking" => self.latency_tracking = get(self) == "yes",
            "lazyfree-lazy-user-del" => self.lazy_user_del = get(self) == "yes",
            "lazyfree-lazy-user-flush" => self.lazy_user_flush = get(self) == "yes",
            "lazyfree-lazy-expire" => self.lazy_expire = get(self) == "yes",
            "lazyfree-lazy-eviction" => self.lazy_eviction = get(self) == "yes",
            "lazyfree-lazy-server-del" => self.lazy_server_del = get(self) == "yes",
            "active-expire-effort" => self.active_expire_effort = get(self).parse().unwrap_or(1),
            "busy-reply-threshold" => self.busy_reply_threshold = get(self).parse().unwrap_or(5000),
            "maxclients" => self.maxclients = get(self).parse().unwrap_or(65000),
            "maxmemory-clients" => {
                self.maxmemory_clients =
                    parse_bytes_or_percent(&get(self)).unwrap_or(ClientMemoryLimit::Bytes(0))
            }
            "min-replicas-to-write" => self.min_replicas.0 = get(self).parse().unwrap_or(0),
            "min-replicas-max-lag" => self.min_replicas.1 = get(self).parse().unwrap_or(10),
            "tracking-table-max-keys" => {
                self.tracking_table_max_keys = get(self).parse().unwrap_or(1_000_000)
            }
            "client-output-buffer-limit" => {
                // The stored value is canonical (validated by `set`), so this cannot fail.
                let limits = crate::outbuf::OutputLimits::default().updated(&get(self));
                self.output_limits = limits.unwrap_or_default();
            }
            "requirepass" => {
                let p = get(self);
                self.requirepass = if p.is_empty() { None } else { Some(p) };
            }
            _ => {
                if let Some(&v) = self.ints.get(name) {
                    self.encoding.update(name, v);
                }
            }
        }
    }

    /// Current value of a parameter (aliases accepted).
    pub fn get(&self, name: &str) -> Option<String> {
        let (n, _) = self.lookup(name)?;
        self.values.get(n).cloned()
    }

    /// An integer parameter's value: direct lookup for canonical names (the hot path), falling
    /// back to alias/case resolution; `None` when unknown or not an integer.
    pub fn get_i64(&self, name: &str) -> Option<i64> {
        if let Some(v) = self.ints.get(name) {
            return Some(*v);
        }
        let (n, _) = self.lookup(name)?;
        self.ints.get(n).copied()
    }

    /// Stores a value and its parsed integer form (when it has one).
    fn put(&mut self, name: &'static str, value: String) {
        match value.parse::<i64>() {
            Ok(v) => {
                self.ints.insert(name, v);
            }
            Err(_) => {
                self.ints.remove(name);
            }
        }
        self.values.insert(name, value);
    }

    /// `CONFIG GET` with a glob pattern: (name, value) pairs; aliases match by their own name.
    pub fn get_matching(&self, pattern: &[u8]) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .values
            .iter()
            .filter(|(n, _)| glob_match_nocase(pattern, n.as_bytes()))
            .map(|(n, v)| (n.to_string(), v.clone()))
            .collect();
        for (alias, target) in ALIASES {
            if glob_match_nocase(pattern, alias.as_bytes())
                && self.offers(alias)
                && !out.iter().any(|(n, _)| n == alias)
                && let Some(v) = self.values.get(target)
            {
                out.push((alias.to_string(), v.clone()));
            }
        }
        out
    }

    /// Whether a parameter name is known on some release (aliases included).
    pub fn is_known(name: &str) -> bool {
        canonical(name).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_limits_follow_their_parameters_and_aliases() {
        let mut c = Config::default();
        assert_eq!(c.encoding, EncodingLimits::default());
        // The typed defaults are the parameters' defaults.
        assert_eq!(
            c.encoding.zset.0,
            c.get_i64("zset-max-listpack-entries").unwrap()
        );
        assert_eq!(
            c.encoding.list_size,
            c.get_i64("list-max-listpack-size").unwrap()
        );
        c.set("zset-max-ziplist-entries", "7").unwrap();
        c.set("hash-max-listpack-value", "9").unwrap();
        c.set("set-max-intset-entries", "3").unwrap();
        c.set("list-max-listpack-size", "-5").unwrap();
        c.set("stream-node-max-entries", "11").unwrap();
        assert_eq!(c.encoding.zset, (7, 64));
        assert_eq!(c.encoding.hash, (128, 9));
        assert_eq!(c.encoding.intset_entries, 3);
        assert_eq!(c.encoding.list_size, -5);
        assert_eq!(c.encoding.stream_node_entries, 11);
        assert!(c.set("zset-max-listpack-entries", "x").is_err());
        assert_eq!(c.encoding.zset, (7, 64));
    }

    #[test]
    fn notify_flags_round_trip() {
        assert_eq!(notify_to_string(parse_notify("KEA").unwrap()), "AKE");
        assert_eq!(notify_to_string(parse_notify("Ex").unwrap()), "xE");
        assert_eq!(notify_to_string(parse_notify("Kg$").unwrap()), "g$K");
        // As redis-server prints them: `m` after K and E, `n` hidden by `A`.
        assert_eq!(notify_to_string(parse_notify("Km").unwrap()), "Km");
        assert_eq!(notify_to_string(parse_notify("Kgn").unwrap()), "gnK");
        assert_eq!(notify_to_string(parse_notify("AKn").unwrap()), "AK");
        assert!(parse_notify("Q").is_none());
    }

    #[test]
    fn set_validates_and_refreshes() {
        let mut c = Config::default();
        c.set("maxmemory", "1mb").unwrap();
        assert_eq!(c.maxmemory, 1 << 20);
        assert_eq!(c.get("maxmemory").as_deref(), Some("1048576"));
        c.set("MAXMEMORY-POLICY", "allkeys-lru").unwrap();
        assert_eq!(c.policy, Policy::AllKeysLru);
        assert!(c.set("maxmemory-policy", "bogus").is_err());
        assert!(
            c.set("no-such-thing", "1")
                .unwrap_err()
                .starts_with("Unknown option")
        );
        c.set("hash-max-ziplist-entries", "64").unwrap();
        assert_eq!(c.get("hash-max-listpack-entries").as_deref(), Some("64"));
        assert!(c.set("databases", "4").is_err());
        let all = c.get_matching(b"maxmemory*");
        assert!(all.iter().any(|(n, _)| n == "maxmemory-samples"));
    }
}
