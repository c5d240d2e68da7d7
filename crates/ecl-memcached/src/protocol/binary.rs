//! The binary protocol (24-byte headers, magic 0x80/0x81): get/getk/getq/getkq, set/add/
//! replace with CAS, append/prepend, delete, incr/decr with initial value, touch/gat/gatk,
//! flush, noop, version, stat, verbosity, quit, and every quiet variant.
//!
//! Place in the flow: `server` picks this module when the first byte of a connection is the
//! request magic 0x80 (memcached's auto-negotiation) and calls [`process`] after each read.
//! Quiet commands answer only on error (quiet gets only on hit); error bodies carry
//! memcached's texts ("Not found", "Data exists for key.", "Too large.", ...).

use bytes::{Buf, BytesMut};

use super::{KEY_MAX, Step, apply_delta, counter_bytes, parse_counter};
use crate::protocol::{class_stats, conns_stats, general_stats, settings_stats};
use crate::server::{ConnState, NodeShared};
use crate::stats::{Counter, StatLines};
use crate::store::{NewItem, StoreError};

/// First byte of every request.
pub(crate) const REQ_MAGIC: u8 = 0x80;
/// First byte of every response.
const RES_MAGIC: u8 = 0x81;
const HEADER: usize = 24;

mod op {
    pub const GET: u8 = 0x00;
    pub const SET: u8 = 0x01;
    pub const ADD: u8 = 0x02;
    pub const REPLACE: u8 = 0x03;
    pub const DELETE: u8 = 0x04;
    pub const INCREMENT: u8 = 0x05;
    pub const DECREMENT: u8 = 0x06;
    pub const QUIT: u8 = 0x07;
    pub const FLUSH: u8 = 0x08;
    pub const GETQ: u8 = 0x09;
    pub const NOOP: u8 = 0x0a;
    pub const VERSION: u8 = 0x0b;
    pub const GETK: u8 = 0x0c;
    pub const GETKQ: u8 = 0x0d;
    pub const APPEND: u8 = 0x0e;
    pub const PREPEND: u8 = 0x0f;
    pub const STAT: u8 = 0x10;
    pub const SETQ: u8 = 0x11;
    pub const ADDQ: u8 = 0x12;
    pub const REPLACEQ: u8 = 0x13;
    pub const DELETEQ: u8 = 0x14;
    pub const INCREMENTQ: u8 = 0x15;
    pub const DECREMENTQ: u8 = 0x16;
    pub const QUITQ: u8 = 0x17;
    pub const FLUSHQ: u8 = 0x18;
    pub const APPENDQ: u8 = 0x19;
    pub const PREPENDQ: u8 = 0x1a;
    pub const TOUCH: u8 = 0x1c;
    pub const GAT: u8 = 0x1d;
    pub const GATQ: u8 = 0x1e;
    pub const SASL_LIST_MECHS: u8 = 0x20;
    pub const SASL_AUTH: u8 = 0x21;
    pub const SASL_STEP: u8 = 0x22;
    pub const GATK: u8 = 0x23;
    pub const GATKQ: u8 = 0x24;
}

/// Response statuses with memcached's error texts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    KeyNotFound,
    KeyExists,
    TooLarge,
    Invalid,
    NotStored,
    NonNumeric,
    UnknownCommand,
    OutOfMemory,
}

impl Status {
    fn code(self) -> u16 {
        match self {
            Status::KeyNotFound => 0x0001,
            Status::KeyExists => 0x0002,
            Status::TooLarge => 0x0003,
            Status::Invalid => 0x0004,
            Status::NotStored => 0x0005,
            Status::NonNumeric => 0x0006,
            Status::UnknownCommand => 0x0081,
            Status::OutOfMemory => 0x0082,
        }
    }
    fn text(self) -> &'static [u8] {
        match self {
            Status::KeyNotFound => b"Not found",
            Status::KeyExists => b"Data exists for key.",
            Status::TooLarge => b"Too large.",
            Status::Invalid => b"Invalid arguments",
            Status::NotStored => b"Not stored.",
            Status::NonNumeric => b"Non-numeric server-side value for incr or decr",
            Status::UnknownCommand => b"Unknown command",
            Status::OutOfMemory => b"Out of memory",
        }
    }
}

