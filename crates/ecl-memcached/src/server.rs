//! Listener, accept loop, per-connection tasks and the reaper of one node (or of a
//! configuration endpoint).
//!
//! Place in the flow: [`crate::MemcachedNode::start`] binds a socket and calls [`spawn`]; the
//! accept loop runs on the caller's runtime, and each accepted connection becomes a task on
//! one of the memcached worker threads (shared by all nodes, see `WorkerPool`) that reads into a
//! buffer, detects the protocol from the first byte (0x80 = binary, anything else =
//! text/meta, as memcached's auto-negotiation), hands the buffer to `conn::process` (parse
//! with `protocol`, run with `execute`), and writes the accumulated replies once per batch (so
//! pipelined requests cost one write). Shutdown aborts the accept loop and every connection
//! task, which closes their sockets.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tracing::instrument::WithSubscriber;
use tracing::{Instrument, debug, warn};

use crate::ClusterDiscovery;
use crate::conn::{self, ConnState};
use crate::execute::Step;
use crate::node::{ConnInfo, NodeShared};
use crate::protocol;
use crate::stats::Counter;
use crate::watch::{CloseReason, kind as log_kind};
use crate::wire;

/// Where a connection's requests go.
#[derive(Clone)]
pub(crate) enum Target {
    /// A node: always its own store.
    Node(Arc<NodeShared>),
    /// A configuration endpoint: resolves to a running node of the cluster at connect time,
    /// else serves its own empty store.
    ConfigEndpoint {
        discovery: Arc<ClusterDiscovery>,
        fallback: Arc<NodeShared>,
    },
}

impl Target {
    fn resolve(&self) -> Arc<NodeShared> {
        match self {
            Target::Node(n) => n.clone(),
            Target::ConfigEndpoint {
                discovery,
                fallback,
            } => discovery.resolve().unwrap_or_else(|| fallback.clone()),
        }
    }
}

/// Handle to a running listener.
pub(crate) struct Running {
    pub(crate) addr: SocketAddr,
    stop: watch::Sender<bool>,
    accept: JoinHandle<()>,
    reaper: JoinHandle<()>,
    /// TLS policy of the listener, replaceable while it runs.
    pub(crate) tls: ecl_net::PolicyCell,
    /// Network faults the listener's connections suffer (fault injection).
    pub(crate) fault: ecl_net::FaultGate,
}

impl Running {
    /// Closes the listener and every connection, and waits until they are gone.
    pub(crate) async fn shutdown(self, node: &NodeShared) {
        node.running.store(false, Ordering::Relaxed);
        let _ = self.stop.send(true);
        self.reaper.abort();
        let _ = self.accept.await;
        let _ = self.reaper.await;
    }
}

/// Binds `bind` and starts serving `target`. Must run inside a tokio runtime.
pub(crate) fn spawn(
    bind: SocketAddr,
    target: Target,
    reaper_of: Arc<NodeShared>,
    tls: ecl_net::PolicyCell,
) -> io::Result<Running> {
    let handle = Handle::try_current()
        .map_err(|e| io::Error::other(format!("memcached node needs a tokio runtime: {e}")))?;
    let std_listener = std::net::TcpListener::bind(bind)?;
    std_listener.set_nonblocking(true)?;
    let addr = std_listener.local_addr()?;
    let listener = {
        let _enter = handle.enter();
        TcpListener::from_std(std_listener)?
    };
    let (stop, stop_rx) = watch::channel(false);
    // The node's tasks log inside this span (connections during their handshake only).
    let span = tracing::info_span!("node", node = %reaper_of.name, %addr);
    let fault = ecl_net::FaultGate::new();
    let workers = worker_pool()?;
    let accept = handle.spawn(
        accept_loop(
            listener,
            target,
            stop_rx,
            tls.clone(),
            fault.clone(),
            workers,
        )
        .instrument(span.clone()),
    );
    let reaper = handle.spawn(
        async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                // The reaper is the node's LRU maintainer: it sweeps expired items away
                // whether or not the LRU crawler is enabled, as memcached's does.
                if reaper_of.lru_maintainer.load(Ordering::Relaxed) {
                    reaper_of.store.reap(512);
                }
            }
        }
        .instrument(span),
    );
    Ok(Running {
        addr,
        stop,
        accept,
        reaper,
        tls,
        fault,
    })
}

