//! CreateCacheCluster, DescribeCacheClusters, ModifyCacheCluster, DeleteCacheCluster,
//! RebootCacheCluster and ListAllowedNodeTypeModifications of standalone clusters
//! (replication group members are routed to `replica_count` / `failover` by `handlers/mod.rs`).
//!
//! Create and Modify are split in three steps: a plan (pure: the request checked against the
//! cluster, the catalogue and the region, giving the new record or the changes), an apply
//! (written under the region lock, the transition started through `state::lifecycle`), and a
//! spawn of the `lifecycle` task doing the engine work. The answer shows the transitional
//! status (`creating`, `modifying`, `rebooting cluster nodes`, `deleting`) as AWS does.

use std::cmp::Ordering;

use time::OffsetDateTime;

use crate::catalog::{EngineVersion, NodeType, catalog, compare_versions};
use crate::control::api::*;
use crate::control::context::RequestContext;
use crate::control::error::ApiError;
use crate::control::validate;
use crate::control::validate::checks::{self, *};
use crate::state::{
    CacheClusterRecord, CacheNodeRecord, ClusterStatus, NodeStatus, ParameterStatus,
    PendingModifications, PreviousAuth, Region, ResourceKind, Tag, lock,
};

use super::Service;
use super::cluster_render::{render_cluster, render_cluster_with_health};
use super::common::*;
use super::lifecycle::{ClusterRef, ModifyPlan, update_preferred_zone};

/// Availability zones of the new nodes, and the cluster's `PreferredAvailabilityZone`.
fn plan_zones(
    r: &Region,
    input: &CreateCacheClusterInput,
    n: usize,
    memcached: bool,
) -> Result<Vec<String>, ApiError> {
    let zones = r.availability_zones();
    let check = |z: &str| -> Result<String, ApiError> {
        if zones.iter().any(|x| x == z) {
            Ok(z.to_string())
        } else {
            Err(invalid(format!("Invalid availability zone: {z}")))
        }
    };
    let az_mode = input.az_mode.as_deref().unwrap_or("single-az");
    if let Some(list) = &input.preferred_availability_zones {
        if input.preferred_availability_zone.is_some() {
            return Err(combination(
                "Only one of PreferredAvailabilityZone and PreferredAvailabilityZones may be specified.",
            ));
        }
        if list.len() != n {
            return Err(invalid(format!(
                "The number of PreferredAvailabilityZones ({}) must equal NumCacheNodes ({n}).",
                list.len()
            )));
        }
        return list.iter().map(|z| check(z)).collect();
    }
    if let Some(z) = &input.preferred_availability_zone {
        let z = check(z)?;
        if memcached && az_mode == "cross-az" && n > 1 {
            return Err(combination(
                "PreferredAvailabilityZone cannot be used with AZMode cross-az; use PreferredAvailabilityZones.",
            ));
        }
        return Ok(vec![z; n]);
    }
    if memcached && az_mode == "cross-az" {
        return Ok((0..n).map(|i| zones[i % 3].clone()).collect());
    }
    // AWS picks a zone; a stable choice per cluster id keeps repeated runs identical.
    let pick = input
        .cache_cluster_id
        .bytes()
        .map(usize::from)
        .sum::<usize>()
        % 3;
    Ok(vec![zones[pick].clone(); n])
}

/// What a CreateCacheCluster request asks for, its own values checked (no state read).
#[derive(Debug)]
struct CreateRequest {
    id: String,
    engine: String,
    version: &'static EngineVersion,
    node_type: &'static NodeType,
    memcached: bool,
    num_nodes: i32,
    port: u16,
    tags: Vec<Tag>,
    transit: bool,
    maintenance: String,
    snapshot_window: Option<String>,
    retention: Option<i32>,
}

/// The engine, size and placement parts of a CreateCacheCluster request.
fn check_engine_and_size(
    input: &CreateCacheClusterInput,
) -> Result<(String, &'static EngineVersion, &'static NodeType, i32, u16), ApiError> {
    let engine = input
        .engine
        .as_deref()
        .map(|e| e.trim().to_ascii_lowercase())
        .ok_or_else(|| invalid("The parameter Engine must be provided."))?;
    let version = engine_version(&engine, input.engine_version.as_deref())?;
    let node_type_name = input
        .cache_node_type
        .as_deref()
        .ok_or_else(|| invalid("The parameter CacheNodeType must be provided."))?;
    let node_type = node_type_for(node_type_name, &engine)?;
    let memcached = engine == "memcached";
    let num_nodes = input.num_cache_nodes.unwrap_or(1);
    if memcached {
        if num_nodes < 1 {
            return Err(invalid(
                "NumCacheNodes must be between 1 and 40 for Memcached clusters.",
            ));
        }
        if num_nodes > MAX_MEMCACHED_NODES {
            return Err(ApiError::node_quota_for_cluster_exceeded(format!(
                "The number of cache nodes ({num_nodes}) exceeds the maximum of {MAX_MEMCACHED_NODES} per cluster."
            )));
        }
    } else if num_nodes != 1 {
        return Err(invalid(format!(
            "Cache clusters with the {engine} engine must have exactly 1 cache node; use a replication group for more."
        )));
    }
    let port = validate::port(input.port.unwrap_or(if memcached { 11211 } else { 6379 }))
        .map_err(invalid)?;
    match input.az_mode.as_deref() {
        None | Some("single-az") => {}
        Some("cross-az") if memcached => {}
        Some("cross-az") => {
            return Err(invalid(
                "AZMode cross-az is only supported for Memcached clusters.",
            ));
        }
        Some(other) => {
            return Err(invalid(format!(
                "Invalid value for AZMode: {other}. Valid values are single-az and cross-az."
            )));
        }
    }
    Ok((engine, version, node_type, num_nodes, port))
}

