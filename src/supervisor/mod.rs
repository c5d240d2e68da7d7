//! Starts, stops and reconfigures engine nodes from node specs, and allocates the addresses
//! endpoints are reported with. Speaks in node specs, never in AWS shapes.
//!
//! Place in the flow: `control::handlers` decide *what* should run (a [`NodeSpec`] per cache
//! node, a configuration endpoint per Memcached cluster) and record what the supervisor
//! answers ([`Endpoint`]) in `state`; the supervisor owns the running `ecl_redis::RedisNode` /
//! `ecl_memcached::MemcachedNode` handles and the address allocator.
//!
//! Contract with the control plane (keep these signatures stable; add, do not break):
//! `Supervisor::new`, `start_node`, `stop_node`, `reboot_node`, `apply_parameters`,
//! `start_config_endpoint`, `stop_config_endpoint`, `allocate_endpoint`, `release_endpoint`,
//! `counts`, `shutdown_all`. Added since: `start_proxy_endpoint` / `set_proxy_targets` /
//! `stop_proxy_endpoint` (cluster-level endpoints that relay to nodes: primary, reader,
//! cluster-mode configuration), `endpoint`, `discovery`; replication topology (`topology`):
//! `replicate`, `promote`, `replication_offset`, `failover`, `set_cluster_topology`,
//! `forget_topology`, [`ShardTopology`]; authentication: `set_auth_token`, `set_users`
//! ([`NodeUser`], IAM users checked with [`crate::auth::iam`]), `check_access_string`;
//! snapshots (`snapshots`): `snapshot_rdb`, `seed_rdb`; serverless caches (`serverless`):
//! `set_serverless_topology`, `set_memory_limit`; online resharding (`resharding`):
//! `set_slot_moves`, `migrate_slots`, `switch_cluster_topology`, [`SlotMovePlan`]; status page
//! (`inspect`): `node_figures`, `inspect_node`; restart in place keeping the keyspace
//! (`respec`): `respec_node`.
//!
//! Modules: `alloc` (addresses), `params` (ElastiCache parameters → engine settings), `node`
//! (the [`Supervisor`] itself), `engines` (the only code that calls the engine crates), `proxy`
//! (forwarding endpoints), `topology` (who replicates from whom, failover, CLUSTER slot maps),
//! `snapshots` (RDB images taken from nodes and given to nodes at start), `resharding` (slots
//! moving with their keys between shard primaries), `respec` (a node restarted with a new
//! spec on its address, keeping its keyspace).

mod alloc;
mod engines;
mod inspect;
mod locks;
mod migration;
mod node;
mod node_data;
pub mod params;
mod proxy;
mod resharding;
mod respec;
mod serverless;
mod snapshots;
mod topology;

pub use alloc::{Allocator, Reservation};
pub use engines::check_access_string;
pub use inspect::NodeFigures;
pub use migration::{MigrationLinkStatus, MigrationSourceLayout, MigrationSourcePrimary};
pub use node::Supervisor;
pub use resharding::{MigrationStats, SlotMovePlan};
pub use snapshots::{DecodedImages, decode_images};
pub use topology::ShardTopology;

pub use crate::auth::iam::{IamCredentials, IamTarget};

// Fault injection (`faults`): crash/revive, network faults, memory limit, replication cut.
mod faults;
pub use faults::NetFault;

use std::collections::BTreeMap;
use std::net::IpAddr;

/// Which engine a node runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EngineKind {
    /// Redis OSS.
    Redis,
    /// Valkey.
    Valkey,
    /// Memcached.
    Memcached,
}

/// A node the control plane wants running.
#[derive(Clone, Debug)]
pub struct NodeSpec {
    /// Unique, stable key of the node, e.g. `000000000000/us-east-1/web/0001`.
    pub key: String,
    /// Engine to run.
    pub engine: EngineKind,
    /// Full engine version the node reports (e.g. `7.1.0`, `1.6.22`).
    pub engine_version: String,
    /// Port the user asked for (or the engine default, 6379 / 11211).
    pub requested_port: u16,
    /// Node type memory: Redis `maxmemory` default in bytes, or Memcached
    /// `max_cache_memory` converted to bytes. The supervisor subtracts reserved memory.
    pub node_memory_bytes: u64,
    /// vCPUs of the node type (Memcached `num_threads`).
    pub vcpus: usize,
    /// Effective ElastiCache parameter values of the node's parameter group (name → value).
    /// The supervisor maps them to engine settings (e.g. `reserved-memory-percent`).
    pub parameters: BTreeMap<String, String>,
    /// Redis AUTH token, if any (the `default` user's password when `users` is `None`).
    pub auth_token: Option<String>,
    /// ACL users of a Redis/Valkey node (ElastiCache RBAC, or the two tokens of an AUTH
    /// rotation); `None`: the single `default` user governed by `auth_token`.
    pub users: Option<Vec<NodeUser>>,
    /// Redis cluster mode.
    pub cluster_enabled: bool,
    /// Memcached auto discovery group (the cluster key): nodes with the same group share one
    /// discovery list, and its configuration endpoint answers with them.
    pub discovery_group: Option<String>,
    /// TLS in transit (ElastiCache TransitEncryptionEnabled with its TransitEncryptionMode):
    /// `None` serves plaintext only.
    pub transit_encryption: Option<TransitMode>,
    /// The node's availability zone (`CustomerAvailabilityZone`), passed to the engine.
    pub availability_zone: Option<String>,
}

