//! Checks of a request against the catalogue (node types, engine versions, parameter
//! families) and against the region's records (parameter, subnet and security groups, zones,
//! quotas), with AWS's errors and messages. Each rule and message is written once here.
//!
//! Place in the flow: the plan step of a handler calls these under the region lock after the
//! pure [`validate`](super) checks of the request's own values; they read, never change,
//! state. Handler families share them instead of importing each other.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::catalog::{EngineVersion, NodeType, catalog, compare_versions};
use crate::control::error::ApiError;
use crate::state::Region;

/// Maintenance window of a new cluster or group when the request names none (the one AWS
/// shows in its examples).
pub const DEFAULT_MAINTENANCE_WINDOW: &str = "sun:05:00-sun:06:00";
/// Snapshot window of a new Redis/Valkey cluster or group when the request names none.
pub const DEFAULT_SNAPSHOT_WINDOW: &str = "05:00-06:00";

/// Cache nodes per region (AWS's default quota).
pub const MAX_NODES_PER_REGION: usize = 300;
/// Clusters per region.
pub const MAX_CLUSTERS_PER_REGION: usize = 300;
/// Memcached nodes per cluster.
pub const MAX_MEMCACHED_NODES: i32 = 40;
/// Nodes per cluster mode disabled group: one primary and up to five replicas.
pub const MAX_CMD_NODES: i32 = 6;
/// Replicas per shard.
pub const MAX_REPLICAS: i32 = 5;
/// Shards per cluster mode enabled group.
pub const MAX_NODE_GROUPS: i32 = 90;
/// Nodes per cluster mode enabled group (default quota).
pub const MAX_CME_NODES: i32 = 90;

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::invalid_parameter_value(message)
}

fn combination(message: impl Into<String>) -> ApiError {
    ApiError::invalid_parameter_combination(message)
}

/// Resolves a node type and checks that it can be created for `engine`.
pub fn node_type_for(name: &str, engine: &str) -> Result<&'static NodeType, ApiError> {
    let nt = catalog()
        .node_type(name)
        .ok_or_else(|| invalid(format!("Invalid CacheNodeType: {name}")))?;
    if !nt.creatable {
        return Err(invalid(format!(
            "The node type {name} is no longer available for new nodes."
        )));
    }
    if !nt.supports(engine) {
        return Err(invalid(format!(
            "The node type {name} is not supported by engine {engine}."
        )));
    }
    Ok(nt)
}

/// Resolves an engine name and (optional, possibly partial) version.
pub fn engine_version(
    engine: &str,
    version: Option<&str>,
) -> Result<&'static EngineVersion, ApiError> {
    if !catalog().is_engine(engine) {
        return Err(invalid(format!(
            "Invalid value for Engine: {engine}. Valid engines are redis, valkey and memcached."
        )));
    }
    catalog().resolve_version(engine, version).ok_or_else(|| {
        invalid(format!(
            "Cannot find version {} for {engine}",
            version.unwrap_or_default()
        ))
    })
}

/// An engine version upgrade: the resolved version, refused when it is older than `current`.
pub fn upgrade_version(
    engine: &str,
    current: &str,
    requested: &str,
) -> Result<&'static EngineVersion, ApiError> {
    let ver = engine_version(engine, Some(requested))?;
    if compare_versions(&ver.full_version, current) == Ordering::Less {
        return Err(invalid(format!(
            "Cannot downgrade {engine} from {current} to {}.",
            ver.full_version
        )));
    }
    Ok(ver)
}

/// The parameter group an upgrade to `family` moves to when the request names none: the
/// matching default group when the current one is a default, else AWS's refusal.
pub fn upgraded_parameter_group(
    r: &Region,
    current_group: &str,
    family: &str,
    cluster_on: bool,
) -> Result<String, ApiError> {
    if r.parameter_groups
        .get(current_group)
        .is_some_and(|g| g.is_default)
    {
        Ok(default_parameter_group(family, cluster_on))
    } else {
        Err(combination(format!(
            "The engine version upgrade changes the parameter group family to {family}; specify a CacheParameterGroupName of that family."
        )))
    }
}

