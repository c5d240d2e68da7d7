//! DescribeServiceUpdates, DescribeUpdateActions, BatchApplyUpdateAction and
//! BatchStopUpdateAction over a small built-in catalogue of service updates.
//!
//! Place in the flow: the catalogue ([`CATALOGUE`]) is static; every replication group
//! (Redis OSS / Valkey) and every standalone cluster whose engine and version an update
//! covers has one update action for it, `not-applied` until a Batch call changes it. What a
//! caller asked is stored in `Region::update_actions` and read back against the clock, so an
//! applied action reads `in-progress` and then `complete` once `Config.create_delay` (at
//! least one second) has passed and its nodes are restarted (`service_update_run`: every
//! node in place, one at a time, replicas before primaries), and a stopped one `stopping`
//! then `stopped` (the restarts end after the node in hand).

use time::OffsetDateTime;
use time::macros::datetime;

use crate::control::api::*;
use crate::control::context::RequestContext;
use crate::control::error::ApiError;
use crate::state::{Region, UpdateActionPhase, UpdateActionRecord, lock};

use super::Service;
use super::common::*;
use super::service_update_run::ActionRef;

/// One entry of the built-in catalogue.
pub struct CatalogueEntry {
    /// `ServiceUpdateName`.
    pub name: &'static str,
    /// Engine the update is for.
    pub engine: &'static str,
    /// Version prefix of the clusters it covers (`""`: every version of the engine).
    pub version_prefix: &'static str,
    /// `EngineVersion` as reported.
    pub engine_version: &'static str,
    /// `security-update` or `engine-update`.
    pub kind: &'static str,
    /// `critical`, `important`, `medium` or `low`.
    pub severity: &'static str,
    /// `available`, `cancelled` or `expired`.
    pub status: &'static str,
    /// Release date.
    pub released: OffsetDateTime,
    /// Recommended apply-by date.
    pub apply_by: OffsetDateTime,
    /// End date (cancelled or expired updates).
    pub ended: Option<OffsetDateTime>,
    /// Description.
    pub description: &'static str,
    /// `EstimatedUpdateTime`.
    pub estimate: &'static str,
    /// `AutoUpdateAfterRecommendedApplyByDate`.
    pub auto_update: bool,
}

/// The service updates this emulator offers, oldest first.
pub const CATALOGUE: &[CatalogueEntry] = &[
    CatalogueEntry {
        name: "elasticache-20230404-001",
        engine: "redis",
        version_prefix: "6.",
        engine_version: "6.x",
        kind: "engine-update",
        severity: "low",
        status: "expired",
        released: datetime!(2023-04-04 17:00 UTC),
        apply_by: datetime!(2023-06-03 17:00 UTC),
        ended: Some(datetime!(2024-04-04 17:00 UTC)),
        description: "Redis OSS 6.x engine update: replication stability fixes",
        estimate: "5 - 10 minutes per node",
        auto_update: false,
    },
    CatalogueEntry {
        name: "elasticache-20240920-003",
        engine: "memcached",
        version_prefix: "1.6",
        engine_version: "1.6.x",
        kind: "engine-update",
        severity: "medium",
        status: "cancelled",
        released: datetime!(2024-09-20 17:00 UTC),
        apply_by: datetime!(2024-11-19 17:00 UTC),
        ended: Some(datetime!(2024-10-01 17:00 UTC)),
        description: "Memcached 1.6.x engine update (superseded)",
        estimate: "5 - 10 minutes per node",
        auto_update: false,
    },
    CatalogueEntry {
        name: "elasticache-20250318-001",
        engine: "redis",
        version_prefix: "",
        engine_version: "4.0.10 and later",
        kind: "security-update",
        severity: "important",
        status: "available",
        released: datetime!(2025-03-18 17:00 UTC),
        apply_by: datetime!(2025-04-17 17:00 UTC),
        ended: None,
        description: "Security update for Redis OSS: patched engine and operating system packages",
        estimate: "10 - 20 minutes per node",
        auto_update: true,
    },
    CatalogueEntry {
        name: "elasticache-20250605-001",
        engine: "memcached",
        version_prefix: "",
        engine_version: "1.4.5 and later",
        kind: "security-update",
        severity: "low",
        status: "available",
        released: datetime!(2025-06-05 17:00 UTC),
        apply_by: datetime!(2025-08-04 17:00 UTC),
        ended: None,
        description: "Security update for Memcached: operating system packages",
        estimate: "5 - 10 minutes per node",
        auto_update: true,
    },
    CatalogueEntry {
        name: "elasticache-20250812-002",
        engine: "redis",
        version_prefix: "7.",
        engine_version: "7.x",
        kind: "engine-update",
        severity: "medium",
        status: "available",
        released: datetime!(2025-08-12 17:00 UTC),
        apply_by: datetime!(2025-10-11 17:00 UTC),
        ended: None,
        description: "Redis OSS 7.x engine update: memory efficiency and stability fixes",
        estimate: "10 - 20 minutes per node",
        auto_update: false,
    },
    CatalogueEntry {
        name: "elasticache-20251015-001",
        engine: "valkey",
        version_prefix: "",
        engine_version: "7.2 and later",
        kind: "security-update",
        severity: "critical",
        status: "available",
        released: datetime!(2025-10-15 17:00 UTC),
        apply_by: datetime!(2025-10-29 17:00 UTC),
        ended: None,
        description: "Security update for Valkey: fix for a crafted Lua script vulnerability",
        estimate: "10 - 20 minutes per node",
        auto_update: true,
    },
];

