//! CreateReplicationGroup, DescribeReplicationGroups and DeleteReplicationGroup.
//!
//! Place in the flow: Create plans the group (request, engine, settings, shards and member
//! clusters; the region is only read), applies the plan under the region lock, answers with
//! the transitional status, and hands the engine work to a `replication_lifecycle` task
//! (start nodes, wire replication, endpoints, cluster topology).

use time::OffsetDateTime;

use crate::catalog::EngineVersion;
use crate::control::api::*;
use crate::control::context::RequestContext;
use crate::control::error::ApiError;
use crate::control::validate;
use crate::control::validate::checks::{self, *};
use crate::state::{
    CacheClusterRecord, ClusterStatus, GroupStatus, NodeGroupRecord, Region,
    ReplicationGroupRecord, ResourceKind, SourceType, Tag, default_slots, lock, parse_slots,
    slots_cover_exactly,
};

use super::Service;
use super::common::*;
use super::replication_lifecycle::GroupRef;
use super::replication_render::render_group;
use super::{snapshot_restore, snapshots};

/// What one shard of a new group needs.
struct ShardPlan {
    id: String,
    slots: Vec<(u16, u16)>,
    replicas: usize,
    primary_zone: Option<String>,
    replica_zones: Vec<String>,
}

/// Cluster mode from the request and the parameter group: (enabled, `ClusterMode` value).
fn decide_cluster_mode(
    input: &CreateReplicationGroupInput,
    group_cluster_on: Option<bool>,
) -> Result<(bool, String), ApiError> {
    let wants_shards = input.num_node_groups.is_some_and(|n| n > 1)
        || input
            .node_group_configuration
            .as_ref()
            .is_some_and(|c| c.len() > 1);
    let mode = input.cluster_mode.as_deref().map(str::to_ascii_lowercase);
    let enabled = match mode.as_deref() {
        Some("enabled") => true,
        Some("disabled") | Some("compatible") => {
            if wants_shards || group_cluster_on == Some(true) {
                return Err(combination(
                    "ClusterMode disabled or compatible cannot be used with more than one node group or a cluster mode enabled parameter group.",
                ));
            }
            false
        }
        Some(other) => {
            return Err(invalid(format!(
                "Invalid value for ClusterMode: {other}. Valid values are enabled, disabled and compatible."
            )));
        }
        None => wants_shards || group_cluster_on == Some(true),
    };
    if enabled && group_cluster_on == Some(false) {
        return Err(combination(
            "A cluster mode enabled replication group needs a parameter group with cluster-enabled set to yes.",
        ));
    }
    let label = mode.unwrap_or_else(|| if enabled { "enabled" } else { "disabled" }.to_string());
    Ok((enabled, label))
}

/// Shards of a new group, from NumCacheClusters / ReplicasPerNodeGroup / NumNodeGroups /
/// NodeGroupConfiguration.
fn plan_shards(
    input: &CreateReplicationGroupInput,
    cluster_enabled: bool,
    adopting_primary: bool,
) -> Result<Vec<ShardPlan>, ApiError> {
    let configs = input.node_group_configuration.clone().unwrap_or_default();
    let rpng = input.replicas_per_node_group;
    if let Some(r) = rpng
        && !(0..=MAX_REPLICAS).contains(&r)
    {
        return Err(invalid(format!(
            "ReplicasPerNodeGroup must be between 0 and {MAX_REPLICAS}."
        )));
    }
    if cluster_enabled {
        plan_cme_shards(input, &configs, rpng)
    } else {
        plan_cmd_shard(input, &configs, rpng, adopting_primary)
    }
}

