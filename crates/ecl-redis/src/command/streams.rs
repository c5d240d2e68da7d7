//! Stream commands, first part: XADD (NOMKSTREAM, MAXLEN/MINID with `=`/`~` and LIMIT, `*`,
//! explicit and `ms-*` IDs), XLEN, XRANGE / XREVRANGE (exclusive `(` bounds, COUNT), XDEL and
//! XTRIM.
//!
//! Place in the flow: argument parsing in Redis' order (so the same error wins) and reply
//! shaping for `Value::Stream`; the entries and node layout live in `db/stream.rs`. XADD
//! propagates the ID it generated, and XADD and XTRIM an approximate trim as the exact one they
//! did, as Redis rewrites them for replicas and the AOF; XADD signals blocked readers.

use super::flags::*;
use super::ks;
use super::{
    AclCategories, Argv, Cmd, CommandSpec, Ctx, Keys, OwnedArgv, Release, Release::Redis, Since,
    acl,
};
use crate::client::TimeoutReply;
use crate::config::notify;
use crate::db::stream::{Stream, StreamId, Trim};
use crate::db::{Value, wrong_type};
use crate::errors::{self, CmdError, CmdResult};

const R: AclCategories = acl::READ.with(acl::STREAM);
const W: AclCategories = acl::WRITE.with(acl::STREAM);
const K1: Keys = Keys::Range(1, 1, 1);

/// `ERR Invalid stream ID specified as stream command argument`.
pub const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";

/// Stream family table (entries; consumer groups are not implemented yet).
pub const COMMANDS: &[CommandSpec] = &[
    Cmd::new("xadd", xadd)
        .arity(-5)
        .flags(&[WRITE, DENYOOM, FAST])
        .acl(&[W, acl::FAST])
        .keys(K1)
        .since(Redis(5, 0, 0))
        .group("stream")
        .ks(&[ks::RW | ks::UPDATE])
        .doc("Appends a new message to a stream. Creates the key if it doesn't exist."),
    Cmd::new("xlen", xlen)
        .arity(2)
        .flags(&[READONLY, FAST])
        .acl(&[R, acl::FAST])
        .keys(K1)
        .since(Redis(5, 0, 0))
        .group("stream")
        .ks(&[ks::RO])
        .doc("Return the number of messages in a stream."),
    Cmd::new("xrange", xrange)
        .arity(-4)
        .flags(&[READONLY])
        .acl(&[R, acl::SLOW])
        .keys(K1)
        .since(Redis(5, 0, 0))
        .group("stream")
        .doc("Returns the messages from a stream within a range of IDs."),
    Cmd::new("xrevrange", xrevrange)
        .arity(-4)
        .flags(&[READONLY])
        .acl(&[R, acl::SLOW])
        .keys(K1)
        .since(Redis(5, 0, 0))
        .group("stream")
        .doc("Returns the messages from a stream within a range of IDs in reverse order."),
    Cmd::new("xdel", xdel)
        .arity(-3)
        .flags(&[WRITE, FAST])
        .acl(&[W, acl::FAST])
        .keys(K1)
        .since(Redis(5, 0, 0))
        .group("stream")
        .ks(&[ks::RW | ks::DELETE])
        .doc("Returns the number of messages after removing them from a stream."),
    Cmd::new("xread", xread).arity(-4).flags(&[READONLY, BLOCKING, MOVABLE_KEYS]).acl(&[R, acl::SLOW, acl::BLOCKING]).keys(Keys::Custom(xread_keys)).since(Redis(5, 0, 0)).group("stream").doc("Returns messages from multiple streams with IDs greater than the ones requested. Blocks until a message is available otherwise."),
    Cmd::new("xsetid", xsetid).arity(-3).flags(&[WRITE, DENYOOM, FAST]).acl(&[W, acl::FAST]).keys(K1).since(Redis(5, 0, 0)).group("stream").ks(&[ks::RW | ks::UPDATE]).doc("An internal command for replicating stream values."),
    Cmd::new("xtrim", xtrim)
        .arity(-4)
        .flags(&[WRITE])
        .acl(&[W, acl::SLOW])
        .keys(K1)
        .since(Redis(5, 0, 0))
        .group("stream")
        .ks(&[ks::RW | ks::DELETE])
        .doc("Deletes messages from the beginning of a stream."),
];

