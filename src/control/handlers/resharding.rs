//! ModifyReplicationGroupShardConfiguration: online resharding of a cluster mode enabled
//! replication group — scale out (new node groups), scale in (NodeGroupsToRemove /
//! NodeGroupsToRetain) and rebalance (same count), with the slots moving with their keys while
//! clients keep working.
//!
//! Place in the flow: under the region lock the request is checked and planned (new node groups
//! and members named and placed, the slot moves computed so every shard ends with an even
//! share) and the records switched (group `modifying`, new members `creating`, new node groups
//! without slots yet). A background task then starts the new members and wires them
//! (`sync_topology`), and for each move asks the supervisor to mark the slots moving, move
//! their keys and switch the slot map, recording the new owners after each move and the
//! progress in `PendingModifiedValues.Resharding`; removed node groups' members stop last.

use time::OffsetDateTime;

use crate::control::api::*;
use crate::control::context::RequestContext;
use crate::control::error::ApiError;
use crate::control::validate::checks::{self, *};
use crate::state::{
    CacheClusterRecord, GroupStatus, NodeGroupRecord, Region, ReplicationGroupRecord, ResourceKind,
    SourceType, lock,
};
use crate::supervisor::{ShardTopology, SlotMovePlan};

use super::Service;
use super::common::*;
use super::replication_lifecycle::GroupRef;
use super::replication_render::render_group;

/// Hard limit of node groups in one cluster mode enabled group (ElastiCache's 500 shards).
pub const MAX_SHARDS: i32 = 500;

/// Slots one node group hands to another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardMove {
    /// Giving node group id.
    pub from: String,
    /// Receiving node group id.
    pub to: String,
    /// Inclusive ranges.
    pub slots: Vec<(u16, u16)>,
}

fn expand(ranges: &[(u16, u16)]) -> Vec<u16> {
    let mut v: Vec<u16> = ranges.iter().flat_map(|&(a, b)| a..=b).collect();
    v.sort_unstable();
    v
}

/// Sorted slots as inclusive ranges.
pub fn compress(slots: &[u16]) -> Vec<(u16, u16)> {
    let mut out: Vec<(u16, u16)> = Vec::new();
    for &s in slots {
        match out.last_mut() {
            Some((_, b)) if s > 0 && *b == s - 1 => *b = s,
            _ => out.push((s, s)),
        }
    }
    out
}

/// The moves that leave the `result` node groups (in order) with an even share of the 16384
/// slots: `floor(16384/n)` each, one more for the `16384 mod n` groups holding the most now.
/// Groups over their share (and groups not in `result`) give their highest slots; groups
/// under it take them in order, so each keeps the slots it has as far as possible.
pub fn plan_slot_moves(current: &[(String, Vec<(u16, u16)>)], result: &[String]) -> Vec<ShardMove> {
    let n = result.len().max(1);
    let owned = |id: &str| -> Vec<u16> {
        current
            .iter()
            .find(|(g, _)| g == id)
            .map(|(_, r)| expand(r))
            .unwrap_or_default()
    };
    let counts: Vec<usize> = result.iter().map(|id| owned(id).len()).collect();
    let mut order: Vec<usize> = (0..result.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(counts[i]));
    let mut target = vec![16384 / n; result.len()];
    for &i in order.iter().take(16384 % n) {
        target[i] += 1;
    }
    let mut pool: Vec<(u16, &str)> = Vec::new();
    for (id, ranges) in current {
        let keep = result.iter().position(|r| r == id).map_or(0, |i| target[i]);
        let slots = expand(ranges);
        if slots.len() > keep {
            pool.extend(slots[keep..].iter().map(|&s| (s, id.as_str())));
        }
    }
    let mut moves: Vec<(String, String, Vec<u16>)> = Vec::new();
    let mut next = pool.into_iter();
    for (i, id) in result.iter().enumerate() {
        for _ in counts[i]..target[i] {
            let Some((slot, from)) = next.next() else {
                break;
            };
            match moves.iter_mut().find(|(f, t, _)| f == from && t == id) {
                Some((_, _, v)) => v.push(slot),
                None => moves.push((from.to_string(), id.clone(), vec![slot])),
            }
        }
    }
    moves
        .into_iter()
        .map(|(from, to, mut slots)| {
            slots.sort_unstable();
            ShardMove {
                from,
                to,
                slots: compress(&slots),
            }
        })
        .collect()
}