/// The catalogue entry named `name`.
fn entry(name: &str) -> Option<&'static CatalogueEntry> {
    CATALOGUE.iter().find(|e| e.name == name)
}

fn ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

fn from_ms(ms: i64) -> Timestamp {
    Timestamp(
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH),
    )
}

/// The nodes of one shard (`None` for a standalone cluster): (cluster id, node id) pairs.
type ShardNodes = (Option<String>, Vec<(String, String)>);

/// What an update action is about: a replication group or a standalone cluster.
#[derive(Clone, Debug)]
struct Target {
    group: Option<String>,
    cluster: Option<String>,
    engine: String,
    version: String,
    /// Per shard (group) or `None` (cluster): (shard id, [(cluster id, node id)]).
    nodes: Vec<ShardNodes>,
}

impl Target {
    fn id(&self) -> &str {
        self.group
            .as_deref()
            .or(self.cluster.as_deref())
            .unwrap_or("")
    }

    fn covered_by(&self, e: &CatalogueEntry) -> bool {
        e.engine == self.engine && self.version.starts_with(e.version_prefix)
    }
}

/// Every group and standalone cluster of the region, groups first, in creation order.
fn targets(r: &Region) -> Vec<Target> {
    let mut out: Vec<Target> = r
        .groups_in_order()
        .map(|g| Target {
            group: Some(g.id.clone()),
            cluster: None,
            engine: g.engine.clone(),
            version: g.engine_version.clone(),
            nodes: g
                .node_groups
                .iter()
                .map(|ng| {
                    let members = ng
                        .members
                        .iter()
                        .map(|m| (m.clone(), "0001".to_string()))
                        .collect();
                    (Some(ng.id.clone()), members)
                })
                .collect(),
        })
        .collect();
    out.extend(
        r.clusters_in_order()
            .filter(|c| c.replication_group_id.is_none())
            .map(|c| Target {
                group: None,
                cluster: Some(c.id.clone()),
                engine: c.engine.clone(),
                version: c.engine_version.clone(),
                nodes: vec![(
                    None,
                    c.nodes
                        .iter()
                        .map(|n| (c.id.clone(), n.id.clone()))
                        .collect(),
                )],
            }),
    );
    out
}

