//! Create/Describe/Modify/DeleteCacheSubnetGroup(s).
//!
//! There is no VPC behind the emulator: any `subnet-…` id is accepted, every group of a region
//! reports the region's synthetic VPC id, and subnets get zones `<region>a`, `b`, `c` in order.

use crate::control::api::*;
use crate::control::context::RequestContext;
use crate::control::error::ApiError;
use crate::control::validate;
use crate::state::{Region, ResourceKind, SourceType, SubnetGroupRecord, SubnetRecord, lock};

use super::Service;
use super::common::*;

fn not_found(name: &str) -> ApiError {
    ApiError::cache_subnet_group_not_found(format!("CacheSubnetGroup not found: {name}"))
}

fn render(ctx: &RequestContext, g: &SubnetGroupRecord) -> CacheSubnetGroup {
    CacheSubnetGroup {
        cache_subnet_group_name: Some(g.name.clone()),
        cache_subnet_group_description: Some(g.description.clone()),
        vpc_id: Some(g.vpc_id.clone()),
        subnets: Some(
            g.subnets
                .iter()
                .map(|s| Subnet {
                    subnet_identifier: Some(s.id.clone()),
                    subnet_availability_zone: Some(AvailabilityZone {
                        name: Some(s.availability_zone.clone()),
                    }),
                    supported_network_types: Some(vec!["ipv4".to_string()]),
                    subnet_outpost: None,
                })
                .collect(),
        ),
        arn: Some(arn_of(ctx, ResourceKind::SubnetGroup, &g.name)),
        supported_network_types: Some(vec!["ipv4".to_string()]),
    }
}

/// Validates and de-duplicates subnet ids; assigns zones round-robin.
fn subnets(r: &Region, ids: &[String]) -> Result<Vec<SubnetRecord>, ApiError> {
    if ids.is_empty() {
        return Err(ApiError::missing_parameter_named("SubnetIds"));
    }
    let mut unique: Vec<&String> = Vec::new();
    for id in ids {
        let valid = id
            .strip_prefix("subnet-")
            .is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_alphanumeric()));
        if !valid {
            return Err(ApiError::invalid_subnet(format!(
                "The subnet ID {id} is not valid."
            )));
        }
        if !unique.contains(&id) {
            unique.push(id);
        }
    }
    if unique.len() > MAX_SUBNETS_PER_GROUP {
        return Err(ApiError::cache_subnet_quota_exceeded(format!(
            "A cache subnet group can contain at most {MAX_SUBNETS_PER_GROUP} subnets."
        )));
    }
    let zones = r.availability_zones();
    Ok(unique
        .into_iter()
        .enumerate()
        .map(|(i, id)| SubnetRecord {
            id: id.clone(),
            availability_zone: zones[i % 3].clone(),
        })
        .collect())
}

/// CreateCacheSubnetGroup.
pub fn create_cache_subnet_group(
    svc: &Service,
    ctx: &RequestContext,
    input: CreateCacheSubnetGroupInput,
) -> Result<CreateCacheSubnetGroupOutput, ApiError> {
    let name = validate::subnet_group_name(&input.cache_subnet_group_name).map_err(invalid)?;
    let tags = tags_from_request(input.tags)?;
    check_tag_quota(&tags)?;
    let now = svc.inner.store.now();
    let region = svc.region(ctx);
    let mut r = lock(&region);
    if r.subnet_groups.contains_key(&name) {
        return Err(ApiError::cache_subnet_group_already_exists(format!(
            "Cache subnet group {name} already exists."
        )));
    }
    if r.subnet_groups.len() >= MAX_SUBNET_GROUPS {
        return Err(ApiError::cache_subnet_group_quota_exceeded(format!(
            "The maximum of {MAX_SUBNET_GROUPS} cache subnet groups per region has been reached."
        )));
    }
    let record = SubnetGroupRecord {
        name: name.clone(),
        description: input.cache_subnet_group_description,
        vpc_id: r.vpc_id(),
        subnets: subnets(&r, &input.subnet_ids)?,
    };
    attach_tags(&mut r, ResourceKind::SubnetGroup, &name, &tags);
    r.event(
        SourceType::CacheSubnetGroup,
        &name,
        "Cache subnet group created",
        now,
    );
    let out = render(ctx, &record);
    r.subnet_groups.insert(name, record);
    Ok(CreateCacheSubnetGroupOutput {
        cache_subnet_group: Some(out),
    })
}

