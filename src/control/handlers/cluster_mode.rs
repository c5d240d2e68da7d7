//! ModifyReplicationGroup `ClusterMode`: ElastiCache's two-step migration from cluster mode
//! disabled to enabled. `disabled` → `compatible` restarts every node in place (keyspace
//! kept) with cluster mode on and one shard owning every slot, so standalone clients (primary
//! and reader endpoints) and cluster clients (configuration endpoint, CLUSTER SLOTS) are both
//! served; `compatible` → `enabled` completes it (the group is cluster mode enabled from then
//! on, its primary/reader endpoints go); `compatible` → `disabled` goes back. Enabled is final.
//!
//! Place in the flow: `replication_modify` plans the switch with [`plan_cluster_mode`] while it
//! plans the rest of the request (the region is only read); its task runs
//! [`Service::switch_cluster_mode`] before the topology is re-applied.

use crate::catalog::compare_versions;
use crate::control::api::ModifyReplicationGroupInput;
use crate::control::context::RequestContext;
use crate::control::error::ApiError;
use crate::control::validate::checks::*;
use crate::state::{Region, ReplicationGroupRecord, lock};

use super::Service;
use super::common::*;
use super::replication_lifecycle::GroupRef;

/// Every hash slot: the single shard of a group in `compatible` mode owns them all.
const ALL_SLOTS: (u16, u16) = (0, 16383);

/// What the nodes and endpoints do for a `ClusterMode` change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModeSwitch {
    /// `disabled` → `compatible`: nodes restart in place with cluster mode on; the
    /// configuration endpoint starts next to the primary/reader endpoints.
    ToCompatible,
    /// `compatible` → `enabled`: the nodes already run cluster mode; the primary/reader
    /// endpoints stop.
    ToEnabled,
}

/// Whether a request changes more than the cluster mode and the parameter group, which AWS
/// refuses in the same request as a `ClusterMode` change.
fn changes_more(input: &ModifyReplicationGroupInput) -> bool {
    input.cache_node_type.is_some()
        || input.engine_version.is_some()
        || input.automatic_failover_enabled.is_some()
        || input.multi_az_enabled.is_some()
        || input.primary_cluster_id.is_some()
        || input.auth_token.is_some()
        || input.auth_token_update_strategy.is_some()
        || input.transit_encryption_enabled.is_some()
        || input.transit_encryption_mode.is_some()
        || input.user_group_ids_to_add.is_some()
        || input.user_group_ids_to_remove.is_some()
        || input.remove_user_groups.is_some()
}

/// The migration's preconditions (AWS: automatic failover with at least one replica, Redis
/// OSS 7.0 / Valkey 7.2 or later).
fn check_migration_ready(g: &ReplicationGroupRecord) -> Result<(), ApiError> {
    let replicas = g.node_groups.first().map_or(0, |ng| ng.members.len() - 1);
    if !g.automatic_failover || replicas == 0 {
        return Err(invalid(
            "Changing the cluster mode requires automatic failover enabled with at least one replica.",
        ));
    }
    let minimum = if g.engine == "valkey" { "7.2" } else { "7.0" };
    let below = compare_versions(&g.engine_version, minimum) == std::cmp::Ordering::Less;
    if below {
        return Err(invalid(format!(
            "Changing the cluster mode requires engine version {minimum} or later; this replication group runs {} {}.",
            g.engine, g.engine_version
        )));
    }
    Ok(())
}

/// The parameter group the group moves to when the request names none: the cluster mode
/// default group when it uses a default one, else AWS's demand for one.
fn follow_parameter_group(
    r: &Region,
    input: &ModifyReplicationGroupInput,
    g: &mut ReplicationGroupRecord,
) -> Result<(), ApiError> {
    if input.cache_parameter_group_name.is_some() {
        return Ok(()); // Checked against the new mode with the rest of the engine plan.
    }
    if r.parameter_groups
        .get(&g.parameter_group)
        .is_some_and(|p| p.is_default)
    {
        g.parameter_group = default_parameter_group(&g.family, true);
        return Ok(());
    }
    Err(combination(
        "Changing the cluster mode needs a parameter group with cluster-enabled set to yes; specify CacheParameterGroupName.",
    ))
}

