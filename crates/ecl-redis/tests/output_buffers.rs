//! Client output buffers on the wire: a client that pipelines large reads without reading
//! holds only a bounded output (back-pressure), its unsent bytes show in CLIENT LIST and INFO,
//! and `client-output-buffer-limit` closes a client over its class's hard limit without
//! sending the output, as redis-server 7.0 does.

mod common;
use common::{Raw, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The value of `field=` for the client whose `cmd=` is not `client|list` (the other one).
fn other_client_field(list: &str, field: &str) -> u64 {
    let line = list
        .lines()
        .find(|l| l.starts_with("id=") && !l.contains("cmd=client|list"))
        .expect("another client");
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(field))
        .and_then(|v| v.parse().ok())
        .expect("field present")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_large_reads_wait_for_the_reader() {
    let node = start();
    let mut admin = Raw::connect(&node).await;
    let value = vec![b'v'; 1_000_000];
    admin.cmd_bytes(&[b"SET", b"big", &value]).await;
    let mut slow = TcpStream::connect(node.local_addr()).await.unwrap();
    let n = 300;
    let pipeline = b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n".repeat(n);
    // 300 MB of replies, none read for a while.
    slow.write_all(&pipeline).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let list = admin.cmd(&["CLIENT", "LIST"]).await;
    let omem = other_client_field(&list, "omem=");
    assert!(omem > 0 && omem < 4 << 20, "unsent output {omem} in {list}");
    let tot = other_client_field(&list, "tot-mem=");
    assert!(tot > omem, "{list}");
    let info = admin.cmd(&["INFO", "memory"]).await;
    let clients: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("mem_clients_normal:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("mem_clients_normal");
    assert!(clients >= omem, "{info}");
    // Every reply arrives intact once the client reads.
    let reply_len = format!("${}\r\n", value.len()).len() + value.len() + 2;
    let mut left = n * reply_len;
    let mut buf = vec![0u8; 1 << 20];
    let mut first = Vec::new();
    while left > 0 {
        let got = slow.read(&mut buf[..left.min(1 << 20)]).await.unwrap();
        assert!(got > 0, "closed with {left} bytes missing");
        if first.len() < 16 {
            first.extend_from_slice(&buf[..got.min(16)]);
        }
        left -= got;
    }
    assert!(first.starts_with(b"$1000000\r\nvvvv"));
    slow.write_all(b"PING\r\n").await.unwrap();
    let mut pong = [0u8; 7];
    slow.read_exact(&mut pong).await.unwrap();
    assert_eq!(&pong, b"+PONG\r\n");
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_over_the_normal_hard_limit_closes_without_output() {
    let node = start();
    let mut admin = Raw::connect(&node).await;
    admin
        .cmd_bytes(&[b"SET", b"big", &vec![b'x'; 5_000_000]])
        .await;
    assert_eq!(
        admin
            .cmd(&[
                "CONFIG",
                "SET",
                "client-output-buffer-limit",
                "normal 1mb 0 0"
            ])
            .await,
        "+OK\r\n"
    );
    let mut c = TcpStream::connect(node.local_addr()).await.unwrap();
    c.write_all(b"PING\r\nGET big\r\nPING\r\n").await.unwrap();
    let mut got = Vec::new();
    // The connection ends (EOF or reset) with nothing of its output sent.
    let _ = c.read_to_end(&mut got).await;
    assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(&got));
    assert_eq!(admin.cmd(&["PING"]).await, "+PONG\r\n");
    node.shutdown().await;
}

/// `maxmemory-clients`: a client whose query buffer takes the clients over the limit is
/// evicted (its connection closes, INFO `evicted_clients` counts it), and the setting reads
/// back and validates as on redis-server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maxmemory_clients_evicts_the_largest_client_as_redis_server_does() {
    let transcript = |addr: std::net::SocketAddr| async move {
        let mut admin = Raw::connect_addr(addr).await;
        let evicted = async |admin: &mut Raw| {
            let info = admin.cmd(&["INFO", "stats"]).await;
            info.lines()
                .find(|l| l.starts_with("evicted_clients:"))
                .unwrap_or_default()
                .to_string()
        };
        let mut log = vec![
            admin
                .cmd(&["CONFIG", "SET", "maxmemory-clients", "200%"])
                .await,
            admin
                .cmd(&["CONFIG", "SET", "maxmemory-clients", "abc"])
                .await,
            admin
                .cmd(&["CONFIG", "SET", "maxmemory-clients", "10%"])
                .await,
            admin.cmd(&["CONFIG", "GET", "maxmemory-clients"]).await,
            admin
                .cmd(&["CONFIG", "SET", "maxmemory-clients", "1mb"])
                .await,
            admin.cmd(&["CONFIG", "GET", "maxmemory-clients"]).await,
        ];
        // Two megabytes of a command still arriving: the query buffer holds them.
        let partial = || {
            let mut bytes = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3000000\r\n".to_vec();
            bytes.resize(bytes.len() + 2_000_000, b'x');
            bytes
        };
        log.push(evicted(&mut admin).await);
        let mut big = Raw::connect_addr(addr).await;
        log.push(big.cmd(&["PING"]).await);
        let bytes = partial();
        // The server may evict the client before all of it is sent (a reset on the write).
        big.send_raw_may_close(&bytes).await;
        log.push(big.closed().await.to_string());
        log.push(evicted(&mut admin).await);
        log.push(
            admin
                .cmd(&["CONFIG", "SET", "maxmemory-clients", "0"])
                .await,
        );
        log
    };
    let Some((ours, theirs)) = common::ours_and_theirs_at(transcript).await else {
        eprintln!("redis-server not installed: skipped");
        return;
    };
    common::assert_same_steps("maxmemory-clients", &ours, &theirs);
    assert_eq!(theirs[8], "true");
    assert_eq!(theirs[9], "evicted_clients:1");
}

/// HRANDFIELD / SRANDMEMBER / ZRANDMEMBER with a count past 2^24 repeated draws: a missing key
/// answers an empty array (as redis-server); an existing one closes the client when its hard
/// limit cannot hold the smallest such reply (redis-server is cut off mid-reply there), and
/// answers `value is out of range` otherwise instead of building gigabytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_random_counts_end_as_redis_servers_limit_would() {
    let node = start();
    let mut c = Raw::connect(&node).await;
    for cmd in ["HRANDFIELD", "SRANDMEMBER", "ZRANDMEMBER"] {
        assert_eq!(c.cmd(&[cmd, "missing", "-999999999"]).await, "*0\r\n");
    }
    assert_eq!(c.cmd(&["HSET", "h", "a", "b"]).await, ":1\r\n");
    assert_eq!(
        c.cmd(&["HRANDFIELD", "h", "-999999999"]).await,
        "-ERR value is out of range\r\n"
    );
    // A 1 GB limit could hold the smallest reply of 2^24 + 1 draws (about 100 MB).
    let big = "normal 1073741824 0 0";
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "client-output-buffer-limit", big])
            .await,
        "+OK\r\n"
    );
    assert_eq!(
        c.cmd(&["SRANDMEMBER", "h", "-16777217"]).await,
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_eq!(
        c.cmd(&["HRANDFIELD", "h", "-16777217"]).await,
        "-ERR value is out of range\r\n"
    );
    let small = "normal 1000000 0 0";
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "client-output-buffer-limit", small])
            .await,
        "+OK\r\n"
    );
    c.send(&["HRANDFIELD", "h", "-999999999"]).await;
    let closed = tokio::time::timeout(std::time::Duration::from_secs(10), c.closed()).await;
    assert_eq!(closed, Ok(true), "the client was not closed");
    let mut d = Raw::connect(&node).await;
    assert_eq!(d.cmd(&["PING"]).await, "+PONG\r\n");
    node.shutdown().await;
}
