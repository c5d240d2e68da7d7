//! Background work of replication groups: starting member nodes, wiring replication, the
//! cluster-level endpoints (primary, reader, configuration) and the cluster topology, and
//! completing `creating` / `modifying` / `deleting` transitions.
//!
//! Place in the flow: a replication group handler switches the records under the region lock
//! and spawns one of these tasks; a task reads what it needs under a short lock, drives the
//! supervisor without any lock, writes results back, and finishes only if the group's
//! generation is unchanged. [`Service::sync_topology`] is the one idempotent step that makes
//! the running engines and endpoints match the records (who is primary of which shard).

use crate::state::{
    ClusterStatus, EndpointRecord, GroupStatus, NodeStatus, Region, ReplicationGroupRecord,
    SourceType, lock,
};
use crate::supervisor::{Endpoint, ShardTopology};

use super::Service;
use super::lifecycle::{ClusterRef, node_spec};

/// Identifies a replication group (and the operation) a task works for.
#[derive(Clone, Debug)]
pub struct GroupRef {
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
    /// Group id.
    pub id: String,
    /// Generation the task started with.
    pub generation: u64,
}

impl GroupRef {
    /// A reference to `g` at its current generation.
    pub fn of(r: &Region, g: &ReplicationGroupRecord) -> GroupRef {
        GroupRef {
            account: r.account.clone(),
            region: r.region.clone(),
            id: g.id.clone(),
            generation: g.generation,
        }
    }

    /// Supervisor key of a member's (single) node, the same key standalone clusters use.
    pub fn node_key(&self, member: &str) -> String {
        format!("{}/{}/{}/0001", self.account, self.region, member)
    }

    /// Name of one of the group's forwarding endpoints (`primary`, `reader`, `configuration`).
    pub fn endpoint_name(&self, kind: &str) -> String {
        format!("{}/{}/rg/{}/{kind}", self.account, self.region, self.id)
    }
}

fn to_record(e: &Endpoint) -> EndpointRecord {
    EndpointRecord {
        address: e.address.clone(),
        ip: e.ip,
        port: e.port,
    }
}

/// What [`Service::sync_topology`] needs from the records.
struct TopologyPlan {
    /// The nodes run with cluster mode on (slot map, configuration endpoint).
    cluster_enabled: bool,
    /// The group has the primary and reader endpoints of cluster mode disabled (also while
    /// `compatible`).
    single_endpoints: bool,
    port: u16,
    shards: Vec<ShardTopology>,
}

impl Service {
    /// Runs `f` on the region if the group still exists at the task's generation.
    pub(crate) fn with_group<T>(
        &self,
        gref: &GroupRef,
        f: impl FnOnce(&mut Region) -> T,
    ) -> Option<T> {
        let region = self.inner.store.region(&gref.account, &gref.region);
        let mut r = lock(&region);
        let current = r.replication_groups.get(&gref.id).map(|g| g.generation);
        (current == Some(gref.generation)).then(|| f(&mut r))
    }

    async fn group_delay(&self) {
        if !self.inner.create_delay.is_zero() {
            tokio::time::sleep(self.inner.create_delay).await;
        }
    }

    /// Starts the nodes of the listed members (records in `creating`), recording endpoints.
    pub(crate) async fn start_members(
        &self,
        gref: &GroupRef,
        members: &[String],
    ) -> Result<(), String> {
        for m in members {
            let spec = self
                .with_group(gref, |r| {
                    let g = r.replication_groups.get(&gref.id)?;
                    let c = r.clusters.get(m)?;
                    let mut spec = node_spec(r, c, &ClusterRef::of(r, c), "0001");
                    spec.cluster_enabled = g.runs_cluster_mode();
                    Some(spec)
                })
                .flatten();
            let Some(spec) = spec else {
                return Err(format!("Cache cluster {m} disappeared while starting"));
            };
            self.inner.supervisor.forget_topology(&spec.key);
            let started = self.inner.supervisor.start_node(spec).await;
            let now = self.inner.store.now();
            match started {
                Ok(ep) => {
                    self.with_group(gref, |r| {
                        let mut az = String::new();
                        if let Some(c) = r.clusters.get_mut(m) {
                            if let Some(n) = c.nodes.first_mut() {
                                n.endpoint = Some(to_record(&ep));
                                n.complete(NodeStatus::Available);
                                az = n.availability_zone.clone();
                            }
                            c.complete(ClusterStatus::Available);
                        }
                        r.event(
                            SourceType::CacheCluster,
                            m,
                            format!("Added cache node 0001 in availability zone {az}"),
                            now,
                        );
                        r.event(SourceType::CacheCluster, m, "Cache cluster created", now);
                    });
                }
                Err(err) => return Err(format!("Failed to start cache node 0001 of {m}: {err}")),
            }
        }
        Ok(())
    }

