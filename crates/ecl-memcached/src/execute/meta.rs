//! Runs meta requests (`mg`, `ms`, `md`, `ma`, `me`) against the store: CAS compare and
//! explicit CAS, vivify on miss, recache / win / stale handling, invalidation, arithmetic.
//!
//! Place in the flow: `execute::execute` calls [`execute`] with a [`MetaRequest`] that
//! `protocol::meta` parsed. Replies carry the requested return flags in request order;
//! `W` (win), `X` (stale) and `Z` (win token already sent) follow them.

use super::{StoreOutcome, apply_delta, counter_bytes, counter_item, log_store, parse_counter};
use crate::node::NodeShared;
use crate::protocol::meta::{
    Flags, MetaArith, MetaDelete, MetaGet, MetaRequest, MetaSet, encode_echo, encode_flag,
    encode_status,
};
use crate::protocol::push_num;
use crate::protocol::text::Refusal;
use crate::stats::Counter;
use crate::store::{NewItem, ShardGuard, Slot, StoreError};
use crate::wire;

/// Runs one meta request. Only `me` counts in `cmd_meta`, as memcached 1.6.18 counts it (its
/// mg, ms, md, ma and mn count in the classic command counters only).
pub(super) fn execute(
    node: &NodeShared,
    stripe: usize,
    request: MetaRequest<'_>,
    out: &mut Vec<u8>,
) {
    let counters = &node.store.counters;
    match request {
        MetaRequest::Error(msg) => out.extend_from_slice(msg),
        MetaRequest::Get(r) => get(node, stripe, r, out),
        MetaRequest::Set(r) => {
            counters.incr(stripe, Counter::CmdSet);
            if node.store.log.wants(crate::watch::kind::MUTATIONS) {
                let key = r.key.clone().into_owned();
                let cmd = set_name(r.mode, r.compare);
                let (len, ttl) = (r.data.len(), r.ttl);
                let outcome = set(node, stripe, r, out);
                let exptime = ttl.map(|t| node.store.clock.expiry(t)).unwrap_or(0);
                log_store(node, &key, outcome, cmd, exptime, len);
            } else {
                set(node, stripe, r, out);
            }
        }
        MetaRequest::SetRefused { key, why } => {
            counters.incr(stripe, Counter::CmdSet);
            if why == Refusal::BadChunk {
                out.extend_from_slice(wire::BAD_CHUNK);
                return;
            }
            counters.incr(stripe, Counter::StoreTooLarge);
            out.extend_from_slice(wire::TOO_LARGE);
            // memcached unlinks the old item whatever the mode, so no stale value survives.
            let mut g = node.store.lock(&key);
            if let Some(slot) = g.find(&key, false) {
                g.remove(slot);
            }
        }
        MetaRequest::Delete(r) => delete(node, r, out),
        MetaRequest::Arith(r) => arith(node, r, out),
        MetaRequest::Debug { raw_key, key } => {
            counters.incr(stripe, Counter::CmdMeta);
            debug(node, raw_key, &key, out)
        }
    }
}

/// `mg`: finds (or vivifies) the item, then answers.
fn get(node: &NodeShared, conn_stripe: usize, r: MetaGet<'_>, out: &mut Vec<u8>) {
    let store = &node.store;
    let counters = &store.counters;
    let mut g = store.lock(&r.key);
    let stripe = g.stripe();
    let (slot, vivified) = match g.find(&r.key, true) {
        Some(slot) => (slot, false),
        None => {
            if r.vivify.is_none() {
                counters.incr(conn_stripe, Counter::CmdGet);
                counters.incr(stripe, Counter::GetMisses);
                if !r.flags.has(b'q') {
                    encode_status(out, b"EN", &r.flags, r.raw_key);
                }
                return;
            }
            // memcached creates the item without a TTL (its `t` reads -1) and sets the TTL
            // afterwards, in `get_found`.
            let item = NewItem {
                flags: 0,
                exptime: 0,
                parts: [b"", b""],
                cas: r.new_cas,
                bits: 0,
                in_place: false,
            };
            match g.write(&r.key, None, item) {
                Ok((slot, _)) => {
                    g.set_win_sent(slot, true);
                    (slot, true)
                }
                Err(_) => {
                    out.extend_from_slice(wire::OUT_OF_MEMORY);
                    return;
                }
            }
        }
    };
    // memcached counts a found or vivified item as a hit: of a touch when `T` is given (no
    // get counted), else of a get.
    if r.ttl.is_some() {
        counters.incr(conn_stripe, Counter::CmdTouch);
        counters.incr(stripe, Counter::TouchHits);
    } else {
        counters.incr(conn_stripe, Counter::CmdGet);
        counters.incr(stripe, Counter::GetHits);
    }
    get_found(node, &r, &mut g, slot, vivified, out);
}

