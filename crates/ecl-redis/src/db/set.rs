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
    enc: SetEnc,
    /// Intset element width in bytes (2, 4, 8; 0 before the first member): like a real intset
    /// it only grows, so a set that once held a wide integer keeps the wide layout.
    width: u8,
}

/// Set encodings; conversions only go "up" (intset → listpack → hashtable), as in Redis.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum SetEnc {
    /// All members are integers.
    #[default]
    Intset,
    /// Small set of short strings.
    Listpack,
    /// Hash table.
    Hashtable,
}

impl Clone for Set {
    fn clone(&self) -> Self {
        let mut s = Set::new();
        for (k, _) in self.members.iter() {
            s.insert(k);
        }
        s.enc = self.enc;
        s.width = self.width;
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
            if self.enc == SetEnc::Intset
                && let Some(v) = crate::db::string::parse_i64(m)
            {
                self.width = self.width.max(intset_width(v));
            }
        }
        inserted
    }
    /// The intset element width (2, 4 or 8 bytes) this set has grown to while an intset.
    pub fn intset_width(&self) -> u8 {
        self.width.max(2)
    }
    /// Keeps at least `w` bytes per element (a restored intset keeps its stored layout).
    pub fn widen_intset(&mut self, w: u8) {
        self.width = self.width.max(w);
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
    /// Applies the intset/listpack limits after adding `added` (Redis 7.2 rules: a set of
    /// integers stays an intset up to `set-max-intset-entries`; otherwise a listpack while
    /// within `set-max-listpack-*`; otherwise a hash table).
    pub fn check_encoding(&mut self, lim: SetLimits, added: &[&[u8]]) {
        let n = self.members.len();
        if self.enc == SetEnc::Intset {
            let all_int = added
                .iter()
                .all(|m| crate::db::string::parse_i64(m).is_some() && m.len() <= 20);
            if all_int && n <= lim.intset_entries {
                return;
            }
            let longest = self.iter().map(|m| m.len()).max().unwrap_or(0);
            self.enc = if n <= lim.listpack_entries && longest <= lim.listpack_value {
                SetEnc::Listpack
            } else {
                SetEnc::Hashtable
            };
            return;
        }
        if self.enc == SetEnc::Listpack {
            let longest = added.iter().map(|m| m.len()).max().unwrap_or(0);
            if n > lim.listpack_entries || longest > lim.listpack_value {
                self.enc = SetEnc::Hashtable;
            }
        }
    }
    /// The current encoding.
    pub fn encoding_kind(&self) -> SetEnc {
        self.enc
    }
    /// `OBJECT ENCODING` name.
    pub fn encoding(&self) -> &'static str {
        match self.enc {
            SetEnc::Intset => "intset",
            SetEnc::Listpack => "listpack",
            SetEnc::Hashtable => "hashtable",
        }
    }
}

/// Bytes an intset needs per element to hold `v`.
pub fn intset_width(v: i64) -> u8 {
    if i16::try_from(v).is_ok() {
        2
    } else if i32::try_from(v).is_ok() {
        4
    } else {
        8
    }
}

/// Encoding thresholds for sets (from the node's configuration).
#[derive(Clone, Copy, Debug)]
pub struct SetLimits {
    /// `set-max-intset-entries`.
    pub intset_entries: usize,
    /// `set-max-listpack-entries`.
    pub listpack_entries: usize,
    /// `set-max-listpack-value`.
    pub listpack_value: usize,
}

impl Default for SetLimits {
    fn default() -> Self {
        SetLimits {
            intset_entries: 512,
            listpack_entries: 128,
            listpack_value: 64,
        }
    }
}
