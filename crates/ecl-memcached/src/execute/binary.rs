//! Runs binary requests against the store: gets and touches, storage with CAS, delete,
//! incr/decr with initial value, flush, noop, version, stat, quit, and the quiet variants.
//!
//! Place in the flow: `execute::execute` calls [`execute`] with a [`BinaryRequest`] that
//! `protocol::binary` framed and shape-checked, so extras have the length the opcode needs.
//! Replies are encoded by `protocol::binary::respond`.

use std::sync::atomic::Ordering;

use super::stats::{class_stats, conns_stats, general_stats, settings_stats};
use super::{
    Step, StoreOutcome, apply_delta, counter_bytes, counter_item, log_store, parse_counter,
};
use crate::node::NodeShared;
use crate::prefix_stats::Event;
use crate::protocol::binary::{BinaryRequest, Header, Status, be32, be64, error, op, respond};
use crate::stats::{Counter, StatLines};
use crate::store::{NewItem, StoreError};

/// Runs one binary request.
pub(super) fn execute(
    node: &NodeShared,
    stripe: usize,
    request: BinaryRequest<'_>,
    out: &mut Vec<u8>,
) -> Step {
    match request {
        BinaryRequest::BodyTooLarge {
            header,
            is_store,
            key,
        } => {
            let status = if is_store {
                node.store.counters.incr(stripe, Counter::StoreTooLarge);
                if matches!(header.opcode, op::SET | op::SETQ) {
                    // As for a too-large value within the body limit: no stale value survives.
                    let mut g = node.store.lock(key);
                    if let Some(slot) = g.find(key, false) {
                        g.remove(slot);
                    }
                }
                Status::TooLarge
            } else {
                // Only opcodes whose shape allows any body get here (unknown and SASL ones):
                // memcached discards the body and answers them as unknown.
                Status::UnknownCommand
            };
            error(out, header.opcode, header.opaque, status);
            Step::More
        }
        BinaryRequest::Packet {
            header,
            extras,
            key,
            value,
        } => dispatch(node, stripe, &header, extras, key, value, out),
    }
}

fn dispatch(
    node: &NodeShared,
    stripe: usize,
    h: &Header,
    extras: &[u8],
    key: &[u8],
    value: &[u8],
    out: &mut Vec<u8>,
) -> Step {
    match h.opcode {
        op::GET
        | op::GETQ
        | op::GETK
        | op::GETKQ
        | op::GAT
        | op::GATQ
        | op::GATK
        | op::GATKQ
        | op::TOUCH => get(node, stripe, h, extras, key, out),
        op::SET
        | op::ADD
        | op::REPLACE
        | op::SETQ
        | op::ADDQ
        | op::REPLACEQ
        | op::APPEND
        | op::PREPEND
        | op::APPENDQ
        | op::PREPENDQ => store(node, stripe, h, extras, key, value, out),
        op::DELETE | op::DELETEQ => delete(node, h, key, out),
        op::INCREMENT | op::DECREMENT | op::INCREMENTQ | op::DECREMENTQ => {
            arith(node, h, extras, key, out)
        }
        op::QUIT => {
            respond(out, h.opcode, 0, h.opaque, 0, &[], &[], &[]);
            return Step::Close;
        }
        op::QUITQ => return Step::Close,
        op::FLUSH | op::FLUSHQ => flush(node, stripe, h, extras, out),
        op::NOOP => respond(out, h.opcode, 0, h.opaque, 0, &[], &[], &[]),
        op::VERSION => {
            let version = node.version();
            respond(out, h.opcode, 0, h.opaque, 0, &[], &[], version.as_bytes());
        }
        op::STAT => {
            stat(node, h, key, out);
            if !value.is_empty() {
                // memcached would read the value as the next header: the stream is lost.
                return Step::Close;
            }
        }
        _ => error(out, h.opcode, h.opaque, Status::UnknownCommand),
    }
    Step::More
}

fn flush(node: &NodeShared, stripe: usize, h: &Header, extras: &[u8], out: &mut Vec<u8>) {
    if node.disable_flush.load(Ordering::Relaxed) {
        error(out, h.opcode, h.opaque, Status::Invalid);
        return;
    }
    let delay = if extras.len() == 4 {
        be32(extras) as i64
    } else {
        0
    };
    node.store.counters.incr(stripe, Counter::CmdFlush);
    if delay > 0 {
        node.store.flush_at(node.store.clock.expiry(delay));
    } else {
        node.store.flush_now();
    }
    if h.opcode == op::FLUSH {
        respond(out, h.opcode, 0, h.opaque, 0, &[], &[], &[]);
    }
}

