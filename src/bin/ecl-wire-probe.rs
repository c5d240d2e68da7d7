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
#![forbid(unsafe_code)]

use std::io::{BufRead, Write};

use elasticache_local::control::api::{Operation, typed_input_round_trip, typed_output_round_trip};
use elasticache_local::control::error::{ApiError, ErrorCode};
use elasticache_local::control::protocol::{self, Limits, form};
use serde_json::{Value, json};

const REQUEST_ID: &str = "ecl-wire-probe-request";

fn main() -> std::io::Result<()> {
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
