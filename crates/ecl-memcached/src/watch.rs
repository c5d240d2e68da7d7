//! Log watchers: memcached's `watch` command, a connection that turns into a stream of log
//! lines about what the node does (fetches, stores, evictions, connections).
//!
//! Place in the flow: the store and the connection loop call [`LogHub::log`] where memcached
//! logs (a key lookup, a store's outcome, an eviction, a connection opening or closing); the
//! call is one relaxed load while nobody watches that kind of event. A `watch` request
//! (`execute::text`) registers a [`Watcher`] here, and `server` then serves that connection
//! with [`Watcher::take`] until the client goes away.
//!
//! Lines have memcached 1.6's format (`ts=<secs>.<usecs> gid=<n> type=...`). Each watcher
//! holds at most `watcher_logbuf_size` bytes not yet sent; a line that does not fit is
//! skipped and counted, and the next line that fits is preceded by `skipped=<n>`, as
//! memcached does for a watcher that reads too slowly.

use std::cell::Cell;
use std::io::Write as _;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// Event kinds a watcher asks for (memcached's `LOG_*` flags, same bits).
pub(crate) mod kind {
    pub(crate) const SYSEVENTS: u16 = 1 << 1;
    pub(crate) const FETCHERS: u16 = 1 << 2;
    pub(crate) const MUTATIONS: u16 = 1 << 3;
    pub(crate) const CONNEVENTS: u16 = 1 << 5;
    pub(crate) const EVICTIONS: u16 = 1 << 6;
    pub(crate) const RAWCMDS: u16 = 1 << 9;
    pub(crate) const PROXYREQS: u16 = 1 << 10;
    pub(crate) const PROXYEVENTS: u16 = 1 << 11;
    pub(crate) const PROXYUSER: u16 = 1 << 12;
}

/// The stream names `watch` takes, with their kinds. `sysevents`, `rawcmds` and the proxy
/// streams are accepted and stay silent: a node has no background threads, raw command log
/// or proxy that would write to them (memcached 1.6.18 writes nothing to `rawcmds` either).
const STREAMS: &[(&[u8], u16)] = &[
    (b"rawcmds", kind::RAWCMDS),
    (b"evictions", kind::EVICTIONS),
    (b"fetchers", kind::FETCHERS),
    (b"mutations", kind::MUTATIONS),
    (b"sysevents", kind::SYSEVENTS),
    (b"connevents", kind::CONNEVENTS),
    (b"proxyreqs", kind::PROXYREQS),
    (b"proxyevents", kind::PROXYEVENTS),
    (b"proxyuser", kind::PROXYUSER),
];

/// Watchers a node serves at once (memcached's `WATCHER_LIMIT`).
pub(crate) const WATCHER_LIMIT: usize = 20;

/// Bytes a watcher may hold unsent (memcached's `watcher_logbuf_size` default, 256 KiB).
pub(crate) const WATCHER_BUFFER: usize = 256 * 1024;

/// Room memcached keeps free beside a line for a `skipped=` notice.
const SKIP_NOTICE_ROOM: usize = 128;

/// The kinds named by the arguments of `watch`; none means fetchers. `None` for an unknown
/// name (memcached answers `ERROR`).
pub(crate) fn parse_streams<'a>(names: impl Iterator<Item = &'a [u8]>) -> Option<u16> {
    let mut kinds = 0;
    let mut any = false;
    for name in names {
        any = true;
        kinds |= STREAMS.iter().find(|(n, _)| *n == name)?.1;
    }
    Some(if any { kinds } else { kind::FETCHERS })
}

/// Why a connection closed, as `conn_close` lines name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CloseReason {
    /// A protocol error closed it.
    Error,
    /// The client quit or hung up.
    Normal,
    /// It sat idle past `-o idle_timeout`.
    IdleTimeout,
}

impl CloseReason {
    fn name(self) -> &'static str {
        match self {
            CloseReason::Error => "error",
            CloseReason::Normal => "normal",
            CloseReason::IdleTimeout => "idle_timeout",
        }
    }
}

thread_local! {
    /// The connection whose request this thread runs, as `stats conns` numbers it
    /// (memcached's `cfd`, its descriptor there).
    static CURRENT_FD: Cell<u64> = const { Cell::new(0) };
}