/// The one shard of a cluster mode disabled group: replica count and zones.
fn plan_cmd_shard(
    input: &CreateReplicationGroupInput,
    configs: &[NodeGroupConfiguration],
    rpng: Option<i32>,
    adopting_primary: bool,
) -> Result<Vec<ShardPlan>, ApiError> {
    if input.num_node_groups.is_some_and(|n| n != 1) || configs.len() > 1 {
        return Err(combination(
            "A cluster mode disabled replication group has exactly one node group.",
        ));
    }
    if input.num_cache_clusters.is_some() && (rpng.is_some() || !configs.is_empty()) {
        return Err(combination(
            "NumCacheClusters cannot be used with ReplicasPerNodeGroup or NodeGroupConfiguration.",
        ));
    }
    let config = configs.first();
    let replicas = match (
        input.num_cache_clusters,
        config.and_then(|c| c.replica_count),
        rpng,
    ) {
        (Some(n), _, _) => {
            if !(1..=MAX_CMD_NODES).contains(&n) {
                return Err(if n > MAX_CMD_NODES {
                    ApiError::node_quota_for_cluster_exceeded(format!(
                        "NumCacheClusters ({n}) exceeds the maximum of {MAX_CMD_NODES} nodes (1 primary and 5 replicas)."
                    ))
                } else {
                    invalid("NumCacheClusters must be between 1 and 6.")
                });
            }
            (n - 1) as usize
        }
        (None, Some(c), _) | (None, None, Some(c)) => {
            if !(0..=MAX_REPLICAS).contains(&c) {
                return Err(invalid(format!(
                    "ReplicaCount must be between 0 and {MAX_REPLICAS}."
                )));
            }
            c as usize
        }
        (None, None, None) => 0,
    };
    let mut zones: Vec<String> = input
        .preferred_cache_cluster_azs
        .clone()
        .unwrap_or_default();
    if !zones.is_empty() && zones.len() != replicas + 1 {
        return Err(invalid(format!(
            "The number of PreferredCacheClusterAZs ({}) must equal NumCacheClusters ({}).",
            zones.len(),
            replicas + 1
        )));
    }
    let mut primary_zone = None;
    if !zones.is_empty() {
        primary_zone = Some(zones.remove(0));
    } else if let Some(c) = config {
        primary_zone = c.primary_availability_zone.clone();
        zones = c.replica_availability_zones.clone().unwrap_or_default();
        if !zones.is_empty() && zones.len() != replicas {
            return Err(invalid(
                "The number of ReplicaAvailabilityZones must equal the replica count.",
            ));
        }
    }
    if adopting_primary {
        primary_zone = None;
    }
    Ok(vec![ShardPlan {
        id: "0001".to_string(),
        slots: Vec::new(),
        replicas,
        primary_zone,
        replica_zones: zones,
    }])
}

/// The shards of a cluster mode enabled group: count, ids, slots, replicas and zones.
fn plan_cme_shards(
    input: &CreateReplicationGroupInput,
    configs: &[NodeGroupConfiguration],
    rpng: Option<i32>,
) -> Result<Vec<ShardPlan>, ApiError> {
    if input.num_cache_clusters.is_some() {
        return Err(combination(
            "NumCacheClusters cannot be used for a cluster mode enabled replication group; use NumNodeGroups and ReplicasPerNodeGroup.",
        ));
    }
    let n = match (input.num_node_groups, configs.len()) {
        (Some(n), c) if c > 0 && n as usize != c => {
            return Err(invalid(format!(
                "NumNodeGroups ({n}) must equal the number of NodeGroupConfiguration entries ({c})."
            )));
        }
        (Some(n), _) => n,
        (None, 0) => 1,
        (None, c) => c as i32,
    };
    if n < 1 {
        return Err(invalid("NumNodeGroups must be at least 1."));
    }
    if n > MAX_NODE_GROUPS {
        return Err(ApiError::node_groups_per_replication_group_quota_exceeded(
            format!("The number of node groups ({n}) exceeds the maximum of {MAX_NODE_GROUPS}."),
        ));
    }
    let n = n as usize;
    let defaults = default_slots(n);
    let explicit_slots = !configs.is_empty() && configs.iter().all(|c| c.slots.is_some());
    if configs.iter().any(|c| c.slots.is_some()) && !explicit_slots {
        return Err(invalid(
            "Slots must be given for every node group or for none.",
        ));
    }
    let mut plans = Vec::with_capacity(n);
    for (i, default_range) in defaults.iter().enumerate() {
        let config = configs.get(i);
        let id = match config.and_then(|c| c.node_group_id.clone()) {
            Some(id) => {
                if id.is_empty() || id.len() > 4 || !id.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(invalid(format!(
                        "Invalid NodeGroupId: {id}. It must be 1 to 4 digits."
                    )));
                }
                format!("{:04}", id.parse::<u32>().unwrap_or(0))
            }
            None => format!("{:04}", i + 1),
        };
        let slots = match config.and_then(|c| c.slots.as_deref()) {
            Some(s) => parse_slots(s).ok_or_else(|| invalid(format!("Invalid slot range: {s}")))?,
            None => vec![*default_range],
        };
        let replicas = config.and_then(|c| c.replica_count).or(rpng).unwrap_or(0);
        if !(0..=MAX_REPLICAS).contains(&replicas) {
            return Err(invalid(format!(
                "ReplicaCount must be between 0 and {MAX_REPLICAS}."
            )));
        }
        let replica_zones = config
            .and_then(|c| c.replica_availability_zones.clone())
            .unwrap_or_default();
        if !replica_zones.is_empty() && replica_zones.len() != replicas as usize {
            return Err(invalid(
                "The number of ReplicaAvailabilityZones must equal the replica count.",
            ));
        }
        plans.push(ShardPlan {
            id,
            slots,
            replicas: replicas as usize,
            primary_zone: config.and_then(|c| c.primary_availability_zone.clone()),
            replica_zones,
        });
    }
    let mut ids: Vec<&String> = plans.iter().map(|p| &p.id).collect();
    ids.sort();
    ids.dedup();
    if ids.len() != plans.len() {
        return Err(invalid("NodeGroupId values must be unique."));
    }
    let all: Vec<(u16, u16)> = plans.iter().flat_map(|p| p.slots.iter().copied()).collect();
    if !slots_cover_exactly(&all) {
        return Err(invalid(
            "The slot ranges of the node groups must cover 0-16383 exactly once.",
        ));
    }
    let total: usize = plans.iter().map(|p| 1 + p.replicas).sum();
    if total > MAX_CME_NODES as usize {
        return Err(ApiError::node_groups_per_replication_group_quota_exceeded(
            format!(
                "The replication group would have {total} nodes; the maximum is {MAX_CME_NODES}."
            ),
        ));
    }
    Ok(plans)
}

