//! `keyspace_hits` and `keyspace_misses` move as on redis-server 7.0.15, command by command:
//! reads count each key they look up (EXISTS, TYPE, OBJECT and COPY's source too; XREAD
//! twice, as redis-server looks a stream up again to serve it), writes count none (SMOVE,
//! HSETNX, HINCRBY, SPOP, BITFIELD with SET or INCRBY, INCRBYFLOAT, XGROUP), and a command
//! that looks a key up twice internally counts it once (PFCOUNT, Z*STORE). The replies are
//! compared too (OBJECT FREQ of a missing key is null whatever the policy).

mod common;

use common::{Raw, ReferenceRedis, node};
use ecl_redis::Flavor;

const SETUP: &[&[&str]] = &[
    &["SET", "k", "v"],
    &["SET", "k2", "v"],
    &["HSET", "h", "f", "v"],
    &["RPUSH", "l", "a", "b"],
    &["SADD", "s", "a"],
    &["ZADD", "z", "1", "a"],
    &["PFADD", "hll", "a"],
    &["XADD", "x", "1-1", "a", "1"],
    &["GEOADD", "g", "13.36", "38.11", "m"],
];

const COMMANDS: &[&[&str]] = &[
    &["GET", "k"],
    &["GET", "nx"],
    &["EXISTS", "k", "nx"],
    &["TYPE", "k"],
    &["TYPE", "nx"],
    &["TTL", "k"],
    &["MGET", "k", "nx"],
    &["HGET", "h", "f"],
    &["HGET", "nh", "f"],
    &["OBJECT", "ENCODING", "k"],
    &["OBJECT", "FREQ", "k"],
    &["OBJECT", "FREQ", "nx"],
    &["OBJECT", "IDLETIME", "nx"],
    &["OBJECT", "REFCOUNT", "k"],
    &["COPY", "k", "k3"],
    &["PFCOUNT", "hll"],
    &["PFCOUNT", "hll"],
    &["PFCOUNT", "hll", "nx"],
    &["ZUNIONSTORE", "d2", "1", "z"],
    &["ZINTERSTORE", "d6", "2", "z", "nx"],
    &["ZDIFF", "1", "z"],
    &["ZINTERCARD", "1", "z"],
    &["SMOVE", "s", "s2", "a"],
    &["HSETNX", "h", "f", "v"],
    &["HINCRBY", "h", "n", "1"],
    &["HINCRBYFLOAT", "h", "fl", "1.5"],
    &["SPOP", "s2"],
    &["XREAD", "STREAMS", "x", "0"],
    &["XREAD", "STREAMS", "nx", "0"],
    &["XGROUP", "CREATE", "x", "g1", "0"],
    &["XGROUP", "CREATECONSUMER", "x", "g1", "c9"],
    &["XREADGROUP", "GROUP", "g1", "c1", "STREAMS", "x", ">"],
    &["XACK", "x", "g1", "1-1"],
    &["BITFIELD", "k", "INCRBY", "u8", "0", "1"],
    &["BITFIELD", "k", "GET", "u8", "0"],
    &["INCRBYFLOAT", "f", "1.5"],
    &["INCRBYFLOAT", "f", "1.5"],
    &["GETDEL", "k2"],
    &["SINTER", "s", "nx"],
    &["GEODIST", "g", "m", "n"],
    &["DEL", "k3", "nx"],
    &["SORT", "l", "BY", "w_*", "GET", "#", "GET", "k"],
];

/// For each command, the change of (hits, misses) it caused.
async fn deltas(mut c: Raw) -> Vec<String> {
    async fn counts(c: &mut Raw) -> (i64, i64) {
        let info = c.cmd(&["INFO", "stats"]).await;
        let field = |name: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(-1)
        };
        (field("keyspace_hits:"), field("keyspace_misses:"))
    }
    for cmd in SETUP {
        c.cmd(cmd).await;
    }
    let mut out = Vec::new();
    for cmd in COMMANDS {
        let before = counts(&mut c).await;
        let reply = c.cmd(cmd).await;
        let after = counts(&mut c).await;
        out.push(format!(
            "{}: {} hits, {} misses, {reply:?}",
            cmd.join(" "),
            after.0 - before.0,
            after.1 - before.1
        ));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyspace_hits_and_misses_per_command_match_redis_server() {
    let Some(reference) = ReferenceRedis::start(&[]) else {
        eprintln!("skipped: redis-server is not installed");
        return;
    };
    let theirs = deltas(reference.connect().await).await;
    let ours_node = node(Flavor::Redis, "7.0.15");
    let ours = deltas(Raw::connect(&ours_node).await).await;
    assert!(
        theirs
            .iter()
            .any(|l| l.starts_with("EXISTS k nx: 1 hits, 1 misses")),
        "{theirs:?}"
    );
    for (o, t) in ours.iter().zip(&theirs) {
        assert_eq!(o, t);
    }
}
