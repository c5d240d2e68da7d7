//! Serverless caches at the node level: the single-shard cluster a serverless Valkey/Redis OSS
//! cache's node serves (its endpoint owns every slot, the reader endpoint is listed as the
//! shard's replica, as ElastiCache Serverless lists its port-6380 endpoint) and its data limit.
//!
//! Place in the flow: `control::handlers::serverless_run` starts the node with
//! [`super::Supervisor::start_node`] (cluster mode, TLS required), the reader with
//! `start_proxy_endpoint`, then calls [`super::Supervisor::set_serverless_topology`] here;
//! ModifyServerlessCache's new `DataStorage` maximum arrives through `set_memory_limit`.

use ecl_redis::{ClusterNodeInfo, ClusterShard, ClusterTopology};

use super::node::Supervisor;
use super::{Endpoint, EngineKind, SupervisorError, params};

/// The id the reader endpoint has in CLUSTER SLOTS/SHARDS/NODES: it is a relay to the node,
/// not a node of its own, so it needs a stable id distinct from the node's.
fn reader_node_id(node_id: &str) -> String {
    let mut id: String = node_id.chars().rev().collect();
    if id == node_id {
        // A palindromic id cannot be told from its reverse: flip the first digit instead.
        let first = if id.starts_with('0') { '1' } else { '0' };
        id.replace_range(0..1, &first.to_string());
    }
    id
}

impl Supervisor {
    /// Tells the serverless node `key` that it alone owns slots 0–16383, announced with its
    /// endpoint, with `reader` (the reader endpoint, if any) as the shard's replica.
    pub async fn set_serverless_topology(
        &self,
        key: &str,
        reader: Option<&Endpoint>,
    ) -> Result<(), SupervisorError> {
        let slot = self.slot(key)?;
        let guard = slot.lock().await;
        let Some(node) = guard.running.as_ref() else {
            return Err(SupervisorError::UnknownNode(key.to_string()));
        };
        let node_id = node
            .node_id()
            .ok_or_else(|| SupervisorError::UnknownNode(key.to_string()))?;
        let primary = ClusterNodeInfo {
            node_id: node_id.clone(),
            ip: guard.endpoint.ip.to_string(),
            port: guard.endpoint.port,
            hostname: Some(guard.endpoint.address.clone()),
        };
        let replicas = reader
            .map(|r| ClusterNodeInfo {
                node_id: reader_node_id(&node_id),
                ip: r.ip.to_string(),
                port: r.port,
                hostname: Some(r.address.clone()),
            })
            .into_iter()
            .collect();
        let topology = ClusterTopology {
            shards: vec![ClusterShard {
                shard_id: format!("{:040x}", 1),
                slots: vec![(0, 16383)],
                primary,
                replicas,
            }],
        };
        node.set_cluster_topology(topology);
        Ok(())
    }

    /// Sets a running node's data limit to `bytes`, live with its data kept: a Valkey/Redis OSS
    /// node's `maxmemory` (its spec reserves no share), a Memcached node's memory budget. The
    /// emulator's `--max-node-memory` cap still applies, and the node keeps the limit if it
    /// restarts.
    pub async fn set_memory_limit(&self, key: &str, bytes: u64) -> Result<(), SupervisorError> {
        let slot = self.slot(key)?;
        let mut guard = slot.lock().await;
        guard.spec.node_memory_bytes = bytes;
        let Some(node) = guard.running.as_ref() else {
            return Err(SupervisorError::UnknownNode(key.to_string()));
        };
        if guard.spec.engine == EngineKind::Memcached {
            let config =
                self.memcached_config(&guard.spec, &guard.spec.parameters, guard.reservation.bind)?;
            node.apply_memcached(&config);
            return Ok(());
        }
        let limit = params::redis_maxmemory(bytes, &guard.spec.parameters, self.memory_cap())?;
        node.config_set("maxmemory", &limit.to_string())
            .await
            .map_err(|reason| SupervisorError::InvalidParameter {
                name: "maxmemory".to_string(),
                reason,
            })
    }
}
