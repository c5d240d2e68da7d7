//! Shared helpers of the integration tests: start a real node on an ephemeral port and talk
//! to it over a raw TCP socket, comparing replies byte for byte.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use ecl_memcached::{MemcachedConfig, MemcachedNode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Guard against a hung server: no reply in this long fails the test instead of hanging it.
const HANG_GUARD: Duration = Duration::from_secs(20);

/// Starts a node with the test defaults changed by `f`.
pub fn start_with(f: impl FnOnce(&mut MemcachedConfig)) -> MemcachedNode {
    let mut config = MemcachedConfig::for_tests();
    f(&mut config);
    match MemcachedNode::start(config) {
        Ok(node) => node,
        Err(e) => panic!("node did not start: {e}"),
    }
}

/// Starts a node with the test defaults.
pub fn start() -> MemcachedNode {
    start_with(|_| {})
}

/// A raw connection.
pub struct Conn {
    pub stream: TcpStream,
}

impl Conn {
    pub async fn connect(addr: SocketAddr) -> Conn {
        match TcpStream::connect(addr).await {
            Ok(stream) => Conn { stream },
            Err(e) => panic!("connect {addr}: {e}"),
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        if let Err(e) = self.stream.write_all(bytes).await {
            panic!("write: {e}");
        }
    }

    /// Reads exactly `n` bytes.
    pub async fn read_n(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0u8; n];
        match tokio::time::timeout(HANG_GUARD, self.stream.read_exact(&mut buf)).await {
            Ok(Ok(_)) => buf,
            Ok(Err(e)) => panic!("read {n} bytes: {e}"),
            Err(_) => panic!("no reply of {n} bytes"),
        }
    }

    /// Reads one line including `\r\n`.
    pub async fn read_line(&mut self) -> Vec<u8> {
        let mut line = Vec::new();
        while !line.ends_with(b"\r\n") {
            let b = self.read_n(1).await;
            line.extend_from_slice(&b);
        }
        line
    }

    /// Reads lines until (and including) one equal to `last`.
    pub async fn read_until_line(&mut self, last: &[u8]) -> Vec<u8> {
        let mut all = Vec::new();
        loop {
            let line = self.read_line().await;
            all.extend_from_slice(&line);
            if line == last {
                return all;
            }
        }
    }

    /// Sends `req` and asserts the reply is exactly `reply`.
    pub async fn expect(&mut self, req: &[u8], reply: &[u8]) {
        self.send(req).await;
        let got = self.read_n(reply.len()).await;
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(reply),
            "request {:?}",
            String::from_utf8_lossy(&req[..req.len().min(200)])
        );
    }

    /// Whether the server closed the connection (reads until EOF).
    pub async fn is_closed(&mut self) -> bool {
        let mut buf = [0u8; 64];
        loop {
            match tokio::time::timeout(HANG_GUARD, self.stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => continue,
                Err(_) => return false,
            }
        }
    }

    /// `gets` the CAS of `key`.
    pub async fn cas_of(&mut self, key: &str) -> u64 {
        self.send(format!("gets {key}\r\n").as_bytes()).await;
        let line = String::from_utf8_lossy(&self.read_line().await).to_string();
        let cas = line
            .trim_end()
            .rsplit(' ')
            .next()
            .and_then(|c| c.parse().ok());
        let _ = self.read_until_line(b"END\r\n").await;
        cas.unwrap_or_else(|| panic!("no cas in {line:?}"))
    }
}

/// Reads `STAT name value` lines of `stats [args]` into pairs.
pub async fn stats(conn: &mut Conn, args: &str) -> Vec<(String, String)> {
    let cmd = if args.is_empty() {
        "stats\r\n".to_string()
    } else {
        format!("stats {args}\r\n")
    };
    conn.send(cmd.as_bytes()).await;
    let text = conn.read_until_line(b"END\r\n").await;
    String::from_utf8_lossy(&text)
        .lines()
        .filter_map(|l| l.strip_prefix("STAT "))
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// One statistic as a number.
pub fn stat(stats: &[(String, String)], name: &str) -> u64 {
    stats
        .iter()
        .find(|(k, _)| k == name)
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or_else(|| panic!("no numeric stat {name}"))
}
