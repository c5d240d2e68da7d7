//! The [`Supervisor`]: owns every running engine node, Memcached discovery group and
//! cluster-level endpoint of the process, and the address allocator they draw from.
//!
//! Place in the flow: control-plane handlers call these methods with node specs; this module
//! maps a spec to an engine configuration (`params`), reserves an address (`alloc`), starts the
//! engine (`engines`) and answers the [`Endpoint`] the API reports.
//!
//! Locking: a short std mutex guards each map (never held across an `.await`); each node has its
//! own async mutex, held while it starts, reboots, is reconfigured or stops, so operations on one
//! node are serialised while different nodes proceed in parallel.

pub(super) use super::locks::lock;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ecl_memcached::{ClusterDiscovery, DiscoveryNode, MemcachedConfig};
use ecl_redis::{Flavor, RedisConfig};

use super::alloc::{Allocator, Reservation};
use super::engines::{self, ConfigListener, RunningNode};
use super::params;
use super::proxy::{Forwarder, ProxyTls};
use super::{
    Endpoint, EngineKind, NodeCounts, NodeSpec, NodeUser, SupervisorError, TransitMode, Usage,
};
use crate::config::Config;
use crate::tls::LocalCa;

/// How many addresses one endpoint tries before giving up when binds fail because something
/// outside the emulator holds them.
const MAX_BIND_ATTEMPTS: usize = 32;

/// Failed binds on the requested port after which an endpoint takes an ephemeral port.
const PORT_FALLBACK_AFTER: usize = 8;

/// How long a reboot keeps retrying to bind the node's own address while the old listener's
/// socket is being released.
const REBIND_ATTEMPTS: usize = 50;
const REBIND_PAUSE: Duration = Duration::from_millis(20);

/// Engine version a configuration endpoint reports when its group has no node yet.
const DEFAULT_MEMCACHED_VERSION: &str = "1.6.22";

/// One node's state, guarded by its own async mutex.
pub(super) struct NodeSlot {
    pub(super) spec: NodeSpec,
    pub(super) reservation: Reservation,
    pub(super) endpoint: Endpoint,
    /// `None` while the node is down (a failed reboot) or before its first start completes.
    pub(super) running: Option<RunningNode>,
}

/// A node's entry in the supervisor's map.
pub(super) struct NodeEntry {
    engine: EngineKind,
    slot: Arc<tokio::sync::Mutex<NodeSlot>>,
}

/// Nodes that share one Memcached auto discovery list, and the group's configuration endpoint.
struct Group {
    discovery: Arc<ClusterDiscovery>,
    members: BTreeMap<String, DiscoveryNode>,
    engine_version: Option<String>,
    config: Option<Arc<tokio::sync::Mutex<Option<ConfigSlot>>>>,
    /// Nodes of the group being started (not yet listed); the group lives while any is.
    starting: usize,
    /// TLS in transit of the group's nodes, which its configuration endpoint follows.
    transit: Option<TransitMode>,
}

struct ConfigSlot {
    reservation: Reservation,
    endpoint: Endpoint,
    listener: ConfigListener,
}

/// Outcome of claiming a node key in [`Supervisor::start_node`].
enum Claim {
    Existing(Arc<tokio::sync::Mutex<NodeSlot>>),
    New(tokio::sync::OwnedMutexGuard<NodeSlot>),
}

/// Owns every running engine node of the process.
pub struct Supervisor {
    alloc: Allocator,
    memory_cap: Option<u64>,
    /// Strict ElastiCache mode: Redis nodes refuse the commands ElastiCache restricts.
    strict_commands: bool,
    /// Worker threads of each Redis/Valkey node's runtime (`--redis-node-threads`).
    redis_node_threads: usize,
    pub(super) nodes: Mutex<HashMap<String, NodeEntry>>,
    groups: Mutex<HashMap<String, Group>>,
    cluster_endpoints: Mutex<HashMap<(String, u16), Reservation>>,
    forwarders: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<ForwarderSlot>>>>>,
    shutting_down: AtomicBool,
    /// Issues the certificates of TLS endpoints.
    ca: Arc<LocalCa>,
    /// Secrets IAM authentication tokens are checked with.
    iam: Arc<super::IamCredentials>,
    /// How long an IAM-authenticated connection lasts without re-authenticating.
    iam_session: std::time::Duration,
    /// Replication and cluster topology the nodes were told (see `topology`).
    pub(super) topology: super::topology::TopologyState,
    /// RDB images the next start of a node key loads (snapshot restores; see `snapshots`).
    pub(super) seeds: Mutex<HashMap<String, ecl_redis::RdbImage>>,
    /// Addresses held for endpoints coming back after a restart, by node key, discovery
    /// group or endpoint name: their next start binds there first (see [`Supervisor::pin`]).
    pins: Mutex<HashMap<String, Reservation>>,
    /// `<data-dir>/node-data`: every Redis/Valkey node's own data directory is in there (see
    /// `node_data`); `None` without `--data-dir` (nothing written to disk).
    pub(super) node_data: Option<std::path::PathBuf>,
}

/// A forwarding cluster-level endpoint and the node keys it relays to.
struct ForwarderSlot {
    reservation: Reservation,
    endpoint: Endpoint,
    forwarder: Forwarder,
    targets: Vec<String>,
}

/// The error of any start requested once `shutdown_all` has begun.
fn shutting_down() -> SupervisorError {
    SupervisorError::Bind("the emulator is shutting down".to_string())
}

/// Whether a bind error means "this address is taken or unusable, try the next one".
fn retry_elsewhere(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        std::io::ErrorKind::AddrInUse | std::io::ErrorKind::AddrNotAvailable
    )
}

impl Supervisor {
    /// A supervisor with no node, drawing addresses as `config` says, with a CA of its own in
    /// memory (tests; the server passes the emulator's CA with [`Supervisor::with_ca`]).
    pub fn new(config: &Config) -> Supervisor {
        let ca = LocalCa::ephemeral().expect("generating an in-memory CA cannot fail");
        Supervisor::with_ca(config, Arc::new(ca))
    }

