//! Background completion of cache cluster transitions: `creating` → `available`,
//! `modifying` → `available`, `rebooting cluster nodes` → `available`, `deleting` → gone.
//!
//! Place in the flow: a handler validates, switches the record's status under the region lock,
//! bumps its `generation`, answers the client, and spawns one of these tasks. A task talks to
//! the supervisor without holding any lock, writes each result back under a short lock, waits
//! `Config.create_delay` (so users can test their timeouts), then completes the transition —
//! unless the record's generation moved on (a later operation owns the cluster now).

use crate::catalog::catalog;
use crate::state::{
    CacheClusterRecord, CacheNodeRecord, ClusterStatus, EndpointRecord, NodeStatus,
    ParameterStatus, Region, SourceType, lock,
};
use crate::supervisor::{Endpoint, EngineKind, NodeSpec, TransitMode};

use super::Service;

/// Identifies the cluster (and the operation) a task works for.
#[derive(Clone, Debug)]
pub struct ClusterRef {
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
    /// Cluster id.
    pub id: String,
    /// The generation the task was started with.
    pub generation: u64,
}

impl ClusterRef {
    /// A reference to `c` at its current generation.
    pub fn of(r: &Region, c: &CacheClusterRecord) -> ClusterRef {
        ClusterRef {
            account: r.account.clone(),
            region: r.region.clone(),
            id: c.id.clone(),
            generation: c.generation,
        }
    }

    /// The supervisor key of one of the cluster's nodes.
    pub fn node_key(&self, node_id: &str) -> String {
        format!("{}/{}/{}/{}", self.account, self.region, self.id, node_id)
    }

    /// The Memcached discovery group (and configuration endpoint) key of the cluster.
    pub fn group_key(&self) -> String {
        format!("{}/{}/{}", self.account, self.region, self.id)
    }
}

/// The engine of a record.
pub fn engine_kind(engine: &str) -> EngineKind {
    match engine {
        "memcached" => EngineKind::Memcached,
        "valkey" => EngineKind::Valkey,
        _ => EngineKind::Redis,
    }
}

/// What a node should run, from its cluster record (and the region's parameter groups).
pub fn node_spec(r: &Region, c: &CacheClusterRecord, cref: &ClusterRef, node_id: &str) -> NodeSpec {
    let node_type = catalog().node_type(&c.node_type);
    NodeSpec {
        key: cref.node_key(node_id),
        engine: engine_kind(&c.engine),
        engine_version: c.engine_version.clone(),
        requested_port: c.port,
        node_memory_bytes: node_type.map(|n| n.memory_bytes(&c.engine)).unwrap_or(0),
        vcpus: node_type
            .map(|n| n.memcached_num_threads.unwrap_or(n.vcpus) as usize)
            .unwrap_or(1)
            .max(1),
        parameters: r.effective_parameters(&c.parameter_group),
        auth_token: c.auth_token.clone(),
        users: super::rbac_lifecycle::node_users(r, c),
        cluster_enabled: false,
        discovery_group: (c.engine == "memcached").then(|| cref.group_key()),
        transit_encryption: TransitMode::from_record(
            c.transit_encryption_enabled,
            c.transit_encryption_mode.as_deref(),
        ),
        availability_zone: c
            .nodes
            .iter()
            .find(|n| n.id == node_id)
            .map(|n| n.availability_zone.clone()),
    }
}

fn to_record(e: &Endpoint) -> EndpointRecord {
    EndpointRecord {
        address: e.address.clone(),
        ip: e.ip,
        port: e.port,
    }
}

impl Service {
    /// Runs `f` on the cluster if it still exists at the task's generation.
    fn with_cluster<T>(&self, cref: &ClusterRef, f: impl FnOnce(&mut Region) -> T) -> Option<T> {
        let region = self.inner.store.region(&cref.account, &cref.region);
        let mut r = lock(&region);
        let current = r.clusters.get(&cref.id).map(|c| c.generation);
        (current == Some(cref.generation)).then(|| f(&mut r))
    }