    /// Stops the listed members' nodes and removes their records.
    pub(crate) async fn remove_members(&self, gref: &GroupRef, members: &[String]) {
        for m in members {
            if let Err(err) = self.inner.supervisor.stop_node(&gref.node_key(m)).await {
                tracing::debug!(member = %m, %err, "member node was not running");
            }
            // A later member may reuse the id (and node key): it must sync from scratch.
            self.inner.supervisor.forget_topology(&gref.node_key(m));
            let now = self.inner.store.now();
            let region = self.inner.store.region(&gref.account, &gref.region);
            let mut r = lock(&region);
            r.remove_cluster(m);
            r.event(SourceType::CacheCluster, m, "Cache cluster deleted", now);
        }
    }

    /// Makes engines and endpoints match the records: every replica follows its shard's
    /// primary; CMD primary/reader endpoints point at the primary/replicas; CME nodes learn the
    /// slot map (announcing the endpoints the API reports) and the configuration endpoint
    /// reaches every node.
    pub(crate) async fn sync_topology(&self, gref: &GroupRef) -> Result<(), String> {
        let plan = self
            .with_group(gref, |r| {
                let g = r.replication_groups.get(&gref.id)?;
                Some(TopologyPlan {
                    cluster_enabled: g.runs_cluster_mode(),
                    single_endpoints: !g.cluster_enabled,
                    port: g.port,
                    shards: g
                        .node_groups
                        .iter()
                        .map(|ng| ShardTopology {
                            slots: ng.slots.clone(),
                            primary: gref.node_key(&ng.primary),
                            replicas: ng.replicas().map(|m| gref.node_key(m)).collect(),
                        })
                        .collect(),
                })
            })
            .flatten();
        let Some(plan) = plan else { return Ok(()) };
        let sup = &self.inner.supervisor;
        for shard in &plan.shards {
            for replica in &shard.replicas {
                sup.replicate(replica, &shard.primary)
                    .await
                    .map_err(|e| format!("Replication setup failed: {e}"))?;
            }
        }
        if plan.cluster_enabled {
            sup.set_cluster_topology(&plan.shards)
                .await
                .map_err(|e| format!("Cluster topology update failed: {e}"))?;
            let all: Vec<String> = plan
                .shards
                .iter()
                .flat_map(|s| std::iter::once(s.primary.clone()).chain(s.replicas.clone()))
                .collect();
            let ep = sup
                .start_proxy_endpoint(&gref.endpoint_name("configuration"), plan.port, &all)
                .await
                .map_err(|e| format!("Failed to start the configuration endpoint: {e}"))?;
            self.with_group(gref, |r| {
                if let Some(g) = r.replication_groups.get_mut(&gref.id) {
                    g.configuration_endpoint = Some(to_record(&ep));
                }
            });
        }
        if plan.single_endpoints
            && let Some(shard) = plan.shards.first()
        {
            let primary = sup
                .start_proxy_endpoint(
                    &gref.endpoint_name("primary"),
                    plan.port,
                    std::slice::from_ref(&shard.primary),
                )
                .await
                .map_err(|e| format!("Failed to start the primary endpoint: {e}"))?;
            let readers = if shard.replicas.is_empty() {
                vec![shard.primary.clone()]
            } else {
                shard.replicas.clone()
            };
            let reader = sup
                .start_proxy_endpoint(&gref.endpoint_name("reader"), plan.port, &readers)
                .await
                .map_err(|e| format!("Failed to start the reader endpoint: {e}"))?;
            self.with_group(gref, |r| {
                if let Some(g) = r.replication_groups.get_mut(&gref.id) {
                    g.primary_endpoint = Some(to_record(&primary));
                    g.reader_endpoint = Some(to_record(&reader));
                }
            });
        }
        // A global datastore secondary's shard primaries follow the primary region's.
        self.link_global(gref).await
    }

