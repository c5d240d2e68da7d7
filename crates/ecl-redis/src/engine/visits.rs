//! Other connections' turns while a busy script holds the node lock.
//!
//! Place in the flow: a connection that finds the lock held by a script past
//! `busy-reply-threshold` (`conn::busy`) offers its turn here as a [`Visit`]; the running
//! script's kill check (`command::script_run`) serves the queued visits with the engine it
//! holds, between two steps of the script, as Redis runs its event loop while a script is busy.
//! So other clients get exactly Redis's answers: errors for unknown commands and bad arity,
//! NOAUTH, then BUSY for every command not allowed while busy, while AUTH, HELLO, MULTI,
//! WATCH, RESET, QUIT, SCRIPT/FUNCTION KILL and FUNCTION STATS run. When the script ends, visits
//! still queued are handed back unserved (their connection then takes the lock as usual).

use super::Engine;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// A connection's turn: called with the engine, or with `None` when it was not served.
pub type Visit = Box<dyn FnOnce(Option<&mut Engine>) + Send>;

/// The queue of visits waiting for the running script's next kill check.
#[derive(Default)]
pub struct Visits {
    queue: Mutex<Queue>,
    /// Some visit waits: read by every kill check without the mutex.
    waiting: AtomicBool,
}

#[derive(Default)]
struct Queue {
    /// A script runs and takes visits.
    open: bool,
    visits: Vec<Visit>,
}

impl std::fmt::Debug for Visits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Visits")
            .field("waiting", &self.waiting.load(Ordering::Relaxed))
            .finish()
    }
}

impl Visits {
    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        // A visit runs outside the mutex, so a panic cannot leave the queue half-changed.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A script starts: visits are taken until [`Visits::close`].
    pub fn open(&self) {
        self.queue().open = true;
    }

    /// Queues `visit` for the running script; gives it back when no script runs (the caller
    /// then takes the lock as usual).
    pub fn offer(&self, visit: Visit) -> Result<(), Visit> {
        let mut q = self.queue();
        if !q.open {
            return Err(visit);
        }
        q.visits.push(visit);
        self.waiting.store(true, Ordering::Release);
        Ok(())
    }

    /// Whether a visit waits (cheap: the script's kill check asks every few thousand steps).
    pub fn waiting(&self) -> bool {
        self.waiting.load(Ordering::Acquire)
    }

    /// Serves the queued visits with the engine the script holds.
    pub fn serve(&self, eng: &mut Engine) {
        let visits = {
            let mut q = self.queue();
            self.waiting.store(false, Ordering::Release);
            std::mem::take(&mut q.visits)
        };
        for visit in visits {
            visit(Some(&mut *eng));
        }
    }

    /// The script ended: no more visits, and those still queued go back unserved.
    pub fn close(&self) {
        let visits = {
            let mut q = self.queue();
            q.open = false;
            self.waiting.store(false, Ordering::Release);
            std::mem::take(&mut q.visits)
        };
        for visit in visits {
            visit(None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn visits_are_taken_only_while_open_and_always_answered() {
        let v = Visits::default();
        let answered = Arc::new(AtomicUsize::new(0));
        let visit = |served: bool| -> Visit {
            let answered = answered.clone();
            Box::new(move |eng: Option<&mut Engine>| {
                assert_eq!(eng.is_some(), served);
                answered.fetch_add(1, Ordering::SeqCst);
            })
        };
        // Closed: handed back to the caller.
        let back = v.offer(visit(false));
        assert!(back.is_err());
        if let Err(b) = back {
            b(None);
        }
        v.open();
        assert!(v.offer(visit(false)).is_ok() && v.waiting());
        // The script ends before serving it: answered unserved, and the queue is closed.
        v.close();
        assert!(!v.waiting() && v.offer(visit(false)).is_err());
        assert_eq!(answered.load(Ordering::SeqCst), 2);
    }
}
