//! The supervisor's single point of contact with the engine crates: starting, reconfiguring
//! and stopping `ecl_redis` / `ecl_memcached` nodes and Memcached configuration endpoints.
//!
//! Place in the flow: [`super::Supervisor`] builds engine configurations from node specs and
//! hands them here; everything else in the supervisor is engine-agnostic.
//!

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use ecl_memcached::{
    ClusterDiscovery, ConfigEndpoint, DiscoveryNode, MemcachedConfig, MemcachedNode,
};
pub use ecl_redis::cluster::{MigrateStep, SlotMove};
pub use ecl_redis::{ClusterNodeInfo, ClusterShard, ClusterTopology};
use ecl_redis::{PasswordCheck, RedisConfig, RedisNode, UserDef};

use super::IamCredentials;

/// Whether the engine accepts an access string as a user's rules (command and category names
/// are checked against the newest Redis OSS command table); the error names the rule.
pub fn check_access_string(access: &str) -> Result<(), String> {
    let table =
        ecl_redis::command::CommandTable::build(ecl_redis::version::EngineVersion::redis(7, 1, 0));
    let def = UserDef {
        name: "check".to_string(),
        rules: access.to_string(),
        password_check: None,
        session_limit: None,
    };
    ecl_redis::acl::Acl::build(&[def], &table, true).map(|_| ())
}

/// The engine's user definitions for the supervisor's users; IAM users get a password check
/// that validates IAM tokens against `iam`'s secrets, and connections that last `iam_session`
/// unless they authenticate again.
pub fn user_defs(
    users: &[super::NodeUser],
    iam: &Arc<IamCredentials>,
    iam_session: std::time::Duration,
) -> Vec<UserDef> {
    users
        .iter()
        .map(|u| UserDef {
            name: u.name.clone(),
            rules: u.rules(),
            password_check: u.iam.clone().map(|target| {
                Arc::new(crate::auth::iam::checker(target, iam.clone())) as PasswordCheck
            }),
            session_limit: u.iam.as_ref().map(|_| iam_session),
        })
        .collect()
}

/// A running engine node.
pub enum RunningNode {
    /// A Redis or Valkey node.
    Redis(RedisNode),
    /// A Memcached node.
    Memcached(MemcachedNode),
}

impl RunningNode {
    /// Starts a Redis/Valkey node; listening on return.
    pub async fn start_redis(config: RedisConfig) -> io::Result<RunningNode> {
        RedisNode::start(config).map(RunningNode::Redis)
    }

    /// Starts a Memcached node; listening on return.
    pub async fn start_memcached(config: MemcachedConfig) -> io::Result<RunningNode> {
        MemcachedNode::start(config).map(RunningNode::Memcached)
    }