/// Plan, first half: checks a CreateCacheCluster request's own values.
fn check_create_request(input: &CreateCacheClusterInput) -> Result<CreateRequest, ApiError> {
    let id = validate::cluster_id(&input.cache_cluster_id).map_err(invalid)?;
    let (engine, version, node_type, num_nodes, port) = check_engine_and_size(input)?;
    let memcached = engine == "memcached";
    let tags = tags_from_request(input.tags.clone())?;
    check_tag_quota(&tags)?;
    let transit = input.transit_encryption_enabled.unwrap_or(false);
    if memcached && transit {
        checks::memcached_transit_version(&version.full_version)?;
    }
    if let Some(token) = &input.auth_token {
        if memcached {
            return Err(auth_token_not_for_memcached());
        }
        if !transit {
            return Err(invalid(
                "The AUTH token is only supported when encryption-in-transit is enabled",
            ));
        }
        validate::auth_token(token).map_err(invalid)?;
    }
    if memcached
        && (input.snapshot_arns.as_ref().is_some_and(|a| !a.is_empty())
            || input.snapshot_name.is_some()
            || input.snapshot_retention_limit.is_some_and(|l| l > 0)
            || input.snapshot_window.is_some())
    {
        return Err(snapshots_not_for_memcached());
    }
    let maintenance = match &input.preferred_maintenance_window {
        Some(w) => validate::maintenance_window(w).map_err(invalid)?,
        None => DEFAULT_MAINTENANCE_WINDOW.to_string(),
    };
    let snapshot_window = match &input.snapshot_window {
        Some(w) => Some(validate::snapshot_window(w).map_err(invalid)?),
        None => (!memcached).then(|| DEFAULT_SNAPSHOT_WINDOW.to_string()),
    };
    if let (Some(_), Some(s)) = (&input.preferred_maintenance_window, &input.snapshot_window)
        && validate::windows_overlap(&maintenance, s)
    {
        return Err(invalid(
            "The snapshot window and the maintenance window must not overlap.",
        ));
    }
    let retention = match input.snapshot_retention_limit {
        Some(l) => Some(validate::snapshot_retention(l).map_err(invalid)?),
        None => (!memcached).then_some(0),
    };
    for (name, value) in [
        ("NetworkType", input.network_type.as_deref()),
        ("IpDiscovery", input.ip_discovery.as_deref()),
    ] {
        if let Some(v) = value {
            let ok = matches!(v, "ipv4" | "ipv6") || (name == "NetworkType" && v == "dual_stack");
            if !ok {
                return Err(invalid(format!("Invalid value for {name}: {v}")));
            }
        }
    }

    Ok(CreateRequest {
        id,
        engine,
        version,
        node_type,
        memcached,
        num_nodes,
        port,
        tags,
        transit,
        maintenance,
        snapshot_window,
        retention,
    })
}