/// `strtoull` as Redis applies it to ID parts: a plain non-negative integer, or what the C
/// conversion accepts (leading blanks, a sign; a negated value wraps).
fn parse_u64_part(b: &[u8]) -> Option<u64> {
    if let Some(v) = crate::db::string::parse_i64(b) {
        return u64::try_from(v).ok();
    }
    let s = b.trim_ascii_start();
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for d in digits {
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// Parses an ID: `-`, `+` (unless `strict`), `ms`, `ms-seq`, and with `allow_auto_seq`
/// `ms-*`. Returns the ID and whether the sequence was given.
fn parse_id(
    b: &[u8],
    missing_seq: u64,
    strict: bool,
    allow_auto_seq: bool,
) -> Result<(StreamId, bool), CmdError> {
    let bad = || CmdError::from(INVALID_ID);
    if b.len() > 127 {
        return Err(bad());
    }
    match b {
        b"-" | b"+" if strict => return Err(bad()),
        b"-" => return Ok((StreamId::MIN, true)),
        b"+" => return Ok((StreamId::MAX, true)),
        _ => {}
    }
    let (ms, seq) = match b.iter().position(|&c| c == b'-') {
        Some(p) => (&b[..p], Some(&b[p + 1..])),
        None => (b, None),
    };
    let ms = parse_u64_part(ms).ok_or_else(bad)?;
    match seq {
        Some(b"*") if allow_auto_seq => Ok((StreamId { ms, seq: 0 }, false)),
        Some(s) => Ok((
            StreamId {
                ms,
                seq: parse_u64_part(s).ok_or_else(bad)?,
            },
            true,
        )),
        None => Ok((
            StreamId {
                ms,
                seq: missing_seq,
            },
            true,
        )),
    }
}

/// A range bound: `(` makes it exclusive (strict ID after it), else `-`/`+`/partial IDs.
fn parse_bound(b: &[u8], start: bool) -> Result<StreamId, CmdError> {
    let missing = if start { 0 } else { u64::MAX };
    if b.len() > 1 && b[0] == b'(' {
        let (id, _) = parse_id(&b[1..], missing, true, false)?;
        let moved = if start { id.incr() } else { id.decr() };
        return moved.ok_or_else(|| {
            let which = if start { "start" } else { "end" };
            CmdError::from(format!("ERR invalid {which} ID for the interval"))
        });
    }
    Ok(parse_id(b, missing, false, false)?.0)
}

/// Trimming arguments shared by XADD and XTRIM.
#[derive(Default)]
struct TrimArgs {
    how: Option<Trim>,
    approx: bool,
    limit: u64,
    /// Index of the threshold argument (for propagation rewriting).
    arg_at: usize,
    /// Index of a LIMIT keyword, if given.
    limit_at: Option<usize>,
    nomkstream: bool,
    /// XADD: the ID argument position, the ID and whether its sequence was given.
    id_at: usize,
    id: Option<(StreamId, bool)>,
}

/// Parses the option part of XADD (`xadd`) or XTRIM, in Redis' order.
fn parse_trim(ctx: &Ctx<'_>, argv: &Argv<'_>, xadd: bool) -> Result<TrimArgs, CmdError> {
    let mut t = TrimArgs::default();
    let mut i = 2;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        let opt = argv.get(i);
        if xadd && opt == b"*" {
            break;
        }
        let maxlen = opt.eq_ignore_ascii_case(b"maxlen");
        if (maxlen || opt.eq_ignore_ascii_case(b"minid")) && more > 0 {
            if t.how.is_some() {
                return Err("ERR syntax error, MAXLEN and MINID options at the same time are not compatible".into());
            }
            t.approx = false;
            let next = argv.get(i + 1);
            if more >= 2 && (next == b"~" || next == b"=") {
                t.approx = next == b"~";
                i += 1;
            }
            t.how = Some(if maxlen {
                let n = argv.i64(i + 1)?;
                if n < 0 {
                    return Err("ERR The MAXLEN argument must be >= 0.".into());
                }
                Trim::MaxLen(n as u64)
            } else {
                Trim::MinId(parse_id(argv.get(i + 1), 0, true, false)?.0)
            });
            i += 1;
            t.arg_at = i;
        } else if opt.eq_ignore_ascii_case(b"limit") && more > 0 {
            let n = argv.i64(i + 1)?;
            if n < 0 {
                return Err("ERR The LIMIT argument must be >= 0.".into());
            }
            t.limit = n as u64;
            t.limit_at = Some(i);
            i += 1;
        } else if xadd && opt.eq_ignore_ascii_case(b"nomkstream") {
            t.nomkstream = true;
        } else if xadd {
            t.id = Some(parse_id(opt, 0, true, true)?);
            break;
        } else {
            return Err(errors::SYNTAX.into());
        }
        i += 1;
    }
    t.id_at = i;
    if t.limit > 0 && t.how.is_none() {
        return Err(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy".into(),
        );
    }
    if !xadd && t.how.is_none() {
        return Err("ERR syntax error, XTRIM must be called with a trimming strategy".into());
    }
    if t.limit_at.is_some() {
        if !t.approx {
            return Err(
                "ERR syntax error, LIMIT cannot be used without the special ~ option".into(),
            );
        }
    } else if t.approx {
        let node = ctx.eng.cfg.encoding.stream_node_entries;
        let l = node.saturating_mul(100);
        t.limit = if l <= 0 || l > 10000 { 10000 } else { l as u64 };
    } else {
        t.limit = 0;
    }
    Ok(t)
}

/// The per-node entry bound.
fn node_max(ctx: &Ctx<'_>) -> usize {
    ctx.eng.cfg.encoding.stream_node_entries.max(0) as usize
}

/// Peeks the stream at `key` (WRONGTYPE for other types).
fn peek_stream<'c>(
    ctx: &'c mut Ctx<'_>,
    key: &[u8],
    read: bool,
) -> Result<Option<&'c Stream>, CmdError> {
    let now = ctx.now;
    let db = &mut ctx.eng.dbs[ctx.client.db];
    let e = if read {
        db.get(key, now)
    } else {
        db.peek(key, now)
    };
    match e.map(|e| &e.value) {
        None => Ok(None),
        Some(Value::Stream(s)) => Ok(Some(s)),
        Some(_) => Err(wrong_type()),
    }
}