/// A parsed request header.
struct Header {
    opcode: u8,
    key_len: usize,
    extras_len: usize,
    body_len: usize,
    opaque: u32,
    cas: u64,
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}
fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}
fn be64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

/// Appends one response packet.
#[allow(clippy::too_many_arguments)]
fn respond(
    out: &mut Vec<u8>,
    opcode: u8,
    status: u16,
    opaque: u32,
    cas: u64,
    extras: &[u8],
    key: &[u8],
    value: &[u8],
) {
    out.push(RES_MAGIC);
    out.push(opcode);
    out.extend_from_slice(&(key.len() as u16).to_be_bytes());
    out.push(extras.len() as u8);
    out.push(0);
    out.extend_from_slice(&status.to_be_bytes());
    out.extend_from_slice(&((extras.len() + key.len() + value.len()) as u32).to_be_bytes());
    out.extend_from_slice(&opaque.to_be_bytes());
    out.extend_from_slice(&cas.to_be_bytes());
    out.extend_from_slice(extras);
    out.extend_from_slice(key);
    out.extend_from_slice(value);
}

fn error(out: &mut Vec<u8>, h: &Header, status: Status) {
    respond(
        out,
        h.opcode,
        status.code(),
        h.opaque,
        0,
        &[],
        &[],
        status.text(),
    );
}

/// Consumes complete binary requests from `buf`.
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
        if buf.len() < HEADER {
            return Step::More;
        }
        if buf[0] != REQ_MAGIC {
            // memcached drops a binary connection that stops sending request magic.
            return Step::Close;
        }
        let h = Header {
            opcode: buf[1],
            key_len: be16(&buf[2..4]) as usize,
            extras_len: buf[4] as usize,
            body_len: be32(&buf[8..12]) as usize,
            opaque: be32(&buf[12..16]),
            cas: be64(&buf[16..24]),
        };
        if h.key_len + h.extras_len > h.body_len {
            error(out, &h, Status::Invalid);
            return Step::Close;
        }
        let max_item = node
            .store
            .settings
            .max_item_size
            .load(std::sync::atomic::Ordering::Relaxed);
        if h.body_len > max_item + 1024 {
            let is_store = matches!(
                h.opcode,
                op::SET
                    | op::ADD
                    | op::REPLACE
                    | op::APPEND
                    | op::PREPEND
                    | op::SETQ
                    | op::ADDQ
                    | op::REPLACEQ
                    | op::APPENDQ
                    | op::PREPENDQ
            );
            error(
                out,
                &h,
                if is_store {
                    Status::TooLarge
                } else {
                    Status::Invalid
                },
            );
            if is_store {
                node.store.counters.incr(st.stripe, Counter::StoreTooLarge);
            }
            buf.advance(HEADER);
            st.swallow = h.body_len;
            continue;
        }
        let total = HEADER + h.body_len;
        if buf.len() < total {
            buf.reserve(total - buf.len());
            return Step::More;
        }
        let body = &buf[HEADER..total];
        let extras = &body[..h.extras_len];
        let key = &body[h.extras_len..h.extras_len + h.key_len];
        let value = &body[h.extras_len + h.key_len..];
        let step = dispatch(node, st, &h, extras, key, value, out);
        buf.advance(total);
        if step == Step::Close {
            return Step::Close;
        }
    }
}