/// Plan, second half: checks the request against the region and builds the new record (in
/// `creating`, nodes included). Pure: the region is only read.
fn plan_create(
    r: &Region,
    req: CreateRequest,
    input: &CreateCacheClusterInput,
    now: OffsetDateTime,
) -> Result<(CacheClusterRecord, Vec<Tag>), ApiError> {
    let CreateRequest {
        id,
        engine,
        version,
        node_type,
        memcached,
        num_nodes,
        port,
        tags,
        transit,
        maintenance,
        snapshot_window,
        retention,
    } = req;
    cluster_id_free(r, &id)?;
    let parameter_group = match &input.cache_parameter_group_name {
        Some(name) => name.to_ascii_lowercase(),
        None => format!("default.{}", version.family),
    };
    standalone_parameter_group(r, &parameter_group, &version.family)?;
    let subnet_group = checks::subnet_group(r, input.cache_subnet_group_name.as_deref())?;
    let cache_security_groups = security_groups(
        r,
        input
            .cache_security_group_names
            .as_deref()
            .unwrap_or_default(),
    )?;
    cluster_quota(r, 1)?;
    node_quota(r, num_nodes as usize)?;
    let zones = plan_zones(r, input, num_nodes as usize, memcached)?;
    let nodes: Vec<CacheNodeRecord> = zones
        .iter()
        .enumerate()
        .map(|(i, z)| CacheNodeRecord {
            id: format!("{:04}", i + 1),
            status: NodeStatus::Creating,
            create_time: now,
            endpoint: None,
            availability_zone: z.clone(),
            parameter_group_status: ParameterStatus::InSync,
        })
        .collect();
    let mut record = CacheClusterRecord {
        id: id.clone(),
        engine: engine.clone(),
        engine_version: version.full_version.clone(),
        family: version.family.clone(),
        node_type: node_type.name.clone(),
        status: ClusterStatus::Creating,
        nodes,
        az_mode: if memcached {
            input
                .az_mode
                .clone()
                .unwrap_or_else(|| "single-az".to_string())
        } else {
            "single-az".to_string()
        },
        preferred_availability_zone: String::new(),
        port,
        parameter_group,
        parameter_apply_status: ParameterStatus::InSync,
        subnet_group,
        security_group_ids: input.security_group_ids.clone().unwrap_or_default(),
        cache_security_groups,
        auto_minor_version_upgrade: input.auto_minor_version_upgrade.unwrap_or(true),
        snapshot_retention_limit: retention,
        snapshot_window,
        maintenance_window: maintenance,
        notification_topic_arn: input.notification_topic_arn.clone(),
        notification_topic_status: input
            .notification_topic_arn
            .as_ref()
            .map(|_| "active".to_string()),
        auth_token: input.auth_token.clone(),
        auth_token_previous: None,
        auth_token_last_modified: input.auth_token.as_ref().map(|_| now),
        transit_encryption_enabled: transit,
        transit_encryption_mode: transit.then(|| "required".to_string()),
        at_rest_encryption_enabled: false,
        network_type: input
            .network_type
            .clone()
            .unwrap_or_else(|| "ipv4".to_string()),
        ip_discovery: input
            .ip_discovery
            .clone()
            .unwrap_or_else(|| "ipv4".to_string()),
        create_time: now,
        replication_group_id: None,
        configuration_endpoint: None,
        pending: PendingModifications::default(),
        config_version: 0,
        generation: 1,
    };
    update_preferred_zone(&mut record);
    Ok((record, tags))
}

/// Apply: records a planned cluster and its tags; the reference its lifecycle task works for.
fn apply_create(r: &mut Region, record: &CacheClusterRecord, tags: &[Tag]) -> ClusterRef {
    attach_tags(r, ResourceKind::Cluster, &record.id, tags);
    let cref = ClusterRef::of(r, record);
    r.insert_cluster(record.clone());
    cref
}

/// CreateCacheCluster: plan (request, then region), apply, then spawn the `creating` task.
pub async fn create_cache_cluster(
    svc: &Service,
    ctx: &RequestContext,
    mut input: CreateCacheClusterInput,
) -> Result<CreateCacheClusterOutput, ApiError> {
    let seed = super::snapshot_restore::prepare_cluster_restore(svc, ctx, &mut input)?;
    let req = check_create_request(&input)?;
    let memcached = req.memcached;
    let now = svc.inner.store.now();
    let region = svc.region(ctx);
    let (record, cref) = {
        let mut r = lock(&region);
        let (record, tags) = plan_create(&r, req, &input, now)?;
        let cref = apply_create(&mut r, &record, &tags);
        (record, cref)
    };
    if let Some(image) = seed {
        svc.inner.supervisor.seed_rdb(&cref.node_key("0001"), image);
    }
    svc.spawn_create(cref, memcached);
    Ok(CreateCacheClusterOutput {
        cache_cluster: Some(render_cluster(ctx, &record, false)),
    })
}

/// Renders a cluster for DescribeCacheClusters, asking the supervisor (only when nodes are
/// shown) whether each node's engine is broken.
fn render_with_health(
    svc: &Service,
    ctx: &RequestContext,
    r: &Region,
    c: &CacheClusterRecord,
    show_nodes: bool,
) -> CacheCluster {
    let cref = ClusterRef::of(r, c);
    let broken = |node_id: &str| {
        svc.inner
            .supervisor
            .node_broken(&cref.node_key(node_id))
            .is_some()
    };
    render_cluster_with_health(ctx, c, show_nodes, &broken)
}

