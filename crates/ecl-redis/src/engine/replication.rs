//! The replication state the engine holds, and the engine's side of propagation.
//!
//! Place in the flow: a part of the engine. [`Replication`] is the node's role, the stream's
//! ids and offsets, the links to its replicas (each fed [`Unit`]s through a channel), WAIT
//! waiters and the upstream link's state; the dispatcher hands every write's effects to
//! [`Engine::propagate_command`] (and expiry, eviction and EXEC their own), which number
//! them as units, fan them out to replica links and the AOF. The link tasks that carry units
//! between nodes are `crate::replication`; WAIT, ROLE and INFO replication read this state
//! (`command::replication`). See `crate::replication` for the protocol as a whole.

use super::{Blocked, Engine, Propagation};
use crate::argv::{Argv, OwnedArgv};
use crate::client::{Client, Event};
use crate::db::Key;
use crate::resp::Reply;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// A node's replication role, as the supervisor sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplicationRole {
    /// Serves writes (the default).
    Primary,
    /// Replicates `primary` (its endpoint as clients see it).
    Replica {
        /// The primary's announced endpoint (INFO `master_host`/`master_port`).
        primary: (String, u16),
        /// Whether the initial copy is done and the link is alive (`master_link_status:up`).
        link_up: bool,
    },
}

/// A block of stream commands applied atomically on the replica (one command, or a whole
/// `MULTI … EXEC`), with the primary's offset after it.
#[derive(Debug)]
pub struct Unit {
    /// Commands in stream order (including `SELECT`, `MULTI`, `EXEC`).
    pub cmds: Vec<OwnedArgv>,
    /// `master_repl_offset` once this unit is counted.
    pub end: u64,
    /// RESP bytes of the unit.
    pub bytes: u64,
    /// Whether `cmds` starts with `MULTI` and ends with `EXEC` (a transaction's unit).
    pub wrapped: bool,
}

impl Unit {
    /// The commands a replica applies: the unit without its `MULTI`/`EXEC` wrapper (the
    /// replica applies a whole unit under one lock, which is what the wrapper asks for).
    pub fn body(&self) -> &[OwnedArgv] {
        if self.wrapped && self.cmds.len() >= 2 {
            &self.cmds[1..self.cmds.len() - 1]
        } else {
            &self.cmds
        }
    }
}

/// What primary and replica share about one link.
#[derive(Debug)]
pub struct LinkState {
    /// Offset the replica has applied (REPLCONF ACK).
    pub ack: AtomicU64,
    /// When it last acknowledged (Unix ms).
    pub last_ack_ms: AtomicI64,
    /// Set when the replica leaves (promotion, re-targeting, shutdown).
    pub closed: AtomicBool,
    /// Whether the full copy has been loaded and the link is alive.
    pub online: AtomicBool,
    /// Whether the full copy has been loaded (stays set when the link later goes down).
    pub loaded: AtomicBool,
    /// When the link went down (Unix ms), 0 while up or syncing.
    pub down_since_ms: AtomicI64,
    /// Stream bytes sent but not yet applied (the replica's output buffer on the primary).
    pub pending: AtomicU64,
    /// Set by the primary when `pending` passed the `client-output-buffer-limit` for
    /// replicas: the link is dropped and the replica resynchronizes from scratch.
    pub overflow: AtomicBool,
}

impl LinkState {
    /// A new link, not yet loaded or online, whose last acknowledgement is `now_ms`.
    pub fn new(now_ms: i64) -> LinkState {
        LinkState {
            ack: AtomicU64::new(0),
            last_ack_ms: AtomicI64::new(now_ms),
            closed: AtomicBool::new(false),
            online: AtomicBool::new(false),
            loaded: AtomicBool::new(false),
            down_since_ms: AtomicI64::new(0),
            pending: AtomicU64::new(0),
            overflow: AtomicBool::new(false),
        }
    }
}

/// One replica attached to this primary.
#[derive(Debug)]
pub struct Downstream {
    /// The replica's endpoint as clients see it (INFO `slaveN:ip=…,port=…`).
    pub addr: (String, u16),
    /// Stream sender.
    pub tx: mpsc::UnboundedSender<Arc<Unit>>,
    /// Acknowledgements.
    pub link: Arc<LinkState>,
}

