//! IncreaseNodeGroupsInGlobalReplicationGroup and DecreaseNodeGroupsInGlobalReplicationGroup:
//! online resharding of a cluster mode enabled global datastore.
//!
//! Place in the flow: the request is checked against the datastore and, as a dry run, against
//! every member replication group (the same plan ModifyReplicationGroupShardConfiguration
//! makes), then the primary member is resharded through that ordinary path (new shards
//! started, slots moving with their keys). A background task waits for it, then reshards each
//! secondary to the same layout (its shard primaries follow the primary's shard of the same
//! index, so the keys the primary moved already reached them through the replication stream;
//! its new shards sync in full from the primary's new shards), re-links every member
//! (`sync_topology`), records the new `GlobalNodeGroups` and settles the datastore, which is
//! `modifying` throughout.

use std::time::Duration;

use crate::control::api::*;
use crate::control::context::RequestContext;
use crate::control::error::ApiError;
use crate::state::{GlobalGroupRecord, GlobalMemberRecord, GlobalStatus, lock};

use super::Service;
use super::common::*;
use super::global_groups::{busy, member_ref, not_found, render};
use super::resharding;

/// How long the task waits for one member's resharding (polled every 50 ms).
const MEMBER_WAIT: Duration = Duration::from_secs(600);

/// A member and the shard configuration change its region's ModifyReplicationGroupShard-
/// Configuration gets; the primary first.
type MemberPlan = Vec<(
    GlobalMemberRecord,
    ModifyReplicationGroupShardConfigurationInput,
)>;

/// The datastore to reshard: it exists, has cluster mode enabled and is settled.
fn reshardable(
    svc: &Service,
    ctx: &RequestContext,
    raw: &str,
    apply_immediately: bool,
) -> Result<GlobalGroupRecord, ApiError> {
    if !apply_immediately {
        return Err(invalid(
            "ApplyImmediately must be true: Global datastore shard changes are applied immediately.",
        ));
    }
    let globals = svc.inner.store.globals();
    let g = globals
        .get(&ctx.account, raw)
        .ok_or_else(|| not_found(raw))?;
    if !g.cluster_enabled {
        return Err(invalid(format!(
            "Global datastore {} is not cluster mode enabled; its number of node groups cannot change.",
            g.id
        )));
    }
    if !g.status.is_settled() {
        return Err(busy(g));
    }
    Ok(g.clone())
}

/// The input every member gets, before the member-specific parts.
fn base_input(m: &GlobalMemberRecord, count: i32) -> ModifyReplicationGroupShardConfigurationInput {
    ModifyReplicationGroupShardConfigurationInput {
        replication_group_id: m.replication_group_id.clone(),
        node_group_count: count,
        apply_immediately: true,
        ..Default::default()
    }
}

/// Members in reshard order: the primary first, then the secondaries.
fn ordered(g: &GlobalGroupRecord) -> Vec<GlobalMemberRecord> {
    g.primary()
        .into_iter()
        .chain(g.secondaries())
        .cloned()
        .collect()
}

/// The increase plan: each member's ReshardingConfiguration comes from the RegionalConfiguration
/// naming it (none: new node groups numbered on, zones spread).
fn plan_increase(
    g: &GlobalGroupRecord,
    input: &IncreaseNodeGroupsInGlobalReplicationGroupInput,
) -> Result<MemberPlan, ApiError> {
    let have = g.node_groups.len();
    if input.node_group_count as usize <= have {
        return Err(invalid(format!(
            "NodeGroupCount ({}) must be greater than the current number of node groups ({have}) of Global datastore {}.",
            input.node_group_count, g.id
        )));
    }
    let configs = input.regional_configurations.clone().unwrap_or_default();
    for (i, c) in configs.iter().enumerate() {
        let known = g.members.iter().any(|m| {
            m.region == c.replication_group_region
                && m.replication_group_id
                    .eq_ignore_ascii_case(c.replication_group_id.trim())
        });
        if !known {
            return Err(invalid(format!(
                "Replication group {} in {} is not a member of Global datastore {}.",
                c.replication_group_id, c.replication_group_region, g.id
            )));
        }
        if configs[..i]
            .iter()
            .any(|o| o.replication_group_region == c.replication_group_region)
        {
            return Err(invalid(format!(
                "RegionalConfigurations lists region {} twice.",
                c.replication_group_region
            )));
        }
    }
    Ok(ordered(g)
        .into_iter()
        .map(|m| {
            let mut i = base_input(&m, input.node_group_count);
            i.resharding_configuration = configs
                .iter()
                .find(|c| c.replication_group_region == m.region)
                .map(|c| c.resharding_configuration.clone());
            (m, i)
        })
        .collect())
}