/// Runs `f` on the stream at `key` (which must exist and be a stream).
fn with_stream<R>(ctx: &mut Ctx<'_>, key: &[u8], f: impl FnOnce(&mut Stream) -> R) -> Option<R> {
    let now = ctx.now;
    let mut v = ctx.eng.dbs[ctx.client.db].get_mut(key, now)?;
    match &mut *v {
        Value::Stream(s) => Some(f(s)),
        _ => None,
    }
}

/// [`with_stream`] for a change that adds or removes no entry (XSETID, XREADGROUP's PEL, and
/// the consumer-group commands): Redis marks a stream modified (for WATCH) only when XADD, XDEL
/// or XTRIM change its entries.
pub(super) fn with_stream_meta<R>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    f: impl FnOnce(&mut Stream) -> R,
) -> Option<R> {
    let now = ctx.now;
    let mut v = ctx.eng.dbs[ctx.client.db].get_mut(key, now)?;
    let r = match &mut *v {
        Value::Stream(s) => Some(f(s)),
        _ => None,
    };
    v.unchanged();
    r
}

/// The ID XADD will use, or its error.
fn next_id(
    s: &Stream,
    wanted: Option<(StreamId, bool)>,
    now_ms: i64,
) -> Result<StreamId, CmdError> {
    let smaller = || {
        CmdError::from(
            "ERR The ID specified in XADD is equal or smaller than the target stream top item",
        )
    };
    let last = s.last_id;
    let id = match wanted {
        Some((id, true)) => id,
        Some((id, false)) if id.ms == last.ms => {
            if last.seq == u64::MAX {
                return Err(smaller());
            }
            StreamId {
                ms: last.ms,
                seq: last.seq + 1,
            }
        }
        Some((id, false)) => id,
        None => {
            let ms = now_ms.max(0) as u64;
            if ms > last.ms {
                StreamId { ms, seq: 0 }
            } else {
                last.incr().unwrap_or(StreamId::MAX)
            }
        }
    };
    if id <= last {
        return Err(smaller());
    }
    Ok(id)
}