/// A CreateReplicationGroup request, its own values checked (no state read).
struct GroupRequest {
    id: String,
    tags: Vec<Tag>,
    transit: bool,
    maintenance: String,
    snapshot_window: String,
    retention: i32,
}

/// Plan, first step: checks a CreateReplicationGroup request's own values.
fn check_group_request(input: &CreateReplicationGroupInput) -> Result<GroupRequest, ApiError> {
    let id = validate::replication_group_id(&input.replication_group_id).map_err(invalid)?;
    non_blank(
        "ReplicationGroupDescription",
        &input.replication_group_description,
    )?;
    let tags = tags_from_request(input.tags.clone())?;
    check_tag_quota(&tags)?;
    let transit = input.transit_encryption_enabled.unwrap_or(false);
    if let Some(token) = &input.auth_token {
        if !transit {
            return Err(auth_token_needs_transit());
        }
        validate::auth_token(token).map_err(invalid)?;
    }
    if let Some(mode) = &input.transit_encryption_mode
        && !matches!(mode.as_str(), "preferred" | "required")
    {
        return Err(invalid(format!(
            "Invalid value for TransitEncryptionMode: {mode}"
        )));
    }
    let maintenance = match &input.preferred_maintenance_window {
        Some(w) => validate::maintenance_window(w).map_err(invalid)?,
        None => DEFAULT_MAINTENANCE_WINDOW.to_string(),
    };
    let snapshot_window = match &input.snapshot_window {
        Some(w) => validate::snapshot_window(w).map_err(invalid)?,
        None => DEFAULT_SNAPSHOT_WINDOW.to_string(),
    };
    let retention = match input.snapshot_retention_limit {
        Some(l) => validate::snapshot_retention(l).map_err(invalid)?,
        None => 0,
    };
    Ok(GroupRequest {
        id,
        tags,
        transit,
        maintenance,
        snapshot_window,
        retention,
    })
}

/// The engine of a new group: an adopted standalone primary's, or the request's.
struct EngineChoice {
    adopted: Option<CacheClusterRecord>,
    engine: String,
    version: &'static EngineVersion,
    node_type: String,
}

