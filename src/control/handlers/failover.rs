//! Failover: TestFailover, the primary switch of ModifyReplicationGroup
//! (`PrimaryClusterId`), and RebootCacheCluster of a replication group member (a primary with
//! automatic failover fails over first, as ElastiCache does).
//!
//! Place in the flow: TestFailover plans (checks the request, reading the region only) and
//! applies (marks the group `modifying`) under the region lock, like the other group
//! operations; a task asks the supervisor to promote the best replica (highest
//! replication offset, caught up with the old primary), records the new primary, and
//! re-applies the topology (endpoints retargeted, CLUSTER slot map updated).

use time::OffsetDateTime;

use crate::control::api::*;
use crate::control::context::RequestContext;
use crate::control::error::ApiError;
use crate::state::{
    ClusterStatus, GroupStatus, NodeStatus, ParameterStatus, Region, ReplicationGroupRecord,
    SourceType, lock,
};

use super::Service;
use super::cluster_render::render_cluster;
use super::replication_lifecycle::GroupRef;
use super::replication_render::render_group;

/// Plan of TestFailover: the group and the shard to fail over (its id normalised to `0001`
/// form), checked as AWS does: the shard exists, automatic failover is on, it has a replica.
/// The region is only read.
fn plan_test_failover(r: &Region, input: &TestFailoverInput) -> Result<(String, String), ApiError> {
    let g = r.available_group(&input.replication_group_id)?;
    let not_found =
        || ApiError::node_group_not_found(format!("NodeGroup not found: {}", input.node_group_id));
    let shard_id = format!(
        "{:04}",
        input
            .node_group_id
            .trim()
            .parse::<u32>()
            .map_err(|_| not_found())?
    );
    let Some(ng) = g.node_groups.iter().find(|ng| ng.id == shard_id) else {
        return Err(not_found());
    };
    if !g.automatic_failover {
        return Err(ApiError::invalid_replication_group_state(format!(
            "Replication group {} does not have automatic failover enabled.",
            g.id
        )));
    }
    if ng.members.len() < 2 {
        return Err(ApiError::invalid_replication_group_state(format!(
            "Node group {shard_id} of replication group {} has no replica to fail over to.",
            g.id
        )));
    }
    Ok((g.id.clone(), shard_id))
}

/// Apply of TestFailover: the group begins `modifying` on the shard, with AWS's event.
fn apply_test_failover(
    r: &mut Region,
    group_id: &str,
    shard_id: &str,
    now: OffsetDateTime,
) -> Result<(ReplicationGroupRecord, GroupRef), ApiError> {
    let g = r.group_mut(group_id)?;
    g.begin(GroupStatus::Modifying, Some(&[shard_id.to_string()]))?;
    let g = g.clone();
    r.event(
        SourceType::ReplicationGroup,
        group_id,
        format!("Test Failover API called for node group {shard_id}"),
        now,
    );
    let gref = GroupRef::of(r, &g);
    Ok((g, gref))
}

/// TestFailover: plan, apply, then spawn the task promoting a replica of the shard.
pub fn test_failover(
    svc: &Service,
    ctx: &RequestContext,
    input: TestFailoverInput,
) -> Result<TestFailoverOutput, ApiError> {
    let now = svc.inner.store.now();
    let region = svc.region(ctx);
    let (out, gref, shard) = {
        let mut r = lock(&region);
        let (group_id, shard) = plan_test_failover(&r, &input)?;
        let (g, gref) = apply_test_failover(&mut r, &group_id, &shard, now)?;
        (render_group(ctx, &r, &g), gref, shard)
    };
    svc.spawn_test_failover(gref, shard);
    Ok(TestFailoverOutput {
        replication_group: Some(out),
    })
}

impl Service {
    /// TestFailover's engine work: fail the shard over, then end the group's `modifying`.
    fn spawn_test_failover(&self, gref: GroupRef, shard: String) {
        let svc = self.clone();
        tokio::spawn(async move {
            let result = svc.fail_over(&gref, &shard, None).await;
            svc.finish_group(&gref, result, false, None);
        });
    }

