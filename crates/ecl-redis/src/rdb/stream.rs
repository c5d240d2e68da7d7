//! The stream value in RDB form, for whole files and DUMP/RESTORE alike.
//!
//! Place in the flow: the file writer (`file.rs`) and `dump` (`mod.rs`) call [`encode`] with
//! the RDB version they write; `decode_body` calls [`decode`] for the three stream types.
//! Layout (facts from the RDB format descriptions, checked against files redis-server 7.0
//! writes): the node count, then per node its master ID (16 bytes, big-endian ms and seq) and
//! a listpack holding a master entry (live count, deleted count, master field names, a zero)
//! followed by entries (flags, ms and seq deltas from the master ID, the values alone when the
//! field names equal the master's or else a field count and pairs, then the entry's element
//! count); then length and last ID, from version 2 (type 19, RDB 10) the first ID, the largest
//! deleted ID and the entries-added counter; then the consumer groups: name, last ID, from
//! version 2 the entries-read counter, the group's pending entries (raw 16-byte ID, delivery
//! time, delivery count) and its consumers (name, seen time, from version 3 (type 21, RDB 11)
//! the active time, and the IDs pending for it). Every count is checked against the input
//! that remains before anything is built from it.

use super::listpack::{self, Elem, ListpackWriter};
use super::{Reader, put_len};
use crate::db::Value;
use crate::db::stream::{Consumer, Group, Pending, Stream, StreamId};
use std::collections::BTreeSet;

/// Stream type bytes: listpacks version 1 (RDB 9), 2 (RDB 10) and 3 (RDB 11).
pub const TYPE_V1: u8 = 15;
/// See [`TYPE_V1`].
pub const TYPE_V2: u8 = 19;
/// See [`TYPE_V1`].
pub const TYPE_V3: u8 = 21;

/// Entry flag: the entry was deleted (its slot stays until the node empties).
const DELETED: i64 = 1;
/// Entry flag: the field names are the master entry's, so only values follow.
const SAME_FIELDS: i64 = 2;

/// The stream type a file of RDB `version` carries.
pub fn type_byte(version: u16) -> u8 {
    match version {
        v if v >= 11 => TYPE_V3,
        10 => TYPE_V2,
        _ => TYPE_V1,
    }
}

/// How strings are written (the file writer compresses with its LZF table).
pub type StringSink<'a> = dyn FnMut(&mut Vec<u8>, &[u8]) + 'a;

fn id_bytes(id: StreamId) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&id.ms.to_be_bytes());
    b[8..].copy_from_slice(&id.seq.to_be_bytes());
    b
}

fn put_id(out: &mut Vec<u8>, id: StreamId) {
    put_len(out, id.ms);
    put_len(out, id.seq);
}

/// Writes the body of a stream (after type byte and key) in the form of RDB `version`.
pub fn encode(s: &Stream, version: u16, out: &mut Vec<u8>, string: &mut StringSink<'_>) {
    put_len(out, s.node_count() as u64);
    for (master, ids) in s.nodes() {
        string(out, &id_bytes(master));
        string(out, &node_listpack(s, master, ids));
    }
    put_len(out, s.len() as u64);
    put_id(out, s.last_id);
    if version >= 10 {
        put_id(out, s.first_id());
        put_id(out, s.max_deleted_id);
        put_len(out, s.entries_added);
    }
    put_len(out, s.groups.len() as u64);
    for (name, g) in &s.groups {
        string(out, name);
        put_id(out, g.last_id);
        if version >= 10 {
            // -1 ("unknown") is written as its two's complement, as Redis does.
            put_len(out, g.entries_read as u64);
        }
        put_len(out, g.pel.len() as u64);
        for (id, p) in &g.pel {
            out.extend_from_slice(&id_bytes(*id));
            out.extend_from_slice(&p.delivered_ms.to_le_bytes());
            put_len(out, p.deliveries);
        }
        put_len(out, g.consumers.len() as u64);
        for (cname, c) in &g.consumers {
            string(out, cname);
            out.extend_from_slice(&c.seen_ms.to_le_bytes());
            if version >= 11 {
                // No separate active time is kept: the seen time stands for it.
                out.extend_from_slice(&c.seen_ms.to_le_bytes());
            }
            put_len(out, c.pel.len() as u64);
            for id in &c.pel {
                out.extend_from_slice(&id_bytes(*id));
            }
        }
    }
}

fn int_bytes(v: i64) -> Vec<u8> {
    crate::db::string::i64_bytes(v)
}

