//! The stream value: entries (ID → field/value list) in ID order, the stream's last ID and
//! tombstone counters, and the node layout that approximate trimming works on.
//!
//! Place in the flow: stored as `Value::Stream`; `command/streams.rs` parses arguments and
//! shapes replies. Redis keeps entries in nodes of up to `stream-node-max-entries` entries
//! (deleted ones still occupying their slot until the whole node empties); `~` trimming only
//! drops whole nodes, so the node boundaries are modelled here to trim exactly as much. The
//! `stream-node-max-bytes` bound is not modelled (with small entries the count bound is the
//! one that applies).

use crate::db::Key;
use std::collections::{BTreeMap, BTreeSet};

/// A stream entry ID: milliseconds and sequence number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    /// Milliseconds part.
    pub ms: u64,
    /// Sequence part.
    pub seq: u64,
}

impl StreamId {
    /// The smallest ID.
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    /// The largest ID.
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    /// The next ID, `None` past the largest.
    pub fn incr(self) -> Option<StreamId> {
        if self.seq < u64::MAX {
            Some(StreamId {
                ms: self.ms,
                seq: self.seq + 1,
            })
        } else if self.ms < u64::MAX {
            Some(StreamId {
                ms: self.ms + 1,
                seq: 0,
            })
        } else {
            None
        }
    }

    /// The previous ID, `None` before the smallest.
    pub fn decr(self) -> Option<StreamId> {
        if self.seq > 0 {
            Some(StreamId {
                ms: self.ms,
                seq: self.seq - 1,
            })
        } else if self.ms > 0 {
            Some(StreamId {
                ms: self.ms - 1,
                seq: u64::MAX,
            })
        } else {
            None
        }
    }

    /// `ms-seq` text.
    pub fn text(self) -> String {
        format!("{}-{}", self.ms, self.seq)
    }
}

/// A node: the IDs appended to it (deleted ones included) and how many are still live.
#[derive(Clone, Debug, Default)]
struct Node {
    ids: Vec<StreamId>,
    live: usize,
}

/// How a trim bounds the stream.
#[derive(Clone, Copy, Debug)]
pub enum Trim {
    /// Keep at most this many entries.
    MaxLen(u64),
    /// Drop entries below this ID.
    MinId(StreamId),
}

/// A delivered, not yet acknowledged entry of a consumer group.
#[derive(Clone, Debug)]
pub struct Pending {
    /// The consumer it was delivered to.
    pub consumer: Key,
    /// Last delivery (Unix ms).
    pub delivered_ms: i64,
    /// How many times it was delivered.
    pub deliveries: u64,
}

/// An entry handed out by XREADGROUP: its ID and fields (`None`: deleted since delivery).
pub type Delivered = (StreamId, Option<Vec<Vec<u8>>>);

/// A consumer of a group.
#[derive(Clone, Debug, Default)]
pub struct Consumer {
    /// Last time it was seen (Unix ms).
    pub seen_ms: i64,
    /// IDs pending for it.
    pub pel: BTreeSet<StreamId>,
}

/// A consumer group.
#[derive(Clone, Debug, Default)]
pub struct Group {
    /// The last ID delivered to the group.
    pub last_id: StreamId,
    /// Entries read by the group (-1: unknown).
    pub entries_read: i64,
    /// Pending entries of the group.
    pub pel: BTreeMap<StreamId, Pending>,
    /// Consumers by name (byte order, as Redis lists them).
    pub consumers: BTreeMap<Key, Consumer>,
}

impl Group {
    /// Removes `id` from the group's and its consumer's pending lists; true when pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        match self.pel.remove(&id) {
            Some(p) => {
                if let Some(c) = self.consumers.get_mut(&p.consumer) {
                    c.pel.remove(&id);
                }
                true
            }
            None => false,
        }
    }

    /// Records a delivery of `id` to `consumer` at `now`, taking it from any previous owner.
    pub fn deliver(&mut self, id: StreamId, consumer: &[u8], now: i64) {
        if let Some(old) = self.pel.get(&id).map(|p| p.consumer.clone())
            && let Some(c) = self.consumers.get_mut(&old)
        {
            c.pel.remove(&id);
        }
        self.pel.insert(
            id,
            Pending {
                consumer: consumer.into(),
                delivered_ms: now,
                deliveries: 1,
            },
        );
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.pel.insert(id);
        }
    }
}

