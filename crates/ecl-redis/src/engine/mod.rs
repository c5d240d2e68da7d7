//! The state of one node, guarded by the node lock: databases, configuration, statistics,
//! clients, Pub/Sub, blocked clients, slowlog.
//!
//! Concurrency model (decided by measurement): every connection is a tokio task on the node's
//! runtime (its own, one worker thread by default: see `node::runtime`); a node is one
//! `std::sync::Mutex<Engine>`, which other runtimes' tasks (the control plane, replication
//! links) take too. A connection decodes everything its last
//! socket read delivered, takes the lock once, runs the whole batch of pipelined commands,
//! releases it, then writes all replies with one write. This gives Redis' atomicity (each
//! command, and MULTI/EXEC, runs with exclusive access to the keyspace) without a thread per
//! connection; 1,000 idle nodes cost 1,000 parked threads and no timers (the cron is shared). The
//! alternative, a per-node actor task fed by a channel, pays a channel send, a task wake-up and
//! a oneshot reply per batch: `cargo run --release -p ecl-redis --example lock_vs_task` (50
//! clients, 2 workers) measured the lock at 2.6x the actor's throughput with one command per
//! batch and 1.25x with 16. The critical sections are short (no I/O and no await while the lock
//! is held), so a blocking mutex is the right tool; slow commands (KEYS on a big keyspace) stall
//! only that node, as they stall a real Redis.

pub mod commandlog;
mod context;
pub mod encodings;
pub mod replication;
mod shared;
pub mod slot_stats;
pub mod visits;

pub use context::{Ctx, Handler, Propagation};
pub(crate) use shared::take_woken;
pub use shared::{NodeGuard, Shared, lock_async};

use crate::Flavor;
use crate::argv::OwnedArgv;
use crate::client::{BlockSpec, Client, Clients, Event, TimeoutReply};
use crate::cmdtable;

/// The per-node command table: exactly the commands the node's engine release has, with their
/// handlers.
pub type CommandTable = cmdtable::CommandTable<Handler>;
use crate::config::{Config, notify};
use crate::db::evict::{self, Policy};
use crate::db::{AccessMode, Db, Key};
use crate::pubsub::PubSub;
use crate::resp::Reply;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

/// Memory an empty node reports (Redis reports a bit under 1 MB with no data).
pub const BASE_MEMORY: u64 = 880 * 1024;

/// Per-command statistics (INFO commandstats).
#[derive(Clone, Debug, Default)]
pub struct CmdStat {
    /// Calls.
    pub calls: u64,
    /// Total microseconds.
    pub usec: u64,
    /// Rejected before running (arity, OOM, NOAUTH…).
    pub rejected: u64,
    /// Ran and replied with an error.
    pub failed: u64,
    /// Run times (`latency-tracking`), from the first call recorded.
    pub latency: Option<Box<crate::latency::LatencyHistogram>>,
}

impl CmdStat {
    /// Adds a run of `usec` µs to the command's time and, with `histogram`, to its latency
    /// histogram (`latency-tracking`).
    #[inline]
    pub fn add_run(&mut self, usec: u64, histogram: bool) {
        self.usec += usec;
        if histogram {
            self.latency
                .get_or_insert_with(Box::default)
                .record_usec(usec);
        }
    }
}

/// Node-wide counters (INFO stats).
#[derive(Debug, Default)]
pub struct Stats {
    /// Commands processed.
    pub commands: u64,
    /// Per command id.
    pub cmd: Vec<CmdStat>,
    /// Error replies by code.
    pub errors: HashMap<String, u64>,
    /// Total error replies.
    pub error_replies: u64,
    /// Keys evicted.
    pub evicted: u64,
    /// Clients evicted by `maxmemory-clients`.
    pub evicted_clients: u64,
    /// Keys expired (databases also count their own; this keeps flushed counts).
    pub expired_base: u64,
    /// Hits/misses carried over flushes.
    pub hits_base: u64,
    /// Misses carried over flushes.
    pub misses_base: u64,
    /// Bytes written to clients.
    pub net_out: u64,
    /// Connections refused (maxclients).
    pub rejected_conns: u64,
    /// Messages published (pubsub).
    pub published: u64,
    /// Time of the last CONFIG RESETSTAT or start.
    pub since: Option<Instant>,
    /// Highest `used_memory` seen.
    pub peak_memory: u64,
    /// ops/sec samples (ring of (instant, commands)).
    pub ops_samples: VecDeque<(Instant, u64)>,
}

/// One SLOWLOG entry.
#[derive(Clone, Debug)]
pub struct SlowEntry {
    /// Entry id.
    pub id: u64,
    /// Unix time (s).
    pub time: i64,
    /// Duration (µs).
    pub usec: u64,
    /// Arguments (truncated like Redis: 32 args, 128 bytes each).
    pub args: Vec<Vec<u8>>,
    /// Client address.
    pub addr: String,
    /// Client name.
    pub name: String,
}

