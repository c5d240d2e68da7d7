//! CreateSnapshot, DescribeSnapshots, DeleteSnapshot, CopySnapshot, and the final snapshot of
//! DeleteCacheCluster / DeleteReplicationGroup.
//!
//! Place in the flow: a handler validates, plans the snapshot record from its source (a Redis
//! or Valkey cluster, or a replication group: one image per node group, from its primary),
//! records it `creating` with the source `snapshotting`, and spawns a task that takes the
//! images from the supervisor (`Supervisor::snapshot_rdb`), writes them under
//! `<data-dir>/snapshots/<account>/<region>/<name>/` when a data directory is set, waits the transition delay and
//! makes both `available`. A final snapshot takes its images before the handler lets the
//! deletion start. Restores read the images back (`snapshot_restore`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use time::OffsetDateTime;

use crate::control::api::*;
use crate::control::context::RequestContext;
use crate::control::error::ApiError;
use crate::control::pagination;
use crate::control::validate;
use crate::state::{
    CacheClusterRecord, ClusterStatus, GroupStatus, MAX_SNAPSHOTS, NodeSnapshotRecord, Region,
    ReplicationGroupRecord, ResourceKind, SnapshotRecord, SnapshotStatus, SourceType, lock,
};

use super::Service;
use super::common::*;

/// What a snapshot is taken of.
#[derive(Clone, Debug)]
pub enum Source {
    /// A cache cluster (its node `0001`).
    Cluster(String),
    /// A replication group (each node group's primary).
    Group(String),
}

/// A snapshot about to be taken: its record (`creating`, no image yet) and the supervisor
/// keys of the nodes to image, one per shard, in node group order.
pub struct SnapshotPlan {
    pub(super) record: SnapshotRecord,
    keys: Vec<String>,
}

/// `SnapshotNotFoundFault` in AWS's words.
pub fn not_found(name: &str) -> ApiError {
    ApiError::snapshot_not_found(format!("Snapshot {name} not found."))
}

/// The supervisor key of a cluster's first node.
fn node_key(r: &Region, cluster: &str) -> String {
    format!("{}/{}/{cluster}/0001", r.account, r.region)
}

/// The refusals every snapshot shares: engine and node type AWS cannot snapshot.
fn check_snapshottable(engine: &str, node_type: &str) -> Result<(), ApiError> {
    if engine == "memcached" {
        return Err(ApiError::snapshot_feature_not_supported(
            "Snapshots are not supported for the memcached engine.",
        ));
    }
    if node_type == "cache.t1.micro" {
        return Err(ApiError::snapshot_feature_not_supported(
            "Snapshots are not supported for cache node type cache.t1.micro.",
        ));
    }
    Ok(())
}

/// The name is free and the quota allows one more.
pub(super) fn check_name_free(r: &Region, name: &str) -> Result<(), ApiError> {
    if r.snapshots.contains_key(name) {
        return Err(ApiError::snapshot_already_exists(format!(
            "Snapshot with specified name [{name}] already exists."
        )));
    }
    if r.snapshots.len() >= MAX_SNAPSHOTS {
        return Err(ApiError::snapshot_quota_exceeded(
            "The request cannot be processed because it would exceed the maximum number of snapshots.",
        ));
    }
    Ok(())
}

/// A snapshot record with the settings of cluster `c` and no shard yet.
fn base_record(r: &Region, c: &CacheClusterRecord, name: &str, source: &str) -> SnapshotRecord {
    SnapshotRecord {
        name: name.to_string(),
        status: SnapshotStatus::Creating,
        source: source.to_string(),
        cache_cluster_id: Some(c.id.clone()),
        replication_group_id: None,
        replication_group_description: None,
        cache_cluster_create_time: c.create_time,
        engine: c.engine.clone(),
        engine_version: c.engine_version.clone(),
        node_type: c.node_type.clone(),
        num_cache_nodes: Some(c.nodes.len() as i32),
        num_node_groups: None,
        cluster_enabled: false,
        automatic_failover: None,
        parameter_group: c.parameter_group.clone(),
        subnet_group: c.subnet_group.clone(),
        vpc_id: r.vpc_id(),
        port: c.port,
        preferred_availability_zone: Some(c.preferred_availability_zone.clone()),
        maintenance_window: c.maintenance_window.clone(),
        snapshot_window: c.snapshot_window.clone(),
        snapshot_retention_limit: c.snapshot_retention_limit,
        topic_arn: c.notification_topic_arn.clone(),
        auto_minor_version_upgrade: c.auto_minor_version_upgrade,
        data_tiering: "disabled".to_string(),
        nodes: Vec::new(),
    }
}

