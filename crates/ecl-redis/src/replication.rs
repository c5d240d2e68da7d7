//! Primary/replica replication between nodes of this process.
//!
//! Place in the flow: the supervisor links two [`RedisNode`]s with
//! [`RedisNode::replicate_from`]. The replica takes a full copy of the primary's keyspace and
//! function libraries (cloned under the primary's lock, like Redis' fork-time snapshot), then applies the
//! primary's write stream on a task of its own, asynchronously, exactly as a Redis replica
//! reads its master link. On the primary, the dispatcher calls [`Engine::propagate_command`]
//! after every write that changed the keyspace with what the command's handler stated: the
//! command verbatim by default, or what the handler set with [`Ctx::propagate`] /
//! [`Ctx::also_propagate`] (relative expiry → absolute `PEXPIREAT`, SPOP → the `SREM` of the
//! members it popped; this module never looks at command names). Expired or evicted keys
//! become `DEL`s, commands of one `EXEC` are wrapped in `MULTI`/`EXEC`; each unit is numbered
//! by its RESP length
//! (`master_repl_offset`) and sent to every replica link. Replicas acknowledge what they
//! applied, which `WAIT`, `ROLE` and `INFO replication` read.
//!
//! A replica may itself have replicas (chained replication, as Redis allows): it forwards the
//! units it applies, unchanged and with the same offsets, to its own replicas, and when it
//! loads a new full copy (or starts following another primary) its replicas resynchronize
//! from it. The control plane uses this for ElastiCache global datastores, whose secondary
//! group's primary follows the primary group's primary while its own replicas follow it.
//!
//! Replicas refuse writes (`READONLY`) from ordinary clients, do not run active expiry (the
//! primary's `DEL`s remove keys) and apply the stream with expiry suspended, so a key is never
//! dropped by a replica's clock while the primary still has it.

use crate::client::{Client, Event};
use crate::command::dispatch::Propagation;
use crate::command::{Argv, Ctx, OwnedArgv, dispatch};
use crate::db::{Entry, Key};
use crate::engine::Shared;
use crate::engine::{Blocked, Engine, wall_ms};
use crate::errors::{self, CmdResult};
use crate::node::RedisNode;
use crate::resp::Reply;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use tokio::sync::mpsc;
use tracing::Instrument;

