//! Automatic snapshots: a cluster or replication group with `SnapshotRetentionLimit > 0` gets
//! one `automated` snapshot a day, taken once its `SnapshotWindow` has begun, named as AWS
//! names them (`automatic.<id>-YYYY-MM-DD-HH-MM`), and kept for the retention limit in days.
//! Automated snapshots of a source that no longer exists go with it, as on AWS.
//!
//! Place in the flow: `server` starts [`Service::spawn_snapshot_scheduler`]; each pass
//! ([`Service::run_snapshot_schedule`]) reads the regions under short locks, then takes the
//! due snapshots through the same plan → apply → spawn path as CreateSnapshot.

use std::time::Duration;

use time::{OffsetDateTime, Time};

use crate::state::{ClusterStatus, GroupStatus, Region, ResourceKind, SnapshotStatus, lock};

use super::Service;
use super::snapshots::{Source, insert, plan, unpersist};

/// A source with automatic snapshots: its retention (days) and today's window start.
struct Schedule {
    source: Source,
    id: String,
    retention: i64,
    window_start: Option<Time>,
    available: bool,
    created: OffsetDateTime,
}

/// The start of a `hh:mm-hh:mm` window.
fn window_start(window: &str) -> Option<Time> {
    let (start, _) = window.split_once('-')?;
    let (h, m) = start.split_once(':')?;
    Time::from_hms(h.parse().ok()?, m.parse().ok()?, 0).ok()
}

/// Every cluster (outside groups) and group of a region with a retention limit above zero.
fn schedules(r: &Region) -> Vec<Schedule> {
    let clusters = r
        .clusters
        .values()
        .filter(|c| c.replication_group_id.is_none() && c.engine != "memcached")
        .filter_map(|c| {
            let retention = c.snapshot_retention_limit.filter(|l| *l > 0)?;
            Some(Schedule {
                source: Source::Cluster(c.id.clone()),
                id: c.id.clone(),
                retention: i64::from(retention),
                window_start: c.snapshot_window.as_deref().and_then(window_start),
                available: c.status == ClusterStatus::Available,
                created: c.create_time,
            })
        });
    let groups = r
        .replication_groups
        .values()
        .filter(|g| g.snapshot_retention_limit > 0)
        .map(|g| Schedule {
            source: Source::Group(g.id.clone()),
            id: g.id.clone(),
            retention: i64::from(g.snapshot_retention_limit),
            window_start: window_start(&g.snapshot_window),
            available: g.status == GroupStatus::Available,
            created: g.create_time,
        });
    clusters.chain(groups).collect()
}

/// Removes the automated snapshots past their retention, or whose source is gone or no longer
/// keeps any; answers their names (their files go too).
fn prune(r: &mut Region, kept: &[Schedule], now: OffsetDateTime) -> Vec<String> {
    let expired: Vec<String> = r
        .snapshots
        .values()
        .filter(|s| s.source == "automated" && s.status != SnapshotStatus::Creating)
        .filter(|s| {
            let id = s
                .replication_group_id
                .as_ref()
                .or(s.cache_cluster_id.as_ref());
            let schedule = kept.iter().find(|k| Some(&k.id) == id);
            let taken = s.nodes.first().map(|n| n.snapshot_create_time);
            match (schedule, taken) {
                (Some(k), Some(t)) => now - t > time::Duration::days(k.retention),
                _ => true,
            }
        })
        .map(|s| s.name.clone())
        .collect();
    for name in &expired {
        r.snapshots.remove(name);
        r.tags.remove(&(ResourceKind::Snapshot, name.clone()));
    }
    expired
}

impl Service {
    /// One pass of the scheduler over every region: prunes, then takes the snapshots due
    /// (serverless caches' too).
    pub fn run_snapshot_schedule(&self) {
        let now = self.inner.store.now();
        for region in self.inner.store.regions() {
            let mut r = lock(&region);
            let all = schedules(&r);
            let place = (r.account.clone(), r.region.clone());
            for name in prune(&mut r, &all, now) {
                unpersist(self, &place, &name);
            }
            for s in all.iter().filter(|s| s.available) {
                let Some(start) = s.window_start else {
                    continue;
                };
                let today = now.replace_time(start);
                // Due once today's window has begun, for sources that existed before it.
                let due_at = if now >= today && s.created < today {
                    today
                } else {
                    continue;
                };
                let stamp = format!(
                    "{:04}-{:02}-{:02}-{:02}-{:02}",
                    due_at.year(),
                    u8::from(due_at.month()),
                    due_at.day(),
                    due_at.hour(),
                    due_at.minute()
                );
                let name = format!("automatic.{}-{stamp}", s.id);
                if r.snapshots.contains_key(&name) {
                    continue;
                }
                let Ok(planned) = plan(&r, &s.source, &name, "automated", now) else {
                    continue;
                };
                let begun = match &s.source {
                    Source::Cluster(id) => r
                        .cluster_mut(id)
                        .and_then(|c| c.begin(ClusterStatus::Snapshotting)),
                    Source::Group(id) => r
                        .group_mut(id)
                        .and_then(|g| g.begin(GroupStatus::Snapshotting, None)),
                };
                if begun.is_err() {
                    continue;
                }
                insert(&mut r, &planned.record, &[]);
                self.spawn_snapshot(place.clone(), planned, None, Some(s.source.clone()));
            }
        }
        self.run_serverless_snapshot_schedule();
    }

    /// Runs [`Service::run_snapshot_schedule`] every `period` for the life of the process.
    pub fn spawn_snapshot_scheduler(&self, period: Duration) {
        let svc = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(period);
            loop {
                ticks.tick().await;
                svc.run_snapshot_schedule();
            }
        });
    }
}