/// A client waiting in a blocking command.
#[derive(Debug)]
pub struct Blocked {
    /// Database the command runs in.
    pub db: usize,
    /// The command to re-run.
    pub argv: OwnedArgv,
    /// Protocol of the client.
    pub resp3: bool,
    /// What it waits for.
    pub spec: BlockSpec,
}

/// Releases whose first connection has client id 3.
const FIRST_ID_3: crate::version::Since =
    crate::version::Since::from(crate::version::Release::Redis(7, 0, 0));

/// What a busy script's run had when another connection's turn interrupted it.
#[derive(Debug)]
pub struct PausedRun {
    running: bool,
    batch_now: i64,
    batch_cmds: u32,
    last_tick: Instant,
}

/// Static facts about the node.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    /// Engine version string reported by INFO/HELLO.
    pub version: String,
    /// Redis-compatible version (packed), used for command availability.
    pub compat: u32,
    /// The engine and version, parsed once (options a later release added are gated on it).
    pub release: crate::version::EngineVersion,
    /// Redis or Valkey.
    pub flavor: Flavor,
    /// TCP port.
    pub port: u16,
    /// Random run id (40 hex chars).
    pub run_id: String,
    /// Start instant.
    pub started: Instant,
    /// Start time (Unix ms).
    pub started_ms: i64,
    /// Cluster mode.
    pub cluster: bool,
    /// The node's availability zone (HELLO `availability_zone` on Valkey 8.1 on).
    pub availability_zone: Option<String>,
}

/// Everything behind the node lock.
///
/// Fields are private where the engine keeps an invariant over them (blocked clients and
/// their key queues, the slow log and its ids, the dirty counter and last save, the batch
/// clock, CLIENT PAUSE, latency events): siblings go through the methods below. The
/// collections every command family works on (databases, configuration, clients,
/// statistics, replication and cluster state…) are `pub(crate)`; nothing outside the crate
/// sees any field.
///
/// Parts other than the databases, configuration, statistics and clients are boxed (and the
/// Lua states inside `scripts`): a script run lends the whole engine to the Lua state by
/// swapping it by value (`command::script_run`), which costs in proportion to this struct's
/// size (3,176 bytes unboxed; callgrind: EVALSHA of a GET script 16,466 -> 15,915
/// instructions, GET unchanged within its 1 % noise).
#[derive(Debug)]
pub struct Engine {
    /// The databases.
    pub(crate) dbs: Vec<Db>,
    /// Command table.
    pub(crate) table: Arc<CommandTable>,
    /// Configuration.
    pub(crate) cfg: Config,
    /// Counters.
    pub(crate) stats: Stats,
    /// Connected clients.
    pub(crate) clients: Clients,
    /// Subscriptions.
    pub(crate) pubsub: Box<PubSub>,
    /// Client-side caching (CLIENT TRACKING).
    pub(crate) tracking: Box<crate::tracking::Tracking>,
    /// The databases are set to leave access times alone (CLIENT NO-TOUCH's command ran
    /// last): read before every command, so the common case is one flag.
    pub(crate) no_touch_on: bool,
    /// Frees large values and emptied tables in the background (UNLINK, FLUSHALL ASYNC).
    pub(crate) lazyfree: crate::db::lazyfree::LazyFree,
    /// Clients whose commands wait for a CLIENT PAUSE to end (see [`Engine::note_postponed`]).
    postponed: std::collections::HashSet<u64>,
    /// Blocked clients by id.
    blocked: HashMap<u64, Blocked>,
    /// Waiting client ids per (db, key), FIFO.
    waiters: HashMap<(usize, Key), VecDeque<u64>>,
    /// Keys that became ready since the last serve.
    ready: Vec<(usize, Key)>,
    /// Slow log (newest first).
    slowlog: VecDeque<SlowEntry>,
    /// COMMANDLOG's large-request and large-reply logs (Valkey 8.1).
    pub(crate) commandlog: Box<commandlog::LargeLogs>,
    /// CLUSTER SLOT-STATS' CPU and network counters (`cluster-slot-stats-enabled`).
    pub(crate) slot_stats: slot_stats::SlotStats,
    /// Next slowlog id.
    slowlog_next: u64,
    /// The databases' memory as of a dirty count, within the current batch (see
    /// [`Engine::memory_for_eviction`]).
    data_memory_cache: Option<(u64, u64)>,
    /// Changes since the last save.
    dirty: u64,
    /// Last save (Unix s).
    lastsave: i64,
    /// Facts.
    pub(crate) info: NodeInfo,
    /// Test clock offset added to wall time (ms).
    clock_offset: i64,
    /// CLIENT PAUSE: until (ms) and whether only writes are paused.
    pause: Option<(i64, bool)>,
    /// Other connections' turns while a script is busy (served by its kill check).
    pub(crate) visits: Arc<visits::Visits>,
    /// The latency monitor's events (LATENCY LATEST, HISTORY).
    pub(crate) latency: Box<crate::latency::LatencyMonitor>,
    /// Cached command time (ms) for the current batch: reading the clock costs as much as a
    /// simple command, so a batch reads it once (and again every few commands).
    batch_now: i64,
    /// Commands run since `batch_now` was read.
    batch_cmds: u32,
    /// End of the previous command (or start of the batch), for per-command timing with one
    /// clock read per command.
    last_tick: Instant,
    /// Replication state (role, links, stream offset).
    pub(crate) repl: Box<replication::Replication>,
    /// Cluster-mode state (node id, topology, slot map).
    pub(crate) cluster: Box<crate::cluster::ClusterState>,
    /// RDB persistence state (data directory, last image, INFO figures).
    pub(crate) persist: Box<crate::rdb::state::Persistence>,
    /// The node itself, for background work (BGSAVE, AOF rewrites) that takes the lock on its
    /// own; set when the node starts.
    pub(crate) handle: std::sync::Weak<Shared>,
    /// Set when a command panicked: the keyspace may hold a half-applied write, so the node
    /// refuses commands until it is rebooted (a reboot builds a fresh engine). Holds the
    /// panic's message.
    broken: Option<String>,
    /// ACL users and log.
    pub(crate) acl: crate::acl::Acl,
    /// Lua scripting: the node's Lua state and script cache (EVAL, SCRIPT).
    pub(crate) scripts: Box<crate::scripting::Scripts>,
}

