//! Helpers shared by the handler families: error constructors with AWS's messages for the
//! common cases, tag conversion and checks, page-size parsing, ARNs of the caller's region.

use crate::control::api::Tag as ApiTag;
use crate::control::arn;
use crate::control::context::RequestContext;
use crate::control::error::ApiError;
use crate::control::pagination;
use crate::control::validate;
use crate::control::validate::checks;
use crate::state::{PreviousAuth, Region, ResourceKind, Tag};

/// Parameter groups per region (user-created ones; AWS's default quota).
pub const MAX_PARAMETER_GROUPS: usize = 300;
/// Subnet groups per region.
pub const MAX_SUBNET_GROUPS: usize = 300;
/// Subnets per subnet group.
pub const MAX_SUBNETS_PER_GROUP: usize = 20;
/// Cache security groups per region.
pub const MAX_SECURITY_GROUPS: usize = 50;

/// The ARN of a resource in the caller's region.
pub fn arn_of(ctx: &RequestContext, kind: ResourceKind, id: &str) -> String {
    arn::build(&ctx.region, &ctx.account, kind, id)
}

/// `InvalidParameterValue` with `message`.
pub fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::invalid_parameter_value(message)
}

/// `InvalidParameterCombination` with `message`.
pub fn combination(message: impl Into<String>) -> ApiError {
    ApiError::invalid_parameter_combination(message)
}

/// Validates `MaxRecords` (20–100, default 100).
pub fn page_size(max_records: Option<i32>) -> Result<usize, ApiError> {
    pagination::standard_max_records(max_records).map_err(invalid)
}

/// Cuts a page, mapping a bad marker to `InvalidParameterValue`.
pub fn page<T>(
    items: Vec<T>,
    marker: Option<&str>,
    max: usize,
) -> Result<pagination::Page<T>, ApiError> {
    pagination::paginate(items, marker, max).map_err(invalid)
}

/// Converts request tags (`Key` required; `Value` may be absent = empty).
pub fn tags_from_request(tags: Option<Vec<ApiTag>>) -> Result<Vec<Tag>, ApiError> {
    let mut out: Vec<Tag> = Vec::new();
    for t in tags.unwrap_or_default() {
        let Some(key) = t.key else {
            return Err(ApiError::missing_parameter_named("Tag.Key"));
        };
        let tag = Tag {
            key,
            value: t.value.unwrap_or_default(),
        };
        // A later duplicate key wins, as with AddTagsToResource's overwrite.
        match out.iter_mut().find(|x| x.key == tag.key) {
            Some(existing) => existing.value = tag.value,
            None => out.push(tag),
        }
    }
    validate::tags(&out).map_err(invalid)?;
    Ok(out)
}

/// Checks that `tags` fit within a new resource's tag quota.
pub fn check_tag_quota(tags: &[Tag]) -> Result<(), ApiError> {
    if tags.len() > validate::MAX_TAGS {
        return Err(ApiError::tag_quota_per_resource_exceeded(format!(
            "The request exceeds the maximum of {} tags per resource.",
            validate::MAX_TAGS
        )));
    }
    Ok(())
}

/// Stores the tags of a newly created resource.
pub fn attach_tags(region: &mut Region, kind: ResourceKind, id: &str, tags: &[Tag]) {
    if !tags.is_empty() {
        region.add_tags(kind, id, tags);
    }
}

/// Converts stored tags to the wire shape.
pub fn tags_to_api(tags: Vec<Tag>) -> Vec<ApiTag> {
    tags.into_iter()
        .map(|t| ApiTag {
            key: Some(t.key),
            value: Some(t.value),
        })
        .collect()
}

/// A non-blank string parameter, or `InvalidParameterValue` naming it.
pub fn non_blank(name: &str, value: &str) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        return Err(invalid(format!(
            "The parameter {name} must be provided and must not be blank."
        )));
    }
    Ok(())
}

/// An AUTH token change a Modify request asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenChange {
    /// `ROTATE` (the default): the new token becomes valid and the current one stays valid
    /// (or, on a cluster without a token, unauthenticated clients stay served) until a SET.
    Rotate(String),
    /// `SET`: only the new token is valid.
    Set(String),
    /// `DELETE`: AUTH is removed (only when moving to RBAC user groups).
    Delete,
}

impl TokenChange {
    /// `PendingModifiedValues.AuthTokenStatus` while the change is applied.
    pub fn status(&self) -> &'static str {
        match self {
            TokenChange::Rotate(_) => "ROTATING",
            TokenChange::Set(_) | TokenChange::Delete => "SETTING",
        }
    }
}

