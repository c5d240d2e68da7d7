//! Value bodies in the encodings a real Redis writes, so DUMP payloads are byte-identical to
//! redis-server's (7.0: RDB 10; 7.2: RDB 11).
//!
//! Place in the flow: [`super::encode_value`] (DUMP, cluster migration) calls [`object`] for
//! RDB 10 and later. What Redis writes follows each value's encoding (as `OBJECT ENCODING`
//! reports it), as the RDB format documents:
//! - strings: integers that fit 32 bits in the integer forms, longer strings LZF-compressed
//!   when that saves at least 4 bytes, else raw ([`super::put_string`]);
//! - lists: quicklist 2 — listpack nodes of up to 8 KiB (`list-max-listpack-size -2`), each
//!   stored as a string (so LZF applies to it); a 7.2 listpack list is one node;
//! - sets: an intset blob (members ascending, in the widest layout the set has needed), from
//!   7.2 a listpack of the
//!   members, otherwise one string per member in table order;
//! - hashes: a listpack of field, value… in insertion order, or one string per field and value;
//! - sorted sets: a listpack of member, score… ascending, the score an integer entry when it is
//!   a whole number within ±2^62, else its text (`%.17g` before 7.2, shortest from 7.2); or
//!   the skiplist form: members from the highest score down, scores as binary doubles.
//!
//! Listpack entries that spell a canonical integer are stored as integers. Elements of table
//! encodings come in our table order, which differs from a real server's (its order depends on
//! a per-process hash seed, so two real servers differ too).

use super::listpack::{self, ListpackWriter};
use super::lzf::Compressor;
use super::{put_len, put_string, stream, ty};
use crate::db::Value;
use crate::db::list::List;
use crate::db::set::{Set, SetEnc};
use crate::db::zset::ZSet;

/// Byte budget of one quicklist node (`list-max-listpack-size -2`).
const QUICKLIST_NODE_BYTES: usize = 8192;
/// What a quicklist adds to its size estimate per element before checking the budget.
const NODE_ENTRY_OVERHEAD: usize = 8;

/// Writes type byte, then `key` (file records) and the body of `v` in Redis' encodings for
/// RDB `version` (10 or later).
pub fn object(
    v: &Value,
    key: Option<&[u8]>,
    version: u16,
    lzf: &mut Compressor,
    out: &mut Vec<u8>,
) {
    let head = |t: u8, lzf: &mut Compressor, out: &mut Vec<u8>| {
        out.push(t);
        if let Some(k) = key {
            put_string(lzf, out, k);
        }
    };
    match v {
        Value::Str(s) => {
            head(ty::STRING, lzf, out);
            put_string(lzf, out, s);
        }
        Value::List(l) => {
            head(ty::LIST_QUICKLIST_2, lzf, out);
            quicklist(l, lzf, out);
        }
        Value::Set(s) => set(s, version, &mut |t, lzf, out| head(t, lzf, out), lzf, out),
        Value::Hash(h) if h.encoding() == "listpack" => {
            head(ty::HASH_LISTPACK, lzf, out);
            let mut lp = ListpackWriter::default();
            for (f, val) in h.iter() {
                lp.push(f);
                lp.push(val);
            }
            put_string(lzf, out, &lp.finish());
        }
        Value::Hash(h) => {
            head(ty::HASH, lzf, out);
            put_len(out, h.len() as u64);
            for (f, val) in h.iter() {
                put_string(lzf, out, f);
                put_string(lzf, out, val);
            }
        }
        Value::ZSet(z) if z.encoding() == "listpack" => {
            head(ty::ZSET_LISTPACK, lzf, out);
            put_string(lzf, out, &zset_listpack(z, version));
        }
        Value::ZSet(z) => {
            head(ty::ZSET_2, lzf, out);
            put_len(out, z.len() as u64);
            for (m, score) in z.iter().collect::<Vec<_>>().into_iter().rev() {
                put_string(lzf, out, &m);
                out.extend_from_slice(&score.to_le_bytes());
            }
        }
        Value::Stream(st) => {
            head(stream::type_byte(version), lzf, out);
            stream::encode(st, version, out, &mut |o, b| put_string(lzf, o, b));
        }
    }
}

/// Quicklist-2 nodes: a new node starts when the current one's size plus the element and the
/// per-entry estimate would pass the node budget (as pushes at the tail fill them); a 7.2
/// listpack-encoded list is a single node.
fn quicklist(l: &List, lzf: &mut Compressor, out: &mut Vec<u8>) {
    let single = l.encoding() == "listpack";
    let mut nodes: Vec<Vec<u8>> = Vec::new();
    let mut lp = ListpackWriter::default();
    for item in l.iter() {
        if !single
            && lp.count() > 0
            && lp.size() + item.len() + NODE_ENTRY_OVERHEAD > QUICKLIST_NODE_BYTES
        {
            nodes.push(std::mem::take(&mut lp).finish());
        }
        lp.push(item);
    }
    if lp.count() > 0 {
        nodes.push(lp.finish());
    }
    put_len(out, nodes.len() as u64);
    for n in nodes {
        // Container 2: a packed listpack node (1 would be a single plain element).
        put_len(out, 2);
        put_string(lzf, out, &n);
    }
}

type Head<'a> = dyn FnMut(u8, &mut Compressor, &mut Vec<u8>) + 'a;