    /// Waits the configured transition delay.
    async fn transition_delay(&self) {
        if !self.inner.create_delay.is_zero() {
            tokio::time::sleep(self.inner.create_delay).await;
        }
    }

    /// The node's spec as its record now gives it; `None` once the cluster is gone or
    /// recreated (the transition then stops quietly).
    fn spec_of(&self, cref: &ClusterRef, node_id: &str) -> Option<NodeSpec> {
        self.with_cluster(cref, |r| {
            let c = r.clusters.get(&cref.id)?;
            Some(node_spec(r, c, cref, node_id))
        })
        .flatten()
    }

    /// Starts the listed nodes (already in the record with status `creating`), one by one,
    /// recording each endpoint as it comes up.
    async fn start_nodes(&self, cref: &ClusterRef, node_ids: &[String]) -> Result<(), String> {
        for node_id in node_ids {
            let Some(spec) = self.spec_of(cref, node_id) else {
                return Ok(());
            };
            let started = self.inner.supervisor.start_node(spec).await;
            let now = self.inner.store.now();
            match started {
                Ok(ep) => {
                    self.with_cluster(cref, |r| {
                        let mut az = String::new();
                        if let Some(c) = r.clusters.get_mut(&cref.id) {
                            if let Some(n) = c.nodes.iter_mut().find(|n| &n.id == node_id) {
                                n.endpoint = Some(to_record(&ep));
                                n.complete(NodeStatus::Available);
                                az = n.availability_zone.clone();
                            }
                            c.config_version += 1;
                        }
                        r.event(
                            SourceType::CacheCluster,
                            &cref.id,
                            format!("Added cache node {node_id} in availability zone {az}"),
                            now,
                        );
                    });
                }
                Err(err) => return Err(format!("Failed to start cache node {node_id}: {err}")),
            }
        }
        Ok(())
    }

    /// Restarts the listed nodes in place with the spec their record now gives (node type,
    /// engine version): same address, and a Redis/Valkey node keeps its keyspace, as
    /// ElastiCache's online scaling and upgrades do (a Memcached node comes back empty).
    pub(crate) async fn respec_nodes(
        &self,
        cref: &ClusterRef,
        node_ids: &[String],
    ) -> Result<(), String> {
        for node_id in node_ids {
            let Some(spec) = self.spec_of(cref, node_id) else {
                return Ok(());
            };
            let ep = self
                .inner
                .supervisor
                .respec_node(spec)
                .await
                .map_err(|e| format!("Failed to restart cache node {node_id}: {e}"))?;
            self.with_cluster(cref, |r| {
                if let Some(c) = r.clusters.get_mut(&cref.id)
                    && let Some(n) = c.nodes.iter_mut().find(|n| &n.id == node_id)
                {
                    n.endpoint = Some(to_record(&ep));
                    n.complete(NodeStatus::Available);
                }
            });
        }
        Ok(())
    }

    /// Restarts `ids` in place in the batches `scale` gives (a Memcached node type change:
    /// the nodes of a batch together, an event per batch, the create delay between batches
    /// where AWS waits `ScaleIntervalMinutes`); one node after the other without it.
    async fn restart_in_batches(
        &self,
        cref: &ClusterRef,
        ids: &[String],
        scale: Option<crate::state::ScaleSetting>,
    ) -> Result<(), String> {
        let Some(setting) = scale else {
            return self.respec_nodes(cref, ids).await;
        };
        let batches = super::memcached_scaling::batches(ids, Some(setting));
        let count = batches.len();
        for (i, batch) in batches.into_iter().enumerate() {
            if i > 0 {
                self.transition_delay().await;
            }
            let now = self.inner.store.now();
            self.with_cluster(cref, |r| {
                let msg = format!(
                    "Scaling batch {} of {count} ({}% of the nodes): restarting cache nodes {}",
                    i + 1,
                    setting.percentage,
                    batch.join(", ")
                );
                r.event(SourceType::CacheCluster, &cref.id, msg, now);
            });
            let mut set = tokio::task::JoinSet::new();
            for id in batch {
                let (svc, cref) = (self.clone(), cref.clone());
                set.spawn(async move { svc.respec_nodes(&cref, &[id]).await });
            }
            while let Some(done) = set.join_next().await {
                done.map_err(|e| format!("Failed to restart a cache node: {e}"))??;
            }
        }
        Ok(())
    }

