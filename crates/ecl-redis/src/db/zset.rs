//! Sorted-set values: member → score map plus an order-statistic tree by (score, member).
//!
//! Place in the flow: the storage behind `Value::ZSet`; argument parsing and replies live in
//! `command/zsets.rs` (and `command/zsets_ops.rs`). The ordered index is an arena-allocated
//! treap whose nodes carry subtree sizes, so rank, select and range boundaries are all
//! O(log n) like Redis' skiplist with spans. Equal scores are ordered by member bytes, as Redis
//! does; scores are never NaN inside a sorted set.

use super::dict::{Dict, Key};
use std::cmp::Ordering;

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
        // -0.0 and 0.0 are the same score for Redis.
        let a = if self.0 == 0.0 { 0.0 } else { self.0 };
        let b = if o.0 == 0.0 { 0.0 } else { o.0 };
        a.total_cmp(&b)
    }
}

const NIL: u32 = u32::MAX;

#[derive(Debug, Clone)]
struct Node {
    score: f64,
    member: Key,
    pri: u32,
    left: u32,
    right: u32,
    size: u32,
}

/// Order-statistic treap over (score, member).
#[derive(Debug, Clone, Default)]
struct Tree {
    nodes: Vec<Node>,
    free: Vec<u32>,
    root: u32,
    seed: u32,
}