/// Whether the node groups' slot counts differ by at most one (nothing to rebalance).
fn uniform(g: &ReplicationGroupRecord) -> bool {
    let counts: Vec<usize> = g
        .node_groups
        .iter()
        .map(|ng| expand(&ng.slots).len())
        .collect();
    let (min, max) = (counts.iter().min(), counts.iter().max());
    matches!((min, max), (Some(a), Some(b)) if b - a <= 1)
}

fn group_ids(list: &Option<Vec<String>>) -> Result<Vec<String>, ApiError> {
    list.iter()
        .flatten()
        .map(|id| {
            let id = id.trim();
            if id.is_empty() || id.len() > 4 || !id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid(format!(
                    "Invalid node group id: {id}. It must be 1 to 4 digits."
                )));
            }
            Ok(format!("{:04}", id.parse::<u32>().unwrap_or(0)))
        })
        .collect()
}

/// The node groups that remain after a scale in (AWS's rules for the two lists).
fn survivors(
    g: &ReplicationGroupRecord,
    input: &ModifyReplicationGroupShardConfigurationInput,
    count: usize,
) -> Result<Vec<String>, ApiError> {
    let remove = group_ids(&input.node_groups_to_remove)?;
    let retain = group_ids(&input.node_groups_to_retain)?;
    let unknown = remove
        .iter()
        .chain(&retain)
        .find(|id| !g.node_groups.iter().any(|ng| ng.id == **id));
    if let Some(id) = unknown {
        return Err(invalid(format!(
            "Node group {id} is not a node group of replication group {}.",
            g.id
        )));
    }
    let kept: Vec<String> = match (remove.is_empty(), retain.is_empty()) {
        (false, false) => {
            return Err(combination(
                "Only one of NodeGroupsToRemove and NodeGroupsToRetain may be specified.",
            ));
        }
        (true, true) => {
            return Err(invalid(
                "NodeGroupsToRemove or NodeGroupsToRetain is required when NodeGroupCount is less than the current number of node groups.",
            ));
        }
        (false, true) => g
            .node_groups
            .iter()
            .map(|ng| ng.id.clone())
            .filter(|id| !remove.contains(id))
            .collect(),
        (true, false) => g
            .node_groups
            .iter()
            .map(|ng| ng.id.clone())
            .filter(|id| retain.contains(id))
            .collect(),
    };
    if kept.len() != count {
        return Err(invalid(format!(
            "NodeGroupCount ({count}) does not match the node groups that would remain ({}).",
            kept.len()
        )));
    }
    Ok(kept)
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::invalid_parameter_value(message)
}

