//! IncreaseReplicaCount, DecreaseReplicaCount, and the two cache cluster operations that change
//! a group's replicas one at a time: CreateCacheCluster with `ReplicationGroupId` (adds a read
//! replica) and DeleteCacheCluster of a member (only a replica of a cluster mode disabled
//! group goes this way; the dispatcher in `handlers/mod.rs` routes members here).
//!
//! Place in the flow, as for the other group operations: under the region lock a plan computes
//! the group as it will be (reading the region only: new members named and placed, or the
//! replicas to remove chosen) and the apply writes it (new member clusters in `creating`,
//! removed ones marked `deleting`, the group `modifying`); then a `replication_lifecycle`
//! task (`spawn_group_grow` / `spawn_group_shrink`) starts or stops the nodes and re-wires
//! replication, the reader endpoint and the cluster slot map.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use crate::control::api::*;
use crate::control::context::RequestContext;
use crate::control::error::ApiError;
use crate::control::validate;
use crate::control::validate::checks::{self, *};
use crate::state::{
    CacheClusterRecord, GroupStatus, Region, ReplicationGroupRecord, ResourceKind, lock,
};

use super::Service;
use super::cluster_render::render_cluster;
use super::common::*;
use super::replication_lifecycle::GroupRef;
use super::replication_render::render_group;

/// Target replica count per node group, from `NewReplicaCount` (every shard) or
/// `ReplicaConfiguration` (per shard, with optional zones).
fn targets(
    r: &Region,
    group_id: &str,
    new_count: Option<i32>,
    config: Option<&Vec<ConfigureShard>>,
) -> Result<BTreeMap<String, (usize, Vec<String>)>, ApiError> {
    let g = r.group(group_id)?;
    let mut out = BTreeMap::new();
    match (new_count, config) {
        (Some(_), Some(c)) if !c.is_empty() => {
            return Err(combination(
                "Only one of NewReplicaCount and ReplicaConfiguration may be specified.",
            ));
        }
        (Some(n), _) => {
            for ng in &g.node_groups {
                out.insert(ng.id.clone(), (n.max(-1) as usize, Vec::new()));
            }
            if !(0..=MAX_REPLICAS).contains(&n) {
                return Err(invalid(format!(
                    "NewReplicaCount must be between 0 and {MAX_REPLICAS}."
                )));
            }
        }
        (None, Some(c)) if !c.is_empty() => {
            for shard in c {
                let id = format!("{:04}", shard.node_group_id.parse::<u32>().unwrap_or(0));
                if !g.node_groups.iter().any(|ng| ng.id == id) {
                    return Err(ApiError::node_group_not_found(format!(
                        "NodeGroup not found: {}",
                        shard.node_group_id
                    )));
                }
                if !(0..=MAX_REPLICAS).contains(&shard.new_replica_count) {
                    return Err(invalid(format!(
                        "NewReplicaCount must be between 0 and {MAX_REPLICAS}."
                    )));
                }
                let zones = shard
                    .preferred_availability_zones
                    .clone()
                    .unwrap_or_default();
                for z in &zones {
                    checks::zone(r, z)?;
                }
                out.insert(id, (shard.new_replica_count as usize, zones));
            }
        }
        _ => {
            return Err(invalid(
                "Either NewReplicaCount or ReplicaConfiguration must be specified.",
            ));
        }
    }
    Ok(out)
}

/// IncreaseReplicaCount's plan: the group as it will be (its shards listing the new members),
/// the new member records and the shards they join. The region is only read.
struct GrowPlan {
    group: ReplicationGroupRecord,
    members: Vec<CacheClusterRecord>,
    shards: Vec<String>,
}