/// One shard's node snapshot (no image yet).
fn node_record(
    c: &CacheClusterRecord,
    node_group_id: &str,
    slots: Option<String>,
    replica_zones: Vec<String>,
    now: OffsetDateTime,
) -> NodeSnapshotRecord {
    let node = c.nodes.first();
    NodeSnapshotRecord {
        cache_cluster_id: c.id.clone(),
        cache_node_id: node.map(|n| n.id.clone()).unwrap_or_else(|| "0001".into()),
        node_group_id: node_group_id.to_string(),
        slots,
        replica_count: replica_zones.len() as i32,
        primary_zone: node
            .map(|n| n.availability_zone.clone())
            .unwrap_or_default(),
        replica_zones,
        node_create_time: node.map(|n| n.create_time).unwrap_or(c.create_time),
        snapshot_create_time: now,
        image: Arc::new(Vec::new()),
    }
}

/// Plans a snapshot of cluster `c` (its first node).
fn plan_cluster(
    r: &Region,
    c: &CacheClusterRecord,
    name: &str,
    source: &str,
    now: OffsetDateTime,
) -> Result<SnapshotPlan, ApiError> {
    check_snapshottable(&c.engine, &c.node_type)?;
    let mut record = base_record(r, c, name, source);
    record.replication_group_id = c.replication_group_id.clone();
    record
        .nodes
        .push(node_record(c, "0001", None, Vec::new(), now));
    Ok(SnapshotPlan {
        record,
        keys: vec![node_key(r, &c.id)],
    })
}

/// Plans a snapshot of group `g`: one shard image per node group, from its primary.
fn plan_group(
    r: &Region,
    g: &ReplicationGroupRecord,
    name: &str,
    source: &str,
    now: OffsetDateTime,
) -> Result<SnapshotPlan, ApiError> {
    check_snapshottable(&g.engine, &g.node_type)?;
    let first = g
        .node_groups
        .first()
        .map(|ng| r.cluster(&ng.primary))
        .transpose()?;
    let Some(first) = first else {
        return Err(ApiError::invalid_replication_group_state(format!(
            "Replication group {} has no node group.",
            g.id
        )));
    };
    let mut record = base_record(r, first, name, source);
    record.cache_cluster_id = None;
    record.replication_group_id = Some(g.id.clone());
    record.replication_group_description = Some(g.description.clone());
    record.cache_cluster_create_time = g.create_time;
    record.num_cache_nodes = None;
    record.num_node_groups = Some(g.node_groups.len() as i32);
    record.cluster_enabled = g.cluster_enabled;
    record.automatic_failover = Some(
        if g.automatic_failover {
            "enabled"
        } else {
            "disabled"
        }
        .into(),
    );
    record.parameter_group = g.parameter_group.clone();
    record.preferred_availability_zone = None;
    record.snapshot_window = Some(g.snapshot_window.clone());
    record.snapshot_retention_limit = Some(g.snapshot_retention_limit);
    record.data_tiering = g.data_tiering.clone();
    let mut keys = Vec::new();
    for ng in &g.node_groups {
        let primary = r.cluster(&ng.primary)?;
        let replica_zones = ng
            .replicas()
            .filter_map(|m| r.clusters.get(m))
            .filter_map(|c| c.nodes.first().map(|n| n.availability_zone.clone()))
            .collect();
        let slots = g.cluster_enabled.then(|| ng.slots_string());
        record
            .nodes
            .push(node_record(primary, &ng.id, slots, replica_zones, now));
        keys.push(node_key(r, &primary.id));
    }
    Ok(SnapshotPlan { record, keys })
}

