//! Parser of the classic text protocol (storage, retrieval, delete, incr/decr, touch, gat,
//! flush_all, stats, version, verbosity, quit, cache_memlimit, auto discovery), with
//! memcached 1.6's exact error replies; meta command lines (`m?`) go to `protocol::meta`.
//!
//! Place in the flow: `conn` calls [`parse`] with the connection's input buffer; it returns
//! the first request (a line, plus a data block for storage commands) as a [`Request`]
//! borrowing from the buffer, without touching the node. `execute::text` runs it.
//!
//! Framing rules as memcached applies them: lines end with `\n` (an optional `\r` before it
//! is dropped); tokens are separated by spaces; a line over 2048 bytes without newline closes
//! the connection unless it is a `get`/`gets` (multi-gets may be long, up to
//! [`MAX_GET_LINE`]); a storage command whose item is too large is answered and its data
//! block discarded, so the connection stays usable.

pub use super::Refusal;
use super::scan::{Words, find_byte};
use super::{
    KEY_MAX, Limits, Parsed, ProtocolError, Request, meta, parse_flags, parse_i64, parse_time,
    parse_u64,
};
use crate::wire;

/// Longest line memcached waits for without seeing a newline (non-get commands).
pub const MAX_LINE: usize = 2048;
/// Longest multi-get line we buffer.
pub const MAX_GET_LINE: usize = 4 << 20;
/// memcached's token limit per command (MAX_TOKENS, including the terminal token).
pub const MAX_TOKENS: usize = 24;

/// A classic text request.
#[derive(Debug)]
pub enum TextRequest<'a> {
    /// get / gets / gat / gats.
    Get {
        /// Which retrieval command.
        kind: GetKind,
        /// gat/gats: the new exptime as sent.
        exptime: Option<i64>,
        /// The keys, in order, up to (not including) a key over [`KEY_MAX`].
        keys: Keys<'a>,
        /// A key over [`KEY_MAX`] followed `keys`: the reply so far is replaced by an error.
        bad_key: bool,
    },
    /// set / add / replace / append / prepend / cas with its data block.
    Store {
        /// Which storage command.
        cmd: StoreCmd,
        /// The key.
        key: &'a [u8],
        /// Client flags.
        flags: u32,
        /// Exptime as sent.
        exptime: i64,
        /// cas: the unique the client last saw (0 otherwise).
        cas: u64,
        /// The data block, without its CRLF.
        data: &'a [u8],
        /// `noreply` given.
        noreply: bool,
    },
    /// A storage command refused after its line was read (counted as a set).
    StoreRefused {
        /// Which storage command.
        cmd: StoreCmd,
        /// The key.
        key: &'a [u8],
        /// Why it was refused.
        why: Refusal,
        /// `noreply` given.
        noreply: bool,
    },
    /// delete.
    Delete {
        /// The key.
        key: &'a [u8],
        /// `noreply` given.
        noreply: bool,
    },
    /// incr / decr.
    Arith {
        /// incr (else decr).
        incr: bool,
        /// The key.
        key: &'a [u8],
        /// The delta.
        delta: u64,
        /// `noreply` given.
        noreply: bool,
    },
    /// touch.
    Touch {
        /// The key.
        key: &'a [u8],
        /// Exptime as sent.
        exptime: i64,
        /// `noreply` given.
        noreply: bool,
    },
    /// flush_all; `delay` is `None` when the argument is not a number (reported after the
    /// flush permission check, as memcached does).
    FlushAll {
        /// Delay as sent (0 when absent).
        delay: Option<i64>,
        /// `noreply` given.
        noreply: bool,
    },
    /// version.
    Version,
    /// verbosity.
    Verbosity {
        /// The level.
        level: u64,
        /// `noreply` given.
        noreply: bool,
    },
    /// quit: close the connection.
    Quit,
    /// A `stats` family.
    Stats(StatsRequest),
    /// `config get cluster` (auto discovery).
    ConfigGetCluster,
    /// `cache_memlimit <mb>` with mb >= 8.
    CacheMemlimit {
        /// New limit in MiB.
        mb: u64,
        /// `noreply` given.
        noreply: bool,
    },
    /// `lru_crawler ...`.
    LruCrawler(LruCrawler<'a>),
    /// `watch [stream ...]`: the connection becomes a log watcher of these event kinds.
    Watch {
        /// The event kinds (memcached's `LOG_*` bits).
        kinds: u16,
    },
    /// An HTTP request line sent to the cache: memcached closes the connection (a protocol
    /// error) instead of answering.
    Http,
    /// `slabs reassign <src> <dst>`: move a slab page between classes (a node has no pages).
    SlabsReassign {
        /// Source class id (-1: any).
        src: i32,
        /// Destination class id.
        dst: i32,
    },
    /// `slabs automove <0|1|2>` or `slabs automove ratio <r>`: settings of memcached's slab
    /// mover, kept and shown by `stats settings` (a node has no slab pages to move).
    SlabsAutomove {
        /// The new setting.
        setting: Automove,
        /// `noreply` given.
        noreply: bool,
    },
}

