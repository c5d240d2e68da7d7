//! The control plane's side of persistence across restarts (`--data-dir`): taking restored
//! records back (settled, with their snapshot images read from disk), starting every node again
//! on the address it had with the data it had, and saving each Redis/Valkey node's dataset at
//! shutdown.
//!
//! Place in the flow: `crate::persistence` reads the state file and calls
//! [`Service::restore_records`] then [`Service::resume_nodes`] before the API listens, and
//! [`Service::save_node_data`] at shutdown before the supervisor stops the nodes. Node data
//! lives in `<data-dir>/nodes/<account>/<region>/<cluster>/<node>.rdb` (the node key as a
//! path); Memcached nodes have no persistence (as on ElastiCache) and start empty. A node whose
//! own data directory (`<data-dir>/node-data/`, see `supervisor::node_data`) holds an AOF
//! loads that instead of its clean-stop dataset.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::state::persist::StateDoc;
use crate::state::{ClusterStatus, EndpointRecord, NodeStatus, Region, SnapshotStatus, lock};
use crate::supervisor::{Endpoint, EngineKind};

use super::Service;
use super::lifecycle::{ClusterRef, engine_kind, node_spec};
use super::replication_lifecycle::GroupRef;

/// One node to start again.
struct NodePlan {
    cref: ClusterRef,
    node_id: String,
    previous: Option<EndpointRecord>,
}

