//! DescribeCacheEngineVersions: the catalogue's engine versions filtered by engine, version,
//! family and `DefaultOnly` (the newest version per engine, or per family when a family is
//! given). Never fails on a filter that matches nothing, as AWS does not.

use crate::catalog::{EngineVersion, catalog, compare_versions};
use crate::control::api::*;
use crate::control::context::RequestContext;
use crate::control::error::ApiError;

use super::Service;
use super::common::*;

/// DescribeCacheEngineVersions.
pub fn describe_cache_engine_versions(
    _svc: &Service,
    _ctx: &RequestContext,
    input: DescribeCacheEngineVersionsInput,
) -> Result<DescribeCacheEngineVersionsOutput, ApiError> {
    let max = page_size(input.max_records)?;
    let engine = input.engine.as_deref().map(str::to_ascii_lowercase);
    let matching: Vec<&EngineVersion> = catalog()
        .engine_versions()
        .iter()
        .filter(|v| engine.as_deref().is_none_or(|e| v.engine == e))
        .filter(|v| {
            input
                .engine_version
                .as_deref()
                .is_none_or(|want| v.version == want || v.full_version == want)
        })
        .filter(|v| {
            input
                .cache_parameter_group_family
                .as_deref()
                .is_none_or(|f| v.family == f)
        })
        .collect();
    let selected: Vec<&EngineVersion> = if input.default_only.unwrap_or(false) {
        let by_family = input.cache_parameter_group_family.is_some();
        matching
            .iter()
            .filter(|v| {
                !matching.iter().any(|o| {
                    let same_group = o.engine == v.engine && (!by_family || o.family == v.family);
                    same_group && compare_versions(&o.full_version, &v.full_version).is_gt()
                })
            })
            .copied()
            .collect()
    } else {
        matching
    };
    let items: Vec<CacheEngineVersion> = selected
        .into_iter()
        .map(|v| CacheEngineVersion {
            engine: Some(v.engine.clone()),
            engine_version: Some(v.version.clone()),
            cache_parameter_group_family: Some(v.family.clone()),
            cache_engine_description: Some(v.engine_description.clone()),
            cache_engine_version_description: Some(v.version_description.clone()),
        })
        .collect();
    let page = page(items, input.marker.as_deref(), max)?;
    Ok(DescribeCacheEngineVersionsOutput {
        cache_engine_versions: Some(page.items),
        marker: page.marker,
    })
}
