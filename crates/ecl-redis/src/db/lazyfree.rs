//! Freeing large values off the node's thread: UNLINK, FLUSHALL/FLUSHDB ASYNC and the
//! `lazyfree-lazy-user-del` / `lazyfree-lazy-user-flush` settings, as Redis' lazy free does.
//!
//! Place in the flow: a command that removes a value hands it to [`LazyFree::release`] (a
//! flush hands the emptied table to [`LazyFree::release_table`]). A value whose freeing costs
//! more than [`EFFORT_THRESHOLD`] allocations (Redis' measure: a hashtable's entries, a list's
//! nodes, a stream's nodes and pending entries) goes to one process-wide thread that drops
//! it; a smaller one is dropped at once, where the cost of the hand-over would be larger.
//! The node counts both ways for INFO (`lazyfree_pending_objects`, `lazyfreed_objects`).

use super::{Dict, Entry, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SendError, Sender, channel};
use std::sync::{Arc, OnceLock};

/// Above this effort a value is freed in the background (Redis' `LAZYFREE_THRESHOLD`).
pub const EFFORT_THRESHOLD: usize = 64;

/// One node's lazy-free counters.
#[derive(Debug, Default)]
struct Counters {
    /// Handed over and not yet dropped.
    pending: AtomicU64,
    /// Dropped by the background thread since the last CONFIG RESETSTAT.
    freed: AtomicU64,
}

/// Something to drop in the background, the objects it counts for, and whose counters.
struct Job {
    garbage: Box<dyn Send>,
    objects: u64,
    counters: Arc<Counters>,
}

/// A node's handle on the background freeing.
#[derive(Clone, Debug, Default)]
pub struct LazyFree {
    counters: Arc<Counters>,
}

impl LazyFree {
    /// Drops `value`: in the background when freeing it is costly, else here.
    pub fn release(&self, value: Value) {
        if free_effort(&value) > EFFORT_THRESHOLD {
            self.hand_over(Box::new(value), 1);
        }
    }

    /// Drops a database's emptied table of `keys` keys in the background.
    pub fn release_table(&self, table: Dict<Entry>, keys: u64) {
        if keys > 0 {
            self.hand_over(Box::new(table), keys);
        }
    }

    /// INFO `lazyfree_pending_objects`.
    pub fn pending(&self) -> u64 {
        self.counters.pending.load(Ordering::Acquire)
    }

    /// INFO `lazyfreed_objects`.
    pub fn freed(&self) -> u64 {
        self.counters.freed.load(Ordering::Acquire)
    }

    /// CONFIG RESETSTAT.
    pub fn reset_stats(&self) {
        self.counters.freed.store(0, Ordering::Release);
    }

    fn hand_over(&self, garbage: Box<dyn Send>, objects: u64) {
        self.counters.pending.fetch_add(objects, Ordering::AcqRel);
        let job = Job {
            garbage,
            objects,
            counters: self.counters.clone(),
        };
        // Without the thread (it could not start, or has gone), the job is done here.
        match worker() {
            Some(tx) => {
                if let Err(SendError(job)) = tx.send(job) {
                    finish(job);
                }
            }
            None => finish(job),
        }
    }
}

/// Drops a job's garbage and counts it.
fn finish(job: Job) {
    let Job {
        garbage,
        objects,
        counters,
    } = job;
    drop(garbage);
    counters.pending.fetch_sub(objects, Ordering::AcqRel);
    counters.freed.fetch_add(objects, Ordering::AcqRel);
}

/// The process-wide freeing thread's queue, started on first use (`None` if it cannot start).
fn worker() -> Option<&'static Sender<Job>> {
    static WORKER: OnceLock<Option<Sender<Job>>> = OnceLock::new();
    WORKER
        .get_or_init(|| {
            let (tx, rx) = channel::<Job>();
            let spawned = std::thread::Builder::new()
                .name("lazyfree".into())
                .spawn(move || rx.into_iter().for_each(finish));
            spawned.ok().map(|_| tx)
        })
        .as_ref()
}

/// How many allocations freeing `value` takes, as Redis estimates it: one for a string or a
/// compact (listpack, intset) encoding, the entries of a hashtable or skiplist, the nodes of a
/// list (about 8 KiB each), a stream's nodes plus its groups and their pending entries.
pub fn free_effort(value: &Value) -> usize {
    match value {
        Value::Str(_) => 1,
        Value::List(l) if l.encoding() == "quicklist" => l.mem_size() / 8192 + 1,
        Value::Hash(h) if h.encoding() == "hashtable" => h.len(),
        Value::Set(s) if s.encoding() == "hashtable" => s.len(),
        Value::ZSet(z) if z.encoding() == "skiplist" => z.len(),
        Value::Stream(s) => {
            let groups: usize = s.groups.values().map(|g| 1 + g.pel.len()).sum();
            s.node_count() + groups
        }
        _ => 1,
    }
}
