//! Background work of serverless caches: starting the node (and the reader endpoint) a cache
//! runs on, applying a modification to it, stopping it, then completing the transition
//! (`creating`/`modifying` → `available`, `deleting` → gone).
//!
//! Place in the flow: the `serverless` handlers switch the record's status and bump its
//! generation under the region lock, then call [`Service::spawn_serverless`]. The task talks to
//! the supervisor without a lock, waits `Config.create_delay`, and writes the result back —
//! unless a later operation bumped the generation meanwhile.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::state::{
    Region, ResourceKind, ServerlessCacheRecord, ServerlessEndpoint, ServerlessStatus, SourceType,
    UserAuth, UserStatus, lock,
};
use crate::supervisor::{Endpoint, IamTarget, NodeSpec, NodeUser, TransitMode};

use super::Service;
use super::lifecycle::engine_kind;

/// Bytes in a GB of `DataStorage` (ElastiCache's GB are GiB).
const GB: u64 = 1 << 30;
/// The data ceiling of a cache without a `DataStorage` maximum: AWS's 5000 GB.
const CEILING_GB: u64 = 5000;
/// vCPUs a serverless Memcached node runs with (worker threads).
const MEMCACHED_THREADS: usize = 2;

/// Identifies the cache (and the operation) a task works for.
#[derive(Clone, Debug)]
pub struct ServerlessRef {
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
    /// Cache name.
    pub name: String,
    /// The generation the task was started with.
    pub generation: u64,
}

impl ServerlessRef {
    /// A reference to `c` at its current generation.
    pub fn of(r: &Region, c: &ServerlessCacheRecord) -> ServerlessRef {
        ServerlessRef {
            account: r.account.clone(),
            region: r.region.clone(),
            name: c.name.clone(),
            generation: c.generation,
        }
    }

    /// The supervisor key of the cache's node (three segments, where cluster node keys have
    /// four, so the two never meet).
    pub fn node_key(&self) -> String {
        format!("{}/{}/serverless:{}", self.account, self.region, self.name)
    }

    /// The supervisor name of the cache's reader endpoint.
    fn reader_name(&self) -> String {
        format!("{}/reader", self.node_key())
    }
}

/// What a task does.
pub enum Work {
    /// Start the node, loading `seed` (an RDB image) first when given.
    Create {
        /// Image restored from `SnapshotArnsToRestore`.
        seed: Option<Arc<Vec<u8>>>,
    },
    /// Apply the record's settings to the running node; `restart` moves the data to a node of
    /// the record's (new) engine version.
    Modify {
        /// Engine or major version changed.
        restart: bool,
    },
    /// Stop the node, after taking `final_snapshot` when named.
    Delete {
        /// `FinalSnapshotName`.
        final_snapshot: Option<String>,
    },
}

/// The data limit of a cache's node, in bytes.
fn memory_bytes(c: &ServerlessCacheRecord) -> u64 {
    c.limits
        .data_max_gb
        .map_or(CEILING_GB, |g| u64::try_from(g).unwrap_or(CEILING_GB))
        * GB
}

/// What the cache's node runs: cluster mode (Valkey/Redis OSS), TLS required, the data limit
/// as `maxmemory` with no reserved share and AWS serverless's eviction (LRU among keys with a
/// TTL, then OOM errors), and the attached user group's users.
fn node_spec(r: &Region, c: &ServerlessCacheRecord, sref: &ServerlessRef) -> NodeSpec {
    let memcached = c.engine == "memcached";
    let parameters: BTreeMap<String, String> = if memcached {
        BTreeMap::from([("memcached_connections_overhead".into(), "0".into())])
    } else {
        BTreeMap::from([
            ("reserved-memory-percent".into(), "0".into()),
            ("maxmemory-policy".into(), "volatile-lru".into()),
        ])
    };
    NodeSpec {
        key: sref.node_key(),
        engine: engine_kind(&c.engine),
        engine_version: c.node_engine_version.clone(),
        requested_port: if memcached { 11211 } else { 6379 },
        node_memory_bytes: memory_bytes(c),
        vcpus: MEMCACHED_THREADS,
        parameters,
        auth_token: None,
        users: node_users(r, c),
        cluster_enabled: !memcached,
        discovery_group: None,
        transit_encryption: Some(TransitMode::Required),
        availability_zone: None,
    }
}

