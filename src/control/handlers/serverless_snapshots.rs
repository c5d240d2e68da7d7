//! Create/Describe/Copy/Delete/ExportServerlessCacheSnapshot, the final snapshot of
//! DeleteServerlessCache, and the image CreateServerlessCache restores from
//! (`SnapshotArnsToRestore`).
//!
//! Place in the flow: a snapshot is the RDB image of the cache's node, taken by the supervisor
//! (`snapshot_rdb`) in a background task while the record says `creating`; a restore seeds the
//! new cache's node with it before the node listens (`serverless_run`). Exports write the image
//! into the S3 stand-in directory like CopySnapshot's (`snapshot_restore::export`).

use std::sync::Arc;

use crate::control::api::*;
use crate::control::arn;
use crate::control::context::RequestContext;
use crate::control::error::ApiError;
use crate::state::{
    MAX_SERVERLESS_SNAPSHOTS, Region, ResourceKind, ServerlessCacheRecord,
    ServerlessSnapshotRecord, ServerlessStatus, SourceType, lock,
};
use crate::supervisor::decode_images;

use super::Service;
use super::common::*;
use super::serverless_common::{not_available, not_found as cache_not_found, results_size};
use super::serverless_run::ServerlessRef;
use super::snapshot_restore::{check_bucket, export, read_arns};

/// `ServerlessCacheSnapshotNotFoundFault` for `name`.
fn not_found(name: &str) -> ApiError {
    ApiError::serverless_cache_snapshot_not_found(format!(
        "Serverless cache snapshot {name} not found."
    ))
}

/// A serverless snapshot name: identifier rules, 1–255 characters, lower-cased.
pub fn checked_snapshot_name(raw: &str) -> Result<String, ApiError> {
    crate::control::validate::serverless_name("ServerlessCacheSnapshotName", raw, 255)
        .map_err(invalid)
}

/// A new snapshot named `name` of a cache of `engine` may be created: Valkey/Redis OSS only
/// (Memcached nodes have no data image), a free name, within the quota.
pub fn check_new_snapshot(r: &Region, engine: &str, name: &str) -> Result<(), ApiError> {
    if engine == "memcached" {
        return Err(combination(
            "Snapshots are not supported for memcached serverless caches.",
        ));
    }
    if r.serverless.snapshots.contains_key(name) {
        return Err(ApiError::serverless_cache_snapshot_already_exists(format!(
            "Serverless cache snapshot {name} already exists."
        )));
    }
    if r.serverless.snapshots.len() >= MAX_SERVERLESS_SNAPSHOTS {
        return Err(ApiError::serverless_cache_snapshot_quota_exceeded(format!(
            "The maximum of {MAX_SERVERLESS_SNAPSHOTS} serverless cache snapshots per region has been reached."
        )));
    }
    Ok(())
}

/// The wire `ServerlessCacheSnapshot` of a record.
fn render(ctx: &RequestContext, s: &ServerlessSnapshotRecord) -> ServerlessCacheSnapshot {
    ServerlessCacheSnapshot {
        arn: Some(arn_of(ctx, ResourceKind::ServerlessCacheSnapshot, &s.name)),
        bytes_used_for_cache: Some(s.image.len().to_string()),
        create_time: Some(s.create_time.into()),
        expiry_time: s.expiry_time.map(Into::into),
        kms_key_id: s.kms_key_id.clone(),
        serverless_cache_configuration: Some(ServerlessCacheConfiguration {
            engine: Some(s.engine.clone()),
            major_engine_version: Some(s.major_engine_version.clone()),
            serverless_cache_name: Some(s.cache_name.clone()),
        }),
        serverless_cache_snapshot_name: Some(s.name.clone()),
        snapshot_type: Some(s.snapshot_type.clone()),
        status: Some(s.status.clone()),
    }
}

/// A snapshot record of cache `c` (image filled in once taken).
fn new_record(
    c: &ServerlessCacheRecord,
    name: &str,
    now: time::OffsetDateTime,
    kms_key_id: Option<String>,
) -> ServerlessSnapshotRecord {
    ServerlessSnapshotRecord {
        name: name.to_string(),
        status: "creating".to_string(),
        snapshot_type: "manual".to_string(),
        create_time: now,
        expiry_time: None,
        kms_key_id: kms_key_id.or_else(|| c.kms_key_id.clone()),
        cache_name: c.name.clone(),
        engine: c.engine.clone(),
        major_engine_version: c.major_engine_version.clone(),
        image: Arc::new(Vec::new()),
    }
}

