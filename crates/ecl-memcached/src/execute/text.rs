//! Runs classic text requests against the store, with memcached 1.6's replies and counters.
//!
//! Place in the flow: `execute::execute` calls [`execute`] with a [`TextRequest`] that
//! `protocol::text` parsed (keys, numbers and sizes already checked).

use std::sync::atomic::Ordering;

use super::{
    OUTPUT_SOFT_LIMIT, Step, StoreOutcome, apply_delta, counter_bytes, counter_item, log_store,
    parse_counter, stats,
};
use crate::discovery::LEGACY_KEY;
use crate::node::NodeShared;
use crate::prefix_stats::Event;
use crate::protocol::text::{
    Automove, DetailOp, GetKind, Keys, Refusal, StatsRequest, StoreCmd, TextRequest, encode_reply,
    encode_value,
};
use crate::stats::Counter;
use crate::store::{NewItem, StoreError, WARM_KEYS};
use crate::wire;

/// Runs one text request.
pub(super) fn execute(
    node: &NodeShared,
    stripe: usize,
    request: TextRequest<'_>,
    resume: &mut usize,
    out: &mut Vec<u8>,
) -> Step {
    match request {
        TextRequest::Get {
            kind,
            exptime,
            keys,
            bad_key,
        } => return retrieve(node, stripe, (kind, exptime, keys, bad_key), resume, out),
        TextRequest::Store {
            cmd,
            key,
            flags,
            exptime,
            cas,
            data,
            noreply,
        } => {
            node.store.counters.incr(stripe, Counter::CmdSet);
            node.prefix_stats.record(key, Event::Set);
            let exptime = node.store.clock.expiry(exptime);
            let result = storage(node, cmd, key, cas, (flags, exptime), data);
            let outcome = match result {
                Ok(reply) if reply == wire::STORED => StoreOutcome::Stored,
                Ok(reply) if reply == wire::EXISTS => StoreOutcome::Exists,
                Ok(reply) if reply == wire::NOT_FOUND => StoreOutcome::NotFound,
                Ok(_) => StoreOutcome::NotStored,
                Err(StoreError::TooLarge) => StoreOutcome::TooLarge,
                Err(StoreError::NoMemory) => StoreOutcome::NoMemory,
            };
            log_store(node, key, outcome, cmd.name(), exptime, data.len());
            storage_reply(node, stripe, result, noreply, out);
        }
        TextRequest::StoreRefused {
            cmd,
            key,
            why,
            noreply,
        } => refused(node, stripe, cmd, key, why, noreply, out),
        TextRequest::Delete { key, noreply } => delete(node, key, noreply, out),
        TextRequest::Arith {
            incr,
            key,
            delta,
            noreply,
        } => arithmetic(node, key, delta, incr, noreply, out),
        TextRequest::Touch {
            key,
            exptime,
            noreply,
        } => touch(node, stripe, key, exptime, noreply, out),
        TextRequest::FlushAll { delay, noreply } => flush_all(node, stripe, delay, noreply, out),
        TextRequest::Version => {
            out.extend_from_slice(format!("VERSION {}\r\n", node.version()).as_bytes());
        }
        TextRequest::Verbosity { level, noreply } => {
            node.verbosity
                .store(level.min(u32::MAX as u64) as u32, Ordering::Relaxed);
            encode_reply(out, noreply, wire::OK);
        }
        TextRequest::Quit => return Step::Close,
        TextRequest::Http => return Step::Abort,
        TextRequest::Watch { kinds } => return Step::Watch(kinds),
        TextRequest::Stats(family) => stats_family(node, stripe, family, out),
        TextRequest::ConfigGetCluster => match node.discovery() {
            Some(d) => out.extend_from_slice(&d.config_reply()),
            None => out.extend_from_slice(wire::ERROR),
        },
        TextRequest::LruCrawler(sub) => return super::crawler::run(node, sub, resume, out),
        TextRequest::SlabsAutomove { setting, noreply } => {
            match setting {
                Automove::Level(level) => node.slab_automove.store(level, Ordering::Relaxed),
                Automove::Ratio(r) => node
                    .slab_automove_ratio
                    .store(r.to_bits(), Ordering::Relaxed),
            }
            encode_reply(out, noreply, wire::OK);
        }
        TextRequest::SlabsReassign { src, dst } => {
            out.extend_from_slice(slabs_reassign(node, src, dst))
        }
        TextRequest::CacheMemlimit { mb, noreply } => {
            node.store
                .settings
                .memory_limit
                .store(mb << 20, Ordering::Relaxed);
            encode_reply(out, noreply, wire::OK);
        }
    }
    Step::More
}

