//! The per-slot key index of a cluster-mode node's database 0: which keys each hash slot
//! holds, kept as keys are created and removed, so that moving a slot (online resharding),
//! `CLUSTER COUNTKEYSINSLOT` and `CLUSTER GETKEYSINSLOT` read the slot's keys instead of
//! scanning the whole keyspace.
//!
//! Place in the flow: [`super::Db`] owns an optional [`SlotIndex`] (on for database 0 of a
//! node started in cluster mode, see `Engine::new`) and updates it at the few places a key
//! enters or leaves its table; the cluster code reads it through `Db::slot_keys` and
//! `Db::count_in_slot`.

use std::collections::{HashMap, HashSet};

use super::Key;
use crate::cluster::key_slot;

/// Keys by hash slot; a slot without keys has no entry.
#[derive(Debug, Default)]
pub struct SlotIndex {
    slots: HashMap<u16, HashSet<Key>>,
}

impl SlotIndex {
    /// An index of `keys`.
    pub fn of<'a>(keys: impl Iterator<Item = &'a Key>) -> SlotIndex {
        let mut ix = SlotIndex::default();
        for k in keys {
            ix.add(k);
        }
        ix
    }

    /// Records a key that entered the table.
    pub fn add(&mut self, key: &[u8]) {
        self.slots
            .entry(key_slot(key))
            .or_default()
            .insert(key.into());
    }

    /// Forgets a key that left the table.
    pub fn remove(&mut self, key: &[u8]) {
        let slot = key_slot(key);
        if let Some(set) = self.slots.get_mut(&slot) {
            set.remove(key);
            if set.is_empty() {
                self.slots.remove(&slot);
            }
        }
    }

    /// Forgets every key.
    pub fn clear(&mut self) {
        self.slots.clear();
    }

    /// The keys of `slot` (live or not: the caller checks expiry).
    pub fn keys(&self, slot: u16) -> impl Iterator<Item = &Key> {
        self.slots.get(&slot).into_iter().flatten()
    }

    /// Keys recorded in `slot`.
    pub fn len(&self, slot: u16) -> usize {
        self.slots.get(&slot).map_or(0, HashSet::len)
    }

    /// The slots that hold keys, in `ranges` (inclusive), ascending.
    pub fn slots_in(&self, ranges: &[(u16, u16)]) -> Vec<u16> {
        let mut out: Vec<u16> = (self.slots.keys())
            .copied()
            .filter(|s| ranges.iter().any(|&(a, b)| (a..=b).contains(s)))
            .collect();
        out.sort_unstable();
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::db::{Db, Entry, Str, Value};

    fn val(s: &str) -> Value {
        Value::Str(Str::from(s.as_bytes().to_vec()))
    }

    fn slot_of(k: &str) -> u16 {
        crate::cluster::key_slot(k.as_bytes())
    }

    fn keys(db: &Db, slot: u16, now: i64) -> Vec<String> {
        let mut out: Vec<String> = (db.slot_keys(&[(slot, slot)], usize::MAX, now))
            .expect("indexed")
            .iter()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .collect();
        out.sort();
        out
    }

    #[test]
    fn the_index_follows_every_way_a_key_comes_and_goes() {
        let mut db = Db::new();
        assert!(
            db.slot_keys(&[(0, 16383)], 10, 0).is_none(),
            "off until enabled"
        );
        db.set(b"{a}1", val("x"), 0, false);
        db.enable_slot_index();
        let s = slot_of("a");
        assert_eq!(keys(&db, s, 0), ["{a}1"], "built from the existing keys");
        db.set(b"{a}2", val("y"), 0, false);
        db.get_or_create(b"{a}3", 0, || val("z")).0.unchanged();
        let e = Entry {
            value: val("w"),
            expire_at: 50,
            lru: 0,
        };
        db.insert_entry(b"{a}4", e);
        assert_eq!(keys(&db, s, 0), ["{a}1", "{a}2", "{a}3", "{a}4"]);
        assert_eq!(
            keys(&db, s, 100),
            ["{a}1", "{a}2", "{a}3"],
            "expired keys are not live"
        );
        db.remove(b"{a}1");
        assert!(db.expire_if_needed(b"{a}4", 100));
        assert_eq!(keys(&db, s, 0), ["{a}2", "{a}3"]);
        assert_eq!(
            db.slot_keys(&[(0, 16383)], 1, 0).map(|k| k.len()),
            Some(1),
            "limit"
        );
        db.clear();
        assert!(keys(&db, s, 0).is_empty());
        db.set(b"{a}5", val("v"), 0, false);
        assert_eq!(keys(&db, s, 0), ["{a}5"], "still kept after a flush");
        assert!(keys(&db, s.wrapping_add(1) % 16384, 0).is_empty());
    }
}
