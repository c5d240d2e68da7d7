//! Create/Describe/Modify/DeleteGlobalReplicationGroup: ElastiCache global datastores.
//!
//! Place in the flow: a global datastore is an account-wide record (`state::GlobalStore`)
//! over replication groups of several regions of this process. Create turns an `available`
//! replication group of the caller's region into the datastore's primary; secondaries join
//! with CreateReplicationGroup + `GlobalReplicationGroupId` and leave or swap roles in
//! `global_members`, which also wires the engines (secondary primaries replicate from the
//! primary's). Statuses follow AWS: `creating` → `primary-only` (no secondary) or `available`,
//! `modifying` during a change, `deleting` → gone; completed by short background tasks.
//! Lock order: a region lock, then the global lock, never the reverse.

use crate::catalog::compare_versions;
use crate::control::api::*;
use crate::control::arn;
use crate::control::context::RequestContext;
use crate::control::error::ApiError;
use crate::control::validate;
use crate::state::{
    GlobalGroupRecord, GlobalMemberRecord, GlobalMembership, GlobalRole, GlobalStatus,
    MemberStatus, ParameterGroupRecord, Region, SourceType, lock, region_prefix,
};

use super::Service;
use super::common::*;
use super::replication_lifecycle::GroupRef;

/// Node type families global datastores run on (User Guide, "Prerequisites and
/// limitations": M5, M6g, M7g, R5, R6g, R6gd, R7g and C7gn, size large and above).
const GLOBAL_FAMILIES: &[&str] = &["m5", "m6g", "m7g", "r5", "r6g", "r6gd", "r7g", "c7gn"];

/// `GlobalReplicationGroupNotFoundFault` for `id`.
pub fn not_found(id: &str) -> ApiError {
    ApiError::global_replication_group_not_found(format!(
        "GlobalReplicationGroup not found: {}",
        id.trim().to_ascii_lowercase()
    ))
}

/// `InvalidGlobalReplicationGroupState` for a datastore that is in a transition.
pub fn busy(g: &GlobalGroupRecord) -> ApiError {
    ApiError::invalid_global_replication_group_state(format!(
        "Global replication group {} is not in a valid state for this operation (current state: {}).",
        g.id,
        g.status.as_str()
    ))
}

/// The ARN of a datastore: its region field is empty (it spans regions).
pub fn global_arn(region: &str, account: &str, id: &str) -> String {
    format!(
        "arn:{}:elasticache::{account}:globalreplicationgroup:{id}",
        arn::partition(region)
    )
}

/// The wire `GlobalReplicationGroup`; `Members` only when `members` (DescribeGlobal-
/// ReplicationGroups shows them with `ShowMemberInfo=true`).
pub fn render(
    ctx: &RequestContext,
    g: &GlobalGroupRecord,
    members: bool,
) -> GlobalReplicationGroup {
    let node_groups = g
        .node_groups
        .iter()
        .map(|(id, slots)| GlobalNodeGroup {
            global_node_group_id: Some(id.clone()),
            slots: g.cluster_enabled.then(|| {
                slots
                    .iter()
                    .map(|(a, b)| format!("{a}-{b}"))
                    .collect::<Vec<_>>()
                    .join(",")
            }),
        })
        .collect();
    let members = members.then(|| {
        g.members
            .iter()
            .map(|m| GlobalReplicationGroupMember {
                replication_group_id: Some(m.replication_group_id.clone()),
                replication_group_region: Some(m.region.clone()),
                role: Some(m.role.as_str().to_string()),
                automatic_failover: Some(
                    if m.automatic_failover {
                        "enabled"
                    } else {
                        "disabled"
                    }
                    .to_string(),
                ),
                status: Some(m.status.as_str().to_string()),
            })
            .collect()
    });
    GlobalReplicationGroup {
        arn: Some(global_arn(&ctx.region, &ctx.account, &g.id)),
        at_rest_encryption_enabled: Some(g.at_rest_encryption_enabled),
        auth_token_enabled: Some(g.auth_token_enabled),
        cache_node_type: Some(g.node_type.clone()),
        cluster_enabled: Some(g.cluster_enabled),
        engine: Some(g.engine.clone()),
        engine_version: Some(g.engine_version.clone()),
        global_node_groups: Some(node_groups),
        global_replication_group_description: Some(g.description.clone()),
        global_replication_group_id: Some(g.id.clone()),
        members,
        status: Some(g.status.as_str().to_string()),
        transit_encryption_enabled: Some(g.transit_encryption_enabled),
    }
}

