//! A multi-key get whose reply is far larger than memory allows is streamed: the node's
//! process grows by about one item while a slow client reads a 300 MB reply, and the bytes are
//! exactly the reply memcached sends. (Alone in its test binary, so the process RSS measured
//! is this node's.)

mod common;
use common::start_with;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn rss_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_get_naming_one_large_item_many_times_is_streamed() {
    let node = start_with(|c| c.memory_limit = 64 << 20);
    let mut c = TcpStream::connect(node.local_addr()).await.unwrap();
    let value: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let mut set = format!("set big 7 0 {}\r\n", value.len()).into_bytes();
    set.extend_from_slice(&value);
    set.extend_from_slice(b"\r\n");
    c.write_all(&set).await.unwrap();
    let mut stored = [0u8; 8];
    c.read_exact(&mut stored).await.unwrap();
    assert_eq!(&stored, b"STORED\r\n");
    let base = rss_mb();
    let n = 300;
    let mut line = b"get".to_vec();
    for _ in 0..n {
        line.extend_from_slice(b" big");
    }
    line.extend_from_slice(b"\r\n");
    c.write_all(&line).await.unwrap();
    let mut one = b"VALUE big 7 1000000\r\n".to_vec();
    one.extend_from_slice(&value);
    one.extend_from_slice(b"\r\n");
    let total = n * one.len() + b"END\r\n".len();
    let mut got = vec![0u8; total];
    let mut at = 0;
    let mut peak = base;
    while at < total {
        let step = (total - at).min(256 * 1024);
        let r = c.read(&mut got[at..at + step]).await.unwrap();
        assert!(r > 0, "closed after {at} bytes");
        at += r;
        if at < 20_000_000 {
            // A slow reader for the first 20 MB.
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            peak = peak.max(rss_mb());
        }
    }
    // The receive buffer itself is 300 MB and is touched as it fills: compare while it was
    // still small (the first 20 MB), where a reply built whole would already show.
    assert!(
        peak < base + 20 + 48,
        "RSS {base} MB -> {peak} MB while streaming"
    );
    for (i, chunk) in got[..n * one.len()].chunks(one.len()).enumerate() {
        assert!(chunk == one.as_slice(), "value {i} differs");
    }
    assert_eq!(&got[n * one.len()..], b"END\r\n");
    node.shutdown().await;
}
