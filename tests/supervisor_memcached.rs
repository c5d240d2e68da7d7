//! The supervisor with real Memcached engine nodes over raw sockets: node specs become
//! listening nodes with memory net of the connections overhead, a cluster's nodes share one auto
//! discovery list whose version bumps when a node is added or removed (read through a real
//! `config get cluster` on the configuration endpoint and on a node), and stop closes sockets.

mod common;

use std::net::SocketAddr;

use elasticache_local::supervisor::{Endpoint, Supervisor};

fn addr(e: &Endpoint) -> SocketAddr {
    SocketAddr::new(e.ip, e.port)
}

/// (version, node list line) from a `config get cluster` reply.
fn parse_config(reply: &str) -> (u64, String) {
    let mut lines = reply.split('\n');
    let header = lines.next().unwrap_or_default();
    assert!(header.starts_with("CONFIG cluster 0 "), "{reply:?}");
    let version = lines
        .next()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let nodes = lines.next().unwrap_or_default().to_string();
    (version, nodes)
}

async fn config_get_cluster(at: SocketAddr) -> (u64, String) {
    let reply = common::memcached_exchange(at, "config get cluster\r\n", &["END"]).await;
    parse_config(&reply.unwrap_or_default())
}

#[tokio::test]
async fn memcached_nodes_store_items_and_report_their_limits() {
    let sup = Supervisor::new(&common::loopback_config("127.0.91.1", &[]));
    let Ok(node) = sup
        .start_node(common::memcached_spec("acct/m/c1/0001", "acct/m/c1", 11211))
        .await
    else {
        panic!("start failed")
    };
    // Its own loopback address counted from the base (a later one if another process holds
    // the base address on that port), on the requested port.
    assert!(node.address.starts_with("127.0.91."), "{node:?}");
    assert_eq!(node.port, 11211);

    let set =
        common::memcached_exchange(addr(&node), "set k 0 0 5\r\nhello\r\n", &["STORED"]).await;
    assert_eq!(set.ok().as_deref(), Some("STORED\r\n"));
    let get = common::memcached_exchange(addr(&node), "get k\r\n", &["END"]).await;
    assert_eq!(get.ok().as_deref(), Some("VALUE k 0 5\r\nhello\r\nEND\r\n"));

    // max_cache_memory 512 MB less the 100 MB connections overhead; threads = vCPUs.
    let stats = common::memcached_exchange(addr(&node), "stats\r\n", &["END"])
        .await
        .unwrap_or_default();
    assert!(
        stats.contains(&format!("STAT limit_maxbytes {}\r\n", 412u64 << 20)),
        "{stats}"
    );
    assert!(stats.contains("STAT threads 2\r\n"), "{stats}");
    assert!(stats.contains("STAT version 1.6.22\r\n"), "{stats}");

    sup.stop_node("acct/m/c1/0001").await.ok();
    assert!(tokio::net::TcpStream::connect(addr(&node)).await.is_err());
}

#[tokio::test]
async fn discovery_version_bumps_when_nodes_join_and_leave() {
    let sup = Supervisor::new(&common::loopback_config("127.0.92.1", &[]));
    let group = "acct/m/web";
    let n1 = sup
        .start_node(common::memcached_spec("acct/m/web/0001", group, 11211))
        .await;
    let n2 = sup
        .start_node(common::memcached_spec("acct/m/web/0002", group, 11211))
        .await;
    let (Ok(n1), Ok(n2)) = (n1, n2) else {
        panic!("start failed")
    };
    let cfg = sup.start_config_endpoint(group, 11211).await;
    let Ok(cfg) = cfg else {
        panic!("configuration endpoint failed: {cfg:?}")
    };
    assert_eq!(cfg.port, 11211);
    assert!(cfg.ip != n1.ip && cfg.ip != n2.ip, "its own address");

    let (v1, nodes) = config_get_cluster(addr(&cfg)).await;
    assert_eq!(
        nodes,
        format!("{0}|{0}|11211 {1}|{1}|11211", n1.address, n2.address)
    );
    // Every node answers the same as the configuration endpoint.
    assert_eq!(config_get_cluster(addr(&n2)).await, (v1, nodes));

    let n3 = sup
        .start_node(common::memcached_spec("acct/m/web/0003", group, 11211))
        .await;
    let Ok(n3) = n3 else { panic!("start failed") };
    let (v2, nodes) = config_get_cluster(addr(&cfg)).await;
    assert_eq!(v2, v1 + 1, "adding a node bumps the version");
    assert!(nodes.contains(&format!("{0}|{0}|11211", n3.address)));

    sup.stop_node("acct/m/web/0002").await.ok();
    let (v3, nodes) = config_get_cluster(addr(&cfg)).await;
    assert_eq!(v3, v2 + 1, "removing a node bumps the version");
    assert_eq!(
        nodes,
        format!("{0}|{0}|11211 {1}|{1}|11211", n1.address, n3.address)
    );

    // A reboot keeps the node listed and the version unchanged.
    assert!(sup.reboot_node("acct/m/web/0001").await.is_ok());
    assert_eq!(config_get_cluster(addr(&cfg)).await.0, v3);

    // Another cluster has its own list.
    let other = sup
        .start_node(common::memcached_spec(
            "acct/m/api/0001",
            "acct/m/api",
            11211,
        ))
        .await;
    let Ok(other) = other else {
        panic!("start failed")
    };
    let (_, nodes) = config_get_cluster(addr(&other)).await;
    assert_eq!(nodes, format!("{0}|{0}|11211", other.address));

    sup.stop_config_endpoint(group).await;
    assert!(tokio::net::TcpStream::connect(addr(&cfg)).await.is_err());
    sup.shutdown_all().await;
    for e in [&n1, &n3, &other] {
        assert!(
            tokio::net::TcpStream::connect(addr(e)).await.is_err(),
            "{e:?} closed"
        );
    }
}