/// One node as a listpack. The master field names are the first live entry's (the entry that
/// created the node may be gone); deleted slots keep their place with empty values, since
/// their content is never read again.
fn node_listpack(s: &Stream, master: StreamId, ids: &[StreamId]) -> Vec<u8> {
    let names = |f: &[Vec<u8>]| -> Vec<Vec<u8>> { f.iter().step_by(2).cloned().collect() };
    let master_fields = ids
        .iter()
        .find_map(|id| s.get(*id))
        .map(names)
        .unwrap_or_default();
    let live = ids.iter().filter(|id| s.get(**id).is_some()).count();
    let mut lp = ListpackWriter::default();
    lp.push(&int_bytes(live as i64));
    lp.push(&int_bytes((ids.len() - live) as i64));
    lp.push(&int_bytes(master_fields.len() as i64));
    for f in &master_fields {
        lp.push(f);
    }
    lp.push(b"0");
    for id in ids {
        let fields = s.get(*id);
        let same = fields.is_none_or(|f| names(f) == master_fields);
        let flags = if fields.is_none() { DELETED } else { 0 } | if same { SAME_FIELDS } else { 0 };
        lp.push(&int_bytes(flags));
        lp.push(&int_bytes(id.ms.wrapping_sub(master.ms) as i64));
        lp.push(&int_bytes(id.seq.wrapping_sub(master.seq) as i64));
        let count = match fields {
            None => {
                master_fields.iter().for_each(|_| lp.push(b""));
                master_fields.len() + 3
            }
            Some(f) if same => {
                f.iter().skip(1).step_by(2).for_each(|v| lp.push(v));
                master_fields.len() + 3
            }
            Some(f) => {
                lp.push(&int_bytes((f.len() / 2) as i64));
                f.iter().for_each(|x| lp.push(x));
                f.len() + 4
            }
        };
        lp.push(&int_bytes(count as i64));
    }
    lp.finish()
}

impl Reader<'_> {
    /// A count of items each taking at least `min_bytes` of the remaining input.
    fn items(&mut self, min_bytes: usize) -> Option<usize> {
        let remaining = self.b.len().saturating_sub(self.p);
        match self.len()? {
            (n, false) if n <= (remaining / min_bytes.max(1)) as u64 => Some(n as usize),
            _ => None,
        }
    }

    fn plain(&mut self) -> Option<u64> {
        match self.len()? {
            (n, false) => Some(n),
            _ => None,
        }
    }

    fn stream_id(&mut self) -> Option<StreamId> {
        Some(StreamId {
            ms: self.plain()?,
            seq: self.plain()?,
        })
    }

    fn raw_id(&mut self) -> Option<StreamId> {
        id_from(self.take(16)?)
    }

    /// A time in Unix ms, kept within a range where `now - t` cannot overflow (a corrupt
    /// value would otherwise reach the idle-time arithmetic of XPENDING and XINFO).
    fn millis(&mut self) -> Option<i64> {
        let t = i64::from_le_bytes(self.take(8)?.try_into().ok()?);
        Some(t.clamp(0, i64::MAX / 2))
    }
}

fn id_from(b: &[u8]) -> Option<StreamId> {
    if b.len() != 16 {
        return None;
    }
    Some(StreamId {
        ms: u64::from_be_bytes(b[..8].try_into().ok()?),
        seq: u64::from_be_bytes(b[8..].try_into().ok()?),
    })
}

/// Decodes a stream body of type `t` (15, 19 or 21).
pub fn decode(r: &mut Reader<'_>, t: u8) -> Option<Value> {
    let level = match t {
        TYPE_V1 => 1,
        TYPE_V2 => 2,
        TYPE_V3 => 3,
        _ => return None,
    };
    let mut s = Stream::new();
    // Smallest node: a 16-byte key with its length byte and a minimal listpack string.
    for _ in 0..r.items(18)? {
        let master = id_from(&r.string()?)?;
        let blob = r.string()?;
        let slots = node_slots(master, &blob)?;
        if !s.push_node(master, slots) {
            return None;
        }
    }
    let length = r.plain()?;
    s.last_id = r.stream_id()?;
    if level >= 2 {
        r.stream_id()?;
        s.max_deleted_id = r.stream_id()?;
        s.entries_added = r.plain()?;
        if s.entries_added > i64::MAX as u64 {
            return None;
        }
    } else {
        s.entries_added = length;
    }
    if length != s.len() as u64 || s.last_live_id().is_some_and(|l| l > s.last_id) {
        return None;
    }
    // Smallest group: name, last ID, counter and two empty counts.
    for _ in 0..r.items(5)? {
        let name = r.string()?;
        let g = decode_group(r, &s, level)?;
        if s.groups.insert(name.into(), g).is_some() {
            return None;
        }
    }
    Some(Value::Stream(Box::new(s)))
}

