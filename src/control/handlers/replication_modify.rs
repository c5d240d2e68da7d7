//! ModifyReplicationGroup: description, node type, engine version, parameter
//! group, security groups, windows, retention, automatic failover / Multi-AZ, the primary
//! switch (`PrimaryClusterId`), `SnapshottingClusterId`, AUTH token (applied live) and RBAC
//! user groups.
//!
//! Place in the flow: a plan computes the group as it will be (reading the region only), the
//! apply writes it (Terraform reads actual values back) and the answer shows `modifying`; a
//! task then restarts in place (same address, keyspace kept) members whose node spec changed
//! (replicas first, then the primary after a failover), pushes parameter values to the
//! running nodes, performs a primary switch, and re-applies the topology.

use time::OffsetDateTime;

use crate::control::api::*;
use crate::control::context::RequestContext;
use crate::control::error::ApiError;
use crate::control::validate::checks::*;
use crate::state::{ClusterStatus, GroupStatus, NodeStatus, Region, ReplicationGroupRecord, lock};
use crate::supervisor::TransitMode;

use super::Service;
use super::cluster_mode::{ModeSwitch, plan_cluster_mode};
use super::common::*;
use super::lifecycle::{ClusterRef, node_spec};
use super::rbac_attach::{UserGroupRequest, modify_user_groups};
use super::replication_lifecycle::GroupRef;
use super::replication_render::render_group;

/// The engine work a modification needs.
#[derive(Default)]
struct Plan {
    restart: bool,
    push_parameters: bool,
    new_primary: Option<String>,
    /// The new TransitEncryptionMode of the nodes and endpoints, when it changes
    /// (`Some(None)`: encryption in transit switched off).
    transit: Option<Option<TransitMode>>,
    /// The AUTH token or the attached user groups changed: nodes take them live.
    push_auth: bool,
    /// The cluster mode switch the nodes and endpoints follow, when `ClusterMode` changes.
    cluster_mode: Option<ModeSwitch>,
}

/// The AUTH token (`AuthToken` + `AuthTokenUpdateStrategy`) and user group
/// (`UserGroupIdsToAdd` / `UserGroupIdsToRemove` / `RemoveUserGroups`) changes, planned
/// together because AWS ties them: DELETE moves to RBAC, a token comes back only with every
/// user group removed. Answers whether the nodes' authentication changes.
fn plan_authentication(
    r: &Region,
    input: &ModifyReplicationGroupInput,
    g: &mut ReplicationGroupRecord,
    now: OffsetDateTime,
) -> Result<bool, ApiError> {
    let change = auth_token_change(
        input.auth_token_update_strategy.as_deref(),
        input.auth_token.as_ref(),
        g.transit_encryption_enabled,
    )?;
    let request = UserGroupRequest {
        add: input.user_group_ids_to_add.as_deref().unwrap_or(&[]),
        remove: input.user_group_ids_to_remove.as_deref().unwrap_or(&[]),
        remove_all: input.remove_user_groups.unwrap_or(false),
        deletes_token: change == Some(TokenChange::Delete),
        sets_token: matches!(change, Some(TokenChange::Rotate(_) | TokenChange::Set(_))),
    };
    let groups_changed = modify_user_groups(r, g, &request)?;
    let token_changed = change.is_some();
    if let Some(change) = change {
        token_change_supported(&g.engine, &g.engine_version)?;
        g.pending_auth_token_status = Some(change.status().to_string());
        apply_token_change(&mut g.auth_token, &mut g.auth_token_previous, change)?;
        g.auth_token_last_modified = Some(now);
    }
    Ok(groups_changed || token_changed)
}