/// One ACL user a Redis/Valkey node serves. The control plane states it in these terms; the
/// supervisor turns it into engine rules (one `>password` each or `nopass`, then the access
/// string, then `off` for a disabled user).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeUser {
    /// The name clients AUTH with.
    pub name: String,
    /// Whether the user may authenticate at all (a user being deleted may not).
    pub enabled: bool,
    /// Accepted passwords (two while a password or token is being rotated).
    pub passwords: Vec<String>,
    /// Any password is accepted (no-password users, and a rotation away from no AUTH).
    pub nopass: bool,
    /// ElastiCache access string: `on`/`off`, key patterns, channels, command rules. As on
    /// ElastiCache, a user whose access string says neither `on` nor `off` is off.
    pub access: String,
    /// IAM authentication (`AuthenticationMode Type=iam`): AUTH takes an IAM token naming this
    /// cache, region and user instead of a password (`passwords` is then empty).
    pub iam: Option<IamTarget>,
}

impl NodeUser {
    /// The user's rules in ACL SETUSER syntax, applied to a fresh (disabled) user.
    pub fn rules(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if self.nopass {
            // `nopass` accepts any password; a `>password` after it would switch it off.
            parts.push("nopass".to_string());
        } else {
            parts.extend(self.passwords.iter().map(|p| format!(">{p}")));
        }
        parts.push(self.access.clone());
        if !self.enabled {
            // A disabled user stays disabled whatever its access string says.
            parts.push("off".to_string());
        }
        parts.join(" ")
    }
}

/// ElastiCache's TransitEncryptionMode: what a TLS-enabled endpoint does with plaintext.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransitMode {
    /// TLS and plaintext both served on the same port (the migration step).
    Preferred,
    /// TLS only: plaintext connections are closed.
    Required,
}

impl TransitMode {
    /// The mode an API record states (`preferred` / `required`), `None` when encryption in
    /// transit is off.
    pub fn from_record(enabled: bool, mode: Option<&str>) -> Option<TransitMode> {
        match (enabled, mode) {
            (false, _) => None,
            (true, Some("preferred")) => Some(TransitMode::Preferred),
            (true, _) => Some(TransitMode::Required),
        }
    }
}

/// An address a client can reach, as the API reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// What `Endpoint.Address` says: an IP in loopback mode, the advertised host in ports mode.
    pub address: String,
    /// The IP the socket is bound to (also the middle field of auto discovery).
    pub ip: IpAddr,
    /// What `Endpoint.Port` says; the socket listens on it.
    pub port: u16,
}

/// Counts for the health endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeCounts {
    /// Running nodes per engine.
    pub nodes: BTreeMap<&'static str, usize>,
    /// Running Memcached configuration endpoints.
    pub config_endpoints: usize,
    /// Cluster-level endpoints reserved through `allocate_endpoint`.
    pub cluster_endpoints: usize,
}

/// What the running nodes hold, summed per engine (health endpoint).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Redis keys / Memcached items, per engine.
    pub keys: BTreeMap<&'static str, u64>,
    /// Bytes of data as the engines account them (Redis `used_memory`, Memcached `bytes`).
    pub bytes: BTreeMap<&'static str, u64>,
}

impl EngineKind {
    /// Lower-case engine name, as ElastiCache writes it (`redis`, `valkey`, `memcached`).
    pub fn as_str(self) -> &'static str {
        match self {
            EngineKind::Redis => "redis",
            EngineKind::Valkey => "valkey",
            EngineKind::Memcached => "memcached",
        }
    }
}

/// Why the supervisor could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    /// No address/port left, or binding failed.
    #[error("cannot bind an endpoint: {0}")]
    Bind(String),
    /// The node key is not running.
    #[error("no running node {0}")]
    UnknownNode(String),
    /// A parameter value the engine rejects.
    #[error("invalid parameter {name}: {reason}")]
    InvalidParameter {
        /// Parameter name.
        name: String,
        /// Why.
        reason: String,
    },
}
