//! ModifyCacheCluster's `ScaleConfig`: how a Memcached cluster's node type change (vertical
//! scaling) restarts its nodes, as AWS documents it: in batches of `ScalePercentage` percent
//! of the nodes (10–100, default 20, rounded up to whole nodes) with `ScaleIntervalMinutes`
//! between batches (2–30, default 5), for Memcached 1.5 or later only.
//!
//! Place in the flow: `cache_clusters::plan_modify` asks [`plan_scale_config`] to check the
//! request and record the setting in the pending values (reported as
//! `PendingModifiedValues.ScaleConfig`); `lifecycle::run_modify` cuts the restarts into
//! [`batches`].

use crate::catalog::compare_versions;
use crate::control::api::ModifyCacheClusterInput;
use crate::control::error::ApiError;
use crate::state::{CacheClusterRecord, PendingModifications, ScaleSetting};

use super::common::*;

/// AWS's default share of the nodes per batch.
const DEFAULT_PERCENTAGE: u32 = 20;
/// AWS's default minutes between batches.
const DEFAULT_INTERVAL_MINUTES: u32 = 5;

/// Checks `ScaleConfig` and the Memcached node type change it paces, and records the setting
/// (AWS's defaults when the request gives none) when a Memcached node type changes.
pub fn plan_scale_config(
    c: &CacheClusterRecord,
    input: &ModifyCacheClusterInput,
    pending: &mut PendingModifications,
) -> Result<(), ApiError> {
    let memcached = c.engine == "memcached";
    let given = input.scale_config.as_ref();
    if given.is_some() && !memcached {
        return Err(combination(
            "ScaleConfig applies to Memcached clusters only.",
        ));
    }
    let percentage = given.and_then(|s| s.scale_percentage);
    if let Some(p) = percentage.filter(|p| !(10..=100).contains(p)) {
        return Err(invalid(format!(
            "ScalePercentage must be between 10 and 100; {p} was given."
        )));
    }
    let interval = given.and_then(|s| s.scale_interval_minutes);
    if let Some(m) = interval.filter(|m| !(2..=30).contains(m)) {
        return Err(invalid(format!(
            "ScaleIntervalMinutes must be between 2 and 30; {m} was given."
        )));
    }
    if !memcached || pending.cache_node_type.is_none() {
        return Ok(());
    }
    if compare_versions(&c.engine_version, "1.5").is_lt() {
        return Err(combination(format!(
            "Node type modifications are available for Memcached 1.5 or later only; cache cluster {} runs {}.",
            c.id, c.engine_version
        )));
    }
    pending.scale_config = Some(ScaleSetting {
        percentage: percentage.map_or(DEFAULT_PERCENTAGE, |p| p as u32),
        interval_minutes: interval.map_or(DEFAULT_INTERVAL_MINUTES, |m| m as u32),
    });
    Ok(())
}

/// The restart batches of `nodes` under `setting`: `percentage` percent of the nodes each,
/// rounded up (at least one); one node at a time without a setting.
pub fn batches(nodes: &[String], setting: Option<ScaleSetting>) -> Vec<Vec<String>> {
    let size = setting.map_or(1, |s| {
        (nodes.len() * s.percentage as usize).div_ceil(100).max(1)
    });
    nodes.chunks(size).map(<[String]>::to_vec).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_round_up_to_whole_nodes() {
        let nodes: Vec<String> = (1..=5).map(|i| format!("{i:04}")).collect();
        let sizes = |p: u32| -> Vec<usize> {
            let s = ScaleSetting {
                percentage: p,
                interval_minutes: 5,
            };
            batches(&nodes, Some(s)).iter().map(Vec::len).collect()
        };
        assert_eq!(sizes(20), [1, 1, 1, 1, 1]);
        assert_eq!(sizes(30), [2, 2, 1], "1.5 nodes round up to 2");
        assert_eq!(sizes(50), [3, 2]);
        assert_eq!(sizes(100), [5]);
        assert_eq!(sizes(10), [1, 1, 1, 1, 1]);
        assert_eq!(batches(&nodes, None).len(), 5);
    }
}
