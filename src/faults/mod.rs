//! Fault injection: break nodes on purpose, the way production breaks them, so users can test
//! their clients' resilience. The registry of active faults behind
//! `/_elasticache_local/faults` (`http`), the CLI that calls it (`cli`), and the JSON contract
//! (`spec`).
//!
//! Place in the flow: `server` mounts [`router`] beside the Query API. Creating a fault
//! resolves its target to cache nodes and reacts through the control plane
//! (`control::handlers::faults`: crashes, failovers, events, statuses, replication partitions)
//! or, for the network and memory faults, asks the supervisor directly (`supervisor::faults`,
//! whose network faults go through the engines' `ecl_net::FaultGate`). Clearing undoes it;
//! a `durationSeconds` clears it by itself. Faults live in memory only: they are not part of
//! the persisted state (a restart clears every fault).

pub mod cli;
mod http;
pub mod spec;

pub use http::router;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::control::context::ContextDefaults;
use crate::control::handlers::{FaultNode, Service};
use crate::supervisor::NetFault;
use spec::{FaultKind, FaultSpec};

/// One active fault.
struct Active {
    spec: FaultSpec,
    nodes: Vec<FaultNode>,
    created: OffsetDateTime,
}

/// Why a fault could not be created or cleared.
#[derive(Debug, PartialEq, Eq)]
pub enum FaultError {
    /// The request is wrong (400); the message names the field.
    Bad(String),
    /// No such fault (404).
    NotFound(String),
    /// The target is busy with another fault (409).
    Conflict(String),
}

