//! `GET /health`: a JSON summary of the running emulator for scripts, container health checks
//! and humans: crate version, uptime, addressing mode, and counts of clusters and nodes by
//! engine.
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
}

impl Health {
    /// Health of an emulator that started now.
    pub fn new(
        addressing: &'static str,
        supervisor: Arc<Supervisor>,
        resources: ResourceCounts,
    ) -> Health {
        Health {
            started: Instant::now(),
            addressing,
            supervisor,
            resources,
        }
    }

    /// The JSON document `GET /health` answers.
    pub fn report(&self) -> Value {
        let counts = self.supervisor.counts();
        let mut nodes = Map::new();
        for engine in [EngineKind::Redis, EngineKind::Valkey, EngineKind::Memcached] {
            let n = counts.nodes.get(engine.as_str()).copied().unwrap_or(0);
            nodes.insert(engine.as_str().to_string(), json!(n));
        }
        json!({
            "status": "running",
            "service": "elasticache-local",
            "version": env!("CARGO_PKG_VERSION"),
            "uptime_seconds": self.started.elapsed().as_secs(),
            "addressing": self.addressing,
            "resources": (self.resources)(),
            "nodes": nodes,
            "configuration_endpoints": counts.config_endpoints,
            "cluster_endpoints": counts.cluster_endpoints,
        })
    }
}

/// The `/health` route.
pub fn router(health: Health) -> Router {
    Router::new()
        .route("/health", get(handler))
        .with_state(health)
}

async fn handler(State(health): State<Health>) -> Json<Value> {
    Json(health.report())
}