/// An `lru_crawler` subcommand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LruCrawler<'a> {
    /// `crawl <classes>`: sweep those classes of expired items now.
    Crawl(&'a [u8]),
    /// `metadump <classes>`: one line per live item.
    Metadump(&'a [u8]),
    /// `tocrawl <n>`.
    Tocrawl(u32),
    /// `sleep <micros>`.
    Sleep(u32),
    /// `enable` / `disable` the background sweep.
    Enable(bool),
}

/// A `slabs automove` setting.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Automove {
    /// The mover's mode (0 off, 1 or 2).
    Level(u32),
    /// The free-memory ratio it aims at.
    Ratio(f64),
}

/// The retrieval commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GetKind {
    /// get.
    Get,
    /// gets (with CAS).
    Gets,
    /// gat (touching).
    Gat,
    /// gats (touching, with CAS).
    Gats,
}

impl GetKind {
    /// The reply carries CAS values.
    pub fn with_cas(self) -> bool {
        matches!(self, GetKind::Gets | GetKind::Gats)
    }
    /// The command sets a new exptime.
    pub fn touching(self) -> bool {
        matches!(self, GetKind::Gat | GetKind::Gats)
    }
}

/// The storage commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreCmd {
    /// set.
    Set,
    /// add.
    Add,
    /// replace.
    Replace,
    /// append.
    Append,
    /// prepend.
    Prepend,
    /// cas.
    Cas,
}

impl StoreCmd {
    /// The command's name, as memcached's log lines give it.
    pub fn name(self) -> &'static str {
        match self {
            StoreCmd::Set => "set",
            StoreCmd::Add => "add",
            StoreCmd::Replace => "replace",
            StoreCmd::Append => "append",
            StoreCmd::Prepend => "prepend",
            StoreCmd::Cas => "cas",
        }
    }
}

/// The `stats` families that need the node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatsRequest {
    /// `stats`.
    General,
    /// `stats settings`.
    Settings,
    /// `stats items`.
    Items,
    /// `stats slabs`.
    Slabs,
    /// `stats sizes`.
    Sizes,
    /// `stats conns`.
    Conns,
    /// `stats reset`.
    Reset,
    /// `stats detail on|off|dump`.
    Detail(DetailOp),
    /// `stats cachedump <class> <limit>`.
    Cachedump {
        /// Slab class id.
        class: u64,
        /// Most items to list (0 = all).
        limit: u64,
    },
}

/// What `stats detail` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DetailOp {
    /// Start counting per prefix.
    On,
    /// Stop counting (the counts stay).
    Off,
    /// List the counts.
    Dump,
}

/// Space-separated keys of a retrieval line.
#[derive(Clone, Copy, Debug)]
pub struct Keys<'a>(&'a [u8]);

impl<'a> Keys<'a> {
    /// The keys in request order.
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        Words::new(self.0)
    }
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
        for tok in Words::new(line) {
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

/// Parses the first text or meta request in `buf`.
pub fn parse<'a>(buf: &'a [u8], limits: &Limits) -> Result<Parsed<Request<'a>>, ProtocolError> {
    let Some(nl) = find_byte(buf, b'\n') else {
        if buf.len() > MAX_LINE && !long_line_allowed(buf) {
            return Err(ProtocolError::LineTooLong);
        }
        return Ok(Parsed::NeedMore { want: 0 });
    };
    // memcached looks for the newline only within one read buffer (16 KiB): a longer line
    // that is not a get closes the connection even when its newline has arrived.
    if nl > READ_BUFFER && !long_line_allowed(&buf[..nl]) {
        return Err(ProtocolError::LineTooLong);
    }
    let line_end = if nl > 0 && buf[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };
    Ok(parse_line(buf, line_end, nl + 1, limits))
}