/// In-place migration of encryption in transit, with ElastiCache's two-step rule: it is
/// switched on with mode `preferred` (plaintext and TLS both served while clients move), then
/// set to `required`; switching it off goes back through `preferred` the same way.
fn plan_transit_encryption(
    input: &ModifyReplicationGroupInput,
    g: &mut ReplicationGroupRecord,
) -> Result<(), ApiError> {
    let mode = input.transit_encryption_mode.as_deref();
    if let Some(m) = mode
        && !matches!(m, "preferred" | "required")
    {
        return Err(invalid(format!(
            "Invalid value for TransitEncryptionMode: {m}"
        )));
    }
    let was = g.transit_encryption_enabled;
    let now = input.transit_encryption_enabled.unwrap_or(was);
    let current = g.transit_encryption_mode.as_deref();
    match (was, now) {
        (false, false) if mode.is_some() => Err(combination(
            "TransitEncryptionMode can only be set when TransitEncryptionEnabled is true.",
        )),
        (false, false) => Ok(()),
        (false, true) if mode != Some("preferred") => Err(combination(
            "To enable in-transit encryption on an existing replication group, set \
             TransitEncryptionMode to preferred first; set it to required once every client \
             uses TLS.",
        )),
        (true, false) if current != Some("preferred") || mode.is_some() => Err(combination(
            "To disable in-transit encryption, set TransitEncryptionMode to preferred first.",
        )),
        (true, false) if g.auth_token.is_some() => Err(combination(
            "In-transit encryption cannot be disabled while an AUTH token is set.",
        )),
        (_, enabled) => {
            g.transit_encryption_enabled = enabled;
            g.transit_encryption_mode = match (enabled, mode) {
                (false, _) => None,
                (true, Some(m)) => Some(m.to_string()),
                (true, None) => g.transit_encryption_mode.clone(),
            };
            Ok(())
        }
    }
}

/// Plan of the node type, engine version and parameter group of a modified group.
fn plan_group_engine(
    r: &Region,
    input: &ModifyReplicationGroupInput,
    g: &mut ReplicationGroupRecord,
    old: &ReplicationGroupRecord,
) -> Result<(), ApiError> {
    if let Some(t) = &input.cache_node_type {
        g.node_type = node_type_for(t, &g.engine)?.name.clone();
    }
    if let Some(v) = &input.engine_version {
        let ver = upgrade_version(&g.engine, &g.engine_version, v)?;
        if ver.family != g.family && input.cache_parameter_group_name.is_none() {
            g.parameter_group = upgraded_parameter_group(
                r,
                &g.parameter_group,
                &ver.family,
                g.runs_cluster_mode(),
            )?;
        }
        g.engine_version = ver.full_version.clone();
        g.family = ver.family.clone();
    }
    if let Some(name) = &input.cache_parameter_group_name {
        g.parameter_group = name.to_ascii_lowercase();
    }
    if g.parameter_group != old.parameter_group || g.family != old.family {
        let cluster_on = parameter_group_family(r, &g.parameter_group, &g.family)?;
        if cluster_on != g.runs_cluster_mode() {
            return Err(combination(
                "The parameter group's cluster-enabled value does not match the replication group's cluster mode.",
            ));
        }
    }
    Ok(())
}

/// Plan of the roles of a modified group: automatic failover, Multi-AZ, cluster mode, the
/// primary (returned when it changes) and the snapshotting member.
fn plan_group_roles(
    input: &ModifyReplicationGroupInput,
    g: &mut ReplicationGroupRecord,
) -> Result<Option<String>, ApiError> {
    let mut new_primary = None;
    let replicas = g
        .node_groups
        .iter()
        .map(|ng| ng.members.len() - 1)
        .min()
        .unwrap_or(0);
    if let Some(af) = input.automatic_failover_enabled {
        if !af && g.cluster_enabled {
            return Err(combination(
                "Automatic failover cannot be disabled for a cluster mode enabled replication group.",
            ));
        }
        if af && replicas == 0 {
            return Err(combination(
                "Automatic failover requires at least one read replica.",
            ));
        }
        g.automatic_failover = af;
    }
    if let Some(m) = input.multi_az_enabled {
        g.multi_az = m;
    }
    if g.multi_az && !g.automatic_failover {
        return Err(combination(
            "Multi-AZ requires automatic failover to be enabled.",
        ));
    }
    if let Some(p) = &input.primary_cluster_id {
        let p = p.trim().to_ascii_lowercase();
        if g.cluster_enabled {
            return Err(combination(
                "PrimaryClusterId is not supported for cluster mode enabled replication groups.",
            ));
        }
        if !g.node_groups[0].members.contains(&p) {
            return Err(ApiError::cache_cluster_not_found(format!(
                "CacheCluster not found: {p}"
            )));
        }
        if p != g.node_groups[0].primary {
            new_primary = Some(p.clone());
            g.pending_primary = Some(p);
        }
    }
    if let Some(s) = &input.snapshotting_cluster_id {
        let s = s.trim().to_ascii_lowercase();
        if !g.member_ids().contains(&s) {
            return Err(ApiError::cache_cluster_not_found(format!(
                "CacheCluster not found: {s}"
            )));
        }
        g.snapshotting_cluster_id = Some(s);
    }
    Ok(new_primary)
}