fn xadd(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let t = parse_trim(ctx, argv, true)?;
    let fields_at = t.id_at + 1;
    let nf = argv.len().saturating_sub(fields_at);
    if nf < 2 || nf % 2 == 1 {
        return Err("ERR wrong number of arguments for 'xadd' command".into());
    }
    if matches!(t.id, Some((StreamId::MIN, true))) {
        return Err("ERR The ID specified in XADD must be greater than 0-0".into());
    }
    let key = argv.get(1);
    let exists = peek_stream(ctx, key, false)?.is_some();
    if !exists && t.nomkstream {
        ctx.out.null();
        return Ok(());
    }
    let empty = Stream::new();
    let now = ctx.now;
    let id = {
        let s = if exists {
            peek_stream(ctx, key, false)?.unwrap_or(&empty)
        } else {
            &empty
        };
        if s.last_id == StreamId::MAX {
            return Err(
                "ERR The stream has exhausted the last possible ID, unable to add more items"
                    .into(),
            );
        }
        next_id(s, t.id, now)?
    };
    if !exists {
        ctx.db()
            .set(key, Value::Stream(Box::new(Stream::new())), now, false);
    }
    let fields: Vec<Vec<u8>> = argv.iter_from(fields_at).map(<[u8]>::to_vec).collect();
    let node = node_max(ctx);
    let (trimmed, after) = with_stream(ctx, key, |s| {
        s.append(id, fields, node);
        let n = t.how.map_or(0, |how| s.trim(how, t.approx, t.limit));
        (n, (s.len(), s.first_id()))
    })
    .unwrap_or((0, (0, StreamId::MIN)));
    ctx.out.bulk(id.text().as_bytes());
    ctx.write(key)
        .notify(notify::STREAM, "xadd")
        .dirty(1)
        .ready();
    if trimmed > 0 {
        ctx.write(key).notify(notify::STREAM, "xtrim");
    }
    let generated = !matches!(t.id, Some((_, true)));
    propagate_exact(ctx, argv, &t, generated.then_some(id), after);
    Ok(())
}

/// Sends replicas and the AOF the ID XADD generated (`id`) and, for a `~` trim, the exact
/// trim performed (`=` and the length or first ID it left), as Redis does: a replica or a
/// reload with other node sizes then keeps the same entries.
fn propagate_exact(
    ctx: &mut Ctx<'_>,
    argv: &Argv<'_>,
    t: &TrimArgs,
    id: Option<StreamId>,
    after: (usize, StreamId),
) {
    if (id.is_none() && !t.approx) || !ctx.replicating() {
        return;
    }
    let mut out = OwnedArgv::default();
    let mut i = 0;
    while i < argv.len() {
        let a = argv.get(i);
        if Some(i) == t.limit_at {
            i += 2;
            continue;
        }
        if let Some(id) = id.filter(|_| i == t.id_at) {
            out.push(id.text().as_bytes());
        } else if t.approx && i + 1 == t.arg_at && a == b"~" {
            out.push(b"=");
        } else if t.approx && i == t.arg_at {
            match t.how {
                Some(Trim::MaxLen(_)) => out.push(after.0.to_string().as_bytes()),
                _ => out.push(after.1.text().as_bytes()),
            }
        } else {
            out.push(a);
        }
        i += 1;
    }
    ctx.propagate(vec![out]);
}

fn xlen(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let n = peek_stream(ctx, argv.get(1), true)?.map_or(0, Stream::len);
    ctx.out.int(n as i64);
    Ok(())
}

fn xrange(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    range_cmd(ctx, argv, false)
}