/// DescribeServiceUpdates: the catalogue filtered by name and status.
pub fn describe_service_updates(
    _svc: &Service,
    _ctx: &RequestContext,
    input: DescribeServiceUpdatesInput,
) -> Result<DescribeServiceUpdatesOutput, ApiError> {
    let max = page_size(input.max_records)?;
    let statuses = check_update_statuses(input.service_update_status.as_deref())?;
    let items: Vec<ServiceUpdate> = CATALOGUE
        .iter()
        .rev()
        .filter(|e| {
            input
                .service_update_name
                .as_deref()
                .is_none_or(|n| n == e.name)
        })
        .filter(|e| statuses.is_empty() || statuses.iter().any(|s| s == e.status))
        .map(render_update)
        .collect();
    let page = page(items, input.marker.as_deref(), max)?;
    Ok(DescribeServiceUpdatesOutput {
        service_updates: Some(page.items),
        marker: page.marker,
    })
}

/// `ServiceUpdateStatus` filter values: at most 3 of `available`, `cancelled`, `expired`.
fn check_update_statuses(values: Option<&[String]>) -> Result<Vec<String>, ApiError> {
    let values = values.unwrap_or_default();
    if values.len() > 3 {
        return Err(invalid(
            "ServiceUpdateStatus accepts at most 3 values: available, cancelled, expired.",
        ));
    }
    for v in values {
        if !matches!(v.as_str(), "available" | "cancelled" | "expired") {
            return Err(invalid(format!(
                "Invalid value for ServiceUpdateStatus: {v}. Valid values are available, cancelled, expired."
            )));
        }
    }
    Ok(values.to_vec())
}

fn render_update(e: &CatalogueEntry) -> ServiceUpdate {
    ServiceUpdate {
        auto_update_after_recommended_apply_by_date: Some(e.auto_update),
        engine: Some(e.engine.to_string()),
        engine_version: Some(e.engine_version.to_string()),
        estimated_update_time: Some(e.estimate.to_string()),
        service_update_description: Some(e.description.to_string()),
        service_update_end_date: e.ended.map(Timestamp),
        service_update_name: Some(e.name.to_string()),
        service_update_recommended_apply_by_date: Some(Timestamp(e.apply_by)),
        service_update_release_date: Some(Timestamp(e.released)),
        service_update_severity: Some(e.severity.to_string()),
        service_update_status: Some(e.status.to_string()),
        service_update_type: Some(e.kind.to_string()),
    }
}

const ACTION_STATUSES: &[&str] = &[
    "not-applied",
    "waiting-to-start",
    "in-progress",
    "stopping",
    "stopped",
    "complete",
    "scheduling",
    "scheduled",
    "not-applicable",
];

/// The filters of DescribeUpdateActions, checked.
struct ActionFilter {
    name: Option<String>,
    groups: Option<Vec<String>>,
    clusters: Option<Vec<String>>,
    engine: Option<String>,
    update_statuses: Vec<String>,
    action_statuses: Vec<String>,
    range: (Option<OffsetDateTime>, Option<OffsetDateTime>),
    node_level: bool,
}

impl ActionFilter {
    fn of(input: &DescribeUpdateActionsInput) -> Result<ActionFilter, ApiError> {
        if input.replication_group_ids.is_some() && input.cache_cluster_ids.is_some() {
            return Err(combination(
                "Only one of ReplicationGroupIds or CacheClusterIds can be specified.",
            ));
        }
        let action_statuses = input.update_action_status.clone().unwrap_or_default();
        if let Some(bad) = action_statuses
            .iter()
            .find(|s| !ACTION_STATUSES.contains(&s.as_str()))
        {
            return Err(invalid(format!(
                "Invalid value for UpdateActionStatus: {bad}."
            )));
        }
        let engine = input.engine.as_deref().map(str::to_ascii_lowercase);
        if let Some(e) = engine.as_deref()
            && !matches!(e, "redis" | "valkey" | "memcached")
        {
            return Err(invalid(format!("Invalid value for Engine: {e}.")));
        }
        let lower = |v: &Option<Vec<String>>| {
            v.as_ref()
                .map(|ids| ids.iter().map(|i| i.trim().to_ascii_lowercase()).collect())
        };
        let range = input.service_update_time_range.as_ref();
        Ok(ActionFilter {
            name: input.service_update_name.clone(),
            groups: lower(&input.replication_group_ids),
            clusters: lower(&input.cache_cluster_ids),
            engine,
            update_statuses: check_update_statuses(input.service_update_status.as_deref())?,
            action_statuses,
            range: (
                range.and_then(|t| t.start_time).map(|t| t.0),
                range.and_then(|t| t.end_time).map(|t| t.0),
            ),
            node_level: input.show_node_level_update_status.unwrap_or(false),
        })
    }

