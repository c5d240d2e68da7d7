//! Faults the supervisor inflicts on running nodes (fault injection): crashes, network faults
//! on a node's client connections, a lowered memory limit, a replica cut from its primary.
//!
//! Place in the flow: the control plane's fault registry (`crate::faults`) decides what breaks
//! and when it heals, and reacts as ElastiCache does (failover, events, statuses); this module
//! only does the breaking and the healing, in node keys. Network faults go through the
//! [`ecl_net::FaultGate`] each engine listener owns; a crashed node keeps its slot and address
//! (so it comes back on the same endpoint) with no engine running, and topology changes leave
//! it out until it is revived (see `topology`).

use std::time::Duration;

use super::engines::{ClusterNodeInfo, RunningNode};
use super::{EngineKind, Supervisor, SupervisorError, params};

/// A network fault on a node's client connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetFault {
    /// Every reply delayed by `delay` ± `jitter`.
    Latency {
        /// Fixed part.
        delay: Duration,
        /// Random part, either way.
        jitter: Duration,
    },
    /// Clients cannot reach the node: new connections dropped, open ones reset.
    RefuseClients,
    /// Every `n`-th new connection reset.
    DropEveryNth(u64),
    /// Every open client connection reset, once.
    KillAll,
}

impl Supervisor {
    /// Crashes a node: its listener closes and every connection resets; the node keeps its
    /// address and stays down until [`Supervisor::revive_node`]. Replication links to it go
    /// down (its replicas keep retrying nothing: they wait to be re-targeted).
    pub async fn crash_node(&self, key: &str) -> Result<(), SupervisorError> {
        let slot = self.slot(key)?;
        let mut guard = slot.lock().await;
        let Some(node) = guard.running.take() else {
            return Err(SupervisorError::UnknownNode(format!(
                "{key} (already down)"
            )));
        };
        let info = node.node_id().map(|node_id| ClusterNodeInfo {
            node_id,
            ip: guard.endpoint.ip.to_string(),
            port: guard.endpoint.port,
            hostname: Some(guard.endpoint.address.clone()),
        });
        node.fault_gate().kill_all();
        node.shutdown().await;
        drop(guard);
        self.topology.mark_down(key, info);
        self.forget_topology(key);
        tracing::info!(node = key, "node crashed (fault injection)");
        Ok(())
    }

    /// Brings a crashed node back on its address, empty (as a replaced ElastiCache node); the
    /// control plane then re-applies the topology so it resynchronises from its primary.
    pub async fn revive_node(&self, key: &str) -> Result<(), SupervisorError> {
        self.topology.mark_up(key);
        self.forget_topology(key);
        self.reboot_node(key).await?;
        tracing::info!(node = key, "crashed node back (fault injection cleared)");
        Ok(())
    }

    /// Whether `key` is down after [`Supervisor::crash_node`].
    pub fn is_down(&self, key: &str) -> bool {
        self.topology.is_down(key)
    }

    /// Sets (or with `None` clears) a network fault on a node's client connections.
    pub async fn set_net_fault(
        &self,
        key: &str,
        fault: Option<NetFault>,
    ) -> Result<(), SupervisorError> {
        let slot = self.slot(key)?;
        let guard = slot.lock().await;
        let Some(node) = guard.running.as_ref() else {
            return Err(SupervisorError::UnknownNode(format!("{key} (down)")));
        };
        let gate = node.fault_gate();
        match fault {
            None => {
                gate.set_delay(Duration::ZERO, Duration::ZERO);
                gate.set_refuse(false);
                gate.set_every_nth(0);
            }
            Some(NetFault::Latency { delay, jitter }) => gate.set_delay(delay, jitter),
            Some(NetFault::RefuseClients) => gate.set_refuse(true),
            Some(NetFault::DropEveryNth(n)) => gate.set_every_nth(n),
            Some(NetFault::KillAll) => gate.kill_all(),
        }
        Ok(())
    }

    /// Lowers a node's memory limit to `bytes` (Redis/Valkey `maxmemory`; a Memcached node's
    /// item memory), or with `None` restores what its node type and parameters give.
    pub async fn override_memory(
        &self,
        key: &str,
        bytes: Option<u64>,
    ) -> Result<(), SupervisorError> {
        let slot = self.slot(key)?;
        let guard = slot.lock().await;
        let Some(node) = guard.running.as_ref() else {
            return Err(SupervisorError::UnknownNode(format!("{key} (down)")));
        };
        if guard.spec.engine == EngineKind::Memcached {
            let mut spec = guard.spec.clone();
            if let Some(b) = bytes {
                spec.node_memory_bytes = b;
            }
            let config = self.memcached_config(&spec, &spec.parameters, guard.reservation.bind)?;
            node.apply_memcached(&config);
            return Ok(());
        }
        let limit = match bytes {
            Some(b) => b,
            None => params::redis_maxmemory(
                guard.spec.node_memory_bytes,
                &guard.spec.parameters,
                self.memory_cap(),
            )?,
        };
        node.config_set("maxmemory", &limit.to_string())
            .await
            .map_err(|reason| SupervisorError::InvalidParameter {
                name: "maxmemory".to_string(),
                reason,
            })
    }

    /// Cuts a replica from its primary (a replication partition): the replica keeps its data
    /// and reports `master_link_status:down`; [`Supervisor::replicate`] links it again (after
    /// [`Supervisor::forget_topology`]).
    pub async fn cut_replication(&self, key: &str) -> Result<(), SupervisorError> {
        let slot = self.slot(key)?;
        let guard = slot.lock().await;
        match guard.running.as_ref() {
            Some(RunningNode::Redis(n)) if n.cut_replication_link() => {}
            _ => {
                return Err(SupervisorError::UnknownNode(format!(
                    "{key} (not a running replica)"
                )));
            }
        }
        drop(guard);
        self.forget_topology(key);
        Ok(())
    }
}