/// Plans a `kind` (`manual` / `automated`) snapshot named `name` of `source`, which must exist
/// and be able to go `snapshotting`; checks that the name is free.
pub(super) fn plan(
    r: &Region,
    source: &Source,
    name: &str,
    kind: &str,
    now: OffsetDateTime,
) -> Result<SnapshotPlan, ApiError> {
    let plan = match source {
        Source::Cluster(id) => {
            let c = r.cluster(id)?;
            check_snapshottable(&c.engine, &c.node_type)?;
            if let Some(g) = &c.replication_group_id
                && r.group(g).is_ok_and(|g| g.cluster_enabled)
            {
                return Err(combination(format!(
                    "Cache cluster {id} belongs to the cluster mode enabled replication group {g}: snapshot the replication group instead."
                )));
            }
            c.check(ClusterStatus::Snapshotting)?;
            plan_cluster(r, c, name, kind, now)?
        }
        Source::Group(id) => {
            let g = r.group(id)?;
            check_snapshottable(&g.engine, &g.node_type)?;
            g.check(GroupStatus::Snapshotting)?;
            plan_group(r, g, name, kind, now)?
        }
    };
    check_name_free(r, name)?;
    Ok(plan)
}

/// The (account, region) a request works in.
fn where_(ctx: &RequestContext) -> (String, String) {
    (ctx.account.clone(), ctx.region.clone())
}

/// Records a planned snapshot and its tags.
pub(super) fn insert(r: &mut Region, record: &SnapshotRecord, tags: &[crate::state::Tag]) {
    attach_tags(r, ResourceKind::Snapshot, &record.name, tags);
    r.snapshots.insert(record.name.clone(), record.clone());
}

/// The source named by CreateSnapshot / DescribeSnapshots style members.
fn source_of(cluster: Option<&str>, group: Option<&str>) -> Result<Source, ApiError> {
    match (cluster, group) {
        (Some(_), Some(_)) => Err(combination(
            "Only one of CacheClusterId or ReplicationGroupId may be specified.",
        )),
        (Some(c), None) => Ok(Source::Cluster(c.trim().to_ascii_lowercase())),
        (None, Some(g)) => Ok(Source::Group(g.trim().to_ascii_lowercase())),
        (None, None) => Err(combination(
            "One of CacheClusterId or ReplicationGroupId must be specified.",
        )),
    }
}

/// CreateSnapshot: the source goes `snapshotting`, the snapshot `creating`; both become
/// `available` once the images are taken.
pub fn create_snapshot(
    svc: &Service,
    ctx: &RequestContext,
    input: CreateSnapshotInput,
) -> Result<CreateSnapshotOutput, ApiError> {
    let name = validate::snapshot_name(&input.snapshot_name).map_err(invalid)?;
    let tags = tags_from_request(input.tags.clone())?;
    check_tag_quota(&tags)?;
    let source = source_of(
        input.cache_cluster_id.as_deref(),
        input.replication_group_id.as_deref(),
    )?;
    let now = svc.inner.store.now();
    let region = svc.region(ctx);
    let plan = {
        let mut r = lock(&region);
        let plan = plan(&r, &source, &name, "manual", now)?;
        match &source {
            Source::Cluster(id) => r.cluster_mut(id)?.begin(ClusterStatus::Snapshotting)?,
            Source::Group(id) => r.group_mut(id)?.begin(GroupStatus::Snapshotting, None)?,
        }
        insert(&mut r, &plan.record, &tags);
        plan
    };
    let out = render(ctx, &plan.record, false);
    svc.spawn_snapshot(where_(ctx), plan, None, Some(source));
    Ok(CreateSnapshotOutput {
        snapshot: Some(out),
    })
}

