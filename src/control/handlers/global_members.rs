//! Members of global datastores: adding a secondary (CreateReplicationGroup with
//! `GlobalReplicationGroupId`), DisassociateGlobalReplicationGroup,
//! FailoverGlobalReplicationGroup, and the engine links between regions.
//!
//! Place in the flow: a secondary is an ordinary replication group of its region whose
//! engine, version, node type, shard count and encryption come from the datastore. Its member
//! nodes start as any group's do; then [`Service::link_global`] (called at the end of every
//! `sync_topology`) makes the primary node of each of its shards a replica of the primary
//! group's primary of the same shard: the engine's chained replication carries every write
//! of the primary region to every node of the secondary, whose nodes answer `READONLY` to
//! writes. Failover promotes the new primary's shard primaries and points every other member
//! at them; disassociation promotes the leaving group's shard primaries (standalone and
//! writable again, data kept). Lock order: a region lock, then the global lock.

use crate::control::api::*;
use crate::control::context::RequestContext;
use crate::control::error::ApiError;
use crate::state::{
    GlobalGroupRecord, GlobalMemberRecord, GlobalMembership, GlobalRole, GlobalStatus,
    MemberStatus, ReplicationGroupRecord, SourceType, lock,
};

use super::Service;
use super::common::*;
use super::global_groups::{busy, member_ref, not_found, render};
use super::replication_lifecycle::GroupRef;

/// Secondaries a datastore may have (AWS: replication to up to two other regions).
pub const MAX_SECONDARIES: usize = 2;

/// What CreateReplicationGroup needs to make its group a secondary.
#[derive(Clone, Debug)]
pub struct SecondaryPlan {
    /// Datastore id.
    pub id: String,
}

/// The datastore a secondary joins, read for a CreateReplicationGroup: it must exist, be
/// settled, have no member in the caller's region and room for one more secondary.
fn joinable(svc: &Service, ctx: &RequestContext, raw: &str) -> Result<GlobalGroupRecord, ApiError> {
    let globals = svc.inner.store.globals();
    let g = globals
        .get(&ctx.account, raw)
        .ok_or_else(|| not_found(raw))?;
    if !g.status.is_settled() {
        return Err(busy(g));
    }
    if let Some(m) = g.member_in(&ctx.region) {
        return Err(invalid(format!(
            "Global datastore {} already has a member in {}: {}. A Global datastore has at most one replication group per region.",
            g.id, ctx.region, m.replication_group_id
        )));
    }
    if g.secondaries().count() >= MAX_SECONDARIES {
        return Err(invalid(format!(
            "Global datastore {} already has {MAX_SECONDARIES} secondary replication groups, the maximum.",
            g.id
        )));
    }
    Ok(g.clone())
}