pub use crate::clock::wall_ms;

impl Engine {
    /// A fresh engine.
    pub fn new(info: NodeInfo, cfg: Config, table: Arc<CommandTable>) -> Engine {
        let n = table.entries.len();
        let acl = crate::acl::Acl::legacy(cfg.requirepass.as_deref(), &table);
        let output_limits = cfg.output_limits;
        let mut e = Engine {
            dbs: (0..16).map(|_| Db::new()).collect(),
            table,
            cfg,
            stats: Stats {
                cmd: vec![CmdStat::default(); n],
                since: Some(Instant::now()),
                ..Default::default()
            },
            clients: Clients {
                output_limits,
                ..Clients::default()
            },
            pubsub: Box::default(),
            tracking: Default::default(),
            no_touch_on: false,
            lazyfree: Default::default(),
            postponed: Default::default(),
            blocked: HashMap::new(),
            waiters: HashMap::new(),
            ready: Vec::new(),
            slowlog: VecDeque::new(),
            commandlog: Default::default(),
            slot_stats: Default::default(),
            slowlog_next: 0,
            data_memory_cache: None,
            dirty: 0,
            lastsave: info.started_ms / 1000,
            info,
            clock_offset: 0,
            pause: None,
            visits: Arc::default(),
            latency: Box::default(),
            batch_now: 0,
            batch_cmds: 0,
            last_tick: Instant::now(),
            repl: Default::default(),
            cluster: Default::default(),
            persist: Default::default(),
            handle: std::sync::Weak::new(),
            broken: None,
            acl,
            scripts: Default::default(),
        };
        e.refresh_access_mode();
        if e.info.cluster {
            // Cluster mode has database 0 only; resharding and CLUSTER GETKEYSINSLOT read
            // its keys by slot.
            e.dbs[0].enable_slot_index();
        }
        if e.info.release.has(FIRST_ID_3) {
            // Redis 7 creates its two Lua clients (scripts, functions) at start-up, so the
            // first connection is client 3 (CLIENT ID on a fresh redis-server 7.0.15).
            e.clients.next_id = 2;
        }
        e
    }

    /// Whether new ACL users get every channel (`acl-pubsub-default allchannels`).
    pub fn pubsub_default_all(&self) -> bool {
        self.cfg.get("acl-pubsub-default").as_deref() == Some("allchannels")
    }

    /// Makes the `default` user's password follow `requirepass` (CONFIG SET requirepass).
    pub fn sync_requirepass(&mut self) {
        let table = self.table.clone();
        let pass = self.cfg.requirepass.clone();
        self.acl.set_requirepass(pass.as_deref(), &table);
    }

    /// Why the node is broken (a command panicked), or `None` while it is healthy.
    pub fn broken(&self) -> Option<&str> {
        self.broken.as_deref()
    }

    /// Marks the node broken after a command panicked; the first reason is kept.
    pub fn mark_broken(&mut self, reason: String) {
        if self.broken.is_none() {
            self.broken = Some(reason);
        }
    }

    /// Changes since the last save (INFO `rdb_changes_since_last_save`).
    pub fn dirty(&self) -> u64 {
        self.dirty
    }

    /// Counts `n` changes.
    pub fn add_dirty(&mut self, n: u64) {
        self.dirty += n;
    }