/// Records which connection's requests this thread runs next.
pub(crate) fn set_current_fd(fd: u64) {
    CURRENT_FD.with(|c| c.set(fd));
}

fn current_fd() -> u64 {
    CURRENT_FD.with(Cell::get)
}

/// One watching connection: the lines waiting to be sent.
pub(crate) struct Watcher {
    kinds: u16,
    /// Entries with a lower gid were logged before the watcher started.
    min_gid: u64,
    pending: Mutex<Pending>,
    /// Woken when lines are added.
    pub(crate) ready: tokio::sync::Notify,
}

#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    skipped: u64,
}

impl Watcher {
    /// Takes the lines waiting (empty when there are none).
    pub(crate) fn take(&self) -> Vec<u8> {
        std::mem::take(&mut lock(&self.pending).bytes)
    }
}

/// A node's log: its watchers and the `log_*` counters of `stats`.
#[derive(Default)]
pub(crate) struct LogHub {
    /// The kinds some watcher asks for: the one load a logging site makes.
    wanted: AtomicU16,
    gid: AtomicU64,
    watchers: Mutex<Vec<Arc<Watcher>>>,
    /// Lines produced (memcached's `log_worker_written`).
    pub(crate) written: AtomicU64,
    /// Lines handed to watchers (`log_watcher_sent`).
    pub(crate) sent: AtomicU64,
    /// Lines a watcher had no room for (`log_watcher_skipped`).
    pub(crate) skipped: AtomicU64,
}

/// Why `watch` did not start.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AddError {
    /// [`WATCHER_LIMIT`] watchers already.
    TooMany,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl LogHub {
    /// Whether some watcher wants events of `kind`.
    #[inline]
    pub(crate) fn wants(&self, kind: u16) -> bool {
        self.wanted.load(Ordering::Relaxed) & kind != 0
    }

    /// Zeroes the line counters (`stats reset`; the watchers stay).
    pub(crate) fn reset_counters(&self) {
        for c in [&self.written, &self.sent, &self.skipped] {
            c.store(0, Ordering::Relaxed);
        }
    }

    /// Watchers now (`log_watchers`).
    pub(crate) fn watchers(&self) -> usize {
        lock(&self.watchers).len()
    }

    /// Registers a watcher of `kinds`; its first bytes are memcached's `OK`.
    pub(crate) fn add(&self, kinds: u16) -> Result<Arc<Watcher>, AddError> {
        let mut watchers = lock(&self.watchers);
        if watchers.len() >= WATCHER_LIMIT {
            return Err(AddError::TooMany);
        }
        let watcher = Arc::new(Watcher {
            kinds,
            min_gid: self.gid.load(Ordering::Relaxed) + 1,
            pending: Mutex::new(Pending {
                bytes: b"OK\r\n".to_vec(),
                skipped: 0,
            }),
            ready: tokio::sync::Notify::new(),
        });
        watcher.ready.notify_one();
        watchers.push(watcher.clone());
        self.wanted.fetch_or(kinds, Ordering::Relaxed);
        Ok(watcher)
    }

    /// Unregisters a watcher whose connection ended.
    pub(crate) fn remove(&self, watcher: &Arc<Watcher>) {
        let mut watchers = lock(&self.watchers);
        watchers.retain(|w| !Arc::ptr_eq(w, watcher));
        let kinds = watchers.iter().fold(0, |k, w| k | w.kinds);
        self.wanted.store(kinds, Ordering::Relaxed);
    }

    /// Logs one event of `kind`, its fields written by `body` after the common prefix. Call
    /// only when [`LogHub::wants`] says so (the check is the caller's, so the fields are not
    /// gathered for nothing).
    pub(crate) fn log(&self, kind: u16, body: impl FnOnce(&mut Vec<u8>)) {
        let gid = self.gid.fetch_add(1, Ordering::Relaxed) + 1;
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let mut line = Vec::with_capacity(160);
        // memcached prints the microseconds without padding (`%d`).
        let _ = write!(
            line,
            "ts={}.{} gid={gid} ",
            since.as_secs(),
            since.subsec_micros()
        );
        body(&mut line);
        line.push(b'\n');
        self.written.fetch_add(1, Ordering::Relaxed);
        let watchers = lock(&self.watchers);
        for w in watchers.iter() {
            if w.kinds & kind == 0 || gid < w.min_gid {
                continue;
            }
            if self.offer(w, &line) {
                w.ready.notify_one();
            }
        }
    }

    /// Adds `line` to a watcher's pending bytes if it fits (after a `skipped=` notice when
    /// lines were skipped before); counts a skip otherwise.
    fn offer(&self, w: &Watcher, line: &[u8]) -> bool {
        let mut p = lock(&w.pending);
        if p.bytes.len() + line.len() + SKIP_NOTICE_ROOM > WATCHER_BUFFER {
            p.skipped += 1;
            self.skipped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        if p.skipped > 0 {
            let skipped = p.skipped;
            let _ = writeln!(p.bytes, "skipped={skipped}");
            p.skipped = 0;
        }
        p.bytes.extend_from_slice(line);
        self.sent.fetch_add(1, Ordering::Relaxed);
        true
    }
}

/// Unregisters a watcher when its connection's task ends, however it ends (the client left,
/// a write failed, or the task was aborted by the node's shutdown or a fault).
struct Registered<'a> {
    hub: &'a LogHub,
    watcher: Arc<Watcher>,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.hub.remove(&self.watcher);
    }
}