    /// Fails shard `shard` over (to `candidate`, or the best replica), records the new primary,
    /// re-applies the topology, and logs AWS's failover event.
    pub(crate) async fn fail_over(
        &self,
        gref: &GroupRef,
        shard: &str,
        candidate: Option<String>,
    ) -> Result<(), String> {
        let roles = self
            .with_group(gref, |r| {
                let g = r.replication_groups.get(&gref.id)?;
                let ng = g.node_groups.iter().find(|ng| ng.id == shard)?;
                Some((
                    ng.primary.clone(),
                    ng.replicas().cloned().collect::<Vec<_>>(),
                ))
            })
            .flatten();
        let Some((primary, replicas)) = roles else {
            return Ok(());
        };
        let keys: Vec<String> = replicas.iter().map(|m| gref.node_key(m)).collect();
        let new_key = self
            .inner
            .supervisor
            .failover(
                &gref.node_key(&primary),
                &keys,
                candidate.as_deref().map(|c| gref.node_key(c)).as_deref(),
            )
            .await
            .map_err(|e| format!("Failover of node group {shard} failed: {e}"))?;
        let Some(new_primary) = replicas
            .iter()
            .find(|m| gref.node_key(m) == new_key)
            .cloned()
        else {
            return Err(format!(
                "Failover of node group {shard} chose an unknown node"
            ));
        };
        let now = self.inner.store.now();
        self.with_group(gref, |r| {
            if let Some(g) = r.replication_groups.get_mut(&gref.id) {
                if let Some(ng) = g.node_groups.iter_mut().find(|ng| ng.id == shard) {
                    ng.primary = new_primary.clone();
                }
                g.pending_primary = None;
            }
            r.event(
                SourceType::ReplicationGroup,
                &gref.id,
                format!(
                    "Failover from primary node {primary} to replica node {new_primary} completed"
                ),
                now,
            );
        });
        self.sync_topology(gref).await
    }
}

/// RebootCacheCluster of a replication group member. A primary with automatic failover on
/// fails over to a replica first; the rebooted node comes back empty and re-synchronises from
/// its shard's primary.
pub fn reboot_member_cluster(
    svc: &Service,
    ctx: &RequestContext,
    id: &str,
    node_ids: &[String],
) -> Result<RebootCacheClusterOutput, ApiError> {
    let region = svc.region(ctx);
    let (record, gref, shard, fail_over) = {
        let mut r = lock(&region);
        let c = r.cluster(id)?;
        for n in node_ids {
            if !c.nodes.iter().any(|x| &x.id == n) {
                return Err(ApiError::invalid_parameter_value(format!(
                    "Cache node {n} not found in cluster {id}."
                )));
            }
        }
        c.check(ClusterStatus::Rebooting)?;
        let rg = c.replication_group_id.clone().unwrap_or_default();
        let g = r.group(&rg)?;
        if g.cluster_enabled {
            return Err(ApiError::invalid_cache_cluster_state(format!(
                "RebootCacheCluster is not supported for members of cluster mode enabled replication group {rg}."
            )));
        }
        g.check(GroupStatus::Modifying)?;
        let ng = g.node_groups[0].clone();
        let fail_over = ng.primary == id && g.automatic_failover && ng.members.len() > 1;
        let g = r.group_mut(&rg)?;
        g.begin(GroupStatus::Modifying, Some(&[]))?;
        let g = g.clone();
        let gref = GroupRef::of(&r, &g);
        let c = r.cluster_mut(id)?;
        c.begin(ClusterStatus::Rebooting)?;
        for n in &mut c.nodes {
            n.begin(NodeStatus::Rebooting);
        }
        (c.clone(), gref, ng.id, fail_over)
    };
    let svc2 = svc.clone();
    let member = id.to_string();
    tokio::spawn(async move {
        let mut result = Ok(());
        if fail_over {
            result = svc2.fail_over(&gref, &shard, None).await;
        }
        if result.is_ok() {
            let key = gref.node_key(&member);
            svc2.inner.supervisor.forget_topology(&key);
            result = svc2
                .inner
                .supervisor
                .reboot_node(&key)
                .await
                .map(|_| ())
                .map_err(|e| format!("Failed to restart cache node 0001: {e}"));
        }
        if result.is_ok() {
            result = svc2.sync_topology(&gref).await;
        }
        let now = svc2.inner.store.now();
        svc2.with_group(&gref, |r| {
            if let Some(c) = r.clusters.get_mut(&member) {
                c.complete(ClusterStatus::Available);
                for n in &mut c.nodes {
                    n.complete(NodeStatus::Available);
                }
                c.set_parameter_status(ParameterStatus::InSync);
            }
            r.event(
                SourceType::CacheCluster,
                &member,
                "Cache node 0001 restarted",
                now,
            );
        });
        svc2.finish_group(&gref, result, false, None);
    });
    Ok(RebootCacheClusterOutput {
        cache_cluster: Some(render_cluster(ctx, &record, false)),
    })
}
