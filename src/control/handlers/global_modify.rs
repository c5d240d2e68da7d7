//! ModifyGlobalReplicationGroup and RebalanceSlotsInGlobalReplicationGroup.
//!
//! Place in the flow: a modification of a global datastore is applied to every member
//! replication group, each through the ordinary ModifyReplicationGroup path of its region
//! (node type and engine version by a rolling restart, parameter group, automatic failover);
//! the datastore stays `modifying` until every member is `available` again, then the
//! secondaries are re-linked to the primary region (a rolling restart moves shard primaries)
//! and the datastore settles. Description changes touch only the datastore record.

use std::time::Duration;

use crate::control::api::*;
use crate::control::context::RequestContext;
use crate::control::error::ApiError;
use crate::control::validate::checks::{node_type_for, upgrade_version};
use crate::state::{GlobalGroupRecord, GlobalMemberRecord, GlobalStatus, lock};

use super::Service;
use super::common::*;
use super::global_groups::{busy, check_global_node_type, member_ref, not_found, render};

/// How long a datastore modification waits for its members (polled every 50 ms).
const MEMBER_WAIT: Duration = Duration::from_secs(600);

/// The member-level part of a modification (what each member's ModifyReplicationGroup gets).
#[derive(Clone, Debug, Default)]
struct MemberChange {
    node_type: Option<String>,
    engine_version: Option<String>,
    parameter_group: Option<String>,
    automatic_failover: Option<bool>,
}

impl MemberChange {
    fn is_empty(&self) -> bool {
        self.node_type.is_none()
            && self.engine_version.is_none()
            && self.parameter_group.is_none()
            && self.automatic_failover.is_none()
    }
}

/// Validates the request against the datastore: what changes for the members.
fn plan_change(
    g: &GlobalGroupRecord,
    input: &ModifyGlobalReplicationGroupInput,
) -> Result<MemberChange, ApiError> {
    let mut change = MemberChange::default();
    if let Some(e) = &input.engine
        && !e.eq_ignore_ascii_case(&g.engine)
    {
        return Err(invalid(format!(
            "Changing the engine of Global datastore {} from {} to {e} is not supported.",
            g.id, g.engine
        )));
    }
    if let Some(t) = &input.cache_node_type {
        let name = node_type_for(t, &g.engine)?.name.clone();
        check_global_node_type(&name)?;
        change.node_type = (name != g.node_type).then_some(name);
    }
    if let Some(v) = &input.engine_version {
        let ver = upgrade_version(&g.engine, &g.engine_version, v)?;
        change.engine_version =
            (ver.full_version != g.engine_version).then(|| ver.full_version.clone());
    }
    if let Some(p) = &input.cache_parameter_group_name {
        if change.engine_version.is_none() {
            return Err(invalid(
                "ModifyGlobalReplicationGroup API does not support cache parameter group modification without a change in major engine version.",
            ));
        }
        change.parameter_group = Some(p.to_ascii_lowercase());
    }
    if let Some(af) = input.automatic_failover_enabled
        && g.members.iter().any(|m| m.automatic_failover != af)
    {
        change.automatic_failover = Some(af);
    }
    Ok(change)
}

/// Checks automatic failover against every member (it needs a replica in each) before any
/// member is touched.
fn check_members(
    svc: &Service,
    account: &str,
    g: &GlobalGroupRecord,
    change: &MemberChange,
) -> Result<(), ApiError> {
    for m in &g.members {
        let reg = svc.inner.store.region(account, &m.region);
        let r = lock(&reg);
        let rg = r.available_group(&m.replication_group_id)?;
        if change.automatic_failover == Some(true)
            && rg.node_groups.iter().any(|ng| ng.members.len() < 2)
        {
            return Err(combination(format!(
                "Automatic failover needs a replica in every shard; replication group {} in {} has none.",
                rg.id, m.region
            )));
        }
        if change.automatic_failover == Some(false) && rg.cluster_enabled {
            return Err(combination(
                "Automatic failover must stay enabled on cluster mode enabled replication groups.",
            ));
        }
    }
    Ok(())
}

/// Applies the member-level change to one member through its region's ModifyReplicationGroup.
fn modify_member(
    svc: &Service,
    ctx: &RequestContext,
    m: &GlobalMemberRecord,
    change: &MemberChange,
) -> Result<(), ApiError> {
    let member_ctx = RequestContext {
        region: m.region.clone(),
        ..ctx.clone()
    };
    // A parameter group named by the request exists in the region it was created in; the
    // other members keep the default group of the new version.
    let parameter_group = change.parameter_group.clone().filter(|p| {
        let reg = svc.inner.store.region(&ctx.account, &m.region);
        lock(&reg).parameter_groups.contains_key(p)
    });
    let input = ModifyReplicationGroupInput {
        replication_group_id: m.replication_group_id.clone(),
        apply_immediately: Some(true),
        cache_node_type: change.node_type.clone(),
        engine_version: change.engine_version.clone(),
        cache_parameter_group_name: parameter_group,
        automatic_failover_enabled: change.automatic_failover,
        ..Default::default()
    };
    match super::replication_modify::modify_group(svc, &member_ctx, input) {
        Ok(_) => Ok(()),
        // Already as asked (e.g. automatic failover): nothing to do for this member.
        Err(e) if e.message().contains("No modifications were requested") => Ok(()),
        Err(e) => Err(e),
    }
}

