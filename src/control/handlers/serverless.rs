//! Create/Describe/Modify/DeleteServerlessCache: serverless caches, each backed by one real
//! engine node with TLS required (Valkey/Redis OSS: a single-shard cluster owning every slot,
//! plus a reader endpoint; Memcached: a Memcached node).
//!
//! Place in the flow: these handlers validate, update `state::ServerlessState` under the region
//! lock and answer at once (`creating`, `modifying`, `deleting`); `serverless_run` then drives
//! the supervisor and completes the transition. Snapshots live in `serverless_snapshots`.

pub use super::serverless_common::{not_available, not_found, results_size};
use crate::catalog::{catalog, compare_versions};
use crate::control::api::*;
use crate::control::context::RequestContext;
use crate::control::error::ApiError;
use crate::control::validate;
use crate::state::{
    MAX_SERVERLESS_CACHES, Region, ResourceKind, ServerlessCacheRecord, ServerlessStatus,
    SourceType, UsageLimits, UserGroupStatus, lock,
};

use super::Service;
use super::common::*;
use super::serverless_run::{ServerlessRef, Work};

/// Longest `Description` AWS accepts.
const MAX_DESCRIPTION: usize = 255;
/// `DataStorage` bounds in GB, and `ECPUPerSecond` bounds.
const DATA_GB: std::ops::RangeInclusive<i32> = 1..=5000;
const ECPU: std::ops::RangeInclusive<i32> = 1000..=15_000_000;
/// Default `DailySnapshotTime` (AWS picks one; this one is fixed).
const DEFAULT_DAILY_SNAPSHOT_TIME: &str = "03:00";

/// A serverless cache name: identifier rules, 1–40 characters, lower-cased.
pub fn checked_name(raw: &str) -> Result<String, ApiError> {
    validate::serverless_name("ServerlessCacheName", raw, 40).map_err(invalid)
}

/// The wire `Endpoint` of a recorded one.
fn endpoint(e: &crate::state::ServerlessEndpoint) -> Endpoint {
    Endpoint {
        address: Some(e.address.clone()),
        port: Some(i32::from(e.port)),
    }
}

/// The wire `CacheUsageLimits` of a record (absent when none is set, as AWS answers).
fn limits_to_api(l: &UsageLimits) -> Option<CacheUsageLimits> {
    if l.is_empty() {
        return None;
    }
    let data = (l.data_max_gb.is_some() || l.data_min_gb.is_some()).then(|| DataStorage {
        maximum: l.data_max_gb,
        minimum: l.data_min_gb,
        unit: "GB".to_string(),
    });
    let ecpu = (l.ecpu_max.is_some() || l.ecpu_min.is_some()).then_some(ECPUPerSecond {
        maximum: l.ecpu_max,
        minimum: l.ecpu_min,
    });
    Some(CacheUsageLimits {
        data_storage: data,
        ecpu_per_second: ecpu,
    })
}

/// The wire `ServerlessCache` of a record.
pub fn render(ctx: &RequestContext, c: &ServerlessCacheRecord) -> ServerlessCache {
    ServerlessCache {
        arn: Some(arn_of(ctx, ResourceKind::ServerlessCache, &c.name)),
        cache_usage_limits: limits_to_api(&c.limits),
        create_time: Some(c.create_time.into()),
        daily_snapshot_time: (c.engine != "memcached").then(|| c.daily_snapshot_time.clone()),
        description: Some(c.description.clone()),
        endpoint: c.endpoint.as_ref().map(endpoint),
        engine: Some(c.engine.clone()),
        full_engine_version: Some(c.full_engine_version.clone()),
        kms_key_id: c.kms_key_id.clone(),
        major_engine_version: Some(c.major_engine_version.clone()),
        network_type: Some("ipv4".to_string()),
        reader_endpoint: c.reader_endpoint.as_ref().map(endpoint),
        security_group_ids: Some(c.security_group_ids.clone()),
        serverless_cache_name: Some(c.name.clone()),
        snapshot_retention_limit: Some(c.snapshot_retention_limit),
        status: Some(c.status.as_str().to_string()),
        subnet_ids: Some(c.subnet_ids.clone()),
        user_group_id: c.user_group_id.clone(),
    }
}