/// A client blocked in `WAIT`.
#[derive(Debug)]
pub struct Waiter {
    /// Client id.
    pub id: u64,
    /// Offset to be acknowledged.
    pub offset: u64,
    /// Replicas wanted.
    pub want: usize,
}

impl super::Engine {
    /// CONFIG GET `replicaof`: the primary this node replicates, as "host port" (a node of a
    /// replication group, or REPLICAOF a remote server), empty on a primary.
    pub fn replicaof(&self) -> String {
        let primary = match (&self.repl.upstream, &self.repl.remote) {
            (Some(up), _) => &up.primary,
            (None, Some(remote)) => &remote.source,
            (None, None) => return String::new(),
        };
        format!("{} {}", primary.0, primary.1)
    }
}

/// The replica side of a link.
#[derive(Debug)]
pub struct Upstream {
    /// The primary's announced endpoint.
    pub primary: (String, u16),
    /// Shared with the primary.
    pub link: Arc<LinkState>,
    /// The applier task.
    pub task: Option<tokio::task::AbortHandle>,
}

/// Replication state of a node (behind the node lock).
#[derive(Debug)]
pub struct Replication {
    /// Replication id (40 hex), new on every promotion.
    pub replid: String,
    /// Previous replication id (after a promotion), `0…0` otherwise.
    pub replid2: String,
    /// Offset where `replid2` ended (-1 if none).
    pub second_offset: i64,
    /// `master_repl_offset` on a primary; processed offset on a replica.
    pub offset: u64,
    /// Whether a stream has ever been produced (Redis keeps offsets once a backlog exists).
    pub backlog_active: bool,
    /// First offset of the backlog.
    pub backlog_first: u64,
    /// Replicas attached (primary side).
    pub replicas: Vec<Downstream>,
    /// Database the stream last selected.
    pub last_db: Option<usize>,
    /// Commands of a running `EXEC`, propagated as one `MULTI … EXEC` when it ends.
    pub txn: Vec<(usize, OwnedArgv)>,
    /// Clients blocked in `WAIT`.
    pub waiters: Vec<Waiter>,
    /// Set while this node is a replica.
    pub upstream: Option<Upstream>,
    /// The network link to a source server (online migration), if any.
    pub remote: Option<RemoteUpstream>,
    /// Bumped whenever the upstream changes, so a stale applier stops applying.
    pub generation: u64,
}

/// 40 random hex characters (run ids, replication ids, node ids).
pub use crate::ids::random_hex40;

impl Default for Replication {
    fn default() -> Self {
        Replication {
            replid: random_hex40(),
            replid2: "0".repeat(40),
            second_offset: -1,
            offset: 0,
            backlog_active: false,
            backlog_first: 0,
            replicas: Vec::new(),
            last_db: None,
            txn: Vec::new(),
            waiters: Vec::new(),
            upstream: None,
            remote: None,
            generation: 0,
        }
    }
}

impl Replication {
    /// Whether this node replicates another.
    pub fn is_replica(&self) -> bool {
        self.upstream.is_some() || self.remote.is_some()
    }

    /// Whether writes are to be streamed (primary with a backlog).
    pub fn streaming(&self) -> bool {
        self.upstream.is_none() && self.backlog_active
    }

    /// Replicas online whose last acknowledgement is at most `max_lag_s` seconds old at
    /// `now_ms` (Redis' "good replicas", INFO `min_slaves_good_slaves`).
    pub fn good_replicas(&self, now_ms: i64, max_lag_s: i64) -> usize {
        let fresh = |d: &&Downstream| {
            let lag = (now_ms - d.link.last_ack_ms.load(Ordering::Acquire)).max(0) / 1000;
            d.link.online.load(Ordering::Acquire) && lag <= max_lag_s
        };
        self.replicas.iter().filter(fresh).count()
    }

    /// Replicas that acknowledged at least `offset`.
    pub fn acked(&self, offset: u64) -> usize {
        self.replicas
            .iter()
            .filter(|d| {
                !d.link.closed.load(Ordering::Acquire) && d.link.online.load(Ordering::Acquire)
            })
            .filter(|d| d.link.ack.load(Ordering::Acquire) >= offset)
            .count()
    }

    pub(crate) fn prune(&mut self) {
        self.replicas
            .retain(|d| !d.link.closed.load(Ordering::Acquire) && !d.tx.is_closed());
    }