/// Plan: the engine, version and node type, adopting `PrimaryClusterId` when given.
fn plan_engine(r: &Region, input: &CreateReplicationGroupInput) -> Result<EngineChoice, ApiError> {
    // An existing standalone cluster may become the primary (CMD only).
    let adopted = match &input.primary_cluster_id {
        Some(raw) => {
            let pid = raw.trim().to_ascii_lowercase();
            let c = r.cluster(&pid)?;
            c.check(ClusterStatus::Modifying)?;
            if c.replication_group_id.is_some() {
                return Err(ApiError::invalid_cache_cluster_state(format!(
                    "Cache cluster {pid} is already a member of a replication group."
                )));
            }
            if c.engine == "memcached" {
                return Err(combination(
                    "Replication groups are only supported for the redis and valkey engines.",
                ));
            }
            Some(c.clone())
        }
        None => None,
    };
    let engine = match (&adopted, &input.engine) {
        (Some(c), _) => c.engine.clone(),
        (None, Some(e)) => e.trim().to_ascii_lowercase(),
        (None, None) => "redis".to_string(),
    };
    if engine == "memcached" {
        return Err(invalid(
            "Replication groups are only supported for the redis and valkey engines.",
        ));
    }
    let version = match &adopted {
        Some(c) => engine_version(&engine, Some(&c.engine_version))?,
        None => engine_version(&engine, input.engine_version.as_deref())?,
    };
    let node_type = match (&adopted, &input.cache_node_type) {
        (Some(c), _) => c.node_type.clone(),
        (None, Some(t)) => node_type_for(t, &engine)?.name.clone(),
        (None, None) => {
            return Err(invalid("The parameter CacheNodeType must be provided."));
        }
    };
    Ok(EngineChoice {
        adopted,
        engine,
        version,
        node_type,
    })
}

/// Group-wide settings of a new group, from the request, its engine and the region.
struct GroupSettings {
    cluster_enabled: bool,
    cluster_mode: String,
    parameter_group: String,
    shards: Vec<ShardPlan>,
    automatic_failover: bool,
    multi_az: bool,
    port: u16,
    subnet_group: String,
    cache_security_groups: Vec<String>,
}

/// Plan: cluster mode, parameter group, shards, failover, port, groups and quotas.
fn plan_settings(
    r: &Region,
    input: &CreateReplicationGroupInput,
    choice: &EngineChoice,
) -> Result<GroupSettings, ApiError> {
    let EngineChoice {
        adopted, version, ..
    } = choice;
    let requested_group = input
        .cache_parameter_group_name
        .as_ref()
        .map(|n| n.to_ascii_lowercase())
        .or_else(|| adopted.as_ref().map(|c| c.parameter_group.clone()));
    let group_cluster_on = match &requested_group {
        Some(name) => Some(parameter_group_family(r, name, &version.family)?),
        None => None,
    };
    let (cluster_enabled, cluster_mode) = decide_cluster_mode(input, group_cluster_on)?;
    if cluster_enabled && adopted.is_some() {
        return Err(combination(
            "PrimaryClusterId cannot be used for a cluster mode enabled replication group.",
        ));
    }
    let parameter_group = requested_group
        .unwrap_or_else(|| default_parameter_group(&version.family, cluster_enabled));
    let shards = plan_shards(input, cluster_enabled, adopted.is_some())?;
    let total_nodes: usize = shards.iter().map(|s| 1 + s.replicas).sum();
    let automatic_failover = match input.automatic_failover_enabled {
        Some(false) if cluster_enabled => {
            return Err(combination(
                "Automatic failover must be enabled for a cluster mode enabled replication group.",
            ));
        }
        Some(true) if !cluster_enabled && total_nodes < 2 => {
            return Err(combination(
                "Automatic failover requires at least one read replica (NumCacheClusters must be at least 2).",
            ));
        }
        Some(b) => b,
        None => cluster_enabled,
    };
    let multi_az = input.multi_az_enabled.unwrap_or(false);
    if multi_az && !automatic_failover {
        return Err(combination(
            "Multi-AZ requires automatic failover to be enabled.",
        ));
    }
    let port = match (&adopted, input.port) {
        (Some(c), None) => c.port,
        (_, p) => validate::port(p.unwrap_or(6379)).map_err(invalid)?,
    };
    let subnet_group = checks::subnet_group(r, input.cache_subnet_group_name.as_deref())?;
    let cache_security_groups = security_groups(
        r,
        input
            .cache_security_group_names
            .as_deref()
            .unwrap_or_default(),
    )?;
    let new_nodes = total_nodes - usize::from(adopted.is_some());
    node_quota(r, new_nodes)?;
    cluster_quota(r, new_nodes)?;
    Ok(GroupSettings {
        cluster_enabled,
        cluster_mode,
        parameter_group,
        shards,
        automatic_failover,
        multi_az,
        port,
        subnet_group,
        cache_security_groups,
    })
}