/// DescribeCacheSubnetGroups.
pub fn describe_cache_subnet_groups(
    svc: &Service,
    ctx: &RequestContext,
    input: DescribeCacheSubnetGroupsInput,
) -> Result<DescribeCacheSubnetGroupsOutput, ApiError> {
    let max = page_size(input.max_records)?;
    let region = svc.region(ctx);
    let groups: Vec<CacheSubnetGroup> = {
        let r = lock(&region);
        match &input.cache_subnet_group_name {
            Some(n) => {
                let n = n.trim().to_ascii_lowercase();
                vec![render(
                    ctx,
                    r.subnet_groups.get(&n).ok_or_else(|| not_found(&n))?,
                )]
            }
            None => r.subnet_groups.values().map(|g| render(ctx, g)).collect(),
        }
    };
    let page = page(groups, input.marker.as_deref(), max)?;
    Ok(DescribeCacheSubnetGroupsOutput {
        cache_subnet_groups: Some(page.items),
        marker: page.marker,
    })
}

/// ModifyCacheSubnetGroup: new description and/or a full replacement subnet list. A subnet
/// whose zone holds nodes of a cluster in the group cannot go unless another subnet of the new
/// list covers that zone (`SubnetInUse`).
pub fn modify_cache_subnet_group(
    svc: &Service,
    ctx: &RequestContext,
    input: ModifyCacheSubnetGroupInput,
) -> Result<ModifyCacheSubnetGroupOutput, ApiError> {
    let name = input.cache_subnet_group_name.trim().to_ascii_lowercase();
    let now = svc.inner.store.now();
    let region = svc.region(ctx);
    let mut r = lock(&region);
    let current = r
        .subnet_groups
        .get(&name)
        .cloned()
        .ok_or_else(|| not_found(&name))?;
    let mut updated = current.clone();
    if let Some(d) = input.cache_subnet_group_description {
        updated.description = d;
    }
    if let Some(ids) = &input.subnet_ids {
        // Keep the zone of subnets that stay; new ones fill zones round-robin.
        let mut list = subnets(&r, ids)?;
        for s in &mut list {
            if let Some(old) = current.subnets.iter().find(|o| o.id == s.id) {
                s.availability_zone = old.availability_zone.clone();
            }
        }
        let used_zones: Vec<String> = r
            .clusters
            .values()
            .filter(|c| c.subnet_group == name)
            .flat_map(|c| c.nodes.iter().map(|n| n.availability_zone.clone()))
            .collect();
        for removed in current
            .subnets
            .iter()
            .filter(|o| !list.iter().any(|s| s.id == o.id))
        {
            let zone_still_covered = list
                .iter()
                .any(|s| s.availability_zone == removed.availability_zone);
            if used_zones.contains(&removed.availability_zone) && !zone_still_covered {
                return Err(ApiError::subnet_in_use(format!(
                    "The subnet {} is in use by a cache cluster in subnet group {name}.",
                    removed.id
                )));
            }
        }
        updated.subnets = list;
    }
    r.event(
        SourceType::CacheSubnetGroup,
        &name,
        "Cache subnet group modified",
        now,
    );
    let out = render(ctx, &updated);
    r.subnet_groups.insert(name, updated);
    Ok(ModifyCacheSubnetGroupOutput {
        cache_subnet_group: Some(out),
    })
}

/// DeleteCacheSubnetGroup.
pub fn delete_cache_subnet_group(
    svc: &Service,
    ctx: &RequestContext,
    input: DeleteCacheSubnetGroupInput,
) -> Result<DeleteCacheSubnetGroupOutput, ApiError> {
    let name = input.cache_subnet_group_name.trim().to_ascii_lowercase();
    let now = svc.inner.store.now();
    let region = svc.region(ctx);
    let mut r = lock(&region);
    if !r.subnet_groups.contains_key(&name) {
        return Err(not_found(&name));
    }
    if name == crate::state::DEFAULT_SUBNET_GROUP {
        return Err(ApiError::cache_subnet_group_in_use(
            "The default cache subnet group cannot be deleted.",
        ));
    }
    if r.subnet_group_in_use(&name) {
        return Err(ApiError::cache_subnet_group_in_use(format!(
            "Cache subnet group {name} is currently in use by a cache cluster."
        )));
    }
    r.subnet_groups.remove(&name);
    r.tags.remove(&(ResourceKind::SubnetGroup, name.clone()));
    r.event(
        SourceType::CacheSubnetGroup,
        &name,
        "Cache subnet group deleted",
        now,
    );
    Ok(())
}