    fn keeps_update(&self, e: &CatalogueEntry) -> bool {
        self.name.as_deref().is_none_or(|n| n == e.name)
            && (self.update_statuses.is_empty()
                || self.update_statuses.iter().any(|s| s == e.status))
            && self.range.0.is_none_or(|s| e.released >= s)
            && self.range.1.is_none_or(|t| e.released <= t)
    }

    fn keeps_target(&self, t: &Target) -> bool {
        let in_list = |list: &Option<Vec<String>>, id: &Option<String>| match list {
            None => true,
            Some(ids) => id.as_ref().is_some_and(|i| ids.contains(i)),
        };
        in_list(&self.groups, &t.group)
            && in_list(&self.clusters, &t.cluster)
            && self.engine.as_deref().is_none_or(|e| e == t.engine)
    }
}

/// The stored state of one action and the status it reads at `now_ms`.
fn action_status<'a>(
    r: &'a Region,
    e: &CatalogueEntry,
    t: &Target,
    now_ms: i64,
) -> (Option<&'a UpdateActionRecord>, &'static str) {
    let rec = r
        .update_actions
        .get(&(e.name.to_string(), t.id().to_string()));
    let status = rec.map_or("not-applied", |a| a.status(now_ms));
    (rec, status)
}

/// When node `key` (`cluster id/node id`) began and finished its restart, as far as it got;
/// a node of a complete action that has no times of its own (an action completed before
/// they were kept) reads the action's.
fn node_dates(
    rec: Option<&UpdateActionRecord>,
    key: &str,
    node_status: &str,
) -> (Option<i64>, Option<i64>) {
    let Some(a) = rec else {
        return (None, None);
    };
    if let Some(&(start, end)) = a.node_times.get(key) {
        return (Some(start), Some(end));
    }
    match &a.current {
        Some((c, start)) if c == key => (Some(*start), None),
        _ if node_status == "complete" => (Some(a.started_ms), Some(a.until_ms)),
        _ => (None, None),
    }
}

