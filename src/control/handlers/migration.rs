//! StartMigration, TestMigration and CompleteMigration: online migration of a Redis server
//! outside the emulator into a replication group, as ElastiCache's online migration does it.
//!
//! Place in the flow: StartMigration checks the group (AWS's requirements), reads the
//! source's layout and pairs each shard primary with the source node owning the same slots
//! (`migration_shards`: one link for cluster mode disabled, one per shard for cluster mode
//! enabled; a source needing AUTH or of the other cluster mode is refused), marks the group
//! `migrating`, records a [`MigrationRecord`] and asks the supervisor to make each shard
//! primary replicate its source node over the network (`supervisor::migration`); the group's
//! replicas keep following their primaries, clients can read but not write. A task watches
//! the links: when a first synchronisation fails every attempt the migration ends by itself
//! (the group is `available` again, with an event), as on AWS. CompleteMigration stops the
//! links (refused while one is not in sync, unless `Force`) and makes the group writable.
//! TestMigration checks the source the same way and reports the outcome as an event.

use std::time::Duration;

use crate::control::api::*;
use crate::control::context::RequestContext;
use crate::control::error::ApiError;
use crate::state::{GroupStatus, MigrationLink, MigrationRecord, Region, SourceType, lock};
use crate::supervisor::MigrationLinkStatus;

use super::Service;
use super::common::*;
use super::migration_shards::{self, Target};
use super::replication_lifecycle::GroupRef;
use super::replication_render::render_group;

/// How often the watcher looks at the link.
const WATCH_EVERY: Duration = Duration::from_millis(100);

/// The single source endpoint of a request, checked.
fn source_of(list: &[CustomerNodeEndpoint]) -> Result<(String, u16), ApiError> {
    let [one] = list else {
        return Err(invalid(format!(
            "The CustomerNodeEndpointList must contain exactly one endpoint; {} given.",
            list.len()
        )));
    };
    let address = one.address.as_deref().map(str::trim).unwrap_or_default();
    if address.is_empty() {
        return Err(invalid(
            "The Address of the customer node endpoint must be provided.",
        ));
    }
    let port = one
        .port
        .and_then(|p| u16::try_from(p).ok())
        .filter(|&p| p > 0)
        .ok_or_else(|| {
            invalid("The Port of the customer node endpoint must be between 1 and 65535.")
        })?;
    Ok((address.to_string(), port))
}

/// Checks that group `id` can migrate from `source`: AWS's requirements (available, not under
/// migration, Redis OSS 5.0.6 or later or Valkey, no in-transit encryption) and ours (the
/// source is not one of the group's own nodes). Answers the group's shards, each with its
/// primary's node key and slots, for [`migration_shards::pair`].
fn plan(r: &Region, id: &str, source: &(String, u16)) -> Result<Target, ApiError> {
    let g = r.group(id)?;
    if r.migrations.contains_key(&g.id) {
        return Err(ApiError::replication_group_already_under_migration(
            format!("Replication group {} is already under migration.", g.id),
        ));
    }
    g.check(GroupStatus::Migrating)?;
    let state = |msg: String| Err(ApiError::invalid_replication_group_state(msg));
    if g.engine == "redis" && crate::catalog::compare_versions(&g.engine_version, "5.0.6").is_lt() {
        return state(format!(
            "Online migration requires Redis OSS 5.0.6 or later; replication group {} runs {}.",
            g.id, g.engine_version
        ));
    }
    if g.transit_encryption_enabled {
        return state(format!(
            "Online migration is not supported for replication group {}: in-transit encryption is enabled.",
            g.id
        ));
    }
    let own = g.member_ids().iter().any(|m| {
        r.clusters
            .get(m)
            .and_then(|c| c.nodes.first())
            .and_then(|n| n.endpoint.as_ref())
            .is_some_and(|e| {
                e.port == source.1 && (e.address == source.0 || e.ip.to_string() == source.0)
            })
    });
    if own {
        return Err(invalid(
            "The customer node endpoint must not be a node of the target replication group.",
        ));
    }
    let gref = GroupRef::of(r, g);
    Ok(Target {
        id: g.id.clone(),
        cluster: g.cluster_enabled,
        shards: g
            .node_groups
            .iter()
            .map(|ng| (gref.node_key(&ng.primary), ng.slots.clone()))
            .collect(),
    })
}