/// Serves a watcher's connection until the client goes away: sends its lines as they come
/// (flushing when the transport buffers, as TLS does) and reads only to notice the close;
/// whatever the client sends is ignored, as memcached ignores it. Unregisters the watcher.
pub(crate) async fn stream_to<S>(stream: &mut S, hub: &LogHub, watcher: Arc<Watcher>, flush: bool)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let registered = Registered { hub, watcher };
    let watcher = &registered.watcher;
    let mut ignored = [0u8; 512];
    loop {
        let lines = watcher.take();
        if !lines.is_empty() {
            let sent = async {
                stream.write_all(&lines).await?;
                if flush {
                    stream.flush().await?;
                }
                std::io::Result::Ok(())
            };
            if sent.await.is_err() {
                break;
            }
        }
        tokio::select! {
            _ = watcher.ready.notified() => {}
            read = stream.read(&mut ignored) => {
                if !matches!(read, Ok(n) if n > 0) {
                    break;
                }
            }
        }
    }
}

/// Writes `key` URI-encoded as memcached's logger does: letters, digits and `-._~` as they
/// are, every other byte as `%XX`.
pub(crate) fn uri_encode(out: &mut Vec<u8>, key: &[u8]) {
    for &b in key {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

/// The start of an item's log line: its type and its URI-encoded key.
fn item_line(l: &mut Vec<u8>, kind: &str, key: &[u8]) {
    let _ = write!(l, "type={kind} key=");
    uri_encode(l, key);
}

/// What a key lookup found, as `item_get` lines name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lookup {
    Missing,
    Hit,
    Flushed,
    Expired,
}

impl LogHub {
    /// `type=item_get`: a lookup of `key` (every command with a key makes one, as memcached's
    /// item lookup logs); `item` is the class and value size of what was found.
    pub(crate) fn item_get(&self, key: &[u8], found: Lookup, item: (usize, usize)) {
        let status = match found {
            Lookup::Missing => "not_found",
            Lookup::Hit => "found",
            Lookup::Flushed => "flushed",
            Lookup::Expired => "expired",
        };
        self.log(kind::FETCHERS, |l| {
            item_line(l, "item_get", key);
            let _ = write!(
                l,
                " status={status} clsid={} cfd={} size={}",
                item.0,
                current_fd(),
                item.1
            );
        });
    }

    /// `type=item_store`: the outcome of a store of `key` (`cmd` as memcached names it:
    /// set, add, replace, append, prepend, cas); `ttl` seconds left (0: none), `item` the
    /// class and value size stored (0, 0 when refused for its size or memory).
    pub(crate) fn item_store(
        &self,
        key: &[u8],
        status: &str,
        cmd: &str,
        ttl: u32,
        item: (usize, usize),
    ) {
        self.log(kind::MUTATIONS, |l| {
            item_line(l, "item_store", key);
            let _ = write!(
                l,
                " status={status} cmd={cmd} ttl={ttl} clsid={} cfd={} size={}",
                item.0,
                current_fd(),
                item.1
            );
        });
    }

    /// `type=eviction`: `key` left the cache for room; `ttl` seconds left (-1: none), `la`
    /// seconds since its last access.
    pub(crate) fn eviction(
        &self,
        key: &[u8],
        fetched: bool,
        ttl: i64,
        la: u32,
        item: (usize, usize),
    ) {
        self.log(kind::EVICTIONS, |l| {
            item_line(l, "eviction", key);
            let fetch = if fetched { "yes" } else { "no" };
            let _ = write!(
                l,
                " fetch={fetch} ttl={ttl} la={la} clsid={} size={}",
                item.0, item.1
            );
        });
    }

    /// `type=conn_new` / `type=conn_close` for the connection `fd` from `peer`.
    pub(crate) fn conn_event(
        &self,
        peer: std::net::SocketAddr,
        fd: u64,
        close: Option<CloseReason>,
    ) {
        self.log(kind::CONNEVENTS, |l| {
            let kind = if close.is_some() {
                "conn_close"
            } else {
                "conn_new"
            };
            let _ = write!(
                l,
                "type={kind} rip={} rport={} transport=tcp",
                peer.ip(),
                peer.port()
            );
            if let Some(reason) = close {
                let _ = write!(l, " reason={}", reason.name());
            }
            let _ = write!(l, " cfd={fd}");
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(w: &Watcher) -> String {
        String::from_utf8(w.take()).unwrap()
    }

    #[test]
    fn stream_names_and_default() {
        assert_eq!(parse_streams(std::iter::empty()), Some(kind::FETCHERS));
        assert_eq!(
            parse_streams([&b"mutations"[..], b"evictions"].into_iter()),
            Some(kind::MUTATIONS | kind::EVICTIONS)
        );
        assert_eq!(parse_streams([&b"bogus"[..]].into_iter()), None);
    }

    #[test]
    fn keys_are_uri_encoded_like_memcached() {
        let mut out = Vec::new();
        uri_encode(&mut out, b"a-b.c_d~e f#/\xff");
        assert_eq!(out, b"a-b.c_d~e%20f%23%2F%FF");
    }

    #[test]
    fn watcher_sees_only_its_kinds_and_later_events() {
        let hub = LogHub::default();
        assert!(!hub.wants(kind::FETCHERS));
        hub.log(kind::MUTATIONS, |l| l.extend_from_slice(b"before"));
        let w = hub.add(kind::MUTATIONS).unwrap();
        assert!(hub.wants(kind::MUTATIONS) && !hub.wants(kind::FETCHERS));
        hub.item_get(b"k", Lookup::Missing, (0, 0));
        hub.item_store(b"k", "stored", "set", 0, (1, 4));
        let t = text(&w);
        assert!(t.starts_with("OK\r\nts="), "{t}");
        assert!(
            t.ends_with(
                " type=item_store key=k status=stored cmd=set ttl=0 clsid=1 cfd=0 size=4\n"
            ),
            "{t}"
        );
        assert_eq!(t.matches("gid=").count(), 1);
        hub.remove(&w);
        assert!(!hub.wants(kind::MUTATIONS));
        assert_eq!(hub.watchers(), 0);
    }

    #[test]
    fn a_full_watcher_skips_then_says_how_many() {
        let hub = LogHub::default();
        let w = hub.add(kind::FETCHERS).unwrap();
        let key = [b'x'; 200];
        while hub.skipped.load(Ordering::Relaxed) < 3 {
            hub.item_get(&key, Lookup::Missing, (0, 0));
        }
        let first = w.take();
        assert!(first.len() <= WATCHER_BUFFER);
        hub.item_get(b"after", Lookup::Hit, (1, 3));
        let t = text(&w);
        assert!(t.starts_with("skipped=3\nts="), "{t}");
        assert!(t.contains("type=item_get key=after status=found"), "{t}");
    }

    #[test]
    fn at_most_twenty_watchers() {
        let hub = LogHub::default();
        let all: Vec<_> = (0..WATCHER_LIMIT)
            .map(|_| hub.add(kind::FETCHERS).unwrap())
            .collect();
        assert_eq!(hub.add(kind::FETCHERS).err(), Some(AddError::TooMany));
        hub.remove(&all[0]);
        assert!(hub.add(kind::FETCHERS).is_ok());
    }
}