    /// A supervisor whose TLS endpoints present certificates issued by `ca`.
    pub fn with_ca(config: &Config, ca: Arc<LocalCa>) -> Supervisor {
        Supervisor {
            ca,
            alloc: Allocator::new(config),
            memory_cap: config.max_node_memory,
            strict_commands: config.strict_commands,
            redis_node_threads: usize::from(config.redis_node_threads),
            iam: Arc::new(
                config
                    .iam_credentials
                    .clone()
                    .unwrap_or(super::IamCredentials::Dummy),
            ),
            iam_session: std::time::Duration::from_secs(config.iam_session_seconds),
            nodes: Mutex::new(HashMap::new()),
            groups: Mutex::new(HashMap::new()),
            cluster_endpoints: Mutex::new(HashMap::new()),
            forwarders: Mutex::new(HashMap::new()),
            shutting_down: AtomicBool::new(false),
            topology: Default::default(),
            seeds: Mutex::new(HashMap::new()),
            pins: Mutex::new(HashMap::new()),
            node_data: (config.data_dir.as_ref()).map(|d| d.join(super::node_data::NODE_DATA_DIR)),
        }
    }

    /// Holds the address `previous` (an endpoint of an earlier run) for the next start of
    /// `name`: a node key ([`Supervisor::start_node`]), a discovery group
    /// ([`Supervisor::start_config_endpoint`]) or a cluster-level endpoint name
    /// ([`Supervisor::start_proxy_endpoint`]). Pin every endpoint before starting any, so no
    /// new endpoint takes an address an old one is coming back to. Answers whether the address
    /// could be held (otherwise that start takes a new address, as usual).
    pub fn pin(&self, name: &str, previous: &Endpoint) -> bool {
        let Some(reservation) = self.alloc.reserve_exact(previous) else {
            return false;
        };
        if let Some(old) = lock(&self.pins).insert(name.to_string(), reservation) {
            self.alloc.release(old.bind);
        }
        true
    }

    /// Releases the pins no start used (endpoints that did not come back).
    pub fn unpin_all(&self) {
        let pins: Vec<Reservation> = lock(&self.pins).drain().map(|(_, r)| r).collect();
        for r in pins {
            self.alloc.release(r.bind);
        }
    }

    /// Starts a node and answers the endpoint clients reach it at. The node is listening (and,
    /// for Memcached, listed in its discovery group) when this returns. Starting a key that is
    /// already running answers its current endpoint.
    pub async fn start_node(&self, spec: NodeSpec) -> Result<Endpoint, SupervisorError> {
        self.refuse_when_shutting_down()?;
        let mut guard = match self.claim(&spec) {
            Claim::New(guard) => guard,
            Claim::Existing(slot) => {
                let guard = slot.lock().await;
                return match guard.running {
                    Some(_) => Ok(guard.endpoint.clone()),
                    None => Err(SupervisorError::Bind(format!("node {} is down", spec.key))),
                };
            }
        };
        if let Some(group) = &spec.discovery_group {
            self.enter_group(group, &spec.engine_version, spec.transit_encryption);
        }
        let launched = self.launch_new(&spec).await;
        // A seed is for the first start only: a reboot starts empty, as on ElastiCache.
        lock(&self.seeds).remove(&spec.key);
        match launched {
            Ok((reservation, _, running)) if self.shutting_down.load(Ordering::SeqCst) => {
                // `shutdown_all` ran while this node was starting (after the check above and
                // before the node was claimed): stop it rather than leave it running.
                running.shutdown().await;
                self.alloc.release(reservation.bind);
                if let Some(group) = &spec.discovery_group {
                    self.abandon_group(group);
                }
                lock(&self.nodes).remove(&spec.key);
                Err(shutting_down())
            }
            Ok((reservation, endpoint, running)) => {
                guard.reservation = reservation;
                guard.endpoint = endpoint.clone();
                guard.running = Some(running);
                if let Some(group) = &spec.discovery_group {
                    self.join_group(group, &spec, &endpoint);
                }
                tracing::info!(node = %spec.key, engine = spec.engine.as_str(), version = %spec.engine_version,
                    endpoint = %format!("{}:{}", endpoint.address, endpoint.port), "node started");
                Ok(endpoint)
            }
            Err(err) => {
                if let Some(group) = &spec.discovery_group {
                    self.abandon_group(group);
                }
                lock(&self.nodes).remove(&spec.key);
                Err(err)
            }
        }
    }

    /// Stops a node: it leaves its discovery list first, then its sockets close, then its
    /// address is released.
    pub async fn stop_node(&self, key: &str) -> Result<(), SupervisorError> {
        let entry = lock(&self.nodes)
            .remove(key)
            .ok_or_else(|| SupervisorError::UnknownNode(key.to_string()))?;
        let mut guard = entry.slot.lock().await;
        if let Some(group) = guard.spec.discovery_group.clone() {
            self.leave_group(&group, key);
        }
        if let Some(node) = guard.running.take() {
            node.shutdown().await;
        }
        self.alloc.release(guard.reservation.bind);
        drop(guard);
        // A stopped node is deleted or replaced by a fresh one: its files must not come back.
        self.discard_node_data(key);
        self.forget_target(key).await;
        tracing::info!(node = %key, "node stopped");
        Ok(())
    }

    /// Restarts a node on the same address; its data is lost, as on an ElastiCache reboot,
    /// unless its data directory (`--data-dir`) holds an AOF or a `dump.rdb`, which it loads
    /// as redis-server does when it restarts.
    /// It stays in its discovery list (clients retry), as a rebooting ElastiCache node does.
    pub async fn reboot_node(&self, key: &str) -> Result<Endpoint, SupervisorError> {
        self.refuse_when_shutting_down()?;
        let slot = self.slot(key)?;
        let mut guard = slot.lock().await;
        if let Some(node) = guard.running.take() {
            node.shutdown().await;
        }
        let endpoint = self.relaunch(key, &mut guard).await?;
        tracing::info!(node = %key, "node rebooted");
        Ok(endpoint)
    }

