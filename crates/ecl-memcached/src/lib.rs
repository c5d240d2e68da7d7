//! A Memcached-compatible engine that runs inside the elasticache-local process.
//!
//! Place in the flow: the supervisor (in the `elasticache-local` crate) turns an ElastiCache
//! Memcached cache node into a [`MemcachedConfig`] and calls `MemcachedNode::start`; clients then
//! speak the text, meta or binary protocol to the node's socket directly. A cluster's nodes
//! share one [`ClusterDiscovery`], which answers ElastiCache auto discovery
//! (`config get cluster`) on every node and on the cluster's configuration endpoint.
//! This crate knows nothing of AWS.
//!
//! Contract with the supervisor (keep these signatures stable; add, do not break):
//! - `MemcachedNode::start(MemcachedConfig) -> io::Result<MemcachedNode>`: listening on return.
//! - `MemcachedNode::local_addr`, `flush_all`, `apply`, `stats`, `shutdown`.
//! - `ConfigEndpoint::start(bind, Arc<ClusterDiscovery>, engine_version, name)` for the configuration endpoint.
//! - `ClusterDiscovery::new`, `set_nodes` (bumps the version when membership changes), `version`.
//!
//! Inside, in dependency order: `server` (listener, connection tasks, reaper) -> `conn` (the
//! request loop of a connection) -> `protocol` (pure parsers of `text`, `meta` and `binary`
//! into a `Request`, public so fuzz targets can call them) and `execute` (runs a `Request`
//! against the node) -> `node` (shared state), `store` (sharded byte-budget LRU), `stats`,
//! `discovery`, `wire` (exact replies).
//!
//! The configuration endpoint answers `config get cluster` and the legacy
//! `get AmazonElastiCache:cluster` from the cluster's [`ClusterDiscovery`]; every other
//! command is served by the first running node of the cluster (in host-name order), exactly
//! as the real endpoint, a DNS alias of a node, does. With no node running it answers as an
//! empty memcached of its own.

#![forbid(unsafe_code)]

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;

mod conn;
mod discovery;
mod execute;
mod keyhash;
mod node;
mod prefix_stats;
pub mod protocol;
mod server;
mod slab_class;
mod slot_table;
mod stats;
mod store;
#[cfg(test)]
mod test_rng;
mod watch;
pub mod wire;

pub use discovery::{ClusterDiscovery, LEGACY_KEY};
use node::NodeShared;
use server::{Running, Target};
use stats::Counter;

/// Everything needed to start one node. Values come from the node type and parameter group.
#[derive(Clone, Debug)]
pub struct MemcachedConfig {
    /// Name of the node in log lines: every task of the node runs in a `node` span carrying it
    /// (the supervisor passes its node key, e.g. `000000000000/us-east-1/mc/0001`).
    pub name: String,
    /// Address to bind (port 0 picks an ephemeral port).
    pub bind: SocketAddr,
    /// Version reported by `version` and `stats`, e.g. `1.6.22`.
    pub engine_version: String,
    /// Byte budget for items (memcached `-m`).
    pub memory_limit: u64,
    /// Worker threads reported in stats (memcached `-t`).
    pub threads: usize,
    /// Largest item accepted (memcached `-I`, parameter `max_item_size`).
    pub max_item_size: usize,
    /// Disable CAS (memcached `-C`, parameter `cas_disabled`).
    pub cas_disabled: bool,
    /// Answer `SERVER_ERROR out of memory` instead of evicting (memcached `-M`).
    pub error_on_memory_exhausted: bool,
    /// Refuse `flush_all` (memcached `-F`, parameter `disable_flush_all`).
    pub disable_flush_all: bool,
    /// Maximum simultaneous connections (memcached `-c`).
    pub max_connections: usize,
    /// Close connections idle for this many seconds (0 = never; parameter `idle_timeout`).
    pub idle_timeout_secs: u64,
    /// The LRU crawler starts enabled (`lru_crawler crawl` and `metadump` work; memcached's
    /// `-o no_lru_crawler` turns it off). ElastiCache nodes always have it.
    pub lru_crawler: bool,
    /// Expired items are swept away in the background, as memcached's LRU maintainer takes
    /// them off its LRU tails (memcached's `-o no_lru_maintainer` turns it off). ElastiCache
    /// nodes always have it.
    pub lru_maintainer: bool,
    /// Auto discovery shared by the cluster's nodes; `None` answers `config get cluster` as stock
    /// memcached does (ERROR).
    pub discovery: Option<std::sync::Arc<ClusterDiscovery>>,
    /// TLS in transit: `None` serves plaintext; a policy serves TLS, and plaintext too unless
    /// it is `required`.
    pub tls: Option<ecl_net::TlsPolicy>,
}

