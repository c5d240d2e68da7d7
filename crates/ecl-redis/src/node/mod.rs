//! [`RedisNode`]: starting, inspecting, reconfiguring and stopping one engine node.
//!
//! Place in the flow: the supervisor's handle on a node. `start` binds the listener
//! synchronously (so the node is listening when it returns), then spawns the accept loop on
//! the ambient tokio runtime (every connection becomes a task there too) and registers the
//! node's periodic cron (active expiry, pause expiry, ops/sec sampling) with [`crate::cron`].

mod cluster;
mod load;
mod persistence;
mod replication;
mod runtime;

use crate::command::CommandTable;
use crate::config::Config;
use crate::conn::serve;
use crate::engine::Shared;
use crate::engine::{Engine, NodeInfo, wall_ms};
use crate::version::EngineVersion;
use crate::{NodeStats, RedisConfig};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tracing::Instrument;

/// The commands [`RedisNode::inspect`] runs: they only read.
pub const INSPECT_COMMANDS: &[&str] = &[
    "scan", "type", "pttl", "strlen", "getrange", "llen", "lrange", "scard", "sscan", "zcard",
    "zrange", "hlen", "hscan", "xlen", "xrange", "slowlog", "dbsize",
];

/// A running node.
#[derive(Debug)]
pub struct RedisNode {
    pub(crate) shared: Arc<Shared>,
    addr: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
    /// The runtime the node runs on (replication tasks are spawned there).
    pub(crate) runtime: tokio::runtime::Handle,
    /// The node's own runtime, when it has one (`RedisConfig::threads`): held for its drop,
    /// which stops what still runs there; declared after the task handles, dropped after them.
    _own_runtime: Option<runtime::NodeRuntime>,
    /// The `node` span (name and address) every task of the node runs in.
    pub(crate) span: tracing::Span,
    /// TLS policy of the listener, replaceable while it runs.
    tls: ecl_net::PolicyCell,
    /// Network faults the listener's connections suffer (fault injection).
    fault: ecl_net::FaultGate,
}

/// The node's configuration at start: its address, cluster mode and memory limit, the
/// deployment's parameters (renamed and withheld commands change `table` instead), the AUTH
/// token and the data directory.
fn engine_config(
    cfg: &RedisConfig,
    addr: std::net::SocketAddr,
    release: EngineVersion,
    table: &mut CommandTable,
) -> Config {
    let mut config = Config::for_release(release);
    config.set_initial("port", &addr.port().to_string()).ok();
    config.set_initial("bind", &addr.ip().to_string()).ok();
    config
        .set_initial(
            "cluster-enabled",
            if cfg.cluster_enabled { "yes" } else { "no" },
        )
        .ok();
    if cfg.maxmemory > 0 {
        config.set("maxmemory", &cfg.maxmemory.to_string()).ok();
    }
    for (name, value) in &cfg.parameters {
        if name.eq_ignore_ascii_case("rename-commands")
            || name.eq_ignore_ascii_case("rename-command")
        {
            let words: Vec<&str> = value.split_whitespace().collect();
            for pair in words.chunks(2) {
                if let [old, new] = pair {
                    table.rename(old, new);
                }
            }
            continue;
        }
        if name.eq_ignore_ascii_case("disabled-commands") {
            // Commands the deployment withholds (ElastiCache makes CONFIG, SAVE, DEBUG…
            // unavailable): they answer "unknown command", as on the managed service.
            for c in value.split_whitespace() {
                if c.contains('|') {
                    table.disable_sub(c);
                } else {
                    table.rename(c, "");
                }
            }
            continue;
        }
        if let Err(e) = config.set_initial(name, value) {
            tracing::warn!(parameter = %name, %value, error = %e, "ignoring engine parameter");
        }
    }
    if let Some(p) = &cfg.requirepass {
        config.set("requirepass", p).ok();
    }
    if let Some(dir) = &cfg.data_dir {
        config.set_initial("dir", &dir.to_string_lossy()).ok();
    }
    config
}

