//! Engine log lines say which node they come from: every task of a Redis node, a Memcached
//! node, a configuration endpoint and a cluster-level forwarder runs in a `node` span carrying
//! the supervisor's key and the bound address. Checked on real nodes with real connections,
//! with the log output captured by a tracing-subscriber writer.

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use elasticache_local::supervisor::{Endpoint, Supervisor};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A log sink the test reads back.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    /// The captured line containing `message`, if any.
    fn line_with(&self, message: &str) -> Option<String> {
        let bytes = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .find(|l| l.contains(message))
            .map(str::to_string)
    }
}

fn addr(e: &Endpoint) -> SocketAddr {
    SocketAddr::new(e.ip, e.port)
}

/// Sends `request` and reads the first reply bytes (the connection task has logged by then).
async fn exchange(at: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(at).await.expect("connect");
    stream.write_all(request).await.expect("send");
    let mut buf = [0u8; 256];
    let n = stream.read(&mut buf).await.expect("reply");
    String::from_utf8_lossy(&buf[..n]).to_string()
}

/// A current-thread runtime runs every spawned task on the test's thread, where the capturing
/// subscriber is the default.
#[tokio::test(flavor = "current_thread")]
async fn connection_tasks_log_inside_a_span_naming_their_node() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);

    let sup = Supervisor::new(&common::loopback_config("127.0.97.1", &[]));
    let redis_key = "000000000000/us-east-1/logs/0001";
    let redis = sup
        .start_node(common::redis_spec(redis_key, 6379, &[]))
        .await
        .expect("redis node");
    assert_eq!(exchange(addr(&redis), b"PING\r\n").await, "+PONG\r\n");

    let group = "000000000000/us-east-1/mc";
    let mc_key = "000000000000/us-east-1/mc/0001";
    let mc = sup
        .start_node(common::memcached_spec(mc_key, group, 11211))
        .await
        .expect("memcached node");
    assert!(
        exchange(addr(&mc), b"version\r\n")
            .await
            .starts_with("VERSION ")
    );
    let config = sup
        .start_config_endpoint(group, 11211)
        .await
        .expect("configuration endpoint");
    assert!(
        exchange(addr(&config), b"version\r\n")
            .await
            .starts_with("VERSION ")
    );

    let proxy_name = "000000000000/us-east-1/logs/primary";
    let proxy = sup
        .start_proxy_endpoint(proxy_name, 6379, &[redis_key.to_string()])
        .await
        .expect("forwarder");
    assert_eq!(exchange(addr(&proxy), b"PING\r\n").await, "+PONG\r\n");

    // The default fmt layout prints the span before the message: `node{node=<key> addr=...}:`.
    let redis_line = capture
        .line_with("redis client connected")
        .expect("redis log line");
    assert!(
        redis_line.contains(&format!("node{{node={redis_key} addr={}}}", addr(&redis))),
        "{redis_line}"
    );
    let memcached_lines: Vec<String> = {
        let bytes = capture.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter(|l| l.contains("memcached connection"))
            .map(str::to_string)
            .collect()
    };
    for (name, at) in [(mc_key, addr(&mc)), (group, addr(&config))] {
        let span = format!("node{{node={name} addr={at}}}");
        assert!(
            memcached_lines.iter().any(|l| l.contains(&span)),
            "{span} in {memcached_lines:?}"
        );
    }
    let proxy_line = capture
        .line_with("relaying a connection")
        .expect("proxy log line");
    assert!(
        proxy_line.contains(&format!("node{{node={proxy_name} addr={}}}", addr(&proxy))),
        "{proxy_line}"
    );
    sup.shutdown_all().await;
}