/// get / gets / gat / gats, streamed: keys before `*resume` were served by earlier calls, and
/// the call pauses (returning [`Step::Paused`] with `*resume` set) once `out` holds
/// [`OUTPUT_SOFT_LIMIT`] bytes, so a line naming a large item many times never builds its
/// whole reply in memory: the connection writes what it has and calls again.
fn retrieve(
    node: &NodeShared,
    conn_stripe: usize,
    get: (GetKind, Option<i64>, Keys<'_>, bool),
    resume: &mut usize,
    out: &mut Vec<u8>,
) -> Step {
    let (kind, exptime, keys, bad_key) = get;
    let exptime = exptime.map(|e| node.store.clock.expiry(e));
    // One clock reading for the whole line; discovery is looked up only for its own key (it
    // sits behind a lock every worker would otherwise touch on every get).
    let now = node.store.clock.now();
    let mut keys = keys.iter().skip(*resume).peekable();
    let mut next = *resume;
    // The keys go in groups of up to WARM_KEYS, looked up together first (`Store::warm`) so
    // their cache misses overlap, then served one by one in order.
    let mut group: [&[u8]; WARM_KEYS] = [&[]; WARM_KEYS];
    loop {
        let mut n = 0;
        while n < WARM_KEYS
            && let Some(key) = keys.next()
        {
            group[n] = key;
            n += 1;
        }
        if n == 0 {
            break;
        }
        if n > 1 {
            node.store.warm(&group[..n]);
        }
        for (j, key) in group[..n].iter().copied().enumerate() {
            let discovery = if key == LEGACY_KEY {
                node.discovery()
            } else {
                None
            };
            if let Some(d) = discovery {
                if !bad_key {
                    d.legacy_value(out);
                }
            } else {
                // memcached drops the values of a line with a bad key and reports the key
                // alone, so such a line still counts and touches its items but writes no value.
                let out = (!bad_key).then_some(&mut *out);
                get_one(node, (conn_stripe, now), kind, exptime, key, out);
            }
            next += 1;
            let more = j + 1 < n || keys.peek().is_some();
            if out.len() >= OUTPUT_SOFT_LIMIT && more {
                *resume = next;
                return Step::Paused;
            }
        }
    }
    *resume = 0;
    out.extend_from_slice(if bad_key { wire::BAD_FORMAT } else { wire::END });
    Step::Sent
}

/// One key of a retrieval line: counters, touch, and its `VALUE` block when `out` is given.
/// Every counter goes to the connection's stripe: a shard's stripe would be shared by all
/// workers.
fn get_one(
    node: &NodeShared,
    (conn_stripe, now): (usize, u32),
    kind: GetKind,
    exptime: Option<u32>,
    key: &[u8],
    out: Option<&mut Vec<u8>>,
) {
    let counters = &node.store.counters;
    let touching = kind.touching();
    let mut g = node.store.lock_at(key, now);
    let stripe = conn_stripe;
    // gat / gats count as touches only, as memcached counts them (no `cmd_get`).
    if touching {
        counters.incr(conn_stripe, Counter::CmdTouch);
    } else {
        counters.incr(conn_stripe, Counter::CmdGet);
    }
    let (hit, miss) = if touching {
        (Counter::TouchHits, Counter::TouchMisses)
    } else {
        (Counter::GetHits, Counter::GetMisses)
    };
    match super::find_for_get(node, &mut g, key) {
        Some(slot) => {
            if let Some(e) = exptime {
                g.set_exptime(slot, e);
            }
            g.touch_access(slot, true, true);
            let v = g.view(slot);
            if let Some(out) = out {
                let cas = kind.with_cas().then_some(v.cas);
                encode_value(out, v.key, v.flags, v.value, cas);
            }
            counters.incr(stripe, hit);
        }
        None => counters.incr(stripe, miss),
    }
}

/// set / add / replace / append / prepend / cas of `data` under `key`.
fn storage(
    node: &NodeShared,
    cmd: StoreCmd,
    key: &[u8],
    cas_in: u64,
    (flags, exptime): (u32, u32),
    data: &[u8],
) -> Result<&'static [u8], StoreError> {
    let counters = &node.store.counters;
    let mut g = node.store.lock(key);
    let existing = g.find(key, false);
    let stripe = g.stripe();
    let mut item = NewItem {
        flags,
        exptime,
        parts: [data, b""],
        cas: None,
        bits: 0,
        in_place: false,
    };
    match (cmd, existing) {
        (StoreCmd::Add, Some(slot)) => {
            g.touch_access(slot, true, false);
            Ok(wire::NOT_STORED)
        }
        (StoreCmd::Replace | StoreCmd::Append | StoreCmd::Prepend, None) => Ok(wire::NOT_STORED),
        (StoreCmd::Cas, None) => {
            counters.incr(stripe, Counter::CasMisses);
            Ok(wire::NOT_FOUND)
        }
        (StoreCmd::Cas, Some(slot)) if g.view(slot).cas != cas_in => {
            counters.incr(stripe, Counter::CasBadval);
            Ok(wire::EXISTS)
        }
        (StoreCmd::Append | StoreCmd::Prepend, Some(slot)) => {
            let old = g.view(slot);
            let (old_flags, old_exp) = (old.flags, old.exptime);
            let old_value = old.value.to_vec();
            item.flags = old_flags;
            item.exptime = old_exp;
            item.parts = if cmd == StoreCmd::Append {
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
            if cmd == StoreCmd::Cas {
                counters.incr(stripe, Counter::CasHits);
            }
            g.write(key, existing, item).map(|_| wire::STORED)
        }
    }
}

/// The reply of a storage command (counting refusals by size or memory).
fn storage_reply(
    node: &NodeShared,
    stripe: usize,
    result: Result<&'static [u8], StoreError>,
    noreply: bool,
    out: &mut Vec<u8>,
) {
    let counters = &node.store.counters;
    match result {
        Ok(msg) => encode_reply(out, noreply, msg),
        Err(StoreError::TooLarge) => {
            counters.incr(stripe, Counter::StoreTooLarge);
            encode_reply(out, noreply, wire::TOO_LARGE)
        }
        Err(StoreError::NoMemory) => {
            counters.incr(stripe, Counter::StoreNoMemory);
            encode_reply(out, noreply, wire::OUT_OF_MEMORY)
        }
    }
}

/// A storage command refused after its line: too large (the old item of a `set` goes too)
/// or a data block without CRLF.
fn refused(
    node: &NodeShared,
    stripe: usize,
    cmd: StoreCmd,
    key: &[u8],
    why: Refusal,
    noreply: bool,
    out: &mut Vec<u8>,
) {
    let counters = &node.store.counters;
    counters.incr(stripe, Counter::CmdSet);
    // memcached counts the prefix when it reads the command line, before the data.
    node.prefix_stats.record(key, Event::Set);
    if why == Refusal::BadChunk {
        encode_reply(out, noreply, wire::BAD_CHUNK);
        return;
    }
    counters.incr(stripe, Counter::StoreTooLarge);
    encode_reply(out, noreply, wire::TOO_LARGE);
    log_store(node, key, StoreOutcome::TooLarge, cmd.name(), 0, 0);
    if cmd == StoreCmd::Set {
        // memcached unlinks the old item so a failed set leaves no stale value behind.
        let mut g = node.store.lock(key);
        if let Some(slot) = g.find(key, false) {
            g.remove(slot);
        }
    }
}

fn delete(node: &NodeShared, key: &[u8], noreply: bool, out: &mut Vec<u8>) {
    node.prefix_stats.record(key, Event::Delete);
    let mut g = node.store.lock(key);
    match g.find(key, false) {
        Some(slot) => {
            g.remove(slot);
            node.store.counters.incr(g.stripe(), Counter::DeleteHits);
            encode_reply(out, noreply, wire::DELETED);
        }
        None => {
            node.store.counters.incr(g.stripe(), Counter::DeleteMisses);
            encode_reply(out, noreply, wire::NOT_FOUND);
        }
    }
}

fn arithmetic(
    node: &NodeShared,
    key: &[u8],
    delta: u64,
    incr: bool,
    noreply: bool,
    out: &mut Vec<u8>,
) {
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
        encode_reply(out, noreply, wire::NOT_FOUND);
        return;
    };
    let v = g.view(slot);
    let Some(current) = parse_counter(v.value) else {
        encode_reply(out, noreply, wire::NON_NUMERIC);
        return;
    };
    let new = apply_delta(current, delta, incr);
    let bytes = counter_bytes(new, v.value.len());
    let item = counter_item(&bytes, &v, None);
    g.touch_access(slot, true, true);
    match g.write(key, Some(slot), item) {
        Ok(_) => {
            counters.incr(stripe, hit);
            if !noreply {
                out.extend_from_slice(new.to_string().as_bytes());
                out.extend_from_slice(b"\r\n");
            }
        }
        Err(_) => encode_reply(out, noreply, wire::OUT_OF_MEMORY),
    }
}