/// Plan of ModifyReplicationGroup: the group as it will be and the engine work; the region
/// is only read.
fn plan_group_modify(
    r: &Region,
    input: &ModifyReplicationGroupInput,
    schedule: ModifySchedule,
    now: OffsetDateTime,
) -> Result<(ReplicationGroupRecord, Plan), ApiError> {
    let ModifySchedule {
        maintenance,
        snapshot_window,
        retention,
    } = schedule;
    let old = r.available_group(&input.replication_group_id)?;
    let mut g: ReplicationGroupRecord = old.clone();
    let mut plan = Plan {
        cluster_mode: plan_cluster_mode(r, input, &mut g)?,
        ..Plan::default()
    };
    if let Some(d) = &input.replication_group_description {
        non_blank("ReplicationGroupDescription", d)?;
        g.description = d.clone();
    }
    plan_group_engine(r, input, &mut g, old)?;
    if let Some(names) = &input.cache_security_group_names {
        g.cache_security_groups = security_groups(r, names)?;
    }
    if let Some(ids) = &input.security_group_ids {
        g.security_group_ids = ids.clone();
    }
    if let Some(w) = maintenance {
        g.maintenance_window = w;
    }
    if let Some(w) = snapshot_window {
        g.snapshot_window = w;
    }
    if let Some(l) = retention {
        g.snapshot_retention_limit = l;
    }
    if let Some(b) = input.auto_minor_version_upgrade {
        g.auto_minor_version_upgrade = b;
    }
    plan.new_primary = plan_group_roles(input, &mut g)?;
    plan.push_auth = plan_authentication(r, input, &mut g, now)?;
    plan_transit_encryption(input, &mut g)?;
    plan.transit = (g.transit_encryption_enabled != old.transit_encryption_enabled
        || g.transit_encryption_mode != old.transit_encryption_mode)
        .then(|| {
            TransitMode::from_record(
                g.transit_encryption_enabled,
                g.transit_encryption_mode.as_deref(),
            )
        });
    plan.restart = g.node_type != old.node_type || g.engine_version != old.engine_version;
    plan.push_parameters = g.parameter_group != old.parameter_group;
    let touched_other = input.notification_topic_arn.is_some()
        || input.notification_topic_status.is_some()
        || input.ip_discovery.is_some()
        || input.log_delivery_configurations.is_some();
    if !plan.restart
        && plan.cluster_mode.is_none()
        && !plan.push_auth
        && !plan.push_parameters
        && plan.new_primary.is_none()
        && !touched_other
        && same_settings(&g, old)
    {
        return Err(combination("No modifications were requested."));
    }
    Ok((g, plan))
}

/// Apply: members mirror the group's settings (and go `modifying` when they restart), the
/// group begins its `modifying` transition and replaces the old record.
fn apply_group_modify(
    r: &mut Region,
    mut g: ReplicationGroupRecord,
    restart: bool,
) -> Result<(ReplicationGroupRecord, GroupRef), ApiError> {
    // Member clusters mirror the group's settings.
    for m in g.member_ids() {
        if let Some(c) = r.clusters.get_mut(&m) {
            c.node_type = g.node_type.clone();
            c.engine_version = g.engine_version.clone();
            c.family = g.family.clone();
            c.parameter_group = g.parameter_group.clone();
            c.security_group_ids = g.security_group_ids.clone();
            c.cache_security_groups = g.cache_security_groups.clone();
            c.maintenance_window = g.maintenance_window.clone();
            c.snapshot_window = Some(g.snapshot_window.clone());
            c.snapshot_retention_limit = Some(g.snapshot_retention_limit);
            c.auth_token = g.auth_token.clone();
            c.auth_token_previous = g.auth_token_previous.clone();
            c.auth_token_last_modified = g.auth_token_last_modified;
            c.transit_encryption_enabled = g.transit_encryption_enabled;
            c.transit_encryption_mode = g.transit_encryption_mode.clone();
            c.auto_minor_version_upgrade = g.auto_minor_version_upgrade;
            if restart {
                c.follow_group(ClusterStatus::Modifying);
            }
        }
    }
    g.begin(GroupStatus::Modifying, None)?;
    let gref = GroupRef::of(r, &g);
    r.replication_groups.insert(g.id.clone(), g.clone());
    Ok((g, gref))
}

