//! The HTTP face of fault injection: `POST /_elasticache_local/faults` (create, answers
//! `{"faultId": …}`), `GET /_elasticache_local/faults` (`{"faults": […]}`), `DELETE
//! /_elasticache_local/faults/{faultId}` (clear, 204). JSON in and out; refusals are
//! `{"error": …, "message": …}` with 400 (bad body, the message naming the field), 404 (no such
//! fault) or 409 (the node already has that fault).
//!
//! Place in the flow: `server` merges [`router`] with the Query API's router (whose routes are
//! `/` and POST `/{*path}`; the more specific paths here win); the handlers call the registry
//! ([`super::Faults`]).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use axum::{Json, Router};
use serde_json::json;

use super::{FaultError, Faults};

/// Where the API lives.
pub const FAULTS_PATH: &str = "/_elasticache_local/faults";

/// The fault routes.
pub fn router(faults: Arc<Faults>) -> Router {
    Router::new()
        .route(FAULTS_PATH, post(create).get(list))
        .route(&format!("{FAULTS_PATH}/{{id}}"), delete(clear).get(show))
        .with_state(faults)
}

async fn create(State(faults): State<Arc<Faults>>, body: Bytes) -> Response {
    let spec = match faults.parse(&body) {
        Ok(s) => s,
        Err(e) => return refusal(e),
    };
    match faults.create(spec).await {
        Ok(id) => (StatusCode::OK, Json(json!({ "faultId": id }))).into_response(),
        Err(e) => refusal(e),
    }
}

async fn list(State(faults): State<Arc<Faults>>) -> Response {
    Json(faults.list()).into_response()
}

/// One fault, as the list shows it (404 when it is not active).
async fn show(State(faults): State<Arc<Faults>>, Path(id): Path<String>) -> Response {
    let all = faults.list();
    let found = all["faults"]
        .as_array()
        .and_then(|a| a.iter().find(|f| f["faultId"] == json!(id)).cloned());
    match found {
        Some(f) => Json(f).into_response(),
        None => refusal(FaultError::NotFound(format!(
            "faultId: no active fault {id}"
        ))),
    }
}

async fn clear(State(faults): State<Arc<Faults>>, Path(id): Path<String>) -> Response {
    match faults.clear(&id).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => refusal(e),
    }
}

fn refusal(e: FaultError) -> Response {
    let (status, code, message) = match e {
        FaultError::Bad(m) => (StatusCode::BAD_REQUEST, "ValidationError", m),
        FaultError::NotFound(m) => (StatusCode::NOT_FOUND, "FaultNotFound", m),
        FaultError::Conflict(m) => (StatusCode::CONFLICT, "FaultConflict", m),
    };
    (status, Json(json!({ "error": code, "message": message }))).into_response()
}
