//! A Redis/Valkey-compatible engine that runs inside the elasticache-local process.
//!
//! Place in the flow: the supervisor (in the `elasticache-local` crate) turns an ElastiCache
//! cache node into a [`RedisConfig`] and calls [`RedisNode::start`]; from then on Redis clients
//! talk to the node's socket directly (RESP2/RESP3), and the supervisor only reconfigures,
//! inspects or stops it through the [`RedisNode`] handle. This crate knows nothing of AWS.
//!
//! Contract with the supervisor (keep these signatures stable; add, do not break):
//! - `RedisNode::start(RedisConfig) -> io::Result<RedisNode>`: the node is listening when it returns.
//! - `RedisNode::local_addr`, `config_set`, `config_get`, `flush_all`, `stats`, `shutdown`.
//! - Users ([`acl`]): `RedisConfig::users`, `set_users`.
//! - Replication ([`replication`]): `replicate_from`, `promote`, `replication_offset`, `role`,
//!   `set_announce`; cluster mode ([`cluster`]): `set_cluster_topology`, `node_id`.
//!
//! Inside, top to bottom (imports only go down; `docs/architecture.md` draws it): [`node`] and
//! its tasks ([`conn`], one per connection, batches under the node lock; [`cron`];
//! [`replication`] links) → [`persistence`] → [`command`] (dispatch, family handlers, scripts)
//! → [`engine`] (the node state behind the lock, its command table and propagation) → the
//! state it is made of ([`acl`], [`client`], [`pubsub`], [`tracking`], [`cluster`],
//! [`scripting`], [`rdb`]) → leaves ([`db`], [`cmdtable`], [`resp`], [`config`], [`glob`]).

#![forbid(unsafe_code)]

pub mod acl;
pub mod argv;
pub(crate) mod blocking;
pub mod client;
pub mod clock;
pub mod cluster;
pub mod cmdtable;
pub mod command;
pub mod config;
pub mod conn;
pub mod cron;
pub mod db;
pub mod engine;
pub mod errors;
pub mod glob;
pub mod ids;
pub mod latency;
pub mod memsize;
pub mod node;
pub mod outbuf;
pub mod persistence;
pub mod pubsub;
pub mod rdb;
pub mod replication;
pub mod resp;
pub mod scripting;
pub mod tracking;
pub mod version;

pub use acl::{PasswordCheck, UserDef};
pub use cluster::{ClusterNodeInfo, ClusterShard, ClusterTopology};
pub use engine::replication::{RemoteStatus, ReplicationRole};
pub use node::RedisNode;
pub use rdb::file::{LoadStats, RdbError};
pub use replication::remote::{SourceLayout, SourcePrimary};

use std::net::SocketAddr;

/// Stack size for the runtime threads that serve nodes (8 MiB, a C program's main thread's
/// usual size, where redis-server runs scripts). Lua scripts recurse through Rust code:
/// `cjson.encode`, `cmsgpack` and the reply conversion follow a table nested up to Redis's
/// limits (1000 levels for cjson), which overflows tokio's default 2 MiB in a debug build and
/// would abort the whole process.
pub const WORKER_STACK_SIZE: usize = 8 << 20;

/// Which engine the node claims to be (INFO `server` section, HELLO reply, version rules).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// Redis OSS.
    Redis,
    /// Valkey (reports `server_name:valkey` and `valkey_version`).
    Valkey,
}

