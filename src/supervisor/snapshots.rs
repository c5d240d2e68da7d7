//! Snapshots at the node level: the RDB image of a running node (CreateSnapshot, final
//! snapshots) and the image a node key starts from (restores).
//!
//! Place in the flow: `control::handlers::snapshots` asks for one image per shard primary and
//! keeps them; a restore hands an image to [`Supervisor::seed_rdb`] before the node's
//! [`Supervisor::start_node`], which loads it before the node listens (replicas then take a
//! full sync from their primary as usual). A seed is consumed by that first start.

use std::sync::Arc;

use super::SupervisorError;
use super::node::Supervisor;

impl Supervisor {
    /// The RDB image of a running Redis/Valkey node, taken at one point in time. Taking it
    /// blocks (entries are copied and serialised), so it runs on tokio's blocking pool, the
    /// node's slot lock moving there with it (the node cannot stop or restart meanwhile).
    pub async fn snapshot_rdb(&self, key: &str) -> Result<Vec<u8>, SupervisorError> {
        let guard = self.slot(key)?.lock_owned().await;
        let taken = tokio::task::spawn_blocking(move || {
            guard.running.as_ref().map(|node| node.snapshot_rdb())
        })
        .await
        .map_err(|e| SupervisorError::UnknownNode(format!("{key} (snapshot task failed: {e})")))?;
        match taken {
            Some(Some(image)) => Ok(image),
            Some(None) => Err(SupervisorError::InvalidParameter {
                name: "engine".to_string(),
                reason: "this engine has no snapshots".to_string(),
            }),
            None => Err(SupervisorError::UnknownNode(key.to_string())),
        }
    }

    /// Makes the next start of node `key` load `image` (an RDB file) before it listens. A
    /// node whose image does not load fails to start.
    pub fn seed_rdb(&self, key: &str, image: Arc<Vec<u8>>) {
        super::node::lock(&self.seeds).insert(key.to_string(), ecl_redis::RdbImage(image));
    }
}

/// The keys of several RDB images, decoded and checked, ready to be split by hash slot into
/// images for a different number of shards (a cluster-mode restore into a new shard count).
pub struct DecodedImages {
    rdb_version: u16,
    engine_version: String,
    /// Database-0 entries (a cluster-mode node has only database 0) with their slot.
    entries: Vec<(u16, ecl_redis::db::Key, ecl_redis::db::Entry)>,
    /// Function library codes (every shard of a cluster holds every library), each once.
    functions: Vec<Vec<u8>>,
}

/// Decodes RDB images in full (checksums included); the error names the image and offset.
pub fn decode_images(images: &[Arc<Vec<u8>>]) -> Result<DecodedImages, String> {
    let now_ms = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    let opts = ecl_redis::rdb::file::ReadOptions {
        max_version: ecl_redis::rdb::rdb_version(u32::MAX),
        databases: 16,
        now_ms: i64::try_from(now_ms).unwrap_or(i64::MAX),
        lfu: false,
    };
    let mut decoded = DecodedImages {
        rdb_version: 0,
        engine_version: String::new(),
        entries: Vec::new(),
        functions: Vec::new(),
    };
    for (i, image) in images.iter().enumerate() {
        let (data, stats) = ecl_redis::rdb::file::read(image, &opts)
            .map_err(|e| format!("RDB file {} does not load: {e}", i + 1))?;
        if stats.rdb_version > decoded.rdb_version {
            decoded.rdb_version = stats.rdb_version;
            decoded.engine_version = stats
                .aux
                .iter()
                .find(|(k, _)| k == "redis-ver")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
        }
        for code in stats.functions {
            if !decoded.functions.contains(&code) {
                decoded.functions.push(code);
            }
        }
        for db in data {
            for (key, entry) in db {
                let slot = ecl_redis::cluster::slots::key_slot(&key);
                decoded.entries.push((slot, key, entry));
            }
        }
    }
    Ok(decoded)
}

impl DecodedImages {
    /// One image per shard, each holding the keys whose hash slot falls in that shard's
    /// ranges (inclusive), written in the newest RDB version among the inputs, and every
    /// function library of the inputs (libraries are not sharded: each shard loads them all).
    pub fn split(self, shards: &[Vec<(u16, u16)>]) -> Vec<Arc<Vec<u8>>> {
        let mut dbs: Vec<ecl_redis::db::Db> = shards.iter().map(|_| Default::default()).collect();
        for (slot, key, entry) in self.entries {
            let owner = shards
                .iter()
                .position(|ranges| ranges.iter().any(|(a, b)| (*a..=*b).contains(&slot)));
            if let Some(i) = owner {
                dbs[i].insert_entry(&key, entry);
            }
        }
        let now_ms = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        let now_ms = i64::try_from(now_ms).unwrap_or(i64::MAX);
        dbs.into_iter()
            .map(|db| {
                let meta = ecl_redis::rdb::file::WriteMeta {
                    rdb_version: self.rdb_version,
                    engine_version: self.engine_version.clone(),
                    ctime_s: now_ms / 1000,
                    used_mem: 0,
                };
                let mut img = ecl_redis::rdb::file::write(std::slice::from_ref(&db), &meta, now_ms);
                ecl_redis::rdb::functions::append_to_file(&mut img, &self.functions);
                Arc::new(img)
            })
            .collect()
    }
}