    /// Drops every replica of this node so each one resynchronizes from scratch (its applier
    /// sees an overflowed link and takes a new full copy): the data this node streams is about
    /// to restart from another copy, so what they hold no longer continues it.
    pub(crate) fn resync_downstream(&mut self) {
        for d in self.replicas.drain(..) {
            d.link.overflow.store(true, Ordering::Release);
            d.link.closed.store(true, Ordering::Release);
        }
    }

    /// Leaves the current primary (if any): the old link is closed so that primary forgets it.
    pub(crate) fn detach(&mut self) {
        self.generation += 1;
        if let Some(up) = self.upstream.take() {
            up.link.closed.store(true, Ordering::Release);
            if let Some(t) = up.task {
                t.abort();
            }
        }
    }
}

/// RESP length of one command (what it adds to the replication offset).
pub(crate) fn resp_len(argv: &OwnedArgv) -> u64 {
    let a = argv.as_argv();
    let digits = |n: usize| n.to_string().len() as u64;
    let mut n = 1 + digits(a.len()) + 2;
    for x in a.iter_from(0) {
        n += 1 + digits(x.len()) + 2 + x.len() as u64 + 2;
    }
    n
}

pub(crate) fn owned(parts: &[&[u8]]) -> OwnedArgv {
    OwnedArgv::from_slices(parts.iter().copied())
}

impl Engine {
    /// Whether a write must be refused with NOREPLICAS: a primary with `min-replicas-to-write`
    /// and `min-replicas-max-lag` both set and fewer good replicas than the first asks.
    pub fn too_few_good_replicas(&self, now_ms: i64) -> bool {
        let (min, max_lag) = self.cfg.min_replicas;
        min > 0
            && max_lag > 0
            && !self.repl.is_replica()
            && self.repl.good_replicas(now_ms, max_lag) < min
    }

    /// Sends one unit (commands for database `db`) down the stream.
    pub(crate) fn emit(&mut self, parts: Vec<(usize, OwnedArgv)>, wrap: bool) {
        // The AOF records the same stream, with its own SELECTs.
        if let Some(aof) = &mut self.persist.aof {
            aof.feed(&parts, wrap);
        }
        if !self.repl.streaming() {
            return;
        }
        let mut cmds = Vec::with_capacity(parts.len() + 3);
        if wrap {
            cmds.push(owned(&[b"MULTI"]));
        }
        for (db, c) in parts {
            if self.repl.last_db != Some(db) {
                let d = db.to_string();
                cmds.push(owned(&[b"SELECT", d.as_bytes()]));
                self.repl.last_db = Some(db);
            }
            cmds.push(c);
        }
        if wrap {
            cmds.push(owned(&[b"EXEC"]));
        }
        let bytes: u64 = cmds.iter().map(resp_len).sum();
        self.repl.offset += bytes;
        self.cluster
            .offset_cell
            .store(self.repl.offset, Ordering::Release);
        let unit = Arc::new(Unit {
            cmds,
            end: self.repl.offset,
            bytes,
            wrapped: wrap,
        });
        self.fan_out(&unit);
    }

    /// Sends one unit to every replica link, dropping the links over their output buffer
    /// limit. Used for this node's own stream and, on a replica, for the units it forwards.
    pub(crate) fn fan_out(&mut self, unit: &Arc<Unit>) {
        let bytes = unit.bytes;
        let limit = replica_buffer_limit(&self.cfg);
        let mut closed = false;
        for d in &self.repl.replicas {
            let pending = d.link.pending.fetch_add(bytes, Ordering::AcqRel) + bytes;
            if limit > 0 && pending > limit {
                // Like Redis, a replica that falls this far behind is disconnected; it then
                // resynchronizes with a full copy.
                tracing::warn!(replica = ?d.addr, pending, "replica output buffer over limit: dropping the link");
                d.link.overflow.store(true, Ordering::Release);
                d.link.closed.store(true, Ordering::Release);
                closed = true;
            } else if d.tx.send(unit.clone()).is_err() {
                closed = true;
            }
        }
        if closed {
            self.repl.prune();
        }
    }

