//! Create/Describe/Modify/Reset/DeleteCacheParameterGroup(s), DescribeCacheParameters and
//! DescribeEngineDefaultParameters.
//!
//! Parameter definitions come from the catalogue; a group stores only what the user changed.
//! Modify and Reset push the new values to the running nodes of every cluster using the group
//! (the supervisor applies immediate ones live) and mark clusters `pending-reboot` when a
//! requires-reboot parameter changed.

use std::collections::BTreeMap;

use crate::catalog::{Family, catalog, value_allowed};
use crate::control::api::*;
use crate::control::context::RequestContext;
use crate::control::error::ApiError;
use crate::control::validate;
use crate::control::validate::checks::requires_reboot_change;
use crate::state::{ParameterGroupRecord, ParameterStatus, Region, ResourceKind, SourceType, lock};

use super::Service;
use super::common::*;
use super::lifecycle::ClusterRef;

/// Parameters per ModifyCacheParameterGroup call.
const MAX_PARAMETERS_PER_CALL: usize = 20;

fn not_found(name: &str) -> ApiError {
    ApiError::cache_parameter_group_not_found(format!("CacheParameterGroup not found: {name}"))
}

fn family_of(name: &str) -> Result<&'static Family, ApiError> {
    catalog().family(name).ok_or_else(|| {
        invalid(format!(
            "Invalid value for CacheParameterGroupFamily: {name}"
        ))
    })
}

fn render_group(ctx: &RequestContext, g: &ParameterGroupRecord) -> CacheParameterGroup {
    CacheParameterGroup {
        cache_parameter_group_name: Some(g.name.clone()),
        cache_parameter_group_family: Some(g.family.clone()),
        description: Some(g.description.clone()),
        is_global: Some(super::global_groups::is_global_parameter_group(&g.name)),
        arn: Some(arn_of(ctx, ResourceKind::ParameterGroup, &g.name)),
    }
}

/// The `Parameters` of a family with a group's values layered on; `source` filters by
/// `Source` (`user` = changed by the user).
fn parameters(
    fam: &Family,
    group: Option<&ParameterGroupRecord>,
    source: Option<&str>,
) -> Vec<Parameter> {
    fam.parameters
        .iter()
        .filter_map(|p| {
            let user = group.and_then(|g| g.user_values.get(&p.name));
            let system = group.and_then(|g| g.system_values.get(&p.name));
            let src = if user.is_some() { "user" } else { "system" };
            let keep = match source {
                None => true,
                Some("user") => user.is_some(),
                Some(_) => user.is_none(),
            };
            keep.then(|| Parameter {
                parameter_name: Some(p.name.clone()),
                parameter_value: Some(user.or(system).unwrap_or(&p.value).clone()),
                description: Some(p.description.clone()),
                source: Some(src.to_string()),
                data_type: Some(p.data_type.clone()),
                allowed_values: p.allowed_values.clone(),
                is_modifiable: Some(p.modifiable),
                minimum_engine_version: Some(p.minimum_engine_version.clone()),
                change_type: Some(p.change_type.clone()),
            })
        })
        .collect()
}

fn node_type_parameters(fam: &Family) -> Vec<CacheNodeTypeSpecificParameter> {
    fam.node_type_specific
        .iter()
        .map(|p| CacheNodeTypeSpecificParameter {
            parameter_name: Some(p.name.clone()),
            description: Some(p.description.clone()),
            source: Some("system".to_string()),
            data_type: Some(p.data_type.clone()),
            allowed_values: None,
            is_modifiable: Some(p.modifiable),
            minimum_engine_version: Some(p.minimum_engine_version.clone()),
            change_type: Some(p.change_type.clone()),
            cache_node_type_specific_values: Some(
                catalog()
                    .node_type_values(&fam.engine, p)
                    .into_iter()
                    .map(|(t, v)| CacheNodeTypeSpecificValue {
                        cache_node_type: Some(t),
                        value: Some(v),
                    })
                    .collect(),
            ),
        })
        .collect()
}