fn xrevrange(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    range_cmd(ctx, argv, true)
}

fn range_cmd(ctx: &mut Ctx<'_>, argv: &Argv<'_>, rev: bool) -> CmdResult {
    let (a, b) = if rev { (3, 2) } else { (2, 3) };
    let lo = parse_bound(argv.get(a), true)?;
    let hi = parse_bound(argv.get(b), false)?;
    let mut count: i64 = -1;
    let mut j = 4;
    while j < argv.len() {
        if argv.is(j, "count") && j + 1 < argv.len() {
            count = argv.i64(j + 1)?.max(0);
            j += 2;
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    // Still WRONGTYPE before the COUNT 0 answer.
    let Some(_) = peek_stream(ctx, argv.get(1), true)? else {
        ctx.out.array(0);
        return Ok(());
    };
    if count == 0 {
        ctx.out.null_array();
        return Ok(());
    }
    let now = ctx.now;
    if let Some(Value::Stream(s)) = ctx.eng.dbs[ctx.client.db]
        .peek(argv.get(1), now)
        .map(|e| &e.value)
    {
        let items = s.range(lo, hi, rev, count.max(0) as usize);
        reply_entries(ctx.out, &items);
    }
    Ok(())
}

/// An entry borrowed from a stream: its ID and its field/value list.
pub type EntryRef<'a> = (StreamId, &'a [Vec<u8>]);

/// Writes entries as `[[id, [field, value, ...]], ...]`.
pub fn reply_entries(out: &mut crate::resp::Reply, items: &[EntryRef<'_>]) {
    out.array(items.len());
    for (id, fields) in items {
        out.array(2);
        out.bulk(id.text().as_bytes());
        out.array(fields.len());
        for f in fields.iter() {
            out.bulk(f);
        }
    }
}

fn xdel(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let key = argv.get(1);
    if peek_stream(ctx, key, false)?.is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    let ids = argv
        .iter_from(2)
        .map(|a| parse_id(a, 0, true, false).map(|(id, _)| id))
        .collect::<Result<Vec<_>, _>>()?;
    // Only a real deletion touches the key (WATCH sees no change otherwise, as in Redis).
    let any =
        peek_stream(ctx, key, false)?.is_some_and(|s| ids.iter().any(|id| s.get(*id).is_some()));
    let deleted = if any {
        with_stream(ctx, key, |s| ids.iter().filter(|id| s.delete(**id)).count()).unwrap_or(0)
    } else {
        0
    };
    if deleted > 0 {
        ctx.write(key)
            .notify(notify::STREAM, "xdel")
            .dirty(deleted as u64);
    }
    ctx.out.int(deleted as i64);
    Ok(())
}

fn xtrim(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let key = argv.get(1);
    let t = parse_trim(ctx, argv, false)?;
    if peek_stream(ctx, key, false)?.is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    let Some(how) = t.how else {
        return Err(errors::SYNTAX.into());
    };
    // Nothing to trim: leave the key untouched (WATCH sees no change, as in Redis).
    let due = peek_stream(ctx, key, false)?.is_some_and(|s| match how {
        Trim::MaxLen(max) => s.len() as u64 > max,
        Trim::MinId(min) => !s.is_empty() && s.first_id() < min,
    });
    let (n, after) = if due {
        with_stream(ctx, key, |s| {
            (s.trim(how, t.approx, t.limit), (s.len(), s.first_id()))
        })
        .unwrap_or((0, (0, StreamId::MIN)))
    } else {
        (0, (0, StreamId::MIN))
    };
    if n > 0 {
        ctx.write(key).notify(notify::STREAM, "xtrim").dirty(n);
        propagate_exact(ctx, argv, &t, None, after);
    }
    ctx.out.int(n as i64);
    Ok(())
}

/// XREAD key positions: the first half of the arguments after STREAMS.
fn xread_keys(a: &Argv<'_>) -> Vec<usize> {
    match (1..a.len()).find(|&i| a.is(i, "streams")) {
        Some(p) => (p + 1..p + 1 + (a.len() - p - 1) / 2).collect(),
        None => Vec::new(),
    }
}

/// What XREAD / XREADGROUP asked for.
struct ReadArgs<'a> {
    count: usize,
    /// BLOCK timeout in ms, if given.
    block: Option<i64>,
    /// Index of the first key, and the number of keys.
    at: usize,
    n: usize,
    /// XREADGROUP: group and consumer names.
    group: Option<(&'a [u8], &'a [u8])>,
    noack: bool,
}

/// Parses XREAD / XREADGROUP options up to STREAMS, in Redis' order. A script may not block:
/// `from_script` refuses BLOCK where Redis does, naming the command as the script spelled it.
fn read_args<'a>(
    argv: &Argv<'a>,
    grouped: bool,
    from_script: bool,
) -> Result<ReadArgs<'a>, CmdError> {
    let mut r = ReadArgs {
        count: 0,
        block: None,
        at: 0,
        n: 0,
        group: None,
        noack: false,
    };
    let mut i = 1;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        if argv.is(i, "block") && more > 0 {
            if from_script {
                return Err(CmdError::from(format!(
                    "ERR {} command is not allowed with BLOCK option from scripts",
                    String::from_utf8_lossy(argv.get(0))
                )));
            }
            let t = crate::db::string::parse_i64(argv.get(i + 1)).ok_or(CmdError::from(
                "ERR timeout is not an integer or out of range",
            ))?;
            if t < 0 {
                return Err("ERR timeout is negative".into());
            }
            r.block = Some(t);
            i += 1;
        } else if argv.is(i, "count") && more > 0 {
            r.count = argv.i64(i + 1)?.max(0) as usize;
            i += 1;
        } else if argv.is(i, "streams") && more > 0 {
            if !more.is_multiple_of(2) {
                // Redis names XREAD here for XREADGROUP too.
                return Err("ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.".into());
            }
            (r.at, r.n) = (i + 1, more / 2);
            break;
        } else if argv.is(i, "group") && more >= 2 {
            if !grouped {
                return Err("ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.".into());
            }
            r.group = Some((argv.get(i + 1), argv.get(i + 2)));
            i += 2;
        } else if argv.is(i, "noack") {
            if !grouped {
                return Err("ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.".into());
            }
            r.noack = true;
        } else {
            return Err(errors::SYNTAX.into());
        }
        i += 1;
    }
    if r.at == 0 {
        return Err(errors::SYNTAX.into());
    }
    if grouped && r.group.is_none() {
        return Err("ERR Missing GROUP option for XREADGROUP".into());
    }
    Ok(r)
}

