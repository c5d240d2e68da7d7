//! Pure parsers of the three wire protocols a node speaks: text and meta (`text`, `meta`) and
//! binary (`binary`), the [`Request`] they produce, the [`Limits`] they enforce, and the
//! reply encoders that are pure byte formatting.
//!
//! Place in the flow: `conn` hands the connection's input buffer to [`text::parse`] or
//! [`binary::parse`]; each returns one [`Request`] borrowing from the buffer (or "need more
//! input", or a [`ProtocolError`] that closes the connection) and never touches the store or
//! the node. `execute` then runs the request. Nothing here imports `server`, `node`, `store`
//! or `execute`, so the parsers can be unit-tested and fuzzed on plain byte slices.

pub mod binary;
pub mod meta;
mod scan;
pub mod text;

/// Longest key memcached accepts.
pub const KEY_MAX: usize = 250;

/// Bytes memcached accounts to an item besides its key and value (item header).
const ITEM_HEADER: usize = 48;

/// The limits a parser enforces, taken from the node's settings before each request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest item accepted (memcached `-I`).
    pub max_item_size: usize,
    /// CAS disabled (`-C`): items are accounted 8 bytes smaller.
    pub cas_disabled: bool,
}

impl Default for Limits {
    /// memcached's defaults: 1 MiB items, CAS on.
    fn default() -> Limits {
        Limits {
            max_item_size: 1 << 20,
            cas_disabled: false,
        }
    }
}

impl Limits {
    /// Whether an item of this key and value length exceeds the item size limit, computed as
    /// memcached sizes an item (header, optional CAS, key with its NUL, value with CRLF).
    pub fn item_too_large(&self, key_len: usize, value_len: usize) -> bool {
        let cas = if self.cas_disabled { 0 } else { 8 };
        ITEM_HEADER
            .saturating_add(cas)
            .saturating_add(key_len)
            .saturating_add(1)
            .saturating_add(value_len)
            .saturating_add(2)
            > self.max_item_size
    }
}

/// What a parser found at the start of the buffer.
#[derive(Debug)]
pub enum Parsed<T> {
    /// One complete request occupying the first `consumed` bytes. `discard` more bytes that
    /// follow (the data block of a refused storage request) are to be dropped as they arrive.
    Done {
        /// The request, borrowing from the buffer.
        request: T,
        /// Bytes of the buffer the request occupies.
        consumed: usize,
        /// Bytes after those to drop without parsing.
        discard: usize,
    },
    /// The request is incomplete: wait until the buffer holds at least `want` bytes
    /// (0: no size known yet, any new input may complete it).
    NeedMore {
        /// Total buffer length that will complete the request, when known.
        want: usize,
    },
}

/// Input after which memcached closes the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtocolError {
    /// Text: a line longer than memcached buffers without a newline; closed without a reply.
    LineTooLong,
    /// Binary: a packet that does not start with the request magic; closed without a reply.
    BadMagic,
    /// Binary: a malformed packet; answered "Invalid arguments" for `opcode`/`opaque`, then
    /// closed.
    InvalidPacket {
        /// Opcode of the offending header.
        opcode: u8,
        /// Opaque of the offending header, echoed in the error reply.
        opaque: u32,
    },
}

/// One request of any protocol, borrowing from the input buffer.
#[derive(Debug)]
pub enum Request<'a> {
    /// A fixed reply with no effect on the node (errors, `mn`, `shutdown`, ...); nothing is
    /// written when `noreply` is set.
    Reply {
        /// The exact reply bytes.
        msg: &'static [u8],
        /// The request carried `noreply`.
        noreply: bool,
    },
    /// A classic text command.
    Text(text::TextRequest<'a>),
    /// A meta command (`mg`, `ms`, `md`, `ma`, `me`).
    Meta(meta::MetaRequest<'a>),
    /// A binary packet.
    Binary(binary::BinaryRequest<'a>),
}

impl<'a> Request<'a> {
    /// A reply that is always written.
    pub(crate) fn reply(msg: &'static [u8]) -> Request<'a> {
        Request::Reply {
            msg,
            noreply: false,
        }
    }
}

/// Parses an unsigned decimal as memcached's `strtoull`-based check does: optional `+`, no
/// `-`, no overflow, nothing after the digits.
pub fn parse_u64(tok: &[u8]) -> Option<u64> {
    let digits = tok.strip_prefix(b"+").unwrap_or(tok);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for &d in digits {
        v = v.checked_mul(10)?.checked_add((d - b'0') as u64)?;
    }
    Some(v)
}

/// A time (TTL, exptime, flush delay): memcached reads these with `safe_strtol`, a 64-bit
/// `strtol` stored into a 32-bit int, so larger values wrap (9999999999 is a date in 2014).
pub fn parse_time(tok: &[u8]) -> Option<i64> {
    parse_i64(tok).map(|v| i64::from(v as i32))
}

/// Parses a signed decimal (`strtol`): optional sign, no overflow, nothing after the digits.
pub fn parse_i64(tok: &[u8]) -> Option<i64> {
    let (neg, digits) = match tok.first() {
        Some(b'-') => (true, &tok[1..]),
        Some(b'+') => (false, &tok[1..]),
        _ => (false, tok),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        v = v.checked_mul(10)?;
        v = if neg {
            v.checked_sub((d - b'0') as i64)?
        } else {
            v.checked_add((d - b'0') as i64)?
        };
    }
    Some(v)
}

/// Client flags: memcached reads an unsigned long and keeps the low 32 bits.
pub fn parse_flags(tok: &[u8]) -> Option<u32> {
    parse_u64(tok).map(|v| v as u32)
}

/// Appends `sep` and the decimal form of `n` (reply encoders of every protocol).
pub(crate) fn push_num(out: &mut Vec<u8>, sep: u8, mut n: u64) {
    let mut scratch = [0u8; 20];
    out.push(sep);
    let mut i = scratch.len();
    loop {
        i -= 1;
        scratch[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&scratch[i..]);
}

/// Why a storage command was refused once its line was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Over the item size limit (answered before the data block, which is discarded).
    TooLarge,
    /// The data block was not followed by CRLF.
    BadChunk,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_parse_like_memcached() {
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b"-1"), None);
        assert_eq!(parse_u64(b"+1"), Some(1));
        assert_eq!(parse_u64(b"1x"), None);
        assert_eq!(parse_i64(b"-5"), Some(-5));
        assert_eq!(parse_flags(b"4294967296"), Some(0));
    }

    #[test]
    fn item_size_counts_header_cas_key_and_crlf() {
        let l = Limits {
            max_item_size: 100,
            cas_disabled: false,
        };
        // 48 + 8 + 1 + 1 + 40 + 2 = 100: fits exactly.
        assert!(!l.item_too_large(1, 40));
        assert!(l.item_too_large(1, 41));
        let no_cas = Limits {
            cas_disabled: true,
            ..l
        };
        assert!(!no_cas.item_too_large(1, 48));
        assert!(no_cas.item_too_large(1, usize::MAX));
    }
}

#[cfg(test)]
mod robustness;