/// The prefix of the parameter groups ElastiCache generates for global datastore members.
const GLOBAL_PARAMETER_GROUP_PREFIX: &str = "global-datastore-";

/// Whether a parameter group is one generated for a global datastore (`IsGlobal`).
pub fn is_global_parameter_group(name: &str) -> bool {
    name.starts_with(GLOBAL_PARAMETER_GROUP_PREFIX)
}

/// Gives a region the parameter group of datastore `gid` (AWS generates one, prefixed
/// `global-datastore-`, for every member when it joins), a copy of `source`'s family and
/// values, unless it has it already; answers its name. The member keeps it after leaving,
/// as an ordinary group that can be deleted once nothing uses it.
pub fn install_global_parameter_group(
    r: &mut Region,
    gid: &str,
    source: &ParameterGroupRecord,
) -> String {
    let name = format!("{GLOBAL_PARAMETER_GROUP_PREFIX}{gid}");
    r.parameter_groups
        .entry(name.clone())
        .or_insert_with(|| ParameterGroupRecord {
            name: name.clone(),
            family: source.family.clone(),
            description: format!("Parameter group of Global datastore {gid}"),
            is_default: false,
            system_values: source.system_values.clone(),
            user_values: source.user_values.clone(),
        });
    name
}

/// A node type global datastores accept (family and size as the User Guide lists them).
pub fn check_global_node_type(name: &str) -> Result<(), ApiError> {
    let mut parts = name.split('.');
    let (_, family, size) = (parts.next(), parts.next(), parts.next());
    let ok = family.is_some_and(|f| GLOBAL_FAMILIES.contains(&f))
        && size.is_some_and(|s| s.ends_with("large"));
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "Node type {name} is not supported for Global datastores; use a large or bigger M5, M6g, M7g, R5, R6g, R6gd, R7g or C7gn node type."
        )))
    }
}

/// The engine versions global datastores accept: Redis OSS 5.0.6 and later, Valkey 7.2 and
/// later (every Valkey version ElastiCache offers).
fn check_global_engine(engine: &str, version: &str) -> Result<(), ApiError> {
    if engine == "redis" && compare_versions(version, "5.0.6") == std::cmp::Ordering::Less {
        return Err(invalid(format!(
            "Global datastores require Redis OSS 5.0.6 or later; the replication group runs {version}."
        )));
    }
    Ok(())
}

/// The record of a new datastore over `primary` (checked available, not yet a member).
fn new_record(
    id: &str,
    description: String,
    region: &str,
    g: &crate::state::ReplicationGroupRecord,
) -> GlobalGroupRecord {
    GlobalGroupRecord {
        id: id.to_string(),
        description,
        status: GlobalStatus::Creating,
        engine: g.engine.clone(),
        engine_version: g.engine_version.clone(),
        node_type: g.node_type.clone(),
        cluster_enabled: g.cluster_enabled,
        auth_token_enabled: g.auth_token.is_some(),
        transit_encryption_enabled: g.transit_encryption_enabled,
        at_rest_encryption_enabled: g.at_rest_encryption_enabled,
        node_groups: g
            .node_groups
            .iter()
            .map(|ng| (format!("{id}-{}", ng.id), ng.slots.clone()))
            .collect(),
        members: vec![GlobalMemberRecord {
            replication_group_id: g.id.clone(),
            region: region.to_string(),
            role: GlobalRole::Primary,
            status: MemberStatus::Associated,
            automatic_failover: g.automatic_failover,
        }],
        generation: 1,
    }
}