    /// Last save (Unix s).
    pub fn lastsave(&self) -> i64 {
        self.lastsave
    }

    /// A save (SAVE/BGSAVE) completed at `now_s`: no change is pending any more.
    pub fn mark_saved(&mut self, now_s: i64) {
        self.dirty = 0;
        self.data_memory_cache = None;
        self.lastsave = now_s;
    }

    /// A background save that began with `dirty_at_start` changes pending completed at
    /// `now_s`: changes made while it ran stay pending.
    pub fn mark_saved_from(&mut self, dirty_at_start: u64, now_s: i64) {
        self.dirty = self.dirty.saturating_sub(dirty_at_start);
        self.data_memory_cache = None;
        self.lastsave = now_s;
    }

    /// The test clock offset (ms) added to wall time.
    pub fn clock_offset(&self) -> i64 {
        self.clock_offset
    }

    /// Moves the node's clock forward by `ms` (tests, DEBUG).
    pub fn advance_clock(&mut self, ms: i64) {
        self.clock_offset += ms;
    }

    /// The cached command time of the current batch (ms).
    pub fn batch_now(&self) -> i64 {
        self.batch_now
    }

    /// Microseconds since the previous command ended (or the batch started), and starts the
    /// next command's interval: one clock read per command.
    pub fn command_elapsed_us(&mut self) -> u64 {
        let t1 = Instant::now();
        let usec = t1.saturating_duration_since(self.last_tick).as_micros() as u64;
        self.last_tick = t1;
        usec
    }

    /// CLIENT PAUSE in effect: until (ms) and whether only writes are paused.
    pub fn pause(&self) -> Option<(i64, bool)> {
        self.pause
    }

    /// Whether CLIENT PAUSE (either mode) is in effect at `now_ms`: keys are then neither
    /// expired nor evicted, as in redis-server, so the dataset does not change under it.
    pub fn paused_at(&self, now_ms: i64) -> bool {
        self.pause.is_some_and(|(until, _)| now_ms < until)
    }

    /// Sets (or with `None` lifts) CLIENT PAUSE.
    pub fn set_pause(&mut self, pause: Option<(i64, bool)>) {
        self.pause = pause;
        let until = pause.map_or(0, |(until, _)| until);
        for db in &mut self.dbs {
            db.expiry_paused_until = until;
        }
    }

    /// SLOWLOG entries, newest first, at most `count`.
    pub fn slowlog_entries(&self, count: usize) -> Vec<SlowEntry> {
        self.slowlog.iter().take(count).cloned().collect()
    }

    /// SLOWLOG LEN.
    pub fn slowlog_len(&self) -> usize {
        self.slowlog.len()
    }

    /// SLOWLOG RESET (ids keep growing, as in Redis).
    pub fn slowlog_reset(&mut self) {
        self.slowlog.clear();
    }

    /// Clients blocked in a blocking command.
    pub fn blocked_count(&self) -> usize {
        self.blocked.len() + self.postponed.len()
    }

    /// Records whether client `id`'s last batch stopped at a CLIENT PAUSE: Redis counts such
    /// a postponed client among the blocked ones (INFO `blocked_clients`) until it runs.
    pub fn note_postponed(&mut self, id: u64, postponed: bool) {
        if postponed {
            self.postponed.insert(id);
        } else if !self.postponed.is_empty() {
            self.postponed.remove(&id);
        }
    }

    /// Blocked clients with a deadline (INFO `clients_in_timeout_table`).
    pub fn blocked_with_deadline(&self) -> usize {
        self.blocked
            .values()
            .filter(|b| b.spec.deadline_ms.is_some())
            .count()
    }

    /// Whether client `id` is blocked.
    pub fn is_blocked(&self, id: u64) -> bool {
        self.blocked.contains_key(&id)
    }

    /// Keys some client is blocked on (INFO `total_blocking_keys`).
    pub fn blocking_keys(&self) -> usize {
        self.waiters.len()
    }

    /// (db, key) pairs some client is blocked on, in databases `a` or `b` (SWAPDB).
    pub fn waited_keys_in(&self, a: usize, b: usize) -> Vec<(usize, Key)> {
        self.waiters
            .keys()
            .filter(|(d, _)| *d == a || *d == b)
            .cloned()
            .collect()
    }

    /// Whether some key was signalled ready since the blocked clients were last served.
    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// The oldest key signalled ready, with the ids waiting on it (FIFO).
    pub fn next_ready(&mut self) -> Option<((usize, Key), Vec<u64>)> {
        if self.ready.is_empty() {
            return None;
        }
        let slot = self.ready.remove(0);
        let ids = self
            .waiters
            .get(&slot)
            .map(|q| q.iter().copied().collect())
            .unwrap_or_default();
        Some((slot, ids))
    }

