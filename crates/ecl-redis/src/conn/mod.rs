//! One client connection: read, decode, run a batch under the node lock, write.
//!
//! Place in the flow: the node's accept loop spawns [`serve`] per TCP connection on the node's
//! tokio runtime (`node::runtime`). The loop decodes every complete command its buffer holds, takes the node lock
//! once for the whole batch (pipelining costs one lock and one write, not one per command),
//! then writes all replies at once; a batch stops early once [`PAUSE_OUTPUT`] bytes of replies
//! wait, and the rest of the buffer runs after the socket took them (back-pressure), every
//! unsent byte counted for the client's output buffer limits. Between batches it waits for socket input, events from
//! other clients (Pub/Sub messages, MONITOR lines, unblocking replies, CLIENT KILL), node
//! shutdown, a blocking command's deadline or the idle `timeout`.

mod busy;

use crate::client::{Client, ClientInfo, Event, Pending};
use crate::command::Argv;
use crate::command::dispatch::{Flow, dispatch};
use crate::engine::{Engine, Shared, lock_async};
use crate::outbuf::{PAUSE_OUTPUT, SoftClock, UNAUTHENTICATED_OUTPUT};
use crate::resp::{Decoder, Limits, Reply};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Notify, mpsc, watch};

struct ConnGuard(Arc<Shared>);

impl Drop for ConnGuard {
    fn drop(&mut self) {
        if self.0.conns.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

const READ_CHUNK: usize = 16 * 1024;

/// Serves one connection until it closes; `tls` says whether it arrived encrypted (a switch
/// to TLS-only closes the plaintext ones).
pub async fn serve<S>(
    shared: Arc<Shared>,
    mut stream: S,
    peer: SocketAddr,
    local: SocketAddr,
    tls: bool,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    shared.conns.fetch_add(1, Ordering::AcqRel);
    let _guard = ConnGuard(shared.clone());
    let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
    let mut shutdown = shared.shutdown.subscribe();
    let kill = Arc::new(Notify::new());
    let mut inbuf: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut start = 0usize;
    let registration = busy::Registration {
        shared: shared.clone(),
        tx,
        addrs: (peer, local, tls),
        kill: kill.clone(),
    };
    let Some((mut client, mut dec, pending)) = busy::register_when_possible(registration).await
    else {
        return;
    };
    let id = client.id;
    tracing::debug!(client = id, %peer, "redis client connected");
    let mut out = Output::new(pending);
    let mut idle_timeout = 0u64;
    let mut paused = false;
    'conn: loop {
        let mut more = false;
        if start < inbuf.len() && client.block.is_none() {
            let mut script_busy = false;
            if let Some(mut eng) = lock_async(&shared).await {
                client.query_buf = (inbuf.len() - start, inbuf.capacity() - inbuf.len());
                let end = run_locked_batch(
                    &mut eng,
                    &mut client,
                    &mut dec,
                    (&inbuf, &mut start),
                    &mut out,
                );
                (paused, more) = (end == BatchEnd::Paused, end == BatchEnd::OutputFull);
                eng.note_postponed(client.id, paused);
                idle_timeout = eng.cfg.timeout;
                drop(eng);
                compact_input(&mut inbuf, &mut start);
            } else {
                script_busy = true;
            }
            if script_busy {
                let busy = (&*shared, &mut shutdown, &*kill);
                let turn = busy::busy_turn(
                    &mut stream,
                    (&mut client, &mut dec),
                    (&mut inbuf, &mut start),
                    &mut out,
                    busy,
                );
                match turn.await {
                    busy::BusyTurn::Closed => break 'conn,
                    busy::BusyTurn::Served => continue,
                    // Only part of a command: wait for the rest below.
                    busy::BusyTurn::NeedsInput => {}
                }
            }
        }
        out.account();
        if !out.reply.is_empty() {
            let pubsub = client.sub_count() > 0;
            if !flush(
                &mut stream,
                &mut out,
                (&shared, &mut shutdown, &kill),
                id,
                pubsub,
            )
            .await
            {
                break 'conn;
            }
        }
        if client.close {
            break;
        }
        if more {
            // The batch stopped at the output threshold: run the rest of the input buffer
            // now that the socket took the replies, before reading more.
            continue;
        }
        if paused {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(5)) => {}
                _ = shutdown.changed() => break 'conn,
            }
            continue;
        }
        let waiting = Waiting {
            shared: &shared,
            rx: &mut rx,
            idle_timeout,
        };
        if !wait_for_work(&mut stream, &mut inbuf, &mut client, &mut out, waiting).await {
            break 'conn;
        }
    }
    forget_client(&shared, &mut stream, &client).await;
    tracing::debug!(client = id, "redis client disconnected");
}

