//! Online migration at the node level: a shard primary replicating a Redis server outside
//! the emulator over the network (StartMigration), the link's status, and its end
//! (CompleteMigration), plus the reachability probe of TestMigration and the source's layout
//! (AUTH, cluster mode, slot owners) StartMigration pairs shards with.
//!
//! Place in the flow: `control::handlers::migration` names the group's primary node key and
//! the source endpoint; this module hands them to the engine (`ecl_redis`'s network replica
//! link). Speaks in node keys and endpoints, never in AWS shapes.

use super::SupervisorError;
use super::engines::RunningNode;
use super::node::Supervisor;

pub use ecl_redis::RemoteStatus as MigrationLinkStatus;
pub use ecl_redis::{
    SourceLayout as MigrationSourceLayout, SourcePrimary as MigrationSourcePrimary,
};

fn not_redis(key: &str) -> SupervisorError {
    SupervisorError::UnknownNode(format!("{key} (not a running Redis/Valkey node)"))
}

impl Supervisor {
    /// Makes node `key` replicate the Redis server at `source` (full sync, then its stream)
    /// until [`Supervisor::stop_migration`]; the node's own replicas keep following it.
    pub async fn start_migration(
        &self,
        key: &str,
        source: (String, u16),
    ) -> Result<(), SupervisorError> {
        let slot = self.slot(key)?;
        let guard = slot.lock().await;
        match &guard.running {
            Some(RunningNode::Redis(n)) => {
                n.replicate_from_remote(source.clone());
                tracing::info!(node = key, ?source, "node replicating a migration source");
                Ok(())
            }
            _ => Err(not_redis(key)),
        }
    }

    /// Ends the migration link of node `key`, keeping its data; it serves writes again.
    pub async fn stop_migration(&self, key: &str) -> Result<(), SupervisorError> {
        let slot = self.slot(key)?;
        let guard = slot.lock().await;
        match &guard.running {
            Some(RunningNode::Redis(n)) => {
                n.stop_remote_replication();
                Ok(())
            }
            _ => Err(not_redis(key)),
        }
    }

    /// The migration link's status on node `key` (`None`: no link).
    pub async fn migration_status(
        &self,
        key: &str,
    ) -> Result<Option<MigrationLinkStatus>, SupervisorError> {
        let slot = self.slot(key)?;
        let guard = slot.lock().await;
        match &guard.running {
            Some(RunningNode::Redis(n)) => Ok(n.remote_status()),
            _ => Err(not_redis(key)),
        }
    }

    /// Whether `source` answers like a Redis server: its version, or why not.
    pub async fn probe_migration_source(&self, source: &(String, u16)) -> Result<String, String> {
        Box::pin(ecl_redis::replication::remote::probe(source)).await
    }

    /// How `source` is laid out (AUTH, cluster mode, primaries and their slots), or why it
    /// cannot be read.
    pub async fn migration_source_layout(
        &self,
        source: &(String, u16),
    ) -> Result<MigrationSourceLayout, String> {
        // Boxed: the read buffers make the future large, and the API handler awaiting it
        // runs on a worker thread's stack.
        Box::pin(ecl_redis::replication::remote::source_layout(source)).await
    }
}
