//! Parser of the meta protocol: `mg`, `ms`, `md`, `ma`, `mn`, `me` with their flags, as
//! memcached 1.6 documents them (base64 keys, CAS compare and explicit CAS, client flags,
//! hit/last-access, key echo, opaque, quiet mode, size, TTL, value, vivify on miss, recache /
//! win / stale handling, invalidation, arithmetic modes and initial values).
//!
//! Place in the flow: `protocol::text::parse` recognises a meta command by its name and calls
//! [`parse_line`] with the whole buffer (an `ms` has a data block after its line); the
//! resulting [`MetaRequest`] is run by `execute::meta`. Also the pure encoders of the flags
//! every meta reply echoes.
//!
//! Error texts differ by command exactly as memcached's do (`mg`/`ms`: "invalid flag" /
//! "duplicate flag"; `md`/`ma`: "invalid or duplicate flag"). Flags are checked in request
//! order: the first unknown or repeated flag decides the error at once, a bad flag value only
//! when no such flag follows (as memcached's flag pre-parse does).

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::{KEY_MAX, Limits, Parsed, Request, parse_flags, parse_i64, parse_time, parse_u64};
use crate::wire;

/// Longest opaque token memcached accepts.
const OPAQUE_MAX: usize = 32;

/// A meta request whose key was read (every one of these counts in `cmd_meta`).
#[derive(Debug)]
pub enum MetaRequest<'a> {
    /// A parse error answered with `msg`.
    Error(&'static [u8]),
    /// `mg`.
    Get(MetaGet<'a>),
    /// `ms` with its data block.
    Set(MetaSet<'a>),
    /// `ms` refused once its line was read (counted as a set).
    SetRefused {
        /// The decoded key.
        key: Cow<'a, [u8]>,
        /// Why.
        why: super::Refusal,
    },
    /// `md`.
    Delete(MetaDelete<'a>),
    /// `ma`.
    Arith(MetaArith<'a>),
    /// `me`: item metadata for debugging.
    Debug {
        /// The key as sent.
        raw_key: &'a [u8],
        /// The decoded key.
        key: Cow<'a, [u8]>,
    },
}

/// Flags of one meta command, in request order, with their tokens.
pub struct Flags<'a> {
    /// Flag letters in request order.
    order: Vec<u8>,
    /// Token of each flag, in the same order.
    tokens: Vec<&'a [u8]>,
    /// Bit `c` set when flag letter `c` (ASCII) was given.
    present: u128,
}

impl std::fmt::Debug for Flags<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(
                self.order
                    .iter()
                    .zip(&self.tokens)
                    .map(|(&c, t)| (c as char, t)),
            )
            .finish()
    }
}

impl<'a> Flags<'a> {
    /// Whether flag `f` was given.
    pub fn has(&self, f: u8) -> bool {
        f < 128 && self.present & (1u128 << f) != 0
    }
    /// The token after flag `f`, if given.
    pub fn token(&self, f: u8) -> Option<&'a [u8]> {
        if !self.has(f) {
            return None;
        }
        let i = self.order.iter().position(|&c| c == f)?;
        self.tokens.get(i).copied()
    }
    /// Flag letters in request order.
    pub fn order(&self) -> &[u8] {
        &self.order
    }
}

/// `mg <key> <flags>*`.
#[derive(Debug)]
pub struct MetaGet<'a> {
    /// The key as sent (echoed by `k`).
    pub raw_key: &'a [u8],
    /// The decoded key.
    pub key: Cow<'a, [u8]>,
    /// The flags.
    pub flags: Flags<'a>,
    /// `N`: vivify on miss with this TTL.
    pub vivify: Option<i64>,
    /// `R`: win a recache when the TTL is below this.
    pub recache: Option<i64>,
    /// `T`: new TTL.
    pub ttl: Option<i64>,
    /// `E`: explicit CAS for a vivified item.
    pub new_cas: Option<u64>,
}

