//! Snapshots at the node level: the RDB image of a running node (CreateSnapshot, final
//! snapshots) and the image a node key starts from (restores).
//!
//! Place in the flow: `control::handlers::snapshots` asks for one image per shard primary and
//! keeps them; a restore hands an image to [`Supervisor::seed_rdb`] before the node's
//! [`Supervisor::start_node`], which loads it before the node listens (replicas then take a
//! full sync from their primary as usual). A seed is consumed by that first start.

use std::sync::Arc;

use super::SupervisorError;
use super::node::Supervisor;

impl Supervisor {
    /// The RDB image of a running Redis/Valkey node, taken at one point in time.
    pub async fn snapshot_rdb(&self, key: &str) -> Result<Vec<u8>, SupervisorError> {
        let slot = self.slot(key)?;
        let guard = slot.lock().await;
        match &guard.running {
            Some(node) => node
                .snapshot_rdb()
                .ok_or_else(|| SupervisorError::InvalidParameter {
                    name: "engine".to_string(),
                    reason: "this engine has no snapshots".to_string(),
                }),
            None => Err(SupervisorError::UnknownNode(key.to_string())),
        }
    }

    /// Makes the next start of node `key` load `image` (an RDB file) before it listens. A
    /// node whose image does not load fails to start.
    pub fn seed_rdb(&self, key: &str, image: Arc<Vec<u8>>) {
        super::node::lock(&self.seeds).insert(key.to_string(), ecl_redis::RdbImage(image));
    }
}
