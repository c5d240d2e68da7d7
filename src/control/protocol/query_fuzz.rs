//! A bounded fuzz harness for the Query API request decoder (form body → key tree → the
//! operation's input shape), run by `cargo test` and so by CI: seeded bodies built from the
//! model's own member names, then mutated (huge and zero list indexes, deep keys, bad percent
//! escapes, invalid UTF-8, non-numeric numbers, truncation).
//!
//! Properties: decoding never panics, and every refusal is a client error (HTTP 4xx) as AWS
//! answers malformed requests, never a server error. The request limits are exercised too: each
//! case runs under the default [`Limits`] and under tight ones (a body, parameter count, key
//! length, depth and list index a mutated body easily exceeds), a body over the size limit is
//! always `RequestEntityTooLarge` (413), and a mutated `Version` (dropped, emptied, another
//! date) is always `InvalidAction`. `ECL_FUZZ_CASES` (default 3,000) and `ECL_FUZZ_SEED` make a
//! longer or different run.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::*;
use crate::control::api::Operation;
use crate::control::api::model::ShapeKind;
use crate::control::error::ErrorCode;
use crate::control::protocol::form;

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Keys a real client sends for the operation's members, with random list positions.
fn plausible_key(rng: &mut StdRng, members: &[&str]) -> String {
    let base = members[rng.random_range(0..members.len())];
    match rng.random_range(0..5) {
        0 => base.to_string(),
        1 => format!("{base}.member.{}", rng.random_range(0..4)),
        2 => format!("{base}.Tag.{}.Key", rng.random_range(0..3)),
        3 => format!("{base}.{}.Value", rng.random_range(0..3)),
        _ => format!("{base}.member.{}.{}", rng.random::<u32>(), base),
    }
}

fn random_value(rng: &mut StdRng) -> String {
    const VALUES: &[&str] = &[
        "",
        "redis",
        "true",
        "FALSE",
        "-1",
        "0",
        "6379",
        "99999999999999999999",
        "1e400",
        "NaN",
        "%zz",
        "%00",
        "a+b",
        "2015-02-02",
        "\u{fffd}",
        "cache.t3.micro",
        "sun:05:00-sun:06:00",
    ];
    VALUES[rng.random_range(0..VALUES.len())].to_string()
}

fn body(rng: &mut StdRng, op: Operation) -> Vec<u8> {
    let def = op.def();
    let members: Vec<&str> = match &def.input.get().kind {
        ShapeKind::Structure { members, .. } => members.iter().map(|m| m.name).collect(),
        _ => Vec::new(),
    };
    const VERSIONS: &[&str] = &[
        "&Version=2015-02-02",
        "",
        "&Version=",
        "&Version=2014-09-30",
    ];
    let version = if rng.random_range(0..4) == 0 {
        VERSIONS[rng.random_range(0..VERSIONS.len())]
    } else {
        VERSIONS[0]
    };
    let mut body = format!("Action={}{version}", op.name());
    if !members.is_empty() {
        for _ in 0..rng.random_range(0..12) {
            let key = plausible_key(rng, &members);
            body.push_str(&format!("&{key}={}", random_value(rng)));
        }
    }
    let mut bytes = body.into_bytes();
    for _ in 0..rng.random_range(0..3) {
        if bytes.is_empty() {
            break;
        }
        let at = rng.random_range(0..bytes.len());
        match rng.random_range(0..5) {
            0 => bytes[at] = rng.random(),
            1 => bytes.truncate(at),
            2 => bytes.splice(at..at, b"%".iter().copied()).for_each(drop),
            3 => bytes
                .splice(at..at, b".1.1.1.1.1.1.1.1.1".iter().copied())
                .for_each(drop),
            _ => bytes
                .splice(at..at, b"&=&&==".iter().copied())
                .for_each(drop),
        }
    }
    bytes
}

/// Limits a fuzzed body often exceeds, so every refusal path of `form` is taken.
const TIGHT: Limits = Limits {
    max_body_bytes: 160,
    max_params: 8,
    max_key_bytes: 48,
    max_key_segments: 4,
    max_list_index: 3,
};

/// What the HTTP entry does before dispatch: parse under `limits`, check `Version`, decode.
fn refuse(op: Operation, bytes: &[u8], limits: &Limits) -> Result<(), ApiError> {
    let params = form::parse(bytes, limits)?;
    check_version(op.name(), &params)?;
    decode_input(op.def(), &params, limits).map(drop)
}

#[test]
fn decoding_random_requests_never_panics_and_refuses_with_client_errors() {
    let seed = knob("ECL_FUZZ_SEED", 0x5eed);
    let mut rng = StdRng::seed_from_u64(seed);
    for case in 0..knob("ECL_FUZZ_CASES", 3_000) {
        let op = Operation::ALL[rng.random_range(0..Operation::ALL.len())];
        let bytes = body(&mut rng, op);
        let shown = String::from_utf8_lossy(&bytes);
        for limits in [Limits::default(), TIGHT] {
            let Err(e) = refuse(op, &bytes, &limits) else {
                continue;
            };
            let status = e.http_status();
            assert!(
                (400..500).contains(&status),
                "seed {seed} case {case}: {} answered {status}: {shown:?}",
                op.name()
            );
            if bytes.len() > limits.max_body_bytes {
                assert_eq!(
                    (e.code(), status),
                    (ErrorCode::RequestEntityTooLarge, 413),
                    "seed {seed} case {case}: {shown:?}"
                );
            }
        }
        let wrong_version = form::parse(&bytes, &Limits::default())
            .is_ok_and(|p| p.top_value("Version") != Some(crate::control::protocol::API_VERSION));
        if wrong_version {
            let e = refuse(op, &bytes, &Limits::default()).unwrap_err();
            assert_eq!(
                e.code(),
                ErrorCode::InvalidAction,
                "seed {seed} case {case}"
            );
        }
    }
}
