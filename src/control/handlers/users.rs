//! Create/Modify/Delete/DescribeUsers: RBAC users (Redis OSS 6.0+ and Valkey).
//!
//! Every region has AWS's built-in `default` user (full access, no password), which cannot be
//! modified or deleted. A new user is `active` at once; ModifyUser passes through `modifying`
//! and DeleteUser through `deleting`, completed by [`rbac_lifecycle`](super::rbac_lifecycle)
//! once the engines of the replication groups holding the user run the new rules.

use crate::control::api::*;
use crate::control::context::RequestContext;
use crate::control::error::ApiError;
use crate::control::validate;
use crate::state::{
    Lifecycle, Region, ResourceKind, SourceType, UserAuth, UserRecord, UserStatus, lock,
};

use super::Service;
use super::common::*;
use super::rbac_lifecycle::RbacRef;

/// Users per region (AWS's default quota; the built-in `default` user counts).
pub const MAX_USERS: usize = 1000;
/// The id and the name of the built-in user.
pub const DEFAULT_USER: &str = "default";

/// `UserNotFound` for `id`.
pub fn not_found(id: &str) -> ApiError {
    ApiError::user_not_found(format!("User {id} not found."))
}

/// The wire `User` of a record.
pub fn render(ctx: &RequestContext, r: &Region, u: &UserRecord) -> User {
    let password_count = match &u.auth {
        UserAuth::Password(p) => Some(p.len() as i32),
        _ => None,
    };
    User {
        arn: Some(arn_of(ctx, ResourceKind::User, &u.user_id)),
        access_string: Some(u.access_string.clone()),
        authentication: Some(Authentication {
            password_count,
            r#type: Some(u.auth.type_str().to_string()),
        }),
        engine: Some(u.engine.clone()),
        minimum_engine_version: Some(u.minimum_engine_version.clone()),
        status: Some(u.status.as_str().to_string()),
        user_group_ids: Some(r.groups_of_user(&u.user_id)),
        user_id: Some(u.user_id.clone()),
        user_name: Some(u.user_name.clone()),
    }
}

/// The authentication a Create/ModifyUser request asks for, from `Passwords`,
/// `NoPasswordRequired` and `AuthenticationMode` (which excludes passwords and
/// `NoPasswordRequired=true`; `false` is accepted beside it, as AWS does: Terraform sends it on
/// every CreateUser). `None`: the request does not change it (only allowed when `required` is
/// false).
fn requested_auth(
    passwords: Option<Vec<String>>,
    no_password: Option<bool>,
    mode: Option<AuthenticationMode>,
    required: bool,
) -> Result<Option<UserAuth>, ApiError> {
    let passwords = passwords.filter(|p| !p.is_empty());
    let auth = match (mode, passwords, no_password) {
        (Some(_), Some(_), _) | (Some(_), _, Some(true)) => {
            return Err(combination(
                "AuthenticationMode cannot be combined with Passwords or NoPasswordRequired.",
            ));
        }
        (Some(m), None, _) => Some(mode_auth(m)?),
        (None, Some(_), Some(true)) => {
            return Err(combination(
                "Passwords cannot be provided when NoPasswordRequired is true.",
            ));
        }
        (None, Some(p), _) => Some(UserAuth::Password(checked_passwords(p)?)),
        (None, None, Some(true)) => Some(UserAuth::NoPassword),
        (None, None, _) => None,
    };
    if auth.is_none() && required {
        return Err(invalid(
            "No password was provided. Provide Passwords, NoPasswordRequired or AuthenticationMode.",
        ));
    }
    Ok(auth)
}

/// `AuthenticationMode`: `password` needs 1–2 passwords, the other types none.
fn mode_auth(m: AuthenticationMode) -> Result<UserAuth, ApiError> {
    let passwords = m.passwords.unwrap_or_default();
    match m.r#type.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("password") if passwords.is_empty() => Err(invalid(
            "Passwords must be provided for AuthenticationMode type password.",
        )),
        Some("password") => Ok(UserAuth::Password(checked_passwords(passwords)?)),
        Some(t @ ("no-password-required" | "iam")) if !passwords.is_empty() => Err(combination(
            format!("Passwords cannot be provided for AuthenticationMode type {t}."),
        )),
        Some("no-password-required") => Ok(UserAuth::NoPassword),
        Some("iam") => Ok(UserAuth::Iam),
        other => Err(invalid(format!(
            "Invalid value for AuthenticationMode.Type: {}. Valid values are password, no-password-required and iam.",
            other.unwrap_or("")
        ))),
    }
}

