//! The replica side of a network link to another Redis server (ElastiCache's online
//! migration): the node connects to the source, performs the replication handshake (`PING`,
//! `REPLCONF listening-port`, `REPLCONF capa eof capa psync2`, `PSYNC ? -1`), loads the RDB
//! payload of the `+FULLRESYNC` (length-prefixed, or the diskless `$EOF:<40-byte mark>` form),
//! then applies the source's command stream and acknowledges it (`REPLCONF ACK <offset>` every
//! second and on `REPLCONF GETACK`).
//!
//! Place in the flow: the supervisor calls `RedisNode::replicate_from_remote` on a group's
//! primary and `RedisNode::stop_remote_replication` (both in `node::replication`) when the migration completes. Unlike an
//! in-process replica (`RedisNode::replicate_from`) the node stays the primary of its own
//! replicas: it refuses writes from clients (`READONLY`, as a replica does) but the source's
//! writes, applied through the dispatcher as the master client, go on down its own stream, so
//! the group's replicas follow (chained replication). Loading the source's RDB replaces the
//! dataset, so the node's own replicas are made to resynchronize with a full copy.
//! [`source_layout`] reads a source before a migration starts (AUTH, cluster mode, its
//! primaries and their slots) so the supervisor can pair each shard with the source shard
//! owning the same slots.

use crate::client::Client;
use crate::command::{OwnedArgv, dispatch};
use crate::engine::Shared;
use crate::engine::replication::{RemoteState, RemoteStatus, own_endpoint};
use crate::resp::Reply;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Attempts at the first synchronisation before the link gives up (as ElastiCache retries a
/// few times, then reports the migration as failed).
const FIRST_SYNC_ATTEMPTS: u32 = 3;
/// Connect and handshake timeout.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest RDB payload accepted (a guard against a corrupt length).
const MAX_PAYLOAD: usize = 4 << 30;

/// Checks that `source` answers `PING` like a Redis server (TestMigration): `Ok` with the
/// server's `redis_version` when INFO gives it, or the reason it cannot be replicated.
pub async fn probe(source: &(String, u16)) -> Result<String, String> {
    let mut conn = Conn::connect(source).await?;
    conn.send(&[b"PING"]).await?;
    let pong = conn.line().await?;
    if pong != b"+PONG" {
        return Err(format!(
            "the source answered PING with {}",
            String::from_utf8_lossy(&pong)
        ));
    }
    conn.send(&[b"INFO", b"server"]).await?;
    let info = conn.bulk().await?;
    let text = String::from_utf8_lossy(&info);
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix("redis_version:"))
        .unwrap_or("unknown")
        .trim()
        .to_string())
}

/// How a replication source is laid out, as read by [`source_layout`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceLayout {
    /// Whether the source asks for AUTH (then nothing else was read: a link cannot log in).
    pub auth_required: bool,
    /// Whether the source runs cluster mode (`INFO cluster`: `cluster_enabled:1`).
    pub cluster: bool,
    /// With cluster mode: every primary that owns slots, with its address and its slot ranges
    /// (sorted, inclusive). Empty without cluster mode.
    pub primaries: Vec<SourcePrimary>,
}

/// One slot-owning primary of a cluster-mode source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourcePrimary {
    /// Host and port it announces (the probed address when it announces no host).
    pub addr: (String, u16),
    /// Its slot ranges, sorted, inclusive.
    pub slots: Vec<(u16, u16)>,
}

/// Reads a source's layout: whether it needs AUTH (a replica link cannot log in), whether it
/// runs cluster mode, and with cluster mode its primaries and their slots (`CLUSTER NODES`).
/// `Err` when the source cannot be reached or does not answer like a Redis server.
pub async fn source_layout(source: &(String, u16)) -> Result<SourceLayout, String> {
    let mut conn = Conn::connect(source).await?;
    conn.send(&[b"PING"]).await?;
    let pong = conn.line().await?;
    if pong.starts_with(b"-NOAUTH") || pong.starts_with(b"-WRONGPASS") {
        return Ok(SourceLayout {
            auth_required: true,
            cluster: false,
            primaries: Vec::new(),
        });
    }
    if pong != b"+PONG" {
        return Err(format!(
            "the source answered PING with {}",
            String::from_utf8_lossy(&pong)
        ));
    }
    conn.send(&[b"INFO", b"cluster"]).await?;
    let info = conn.bulk().await?;
    conn.exact(2).await?; // The bulk string's closing CRLF, before the next reply.
    let cluster = String::from_utf8_lossy(&info)
        .lines()
        .any(|l| l.trim() == "cluster_enabled:1");
    if !cluster {
        return Ok(SourceLayout {
            auth_required: false,
            cluster,
            primaries: Vec::new(),
        });
    }
    conn.send(&[b"CLUSTER", b"NODES"]).await?;
    let nodes = conn.bulk().await?;
    Ok(SourceLayout {
        auth_required: false,
        cluster,
        primaries: parse_cluster_nodes(&String::from_utf8_lossy(&nodes), &source.0),
    })
}

