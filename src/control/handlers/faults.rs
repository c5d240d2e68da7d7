//! The control plane's side of fault injection: which nodes a fault target names, and how
//! ElastiCache reacts when nodes crash and come back (automatic failover, node statuses,
//! events) or when a replica is cut from its primary.
//!
//! Place in the flow: the fault registry (`crate::faults`, behind `/_elasticache_local/faults`)
//! resolves targets here and calls the crash/recover/partition methods; they update `state`
//! under short locks and ask the supervisor to break or heal nodes, reusing the failover of
//! TestFailover (`failover::fail_over`: promotion, endpoints moved, the completion event).

use std::collections::BTreeSet;

use crate::state::{NodeStatus, Region, SourceType, lock};

use super::Service;
use super::replication_lifecycle::GroupRef;

/// What a fault is aimed at, as its JSON target names it (ids as given).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultTarget {
    /// One cache cluster's node (`None`: the cluster's only node).
    Cluster {
        /// CacheClusterId.
        id: String,
        /// CacheNodeId.
        node: Option<String>,
    },
    /// Every node of a replication group, or of one of its shards.
    Group {
        /// ReplicationGroupId.
        id: String,
        /// NodeGroupId.
        shard: Option<String>,
    },
    /// Every node placed in an Availability Zone.
    Zone(String),
}

/// One cache node a fault hits.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultNode {
    /// Account of the node.
    #[serde(skip)]
    pub account: String,
    /// Region of the node.
    #[serde(skip)]
    pub region: String,
    /// Its cache cluster.
    pub cache_cluster_id: String,
    /// Its node id (`0001` …).
    pub cache_node_id: String,
    /// Its Availability Zone.
    pub availability_zone: String,
    /// Its replication group, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replication_group_id: Option<String>,
    /// Its shard in that group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_group_id: Option<String>,
    /// Supervisor key.
    #[serde(skip)]
    pub key: String,
}

impl Service {
    /// The nodes `target` names in (`account`, `region`); the error names the target field.
    pub(crate) fn fault_nodes(
        &self,
        account: &str,
        region: &str,
        target: &FaultTarget,
    ) -> Result<Vec<FaultNode>, String> {
        let region_state = self.inner.store.region(account, region);
        let r = lock(&region_state);
        let nodes = match target {
            FaultTarget::Cluster { id, node } => cluster_nodes(&r, id, node.as_deref())?,
            FaultTarget::Group { id, shard } => group_nodes(&r, id, shard.as_deref())?,
            FaultTarget::Zone(az) => {
                let all: Vec<FaultNode> = r
                    .clusters
                    .keys()
                    .flat_map(|c| cluster_nodes(&r, c, None).unwrap_or_default())
                    .filter(|n| &n.availability_zone == az)
                    .collect();
                if all.is_empty() {
                    return Err(format!(
                        "target.availabilityZone: no cache node of {account}/{region} is in {az}"
                    ));
                }
                all
            }
        };
        Ok(nodes)
    }

    /// Whether `n` is its shard's primary now (records).
    pub(crate) fn fault_is_primary(&self, n: &FaultNode) -> bool {
        let (Some(g), Some(s)) = (&n.replication_group_id, &n.node_group_id) else {
            return true;
        };
        let region = self.inner.store.region(&n.account, &n.region);
        let r = lock(&region);
        r.replication_groups
            .get(g)
            .and_then(|g| g.node_groups.iter().find(|ng| &ng.id == s))
            .is_some_and(|ng| ng.primary == n.cache_cluster_id)
    }

    /// Crashes `nodes` at once; then every shard whose primary crashed fails over to a
    /// surviving replica when its group has automatic failover, as ElastiCache does.
    pub(crate) async fn fault_crash(&self, nodes: &[FaultNode]) -> Result<(), String> {
        let sup = &self.inner.supervisor;
        let failovers = self.failovers_due(nodes);
        for n in nodes {
            sup.crash_node(&n.key)
                .await
                .map_err(|e| format!("target: cannot crash {}: {e}", n.cache_cluster_id))?;
            self.node_event(n, NodeStatus::Rebooting, "Recovering cache nodes");
        }
        for (gref, shard) in failovers {
            self.with_group(&gref, |r| {
                let now = self.inner.store.now();
                r.event(
                    SourceType::ReplicationGroup,
                    &gref.id,
                    format!("Automatic failover started for node group {shard}"),
                    now,
                );
            });
            if let Err(e) = self.fail_over(&gref, &shard, None).await {
                tracing::warn!(group = %gref.id, %shard, error = %e, "automatic failover failed");
            }
        }
        Ok(())
    }