/// CreateReplicationGroup with `GlobalReplicationGroupId`: checks the datastore and fills the
/// request with what a secondary inherits (engine, version, node type, shards, encryption,
/// failover and Multi-AZ of the primary), refusing values that contradict it.
pub fn prepare_secondary(
    svc: &Service,
    ctx: &RequestContext,
    input: &mut CreateReplicationGroupInput,
) -> Result<SecondaryPlan, ApiError> {
    let raw = input
        .global_replication_group_id
        .clone()
        .unwrap_or_default();
    let g = joinable(svc, ctx, &raw)?;
    let primary = g.primary().cloned().ok_or_else(|| busy(&g))?;
    let (p, source) = {
        let reg = svc.inner.store.region(&ctx.account, &primary.region);
        let r = lock(&reg);
        let p = r.group(&primary.replication_group_id)?.clone();
        let source = r.parameter_groups.get(&p.parameter_group).cloned();
        (p, source)
    };
    if let Some(t) = &input.cache_node_type
        && !t.eq_ignore_ascii_case(&g.node_type)
    {
        return Err(invalid(format!(
            "CacheNodeType {t} does not match the Global datastore's node type {}.",
            g.node_type
        )));
    }
    if let Some(e) = &input.engine
        && !e.eq_ignore_ascii_case(&g.engine)
    {
        return Err(invalid(format!(
            "Engine {e} does not match the Global datastore's engine {}.",
            g.engine
        )));
    }
    let shards = g.node_groups.len() as i32;
    if input.num_node_groups.is_some_and(|n| n != shards) {
        return Err(invalid(format!(
            "NumNodeGroups must equal the Global datastore's number of node groups ({shards})."
        )));
    }
    if input.snapshot_name.is_some()
        || input.snapshot_arns.is_some()
        || input.primary_cluster_id.is_some()
    {
        return Err(combination(
            "A secondary replication group of a Global datastore starts from the primary's data: SnapshotName, SnapshotArns and PrimaryClusterId cannot be used.",
        ));
    }
    // The secondary runs the datastore's parameters, in a group of its own region.
    if let Some(source) = source {
        let reg = svc.region(ctx);
        let mut r = lock(&reg);
        let name = super::global_groups::install_global_parameter_group(&mut r, &g.id, &source);
        input.cache_parameter_group_name = Some(name);
    }
    input.engine = Some(g.engine.clone());
    input.engine_version = Some(g.engine_version.clone());
    input.cache_node_type = Some(g.node_type.clone());
    input.transit_encryption_enabled = Some(g.transit_encryption_enabled);
    input.at_rest_encryption_enabled = Some(g.at_rest_encryption_enabled);
    // Clients of every region authenticate alike: without a token of its own, the secondary
    // takes the primary's.
    if input.auth_token.is_none() {
        input.auth_token = p.auth_token.clone();
    }
    input.automatic_failover_enabled = Some(p.automatic_failover);
    input.multi_az_enabled = Some(p.multi_az);
    if g.cluster_enabled {
        input.num_node_groups = Some(shards);
        input.cluster_mode = Some("enabled".to_string());
        input.node_group_configuration = None;
    }
    Ok(SecondaryPlan { id: g.id })
}

/// Registers a planned secondary (under its region's lock, before the group is recorded):
/// the datastore goes `modifying` with the new member `associating`; `group` is marked.
pub fn register_secondary(
    svc: &Service,
    ctx: &RequestContext,
    plan: &SecondaryPlan,
    group: &mut ReplicationGroupRecord,
) -> Result<(), ApiError> {
    let mut globals = svc.inner.store.globals();
    let g = globals
        .get_mut(&ctx.account, &plan.id)
        .ok_or_else(|| not_found(&plan.id))?;
    if !g.status.is_settled() || g.member_in(&ctx.region).is_some() {
        return Err(busy(g));
    }
    g.members.push(GlobalMemberRecord {
        replication_group_id: group.id.clone(),
        region: ctx.region.clone(),
        role: GlobalRole::Secondary,
        status: MemberStatus::Associating,
        automatic_failover: group.automatic_failover,
    });
    g.status = GlobalStatus::Modifying;
    g.generation += 1;
    group.global = Some(GlobalMembership {
        id: g.id.clone(),
        role: GlobalRole::Secondary,
    });
    Ok(())
}

/// Node keys of the primary of each shard of a member group, in shard order.
fn shard_primaries(svc: &Service, account: &str, region: &str, id: &str) -> Vec<String> {
    let reg = svc.inner.store.region(account, region);
    let r = lock(&reg);
    let Some(g) = r.replication_groups.get(id) else {
        return Vec::new();
    };
    let gref = GroupRef::of(&r, g);
    g.node_groups
        .iter()
        .map(|ng| gref.node_key(&ng.primary))
        .collect()
}