/// `mg` on an item present (or just vivified): win logic, TTL update, reply.
fn get_found(
    node: &NodeShared,
    r: &MetaGet<'_>,
    g: &mut ShardGuard<'_>,
    slot: Slot,
    vivified: bool,
    out: &mut Vec<u8>,
) {
    let store = &node.store;
    let f = &r.flags;
    let before = g.view(slot);
    let (was_fetched, last_access, win_before, stale, exptime) = (
        before.fetched,
        before.atime,
        before.win_sent,
        before.stale,
        before.exptime,
    );
    // Win logic: a vivified miss wins; a stale item hands out one win; an item close to
    // expiry hands out one win to the first fetcher asking with R.
    let mut win = vivified;
    let already = win_before && !vivified;
    if !vivified && !win_before {
        let near_expiry = r
            .recache
            .is_some_and(|rc| exptime != 0 && (exptime as i64 - g.now() as i64) < rc);
        if stale || near_expiry {
            win = true;
            g.set_win_sent(slot, true);
        }
    }
    // A vivified item takes the later of its N and T flags (see the reply loop below).
    let new_ttl = if vivified {
        f.order().iter().rev().find_map(|c| match c {
            b'T' => r.ttl,
            b'N' => r.vivify,
            _ => None,
        })
    } else {
        r.ttl
    };
    if let Some(t) = new_ttl {
        g.set_exptime(slot, store.clock.expiry(t));
    }
    // `u`: no bump at all, as memcached skips it: neither the LRU place, the access time nor
    // the fetched mark changes (a later `h` still reports no hit).
    let update = !f.has(b'u');
    g.touch_access(slot, update, update);
    let v = g.view(slot);
    if f.has(b'v') {
        out.extend_from_slice(b"VA");
        push_num(out, b' ', v.value.len() as u64);
    } else {
        out.extend_from_slice(b"HD");
    }
    // memcached walks the flags in order: `T` (and `N` on a vivified item) set the TTL where
    // they stand, and `t` reports the TTL as it is at its own position.
    let mut cur_exp = exptime;
    for &c in f.order() {
        match c {
            b'T' | b'N' => {
                let t = if c == b'T' {
                    r.ttl
                } else {
                    r.vivify.filter(|_| vivified)
                };
                if let Some(t) = t {
                    cur_exp = store.clock.expiry(t);
                }
                encode_echo(out, f, c, r.raw_key);
            }
            b't' => {
                out.extend_from_slice(format!(" t{}", store.clock.ttl_flag(cur_exp)).as_bytes())
            }
            b'c' => encode_flag(out, b'c', v.cas),
            b'f' => encode_flag(out, b'f', v.flags as u64),
            b'h' => out.extend_from_slice(if was_fetched { b" h1" } else { b" h0" }),
            b'l' => encode_flag(
                out,
                b'l',
                store.clock.now().saturating_sub(last_access) as u64,
            ),
            b's' => encode_flag(out, b's', v.value.len() as u64),
            _ => encode_echo(out, f, c, r.raw_key),
        }
    }
    for (on, tail) in [(already, b" Z"), (stale, b" X"), (win, b" W")] {
        if on {
            out.extend_from_slice(tail);
        }
    }
    out.extend_from_slice(b"\r\n");
    if f.has(b'v') {
        out.extend_from_slice(v.value);
        out.extend_from_slice(b"\r\n");
    }
}

/// `ms`'s mode as `item_store` log lines name the command (a compared set or replace is a
/// CAS store).
fn set_name(mode: u8, compare: Option<u64>) -> &'static str {
    match (mode, compare) {
        (b'E', _) => "add",
        (b'A', _) => "append",
        (b'P', _) => "prepend",
        (_, Some(_)) => "cas",
        (b'R', None) => "replace",
        _ => "set",
    }
}