    /// Starts the slot's spec again on the slot's own address (its engine already stopped),
    /// retrying while the old listener's socket is being released.
    pub(super) async fn relaunch(
        &self,
        key: &str,
        slot: &mut NodeSlot,
    ) -> Result<Endpoint, SupervisorError> {
        let bind = slot.reservation.bind;
        let mut attempt = 0;
        loop {
            match self.launch(&slot.spec, bind).await {
                Ok(running) => {
                    slot.running = Some(running);
                    return Ok(slot.endpoint.clone());
                }
                Err(err) if retry_elsewhere(&err) && attempt < REBIND_ATTEMPTS => {
                    attempt += 1;
                    tokio::time::sleep(REBIND_PAUSE).await;
                }
                Err(err) => {
                    tracing::warn!(node = %key, %err, "node could not start again on its address");
                    return Err(SupervisorError::Bind(format!("{bind}: {err}")));
                }
            }
        }
    }

    /// Applies a node's new effective parameters. Redis/Valkey: every changed parameter that
    /// ElastiCache applies immediately is set with `CONFIG SET` (including `maxmemory` when the
    /// reserved memory changes); the others take effect on the next reboot. Memcached: values
    /// are validated and stored, and take effect on the next reboot (all are launch settings).
    pub async fn apply_parameters(
        &self,
        key: &str,
        parameters: &BTreeMap<String, String>,
    ) -> Result<(), SupervisorError> {
        let slot = self.slot(key)?;
        let mut guard = slot.lock().await;
        let node_memory = guard.spec.node_memory_bytes;
        match guard.spec.engine {
            EngineKind::Redis | EngineKind::Valkey => {
                let old_max =
                    params::redis_maxmemory(node_memory, &guard.spec.parameters, self.memory_cap)?;
                let new_max = params::redis_maxmemory(node_memory, parameters, self.memory_cap)?;
                let mut changes =
                    params::redis_runtime_changes(&guard.spec.parameters, parameters, node_memory);
                if new_max != old_max {
                    changes.push(("maxmemory".to_string(), new_max.to_string()));
                }
                if let Some(node) = &guard.running {
                    for (name, value) in &changes {
                        node.config_set(name, value).await.map_err(|reason| {
                            SupervisorError::InvalidParameter {
                                name: name.clone(),
                                reason,
                            }
                        })?;
                    }
                }
            }
            EngineKind::Memcached => {
                // Every Memcached parameter ElastiCache exposes is a launch/restart setting
                // (reference 7.2: `-I`, `-C`, `-M`, `-F`, idle timeout, connection overhead), so a
                // parameter-group change reaches the node at its next reboot, while the group
                // shows `pending-reboot`. Validate now so a bad value is refused immediately.
                self.memcached_config(&guard.spec, parameters, guard.reservation.bind)?;
            }
        }
        guard.spec.parameters = parameters.clone();
        Ok(())
    }

    /// Changes the AUTH token (`requirepass`) of running Redis/Valkey nodes in place: clients
    /// that already authenticated stay connected; new ones need the new token.
    pub async fn set_auth_token(
        &self,
        keys: &[String],
        token: Option<String>,
    ) -> Result<(), SupervisorError> {
        for key in keys {
            let slot = self.slot(key)?;
            let mut guard = slot.lock().await;
            if guard.spec.auth_token == token {
                continue;
            }
            if let Some(node) = &guard.running {
                let value = token.clone().unwrap_or_default();
                let refused = |reason| SupervisorError::InvalidParameter {
                    name: "requirepass".to_string(),
                    reason,
                };
                node.config_set("requirepass", &value)
                    .await
                    .map_err(refused)?;
                // The engine gives `default` the new requirepass; users the node was given
                // explicitly (RBAC, a rotation) are restored over it.
                if guard.spec.users.is_some() {
                    node.set_users(guard.spec.users.as_deref(), &self.iam, self.iam_session)
                        .map_err(refused)?;
                }
            }
            guard.spec.auth_token = token.clone();
        }
        Ok(())
    }

    /// Replaces the ACL users of running Redis/Valkey nodes in place (`None`: back to the
    /// single `default` user with the node's AUTH token). Connected clients keep their
    /// connection; those of a removed user are disconnected by the engine.
    pub async fn set_users(
        &self,
        keys: &[String],
        users: Option<Vec<NodeUser>>,
    ) -> Result<(), SupervisorError> {
        for key in keys {
            let slot = self.slot(key)?;
            let mut guard = slot.lock().await;
            if guard.spec.users == users {
                continue;
            }
            if let Some(node) = &guard.running {
                node.set_users(users.as_deref(), &self.iam, self.iam_session)
                    .map_err(|reason| SupervisorError::InvalidParameter {
                        name: "users".to_string(),
                        reason,
                    })?;
            }
            guard.spec.users = users.clone();
        }
        Ok(())
    }