/// ModifyReplicationGroup. A global datastore member's node type, engine version, parameter
/// group and automatic failover belong to the datastore (ModifyGlobalReplicationGroup); AWS
/// rejects them here.
pub async fn modify_replication_group(
    svc: &Service,
    ctx: &RequestContext,
    input: ModifyReplicationGroupInput,
) -> Result<ModifyReplicationGroupOutput, ApiError> {
    svc.check_keys_in_db0(ctx, &input).await?;
    let datastore_managed = input.cache_node_type.is_some()
        || input.engine_version.is_some()
        || input.cache_parameter_group_name.is_some()
        || input.automatic_failover_enabled.is_some();
    if datastore_managed {
        refuse_global_member(svc, ctx, &input.replication_group_id)?;
    }
    modify_group(svc, ctx, input)
}

/// A member of a global datastore is changed through the datastore: AWS answers a direct
/// change with this error (ModifyReplicationGroup, ModifyReplicationGroupShardConfiguration).
pub(super) fn refuse_global_member(
    svc: &Service,
    ctx: &RequestContext,
    group_id: &str,
) -> Result<(), ApiError> {
    let region = svc.region(ctx);
    let r = lock(&region);
    if let Ok(g) = r.group(group_id)
        && let Some(m) = &g.global
    {
        return Err(invalid(format!(
            "Cluster [{}] is part of a global cluster [{}]. Request rejected.",
            g.id, m.id
        )));
    }
    Ok(())
}

/// ModifyReplicationGroup without the datastore check (ModifyGlobalReplicationGroup applies
/// its changes to each member through here): plan, apply, then spawn the engine work.
pub fn modify_group(
    svc: &Service,
    ctx: &RequestContext,
    input: ModifyReplicationGroupInput,
) -> Result<ModifyReplicationGroupOutput, ApiError> {
    let schedule = modify_schedule(
        input.preferred_maintenance_window.as_deref(),
        input.snapshot_window.as_deref(),
        input.snapshot_retention_limit,
        input.auth_token.as_ref(),
    )?;
    let now = svc.inner.store.now();
    let region = svc.region(ctx);
    let (out, gref, plan) = {
        let mut r = lock(&region);
        let (g, plan) = plan_group_modify(&r, &input, schedule, now)?;
        let (g, gref) = apply_group_modify(&mut r, g, plan.restart)?;
        (render_group(ctx, &r, &g), gref, plan)
    };
    let svc2 = svc.clone();
    tokio::spawn(async move {
        let result = svc2.run_group_modify(&gref, plan).await;
        let msg = format!("Replication group {} modified", gref.id);
        svc2.finish_group(&gref, result, false, Some(msg));
    });
    Ok(ModifyReplicationGroupOutput {
        replication_group: Some(out),
    })
}

/// Whether two records agree on everything a modification can change.
fn same_settings(a: &ReplicationGroupRecord, b: &ReplicationGroupRecord) -> bool {
    a.description == b.description
        && a.security_group_ids == b.security_group_ids
        && a.cache_security_groups == b.cache_security_groups
        && a.maintenance_window == b.maintenance_window
        && a.snapshot_window == b.snapshot_window
        && a.snapshot_retention_limit == b.snapshot_retention_limit
        && a.auto_minor_version_upgrade == b.auto_minor_version_upgrade
        && a.automatic_failover == b.automatic_failover
        && a.multi_az == b.multi_az
        && a.cluster_mode == b.cluster_mode
        && a.snapshotting_cluster_id == b.snapshotting_cluster_id
        && a.auth_token_last_modified == b.auth_token_last_modified
        && a.user_group_ids == b.user_group_ids
        && a.transit_encryption_enabled == b.transit_encryption_enabled
        && a.transit_encryption_mode == b.transit_encryption_mode
}

impl Service {
    async fn run_group_modify(&self, gref: &GroupRef, plan: Plan) -> Result<(), String> {
        if let Some(switch) = plan.cluster_mode {
            self.switch_cluster_mode(gref, switch).await?;
        }
        if plan.restart {
            self.rolling_restart(gref).await?;
        }
        if plan.push_auth {
            self.push_users(&gref.account, &gref.region, std::slice::from_ref(&gref.id))
                .await;
            self.with_group(gref, |r| {
                if let Some(g) = r.replication_groups.get_mut(&gref.id) {
                    g.pending_user_groups = None;
                    g.pending_auth_token_status = None;
                }
            });
        }
        if plan.push_parameters {
            let work = self
                .with_group(gref, |r| {
                    let g = r.replication_groups.get(&gref.id)?;
                    Some((g.member_ids(), r.effective_parameters(&g.parameter_group)))
                })
                .flatten();
            if let Some((members, params)) = work {
                for m in members {
                    let key = gref.node_key(&m);
                    if let Err(err) = self.inner.supervisor.apply_parameters(&key, &params).await {
                        tracing::warn!(node = %key, %err, "parameters not applied");
                    }
                }
            }
        }
        if let Some(mode) = plan.transit {
            self.migrate_transit_encryption(gref, mode).await?;
        }
        if let Some(p) = plan.new_primary {
            let shard = "0001".to_string();
            self.fail_over(gref, &shard, Some(p)).await?;
        }
        self.sync_topology(gref).await
    }