/// `ms`: CAS compare, mode, write, reply. Returns the outcome for the log.
fn set(node: &NodeShared, conn_stripe: usize, r: MetaSet<'_>, out: &mut Vec<u8>) -> StoreOutcome {
    let store = &node.store;
    let counters = &store.counters;
    let f = &r.flags;
    let mut g = store.lock(&r.key);
    let stripe = g.stripe();
    let existing = g.find(&r.key, false);
    let mut item = NewItem {
        flags: r.client_flags.unwrap_or(0),
        exptime: r.ttl.map(|t| store.clock.expiry(t)).unwrap_or(0),
        parts: [r.data, b""],
        cas: r.new_cas,
        bits: 0,
        in_place: false,
    };
    // A stale store (I with an older CAS): the old item's win token, if it handed one out.
    let mut stale_store: Option<bool> = None;
    // memcached 1.6.18 makes set and replace with `C` a CAS store (a missing item is NF, even
    // for `C0`); append and prepend compare a non-zero `C` with an existing item only (a
    // missing one is NS, not vivified); add ignores `C`.
    let compare = match r.mode {
        b'A' | b'P' => r.compare.filter(|&c| c != 0),
        b'E' => None,
        _ => r.compare,
    };
    // CAS compare first: a mismatch is EX (or, with I and an older CAS, a stale store).
    if let Some(c) = compare {
        let Some(slot) = existing else {
            if matches!(r.mode, b'A' | b'P') {
                set_status(out, b"NS", f, r.raw_key);
                return StoreOutcome::NotStored;
            }
            counters.incr(stripe, Counter::CasMisses);
            set_status(out, b"NF", f, r.raw_key);
            return StoreOutcome::NotFound;
        };
        let cur = g.view(slot).cas;
        if c == cur {
            counters.incr(stripe, Counter::CasHits);
        } else if f.has(b'I') && c != 0 && c < cur {
            // (`C0` is no CAS to memcached, never an older one: it stays a mismatch.) The new
            // value replaces the old one but keeps its TTL, and stays stale, its win token
            // still handed out if it was: the client that won the recache still owns it.
            let old = g.view(slot);
            item.exptime = old.exptime;
            stale_store = Some(old.win_sent);
            counters.incr(stripe, Counter::CasHits);
        } else {
            counters.incr(stripe, Counter::CasBadval);
            set_status(out, b"EX", f, r.raw_key);
            return StoreOutcome::Exists;
        }
    }
    let old_value;
    let target = match (r.mode, existing) {
        // memcached 1.6.18 parses `N` on ms but does not vivify: append/prepend to a missing
        // item is NS (what the docs of later releases describe is not in this one).
        (b'E', Some(_)) | (b'R', None) | (b'A' | b'P', None) => None,
        (b'A' | b'P', Some(slot)) => {
            let v = g.view(slot);
            item.flags = v.flags;
            item.exptime = v.exptime;
            old_value = v.value.to_vec();
            item.parts = if r.mode == b'A' {
                [&old_value, r.data]
            } else {
                [r.data, &old_value]
            };
            Some(Some(slot))
        }
        (_, existing) => Some(existing),
    };
    let Some(existing) = target else {
        set_status(out, b"NS", f, r.raw_key);
        return StoreOutcome::NotStored;
    };
    match g.write(&r.key, existing, item) {
        Ok((slot, cas)) => {
            if let Some(win_sent) = stale_store {
                g.mark_stale(slot, cas);
                g.set_win_sent(slot, win_sent);
            }
            if !f.has(b'q') {
                out.extend_from_slice(b"HD");
                for &c in f.order() {
                    match c {
                        b'c' => encode_flag(out, b'c', cas),
                        _ => encode_echo(out, f, c, r.raw_key),
                    }
                }
                out.extend_from_slice(b"\r\n");
            }
            StoreOutcome::Stored
        }
        Err(StoreError::TooLarge) => {
            counters.incr(conn_stripe, Counter::StoreTooLarge);
            out.extend_from_slice(wire::TOO_LARGE);
            StoreOutcome::TooLarge
        }
        Err(StoreError::NoMemory) => {
            counters.incr(conn_stripe, Counter::StoreNoMemory);
            out.extend_from_slice(wire::OUT_OF_MEMORY);
            StoreOutcome::NoMemory
        }
    }
}