    /// Starts (or answers, when already running) the Memcached configuration endpoint of a
    /// discovery group. Call it after starting the group's first node so the endpoint reports the
    /// nodes' engine version.
    pub async fn start_config_endpoint(
        &self,
        group: &str,
        requested_port: u16,
    ) -> Result<Endpoint, SupervisorError> {
        self.refuse_when_shutting_down()?;
        let (discovery, version, cell, transit) = {
            let mut groups = lock(&self.groups);
            let g = groups.entry(group.to_string()).or_insert_with(|| Group {
                discovery: engines::new_discovery(),
                members: BTreeMap::new(),
                engine_version: None,
                config: None,
                starting: 0,
                transit: None,
            });
            let cell = g
                .config
                .get_or_insert_with(|| Arc::new(tokio::sync::Mutex::new(None)))
                .clone();
            let version = g
                .engine_version
                .clone()
                .unwrap_or_else(|| DEFAULT_MEMCACHED_VERSION.to_string());
            (g.discovery.clone(), version, cell, g.transit)
        };
        let mut guard = cell.lock().await;
        if let Some(slot) = guard.as_ref() {
            return Ok(slot.endpoint.clone());
        }
        let (reservation, endpoint, listener) = self
            .bind_with_retries(group, requested_port, |bind| {
                let discovery = discovery.clone();
                let version = version.clone();
                let tls = self
                    .tls_policy(transit, bind)
                    .map_err(std::io::Error::other);
                async move {
                    let l = ConfigListener::start(group, bind, discovery, &version, tls?).await?;
                    let local = l.local_addr()?;
                    Ok((l, local))
                }
            })
            .await?;
        if self.shutting_down.load(Ordering::SeqCst) {
            listener.shutdown().await;
            self.alloc.release(reservation.bind);
            return Err(shutting_down());
        }
        tracing::info!(group, endpoint = %format!("{}:{}", endpoint.address, endpoint.port), "configuration endpoint started");
        *guard = Some(ConfigSlot {
            reservation,
            endpoint: endpoint.clone(),
            listener,
        });
        Ok(endpoint)
    }

    /// Stops a group's configuration endpoint and releases its address. Stopping one that is
    /// not running does nothing.
    pub async fn stop_config_endpoint(&self, group: &str) {
        let cell = {
            let mut groups = lock(&self.groups);
            let Some(g) = groups.get_mut(group) else {
                return;
            };
            let cell = g.config.take();
            if g.members.is_empty() && g.starting == 0 {
                groups.remove(group);
            }
            cell
        };
        let Some(cell) = cell else { return };
        let slot = cell.lock().await.take();
        if let Some(slot) = slot {
            slot.listener.shutdown().await;
            self.alloc.release(slot.reservation.bind);
            tracing::info!(group, "configuration endpoint stopped");
        }
    }

    /// The discovery list shared by a group's nodes, if the group exists (for tests and the
    /// control plane's reports of the configuration version).
    pub fn discovery(&self, group: &str) -> Option<Arc<ClusterDiscovery>> {
        lock(&self.groups).get(group).map(|g| g.discovery.clone())
    }

    /// Reserves an address for a cluster-level endpoint (primary, reader, configuration) that
    /// the caller binds itself. The address is checked to be bindable now and is never handed
    /// to another endpoint until [`Supervisor::release_endpoint`].
    pub fn allocate_endpoint(&self, requested_port: u16) -> Result<Endpoint, SupervisorError> {
        self.refuse_when_shutting_down()?;
        let mut attempts = BindAttempts::new(requested_port);
        loop {
            let reservation = self.alloc.reserve(attempts.port, &attempts.skip)?;
            match std::net::TcpListener::bind(reservation.bind).and_then(|l| l.local_addr()) {
                Ok(local) => {
                    let endpoint = reservation.bound(local);
                    let mut reservation = reservation;
                    reservation.bind = SocketAddr::new(reservation.bind.ip(), endpoint.port);
                    lock(&self.cluster_endpoints)
                        .insert((endpoint.address.clone(), endpoint.port), reservation);
                    return Ok(endpoint);
                }
                Err(err) => {
                    self.alloc.release(reservation.bind);
                    attempts.failed(reservation.bind, err)?;
                }
            }
        }
    }