impl RedisNode {
    /// Binds and starts a node: on a runtime of its own when `cfg.threads` > 0, else on the
    /// caller's (then it must be called within a tokio runtime).
    pub fn start(cfg: RedisConfig) -> io::Result<RedisNode> {
        let own_runtime = match cfg.threads {
            0 => None,
            n => Some(runtime::NodeRuntime::new(n)?),
        };
        let handle = match &own_runtime {
            Some(r) => r.handle.clone(),
            None => tokio::runtime::Handle::try_current().map_err(|e| {
                io::Error::other(format!("RedisNode::start needs a tokio runtime: {e}"))
            })?,
        };
        let std_listener = std::net::TcpListener::bind(cfg.bind)?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let listener = {
            let _enter = handle.enter();
            tokio::net::TcpListener::from_std(std_listener)?
        };
        let engine = EngineVersion::parse(cfg.flavor, &cfg.engine_version);
        let mut table = CommandTable::build(engine);
        let config = engine_config(&cfg, addr, engine, &mut table);
        let info = NodeInfo {
            version: cfg.engine_version.clone(),
            compat: engine.compat(),
            release: engine,
            flavor: cfg.flavor,
            port: addr.port(),
            run_id: crate::ids::random_hex40(),
            started: Instant::now(),
            started_ms: wall_ms(),
            cluster: cfg.cluster_enabled,
            availability_zone: cfg.availability_zone.clone(),
        };
        let table = Arc::new(table);
        let mut engine = Engine::new(info, config, table.clone());
        if let Some(defs) = &cfg.users {
            let pubsub_all = engine.pubsub_default_all();
            let users =
                crate::acl::Acl::build(defs, &table, pubsub_all).map_err(io::Error::other)?;
            engine.acl.replace(users);
        }
        engine.acl.owner_managed = cfg.users.is_some() || cfg.requirepass.is_some();
        load::start_from(&mut engine, &cfg)?;
        let script_watch = engine.scripts.watch.clone();
        let visits = engine.visits.clone();
        let (shutdown, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            engine: Mutex::new(engine),
            shutdown,
            conns: AtomicUsize::new(0),
            idle: Notify::new(),
            script: script_watch,
            visits,
            waiters: AtomicUsize::new(0),
            cron_parked: AtomicBool::new(false),
            unlocked: Notify::new(),
        });
        // Background persistence work (AOF rewrites) takes the lock from threads of its own.
        shared.lock().handle = Arc::downgrade(&shared);
        let span = tracing::info_span!("node", node = %cfg.name, %addr);
        let tls = ecl_net::PolicyCell::new(cfg.tls.clone());
        let fault = ecl_net::FaultGate::new();
        let accept = handle.spawn(
            accept_loop(shared.clone(), listener, addr, tls.clone(), fault.clone())
                .instrument(span.clone()),
        );
        crate::cron::register(&shared, handle.clone());
        span.in_scope(|| tracing::info!(version = %cfg.engine_version, "redis node listening"));
        Ok(RedisNode {
            shared,
            addr,
            tasks: vec![accept],
            runtime: handle,
            _own_runtime: own_runtime,
            span,
            tls,
            fault,
        })
    }

    /// The gate through which the node's client connections pass: the supervisor sets
    /// network faults (delay, refusal, resets) on it.
    pub fn fault_gate(&self) -> ecl_net::FaultGate {
        self.fault.clone()
    }

    /// Replaces the TLS policy for connections accepted from now on (ElastiCache's in-place
    /// migration of TransitEncryptionMode). Open TLS connections stay; under a TLS-only policy
    /// the open plaintext ones are closed, as ElastiCache drops them when a group reaches
    /// `required`.
    pub fn set_tls(&self, tls: Option<ecl_net::TlsPolicy>) {
        let required = tls.as_ref().is_some_and(|t| t.required);
        self.tls.set(tls);
        if required {
            let eng = self.shared.lock();
            let plaintext = eng.clients.map.values().filter(|c| !c.tls);
            let mut closed = 0;
            for client in plaintext {
                let _ = client.tx.send(crate::client::Event::Kill);
                client.kill.notify_one();
                closed += 1;
            }
            drop(eng);
            if closed > 0 {
                self.span.in_scope(|| {
                    tracing::info!(closed, "plaintext connections closed: TLS is now required")
                });
            }
        }
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sets a parameter as `CONFIG SET` would (error text without the `ERR ` prefix).
    pub fn config_set(&self, name: &str, value: &str) -> Result<(), String> {
        let mut eng = self.shared.lock();
        let before = eng.cfg.requirepass.clone();
        eng.cfg.set(name, value)?;
        eng.clients.output_limits = eng.cfg.output_limits;
        eng.refresh_access_mode();
        if eng.cfg.requirepass != before {
            eng.sync_requirepass();
        }
        Ok(())
    }

    /// Replaces the node's users live (`None`: Redis' single `default` user, nopass or with
    /// `requirepass` as its password). On error nothing changes; the text names the user and
    /// the rule refused. Connections of a user that no longer exists or is now `off` are
    /// closed, and so are subscribers to channels their user may no longer use; the others
    /// are judged by their user's new rules from their next command.
    pub fn set_users(&self, users: Option<Vec<crate::UserDef>>) -> Result<(), String> {
        let mut eng = self.shared.lock();
        let table = eng.table.clone();
        let fresh = match &users {
            Some(defs) => crate::acl::Acl::build(defs, &table, eng.pubsub_default_all())?,
            None => crate::acl::Acl::legacy(eng.cfg.requirepass.as_deref(), &table).into_users(),
        };
        eng.acl.replace(fresh);
        eng.acl.owner_managed |= users.is_some();
        crate::command::aclcmd::disconnect_unpermitted(&eng, true);
        Ok(())
    }

    /// Current value of a parameter.
    pub fn config_get(&self, name: &str) -> Option<String> {
        self.shared.lock().cfg.get(name)
    }

    /// Empties every database (FLUSHALL).
    pub fn flush_all(&self) {
        let mut eng = self.shared.lock();
        eng.flush_all();
        eng.propagate_flushall();
    }

    /// Figures for the control plane.
    pub fn stats(&self) -> NodeStats {
        let eng = self.shared.lock();
        NodeStats {
            keys: eng.total_keys(),
            used_memory: eng.used_memory(),
            connected_clients: eng.clients.map.len() as u64,
            maxmemory: eng.cfg.maxmemory,
            ops_per_sec: eng.ops_per_sec(),
            evicted_keys: eng.stats.evicted,
            total_commands: eng.stats.commands,
        }
    }

    /// Runs one read-only inspection command (see [`INSPECT_COMMANDS`]) as an internal client
    /// that bypasses AUTH and ACLs, does not touch the keys' access times and stays out of
    /// SLOWLOG and MONITOR, and answers its RESP2 reply (it does count in INFO's command
    /// statistics). For the emulator's own status page: it reads keys without holding any
    /// user's credentials and without changing the node's users. Anything else is refused.
    pub fn inspect(&self, args: &[Vec<u8>]) -> Result<Vec<u8>, String> {
        let name = args
            .first()
            .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
            .unwrap_or_default();
        if !INSPECT_COMMANDS.contains(&name.as_str()) {
            return Err(format!("'{name}' is not an inspection command"));
        }
        // SLOWLOG RESET would change the log: only its reading forms are inspection.
        if name == "slowlog"
            && !args
                .get(1)
                .is_some_and(|s| s.eq_ignore_ascii_case(b"get") || s.eq_ignore_ascii_case(b"len"))
        {
            return Err("only SLOWLOG GET and SLOWLOG LEN inspect".to_string());
        }
        let owned = crate::command::OwnedArgv::from_slices(args.iter().map(Vec::as_slice));
        let mut client = crate::client::Client::new(0, true);
        client.no_touch = true;
        // A synthetic client: the browser's reads stay out of SLOWLOG, MONITOR and the
        // command statistics, which show the applications' commands.
        client.detached = true;
        client.uncounted = true;
        // Replicas of a sharded group answer reads of their own slots only in READONLY mode.
        client.readonly = true;
        let mut out = crate::resp::reply::Reply::new();
        let mut eng = self.shared.lock();
        crate::command::dispatch::dispatch(&mut eng, &mut client, &mut out, &owned.as_argv());
        Ok(out.buf)
    }

    /// Why the node is broken (a command panicked mid-way; it refuses commands until it is
    /// rebooted), or `None` while it is healthy.
    pub fn broken(&self) -> Option<String> {
        self.shared.lock().broken().map(str::to_string)
    }

    /// Moves the node's clock forward (tests: deterministic expiry without sleeping).
    pub fn advance_clock(&self, by: Duration) {
        self.shared.lock().advance_clock(by.as_millis() as i64);
    }

    /// Stops accepting, closes every connection and waits (briefly) for them to end.
    pub async fn shutdown(self) {
        // A script looping forever stops at its next check instead of keeping a thread.
        self.shared.script.force_kill();
        let _ = self.shared.shutdown.send(true);
        // Waiting connections hear of it through their event channel (they keep no watch while
        // they wait: registering one per wait costs a request ~400 instructions); connections
        // registering from now on see the flag (`conn::register`, under the same lock). A
        // command holding the lock past the wait below gets the message when it ends.
        let shared = self.shared.clone();
        let tell = tokio::spawn(async move {
            let eng = shared.lock_wait().await;
            for client in eng.clients.map.values() {
                let _ = client.tx.send(crate::client::Event::Kill);
            }
        });
        let _ = tokio::time::timeout(Duration::from_secs(2), tell).await;
        for t in &self.tasks {
            t.abort();
        }
        for t in self.tasks {
            let _ = t.await;
        }
        let wait = async {
            while self.shared.conns.load(Ordering::Acquire) > 0 {
                let notified = self.shared.idle.notified();
                if self.shared.conns.load(Ordering::Acquire) == 0 {
                    break;
                }
                notified.await;
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), wait).await;
        self.span.in_scope(|| tracing::info!("redis node stopped"));
    }
}

