//! Serverless cache records: a serverless cache (one engine node behind an endpoint and, for
//! Valkey/Redis OSS, a reader endpoint) and its snapshots (an RDB image taken from that node).
//!
//! Place in the flow: `control::handlers::serverless*` validate a request, update these
//! records under the region lock, and drive the supervisor outside it; the records keep what
//! the `ServerlessCache` / `ServerlessCacheSnapshot` shapes report. Every type derives serde so
//! the region can be persisted; timestamps and images use the small codecs at the end.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Serverless caches per region (AWS's default quota).
pub const MAX_SERVERLESS_CACHES: usize = 40;
/// Serverless cache snapshots per region (images are held in memory, as node snapshots are).
pub const MAX_SERVERLESS_SNAPSHOTS: usize = 100;

/// The serverless part of a region's state.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ServerlessState {
    /// Serverless caches by name (lower-cased), in name order.
    pub caches: BTreeMap<String, ServerlessCacheRecord>,
    /// Serverless cache snapshots by name (lower-cased), in name order.
    pub snapshots: BTreeMap<String, ServerlessSnapshotRecord>,
}

impl ServerlessState {
    /// Names of the caches a user group is attached to (`UserGroup.ServerlessCaches`).
    pub fn caches_using_user_group(&self, user_group_id: &str) -> Vec<String> {
        self.caches
            .values()
            .filter(|c| c.user_group_id.as_deref() == Some(user_group_id))
            .map(|c| c.name.clone())
            .collect()
    }
}

/// `ServerlessCache.Status` (lower case on the wire).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServerlessStatus {
    /// `creating`
    Creating,
    /// `available`
    Available,
    /// `modifying`
    Modifying,
    /// `deleting`
    Deleting,
    /// `create-failed`
    CreateFailed,
}

impl ServerlessStatus {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            ServerlessStatus::Creating => "creating",
            ServerlessStatus::Available => "available",
            ServerlessStatus::Modifying => "modifying",
            ServerlessStatus::Deleting => "deleting",
            ServerlessStatus::CreateFailed => "create-failed",
        }
    }
}

/// `CacheUsageLimits`, as given (`DataStorage` in GB, `ECPUPerSecond` in ECPUs).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageLimits {
    /// `DataStorage.Maximum` (GB).
    pub data_max_gb: Option<i32>,
    /// `DataStorage.Minimum` (GB).
    pub data_min_gb: Option<i32>,
    /// `ECPUPerSecond.Maximum`.
    pub ecpu_max: Option<i32>,
    /// `ECPUPerSecond.Minimum`.
    pub ecpu_min: Option<i32>,
}

impl UsageLimits {
    /// Whether any limit is set (AWS omits `CacheUsageLimits` otherwise).
    pub fn is_empty(&self) -> bool {
        *self == UsageLimits::default()
    }
}

/// An address the API reports, as the supervisor bound it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerlessEndpoint {
    /// `Address`.
    pub address: String,
    /// `Port`.
    pub port: u16,
}

/// A serverless cache.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ServerlessCacheRecord {
    /// `ServerlessCacheName` (lower-cased).
    pub name: String,
    /// `Description`.
    pub description: String,
    /// `redis`, `valkey` or `memcached`.
    pub engine: String,
    /// `MajorEngineVersion` (`7`, `8`, `1.6`).
    pub major_engine_version: String,
    /// `FullEngineVersion`: the catalogue version the node runs (`7.1`, `8.0`, `1.6.22`).
    pub full_engine_version: String,
    /// The full version the engine node reports (`7.1.0`).
    pub node_engine_version: String,
    /// Status.
    pub status: ServerlessStatus,
    /// `CreateTime`.
    #[serde(with = "unix_nanos")]
    pub create_time: OffsetDateTime,
    /// `CacheUsageLimits`.
    pub limits: UsageLimits,
    /// `DailySnapshotTime` (`HH:MM`).
    pub daily_snapshot_time: String,
    /// `SnapshotRetentionLimit`.
    pub snapshot_retention_limit: i32,
    /// `SecurityGroupIds`.
    pub security_group_ids: Vec<String>,
    /// `SubnetIds`.
    pub subnet_ids: Vec<String>,
    /// `UserGroupId` (RBAC user group enforced on the node).
    pub user_group_id: Option<String>,
    /// `KmsKeyId`.
    pub kms_key_id: Option<String>,
    /// `Endpoint` once the node runs.
    pub endpoint: Option<ServerlessEndpoint>,
    /// `ReaderEndpoint` once it runs (Valkey/Redis OSS).
    pub reader_endpoint: Option<ServerlessEndpoint>,
    /// Bumped by every operation that starts a background task; a task whose generation is
    /// stale leaves the record alone.
    pub generation: u64,
}