/// A stream.
#[derive(Clone, Debug, Default)]
pub struct Stream {
    /// Consumer groups by name.
    pub groups: BTreeMap<Key, Group>,
    entries: BTreeMap<StreamId, Vec<Vec<u8>>>,
    /// Nodes keyed by their first (master) ID.
    nodes: BTreeMap<StreamId, Node>,
    /// The last ID ever added (or set by XSETID).
    pub last_id: StreamId,
    /// The largest ID deleted so far.
    pub max_deleted_id: StreamId,
    /// How many entries were ever added.
    pub entries_added: u64,
    bytes: usize,
}

impl Stream {
    /// An empty stream.
    pub fn new() -> Stream {
        Stream::default()
    }

    /// Live entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no entry is live.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The first live ID (0-0 when empty).
    pub fn first_id(&self) -> StreamId {
        self.entries.keys().next().copied().unwrap_or_default()
    }

    /// Approximate memory.
    pub fn mem_size(&self) -> usize {
        self.bytes + 64 + self.nodes.len() * 48
    }

    /// Appends an entry with a new ID greater than [`Stream::last_id`]; `node_max` is the
    /// per-node entry bound (0: unbounded).
    pub fn append(&mut self, id: StreamId, fields: Vec<Vec<u8>>, node_max: usize) {
        self.bytes += fields.iter().map(|f| f.len() + 8).sum::<usize>() + 32;
        let full = match self.nodes.iter().next_back() {
            None => true,
            Some((_, n)) => node_max > 0 && n.ids.len() >= node_max,
        };
        if full {
            self.nodes.insert(id, Node::default());
        }
        if let Some((_, n)) = self.nodes.iter_mut().next_back() {
            n.ids.push(id);
            n.live += 1;
        }
        self.entries.insert(id, fields);
        self.last_id = id;
        self.entries_added += 1;
    }