#[tokio::test]
async fn memcached_parameters_shape_the_node() {
    let sup = Supervisor::new(&common::loopback_config("127.0.93.1", &[]));
    let mut spec = common::memcached_spec("acct/m/p/0001", "acct/m/p", 11211);
    spec.parameters
        .insert("max_item_size".into(), "2048".into());
    spec.parameters
        .insert("memcached_connections_overhead".into(), "12".into());
    let Ok(node) = sup.start_node(spec).await else {
        panic!("start failed")
    };
    let big = format!("set big 0 0 4000\r\n{}\r\n", "x".repeat(4000));
    let reply = common::memcached_exchange(
        addr(&node),
        &big,
        &["STORED", "SERVER_ERROR object too large for cache"],
    )
    .await;
    assert!(
        reply.unwrap_or_default().starts_with("SERVER_ERROR"),
        "items over max_item_size are refused"
    );
    let stats = common::memcached_exchange(addr(&node), "stats\r\n", &["END"])
        .await
        .unwrap_or_default();
    assert!(
        stats.contains(&format!("STAT limit_maxbytes {}\r\n", 500u64 << 20)),
        "{stats}"
    );

    // A parameter change waits for a reboot (Memcached parameters are launch settings on
    // ElastiCache), then reaches the node, which keeps its address and discovery entry.
    let mut params = std::collections::BTreeMap::new();
    params.insert("max_item_size".to_string(), "8192".to_string());
    assert!(sup.apply_parameters("acct/m/p/0001", &params).await.is_ok());
    let reply = common::memcached_exchange(
        addr(&node),
        &big,
        &["STORED", "SERVER_ERROR object too large for cache"],
    )
    .await;
    assert!(
        reply.unwrap_or_default().starts_with("SERVER_ERROR"),
        "the running node keeps its launch settings until a reboot"
    );
    let rebooted = sup.reboot_node("acct/m/p/0001").await;
    assert_eq!(rebooted.ok().as_ref(), Some(&node));
    let reply = common::memcached_exchange(
        addr(&node),
        &big,
        &["STORED", "SERVER_ERROR object too large for cache"],
    )
    .await;
    assert_eq!(reply.ok().as_deref(), Some("STORED\r\n"));
    let (_, nodes) = config_get_cluster(addr(&node)).await;
    assert_eq!(nodes, format!("{0}|{0}|11211", node.address));

    let mut bad = std::collections::BTreeMap::new();
    bad.insert("cas_disabled".to_string(), "perhaps".to_string());
    assert!(sup.apply_parameters("acct/m/p/0001", &bad).await.is_err());
    sup.shutdown_all().await;
}

#[tokio::test]
async fn ports_mode_lists_every_node_under_the_advertised_host() {
    let first = 24_600u16;
    let range = format!("{first}-{}", first + 49);
    let config = {
        use clap::Parser;
        elasticache_local::config::Config::parse_from([
            "elasticache-local",
            "--listen",
            "127.0.0.1:0",
            "--addressing",
            "ports",
            "--port-range",
            range.as_str(),
            "--advertised-host",
            "localhost",
        ])
    };
    let sup = Supervisor::new(&config);
    let n1 = sup
        .start_node(common::memcached_spec("acct/m/pm/0001", "acct/m/pm", 11211))
        .await;
    let n2 = sup
        .start_node(common::memcached_spec("acct/m/pm/0002", "acct/m/pm", 11211))
        .await;
    let (Ok(n1), Ok(n2)) = (n1, n2) else {
        panic!("start failed")
    };
    assert_eq!(
        (n1.address.as_str(), n2.address.as_str()),
        ("localhost", "localhost")
    );
    assert_ne!(n1.port, n2.port);
    let (_, nodes) = config_get_cluster(addr(&n1)).await;
    assert_eq!(
        nodes,
        format!(
            "localhost|127.0.0.1|{} localhost|127.0.0.1|{}",
            n1.port, n2.port
        )
    );
    sup.shutdown_all().await;
}

#[tokio::test]
async fn nothing_starts_once_shutdown_began() {
    let sup = Supervisor::new(&common::loopback_config("127.0.95.1", &[]));
    sup.shutdown_all().await;
    let node = sup
        .start_node(common::memcached_spec(
            "acct/m/late/0001",
            "acct/m/late",
            11211,
        ))
        .await;
    assert!(node.is_err());
    assert!(
        sup.start_config_endpoint("acct/m/late", 11211)
            .await
            .is_err()
    );
    assert!(sup.allocate_endpoint(11211).is_err());
    assert!(sup.counts().nodes.is_empty());
}
