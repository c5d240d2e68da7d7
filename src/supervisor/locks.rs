//! Taking the supervisor's registry locks (node tables, seeds, data directories).
//!
//! Place in the flow: a leaf of the supervisor; `node` and `node_data` take their maps'
//! locks through [`lock`].

use std::sync::{Mutex, MutexGuard};

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section is a handful of map operations; a panic inside one cannot leave a
    // map half-updated, so a poisoned lock is still consistent.
    m.lock().unwrap_or_else(|p| p.into_inner())
}
