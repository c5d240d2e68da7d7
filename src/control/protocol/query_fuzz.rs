//! A bounded fuzz harness for the Query API request decoder (form body → key tree → the
//! operation's input shape), run by `cargo test` and so by CI: seeded bodies built from the
//! model's own member names, then mutated (huge and zero list indexes, deep keys, bad percent
//! escapes, invalid UTF-8, non-numeric numbers, truncation).
//!
//! Properties: decoding never panics, and every refusal is a client error (HTTP 4xx) as AWS
//! answers malformed requests, never a server error. `ECL_FUZZ_CASES` (default 3,000) and
//! `ECL_FUZZ_SEED` make a longer or different run.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::*;
use crate::control::api::Operation;
use crate::control::api::model::ShapeKind;
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
    let mut body = format!("Action={}&Version=2015-02-02", op.name());
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

#[test]
fn decoding_random_requests_never_panics_and_refuses_with_client_errors() {
    let seed = knob("ECL_FUZZ_SEED", 0x5eed);
    let mut rng = StdRng::seed_from_u64(seed);
    let limits = Limits::default();
    for case in 0..knob("ECL_FUZZ_CASES", 3_000) {
        let op = Operation::ALL[rng.random_range(0..Operation::ALL.len())];
        let bytes = body(&mut rng, op);
        let decoded =
            form::parse(&bytes, &limits).and_then(|p| decode_input(op.def(), &p, &limits));
        if let Err(e) = decoded {
            let status = e.http_status();
            assert!(
                (400..500).contains(&status),
                "seed {seed} case {case}: {} answered {status}: {:?}",
                op.name(),
                String::from_utf8_lossy(&bytes)
            );
        }
    }
}