/// The final snapshot of a cluster or group about to be deleted: planned and imaged now,
/// before the deletion stops its nodes; `available` after the transition delay.
pub async fn final_snapshot(
    svc: &Service,
    ctx: &RequestContext,
    source: Source,
    raw_name: &str,
) -> Result<(), ApiError> {
    let name = validate::snapshot_name(raw_name)
        .map_err(|_| invalid(format!("Invalid FinalSnapshotIdentifier: {raw_name}")))?;
    let now = svc.inner.store.now();
    let region = svc.region(ctx);
    let plan = {
        let r = lock(&region);
        let plan = match &source {
            Source::Cluster(id) => {
                let c = r.cluster(id)?;
                check_snapshottable(&c.engine, &c.node_type)?;
                c.check(ClusterStatus::Deleting)?;
                plan_cluster(&r, c, &name, "manual", now)?
            }
            Source::Group(id) => {
                let g = r.group(id)?;
                check_snapshottable(&g.engine, &g.node_type)?;
                g.check(GroupStatus::Deleting)?;
                plan_group(&r, g, &name, "manual", now)?
            }
        };
        check_name_free(&r, &name)?;
        plan
    };
    let images = capture(svc, &plan.keys).await.map_err(|e| {
        let message = format!("The final snapshot {name} could not be taken: {e}");
        match source {
            Source::Cluster(_) => ApiError::invalid_cache_cluster_state(message),
            Source::Group(_) => ApiError::invalid_replication_group_state(message),
        }
    })?;
    {
        let mut r = lock(&region);
        check_name_free(&r, &name)?;
        insert(&mut r, &plan.record, &[]);
    }
    svc.spawn_snapshot(where_(ctx), plan, Some(images), None);
    Ok(())
}

/// Takes the image of every listed node, in order.
async fn capture(svc: &Service, keys: &[String]) -> Result<Vec<Arc<Vec<u8>>>, String> {
    let mut images = Vec::new();
    for key in keys {
        let image = svc
            .inner
            .supervisor
            .snapshot_rdb(key)
            .await
            .map_err(|e| e.to_string())?;
        images.push(Arc::new(image));
    }
    Ok(images)
}

/// Where a snapshot's files go: `<data-dir>/snapshots/<account>/<region>/<name>/`, if anywhere.
pub(super) fn snapshot_path(
    svc: &Service,
    place: &(String, String),
    name: &str,
) -> Option<PathBuf> {
    let (account, region) = place;
    (svc.inner.snapshot_dir.as_ref()).map(|d| d.join(account).join(region).join(name))
}

/// Writes a snapshot's shard images as `NNNN.rdb` files under [`snapshot_path`].
pub(super) fn persist(
    svc: &Service,
    place: &(String, String),
    name: &str,
    images: &[Arc<Vec<u8>>],
) {
    let Some(dir) = snapshot_path(svc, place, name) else {
        return;
    };
    let files = images
        .iter()
        .enumerate()
        .map(|(i, img)| (format!("{:04}.rdb", i + 1), img.as_slice()));
    if let Err(err) = write_rdb_files(&dir, files) {
        tracing::warn!(snapshot = %name, dir = %dir.display(), %err, "snapshot not written to disk");
    }
}

/// Writes RDB files into `dir` (created if needed), each atomically: a temporary file beside
/// it, fsynced, then renamed over the name, and the directory fsynced at the end. A process
/// killed meanwhile leaves every earlier file whole (a stray `.tmp` at worst) and never half a
/// file under an RDB name, which a restart would take for a complete snapshot.
pub(super) fn write_rdb_files<'a>(
    dir: &Path,
    files: impl Iterator<Item = (String, &'a [u8])>,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (name, bytes) in files {
        crate::state::persist::write_atomic(&dir.join(name), bytes)?;
    }
    // The renames themselves reach the disk with the directory.
    std::fs::File::open(dir)?.sync_all()
}

/// Removes a snapshot's files, if it has any.
pub(super) fn unpersist(svc: &Service, place: &(String, String), name: &str) {
    if let Some(dir) = snapshot_path(svc, place, name) {
        let _ = std::fs::remove_dir_all(dir);
    }
}