fn cmp_entry(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> Ordering {
    Score(s1).cmp(&Score(s2)).then_with(|| m1.cmp(m2))
}

impl Tree {
    fn new() -> Tree {
        Tree {
            nodes: Vec::new(),
            free: Vec::new(),
            root: NIL,
            seed: 0x9E37_79B9,
        }
    }
    fn size(&self, t: u32) -> u32 {
        if t == NIL {
            0
        } else {
            self.nodes[t as usize].size
        }
    }
    fn fix(&mut self, t: u32) {
        let (l, r) = (self.nodes[t as usize].left, self.nodes[t as usize].right);
        self.nodes[t as usize].size = 1 + self.size(l) + self.size(r);
    }
    fn rand(&mut self) -> u32 {
        let mut x = self.seed;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.seed = x;
        x
    }
    /// Splits `t` into (nodes where `goes_left` holds, the rest); `goes_left` must be monotone
    /// (true for a prefix of the order).
    fn split(&mut self, t: u32, goes_left: &dyn Fn(&Node) -> bool) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        if goes_left(&self.nodes[t as usize]) {
            let r = self.nodes[t as usize].right;
            let (a, b) = self.split(r, goes_left);
            self.nodes[t as usize].right = a;
            self.fix(t);
            (t, b)
        } else {
            let l = self.nodes[t as usize].left;
            let (a, b) = self.split(l, goes_left);
            self.nodes[t as usize].left = b;
            self.fix(t);
            (a, t)
        }
    }
    fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        if self.nodes[a as usize].pri > self.nodes[b as usize].pri {
            let r = self.nodes[a as usize].right;
            let m = self.merge(r, b);
            self.nodes[a as usize].right = m;
            self.fix(a);
            a
        } else {
            let l = self.nodes[b as usize].left;
            let m = self.merge(a, l);
            self.nodes[b as usize].left = m;
            self.fix(b);
            b
        }
    }
    /// Adds an entry. A treap insert proper: the path down to where the new node's priority
    /// places it (each node on it gains one in size), then a split of only the subtree found
    /// there. (Splitting the whole tree and merging it back twice cost about a third of a
    /// ZADD into a large set.)
    fn insert(&mut self, score: f64, member: Key) {
        let pri = self.rand();
        let (mut parent, mut link_left) = (NIL, false);
        let mut t = self.root;
        while t != NIL && self.nodes[t as usize].pri > pri {
            let n = &mut self.nodes[t as usize];
            n.size += 1;
            link_left = cmp_entry(score, &member, n.score, &n.member) == Ordering::Less;
            parent = t;
            t = if link_left { n.left } else { n.right };
        }
        let (left, right) = self.split(t, &|n| {
            cmp_entry(n.score, &n.member, score, &member) == Ordering::Less
        });
        let node = Node {
            score,
            member,
            pri,
            left,
            right,
            size: 1 + self.size(left) + self.size(right),
        };
        let id = match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        self.link(parent, link_left, id);
    }
    /// Makes `child` the root (no parent) or the left/right child of `parent`.
    fn link(&mut self, parent: u32, left: bool, child: u32) {
        match (parent, left) {
            (NIL, _) => self.root = child,
            (p, true) => self.nodes[p as usize].left = child,
            (p, false) => self.nodes[p as usize].right = child,
        }
    }
    /// The node holding exactly (score, member), if any.
    fn find(&self, score: f64, member: &[u8]) -> Option<u32> {
        let mut t = self.root;
        while t != NIL {
            let n = &self.nodes[t as usize];
            match cmp_entry(score, member, n.score, &n.member) {
                Ordering::Less => t = n.left,
                Ordering::Greater => t = n.right,
                Ordering::Equal => return Some(t),
            }
        }
        None
    }
    /// Removes the entry (nothing when absent): each node above it loses one in size, and
    /// its two subtrees merge into its place.
    fn remove(&mut self, score: f64, member: &[u8]) {
        let Some(target) = self.find(score, member) else {
            return;
        };
        let (mut parent, mut link_left) = (NIL, false);
        let mut t = self.root;
        while t != target {
            let n = &mut self.nodes[t as usize];
            n.size -= 1;
            link_left = cmp_entry(score, member, n.score, &n.member) == Ordering::Less;
            parent = t;
            t = if link_left { n.left } else { n.right };
        }
        let (l, r) = (self.nodes[t as usize].left, self.nodes[t as usize].right);
        let merged = self.merge(l, r);
        self.link(parent, link_left, merged);
        self.nodes[t as usize].member = Key::default();
        self.free.push(t);
    }
    /// Number of nodes for which the monotone predicate `before` holds.
    fn count_prefix(&self, before: &dyn Fn(f64, &[u8]) -> bool) -> usize {
        let mut t = self.root;
        let mut n = 0usize;
        while t != NIL {
            let node = &self.nodes[t as usize];
            if before(node.score, &node.member) {
                n += self.size(node.left) as usize + 1;
                t = node.right;
            } else {
                t = node.left;
            }
        }
        n
    }
    /// The node at 0-based rank `i`.
    fn select(&self, mut i: usize) -> Option<&Node> {
        let mut t = self.root;
        while t != NIL {
            let node = &self.nodes[t as usize];
            let ls = self.size(node.left) as usize;
            match i.cmp(&ls) {
                Ordering::Less => t = node.left,
                Ordering::Equal => return Some(node),
                Ordering::Greater => {
                    i -= ls + 1;
                    t = node.right;
                }
            }
        }
        None
    }
    /// Visits ranks `[lo, hi)` in order (O(log n + hi - lo)).
    fn visit(
        &self,
        t: u32,
        base: usize,
        (lo, hi): (usize, usize),
        rev: bool,
        f: &mut dyn FnMut(f64, &Key),
    ) {
        if t == NIL || lo >= hi {
            return;
        }
        let node = &self.nodes[t as usize];
        let ls = self.size(node.left) as usize;
        let end = base + self.size(t) as usize;
        if end <= lo || base >= hi {
            return;
        }
        let me = base + ls;
        let (first, first_base, second, second_base) = if rev {
            (node.right, me + 1, node.left, base)
        } else {
            (node.left, base, node.right, me + 1)
        };
        self.visit(first, first_base, (lo, hi), rev, f);
        if me >= lo && me < hi {
            f(node.score, &node.member);
        }
        self.visit(second, second_base, (lo, hi), rev, f);
    }
}

/// Sticky encoding: once a sorted set outgrows the listpack limits it stays a skiplist.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Enc {
    #[default]
    Listpack,
    Skiplist,
}

/// A Redis sorted set.
#[derive(Debug)]
pub struct ZSet {
    scores: Dict<f64>,
    tree: Tree,
    bytes: usize,
    enc: Enc,
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet::new()
    }
}

impl Clone for ZSet {
    fn clone(&self) -> Self {
        let mut scores = Dict::new();
        for (k, v) in self.scores.iter() {
            scores.insert(k.clone(), *v);
        }
        ZSet {
            scores,
            tree: self.tree.clone(),
            bytes: self.bytes,
            enc: self.enc,
        }
    }
}

const MEMBER_OVERHEAD: usize = 48;