/// The record of a new group (`creating`, no shards yet).
fn new_group_record(
    input: &CreateReplicationGroupInput,
    req: GroupRequest,
    choice: &EngineChoice,
    settings: GroupSettings,
    now: OffsetDateTime,
) -> ReplicationGroupRecord {
    let GroupRequest {
        id,
        transit,
        maintenance,
        snapshot_window,
        retention,
        ..
    } = req;
    let GroupSettings {
        cluster_enabled,
        cluster_mode,
        parameter_group,
        automatic_failover,
        multi_az,
        port,
        subnet_group,
        cache_security_groups,
        ..
    } = settings;
    let (engine, version, node_type) = (&choice.engine, choice.version, choice.node_type.clone());
    ReplicationGroupRecord {
        id: id.clone(),
        description: input.replication_group_description.clone(),
        status: GroupStatus::Creating,
        engine: engine.clone(),
        engine_version: version.full_version.clone(),
        family: version.family.clone(),
        node_type,
        port,
        parameter_group,
        subnet_group,
        security_group_ids: input.security_group_ids.clone().unwrap_or_default(),
        cache_security_groups,
        cluster_enabled,
        cluster_mode,
        automatic_failover,
        multi_az,
        node_groups: Vec::new(),
        primary_endpoint: None,
        reader_endpoint: None,
        configuration_endpoint: None,
        auth_token: input.auth_token.clone(),
        auth_token_previous: None,
        auth_token_last_modified: input.auth_token.as_ref().map(|_| now),
        transit_encryption_enabled: transit,
        transit_encryption_mode: transit.then(|| {
            input
                .transit_encryption_mode
                .clone()
                .unwrap_or_else(|| "required".to_string())
        }),
        at_rest_encryption_enabled: input.at_rest_encryption_enabled.unwrap_or(false),
        kms_key_id: input.kms_key_id.clone(),
        snapshot_retention_limit: retention,
        snapshot_window,
        snapshotting_cluster_id: None,
        maintenance_window: maintenance,
        auto_minor_version_upgrade: input.auto_minor_version_upgrade.unwrap_or(true),
        network_type: input
            .network_type
            .clone()
            .unwrap_or_else(|| "ipv4".to_string()),
        ip_discovery: input
            .ip_discovery
            .clone()
            .unwrap_or_else(|| "ipv4".to_string()),
        data_tiering: if input.data_tiering_enabled.unwrap_or(false) {
            "enabled"
        } else {
            "disabled"
        }
        .to_string(),
        create_time: now,
        pending_primary: None,
        final_snapshot: None,
        generation: 1,
        user_group_ids: Vec::new(),
        pending_user_groups: None,
        pending_auth_token_status: None,
        global: None,
        resharding_progress: None,
    }
}

/// Plan: the shards of a new group and their member clusters (ids, zones), shard by shard.
fn plan_members(
    r: &Region,
    g: &mut ReplicationGroupRecord,
    shards: &[ShardPlan],
    adopted: Option<&CacheClusterRecord>,
    now: OffsetDateTime,
) -> Result<Vec<CacheClusterRecord>, ApiError> {
    let (id, cluster_enabled) = (g.id.clone(), g.cluster_enabled);
    // Member clusters, shard by shard.
    let mut members: Vec<CacheClusterRecord> = Vec::new();
    for (si, plan) in shards.iter().enumerate() {
        let mut ng = NodeGroupRecord {
            id: plan.id.clone(),
            slots: plan.slots.clone(),
            members: Vec::new(),
            primary: String::new(),
            status: GroupStatus::Creating,
        };
        if let Some(c) = adopted {
            ng.members.push(c.id.clone());
        } else {
            let mid = g.next_member_id(&ng, |x| r.clusters.contains_key(x));
            let zone = match &plan.primary_zone {
                Some(z) => checks::zone(r, z)?,
                None => r.spread_zone(si),
            };
            cluster_id_free(r, &mid)?;
            members.push(g.new_member(&mid, &zone, now));
            ng.members.push(mid);
        }
        ng.primary = ng.members[0].clone();
        for i in 0..plan.replicas {
            let mid = format!(
                "{}{:03}",
                if cluster_enabled {
                    format!("{id}-{}-", plan.id)
                } else {
                    format!("{id}-")
                },
                ng.members.len() + 1
            );
            cluster_id_free(r, &mid)?;
            let zone = match plan.replica_zones.get(i) {
                Some(z) => checks::zone(r, z)?,
                None => r.spread_zone(si + i + 1),
            };
            members.push(g.new_member(&mid, &zone, now));
            ng.members.push(mid);
        }
        g.node_groups.push(ng);
    }
    if g.snapshot_retention_limit > 0 {
        g.snapshotting_cluster_id = g
            .node_groups
            .first()
            .and_then(|ng| ng.replicas().next().cloned().or(Some(ng.primary.clone())));
    }
    Ok(members)
}