impl Service {
    /// Finishes a snapshot: takes the images (unless given), writes them to disk, waits the
    /// transition delay, then records them (`available`, or `failed`) and returns the source
    /// to `available`.
    pub(super) fn spawn_snapshot(
        &self,
        (account, region): (String, String),
        plan: SnapshotPlan,
        images: Option<Vec<Arc<Vec<u8>>>>,
        source: Option<Source>,
    ) {
        let svc = self.clone();
        tokio::spawn(async move {
            let images = match images {
                Some(i) => Ok(i),
                None => capture(&svc, &plan.keys).await,
            };
            let name = plan.record.name.clone();
            if let Ok(images) = &images {
                // Writing and fsyncing a large image blocks: keep it off the runtime's workers.
                let (svc, place, name, images) = (
                    svc.clone(),
                    (account.clone(), region.clone()),
                    name.clone(),
                    images.clone(),
                );
                let written =
                    tokio::task::spawn_blocking(move || persist(&svc, &place, &name, &images));
                let _ = written.await;
            }
            if !svc.inner.create_delay.is_zero() {
                tokio::time::sleep(svc.inner.create_delay).await;
            }
            let now = svc.inner.store.now();
            let region = svc.inner.store.region(&account, &region);
            let mut r = lock(&region);
            let (source_type, source_id) = match &source {
                Some(Source::Group(id)) => (SourceType::ReplicationGroup, id.clone()),
                Some(Source::Cluster(id)) => (SourceType::CacheCluster, id.clone()),
                None => (
                    SourceType::CacheCluster,
                    plan.record
                        .cache_cluster_id
                        .clone()
                        .or(plan.record.replication_group_id.clone())
                        .unwrap_or_default(),
                ),
            };
            let message = match (&images, r.snapshots.get_mut(&name)) {
                (Ok(images), Some(s)) => {
                    for (n, img) in s.nodes.iter_mut().zip(images) {
                        n.image = img.clone();
                        n.snapshot_create_time = now;
                    }
                    s.complete(SnapshotStatus::Available);
                    format!(
                        "Snapshot succeeded for snapshot with ID '{name}' of {} with ID '{source_id}'",
                        source_type.as_str().replace('-', " ")
                    )
                }
                (Err(e), Some(s)) => {
                    s.complete(SnapshotStatus::Failed);
                    format!("Snapshot failed for snapshot with ID '{name}': {e}")
                }
                (_, None) => String::new(),
            };
            match &source {
                Some(Source::Cluster(id)) => {
                    if let Some(c) = r.clusters.get_mut(id)
                        && c.status == ClusterStatus::Snapshotting
                    {
                        c.complete(ClusterStatus::Available);
                    }
                }
                Some(Source::Group(id)) => {
                    if let Some(g) = r.replication_groups.get_mut(id)
                        && g.status == GroupStatus::Snapshotting
                    {
                        g.complete(GroupStatus::Available);
                    }
                }
                None => {}
            }
            if !message.is_empty() {
                r.event(source_type, &source_id, message, now);
            }
        });
    }
}

/// Renders a snapshot; `show_node_groups` adds each shard's NodeGroupConfiguration.
pub fn render(ctx: &RequestContext, s: &SnapshotRecord, show_node_groups: bool) -> Snapshot {
    let nodes = s
        .nodes
        .iter()
        .map(|n| NodeSnapshot {
            cache_cluster_id: Some(n.cache_cluster_id.clone()),
            cache_node_id: Some(n.cache_node_id.clone()),
            cache_node_create_time: Some(Timestamp(n.node_create_time)),
            cache_size: Some(n.cache_size()),
            node_group_id: s
                .replication_group_id
                .as_ref()
                .map(|_| n.node_group_id.clone()),
            snapshot_create_time: Some(Timestamp(n.snapshot_create_time)),
            node_group_configuration: show_node_groups.then(|| NodeGroupConfiguration {
                node_group_id: Some(n.node_group_id.clone()),
                primary_availability_zone: Some(n.primary_zone.clone()),
                replica_availability_zones: Some(n.replica_zones.clone()),
                replica_count: Some(n.replica_count),
                slots: n.slots.clone(),
                ..Default::default()
            }),
        })
        .collect();
    Snapshot {
        arn: Some(arn_of(ctx, ResourceKind::Snapshot, &s.name)),
        snapshot_name: Some(s.name.clone()),
        snapshot_status: Some(s.status.as_str().to_string()),
        snapshot_source: Some(s.source.clone()),
        cache_cluster_id: s.cache_cluster_id.clone(),
        replication_group_id: s.replication_group_id.clone(),
        replication_group_description: s.replication_group_description.clone(),
        cache_cluster_create_time: Some(Timestamp(s.cache_cluster_create_time)),
        engine: Some(s.engine.clone()),
        engine_version: Some(s.engine_version.clone()),
        cache_node_type: Some(s.node_type.clone()),
        num_cache_nodes: s.num_cache_nodes,
        num_node_groups: s.num_node_groups,
        automatic_failover: s.automatic_failover.clone(),
        cache_parameter_group_name: Some(s.parameter_group.clone()),
        cache_subnet_group_name: Some(s.subnet_group.clone()),
        vpc_id: Some(s.vpc_id.clone()),
        port: Some(i32::from(s.port)),
        preferred_availability_zone: s.preferred_availability_zone.clone(),
        preferred_maintenance_window: Some(s.maintenance_window.clone()),
        snapshot_window: s.snapshot_window.clone(),
        snapshot_retention_limit: s.snapshot_retention_limit,
        topic_arn: s.topic_arn.clone(),
        auto_minor_version_upgrade: Some(s.auto_minor_version_upgrade),
        data_tiering: Some(s.data_tiering.clone()),
        node_snapshots: Some(nodes),
        ..Default::default()
    }
}

