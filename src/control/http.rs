//! The HTTP entry of the ElastiCache Query API.
//!
//! First and last step of a request: body → [`RequestContext`] → `protocol::form` +
//! `protocol::query` (decode, walking the input shape) → `api::dispatch` (typed handler) →
//! `protocol::xml` (encode, walking the output shape). Serves `POST` on any path (SDKs post to
//! `/`; the path is ignored) and `GET /?Action=…`. Every response carries `x-amzn-RequestId`
//! (the Go SDK reads the request id there) and `Content-Type: text/xml`. Server wiring
//! (listener, `/health`, shutdown) belongs to `server.rs`, which merges this router;
//! connection-level bounds (header timeout, connection cap) to `api_listener`.
//!
//! Refusals before any handler runs, as AWS's front end answers them: a body above
//! [`Limits::max_body_bytes`] is `RequestEntityTooLarge` (413), refused from Content-Length before
//! it is read; a body that does not arrive within the body timeout is `RequestTimeout` (408);
//! both close the connection. A `Version` other than the model's (or none) is `InvalidAction`
//! "Could not find operation X for version V" (`NO_VERSION_SPECIFIED` when absent), the answer
//! AWS's Query services give; an unknown `Action` gets the same words. A POST body whose
//! Content-Type is not a form is not read as parameters.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tracing::Instrument;

use crate::control::api::{ElastiCacheApi, Operation, dispatch};
use crate::control::context::{ContextDefaults, RequestContext};
use crate::control::error::ApiError;
use crate::control::protocol::{self, Limits, Params, form};

/// Response header carrying the request id.
pub const REQUEST_ID_HEADER: &str = "x-amzn-RequestId";

/// How long a client may take to send a request body when the caller sets nothing.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);

struct Shared<A> {
    api: Arc<A>,
    defaults: ContextDefaults,
    limits: Limits,
    body_timeout: Duration,
}

/// The API router with default parsing limits (1 MiB bodies; see [`Limits`]).
pub fn router<A: ElastiCacheApi + Send + Sync + 'static>(
    api: Arc<A>,
    defaults: ContextDefaults,
) -> Router {
    router_with_limits(api, defaults, Limits::default())
}

/// The API router with explicit parsing limits and the default body timeout.
pub fn router_with_limits<A: ElastiCacheApi + Send + Sync + 'static>(
    api: Arc<A>,
    defaults: ContextDefaults,
    limits: Limits,
) -> Router {
    router_with(api, defaults, limits, DEFAULT_BODY_TIMEOUT)
}

/// The API router with explicit parsing limits and body timeout (the time a client has to send
/// a whole body once its head has arrived). Routes: `GET /`, `POST /`, `POST /{*path}`; no
/// fallback is set, so the caller may merge other routes (such as `/health`) and a fallback.
pub fn router_with<A: ElastiCacheApi + Send + Sync + 'static>(
    api: Arc<A>,
    defaults: ContextDefaults,
    limits: Limits,
    body_timeout: Duration,
) -> Router {
    let shared = Arc::new(Shared {
        api,
        defaults,
        limits,
        body_timeout,
    });
    Router::new()
        .route("/", get(handle::<A>).post(handle::<A>))
        .route("/{*path}", post(handle::<A>))
        .with_state(shared)
}

async fn handle<A: ElastiCacheApi + Send + Sync + 'static>(
    State(shared): State<Arc<Shared<A>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let body = if method == Method::POST && is_form(&headers) {
        match read_body(&shared, &headers, body).await {
            Ok(bytes) => bytes,
            Err(err) => return closing(error_response(&err, &request_id)),
        }
    } else {
        // A body of another type is not read as parameters, as AWS ignores it.
        Bytes::new()
    };
    let params = match request_params(uri.query(), &body, &shared.limits) {
        Ok(p) => p,
        Err(err) => return error_response(&err, &request_id),
    };
    let action = params.top_value("Action").unwrap_or_default().to_string();
    let span = tracing::info_span!("api", request_id = %request_id, action = %action);
    async move {
        let ctx = RequestContext::from_request(
            &headers,
            params.top_value("X-Amz-Credential"),
            &shared.defaults,
            request_id.clone(),
            action.clone(),
        );
        let response = match run(&shared, ctx, &params).await {
            Ok(xml) => xml_response(StatusCode::OK, xml, &request_id),
            Err(err) => error_response(&err, &request_id),
        };
        tracing::debug!(status = response.status().as_u16(), "request done");
        response
    }
    .instrument(span)
    .await
}