    /// The command, database and protocol client `id` is blocked in.
    pub fn blocked_command(&self, id: u64) -> Option<(OwnedArgv, usize, bool)> {
        self.blocked
            .get(&id)
            .map(|b| (b.argv.clone(), b.db, b.resp3))
    }

    /// Current time in ms (wall clock plus the test offset).
    pub fn now_ms(&self) -> i64 {
        wall_ms() + self.clock_offset
    }

    /// Starts a batch of commands: reads the clocks once.
    pub fn begin_batch(&mut self) {
        self.data_memory_cache = None;
        self.clients.output_limits = self.cfg.output_limits;
        self.batch_now = self.now_ms();
        self.batch_cmds = 0;
        self.last_tick = Instant::now();
    }

    /// Another connection's turn starts while a script is busy (`engine::visits`): its
    /// commands run as a visit, not as the script's, on a batch clock of their own. Returns
    /// what [`Engine::end_visit`] restores for the script.
    pub fn begin_visit(&mut self) -> PausedRun {
        let saved = PausedRun {
            running: self.scripts.running,
            batch_now: self.batch_now,
            batch_cmds: self.batch_cmds,
            last_tick: self.last_tick,
        };
        self.scripts.running = false;
        self.scripts.visiting = true;
        saved
    }

    /// The visit is over: the script goes on with its own clock.
    pub fn end_visit(&mut self, saved: PausedRun) {
        self.scripts.visiting = false;
        self.scripts.running = saved.running;
        self.batch_now = saved.batch_now;
        self.batch_cmds = saved.batch_cmds;
        self.last_tick = saved.last_tick;
    }

    /// Time for the next command: the batch's cached time, refreshed every 32 commands so long
    /// pipelines do not run on a stale clock.
    pub fn command_now(&mut self) -> i64 {
        self.batch_cmds += 1;
        if self.batch_cmds >= 32 {
            self.batch_cmds = 0;
            self.batch_now = self.now_ms();
        }
        self.batch_now
    }

    /// Applies the per-database settings to every database: the policy's access mode (LRU vs
    /// LFU), new-key notifications, and background freeing of expired and replaced values.
    pub fn refresh_access_mode(&mut self) {
        let mode = if self.cfg.policy.is_lfu() {
            AccessMode::Lfu {
                log_factor: self.cfg.lfu_log_factor,
                decay_minutes: self.cfg.lfu_decay_time,
            }
        } else {
            AccessMode::Lru
        };
        let n = self.cfg.notify;
        let track_new = n & notify::NEW != 0 && n & (notify::KEYSPACE | notify::KEYEVENT) != 0;
        for db in &mut self.dbs {
            db.access = mode;
            db.track_new = track_new;
            db.lazyfree = self.lazyfree.clone();
            db.lazy_expire = self.cfg.lazy_expire;
            db.lazy_server_del = self.cfg.lazy_server_del;
            if !track_new {
                db.new_log.clear();
            }
        }
    }

    /// INFO `used_memory`.
    pub fn used_memory(&self) -> u64 {
        let data: usize = self.dbs.iter().map(|d| d.used_memory()).sum();
        BASE_MEMORY + data as u64 + self.clients.memory()
    }

    /// Total keys.
    pub fn total_keys(&self) -> u64 {
        self.dbs.iter().map(|d| d.len() as u64).sum()
    }

    /// [`Engine::used_memory`] for the check before every command: the databases' part (a
    /// walk over all of them) is reused while nothing was written since it was taken in this
    /// batch, so reads do not pay for it (Redis reads one allocator counter). Writes, evictions
    /// and a new batch take it again.
    fn memory_for_eviction(&mut self) -> u64 {
        let data = match self.data_memory_cache {
            Some((dirty, bytes)) if dirty == self.dirty => bytes,
            _ => {
                let bytes = self.dbs.iter().map(|d| d.used_memory() as u64).sum();
                self.data_memory_cache = Some((self.dirty, bytes));
                bytes
            }
        };
        BASE_MEMORY + data + self.clients.memory()
    }

    /// Evicts until under `maxmemory`; false if still over (nothing evictable). Nothing is
    /// evicted while clients are paused (the dataset stays as it is, as in redis-server).
    pub fn evict_if_needed(&mut self, now: i64) -> bool {
        let max = self.cfg.maxmemory;
        if max == 0 || self.paused_at(now) {
            return true;
        }
        let mut guard = 0;
        while self.memory_for_eviction() > max {
            guard += 1;
            if guard > 100_000 {
                return false;
            }
            let Some((db, key)) = evict::pick_victim(
                &mut self.dbs,
                self.cfg.policy,
                self.cfg.samples,
                now,
                self.cfg.lfu_decay_time,
            ) else {
                return false;
            };
            if let Some(evicted) = self.dbs[db].remove(&key)
                && self.cfg.lazy_eviction
            {
                self.lazyfree.release(evicted.value);
            }
            self.data_memory_cache = None;
            self.propagate_dels(db, std::slice::from_ref(&key));
            self.stats.evicted += 1;
            self.invalidate_modified(None);
            self.notify(notify::EVICTED, "evicted", db, &key);
        }
        true
    }

