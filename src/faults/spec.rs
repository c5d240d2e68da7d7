//! The JSON contract of a fault (`POST /_elasticache_local/faults`): reading a body into a
//! checked [`FaultSpec`], with a 400 message naming the offending field, and writing it back
//! (defaults filled in) for `GET`.
//!
//! The body is read as a `serde_json::Value` and checked field by field rather than derived,
//! so every refusal names its field (`target.cacheNodeId: ...`), which serde's derived errors
//! do not reliably do.

use serde_json::{Map, Value, json};

use crate::control::handlers::FaultTarget;

/// The fault types of the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// The node's listeners close; a primary with automatic failover fails over.
    Crash,
    /// Every node of an Availability Zone crashes.
    AzPower,
    /// Replies delayed.
    Latency,
    /// Replica cut from its primary, or node cut from clients.
    Partition,
    /// maxmemory lowered.
    Memory,
    /// Connections reset.
    ConnectionDrop,
}

impl FaultKind {
    const ALL: [(&'static str, FaultKind); 6] = [
        ("crash", FaultKind::Crash),
        ("az-power", FaultKind::AzPower),
        ("latency", FaultKind::Latency),
        ("partition", FaultKind::Partition),
        ("memory", FaultKind::Memory),
        ("connection-drop", FaultKind::ConnectionDrop),
    ];

    /// The contract's name of the type.
    pub fn as_str(self) -> &'static str {
        FaultKind::ALL
            .iter()
            .find(|(_, k)| *k == self)
            .map(|(n, _)| *n)
            .unwrap_or("crash")
    }
}

/// A checked fault request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultSpec {
    /// Type.
    pub kind: FaultKind,
    /// What it hits.
    pub target: FaultTarget,
    /// Account of the target (default: the configured account).
    pub account: String,
    /// Region of the target (default: the configured region).
    pub region: String,
    /// Seconds after which the fault clears by itself.
    pub duration_seconds: Option<u64>,
    /// latency: fixed delay.
    pub delay_ms: u64,
    /// latency: random part, either way.
    pub jitter_ms: u64,
    /// memory: the lowered limit.
    pub maxmemory_bytes: u64,
    /// connection-drop: reset every N-th connection (`None`: all open ones, once).
    pub every_nth: Option<u64>,
    /// partition: `true` for `clients`, `false` for `replication`.
    pub partition_clients: bool,
}

const TOP_FIELDS: [&str; 8] = [
    "type",
    "target",
    "durationSeconds",
    "delayMs",
    "jitterMs",
    "maxmemoryBytes",
    "everyNth",
    "direction",
];

/// Reads and checks a request body; `Err` is the 400 message, naming the field.
pub fn parse(body: &[u8], account: &str, region: &str) -> Result<FaultSpec, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("body: not valid JSON ({e})"))?;
    let Value::Object(o) = value else {
        return Err("body: must be a JSON object".to_string());
    };
    if let Some(k) = o.keys().find(|k| !TOP_FIELDS.contains(&k.as_str())) {
        return Err(format!("{k}: unknown field"));
    }
    let kind = match o.get("type") {
        None => return Err("type: required".to_string()),
        Some(Value::String(s)) => FaultKind::ALL
            .iter()
            .find(|(n, _)| n == s)
            .map(|(_, k)| *k)
            .ok_or_else(|| format!("type: must be one of {}", type_names()))?,
        Some(_) => return Err(format!("type: must be a string, one of {}", type_names())),
    };
    let (target, account, region) = parse_target(o.get("target"), account, region)?;
    if kind == FaultKind::AzPower && !matches!(target, FaultTarget::Zone(_)) {
        return Err("target: an az-power fault targets an availabilityZone".to_string());
    }
    let only = |field: &str, for_kind: FaultKind| -> Result<(), String> {
        if o.contains_key(field) && kind != for_kind {
            return Err(format!("{field}: only for {} faults", for_kind.as_str()));
        }
        Ok(())
    };
    only("delayMs", FaultKind::Latency)?;
    only("jitterMs", FaultKind::Latency)?;
    only("maxmemoryBytes", FaultKind::Memory)?;
    only("everyNth", FaultKind::ConnectionDrop)?;
    only("direction", FaultKind::Partition)?;
    let delay_ms = uint(&o, "delayMs", 0)?.unwrap_or(0);
    let jitter_ms = uint(&o, "jitterMs", 0)?.unwrap_or(0);
    if kind == FaultKind::Latency && delay_ms == 0 && jitter_ms == 0 {
        return Err("delayMs: required for latency faults (milliseconds, above 0)".to_string());
    }
    let maxmemory_bytes = uint(&o, "maxmemoryBytes", 1)?.unwrap_or(0);
    if kind == FaultKind::Memory && maxmemory_bytes == 0 {
        return Err("maxmemoryBytes: required for memory faults (bytes, above 0)".to_string());
    }
    let partition_clients = match (kind, o.get("direction")) {
        (FaultKind::Partition, Some(Value::String(d))) if d == "clients" => true,
        (FaultKind::Partition, Some(Value::String(d))) if d == "replication" => false,
        (FaultKind::Partition, _) => {
            return Err("direction: required, replication or clients".to_string());
        }
        _ => false,
    };
    Ok(FaultSpec {
        kind,
        target,
        account,
        region,
        duration_seconds: uint(&o, "durationSeconds", 1)?,
        delay_ms,
        jitter_ms,
        maxmemory_bytes,
        every_nth: uint(&o, "everyNth", 1)?,
        partition_clients,
    })
}