/// CreateCacheParameterGroup.
pub fn create_cache_parameter_group(
    svc: &Service,
    ctx: &RequestContext,
    input: CreateCacheParameterGroupInput,
) -> Result<CreateCacheParameterGroupOutput, ApiError> {
    let name =
        validate::parameter_group_name(&input.cache_parameter_group_name).map_err(invalid)?;
    family_of(&input.cache_parameter_group_family)?;
    let tags = tags_from_request(input.tags)?;
    check_tag_quota(&tags)?;
    let now = svc.inner.store.now();
    let region = svc.region(ctx);
    let mut r = lock(&region);
    if r.parameter_groups.contains_key(&name) {
        return Err(ApiError::cache_parameter_group_already_exists(format!(
            "Parameter group {name} already exists."
        )));
    }
    if r.parameter_groups
        .values()
        .filter(|g| !g.is_default)
        .count()
        >= MAX_PARAMETER_GROUPS
    {
        return Err(ApiError::cache_parameter_group_quota_exceeded(format!(
            "The maximum of {MAX_PARAMETER_GROUPS} cache parameter groups per region has been reached."
        )));
    }
    let record = ParameterGroupRecord {
        name: name.clone(),
        family: input.cache_parameter_group_family.clone(),
        description: input.description,
        is_default: false,
        system_values: BTreeMap::new(),
        user_values: BTreeMap::new(),
    };
    attach_tags(&mut r, ResourceKind::ParameterGroup, &name, &tags);
    r.event(
        SourceType::CacheParameterGroup,
        &name,
        "Cache parameter group created",
        now,
    );
    let out = render_group(ctx, &record);
    r.parameter_groups.insert(name, record);
    Ok(CreateCacheParameterGroupOutput {
        cache_parameter_group: Some(out),
    })
}

/// DescribeCacheParameterGroups.
pub fn describe_cache_parameter_groups(
    svc: &Service,
    ctx: &RequestContext,
    input: DescribeCacheParameterGroupsInput,
) -> Result<DescribeCacheParameterGroupsOutput, ApiError> {
    let max = page_size(input.max_records)?;
    let region = svc.region(ctx);
    let groups: Vec<CacheParameterGroup> = {
        let r = lock(&region);
        match &input.cache_parameter_group_name {
            Some(n) => {
                let n = n.trim().to_ascii_lowercase();
                vec![render_group(
                    ctx,
                    r.parameter_groups.get(&n).ok_or_else(|| not_found(&n))?,
                )]
            }
            None => r
                .parameter_groups
                .values()
                .map(|g| render_group(ctx, g))
                .collect(),
        }
    };
    let page = page(groups, input.marker.as_deref(), max)?;
    Ok(DescribeCacheParameterGroupsOutput {
        cache_parameter_groups: Some(page.items),
        marker: page.marker,
    })
}

fn check_source(source: Option<&str>) -> Result<(), ApiError> {
    match source {
        None | Some("user" | "system" | "engine-default") => Ok(()),
        Some(other) => Err(invalid(format!(
            "Invalid value for Source: {other}. Valid values are user, system and engine-default."
        ))),
    }
}

/// DescribeCacheParameters. Node-type specific parameters come with the first page only
/// (they are not paginated) and never with `Source=user`.
pub fn describe_cache_parameters(
    svc: &Service,
    ctx: &RequestContext,
    input: DescribeCacheParametersInput,
) -> Result<DescribeCacheParametersOutput, ApiError> {
    let max = page_size(input.max_records)?;
    check_source(input.source.as_deref())?;
    let name = input.cache_parameter_group_name.trim().to_ascii_lowercase();
    let region = svc.region(ctx);
    let group = lock(&region)
        .parameter_groups
        .get(&name)
        .cloned()
        .ok_or_else(|| not_found(&name))?;
    let fam = family_of(&group.family)?;
    let params = parameters(fam, Some(&group), input.source.as_deref());
    let first_page = input.marker.as_deref().is_none_or(str::is_empty);
    let node_params =
        (first_page && input.source.as_deref() != Some("user")).then(|| node_type_parameters(fam));
    let page = page(params, input.marker.as_deref(), max)?;
    Ok(DescribeCacheParametersOutput {
        parameters: Some(page.items),
        cache_node_type_specific_parameters: node_params,
        marker: page.marker,
    })
}

