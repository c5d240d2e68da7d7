//! Per-node shared state: the store, the runtime settings and the registry of open
//! connections that every connection task of one node reads.
//!
//! Place in the flow: [`crate::MemcachedNode::start`] builds one [`NodeShared`]; `server`
//! hands it to each connection task, `execute` runs requests against it, `discovery` keeps a
//! weak reference per cluster member. It knows nothing of sockets or wire formats.

use crate::prefix_stats::PrefixStats;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::ClusterDiscovery;
use crate::protocol::Limits;
use crate::store::Store;

/// Bytes a connection's read buffer starts with (`stats`: `read_buf_bytes`).
pub(crate) const READ_BUFFER: usize = 8 * 1024;
/// Bytes a connection's reply buffer starts with (`stats`: `response_obj_bytes`).
pub(crate) const REPLY_BUFFER: usize = 8 * 1024;

/// Everything connections of one node share: the store and the runtime settings.
pub struct NodeShared {
    /// The node's name in log lines (the `node` span of its tasks).
    pub(crate) name: String,
    /// Items.
    pub(crate) store: Store,
    /// Reported by `version` and `stats`.
    pub(crate) engine_version: RwLock<String>,
    /// Auto discovery of the node's cluster, if any.
    pub(crate) discovery: RwLock<Option<Arc<ClusterDiscovery>>>,
    /// Connection limit (`-c`).
    pub(crate) max_connections: AtomicUsize,
    /// Idle timeout in seconds, 0 = never.
    pub(crate) idle_timeout: AtomicU64,
    /// `flush_all` refused (`-F`).
    pub(crate) disable_flush: AtomicBool,
    /// Worker threads reported by stats (`-t`).
    pub(crate) threads: AtomicUsize,
    /// `verbosity` level (accepted and reported; logging goes through `tracing`).
    pub(crate) verbosity: AtomicU32,
    /// Open connections.
    pub(crate) curr_connections: AtomicU64,
    /// Source of connection ids (also picks a connection's counter stripe).
    pub(crate) next_conn: AtomicU64,
    /// Cleared when the node shuts down.
    pub(crate) running: AtomicBool,
    /// Listening address.
    pub(crate) addr: RwLock<Option<SocketAddr>>,
    /// Open connections by id (for `stats conns`; locked only on connect and disconnect).
    pub(crate) conns: Mutex<BTreeMap<u64, Arc<ConnInfo>>>,
    /// Per-prefix counts of `stats detail`.
    pub(crate) prefix_stats: PrefixStats,
    /// `slabs automove` level (memcached's default 1), shown by `stats settings`.
    pub(crate) slab_automove: AtomicU32,
    /// `slabs automove ratio`, as the bits of an f64 (default 0.8).
    pub(crate) slab_automove_ratio: AtomicU64,
    /// `lru_crawler enable|disable`: explicit crawls and metadumps are allowed.
    pub(crate) lru_crawler: AtomicBool,
    /// The background sweep of expired items runs (memcached's LRU maintainer).
    pub(crate) lru_maintainer: AtomicBool,
    /// `lru_crawler tocrawl` and `lru_crawler sleep`, kept for `stats settings`.
    pub(crate) lru_crawler_tocrawl: AtomicU32,
    pub(crate) lru_crawler_sleep: AtomicU32,
    /// Crawls and metadumps started (`stats`: `lru_crawler_starts`).
    pub(crate) lru_crawler_starts: AtomicU64,
}

impl std::fmt::Debug for NodeShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeShared")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl NodeShared {
    /// Shared state for a node configured by `config`.
    pub(crate) fn new(config: &crate::MemcachedConfig) -> NodeShared {
        NodeShared {
            name: config.name.clone(),
            store: Store::new(
                config.memory_limit,
                config.max_item_size,
                config.cas_disabled,
                config.error_on_memory_exhausted,
                config.threads,
            ),
            engine_version: RwLock::new(config.engine_version.clone()),
            discovery: RwLock::new(config.discovery.clone()),
            max_connections: AtomicUsize::new(config.max_connections),
            idle_timeout: AtomicU64::new(config.idle_timeout_secs),
            disable_flush: AtomicBool::new(config.disable_flush_all),
            threads: AtomicUsize::new(config.threads),
            verbosity: AtomicU32::new(0),
            curr_connections: AtomicU64::new(0),
            next_conn: AtomicU64::new(0),
            running: AtomicBool::new(true),
            addr: RwLock::new(None),
            conns: Mutex::new(BTreeMap::new()),
            prefix_stats: PrefixStats::default(),
            slab_automove: AtomicU32::new(1),
            slab_automove_ratio: AtomicU64::new(0.8f64.to_bits()),
            lru_crawler: AtomicBool::new(config.lru_crawler),
            lru_maintainer: AtomicBool::new(config.lru_maintainer),
            lru_crawler_tocrawl: AtomicU32::new(0),
            lru_crawler_sleep: AtomicU32::new(100),
            lru_crawler_starts: AtomicU64::new(0),
        }
    }

    /// `stats reset`: the counters, the per-class counters and the prefix counts (memcached's
    /// stats_reset clears the three).
    pub(crate) fn reset_stats(&self) {
        self.store.counters.reset();
        self.store.classes.reset();
        self.store.log.reset_counters();
        self.prefix_stats.clear();
    }

    /// Whether the node still serves.
    pub(crate) fn is_running(&self) -> bool {
        self.running.load(Ordering::Relaxed)
    }

    /// The version string clients see.
    pub(crate) fn version(&self) -> String {
        self.engine_version
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The cluster's discovery, if the node has one.
    pub(crate) fn discovery(&self) -> Option<Arc<ClusterDiscovery>> {
        self.discovery
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The limits the parsers enforce, as the node's settings stand now.
    pub(crate) fn limits(&self) -> Limits {
        let st = &self.store.settings;
        Limits {
            max_item_size: st.max_item_size.load(Ordering::Relaxed),
            cas_disabled: st.cas_disabled.load(Ordering::Relaxed),
        }
    }
}

/// What `stats conns` shows of one open connection.
pub(crate) struct ConnInfo {
    /// Client address.
    pub(crate) peer: SocketAddr,
    /// Unix time of the last request batch.
    pub(crate) last_cmd: AtomicU32,
}