/// `CacheUsageLimits` of a request, checked: `DataStorage` in GB within 1–5000,
/// `ECPUPerSecond` within 1000–15 000 000, each minimum at most its maximum.
fn limits_from_request(l: Option<CacheUsageLimits>) -> Result<UsageLimits, ApiError> {
    let Some(l) = l else {
        return Ok(UsageLimits::default());
    };
    let mut out = UsageLimits::default();
    if let Some(d) = l.data_storage {
        if d.unit != "GB" {
            return Err(invalid(format!(
                "Invalid DataStorage unit {}. The only valid unit is GB.",
                d.unit
            )));
        }
        out.data_max_gb = in_range("DataStorage.Maximum", d.maximum, &DATA_GB)?;
        out.data_min_gb = in_range("DataStorage.Minimum", d.minimum, &DATA_GB)?;
    }
    if let Some(e) = l.ecpu_per_second {
        out.ecpu_max = in_range("ECPUPerSecond.Maximum", e.maximum, &ECPU)?;
        out.ecpu_min = in_range("ECPUPerSecond.Minimum", e.minimum, &ECPU)?;
    }
    for (what, min, max) in [
        ("DataStorage", out.data_min_gb, out.data_max_gb),
        ("ECPUPerSecond", out.ecpu_min, out.ecpu_max),
    ] {
        if let (Some(min), Some(max)) = (min, max)
            && min > max
        {
            return Err(combination(format!(
                "{what} Minimum ({min}) cannot be greater than its Maximum ({max})."
            )));
        }
    }
    Ok(out)
}

fn in_range(
    name: &str,
    v: Option<i32>,
    range: &std::ops::RangeInclusive<i32>,
) -> Result<Option<i32>, ApiError> {
    match v {
        Some(v) if !range.contains(&v) => Err(invalid(format!(
            "Invalid value {v} for {name}. It must be between {} and {}.",
            range.start(),
            range.end()
        ))),
        v => Ok(v),
    }
}

/// The engine of a request: `redis`, `valkey` or `memcached`.
fn checked_engine(raw: &str) -> Result<String, ApiError> {
    let e = raw.trim().to_ascii_lowercase();
    match e.as_str() {
        "redis" | "valkey" | "memcached" => Ok(e),
        _ => Err(invalid(format!(
            "Invalid engine {raw}. Valid engines are redis, valkey and memcached."
        ))),
    }
}

/// The major versions serverless caches offer per engine, oldest first.
fn majors(engine: &str) -> &'static [&'static str] {
    match engine {
        "redis" => &["7"],
        "valkey" => &["7", "8"],
        _ => &["1.6"],
    }
}

/// (`MajorEngineVersion`, `FullEngineVersion`, the node's full version) for a requested major
/// version (default: the newest), from the newest catalogue release of that major.
pub fn resolve_version(
    engine: &str,
    major: Option<&str>,
) -> Result<(String, String, String), ApiError> {
    let offered = majors(engine);
    let major = match major.map(str::trim) {
        None | Some("") => offered
            .iter()
            .rev()
            .copied()
            .find(|m| newest(engine, m).is_some()),
        Some(m) => offered.iter().copied().find(|o| *o == m),
    }
    .ok_or_else(|| {
        invalid(format!(
            "Invalid MajorEngineVersion {} for engine {engine}. Valid versions are {}.",
            major.unwrap_or(""),
            offered.join(", ")
        ))
    })?;
    let v = newest(engine, major)
        .ok_or_else(|| invalid(format!("Engine {engine} {major} is not available.")))?;
    Ok((major.to_string(), v.version.clone(), v.full_version.clone()))
}

fn newest(engine: &str, major: &str) -> Option<&'static crate::catalog::EngineVersion> {
    let prefix = format!("{major}.");
    catalog()
        .engine_versions()
        .iter()
        .filter(|v| v.engine == engine && v.full_version.starts_with(&prefix))
        .max_by(|a, b| compare_versions(&a.full_version, &b.full_version))
}

/// `DailySnapshotTime`: `HH:MM`, 24-hour.
fn checked_daily_time(raw: &str) -> Result<String, ApiError> {
    let bad = || invalid(format!("Invalid DailySnapshotTime {raw}. Use HH:MM (UTC)."));
    let (h, m) = raw.trim().split_once(':').ok_or_else(bad)?;
    let ok = h.len() == 2
        && m.len() == 2
        && h.parse::<u8>().is_ok_and(|h| h < 24)
        && m.parse::<u8>().is_ok_and(|m| m < 60);
    if ok {
        Ok(raw.trim().to_string())
    } else {
        Err(bad())
    }
}