/// A planned new replication group: the group, its new member clusters, the adopted
/// primary (if any) and the tags every one of them gets.
struct GroupPlan {
    group: ReplicationGroupRecord,
    members: Vec<CacheClusterRecord>,
    adopted: Option<String>,
    tags: Vec<Tag>,
}

/// Plan of CreateReplicationGroup under the region lock; the region is only read.
fn plan_create_group(
    r: &Region,
    input: &CreateReplicationGroupInput,
    req: GroupRequest,
    now: OffsetDateTime,
) -> Result<GroupPlan, ApiError> {
    if r.replication_groups.contains_key(&req.id) {
        return Err(ApiError::replication_group_already_exists(format!(
            "Replication group {} already exists.",
            req.id
        )));
    }
    let choice = plan_engine(r, input)?;
    let mut settings = plan_settings(r, input, &choice)?;
    let shards = std::mem::take(&mut settings.shards);
    let tags = req.tags.clone();
    let mut group = new_group_record(input, req, &choice, settings, now);
    group.user_group_ids =
        super::rbac_attach::create_user_groups(r, input.user_group_ids.as_deref(), &group)?;
    let members = plan_members(r, &mut group, &shards, choice.adopted.as_ref(), now)?;
    Ok(GroupPlan {
        group,
        members,
        adopted: choice.adopted.map(|c| c.id),
        tags,
    })
}

/// Apply: records the planned group, its members and tags, and marks the adopted primary.
fn apply_create_group(r: &mut Region, plan: &GroupPlan) -> GroupRef {
    for m in &plan.members {
        attach_tags(r, ResourceKind::Cluster, &m.id, &plan.tags);
        r.insert_cluster(m.clone());
    }
    if let Some(c) = &plan.adopted
        && let Some(rec) = r.clusters.get_mut(c)
    {
        rec.replication_group_id = Some(plan.group.id.clone());
        rec.generation += 1;
    }
    attach_tags(
        r,
        ResourceKind::ReplicationGroup,
        &plan.group.id,
        &plan.tags,
    );
    let gref = GroupRef::of(r, &plan.group);
    r.insert_group(plan.group.clone());
    gref
}

/// CreateReplicationGroup: plan (request, then region), apply, then spawn the `creating`
/// task that starts the members and wires replication.
pub async fn create_replication_group(
    svc: &Service,
    ctx: &RequestContext,
    mut input: CreateReplicationGroupInput,
) -> Result<CreateReplicationGroupOutput, ApiError> {
    // A secondary of a global datastore inherits its engine, node type and shards.
    let secondary = match input.global_replication_group_id {
        Some(_) => Some(super::global_members::prepare_secondary(
            svc, ctx, &mut input,
        )?),
        None => None,
    };
    let images = snapshot_restore::prepare_group_restore(svc, ctx, &mut input)?;
    let restore = snapshot_restore::group_restore(&input, images)?;
    let req = check_group_request(&input)?;
    let now = svc.inner.store.now();
    let region = svc.region(ctx);
    let (record, gref, shards) = {
        let mut r = lock(&region);
        let mut plan = plan_create_group(&r, &input, req, now)?;
        if let Some(s) = &secondary {
            super::global_members::register_secondary(svc, ctx, s, &mut plan.group)?;
        }
        let g = &plan.group;
        if let Some(restore) = &restore {
            snapshot_restore::check_restore_shape(restore, g.node_groups.len(), g.cluster_enabled)?;
        }
        let shards: Vec<(String, Vec<(u16, u16)>)> = (g.node_groups.iter())
            .map(|ng| (ng.primary.clone(), ng.slots.clone()))
            .collect();
        let gref = apply_create_group(&mut r, &plan);
        (render_group(ctx, &r, &plan.group), gref, shards)
    };
    let seeds = restore.map(|x| snapshot_restore::seeds(x, shards));
    for (primary, image) in seeds.unwrap_or_default() {
        svc.inner
            .supervisor
            .seed_rdb(&gref.node_key(&primary), image);
    }
    svc.spawn_group_create(gref);
    Ok(CreateReplicationGroupOutput {
        replication_group: Some(record),
    })
}