/// CreateGlobalReplicationGroup: the caller's `available` replication group becomes the
/// primary of a new datastore `<region prefix>-<suffix>`.
pub fn create_global_replication_group(
    svc: &Service,
    ctx: &RequestContext,
    input: CreateGlobalReplicationGroupInput,
) -> Result<CreateGlobalReplicationGroupOutput, ApiError> {
    let suffix = validate::replication_group_id(&input.global_replication_group_id_suffix)
        .map_err(|e| invalid(e.replace("ReplicationGroupId", "GlobalReplicationGroupIdSuffix")))?;
    let id = format!("{}-{suffix}", region_prefix(&ctx.region));
    let now = svc.inner.store.now();
    let region = svc.region(ctx);
    let mut r = lock(&region);
    let exists = || {
        ApiError::global_replication_group_already_exists(format!(
            "Global replication group {id} already exists."
        ))
    };
    if svc.inner.store.globals().get(&ctx.account, &id).is_some() {
        return Err(exists());
    }
    let g = r.available_group(&input.primary_replication_group_id)?;
    if let Some(m) = &g.global {
        return Err(ApiError::invalid_replication_group_state(format!(
            "Replication group {} is already a member of Global datastore {}.",
            g.id, m.id
        )));
    }
    check_global_node_type(&g.node_type)?;
    check_global_engine(&g.engine, &g.engine_version)?;
    let description = input
        .global_replication_group_description
        .unwrap_or_default();
    let record = new_record(&id, description, &ctx.region, g);
    let gid = g.id.clone();
    {
        let mut globals = svc.inner.store.globals();
        if globals.get(&ctx.account, &id).is_some() {
            return Err(exists());
        }
        globals.insert(&ctx.account, record.clone());
    }
    let source = r.parameter_groups.get(&g.parameter_group).cloned();
    let members = g.member_ids();
    if let Some(source) = source {
        let pg = install_global_parameter_group(&mut r, &id, &source);
        for m in &members {
            if let Some(c) = r.clusters.get_mut(m) {
                c.parameter_group = pg.clone();
            }
        }
        if let Some(g) = r.replication_groups.get_mut(&gid) {
            g.parameter_group = pg;
        }
    }
    if let Some(g) = r.replication_groups.get_mut(&gid) {
        g.global = Some(GlobalMembership {
            id: id.clone(),
            role: GlobalRole::Primary,
        });
    }
    r.event(
        SourceType::ReplicationGroup,
        &gid,
        format!("Replication group {gid} became the primary of Global datastore {id}"),
        now,
    );
    drop(r);
    svc.spawn_global_settle(ctx.account.clone(), id, record.generation);
    Ok(CreateGlobalReplicationGroupOutput {
        global_replication_group: Some(render(ctx, &record, true)),
    })
}

/// DescribeGlobalReplicationGroups: one (`GlobalReplicationGroupId`) or every datastore of
/// the account, in id order, members with `ShowMemberInfo=true`.
pub fn describe_global_replication_groups(
    svc: &Service,
    ctx: &RequestContext,
    input: DescribeGlobalReplicationGroupsInput,
) -> Result<DescribeGlobalReplicationGroupsOutput, ApiError> {
    let max = page_size(input.max_records)?;
    let members = input.show_member_info.unwrap_or(false);
    let rendered: Vec<GlobalReplicationGroup> = {
        let globals = svc.inner.store.globals();
        match &input.global_replication_group_id {
            Some(id) => {
                let g = globals.get(&ctx.account, id).ok_or_else(|| not_found(id))?;
                vec![render(ctx, g, members)]
            }
            None => globals
                .of(&ctx.account)
                .map(|g| render(ctx, g, members))
                .collect(),
        }
    };
    let page = page(rendered, input.marker.as_deref(), max)?;
    Ok(DescribeGlobalReplicationGroupsOutput {
        global_replication_groups: Some(page.items),
        marker: page.marker,
    })
}

