//! Persistence of a node: the work behind the supervisor's snapshots (`node::persistence`:
//! `snapshot_rdb`, `load_rdb`) and the persistence commands (SAVE, BGSAVE, DEBUG RELOAD, INFO
//! persistence figures).
//!
//! Place in the flow: between the engine (databases under the node lock) and the file codec
//! in [`crate::rdb::file`]. Consistency: SAVE and DEBUG RELOAD serialise under the node lock;
//! BGSAVE and `snapshot_rdb` take the same point-in-time image a slice at a time while the
//! node keeps serving ([`snapshot`]), as Redis' fork gives. Where images go: with a data directory
//! (`RedisConfig::data_dir`, shown as CONFIG `dir`), SAVE writes `dir/dbfilename` atomically
//! (temporary file, then rename) and a node starting with that file present loads it, as
//! Redis does; without one, SAVE keeps the image in memory only (`RedisNode::last_saved_rdb`)
//! and nothing is ever written to disk.

pub mod aof;
pub mod aof_rewrite;
pub mod snapshot;

use crate::db::{Entry, Key};
use crate::engine::Engine;
use crate::rdb::aof::manifest::{FileEntry, Manifest};
use crate::rdb::file::{self, LoadStats, RdbError, ReadOptions, WriteMeta};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// The node's current dataset and function libraries as an RDB file image (caller holds the
/// node lock).
pub fn image(eng: &Engine) -> Vec<u8> {
    let mut img = file::write(&eng.dbs, &write_meta(eng), eng.now_ms());
    crate::rdb::functions::append_to_file(&mut img, &eng.scripts.functions.codes());
    img
}

/// The header fields of an image of this node taken now.
pub fn write_meta(eng: &Engine) -> WriteMeta {
    WriteMeta {
        rdb_version: crate::rdb::rdb_version(eng.info.compat),
        // `redis-ver` carries what INFO reports as `redis_version` (Valkey: the Redis release
        // it follows), which is what tools reading the field compare against.
        engine_version: eng
            .info
            .release
            .redis_version(&eng.info.version)
            .to_string(),
        ctime_s: eng.now_ms() / 1000,
        used_mem: eng.used_memory(),
    }
}

