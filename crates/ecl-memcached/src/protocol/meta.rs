//! The meta protocol: `mg`, `ms`, `md`, `ma`, `mn`, `me` with their flags, as memcached 1.6
//! documents them (base64 keys, CAS compare and explicit CAS, client flags, hit/last-access,
//! key echo, opaque, quiet mode, size, TTL, value, vivify on miss, recache / win / stale
//! handling, invalidation, arithmetic modes and initial values).
//!
//! Place in the flow: `protocol::text` recognises a meta command by its name and calls
//! [`handle`] with the whole input buffer (an `ms` has a data block after its line).
//!
//! Replies carry the requested return flags in request order; `W` (win), `X` (stale) and
//! `Z` (win token already sent) follow them. Error texts differ by command exactly as
//! memcached's do (`mg`/`ms`: "invalid flag" / "duplicate flag"; `md`/`ma`: "invalid or
//! duplicate flag").

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::text::{Handled, push_num};
use super::{
    KEY_MAX, apply_delta, counter_bytes, parse_counter, parse_flags, parse_i64, parse_u64,
};
use crate::server::{ConnState, NodeShared};
use crate::stats::Counter;
use crate::store::{NewItem, Slot, StoreError};
use crate::wire;

/// Longest opaque token memcached accepts.
const OPAQUE_MAX: usize = 32;

/// Parsed flags of one meta command.
struct Flags<'a> {
    /// Flag letters in request order.
    order: Vec<u8>,
    /// Token of each flag letter (empty if none).
    tokens: [Option<&'a [u8]>; 128],
}

impl<'a> Flags<'a> {
    fn has(&self, f: u8) -> bool {
        self.tokens[f as usize].is_some()
    }
    fn token(&self, f: u8) -> Option<&'a [u8]> {
        self.tokens[f as usize]
    }
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
        b'N' | b'R' | b'T' => parse_i64(tok).is_some(),
        b'F' => parse_flags(tok).is_some(),
        b'M' => tok.len() == 1,
        _ => true,
    }
}

