//! `GET /health`: a JSON summary of the running emulator for scripts, container health checks
//! and humans: crate version, uptime, addressing mode, counts of clusters and nodes by engine,
//! the keys/items and bytes the nodes hold, the data directory and whether state was restored
//! from it, and where the TLS CA is. `GET
//! /_elasticache_local/ca.pem` serves that CA certificate, for clients of TLS endpoints.
//!
//! Place in the flow: `server` mounts [`router`] beside the ElastiCache Query API router; the
//! handler reads node counts from the [`Supervisor`] and resource counts from the control plane
//! through a closure, so this module depends on neither's internals.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use crate::supervisor::{EngineKind, Supervisor};
use crate::tls::LocalCa;

/// Where clients download the CA that signs every TLS endpoint's certificate.
pub const CA_PATH: &str = "/_elasticache_local/ca.pem";

/// Produces the control plane's resource counts (clusters, replication groups, … by engine) as
/// a JSON object.
pub type ResourceCounts = Arc<dyn Fn() -> Value + Send + Sync>;

/// What the health handler reads.
#[derive(Clone)]
pub struct Health {
    started: Instant,
    addressing: &'static str,
    supervisor: Arc<Supervisor>,
    resources: ResourceCounts,
    ca: Arc<LocalCa>,
    /// Data directory and whether state was restored from it (`null` data dir without one).
    persistence: Value,
    /// Active injected faults (`crate::faults`), if the server has the registry.
    faults: Option<ResourceCounts>,
    /// Readiness after the init directory (`crate::ci`).
    readiness: Arc<crate::ci::Readiness>,
}

impl Health {
    /// Health of an emulator that started now.
    pub fn new(
        addressing: &'static str,
        supervisor: Arc<Supervisor>,
        resources: ResourceCounts,
        ca: Arc<LocalCa>,
    ) -> Health {
        Health {
            started: Instant::now(),
            addressing,
            supervisor,
            resources,
            ca,
            persistence: json!({"data_dir": null, "restored": false}),
            faults: None,
            readiness: crate::ci::Readiness::ready(),
        }
    }

    /// The same, listing the active injected faults that `faults` produces.
    pub fn with_faults(mut self, faults: ResourceCounts) -> Health {
        self.faults = Some(faults);
        self
    }

    /// The same, reporting readiness (`"ready"`, `"init"`) from `readiness`.
    pub fn with_readiness(mut self, readiness: Arc<crate::ci::Readiness>) -> Health {
        self.readiness = readiness;
        self
    }

    /// The same, reporting `info` as the persistence section (`--data-dir`).
    pub fn with_persistence(mut self, info: Value) -> Health {
        self.persistence = info;
        self
    }

    /// The JSON document `GET /health` answers.
    pub fn report(&self) -> Value {
        let counts = self.supervisor.counts();
        let usage = self.supervisor.usage();
        let mut nodes = Map::new();
        let mut data = Map::new();
        for engine in [EngineKind::Redis, EngineKind::Valkey, EngineKind::Memcached] {
            let name = engine.as_str();
            let n = counts.nodes.get(name).copied().unwrap_or(0);
            nodes.insert(name.to_string(), json!(n));
            data.insert(
                name.to_string(),
                json!({
                    "keys": usage.keys.get(name).copied().unwrap_or(0),
                    "bytes": usage.bytes.get(name).copied().unwrap_or(0),
                }),
            );
        }
        let (ready, init) = self.readiness.report();
        json!({
            "status": "running",
            "ready": ready,
            "init": init,
            "service": "elasticache-local",
            "version": env!("CARGO_PKG_VERSION"),
            "uptime_seconds": self.started.elapsed().as_secs(),
            "addressing": self.addressing,
            "resources": (self.resources)(),
            "nodes": nodes,
            "data": data,
            "configuration_endpoints": counts.config_endpoints,
            "cluster_endpoints": counts.cluster_endpoints,
            "persistence": self.persistence,
            "faults": self.faults.as_ref().map(|f| f()).unwrap_or_else(|| json!([])),
            "tls": {
                "ca_url": CA_PATH,
                "ca_file": self.ca.path().map(|p| p.display().to_string()),
            },
        })
    }
}

/// The `/health` route.
pub fn router(health: Health) -> Router {
    Router::new()
        .route("/health", get(handler))
        .route(CA_PATH, get(ca_pem))
        .with_state(health)
}

async fn ca_pem(State(health): State<Health>) -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/x-pem-file")],
        health.ca.cert_pem().to_string(),
    )
}

async fn handler(State(health): State<Health>) -> Json<Value> {
    Json(health.report())
}