/// The image `SnapshotArnsToRestore` names for a new cache of `engine`: serverless snapshot
/// ARNs of the caller's region, or `arn:aws:s3:::bucket/key` RDB files; several images are
/// merged into the one shard a serverless node holds.
pub fn restore_image(
    svc: &Service,
    ctx: &RequestContext,
    engine: &str,
    arns: &[String],
) -> Result<Option<Arc<Vec<u8>>>, ApiError> {
    if arns.is_empty() {
        return Ok(None);
    }
    if engine == "memcached" {
        return Err(combination(
            "SnapshotArnsToRestore is not supported for memcached serverless caches.",
        ));
    }
    let mut images = Vec::new();
    for a in arns {
        if a.trim().starts_with("arn:aws:s3:") {
            images.extend(read_arns(svc, std::slice::from_ref(a))?);
            continue;
        }
        let parsed = arn::parse(a).map_err(invalid)?;
        if parsed.kind != ResourceKind::ServerlessCacheSnapshot
            || parsed.account != ctx.account
            || parsed.region != ctx.region
        {
            return Err(invalid(format!(
                "Invalid snapshot ARN {a}: it must name a serverless cache snapshot of this account and region."
            )));
        }
        let region = svc.region(ctx);
        let r = lock(&region);
        let s = available(&r, &parsed.id)?;
        if s.engine == "valkey" && engine == "redis" {
            return Err(combination(format!(
                "Snapshot {} of a valkey cache cannot be restored into a redis cache.",
                s.name
            )));
        }
        images.push(s.image.clone());
    }
    if images.len() == 1 {
        return Ok(images.pop());
    }
    let decoded = decode_images(&images).map_err(invalid)?;
    Ok(decoded.split(&[vec![(0, 16383)]]).pop())
}

/// The snapshot `name`, which must be `available`.
fn available<'a>(r: &'a Region, name: &str) -> Result<&'a ServerlessSnapshotRecord, ApiError> {
    let s = r
        .serverless
        .snapshots
        .get(name)
        .ok_or_else(|| not_found(name))?;
    if s.status != "available" {
        return Err(ApiError::invalid_serverless_cache_snapshot_state(format!(
            "Serverless cache snapshot {name} is in the {} state; it must be available.",
            s.status
        )));
    }
    Ok(s)
}

/// CreateServerlessCacheSnapshot: `creating` until the node's image is taken.
pub fn create_serverless_cache_snapshot(
    svc: &Service,
    ctx: &RequestContext,
    input: CreateServerlessCacheSnapshotInput,
) -> Result<CreateServerlessCacheSnapshotOutput, ApiError> {
    let name = checked_snapshot_name(&input.serverless_cache_snapshot_name)?;
    let cache = input.serverless_cache_name.trim().to_ascii_lowercase();
    let tags = tags_from_request(input.tags)?;
    check_tag_quota(&tags)?;
    let now = svc.inner.store.now();
    let region = svc.region(ctx);
    let mut r = lock(&region);
    let c = r
        .serverless
        .caches
        .get(&cache)
        .ok_or_else(|| cache_not_found(&cache))?;
    if c.status != ServerlessStatus::Available {
        return Err(not_available(&cache, c.status));
    }
    check_new_snapshot(&r, &c.engine, &name)?;
    let record = new_record(c, &name, now, input.kms_key_id);
    let sref = ServerlessRef::of(&r, c);
    attach_tags(&mut r, ResourceKind::ServerlessCacheSnapshot, &name, &tags);
    r.event(
        SourceType::ServerlessCacheSnapshot,
        &name,
        format!("Snapshot creation started for serverless cache {cache}"),
        now,
    );
    let out = render(ctx, &record);
    r.serverless.snapshots.insert(name.clone(), record);
    drop(r);
    svc.spawn_serverless_capture(sref, name);
    Ok(CreateServerlessCacheSnapshotOutput {
        serverless_cache_snapshot: Some(out),
    })
}