/// Whether a request has the extras, key and value its opcode requires.
fn shape_ok(h: &Header, extras: &[u8], key: &[u8], value: &[u8]) -> bool {
    let (e, k, v) = (extras.len(), key.len(), value.len());
    let keyed = k > 0 && k <= KEY_MAX;
    match h.opcode {
        op::GET | op::GETQ | op::GETK | op::GETKQ => e == 0 && v == 0 && keyed,
        op::TOUCH | op::GAT | op::GATQ | op::GATK | op::GATKQ => e == 4 && v == 0 && keyed,
        op::SET | op::ADD | op::REPLACE | op::SETQ | op::ADDQ | op::REPLACEQ => e == 8 && keyed,
        op::APPEND | op::PREPEND | op::APPENDQ | op::PREPENDQ => e == 0 && keyed,
        op::DELETE | op::DELETEQ => e == 0 && v == 0 && keyed,
        op::INCREMENT | op::DECREMENT | op::INCREMENTQ | op::DECREMENTQ => {
            e == 20 && v == 0 && keyed
        }
        op::QUIT | op::QUITQ | op::NOOP | op::VERSION => e == 0 && k == 0 && v == 0,
        op::FLUSH | op::FLUSHQ => (e == 0 || e == 4) && k == 0 && v == 0,
        // memcached reads only the key of a stat request (a value desynchronises the stream).
        op::STAT => e == 0 && k <= KEY_MAX,
        // SASL is not enabled, but the packets are still checked for shape first.
        op::SASL_LIST_MECHS => e == 0 && k == 0 && v == 0,
        op::SASL_AUTH | op::SASL_STEP => e == 0 && k > 0,
        _ => true,
    }
}

fn dispatch(
    node: &NodeShared,
    st: &mut ConnState,
    h: &Header,
    extras: &[u8],
    key: &[u8],
    value: &[u8],
    out: &mut Vec<u8>,
) -> Step {
    if !shape_ok(h, extras, key, value) {
        // memcached answers a malformed packet with EINVAL and drops the connection.
        error(out, h, Status::Invalid);
        return Step::Close;
    }
    match h.opcode {
        op::GET
        | op::GETQ
        | op::GETK
        | op::GETKQ
        | op::GAT
        | op::GATQ
        | op::GATK
        | op::GATKQ
        | op::TOUCH => get(node, st, h, extras, key, out),
        op::SET
        | op::ADD
        | op::REPLACE
        | op::SETQ
        | op::ADDQ
        | op::REPLACEQ
        | op::APPEND
        | op::PREPEND
        | op::APPENDQ
        | op::PREPENDQ => store(node, st, h, extras, key, value, out),
        op::DELETE | op::DELETEQ => delete(node, h, extras, key, value, out),
        op::INCREMENT | op::DECREMENT | op::INCREMENTQ | op::DECREMENTQ => {
            arith(node, h, extras, key, value, out)
        }
        op::QUIT => {
            respond(out, h.opcode, 0, h.opaque, 0, &[], &[], &[]);
            return Step::Close;
        }
        op::QUITQ => return Step::Close,
        op::FLUSH | op::FLUSHQ => {
            if node
                .disable_flush
                .load(std::sync::atomic::Ordering::Relaxed)
            {
                error(out, h, Status::Invalid);
            } else {
                let delay = if extras.len() == 4 {
                    be32(extras) as i64
                } else {
                    0
                };
                node.store.counters.incr(st.stripe, Counter::CmdFlush);
                if delay > 0 {
                    node.store.flush_at(node.store.clock.expiry(delay));
                } else {
                    node.store.flush_now();
                }
                if h.opcode == op::FLUSH {
                    respond(out, h.opcode, 0, h.opaque, 0, &[], &[], &[]);
                }
            }
        }
        op::NOOP => respond(out, h.opcode, 0, h.opaque, 0, &[], &[], &[]),
        op::VERSION => respond(
            out,
            h.opcode,
            0,
            h.opaque,
            0,
            &[],
            &[],
            node.version().as_bytes(),
        ),
        op::STAT => {
            stat(node, h, key, out);
            if !value.is_empty() {
                // memcached would read the value as the next header: the stream is lost.
                return Step::Close;
            }
        }
        _ => error(out, h, Status::UnknownCommand),
    }
    Step::More
}

fn get(
    node: &NodeShared,
    st: &ConnState,
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
    let stripe = g.stripe();
    if touching {
        counters.incr(st.stripe, Counter::CmdTouch);
    }
    if h.opcode != op::TOUCH {
        counters.incr(st.stripe, Counter::CmdGet);
    }
    match g.find(key, true) {
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
                error(out, h, Status::KeyNotFound);
            }
        }
    }
}

