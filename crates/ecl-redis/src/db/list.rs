//! List values: a deque of byte strings with a running byte total, and the list algorithms
//! (index normalisation, LPOS, LREM, LINSERT, LTRIM).
//!
//! Place in the flow: the storage behind `Value::List`. Command parsing and replies live in
//! `command/lists.rs`; this file holds only the data structure and its algorithms.
//!
//! Elements are [`SmallBytes`]: one of up to 22 bytes (most list payloads: ids, small JSON
//! numbers, queue tokens) lives inside the deque's slot, so a push or a pop of one allocates
//! and frees nothing, as redis-server's listpack-packed quicklist nodes do not per element.

use std::collections::VecDeque;

use super::bytes::SmallBytes;

/// A Redis list.
#[derive(Clone, Debug, Default)]
pub struct List {
    items: VecDeque<SmallBytes>,
    bytes: usize,
    quicklist: bool,
}

/// Per-element accounting overhead.
const ELEM_OVERHEAD: usize = 16;

/// Which end of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The head (LEFT).
    Left,
    /// The tail (RIGHT).
    Right,
}

impl End {
    /// Parses `LEFT` / `RIGHT` (any case).
    pub fn parse(b: &[u8]) -> Option<End> {
        if b.eq_ignore_ascii_case(b"left") {
            Some(End::Left)
        } else if b.eq_ignore_ascii_case(b"right") {
            Some(End::Right)
        } else {
            None
        }
    }
}