    /// Moves every member node and the group's endpoints to `mode` in place.
    async fn migrate_transit_encryption(
        &self,
        gref: &GroupRef,
        mode: Option<TransitMode>,
    ) -> Result<(), String> {
        let members = self
            .with_group(gref, |r| {
                Some(r.replication_groups.get(&gref.id)?.member_ids())
            })
            .flatten()
            .unwrap_or_default();
        let keys: Vec<String> = members.iter().map(|m| gref.node_key(m)).collect();
        let endpoints: Vec<String> = ["primary", "reader", "configuration"]
            .iter()
            .map(|e| gref.endpoint_name(e))
            .collect();
        self.inner
            .supervisor
            .set_transit_encryption(&keys, &endpoints, mode)
            .await
            .map_err(|e| format!("Failed to change in-transit encryption: {e}"))
    }

    /// Restarts every member with its new spec, replicas first (they re-synchronise from the
    /// primary), then each shard's primary after failing over to a replica when it has one.
    async fn rolling_restart(&self, gref: &GroupRef) -> Result<(), String> {
        let shards = self
            .with_group(gref, |r| {
                let g = r.replication_groups.get(&gref.id)?;
                Some(
                    g.node_groups
                        .iter()
                        .map(|ng| {
                            (
                                ng.id.clone(),
                                ng.primary.clone(),
                                ng.replicas().cloned().collect::<Vec<_>>(),
                            )
                        })
                        .collect::<Vec<_>>(),
                )
            })
            .flatten()
            .unwrap_or_default();
        for (shard, primary, replicas) in shards {
            for m in &replicas {
                self.restart_member(gref, m).await?;
            }
            self.sync_topology(gref).await?;
            if replicas.is_empty() {
                self.restart_member(gref, &primary).await?;
            } else {
                self.fail_over(gref, &shard, None).await?;
                self.restart_member(gref, &primary).await?;
            }
            self.sync_topology(gref).await?;
        }
        Ok(())
    }