/// memcached's read buffer: how far it looks for a request's newline.
const READ_BUFFER: usize = 16 * 1024;

/// Whether a line over [`MAX_LINE`] may go on: only `get`/`gets` (after at most 100 leading
/// spaces), up to [`MAX_GET_LINE`], as memcached allows.
fn long_line_allowed(line: &[u8]) -> bool {
    let spaces = line.iter().take_while(|&&b| b == b' ').count();
    let rest = &line[spaces..];
    spaces <= 100
        && (rest.starts_with(b"get ") || rest.starts_with(b"gets "))
        && line.len() <= MAX_GET_LINE
}

/// A request that is just its line.
fn line_only(request: Request<'_>, line_len: usize) -> Parsed<Request<'_>> {
    Parsed::Done {
        request,
        consumed: line_len,
        discard: 0,
    }
}

/// Text commands memcached 1.6 dispatches by name (a wrong arity of one is ERROR, not the
/// HTTP-line close).
const KNOWN_COMMANDS: &[&[u8]] = &[
    b"get",
    b"gets",
    b"gat",
    b"gats",
    b"set",
    b"add",
    b"replace",
    b"append",
    b"prepend",
    b"cas",
    b"incr",
    b"decr",
    b"delete",
    b"touch",
    b"stats",
    b"flush_all",
    b"version",
    b"quit",
    b"shutdown",
    b"slabs",
    b"lru",
    b"lru_crawler",
    b"watch",
    b"verbosity",
    b"cache_memlimit",
    b"misbehave",
    b"debugtime",
    b"extstore",
    b"config",
    b"me",
    b"mg",
    b"ms",
    b"md",
    b"ma",
    b"mn",
];

/// Parses the request whose line is `buf[..line_end]` (`line_len` includes the newline).
fn parse_line<'a>(
    buf: &'a [u8],
    line_end: usize,
    line_len: usize,
    limits: &Limits,
) -> Parsed<Request<'a>> {
    let line = &buf[..line_end];
    let t = Tokens::split(line);
    let n = t.len;
    // memcached compares the command token as a C string: a NUL ends it ("version\0" is
    // version).
    let command = t.get(0).split(|&b| b == 0).next().unwrap_or_default();
    let request = match command {
        b"get" => retrieval(line, GetKind::Get),
        b"gets" => retrieval(line, GetKind::Gets),
        b"gat" => retrieval(line, GetKind::Gat),
        b"gats" => retrieval(line, GetKind::Gats),
        b"set" | b"add" | b"replace" | b"append" | b"prepend" if (n == 5 || n == 6) && !t.more => {
            return storage(buf, &t, line_len, limits);
        }
        b"cas" if (n == 6 || n == 7) && !t.more => return storage(buf, &t, line_len, limits),
        b"mg" | b"ms" | b"md" | b"ma" | b"mn" | b"me" => {
            return meta::parse_line(buf, line_end, line_len, limits);
        }
        b"delete" if (2..=4).contains(&n) => delete(&t),
        b"incr" | b"decr" if n == 3 || n == 4 => arith(&t),
        b"touch" if n == 3 || n == 4 => touch(&t),
        b"flush_all" if (1..=3).contains(&n) => flush_all(&t),
        // memcached ignores whatever follows these two (libmemcached's memccapable sends
        // `version foo bar` and expects VERSION).
        b"version" => Request::Text(TextRequest::Version),
        b"verbosity" if n == 2 || n == 3 => match parse_u64(t.get(1)) {
            Some(level) => Request::Text(TextRequest::Verbosity {
                level,
                noreply: t.noreply(),
            }),
            None => Request::Reply {
                msg: wire::BAD_FORMAT,
                noreply: t.noreply(),
            },
        },
        b"quit" => Request::Text(TextRequest::Quit),
        b"stats" => stats(&t),
        b"slabs" if n >= 3 && t.get(1) == b"automove" => slabs_automove(&t),
        // memcached reads the class ids with safe_strtol (a 32-bit int) and has no noreply here.
        b"slabs" if n == 4 && t.get(1) == b"reassign" => {
            match (parse_time(t.get(2)), parse_time(t.get(3))) {
                (Some(src), Some(dst)) => Request::Text(TextRequest::SlabsReassign {
                    src: src as i32,
                    dst: dst as i32,
                }),
                _ => Request::reply(wire::BAD_FORMAT),
            }
        }
        b"lru_crawler" => lru_crawler(&t),
        // A stream name memcached does not know (`noreply` included, which also silences
        // the reply) is ERROR.
        b"watch" => match crate::watch::parse_streams((1..n).map(|i| t.get(i))) {
            Some(kinds) => Request::Text(TextRequest::Watch { kinds }),
            None => Request::Reply {
                msg: wire::ERROR,
                noreply: t.noreply(),
            },
        },
        b"config" if n == 3 && t.get(1) == b"get" && t.get(2) == b"cluster" => {
            Request::Text(TextRequest::ConfigGetCluster)
        }
        b"cache_memlimit" if n == 2 || n == 3 => match parse_u64(t.get(1)) {
            Some(mb) if mb > 1_000_000_000 => Request::Reply {
                msg: wire::MEMLIMIT_NOT_BYTES,
                noreply: t.noreply(),
            },
            Some(mb) if mb >= 8 => Request::Text(TextRequest::CacheMemlimit {
                mb,
                noreply: t.noreply(),
            }),
            Some(_) => Request::Reply {
                msg: wire::MEMLIMIT_TOO_SMALL,
                noreply: t.noreply(),
            },
            // Not a number: memcached's ERROR, silenced by noreply like its other replies.
            None => Request::Reply {
                msg: wire::ERROR,
                noreply: t.noreply(),
            },
        },
        b"shutdown" => Request::reply(wire::SHUTDOWN_DISABLED),
        // An HTTP request line (`GET / HTTP/1.0`) sent to the cache: memcached closes the
        // connection instead of answering ERROR.
        // (Only for a line whose command memcached does not know: `set a HTTP/1.1` is ERROR.)
        _ if !KNOWN_COMMANDS.contains(&command)
            && t.get(n.saturating_sub(1)).starts_with(b"HTTP/") =>
        {
            Request::Text(TextRequest::Http)
        }
        _ => Request::reply(wire::ERROR),
    };
    line_only(request, line_len)
}

