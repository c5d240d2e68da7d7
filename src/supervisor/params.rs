//! Translation of ElastiCache parameter-group values into engine settings.
//!
//! Place in the flow: [`super::Supervisor::start_node`] and `apply_parameters` receive the
//! effective parameters of a node's parameter group (AWS names, AWS spellings) and turn them
//! into what the engines understand: a Redis `maxmemory` net of reserved memory plus Redis
//! `CONFIG` names and values, or the fields of a Memcached configuration.
//!
//! AWS-only parameters are mapped, never passed through: `reserved-memory-percent` and the
//! legacy `reserved-memory` shape `maxmemory`; `cluster-enabled` is decided by the topology (the
//! node spec); `rename-commands` is passed to the engine at start (it renames its command
//! table); the per-class `client-output-buffer-limit-*` parameters become Redis's single
//! `client-output-buffer-limit` setting; old `slave` spellings become `replica` ones.

use std::collections::BTreeMap;

use super::SupervisorError;

/// Redis CONFIG parameters passed to the engine under their own name. Anything else in a
/// parameter group is either mapped below or is AWS-only and stays out of the engine.
const REDIS_PASS_THROUGH: &[&str] = &[
    "maxmemory-policy",
    "maxmemory-samples",
    "timeout",
    "tcp-keepalive",
    "notify-keyspace-events",
    "databases",
    "slowlog-log-slower-than",
    "slowlog-max-len",
    "lua-time-limit",
    "busy-reply-threshold",
    "maxclients",
    "cluster-require-full-coverage",
    "cluster-allow-reads-when-down",
    "cluster-allow-pubsubshard-when-down",
    "min-replicas-to-write",
    "min-replicas-max-lag",
    "repl-backlog-size",
    "repl-backlog-ttl",
    "repl-timeout",
    "replica-lazy-flush",
    "replica-ignore-maxmemory",
    "client-query-buffer-limit",
    "proto-max-bulk-len",
    "lazyfree-lazy-eviction",
    "lazyfree-lazy-expire",
    "lazyfree-lazy-server-del",
    "lazyfree-lazy-user-del",
    "lazyfree-lazy-user-flush",
    "activedefrag",
    "active-defrag-cycle-max",
    "active-defrag-cycle-min",
    "active-defrag-ignore-bytes",
    "active-defrag-threshold-lower",
    "active-defrag-threshold-upper",
    "active-expire-effort",
    "lfu-log-factor",
    "lfu-decay-time",
    "acl-pubsub-default",
    "acllog-max-len",
    "tracking-table-max-keys",
    "latency-tracking",
    "latency-tracking-info-percentiles",
    "hash-max-listpack-entries",
    "hash-max-listpack-value",
    "hash-max-ziplist-entries",
    "hash-max-ziplist-value",
    "zset-max-listpack-entries",
    "zset-max-listpack-value",
    "zset-max-ziplist-entries",
    "zset-max-ziplist-value",
    "list-max-listpack-size",
    "list-max-ziplist-size",
    "list-compress-depth",
    "set-max-intset-entries",
    "set-max-listpack-entries",
    "set-max-listpack-value",
    "stream-node-max-bytes",
    "stream-node-max-entries",
    "hll-sparse-max-bytes",
    "activerehashing",
    "appendonly",
    "appendfsync",
    // Refuse writes on a replica by closing the connection (an ElastiCache parameter the
    // engine implements).
    "close-on-replica-write",
    // ElastiCache's `rename-commands` ("old new" pairs); the engine applies it at start.
    "rename-commands",
];

/// Old `slave` spellings AWS still lists in older families, with the name Redis 5+ uses.
const REDIS_RENAMED: &[(&str, &str)] = &[
    ("min-slaves-to-write", "min-replicas-to-write"),
    ("min-slaves-max-lag", "min-replicas-max-lag"),
    ("slave-lazy-flush", "replica-lazy-flush"),
    ("slave-ignore-maxmemory", "replica-ignore-maxmemory"),
    ("close-on-slave-write", "close-on-replica-write"),
];

/// Parameters that only take effect on a reboot in ElastiCache (`ChangeType: requires-reboot`),
/// so a parameter-group change does not reach a running node through `CONFIG SET`.
const REDIS_REQUIRES_REBOOT: &[&str] = &["databases", "activerehashing", "rename-commands"];

/// Commands ElastiCache makes unavailable on Redis OSS / Valkey nodes ("Restricted commands" in
/// the ElastiCache user guide), passed to the engine as its `disabled-commands` directive.
pub const RESTRICTED_COMMANDS: &str = "bgrewriteaof bgsave config debug migrate replicaof save \
    slaveof shutdown sync psync acl|setuser acl|deluser acl|load acl|save";