/// `SnapshotRetentionLimit`: 0–35 days.
fn checked_retention(v: i32) -> Result<i32, ApiError> {
    if (0..=35).contains(&v) {
        Ok(v)
    } else {
        Err(invalid(format!(
            "Invalid SnapshotRetentionLimit {v}. It must be between 0 and 35."
        )))
    }
}

/// A user group a serverless cache of `engine` may use: existing, `active`, of a fitting engine
/// (Valkey caches take Valkey and Redis OSS groups; Redis OSS caches only Redis OSS ones).
fn checked_user_group(r: &Region, engine: &str, raw: &str) -> Result<String, ApiError> {
    if engine == "memcached" {
        return Err(combination(
            "User groups are not supported for memcached serverless caches.",
        ));
    }
    let id = raw.trim().to_ascii_lowercase();
    let ug = r
        .user_groups
        .get(&id)
        .ok_or_else(|| super::user_groups::not_found(&id))?;
    if ug.status != UserGroupStatus::Active {
        return Err(ApiError::invalid_user_group_state(format!(
            "User group {id} is not in the active state."
        )));
    }
    if engine == "redis" && ug.engine != "redis" {
        return Err(invalid(format!(
            "User group {id} has engine {}; a redis serverless cache only takes redis user groups.",
            ug.engine
        )));
    }
    Ok(id)
}

/// Security group ids: `sg-` ids; none given → the VPC's default security group.
fn checked_security_groups(r: &Region, ids: Option<Vec<String>>) -> Result<Vec<String>, ApiError> {
    let ids = ids.unwrap_or_default();
    if let Some(bad) = ids.iter().find(|i| !i.starts_with("sg-") || i.len() < 4) {
        return Err(invalid(format!("Invalid security group id: {bad}")));
    }
    if ids.is_empty() {
        return Ok(vec![format!("sg-{}", r.hash_hex("default-sg", 17))]);
    }
    Ok(ids)
}

/// Subnet ids: `subnet-` ids; none given → the subnets of the default subnet group.
fn checked_subnets(r: &Region, ids: Option<Vec<String>>) -> Result<Vec<String>, ApiError> {
    let ids = ids.unwrap_or_default();
    if let Some(bad) = ids
        .iter()
        .find(|i| !i.starts_with("subnet-") || i.len() < 8)
    {
        return Err(invalid(format!("Invalid subnet id: {bad}")));
    }
    if ids.is_empty() {
        let default = r.subnet_groups.get(crate::state::DEFAULT_SUBNET_GROUP);
        return Ok(default
            .map(|g| g.subnets.iter().map(|s| s.id.clone()).collect())
            .unwrap_or_default());
    }
    Ok(ids)
}

/// CreateServerlessCache: the record is `creating` until its node (and reader) listen.
pub fn create_serverless_cache(
    svc: &Service,
    ctx: &RequestContext,
    input: CreateServerlessCacheInput,
) -> Result<CreateServerlessCacheOutput, ApiError> {
    let name = checked_name(&input.serverless_cache_name)?;
    let engine = checked_engine(&input.engine)?;
    let description = input.description.unwrap_or_default();
    if description.len() > MAX_DESCRIPTION {
        return Err(invalid(format!(
            "Description must be at most {MAX_DESCRIPTION} characters."
        )));
    }
    let limits = limits_from_request(input.cache_usage_limits)?;
    let (major, full, node_version) =
        resolve_version(&engine, input.major_engine_version.as_deref())?;
    let daily = input
        .daily_snapshot_time
        .as_deref()
        .map(checked_daily_time)
        .transpose()?;
    let retention = input
        .snapshot_retention_limit
        .map(checked_retention)
        .transpose()?;
    if engine == "memcached" && (daily.is_some() || retention.is_some_and(|r| r > 0)) {
        return Err(combination(
            "Snapshots are not supported for memcached serverless caches.",
        ));
    }
    let tags = tags_from_request(input.tags)?;
    check_tag_quota(&tags)?;
    let arns = input.snapshot_arns_to_restore.unwrap_or_default();
    let seed = super::serverless_snapshots::restore_image(svc, ctx, &engine, &arns)?;
    let now = svc.inner.store.now();
    let region = svc.region(ctx);
    let mut r = lock(&region);
    if r.serverless.caches.contains_key(&name) {
        return Err(ApiError::serverless_cache_already_exists(format!(
            "Serverless cache {name} already exists."
        )));
    }
    if r.serverless.caches.len() >= MAX_SERVERLESS_CACHES {
        return Err(ApiError::serverless_cache_quota_for_customer_exceeded(
            format!(
                "The maximum of {MAX_SERVERLESS_CACHES} serverless caches per region has been reached."
            ),
        ));
    }
    let user_group_id = input
        .user_group_id
        .as_deref()
        .map(|g| checked_user_group(&r, &engine, g))
        .transpose()?;
    let record = ServerlessCacheRecord {
        security_group_ids: checked_security_groups(&r, input.security_group_ids)?,
        subnet_ids: checked_subnets(&r, input.subnet_ids)?,
        name: name.clone(),
        description,
        engine,
        major_engine_version: major,
        full_engine_version: full,
        node_engine_version: node_version,
        status: ServerlessStatus::Creating,
        create_time: now,
        limits,
        daily_snapshot_time: daily.unwrap_or_else(|| DEFAULT_DAILY_SNAPSHOT_TIME.to_string()),
        snapshot_retention_limit: retention.unwrap_or(0),
        user_group_id,
        kms_key_id: input.kms_key_id,
        endpoint: None,
        reader_endpoint: None,
        generation: 0,
    };
    attach_tags(&mut r, ResourceKind::ServerlessCache, &name, &tags);
    r.event(
        SourceType::ServerlessCache,
        &name,
        "Serverless cache created",
        now,
    );
    let out = render(ctx, &record);
    let sref = ServerlessRef::of(&r, &record);
    r.serverless.caches.insert(name, record);
    drop(r);
    svc.spawn_serverless(sref, Work::Create { seed });
    Ok(CreateServerlessCacheOutput {
        serverless_cache: Some(out),
    })
}