/// Per shard to grow: its index, how many replicas it gains and the zones asked for.
fn grow_counts(
    g: &ReplicationGroupRecord,
    targets: &BTreeMap<String, (usize, Vec<String>)>,
) -> Result<Vec<(usize, usize, Vec<String>)>, ApiError> {
    let mut plan = Vec::new();
    for (si, ng) in g.node_groups.iter().enumerate() {
        let Some((want, zones)) = targets.get(&ng.id) else {
            continue;
        };
        let have = ng.members.len() - 1;
        if *want < have {
            return Err(invalid(format!(
                "The new replica count ({want}) for node group {} must be greater than the current count ({have}).",
                ng.id
            )));
        }
        if !zones.is_empty() && zones.len() != *want + 1 && zones.len() != *want - have {
            return Err(invalid(
                "The number of PreferredAvailabilityZones must match the new replica count.",
            ));
        }
        if *want > have {
            plan.push((si, *want - have, zones.clone()));
        }
    }
    if plan.is_empty() {
        return Err(ApiError::no_operation(
            "The replication group already has the requested number of replicas.",
        ));
    }
    Ok(plan)
}

/// Plan of IncreaseReplicaCount: new members named and placed per shard, quota checked.
fn plan_grow(
    r: &Region,
    input: &IncreaseReplicaCountInput,
    now: OffsetDateTime,
) -> Result<GrowPlan, ApiError> {
    let mut g = r.available_group(&input.replication_group_id)?.clone();
    let targets = targets(
        r,
        &g.id,
        input.new_replica_count,
        input.replica_configuration.as_ref(),
    )?;
    let counts = grow_counts(&g, &targets)?;
    node_quota(r, counts.iter().map(|p| p.1).sum())?;
    let mut members: Vec<CacheClusterRecord> = Vec::new();
    let mut shards = Vec::new();
    for (si, count, zones) in counts {
        for i in 0..count {
            let ng = &g.node_groups[si];
            let mid = g.next_member_id(ng, |x| {
                r.clusters.contains_key(x) || members.iter().any(|m| m.id == x)
            });
            // Zones may list every node (primary first) or only the new ones.
            let zone = if zones.len() > count {
                zones.get(ng.members.len() + i).cloned()
            } else {
                zones.get(i).cloned()
            }
            .unwrap_or_else(|| r.spread_zone(si + ng.members.len()));
            members.push(g.new_member(&mid, &zone, now));
            g.node_groups[si].members.push(mid);
        }
        shards.push(g.node_groups[si].id.clone());
    }
    Ok(GrowPlan {
        group: g,
        members,
        shards,
    })
}

/// Apply of IncreaseReplicaCount: the group begins `modifying` on the grown shards, the new
/// members are recorded (`creating`, with the group's tags) and the group replaced.
fn apply_grow(
    r: &mut Region,
    plan: GrowPlan,
) -> Result<(ReplicationGroupRecord, GroupRef, Vec<String>), ApiError> {
    let GrowPlan {
        group: mut g,
        members,
        shards,
    } = plan;
    g.begin(GroupStatus::Modifying, Some(&shards))?;
    let tags = r.tags_of(ResourceKind::ReplicationGroup, &g.id);
    let added: Vec<String> = members.iter().map(|m| m.id.clone()).collect();
    for rec in members {
        attach_tags(r, ResourceKind::Cluster, &rec.id, &tags);
        r.insert_cluster(rec);
    }
    let gref = GroupRef::of(r, &g);
    r.replication_groups.insert(g.id.clone(), g.clone());
    Ok((g, gref, added))
}

/// IncreaseReplicaCount: plan, apply, then spawn the task starting the new members.
pub fn increase_replica_count(
    svc: &Service,
    ctx: &RequestContext,
    input: IncreaseReplicaCountInput,
) -> Result<IncreaseReplicaCountOutput, ApiError> {
    if !input.apply_immediately {
        return Err(invalid(
            "ApplyImmediately must be true: replica count changes are applied immediately.",
        ));
    }
    let now = svc.inner.store.now();
    let region = svc.region(ctx);
    let (out, gref, added) = {
        let mut r = lock(&region);
        let plan = plan_grow(&r, &input, now)?;
        let (g, gref, added) = apply_grow(&mut r, plan)?;
        (render_group(ctx, &r, &g), gref, added)
    };
    let event = format!(
        "Increased replica count of replication group {}: added {}",
        gref.id,
        added.join(", ")
    );
    svc.spawn_group_grow(gref, event);
    Ok(IncreaseReplicaCountOutput {
        replication_group: Some(out),
    })
}

