//! The node lock: [`Shared`], the state a node's tasks share (the engine behind its mutex,
//! shutdown, connection counts, the running script seen without the lock), and the ways to
//! take the lock without stalling a runtime thread.
//!
//! Place in the flow: below every task of a node. Connections take it once per batch
//! ([`lock_async`]); the cron thread, background snapshots, replication links and the node
//! handle take it with [`Shared::lock`], [`Shared::try_lock`] or [`Shared::lock_wait`].

use super::Engine;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// Parked nodes handed back since the cron thread ([`crate::cron`]) last looked, by the
/// address of their [`Shared`]: filled by the release of a parked node's lock.
static WOKEN: Mutex<Vec<usize>> = Mutex::new(Vec::new());

/// Takes the list of parked nodes handed back (see [`Shared::cron_parked`]).
pub(crate) fn take_woken() -> Vec<usize> {
    std::mem::take(&mut *lock_list(&WOKEN))
}

fn lock_list(m: &Mutex<Vec<usize>>) -> MutexGuard<'_, Vec<usize>> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// State shared by the node's tasks.
#[derive(Debug)]
pub struct Shared {
    /// The node lock.
    pub engine: Mutex<Engine>,
    /// Flipped to true on shutdown.
    pub shutdown: watch::Sender<bool>,
    /// Live connection tasks.
    pub conns: AtomicUsize,
    /// Signalled when the last connection ends.
    pub idle: Notify,
    /// The running script, seen without the lock (BUSY replies, SCRIPT KILL).
    pub script: Arc<crate::scripting::ScriptWatch>,
    /// Where connections queue their turns while a script is busy (the engine's own).
    pub visits: Arc<super::visits::Visits>,
    /// Connection tasks waiting in [`lock_async`] for the lock.
    pub waiters: AtomicUsize,
    /// The cron thread ([`crate::cron`]) found the node quiet and stopped visiting it; the
    /// next holder of the lock (a client batch, the supervisor, replication, a snapshot)
    /// hands it back. Read and written only with the lock held.
    pub cron_parked: AtomicBool,
    /// Signalled when a [`NodeGuard`] is released while tasks wait: a waiter sleeps until
    /// the holder is done instead of spinning (on a small machine a spinning waiter takes the
    /// CPU the holder and the clients need).
    pub unlocked: Notify,
}

/// The node lock held: the engine, and on release a wake-up for one task waiting in
/// [`lock_async`].
pub struct NodeGuard<'a> {
    guard: Option<MutexGuard<'a, Engine>>,
    shared: &'a Shared,
    /// A holder other than the cron thread: its release wakes a parked node's cron.
    wakes_cron: bool,
}

impl std::ops::Deref for NodeGuard<'_> {
    type Target = Engine;
    fn deref(&self) -> &Engine {
        // Only `drop` empties the option.
        self.guard
            .as_deref()
            .expect("node guard used after release")
    }
}

impl std::ops::DerefMut for NodeGuard<'_> {
    fn deref_mut(&mut self) -> &mut Engine {
        self.guard
            .as_deref_mut()
            .expect("node guard used after release")
    }
}

impl Drop for NodeGuard<'_> {
    fn drop(&mut self) {
        // Still under the lock, which is what orders the flag with the cron's parking.
        if self.wakes_cron && self.shared.cron_parked.load(Ordering::Relaxed) {
            self.shared.cron_parked.store(false, Ordering::Relaxed);
            lock_list(&WOKEN).push(self.shared as *const Shared as usize);
        }
        drop(self.guard.take());
        // Pairs with the waiter's count-then-retry in `lock_async`: either the waiter's retry
        // sees the lock free, or this load sees the waiter.
        std::sync::atomic::fence(Ordering::SeqCst);
        if self.shared.waiters.load(Ordering::SeqCst) > 0 {
            self.shared.unlocked.notify_one();
        }
    }
}

impl Shared {
    /// Takes the node lock. A panic inside a command never poisons it: the dispatcher catches
    /// the panic while the lock is held and marks the node broken (see
    /// [`crate::command::dispatch::dispatch`]). A panic elsewhere under the lock (a bug in
    /// connection bookkeeping) is not expected to leave the keyspace half-written, so a
    /// poisoned lock is still taken.
    pub fn lock(&self) -> NodeGuard<'_> {
        self.guard(self.engine.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The node lock if it is free now.
    pub fn try_lock(&self) -> Option<NodeGuard<'_>> {
        try_guard(self)
    }

    /// The node lock if it is free now, for the cron thread itself (its release wakes
    /// nothing).
    pub(crate) fn try_lock_for_cron(&self) -> Option<NodeGuard<'_>> {
        let mut g = try_guard(self)?;
        g.wakes_cron = false;
        Some(g)
    }

    fn guard<'a>(&'a self, g: MutexGuard<'a, Engine>) -> NodeGuard<'a> {
        NodeGuard {
            guard: Some(g),
            shared: self,
            wakes_cron: true,
        }
    }

    /// Takes the node lock from a task without blocking its runtime thread: a script may hold
    /// the lock for long (until SCRIPT KILL), and a worker thread parked on the mutex would
    /// stall every other node and the API served by the same runtime.
    pub async fn lock_wait(&self) -> NodeGuard<'_> {
        loop {
            match self.engine.try_lock() {
                Ok(g) => return self.guard(g),
                Err(std::sync::TryLockError::Poisoned(p)) => return self.guard(p.into_inner()),
                Err(std::sync::TryLockError::WouldBlock) => {}
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// Takes the node lock for a batch without parking the worker thread when another batch holds
/// it: a short spin, then the task sleeps until the holder releases the lock (or 1 ms passed,
/// for holders that take the mutex directly), so the thread serves other connections' I/O
/// meanwhile. `None`: a script holds the lock past `busy-reply-threshold`; the caller answers
/// BUSY.
pub async fn lock_async(shared: &Shared) -> Option<NodeGuard<'_>> {
    loop {
        for _ in 0..64 {
            if let Some(g) = try_guard(shared) {
                return Some(g);
            }
            std::hint::spin_loop();
        }
        if shared.script.busy(crate::engine::wall_ms()) {
            return None;
        }
        let notified = shared.unlocked.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        shared.waiters.fetch_add(1, Ordering::SeqCst);
        // Counted first, then retried: a release in between either is seen here or notifies.
        if let Some(g) = try_guard(shared) {
            shared.waiters.fetch_sub(1, Ordering::SeqCst);
            return Some(g);
        }
        tokio::select! {
            _ = notified => {}
            _ = tokio::time::sleep(Duration::from_millis(1)) => {}
        }
        shared.waiters.fetch_sub(1, Ordering::SeqCst);
    }
}

fn try_guard(shared: &Shared) -> Option<NodeGuard<'_>> {
    match shared.engine.try_lock() {
        Ok(g) => Some(shared.guard(g)),
        Err(std::sync::TryLockError::Poisoned(p)) => Some(shared.guard(p.into_inner())),
        Err(std::sync::TryLockError::WouldBlock) => None,
    }
}