/// Plan of a `ClusterMode` change: writes the new mode (and slots, parameter group) into `g`
/// and answers the switch the nodes follow; `None` when the mode does not change. In
/// `compatible` mode scaling and engine upgrades wait until the migration ends.
pub fn plan_cluster_mode(
    r: &Region,
    input: &ModifyReplicationGroupInput,
    g: &mut ReplicationGroupRecord,
) -> Result<Option<ModeSwitch>, ApiError> {
    let current = g.cluster_mode.clone();
    let Some(requested) = input.cluster_mode.as_deref().map(str::to_ascii_lowercase) else {
        if current == "compatible"
            && (input.cache_node_type.is_some() || input.engine_version.is_some())
        {
            return Err(combination(
                "Scaling and engine version changes are not allowed while the cluster mode is compatible; set ClusterMode to enabled or disabled first.",
            ));
        }
        return Ok(None);
    };
    if !matches!(requested.as_str(), "enabled" | "disabled" | "compatible") {
        return Err(invalid(format!(
            "Invalid value for ClusterMode: {requested}. Valid values are enabled, disabled and compatible."
        )));
    }
    if requested == current {
        return Ok(None);
    }
    if changes_more(input) {
        return Err(combination(
            "When ClusterMode changes, no other parameter may be modified except CacheParameterGroupName.",
        ));
    }
    let switch = match (current.as_str(), requested.as_str()) {
        ("disabled", "compatible") => {
            check_migration_ready(g)?;
            follow_parameter_group(r, input, g)?;
            if let Some(ng) = g.node_groups.first_mut() {
                ng.slots = vec![ALL_SLOTS];
            }
            ModeSwitch::ToCompatible
        }
        ("compatible", "enabled") => {
            g.cluster_enabled = true;
            ModeSwitch::ToEnabled
        }
        ("compatible", "disabled") => {
            return Err(invalid(
                "The cluster mode can only be changed from disabled to enabled; a replication group in compatible mode cannot go back to disabled.",
            ));
        }
        ("disabled", _) => {
            return Err(invalid(
                "To change the cluster mode from disabled to enabled, set ClusterMode to compatible first.",
            ));
        }
        _ => {
            return Err(invalid(
                "The cluster mode of a cluster mode enabled replication group cannot be changed.",
            ));
        }
    };
    g.cluster_mode = requested;
    Ok(Some(switch))
}

impl Service {
    /// AWS's precondition for `disabled` → `compatible` that only the data can tell: every key
    /// in database 0 (cluster mode has no other database, so keys elsewhere would be lost to
    /// clients). Read from the group's primary before the request is planned; other requests
    /// pass untouched and the plan answers their errors.
    pub(crate) async fn check_keys_in_db0(
        &self,
        ctx: &RequestContext,
        input: &ModifyReplicationGroupInput,
    ) -> Result<(), ApiError> {
        let to_compatible = input
            .cluster_mode
            .as_deref()
            .is_some_and(|m| m.eq_ignore_ascii_case("compatible"));
        if !to_compatible {
            return Ok(());
        }
        let primary = {
            let region = self.region(ctx);
            let r = lock(&region);
            let Ok(g) = r.group(&input.replication_group_id) else {
                return Ok(());
            };
            let Some(ng) = g
                .node_groups
                .first()
                .filter(|_| g.cluster_mode == "disabled")
            else {
                return Ok(());
            };
            GroupRef::of(&r, g).node_key(&ng.primary)
        };
        let outside = self.inner.supervisor.keys_outside_db0(&primary).await;
        match outside {
            Ok(0) | Err(_) => Ok(()),
            Ok(n) => Err(invalid(format!(
                "Changing the cluster mode requires every key to be in database 0; the primary node holds {n} keys in other databases."
            ))),
        }
    }

    /// The engine side of a cluster mode switch: nodes restarted in place with the new mode
    /// (replicas first; each keeps its keyspace), endpoints that the new mode does not have
    /// stopped. The topology sync that follows gives the nodes their slot map and starts the
    /// endpoints the mode has.
    pub(crate) async fn switch_cluster_mode(
        &self,
        gref: &GroupRef,
        switch: ModeSwitch,
    ) -> Result<(), String> {
        match switch {
            ModeSwitch::ToCompatible => {
                let order = self
                    .with_group(gref, |r| {
                        let g = r.replication_groups.get(&gref.id)?;
                        let ng = g.node_groups.first()?;
                        let mut order: Vec<String> = ng.replicas().cloned().collect();
                        order.push(ng.primary.clone());
                        Some(order)
                    })
                    .flatten()
                    .unwrap_or_default();
                for member in &order {
                    self.restart_member(gref, member).await?;
                }
            }
            ModeSwitch::ToEnabled => {
                for kind in ["primary", "reader"] {
                    self.inner
                        .supervisor
                        .stop_proxy_endpoint(&gref.endpoint_name(kind))
                        .await;
                }
                self.with_group(gref, |r| {
                    if let Some(g) = r.replication_groups.get_mut(&gref.id) {
                        g.primary_endpoint = None;
                        g.reader_endpoint = None;
                    }
                });
            }
        }
        Ok(())
    }
}