/// The connection ended: the node forgets its client. While a busy script holds the lock
/// (QUIT, or a client gone, while it runs), the peer sees the connection end first, as on
/// redis-server, and the node forgets the client once the script ends.
async fn forget_client<S>(shared: &Shared, stream: &mut S, client: &Client)
where
    S: tokio::io::AsyncWrite + Unpin,
{
    let cleaned = shared.try_lock().map(|mut eng| cleanup(&mut eng, client));
    if cleaned.is_none() {
        let _ = tokio::time::timeout(Duration::from_secs(1), stream.shutdown()).await;
        cleanup(&mut *shared.lock_wait().await, client);
    }
}

/// One batch under the node lock ([`run_batch`]), then what follows it there: the batch's
/// accounting and the AOF write (the batch's writes reach the file before its replies leave).
fn run_locked_batch(
    eng: &mut Engine,
    client: &mut Client,
    dec: &mut Decoder,
    (inbuf, start): (&[u8], &mut usize),
    out: &mut Output,
) -> BatchEnd {
    let before = *start;
    let end = run_batch(eng, client, dec, inbuf, start, out);
    let (read, unread) = (*start - before, inbuf.len() - *start);
    account_batch(eng, client, out, read, unread);
    eng.flush_tracking();
    eng.flush_aof();
    end
}

/// After a batch: the query buffer limit (`unread` bytes wait), the output byte counter and the
/// client's CLIENT LIST fields.
fn account_batch(eng: &mut Engine, client: &mut Client, out: &Output, read: usize, unread: usize) {
    if unread > eng.cfg.query_buffer_limit {
        tracing::warn!(
            client = client.id,
            "closing client: query buffer over client-query-buffer-limit"
        );
        client.close = true;
    }
    eng.stats.net_out += (out.reply.len() - out.counted) as u64;
    client.query_buf = (unread, client.query_buf.1 + read);
    sync_info(eng, client, &out.reply);
    eng.evict_clients();
}

/// Drops the input a batch consumed: all of it when nothing is left, else the consumed
/// prefix once it is large or the buffer is nearly full (a partial command stays). A buffer
/// a large command grew goes back to the usual size once emptied, as Redis resizes its query
/// buffers, so a client that once sent a large value does not keep its memory.
fn compact_input(inbuf: &mut Vec<u8>, start: &mut usize) {
    if *start == inbuf.len() {
        inbuf.clear();
        *start = 0;
        if inbuf.capacity() > 2 * READ_CHUNK {
            inbuf.shrink_to(READ_CHUNK);
        }
    } else if *start > 0 && (*start > READ_CHUNK || inbuf.capacity() - inbuf.len() < 1024) {
        inbuf.drain(..*start);
        *start = 0;
    }
}

/// A registered connection's client state, request decoder and output counter.
type Registered = (Client, Decoder, Arc<Pending>);