/// A serverless cache snapshot.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ServerlessSnapshotRecord {
    /// `ServerlessCacheSnapshotName` (lower-cased).
    pub name: String,
    /// `creating`, `available` or `deleting`.
    pub status: String,
    /// `manual` or `automated`.
    pub snapshot_type: String,
    /// `CreateTime`.
    #[serde(with = "unix_nanos")]
    pub create_time: OffsetDateTime,
    /// `ExpiryTime` (automated snapshots).
    #[serde(with = "unix_nanos_opt", default)]
    pub expiry_time: Option<OffsetDateTime>,
    /// `KmsKeyId`.
    pub kms_key_id: Option<String>,
    /// The source cache's name.
    pub cache_name: String,
    /// The source cache's engine.
    pub engine: String,
    /// The source cache's `MajorEngineVersion`.
    pub major_engine_version: String,
    /// The RDB image (empty while `creating`).
    #[serde(with = "image_bytes")]
    pub image: Arc<Vec<u8>>,
}

/// `OffsetDateTime` as Unix nanoseconds.
mod unix_nanos {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use time::OffsetDateTime;

    pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        t.unix_timestamp_nanos().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let n = i128::deserialize(d)?;
        OffsetDateTime::from_unix_timestamp_nanos(n).map_err(serde::de::Error::custom)
    }
}

/// `Option<OffsetDateTime>` as optional Unix nanoseconds.
mod unix_nanos_opt {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use time::OffsetDateTime;

    pub fn serialize<S: Serializer>(t: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
        t.map(|t| t.unix_timestamp_nanos()).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<OffsetDateTime>, D::Error> {
        match Option::<i128>::deserialize(d)? {
            Some(n) => OffsetDateTime::from_unix_timestamp_nanos(n)
                .map(Some)
                .map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}

/// A shared image as a byte sequence.
mod image_bytes {
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(image: &Arc<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        image.as_slice().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<Vec<u8>>, D::Error> {
        Vec::<u8>::deserialize(d).map(Arc::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_through_serde() {
        let now = time::macros::datetime!(2025-03-01 04:05:06.789 UTC);
        let mut state = ServerlessState::default();
        state.caches.insert(
            "c".into(),
            ServerlessCacheRecord {
                name: "c".into(),
                description: "d".into(),
                engine: "valkey".into(),
                major_engine_version: "8".into(),
                full_engine_version: "8.1".into(),
                node_engine_version: "8.1.0".into(),
                status: ServerlessStatus::Available,
                create_time: now,
                limits: UsageLimits {
                    data_max_gb: Some(2),
                    ..Default::default()
                },
                daily_snapshot_time: "03:00".into(),
                snapshot_retention_limit: 1,
                security_group_ids: vec!["sg-1".into()],
                subnet_ids: vec![],
                user_group_id: Some("ug".into()),
                kms_key_id: None,
                endpoint: Some(ServerlessEndpoint {
                    address: "127.0.0.1".into(),
                    port: 6379,
                }),
                reader_endpoint: None,
                generation: 3,
            },
        );
        state.snapshots.insert(
            "s".into(),
            ServerlessSnapshotRecord {
                name: "s".into(),
                status: "available".into(),
                snapshot_type: "automated".into(),
                create_time: now,
                expiry_time: Some(now + time::Duration::days(1)),
                kms_key_id: None,
                cache_name: "c".into(),
                engine: "valkey".into(),
                major_engine_version: "8".into(),
                image: Arc::new(b"REDIS0011".to_vec()),
            },
        );
        let json = serde_json::to_string(&state).expect("serialize");
        let back: ServerlessState = serde_json::from_str(&json).expect("deserialize");
        let c = &back.caches["c"];
        assert_eq!(c.create_time, now);
        assert_eq!(c.limits.data_max_gb, Some(2));
        assert_eq!(c.status, ServerlessStatus::Available);
        let s = &back.snapshots["s"];
        assert_eq!(s.expiry_time, Some(now + time::Duration::days(1)));
        assert_eq!(s.image.as_slice(), b"REDIS0011");
        assert_eq!(back.caches_using_user_group("ug"), vec!["c".to_string()]);
    }
}
