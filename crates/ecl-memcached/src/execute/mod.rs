//! Runs parsed requests against a node: the store, its counters and its settings, writing
//! each protocol's replies into the connection's output buffer.
//!
//! Place in the flow: `conn` parses a request with `protocol::*::parse` and hands it to
//! [`execute`]; `text`, `meta` and `binary` here hold the store logic of each protocol,
//! `stats` the `stats` families. Nothing here reads the wire: every limit and format check
//! was done by the parser, so a request reaching this module is well formed.

use crate::node::NodeShared;
use crate::prefix_stats::Event;
use crate::protocol::binary::{self as bin, Status};
use crate::protocol::{ProtocolError, Request, text::encode_reply};
use crate::store::{ItemView, NewItem, ShardGuard, Slot};
use crate::wire;

/// Output size after which a connection stops producing replies until it has written what it
/// has: checked between requests (deep pipelines) and between the keys of a multi-key get, so
/// a connection's pending output stays under this plus one item, however large the reply.
pub(crate) const OUTPUT_SOFT_LIMIT: usize = 256 * 1024;

mod binary;
mod crawler;
mod meta;
pub(crate) mod stats;
mod text;

/// What the connection should do after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Keep reading.
    More,
    /// Keep reading; memcached would send the replies gathered so far right now (after a
    /// text retrieval or `mn`), which decides whether a later `watch` counts as pipelined.
    Sent,
    /// Flush the output, then close (quit, protocol violation).
    Close,
    /// The request is only partly served (a multi-key get whose output reached the soft
    /// limit): write the output, then run the same request again from the saved cursor.
    Paused,
    /// Flush the output, then close: the client broke the protocol (logged as an error
    /// close, where [`Step::Close`] is a normal one).
    Abort,
    /// The connection becomes a log watcher of these event kinds (`watch`).
    Watch(u16),
}

/// Runs one request for the connection whose counter stripe is `stripe`, appending its
/// replies to `out`. `resume` is the cursor of a paused multi-key get (0 otherwise).
pub(crate) fn execute(
    node: &NodeShared,
    stripe: usize,
    request: Request<'_>,
    resume: &mut usize,
    out: &mut Vec<u8>,
) -> Step {
    match request {
        Request::Reply { msg, noreply } => {
            encode_reply(out, noreply, msg);
            if msg == wire::MN {
                Step::Sent
            } else {
                Step::More
            }
        }
        Request::Text(r) => text::execute(node, stripe, r, resume, out),
        Request::Meta(r) => {
            meta::execute(node, stripe, r, out);
            Step::More
        }
        Request::Binary(r) => binary::execute(node, stripe, r, out),
    }
}

/// Writes the reply memcached sends before closing for a protocol error (if any).
pub(crate) fn protocol_error(err: ProtocolError, out: &mut Vec<u8>) {
    if let ProtocolError::InvalidPacket { opcode, opaque } = err {
        bin::error(out, opcode, opaque, Status::Invalid);
    }
}

/// The value of an item as an incr/decr operand: decimal digits, optionally followed by the
/// space padding an earlier in-place decrement left (memcached accepts trailing spaces).
/// Values memcached refuses to count before it compares a CAS: empty ones, and ones stored in
/// chunks (an item over its 512 KiB largest slab chunk: "too large to be a number").
fn not_a_counter(value: &[u8]) -> bool {
    value.is_empty() || value.len() > 512 * 1024
}

fn parse_counter(value: &[u8]) -> Option<u64> {
    // memcached reads the stored value with strtoull: leading white space, an optional sign,
    // digits, then white space, a NUL or the end (its data ends with "\r\n"), so "10 12"
    // counts as 10; a negative number is refused unless it wraps to a small positive one.
    let is_space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r');
    let mut i = value.iter().position(|&b| !is_space(b))?;
    let negative = value[i] == b'-';
    if matches!(value[i], b'+' | b'-') {
        i += 1;
    }
    let digits = value[i..].iter().take_while(|b| b.is_ascii_digit()).count();
    let after = value.get(i + digits).copied();
    if digits == 0 || after.is_some_and(|b| !is_space(b) && b != 0) {
        return None;
    }
    let n = value[i..i + digits].iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })?;
    let n = if negative { n.wrapping_neg() } else { n };
    if negative && (n as i64) < 0 {
        return None;
    }
    Some(n)
}

