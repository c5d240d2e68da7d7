//! One process holds a thousand nodes: the supervisor starts 1,000 Memcached nodes on 1,000
//! loopback addresses (crossing several /24s), each answers a real client, and shutdown closes
//! them all.

mod common;

use std::net::SocketAddr;

use elasticache_local::supervisor::Supervisor;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_nodes_start_answer_and_stop() {
    let sup = Supervisor::new(&common::loopback_config("127.0.200.1", &[]));
    let mut endpoints = Vec::new();
    for i in 0..1000 {
        let group = format!("acct/scale/c{}", i / 10);
        let key = format!("{group}/{:04}", i % 10 + 1);
        let started = sup
            .start_node(common::memcached_spec(&key, &group, 11211))
            .await;
        let Ok(endpoint) = started else {
            panic!("node {i} failed: {started:?}")
        };
        endpoints.push(endpoint);
    }
    assert_eq!(sup.counts().nodes.get("memcached"), Some(&1000));
    let mut ips: Vec<_> = endpoints.iter().map(|e| e.ip).collect();
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 1000, "every node has its own address");
    for e in endpoints.iter().step_by(97) {
        let reply = common::memcached_exchange(
            SocketAddr::new(e.ip, e.port),
            "version\r\n",
            &["VERSION 1.6.22"],
        )
        .await;
        assert!(
            reply.unwrap_or_default().starts_with("VERSION 1.6.22"),
            "{e:?}"
        );
    }
    sup.shutdown_all().await;
    assert!(sup.counts().nodes.is_empty());
    let last = &endpoints[999];
    assert!(
        tokio::net::TcpStream::connect(SocketAddr::new(last.ip, last.port))
            .await
            .is_err()
    );
}
