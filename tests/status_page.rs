//! The status page's server side: `GET /` without `Action` answers HTML while the Query API keeps
//! `GET /?Action=…`; `status.json` carries every node's figures (replica role and lag set up by
//! the supervisor); the key browser reads a node that requires an AUTH token without knowing it,
//! and a Memcached node cannot be inspected.

mod common;

use elasticache_local::config::Config;
use elasticache_local::server;

fn key_of(v: &serde_json::Value, key: &str) -> serde_json::Value {
    v["nodes"]
        .as_array()
        .and_then(|a| a.iter().find(|n| n["key"] == key).cloned())
        .unwrap_or_default()
}

#[tokio::test]
async fn page_json_and_key_browser_read_the_running_nodes() {
    let Ok(server) = server::start(Config::for_tests()).await else {
        panic!("server did not start")
    };
    let sup = server.supervisor().clone();
    let mut primary = common::redis_spec("acct/r/p/0001", 0, &[]);
    primary.auth_token = Some("s3cret-token-1234".to_string());
    let mut replica = common::redis_spec("acct/r/q/0001", 0, &[]);
    replica.auth_token = primary.auth_token.clone();
    let (Ok(p), Ok(_)) = (sup.start_node(primary).await, sup.start_node(replica).await) else {
        panic!("nodes did not start")
    };
    let mc = sup
        .start_node(common::memcached_spec("acct/r/m/0001", "acct/r/m", 0))
        .await;
    assert!(mc.is_ok());
    assert!(
        sup.replicate("acct/r/q/0001", "acct/r/p/0001")
            .await
            .is_ok()
    );
    let at = std::net::SocketAddr::new(p.ip, p.port);
    let wrote = common::memcached_exchange(
        at,
        "AUTH s3cret-token-1234\r\nSET <k> v\r\nRPUSH list a b\r\n",
        &[":2"],
    )
    .await;
    assert_eq!(wrote.ok().as_deref(), Some("+OK\r\n+OK\r\n:2\r\n"));

    let addr = server.local_addr();
    let (status, body) = common::api::http_get(addr, "/_elasticache_local/status.json")
        .await
        .unwrap_or_default();
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let p = key_of(&json, "acct/r/p/0001");
    assert_eq!(
        (p["keys"].as_u64(), p["role"].as_str()),
        (Some(2), Some("primary")),
        "{p}"
    );
    assert!(p["maxmemory"].as_u64().unwrap_or(0) > 0, "{p}");
    let q = key_of(&json, "acct/r/q/0001");
    assert_eq!(q["role"], "replica", "{q}");
    assert_eq!(q["primary"], "acct/r/p/0001", "{q}");
    assert!(q["replication_lag"].is_u64(), "{q}");
    assert_eq!(key_of(&json, "acct/r/m/0001")["role"], "node");

    let (status, page) = common::api::http_get(addr, "/").await.unwrap_or_default();
    assert_eq!(status, 200);
    assert!(page.starts_with("<!DOCTYPE html>") && page.contains("data-node=\"acct/r/p/0001\""));
    let (status, xml) =
        common::api::http_get(addr, "/?Action=DescribeCacheClusters&Version=2015-02-02")
            .await
            .unwrap_or_default();
    assert_eq!(status, 200);
    assert!(xml.contains("<DescribeCacheClustersResponse"), "{xml}");

    let (status, keys) =
        common::api::http_get(addr, "/_elasticache_local/nodes/acct%2Fr%2Fp%2F0001/keys")
            .await
            .unwrap_or_default();
    assert_eq!(status, 200);
    assert!(keys.contains("<td class=\"id\">&lt;k&gt;</td>"), "{keys}");
    assert!(keys.contains("<pre>a, b</pre>"), "{keys}");
    // The browser's reads (SCAN, TYPE, TTL, LRANGE, …) stay out of the node's command
    // statistics: they show the application's commands only.
    let stats = common::memcached_exchange(
        at,
        "AUTH s3cret-token-1234\r\nINFO commandstats\r\nPING\r\n",
        &["+PONG"],
    )
    .await
    .unwrap_or_default();
    assert!(stats.contains("cmdstat_rpush:calls=1,"), "{stats}");
    assert!(
        !stats.contains("cmdstat_scan") && !stats.contains("cmdstat_type"),
        "{stats}"
    );
    let (status, _) = common::api::http_get(addr, "/_elasticache_local/nodes/nope/keys")
        .await
        .unwrap_or_default();
    assert_eq!(status, 404);
    let refused = sup
        .inspect_node("acct/r/m/0001", &[b"SCAN".to_vec(), b"0".to_vec()])
        .await;
    assert!(refused.is_err());
    let refused = sup
        .inspect_node("acct/r/p/0001", &[b"FLUSHALL".to_vec()])
        .await;
    assert!(refused.is_err());
    server.shutdown().await;
}