/// How this node reads files: its RDB version, databases, clock and eviction policy.
pub(crate) fn read_options(eng: &Engine) -> ReadOptions {
    ReadOptions {
        max_version: crate::rdb::rdb_version(eng.info.compat),
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
    // A replica taking its primary's full copy drops its old data in the background with
    // `replica-lazy-flush yes`, as Redis does.
    if eng.repl.is_replica() && eng.cfg.get("replica-lazy-flush").as_deref() == Some("yes") {
        eng.flush_all_lazily();
    } else {
        eng.flush_all();
    }
    for (i, entries) in data.into_iter().enumerate() {
        for (key, mut entry) in entries {
            // Encodings follow this node's thresholds, as when Redis loads a file.
            crate::engine::encodings::fit_encoding_in(eng, &mut entry.value);
            eng.dbs[i].insert_entry(&key, entry);
        }
    }
    install_from_rdb(eng, &stats.functions);
    eng.persist.last_load = (stats.keys_loaded, stats.keys_expired);
    let now_s = eng.now_ms() / 1000;
    eng.mark_saved(now_s);
    rebase_aof(eng);
}

/// The dataset was replaced wholesale (a load, a replica's full copy): an open AOF gets a new
/// base from it, as Redis rewrites its AOF after such a load.
pub fn rebase_aof(eng: &mut Engine) {
    if eng.persist.aof.is_some()
        && let Err(e) = aof_rewrite::start(eng)
    {
        tracing::warn!(error = %e, "AOF rewrite after a load failed to start");
    }
}

/// SAVE / BGSAVE: takes an image and stores it (file in the data directory, or memory).
/// Error text is the reply (without `ERR `).
pub fn save(eng: &mut Engine) -> Result<(), String> {
    if eng.persist.bgsave.is_some() {
        return Err("Background save already in progress".into());
    }
    let started = Instant::now();
    let dirty = eng.dirty();
    let img = image(eng);
    let stored = store(target(eng), img);
    finish_save(eng, stored, started, dirty)
}

/// Where a save goes: `dir/dbfilename`, or memory (`None`).
fn target(eng: &Engine) -> Option<(PathBuf, String)> {
    let dir = eng.persist.data_dir.clone()?;
    let name = eng
        .cfg
        .get("dbfilename")
        .unwrap_or_else(|| "dump.rdb".into());
    Some((dir, name))
}

/// Writes an image to its file (no lock needed); a memory target keeps it for the lock holder.
fn store(to: Option<(PathBuf, String)>, img: Vec<u8>) -> std::io::Result<Option<Vec<u8>>> {
    match to {
        Some((dir, name)) => write_atomically(&dir, &name, &img).map(|()| None),
        None => Ok(Some(img)),
    }
}

/// Records a finished save (INFO, LASTSAVE, the in-memory image).
fn finish_save(
    eng: &mut Engine,
    stored: std::io::Result<Option<Vec<u8>>>,
    started: Instant,
    dirty_at_start: u64,
) -> Result<(), String> {
    eng.persist.last_failed = stored.is_err();
    match stored {
        Err(e) => {
            tracing::warn!(error = %e, "RDB save failed");
            return Err(format!("Background save failed: {e}"));
        }
        Ok(Some(img)) => eng.persist.last_image = Some(Arc::new(img)),
        Ok(None) => {}
    }
    eng.persist.saves += 1;
    eng.persist.last_secs = Some(started.elapsed().as_secs());
    let now_s = eng.now_ms() / 1000;
    eng.mark_saved_from(dirty_at_start, now_s);
    Ok(())
}

/// BGSAVE: starts a non-stalling snapshot whose image is written by a thread of its own (see
/// [`snapshot`]). Returns the status reply; the error is the reply text.
pub fn bgsave(eng: &mut Engine, schedule: bool) -> Result<&'static str, String> {
    if eng.persist.bgsave.is_some() {
        return Err("Background save already in progress".into());
    }
    if eng.snapshot_in_progress() {
        if schedule {
            eng.persist.bgsave_scheduled = true;
            return Ok("Background saving scheduled");
        }
        return Err("Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.".into());
    }
    let Some(shared) = eng.handle.upgrade() else {
        save(eng)?;
        return Ok("Background saving started");
    };
    let Some(c) = snapshot::begin(eng) else {
        return Err("Background save already in progress".into());
    };
    let started = Instant::now();
    let (to, dirty) = (target(eng), eng.dirty());
    eng.persist.bgsave = Some(started);
    eng.persist.bgsave_collecting = true;
    let job = move || bgsave_job(&shared, c, to, (started, dirty));
    if let Err(e) = std::thread::Builder::new().name("bgsave".into()).spawn(job) {
        // The closure (and the collector in it) is gone: drop the cursors it set.
        for d in &mut eng.dbs {
            d.snap = None;
        }
        eng.persist.bgsave = None;
        eng.persist.bgsave_collecting = false;
        return Err(format!("Background save failed: {e}"));
    }
    Ok("Background saving started")
}

/// The thread of the BGSAVE started at `started`: collect, serialise, write a temporary file,
/// rename it over `dbfilename`. It stops at the next slice or chunk once BGSAVE CANCEL took the
/// save away, removing its temporary file, so the previous file is never touched; the rename
/// and the bookkeeping happen under the node lock, where CANCEL runs, so a save is either
/// cancelled or complete.
fn bgsave_job(
    shared: &crate::engine::Shared,
    c: snapshot::Collector,
    to: Option<(PathBuf, String)>,
    (started, dirty): (Instant, u64),
) {
    let live = |eng: &Engine| eng.persist.bgsave == Some(started);
    let done = |eng: &mut Engine| eng.persist.bgsave_collecting = false;
    let Some(img) = snapshot::collect_while(shared, c, live, done) else {
        return;
    };
    let written = match &to {
        Some((dir, name)) => match write_temp(shared, dir, name, &img, live) {
            Ok(Some(tmp)) => Ok(Some(tmp)),
            Ok(None) => return,
            Err(e) => Err(e),
        },
        None => Ok(None),
    };
    let mut eng = shared.lock();
    if !live(&eng) {
        if let Ok(Some(tmp)) = &written {
            let _ = std::fs::remove_file(tmp);
        }
        return;
    }
    let stored = match (written, &to) {
        (Ok(Some(tmp)), Some((dir, name))) => std::fs::rename(&tmp, dir.join(name)).map(|()| None),
        (Ok(_), _) => Ok(Some(img)),
        (Err(e), _) => Err(e),
    };
    eng.persist.bgsave = None;
    let _ = finish_save(&mut eng, stored, started, dirty);
}