/// The `default.*` parameter group of a family (`.cluster.on` for cluster mode enabled).
pub fn default_parameter_group(family: &str, cluster_on: bool) -> String {
    if cluster_on {
        format!("default.{family}.cluster.on")
    } else {
        format!("default.{family}")
    }
}

/// Checks that parameter group `name` exists and has `family`; answers whether it turns
/// cluster mode on (`cluster-enabled=yes`).
pub fn parameter_group_family(r: &Region, name: &str, family: &str) -> Result<bool, ApiError> {
    let g = r.parameter_groups.get(name).ok_or_else(|| {
        ApiError::cache_parameter_group_not_found(format!("CacheParameterGroup not found: {name}"))
    })?;
    if g.family != family {
        return Err(combination(format!(
            "The parameter group {name} has family {} which does not match the engine version family {family}.",
            g.family
        )));
    }
    Ok(r.effective_parameters(name)
        .get("cluster-enabled")
        .map(String::as_str)
        == Some("yes"))
}

/// Checks that a parameter group exists and fits a standalone cluster of `family`.
pub fn standalone_parameter_group(r: &Region, name: &str, family: &str) -> Result<(), ApiError> {
    if parameter_group_family(r, name, family)? {
        return Err(combination(format!(
            "The parameter group {name} has cluster-enabled set to yes; a cache cluster cannot use a cluster mode enabled parameter group."
        )));
    }
    Ok(())
}

/// The cache security groups named (lower-cased), each of which must exist.
pub fn security_groups(r: &Region, names: &[String]) -> Result<Vec<String>, ApiError> {
    names
        .iter()
        .map(|n| {
            let n = n.to_ascii_lowercase();
            if r.security_groups.contains_key(&n) {
                Ok(n)
            } else {
                Err(ApiError::cache_security_group_not_found(format!(
                    "CacheSecurityGroup not found: {n}"
                )))
            }
        })
        .collect()
}

/// The subnet group a Create request names (`default` when it names none), lower-cased, which
/// must exist in the region.
pub fn subnet_group(r: &Region, name: Option<&str>) -> Result<String, ApiError> {
    let subnet_group = name.unwrap_or("default").to_ascii_lowercase();
    if !r.subnet_groups.contains_key(&subnet_group) {
        return Err(ApiError::cache_subnet_group_not_found(format!(
            "CacheSubnetGroup not found: {subnet_group}"
        )));
    }
    Ok(subnet_group)
}

/// An availability zone name of the region.
pub fn zone(r: &Region, z: &str) -> Result<String, ApiError> {
    if r.availability_zones().iter().any(|x| x == z) {
        Ok(z.to_string())
    } else {
        Err(invalid(format!("Invalid availability zone: {z}")))
    }
}

/// Checks that `adding` more nodes fit the region's node quota.
pub fn node_quota(r: &Region, adding: usize) -> Result<(), ApiError> {
    if r.node_count() + adding > MAX_NODES_PER_REGION {
        return Err(ApiError::node_quota_for_customer_exceeded(format!(
            "The request would exceed the maximum of {MAX_NODES_PER_REGION} cache nodes per region."
        )));
    }
    Ok(())
}

/// Checks that `adding` more clusters fit the region's cluster quota.
pub fn cluster_quota(r: &Region, adding: usize) -> Result<(), ApiError> {
    if r.clusters.len() + adding > MAX_CLUSTERS_PER_REGION {
        return Err(ApiError::cluster_quota_for_customer_exceeded(format!(
            "The maximum of {MAX_CLUSTERS_PER_REGION} cache clusters per region has been reached."
        )));
    }
    Ok(())
}

/// Checks that no cluster has id `id` yet.
pub fn cluster_id_free(r: &Region, id: &str) -> Result<(), ApiError> {
    if r.clusters.contains_key(id) {
        return Err(ApiError::cache_cluster_already_exists(format!(
            "Cache cluster {id} already exists."
        )));
    }
    Ok(())
}

