//! The classic text protocol (storage, retrieval, delete, incr/decr, touch, gat, flush_all,
//! stats, version, verbosity, quit) and auto discovery, with memcached 1.6's exact replies and
//! error handling; meta commands (`m?`) are handed to `protocol::meta`.
//!
//! Place in the flow: `server` calls [`process`] with the connection's input buffer after
//! every read. [`process`] consumes every complete request (a line, plus a data block for
//! storage commands), appends replies to `out`, and leaves incomplete input in the buffer.
//!
//! Framing rules as memcached applies them: lines end with `\n` (an optional `\r` before it
//! is dropped); tokens are separated by spaces; a line over 2048 bytes without newline closes
//! the connection unless it is a `get`/`gets` (multi-gets may be long, up to
//! [`MAX_GET_LINE`]); a storage command whose item is too large is answered and its data
//! block swallowed, so the connection stays usable.

use bytes::{Buf, BytesMut};

use super::{KEY_MAX, Step, meta, parse_counter, parse_flags, parse_i64, parse_u64};
use crate::discovery::LEGACY_KEY;
use crate::protocol::{apply_delta, counter_bytes};
use crate::server::{ConnState, NodeShared};
use crate::stats::Counter;
use crate::store::{NewItem, StoreError};
use crate::wire;

/// Longest line memcached waits for without seeing a newline (non-get commands).
const MAX_LINE: usize = 2048;
/// Longest multi-get line we buffer.
pub(crate) const MAX_GET_LINE: usize = 4 << 20;
/// memcached's token limit per command (MAX_TOKENS, including the terminal token).
pub(crate) const MAX_TOKENS: usize = 24;

/// Outcome of one request.
pub(crate) enum Handled {
    /// Request complete; drop this many bytes from the buffer.
    Consumed(usize),
    /// Wait until the buffer holds this many bytes (nothing consumed).
    NeedMore(usize),
    /// Close the connection after flushing output.
    Close,
}

/// Tokens of a command line (at most [`MAX_TOKENS`] - 1; `more` tells there were others).
pub(crate) struct Tokens<'a> {
    pub(crate) toks: [&'a [u8]; MAX_TOKENS],
    pub(crate) len: usize,
    pub(crate) more: bool,
}

impl<'a> Tokens<'a> {
    pub(crate) fn split(line: &'a [u8]) -> Tokens<'a> {
        let mut t = Tokens {
            toks: [&[]; MAX_TOKENS],
            len: 0,
            more: false,
        };
        for tok in line.split(|&b| b == b' ').filter(|t| !t.is_empty()) {
            if t.len == MAX_TOKENS - 1 {
                t.more = true;
                break;
            }
            t.toks[t.len] = tok;
            t.len += 1;
        }
        t
    }
    pub(crate) fn get(&self, i: usize) -> &'a [u8] {
        if i < self.len { self.toks[i] } else { &[] }
    }
    /// memcached's `set_noreply_maybe`: the last token is `noreply`.
    fn noreply(&self) -> bool {
        self.len > 0 && self.toks[self.len - 1] == b"noreply"
    }
}

/// Consumes complete requests from `buf`, appending replies to `out`.
pub(crate) fn process(
    node: &NodeShared,
    st: &mut ConnState,
    buf: &mut BytesMut,
    out: &mut Vec<u8>,
) -> Step {
    loop {
        if super::must_wait(st, buf, out) {
            return Step::More;
        }
        if buf.is_empty() {
            return Step::More;
        }
        let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
            if buf.len() > MAX_LINE {
                let spaces = buf.iter().take_while(|&&b| b == b' ').count();
                let rest = &buf[spaces..];
                if spaces > 100
                    || !(rest.starts_with(b"get ") || rest.starts_with(b"gets "))
                    || buf.len() > MAX_GET_LINE
                {
                    return Step::Close;
                }
            }
            return Step::More;
        };
        let line_end = if nl > 0 && buf[nl - 1] == b'\r' {
            nl - 1
        } else {
            nl
        };
        match handle(node, st, buf, line_end, nl + 1, out) {
            Handled::Consumed(n) => buf.advance(n),
            Handled::NeedMore(total) => {
                buf.reserve(total.saturating_sub(buf.len()));
                return Step::More;
            }
            Handled::Close => return Step::Close,
        }
        if st.closing {
            return Step::Close;
        }
    }
}

