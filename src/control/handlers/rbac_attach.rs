//! RBAC user groups on replication groups: `UserGroupIds` of CreateReplicationGroup and
//! `UserGroupIdsToAdd` / `UserGroupIdsToRemove` / `RemoveUserGroups` of
//! ModifyReplicationGroup, with AWS's rules for moving between AUTH tokens and RBAC.
//!
//! Place in the flow: the replication group handlers' plan steps call these under the region
//! lock; they read the region and change only the group record being planned. The engines
//! take the result through `rbac_lifecycle::node_users` when nodes start or are updated.

use std::cmp::Ordering;

use crate::catalog::compare_versions;
use crate::control::error::ApiError;
use crate::state::{Region, ReplicationGroupRecord, UserGroupStatus};

use super::common::*;

/// The user groups a replication group may have attached (Terraform documents one).
const MAX_ATTACHED: usize = 1;

/// Every listed user group exists, is `active`, suits the engine; ids lower-cased.
fn attachable(r: &Region, engine: &str, ids: &[String]) -> Result<Vec<String>, ApiError> {
    let mut out: Vec<String> = Vec::new();
    for id in ids.iter().map(|i| i.trim().to_ascii_lowercase()) {
        let ug = r
            .user_groups
            .get(&id)
            .ok_or_else(|| super::user_groups::not_found(&id))?;
        if ug.status != UserGroupStatus::Active {
            return Err(ApiError::invalid_user_group_state(format!(
                "User group {id} is not in the active state."
            )));
        }
        // Valkey clusters take redis and valkey user groups; Redis OSS clusters only redis.
        if engine == "redis" && ug.engine != "redis" {
            return Err(invalid(format!(
                "User group {id} has engine {}; a redis replication group only takes redis user groups.",
                ug.engine
            )));
        }
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

/// What RBAC needs of the group itself: in-transit encryption and engine 6.0 or later.
fn rbac_capable(engine: &str, version: &str, transit: bool) -> Result<(), ApiError> {
    if !transit {
        return Err(combination(
            "User groups can only be used with in-transit encryption enabled.",
        ));
    }
    if engine == "redis" && compare_versions(version, "6.0") == Ordering::Less {
        return Err(combination(
            "User groups require engine version 6.0 or later.",
        ));
    }
    Ok(())
}

fn too_many() -> ApiError {
    invalid(format!(
        "A replication group can have at most {MAX_ATTACHED} user group."
    ))
}

/// CreateReplicationGroup `UserGroupIds`: refused with an AUTH token, needs in-transit
/// encryption and engine 6.0+.
pub fn create_user_groups(
    r: &Region,
    ids: Option<&[String]>,
    g: &ReplicationGroupRecord,
) -> Result<Vec<String>, ApiError> {
    let Some(ids) = ids.filter(|ids| !ids.is_empty()) else {
        return Ok(Vec::new());
    };
    if g.auth_token.is_some() {
        return Err(combination(
            "AuthToken and UserGroupIds cannot both be specified.",
        ));
    }
    rbac_capable(&g.engine, &g.engine_version, g.transit_encryption_enabled)?;
    let ids = attachable(r, &g.engine, ids)?;
    if ids.len() > MAX_ATTACHED {
        return Err(too_many());
    }
    Ok(ids)
}

/// The user group part of a ModifyReplicationGroup request.
pub struct UserGroupRequest<'a> {
    /// `UserGroupIdsToAdd`.
    pub add: &'a [String],
    /// `UserGroupIdsToRemove`.
    pub remove: &'a [String],
    /// `RemoveUserGroups`: detach every user group.
    pub remove_all: bool,
    /// Whether the request deletes the AUTH token (`AuthTokenUpdateStrategy=DELETE`).
    pub deletes_token: bool,
    /// Whether the request sets or rotates an AUTH token.
    pub sets_token: bool,
}

/// Plans the user group changes of ModifyReplicationGroup on `g` (the group as it will be):
/// moving AUTH → RBAC takes `DELETE` with the groups to add; RBAC → AUTH takes a token with
/// every group removed. Answers whether anything changed.
pub fn modify_user_groups(
    r: &Region,
    g: &mut ReplicationGroupRecord,
    req: &UserGroupRequest<'_>,
) -> Result<bool, ApiError> {
    let add = attachable(r, &g.engine, req.add)?;
    let mut remove: Vec<String> = req
        .remove
        .iter()
        .map(|i| i.trim().to_ascii_lowercase())
        .collect();
    if req.remove_all {
        for id in &g.user_group_ids {
            if !remove.contains(id) {
                remove.push(id.clone());
            }
        }
    }
    if let Some(missing) = remove.iter().find(|id| !g.user_group_ids.contains(id)) {
        return Err(invalid(format!(
            "User group {missing} is not associated with replication group {}.",
            g.id
        )));
    }
    let add: Vec<String> = add
        .into_iter()
        .filter(|id| !g.user_group_ids.contains(id) || remove.contains(id))
        .collect();
    let mut after: Vec<String> = g.user_group_ids.clone();
    after.retain(|id| !remove.contains(id));
    after.extend(add.iter().cloned());
    if after.len() > MAX_ATTACHED {
        return Err(too_many());
    }
    if !add.is_empty() {
        rbac_capable(&g.engine, &g.engine_version, g.transit_encryption_enabled)?;
        if g.auth_token.is_some() && !req.deletes_token {
            return Err(combination(
                "To move from AUTH to user groups, set AuthTokenUpdateStrategy to DELETE with UserGroupIdsToAdd.",
            ));
        }
    }
    if req.deletes_token && add.is_empty() {
        return Err(combination(
            "AuthTokenUpdateStrategy DELETE is allowed only when adding user groups (moving to RBAC).",
        ));
    }
    if req.sets_token && !after.is_empty() {
        return Err(combination(
            "An AUTH token cannot be set while user groups are associated; remove them in the same request.",
        ));
    }
    let changed = !add.is_empty() || !remove.is_empty();
    if changed {
        g.user_group_ids = after;
        g.pending_user_groups = Some((add, remove));
    }
    Ok(changed)
}