/// get / gets / gat / gats: the keys stay a slice of the line (no allocation per key).
fn retrieval(line: &[u8], kind: GetKind) -> Request<'_> {
    // Offsets of the space-separated words after the command name.
    let mut words = Words::new(line);
    words.next_at();
    let mut words = std::iter::from_fn(move || words.next_at());
    let exptime = if kind.touching() {
        match words.next().map(|(_, w)| parse_time(w)) {
            Some(Some(e)) => Some(e),
            Some(None) => return Request::reply(wire::INVALID_EXPTIME),
            None => return Request::reply(wire::ERROR),
        }
    } else {
        None
    };
    let mut first = None;
    let mut end = line.len();
    let mut bad_key = false;
    for (start, w) in words {
        first.get_or_insert(start);
        if w.len() > KEY_MAX {
            end = start;
            bad_key = true;
            break;
        }
    }
    let Some(first) = first else {
        if !kind.touching() {
            return Request::reply(wire::ERROR);
        }
        return Request::Text(TextRequest::Get {
            kind,
            exptime,
            keys: Keys(&[]),
            bad_key,
        });
    };
    Request::Text(TextRequest::Get {
        kind,
        exptime,
        keys: Keys(&line[first..end]),
        bad_key,
    })
}

/// set / add / replace / append / prepend / cas: the line, then the data block.
fn storage<'a>(
    buf: &'a [u8],
    t: &Tokens<'a>,
    line_len: usize,
    limits: &Limits,
) -> Parsed<Request<'a>> {
    let cmd = match t.get(0) {
        b"set" => StoreCmd::Set,
        b"add" => StoreCmd::Add,
        b"replace" => StoreCmd::Replace,
        b"append" => StoreCmd::Append,
        b"prepend" => StoreCmd::Prepend,
        _ => StoreCmd::Cas,
    };
    let key = t.get(1);
    let noreply = t.noreply();
    // memcached reads `noreply` before any check, so it silences these errors too.
    let bad_format = line_only(
        Request::Reply {
            msg: wire::BAD_FORMAT,
            noreply,
        },
        line_len,
    );
    if key.len() > KEY_MAX {
        return bad_format;
    }
    let (Some(flags), Some(exptime), Some(vlen)) = (
        parse_flags(t.get(2)),
        parse_time(t.get(3)),
        parse_i64(t.get(4)),
    ) else {
        return bad_format;
    };
    let cas = if cmd == StoreCmd::Cas {
        match parse_u64(t.get(5)) {
            Some(c) => c,
            None => return bad_format,
        }
    } else {
        0
    };
    if vlen < 0 || vlen > (i32::MAX as i64 - 2) {
        return bad_format;
    }
    let vlen = vlen as usize;
    let refused = |why| {
        Request::Text(TextRequest::StoreRefused {
            cmd,
            key,
            why,
            noreply,
        })
    };
    if limits.item_too_large(key.len(), vlen) {
        return Parsed::Done {
            request: refused(Refusal::TooLarge),
            consumed: line_len,
            discard: vlen + 2,
        };
    }
    let total = line_len + vlen + 2;
    if buf.len() < total {
        return Parsed::NeedMore { want: total };
    }
    let request = if &buf[total - 2..total] != b"\r\n" {
        refused(Refusal::BadChunk)
    } else {
        Request::Text(TextRequest::Store {
            cmd,
            key,
            flags,
            exptime,
            cas,
            data: &buf[line_len..line_len + vlen],
            noreply,
        })
    };
    Parsed::Done {
        request,
        consumed: total,
        discard: 0,
    }
}