/// `ms <key> <datalen> <flags>*` and its data block.
#[derive(Debug)]
pub struct MetaSet<'a> {
    /// The key as sent (echoed by `k`).
    pub raw_key: &'a [u8],
    /// The decoded key.
    pub key: Cow<'a, [u8]>,
    /// The flags.
    pub flags: Flags<'a>,
    /// `F`: client flags.
    pub client_flags: Option<u32>,
    /// `T`: TTL.
    pub ttl: Option<i64>,
    /// `C`: compare CAS.
    pub compare: Option<u64>,
    /// `E`: explicit new CAS.
    pub new_cas: Option<u64>,
    /// `N`: vivify on append/prepend miss with this TTL.
    pub vivify: Option<i64>,
    /// `M`: mode, upper case (`S` set, `E` add, `A` append, `P` prepend, `R` replace).
    pub mode: u8,
    /// The data block without CRLF.
    pub data: &'a [u8],
}

/// `md <key> <flags>*`.
#[derive(Debug)]
pub struct MetaDelete<'a> {
    /// The key as sent (echoed by `k`).
    pub raw_key: &'a [u8],
    /// The decoded key.
    pub key: Cow<'a, [u8]>,
    /// The flags.
    pub flags: Flags<'a>,
    /// `C`: compare CAS.
    pub compare: Option<u64>,
    /// `E`: explicit new CAS.
    pub new_cas: Option<u64>,
    /// `T`: TTL (with `I`).
    pub ttl: Option<i64>,
}

/// `ma <key> <flags>*`.
#[derive(Debug)]
pub struct MetaArith<'a> {
    /// The key as sent (echoed by `k`).
    pub raw_key: &'a [u8],
    /// The decoded key.
    pub key: Cow<'a, [u8]>,
    /// The flags.
    pub flags: Flags<'a>,
    /// `C`: compare CAS.
    pub compare: Option<u64>,
    /// `E`: explicit new CAS.
    pub new_cas: Option<u64>,
    /// `N`: vivify on miss with this TTL.
    pub vivify: Option<i64>,
    /// `J`: initial value on vivify.
    pub initial: u64,
    /// `D`: delta.
    pub delta: u64,
    /// `T`: TTL.
    pub ttl: Option<i64>,
    /// Increment (else decrement).
    pub incr: bool,
}

/// Which meta command, for flag validation and error texts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cmd {
    Get,
    Set,
    Delete,
    Arith,
}

impl Cmd {
    /// Flags the command accepts. memcached parses one flag set for every meta command and
    /// each command ignores the ones it has no use for; `E` (explicit CAS) and `x` (md: keep
    /// the item, drop its value) are the newer additions of the 1.6 documentation.
    fn allowed(self) -> &'static [u8] {
        match self {
            Cmd::Get | Cmd::Set | Cmd::Arith => b"bcfhklOqstuvCDEFIJLMNPRT",
            Cmd::Delete => b"bcfhklOqstuvCDEFIJLMNPRTx",
        }
    }
    fn invalid(self) -> &'static [u8] {
        match self {
            Cmd::Get | Cmd::Set => wire::INVALID_FLAG,
            _ => wire::INVALID_OR_DUPLICATE_FLAG,
        }
    }
    fn duplicate(self) -> &'static [u8] {
        match self {
            Cmd::Get | Cmd::Set => wire::DUPLICATE_FLAG,
            _ => wire::INVALID_OR_DUPLICATE_FLAG,
        }
    }
    /// Error for a flag whose token does not parse: md and ma report every such error as a
    /// flag error; mg and ms name the problem.
    fn bad_token(self, flag: u8) -> &'static [u8] {
        if matches!(self, Cmd::Delete | Cmd::Arith) {
            return wire::INVALID_OR_DUPLICATE_FLAG;
        }
        match flag {
            b'D' => wire::INVALID_DELTA_VALUE,
            b'J' => wire::INVALID_INITIAL_VALUE,
            b'F' => wire::BAD_FORMAT,
            b'M' => wire::M_TOKEN_LENGTH,
            _ => wire::BAD_TOKEN,
        }
    }
}

/// Whether the token of `flag` is well formed (checked while parsing, as memcached does,
/// so the first bad flag in request order decides the error).
fn token_ok(flag: u8, tok: &[u8]) -> bool {
    match flag {
        b'C' | b'E' | b'D' | b'J' => parse_u64(tok).is_some(),
        b'N' | b'R' | b'T' => parse_time(tok).is_some(),
        b'F' => parse_flags(tok).is_some(),
        b'M' => tok.len() == 1,
        _ => true,
    }
}

