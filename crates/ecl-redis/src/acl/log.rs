//! `ACL LOG`: the node's record of refused commands and failed authentications.
//!
//! Place in the flow: dispatch records a NOPERM refusal, AUTH and HELLO a failed
//! authentication; `ACL LOG [count|RESET]` reads it. Like Redis, an event equal to a recent one
//! (same reason, context, object and user within a minute) updates that entry's count and
//! time instead of adding a line, and the newest entry comes first.

use std::collections::VecDeque;

/// Events within this window (ms) of an equal entry update it instead of adding one.
const GROUPING_WINDOW_MS: i64 = 60_000;

/// One `ACL LOG` entry.
#[derive(Clone, Debug)]
pub struct LogEntry {
    /// Number of equal events grouped here.
    pub count: u64,
    /// `command`, `key`, `channel` or `auth`.
    pub reason: &'static str,
    /// `toplevel` or `multi`.
    pub context: &'static str,
    /// The command, key or channel refused (`auth` / `hello` for authentication).
    pub object: String,
    /// The user (for `auth`, the name tried).
    pub username: String,
    /// Time of the latest event (ms).
    pub updated_ms: i64,
    /// `CLIENT INFO` line of the client of the latest event.
    pub client_info: String,
}

/// The log, newest first.
#[derive(Clone, Debug, Default)]
pub struct AclLog {
    /// Entries, newest first.
    pub entries: VecDeque<LogEntry>,
}

impl AclLog {
    /// Records an event, keeping at most `max_len` entries.
    pub fn record(&mut self, e: LogEntry, max_len: usize) {
        let same = self.entries.iter().position(|x| {
            x.reason == e.reason
                && x.context == e.context
                && x.object == e.object
                && x.username == e.username
                && e.updated_ms - x.updated_ms < GROUPING_WINDOW_MS
        });
        let entry = match same.and_then(|i| self.entries.remove(i)) {
            Some(old) => LogEntry {
                count: old.count + 1,
                ..e
            },
            None => e,
        };
        self.entries.push_front(entry);
        self.entries.truncate(max_len);
    }
}