fn get(
    node: &NodeShared,
    conn_stripe: usize,
    h: &Header,
    extras: &[u8],
    key: &[u8],
    out: &mut Vec<u8>,
) {
    let touching = matches!(
        h.opcode,
        op::TOUCH | op::GAT | op::GATQ | op::GATK | op::GATKQ
    );
    let quiet = matches!(h.opcode, op::GETQ | op::GETKQ | op::GATQ | op::GATKQ);
    let with_key = matches!(h.opcode, op::GETK | op::GETKQ | op::GATK | op::GATKQ);
    let store = &node.store;
    let counters = &store.counters;
    let exptime = touching.then(|| store.clock.expiry(be32(extras) as i64));
    let mut g = store.lock(key);
    // The connection's stripe, not the shard's: a shard's stripe is shared by every worker.
    let stripe = conn_stripe;
    // GAT counts as a touch only, as memcached counts it (no `cmd_get`).
    if touching {
        counters.incr(conn_stripe, Counter::CmdTouch);
    } else {
        counters.incr(conn_stripe, Counter::CmdGet);
    }
    match super::find_for_get(node, &mut g, key) {
        Some(slot) => {
            if let Some(e) = exptime {
                g.set_exptime(slot, e);
            }
            g.touch_access(slot, true, true);
            counters.incr(
                stripe,
                if touching {
                    Counter::TouchHits
                } else {
                    Counter::GetHits
                },
            );
            let v = g.view(slot);
            if h.opcode == op::TOUCH {
                respond(
                    out,
                    h.opcode,
                    0,
                    h.opaque,
                    v.cas,
                    &v.flags.to_be_bytes(),
                    &[],
                    &[],
                );
            } else {
                let k: &[u8] = if with_key { v.key } else { &[] };
                respond(
                    out,
                    h.opcode,
                    0,
                    h.opaque,
                    v.cas,
                    &v.flags.to_be_bytes(),
                    k,
                    v.value,
                );
            }
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
            if quiet {
                return;
            }
            if with_key {
                let s = Status::KeyNotFound;
                respond(out, h.opcode, s.code(), h.opaque, 0, &[], key, &[]);
            } else {
                error(out, h.opcode, h.opaque, Status::KeyNotFound);
            }
        }
    }
}

/// What a binary storage opcode asks for.
struct StoreKind {
    /// The command (quiet variants mapped to theirs; a CAS turns set/add/replace into SET).
    base: u8,
    /// A quiet variant: no reply on success.
    quiet: bool,
    /// APPEND or PREPEND.
    concat: bool,
    /// The opcode as sent was SET or SETQ: a too-large one drops the old item.
    plain_set: bool,
}

impl StoreKind {
    fn of(h: &Header) -> StoreKind {
        let (base, quiet) = match h.opcode {
            op::SETQ => (op::SET, true),
            op::ADDQ => (op::ADD, true),
            op::REPLACEQ => (op::REPLACE, true),
            op::APPENDQ => (op::APPEND, true),
            op::PREPENDQ => (op::PREPEND, true),
            other => (other, false),
        };
        let concat = base == op::APPEND || base == op::PREPEND;
        StoreKind {
            // memcached turns any set, add or replace carrying a CAS into a compare-and-swap:
            // the key must exist with that CAS, whatever the opcode says.
            base: if h.cas != 0 && !concat { op::SET } else { base },
            quiet,
            concat,
            plain_set: base == op::SET,
        }
    }
}

/// Whether the key's presence (and CAS, `existing_cas`) allows the store, counting CAS hits,
/// misses and bad values as memcached does.
fn check_existing(
    base: u8,
    cas: u64,
    existing_cas: Option<u64>,
    mut count: impl FnMut(Counter),
) -> Result<(), Status> {
    match (base, existing_cas) {
        (op::ADD, Some(_)) => return Err(Status::KeyExists),
        (op::REPLACE, None) => return Err(Status::KeyNotFound),
        (op::APPEND | op::PREPEND, None) => return Err(Status::NotStored),
        (op::SET, None) if cas != 0 => {
            count(Counter::CasMisses);
            return Err(Status::KeyNotFound);
        }
        _ => {}
    }
    if let Some(have) = existing_cas
        && cas != 0
    {
        if have != cas {
            count(Counter::CasBadval);
            return Err(Status::KeyExists);
        }
        count(Counter::CasHits);
    }
    Ok(())
}

