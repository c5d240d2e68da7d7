//! List values: a deque of byte strings with a running byte total.
//!
//! Place in the flow: the storage behind `Value::List`. Command parsing and replies live in
//! `command/lists.rs`; this file holds only the data structure and its algorithms.

use std::collections::VecDeque;

/// A Redis list.
#[derive(Clone, Debug, Default)]
pub struct List {
    items: VecDeque<Vec<u8>>,
    bytes: usize,
}

/// Per-element accounting overhead.
const ELEM_OVERHEAD: usize = 16;

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
    pub fn push_front(&mut self, v: Vec<u8>) {
        self.bytes += v.len() + ELEM_OVERHEAD;
        self.items.push_front(v);
    }
    /// Appends.
    pub fn push_back(&mut self, v: Vec<u8>) {
        self.bytes += v.len() + ELEM_OVERHEAD;
        self.items.push_back(v);
    }
    /// Removes the head.
    pub fn pop_front(&mut self) -> Option<Vec<u8>> {
        let v = self.items.pop_front()?;
        self.bytes -= v.len() + ELEM_OVERHEAD;
        Some(v)
    }
    /// Removes the tail.
    pub fn pop_back(&mut self) -> Option<Vec<u8>> {
        let v = self.items.pop_back()?;
        self.bytes -= v.len() + ELEM_OVERHEAD;
        Some(v)
    }
    /// Element at index (0-based from the head).
    pub fn get(&self, i: usize) -> Option<&Vec<u8>> {
        self.items.get(i)
    }
    /// Iterates head to tail.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Vec<u8>> + ExactSizeIterator {
        self.items.iter()
    }
    /// Direct access for the list family's algorithms; call [`List::recount`] after edits.
    pub fn items_mut(&mut self) -> &mut VecDeque<Vec<u8>> {
        &mut self.items
    }
    /// Recomputes the byte total after direct edits.
    pub fn recount(&mut self) {
        self.bytes = self.items.iter().map(|v| v.len() + ELEM_OVERHEAD).sum();
    }
    /// Approximate memory.
    pub fn mem_size(&self) -> usize {
        self.bytes + 48
    }
    /// `OBJECT ENCODING` name.
    pub fn encoding(&self) -> &'static str {
        if self.items.len() <= 128 && self.items.iter().all(|v| v.len() <= 64) {
            "listpack"
        } else {
            "quicklist"
        }
    }
}