/// Renders one update action; node-level statuses when asked.
fn render_action(
    r: &Region,
    e: &CatalogueEntry,
    t: &Target,
    now_ms: i64,
    node_level: bool,
) -> UpdateAction {
    let (rec, status) = action_status(r, e, t, now_ms);
    let total: usize = t.nodes.iter().map(|(_, n)| n.len()).sum();
    // Each node's own status and dates (see `UpdateActionRecord::node_status`).
    let node_status = |cluster: &str, node: &str| {
        rec.map_or("not-applied", |a| {
            a.node_status(&format!("{cluster}/{node}"), status)
        })
    };
    let done = t
        .nodes
        .iter()
        .flat_map(|(_, n)| n)
        .filter(|(c, n)| node_status(c, n) == "complete")
        .count();
    let sla = match (status, rec) {
        ("complete", Some(a)) if a.until_ms <= ms(e.apply_by) => "yes",
        ("complete", _) => "no",
        _ if now_ms > ms(e.apply_by) => "no",
        _ => "n/a",
    };
    let node = |cluster: Option<String>, owner: &str, node: String| {
        let node_status = node_status(owner, &node);
        let (start, end) = node_dates(rec, &format!("{owner}/{node}"), node_status);
        NodeGroupMemberUpdateStatus {
            cache_cluster_id: cluster,
            node_deletion_date: None,
            node_update_end_date: end.map(from_ms),
            node_update_initiated_by: rec.map(|_| "customer".to_string()),
            node_update_initiated_date: rec.map(|a| from_ms(a.started_ms)),
            node_update_start_date: start.map(from_ms),
            node_update_status: Some(node_status.to_string()),
            node_update_status_modified_date: rec
                .map(|a| from_ms(end.or(start).unwrap_or(a.since_ms).max(a.since_ms))),
            cache_node_id: Some(node),
        }
    };
    let (groups, cache_nodes) = if !node_level {
        (None, None)
    } else if t.group.is_some() {
        let shards = t
            .nodes
            .iter()
            .map(|(shard, members)| NodeGroupUpdateStatus {
                node_group_id: shard.clone(),
                node_group_member_update_status: Some(
                    members
                        .iter()
                        .map(|(c, n)| node(Some(c.clone()), c, n.clone()))
                        .collect(),
                ),
            });
        (Some(shards.collect()), None)
    } else {
        let nodes = t.nodes.iter().flat_map(|(_, n)| n).map(|(c, n)| {
            let m = node(None, c, n.clone());
            CacheNodeUpdateStatus {
                cache_node_id: m.cache_node_id,
                node_deletion_date: None,
                node_update_end_date: m.node_update_end_date,
                node_update_initiated_by: m.node_update_initiated_by,
                node_update_initiated_date: m.node_update_initiated_date,
                node_update_start_date: m.node_update_start_date,
                node_update_status: m.node_update_status,
                node_update_status_modified_date: m.node_update_status_modified_date,
            }
        });
        (None, Some(nodes.collect()))
    };
    UpdateAction {
        cache_cluster_id: t.cluster.clone(),
        cache_node_update_status: cache_nodes,
        engine: Some(t.engine.clone()),
        estimated_update_time: Some(e.estimate.to_string()),
        node_group_update_status: groups,
        nodes_updated: Some(format!("{done}/{total}")),
        replication_group_id: t.group.clone(),
        service_update_name: Some(e.name.to_string()),
        service_update_recommended_apply_by_date: Some(Timestamp(e.apply_by)),
        service_update_release_date: Some(Timestamp(e.released)),
        service_update_severity: Some(e.severity.to_string()),
        service_update_status: Some(e.status.to_string()),
        service_update_type: Some(e.kind.to_string()),
        sla_met: Some(sla.to_string()),
        update_action_available_date: Some(Timestamp(e.released)),
        update_action_status: Some(status.to_string()),
        update_action_status_modified_date: Some(
            rec.map_or(Timestamp(e.released), |a| from_ms(a.since_ms)),
        ),
    }
}

/// DescribeUpdateActions: one action per (covering update, group or standalone cluster),
/// newest update first, filtered and paginated.
pub fn describe_update_actions(
    svc: &Service,
    ctx: &RequestContext,
    input: DescribeUpdateActionsInput,
) -> Result<DescribeUpdateActionsOutput, ApiError> {
    let max = page_size(input.max_records)?;
    let filter = ActionFilter::of(&input)?;
    let now_ms = ms(svc.inner.store.clock().now());
    let region = svc.region(ctx);
    let r = lock(&region);
    let targets: Vec<Target> = targets(&r)
        .into_iter()
        .filter(|t| filter.keeps_target(t))
        .collect();
    let mut items = Vec::new();
    for e in CATALOGUE.iter().rev().filter(|e| filter.keeps_update(e)) {
        for t in targets.iter().filter(|t| t.covered_by(e)) {
            let (_, status) = action_status(&r, e, t, now_ms);
            if filter.action_statuses.is_empty()
                || filter.action_statuses.iter().any(|s| s == status)
            {
                items.push(render_action(&r, e, t, now_ms, filter.node_level));
            }
        }
    }
    drop(r);
    let page = page(items, input.marker.as_deref(), max)?;
    Ok(DescribeUpdateActionsOutput {
        update_actions: Some(page.items),
        marker: page.marker,
    })
}

/// Which Batch operation runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Batch {
    Apply,
    Stop,
}