/// DescribeCacheClusters.
pub fn describe_cache_clusters(
    svc: &Service,
    ctx: &RequestContext,
    input: DescribeCacheClustersInput,
) -> Result<DescribeCacheClustersOutput, ApiError> {
    let max = page_size(input.max_records)?;
    let show_nodes = input.show_cache_node_info.unwrap_or(false);
    let only_standalone = input
        .show_cache_clusters_not_in_replication_groups
        .unwrap_or(false);
    let region = svc.region(ctx);
    let rendered: Vec<CacheCluster> = {
        let r = lock(&region);
        match &input.cache_cluster_id {
            Some(raw) => {
                let c = r.cluster(raw)?;
                vec![render_with_health(svc, ctx, &r, c, show_nodes)]
            }
            None => r
                .clusters_in_order()
                .filter(|c| !only_standalone || c.replication_group_id.is_none())
                .map(|c| render_with_health(svc, ctx, &r, c, show_nodes))
                .collect(),
        }
    };
    let page = page(rendered, input.marker.as_deref(), max)?;
    Ok(DescribeCacheClustersOutput {
        cache_clusters: Some(page.items),
        marker: page.marker,
    })
}

/// What a ModifyCacheCluster changes, checked against the cluster and the region.
struct ModifyChanges {
    /// The engine work (nodes to remove, add or restart; parameters to push).
    plan: ModifyPlan,
    /// What `PendingModifiedValues` reports while the work runs.
    pending: PendingModifications,
    schedule: ModifySchedule,
    family: String,
    parameter_group: String,
    reboot_needed: bool,
    security_groups: Option<Vec<String>>,
    /// The AUTH token and what stays valid next to it, when they change.
    new_auth: Option<(Option<String>, Option<PreviousAuth>)>,
}

/// Plan of the node count (Memcached only; Redis/Valkey standalone clusters have exactly one).
fn plan_node_count(
    r: &Region,
    c: &CacheClusterRecord,
    input: &ModifyCacheClusterInput,
    plan: &mut ModifyPlan,
    pending: &mut PendingModifications,
) -> Result<(), ApiError> {
    let (id, memcached, zones) = (&c.id, c.engine == "memcached", r.availability_zones());
    let current = c.nodes.len() as i32;
    let target = input.num_cache_nodes.unwrap_or(current);
    let to_remove: Vec<String> = input.cache_node_ids_to_remove.clone().unwrap_or_default();
    if !memcached && target != 1 {
        return Err(invalid(
            "Cache clusters with the redis or valkey engine must have exactly 1 cache node.",
        ));
    }
    if target < 1 {
        return Err(invalid("NumCacheNodes must be at least 1."));
    }
    if target > MAX_MEMCACHED_NODES {
        return Err(ApiError::node_quota_for_cluster_exceeded(format!(
            "The number of cache nodes ({target}) exceeds the maximum of {MAX_MEMCACHED_NODES} per cluster."
        )));
    }
    if target < current {
        if to_remove.len() as i32 != current - target {
            return Err(invalid(format!(
                "To reduce the number of cache nodes from {current} to {target}, CacheNodeIdsToRemove must list exactly {} node ids.",
                current - target
            )));
        }
        for n in &to_remove {
            if !c.nodes.iter().any(|x| &x.id == n) {
                return Err(invalid(format!(
                    "Cache node {n} not found in cluster {id}."
                )));
            }
        }
        plan.remove_nodes = to_remove.clone();
        pending.cache_node_ids_to_remove = to_remove;
    } else if !to_remove.is_empty() {
        return Err(combination(
            "CacheNodeIdsToRemove can only be used when NumCacheNodes is reduced.",
        ));
    }
    if target > current {
        node_quota(r, (target - current) as usize)?;
        let new_zones = input.new_availability_zones.clone().unwrap_or_default();
        for z in &new_zones {
            if !zones.contains(z) {
                return Err(invalid(format!("Invalid availability zone: {z}")));
            }
        }
        if !new_zones.is_empty() && new_zones.len() as i32 != target - current {
            return Err(invalid(
                "The number of NewAvailabilityZones must equal the number of nodes added.",
            ));
        }
        plan.add_nodes = (target - current) as usize;
        plan.new_zones = new_zones;
    }
    if target != current {
        pending.num_cache_nodes = Some(target as u32);
    }

    Ok(())
}

