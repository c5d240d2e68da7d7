//! Shared helpers for the engine's integration tests: start a real node on an ephemeral port and
//! talk to it with raw RESP over TCP (exact wire assertions) or the `redis` crate.

#![allow(dead_code)]

use ecl_redis::{RedisConfig, RedisNode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Starts a node with the test defaults, adjusted by `f`.
pub fn start_with(f: impl FnOnce(&mut RedisConfig)) -> RedisNode {
    let mut cfg = RedisConfig::for_tests();
    f(&mut cfg);
    RedisNode::start(cfg).expect("node starts")
}

/// Starts a default node.
pub fn start() -> RedisNode {
    start_with(|_| {})
}

/// A raw RESP connection.
pub struct Raw {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

/// Length of the first complete RESP frame in `b`, if complete.
pub fn frame_len(b: &[u8]) -> Option<usize> {
    let line_end = |from: usize| -> Option<usize> {
        b.get(from..)?
            .windows(2)
            .position(|w| w == b"\r\n")
            .map(|p| from + p)
    };
    let t = *b.first()?;
    let e = line_end(1)?;
    let head = std::str::from_utf8(&b[1..e]).ok()?;
    match t {
        b'+' | b'-' | b':' | b'_' | b'#' | b',' | b'(' => Some(e + 2),
        b'$' | b'=' | b'!' => {
            let n: i64 = head.parse().ok()?;
            if n < 0 {
                return Some(e + 2);
            }
            let end = e + 2 + n as usize + 2;
            if b.len() >= end { Some(end) } else { None }
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n: i64 = head.parse().ok()?;
            if n < 0 {
                return Some(e + 2);
            }
            let n = if t == b'%' || t == b'|' { n * 2 } else { n };
            let mut pos = e + 2;
            for _ in 0..n {
                pos += frame_len(&b[pos..])?;
            }
            // An attribute precedes the real reply.
            if t == b'|' {
                pos += frame_len(&b[pos..])?;
            }
            Some(pos)
        }
        _ => None,
    }
}

impl Raw {
    /// Connects to a node.
    pub async fn connect(node: &RedisNode) -> Raw {
        let stream = TcpStream::connect(node.local_addr())
            .await
            .expect("connect");
        Raw {
            stream,
            buf: Vec::new(),
        }
    }

    /// Connects to any RESP server (e.g. a real `redis-server` in differential tests).
    pub async fn connect_addr(addr: std::net::SocketAddr) -> Raw {
        let stream = TcpStream::connect(addr).await.expect("connect");
        Raw {
            stream,
            buf: Vec::new(),
        }
    }

    /// Sends raw bytes.
    pub async fn send_raw(&mut self, b: &[u8]) {
        self.stream.write_all(b).await.expect("write");
    }

    /// Sends raw bytes to a server that may close the connection while they are on their way
    /// (a client it evicts for its query buffer): a reset is one of the outcomes under test.
    pub async fn send_raw_may_close(&mut self, b: &[u8]) {
        let _ = self.stream.write_all(b).await;
    }

    /// Sends a command as a multibulk request.
    pub async fn send(&mut self, args: &[&str]) {
        let mut b = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            b.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            b.extend_from_slice(a.as_bytes());
            b.extend_from_slice(b"\r\n");
        }
        self.send_raw(&b).await;
    }

    /// Sends a binary-safe command and reads the raw reply bytes.
    pub async fn cmd_bytes(&mut self, args: &[&[u8]]) -> Vec<u8> {
        let mut b = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            b.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            b.extend_from_slice(a);
            b.extend_from_slice(b"\r\n");
        }
        self.send_raw(&b).await;
        loop {
            if let Some(n) = frame_len(&self.buf) {
                return self.buf.drain(..n).collect();
            }
            let mut tmp = vec![0u8; 65536];
            let n = self.stream.read(&mut tmp).await.expect("read");
            assert!(n > 0, "connection closed");
            self.buf.extend_from_slice(&tmp[..n]);
        }
    }

    /// Reads one complete reply, as text (lossy).
    pub async fn read(&mut self) -> String {
        loop {
            if let Some(n) = frame_len(&self.buf) {
                let frame: Vec<u8> = self.buf.drain(..n).collect();
                return String::from_utf8_lossy(&frame).into_owned();
            }
            let mut tmp = vec![0u8; 65536];
            let n = self.stream.read(&mut tmp).await.expect("read");
            assert!(
                n > 0,
                "connection closed while waiting for a reply; buffered: {:?}",
                String::from_utf8_lossy(&self.buf)
            );
            self.buf.extend_from_slice(&tmp[..n]);
        }
    }

    /// Sends a command and reads its reply.
    pub async fn cmd(&mut self, args: &[&str]) -> String {
        self.send(args).await;
        self.read().await
    }

    /// Whether the server closed the connection (reads until EOF).
    pub async fn closed(&mut self) -> bool {
        let mut tmp = vec![0u8; 1024];
        loop {
            match self.stream.read(&mut tmp).await {
                Ok(0) | Err(_) => return true,
                Ok(n) => self.buf.extend_from_slice(&tmp[..n]),
            }
        }
    }
}