/// The ids of a Batch request, checked: at least one, at most 20 per list, lower-cased.
fn batch_ids(
    groups: Option<Vec<String>>,
    clusters: Option<Vec<String>>,
) -> Result<Vec<(bool, String)>, ApiError> {
    let groups = groups.unwrap_or_default();
    let clusters = clusters.unwrap_or_default();
    if groups.is_empty() && clusters.is_empty() {
        return Err(ApiError::missing_parameter(
            "At least one of ReplicationGroupIds or CacheClusterIds must be provided.",
        ));
    }
    if groups.len() > 20 || clusters.len() > 20 {
        return Err(invalid(
            "At most 20 ReplicationGroupIds and 20 CacheClusterIds can be given per request.",
        ));
    }
    let norm = |id: String| id.trim().to_ascii_lowercase();
    let mut out: Vec<(bool, String)> = groups.into_iter().map(|g| (true, norm(g))).collect();
    out.extend(clusters.into_iter().map(|c| (false, norm(c))));
    Ok(out)
}

/// One unprocessed entry.
fn unprocessed(
    name: &str,
    is_group: bool,
    id: &str,
    kind: &str,
    msg: String,
) -> UnprocessedUpdateAction {
    UnprocessedUpdateAction {
        cache_cluster_id: (!is_group).then(|| id.to_string()),
        error_message: Some(msg),
        error_type: Some(kind.to_string()),
        replication_group_id: is_group.then(|| id.to_string()),
        service_update_name: Some(name.to_string()),
    }
}

/// The target `id` names, or the reason it cannot take the update.
fn find_target(
    r: &Region,
    e: &CatalogueEntry,
    is_group: bool,
    id: &str,
) -> Result<Target, (&'static str, String)> {
    let all = targets(r);
    let found = all.into_iter().find(|t| {
        if is_group {
            t.group.as_deref() == Some(id)
        } else {
            t.cluster.as_deref() == Some(id)
        }
    });
    let Some(t) = found else {
        if is_group {
            return Err((
                "ReplicationGroupNotFoundFault",
                format!("Replication group {id} not found."),
            ));
        }
        return Err(
            match r
                .clusters
                .get(id)
                .and_then(|c| c.replication_group_id.clone())
            {
                Some(g) => (
                    "InvalidParameterValue",
                    format!(
                        "Cache cluster {id} is a member of replication group {g}; apply the update to the replication group."
                    ),
                ),
                None => (
                    "CacheClusterNotFoundFault",
                    format!("Cache cluster {id} not found."),
                ),
            },
        );
    };
    if !t.covered_by(e) {
        return Err((
            "InvalidParameterValue",
            format!("The service update {} is not applicable to {id}.", e.name),
        ));
    }
    Ok(t)
}

/// Applies or stops one action; the processed status, or the reason it was not processed.
fn batch_one(
    r: &mut Region,
    e: &CatalogueEntry,
    t: &Target,
    op: Batch,
    now_ms: i64,
    step_ms: i64,
) -> Result<&'static str, (&'static str, String)> {
    let key = (e.name.to_string(), t.id().to_string());
    let (_, status) = action_status(r, e, t, now_ms);
    let id = t.id();
    let refuse = |msg: String| Err(("InvalidParameterValue", msg));
    match (op, status) {
        (Batch::Apply, "complete") => {
            refuse(format!("The update action for {id} is already complete."))
        }
        (Batch::Apply, "in-progress") | (Batch::Stop, "stopping" | "stopped") => Ok(status),
        (Batch::Apply, "stopping") => refuse(format!(
            "The update action for {id} is stopping; apply it again once it is stopped."
        )),
        (Batch::Apply, _) => {
            // Nodes a stopped apply already restarted stay updated.
            let (nodes_done, node_times) = r
                .update_actions
                .get(&key)
                .map(|a| (a.nodes_done.clone(), a.node_times.clone()))
                .unwrap_or_default();
            r.update_actions.insert(
                key,
                UpdateActionRecord {
                    service_update: e.name.to_string(),
                    replication_group_id: t.group.clone(),
                    cache_cluster_id: t.cluster.clone(),
                    phase: UpdateActionPhase::Applying,
                    since_ms: now_ms,
                    until_ms: now_ms + step_ms,
                    started_ms: now_ms,
                    nodes_done,
                    running: true,
                    current: None,
                    node_times,
                },
            );
            Ok("in-progress")
        }
        (Batch::Stop, "in-progress") => {
            if let Some(a) = r.update_actions.get_mut(&key) {
                a.phase = UpdateActionPhase::Stopping;
                a.since_ms = now_ms;
                a.until_ms = now_ms + step_ms / 2;
            }
            Ok("stopping")
        }
        (Batch::Stop, "complete") => {
            refuse(format!("The update action for {id} is already complete."))
        }
        (Batch::Stop, _) => refuse(format!("The update action for {id} is not in progress.")),
    }
}