/// `md`: remove, invalidate (`I`) or empty (`x`) the item.
fn delete(node: &NodeShared, r: MetaDelete<'_>, out: &mut Vec<u8>) {
    let store = &node.store;
    let f = &r.flags;
    let mut g = store.lock(&r.key);
    let stripe = g.stripe();
    let Some(slot) = g.find(&r.key, false) else {
        store.counters.incr(stripe, Counter::DeleteMisses);
        encode_status(out, b"NF", f, r.raw_key);
        return;
    };
    if let Some(c) = r.compare
        && g.view(slot).cas != c
    {
        encode_status(out, b"EX", f, r.raw_key);
        return;
    }
    store.counters.incr(stripe, Counter::DeleteHits);
    if f.has(b'I') {
        let cas = r.new_cas.unwrap_or_else(|| store.next_cas());
        g.mark_stale(slot, cas);
        if let Some(t) = r.ttl {
            g.set_exptime(slot, store.clock.expiry(t));
        }
    } else if f.has(b'x') {
        let v = g.view(slot);
        let (flags, exptime) = (v.flags, v.exptime);
        let item = NewItem {
            flags,
            exptime,
            parts: [b"", b""],
            cas: r.new_cas,
            bits: 0,
            in_place: false,
        };
        let _ = g.write(&r.key, Some(slot), item);
    } else {
        g.remove(slot);
    }
    if !f.has(b'q') {
        encode_status(out, b"HD", f, r.raw_key);
    }
}

/// `ma`: vivify with the initial value, or apply the delta; then answer.
fn arith(node: &NodeShared, r: MetaArith<'_>, out: &mut Vec<u8>) {
    let store = &node.store;
    let counters = &store.counters;
    let f = &r.flags;
    let mut g = store.lock(&r.key);
    let stripe = g.stripe();
    let (hit, miss) = if r.incr {
        (Counter::IncrHits, Counter::IncrMisses)
    } else {
        (Counter::DecrHits, Counter::DecrMisses)
    };
    // The flag says the item was vivified: memcached answers that case even with `q`.
    let result: Result<(Slot, u64, bool), &[u8]> = match g.find(&r.key, false) {
        None => {
            // A vivified item is no miss for memcached (it counts only `total_items`).
            if r.vivify.is_none() {
                counters.incr(stripe, miss);
                encode_status(out, b"NF", f, r.raw_key);
                return;
            }
            let bytes = r.initial.to_string();
            // memcached creates the item without a TTL; `N` (and `T`) set it as the reply
            // walks the flags (see `arith_reply`).
            let item = NewItem {
                flags: 0,
                exptime: 0,
                parts: [bytes.as_bytes(), b""],
                cas: r.new_cas,
                bits: 0,
                in_place: false,
            };
            g.write(&r.key, None, item)
                .map(|(s, _)| (s, r.initial, true))
                .map_err(|_| wire::OUT_OF_MEMORY)
        }
        Some(slot) => {
            let v = g.view(slot);
            if super::not_a_counter(v.value) {
                out.extend_from_slice(wire::NON_NUMERIC);
                return;
            }
            if r.compare.is_some_and(|c| c != v.cas) {
                encode_status(out, b"EX", f, r.raw_key);
                return;
            }
            match parse_counter(v.value) {
                None => Err(wire::NON_NUMERIC),
                Some(cur) => {
                    let new = apply_delta(cur, r.delta, r.incr);
                    let bytes = counter_bytes(new, v.value.len());
                    let item = counter_item(&bytes, &v, r.new_cas);
                    counters.incr(stripe, hit);
                    g.write(&r.key, Some(slot), item)
                        .map(|(s, _)| (s, new, false))
                        .map_err(|_| wire::OUT_OF_MEMORY)
                }
            }
        }
    };
    match result {
        Ok((slot, number, created)) => arith_reply(node, &mut g, (slot, created), number, &r, out),
        Err(e) => out.extend_from_slice(e),
    }
}