/// The change `AuthToken` and `AuthTokenUpdateStrategy` ask for, or `None`. AWS only accepts
/// a token when in-transit encryption is on, and refuses a DELETE that carries one or a
/// SET/ROTATE without one.
pub fn auth_token_change(
    strategy: Option<&str>,
    token: Option<&String>,
    transit_encryption_enabled: bool,
) -> Result<Option<TokenChange>, ApiError> {
    let change = match (strategy, token) {
        (None | Some("ROTATE"), Some(t)) => TokenChange::Rotate(t.clone()),
        (Some("SET"), Some(t)) => TokenChange::Set(t.clone()),
        (Some("DELETE"), None) => TokenChange::Delete,
        (Some("DELETE"), Some(_)) => {
            return Err(combination(
                "AuthToken must not be given with AuthTokenUpdateStrategy DELETE.",
            ));
        }
        (Some("SET" | "ROTATE"), None) => {
            return Err(invalid(
                "AuthToken is required with AuthTokenUpdateStrategy SET or ROTATE.",
            ));
        }
        (Some(other), _) => {
            return Err(invalid(format!(
                "Invalid value for AuthTokenUpdateStrategy: {other}"
            )));
        }
        (None, None) => return Ok(None),
    };
    if change != TokenChange::Delete && !transit_encryption_enabled {
        return Err(checks::auth_token_needs_transit());
    }
    Ok(Some(change))
}

/// AUTH token changes on a running cluster need Redis OSS 5.0.6 or later (token rotation
/// came with 5.0.5; 5.0.6 is the first such version ElastiCache offers). Valkey always can.
pub fn token_change_supported(engine: &str, full_version: &str) -> Result<(), ApiError> {
    let old = engine == "redis"
        && crate::catalog::compare_versions(full_version, "5.0.6") == std::cmp::Ordering::Less;
    if old {
        return Err(invalid(format!(
            "Modifying the AUTH token requires Redis OSS engine version 5.0.6 or later; this cluster runs {full_version}."
        )));
    }
    Ok(())
}

/// Applies a token change to a record's `(auth_token, auth_token_previous)` with AWS's
/// rules: SET is allowed only once the cluster has a token (after a ROTATE or a token given
/// at creation); DELETE needs a token to remove. A second ROTATE keeps the latest two tokens.
pub fn apply_token_change(
    current: &mut Option<String>,
    previous: &mut Option<PreviousAuth>,
    change: TokenChange,
) -> Result<(), ApiError> {
    match change {
        TokenChange::Rotate(t) => {
            if current.as_ref() != Some(&t) {
                *previous = Some(match current.take() {
                    Some(old) => PreviousAuth::Token(old),
                    None => PreviousAuth::Open,
                });
                *current = Some(t);
            }
        }
        TokenChange::Set(_) if current.is_none() => {
            return Err(combination(
                "AuthTokenUpdateStrategy SET is allowed only after ROTATE: add an AUTH token with ROTATE first.",
            ));
        }
        TokenChange::Set(t) => {
            *current = Some(t);
            *previous = None;
        }
        TokenChange::Delete if current.is_none() => {
            return Err(combination(
                "AuthTokenUpdateStrategy DELETE needs an AUTH token to remove.",
            ));
        }
        TokenChange::Delete => {
            *current = None;
            *previous = None;
        }
    }
    Ok(())
}

/// The schedule and AUTH parts of a Modify request (ModifyCacheCluster and
/// ModifyReplicationGroup share AWS's rules for them), validated once.
pub struct ModifySchedule {
    /// `PreferredMaintenanceWindow`, normalised (lower case).
    pub maintenance: Option<String>,
    /// `SnapshotWindow`.
    pub snapshot_window: Option<String>,
    /// `SnapshotRetentionLimit`.
    pub retention: Option<i32>,
}

/// Validates a Modify request's windows, retention and AuthToken characters.
pub fn modify_schedule(
    maintenance_window: Option<&str>,
    snapshot_window: Option<&str>,
    retention: Option<i32>,
    auth_token: Option<&String>,
) -> Result<ModifySchedule, ApiError> {
    let maintenance = maintenance_window
        .map(validate::maintenance_window)
        .transpose()
        .map_err(invalid)?;
    let snapshot_window = snapshot_window
        .map(validate::snapshot_window)
        .transpose()
        .map_err(invalid)?;
    let retention = retention
        .map(validate::snapshot_retention)
        .transpose()
        .map_err(invalid)?;
    if let Some(t) = auth_token {
        validate::auth_token(t).map_err(invalid)?;
    }
    Ok(ModifySchedule {
        maintenance,
        snapshot_window,
        retention,
    })
}