impl Service {
    /// Makes a secondary's shard primaries follow the datastore primary's (shard i from shard
    /// i); marks an `associating` member `associated` and settles the datastore. Nothing for
    /// groups that are not secondaries. Idempotent (the supervisor skips unchanged links).
    pub(crate) async fn link_global(&self, gref: &GroupRef) -> Result<(), String> {
        let membership = self
            .with_group(gref, |r| r.replication_groups.get(&gref.id)?.global.clone())
            .flatten();
        let Some(m) = membership.filter(|m| m.role == GlobalRole::Secondary) else {
            return Ok(());
        };
        let primary = {
            let globals = self.inner.store.globals();
            globals
                .get(&gref.account, &m.id)
                .and_then(|g| g.primary().cloned())
        };
        let Some(p) = primary else { return Ok(()) };
        let sources = shard_primaries(self, &gref.account, &p.region, &p.replication_group_id);
        let targets = shard_primaries(self, &gref.account, &gref.region, &gref.id);
        // Mid-resharding the two layouts differ (the primary reshards first): shard i of one
        // is not shard i of the other, so the links wait for the secondary's own resharding.
        if targets.len() != sources.len() {
            return Ok(());
        }
        for (target, source) in targets.iter().zip(&sources) {
            self.inner
                .supervisor
                .replicate(target, source)
                .await
                .map_err(|e| format!("Cross-region replication setup failed: {e}"))?;
        }
        let mut globals = self.inner.store.globals();
        if let Some(g) = globals.get_mut(&gref.account, &m.id)
            && let Some(member) = g.member_in_mut(&gref.region)
            && member.status == MemberStatus::Associating
        {
            member.status = MemberStatus::Associated;
            if g.status == GlobalStatus::Modifying {
                g.status = g.settled_status();
            }
        }
        Ok(())
    }

    /// Drops the member of `region` from datastore `id` after its group failed to be created
    /// (called under that region's lock: region, then global lock).
    pub(crate) fn abandon_secondary(&self, account: &str, region: &str, id: &str) {
        let mut globals = self.inner.store.globals();
        if let Some(g) = globals.get_mut(account, id) {
            g.members
                .retain(|m| !(m.region == region && m.role == GlobalRole::Secondary));
            if g.status == GlobalStatus::Modifying {
                g.status = g.settled_status();
            }
        }
    }

    /// Promotes every shard primary of a member group (it stops following another region).
    async fn promote_shards(&self, account: &str, region: &str, id: &str) {
        for key in shard_primaries(self, account, region, id) {
            if let Err(err) = self.inner.supervisor.promote(&key).await {
                tracing::warn!(node = %key, %err, "shard primary not promoted");
            }
        }
    }

    /// Re-links a member group's engines after a role change (its own topology, then the
    /// cross-region link when it is a secondary).
    async fn relink_member(&self, account: &str, region: &str, id: &str) -> Result<(), String> {
        match member_ref(self, account, region, id) {
            Some(gref) => self.sync_topology(&gref).await,
            None => Ok(()),
        }
    }
}

/// Sets a member group's recorded membership (`None`: it left) and records an event.
fn set_membership(
    svc: &Service,
    account: &str,
    m: &GlobalMemberRecord,
    membership: Option<GlobalMembership>,
    event: String,
) {
    let now = svc.inner.store.now();
    let reg = svc.inner.store.region(account, &m.region);
    let mut r = lock(&reg);
    if let Some(g) = r.replication_groups.get_mut(&m.replication_group_id) {
        g.global = membership;
    }
    r.event(
        SourceType::ReplicationGroup,
        &m.replication_group_id,
        event,
        now,
    );
}

/// The member a Disassociate/Failover request names, with AWS's errors.
fn named_member<'a>(
    g: &'a GlobalGroupRecord,
    rg: &str,
    region: &str,
) -> Result<&'a GlobalMemberRecord, ApiError> {
    let rg = rg.trim().to_ascii_lowercase();
    g.members
        .iter()
        .find(|m| m.replication_group_id == rg && m.region == region)
        .ok_or_else(|| {
            invalid(format!(
                "Replication group {rg} in region {region} is not associated with Global Replication Group {}.",
                g.id
            ))
        })
}

