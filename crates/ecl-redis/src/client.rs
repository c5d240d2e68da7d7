//! Client state: what a connection carries between commands ([`Client`]) and what the node
//! knows about every connection ([`ClientInfo`] in the [`Clients`] registry).
//!
//! Place in the flow: the connection task owns its `Client` and passes it to every command
//! through the command context; `CLIENT LIST/INFO/KILL`, Pub/Sub delivery, MONITOR and blocked
//! clients reach other connections through the registry, which holds each connection's event
//! sender.

use crate::argv::OwnedArgv;
use crate::db::Key;
use std::collections::{BTreeMap, HashSet};
use tokio::sync::mpsc::UnboundedSender;

/// Something delivered to a connection from outside its own command stream.
#[derive(Debug)]
pub enum Event {
    /// Encoded bytes to write (Pub/Sub messages, MONITOR lines).
    Push(Vec<u8>),
    /// The reply that ends a blocking command (served by another client's write, timeout
    /// handled elsewhere, or CLIENT UNBLOCK).
    Unblocked(Vec<u8>),
    /// Close the connection (CLIENT KILL, node shutdown).
    Kill,
}

/// `CLIENT REPLY` mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyMode {
    /// Normal replies.
    On,
    /// No replies.
    Off,
    /// Skip the next command's reply.
    Skip,
    /// Skipping the current command's reply.
    SkipThis,
}

/// One WATCHed key.
#[derive(Clone, Debug)]
pub struct Watch {
    /// Database index.
    pub db: usize,
    /// Key.
    pub key: Key,
    /// Key version at WATCH time (`None` = missing).
    pub ver: Option<u64>,
    /// SWAPDB count of the key at WATCH time (`Db::swap_epoch`): a swap that moved the key invalidates the watch.
    pub epoch: u64,
}

/// What a blocking command asks for when it cannot be served now.
#[derive(Clone, Debug)]
pub struct BlockSpec {
    /// Keys whose readiness may serve the command (in the client's database).
    pub keys: Vec<Key>,
    /// Absolute deadline in ms (`None` = forever).
    pub deadline_ms: Option<i64>,
    /// Encoded reply to send on timeout (RESP2 form, RESP3 form).
    pub timeout_reply: TimeoutReply,
    /// The command to re-run when a key is ready, if not the one given (XREAD: `$` resolved
    /// to the IDs it waits after).
    pub rerun: Option<OwnedArgv>,
}

/// The reply a blocking command gives on timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutReply {
    /// `*-1` / `_` (BLPOP, BZPOPMIN, XREAD…).
    NullArray,
    /// `$-1` / `_` (BLMOVE, BRPOPLPUSH).
    Null,
    /// An integer (WAIT: acknowledged replicas).
    Int(i64),
    /// `+OK` (DEBUG SLEEP).
    Ok,
}

