//! The cluster side of a node handle: setting the topology and the slot moves the supervisor
//! decides, moving a slot's keys to another shard's primary, and this node's end of the
//! cluster bus (the registry of nodes by id and the task delivering `PUBLISH` messages).
//!
//! Place in the flow: the supervisor calls these [`RedisNode`] methods; the state they change
//! is [`crate::cluster::ClusterState`], which routing (`command::route`) and the `CLUSTER`
//! commands read.

use super::RedisNode;
use crate::cluster::bus::{Bus, Message};
use crate::cluster::{ClusterTopology, MigrateStep, SlotMove, key_slot};
use crate::db::Key;
use crate::engine::Engine;
use crate::engine::Shared;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use tokio::sync::mpsc;
use tracing::Instrument;

impl RedisNode {
    /// Cluster mode: this node's view of the cluster (replaces the previous one).
    pub fn set_cluster_topology(&self, topology: ClusterTopology) {
        let mut eng = self.shared.lock();
        if eng.cluster.bus.is_none() {
            register(&eng.cluster.node_id, &self.shared);
            eng.cluster.bus = Some(start_bus(&self.runtime, &self.span));
        }
        let mine = |eng: &crate::engine::Engine| {
            (eng.cluster.me()).map_or_else(Vec::new, |(shard, _, _)| shard.slots.clone())
        };
        let before = mine(&eng);
        eng.cluster.set(topology);
        let after = mine(&eng);
        eng.slot_stats.reset_moved(&before, &after);
    }

    /// Cluster-mode node id (40 hex chars, stable for the node's life).
    pub fn node_id(&self) -> String {
        self.shared.lock().cluster.node_id.clone()
    }
}

impl RedisNode {
    /// Cluster mode: the slot moves in progress, by shard index of the current topology
    /// (replaced by the next call; a new topology ends them).
    pub fn set_slot_moves(&self, moves: Vec<SlotMove>) {
        self.shared.lock().cluster.set_moves(moves);
    }

    /// Moves the keys of `slots` found in one step from this node (the source primary) to
    /// `target` (the receiving primary): up to `count` keys named by the slot index (cluster
    /// mode keeps one), else those of a keyspace scan step of `count` buckets from `cursor`.
    /// Expiry times go along; both sides' replicas follow through
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
                if let Some(mut dst) = target.shared.try_lock() {
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

fn in_ranges(slots: &[(u16, u16)], slot: u16) -> bool {
    slots.iter().any(|&(a, b)| (a..=b).contains(&slot))
}

fn registry() -> &'static Mutex<HashMap<String, Weak<Shared>>> {
    static R: OnceLock<Mutex<HashMap<String, Weak<Shared>>>> = OnceLock::new();
    R.get_or_init(Default::default)
}

/// Makes a node reachable by id.
fn register(node_id: &str, shared: &Arc<Shared>) {
    if let Ok(mut m) = registry().lock() {
        m.retain(|_, w| w.strong_count() > 0);
        m.insert(node_id.to_string(), Arc::downgrade(shared));
    }
}

fn lookup(node_id: &str) -> Option<Arc<Shared>> {
    registry().lock().ok()?.get(node_id)?.upgrade()
}

/// Starts the delivery task of one node's cluster bus.
fn start_bus(runtime: &tokio::runtime::Handle, span: &tracing::Span) -> Bus {
    let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
    runtime.spawn(
        async move {
            while let Some(m) = rx.recv().await {
                for id in &m.targets {
                    if let Some(node) = lookup(id) {
                        let eng = node.lock();
                        eng.pubsub
                            .publish(&eng.clients, m.shard, &m.channel, &m.payload, None);
                    }
                }
            }
        }
        .instrument(span.clone()),
    );
    Bus::from_sender(tx)
}