/// Records the automated snapshot `name` of the cache `sref` names, `creating`, expiring at
/// `expiry` (the scheduler takes its image next).
pub fn record_automated(
    r: &mut Region,
    sref: &ServerlessRef,
    name: &str,
    now: time::OffsetDateTime,
    expiry: time::OffsetDateTime,
) {
    let Some(c) = r.serverless.caches.get(&sref.name) else {
        return;
    };
    let mut record = new_record(c, name, now, None);
    record.snapshot_type = "automated".to_string();
    record.expiry_time = Some(expiry);
    r.serverless.snapshots.insert(name.to_string(), record);
}

impl Service {
    /// Takes the image of snapshot `name` (recorded `creating`) from the cache's node in the
    /// background, then completes it after the transition delay.
    pub(crate) fn spawn_serverless_capture(&self, sref: ServerlessRef, name: String) {
        let svc = self.clone();
        tokio::spawn(async move {
            let image = svc.inner.supervisor.snapshot_rdb(&sref.node_key()).await;
            if !svc.inner.create_delay.is_zero() {
                tokio::time::sleep(svc.inner.create_delay).await;
            }
            svc.complete_serverless_snapshot(&sref, &name, image.map_err(|e| e.to_string()));
        });
    }

    /// Records a taken image (`available`), or drops the snapshot when it could not be taken.
    fn complete_serverless_snapshot(
        &self,
        sref: &ServerlessRef,
        name: &str,
        image: Result<Vec<u8>, String>,
    ) {
        let now = self.inner.store.now();
        let region = self.inner.store.region(&sref.account, &sref.region);
        let mut r = lock(&region);
        let message = match image {
            Ok(image) => {
                let Some(s) = r.serverless.snapshots.get_mut(name) else {
                    return;
                };
                s.image = Arc::new(image);
                s.status = "available".to_string();
                format!(
                    "Snapshot {name} of serverless cache {} succeeded",
                    sref.name
                )
            }
            Err(why) => {
                r.serverless.snapshots.remove(name);
                r.tags
                    .remove(&(ResourceKind::ServerlessCacheSnapshot, name.to_string()));
                format!(
                    "Snapshot {name} of serverless cache {} failed: {why}",
                    sref.name
                )
            }
        };
        r.event(SourceType::ServerlessCacheSnapshot, name, message, now);
    }

    /// DeleteServerlessCache's `FinalSnapshotName`: the node's image, recorded `available`.
    pub(crate) async fn final_serverless_snapshot(&self, sref: &ServerlessRef, name: &str) {
        let image = self.inner.supervisor.snapshot_rdb(&sref.node_key()).await;
        let now = self.inner.store.now();
        {
            let region = self.inner.store.region(&sref.account, &sref.region);
            let mut r = lock(&region);
            let Some(c) = r.serverless.caches.get(&sref.name) else {
                return;
            };
            let record = new_record(c, name, now, None);
            if !r.serverless.snapshots.contains_key(name) {
                r.serverless.snapshots.insert(name.to_string(), record);
            }
        }
        self.complete_serverless_snapshot(sref, name, image.map_err(|e| e.to_string()));
    }
}

/// DescribeServerlessCacheSnapshots: by snapshot name, by cache, by type; name order.
pub fn describe_serverless_cache_snapshots(
    svc: &Service,
    ctx: &RequestContext,
    input: DescribeServerlessCacheSnapshotsInput,
) -> Result<DescribeServerlessCacheSnapshotsOutput, ApiError> {
    let max = results_size(input.max_results, 50)?;
    if let Some(t) = input.snapshot_type.as_deref()
        && !matches!(t, "manual" | "automated")
    {
        return Err(invalid(format!(
            "Invalid SnapshotType {t}. Valid values are manual and automated."
        )));
    }
    let cache = input
        .serverless_cache_name
        .as_deref()
        .map(|c| c.trim().to_ascii_lowercase());
    // A cache name filters (snapshots outlive their cache: a final snapshot names a cache that
    // is gone).
    let region = svc.region(ctx);
    let r = lock(&region);
    let list: Vec<ServerlessCacheSnapshot> = match &input.serverless_cache_snapshot_name {
        Some(raw) => {
            let name = raw.trim().to_ascii_lowercase();
            let s = r
                .serverless
                .snapshots
                .get(&name)
                .ok_or_else(|| not_found(&name))?;
            vec![render(ctx, s)]
        }
        None => r
            .serverless
            .snapshots
            .values()
            .filter(|s| cache.as_ref().is_none_or(|c| &s.cache_name == c))
            .filter(|s| {
                input
                    .snapshot_type
                    .as_ref()
                    .is_none_or(|t| &s.snapshot_type == t)
            })
            .map(|s| render(ctx, s))
            .collect(),
    };
    drop(r);
    let page = page(list, input.next_token.as_deref(), max)?;
    Ok(DescribeServerlessCacheSnapshotsOutput {
        serverless_cache_snapshots: Some(page.items),
        next_token: page.marker,
    })
}

