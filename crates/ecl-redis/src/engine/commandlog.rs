//! COMMANDLOG's size logs (Valkey 8.1): the large-request and large-reply logs a node keeps
//! beside its slow log.
//!
//! Place in the flow: part of the engine; the dispatcher records into them and the COMMANDLOG
//! family (`command::commandlog`) reads and resets them.

use super::SlowEntry;
use std::collections::VecDeque;

/// Entries kept per size log (default `commandlog-large-request-max-len` /
/// `commandlog-large-reply-max-len`).
pub const MAX_LEN: usize = 128;

/// One size log: newest entry first, ids growing from 0 across resets.
#[derive(Debug, Default)]
pub struct SizeLog {
    pub(crate) entries: VecDeque<SlowEntry>,
    pub(crate) next: u64,
}

impl SizeLog {
    pub(crate) fn push(&mut self, mut e: SlowEntry) {
        e.id = self.next;
        self.next += 1;
        self.entries.push_front(e);
        self.entries.truncate(MAX_LEN);
    }
}

/// The two size logs of a node (the slow one is the engine's slow log).
#[derive(Debug, Default)]
pub struct LargeLogs {
    /// Commands whose request was larger than `command::commandlog::LARGER_THAN`.
    pub request: SizeLog,
    /// Commands whose reply was larger than `command::commandlog::LARGER_THAN`.
    pub reply: SizeLog,
}