/// Threads of the [`WorkerPool`]: one per core. Measured on 2 cores under memaslap and
/// memcslap against memcached `-t 4` (bench/hand/40-memcached-workers.md): four threads here
/// switched between themselves more and served fewer requests per CPU second than two.
fn worker_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// The worker threads every node's connections run on, shared by all nodes of the process and
/// started with the first one: each thread drives a single-threaded runtime of its own, and a
/// new connection goes to the next thread in turn, as memcached's `-t` threads each own the
/// connections the listener hands them.
///
/// Why not the caller's runtime: it is shared with everything else the process does (the
/// control plane, Redis nodes' replication links), and its tasks wait behind each other. Why
/// not one work-stealing runtime: its idle workers are woken to steal whenever one has work,
/// and under memaslap it used more CPU per request than threads that each keep their own
/// connections (bench/hand/40-memcached-workers.md). Idle threads sleep in their poller, so
/// the pool costs nothing at rest.
struct WorkerPool {
    handles: Vec<Handle>,
    next: std::sync::atomic::AtomicUsize,
}

impl WorkerPool {
    fn start(threads: usize) -> io::Result<WorkerPool> {
        let mut handles = Vec::with_capacity(threads);
        for i in 0..threads {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            handles.push(runtime.handle().clone());
            std::thread::Builder::new()
                .name(format!("memcached-worker-{i}"))
                // The runtime lives as long as the process: its thread drives it forever.
                .spawn(move || runtime.block_on(std::future::pending::<()>()))?;
        }
        Ok(WorkerPool {
            handles,
            next: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// The runtime of the next worker in turn.
    fn next(&self) -> &Handle {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        &self.handles[i % self.handles.len()]
    }
}

/// The process's [`WorkerPool`], started on first use.
fn worker_pool() -> io::Result<&'static WorkerPool> {
    static POOL: std::sync::OnceLock<WorkerPool> = std::sync::OnceLock::new();
    static STARTING: Mutex<()> = Mutex::new(());
    let _one_at_a_time = STARTING.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(pool) = POOL.get() {
        return Ok(pool);
    }
    let pool = WorkerPool::start(worker_threads())?;
    Ok(POOL.get_or_init(|| pool))
}

async fn accept_loop(
    listener: TcpListener,
    target: Target,
    mut stop: watch::Receiver<bool>,
    tls: ecl_net::PolicyCell,
    fault: ecl_net::FaultGate,
    workers: &'static WorkerPool,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => {
                match accepted {
                    Ok((stream, peer)) => {
                        if !fault.admit() {
                            continue;
                        }
                        // The socket moves to the worker runtime: it leaves this runtime's
                        // poller here and joins the workers' poller in the task.
                        let Ok(stream) = stream.into_std() else { continue };
                        let node = target.resolve();
                        let tls = tls.current();
                        let fault = fault.clone();
                        // The node's span, and the subscriber of this thread (the worker
                        // threads may have another default), cover the handshake and the
                        // connect line (the only events a connection logs), not every poll of
                        // the request loop: entering an enabled span costs shared atomics.
                        let span = tracing::Span::current();
                        let dispatch = tracing::dispatcher::get_default(|d| d.clone());
                        let conn = async move {
                            let Ok(stream) = tokio::net::TcpStream::from_std(stream) else {
                                return;
                            };
                            let handshake = ecl_net::accept(tls.as_deref(), stream)
                                .instrument(span.clone())
                                .with_subscriber(dispatch.clone());
                            if let Some(conn) = handshake.await {
                                tracing::dispatcher::with_default(&dispatch, || {
                                    span.in_scope(|| debug!(%peer, "memcached connection"))
                                });
                                let flush = conn.is_tls();
                                serve(fault.wrap(conn), peer, node, flush).await;
                            }
                        };
                        conns.spawn_on(conn, workers.next());
                    }
                    Err(e) => {
                        // Out of descriptors and similar: back off instead of spinning.
                        warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    conns.shutdown().await;
}

/// Decrements the connection gauge and unregisters the connection however the task ends
/// (including abort).
struct ConnGuard(Arc<NodeShared>, u64);

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.0.curr_connections.fetch_sub(1, Ordering::Relaxed);
        self.0
            .conns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.1);
    }
}

/// Serves one connection until it closes. `flush`: the transport buffers writes (TLS), so
/// every batch of replies is flushed; a plain socket sends what it is given.
async fn serve<S>(mut stream: S, peer: SocketAddr, node: Arc<NodeShared>, flush: bool)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let id = node.next_conn.fetch_add(1, Ordering::Relaxed);
    let stripe = id as usize;
    node.store.counters.incr(stripe, Counter::TotalConnections);
    let open = node.curr_connections.fetch_add(1, Ordering::Relaxed) + 1;
    let _guard = ConnGuard(node.clone(), id);
    if open > node.max_connections.load(Ordering::Relaxed) as u64 {
        node.store
            .counters
            .incr(stripe, Counter::RejectedConnections);
        let _ = stream.write_all(wire::TOO_MANY_CONNECTIONS).await;
        let _ = stream.flush().await;
        return;
    }
    let info = Arc::new(ConnInfo {
        peer,
        last_cmd: AtomicU32::new(node.store.clock.now()),
    });
    node.conns
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(id, info.clone());
    // The number `stats conns` shows for the connection names it in log lines too (memcached
    // uses its descriptor for both).
    let number = id + 1;
    let log = &node.store.log;
    if log.wants(log_kind::CONNEVENTS) {
        log.conn_event(peer, number, None);
    }
    let reason = serve_requests(&mut stream, &node, &info, (stripe, number), flush).await;
    if log.wants(log_kind::CONNEVENTS) {
        log.conn_event(peer, number, Some(reason));
    }
}

