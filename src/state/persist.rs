//! The state file: every region of every account written as one JSON document
//! (`<data-dir>/state.json`), read back at start, and the settling of records a stop caught in
//! the middle of a transition.
//!
//! Place in the flow: `crate::persistence` asks the [`Store`] for [`Store::encode`] after
//! changes and at shutdown and writes it with [`write_atomic`]; at start it reads the file with
//! [`decode`], which refuses a corrupt, truncated or newer file with an error naming the file
//! and where it went wrong, and hands the regions to [`Store::restore`]. Regions are written
//! whole (`Region` derives serde), so a collection added to `Region` is saved without a change
//! here; fields missing from an older file take their defaults.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::lifecycle::{
    ClusterStatus, GroupStatus, NodeStatus, ParameterStatus, SnapshotStatus, UserGroupStatus,
    UserStatus,
};
use super::{GlobalStore, Region, Store, lock};

/// Format version written into every state file. Bump it when a change is not readable by
/// older builds' serde defaults (a renamed field, a changed meaning); a build refuses files
/// newer than the version it knows.
pub const FORMAT_VERSION: u32 = 1;

/// Why a state file cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file exists but cannot be read.
    #[error("cannot read the state file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a complete, valid state document.
    #[error(
        "the state file {path} is corrupt or truncated at line {line}, column {column} \
         (byte offset {offset} of {len}): {message}; refusing to start on partial state \
         (move the file away to start empty)"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// Byte offset of the error from the start of the file.
        offset: usize,
        /// File size in bytes.
        len: usize,
        /// What the parser expected.
        message: String,
    },
    /// The file was written by a newer build in a format this one does not know.
    #[error(
        "the state file {path} has format version {found}, newer than this build reads \
         (up to {supported}); use the elasticache-local that wrote it, or move the file away"
    )]
    Newer {
        /// The file.
        path: PathBuf,
        /// Version in the file.
        found: u32,
        /// Newest version this build reads.
        supported: u32,
    },
}

/// The document as written: format version, the regions, then the global datastores (which
/// span an account's regions).
#[derive(serde::Serialize)]
struct StateOut {
    format_version: u32,
    regions: Vec<serde_json::Value>,
    globals: serde_json::Value,
}

/// Only the version, read first so a newer file is refused for that reason and not for a
/// field this build does not know.
#[derive(serde::Deserialize)]
struct Header {
    format_version: u32,
}

/// The document as read (its version was checked through [`Header`]).
#[derive(Debug, serde::Deserialize)]
pub struct StateDoc {
    /// Every region of every account.
    pub regions: Vec<Region>,
    /// The global datastores (absent in files written before they existed).
    #[serde(default)]
    pub globals: GlobalStore,
}

impl Store {
    /// The whole store as a state document. Each region is serialized under its own lock, in
    /// (account, region) order so the same state gives the same bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut regions: Vec<(_, Arc<Mutex<Region>>)> = lock(&self.regions)
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        regions.sort_by(|a, b| a.0.cmp(&b.0));
        // A region that cannot be serialized would be lost at the next start: say so loudly
        // rather than write a file without it (the writer keeps the previous file).
        let mut values = Vec::with_capacity(regions.len());
        for ((account, region), r) in &regions {
            match serde_json::to_value(&*lock(r)) {
                Ok(v) => values.push(v),
                Err(e) => {
                    tracing::error!(%account, %region, error = %e, "state not saved: region does not serialize");
                    return Vec::new();
                }
            }
        }
        let globals = match serde_json::to_value(&*self.globals()) {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(error = %e, "state not saved: global datastores do not serialize");
                return Vec::new();
            }
        };
        let doc = StateOut {
            format_version: FORMAT_VERSION,
            regions: values,
            globals,
        };
        serde_json::to_vec_pretty(&doc).unwrap_or_default()
    }

    /// Replaces the store's regions and global datastores by a loaded state file's.
    pub fn restore(&self, regions: Vec<Region>, globals: GlobalStore) {
        *self.globals() = globals;
        let mut map = lock(&self.regions);
        map.clear();
        for r in regions {
            map.insert(
                (r.account.clone(), r.region.clone()),
                Arc::new(Mutex::new(r)),
            );
        }
    }
}

/// Parses a state document read from `path`; see [`LoadError`] for what is refused.
pub fn decode(path: &Path, bytes: &[u8]) -> Result<StateDoc, LoadError> {
    let corrupt = |e: serde_json::Error| LoadError::Corrupt {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        offset: byte_offset(bytes, e.line(), e.column()),
        len: bytes.len(),
        message: e.to_string(),
    };
    let header: Header = serde_json::from_slice(bytes).map_err(corrupt)?;
    if header.format_version > FORMAT_VERSION {
        return Err(LoadError::Newer {
            path: path.to_path_buf(),
            found: header.format_version,
            supported: FORMAT_VERSION,
        });
    }
    serde_json::from_slice(bytes).map_err(corrupt)
}

