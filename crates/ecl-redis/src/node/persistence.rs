//! The persistence side of a node handle: consistent RDB images of the node while it serves,
//! loading an image in place, and the image the last SAVE kept in memory.
//!
//! Place in the flow: the supervisor calls these [`RedisNode`] methods for snapshots and
//! restores; the work is in `crate::persistence`.

use super::RedisNode;
use crate::persistence::{install, read_options, snapshot};
use crate::rdb::file::{self, LoadStats, RdbError};
use std::sync::Arc;

impl RedisNode {
    /// The node's whole dataset as an RDB file image in the format of its engine version, at
    /// one consistent point in time (the call's start, or the end of a snapshot already
    /// running). The node keeps serving meanwhile: entries are copied a slice per lock hold
    /// and serialised without the lock (see [`crate::persistence::snapshot`]). Does not count as a SAVE.
    pub fn snapshot_rdb(&self) -> Vec<u8> {
        let run = || {
            let c = snapshot::begin_waiting(&self.shared);
            snapshot::collect(&self.shared, c)
        };
        // Called from a runtime worker (the supervisor does), the worker's other tasks —
        // this node's clients among them — move to another worker meanwhile.
        crate::blocking::run_blocking(run)
    }

    /// Replaces the node's dataset with an RDB file image (from this engine or a real Redis
    /// of the same or an older RDB version). The image is verified in full (checksum
    /// included) before anything changes; keys whose TTL has passed are skipped.
    /// Parsing runs outside the node lock (commands go on meanwhile, on the old data); only
    /// the swap holds it.
    pub fn load_rdb(&self, bytes: &[u8]) -> Result<LoadStats, RdbError> {
        let opts = read_options(&self.shared.lock());
        let (data, stats) = file::read(bytes, &opts)?;
        install(&mut self.shared.lock(), data, &stats);
        Ok(stats)
    }

    /// The image the last SAVE/BGSAVE kept in memory (nodes without a data directory). A
    /// BGSAVE still running is waited for, so the image is never older than the last BGSAVE
    /// acknowledged.
    pub fn last_saved_rdb(&self) -> Option<Arc<Vec<u8>>> {
        loop {
            {
                let eng = self.shared.lock();
                if eng.persist.bgsave.is_none() {
                    return eng.persist.last_image.clone();
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }
}