impl ZSet {
    /// Empty sorted set.
    pub fn new() -> ZSet {
        ZSet {
            scores: Dict::new(),
            tree: Tree::new(),
            bytes: 0,
            enc: Enc::Listpack,
        }
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
        // Redis never reports a negative zero score.
        let score = if score == 0.0 { 0.0 } else { score };
        let (slot, inserted) = self.scores.get_or_insert_with(m, || score);
        if inserted {
            self.bytes += 2 * m.len() + MEMBER_OVERHEAD;
        } else {
            let old = std::mem::replace(slot, score);
            if Score(old) == Score(score) && old.is_sign_negative() == score.is_sign_negative() {
                return false;
            }
            self.tree.remove(old, m);
        }
        self.tree.insert(score, m.into());
        inserted
    }
    /// Removes a member; true when it was present.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self.scores.remove(m) {
            Some((k, s)) => {
                self.bytes -= 2 * k.len() + MEMBER_OVERHEAD;
                self.tree.remove(s, &k);
                true
            }
            None => false,
        }
    }
    /// 0-based rank of a member in ascending order.
    pub fn rank(&self, m: &[u8]) -> Option<usize> {
        let s = self.score(m)?;
        Some(
            self.tree
                .count_prefix(&|ns, nm| cmp_entry(ns, nm, s, m) == Ordering::Less),
        )
    }
    /// Member and score at ascending rank `i`.
    pub fn at(&self, i: usize) -> Option<(&Key, f64)> {
        self.tree.select(i).map(|n| (&n.member, n.score))
    }
    /// Entries with ascending ranks in `[lo, hi)`.
    pub fn range(&self, lo: usize, hi: usize) -> Vec<(Key, f64)> {
        let mut out = Vec::with_capacity(hi.saturating_sub(lo).min(1 << 16));
        let hi = hi.min(self.len());
        self.tree
            .visit(self.tree.root, 0, (lo, hi), false, &mut |s, m| {
                out.push((m.clone(), s))
            });
        out
    }
    /// Calls `f` for ranks `[lo, hi)` without copying members, descending when `rev`.
    pub fn for_range(&self, lo: usize, hi: usize, rev: bool, f: &mut dyn FnMut(&Key, f64)) {
        let hi = hi.min(self.len());
        self.tree
            .visit(self.tree.root, 0, (lo, hi), rev, &mut |s, m| f(m, s));
    }
    /// Rank range `[lo, hi)` of the scores within `r`.
    pub fn score_span(&self, r: &ScoreRange) -> (usize, usize) {
        let lo = self.tree.count_prefix(&|s, _| r.below_min(s));
        let hi = self.tree.count_prefix(&|s, _| !r.above_max(s));
        (lo, hi.max(lo))
    }
    /// Rank range `[lo, hi)` of the members within the lexicographic range `r`.
    pub fn lex_span(&self, r: &LexRange) -> (usize, usize) {
        let lo = self.tree.count_prefix(&|_, m| r.below_min(m));
        let hi = self.tree.count_prefix(&|_, m| !r.above_max(m));
        (lo, hi.max(lo))
    }
    /// Iterates (member, score) in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = (Key, f64)> {
        self.range(0, self.len()).into_iter()
    }
    /// The member → score table (ZSCAN, random members).
    pub fn dict(&self) -> &Dict<f64> {
        &self.scores
    }
    /// Approximate memory.
    pub fn mem_size(&self) -> usize {
        self.bytes + 96 + self.scores.bucket_count() * 4
    }
    /// Applies the listpack limits after a write (the conversion is one-way, as in Redis).
    pub fn check_encoding(&mut self, max_entries: usize, max_value: usize, new_member_len: usize) {
        if self.enc == Enc::Listpack && (self.len() > max_entries || new_member_len > max_value) {
            self.enc = Enc::Skiplist;
        }
    }
    /// Converts to the skiplist encoding whatever the size (Redis' SORT converts the sorted
    /// sets it reads).
    pub fn to_skiplist(&mut self) {
        self.enc = Enc::Skiplist;
    }
    /// `OBJECT ENCODING` name.
    pub fn encoding(&self) -> &'static str {
        match self.enc {
            Enc::Listpack => "listpack",
            Enc::Skiplist => "skiplist",
        }
    }
}

/// Parses a score, increment or weight as Redis does for these arguments: like `strtod`,
/// but a literal that overflows to infinity or underflows to zero is refused (explicit
/// `inf` / `-inf` are fine).
pub fn parse_score(b: &[u8]) -> Option<f64> {
    if let Some(v) = small_integer_score(b) {
        return Some(v);
    }
    let v = super::string::parse_f64(b)?;
    let text = std::str::from_utf8(b).ok()?.to_ascii_lowercase();
    let mantissa = text.split('e').next().unwrap_or("");
    if v.is_infinite() && !text.contains("inf") {
        return None;
    }
    if v == 0.0 && mantissa.bytes().any(|c| (b'1'..=b'9').contains(&c)) {
        return None;
    }
    Some(v)
}

