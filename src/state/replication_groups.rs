//! Replication group records: the group itself, its node groups (shards) with their slot
//! ranges and member clusters, and the cluster-level endpoints (primary, reader, configuration).
//!
//! Place in the flow: `control::handlers::replication_groups` validate a request and update
//! these records under the region lock; member clusters are ordinary
//! [`CacheClusterRecord`](super::CacheClusterRecord)s with `replication_group_id` set, kept in
//! `Region::clusters` so DescribeCacheClusters lists them. Which member is primary is recorded
//! here, per node group, and is what the running engines are told.

use time::OffsetDateTime;

use super::lifecycle::{ClusterStatus, GroupStatus, NodeStatus, ParameterStatus};
use super::records::{CacheClusterRecord, CacheNodeRecord, EndpointRecord, PendingModifications};
use super::region::Region;

/// One node group (shard).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct NodeGroupRecord {
    /// `0001` ...
    pub id: String,
    /// Hash slot ranges (inclusive), cluster mode enabled only.
    pub slots: Vec<(u16, u16)>,
    /// Member cluster ids in creation order.
    pub members: Vec<String>,
    /// The member currently primary.
    pub primary: String,
    /// Node group status (follows the group's).
    pub status: GroupStatus,
}

impl NodeGroupRecord {
    /// The members that are replicas now.
    pub fn replicas(&self) -> impl Iterator<Item = &String> {
        self.members.iter().filter(move |m| **m != self.primary)
    }