/// DescribeSnapshots: by name, source cluster or group, and origin (`user` / `system`).
pub fn describe_snapshots(
    svc: &Service,
    ctx: &RequestContext,
    input: DescribeSnapshotsInput,
) -> Result<DescribeSnapshotsOutput, ApiError> {
    let max = pagination::max_records(input.max_records, 20, 50, 50).map_err(invalid)?;
    let origin = match input.snapshot_source.as_deref() {
        None => None,
        Some("user") => Some("manual"),
        Some("system") => Some("automated"),
        Some(other) => {
            return Err(invalid(format!(
                "Invalid value for SnapshotSource: {other}. Valid values are user and system."
            )));
        }
    };
    let norm = |s: &Option<String>| s.as_ref().map(|v| v.trim().to_ascii_lowercase());
    let (name, cluster, group) = (
        norm(&input.snapshot_name),
        norm(&input.cache_cluster_id),
        norm(&input.replication_group_id),
    );
    let show = input.show_node_group_config.unwrap_or(false);
    let region = svc.region(ctx);
    let items: Vec<Snapshot> = {
        let r = lock(&region);
        if let Some(n) = &name
            && !r.snapshots.contains_key(n)
        {
            return Err(not_found(n));
        }
        r.snapshots
            .values()
            .filter(|s| name.as_ref().is_none_or(|n| &s.name == n))
            .filter(|s| cluster.is_none() || s.cache_cluster_id == cluster)
            .filter(|s| group.is_none() || s.replication_group_id == group)
            .filter(|s| origin.is_none_or(|o| s.source == o))
            .map(|s| render(ctx, s, show))
            .collect()
    };
    let page = page(items, input.marker.as_deref(), max)?;
    Ok(DescribeSnapshotsOutput {
        snapshots: Some(page.items),
        marker: page.marker,
    })
}

/// DeleteSnapshot: `deleting` in the answer, gone (with its files) after the delay.
pub fn delete_snapshot(
    svc: &Service,
    ctx: &RequestContext,
    input: DeleteSnapshotInput,
) -> Result<DeleteSnapshotOutput, ApiError> {
    let name = input.snapshot_name.trim().to_ascii_lowercase();
    let region = svc.region(ctx);
    let out = {
        let mut r = lock(&region);
        let s = r.snapshots.get_mut(&name).ok_or_else(|| not_found(&name))?;
        s.begin(SnapshotStatus::Deleting)
            .map_err(ApiError::invalid_snapshot_state)?;
        render(ctx, s, false)
    };
    let svc = svc.clone();
    let (account, region_name) = (ctx.account.clone(), ctx.region.clone());
    tokio::spawn(async move {
        if !svc.inner.create_delay.is_zero() {
            tokio::time::sleep(svc.inner.create_delay).await;
        }
        unpersist(&svc, &(account.clone(), region_name.clone()), &name);
        let region = svc.inner.store.region(&account, &region_name);
        let mut r = lock(&region);
        r.snapshots.remove(&name);
        r.tags.remove(&(ResourceKind::Snapshot, name.clone()));
    });
    Ok(DeleteSnapshotOutput {
        snapshot: Some(out),
    })
}