/// The common score, an integer in Redis's strict form (no `+`, no leading zeros, so no `-0`)
/// within ±2^53, read with the integer parser: such a value is exact in an f64, so it equals
/// what `strtod` gives. Anything else takes the general float path.
fn small_integer_score(b: &[u8]) -> Option<f64> {
    const EXACT: i64 = 1 << 53;
    let n = super::string::parse_i64(b)?;
    (-EXACT..=EXACT).contains(&n).then_some(n as f64)
}

/// A score interval as ZRANGEBYSCORE takes it (`(` marks an exclusive bound).
#[derive(Clone, Copy, Debug)]
pub struct ScoreRange {
    /// Lower bound.
    pub min: f64,
    /// Upper bound.
    pub max: f64,
    /// Lower bound excluded.
    pub minex: bool,
    /// Upper bound excluded.
    pub maxex: bool,
}

impl ScoreRange {
    /// Parses `min` and `max` arguments; `None` when either is not a float.
    pub fn parse(min: &[u8], max: &[u8]) -> Option<ScoreRange> {
        let (min, minex) = parse_bound(min)?;
        let (max, maxex) = parse_bound(max)?;
        Some(ScoreRange {
            min,
            max,
            minex,
            maxex,
        })
    }
    /// Whether `s` lies below the lower bound.
    pub fn below_min(&self, s: f64) -> bool {
        if self.minex {
            s <= self.min
        } else {
            s < self.min
        }
    }
    /// Whether `s` lies above the upper bound.
    pub fn above_max(&self, s: f64) -> bool {
        if self.maxex {
            s >= self.max
        } else {
            s > self.max
        }
    }
    /// Whether `s` is inside.
    pub fn contains(&self, s: f64) -> bool {
        !self.below_min(s) && !self.above_max(s)
    }
}

fn parse_bound(b: &[u8]) -> Option<(f64, bool)> {
    let (ex, num) = match b.first() {
        Some(b'(') => (true, &b[1..]),
        _ => (false, b),
    };
    // Redis runs strtod on the C string: it ends at a NUL, leading white space is skipped, and
    // an empty string converts nothing and leaves nothing behind, which Redis takes as 0.
    let num = num.split(|&c| c == 0).next().unwrap_or_default();
    if num.is_empty() {
        return Some((0.0, ex));
    }
    let start = num.iter().position(|c| !is_c_space(*c))?;
    let v = super::string::parse_f64(&num[start..])?;
    Some((v, ex))
}

/// C's `isspace` in the C locale.
fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// One end of a lexicographic range.
#[derive(Clone, Debug)]
pub enum LexBound {
    /// `-`: below everything.
    NegInf,
    /// `+`: above everything.
    PosInf,
    /// `[x`: inclusive.
    Incl(Vec<u8>),
    /// `(x`: exclusive.
    Excl(Vec<u8>),
}

impl LexBound {
    /// Parses `-`, `+`, `[x` or `(x`.
    pub fn parse(b: &[u8]) -> Option<LexBound> {
        match b.first()? {
            b'-' if b.len() == 1 => Some(LexBound::NegInf),
            b'+' if b.len() == 1 => Some(LexBound::PosInf),
            b'[' => Some(LexBound::Incl(b[1..].to_vec())),
            b'(' => Some(LexBound::Excl(b[1..].to_vec())),
            _ => None,
        }
    }
}

/// A lexicographic interval (ZRANGEBYLEX).
#[derive(Clone, Debug)]
pub struct LexRange {
    /// Lower bound.
    pub min: LexBound,
    /// Upper bound.
    pub max: LexBound,
}

