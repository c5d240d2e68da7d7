//! Where snapshot images go and come from besides the snapshot list: CopySnapshot (a new
//! snapshot, or with `TargetBucket` an export of one RDB file per shard to the S3 stand-in
//! directory), and restores: CreateCacheCluster / CreateReplicationGroup with `SnapshotName`
//! or `SnapshotArns` (`arn:aws:s3:::bucket/key`, read from `<s3-dir>/bucket/key`).
//!
//! Place in the flow: the create handlers call `prepare_*_restore` before their own checks;
//! it fills the settings the request left out from the snapshot (engine, version, node type,
//! shards) and answers the images. After planning, the handler gives each new shard primary
//! its image (`Supervisor::seed_rdb`) before spawning the creation; replicas then sync from
//! their primary as usual.

use std::cmp::Ordering;
use std::path::PathBuf;
use std::sync::Arc;

use crate::catalog::{catalog, compare_versions};
use crate::control::api::*;
use crate::control::context::RequestContext;
use crate::control::error::ApiError;
use crate::control::validate;
use crate::state::{ResourceKind, SnapshotRecord, SnapshotStatus, lock};
use crate::supervisor::{DecodedImages, decode_images};

use super::Service;
use super::common::*;
use super::snapshots::{check_name_free, not_found, persist, render};

/// RDB images, one per shard, in node group order.
pub type Images = Vec<Arc<Vec<u8>>>;

/// A new shard primary (member cluster id) and the image it starts from.
pub type Seed = (String, Arc<Vec<u8>>);

/// An available snapshot of the caller, copied out of the region.
fn available_snapshot(
    svc: &Service,
    ctx: &RequestContext,
    raw: &str,
) -> Result<SnapshotRecord, ApiError> {
    let name = raw.trim().to_ascii_lowercase();
    let region = svc.region(ctx);
    let r = lock(&region);
    let s = r.snapshots.get(&name).ok_or_else(|| not_found(&name))?;
    if s.status != SnapshotStatus::Available {
        return Err(ApiError::invalid_snapshot_state(format!(
            "Snapshot {name} is not in available state (current state: {}).",
            s.status.as_str()
        )));
    }
    Ok(s.clone())
}

/// An S3 bucket name: 3–63 lower-case letters, digits, dots and hyphens.
pub(super) fn check_bucket(bucket: &str) -> Result<(), ApiError> {
    let ok = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && !bucket.contains("..");
    if ok {
        Ok(())
    } else {
        Err(invalid(format!("Invalid S3 bucket name: {bucket}")))
    }
}

/// The file an `arn:aws:s3:::bucket/key` ARN stands for under the S3 directory.
fn s3_path(svc: &Service, arn: &str) -> Result<PathBuf, ApiError> {
    let bad = || {
        invalid(format!(
            "Invalid S3 ARN: {arn}. Expected arn:aws:s3:::bucket/key"
        ))
    };
    let parts: Vec<&str> = arn.trim().splitn(6, ':').collect();
    let [prefix, _partition, service, "", "", resource] = parts.as_slice() else {
        return Err(bad());
    };
    if *prefix != "arn" || *service != "s3" {
        return Err(bad());
    }
    let (bucket, key) = resource.split_once('/').ok_or_else(bad)?;
    check_bucket(bucket)?;
    if key.is_empty()
        || key
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
    {
        return Err(bad());
    }
    Ok(svc.inner.s3_dir.join(bucket).join(key))
}

/// Reads the RDB files `SnapshotArns` names, checking each looks like one.
pub(super) fn read_arns(svc: &Service, arns: &[String]) -> Result<Images, ApiError> {
    let mut images = Vec::new();
    for arn in arns {
        let path = s3_path(svc, arn)?;
        let bytes = std::fs::read(&path).map_err(|e| {
            invalid(format!(
                "Unable to read {arn} (the S3 stand-in file {}): {e}",
                path.display()
            ))
        })?;
        if !bytes.starts_with(b"REDIS") {
            return Err(invalid(format!(
                "The object {arn} is not a valid RDB file."
            )));
        }
        images.push(Arc::new(bytes));
    }
    Ok(images)
}