impl MemcachedConfig {
    /// A config with defaults suitable for tests: ephemeral port on 127.0.0.1, version 1.6.22,
    /// 64 MiB, 1 MiB items.
    pub fn for_tests() -> MemcachedConfig {
        MemcachedConfig {
            name: "test".to_string(),
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            engine_version: "1.6.22".to_string(),
            memory_limit: 64 << 20,
            threads: 4,
            max_item_size: 1 << 20,
            cas_disabled: false,
            error_on_memory_exhausted: false,
            disable_flush_all: false,
            max_connections: 65000,
            idle_timeout_secs: 0,
            lru_crawler: true,
            lru_maintainer: true,
            discovery: None,
            tls: None,
        }
    }
}

/// One node as auto discovery lists it: `hostname|ip|port`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiscoveryNode {
    /// Host name (the node's endpoint address as the API reports it).
    pub hostname: String,
    /// IP address clients connect to.
    pub ip: IpAddr,
    /// TCP port.
    pub port: u16,
}

/// A snapshot of a node's counters, for the supervisor and the health endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeStats {
    /// Items stored (`curr_items`).
    pub curr_items: u64,
    /// Items stored since start (`total_items`).
    pub total_items: u64,
    /// Bytes accounted to items (`bytes`).
    pub bytes: u64,
    /// Byte budget (`limit_maxbytes`).
    pub limit_maxbytes: u64,
    /// Open connections (`curr_connections`).
    pub curr_connections: u64,
    /// Connections accepted since start (`total_connections`).
    pub total_connections: u64,
    /// Items evicted to make room (`evictions`).
    pub evictions: u64,
    /// Key hits (`get_hits`).
    pub get_hits: u64,
    /// Key misses (`get_misses`).
    pub get_misses: u64,
    /// Retrieval requests per key (`cmd_get`).
    pub cmd_get: u64,
    /// Storage requests (`cmd_set`).
    pub cmd_set: u64,
}

/// A running Memcached node: one listening socket, its store and its connections.
pub struct MemcachedNode {
    shared: Arc<NodeShared>,
    running: Running,
}

impl MemcachedNode {
    /// Binds `config.bind` and starts serving; the node is listening when this returns.
    /// Must be called from inside a tokio runtime (connections run as tasks on it).
    pub fn start(config: MemcachedConfig) -> io::Result<MemcachedNode> {
        let shared = Arc::new(NodeShared::new(&config));
        let running = server::spawn(
            config.bind,
            Target::Node(shared.clone()),
            shared.clone(),
            ecl_net::PolicyCell::new(config.tls.clone()),
        )?;
        *shared.addr.write().unwrap_or_else(|p| p.into_inner()) = Some(running.addr);
        if let Some(d) = &config.discovery {
            d.register(running.addr, Arc::downgrade(&shared));
        }
        tracing::info!(node = %config.name, addr = %running.addr, version = %config.engine_version, "memcached node listening");
        Ok(MemcachedNode { shared, running })
    }