/// DecreaseReplicaCount's plan: the group as it will be (the removed replicas out of their
/// shards), the removed members and the shards they leave. The region is only read.
struct ShrinkPlan {
    group: ReplicationGroupRecord,
    removed: Vec<String>,
    shards: Vec<String>,
}

/// Plan of DecreaseReplicaCount: named replicas checked, per-shard targets from the counts or
/// from `ReplicasToRemove` alone, removals chosen, snapshotting member moved off a removed one.
fn plan_shrink(r: &Region, input: &DecreaseReplicaCountInput) -> Result<ShrinkPlan, ApiError> {
    let mut g = r.available_group(&input.replication_group_id)?.clone();
    let to_remove: Vec<String> = input
        .replicas_to_remove
        .clone()
        .unwrap_or_default()
        .iter()
        .map(|m| m.trim().to_ascii_lowercase())
        .collect();
    for m in &to_remove {
        let Some(ng) = g.group_of(m) else {
            return Err(invalid(format!(
                "Cache cluster {m} is not a member of replication group {}.",
                g.id
            )));
        };
        if ng.primary == *m {
            return Err(invalid(format!(
                "Cache cluster {m} is the primary of node group {}; only replicas can be removed.",
                ng.id
            )));
        }
    }
    let targets = if input.new_replica_count.is_none()
        && input
            .replica_configuration
            .as_ref()
            .is_none_or(|c| c.is_empty())
        && !to_remove.is_empty()
    {
        // Only ReplicasToRemove: each shard loses the named replicas.
        g.node_groups
            .iter()
            .map(|ng| {
                let gone = ng.members.iter().filter(|m| to_remove.contains(m)).count();
                (ng.id.clone(), (ng.members.len() - 1 - gone, Vec::new()))
            })
            .collect()
    } else {
        targets(
            r,
            &g.id,
            input.new_replica_count,
            input.replica_configuration.as_ref(),
        )?
    };
    let (removed, shards) = plan_removals(&mut g, &targets, &to_remove)?;
    if removed.is_empty() {
        return Err(ApiError::no_operation(
            "The replication group already has the requested number of replicas.",
        ));
    }
    if g.snapshotting_cluster_id
        .as_ref()
        .is_some_and(|s| removed.contains(s))
    {
        g.snapshotting_cluster_id = g.node_groups.first().map(|ng| ng.primary.clone());
    }
    Ok(ShrinkPlan {
        group: g,
        removed,
        shards,
    })
}

/// Apply of DecreaseReplicaCount: removed members go `deleting`, the group begins
/// `modifying` on the shards they leave and is replaced.
fn apply_shrink(
    r: &mut Region,
    plan: ShrinkPlan,
) -> Result<(ReplicationGroupRecord, GroupRef, Vec<String>), ApiError> {
    let ShrinkPlan {
        group: mut g,
        removed,
        shards,
    } = plan;
    g.begin(GroupStatus::Modifying, Some(&shards))?;
    mark_deleting(r, &removed);
    let gref = GroupRef::of(r, &g);
    r.replication_groups.insert(g.id.clone(), g.clone());
    Ok((g, gref, removed))
}

