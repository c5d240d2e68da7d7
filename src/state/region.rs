//! The state of one (account, region): every record, the tags and the event log, plus the
//! resources AWS pre-creates in each region.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use super::events::{Event, EventLog, EventQuery, SourceType};
use super::lifecycle::{GroupStatus, StateError, UserStatus};
use super::records::*;
use crate::catalog::catalog;

/// Everything one account has in one region. The state file (`state::persist`) writes it
/// whole; a field missing from an older file takes its default (so a collection added later
/// needs only its serde derives).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Region {
    /// Account id.
    pub account: String,
    /// Region name.
    pub region: String,
    /// Cache clusters by id.
    pub clusters: BTreeMap<String, CacheClusterRecord>,
    /// Cluster ids in creation order (stable pagination order, as AWS lists them).
    pub cluster_order: Vec<String>,
    /// Parameter groups by name.
    pub parameter_groups: BTreeMap<String, ParameterGroupRecord>,
    /// Subnet groups by name.
    pub subnet_groups: BTreeMap<String, SubnetGroupRecord>,
    /// Security groups by name.
    pub security_groups: BTreeMap<String, SecurityGroupRecord>,
    /// Users by id.
    pub users: BTreeMap<String, UserRecord>,
    /// User groups by id.
    pub user_groups: BTreeMap<String, UserGroupRecord>,
    /// Tags by resource (a list of entries in the state file: JSON keys must be strings).
    #[serde(with = "tag_entries")]
    pub tags: BTreeMap<(ResourceKind, String), Vec<Tag>>,
    /// Event log.
    pub events: EventLog,
    /// Replication groups by id.
    pub replication_groups: BTreeMap<String, super::ReplicationGroupRecord>,
    /// Replication group ids in creation order.
    pub replication_group_order: Vec<String>,
    /// Snapshots by name, in name order (as DescribeSnapshots lists them).
    pub snapshots: BTreeMap<String, super::SnapshotRecord>,
    /// Service update actions a caller applied or stopped, by (update name, target id).
    #[serde(with = "pair_key_entries")]
    pub update_actions: BTreeMap<(String, String), super::UpdateActionRecord>,
    /// Reserved cache nodes by lower-cased id.
    pub reserved_nodes: BTreeMap<String, super::ReservedNodeRecord>,
    /// Online migrations in progress, by replication group id.
    pub migrations: BTreeMap<String, super::MigrationRecord>,
    /// Serverless caches and their snapshots.
    pub serverless: super::ServerlessState,
}

/// Name of the subnet group every region has.
pub const DEFAULT_SUBNET_GROUP: &str = "default";

impl Region {
    /// A fresh region with AWS's pre-created resources.
    pub fn new(account: &str, region: &str, now: OffsetDateTime) -> Region {
        let _ = now;
        let mut r = Region {
            account: account.to_string(),
            region: region.to_string(),
            clusters: BTreeMap::new(),
            cluster_order: Vec::new(),
            parameter_groups: BTreeMap::new(),
            subnet_groups: BTreeMap::new(),
            security_groups: BTreeMap::new(),
            users: BTreeMap::new(),
            user_groups: BTreeMap::new(),
            tags: BTreeMap::new(),
            events: EventLog::default(),
            replication_groups: BTreeMap::new(),
            replication_group_order: Vec::new(),
            snapshots: BTreeMap::new(),
            update_actions: BTreeMap::new(),
            reserved_nodes: BTreeMap::new(),
            migrations: BTreeMap::new(),
            serverless: Default::default(),
        };
        for (name, family, description, cluster_on) in catalog().default_parameter_groups() {
            let mut system_values = BTreeMap::new();
            if cluster_on {
                system_values.insert("cluster-enabled".to_string(), "yes".to_string());
            }
            r.parameter_groups.insert(
                name.clone(),
                ParameterGroupRecord {
                    name,
                    family,
                    description,
                    is_default: true,
                    system_values,
                    user_values: BTreeMap::new(),
                },
            );
        }
        let subnets = ["a", "b", "c"]
            .iter()
            .map(|z| SubnetRecord {
                id: format!("subnet-{}{}", &r.hash_hex("default-subnet", 7), z),
                availability_zone: format!("{region}{z}"),
            })
            .collect();
        r.subnet_groups.insert(
            DEFAULT_SUBNET_GROUP.to_string(),
            SubnetGroupRecord {
                name: DEFAULT_SUBNET_GROUP.to_string(),
                description: "Default CacheSubnetGroup".to_string(),
                vpc_id: r.vpc_id(),
                subnets,
            },
        );
        r.users.insert(
            "default".to_string(),
            UserRecord {
                user_id: "default".to_string(),
                user_name: "default".to_string(),
                engine: "redis".to_string(),
                access_string: "on ~* +@all".to_string(),
                auth: UserAuth::NoPassword,
                status: UserStatus::Active,
                minimum_engine_version: "6.0".to_string(),
                generation: 0,
            },
        );
        r
    }

