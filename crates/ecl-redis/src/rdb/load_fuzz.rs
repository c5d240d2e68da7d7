//! A bounded fuzz harness for the RDB file loader, run by `cargo test` (so by CI on every
//! change): seeded random datasets of every type (streams with groups included) and
//! encoding are written with our writer, then mutated (bit flips, bytes set to the codec's
//! special values, length fields replaced by huge ones, truncation, insertions and
//! deletions) and loaded.
//!
//! Properties: the loader never panics; every case finishes quickly (no hang); a file that
//! loads holds no more data than its bytes can express (LZF expands at most ~90x, so a
//! loaded dataset larger than that is an allocation the input did not pay for); an error
//! names an offset inside the file; and an unmutated file loads back to the same dataset.
//! Half the mutated files get their CRC recomputed, so mutations also reach the success path
//! instead of all stopping at the checksum. `ECL_FUZZ_CASES` (default 2,000) and
//! `ECL_FUZZ_SEED` make a longer or different run:
//! `ECL_FUZZ_CASES=200000 cargo test -p ecl-redis --lib load_fuzz`.

use super::file::{self, ReadOptions, WriteMeta};
use crate::db::hash::Hash;
use crate::db::list::List;
use crate::db::set::{Set, SetLimits};
use crate::db::stream::{Group, Stream, StreamId};
use crate::db::zset::ZSet;
use crate::db::{Db, Entry, Value};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::time::{Duration, Instant};

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const NOW_MS: i64 = 1_700_000_000_000;

fn opts(version: u16) -> ReadOptions {
    ReadOptions {
        max_version: version,
        databases: 16,
        now_ms: NOW_MS,
        lfu: false,
    }
}

/// A member or value: integers (canonical or not), short and long, compressible strings.
fn random_bytes(rng: &mut StdRng) -> Vec<u8> {
    match rng.random_range(0..5) {
        0 => rng
            .random_range(-70_000i64..70_000)
            .to_string()
            .into_bytes(),
        1 => rng.random::<i64>().to_string().into_bytes(),
        2 => b"ab".repeat(rng.random_range(0..80)),
        3 => b"007".to_vec(),
        _ => (0..rng.random_range(0..70)).map(|_| rng.random()).collect(),
    }
}

fn random_value(rng: &mut StdRng) -> Value {
    let n = if rng.random_range(0..8) == 0 {
        300
    } else {
        rng.random_range(1..12)
    };
    match rng.random_range(0..6) {
        0 => Value::Str(random_bytes(rng).into()),
        5 => random_stream(rng, n as usize),
        1 => {
            let mut l = List::new();
            (0..n).for_each(|_| l.push_back(random_bytes(rng)));
            Value::List(Box::new(l))
        }
        2 => {
            let mut s = Set::new();
            let ints = rng.random::<bool>();
            let members: Vec<Vec<u8>> = (0..n)
                .map(|i| {
                    if ints {
                        (i * 7 - 40).to_string().into_bytes()
                    } else {
                        random_bytes(rng)
                    }
                })
                .collect();
            members.iter().for_each(|m| {
                s.insert(m);
            });
            let refs: Vec<&[u8]> = members.iter().map(Vec::as_slice).collect();
            let lim = SetLimits {
                intset_entries: 512,
                listpack_entries: 128,
                listpack_value: 64,
            };
            s.check_encoding(lim, &refs);
            Value::Set(Box::new(s))
        }
        3 => {
            let mut h = Hash::new();
            (0..n).for_each(|_| {
                h.insert(&random_bytes(rng), random_bytes(rng));
            });
            h.check_encoding(128, 64, 0);
            Value::Hash(Box::new(h))
        }
        _ => {
            let mut z = ZSet::new();
            (0..n).for_each(|_| {
                z.insert(&random_bytes(rng), rng.random_range(-1e6..1e6));
            });
            Value::ZSet(Box::new(z))
        }
    }
}

/// A stream of `n` entries in small nodes, some deleted, with a group that read some of them.
fn random_stream(rng: &mut StdRng, n: usize) -> Value {
    let mut s = Stream::new();
    for i in 1..=n as u64 {
        let id = StreamId { ms: i * 3, seq: i };
        s.append(id, vec![b"f".to_vec(), random_bytes(rng)], 4);
    }
    for i in 1..=n as u64 {
        if rng.random_range(0..4) == 0 {
            s.delete(StreamId { ms: i * 3, seq: i });
        }
    }
    s.groups.insert(b"g".to_vec().into(), Group::default());
    s.read_group(b"g", b"c1", None, rng.random_range(0..6), false, NOW_MS);
    s.read_group(b"g", b"c2", None, 2, false, NOW_MS);
    Value::Stream(Box::new(s))
}

/// A valid file of 1–12 keys over up to three databases, some with TTLs.
fn random_file(rng: &mut StdRng) -> (Vec<u8>, u16) {
    let mut dbs: Vec<Db> = (0..16).map(|_| Db::new()).collect();
    for i in 0..rng.random_range(1..=12) {
        let expire_at = if rng.random_range(0..4) == 0 {
            NOW_MS + 60_000
        } else {
            0
        };
        let e = Entry {
            value: random_value(rng),
            expire_at,
            lru: 0,
        };
        dbs[rng.random_range(0..3)].insert_entry(format!("key:{i}").as_bytes(), e);
    }
    let version = if rng.random::<bool>() { 10 } else { 11 };
    let meta = WriteMeta {
        rdb_version: version,
        engine_version: "7.0.15".into(),
        ctime_s: NOW_MS / 1000,
        used_mem: 1 << 20,
    };
    (file::write(&dbs, &meta, NOW_MS), version)
}