/// Applies incr/decr as memcached does: incr wraps at 2^64, decr stops at 0.
fn apply_delta(current: u64, delta: u64, incr: bool) -> u64 {
    if incr {
        current.wrapping_add(delta)
    } else {
        current.saturating_sub(delta)
    }
}

/// New stored bytes after incr/decr: when the new number is shorter than the old value,
/// memcached rewrites it in place, left-aligned and padded with spaces to the old length.
fn counter_bytes(new: u64, old_len: usize) -> Vec<u8> {
    let mut s = new.to_string().into_bytes();
    if s.len() < old_len {
        s.resize(old_len, b' ');
    }
    s
}

/// The item incr/decr writes in place of the old one `v`: the new number's bytes with the old
/// item's flags and expiry; `cas` is meta's `E` (None elsewhere). memcached rewrites the item
/// itself when the number fits in the old value's length, so its state (fetched, stale, win
/// sent: `me`'s `fetch=yes` after a get) stays; a longer number is a new item without it
/// (found by the memcached oracle, seed 3701).
fn counter_item<'a>(bytes: &'a [u8], v: &ItemView<'_>, cas: Option<u64>) -> NewItem<'a> {
    NewItem {
        flags: v.flags,
        exptime: v.exptime,
        parts: [bytes, b""],
        cas,
        bits: if bytes.len() <= v.value.len() {
            v.bits()
        } else {
            0
        },
        // memcached counts only the longer number's new item in `total_items`.
        in_place: bytes.len() <= v.value.len(),
    }
}

/// Outcomes of a store as `item_store` log lines name them (memcached's `store_item_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StoreOutcome {
    NotStored,
    Stored,
    Exists,
    NotFound,
    TooLarge,
    NoMemory,
}

impl StoreOutcome {
    fn name(self) -> &'static str {
        match self {
            StoreOutcome::NotStored => "not_stored",
            StoreOutcome::Stored => "stored",
            StoreOutcome::Exists => "exists",
            StoreOutcome::NotFound => "not_found",
            StoreOutcome::TooLarge => "too_large",
            StoreOutcome::NoMemory => "no_memory",
        }
    }
}

/// Logs a store's outcome for `watch mutations` (nothing unless someone watches): `cmd` as
/// memcached names it (set, add, replace, append, prepend, cas), `exptime` the item's
/// absolute expiry (0: none), `value_len` the bytes the request carried. A store refused for
/// its size or for memory names no class, size or TTL, as memcached's does.
fn log_store(
    node: &NodeShared,
    key: &[u8],
    outcome: StoreOutcome,
    cmd: &str,
    exptime: u32,
    value_len: usize,
) {
    let log = &node.store.log;
    if !log.wants(crate::watch::kind::MUTATIONS) {
        return;
    }
    let (ttl, item) = match outcome {
        StoreOutcome::TooLarge | StoreOutcome::NoMemory => (0, (0, 0)),
        _ => {
            let ttl = if exptime == 0 {
                0
            } else {
                exptime.saturating_sub(node.store.clock.now())
            };
            (ttl, (node.store.class_id(key.len() + value_len), value_len))
        }
    };
    log.item_store(key, outcome.name(), cmd, ttl, item);
}

/// The lookup of a text or binary retrieval (get, gets, gat, touch): finds the live item,
/// counting `get_expired` / `get_flushed`, and counts the get under the key's prefix while
/// `stats detail` is on (memcached counts these, not meta gets).
fn find_for_get(node: &NodeShared, g: &mut ShardGuard<'_>, key: &[u8]) -> Option<Slot> {
    let found = g.find(key, true);
    node.prefix_stats.record(
        key,
        Event::Get {
            hit: found.is_some(),
        },
    );
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_parse_wrap_and_pad() {
        assert_eq!(parse_counter(b"1   "), Some(1));
        assert_eq!(parse_counter(b"abc"), None);
        assert_eq!(apply_delta(u64::MAX, 2, true), 1);
        assert_eq!(apply_delta(5, 10, false), 0);
        assert_eq!(counter_bytes(1, 20), b"1                   ".to_vec());
        assert_eq!(counter_bytes(100, 2), b"100".to_vec());
    }
}
