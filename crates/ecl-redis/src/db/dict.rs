//! A chained hash table with power-of-two buckets, built for Redis' iteration guarantees.
//!
//! Place in the flow: the keyspace of every database (and, for the data-type families, hash and
//! set members) lives in a [`Dict`]. We do not use `std::collections::HashMap` because Redis
//! semantics need two things it cannot give: (1) `SCAN`-family cursors that return every
//! element present for the whole iteration even while the table grows or shrinks in between
//! calls — achieved, as Redis documents, by visiting buckets in reverse-binary cursor order, which
//! stays valid across power-of-two resizes; and (2) cheap random sampling of entries for
//! eviction and active expiry. Entries live in a slab (`Vec<Slot>`) chained through `u32`
//! indices, so a bucket costs 4 bytes and deleting never moves other entries.
//!
//! Memory per entry is what a keyspace of many small keys pays for, so a slot holds only the
//! chain link, the key (inline up to [`super::bytes::INLINE`] bytes, see [`SmallBytes`]) and the
//! value: no cached hash, since comparing an inline key is as cheap as comparing a hash and a
//! resize can recompute hashes from the keys in place.

pub use super::bytes::SmallBytes;

/// Key type: binary-safe, owned, inline when short.
pub type Key = SmallBytes;

const NIL: u32 = u32::MAX;

#[derive(Debug)]
struct Node<V> {
    next: u32,
    key: Key,
    val: V,
}

#[derive(Debug)]
enum Slot<V> {
    Used(Node<V>),
    Free(u32),
}

/// The hash table.
#[derive(Debug)]
pub struct Dict<V> {
    buckets: Vec<u32>,
    slots: Vec<Slot<V>>,
    free: u32,
    len: usize,
    seed: u64,
}

impl<V> Default for Dict<V> {
    fn default() -> Self {
        Dict::new()
    }
}

/// Fast keyed hash over bytes (multiply-rotate per 8-byte word, murmur finaliser). Keys come
/// from clients, so the per-process seed keeps the bucket layout unpredictable.
pub fn hash_bytes(seed: u64, b: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = seed ^ (b.len() as u64).wrapping_mul(K);
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = (h.rotate_left(23) ^ w).wrapping_mul(K);
    }
    let rem = chunks.remainder();
    if !rem.is_empty() {
        let mut t = [0u8; 8];
        t[..rem.len()].copy_from_slice(rem);
        h = (h.rotate_left(23) ^ u64::from_le_bytes(t)).wrapping_mul(K);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// FNV-1a hasher for small, trusted keys (command names): much cheaper than SipHash for the
/// per-command table lookup.
#[derive(Default, Clone, Copy, Debug)]
pub struct FnvHasher(u64);

impl std::hash::Hasher for FnvHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// `BuildHasher` for [`FnvHasher`].
pub type FnvBuild = std::hash::BuildHasherDefault<FnvHasher>;

fn process_seed() -> u64 {
    static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *SEED.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(0x5eed);
        h.finish()
    })
}

impl<V> Dict<V> {
    /// Bytes one entry takes in the slab (memory accounting).
    pub const SLOT_BYTES: usize = std::mem::size_of::<Slot<V>>();