/// The reply of a successful `ma`. memcached walks the flags in order: `T` (and `N` on an
/// item the command created) set the TTL where they stand, so a `t` before them reads the TTL
/// as it was; they apply even when `q` silences the reply.
fn arith_reply(
    node: &NodeShared,
    g: &mut ShardGuard<'_>,
    (slot, created): (Slot, bool),
    number: u64,
    r: &MetaArith<'_>,
    out: &mut Vec<u8>,
) {
    let store = &node.store;
    let f: &Flags<'_> = &r.flags;
    // Arithmetic does not count as a fetch (the `h` flag stays as it was).
    g.touch_access(slot, true, false);
    let text = number.to_string();
    let mut line = Vec::new();
    if f.has(b'v') {
        line.extend_from_slice(b"VA");
        push_num(&mut line, b' ', text.len() as u64);
    } else {
        line.extend_from_slice(b"HD");
    }
    for &c in f.order() {
        match c {
            b'T' => {
                if let Some(t) = r.ttl {
                    g.set_exptime(slot, store.clock.expiry(t));
                }
            }
            b'N' => {
                if let (true, Some(n)) = (created, r.vivify) {
                    g.set_exptime(slot, store.clock.expiry(n));
                }
            }
            b'c' => encode_flag(&mut line, b'c', g.view(slot).cas),
            b't' => {
                let ttl = store.clock.ttl_flag(g.view(slot).exptime);
                line.extend_from_slice(format!(" t{ttl}").as_bytes());
            }
            _ => encode_echo(&mut line, f, c, r.raw_key),
        }
    }
    if f.has(b'q') && !created {
        return;
    }
    out.extend_from_slice(&line);
    out.extend_from_slice(b"\r\n");
    if f.has(b'v') {
        out.extend_from_slice(text.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// `me <key> [b]`: item metadata in memcached's debug format.
fn debug(node: &NodeShared, raw_key: &[u8], key: &[u8], out: &mut Vec<u8>) {
    let store = &node.store;
    let mut g = store.lock(key);
    let Some(slot) = g.find(key, false) else {
        out.extend_from_slice(wire::EN);
        return;
    };
    let now = g.now();
    let v = g.view(slot);
    // memcached stores non-zero client flags in 4 more bytes of the item.
    let flag_bytes = if v.flags != 0 { 4 } else { 0 };
    let size = 48 + 8 + v.key.len() + 1 + v.value.len() + 2 + flag_bytes;
    // memcached 1.6 prints `current_time - exptime` here: the remaining time, negated.
    let ttl = store.clock.ttl(v.exptime);
    let exp = if ttl < 0 { -1 } else { -ttl };
    out.extend_from_slice(b"ME ");
    out.extend_from_slice(raw_key);
    out.extend_from_slice(
        format!(
            " exp={} la={} cas={} fetch={} cls={} size={}\r\n",
            exp,
            now.saturating_sub(v.atime),
            v.cas,
            if v.fetched { "yes" } else { "no" },
            slab_class(size),
            size
        )
        .as_bytes(),
    );
}

/// The slab class memcached's default slabs (`-n 48 -f 1.25`, 1 MiB pages) give an item of
/// `size` bytes: chunks start at 96 bytes and grow by 1.25, rounded up to 8, up to 512 KiB.
fn slab_class(size: usize) -> usize {
    const CHUNK_MAX: usize = 512 * 1024;
    let mut chunk: usize = 96;
    let mut class = 1;
    loop {
        if chunk as f64 >= CHUNK_MAX as f64 / 1.25 {
            return class; // the largest class, of 512 KiB chunks
        }
        let aligned = chunk.div_ceil(8) * 8;
        if size <= aligned {
            return class;
        }
        chunk = aligned * 5 / 4;
        class += 1;
    }
}

/// The status line of an `ms` that stored nothing: memcached echoes `c` as `c0` there (the CAS
/// of the item it did not link), the other flags as usual.
fn set_status(out: &mut Vec<u8>, code: &[u8], f: &Flags<'_>, raw_key: &[u8]) {
    out.extend_from_slice(code);
    for &c in f.order() {
        if c == b'c' {
            encode_flag(out, b'c', 0);
        } else {
            encode_echo(out, f, c, raw_key);
        }
    }
    out.extend_from_slice(b"\r\n");
}