/// Everything [`Service::resume_nodes`] starts, with the endpoints each had.
#[derive(Default)]
struct RestartPlan {
    /// Every node of every cluster (group members included), in creation order.
    nodes: Vec<NodePlan>,
    /// Memcached clusters and their configuration endpoints.
    configs: Vec<(ClusterRef, Option<EndpointRecord>)>,
    /// Replication groups and their cluster-level endpoints by kind.
    groups: Vec<(GroupRef, Vec<(&'static str, EndpointRecord)>)>,
}

/// The file a node's dataset is saved in.
fn node_file(dir: &Path, key: &str) -> PathBuf {
    dir.join(format!("{key}.rdb"))
}

fn endpoint(e: &EndpointRecord) -> Endpoint {
    Endpoint {
        address: e.address.clone(),
        ip: e.ip,
        port: e.port,
    }
}

impl Service {
    /// Takes over the regions of a state file: settles interrupted transitions and reads each
    /// snapshot's images. A snapshot that was `available` and whose file is missing or
    /// unreadable is an error (naming the file); one still `creating` becomes `available`
    /// when its files were written, else `failed`.
    pub fn restore_records(&self, doc: StateDoc) -> Result<(), String> {
        let StateDoc {
            mut regions,
            globals,
        } = doc;
        for r in &mut regions {
            r.settle_after_restart();
            let place = (r.account.clone(), r.region.clone());
            for s in r.snapshots.values_mut() {
                if s.status == SnapshotStatus::Failed {
                    continue;
                }
                let dir = super::snapshots::snapshot_path(self, &place, &s.name);
                let mut missing = None;
                for (i, n) in s.nodes.iter_mut().enumerate() {
                    let Some(file) = dir.as_ref().map(|d| d.join(format!("{:04}.rdb", i + 1)))
                    else {
                        continue;
                    };
                    match std::fs::read(&file) {
                        Ok(bytes) => n.image = Arc::new(bytes),
                        Err(e) => missing = Some(format!("{}: {e}", file.display())),
                    }
                }
                match (missing, s.status) {
                    (None, _) => s.status = SnapshotStatus::Available,
                    (Some(_), SnapshotStatus::Creating) => s.status = SnapshotStatus::Failed,
                    (Some(err), _) => {
                        return Err(format!("snapshot {} cannot be read: {err}", s.name));
                    }
                }
            }
        }
        self.inner.store.restore(regions, globals);
        Ok(())
    }

    /// Starts every node of the restored records on the address it had (Redis/Valkey nodes
    /// load their saved dataset from `node_dir` first), then the Memcached configuration
    /// endpoints and the replication groups' topology and endpoints. Answers how many nodes
    /// started; an error (a node that cannot start, a dataset that does not load) stops the
    /// restart.
    pub async fn resume_nodes(&self, node_dir: &Path) -> Result<usize, String> {
        let plan = self.restart_plan();
        let sup = &self.inner.supervisor;
        for n in &plan.nodes {
            if let Some(e) = &n.previous {
                sup.pin(&n.cref.node_key(&n.node_id), &endpoint(e));
            }
        }
        for (cref, e) in &plan.configs {
            if let Some(e) = e {
                sup.pin(&cref.group_key(), &endpoint(e));
            }
        }
        for (gref, endpoints) in &plan.groups {
            for (kind, e) in endpoints {
                sup.pin(&gref.endpoint_name(kind), &endpoint(e));
            }
        }
        let result = self.start_restored(node_dir, &plan).await;
        sup.unpin_all();
        result.map(|()| plan.nodes.len())
    }

    /// What [`Service::resume_nodes`] starts, read under each region's lock.
    fn restart_plan(&self) -> RestartPlan {
        let mut plan = RestartPlan::default();
        for region in self.inner.store.regions() {
            let r = lock(&region);
            // A cluster whose nodes could not get an endpoint before stays as it was (its
            // status says so); it can still be deleted.
            let clusters = r.clusters_in_order();
            for c in clusters.filter(|c| c.status != ClusterStatus::IncompatibleNetwork) {
                let cref = ClusterRef::of(&r, c);
                for n in &c.nodes {
                    plan.nodes.push(NodePlan {
                        cref: cref.clone(),
                        node_id: n.id.clone(),
                        previous: n.endpoint.clone(),
                    });
                }
                if engine_kind(&c.engine) == EngineKind::Memcached {
                    plan.configs.push((cref, c.configuration_endpoint.clone()));
                }
            }
            for g in r.groups_in_order() {
                let endpoints = [
                    ("primary", &g.primary_endpoint),
                    ("reader", &g.reader_endpoint),
                    ("configuration", &g.configuration_endpoint),
                ]
                .into_iter()
                .filter_map(|(k, e)| e.clone().map(|e| (k, e)))
                .collect();
                plan.groups.push((GroupRef::of(&r, g), endpoints));
            }
        }
        plan
    }

    /// Starts the nodes, then the configuration endpoints, then each group's topology.
    async fn start_restored(&self, node_dir: &Path, plan: &RestartPlan) -> Result<(), String> {
        for n in &plan.nodes {
            self.start_restored_node(node_dir, n).await?;
        }
        for (cref, _) in &plan.configs {
            let port = self.with_region(cref, |r| r.clusters.get(&cref.id).map(|c| c.port));
            let Some(port) = port else { continue };
            let ep = (self.inner.supervisor)
                .start_config_endpoint(&cref.group_key(), port)
                .await
                .map_err(|e| format!("configuration endpoint of {}: {e}", cref.id))?;
            self.with_region(cref, |r| {
                if let Some(c) = r.clusters.get_mut(&cref.id) {
                    c.configuration_endpoint = Some(record(&ep));
                }
            });
        }
        for (gref, _) in &plan.groups {
            self.sync_topology(gref)
                .await
                .map_err(|e| format!("replication group {}: {e}", gref.id))?;
        }
        Ok(())
    }

    /// Starts one node (seeded with its saved dataset, if any) and records its endpoint.
    async fn start_restored_node(&self, node_dir: &Path, n: &NodePlan) -> Result<(), String> {
        let key = n.cref.node_key(&n.node_id);
        let spec = self.with_region(&n.cref, |r| {
            let c = r.clusters.get(&n.cref.id)?;
            let mut spec = node_spec(r, c, &n.cref, &n.node_id);
            spec.cluster_enabled = (c.replication_group_id.as_ref())
                .and_then(|g| r.replication_groups.get(g))
                .is_some_and(|g| g.runs_cluster_mode());
            Some(spec)
        });
        let Some(spec) = spec else {
            return Ok(());
        };
        let file = node_file(node_dir, &key);
        // A node with an AOF loads it instead: the AOF holds every write up to the node's
        // stop, the clean-stop dataset only those before it was taken (loading both would
        // bring back the older one).
        if spec.engine != EngineKind::Memcached && !self.inner.supervisor.node_has_aof(&key) {
            match std::fs::read(&file) {
                Ok(bytes) => self.inner.supervisor.seed_rdb(&key, Arc::new(bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("{}: {e}", file.display())),
            }
        }
        let ep = (self.inner.supervisor.start_node(spec).await).map_err(|e| {
            format!(
                "cache node {} of {} (data file {}): {e}",
                n.node_id,
                n.cref.id,
                file.display()
            )
        })?;
        self.with_region(&n.cref, |r| {
            if let Some(node) = (r.clusters.get_mut(&n.cref.id))
                .and_then(|c| c.nodes.iter_mut().find(|x| x.id == n.node_id))
            {
                node.endpoint = Some(record(&ep));
                node.status = NodeStatus::Available;
            }
        });
        Ok(())
    }

    /// Runs `f` on the cluster's region (nothing else runs during a restart, so no
    /// generation check is needed).
    fn with_region<T>(&self, cref: &ClusterRef, f: impl FnOnce(&mut Region) -> T) -> T {
        let region = self.inner.store.region(&cref.account, &cref.region);
        let mut r = lock(&region);
        f(&mut r)
    }

    /// Saves the dataset of every running Redis/Valkey node under `node_dir` (each file
    /// written atomically) and removes the files of nodes that no longer exist. Answers how
    /// many were saved; a node that cannot be saved is logged and skipped.
    pub async fn save_node_data(&self, node_dir: &Path) -> usize {
        let mut keys = Vec::new();
        for region in self.inner.store.regions() {
            let r = lock(&region);
            for c in r.clusters.values() {
                if engine_kind(&c.engine) == EngineKind::Memcached {
                    continue;
                }
                let cref = ClusterRef::of(&r, c);
                keys.extend(c.nodes.iter().map(|n| cref.node_key(&n.id)));
            }
        }
        let _ = std::fs::remove_dir_all(node_dir);
        let mut saved = 0;
        for key in keys {
            let image = match self.inner.supervisor.snapshot_rdb(&key).await {
                Ok(image) => image,
                Err(err) => {
                    tracing::debug!(node = %key, %err, "node not saved");
                    continue;
                }
            };
            let file = node_file(node_dir, &key);
            let written = (file.parent().map(std::fs::create_dir_all).unwrap_or(Ok(())))
                .and_then(|()| crate::state::persist::write_atomic(&file, &image));
            match written {
                Ok(()) => saved += 1,
                Err(err) => tracing::warn!(node = %key, file = %file.display(), %err,
                    "node data not saved"),
            }
        }
        saved
    }
}

fn record(e: &Endpoint) -> EndpointRecord {
    EndpointRecord {
        address: e.address.clone(),
        ip: e.ip,
        port: e.port,
    }
}

impl Service {
    /// Removes the data directories of nodes that are not running (see
    /// `Supervisor::sweep_node_data`); call once the restored nodes have started.
    pub fn sweep_node_data(&self) -> usize {
        self.inner.supervisor.sweep_node_data()
    }

    /// The state file document of every region now (see `state::persist`).
    pub fn state_document(&self) -> Vec<u8> {
        self.inner.store.encode()
    }

    /// A count that moves whenever a region may have been read or changed (`Store::touches`).
    pub fn state_touches(&self) -> u64 {
        self.inner.store.touches()
    }
}
