//! The supervisor's single point of contact with the engine crates: starting, reconfiguring
//! and stopping `ecl_redis` / `ecl_memcached` nodes and Memcached configuration endpoints.
//!
//! Place in the flow: [`super::Supervisor`] builds engine configurations from node specs and
//! hands them here; everything else in the supervisor is engine-agnostic.
//!
//! TEMPORARY: until the engine crates land, nodes are plain listening sockets.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use ecl_memcached::{ClusterDiscovery, DiscoveryNode, MemcachedConfig};
use ecl_redis::RedisConfig;
use tokio::net::TcpListener;

/// A running engine node.
pub struct RunningNode {
    listener: TcpListener,
}

impl RunningNode {
    /// Starts a Redis/Valkey node; listening on return.
    pub async fn start_redis(config: RedisConfig) -> io::Result<RunningNode> {
        let listener = TcpListener::bind(config.bind).await?;
        Ok(RunningNode { listener })
    }

    /// Starts a Memcached node; listening on return.
    pub async fn start_memcached(config: MemcachedConfig) -> io::Result<RunningNode> {
        let listener = TcpListener::bind(config.bind).await?;
        Ok(RunningNode { listener })
    }

    /// The address the node listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Sets one Redis CONFIG value at runtime.
    pub async fn config_set(&self, name: &str, value: &str) -> Result<(), String> {
        let _ = (name, value);
        Ok(())
    }

    /// Re-applies Memcached settings at runtime.
    pub async fn apply_memcached(&self, config: &MemcachedConfig) {
        let _ = config;
    }

    /// Stops the node: listener closed and client connections dropped when this returns.
    pub async fn shutdown(self) {
        drop(self.listener);
    }
}

/// A running Memcached configuration endpoint.
pub struct ConfigListener {
    listener: TcpListener,
}

impl ConfigListener {
    /// Binds the configuration endpoint of a discovery group.
    pub async fn start(
        bind: SocketAddr,
        discovery: Arc<ClusterDiscovery>,
        engine_version: &str,
    ) -> io::Result<ConfigListener> {
        let _ = (discovery, engine_version);
        let listener = TcpListener::bind(bind).await?;
        Ok(ConfigListener { listener })
    }

    /// The address the endpoint listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Stops the endpoint.
    pub async fn shutdown(self) {
        drop(self.listener);
    }
}

/// A new, empty discovery list.
pub fn new_discovery() -> Arc<ClusterDiscovery> {
    Arc::new(ClusterDiscovery::default())
}

/// Replaces the node list of a discovery group.
pub fn set_discovery_nodes(discovery: &ClusterDiscovery, nodes: Vec<DiscoveryNode>) {
    let _ = (discovery, nodes);
}
