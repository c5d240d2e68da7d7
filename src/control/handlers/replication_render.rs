//! Turns replication group records into the `ReplicationGroup` wire shape: node groups with
//! their members, roles and endpoints, exactly the members AWS reports for cluster mode
//! disabled (primary/reader endpoints, `CurrentRole`, `ReadEndpoint`) and enabled
//! (`ConfigurationEndpoint`, `Slots`).
//!
//! Place in the flow: every replication group handler answers through [`render_group`], reading
//! the member clusters from the same region snapshot it holds the lock on.

use crate::control::api::{
    Endpoint, GlobalReplicationGroupInfo, NodeGroup, NodeGroupMember, ReplicationGroup,
    ReplicationGroupPendingModifiedValues, Timestamp, UserGroupsUpdateStatus,
};
use crate::control::context::RequestContext;
use crate::state::{EndpointRecord, NodeGroupRecord, Region, ReplicationGroupRecord, ResourceKind};

use super::common::arn_of;

fn endpoint(e: &EndpointRecord) -> Endpoint {
    Endpoint {
        address: Some(e.address.clone()),
        port: Some(i32::from(e.port)),
    }
}

fn enabled(b: bool) -> String {
    if b { "enabled" } else { "disabled" }.to_string()
}

/// Renders a group with its members as they are in `r` now.
pub fn render_group(
    ctx: &RequestContext,
    r: &Region,
    g: &ReplicationGroupRecord,
) -> ReplicationGroup {
    ReplicationGroup {
        replication_group_id: Some(g.id.clone()),
        description: Some(g.description.clone()),
        global_replication_group_info: g.global.as_ref().map(|m| GlobalReplicationGroupInfo {
            global_replication_group_id: Some(m.id.clone()),
            global_replication_group_member_role: Some(m.role.as_str().to_string()),
        }),
        status: Some(g.status.as_str().to_string()),
        pending_modified_values: Some(pending_modified_values(g)),
        member_clusters: Some(g.member_ids()),
        node_groups: Some(
            g.node_groups
                .iter()
                .map(|ng| node_group(r, g, ng))
                .collect(),
        ),
        snapshotting_cluster_id: g.snapshotting_cluster_id.clone(),
        automatic_failover: Some(enabled(g.automatic_failover)),
        multi_az: Some(enabled(g.multi_az)),
        configuration_endpoint: if g.runs_cluster_mode() {
            g.configuration_endpoint.as_ref().map(endpoint)
        } else {
            None
        },
        snapshot_retention_limit: Some(g.snapshot_retention_limit),
        snapshot_window: Some(g.snapshot_window.clone()),
        cluster_enabled: Some(g.cluster_enabled),
        cluster_mode: Some(g.cluster_mode.clone()),
        cache_node_type: Some(g.node_type.clone()),
        auth_token_enabled: Some(g.auth_token.is_some()),
        auth_token_last_modified_date: g.auth_token_last_modified.map(Timestamp),
        transit_encryption_enabled: Some(g.transit_encryption_enabled),
        transit_encryption_mode: g.transit_encryption_mode.clone(),
        at_rest_encryption_enabled: Some(g.at_rest_encryption_enabled),
        kms_key_id: g.kms_key_id.clone(),
        arn: Some(arn_of(ctx, ResourceKind::ReplicationGroup, &g.id)),
        user_group_ids: Some(g.user_group_ids.clone()),
        log_delivery_configurations: Some(Vec::new()),
        replication_group_create_time: Some(Timestamp(g.create_time)),
        data_tiering: Some(g.data_tiering.clone()),
        auto_minor_version_upgrade: Some(g.auto_minor_version_upgrade),
        network_type: Some(g.network_type.clone()),
        ip_discovery: Some(g.ip_discovery.clone()),
        engine: Some(g.engine.clone()),
        member_clusters_outpost_arns: None,
    }
}

/// One shard (`NodeGroup`) with its members as they are in `r` now.
fn node_group(r: &Region, g: &ReplicationGroupRecord, ng: &NodeGroupRecord) -> NodeGroup {
    let members = ng
        .members
        .iter()
        .map(|m| {
            let c = r.clusters.get(m);
            let node = c.and_then(|c| c.nodes.first());
            NodeGroupMember {
                cache_cluster_id: Some(m.clone()),
                cache_node_id: Some("0001".to_string()),
                read_endpoint: if g.cluster_enabled {
                    None
                } else {
                    node.and_then(|n| n.endpoint.as_ref()).map(endpoint)
                },
                preferred_availability_zone: node.map(|n| n.availability_zone.clone()),
                current_role: (!g.cluster_enabled).then(|| {
                    if *m == ng.primary {
                        "primary"
                    } else {
                        "replica"
                    }
                    .to_string()
                }),
                ..Default::default()
            }
        })
        .collect();
    NodeGroup {
        node_group_id: Some(ng.id.clone()),
        status: Some(ng.status.as_str().to_string()),
        primary_endpoint: if g.cluster_enabled {
            None
        } else {
            g.primary_endpoint.as_ref().map(endpoint)
        },
        reader_endpoint: if g.cluster_enabled {
            None
        } else {
            g.reader_endpoint.as_ref().map(endpoint)
        },
        slots: g.cluster_enabled.then(|| ng.slots_string()),
        node_group_members: Some(members),
    }
}

/// What the group's pending modification will change.
fn pending_modified_values(g: &ReplicationGroupRecord) -> ReplicationGroupPendingModifiedValues {
    ReplicationGroupPendingModifiedValues {
        primary_cluster_id: g.pending_primary.clone(),
        auth_token_status: g.pending_auth_token_status.clone(),
        user_groups: g
            .pending_user_groups
            .as_ref()
            .map(|(add, remove)| UserGroupsUpdateStatus {
                user_group_ids_to_add: Some(add.clone()),
                user_group_ids_to_remove: Some(remove.clone()),
            }),
        resharding: g
            .resharding_progress
            .map(|p| crate::control::api::ReshardingStatus {
                slot_migration: Some(crate::control::api::SlotMigration {
                    progress_percentage: Some(p),
                }),
            }),
        ..Default::default()
    }
}