    /// Ends a group transition: `available` (members too) on success; on failure
    /// `create-failed` for a creation, else back to `available`, with an event either way.
    pub(crate) fn finish_group(
        &self,
        gref: &GroupRef,
        result: Result<(), String>,
        creating: bool,
        success_event: Option<String>,
    ) {
        let now = self.inner.store.now();
        self.with_group(gref, |r| {
            let status = match (&result, creating) {
                (Ok(()), _) | (Err(_), false) => GroupStatus::Available,
                (Err(_), true) => GroupStatus::CreateFailed,
            };
            let members = match r.replication_groups.get_mut(&gref.id) {
                Some(g) => {
                    g.complete(status);
                    // A global datastore secondary that failed to start leaves the datastore.
                    if status == GroupStatus::CreateFailed
                        && let Some(m) = g.global.take()
                    {
                        self.abandon_secondary(&gref.account, &gref.region, &m.id);
                    }
                    g.member_ids()
                }
                None => Vec::new(),
            };
            if result.is_ok() {
                for m in members {
                    if let Some(c) = r.clusters.get_mut(&m)
                        && c.status != ClusterStatus::Deleting
                    {
                        c.follow_group(ClusterStatus::Available);
                    }
                }
            }
            match &result {
                Ok(()) => {
                    if let Some(msg) = success_event {
                        r.event(SourceType::ReplicationGroup, &gref.id, msg, now);
                    }
                }
                Err(msg) => {
                    tracing::warn!(group = %gref.id, %msg, "replication group transition failed");
                    r.event(SourceType::ReplicationGroup, &gref.id, msg.clone(), now);
                }
            }
        });
    }

    /// Members of the group still in `creating`.
    fn creating_members(&self, gref: &GroupRef) -> Vec<String> {
        self.with_group(gref, |r| {
            let Some(g) = r.replication_groups.get(&gref.id) else {
                return Vec::new();
            };
            g.member_ids()
                .into_iter()
                .filter(|m| {
                    r.clusters
                        .get(m)
                        .is_some_and(|c| c.status == ClusterStatus::Creating)
                })
                .collect()
        })
        .unwrap_or_default()
    }

    /// `creating` → `available`: start every new member, then wire the topology.
    pub(crate) fn spawn_group_create(&self, gref: GroupRef) {
        let svc = self.clone();
        tokio::spawn(async move {
            let members = svc.creating_members(&gref);
            let mut result = svc.start_members(&gref, &members).await;
            if result.is_ok() {
                result = svc.sync_topology(&gref).await;
            }
            svc.group_delay().await;
            let msg = format!("Replication group {} created", gref.id);
            svc.finish_group(&gref, result, true, Some(msg));
        });
    }

    /// `modifying` → `available` after members were added (replica count up, a replica created
    /// with CreateCacheCluster): start them and re-wire the topology.
    pub(crate) fn spawn_group_grow(&self, gref: GroupRef, event: String) {
        let svc = self.clone();
        tokio::spawn(async move {
            let members = svc.creating_members(&gref);
            let mut result = svc.start_members(&gref, &members).await;
            if result.is_ok() {
                result = svc.sync_topology(&gref).await;
            }
            svc.group_delay().await;
            svc.finish_group(&gref, result, false, Some(event));
        });
    }

    /// `modifying` → `available` after members were taken out of the records' shards: stop
    /// them, re-wire the topology (reader endpoint, cluster slots) and drop their records.
    pub(crate) fn spawn_group_shrink(&self, gref: GroupRef, removed: Vec<String>, event: String) {
        let svc = self.clone();
        tokio::spawn(async move {
            let result = svc.sync_topology(&gref).await;
            svc.remove_members(&gref, &removed).await;
            svc.group_delay().await;
            svc.finish_group(&gref, result, false, Some(event));
        });
    }

    /// `deleting` → gone: stop the endpoints and members, drop the records. A retained
    /// primary stops following anything and becomes a standalone cluster.
    pub(crate) fn spawn_group_delete(&self, gref: GroupRef, retained: Option<String>) {
        let svc = self.clone();
        tokio::spawn(async move {
            for kind in ["primary", "reader", "configuration"] {
                svc.inner
                    .supervisor
                    .stop_proxy_endpoint(&gref.endpoint_name(kind))
                    .await;
            }
            let members: Vec<String> = svc
                .with_group(&gref, |r| {
                    r.replication_groups
                        .get(&gref.id)
                        .map(|g| g.member_ids())
                        .unwrap_or_default()
                })
                .unwrap_or_default()
                .into_iter()
                .filter(|m| Some(m) != retained.as_ref())
                .collect();
            svc.remove_members(&gref, &members).await;
            if let Some(p) = &retained
                && let Err(err) = svc.inner.supervisor.promote(&gref.node_key(p)).await
            {
                tracing::debug!(member = %p, %err, "retained primary not promoted");
            }
            svc.group_delay().await;
            let now = svc.inner.store.now();
            svc.with_group(&gref, |r| {
                if let Some(p) = &retained
                    && let Some(c) = r.clusters.get_mut(p)
                {
                    c.replication_group_id = None;
                    c.generation += 1;
                }
                r.remove_group(&gref.id);
                r.event(
                    SourceType::ReplicationGroup,
                    &gref.id,
                    format!("Replication group {} deleted", gref.id),
                    now,
                );
            });
        });
    }
}
