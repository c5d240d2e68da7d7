//! Helpers shared by the handler families: error constructors with AWS's messages for the
//! common cases, tag conversion and checks, page-size parsing, ARNs of the caller's region.

use crate::control::api::Tag as ApiTag;
use crate::control::arn;
use crate::control::context::RequestContext;
use crate::control::error::ApiError;
use crate::control::pagination;
use crate::control::validate;
use crate::control::validate::checks;
use crate::state::{Region, ResourceKind, Tag};

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

/// What a Modify request asks of a node's AUTH token, from `AuthToken` and
/// `AuthTokenUpdateStrategy` (SET/ROTATE set it, DELETE removes it): `None` leaves it alone,
/// `Some(Some(t))` sets `t`, `Some(None)` removes it. AWS only accepts a token when in-transit
/// encryption is on, and refuses a DELETE that carries one or a SET/ROTATE without one.
pub fn auth_token_update(
    strategy: Option<&str>,
    token: Option<&String>,
    transit_encryption_enabled: bool,
) -> Result<Option<Option<String>>, ApiError> {
    match (strategy, token) {
        (None | Some("SET") | Some("ROTATE"), Some(t)) => {
            if !transit_encryption_enabled {
                return Err(checks::auth_token_needs_transit());
            }
            Ok(Some(Some(t.clone())))
        }
        (Some("DELETE"), None) => Ok(Some(None)),
        (Some("DELETE"), Some(_)) => Err(combination(
            "AuthToken must not be given with AuthTokenUpdateStrategy DELETE.",
        )),
        (Some("SET" | "ROTATE"), None) => Err(invalid(
            "AuthToken is required with AuthTokenUpdateStrategy SET or ROTATE.",
        )),
        (Some(other), _) => Err(invalid(format!(
            "Invalid value for AuthTokenUpdateStrategy: {other}"
        ))),
        (None, None) => Ok(None),
    }
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