    /// An empty table (no allocation until the first insert).
    pub fn new() -> Dict<V> {
        Dict {
            buckets: Vec::new(),
            slots: Vec::new(),
            free: NIL,
            len: 0,
            seed: process_seed(),
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of buckets (for `DEBUG HTSTATS`-like introspection and memory estimates).
    pub fn bucket_count(&self) -> usize {
        self.buckets.len()
    }

    fn hash(&self, key: &[u8]) -> u64 {
        hash_bytes(self.seed, key)
    }

    fn find(&self, key: &[u8], h: u64) -> u32 {
        if self.buckets.is_empty() {
            return NIL;
        }
        let mut i = self.buckets[(h as usize) & (self.buckets.len() - 1)];
        while i != NIL {
            match &self.slots[i as usize] {
                Slot::Used(n) => {
                    if *n.key == *key {
                        return i;
                    }
                    i = n.next;
                }
                Slot::Free(_) => return NIL,
            }
        }
        NIL
    }

    /// Slot index of a key (valid until the next insert or remove), for callers that want to
    /// look at an entry and then change it without hashing twice.
    pub fn index_of(&self, key: &[u8]) -> Option<u32> {
        let i = self.find(key, self.hash(key));
        if i == NIL { None } else { Some(i) }
    }

    /// Entry at a slot index returned by [`Dict::index_of`].
    pub fn at(&self, i: u32) -> Option<&V> {
        match self.slots.get(i as usize) {
            Some(Slot::Used(n)) => Some(&n.val),
            _ => None,
        }
    }

    /// Makes room for `n` entries without growing again (a bulk copy never rehashes midway).
    pub fn reserve(&mut self, n: usize) {
        let want = (n + 1).max(4).next_power_of_two();
        if want > self.buckets.len() {
            self.rehash(want);
        }
        self.slots.reserve(n.saturating_sub(self.len));
    }

    /// Slab slots in use or free: the bound of [`Dict::slot_at`]. Entries never move between
    /// slots (a point-in-time snapshot walks slots in order while the table changes).
    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// The entry in slab slot `i`, if that slot is in use.
    pub fn slot_at(&self, i: usize) -> Option<(&Key, &V)> {
        match self.slots.get(i) {
            Some(Slot::Used(n)) => Some((&n.key, &n.val)),
            _ => None,
        }
    }

    /// Mutable entry at a slot index returned by [`Dict::index_of`].
    pub fn at_mut(&mut self, i: u32) -> Option<&mut V> {
        match self.slots.get_mut(i as usize) {
            Some(Slot::Used(n)) => Some(&mut n.val),
            _ => None,
        }
    }

    /// Looks a key up.
    pub fn get(&self, key: &[u8]) -> Option<&V> {
        let i = self.find(key, self.hash(key));
        match self.slots.get(i as usize) {
            Some(Slot::Used(n)) => Some(&n.val),
            _ => None,
        }
    }

    /// Looks a key up for modification.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        let i = self.find(key, self.hash(key));
        match self.slots.get_mut(i as usize) {
            Some(Slot::Used(n)) => Some(&mut n.val),
            _ => None,
        }
    }

    /// Returns the stored key and value.
    pub fn get_key_value(&self, key: &[u8]) -> Option<(&Key, &V)> {
        let i = self.find(key, self.hash(key));
        match self.slots.get(i as usize) {
            Some(Slot::Used(n)) => Some((&n.key, &n.val)),
            _ => None,
        }
    }

    /// Whether the key exists.
    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.find(key, self.hash(key)) != NIL
    }

    fn grow_if_needed(&mut self) {
        if self.buckets.is_empty() {
            self.rehash(4);
        } else if self.len >= self.buckets.len() {
            self.rehash(self.buckets.len() * 2);
        }
    }

    fn shrink_if_needed(&mut self) {
        let n = self.buckets.len();
        if n > 4 && self.len * 8 < n {
            self.rehash((self.len.max(4)).next_power_of_two());
        }
    }

    /// Rebuilds the bucket array with `size` buckets (a power of two). Entries keep their slab
    /// slots; only chains are rebuilt.
    fn rehash(&mut self, size: usize) {
        self.buckets.clear();
        self.buckets.resize(size, NIL);
        let mask = size - 1;
        for (idx, slot) in self.slots.iter_mut().enumerate() {
            if let Slot::Used(n) = slot {
                let b = (hash_bytes(self.seed, &n.key) as usize) & mask;
                n.next = self.buckets[b];
                self.buckets[b] = idx as u32;
            }
        }
        // Drop a trailing run of free slots when the table shrank a lot.
        if self.len == 0 {
            self.slots.clear();
            self.free = NIL;
        }
    }