    /// `len` hex characters of a hash of this region and `salt`: stable synthetic ids.
    pub fn hash_hex(&self, salt: &str, len: usize) -> String {
        // FNV-1a, twice with different seeds for 32 hex characters: stable and dependency free;
        // these ids only need to look like AWS ids and never change for a region.
        let input = format!("{}/{}/{salt}", self.account, self.region);
        let mut s = String::new();
        for seed in [0xcbf2_9ce4_8422_2325_u64, 0x8422_2325_cbf2_9ce4_u64] {
            let mut h = seed;
            for b in input.bytes() {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
            s.push_str(&format!("{h:016x}"));
        }
        s.truncate(len);
        s
    }

    /// The synthetic VPC every subnet group of this region reports.
    pub fn vpc_id(&self) -> String {
        format!("vpc-{}", self.hash_hex("vpc", 17))
    }

    /// The availability zones of this region (`us-east-1a` ...).
    pub fn availability_zones(&self) -> Vec<String> {
        ["a", "b", "c", "d", "e", "f"]
            .iter()
            .map(|z| format!("{}{z}", self.region))
            .collect()
    }

    /// Records an event.
    pub fn event(
        &mut self,
        source_type: SourceType,
        id: &str,
        message: impl Into<String>,
        date: OffsetDateTime,
    ) {
        self.events.push(Event {
            source_identifier: id.to_string(),
            source_type,
            message: message.into(),
            date,
        });
    }

    /// Events matching a query, newest first.
    pub fn query_events(&self, q: &EventQuery) -> Vec<Event> {
        self.events.query(q)
    }

    /// The cluster `raw` names (case-insensitive), or `ClusterNotFound`.
    pub fn cluster(&self, raw: &str) -> Result<&CacheClusterRecord, StateError> {
        let id = raw.trim().to_ascii_lowercase();
        self.clusters
            .get(&id)
            .ok_or(StateError::ClusterNotFound(id))
    }

    /// The cluster `raw` names, for an update.
    pub fn cluster_mut(&mut self, raw: &str) -> Result<&mut CacheClusterRecord, StateError> {
        let id = raw.trim().to_ascii_lowercase();
        self.clusters
            .get_mut(&id)
            .ok_or(StateError::ClusterNotFound(id))
    }

    /// The replication group `raw` names (case-insensitive), or `GroupNotFound`.
    pub fn group(&self, raw: &str) -> Result<&super::ReplicationGroupRecord, StateError> {
        let id = raw.trim().to_ascii_lowercase();
        self.replication_groups
            .get(&id)
            .ok_or(StateError::GroupNotFound(id))
    }

    /// The replication group `raw` names, for an update.
    pub fn group_mut(
        &mut self,
        raw: &str,
    ) -> Result<&mut super::ReplicationGroupRecord, StateError> {
        let id = raw.trim().to_ascii_lowercase();
        self.replication_groups
            .get_mut(&id)
            .ok_or(StateError::GroupNotFound(id))
    }

    /// The replication group `raw` names, which must be `available`.
    pub fn available_group(&self, raw: &str) -> Result<&super::ReplicationGroupRecord, StateError> {
        let g = self.group(raw)?;
        if g.status != GroupStatus::Available {
            return Err(StateError::GroupState {
                id: g.id.clone(),
                status: g.status,
            });
        }
        Ok(g)
    }

    /// The zone for the `i`-th node of a shard when none was asked for: spread over three
    /// zones.
    pub fn spread_zone(&self, i: usize) -> String {
        let zones = self.availability_zones();
        zones[i % 3].clone()
    }

    /// Inserts a new cluster (the caller checked that the id is free).
    pub fn insert_cluster(&mut self, cluster: CacheClusterRecord) {
        self.cluster_order.push(cluster.id.clone());
        self.clusters.insert(cluster.id.clone(), cluster);
    }

    /// Removes a cluster and its tags.
    pub fn remove_cluster(&mut self, id: &str) -> Option<CacheClusterRecord> {
        self.cluster_order.retain(|c| c != id);
        self.tags.remove(&(ResourceKind::Cluster, id.to_string()));
        self.clusters.remove(id)
    }

    /// Clusters in creation order.
    pub fn clusters_in_order(&self) -> impl Iterator<Item = &CacheClusterRecord> {
        self.cluster_order
            .iter()
            .filter_map(|id| self.clusters.get(id))
    }

    /// Total cache nodes in the region (for the per-region node quota).
    pub fn node_count(&self) -> usize {
        self.clusters
            .values()
            .map(|c| c.nodes.len().max(c.pending_node_target()))
            .sum()
    }

    /// Whether any cluster uses the parameter group.
    pub fn parameter_group_in_use(&self, name: &str) -> bool {
        self.clusters.values().any(|c| c.parameter_group == name)
    }

    /// Whether any cluster uses the subnet group.
    pub fn subnet_group_in_use(&self, name: &str) -> bool {
        self.clusters.values().any(|c| c.subnet_group == name)
    }

    /// Whether any cluster uses the cache security group.
    pub fn security_group_in_use(&self, name: &str) -> bool {
        self.clusters
            .values()
            .any(|c| c.cache_security_groups.iter().any(|g| g == name))
    }

    /// The effective parameter values of a group: family defaults, then system values, then
    /// the user's changes. Empty when the group or its family is unknown.
    pub fn effective_parameters(&self, group: &str) -> BTreeMap<String, String> {
        let Some(g) = self.parameter_groups.get(group) else {
            return BTreeMap::new();
        };
        let mut out: BTreeMap<String, String> = catalog()
            .family(&g.family)
            .map(|f| {
                f.parameters
                    .iter()
                    .map(|p| (p.name.clone(), p.value.clone()))
                    .collect()
            })
            .unwrap_or_default();
        out.extend(g.system_values.iter().map(|(k, v)| (k.clone(), v.clone())));
        out.extend(g.user_values.iter().map(|(k, v)| (k.clone(), v.clone())));
        out
    }

    /// Ids of the user groups holding `user_id`, in id order (`User.UserGroupIds`).
    pub fn groups_of_user(&self, user_id: &str) -> Vec<String> {
        self.user_groups
            .values()
            .filter(|g| g.user_ids.iter().any(|u| u == user_id))
            .map(|g| g.id.clone())
            .collect()
    }

    /// Ids of the replication groups a user group is attached to (`UserGroup.ReplicationGroups`).
    pub fn groups_using_user_group(&self, user_group_id: &str) -> Vec<String> {
        self.replication_group_order
            .iter()
            .filter_map(|id| self.replication_groups.get(id))
            .filter(|g| g.user_group_ids.iter().any(|u| u == user_group_id))
            .map(|g| g.id.clone())
            .collect()
    }

    /// Ids of the replication groups whose engines know `user_id` (through an attached user
    /// group): those to update when the user changes.
    pub fn groups_attached_to_user(&self, user_id: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for ug in self.groups_of_user(user_id) {
            for rg in self.groups_using_user_group(&ug) {
                if !out.contains(&rg) {
                    out.push(rg);
                }
            }
        }
        out
    }

    /// Tags of a resource (empty when it has none).
    pub fn tags_of(&self, kind: ResourceKind, id: &str) -> Vec<Tag> {
        self.tags
            .get(&(kind, id.to_string()))
            .cloned()
            .unwrap_or_default()
    }

    /// Adds or overwrites tags; returns the full resulting list.
    pub fn add_tags(&mut self, kind: ResourceKind, id: &str, tags: &[Tag]) -> Vec<Tag> {
        let list = self.tags.entry((kind, id.to_string())).or_default();
        for t in tags {
            match list.iter_mut().find(|x| x.key == t.key) {
                Some(existing) => existing.value = t.value.clone(),
                None => list.push(t.clone()),
            }
        }
        list.clone()
    }

    /// How many tags a resource would have after adding `tags`.
    pub fn tag_count_after(&self, kind: ResourceKind, id: &str, tags: &[Tag]) -> usize {
        let current = self.tags_of(kind, id);
        let new = tags
            .iter()
            .filter(|t| !current.iter().any(|c| c.key == t.key))
            .map(|t| &t.key)
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        current.len() + new
    }

    /// Removes tags by key; returns the remaining list.
    pub fn remove_tags(&mut self, kind: ResourceKind, id: &str, keys: &[String]) -> Vec<Tag> {
        let key = (kind, id.to_string());
        let remaining = match self.tags.get_mut(&key) {
            Some(list) => {
                list.retain(|t| !keys.contains(&t.key));
                list.clone()
            }
            None => Vec::new(),
        };
        if remaining.is_empty() {
            self.tags.remove(&key);
        }
        remaining
    }
}

impl CacheClusterRecord {
    /// A pending node count that would raise the node total (counted against quotas).
    pub fn pending_node_target(&self) -> usize {
        self.pending
            .num_cache_nodes
            .map(|n| n as usize)
            .unwrap_or(0)
    }
}

/// (De)serializes the tag map as `[[kind, id, tags], ...]`.
mod tag_entries {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::{ResourceKind, Tag};