    /// Starts a cluster-level endpoint (primary, reader, cluster-mode configuration) named
    /// `name` that relays each connection to one of the nodes `targets` (node keys, round robin),
    /// on its own address like a node's. Starting a name that runs already retargets it.
    pub async fn start_proxy_endpoint(
        &self,
        name: &str,
        requested_port: u16,
        targets: &[String],
    ) -> Result<Endpoint, SupervisorError> {
        self.refuse_when_shutting_down()?;
        let addrs = self.target_addrs(targets).await;
        let transit = self.targets_transit(targets).await;
        let cell = lock(&self.forwarders)
            .entry(name.to_string())
            .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(None)))
            .clone();
        let mut guard = cell.lock().await;
        if let Some(slot) = guard.as_mut() {
            slot.forwarder.set_targets(addrs);
            slot.targets = targets.to_vec();
            return Ok(slot.endpoint.clone());
        }
        let started = self
            .bind_with_retries(name, requested_port, |bind| {
                let addrs = addrs.clone();
                let tls = self.proxy_tls(transit, bind);
                async move {
                    let f = Forwarder::start(name, bind, addrs, tls?).await?;
                    let local = f.local_addr();
                    Ok((f, local))
                }
            })
            .await;
        let (reservation, endpoint, forwarder) = match started {
            Ok(started) => started,
            Err(err) => {
                drop(guard);
                lock(&self.forwarders).remove(name);
                return Err(err);
            }
        };
        if self.shutting_down.load(Ordering::SeqCst) {
            forwarder.shutdown().await;
            self.alloc.release(reservation.bind);
            return Err(shutting_down());
        }
        tracing::info!(endpoint_name = name, endpoint = %format!("{}:{}", endpoint.address, endpoint.port), "cluster endpoint started");
        *guard = Some(ForwarderSlot {
            reservation,
            endpoint: endpoint.clone(),
            forwarder,
            targets: targets.to_vec(),
        });
        Ok(endpoint)
    }

    /// Points a cluster-level endpoint at other nodes (failover, replicas added or removed);
    /// its open connections to nodes no longer listed are closed.
    pub async fn set_proxy_targets(
        &self,
        name: &str,
        targets: &[String],
    ) -> Result<(), SupervisorError> {
        let cell = lock(&self.forwarders)
            .get(name)
            .cloned()
            .ok_or_else(|| SupervisorError::UnknownNode(name.to_string()))?;
        let addrs = self.target_addrs(targets).await;
        let mut guard = cell.lock().await;
        let slot = guard
            .as_mut()
            .ok_or_else(|| SupervisorError::UnknownNode(name.to_string()))?;
        slot.forwarder.set_targets(addrs);
        slot.targets = targets.to_vec();
        Ok(())
    }

    /// Stops a cluster-level endpoint and releases its address; unknown names do nothing.
    pub async fn stop_proxy_endpoint(&self, name: &str) {
        let Some(cell) = lock(&self.forwarders).remove(name) else {
            return;
        };
        let slot = cell.lock().await.take();
        if let Some(slot) = slot {
            slot.forwarder.shutdown().await;
            self.alloc.release(slot.reservation.bind);
            tracing::info!(endpoint_name = name, "cluster endpoint stopped");
        }
    }

    /// Socket addresses to connect to for node keys (unknown keys are left out). A node bound to
    /// the unspecified address (ports mode with `--listen 0.0.0.0`) is reached over loopback.
    /// Moves nodes and the cluster-level endpoints in front of them to another
    /// TransitEncryptionMode in place (no restart, data kept): connections accepted from now on
    /// follow `mode`; open ones keep their transport. Unknown keys and names are skipped.
    pub async fn set_transit_encryption(
        &self,
        keys: &[String],
        endpoints: &[String],
        mode: Option<TransitMode>,
    ) -> Result<(), SupervisorError> {
        for key in keys {
            let Ok(slot) = self.slot(key) else { continue };
            let mut guard = slot.lock().await;
            guard.spec.transit_encryption = mode;
            let policy = self.tls_policy(mode, guard.reservation.bind)?;
            if let Some(node) = &guard.running {
                node.set_tls(policy);
            }
        }
        for name in endpoints {
            let cell = lock(&self.forwarders).get(name).cloned();
            let Some(cell) = cell else { continue };
            let guard = cell.lock().await;
            if let Some(slot) = guard.as_ref() {
                let tls = self
                    .proxy_tls(mode, slot.reservation.bind)
                    .map_err(|e| SupervisorError::Bind(e.to_string()))?;
                slot.forwarder.set_tls(tls);
            }
        }
        Ok(())
    }

    /// TLS in transit of the nodes `keys` (one group's, so the first one's says it).
    async fn targets_transit(&self, keys: &[String]) -> Option<TransitMode> {
        let slot = self.slot(keys.first()?).ok()?;
        slot.lock().await.spec.transit_encryption
    }

    /// The TLS of a forwarding endpoint bound at `bind` in front of nodes under `mode`.
    fn proxy_tls(
        &self,
        mode: Option<TransitMode>,
        bind: SocketAddr,
    ) -> std::io::Result<Option<ProxyTls>> {
        let Some(accept) = self.tls_policy(mode, bind).map_err(std::io::Error::other)? else {
            return Ok(None);
        };
        let upstream = self.ca.client_config().map_err(std::io::Error::other)?;
        Ok(Some(ProxyTls { accept, upstream }))
    }

    async fn target_addrs(&self, keys: &[String]) -> Vec<SocketAddr> {
        let mut addrs = Vec::new();
        for key in keys {
            let Ok(slot) = self.slot(key) else { continue };
            let bind = slot.lock().await.reservation.bind;
            let ip = match bind.ip() {
                ip if ip.is_unspecified() && ip.is_ipv4() => std::net::Ipv4Addr::LOCALHOST.into(),
                ip if ip.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
                ip => ip,
            };
            addrs.push(SocketAddr::new(ip, bind.port()));
        }
        addrs
    }

    /// Removes a stopped node from every forwarding endpoint's targets.
    async fn forget_target(&self, key: &str) {
        let cells: Vec<_> = lock(&self.forwarders).values().cloned().collect();
        for cell in cells {
            let remaining = {
                let guard = cell.lock().await;
                match guard.as_ref() {
                    Some(slot) if slot.targets.iter().any(|t| t == key) => Some(
                        slot.targets
                            .iter()
                            .filter(|t| *t != key)
                            .cloned()
                            .collect::<Vec<_>>(),
                    ),
                    _ => None,
                }
            };
            if let Some(remaining) = remaining {
                let addrs = self.target_addrs(&remaining).await;
                if let Some(slot) = cell.lock().await.as_mut() {
                    slot.forwarder.set_targets(addrs);
                    slot.targets = remaining;
                }
            }
        }
    }

    /// Gives back an address from [`Supervisor::allocate_endpoint`].
    pub fn release_endpoint(&self, endpoint: &Endpoint) {
        if let Some(r) =
            lock(&self.cluster_endpoints).remove(&(endpoint.address.clone(), endpoint.port))
        {
            self.alloc.release(r.bind);
        }
    }

    /// The endpoint of a running node.
    pub async fn endpoint(&self, key: &str) -> Result<Endpoint, SupervisorError> {
        let slot = self.slot(key)?;
        let guard = slot.lock().await;
        Ok(guard.endpoint.clone())
    }

    /// Running nodes per engine, configuration endpoints and reserved cluster endpoints.
    pub fn counts(&self) -> NodeCounts {
        let mut counts = NodeCounts::default();
        for entry in lock(&self.nodes).values() {
            *counts.nodes.entry(entry.engine.as_str()).or_default() += 1;
        }
        counts.config_endpoints = lock(&self.groups)
            .values()
            .filter(|g| g.config.is_some())
            .count();
        counts.cluster_endpoints =
            lock(&self.cluster_endpoints).len() + lock(&self.forwarders).len();
        counts
    }

    /// Keys/items and data bytes the running nodes hold, summed per engine. A node busy
    /// starting, rebooting or being reconfigured is skipped rather than waited for.
    pub fn usage(&self) -> Usage {
        let slots: Vec<(EngineKind, Arc<tokio::sync::Mutex<NodeSlot>>)> = lock(&self.nodes)
            .values()
            .map(|e| (e.engine, e.slot.clone()))
            .collect();
        let mut usage = Usage::default();
        for (engine, slot) in slots {
            let Ok(guard) = slot.try_lock() else { continue };
            if let Some(node) = &guard.running {
                let (keys, bytes) = node.usage();
                *usage.keys.entry(engine.as_str()).or_default() += keys;
                *usage.bytes.entry(engine.as_str()).or_default() += bytes;
            }
        }
        usage
    }

    /// Why a node is broken (a command panicked inside its engine; it refuses commands until
    /// [`Supervisor::reboot_node`] gives it a fresh engine), or `None` when it is healthy,
    /// unknown, or busy in a start/reboot/reconfiguration (which reports its own status).
    pub fn node_broken(&self, key: &str) -> Option<String> {
        let slot = lock(&self.nodes).get(key)?.slot.clone();
        let guard = slot.try_lock().ok()?;
        guard.running.as_ref()?.broken()
    }

    /// Stops every node and configuration endpoint, in parallel, and refuses new ones.
    pub async fn shutdown_all(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        self.stop_everything().await;
    }

    /// Stops every node, configuration and cluster-level endpoint and forgets every seed, pin
    /// and replication link, leaving the supervisor as freshly built (`/_elasticache_local/
    /// reset`); new starts are refused while it runs, so a start racing the reset is undone by
    /// `start_node`'s own shutdown check. Answers how many nodes were stopped.
    pub async fn reset(&self) -> usize {
        self.shutting_down.store(true, Ordering::SeqCst);
        let stopped = self.stop_everything().await;
        lock(&self.seeds).clear();
        self.unpin_all();
        self.topology.clear();
        self.shutting_down.store(false, Ordering::SeqCst);
        tracing::info!(nodes = stopped, "every node stopped (reset)");
        stopped
    }

    /// Stops everything running, in parallel; answers how many nodes were stopped.
    async fn stop_everything(&self) -> usize {
        let nodes: Vec<(String, NodeEntry)> = lock(&self.nodes).drain().collect();
        let stopped = nodes.len();
        let groups: Vec<(String, Group)> = lock(&self.groups).drain().collect();
        let forwarders: Vec<_> = lock(&self.forwarders).drain().collect();
        let mut tasks = tokio::task::JoinSet::new();
        for (_, cell) in forwarders {
            tasks.spawn(async move {
                match cell.lock().await.take() {
                    Some(slot) => {
                        slot.forwarder.shutdown().await;
                        slot.reservation.bind
                    }
                    None => SocketAddr::from(([0, 0, 0, 0], 0)),
                }
            });
        }
        for (_, entry) in nodes {
            tasks.spawn(async move {
                let mut guard = entry.slot.lock().await;
                if let Some(node) = guard.running.take() {
                    node.shutdown().await;
                }
                guard.reservation.bind
            });
        }
        for (_, group) in groups {
            if let Some(cell) = group.config {
                tasks.spawn(async move {
                    match cell.lock().await.take() {
                        Some(slot) => {
                            slot.listener.shutdown().await;
                            slot.reservation.bind
                        }
                        None => SocketAddr::from(([0, 0, 0, 0], 0)),
                    }
                });
            }
        }
        while let Some(done) = tasks.join_next().await {
            if let Ok(bind) = done {
                self.alloc.release(bind);
            }
        }
        for (_, r) in lock(&self.cluster_endpoints).drain() {
            self.alloc.release(r.bind);
        }
        stopped
    }

    /// The slot of `spec.key`: the existing one, or a new one inserted already locked (so
    /// concurrent starts, stops or reboots of the same node wait until it is running).
    fn claim(&self, spec: &NodeSpec) -> Claim {
        let mut nodes = lock(&self.nodes);
        if let Some(entry) = nodes.get(&spec.key) {
            return Claim::Existing(entry.slot.clone());
        }
        let unbound = Endpoint {
            address: String::new(),
            ip: std::net::Ipv4Addr::UNSPECIFIED.into(),
            port: 0,
        };
        let slot = Arc::new(tokio::sync::Mutex::new(NodeSlot {
            spec: spec.clone(),
            reservation: Reservation {
                bind: SocketAddr::from(([0, 0, 0, 0], 0)),
                endpoint: unbound.clone(),
            },
            endpoint: unbound,
            running: None,
        }));
        let Ok(guard) = slot.clone().try_lock_owned() else {
            // Unreachable: nobody else has seen this mutex yet. Treat it as an existing node.
            return Claim::Existing(slot);
        };
        nodes.insert(
            spec.key.clone(),
            NodeEntry {
                engine: spec.engine,
                slot,
            },
        );
        Claim::New(guard)
    }

    pub(super) fn refuse_when_shutting_down(&self) -> Result<(), SupervisorError> {
        if self.shutting_down.load(Ordering::SeqCst) {
            return Err(shutting_down());
        }
        Ok(())
    }

    /// The emulator's `--max-node-memory` cap, if any.
    pub(super) fn memory_cap(&self) -> Option<u64> {
        self.memory_cap
    }

    /// Every node's key, engine and slot (status page figures).
    pub(super) fn node_slots(
        &self,
    ) -> Vec<(String, EngineKind, Arc<tokio::sync::Mutex<NodeSlot>>)> {
        lock(&self.nodes)
            .iter()
            .map(|(k, e)| (k.clone(), e.engine, e.slot.clone()))
            .collect()
    }

    /// Records the engine a node runs now (a restart in place may switch Redis OSS to Valkey),
    /// so the per-engine counts follow it.
    pub(super) fn set_engine(&self, key: &str, engine: EngineKind) {
        if let Some(entry) = lock(&self.nodes).get_mut(key) {
            entry.engine = engine;
        }
    }

    pub(super) fn slot(
        &self,
        key: &str,
    ) -> Result<Arc<tokio::sync::Mutex<NodeSlot>>, SupervisorError> {
        lock(&self.nodes)
            .get(key)
            .map(|e| e.slot.clone())
            .ok_or_else(|| SupervisorError::UnknownNode(key.to_string()))
    }

    /// Reserves an address, starts the node on it, and moves to the next address when
    /// something else holds it.
    async fn launch_new(
        &self,
        spec: &NodeSpec,
    ) -> Result<(Reservation, Endpoint, RunningNode), SupervisorError> {
        // Validate the parameters before touching any address.
        self.check_spec(spec)?;
        self.bind_with_retries(&spec.key, spec.requested_port, |bind| async move {
            let node = self.launch(spec, bind).await?;
            let local = node.local_addr()?;
            Ok((node, local))
        })
        .await
    }

    /// Checks that `spec` makes a valid engine configuration (parameters, memory), binding
    /// nothing.
    pub(super) fn check_spec(&self, spec: &NodeSpec) -> Result<(), SupervisorError> {
        let probe_bind = SocketAddr::from(([127, 0, 0, 1], 0));
        match spec.engine {
            EngineKind::Redis | EngineKind::Valkey => self.redis_config(spec, probe_bind).map(drop),
            EngineKind::Memcached => self
                .memcached_config(spec, &spec.parameters, probe_bind)
                .map(drop),
        }
    }

    /// Reserve → try → release-and-skip loop shared by nodes and configuration endpoints.
    /// A pinned address of `name` (see [`Supervisor::pin`]) is tried first.
    async fn bind_with_retries<T, F, Fut>(
        &self,
        name: &str,
        requested_port: u16,
        mut start: F,
    ) -> Result<(Reservation, Endpoint, T), SupervisorError>
    where
        F: FnMut(SocketAddr) -> Fut,
        Fut: std::future::Future<Output = std::io::Result<(T, SocketAddr)>>,
    {
        let pinned = lock(&self.pins).remove(name);
        if let Some(reservation) = pinned {
            match start(reservation.bind).await {
                Ok((value, local)) => {
                    let endpoint = reservation.bound(local);
                    return Ok((reservation, endpoint, value));
                }
                Err(err) => {
                    tracing::warn!(%name, bind = %reservation.bind, %err,
                        "previous address unavailable; taking a new one");
                    self.alloc.release(reservation.bind);
                }
            }
        }
        let mut attempts = BindAttempts::new(requested_port);
        loop {
            let reservation = self.alloc.reserve(attempts.port, &attempts.skip)?;
            match start(reservation.bind).await {
                Ok((value, local)) => {
                    let endpoint = reservation.bound(local);
                    let mut reservation = reservation;
                    // Requested port 0: later rebinds (reboot) reuse the port actually bound.
                    reservation.bind = SocketAddr::new(reservation.bind.ip(), local.port());
                    return Ok((reservation, endpoint, value));
                }
                Err(err) => {
                    self.alloc.release(reservation.bind);
                    attempts.failed(reservation.bind, err)?;
                }
            }
        }
    }

    /// Starts the engine of `spec` on `bind`.
    async fn launch(&self, spec: &NodeSpec, bind: SocketAddr) -> std::io::Result<RunningNode> {
        let invalid = |e: SupervisorError| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string())
        };
        match spec.engine {
            EngineKind::Redis | EngineKind::Valkey => {
                RunningNode::start_redis(self.redis_config(spec, bind).map_err(invalid)?).await
            }
            EngineKind::Memcached => {
                let mut config = self
                    .memcached_config(spec, &spec.parameters, bind)
                    .map_err(invalid)?;
                config.discovery = spec
                    .discovery_group
                    .as_deref()
                    .map(|g| self.group_discovery(g, &spec.engine_version));
                RunningNode::start_memcached(config).await
            }
        }
    }

    fn redis_config(
        &self,
        spec: &NodeSpec,
        bind: SocketAddr,
    ) -> Result<RedisConfig, SupervisorError> {
        let mut parameters = params::redis_settings(&spec.parameters, spec.node_memory_bytes);
        let disabled = if self.strict_commands {
            params::RESTRICTED_COMMANDS
        } else {
            params::CONTROL_PLANE_COMMANDS
        };
        parameters.push((
            params::DISABLED_COMMANDS_DIRECTIVE.to_string(),
            disabled.to_string(),
        ));
        let data_dir = self.node_data_dir(&spec.key);
        if data_dir.as_deref().is_some_and(super::node_data::has_aof) {
            // As redis-server with `appendonly yes` in its configuration: load the AOF.
            parameters.push(("appendonly".to_string(), "yes".to_string()));
        }
        Ok(RedisConfig {
            name: spec.key.clone(),
            bind,
            engine_version: spec.engine_version.clone(),
            flavor: match spec.engine {
                EngineKind::Valkey => Flavor::Valkey,
                _ => Flavor::Redis,
            },
            maxmemory: params::redis_maxmemory(
                spec.node_memory_bytes,
                &spec.parameters,
                self.memory_cap,
            )?,
            parameters,
            requirepass: spec.auth_token.clone(),
            users: spec
                .users
                .as_deref()
                .map(|u| engines::user_defs(u, &self.iam, self.iam_session)),
            cluster_enabled: spec.cluster_enabled,
            tls: self.tls_policy(spec.transit_encryption, bind)?,
            data_dir,
            initial_rdb: lock(&self.seeds).get(&spec.key).cloned(),
            availability_zone: spec.availability_zone.clone(),
            threads: self.redis_node_threads,
        })
    }

    pub(super) fn memcached_config(
        &self,
        spec: &NodeSpec,
        parameters: &BTreeMap<String, String>,
        bind: SocketAddr,
    ) -> Result<MemcachedConfig, SupervisorError> {
        let s = params::memcached_settings(
            spec.node_memory_bytes,
            spec.vcpus,
            parameters,
            self.memory_cap,
        )?;
        Ok(MemcachedConfig {
            name: spec.key.clone(),
            bind,
            engine_version: spec.engine_version.clone(),
            memory_limit: s.memory_limit,
            threads: s.threads,
            max_item_size: s.max_item_size,
            cas_disabled: s.cas_disabled,
            error_on_memory_exhausted: s.error_on_memory_exhausted,
            disable_flush_all: s.disable_flush_all,
            max_connections: s.max_connections,
            idle_timeout_secs: s.idle_timeout_secs,
            lru_crawler: true,
            lru_maintainer: true,
            discovery: None,
            tls: self.tls_policy(spec.transit_encryption, bind)?,
        })
    }

    /// The TLS policy of an endpoint bound at `bind` under `mode`, with a certificate naming
    /// the endpoint's address.
    fn tls_policy(
        &self,
        mode: Option<TransitMode>,
        bind: SocketAddr,
    ) -> Result<Option<ecl_net::TlsPolicy>, SupervisorError> {
        let Some(mode) = mode else { return Ok(None) };
        let names = self.alloc.certificate_names(bind);
        let config = self
            .ca
            .server_config(&names)
            .map_err(|e| SupervisorError::Bind(format!("TLS certificate for {bind}: {e}")))?;
        Ok(Some(ecl_net::TlsPolicy::new(
            config,
            mode == TransitMode::Required,
        )))
    }

    /// The discovery list of a group, created on first use.
    fn group_discovery(&self, group: &str, engine_version: &str) -> Arc<ClusterDiscovery> {
        let mut groups = lock(&self.groups);
        let g = groups.entry(group.to_string()).or_insert_with(|| Group {
            discovery: engines::new_discovery(),
            members: BTreeMap::new(),
            engine_version: None,
            config: None,
            starting: 0,
            transit: None,
        });
        g.engine_version
            .get_or_insert_with(|| engine_version.to_string());
        g.discovery.clone()
    }

    /// Marks a node of `group` as starting, so the group (and its discovery version) survives
    /// until the node is listed.
    fn enter_group(&self, group: &str, engine_version: &str, transit: Option<TransitMode>) {
        self.group_discovery(group, engine_version);
        if let Some(g) = lock(&self.groups).get_mut(group) {
            g.starting += 1;
            g.transit = transit;
        }
    }

    /// A node of `group` failed to start.
    fn abandon_group(&self, group: &str) {
        let mut groups = lock(&self.groups);
        let Some(g) = groups.get_mut(group) else {
            return;
        };
        g.starting = g.starting.saturating_sub(1);
        if g.members.is_empty() && g.config.is_none() && g.starting == 0 {
            groups.remove(group);
        }
    }

    /// Lists a node that is now listening in its group's discovery list.
    fn join_group(&self, group: &str, spec: &NodeSpec, endpoint: &Endpoint) {
        let discovery = self.group_discovery(group, &spec.engine_version);
        let mut groups = lock(&self.groups);
        if let Some(g) = groups.get_mut(group) {
            g.starting = g.starting.saturating_sub(1);
            g.members.insert(
                spec.key.clone(),
                DiscoveryNode {
                    hostname: endpoint.address.clone(),
                    ip: endpoint.ip,
                    port: endpoint.port,
                },
            );
            engines::set_discovery_nodes(&discovery, sorted_members(&g.members));
        }
    }

    /// Removes a node from its group's discovery list (before the node stops).
    fn leave_group(&self, group: &str, key: &str) {
        let mut groups = lock(&self.groups);
        let Some(g) = groups.get_mut(group) else {
            return;
        };
        if g.members.remove(key).is_some() {
            engines::set_discovery_nodes(&g.discovery, sorted_members(&g.members));
        }
        if g.members.is_empty() && g.config.is_none() && g.starting == 0 {
            groups.remove(group);
        }
    }
}