    /// Inserts or replaces; returns the previous value.
    pub fn insert(&mut self, key: Key, val: V) -> Option<V> {
        let h = self.hash(&key);
        let i = self.find(&key, h);
        if let Some(Slot::Used(n)) = self.slots.get_mut(i as usize) {
            return Some(std::mem::replace(&mut n.val, val));
        }
        self.insert_new(key, h, val);
        None
    }

    fn insert_new(&mut self, key: Key, h: u64, val: V) -> u32 {
        self.grow_if_needed();
        let b = (h as usize) & (self.buckets.len() - 1);
        let node = Node {
            next: self.buckets[b],
            key,
            val,
        };
        let idx = if self.free != NIL {
            let idx = self.free;
            if let Slot::Free(next) = self.slots[idx as usize] {
                self.free = next;
            }
            self.slots[idx as usize] = Slot::Used(node);
            idx
        } else {
            self.slots.push(Slot::Used(node));
            (self.slots.len() - 1) as u32
        };
        self.buckets[b] = idx;
        self.len += 1;
        idx
    }

    /// Returns the value for `key`, inserting `make()` first when absent; the flag says
    /// whether it was inserted.
    pub fn get_or_insert_with(&mut self, key: &[u8], make: impl FnOnce() -> V) -> (&mut V, bool) {
        let h = self.hash(key);
        let mut i = self.find(key, h);
        let inserted = i == NIL;
        if inserted {
            i = self.insert_new(key.into(), h, make());
        }
        match &mut self.slots[i as usize] {
            Slot::Used(n) => (&mut n.val, inserted),
            Slot::Free(_) => unreachable!("slot just found or inserted is used"),
        }
    }

    /// [`Dict::get_or_insert_with`] giving the entry's slab index (see [`Dict::at_mut`])
    /// instead of the value, for callers that track entries by position (the slot index).
    pub fn get_or_insert_index(&mut self, key: &[u8], make: impl FnOnce() -> V) -> (u32, bool) {
        let h = self.hash(key);
        let i = self.find(key, h);
        if i != NIL {
            return (i, false);
        }
        (self.insert_new(key.into(), h, make()), true)
    }

    /// Removes a key, returning its stored key and value.
    pub fn remove(&mut self, key: &[u8]) -> Option<(Key, V)> {
        if self.buckets.is_empty() {
            return None;
        }
        let h = self.hash(key);
        let b = (h as usize) & (self.buckets.len() - 1);
        let mut prev = NIL;
        let mut i = self.buckets[b];
        while i != NIL {
            let (next, hit) = match &self.slots[i as usize] {
                Slot::Used(n) => (n.next, *n.key == *key),
                Slot::Free(_) => return None,
            };
            if hit {
                if prev == NIL {
                    self.buckets[b] = next;
                } else if let Slot::Used(p) = &mut self.slots[prev as usize] {
                    p.next = next;
                }
                let old = std::mem::replace(&mut self.slots[i as usize], Slot::Free(self.free));
                self.free = i;
                self.len -= 1;
                self.shrink_if_needed();
                return match old {
                    Slot::Used(n) => Some((n.key, n.val)),
                    Slot::Free(_) => None,
                };
            }
            prev = i;
            i = next;
        }
        None
    }

    /// Removes everything.
    pub fn clear(&mut self) {
        self.buckets = Vec::new();
        self.slots = Vec::new();
        self.free = NIL;
        self.len = 0;
    }

    /// Iterates all entries (unspecified order).
    pub fn iter(&self) -> impl Iterator<Item = (&Key, &V)> {
        self.slots.iter().filter_map(|s| match s {
            Slot::Used(n) => Some((&n.key, &n.val)),
            Slot::Free(_) => None,
        })
    }