/// DecreaseReplicaCount: plan, apply, then spawn the task stopping the removed members.
pub fn decrease_replica_count(
    svc: &Service,
    ctx: &RequestContext,
    input: DecreaseReplicaCountInput,
) -> Result<DecreaseReplicaCountOutput, ApiError> {
    if !input.apply_immediately {
        return Err(invalid(
            "ApplyImmediately must be true: replica count changes are applied immediately.",
        ));
    }
    let region = svc.region(ctx);
    let (out, gref, removed) = {
        let mut r = lock(&region);
        let plan = plan_shrink(&r, &input)?;
        let (g, gref, removed) = apply_shrink(&mut r, plan)?;
        (render_group(ctx, &r, &g), gref, removed)
    };
    let event = format!(
        "Decreased replica count of replication group {}: removed {}",
        gref.id,
        removed.join(", ")
    );
    svc.spawn_group_shrink(gref, removed, event);
    Ok(DecreaseReplicaCountOutput {
        replication_group: Some(out),
    })
}

/// Plan of DecreaseReplicaCount's removals: per shard, the named replicas or the highest
/// numbered ones, checked against the targets and the failover minimum; takes them out of
/// `g`'s shards and returns them with the shards they left.
fn plan_removals(
    g: &mut ReplicationGroupRecord,
    targets: &BTreeMap<String, (usize, Vec<String>)>,
    to_remove: &[String],
) -> Result<(Vec<String>, Vec<String>), ApiError> {
    let min = usize::from(!g.cluster_enabled && (g.multi_az || g.automatic_failover));
    let mut removed = Vec::new();
    let mut shards = Vec::new();
    for ng in &mut g.node_groups {
        let Some((want, _)) = targets.get(&ng.id) else {
            continue;
        };
        let have = ng.members.len() - 1;
        if *want > have {
            return Err(invalid(format!(
                "The new replica count ({want}) for node group {} must be less than the current count ({have}).",
                ng.id
            )));
        }
        if *want < min {
            return Err(invalid(format!(
                "A replication group with automatic failover or Multi-AZ enabled needs at least {min} replica."
            )));
        }
        let named: Vec<String> = ng
            .members
            .iter()
            .filter(|m| to_remove.contains(m))
            .cloned()
            .collect();
        let count = have - want;
        if !named.is_empty() && named.len() != count {
            return Err(invalid(format!(
                "ReplicasToRemove names {} replicas of node group {} but the count decreases by {count}.",
                named.len(),
                ng.id
            )));
        }
        let victims: Vec<String> = if named.is_empty() {
            let mut replicas: Vec<String> = ng.replicas().cloned().collect();
            replicas.sort();
            replicas.into_iter().rev().take(count).collect()
        } else {
            named
        };
        if !victims.is_empty() {
            ng.members.retain(|m| !victims.contains(m));
            shards.push(ng.id.clone());
            removed.extend(victims);
        }
    }
    Ok((removed, shards))
}

fn mark_deleting(r: &mut Region, members: &[String]) {
    for m in members {
        if let Some(c) = r.clusters.get_mut(m) {
            c.retire();
        }
    }
}

/// CreateCacheCluster with `ReplicationGroupId`: a read replica joins the (cluster mode
/// disabled) group, inheriting its engine, version, node type, port and groups.
pub fn add_replica_cluster(
    svc: &Service,
    ctx: &RequestContext,
    input: CreateCacheClusterInput,
) -> Result<CreateCacheClusterOutput, ApiError> {
    let id = validate::cluster_id(&input.cache_cluster_id).map_err(invalid)?;
    let rg = input.replication_group_id.clone().unwrap_or_default();
    let tags = tags_from_request(input.tags.clone())?;
    check_tag_quota(&tags)?;
    let now = svc.inner.store.now();
    let region = svc.region(ctx);
    let (record, gref) = {
        let mut r = lock(&region);
        let g = r.available_group(&rg)?;
        if g.cluster_enabled {
            return Err(invalid(
                "Replicas can only be added with CreateCacheCluster to a cluster mode disabled replication group.",
            ));
        }
        cluster_id_free(&r, &id)?;
        let ng = &g.node_groups[0];
        if ng.members.len() > MAX_REPLICAS as usize {
            return Err(ApiError::node_quota_for_cluster_exceeded(format!(
                "Replication group {} already has {MAX_REPLICAS} replicas.",
                g.id
            )));
        }
        node_quota(&r, 1)?;
        let zone = match &input.preferred_availability_zone {
            Some(z) => checks::zone(&r, z)?,
            None => r.spread_zone(ng.members.len()),
        };
        let mut g = g.clone();
        let rec: CacheClusterRecord = g.new_member(&id, &zone, now);
        let mut all_tags = r.tags_of(ResourceKind::ReplicationGroup, &g.id);
        for t in tags {
            match all_tags.iter_mut().find(|x| x.key == t.key) {
                Some(x) => x.value = t.value,
                None => all_tags.push(t),
            }
        }
        attach_tags(&mut r, ResourceKind::Cluster, &id, &all_tags);
        r.insert_cluster(rec.clone());
        g.node_groups[0].members.push(id.clone());
        g.begin(GroupStatus::Modifying, None)?;
        let gref = GroupRef::of(&r, &g);
        r.replication_groups.insert(g.id.clone(), g);
        (rec, gref)
    };
    let event = format!("Added read replica {id} to replication group {}", gref.id);
    svc.spawn_group_grow(gref, event);
    Ok(CreateCacheClusterOutput {
        cache_cluster: Some(render_cluster(ctx, &record, false)),
    })
}