/// The ACL users of the cache's node: the members of its user group (the `default`-named
/// member replaces the engine's `default` user); `None` without a user group (open `default`).
pub fn node_users(r: &Region, c: &ServerlessCacheRecord) -> Option<Vec<NodeUser>> {
    let group = r.user_groups.get(c.user_group_id.as_ref()?)?;
    let mut users: Vec<NodeUser> = Vec::new();
    for u in group.user_ids.iter().filter_map(|id| r.users.get(id)) {
        if users.iter().any(|x| x.name == u.user_name) {
            continue;
        }
        let (passwords, nopass) = match &u.auth {
            UserAuth::Password(p) => (p.clone(), false),
            UserAuth::NoPassword => (Vec::new(), true),
            UserAuth::Iam => (Vec::new(), false),
        };
        // IAM users authenticate with a token naming this serverless cache.
        let iam = (u.auth == UserAuth::Iam).then(|| IamTarget {
            cache_name: c.name.clone(),
            region: r.region.clone(),
            user_id: u.user_id.clone(),
            serverless: true,
        });
        users.push(NodeUser {
            name: u.user_name.clone(),
            enabled: u.status != UserStatus::Deleting,
            passwords,
            nopass,
            access: u.access_string.clone(),
            iam,
        });
    }
    Some(users)
}

fn recorded(e: &Endpoint) -> ServerlessEndpoint {
    ServerlessEndpoint {
        address: e.address.clone(),
        port: e.port,
    }
}

/// A task's outcome: the endpoints the node (and reader) answer on, or why it failed.
type Started = Result<(ServerlessEndpoint, Option<ServerlessEndpoint>), String>;

impl Service {
    /// Runs `work` for the cache `sref` names in the background.
    pub(crate) fn spawn_serverless(&self, sref: ServerlessRef, work: Work) {
        let svc = self.clone();
        tokio::spawn(async move {
            match work {
                Work::Create { seed } => {
                    let started = svc.start_serverless(&sref, seed).await;
                    svc.serverless_delay().await;
                    svc.finish_serverless(&sref, started);
                }
                Work::Modify { restart } => {
                    let applied = svc.modify_serverless_node(&sref, restart).await;
                    svc.serverless_delay().await;
                    svc.finish_serverless(&sref, applied);
                }
                Work::Delete { final_snapshot } => {
                    if let Some(name) = final_snapshot {
                        svc.final_serverless_snapshot(&sref, &name).await;
                    }
                    svc.stop_serverless(&sref).await;
                    svc.serverless_delay().await;
                    svc.forget_serverless(&sref);
                }
            }
        });
    }

    async fn serverless_delay(&self) {
        if !self.inner.create_delay.is_zero() {
            tokio::time::sleep(self.inner.create_delay).await;
        }
    }

    /// The node spec of the cache, if the record is still the task's.
    fn serverless_spec(&self, sref: &ServerlessRef) -> Option<NodeSpec> {
        let region = self.inner.store.region(&sref.account, &sref.region);
        let r = lock(&region);
        let c = r.serverless.caches.get(&sref.name)?;
        (c.generation == sref.generation).then(|| node_spec(&r, c, sref))
    }

    /// Starts the node (loading `seed` first), the reader endpoint and the slot map.
    async fn start_serverless(&self, sref: &ServerlessRef, seed: Option<Arc<Vec<u8>>>) -> Started {
        let spec = self
            .serverless_spec(sref)
            .ok_or_else(|| "superseded".to_string())?;
        let sup = &self.inner.supervisor;
        if let Some(image) = seed {
            sup.seed_rdb(&spec.key, image);
        }
        let key = spec.key.clone();
        let cluster = spec.cluster_enabled;
        let endpoint = sup.start_node(spec).await.map_err(|e| e.to_string())?;
        if !cluster {
            return Ok((recorded(&endpoint), None));
        }
        let reader = sup
            .start_proxy_endpoint(&sref.reader_name(), 6380, std::slice::from_ref(&key))
            .await
            .map_err(|e| e.to_string())?;
        sup.set_serverless_topology(&key, Some(&reader))
            .await
            .map_err(|e| e.to_string())?;
        Ok((recorded(&endpoint), Some(recorded(&reader))))
    }