/// Reads, runs and answers requests until the connection closes (saying why); a `watch`
/// request turns it into a log watcher until the client leaves. `conn` is the connection's
/// counter stripe and its number in `stats conns`. One function for the whole request path:
/// a nested future or a struct of the loop's state cost instructions on every request in
/// callgrind's count.
async fn serve_requests<S>(
    stream: &mut S,
    node: &NodeShared,
    info: &ConnInfo,
    (stripe, number): (usize, u64),
    flush: bool,
) -> CloseReason
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut buf = BytesMut::with_capacity(crate::node::READ_BUFFER);
    let mut out: Vec<u8> = Vec::with_capacity(crate::node::REPLY_BUFFER);
    let mut state = ConnState::new(stripe);
    let mut binary: Option<bool> = None;
    loop {
        // Keep room for a full-sized read (a full BytesMut would otherwise read 64 bytes).
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(16 * 1024);
        }
        let idle = node.idle_timeout.load(Ordering::Relaxed);
        let read = if idle > 0 {
            match tokio::time::timeout(Duration::from_secs(idle), stream.read_buf(&mut buf)).await {
                Ok(r) => r,
                Err(_) => {
                    node.store.counters.incr(stripe, Counter::IdleKicks);
                    return CloseReason::IdleTimeout;
                }
            }
        } else {
            stream.read_buf(&mut buf).await
        };
        match read {
            Ok(0) => return CloseReason::Normal,
            Err(_) => return CloseReason::Error,
            Ok(n) => {
                node.store
                    .counters
                    .add(stripe, Counter::BytesRead, n as u64);
                info.last_cmd
                    .store(node.store.clock.now(), Ordering::Relaxed);
            }
        }
        let is_binary =
            *binary.get_or_insert_with(|| buf.first() == Some(&protocol::binary::REQ_MAGIC));
        if node
            .store
            .log
            .wants(log_kind::FETCHERS | log_kind::MUTATIONS)
        {
            crate::watch::set_current_fd(number);
        }
        loop {
            let step = conn::process(node, &mut state, &mut buf, &mut out, is_binary);
            if !out.is_empty() {
                node.store
                    .counters
                    .add(stripe, Counter::BytesWritten, out.len() as u64);
                // Flush TLS: its stream may keep the tail of a reply buffered otherwise.
                if stream.write_all(&out).await.is_err() || (flush && stream.flush().await.is_err())
                {
                    return CloseReason::Error;
                }
                out.clear();
                if out.capacity() > 4 << 20 {
                    out.shrink_to(16 * 1024);
                }
            }
            if let Step::Watch(kinds) = step {
                let log = &node.store.log;
                match log.add(kinds) {
                    Ok(watcher) => {
                        crate::watch::stream_to(stream, log, watcher, flush).await;
                        return CloseReason::Normal;
                    }
                    // Refused: the reply goes with the next batch, and the requests after
                    // this one are served at once.
                    Err(_) => {
                        out.extend_from_slice(wire::WATCHER_TOO_MANY);
                        state.output_full = true;
                    }
                }
            }
            if matches!(step, Step::Close) || state.closing {
                let _ = stream.shutdown().await;
                return if state.protocol_error {
                    CloseReason::Error
                } else {
                    CloseReason::Normal
                };
            }
            // The protocol paused because its output grew large: requests may still wait in
            // the buffer, so serve them before reading again.
            if !std::mem::take(&mut state.output_full) {
                break;
            }
        }
        if buf.capacity() > 4 << 20 && buf.len() < 16 * 1024 {
            // Give back the memory a large value needed once.
            let mut fresh = BytesMut::with_capacity(16 * 1024);
            fresh.extend_from_slice(&buf);
            buf = fresh;
        }
    }
}
