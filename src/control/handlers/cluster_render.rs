//! Turns cache cluster records into the `CacheCluster` wire shape, filling every member AWS
//! always reports (and only those that apply to the engine).

use crate::control::api::{
    CacheCluster, CacheNode, CacheParameterGroupStatus, CacheSecurityGroupMembership, Endpoint,
    NotificationConfiguration, PendingModifiedValues, ScaleConfig, SecurityGroupMembership,
    Timestamp,
};
use crate::control::context::RequestContext;
use crate::state::{CacheClusterRecord, EndpointRecord, ParameterStatus, ResourceKind};

use super::common::arn_of;

/// The console page AWS reports in every cluster.
pub const CLIENT_DOWNLOAD_LANDING_PAGE: &str =
    "https://console.aws.amazon.com/elasticache/home#client-download:";

fn endpoint(e: &EndpointRecord) -> Endpoint {
    Endpoint {
        address: Some(e.address.clone()),
        port: Some(i32::from(e.port)),
    }
}

/// Renders a cluster; `show_nodes` adds `CacheNodes` (DescribeCacheClusters' ShowCacheNodeInfo).
pub fn render_cluster(
    ctx: &RequestContext,
    c: &CacheClusterRecord,
    show_nodes: bool,
) -> CacheCluster {
    render_cluster_with_health(ctx, c, show_nodes, &|_| false)
}

/// `CacheNodeStatus` of a node whose engine is broken (a command panicked and it refuses
/// commands until rebooted). ElastiCache documents only `available`, `creating`, `rebooting`
/// and `deleting` for a node, none meaning "failed"; `rebooting` is the one that tells clients
/// the node is not serving and comes back, as a failed ElastiCache node does once recovered
/// (here, by RebootCacheCluster).
pub const BROKEN_NODE_STATUS: &str = "rebooting";

/// [`render_cluster`], with `broken(node_id)` saying whether a node's engine is broken (its
/// status then reads [`BROKEN_NODE_STATUS`] whatever the record says).
pub fn render_cluster_with_health(
    ctx: &RequestContext,
    c: &CacheClusterRecord,
    show_nodes: bool,
    broken: &dyn Fn(&str) -> bool,
) -> CacheCluster {
    let is_redis = c.engine != "memcached";
    CacheCluster {
        cache_cluster_id: Some(c.id.clone()),
        configuration_endpoint: c.configuration_endpoint.as_ref().map(endpoint),
        client_download_landing_page: Some(CLIENT_DOWNLOAD_LANDING_PAGE.to_string()),
        cache_node_type: Some(c.node_type.clone()),
        engine: Some(c.engine.clone()),
        engine_version: Some(c.engine_version.clone()),
        cache_cluster_status: Some(c.status.as_str().to_string()),
        num_cache_nodes: Some(c.nodes.len() as i32),
        preferred_availability_zone: Some(c.preferred_availability_zone.clone()),
        cache_cluster_create_time: Some(Timestamp(c.create_time)),
        preferred_maintenance_window: Some(c.maintenance_window.clone()),
        pending_modified_values: Some(pending_modified_values(c)),
        notification_configuration: c.notification_topic_arn.as_ref().map(|arn| {
            NotificationConfiguration {
                topic_arn: Some(arn.clone()),
                topic_status: Some(
                    c.notification_topic_status
                        .clone()
                        .unwrap_or_else(|| "active".to_string()),
                ),
            }
        }),
        cache_security_groups: Some(
            c.cache_security_groups
                .iter()
                .map(|g| CacheSecurityGroupMembership {
                    cache_security_group_name: Some(g.clone()),
                    status: Some("active".to_string()),
                })
                .collect(),
        ),
        cache_parameter_group: Some(parameter_group_status(c)),
        cache_subnet_group_name: Some(c.subnet_group.clone()),
        cache_nodes: show_nodes.then(|| cache_nodes(c, broken)),
        auto_minor_version_upgrade: Some(c.auto_minor_version_upgrade),
        security_groups: (!c.security_group_ids.is_empty()).then(|| {
            c.security_group_ids
                .iter()
                .map(|id| SecurityGroupMembership {
                    security_group_id: Some(id.clone()),
                    status: Some("active".to_string()),
                })
                .collect()
        }),
        replication_group_id: c.replication_group_id.clone(),
        snapshot_retention_limit: if is_redis {
            c.snapshot_retention_limit
        } else {
            None
        },
        snapshot_window: if is_redis {
            c.snapshot_window.clone()
        } else {
            None
        },
        auth_token_enabled: Some(c.auth_token.is_some()),
        auth_token_last_modified_date: c.auth_token_last_modified.map(Timestamp),
        transit_encryption_enabled: Some(c.transit_encryption_enabled),
        transit_encryption_mode: c.transit_encryption_mode.clone(),
        at_rest_encryption_enabled: Some(c.at_rest_encryption_enabled),
        arn: Some(arn_of(ctx, ResourceKind::Cluster, &c.id)),
        replication_group_log_delivery_enabled: Some(false),
        log_delivery_configurations: Some(Vec::new()),
        network_type: Some(c.network_type.clone()),
        ip_discovery: Some(c.ip_discovery.clone()),
        ..Default::default()
    }
}