/// CopyServerlessCacheSnapshot: a new manual snapshot with the source's image.
pub fn copy_serverless_cache_snapshot(
    svc: &Service,
    ctx: &RequestContext,
    input: CopyServerlessCacheSnapshotInput,
) -> Result<CopyServerlessCacheSnapshotOutput, ApiError> {
    let target = checked_snapshot_name(&input.target_serverless_cache_snapshot_name)?;
    let source = input
        .source_serverless_cache_snapshot_name
        .trim()
        .to_ascii_lowercase();
    let tags = tags_from_request(input.tags)?;
    check_tag_quota(&tags)?;
    let now = svc.inner.store.now();
    let region = svc.region(ctx);
    let mut r = lock(&region);
    let mut copy = available(&r, &source)?.clone();
    check_new_snapshot(&r, &copy.engine, &target)?;
    copy.name = target.clone();
    copy.snapshot_type = "manual".to_string();
    copy.create_time = now;
    copy.expiry_time = None;
    if input.kms_key_id.is_some() {
        copy.kms_key_id = input.kms_key_id;
    }
    attach_tags(
        &mut r,
        ResourceKind::ServerlessCacheSnapshot,
        &target,
        &tags,
    );
    r.event(
        SourceType::ServerlessCacheSnapshot,
        &target,
        format!("Snapshot {target} copied from {source}"),
        now,
    );
    let out = render(ctx, &copy);
    r.serverless.snapshots.insert(target, copy);
    Ok(CopyServerlessCacheSnapshotOutput {
        serverless_cache_snapshot: Some(out),
    })
}

/// DeleteServerlessCacheSnapshot: answers the snapshot as `deleting`; it is gone at once.
pub fn delete_serverless_cache_snapshot(
    svc: &Service,
    ctx: &RequestContext,
    input: DeleteServerlessCacheSnapshotInput,
) -> Result<DeleteServerlessCacheSnapshotOutput, ApiError> {
    let name = input
        .serverless_cache_snapshot_name
        .trim()
        .to_ascii_lowercase();
    let now = svc.inner.store.now();
    let region = svc.region(ctx);
    let mut r = lock(&region);
    let mut s = available(&r, &name)?.clone();
    r.serverless.snapshots.remove(&name);
    r.tags
        .remove(&(ResourceKind::ServerlessCacheSnapshot, name.clone()));
    r.event(
        SourceType::ServerlessCacheSnapshot,
        &name,
        "Snapshot deleted",
        now,
    );
    s.status = "deleting".to_string();
    Ok(DeleteServerlessCacheSnapshotOutput {
        serverless_cache_snapshot: Some(render(ctx, &s)),
    })
}

/// ExportServerlessCacheSnapshot: writes the image as `<s3-dir>/<bucket>/<name>-0001.rdb`.
pub fn export_serverless_cache_snapshot(
    svc: &Service,
    ctx: &RequestContext,
    input: ExportServerlessCacheSnapshotInput,
) -> Result<ExportServerlessCacheSnapshotOutput, ApiError> {
    check_bucket(&input.s3_bucket_name)?;
    let name = input
        .serverless_cache_snapshot_name
        .trim()
        .to_ascii_lowercase();
    let s = {
        let region = svc.region(ctx);
        let r = lock(&region);
        available(&r, &name)?.clone()
    };
    export(svc, &input.s3_bucket_name, &name, &vec![s.image.clone()])?;
    Ok(ExportServerlessCacheSnapshotOutput {
        serverless_cache_snapshot: Some(render(ctx, &s)),
    })
}
