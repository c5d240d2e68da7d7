//! Options that later releases added to existing commands exist exactly on those releases:
//! Valkey 8.1's `SET … IFEQ`, HSCAN `NOVALUES` (Redis 7.4, Valkey 8.0), ZSCAN `NOSCORES`
//! (Valkey 8.0) and CLIENT KILL `MAXAGE` (Redis 7.4, Valkey 8.0). Older releases answer the
//! syntax error they answer (checked against Debian's redis-server 7.0.15 where it is
//! installed), so a test written against one ElastiCache engine version fails here as it
//! would there.

mod common;

use common::{Raw, ReferenceRedis, start_with};
use ecl_redis::Flavor;

const SYNTAX: &str = "-ERR syntax error\r\n";

async fn node(flavor: Flavor, version: &str) -> (ecl_redis::RedisNode, Raw) {
    let node = start_with(|c| {
        c.flavor = flavor;
        c.engine_version = version.into();
    });
    let raw = Raw::connect(&node).await;
    (node, raw)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_ifeq_on_valkey_8_1_only() {
    let (vk81, mut c) = node(Flavor::Valkey, "8.1.1").await;
    assert_eq!(c.cmd(&["SET", "k", "v1"]).await, "+OK\r\n");
    // Equal: stored; different or missing key: not stored, nil.
    assert_eq!(c.cmd(&["SET", "k", "v2", "IFEQ", "v1"]).await, "+OK\r\n");
    assert_eq!(c.cmd(&["SET", "k", "v3", "IFEQ", "v1"]).await, "$-1\r\n");
    assert_eq!(c.cmd(&["GET", "k"]).await, "$2\r\nv2\r\n");
    assert_eq!(
        c.cmd(&["SET", "missing", "x", "IFEQ", "x"]).await,
        "$-1\r\n"
    );
    assert_eq!(c.cmd(&["EXISTS", "missing"]).await, ":0\r\n");
    // With GET the old value comes back whether or not the write happened; EX applies.
    assert_eq!(
        c.cmd(&["SET", "k", "v4", "IFEQ", "v2", "GET", "EX", "100"])
            .await,
        "$2\r\nv2\r\n"
    );
    assert_eq!(c.cmd(&["TTL", "k"]).await, ":100\r\n");
    assert_eq!(
        c.cmd(&["SET", "k", "v5", "IFEQ", "nope", "GET"]).await,
        "$2\r\nv4\r\n"
    );
    // Not a string: WRONGTYPE, nothing written. IFEQ with NX or XX: syntax error.
    c.cmd(&["RPUSH", "list", "a"]).await;
    assert!(
        c.cmd(&["SET", "list", "x", "IFEQ", "a"])
            .await
            .starts_with("-WRONGTYPE")
    );
    assert_eq!(c.cmd(&["SET", "k", "x", "IFEQ", "v4", "NX"]).await, SYNTAX);
    assert_eq!(c.cmd(&["SET", "k", "x", "XX", "IFEQ", "v4"]).await, SYNTAX);
    assert_eq!(c.cmd(&["SET", "k", "x", "IFEQ"]).await, SYNTAX);
    vk81.shutdown().await;

    for (flavor, version) in [
        (Flavor::Valkey, "8.0.1"),
        (Flavor::Valkey, "7.2.6"),
        (Flavor::Redis, "7.1.0"),
    ] {
        let (n, mut c) = node(flavor, version).await;
        c.cmd(&["SET", "k", "v1"]).await;
        assert_eq!(
            c.cmd(&["SET", "k", "v2", "IFEQ", "v1"]).await,
            SYNTAX,
            "{version}"
        );
        assert_eq!(c.cmd(&["GET", "k"]).await, "$2\r\nv1\r\n");
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_names_only_flags_follow_the_release() {
    let (vk80, mut c) = node(Flavor::Valkey, "8.0.1").await;
    c.cmd(&["HSET", "h", "f1", "v1", "f2", "v2"]).await;
    c.cmd(&["ZADD", "z", "1", "m1", "2", "m2"]).await;
    let h = c.cmd(&["HSCAN", "h", "0", "NOVALUES"]).await;
    assert!(
        h.contains("f1") && h.contains("f2") && !h.contains("v1"),
        "{h}"
    );
    let z = c.cmd(&["ZSCAN", "z", "0", "NOSCORES"]).await;
    assert!(z.contains("m1") && z.contains("m2"), "{z}");
    assert!(z.ends_with("*2\r\n$2\r\nm1\r\n$2\r\nm2\r\n"), "{z}");
    // Each flag belongs to its own command.
    assert_eq!(c.cmd(&["ZSCAN", "z", "0", "NOVALUES"]).await, SYNTAX);
    assert_eq!(c.cmd(&["HSCAN", "h", "0", "NOSCORES"]).await, SYNTAX);
    c.cmd(&["SADD", "s", "a"]).await;
    assert_eq!(c.cmd(&["SSCAN", "s", "0", "NOVALUES"]).await, SYNTAX);
    vk80.shutdown().await;

    for (flavor, version) in [(Flavor::Redis, "7.0.15"), (Flavor::Valkey, "7.2.6")] {
        let (n, mut c) = node(flavor, version).await;
        c.cmd(&["HSET", "h", "f1", "v1"]).await;
        c.cmd(&["ZADD", "z", "1", "m1"]).await;
        assert_eq!(c.cmd(&["HSCAN", "h", "0", "NOVALUES"]).await, SYNTAX);
        assert_eq!(c.cmd(&["ZSCAN", "z", "0", "NOSCORES"]).await, SYNTAX);
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_kill_maxage_from_valkey_8_0() {
    let (vk80, mut c) = node(Flavor::Valkey, "8.0.1").await;
    let mut old = Raw::connect(&vk80).await;
    assert_eq!(old.cmd(&["PING"]).await, "+PONG\r\n");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    // The other connection is at least a second old; this one is skipped (SKIPME yes).
    assert_eq!(c.cmd(&["CLIENT", "KILL", "MAXAGE", "1"]).await, ":1\r\n");
    assert!(old.closed().await);
    vk80.shutdown().await;

    let (r70, mut c) = node(Flavor::Redis, "7.0.15").await;
    assert_eq!(c.cmd(&["CLIENT", "KILL", "MAXAGE", "1"]).await, SYNTAX);
    r70.shutdown().await;
}

/// The older answers above are redis-server 7.0.15's own, where it is installed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_7_0_answers_match_redis_server() {
    let Some(reference) = ReferenceRedis::start(&[]) else {
        eprintln!("redis-server not installed: comparison skipped");
        return;
    };
    let mut theirs = reference.connect().await;
    let (ours_node, mut ours) = node(Flavor::Redis, "7.0.15").await;
    let setup: [&[&str]; 3] = [
        &["SET", "k", "v1"],
        &["HSET", "h", "f1", "v1"],
        &["ZADD", "z", "1", "m1"],
    ];
    let probes: [&[&str]; 5] = [
        &["SET", "k", "v2", "IFEQ", "v1"],
        &["HSCAN", "h", "0", "NOVALUES"],
        &["ZSCAN", "z", "0", "NOSCORES"],
        &["SSCAN", "h", "0", "NOVALUES"],
        &["CLIENT", "KILL", "MAXAGE", "1"],
    ];
    for cmd in setup.iter().chain(probes.iter()) {
        assert_eq!(ours.cmd(cmd).await, theirs.cmd(cmd).await, "{cmd:?}");
    }
    ours_node.shutdown().await;
}