/// Commands disabled on every node, strict mode or not: the control plane owns replication
/// (replication groups, failover) and users (CreateUser, user groups, AUTH tokens), so a client
/// that re-pointed or promoted a node, or added or removed a user, by itself would leave the API
/// reporting roles, endpoints and users that are no longer true. ElastiCache manages users only
/// through its API.
pub const CONTROL_PLANE_COMMANDS: &str =
    "replicaof slaveof sync psync acl|setuser acl|deluser acl|load acl|save";

/// Engine directive naming the commands a node answers as unknown.
pub const DISABLED_COMMANDS_DIRECTIVE: &str = "disabled-commands";

/// AWS default of `reserved-memory-percent` when the group does not say.
const DEFAULT_RESERVED_MEMORY_PERCENT: u64 = 25;

/// AWS default of `memcached_connections_overhead`, in MB.
const DEFAULT_MEMCACHED_OVERHEAD_MB: u64 = 100;

/// Smallest item budget a Memcached node gets when the overhead eats the node type's memory.
const MIN_MEMCACHED_MEMORY: u64 = 1 << 20;

/// Redis `maxmemory` for a node: the node type's memory less reserved memory, optionally capped.
///
/// `reserved-memory-percent` (default 25) applies unless the legacy `reserved-memory` (bytes) is
/// set to a non-zero value, as in ElastiCache where the two are mutually exclusive.
pub fn redis_maxmemory(
    node_memory_bytes: u64,
    params: &BTreeMap<String, String>,
    cap: Option<u64>,
) -> Result<u64, SupervisorError> {
    let legacy = match params.get("reserved-memory") {
        Some(v) => parse_u64("reserved-memory", v)?,
        None => 0,
    };
    let net = if legacy > 0 {
        node_memory_bytes.saturating_sub(legacy)
    } else {
        let percent = match params.get("reserved-memory-percent") {
            Some(v) => parse_u64("reserved-memory-percent", v)?,
            None => DEFAULT_RESERVED_MEMORY_PERCENT,
        };
        if percent > 100 {
            return Err(invalid(
                "reserved-memory-percent",
                "must be between 0 and 100",
            ));
        }
        // u128 keeps the product exact for the largest node types.
        ((u128::from(node_memory_bytes) * u128::from(100 - percent)) / 100) as u64
    };
    Ok(match cap {
        Some(cap) if cap > 0 => net.min(cap),
        _ => net,
    })
}

/// Redis CONFIG settings (name, value) for a parameter group, in a stable order.
pub fn redis_settings(
    params: &BTreeMap<String, String>,
    node_memory_bytes: u64,
) -> Vec<(String, String)> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    let mut buffer_limits: BTreeMap<&'static str, [Option<String>; 3]> = BTreeMap::new();
    for (name, value) in params {
        let name = name.as_str();
        if REDIS_PASS_THROUGH.contains(&name) {
            out.insert(name.to_string(), value.clone());
        } else if let Some((_, new)) = REDIS_RENAMED.iter().find(|(old, _)| *old == name) {
            // The modern spelling wins when a group carries both.
            out.entry((*new).to_string())
                .or_insert_with(|| value.clone());
        } else if let Some((class, field)) = buffer_limit_field(name) {
            buffer_limits.entry(class).or_default()[field] = Some(value.clone());
        } else {
            tracing::trace!(
                parameter = name,
                "ElastiCache-only parameter, not passed to the engine"
            );
        }
    }
    if !buffer_limits.is_empty() {
        let mut classes = Vec::new();
        for (class, fields) in &buffer_limits {
            let defaults = buffer_limit_defaults(class, node_memory_bytes);
            let values: Vec<String> = fields
                .iter()
                .zip(defaults)
                .map(|(v, d)| v.clone().unwrap_or_else(|| d.to_string()))
                .collect();
            classes.push(format!("{class} {}", values.join(" ")));
        }
        out.insert("client-output-buffer-limit".to_string(), classes.join(" "));
    }
    out.into_iter().collect()
}

/// The settings that changed between two parameter sets and can be applied to a running node.
pub fn redis_runtime_changes(
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
    node_memory_bytes: u64,
) -> Vec<(String, String)> {
    let before: BTreeMap<String, String> =
        redis_settings(old, node_memory_bytes).into_iter().collect();
    redis_settings(new, node_memory_bytes)
        .into_iter()
        .filter(|(name, value)| {
            before.get(name) != Some(value) && !REDIS_REQUIRES_REBOOT.contains(&name.as_str())
        })
        .collect()
}

