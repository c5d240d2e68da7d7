//! The append-only file (`appendonly yes`) in Redis 7's multi-part layout: a manifest, one
//! base file (an RDB image, `aof-use-rdb-preamble yes`) and incremental files of RESP
//! commands, in `<dir>/<appenddirname>`.
//!
//! Place in the flow: the engine's propagation stream ([`crate::replication`]) already states
//! what every write leaves behind (rewritten relative expiries, expired/evicted keys as `DEL`,
//! `MULTI … EXEC` units for transactions and scripts); [`Aof::feed`] appends exactly that
//! stream, with its own `SELECT`s, to a buffer under the node lock. The buffer reaches the file
//! at the end of each batch ([`Engine::flush_aof`], before the batch's replies are written),
//! so a process killed after a reply has the write in the file; `appendfsync always` also
//! fsyncs there, `everysec` fsyncs from a blocking task once a second (a machine crash
//! loses at most about a second), `no` leaves it to the OS. BGREWRITEAOF and the automatic
//! rewrite live in [`rewrite`]; loading at start in [`load`]. Without a data directory
//! nothing is written (see the README's Differences).

pub mod load;
pub mod manifest;
pub mod rewrite;

use crate::command::OwnedArgv;
use crate::engine::Engine;
use manifest::{FileEntry, Manifest};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// `appendfsync`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fsync {
    /// fsync before the replies of the batch that wrote.
    Always,
    /// fsync once a second in the background.
    EverySec,
    /// Never fsync explicitly.
    No,
}

/// Counters that outlive an enabled AOF (INFO persistence).
#[derive(Debug, Default)]
pub struct AofStats {
    /// Finished rewrites (`aof_rewrites`).
    pub rewrites: u64,
    /// Whether the last rewrite failed (`aof_last_bgrewrite_status`).
    pub last_failed: bool,
    /// Failures in a row (`aof_rewrites_consecutive_failures`).
    pub consecutive_failures: u64,
    /// Seconds the last rewrite took, -1 before any.
    pub last_secs: Option<u64>,
}

/// An open append-only file.
#[derive(Debug)]
pub struct Aof {
    /// The AOF directory.
    pub dir: PathBuf,
    /// `appendfilename`: the prefix of every file name.
    pub name: String,
    /// The files that make it up.
    pub manifest: Manifest,
    /// The incremental file receiving writes.
    file: Arc<File>,
    /// Commands not yet written.
    buf: Vec<u8>,
    /// Database the file last selected (`None`: the next command selects).
    last_db: Option<usize>,
    /// `appendfsync`.
    pub fsync: Fsync,
    /// Written since the last fsync.
    unsynced: bool,
    /// When the last background fsync started.
    last_fsync: Instant,
    /// Set while a background fsync runs.
    fsync_running: Arc<AtomicBool>,
    /// Size of the base file.
    pub base_size: u64,
    /// Bytes in incremental files before the current one.
    pub old_incr_size: u64,
    /// Bytes in the current incremental file.
    pub cur_incr_size: u64,
    /// Total size right after the last rewrite (`aof_base_size`, the auto-rewrite baseline).
    pub size_at_rewrite: u64,
    /// Whether the last write reached the file (`aof_last_write_status`).
    pub write_ok: bool,
    /// The rewrite running, if any.
    pub rewrite: Option<rewrite::Running>,
    /// A rewrite waiting for the snapshot being collected to end.
    pub rewrite_scheduled: bool,
}