fn store(
    node: &NodeShared,
    conn_stripe: usize,
    h: &Header,
    extras: &[u8],
    key: &[u8],
    value: &[u8],
    out: &mut Vec<u8>,
) {
    let StoreKind {
        base,
        quiet,
        concat,
        plain_set,
    } = StoreKind::of(h);
    node.prefix_stats.record(key, Event::Set);
    let store = &node.store;
    let counters = &store.counters;
    counters.incr(conn_stripe, Counter::CmdSet);
    let (flags, exptime) = if concat {
        (0, 0)
    } else {
        (
            be32(&extras[..4]),
            store.clock.expiry(i64::from(be32(&extras[4..]))),
        )
    };
    let mut g = store.lock(key);
    let stripe = g.stripe();
    let existing = g.find(key, false);
    let mut item = NewItem {
        flags,
        exptime,
        parts: [value, b""],
        cas: None,
        bits: 0,
        in_place: false,
    };
    let mut old_value = Vec::new();
    let outcome: Result<u64, Status> = (|| {
        // memcached allocates the new item (for append/prepend, the new part) before it looks
        // for the old one: a value too large on its own is "too large" whatever the key holds;
        // a plain SET also drops the old item, so no stale value survives.
        if node.limits().item_too_large(key.len(), value.len()) {
            if let (true, Some(slot)) = (plain_set, existing) {
                g.remove(slot);
            }
            return Err(Status::TooLarge);
        }
        // The item's CAS is read only when the request carries one (the common store does not).
        let existing_cas = existing.map(|slot| if h.cas != 0 { g.view(slot).cas } else { 0 });
        check_existing(base, h.cas, existing_cas, |c| counters.incr(stripe, c))?;
        if let (true, Some(slot)) = (concat, existing) {
            let v = g.view(slot);
            item.flags = v.flags;
            item.exptime = v.exptime;
            old_value = v.value.to_vec();
            item.parts = if base == op::APPEND {
                [&old_value, value]
            } else {
                [value, &old_value]
            };
        }
        match g.write(key, existing, item) {
            Ok((_, cas)) => Ok(cas),
            // memcached keeps the item when an append would grow it too large...
            Err(StoreError::TooLarge) if concat => Err(Status::NotStored),
            Err(StoreError::TooLarge) => {
                // ...and drops it when a set is too large, so no stale value survives.
                if let Some(slot) = existing {
                    g.remove(slot);
                }
                Err(Status::TooLarge)
            }
            Err(StoreError::NoMemory) => Err(Status::OutOfMemory),
        }
    })();
    drop(g);
    let logged = match outcome {
        Ok(_) => StoreOutcome::Stored,
        Err(Status::KeyExists) => StoreOutcome::Exists,
        Err(Status::KeyNotFound) => StoreOutcome::NotFound,
        Err(Status::TooLarge) => StoreOutcome::TooLarge,
        Err(Status::OutOfMemory) => StoreOutcome::NoMemory,
        Err(_) => StoreOutcome::NotStored,
    };
    log_store(
        node,
        key,
        logged,
        store_name(base, h.cas),
        exptime,
        value.len(),
    );
    match outcome {
        Ok(cas) => {
            if !quiet {
                respond(out, h.opcode, 0, h.opaque, cas, &[], &[], &[]);
            }
        }
        Err(s) => {
            if s == Status::TooLarge {
                counters.incr(conn_stripe, Counter::StoreTooLarge);
            }
            error(out, h.opcode, h.opaque, s)
        }
    }
}

/// The store command as `item_store` log lines name it (`base` as [`StoreKind`] maps it).
fn store_name(base: u8, cas: u64) -> &'static str {
    match base {
        op::ADD => "add",
        op::REPLACE => "replace",
        op::APPEND => "append",
        op::PREPEND => "prepend",
        _ if cas != 0 => "cas",
        _ => "set",
    }
}

fn delete(node: &NodeShared, h: &Header, key: &[u8], out: &mut Vec<u8>) {
    node.prefix_stats.record(key, Event::Delete);
    let store = &node.store;
    let mut g = store.lock(key);
    let stripe = g.stripe();
    match g.find(key, false) {
        None => {
            store.counters.incr(stripe, Counter::DeleteMisses);
            drop(g);
            error(out, h.opcode, h.opaque, Status::KeyNotFound);
        }
        Some(slot) if h.cas != 0 && g.view(slot).cas != h.cas => {
            drop(g);
            error(out, h.opcode, h.opaque, Status::KeyExists);
        }
        Some(slot) => {
            g.remove(slot);
            store.counters.incr(stripe, Counter::DeleteHits);
            if h.opcode == op::DELETE {
                respond(out, h.opcode, 0, h.opaque, 0, &[], &[], &[]);
            }
        }
    }
}

