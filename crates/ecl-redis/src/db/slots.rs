//! The per-slot key index of a cluster-mode node's database 0: which keys each hash slot
//! holds, kept as keys are created and removed, so that moving a slot (online resharding),
//! `CLUSTER COUNTKEYSINSLOT` and `CLUSTER GETKEYSINSLOT` read the slot's keys instead of
//! scanning the whole keyspace.
//!
//! The index names keys by their position in the keyspace table's slab (entries never move
//! there, see [`super::dict`]): one doubly linked list per slot threaded through a side array
//! parallel to the slab, as Redis 7.0 threads its slot lists through the dict entries. Writes
//! pay almost nothing: a created key's position is only queued (no hashing, no allocation, no
//! copy of the key); the queue is sorted into the slot lists by CRC16 when the index is next
//! read (a resharding step, `COUNTKEYSINSLOT`, `GETKEYSINSLOT`) or when it has grown past the
//! table's size (a workload that creates and deletes keys without ever reading the index).
//! Removing a key unlinks it in O(1).
//!
//! Place in the flow: [`super::Db`] owns an optional [`SlotIndex`] (on for database 0 of a
//! node started in cluster mode, see `Engine::new`) and updates it at the few places a key
//! enters or leaves its table; the cluster code reads it through `Db::slot_keys`.

use crate::cluster::{SLOTS, key_slot};

const NIL: u32 = u32::MAX;
/// `Link::slot` of a slab position that holds no indexed key.
const UNLINKED: u16 = u16::MAX;
/// `Link::slot` of a position queued in `pending`, not yet in a slot list.
const PENDING: u16 = u16::MAX - 1;

/// A slab position's place in its slot's list.
#[derive(Clone, Copy, Debug)]
struct Link {
    prev: u32,
    next: u32,
    slot: u16,
}

const FREE: Link = Link {
    prev: NIL,
    next: NIL,
    slot: UNLINKED,
};

/// Keys by hash slot, as slab positions of the keyspace table.
#[derive(Debug)]
pub struct SlotIndex {
    /// First position of each slot's list (`NIL`: no keys).
    head: Vec<u32>,
    /// By slab position.
    links: Vec<Link>,
    /// Positions added since the last [`SlotIndex::resolve`]; may repeat a position or name
    /// one removed since (only those still `PENDING` count).
    pending: Vec<u32>,
}

impl Default for SlotIndex {
    fn default() -> Self {
        SlotIndex {
            head: vec![NIL; SLOTS],
            links: Vec::new(),
            pending: Vec::new(),
        }
    }
}

impl SlotIndex {
    /// Records a key just stored at slab position `pos`. True when the queue of unsorted
    /// positions has outgrown the table and the caller should [`SlotIndex::resolve`] now.
    pub fn add(&mut self, pos: u32) -> bool {
        let p = pos as usize;
        if p >= self.links.len() {
            // Grows with the slab, which itself grows by doubling.
            self.links.resize((p + 1).max(self.links.len() * 2), FREE);
        }
        self.remove(pos);
        self.links[p].slot = PENDING;
        self.pending.push(pos);
        self.pending.len() > 2 * self.links.len() + 4096
    }

    /// Forgets the key at slab position `pos` (about to leave the table).
    pub fn remove(&mut self, pos: u32) {
        let Some(&Link { prev, next, slot }) = self.links.get(pos as usize) else {
            return;
        };
        if slot == UNLINKED {
            return;
        }
        self.links[pos as usize] = FREE;
        if slot == PENDING {
            return;
        }
        if prev == NIL {
            self.head[slot as usize] = next;
        } else {
            self.links[prev as usize].next = next;
        }
        if next != NIL {
            self.links[next as usize].prev = prev;
        }
    }