/// XREAD's `+` ID (the stream's newest entry): Redis 7.4, and Valkey 8.0 (forked after it).
const LAST_ENTRY_ID: Since = Since::from(Release::Redis(7, 4, 0)).or_valkey(8, 0, 0);

/// The IDs to read after, per key (`StreamId::MAX` stands for XREADGROUP's `>`).
fn read_ids(
    ctx: &mut Ctx<'_>,
    argv: &Argv<'_>,
    r: &ReadArgs<'_>,
) -> Result<Vec<StreamId>, CmdError> {
    let mut ids = Vec::with_capacity(r.n);
    for k in 0..r.n {
        let (key, arg) = (argv.get(r.at + k), argv.get(r.at + r.n + k));
        let gone_waiter = ctx.client.detached && r.group.is_some();
        let s = match peek_stream(ctx, key, true) {
            // A waiting reader whose stream was deleted or replaced by another type.
            Err(_) | Ok(None) if gone_waiter => {
                return Err("UNBLOCKED the stream key no longer exists".into());
            }
            s => s?,
        };
        if let Some((g, _)) = r.group
            && !s.is_some_and(|s| s.groups.contains_key(g))
        {
            // A waiting reader whose group went away (the re-run of a blocked command).
            if ctx.client.detached {
                return Err(
                    "NOGROUP the consumer group this client was blocked on no longer exists".into(),
                );
            }
            return Err(format!(
                "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                String::from_utf8_lossy(key),
                String::from_utf8_lossy(g)
            )
            .into());
        }
        let last = s.map(|s| s.last_id);
        let newest = s.and_then(Stream::last_live_id);
        ids.push(match arg {
            b"$" if r.group.is_some() => return Err("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.".into()),
            b"$" => last.unwrap_or_default(),
            b">" if r.group.is_some() => StreamId::MAX,
            // Redis 7.4 / Valkey 8.0: `+` reads the newest entry (just after the one before it).
            b"+" if r.group.is_none() && ctx.has(LAST_ENTRY_ID) => {
                newest.and_then(StreamId::decr).unwrap_or_default()
            }
            b">" => return Err("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.".into()),
            _ => parse_id(arg, 0, true, false)?.0,
        });
    }
    Ok(ids)
}