/// Plan of the node type, engine (version) and parameter group; returns the new family and
/// parameter group.
fn plan_engine_change(
    r: &Region,
    c: &CacheClusterRecord,
    input: &ModifyCacheClusterInput,
    plan: &mut ModifyPlan,
    pending: &mut PendingModifications,
) -> Result<(String, String), ApiError> {
    let id = &c.id;
    // Node type.
    if let Some(t) = &input.cache_node_type {
        let nt = node_type_for(t, &c.engine)?;
        if nt.name != c.node_type {
            pending.cache_node_type = Some(nt.name.clone());
            plan.restart_nodes = true;
        }
    }

    // Engine version (upgrades only) and the parameter group that goes with it.
    let mut family = c.family.clone();
    let target_engine = match input
        .engine
        .as_deref()
        .map(|e| e.trim().to_ascii_lowercase())
    {
        None => c.engine.clone(),
        Some(e) if e == c.engine => e,
        // ElastiCache offers one engine switch: Redis OSS to Valkey, in place.
        Some(e) if c.engine == "redis" && e == "valkey" => {
            let ver = engine_version(&e, input.engine_version.as_deref())?;
            pending.engine = Some(e.clone());
            pending.engine_version = Some(ver.full_version.clone());
            plan.restart_nodes = true;
            family = ver.family.clone();
            e
        }
        Some(e) => {
            return Err(invalid(format!(
                "Cannot change the engine of cluster {id} from {} to {e}.",
                c.engine
            )));
        }
    };
    if let Some(v) = input
        .engine_version
        .as_deref()
        .filter(|_| target_engine == c.engine)
    {
        let ver = upgrade_version(&c.engine, &c.engine_version, v)?;
        if compare_versions(&ver.full_version, &c.engine_version) == Ordering::Greater {
            pending.engine_version = Some(ver.full_version.clone());
            plan.restart_nodes = true;
            family = ver.family.clone();
        }
    }
    let mut parameter_group = c.parameter_group.clone();
    if let Some(g) = &input.cache_parameter_group_name {
        parameter_group = g.to_ascii_lowercase();
    } else if family != c.family {
        parameter_group = upgraded_parameter_group(r, &c.parameter_group, &family, false)?;
    }
    if parameter_group != c.parameter_group || family != c.family {
        standalone_parameter_group(r, &parameter_group, &family)?;
    }
    Ok((family, parameter_group))
}

/// Plan of ModifyCacheCluster: checks the request against the cluster, the catalogue and the
/// region; the region is only read.
fn plan_modify(
    r: &Region,
    id: &str,
    input: &ModifyCacheClusterInput,
    schedule: ModifySchedule,
) -> Result<ModifyChanges, ApiError> {
    let c = r.cluster(id)?;
    if let Some(rg) = &c.replication_group_id {
        check_member_modification(rg, input)?;
    }
    c.check(ClusterStatus::Modifying)?;
    let memcached = c.engine == "memcached";
    match input.az_mode.as_deref() {
        None | Some("single-az") => {}
        Some("cross-az") if memcached => {}
        Some(m) => return Err(invalid(format!("Invalid value for AZMode: {m}"))),
    }
    let mut plan = ModifyPlan::default();
    let mut pending = PendingModifications::default();
    plan_node_count(r, c, input, &mut plan, &mut pending)?;
    let (family, parameter_group) = plan_engine_change(r, c, input, &mut plan, &mut pending)?;
    super::memcached_scaling::plan_scale_config(c, input, &mut pending)?;
    let group_changed = parameter_group != c.parameter_group;
    let security_groups = match &input.cache_security_group_names {
        Some(names) => Some(security_groups(r, names)?),
        None => None,
    };
    if memcached
        && (input.snapshot_window.is_some()
            || input.snapshot_retention_limit.is_some_and(|l| l > 0))
    {
        return Err(snapshots_not_for_memcached());
    }
    // AUTH token changes (redis/valkey with in-transit encryption).
    if memcached && (input.auth_token.is_some() || input.auth_token_update_strategy.is_some()) {
        return Err(auth_token_not_for_memcached());
    }
    let new_auth = match auth_token_change(
        input.auth_token_update_strategy.as_deref(),
        input.auth_token.as_ref(),
        c.transit_encryption_enabled,
    )? {
        // DELETE is for moving to RBAC user groups, which standalone clusters cannot take.
        Some(TokenChange::Delete) => {
            return Err(combination(
                "AuthTokenUpdateStrategy DELETE is allowed only when moving a replication group to RBAC user groups.",
            ));
        }
        Some(change) => {
            token_change_supported(&c.engine, &c.engine_version)?;
            pending.auth_token_status = Some(change.status().to_string());
            let (mut token, mut previous) = (c.auth_token.clone(), c.auth_token_previous.clone());
            apply_token_change(&mut token, &mut previous, change)?;
            plan.push_auth = true;
            Some((token, previous))
        }
        None => None,
    };

    plan.push_parameters = group_changed;
    let old_params = r.effective_parameters(&c.parameter_group);
    let new_params = r.effective_parameters(&parameter_group);
    let reboot_needed = group_changed && requires_reboot_change(&family, &old_params, &new_params);
    Ok(ModifyChanges {
        plan,
        pending,
        schedule,
        family,
        parameter_group,
        reboot_needed,
        security_groups,
        new_auth,
    })
}