    /// Stops the listed nodes and removes them from the record.
    async fn stop_nodes(&self, cref: &ClusterRef, node_ids: &[String], remove: bool) {
        for node_id in node_ids {
            if let Err(err) = self
                .inner
                .supervisor
                .stop_node(&cref.node_key(node_id))
                .await
            {
                tracing::debug!(node = %cref.node_key(node_id), %err, "node was not running");
            }
            if remove {
                let now = self.inner.store.now();
                self.with_cluster(cref, |r| {
                    if let Some(c) = r.clusters.get_mut(&cref.id) {
                        c.nodes.retain(|n| &n.id != node_id);
                        c.config_version += 1;
                    }
                    r.event(
                        SourceType::CacheCluster,
                        &cref.id,
                        format!("Removed cache node {node_id}"),
                        now,
                    );
                });
            }
        }
    }

    /// Starts the Memcached configuration endpoint and records it.
    async fn start_config_endpoint(&self, cref: &ClusterRef) -> Result<(), String> {
        let port = self
            .with_cluster(cref, |r| r.clusters.get(&cref.id).map(|c| c.port))
            .flatten();
        let Some(port) = port else { return Ok(()) };
        let ep = self
            .inner
            .supervisor
            .start_config_endpoint(&cref.group_key(), port)
            .await
            .map_err(|e| format!("Failed to start the configuration endpoint: {e}"))?;
        self.with_cluster(cref, |r| {
            if let Some(c) = r.clusters.get_mut(&cref.id) {
                c.configuration_endpoint = Some(to_record(&ep));
            }
        });
        Ok(())
    }

    /// Ends a transition: `available` on success, `incompatible-network` (a terminal status
    /// for waiters) with an explanatory event on failure.
    fn finish(&self, cref: &ClusterRef, result: Result<(), String>, success_event: Option<&str>) {
        let now = self.inner.store.now();
        self.with_cluster(cref, |r| {
            let status = if result.is_ok() {
                ClusterStatus::Available
            } else {
                ClusterStatus::IncompatibleNetwork
            };
            if let Some(c) = r.clusters.get_mut(&cref.id) {
                c.complete(status);
            }
            match &result {
                Ok(()) => {
                    if let Some(msg) = success_event {
                        r.event(SourceType::CacheCluster, &cref.id, msg, now);
                    }
                }
                Err(msg) => {
                    tracing::warn!(cluster = %cref.id, %msg, "cluster transition failed");
                    r.event(SourceType::CacheCluster, &cref.id, msg.clone(), now);
                }
            }
        });
    }

    /// `creating` → `available`: start every node (and the Memcached configuration endpoint).
    pub(crate) fn spawn_create(&self, cref: ClusterRef, memcached: bool) {
        let svc = self.clone();
        tokio::spawn(async move {
            let ids: Vec<String> = svc
                .with_cluster(&cref, |r| {
                    r.clusters
                        .get(&cref.id)
                        .map(|c| c.nodes.iter().map(|n| n.id.clone()).collect())
                })
                .flatten()
                .unwrap_or_default();
            let mut result = svc.start_nodes(&cref, &ids).await;
            if result.is_ok() && memcached {
                result = svc.start_config_endpoint(&cref).await;
            }
            svc.transition_delay().await;
            svc.finish(&cref, result, Some("Cache cluster created"));
        });
    }

