//! The append-only file's engine-side cycle: opening or creating it at start, following
//! `CONFIG SET appendonly`, writing each batch out, fsync timing, INFO lines.
//!
//! Place in the flow: the file writer and its format are [`crate::rdb::aof`]; this is where
//! the engine's state drives it (from the node cron, the dispatcher and `CONFIG SET`).

use crate::engine::Engine;
use crate::rdb::aof::manifest::{FileEntry, Manifest};
use crate::rdb::aof::{Aof, Fsync, incr_name, remove_files};
use std::sync::atomic::Ordering;

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

/// Whether `appendonly` is on.
pub fn wanted(eng: &Engine) -> bool {
    eng.cfg.get("appendonly").as_deref() == Some("yes")
}

/// Turns the AOF on from the current dataset: a new base (the dataset's image), an empty
/// incremental file and a manifest naming them; files of an earlier AOF in the directory are
/// superseded and deleted. Done synchronously (node start, `CONFIG SET appendonly yes`).
pub fn create(eng: &mut Engine) -> std::io::Result<()> {
    let Some((dir, name)) = super::aof_dir(eng) else {
        tracing::warn!("appendonly yes without a data directory: nothing is written");
        return Ok(());
    };
    let (old, base) = super::write_aof_base(eng, &dir, &name)?;
    let iseq = old.next_incr_seq();
    let fresh = Manifest {
        base: Some(base),
        incrs: vec![FileEntry {
            name: incr_name(&name, iseq),
            seq: iseq,
        }],
        history: Vec::new(),
    };
    std::fs::File::create(dir.join(incr_name(&name, iseq)))?;
    let aof = Aof::open(&eng.cfg, dir.clone(), name, fresh)?;
    remove_files(&dir, old.base.iter().chain(&old.incrs).chain(&old.history));
    eng.persist.aof = Some(aof);
    Ok(())
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

/// The periodic work (node cron): write out stragglers, background fsync, automatic rewrite.
pub fn cron(eng: &mut Engine) {
    let Some(aof) = &mut eng.persist.aof else {
        return;
    };
    aof.write_out();
    aof.maybe_background_fsync();
    let due = aof.rewrite.is_none()
        && (aof.rewrite_scheduled || super::aof_rewrite::auto_due(aof, &eng.cfg));
    if due && !eng.snapshot_in_progress() {
        tracing::info!("starting an AOF rewrite (scheduled or automatic)");
        if let Err(e) = super::aof_rewrite::start(eng) {
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