/// Whether a Redis setting only takes effect when the node restarts (so a parameter-group change
/// is not sent to a running node).
pub fn redis_requires_reboot(name: &str) -> bool {
    REDIS_REQUIRES_REBOOT.contains(&name)
}

/// Maps `client-output-buffer-limit-<class>-<field>` to (Redis class, field index).
fn buffer_limit_field(name: &str) -> Option<(&'static str, usize)> {
    let rest = name.strip_prefix("client-output-buffer-limit-")?;
    let (class, field) = rest.split_once('-')?;
    let class = match class {
        "normal" => "normal",
        "pubsub" => "pubsub",
        "replica" | "slave" => "replica",
        _ => return None,
    };
    let field = match field {
        "hard-limit" => 0,
        "soft-limit" => 1,
        "soft-seconds" => 2,
        _ => return None,
    };
    Some((class, field))
}

/// Defaults of a client class's output buffer limits (hard, soft, soft seconds): the Redis
/// defaults, except the replica class, which ElastiCache sizes at 10% of the node's memory.
fn buffer_limit_defaults(class: &str, node_memory_bytes: u64) -> [u64; 3] {
    match class {
        "pubsub" => [33_554_432, 8_388_608, 60],
        "replica" => [node_memory_bytes / 10, node_memory_bytes / 10, 60],
        _ => [0, 0, 0],
    }
}

/// Memcached settings derived from a node type and its parameter group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemcachedSettings {
    /// Byte budget for items (`-m`).
    pub memory_limit: u64,
    /// Worker threads (`-t`).
    pub threads: usize,
    /// Largest item (`-I`).
    pub max_item_size: usize,
    /// `-C`.
    pub cas_disabled: bool,
    /// `-M`.
    pub error_on_memory_exhausted: bool,
    /// `-F`.
    pub disable_flush_all: bool,
    /// `-c`.
    pub max_connections: usize,
    /// Idle timeout in seconds (0 = never).
    pub idle_timeout_secs: u64,
}

/// Memcached settings: `-m (max_cache_memory − memcached_connections_overhead)` MB, `-t` vCPUs,
/// and the launch parameters of the group. `node_memory_bytes` is `max_cache_memory` in bytes.
pub fn memcached_settings(
    node_memory_bytes: u64,
    vcpus: usize,
    params: &BTreeMap<String, String>,
    cap: Option<u64>,
) -> Result<MemcachedSettings, SupervisorError> {
    let overhead_mb =
        opt_u64(params, "memcached_connections_overhead")?.unwrap_or(DEFAULT_MEMCACHED_OVERHEAD_MB);
    let mut memory_limit = node_memory_bytes
        .saturating_sub(overhead_mb.saturating_mul(1 << 20))
        .max(MIN_MEMCACHED_MEMORY);
    if let Some(cap) = cap.filter(|c| *c > 0) {
        memory_limit = memory_limit.min(cap);
    }
    let max_item_size = opt_u64(params, "max_item_size")?.unwrap_or(1 << 20);
    if !(1024..=(1 << 30)).contains(&max_item_size) {
        return Err(invalid(
            "max_item_size",
            "must be between 1024 and 1073741824 bytes",
        ));
    }
    let idle_timeout_secs = opt_u64(params, "idle_timeout")?.unwrap_or(0);
    if idle_timeout_secs > 86_400 {
        return Err(invalid(
            "idle_timeout",
            "must be between 0 and 86400 seconds",
        ));
    }
    let max_connections = opt_u64(params, "max_simultaneous_connections")?.unwrap_or(65_000);
    Ok(MemcachedSettings {
        memory_limit,
        threads: vcpus.max(1),
        max_item_size: usize::try_from(max_item_size).unwrap_or(usize::MAX),
        cas_disabled: opt_bool(params, "cas_disabled")?.unwrap_or(false),
        error_on_memory_exhausted: opt_bool(params, "error_on_memory_exhausted")?.unwrap_or(false),
        disable_flush_all: opt_bool(params, "disable_flush_all")?.unwrap_or(false),
        max_connections: usize::try_from(max_connections.max(1)).unwrap_or(usize::MAX),
        idle_timeout_secs,
    })
}

fn opt_u64(params: &BTreeMap<String, String>, name: &str) -> Result<Option<u64>, SupervisorError> {
    params.get(name).map(|v| parse_u64(name, v)).transpose()
}

