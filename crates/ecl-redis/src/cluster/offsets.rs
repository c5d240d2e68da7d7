//! Process-wide replication offsets by node id, so CLUSTER SHARDS can report every node's.
//!
//! Place in the flow: each node's [`super::ClusterState`] registers its cell at creation and
//! replication stores the offset in it; `CLUSTER SHARDS` / `CLUSTER NODES` read the other
//! nodes' offsets here, so no node ever takes another node's lock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

fn registry() -> &'static Mutex<HashMap<String, Weak<AtomicU64>>> {
    static R: OnceLock<Mutex<HashMap<String, Weak<AtomicU64>>>> = OnceLock::new();
    R.get_or_init(Default::default)
}

/// Registers a node's published offset cell.
pub fn register(node_id: &str, cell: &Arc<AtomicU64>) {
    if let Ok(mut m) = registry().lock() {
        m.retain(|_, w| w.strong_count() > 0);
        m.insert(node_id.to_string(), Arc::downgrade(cell));
    }
}

/// A node's last published offset (0 if unknown).
pub fn get(node_id: &str) -> u64 {
    registry()
        .lock()
        .ok()
        .and_then(|m| m.get(node_id).and_then(Weak::upgrade))
        .map_or(0, |c| c.load(Ordering::Acquire))
}