/// Registers a new connection with the node (CLIENT LIST entry, id, the default user when it
/// needs no password) and gives its client state and request decoder.
fn register(
    eng: &mut Engine,
    shared: &Shared,
    tx: mpsc::UnboundedSender<Event>,
    (peer, local, tls): (SocketAddr, SocketAddr, bool),
    kill: Arc<Notify>,
) -> Registered {
    // Node shutdown tells registered connections with `Event::Kill` (under this lock), so a
    // waiting connection needs no watch of its own; one registering after it is told here.
    if *shared.shutdown.borrow() {
        let _ = tx.send(Event::Kill);
    }
    let id = eng.clients.alloc_id();
    eng.clients.total_connections += 1;
    let pending = Arc::new(Pending::new(
        eng.clients.output_total.clone(),
        eng.clients.io.clone(),
    ));
    let now = eng.now_ms();
    eng.clients.map.insert(
        id,
        ClientInfo {
            tx,
            addr: peer.to_string(),
            laddr: local.to_string(),
            name: String::new(),
            lib_name: String::new(),
            lib_ver: String::new(),
            db: 0,
            created_ms: now,
            last_ms: now,
            last_cmd: "NULL".to_string(),
            resp: 2,
            subs: (0, 0, 0),
            multi: -1,
            blocked: false,
            monitor: false,
            no_evict: false,
            user: "default".to_string(),
            watched: 0,
            pending: pending.clone(),
            kill: kill.clone(),
            tls,
            query_buf: (0, READ_CHUNK),
            evicted: false,
        },
    );
    let authed = eng.acl.default_nopass();
    let limits = Limits {
        max_bulk: eng.cfg.proto_max_bulk_len,
        authenticated: authed,
        ..Limits::default()
    };
    let mut client = Client::new(id, authed);
    crate::command::aclcmd::start_as_default(eng, &mut client);
    (client, Decoder::new(limits), pending)
}

/// What a connection waits on between batches besides its socket.
struct Waiting<'a> {
    shared: &'a Shared,
    rx: &'a mut mpsc::UnboundedReceiver<Event>,
    idle_timeout: u64,
}

