//! Restart in place: a running node takes a new spec (node type, engine version, engine) on
//! its own address, and a Redis/Valkey node keeps its keyspace across the change, as
//! ElastiCache's online scaling and engine upgrades do.
//!
//! Place in the flow: `control::handlers` (ModifyCacheCluster, ModifyReplicationGroup) build the
//! node's new [`NodeSpec`] from the updated record and call [`Supervisor::respec_node`]; the
//! keyspace travels as an RDB image taken from the old engine and loaded by the new one before
//! it listens (the same path as a snapshot restore, see `snapshots`). Memcached has no
//! persistence: its node comes back empty, as a replaced ElastiCache Memcached node does.

use std::sync::Arc;

use super::node::Supervisor;
use super::{Endpoint, NodeSpec, SupervisorError};

impl Supervisor {
    /// Restarts the node `spec.key` with `spec`, on the address it has now. Redis/Valkey: its
    /// clients are disconnected (and new ones refused) first, so every write a client saw
    /// acknowledged is in the image the new engine starts from; the image is in the old
    /// engine's RDB format, which every later version loads. The node's replication link and
    /// slot map are forgotten: the caller tells it its topology again.
    pub async fn respec_node(&self, spec: NodeSpec) -> Result<Endpoint, SupervisorError> {
        self.refuse_when_shutting_down()?;
        // A spec that cannot make an engine is refused while the old node still serves.
        self.check_spec(&spec)?;
        let key = spec.key.clone();
        let guard = self.slot(&key)?.lock_owned().await;
        if let Some(node) = &guard.running {
            // Clients out first: nothing writes between the image and the stop.
            let gate = node.fault_gate();
            gate.set_refuse(true);
        }
        // Taking the image blocks (entries copied and serialised): tokio's blocking pool, with
        // the slot lock, so nothing else starts or stops the node meanwhile.
        let (mut guard, image) = tokio::task::spawn_blocking(move || {
            let image = guard.running.as_ref().and_then(|n| n.snapshot_rdb());
            (guard, image)
        })
        .await
        .map_err(|e| SupervisorError::UnknownNode(format!("{key} (image task failed: {e})")))?;
        if let Some(node) = guard.running.take() {
            node.shutdown().await;
        }
        self.forget_topology(&key);
        let image_bytes = image.as_ref().map_or(0, |i| i.len());
        if let Some(image) = image {
            self.seed_rdb(&key, Arc::new(image));
        }
        self.set_engine(&key, spec.engine);
        guard.spec = spec;
        let started = self.relaunch(&key, &mut guard).await;
        // The image was for this start only: a later reboot starts empty, as on ElastiCache.
        super::node::lock(&self.seeds).remove(&key);
        let endpoint = started?;
        tracing::info!(node = %key, version = %guard.spec.engine_version, image_bytes,
            "node restarted in place with its new spec");
        Ok(endpoint)
    }
}