/// The retry policy of one endpoint's bind: skip addresses something else holds; when the
/// requested port is taken on every address tried (typically another server listening on
/// `0.0.0.0:<port>`, which blocks that port on all of 127/8), fall back to an ephemeral port so
/// the cluster still works, reporting the port actually bound.
struct BindAttempts {
    port: u16,
    skip: Vec<SocketAddr>,
    failures: usize,
}

impl BindAttempts {
    fn new(requested_port: u16) -> BindAttempts {
        BindAttempts {
            port: requested_port,
            skip: Vec::new(),
            failures: 0,
        }
    }

    /// Records a failed bind; an error when retrying is pointless or the attempts are used up.
    fn failed(&mut self, bind: SocketAddr, err: std::io::Error) -> Result<(), SupervisorError> {
        self.failures += 1;
        if !retry_elsewhere(&err) || self.failures >= MAX_BIND_ATTEMPTS {
            return Err(SupervisorError::Bind(format!("{bind}: {err}")));
        }
        tracing::debug!(%bind, %err, "address taken, trying the next one");
        self.skip.push(bind);
        if self.port != 0 && self.failures == PORT_FALLBACK_AFTER {
            tracing::warn!(
                port = self.port,
                "port is in use on every address tried (is another server listening on 0.0.0.0:{}?); \
                 using an ephemeral port instead",
                self.port
            );
            self.port = 0;
        }
        Ok(())
    }
}

/// Discovery lists nodes sorted by host name (then port, for ports mode where every node shares
/// the advertised host).
fn sorted_members(members: &BTreeMap<String, DiscoveryNode>) -> Vec<DiscoveryNode> {
    let mut nodes: Vec<DiscoveryNode> = members.values().cloned().collect();
    // Host names that are IPs (loopback mode) sort numerically, so 127.0.1.10 follows 127.0.1.9.
    nodes.sort_by_key(|n| {
        (
            n.hostname.parse::<std::net::IpAddr>().ok(),
            n.hostname.clone(),
            n.port,
        )
    });
    nodes
}