    /// `deleting` → gone: stop every node and the configuration endpoint, then drop the record.
    pub(crate) fn spawn_delete(&self, cref: ClusterRef) {
        let svc = self.clone();
        tokio::spawn(async move {
            let ids: Vec<String> = svc
                .with_cluster(&cref, |r| {
                    r.clusters
                        .get(&cref.id)
                        .map(|c| c.nodes.iter().map(|n| n.id.clone()).collect())
                })
                .flatten()
                .unwrap_or_default();
            svc.stop_nodes(&cref, &ids, false).await;
            svc.inner
                .supervisor
                .stop_config_endpoint(&cref.group_key())
                .await;
            svc.transition_delay().await;
            let now = svc.inner.store.now();
            svc.with_cluster(&cref, |r| {
                r.remove_cluster(&cref.id);
                r.event(
                    SourceType::CacheCluster,
                    &cref.id,
                    "Cache cluster deleted",
                    now,
                );
            });
        });
    }

    /// `rebooting cluster nodes` → `available`: restart the listed nodes on their addresses;
    /// they come back with the group's current parameters (`pending-reboot` → `in-sync`).
    pub(crate) fn spawn_reboot(&self, cref: ClusterRef, node_ids: Vec<String>) {
        let svc = self.clone();
        tokio::spawn(async move {
            let mut result = Ok(());
            for node_id in &node_ids {
                let rebooted = svc
                    .inner
                    .supervisor
                    .reboot_node(&cref.node_key(node_id))
                    .await;
                let now = svc.inner.store.now();
                match rebooted {
                    Ok(ep) => {
                        svc.with_cluster(&cref, |r| {
                            if let Some(c) = r.clusters.get_mut(&cref.id) {
                                if let Some(n) = c.nodes.iter_mut().find(|n| &n.id == node_id) {
                                    n.endpoint = Some(to_record(&ep));
                                    n.complete(NodeStatus::Available);
                                    n.parameter_group_status = ParameterStatus::InSync;
                                }
                                if c.nodes
                                    .iter()
                                    .all(|n| n.parameter_group_status == ParameterStatus::InSync)
                                {
                                    c.parameter_apply_status = ParameterStatus::InSync;
                                }
                            }
                            r.event(
                                SourceType::CacheCluster,
                                &cref.id,
                                format!("Cache node {node_id} restarted"),
                                now,
                            );
                        });
                    }
                    Err(err) => {
                        result = Err(format!("Failed to restart cache node {node_id}: {err}"));
                        break;
                    }
                }
            }
            svc.transition_delay().await;
            svc.finish(&cref, result, None);
        });
    }

    /// `modifying` → `available`: remove nodes, restart in place (keeping their data) the
    /// nodes whose spec changed (node type, engine version), add nodes, push parameter values and AUTH token changes, then fold the pending
    /// values into the record.
    pub(crate) fn spawn_modify(&self, cref: ClusterRef, plan: ModifyPlan) {
        let svc = self.clone();
        tokio::spawn(async move {
            let result = svc.run_modify(&cref, &plan).await;
            if result.is_ok() {
                svc.with_cluster(&cref, |r| {
                    if let Some(c) = r.clusters.get_mut(&cref.id) {
                        c.pending = Default::default();
                    }
                });
            }
            svc.transition_delay().await;
            svc.finish(&cref, result, Some("Cache cluster modified"));
        });
    }