    /// Client-side caching: invalidates the keys the databases logged as modified, by client
    /// `origin` (`None` = the server: eviction), and keeps the logs on exactly while clients
    /// track keys.
    pub fn invalidate_modified(&mut self, origin: Option<u64>) {
        let keep = self.tracking.is_active();
        for db in 0..self.dbs.len() {
            let log = &mut self.dbs[db].modified_log;
            let keys = match keep {
                true => log.as_mut().map(std::mem::take),
                false => log.take(),
            };
            if let Some(keys) = keys.filter(|k| !k.is_empty()) {
                let keys: Vec<Vec<u8>> = keys.iter().map(|k| k.to_vec()).collect();
                self.tracking.invalidate(&self.clients, &keys, origin);
            }
            if keep && self.dbs[db].modified_log.is_none() {
                self.dbs[db].modified_log = Some(Vec::new());
            }
        }
    }

    /// The end of a batch (redis-server's "before sleep"): BCAST invalidations go out.
    pub fn flush_tracking(&mut self) {
        if self.tracking.is_active() {
            self.tracking.flush_broadcasts(&self.clients);
        }
    }

    /// Holds the tracking table to `tracking-table-max-keys` (before every command and in the
    /// cron, as redis-server does), invalidating the keys it forgets.
    pub fn limit_tracking_table(&mut self) {
        let max = self.cfg.tracking_table_max_keys;
        if self.tracking.totals().0 > max {
            self.tracking.limit_keys(&self.clients, max);
        }
    }

    /// Whether the current policy could free memory at all.
    pub fn can_evict(&self) -> bool {
        self.cfg.policy != Policy::NoEviction
    }

    /// Publishes a keyspace notification if enabled for `class`.
    pub fn notify(&mut self, class: u32, event: &str, db: usize, key: &[u8]) {
        let flags = self.cfg.notify;
        if flags & class == 0 || flags & (notify::KEYSPACE | notify::KEYEVENT) == 0 {
            return;
        }
        if flags & notify::KEYSPACE != 0 {
            let mut ch = format!("__keyspace@{db}__:").into_bytes();
            ch.extend_from_slice(key);
            self.pubsub
                .publish(&self.clients, false, &ch, event.as_bytes(), None);
        }
        if flags & notify::KEYEVENT != 0 {
            let ch = format!("__keyevent@{db}__:{event}").into_bytes();
            self.pubsub.publish(&self.clients, false, &ch, key, None);
        }
    }

    /// Publishes `new` notifications for keys the databases created since last time.
    pub fn drain_new(&mut self) {
        for db in 0..self.dbs.len() {
            if self.dbs[db].new_log.is_empty() {
                continue;
            }
            let keys = std::mem::take(&mut self.dbs[db].new_log);
            for k in keys {
                self.notify(notify::NEW, "new", db, &k);
            }
        }
    }

    /// Publishes `expired` notifications for keys the databases expired since last time.
    pub fn drain_expired(&mut self) {
        for db in 0..self.dbs.len() {
            if self.dbs[db].expired_log.is_empty() {
                continue;
            }
            let keys = std::mem::take(&mut self.dbs[db].expired_log);
            for k in &keys {
                self.signal_stream_gone(db, k);
            }
            // Not counted as changes: redis-server leaves `rdb_changes_since_last_save` alone
            // when it expires a key, actively or on access (checked on 7.0.15).
            self.propagate_dels(db, &keys);
            if self.tracking.is_active() {
                let ks: Vec<Vec<u8>> = keys.iter().map(|k| k.to_vec()).collect();
                self.tracking.invalidate(&self.clients, &ks, None);
            }
            if self.cfg.notify & notify::EXPIRED != 0 {
                for k in keys {
                    self.notify(notify::EXPIRED, "expired", db, &k);
                }
            }
        }
    }

    /// A write made `key` possibly able to serve blocked clients.
    pub fn signal_key_ready(&mut self, db: usize, key: &[u8]) {
        if self.waiters.is_empty() {
            return;
        }
        let k: Key = key.into();
        if self.waiters.contains_key(&(db, k.clone()))
            && !self.ready.iter().any(|(d, r)| *d == db && *r == k)
        {
            self.ready.push((db, k));
        }
    }

