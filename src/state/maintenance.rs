//! Records of the account-level operations around clusters: service update actions applied
//! or stopped, reserved cache nodes bought, and online migrations into replication groups.
//!
//! Place in the flow: the `service_updates`, `reserved_nodes` and `migration` handlers read
//! and update these under the region lock like every other record; the catalogue of service
//! updates and reserved-node offerings is static data of those handlers, so only what a
//! caller changed is stored here. Times are Unix seconds or milliseconds so the records serialize with serde
//! without any feature of the `time` crate.

use serde::{Deserialize, Serialize};

/// Where one update action stands after BatchApply/BatchStop (an action never touched is
/// `not-applied` and has no record).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UpdateActionPhase {
    /// BatchApplyUpdateAction accepted it: `in-progress` until `until`, then `complete`.
    Applying,
    /// BatchStopUpdateAction accepted it while applying: `stopping` until `until`, then
    /// `stopped`.
    Stopping,
}

/// The caller's changes to one (service update, cluster or replication group) action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateActionRecord {
    /// Service update name.
    pub service_update: String,
    /// `ReplicationGroupId` of the action, when it belongs to a group.
    pub replication_group_id: Option<String>,
    /// `CacheClusterId` of the action, when it belongs to a standalone cluster.
    pub cache_cluster_id: Option<String>,
    /// What was asked last.
    pub phase: UpdateActionPhase,
    /// When the last Batch call was accepted (Unix milliseconds).
    pub since_ms: i64,
    /// When the phase ends (`complete` / `stopped` from then on; Unix milliseconds).
    pub until_ms: i64,
    /// When the apply started (kept across a stop; Unix milliseconds).
    pub started_ms: i64,
    /// The nodes the update restarted so far (`cluster id/node id`), kept across a stop so a
    /// new apply goes on with the others.
    #[serde(default)]
    pub nodes_done: Vec<String>,
    /// Whether the node restarts are still running (the phase cannot end before they do).
    #[serde(default)]
    pub running: bool,
    /// The node being restarted now (`cluster id/node id`) and when its restart began (Unix
    /// milliseconds): the one node that reads `in-progress` (or `stopping`).
    #[serde(default)]
    pub current: Option<(String, i64)>,
    /// When each updated node's restart began and ended (Unix milliseconds), by
    /// `cluster id/node id`: its NodeUpdateStartDate and NodeUpdateEndDate.
    #[serde(default)]
    pub node_times: std::collections::BTreeMap<String, (i64, i64)>,
}

impl UpdateActionRecord {
    /// The `NodeUpdateStatus` of node `node` (`cluster id/node id`) while the action reads
    /// `status`: `complete` once restarted, the node being restarted `in-progress` (or
    /// `stopping`), the others `waiting-to-start` (`stopped` once the action is).
    pub fn node_status(&self, node: &str, status: &'static str) -> &'static str {
        if status == "complete" || self.nodes_done.iter().any(|d| d == node) {
            return "complete";
        }
        let current = self.current.as_ref().is_some_and(|(c, _)| c == node);
        match status {
            "in-progress" if current => "in-progress",
            "in-progress" => "waiting-to-start",
            "stopping" if current => "stopping",
            _ => "stopped",
        }
    }

    /// The `UpdateActionStatus` at `now_ms` (Unix milliseconds).
    pub fn status(&self, now_ms: i64) -> &'static str {
        match (self.phase, now_ms >= self.until_ms && !self.running) {
            (UpdateActionPhase::Applying, false) => "in-progress",
            (UpdateActionPhase::Applying, true) => "complete",
            (UpdateActionPhase::Stopping, false) => "stopping",
            (UpdateActionPhase::Stopping, true) => "stopped",
        }
    }
}

/// A reserved cache node purchase.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReservedNodeRecord {
    /// `ReservedCacheNodeId` as given (or generated).
    pub id: String,
    /// The offering it was bought from.
    pub offering_id: String,
    /// Node type.
    pub node_type: String,
    /// Term in seconds.
    pub duration: i32,
    /// Up-front price per purchase.
    pub fixed_price: f64,
    /// Hourly usage price.
    pub usage_price: f64,
    /// Hourly recurring charge (0 when the offering has none).
    pub recurring_hourly: f64,
    /// Number of nodes reserved.
    pub count: i32,
    /// `redis`, `valkey` or `memcached`.
    pub product_description: String,
    /// `No Upfront`, `Partial Upfront` or `All Upfront`.
    pub offering_type: String,
    /// Purchase time (Unix milliseconds); `payment-pending` for a short while after it.
    pub start_ms: i64,
    /// Milliseconds after `start_ms` at which the reservation becomes `active`.
    pub pending_ms: i64,
}

impl ReservedNodeRecord {
    /// The `State` at `now_ms` (Unix milliseconds): `payment-pending`, `active`, then
    /// `retired` once the term is over.
    pub fn state(&self, now_ms: i64) -> &'static str {
        if now_ms < self.start_ms + self.pending_ms {
            "payment-pending"
        } else if now_ms >= self.start_ms + i64::from(self.duration) * 1000 {
            "retired"
        } else {
            "active"
        }
    }
}

/// An online migration into a replication group (StartMigration until CompleteMigration).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationRecord {
    /// The target group.
    pub replication_group_id: String,
    /// The source endpoint the group's primary replicates from.
    pub source: (String, u16),
    /// The node key (supervisor) of the primary that replicates.
    pub primary_node: String,
    /// StartMigration time (Unix seconds).
    pub started: i64,
    /// Cluster mode enabled groups: the other shards' links (each shard primary replicates
    /// the source primary owning the same slots); empty for cluster mode disabled groups.
    #[serde(default)]
    pub more_links: Vec<MigrationLink>,
}

/// One shard's migration link: a shard primary of the group and the source node it
/// replicates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationLink {
    /// The node key (supervisor) of the shard primary that replicates.
    pub node: String,
    /// The source node it replicates.
    pub source: (String, u16),
}

impl MigrationRecord {
    /// Every link of the migration, the first shard's first.
    pub fn links(&self) -> Vec<MigrationLink> {
        let first = MigrationLink {
            node: self.primary_node.clone(),
            source: self.source.clone(),
        };
        std::iter::once(first)
            .chain(self.more_links.iter().cloned())
            .collect()
    }
}
