//! Fingerprints of values and of a whole dataset, for `DEBUG DIGEST-VALUE` and `DEBUG DIGEST`:
//! equal content gives equal digests whatever the encoding or the order a set or hash was
//! built in, so tests can check that COPY, RESTORE or a reload kept a value.
//!
//! Place in the flow: pure functions over `db` values, called by the DEBUG handler. The
//! digests are SHA-1 based and 40 hex digits long like redis-server's, but computed our own
//! way, so a digest taken here does not equal redis-server's for the same data (README says
//! so); a missing key digests to 40 zeros, as there.

use ring::digest::{Context, SHA1_FOR_LEGACY_USE_ONLY};

use super::value::{Entry, Value};

/// A 20-byte SHA-1.
pub type Digest = [u8; 20];

/// The digest a missing key reports.
pub const ABSENT: Digest = [0; 20];

/// SHA-1 of `parts`, each preceded by its length so that no two sequences collide by
/// concatenation.
fn sha1_of(parts: &[&[u8]]) -> Digest {
    let mut ctx = Context::new(&SHA1_FOR_LEGACY_USE_ONLY);
    for p in parts {
        ctx.update(&(p.len() as u64).to_le_bytes());
        ctx.update(p);
    }
    let mut out = [0; 20];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// XORs `d` into `acc`: the combination of unordered members.
fn xor_into(acc: &mut Digest, d: &Digest) {
    for (a, b) in acc.iter_mut().zip(d) {
        *a ^= b;
    }
}

/// The digest of a value: its type and content (ordered where the type is ordered).
pub fn value_digest(v: &Value) -> Digest {
    match v {
        Value::Str(s) => sha1_of(&[b"string", s]),
        Value::List(l) => {
            let mut ctx = Context::new(&SHA1_FOR_LEGACY_USE_ONLY);
            ctx.update(b"list");
            for item in l.iter() {
                ctx.update(&sha1_of(&[item]));
            }
            finish(ctx)
        }
        Value::Set(s) => {
            let mut acc = ABSENT;
            for m in s.iter() {
                xor_into(&mut acc, &sha1_of(&[m]));
            }
            sha1_of(&[b"set", &acc])
        }
        Value::Hash(h) => {
            let mut acc = ABSENT;
            for (f, val) in h.iter() {
                xor_into(&mut acc, &sha1_of(&[f, val]));
            }
            sha1_of(&[b"hash", &acc])
        }
        Value::ZSet(z) => {
            let mut ctx = Context::new(&SHA1_FOR_LEGACY_USE_ONLY);
            ctx.update(b"zset");
            for (m, score) in z.iter() {
                ctx.update(&sha1_of(&[&m, &score.to_bits().to_le_bytes()]));
            }
            finish(ctx)
        }
        Value::Stream(s) => stream_digest(s),
    }
}

/// A stream's entries, last ID and consumer groups (their positions, consumers and PELs).
fn stream_digest(s: &super::stream::Stream) -> Digest {
    let mut ctx = Context::new(&SHA1_FOR_LEGACY_USE_ONLY);
    ctx.update(b"stream");
    let id_bytes = |id: super::stream::StreamId| [id.ms.to_le_bytes(), id.seq.to_le_bytes()];
    for (id, fields) in s.range(
        super::stream::StreamId::MIN,
        super::stream::StreamId::MAX,
        false,
        0,
    ) {
        let [ms, seq] = id_bytes(id);
        let mut parts: Vec<&[u8]> = vec![&ms, &seq];
        parts.extend(fields.iter().map(Vec::as_slice));
        ctx.update(&sha1_of(&parts));
    }
    let [ms, seq] = id_bytes(s.last_id);
    ctx.update(&sha1_of(&[&ms, &seq]));
    for (name, g) in &s.groups {
        let [ms, seq] = id_bytes(g.last_id);
        ctx.update(&sha1_of(&[name, &ms, &seq]));
        for (id, p) in &g.pel {
            let [ms, seq] = id_bytes(*id);
            ctx.update(&sha1_of(&[&ms, &seq, &p.consumer]));
        }
        for consumer in g.consumers.keys() {
            ctx.update(&sha1_of(&[consumer]));
        }
    }
    finish(ctx)
}

fn finish(ctx: Context) -> Digest {
    let mut out = [0; 20];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// The digest of one database's keys with their values and expiry times (order-free).
pub fn keys_digest<'a>(entries: impl Iterator<Item = (&'a [u8], &'a Entry)>) -> Digest {
    let mut acc = ABSENT;
    for (key, e) in entries {
        let value = value_digest(&e.value);
        xor_into(
            &mut acc,
            &sha1_of(&[key, &value, &e.expire_at.to_le_bytes()]),
        );
    }
    acc
}

/// The digest of a dataset from its databases' [`keys_digest`]s (empty databases left out).
pub fn dataset_digest(dbs: impl Iterator<Item = (usize, Digest)>) -> Digest {
    let mut ctx = Context::new(&SHA1_FOR_LEGACY_USE_ONLY);
    ctx.update(b"dataset");
    for (index, d) in dbs {
        ctx.update(&sha1_of(&[&(index as u64).to_le_bytes(), &d]));
    }
    finish(ctx)
}

/// Lowercase hex of a digest.
pub fn hex(d: &Digest) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::set::Set;

    #[test]
    fn sets_digest_alike_whatever_their_insertion_order() {
        let mut a = Set::default();
        let mut b = Set::default();
        for m in [&b"x"[..], b"y", b"z"] {
            a.insert(m);
        }
        for m in [&b"z"[..], b"x", b"y"] {
            b.insert(m);
        }
        let (a, b) = (Value::Set(Box::new(a)), Value::Set(Box::new(b)));
        assert_eq!(value_digest(&a), value_digest(&b));
        assert_ne!(
            value_digest(&a),
            value_digest(&Value::Str(b"xyz".to_vec().into()))
        );
    }
}
