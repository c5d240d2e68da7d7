//! Create/Modify/Delete/DescribeUserGroups: sets of RBAC users attached to replication groups.
//!
//! A group must always hold a user whose UserName is `default` (`DefaultUserRequired`), and no
//! two members may share a UserName (`DuplicateUserName`). A Valkey group only takes users
//! that authenticate (password or IAM). Creation passes through `creating`, membership changes
//! through `modifying` (reported in `PendingChanges`), deletion through `deleting`; the
//! background tasks are in [`rbac_lifecycle`](super::rbac_lifecycle).

use crate::control::api::*;
use crate::control::context::RequestContext;
use crate::control::error::ApiError;
use crate::control::validate;
use crate::state::{
    Lifecycle, Region, ResourceKind, SourceType, UserAuth, UserGroupRecord, UserGroupStatus,
    UserStatus, lock,
};

use super::Service;
use super::common::*;
use super::rbac_lifecycle::RbacRef;
use super::users::{DEFAULT_USER, minimum_version};

/// User groups per region (AWS's default quota).
pub const MAX_USER_GROUPS: usize = 100;
/// Users per user group.
pub const MAX_USERS_PER_GROUP: usize = 100;

/// `UserGroupNotFound` for `id`.
pub fn not_found(id: &str) -> ApiError {
    ApiError::user_group_not_found(format!("User group {id} not found."))
}

fn group_state(id: &str, status: UserGroupStatus) -> ApiError {
    ApiError::invalid_user_group_state(format!(
        "User group {id} is in the {} state; it must be active.",
        status.as_str()
    ))
}

/// The wire `UserGroup` of a record.
pub fn render(ctx: &RequestContext, r: &Region, g: &UserGroupRecord) -> UserGroup {
    UserGroup {
        arn: Some(arn_of(ctx, ResourceKind::UserGroup, &g.id)),
        engine: Some(g.engine.clone()),
        minimum_engine_version: Some(minimum_version(&g.engine).to_string()),
        pending_changes: g
            .pending
            .as_ref()
            .map(|(add, remove)| UserGroupPendingChanges {
                user_ids_to_add: Some(add.clone()),
                user_ids_to_remove: Some(remove.clone()),
            }),
        replication_groups: Some(r.groups_using_user_group(&g.id)),
        serverless_caches: Some(r.serverless.caches_using_user_group(&g.id)),
        status: Some(g.status.as_str().to_string()),
        user_group_id: Some(g.id.clone()),
        user_ids: Some(g.user_ids.clone()),
    }
}

