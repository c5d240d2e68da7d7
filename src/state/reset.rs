//! Wiping the whole store (`POST /_elasticache_local/reset`): every account's every region and
//! every global datastore goes, so the next lookup of a region creates it afresh with AWS's
//! pre-created resources (default parameter and subnet groups, the `default` user), exactly as
//! in a freshly started emulator.
//!
//! Place in the flow: the reset route (`ci`) calls [`Store::reset`] and then has the supervisor
//! stop every node; nothing here awaits. A background task that still holds a region handle
//! from before the reset writes into that detached region, which nobody reads any more.

use std::sync::atomic::Ordering;

use super::region::DEFAULT_SUBNET_GROUP;
use super::{Region, Store, lock};

/// What a reset deleted, summed over every account and region.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ResetSummary {
    /// (account, region) pairs that had been used.
    pub regions: usize,
    /// Cache clusters (replication group members included).
    pub cache_clusters: usize,
    /// Cache nodes of those clusters.
    pub cache_nodes: usize,
    /// Replication groups.
    pub replication_groups: usize,
    /// Serverless caches.
    pub serverless_caches: usize,
    /// Global datastores.
    pub global_replication_groups: usize,
    /// Snapshots, node-based and serverless.
    pub snapshots: usize,
    /// Users other than `default`.
    pub users: usize,
    /// User groups.
    pub user_groups: usize,
    /// Parameter groups other than the `default.*` ones.
    pub parameter_groups: usize,
    /// Subnet groups other than `default`.
    pub subnet_groups: usize,
    /// Security groups.
    pub security_groups: usize,
    /// Tags, counted one per key on each resource.
    pub tags: usize,
    /// Events in the event logs.
    pub events: usize,
    /// Reserved cache nodes.
    pub reserved_cache_nodes: usize,
    /// Service update actions applied or stopped.
    pub update_actions: usize,
    /// Online migrations in progress.
    pub migrations: usize,
}

impl ResetSummary {
    /// Adds what `r` holds beyond a fresh region's pre-created resources.
    fn add_region(&mut self, r: &Region) {
        self.regions += 1;
        self.cache_clusters += r.clusters.len();
        self.cache_nodes += r.clusters.values().map(|c| c.nodes.len()).sum::<usize>();
        self.replication_groups += r.replication_groups.len();
        self.serverless_caches += r.serverless.caches.len();
        self.snapshots += r.snapshots.len() + r.serverless.snapshots.len();
        self.users += r.users.keys().filter(|id| *id != "default").count();
        self.user_groups += r.user_groups.len();
        self.parameter_groups += r
            .parameter_groups
            .values()
            .filter(|g| !g.is_default)
            .count();
        self.subnet_groups += (r.subnet_groups.keys())
            .filter(|n| *n != DEFAULT_SUBNET_GROUP)
            .count();
        self.security_groups += r.security_groups.len();
        self.tags += r.tags.values().map(Vec::len).sum::<usize>();
        self.events += r.events.len();
        self.reserved_cache_nodes += r.reserved_nodes.len();
        self.update_actions += r.update_actions.len();
        self.migrations += r.migrations.len();
    }
}

impl Store {
    /// Forgets every region of every account and every global datastore, answering what they
    /// held. The touch count moves, so the state file is rewritten.
    pub fn reset(&self) -> ResetSummary {
        let regions: Vec<_> = lock(&self.regions).drain().map(|(_, r)| r).collect();
        let mut summary = ResetSummary::default();
        for region in &regions {
            summary.add_region(&lock(region));
        }
        let globals = std::mem::take(&mut *self.globals());
        summary.global_replication_groups = globals.accounts.values().map(|a| a.len()).sum();
        self.touches.fetch_add(1, Ordering::Relaxed);
        summary
    }
}