/// Handles one request whose line is `buf[..line_end]` (`line_len` includes the newline).
fn handle(
    node: &NodeShared,
    st: &mut ConnState,
    buf: &[u8],
    line_end: usize,
    line_len: usize,
    out: &mut Vec<u8>,
) -> Handled {
    let line = &buf[..line_end];
    let t = Tokens::split(line);
    let cmd = t.get(0);
    let n = t.len;
    match cmd {
        b"get" | b"gets" | b"gat" | b"gats" => {
            retrieve(node, st, line, cmd, out);
            Handled::Consumed(line_len)
        }
        b"set" | b"add" | b"replace" | b"append" | b"prepend" if (n == 5 || n == 6) && !t.more => {
            storage(node, st, buf, &t, line_len, out)
        }
        b"cas" if (n == 6 || n == 7) && !t.more => storage(node, st, buf, &t, line_len, out),
        b"mg" | b"ms" | b"md" | b"ma" | b"mn" | b"me" => {
            meta::handle(node, st, buf, line_end, line_len, out)
        }
        b"delete" if (2..=4).contains(&n) => {
            delete(node, st, &t, out);
            Handled::Consumed(line_len)
        }
        b"incr" | b"decr" if n == 3 || n == 4 => {
            arithmetic(node, st, &t, cmd == b"incr", out);
            Handled::Consumed(line_len)
        }
        b"touch" if n == 3 || n == 4 => {
            touch(node, st, &t, out);
            Handled::Consumed(line_len)
        }
        b"flush_all" if (1..=3).contains(&n) => {
            flush_all(node, st, &t, out);
            Handled::Consumed(line_len)
        }
        b"version" if n == 1 => {
            out.extend_from_slice(format!("VERSION {}\r\n", node.version()).as_bytes());
            Handled::Consumed(line_len)
        }
        b"verbosity" if n == 2 || n == 3 => {
            match parse_u64(t.get(1)) {
                Some(level) => {
                    node.verbosity.store(
                        level.min(u32::MAX as u64) as u32,
                        std::sync::atomic::Ordering::Relaxed,
                    );
                    reply(out, t.noreply(), wire::OK);
                }
                None => reply(out, t.noreply(), wire::BAD_FORMAT),
            }
            Handled::Consumed(line_len)
        }
        b"quit" if n == 1 => Handled::Close,
        b"stats" => {
            stats(node, st, &t, out);
            Handled::Consumed(line_len)
        }
        b"config" if n == 3 && t.get(1) == b"get" && t.get(2) == b"cluster" => {
            match node.discovery() {
                Some(d) => out.extend_from_slice(&d.config_reply()),
                None => out.extend_from_slice(wire::ERROR),
            }
            Handled::Consumed(line_len)
        }
        b"cache_memlimit" if n == 2 || n == 3 => {
            match parse_u64(t.get(1)) {
                Some(mb) if mb >= 8 => {
                    node.store
                        .settings
                        .memory_limit
                        .store(mb << 20, std::sync::atomic::Ordering::Relaxed);
                    reply(out, t.noreply(), wire::OK);
                }
                Some(_) => reply(out, t.noreply(), wire::MEMLIMIT_TOO_SMALL),
                None => out.extend_from_slice(wire::ERROR),
            }
            Handled::Consumed(line_len)
        }
        b"shutdown" => {
            out.extend_from_slice(wire::SHUTDOWN_DISABLED);
            Handled::Consumed(line_len)
        }
        _ => {
            out.extend_from_slice(wire::ERROR);
            Handled::Consumed(line_len)
        }
    }
}

fn reply(out: &mut Vec<u8>, noreply: bool, msg: &[u8]) {
    if !noreply {
        out.extend_from_slice(msg);
    }
}