/// Per-connection state used by command handlers.
#[derive(Debug)]
pub struct Client {
    /// Unique id (CLIENT ID).
    pub id: u64,
    /// Selected database.
    pub db: usize,
    /// Passed AUTH (or no password configured).
    pub authenticated: bool,
    /// Queued commands while in MULTI.
    pub multi: Option<Vec<OwnedArgv>>,
    /// A command failed to queue: EXEC must abort.
    pub multi_dirty: bool,
    /// Whether EXEC is running (blocking commands don't block inside it).
    pub in_exec: bool,
    /// WATCHed keys.
    pub watches: Vec<Watch>,
    /// Subscribed channels.
    pub channels: HashSet<Vec<u8>>,
    /// Subscribed patterns.
    pub patterns: HashSet<Vec<u8>>,
    /// Subscribed shard channels.
    pub shard_channels: HashSet<Vec<u8>>,
    /// CLIENT REPLY mode.
    pub reply_mode: ReplyMode,
    /// Close after writing pending replies (QUIT, protocol error).
    pub close: bool,
    /// Set by a blocking command that must wait.
    pub block: Option<BlockSpec>,
    /// A synthetic client re-running a blocked command on behalf of its connection.
    pub detached: bool,
    /// Re-running the connection's blocked command because a key it waits for is ready (the
    /// call was counted when it blocked).
    pub serving_blocked: bool,
    /// CLIENT NO-TOUCH.
    pub no_touch: bool,
    /// CLIENT NO-EVICT.
    pub no_evict: bool,
    /// Commands are not refused for memory: a script flagged `allow-oom`, or one that already
    /// wrote (stopping it halfway would leave a partial write). CLIENT NO-EVICT does not do
    /// this: redis-server refuses such a client's writes over `maxmemory` as any other's.
    pub allow_oom: bool,
    /// Table id of the last command (CLIENT LIST `cmd`).
    pub last_cmd: usize,
    /// Last command name as sent and its table id (skips the hash lookup for repeats).
    pub name_cache: Option<(Vec<u8>, usize)>,
    /// The replication link's client on a replica: writes allowed, expiry suspended.
    pub master: bool,
    /// A synthetic client whose commands count nowhere (INFO stats and commandstats, error
    /// stats, latency monitor, slow log, slot stats, MONITOR): the AOF replay, whose commands
    /// Redis runs outside its call(), and the status page's inspection reads, which must not
    /// show up among the applications' commands.
    pub uncounted: bool,
    /// Cluster `READONLY`: reads of this replica's slots are served here.
    pub readonly: bool,
    /// `CLIENT CAPA redirect` (Valkey 8.0): a standalone replica redirects data commands.
    pub capa_redirect: bool,
    /// Cluster `ASKING` was the previous command: the next one may use an importing slot.
    pub asking: bool,
    /// The ACL user (`None`: an internal client without restrictions, e.g. the replication
    /// link or a blocked command re-run).
    pub user: Option<std::sync::Arc<crate::acl::User>>,
    /// [`crate::acl::Acl::generation`] when `user` was read: a changed registry is re-read.
    pub acl_gen: u64,
    /// When the connection is closed unless it authenticates again (users with a session
    /// limit, e.g. IAM users after 12 hours).
    pub session_expires: Option<std::time::Instant>,
    /// The connection's query buffer while its batch runs: bytes held (the batch's unread
    /// input, the running command's included) and room left (CLIENT LIST `qbuf`, `qbuf-free`).
    pub query_buf: (usize, usize),
}

impl Client {
    /// Fresh client state.
    pub fn new(id: u64, authenticated: bool) -> Client {
        Client {
            id,
            db: 0,
            authenticated,
            multi: None,
            multi_dirty: false,
            in_exec: false,
            watches: Vec::new(),
            channels: HashSet::new(),
            patterns: HashSet::new(),
            shard_channels: HashSet::new(),
            reply_mode: ReplyMode::On,
            close: false,
            block: None,
            detached: false,
            serving_blocked: false,
            no_touch: false,
            no_evict: false,
            allow_oom: false,
            last_cmd: usize::MAX,
            name_cache: None,
            uncounted: false,
            master: false,
            readonly: false,
            capa_redirect: false,
            asking: false,
            user: None,
            acl_gen: 0,
            session_expires: None,
            query_buf: (0, 0),
        }
    }

    /// Number of subscriptions of all kinds (RESP2 subscribed mode when > 0).
    pub fn sub_count(&self) -> usize {
        self.channels.len() + self.patterns.len() + self.shard_channels.len()
    }
}

/// Socket reads (with their bytes) and writes of every client connection of a node, counted
/// by the connections as they happen, outside the node lock, as redis-server counts them
/// (INFO `total_reads_processed`, `total_net_input_bytes`, `total_writes_processed`): an INFO
/// sees its own request's bytes and every reply already written, whichever connection's.
#[derive(Debug, Default)]
pub struct IoTotals {
    pub reads: std::sync::atomic::AtomicU64,
    pub read_bytes: std::sync::atomic::AtomicU64,
    pub writes: std::sync::atomic::AtomicU64,
}