    /// `Slots` as the API writes it: `0-5461` or `0-100,200-300`.
    pub fn slots_string(&self) -> String {
        self.slots
            .iter()
            .map(|(a, b)| format!("{a}-{b}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// A replication group.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ReplicationGroupRecord {
    /// Lower-cased id.
    pub id: String,
    /// `Description`.
    pub description: String,
    /// Status.
    pub status: GroupStatus,
    /// `redis` / `valkey`.
    pub engine: String,
    /// Full engine version of the members.
    pub engine_version: String,
    /// Parameter-group family.
    pub family: String,
    /// Node type of every member.
    pub node_type: String,
    /// Port of every endpoint.
    pub port: u16,
    /// Parameter group of every member.
    pub parameter_group: String,
    /// Subnet group.
    pub subnet_group: String,
    /// VPC security group ids.
    pub security_group_ids: Vec<String>,
    /// EC2-Classic cache security group names.
    pub cache_security_groups: Vec<String>,
    /// Cluster mode enabled (sharded, CLUSTER commands).
    pub cluster_enabled: bool,
    /// `enabled` / `disabled` / `compatible`.
    pub cluster_mode: String,
    /// Automatic failover on.
    pub automatic_failover: bool,
    /// Multi-AZ on.
    pub multi_az: bool,
    /// Shards in id order.
    pub node_groups: Vec<NodeGroupRecord>,
    /// CMD primary endpoint (always reaches the current primary).
    pub primary_endpoint: Option<EndpointRecord>,
    /// CMD reader endpoint (spreads over the replicas).
    pub reader_endpoint: Option<EndpointRecord>,
    /// CME configuration endpoint.
    pub configuration_endpoint: Option<EndpointRecord>,
    /// AUTH token (requirepass on every member).
    pub auth_token: Option<String>,
    /// What stays valid next to `auth_token` after a ROTATE, until a SET.
    pub auth_token_previous: Option<super::PreviousAuth>,
    /// When the token last changed.
    #[serde(with = "super::timestamp::option")]
    pub auth_token_last_modified: Option<OffsetDateTime>,
    /// In-transit encryption flag.
    pub transit_encryption_enabled: bool,
    /// `preferred` / `required`.
    pub transit_encryption_mode: Option<String>,
    /// At-rest encryption flag.
    pub at_rest_encryption_enabled: bool,
    /// KMS key for at-rest encryption.
    pub kms_key_id: Option<String>,
    /// Snapshot retention days.
    pub snapshot_retention_limit: i32,
    /// Snapshot window.
    pub snapshot_window: String,
    /// Member automatic snapshots are taken from.
    pub snapshotting_cluster_id: Option<String>,
    /// Maintenance window.
    pub maintenance_window: String,
    /// Auto minor version upgrade.
    pub auto_minor_version_upgrade: bool,
    /// `ipv4` ...
    pub network_type: String,
    /// `ipv4` ...
    pub ip_discovery: String,
    /// `enabled` / `disabled`.
    pub data_tiering: String,
    /// Creation time.
    #[serde(with = "super::timestamp")]
    pub create_time: OffsetDateTime,
    /// A primary switch requested by ModifyReplicationGroup and not yet done.
    pub pending_primary: Option<String>,
    /// Final snapshot requested by DeleteReplicationGroup (recorded for events).
    pub final_snapshot: Option<String>,
    /// Bumped by every operation that starts a transition (as for clusters).
    pub generation: u64,
    /// RBAC user groups attached (`UserGroupIds`); empty: AUTH token or no authentication.
    pub user_group_ids: Vec<String>,
    /// User group changes being applied (`PendingModifiedValues.UserGroups`): (add, remove).
    pub pending_user_groups: Option<(Vec<String>, Vec<String>)>,
    /// `ROTATING` / `SETTING` while an AUTH token change is applied.
    pub pending_auth_token_status: Option<String>,
    /// The global datastore this group belongs to, and its role there.
    pub global: Option<super::GlobalMembership>,
    /// Online resharding in progress: percentage of the slots moved so far.
    pub resharding_progress: Option<f64>,
}

impl ReplicationGroupRecord {
    /// A new member cluster of `g` with one node in `zone`, status `creating`.
    pub fn new_member(&self, id: &str, zone: &str, now: OffsetDateTime) -> CacheClusterRecord {
        let g = self;
        CacheClusterRecord {
            id: id.to_string(),
            engine: g.engine.clone(),
            engine_version: g.engine_version.clone(),
            family: g.family.clone(),
            node_type: g.node_type.clone(),
            status: ClusterStatus::Creating,
            nodes: vec![CacheNodeRecord {
                id: "0001".to_string(),
                status: NodeStatus::Creating,
                create_time: now,
                endpoint: None,
                availability_zone: zone.to_string(),
                parameter_group_status: ParameterStatus::InSync,
            }],
            az_mode: "single-az".to_string(),
            preferred_availability_zone: zone.to_string(),
            port: g.port,
            parameter_group: g.parameter_group.clone(),
            parameter_apply_status: ParameterStatus::InSync,
            subnet_group: g.subnet_group.clone(),
            security_group_ids: g.security_group_ids.clone(),
            cache_security_groups: g.cache_security_groups.clone(),
            auto_minor_version_upgrade: g.auto_minor_version_upgrade,
            snapshot_retention_limit: Some(g.snapshot_retention_limit),
            snapshot_window: Some(g.snapshot_window.clone()),
            maintenance_window: g.maintenance_window.clone(),
            notification_topic_arn: None,
            notification_topic_status: None,
            auth_token: g.auth_token.clone(),
            auth_token_previous: g.auth_token_previous.clone(),
            auth_token_last_modified: g.auth_token_last_modified,
            transit_encryption_enabled: g.transit_encryption_enabled,
            transit_encryption_mode: g.transit_encryption_mode.clone(),
            at_rest_encryption_enabled: g.at_rest_encryption_enabled,
            network_type: g.network_type.clone(),
            ip_discovery: g.ip_discovery.clone(),
            create_time: now,
            replication_group_id: Some(g.id.clone()),
            configuration_endpoint: None,
            pending: PendingModifications::default(),
            config_version: 0,
            generation: 1,
        }
    }

    /// Whether the nodes run with cluster mode on: cluster mode `enabled`, or `compatible`
    /// (the migration step where the single shard serves standalone and cluster clients alike,
    /// through the primary/reader endpoints and the configuration endpoint).
    pub fn runs_cluster_mode(&self) -> bool {
        self.cluster_enabled || self.cluster_mode == "compatible"
    }

    /// Every member cluster id, shard by shard.
    pub fn member_ids(&self) -> Vec<String> {
        self.node_groups
            .iter()
            .flat_map(|g| g.members.iter().cloned())
            .collect()
    }

    /// The node group a member belongs to.
    pub fn group_of(&self, member: &str) -> Option<&NodeGroupRecord> {
        self.node_groups
            .iter()
            .find(|g| g.members.iter().any(|m| m == member))
    }

    /// Whether the group takes new operations.
    pub fn is_available(&self) -> bool {
        self.status == GroupStatus::Available
    }

    /// The next member id of a shard: CMD `<rg>-00N`, CME `<rg>-<shard>-00N`, after the
    /// highest suffix ever used in that shard (so ids of removed members are not reused while
    /// higher ones exist, as AWS numbers them).
    pub fn next_member_id(&self, shard: &NodeGroupRecord, taken: impl Fn(&str) -> bool) -> String {
        let prefix = if self.cluster_enabled {
            format!("{}-{}-", self.id, shard.id)
        } else {
            format!("{}-", self.id)
        };
        let mut n = shard
            .members
            .iter()
            .filter_map(|m| m.strip_prefix(&prefix)?.parse::<u32>().ok())
            .max()
            .unwrap_or(0)
            + 1;
        loop {
            let id = format!("{prefix}{n:03}");
            if !taken(&id) {
                return id;
            }
            n += 1;
        }
    }
}

/// The default slot split for `n` shards: `floor(16384/n)` each, one more for the first
/// `16384 mod n`, contiguous from 0, as ElastiCache splits them.
pub fn default_slots(n: usize) -> Vec<(u16, u16)> {
    let n = n.max(1) as u32;
    let (base, extra) = (16384 / n, 16384 % n);
    let mut start = 0u32;
    (0..n)
        .map(|i| {
            let len = base + u32::from(i < extra);
            let range = (start as u16, (start + len - 1) as u16);
            start += len;
            range
        })
        .collect()
}

/// Parses a `Slots` value (`0-5461`, `0-100,200-300`, `7`); `None` when malformed or out of
/// range.
pub fn parse_slots(s: &str) -> Option<Vec<(u16, u16)>> {
    let mut out = Vec::new();
    for part in s.split(',') {
        let part = part.trim();
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?),
            None => {
                let v = part.parse::<u16>().ok()?;
                (v, v)
            }
        };
        if a > b || b > 16383 {
            return None;
        }
        out.push((a, b));
    }
    Some(out)
}

/// Whether the ranges of all shards cover 0–16383 exactly once.
pub fn slots_cover_exactly(ranges: &[(u16, u16)]) -> bool {
    let mut sorted = ranges.to_vec();
    sorted.sort();
    let mut next = 0u32;
    for (a, b) in sorted {
        if u32::from(a) != next {
            return false;
        }
        next = u32::from(b) + 1;
    }
    next == 16384
}

impl Region {
    /// Inserts a new replication group (the caller checked the id is free).
    pub fn insert_group(&mut self, g: ReplicationGroupRecord) {
        self.replication_group_order.push(g.id.clone());
        self.replication_groups.insert(g.id.clone(), g);
    }