/// A `redis` crate connection to the node.
pub async fn client(node: &RedisNode) -> redis::aio::MultiplexedConnection {
    let url = format!("redis://{}/", node.local_addr());
    redis::Client::open(url)
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("connect")
}

/// Debian's redis-server on a free port (`--save '' --appendonly no` plus the caller's
/// options), the reference of the differential tests; stopped when dropped.
pub struct ReferenceRedis {
    child: std::process::Child,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
}

impl ReferenceRedis {
    /// Starts it, or `None` when redis-server is not installed.
    pub fn start(extra: &[&str]) -> Option<ReferenceRedis> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        // A directory of its own: redis-server loads a dump.rdb from its working directory.
        let dir = std::env::temp_dir().join(format!("ecl-reference-redis-{port}"));
        std::fs::create_dir_all(&dir).ok()?;
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .args(extra)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        Some(ReferenceRedis { child, port })
    }
}

impl ReferenceRedis {
    /// A connection to it, once it listens (it may still be starting).
    pub async fn connect(&self) -> Raw {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        for _ in 0..100 {
            if TcpStream::connect(addr).await.is_ok() {
                return Raw::connect_addr(addr).await;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("redis-server did not listen on {addr}");
    }
}

impl Drop for ReferenceRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A node of the given flavour and engine version.
pub fn node(flavor: ecl_redis::Flavor, version: &str) -> RedisNode {
    start_with(|c| {
        c.flavor = flavor;
        c.engine_version = version.into();
    })
}

/// One command through the `redis` crate, its reply converted to `T`.
pub async fn query<T: redis::FromRedisValue>(
    con: &mut redis::aio::MultiplexedConnection,
    args: &[&str],
) -> redis::RedisResult<T> {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query_async(con).await
}

/// The error text of a failed call.
pub fn err_text<T: std::fmt::Debug>(r: redis::RedisResult<T>) -> String {
    let e = r.expect_err("an error reply");
    format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or(""))
}

/// One command with a deadline: a reply that never comes fails the test naming the command,
/// instead of hanging it (busy-script tests).
pub async fn step(c: &mut Raw, args: &[&str]) -> String {
    tokio::time::timeout(std::time::Duration::from_secs(10), c.cmd(args))
        .await
        .unwrap_or_else(|_| panic!("no reply to {args:?} within 10 s"))
}

/// Asserts two transcripts (ours, redis-server's) are the same, naming the first step that
/// differs.
pub fn assert_same_steps(what: &str, ours: &[String], theirs: &[String]) {
    for (i, (o, t)) in ours.iter().zip(theirs).enumerate() {
        assert_eq!(o, t, "{what}, step {i}");
    }
    assert_eq!(ours.len(), theirs.len(), "{what}: steps");
}

/// The next reply or message, with a deadline: one that never comes fails the test instead of
/// hanging it.
pub async fn step_read(c: &mut Raw) -> String {
    tokio::time::timeout(std::time::Duration::from_secs(10), c.read())
        .await
        .unwrap_or_else(|_| panic!("nothing arrived within 10 s"))
}

/// Runs `transcript` with two connections to a fresh redis-server, then with two to a fresh
/// node of ours: `(ours, theirs)`, or `None` when redis-server is not installed.
pub async fn ours_and_theirs<T, F, Fut>(transcript: F) -> Option<(T, T)>
where
    F: Fn(Raw, Raw) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let real = ReferenceRedis::start(&[])?;
    let theirs = transcript(real.connect().await, real.connect().await).await;
    let node = start();
    let ours = transcript(Raw::connect(&node).await, Raw::connect(&node).await).await;
    Some((ours, theirs))
}

/// [`ours_and_theirs`] for transcripts that open connections of their own: the address of a
/// fresh redis-server, then of a fresh node of ours.
pub async fn ours_and_theirs_at<T, F, Fut>(transcript: F) -> Option<(T, T)>
where
    F: Fn(std::net::SocketAddr) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let real = ReferenceRedis::start(&[])?;
    drop(real.connect().await);
    let theirs = transcript(std::net::SocketAddr::from(([127, 0, 0, 1], real.port))).await;
    let node = start();
    let ours = transcript(node.local_addr()).await;
    Some((ours, theirs))
}

/// A node whose scripts count as busy after `ms` milliseconds (`busy-reply-threshold`): the
/// busy-script tests.
pub fn start_busy_after_ms(ms: u32) -> RedisNode {
    start_with(|cfg| {
        cfg.parameters
            .push(("busy-reply-threshold".into(), ms.to_string()));
    })
}