impl List {
    /// Empty list.
    pub fn new() -> List {
        List::default()
    }
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.items.len()
    }
    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    /// Prepends.
    pub fn push_front(&mut self, v: impl Into<SmallBytes>) {
        let v = v.into();
        self.bytes += v.len() + ELEM_OVERHEAD;
        self.items.push_front(v);
    }
    /// Appends.
    pub fn push_back(&mut self, v: impl Into<SmallBytes>) {
        let v = v.into();
        self.bytes += v.len() + ELEM_OVERHEAD;
        self.items.push_back(v);
    }
    /// Pushes at one end.
    pub fn push(&mut self, end: End, v: impl Into<SmallBytes>) {
        match end {
            End::Left => self.push_front(v),
            End::Right => self.push_back(v),
        }
    }
    /// Pops from one end.
    pub fn pop(&mut self, end: End) -> Option<SmallBytes> {
        match end {
            End::Left => self.pop_front(),
            End::Right => self.pop_back(),
        }
    }
    /// Removes the head.
    pub fn pop_front(&mut self) -> Option<SmallBytes> {
        let v = self.items.pop_front()?;
        self.bytes -= v.len() + ELEM_OVERHEAD;
        Some(v)
    }
    /// Removes the tail.
    pub fn pop_back(&mut self) -> Option<SmallBytes> {
        let v = self.items.pop_back()?;
        self.bytes -= v.len() + ELEM_OVERHEAD;
        Some(v)
    }
    /// Element at index (0-based from the head).
    pub fn get(&self, i: usize) -> Option<&SmallBytes> {
        self.items.get(i)
    }
    /// Resolves a Redis index (negative counts from the tail).
    pub fn index(&self, i: i64) -> Option<usize> {
        let len = self.items.len() as i64;
        let j = if i < 0 { len + i } else { i };
        (0..len).contains(&j).then_some(j as usize)
    }
    /// Replaces the element at `i`; false when out of range.
    pub fn set(&mut self, i: usize, v: impl Into<SmallBytes>) -> bool {
        let v = v.into();
        match self.items.get_mut(i) {
            Some(slot) => {
                self.bytes = self.bytes + v.len() - slot.len();
                *slot = v;
                true
            }
            None => false,
        }
    }
    /// Iterates head to tail.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &SmallBytes> + ExactSizeIterator {
        self.items.iter()
    }
    /// Direct access for the list family's algorithms; call [`List::recount`] after edits.
    pub fn items_mut(&mut self) -> &mut VecDeque<SmallBytes> {
        &mut self.items
    }
    /// Recomputes the byte total after direct edits.
    pub fn recount(&mut self) {
        self.bytes = self.items.iter().map(|v| v.len() + ELEM_OVERHEAD).sum();
    }
    /// Inserts `v` before or after the first occurrence of `pivot`; the new length, or `None`
    /// when the pivot is absent.
    pub fn insert_at_pivot(
        &mut self,
        pivot: &[u8],
        v: impl Into<SmallBytes>,
        after: bool,
    ) -> Option<usize> {
        let pos = self.items.iter().position(|x| x.as_slice() == pivot)?;
        let v = v.into();
        self.bytes += v.len() + ELEM_OVERHEAD;
        self.items.insert(if after { pos + 1 } else { pos }, v);
        Some(self.items.len())
    }
    /// LREM: removes up to `count` occurrences (all when 0; from the tail when negative).
    pub fn remove_matching(&mut self, value: &[u8], count: i64) -> usize {
        let limit = if count == 0 {
            usize::MAX
        } else {
            count.unsigned_abs() as usize
        };
        let mut removed = 0;
        if count >= 0 {
            let mut i = 0;
            while i < self.items.len() && removed < limit {
                if self.items[i].as_slice() == value {
                    self.items.remove(i);
                    removed += 1;
                } else {
                    i += 1;
                }
            }
        } else {
            let mut i = self.items.len();
            while i > 0 && removed < limit {
                i -= 1;
                if self.items[i].as_slice() == value {
                    self.items.remove(i);
                    removed += 1;
                }
            }
        }
        self.bytes -= removed * (value.len() + ELEM_OVERHEAD);
        removed
    }
    /// LTRIM: keeps only the inclusive Redis range `start..=end`.
    pub fn trim(&mut self, start: i64, end: i64) {
        match crate::db::string::rank_range(start, end, self.items.len()) {
            None => self.items.clear(),
            Some((s, e)) => {
                self.items.truncate(e + 1);
                self.items.drain(..s);
            }
        }
        self.recount();
    }
    /// LPOS: positions of `value` with Redis' RANK / COUNT (0 = all) / MAXLEN (0 = whole list).
    pub fn positions(&self, value: &[u8], rank: i64, count: usize, maxlen: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let len = self.items.len();
        let want = if count == 0 { usize::MAX } else { count };
        let mut skip = rank.unsigned_abs().saturating_sub(1);
        let scan = if maxlen == 0 { len } else { maxlen.min(len) };
        for step in 0..scan {
            let i = if rank > 0 { step } else { len - 1 - step };
            if self.items[i].as_slice() == value {
                if skip > 0 {
                    skip -= 1;
                    continue;
                }
                out.push(i);
                if out.len() >= want {
                    break;
                }
            }
        }
        out
    }
    /// Approximate memory.
    pub fn mem_size(&self) -> usize {
        self.bytes + 48
    }
    /// Applies `list-max-listpack-size` after a write: a list turns into a quicklist when it
    /// outgrows one listpack node and back once it shrinks to half the limit, as Redis 7.2.
    /// `None` (engines before 7.2) keeps every list a quicklist.
    pub fn check_encoding(&mut self, max_size: Option<i64>) {
        let Some(max_size) = max_size else {
            self.quicklist = true;
            return;
        };
        let fits = |n: usize, bytes: usize, shrink: bool| -> bool {
            let div = if shrink { 2 } else { 1 };
            if max_size >= 0 {
                n <= (max_size as usize) / div
            } else {
                let level = max_size.unsigned_abs().clamp(1, 5) as u32;
                bytes <= (4096usize << (level - 1)) / div
            }
        };
        let payload = self
            .bytes
            .saturating_sub(self.items.len() * (ELEM_OVERHEAD - 2));
        if !self.quicklist {
            if !fits(self.items.len(), payload, false) {
                self.quicklist = true;
            }
        } else if fits(self.items.len(), payload, true) {
            self.quicklist = false;
        }
    }
    /// `OBJECT ENCODING` name.
    pub fn encoding(&self) -> &'static str {
        if self.quicklist {
            "quicklist"
        } else {
            "listpack"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> List {
        let mut l = List::new();
        for i in items {
            l.push_back(i.as_bytes().to_vec());
        }
        l
    }

    #[test]
    fn lpos_rank_count_maxlen() {
        let l = list(&["a", "b", "c", "1", "2", "3", "c", "c"]);
        assert_eq!(l.positions(b"c", 1, 1, 0), vec![2]);
        assert_eq!(l.positions(b"c", 2, 1, 0), vec![6]);
        assert_eq!(l.positions(b"c", -1, 1, 0), vec![7]);
        assert_eq!(l.positions(b"c", 1, 0, 0), vec![2, 6, 7]);
        assert_eq!(l.positions(b"c", -1, 2, 0), vec![7, 6]);
        assert_eq!(l.positions(b"c", 1, 0, 3), vec![2]);
    }

    #[test]
    fn lrem_trim_insert() {
        let mut l = list(&["a", "x", "b", "x", "c", "x"]);
        assert_eq!(l.remove_matching(b"x", -2), 2);
        assert_eq!(
            l.iter().map(|v| v.as_slice()).collect::<Vec<_>>(),
            [b"a", b"x", b"b", b"c"]
        );
        assert_eq!(l.insert_at_pivot(b"b", b"y".to_vec(), true), Some(5));
        assert_eq!(l.insert_at_pivot(b"zz", b"y".to_vec(), true), None);
        l.trim(1, -2);
        assert_eq!(
            l.iter().map(|v| v.as_slice()).collect::<Vec<_>>(),
            [b"x", b"b", b"y"]
        );
        let before = l.mem_size();
        l.recount();
        assert_eq!(before, l.mem_size());
        l.trim(5, 10);
        assert!(l.is_empty());
    }
}
