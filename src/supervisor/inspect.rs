//! Per-node figures and read-only inspection for the emulator's status page.
//!
//! Place in the flow: `crate::status` (the browser page and its JSON) asks here, by node key,
//! for what every running node holds and does ([`NodeFigures`]), and runs read-only commands
//! on a Redis/Valkey node (`inspect_node`) to browse its keys. Figures come from what the
//! engines already count (`ecl_redis::NodeStats`, `ecl_memcached::NodeStats`) through
//! `engines`; roles and lag from what `topology` told the nodes. A node busy starting,
//! rebooting or being reconfigured is reported without figures rather than waited for, so the
//! page never stalls behind a long operation. The control plane also asks here how many keys
//! a node holds outside database 0 before a cluster mode change (`keys_outside_db0`).

use super::{EngineKind, Supervisor, SupervisorError};

/// What one node is and does, as the status page shows it.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct NodeFigures {
    /// The node key (`account/region/cluster/0001`, `account/region/serverless:name`).
    pub key: String,
    /// `redis`, `valkey` or `memcached`.
    pub engine: &'static str,
    /// Engine version the node reports.
    pub engine_version: String,
    /// Address clients use.
    pub address: String,
    /// Port clients use.
    pub port: u16,
    /// Whether the engine answered (false while busy or down).
    pub running: bool,
    /// `primary`, `replica` (Redis/Valkey) or `node` (Memcached).
    pub role: &'static str,
    /// Key of the node this one replicates, when the supervisor set it up.
    pub primary: Option<String>,
    /// Keys (Redis/Valkey) or items (Memcached).
    pub keys: u64,
    /// Bytes of data as the engine accounts them.
    pub used_memory: u64,
    /// Memory budget (0: none).
    pub maxmemory: u64,
    /// Commands per second (Redis/Valkey; `None` for Memcached, which has no such figure).
    pub ops_per_sec: Option<u64>,
    /// Commands processed since start (Memcached: gets + sets).
    pub total_commands: u64,
    /// Open client connections.
    pub connections: u64,
    /// Keys/items evicted since start.
    pub evictions: u64,
    /// Replication offset (Redis/Valkey).
    pub replication_offset: Option<u64>,
    /// Bytes of the primary's stream a replica has not applied yet.
    pub replication_lag: Option<u64>,
}

impl Supervisor {
    /// Figures of every node, sorted by key; replicas' lag is measured against the primary
    /// they were told to follow.
    pub fn node_figures(&self) -> Vec<NodeFigures> {
        let slots = self.node_slots();
        let following = self.topology.following_snapshot();
        let mut all: Vec<NodeFigures> = slots
            .into_iter()
            .map(|(key, engine, slot)| {
                let mut f = NodeFigures {
                    key: key.clone(),
                    engine: engine.as_str(),
                    role: if engine == EngineKind::Memcached {
                        "node"
                    } else {
                        "primary"
                    },
                    primary: following.get(&key).cloned(),
                    ..NodeFigures::default()
                };
                if let Ok(guard) = slot.try_lock() {
                    f.engine_version = guard.spec.engine_version.clone();
                    f.address = guard.endpoint.address.clone();
                    f.port = guard.endpoint.port;
                    if let Some(node) = &guard.running {
                        node.fill_figures(&mut f);
                    }
                }
                f
            })
            .collect();
        all.sort_by(|a, b| a.key.cmp(&b.key));
        let offsets: std::collections::HashMap<String, u64> = all
            .iter()
            .filter_map(|f| Some((f.key.clone(), f.replication_offset?)))
            .collect();
        for f in &mut all {
            if let (Some(primary), Some(own)) = (&f.primary, f.replication_offset) {
                f.replication_lag = offsets.get(primary).map(|p| p.saturating_sub(own));
            }
        }
        all
    }

    /// Runs one read-only command (`ecl_redis::node::INSPECT_COMMANDS`) on a Redis/Valkey
    /// node and answers its RESP2 reply; `Err` for Memcached nodes, unknown keys and any
    /// other command.
    pub async fn inspect_node(&self, key: &str, args: &[Vec<u8>]) -> Result<Vec<u8>, String> {
        let slot = self.slot(key).map_err(|e| e.to_string())?;
        let guard = slot.lock().await;
        match &guard.running {
            Some(node) => node.inspect(args),
            None => Err(SupervisorError::UnknownNode(key.to_string()).to_string()),
        }
    }

    /// Keys a Redis/Valkey node holds outside database 0 (ModifyReplicationGroup's cluster
    /// mode change needs them all in database 0); 0 for Memcached nodes.
    pub async fn keys_outside_db0(&self, key: &str) -> Result<u64, SupervisorError> {
        let slot = self.slot(key)?;
        let guard = slot.lock().await;
        match &guard.running {
            Some(node) => Ok(node.keys_outside_db0().unwrap_or(0)),
            None => Err(SupervisorError::UnknownNode(key.to_string())),
        }
    }
}
