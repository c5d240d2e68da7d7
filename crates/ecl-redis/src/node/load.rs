//! Loading a node's data at start: the initial image the supervisor gives, or else the AOF
//! (replayed through the dispatcher, command by command) when `appendonly yes` and its
//! manifest exists, or else the data directory's `dbfilename`.
//!
//! Place in the flow: `RedisNode::start` calls [`start_from`] before the node listens; the
//! formats are `crate::rdb`, the persistence state and work `crate::persistence`.

use crate::engine::Engine;
use crate::persistence::apply;
use crate::persistence::{aof, aof_dir};
use crate::rdb::aof::Aof;

/// At node start: remembers the data directory and loads the initial image, or else (with
/// `appendonly yes`) the AOF when it exists, or else the data directory's `dbfilename` when
/// present. A file that does not load stops the start, as Redis refuses to start on a corrupt
/// RDB or AOF. With `appendonly yes` and no AOF yet, one is created from what was loaded.
pub fn start_from(eng: &mut Engine, cfg: &crate::RedisConfig) -> std::io::Result<()> {
    eng.persist.data_dir = cfg.data_dir.clone();
    if aof::wanted(eng) {
        if cfg.initial_rdb.is_none() && start_aof(eng)? {
            return Ok(());
        }
        load_initial(eng, cfg)?;
        aof::create(eng)?;
        // redis-server writes the first base at start outside its size accounting: INFO shows
        // `aof_current_size` as the incremental file alone and `aof_base_size` 0 until a
        // restart or a rewrite counts the files (checked on 7.0.15).
        if let Some(aof) = &mut eng.persist.aof {
            aof.base_size = 0;
            aof.size_at_rewrite = 0;
        }
        return Ok(());
    }
    load_initial(eng, cfg)
}

/// Loads the initial image, or else the data directory's `dbfilename` when present.
fn load_initial(eng: &mut Engine, cfg: &crate::RedisConfig) -> std::io::Result<()> {
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

/// At node start with `appendonly yes`: loads the AOF when its manifest exists (instead of
/// the RDB, as Redis does) and returns true; else returns false (the caller loads the RDB
/// and then calls `persistence::aof::create`).
fn start_aof(eng: &mut Engine) -> std::io::Result<bool> {
    let Some((dir, name)) = aof_dir(eng) else {
        return Ok(false);
    };
    let truncated_ok = eng.cfg.get("aof-load-truncated").as_deref() != Some("no");
    let Some(m) = crate::command::aof_load::load(eng, &dir, &name, truncated_ok)? else {
        return Ok(false);
    };
    tracing::info!(dir = %dir.display(), keys = eng.total_keys(), "AOF loaded");
    let aof = Aof::open(&eng.cfg, dir, name, m)?;
    eng.persist.aof = Some(aof);
    Ok(true)
}