    /// A write that may have deleted `key` or replaced its stream with another type: clients
    /// blocked in XREADGROUP on it are queued as for a ready key, and their re-run answers that
    /// the stream is gone, as Redis 7.0 releases them (other blocked commands keep waiting).
    pub fn signal_stream_gone(&mut self, db: usize, key: &[u8]) {
        if self.waiters.is_empty() {
            return;
        }
        let Some(ids) = self.waiters.get(&(db, Key::from(key))) else {
            return;
        };
        let grouped = ids.iter().any(|id| {
            self.blocked
                .get(id)
                .is_some_and(|b| b.argv.as_argv().get(0).eq_ignore_ascii_case(b"xreadgroup"))
        });
        let stream = matches!(
            self.dbs[db].peek_raw(key).map(|e| &e.value),
            Some(crate::db::Value::Stream(_))
        );
        if grouped && !stream {
            self.signal_key_ready(db, key);
        }
    }

    /// Registers a blocked client.
    pub fn block_client(&mut self, id: u64, b: Blocked) {
        for k in &b.spec.keys {
            self.waiters
                .entry((b.db, k.clone()))
                .or_default()
                .push_back(id);
        }
        if let Some(c) = self.clients.map.get_mut(&id) {
            c.blocked = true;
        }
        self.blocked.insert(id, b);
    }

    /// Unregisters a blocked client; returns its state if it was still blocked.
    pub fn unblock_client(&mut self, id: u64) -> Option<Blocked> {
        let b = self.blocked.remove(&id)?;
        for k in &b.spec.keys {
            let slot = (b.db, k.clone());
            if let Some(q) = self.waiters.get_mut(&slot) {
                q.retain(|&x| x != id);
                if q.is_empty() {
                    self.waiters.remove(&slot);
                }
            }
        }
        if let Some(c) = self.clients.map.get_mut(&id) {
            c.blocked = false;
        }
        Some(b)
    }

    /// The timeout reply of a blocked command, encoded for its protocol.
    pub fn timeout_reply(b: &Blocked) -> Vec<u8> {
        let mut r = Reply {
            buf: Vec::new(),
            resp3: b.resp3,
        };
        match b.spec.timeout_reply {
            TimeoutReply::NullArray => r.null_array(),
            TimeoutReply::Null => r.null(),
            TimeoutReply::Int(n) => r.int(n),
            TimeoutReply::Ok => r.ok(),
        }
        r.buf
    }

    /// Sends an event to a client.
    pub fn send(&self, id: u64, ev: Event) -> bool {
        self.clients.send(id, ev)
    }

    /// Records a slow command.
    pub fn slowlog_push(
        &mut self,
        usec: u64,
        args: Vec<Vec<u8>>,
        addr: String,
        name: String,
        now_ms: i64,
    ) {
        let id = self.slowlog_next;
        self.slowlog_next += 1;
        self.slowlog.push_front(SlowEntry {
            id,
            time: now_ms / 1000,
            usec,
            args,
            addr,
            name,
        });
        while self.slowlog.len() > self.cfg.slowlog_max_len {
            self.slowlog.pop_back();
        }
    }

    /// Sum of keyspace hits over databases and flushed history.
    pub fn keyspace_hits(&self) -> u64 {
        self.stats.hits_base + self.dbs.iter().map(|d| d.hits).sum::<u64>()
    }

    /// Sum of keyspace misses.
    pub fn keyspace_misses(&self) -> u64 {
        self.stats.misses_base + self.dbs.iter().map(|d| d.misses).sum::<u64>()
    }

    /// Sum of expired keys.
    pub fn expired_keys(&self) -> u64 {
        self.stats.expired_base + self.dbs.iter().map(|d| d.expired).sum::<u64>()
    }

    /// Empties one database, keeping its statistics.
    pub fn flush_db(&mut self, i: usize) {
        self.flush(i..i + 1, false);
    }

    /// [`Engine::flush_db`] with the emptied table freed in the background (FLUSHDB ASYNC).
    pub fn flush_db_lazily(&mut self, i: usize) {
        self.flush(i..i + 1, true);
    }

    /// [`Engine::flush_all`] with the emptied tables freed in the background (FLUSHALL ASYNC).
    pub fn flush_all_lazily(&mut self) {
        self.flush(0..self.dbs.len(), true);
    }

    /// Empties the databases `dbs` (their tables dropped here, or `lazily` by the background
    /// freeing), with one invalidation for tracking clients.
    fn flush(&mut self, dbs: std::ops::Range<usize>, lazily: bool) {
        for db in &mut self.dbs[dbs] {
            let keys = db.len() as u64;
            match db.take_table() {
                Some(table) if lazily => self.lazyfree.release_table(table, keys),
                table => drop(table),
            }
        }
        if self.tracking.is_active() {
            self.tracking.invalidate_all(&self.clients);
        }
    }

    /// Empties every database (FLUSHALL), with one invalidation for tracking clients.
    pub fn flush_all(&mut self) {
        self.flush(0..self.dbs.len(), false);
    }

