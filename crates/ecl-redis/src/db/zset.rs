//! Sorted-set values: member → score map plus an ordered index by (score, member).
//!
//! Place in the flow: the storage behind `Value::ZSet`; argument parsing and replies live in
//! `command/zsets.rs`. The ordered index is a `BTreeSet` keyed by a total order on scores
//! (Redis orders equal scores by member bytes).

use super::dict::{Dict, Key};
use std::cmp::Ordering;
use std::collections::BTreeSet;

/// A score with a total order (scores are never NaN in a sorted set).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Score(pub f64);

impl Eq for Score {}
impl PartialOrd for Score {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Score {
    fn cmp(&self, o: &Self) -> Ordering {
        self.0.total_cmp(&o.0)
    }
}

/// A Redis sorted set.
#[derive(Debug, Default)]
pub struct ZSet {
    scores: Dict<f64>,
    order: BTreeSet<(Score, Key)>,
    bytes: usize,
}

impl Clone for ZSet {
    fn clone(&self) -> Self {
        let mut z = ZSet::new();
        for (s, m) in &self.order {
            z.insert(m, s.0);
        }
        z
    }
}

const MEMBER_OVERHEAD: usize = 48;

impl ZSet {
    /// Empty sorted set.
    pub fn new() -> ZSet {
        ZSet::default()
    }
    /// Number of members.
    pub fn len(&self) -> usize {
        self.scores.len()
    }
    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }
    /// Score of a member.
    pub fn score(&self, m: &[u8]) -> Option<f64> {
        self.scores.get(m).copied()
    }
    /// Adds or updates a member; true when it was new.
    pub fn insert(&mut self, m: &[u8], score: f64) -> bool {
        let (slot, inserted) = self.scores.get_or_insert_with(m, || score);
        if inserted {
            self.bytes += 2 * m.len() + MEMBER_OVERHEAD;
        } else {
            let old = std::mem::replace(slot, score);
            self.order.remove(&(Score(old), Key::from(m)));
        }
        self.order.insert((Score(score), m.into()));
        inserted
    }
    /// Removes a member; true when it was present.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self.scores.remove(m) {
            Some((k, s)) => {
                self.bytes -= 2 * k.len() + MEMBER_OVERHEAD;
                self.order.remove(&(Score(s), k));
                true
            }
            None => false,
        }
    }
    /// Iterates (member, score) in ascending order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&Key, f64)> {
        self.order.iter().map(|(s, m)| (m, s.0))
    }
    /// The member → score table (ZSCAN).
    pub fn dict(&self) -> &Dict<f64> {
        &self.scores
    }
    /// The ordered index.
    pub fn ordered(&self) -> &BTreeSet<(Score, Key)> {
        &self.order
    }
    /// Approximate memory.
    pub fn mem_size(&self) -> usize {
        self.bytes + 96 + self.scores.bucket_count() * 4
    }
    /// `OBJECT ENCODING` name.
    pub fn encoding(&self) -> &'static str {
        if self.len() <= 128 && self.scores.iter().all(|(k, _)| k.len() <= 64) {
            "listpack"
        } else {
            "skiplist"
        }
    }
}
