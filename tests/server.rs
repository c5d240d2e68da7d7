//! The emulator as a library: `server::start` binds the API on an ephemeral port, `GET /health`
//! answers its JSON summary, and `shutdown` closes the API listener.

mod common;

use elasticache_local::config::Config;
use elasticache_local::server;

#[tokio::test]
async fn health_reports_version_uptime_and_counts() {
    let server = server::start(Config::for_tests()).await;
    let Ok(server) = server else {
        panic!("server did not start")
    };
    let (status, body) = common::api::http_get(server.local_addr(), "/health")
        .await
        .unwrap_or_default();
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    assert_eq!(json["status"], "running");
    assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));
    assert!(json["uptime_seconds"].is_u64(), "{json}");
    assert_eq!(json["addressing"], "loopback");
    for engine in ["redis", "valkey", "memcached"] {
        assert_eq!(json["nodes"][engine], 0, "{json}");
    }
    assert!(json["resources"].is_object(), "{json}");
    assert_eq!(json["data"]["redis"]["keys"], 0, "{json}");

    // A node with data shows up in the counts and the data figures.
    let spec = common::memcached_spec("acct/h/c/0001", "acct/h/c", 0);
    let node = server.supervisor().start_node(spec).await;
    let Ok(node) = node else {
        panic!("start failed")
    };
    let at = std::net::SocketAddr::new(node.ip, node.port);
    let stored = common::memcached_exchange(at, "set k 0 0 5\r\nhello\r\n", &["STORED"]).await;
    assert_eq!(stored.ok().as_deref(), Some("STORED\r\n"));
    let (_, body) = common::api::http_get(server.local_addr(), "/health")
        .await
        .unwrap_or_default();
    let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    assert_eq!(json["nodes"]["memcached"], 1, "{json}");
    assert_eq!(json["data"]["memcached"]["keys"], 1, "{json}");
    assert!(
        json["data"]["memcached"]["bytes"].as_u64().unwrap_or(0) > 0,
        "{json}"
    );
    server.shutdown().await;
    assert!(
        tokio::net::TcpStream::connect(at).await.is_err(),
        "shutdown stops the nodes"
    );
}

#[tokio::test]
async fn shutdown_closes_the_api_listener() {
    let Ok(server) = server::start(Config::for_tests()).await else {
        panic!("server did not start")
    };
    let addr = server.local_addr();
    // An idle keep-alive connection must not hold the shutdown open.
    let idle = tokio::net::TcpStream::connect(addr).await;
    assert!(idle.is_ok());
    server.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
