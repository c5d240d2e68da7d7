//! Snapshots of a node: the [`RedisNode`] API the supervisor uses (`snapshot_rdb`,
//! `load_rdb`) and the persistence commands' work (SAVE, BGSAVE, DEBUG RELOAD, INFO
//! persistence figures).
//!
//! Place in the flow: between the engine (databases under the node lock) and the file codec
//! in [`super::file`]. Consistency: an image is serialised while the node lock is held, so it
//! is one point in time, as Redis' fork gives; nothing else runs on the node meanwhile (see
//! the crate README for the cost at a million keys). Where images go: with a data directory
//! (`RedisConfig::data_dir`, shown as CONFIG `dir`), SAVE writes `dir/dbfilename` atomically
//! (temporary file, then rename) and a node starting with that file present loads it, as
//! Redis does; without one, SAVE keeps the image in memory only ([`RedisNode::last_saved_rdb`])
//! and nothing is ever written to disk.

use super::file::{self, LoadStats, RdbError, ReadOptions, WriteMeta};
use crate::RedisNode;
use crate::engine::Engine;
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
    /// Whether the last save failed (INFO `rdb_last_bgsave_status`).
    pub last_failed: bool,
    /// Seconds the last save took (INFO `rdb_last_bgsave_time_sec`), -1 before any.
    pub last_secs: Option<u64>,
    /// Keys loaded / skipped as expired by the last load.
    pub last_load: (u64, u64),
}

/// The node's current dataset as an RDB file image (caller holds the node lock).
pub fn image(eng: &Engine) -> Vec<u8> {
    let meta = WriteMeta {
        rdb_version: super::rdb_version(eng.info.compat),
        // `redis-ver` carries what INFO reports as `redis_version` (Valkey: the Redis release
        // it follows), which is what tools reading the field compare against.
        engine_version: crate::version::EngineVersion::parse(eng.info.flavor, &eng.info.version)
            .redis_version(&eng.info.version)
            .to_string(),
        ctime_s: eng.now_ms() / 1000,
        used_mem: eng.used_memory(),
    };
    file::write(&eng.dbs, &meta, eng.now_ms())
}

/// How this node reads files: its RDB version, databases, clock and eviction policy.
pub(crate) fn read_options(eng: &Engine) -> ReadOptions {
    ReadOptions {
        max_version: super::rdb_version(eng.info.compat),
        databases: eng.dbs.len(),
        now_ms: eng.now_ms(),
        lfu: eng.cfg.policy.is_lfu(),
    }
}

/// Replaces the dataset with the file's content. The file is parsed and verified in full
/// first; on any error the dataset is left untouched.
pub fn apply(eng: &mut Engine, bytes: &[u8]) -> Result<LoadStats, RdbError> {
    let (data, stats) = file::read(bytes, &read_options(eng))?;
    install(eng, data, &stats);
    Ok(stats)
}

/// Swaps a parsed dataset in: flush, insert with this node's encodings, mark as saved.
pub(crate) fn install(eng: &mut Engine, data: file::Dataset, stats: &LoadStats) {
    eng.flush_all();
    for (i, entries) in data.into_iter().enumerate() {
        for (key, mut entry) in entries {
            // Encodings follow this node's thresholds, as when Redis loads a file.
            crate::command::coll::fit_encoding_in(eng, &mut entry.value);
            eng.dbs[i].insert_entry(&key, entry);
        }
    }
    eng.persist.last_load = (stats.keys_loaded, stats.keys_expired);
    let now_s = eng.now_ms() / 1000;
    eng.mark_saved(now_s);
}

/// SAVE / BGSAVE: takes an image and stores it (file in the data directory, or memory).
/// Error text is the reply (without `ERR `).
pub fn save(eng: &mut Engine) -> Result<(), String> {
    let started = Instant::now();
    let img = image(eng);
    let stored = match &eng.persist.data_dir {
        Some(dir) => {
            let name = eng
                .cfg
                .get("dbfilename")
                .unwrap_or_else(|| "dump.rdb".into());
            write_atomically(dir, &name, &img)
        }
        None => {
            eng.persist.last_image = Some(Arc::new(img));
            Ok(())
        }
    };
    eng.persist.last_failed = stored.is_err();
    if let Err(e) = stored {
        tracing::warn!(error = %e, "RDB save failed");
        return Err(format!("Background save failed: {e}"));
    }
    eng.persist.saves += 1;
    eng.persist.last_secs = Some(started.elapsed().as_secs());
    let now_s = eng.now_ms() / 1000;
    eng.mark_saved(now_s);
    Ok(())
}