/// New node groups of a scale out: ids continuing the numbering (or the ones the
/// ReshardingConfiguration names) and their members' zones (primary first).
fn new_groups(
    r: &Region,
    g: &ReplicationGroupRecord,
    input: &ModifyReplicationGroupShardConfigurationInput,
    count: usize,
    nodes: usize,
) -> Result<Vec<(String, Vec<String>)>, ApiError> {
    let have = g.node_groups.len();
    let config = input.resharding_configuration.clone().unwrap_or_default();
    if !config.is_empty() && config.len() != count && config.len() != count - have {
        return Err(invalid(format!(
            "ReshardingConfiguration must list {count} node groups (or the {} new ones).",
            count - have
        )));
    }
    let mut free = g
        .node_groups
        .iter()
        .filter_map(|ng| ng.id.parse::<u32>().ok())
        .max()
        .unwrap_or(0);
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    // Entries naming an existing node group are about it; when every resulting node group is
    // listed, unnamed entries go in order (existing node groups first).
    let listed_all = config.len() == count;
    let fresh = config
        .iter()
        .enumerate()
        .filter(|(i, c)| match &c.node_group_id {
            Some(id) => !g.node_groups.iter().any(|ng| ng.id == format!("{id:0>4}")),
            None => !listed_all || *i >= have,
        });
    let mut fresh: Vec<&ReshardingConfiguration> = fresh.map(|(_, c)| c).collect();
    fresh.truncate(count - have);
    for i in 0..count - have {
        let c = fresh.get(i);
        let id = match c.and_then(|c| c.node_group_id.clone()) {
            Some(id) => group_ids(&Some(vec![id]))?.remove(0),
            None => loop {
                free += 1;
                let id = format!("{free:04}");
                if !out.iter().any(|(o, _)| *o == id) {
                    break id;
                }
            },
        };
        if out.iter().any(|(o, _)| *o == id) {
            return Err(invalid(format!("Node group id {id} is given twice.")));
        }
        let zones = c
            .and_then(|c| c.preferred_availability_zones.clone())
            .unwrap_or_default();
        if !zones.is_empty() && zones.len() != nodes {
            return Err(invalid(format!(
                "PreferredAvailabilityZones of node group {id} must list {nodes} zones, one per node."
            )));
        }
        let mut placed = Vec::with_capacity(nodes);
        for k in 0..nodes {
            placed.push(match zones.get(k) {
                Some(z) => checks::zone(r, z)?,
                None => r.spread_zone(have + i + k),
            });
        }
        out.push((id, placed));
    }
    Ok(out)
}

/// The planned resharding: the group as it is during the operation (new node groups listed
/// without slots), the new members, the moves, and the node groups removed at the end.
pub(crate) struct ReshardPlan {
    group: ReplicationGroupRecord,
    members: Vec<CacheClusterRecord>,
    moves: Vec<ShardMove>,
    removed: Vec<String>,
    event: String,
}

/// The group to reshard: it exists, has cluster mode enabled and is `available`.
fn reshardable<'r>(
    r: &'r Region,
    input: &ModifyReplicationGroupShardConfigurationInput,
) -> Result<&'r ReplicationGroupRecord, ApiError> {
    let g = r.group(&input.replication_group_id)?;
    if !g.cluster_enabled {
        return Err(invalid(format!(
            "Replication group {} does not have cluster mode enabled; online resharding needs a cluster mode enabled replication group.",
            g.id
        )));
    }
    Ok(r.available_group(&g.id)?)
}

/// The node groups after the operation, and the new ones with their zones.
type Shape = (Vec<String>, Vec<(String, Vec<String>)>);