/// DescribeEngineDefaultParameters.
pub fn describe_engine_default_parameters(
    _svc: &Service,
    _ctx: &RequestContext,
    input: DescribeEngineDefaultParametersInput,
) -> Result<DescribeEngineDefaultParametersOutput, ApiError> {
    let max = page_size(input.max_records)?;
    let fam = family_of(&input.cache_parameter_group_family)?;
    let first_page = input.marker.as_deref().is_none_or(str::is_empty);
    let page = page(parameters(fam, None, None), input.marker.as_deref(), max)?;
    Ok(DescribeEngineDefaultParametersOutput {
        engine_defaults: Some(EngineDefaults {
            cache_parameter_group_family: Some(input.cache_parameter_group_family),
            marker: page.marker,
            parameters: Some(page.items),
            cache_node_type_specific_parameters: first_page.then(|| node_type_parameters(fam)),
        }),
    })
}

/// Looks up a user-modifiable group (not a default one).
fn modifiable_group<'a>(
    r: &'a Region,
    name: &str,
    verb: &str,
) -> Result<&'a ParameterGroupRecord, ApiError> {
    let g = r
        .parameter_groups
        .get(name)
        .ok_or_else(|| not_found(name))?;
    if g.is_default {
        return Err(invalid(format!(
            "Default parameter groups cannot be {verb}: {name}"
        )));
    }
    Ok(g)
}

/// Validates one name/value pair against the family's definitions.
fn check_parameter(
    fam: &Family,
    family: &str,
    name: &str,
    value: Option<&str>,
) -> Result<(), ApiError> {
    if fam.node_type_parameter(name).is_some() {
        return Err(invalid(format!("Parameter {name} is not modifiable.")));
    }
    let def = fam.parameter(name).ok_or_else(|| {
        invalid(format!(
            "Parameter {name} doesn't exist for family {family}"
        ))
    })?;
    if !def.modifiable {
        return Err(invalid(format!("Parameter {name} is not modifiable.")));
    }
    if let Some(v) = value
        && !value_allowed(def, v)
    {
        return Err(invalid(format!(
            "Value {v} for parameter {name} is invalid. Allowed values: {}",
            def.allowed_values.as_deref().unwrap_or_default()
        )));
    }
    Ok(())
}

/// Applies a group's new values to the clusters using it; returns the clusters to push to.
fn propagate(r: &mut Region, name: &str, old: &BTreeMap<String, String>) -> Vec<ClusterRef> {
    let new = r.effective_parameters(name);
    let family = r
        .parameter_groups
        .get(name)
        .map(|g| g.family.clone())
        .unwrap_or_default();
    let reboot = requires_reboot_change(&family, old, &new);
    let ids: Vec<String> = r
        .clusters
        .values()
        .filter(|c| c.parameter_group == name)
        .map(|c| c.id.clone())
        .collect();
    let mut refs = Vec::new();
    for id in ids {
        let Some(c) = r.clusters.get_mut(&id) else {
            continue;
        };
        if reboot {
            c.set_parameter_status(ParameterStatus::PendingReboot);
        }
        let c = c.clone();
        refs.push(ClusterRef::of(r, &c));
    }
    refs
}