/// Positions (in shard order) of the datastore's node groups a decrease removes.
fn removed_positions(
    g: &GlobalGroupRecord,
    input: &DecreaseNodeGroupsInGlobalReplicationGroupInput,
) -> Result<Vec<usize>, ApiError> {
    let have = g.node_groups.len();
    let count = input.node_group_count;
    if count < 1 || count as usize >= have {
        return Err(invalid(format!(
            "NodeGroupCount ({count}) must be at least 1 and less than the current number of node groups ({have}) of Global datastore {}.",
            g.id
        )));
    }
    let position = |raw: &String| {
        g.node_groups
            .iter()
            .position(|(id, _)| id.eq_ignore_ascii_case(raw.trim()))
            .ok_or_else(|| {
                invalid(format!(
                    "Global node group {raw} is not a node group of Global datastore {}.",
                    g.id
                ))
            })
    };
    let remove = input
        .global_node_groups_to_remove
        .clone()
        .unwrap_or_default();
    let retain = input
        .global_node_groups_to_retain
        .clone()
        .unwrap_or_default();
    let removed: Vec<usize> = match (remove.is_empty(), retain.is_empty()) {
        (false, false) => {
            return Err(combination(
                "Only one of GlobalNodeGroupsToRemove and GlobalNodeGroupsToRetain may be specified.",
            ));
        }
        (true, true) => {
            return Err(invalid(
                "GlobalNodeGroupsToRemove or GlobalNodeGroupsToRetain is required when NodeGroupCount is less than the current number of node groups.",
            ));
        }
        (false, true) => {
            let mut v = remove.iter().map(position).collect::<Result<Vec<_>, _>>()?;
            v.sort_unstable();
            v.dedup();
            v
        }
        (true, false) => {
            let kept = retain.iter().map(position).collect::<Result<Vec<_>, _>>()?;
            (0..have).filter(|i| !kept.contains(i)).collect()
        }
    };
    if have - removed.len() != count as usize {
        return Err(invalid(format!(
            "NodeGroupCount ({count}) does not match the node groups that would remain ({}).",
            have - removed.len()
        )));
    }
    Ok(removed)
}

/// The decrease plan: each member removes its own node groups at the removed positions.
fn plan_decrease(
    svc: &Service,
    ctx: &RequestContext,
    g: &GlobalGroupRecord,
    input: &DecreaseNodeGroupsInGlobalReplicationGroupInput,
) -> Result<MemberPlan, ApiError> {
    let removed = removed_positions(g, input)?;
    let mut plan = Vec::new();
    for m in ordered(g) {
        let reg = svc.inner.store.region(&ctx.account, &m.region);
        let ids: Vec<String> = {
            let r = lock(&reg);
            let rg = r.group(&m.replication_group_id)?;
            if rg.node_groups.len() != g.node_groups.len() {
                return Err(ApiError::invalid_global_replication_group_state(format!(
                    "Replication group {} does not have the Global datastore's {} node groups.",
                    rg.id,
                    g.node_groups.len()
                )));
            }
            removed
                .iter()
                .map(|&i| rg.node_groups[i].id.clone())
                .collect()
        };
        let mut i = base_input(&m, input.node_group_count);
        i.node_groups_to_remove = Some(ids);
        plan.push((m, i));
    }
    Ok(plan)
}

/// Checks every member's change as its region would plan it, touching nothing.
fn dry_run(svc: &Service, ctx: &RequestContext, plan: &MemberPlan) -> Result<(), ApiError> {
    let now = svc.inner.store.now();
    for (m, input) in plan {
        let reg = svc.inner.store.region(&ctx.account, &m.region);
        let r = lock(&reg);
        resharding::plan_reshard(&r, input, now)?;
    }
    Ok(())
}

