//! The append-only file (`appendonly yes`) in Redis 7's multi-part layout: a manifest, one
//! base file (an RDB image, `aof-use-rdb-preamble yes`) and incremental files of RESP
//! commands, in `<dir>/<appenddirname>`.
//!
//! Place in the flow: the engine's propagation stream ([`crate::replication`]) already states
//! what every write leaves behind (rewritten relative expiries, expired/evicted keys as `DEL`,
//! `MULTI … EXEC` units for transactions and scripts); [`Aof::feed`] appends exactly that
//! stream, with its own `SELECT`s, to a buffer under the node lock. The buffer reaches the file
//! at the end of each batch (`Engine::flush_aof`, in `crate::persistence::aof`, before the batch's replies are written),
//! so a process killed after a reply has the write in the file; `appendfsync always` also
//! fsyncs there, `everysec` fsyncs from a blocking task once a second (a machine crash
//! loses at most about a second), `no` leaves it to the OS. BGREWRITEAOF and the automatic
//! rewrite live in `persistence::aof_rewrite`; loading (at start and DEBUG LOADAOF) in `command::aof_load`;
//! the engine-side cycle (opening, config changes, fsync timing) in `persistence::aof`. Without a data directory
//! nothing is written (see the README's Differences).

pub mod manifest;

use crate::argv::OwnedArgv;
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
    pub(crate) file: Arc<File>,
    /// Commands not yet written.
    pub(crate) buf: Vec<u8>,
    /// Database the file last selected (`None`: the next command selects).
    pub(crate) last_db: Option<usize>,
    /// `appendfsync`.
    pub fsync: Fsync,
    /// Written since the last fsync.
    pub(crate) unsynced: bool,
    /// When the last background fsync started.
    pub(crate) last_fsync: Instant,
    /// Set while a background fsync runs.
    pub(crate) fsync_running: Arc<AtomicBool>,
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
    pub rewrite: Option<Running>,
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
pub(crate) fn incr_name(name: &str, seq: u64) -> String {
    format!("{name}.{seq}.incr.aof")
}

fn file_size(dir: &Path, e: &FileEntry) -> u64 {
    std::fs::metadata(dir.join(&e.name)).map_or(0, |m| m.len())
}

impl Aof {
    /// Opens the AOF a manifest describes (after loading it), appending to its last
    /// incremental file, or to a new one when the manifest names none.
    pub(crate) fn open(
        cfg: &crate::config::Config,
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
            fsync: Fsync::of_cfg(cfg),
            unsynced: false,
            last_fsync: Instant::now(),
            fsync_running: Arc::new(AtomicBool::new(false)),
            base_size,
            old_incr_size,
            cur_incr_size,
            // redis-server, not knowing the size its last rewrite ended at, takes the base
            // file's after a restart (INFO `aof_base_size`, the auto-rewrite baseline).
            size_at_rewrite: base_size,
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
    pub(crate) fn write_out(&mut self) {
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
    pub(crate) fn maybe_background_fsync(&mut self) {
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

impl Fsync {
    pub(crate) fn of_cfg(cfg: &crate::config::Config) -> Fsync {
        match cfg.get("appendfsync").as_deref() {
            Some("always") => Fsync::Always,
            Some("no") => Fsync::No,
            _ => Fsync::EverySec,
        }
    }
}

/// A rewrite in progress.
#[derive(Debug)]
pub struct Running {
    /// When it started (`aof_current_rewrite_time_sec`).
    pub started: Instant,
    /// The base file being written.
    pub(crate) base: FileEntry,
    /// First incremental file that follows the new base.
    pub(crate) keep_from: u64,
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