/// The images a create request restores from, and the snapshot when named: `None` when the
/// request names none. Both forms at once are refused.
fn restore_images(
    svc: &Service,
    ctx: &RequestContext,
    name: Option<&str>,
    arns: &[String],
) -> Result<Option<(Images, Option<SnapshotRecord>)>, ApiError> {
    match (name, arns.is_empty()) {
        (None, true) => Ok(None),
        (Some(_), false) => Err(combination(
            "Only one of SnapshotName or SnapshotArns may be specified.",
        )),
        (Some(n), true) => {
            let s = available_snapshot(svc, ctx, n)?;
            Ok(Some((s.images(), Some(s))))
        }
        (None, false) => Ok(Some((read_arns(svc, arns)?, None))),
    }
}

/// A snapshot restores into its own engine (or Valkey, from Redis OSS) at the same or a newer
/// version: an older engine could not read its RDB files.
fn check_target_engine(
    s: &SnapshotRecord,
    engine: Option<&str>,
    version: Option<&str>,
) -> Result<(), ApiError> {
    let engine = engine.map(|e| e.trim().to_ascii_lowercase());
    let engine = engine.as_deref().unwrap_or(&s.engine);
    if engine != s.engine && !(s.engine == "redis" && engine == "valkey") {
        return Err(combination(format!(
            "A snapshot of engine {} cannot be restored with engine {engine}.",
            s.engine
        )));
    }
    let Some(target) = catalog().resolve_version(engine, version) else {
        // An unknown version is refused by the create checks in AWS's words.
        return Ok(());
    };
    if engine == s.engine
        && compare_versions(&target.full_version, &s.engine_version) == Ordering::Less
    {
        return Err(combination(format!(
            "Snapshot {} was taken with engine version {}; it cannot be restored into the older version {}.",
            s.name, s.engine_version, target.full_version
        )));
    }
    Ok(())
}

/// CreateCacheCluster restore: fills engine, version and node type from the snapshot when
/// the request leaves them out, and answers the one image the node starts from.
pub fn prepare_cluster_restore(
    svc: &Service,
    ctx: &RequestContext,
    input: &mut CreateCacheClusterInput,
) -> Result<Option<Arc<Vec<u8>>>, ApiError> {
    if input.engine.as_deref().map(str::trim) == Some("memcached") {
        // The create checks refuse snapshots for Memcached in AWS's words.
        return Ok(None);
    }
    let arns = input.snapshot_arns.clone().unwrap_or_default();
    let Some((images, snapshot)) = restore_images(svc, ctx, input.snapshot_name.as_deref(), &arns)?
    else {
        return Ok(None);
    };
    if let Some(s) = snapshot {
        check_target_engine(&s, input.engine.as_deref(), input.engine_version.as_deref())?;
        input.engine.get_or_insert(s.engine);
        input.engine_version.get_or_insert(s.engine_version);
        input.cache_node_type.get_or_insert(s.node_type);
    }
    if images.len() != 1 {
        return Err(combination(
            "A snapshot with more than one node group can only be restored into a cluster mode enabled replication group.",
        ));
    }
    Ok(images.into_iter().next())
}

/// CreateReplicationGroup restore: fills engine, version, node type, cluster mode and shard
/// count from the snapshot (or, for `SnapshotArns`, one shard per file) when the request
/// leaves them out, and answers the images, one per source shard. A cluster-mode request for
/// another number of shards gets the keys split by slot ([`group_restore`]).
pub fn prepare_group_restore(
    svc: &Service,
    ctx: &RequestContext,
    input: &mut CreateReplicationGroupInput,
) -> Result<Option<Images>, ApiError> {
    let arns = input.snapshot_arns.clone().unwrap_or_default();
    let Some((images, snapshot)) = restore_images(svc, ctx, input.snapshot_name.as_deref(), &arns)?
    else {
        return Ok(None);
    };
    let sharded = match snapshot {
        Some(s) => {
            check_target_engine(&s, input.engine.as_deref(), input.engine_version.as_deref())?;
            input.engine.get_or_insert(s.engine);
            input.engine_version.get_or_insert(s.engine_version);
            input.cache_node_type.get_or_insert(s.node_type);
            s.cluster_enabled
        }
        None => images.len() > 1,
    };
    let shards_given = input.num_node_groups.is_some() || input.node_group_configuration.is_some();
    if sharded && input.num_cache_clusters.is_none() {
        if !shards_given {
            input.num_node_groups = Some(images.len() as i32);
        }
        if input.cache_parameter_group_name.is_none() {
            input
                .cluster_mode
                .get_or_insert_with(|| "enabled".to_string());
        }
    }
    Ok(Some(images))
}

/// How a new group's shards get their data: each its own image, or the images' keys split
/// by hash slot (a cluster-mode restore into a different number of shards).
pub enum GroupRestore {
    /// One image per new shard, in node group order.
    Direct(Images),
    /// Decoded keys to split by the new shards' slot ranges.
    Reshard(DecodedImages),
}