fn decode_group(r: &mut Reader<'_>, s: &Stream, level: u8) -> Option<Group> {
    let mut g = Group {
        last_id: r.stream_id()?,
        ..Group::default()
    };
    g.entries_read = if level >= 2 {
        // Two's complement: -1 ("unknown") is the only negative value.
        match r.plain()? as i64 {
            n if n < -1 => return None,
            n => n,
        }
    } else {
        s.estimate_read_counter(g.last_id).unwrap_or(-1)
    };
    // A pending entry: raw ID, delivery time and a count byte at least.
    for _ in 0..r.items(25)? {
        let id = r.raw_id()?;
        let p = Pending {
            consumer: Default::default(),
            delivered_ms: r.millis()?,
            deliveries: r.plain()?,
        };
        if g.pel.insert(id, p).is_some() {
            return None;
        }
    }
    let mut owned = BTreeSet::new();
    for _ in 0..r.items(10)? {
        let name: crate::db::Key = r.string()?.into();
        let mut c = Consumer {
            seen_ms: r.millis()?,
            ..Consumer::default()
        };
        if level >= 3 {
            r.millis()?;
        }
        for _ in 0..r.items(16)? {
            let id = r.raw_id()?;
            // Each pending entry belongs to exactly one consumer.
            let p = g.pel.get_mut(&id)?;
            if !owned.insert(id) {
                return None;
            }
            p.consumer = name.clone();
            c.pel.insert(id);
        }
        if g.consumers.insert(name, c).is_some() {
            return None;
        }
    }
    (owned.len() == g.pel.len()).then_some(g)
}

/// An entry's fields (`None`: deleted), in slot order.
type Slots = Vec<(StreamId, Option<Vec<Vec<u8>>>)>;

fn int(e: Option<Elem>) -> Option<i64> {
    match e? {
        Elem::Int(i) => Some(i),
        Elem::Str(s) => listpack::canonical_int(&s),
    }
}