/// Validates, starts the primary's resharding, marks the datastore `modifying` and spawns the
/// task that follows with the secondaries.
fn start(
    svc: &Service,
    ctx: &RequestContext,
    g: &GlobalGroupRecord,
    mut plan: MemberPlan,
) -> Result<GlobalReplicationGroup, ApiError> {
    dry_run(svc, ctx, &plan)?;
    if plan.is_empty() {
        return Err(busy(g));
    }
    let (primary, input) = plan.remove(0);
    let member_ctx = RequestContext {
        region: primary.region.clone(),
        ..ctx.clone()
    };
    resharding::modify_replication_group_shard_configuration(svc, &member_ctx, input)?;
    let mut globals = svc.inner.store.globals();
    let rec = globals
        .get_mut(&ctx.account, &g.id)
        .ok_or_else(|| not_found(&g.id))?;
    rec.status = GlobalStatus::Modifying;
    rec.generation += 1;
    let (out, generation) = (render(ctx, rec, true), rec.generation);
    drop(globals);
    let svc = svc.clone();
    let (ctx, id) = (ctx.clone(), g.id.clone());
    tokio::spawn(async move {
        svc.run_global_reshard(&ctx, &id, generation, primary, plan)
            .await;
    });
    Ok(out)
}

/// IncreaseNodeGroupsInGlobalReplicationGroup.
pub fn increase_node_groups_in_global_replication_group(
    svc: &Service,
    ctx: &RequestContext,
    input: IncreaseNodeGroupsInGlobalReplicationGroupInput,
) -> Result<IncreaseNodeGroupsInGlobalReplicationGroupOutput, ApiError> {
    let g = reshardable(
        svc,
        ctx,
        &input.global_replication_group_id,
        input.apply_immediately,
    )?;
    let plan = plan_increase(&g, &input)?;
    Ok(IncreaseNodeGroupsInGlobalReplicationGroupOutput {
        global_replication_group: Some(start(svc, ctx, &g, plan)?),
    })
}

/// DecreaseNodeGroupsInGlobalReplicationGroup.
pub fn decrease_node_groups_in_global_replication_group(
    svc: &Service,
    ctx: &RequestContext,
    input: DecreaseNodeGroupsInGlobalReplicationGroupInput,
) -> Result<DecreaseNodeGroupsInGlobalReplicationGroupOutput, ApiError> {
    let g = reshardable(
        svc,
        ctx,
        &input.global_replication_group_id,
        input.apply_immediately,
    )?;
    let plan = plan_decrease(svc, ctx, &g, &input)?;
    Ok(DecreaseNodeGroupsInGlobalReplicationGroupOutput {
        global_replication_group: Some(start(svc, ctx, &g, plan)?),
    })
}

impl Service {
    /// After the primary: each secondary resharded in turn, every member re-linked, the
    /// datastore's node groups taken from the primary's, the datastore settled.
    async fn run_global_reshard(
        &self,
        ctx: &RequestContext,
        id: &str,
        generation: u64,
        primary: GlobalMemberRecord,
        secondaries: MemberPlan,
    ) {
        self.wait_member(&ctx.account, &primary).await;
        for (m, input) in secondaries {
            let member_ctx = RequestContext {
                region: m.region.clone(),
                ..ctx.clone()
            };
            if let Err(err) =
                resharding::modify_replication_group_shard_configuration(self, &member_ctx, input)
            {
                tracing::warn!(group = %m.replication_group_id, %err, "secondary not resharded");
                continue;
            }
            self.wait_member(&ctx.account, &m).await;
            if let Some(gref) = member_ref(self, &ctx.account, &m.region, &m.replication_group_id)
                && let Err(err) = self.sync_topology(&gref).await
            {
                tracing::warn!(group = %m.replication_group_id, %err, "secondary not re-linked");
            }
        }
        self.record_global_shards(&ctx.account, id, &primary);
        self.global_delay().await;
        self.settle_global(&ctx.account, id, generation);
    }