/// Decides how a group restores: when the request asks for a different number of shards
/// than the images hold, they are decoded now (a file that does not load is refused).
pub fn group_restore(
    input: &CreateReplicationGroupInput,
    images: Option<Images>,
) -> Result<Option<GroupRestore>, ApiError> {
    let Some(images) = images else {
        return Ok(None);
    };
    let wanted = match (&input.node_group_configuration, input.num_node_groups) {
        (Some(c), _) if !c.is_empty() => c.len(),
        (_, Some(n)) => usize::try_from(n).unwrap_or(0),
        _ => 1,
    };
    if wanted == images.len() {
        return Ok(Some(GroupRestore::Direct(images)));
    }
    let decoded = decode_images(&images).map_err(invalid)?;
    Ok(Some(GroupRestore::Reshard(decoded)))
}

/// Checks a planned group against its restore: a direct restore needs one image per shard,
/// and splitting keys by slot needs cluster mode.
pub fn check_restore_shape(
    restore: &GroupRestore,
    shards: usize,
    cluster_enabled: bool,
) -> Result<(), ApiError> {
    match restore {
        GroupRestore::Direct(images) if images.len() != shards => Err(combination(format!(
            "The snapshot has {} node group(s) but the replication group would have {shards}.",
            images.len()
        ))),
        GroupRestore::Reshard(_) if !cluster_enabled => Err(combination(
            "A snapshot with more than one node group can only be restored into a cluster mode enabled replication group.",
        )),
        _ => Ok(()),
    }
}

/// Pairs each new shard primary (member id, slot ranges) with the image it starts from.
pub fn seeds(restore: GroupRestore, shards: Vec<(String, Vec<(u16, u16)>)>) -> Vec<Seed> {
    let images = match restore {
        GroupRestore::Direct(images) => images,
        GroupRestore::Reshard(decoded) => {
            let slots: Vec<Vec<(u16, u16)>> = shards.iter().map(|(_, s)| s.clone()).collect();
            decoded.split(&slots)
        }
    };
    shards.into_iter().map(|(p, _)| p).zip(images).collect()
}

/// Writes one RDB file per shard, `<name>-0001.rdb`, ... into `<s3-dir>/<bucket>/`.
pub(super) fn export(
    svc: &Service,
    bucket: &str,
    name: &str,
    images: &Images,
) -> Result<(), ApiError> {
    let dir = svc.inner.s3_dir.join(bucket);
    let files = (images.iter().enumerate())
        .map(|(i, img)| (format!("{name}-{:04}.rdb", i + 1), img.as_slice()));
    super::snapshots::write_rdb_files(&dir, files).map_err(|e| {
        invalid(format!(
            "Cannot write to the S3 bucket {bucket} (directory {}): {e}",
            dir.display()
        ))
    })?;
    tracing::info!(snapshot = %name, dir = %dir.display(), files = images.len(), "snapshot exported");
    Ok(())
}

/// CopySnapshot: a new snapshot with the same images, or with `TargetBucket` an export of the
/// shard images as RDB files (the answer is then the source snapshot).
pub fn copy_snapshot(
    svc: &Service,
    ctx: &RequestContext,
    input: CopySnapshotInput,
) -> Result<CopySnapshotOutput, ApiError> {
    let target = validate::snapshot_name(&input.target_snapshot_name).map_err(invalid)?;
    let tags = tags_from_request(input.tags.clone())?;
    check_tag_quota(&tags)?;
    let source = available_snapshot(svc, ctx, &input.source_snapshot_name)?;
    if let Some(bucket) = &input.target_bucket {
        check_bucket(bucket)?;
        export(svc, bucket, &target, &source.images())?;
        return Ok(CopySnapshotOutput {
            snapshot: Some(render(ctx, &source, false)),
        });
    }
    let mut copy = source;
    copy.name = target.clone();
    copy.source = "manual".to_string();
    {
        let region = svc.region(ctx);
        let mut r = lock(&region);
        check_name_free(&r, &target)?;
        attach_tags(&mut r, ResourceKind::Snapshot, &target, &tags);
        r.snapshots.insert(target.clone(), copy.clone());
    }
    let place = (ctx.account.clone(), ctx.region.clone());
    persist(svc, &place, &target, &copy.images());
    Ok(CopySnapshotOutput {
        snapshot: Some(render(ctx, &copy, false)),
    })
}
