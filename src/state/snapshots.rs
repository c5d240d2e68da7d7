//! Snapshot records: a backup of a cache cluster or a replication group, with the settings of
//! its source (what AWS's `Snapshot` shape reports and what a restore starts from) and the RDB
//! image of each shard.
//!
//! Place in the flow: `control::handlers::snapshots` takes the images from the supervisor
//! (one per node group, from its primary) and records them here under the region lock; a
//! restore reads them back to seed new nodes. The images are held in memory, shared without
//! copying; writing them to disk (`--data-dir`) is the handlers' job.

use std::sync::Arc;

use time::OffsetDateTime;

use super::lifecycle::SnapshotStatus;

/// Snapshots per region (AWS's default quota of manual snapshots is far higher; an emulator
/// holding images in memory keeps a smaller one).
pub const MAX_SNAPSHOTS: usize = 100;

/// One node's part of a snapshot (one per shard: the node the image was taken from).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct NodeSnapshotRecord {
    /// Member cluster the node belongs to.
    pub cache_cluster_id: String,
    /// `0001`.
    pub cache_node_id: String,
    /// Node group (`0001` for a cluster).
    pub node_group_id: String,
    /// Slots of the shard (cluster mode enabled), `0-16383` form.
    pub slots: Option<String>,
    /// Replicas the shard had.
    pub replica_count: i32,
    /// Availability zone of the shard's primary.
    pub primary_zone: String,
    /// Availability zones of its replicas.
    pub replica_zones: Vec<String>,
    /// When the node was created.
    #[serde(with = "super::timestamp")]
    pub node_create_time: OffsetDateTime,
    /// When the image was taken.
    #[serde(with = "super::timestamp")]
    pub snapshot_create_time: OffsetDateTime,
    /// The RDB file image (empty while `creating`). Not in the state file: the images are
    /// files of their own under `<data-dir>/snapshots`, read back at start.
    #[serde(skip)]
    pub image: Arc<Vec<u8>>,
}

impl NodeSnapshotRecord {
    /// `CacheSize` as AWS writes it: the image size in MB with one decimal (`0.1 MB`).
    pub fn cache_size(&self) -> String {
        format!("{:.1} MB", self.image.len() as f64 / (1024.0 * 1024.0))
    }
}

/// A snapshot.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct SnapshotRecord {
    /// Name (case kept as given; AWS compares snapshot names case-sensitively).
    pub name: String,
    /// Status.
    pub status: SnapshotStatus,
    /// `manual` or `automated`.
    pub source: String,
    /// Source cluster (cluster snapshots, and single-shard group snapshots name the member).
    pub cache_cluster_id: Option<String>,
    /// Source replication group.
    pub replication_group_id: Option<String>,
    /// Group description.
    pub replication_group_description: Option<String>,
    /// Source creation time.
    #[serde(with = "super::timestamp")]
    pub cache_cluster_create_time: OffsetDateTime,
    /// Engine.
    pub engine: String,
    /// Full engine version.
    pub engine_version: String,
    /// Node type.
    pub node_type: String,
    /// Nodes of the source cluster (cluster snapshots).
    pub num_cache_nodes: Option<i32>,
    /// Shards of the source group (group snapshots).
    pub num_node_groups: Option<i32>,
    /// Whether the source ran in cluster mode.
    pub cluster_enabled: bool,
    /// `enabled` / `disabled` (groups).
    pub automatic_failover: Option<String>,
    /// Parameter group.
    pub parameter_group: String,
    /// Subnet group.
    pub subnet_group: String,
    /// VPC of the subnet group.
    pub vpc_id: String,
    /// Port.
    pub port: u16,
    /// Preferred zone (clusters).
    pub preferred_availability_zone: Option<String>,
    /// Maintenance window.
    pub maintenance_window: String,
    /// Snapshot window.
    pub snapshot_window: Option<String>,
    /// Retention limit.
    pub snapshot_retention_limit: Option<i32>,
    /// SNS topic.
    pub topic_arn: Option<String>,
    /// Auto minor version upgrade.
    pub auto_minor_version_upgrade: bool,
    /// `enabled` / `disabled`.
    pub data_tiering: String,
    /// One per shard, in node group order.
    pub nodes: Vec<NodeSnapshotRecord>,
}

impl SnapshotRecord {
    /// The shard images, in node group order.
    pub fn images(&self) -> Vec<Arc<Vec<u8>>> {
        self.nodes.iter().map(|n| n.image.clone()).collect()
    }
}