/// One or two valid passwords, duplicates dropped.
fn checked_passwords(mut list: Vec<String>) -> Result<Vec<String>, ApiError> {
    list.dedup();
    if list.len() > 2 {
        return Err(invalid("A user can have at most 2 passwords."));
    }
    for p in &list {
        validate::user_password(p).map_err(invalid)?;
    }
    Ok(list)
}

/// An access string ElastiCache accepts: no password rules (the API sets passwords), and only
/// rules and command names the engine knows.
fn check_access(access: &str) -> Result<(), ApiError> {
    validate::access_string(access).map_err(invalid)?;
    crate::supervisor::check_access_string(access)
        .map_err(|why| invalid(format!("Invalid access string: {why}")))
}

/// IAM users must have their id as name (AWS's rule for IAM authentication).
fn check_iam_name(auth: &UserAuth, user_id: &str, user_name: &str) -> Result<(), ApiError> {
    if *auth == UserAuth::Iam && user_id != user_name {
        return Err(invalid(
            "UserId and UserName must be identical for a user with IAM authentication.",
        ));
    }
    Ok(())
}

/// CreateUser.
pub fn create_user(
    svc: &Service,
    ctx: &RequestContext,
    input: CreateUserInput,
) -> Result<CreateUserOutput, ApiError> {
    let user_id = validate::rbac_id("UserId", &input.user_id).map_err(invalid)?;
    non_blank("UserName", &input.user_name)?;
    let engine = validate::rbac_engine(&input.engine).map_err(invalid)?;
    check_access(&input.access_string)?;
    let auth = requested_auth(
        input.passwords,
        input.no_password_required,
        input.authentication_mode,
        true,
    )?
    .unwrap_or(UserAuth::NoPassword);
    check_iam_name(&auth, &user_id, &input.user_name)?;
    let tags = tags_from_request(input.tags)?;
    check_tag_quota(&tags)?;
    let now = svc.inner.store.now();
    let region = svc.region(ctx);
    let mut r = lock(&region);
    if r.users.contains_key(&user_id) {
        return Err(ApiError::user_already_exists(format!(
            "User {user_id} already exists."
        )));
    }
    // Several users may be named `default` (that is how a group replaces the built-in one).
    if input.user_name != DEFAULT_USER && r.users.values().any(|u| u.user_name == input.user_name) {
        return Err(ApiError::duplicate_user_name(format!(
            "A user with the user name {} already exists.",
            input.user_name
        )));
    }
    if r.users.len() >= MAX_USERS {
        return Err(ApiError::user_quota_exceeded(format!(
            "The maximum of {MAX_USERS} users per region has been reached."
        )));
    }
    let record = UserRecord {
        minimum_engine_version: minimum_version(&engine).to_string(),
        user_id: user_id.clone(),
        user_name: input.user_name,
        engine,
        access_string: input.access_string,
        auth,
        status: UserStatus::Active,
        generation: 0,
    };
    attach_tags(&mut r, ResourceKind::User, &user_id, &tags);
    r.event(SourceType::User, &user_id, "User created", now);
    let out = render(ctx, &r, &record);
    r.users.insert(user_id, record);
    Ok(out)
}

/// The `MinimumEngineVersion` AWS reports for an engine's users and user groups.
pub fn minimum_version(engine: &str) -> &'static str {
    if engine == "valkey" { "7.2" } else { "6.0" }
}

/// DescribeUsers: one user (`UserId`), or all, narrowed by `Engine` and the `user-id` filter.
pub fn describe_users(
    svc: &Service,
    ctx: &RequestContext,
    input: DescribeUsersInput,
) -> Result<DescribeUsersOutput, ApiError> {
    let max = page_size(input.max_records)?;
    let engine = input
        .engine
        .as_deref()
        .map(validate::rbac_engine)
        .transpose()
        .map_err(invalid)?;
    let mut ids: Option<Vec<String>> = None;
    for f in input.filters.unwrap_or_default() {
        if f.name != "user-id" {
            return Err(invalid(format!(
                "Invalid filter name: {}. Valid filter names are: user-id.",
                f.name
            )));
        }
        let values = f.values.iter().map(|v| v.trim().to_ascii_lowercase());
        ids.get_or_insert_with(Vec::new).extend(values);
    }
    let region = svc.region(ctx);
    let r = lock(&region);
    let users: Vec<User> = match &input.user_id {
        Some(raw) => {
            let id = raw.trim().to_ascii_lowercase();
            let u = r.users.get(&id).ok_or_else(|| not_found(&id))?;
            vec![render(ctx, &r, u)]
        }
        None => r
            .users
            .values()
            .filter(|u| engine.as_ref().is_none_or(|e| &u.engine == e))
            .filter(|u| ids.as_ref().is_none_or(|ids| ids.contains(&u.user_id)))
            .map(|u| render(ctx, &r, u))
            .collect(),
    };
    drop(r);
    let page = page(users, input.marker.as_deref(), max)?;
    Ok(DescribeUsersOutput {
        users: Some(page.items),
        marker: page.marker,
    })
}

