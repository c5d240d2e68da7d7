//! Per-node data directories (`--data-dir`): where each Redis/Valkey node keeps what it writes
//! itself — `dump.rdb` from SAVE/BGSAVE and the append-only file of `appendonly yes`.
//!
//! Place in the flow: `node::Supervisor::redis_config` gives every Redis/Valkey node the
//! directory `<data-dir>/node-data/<node key made filesystem-safe>/` (see [`dir_name`]) and
//! turns `appendonly` on for a node whose directory holds an AOF manifest, so the node loads it
//! at start, as redis-server does with `appendonly yes` in its configuration (after a crash of
//! the emulator, a reboot, or a restart). `stop_node` (a node deleted or replaced) removes the
//! directory; [`crate::supervisor::Supervisor::sweep_node_data`] removes the directories of
//! nodes that are not running (crash leftovers) once the restored nodes are up. Without a data
//! directory nodes get none and nothing is written to disk. Memcached nodes never get one.
//! This lives apart from `<data-dir>/nodes/` (the datasets a clean stop writes), which is
//! removed after every start.

use std::path::{Path, PathBuf};

use super::Supervisor;
use super::locks::lock;

/// Directory of the nodes' data directories, inside the emulator's data directory.
pub const NODE_DATA_DIR: &str = "node-data";

/// The AOF manifest of a node directory (the engine's default `appenddirname` and
/// `appendfilename`, which cannot be changed at runtime nor through parameter groups).
const AOF_MANIFEST: &str = "appendonlydir/appendonly.aof.manifest";

/// The directory name of a node key: `/` becomes `.`, ASCII letters, digits, `-` and `_` stay,
/// every other byte (`.` and `:` included) becomes `%XX`. One path component, never `.` or
/// `..`, and different keys never share a name. `000000000000/us-east-1/c1/0001` becomes
/// `000000000000.us-east-1.c1.0001`.
pub fn dir_name(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        match b {
            b'/' => out.push('.'),
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' => out.push(char::from(b)),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Whether a node directory holds an AOF manifest (the node then starts with `appendonly yes`).
pub fn has_aof(dir: &Path) -> bool {
    dir.join(AOF_MANIFEST).is_file()
}

/// Removes a directory and everything in it; a directory already gone is not an error.
fn remove(dir: &Path) {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => tracing::debug!(dir = %dir.display(), "node data directory removed"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(dir = %dir.display(), error = %e,
            "node data directory not removed"),
    }
}

impl Supervisor {
    /// The data directory of a Redis/Valkey node, when the emulator has one.
    pub(super) fn node_data_dir(&self, key: &str) -> Option<PathBuf> {
        (self.node_data.as_ref()).map(|root| root.join(dir_name(key)))
    }

    /// Whether the node `key` will load an AOF at its next start (its data directory holds a
    /// manifest). The restart prefers that AOF to the dataset a clean stop saved: the AOF has
    /// every write up to the node's stop, the saved dataset only those before it was taken.
    pub fn node_has_aof(&self, key: &str) -> bool {
        self.node_data_dir(key).is_some_and(|d| has_aof(&d))
    }

    /// Removes the data directory of a node that is gone for good (deleted, or replaced by a
    /// node started afresh under the same key).
    pub(super) fn discard_node_data(&self, key: &str) {
        if let Some(dir) = self.node_data_dir(key) {
            remove(&dir);
        }
    }

    /// Removes every node data directory no running node owns (nodes deleted while the
    /// emulator was stopping or crashing). Call once the restored nodes have started. Answers
    /// how many were removed.
    pub fn sweep_node_data(&self) -> usize {
        let Some(root) = &self.node_data else {
            return 0;
        };
        let keep: std::collections::HashSet<String> =
            lock(&self.nodes).keys().map(|k| dir_name(k)).collect();
        let Ok(entries) = std::fs::read_dir(root) else {
            return 0;
        };
        let mut removed = 0;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !keep.contains(&name) {
                remove(&e.path());
                removed += 1;
            }
        }
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::dir_name;

    #[test]
    fn node_keys_become_one_safe_component_without_collisions() {
        assert_eq!(
            dir_name("000000000000/us-east-1/c1/0001"),
            "000000000000.us-east-1.c1.0001"
        );
        assert_eq!(
            dir_name("000000000000/us-east-1/serverless:cache"),
            "000000000000.us-east-1.serverless%3Acache"
        );
        // `.` in a key is escaped, so it never meets a `/` turned into `.`.
        assert_ne!(dir_name("a.b/c"), dir_name("a/b/c"));
        assert_eq!(dir_name(".."), "%2E%2E");
        assert!(!dir_name("a/../b").contains('/'));
    }
}
