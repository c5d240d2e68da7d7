//! A bounded fuzz harness for the RESP request decoder, run by `cargo test` (so by CI on every
//! change): seeded random pipelines, mutated and truncated, fed whole and in pieces.
//!
//! Properties: the decoder never panics; a complete command never claims more bytes than it was
//! given and its argument offsets stay inside them; a well-formed pipeline decodes to exactly the
//! arguments it was built from whether it arrives at once or split at any byte; and feeding it
//! a byte at a time gives the same result. `ECL_FUZZ_CASES` (default 3,000) and `ECL_FUZZ_SEED`
//! make a longer or different run: `ECL_FUZZ_CASES=1000000 cargo test -p ecl-redis decode_fuzz`.

use super::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One random command: 1–6 arguments of 0–40 bytes, any byte values.
fn random_command(rng: &mut StdRng) -> Vec<Vec<u8>> {
    let argc = rng.random_range(1..=6);
    (0..argc)
        .map(|_| {
            let len = rng.random_range(0..=40);
            (0..len).map(|_| rng.random::<u8>()).collect()
        })
        .collect()
}

fn encode(cmd: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", cmd.len()).into_bytes();
    for a in cmd {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Decodes `input`, feeding it in chunks of the given sizes (the rest at the end), checking
/// the bounds properties on every answer. `Err` carries the protocol error.
fn decode_chunked(input: &[u8], chunks: &[usize]) -> Result<Vec<Vec<Vec<u8>>>, &'static str> {
    let mut d = Decoder::new(Limits::default());
    let mut out = Vec::new();
    let (mut start, mut available) = (0usize, 0usize);
    let mut sizes = chunks.iter().copied();
    loop {
        let step = sizes.next().unwrap_or(input.len());
        available = (available + step.max(1)).min(input.len());
        while let Some(n) = d.next(&input[start..available])? {
            assert!(
                n > 0 && start + n <= available,
                "claimed {n} bytes of {}",
                available - start
            );
            let cmd = &input[start..start + n];
            let bytes = d.arg_bytes(cmd);
            let args = d.args().iter().map(|&(s, e)| {
                assert!(s <= e && e <= bytes.len(), "argument offsets out of bounds");
                bytes[s..e].to_vec()
            });
            out.push(args.collect());
            start += n;
        }
        if available == input.len() {
            return Ok(out);
        }
    }
}

/// Mutations that reach the decoder's corners: flipped bytes, lengths made huge, negative or
/// non-numeric, terminators removed, and truncation.
fn mutate(rng: &mut StdRng, mut input: Vec<u8>) -> Vec<u8> {
    for _ in 0..rng.random_range(1..=3) {
        if input.is_empty() {
            break;
        }
        let at = rng.random_range(0..input.len());
        match rng.random_range(0..6) {
            0 => input[at] = rng.random(),
            1 => input
                .splice(at..at, b"99999999999999999999".iter().copied())
                .for_each(drop),
            2 => input.splice(at..at, b"-1".iter().copied()).for_each(drop),
            3 => input[at] = b'\n',
            4 => input.truncate(at),
            _ => input
                .splice(at..at, b"*3\r\n$".iter().copied())
                .for_each(drop),
        }
    }
    input
}

#[test]
fn well_formed_pipelines_decode_identically_whole_and_split() {
    let seed = knob("ECL_FUZZ_SEED", 0x5eed);
    let mut rng = StdRng::seed_from_u64(seed);
    for case in 0..knob("ECL_FUZZ_CASES", 3_000) {
        let cmds: Vec<_> = (0..rng.random_range(1..=4))
            .map(|_| random_command(&mut rng))
            .collect();
        let input: Vec<u8> = cmds.iter().flat_map(|c| encode(c)).collect();
        let whole = decode_chunked(&input, &[input.len()]);
        assert_eq!(
            whole.as_ref(),
            Ok(&cmds),
            "seed {seed} case {case}: whole input"
        );
        let split = rng.random_range(0..=input.len());
        let halves = decode_chunked(&input, &[split]);
        assert_eq!(
            halves.as_ref(),
            Ok(&cmds),
            "seed {seed} case {case}: split at {split}"
        );
        if case % 50 == 0 {
            let bytewise = decode_chunked(&input, &vec![1; input.len()]);
            assert_eq!(
                bytewise.as_ref(),
                Ok(&cmds),
                "seed {seed} case {case}: byte at a time"
            );
        }
    }
}

#[test]
fn mutated_and_random_input_never_panics_or_overreads() {
    let seed = knob("ECL_FUZZ_SEED", 0x5eed) ^ 0xbad;
    let mut rng = StdRng::seed_from_u64(seed);
    for _ in 0..knob("ECL_FUZZ_CASES", 3_000) {
        let input = if rng.random_bool(0.8) {
            let cmds: Vec<_> = (0..rng.random_range(1..=3))
                .map(|_| random_command(&mut rng))
                .collect();
            mutate(&mut rng, cmds.iter().flat_map(|c| encode(c)).collect())
        } else {
            let alphabet = b"*$\r\n0123456789- abc\"'\\";
            let len = rng.random_range(0..200);
            (0..len)
                .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                .collect()
        };
        let split = rng.random_range(0..=input.len());
        // Errors are expected; panics and out-of-bounds offsets are what this looks for.
        let _ = decode_chunked(&input, &[split]);
    }
}