/// Apply: writes a planned modification into the cluster record and starts its `modifying`
/// transition; returns the record, its task reference and the engine work.
fn apply_modify(
    r: &mut Region,
    id: &str,
    input: &ModifyCacheClusterInput,
    changes: ModifyChanges,
    now: OffsetDateTime,
) -> Result<(CacheClusterRecord, ClusterRef, ModifyPlan), ApiError> {
    let ModifyChanges {
        plan,
        mut pending,
        schedule:
            ModifySchedule {
                maintenance,
                snapshot_window,
                retention,
            },
        family,
        parameter_group,
        reboot_needed,
        security_groups,
        new_auth,
    } = changes;
    let group_changed = plan.push_parameters;
    let c = r.cluster_mut(id)?;
    if let Some(w) = maintenance {
        c.maintenance_window = w;
    }
    if let Some(w) = snapshot_window {
        c.snapshot_window = Some(w);
    }
    if let Some(l) = retention {
        c.snapshot_retention_limit = Some(l);
    }
    if let Some(ids) = &input.security_group_ids {
        c.security_group_ids = ids.clone();
    }
    if let Some(g) = security_groups {
        c.cache_security_groups = g;
    }
    if let Some(m) = &input.az_mode {
        c.az_mode = m.clone();
    }
    if let Some(b) = input.auto_minor_version_upgrade {
        c.auto_minor_version_upgrade = b;
    }
    if let Some(t) = &input.notification_topic_arn {
        c.notification_topic_arn = Some(t.clone());
    }
    if let Some(s) = &input.notification_topic_status {
        c.notification_topic_status = Some(s.clone());
    }
    if let Some((token, previous)) = new_auth {
        c.auth_token_last_modified = Some(now);
        c.auth_token = token;
        c.auth_token_previous = previous;
    }
    if group_changed {
        c.parameter_group = parameter_group;
        c.set_parameter_status(if reboot_needed {
            ParameterStatus::PendingReboot
        } else {
            ParameterStatus::InSync
        });
    }
    if family != c.family && pending.engine_version.is_some() {
        c.family = family;
    }
    if !plan.restart_nodes {
        // Nothing restarts: the version/type need no engine work (cannot happen today,
        // kept so the record never reports a change that was not made).
        pending.engine_version = None;
        pending.cache_node_type = None;
    }
    c.pending = pending;
    c.begin(ClusterStatus::Modifying)?;
    let record = c.clone();
    let cref = ClusterRef::of(r, &record);
    Ok((record, cref, plan))
}

/// ModifyCacheCluster. Every change is applied now (Terraform reads actual values back), the
/// answer shows `modifying` with the in-flight changes in `PendingModifiedValues`: plan,
/// apply, then spawn the task doing the engine work.
pub async fn modify_cache_cluster(
    svc: &Service,
    ctx: &RequestContext,
    input: ModifyCacheClusterInput,
) -> Result<ModifyCacheClusterOutput, ApiError> {
    let id = input.cache_cluster_id.trim().to_ascii_lowercase();
    let schedule = modify_schedule(
        input.preferred_maintenance_window.as_deref(),
        input.snapshot_window.as_deref(),
        input.snapshot_retention_limit,
        input.auth_token.as_ref(),
    )?;
    let now = svc.inner.store.now();
    let region = svc.region(ctx);
    let (record, cref, plan) = {
        let mut r = lock(&region);
        let changes = plan_modify(&r, &id, &input, schedule)?;
        apply_modify(&mut r, &id, &input, changes, now)?
    };
    svc.spawn_modify(cref, plan);
    Ok(ModifyCacheClusterOutput {
        cache_cluster: Some(render_cluster(ctx, &record, false)),
    })
}

/// ModifyCacheCluster on a replication group member: what defines the group's nodes (node
/// type, engine version, parameter group, AUTH token, node count) is changed for the whole
/// group with ModifyReplicationGroup, so every member keeps replicating.
fn check_member_modification(group: &str, input: &ModifyCacheClusterInput) -> Result<(), ApiError> {
    let group_wide = input.cache_node_type.is_some()
        || input.engine_version.is_some()
        || input.cache_parameter_group_name.is_some()
        || input.auth_token.is_some()
        || input.auth_token_update_strategy.is_some()
        || input.num_cache_nodes.is_some_and(|n| n != 1)
        || input
            .cache_node_ids_to_remove
            .as_ref()
            .is_some_and(|v| !v.is_empty());
    if group_wide {
        return Err(combination(format!(
            "This cache cluster is a member of replication group {group}; modify its node type, engine version, parameter group or AUTH token with ModifyReplicationGroup."
        )));
    }
    Ok(())
}