/// DEBUG RELOAD: save, then load the image back (a round trip of the whole dataset).
pub fn reload(eng: &mut Engine) -> Result<(), String> {
    let img = image(eng);
    apply(eng, &img).map_err(|e| format!("Error trying to load the RDB dump: {e}"))?;
    Ok(())
}

/// Writes `dir/name` through a temporary file and a rename, so a reader never sees half a file.
fn write_atomically(dir: &std::path::Path, name: &str, img: &[u8]) -> std::io::Result<()> {
    if name.contains('/') || name.is_empty() {
        return Err(std::io::Error::other(
            "dbfilename must be a plain file name",
        ));
    }
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!("temp-{}.rdb", std::process::id()));
    std::fs::write(&tmp, img)?;
    std::fs::rename(&tmp, dir.join(name))
}

/// The INFO `persistence` section. Figures are truthful for what this engine does: saves
/// are synchronous (BGSAVE too: the image is taken under the lock and stored before the reply),
/// so no save is ever "in progress", and there is no fork, copy-on-write or AOF.
pub fn info_section(eng: &Engine, s: &mut String) {
    use std::fmt::Write;
    let p = &eng.persist;
    let _ = write!(
        s,
        "# Persistence\r\nloading:0\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\ncurrent_cow_size:0\r\ncurrent_cow_size_age:0\r\ncurrent_fork_perc:0.00\r\ncurrent_save_keys_processed:0\r\ncurrent_save_keys_total:0\r\nrdb_changes_since_last_save:{}\r\nrdb_bgsave_in_progress:0\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\nrdb_last_bgsave_time_sec:{}\r\nrdb_current_bgsave_time_sec:-1\r\nrdb_saves:{}\r\nrdb_last_cow_size:0\r\nrdb_last_load_keys_expired:{}\r\nrdb_last_load_keys_loaded:{}\r\naof_enabled:0\r\naof_rewrite_in_progress:0\r\naof_rewrite_scheduled:0\r\naof_last_rewrite_time_sec:-1\r\naof_current_rewrite_time_sec:-1\r\naof_last_bgrewrite_status:ok\r\naof_rewrites:0\r\naof_rewrites_consecutive_failures:0\r\naof_last_write_status:ok\r\naof_last_cow_size:0\r\nmodule_fork_in_progress:0\r\nmodule_fork_last_cow_size:0\r\n",
        eng.dirty(),
        eng.lastsave(),
        if p.last_failed { "err" } else { "ok" },
        p.last_secs.map_or(-1, |s| s as i64),
        p.saves,
        p.last_load.1,
        p.last_load.0,
    );
}

/// At node start: remembers the data directory and loads the initial image, or else the
/// data directory's `dbfilename` when present. A file that does not load stops the start, as
/// Redis refuses to start on a corrupt RDB.
pub fn start_from(eng: &mut Engine, cfg: &crate::RedisConfig) -> std::io::Result<()> {
    eng.persist.data_dir = cfg.data_dir.clone();
    let from_dir = || -> std::io::Result<Option<Vec<u8>>> {
        let Some(dir) = &cfg.data_dir else {
            return Ok(None);
        };
        let name = eng
            .cfg
            .get("dbfilename")
            .unwrap_or_else(|| "dump.rdb".into());
        match std::fs::read(dir.join(name)) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    };
    let loaded = match &cfg.initial_rdb {
        Some(img) => apply(eng, &img.0),
        None => match from_dir()? {
            Some(bytes) => apply(eng, &bytes),
            None => return Ok(()),
        },
    };
    match loaded {
        Ok(stats) => {
            tracing::info!(
                keys = stats.keys_loaded,
                expired = stats.keys_expired,
                "RDB loaded"
            );
            Ok(())
        }
        Err(e) => Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
    }
}

impl RedisNode {
    /// The node's whole dataset as an RDB file image in the format of its engine version (one
    /// consistent point in time: it is serialised under the node lock, which blocks the
    /// node's commands meanwhile). Does not count as a SAVE.
    pub fn snapshot_rdb(&self) -> Vec<u8> {
        image(&self.shared.lock())
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

    /// The image the last SAVE/BGSAVE kept in memory (nodes without a data directory).
    pub fn last_saved_rdb(&self) -> Option<Arc<Vec<u8>>> {
        self.shared.lock().persist.last_image.clone()
    }
}
