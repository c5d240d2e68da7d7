//! The node work of an applied service update: BatchApplyUpdateAction restarts every node the
//! action covers in place, one at a time, as ElastiCache applies an update (replicas first,
//! then each shard's primary, after a failover to a replica when the group has automatic
//! failover on, in place otherwise; a Redis/Valkey
//! node keeps its keyspace, a Memcached node comes back empty as on AWS). The action's record
//! counts the nodes done (`NodesUpdated`, node-level statuses) and reads `in-progress` until
//! the last one is back; BatchStopUpdateAction stops the walk before the next node.
//!
//! Place in the flow: `service_updates::batch` records the action under the region lock and
//! asks [`Service::spawn_update_action`] for the work; the restarts go through the same calls
//! as a node type change (`restart_member` for group members, `respec_nodes` for standalone
//! clusters), so the supervisor's `respec_node` does the restart.

use crate::state::{UpdateActionPhase, lock};

use super::Service;
use super::lifecycle::ClusterRef;
use super::replication_lifecycle::GroupRef;

/// Which action a task works for: its region and its key in `Region::update_actions`.
#[derive(Clone, Debug)]
pub struct ActionRef {
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
    /// Service update name.
    pub update: String,
    /// Replication group id or standalone cluster id.
    pub target: String,
    /// Whether the target is a replication group.
    pub is_group: bool,
}

/// One shard's members in restart order: replicas, then the primary (failed over first
/// when it has replicas and the group has automatic failover).
type ShardOrder = (String, Vec<String>, String);

impl Service {
    /// Runs `action`'s node restarts in the background; the record reads `complete` when the
    /// last node is back (and not before its minimum duration), or `stopped` after a stop.
    pub(crate) fn spawn_update_action(&self, action: ActionRef) {
        let svc = self.clone();
        tokio::spawn(async move {
            let outcome = if action.is_group {
                svc.update_group_nodes(&action).await
            } else {
                svc.update_cluster_nodes(&action).await
            };
            if let Err(err) = &outcome {
                tracing::warn!(update = %action.update, target = %action.target, %err, "service update stopped on an error");
            }
            svc.with_action(&action, |a, now_ms| {
                a.running = false;
                a.until_ms = a.until_ms.max(now_ms);
            });
        });
    }

    /// Applies `f` to the action's record (with the clock in Unix milliseconds); `None` when
    /// the record is gone.
    fn with_action<T>(
        &self,
        action: &ActionRef,
        f: impl FnOnce(&mut crate::state::UpdateActionRecord, i64) -> T,
    ) -> Option<T> {
        let now_ms = (self.inner.store.clock().now().unix_timestamp_nanos() / 1_000_000) as i64;
        let region = self.inner.store.region(&action.account, &action.region);
        let mut r = lock(&region);
        let key = (action.update.clone(), action.target.clone());
        r.update_actions.get_mut(&key).map(|a| f(a, now_ms))
    }

    /// Whether the walk goes on: the action is still being applied (not stopped).
    fn keeps_applying(&self, action: &ActionRef) -> bool {
        self.with_action(action, |a, _| a.phase == UpdateActionPhase::Applying)
            .unwrap_or(false)
    }

    /// Whether node `node` (`cluster/node id`) was updated already (by an apply that was then
    /// stopped).
    fn node_is_done(&self, action: &ActionRef, node: &str) -> bool {
        self.with_action(action, |a, _| a.nodes_done.iter().any(|d| d == node))
            .unwrap_or(false)
    }

    /// Records node `node` (`cluster/node id`) as the one being updated now.
    fn node_starts(&self, action: &ActionRef, node: &str) {
        self.with_action(action, |a, now_ms| {
            a.current = Some((node.to_string(), now_ms))
        });
    }

    /// Records node `node` (`cluster/node id`) as updated.
    fn node_updated(&self, action: &ActionRef, node: String) {
        self.with_action(action, |a, now_ms| {
            let start = (a.current.take())
                .filter(|(c, _)| *c == node)
                .map_or(now_ms, |(_, s)| s);
            a.node_times.insert(node.clone(), (start, now_ms));
            if !a.nodes_done.contains(&node) {
                a.nodes_done.push(node);
            }
        });
    }

    /// A replication group: shard by shard, replicas first, then the primary after a failover.
    async fn update_group_nodes(&self, action: &ActionRef) -> Result<(), String> {
        let plan = {
            let region = self.inner.store.region(&action.account, &action.region);
            let r = lock(&region);
            r.replication_groups.get(&action.target).map(|g| {
                let order: Vec<ShardOrder> = g
                    .node_groups
                    .iter()
                    .map(|ng| {
                        (
                            ng.id.clone(),
                            ng.replicas().cloned().collect(),
                            ng.primary.clone(),
                        )
                    })
                    .collect();
                (GroupRef::of(&r, g), order, g.automatic_failover)
            })
        };
        let Some((gref, order, failover)) = plan else {
            return Ok(());
        };
        for (shard, replicas, primary) in order {
            for m in &replicas {
                if !self.keeps_applying(action) {
                    return Ok(());
                }
                if self.node_is_done(action, &format!("{m}/0001")) {
                    continue;
                }
                self.node_starts(action, &format!("{m}/0001"));
                self.restart_member(&gref, m).await?;
                self.node_updated(action, format!("{m}/0001"));
            }
            self.sync_topology(&gref).await?;
            if !self.keeps_applying(action) {
                return Ok(());
            }
            if self.node_is_done(action, &format!("{primary}/0001")) {
                continue;
            }
            self.node_starts(action, &format!("{primary}/0001"));
            // With automatic failover a replica takes over first and the primary endpoint
            // follows it; without it the primary restarts in place (its own short outage).
            if !replicas.is_empty() && failover {
                self.fail_over(&gref, &shard, None).await?;
            }
            self.restart_member(&gref, &primary).await?;
            self.node_updated(action, format!("{primary}/0001"));
            self.sync_topology(&gref).await?;
        }
        Ok(())
    }

    /// A standalone cluster: its nodes one after the other.
    async fn update_cluster_nodes(&self, action: &ActionRef) -> Result<(), String> {
        let plan = {
            let region = self.inner.store.region(&action.account, &action.region);
            let r = lock(&region);
            r.clusters.get(&action.target).map(|c| {
                let ids: Vec<String> = c.nodes.iter().map(|n| n.id.clone()).collect();
                (ClusterRef::of(&r, c), ids)
            })
        };
        let Some((cref, ids)) = plan else {
            return Ok(());
        };
        for id in ids {
            if !self.keeps_applying(action) {
                return Ok(());
            }
            if self.node_is_done(action, &format!("{}/{id}", cref.id)) {
                continue;
            }
            self.node_starts(action, &format!("{}/{id}", cref.id));
            self.respec_nodes(&cref, std::slice::from_ref(&id)).await?;
            self.node_updated(action, format!("{}/{id}", cref.id));
        }
        Ok(())
    }
}