    /// The address the node listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.running.addr
    }

    /// The gate through which the node's client connections pass: the supervisor sets
    /// network faults (delay, refusal, resets) on it.
    pub fn fault_gate(&self) -> ecl_net::FaultGate {
        self.running.fault.clone()
    }

    /// Replaces the TLS policy for connections accepted from now on; open connections keep
    /// their transport.
    pub fn set_tls(&self, tls: Option<ecl_net::TlsPolicy>) {
        self.running.tls.set(tls);
    }

    /// Empties the node (what a reboot does to a memcached node).
    pub fn flush_all(&self) {
        self.shared.store.clear();
    }

    /// Re-applies parameters at runtime: memory budget (evicting down to a lowered
    /// budget at once), item size, CAS, `-M`, flush permission, connection limit, idle timeout,
    /// version, threads and discovery. The bind address cannot change.
    pub fn apply(&self, config: &MemcachedConfig) {
        let s = &self.shared;
        let st = &s.store.settings;
        st.memory_limit
            .store(config.memory_limit, Ordering::Relaxed);
        s.store.enforce_budget();
        st.max_item_size
            .store(config.max_item_size, Ordering::Relaxed);
        st.cas_disabled
            .store(config.cas_disabled, Ordering::Relaxed);
        st.no_evict
            .store(config.error_on_memory_exhausted, Ordering::Relaxed);
        s.disable_flush
            .store(config.disable_flush_all, Ordering::Relaxed);
        s.max_connections
            .store(config.max_connections, Ordering::Relaxed);
        s.idle_timeout
            .store(config.idle_timeout_secs, Ordering::Relaxed);
        s.threads.store(config.threads, Ordering::Relaxed);
        *s.engine_version.write().unwrap_or_else(|p| p.into_inner()) =
            config.engine_version.clone();
        if let Some(d) = &config.discovery {
            d.register(self.running.addr, Arc::downgrade(&self.shared));
        }
        *s.discovery.write().unwrap_or_else(|p| p.into_inner()) = config.discovery.clone();
    }

    /// Counters as `stats` reports them.
    pub fn stats(&self) -> NodeStats {
        let s = &self.shared;
        let c = &s.store.counters;
        NodeStats {
            curr_items: s.store.items(),
            total_items: c.get(Counter::TotalItems),
            bytes: s.store.bytes(),
            limit_maxbytes: s.store.settings.memory_limit.load(Ordering::Relaxed),
            curr_connections: s.curr_connections.load(Ordering::Relaxed),
            total_connections: c.get(Counter::TotalConnections),
            evictions: c.get(Counter::Evictions),
            get_hits: c.get(Counter::GetHits),
            get_misses: c.get(Counter::GetMisses),
            cmd_get: c.get(Counter::CmdGet),
            cmd_set: c.get(Counter::CmdSet),
        }
    }

    /// Moves the node's clock forward by `secs` seconds (expiry tests and emulated time).
    pub fn advance_clock(&self, secs: u64) {
        self.shared
            .store
            .clock
            .advance(secs.min(i64::MAX as u64) as i64);
    }

    /// Closes the listener and every connection, and waits until they are closed.
    pub async fn shutdown(self) {
        self.running.shutdown(&self.shared).await;
        self.shared.store.clear();
        tracing::info!("memcached node stopped");
    }
}

/// The configuration endpoint of a Memcached cluster (see the crate docs for what it serves).
pub struct ConfigEndpoint {
    fallback: Arc<NodeShared>,
    running: Running,
}

impl ConfigEndpoint {
    /// Binds `bind` and serves auto discovery for `discovery`, reporting `engine_version`;
    /// `name` labels its log lines (the `node` span); `tls` is the endpoint's TLS policy, as
    /// for the cluster's nodes. Must be called inside a tokio runtime.
    pub fn start(
        bind: SocketAddr,
        discovery: Arc<ClusterDiscovery>,
        engine_version: impl Into<String>,
        name: impl Into<String>,
        tls: Option<ecl_net::TlsPolicy>,
    ) -> io::Result<ConfigEndpoint> {
        let mut config = MemcachedConfig::for_tests();
        config.name = name.into();
        config.bind = bind;
        config.engine_version = engine_version.into();
        config.discovery = Some(discovery.clone());
        let fallback = Arc::new(NodeShared::new(&config));
        let target = Target::ConfigEndpoint {
            discovery,
            fallback: fallback.clone(),
        };
        let running = server::spawn(
            bind,
            target,
            fallback.clone(),
            ecl_net::PolicyCell::new(tls),
        )?;
        *fallback.addr.write().unwrap_or_else(|p| p.into_inner()) = Some(running.addr);
        Ok(ConfigEndpoint { fallback, running })
    }

    /// The address the endpoint listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.running.addr
    }

    /// Closes the listener and every connection.
    pub async fn shutdown(self) {
        self.running.shutdown(&self.fallback).await;
    }
}