    /// Queues commands produced by one client command: buffered while an `EXEC` runs. A
    /// script runner does the same: it dispatches the script's commands with
    /// `client.in_exec` set, so their effects leave as one `MULTI … EXEC` unit when the
    /// script's own command ends.
    pub(crate) fn propagate_parts(&mut self, in_exec: bool, parts: Vec<(usize, OwnedArgv)>) {
        if parts.is_empty() {
            return;
        }
        if in_exec {
            self.repl.txn.extend(parts);
        } else {
            self.emit(parts, false);
        }
    }

    /// Ends a transaction: its buffered commands go out as one `MULTI … EXEC` unit.
    pub fn flush_txn(&mut self) {
        let parts = std::mem::take(&mut self.repl.txn);
        match parts.len() {
            0 => {}
            1 => self.emit(parts, false),
            _ => self.emit(parts, true),
        }
    }

    /// Propagates a `FLUSHALL` done outside any client (the supervisor's `flush_all`).
    pub fn propagate_flushall(&mut self) {
        if self.feeding() {
            self.emit(vec![(0, owned(&[b"FLUSHALL"]))], false);
        }
    }

    /// Answers every client blocked in `WAIT` with the count reached so far (the node stops
    /// being a primary).
    pub(crate) fn release_waiters(&mut self) {
        for w in std::mem::take(&mut self.repl.waiters) {
            let n = self.repl.acked(w.offset);
            if self.unblock_client(w.id).is_some() {
                self.send(w.id, Event::Unblocked(int_reply(n as i64)));
            }
        }
    }

    /// Propagates `DEL` for keys this primary expired or evicted.
    pub fn propagate_dels(&mut self, db: usize, keys: &[Key]) {
        if !self.feeding() || keys.is_empty() {
            return;
        }
        let parts = keys.iter().map(|k| (db, owned(&[b"DEL", k]))).collect();
        self.emit(parts, false);
    }

    /// Propagates commands made outside any client (keys a slot migration brought in).
    pub fn propagate_owned(&mut self, db: usize, cmds: Vec<OwnedArgv>) {
        if !self.repl.streaming() || cmds.is_empty() {
            return;
        }
        let parts = cmds.into_iter().map(|c| (db, c)).collect();
        self.emit(parts, false);
    }

    /// Called by the dispatcher after a write command changed the keyspace: propagates what
    /// its handler stated (the command verbatim unless the handler called
    /// [`crate::engine::Ctx::propagate`] / [`crate::engine::Ctx::also_propagate`], e.g. relative expiry as `PEXPIREAT`).
    pub fn propagate_command(&mut self, client: &Client, argv: &Argv<'_>, p: Propagation) {
        if !self.feeding() {
            return;
        }
        // Keys the command expired lazily must be deleted on replicas before the command runs.
        if self.dbs.iter().any(|d| !d.expired_log.is_empty()) {
            self.drain_expired();
        }
        let db = client.db;
        let mut cmds = p.instead.unwrap_or_else(|| vec![argv.to_owned()]);
        cmds.extend(p.also);
        let parts = cmds.into_iter().map(|c| (db, c)).collect();
        self.propagate_parts(client.in_exec, parts);
    }

    /// A replica acknowledged: wakes `WAIT` clients whose offset is now reached.
    pub fn on_replica_ack(&mut self) {
        if self.repl.waiters.is_empty() {
            return;
        }
        let waiters = std::mem::take(&mut self.repl.waiters);
        for w in waiters {
            let n = self.repl.acked(w.offset);
            if n >= w.want {
                if self.unblock_client(w.id).is_some() {
                    self.send(w.id, Event::Unblocked(int_reply(n as i64)));
                }
            } else if self.is_blocked(w.id) {
                self.repl.waiters.push(w);
            }
        }
    }

    /// The reply a blocked client gets when its deadline passes (`WAIT` answers how many
    /// replicas acknowledged so far).
    pub fn blocked_timeout_reply(&mut self, id: u64, b: &Blocked) -> Vec<u8> {
        if let Some(i) = self.repl.waiters.iter().position(|w| w.id == id) {
            let w = self.repl.waiters.swap_remove(i);
            return int_reply(self.repl.acked(w.offset) as i64);
        }
        Engine::timeout_reply(b)
    }
}

/// An integer reply (same encoding in RESP2 and RESP3).
fn int_reply(n: i64) -> Vec<u8> {
    let mut r = Reply::new();
    r.int(n);
    r.buf
}

