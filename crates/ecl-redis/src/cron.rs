//! The periodic work of every node (active expiry, CLIENT PAUSE expiry, scheduled BGSAVE, AOF
//! upkeep, ops/sec sampling), driven by one thread for the whole process.
//!
//! Place in the flow: [`crate::node::RedisNode::start`] registers each node here; a single
//! thread wakes every [`PERIOD`] and runs [`crate::engine::Engine::cron`] of every live node
//! in turn. One timer per node cost a runtime wake-up per node ten times a second, which
//! added up to a noticeable share of a core with a thousand idle nodes; one thread walking
//! the list costs one wake-up per period.
//!
//! A quiet node (nothing to expire, no pause, no persistence work, no commands in the ops/sec
//! window) is parked: the walk passes over its entry without touching the node, since a cron
//! would find nothing to do until someone takes the node's lock again. That holder (a client
//! batch, the supervisor, replication, a snapshot) hands the node back as it releases the
//! lock ([`crate::engine::take_woken`]), and the next period runs its cron. Reading each idle
//! node's memory ten times a second was most of the idle cost: a thousand cache and TLB misses
//! per period.

use crate::engine::Shared;
use std::sync::atomic::Ordering;
use std::sync::{Mutex, Once, Weak};
use std::time::Duration;

/// How often each node's cron runs (Redis' default `hz` of 10).
const PERIOD: Duration = Duration::from_millis(100);
/// How often (in periods) parked nodes are checked for having been dropped or shut down,
/// so that their entries leave the list.
const SWEEP_EVERY: u32 = 600;
/// Tries to take a busy node's lock before leaving its cron to the next period (a script
/// may hold the lock for long; the other nodes must not wait for it).
const LOCK_TRIES: u32 = 200;

/// A registered node: its shared state and the runtime its tasks run on (cron work such as
/// a scheduled BGSAVE may start tasks there).
struct Entry {
    shared: Weak<Shared>,
    runtime: tokio::runtime::Handle,
    /// Left alone until [`wake`] names it.
    parked: bool,
}

static NODES: Mutex<Vec<Entry>> = Mutex::new(Vec::new());
static THREAD: Once = Once::new();

/// Adds a node to the periodic work (starting the cron thread on first use).
pub(crate) fn register(shared: &std::sync::Arc<Shared>, runtime: tokio::runtime::Handle) {
    lock(&NODES).push(Entry {
        shared: std::sync::Arc::downgrade(shared),
        runtime,
        parked: false,
    });
    THREAD.call_once(|| {
        let started = std::thread::Builder::new()
            .name("ecl-redis-cron".to_string())
            .spawn(run);
        if let Err(e) = started {
            tracing::error!(error = %e, "cannot start the redis cron thread");
        }
    });
}

fn lock<T>(m: &'static Mutex<T>) -> std::sync::MutexGuard<'static, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn run() {
    let mut period: u32 = 0;
    loop {
        std::thread::sleep(PERIOD);
        period = period.wrapping_add(1);
        let mut list = lock(&NODES);
        unpark_woken(&mut list);
        let sweep = period.is_multiple_of(SWEEP_EVERY);
        list.retain_mut(|e| {
            if e.parked {
                !sweep || e.live()
            } else {
                visit(e)
            }
        });
    }
}

/// Takes the nodes handed back off the parked ones. An entry's address stays its node's while
/// the entry lives (its `Weak` keeps the allocation).
fn unpark_woken(list: &mut [Entry]) {
    for addr in crate::engine::take_woken() {
        if let Some(e) = list.iter_mut().find(|e| e.shared.as_ptr() as usize == addr) {
            e.parked = false;
        }
    }
}

impl Entry {
    /// The node is neither dropped nor shut down.
    fn live(&self) -> bool {
        self.shared.upgrade().is_some_and(|s| !*s.shutdown.borrow())
    }
}

/// One period's visit of an unparked node; whether it stays on the list.
fn visit(e: &mut Entry) -> bool {
    let Some(shared) = e.shared.upgrade() else {
        return false;
    };
    if *shared.shutdown.borrow() {
        return false;
    }
    let _rt = e.runtime.enter();
    e.parked = tick(&shared);
    true
}

/// One node's cron, unless its lock stays taken (then the next period runs it); whether the
/// node is quiet and now parked.
fn tick(shared: &Shared) -> bool {
    for _ in 0..LOCK_TRIES {
        if let Some(mut eng) = shared.try_lock_for_cron() {
            if eng.cfg.cron_paused {
                return false;
            }
            eng.cron();
            // XREADGROUP waiters on keys that just expired are released now, not at the next
            // command.
            if eng.has_ready() {
                crate::command::dispatch::serve_blocked(&mut eng);
            }
            eng.limit_tracking_table();
            eng.flush_tracking();
            crate::persistence::cron(&mut eng);
            let quiet = eng.cron_quiet();
            // Set with the lock held: the next holder's release sees it and wakes the node.
            shared.cron_parked.store(quiet, Ordering::Relaxed);
            return quiet;
        }
        std::thread::yield_now();
    }
    false
}