/// What a cluster's pending modification will change (`PendingModifiedValues`).
fn pending_modified_values(c: &CacheClusterRecord) -> PendingModifiedValues {
    let pending = &c.pending;
    PendingModifiedValues {
        num_cache_nodes: pending.num_cache_nodes.map(|n| n as i32),
        cache_node_ids_to_remove: (!pending.cache_node_ids_to_remove.is_empty())
            .then(|| pending.cache_node_ids_to_remove.clone()),
        engine_version: pending.engine_version.clone(),
        cache_node_type: pending.cache_node_type.clone(),
        auth_token_status: pending.auth_token_status.clone(),
        scale_config: pending.scale_config.map(|s| ScaleConfig {
            scale_percentage: Some(s.percentage as i32),
            scale_interval_minutes: Some(s.interval_minutes as i32),
        }),
        ..Default::default()
    }
}

/// The cluster's parameter group, its apply status and the nodes waiting for a reboot.
fn parameter_group_status(c: &CacheClusterRecord) -> CacheParameterGroupStatus {
    let nodes_to_reboot: Vec<String> = if c.parameter_apply_status == ParameterStatus::PendingReboot
    {
        c.nodes
            .iter()
            .filter(|n| n.parameter_group_status == ParameterStatus::PendingReboot)
            .map(|n| n.id.clone())
            .collect()
    } else {
        Vec::new()
    };
    CacheParameterGroupStatus {
        cache_parameter_group_name: Some(c.parameter_group.clone()),
        parameter_apply_status: Some(c.parameter_apply_status.as_str().to_string()),
        cache_node_ids_to_reboot: Some(nodes_to_reboot),
    }
}

/// The cluster's nodes (`CacheNodes`, shown with `ShowCacheNodeInfo`).
fn cache_nodes(c: &CacheClusterRecord, broken: &dyn Fn(&str) -> bool) -> Vec<CacheNode> {
    c.nodes
        .iter()
        .map(|n| CacheNode {
            cache_node_id: Some(n.id.clone()),
            cache_node_status: Some(if broken(&n.id) {
                BROKEN_NODE_STATUS.to_string()
            } else {
                n.status.as_str().to_string()
            }),
            cache_node_create_time: Some(Timestamp(n.create_time)),
            endpoint: n.endpoint.as_ref().map(endpoint),
            parameter_group_status: Some(n.parameter_group_status.as_str().to_string()),
            customer_availability_zone: Some(n.availability_zone.clone()),
            ..Default::default()
        })
        .collect()
}
