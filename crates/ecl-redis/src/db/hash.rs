//! Hash values: field → value map with a running byte total.
//!
//! Place in the flow: the storage behind `Value::Hash`; argument parsing and replies live in
//! `command/hashes.rs`. Built on [`Dict`] so HSCAN inherits SCAN's guarantees. Values are
//! [`SmallBytes`] like the fields (the dict's keys): a field set to a short value (a counter, a
//! flag, a small id) allocates nothing beyond its slot.

use super::bytes::SmallBytes;
use super::dict::{Dict, Key};

/// A Redis hash.
#[derive(Debug, Default)]
pub struct Hash {
    map: Dict<SmallBytes>,
    bytes: usize,
    hashtable: bool,
}

impl Clone for Hash {
    fn clone(&self) -> Self {
        let mut h = Hash::new();
        for (k, v) in self.map.iter() {
            h.insert(k, v.clone());
        }
        h.hashtable = self.hashtable;
        h
    }
}

const FIELD_OVERHEAD: usize = 32;

impl Hash {
    /// Empty hash.
    pub fn new() -> Hash {
        Hash::default()
    }
    /// Number of fields.
    pub fn len(&self) -> usize {
        self.map.len()
    }
    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    /// Value of a field.
    pub fn get(&self, field: &[u8]) -> Option<&SmallBytes> {
        self.map.get(field)
    }
    /// Sets a field; returns true when the field is new.
    pub fn insert(&mut self, field: &[u8], value: impl Into<SmallBytes>) -> bool {
        let value = value.into();
        let vlen = value.len();
        let (slot, inserted) = self.map.get_or_insert_with(field, SmallBytes::new);
        let old = std::mem::replace(slot, value);
        if inserted {
            self.bytes += field.len() + FIELD_OVERHEAD;
        }
        self.bytes = self.bytes + vlen - old.len();
        inserted
    }
    /// Removes a field.
    pub fn remove(&mut self, field: &[u8]) -> Option<SmallBytes> {
        let (k, v) = self.map.remove(field)?;
        self.bytes -= k.len() + FIELD_OVERHEAD + v.len();
        if !self.hashtable && !self.map.is_empty() {
            // A listpack keeps insertion order: rebuild without the freed slot, so a field
            // added later comes last (HGETALL, DUMP) instead of filling the hole.
            let old = std::mem::take(&mut self.map);
            for (k, v) in old.into_entries() {
                self.map.insert(k, v);
            }
        }
        Some(v)
    }
    /// Iterates fields and values.
    pub fn iter(&self) -> impl Iterator<Item = (&Key, &SmallBytes)> {
        self.map.iter()
    }
    /// The underlying table (HSCAN, random fields).
    pub fn dict(&self) -> &Dict<SmallBytes> {
        &self.map
    }
    /// Approximate memory.
    pub fn mem_size(&self) -> usize {
        self.bytes + 64 + self.map.bucket_count() * 4
    }
    /// Applies `hash-max-listpack-*` after a write; `longest` is the longest field or value
    /// just written. The conversion is one-way, as in Redis.
    pub fn check_encoding(&mut self, max_entries: usize, max_value: usize, longest: usize) {
        if !self.hashtable && (self.map.len() > max_entries || longest > max_value) {
            self.hashtable = true;
        }
    }
    /// `OBJECT ENCODING` name.
    pub fn encoding(&self) -> &'static str {
        if self.hashtable {
            "hashtable"
        } else {
            "listpack"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A listpack hash keeps insertion order across deletes (a field added after a delete comes
    /// last, as in Redis' listpack), which HGETALL and DUMP show.
    #[test]
    fn listpack_order_survives_deletes() {
        let mut h = Hash::new();
        for f in [&b"a"[..], b"b", b"c"] {
            h.insert(f, b"v".to_vec());
        }
        h.remove(b"a");
        h.insert(b"d", b"v".to_vec());
        h.insert(b"b", b"w".to_vec());
        let order: Vec<&[u8]> = h.iter().map(|(k, _)| &**k).collect();
        assert_eq!(order, [&b"b"[..], b"c", b"d"]);
    }
}