/// The entries of one node's listpack. Field names shared with the master entry are copied
/// into each entry, so their total is bounded by a multiple of the blob's size.
fn node_slots(master: StreamId, blob: &[u8]) -> Option<Slots> {
    let mut it = listpack::listpack(blob)?.into_iter();
    let (live, deleted) = (int(it.next())?, int(it.next())?);
    let mut master_fields = Vec::new();
    for _ in 0..int(it.next())? {
        master_fields.push(it.next()?.into_bytes());
    }
    if int(it.next())? != 0 {
        return None;
    }
    let mut budget = blob.len().saturating_mul(1024);
    let mut slots = Vec::new();
    while let Some(flags) = it.next() {
        let flags = int(Some(flags))?;
        let id = StreamId {
            ms: master.ms.wrapping_add(int(it.next())? as u64),
            seq: master.seq.wrapping_add(int(it.next())? as u64),
        };
        let mut fields = Vec::new();
        let count = if flags & SAME_FIELDS != 0 {
            for f in &master_fields {
                budget = budget.checked_sub(f.len())?;
                fields.push(f.clone());
                fields.push(it.next()?.into_bytes());
            }
            master_fields.len() + 3
        } else {
            let n = int(it.next())?;
            for _ in 0..n.max(0).saturating_mul(2) {
                fields.push(it.next()?.into_bytes());
            }
            fields.len() + 4
        };
        if int(it.next())? != count as i64 || fields.is_empty() {
            return None;
        }
        slots.push((id, (flags & DELETED == 0).then_some(fields)));
    }
    let live_seen = slots.iter().filter(|(_, f)| f.is_some()).count() as i64;
    (live_seen == live && slots.len() as i64 - live_seen == deleted && !slots.is_empty())
        .then_some(slots)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::stream::Trim;
    use crate::rdb::{dump, restore};

    fn id(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    fn kv(pairs: &[&str]) -> Vec<Vec<u8>> {
        pairs.iter().map(|p| p.as_bytes().to_vec()).collect()
    }

    /// Two nodes (node size 3), a deleted entry, an exact trim, a group with pending entries
    /// for two consumers and one acknowledged.
    fn sample() -> Stream {
        let mut s = Stream::new();
        for i in 1..=7u64 {
            let fields = if i == 4 {
                kv(&["other", "x", "n", "12"])
            } else {
                kv(&["a", &i.to_string(), "b", "text"])
            };
            s.append(id(1000 + i, i), fields, 3);
        }
        s.delete(id(1005, 5));
        s.trim(Trim::MaxLen(5), false, 0);
        s.groups.insert(b"g".to_vec().into(), Group::default());
        s.read_group(b"g", b"alice", None, 2, false, 111);
        s.read_group(b"g", b"bob", None, 0, false, 222);
        if let Some(g) = s.groups.get_mut(&b"g"[..]) {
            g.ack(id(1004, 4));
        }
        s
    }

    fn summary(v: &Value) -> String {
        let Value::Stream(s) = v else {
            return "not a stream".into();
        };
        let entries: Vec<String> = s
            .range(StreamId::MIN, StreamId::MAX, false, 0)
            .iter()
            .map(|(i, f)| format!("{}={:?}", i.text(), f))
            .collect();
        let nodes: Vec<String> = s
            .nodes()
            .map(|(m, ids)| format!("{}:{}", m.text(), ids.len()))
            .collect();
        let groups: Vec<String> = s
            .groups
            .iter()
            .map(|(n, g)| {
                let pel: Vec<String> = g
                    .pel
                    .iter()
                    .map(|(i, p)| {
                        format!(
                            "{}@{:?}/{}/{}",
                            i.text(),
                            p.consumer,
                            p.delivered_ms,
                            p.deliveries
                        )
                    })
                    .collect();
                let cons: Vec<String> = g
                    .consumers
                    .iter()
                    .map(|(n, c)| format!("{n:?}:{}:{:?}", c.seen_ms, c.pel))
                    .collect();
                format!(
                    "{n:?} {} {} {pel:?} {cons:?}",
                    g.last_id.text(),
                    g.entries_read
                )
            })
            .collect();
        format!(
            "{entries:?} {nodes:?} last={} maxdel={} added={} {groups:?}",
            s.last_id.text(),
            s.max_deleted_id.text(),
            s.entries_added
        )
    }

    #[test]
    fn round_trips_in_every_version() {
        let v = Value::Stream(Box::new(sample()));
        let want = summary(&v);
        assert!(
            !want.contains("1005-5=") && want.contains("1004-4="),
            "{want}"
        );
        for compat in [70200, 70000] {
            let p = dump(&v, compat);
            assert_eq!(p[0], if compat == 70200 { TYPE_V3 } else { TYPE_V2 });
            let back = restore(&p, compat).unwrap();
            assert_eq!(summary(&back), want);
            assert_eq!(dump(&back, compat), p);
        }
        // Version 1 lacks the deletion counters: entries-added becomes the length.
        let p = dump(&v, 60200);
        assert_eq!(p[0], TYPE_V1);
        let back = restore(&p, 60200).unwrap();
        let Value::Stream(b) = &back else { panic!() };
        assert_eq!((b.len(), b.entries_added, b.node_count()), (5, 5, 3));
    }

    fn from_hex(h: &str) -> Vec<u8> {
        (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
            .collect()
    }

    /// DUMP of a stream from redis-server 7.0.15: 1-1 a 1 b 2, 1-2 (deleted), 2-0 c x,
    /// 3-5 a 9 b 9; group g read two entries for consumer alice.
    #[test]
    fn real_redis_7_stream_payload() {
        let p = from_hex(concat!(
            "13011000000000000000010000000000000001404a4a0000001f0003010101020181610281620200",
            "0102010001000101010201050103010001010103010401050100010101dfff020101816302817802",
            "0601020102010401090109010501ff0303050101010204010167020081ffffffffffffffff020000",
            "00000000000100000000000000010bcead47a201000001000000000000000200000000000000000b",
            "cead47a2010000010105616c6963650bcead47a20100000200000000000000010000000000000001",
            "000000000000000200000000000000000a00f6f6023fa63c1d85",
        ));
        let v = restore(&p, 70000).unwrap();
        let Value::Stream(s) = &v else { panic!() };
        assert_eq!(s.len(), 3);
        assert_eq!(s.get(id(2, 0)), Some(&kv(&["c", "x"])[..]));
        assert_eq!(s.get(id(3, 5)), Some(&kv(&["a", "9", "b", "9"])[..]));
        assert_eq!((s.max_deleted_id, s.entries_added), (id(1, 2), 4));
        let g = &s.groups[&b"g"[..]];
        assert_eq!((g.last_id, g.entries_read, g.pel.len()), (id(2, 0), -1, 2));
        assert_eq!(&g.pel[&id(2, 0)].consumer[..], b"alice");
        assert_eq!(g.consumers[&b"alice"[..]].pel.len(), 2);
        // The deleted slot is kept in its node, as in the source.
        assert_eq!(s.nodes().next().map(|(_, ids)| ids.len()), Some(4));
    }

    #[test]
    fn refuses_inconsistent_bodies() {
        let v = Value::Stream(Box::new(sample()));
        let p = dump(&v, 70000);
        let body = &p[1..p.len() - 10];
        // Every truncation fails cleanly.
        for cut in 0..body.len() {
            let mut r = Reader {
                b: &body[..cut],
                p: 0,
            };
            assert!(decode(&mut r, TYPE_V2).is_none(), "cut at {cut}");
        }
    }
}