/// Everything needed to start one node.
#[derive(Clone, Debug)]
pub struct RedisConfig {
    /// Name of the node in log lines: every task of the node runs in a `node` span carrying it
    /// (the supervisor passes its node key, e.g. `000000000000/us-east-1/web/0001`).
    pub name: String,
    /// Address to bind (port 0 picks an ephemeral port).
    pub bind: SocketAddr,
    /// Full engine version reported by INFO and HELLO, e.g. `7.1.0` or `8.0.1`.
    pub engine_version: String,
    /// Redis or Valkey.
    pub flavor: Flavor,
    /// Memory limit in bytes (0 = unlimited), already net of reserved memory.
    pub maxmemory: u64,
    /// Initial CONFIG values, named as Redis names them (e.g. `maxmemory-policy`, `timeout`,
    /// `notify-keyspace-events`). The supervisor maps ElastiCache parameters to these.
    /// Two names are engine directives rather than CONFIG values: `rename-commands`
    /// (space-separated `old new` pairs) and `disabled-commands` (space-separated names that then
    /// answer "unknown command", e.g. ElastiCache's restricted `config save bgsave debug …`;
    /// a `container|sub` word such as `acl|setuser` disables just that subcommand).
    pub parameters: Vec<(String, String)>,
    /// AUTH password of the default user (ElastiCache AuthToken), if any.
    pub requirepass: Option<String>,
    /// The node's ACL users (ElastiCache RBAC). `None`: Redis' single `default` user (nopass,
    /// or `requirepass` as its password); when set, they replace `requirepass` (give the
    /// `default` user its passwords instead). Either set by the owner makes `requirepass` a
    /// protected config that `CONFIG SET` refuses.
    pub users: Option<Vec<UserDef>>,
    /// Whether the node runs in cluster mode (CLUSTER commands, MOVED, SELECT 0 only).
    pub cluster_enabled: bool,
    /// TLS in transit: `None` serves plaintext; a policy serves TLS, and plaintext too unless
    /// it is `required` (ElastiCache's TransitEncryptionMode).
    pub tls: Option<ecl_net::TlsPolicy>,
    /// Data directory: SAVE/BGSAVE write `dbfilename` there, and the node loads that file at
    /// start when it exists. `None` (the default) writes nothing to disk.
    pub data_dir: Option<std::path::PathBuf>,
    /// An RDB image to start from (a snapshot restore); takes precedence over `data_dir`'s file.
    pub initial_rdb: Option<RdbImage>,
    /// The node's availability zone, as the control plane placed it (Valkey 8.1 reports it
    /// in HELLO); `None`: not reported.
    pub availability_zone: Option<String>,
    /// Worker threads of the node's own tokio runtime, which runs its listener, its
    /// connections and their commands. 1 (the default) serves the node on one thread, as
    /// redis-server serves its clients: no thread waits for another's node lock, and a 2-core
    /// host keeps a core for the clients (measured in `bench/hand/30-redis-emulator-node.md`);
    /// several nodes still use several cores. 0 runs the node on the caller's runtime.
    pub threads: usize,
}

/// An RDB file image shared without copying (debug output shows its size, not its bytes).
#[derive(Clone)]
pub struct RdbImage(pub std::sync::Arc<Vec<u8>>);

impl std::fmt::Debug for RdbImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RdbImage({} bytes)", self.0.len())
    }
}

impl RedisConfig {
    /// A config with defaults suitable for tests: ephemeral port on 127.0.0.1, Redis 7.1.0,
    /// no memory limit, no password, cluster mode off.
    pub fn for_tests() -> RedisConfig {
        RedisConfig {
            name: "test".to_string(),
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            engine_version: "7.1.0".to_string(),
            flavor: Flavor::Redis,
            maxmemory: 0,
            parameters: Vec::new(),
            requirepass: None,
            users: None,
            cluster_enabled: false,
            tls: None,
            data_dir: None,
            initial_rdb: None,
            availability_zone: None,
            threads: 1,
        }
    }
}

/// Figures the control plane reads from a running node (health endpoint, snapshots sizes).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeStats {
    /// Keys in all databases.
    pub keys: u64,
    /// Bytes accounted to data, as INFO `used_memory` reports.
    pub used_memory: u64,
    /// Connected clients.
    pub connected_clients: u64,
    /// Memory budget (`maxmemory`; 0 = none).
    pub maxmemory: u64,
    /// Commands per second over the last samples (INFO `instantaneous_ops_per_sec`).
    pub ops_per_sec: u64,
    /// Keys evicted to make room since start (INFO `evicted_keys`).
    pub evicted_keys: u64,
    /// Commands processed since start (INFO `total_commands_processed`).
    pub total_commands: u64,
}
