//! The emulator's status page for browsers: `GET /` (without an `Action` parameter) answers a
//! server-rendered HTML page of every account and region's resources and every node's
//! figures; `GET /_elasticache_local/status.json` answers the same data, which the page polls
//! every 2 s to update its tables in place; `GET /_elasticache_local/nodes/<node key>/keys`
//! is a per-node key browser (`keys`). No JavaScript build step and no CDN: inline CSS and a
//! little inline vanilla JS, so it works offline.
//!
//! Place in the flow: `server` mounts [`router`] beside `/health` and the Query API and wraps
//! the whole app with [`page_layer`], which serves the page for `GET /` only when the query
//! names no `Action` (the Query API keeps `POST /` and `GET /?Action=…`, untouched). Resources
//! come from the control plane through a closure (`control::overview`), node figures and key
//! reads from the [`Supervisor`] (`node_figures`, `inspect_node`), which alone talks to the
//! engine crates. Everything a user chose (ids, key names, values) is escaped by `html::escape`
//! on the server and set through `textContent` in the browser.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::supervisor::Supervisor;

mod html;
mod keys;
mod page;
mod resp;

/// Where the page's data is served as JSON.
pub const STATUS_JSON_PATH: &str = "/_elasticache_local/status.json";

/// Produces the control plane's resource overview (`control::overview`).
pub type Overview = Arc<dyn Fn() -> Value + Send + Sync>;

/// What the status handlers read.
#[derive(Clone)]
pub struct Status {
    started: Instant,
    supervisor: Arc<Supervisor>,
    overview: Overview,
}

impl Status {
    /// Status of an emulator that started now.
    pub fn new(supervisor: Arc<Supervisor>, overview: Overview) -> Status {
        Status {
            started: Instant::now(),
            supervisor,
            overview,
        }
    }

    /// The page's data: version, uptime, resources and every node's figures.
    pub fn report(&self) -> Value {
        let mut v = (self.overview)();
        v["version"] = json!(env!("CARGO_PKG_VERSION"));
        v["uptime_seconds"] = json!(self.started.elapsed().as_secs());
        v["nodes"] = json!(self.supervisor.node_figures());
        v
    }
}

/// The JSON and key browser routes (the page itself is served by [`page_layer`]).
pub fn router(status: Status) -> Router {
    Router::new()
        .route(STATUS_JSON_PATH, get(status_json))
        .route("/_elasticache_local/nodes/{key}/keys", get(keys::handler))
        .with_state(status)
}

/// Wraps `app` so that `GET /` without an `Action` query parameter answers the status page;
/// every other request goes to `app` unchanged.
pub fn page_layer(app: Router, status: Status) -> Router {
    app.layer(middleware::from_fn_with_state(status, intercept))
}

async fn intercept(State(status): State<Status>, req: Request, next: Next) -> Response {
    if req.method() == Method::GET && req.uri().path() == "/" && !names_action(req.uri().query()) {
        let body = page::render(&status.report());
        return ([(header::CACHE_CONTROL, "no-store")], Html(body)).into_response();
    }
    next.run(req).await
}

/// Whether a query string has an `Action` parameter (the Query API's GET form).
fn names_action(query: Option<&str>) -> bool {
    query.is_some_and(|q| {
        q.split('&')
            .any(|pair| pair.split('=').next() == Some("Action"))
    })
}

async fn status_json(State(status): State<Status>) -> Response {
    (
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(status.report()),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::names_action;

    #[test]
    fn only_an_action_parameter_goes_to_the_api() {
        assert!(!names_action(None));
        assert!(!names_action(Some("")));
        assert!(!names_action(Some("Version=2015-02-02&Actions=x")));
        assert!(names_action(Some("Action=DescribeCacheClusters")));
        assert!(names_action(Some("Version=1&Action=")));
    }
}
