//! The persistence state a node's engine holds: where images go, the last in-memory image,
//! the open append-only file, and the INFO persistence figures.
//!
//! Place in the flow: a field of the engine; the persistence work that reads and changes it
//! (SAVE, BGSAVE, loading, the AOF's cycle) is in `crate::persistence`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Persistence state of a node (INFO persistence, the last in-memory image).
#[derive(Debug, Default)]
pub struct Persistence {
    /// Where SAVE writes `dbfilename`; `None` keeps images in memory only.
    pub data_dir: Option<PathBuf>,
    /// The image of the last successful SAVE/BGSAVE when there is no data directory.
    pub last_image: Option<Arc<Vec<u8>>>,
    /// Successful saves since start (INFO `rdb_saves`).
    pub saves: u64,
    /// Background snapshots started (BGSAVE, AOF rewrites, replicas' full copies): what
    /// redis-server forks a child for (INFO `total_forks`).
    pub forks: u64,
    /// Whether the last save failed (INFO `rdb_last_bgsave_status`).
    pub last_failed: bool,
    /// Seconds the last save took (INFO `rdb_last_bgsave_time_sec`), -1 before any.
    pub last_secs: Option<u64>,
    /// Keys loaded / skipped as expired by the last load.
    pub last_load: (u64, u64),
    /// The open append-only file (`appendonly yes` with a data directory).
    pub aof: Option<super::aof::Aof>,
    /// AOF rewrite counters (INFO persistence).
    pub aof_stats: super::aof::AofStats,
    /// When the running BGSAVE started (also its identity: a cancelled save finds it gone).
    pub bgsave: Option<Instant>,
    /// Whether the running BGSAVE is still collecting its image (the snapshot cursors are its
    /// own), as opposed to writing its file.
    pub bgsave_collecting: bool,
    /// A BGSAVE SCHEDULE waiting for the running snapshot to end.
    pub bgsave_scheduled: bool,
    /// Keys copied / keys at the start of the snapshot being collected.
    pub save_progress: (u64, u64),
}
