//! Byte strings that keep short contents inline: the storage of keys and string values.
//!
//! Place in the flow: [`super::dict`] stores every key as a [`SmallBytes`] inside its slab slot
//! and [`super::value::Str`] holds a string value's bytes in one, so a small key with a small
//! string value costs no heap allocation at all (glibc's malloc spends a 32-byte chunk on even
//! an 11-byte box, which made up most of a small key's footprint). The type is 24 bytes: up to
//! [`INLINE`] bytes live in place; longer contents are one exact-size heap block, and a string
//! edited in place (APPEND, SETRANGE, SETBIT) moves to a growable vector so repeated appends stay
//! amortised O(1). Which representation holds the bytes is invisible to callers: equality,
//! ordering and hashing are those of the byte slice.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

/// Longest content kept inline (the 24-byte value minus its tag and length bytes).
pub const INLINE: usize = 22;

// The boxed vector is deliberate: an unboxed one would make every value 32 bytes, and only
// strings edited in place pay for the extra block.
#[allow(clippy::box_collection)]
#[derive(Clone)]
enum Repr {
    Inline { len: u8, buf: [u8; INLINE] },
    Boxed(Box<[u8]>),
    Grown(Box<Vec<u8>>),
}

/// Binary-safe owned bytes, inline up to [`INLINE`] bytes.
#[derive(Clone)]
pub struct SmallBytes(Repr);

impl SmallBytes {
    /// Empty bytes (no allocation).
    pub const fn new() -> SmallBytes {
        SmallBytes(Repr::Inline {
            len: 0,
            buf: [0; INLINE],
        })
    }

    fn inline(b: &[u8]) -> SmallBytes {
        let mut buf = [0; INLINE];
        buf[..b.len()].copy_from_slice(b);
        SmallBytes(Repr::Inline {
            len: b.len() as u8,
            buf,
        })
    }

    /// The content.
    pub fn as_slice(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, buf } => &buf[..usize::from(*len)],
            Repr::Boxed(b) => b,
            Repr::Grown(v) => v,
        }
    }

    /// The content, mutable in place (its length cannot change).
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        match &mut self.0 {
            Repr::Inline { len, buf } => &mut buf[..usize::from(*len)],
            Repr::Boxed(b) => b,
            Repr::Grown(v) => v,
        }
    }

    /// The content as a growable vector, moving it to the heap once: callers about to resize
    /// (APPEND, SETRANGE past the end) keep amortised growth from then on.
    pub fn vec_mut(&mut self) -> &mut Vec<u8> {
        if !matches!(self.0, Repr::Grown(_)) {
            let v = std::mem::take(self).into_vec();
            self.0 = Repr::Grown(Box::new(v));
        }
        match &mut self.0 {
            Repr::Grown(v) => v,
            _ => unreachable!("just moved to a vector"),
        }
    }

    /// The content by value.
    pub fn into_vec(self) -> Vec<u8> {
        match self.0 {
            Repr::Inline { len, buf } => buf[..usize::from(len)].to_vec(),
            Repr::Boxed(b) => b.into_vec(),
            Repr::Grown(v) => *v,
        }
    }

    /// Heap bytes held besides the 24 bytes of the value itself (for memory accounting).
    pub fn heap_size(&self) -> usize {
        match &self.0 {
            Repr::Inline { .. } => 0,
            Repr::Boxed(b) => b.len(),
            Repr::Grown(v) => std::mem::size_of::<Vec<u8>>() + v.capacity(),
        }
    }
}

impl Default for SmallBytes {
    fn default() -> SmallBytes {
        SmallBytes::new()
    }
}

impl From<&[u8]> for SmallBytes {
    fn from(b: &[u8]) -> SmallBytes {
        if b.len() <= INLINE {
            SmallBytes::inline(b)
        } else {
            SmallBytes(Repr::Boxed(b.into()))
        }
    }
}

impl<const N: usize> From<&[u8; N]> for SmallBytes {
    fn from(b: &[u8; N]) -> SmallBytes {
        SmallBytes::from(&b[..])
    }
}

impl From<Vec<u8>> for SmallBytes {
    fn from(v: Vec<u8>) -> SmallBytes {
        if v.len() <= INLINE {
            SmallBytes::inline(&v)
        } else {
            // Exact-size block: argument buffers usually are, so this rarely reallocates.
            SmallBytes(Repr::Boxed(v.into_boxed_slice()))
        }
    }
}

impl From<Box<[u8]>> for SmallBytes {
    fn from(b: Box<[u8]>) -> SmallBytes {
        if b.len() <= INLINE {
            SmallBytes::inline(&b)
        } else {
            SmallBytes(Repr::Boxed(b))
        }
    }
}

impl From<&SmallBytes> for SmallBytes {
    fn from(b: &SmallBytes) -> SmallBytes {
        b.clone()
    }
}

impl std::ops::Deref for SmallBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for SmallBytes {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Borrow<[u8]> for SmallBytes {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

/// Hashes exactly as the slice does, so maps keyed by [`SmallBytes`] can be probed with `&[u8]`.
impl Hash for SmallBytes {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

impl PartialEq for SmallBytes {
    fn eq(&self, other: &SmallBytes) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for SmallBytes {}

impl PartialOrd for SmallBytes {
    fn partial_cmp(&self, other: &SmallBytes) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SmallBytes {
    fn cmp(&self, other: &SmallBytes) -> std::cmp::Ordering {
        self.as_slice().cmp(other.as_slice())
    }
}

impl PartialEq<[u8]> for SmallBytes {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_slice() == other
    }
}

impl std::fmt::Debug for SmallBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_slice().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn sizes_stay_small() {
        assert_eq!(std::mem::size_of::<SmallBytes>(), 24);
        assert_eq!(std::mem::size_of::<Option<SmallBytes>>(), 24);
    }

    #[test]
    fn representations_agree() {
        let short: &[u8] = b"key:0000001";
        let long = vec![7u8; 100];
        for b in [
            short,
            &long[..],
            &[][..],
            &[1u8; INLINE][..],
            &[2u8; INLINE + 1][..],
        ] {
            let from_slice = SmallBytes::from(b);
            let from_vec = SmallBytes::from(b.to_vec());
            assert_eq!(&*from_slice, b);
            assert_eq!(from_slice, from_vec);
            assert_eq!(from_slice.clone().into_vec(), b);
        }
        assert_eq!(SmallBytes::from(short).heap_size(), 0);
        assert_eq!(SmallBytes::from(long.clone()).heap_size(), 100);
    }

    #[test]
    fn growing_keeps_content_and_moves_to_the_heap() {
        let mut s = SmallBytes::from(&b"abc"[..]);
        s.as_mut_slice()[0] = b'x';
        assert_eq!(&*s, b"xbc");
        s.vec_mut().extend_from_slice(&[b'd'; 40]);
        assert_eq!(s.len(), 43);
        assert!(s.heap_size() >= 43);
        assert_eq!(&s[..4], b"xbcd");
    }

    #[test]
    fn maps_find_keys_by_slice() {
        let mut m = HashMap::new();
        m.insert(SmallBytes::from(&b"short"[..]), 1);
        m.insert(SmallBytes::from(vec![b'l'; 40]), 2);
        assert_eq!(m.get(&b"short"[..]), Some(&1));
        assert_eq!(m.get(&[b'l'; 40][..]), Some(&2));
    }
}