/// StartMigration: plans the target, reads the source's layout and pairs the shards
/// ([`migration_shards::pair`]), then marks the group `migrating` and starts one link per
/// shard primary.
pub async fn start_migration(
    svc: &Service,
    ctx: &RequestContext,
    input: StartMigrationInput,
) -> Result<StartMigrationOutput, ApiError> {
    let source = source_of(&input.customer_node_endpoint_list)?;
    let region = svc.region(ctx);
    let target = plan(&lock(&region), &input.replication_group_id, &source)?;
    let layout = svc.inner.supervisor.migration_source_layout(&source).await;
    let links = migration_shards::pair(&target, &source, layout)?;
    let now = svc.inner.store.now();
    let (out, gref) = {
        let mut r = lock(&region);
        // Checked again: the group may have changed while the source was read.
        let id = plan(&r, &input.replication_group_id, &source)?.id;
        let g = r.group_mut(&id)?;
        g.begin(GroupStatus::Migrating, None)?;
        let g = g.clone();
        let gref = GroupRef::of(&r, &g);
        let mut rest = links.clone();
        let first = rest.remove(0);
        r.migrations.insert(
            id.clone(),
            MigrationRecord {
                replication_group_id: id.clone(),
                source: first.source,
                primary_node: first.node,
                started: now.unix_timestamp(),
                more_links: rest,
            },
        );
        let pairs: Vec<String> = links
            .iter()
            .map(|l| {
                let member = member_of(&l.node);
                format!("primary {member} replicates {}:{}", l.source.0, l.source.1)
            })
            .collect();
        let message = format!("Migration started: {}", pairs.join(", "));
        r.event(SourceType::ReplicationGroup, &id, message, now);
        (render_group(ctx, &r, &g), gref)
    };
    for l in &links {
        if let Err(e) = svc
            .inner
            .supervisor
            .start_migration(&l.node, l.source.clone())
            .await
        {
            for started in &links {
                let _ = svc.inner.supervisor.stop_migration(&started.node).await;
            }
            svc.end_migration(&gref, Some(format!("Failed to start migration: {e}")));
            return Err(ApiError::invalid_replication_group_state(format!(
                "A primary of replication group {} cannot replicate: {e}",
                gref.id
            )));
        }
    }
    svc.spawn_migration_watch(gref, links);
    Ok(StartMigrationOutput {
        replication_group: Some(out),
    })
}

/// The member cluster of a node key (`account/region/cluster/0001`), for events.
fn member_of(key: &str) -> &str {
    key.rsplit('/').nth(1).unwrap_or(key)
}

/// TestMigration: checks the request as StartMigration does (the source's layout included),
/// then connects to the source; the outcome is an event of the group (AWS reports it the same
/// way).
pub async fn test_migration(
    svc: &Service,
    ctx: &RequestContext,
    input: TestMigrationInput,
) -> Result<TestMigrationOutput, ApiError> {
    let source = source_of(&input.customer_node_endpoint_list)?;
    let region = svc.region(ctx);
    let target = plan(&lock(&region), &input.replication_group_id, &source)?;
    let layout = svc.inner.supervisor.migration_source_layout(&source).await;
    let paired = migration_shards::pair(&target, &source, layout);
    let message = match paired {
        Err(e) => format!("Test migration failed: {}", e.message()),
        Ok(_) => match svc.inner.supervisor.probe_migration_source(&source).await {
            Ok(version) => format!(
                "Test migration succeeded: {}:{} is reachable and runs Redis {version}",
                source.0, source.1
            ),
            Err(e) => format!("Test migration failed: {e}"),
        },
    };
    let now = svc.inner.store.now();
    let mut r = lock(&region);
    r.event(SourceType::ReplicationGroup, &target.id, message, now);
    let g = r.group(&target.id)?.clone();
    Ok(TestMigrationOutput {
        replication_group: Some(render_group(ctx, &r, &g)),
    })
}