/// Bytes written between two checks that the save is still wanted.
const WRITE_CHUNK: usize = 1 << 20;

/// Writes `img` to a temporary file of its own in `dir`, a chunk at a time, checking `live`
/// under the node lock between chunks. Its path once written; `None` (and no file left) when
/// the save was cancelled meanwhile.
fn write_temp(
    shared: &crate::engine::Shared,
    dir: &std::path::Path,
    name: &str,
    img: &[u8],
    live: impl Fn(&Engine) -> bool,
) -> std::io::Result<Option<PathBuf>> {
    use std::io::Write;
    check_file_name(name)?;
    std::fs::create_dir_all(dir)?;
    let tmp = temp_path(dir);
    let mut f = std::fs::File::create(&tmp)?;
    for chunk in img.chunks(WRITE_CHUNK) {
        if !live(&shared.lock()) {
            drop(f);
            let _ = std::fs::remove_file(&tmp);
            return Ok(None);
        }
        if let Err(e) = f.write_all(chunk) {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    }
    f.sync_all()?;
    Ok(Some(tmp))
}

/// A temporary file name no other save of this process uses (a cancelled save may still be
/// removing its own while the next one writes).
fn temp_path(dir: &std::path::Path) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    dir.join(format!("temp-{}-{n}.rdb", std::process::id()))
}

/// `dbfilename` must name a file in `dir`.
fn check_file_name(name: &str) -> std::io::Result<()> {
    if name.contains('/') || name.is_empty() {
        return Err(std::io::Error::other(
            "dbfilename must be a plain file name",
        ));
    }
    Ok(())
}

/// The periodic persistence work (node cron): the AOF's, and a scheduled BGSAVE once no
/// snapshot is being collected.
pub fn cron(eng: &mut Engine) {
    aof::cron(eng);
    if eng.persist.bgsave_scheduled && !eng.snapshot_in_progress() {
        eng.persist.bgsave_scheduled = false;
        if let Err(e) = bgsave(eng, false) {
            tracing::warn!(error = %e, "scheduled BGSAVE failed to start");
        }
    }
}

/// DEBUG RELOAD's options.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReloadOptions {
    /// Load the last saved image instead of saving one now.
    pub nosave: bool,
    /// Load on top of the dataset instead of replacing it.
    pub noflush: bool,
    /// With `noflush`: what the image holds replaces what has the same name.
    pub merge: bool,
}

/// The AOF directory of a node (`dir/appenddirname`), if it has a data directory.
pub(crate) fn aof_dir(eng: &Engine) -> Option<(PathBuf, String)> {
    let dir = eng.persist.data_dir.as_ref()?;
    let sub = eng
        .cfg
        .get("appenddirname")
        .unwrap_or_else(|| "appendonlydir".into());
    let name = eng
        .cfg
        .get("appendfilename")
        .unwrap_or_else(|| "appendonly.aof".into());
    Some((dir.join(sub), name))
}

/// Writes the dataset as the next base file of the AOF in `dir` (created if missing): returns
/// the manifest the directory held before (its files are the caller's to supersede) and the
/// new base's entry. Turning the AOF on and BGREWRITEAOF with the AOF off both start here.
pub(crate) fn write_aof_base(
    eng: &Engine,
    dir: &std::path::Path,
    name: &str,
) -> std::io::Result<(Manifest, FileEntry)> {
    std::fs::create_dir_all(dir)?;
    let old = std::fs::read_to_string(dir.join(format!("{name}.manifest")))
        .ok()
        .and_then(|t| Manifest::parse(&t).ok())
        .unwrap_or_default();
    let seq = old.next_base_seq();
    let base = FileEntry {
        name: crate::rdb::aof::base_name(name, seq),
        seq,
    };
    crate::rdb::aof::manifest::write_durably(dir, &base.name, &image(eng))?;
    Ok((old, base))
}