fn store(
    node: &NodeShared,
    st: &ConnState,
    h: &Header,
    extras: &[u8],
    key: &[u8],
    value: &[u8],
    out: &mut Vec<u8>,
) {
    let (base, quiet) = match h.opcode {
        op::SETQ => (op::SET, true),
        op::ADDQ => (op::ADD, true),
        op::REPLACEQ => (op::REPLACE, true),
        op::APPENDQ => (op::APPEND, true),
        op::PREPENDQ => (op::PREPEND, true),
        other => (other, false),
    };
    let concat = base == op::APPEND || base == op::PREPEND;
    let store = &node.store;
    let counters = &store.counters;
    counters.incr(st.stripe, Counter::CmdSet);
    let (flags, exptime) = if concat {
        (0, 0)
    } else {
        (
            be32(&extras[..4]),
            store.clock.expiry(be32(&extras[4..]) as i32 as i64),
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
    };
    let mut old_value = Vec::new();
    let outcome: Result<u64, Status> = (|| {
        match (base, existing) {
            (op::ADD, Some(_)) => return Err(Status::KeyExists),
            (op::REPLACE, None) => return Err(Status::KeyNotFound),
            (op::APPEND | op::PREPEND, None) => return Err(Status::NotStored),
            (op::SET, None) if h.cas != 0 => {
                counters.incr(stripe, Counter::CasMisses);
                return Err(Status::KeyNotFound);
            }
            _ => {}
        }
        if let Some(slot) = existing
            && h.cas != 0
        {
            if g.view(slot).cas != h.cas {
                counters.incr(stripe, Counter::CasBadval);
                return Err(Status::KeyExists);
            }
            counters.incr(stripe, Counter::CasHits);
        }
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
    match outcome {
        Ok(cas) => {
            if !quiet {
                respond(out, h.opcode, 0, h.opaque, cas, &[], &[], &[]);
            }
        }
        Err(s) => {
            if s == Status::TooLarge {
                counters.incr(st.stripe, Counter::StoreTooLarge);
            }
            error(out, h, s)
        }
    }
}

fn delete(
    node: &NodeShared,
    h: &Header,
    extras: &[u8],
    key: &[u8],
    value: &[u8],
    out: &mut Vec<u8>,
) {
    let _ = (extras, value);
    let store = &node.store;
    let mut g = store.lock(key);
    let stripe = g.stripe();
    match g.find(key, false) {
        None => {
            store.counters.incr(stripe, Counter::DeleteMisses);
            drop(g);
            error(out, h, Status::KeyNotFound);
        }
        Some(slot) if h.cas != 0 && g.view(slot).cas != h.cas => {
            drop(g);
            error(out, h, Status::KeyExists);
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

fn arith(
    node: &NodeShared,
    h: &Header,
    extras: &[u8],
    key: &[u8],
    value: &[u8],
    out: &mut Vec<u8>,
) {
    let _ = value;
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
                    exptime: store.clock.expiry(exp_raw as i32 as i64),
                    parts: [bytes.as_bytes(), b""],
                    cas: None,
                    bits: 0,
                };
                g.write(key, None, item)
                    .map(|(_, cas)| (initial, cas))
                    .map_err(|_| Status::OutOfMemory)
            }
        }
        Some(slot) => {
            let v = g.view(slot);
            if h.cas != 0 && v.cas != h.cas {
                Err(Status::KeyExists)
            } else {
                match parse_counter(v.value) {
                    None => Err(Status::NonNumeric),
                    Some(cur) => {
                        let new = apply_delta(cur, delta, incr);
                        let bytes = counter_bytes(new, v.value.len());
                        let item = NewItem {
                            flags: v.flags,
                            exptime: v.exptime,
                            parts: [&bytes, b""],
                            cas: None,
                            bits: 0,
                        };
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
        Err(s) => error(out, h, s),
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
            node.store.counters.reset();
            StatLines::default()
        }
        _ => {
            error(out, h, Status::KeyNotFound);
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