/// Lower-cased, de-duplicated ids of users that exist and are not being deleted.
fn existing_users(r: &Region, raw: &[String]) -> Result<Vec<String>, ApiError> {
    let mut out: Vec<String> = Vec::new();
    for id in raw.iter().map(|i| i.trim().to_ascii_lowercase()) {
        let u = r
            .users
            .get(&id)
            .ok_or_else(|| super::users::not_found(&id))?;
        if u.status == UserStatus::Deleting {
            return Err(ApiError::invalid_user_state(format!(
                "User {id} is being deleted."
            )));
        }
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

/// AWS's membership rules for the full member list of a group of `engine`.
fn check_members(r: &Region, engine: &str, members: &[String]) -> Result<(), ApiError> {
    if members.len() > MAX_USERS_PER_GROUP {
        return Err(invalid(format!(
            "A user group can contain at most {MAX_USERS_PER_GROUP} users."
        )));
    }
    let users: Vec<_> = members.iter().filter_map(|id| r.users.get(id)).collect();
    if !users.iter().any(|u| u.user_name == DEFAULT_USER) {
        return Err(ApiError::default_user_required(
            "A user group must contain a user with the user name default.",
        ));
    }
    for (i, u) in users.iter().enumerate() {
        if users[..i].iter().any(|o| o.user_name == u.user_name) {
            return Err(ApiError::duplicate_user_name(format!(
                "The user group would contain two users named {}.",
                u.user_name
            )));
        }
        if engine == "valkey" && u.auth == UserAuth::NoPassword {
            return Err(invalid(format!(
                "User {} has no password: a valkey user group only takes users with password or IAM authentication.",
                u.user_id
            )));
        }
    }
    Ok(())
}

/// CreateUserGroup.
pub fn create_user_group(
    svc: &Service,
    ctx: &RequestContext,
    input: CreateUserGroupInput,
) -> Result<CreateUserGroupOutput, ApiError> {
    let id = validate::rbac_id("UserGroupId", &input.user_group_id).map_err(invalid)?;
    let engine = validate::rbac_engine(&input.engine).map_err(invalid)?;
    let tags = tags_from_request(input.tags)?;
    check_tag_quota(&tags)?;
    let now = svc.inner.store.now();
    let region = svc.region(ctx);
    let mut r = lock(&region);
    if r.user_groups.contains_key(&id) {
        return Err(ApiError::user_group_already_exists(format!(
            "User group {id} already exists."
        )));
    }
    if r.user_groups.len() >= MAX_USER_GROUPS {
        return Err(ApiError::user_group_quota_exceeded(format!(
            "The maximum of {MAX_USER_GROUPS} user groups per region has been reached."
        )));
    }
    let members = existing_users(&r, &input.user_ids.unwrap_or_default())?;
    check_members(&r, &engine, &members)?;
    let record = UserGroupRecord {
        id: id.clone(),
        engine,
        user_ids: members,
        status: UserGroupStatus::Creating,
        pending: None,
        generation: 1,
    };
    attach_tags(&mut r, ResourceKind::UserGroup, &id, &tags);
    r.event(SourceType::UserGroup, &id, "User group created", now);
    let out = render(ctx, &r, &record);
    let rref = RbacRef::group(&r, &record);
    r.user_groups.insert(id, record);
    drop(r);
    svc.spawn_user_group_create(rref);
    Ok(out)
}

/// DescribeUserGroups: one group or all, in id order.
pub fn describe_user_groups(
    svc: &Service,
    ctx: &RequestContext,
    input: DescribeUserGroupsInput,
) -> Result<DescribeUserGroupsOutput, ApiError> {
    let max = page_size(input.max_records)?;
    let region = svc.region(ctx);
    let r = lock(&region);
    let groups: Vec<UserGroup> = match &input.user_group_id {
        Some(raw) => {
            let id = raw.trim().to_ascii_lowercase();
            let g = r.user_groups.get(&id).ok_or_else(|| not_found(&id))?;
            vec![render(ctx, &r, g)]
        }
        None => r.user_groups.values().map(|g| render(ctx, &r, g)).collect(),
    };
    drop(r);
    let page = page(groups, input.marker.as_deref(), max)?;
    Ok(DescribeUserGroupsOutput {
        user_groups: Some(page.items),
        marker: page.marker,
    })
}

/// ModifyUserGroup: `UserIdsToAdd` / `UserIdsToRemove` (and a redis → valkey `Engine`
/// switch). The group is `modifying`, with the change in `PendingChanges`, until the engines
/// of the replication groups using it run the new member list.
pub fn modify_user_group(
    svc: &Service,
    ctx: &RequestContext,
    input: ModifyUserGroupInput,
) -> Result<ModifyUserGroupOutput, ApiError> {
    let engine = input
        .engine
        .as_deref()
        .map(validate::rbac_engine)
        .transpose()
        .map_err(invalid)?;
    let now = svc.inner.store.now();
    let region = svc.region(ctx);
    let mut r = lock(&region);
    let id = input.user_group_id.trim().to_ascii_lowercase();
    let g = r.user_groups.get(&id).ok_or_else(|| not_found(&id))?;
    if g.status != UserGroupStatus::Active {
        return Err(group_state(&id, g.status));
    }
    let add = existing_users(&r, &input.user_ids_to_add.unwrap_or_default())?;
    let remove = existing_users(&r, &input.user_ids_to_remove.unwrap_or_default())?;
    if let Some(both) = add.iter().find(|u| remove.contains(u)) {
        return Err(combination(format!(
            "User {both} cannot be both added and removed."
        )));
    }
    let mut updated = g.clone();
    if let Some(missing) = remove.iter().find(|u| !updated.user_ids.contains(u)) {
        return Err(invalid(format!(
            "User {missing} is not a member of user group {id}."
        )));
    }
    let add: Vec<String> = add
        .into_iter()
        .filter(|u| !updated.user_ids.contains(u))
        .collect();
    if let Some(e) = engine {
        updated.engine = e;
    }
    let mut members = updated.user_ids.clone();
    members.retain(|u| !remove.contains(u));
    members.extend(add.iter().cloned());
    check_members(&r, &updated.engine, &members)?;
    if add.is_empty() && remove.is_empty() {
        r.user_groups.insert(id, updated.clone());
        return Ok(render(ctx, &r, &updated));
    }
    updated
        .begin(UserGroupStatus::Modifying)
        .map_err(|s| group_state(&id, s))?;
    updated.pending = Some((add, remove));
    r.event(SourceType::UserGroup, &id, "User group modified", now);
    let out = render(ctx, &r, &updated);
    let rref = RbacRef::group(&r, &updated);
    r.user_groups.insert(id, updated);
    drop(r);
    svc.spawn_user_group_modify(rref);
    Ok(out)
}

/// DeleteUserGroup: refused while a replication group or a serverless cache uses it
/// (`InvalidUserGroupState`).
pub fn delete_user_group(
    svc: &Service,
    ctx: &RequestContext,
    input: DeleteUserGroupInput,
) -> Result<DeleteUserGroupOutput, ApiError> {
    let now = svc.inner.store.now();
    let region = svc.region(ctx);
    let mut r = lock(&region);
    let id = input.user_group_id.trim().to_ascii_lowercase();
    if !r.user_groups.contains_key(&id) {
        return Err(not_found(&id));
    }
    if let Some(rg) = r.groups_using_user_group(&id).first() {
        return Err(ApiError::invalid_user_group_state(format!(
            "User group {id} is associated with replication group {rg} and cannot be deleted."
        )));
    }
    if let Some(c) = r.serverless.caches_using_user_group(&id).first() {
        return Err(ApiError::invalid_user_group_state(format!(
            "User group {id} is associated with serverless cache {c} and cannot be deleted."
        )));
    }
    let Some(g) = r.user_groups.get_mut(&id) else {
        return Err(not_found(&id));
    };
    g.begin(UserGroupStatus::Deleting)
        .map_err(|s| group_state(&id, s))?;
    let g = g.clone();
    r.event(SourceType::UserGroup, &id, "User group deleted", now);
    let out = render(ctx, &r, &g);
    let rref = RbacRef::group(&r, &g);
    drop(r);
    svc.spawn_user_group_delete(rref);
    Ok(out)
}