fn delete<'a>(t: &Tokens<'a>) -> Request<'a> {
    let key = t.get(1);
    // memcached looks for `noreply` only after the key: `delete noreply` deletes "noreply".
    let noreply = t.len > 2 && t.noreply();
    if t.len > 2 {
        let hold_is_zero = t.get(2) == b"0";
        let valid =
            (t.len == 3 && (hold_is_zero || noreply)) || (t.len == 4 && hold_is_zero && noreply);
        if !valid {
            return Request::Reply {
                msg: wire::DELETE_USAGE,
                noreply,
            };
        }
    }
    if key.len() > KEY_MAX {
        return Request::Reply {
            msg: wire::BAD_FORMAT,
            noreply,
        };
    }
    Request::Text(TextRequest::Delete { key, noreply })
}

fn arith<'a>(t: &Tokens<'a>) -> Request<'a> {
    let key = t.get(1);
    let noreply = t.noreply();
    if key.len() > KEY_MAX {
        return Request::Reply {
            msg: wire::BAD_FORMAT,
            noreply,
        };
    }
    let Some(delta) = parse_u64(t.get(2)) else {
        return Request::Reply {
            msg: wire::INVALID_DELTA,
            noreply,
        };
    };
    Request::Text(TextRequest::Arith {
        incr: t.get(0) == b"incr",
        key,
        delta,
        noreply,
    })
}

fn touch<'a>(t: &Tokens<'a>) -> Request<'a> {
    let key = t.get(1);
    let noreply = t.noreply();
    if key.len() > KEY_MAX {
        return Request::Reply {
            msg: wire::BAD_FORMAT,
            noreply,
        };
    }
    let Some(exptime) = parse_time(t.get(2)) else {
        return Request::Reply {
            msg: wire::INVALID_EXPTIME,
            noreply,
        };
    };
    Request::Text(TextRequest::Touch {
        key,
        exptime,
        noreply,
    })
}

fn flush_all<'a>(t: &Tokens<'a>) -> Request<'a> {
    let noreply = t.noreply();
    let args = t.len - 1 - usize::from(noreply);
    let delay = if args >= 1 {
        parse_time(t.get(1))
    } else {
        Some(0)
    };
    Request::Text(TextRequest::FlushAll { delay, noreply })
}