/// DeleteGlobalReplicationGroup: only once the primary is the last member, and only keeping
/// it (`RetainPrimaryReplicationGroup=true`), as AWS requires; the primary becomes a plain
/// replication group again.
pub fn delete_global_replication_group(
    svc: &Service,
    ctx: &RequestContext,
    input: DeleteGlobalReplicationGroupInput,
) -> Result<DeleteGlobalReplicationGroupOutput, ApiError> {
    let id = input
        .global_replication_group_id
        .trim()
        .to_ascii_lowercase();
    let mut globals = svc.inner.store.globals();
    let g = globals
        .get_mut(&ctx.account, &id)
        .ok_or_else(|| not_found(&id))?;
    if !input.retain_primary_replication_group {
        return Err(invalid(
            "RetainPrimaryReplicationGroup must be true: the primary replication group is kept as a standalone replication group.",
        ));
    }
    if !g.status.is_settled() {
        return Err(busy(g));
    }
    if g.secondaries().next().is_some() {
        return Err(ApiError::invalid_global_replication_group_state(format!(
            "Global replication group {id} still has secondary members; disassociate them first."
        )));
    }
    g.status = GlobalStatus::Deleting;
    g.generation += 1;
    let out = render(ctx, g, true);
    let generation = g.generation;
    drop(globals);
    svc.spawn_global_delete(ctx.account.clone(), id, generation);
    Ok(DeleteGlobalReplicationGroupOutput {
        global_replication_group: Some(out),
    })
}

/// A member group as a task reaches it: (account, region, id) → its current [`GroupRef`].
pub fn member_ref(svc: &Service, account: &str, region: &str, id: &str) -> Option<GroupRef> {
    let reg = svc.inner.store.region(account, region);
    let r = lock(&reg);
    r.replication_groups.get(id).map(|g| GroupRef::of(&r, g))
}

impl Service {
    /// Waits the configured transition delay (none by default).
    pub(crate) async fn global_delay(&self) {
        if !self.inner.create_delay.is_zero() {
            tokio::time::sleep(self.inner.create_delay).await;
        }
    }

    /// `creating`/`modifying` → `primary-only` or `available`, if nothing started since.
    pub(crate) fn settle_global(&self, account: &str, id: &str, generation: u64) {
        let mut globals = self.inner.store.globals();
        if let Some(g) = globals.get_mut(account, id)
            && g.generation == generation
            && g.status != GlobalStatus::Deleting
        {
            g.status = g.settled_status();
        }
    }

    /// The `creating` task of a new datastore.
    fn spawn_global_settle(&self, account: String, id: String, generation: u64) {
        let svc = self.clone();
        tokio::spawn(async move {
            svc.global_delay().await;
            svc.settle_global(&account, &id, generation);
        });
    }

    /// `deleting` → gone: the primary forgets its membership, the record goes.
    fn spawn_global_delete(&self, account: String, id: String, generation: u64) {
        let svc = self.clone();
        tokio::spawn(async move {
            svc.global_delay().await;
            let primary = {
                let globals = svc.inner.store.globals();
                match globals.get(&account, &id) {
                    Some(g) if g.generation == generation => g.primary().cloned(),
                    _ => return,
                }
            };
            let now = svc.inner.store.now();
            if let Some(p) = primary {
                let reg = svc.inner.store.region(&account, &p.region);
                let mut r = lock(&reg);
                if let Some(g) = r.replication_groups.get_mut(&p.replication_group_id) {
                    g.global = None;
                }
                r.event(
                    SourceType::ReplicationGroup,
                    &p.replication_group_id,
                    format!("Global datastore {id} deleted"),
                    now,
                );
            }
            svc.inner.store.globals().remove(&account, &id);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_types_and_engines_follow_the_user_guide() {
        for ok in [
            "cache.m5.large",
            "cache.r6g.xlarge",
            "cache.r6gd.2xlarge",
            "cache.c7gn.large",
        ] {
            assert!(check_global_node_type(ok).is_ok(), "{ok}");
        }
        for refused in [
            "cache.t3.micro",
            "cache.m4.large",
            "cache.t4g.medium",
            "cache.r5",
        ] {
            let e = check_global_node_type(refused).err();
            assert_eq!(
                e.map(|e| e.wire_code()),
                Some("InvalidParameterValue"),
                "{refused}"
            );
        }
        assert!(check_global_engine("redis", "5.0.6").is_ok());
        assert!(check_global_engine("redis", "5.0.5").is_err());
        assert!(check_global_engine("valkey", "7.2.4").is_ok());
        assert_eq!(
            global_arn("us-east-1", "000000000000", "ldgnf-x"),
            "arn:aws:elasticache::000000000000:globalreplicationgroup:ldgnf-x"
        );
    }
}
