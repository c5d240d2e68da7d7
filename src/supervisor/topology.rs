//! Replication and cluster topology of running Redis/Valkey nodes: which node follows which,
//! promotion and failover, and the CLUSTER slot map every node of a sharded group serves.
//!
//! Place in the flow: the control plane decides the roles (a replication group's records say
//! who is primary of each shard) and calls these methods with node keys; this module tells the
//! engines (`ecl_redis::RedisNode`) and remembers what it told them, so re-applying the same
//! topology does not restart replication (no needless full resynchronisation). Speaks in node
//! keys and slot ranges, never in AWS shapes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use super::engines::{ClusterNodeInfo, ClusterShard, ClusterTopology};
use super::{Supervisor, SupervisorError};

/// How long a graceful failover waits for the chosen replica to catch up with the primary's
/// replication offset before promoting it anyway.
const CATCH_UP_ATTEMPTS: usize = 200;
const CATCH_UP_PAUSE: Duration = Duration::from_millis(10);
/// The longest a failover holds the old primary's writes: past the catch-up wait, in case the
/// failover stops before it lifts the hold itself.
const WRITE_HOLD_LIMIT: Duration = Duration::from_secs(5);

/// One shard as the supervisor sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardTopology {
    /// Hash slot ranges (inclusive); empty for cluster mode disabled.
    pub slots: Vec<(u16, u16)>,
    /// Node key of the primary.
    pub primary: String,
    /// Node keys of the replicas.
    pub replicas: Vec<String>,
}

/// What the nodes were told: replica key → primary key it follows; and the nodes crashed by
/// fault injection (with how the cluster bus announced them), which topology changes skip.
#[derive(Debug, Default)]
pub struct TopologyState {
    following: Mutex<HashMap<String, String>>,
    down: Mutex<HashMap<String, Option<ClusterNodeInfo>>>,
}

impl TopologyState {
    /// A copy of who follows whom (replica key → primary key).
    pub fn following_snapshot(&self) -> HashMap<String, String> {
        self.following().clone()
    }

    /// Forgets every replication link (every node has stopped).
    pub(super) fn clear(&self) {
        self.following().clear();
    }

    fn following(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.following.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn down(&self) -> std::sync::MutexGuard<'_, HashMap<String, Option<ClusterNodeInfo>>> {
        self.down.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a crashed node (and its last cluster announcement, for the slot map).
    pub(super) fn mark_down(&self, key: &str, info: Option<ClusterNodeInfo>) {
        self.down().insert(key.to_string(), info);
    }

    /// Forgets a crash: the node runs again.
    pub(super) fn mark_up(&self, key: &str) {
        self.down().remove(key);
    }

    /// Whether the node is crashed.
    pub(super) fn is_down(&self, key: &str) -> bool {
        self.down().contains_key(key)
    }
}

fn not_redis(key: &str) -> SupervisorError {
    SupervisorError::UnknownNode(format!("{key} (not a running Redis/Valkey node)"))
}

impl Supervisor {
    /// Makes `replica` a replica of `primary` (full synchronisation, then the primary's write
    /// stream). Does nothing when it follows `primary` already.
    pub async fn replicate(&self, replica: &str, primary: &str) -> Result<(), SupervisorError> {
        if self.topology.following().get(replica).map(String::as_str) == Some(primary) {
            return Ok(());
        }
        if self.topology.is_down(replica) || self.topology.is_down(primary) {
            // A crashed node is linked when it comes back (fault injection).
            return Ok(());
        }
        let replica_slot = self.slot(replica)?;
        let primary_slot = self.slot(primary)?;
        // Lock order: replica then primary. The control plane never runs two topology changes
        // of one group at once (the group is `modifying`), so no opposite order can interleave.
        let r = replica_slot.lock().await;
        let p = primary_slot.lock().await;
        let (Some(rn), Some(pn)) = (&r.running, &p.running) else {
            return Err(not_redis(replica));
        };
        // The replica reports itself (INFO/ROLE on the primary) and its primary with the
        // endpoints the API reports, not the bound sockets.
        let own = (r.endpoint.address.clone(), r.endpoint.port);
        let primary_endpoint = (p.endpoint.address.clone(), p.endpoint.port);
        if !rn.replicate_from(pn, own, primary_endpoint) {
            return Err(not_redis(replica));
        }
        drop(p);
        drop(r);
        self.topology
            .following()
            .insert(replica.to_string(), primary.to_string());
        tracing::info!(replica, primary, "replica following primary");
        Ok(())
    }

    /// Makes a node a primary (stops following anything).
    pub async fn promote(&self, key: &str) -> Result<(), SupervisorError> {
        let slot = self.slot(key)?;
        let guard = slot.lock().await;
        if !guard.running.as_ref().is_some_and(|n| n.promote()) {
            return Err(not_redis(key));
        }
        drop(guard);
        self.topology.following().remove(key);
        tracing::info!(node = key, "node promoted to primary");
        Ok(())
    }

    /// A node's replication offset (bytes of the write stream it has applied or produced).
    pub async fn replication_offset(&self, key: &str) -> Result<u64, SupervisorError> {
        let slot = self.slot(key)?;
        let guard = slot.lock().await;
        guard
            .running
            .as_ref()
            .and_then(|n| n.replication_offset())
            .ok_or_else(|| not_redis(key))
    }

    /// Forgets what a node was told (it restarted empty, or stopped): the next
    /// [`Supervisor::replicate`] sets it up again.
    pub fn forget_topology(&self, key: &str) {
        self.topology.following().remove(key);
    }

