//! Persistence across restarts through the library (`server::start` with a data directory):
//! a cluster created and written, the server shut down and started again on the same data
//! directory, serves the same keys (with their TTL) on the same endpoint, and `/health` says the
//! state was restored.

mod common;

use std::net::SocketAddr;

use common::api::{Answer, call};
use elasticache_local::server;

async fn wait_available(addr: SocketAddr, id: &str) -> Answer {
    for _ in 0..400 {
        let a = call(
            addr,
            "DescribeCacheClusters",
            &[("CacheClusterId", id), ("ShowCacheNodeInfo", "true")],
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.body);
        if a.get("CacheClusterStatus").as_deref() == Some("available") {
            return a;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("cluster {id} not available");
}

async fn connect(ep: &(String, u16)) -> redis::aio::MultiplexedConnection {
    redis::Client::open(format!("redis://{}:{}/", ep.0, ep.1))
        .expect("client")
        .get_multiplexed_async_connection()
        .await
        .expect("connects")
}

async fn health(addr: SocketAddr) -> serde_json::Value {
    let (_, body) = common::api::http_get(addr, "/health")
        .await
        .unwrap_or_default();
    serde_json::from_str(&body).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_and_its_keys_come_back_on_the_same_endpoint() {
    let dir = std::env::temp_dir().join(format!("ecl-persist-{}", uuid::Uuid::new_v4()));
    let mut config = common::api::config();
    config.data_dir = Some(dir.clone());

    let first = server::start(config.clone()).await.expect("starts");
    let addr = first.local_addr();
    assert_eq!(health(addr).await["persistence"]["restored"], false);
    let created = call(
        addr,
        "CreateCacheCluster",
        &[
            ("CacheClusterId", "kept"),
            ("Engine", "redis"),
            ("CacheNodeType", "cache.t3.micro"),
            ("NumCacheNodes", "1"),
        ],
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let endpoint = wait_available(addr, "kept").await.endpoint("Endpoint");
    let mut c = connect(&endpoint).await;
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .arg("EX")
        .arg(1000)
        .query_async(&mut c)
        .await
        .expect("SET");
    drop(c);
    first.shutdown().await;
    assert!(dir.join("state.json").is_file());

    let second = server::start(config).await.expect("restarts");
    let addr = second.local_addr();
    assert_eq!(health(addr).await["persistence"]["restored"], true);
    let again = wait_available(addr, "kept").await.endpoint("Endpoint");
    assert_eq!(again, endpoint, "same endpoint");
    let mut c = connect(&again).await;
    let got: Option<String> = redis::cmd("GET").arg("k").query_async(&mut c).await.ok();
    assert_eq!(got.as_deref(), Some("v"));
    let ttl: i64 = redis::cmd("TTL")
        .arg("k")
        .query_async(&mut c)
        .await
        .unwrap_or(-3);
    assert!((900..=1000).contains(&ttl), "TTL kept: {ttl}");
    drop(c);
    second.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
