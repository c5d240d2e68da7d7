//! Live slot migration: the MIGRATING / IMPORTING state of slots and the moving of their keys
//! from one shard's primary to another's while clients keep working.
//!
//! Place in the flow: the supervisor drives a resharding in three steps, calling only the
//! public methods here. First every node learns the moves ([`RedisNode::set_slot_moves`]):
//! the source primary then serves a key of a moving slot only while it still holds it and
//! answers `-ASK <slot> <target>` for the others (so new keys are created on the target),
//! and the target primary serves a moving slot only to a client that sent `ASKING` (others
//! are `-MOVED` to the source, which still owns the slot). Then the keys go over in batches
//! ([`RedisNode::migrate_keys`]): under the source's lock, then the target's, so a key is
//! always in exactly one place when a client looks; each side's replicas follow through
//! replication (`RESTORE … ABSTTL` on the target, `DEL` on the source). Finally the new slot
//! map is set on every node ([`RedisNode::set_cluster_topology`], which ends the moves).

use super::{ClusterState, SLOTS, key_slot};
use crate::client::Client;
use crate::command::{CommandSpec, flags};
use crate::db::Key;
use crate::engine::Engine;
use crate::errors::CmdError;
use crate::node::RedisNode;

/// Slots moving from one shard to another (shard indexes into the current topology).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotMove {
    /// Inclusive slot ranges that move.
    pub slots: Vec<(u16, u16)>,
    /// Index of the shard giving the slots (it owns them until the next topology).
    pub source: usize,
    /// Index of the shard receiving them.
    pub target: usize,
}

/// Reply to a command touching a key of a slot being moved.
const TRYAGAIN: &str = "TRYAGAIN Multiple keys request during rehashing of slot";

impl ClusterState {
    /// Replaces the moves in progress (empty: none).
    pub fn set_moves(&mut self, moves: Vec<SlotMove>) {
        let mut moving = vec![u16::MAX; SLOTS];
        for (i, m) in moves.iter().enumerate() {
            for &(a, b) in &m.slots {
                for slot in a..=b.min(SLOTS as u16 - 1) {
                    moving[slot as usize] = i as u16;
                }
            }
        }
        self.moving = if moves.is_empty() { Vec::new() } else { moving };
        self.moves = moves;
    }

    /// The move a slot is part of, if any.
    pub fn move_of(&self, slot: u16) -> Option<&SlotMove> {
        let i = *self.moving.get(slot as usize)?;
        self.moves.get(i as usize)
    }

    /// Whether this node is the primary of shard `i`.
    pub fn is_primary_of(&self, i: usize) -> bool {
        self.topology
            .shards
            .get(i)
            .is_some_and(|s| s.primary.node_id == self.node_id)
    }

    /// `CLUSTER NODES` annotations of this node: `[slot->-target]` for each slot it gives,
    /// `[slot-<-source]` for each slot it receives.
    pub fn move_annotations(&self) -> String {
        let mut out = String::new();
        for m in &self.moves {
            let (arrow, peer) = if self.is_primary_of(m.source) {
                ("->-", m.target)
            } else if self.is_primary_of(m.target) {
                ("-<-", m.source)
            } else {
                continue;
            };
            let Some(peer) = self.topology.shards.get(peer) else {
                continue;
            };
            for &(a, b) in &m.slots {
                for slot in a..=b {
                    out.push_str(&format!(" [{slot}{arrow}{}]", peer.primary.node_id));
                }
            }
        }
        out
    }
}

/// Routing of a keyed command whose slot is moving (see the module docs); `None` when the
/// slot is not moving or this node takes no part, so the ordinary owner rule applies.
pub fn route_moving(
    eng: &Engine,
    client: &Client,
    spec: &CommandSpec,
    keys: &[&[u8]],
    slot: u16,
    asking: bool,
) -> Option<Result<(), CmdError>> {
    let st = &eng.cluster;
    let m = st.move_of(slot)?;
    // Sharded Pub/Sub channels are not keys of the keyspace: the owner serves them.
    if spec.has(flags::PUBSUB) {
        return None;
    }
    if st.is_primary_of(m.source) {
        let now = eng.now_ms();
        let db = &eng.dbs[client.db];
        let present = keys
            .iter()
            .filter(|k| {
                db.peek_raw(k)
                    .is_some_and(|e| e.expire_at == 0 || e.expire_at > now)
            })
            .count();
        if present == keys.len() {
            return Some(Ok(()));
        }
        if present > 0 {
            return Some(Err(TRYAGAIN.into()));
        }
        let t = &st.topology.shards.get(m.target)?.primary;
        return Some(Err(format!("ASK {slot} {}:{}", t.ip, t.port).into()));
    }
    if st.is_primary_of(m.target) && asking {
        return Some(Ok(()));
    }
    None
}