/// BatchApplyUpdateAction and BatchStopUpdateAction.
fn batch(
    svc: &Service,
    ctx: &RequestContext,
    op: Batch,
    name: &str,
    ids: Vec<(bool, String)>,
) -> Result<UpdateActionResultsMessage, ApiError> {
    let Some(e) = entry(name.trim()) else {
        return Err(ApiError::service_update_not_found(format!(
            "The service update {name} could not be found."
        )));
    };
    let now = svc.inner.store.clock().now();
    let now_ms = ms(now);
    let step_ms = (svc.inner.create_delay.as_millis() as i64).max(1000);
    let region = svc.region(ctx);
    let mut r = lock(&region);
    let mut done = Vec::new();
    let mut failed = Vec::new();
    let mut started = Vec::new();
    for (is_group, id) in ids {
        let outcome = if op == Batch::Apply && e.status != "available" {
            Err((
                "InvalidParameterValue",
                format!(
                    "The service update {} is {} and can no longer be applied.",
                    e.name, e.status
                ),
            ))
        } else {
            find_target(&r, e, is_group, &id)
                .and_then(|t| batch_one(&mut r, e, &t, op, now_ms, step_ms))
        };
        let began = outcome.is_ok()
            && op == Batch::Apply
            && r.update_actions
                .get(&(e.name.to_string(), id.clone()))
                .is_some_and(|a| a.running && a.since_ms == now_ms);
        if began {
            started.push(ActionRef {
                account: r.account.clone(),
                region: r.region.clone(),
                update: e.name.to_string(),
                target: id.clone(),
                is_group,
            });
        }
        match outcome {
            Ok(status) => done.push(ProcessedUpdateAction {
                cache_cluster_id: (!is_group).then(|| id.clone()),
                replication_group_id: is_group.then(|| id.clone()),
                service_update_name: Some(e.name.to_string()),
                update_action_status: Some(status.to_string()),
            }),
            Err((kind, msg)) => failed.push(unprocessed(e.name, is_group, &id, kind, msg)),
        }
    }
    drop(r);
    for action in started {
        svc.spawn_update_action(action);
    }
    Ok(UpdateActionResultsMessage {
        processed_update_actions: Some(done),
        unprocessed_update_actions: Some(failed),
    })
}

/// BatchApplyUpdateAction.
pub fn batch_apply_update_action(
    svc: &Service,
    ctx: &RequestContext,
    input: BatchApplyUpdateActionInput,
) -> Result<BatchApplyUpdateActionOutput, ApiError> {
    let ids = batch_ids(input.replication_group_ids, input.cache_cluster_ids)?;
    batch(svc, ctx, Batch::Apply, &input.service_update_name, ids)
}

/// BatchStopUpdateAction.
pub fn batch_stop_update_action(
    svc: &Service,
    ctx: &RequestContext,
    input: BatchStopUpdateActionInput,
) -> Result<BatchStopUpdateActionOutput, ApiError> {
    let ids = batch_ids(input.replication_group_ids, input.cache_cluster_ids)?;
    batch(svc, ctx, Batch::Stop, &input.service_update_name, ids)
}
