//! ModifyReplicationGroup (reference §2.8): description, node type, engine version, parameter
//! group, security groups, windows, retention, automatic failover / Multi-AZ, the primary
//! switch (`PrimaryClusterId`), `SnapshottingClusterId`, AUTH token.
//!
//! Place in the flow: everything is applied now (Terraform reads actual values back), the
//! answer shows `modifying`; a task then restarts members whose node spec changed (replicas
//! first, then the primary after a failover, so data survives), pushes parameter values to
//! the running nodes, performs a primary switch, and re-applies the topology.

use crate::catalog::compare_versions;
use crate::control::api::*;
use crate::control::context::RequestContext;
use crate::control::error::ApiError;
use crate::control::validate::checks::*;
use crate::state::{ClusterStatus, GroupStatus, NodeStatus, ReplicationGroupRecord, lock};

use super::Service;
use super::common::*;
use super::lifecycle::{ClusterRef, node_spec};
use super::replication_lifecycle::GroupRef;
use super::replication_render::render_group;

/// The engine work a modification needs.
#[derive(Default)]
struct Plan {
    restart: bool,
    push_parameters: bool,
    new_primary: Option<String>,
}

/// ModifyReplicationGroup.
pub fn modify_replication_group(
    svc: &Service,
    ctx: &RequestContext,
    input: ModifyReplicationGroupInput,
) -> Result<ModifyReplicationGroupOutput, ApiError> {
    let ModifySchedule {
        maintenance,
        snapshot_window,
        retention,
    } = modify_schedule(
        input.preferred_maintenance_window.as_deref(),
        input.snapshot_window.as_deref(),
        input.snapshot_retention_limit,
        input.auth_token.as_ref(),
    )?;
    let now = svc.inner.store.now();
    let region = svc.region(ctx);
    let (out, gref, plan) = {
        let mut r = lock(&region);
        let old = r.available_group(&input.replication_group_id)?.clone();
        let mut g: ReplicationGroupRecord = old.clone();
        let mut plan = Plan::default();
        if let Some(d) = &input.replication_group_description {
            non_blank("ReplicationGroupDescription", d)?;
            g.description = d.clone();
        }
        if let Some(t) = &input.cache_node_type {
            g.node_type = node_type_for(t, &g.engine)?.name.clone();
        }
        if let Some(v) = &input.engine_version {
            let ver = engine_version(&g.engine, Some(v))?;
            if compare_versions(&ver.full_version, &g.engine_version) == std::cmp::Ordering::Less {
                return Err(invalid(format!(
                    "Cannot downgrade {} from {} to {}.",
                    g.engine, g.engine_version, ver.full_version
                )));
            }
            if ver.family != g.family && input.cache_parameter_group_name.is_none() {
                let current = r.parameter_groups.get(&g.parameter_group);
                if current.is_some_and(|p| p.is_default) {
                    g.parameter_group = if g.cluster_enabled {
                        format!("default.{}.cluster.on", ver.family)
                    } else {
                        format!("default.{}", ver.family)
                    };
                } else {
                    return Err(combination(format!(
                        "The engine version upgrade changes the parameter group family to {}; specify a CacheParameterGroupName of that family.",
                        ver.family
                    )));
                }
            }
            g.engine_version = ver.full_version.clone();
            g.family = ver.family.clone();
        }
        if let Some(name) = &input.cache_parameter_group_name {
            g.parameter_group = name.to_ascii_lowercase();
        }
        if g.parameter_group != old.parameter_group || g.family != old.family {
            let pg = r.parameter_groups.get(&g.parameter_group).ok_or_else(|| {
                ApiError::cache_parameter_group_not_found(format!(
                    "CacheParameterGroup not found: {}",
                    g.parameter_group
                ))
            })?;
            if pg.family != g.family {
                return Err(combination(format!(
                    "The parameter group {} has family {} which does not match the engine version family {}.",
                    g.parameter_group, pg.family, g.family
                )));
            }
            let cluster_on = r
                .effective_parameters(&g.parameter_group)
                .get("cluster-enabled")
                .map(String::as_str)
                == Some("yes");
            if cluster_on != g.cluster_enabled {
                return Err(combination(
                    "The parameter group's cluster-enabled value does not match the replication group's cluster mode.",
                ));
            }
        }
        if let Some(names) = &input.cache_security_group_names {
            g.cache_security_groups = security_groups(&r, names)?;
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
        if let Some(mode) = &input.cluster_mode {
            let mode = mode.to_ascii_lowercase();
            match (mode.as_str(), g.cluster_enabled) {
                ("enabled", true) | ("disabled", false) | ("compatible", false) => {
                    g.cluster_mode = mode;
                }
                ("enabled" | "disabled" | "compatible", _) => {
                    return Err(invalid(format!(
                        "Changing ClusterMode to {mode} is not supported for this replication group."
                    )));
                }
                _ => return Err(invalid(format!("Invalid value for ClusterMode: {mode}"))),
            }
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
                plan.new_primary = Some(p.clone());
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
        if let Some(token) = auth_token_update(
            input.auth_token_update_strategy.as_deref(),
            input.auth_token.as_ref(),
            g.transit_encryption_enabled,
        )? {
            g.auth_token = token;
            g.auth_token_last_modified = Some(now);
        }
        if let Some(te) = input.transit_encryption_enabled {
            g.transit_encryption_enabled = te;
            g.transit_encryption_mode = te.then(|| {
                input
                    .transit_encryption_mode
                    .clone()
                    .unwrap_or_else(|| "required".to_string())
            });
        }
        plan.restart = g.node_type != old.node_type
            || g.engine_version != old.engine_version
            || g.auth_token != old.auth_token;
        plan.push_parameters = g.parameter_group != old.parameter_group;
        let touched_other = input.notification_topic_arn.is_some()
            || input.notification_topic_status.is_some()
            || input.ip_discovery.is_some()
            || input.log_delivery_configurations.is_some();
        if !plan.restart
            && !plan.push_parameters
            && plan.new_primary.is_none()
            && !touched_other
            && same_settings(&g, &old)
        {
            return Err(combination("No modifications were requested."));
        }
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
                c.auth_token_last_modified = g.auth_token_last_modified;
                c.transit_encryption_enabled = g.transit_encryption_enabled;
                c.transit_encryption_mode = g.transit_encryption_mode.clone();
                c.auto_minor_version_upgrade = g.auto_minor_version_upgrade;
                if plan.restart {
                    c.follow_group(ClusterStatus::Modifying);
                }
            }
        }
        g.begin(GroupStatus::Modifying, None)?;
        let gref = GroupRef::of(&r, &g);
        r.replication_groups.insert(g.id.clone(), g.clone());
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
        && a.transit_encryption_enabled == b.transit_encryption_enabled
        && a.transit_encryption_mode == b.transit_encryption_mode
}

impl Service {
    async fn run_group_modify(&self, gref: &GroupRef, plan: Plan) -> Result<(), String> {
        if plan.restart {
            self.rolling_restart(gref).await?;
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
        if let Some(p) = plan.new_primary {
            let shard = "0001".to_string();
            self.fail_over(gref, &shard, Some(p)).await?;
        }
        self.sync_topology(gref).await
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

    /// Stops a member's node and starts it again from the member's current record.
    async fn restart_member(&self, gref: &GroupRef, member: &str) -> Result<(), String> {
        let key = gref.node_key(member);
        let _ = self.inner.supervisor.stop_node(&key).await;
        self.inner.supervisor.forget_topology(&key);
        let spec = self
            .with_group(gref, |r| {
                let g = r.replication_groups.get(&gref.id)?;
                let c = r.clusters.get(member)?;
                let mut spec = node_spec(r, c, &ClusterRef::of(r, c), "0001");
                spec.cluster_enabled = g.cluster_enabled;
                Some(spec)
            })
            .flatten();
        let Some(spec) = spec else { return Ok(()) };
        let ep = self
            .inner
            .supervisor
            .start_node(spec)
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
