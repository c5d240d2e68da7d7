//! The Rust AWS SDK (`aws-sdk-elasticache`) against elasticache-local: create a cache cluster,
//! wait with the SDK's `cache_cluster_available` waiter, describe it, talk to the node over
//! RESP, delete it and wait with `cache_cluster_deleted`; then the same with a replication
//! group. Starts its own emulator from `ECL_BINARY` (default `target/debug/elasticache-local`
//! of the repository) unless `ECL_ENDPOINT` names a running one.

use std::time::Duration;

use aws_sdk_elasticache::Client;
use aws_sdk_elasticache::client::Waiters;
use aws_sdk_elasticache::config::{BehaviorVersion, Credentials, Region};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const NODE_TYPE: &str = "cache.t3.micro";
const WAIT: Duration = Duration::from_secs(120);

/// An emulator this test started (killed on drop) or one named by `ECL_ENDPOINT`.
struct Emulator {
    endpoint: String,
    _child: Option<tokio::process::Child>,
}

async fn emulator() -> Emulator {
    if let Ok(endpoint) = std::env::var("ECL_ENDPOINT") {
        return Emulator {
            endpoint,
            _child: None,
        };
    }
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../..");
    let binary = std::env::var("ECL_BINARY")
        .unwrap_or_else(|_| format!("{root}/target/debug/elasticache-local"));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // A block of 100 ports per emulator, apart from the other suites' (20000-33999).
    static STARTED: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    let nth = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 2;
    let first = 34000 + (std::process::id() % 4) as u16 * 200 + nth * 100;
    let child = tokio::process::Command::new(&binary)
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--addressing",
            "ports",
        ])
        .args([
            "--port-range",
            &format!("{first}-{}", first + 99),
            "--log",
            "warn",
        ])
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"));
    for _ in 0..600 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Emulator {
        endpoint: format!("http://127.0.0.1:{port}"),
        _child: Some(child),
    }
}

fn client(endpoint: &str) -> Client {
    let http = aws_smithy_http_client::Builder::new().build_http();
    let config = aws_sdk_elasticache::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .http_client(http)
        .build();
    Client::from_conf(config)
}

/// Sends one RESP command and answers the raw reply.
async fn resp(host: &str, port: u16, args: &[&str]) -> String {
    let mut s = tokio::net::TcpStream::connect((host, port)).await.unwrap();
    let mut cmd = format!("*{}\r\n", args.len());
    for a in args {
        cmd.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s.write_all(cmd.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 512];
    let n = s.read(&mut buf).await.unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test]
async fn cache_cluster_create_wait_describe_delete() {
    let emu = emulator().await;
    let ec = client(&emu.endpoint);
    let id = "rust-sdk-cache";
    ec.create_cache_cluster()
        .cache_cluster_id(id)
        .engine("redis")
        .cache_node_type(NODE_TYPE)
        .num_cache_nodes(1)
        .send()
        .await
        .unwrap();
    ec.wait_until_cache_cluster_available()
        .cache_cluster_id(id)
        .wait(WAIT)
        .await
        .unwrap();
    let out = ec
        .describe_cache_clusters()
        .cache_cluster_id(id)
        .show_cache_node_info(true)
        .send()
        .await
        .unwrap();
    let cluster = &out.cache_clusters()[0];
    assert_eq!(cluster.cache_cluster_status(), Some("available"));
    let endpoint = cluster.cache_nodes()[0].endpoint().unwrap();
    let (host, port) = (endpoint.address().unwrap(), endpoint.port().unwrap() as u16);
    assert_eq!(
        resp(host, port, &["SET", "k", "from-rust"]).await,
        "+OK\r\n"
    );
    assert_eq!(resp(host, port, &["GET", "k"]).await, "$9\r\nfrom-rust\r\n");

    ec.delete_cache_cluster()
        .cache_cluster_id(id)
        .send()
        .await
        .unwrap();
    ec.wait_until_cache_cluster_deleted()
        .cache_cluster_id(id)
        .wait(WAIT)
        .await
        .unwrap();
    let gone = ec
        .describe_cache_clusters()
        .cache_cluster_id(id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        gone.into_service_error().meta().code(),
        Some("CacheClusterNotFound")
    );
}

#[tokio::test]
async fn replication_group_create_wait_describe_delete() {
    let emu = emulator().await;
    let ec = client(&emu.endpoint);
    let id = "rust-sdk-group";
    ec.create_replication_group()
        .replication_group_id(id)
        .replication_group_description("Rust SDK")
        .engine("redis")
        .cache_node_type(NODE_TYPE)
        .num_cache_clusters(2)
        .send()
        .await
        .unwrap();
    ec.wait_until_replication_group_available()
        .replication_group_id(id)
        .wait(WAIT)
        .await
        .unwrap();
    let out = ec
        .describe_replication_groups()
        .replication_group_id(id)
        .send()
        .await
        .unwrap();
    let group = &out.replication_groups()[0];
    assert_eq!(group.status(), Some("available"));
    assert_eq!(group.member_clusters().len(), 2);
    let primary = group.node_groups()[0].primary_endpoint().unwrap();
    let (host, port) = (primary.address().unwrap(), primary.port().unwrap() as u16);
    assert_eq!(resp(host, port, &["PING"]).await, "+PONG\r\n");

    ec.delete_replication_group()
        .replication_group_id(id)
        .send()
        .await
        .unwrap();
    ec.wait_until_replication_group_deleted()
        .replication_group_id(id)
        .wait(WAIT)
        .await
        .unwrap();
}