    /// Deletes one entry; false when absent.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some(fields) = self.entries.remove(&id) else {
            return false;
        };
        self.bytes = self
            .bytes
            .saturating_sub(fields.iter().map(|f| f.len() + 8).sum::<usize>() + 32);
        let key = self.nodes.range(..=id).next_back().map(|(k, _)| *k);
        if let Some(k) = key
            && let Some(n) = self.nodes.get_mut(&k)
        {
            n.live -= 1;
            // A node whose entries are all deleted is freed.
            if n.live == 0 {
                self.nodes.remove(&k);
            }
        }
        if id > self.max_deleted_id {
            self.max_deleted_id = id;
        }
        true
    }

    /// Trims the oldest entries; `approx` only drops whole nodes; `limit` (0: none) bounds
    /// the entries a trim may remove. Returns how many were removed.
    pub fn trim(&mut self, how: Trim, approx: bool, limit: u64) -> u64 {
        let mut deleted = 0u64;
        while let Some((&key, node)) = self.nodes.iter().next() {
            if let Trim::MaxLen(max) = how
                && self.len() as u64 <= max
            {
                break;
            }
            let live = node.live as u64;
            if limit > 0 && deleted + live > limit {
                break;
            }
            let whole = match how {
                Trim::MaxLen(max) => self.len() as u64 - live >= max,
                Trim::MinId(min) => node.ids.last().is_some_and(|l| *l < min),
            };
            if whole {
                let ids = self.nodes.remove(&key).map(|n| n.ids).unwrap_or_default();
                for id in ids {
                    self.drop_entry(id);
                }
                deleted += live;
                continue;
            }
            if approx {
                break;
            }
            deleted += self.trim_within(key, how);
            break;
        }
        deleted
    }

    /// Exact trimming inside the first node: entries are removed, the node keeps its slots.
    fn trim_within(&mut self, key: StreamId, how: Trim) -> u64 {
        let ids = self
            .nodes
            .get(&key)
            .map(|n| n.ids.clone())
            .unwrap_or_default();
        let mut deleted = 0;
        for id in ids {
            let stop = match how {
                Trim::MaxLen(max) => self.len() as u64 <= max,
                Trim::MinId(min) => id >= min,
            };
            if stop {
                break;
            }
            if self.drop_entry(id) {
                deleted += 1;
                if let Some(n) = self.nodes.get_mut(&key) {
                    n.live -= 1;
                }
            }
        }
        deleted
    }

    /// Removes an entry's data (not its node slot); true when it was live.
    fn drop_entry(&mut self, id: StreamId) -> bool {
        match self.entries.remove(&id) {
            Some(fields) => {
                self.bytes = self
                    .bytes
                    .saturating_sub(fields.iter().map(|f| f.len() + 8).sum::<usize>() + 32);
                true
            }
            None => false,
        }
    }

    /// The last live ID, if any.
    pub fn last_live_id(&self) -> Option<StreamId> {
        self.entries.keys().next_back().copied()
    }

    /// The fields of a live entry.
    pub fn get(&self, id: StreamId) -> Option<&[Vec<u8>]> {
        self.entries.get(&id).map(Vec::as_slice)
    }

    /// Whether a deleted ID may lie in `[start, MAX]` (Redis' tombstone test).
    pub fn has_tombstones_from(&self, start: StreamId) -> bool {
        !self.is_empty()
            && self.max_deleted_id != StreamId::MIN
            && self.first_id() <= self.max_deleted_id
            && start <= self.max_deleted_id
    }

    /// A group's lag (entries added but not yet read by it), when it can be known.
    pub fn lag(&self, g: &Group) -> Option<i64> {
        let added = self.entries_added as i64;
        if self.entries_added == 0 {
            return Some(0);
        }
        if g.entries_read != -1 && !self.has_tombstones_from(g.last_id) {
            return Some(added - g.entries_read);
        }
        self.estimate_read_counter(g.last_id).map(|r| added - r)
    }

    /// The nodes in ID order: each node's master (first) ID and the IDs appended to it,
    /// deleted ones included (the RDB codec writes this layout so that trimming and node
    /// filling behave the same after a reload).
    pub fn nodes(&self) -> impl Iterator<Item = (StreamId, &[StreamId])> + '_ {
        self.nodes.iter().map(|(k, n)| (*k, n.ids.as_slice()))
    }

    /// Appends a node read from an RDB file: its master ID and its slots in ID order
    /// (`None`: a deleted entry). `last_id`, `max_deleted_id` and `entries_added` are the
    /// caller's to set. Returns false, changing nothing, unless the master ID lies after
    /// every existing entry and the slot IDs ascend from it; a node with no live slot is
    /// dropped (Redis frees such nodes).
    pub fn push_node(
        &mut self,
        master: StreamId,
        slots: Vec<(StreamId, Option<Vec<Vec<u8>>>)>,
    ) -> bool {
        let after = self.nodes.values().next_back().and_then(|n| n.ids.last());
        if after.is_some_and(|last| master <= *last) {
            return false;
        }
        let mut prev: Option<StreamId> = None;
        for (id, _) in &slots {
            if *id < master || prev.is_some_and(|p| *id <= p) {
                return false;
            }
            prev = Some(*id);
        }
        let mut node = Node::default();
        for (id, fields) in slots {
            node.ids.push(id);
            if let Some(fields) = fields {
                self.bytes += fields.iter().map(|f| f.len() + 8).sum::<usize>() + 32;
                self.entries.insert(id, fields);
                node.live += 1;
            }
        }
        if node.live > 0 {
            self.nodes.insert(master, node);
        }
        true
    }

    /// Number of nodes (XINFO `radix-tree-keys`).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The logical read counter of `id` (how many entries were added up to it), when known.
    pub fn estimate_read_counter(&self, id: StreamId) -> Option<i64> {
        let added = self.entries_added as i64;
        if self.entries_added == 0 {
            return Some(0);
        }
        if self.is_empty() && id <= self.last_id {
            return Some(added);
        }
        match id.cmp(&self.last_id) {
            std::cmp::Ordering::Equal => return Some(added),
            std::cmp::Ordering::Greater => return None,
            std::cmp::Ordering::Less => {}
        }
        let first = self.first_id();
        if self.max_deleted_id == StreamId::MIN || self.max_deleted_id < first {
            if id < first {
                return Some(added - self.len() as i64);
            }
            if id == first {
                return Some(added - self.len() as i64 + 1);
            }
        }
        None
    }

    /// XREADGROUP on one stream: new entries after the group's last ID (`history == None`,
    /// moving the group on and recording deliveries unless `noack`), or the consumer's
    /// pending entries after `history` (redelivered; deleted ones come back as `None`).
    /// Returns the entries and whether the consumer had to be created.
    pub fn read_group(
        &mut self,
        group: &[u8],
        consumer: &[u8],
        history: Option<StreamId>,
        count: usize,
        noack: bool,
        now: i64,
    ) -> (Vec<Delivered>, bool) {
        let limit = if count == 0 { usize::MAX } else { count };
        let Some(mut g) = self.groups.remove(group) else {
            return (Vec::new(), false);
        };
        let created = !g.consumers.contains_key(consumer);
        g.consumers.entry(consumer.into()).or_default().seen_ms = now;
        let mut out = Vec::new();
        match history {
            Some(after) => {
                let ids: Vec<StreamId> = match (g.consumers.get(consumer), after.incr()) {
                    (Some(c), Some(start)) => c.pel.range(start..).take(limit).copied().collect(),
                    _ => Vec::new(),
                };
                for id in ids {
                    let fields = self.entries.get(&id).cloned();
                    // Only entries still in the stream count as delivered again.
                    if fields.is_some()
                        && let Some(p) = g.pel.get_mut(&id)
                    {
                        p.delivered_ms = now;
                        p.deliveries += 1;
                    }
                    out.push((id, fields));
                }
            }
            None => {
                let start = g.last_id.incr().unwrap_or(StreamId::MAX);
                let ids: Vec<StreamId> = self
                    .entries
                    .range(start..)
                    .take(limit)
                    .map(|(k, _)| *k)
                    .collect();
                for id in ids {
                    self.advance_group(&mut g, id);
                    if !noack {
                        g.deliver(id, consumer, now);
                    }
                    out.push((id, self.entries.get(&id).cloned()));
                }
            }
        }
        self.groups.insert(group.into(), g);
        (out, created)
    }

    /// Moves a group's last ID to `id`, keeping its read counter as Redis does.
    fn advance_group(&self, g: &mut Group, id: StreamId) {
        if id <= g.last_id {
            return;
        }
        if g.entries_read != -1 && !self.has_tombstones_from(id) {
            g.entries_read += 1;
        } else if self.entries_added > 0 {
            g.entries_read = self.estimate_read_counter(id).unwrap_or(-1);
        }
        g.last_id = id;
    }

    /// Entries with IDs in `[lo, hi]`, ascending (descending when `rev`), at most `count`
    /// (0: all).
    pub fn range(
        &self,
        lo: StreamId,
        hi: StreamId,
        rev: bool,
        count: usize,
    ) -> Vec<(StreamId, &[Vec<u8>])> {
        if lo > hi {
            return Vec::new();
        }
        let it = self.entries.range(lo..=hi).map(|(k, v)| (*k, v.as_slice()));
        let limit = if count == 0 { usize::MAX } else { count };
        if rev {
            it.rev().take(limit).collect()
        } else {
            it.take(limit).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ms: u64) -> StreamId {
        StreamId { ms, seq: 0 }
    }

    #[test]
    fn approximate_trim_drops_whole_nodes_only() {
        let mut s = Stream::new();
        for i in 1..=250 {
            s.append(id(i), vec![b"f".to_vec(), b"v".to_vec()], 100);
        }
        // Keeping 120 can drop the first node (100 entries) but not the second.
        assert_eq!(s.trim(Trim::MaxLen(120), true, 0), 100);
        assert_eq!(s.len(), 150);
        assert_eq!(s.trim(Trim::MaxLen(120), false, 0), 30);
        assert_eq!(s.first_id(), id(131));
        assert_eq!(s.trim(Trim::MinId(id(200)), true, 0), 0);
        assert_eq!(s.trim(Trim::MinId(id(240)), false, 0), 109);
    }

    #[test]
    fn ids_step_over_sequence_limits() {
        let top = StreamId {
            ms: 1,
            seq: u64::MAX,
        };
        assert_eq!(top.incr(), Some(id(2)));
        assert_eq!(id(2).decr(), Some(top));
        assert_eq!(StreamId::MAX.incr(), None);
        assert_eq!(StreamId::MIN.decr(), None);
    }
}
