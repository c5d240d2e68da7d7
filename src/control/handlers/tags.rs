//! AddTagsToResource, ListTagsForResource, RemoveTagsFromResource.
//!
//! Resources are named by ARN: a malformed ARN or an unsupported type is `InvalidARN`; a
//! well-formed ARN of a resource that does not exist (in the caller's account and region)
//! answers that resource's NotFound code.

use crate::control::api::*;
use crate::control::arn;
use crate::control::context::RequestContext;
use crate::control::error::ApiError;
use crate::control::validate;
use crate::state::{Region, ResourceKind, lock};

use super::Service;
use super::common::*;

/// Checks that the ARN names an existing resource of the caller; returns its kind and id.
fn resolve(
    r: &Region,
    ctx: &RequestContext,
    resource: &str,
) -> Result<(ResourceKind, String), ApiError> {
    let parsed = arn::parse(resource.trim()).map_err(ApiError::invalid_arn)?;
    let here = parsed.account == ctx.account && parsed.region == ctx.region;
    let id = parsed.id;
    let exists = here
        && match parsed.kind {
            ResourceKind::Cluster => r.clusters.contains_key(&id),
            ResourceKind::ParameterGroup => r.parameter_groups.contains_key(&id),
            ResourceKind::SubnetGroup => r.subnet_groups.contains_key(&id),
            ResourceKind::SecurityGroup => r.security_groups.contains_key(&id),
            ResourceKind::User => r.users.contains_key(&id),
            ResourceKind::UserGroup => r.user_groups.contains_key(&id),
            ResourceKind::ReplicationGroup => r.replication_groups.contains_key(&id),
            ResourceKind::Snapshot => r.snapshots.contains_key(&id),
            ResourceKind::ReservedInstance => r.reserved_nodes.contains_key(&id),
            ResourceKind::ServerlessCache => r.serverless.caches.contains_key(&id),
            ResourceKind::ServerlessCacheSnapshot => r.serverless.snapshots.contains_key(&id),
        };
    if exists {
        return Ok((parsed.kind, id));
    }
    Err(match parsed.kind {
        ResourceKind::Cluster => {
            ApiError::cache_cluster_not_found(format!("CacheCluster not found: {id}"))
        }
        ResourceKind::ParameterGroup => ApiError::cache_parameter_group_not_found(format!(
            "CacheParameterGroup not found: {id}"
        )),
        ResourceKind::SubnetGroup => {
            ApiError::cache_subnet_group_not_found(format!("CacheSubnetGroup not found: {id}"))
        }
        ResourceKind::SecurityGroup => {
            ApiError::cache_security_group_not_found(format!("CacheSecurityGroup not found: {id}"))
        }
        ResourceKind::ReplicationGroup => {
            ApiError::replication_group_not_found(format!("ReplicationGroup not found: {id}"))
        }
        ResourceKind::Snapshot => ApiError::snapshot_not_found(format!("Snapshot not found: {id}")),
        ResourceKind::User => ApiError::user_not_found(format!("User not found: {id}")),
        ResourceKind::UserGroup => {
            ApiError::user_group_not_found(format!("User group not found: {id}"))
        }
        ResourceKind::ServerlessCache => {
            ApiError::serverless_cache_not_found(format!("Serverless cache not found: {id}"))
        }
        ResourceKind::ServerlessCacheSnapshot => ApiError::serverless_cache_snapshot_not_found(
            format!("Serverless cache snapshot not found: {id}"),
        ),
        ResourceKind::ReservedInstance => {
            ApiError::reserved_cache_node_not_found(format!("Reserved cache node not found: {id}"))
        }
    })
}

/// AddTagsToResource: adds or overwrites; answers the full resulting list.
pub fn add_tags_to_resource(
    svc: &Service,
    ctx: &RequestContext,
    input: AddTagsToResourceInput,
) -> Result<AddTagsToResourceOutput, ApiError> {
    let tags = tags_from_request(Some(input.tags))?;
    let region = svc.region(ctx);
    let mut r = lock(&region);
    let (kind, id) = resolve(&r, ctx, &input.resource_name)?;
    if r.tag_count_after(kind, &id, &tags) > validate::MAX_TAGS {
        return Err(ApiError::tag_quota_per_resource_exceeded(format!(
            "The request would exceed the maximum of {} tags for resource {}.",
            validate::MAX_TAGS,
            input.resource_name
        )));
    }
    let list = r.add_tags(kind, &id, &tags);
    if kind == ResourceKind::ReplicationGroup {
        r.propagate_group_tags(&id, &tags, &[]);
    }
    Ok(AddTagsToResourceOutput {
        tag_list: Some(tags_to_api(list)),
    })
}

/// ListTagsForResource.
pub fn list_tags_for_resource(
    svc: &Service,
    ctx: &RequestContext,
    input: ListTagsForResourceInput,
) -> Result<ListTagsForResourceOutput, ApiError> {
    let region = svc.region(ctx);
    let r = lock(&region);
    let (kind, id) = resolve(&r, ctx, &input.resource_name)?;
    Ok(ListTagsForResourceOutput {
        tag_list: Some(tags_to_api(r.tags_of(kind, &id))),
    })
}

/// RemoveTagsFromResource: every key must exist (`TagNotFound`); answers the remaining list.
pub fn remove_tags_from_resource(
    svc: &Service,
    ctx: &RequestContext,
    input: RemoveTagsFromResourceInput,
) -> Result<RemoveTagsFromResourceOutput, ApiError> {
    let region = svc.region(ctx);
    let mut r = lock(&region);
    let (kind, id) = resolve(&r, ctx, &input.resource_name)?;
    let current = r.tags_of(kind, &id);
    for key in &input.tag_keys {
        if !current.iter().any(|t| &t.key == key) {
            return Err(ApiError::tag_not_found(format!(
                "Tag key {key} not found for resource {}.",
                input.resource_name
            )));
        }
    }
    let list = r.remove_tags(kind, &id, &input.tag_keys);
    if kind == ResourceKind::ReplicationGroup {
        r.propagate_group_tags(&id, &[], &input.tag_keys);
    }
    Ok(RemoveTagsFromResourceOutput {
        tag_list: Some(tags_to_api(list)),
    })
}