pub mod remote;

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
    pub remote: Option<remote::RemoteUpstream>,
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

    fn prune(&mut self) {
        self.replicas
            .retain(|d| !d.link.closed.load(Ordering::Acquire) && !d.tx.is_closed());
    }

    /// Drops every replica of this node so each one resynchronizes from scratch (its applier
    /// sees an overflowed link and takes a new full copy): the data this node streams is about
    /// to restart from another copy, so what they hold no longer continues it.
    fn resync_downstream(&mut self) {
        for d in self.replicas.drain(..) {
            d.link.overflow.store(true, Ordering::Release);
            d.link.closed.store(true, Ordering::Release);
        }
    }

    /// Leaves the current primary (if any): the old link is closed so that primary forgets it.
    fn detach(&mut self) {
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
fn resp_len(argv: &OwnedArgv) -> u64 {
    let a = argv.as_argv();
    let digits = |n: usize| n.to_string().len() as u64;
    let mut n = 1 + digits(a.len()) + 2;
    for x in a.iter_from(0) {
        n += 1 + digits(x.len()) + 2 + x.len() as u64 + 2;
    }
    n
}

fn owned(parts: &[&[u8]]) -> OwnedArgv {
    OwnedArgv::from_slices(parts.iter().copied())
}

impl Engine {
    /// Sends one unit (commands for database `db`) down the stream.
    fn emit(&mut self, parts: Vec<(usize, OwnedArgv)>, wrap: bool) {
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
    fn fan_out(&mut self, unit: &Arc<Unit>) {
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
    fn propagate_parts(&mut self, in_exec: bool, parts: Vec<(usize, OwnedArgv)>) {
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
    fn release_waiters(&mut self) {
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
    /// [`Ctx::propagate`] / [`Ctx::also_propagate`], e.g. relative expiry as `PEXPIREAT`).
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
pub fn pexpireat(key: &[u8], at: i64) -> OwnedArgv {
    owned(&[b"PEXPIREAT", key, at.to_string().as_bytes()])
}

/// `WAIT numreplicas timeout`.
pub fn wait_cmd(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    if ctx.eng.repl.is_replica() {
        return Err(errors::WAIT_ON_REPLICA.into());
    }
    let want = argv.i64(1)?;
    let t = argv.i64(2)?;
    if t < 0 {
        return Err("ERR timeout is negative".into());
    }
    let offset = ctx.eng.repl.offset;
    let have = ctx.eng.repl.acked(offset);
    if want <= 0 || have >= want as usize || ctx.client.in_exec {
        ctx.out.int(have as i64);
        return Ok(());
    }
    ctx.eng.repl.waiters.push(Waiter {
        id: ctx.client.id,
        offset,
        want: want as usize,
    });
    let deadline = if t == 0 { None } else { Some(ctx.now + t) };
    ctx.block(
        Vec::new(),
        deadline,
        crate::client::TimeoutReply::Int(have as i64),
    )
}

/// `ROLE`.
pub fn role_cmd(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    let r = &mut ctx.eng.repl;
    match &r.upstream {
        None => {
            r.prune();
            ctx.out.array(3);
            ctx.out.bulk(b"master");
            ctx.out.int(r.offset as i64);
            ctx.out.array(r.replicas.len());
            for d in &r.replicas {
                ctx.out.array(3);
                ctx.out.bulk(d.addr.0.as_bytes());
                ctx.out.bulk(d.addr.1.to_string().as_bytes());
                ctx.out
                    .bulk(d.link.ack.load(Ordering::Acquire).to_string().as_bytes());
            }
        }
        Some(up) => {
            let state: &[u8] = if up.link.online.load(Ordering::Acquire) {
                b"connected"
            } else {
                b"sync"
            };
            ctx.out.array(5);
            ctx.out.bulk(b"slave");
            ctx.out.bulk(up.primary.0.as_bytes());
            ctx.out.int(i64::from(up.primary.1));
            ctx.out.bulk(state);
            ctx.out.int(r.offset as i64);
        }
    }
    Ok(())
}

/// `INFO replication` section.
pub fn info_section(eng: &mut Engine, s: &mut String) {
    eng.repl.prune();
    let r = &eng.repl;
    let now = wall_ms();
    s.push_str("# Replication\r\n");
    if let Some(up) = &r.upstream {
        let online = up.link.online.load(Ordering::Acquire);
        let closed = up.link.closed.load(Ordering::Acquire);
        let status = if online && !closed { "up" } else { "down" };
        let _ = write!(
            s,
            "role:slave\r\nmaster_host:{}\r\nmaster_port:{}\r\nmaster_link_status:{status}\r\nmaster_last_io_seconds_ago:{}\r\nmaster_sync_in_progress:{}\r\nslave_read_repl_offset:{}\r\nslave_repl_offset:{}\r\n",
            up.primary.0,
            up.primary.1,
            if online { 0 } else { -1 },
            u8::from(!up.link.loaded.load(Ordering::Acquire)),
            r.offset,
            r.offset,
        );
        if status == "down" {
            let since = up.link.down_since_ms.load(Ordering::Acquire);
            let secs = if since == 0 {
                -1
            } else {
                (now - since).max(0) / 1000
            };
            let _ = write!(s, "master_link_down_since_seconds:{secs}\r\n");
        }
        s.push_str("slave_priority:100\r\nslave_read_only:1\r\nreplica_announced:1\r\n");
    } else if !remote::info_lines(eng, s) {
        s.push_str("role:master\r\n");
    }
    let _ = write!(s, "connected_slaves:{}\r\n", r.replicas.len());
    for (i, d) in r.replicas.iter().enumerate() {
        let online = d.link.online.load(Ordering::Acquire);
        let lag = (now - d.link.last_ack_ms.load(Ordering::Acquire)).max(0) / 1000;
        let _ = write!(
            s,
            "slave{i}:ip={},port={},state={},offset={},lag={lag}\r\n",
            d.addr.0,
            d.addr.1,
            if online { "online" } else { "wait_bgsave" },
            d.link.ack.load(Ordering::Acquire),
        );
    }
    let hist = r.offset.saturating_sub(r.backlog_first);
    let _ = write!(
        s,
        "master_failover_state:no-failover\r\nmaster_replid:{}\r\nmaster_replid2:{}\r\nmaster_repl_offset:{}\r\nsecond_repl_offset:{}\r\nrepl_backlog_active:{}\r\nrepl_backlog_size:{}\r\nrepl_backlog_first_byte_offset:{}\r\nrepl_backlog_histlen:{}\r\n",
        r.replid,
        r.replid2,
        r.offset,
        r.second_offset,
        u8::from(r.backlog_active),
        eng.cfg.get("repl-backlog-size").unwrap_or_default(),
        if r.backlog_active {
            r.backlog_first + 1
        } else {
            0
        },
        hist.min(1_048_576),
    );
}

/// The endpoint a node announces for itself: config `replica-announce-ip`/`-port`, else its
/// entry in the cluster topology, else the bound address.
fn own_endpoint(eng: &Engine) -> (String, u16) {
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

/// What a (re)synchronization hands the applier: the copy, its offset and the stream.
struct Attached {
    snapshot: Vec<Vec<(Key, Entry)>>,
    /// The primary's function libraries (their code), part of the copy.
    functions: Vec<Vec<u8>>,
    offset: u64,
    /// Database the stream is in at `offset` (the master client's starting database).
    db: usize,
    rx: mpsc::UnboundedReceiver<Arc<Unit>>,
}

/// Registers `link` on the primary and takes the copy, under the primary's lock (the moment
/// Redis forks for its RDB): the stream starts exactly after the copy.
fn attach(primary: &Shared, link: &Arc<LinkState>, me: (String, u16)) -> Attached {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut p = primary.lock();
    let snapshot: Vec<Vec<(Key, Entry)>> = p
        .dbs
        .iter()
        .map(|d| d.iter().map(|(k, e)| (k.clone(), e.clone())).collect())
        .collect();
    if !p.repl.backlog_active {
        p.repl.backlog_active = true;
        p.repl.backlog_first = p.repl.offset;
    }
    // A primary's next unit selects its database again for the new link; a replica forwards
    // its primary's units unchanged, so the new link starts in the database they are in.
    let db = if p.repl.is_replica() {
        p.repl.last_db.unwrap_or(0)
    } else {
        p.repl.last_db = None;
        0
    };
    link.ack.store(p.repl.offset, Ordering::Release);
    link.pending.store(0, Ordering::Release);
    link.overflow.store(false, Ordering::Release);
    link.closed.store(false, Ordering::Release);
    link.online.store(false, Ordering::Release);
    p.repl.prune();
    p.repl.replicas.retain(|d| !Arc::ptr_eq(&d.link, link));
    p.repl.replicas.push(Downstream {
        addr: me,
        tx,
        link: link.clone(),
    });
    Attached {
        snapshot,
        functions: p.scripts.functions.codes(),
        offset: p.repl.offset,
        db,
        rx,
    }
}

impl RedisNode {
    /// Become a replica of `primary` (in-process link, both nodes live in this process):
    /// full copy of the primary's data, then its write stream, asynchronously as in Redis.
    /// `announced` is the primary's endpoint as clients see it (INFO master_host/master_port).
    /// Calling it again re-targets the node (the previous link is dropped); calling it with the
    /// node itself is ignored.
    pub fn replicate_from(&self, primary: &RedisNode, announced: (String, u16)) {
        if Arc::ptr_eq(&self.shared, &primary.shared) {
            return;
        }
        let link = Arc::new(LinkState {
            ack: AtomicU64::new(0),
            last_ack_ms: AtomicI64::new(wall_ms()),
            closed: AtomicBool::new(false),
            online: AtomicBool::new(false),
            loaded: AtomicBool::new(false),
            down_since_ms: AtomicI64::new(0),
            pending: AtomicU64::new(0),
            overflow: AtomicBool::new(false),
        });
        // Leave the old primary and stop accepting writes before the copy is taken.
        let (me, generation) = {
            let mut eng = self.shared.lock();
            eng.repl.detach();
            eng.release_waiters();
            eng.repl.resync_downstream();
            eng.repl.upstream = Some(Upstream {
                primary: announced.clone(),
                link: link.clone(),
                task: None,
            });
            for db in &mut eng.dbs {
                db.keep_expired = true;
            }
            (own_endpoint(&eng), eng.repl.generation)
        };
        let first = attach(&primary.shared, &link, me.clone());
        let task = self.runtime.spawn(
            apply_loop(
                self.shared.clone(),
                primary.shared.clone(),
                link,
                generation,
                me,
                first,
            )
            .instrument(self.span.clone()),
        );
        let mut eng = self.shared.lock();
        let current = eng.repl.generation == generation;
        match eng.repl.upstream.as_mut() {
            Some(up) if current => up.task = Some(task.abort_handle()),
            _ => task.abort(),
        }
    }

    /// Stop replicating and serve writes as a primary, keeping the data.
    pub fn promote(&self) {
        let mut eng = self.shared.lock();
        if !eng.repl.is_replica() {
            return;
        }
        eng.repl.detach();
        // As a primary the node expires keys itself again (and propagates the DELs).
        for db in &mut eng.dbs {
            db.keep_expired = false;
        }
        let r = &mut eng.repl;
        r.replid2 = std::mem::replace(&mut r.replid, random_hex40());
        r.second_offset = r.offset as i64 + 1;
        r.last_db = None;
        tracing::info!(addr = %self.local_addr(), offset = r.offset, "replica promoted to primary");
    }

    /// Replication offset: master_repl_offset on a primary, processed offset on a replica.
    pub fn replication_offset(&self) -> u64 {
        self.shared.lock().repl.offset
    }

    /// Current role.
    pub fn role(&self) -> ReplicationRole {
        let eng = self.shared.lock();
        match &eng.repl.upstream {
            None => ReplicationRole::Primary,
            Some(up) => ReplicationRole::Replica {
                primary: up.primary.clone(),
                link_up: up.link.online.load(Ordering::Acquire)
                    && !up.link.closed.load(Ordering::Acquire),
            },
        }
    }

    /// Sets the endpoint this node reports for itself to its primary (INFO `slaveN:ip,port`,
    /// ROLE), like Redis' `replica-announce-ip`/`replica-announce-port` (which can also be
    /// given in [`crate::RedisConfig::parameters`]). Applies to links made afterwards.
    pub fn set_announce(&self, endpoint: (String, u16)) {
        let mut eng = self.shared.lock();
        let _ = eng.cfg.set("replica-announce-ip", &endpoint.0);
        let _ = eng
            .cfg
            .set("replica-announce-port", &endpoint.1.to_string());
    }

    /// Cuts this replica's link to its primary as a network partition would (fault
    /// injection): the replica keeps its data and role, stops applying the stream, and reports
    /// the link down; the primary forgets it (WAIT no longer counts it). Re-linking takes a
    /// new [`RedisNode::replicate_from`]. `false` when the node is not a replica.
    pub fn cut_replication_link(&self) -> bool {
        let eng = self.shared.lock();
        let Some(up) = &eng.repl.upstream else {
            return false;
        };
        up.link.closed.store(true, Ordering::Release);
        up.link.online.store(false, Ordering::Release);
        up.link.down_since_ms.store(wall_ms(), Ordering::Release);
        if let Some(task) = &up.task {
            task.abort();
        }
        true
    }
}

/// The replica's side of a link: load the copy, then apply units as they come.
async fn apply_loop(
    me: Arc<Shared>,
    primary: Arc<Shared>,
    link: Arc<LinkState>,
    generation: u64,
    endpoint: (String, u16),
    first: Attached,
) {
    let mut primary_down = primary.shutdown.subscribe();
    let mut own_down = me.shutdown.subscribe();
    let mut next = Some(first);
    while let Some(attached) = next.take() {
        let overflowed = sync_and_stream(
            &me,
            &primary,
            &link,
            generation,
            attached,
            &mut primary_down,
            &mut own_down,
        )
        .await;
        if overflowed && me.lock().repl.generation == generation {
            tracing::info!(replica = ?endpoint, "resynchronizing after output buffer overflow");
            next = Some(attach(&primary, &link, endpoint.clone()));
        }
    }
    // The primary went away (or this node stops): the link is down until re-targeted.
    link.down_since_ms.store(wall_ms(), Ordering::Release);
    link.online.store(false, Ordering::Release);
}

/// Loads one copy then applies the stream until it ends; true when it ended because the
/// primary dropped the link for overflow (a resync is due).
async fn sync_and_stream(
    me: &Shared,
    primary: &Shared,
    link: &LinkState,
    generation: u64,
    attached: Attached,
    primary_down: &mut tokio::sync::watch::Receiver<bool>,
    own_down: &mut tokio::sync::watch::Receiver<bool>,
) -> bool {
    let Attached {
        snapshot,
        functions,
        offset,
        db,
        mut rx,
    } = attached;
    let mut master = Client::new(0, true);
    master.master = true;
    master.in_exec = true;
    master.db = db;
    {
        let mut eng = me.lock();
        if eng.repl.generation != generation {
            return false;
        }
        for i in 0..eng.dbs.len() {
            eng.flush_db(i);
        }
        for (i, keys) in snapshot.into_iter().enumerate() {
            if let Some(db) = eng.dbs.get_mut(i) {
                for (k, e) in keys {
                    db.insert_entry(&k, e);
                }
            }
        }
        crate::command::functions::install_from_rdb(&mut eng, &functions);
        eng.repl.offset = offset;
        eng.repl.last_db = Some(db);
        eng.repl.resync_downstream();
        eng.cluster.offset_cell.store(offset, Ordering::Release);
        crate::persistence::rebase_aof(&mut eng);
        link.online.store(true, Ordering::Release);
        link.loaded.store(true, Ordering::Release);
    }
    ack(primary, link, offset);
    loop {
        let first = tokio::select! {
            u = rx.recv() => u,
            _ = primary_down.changed() => None,
            _ = own_down.changed() => {
                // This replica is gone for good: its primary forgets it.
                link.closed.store(true, Ordering::Release);
                None
            }
        };
        let Some(first) = first else {
            return link.overflow.load(Ordering::Acquire);
        };
        let mut units = vec![first];
        while units.len() < 256
            && let Ok(u) = rx.try_recv()
        {
            units.push(u);
        }
        let end = {
            let mut eng = me.lock();
            if eng.repl.generation != generation {
                return false;
            }
            eng.begin_batch();
            let mut sink = Reply::new();
            let mut end = eng.repl.offset;
            for u in &units {
                for c in u.body() {
                    let a = c.as_argv();
                    dispatch::dispatch(&mut eng, &mut master, &mut sink, &a);
                    sink.buf.clear();
                }
                end = u.end;
                let _ = link
                    .pending
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |p| {
                        Some(p.saturating_sub(u.bytes))
                    });
            }
            eng.repl.offset = end;
            eng.repl.last_db = Some(master.db);
            eng.cluster.offset_cell.store(end, Ordering::Release);
            // A replica with an AOF records what it applied, one unit per batch.
            eng.flush_txn();
            eng.flush_aof();
            // Chained replication: this node's replicas get the same units, same offsets.
            if !eng.repl.replicas.is_empty() {
                for u in &units {
                    eng.fan_out(u);
                }
            }
            end
        };
        ack(primary, link, end);
    }
}

fn ack(primary: &Shared, link: &LinkState, offset: u64) {
    link.ack.store(offset, Ordering::Release);
    link.last_ack_ms.store(wall_ms(), Ordering::Release);
    primary.lock().on_replica_ack();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resp_length_matches_encoding() {
        let c = owned(&[b"SET", b"k", b"hello"]);
        assert_eq!(
            resp_len(&c),
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n".len() as u64
        );
    }

    /// Bulk strings of a reply (a bulk, or an array/set of bulks), for result-based rewrites.
    fn reply_strings(mut r: &[u8]) -> Vec<Vec<u8>> {
        fn line(r: &[u8]) -> Option<(&[u8], &[u8])> {
            let p = r.windows(2).position(|w| w == b"\r\n")?;
            Some((&r[..p], &r[p + 2..]))
        }
        let mut out = Vec::new();
        let mut bulk_count = 1usize;
        if let Some(&t) = r.first()
            && (t == b'*' || t == b'~')
        {
            let Some((h, rest)) = line(&r[1..]) else {
                return out;
            };
            bulk_count = std::str::from_utf8(h)
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            r = rest;
        }
        for _ in 0..bulk_count {
            if r.first() != Some(&b'$') {
                break;
            }
            let Some((h, rest)) = line(&r[1..]) else {
                break;
            };
            let Some(n) = std::str::from_utf8(h)
                .ok()
                .and_then(|s| s.parse::<usize>().ok())
            else {
                break;
            };
            if rest.len() < n + 2 {
                break;
            }
            out.push(rest[..n].to_vec());
            r = &rest[n + 2..];
        }
        out
    }

    /// Sends `args` as one RESP command over `sock` and reads one reply line (enough for the
    /// simple and bulk replies these tests read).
    async fn call(sock: &mut tokio::net::TcpStream, args: &[&str]) -> Vec<u8> {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        call_bytes(sock, &args).await
    }

    async fn call_bytes(sock: &mut tokio::net::TcpStream, args: &[&[u8]]) -> Vec<u8> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut b = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            b.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            b.extend_from_slice(a);
            b.extend_from_slice(b"\r\n");
        }
        sock.write_all(&b).await.expect("write");
        let mut buf = vec![0u8; 4096];
        let n = sock.read(&mut buf).await.expect("read");
        assert!(n > 0, "connection closed");
        buf.truncate(n);
        buf
    }

    fn text(u: &Unit) -> Vec<String> {
        u.cmds
            .iter()
            .map(|c| {
                let a = c.as_argv();
                let parts: Vec<String> = a
                    .iter_from(0)
                    .map(|x| String::from_utf8_lossy(x).into_owned())
                    .collect();
                parts.join(" ")
            })
            .collect()
    }

    /// The exact commands the primary streams for the commands it rewrites (relative expiry
    /// as `PEXPIREAT`, SETEX/PSETEX/SET EX as SET + PEXPIREAT, GETEX, RESTORE, SPOP as SREM),
    /// read straight from a replica link's channel.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rewritten_commands_stream_exactly() {
        let node = RedisNode::start(crate::RedisConfig::for_tests()).expect("node starts");
        let link = Arc::new(LinkState {
            ack: AtomicU64::new(0),
            last_ack_ms: AtomicI64::new(0),
            closed: AtomicBool::new(false),
            online: AtomicBool::new(false),
            loaded: AtomicBool::new(false),
            down_since_ms: AtomicI64::new(0),
            pending: AtomicU64::new(0),
            overflow: AtomicBool::new(false),
        });
        let mut rx = attach(&node.shared, &link, ("127.0.0.1".to_string(), 1)).rx;
        let mut sock = tokio::net::TcpStream::connect(node.local_addr())
            .await
            .expect("connect");
        let next = |rx: &mut mpsc::UnboundedReceiver<Arc<Unit>>| {
            let u = rx.try_recv().expect("a unit was streamed");
            text(&u)
        };
        call(&mut sock, &["SET", "k", "v"]).await;
        assert_eq!(next(&mut rx), ["SELECT 0", "SET k v"]);
        call(&mut sock, &["EXPIRE", "k", "100"]).await;
        let at = node.shared.lock().dbs[0]
            .peek_raw(b"k")
            .expect("k")
            .expire_at;
        assert_eq!(next(&mut rx), [format!("PEXPIREAT k {at}")]);
        call(&mut sock, &["PEXPIRE", "k", "-1"]).await;
        assert_eq!(next(&mut rx), ["DEL k"]);
        call(&mut sock, &["SETEX", "s", "100", "v"]).await;
        let at = node.shared.lock().dbs[0]
            .peek_raw(b"s")
            .expect("s")
            .expire_at;
        assert_eq!(
            next(&mut rx),
            ["SET s v".to_string(), format!("PEXPIREAT s {at}")]
        );
        call(&mut sock, &["SET", "e", "v", "NX", "PX", "50000", "GET"]).await;
        let at = node.shared.lock().dbs[0]
            .peek_raw(b"e")
            .expect("e")
            .expire_at;
        assert_eq!(
            next(&mut rx),
            ["SET e v".to_string(), format!("PEXPIREAT e {at}")]
        );
        call(&mut sock, &["SET", "e", "w", "KEEPTTL"]).await;
        assert_eq!(next(&mut rx), ["SET e w KEEPTTL"]);
        call(&mut sock, &["GETEX", "e", "PERSIST"]).await;
        assert_eq!(next(&mut rx), ["PERSIST e"]);
        call(&mut sock, &["GETEX", "e", "EX", "70"]).await;
        let at = node.shared.lock().dbs[0]
            .peek_raw(b"e")
            .expect("e")
            .expire_at;
        assert_eq!(next(&mut rx), [format!("PEXPIREAT e {at}")]);
        call(&mut sock, &["SADD", "set", "only"]).await;
        assert_eq!(next(&mut rx), ["SADD set only"]);
        call(&mut sock, &["SPOP", "set"]).await;
        assert_eq!(next(&mut rx), ["SREM set only"]);
        call(&mut sock, &["SPOP", "set"]).await;
        assert!(
            rx.try_recv().is_err(),
            "an SPOP that popped nothing streams nothing"
        );
        call(&mut sock, &["SADD", "set", "a", "b", "c"]).await;
        next(&mut rx);
        let popped = reply_strings(&call(&mut sock, &["SPOP", "set", "2"]).await);
        let popped: Vec<String> = popped
            .iter()
            .map(|m| String::from_utf8_lossy(m).into_owned())
            .collect();
        assert_eq!(next(&mut rx), [format!("SREM set {}", popped.join(" "))]);
        let dump = reply_strings(&call(&mut sock, &["DUMP", "s"]).await);
        call_bytes(&mut sock, &[b"RESTORE", b"r", b"90000", &dump[0]]).await;
        let at = node.shared.lock().dbs[0]
            .peek_raw(b"r")
            .expect("r")
            .expire_at;
        let unit = rx.try_recv().expect("RESTORE streamed");
        assert_eq!(unit.cmds.len(), 2);
        assert_eq!(unit.cmds[0].as_argv().get(0), b"RESTORE");
        assert_eq!(unit.cmds[0].as_argv().get(3), dump[0].as_slice());
        assert_eq!(text(&unit)[1], format!("PEXPIREAT r {at}"));
        call_bytes(&mut sock, &[b"RESTORE", b"p", b"0", &dump[0]]).await;
        assert_eq!(rx.try_recv().expect("RESTORE streamed").cmds.len(), 1);
        node.shutdown().await;
    }

    #[test]
    fn reply_strings_reads_bulks_and_arrays() {
        assert_eq!(reply_strings(b"$1\r\na\r\n"), vec![b"a".to_vec()]);
        assert_eq!(
            reply_strings(b"*2\r\n$1\r\na\r\n$2\r\nbc\r\n"),
            vec![b"a".to_vec(), b"bc".to_vec()]
        );
        assert!(reply_strings(b"$-1\r\n").is_empty());
        assert!(reply_strings(b"*0\r\n").is_empty());
    }
}