/// DeleteCacheCluster.
pub async fn delete_cache_cluster(
    svc: &Service,
    ctx: &RequestContext,
    input: DeleteCacheClusterInput,
) -> Result<DeleteCacheClusterOutput, ApiError> {
    let id = input.cache_cluster_id.trim().to_ascii_lowercase();
    if let Some(name) = &input.final_snapshot_identifier {
        // Taken (and checked) before the nodes stop; a refusal leaves the cluster as it was.
        let source = super::snapshots::Source::Cluster(id.clone());
        super::snapshots::final_snapshot(svc, ctx, source, name).await?;
    }
    let region = svc.region(ctx);
    let (record, cref) = {
        let mut r = lock(&region);
        let c = r.cluster_mut(&id)?;
        c.check(ClusterStatus::Deleting)?;
        if input.final_snapshot_identifier.is_some() && c.engine == "memcached" {
            return Err(ApiError::snapshot_feature_not_supported(
                "Snapshots are not supported for the memcached engine.",
            ));
        }
        c.begin(ClusterStatus::Deleting)?;
        for n in &mut c.nodes {
            n.begin(NodeStatus::Deleting);
        }
        let record = c.clone();
        (record.clone(), ClusterRef::of(&r, &record))
    };
    svc.spawn_delete(cref);
    Ok(DeleteCacheClusterOutput {
        cache_cluster: Some(render_cluster(ctx, &record, false)),
    })
}

/// RebootCacheCluster.
pub async fn reboot_cache_cluster(
    svc: &Service,
    ctx: &RequestContext,
    input: RebootCacheClusterInput,
) -> Result<RebootCacheClusterOutput, ApiError> {
    let id = input.cache_cluster_id.trim().to_ascii_lowercase();
    if input.cache_node_ids_to_reboot.is_empty() {
        return Err(invalid(
            "CacheNodeIdsToReboot must list at least one cache node id.",
        ));
    }
    let region = svc.region(ctx);
    let (record, cref, ids) = {
        let mut r = lock(&region);
        let c = r.cluster_mut(&id)?;
        c.check(ClusterStatus::Rebooting)?;
        let mut ids: Vec<String> = Vec::new();
        for n in &input.cache_node_ids_to_reboot {
            if !c.nodes.iter().any(|x| &x.id == n) {
                return Err(invalid(format!(
                    "Cache node {n} not found in cluster {id}."
                )));
            }
            if !ids.contains(n) {
                ids.push(n.clone());
            }
        }
        c.begin(ClusterStatus::Rebooting)?;
        for n in c.nodes.iter_mut().filter(|n| ids.contains(&n.id)) {
            n.begin(NodeStatus::Rebooting);
        }
        let record = c.clone();
        (record.clone(), ClusterRef::of(&r, &record), ids)
    };
    svc.spawn_reboot(cref, ids);
    Ok(RebootCacheClusterOutput {
        cache_cluster: Some(render_cluster(ctx, &record, false)),
    })
}