/// Reads what one key can serve now: `None` when it has nothing for this call.
type Served = Option<Vec<crate::db::stream::Delivered>>;

fn serve_key(ctx: &mut Ctx<'_>, key: &[u8], after: StreamId, r: &ReadArgs<'_>) -> Served {
    let now = ctx.now;
    // redis-server looks every key up again to serve it (a second keyspace hit or miss).
    let newest = peek_stream(ctx, key, true).ok().flatten()?.last_live_id();
    match r.group {
        None => {
            let start = after.incr()?;
            if newest.is_none_or(|n| n <= after) {
                return None;
            }
            let s = peek_stream(ctx, key, false).ok().flatten()?;
            let items = s.range(start, StreamId::MAX, false, r.count);
            Some(
                items
                    .into_iter()
                    .map(|(id, f)| (id, Some(f.to_vec())))
                    .collect(),
            )
        }
        Some((g, c)) => {
            let group_last = peek_stream(ctx, key, false)
                .ok()
                .flatten()?
                .groups
                .get(g)?
                .last_id;
            let history = (after != StreamId::MAX).then_some(after);
            if history.is_none() && newest.is_none_or(|n| n <= group_last) {
                return None;
            }
            let (items, created) = with_stream_meta(ctx, key, |s| {
                s.read_group(g, c, history, r.count, r.noack, now)
            })?;
            if created {
                ctx.write(key)
                    .notify(notify::STREAM, "xgroup-createconsumer");
            }
            ctx.dirty(1);
            Some(items)
        }
    }
}

fn xread(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    read_generic(ctx, argv, false)
}

/// XREADGROUP (same shape as XREAD; registered by the group commands).
pub fn xreadgroup(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    read_generic(ctx, argv, true)
}

fn read_generic(ctx: &mut Ctx<'_>, argv: &Argv<'_>, grouped: bool) -> CmdResult {
    let r = read_args(argv, grouped, ctx.eng.scripts.running)?;
    let ids = read_ids(ctx, argv, &r)?;
    let mut served = Vec::new();
    for (k, after) in ids.iter().enumerate() {
        let key = argv.get(r.at + k);
        if let Some(items) = serve_key(ctx, key, *after, &r) {
            served.push((key, items));
        }
    }
    if !served.is_empty() {
        let resp3 = ctx.out.resp3;
        if resp3 {
            ctx.out.map(served.len());
        } else {
            ctx.out.array(served.len());
        }
        for (key, items) in &served {
            if !resp3 {
                ctx.out.array(2);
            }
            ctx.out.bulk(key);
            ctx.out.array(items.len());
            for (id, fields) in items {
                ctx.out.array(2);
                ctx.out.bulk(id.text().as_bytes());
                match fields {
                    Some(f) => ctx.out.bulk_array(f.iter().map(Vec::as_slice)),
                    None => ctx.out.null_array(),
                }
            }
        }
        return Ok(());
    }
    let Some(ms) = r.block else {
        ctx.out.null_array();
        return Ok(());
    };
    let keys = (0..r.n).map(|k| argv.get(r.at + k).into()).collect();
    let deadline = ctx.deadline_after(ms);
    ctx.block(keys, deadline, TimeoutReply::NullArray)?;
    // Re-run with the IDs resolved now, so `$` keeps meaning "after what was there".
    let mut rerun = OwnedArgv::default();
    for a in argv.iter_from(0).take(r.at + r.n) {
        rerun.push(a);
    }
    for (k, id) in ids.iter().enumerate() {
        match *id {
            StreamId::MAX if grouped => rerun.push(argv.get(r.at + r.n + k)),
            id => rerun.push(id.text().as_bytes()),
        }
    }
    ctx.block_rerun(rerun);
    Ok(())
}

