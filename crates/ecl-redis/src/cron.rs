//! The periodic work of every node (active expiry, CLIENT PAUSE expiry, scheduled BGSAVE, AOF
//! upkeep, ops/sec sampling), driven by one thread for the whole process.
//!
//! Place in the flow: [`crate::node::RedisNode::start`] registers each node here; a single
//! thread wakes every [`PERIOD`] and runs [`crate::engine::Engine::cron`] of every live node
//! in turn. One timer per node cost a runtime wake-up per node ten times a second, which
//! added up to a noticeable share of a core with a thousand idle nodes; one thread walking
//! the list costs one wake-up per period, and a quiet node (nothing to expire, no client
//! since its last cron) is visited only every [`QUIET_EVERY`] periods. A node leaves the
//! list when it shuts down or is dropped.

use crate::engine::Shared;
use std::sync::atomic::Ordering;
use std::sync::{Mutex, Once, Weak};
use std::time::Duration;

/// How often each node's cron runs (Redis' default `hz` of 10).
const PERIOD: Duration = Duration::from_millis(100);
/// A quiet node (see [`crate::engine::Engine::cron_quiet`]) that no client used since its
/// last cron runs it once every this many periods.
const QUIET_EVERY: u32 = 10;
/// Tries to take a busy node's lock before leaving its cron to the next period (a script
/// may hold the lock for long; the other nodes must not wait for it).
const LOCK_TRIES: u32 = 200;

/// A registered node: its shared state and the runtime its tasks run on (cron work such as
/// a scheduled BGSAVE may start tasks there).
struct Entry {
    shared: Weak<Shared>,
    runtime: tokio::runtime::Handle,
    /// The node's batch count when its cron last ran.
    seen: usize,
    /// Its last cron found it quiet.
    quiet: bool,
    /// Periods skipped since then.
    skipped: u32,
}

static NODES: Mutex<Vec<Entry>> = Mutex::new(Vec::new());
static THREAD: Once = Once::new();

/// Adds a node to the periodic work (starting the cron thread on first use).
pub(crate) fn register(shared: &std::sync::Arc<Shared>, runtime: tokio::runtime::Handle) {
    nodes().push(Entry {
        shared: std::sync::Arc::downgrade(shared),
        runtime,
        seen: 0,
        quiet: false,
        skipped: 0,
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

fn nodes() -> std::sync::MutexGuard<'static, Vec<Entry>> {
    NODES.lock().unwrap_or_else(|p| p.into_inner())
}

fn run() {
    loop {
        std::thread::sleep(PERIOD);
        let mut list = nodes();
        list.retain(|e| e.shared.upgrade().is_some_and(|s| !*s.shutdown.borrow()));
        for e in list.iter_mut() {
            if let Some(shared) = e.shared.upgrade() {
                let activity = shared.activity.load(Ordering::Relaxed);
                if e.quiet && activity == e.seen && e.skipped + 1 < QUIET_EVERY {
                    // Nothing to expire or sample and no client since: a cold engine is
                    // not worth touching every period.
                    e.skipped += 1;
                    continue;
                }
                let _rt = e.runtime.enter();
                e.quiet = tick(&shared);
                e.seen = activity;
                e.skipped = 0;
            }
        }
    }
}

/// One node's cron, unless its lock stays taken (then the next period runs it); whether the
/// node is quiet.
fn tick(shared: &Shared) -> bool {
    for _ in 0..LOCK_TRIES {
        if let Some(mut eng) = shared.try_lock() {
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
            return eng.cron_quiet();
        }
        std::thread::yield_now();
    }
    false
}