/// ListAllowedNodeTypeModifications: current-generation types of the same engine with more
/// (scale up) or less (scale down) memory.
pub fn list_allowed_node_type_modifications(
    svc: &Service,
    ctx: &RequestContext,
    input: ListAllowedNodeTypeModificationsInput,
) -> Result<ListAllowedNodeTypeModificationsOutput, ApiError> {
    let (engine, node_type) = match (&input.cache_cluster_id, &input.replication_group_id) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(combination(
                "Exactly one of CacheClusterId and ReplicationGroupId must be specified.",
            ));
        }
        (None, Some(rg)) => {
            let region = svc.region(ctx);
            let r = lock(&region);
            let g = r.group(rg)?;
            (g.engine.clone(), g.node_type.clone())
        }
        (Some(id), None) => {
            let region = svc.region(ctx);
            let r = lock(&region);
            let c = r.cluster(id)?;
            (c.engine.clone(), c.node_type.clone())
        }
    };
    let current = catalog()
        .node_type(&node_type)
        .map(|n| n.redis_maxmemory)
        .unwrap_or(0);
    let candidates = catalog().node_types().iter().filter(|n| {
        n.creatable && !n.previous_generation && n.supports(&engine) && n.name != node_type
    });
    let (mut up, mut down) = (Vec::new(), Vec::new());
    for n in candidates {
        if n.redis_maxmemory > current {
            up.push(n.name.clone());
        } else {
            down.push(n.name.clone());
        }
    }
    up.sort();
    down.sort();
    Ok(ListAllowedNodeTypeModificationsOutput {
        scale_up_modifications: Some(up),
        scale_down_modifications: Some(down),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2025-01-01 00:00 UTC);

    fn region() -> Region {
        Region::new("000000000000", "us-east-1", NOW)
    }

    fn input(id: &str, engine: &str) -> CreateCacheClusterInput {
        CreateCacheClusterInput {
            cache_cluster_id: id.to_string(),
            engine: Some(engine.to_string()),
            cache_node_type: Some("cache.t3.micro".to_string()),
            ..Default::default()
        }
    }

    fn plan(r: &Region, input: &CreateCacheClusterInput) -> Result<CacheClusterRecord, ApiError> {
        let req = check_create_request(input)?;
        plan_create(r, req, input, NOW).map(|(c, _)| c)
    }

    fn error(r: Result<CacheClusterRecord, ApiError>) -> Option<(&'static str, String)> {
        r.err().map(|e| (e.wire_code(), e.message().to_string()))
    }

    #[test]
    fn invalid_create_requests_yield_the_aws_error() {
        let r = region();
        let two_redis_nodes = CreateCacheClusterInput {
            num_cache_nodes: Some(2),
            ..input("c1", "redis")
        };
        assert_eq!(
            error(plan(&r, &two_redis_nodes)),
            Some((
                "InvalidParameterValue",
                "Cache clusters with the redis engine must have exactly 1 cache node; use a replication group for more.".to_string()
            ))
        );
        let too_many = CreateCacheClusterInput {
            num_cache_nodes: Some(41),
            ..input("c1", "memcached")
        };
        assert_eq!(
            error(plan(&r, &too_many)).map(|e| e.0),
            Some("NodeQuotaForClusterExceeded")
        );
        let token_without_tls = CreateCacheClusterInput {
            auth_token: Some("a-long-enough-token-123".to_string()),
            ..input("c1", "redis")
        };
        assert_eq!(
            error(plan(&r, &token_without_tls)),
            Some((
                "InvalidParameterValue",
                "The AUTH token is only supported when encryption-in-transit is enabled"
                    .to_string()
            ))
        );
        let cluster_on_group = CreateCacheClusterInput {
            cache_parameter_group_name: Some("default.redis7.cluster.on".to_string()),
            ..input("c1", "redis")
        };
        assert_eq!(
            error(plan(&r, &cluster_on_group)).map(|e| e.0),
            Some("InvalidParameterCombination")
        );
    }

    #[test]
    fn modify_plans_refuse_with_the_aws_error_and_apply_starts_modifying() {
        let mut r = region();
        let created = plan(&r, &input("m1", "memcached")).ok();
        if let Some(c) = &created {
            apply_create(&mut r, c, &[]);
        }
        let modify = |n: i32| ModifyCacheClusterInput {
            cache_cluster_id: "m1".to_string(),
            num_cache_nodes: Some(n),
            ..Default::default()
        };
        let schedule = || modify_schedule(None, None, None, None).ok();
        // Still `creating`: AWS's InvalidCacheClusterState.
        let e = schedule().and_then(|s| plan_modify(&r, "m1", &modify(2), s).err());
        assert_eq!(
            e.map(|e| (e.wire_code(), e.message().to_string())),
            Some((
                "InvalidCacheClusterState",
                "Cache cluster m1 is not in available state (current state: creating).".to_string()
            ))
        );
        if let Some(c) = r.clusters.get_mut("m1") {
            c.complete(ClusterStatus::Available);
        }
        let e = schedule().and_then(|s| plan_modify(&r, "m1", &modify(41), s).err());
        assert_eq!(
            e.map(|e| e.wire_code()),
            Some("NodeQuotaForClusterExceeded")
        );
        let changes = schedule().and_then(|s| plan_modify(&r, "m1", &modify(3), s).ok());
        assert_eq!(changes.as_ref().map(|c| c.plan.add_nodes), Some(2));
        assert_eq!(
            changes.as_ref().and_then(|c| c.pending.num_cache_nodes),
            Some(3)
        );
        let applied = changes.and_then(|c| apply_modify(&mut r, "m1", &modify(3), c, NOW).ok());
        assert_eq!(
            applied.map(|(c, cref, _)| (c.status, cref.generation)),
            Some((ClusterStatus::Modifying, 2))
        );
    }

    #[test]
    fn a_valid_create_plans_the_record_and_apply_records_it() {
        let mut r = region();
        let memcached = CreateCacheClusterInput {
            num_cache_nodes: Some(3),
            az_mode: Some("cross-az".to_string()),
            ..input("Mc1", "memcached")
        };
        let c = plan(&r, &memcached).ok();
        let c = c.as_ref();
        assert_eq!(c.map(|c| c.id.as_str()), Some("mc1"));
        assert_eq!(c.map(|c| c.status), Some(ClusterStatus::Creating));
        assert_eq!(
            c.map(|c| c.nodes.iter().map(|n| n.id.as_str()).collect::<Vec<_>>()),
            Some(vec!["0001", "0002", "0003"])
        );
        assert_eq!(c.map(|c| c.port), Some(11211));
        assert_eq!(
            c.map(|c| c.preferred_availability_zone.as_str()),
            Some("Multiple")
        );
        assert_eq!(
            c.map(|c| c.maintenance_window.as_str()),
            Some(DEFAULT_MAINTENANCE_WINDOW)
        );
        assert_eq!(c.and_then(|c| c.snapshot_window.clone()), None);
        if let Some(c) = c {
            apply_create(&mut r, c, &[]);
        }
        assert_eq!(
            error(plan(&r, &memcached)),
            Some((
                "CacheClusterAlreadyExists",
                "Cache cluster mc1 already exists.".to_string()
            ))
        );
    }
}