    /// Removes a replication group and its tags.
    pub fn remove_group(&mut self, id: &str) -> Option<ReplicationGroupRecord> {
        self.replication_group_order.retain(|g| g != id);
        self.tags
            .remove(&(super::ResourceKind::ReplicationGroup, id.to_string()));
        self.replication_groups.remove(id)
    }

    /// Applies a tag change of a replication group to its member clusters too (tags on a
    /// group apply to its members): `add` is added/overwritten, `remove` keys are dropped.
    pub fn propagate_group_tags(&mut self, id: &str, add: &[super::Tag], remove: &[String]) {
        let members = self
            .replication_groups
            .get(id)
            .map(|g| g.member_ids())
            .unwrap_or_default();
        for m in members {
            if !add.is_empty() {
                self.add_tags(super::ResourceKind::Cluster, &m, add);
            }
            if !remove.is_empty() {
                self.remove_tags(super::ResourceKind::Cluster, &m, remove);
            }
        }
    }

    /// Replication groups in creation order.
    pub fn groups_in_order(&self) -> impl Iterator<Item = &ReplicationGroupRecord> {
        self.replication_group_order
            .iter()
            .filter_map(|id| self.replication_groups.get(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_split_matches_aws() {
        assert_eq!(default_slots(1), vec![(0, 16383)]);
        assert_eq!(default_slots(2), vec![(0, 8191), (8192, 16383)]);
        assert_eq!(
            default_slots(3),
            vec![(0, 5461), (5462, 10922), (10923, 16383)]
        );
        assert!(slots_cover_exactly(&default_slots(90)));
    }

    #[test]
    fn slot_strings_parse_and_coverage_is_checked() {
        assert_eq!(parse_slots("0-8999"), Some(vec![(0, 8999)]));
        assert_eq!(parse_slots("0-10,12"), Some(vec![(0, 10), (12, 12)]));
        assert_eq!(parse_slots("5-1"), None);
        assert_eq!(parse_slots("0-16384"), None);
        assert_eq!(parse_slots("x"), None);
        assert!(slots_cover_exactly(&[(0, 8999), (9000, 16383)]));
        assert!(!slots_cover_exactly(&[(0, 8999), (8999, 16383)]));
        assert!(!slots_cover_exactly(&[(0, 8000), (9000, 16383)]));
    }
}