/// DescribeReplicationGroups.
pub fn describe_replication_groups(
    svc: &Service,
    ctx: &RequestContext,
    input: DescribeReplicationGroupsInput,
) -> Result<DescribeReplicationGroupsOutput, ApiError> {
    let max = page_size(input.max_records)?;
    let region = svc.region(ctx);
    let rendered: Vec<ReplicationGroup> = {
        let r = lock(&region);
        match &input.replication_group_id {
            Some(raw) => vec![render_group(ctx, &r, r.group(raw)?)],
            None => r
                .groups_in_order()
                .map(|g| render_group(ctx, &r, g))
                .collect(),
        }
    };
    let page = page(rendered, input.marker.as_deref(), max)?;
    Ok(DescribeReplicationGroupsOutput {
        replication_groups: Some(page.items),
        marker: page.marker,
    })
}

/// DeleteReplicationGroup: every member goes (or all but the primary with
/// RetainPrimaryCluster=true, which becomes a standalone cluster again).
pub async fn delete_replication_group(
    svc: &Service,
    ctx: &RequestContext,
    input: DeleteReplicationGroupInput,
) -> Result<DeleteReplicationGroupOutput, ApiError> {
    let retain = input.retain_primary_cluster.unwrap_or(false);
    if let Some(name) = &input.final_snapshot_identifier {
        // Taken (and checked) before the members stop; a refusal leaves the group as it was.
        let id = input.replication_group_id.trim().to_ascii_lowercase();
        snapshots::final_snapshot(svc, ctx, snapshots::Source::Group(id), name).await?;
    }
    let now = svc.inner.store.now();
    let region = svc.region(ctx);
    let (out, gref) = {
        let mut r = lock(&region);
        let g = r.group(&input.replication_group_id)?;
        g.check(GroupStatus::Deleting)?;
        if let Some(m) = &g.global {
            return Err(ApiError::invalid_replication_group_state(format!(
                "Replication group {} is a member of Global datastore {}; disassociate it (or delete the Global datastore) first.",
                g.id, m.id
            )));
        }
        if retain && g.cluster_enabled {
            return Err(combination(
                "RetainPrimaryCluster is not supported for cluster mode enabled replication groups.",
            ));
        }
        let id = g.id.clone();
        let retained = retain.then(|| g.node_groups[0].primary.clone());
        let members = g.member_ids();
        for m in &members {
            if Some(m) == retained.as_ref() {
                continue;
            }
            if let Some(c) = r.clusters.get_mut(m) {
                c.retire();
            }
        }
        let g = r.group_mut(&id)?;
        g.begin(GroupStatus::Deleting, None)?;
        g.final_snapshot = input.final_snapshot_identifier.clone();
        let g = g.clone();
        if let Some(name) = &g.final_snapshot {
            r.event(
                SourceType::ReplicationGroup,
                &id,
                format!("Final snapshot {name} requested for replication group {id}"),
                now,
            );
        }
        let gref = GroupRef::of(&r, &g);
        (render_group(ctx, &r, &g), (gref, retained))
    };
    svc.spawn_group_delete(gref.0, gref.1);
    Ok(DeleteReplicationGroupOutput {
        replication_group: Some(out),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2025-01-01 00:00 UTC);

    fn plan(r: &Region, input: &CreateReplicationGroupInput) -> Result<GroupPlan, ApiError> {
        let req = check_group_request(input)?;
        plan_create_group(r, input, req, NOW)
    }

    #[test]
    fn group_plans_answer_aws_errors_and_build_members() {
        let mut r = Region::new("000000000000", "us-east-1", NOW);
        let no_type = input();
        let e = plan(&r, &no_type).err();
        assert_eq!(
            e.map(|e| (e.wire_code(), e.message().to_string())),
            Some((
                "InvalidParameterValue",
                "The parameter CacheNodeType must be provided.".to_string()
            ))
        );
        let cme = CreateReplicationGroupInput {
            cache_node_type: Some("cache.t3.micro".to_string()),
            num_node_groups: Some(2),
            replicas_per_node_group: Some(1),
            ..input()
        };
        let p = plan(&r, &cme).ok();
        let p = p.as_ref();
        assert_eq!(p.map(|p| p.group.status), Some(GroupStatus::Creating));
        assert_eq!(
            p.map(|p| p.group.parameter_group.as_str()),
            Some("default.redis7.cluster.on")
        );
        assert_eq!(
            p.map(|p| p.members.iter().map(|m| m.id.as_str()).collect::<Vec<_>>()),
            Some(vec!["g-0001-001", "g-0001-002", "g-0002-001", "g-0002-002"])
        );
        assert_eq!(
            p.map(|p| p.group.node_groups[1].primary.as_str()),
            Some("g-0002-001")
        );
        assert!(p.is_some_and(|p| {
            p.members
                .iter()
                .all(|m| m.status == ClusterStatus::Creating)
        }));
        if let Some(p) = p {
            apply_create_group(&mut r, p);
        }
        assert_eq!(r.clusters.len(), 4);
        let e = plan(&r, &cme).err();
        assert_eq!(
            e.map(|e| (e.wire_code(), e.message().to_string())),
            Some((
                "ReplicationGroupAlreadyExists",
                "Replication group g already exists.".to_string()
            ))
        );
    }

    fn input() -> CreateReplicationGroupInput {
        CreateReplicationGroupInput {
            replication_group_id: "g".to_string(),
            replication_group_description: "d".to_string(),
            ..Default::default()
        }
    }

    #[test]
    fn cluster_mode_follows_shards_parameter_group_and_cluster_mode() {
        assert_eq!(
            decide_cluster_mode(&input(), None).ok(),
            Some((false, "disabled".to_string()))
        );
        let shards = CreateReplicationGroupInput {
            num_node_groups: Some(2),
            ..input()
        };
        assert_eq!(
            decide_cluster_mode(&shards, None).ok(),
            Some((true, "enabled".to_string()))
        );
        assert_eq!(
            decide_cluster_mode(&input(), Some(true)).ok(),
            Some((true, "enabled".to_string()))
        );
        let compatible = CreateReplicationGroupInput {
            cluster_mode: Some("compatible".to_string()),
            ..input()
        };
        assert_eq!(
            decide_cluster_mode(&compatible, None).ok(),
            Some((false, "compatible".to_string()))
        );
        let conflict = CreateReplicationGroupInput {
            cluster_mode: Some("disabled".to_string()),
            num_node_groups: Some(3),
            ..input()
        };
        assert!(decide_cluster_mode(&conflict, None).is_err());
        let enabled_on_plain_group = CreateReplicationGroupInput {
            cluster_mode: Some("enabled".to_string()),
            ..input()
        };
        assert!(decide_cluster_mode(&enabled_on_plain_group, Some(false)).is_err());
    }

    #[test]
    fn shard_plans_size_slots_and_limits() {
        let cmd = CreateReplicationGroupInput {
            num_cache_clusters: Some(3),
            ..input()
        };
        let plans = plan_shards(&cmd, false, false).ok().unwrap_or_default();
        assert_eq!(plans.len(), 1);
        assert_eq!(plans[0].replicas, 2);
        let too_many = CreateReplicationGroupInput {
            num_cache_clusters: Some(7),
            ..input()
        };
        assert!(plan_shards(&too_many, false, false).is_err());
        let cme = CreateReplicationGroupInput {
            num_node_groups: Some(3),
            replicas_per_node_group: Some(2),
            ..input()
        };
        let plans = plan_shards(&cme, true, false).ok().unwrap_or_default();
        assert_eq!(
            plans.iter().map(|p| p.slots.clone()).collect::<Vec<_>>(),
            vec![vec![(0, 5461)], vec![(5462, 10922)], vec![(10923, 16383)]]
        );
        assert!(plans.iter().all(|p| p.replicas == 2));
        assert_eq!(plans[2].id, "0003");
        let over_quota = CreateReplicationGroupInput {
            num_node_groups: Some(16),
            replicas_per_node_group: Some(5),
            ..input()
        };
        assert!(plan_shards(&over_quota, true, false).is_err());
        let gap = CreateReplicationGroupInput {
            node_group_configuration: Some(vec![
                NodeGroupConfiguration {
                    slots: Some("0-100".to_string()),
                    ..Default::default()
                },
                NodeGroupConfiguration {
                    slots: Some("200-16383".to_string()),
                    ..Default::default()
                },
            ]),
            ..input()
        };
        assert!(plan_shards(&gap, true, false).is_err());
    }
}
