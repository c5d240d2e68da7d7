//! `ecl-wire-probe`: exposes the wire codecs on stdin/stdout for cross-checking with botocore.
//!
//! Test tool, not part of the server. Reads one JSON request per line and writes one JSON
//! answer per line (`tests/clients/wire/test_wire_roundtrip.py` drives it):
//! - `{"op": "CreateCacheCluster", "decode": "<form body>"}` → `{"ok": <input JSON>}`: the body is
//!   decoded by the query decoder, then passed through the generated typed input struct;
//! - `{"op": "...", "encode": <output JSON>}` → `{"xml": "..."}`: the output is passed through the
//!   typed output struct, then encoded by the XML encoder;
//! - `{"error": "<exception shape name or wire code>", "message": "..."}` →
//!   `{"xml": "...", "status": 404, "code": "..."}`.
//!
//! Failures are answered as `{"error": {"code", "message", "status"}}`.
//!
//! With `--serve [--outputs FILE]` it instead serves the real HTTP router on an ephemeral
//! loopback port (printing `listening <addr>`) until stdin closes, backed by a [`JsonApi`]: an
//! operation named in FILE (a JSON object `{"<Op>": <output JSON> | {"$error": "<shape>"}}`)
//! answers that output or error; any other operation answers `InvalidParameterValue` whose
//! message is `{"input": <decoded input>, "account": .., "region": ..}`, so a test can see
//! exactly what the server decoded from a real SDK request.
#![forbid(unsafe_code)]

use std::io::{BufRead, Write};

use std::sync::Arc;

use elasticache_local::control::api::{
    JsonApi, Operation, typed_input_round_trip, typed_output_round_trip,
};
use elasticache_local::control::context::{ContextDefaults, RequestContext};
use elasticache_local::control::error::{ApiError, ErrorCode};
use elasticache_local::control::protocol::{self, Limits, form};
use serde_json::{Value, json};

const REQUEST_ID: &str = "ecl-wire-probe-request";

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--serve") {
        let outputs = match args.get(1).map(String::as_str) {
            Some("--outputs") => {
                let path = args
                    .get(2)
                    .ok_or_else(|| std::io::Error::other("--outputs FILE"))?;
                serde_json::from_str(&std::fs::read_to_string(path)?)?
            }
            _ => Value::Object(Default::default()),
        };
        return serve(outputs);
    }
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let answer = match serde_json::from_str::<Value>(&line) {
            Ok(request) => answer(&request).unwrap_or_else(|e| error_json(&e)),
            Err(e) => error_json(&ApiError::invalid_parameter_value(format!(
                "bad probe request: {e}"
            ))),
        };
        writeln!(stdout, "{answer}")?;
        stdout.flush()?;
    }
    Ok(())
}

fn answer(request: &Value) -> Result<Value, ApiError> {
    if let Some(code) = request.get("error").and_then(Value::as_str) {
        let code = ErrorCode::ALL
            .into_iter()
            .find(|c| c.shape_name() == Some(code) || c.wire_code() == code)
            .ok_or_else(|| ApiError::invalid_parameter_value(format!("unknown error {code}")))?;
        let message = request
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("probe error");
        let err = ApiError::new(code, message);
        return Ok(json!({
            "xml": protocol::encode_error(&err, REQUEST_ID),
            "status": err.http_status(),
            "code": err.wire_code(),
        }));
    }
    let name = request
        .get("op")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let op = Operation::from_name(name)
        .ok_or_else(|| ApiError::invalid_action(format!("unknown operation {name}")))?;
    if let Some(body) = request.get("decode").and_then(Value::as_str) {
        let limits = Limits::default();
        let params = form::parse(body.as_bytes(), &limits)?;
        let decoded = protocol::decode_input(op.def(), &params, &limits)?;
        return Ok(json!({ "ok": typed_input_round_trip(op, decoded)? }));
    }
    if let Some(output) = request.get("encode") {
        let typed = typed_output_round_trip(op, output.clone())?;
        return Ok(json!({ "xml": protocol::encode_success(op.def(), &typed, REQUEST_ID)? }));
    }
    Err(ApiError::invalid_parameter_value(
        "request needs decode, encode or error",
    ))
}

fn error_json(err: &ApiError) -> Value {
    json!({"error": {"code": err.wire_code(), "message": err.message(), "status": err.http_status()}})
}

/// Serves the router with a [`JsonApi`] answering from `outputs` until stdin reaches EOF.
fn serve(outputs: Value) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let api = JsonApi(move |op: Operation, ctx: &RequestContext, input: Value| {
            canned_answer(&outputs, op, ctx, input)
        });
        let app =
            elasticache_local::control::http::router(Arc::new(api), ContextDefaults::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "listening {}", listener.local_addr()?)?;
            out.flush()?;
        }
        let stdin_closed = async {
            // Blocking read on a helper thread: the server stops when the driving test
            // closes our stdin (or exits), so no probe outlives its test.
            let _ = tokio::task::spawn_blocking(|| {
                let mut sink = Vec::new();
                let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
            })
            .await;
        };
        axum::serve(listener, app)
            .with_graceful_shutdown(stdin_closed)
            .await
    })
}

fn canned_answer(
    outputs: &Value,
    op: Operation,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, ApiError> {
    match outputs.get(op.name()) {
        Some(answer) => match answer.get("$error").and_then(Value::as_str) {
            Some(shape) => {
                let code = ErrorCode::ALL
                    .into_iter()
                    .find(|c| c.shape_name() == Some(shape) || c.wire_code() == shape)
                    .unwrap_or(ErrorCode::InternalFailure);
                Err(ApiError::new(code, format!("canned {shape}")))
            }
            None => Ok(answer.clone()),
        },
        None => Err(ApiError::invalid_parameter_value(
            json!({"input": input, "account": ctx.account, "region": ctx.region}).to_string(),
        )),
    }
}