/// RESP of one command, appended to `out`.
pub fn put_command<'a>(out: &mut Vec<u8>, args: impl ExactSizeIterator<Item = &'a [u8]>) {
    out.push(b'*');
    out.extend_from_slice(args.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in args {
        out.push(b'$');
        out.extend_from_slice(a.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

fn put_owned(out: &mut Vec<u8>, c: &OwnedArgv) {
    let a = c.as_argv();
    let args: Vec<&[u8]> = a.iter_from(0).collect();
    put_command(out, args.into_iter());
}

/// Opens (creating) an incremental file for appending; returns it and its current size.
fn open_incr(dir: &Path, name: &str) -> std::io::Result<(File, u64)> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(name))?;
    let len = f.metadata()?.len();
    Ok((f, len))
}

/// File name of base number `seq`.
pub(crate) fn base_name(name: &str, seq: u64) -> String {
    format!("{name}.{seq}.base.rdb")
}

/// File name of incremental file number `seq`.
fn incr_name(name: &str, seq: u64) -> String {
    format!("{name}.{seq}.incr.aof")
}

fn file_size(dir: &Path, e: &FileEntry) -> u64 {
    std::fs::metadata(dir.join(&e.name)).map_or(0, |m| m.len())
}

impl Aof {
    /// Opens the AOF a manifest describes (after loading it), appending to its last
    /// incremental file, or to a new one when the manifest names none.
    fn open(
        eng: &Engine,
        dir: PathBuf,
        name: String,
        mut manifest: Manifest,
    ) -> std::io::Result<Aof> {
        if manifest.incrs.is_empty() {
            let seq = manifest.next_incr_seq();
            manifest.incrs.push(FileEntry {
                name: incr_name(&name, seq),
                seq,
            });
        }
        let cur = manifest.incrs.last().cloned().unwrap_or(FileEntry {
            name: incr_name(&name, 1),
            seq: 1,
        });
        let (file, cur_incr_size) = open_incr(&dir, &cur.name)?;
        manifest::write_durably(
            &dir,
            &format!("{name}.manifest"),
            manifest.render().as_bytes(),
        )?;
        let base_size = manifest.base.as_ref().map_or(0, |b| file_size(&dir, b));
        let old_incr_size = manifest.incrs[..manifest.incrs.len() - 1]
            .iter()
            .map(|e| file_size(&dir, e))
            .sum();
        Ok(Aof {
            dir,
            name,
            manifest,
            file: Arc::new(file),
            buf: Vec::new(),
            last_db: None,
            fsync: Fsync::of_cfg(&eng.cfg),
            unsynced: false,
            last_fsync: Instant::now(),
            fsync_running: Arc::new(AtomicBool::new(false)),
            base_size,
            old_incr_size,
            cur_incr_size,
            size_at_rewrite: base_size + old_incr_size + cur_incr_size,
            write_ok: true,
            rewrite: None,
            rewrite_scheduled: false,
        })
    }

    /// Appends one unit of the propagation stream (see [`crate::replication`]).
    pub fn feed(&mut self, parts: &[(usize, OwnedArgv)], wrap: bool) {
        if wrap {
            put_command(&mut self.buf, [b"MULTI".as_slice()].into_iter());
        }
        for (db, c) in parts {
            if self.last_db != Some(*db) {
                let d = db.to_string();
                put_command(
                    &mut self.buf,
                    [b"SELECT".as_slice(), d.as_bytes()].into_iter(),
                );
                self.last_db = Some(*db);
            }
            put_owned(&mut self.buf, c);
        }
        if wrap {
            put_command(&mut self.buf, [b"EXEC".as_slice()].into_iter());
        }
    }

    /// Total size of the files (`aof_current_size`).
    pub fn current_size(&self) -> u64 {
        self.base_size + self.old_incr_size + self.cur_incr_size + self.buf.len() as u64
    }

    /// Writes the buffer to the file (and fsyncs with `always`).
    fn write_out(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let res = (&*self.file).write_all(&self.buf);
        let res = res.and_then(|()| match self.fsync {
            Fsync::Always => self.file.sync_data(),
            _ => Ok(()),
        });
        match res {
            Ok(()) => {
                self.cur_incr_size += self.buf.len() as u64;
                self.unsynced = self.fsync != Fsync::Always;
                self.buf.clear();
                self.write_ok = true;
            }
            Err(e) => {
                // Kept in the buffer: the next flush tries again, as Redis retries.
                if self.write_ok {
                    tracing::error!(error = %e, "writing the AOF failed");
                }
                self.write_ok = false;
            }
        }
    }

    /// `everysec`: starts a background fsync when a second has passed since the last one.
    fn maybe_background_fsync(&mut self) {
        if self.fsync != Fsync::EverySec
            || !self.unsynced
            || self.last_fsync.elapsed().as_millis() < 1000
            || self.fsync_running.swap(true, Ordering::AcqRel)
        {
            return;
        }
        self.unsynced = false;
        self.last_fsync = Instant::now();
        let (file, running) = (self.file.clone(), self.fsync_running.clone());
        let job = move || {
            if let Err(e) = file.sync_data() {
                tracing::warn!(error = %e, "AOF fsync failed");
            }
            running.store(false, Ordering::Release);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(h) => drop(h.spawn_blocking(job)),
            Err(_) => job(),
        }
    }

    /// Switches writes to a new incremental file (named in the manifest before any write
    /// goes there); returns its entry.
    pub(crate) fn switch_incr(&mut self) -> std::io::Result<FileEntry> {
        self.write_out();
        let seq = self.manifest.next_incr_seq();
        let e = FileEntry {
            name: incr_name(&self.name, seq),
            seq,
        };
        let (file, _) = open_incr(&self.dir, &e.name)?;
        let mut next = self.manifest.clone();
        next.incrs.push(e.clone());
        self.write_manifest(&next)?;
        self.manifest = next;
        if self.unsynced {
            let _ = self.file.sync_data();
        }
        self.file = Arc::new(file);
        self.old_incr_size += self.cur_incr_size;
        self.cur_incr_size = 0;
        self.last_db = None;
        Ok(e)
    }

    pub(crate) fn write_manifest(&self, m: &Manifest) -> std::io::Result<()> {
        let name = format!("{}.manifest", self.name);
        manifest::write_durably(&self.dir, &name, m.render().as_bytes())
    }
}

impl Engine {
    /// Writes what this batch appended to the AOF (before its replies leave).
    pub fn flush_aof(&mut self) {
        if let Some(aof) = &mut self.persist.aof {
            aof.write_out();
        }
    }

    /// Whether write effects are recorded: streamed to replicas or appended to the AOF.
    pub fn feeding(&self) -> bool {
        self.repl.streaming() || self.persist.aof.is_some()
    }
}

/// The AOF directory of a node (`dir/appenddirname`), if it has a data directory.
fn aof_dir(eng: &Engine) -> Option<(PathBuf, String)> {
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

/// Whether `appendonly` is on.
pub fn wanted(eng: &Engine) -> bool {
    eng.cfg.get("appendonly").as_deref() == Some("yes")
}

/// At node start with `appendonly yes`: loads the AOF when its manifest exists (instead of
/// the RDB, as Redis does) and returns true; else returns false (the caller loads the RDB
/// and then calls [`create`]).
pub fn start(eng: &mut Engine) -> std::io::Result<bool> {
    let Some((dir, name)) = aof_dir(eng) else {
        return Ok(false);
    };
    let truncated_ok = eng.cfg.get("aof-load-truncated").as_deref() != Some("no");
    let Some(m) = load::load(eng, &dir, &name, truncated_ok)? else {
        return Ok(false);
    };
    tracing::info!(dir = %dir.display(), keys = eng.total_keys(), "AOF loaded");
    let aof = Aof::open(eng, dir, name, m)?;
    eng.persist.aof = Some(aof);
    Ok(true)
}

/// Turns the AOF on from the current dataset: a new base (the dataset's image), an empty
/// incremental file and a manifest naming them; files of an earlier AOF in the directory are
/// superseded and deleted. Done synchronously (node start, `CONFIG SET appendonly yes`).
pub fn create(eng: &mut Engine) -> std::io::Result<()> {
    let Some((dir, name)) = aof_dir(eng) else {
        tracing::warn!("appendonly yes without a data directory: nothing is written");
        return Ok(());
    };
    std::fs::create_dir_all(&dir)?;
    let old = std::fs::read_to_string(dir.join(format!("{name}.manifest")))
        .ok()
        .and_then(|t| Manifest::parse(&t).ok())
        .unwrap_or_default();
    let bseq = old.next_base_seq();
    let iseq = old.next_incr_seq();
    let base = FileEntry {
        name: base_name(&name, bseq),
        seq: bseq,
    };
    let img = crate::rdb::persist::image(eng);
    manifest::write_durably(&dir, &base.name, &img)?;
    let fresh = Manifest {
        base: Some(base),
        incrs: vec![FileEntry {
            name: incr_name(&name, iseq),
            seq: iseq,
        }],
        history: Vec::new(),
    };
    std::fs::File::create(dir.join(incr_name(&name, iseq)))?;
    let aof = Aof::open(eng, dir.clone(), name, fresh)?;
    remove_files(&dir, old.base.iter().chain(&old.incrs).chain(&old.history));
    eng.persist.aof = Some(aof);
    Ok(())
}

/// Deletes superseded files (a failure only leaves an unreferenced file behind).
pub(crate) fn remove_files<'a>(dir: &Path, files: impl Iterator<Item = &'a FileEntry>) {
    for f in files {
        if let Err(e) = std::fs::remove_file(dir.join(&f.name))
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(file = %f.name, error = %e, "cannot delete an old AOF file");
        }
    }
}

/// After CONFIG SET: follows `appendonly` (on: create from the dataset; off: close) and
/// `appendfsync`. The error is the CONFIG SET reply text.
pub fn config_changed(eng: &mut Engine) -> Result<(), String> {
    let on = wanted(eng);
    match (&mut eng.persist.aof, on) {
        (Some(aof), true) => aof.fsync = Fsync::of_cfg(&eng.cfg),
        (Some(_), false) => {
            eng.flush_aof();
            if let Some(aof) = eng.persist.aof.take()
                && aof.unsynced
            {
                let _ = aof.file.sync_data();
            }
        }
        (None, true) => {
            // Redis answers a failed enable with this wording and keeps `appendonly no`; the
            // reason (a missing data directory, an I/O error) replaces its "check the logs".
            let failed = match eng.persist.data_dir {
                None => Err("the node was started without a data directory".to_string()),
                Some(_) => create(eng).map_err(|e| e.to_string()),
            };
            if let Err(why) = failed {
                tracing::warn!(reason = %why, "appendonly yes refused");
                let _ = eng.cfg.set("appendonly", "no");
                return Err(format!(
                    "ERR CONFIG SET failed (possibly related to argument 'appendonly') - Unable to turn on AOF: {why}"
                ));
            }
        }
        (None, false) => {}
    }
    Ok(())
}

impl Fsync {
    fn of_cfg(cfg: &crate::config::Config) -> Fsync {
        match cfg.get("appendfsync").as_deref() {
            Some("always") => Fsync::Always,
            Some("no") => Fsync::No,
            _ => Fsync::EverySec,
        }
    }
}

/// The periodic work (node cron): write out stragglers, background fsync, automatic rewrite.
pub fn cron(eng: &mut Engine) {
    let Some(aof) = &mut eng.persist.aof else {
        return;
    };
    aof.write_out();
    aof.maybe_background_fsync();
    let due = aof.rewrite.is_none() && (aof.rewrite_scheduled || rewrite::auto_due(aof, &eng.cfg));
    if due && !crate::rdb::snapshot::in_progress(eng) {
        tracing::info!("starting an AOF rewrite (scheduled or automatic)");
        if let Err(e) = rewrite::start(eng) {
            tracing::warn!(error = %e, "AOF rewrite failed to start");
        }
    }
}

/// The `aof_*` lines of INFO persistence.
pub fn info_lines(eng: &Engine, s: &mut String) {
    use std::fmt::Write as _;
    let st = &eng.persist.aof_stats;
    let aof = eng.persist.aof.as_ref();
    let running = aof.and_then(|a| a.rewrite.as_ref());
    let _ = write!(
        s,
        "aof_enabled:{}\r\naof_rewrite_in_progress:{}\r\naof_rewrite_scheduled:{}\r\naof_last_rewrite_time_sec:{}\r\naof_current_rewrite_time_sec:{}\r\naof_last_bgrewrite_status:{}\r\naof_rewrites:{}\r\naof_rewrites_consecutive_failures:{}\r\naof_last_write_status:{}\r\naof_last_cow_size:0\r\nmodule_fork_in_progress:0\r\nmodule_fork_last_cow_size:0\r\n",
        u8::from(aof.is_some()),
        u8::from(running.is_some()),
        u8::from(aof.is_some_and(|a| a.rewrite_scheduled)),
        st.last_secs.map_or(-1, |v| v as i64),
        running.map_or(-1, |r| r.started.elapsed().as_secs() as i64),
        if st.last_failed { "err" } else { "ok" },
        st.rewrites,
        st.consecutive_failures,
        if aof.is_none_or(|a| a.write_ok) {
            "ok"
        } else {
            "err"
        },
    );
    if let Some(a) = aof {
        let _ = write!(
            s,
            "aof_current_size:{}\r\naof_base_size:{}\r\naof_pending_rewrite:0\r\naof_buffer_length:{}\r\naof_pending_bio_fsync:{}\r\naof_delayed_fsync:0\r\n",
            a.current_size(),
            a.size_at_rewrite,
            a.buf.len(),
            u8::from(a.fsync_running.load(Ordering::Acquire)),
        );
    }
}