fn type_names() -> String {
    FaultKind::ALL
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// An optional integer field of at least `min`.
fn uint(o: &Map<String, Value>, field: &str, min: u64) -> Result<Option<u64>, String> {
    match o.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if n >= min => Ok(Some(n)),
            _ => Err(format!("{field}: must be an integer of at least {min}")),
        },
    }
}

/// An optional non-empty string field of the target.
fn text(o: &Map<String, Value>, field: &str) -> Result<Option<String>, String> {
    match o.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
        Some(_) => Err(format!("target.{field}: must be a non-empty string")),
    }
}

type Target = (FaultTarget, String, String);

fn parse_target(v: Option<&Value>, account: &str, region: &str) -> Result<Target, String> {
    let Some(Value::Object(t)) = v else {
        return Err("target: required, an object naming cacheClusterId, replicationGroupId or availabilityZone".to_string());
    };
    const FIELDS: [&str; 7] = [
        "cacheClusterId",
        "cacheNodeId",
        "replicationGroupId",
        "nodeGroupId",
        "availabilityZone",
        "accountId",
        "region",
    ];
    if let Some(k) = t.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(format!("target.{k}: unknown field"));
    }
    let cluster = text(t, "cacheClusterId")?;
    let group = text(t, "replicationGroupId")?;
    let zone = text(t, "availabilityZone")?;
    let node = text(t, "cacheNodeId")?;
    let shard = text(t, "nodeGroupId")?;
    let account = text(t, "accountId")?.unwrap_or_else(|| account.to_string());
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err("target.accountId: must be a 12-digit account id".to_string());
    }
    let region = text(t, "region")?.unwrap_or_else(|| region.to_string());
    if node.is_some() && cluster.is_none() {
        return Err("target.cacheNodeId: only with cacheClusterId".to_string());
    }
    if shard.is_some() && group.is_none() {
        return Err("target.nodeGroupId: only with replicationGroupId".to_string());
    }
    let target = match (cluster, group, zone) {
        (Some(id), None, None) => FaultTarget::Cluster {
            id: id.to_ascii_lowercase(),
            node,
        },
        (None, Some(id), None) => FaultTarget::Group {
            id: id.to_ascii_lowercase(),
            shard,
        },
        (None, None, Some(az)) => FaultTarget::Zone(az),
        _ => {
            return Err("target: must name exactly one of cacheClusterId, replicationGroupId, availabilityZone".to_string());
        }
    };
    Ok((target, account, region))
}