    /// Shards of `nodes` whose primary is among them and can fail over (automatic failover on,
    /// a replica that is not crashing).
    fn failovers_due(&self, nodes: &[FaultNode]) -> Vec<(GroupRef, String)> {
        let crashing: BTreeSet<&str> = nodes.iter().map(|n| n.key.as_str()).collect();
        let mut due = Vec::new();
        for n in nodes {
            let (Some(gid), Some(sid)) = (&n.replication_group_id, &n.node_group_id) else {
                continue;
            };
            let region = self.inner.store.region(&n.account, &n.region);
            let r = lock(&region);
            let Some(g) = r.replication_groups.get(gid) else {
                continue;
            };
            let gref = GroupRef::of(&r, g);
            let Some(ng) = g.node_groups.iter().find(|ng| &ng.id == sid) else {
                continue;
            };
            let survivor = ng.replicas().any(|m| {
                let k = gref.node_key(m);
                !crashing.contains(k.as_str()) && !self.inner.supervisor.is_down(&k)
            });
            if ng.primary == n.cache_cluster_id && g.automatic_failover && survivor {
                due.push((gref, sid.clone()));
            }
        }
        due
    }

    /// Brings crashed `nodes` back (empty) and re-applies their groups' topology: a node that
    /// lost its primary role returns as a replica with a full resynchronisation; a primary
    /// that did not fail over returns empty and its replicas resynchronise from it.
    pub(crate) async fn fault_recover(&self, nodes: &[FaultNode]) {
        let sup = &self.inner.supervisor;
        for n in nodes {
            if let Err(e) = sup.revive_node(&n.key).await {
                tracing::warn!(node = %n.key, error = %e, "crashed node could not come back");
                continue;
            }
            self.node_event(
                n,
                NodeStatus::Available,
                "Finished recovery for cache nodes",
            );
            if self.fault_is_primary(n) {
                for m in self.shard_members(n) {
                    sup.forget_topology(&m);
                }
            }
        }
        self.resync_groups(nodes).await;
    }

    /// Cuts the replicas among `nodes` from their primaries; the error when there is none.
    pub(crate) async fn fault_cut_replication(&self, nodes: &[FaultNode]) -> Result<(), String> {
        let replicas: Vec<&FaultNode> =
            nodes.iter().filter(|n| !self.fault_is_primary(n)).collect();
        if replicas.is_empty() {
            return Err(
                "target: a replication partition needs a replica node (a member of a replication group that is not its primary)"
                    .to_string(),
            );
        }
        for n in replicas {
            self.inner
                .supervisor
                .cut_replication(&n.key)
                .await
                .map_err(|e| format!("target: {e}"))?;
        }
        Ok(())
    }

    /// Re-links replicas cut by [`Service::fault_cut_replication`] (they resynchronise).
    pub(crate) async fn fault_heal_replication(&self, nodes: &[FaultNode]) {
        self.resync_groups(nodes).await;
    }

    /// Re-applies the topology of every group `nodes` belong to.
    async fn resync_groups(&self, nodes: &[FaultNode]) {
        let mut seen = BTreeSet::new();
        for n in nodes {
            let Some(gid) = &n.replication_group_id else {
                continue;
            };
            if !seen.insert((n.account.clone(), n.region.clone(), gid.clone())) {
                continue;
            }
            let gref = {
                let region = self.inner.store.region(&n.account, &n.region);
                let r = lock(&region);
                r.replication_groups.get(gid).map(|g| GroupRef::of(&r, g))
            };
            if let Some(gref) = gref
                && let Err(e) = self.sync_topology(&gref).await
            {
                tracing::warn!(group = %gid, error = %e, "topology not restored after a fault");
            }
        }
    }

