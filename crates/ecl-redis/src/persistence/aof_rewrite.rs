//! BGREWRITEAOF and the automatic rewrite (`auto-aof-rewrite-percentage`/`-min-size`).
//!
//! Place in the flow: under the node lock, [`start`] switches writes to a new incremental file
//! (named in the manifest first, so a crash meanwhile still loads everything) and starts a
//! point-in-time snapshot at that same instant ([`crate::persistence::snapshot`]); a thread of its own
//! collects it a slice at a time and writes the new base file without the lock; [`finish`] then swaps the manifest atomically to
//! the new base plus the incremental files opened since, and deletes the superseded files.

use super::snapshot;
use crate::engine::Engine;
use crate::rdb::aof::manifest::{self, FileEntry};
use crate::rdb::aof::{Aof, Running, base_name, remove_files};
use std::time::Instant;

/// Whether the files grew enough since the last rewrite for an automatic one.
pub fn auto_due(aof: &Aof, cfg: &crate::config::Config) -> bool {
    let pct = cfg.get_i64("auto-aof-rewrite-percentage").unwrap_or(100);
    let min = cfg.get_i64("auto-aof-rewrite-min-size").unwrap_or(64 << 20) as u64;
    let size = aof.current_size();
    pct > 0 && size > min && size >= aof.size_at_rewrite.max(1) * (100 + pct as u64) / 100
}

/// Starts a rewrite: true when started, false when scheduled behind a snapshot being
/// collected (it starts from the cron when that one ends). The error is the reply text
/// (without `ERR `).
pub fn start(eng: &mut Engine) -> Result<bool, String> {
    let busy = eng.snapshot_in_progress();
    let node = eng.handle.clone();
    let Some(aof) = &mut eng.persist.aof else {
        return rewrite_without_aof(eng).map(|()| true);
    };
    if aof.rewrite.is_some() {
        return Err("Background append only file rewriting already in progress".into());
    }
    if busy {
        aof.rewrite_scheduled = true;
        return Ok(false);
    }
    aof.rewrite_scheduled = false;
    let incr = aof
        .switch_incr()
        .map_err(|e| format!("Can't open the append-only file: {e}"))?;
    let seq = aof.manifest.next_base_seq();
    let base = FileEntry {
        name: base_name(&aof.name, seq),
        seq,
    };
    aof.rewrite = Some(Running {
        started: Instant::now(),
        base: base.clone(),
        keep_from: incr.seq,
    });
    let dir = aof.dir.clone();
    // The new incremental file and the image start at this same instant (one lock hold).
    let Some(c) = snapshot::begin(eng) else {
        finish(eng, Err(std::io::Error::other("a snapshot is in progress")));
        return Err("Background save already in progress".into());
    };
    let write = move |img: Vec<u8>| {
        let len = img.len() as u64;
        manifest::write_durably(&dir, &base.name, &img).map(|()| len)
    };
    match node.upgrade() {
        Some(shared) => {
            let job = move || {
                let img = snapshot::collect(&shared, c);
                let res = write(img);
                finish(&mut shared.lock(), res);
            };
            if let Err(e) = std::thread::Builder::new()
                .name("aof-rewrite".into())
                .spawn(job)
            {
                for d in &mut eng.dbs {
                    d.snap = None;
                }
                finish(eng, Err(e));
            }
        }
        None => {
            let img = snapshot::collect_now(eng, c);
            finish(eng, write(img));
        }
    }
    Ok(true)
}

/// BGREWRITEAOF with the AOF off: the dataset becomes a new base file and the manifest names
/// it alone (an earlier AOF's files are superseded and deleted), as redis-server does, so
/// DEBUG LOADAOF, or a node started later with `appendonly yes`, loads it. Written at once
/// under the lock, as `CONFIG SET appendonly yes` writes its first base.
fn rewrite_without_aof(eng: &mut Engine) -> Result<(), String> {
    let Some((dir, name)) = super::aof_dir(eng) else {
        return Err("Background append only file rewriting needs a data directory".into());
    };
    let started = Instant::now();
    // redis-server forks a child for this rewrite too.
    eng.persist.forks += 1;
    let write = |eng: &Engine| -> std::io::Result<()> {
        let (old, base) = super::write_aof_base(eng, &dir, &name)?;
        let fresh = manifest::Manifest {
            base: Some(base),
            ..Default::default()
        };
        let manifest_name = format!("{name}.manifest");
        manifest::write_durably(&dir, &manifest_name, fresh.render().as_bytes())?;
        remove_files(&dir, old.base.iter().chain(&old.incrs).chain(&old.history));
        Ok(())
    };
    let res = write(eng);
    let stats = &mut eng.persist.aof_stats;
    stats.last_secs = Some(started.elapsed().as_secs());
    stats.last_failed = res.is_err();
    match res {
        Ok(()) => {
            stats.rewrites += 1;
            stats.consecutive_failures = 0;
            Ok(())
        }
        Err(e) => {
            stats.consecutive_failures += 1;
            Err(format!("Can't write the append-only file: {e}"))
        }
    }
}

/// Ends a rewrite: on success the manifest names the new base; the old files go.
fn finish(eng: &mut Engine, res: std::io::Result<u64>) {
    let stats = &mut eng.persist.aof_stats;
    // Turned off meanwhile: the new base is simply not referenced.
    let Some(aof) = &mut eng.persist.aof else {
        return;
    };
    let Some(run) = aof.rewrite.take() else {
        return;
    };
    let outcome = res.and_then(|len| {
        let mut next = aof.manifest.clone();
        let old: Vec<FileEntry> = next
            .base
            .take()
            .into_iter()
            .chain(next.incrs.iter().filter(|e| e.seq < run.keep_from).cloned())
            .collect();
        next.base = Some(run.base.clone());
        next.incrs.retain(|e| e.seq >= run.keep_from);
        aof.write_manifest(&next)?;
        aof.manifest = next;
        remove_files(&aof.dir, old.iter());
        aof.base_size = len;
        aof.old_incr_size = 0;
        aof.size_at_rewrite = aof.current_size();
        Ok(())
    });
    stats.last_secs = Some(run.started.elapsed().as_secs());
    match outcome {
        Ok(()) => {
            stats.rewrites += 1;
            stats.last_failed = false;
            stats.consecutive_failures = 0;
            tracing::info!("AOF rewrite finished");
        }
        Err(e) => {
            stats.last_failed = true;
            stats.consecutive_failures += 1;
            remove_files(&aof.dir, std::iter::once(&run.base));
            tracing::warn!(error = %e, "AOF rewrite failed");
        }
    }
}