/// True unless the request says its body is something other than a form (no Content-Type is
/// read as a form, as curl-style clients sometimes omit it).
fn is_form(headers: &HeaderMap) -> bool {
    match headers.get(header::CONTENT_TYPE) {
        None => true,
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|t| t.split(';').next())
            .is_some_and(|t| {
                t.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            }),
    }
}

/// The whole body, within the size limit (refused from Content-Length before reading when
/// possible) and the body timeout.
async fn read_body<A>(
    shared: &Shared<A>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Bytes, ApiError> {
    let max = shared.limits.max_body_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(form::body_too_large(&shared.limits));
    }
    let collect = Limited::new(body, max).collect();
    match tokio::time::timeout(shared.body_timeout, collect).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(err)) if err.is::<LengthLimitError>() => Err(form::body_too_large(&shared.limits)),
        // The client closed or broke the connection mid-body: nobody reads this answer.
        Ok(Err(err)) => Err(ApiError::invalid_query_parameter(format!(
            "The request body could not be read: {err}"
        ))),
        Err(_) => Err(ApiError::request_timeout(format!(
            "The request body did not arrive within {} ms.",
            shared.body_timeout.as_millis()
        ))),
    }
}

/// `response` with `Connection: close`: after a refused or unfinished body the connection's
/// byte stream cannot be trusted to hold the next request.
fn closing(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Query-string parameters followed by body parameters, under one set of limits.
fn request_params(query: Option<&str>, body: &[u8], limits: &Limits) -> Result<Params, ApiError> {
    let mut pairs = form::parse_pairs(query.unwrap_or_default().as_bytes(), limits)?;
    pairs.extend(form::parse_pairs(body, limits)?);
    Params::from_pairs(pairs, limits)
}

async fn run<A: ElastiCacheApi + Send + Sync + 'static>(
    shared: &Shared<A>,
    ctx: RequestContext,
    params: &Params,
) -> Result<String, ApiError> {
    if ctx.action.is_empty() {
        return Err(ApiError::missing_action(
            "The request must contain the parameter Action.",
        ));
    }
    // AWS checks the version before the action and names both in one answer.
    protocol::check_version(&ctx.action, params)?;
    let op = Operation::from_name(&ctx.action)
        .ok_or_else(|| protocol::unknown_operation(&ctx.action, protocol::API_VERSION))?;
    let input = protocol::decode_input(op.def(), params, &shared.limits)?;
    // Run the handler on its own task so that a bug that panics becomes an InternalFailure
    // answer instead of a dropped connection.
    let api = Arc::clone(&shared.api);
    let task_ctx = ctx.clone();
    let output = tokio::spawn(async move { dispatch(&*api, &task_ctx, op, input).await })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "handler task failed");
            ApiError::internal_failure(
                "The request processing has failed because of an unknown error.",
            )
        })??;
    protocol::encode_success(op.def(), &output, &ctx.request_id)
}

fn error_response(err: &ApiError, request_id: &str) -> Response {
    if err.http_status() >= 500 {
        tracing::warn!(
            code = err.wire_code(),
            message = err.message(),
            "request failed"
        );
    } else {
        tracing::debug!(
            code = err.wire_code(),
            message = err.message(),
            "request rejected"
        );
    }
    let status = StatusCode::from_u16(err.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    xml_response(status, protocol::encode_error(err, request_id), request_id)
}

fn xml_response(status: StatusCode, xml: String, request_id: &str) -> Response {
    let mut response = (status, xml).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert(REQUEST_ID_HEADER, v);
    }
    response
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
