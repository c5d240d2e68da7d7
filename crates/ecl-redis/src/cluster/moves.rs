//! Live slot migration's state: the MIGRATING / IMPORTING slots of a resharding.
//!
//! Place in the flow: the supervisor drives a resharding in three steps through the node
//! handle (`node::cluster`). First every node learns the moves (`RedisNode::set_slot_moves`,
//! stored here): the source primary then serves a key of a moving slot only while it still
//! holds it and answers `-ASK <slot> <target>` for the others (so new keys are created on the
//! target), and the target primary serves a moving slot only to a client that sent `ASKING`
//! (others are `-MOVED` to the source, which still owns the slot); `command::route` applies
//! these rules. Then the keys go over in batches (`RedisNode::migrate_keys`): under the
//! source's lock, then the target's, so a key is always in exactly one place when a client
//! looks; each side's replicas follow through replication (`RESTORE … ABSTTL` on the target,
//! `DEL` on the source). Finally the new slot map is set on every node
//! (`RedisNode::set_cluster_topology`, which ends the moves).
use super::{ClusterState, SLOTS};

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

/// What one `RedisNode::migrate_keys` step did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MigrateStep {
    /// Cursor for the next step; 0 once the whole keyspace was walked.
    pub cursor: u64,
    /// Keys moved by this step.
    pub moved: usize,
}