    /// Waits until a member group is `available` again (or gone).
    async fn wait_member(&self, account: &str, m: &GlobalMemberRecord) {
        let deadline = tokio::time::Instant::now() + MEMBER_WAIT;
        while tokio::time::Instant::now() < deadline
            && !self.members_available(account, std::slice::from_ref(m))
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `GlobalNodeGroups` from the primary's node groups: a node group keeps its global id
    /// where the primary kept it, new ones are named `<datastore id>-<node group id>`.
    fn record_global_shards(&self, account: &str, id: &str, primary: &GlobalMemberRecord) {
        let shards: Vec<(String, Vec<(u16, u16)>)> = {
            let reg = self.inner.store.region(account, &primary.region);
            let r = lock(&reg);
            let Some(g) = r.replication_groups.get(&primary.replication_group_id) else {
                return;
            };
            g.node_groups
                .iter()
                .map(|ng| (ng.id.clone(), ng.slots.clone()))
                .collect()
        };
        let mut globals = self.inner.store.globals();
        let Some(rec) = globals.get_mut(account, id) else {
            return;
        };
        rec.node_groups = shards
            .into_iter()
            .map(|(ng, slots)| {
                let suffix = format!("-{ng}");
                let gid = rec
                    .node_groups
                    .iter()
                    .map(|(g, _)| g.clone())
                    .find(|g| g.ends_with(&suffix))
                    .unwrap_or_else(|| format!("{}{suffix}", rec.id));
                (gid, slots)
            })
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{GlobalRole, MemberStatus};

    fn datastore(shards: usize) -> GlobalGroupRecord {
        GlobalGroupRecord {
            id: "ldgnf-g".into(),
            description: String::new(),
            status: GlobalStatus::Available,
            engine: "redis".into(),
            engine_version: "7.1.0".into(),
            node_type: "cache.m5.large".into(),
            cluster_enabled: true,
            auth_token_enabled: false,
            transit_encryption_enabled: false,
            at_rest_encryption_enabled: false,
            node_groups: (1..=shards)
                .map(|i| (format!("ldgnf-g-{i:04}"), Vec::new()))
                .collect(),
            members: vec![GlobalMemberRecord {
                replication_group_id: "p".into(),
                region: "us-east-1".into(),
                role: GlobalRole::Primary,
                status: MemberStatus::Associated,
                automatic_failover: true,
            }],
            generation: 1,
        }
    }

    fn decrease(
        count: i32,
        remove: &[&str],
        retain: &[&str],
    ) -> DecreaseNodeGroupsInGlobalReplicationGroupInput {
        let list = |l: &[&str]| (!l.is_empty()).then(|| l.iter().map(|s| s.to_string()).collect());
        DecreaseNodeGroupsInGlobalReplicationGroupInput {
            global_replication_group_id: "ldgnf-g".into(),
            node_group_count: count,
            global_node_groups_to_remove: list(remove),
            global_node_groups_to_retain: list(retain),
            apply_immediately: true,
        }
    }

    #[test]
    fn removed_positions_follow_either_list() {
        let g = datastore(3);
        let by_remove = removed_positions(&g, &decrease(2, &["LDGNF-G-0002"], &[]));
        assert_eq!(by_remove.ok(), Some(vec![1]));
        let by_retain = removed_positions(&g, &decrease(1, &[], &["ldgnf-g-0003"]));
        assert_eq!(by_retain.ok(), Some(vec![0, 1]));
        let code = |r: Result<Vec<usize>, ApiError>| r.err().map(|e| e.wire_code());
        let both = decrease(2, &["ldgnf-g-0001"], &["ldgnf-g-0002", "ldgnf-g-0003"]);
        assert_eq!(
            code(removed_positions(&g, &both)),
            Some("InvalidParameterCombination")
        );
        for bad in [
            decrease(2, &[], &[]),
            decrease(3, &["ldgnf-g-0001"], &[]),
            decrease(1, &["ldgnf-g-0001"], &[]),
            decrease(2, &["ldgnf-g-0009"], &[]),
        ] {
            assert_eq!(
                code(removed_positions(&g, &bad)),
                Some("InvalidParameterValue")
            );
        }
    }
}
