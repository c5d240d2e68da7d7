//! The control plane's side of the CI conveniences (`crate::ci`): resetting the whole emulator
//! for test isolation, telling whether every resource has settled (readiness after an init
//! directory), and a per-region summary for `/health` and `elasticache-local status`.
//!
//! Place in the flow: `ci`'s reset route calls [`Service::reset`]; the state is cleared first
//! (so no request sees a resource whose nodes are gone), then the supervisor stops every node
//! and frees its address, then the snapshot files of the data directory are removed. The init
//! runner polls [`Service::unsettled`]; `server` adds [`Service::region_summaries`] to `/health`.

use serde_json::{Value, json};

use crate::state::{
    ClusterStatus, GroupStatus, Region, ResetSummary, ServerlessStatus, SnapshotStatus, lock,
};

use super::Service;

/// Resources not yet settled, and those that ended in a failed state (`kind id` each).
#[derive(Debug, Default)]
pub struct Unsettled {
    /// Still creating, modifying, snapshotting, …
    pub pending: Vec<String>,
    /// Failed to create (`create-failed`, `incompatible-network`, failed snapshots).
    pub failed: Vec<String>,
}

impl Service {
    /// Deletes everything and stops every node; answers what was deleted and how many nodes
    /// were stopped.
    pub async fn reset(&self) -> (ResetSummary, usize) {
        let summary = self.inner.store.reset();
        let stopped = self.inner.supervisor.reset().await;
        if let Some(dir) = &self.inner.snapshot_dir {
            // Snapshot images belong to the snapshot records just deleted.
            if let Err(err) = std::fs::remove_dir_all(dir)
                && err.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(dir = %dir.display(), %err, "snapshot files not removed");
            }
        }
        tracing::info!(?summary, nodes_stopped = stopped, "emulator reset");
        (summary, stopped)
    }

    /// Every cluster, replication group, serverless cache and snapshot of every region that is
    /// not `available` yet, and those that failed.
    pub fn unsettled(&self) -> Unsettled {
        let mut out = Unsettled::default();
        for region in self.inner.store.regions() {
            unsettled_in(&lock(&region), &mut out);
        }
        out
    }

    /// One JSON object per (account, region) in use: resource counts and every cluster with its
    /// nodes' statuses and endpoints, sorted by account then region.
    pub fn region_summaries(&self) -> Value {
        let mut regions: Vec<Value> = self
            .inner
            .store
            .regions()
            .iter()
            .map(|r| region_summary(&lock(r)))
            .collect();
        regions.sort_by_key(|v| format!("{}/{}", v["account"], v["region"]));
        Value::Array(regions)
    }
}

fn unsettled_in(r: &Region, out: &mut Unsettled) {
    let name = |kind: &str, id: &str| format!("{kind} {id} ({}/{})", r.account, r.region);
    for c in r.clusters.values() {
        match c.status {
            ClusterStatus::Available => {}
            ClusterStatus::IncompatibleNetwork => out.failed.push(name("cache cluster", &c.id)),
            _ => out.pending.push(name("cache cluster", &c.id)),
        }
    }
    for g in r.replication_groups.values() {
        match g.status {
            GroupStatus::Available => {}
            GroupStatus::CreateFailed => out.failed.push(name("replication group", &g.id)),
            _ => out.pending.push(name("replication group", &g.id)),
        }
    }
    for s in r.serverless.caches.values() {
        match s.status {
            ServerlessStatus::Available => {}
            ServerlessStatus::CreateFailed => out.failed.push(name("serverless cache", &s.name)),
            _ => out.pending.push(name("serverless cache", &s.name)),
        }
    }
    for s in r.snapshots.values() {
        match s.status {
            SnapshotStatus::Available => {}
            SnapshotStatus::Failed => out.failed.push(name("snapshot", &s.name)),
            _ => out.pending.push(name("snapshot", &s.name)),
        }
    }
}

fn region_summary(r: &Region) -> Value {
    let clusters: Vec<Value> = (r.cluster_order.iter())
        .filter_map(|id| r.clusters.get(id))
        .map(|c| {
            let nodes: Vec<Value> = (c.nodes.iter())
                .map(|n| {
                    let endpoint = n
                        .endpoint
                        .as_ref()
                        .map(|e| format!("{}:{}", e.address, e.port));
                    json!({"id": n.id, "status": n.status.as_str(), "endpoint": endpoint})
                })
                .collect();
            json!({
                "id": c.id,
                "engine": c.engine,
                "engine_version": c.engine_version,
                "status": c.status.as_str(),
                "replication_group": c.replication_group_id,
                "nodes": nodes,
            })
        })
        .collect();
    json!({
        "account": r.account,
        "region": r.region,
        "cache_clusters": r.clusters.len(),
        "replication_groups": r.replication_groups.len(),
        "serverless_caches": r.serverless.caches.len(),
        "snapshots": r.snapshots.len() + r.serverless.snapshots.len(),
        "users": r.users.len(),
        "user_groups": r.user_groups.len(),
        "clusters": clusters,
    })
}