/// DisassociateGlobalReplicationGroup: a secondary leaves; its engines stop following the
/// primary region and it becomes a standalone, writable replication group with its data.
pub fn disassociate_global_replication_group(
    svc: &Service,
    ctx: &RequestContext,
    input: DisassociateGlobalReplicationGroupInput,
) -> Result<DisassociateGlobalReplicationGroupOutput, ApiError> {
    let id = input
        .global_replication_group_id
        .trim()
        .to_ascii_lowercase();
    let mut globals = svc.inner.store.globals();
    let g = globals
        .get_mut(&ctx.account, &id)
        .ok_or_else(|| not_found(&id))?;
    let member = named_member(
        g,
        &input.replication_group_id,
        &input.replication_group_region,
    )?
    .clone();
    if member.role == GlobalRole::Primary {
        return Err(invalid(format!(
            "Replication group {} is the primary of Global datastore {id}; only secondaries can be disassociated.",
            member.replication_group_id
        )));
    }
    if !g.status.is_settled() {
        return Err(busy(g));
    }
    if let Some(m) = g.member_in_mut(&member.region) {
        m.status = MemberStatus::Disassociating;
    }
    g.status = GlobalStatus::Modifying;
    g.generation += 1;
    let (out, generation) = (render(ctx, g, true), g.generation);
    drop(globals);
    let svc2 = svc.clone();
    let account = ctx.account.clone();
    tokio::spawn(async move {
        // The group forgets its role first, so no topology sync links it again.
        let event = format!("Replication group disassociated from Global datastore {id}");
        set_membership(&svc2, &account, &member, None, event);
        svc2.promote_shards(&account, &member.region, &member.replication_group_id)
            .await;
        svc2.global_delay().await;
        {
            let mut globals = svc2.inner.store.globals();
            if let Some(g) = globals.get_mut(&account, &id) {
                g.members.retain(|m| m.region != member.region);
            }
        }
        svc2.settle_global(&account, &id, generation);
    });
    Ok(DisassociateGlobalReplicationGroupOutput {
        global_replication_group: Some(out),
    })
}

/// FailoverGlobalReplicationGroup: the named secondary becomes the primary; the old primary
/// and every other secondary follow it.
pub fn failover_global_replication_group(
    svc: &Service,
    ctx: &RequestContext,
    input: FailoverGlobalReplicationGroupInput,
) -> Result<FailoverGlobalReplicationGroupOutput, ApiError> {
    let id = input
        .global_replication_group_id
        .trim()
        .to_ascii_lowercase();
    let mut globals = svc.inner.store.globals();
    let g = globals
        .get_mut(&ctx.account, &id)
        .ok_or_else(|| not_found(&id))?;
    let new = named_member(
        g,
        &input.primary_replication_group_id,
        &input.primary_region,
    )?
    .clone();
    if new.role == GlobalRole::Primary {
        return Err(invalid(format!(
            "Replication group {} is already the primary of Global datastore {id}.",
            new.replication_group_id
        )));
    }
    if !g.status.is_settled() {
        return Err(busy(g));
    }
    for m in &mut g.members {
        m.role = if m.region == new.region {
            GlobalRole::Primary
        } else {
            GlobalRole::Secondary
        };
    }
    // The primary is listed first, as AWS lists it.
    g.members.sort_by_key(|m| m.role != GlobalRole::Primary);
    g.status = GlobalStatus::Modifying;
    g.generation += 1;
    let (out, generation, members) = (render(ctx, g, true), g.generation, g.members.clone());
    drop(globals);
    for m in &members {
        let membership = GlobalMembership {
            id: id.clone(),
            role: m.role,
        };
        let event = format!(
            "Global datastore {id} failed over: this group is now {}",
            m.role.as_str()
        );
        set_membership(svc, &ctx.account, m, Some(membership), event);
    }
    let svc2 = svc.clone();
    let account = ctx.account.clone();
    tokio::spawn(async move {
        svc2.promote_shards(&account, &new.region, &new.replication_group_id)
            .await;
        for m in members.iter().filter(|m| m.role == GlobalRole::Secondary) {
            if let Err(err) = svc2
                .relink_member(&account, &m.region, &m.replication_group_id)
                .await
            {
                tracing::warn!(group = %m.replication_group_id, %err, "member not re-linked");
            }
        }
        svc2.global_delay().await;
        svc2.settle_global(&account, &id, generation);
    });
    Ok(FailoverGlobalReplicationGroupOutput {
        global_replication_group: Some(out),
    })
}
