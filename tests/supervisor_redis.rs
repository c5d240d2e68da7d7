//! The supervisor with real Redis/Valkey engine nodes, driven by the `redis` crate: node specs
//! become listening nodes on their own loopback address and requested port, with `maxmemory`
//! net of reserved memory, translated parameters, AUTH, reboots that keep the address and lose
//! the data, restarts in place with a new spec that keep it, runtime parameter changes,
//! forwarding endpoints, and sockets closed on stop.

mod common;

use std::collections::BTreeMap;

use elasticache_local::supervisor::{Endpoint, EngineKind, Supervisor};
use redis::aio::MultiplexedConnection;

async fn connect(
    e: &Endpoint,
    password: Option<&str>,
) -> redis::RedisResult<MultiplexedConnection> {
    let url = match password {
        Some(p) => format!("redis://:{p}@{}:{}/", e.ip, e.port),
        None => format!("redis://{}:{}/", e.ip, e.port),
    };
    // A generous reply timeout: the panic test's reply waits for the panic hook, which prints a
    // symbolized backtrace under RUST_BACKTRACE and takes seconds on a loaded machine.
    let config = redis::AsyncConnectionConfig::new()
        .set_response_timeout(Some(std::time::Duration::from_secs(30)));
    redis::Client::open(url)?
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

/// A field of `INFO <section>` (CONFIG is restricted on ElastiCache, so tests read INFO as an
/// application on AWS would).
async fn info_field(con: &mut MultiplexedConnection, section: &str, field: &str) -> String {
    let info: redis::RedisResult<String> = redis::cmd("INFO").arg(section).query_async(con).await;
    let info = info.unwrap_or_default();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn redis_node_listens_on_its_own_address_and_the_requested_port() {
    let sup = Supervisor::new(&common::loopback_config("127.0.81.1", &[]));
    let spec = common::redis_spec(
        "acct/r/c1/0001",
        6379,
        &[("maxmemory-policy", "allkeys-lru")],
    );
    let endpoint = sup.start_node(spec).await;
    let Ok(endpoint) = endpoint else {
        panic!("start failed: {endpoint:?}")
    };
    // Its own loopback address counted from the base (a later one if another process holds
    // the base address on that port), reported as the IP itself.
    assert!(endpoint.address.starts_with("127.0.81."), "{endpoint:?}");
    assert_eq!(endpoint.address, endpoint.ip.to_string());
    assert_eq!(endpoint.port, 6379, "the requested port is honoured");

    let Ok(mut con) = connect(&endpoint, None).await else {
        panic!("cannot connect")
    };
    let pong: redis::RedisResult<String> = redis::cmd("PING").query_async(&mut con).await;
    assert_eq!(pong.ok().as_deref(), Some("PONG"));
    let _: redis::RedisResult<()> = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query_async(&mut con)
        .await;
    let got: redis::RedisResult<String> = redis::cmd("GET").arg("k").query_async(&mut con).await;
    assert_eq!(got.ok().as_deref(), Some("v"));

    // cache.t3.micro: 512 MiB less the default 25% reserved memory, as INFO shows on AWS.
    assert_eq!(
        info_field(&mut con, "memory", "maxmemory").await,
        "402653184"
    );
    assert_eq!(
        info_field(&mut con, "memory", "maxmemory_policy").await,
        "allkeys-lru"
    );
    let info: redis::RedisResult<String> =
        redis::cmd("INFO").arg("server").query_async(&mut con).await;
    assert!(info.unwrap_or_default().contains("redis_version:7.1.0"));

    assert_eq!(sup.counts().nodes.get("redis"), Some(&1));
    sup.stop_node("acct/r/c1/0001").await.ok();
    assert!(
        connect(&endpoint, None).await.is_err(),
        "stopped node refuses connections"
    );
    assert_eq!(sup.counts().nodes.get("redis"), None);
}

#[tokio::test]
async fn valkey_nodes_and_auth_tokens() {
    let sup = Supervisor::new(&common::loopback_config("127.0.82.1", &[]));
    let mut spec = common::redis_spec("acct/r/v1/0001", 6379, &[]);
    spec.engine = EngineKind::Valkey;
    spec.engine_version = "8.0.1".to_string();
    spec.auth_token = Some("a-very-secret-token-1234".to_string());
    let Ok(endpoint) = sup.start_node(spec).await else {
        panic!("start failed")
    };

    let Ok(mut anonymous) = connect(&endpoint, None).await else {
        panic!("cannot connect")
    };
    let denied: redis::RedisResult<String> =
        redis::cmd("GET").arg("k").query_async(&mut anonymous).await;
    let err = denied.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("NOAUTH"), "{err}");

    let Ok(mut con) = connect(&endpoint, Some("a-very-secret-token-1234")).await else {
        panic!("cannot authenticate")
    };
    let info: redis::RedisResult<String> =
        redis::cmd("INFO").arg("server").query_async(&mut con).await;
    let info = info.unwrap_or_default();
    assert!(
        info.contains("valkey_version:8.0.1") || info.contains("server_name:valkey"),
        "{info}"
    );
    assert_eq!(sup.counts().nodes.get("valkey"), Some(&1));
    sup.shutdown_all().await;
}

/// The node's engine and version are the spec's (the API's full engine version): a Valkey 8.1
/// node names itself and its own release in HELLO and INFO, and keeps `redis_version:7.2.4`.
#[tokio::test]
async fn valkey_8_1_node_reports_its_own_release() {
    let sup = Supervisor::new(&common::loopback_config("127.0.89.1", &[]));
    let mut spec = common::redis_spec("acct/r/v81/0001", 6379, &[]);
    spec.engine = EngineKind::Valkey;
    spec.engine_version = "8.1.1".to_string();
    let Ok(endpoint) = sup.start_node(spec).await else {
        panic!("start failed")
    };
    let Ok(mut con) = connect(&endpoint, None).await else {
        panic!("cannot connect")
    };
    assert_eq!(
        info_field(&mut con, "server", "valkey_version").await,
        "8.1.1"
    );
    assert_eq!(
        info_field(&mut con, "server", "server_name").await,
        "valkey"
    );
    assert_eq!(
        info_field(&mut con, "server", "redis_version").await,
        "7.2.4"
    );
    assert_eq!(
        info_field(&mut con, "server", "server_mode").await,
        "standalone"
    );
    let hello: redis::RedisResult<Vec<redis::Value>> =
        redis::cmd("HELLO").query_async(&mut con).await;
    let hello = hello.unwrap_or_default();
    let text: Vec<String> = hello
        .iter()
        .map(|v| match v {
            redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        text.get(..4),
        Some(&["server", "valkey", "version", "8.1.1"].map(String::from)[..]),
        "{text:?}"
    );
    sup.shutdown_all().await;
}

#[tokio::test]
async fn reboot_keeps_the_address_and_loses_the_data() {
    let sup = Supervisor::new(&common::loopback_config("127.0.83.1", &[]));
    let Ok(first) = sup
        .start_node(common::redis_spec("acct/r/c2/0001", 6379, &[]))
        .await
    else {
        panic!("start failed")
    };
    let Ok(mut con) = connect(&first, None).await else {
        panic!("cannot connect")
    };
    let _: redis::RedisResult<()> = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query_async(&mut con)
        .await;

    let rebooted = sup.reboot_node("acct/r/c2/0001").await;
    assert_eq!(
        rebooted.ok(),
        Some(first.clone()),
        "same endpoint after reboot"
    );
    let Ok(mut con) = connect(&first, None).await else {
        panic!("rebooted node does not listen")
    };
    let got: redis::RedisResult<Option<String>> =
        redis::cmd("GET").arg("k").query_async(&mut con).await;
    assert_eq!(got.ok(), Some(None), "data is lost on reboot");

    // Another node never takes the rebooted node's address.
    let Ok(second) = sup
        .start_node(common::redis_spec("acct/r/c2/0002", 6379, &[]))
        .await
    else {
        panic!("start failed")
    };
    assert_ne!(second.ip, first.ip);
    sup.shutdown_all().await;
    assert!(
        connect(&first, None).await.is_err(),
        "shutdown_all closes every node"
    );
    assert!(connect(&second, None).await.is_err());
}

#[tokio::test]
async fn parameter_changes_reach_the_running_node() {
    let sup = Supervisor::new(&common::loopback_config("127.0.84.1", &[]));
    let start = [
        ("maxmemory-policy", "volatile-lru"),
        ("reserved-memory-percent", "25"),
    ];
    let Ok(endpoint) = sup
        .start_node(common::redis_spec("acct/r/c3/0001", 6379, &start))
        .await
    else {
        panic!("start failed")
    };
    let mut params: BTreeMap<String, String> = BTreeMap::new();
    params.insert("maxmemory-policy".into(), "allkeys-lfu".into());
    params.insert("reserved-memory-percent".into(), "50".into());
    params.insert("cluster-enabled".into(), "no".into());
    let applied = sup.apply_parameters("acct/r/c3/0001", &params).await;
    assert!(applied.is_ok(), "{applied:?}");
    let Ok(mut con) = connect(&endpoint, None).await else {
        panic!("cannot connect")
    };
    assert_eq!(
        info_field(&mut con, "memory", "maxmemory_policy").await,
        "allkeys-lfu"
    );
    assert_eq!(
        info_field(&mut con, "memory", "maxmemory").await,
        "268435456"
    );

    params.insert("maxmemory-policy".into(), "sometimes-lru".into());
    let rejected = sup.apply_parameters("acct/r/c3/0001", &params).await;
    assert!(rejected.is_err(), "the engine's refusal is reported");
    assert!(
        sup.apply_parameters("acct/r/missing/0001", &params)
            .await
            .is_err()
    );
    sup.shutdown_all().await;
}

#[tokio::test]
async fn node_memory_cap_limits_maxmemory() {
    let sup = Supervisor::new(&common::loopback_config(
        "127.0.85.1",
        &["--max-node-memory", "64mb"],
    ));
    let mut spec = common::redis_spec("acct/r/big/0001", 6379, &[]);
    spec.node_memory_bytes = 450_000_750_456; // cache.r6g.16xlarge
    let Ok(endpoint) = sup.start_node(spec).await else {
        panic!("start failed")
    };
    let Ok(mut con) = connect(&endpoint, None).await else {
        panic!("cannot connect")
    };
    assert_eq!(
        info_field(&mut con, "memory", "maxmemory").await,
        (64u64 << 20).to_string()
    );
    sup.shutdown_all().await;
}

#[tokio::test]
async fn forwarding_endpoint_follows_its_target() {
    let sup = Supervisor::new(&common::loopback_config("127.0.86.1", &[]));
    let a = sup
        .start_node(common::redis_spec("acct/r/rg/0001", 6379, &[]))
        .await;
    let b = sup
        .start_node(common::redis_spec("acct/r/rg/0002", 6379, &[]))
        .await;
    let (Ok(a), Ok(b)) = (a, b) else {
        panic!("start failed")
    };
    let Ok(mut con_a) = connect(&a, None).await else {
        panic!("cannot connect")
    };
    let _: redis::RedisResult<()> = redis::cmd("SET")
        .arg("who")
        .arg("a")
        .query_async(&mut con_a)
        .await;
    let Ok(mut con_b) = connect(&b, None).await else {
        panic!("cannot connect")
    };
    let _: redis::RedisResult<()> = redis::cmd("SET")
        .arg("who")
        .arg("b")
        .query_async(&mut con_b)
        .await;

    let primary = sup
        .start_proxy_endpoint("acct/r/rg/primary", 6379, &["acct/r/rg/0001".to_string()])
        .await;
    let Ok(primary) = primary else {
        panic!("proxy failed: {primary:?}")
    };
    assert_eq!(primary.port, 6379);
    assert!(primary.ip != a.ip && primary.ip != b.ip, "its own address");
    let Ok(mut via) = connect(&primary, None).await else {
        panic!("cannot connect")
    };
    let who: redis::RedisResult<String> = redis::cmd("GET").arg("who").query_async(&mut via).await;
    assert_eq!(who.ok().as_deref(), Some("a"));

    // Failover: the endpoint now leads to node 2; the old connection is closed.
    let moved = sup
        .set_proxy_targets("acct/r/rg/primary", &["acct/r/rg/0002".to_string()])
        .await;
    assert!(moved.is_ok());
    let Ok(mut via) = connect(&primary, None).await else {
        panic!("cannot connect")
    };
    let who: redis::RedisResult<String> = redis::cmd("GET").arg("who").query_async(&mut via).await;
    assert_eq!(who.ok().as_deref(), Some("b"));

    sup.stop_proxy_endpoint("acct/r/rg/primary").await;
    assert!(connect(&primary, None).await.is_err());
    sup.shutdown_all().await;
}

#[tokio::test]
async fn commands_elasticache_restricts_are_unknown_in_strict_mode() {
    let sup = Supervisor::new(&common::loopback_config(
        "127.0.87.1",
        &["--strict-commands"],
    ));
    let Ok(restricted) = sup
        .start_node(common::redis_spec("acct/r/x/0001", 6379, &[]))
        .await
    else {
        panic!("start failed")
    };
    let Ok(mut con) = connect(&restricted, None).await else {
        panic!("cannot connect")
    };
    for command in ["CONFIG", "BGSAVE", "DEBUG", "SHUTDOWN", "REPLICAOF"] {
        let reply: redis::RedisResult<redis::Value> = redis::cmd(command)
            .arg("GET")
            .arg("x")
            .query_async(&mut con)
            .await;
        let err = reply.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("unknown command"), "{command}: {err}");
    }
    sup.shutdown_all().await;

    let allowed = common::loopback_config("127.0.88.1", &[]);
    let sup = Supervisor::new(&allowed);
    let Ok(open) = sup
        .start_node(common::redis_spec("acct/r/y/0001", 6379, &[]))
        .await
    else {
        panic!("start failed")
    };
    let Ok(mut con) = connect(&open, None).await else {
        panic!("cannot connect")
    };
    let reply: redis::RedisResult<Vec<String>> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxmemory")
        .query_async(&mut con)
        .await;
    assert_eq!(
        reply.ok(),
        Some(vec!["maxmemory".to_string(), "402653184".to_string()])
    );
    // Replication stays the control plane's in every mode.
    for command in ["REPLICAOF", "SLAVEOF"] {
        let reply: redis::RedisResult<redis::Value> = redis::cmd(command)
            .arg("NO")
            .arg("ONE")
            .query_async(&mut con)
            .await;
        let err = reply.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("unknown command"), "{command}: {err}");
    }
    sup.shutdown_all().await;
}