    /// Applies the record to the running node: live (data limit, users), or by moving the
    /// data to a node of the new engine version.
    async fn modify_serverless_node(&self, sref: &ServerlessRef, restart: bool) -> Started {
        let spec = self
            .serverless_spec(sref)
            .ok_or_else(|| "superseded".to_string())?;
        let sup = &self.inner.supervisor;
        let key = spec.key.clone();
        if restart {
            let image = sup.snapshot_rdb(&key).await.map_err(|e| e.to_string())?;
            sup.stop_node(&key).await.map_err(|e| e.to_string())?;
            sup.seed_rdb(&key, Arc::new(image));
            let endpoint = sup.start_node(spec).await.map_err(|e| e.to_string())?;
            // The reader endpoint lost its target when the node stopped: point it back.
            let reader = sup
                .start_proxy_endpoint(&sref.reader_name(), 6380, std::slice::from_ref(&key))
                .await
                .map_err(|e| e.to_string())?;
            sup.set_serverless_topology(&key, Some(&reader))
                .await
                .map_err(|e| e.to_string())?;
            return Ok((recorded(&endpoint), Some(recorded(&reader))));
        }
        sup.set_memory_limit(&key, spec.node_memory_bytes)
            .await
            .map_err(|e| e.to_string())?;
        if spec.cluster_enabled {
            sup.set_users(std::slice::from_ref(&key), spec.users.clone())
                .await
                .map_err(|e| e.to_string())?;
        }
        let endpoint = sup.endpoint(&key).await.map_err(|e| e.to_string())?;
        let reader = match spec.cluster_enabled {
            true => Some(
                sup.start_proxy_endpoint(&sref.reader_name(), 6380, std::slice::from_ref(&key))
                    .await
                    .map_err(|e| e.to_string())?,
            ),
            false => None,
        };
        Ok((recorded(&endpoint), reader.as_ref().map(recorded)))
    }

    /// Completes creating/modifying: `available` with its endpoints, or `create-failed`.
    fn finish_serverless(&self, sref: &ServerlessRef, started: Started) {
        let now = self.inner.store.now();
        let region = self.inner.store.region(&sref.account, &sref.region);
        let mut r = lock(&region);
        let Some(c) = r.serverless.caches.get_mut(&sref.name) else {
            return;
        };
        if c.generation != sref.generation {
            return;
        }
        let message = match started {
            Ok((endpoint, reader)) => {
                c.endpoint = Some(endpoint);
                c.reader_endpoint = reader;
                c.status = ServerlessStatus::Available;
                "Serverless cache is available".to_string()
            }
            Err(why) => {
                tracing::warn!(cache = %sref.name, %why, "serverless cache failed");
                c.status = ServerlessStatus::CreateFailed;
                format!("Serverless cache failed: {why}")
            }
        };
        r.event(SourceType::ServerlessCache, &sref.name, message, now);
    }

    /// Stops the reader endpoint and the node.
    async fn stop_serverless(&self, sref: &ServerlessRef) {
        let sup = &self.inner.supervisor;
        sup.stop_proxy_endpoint(&sref.reader_name()).await;
        if let Err(err) = sup.stop_node(&sref.node_key()).await {
            tracing::debug!(cache = %sref.name, %err, "serverless node was not running");
        }
    }

    /// Has the nodes of the region's Valkey/Redis OSS serverless caches run the users their
    /// user groups hold now (after a user or user group changed; unchanged nodes are skipped).
    pub(crate) async fn push_serverless_users(&self, account: &str, region: &str) {
        let work: Vec<(String, Option<Vec<NodeUser>>)> = {
            let state = self.inner.store.region(account, region);
            let r = lock(&state);
            r.serverless
                .caches
                .values()
                .filter(|c| c.engine != "memcached" && c.endpoint.is_some())
                .map(|c| (ServerlessRef::of(&r, c).node_key(), node_users(&r, c)))
                .collect()
        };
        for (key, users) in work {
            let keys = std::slice::from_ref(&key);
            if let Err(err) = self.inner.supervisor.set_users(keys, users).await {
                tracing::debug!(node = %key, %err, "serverless users not applied");
            }
        }
    }

    /// Completes DeleteServerlessCache: the record and its tags go.
    fn forget_serverless(&self, sref: &ServerlessRef) {
        let region = self.inner.store.region(&sref.account, &sref.region);
        let mut r = lock(&region);
        if r.serverless
            .caches
            .get(&sref.name)
            .is_some_and(|c| c.generation == sref.generation)
        {
            r.serverless.caches.remove(&sref.name);
            r.tags
                .remove(&(ResourceKind::ServerlessCache, sref.name.clone()));
        }
    }
}