    type TagMap = BTreeMap<(ResourceKind, String), Vec<Tag>>;

    /// Writes the map as a list of `[kind, id, tags]` entries.
    pub fn serialize<S: Serializer>(map: &TagMap, s: S) -> Result<S::Ok, S::Error> {
        let entries: Vec<(&ResourceKind, &String, &Vec<Tag>)> =
            map.iter().map(|((k, id), tags)| (k, id, tags)).collect();
        entries.serialize(s)
    }

    /// Reads the list back into the map.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<TagMap, D::Error> {
        let entries: Vec<(ResourceKind, String, Vec<Tag>)> = Vec::deserialize(d)?;
        Ok(entries
            .into_iter()
            .map(|(k, id, tags)| ((k, id), tags))
            .collect())
    }
}

/// (De)serializes a map keyed by a pair of strings as `[[a, b, value], ...]` (JSON object keys
/// must be strings).
mod pair_key_entries {
    use std::collections::BTreeMap;

    use serde::de::DeserializeOwned;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Writes the map as a list of `[a, b, value]` entries.
    pub fn serialize<S: Serializer, V: Serialize>(
        map: &BTreeMap<(String, String), V>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let entries: Vec<(&String, &String, &V)> =
            map.iter().map(|((a, b), v)| (a, b, v)).collect();
        entries.serialize(s)
    }

    /// Reads the list back into the map.
    pub fn deserialize<'de, D: Deserializer<'de>, V: DeserializeOwned>(
        d: D,
    ) -> Result<BTreeMap<(String, String), V>, D::Error> {
        let entries: Vec<(String, String, V)> = Vec::deserialize(d)?;
        Ok(entries.into_iter().map(|(a, b, v)| ((a, b), v)).collect())
    }
}
