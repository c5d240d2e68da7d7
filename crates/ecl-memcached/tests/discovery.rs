//! Auto discovery: byte-exact `config get cluster` and legacy-key replies on every node of a
//! cluster and on its configuration endpoint, version bumps on membership changes, and the
//! endpoint serving the first node's data.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use common::{Conn, start_with};
use ecl_memcached::{ClusterDiscovery, ConfigEndpoint, DiscoveryNode};

fn entry(host: &str, addr: SocketAddr) -> DiscoveryNode {
    DiscoveryNode {
        hostname: host.to_string(),
        ip: addr.ip(),
        port: addr.port(),
    }
}

fn framed(body: &str) -> Vec<u8> {
    format!("CONFIG cluster 0 {}\r\n{body}\r\nEND\r\n", body.len()).into_bytes()
}

#[tokio::test(flavor = "multi_thread")]
async fn nodes_and_endpoint_answer_config_get_cluster() {
    let discovery = Arc::new(ClusterDiscovery::new());
    let n1 = start_with(|c| c.discovery = Some(discovery.clone()));
    let n2 = start_with(|c| c.discovery = Some(discovery.clone()));
    let (a1, a2) = (n1.local_addr(), n2.local_addr());
    discovery.set_nodes(vec![
        entry("web.0002.cache.local", a2),
        entry("web.0001.cache.local", a1),
    ]);
    assert_eq!(discovery.version(), 3);
    let body = format!(
        "3\nweb.0001.cache.local|{}|{} web.0002.cache.local|{}|{}\n",
        a1.ip(),
        a1.port(),
        a2.ip(),
        a2.port()
    );
    let endpoint = match ConfigEndpoint::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        discovery.clone(),
        "1.6.22",
        "test/config",
        None,
    ) {
        Ok(e) => e,
        Err(e) => panic!("endpoint: {e}"),
    };
    for addr in [a1, a2, endpoint.local_addr()] {
        let mut c = Conn::connect(addr).await;
        c.expect(b"config get cluster\r\n", &framed(&body)).await;
        c.expect(b"config get cluster\n", &framed(&body)).await;
        let legacy = format!(
            "VALUE AmazonElastiCache:cluster 0 {}\r\n{body}\r\nEND\r\n",
            body.len()
        );
        c.expect(b"get AmazonElastiCache:cluster\r\n", legacy.as_bytes())
            .await;
        c.expect(b"version\r\n", b"VERSION 1.6.22\r\n").await;
        c.send(b"stats\r\n").await;
        let stats = String::from_utf8_lossy(&c.read_until_line(b"END\r\n").await).to_string();
        assert!(stats.contains("STAT version 1.6.22\r\n"));
    }
    // The endpoint is an alias of the first node: data written through it lands there.
    let mut e = Conn::connect(endpoint.local_addr()).await;
    e.expect(b"set via 0 0 3\r\ncfg\r\n", b"STORED\r\n").await;
    let mut c1 = Conn::connect(a1).await;
    c1.expect(b"get via\r\n", b"VALUE via 0 3\r\ncfg\r\nEND\r\n")
        .await;
    // Removing a node bumps the version by one and the reply follows.
    discovery.set_nodes(vec![entry("web.0001.cache.local", a1)]);
    let body = format!("4\nweb.0001.cache.local|{}|{}\n", a1.ip(), a1.port());
    c1.expect(b"config get cluster\r\n", &framed(&body)).await;
    n2.shutdown().await;
    n1.shutdown().await;
    // With no node left the endpoint answers as an empty memcached.
    let mut e = Conn::connect(endpoint.local_addr()).await;
    e.expect(
        b"get via\r\nconfig get cluster\r\n",
        &[b"END\r\n".as_slice(), &framed(&body)].concat(),
    )
    .await;
    endpoint.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn empty_cluster_and_unknown_ip_fields() {
    let discovery = Arc::new(ClusterDiscovery::with_version(7));
    let endpoint = match ConfigEndpoint::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        discovery.clone(),
        "1.6.17",
        "test/config",
        None,
    ) {
        Ok(e) => e,
        Err(e) => panic!("endpoint: {e}"),
    };
    let mut c = Conn::connect(endpoint.local_addr()).await;
    c.expect(b"config get cluster\r\n", &framed("7\n\n")).await;
    discovery.set_nodes(vec![DiscoveryNode {
        hostname: "h".into(),
        ip: IpAddr::from([10, 0, 0, 1]),
        port: 11211,
    }]);
    c.expect(
        b"config get cluster\r\nversion\r\n",
        &[
            framed("8\nh|10.0.0.1|11211\n"),
            b"VERSION 1.6.17\r\n".to_vec(),
        ]
        .concat(),
    )
    .await;
    endpoint.shutdown().await;
}
