//! Parser and reply encoder of the binary protocol (24-byte headers, magic 0x80/0x81):
//! get/getk/getq/getkq, set/add/replace with CAS, append/prepend, delete, incr/decr with
//! initial value, touch/gat/gatk, flush, noop, version, stat, verbosity, quit, and every
//! quiet variant.
//!
//! Place in the flow: `conn` picks this module when the first byte of a connection is the
//! request magic 0x80 (memcached's auto-negotiation) and calls [`parse`] on its buffer; the
//! [`BinaryRequest`] (header plus extras, key and value slices, shape already checked) is run
//! by `execute::binary`, which answers through [`respond`] and [`error`]. Quiet commands
//! answer only on error (quiet gets only on hit); error bodies carry memcached's texts
//! ("Not found", "Data exists for key.", "Too large.", ...).

use super::{KEY_MAX, Limits, Parsed, ProtocolError, Request};

/// First byte of every request.
pub const REQ_MAGIC: u8 = 0x80;
/// First byte of every response.
const RES_MAGIC: u8 = 0x81;
/// Length of a request or response header.
pub const HEADER: usize = 24;

pub mod op {
    //! Opcodes of the binary protocol.
    #![allow(missing_docs)]
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
pub enum Status {
    /// Key not found.
    KeyNotFound,
    /// Key exists (add, CAS mismatch).
    KeyExists,
    /// Value too large.
    TooLarge,
    /// Invalid arguments.
    Invalid,
    /// Item not stored (append/prepend miss).
    NotStored,
    /// incr/decr on a non-numeric value.
    NonNumeric,
    /// Unknown command.
    UnknownCommand,
    /// Out of memory.
    OutOfMemory,
}

impl Status {
    /// The status field of the response header.
    pub fn code(self) -> u16 {
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
    /// memcached's error body for the status.
    pub fn text(self) -> &'static [u8] {
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

/// A request header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Opcode (see [`op`]).
    pub opcode: u8,
    /// Key length.
    pub key_len: usize,
    /// Extras length.
    pub extras_len: usize,
    /// Total body length (extras, key and value).
    pub body_len: usize,
    /// Opaque, echoed in the response.
    pub opaque: u32,
    /// CAS (0 = none).
    pub cas: u64,
}

/// A binary request.
#[derive(Debug)]
pub enum BinaryRequest<'a> {
    /// A complete packet whose extras, key and value have the shape its opcode requires.
    Packet {
        /// The header.
        header: Header,
        /// Extras.
        extras: &'a [u8],
        /// Key.
        key: &'a [u8],
        /// Value.
        value: &'a [u8],
    },
    /// A body over the item size limit: answered at once and its body discarded.
    BodyTooLarge {
        /// The header.
        header: Header,
        /// A storage opcode (answered "Too large."; an unknown opcode's is "Unknown command").
        is_store: bool,
        /// The key of a storage opcode (memcached reads extras and key before it swallows the
        /// value, and a SET drops the old item); empty otherwise.
        key: &'a [u8],
    },
}

/// Big-endian u16 of the first 2 bytes (callers pass slices of checked length).
pub(crate) fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}
/// Big-endian u32 of the first 4 bytes.
pub(crate) fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}
/// Big-endian u64 of the first 8 bytes.
pub(crate) fn be64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

/// Parses the first binary packet in `buf`.
pub fn parse<'a>(buf: &'a [u8], limits: &Limits) -> Result<Parsed<Request<'a>>, ProtocolError> {
    if buf.len() < HEADER {
        return Ok(Parsed::NeedMore { want: 0 });
    }
    if buf[0] != REQ_MAGIC {
        // memcached drops a binary connection that stops sending request magic.
        return Err(ProtocolError::BadMagic);
    }
    let header = Header {
        opcode: buf[1],
        key_len: be16(&buf[2..4]) as usize,
        extras_len: buf[4] as usize,
        body_len: be32(&buf[8..12]) as usize,
        opaque: be32(&buf[12..16]),
        cas: be64(&buf[16..24]),
    };
    let invalid = ProtocolError::InvalidPacket {
        opcode: header.opcode,
        opaque: header.opaque,
    };
    if header.key_len + header.extras_len > header.body_len {
        return Err(invalid);
    }
    let value_len = header.body_len - header.key_len - header.extras_len;
    if !shape_ok(header.opcode, header.extras_len, header.key_len, value_len) {
        // memcached answers a malformed packet with EINVAL and drops the connection as soon
        // as the header shows it: a claimed body is never waited for nor buffered.
        return Err(invalid);
    }
    // memcached reads only the key of a stat request: whatever the header claims beyond it
    // is left in the stream (and usually breaks the framing of the next packet).
    let body_len = if header.opcode == op::STAT {
        header.key_len
    } else {
        header.body_len
    };
    if body_len > limits.max_item_size.saturating_add(1024) {
        let is_store = is_store(header.opcode);
        let head = if is_store {
            HEADER + header.extras_len + header.key_len
        } else {
            HEADER
        };
        if buf.len() < head {
            return Ok(Parsed::NeedMore { want: head });
        }
        let key: &[u8] = if is_store {
            &buf[HEADER + header.extras_len..head]
        } else {
            &[]
        };
        return Ok(Parsed::Done {
            request: Request::Binary(BinaryRequest::BodyTooLarge {
                header,
                is_store,
                key,
            }),
            consumed: head,
            discard: header.body_len - (head - HEADER),
        });
    }
    let total = HEADER + body_len;
    if buf.len() < total {
        return Ok(Parsed::NeedMore { want: total });
    }
    let body = &buf[HEADER..total];
    let extras = &body[..header.extras_len];
    let key = &body[header.extras_len..header.extras_len + header.key_len];
    let value = &body[header.extras_len + header.key_len..];
    Ok(Parsed::Done {
        request: Request::Binary(BinaryRequest::Packet {
            header,
            extras,
            key,
            value,
        }),
        consumed: total,
        discard: unknown_discard(&header),
    })
}

/// Bytes memcached 1.6.18 drops after the body of an opcode it does not know: it reads the
/// extras and key, answers "Unknown command", then discards the whole body length again, so
/// the extras+key count of bytes that follow the packet are lost (usually the start of the
/// next header, which stalls or breaks the stream; observed against memcached 1.6.18).
fn unknown_discard(h: &Header) -> usize {
    if h.opcode == 0x1b || h.opcode > op::GATKQ {
        h.extras_len + h.key_len
    } else {
        0
    }
}

/// Whether `opcode` stores an item (its oversized body is "Too large.", not invalid).
fn is_store(opcode: u8) -> bool {
    matches!(
        opcode,
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
    )
}

/// Whether a request has the extras, key and value its opcode requires.
fn shape_ok(opcode: u8, e: usize, k: usize, v: usize) -> bool {
    let keyed = k > 0 && k <= KEY_MAX;
    match opcode {
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

/// Appends one response packet.
#[allow(clippy::too_many_arguments)]
pub(crate) fn respond(
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

/// Appends an error response with memcached's text for `status`.
pub(crate) fn error(out: &mut Vec<u8>, opcode: u8, opaque: u32, status: Status) {
    respond(
        out,
        opcode,
        status.code(),
        opaque,
        0,
        &[],
        &[],
        status.text(),
    );
}

#[cfg(test)]
mod tests;
