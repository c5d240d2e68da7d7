//! One client connection: read, decode, run a batch under the node lock, write.
//!
//! Place in the flow: the node's accept loop spawns [`serve`] per TCP connection on the shared
//! tokio runtime. The loop decodes every complete command its buffer holds, takes the node lock
//! once for the whole batch (pipelining costs one lock and one write, not one per command),
//! then writes all replies at once. Between batches it waits for socket input, events from
//! other clients (Pub/Sub messages, MONITOR lines, unblocking replies, CLIENT KILL), node
//! shutdown, a blocking command's deadline or the idle `timeout`.

use crate::client::{Client, ClientInfo, Event};
use crate::command::Argv;
use crate::command::dispatch::{Flow, dispatch};
use crate::engine::Engine;
use crate::resp::{Decoder, Limits, Reply};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Notify, mpsc, watch};

/// State shared by the node's tasks.
#[derive(Debug)]
pub struct Shared {
    /// The node lock.
    pub engine: Mutex<Engine>,
    /// Flipped to true on shutdown.
    pub shutdown: watch::Sender<bool>,
    /// Live connection tasks.
    pub conns: AtomicUsize,
    /// Signalled when the last connection ends.
    pub idle: Notify,
}

impl Shared {
    /// Takes the node lock. A panic inside a command never poisons it: the dispatcher catches
    /// the panic while the lock is held and marks the node broken (see
    /// [`crate::command::dispatch::dispatch`]). A panic elsewhere under the lock (a bug in
    /// connection bookkeeping) is not expected to leave the keyspace half-written, so a
    /// poisoned lock is still taken.
    pub fn lock(&self) -> MutexGuard<'_, Engine> {
        self.engine.lock().unwrap_or_else(|p| p.into_inner())
    }
}

struct ConnGuard(Arc<Shared>);