/// Scale out, scale in or rebalance: AWS's rules for which parameters go with which.
fn shape(
    r: &Region,
    g: &ReplicationGroupRecord,
    input: &ModifyReplicationGroupShardConfigurationInput,
) -> Result<Shape, ApiError> {
    let count = input.node_group_count as usize;
    let have = g.node_groups.len();
    let lists = input
        .node_groups_to_remove
        .as_ref()
        .is_some_and(|l| !l.is_empty())
        || input
            .node_groups_to_retain
            .as_ref()
            .is_some_and(|l| !l.is_empty());
    let config = input
        .resharding_configuration
        .as_ref()
        .is_some_and(|c| !c.is_empty());
    let ids: Vec<String> = g.node_groups.iter().map(|ng| ng.id.clone()).collect();
    if count > have {
        if lists {
            return Err(combination(
                "NodeGroupsToRemove and NodeGroupsToRetain can only be used when NodeGroupCount is less than the current number of node groups.",
            ));
        }
        let nodes = g
            .node_groups
            .iter()
            .map(|ng| ng.members.len())
            .min()
            .unwrap_or(1);
        let added = (count - have) * nodes;
        let total = g.member_ids().len() + added;
        if total > MAX_CME_NODES as usize {
            return Err(ApiError::node_groups_per_replication_group_quota_exceeded(
                format!(
                    "The replication group would have {total} nodes; the maximum is {MAX_CME_NODES}."
                ),
            ));
        }
        node_quota(r, added)?;
        cluster_quota(r, added)?;
        let new = new_groups(r, g, input, count, nodes)?;
        let result = ids.into_iter().chain(new.iter().map(|(id, _)| id.clone()));
        return Ok((result.collect(), new));
    }
    if count < have {
        if config {
            return Err(combination(
                "ReshardingConfiguration can only be used when NodeGroupCount is greater than the current number of node groups.",
            ));
        }
        return Ok((survivors(g, input, count)?, Vec::new()));
    }
    if lists || config {
        return Err(combination(
            "NodeGroupCount equals the current number of node groups: only a rebalance is possible, without NodeGroupsToRemove, NodeGroupsToRetain or ReshardingConfiguration.",
        ));
    }
    if uniform(g) {
        return Err(ApiError::invalid_replication_group_state(format!(
            "The slots of replication group {} are already uniformly distributed among its node groups.",
            g.id
        )));
    }
    Ok((ids, Vec::new()))
}

/// Plan of ModifyReplicationGroupShardConfiguration under the region lock (region read only;
/// global datastore resharding runs it as a dry run for every member first).
pub(crate) fn plan_reshard(
    r: &Region,
    input: &ModifyReplicationGroupShardConfigurationInput,
    now: OffsetDateTime,
) -> Result<ReshardPlan, ApiError> {
    if !input.apply_immediately {
        return Err(invalid(
            "ApplyImmediately must be true: shard configuration changes are applied immediately.",
        ));
    }
    if input.node_group_count < 1 {
        return Err(invalid("NodeGroupCount must be at least 1."));
    }
    if input.node_group_count > MAX_SHARDS {
        return Err(ApiError::node_groups_per_replication_group_quota_exceeded(
            format!(
                "NodeGroupCount ({}) exceeds the maximum of {MAX_SHARDS} node groups per replication group.",
                input.node_group_count
            ),
        ));
    }
    let g = reshardable(r, input)?;
    let (result, new) = shape(r, g, input)?;
    let current: Vec<(String, Vec<(u16, u16)>)> = g
        .node_groups
        .iter()
        .map(|ng| (ng.id.clone(), ng.slots.clone()))
        .collect();
    let moves = plan_slot_moves(&current, &result);
    let removed: Vec<String> = current
        .iter()
        .map(|(id, _)| id.clone())
        .filter(|id| !result.contains(id))
        .collect();
    let event = format!(
        "Completed online resharding of replication group {}: {} node groups, {} slot ranges moved",
        g.id,
        result.len(),
        moves.iter().map(|m| m.slots.len()).sum::<usize>()
    );
    let mut g = g.clone();
    g.begin(GroupStatus::Modifying, None)?;
    let mut members = Vec::new();
    for (id, zones) in new {
        let mut ng = NodeGroupRecord {
            id,
            slots: Vec::new(),
            members: Vec::new(),
            primary: String::new(),
            status: GroupStatus::Creating,
        };
        for zone in &zones {
            let mid = g.next_member_id(&ng, |x| r.clusters.contains_key(x));
            members.push(g.new_member(&mid, zone, now));
            ng.members.push(mid);
        }
        ng.primary = ng.members.first().cloned().unwrap_or_default();
        g.node_groups.push(ng);
    }
    g.resharding_progress = Some(0.0);
    Ok(ReshardPlan {
        group: g,
        members,
        moves,
        removed,
        event,
    })
}