async fn accept_loop(
    shared: Arc<Shared>,
    listener: tokio::net::TcpListener,
    local: SocketAddr,
    tls: ecl_net::PolicyCell,
    fault: ecl_net::FaultGate,
) {
    let mut shutdown = shared.shutdown.subscribe();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, peer)) => {
                    if !fault.admit() {
                        continue;
                    }
                    let local = stream.local_addr().unwrap_or(local);
                    let conn = open_connection(shared.clone(), stream, peer, local, tls.current(), fault.clone());
                    tokio::spawn(conn.in_current_span());
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            _ = shutdown.changed() => break,
        }
    }
}

/// `maxclients`, read without waiting for a busy script (which cannot change it) to end: a
/// connection accepted while a script runs reads it under the lock as soon as the lock is
/// free, or from the script's start once the script is busy.
async fn max_clients(shared: &Shared) -> usize {
    loop {
        if let Some(eng) = shared.try_lock() {
            return eng.cfg.maxclients;
        }
        let busy = shared.script.busy(crate::engine::wall_ms());
        if let Some(node) = shared.script.node_at_start().filter(|_| busy) {
            return node.maxclients;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// One accepted socket: the transport (TLS handshake or plaintext, as the node's policy
/// allows), the `maxclients` check, then the RESP connection.
async fn open_connection(
    shared: Arc<Shared>,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
    tls: Option<Arc<ecl_net::TlsPolicy>>,
    fault: ecl_net::FaultGate,
) {
    let Some(conn) = ecl_net::accept(tls.as_deref(), stream).await else {
        return;
    };
    let mut conn = fault.wrap(conn);
    let max = max_clients(&shared).await;
    if shared.conns.load(Ordering::Acquire) >= max {
        shared.lock_wait().await.stats.rejected_conns += 1;
        use tokio::io::AsyncWriteExt;
        let _ = conn
            .write_all(b"-ERR max number of clients reached\r\n")
            .await;
        let _ = conn.flush().await;
        return;
    }
    let encrypted = conn.is_tls();
    serve(shared, conn, peer, local, encrypted).await;
}