/// Waits for the next thing to do: input on the socket, events from other clients (Pub/Sub
/// messages, MONITOR lines, an unblocking reply, CLIENT KILL), a blocking command's deadline,
/// the idle `timeout`, the end of an authenticated session, or node shutdown (an
/// `Event::Kill`, see [`register`]). `false`: the connection ends.
async fn wait_for_work<S>(
    stream: &mut S,
    inbuf: &mut Vec<u8>,
    client: &mut Client,
    out: &mut Output,
    w: Waiting<'_>,
) -> bool
where
    S: tokio::io::AsyncRead + Unpin,
{
    let Waiting {
        shared,
        rx,
        idle_timeout,
    } = w;
    // Events already queued first, so a client that never stops sending still gets its
    // Pub/Sub messages and CLIENT KILL; then the branches in this order (`biased`) rather
    // than tokio's random one, which costs a random number per poll (about 100 instructions
    // of an unpipelined GET's ~4,400) and polls the event queue after every read.
    match rx.try_recv() {
        Ok(first) => return take_events(first, rx, client, out),
        Err(mpsc::error::TryRecvError::Disconnected) => return false,
        Err(mpsc::error::TryRecvError::Empty) => {}
    }
    if inbuf.capacity() - inbuf.len() < READ_CHUNK {
        inbuf.reserve(READ_CHUNK);
    }
    let deadline = client.block.as_ref().and_then(|b| b.deadline_ms);
    let idle = if idle_timeout > 0 && client.block.is_none() && client.sub_count() == 0 {
        Some(Duration::from_secs(idle_timeout))
    } else {
        None
    };
    let block_wait = async {
        match deadline {
            Some(at) => {
                let now = crate::engine::wall_ms();
                let skew = shared.lock_wait().await.clock_offset();
                let left = (at - now - skew).max(0) as u64;
                tokio::time::sleep(Duration::from_millis(left)).await
            }
            None => std::future::pending().await,
        }
    };
    let idle_wait = async {
        match idle {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    let session_expires = client.session_expires;
    let session_end = async {
        match session_expires {
            Some(at) => tokio::time::sleep_until(at.into()).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        biased;
        r = stream.read_buf(inbuf) => {
            match r {
                // Redis counts every read, the one that finds the connection closed too.
                Ok(0) | Err(_) => {
                    out.pending.io.read(0);
                    return false;
                }
                Ok(n) => out.pending.io.read(n),
            }
        },
        // `None`: the node dropped this client's sender, so nothing will ever come.
        ev = rx.recv() => match ev {
            Some(first) => return take_events(first, rx, client, out),
            None => return false,
        },
        _ = block_wait => {
            let mut eng = shared.lock_wait().await;
            if let Some(b) = eng.unblock_client(client.id) {
                out.reply.raw(&eng.blocked_timeout_reply(client.id, &b));
                client.block = None;
                if b.spec.timeout_reply == crate::client::TimeoutReply::Ok {
                    debug_sleep_ended(&mut eng, client, &b);
                }
            }
        }
        _ = idle_wait => return false,
        _ = session_end => {
            tracing::info!(client = client.id, "authenticated session expired: connection closed");
            return false;
        }
    }
    true
}

/// A DEBUG SLEEP's wait is over: it counts as a command that ran that long. (Its deadline
/// is the sleep's end; the wait may have been woken a little after it.)
fn debug_sleep_ended(eng: &mut Engine, client: &Client, b: &crate::engine::Blocked) {
    let argv = b.argv.as_argv();
    let asked_us = (argv.f64(2).unwrap_or(0.0).max(0.0) * 1e6) as u64;
    let late_ms = b
        .spec
        .deadline_ms
        .map_or(0, |at| (eng.now_ms() - at).max(0));
    let slept_us = asked_us + late_ms as u64 * 1000;
    crate::command::dispatch::finish_debug_sleep(eng, client, &argv, slept_us);
}

/// Applies `first` and every other queued event to the connection's output. False when
/// one of them ends the connection (`Event::Kill`).
fn take_events(
    first: Event,
    rx: &mut mpsc::UnboundedReceiver<Event>,
    client: &mut Client,
    out: &mut Output,
) -> bool {
    let mut ev = Some(first);
    while let Some(e) = ev {
        match e {
            Event::Push(b) => out.push(&b),
            Event::Unblocked(b) => {
                out.reply.raw(&b);
                client.block = None;
            }
            Event::Kill => return false,
        }
        ev = rx.try_recv().ok();
    }
    true
}

/// How a batch ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum BatchEnd {
    /// The input buffer holds no complete command (or the client blocked or is closing).
    Drained,
    /// Clients are paused (CLIENT PAUSE): retry shortly.
    Paused,
    /// The output reached [`PAUSE_OUTPUT`]: write it, then run the rest.
    OutputFull,
}

/// Runs the complete commands of `inbuf[*start..]` under the node lock, advancing `*start`.
/// A reply that takes the client over the hard limit of its class drops the whole output
/// and closes the client, as Redis does.
fn run_batch(
    eng: &mut Engine,
    client: &mut Client,
    dec: &mut Decoder,
    inbuf: &[u8],
    start: &mut usize,
    out: &mut Output,
) -> BatchEnd {
    eng.begin_batch();
    dec.limits.max_bulk = eng.cfg.proto_max_bulk_len;
    dec.limits.authenticated = client.authenticated;
    loop {
        match dec.next(&inbuf[*start..]) {
            Ok(Some(n)) => {
                let cmd = &inbuf[*start..*start + n];
                let argv = Argv::new(dec.arg_bytes(cmd), dec.args());
                if !argv.is_empty() {
                    if dispatch(eng, client, &mut out.reply, &argv) == Flow::Paused {
                        return BatchEnd::Paused;
                    }
                    dec.limits.authenticated = client.authenticated;
                    let limit = eng.cfg.output_limits.class(client.sub_count() > 0);
                    let unauthenticated =
                        !client.authenticated && out.unsent() > UNAUTHENTICATED_OUTPUT;
                    if limit.over_hard(out.unsent()) || unauthenticated {
                        let why = if unauthenticated {
                            "unread replies of a client that has not authenticated"
                        } else {
                            "output buffer over client-output-buffer-limit"
                        };
                        tracing::warn!(client = client.id, why, "closing client");
                        out.discard();
                        client.close = true;
                    }
                }
                *start += n;
                if client.block.is_some() || client.close {
                    return BatchEnd::Drained;
                }
                if out.reply.len() >= PAUSE_OUTPUT {
                    return BatchEnd::OutputFull;
                }
            }
            Ok(None) => return BatchEnd::Drained,
            Err(e) => {
                // Redis sends protocol errors as ordinary `ERR` errors, then closes.
                out.reply.error(&format!("ERR {e}"));
                client.close = true;
                return BatchEnd::Drained;
            }
        }
    }
}

/// A connection's unsent output, counted in the client's shared `pending` (CLIENT LIST
/// `omem`, INFO memory, the limits) until the socket takes it.
struct Output {
    reply: Reply,
    /// Bytes of `reply` already counted in `pending` (pushes are counted when queued).
    counted: usize,
    pending: Arc<Pending>,
    soft: SoftClock,
}

impl Output {
    /// Nothing to send yet; unsent bytes will be counted in `pending`.
    fn new(pending: Arc<Pending>) -> Output {
        Output {
            reply: Reply::new(),
            counted: 0,
            pending,
            soft: SoftClock::default(),
        }
    }

    /// Counts the bytes produced since the last call.
    fn account(&mut self) {
        let new = self.reply.len() - self.counted;
        self.counted = self.reply.len();
        self.pending.fetch_add(new, Ordering::AcqRel);
    }

    /// Appends a queued push (counted when it was queued).
    fn push(&mut self, b: &[u8]) {
        self.reply.raw(b);
        self.counted += b.len();
    }

    /// Every output byte of the connection not yet written.
    fn unsent(&self) -> usize {
        self.pending.load(Ordering::Acquire) + self.reply.len() - self.counted
    }

    /// Drops what was not written (the client is being closed for its limits).
    fn discard(&mut self) {
        self.pending.fetch_sub(self.counted, Ordering::AcqRel);
        self.reply.buf.clear();
        self.counted = 0;
    }
}

/// The rest of [`flush`] once the socket would block: writes as the socket takes it, checking
/// the soft output limit every 250 ms (the first check a period later), and stops for node
/// shutdown or CLIENT KILL. False when the connection must close.
async fn flush_waiting<S>(
    stream: &mut S,
    out: &mut Output,
    mut sent: usize,
    (shared, shutdown, kill): (&Shared, &mut watch::Receiver<bool>, &Notify),
    id: u64,
    pubsub: bool,
) -> bool
where
    S: tokio::io::AsyncWrite + Unpin,
{
    let period = Duration::from_millis(250);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    while sent < out.reply.len() {
        tokio::select! {
            r = stream.write(&out.reply.buf[sent..]) => match r {
                Ok(0) | Err(_) => return false,
                Ok(n) => {
                    sent += n;
                    out.pending.fetch_sub(n, Ordering::AcqRel);
                    out.pending.io.wrote();
                }
            },
            _ = tick.tick() => {
                let limit = shared.lock_wait().await.cfg.output_limits.class(pubsub);
                if out.soft.breached(out.unsent(), limit, Instant::now()) {
                    tracing::warn!(client = id, "closing client: output buffer over client-output-buffer-limit");
                    return false;
                }
            }
            _ = shutdown.changed() => return false,
            _ = kill.notified() => {
                tracing::warn!(client = id, "closing client: output buffer over client-output-buffer-limit");
                return false;
            }
        }
    }
    true
}

/// One write attempt that does not wait: `None` when the socket would block.
async fn write_now<S>(stream: &mut S, buf: &[u8]) -> Option<std::io::Result<usize>>
where
    S: tokio::io::AsyncWrite + Unpin,
{
    std::future::poll_fn(
        |cx| match std::pin::Pin::new(&mut *stream).poll_write(cx, buf) {
            std::task::Poll::Ready(r) => std::task::Poll::Ready(Some(r)),
            std::task::Poll::Pending => std::task::Poll::Ready(None),
        },
    )
    .await
}

/// Writes the whole output, uncounting bytes as the socket takes them. While the client does
/// not read, its soft limit is checked every 250 ms. False when the connection must close
/// (write error, node shutdown, killed for its limits).
async fn flush<S>(
    stream: &mut S,
    out: &mut Output,
    (shared, shutdown, kill): (&Shared, &mut watch::Receiver<bool>, &Notify),
    id: u64,
    pubsub: bool,
) -> bool
where
    S: tokio::io::AsyncWrite + Unpin,
{
    let mut sent = 0;
    // The common case: the socket takes the whole output at once. Writing it before setting up
    // the timer and the shutdown and kill watches below saves their cost (about 700
    // instructions a batch, a tenth of an unpipelined GET's).
    while sent < out.reply.len() {
        match write_now(stream, &out.reply.buf[sent..]).await {
            Some(Ok(0)) | Some(Err(_)) => return false,
            Some(Ok(n)) => {
                sent += n;
                out.pending.fetch_sub(n, Ordering::AcqRel);
                out.pending.io.wrote();
            }
            None => break,
        }
    }
    if sent < out.reply.len()
        && !flush_waiting(stream, out, sent, (shared, shutdown, kill), id, pubsub).await
    {
        return false;
    }
    // Flush too: a TLS stream may keep the tail of a reply buffered otherwise.
    if stream.flush().await.is_err() {
        return false;
    }
    out.reply.buf.clear();
    out.counted = 0;
    if out.reply.buf.capacity() > 1 << 20 {
        out.reply.buf.shrink_to(64 * 1024);
    }
    true
}

fn sync_info(eng: &mut Engine, client: &Client, out: &Reply) {
    let now = eng.batch_now();
    let last = eng
        .table
        .entries
        .get(client.last_cmd)
        .map(|e| e.full_name.as_str());
    if let Some(ci) = eng.clients.map.get_mut(&client.id) {
        ci.last_ms = now;
        ci.db = client.db;
        ci.resp = if out.resp3 { 3 } else { 2 };
        ci.subs = (
            client.channels.len(),
            client.patterns.len(),
            client.shard_channels.len(),
        );
        ci.multi = client.multi.as_ref().map_or(-1, |q| q.len() as i64);
        ci.no_evict = client.no_evict;
        ci.watched = client.watches.len();
        ci.query_buf = client.query_buf;
        if let Some(l) = last
            && ci.last_cmd != l
        {
            ci.last_cmd = l.to_string();
        }
    }
}

fn cleanup(eng: &mut Engine, client: &Client) {
    let id = client.id;
    eng.unblock_client(id);
    eng.note_postponed(id, false);
    for ch in &client.channels {
        eng.pubsub.unsubscribe(crate::pubsub::Kind::Channel, ch, id);
    }
    for p in &client.patterns {
        eng.pubsub.unsubscribe(crate::pubsub::Kind::Pattern, p, id);
    }
    for s in &client.shard_channels {
        eng.pubsub.unsubscribe(crate::pubsub::Kind::Shard, s, id);
    }
    for w in &client.watches {
        eng.dbs[w.db].unwatch_key(&w.key);
    }
    eng.clients.monitors.retain(|&m| m != id);
    eng.tracking.remove_client(id);
    eng.clients.map.remove(&id);
}