/// ModifyReplicationGroupShardConfiguration as clients call it: a global datastore member's
/// shards belong to the datastore (Increase/DecreaseNodeGroupsInGlobalReplicationGroup, which
/// reshard every member alike), so AWS rejects resharding one member, with the answer it gives
/// to ModifyReplicationGroup on a member.
pub fn modify_shard_configuration_of_group(
    svc: &Service,
    ctx: &RequestContext,
    input: ModifyReplicationGroupShardConfigurationInput,
) -> Result<ModifyReplicationGroupShardConfigurationOutput, ApiError> {
    super::replication_modify::refuse_global_member(svc, ctx, &input.replication_group_id)?;
    modify_replication_group_shard_configuration(svc, ctx, input)
}

/// ModifyReplicationGroupShardConfiguration without the datastore check (the global datastore
/// operations reshard each member through here): plan and record under the lock, then spawn
/// the resharding task.
pub fn modify_replication_group_shard_configuration(
    svc: &Service,
    ctx: &RequestContext,
    input: ModifyReplicationGroupShardConfigurationInput,
) -> Result<ModifyReplicationGroupShardConfigurationOutput, ApiError> {
    let now = svc.inner.store.now();
    let region = svc.region(ctx);
    let (out, gref, work) = {
        let mut r = lock(&region);
        let plan = plan_reshard(&r, &input, now)?;
        let tags = r.tags_of(ResourceKind::ReplicationGroup, &plan.group.id);
        let added: Vec<String> = plan.members.iter().map(|m| m.id.clone()).collect();
        for m in plan.members {
            attach_tags(&mut r, ResourceKind::Cluster, &m.id, &tags);
            r.insert_cluster(m);
        }
        let gref = GroupRef::of(&r, &plan.group);
        let out = render_group(ctx, &r, &plan.group);
        r.replication_groups
            .insert(plan.group.id.clone(), plan.group);
        let work = Reshard {
            added,
            moves: plan.moves,
            removed: plan.removed,
            event: plan.event,
        };
        (out, gref, work)
    };
    svc.spawn_reshard(gref, work);
    Ok(ModifyReplicationGroupShardConfigurationOutput {
        replication_group: Some(out),
    })
}

/// What the resharding task does.
struct Reshard {
    added: Vec<String>,
    moves: Vec<ShardMove>,
    removed: Vec<String>,
    event: String,
}

/// The supervisor's view of the group's shards, and the index of each node group id.
fn shard_topology(gref: &GroupRef, g: &ReplicationGroupRecord) -> Vec<(String, ShardTopology)> {
    g.node_groups
        .iter()
        .map(|ng| {
            let t = ShardTopology {
                slots: ng.slots.clone(),
                primary: gref.node_key(&ng.primary),
                replicas: ng.replicas().map(|m| gref.node_key(m)).collect(),
            };
            (ng.id.clone(), t)
        })
        .collect()
}

/// Largest number of slots moved (and switched) at once.
const MAX_CHUNK: usize = 512;

/// A move cut into chunks of 1, 2, 4 … up to [`MAX_CHUNK`] slots, each moved and switched on
/// its own: a client learns a new shard's primary from the `-MOVED` of the first, tiny chunk
/// (a shard without slots is not in CLUSTER SLOTS, and cluster clients follow `-ASK` only to
/// nodes they know), and it waits for `-ASK` windows of one chunk at a time.
fn chunks(mv: &ShardMove) -> Vec<ShardMove> {
    let slots = expand(&mv.slots);
    let mut out = Vec::new();
    let (mut at, mut size) = (0, 1);
    while at < slots.len() {
        let end = (at + size).min(slots.len());
        out.push(ShardMove {
            from: mv.from.clone(),
            to: mv.to.clone(),
            slots: compress(&slots[at..end]),
        });
        at = end;
        size = (size * 2).min(MAX_CHUNK);
    }
    out
}

