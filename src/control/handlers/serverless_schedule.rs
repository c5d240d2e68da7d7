//! Automatic snapshots of serverless caches: a Valkey/Redis OSS serverless cache with
//! `SnapshotRetentionLimit > 0` gets one `automated` snapshot a day once its
//! `DailySnapshotTime` has passed, named `automatic.<cache>-YYYY-MM-DD-HH-MM`, with an
//! `ExpiryTime` of the retention limit in days. Expired automated snapshots, and those of a
//! cache that is gone or keeps none any more, are removed.
//!
//! Place in the flow: the node snapshot scheduler's pass (`snapshot_schedule`) calls
//! [`Service::run_serverless_snapshot_schedule`]; a due snapshot is recorded `creating` under
//! the region lock and its image taken by the same task as CreateServerlessCacheSnapshot's.

use time::{OffsetDateTime, Time};

use crate::state::{Region, ResourceKind, ServerlessStatus, lock};

use super::Service;
use super::serverless_run::ServerlessRef;

/// The time of day a `HH:MM` string names.
fn daily_time(raw: &str) -> Option<Time> {
    let (h, m) = raw.split_once(':')?;
    Time::from_hms(h.parse().ok()?, m.parse().ok()?, 0).ok()
}

/// Removes automated snapshots past their expiry, or whose cache is gone or keeps none.
fn prune(r: &mut Region, now: OffsetDateTime) {
    let expired: Vec<String> = r
        .serverless
        .snapshots
        .values()
        .filter(|s| s.snapshot_type == "automated" && s.status == "available")
        .filter(|s| {
            let keeps = r
                .serverless
                .caches
                .get(&s.cache_name)
                .is_some_and(|c| c.snapshot_retention_limit > 0);
            !keeps || s.expiry_time.is_some_and(|t| t <= now)
        })
        .map(|s| s.name.clone())
        .collect();
    for name in expired {
        r.serverless.snapshots.remove(&name);
        r.tags
            .remove(&(ResourceKind::ServerlessCacheSnapshot, name.clone()));
    }
}

/// The caches whose snapshot of today is due and not yet taken: (cache, snapshot name, expiry).
fn due(r: &Region, now: OffsetDateTime) -> Vec<(ServerlessRef, String, OffsetDateTime)> {
    let mut out = Vec::new();
    for c in r.serverless.caches.values() {
        if c.snapshot_retention_limit <= 0
            || c.engine == "memcached"
            || c.status != ServerlessStatus::Available
        {
            continue;
        }
        let Some(at) = daily_time(&c.daily_snapshot_time) else {
            continue;
        };
        let today = now.replace_time(at);
        // Due once today's time has passed, for caches that existed before it.
        if now < today || c.create_time >= today {
            continue;
        }
        let name = format!(
            "automatic.{}-{:04}-{:02}-{:02}-{:02}-{:02}",
            c.name,
            today.year(),
            u8::from(today.month()),
            today.day(),
            today.hour(),
            today.minute()
        );
        if r.serverless.snapshots.contains_key(&name) {
            continue;
        }
        let expiry = today + time::Duration::days(i64::from(c.snapshot_retention_limit));
        out.push((ServerlessRef::of(r, c), name, expiry));
    }
    out
}

impl Service {
    /// One pass over every region: prunes, then takes the serverless snapshots due.
    pub fn run_serverless_snapshot_schedule(&self) {
        let now = self.inner.store.now();
        for region in self.inner.store.regions() {
            let work = {
                let mut r = lock(&region);
                prune(&mut r, now);
                let work = due(&r, now);
                for (sref, name, expiry) in &work {
                    super::serverless_snapshots::record_automated(&mut r, sref, name, now, *expiry);
                }
                work
            };
            for (sref, name, _) in work {
                self.spawn_serverless_capture(sref, name);
            }
        }
    }
}