/// The slot-owning primaries of a `CLUSTER NODES` reply (`<id> <host:port@bus> <flags>
/// <primary> <ping> <pong> <epoch> <link> <slot>...`); importing/migrating markers
/// (`[...]`) are skipped, failed primaries left out.
fn parse_cluster_nodes(text: &str, probed_host: &str) -> Vec<SourcePrimary> {
    let mut out = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(addr), Some(flags)) = (fields.get(1), fields.get(2)) else {
            continue;
        };
        let flags: Vec<&str> = flags.split(',').collect();
        if !flags.contains(&"master") || flags.contains(&"fail") || flags.contains(&"noaddr") {
            continue;
        }
        let hostport = addr.split(['@', ',']).next().unwrap_or_default();
        let Some((host, port)) = hostport.rsplit_once(':') else {
            continue;
        };
        let Ok(port) = port.parse::<u16>() else {
            continue;
        };
        let host = if host.is_empty() { probed_host } else { host };
        let mut slots: Vec<(u16, u16)> = fields
            .iter()
            .skip(8)
            .filter(|f| !f.starts_with('['))
            .filter_map(|f| match f.split_once('-') {
                Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
                None => f.parse().ok().map(|s| (s, s)),
            })
            .collect();
        if slots.is_empty() {
            continue;
        }
        slots.sort_unstable();
        out.push(SourcePrimary {
            addr: (host.to_string(), port),
            slots,
        });
    }
    out
}