fn migration_failed(e: crate::supervisor::SupervisorError) -> String {
    format!("Slot migration failed: {e}")
}

/// Moves `slots` from node group `from` to `to` in the group's records.
fn record_move(g: &mut ReplicationGroupRecord, mv: &ShardMove) {
    let moving = expand(&mv.slots);
    for ng in &mut g.node_groups {
        if ng.id == mv.from {
            let left: Vec<u16> = expand(&ng.slots)
                .into_iter()
                .filter(|s| moving.binary_search(s).is_err())
                .collect();
            ng.slots = compress(&left);
        } else if ng.id == mv.to {
            let mut all = expand(&ng.slots);
            all.extend(&moving);
            all.sort_unstable();
            ng.slots = compress(&all);
        }
    }
}

impl Service {
    fn spawn_reshard(&self, gref: GroupRef, work: Reshard) {
        let svc = self.clone();
        tokio::spawn(async move {
            let result = svc.run_reshard(&gref, &work).await;
            let now = svc.inner.store.now();
            svc.with_group(&gref, |r| {
                if let Some(g) = r.replication_groups.get_mut(&gref.id) {
                    g.resharding_progress = None;
                }
                if result.is_ok() {
                    r.event(
                        SourceType::ReplicationGroup,
                        &gref.id,
                        work.event.clone(),
                        now,
                    );
                }
            });
            svc.finish_group(&gref, result, false, None);
        });
    }

    /// The resharding task: new members up and wired, every move done, removed node groups
    /// out of the slot map and stopped.
    async fn run_reshard(&self, gref: &GroupRef, work: &Reshard) -> Result<(), String> {
        self.start_members(gref, &work.added).await?;
        self.sync_topology(gref).await?;
        let total: usize = work.moves.iter().map(|m| expand(&m.slots).len()).sum();
        let mut done = 0usize;
        for chunk in work.moves.iter().flat_map(chunks) {
            self.run_move(gref, &chunk).await?;
            done += expand(&chunk.slots).len();
            let pct = if total == 0 {
                100.0
            } else {
                done as f64 * 100.0 / total as f64
            };
            self.with_group(gref, |r| {
                if let Some(g) = r.replication_groups.get_mut(&gref.id) {
                    g.resharding_progress = Some((pct * 100.0).round() / 100.0);
                }
            });
        }
        if work.removed.is_empty() {
            return Ok(());
        }
        let members = self
            .with_group(gref, |r| {
                let g = r.replication_groups.get_mut(&gref.id)?;
                let gone: Vec<String> = g
                    .node_groups
                    .iter()
                    .filter(|ng| work.removed.contains(&ng.id))
                    .flat_map(|ng| ng.members.clone())
                    .collect();
                g.node_groups.retain(|ng| !work.removed.contains(&ng.id));
                if g.snapshotting_cluster_id
                    .as_ref()
                    .is_some_and(|s| gone.contains(s))
                {
                    g.snapshotting_cluster_id = g.node_groups.first().map(|ng| ng.primary.clone());
                }
                for m in &gone {
                    if let Some(c) = r.clusters.get_mut(m) {
                        c.retire();
                    }
                }
                Some(gone)
            })
            .flatten()
            .unwrap_or_default();
        self.sync_topology(gref).await?;
        self.remove_members(gref, &members).await;
        Ok(())
    }