impl Drop for ConnGuard {
    fn drop(&mut self) {
        if self.0.conns.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

const READ_CHUNK: usize = 16 * 1024;

/// Takes the node lock for a batch without parking the worker thread when another batch holds
/// it: a short spin, then the task yields so the thread serves other connections' I/O.
async fn lock_async(shared: &Shared) -> MutexGuard<'_, Engine> {
    loop {
        for _ in 0..64 {
            match shared.engine.try_lock() {
                Ok(g) => return g,
                Err(std::sync::TryLockError::Poisoned(p)) => return p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => std::hint::spin_loop(),
            }
        }
        tokio::task::yield_now().await;
    }
}

/// Serves one connection until it closes.
pub async fn serve<S>(shared: Arc<Shared>, mut stream: S, peer: SocketAddr, local: SocketAddr)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    shared.conns.fetch_add(1, Ordering::AcqRel);
    let _guard = ConnGuard(shared.clone());
    let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
    let mut shutdown = shared.shutdown.subscribe();
    let pending = Arc::new(AtomicUsize::new(0));
    let kill = Arc::new(Notify::new());
    let (mut client, mut dec) = {
        let mut eng = shared.lock();
        let id = eng.clients.alloc_id();
        eng.clients.total_connections += 1;
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
            },
        );
        let authed = eng.acl.default_nopass();
        let limits = Limits {
            max_bulk: eng.cfg.proto_max_bulk_len,
            authenticated: authed,
            ..Limits::default()
        };
        let mut client = Client::new(id, authed);
        crate::command::aclcmd::start_as_default(&eng, &mut client);
        (client, Decoder::new(limits))
    };
    let id = client.id;
    tracing::debug!(client = id, %peer, "redis client connected");
    let mut inbuf: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut start = 0usize;
    let mut out = Reply::new();
    let mut idle_timeout = 0u64;
    let mut paused = false;
    'conn: loop {
        if start < inbuf.len() && client.block.is_none() {
            let mut eng = lock_async(&shared).await;
            eng.begin_batch();
            dec.limits.max_bulk = eng.cfg.proto_max_bulk_len;
            dec.limits.authenticated = client.authenticated;
            paused = false;
            let before = start;
            loop {
                match dec.next(&inbuf[start..]) {
                    Ok(Some(n)) => {
                        let cmd = &inbuf[start..start + n];
                        let argv = Argv::new(dec.arg_bytes(cmd), dec.args());
                        if !argv.is_empty() {
                            if dispatch(&mut eng, &mut client, &mut out, &argv) == Flow::Paused {
                                paused = true;
                                break;
                            }
                            dec.limits.authenticated = client.authenticated;
                        }
                        start += n;
                        if client.block.is_some() || client.close {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        out.error(e);
                        client.close = true;
                        break;
                    }
                }
            }
            if inbuf.len() - start > eng.cfg.query_buffer_limit {
                tracing::warn!(
                    client = id,
                    "closing client: query buffer over client-query-buffer-limit"
                );
                client.close = true;
            }
            idle_timeout = eng.cfg.timeout;
            eng.stats.net_in += (start - before) as u64;
            eng.stats.net_out += out.len() as u64;
            sync_info(&mut eng, &client, &out);
            drop(eng);
            if start == inbuf.len() {
                inbuf.clear();
                start = 0;
            } else if start > 0 && (start > READ_CHUNK || inbuf.capacity() - inbuf.len() < 1024) {
                inbuf.drain(..start);
                start = 0;
            }
        }
        if !out.is_empty() {
            tokio::select! {
                // Flush too: a TLS stream may keep the tail of a reply buffered otherwise.
                r = async { stream.write_all(&out.buf).await?; stream.flush().await } => {
                    if r.is_err() { break 'conn; }
                },
                _ = shutdown.changed() => break 'conn,
                _ = kill.notified() => {
                    tracing::warn!(client = id, "closing client: push backlog over the output buffer limit");
                    break 'conn;
                }
            }
            out.buf.clear();
            if out.buf.capacity() > 1 << 20 {
                out.buf.shrink_to(64 * 1024);
            }
        }
        if client.close {
            break;
        }
        if paused {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(5)) => {}
                _ = shutdown.changed() => break 'conn,
            }
            continue;
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
                    let skew = shared.lock().clock_offset();
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
        tokio::select! {
            r = stream.read_buf(&mut inbuf) => match r {
                Ok(0) | Err(_) => break 'conn,
                Ok(_) => {}
            },
            ev = rx.recv() => {
                let mut ev = ev;
                while let Some(e) = ev {
                    match e {
                        Event::Push(b) => {
                            pending.fetch_sub(b.len(), Ordering::AcqRel);
                            out.raw(&b);
                        }
                        Event::Unblocked(b) => {
                            out.raw(&b);
                            client.block = None;
                        }
                        Event::Kill => break 'conn,
                    }
                    ev = rx.try_recv().ok();
                }
            }
            _ = block_wait => {
                let mut eng = shared.lock();
                if let Some(b) = eng.unblock_client(id) {
                    out.raw(&eng.blocked_timeout_reply(id, &b));
                    client.block = None;
                }
            }
            _ = idle_wait => break 'conn,
            _ = shutdown.changed() => break 'conn,
        }
    }
    cleanup(&shared, &client);
    tracing::debug!(client = id, "redis client disconnected");
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
        if let Some(l) = last
            && ci.last_cmd != l
        {
            ci.last_cmd = l.to_string();
        }
    }
}

fn cleanup(shared: &Shared, client: &Client) {
    let mut eng = shared.lock();
    let id = client.id;
    eng.unblock_client(id);
    for ch in &client.channels {
        eng.pubsub.unsubscribe(crate::pubsub::Kind::Channel, ch, id);
    }
    for p in &client.patterns {
        eng.pubsub.unsubscribe(crate::pubsub::Kind::Pattern, p, id);
    }
    for s in &client.shard_channels {
        eng.pubsub.unsubscribe(crate::pubsub::Kind::Shard, s, id);
    }
    eng.clients.monitors.retain(|&m| m != id);
    eng.tracking.remove_client(id);
    eng.clients.map.remove(&id);
}