/// DeleteCacheCluster of a replication group member: only a replica of a cluster mode
/// disabled group may go this way (AWS's rules and messages).
pub fn delete_member_cluster(
    svc: &Service,
    ctx: &RequestContext,
    id: &str,
) -> Result<DeleteCacheClusterOutput, ApiError> {
    let id = id.trim().to_ascii_lowercase();
    let id = id.as_str();
    let region = svc.region(ctx);
    let (record, gref) = {
        let mut r = lock(&region);
        let c = r.cluster(id)?;
        let rg = c.replication_group_id.clone().unwrap_or_default();
        let mut g = r.group(&rg)?.clone();
        if g.cluster_enabled {
            return Err(ApiError::invalid_cache_cluster_state(format!(
                "Cache cluster {id} is a member of cluster mode enabled replication group {rg}; use DecreaseReplicaCount or ModifyReplicationGroupShardConfiguration."
            )));
        }
        let ng = &g.node_groups[0];
        if ng.members.len() == 1 {
            return Err(ApiError::invalid_cache_cluster_state(format!(
                "Cannot delete the cache cluster because it is the only member of a replication group {rg}."
            )));
        }
        if ng.primary == id {
            return Err(ApiError::invalid_cache_cluster_state(format!(
                "Cannot delete the cache cluster because it is serving as primary for replication group {rg}."
            )));
        }
        if !c.is_available() || !g.is_available() {
            return Err(ApiError::invalid_cache_cluster_state(format!(
                "Cache cluster {id} is not in available state (current state: {}).",
                c.status.as_str()
            )));
        }
        if (g.multi_az || g.automatic_failover) && ng.members.len() <= 2 {
            return Err(ApiError::invalid_cache_cluster_state(format!(
                "Cannot delete the cache cluster {id}: replication group {rg} has automatic failover or Multi-AZ enabled and needs at least one replica."
            )));
        }
        g.node_groups[0].members.retain(|m| m != id);
        if g.snapshotting_cluster_id.as_deref() == Some(id) {
            g.snapshotting_cluster_id = Some(g.node_groups[0].primary.clone());
        }
        g.begin(GroupStatus::Modifying, None)?;
        mark_deleting(&mut r, &[id.to_string()]);
        let gref = GroupRef::of(&r, &g);
        r.replication_groups.insert(g.id.clone(), g);
        let record = r.clusters.get(id).cloned();
        (record, gref)
    };
    let event = format!(
        "Removed read replica {id} from replication group {}",
        gref.id
    );
    svc.spawn_group_shrink(gref, vec![id.to_string()], event);
    Ok(DeleteCacheClusterOutput {
        cache_cluster: record.map(|c| render_cluster(ctx, &c, false)),
    })
}