/// The active faults of the emulator and the control plane that carries them out.
pub struct Faults {
    service: Arc<Service>,
    defaults: ContextDefaults,
    active: Mutex<BTreeMap<String, Active>>,
    /// Serialises creating and clearing, so two faults never break one node at once halfway.
    ops: tokio::sync::Mutex<()>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Faults {
    /// No fault yet; targets default to `defaults`' account and region.
    pub fn new(service: Arc<Service>, defaults: ContextDefaults) -> Arc<Faults> {
        Arc::new(Faults {
            service,
            defaults,
            active: Mutex::new(BTreeMap::new()),
            ops: tokio::sync::Mutex::new(()),
        })
    }

    /// Reads a request body into a checked spec (defaults filled in).
    pub fn parse(&self, body: &[u8]) -> Result<FaultSpec, FaultError> {
        spec::parse(body, &self.defaults.account, &self.defaults.region).map_err(FaultError::Bad)
    }

    /// Creates a fault: breaks its nodes now and, with a duration, schedules its clearing.
    /// Answers the fault id.
    pub async fn create(self: &Arc<Self>, spec: FaultSpec) -> Result<String, FaultError> {
        let _op = self.ops.lock().await;
        let nodes = self
            .service
            .fault_nodes(&spec.account, &spec.region, &spec.target)
            .map_err(FaultError::Bad)?;
        self.check_free(&spec, &nodes)?;
        self.inflict(&spec, &nodes).await?;
        let id = format!("fault-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        tracing::info!(fault = %id, kind = spec.kind.as_str(), nodes = nodes.len(), "fault injected");
        if let Some(secs) = spec.duration_seconds {
            let me = Arc::clone(self);
            let fid = id.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(secs)).await;
                // Cleared by hand meanwhile: nothing left to do.
                let _ = me.clear(&fid).await;
            });
        }
        let created = OffsetDateTime::now_utc();
        lock(&self.active).insert(
            id.clone(),
            Active {
                spec,
                nodes,
                created,
            },
        );
        Ok(id)
    }

    /// Clears a fault: its nodes heal (crashed ones come back, limits are restored).
    pub async fn clear(&self, id: &str) -> Result<(), FaultError> {
        let _op = self.ops.lock().await;
        let Some(active) = lock(&self.active).remove(id) else {
            return Err(FaultError::NotFound(format!(
                "faultId: no active fault {id}"
            )));
        };
        self.heal(&active.spec, &active.nodes).await;
        tracing::info!(fault = %id, kind = active.spec.kind.as_str(), "fault cleared");
        Ok(())
    }

    /// Forgets every active fault without healing its nodes: for a reset, which stops those
    /// nodes anyway. Auto-clear timers then find nothing left. Answers how many were active.
    pub async fn forget_all(&self) -> usize {
        let _op = self.ops.lock().await;
        let mut active = lock(&self.active);
        let n = active.len();
        active.clear();
        n
    }

    /// Active faults, as `GET` lists them (oldest first).
    pub fn list(&self) -> Value {
        let active = lock(&self.active);
        let mut all: Vec<(&String, &Active)> = active.iter().collect();
        all.sort_by_key(|(id, a)| (a.created, (*id).clone()));
        let faults: Vec<Value> = all
            .into_iter()
            .map(|(id, a)| {
                let mut v = a.spec.to_json();
                v["faultId"] = json!(id);
                v["createdAt"] = json!(rfc3339(a.created));
                if let Some(d) = a.spec.duration_seconds {
                    let until = a.created + time::Duration::seconds(d as i64);
                    v["expiresAt"] = json!(rfc3339(until));
                }
                v["nodes"] = json!(a.nodes);
                v
            })
            .collect();
        json!({ "faults": faults })
    }

    /// A node may carry one fault of a kind at a time (two crashes, two latencies of one node
    /// could not both be undone).
    fn check_free(&self, spec: &FaultSpec, nodes: &[FaultNode]) -> Result<(), FaultError> {
        let crashing = |k: FaultKind| matches!(k, FaultKind::Crash | FaultKind::AzPower);
        for (id, a) in lock(&self.active).iter() {
            let same = a.spec.kind == spec.kind || (crashing(a.spec.kind) && crashing(spec.kind));
            if let Some(n) = nodes.iter().find(|n| a.nodes.contains(n)).filter(|_| same) {
                return Err(FaultError::Conflict(format!(
                    "target: node {} of cluster {} already has a {} fault ({id})",
                    n.cache_node_id,
                    n.cache_cluster_id,
                    a.spec.kind.as_str()
                )));
            }
        }
        Ok(())
    }

    async fn inflict(&self, spec: &FaultSpec, nodes: &[FaultNode]) -> Result<(), FaultError> {
        let svc = &self.service;
        let sup = &svc.inner.supervisor;
        let net = match spec.kind {
            FaultKind::Crash | FaultKind::AzPower => {
                return svc.fault_crash(nodes).await.map_err(FaultError::Bad);
            }
            FaultKind::Partition if !spec.partition_clients => {
                return svc
                    .fault_cut_replication(nodes)
                    .await
                    .map_err(FaultError::Bad);
            }
            FaultKind::Memory => {
                for n in nodes {
                    sup.override_memory(&n.key, Some(spec.maxmemory_bytes))
                        .await
                        .map_err(|e| FaultError::Bad(format!("target: {e}")))?;
                }
                return Ok(());
            }
            FaultKind::Latency => NetFault::Latency {
                delay: Duration::from_millis(spec.delay_ms),
                jitter: Duration::from_millis(spec.jitter_ms),
            },
            FaultKind::Partition => NetFault::RefuseClients,
            FaultKind::ConnectionDrop => match spec.every_nth {
                Some(n) => NetFault::DropEveryNth(n),
                None => NetFault::KillAll,
            },
        };
        for n in nodes {
            sup.set_net_fault(&n.key, Some(net))
                .await
                .map_err(|e| FaultError::Bad(format!("target: {e}")))?;
        }
        Ok(())
    }

    async fn heal(&self, spec: &FaultSpec, nodes: &[FaultNode]) {
        let svc = &self.service;
        let sup = &svc.inner.supervisor;
        match spec.kind {
            FaultKind::Crash | FaultKind::AzPower => svc.fault_recover(nodes).await,
            FaultKind::Partition if !spec.partition_clients => {
                svc.fault_heal_replication(nodes).await;
            }
            FaultKind::Memory => {
                for n in nodes {
                    if let Err(e) = sup.override_memory(&n.key, None).await {
                        tracing::warn!(node = %n.key, error = %e, "memory limit not restored");
                    }
                }
            }
            FaultKind::Latency | FaultKind::Partition | FaultKind::ConnectionDrop => {
                for n in nodes {
                    // A node deleted or crashed meanwhile has nothing left to heal.
                    let _ = sup.set_net_fault(&n.key, None).await;
                }
            }
        }
    }

    /// Active faults for `/health`: id, type and the nodes hit.
    pub fn health(&self) -> Value {
        let active = lock(&self.active);
        let faults: Vec<Value> = active
            .iter()
            .map(|(id, a)| json!({"faultId": id, "type": a.spec.kind.as_str(), "nodes": a.nodes}))
            .collect();
        json!(faults)
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
