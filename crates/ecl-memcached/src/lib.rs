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
//! - `ConfigEndpoint::start(bind, Arc<ClusterDiscovery>, engine_version)` for the configuration endpoint.
//! - `ClusterDiscovery::new`, `set_nodes` (bumps the version when membership changes), `version`.

use std::net::{IpAddr, SocketAddr};

/// Everything needed to start one node. Values come from the node type and parameter group.
#[derive(Clone, Debug)]
pub struct MemcachedConfig {
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
    /// Auto discovery shared by the cluster's nodes; `None` answers `config get cluster` as stock
    /// memcached does (ERROR).
    pub discovery: Option<std::sync::Arc<ClusterDiscovery>>,
}

impl MemcachedConfig {
    /// A config with defaults suitable for tests: ephemeral port on 127.0.0.1, version 1.6.22,
    /// 64 MiB, 1 MiB items.
    pub fn for_tests() -> MemcachedConfig {
        MemcachedConfig {
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
            discovery: None,
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

/// Auto discovery state shared by every node of one cluster and its configuration endpoint:
/// the configuration version and the node list (to be completed by the engine work).
#[derive(Debug, Default)]
pub struct ClusterDiscovery {}