fn opt_bool(
    params: &BTreeMap<String, String>,
    name: &str,
) -> Result<Option<bool>, SupervisorError> {
    params
        .get(name)
        .map(|v| match v.trim().to_ascii_lowercase().as_str() {
            "1" | "yes" | "true" => Ok(true),
            "0" | "no" | "false" => Ok(false),
            _ => Err(invalid(name, "must be 0 or 1")),
        })
        .transpose()
}

fn parse_u64(name: &str, value: &str) -> Result<u64, SupervisorError> {
    value
        .trim()
        .parse::<u64>()
        .map_err(|_| invalid(name, "must be a non-negative integer"))
}

fn invalid(name: &str, reason: &str) -> SupervisorError {
    SupervisorError::InvalidParameter {
        name: name.to_string(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn maxmemory_nets_out_reserved_percent_like_info_memory_on_aws() {
        // cache.t3.micro: 536870912 bytes, 25% reserved -> INFO shows maxmemory:402653184.
        assert_eq!(
            redis_maxmemory(536_870_912, &params(&[]), None).ok(),
            Some(402_653_184)
        );
        let p = params(&[("reserved-memory-percent", "0")]);
        assert_eq!(
            redis_maxmemory(536_870_912, &p, None).ok(),
            Some(536_870_912)
        );
        let p = params(&[
            ("reserved-memory-percent", "25"),
            ("reserved-memory", "1000"),
        ]);
        assert_eq!(redis_maxmemory(10_000, &p, None).ok(), Some(9_000));
        assert_eq!(
            redis_maxmemory(536_870_912, &params(&[]), Some(1 << 20)).ok(),
            Some(1 << 20)
        );
        let p = params(&[("reserved-memory-percent", "101")]);
        assert!(redis_maxmemory(1, &p, None).is_err());
    }

    #[test]
    fn redis_settings_pass_known_names_and_map_aws_only_ones() {
        let p = params(&[
            ("maxmemory-policy", "allkeys-lru"),
            ("reserved-memory-percent", "25"),
            ("cluster-enabled", "yes"),
            ("replica-allow-chaining", "no"),
            ("min-slaves-to-write", "1"),
            ("client-output-buffer-limit-pubsub-hard-limit", "1000"),
            ("client-output-buffer-limit-replica-soft-seconds", "30"),
        ]);
        let s = redis_settings(&p, 1000);
        assert_eq!(
            s,
            vec![
                (
                    "client-output-buffer-limit".to_string(),
                    "pubsub 1000 8388608 60 replica 100 100 30".to_string()
                ),
                ("maxmemory-policy".to_string(), "allkeys-lru".to_string()),
                ("min-replicas-to-write".to_string(), "1".to_string()),
            ]
        );
    }

    #[test]
    fn runtime_changes_are_the_differences_that_apply_immediately() {
        let old = params(&[
            ("maxmemory-policy", "volatile-lru"),
            ("databases", "16"),
            ("timeout", "0"),
        ]);
        let new = params(&[
            ("maxmemory-policy", "allkeys-lfu"),
            ("databases", "32"),
            ("timeout", "0"),
        ]);
        assert_eq!(
            redis_runtime_changes(&old, &new, 0),
            vec![("maxmemory-policy".to_string(), "allkeys-lfu".to_string())]
        );
    }

    #[test]
    fn memcached_memory_is_max_cache_memory_less_overhead() {
        let mb = 1u64 << 20;
        let s = memcached_settings(1300 * mb, 2, &params(&[]), None);
        assert_eq!(s.as_ref().map(|s| s.memory_limit).ok(), Some(1200 * mb));
        let p = params(&[
            ("memcached_connections_overhead", "50"),
            ("max_item_size", "2097152"),
            ("cas_disabled", "1"),
            ("idle_timeout", "30"),
        ]);
        let s = memcached_settings(1300 * mb, 0, &p, None).ok();
        assert_eq!(s.as_ref().map(|s| s.memory_limit), Some(1250 * mb));
        assert_eq!(s.as_ref().map(|s| s.threads), Some(1));
        assert_eq!(s.as_ref().map(|s| s.max_item_size), Some(2 << 20));
        assert_eq!(s.as_ref().map(|s| s.cas_disabled), Some(true));
        assert_eq!(s.as_ref().map(|s| s.idle_timeout_secs), Some(30));
        assert!(memcached_settings(mb, 1, &params(&[("cas_disabled", "maybe")]), None).is_err());
        assert!(memcached_settings(mb, 1, &params(&[("idle_timeout", "90000")]), None).is_err());
    }
}