/// DEBUG RELOAD: a SAVE (unless NOSAVE), then the saved image loaded back. On top of the
/// dataset (NOFLUSH) a key or library that already exists is refused unless MERGE, with the
/// dataset left as it was (redis-server stops on such a key).
pub fn reload(eng: &mut Engine, opts: ReloadOptions) -> Result<(), String> {
    const FAILED: &str = "Error trying to load the RDB dump";
    if !opts.nosave {
        save(eng)?;
    }
    let img = match target(eng) {
        Some((dir, name)) => Arc::new(std::fs::read(dir.join(name)).map_err(|_| FAILED)?),
        None => eng.persist.last_image.clone().ok_or(FAILED)?,
    };
    let (data, stats) = file::read(&img, &read_options(eng)).map_err(|_| FAILED)?;
    if !opts.noflush {
        install(eng, data, &stats);
        return Ok(());
    }
    let codes = &stats.functions;
    if !opts.merge {
        let existing = |(i, entries): (usize, &Vec<(Key, Entry)>)| {
            entries
                .iter()
                .any(|(k, _)| eng.dbs[i].peek_raw(k).is_some())
        };
        if data.iter().enumerate().any(existing) || eng.scripts.functions.any_named_in(codes) {
            return Err(FAILED.into());
        }
    }
    for (i, entries) in data.into_iter().enumerate() {
        for (key, mut entry) in entries {
            crate::engine::encodings::fit_encoding_in(eng, &mut entry.value);
            eng.dbs[i].insert_entry(&key, entry);
        }
    }
    let (ver, num) = crate::scripting::lua_version_of(eng.info.compat);
    let policy = crate::scripting::functions::RestorePolicy::Replace;
    eng.scripts.functions.restore(codes, policy, (&ver, num))
}

/// Writes `dir/name` through a temporary file and a rename, so a reader never sees half a file.
fn write_atomically(dir: &std::path::Path, name: &str, img: &[u8]) -> std::io::Result<()> {
    check_file_name(name)?;
    std::fs::create_dir_all(dir)?;
    let tmp = temp_path(dir);
    std::fs::write(&tmp, img)?;
    std::fs::rename(&tmp, dir.join(name))
}

/// The INFO `persistence` section. Figures are truthful for what this engine does: SAVE is
/// synchronous; BGSAVE, BGREWRITEAOF and snapshots are collected a slice at a time (see
/// [`snapshot`]), shown in progress meanwhile; there is no fork, so no copy-on-write
/// figures; the `aof_*` lines come from [`aof`].
pub fn info_section(eng: &Engine, s: &mut String) {
    use std::fmt::Write;
    let p = &eng.persist;
    let (done, total) = if eng.snapshot_in_progress() {
        p.save_progress
    } else {
        (0, 0)
    };
    let _ = write!(
        s,
        "# Persistence\r\nloading:0\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\ncurrent_cow_size:0\r\ncurrent_cow_size_age:0\r\ncurrent_fork_perc:0.00\r\ncurrent_save_keys_processed:{done}\r\ncurrent_save_keys_total:{total}\r\nrdb_changes_since_last_save:{}\r\nrdb_bgsave_in_progress:{}\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\nrdb_last_bgsave_time_sec:{}\r\nrdb_current_bgsave_time_sec:{}\r\nrdb_saves:{}\r\nrdb_last_cow_size:0\r\nrdb_last_load_keys_expired:{}\r\nrdb_last_load_keys_loaded:{}\r\n",
        eng.dirty(),
        u8::from(p.bgsave.is_some()),
        eng.lastsave(),
        if p.last_failed { "err" } else { "ok" },
        p.last_secs.map_or(-1, |s| s as i64),
        p.bgsave.map_or(-1, |t| t.elapsed().as_secs() as i64),
        p.saves,
        p.last_load.1,
        p.last_load.0,
    );
    aof::info_lines(eng, s);
}

/// Replaces the node's libraries with those of a loaded RDB file or a primary's full copy
/// (Redis empties the functions with the dataset on such loads).
pub fn install_from_rdb(eng: &mut crate::engine::Engine, codes: &[Vec<u8>]) {
    let (ver, num) = crate::scripting::lua_version_of(eng.info.compat);
    let res = eng.scripts.functions.restore(
        codes,
        crate::scripting::functions::RestorePolicy::Flush,
        (&ver, num),
    );
    if let Err(e) = res {
        tracing::warn!(error = %e, "function libraries of the loaded data could not be loaded");
    }
}