    /// Iterates all entries mutably.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&Key, &mut V)> {
        self.slots.iter_mut().filter_map(|s| match s {
            Slot::Used(n) => Some((&n.key, &mut n.val)),
            Slot::Free(_) => None,
        })
    }

    /// Consumes the table into its entries.
    pub fn into_entries(self) -> impl Iterator<Item = (Key, V)> {
        self.slots.into_iter().filter_map(|s| match s {
            Slot::Used(n) => Some((n.key, n.val)),
            Slot::Free(_) => None,
        })
    }

    /// One SCAN step: visits buckets from `cursor` until at least `count` entries were offered
    /// to `visit` (or about 10×count empty buckets were skipped, as Redis bounds the work), and
    /// returns the next cursor (0 when the iteration is complete).
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(&Key, &V)) -> u64 {
        if self.buckets.is_empty() {
            return 0;
        }
        let mask = (self.buckets.len() - 1) as u64;
        let mut v = cursor;
        let mut emitted = 0usize;
        let mut budget = count.saturating_mul(10).max(10);
        loop {
            let mut i = self.buckets[(v & mask) as usize];
            while i != NIL {
                if let Slot::Used(n) = &self.slots[i as usize] {
                    visit(&n.key, &n.val);
                    emitted += 1;
                    i = n.next;
                } else {
                    break;
                }
            }
            // Reverse-binary increment of the cursor's masked bits.
            v |= !mask;
            v = v.reverse_bits().wrapping_add(1).reverse_bits();
            budget = budget.saturating_sub(1);
            if v == 0 || emitted >= count || budget == 0 {
                return v;
            }
        }
    }

    /// A random entry, each entry equally likely (HRANDFIELD, SRANDMEMBER, SPOP, RANDOMKEY,
    /// eviction and expiry sampling). `rnd` supplies random numbers.
    ///
    /// A random bucket's random chain member would favour entries in short chains (one in a
    /// chain of two is drawn half as often as one alone), which redis' own tests catch with a
    /// chi-square check. So a dense slab is sampled directly (a used slot, uniformly); a slab
    /// left sparse by deletions (slots never move) is sampled by bucket with rejection.
    pub fn random_entry(&self, mut rnd: impl FnMut() -> u64) -> Option<(&Key, &V)> {
        if self.len == 0 {
            return None;
        }
        if self.len * 2 >= self.slots.len() {
            // At least half the slots are used: 64 misses in a row has odds under 2^-64.
            for _ in 0..64 {
                let i = (rnd() % self.slots.len() as u64) as usize;
                if let Slot::Used(n) = &self.slots[i] {
                    return Some((&n.key, &n.val));
                }
            }
        }
        self.random_entry_by_bucket(rnd)
    }

    /// Uniform sampling through the buckets: a random bucket and a random position below
    /// [`CHAIN_DRAW`], retried when the chain is shorter, so every entry of a chain up to that
    /// length is equally likely whatever its chain (longer chains, rare at a load factor of at
    /// most one, draw from the whole chain).
    fn random_entry_by_bucket(&self, mut rnd: impl FnMut() -> u64) -> Option<(&Key, &V)> {
        const CHAIN_DRAW: usize = 4;
        let mask = self.buckets.len() - 1;
        // The load factor is at least 1/8 (the table shrinks below it), so a try succeeds with
        // odds of about 1/32 at worst: 4,096 tries fail with odds under 10^-50.
        for _ in 0..4096 {
            let head = self.buckets[(rnd() as usize) & mask];
            let chain = self.chain_len(head);
            if chain == 0 {
                continue;
            }
            let k = (rnd() % CHAIN_DRAW.max(chain) as u64) as usize;
            if k < chain {
                return self.chain_nth(head, k);
            }
        }
        self.iter().next()
    }

    /// Entries in the chain starting at slab index `head`.
    fn chain_len(&self, head: u32) -> usize {
        let mut len = 0;
        let mut i = head;
        while let Some(Slot::Used(n)) = self.slots.get(i as usize) {
            len += 1;
            i = n.next;
        }
        len
    }

    /// The `k`th entry of the chain starting at slab index `head`.
    fn chain_nth(&self, head: u32, k: usize) -> Option<(&Key, &V)> {
        let mut i = head;
        for _ in 0..k {
            match self.slots.get(i as usize) {
                Some(Slot::Used(n)) => i = n.next,
                _ => return None,
            }
        }
        match self.slots.get(i as usize) {
            Some(Slot::Used(n)) => Some((&n.key, &n.val)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn insert_get_remove() {
        let mut d: Dict<u32> = Dict::new();
        for i in 0..1000u32 {
            assert!(d.insert(i.to_string().into_bytes().into(), i).is_none());
        }
        assert_eq!(d.len(), 1000);
        assert_eq!(d.get(b"500"), Some(&500));
        assert_eq!(d.insert(b"500".to_vec().into(), 7), Some(500));
        for i in 0..990u32 {
            assert!(d.remove(i.to_string().as_bytes()).is_some());
        }
        assert_eq!(d.len(), 10);
        assert!(d.get(b"5").is_none());
        assert_eq!(d.get(b"995"), Some(&995));
        assert!(d.bucket_count() < 64, "table shrank");
    }

    #[test]
    fn scan_returns_all_stable_entries_across_resizes() {
        let mut d: Dict<()> = Dict::new();
        for i in 0..200 {
            d.insert(format!("stable{i}").into_bytes().into(), ());
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut round = 0;
        loop {
            cursor = d.scan(cursor, 10, |k, _| {
                seen.insert(k.clone());
            });
            // Interleave growth and shrinkage with the iteration.
            round += 1;
            if round % 2 == 0 {
                for j in 0..300 {
                    d.insert(format!("tmp{round}-{j}").into_bytes().into(), ());
                }
            } else {
                let tmp: Vec<Key> = d
                    .iter()
                    .filter(|(k, _)| k.starts_with(b"tmp"))
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in tmp {
                    d.remove(&k);
                }
            }
            if cursor == 0 {
                break;
            }
            assert!(round < 10_000);
        }
        for i in 0..200 {
            assert!(
                seen.contains(format!("stable{i}").as_bytes()),
                "missing stable{i}"
            );
        }
    }

    #[test]
    fn get_or_insert_and_random() {
        let mut d: Dict<u8> = Dict::new();
        let (v, ins) = d.get_or_insert_with(b"a", || 1);
        assert!(ins);
        *v += 1;
        let (v, ins) = d.get_or_insert_with(b"a", || 9);
        assert!(!ins);
        assert_eq!(*v, 2);
        let mut x = 1u64;
        let r = d.random_entry(|| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            x >> 11
        });
        assert_eq!(r.map(|(k, _)| &**k), Some(&b"a"[..]));
    }

    /// Pearson's chi-square of `draws` random entries of `d` against a uniform spread.
    fn chi_square_of_draws(d: &Dict<u32>, draws: usize, seed: u64) -> f64 {
        let mut x = seed;
        let mut splitmix = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        let mut seen = std::collections::HashMap::new();
        for _ in 0..draws {
            let (_, v) = d.random_entry(&mut splitmix).expect("not empty");
            *seen.entry(*v).or_insert(0usize) += 1;
        }
        assert_eq!(seen.len(), d.len(), "every entry is drawn");
        let expected = draws as f64 / d.len() as f64;
        seen.values()
            .map(|&n| (n as f64 - expected).powi(2) / expected)
            .sum()
    }

    #[test]
    fn random_entry_is_uniform_in_dense_and_sparse_tables() {
        // 10 entries, 9 degrees of freedom: redis' tests accept below 40 (odds 10^-5).
        let mut dense = Dict::new();
        for i in 0..10u32 {
            dense.insert(Key::from(format!("f{i}").as_bytes()), i);
        }
        for seed in 1..=5 {
            assert!(chi_square_of_draws(&dense, 10_000, seed) < 40.0);
        }
        // Slots never move, so deleting most entries leaves the slab sparse.
        let mut sparse = Dict::new();
        for i in 0..10_000u32 {
            sparse.insert(Key::from(format!("m{i}").as_bytes()), i);
        }
        for i in 10..10_000u32 {
            sparse.remove(format!("m{i}").as_bytes());
        }
        assert!(sparse.slot_count() > sparse.len() * 2);
        for seed in 1..=5 {
            assert!(chi_square_of_draws(&sparse, 10_000, seed) < 40.0);
        }
    }
}
