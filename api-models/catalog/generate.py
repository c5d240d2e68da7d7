#!/usr/bin/env python3
"""Writes the catalogue JSON files of elasticache-local (engine versions, parameter-group
families, engine default parameters, node types).

The JSON files next to this script are the data the emulator embeds (`src/catalog/`); this
script is how they were written, kept so that a change to the catalogue is a reviewable edit of
one table below followed by `python3 api-models/catalog/generate.py`.

Facts (names, defaults, allowed values, node-type memory) come from the Amazon ElastiCache User
Guide ("Engine specific parameters", "Node-type specific parameters", "Supported node types")
as summarised in the project's reference notes; descriptions are our own wording.
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))

# ---------------------------------------------------------------------------------------------
# Engine versions. (engine, version users pass, full version reported, family, description)
ENGINE_VERSIONS = [
    ("memcached", "1.4.5", "1.4.5", "memcached1.4"),
    ("memcached", "1.4.14", "1.4.14", "memcached1.4"),
    ("memcached", "1.4.24", "1.4.24", "memcached1.4"),
    ("memcached", "1.4.33", "1.4.33", "memcached1.4"),
    ("memcached", "1.4.34", "1.4.34", "memcached1.4"),
    ("memcached", "1.5.10", "1.5.10", "memcached1.5"),
    ("memcached", "1.5.16", "1.5.16", "memcached1.5"),
    ("memcached", "1.6.6", "1.6.6", "memcached1.6"),
    ("memcached", "1.6.12", "1.6.12", "memcached1.6"),
    ("memcached", "1.6.17", "1.6.17", "memcached1.6"),
    ("memcached", "1.6.22", "1.6.22", "memcached1.6"),
    ("redis", "2.6.13", "2.6.13", "redis2.6"),
    ("redis", "2.8.6", "2.8.6", "redis2.8"),
    ("redis", "2.8.19", "2.8.19", "redis2.8"),
    ("redis", "2.8.21", "2.8.21", "redis2.8"),
    ("redis", "2.8.22", "2.8.22", "redis2.8"),
    ("redis", "2.8.23", "2.8.23", "redis2.8"),
    ("redis", "2.8.24", "2.8.24", "redis2.8"),
    ("redis", "3.2.4", "3.2.4", "redis3.2"),
    ("redis", "3.2.6", "3.2.6", "redis3.2"),
    ("redis", "3.2.10", "3.2.10", "redis3.2"),
    ("redis", "4.0.10", "4.0.10", "redis4.0"),
    ("redis", "5.0.6", "5.0.6", "redis5.0"),
    ("redis", "6.0", "6.0.5", "redis6.x"),
    ("redis", "6.2", "6.2.6", "redis6.x"),
    ("redis", "7.0", "7.0.7", "redis7"),
    ("redis", "7.1", "7.1.0", "redis7"),
    ("valkey", "7.2", "7.2.6", "valkey7"),
    ("valkey", "8.0", "8.0.1", "valkey8"),
    ("valkey", "8.1", "8.1.1", "valkey8"),
]
ENGINE_DESCRIPTIONS = {"memcached": "memcached", "redis": "Redis", "valkey": "Valkey"}

# Families in order; redis-like families share one parameter table, indexed by "generation".
REDIS_FAMILIES = {"redis2.6": -2, "redis2.8": -1, "redis3.2": 0, "redis4.0": 1, "redis5.0": 2, "redis6.x": 3, "redis7": 4,
                  "valkey7": 4, "valkey8": 4}
MEMCACHED_FAMILIES = {"memcached1.4": 0, "memcached1.5": 1, "memcached1.6": 2}
GEN = {"2.6": -2, "2.8": -1, "3.2": 0, "4.0": 1, "5.0": 2, "6": 3, "7": 4}

YN = "yes,no"
B01 = "0,1"
POLICIES_OLD = "volatile-lru,allkeys-lru,volatile-random,allkeys-random,volatile-ttl,noeviction"
POLICIES = ("volatile-lru,allkeys-lru,volatile-lfu,allkeys-lfu,volatile-random,allkeys-random,"
            "volatile-ttl,noeviction")

# (name, default, data type, allowed values, modifiable, change type, minimum engine version,
#  first generation, last generation, description)
I, R = "immediate", "requires-reboot"
REDIS_PARAMS = [
    ("acl-pubsub-default", "allchannels", "string", "resetchannels,allchannels", True, I, "6.2.0", "6", "7",
     "Default pub/sub channel permissions of ACL users."),
    ("acllog-max-len", "128", "integer", "1-10000", True, I, "6.0.0", "6", "7",
     "Maximum number of entries kept in the ACL log."),
    ("activedefrag", "no", "string", YN, True, I, "4.0.10", "4.0", "7",
     "Enables active memory defragmentation."),
    ("active-defrag-cycle-max", "75", "integer", "1-75", True, I, "4.0.10", "4.0", "7",
     "Maximal effort for defragmentation, in CPU percent."),
    ("active-defrag-cycle-min", "5", "integer", "1-75", True, I, "4.0.10", "4.0", "7",
     "Minimal effort for defragmentation, in CPU percent."),
    ("active-defrag-ignore-bytes", "104857600", "integer", "1048576-", True, I, "4.0.10", "4.0", "7",
     "Minimum amount of fragmentation waste before active defragmentation starts."),
    ("active-defrag-max-scan-fields", "1000", "integer", "1-1000000", True, I, "4.0.10", "4.0", "7",
     "Maximum number of set/hash/zset/list fields processed from the main dictionary scan."),
    ("active-defrag-threshold-lower", "10", "integer", "1-100", True, I, "4.0.10", "4.0", "7",
     "Minimum percentage of fragmentation before active defragmentation starts."),
    ("active-defrag-threshold-upper", "100", "integer", "1-100", True, I, "4.0.10", "4.0", "7",
     "Percentage of fragmentation at which the maximum effort is used."),
    ("active-expire-effort", "1", "integer", "1-10", True, I, "6.0.0", "6", "7",
     "Effort spent by the active expiry cycle."),
    ("activerehashing", "yes", "string", YN, True, R, "2.6.13", "3.2", "7",
     "Apply incremental rehashing to the main dictionaries."),
    ("appendfsync", "everysec", "string", "always,everysec,no", False, I, "2.6.13", "3.2", "7",
     "fsync policy of the append-only file (not supported on current engine versions)."),
    ("appendonly", "no", "string", YN, False, I, "2.6.13", "3.2", "7",
     "Enables the append-only file (not supported on current engine versions; use Multi-AZ)."),
    ("client-output-buffer-limit-normal-hard-limit", "0", "integer", "0-", True, I, "2.6.13", "3.2", "7",
     "Hard output buffer limit for normal clients, in bytes (0 = no limit)."),
    ("client-output-buffer-limit-normal-soft-limit", "0", "integer", "0-", True, I, "2.6.13", "3.2", "7",
     "Soft output buffer limit for normal clients, in bytes (0 = no limit)."),
    ("client-output-buffer-limit-normal-soft-seconds", "0", "integer", "0-", True, I, "2.6.13", "3.2", "7",
     "Seconds a normal client may stay above the soft output buffer limit."),
    ("client-output-buffer-limit-pubsub-hard-limit", "33554432", "integer", "0-", True, I, "2.6.13", "3.2", "7",
     "Hard output buffer limit for pub/sub clients, in bytes."),
    ("client-output-buffer-limit-pubsub-soft-limit", "8388608", "integer", "0-", True, I, "2.6.13", "3.2", "7",
     "Soft output buffer limit for pub/sub clients, in bytes."),
    ("client-output-buffer-limit-pubsub-soft-seconds", "60", "integer", "0-", True, I, "2.6.13", "3.2", "7",
     "Seconds a pub/sub client may stay above the soft output buffer limit."),
    ("client-output-buffer-limit-slave-soft-seconds", "60", "integer", "0-", False, I, "2.6.13", "3.2", "4.0",
     "Seconds a replica connection may stay above the soft output buffer limit."),
    ("client-output-buffer-limit-replica-soft-seconds", "60", "integer", "0-", False, I, "5.0.0", "5.0", "7",
     "Seconds a replica connection may stay above the soft output buffer limit."),
    ("client-query-buffer-limit", "1073741824", "integer", "1048576-1073741824", True, I, "4.0.10", "4.0", "7",
     "Maximum size of a single client query buffer, in bytes."),
    ("close-on-slave-write", "yes", "string", YN, True, I, "2.8.23", "3.2", "4.0",
     "Disconnect clients that write to a read-only replica."),
    ("close-on-replica-write", "yes", "string", YN, True, I, "5.0.0", "5.0", "7",
     "Disconnect clients that write to a read-only replica."),
    ("cluster-allow-pubsubshard-when-down", "yes", "string", YN, True, I, "7.0.0", "7", "7",
     "Serve sharded pub/sub while the cluster is down, for slots the node owns."),
    ("cluster-allow-reads-when-down", "no", "string", YN, True, I, "6.0.0", "6", "7",
     "Serve reads while the cluster is marked as failed."),
    ("cluster-enabled", "no", "string", YN, True, R, "3.2.4", "3.2", "7",
     "Cluster mode: yes for cluster mode enabled replication groups (sharded), no otherwise."),
    ("cluster-preferred-endpoint-type", "ip", "string", "ip,tls-dynamic", True, I, "7.0.0", "7", "7",
     "Endpoint type returned in MOVED/ASK redirections and CLUSTER SHARDS."),
    ("cluster-require-full-coverage", "no", "string", YN, True, I, "3.2.4", "3.2", "7",
     "Stop accepting queries when some hash slot is not covered."),
    ("databases", "16", "integer", "1-1200000", True, R, "2.6.13", "3.2", "7",
     "Number of logical databases."),
    ("hash-max-ziplist-entries", "512", "integer", "0-", True, I, "2.6.13", "3.2", "6",
     "Maximum number of entries of a hash encoded compactly."),
    ("hash-max-ziplist-value", "64", "integer", "0-", True, I, "2.6.13", "3.2", "6",
     "Maximum value length of a hash encoded compactly."),
    ("hash-max-listpack-entries", "512", "integer", "0-", True, I, "7.0.0", "7", "7",
     "Maximum number of entries of a hash encoded as a listpack."),
    ("hash-max-listpack-value", "64", "integer", "0-", True, I, "7.0.0", "7", "7",
     "Maximum value length of a hash encoded as a listpack."),
    ("hll-sparse-max-bytes", "3000", "integer", "0-16000", True, I, "2.8.6", "3.2", "7",
     "HyperLogLog sparse representation byte limit."),
    ("lazyfree-lazy-eviction", "no", "string", YN, True, I, "4.0.10", "4.0", "7",
     "Free memory asynchronously on eviction."),
    ("lazyfree-lazy-expire", "no", "string", YN, True, I, "4.0.10", "4.0", "7",
     "Free memory asynchronously on expiry."),
    ("lazyfree-lazy-server-del", "no", "string", YN, True, I, "4.0.10", "4.0", "7",
     "Free memory asynchronously for implicit deletions (e.g. RENAME over an existing key)."),
    ("lazyfree-lazy-user-del", "no", "string", YN, True, I, "6.0.0", "6", "7",
     "Make DEL behave like UNLINK."),
    ("lazyfree-lazy-user-flush", "no", "string", YN, True, I, "6.2.0", "6", "7",
     "Make FLUSHDB/FLUSHALL asynchronous by default."),
    ("latency-tracking", "no", "string", YN, True, I, "7.0.0", "7", "7",
     "Track per-command latency percentiles."),
    ("lfu-decay-time", "1", "integer", "0-", True, I, "4.0.10", "4.0", "7",
     "Minutes after which the LFU counter of a key is halved."),
    ("lfu-log-factor", "10", "integer", "1-", True, I, "4.0.10", "4.0", "7",
     "Logarithmic factor of the LFU counter."),
    ("list-compress-depth", "0", "integer", "0-", True, I, "3.2.4", "3.2", "7",
     "Number of list nodes at each end left uncompressed (0 = no compression)."),
    ("list-max-ziplist-size", "-2", "integer", "-5,-4,-3,-2,-1,1-", True, I, "3.2.4", "3.2", "6",
     "Size limit of each internal list node (negative = bytes class, positive = entries)."),
    ("list-max-listpack-size", "-2", "integer", "-5,-4,-3,-2,-1,1-", True, I, "7.0.0", "7", "7",
     "Size limit of each internal list node (negative = bytes class, positive = entries)."),
    ("lua-replicate-commands", "yes", "string", YN, True, I, "3.2.4", "3.2", "6",
     "Replicate the effects of Lua scripts instead of the scripts themselves."),
    ("lua-time-limit", "5000", "integer", "5000", False, I, "2.6.13", "3.2", "7",
     "Maximum execution time of a Lua script, in milliseconds."),
    ("maxclients", "65000", "integer", "1-65000", False, I, "2.6.13", "3.2", "7",
     "Maximum number of connected clients."),
    ("maxmemory-policy", "volatile-lru", "string", POLICIES, True, I, "2.6.13", "3.2", "7",
     "Eviction policy when maxmemory is reached."),
    ("maxmemory-samples", "3", "integer", "1-", True, I, "2.6.13", "3.2", "7",
     "Number of keys sampled by the LRU/LFU/TTL eviction algorithms."),
    ("min-slaves-max-lag", "10", "integer", "0-", True, I, "2.8.6", "3.2", "4.0",
     "Maximum replica lag, in seconds, counted by min-slaves-to-write."),
    ("min-slaves-to-write", "0", "integer", "0-", True, I, "2.8.6", "3.2", "4.0",
     "Minimum number of replicas with acceptable lag for the primary to accept writes."),
    ("min-replicas-max-lag", "10", "integer", "0-", True, I, "5.0.0", "5.0", "7",
     "Maximum replica lag, in seconds, counted by min-replicas-to-write."),
    ("min-replicas-to-write", "0", "integer", "0-", True, I, "5.0.0", "5.0", "7",
     "Minimum number of replicas with acceptable lag for the primary to accept writes."),
    ("notify-keyspace-events", "", "string", None, True, I, "2.8.6", "3.2", "7",
     "Keyspace notification classes to publish (e.g. Ex, KEA); empty disables them."),
    ("proto-max-bulk-len", "536870912", "integer", "1048576-536870912", True, I, "4.0.10", "4.0", "7",
     "Maximum size of a single bulk string request element, in bytes."),
    ("rename-commands", "", "string", None, True, I, "5.0.3", "5.0", "7",
     "Space-separated pairs of command names to rename (old new)."),
    ("repl-backlog-size", "1048576", "integer", "16384-", True, I, "2.8.6", "3.2", "7",
     "Size of the replication backlog, in bytes."),
    ("repl-backlog-ttl", "3600", "integer", "0-", True, I, "2.8.6", "3.2", "7",
     "Seconds after which a primary without replicas frees its backlog."),
    ("repl-timeout", "60", "integer", "60", False, I, "2.6.13", "3.2", "7",
     "Replication timeout, in seconds."),
    ("slave-allow-chaining", "no", "string", YN, False, I, "2.6.13", "3.2", "4.0",
     "Allow replicas of replicas."),
    ("replica-allow-chaining", "no", "string", YN, False, I, "5.0.0", "5.0", "7",
     "Allow replicas of replicas."),
    ("replica-ignore-maxmemory", "yes", "string", YN, False, I, "5.0.0", "5.0", "7",
     "Replicas do not evict on their own; they follow the primary."),
    ("slave-lazy-flush", "yes", "string", YN, False, I, "4.0.10", "4.0", "4.0",
     "Flush the replica dataset asynchronously during a full resynchronisation."),
    ("replica-lazy-flush", "yes", "string", YN, False, I, "5.0.0", "5.0", "7",
     "Flush the replica dataset asynchronously during a full resynchronisation."),
    ("reserved-memory", "0", "integer", "0-", True, I, "2.6.13", "3.2", "7",
     "Memory, in bytes, reserved for non-data use (legacy; prefer reserved-memory-percent)."),
    ("reserved-memory-percent", "25", "integer", "0-100", True, I, "2.8.22", "3.2", "7",
     "Percent of the node's memory reserved for non-data use."),
    ("set-max-intset-entries", "512", "integer", "0-", True, I, "2.6.13", "3.2", "7",
     "Maximum number of members of a set encoded as an intset."),
    ("slowlog-log-slower-than", "10000", "integer", "0-", True, I, "2.6.13", "3.2", "7",
     "Execution time, in microseconds, above which a command is logged in the slow log."),
    ("slowlog-max-len", "128", "integer", "0-", True, I, "2.6.13", "3.2", "7",
     "Maximum length of the slow log."),
    ("stream-node-max-bytes", "4096", "integer", "0-", True, I, "5.0.0", "5.0", "7",
     "Maximum size of a stream macro node, in bytes."),
    ("stream-node-max-entries", "100", "integer", "0-", True, I, "5.0.0", "5.0", "7",
     "Maximum number of entries of a stream macro node."),
    ("tcp-keepalive", "300", "integer", "0-", True, I, "2.6.13", "3.2", "7",
     "TCP keepalive interval for client connections, in seconds (0 = off)."),
    ("timeout", "0", "integer", "0,20-", True, I, "2.6.13", "3.2", "7",
     "Close a client connection idle for this many seconds (0 = never)."),
    ("tracking-table-max-keys", "1000000", "integer", "1-100000000", True, I, "6.0.0", "6", "7",
     "Maximum number of keys in the client-side caching tracking table."),
    ("zset-max-ziplist-entries", "128", "integer", "0-", True, I, "2.6.13", "3.2", "6",
     "Maximum number of members of a sorted set encoded compactly."),
    ("zset-max-ziplist-value", "64", "integer", "0-", True, I, "2.6.13", "3.2", "6",
     "Maximum member length of a sorted set encoded compactly."),
    ("zset-max-listpack-entries", "128", "integer", "0-", True, I, "7.0.0", "7", "7",
     "Maximum number of members of a sorted set encoded as a listpack."),
    ("zset-max-listpack-value", "64", "integer", "0-", True, I, "7.0.0", "7", "7",
     "Maximum member length of a sorted set encoded as a listpack."),
]

# Per-family changes to the table above.
REDIS_OVERRIDES = {
    ("maxmemory-policy", "redis3.2"): {"allowed_values": POLICIES_OLD},
    ("activerehashing", "redis7"): {"modifiable": False},
    ("activerehashing", "valkey7"): {"modifiable": False},
    ("activerehashing", "valkey8"): {"modifiable": False},
    ("repl-backlog-size", "valkey8"): {"default": "10485760"},
    ("maxmemory-policy", "redis2.6"): {"allowed_values": POLICIES_OLD},
    ("maxmemory-policy", "redis2.8"): {"allowed_values": POLICIES_OLD},
    ("tcp-keepalive", "redis2.6"): {"default": "0"},
    ("tcp-keepalive", "redis2.8"): {"default": "0"},
}


def first_generation(first, minv):
    """Parameters listed from redis3.2 on also exist in the older families their minimum
    engine version reaches (2.6.13 ones in redis2.6, 2.8.x ones in redis2.8)."""
    if first != "3.2":
        return GEN[first]
    if minv.startswith("2.6"):
        return GEN["2.6"]
    if minv.startswith("2.8"):
        return GEN["2.8"]
    return GEN[first]

# Node-type specific parameters: (name, source column, data type, modifiable, change type,
# minimum engine version, first gen, last gen, description).
REDIS_NODE_PARAMS = [
    ("maxmemory", "maxmemory", "integer", False, R, "2.6.13", "3.2", "7",
     "Maximum memory of the node type, in bytes (before reserved memory)."),
    ("client-output-buffer-limit-slave-hard-limit", "replica_limit", "integer", False, I, "2.6.13", "3.2", "4.0",
     "Hard output buffer limit for replica connections, in bytes."),
    ("client-output-buffer-limit-slave-soft-limit", "replica_limit", "integer", False, I, "2.6.13", "3.2", "4.0",
     "Soft output buffer limit for replica connections, in bytes."),
    ("client-output-buffer-limit-replica-hard-limit", "replica_limit", "integer", False, I, "5.0.0", "5.0", "7",
     "Hard output buffer limit for replica connections, in bytes."),
    ("client-output-buffer-limit-replica-soft-limit", "replica_limit", "integer", False, I, "5.0.0", "5.0", "7",
     "Soft output buffer limit for replica connections, in bytes."),
]

# Memcached: (name, default, data type, allowed, modifiable, change type, min version, first
# family generation (0 = 1.4, 1 = 1.5, 2 = 1.6), description)
MEMCACHED_PARAMS = [
    ("backlog_queue_limit", "1024", "integer", "1-10000", False, R, "1.4.5", 0,
     "Backlog queue limit of the listening socket."),
    ("binding_protocol", "auto", "string", "ascii,auto", True, R, "1.4.5", 0,
     "Protocols accepted: ascii only, or auto-negotiated ascii/binary."),
    ("cas_disabled", "0", "boolean", B01, True, R, "1.4.5", 0,
     "Disables check-and-set (CAS) unique values."),
    ("chunk_size", "48", "integer", "1-", True, R, "1.4.5", 0,
     "Minimum bytes allocated for the smallest item's key, value and flags."),
    ("chunk_size_growth_factor", "1.25", "float", "1-2", True, R, "1.4.5", 0,
     "Growth factor between slab class chunk sizes."),
    ("config_max", "16", "integer", "16", False, R, "1.4.5", 0,
     "Maximum number of auto discovery configuration entries."),
    ("config_size_max", "65536", "integer", "65536", False, R, "1.4.5", 0,
     "Maximum size of an auto discovery configuration entry, in bytes."),
    ("error_on_memory_exhausted", "0", "boolean", B01, True, R, "1.4.5", 0,
     "Return an error instead of evicting when memory is exhausted."),
    ("hashpower_init", "16", "integer", "16", False, R, "1.4.5", 0,
     "Initial size of the hash table, as a power of two."),
    ("large_memory_pages", "0", "boolean", B01, False, R, "1.4.5", 0,
     "Use large memory pages."),
    ("lock_down_paged_memory", "0", "boolean", B01, False, R, "1.4.5", 0,
     "Lock down all paged memory."),
    ("max_item_size", "1048576", "integer", "1048576-1073741824", True, R, "1.4.5", 0,
     "Size of the largest item that can be stored, in bytes."),
    ("max_simultaneous_connections", "65000", "integer", "3-65000", False, R, "1.4.5", 0,
     "Maximum number of simultaneous connections."),
    ("memcached_connections_overhead", "100", "integer", "0-", True, R, "1.4.5", 0,
     "Memory, in megabytes, reserved for connections and excluded from max_cache_memory."),
    ("requests_per_event", "20", "integer", "1-1000", False, R, "1.4.5", 0,
     "Maximum requests per event for a given connection."),
    ("maxconns_fast", "0", "boolean", B01, True, R, "1.4.14", 0,
     "Close new connections immediately when the connection limit is reached."),
    ("slab_automove", "0", "integer", "0-2", True, I, "1.4.14", 0,
     "Automatic slab page rebalancing mode."),
    ("slab_reassign", "0", "boolean", B01, True, R, "1.4.14", 0,
     "Allow slab pages to be moved between slab classes."),
    ("disable_flush_all", "0", "boolean", B01, True, I, "1.4.24", 0,
     "Reject flush_all commands."),
    ("expirezero_does_not_evict", "0", "boolean", B01, True, I, "1.4.24", 0,
     "Items with zero expiry are not evicted (requires lru_maintainer)."),
    ("hash_algorithm", "jenkins", "string", "jenkins,murmur3", True, R, "1.4.24", 0,
     "Hash algorithm of the item table."),
    ("lru_crawler", "0", "boolean", B01, True, I, "1.4.24", 0,
     "Background thread that reclaims expired items."),
    ("lru_maintainer", "0", "boolean", B01, True, R, "1.4.24", 0,
     "Background thread that moves items between LRUs as capacity is reached."),
    ("idle_timeout", "0", "integer", "0-86400", True, I, "1.4.33", 0,
     "Seconds a client may stay idle before being disconnected (0 = never)."),
    ("inline_ascii_response", "0", "boolean", B01, True, R, "1.4.33", 0,
     "Store numbers from the VALUE response inside the item."),
    ("lru_segmented", "1", "boolean", B01, True, R, "1.4.33", 0,
     "Segmented LRU (hot, warm, cold)."),
    ("modern", "1", "boolean", B01, True, R, "1.4.33", 0,
     "Enables the set of modern memcached defaults."),
    ("slab_chunk_max", "524288", "integer", "5242-1048576", True, R, "1.4.33", 0,
     "Maximum size of a slab chunk, in bytes."),
    ("track_sizes", "0", "boolean", B01, True, R, "1.4.33", 0,
     "Track the sizes of items stored."),
    ("watcher_logbuf_size", "256", "integer", "0-", True, I, "1.4.33", 0,
     "Kilobytes of log buffer per watcher."),
    ("worker_logbuf_size", "64", "integer", "0-", True, I, "1.4.33", 0,
     "Kilobytes of log buffer per worker thread."),
    ("no_modern", "1", "boolean", B01, True, R, "1.5.10", 1,
     "Disables the modern defaults (restores the 1.4 defaults)."),
]
MEMCACHED_NODE_PARAMS = [
    ("max_cache_memory", "memcached_mb", "integer", False, R, "1.4.5",
     "Memory of the node type available for items, in megabytes."),
    ("num_threads", "threads", "integer", False, R, "1.4.5",
     "Number of memcached worker threads."),
]

# ---------------------------------------------------------------------------------------------
# Node types: (name, vCPU, memory GiB, redis maxmemory bytes, memcached MB, memcached threads,
# previous generation, creatable)
NODE_TYPES = [
    ("cache.t2.micro", 1, 0.555, 581959680, 555, 1),
    ("cache.t2.small", 1, 1.55, 1665138688, 1588, 1),
    ("cache.t2.medium", 2, 3.22, 3461349376, 3301, 2),
    ("cache.t3.micro", 2, 0.50, 536870912, 512, 2),
    ("cache.t3.small", 2, 1.37, 1471026299, 1402, 2),
    ("cache.t3.medium", 2, 3.09, 3317862236, 3364, 2),
    ("cache.t4g.micro", 2, 0.50, 536870912, 512, 2),
    ("cache.t4g.small", 2, 1.37, 1471026299, 1402, 2),
    ("cache.t4g.medium", 2, 3.09, 3317862236, 3164, 2),
]
for fam in ("m5", "m6g", "m7g"):
    rows = [("large", 2, 6.38, 6854542746, 6537), ("xlarge", 4, 12.94, 13891921715, 13248),
            ("2xlarge", 8, 26.05, 27966669210, 26671), ("4xlarge", 16, 52.26, 56116178125, 53516)]
    if fam == "m5":
        rows += [("12xlarge", 48, 157.13, 168715971994, 160900), ("24xlarge", 96, 314.32, 337500562842, 321865)]
    else:
        rows += [("8xlarge", 32, 103.68, 111325552312, 107000), ("12xlarge", 48, 157.13, 168715971994, 160900),
                 ("16xlarge", 64, 209.55, 225000375228, 214577)]
    NODE_TYPES += [(f"cache.{fam}.{s}", v, g, b, mb, v) for (s, v, g, b, mb) in rows]
for fam in ("r5", "r6g", "r7g"):
    rows = [("large", 2, 13.07, 14037181030, 13387), ("xlarge", 4, 26.32, 28261849702, 26953),
            ("2xlarge", 8, 52.82, 56711183565, 54084), ("4xlarge", 16, 105.81, 113609865216, 108347)]
    if fam == "r5":
        rows += [("12xlarge", 48, 317.77, 341206346547, 325400), ("24xlarge", 96, 635.61, 682485973811, 650869)]
    else:
        rows += [("8xlarge", 32, 209.55, 225000375228, 214577), ("12xlarge", 48, 317.77, 341206346547, 325400),
                 ("16xlarge", 64, 419.10, 450000750456, 429154)]
    NODE_TYPES += [(f"cache.{fam}.{s}", v, g, b, mb, v) for (s, v, g, b, mb) in rows]
for (s, v, g, b) in [("xlarge", 4, 26.32, 28261849702), ("2xlarge", 8, 52.82, 56711183565),
                     ("4xlarge", 16, 105.81, 113609865216), ("8xlarge", 32, 209.55, 225000375228),
                     ("12xlarge", 48, 317.77, 341206346547), ("16xlarge", 64, 419.10, 450000750456)]:
    NODE_TYPES.append((f"cache.r6gd.{s}", v, g, b, None, None))
PREVIOUS = [
    ("cache.t1.micro", 1, 142606336, 213, 1, False),
    ("cache.m3.medium", 1, 2988441600, 2850, 1, False),
    ("cache.m3.large", 2, 6501171200, 6200, 2, False),
    ("cache.m3.xlarge", 4, 14260633600, 13600, 4, False),
    ("cache.m3.2xlarge", 8, 29989273600, 28600, 8, False),
    ("cache.m4.large", 2, 6892593152, 6573, 2, True),
    ("cache.m4.xlarge", 4, 11496376320, 11496, 4, True),
    ("cache.m4.2xlarge", 8, 31889126359, 30412, 8, True),
    ("cache.m4.4xlarge", 16, 65257290629, 62234, 16, True),
    ("cache.m4.10xlarge", 40, 166047614239, 158355, 40, True),
    ("cache.r4.large", 2, 13201781556, 12590, 2, True),
    ("cache.r4.xlarge", 4, 26898228839, 25652, 4, True),
    ("cache.r4.2xlarge", 8, 54197537997, 51686, 8, True),
    ("cache.r4.4xlarge", 16, 108858546586, 103815, 16, True),
    ("cache.r4.8xlarge", 32, 218255432090, 208144, 32, True),
    ("cache.r4.16xlarge", 64, 437021573120, 416776, 64, True),
    ("cache.r3.large", 2, 14470348800, 13800, 2, False),
]


def node_types():
    out = []
    for (name, vcpu, gib, maxmem, mb, threads) in NODE_TYPES:
        out.append({"name": name, "vcpus": vcpu, "memory_gib": gib, "redis_maxmemory": maxmem,
                    "memcached_max_cache_memory_mb": mb, "memcached_num_threads": threads,
                    "previous_generation": name.startswith("cache.t2."), "creatable": True,
                    "data_tiering": ".r6gd." in name})
    for (name, vcpu, maxmem, mb, threads, creatable) in PREVIOUS:
        out.append({"name": name, "vcpus": vcpu, "memory_gib": round(maxmem / 2**30, 2),
                    "redis_maxmemory": maxmem, "memcached_max_cache_memory_mb": mb,
                    "memcached_num_threads": threads, "previous_generation": True,
                    "creatable": creatable, "data_tiering": False})
    return out


def param(name, default, dtype, allowed, modifiable, change, minv, desc):
    p = {"name": name, "value": default, "description": desc, "data_type": dtype,
         "modifiable": modifiable, "change_type": change, "minimum_engine_version": minv}
    if allowed is not None:
        p["allowed_values"] = allowed
    return p


def families():
    fams = {}
    for fam, gen in REDIS_FAMILIES.items():
        engine = "valkey" if fam.startswith("valkey") else "redis"
        params = []
        for (name, default, dtype, allowed, mod, change, minv, first, last, desc) in REDIS_PARAMS:
            if not (first_generation(first, minv) <= gen <= GEN[last]):
                continue
            p = param(name, default, dtype, allowed, mod, change, minv, desc)
            p.update(REDIS_OVERRIDES.get((name, fam), {}))
            if "default" in p:
                p["value"] = p.pop("default")
            params.append(p)
        node_params = []
        for (name, col, dtype, mod, change, minv, first, last, desc) in REDIS_NODE_PARAMS:
            if first_generation(first, minv) <= gen <= GEN[last]:
                node_params.append({"name": name, "source_column": col, "description": desc,
                                    "data_type": dtype, "modifiable": mod, "change_type": change,
                                    "minimum_engine_version": minv})
        fams[fam] = {"engine": engine, "description_engine": ENGINE_DESCRIPTIONS[engine],
                     "cluster_on_variant": gen >= 0, "parameters": sorted(params, key=lambda p: p["name"]),
                     "node_type_specific": node_params}
    for fam, gen in MEMCACHED_FAMILIES.items():
        params = [param(n, d, t, a, m, c, v, desc)
                  for (n, d, t, a, m, c, v, first, desc) in MEMCACHED_PARAMS if first <= gen]
        node_params = [{"name": n, "source_column": col, "description": desc, "data_type": t,
                        "modifiable": m, "change_type": c, "minimum_engine_version": v}
                       for (n, col, t, m, c, v, desc) in MEMCACHED_NODE_PARAMS]
        fams[fam] = {"engine": "memcached", "description_engine": "memcached",
                     "cluster_on_variant": False, "parameters": sorted(params, key=lambda p: p["name"]),
                     "node_type_specific": node_params}
    return fams


def engine_versions():
    return [{"engine": e, "version": v, "full_version": full, "family": fam,
             "engine_description": ENGINE_DESCRIPTIONS[e],
             "version_description": f"{ENGINE_DESCRIPTIONS[e].lower() if e != 'memcached' else 'memcached'} version {full}"}
            for (e, v, full, fam) in ENGINE_VERSIONS]


def write(name, data):
    with open(os.path.join(HERE, name), "w") as f:
        json.dump(data, f, indent=1, sort_keys=False)
        f.write("\n")


if __name__ == "__main__":
    write("engine_versions.json", engine_versions())
    write("parameter_families.json", families())
    write("node_types.json", node_types())