/// DescribeServerlessCaches: one cache by name, or all in name order, paginated.
pub fn describe_serverless_caches(
    svc: &Service,
    ctx: &RequestContext,
    input: DescribeServerlessCachesInput,
) -> Result<DescribeServerlessCachesOutput, ApiError> {
    let max = results_size(input.max_results, 100)?;
    let region = svc.region(ctx);
    let r = lock(&region);
    let caches: Vec<ServerlessCache> = match &input.serverless_cache_name {
        Some(raw) => {
            let name = raw.trim().to_ascii_lowercase();
            let c = r
                .serverless
                .caches
                .get(&name)
                .ok_or_else(|| not_found(&name))?;
            vec![render(ctx, c)]
        }
        None => r
            .serverless
            .caches
            .values()
            .map(|c| render(ctx, c))
            .collect(),
    };
    drop(r);
    let page = page(caches, input.next_token.as_deref(), max)?;
    Ok(DescribeServerlessCachesOutput {
        serverless_caches: Some(page.items),
        next_token: page.marker,
    })
}

/// ModifyServerlessCache: description, limits, snapshot settings, security groups, user
/// group, engine (Redis OSS → Valkey) and major version upgrades. `modifying` until applied.
pub fn modify_serverless_cache(
    svc: &Service,
    ctx: &RequestContext,
    input: ModifyServerlessCacheInput,
) -> Result<ModifyServerlessCacheOutput, ApiError> {
    let name = input.serverless_cache_name.trim().to_ascii_lowercase();
    if input.remove_user_group == Some(true) && input.user_group_id.is_some() {
        return Err(combination(
            "UserGroupId and RemoveUserGroup cannot both be specified.",
        ));
    }
    let now = svc.inner.store.now();
    let region = svc.region(ctx);
    let mut r = lock(&region);
    let current = r
        .serverless
        .caches
        .get(&name)
        .ok_or_else(|| not_found(&name))?;
    if current.status != ServerlessStatus::Available {
        return Err(not_available(&name, current.status));
    }
    let mut c = current.clone();
    let restart = apply_engine_change(&mut c, &input)?;
    if let Some(d) = input.description {
        if d.len() > MAX_DESCRIPTION {
            return Err(invalid(format!(
                "Description must be at most {MAX_DESCRIPTION} characters."
            )));
        }
        c.description = d;
    }
    if input.cache_usage_limits.is_some() {
        c.limits = limits_from_request(input.cache_usage_limits)?;
    }
    apply_snapshot_settings(
        &mut c,
        input.daily_snapshot_time,
        input.snapshot_retention_limit,
    )?;
    if input.security_group_ids.is_some() {
        c.security_group_ids = checked_security_groups(&r, input.security_group_ids)?;
    }
    if let Some(g) = &input.user_group_id {
        c.user_group_id = Some(checked_user_group(&r, &c.engine, g)?);
    }
    if input.remove_user_group == Some(true) {
        c.user_group_id = None;
    }
    c.status = ServerlessStatus::Modifying;
    c.generation += 1;
    r.event(
        SourceType::ServerlessCache,
        &name,
        "Serverless cache modified",
        now,
    );
    let out = render(ctx, &c);
    let sref = ServerlessRef::of(&r, &c);
    r.serverless.caches.insert(name, c);
    drop(r);
    svc.spawn_serverless(sref, Work::Modify { restart });
    Ok(ModifyServerlessCacheOutput {
        serverless_cache: Some(out),
    })
}