    /// `maxmemory-clients`: closes the largest clients until the clients together use less
    /// than the limit, as redis-server evicts them (INFO `evicted_clients`). Checked after
    /// every batch and in the cron (output queued for an idle subscriber grows too).
    pub fn evict_clients(&mut self) {
        let limit = self.cfg.maxmemory_clients.bytes(self.cfg.maxmemory);
        if limit == 0 {
            return;
        }
        for id in self.clients.evict_over(limit) {
            tracing::warn!(
                client = id,
                "evicting client: clients over maxmemory-clients"
            );
            self.stats.evicted_clients += 1;
            if let Some(c) = self.clients.map.get(&id) {
                let _ = c.tx.send(Event::Kill);
                c.kill.notify_one();
            }
        }
    }

    /// Runs the engine's part of the node's periodic cycle: one active-expiry pass over all
    /// databases, the end of an expired CLIENT PAUSE, memory and ops/sec samples. The node's
    /// cron (`crate::cron`) then serves clients blocked on keys that expired and runs the
    /// persistence cycle.
    pub fn cron(&mut self) {
        let now = self.now_ms();
        let effort = self.cfg.active_expire_effort;
        // Replicas leave expiry to their primary, which propagates DEL; a paused node keeps
        // its dataset as it is until the pause ends, as redis-server does.
        let paused = self.paused_at(now);
        let active = self.cfg.active_expire_enabled && !self.repl.is_replica() && !paused;
        let started = Instant::now();
        for db in self.dbs.iter_mut().filter(|_| active) {
            if db.expires_len() > 0 {
                db.active_expire(now, 4 * effort);
            }
        }
        // The latency monitor's `expire-cycle` event: a pass that took the threshold or more
        // (freeing a large expired key does), as Redis records it.
        let threshold = self.cfg.latency_threshold_ms;
        let took_ms = started.elapsed().as_millis() as u64;
        if threshold > 0 && took_ms >= threshold {
            self.latency.record("expire-cycle", now / 1000, took_ms);
        }
        self.drain_expired();
        self.evict_clients();
        if let Some((until, _)) = self.pause
            && now >= until
        {
            self.set_pause(None);
        }
        self.stats.peak_memory = self.stats.peak_memory.max(self.used_memory());
        let inst = Instant::now();
        self.stats
            .ops_samples
            .push_back((inst, self.stats.commands));
        // Redis' window: the last 16 samples of 100 ms. A node the cron thread left alone
        // while quiet has older ones; they would spread the first burst after it over
        // minutes.
        while self.stats.ops_samples.len() > 16
            || self
                .stats
                .ops_samples
                .front()
                .is_some_and(|(t, _)| inst.duration_since(*t) > std::time::Duration::from_secs(2))
        {
            self.stats.ops_samples.pop_front();
        }
    }

    /// Whether the last [`Engine::cron`] left nothing for the next ones to do: no key with a
    /// TTL to expire, no pause to lift, no persistence work, and an ops/sec window that shows
    /// no commands. The cron thread then parks the node until someone takes its lock again.
    pub fn cron_quiet(&self) -> bool {
        let replica = self.repl.is_replica() || !self.cfg.active_expire_enabled;
        let no_ttl = replica || self.dbs.iter().all(|d| d.expires_len() == 0);
        let ops_flat = match (
            self.stats.ops_samples.front(),
            self.stats.ops_samples.back(),
        ) {
            (Some((_, c0)), Some((_, c1))) => c0 == c1 && self.stats.ops_samples.len() >= 16,
            _ => false,
        };
        no_ttl
            && ops_flat
            && self.pause.is_none()
            && self.persist.aof.is_none()
            && !self.persist.bgsave_scheduled
            && !self.snapshot_in_progress()
    }

    /// Forgets the client's watches (EXEC, DISCARD, UNWATCH, RESET, disconnect), releasing its
    /// hold on each key's deletion record.
    pub fn release_watches(&mut self, client: &mut Client) {
        for w in client.watches.drain(..) {
            self.dbs[w.db].unwatch_key(&w.key);
        }
    }

    /// Whether a point-in-time snapshot (BGSAVE, an AOF rewrite, the supervisor's image) is
    /// being collected: every database then carries a snapshot cursor.
    pub fn snapshot_in_progress(&self) -> bool {
        self.dbs.iter().any(|d| d.snap.is_some())
    }

    /// INFO `instantaneous_ops_per_sec`.
    pub fn ops_per_sec(&self) -> u64 {
        match (
            self.stats.ops_samples.front(),
            self.stats.ops_samples.back(),
        ) {
            (Some((t0, c0)), Some((t1, c1))) if t1 > t0 => {
                // CONFIG RESETSTAT zeroes the counter between samples (and clears them);
                // never underflow if a sample from before the reset is still queued.
                (c1.saturating_sub(*c0) as f64 / t1.duration_since(*t0).as_secs_f64()) as u64
            }
            _ => 0,
        }
    }
}