/// Values that steer the decoders into their special paths when they land on a type,
/// length or encoding byte.
const SPECIAL: [u8; 14] = [
    0x00, 0x3F, 0x40, 0x7F, 0x80, 0x81, 0xC0, 0xC3, 0xF0, 0xF4, 0xFB, 0xFC, 0xFE, 0xFF,
];

fn mutate(rng: &mut StdRng, mut f: Vec<u8>) -> Vec<u8> {
    for _ in 0..rng.random_range(1..=4) {
        if f.len() < 2 {
            break;
        }
        let at = rng.random_range(0..f.len());
        match rng.random_range(0..6) {
            0 => f[at] ^= 1 << rng.random_range(0..8),
            1 => f[at] = SPECIAL[rng.random_range(0..SPECIAL.len())],
            2 => {
                // A length field made huge: 32- or 64-bit length markers with big values.
                let huge: &[u8] = if rng.random::<bool>() {
                    &[0x80, 0x7F, 0xFF, 0xFF, 0xF0]
                } else {
                    &[0x81, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00]
                };
                let end = (at + huge.len()).min(f.len());
                f[at..end].copy_from_slice(&huge[..end - at]);
            }
            3 => f.truncate(at.max(1)),
            4 => f.insert(at, rng.random()),
            _ => {
                f.remove(at);
            }
        }
    }
    f
}

/// Recomputes the trailing CRC so a mutation is judged by the parser, not the checksum.
fn fix_crc(f: &mut [u8]) {
    if f.len() > 9 {
        let end = f.len() - 8;
        let crc = super::CRC.checksum(&f[..end]);
        f[end..].copy_from_slice(&crc.to_le_bytes());
    }
}

#[test]
fn valid_files_round_trip() {
    let seed = knob("ECL_FUZZ_SEED", 0x5eed);
    let mut rng = StdRng::seed_from_u64(seed);
    for _ in 0..knob("ECL_FUZZ_CASES", 2_000) / 10 {
        let (f, version) = random_file(&mut rng);
        let (data, stats) = file::read(&f, &opts(version)).expect("our own file loads");
        let mut dbs: Vec<Db> = (0..16).map(|_| Db::new()).collect();
        for (i, entries) in data.into_iter().enumerate() {
            for (k, e) in entries {
                dbs[i].insert_entry(&k, e);
            }
        }
        let meta = WriteMeta {
            rdb_version: version,
            engine_version: "7.0.15".into(),
            ctime_s: NOW_MS / 1000,
            used_mem: 1 << 20,
        };
        let again = file::write(&dbs, &meta, NOW_MS);
        let (_, stats2) = file::read(&again, &opts(version)).expect("rewritten file loads");
        assert_eq!(stats.keys_loaded, stats2.keys_loaded);
        assert_eq!(
            stats.keys_loaded,
            dbs.iter().map(|d| d.len() as u64).sum::<u64>()
        );
    }
}

#[test]
fn mutated_files_never_panic_hang_or_overallocate() {
    let seed = knob("ECL_FUZZ_SEED", 0x5eed) ^ 0xbad;
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut loaded, mut refused) = (0u64, 0u64);
    for _ in 0..knob("ECL_FUZZ_CASES", 2_000) {
        let (f, version) = random_file(&mut rng);
        let mut m = mutate(&mut rng, f);
        if rng.random::<bool>() {
            fix_crc(&mut m);
        }
        let started = Instant::now();
        let result = file::read(&m, &opts(version));
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "slow case: {} bytes",
            m.len()
        );
        match result {
            Ok((data, _)) => {
                let bytes: usize = data
                    .iter()
                    .flatten()
                    .map(|(k, e)| k.len() + e.value.mem_size())
                    .sum();
                assert!(
                    bytes <= m.len() * 200 + (1 << 16),
                    "{bytes} bytes of data from {}",
                    m.len()
                );
                loaded += 1;
            }
            Err(e) => {
                assert!(
                    e.offset <= m.len(),
                    "error offset {} past {} bytes",
                    e.offset,
                    m.len()
                );
                refused += 1;
            }
        }
    }
    // Both outcomes must be exercised, or the harness tests less than it claims.
    assert!(
        loaded > 0 && refused > 0,
        "loaded {loaded}, refused {refused}"
    );
}

/// RESTORE's payload decoder (`rdb::restore`) on DUMP payloads of random values, as they are
/// and mutated (half with their CRC recomputed): a valid payload restores, a mutated one
/// restores or is refused, never a panic, and what restores is no larger than its bytes can
/// express.
#[test]
fn restore_payloads_round_trip_and_mutated_never_panic() {
    let seed = knob("ECL_FUZZ_SEED", 0x5eed) ^ 0xd0e;
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut restored, mut refused) = (0u64, 0u64);
    for _ in 0..knob("ECL_FUZZ_CASES", 2_000) {
        let compat = if rng.random::<bool>() { 70_000 } else { 70_200 };
        let payload = super::dump(&random_value(&mut rng), compat);
        assert!(
            super::restore(&payload, compat).is_ok(),
            "our own DUMP payload restores"
        );
        let mut m = mutate(&mut rng, payload);
        if rng.random::<bool>() {
            fix_crc(&mut m);
        }
        match super::restore(&m, compat) {
            Ok(v) => {
                assert!(
                    v.mem_size() <= m.len() * 200 + (1 << 16),
                    "{} bytes of data from {}",
                    v.mem_size(),
                    m.len()
                );
                restored += 1;
            }
            Err(_) => refused += 1,
        }
    }
    assert!(
        restored > 0 && refused > 0,
        "restored {restored}, refused {refused}"
    );
}