    /// Restarts a member's node in place with the spec of its current record (same address,
    /// keyspace kept; the topology sync that follows re-links it).
    pub(crate) async fn restart_member(&self, gref: &GroupRef, member: &str) -> Result<(), String> {
        let spec = self
            .with_group(gref, |r| {
                let g = r.replication_groups.get(&gref.id)?;
                let c = r.clusters.get(member)?;
                let mut spec = node_spec(r, c, &ClusterRef::of(r, c), "0001");
                spec.cluster_enabled = g.runs_cluster_mode();
                Some(spec)
            })
            .flatten();
        let Some(spec) = spec else { return Ok(()) };
        let ep = self
            .inner
            .supervisor
            .respec_node(spec)
            .await
            .map_err(|e| format!("Failed to restart cache node 0001 of {member}: {e}"))?;
        self.with_group(gref, |r| {
            if let Some(c) = r.clusters.get_mut(member)
                && let Some(n) = c.nodes.first_mut()
            {
                n.endpoint = Some(crate::state::EndpointRecord {
                    address: ep.address.clone(),
                    ip: ep.ip,
                    port: ep.port,
                });
                n.complete(NodeStatus::Available);
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2025-01-01 00:00 UTC);

    fn region_with_group(status: GroupStatus) -> Region {
        let mut r = Region::new("000000000000", "us-east-1", NOW);
        let mut g = ReplicationGroupRecord {
            id: "g".to_string(),
            description: "d".to_string(),
            status,
            engine: "redis".to_string(),
            engine_version: "7.1.0".to_string(),
            family: "redis7".to_string(),
            node_type: "cache.t3.micro".to_string(),
            port: 6379,
            parameter_group: "default.redis7".to_string(),
            subnet_group: "default".to_string(),
            security_group_ids: Vec::new(),
            cache_security_groups: Vec::new(),
            cluster_enabled: false,
            cluster_mode: "disabled".to_string(),
            automatic_failover: false,
            multi_az: false,
            node_groups: Vec::new(),
            primary_endpoint: None,
            reader_endpoint: None,
            configuration_endpoint: None,
            auth_token: None,
            auth_token_previous: None,
            auth_token_last_modified: None,
            transit_encryption_enabled: false,
            transit_encryption_mode: None,
            at_rest_encryption_enabled: false,
            kms_key_id: None,
            snapshot_retention_limit: 0,
            snapshot_window: "05:00-06:00".to_string(),
            snapshotting_cluster_id: None,
            maintenance_window: DEFAULT_MAINTENANCE_WINDOW.to_string(),
            auto_minor_version_upgrade: true,
            network_type: "ipv4".to_string(),
            ip_discovery: "ipv4".to_string(),
            data_tiering: "disabled".to_string(),
            create_time: NOW,
            pending_primary: None,
            final_snapshot: None,
            generation: 1,
            user_group_ids: Vec::new(),
            pending_user_groups: None,
            pending_auth_token_status: None,
            global: None,
            resharding_progress: None,
        };
        g.node_groups.push(crate::state::NodeGroupRecord {
            id: "0001".to_string(),
            slots: Vec::new(),
            members: vec!["g-001".to_string()],
            primary: "g-001".to_string(),
            status,
        });
        let member = g.new_member("g-001", "us-east-1a", NOW);
        r.insert_cluster(member);
        r.insert_group(g);
        r
    }

    fn modify(input: ModifyReplicationGroupInput) -> ModifyReplicationGroupInput {
        ModifyReplicationGroupInput {
            replication_group_id: "G".to_string(),
            ..input
        }
    }

    fn plan(
        r: &Region,
        input: &ModifyReplicationGroupInput,
    ) -> Result<(ReplicationGroupRecord, Plan), ApiError> {
        let schedule = modify_schedule(None, None, None, None)?;
        plan_group_modify(r, input, schedule, NOW)
    }

    fn error<T>(r: Result<T, ApiError>) -> Option<(&'static str, String)> {
        r.err().map(|e| (e.wire_code(), e.message().to_string()))
    }

    #[test]
    fn group_modify_plans_answer_aws_errors() {
        let busy = region_with_group(GroupStatus::Creating);
        assert_eq!(
            error(plan(&busy, &modify(Default::default()))),
            Some((
                "InvalidReplicationGroupState",
                "Replication group g is not in available state (current state: creating)."
                    .to_string()
            ))
        );
        let r = region_with_group(GroupStatus::Available);
        assert_eq!(
            error(plan(&r, &modify(Default::default()))),
            Some((
                "InvalidParameterCombination",
                "No modifications were requested.".to_string()
            ))
        );
        let failover = modify(ModifyReplicationGroupInput {
            automatic_failover_enabled: Some(true),
            ..Default::default()
        });
        assert_eq!(
            error(plan(&r, &failover)),
            Some((
                "InvalidParameterCombination",
                "Automatic failover requires at least one read replica.".to_string()
            ))
        );
        let downgrade = modify(ModifyReplicationGroupInput {
            engine_version: Some("6.2".to_string()),
            ..Default::default()
        });
        assert_eq!(
            error(plan(&r, &downgrade)).map(|e| e.0),
            Some("InvalidParameterValue")
        );
    }

    #[test]
    fn a_node_type_change_plans_a_restart_and_apply_marks_members_modifying() {
        let mut r = region_with_group(GroupStatus::Available);
        let bigger = modify(ModifyReplicationGroupInput {
            cache_node_type: Some("cache.m5.large".to_string()),
            ..Default::default()
        });
        let planned = plan(&r, &bigger).ok();
        assert_eq!(
            planned
                .as_ref()
                .map(|(g, p)| (g.node_type.as_str(), p.restart)),
            Some(("cache.m5.large", true))
        );
        // Planning changed nothing yet.
        assert_eq!(
            r.group("g").map(|g| g.node_type.clone()).ok().as_deref(),
            Some("cache.t3.micro")
        );
        let applied = planned.and_then(|(g, p)| apply_group_modify(&mut r, g, p.restart).ok());
        assert_eq!(
            applied.map(|(g, gref)| (g.status, gref.generation)),
            Some((GroupStatus::Modifying, 2))
        );
        let member = r.cluster("g-001").ok();
        assert_eq!(
            member.map(|c| (c.status, c.node_type.as_str())),
            Some((ClusterStatus::Modifying, "cache.m5.large"))
        );
    }
}