fn parse_flags_list<'a>(
    cmd: Cmd,
    raw_key: &[u8],
    toks: impl Iterator<Item = &'a [u8]>,
) -> Result<Flags<'a>, &'static [u8]> {
    let mut f = Flags {
        order: Vec::new(),
        tokens: Vec::new(),
        present: 0,
    };
    let mut bad_value = None;
    for tok in toks {
        let Some((&c, rest)) = tok.split_first() else {
            continue;
        };
        // Every allowed letter is ASCII, so `present` can hold them all.
        if !cmd.allowed().contains(&c) {
            return Err(cmd.invalid());
        }
        if f.has(c) {
            return Err(cmd.duplicate());
        }
        if !token_ok(c, rest) {
            // memcached notes a bad value and reads on: a later invalid or repeated flag
            // wins, else the last bad value's text (F sets none of its own).
            let e = cmd.bad_token(c);
            if c == b'F' {
                bad_value.get_or_insert(e);
            } else {
                bad_value = Some(e);
            }
        }
        // memcached decodes a base64 key within the same pass: a failure is noted like a bad
        // value.
        if c == b'b' && B64.decode(raw_key).is_err() {
            bad_value = Some(bad_key(cmd, wire::KEY_DECODE));
        }
        f.present |= 1u128 << c;
        f.order.push(c);
        f.tokens.push(rest);
    }
    if let Some(e) = bad_value {
        return Err(e);
    }
    if f.token(b'O').is_some_and(|o| o.len() > OPAQUE_MAX) {
        return Err(wire::OPAQUE_TOO_LONG);
    }
    Ok(f)
}

/// A numeric flag token, or the command's error text if it does not parse.
fn num<T>(
    cmd: Cmd,
    f: &Flags<'_>,
    flag: u8,
    parse: impl Fn(&[u8]) -> Option<T>,
) -> Result<Option<T>, &'static [u8]> {
    match f.token(flag) {
        None => Ok(None),
        Some(t) => parse(t).map(Some).ok_or(cmd.bad_token(flag)),
    }
}

/// Decodes the key (base64 with `b`) and checks its length.
fn decode_key(raw: &[u8], b64: bool) -> Result<Cow<'_, [u8]>, &'static [u8]> {
    if raw.len() > KEY_MAX {
        return Err(wire::BAD_FORMAT);
    }
    let key = if b64 {
        Cow::Owned(B64.decode(raw).map_err(|_| wire::KEY_DECODE)?)
    } else {
        Cow::Borrowed(raw)
    };
    if key.is_empty() || key.len() > KEY_MAX {
        return Err(wire::BAD_FORMAT);
    }
    Ok(key)
}

/// The error an undecodable base64 key gets from `cmd` (md/ma fold it into their flag error).
fn bad_key(cmd: Cmd, err: &'static [u8]) -> &'static [u8] {
    if err == wire::KEY_DECODE && matches!(cmd, Cmd::Delete | Cmd::Arith) {
        wire::INVALID_OR_DUPLICATE_FLAG
    } else {
        err
    }
}

/// Parses the meta command whose line is `buf[..line_end]`.
pub fn parse_line<'a>(
    buf: &'a [u8],
    line_end: usize,
    line_len: usize,
    limits: &Limits,
) -> Parsed<Request<'a>> {
    let line = &buf[..line_end];
    let mut toks = super::scan::Words::new(line);
    let cmd = toks.next().unwrap_or_default();
    let done = |request| Parsed::Done {
        request,
        consumed: line_len,
        discard: 0,
    };
    if cmd == b"mn" {
        return done(Request::reply(wire::MN));
    }
    let Some(raw_key) = toks.next() else {
        // memcached counts tokens before it dispatches mg/ms/md/ma (too few: ERROR); me
        // checks its own key.
        let msg = if cmd == b"me" {
            wire::BAD_FORMAT
        } else {
            wire::ERROR
        };
        return done(Request::reply(msg));
    };
    // memcached checks the key's length before it reads any flag.
    if raw_key.len() > KEY_MAX && cmd != b"ms" {
        return done(Request::Meta(MetaRequest::Error(wire::BAD_FORMAT)));
    }
    let meta = match cmd {
        b"mg" => get(raw_key, toks),
        b"ms" => return set(buf, raw_key, toks, line_len, limits),
        b"md" => delete(raw_key, toks),
        b"ma" => arith(raw_key, toks),
        _ => match decode_key(raw_key, toks.next().is_some_and(|t| t == b"b")) {
            Ok(key) => Ok(MetaRequest::Debug { raw_key, key }),
            Err(_) => Err(wire::BAD_FORMAT),
        },
    };
    done(Request::Meta(meta.unwrap_or_else(MetaRequest::Error)))
}

