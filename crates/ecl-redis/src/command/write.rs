//! The write guard: what a write on one key owes the rest of the node — its `dirty` count
//! (INFO `rdb_changes_since_last_save`), its keyspace notifications and, for writes that add
//! content, the readiness of clients blocked on the key — recorded on the guard and applied
//! together when it drops.
//!
//! Place in the flow: a handler that changed a key calls `ctx.write(key)` and records on the
//! returned [`KeyWrite`] what happened (`.dirty(n)`, `.notify(class, event)`, `.ready()`),
//! usually as one statement at the end of the write. When the guard drops (end of that
//! statement, or an early return), the notifications are published in the order they were
//! recorded, the dirty count is added, and the key is queued for blocked clients, which the
//! dispatcher serves after the command. A handler can no longer bump the counter, publish the
//! event and forget the wake-up: all three are stated in one place.

use super::Ctx;
use std::ops::{Deref, DerefMut};

/// Notifications a guard holds before it publishes early to make room (writes record one or
/// two: `set` + `expire`, `rename_from` … ).
const INLINE_EVENTS: usize = 2;

/// A write on one key, applied on drop: notifications (in order), dirty count, readiness.
#[must_use = "a write guard applies its effects when dropped; record on it"]
pub struct KeyWrite<'c, 'a, 'k> {
    ctx: &'c mut Ctx<'a>,
    db: usize,
    key: &'k [u8],
    dirty: u64,
    events: [(u32, &'static str); INLINE_EVENTS],
    n_events: usize,
    ready: bool,
}

impl<'a> Ctx<'a> {
    /// A write guard for `key` in the selected database.
    pub fn write<'c, 'k>(&'c mut self, key: &'k [u8]) -> KeyWrite<'c, 'a, 'k> {
        let db = self.client.db;
        self.write_in(db, key)
    }

    /// A write guard for `key` in database `db` (MOVE, COPY … DB, SWAPDB).
    pub fn write_in<'c, 'k>(&'c mut self, db: usize, key: &'k [u8]) -> KeyWrite<'c, 'a, 'k> {
        KeyWrite {
            ctx: self,
            db,
            key,
            dirty: 0,
            events: [(0, ""); INLINE_EVENTS],
            n_events: 0,
            ready: false,
        }
    }
}

impl KeyWrite<'_, '_, '_> {
    /// Counts `n` changes (INFO `rdb_changes_since_last_save`).
    pub fn dirty(&mut self, n: u64) -> &mut Self {
        self.dirty += n;
        self
    }

    /// Records a keyspace notification for the key (published on drop, in recording order,
    /// if enabled for `class`).
    pub fn notify(&mut self, class: u32, event: &'static str) -> &mut Self {
        if self.n_events == INLINE_EVENTS {
            self.publish();
        }
        self.events[self.n_events] = (class, event);
        self.n_events += 1;
        self
    }

    /// The write added content to the key (push, add, store, create): clients blocked on it
    /// are served after the command.
    pub fn ready(&mut self) -> &mut Self {
        self.ready = true;
        self
    }

    fn publish(&mut self) {
        for &(class, event) in &self.events[..self.n_events] {
            self.ctx.eng.notify(class, event, self.db, self.key);
        }
        self.n_events = 0;
    }
}

impl Drop for KeyWrite<'_, '_, '_> {
    fn drop(&mut self) {
        self.publish();
        self.ctx.eng.add_dirty(self.dirty);
        if self.ready {
            self.ctx.eng.signal_key_ready(self.db, self.key);
        } else {
            // A deleting or type-changing write releases XREADGROUP waiters.
            self.ctx.eng.signal_stream_gone(self.db, self.key);
        }
    }
}

impl<'a> Deref for KeyWrite<'_, 'a, '_> {
    type Target = Ctx<'a>;
    fn deref(&self) -> &Ctx<'a> {
        self.ctx
    }
}

impl DerefMut for KeyWrite<'_, '_, '_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.ctx
    }
}