fn touch(
    node: &NodeShared,
    conn_stripe: usize,
    key: &[u8],
    exptime: i64,
    noreply: bool,
    out: &mut Vec<u8>,
) {
    let exptime = node.store.clock.expiry(exptime);
    let counters = &node.store.counters;
    counters.incr(conn_stripe, Counter::CmdTouch);
    let mut g = node.store.lock(key);
    match g.find(key, false) {
        Some(slot) => {
            g.set_exptime(slot, exptime);
            // memcached's touch looks the item up as a fetch does: `me` says fetch=yes.
            g.touch_access(slot, true, true);
            counters.incr(g.stripe(), Counter::TouchHits);
            encode_reply(out, noreply, wire::TOUCHED);
        }
        None => {
            counters.incr(g.stripe(), Counter::TouchMisses);
            encode_reply(out, noreply, wire::NOT_FOUND);
        }
    }
}

fn flush_all(
    node: &NodeShared,
    stripe: usize,
    delay: Option<i64>,
    noreply: bool,
    out: &mut Vec<u8>,
) {
    if node.disable_flush.load(Ordering::Relaxed) {
        encode_reply(out, noreply, wire::FLUSH_DISABLED);
        return;
    }
    let Some(delay) = delay else {
        encode_reply(out, noreply, wire::INVALID_EXPTIME);
        return;
    };
    node.store.counters.incr(stripe, Counter::CmdFlush);
    if delay > 0 {
        let at = node.store.clock.expiry(delay);
        node.store.flush_at(at);
    } else {
        node.store.flush_now();
    }
    encode_reply(out, noreply, wire::OK);
}

