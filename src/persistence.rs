//! Persistence of the emulator across restarts (`--data-dir`): the state file kept current
//! while the emulator runs, every node's dataset saved at shutdown, and both loaded at start.
//!
//! Place in the flow: `server::start` calls [`Persistence::open`] before the API listens
//! (it loads `<data-dir>/state.json`, refusing a corrupt or newer file, and has the control
//! plane restart every node on its old address with its data), then
//! [`Persistence::spawn_writer`]; `RunningServer::shutdown` calls
//! [`Persistence::save_on_shutdown`] after the API stops and before the nodes stop. Without a
//! data directory none of this exists and nothing is written to disk.
//!
//! Layout of the data directory: `state.json` (every record of every account and region),
//! `nodes/<account>/<region>/<cluster>/<node>.rdb` (Redis/Valkey datasets, written at shutdown
//! and removed once loaded, so a later crash never brings back older data),
//! `node-data/<node key>/` (each Redis/Valkey node's own `dump.rdb` and append-only file, see
//! `supervisor::node_data`; kept across crashes, removed with the node),
//! `snapshots/...` (snapshot images, see `control::handlers::snapshots`), `ca.pem`.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::control::handlers::Service;
use crate::state::persist::{load, write_atomic};

/// Name of the state file in the data directory.
pub const STATE_FILE: &str = "state.json";

/// Directory of the nodes' datasets in the data directory.
pub const NODES_DIR: &str = "nodes";

/// How often the writer looks for changes: a change is on disk this long after it is made
/// (background transitions included, not only requests). A look costs little when no region
/// was touched since the last one.
const WRITE_PERIOD: Duration = Duration::from_millis(200);

/// Every this many periods the state is compared even if no region was looked up (a task that
/// kept a region handle across an await may change it without a new lookup).
const FULL_CHECK_EVERY: u32 = 10;

/// The persistence of one running emulator.
pub struct Persistence {
    dir: PathBuf,
    service: Arc<Service>,
    /// The document last written; the lock also keeps two writes from overlapping.
    last: tokio::sync::Mutex<Vec<u8>>,
    restored: bool,
    stopped: AtomicBool,
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

impl Persistence {
    /// Loads the state file of `dir` (if there is one) into `service` and restarts every node.
    /// Errors name the file and where it is corrupt; the caller must not start then.
    pub async fn open(dir: &Path, service: Arc<Service>) -> io::Result<Arc<Persistence>> {
        std::fs::create_dir_all(dir).map_err(|e| {
            io::Error::new(e.kind(), format!("data directory {}: {e}", dir.display()))
        })?;
        let path = dir.join(STATE_FILE);
        let doc = load(&path).map_err(|e| invalid(e.to_string()))?;
        let restored = doc.is_some();
        if let Some(doc) = doc {
            let count = doc.regions.len();
            let fail = |e: String| invalid(format!("cannot restore {}: {e}", path.display()));
            service.restore_records(doc).map_err(fail)?;
            let nodes_dir = dir.join(NODES_DIR);
            let nodes = service.resume_nodes(&nodes_dir).await.map_err(fail)?;
            // The datasets now live in the nodes; the next clean stop writes them again.
            let _ = std::fs::remove_dir_all(&nodes_dir);
            tracing::info!(state = %path.display(), regions = count, nodes, "state restored");
        } else {
            tracing::info!(state = %path.display(), "no saved state; starting empty");
        }
        // Data directories of nodes that did not come back (deleted during a crash).
        let swept = service.sweep_node_data();
        if swept > 0 {
            tracing::info!(
                directories = swept,
                "removed the data of nodes that no longer exist"
            );
        }
        let last = if restored {
            std::fs::read(&path).unwrap_or_default()
        } else {
            Vec::new()
        };
        Ok(Arc::new(Persistence {
            dir: dir.to_path_buf(),
            service,
            last: tokio::sync::Mutex::new(last),
            restored,
            stopped: AtomicBool::new(false),
        }))
    }

    /// Writes the state file whenever the state changed, every [`WRITE_PERIOD`], until
    /// [`Persistence::save_on_shutdown`].
    pub fn spawn_writer(self: &Arc<Self>) {
        let me = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(WRITE_PERIOD);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let (mut seen, mut quiet) = (None, 0u32);
            loop {
                ticks.tick().await;
                if me.stopped.load(Ordering::SeqCst) {
                    break;
                }
                let touches = me.service.state_touches();
                quiet += 1;
                if seen == Some(touches) && quiet < FULL_CHECK_EVERY {
                    continue;
                }
                (seen, quiet) = (Some(touches), 0);
                if let Err(err) = me.save_state().await {
                    tracing::warn!(%err, "state file not written");
                }
            }
        });
    }

    /// Writes the state file if the state differs from what was last written; answers whether
    /// it wrote.
    pub async fn save_state(&self) -> io::Result<bool> {
        let mut last = self.last.lock().await;
        let bytes = self.service.state_document();
        if *last == bytes {
            return Ok(false);
        }
        let path = self.dir.join(STATE_FILE);
        let doc = bytes.clone();
        tokio::task::spawn_blocking(move || write_atomic(&path, &doc))
            .await
            .map_err(io::Error::other)??;
        *last = bytes;
        Ok(true)
    }

    /// At shutdown, before the nodes stop: saves every Redis/Valkey node's dataset, then the
    /// final state file, and stops the periodic writer.
    pub async fn save_on_shutdown(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        let saved = self.service.save_node_data(&self.dir.join(NODES_DIR)).await;
        match self.save_state().await {
            Ok(_) => tracing::info!(dir = %self.dir.display(), nodes = saved, "state saved"),
            Err(err) => tracing::error!(dir = %self.dir.display(), %err, "state file not written"),
        }
    }

    /// What `/health` says about persistence.
    pub fn report(&self) -> Value {
        json!({
            "data_dir": self.dir.display().to_string(),
            "state_file": self.dir.join(STATE_FILE).display().to_string(),
            "restored": self.restored,
        })
    }
}