fn parse_flags_list<'a>(
    cmd: Cmd,
    toks: impl Iterator<Item = &'a [u8]>,
) -> Result<Flags<'a>, &'static [u8]> {
    let mut f = Flags {
        order: Vec::new(),
        tokens: [None; 128],
    };
    for tok in toks {
        let c = tok[0];
        if !cmd.allowed().contains(&c) {
            return Err(cmd.invalid());
        }
        if f.tokens[c as usize].is_some() {
            return Err(cmd.duplicate());
        }
        if !token_ok(c, &tok[1..]) {
            return Err(cmd.bad_token(c));
        }
        f.tokens[c as usize] = Some(&tok[1..]);
        f.order.push(c);
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
fn decode_key(raw: &[u8], b64: bool) -> Result<Vec<u8>, &'static [u8]> {
    if raw.len() > KEY_MAX {
        return Err(wire::BAD_FORMAT);
    }
    let key = if b64 {
        B64.decode(raw).map_err(|_| wire::KEY_DECODE)?
    } else {
        raw.to_vec()
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

/// Appends the opaque and key echo (`O…`, `k…`, ` b`) that every reply carries when asked.
fn echo_basic(out: &mut Vec<u8>, f: &Flags<'_>, raw_key: &[u8]) {
    for &c in &f.order {
        match c {
            b'O' => {
                out.extend_from_slice(b" O");
                out.extend_from_slice(f.token(b'O').unwrap_or_default());
            }
            b'k' => {
                out.extend_from_slice(b" k");
                out.extend_from_slice(raw_key);
                if f.has(b'b') {
                    out.extend_from_slice(b" b");
                }
            }
            _ => {}
        }
    }
}

/// Writes a status-only reply (`EN`, `NF`, `NS`, `EX`, `HD` without item flags).
fn status(out: &mut Vec<u8>, code: &[u8], f: &Flags<'_>, raw_key: &[u8]) {
    out.extend_from_slice(code);
    echo_basic(out, f, raw_key);
    out.extend_from_slice(b"\r\n");
}

/// Entry point for a meta command line `buf[..line_end]`.
pub(crate) fn handle(
    node: &NodeShared,
    st: &mut ConnState,
    buf: &[u8],
    line_end: usize,
    line_len: usize,
    out: &mut Vec<u8>,
) -> Handled {
    let line = &buf[..line_end];
    let mut toks = line.split(|&b| b == b' ').filter(|t| !t.is_empty());
    let cmd = toks.next().unwrap_or_default();
    if cmd == b"mn" {
        out.extend_from_slice(wire::MN);
        return Handled::Consumed(line_len);
    }
    let Some(raw_key) = toks.next() else {
        out.extend_from_slice(if cmd == b"mg" {
            wire::ERROR
        } else {
            wire::BAD_FORMAT
        });
        return Handled::Consumed(line_len);
    };
    node.store.counters.incr(st.stripe, Counter::CmdMeta);
    match cmd {
        b"mg" => {
            meta_get(node, st, raw_key, toks, out);
            Handled::Consumed(line_len)
        }
        b"ms" => meta_set(node, st, buf, raw_key, line_len, out),
        b"md" => {
            meta_delete(node, raw_key, toks, out);
            Handled::Consumed(line_len)
        }
        b"ma" => {
            meta_arith(node, raw_key, toks, out);
            Handled::Consumed(line_len)
        }
        _ => {
            meta_debug(node, raw_key, toks.next().is_some_and(|t| t == b"b"), out);
            Handled::Consumed(line_len)
        }
    }
}

fn meta_get<'a>(
    node: &NodeShared,
    st: &ConnState,
    raw_key: &'a [u8],
    toks: impl Iterator<Item = &'a [u8]>,
    out: &mut Vec<u8>,
) {
    let parsed = parse_flags_list(Cmd::Get, toks).and_then(|f| {
        let vivify = num(Cmd::Get, &f, b'N', parse_i64)?;
        let recache = num(Cmd::Get, &f, b'R', parse_i64)?;
        let ttl = num(Cmd::Get, &f, b'T', parse_i64)?;
        let new_cas = num(Cmd::Get, &f, b'E', parse_u64)?;
        let key = decode_key(raw_key, f.has(b'b'))?;
        Ok((f, key, vivify, recache, ttl, new_cas))
    });
    let (f, key, vivify, recache, ttl, new_cas) = match parsed {
        Ok(p) => p,
        Err(e) => {
            out.extend_from_slice(e);
            return;
        }
    };
    let store = &node.store;
    let counters = &store.counters;
    let quiet = f.has(b'q');
    let mut g = store.lock(&key);
    let stripe = g.stripe();
    counters.incr(st.stripe, Counter::CmdGet);
    let (slot, vivified) = match g.find(&key, true) {
        Some(slot) => {
            counters.incr(stripe, Counter::GetHits);
            (slot, false)
        }
        None => {
            counters.incr(stripe, Counter::GetMisses);
            let Some(n) = vivify else {
                if !quiet {
                    status(out, b"EN", &f, raw_key);
                }
                return;
            };
            let item = NewItem {
                flags: 0,
                exptime: store.clock.expiry(n),
                parts: [b"", b""],
                cas: new_cas,
                bits: 0,
            };
            match g.write(&key, None, item) {
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
    let before = g.view(slot);
    // memcached 1.6 reports `t` as it was before this request's `T` update.
    let ttl_before = store.clock.ttl(before.exptime);
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
        let near_expiry =
            recache.is_some_and(|r| exptime != 0 && (exptime as i64 - g.now() as i64) < r);
        if stale || near_expiry {
            win = true;
            g.set_win_sent(slot, true);
        }
    }
    if let Some(t) = ttl {
        g.set_exptime(slot, store.clock.expiry(t));
        counters.incr(st.stripe, Counter::CmdTouch);
    }
    g.touch_access(slot, !f.has(b'u'), true);
    let v = g.view(slot);
    let mut nums = [0u8; 20];
    if f.has(b'v') {
        out.extend_from_slice(b"VA");
        push_num(out, &mut nums, b' ', v.value.len() as u64);
    } else {
        out.extend_from_slice(b"HD");
    }
    for &c in &f.order {
        match c {
            b'c' => push_flag(out, &mut nums, b'c', v.cas),
            b'f' => push_flag(out, &mut nums, b'f', v.flags as u64),
            b'h' => out.extend_from_slice(if was_fetched { b" h1" } else { b" h0" }),
            b'l' => push_flag(
                out,
                &mut nums,
                b'l',
                g_now(node).saturating_sub(last_access) as u64,
            ),
            b's' => push_flag(out, &mut nums, b's', v.value.len() as u64),
            b't' => out.extend_from_slice(format!(" t{ttl_before}").as_bytes()),
            b'O' => {
                out.extend_from_slice(b" O");
                out.extend_from_slice(f.token(b'O').unwrap_or_default());
            }
            b'k' => {
                out.extend_from_slice(b" k");
                out.extend_from_slice(raw_key);
                if f.has(b'b') {
                    out.extend_from_slice(b" b");
                }
            }
            _ => {}
        }
    }
    if already {
        out.extend_from_slice(b" Z");
    }
    if stale {
        out.extend_from_slice(b" X");
    }
    if win {
        out.extend_from_slice(b" W");
    }
    out.extend_from_slice(b"\r\n");
    if f.has(b'v') {
        out.extend_from_slice(v.value);
        out.extend_from_slice(b"\r\n");
    }
}

fn g_now(node: &NodeShared) -> u32 {
    node.store.clock.now()
}

fn push_flag(out: &mut Vec<u8>, nums: &mut [u8; 20], flag: u8, n: u64) {
    out.push(b' ');
    out.push(flag);
    let start = out.len();
    push_num(out, nums, b' ', n);
    // push_num wrote a separator we do not want between flag and number.
    out.remove(start);
}

fn meta_set(
    node: &NodeShared,
    st: &mut ConnState,
    buf: &[u8],
    raw_key: &[u8],
    line_len: usize,
    out: &mut Vec<u8>,
) -> Handled {
    let line = &buf[..line_len];
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut toks = line.split(|&b| b == b' ').filter(|t| !t.is_empty()).skip(2);
    if raw_key.len() > KEY_MAX {
        out.extend_from_slice(wire::BAD_FORMAT);
        return Handled::Consumed(line_len);
    }
    let Some(vlen) = toks
        .next()
        .and_then(parse_i64)
        .filter(|v| *v >= 0 && *v <= i32::MAX as i64 - 2)
    else {
        out.extend_from_slice(wire::BAD_FORMAT);
        return Handled::Consumed(line_len);
    };
    let vlen = vlen as usize;
    let store = &node.store;
    let counters = &store.counters;
    let parsed = parse_flags_list(Cmd::Set, toks).and_then(|f| {
        let flags = num(Cmd::Set, &f, b'F', parse_flags)?;
        let ttl = num(Cmd::Set, &f, b'T', parse_i64)?;
        let compare = num(Cmd::Set, &f, b'C', parse_u64)?;
        let new_cas = num(Cmd::Set, &f, b'E', parse_u64)?;
        let vivify = num(Cmd::Set, &f, b'N', parse_i64)?;
        let mode = match f.token(b'M') {
            None => b'S',
            Some([m]) if b"EAPRSeaprs".contains(m) => m.to_ascii_uppercase(),
            Some(_) => return Err(wire::INVALID_MS_MODE),
        };
        let key = decode_key(raw_key, f.has(b'b'))?;
        Ok((f, key, flags, ttl, compare, new_cas, vivify, mode))
    });
    let (f, key, flags, ttl, compare, new_cas, vivify, mode) = match parsed {
        Ok(p) => p,
        Err(e) => {
            out.extend_from_slice(e);
            st.swallow = vlen + 2;
            return Handled::Consumed(line_len);
        }
    };
    counters.incr(st.stripe, Counter::CmdSet);
    if store.too_large(key.len(), vlen) {
        counters.incr(st.stripe, Counter::StoreTooLarge);
        out.extend_from_slice(wire::TOO_LARGE);
        // memcached unlinks the old item whatever the mode, so no stale value survives.
        let mut g = store.lock(&key);
        if let Some(slot) = g.find(&key, false) {
            g.remove(slot);
        }
        st.swallow = vlen + 2;
        return Handled::Consumed(line_len);
    }
    let total = line_len + vlen + 2;
    if buf.len() < total {
        return Handled::NeedMore(total);
    }
    if &buf[total - 2..total] != b"\r\n" {
        out.extend_from_slice(wire::BAD_CHUNK);
        return Handled::Consumed(total);
    }
    let data = &buf[line_len..line_len + vlen];
    let quiet = f.has(b'q');
    let mut g = store.lock(&key);
    let stripe = g.stripe();
    let existing = g.find(&key, false);
    let exptime = ttl.map(|t| store.clock.expiry(t)).unwrap_or(0);
    let mut item = NewItem {
        flags: flags.unwrap_or(0),
        exptime,
        parts: [data, b""],
        cas: new_cas,
        bits: 0,
    };
    let mut stale_store = false;
    // CAS compare first: a mismatch is EX (or, with I and an older CAS, a stale store).
    if let Some(c) = compare {
        match existing {
            None => {
                counters.incr(stripe, Counter::CasMisses);
                status(out, b"NF", &f, raw_key);
                return Handled::Consumed(total);
            }
            Some(slot) => {
                let cur = g.view(slot).cas;
                if c != cur {
                    if f.has(b'I') && c < cur {
                        stale_store = true;
                    } else {
                        counters.incr(stripe, Counter::CasBadval);
                        status(out, b"EX", &f, raw_key);
                        return Handled::Consumed(total);
                    }
                } else {
                    counters.incr(stripe, Counter::CasHits);
                }
            }
        }
    }
    let old_value;
    let target = match (mode, existing) {
        (b'E', Some(_)) | (b'R', None) => None,
        (b'A' | b'P', None) => match vivify {
            Some(n) => {
                item.exptime = store.clock.expiry(n);
                Some(None)
            }
            None => None,
        },
        (b'A' | b'P', Some(slot)) => {
            let v = g.view(slot);
            item.flags = v.flags;
            item.exptime = v.exptime;
            old_value = v.value.to_vec();
            item.parts = if mode == b'A' {
                [&old_value, data]
            } else {
                [data, &old_value]
            };
            Some(Some(slot))
        }
        (_, existing) => Some(existing),
    };
    let Some(existing) = target else {
        status(out, b"NS", &f, raw_key);
        return Handled::Consumed(total);
    };
    match g.write(&key, existing, item) {
        Ok((slot, cas)) => {
            if stale_store {
                g.mark_stale(slot, cas);
            }
            if !quiet {
                out.extend_from_slice(b"HD");
                let mut nums = [0u8; 20];
                for &c in &f.order {
                    match c {
                        b'c' => push_flag(out, &mut nums, b'c', cas),
                        b'O' => {
                            out.extend_from_slice(b" O");
                            out.extend_from_slice(f.token(b'O').unwrap_or_default());
                        }
                        b'k' => {
                            out.extend_from_slice(b" k");
                            out.extend_from_slice(raw_key);
                            if f.has(b'b') {
                                out.extend_from_slice(b" b");
                            }
                        }
                        _ => {}
                    }
                }
                out.extend_from_slice(b"\r\n");
            }
        }
        Err(StoreError::TooLarge) => {
            counters.incr(st.stripe, Counter::StoreTooLarge);
            out.extend_from_slice(wire::TOO_LARGE);
        }
        Err(StoreError::NoMemory) => {
            counters.incr(st.stripe, Counter::StoreNoMemory);
            out.extend_from_slice(wire::OUT_OF_MEMORY);
        }
    }
    Handled::Consumed(total)
}

fn meta_delete<'a>(
    node: &NodeShared,
    raw_key: &'a [u8],
    toks: impl Iterator<Item = &'a [u8]>,
    out: &mut Vec<u8>,
) {
    let parsed = parse_flags_list(Cmd::Delete, toks).and_then(|f| {
        let compare = num(Cmd::Delete, &f, b'C', parse_u64)?;
        let new_cas = num(Cmd::Delete, &f, b'E', parse_u64)?;
        let ttl = num(Cmd::Delete, &f, b'T', parse_i64)?;
        // memcached reports an undecodable key of md/ma as a flag error.
        let key = decode_key(raw_key, f.has(b'b')).map_err(|e| bad_key(Cmd::Delete, e))?;
        Ok((f, key, compare, new_cas, ttl))
    });
    let (f, key, compare, new_cas, ttl) = match parsed {
        Ok(p) => p,
        Err(e) => {
            out.extend_from_slice(e);
            return;
        }
    };
    let store = &node.store;
    let mut g = store.lock(&key);
    let stripe = g.stripe();
    let Some(slot) = g.find(&key, false) else {
        store.counters.incr(stripe, Counter::DeleteMisses);
        status(out, b"NF", &f, raw_key);
        return;
    };
    if let Some(c) = compare
        && g.view(slot).cas != c
    {
        status(out, b"EX", &f, raw_key);
        return;
    }
    store.counters.incr(stripe, Counter::DeleteHits);
    if f.has(b'I') {
        let cas = new_cas.unwrap_or_else(|| store.next_cas());
        g.mark_stale(slot, cas);
        if let Some(t) = ttl {
            g.set_exptime(slot, store.clock.expiry(t));
        }
    } else if f.has(b'x') {
        let v = g.view(slot);
        let (flags, exptime) = (v.flags, v.exptime);
        let item = NewItem {
            flags,
            exptime,
            parts: [b"", b""],
            cas: new_cas,
            bits: 0,
        };
        let _ = g.write(&key, Some(slot), item);
    } else {
        g.remove(slot);
    }
    if !f.has(b'q') {
        status(out, b"HD", &f, raw_key);
    }
}

fn meta_arith<'a>(
    node: &NodeShared,
    raw_key: &'a [u8],
    toks: impl Iterator<Item = &'a [u8]>,
    out: &mut Vec<u8>,
) {
    let cmd = Cmd::Arith;
    let parsed = parse_flags_list(cmd, toks).and_then(|f| {
        let compare = num(cmd, &f, b'C', parse_u64)?;
        let new_cas = num(cmd, &f, b'E', parse_u64)?;
        let vivify = num(cmd, &f, b'N', parse_i64)?;
        let initial = num(cmd, &f, b'J', parse_u64)?.unwrap_or(0);
        let delta = num(cmd, &f, b'D', parse_u64)?.unwrap_or(1);
        let ttl = num(cmd, &f, b'T', parse_i64)?;
        let incr = match f.token(b'M') {
            None => true,
            Some([b'I' | b'i' | b'+']) => true,
            Some([b'D' | b'd' | b'-']) => false,
            Some(_) => return Err(wire::INVALID_MA_MODE),
        };
        let key = decode_key(raw_key, f.has(b'b')).map_err(|e| bad_key(cmd, e))?;
        Ok((f, key, compare, new_cas, vivify, initial, delta, ttl, incr))
    });
    let (f, key, compare, new_cas, vivify, initial, delta, ttl, incr) = match parsed {
        Ok(p) => p,
        Err(e) => {
            out.extend_from_slice(e);
            return;
        }
    };
    let store = &node.store;
    let counters = &store.counters;
    let mut g = store.lock(&key);
    let stripe = g.stripe();
    let (hit, miss) = if incr {
        (Counter::IncrHits, Counter::IncrMisses)
    } else {
        (Counter::DecrHits, Counter::DecrMisses)
    };
    let result: Result<(Slot, u64), &[u8]> = match g.find(&key, false) {
        None => {
            counters.incr(stripe, miss);
            let Some(n) = vivify else {
                status(out, b"NF", &f, raw_key);
                return;
            };
            let bytes = initial.to_string();
            let item = NewItem {
                flags: 0,
                exptime: store.clock.expiry(n),
                parts: [bytes.as_bytes(), b""],
                cas: new_cas,
                bits: 0,
            };
            g.write(&key, None, item)
                .map(|(s, _)| (s, initial))
                .map_err(|_| wire::OUT_OF_MEMORY)
        }
        Some(slot) => {
            let v = g.view(slot);
            if compare.is_some_and(|c| c != v.cas) {
                status(out, b"EX", &f, raw_key);
                return;
            }
            match parse_counter(v.value) {
                None => Err(wire::NON_NUMERIC),
                Some(cur) => {
                    let new = apply_delta(cur, delta, incr);
                    let bytes = counter_bytes(new, v.value.len());
                    let item = NewItem {
                        flags: v.flags,
                        exptime: v.exptime,
                        parts: [&bytes, b""],
                        cas: new_cas,
                        bits: 0,
                    };
                    counters.incr(stripe, hit);
                    g.write(&key, Some(slot), item)
                        .map(|(s, _)| (s, new))
                        .map_err(|_| wire::OUT_OF_MEMORY)
                }
            }
        }
    };
    let (slot, number) = match result {
        Ok(r) => r,
        Err(e) => {
            out.extend_from_slice(e);
            return;
        }
    };
    if let Some(t) = ttl {
        g.set_exptime(slot, store.clock.expiry(t));
    }
    // Arithmetic does not count as a fetch (the `h` flag stays as it was).
    g.touch_access(slot, true, false);
    if f.has(b'q') {
        return;
    }
    let v = g.view(slot);
    let text = number.to_string();
    let mut nums = [0u8; 20];
    if f.has(b'v') {
        out.extend_from_slice(b"VA");
        push_num(out, &mut nums, b' ', text.len() as u64);
    } else {
        out.extend_from_slice(b"HD");
    }
    for &c in &f.order {
        match c {
            b'c' => push_flag(out, &mut nums, b'c', v.cas),
            b't' => out.extend_from_slice(format!(" t{}", store.clock.ttl(v.exptime)).as_bytes()),
            b'O' => {
                out.extend_from_slice(b" O");
                out.extend_from_slice(f.token(b'O').unwrap_or_default());
            }
            b'k' => {
                out.extend_from_slice(b" k");
                out.extend_from_slice(raw_key);
                if f.has(b'b') {
                    out.extend_from_slice(b" b");
                }
            }
            _ => {}
        }
    }
    out.extend_from_slice(b"\r\n");
    if f.has(b'v') {
        out.extend_from_slice(text.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// `me <key> [b]`: item metadata in memcached's debug format.
fn meta_debug(node: &NodeShared, raw_key: &[u8], b64: bool, out: &mut Vec<u8>) {
    let key = match decode_key(raw_key, b64) {
        Ok(k) => k,
        Err(_) => {
            out.extend_from_slice(wire::BAD_FORMAT);
            return;
        }
    };
    let store = &node.store;
    let mut g = store.lock(&key);
    let Some(slot) = g.find(&key, false) else {
        out.extend_from_slice(wire::EN);
        return;
    };
    let now = g.now();
    let v = g.view(slot);
    let size = 48 + 8 + v.key.len() + 1 + v.value.len() + 2;
    out.extend_from_slice(b"ME ");
    out.extend_from_slice(raw_key);
    out.extend_from_slice(
        format!(
            " exp={} la={} cas={} fetch={} cls=1 size={}\r\n",
            store.clock.ttl(v.exptime),
            now.saturating_sub(v.atime),
            v.cas,
            if v.fetched { "yes" } else { "no" },
            size
        )
        .as_bytes(),
    );
}
