//! Point-in-time images of a database collected a slice at a time, while commands go on.
//!
//! Place in the flow: `crate::persistence::snapshot` starts a snapshot by giving every database a
//! [`SnapCursor`], then copies slab slots in order, a bounded slice per node-lock hold
//! ([`Db::snapshot_step`]); between slices, clients are served. Consistency without a fork:
//! entries never move between slab slots, so the cursor splits the table into slots already
//! copied and slots still to copy. Before any change to a key not yet copied (every mutating
//! `Db` method calls [`Db::before_change`]), the key's pre-image — its entry, or "absent" — is
//! kept once; copying then uses the pre-image instead of the live entry, and pre-images of
//! keys no longer at an uncopied slot (deleted, or re-created below the cursor) are added at
//! the end. FLUSHDB/FLUSHALL during a snapshot hand the whole old table to the cursor
//! (`frozen`), so a flush costs nothing extra. The image is the dataset at the instant the
//! snapshot started, as Redis' fork gives; the cost is one copy of the entries changed
//! meanwhile (Redis copies the memory pages they live in).

use super::{Db, Dict, Entry, Key};
use std::collections::HashMap;

/// The progress of a snapshot over one database.
#[derive(Debug, Default)]
pub struct SnapCursor {
    /// Index of the database when the snapshot started (SWAPDB moves cursors with tables).
    pub db_index: usize,
    /// Slots below this one are copied.
    pub next_slot: usize,
    /// Pre-images of keys changed before being copied (`None`: absent at the start).
    pub pre: HashMap<Key, Option<Entry>>,
    /// The table as it was when a flush emptied the database during the snapshot.
    pub frozen: Option<Dict<Entry>>,
    /// Set once this database is fully copied (changes need no pre-image any more).
    pub done: bool,
}

impl Db {
    /// Keeps `key`'s pre-image if a snapshot still has to copy it. Called by every method
    /// that changes a key, before the change.
    #[inline]
    pub(super) fn before_change(&mut self, key: &[u8]) {
        if self.snap.is_some() {
            self.record_pre_image(key);
        }
    }

    fn record_pre_image(&mut self, key: &[u8]) {
        let Some(s) = self.snap.as_deref_mut() else {
            return;
        };
        if s.done || s.frozen.is_some() || s.pre.contains_key(key) {
            return;
        }
        match self.dict.index_of(key) {
            Some(i) if (i as usize) < s.next_slot => {}
            Some(i) => {
                let pre = self.dict.at(i).cloned();
                s.pre.insert(key.into(), pre);
            }
            None => {
                s.pre.insert(key.into(), None);
            }
        }
    }

    /// Sizes this (empty) database for `n` keys, so filling it never rehashes under the lock.
    pub fn reserve(&mut self, n: usize) {
        self.dict.reserve(n);
    }

    /// Copies up to `*budget` slots of this database's snapshot into `out`, decreasing the
    /// budget; true once the database is fully copied.
    pub fn snapshot_step(&mut self, out: &mut Db, budget: &mut usize) -> bool {
        let Some(s) = self.snap.as_deref_mut() else {
            return true;
        };
        if s.done {
            return true;
        }
        let SnapCursor {
            next_slot,
            pre,
            frozen,
            ..
        } = &mut *s;
        let table = frozen.as_ref().unwrap_or(&self.dict);
        while *next_slot < table.slot_count() && *budget > 0 {
            if let Some((k, e)) = table.slot_at(*next_slot) {
                match pre.remove(k) {
                    Some(Some(old)) => out.insert_entry(k, old),
                    Some(None) => {}
                    None => out.insert_entry(k, e.clone()),
                }
            }
            *next_slot += 1;
            *budget -= 1;
        }
        if *next_slot < table.slot_count() {
            return false;
        }
        for (k, old) in pre.drain() {
            if let Some(e) = old {
                out.insert_entry(&k, e);
            }
        }
        *frozen = None;
        s.done = true;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{Str, Value};

    fn s(v: &str) -> Value {
        Value::Str(Str::from(v.as_bytes().to_vec()))
    }

    fn image(db: &Db) -> Vec<(Vec<u8>, String)> {
        let mut v: Vec<_> = db
            .iter()
            .map(|(k, e)| (k.to_vec(), format!("{:?}", e.value)))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn image_is_the_dataset_at_the_start_whatever_changes_meanwhile() {
        let mut db = Db::new();
        for i in 0..1000 {
            db.set(format!("k{i}").as_bytes(), s(&i.to_string()), 0, false);
        }
        let expected = image(&db);
        db.snap = Some(Box::default());
        let mut out = Db::new();
        let mut round = 0;
        loop {
            let mut budget = 37;
            if db.snapshot_step(&mut out, &mut budget) {
                break;
            }
            // Changes of every kind between slices.
            round += 1;
            db.set(format!("k{}", round * 7).as_bytes(), s("changed"), 0, false);
            db.remove(format!("k{}", round * 13 % 1000).as_bytes());
            db.set(format!("new{round}").as_bytes(), s("new"), 0, false);
            if round == 20 {
                db.clear();
                db.set(b"after-flush", s("x"), 0, false);
            }
        }
        assert_eq!(image(&out), expected);
    }
}