/// get / gets / gat / gats.
fn retrieve(node: &NodeShared, st: &ConnState, line: &[u8], cmd: &[u8], out: &mut Vec<u8>) {
    let with_cas = cmd == b"gets" || cmd == b"gats";
    let touching = cmd == b"gat" || cmd == b"gats";
    let mut words = line.split(|&b| b == b' ').filter(|t| !t.is_empty()).skip(1);
    let exptime = if touching {
        match words.next().map(parse_i64) {
            Some(Some(e)) => Some(node.store.clock.expiry(e)),
            Some(None) => {
                out.extend_from_slice(wire::INVALID_EXPTIME);
                return;
            }
            None => {
                out.extend_from_slice(wire::ERROR);
                return;
            }
        }
    } else {
        None
    };
    let start = out.len();
    let mut any = false;
    let counters = &node.store.counters;
    let discovery = node.discovery();
    for key in words {
        any = true;
        if key.len() > KEY_MAX {
            out.truncate(start);
            out.extend_from_slice(wire::BAD_FORMAT);
            return;
        }
        if let (Some(d), true) = (&discovery, key == LEGACY_KEY) {
            d.legacy_value(out);
            continue;
        }
        let mut g = node.store.lock(key);
        let stripe = g.stripe();
        counters.incr(st.stripe, Counter::CmdGet);
        if touching {
            counters.incr(st.stripe, Counter::CmdTouch);
        }
        match g.find(key, true) {
            Some(slot) => {
                if let Some(e) = exptime {
                    g.set_exptime(slot, e);
                }
                g.touch_access(slot, true, true);
                let v = g.view(slot);
                write_value(out, v.key, v.flags, v.value, with_cas.then_some(v.cas));
                counters.incr(
                    stripe,
                    if touching {
                        Counter::TouchHits
                    } else {
                        Counter::GetHits
                    },
                );
            }
            None => {
                counters.incr(
                    stripe,
                    if touching {
                        Counter::TouchMisses
                    } else {
                        Counter::GetMisses
                    },
                );
            }
        }
    }
    if !any && !touching {
        out.extend_from_slice(wire::ERROR);
        return;
    }
    out.extend_from_slice(wire::END);
}