    /// The address the node listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            RunningNode::Redis(n) => Ok(n.local_addr()),
            RunningNode::Memcached(n) => Ok(n.local_addr()),
        }
    }

    /// (keys or items, bytes of data) the node holds now.
    pub fn usage(&self) -> (u64, u64) {
        match self {
            RunningNode::Redis(n) => {
                let s = n.stats();
                (s.keys, s.used_memory)
            }
            RunningNode::Memcached(n) => {
                let s = n.stats();
                (s.curr_items, s.bytes)
            }
        }
    }

    /// Writes what the engine counts into the status page's figures of the node.
    pub fn fill_figures(&self, f: &mut super::inspect::NodeFigures) {
        f.running = true;
        match self {
            RunningNode::Redis(n) => {
                let s = n.stats();
                let replica = matches!(n.role(), ecl_redis::ReplicationRole::Replica { .. });
                f.role = if replica { "replica" } else { "primary" };
                f.keys = s.keys;
                f.used_memory = s.used_memory;
                f.maxmemory = s.maxmemory;
                f.ops_per_sec = Some(s.ops_per_sec);
                f.total_commands = s.total_commands;
                f.connections = s.connected_clients;
                f.evictions = s.evicted_keys;
                f.replication_offset = Some(n.replication_offset());
            }
            RunningNode::Memcached(n) => {
                let s = n.stats();
                f.keys = s.curr_items;
                f.used_memory = s.bytes;
                f.maxmemory = s.limit_maxbytes;
                f.total_commands = s.cmd_get + s.cmd_set;
                f.connections = s.curr_connections;
                f.evictions = s.evictions;
            }
        }
    }

    /// Runs a read-only inspection command (Redis/Valkey; see `RedisNode::inspect`).
    pub fn inspect(&self, args: &[Vec<u8>]) -> Result<Vec<u8>, String> {
        match self {
            RunningNode::Redis(n) => n.inspect(args),
            RunningNode::Memcached(_) => Err("Memcached nodes have no key browser".to_string()),
        }
    }

    /// How many keys a Redis/Valkey node holds outside database 0 (all of them but DBSIZE of
    /// database 0); `None` for Memcached nodes, which have no databases.
    pub fn keys_outside_db0(&self) -> Option<u64> {
        let RunningNode::Redis(n) = self else {
            return None;
        };
        let total = n.stats().keys;
        let reply = n.inspect(&[b"dbsize".to_vec()]).ok()?;
        // An integer reply: `:<n>\r\n`.
        let db0: u64 = std::str::from_utf8(reply.get(1..)?)
            .ok()?
            .trim_end()
            .parse()
            .ok()?;
        Some(total.saturating_sub(db0))
    }

    /// Sets one Redis CONFIG value at runtime, as `CONFIG SET` would (Memcached nodes have no
    /// such settings and accept nothing).
    pub async fn config_set(&self, name: &str, value: &str) -> Result<(), String> {
        match self {
            RunningNode::Redis(n) => n.config_set(name, value),
            RunningNode::Memcached(_) => Err(format!("{name} is not a Memcached setting")),
        }
    }

    /// Re-applies a Memcached node's settings live (memory budget first: a lowered one evicts
    /// at once); `false` for Redis/Valkey nodes.
    pub fn apply_memcached(&self, config: &MemcachedConfig) -> bool {
        match self {
            RunningNode::Memcached(n) => {
                n.apply(config);
                true
            }
            RunningNode::Redis(_) => false,
        }
    }

    /// Replaces the node's ACL users live (`None`: the single `default` user of
    /// `requirepass`); the engine disconnects clients of users that are gone or now off.
    pub fn set_users(
        &self,
        users: Option<&[super::NodeUser]>,
        iam: &Arc<IamCredentials>,
        iam_session: std::time::Duration,
    ) -> Result<(), String> {
        match self {
            RunningNode::Redis(n) => n.set_users(users.map(|u| user_defs(u, iam, iam_session))),
            RunningNode::Memcached(_) if users.is_none() => Ok(()),
            RunningNode::Memcached(_) => Err("Memcached nodes have no ACL users".to_string()),
        }
    }

    /// Makes this node a replica of `primary` (both Redis/Valkey): it reports itself as
    /// `own` and its primary as `primary_endpoint` (the endpoints the API reports). `false`
    /// when either node is not a Redis/Valkey node.
    pub fn replicate_from(
        &self,
        primary: &RunningNode,
        own: (String, u16),
        primary_endpoint: (String, u16),
    ) -> bool {
        match (self, primary) {
            (RunningNode::Redis(n), RunningNode::Redis(p)) => {
                n.set_announce(own);
                n.replicate_from(p, primary_endpoint);
                true
            }
            _ => false,
        }
    }

    /// Stops replicating and serves writes (Redis/Valkey); `false` for other engines.
    pub fn promote(&self) -> bool {
        match self {
            RunningNode::Redis(n) => {
                n.promote();
                true
            }
            RunningNode::Memcached(_) => false,
        }
    }

    /// Holds clients' writes for at most `longest` (Redis/Valkey: a graceful failover's final
    /// catch-up); `false` for other engines.
    pub fn hold_writes(&self, longest: std::time::Duration) -> bool {
        match self {
            RunningNode::Redis(n) => {
                n.hold_writes(longest);
                true
            }
            RunningNode::Memcached(_) => false,
        }
    }

    /// Lifts [`RunningNode::hold_writes`].
    pub fn resume_writes(&self) {
        if let RunningNode::Redis(n) = self {
            n.resume_writes();
        }
    }

    /// Replication offset (Redis/Valkey).
    pub fn replication_offset(&self) -> Option<u64> {
        match self {
            RunningNode::Redis(n) => Some(n.replication_offset()),
            RunningNode::Memcached(_) => None,
        }
    }

    /// Why the node is broken (Redis/Valkey: a command panicked and the node refuses commands
    /// until rebooted); `None` while healthy, and always for Memcached.
    pub fn broken(&self) -> Option<String> {
        match self {
            RunningNode::Redis(n) => n.broken(),
            RunningNode::Memcached(_) => None,
        }
    }

    /// The gate the node's client connections pass through (fault injection).
    pub fn fault_gate(&self) -> ecl_net::FaultGate {
        match self {
            RunningNode::Redis(n) => n.fault_gate(),
            RunningNode::Memcached(n) => n.fault_gate(),
        }
    }

    /// Cluster node id (Redis/Valkey).
    pub fn node_id(&self) -> Option<String> {
        match self {
            RunningNode::Redis(n) => Some(n.node_id()),
            RunningNode::Memcached(_) => None,
        }
    }

    /// Replaces the TLS policy for connections accepted from now on.
    pub fn set_tls(&self, tls: Option<ecl_net::TlsPolicy>) {
        match self {
            RunningNode::Redis(n) => n.set_tls(tls),
            RunningNode::Memcached(n) => n.set_tls(tls),
        }
    }

    /// Replaces the CLUSTER slot map the node serves (Redis/Valkey); `false` for other engines.
    pub fn set_cluster_topology(&self, topology: ClusterTopology) -> bool {
        match self {
            RunningNode::Redis(n) => {
                n.set_cluster_topology(topology);
                true
            }
            RunningNode::Memcached(_) => false,
        }
    }

    /// Sets the slot moves in progress (Redis/Valkey); `false` for other engines.
    pub fn set_slot_moves(&self, moves: Vec<SlotMove>) -> bool {
        match self {
            RunningNode::Redis(n) => {
                n.set_slot_moves(moves);
                true
            }
            RunningNode::Memcached(_) => false,
        }
    }

    /// Moves one scan step's keys of `slots` from this primary to `target`'s
    /// ([`ecl_redis::RedisNode::migrate_keys`]); `None` unless both are Redis/Valkey nodes.
    pub async fn migrate_keys(
        &self,
        target: &RunningNode,
        slots: &[(u16, u16)],
        cursor: u64,
        count: usize,
    ) -> Option<MigrateStep> {
        match (self, target) {
            (RunningNode::Redis(s), RunningNode::Redis(t)) => {
                Some(s.migrate_keys(t, slots, cursor, count).await)
            }
            _ => None,
        }
    }

    /// The node's dataset as an RDB file image, one point in time (Redis/Valkey); `None` for
    /// Memcached, which has no persistence.
    pub fn snapshot_rdb(&self) -> Option<Vec<u8>> {
        match self {
            RunningNode::Redis(n) => Some(n.snapshot_rdb()),
            RunningNode::Memcached(_) => None,
        }
    }

    /// Stops the node: listener closed and client connections dropped when this returns.
    pub async fn shutdown(self) {
        match self {
            RunningNode::Redis(n) => n.shutdown().await,
            RunningNode::Memcached(n) => n.shutdown().await,
        }
    }
}

/// A running Memcached configuration endpoint.
pub struct ConfigListener(ConfigEndpoint);

impl ConfigListener {
    /// Binds the configuration endpoint of a discovery group (`group` names it in log lines),
    /// over TLS when `tls` is given.
    pub async fn start(
        group: &str,
        bind: SocketAddr,
        discovery: Arc<ClusterDiscovery>,
        engine_version: &str,
        tls: Option<ecl_net::TlsPolicy>,
    ) -> io::Result<ConfigListener> {
        ConfigEndpoint::start(bind, discovery, engine_version, group, tls).map(ConfigListener)
    }

    /// The address the endpoint listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.0.local_addr())
    }

    /// Stops the endpoint.
    pub async fn shutdown(self) {
        self.0.shutdown().await;
    }
}

/// A new discovery list: configuration version 1, no nodes.
pub fn new_discovery() -> Arc<ClusterDiscovery> {
    Arc::new(ClusterDiscovery::new())
}

/// Replaces the node list of a discovery group (the engine bumps the version per change).
pub fn set_discovery_nodes(discovery: &ClusterDiscovery, nodes: Vec<DiscoveryNode>) {
    let version = discovery.set_nodes(nodes);
    tracing::debug!(version, "auto discovery list updated");
}