/// The user `raw` names, which must be a user the caller may change (not the built-in one).
fn changeable<'a>(r: &'a mut Region, raw: &str) -> Result<&'a mut UserRecord, ApiError> {
    let id = raw.trim().to_ascii_lowercase();
    if id == DEFAULT_USER {
        return Err(invalid("The default user cannot be modified or deleted."));
    }
    r.users.get_mut(&id).ok_or_else(|| not_found(&id))
}

fn user_state(id: &str, status: UserStatus) -> ApiError {
    ApiError::invalid_user_state(format!(
        "User {id} is in the {} state; it must be active.",
        status.as_str()
    ))
}

/// ModifyUser: access string (replace or append), passwords or authentication mode, engine.
/// The user is `modifying` until the engines run the new rules.
pub fn modify_user(
    svc: &Service,
    ctx: &RequestContext,
    input: ModifyUserInput,
) -> Result<ModifyUserOutput, ApiError> {
    if input.access_string.is_some() && input.append_access_string.is_some() {
        return Err(combination(
            "AccessString and AppendAccessString cannot both be provided.",
        ));
    }
    for s in [&input.access_string, &input.append_access_string]
        .into_iter()
        .flatten()
    {
        check_access(s)?;
    }
    let engine = input
        .engine
        .as_deref()
        .map(validate::rbac_engine)
        .transpose()
        .map_err(invalid)?;
    let auth = requested_auth(
        input.passwords,
        input.no_password_required,
        input.authentication_mode,
        false,
    )?;
    let now = svc.inner.store.now();
    let region = svc.region(ctx);
    let mut r = lock(&region);
    let u = changeable(&mut r, &input.user_id)?;
    if let Some(a) = &auth {
        check_iam_name(a, &u.user_id, &u.user_name)?;
    }
    if u.status != UserStatus::Active {
        return Err(user_state(&u.user_id, u.status));
    }
    let mut updated = u.clone();
    if let Some(s) = input.access_string {
        updated.access_string = s;
    }
    if let Some(s) = input.append_access_string {
        updated.access_string = format!("{} {s}", updated.access_string);
    }
    if let Some(a) = auth {
        updated.auth = a;
    }
    if let Some(e) = engine {
        updated.minimum_engine_version = minimum_version(&e).to_string();
        updated.engine = e;
    }
    updated
        .begin(UserStatus::Modifying)
        .map_err(|s| user_state(&updated.user_id, s))?;
    let rref = RbacRef::user(&r, &updated);
    let affected = r.groups_attached_to_user(&updated.user_id);
    r.event(SourceType::User, &updated.user_id, "User modified", now);
    let out = render(ctx, &r, &updated);
    r.users.insert(updated.user_id.clone(), updated);
    drop(r);
    svc.spawn_user_modify(rref, affected);
    Ok(out)
}

/// DeleteUser: the user leaves its groups at once and is `deleting` until the engines
/// dropped it. A user named `default` that sits in a group cannot go
/// (`DefaultUserAssociatedToUserGroup`): the group would lose its default user.
pub fn delete_user(
    svc: &Service,
    ctx: &RequestContext,
    input: DeleteUserInput,
) -> Result<DeleteUserOutput, ApiError> {
    let now = svc.inner.store.now();
    let region = svc.region(ctx);
    let mut r = lock(&region);
    let u = changeable(&mut r, &input.user_id)?;
    let (id, name) = (u.user_id.clone(), u.user_name.clone());
    if name == DEFAULT_USER && !r.groups_of_user(&id).is_empty() {
        return Err(ApiError::default_user_associated_to_user_group(format!(
            "User {id} is the default user of a user group and cannot be deleted."
        )));
    }
    let affected = r.groups_attached_to_user(&id);
    let u = changeable(&mut r, &id)?;
    u.begin(UserStatus::Deleting)
        .map_err(|s| user_state(&id, s))?;
    let deleting = u.clone();
    for g in r.user_groups.values_mut() {
        g.user_ids.retain(|m| m != &id);
    }
    r.event(SourceType::User, &id, "User deleted", now);
    let rref = RbacRef::user(&r, &deleting);
    let out = render(ctx, &r, &deleting);
    drop(r);
    svc.spawn_user_delete(rref, affected);
    Ok(out)
}