#[tokio::test]
async fn a_panicking_command_breaks_its_node_until_reboot() {
    let sup = Supervisor::new(&common::loopback_config("127.0.113.1", &[]));
    let (Ok(bad), Ok(good)) = (
        sup.start_node(common::redis_spec("acct/r/p1/0001", 6379, &[]))
            .await,
        sup.start_node(common::redis_spec("acct/r/p2/0001", 6379, &[]))
            .await,
    ) else {
        panic!("start failed")
    };
    let (Ok(mut con), Ok(mut other)) = (connect(&bad, None).await, connect(&good, None).await)
    else {
        panic!("cannot connect")
    };
    // The hidden fault-injection command (tests only) panics halfway through a multi-key write.
    let r: redis::RedisResult<()> = redis::cmd("ECL.FAULT")
        .arg(&["PANIC-MID-MSET", "a", "1", "b", "2"])
        .query_async(&mut con)
        .await;
    let err = r.expect_err("a panicking command answers an error");
    assert!(err.to_string().contains("command panicked"), "{err}");
    let refused: redis::RedisResult<Option<String>> =
        redis::cmd("GET").arg("a").query_async(&mut con).await;
    let err = refused.expect_err("a broken node refuses commands");
    assert!(err.to_string().contains("node is broken"), "{err}");
    assert_eq!(info_field(&mut con, "stats", "ecl_node_broken").await, "1");
    assert!(
        sup.node_broken("acct/r/p1/0001")
            .is_some_and(|r| r.contains("fault injection"))
    );

    // The other node is unaffected.
    assert_eq!(sup.node_broken("acct/r/p2/0001"), None);
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query_async(&mut other)
        .await
        .expect("healthy node serves");

    // A reboot gives the node a fresh, empty engine.
    assert_eq!(
        sup.reboot_node("acct/r/p1/0001").await.ok(),
        Some(bad.clone())
    );
    assert_eq!(sup.node_broken("acct/r/p1/0001"), None);
    let Ok(mut con) = connect(&bad, None).await else {
        panic!("rebooted node does not listen")
    };
    let got: Option<String> = redis::cmd("GET")
        .arg("a")
        .query_async(&mut con)
        .await
        .expect("rebooted node serves");
    assert_eq!(got, None, "the half-applied write is gone");
    assert_eq!(info_field(&mut con, "stats", "ecl_node_broken").await, "0");
    sup.shutdown_all().await;
}