/// `PEXPIREAT key at`: how a write that set a relative expiry reaches replicas, so their
/// copy expires at the primary's instant whatever their clock or the link's delay.
/// `SET key value PXAT at`: how Redis 7.0 propagates a SET (or SETEX, PSETEX) that gave a
/// TTL, whatever its options were (NX, XX and GET dropped, the time made absolute).
pub fn set_pxat(key: &[u8], val: &[u8], at: i64) -> OwnedArgv {
    owned(&[b"SET", key, val, b"PXAT", at.to_string().as_bytes()])
}

pub fn pexpireat(key: &[u8], at: i64) -> OwnedArgv {
    owned(&[b"PEXPIREAT", key, at.to_string().as_bytes()])
}

/// The endpoint a node announces for itself: config `replica-announce-ip`/`-port`, else its
/// entry in the cluster topology, else the bound address.
pub(crate) fn own_endpoint(eng: &Engine) -> (String, u16) {
    let announced_ip = eng.cfg.get("replica-announce-ip").filter(|s| !s.is_empty());
    if announced_ip.is_none()
        && let Some((_, me, _)) = eng.cluster.me()
    {
        return (me.ip.clone(), me.port);
    }
    let ip = eng
        .cfg
        .get("replica-announce-ip")
        .filter(|s| !s.is_empty())
        .or_else(|| eng.cfg.get("bind"))
        .unwrap_or_else(|| "127.0.0.1".to_string());
    let port = eng
        .cfg
        .get("replica-announce-port")
        .and_then(|p| p.parse::<u16>().ok())
        .filter(|&p| p != 0)
        .unwrap_or(eng.info.port);
    (ip, port)
}

/// Where a network replication link stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RemoteStatus {
    /// Connecting or in the handshake.
    Connecting,
    /// Receiving and loading the RDB payload.
    Syncing,
    /// Loaded; applying the source's stream.
    Up,
    /// The link was lost after a sync; reconnecting.
    Reconnecting(String),
    /// The first synchronisation failed every attempt; the link is gone.
    Failed(String),
}

/// What the link task and the node share.
#[derive(Debug, Default)]
pub struct RemoteState {
    pub(crate) phase: AtomicU8,
    /// The source's replication offset applied so far.
    pub offset: AtomicU64,
    /// Full synchronisations completed.
    pub syncs: AtomicU64,
    /// Last error, for the statuses that carry one.
    pub(crate) error: Mutex<String>,
}

impl RemoteState {
    pub(crate) fn set(&self, status: &RemoteStatus) {
        let (code, msg) = match status {
            RemoteStatus::Connecting => (0, None),
            RemoteStatus::Syncing => (1, None),
            RemoteStatus::Up => (2, None),
            RemoteStatus::Reconnecting(m) => (3, Some(m)),
            RemoteStatus::Failed(m) => (4, Some(m)),
        };
        if let Some(m) = msg {
            *self.error.lock().unwrap_or_else(|p| p.into_inner()) = m.clone();
        }
        self.phase.store(code, Ordering::Release);
    }

    /// The current status.
    pub fn status(&self) -> RemoteStatus {
        let msg = || self.error.lock().unwrap_or_else(|p| p.into_inner()).clone();
        match self.phase.load(Ordering::Acquire) {
            0 => RemoteStatus::Connecting,
            1 => RemoteStatus::Syncing,
            2 => RemoteStatus::Up,
            3 => RemoteStatus::Reconnecting(msg()),
            _ => RemoteStatus::Failed(msg()),
        }
    }
}

/// The node's link to a source server (kept in [`Replication::remote`]).
#[derive(Debug)]
pub struct RemoteUpstream {
    /// The source endpoint.
    pub source: (String, u16),
    /// Shared with the task.
    pub state: Arc<RemoteState>,
    /// The link task.
    pub task: Option<tokio::task::AbortHandle>,
}

/// Hard limit (bytes) of the `slave`/`replica` class of `client-output-buffer-limit`
/// (0 = none).
fn replica_buffer_limit(cfg: &crate::config::Config) -> u64 {
    let v = cfg.get("client-output-buffer-limit").unwrap_or_default();
    let words: Vec<&str> = v.split_whitespace().collect();
    words
        .chunks(4)
        .find(|c| c.len() == 4 && matches!(c[0], "slave" | "replica"))
        .and_then(|c| crate::memsize::parse_memory(c[1]))
        .unwrap_or(256 << 20)
}
