//! Online resharding on running Redis/Valkey nodes: telling every node of a sharded group
//! which slots are moving, moving their keys between two primaries in small steps while
//! clients keep working, and switching the slot map.
//!
//! Place in the flow: the control plane's resharding task plans the moves (which slots go
//! from which shard to which) and calls, per move: [`Supervisor::set_slot_moves`] (the source
//! starts answering `-ASK` for keys it no longer holds, the target accepts `ASKING`), then
//! [`Supervisor::migrate_slots`] (keys go over, a scan step at a time, each step under both
//! nodes' locks so no key is ever in neither place), then
//! [`Supervisor::switch_cluster_topology`] with the new owners (the target learns first, so a
//! client redirected by the source is never sent back). Speaks in node keys and slot ranges.

use std::time::{Duration, Instant};

use super::engines::SlotMove;
use super::topology::ShardTopology;
use super::{Supervisor, SupervisorError};

/// Buckets of the source's keyspace one migration step scans: small enough that a client
/// of the source or target waits at most a few milliseconds for a step to end.
const STEP_BUCKETS: usize = 1024;
/// Full passes over the source's keyspace before giving up on keys that keep appearing
/// (none should: new keys of a moving slot are created on the target).
const MAX_PASSES: usize = 8;

/// Slots moving from one shard to another, by index into the shard list given with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotMovePlan {
    /// Inclusive slot ranges that move.
    pub slots: Vec<(u16, u16)>,
    /// Index of the giving shard.
    pub source: usize,
    /// Index of the receiving shard.
    pub target: usize,
}

/// What moving one set of slots took.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MigrationStats {
    /// Keys moved.
    pub keys: usize,
    /// Wall time of the whole move.
    pub elapsed: Duration,
    /// The longest single step: the longest a client of either node waited for the lock.
    pub longest_step: Duration,
}

fn not_redis(key: &str) -> SupervisorError {
    SupervisorError::UnknownNode(format!("{key} (not a running Redis/Valkey node)"))
}

impl Supervisor {
    /// Tells every node of `shards` (the current slot map, as last set with
    /// [`Supervisor::set_cluster_topology`]) the moves in progress; empty ends them.
    pub async fn set_slot_moves(
        &self,
        shards: &[ShardTopology],
        moves: &[SlotMovePlan],
    ) -> Result<(), SupervisorError> {
        let engine_moves: Vec<SlotMove> = moves
            .iter()
            .map(|m| SlotMove {
                slots: m.slots.clone(),
                source: m.source,
                target: m.target,
            })
            .collect();
        let keys: Vec<&String> = shards
            .iter()
            .flat_map(|s| std::iter::once(&s.primary).chain(&s.replicas))
            .collect();
        for key in keys {
            let slot = self.slot(key)?;
            let guard = slot.lock().await;
            if !guard
                .running
                .as_ref()
                .is_some_and(|n| n.set_slot_moves(engine_moves.clone()))
            {
                return Err(not_redis(key));
            }
        }
        Ok(())
    }

    /// Moves every key of `slots` from the primary `source` to the primary `target`, one scan
    /// step at a time (yielding between steps so clients are served), walking the source's
    /// keyspace until a whole pass finds nothing left. The slots must be moving
    /// ([`Supervisor::set_slot_moves`]) so that no client creates a key on the source meanwhile.
    pub async fn migrate_slots(
        &self,
        source: &str,
        target: &str,
        slots: &[(u16, u16)],
    ) -> Result<MigrationStats, SupervisorError> {
        let src = self.slot(source)?;
        let dst = self.slot(target)?;
        let started = Instant::now();
        let mut stats = MigrationStats::default();
        for _ in 0..MAX_PASSES {
            let mut moved_in_pass = 0;
            let mut cursor = 0;
            loop {
                let step_started = Instant::now();
                let step = {
                    // Lock order source then target; a group runs one resharding at a time.
                    let s = src.lock().await;
                    let d = dst.lock().await;
                    let (Some(sn), Some(dn)) = (&s.running, &d.running) else {
                        return Err(not_redis(source));
                    };
                    sn.migrate_keys(dn, slots, cursor, STEP_BUCKETS)
                        .await
                        .ok_or_else(|| not_redis(source))?
                };
                stats.longest_step = stats.longest_step.max(step_started.elapsed());
                stats.keys += step.moved;
                moved_in_pass += step.moved;
                cursor = step.cursor;
                tokio::task::yield_now().await;
                if cursor == 0 {
                    break;
                }
            }
            if moved_in_pass == 0 {
                break;
            }
        }
        stats.elapsed = started.elapsed();
        tracing::info!(
            source,
            target,
            keys = stats.keys,
            elapsed_ms = stats.elapsed.as_millis() as u64,
            longest_step_us = stats.longest_step.as_micros() as u64,
            "slots migrated"
        );
        Ok(stats)
    }

    /// Sets the new slot map on every node, the nodes in `first` before the others (the
    /// receiving primaries, so that a client the old owner redirects is served there).
    pub async fn switch_cluster_topology(
        &self,
        shards: &[ShardTopology],
        first: &[String],
    ) -> Result<(), SupervisorError> {
        self.push_cluster_topology(shards, first).await
    }
}