    /// Fails a shard over: promotes `candidate`, or else the replica with the highest
    /// replication offset; the old primary and the other replicas follow the new primary.
    /// When the old primary still runs, it holds its writes while the new one catches up with
    /// its offset, so no write it acknowledged is lost (as redis-server's FAILOVER pauses
    /// writes). Answers the new primary's key.
    pub async fn failover(
        &self,
        primary: &str,
        replicas: &[String],
        candidate: Option<&str>,
    ) -> Result<String, SupervisorError> {
        let chosen = match candidate {
            Some(c) => c.to_string(),
            None => {
                let mut best: Option<(u64, String)> = None;
                for r in replicas {
                    let Ok(off) = self.replication_offset(r).await else {
                        continue;
                    };
                    if best.as_ref().is_none_or(|(b, _)| off > *b) {
                        best = Some((off, r.clone()));
                    }
                }
                best.map(|(_, k)| k).ok_or_else(|| {
                    SupervisorError::UnknownNode(format!("no replica of {primary}"))
                })?
            }
        };
        // The old primary holds its writes from the moment its offset is read until it follows
        // the new one: a write it acknowledged in between would reach no replica.
        let held = self.hold_writes(primary).await;
        if held && let Ok(target) = self.replication_offset(primary).await {
            for _ in 0..CATCH_UP_ATTEMPTS {
                match self.replication_offset(&chosen).await {
                    Ok(off) if off < target => tokio::time::sleep(CATCH_UP_PAUSE).await,
                    _ => break,
                }
            }
        }
        let switched = self.switch_primary(primary, &chosen, replicas).await;
        if held {
            // The writes held meanwhile now reach a replica, which refuses them (READONLY).
            self.resume_writes(primary).await;
        }
        switched?;
        tracing::info!(old = primary, new = %chosen, "shard failed over");
        Ok(chosen)
    }

    /// Promotes `chosen`; the old primary (when it still runs) and the other replicas follow it.
    async fn switch_primary(
        &self,
        primary: &str,
        chosen: &str,
        replicas: &[String],
    ) -> Result<(), SupervisorError> {
        self.promote(chosen).await?;
        if self.slot(primary).is_ok() {
            self.replicate(primary, chosen).await?;
        }
        for r in replicas.iter().filter(|r| *r != chosen) {
            self.replicate(r, chosen).await?;
        }
        Ok(())
    }

    /// Holds a running Redis/Valkey node's writes (see [`ecl_redis::RedisNode::hold_writes`]);
    /// `false` when the node is not running (it crashed, or was never a Redis node).
    async fn hold_writes(&self, key: &str) -> bool {
        if self.topology.is_down(key) {
            return false;
        }
        let Ok(slot) = self.slot(key) else {
            return false;
        };
        let guard = slot.lock().await;
        guard
            .running
            .as_ref()
            .is_some_and(|n| n.hold_writes(WRITE_HOLD_LIMIT))
    }

    /// Lifts [`Supervisor::hold_writes`].
    async fn resume_writes(&self, key: &str) {
        if let Ok(slot) = self.slot(key)
            && let Some(node) = &slot.lock().await.running
        {
            node.resume_writes();
        }
    }

    /// Tells every node of a sharded group the slot map: per shard its ranges, its primary and
    /// replicas, each announced with the endpoint the API reports for it.
    pub async fn set_cluster_topology(
        &self,
        shards: &[ShardTopology],
    ) -> Result<(), SupervisorError> {
        self.push_cluster_topology(shards, &[]).await
    }

    /// [`Supervisor::set_cluster_topology`], telling the nodes in `first` before the others.
    pub(super) async fn push_cluster_topology(
        &self,
        shards: &[ShardTopology],
        first: &[String],
    ) -> Result<(), SupervisorError> {
        let mut described = Vec::with_capacity(shards.len());
        for (i, s) in shards.iter().enumerate() {
            let primary = self.cluster_node_info(&s.primary).await?;
            let mut replicas = Vec::with_capacity(s.replicas.len());
            for r in &s.replicas {
                replicas.push(self.cluster_node_info(r).await?);
            }
            described.push(ClusterShard {
                shard_id: format!("{:040x}", i + 1),
                slots: s.slots.clone(),
                primary,
                replicas,
            });
        }
        let topology = ClusterTopology { shards: described };
        let mut keys: Vec<String> = shards
            .iter()
            .flat_map(|s| std::iter::once(s.primary.clone()).chain(s.replicas.iter().cloned()))
            .collect();
        keys.sort_by_key(|k| !first.contains(k));
        for key in keys.iter().filter(|k| !self.topology.is_down(k)) {
            let slot = self.slot(key)?;
            let guard = slot.lock().await;
            if !guard
                .running
                .as_ref()
                .is_some_and(|n| n.set_cluster_topology(topology.clone()))
            {
                return Err(not_redis(key));
            }
        }
        Ok(())
    }

    async fn cluster_node_info(&self, key: &str) -> Result<ClusterNodeInfo, SupervisorError> {
        if let Some(Some(info)) = self.topology.down().get(key) {
            return Ok(info.clone());
        }
        let slot = self.slot(key)?;
        let guard = slot.lock().await;
        let Some(node_id) = guard.running.as_ref().and_then(|n| n.node_id()) else {
            return Err(not_redis(key));
        };
        Ok(ClusterNodeInfo {
            node_id,
            ip: guard.endpoint.ip.to_string(),
            port: guard.endpoint.port,
            hostname: Some(guard.endpoint.address.clone()),
        })
    }
}