fn set(s: &Set, version: u16, head: &mut Head<'_>, lzf: &mut Compressor, out: &mut Vec<u8>) {
    let enc = s.encoding_kind();
    if enc == SetEnc::Intset {
        let ints: Option<Vec<i64>> = s.iter().map(|m| listpack::canonical_int(m)).collect();
        if let Some(mut ints) = ints {
            head(ty::SET_INTSET, lzf, out);
            let blob = listpack::intset_encode_wide(&mut ints, usize::from(s.intset_width()));
            put_string(lzf, out, &blob);
            return;
        }
    }
    // Listpack sets exist from RDB 11 (Redis 7.2) on.
    if enc == SetEnc::Listpack && version >= 11 {
        head(ty::SET_LISTPACK, lzf, out);
        let mut lp = ListpackWriter::default();
        for m in s.iter() {
            lp.push(m);
        }
        put_string(lzf, out, &lp.finish());
        return;
    }
    head(ty::SET, lzf, out);
    put_len(out, s.len() as u64);
    for m in s.iter() {
        put_string(lzf, out, m);
    }
}

/// A listpack sorted set: member, score… in ascending order.
fn zset_listpack(z: &ZSet, version: u16) -> Vec<u8> {
    let mut lp = ListpackWriter::default();
    for (m, score) in z.iter() {
        lp.push(&m);
        lp.push(score_entry(score, version).as_bytes());
    }
    lp.finish()
}

/// A score as Redis puts it in a listpack: whole numbers within ±2^62 as integers (negative
/// zero included, as 0), others as `%.17g` text before 7.2 and shortest text from 7.2.
pub fn score_entry(v: f64, version: u16) -> String {
    const LIMIT: f64 = 4_611_686_018_427_387_904.0; // 2^62, Redis' long long range / 2
    if (-LIMIT..=LIMIT).contains(&v) && v == v.trunc() {
        return (v as i64).to_string();
    }
    if version >= 11 || !v.is_finite() {
        crate::resp::reply::format_double(v)
    } else {
        crate::resp::reply::format_g17(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::hash::Hash;

    fn hex(v: &Value) -> String {
        super::super::dump(v, 70015)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// DUMP payloads taken from redis-server 7.0.15 for the same values: byte for byte.
    #[test]
    fn payloads_match_redis_7_0() {
        let s = |b: &[u8]| Value::Str(b.to_vec().into());
        assert_eq!(
            hex(&s(&[b'x'; 21])),
            "00c30615017878e00a000a00941a83676017192f"
        );
        assert_eq!(
            hex(&s(&b"abc".repeat(100))),
            "00c30e412c0361626361e0ff02e115070162630a00d25733cec044e12b"
        );
        assert_eq!(hex(&s(b"123")), "00c07b0a0048e253e1007a67b9");
        assert_eq!(hex(&s(b"-2147483648")), "00c2000000800a00c74f873e33558187");
        let mut l = List::new();
        for e in [&b"a"[..], b"12", b"-5", &[b'x'; 30]] {
            l.push_back(e.to_vec());
        }
        assert_eq!(
            hex(&Value::List(Box::new(l))),
            "120102c3172f0f2f00000004008161020c01dffb029e78e01400011fff0a00c34fdb63774645ce"
        );
        let mut h = Hash::new();
        h.insert(b"f1", b"v1".to_vec());
        h.insert(b"f2", b"300".to_vec());
        assert_eq!(
            hex(&Value::Hash(Box::new(h))),
            "1016160000000400826631038276310382663203c12c02ff0a00f8152cbdbe4577b5"
        );
        let mut z = ZSet::new();
        for (m, sc) in [
            (&b"a"[..], 1.1),
            (b"b", -0.0),
            (b"c", 1e17),
            (b"d", f64::INFINITY),
        ] {
            z.insert(m, sc);
        }
        assert_eq!(
            hex(&Value::ZSet(Box::new(z))),
            "11c3303812380000000800816202000181610292312e3130e00400173113816302f400008a5d7845\
             63010981640283696e6604ff0a004568644012c5a0ff"
        );
        let mut zs = ZSet::new();
        zs.insert(b"m", 1.0);
        zs.insert(&[b'x'; 70], 2.0);
        zs.check_encoding(128, 64, 70);
        assert_eq!(
            hex(&Value::ZSet(Box::new(zs))),
            "0502c3094046017878e039000178780000000000000040016d000000000000f03f0a0093bfedff5a47add8"
        );
        let mut i = Set::new();
        i.insert(b"1");
        i.insert(b"100000");
        i.remove(b"100000");
        assert_eq!(
            hex(&Value::Set(Box::new(i))),
            "0b0c0400000001000000010000000a00ca59bf87762d2635"
        );
    }

    #[test]
    fn scores_as_redis_writes_them() {
        assert_eq!(score_entry(-0.0, 10), "0");
        assert_eq!(score_entry(1e17, 10), "100000000000000000");
        assert_eq!(score_entry(1.1, 10), "1.1000000000000001");
        assert_eq!(score_entry(1e300, 10), "1.0000000000000001e+300");
        assert_eq!(score_entry(f64::NEG_INFINITY, 10), "-inf");
        assert_eq!(score_entry(1e19, 10), "1e+19");
        assert_eq!(score_entry(1.1, 11), "1.1");
    }
}