/// The link task: sessions until the node stops, is re-targeted, or the first sync fails
/// [`FIRST_SYNC_ATTEMPTS`] times.
pub(crate) async fn run(
    shared: Arc<Shared>,
    state: Arc<RemoteState>,
    source: (String, u16),
    generation: u64,
) {
    let mut own_down = shared.shutdown.subscribe();
    let mut failures = 0;
    loop {
        state.set(&RemoteStatus::Connecting);
        let err = tokio::select! {
            r = session(&shared, &state, &source, generation) => match r {
                Ok(()) => return,
                Err(e) => e,
            },
            _ = own_down.changed() => return,
        };
        tracing::warn!(?source, error = %err, "replication link to source failed");
        if state.syncs.load(Ordering::Acquire) == 0 {
            failures += 1;
            if failures >= FIRST_SYNC_ATTEMPTS {
                state.set(&RemoteStatus::Failed(err));
                return;
            }
        } else {
            state.set(&RemoteStatus::Reconnecting(err));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        if shared.lock().repl.generation != generation {
            return;
        }
    }
}

/// One connection: handshake, full sync, then the stream until it breaks (`Err`) or the link
/// is no longer wanted (`Ok`).
async fn session(
    shared: &Arc<Shared>,
    state: &RemoteState,
    source: &(String, u16),
    generation: u64,
) -> Result<(), String> {
    let mut conn = Conn::connect(source).await?;
    let port = own_endpoint(&shared.lock()).1.to_string();
    let offset = conn.handshake(port.as_bytes()).await?;
    state.set(&RemoteStatus::Syncing);
    let rdb = conn.payload().await?;
    if !load(shared, &rdb, generation)? {
        return Ok(());
    }
    state.offset.store(offset, Ordering::Release);
    state.syncs.fetch_add(1, Ordering::AcqRel);
    state.set(&RemoteStatus::Up);
    tracing::info!(
        ?source,
        bytes = rdb.len(),
        offset,
        "synchronized with source"
    );
    drop(rdb);
    stream(shared, state, &mut conn, generation).await
}

/// Loads the source's RDB in place of the dataset and makes the node's own replicas resync.
/// `Ok(false)` when the link was stopped meanwhile.
fn load(shared: &Shared, rdb: &[u8], generation: u64) -> Result<bool, String> {
    let opts = crate::persistence::read_options(&shared.lock());
    let (data, stats) =
        crate::rdb::file::read(rdb, &opts).map_err(|e| format!("cannot load the RDB: {e}"))?;
    let mut eng = shared.lock();
    if eng.repl.generation != generation {
        return Ok(false);
    }
    crate::persistence::install(&mut eng, data, &stats);
    for db in &mut eng.dbs {
        db.keep_expired = true;
    }
    // The downstream replicas held the old dataset: drop their links so they take a new copy.
    for d in &eng.repl.replicas {
        d.link.overflow.store(true, Ordering::Release);
        d.link.closed.store(true, Ordering::Release);
    }
    eng.repl.prune();
    eng.repl.last_db = None;
    Ok(true)
}

/// Applies the source's command stream; acknowledges every second.
async fn stream(
    shared: &Shared,
    state: &RemoteState,
    conn: &mut Conn,
    generation: u64,
) -> Result<(), String> {
    let mut master = Client::new(0, true);
    master.master = true;
    master.in_exec = true;
    let mut txn: Option<Vec<OwnedArgv>> = None;
    // ACK every second like a Redis replica, and every 100 ms during the first seconds: a
    // diskless source starts the stream only on an ACK that arrives once it has put the
    // replica online, which the very first one may precede.
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let synced = tokio::time::Instant::now();
    let mut last_ack = synced;
    loop {
        tokio::select! {
            r = conn.fill() => r?,
            now = tick.tick() => {
                if now - synced < Duration::from_secs(3) || now - last_ack >= Duration::from_secs(1) {
                    last_ack = now;
                    let off = state.offset.load(Ordering::Acquire).to_string();
                    conn.send(&[b"REPLCONF", b"ACK", off.as_bytes()]).await?;
                }
                continue;
            }
        }
        let mut getack = false;
        let mut units: Vec<Vec<OwnedArgv>> = Vec::new();
        let mut applied = state.offset.load(Ordering::Acquire);
        while let Some((cmd, len)) = conn.command()? {
            applied += len as u64;
            let a = cmd.as_argv();
            let name = (!a.is_empty()).then(|| a.get(0).to_ascii_uppercase());
            match (name.as_deref(), txn.as_mut()) {
                (Some(b"PING"), _) => {}
                (Some(b"REPLCONF"), _) => getack = true,
                (Some(b"MULTI"), _) => txn = Some(Vec::new()),
                (Some(b"EXEC"), Some(_)) => units.extend(txn.take()),
                (_, Some(t)) => t.push(cmd),
                (_, None) => units.push(vec![cmd]),
            }
        }
        if !apply(shared, &mut master, &units, generation) {
            return Ok(());
        }
        state.offset.store(applied, Ordering::Release);
        if getack {
            let off = applied.to_string();
            conn.send(&[b"REPLCONF", b"ACK", off.as_bytes()]).await?;
        }
    }
}

/// Applies units under one lock, each leaving as one unit on the node's own stream. `false`
/// when the link is no longer wanted.
fn apply(shared: &Shared, master: &mut Client, units: &[Vec<OwnedArgv>], generation: u64) -> bool {
    let mut eng = shared.lock();
    if eng.repl.generation != generation || eng.repl.remote.is_none() {
        return false;
    }
    if units.is_empty() {
        return true;
    }
    eng.begin_batch();
    let mut sink = Reply::new();
    for unit in units {
        for c in unit {
            dispatch::dispatch(&mut eng, master, &mut sink, &c.as_argv());
            sink.buf.clear();
        }
        eng.flush_txn();
    }
    true
}

/// A buffered connection to the source.
struct Conn {
    sock: TcpStream,
    buf: Vec<u8>,
    pos: usize,
}

impl Conn {
    async fn connect(source: &(String, u16)) -> Result<Conn, String> {
        let addr = (source.0.as_str(), source.1);
        let sock = tokio::time::timeout(IO_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| format!("timed out connecting to {}:{}", source.0, source.1))?
            .map_err(|e| format!("cannot connect to {}:{}: {e}", source.0, source.1))?;
        let _ = sock.set_nodelay(true);
        Ok(Conn {
            sock,
            buf: Vec::new(),
            pos: 0,
        })
    }

    async fn send(&mut self, args: &[&[u8]]) -> Result<(), String> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.sock
            .write_all(&out)
            .await
            .map_err(|e| format!("write to source failed: {e}"))
    }

    /// Reads more bytes into the buffer (compacting what was consumed).
    async fn fill(&mut self) -> Result<(), String> {
        if self.pos > 0 && self.pos * 2 >= self.buf.len() {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let mut chunk = [0u8; 64 * 1024];
        let n = self
            .sock
            .read(&mut chunk)
            .await
            .map_err(|e| format!("read from source failed: {e}"))?;
        if n == 0 {
            return Err("the source closed the connection".to_string());
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// One line without its CRLF, with a timeout (handshake replies).
    async fn line(&mut self) -> Result<Vec<u8>, String> {
        let deadline = tokio::time::Instant::now() + IO_TIMEOUT;
        loop {
            if let Some(i) = self.buf[self.pos..].iter().position(|&b| b == b'\n') {
                let end = self.pos + i;
                let line = self.buf[self.pos..end]
                    .strip_suffix(b"\r")
                    .unwrap_or(&self.buf[self.pos..end])
                    .to_vec();
                self.pos = end + 1;
                return Ok(line);
            }
            tokio::time::timeout_at(deadline, self.fill())
                .await
                .map_err(|_| "the source did not answer in time".to_string())??;
        }
    }

    /// A bulk string reply (`$<len>`), with a timeout.
    async fn bulk(&mut self) -> Result<Vec<u8>, String> {
        let head = self.line().await?;
        let len = parse_len(head.strip_prefix(b"$").unwrap_or(b"-"))
            .ok_or_else(|| format!("unexpected reply {}", String::from_utf8_lossy(&head)))?;
        self.exact(len).await
    }

    /// Exactly `n` more bytes.
    async fn exact(&mut self, n: usize) -> Result<Vec<u8>, String> {
        while self.buf.len() - self.pos < n {
            self.fill().await?;
        }
        let out = self.buf[self.pos..self.pos + n].to_vec();
        self.pos += n;
        Ok(out)
    }

    /// The handshake up to `+FULLRESYNC`; answers the source's starting offset.
    async fn handshake(&mut self, port: &[u8]) -> Result<u64, String> {
        self.send(&[b"PING"]).await?;
        let pong = self.line().await?;
        if pong.starts_with(b"-") {
            return Err(format!(
                "the source refused PING: {}",
                String::from_utf8_lossy(&pong[1..])
            ));
        }
        self.send(&[b"REPLCONF", b"listening-port", port]).await?;
        self.line().await?;
        self.send(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"])
            .await?;
        self.line().await?;
        self.send(&[b"PSYNC", b"?", b"-1"]).await?;
        let reply = loop {
            let l = self.line().await?;
            if !l.is_empty() {
                break l;
            }
        };
        let text = String::from_utf8_lossy(&reply).to_string();
        let mut words = text.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some("+FULLRESYNC"), Some(_replid), Some(off)) => off
                .parse()
                .map_err(|_| format!("bad FULLRESYNC offset in {text}")),
            _ => Err(format!("the source refused PSYNC: {text}")),
        }
    }

    /// The RDB payload after `+FULLRESYNC`: `$<len>` then that many bytes, or `$EOF:<mark>`
    /// then bytes up to the 40-byte mark. Newlines before it are the source's keepalives.
    async fn payload(&mut self) -> Result<Vec<u8>, String> {
        let head = loop {
            while self.pos >= self.buf.len() {
                self.fill().await?;
            }
            if self.buf[self.pos] == b'\n' {
                self.pos += 1;
                continue;
            }
            break self.line_unbounded().await?;
        };
        let Some(rest) = head.strip_prefix(b"$") else {
            return Err(format!(
                "unexpected payload header {}",
                String::from_utf8_lossy(&head)
            ));
        };
        if let Some(mark) = rest.strip_prefix(b"EOF:") {
            if mark.len() != 40 {
                return Err("bad EOF mark in the payload header".to_string());
            }
            return self.until_mark(mark).await;
        }
        let len = parse_len(rest)
            .filter(|&n| n <= MAX_PAYLOAD)
            .ok_or("bad payload length")?;
        self.exact(len).await
    }

    /// A line with no timeout (the source may take long to produce its RDB).
    async fn line_unbounded(&mut self) -> Result<Vec<u8>, String> {
        loop {
            if let Some(i) = self.buf[self.pos..].iter().position(|&b| b == b'\n') {
                let end = self.pos + i;
                let line = self.buf[self.pos..end]
                    .strip_suffix(b"\r")
                    .unwrap_or(&self.buf[self.pos..end])
                    .to_vec();
                self.pos = end + 1;
                return Ok(line);
            }
            self.fill().await?;
        }
    }

    /// Bytes up to (not including) `mark`, which ends the diskless payload. Each read is
    /// searched once (plus the mark's length before it), so a large payload costs linear time.
    async fn until_mark(&mut self, mark: &[u8]) -> Result<Vec<u8>, String> {
        let mut searched: usize = 0;
        loop {
            let have = &self.buf[self.pos..];
            let from = searched.saturating_sub(mark.len() - 1);
            if let Some(i) = have[from..].windows(mark.len()).position(|w| w == mark) {
                let out = have[..from + i].to_vec();
                self.pos += from + i + mark.len();
                return Ok(out);
            }
            searched = have.len();
            if searched > MAX_PAYLOAD {
                return Err("the payload is too large".to_string());
            }
            self.fill().await?;
        }
    }

    /// The next complete command of the stream (`*N` of bulk strings) and its length in
    /// bytes; `None` when more bytes are needed.
    fn command(&mut self) -> Result<Option<(OwnedArgv, usize)>, String> {
        let b = &self.buf[self.pos..];
        if b.is_empty() {
            return Ok(None);
        }
        if b[0] != b'*' {
            return Err(format!(
                "unexpected byte {:?} in the replication stream",
                b[0] as char
            ));
        }
        let Some((n, mut at)) = header(b, 0)? else {
            return Ok(None);
        };
        let mut args: Vec<&[u8]> = Vec::with_capacity(n);
        for _ in 0..n {
            if at >= b.len() {
                return Ok(None);
            }
            if b[at] != b'$' {
                return Err("expected a bulk string in the replication stream".to_string());
            }
            let Some((len, start)) = header(b, at)? else {
                return Ok(None);
            };
            if b.len() < start + len + 2 {
                return Ok(None);
            }
            args.push(&b[start..start + len]);
            at = start + len + 2;
        }
        let cmd = OwnedArgv::from_slices(args);
        self.pos += at;
        Ok(Some((cmd, at)))
    }
}

/// Parses `<prefix><n>\r\n` at `at`: `(n, index after the CRLF)`, `None` when incomplete.
fn header(b: &[u8], at: usize) -> Result<Option<(usize, usize)>, String> {
    let Some(i) = b[at..].iter().position(|&c| c == b'\n') else {
        return Ok(None);
    };
    let line = &b[at + 1..at + i];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let n = parse_len(line).ok_or("bad length in the replication stream")?;
    Ok(Some((n, at + i + 1)))
}

fn parse_len(s: &[u8]) -> Option<usize> {
    std::str::from_utf8(s).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_nodes_give_slot_owning_primaries() {
        let text = "\
a1 127.0.0.1:7001@17001 myself,master - 0 0 1 connected 0-8191 [9000->-b2]
b2 127.0.0.1:7002@17002,host master - 0 0 2 connected 8192-10000 10002 10001-16383
c3 127.0.0.1:7003@17003 slave a1 0 0 1 connected
d4 :7004@17004 master - 0 0 3 connected 10001
e5 127.0.0.1:7005@17005 master,fail - 0 0 4 disconnected 10002
f6 127.0.0.1:7006@17006 master - 0 0 5 connected
";
        let got = parse_cluster_nodes(text, "10.0.0.9");
        let addrs: Vec<_> = got.iter().map(|p| (p.addr.0.as_str(), p.addr.1)).collect();
        assert_eq!(
            addrs,
            [("127.0.0.1", 7001), ("127.0.0.1", 7002), ("10.0.0.9", 7004)]
        );
        assert_eq!(got[0].slots, [(0, 8191)]);
        assert_eq!(
            got[1].slots,
            [(8192, 10000), (10001, 16383), (10002, 10002)]
        );
    }
}