impl FaultSpec {
    /// The spec as the contract writes it, defaults filled in.
    pub fn to_json(&self) -> Value {
        let mut target = Map::new();
        match &self.target {
            FaultTarget::Cluster { id, node } => {
                target.insert("cacheClusterId".into(), json!(id));
                if let Some(n) = node {
                    target.insert("cacheNodeId".into(), json!(n));
                }
            }
            FaultTarget::Group { id, shard } => {
                target.insert("replicationGroupId".into(), json!(id));
                if let Some(s) = shard {
                    target.insert("nodeGroupId".into(), json!(s));
                }
            }
            FaultTarget::Zone(az) => {
                target.insert("availabilityZone".into(), json!(az));
            }
        }
        target.insert("accountId".into(), json!(self.account));
        target.insert("region".into(), json!(self.region));
        let mut o = Map::new();
        o.insert("type".into(), json!(self.kind.as_str()));
        o.insert("target".into(), Value::Object(target));
        if let Some(d) = self.duration_seconds {
            o.insert("durationSeconds".into(), json!(d));
        }
        match self.kind {
            FaultKind::Latency => {
                o.insert("delayMs".into(), json!(self.delay_ms));
                o.insert("jitterMs".into(), json!(self.jitter_ms));
            }
            FaultKind::Memory => {
                o.insert("maxmemoryBytes".into(), json!(self.maxmemory_bytes));
            }
            FaultKind::ConnectionDrop => {
                if let Some(n) = self.every_nth {
                    o.insert("everyNth".into(), json!(n));
                }
            }
            FaultKind::Partition => {
                let d = if self.partition_clients {
                    "clients"
                } else {
                    "replication"
                };
                o.insert("direction".into(), json!(d));
            }
            FaultKind::Crash | FaultKind::AzPower => {}
        }
        Value::Object(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(body: &str) -> String {
        parse(body.as_bytes(), "000000000000", "us-east-1").unwrap_err()
    }

    #[test]
    fn refusals_name_the_field() {
        assert!(err("[]").starts_with("body:"));
        assert!(err(r#"{"target":{"cacheClusterId":"a"}}"#).starts_with("type:"));
        assert!(err(r#"{"type":"nope","target":{"cacheClusterId":"a"}}"#).starts_with("type:"));
        assert!(err(r#"{"type":"crash"}"#).starts_with("target:"));
        assert!(
            err(r#"{"type":"crash","target":{"cacheNodeId":"0001"}}"#)
                .starts_with("target.cacheNodeId:")
        );
        assert!(
            err(r#"{"type":"latency","target":{"cacheClusterId":"a"}}"#).starts_with("delayMs:")
        );
        assert!(
            err(r#"{"type":"crash","target":{"cacheClusterId":"a"},"delayMs":5}"#)
                .starts_with("delayMs:")
        );
        assert!(
            err(r#"{"type":"partition","target":{"cacheClusterId":"a"}}"#)
                .starts_with("direction:")
        );
        assert!(
            err(r#"{"type":"az-power","target":{"cacheClusterId":"a"}}"#).starts_with("target:")
        );
        assert!(
            err(r#"{"type":"crash","target":{"cacheClusterId":"a"},"durationSeconds":-1}"#)
                .starts_with("durationSeconds:")
        );
        assert!(
            err(r#"{"type":"crash","target":{"cacheClusterId":"a","accountId":"x"}}"#)
                .starts_with("target.accountId:")
        );
        assert!(
            err(r#"{"type":"crash","target":{"cacheClusterId":"a"},"bogus":1}"#)
                .starts_with("bogus:")
        );
    }

    #[test]
    fn defaults_are_filled_in_and_written_back() {
        let body = r#"{"type":"latency","target":{"cacheClusterId":"Web"},"delayMs":200}"#;
        let spec = parse(body.as_bytes(), "123456789012", "eu-west-1").unwrap();
        let v = spec.to_json();
        assert_eq!(v["target"]["cacheClusterId"], "web");
        assert_eq!(v["target"]["accountId"], "123456789012");
        assert_eq!(v["target"]["region"], "eu-west-1");
        assert_eq!(v["delayMs"], 200);
        assert_eq!(v["jitterMs"], 0);
    }
}