/// `VALUE <key> <flags> <bytes> [<cas>]\r\n<data>\r\n`.
pub(crate) fn write_value(
    out: &mut Vec<u8>,
    key: &[u8],
    flags: u32,
    value: &[u8],
    cas: Option<u64>,
) {
    out.extend_from_slice(b"VALUE ");
    out.extend_from_slice(key);
    let mut nums = itoa_buf();
    push_num(out, &mut nums, b' ', flags as u64);
    push_num(out, &mut nums, b' ', value.len() as u64);
    if let Some(cas) = cas {
        push_num(out, &mut nums, b' ', cas);
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

fn itoa_buf() -> [u8; 20] {
    [0; 20]
}

/// Appends `sep` and the decimal form of `n`.
pub(crate) fn push_num(out: &mut Vec<u8>, scratch: &mut [u8; 20], sep: u8, mut n: u64) {
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

/// set / add / replace / append / prepend / cas.
fn storage(
    node: &NodeShared,
    st: &mut ConnState,
    buf: &[u8],
    t: &Tokens<'_>,
    line_len: usize,
    out: &mut Vec<u8>,
) -> Handled {
    let cmd = t.get(0);
    let is_cas = cmd == b"cas";
    let key = t.get(1);
    let noreply = t.noreply();
    if key.len() > KEY_MAX {
        out.extend_from_slice(wire::BAD_FORMAT);
        return Handled::Consumed(line_len);
    }
    let (Some(flags), Some(exptime), Some(vlen)) = (
        parse_flags(t.get(2)),
        parse_i64(t.get(3)),
        parse_i64(t.get(4)),
    ) else {
        out.extend_from_slice(wire::BAD_FORMAT);
        return Handled::Consumed(line_len);
    };
    let cas_in = if is_cas {
        match parse_u64(t.get(5)) {
            Some(c) => c,
            None => {
                out.extend_from_slice(wire::BAD_FORMAT);
                return Handled::Consumed(line_len);
            }
        }
    } else {
        0
    };
    if vlen < 0 || vlen > (i32::MAX as i64 - 2) {
        out.extend_from_slice(wire::BAD_FORMAT);
        return Handled::Consumed(line_len);
    }
    let vlen = vlen as usize;
    let counters = &node.store.counters;
    counters.incr(st.stripe, Counter::CmdSet);
    if node.store.too_large(key.len(), vlen) {
        counters.incr(st.stripe, Counter::StoreTooLarge);
        reply(out, noreply, wire::TOO_LARGE);
        if cmd == b"set" {
            // memcached unlinks the old item so a failed set leaves no stale value behind.
            let mut g = node.store.lock(key);
            if let Some(slot) = g.find(key, false) {
                g.remove(slot);
            }
        }
        st.swallow = vlen + 2;
        return Handled::Consumed(line_len);
    }
    let total = line_len + vlen + 2;
    if buf.len() < total {
        return Handled::NeedMore(total);
    }
    if &buf[total - 2..total] != b"\r\n" {
        reply(out, noreply, wire::BAD_CHUNK);
        return Handled::Consumed(total);
    }
    let data = &buf[line_len..line_len + vlen];
    let exptime = node.store.clock.expiry(exptime);
    let mut g = node.store.lock(key);
    let existing = g.find(key, false);
    let stripe = g.stripe();
    let mut item = NewItem {
        flags,
        exptime,
        parts: [data, b""],
        cas: None,
        bits: 0,
    };
    let result = match (cmd, existing) {
        (b"add", Some(slot)) => {
            g.touch_access(slot, true, false);
            Ok(wire::NOT_STORED)
        }
        (b"replace" | b"append" | b"prepend", None) => Ok(wire::NOT_STORED),
        (b"cas", None) => {
            counters.incr(stripe, Counter::CasMisses);
            Ok(wire::NOT_FOUND)
        }
        (b"cas", Some(slot)) if g.view(slot).cas != cas_in => {
            counters.incr(stripe, Counter::CasBadval);
            Ok(wire::EXISTS)
        }
        (b"append" | b"prepend", Some(slot)) => {
            let old = g.view(slot);
            let (old_flags, old_exp) = (old.flags, old.exptime);
            let old_value = old.value.to_vec();
            item.flags = old_flags;
            item.exptime = old_exp;
            item.parts = if cmd == b"append" {
                [&old_value, data]
            } else {
                [data, &old_value]
            };
            // memcached answers NOT_STORED when the combined item would be too large.
            match g.write(key, Some(slot), item) {
                Err(StoreError::TooLarge) => Ok(wire::NOT_STORED),
                other => other.map(|_| wire::STORED),
            }
        }
        (_, existing) => {
            if is_cas {
                counters.incr(stripe, Counter::CasHits);
            }
            g.write(key, existing, item).map(|_| wire::STORED)
        }
    };
    drop(g);
    match result {
        Ok(msg) => reply(out, noreply, msg),
        Err(StoreError::TooLarge) => {
            counters.incr(st.stripe, Counter::StoreTooLarge);
            reply(out, noreply, wire::TOO_LARGE)
        }
        Err(StoreError::NoMemory) => {
            counters.incr(st.stripe, Counter::StoreNoMemory);
            reply(out, noreply, wire::OUT_OF_MEMORY)
        }
    }
    Handled::Consumed(total)
}

fn delete(node: &NodeShared, st: &ConnState, t: &Tokens<'_>, out: &mut Vec<u8>) {
    let key = t.get(1);
    let noreply = t.noreply();
    if t.len > 2 {
        let hold_is_zero = t.get(2) == b"0";
        let valid =
            (t.len == 3 && (hold_is_zero || noreply)) || (t.len == 4 && hold_is_zero && noreply);
        if !valid {
            out.extend_from_slice(wire::DELETE_USAGE);
            return;
        }
    }
    if key.len() > KEY_MAX {
        out.extend_from_slice(wire::BAD_FORMAT);
        return;
    }
    let mut g = node.store.lock(key);
    let _ = st;
    match g.find(key, false) {
        Some(slot) => {
            g.remove(slot);
            node.store.counters.incr(g.stripe(), Counter::DeleteHits);
            reply(out, noreply, wire::DELETED);
        }
        None => {
            node.store.counters.incr(g.stripe(), Counter::DeleteMisses);
            reply(out, noreply, wire::NOT_FOUND);
        }
    }
}

fn arithmetic(node: &NodeShared, st: &ConnState, t: &Tokens<'_>, incr: bool, out: &mut Vec<u8>) {
    let key = t.get(1);
    let noreply = t.noreply();
    if key.len() > KEY_MAX {
        out.extend_from_slice(wire::BAD_FORMAT);
        return;
    }
    let Some(delta) = parse_u64(t.get(2)) else {
        reply(out, noreply, wire::INVALID_DELTA);
        return;
    };
    let _ = st;
    let counters = &node.store.counters;
    let mut g = node.store.lock(key);
    let stripe = g.stripe();
    let (hit, miss) = if incr {
        (Counter::IncrHits, Counter::IncrMisses)
    } else {
        (Counter::DecrHits, Counter::DecrMisses)
    };
    let Some(slot) = g.find(key, false) else {
        counters.incr(stripe, miss);
        reply(out, noreply, wire::NOT_FOUND);
        return;
    };
    let v = g.view(slot);
    let Some(current) = parse_counter(v.value) else {
        reply(out, noreply, wire::NON_NUMERIC);
        return;
    };
    let new = apply_delta(current, delta, incr);
    let bytes = counter_bytes(new, v.value.len());
    let item = NewItem {
        flags: v.flags,
        exptime: v.exptime,
        parts: [&bytes, b""],
        cas: None,
        bits: 0,
    };
    g.touch_access(slot, true, true);
    match g.write(key, Some(slot), item) {
        Ok(_) => {
            counters.incr(stripe, hit);
            if !noreply {
                out.extend_from_slice(new.to_string().as_bytes());
                out.extend_from_slice(b"\r\n");
            }
        }
        Err(_) => reply(out, noreply, wire::OUT_OF_MEMORY),
    }
}

fn touch(node: &NodeShared, st: &ConnState, t: &Tokens<'_>, out: &mut Vec<u8>) {
    let key = t.get(1);
    let noreply = t.noreply();
    if key.len() > KEY_MAX {
        out.extend_from_slice(wire::BAD_FORMAT);
        return;
    }
    let Some(exptime) = parse_i64(t.get(2)) else {
        reply(out, noreply, wire::INVALID_EXPTIME);
        return;
    };
    let exptime = node.store.clock.expiry(exptime);
    let counters = &node.store.counters;
    counters.incr(st.stripe, Counter::CmdTouch);
    let mut g = node.store.lock(key);
    match g.find(key, false) {
        Some(slot) => {
            g.set_exptime(slot, exptime);
            g.touch_access(slot, true, false);
            counters.incr(g.stripe(), Counter::TouchHits);
            reply(out, noreply, wire::TOUCHED);
        }
        None => {
            counters.incr(g.stripe(), Counter::TouchMisses);
            reply(out, noreply, wire::NOT_FOUND);
        }
    }
}

fn flush_all(node: &NodeShared, st: &ConnState, t: &Tokens<'_>, out: &mut Vec<u8>) {
    let noreply = t.noreply();
    if node
        .disable_flush
        .load(std::sync::atomic::Ordering::Relaxed)
    {
        reply(out, noreply, wire::FLUSH_DISABLED);
        return;
    }
    let args = t.len - 1 - usize::from(noreply);
    let delay = if args >= 1 {
        match parse_i64(t.get(1)) {
            Some(d) => d,
            None => {
                reply(out, noreply, wire::INVALID_EXPTIME);
                return;
            }
        }
    } else {
        0
    };
    node.store.counters.incr(st.stripe, Counter::CmdFlush);
    if delay > 0 {
        let at = node.store.clock.expiry(delay);
        node.store.flush_at(at);
    } else {
        node.store.flush_now();
    }
    reply(out, noreply, wire::OK);
}

fn stats(node: &NodeShared, st: &ConnState, t: &Tokens<'_>, out: &mut Vec<u8>) {
    use super::{class_stats, conns_stats, general_stats, settings_stats};
    match (t.get(1), t.len) {
        (_, 1) => general_stats(node).render_text(out),
        (b"settings", 2) => settings_stats(node).render_text(out),
        (b"items", 2) => class_stats(node, "items").render_text(out),
        (b"slabs", 2) => class_stats(node, "slabs").render_text(out),
        (b"sizes", 2) => class_stats(node, "sizes").render_text(out),
        (b"conns", 2) => conns_stats(node, st.stripe as u64).render_text(out),
        (b"reset", 2) => {
            node.store.counters.reset();
            out.extend_from_slice(wire::RESET);
        }
        (b"cachedump", 4) => match (parse_u64(t.get(2)), parse_u64(t.get(3))) {
            (Some(class), Some(limit)) => super::cachedump(node, class, limit, out),
            _ => out.extend_from_slice(wire::BAD_FORMAT),
        },
        (b"cachedump", _) => out.extend_from_slice(wire::CACHEDUMP_USAGE),
        (b"detail", 3) if t.get(2) == b"on" || t.get(2) == b"off" => {
            out.extend_from_slice(wire::OK)
        }
        (b"detail", 3) if t.get(2) == b"dump" => out.extend_from_slice(wire::END),
        (b"detail", _) => out.extend_from_slice(wire::STATS_DETAIL_USAGE),
        _ => out.extend_from_slice(wire::ERROR),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_split_on_spaces_and_limit() {
        let t = Tokens::split(b"set  k 0 0 1 noreply");
        assert_eq!(t.len, 6);
        assert!(t.noreply());
        let long = vec![&b"a "[..]; 40].concat();
        let t = Tokens::split(&long);
        assert!(t.more);
    }

    #[test]
    fn value_line_format() {
        let mut out = Vec::new();
        write_value(&mut out, b"k", 5, b"hi", Some(7));
        assert_eq!(out, b"VALUE k 5 2 7\r\nhi\r\n");
    }
}