/// ModifyCacheParameterGroup.
pub async fn modify_cache_parameter_group(
    svc: &Service,
    ctx: &RequestContext,
    input: ModifyCacheParameterGroupInput,
) -> Result<ModifyCacheParameterGroupOutput, ApiError> {
    let name = input.cache_parameter_group_name.trim().to_ascii_lowercase();
    if input.parameter_name_values.is_empty()
        || input.parameter_name_values.len() > MAX_PARAMETERS_PER_CALL
    {
        return Err(invalid(format!(
            "ParameterNameValues must contain between 1 and {MAX_PARAMETERS_PER_CALL} parameters."
        )));
    }
    let now = svc.inner.store.now();
    let region = svc.region(ctx);
    let refs = {
        let mut r = lock(&region);
        let g = modifiable_group(&r, &name, "modified")?;
        let fam = family_of(&g.family)?;
        let mut changes = Vec::new();
        for pv in &input.parameter_name_values {
            let pname = pv
                .parameter_name
                .clone()
                .ok_or_else(|| ApiError::missing_parameter_named("ParameterName"))?;
            let value = pv
                .parameter_value
                .clone()
                .ok_or_else(|| invalid(format!("A value must be given for parameter {pname}.")))?;
            check_parameter(fam, &g.family, &pname, Some(&value))?;
            changes.push((pname, value));
        }
        if changes
            .iter()
            .any(|(n, v)| n == "cluster-enabled" && v == "yes")
            && r.parameter_group_in_use(&name)
        {
            return Err(ApiError::invalid_cache_parameter_group_state(format!(
                "Cannot set cluster-enabled to yes on parameter group {name}: it is in use by a cache cluster."
            )));
        }
        let old = r.effective_parameters(&name);
        if let Some(g) = r.parameter_groups.get_mut(&name) {
            g.user_values.extend(changes);
        }
        r.event(
            SourceType::CacheParameterGroup,
            &name,
            "Cache parameter group modified",
            now,
        );
        propagate(&mut r, &name, &old)
    };
    for cref in refs {
        svc.push_parameters(&cref).await;
    }
    Ok(ModifyCacheParameterGroupOutput {
        cache_parameter_group_name: Some(name),
    })
}

/// ResetCacheParameterGroup.
pub async fn reset_cache_parameter_group(
    svc: &Service,
    ctx: &RequestContext,
    input: ResetCacheParameterGroupInput,
) -> Result<ResetCacheParameterGroupOutput, ApiError> {
    let name = input.cache_parameter_group_name.trim().to_ascii_lowercase();
    let all = input.reset_all_parameters.unwrap_or(false);
    let names: Vec<String> = input
        .parameter_name_values
        .unwrap_or_default()
        .into_iter()
        .filter_map(|pv| pv.parameter_name)
        .collect();
    if all && !names.is_empty() {
        return Err(combination(
            "ResetAllParameters cannot be combined with ParameterNameValues.",
        ));
    }
    if !all && names.is_empty() {
        return Err(invalid(
            "Either ResetAllParameters or ParameterNameValues must be specified.",
        ));
    }
    let now = svc.inner.store.now();
    let region = svc.region(ctx);
    let refs = {
        let mut r = lock(&region);
        let g = modifiable_group(&r, &name, "reset")?;
        let fam = family_of(&g.family)?;
        for n in &names {
            check_parameter(fam, &g.family, n, None)?;
        }
        let old = r.effective_parameters(&name);
        if let Some(g) = r.parameter_groups.get_mut(&name) {
            if all {
                g.user_values.clear();
            } else {
                for n in &names {
                    g.user_values.remove(n);
                }
            }
        }
        r.event(
            SourceType::CacheParameterGroup,
            &name,
            "Cache parameter group reset",
            now,
        );
        propagate(&mut r, &name, &old)
    };
    for cref in refs {
        svc.push_parameters(&cref).await;
    }
    Ok(ResetCacheParameterGroupOutput {
        cache_parameter_group_name: Some(name),
    })
}

/// DeleteCacheParameterGroup.
pub fn delete_cache_parameter_group(
    svc: &Service,
    ctx: &RequestContext,
    input: DeleteCacheParameterGroupInput,
) -> Result<DeleteCacheParameterGroupOutput, ApiError> {
    let name = input.cache_parameter_group_name.trim().to_ascii_lowercase();
    let now = svc.inner.store.now();
    let region = svc.region(ctx);
    let mut r = lock(&region);
    modifiable_group(&r, &name, "deleted")?;
    if let Some(c) = r.clusters.values().find(|c| c.parameter_group == name) {
        return Err(ApiError::invalid_cache_parameter_group_state(format!(
            "Cannot delete parameter group {name}: it is in use by cache cluster {}.",
            c.id
        )));
    }
    r.parameter_groups.remove(&name);
    r.tags.remove(&(ResourceKind::ParameterGroup, name.clone()));
    r.event(
        SourceType::CacheParameterGroup,
        &name,
        "Cache parameter group deleted",
        now,
    );
    Ok(())
}
