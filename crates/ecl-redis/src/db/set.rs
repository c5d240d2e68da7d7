//! Set values: unique members with a running byte total.
//!
//! Place in the flow: the storage behind `Value::Set`; argument parsing and replies live in
//! `command/sets.rs`. Built on [`Dict`] so SSCAN inherits SCAN's guarantees.

use super::dict::{Dict, Key};

/// A Redis set.
#[derive(Debug, Default)]
pub struct Set {
    members: Dict<()>,
    bytes: usize,
}

impl Clone for Set {
    fn clone(&self) -> Self {
        let mut s = Set::new();
        for (k, _) in self.members.iter() {
            s.insert(k);
        }
        s
    }
}

const MEMBER_OVERHEAD: usize = 24;

impl Set {
    /// Empty set.
    pub fn new() -> Set {
        Set::default()
    }
    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }
    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
    /// Adds a member; true when it was new.
    pub fn insert(&mut self, m: &[u8]) -> bool {
        let (_, inserted) = self.members.get_or_insert_with(m, || ());
        if inserted {
            self.bytes += m.len() + MEMBER_OVERHEAD;
        }
        inserted
    }
    /// Removes a member; true when it was present.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self.members.remove(m) {
            Some((k, _)) => {
                self.bytes -= k.len() + MEMBER_OVERHEAD;
                true
            }
            None => false,
        }
    }
    /// Membership test.
    pub fn contains(&self, m: &[u8]) -> bool {
        self.members.contains_key(m)
    }
    /// Iterates members.
    pub fn iter(&self) -> impl Iterator<Item = &Key> {
        self.members.iter().map(|(k, _)| k)
    }
    /// The underlying table (SSCAN, SRANDMEMBER).
    pub fn dict(&self) -> &Dict<()> {
        &self.members
    }
    /// Approximate memory.
    pub fn mem_size(&self) -> usize {
        self.bytes + 64 + self.members.bucket_count() * 4
    }
    /// `OBJECT ENCODING` name.
    pub fn encoding(&self) -> &'static str {
        let n = self.members.len();
        if n <= 512
            && self
                .iter()
                .all(|m| crate::db::string::parse_i64(m).is_some())
        {
            "intset"
        } else if n <= 128 && self.iter().all(|m| m.len() <= 64) {
            "listpack"
        } else {
            "hashtable"
        }
    }
}