    /// Supervisor keys of every member of `n`'s shard.
    fn shard_members(&self, n: &FaultNode) -> Vec<String> {
        let (Some(gid), Some(sid)) = (&n.replication_group_id, &n.node_group_id) else {
            return Vec::new();
        };
        let region = self.inner.store.region(&n.account, &n.region);
        let r = lock(&region);
        let Some(g) = r.replication_groups.get(gid) else {
            return Vec::new();
        };
        let gref = GroupRef::of(&r, g);
        g.node_groups
            .iter()
            .filter(|ng| &ng.id == sid)
            .flat_map(|ng| ng.members.iter().map(|m| gref.node_key(m)))
            .collect()
    }

    /// Sets `n`'s node status and logs `"{message} {node id}"` for its cluster.
    fn node_event(&self, n: &FaultNode, status: NodeStatus, message: &str) {
        let region = self.inner.store.region(&n.account, &n.region);
        let mut r = lock(&region);
        let now = self.inner.store.now();
        if let Some(c) = r.clusters.get_mut(&n.cache_cluster_id)
            && let Some(node) = c.nodes.iter_mut().find(|x| x.id == n.cache_node_id)
        {
            node.status = status;
        }
        r.event(
            SourceType::CacheCluster,
            &n.cache_cluster_id,
            format!("{message} {}", n.cache_node_id),
            now,
        );
    }
}

/// The node(s) of cluster `raw`: `node` if given, else its only node (every node for a zone).
fn cluster_nodes(r: &Region, raw: &str, node: Option<&str>) -> Result<Vec<FaultNode>, String> {
    let c = r
        .cluster(raw)
        .map_err(|_| format!("target.cacheClusterId: cache cluster {raw} not found"))?;
    let (gid, sid) = match &c.replication_group_id {
        Some(g) => {
            let shard = r.replication_groups.get(g).and_then(|rg| {
                rg.node_groups
                    .iter()
                    .find(|ng| ng.members.contains(&c.id))
                    .map(|ng| ng.id.clone())
            });
            (Some(g.clone()), shard)
        }
        None => (None, None),
    };
    let chosen: Vec<_> = match node {
        Some(id) => {
            let found: Vec<_> = c.nodes.iter().filter(|n| n.id == id).collect();
            if found.is_empty() {
                return Err(format!(
                    "target.cacheNodeId: cache node {id} not found in cluster {raw}"
                ));
            }
            found
        }
        None => c.nodes.iter().collect(),
    };
    Ok(chosen
        .into_iter()
        .map(|n| FaultNode {
            account: r.account.clone(),
            region: r.region.clone(),
            cache_cluster_id: c.id.clone(),
            cache_node_id: n.id.clone(),
            availability_zone: n.availability_zone.clone(),
            replication_group_id: gid.clone(),
            node_group_id: sid.clone(),
            key: format!("{}/{}/{}/{}", r.account, r.region, c.id, n.id),
        })
        .collect())
}

/// Every node of group `raw`, or of its shard `shard`.
fn group_nodes(r: &Region, raw: &str, shard: Option<&str>) -> Result<Vec<FaultNode>, String> {
    let g = r
        .group(raw)
        .map_err(|_| format!("target.replicationGroupId: replication group {raw} not found"))?;
    let shard = match shard {
        Some(s) => Some(
            s.trim()
                .parse::<u32>()
                .map(|n| format!("{n:04}"))
                .map_err(|_| format!("target.nodeGroupId: node group {s} not found in {raw}"))?,
        ),
        None => None,
    };
    let mut nodes = Vec::new();
    for ng in &g.node_groups {
        if shard.as_ref().is_some_and(|s| s != &ng.id) {
            continue;
        }
        for m in &ng.members {
            nodes.extend(cluster_nodes(r, m, None)?);
        }
    }
    if nodes.is_empty() {
        return Err(format!(
            "target.nodeGroupId: node group {} not found in {raw}",
            shard.unwrap_or_default()
        ));
    }
    Ok(nodes)
}