fn get<'a>(
    raw_key: &'a [u8],
    toks: impl Iterator<Item = &'a [u8]>,
) -> Result<MetaRequest<'a>, &'static [u8]> {
    let flags = parse_flags_list(Cmd::Get, raw_key, toks)?;
    let vivify = num(Cmd::Get, &flags, b'N', parse_time)?;
    let recache = num(Cmd::Get, &flags, b'R', parse_time)?;
    let ttl = num(Cmd::Get, &flags, b'T', parse_time)?;
    let new_cas = num(Cmd::Get, &flags, b'E', parse_u64)?;
    let key = decode_key(raw_key, flags.has(b'b'))?;
    Ok(MetaRequest::Get(MetaGet {
        raw_key,
        key,
        flags,
        vivify,
        recache,
        ttl,
        new_cas,
    }))
}

/// Everything of an `ms` line after its data length.
fn set_flags<'a>(
    raw_key: &'a [u8],
    toks: impl Iterator<Item = &'a [u8]>,
) -> Result<MetaSet<'a>, &'static [u8]> {
    let flags = parse_flags_list(Cmd::Set, raw_key, toks)?;
    let key = decode_key(raw_key, flags.has(b'b'))?;
    let client_flags = num(Cmd::Set, &flags, b'F', parse_flags)?;
    let ttl = num(Cmd::Set, &flags, b'T', parse_time)?;
    let compare = num(Cmd::Set, &flags, b'C', parse_u64)?;
    let new_cas = num(Cmd::Set, &flags, b'E', parse_u64)?;
    let vivify = num(Cmd::Set, &flags, b'N', parse_time)?;
    let mode = match flags.token(b'M') {
        None => b'S',
        // memcached 1.6.18 takes the upper-case letters only.
        Some([m]) if b"EAPRS".contains(m) => *m,
        Some(_) => return Err(wire::INVALID_MS_MODE),
    };
    Ok(MetaSet {
        raw_key,
        key,
        flags,
        client_flags,
        ttl,
        compare,
        new_cas,
        vivify,
        mode,
        data: &[],
    })
}

/// `ms`: the line, then the data block. A flag error still discards the data block.
fn set<'a>(
    buf: &'a [u8],
    raw_key: &'a [u8],
    mut toks: impl Iterator<Item = &'a [u8]>,
    line_len: usize,
    limits: &Limits,
) -> Parsed<Request<'a>> {
    let done = |meta, consumed, discard| Parsed::Done {
        request: Request::Meta(meta),
        consumed,
        discard,
    };
    if raw_key.len() > KEY_MAX {
        return done(MetaRequest::Error(wire::BAD_FORMAT), line_len, 0);
    }
    let Some(vlen) = toks
        .next()
        .and_then(parse_i64)
        .filter(|v| *v >= 0 && *v <= i32::MAX as i64 - 2)
    else {
        return done(MetaRequest::Error(wire::BAD_FORMAT), line_len, 0);
    };
    let vlen = vlen as usize;
    let mut set = match set_flags(raw_key, toks) {
        Ok(set) => set,
        Err(e) => return done(MetaRequest::Error(e), line_len, vlen + 2),
    };
    if limits.item_too_large(set.key.len(), vlen) {
        let why = super::Refusal::TooLarge;
        return done(
            MetaRequest::SetRefused { key: set.key, why },
            line_len,
            vlen + 2,
        );
    }
    let total = line_len + vlen + 2;
    if buf.len() < total {
        return Parsed::NeedMore { want: total };
    }
    if &buf[total - 2..total] != b"\r\n" {
        let why = super::Refusal::BadChunk;
        return done(MetaRequest::SetRefused { key: set.key, why }, total, 0);
    }
    set.data = &buf[line_len..line_len + vlen];
    done(MetaRequest::Set(set), total, 0)
}