    /// Sorts the queued positions into their slots' lists; `key_at` gives the key stored at a
    /// slab position.
    pub fn resolve<'a>(&mut self, key_at: impl Fn(u32) -> Option<&'a [u8]>) {
        for pos in std::mem::take(&mut self.pending) {
            if self.links[pos as usize].slot != PENDING {
                continue;
            }
            let Some(key) = key_at(pos) else {
                self.links[pos as usize] = FREE;
                continue;
            };
            let slot = key_slot(key);
            let first = self.head[slot as usize];
            if first != NIL {
                self.links[first as usize].prev = pos;
            }
            self.links[pos as usize] = Link {
                prev: NIL,
                next: first,
                slot,
            };
            self.head[slot as usize] = pos;
        }
    }

    /// Forgets every key.
    pub fn clear(&mut self) {
        self.head.fill(NIL);
        self.links = Vec::new();
        self.pending = Vec::new();
    }

    /// Slab positions of the keys of `slot` (live or not: the caller checks expiry), once
    /// [`SlotIndex::resolve`]d.
    pub fn positions(&self, slot: u16) -> impl Iterator<Item = u32> + '_ {
        let mut at = self.head.get(slot as usize).copied().unwrap_or(NIL);
        std::iter::from_fn(move || {
            let here = at;
            (here != NIL).then(|| {
                at = self.links[here as usize].next;
                here
            })
        })
    }

    /// The slots that hold keys, in `ranges` (inclusive), ascending, once resolved.
    pub fn slots_in(&self, ranges: &[(u16, u16)]) -> Vec<u16> {
        let mut out: Vec<u16> = (ranges.iter())
            .flat_map(|&(a, b)| a..=b.min(SLOTS as u16 - 1))
            .filter(|&s| self.head[s as usize] != NIL)
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Bytes the index takes (counted in `used_memory`, so `maxmemory` sees it).
    pub fn mem_bytes(&self) -> usize {
        std::mem::size_of::<SlotIndex>()
            + (self.head.capacity() + self.pending.capacity()) * 4
            + self.links.capacity() * std::mem::size_of::<Link>()
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

    fn keys(db: &mut Db, slot: u16, now: i64) -> Vec<String> {
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
        assert_eq!(
            keys(&mut db, s, 0),
            ["{a}1"],
            "built from the existing keys"
        );
        db.set(b"{a}2", val("y"), 0, false);
        db.get_or_create(b"{a}3", 0, || val("z")).0.unchanged();
        let e = Entry {
            value: val("w"),
            expire_at: 50,
            lru: 0,
        };
        db.insert_entry(b"{a}4", e);
        assert_eq!(keys(&mut db, s, 0), ["{a}1", "{a}2", "{a}3", "{a}4"]);
        assert_eq!(
            keys(&mut db, s, 100),
            ["{a}1", "{a}2", "{a}3"],
            "expired keys are not live"
        );
        db.remove(b"{a}1");
        assert!(db.expire_if_needed(b"{a}4", 100));
        assert_eq!(keys(&mut db, s, 0), ["{a}2", "{a}3"]);
        assert_eq!(
            db.slot_keys(&[(0, 16383)], 1, 0).map(|k| k.len()),
            Some(1),
            "limit"
        );
        db.clear();
        assert!(keys(&mut db, s, 0).is_empty());
        db.set(b"{a}5", val("v"), 0, false);
        assert_eq!(keys(&mut db, s, 0), ["{a}5"], "still kept after a flush");
        assert!(keys(&mut db, s.wrapping_add(1) % 16384, 0).is_empty());
    }

    #[test]
    fn random_writes_and_deletes_match_a_model() {
        use std::collections::BTreeSet;
        let mut db = Db::new();
        db.enable_slot_index();
        let mut model: BTreeSet<String> = BTreeSet::new();
        let mut rng = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        // Eight hash tags, so slots collide often; slab positions get freed and reused.
        for step in 0..20_000 {
            let r = next();
            let key = format!("{{t{}}}{}", r % 8, (r >> 8) % 64);
            match (r >> 20) % 4 {
                0 | 1 => {
                    db.set(key.as_bytes(), val("v"), 0, false);
                    model.insert(key);
                }
                2 => {
                    db.remove(key.as_bytes());
                    model.remove(&key);
                }
                _ => {
                    let e = Entry {
                        value: val("w"),
                        expire_at: 0,
                        lru: 0,
                    };
                    db.insert_entry(key.as_bytes(), e);
                    model.insert(key);
                }
            }
            if step % 997 == 0 || step == 19_999 {
                for t in 0..8 {
                    let slot = slot_of(&format!("t{t}"));
                    let want: Vec<String> = (model.iter())
                        .filter(|k| k.starts_with(&format!("{{t{t}}}")))
                        .cloned()
                        .collect();
                    assert_eq!(keys(&mut db, slot, 0), want, "step {step}, tag {t}");
                }
            }
        }
    }
}