#[tokio::test]
async fn respec_keeps_the_address_and_the_keyspace_and_runs_the_new_spec() {
    let sup = Supervisor::new(&common::loopback_config("127.0.96.1", &[]));
    let mut spec = common::redis_spec("acct/r/c9/0001", 6379, &[]);
    spec.engine_version = "6.2.6".to_string();
    let Ok(first) = sup.start_node(spec.clone()).await else {
        panic!("start failed")
    };
    let Ok(mut con) = connect(&first, None).await else {
        panic!("cannot connect")
    };
    let set: redis::RedisResult<()> = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .arg("EX")
        .arg(3600)
        .query_async(&mut con)
        .await;
    assert!(set.is_ok());
    let before = info_field(&mut con, "memory", "maxmemory").await;

    // A larger node type and a newer version, as ModifyCacheCluster asks.
    spec.engine_version = "7.0.7".to_string();
    spec.node_memory_bytes *= 2;
    let respecced = sup.respec_node(spec).await;
    assert_eq!(respecced.ok(), Some(first.clone()), "same endpoint");
    let Ok(mut con) = connect(&first, None).await else {
        panic!("the node does not listen after the restart in place")
    };
    let got: redis::RedisResult<Option<String>> =
        redis::cmd("GET").arg("k").query_async(&mut con).await;
    assert_eq!(
        got.ok(),
        Some(Some("v".to_string())),
        "the keyspace is kept"
    );
    let ttl: redis::RedisResult<i64> = redis::cmd("TTL").arg("k").query_async(&mut con).await;
    assert!(ttl.is_ok_and(|t| t > 3000), "with its TTL");
    assert_eq!(
        info_field(&mut con, "server", "redis_version").await,
        "7.0.7"
    );
    assert_ne!(info_field(&mut con, "memory", "maxmemory").await, before);

    // The image was for that start only: a reboot afterwards starts empty, as on ElastiCache.
    assert_eq!(
        sup.reboot_node("acct/r/c9/0001").await.ok(),
        Some(first.clone())
    );
    let Ok(mut con) = connect(&first, None).await else {
        panic!("rebooted node does not listen")
    };
    let got: redis::RedisResult<Option<String>> =
        redis::cmd("GET").arg("k").query_async(&mut con).await;
    assert_eq!(got.ok(), Some(None));
    sup.shutdown_all().await;
}