/// Whether moving from `old` to `new` values changes a parameter that only takes effect after
/// a reboot.
pub fn requires_reboot_change(
    family: &str,
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) -> bool {
    let Some(fam) = catalog().family(family) else {
        return false;
    };
    new.iter().any(|(k, v)| {
        old.get(k) != Some(v)
            && fam
                .parameter(k)
                .is_some_and(|p| p.change_type == "requires-reboot")
    })
}

/// AWS's refusal of AUTH tokens without in-transit encryption.
pub fn auth_token_needs_transit() -> ApiError {
    invalid("The AUTH token is only supported when encryption-in-transit is enabled")
}

/// AWS's refusal of in-transit encryption on Memcached before 1.6.12 (the first version that
/// supports TLS there).
pub fn memcached_transit_version(full_version: &str) -> Result<(), ApiError> {
    if compare_versions(full_version, "1.6.12") == Ordering::Less {
        return Err(combination(format!(
            "Encryption in transit is not supported for memcached {full_version}; \
             use engine version 1.6.12 or later."
        )));
    }
    Ok(())
}

/// AWS's refusal of AUTH token options for Memcached.
pub fn auth_token_not_for_memcached() -> ApiError {
    combination("AuthToken is only supported for the redis and valkey engines.")
}

/// AWS's refusal of snapshot options for Memcached.
pub fn snapshots_not_for_memcached() -> ApiError {
    combination("Snapshot options are not supported for the memcached engine.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn region() -> Region {
        Region::new("000000000000", "us-east-1", datetime!(2025-01-01 00:00 UTC))
    }

    #[test]
    fn catalogue_checks_answer_aws_errors() {
        assert!(node_type_for("cache.t3.micro", "redis").is_ok());
        let e = node_type_for("cache.x9.huge", "redis").err();
        assert_eq!(
            e.map(|e| (e.wire_code(), e.message().to_string())),
            Some((
                "InvalidParameterValue",
                "Invalid CacheNodeType: cache.x9.huge".to_string()
            ))
        );
        assert!(engine_version("mongodb", None).is_err());
        let v = engine_version("redis", Some("7.1")).map(|v| v.full_version.clone());
        assert_eq!(v.ok().as_deref(), Some("7.1.0"));
        let down = upgrade_version("redis", "7.1.0", "6.2").err();
        assert_eq!(
            down.map(|e| e.message().to_string()).as_deref(),
            Some("Cannot downgrade redis from 7.1.0 to 6.2.6.")
        );
    }

    #[test]
    fn memcached_transit_encryption_needs_1_6_12() {
        for ok in ["1.6.12", "1.6.17", "1.6.22"] {
            assert!(memcached_transit_version(ok).is_ok(), "{ok}");
        }
        let e = memcached_transit_version("1.6.6").err();
        assert_eq!(
            e.map(|e| e.wire_code()),
            Some("InvalidParameterCombination")
        );
    }

    #[test]
    fn region_checks_answer_aws_errors() {
        let r = region();
        assert_eq!(
            parameter_group_family(&r, "default.redis7", "redis7").ok(),
            Some(false)
        );
        assert_eq!(
            parameter_group_family(&r, "default.redis7.cluster.on", "redis7").ok(),
            Some(true)
        );
        let e = standalone_parameter_group(&r, "default.redis7.cluster.on", "redis7").err();
        assert_eq!(
            e.map(|e| e.wire_code()),
            Some("InvalidParameterCombination")
        );
        let e = parameter_group_family(&r, "nope", "redis7").err();
        assert_eq!(
            e.map(|e| e.wire_code()),
            Some("CacheParameterGroupNotFound")
        );
        assert_eq!(subnet_group(&r, None).ok().as_deref(), Some("default"));
        assert!(subnet_group(&r, Some("other")).is_err());
        assert!(security_groups(&r, &["missing".to_string()]).is_err());
        assert_eq!(zone(&r, "us-east-1b").ok().as_deref(), Some("us-east-1b"));
        assert!(zone(&r, "eu-west-1a").is_err());
        assert!(node_quota(&r, MAX_NODES_PER_REGION).is_ok());
        let e = node_quota(&r, MAX_NODES_PER_REGION + 1).err();
        assert_eq!(
            e.map(|e| e.wire_code()),
            Some("NodeQuotaForCustomerExceeded")
        );
    }
}