/// CompleteMigration: stops the link (refused while not in sync unless `Force`), the group
/// is `available` and writable again.
pub async fn complete_migration(
    svc: &Service,
    ctx: &RequestContext,
    input: CompleteMigrationInput,
) -> Result<CompleteMigrationOutput, ApiError> {
    let region = svc.region(ctx);
    let (id, links) = {
        let r = lock(&region);
        let g = r.group(&input.replication_group_id)?;
        let Some(m) = r.migrations.get(&g.id) else {
            return Err(ApiError::replication_group_not_under_migration(format!(
                "Replication group {} is not under migration.",
                g.id
            )));
        };
        (g.id.clone(), m.links())
    };
    if !input.force.unwrap_or(false) {
        for l in &links {
            let status = svc.inner.supervisor.migration_status(&l.node).await;
            if status.ok().flatten() != Some(MigrationLinkStatus::Up) {
                return Err(ApiError::invalid_replication_group_state(format!(
                    "Replication group {id} is not in sync with the migration source yet; retry later or use Force to stop the migration."
                )));
            }
        }
    }
    for l in &links {
        let _ = svc.inner.supervisor.stop_migration(&l.node).await;
    }
    let now = svc.inner.store.now();
    let mut r = lock(&region);
    if r.migrations.remove(&id).is_none() {
        return Err(ApiError::replication_group_not_under_migration(format!(
            "Replication group {id} is not under migration."
        )));
    }
    let g = r.group_mut(&id)?;
    g.complete(GroupStatus::Available);
    let g = g.clone();
    r.event(
        SourceType::ReplicationGroup,
        &id,
        "Migration completed",
        now,
    );
    Ok(CompleteMigrationOutput {
        replication_group: Some(render_group(ctx, &r, &g)),
    })
}

impl Service {
    /// Watches the migration links of `gref`'s shard primaries until CompleteMigration
    /// removes the record: records the first sync (every link up), and ends the migration
    /// when a link fails for good.
    fn spawn_migration_watch(&self, gref: GroupRef, links: Vec<MigrationLink>) {
        let svc = self.clone();
        tokio::spawn(async move {
            let mut synced = false;
            loop {
                tokio::time::sleep(WATCH_EVERY).await;
                let active = svc
                    .with_group(&gref, |r| r.migrations.contains_key(&gref.id))
                    .unwrap_or(false);
                if !active {
                    return;
                }
                let mut all_up = true;
                for l in &links {
                    let ending = match svc.inner.supervisor.migration_status(&l.node).await {
                        Ok(Some(MigrationLinkStatus::Up)) => None,
                        Ok(Some(MigrationLinkStatus::Failed(e))) => {
                            Some(format!("Failed to start migration: {e}"))
                        }
                        Ok(Some(_)) => {
                            all_up = false;
                            None
                        }
                        Ok(None) | Err(_) => {
                            Some("Migration stopped: a primary node is gone".to_string())
                        }
                    };
                    if let Some(message) = ending {
                        for l in &links {
                            let _ = svc.inner.supervisor.stop_migration(&l.node).await;
                        }
                        svc.end_migration(&gref, Some(message));
                        return;
                    }
                }
                if all_up && !synced {
                    synced = true;
                    svc.migration_event(
                        &gref,
                        "Migration: initial synchronization with the source completed",
                    );
                }
            }
        });
    }

    fn migration_event(&self, gref: &GroupRef, message: &str) {
        let now = self.inner.store.now();
        self.with_group(gref, |r| {
            r.event(SourceType::ReplicationGroup, &gref.id, message, now);
        });
    }

    /// Ends a migration that did not complete: the record goes, the group is `available`.
    fn end_migration(&self, gref: &GroupRef, message: Option<String>) {
        let now = self.inner.store.now();
        self.with_group(gref, |r| {
            r.migrations.remove(&gref.id);
            if let Some(g) = r.replication_groups.get_mut(&gref.id)
                && g.status == GroupStatus::Migrating
            {
                g.complete(GroupStatus::Available);
            }
            if let Some(m) = message {
                r.event(SourceType::ReplicationGroup, &gref.id, m, now);
            }
        });
    }
}