    /// One move: slots marked moving on every node, keys moved, then the new slot map (the
    /// receiving primary first) recorded and set.
    async fn run_move(&self, gref: &GroupRef, mv: &ShardMove) -> Result<(), String> {
        let shards = self
            .with_group(gref, |r| {
                let g = r.replication_groups.get(&gref.id)?;
                Some(shard_topology(gref, g))
            })
            .flatten()
            .ok_or_else(|| format!("Replication group {} changed during resharding", gref.id))?;
        let from = shards.iter().position(|(n, _)| *n == mv.from);
        let to = shards.iter().position(|(n, _)| *n == mv.to);
        let (Some(from), Some(to)) = (from, to) else {
            return Err(format!("Node group {} or {} disappeared", mv.from, mv.to));
        };
        let plain: Vec<ShardTopology> = shards.iter().map(|(_, t)| t.clone()).collect();
        let sup = &self.inner.supervisor;
        let plan = SlotMovePlan {
            slots: mv.slots.clone(),
            source: from,
            target: to,
        };
        sup.set_slot_moves(&plain, &[plan])
            .await
            .map_err(migration_failed)?;
        sup.migrate_slots(&plain[from].primary, &plain[to].primary, &mv.slots)
            .await
            .map_err(migration_failed)?;
        let after = self
            .with_group(gref, |r| {
                let g = r.replication_groups.get_mut(&gref.id)?;
                record_move(g, mv);
                Some(shard_topology(gref, g))
            })
            .flatten()
            .ok_or_else(|| format!("Replication group {} changed during resharding", gref.id))?;
        let after: Vec<ShardTopology> = after.into_iter().map(|(_, t)| t).collect();
        sup.switch_cluster_topology(&after, std::slice::from_ref(&plain[to].primary))
            .await
            .map_err(migration_failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn counts(
        current: &[(String, Vec<(u16, u16)>)],
        moves: &[ShardMove],
    ) -> BTreeMap<String, usize> {
        let mut c: BTreeMap<String, usize> = current
            .iter()
            .map(|(id, r)| (id.clone(), expand(r).len()))
            .collect();
        for m in moves {
            let n = expand(&m.slots).len();
            *c.entry(m.from.clone()).or_default() -= n;
            *c.entry(m.to.clone()).or_default() += n;
        }
        c
    }

    #[test]
    fn scale_out_two_to_four_halves_each_shard() {
        let current = vec![
            ("0001".to_string(), vec![(0, 8191)]),
            ("0002".to_string(), vec![(8192, 16383)]),
        ];
        let moves = plan_slot_moves(&current, &ids(&["0001", "0002", "0003", "0004"]));
        assert_eq!(
            moves,
            vec![
                ShardMove {
                    from: "0001".into(),
                    to: "0003".into(),
                    slots: vec![(4096, 8191)]
                },
                ShardMove {
                    from: "0002".into(),
                    to: "0004".into(),
                    slots: vec![(12288, 16383)]
                },
            ]
        );
    }

    #[test]
    fn scale_in_spreads_the_removed_slots_evenly() {
        let current = vec![
            ("0001".to_string(), vec![(0, 4095)]),
            ("0002".to_string(), vec![(8192, 12287)]),
            ("0003".to_string(), vec![(4096, 8191)]),
            ("0004".to_string(), vec![(12288, 16383)]),
        ];
        let result = ids(&["0001", "0002", "0003"]);
        let moves = plan_slot_moves(&current, &result);
        let c = counts(&current, &moves);
        assert_eq!(c["0004"], 0);
        assert_eq!(c["0001"] + c["0002"] + c["0003"], 16384);
        assert!(result.iter().all(|id| (5461..=5462).contains(&c[id])));
        assert!(moves.iter().all(|m| m.from == "0004"));
    }

    #[test]
    fn rebalance_moves_only_the_surplus() {
        let current = vec![
            ("0001".to_string(), vec![(0, 99)]),
            ("0002".to_string(), vec![(100, 16383)]),
        ];
        let moves = plan_slot_moves(&current, &ids(&["0001", "0002"]));
        assert_eq!(
            moves,
            vec![ShardMove {
                from: "0002".into(),
                to: "0001".into(),
                slots: vec![(8292, 16383)]
            }]
        );
        assert_eq!(
            compress(&[1, 2, 3, 7, 9, 10]),
            vec![(1, 3), (7, 7), (9, 10)]
        );
    }
}