    async fn run_modify(&self, cref: &ClusterRef, plan: &ModifyPlan) -> Result<(), String> {
        self.stop_nodes(cref, &plan.remove_nodes, true).await;
        if plan.restart_nodes {
            let scale = self
                .with_cluster(cref, |r| r.clusters.get(&cref.id)?.pending.scale_config)
                .flatten();
            // Fold the new node type / version into the record first, so the restarted nodes
            // are built from (and report) the new values.
            let ids = self
                .with_cluster(cref, |r| {
                    let c = r.clusters.get_mut(&cref.id)?;
                    if let Some(t) = c.pending.cache_node_type.take() {
                        c.node_type = t;
                    }
                    if let Some(v) = c.pending.engine_version.take() {
                        c.engine_version = v;
                    }
                    if let Some(e) = c.pending.engine.take() {
                        c.engine = e;
                    }
                    for n in &mut c.nodes {
                        n.begin(NodeStatus::Modifying);
                    }
                    Some(c.nodes.iter().map(|n| n.id.clone()).collect::<Vec<_>>())
                })
                .flatten()
                .unwrap_or_default();
            self.restart_in_batches(cref, &ids, scale).await?;
        }
        if plan.add_nodes > 0 {
            let now = self.inner.store.now();
            let ids = self
                .with_cluster(cref, |r| {
                    let zones = r.availability_zones();
                    let c = r.clusters.get_mut(&cref.id)?;
                    let mut ids = Vec::new();
                    for i in 0..plan.add_nodes {
                        let id = c.next_node_id();
                        let az = plan
                            .new_zones
                            .get(i)
                            .cloned()
                            .unwrap_or_else(|| next_zone(c, &zones));
                        c.nodes.push(CacheNodeRecord {
                            id: id.clone(),
                            status: NodeStatus::Creating,
                            create_time: now,
                            endpoint: None,
                            availability_zone: az,
                            parameter_group_status: ParameterStatus::InSync,
                        });
                        ids.push(id);
                    }
                    update_preferred_zone(c);
                    Some(ids)
                })
                .flatten()
                .unwrap_or_default();
            self.start_nodes(cref, &ids).await?;
        }
        if plan.push_parameters {
            self.push_parameters(cref).await;
        }
        if plan.push_auth {
            self.push_auth(&cref.account, &cref.region, std::slice::from_ref(&cref.id))
                .await;
        }
        Ok(())
    }

    /// Sends the cluster's effective parameters to each of its running nodes; the supervisor
    /// applies the immediate ones live.
    pub(crate) async fn push_parameters(&self, cref: &ClusterRef) {
        let work = self
            .with_cluster(cref, |r| {
                let c = r.clusters.get(&cref.id)?;
                let params = r.effective_parameters(&c.parameter_group);
                Some((
                    c.nodes
                        .iter()
                        .map(|n| cref.node_key(&n.id))
                        .collect::<Vec<_>>(),
                    params,
                ))
            })
            .flatten();
        let Some((keys, params)) = work else { return };
        for key in keys {
            if let Err(err) = self.inner.supervisor.apply_parameters(&key, &params).await {
                tracing::warn!(node = %key, %err, "parameters not applied");
            }
        }
    }
}

/// The node work a ModifyCacheCluster needs.
#[derive(Clone, Debug, Default)]
pub struct ModifyPlan {
    /// Nodes to stop and remove.
    pub remove_nodes: Vec<String>,
    /// Nodes to add.
    pub add_nodes: usize,
    /// Zones of the added nodes (from NewAvailabilityZones), in order.
    pub new_zones: Vec<String>,
    /// Whether every node restarts (node type or engine version changed).
    pub restart_nodes: bool,
    /// Whether the AUTH token changed: the running nodes take it live.
    pub push_auth: bool,
    /// Whether the parameter values changed (new group).
    pub push_parameters: bool,
}

/// The zone with the fewest nodes, for nodes added without an explicit zone (cross-az), or the
/// cluster's zone (single-az).
pub fn next_zone(c: &CacheClusterRecord, zones: &[String]) -> String {
    if c.az_mode != "cross-az"
        && let Some(n) = c.nodes.first()
    {
        return n.availability_zone.clone();
    }
    zones
        .iter()
        .take(3)
        .min_by_key(|z| {
            c.nodes
                .iter()
                .filter(|n| &n.availability_zone == *z)
                .count()
        })
        .cloned()
        .unwrap_or_default()
}

/// `PreferredAvailabilityZone` is the nodes' zone, or `Multiple` when they span zones.
pub fn update_preferred_zone(c: &mut CacheClusterRecord) {
    let mut zones: Vec<&String> = c.nodes.iter().map(|n| &n.availability_zone).collect();
    zones.sort();
    zones.dedup();
    if zones.len() > 1 {
        c.preferred_availability_zone = "Multiple".to_string();
    } else if let Some(z) = zones.first() {
        c.preferred_availability_zone = (*z).clone();
    }
}
