//! Create/Describe/DeleteCacheSecurityGroup(s) and Authorize/RevokeCacheSecurityGroupIngress
//! (EC2-Classic legacy). Nothing is enforced on the network: the groups are
//! records that clusters may name.

use crate::control::api::*;
use crate::control::context::RequestContext;
use crate::control::error::ApiError;
use crate::control::validate;
use crate::state::{Ec2GroupRecord, ResourceKind, SecurityGroupRecord, SourceType, lock};

use super::Service;
use super::common::*;

fn not_found(name: &str) -> ApiError {
    ApiError::cache_security_group_not_found(format!("CacheSecurityGroup not found: {name}"))
}

fn render(ctx: &RequestContext, g: &SecurityGroupRecord) -> CacheSecurityGroup {
    CacheSecurityGroup {
        owner_id: Some(ctx.account.clone()),
        cache_security_group_name: Some(g.name.clone()),
        description: Some(g.description.clone()),
        ec2_security_groups: Some(
            g.ec2_groups
                .iter()
                .map(|e| EC2SecurityGroup {
                    status: Some("authorized".to_string()),
                    ec2_security_group_name: Some(e.name.clone()),
                    ec2_security_group_owner_id: Some(e.owner_id.clone()),
                })
                .collect(),
        ),
        arn: Some(arn_of(ctx, ResourceKind::SecurityGroup, &g.name)),
    }
}

/// CreateCacheSecurityGroup.
pub fn create_cache_security_group(
    svc: &Service,
    ctx: &RequestContext,
    input: CreateCacheSecurityGroupInput,
) -> Result<CreateCacheSecurityGroupOutput, ApiError> {
    let name = validate::security_group_name(&input.cache_security_group_name).map_err(invalid)?;
    let tags = tags_from_request(input.tags)?;
    check_tag_quota(&tags)?;
    let now = svc.inner.store.now();
    let region = svc.region(ctx);
    let mut r = lock(&region);
    if r.security_groups.contains_key(&name) {
        return Err(ApiError::cache_security_group_already_exists(format!(
            "Cache security group {name} already exists."
        )));
    }
    if r.security_groups.len() >= MAX_SECURITY_GROUPS {
        return Err(ApiError::cache_security_group_quota_exceeded(format!(
            "The maximum of {MAX_SECURITY_GROUPS} cache security groups per region has been reached."
        )));
    }
    let record = SecurityGroupRecord {
        name: name.clone(),
        description: input.description,
        ec2_groups: Vec::new(),
    };
    attach_tags(&mut r, ResourceKind::SecurityGroup, &name, &tags);
    r.event(
        SourceType::CacheSecurityGroup,
        &name,
        "Cache security group created",
        now,
    );
    let out = render(ctx, &record);
    r.security_groups.insert(name, record);
    Ok(CreateCacheSecurityGroupOutput {
        cache_security_group: Some(out),
    })
}

/// DescribeCacheSecurityGroups.
pub fn describe_cache_security_groups(
    svc: &Service,
    ctx: &RequestContext,
    input: DescribeCacheSecurityGroupsInput,
) -> Result<DescribeCacheSecurityGroupsOutput, ApiError> {
    let max = page_size(input.max_records)?;
    let region = svc.region(ctx);
    let groups: Vec<CacheSecurityGroup> = {
        let r = lock(&region);
        match &input.cache_security_group_name {
            Some(n) => {
                let n = n.trim().to_ascii_lowercase();
                vec![render(
                    ctx,
                    r.security_groups.get(&n).ok_or_else(|| not_found(&n))?,
                )]
            }
            None => r.security_groups.values().map(|g| render(ctx, g)).collect(),
        }
    };
    let page = page(groups, input.marker.as_deref(), max)?;
    Ok(DescribeCacheSecurityGroupsOutput {
        cache_security_groups: Some(page.items),
        marker: page.marker,
    })
}

/// DeleteCacheSecurityGroup.
pub fn delete_cache_security_group(
    svc: &Service,
    ctx: &RequestContext,
    input: DeleteCacheSecurityGroupInput,
) -> Result<DeleteCacheSecurityGroupOutput, ApiError> {
    let name = input.cache_security_group_name.trim().to_ascii_lowercase();
    let now = svc.inner.store.now();
    let region = svc.region(ctx);
    let mut r = lock(&region);
    if !r.security_groups.contains_key(&name) {
        return Err(not_found(&name));
    }
    if r.security_group_in_use(&name) {
        return Err(ApiError::invalid_cache_security_group_state(format!(
            "Cache security group {name} is in use by a cache cluster."
        )));
    }
    r.security_groups.remove(&name);
    r.tags.remove(&(ResourceKind::SecurityGroup, name.clone()));
    r.event(
        SourceType::CacheSecurityGroup,
        &name,
        "Cache security group deleted",
        now,
    );
    Ok(())
}

/// AuthorizeCacheSecurityGroupIngress.
pub fn authorize_cache_security_group_ingress(
    svc: &Service,
    ctx: &RequestContext,
    input: AuthorizeCacheSecurityGroupIngressInput,
) -> Result<AuthorizeCacheSecurityGroupIngressOutput, ApiError> {
    let name = input.cache_security_group_name.trim().to_ascii_lowercase();
    non_blank("EC2SecurityGroupName", &input.ec2_security_group_name)?;
    non_blank(
        "EC2SecurityGroupOwnerId",
        &input.ec2_security_group_owner_id,
    )?;
    let region = svc.region(ctx);
    let mut r = lock(&region);
    let g = r
        .security_groups
        .get_mut(&name)
        .ok_or_else(|| not_found(&name))?;
    let entry = Ec2GroupRecord {
        name: input.ec2_security_group_name,
        owner_id: input.ec2_security_group_owner_id,
    };
    if g.ec2_groups.contains(&entry) {
        return Err(ApiError::authorization_already_exists(format!(
            "EC2 security group {} owned by {} is already authorized for cache security group {name}.",
            entry.name, entry.owner_id
        )));
    }
    g.ec2_groups.push(entry);
    let out = render(ctx, g);
    Ok(AuthorizeCacheSecurityGroupIngressOutput {
        cache_security_group: Some(out),
    })
}

/// RevokeCacheSecurityGroupIngress.
pub fn revoke_cache_security_group_ingress(
    svc: &Service,
    ctx: &RequestContext,
    input: RevokeCacheSecurityGroupIngressInput,
) -> Result<RevokeCacheSecurityGroupIngressOutput, ApiError> {
    let name = input.cache_security_group_name.trim().to_ascii_lowercase();
    let region = svc.region(ctx);
    let mut r = lock(&region);
    let g = r
        .security_groups
        .get_mut(&name)
        .ok_or_else(|| not_found(&name))?;
    let entry = Ec2GroupRecord {
        name: input.ec2_security_group_name,
        owner_id: input.ec2_security_group_owner_id,
    };
    let Some(pos) = g.ec2_groups.iter().position(|e| *e == entry) else {
        return Err(ApiError::authorization_not_found(format!(
            "EC2 security group {} owned by {} is not authorized for cache security group {name}.",
            entry.name, entry.owner_id
        )));
    };
    g.ec2_groups.remove(pos);
    let out = render(ctx, g);
    Ok(RevokeCacheSecurityGroupIngressOutput {
        cache_security_group: Some(out),
    })
}