/// `slabs reassign`, checked as memcached checks it: the same class twice, then class ids
/// outside 0 (the global page pool) ..= the largest class, then the source's pages. A node
/// has no slab pages, so a valid request finds no spare page to move; `-1` ("any class with
/// a spare page") finds none either, which memcached then reports as a bad class.
fn slabs_reassign(node: &NodeShared, src: i32, dst: i32) -> &'static [u8] {
    if src == dst {
        return wire::REASSIGN_SAME;
    }
    let max_item = node.store.settings.max_item_size.load(Ordering::Relaxed);
    let largest = crate::slab_class::chunk_sizes(max_item).len() as i32;
    if !(0..=largest).contains(&src) || !(0..=largest).contains(&dst) {
        return wire::REASSIGN_BADCLASS;
    }
    wire::REASSIGN_NOSPARE
}

fn stats_family(node: &NodeShared, stripe: usize, family: StatsRequest, out: &mut Vec<u8>) {
    match family {
        StatsRequest::General => stats::general_stats(node).render_text(out),
        StatsRequest::Settings => stats::settings_stats(node).render_text(out),
        StatsRequest::Items => stats::class_stats(node, "items").render_text(out),
        StatsRequest::Slabs => stats::class_stats(node, "slabs").render_text(out),
        StatsRequest::Sizes => stats::class_stats(node, "sizes").render_text(out),
        StatsRequest::Conns => stats::conns_stats(node, stripe as u64).render_text(out),
        StatsRequest::Reset => {
            node.reset_stats();
            out.extend_from_slice(wire::RESET);
        }
        StatsRequest::Detail(DetailOp::On) => {
            node.prefix_stats.set_enabled(true);
            out.extend_from_slice(wire::OK);
        }
        StatsRequest::Detail(DetailOp::Off) => {
            node.prefix_stats.set_enabled(false);
            out.extend_from_slice(wire::OK);
        }
        StatsRequest::Detail(DetailOp::Dump) => out.extend_from_slice(&node.prefix_stats.dump()),
        StatsRequest::Cachedump { class, limit } => stats::cachedump(node, class, limit, out),
    }
}