impl LexRange {
    /// Whether `m` lies below the lower bound.
    pub fn below_min(&self, m: &[u8]) -> bool {
        match &self.min {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Incl(x) => m < x.as_slice(),
            LexBound::Excl(x) => m <= x.as_slice(),
        }
    }
    /// Whether `m` lies above the upper bound.
    pub fn above_max(&self, m: &[u8]) -> bool {
        match &self.max {
            LexBound::NegInf => true,
            LexBound::PosInf => false,
            LexBound::Incl(x) => m > x.as_slice(),
            LexBound::Excl(x) => m >= x.as_slice(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_scores_parse_as_the_float_parser_does() {
        for text in [
            "0",
            "-0",
            "7",
            "-7",
            "007",
            "-007",
            "123456789012345",
            "-123456789012345",
            "1234567890123456",
            "+5",
            "1e3",
            "1.5",
            "",
            "-",
            "--1",
            "0x10",
            " 1",
            "inf",
        ] {
            let fast = parse_score(text.as_bytes());
            let slow = super::super::string::parse_f64(text.as_bytes());
            assert_eq!(fast.map(f64::to_bits), slow.map(f64::to_bits), "{text:?}");
        }
    }

    #[test]
    fn rank_select_and_updates() {
        let mut z = ZSet::new();
        for i in 0..1000 {
            assert!(z.insert(format!("m{i:04}").as_bytes(), (i % 10) as f64));
        }
        assert!(!z.insert(b"m0005", 100.0));
        assert_eq!(z.len(), 1000);
        assert_eq!(z.rank(b"m0005"), Some(999));
        assert_eq!(z.rank(b"m0000"), Some(0));
        assert_eq!(z.rank(b"m0010"), Some(1));
        let all = z.range(0, 1000);
        assert!(
            all.windows(2)
                .all(|w| cmp_entry(w[0].1, &w[0].0, w[1].1, &w[1].0) == Ordering::Less)
        );
        for (i, (m, _)) in all.iter().enumerate() {
            assert_eq!(z.rank(m), Some(i));
            assert_eq!(z.at(i).map(|x| x.0.clone()), Some(m.clone()));
        }
        assert!(z.remove(b"m0005"));
        assert!(!z.remove(b"m0005"));
        assert_eq!(z.len(), 999);
        assert_eq!(z.range(0, 2000).len(), 999);
    }

    /// Random inserts, score updates and removals against a sorted vector: every rank, every
    /// selected entry and every subtree size agree after each step (a bounded property run).
    #[test]
    fn matches_a_sorted_model() {
        let mut z = ZSet::new();
        let mut model: Vec<(f64, Vec<u8>)> = Vec::new();
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        for step in 0..3000 {
            let m = format!("m{}", next(300)).into_bytes();
            let score = (next(20) as f64) - 10.0;
            let present = model.iter().position(|(_, k)| *k == m);
            if next(4) == 0 {
                assert_eq!(z.remove(&m), present.is_some());
                if let Some(i) = present {
                    model.remove(i);
                }
            } else {
                assert_eq!(z.insert(&m, score), present.is_none());
                if let Some(i) = present {
                    model.remove(i);
                }
                model.push((score, m));
            }
            model.sort_by(|a, b| cmp_entry(a.0, &a.1, b.0, &b.1));
            assert_eq!(z.len(), model.len());
            if step % 50 == 0 || step > 2950 {
                for (i, (sc, k)) in model.iter().enumerate() {
                    assert_eq!(z.rank(k), Some(i), "step {step}");
                    let (zk, zs) = z.at(i).expect("entry at rank");
                    assert_eq!((zk.as_ref(), zs), (k.as_slice(), *sc));
                }
                assert_eq!(z.tree.size(z.tree.root) as usize, model.len());
            }
        }
    }

    #[test]
    fn score_parsing_refuses_overflow() {
        assert_eq!(parse_score(b"1.5"), Some(1.5));
        assert_eq!(parse_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_score(b"+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_score(b"1e400"), None);
        assert_eq!(parse_score(b"1e-400"), None);
        assert_eq!(parse_score(b"0e5"), Some(0.0));
        assert_eq!(parse_score(b"nan"), None);
    }

    #[test]
    fn score_and_lex_spans() {
        let mut z = ZSet::new();
        for (m, s) in [("a", 1.0), ("b", 2.0), ("c", 2.0), ("d", 3.0)] {
            z.insert(m.as_bytes(), s);
        }
        let r = ScoreRange::parse(b"(1", b"2").unwrap();
        assert_eq!(z.score_span(&r), (1, 3));
        let r = ScoreRange::parse(b"-inf", b"+inf").unwrap();
        assert_eq!(z.score_span(&r), (0, 4));
        let r = ScoreRange::parse(b"5", b"1").unwrap();
        let (lo, hi) = z.score_span(&r);
        assert_eq!(lo, hi);
        let l = LexRange {
            min: LexBound::parse(b"[b").unwrap(),
            max: LexBound::parse(b"(d").unwrap(),
        };
        let mut z2 = ZSet::new();
        for m in ["a", "b", "c", "d"] {
            z2.insert(m.as_bytes(), 0.0);
        }
        assert_eq!(z2.lex_span(&l), (1, 3));
    }
}
