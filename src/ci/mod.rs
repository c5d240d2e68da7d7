//! CI conveniences: `POST /_elasticache_local/reset` (wipe every resource and node between
//! tests), the init directory run at start (`--init-dir`: `*.json` requests and `*.sh` scripts
//! that seed resources, then a wait until they are `available`), readiness for `/health`, and
//! the `reset` / `status` subcommands that talk to a running emulator.
//!
//! Place in the flow: `server::start` merges [`router`] beside `/health` and the Query API,
//! and spawns [`init::run`] once the API listens (init scripts call it over HTTP); `/health`
//! reads [`Readiness`]; `main` hands a subcommand to [`cli::run`] instead of starting a server.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::control::handlers::Service;
use crate::persistence::Persistence;

pub mod cli;
pub mod client;
pub mod init;

/// Where the reset route listens.
pub const RESET_PATH: &str = "/_elasticache_local/reset";

/// How one init file went.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FileReport {
    /// File name within the init directory.
    pub file: String,
    /// Whether it ran without error.
    pub ok: bool,
    /// What it did (`3 requests`, `exit 0`) or why it failed.
    pub detail: String,
}

/// Progress of the init directory, shared with `/health`.
#[derive(Debug, Default)]
struct InitProgress {
    dir: Option<String>,
    /// `running`, `waiting` (for resources to become available), `done` or `failed`.
    state: &'static str,
    files: Vec<FileReport>,
    /// Resources still settling (while waiting) or that failed or timed out.
    resources: Vec<String>,
}

/// Whether the emulator is ready: always without an init directory, otherwise once every init
/// file ran without error and every resource is `available`.
#[derive(Debug)]
pub struct Readiness {
    progress: Mutex<InitProgress>,
}

impl Readiness {
    /// Readiness of an emulator without an init directory: ready at once.
    pub fn ready() -> Arc<Readiness> {
        Arc::new(Readiness {
            progress: Mutex::new(InitProgress {
                state: "done",
                ..Default::default()
            }),
        })
    }

    /// Readiness of an emulator about to run the init directory `dir`.
    pub fn pending(dir: &std::path::Path) -> Arc<Readiness> {
        Arc::new(Readiness {
            progress: Mutex::new(InitProgress {
                dir: Some(dir.display().to_string()),
                state: "running",
                ..Default::default()
            }),
        })
    }

    fn update(&self, f: impl FnOnce(&mut InitProgress)) {
        f(&mut crate::state::lock(&self.progress));
    }

    /// Records how one init file went.
    pub fn file_done(&self, report: FileReport) {
        self.update(|p| p.files.push(report));
    }

    /// Records the init run's phase (`waiting`, `done`, `failed`) and the resources it names.
    pub fn set_state(&self, state: &'static str, resources: Vec<String>) {
        self.update(|p| {
            p.state = state;
            p.resources = resources;
        });
    }

    /// `"ready"` and `"init"` for `/health`.
    pub fn report(&self) -> (bool, Value) {
        let p = crate::state::lock(&self.progress);
        let ready = p.state == "done";
        let init = json!({
            "dir": p.dir,
            "state": p.state,
            "files": p.files,
            "resources": p.resources,
        });
        (ready, init)
    }
}

struct ResetShared {
    service: Arc<Service>,
    persistence: Option<Arc<Persistence>>,
    faults: Arc<crate::faults::Faults>,
}

/// The reset route.
pub fn router(
    service: Arc<Service>,
    persistence: Option<Arc<Persistence>>,
    faults: Arc<crate::faults::Faults>,
) -> Router {
    Router::new()
        .route(RESET_PATH, post(reset))
        .with_state(Arc::new(ResetShared {
            service,
            persistence,
            faults,
        }))
}

/// Deletes every resource, stops every node and forgets every injected fault; with a data
/// directory the state file is rewritten before the answer, so it already reflects the reset
/// when the caller reads it.
async fn reset(State(shared): State<Arc<ResetShared>>) -> Json<Value> {
    let faults_cleared = shared.faults.forget_all().await;
    let (deleted, nodes_stopped) = shared.service.reset().await;
    if let Some(p) = &shared.persistence
        && let Err(err) = p.save_state().await
    {
        tracing::warn!(%err, "state file not written after reset");
    }
    let mut deleted = json!(deleted);
    deleted["faults"] = json!(faults_cleared);
    Json(json!({"reset": true, "deleted": deleted, "nodes_stopped": nodes_stopped}))
}