fn delete<'a>(
    raw_key: &'a [u8],
    toks: impl Iterator<Item = &'a [u8]>,
) -> Result<MetaRequest<'a>, &'static [u8]> {
    let cmd = Cmd::Delete;
    let flags = parse_flags_list(cmd, raw_key, toks)?;
    let compare = num(cmd, &flags, b'C', parse_u64)?;
    let new_cas = num(cmd, &flags, b'E', parse_u64)?;
    let ttl = num(cmd, &flags, b'T', parse_time)?;
    // memcached reports an undecodable key of md/ma as a flag error.
    let key = decode_key(raw_key, flags.has(b'b')).map_err(|e| bad_key(cmd, e))?;
    Ok(MetaRequest::Delete(MetaDelete {
        raw_key,
        key,
        flags,
        compare,
        new_cas,
        ttl,
    }))
}

fn arith<'a>(
    raw_key: &'a [u8],
    toks: impl Iterator<Item = &'a [u8]>,
) -> Result<MetaRequest<'a>, &'static [u8]> {
    let cmd = Cmd::Arith;
    let flags = parse_flags_list(cmd, raw_key, toks)?;
    // memcached decodes the key in its flag pre-parse, before it reads the mode.
    let key = decode_key(raw_key, flags.has(b'b')).map_err(|e| bad_key(cmd, e))?;
    // memcached's arithmetic treats a CAS of 0 as "no CAS given" (md and ms compare it).
    let compare = num(cmd, &flags, b'C', parse_u64)?.filter(|&c| c != 0);
    let new_cas = num(cmd, &flags, b'E', parse_u64)?;
    let vivify = num(cmd, &flags, b'N', parse_time)?;
    let initial = num(cmd, &flags, b'J', parse_u64)?.unwrap_or(0);
    let delta = num(cmd, &flags, b'D', parse_u64)?.unwrap_or(1);
    let ttl = num(cmd, &flags, b'T', parse_time)?;
    let incr = match flags.token(b'M') {
        None => true,
        Some([b'I' | b'+']) => true,
        Some([b'D' | b'-']) => false,
        Some(_) => return Err(wire::INVALID_MA_MODE),
    };
    Ok(MetaRequest::Arith(MetaArith {
        raw_key,
        key,
        flags,
        compare,
        new_cas,
        vivify,
        initial,
        delta,
        ttl,
        incr,
    }))
}

/// Appends the opaque and key echo (`O…`, `k…`, ` b`) a reply carries when asked, for the
/// flag `c` of the request order (other flags are the caller's).
pub(crate) fn encode_echo(out: &mut Vec<u8>, flags: &Flags<'_>, c: u8, raw_key: &[u8]) {
    match c {
        b'O' => {
            out.extend_from_slice(b" O");
            out.extend_from_slice(flags.token(b'O').unwrap_or_default());
        }
        b'k' => {
            out.extend_from_slice(b" k");
            out.extend_from_slice(raw_key);
            if flags.has(b'b') {
                out.extend_from_slice(b" b");
            }
        }
        _ => {}
    }
}

/// Writes a status-only reply (`EN`, `NF`, `NS`, `EX`, `HD` without item flags).
pub(crate) fn encode_status(out: &mut Vec<u8>, code: &[u8], flags: &Flags<'_>, raw_key: &[u8]) {
    out.extend_from_slice(code);
    for &c in flags.order() {
        encode_echo(out, flags, c, raw_key);
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends ` <flag><n>`.
pub(crate) fn encode_flag(out: &mut Vec<u8>, flag: u8, n: u64) {
    out.push(b' ');
    super::push_num(out, flag, n);
}

#[cfg(test)]
mod tests;