impl IoTotals {
    /// CONFIG RESETSTAT.
    pub fn reset(&self) {
        for n in [&self.reads, &self.read_bytes, &self.writes] {
            n.store(0, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Counts one read of `n` bytes (0: the read that found the connection closed, which
    /// redis-server counts too).
    pub fn read(&self, n: usize) {
        self.reads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.read_bytes
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
    }

    /// Counts one write.
    pub fn wrote(&self) {
        self.writes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// One connection's output bytes not yet written to its socket, kept in step with the node's
/// total ([`Clients::output_total`]); what is left when the connection's last handle goes is
/// taken off the total. It also carries the node's socket counters ([`Clients::io`]).
#[derive(Debug)]
pub struct Pending {
    mine: std::sync::atomic::AtomicUsize,
    total: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// The node's socket counters.
    pub io: std::sync::Arc<IoTotals>,
}

impl Pending {
    /// No bytes yet, counted into `total`; socket reads and writes into `io`.
    pub fn new(
        total: std::sync::Arc<std::sync::atomic::AtomicUsize>,
        io: std::sync::Arc<IoTotals>,
    ) -> Pending {
        Pending {
            mine: std::sync::atomic::AtomicUsize::new(0),
            total,
            io,
        }
    }

    /// This connection's unsent bytes.
    pub fn load(&self, order: std::sync::atomic::Ordering) -> usize {
        self.mine.load(order)
    }

    /// Adds `n` bytes; returns the count before.
    pub fn fetch_add(&self, n: usize, order: std::sync::atomic::Ordering) -> usize {
        self.total
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        self.mine.fetch_add(n, order)
    }

    /// Takes `n` bytes off (written or dropped); returns the count before.
    pub fn fetch_sub(&self, n: usize, order: std::sync::atomic::Ordering) -> usize {
        self.total
            .fetch_sub(n, std::sync::atomic::Ordering::Relaxed);
        self.mine.fetch_sub(n, order)
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        let left = *self.mine.get_mut();
        self.total
            .fetch_sub(left, std::sync::atomic::Ordering::Relaxed);
    }
}

/// What the node knows about a connection (CLIENT LIST fields).
#[derive(Debug)]
pub struct ClientInfo {
    /// Event channel to the connection task.
    pub tx: UnboundedSender<Event>,
    /// Peer address.
    pub addr: String,
    /// Local address.
    pub laddr: String,
    /// CLIENT SETNAME.
    pub name: String,
    /// CLIENT SETINFO LIB-NAME.
    pub lib_name: String,
    /// CLIENT SETINFO LIB-VER.
    pub lib_ver: String,
    /// Selected database.
    pub db: usize,
    /// Connection time (ms).
    pub created_ms: i64,
    /// Last command time (ms).
    pub last_ms: i64,
    /// Last command's full name.
    pub last_cmd: String,
    /// Protocol version.
    pub resp: u8,
    /// Subscriptions (channels, patterns, shard channels).
    pub subs: (usize, usize, usize),
    /// Queued MULTI commands (-1 outside MULTI).
    pub multi: i64,
    /// Whether the client is blocked.
    pub blocked: bool,
    /// Whether the client is a MONITOR.
    pub monitor: bool,
    /// CLIENT NO-EVICT.
    pub no_evict: bool,
    /// Authenticated user.
    pub user: String,
    /// Number of WATCHed keys.
    pub watched: usize,
    /// Output bytes of the connection not yet written to its socket: its own replies and the
    /// Pub/Sub and MONITOR messages queued for it (CLIENT LIST `omem`, INFO `mem_clients_normal`).
    pub pending: std::sync::Arc<Pending>,
    /// Wakes the connection even while it is stuck writing to a client that does not read.
    pub kill: std::sync::Arc<tokio::sync::Notify>,
    /// The connection is TLS (closed otherwise when the node switches to TLS only).
    pub tls: bool,
    /// The query buffer after the client's last batch: bytes waiting and room left.
    pub query_buf: (usize, usize),
    /// Evicted by `maxmemory-clients`: its connection is closing (counted no more).
    pub evicted: bool,
}

impl ClientInfo {
    /// The memory CLIENT LIST shows as `tot-mem`, and `maxmemory-clients` counts: a fixed
    /// cost, the query buffer held and the output not yet written.
    pub fn memory(&self) -> u64 {
        self.memory_with(self.query_buf)
    }

    /// [`ClientInfo::memory`] with the query buffer `(held, room)` measured now (the client
    /// running a command shows its batch's buffer).
    pub fn memory_with(&self, (held, room): (usize, usize)) -> u64 {
        let pending = self.pending.load(std::sync::atomic::Ordering::Relaxed) as u64;
        CLIENT_BASE_MEMORY + pending + (held + room) as u64
    }

    /// Queues pushed bytes; a client whose unsent output would pass the hard limit of its
    /// class (`client-output-buffer-limit`, see [`crate::outbuf`]) is closed instead, so a
    /// stalled subscriber cannot grow the process without bound.
    pub fn push(&self, bytes: Vec<u8>, limits: &crate::outbuf::OutputLimits) -> bool {
        use std::sync::atomic::Ordering;
        let n = bytes.len();
        let cap = limits.class(self.subs != (0, 0, 0)).push_cap();
        if self.pending.fetch_add(n, Ordering::AcqRel) + n > cap {
            tracing::warn!(
                addr = %self.addr,
                "closing client: output buffer over client-output-buffer-limit"
            );
            let _ = self.tx.send(Event::Kill);
            self.kill.notify_one();
            return false;
        }
        self.tx.send(Event::Push(bytes)).is_ok()
    }
}

/// What one connection costs before its buffers (CLIENT LIST `tot-mem` of an idle client).
pub const CLIENT_BASE_MEMORY: u64 = 1024;

/// Registry of connected clients.
#[derive(Debug, Default)]
pub struct Clients {
    /// Clients by id (ordered, as CLIENT LIST prints them).
    pub map: BTreeMap<u64, ClientInfo>,
    /// Next client id.
    pub next_id: u64,
    /// Total connections accepted.
    pub total_connections: u64,
    /// Ids of MONITOR clients.
    pub monitors: Vec<u64>,
    /// Unsent output bytes of every connection of the node (the sum of their [`Pending`]s).
    pub output_total: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// Socket reads and writes of every connection of the node.
    pub io: std::sync::Arc<IoTotals>,
    /// Copy of the node's `client-output-buffer-limit`, applied to queued pushes (kept in step
    /// with the configuration by the engine at every batch and configuration change).
    pub output_limits: crate::outbuf::OutputLimits,
}

impl Clients {
    /// Allocates a client id.
    pub fn alloc_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Sends an event to a client; false if it is gone.
    pub fn send(&self, id: u64, ev: Event) -> bool {
        self.map.get(&id).is_some_and(|c| match ev {
            Event::Push(b) => c.push(b, &self.output_limits),
            ev => c.tx.send(ev).is_ok(),
        })
    }

    /// `maxmemory-clients`: while the clients together use `limit` bytes or more, the largest
    /// one that may be evicted (not CLIENT NO-EVICT) is marked evicted, as Redis evicts the
    /// largest first. Returns the ids marked, largest first.
    pub fn evict_over(&mut self, limit: u64) -> Vec<u64> {
        let counted = self.map.values().filter(|c| !c.evicted);
        let mut total: u64 = counted.map(ClientInfo::memory).sum();
        let mut evicted = Vec::new();
        while total >= limit {
            let largest = (self.map.iter_mut())
                .filter(|(_, c)| !c.evicted && !c.no_evict)
                .max_by_key(|(_, c)| c.memory());
            let Some((&id, c)) = largest else {
                break;
            };
            total -= c.memory();
            c.evicted = true;
            evicted.push(id);
        }
        evicted
    }

    /// Memory of the clients (INFO `mem_clients_normal`): a fixed cost per connection plus
    /// every unsent output byte.
    pub fn memory(&self) -> u64 {
        // The connections' unsent bytes come from one node-wide counter ([`Pending`]), so
        // the eviction check every write makes needs no walk over the clients.
        self.map.len() as u64 * CLIENT_BASE_MEMORY
            + self.output_total.load(std::sync::atomic::Ordering::Relaxed) as u64
    }

    /// Number of pub/sub clients (at least one subscription).
    pub fn pubsub_clients(&self) -> usize {
        self.map
            .values()
            .filter(|c| c.subs.0 + c.subs.1 + c.subs.2 > 0)
            .count()
    }
}