/// A blocked XREAD / XREADGROUP re-run for one ready key: the same command reading only `key`
/// (its first occurrence's ID). Redis serves a stream waiter from the key that became ready, in
/// the order keys were signalled, replying with that stream alone: new entries on another of
/// its streams, a group destroyed or a stream deleted elsewhere do not change that reply.
/// `None` when the command reads one stream or is not a stream read.
pub fn rerun_for_key(argv: &Argv<'_>, key: &[u8]) -> Option<OwnedArgv> {
    let grouped = argv.is(0, "xreadgroup");
    if !grouped && !argv.is(0, "xread") {
        return None;
    }
    let r = read_args(argv, grouped, false).ok()?;
    let k = (0..r.n).find(|&k| argv.get(r.at + k) == key)?;
    if r.n == 1 {
        return None;
    }
    let mut one = OwnedArgv::default();
    for a in argv.iter_from(0).take(r.at) {
        one.push(a);
    }
    one.push(key);
    one.push(argv.get(r.at + r.n + k));
    Some(one)
}

/// XSETID's optional ENTRIESADDED / MAXDELETEDID, checked against the new last ID.
fn xsetid_args(argv: &Argv<'_>, id: StreamId) -> Result<(Option<u64>, StreamId), CmdError> {
    let (mut added, mut max_del, mut i) = (None, StreamId::MIN, 3);
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        if argv.is(i, "entriesadded") && more > 0 {
            let n = argv.i64(i + 1)?;
            if n < 0 {
                return Err("ERR entries_added must be positive".into());
            }
            added = Some(n as u64);
        } else if argv.is(i, "maxdeletedid") && more > 0 {
            max_del = parse_id(argv.get(i + 1), 0, true, false)?.0;
            if id < max_del {
                return Err("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id".into());
            }
        } else {
            return Err(errors::SYNTAX.into());
        }
        i += 2;
    }
    Ok((added, max_del))
}

fn xsetid(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let id = parse_id(argv.get(2), 0, true, false)?.0;
    let (added, max_del) = xsetid_args(argv, id)?;
    let key = argv.get(1);
    let Some(s) = peek_stream(ctx, key, false)? else {
        return Err(errors::NO_SUCH_KEY.into());
    };
    // Redis 7.0 lets the last ID go below the largest deleted ID (only an explicit
    // MAXDELETEDID is checked), and so does this.
    if !s.is_empty() {
        let top = s.range(StreamId::MIN, StreamId::MAX, true, 1);
        if top.first().is_some_and(|(t, _)| id < *t) {
            return Err(
                "ERR The ID specified in XSETID is smaller than the target stream top item".into(),
            );
        }
        if added.is_some_and(|a| (s.len() as u64) > a) {
            return Err("ERR The entries_added specified in XSETID is smaller than the target stream length".into());
        }
    }
    with_stream_meta(ctx, key, |s| {
        s.last_id = id;
        if let Some(a) = added {
            s.entries_added = a;
        }
        if max_del != StreamId::MIN {
            s.max_deleted_id = max_del;
        }
    });
    ctx.out.ok();
    ctx.write(key).notify(notify::STREAM, "xsetid").dirty(1);
    Ok(())
}

/// A strict or plain ID argument for the consumer-group commands (no `ms-*`).
pub(crate) fn parse_id_pub(b: &[u8], missing_seq: u64, strict: bool) -> Result<StreamId, CmdError> {
    parse_id(b, missing_seq, strict, false).map(|(id, _)| id)
}

/// A range bound (`(` exclusive) for XPENDING.
pub(crate) fn parse_bound_pub(b: &[u8], start: bool) -> Result<StreamId, CmdError> {
    parse_bound(b, start)
}