/// ModifyGlobalReplicationGroup.
pub fn modify_global_replication_group(
    svc: &Service,
    ctx: &RequestContext,
    input: ModifyGlobalReplicationGroupInput,
) -> Result<ModifyGlobalReplicationGroupOutput, ApiError> {
    if !input.apply_immediately {
        return Err(invalid(
            "ApplyImmediately must be true: Global datastore modifications are applied immediately.",
        ));
    }
    let id = input
        .global_replication_group_id
        .trim()
        .to_ascii_lowercase();
    let g = {
        let globals = svc.inner.store.globals();
        let g = globals
            .get(&ctx.account, &id)
            .ok_or_else(|| not_found(&id))?;
        if !g.status.is_settled() {
            return Err(busy(g));
        }
        g.clone()
    };
    let change = plan_change(&g, &input)?;
    let description = input
        .global_replication_group_description
        .clone()
        .filter(|d| *d != g.description);
    if change.is_empty() && description.is_none() {
        return Err(combination("No modifications were requested."));
    }
    check_members(svc, &ctx.account, &g, &change)?;
    for m in &g.members {
        modify_member(svc, ctx, m, &change)?;
    }
    let mut globals = svc.inner.store.globals();
    let rec = globals
        .get_mut(&ctx.account, &id)
        .ok_or_else(|| not_found(&id))?;
    if let Some(d) = description {
        rec.description = d;
    }
    if let Some(t) = &change.node_type {
        rec.node_type = t.clone();
    }
    if let Some(v) = &change.engine_version {
        rec.engine_version = v.clone();
    }
    if let Some(af) = change.automatic_failover {
        rec.members
            .iter_mut()
            .for_each(|m| m.automatic_failover = af);
    }
    rec.status = GlobalStatus::Modifying;
    rec.generation += 1;
    let (out, generation, members) = (render(ctx, rec, true), rec.generation, rec.members.clone());
    drop(globals);
    svc.spawn_global_modify(ctx.account.clone(), id, generation, members);
    Ok(ModifyGlobalReplicationGroupOutput {
        global_replication_group: Some(out),
    })
}

/// RebalanceSlotsInGlobalReplicationGroup: the datastore's shards must hold equal shares of
/// the slots; ours always do (ElastiCache's default split, and every shard change ends even),
/// so the datastore passes through `modifying` with no slot to move.
pub fn rebalance_slots_in_global_replication_group(
    svc: &Service,
    ctx: &RequestContext,
    input: RebalanceSlotsInGlobalReplicationGroupInput,
) -> Result<RebalanceSlotsInGlobalReplicationGroupOutput, ApiError> {
    if !input.apply_immediately {
        return Err(invalid("ApplyImmediately must be true."));
    }
    let id = input
        .global_replication_group_id
        .trim()
        .to_ascii_lowercase();
    let mut globals = svc.inner.store.globals();
    let g = globals
        .get_mut(&ctx.account, &id)
        .ok_or_else(|| not_found(&id))?;
    if !g.cluster_enabled {
        return Err(invalid(format!(
            "Global datastore {id} is not cluster mode enabled; there are no slots to rebalance."
        )));
    }
    if !g.status.is_settled() {
        return Err(busy(g));
    }
    // Even means every shard holds its share of the 16384 slots, one more or less (the
    // default split, and what every shard change leaves).
    let counts: Vec<u32> = g
        .node_groups
        .iter()
        .map(|(_, s)| {
            s.iter()
                .map(|&(a, b)| u32::from(b) - u32::from(a) + 1)
                .sum()
        })
        .collect();
    let even = match (counts.iter().min(), counts.iter().max()) {
        (Some(a), Some(b)) => b - a <= 1 && counts.iter().sum::<u32>() == 16384,
        _ => true,
    };
    if !even {
        return Err(ApiError::invalid_global_replication_group_state(format!(
            "Global datastore {id} has an uneven slot layout that elasticache-local cannot move."
        )));
    }
    g.status = GlobalStatus::Modifying;
    g.generation += 1;
    let (out, generation) = (render(ctx, g, true), g.generation);
    drop(globals);
    let svc2 = svc.clone();
    let account = ctx.account.clone();
    tokio::spawn(async move {
        svc2.global_delay().await;
        svc2.settle_global(&account, &id, generation);
    });
    Ok(RebalanceSlotsInGlobalReplicationGroupOutput {
        global_replication_group: Some(out),
    })
}

impl Service {
    /// `modifying` → settled once every member is `available`, secondaries re-linked.
    fn spawn_global_modify(
        &self,
        account: String,
        id: String,
        generation: u64,
        members: Vec<GlobalMemberRecord>,
    ) {
        let svc = self.clone();
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + MEMBER_WAIT;
            while tokio::time::Instant::now() < deadline
                && !svc.members_available(&account, &members)
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            for m in &members {
                if let Some(gref) = member_ref(&svc, &account, &m.region, &m.replication_group_id)
                    && let Err(err) = svc.sync_topology(&gref).await
                {
                    tracing::warn!(group = %m.replication_group_id, %err, "member not re-linked");
                }
            }
            svc.global_delay().await;
            svc.settle_global(&account, &id, generation);
        });
    }

    /// Whether every listed member group is `available` (or gone).
    pub(super) fn members_available(&self, account: &str, members: &[GlobalMemberRecord]) -> bool {
        members.iter().all(|m| {
            let reg = self.inner.store.region(account, &m.region);
            let r = lock(&reg);
            r.replication_groups
                .get(&m.replication_group_id)
                .is_none_or(|g| g.is_available())
        })
    }
}