/// Reads and parses the state file; `Ok(None)` when there is none yet.
pub fn load(path: &Path) -> Result<Option<StateDoc>, LoadError> {
    match std::fs::read(path) {
        Ok(bytes) => decode(path, &bytes).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(LoadError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The byte offset of serde_json's 1-based (line, column) position.
fn byte_offset(bytes: &[u8], line: usize, column: usize) -> usize {
    let mut offset = 0;
    for _ in 1..line {
        match bytes[offset..].iter().position(|&b| b == b'\n') {
            Some(i) => offset += i + 1,
            None => return bytes.len(),
        }
    }
    (offset + column.saturating_sub(1)).min(bytes.len())
}

/// Writes `bytes` to `path` so that a reader (or a crash) sees either the old file or the new
/// one, never a mix: a temporary file beside it, flushed to disk, renamed over it. New files
/// are readable by the owner only.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        // The state holds AUTH tokens and user passwords: readable by the owner only.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

impl Region {
    /// Brings records a stop caught mid-transition to the status the transition would have
    /// ended in: creations, modifications, reboots and snapshots are done (`available` /
    /// `active`), deletions are complete (the records are gone). The nodes themselves are
    /// started afresh by the caller.
    pub fn settle_after_restart(&mut self) {
        self.settle_groups();
        // An online migration's link to its source lives in the process only: the group
        // (settled `available` above) serves its own data again and takes a new StartMigration.
        self.migrations.clear();
        // A service update's node restarts ran in the process too: the action reads
        // `stopped`, with the nodes it finished, and a new apply goes on from there.
        for a in self.update_actions.values_mut().filter(|a| a.running) {
            a.running = false;
            a.current = None;
            a.phase = super::UpdateActionPhase::Stopping;
            a.until_ms = a.since_ms;
        }
        let gone: Vec<String> = (self.clusters.values())
            .filter(|c| c.status == ClusterStatus::Deleting)
            .map(|c| c.id.clone())
            .collect();
        for id in gone {
            self.remove_cluster(&id);
        }
        for c in self.clusters.values_mut() {
            if c.status == ClusterStatus::Modifying {
                // An AUTH token change is recorded when it starts; only its status is pending.
                c.pending.auth_token_status = None;
            }
            if c.status != ClusterStatus::IncompatibleNetwork {
                c.follow_group(ClusterStatus::Available);
            }
            c.nodes.retain(|n| n.status != NodeStatus::Deleting);
            for n in &mut c.nodes {
                n.status = NodeStatus::Available;
            }
            if c.parameter_apply_status == ParameterStatus::Applying {
                c.set_parameter_status(ParameterStatus::InSync);
            }
        }
        self.settle_rbac();
        self.snapshots
            .retain(|_, s| s.status != SnapshotStatus::Deleting);
        for s in self.snapshots.values_mut() {
            if s.status == SnapshotStatus::Copying {
                s.status = SnapshotStatus::Available;
            }
        }
    }

    /// Groups: deletions complete (members not deleted become standalone, as a retained
    /// primary does), other transitions end `available`.
    fn settle_groups(&mut self) {
        let gone: Vec<String> = (self.replication_groups.values())
            .filter(|g| g.status == GroupStatus::Deleting)
            .map(|g| g.id.clone())
            .collect();
        for id in gone {
            if let Some(g) = self.remove_group(&id) {
                for m in g.member_ids() {
                    if let Some(c) = self.clusters.get_mut(&m) {
                        c.replication_group_id = None;
                    }
                }
            }
        }
        for g in self.replication_groups.values_mut() {
            if g.status == GroupStatus::Modifying {
                // User groups and tokens are recorded when the change starts; only the
                // "pending" report of the change remains to clear.
                g.pending_user_groups = None;
                g.pending_auth_token_status = None;
            }
            if g.status != GroupStatus::CreateFailed {
                g.status = GroupStatus::Available;
                for ng in &mut g.node_groups {
                    ng.status = GroupStatus::Available;
                }
            }
        }
    }

    /// Users and user groups: modifications are applied, deletions complete.
    fn settle_rbac(&mut self) {
        self.users.retain(|_, u| u.status != UserStatus::Deleting);
        for u in self.users.values_mut() {
            u.status = UserStatus::Active;
        }
        self.user_groups
            .retain(|_, g| g.status != UserGroupStatus::Deleting);
        for g in self.user_groups.values_mut() {
            if let Some((add, remove)) = g.pending.take() {
                g.user_ids.retain(|u| !remove.contains(u));
                for u in add {
                    if !g.user_ids.contains(&u) {
                        g.user_ids.push(u);
                    }
                }
            }
            g.status = UserGroupStatus::Active;
        }
    }
}