/// `lru_crawler crawl|metadump <classes>`, `tocrawl <n>`, `sleep <micros>` (three words) and
/// `enable` / `disable` (two), with memcached's replies to anything else.
fn lru_crawler<'a>(t: &Tokens<'a>) -> Request<'a> {
    let reply = |msg| Request::Reply {
        msg,
        noreply: false,
    };
    let number = || parse_u64(t.get(2)).and_then(|v| u32::try_from(v).ok());
    let sub = match (t.len, t.get(1)) {
        (3, b"crawl") => LruCrawler::Crawl(t.get(2)),
        (3, b"metadump") => LruCrawler::Metadump(t.get(2)),
        (3, b"tocrawl") => match number() {
            Some(n) => LruCrawler::Tocrawl(n),
            None => return reply(wire::BAD_FORMAT),
        },
        (3, b"sleep") => match number() {
            Some(n) if n <= 1_000_000 => LruCrawler::Sleep(n),
            Some(_) => return reply(wire::CRAWLER_SLEEP_TOO_LONG),
            None => return reply(wire::BAD_FORMAT),
        },
        (2, b"enable") => LruCrawler::Enable(true),
        (2, b"disable") => LruCrawler::Enable(false),
        _ => return reply(wire::ERROR),
    };
    Request::Text(TextRequest::LruCrawler(sub))
}

/// `slabs automove <level>` / `slabs automove ratio <r>`, with memcached's replies to bad
/// values: a level that is not a number is a bad format, one over 2 is ERROR, and so is a
/// ratio that is missing or not a number.
fn slabs_automove<'a>(t: &Tokens<'a>) -> Request<'a> {
    let noreply = t.noreply();
    let reply = |msg| Request::Reply { msg, noreply };
    let setting = if t.get(2) == b"ratio" {
        let ratio = std::str::from_utf8(t.get(3))
            .ok()
            .and_then(|r| r.parse::<f64>().ok());
        match ratio {
            Some(r) if t.len >= 4 => Automove::Ratio(r),
            _ => return reply(wire::ERROR),
        }
    } else {
        match parse_u64(t.get(2)).and_then(|l| u32::try_from(l).ok()) {
            Some(level) if level <= 2 => Automove::Level(level),
            Some(_) => return reply(wire::ERROR),
            None => return reply(wire::BAD_FORMAT),
        }
    };
    Request::Text(TextRequest::SlabsAutomove { setting, noreply })
}

fn stats<'a>(t: &Tokens<'a>) -> Request<'a> {
    let family = match (t.get(1), t.len) {
        (_, 1) => StatsRequest::General,
        (b"settings", 2) => StatsRequest::Settings,
        (b"items", 2) => StatsRequest::Items,
        (b"slabs", 2) => StatsRequest::Slabs,
        (b"sizes", 2) => StatsRequest::Sizes,
        (b"conns", 2) => StatsRequest::Conns,
        (b"reset", 2) => StatsRequest::Reset,
        (b"cachedump", 4) => match (parse_u64(t.get(2)), parse_u64(t.get(3))) {
            (Some(class), Some(limit)) => StatsRequest::Cachedump { class, limit },
            _ => return Request::reply(wire::BAD_FORMAT),
        },
        (b"cachedump", _) => return Request::reply(wire::CACHEDUMP_USAGE),
        // memcached reads the word after "detail" and ignores any further one.
        (b"detail", n) if n >= 3 => match t.get(2) {
            b"on" => StatsRequest::Detail(DetailOp::On),
            b"off" => StatsRequest::Detail(DetailOp::Off),
            b"dump" => StatsRequest::Detail(DetailOp::Dump),
            _ => return Request::reply(wire::STATS_DETAIL_USAGE),
        },
        (b"detail", _) => return Request::reply(wire::STATS_DETAIL_USAGE),
        _ => return Request::reply(wire::ERROR),
    };
    Request::Text(TextRequest::Stats(family))
}

/// `VALUE <key> <flags> <bytes> [<cas>]\r\n<data>\r\n`.
pub(crate) fn encode_value(
    out: &mut Vec<u8>,
    key: &[u8],
    flags: u32,
    value: &[u8],
    cas: Option<u64>,
) {
    // One growth for the whole block: header (at most ~60 bytes past the key) and value.
    out.reserve(key.len() + value.len() + 72);
    out.extend_from_slice(b"VALUE ");
    out.extend_from_slice(key);
    super::push_num(out, b' ', flags as u64);
    super::push_num(out, b' ', value.len() as u64);
    if let Some(cas) = cas {
        super::push_num(out, b' ', cas);
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Writes `msg` unless the request said `noreply`.
pub(crate) fn encode_reply(out: &mut Vec<u8>, noreply: bool, msg: &[u8]) {
    if !noreply {
        out.extend_from_slice(msg);
    }
}

#[cfg(test)]
mod tests;