/// What one [`RedisNode::migrate_keys`] step did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MigrateStep {
    /// Cursor for the next step; 0 once the whole keyspace was walked.
    pub cursor: u64,
    /// Keys moved by this step.
    pub moved: usize,
}

fn in_ranges(slots: &[(u16, u16)], slot: u16) -> bool {
    slots.iter().any(|&(a, b)| (a..=b).contains(&slot))
}

impl RedisNode {
    /// Cluster mode: the slot moves in progress, by shard index of the current topology
    /// (replaced by the next call; a new topology ends them).
    pub fn set_slot_moves(&self, moves: Vec<SlotMove>) {
        self.shared.lock().cluster.set_moves(moves);
    }

    /// Moves the keys of `slots` found in one step from this node (the source primary) to
    /// `target` (the receiving primary): up to `count` keys named by the slot index (cluster
    /// mode keeps one), else those of a keyspace scan step of `count` buckets from `cursor`. Expiry times go along; both sides' replicas follow through
    /// replication. Walk until the answered cursor is 0, then once more to see nothing is
    /// left (keys cannot appear meanwhile: new keys of moving slots are created on the target).
    pub async fn migrate_keys(
        &self,
        target: &RedisNode,
        slots: &[(u16, u16)],
        cursor: u64,
        count: usize,
    ) -> MigrateStep {
        // Both locks at once, never parking a runtime worker on either (a script may hold one
        // for long): the source's is awaited, the target's only tried, and on failure both are
        // released before trying again.
        loop {
            {
                let mut src = self.shared.lock_wait().await;
                let dst = match target.shared.engine.try_lock() {
                    Ok(g) => Some(g),
                    Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
                    Err(std::sync::TryLockError::WouldBlock) => None,
                };
                if let Some(mut dst) = dst {
                    return move_step(&mut src, &mut dst, slots, cursor, count);
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    }
}

/// One step of [`RedisNode::migrate_keys`] with both nodes' locks held.
fn move_step(
    src: &mut Engine,
    dst: &mut Engine,
    slots: &[(u16, u16)],
    cursor: u64,
    count: usize,
) -> MigrateStep {
    let now = src.now_ms();
    let mut keys: Vec<Key> = Vec::new();
    let next = match src.dbs[0].slot_keys(slots, count, now) {
        // The slot index names the keys: a full step may leave more, a short one is the end.
        Some(found) => {
            let more = found.len() == count;
            keys = found;
            u64::from(more)
        }
        None => src.dbs[0].scan(cursor, count, now, |k, _| {
            if in_ranges(slots, key_slot(k)) {
                keys.push(k.clone());
            }
        }),
    };
    if keys.is_empty() {
        return MigrateStep {
            cursor: next,
            moved: 0,
        };
    }
    let entries: Vec<_> = keys
        .iter()
        .filter_map(|k| src.dbs[0].remove(k).map(|e| (k.clone(), e)))
        .collect();
    // The source's lock is held until the target has the keys: a client of either side
    // never sees a key in neither place.
    let streaming = dst.repl.streaming();
    let compat = dst.info.compat;
    let mut restores = Vec::new();
    for (k, e) in entries {
        if streaming {
            let at = e.expire_at.max(0).to_string();
            let payload = crate::rdb::dump(&e.value, compat);
            restores.push(crate::command::OwnedArgv::from_slices([
                b"RESTORE".as_slice(),
                &k,
                at.as_bytes(),
                &payload,
                b"REPLACE",
                b"ABSTTL",
            ]));
        }
        dst.dbs[0].insert_entry(&k, e);
        dst.signal_key_ready(0, &k);
    }
    dst.add_dirty(keys.len() as u64);
    dst.propagate_owned(0, restores);
    src.add_dirty(keys.len() as u64);
    src.propagate_dels(0, &keys);
    MigrateStep {
        cursor: next,
        moved: keys.len(),
    }
}