fn arith(node: &NodeShared, h: &Header, extras: &[u8], key: &[u8], out: &mut Vec<u8>) {
    let incr = matches!(h.opcode, op::INCREMENT | op::INCREMENTQ);
    let quiet = matches!(h.opcode, op::INCREMENTQ | op::DECREMENTQ);
    let delta = be64(&extras[..8]);
    let initial = be64(&extras[8..16]);
    let exp_raw = be32(&extras[16..20]);
    let store = &node.store;
    let counters = &store.counters;
    let mut g = store.lock(key);
    let stripe = g.stripe();
    let (hit, miss) = if incr {
        (Counter::IncrHits, Counter::IncrMisses)
    } else {
        (Counter::DecrHits, Counter::DecrMisses)
    };
    let result: Result<(u64, u64), Status> = match g.find(key, false) {
        None => {
            counters.incr(stripe, miss);
            if exp_raw == u32::MAX {
                Err(Status::KeyNotFound)
            } else {
                let bytes = initial.to_string();
                let item = NewItem {
                    flags: 0,
                    exptime: store.clock.expiry(i64::from(exp_raw)),
                    parts: [bytes.as_bytes(), b""],
                    cas: None,
                    bits: 0,
                    in_place: false,
                };
                g.write(key, None, item)
                    .map(|(_, cas)| (initial, cas))
                    .map_err(|_| Status::OutOfMemory)
            }
        }
        Some(slot) => {
            let v = g.view(slot);
            if super::not_a_counter(v.value) {
                Err(Status::NonNumeric)
            } else if h.cas != 0 && v.cas != h.cas {
                Err(Status::KeyExists)
            } else {
                match parse_counter(v.value) {
                    None => Err(Status::NonNumeric),
                    Some(cur) => {
                        let new = apply_delta(cur, delta, incr);
                        let bytes = counter_bytes(new, v.value.len());
                        let item = counter_item(&bytes, &v, None);
                        counters.incr(stripe, hit);
                        g.write(key, Some(slot), item)
                            .map(|(_, cas)| (new, cas))
                            .map_err(|_| Status::OutOfMemory)
                    }
                }
            }
        }
    };
    drop(g);
    match result {
        Ok((n, cas)) => {
            if !quiet {
                respond(out, h.opcode, 0, h.opaque, cas, &[], &[], &n.to_be_bytes());
            }
        }
        Err(s) => error(out, h.opcode, h.opaque, s),
    }
}

fn stat(node: &NodeShared, h: &Header, key: &[u8], out: &mut Vec<u8>) {
    let lines: StatLines = match key {
        b"" => general_stats(node),
        b"settings" => settings_stats(node),
        b"items" => class_stats(node, "items"),
        b"slabs" => class_stats(node, "slabs"),
        b"sizes" => class_stats(node, "sizes"),
        b"conns" => conns_stats(node, u64::MAX),
        b"reset" => {
            node.reset_stats();
            StatLines::default()
        }
        _ if key.starts_with(b"detail") => {
            detail(node, h, &key[b"detail".len()..], out);
            return;
        }
        _ => {
            error(out, h.opcode, h.opaque, Status::KeyNotFound);
            return;
        }
    };
    for (name, value) in &lines.lines {
        respond(
            out,
            h.opcode,
            0,
            h.opaque,
            0,
            &[],
            name.as_bytes(),
            value.as_bytes(),
        );
    }
    respond(out, h.opcode, 0, h.opaque, 0, &[], &[], &[]);
}

/// `detail on`, `detail off` and `detail dump` (`rest` follows "detail"): memcached matches
/// the word by its start, answers a dump as one `detailed` stat holding the whole text, and
/// an unknown word with "not found".
fn detail(node: &NodeShared, h: &Header, rest: &[u8], out: &mut Vec<u8>) {
    if rest.starts_with(b" dump") {
        let dump = node.prefix_stats.dump();
        respond(out, h.opcode, 0, h.opaque, 0, &[], b"detailed", &dump);
    } else if rest.starts_with(b" on") {
        node.prefix_stats.set_enabled(true);
    } else if rest.starts_with(b" off") {
        node.prefix_stats.set_enabled(false);
    } else {
        error(out, h.opcode, h.opaque, Status::KeyNotFound);
        return;
    }
    respond(out, h.opcode, 0, h.opaque, 0, &[], &[], &[]);
}