/// `Engine` / `MajorEngineVersion` of ModifyServerlessCache: upgrades only (Redis OSS →
/// Valkey, a newer major). Answers whether the node must restart on the new engine.
fn apply_engine_change(
    c: &mut ServerlessCacheRecord,
    input: &ModifyServerlessCacheInput,
) -> Result<bool, ApiError> {
    let engine = input
        .engine
        .as_deref()
        .map(checked_engine)
        .transpose()?
        .unwrap_or_else(|| c.engine.clone());
    if engine != c.engine && !(c.engine == "redis" && engine == "valkey") {
        return Err(combination(format!(
            "A {} serverless cache cannot be changed to engine {engine}.",
            c.engine
        )));
    }
    let requested = input.major_engine_version.as_deref();
    if engine == c.engine && requested.is_none_or(|m| m.trim() == c.major_engine_version) {
        return Ok(false);
    }
    let (major, full, node) = resolve_version(&engine, requested.or(Some(&c.major_engine_version)))
        .or_else(|_| resolve_version(&engine, requested))?;
    if engine == c.engine && compare_versions(&major, &c.major_engine_version).is_lt() {
        return Err(combination(format!(
            "Cannot downgrade serverless cache {} from {} to {major}.",
            c.name, c.major_engine_version
        )));
    }
    c.engine = engine;
    c.major_engine_version = major;
    c.full_engine_version = full;
    c.node_engine_version = node;
    Ok(true)
}

/// `DailySnapshotTime` and `SnapshotRetentionLimit` of ModifyServerlessCache.
fn apply_snapshot_settings(
    c: &mut ServerlessCacheRecord,
    daily: Option<String>,
    retention: Option<i32>,
) -> Result<(), ApiError> {
    if c.engine == "memcached" && (daily.is_some() || retention.is_some_and(|r| r > 0)) {
        return Err(combination(
            "Snapshots are not supported for memcached serverless caches.",
        ));
    }
    if let Some(d) = daily {
        c.daily_snapshot_time = checked_daily_time(&d)?;
    }
    if let Some(n) = retention {
        c.snapshot_retention_limit = checked_retention(n)?;
    }
    Ok(())
}

/// DeleteServerlessCache: `deleting` (after an optional final snapshot) until the node stops.
pub fn delete_serverless_cache(
    svc: &Service,
    ctx: &RequestContext,
    input: DeleteServerlessCacheInput,
) -> Result<DeleteServerlessCacheOutput, ApiError> {
    let name = input.serverless_cache_name.trim().to_ascii_lowercase();
    let now = svc.inner.store.now();
    let region = svc.region(ctx);
    let mut r = lock(&region);
    let c = r
        .serverless
        .caches
        .get(&name)
        .ok_or_else(|| not_found(&name))?;
    if !matches!(
        c.status,
        ServerlessStatus::Available | ServerlessStatus::CreateFailed
    ) {
        return Err(not_available(&name, c.status));
    }
    let engine = c.engine.clone();
    let final_snapshot = match input.final_snapshot_name.as_deref() {
        Some(raw) => {
            let snap = super::serverless_snapshots::checked_snapshot_name(raw)?;
            super::serverless_snapshots::check_new_snapshot(&r, &engine, &snap)?;
            Some(snap)
        }
        None => None,
    };
    let Some(c) = r.serverless.caches.get_mut(&name) else {
        return Err(not_found(&name));
    };
    c.status = ServerlessStatus::Deleting;
    c.generation += 1;
    let c = c.clone();
    let out = render(ctx, &c);
    let sref = ServerlessRef::of(&r, &c);
    r.event(
        SourceType::ServerlessCache,
        &name,
        "Serverless cache deleted",
        now,
    );
    drop(r);
    svc.spawn_serverless(sref, Work::Delete { final_snapshot });
    Ok(DeleteServerlessCacheOutput {
        serverless_cache: Some(out),
    })
}
