//! Stream commands over the wire: a seeded differential run of generated XADD / XLEN /
//! XRANGE / XREVRANGE / XDEL / XTRIM / XREAD / XSETID / XGROUP / XREADGROUP / XACK /
//! XPENDING commands (explicit IDs, so both servers agree on time)
//! against the installed redis-server, replies compared byte for byte in RESP2 and RESP3
//! (skipped when no redis-server is installed), plus a scripted consumer-group story and the
//! keyspace events of stream and geo writes compared the same way, and each run's streams
//! DUMPed on one server and RESTOREd on the other; the auto-ID forms,
//! blocking reads and replication are checked on their own.

mod common;

use common::{Raw, start_with};
use ecl_redis::RedisNode;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn start_70() -> RedisNode {
    start_with(|c| c.engine_version = "7.0.15".to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_ids_and_types() {
    let node = start_70();
    let mut c = Raw::connect(&node).await;
    let first = c.cmd(&["XADD", "s", "*", "a", "1"]).await;
    let ms: u64 = first[first.find("\r\n").map_or(0, |p| p + 2)..]
        .split('-')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    assert!(ms > 1_600_000_000_000, "{first}");
    let third = c
        .cmd(&["XADD", "s", &format!("{}-*", ms + 5), "b", "2"])
        .await;
    assert!(third.ends_with(&format!("{}-0\r\n", ms + 5)), "{third}");
    let fourth = c
        .cmd(&["XADD", "s", &format!("{}-*", ms + 5), "c", "3"])
        .await;
    assert!(fourth.ends_with(&format!("{}-1\r\n", ms + 5)), "{fourth}");
    assert_eq!(c.cmd(&["XLEN", "s"]).await, ":3\r\n");
    assert_eq!(c.cmd(&["TYPE", "s"]).await, "+stream\r\n");
    assert_eq!(
        c.cmd(&["OBJECT", "ENCODING", "s"]).await,
        "$6\r\nstream\r\n"
    );
    assert_eq!(
        c.cmd(&["XADD", "s", "1-1", "a", "1"]).await,
        "-ERR The ID specified in XADD is equal or smaller than the target stream top item\r\n"
    );
    assert_eq!(
        c.cmd(&["XADD", "nope", "NOMKSTREAM", "*", "a", "1"]).await,
        "$-1\r\n"
    );
    // XDEL / XTRIM that remove nothing leave WATCH alone.
    c.cmd(&["WATCH", "s"]).await;
    assert_eq!(c.cmd(&["XDEL", "s", "999-0"]).await, ":0\r\n");
    assert_eq!(c.cmd(&["XTRIM", "s", "MAXLEN", "100"]).await, ":0\r\n");
    c.cmd(&["MULTI"]).await;
    c.cmd(&["XLEN", "s"]).await;
    assert_eq!(c.cmd(&["EXEC"]).await, "*1\r\n:3\r\n");
    // An emptied stream stays (streams are not removed when their last entry goes).
    c.cmd(&["XTRIM", "s", "MAXLEN", "0"]).await;
    assert_eq!(c.cmd(&["EXISTS", "s"]).await, ":1\r\n");
}

/// Auto IDs and `~` trims reach a replica as the IDs and exact trims the primary used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_gets_generated_ids_and_exact_trims() {
    let p = start_70();
    let r = start_70();
    r.replicate_from(&p, (p.local_addr().ip().to_string(), p.local_addr().port()));
    let mut c = Raw::connect(&p).await;
    c.cmd(&["CONFIG", "SET", "stream-node-max-entries", "5"])
        .await;
    for i in 0..23 {
        let n = i.to_string();
        c.cmd(&["XADD", "s", "MAXLEN", "~", "12", "*", "n", &n])
            .await;
        c.cmd(&["XADD", "t", "7-*", "n", &n]).await;
    }
    assert_eq!(c.cmd(&["WAIT", "1", "5000"]).await, ":1\r\n");
    let mut rc = Raw::connect(&r).await;
    for args in [["XRANGE", "s", "-", "+"], ["XRANGE", "t", "-", "+"]] {
        let (a, b) = (c.cmd(&args).await, rc.cmd(&args).await);
        assert_eq!(a, b, "{args:?}");
    }
    // Whole nodes of five went: 23 entries trimmed to at least 12 leave 13.
    assert_eq!(c.cmd(&["XLEN", "s"]).await, ":13\r\n");
    assert_eq!(rc.cmd(&["XLEN", "s"]).await, ":13\r\n");
}

/// XREAD BLOCK: `$` waits for entries added after the call, a timeout answers a null array,
/// and a missing key is served once XADD creates it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xread_blocks_until_xadd() {
    let node = start_70();
    let mut w = Raw::connect(&node).await;
    let mut r = Raw::connect(&node).await;
    w.cmd(&["XADD", "s", "1-1", "old", "x"]).await;
    r.send(&["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    w.cmd(&["XADD", "s", "2-1", "new", "y"]).await;
    assert_eq!(
        r.read().await,
        "*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n2-1\r\n*2\r\n$3\r\nnew\r\n$1\r\ny\r\n"
    );
    assert_eq!(
        r.cmd(&["XREAD", "BLOCK", "50", "STREAMS", "s", "$"]).await,
        "*-1\r\n"
    );
    r.cmd(&["HELLO", "3"]).await;
    r.send(&["XREAD", "COUNT", "1", "BLOCK", "0", "STREAMS", "fresh", "$"])
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    w.cmd(&["XADD", "fresh", "5-5", "a", "b"]).await;
    assert_eq!(
        r.read().await,
        "%1\r\n$5\r\nfresh\r\n*1\r\n*2\r\n$3\r\n5-5\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n"
    );
}

/// XREADGROUP BLOCK with `>` is served by the next XADD, records the delivery as pending,
/// and XACK clears it; destroying the group answers a waiting reader NOGROUP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xreadgroup_blocks_and_acks() {
    let node = start_70();
    let mut w = Raw::connect(&node).await;
    let mut r = Raw::connect(&node).await;
    assert_eq!(
        w.cmd(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"])
            .await,
        "+OK\r\n"
    );
    r.send(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "BLOCK",
        "0",
        "STREAMS",
        "s",
        ">",
    ])
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    w.cmd(&["XADD", "s", "3-1", "k", "v"]).await;
    assert_eq!(
        r.read().await,
        "*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n3-1\r\n*2\r\n$1\r\nk\r\n$1\r\nv\r\n"
    );
    assert_eq!(
        w.cmd(&["XPENDING", "s", "g"]).await,
        "*4\r\n:1\r\n$3\r\n3-1\r\n$3\r\n3-1\r\n*1\r\n*2\r\n$1\r\nc\r\n$1\r\n1\r\n"
    );
    assert_eq!(w.cmd(&["XACK", "s", "g", "3-1"]).await, ":1\r\n");
    assert_eq!(
        w.cmd(&["XPENDING", "s", "g"]).await,
        "*4\r\n:0\r\n$-1\r\n$-1\r\n*-1\r\n"
    );
    r.send(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "BLOCK",
        "0",
        "STREAMS",
        "s",
        ">",
    ])
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(w.cmd(&["XGROUP", "DESTROY", "s", "g"]).await, ":1\r\n");
    assert_eq!(
        r.read().await,
        "-NOGROUP the consumer group this client was blocked on no longer exists\r\n"
    );
}

/// A reader blocked on several streams is served from the key signalled first in a
/// transaction, with that stream alone (replies as redis-server 7.0.15 gives them): new entries
/// on s1 before s2's group is destroyed, s2 deleted before s1's group is destroyed, and two
/// streams written in one EXEC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_reader_served_from_first_ready_stream() {
    let node = start_70();
    let mut w = Raw::connect(&node).await;
    let mut r = Raw::connect(&node).await;
    let entry_5_1 = |key: &str| {
        format!("*1\r\n*2\r\n$2\r\n{key}\r\n*1\r\n*2\r\n$3\r\n5-1\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n")
    };
    let group_read = [
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "BLOCK",
        "0",
        "STREAMS",
        "s1",
        "s2",
        ">",
        ">",
    ];
    let cases: [(&[&str], &[&str], String); 3] = [
        (
            &["XADD", "s1", "5-1", "a", "b"],
            &["XGROUP", "DESTROY", "s2", "g"],
            entry_5_1("s1"),
        ),
        (
            &["DEL", "s2"],
            &["XGROUP", "DESTROY", "s1", "g"],
            "-UNBLOCKED the stream key no longer exists\r\n".to_string(),
        ),
        (
            &["XGROUP", "DESTROY", "s2", "g"],
            &["DEL", "s1"],
            "-NOGROUP the consumer group this client was blocked on no longer exists\r\n"
                .to_string(),
        ),
    ];
    for (first, second, want) in cases {
        w.cmd(&["FLUSHALL"]).await;
        for s in ["s1", "s2"] {
            w.cmd(&["XADD", s, "1-1", "f", "v"]).await;
            w.cmd(&["XGROUP", "CREATE", s, "g", "$"]).await;
        }
        r.send(&group_read).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        w.cmd(&["MULTI"]).await;
        w.cmd(first).await;
        w.cmd(second).await;
        w.cmd(&["EXEC"]).await;
        assert_eq!(r.read().await, want, "{first:?} then {second:?}");
    }
    r.send(&["XREAD", "BLOCK", "0", "STREAMS", "s1", "s2", "$", "$"])
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    w.cmd(&["MULTI"]).await;
    w.cmd(&["XADD", "s2", "5-1", "a", "b"]).await;
    w.cmd(&["XADD", "s1", "5-1", "a", "b"]).await;
    w.cmd(&["EXEC"]).await;
    assert_eq!(r.read().await, entry_5_1("s2"));
}

/// A raw connection that sends binary-safe commands and returns the raw reply bytes.
struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    async fn open(addr: std::net::SocketAddr) -> Conn {
        for _ in 0..100 {
            if let Ok(s) = TcpStream::connect(addr).await {
                return Conn { s, buf: Vec::new() };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("cannot connect to {addr}");
    }

    async fn cmd(&mut self, args: &[String]) -> Vec<u8> {
        let mut b = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            b.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
        }
        self.s.write_all(&b).await.expect("write");
        self.read_frame().await
    }

    /// A command of binary arguments (DUMP payloads).
    async fn cmd_bytes(&mut self, args: &[&[u8]]) -> Vec<u8> {
        let mut b = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            b.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            b.extend_from_slice(a);
            b.extend_from_slice(b"\r\n");
        }
        self.s.write_all(&b).await.expect("write");
        self.read_frame().await
    }

    async fn read_frame(&mut self) -> Vec<u8> {
        loop {
            if let Some(n) = common::frame_len(&self.buf) {
                return self.buf.drain(..n).collect();
            }
            let mut tmp = vec![0u8; 65536];
            let n = self.s.read(&mut tmp).await.expect("read");
            assert!(n > 0, "connection closed");
            self.buf.extend_from_slice(&tmp[..n]);
        }
    }
}

/// The generator of stream commands.
struct Gen {
    rng: StdRng,
    /// Around where new IDs' milliseconds are.
    clock: u64,
}

impl Gen {
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.rng.random_range(0..items.len())]
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn key(&mut self) -> String {
        self.pick(&[
            "s1", "s1", "s1", "s1", "s1", "s1", "s1", "s2", "s2", "s2", "str", "missing",
        ])
        .to_string()
    }

    /// An ID text near the clock: full, partial, `ms-*` (when `auto`), or invalid.
    fn id(&mut self, auto: bool) -> String {
        let ms = self
            .clock
            .saturating_add_signed(self.rng.random_range(-3..8));
        match self.rng.random_range(0..30) {
            // No XADD of the largest ID: it would end the stream's life for the whole run.
            0 if auto => self
                .pick(&["abc", "-5", "1-2-3", "0-0", "+", " 5", "+7", "5-x"])
                .to_string(),
            0 => self
                .pick(&[
                    "abc",
                    "-5",
                    "1-2-3",
                    "0-0",
                    "+",
                    "-",
                    "18446744073709551615-18446744073709551615",
                    " 5",
                    "+7",
                    "5-x",
                    "",
                ])
                .to_string(),
            1..=6 => ms.to_string(),
            7..=11 if auto => format!("{ms}-*"),
            _ => format!("{ms}-{}", self.rng.random_range(0..3)),
        }
    }

    fn trim_opts(&mut self, v: &mut Vec<String>) {
        let maxlen = self.chance(0.6);
        v.push(if maxlen { "MAXLEN" } else { "MINID" }.to_string());
        let approx = self.rng.random_range(0..3);
        if approx == 1 {
            v.push("~".to_string());
        } else if approx == 2 {
            v.push("=".to_string());
        }
        if maxlen {
            let n = self.pick(&["0", "1", "5", "30", "60", "100", "150", "-1", "x"]);
            v.push(n.to_string());
        } else {
            let id = self.id(false);
            v.push(id);
        }
        if self.chance(0.2) {
            v.push("LIMIT".to_string());
            v.push(self.pick(&["0", "5", "20", "100", "-1"]).to_string());
        }
    }

    fn xadd(&mut self) -> Vec<String> {
        self.clock += self.rng.random_range(0..3);
        let mut v = vec!["XADD".to_string(), self.key()];
        if self.chance(0.1) {
            v.push("NOMKSTREAM".to_string());
        }
        if self.chance(0.25) {
            self.trim_opts(&mut v);
        }
        let id = self.id(true);
        v.push(id);
        for i in 0..self.rng.random_range(1..4) {
            v.push(format!("f{i}"));
            v.push(format!("v{}", self.rng.random_range(0..100)));
        }
        if self.chance(0.04) {
            v.pop();
        }
        v
    }

    fn bound(&mut self, start: bool) -> String {
        match self.rng.random_range(0..10) {
            0 => if start { "-" } else { "+" }.to_string(),
            1 => if start { "+" } else { "-" }.to_string(),
            2 | 3 => format!("({}", self.id(false)),
            _ => self.id(false),
        }
    }

    fn range(&mut self) -> Vec<String> {
        let rev = self.chance(0.4);
        let mut v = vec![
            if rev { "XREVRANGE" } else { "XRANGE" }.to_string(),
            self.key(),
        ];
        let (a, b) = (self.bound(!rev), self.bound(rev));
        v.push(a);
        v.push(b);
        if self.chance(0.5) {
            v.push("COUNT".to_string());
            v.push(self.pick(&["0", "1", "3", "10", "-1", "x"]).to_string());
        }
        if self.chance(0.03) {
            v.push("junk".to_string());
        }
        v
    }

    fn xread(&mut self) -> Vec<String> {
        let mut v = vec!["XREAD".to_string()];
        if self.chance(0.5) {
            v.push("COUNT".to_string());
            v.push(self.pick(&["0", "1", "2", "5", "-1", "x"]).to_string());
        }
        if self.chance(0.1) {
            // Never blocks here: BLOCK only matters when nothing can be served, and then
            // both servers would wait; so only a bad timeout is sent.
            v.push("BLOCK".to_string());
            v.push(self.pick(&["-1", "x"]).to_string());
        }
        v.push("STREAMS".to_string());
        let n = self.rng.random_range(1..3);
        let keys: Vec<String> = (0..n).map(|_| self.key()).collect();
        v.extend(keys);
        for _ in 0..n {
            let id = if self.chance(0.15) {
                "$".to_string()
            } else {
                self.id(false)
            };
            v.push(id);
        }
        if self.chance(0.03) {
            v.pop();
        }
        v
    }

    fn xsetid(&mut self) -> Vec<String> {
        let mut v = vec!["XSETID".to_string(), self.key()];
        let id = self.id(false);
        v.push(id);
        if self.chance(0.3) {
            v.push("ENTRIESADDED".to_string());
            v.push(self.pick(&["0", "5", "100", "1000", "-1", "x"]).to_string());
        }
        if self.chance(0.3) {
            v.push("MAXDELETEDID".to_string());
            let id = self.id(false);
            v.push(id);
        }
        if self.chance(0.03) {
            v.push("junk".to_string());
        }
        v
    }

    fn group(&mut self) -> String {
        self.pick(&["g1", "g1", "g2", "nog"]).to_string()
    }

    fn consumer(&mut self) -> String {
        self.pick(&["alice", "bob", "carol"]).to_string()
    }

    fn xgroup(&mut self) -> Vec<String> {
        let sub = self.pick(&[
            "CREATE",
            "CREATE",
            "SETID",
            "DESTROY",
            "CREATECONSUMER",
            "DELCONSUMER",
            "create",
        ]);
        let mut v = vec![
            "XGROUP".to_string(),
            sub.to_string(),
            self.key(),
            self.group(),
        ];
        match sub.to_ascii_uppercase().as_str() {
            "CREATE" | "SETID" => {
                let id = if self.chance(0.3) {
                    "$".to_string()
                } else {
                    self.id(false)
                };
                v.push(id);
                if sub.eq_ignore_ascii_case("create") && self.chance(0.3) {
                    v.push("MKSTREAM".to_string());
                }
                if self.chance(0.2) {
                    v.push("ENTRIESREAD".to_string());
                    v.push(self.pick(&["0", "3", "-1", "-2", "x"]).to_string());
                }
            }
            "DESTROY" => {}
            _ => v.push(self.consumer()),
        }
        if self.chance(0.03) {
            v.push("junk".to_string());
        }
        v
    }

    fn xreadgroup(&mut self) -> Vec<String> {
        let mut v = vec!["XREADGROUP".to_string()];
        if !self.chance(0.03) {
            v.extend([("GROUP".to_string()), self.group(), self.consumer()]);
        }
        if self.chance(0.5) {
            v.push("COUNT".to_string());
            v.push(self.pick(&["1", "2", "5", "0"]).to_string());
        }
        if self.chance(0.2) {
            v.push("NOACK".to_string());
        }
        v.push("STREAMS".to_string());
        let n = self.rng.random_range(1..3);
        let keys: Vec<String> = (0..n)
            .map(|_| self.pick(&["s1", "s1", "s2"]).to_string())
            .collect();
        v.extend(keys);
        for _ in 0..n {
            let id = match self.rng.random_range(0..10) {
                0..=5 => ">".to_string(),
                6 => "0".to_string(),
                7 => "$".to_string(),
                _ => self.id(false),
            };
            v.push(id);
        }
        v
    }

    fn xpending(&mut self) -> Vec<String> {
        let mut v = vec!["XPENDING".to_string(), self.key(), self.group()];
        if self.chance(0.6) {
            if self.chance(0.3) {
                v.push("IDLE".to_string());
                v.push(self.pick(&["0", "100000", "x"]).to_string());
            }
            let (a, b) = (self.bound(true), self.bound(false));
            v.push(a);
            v.push(b);
            v.push(self.pick(&["1", "3", "10", "-1", "x"]).to_string());
            if self.chance(0.4) {
                v.push(self.consumer());
            }
        }
        v
    }

    fn xack(&mut self) -> Vec<String> {
        let mut v = vec!["XACK".to_string(), self.key(), self.group()];
        for _ in 0..self.rng.random_range(1..4) {
            let id = self.id(false);
            v.push(id);
        }
        v
    }

    fn xclaim(&mut self) -> Vec<String> {
        let auto = self.chance(0.4);
        let name = if auto { "XAUTOCLAIM" } else { "XCLAIM" };
        let mut v = vec![name.to_string(), self.key(), self.group(), self.consumer()];
        v.push(
            self.pick(&["0", "0", "0", "100000000", "-5", "x"])
                .to_string(),
        );
        if auto {
            v.push(self.bound(true));
            if self.chance(0.5) {
                v.push("COUNT".to_string());
                v.push(self.pick(&["1", "2", "5", "0", "x"]).to_string());
            }
            if self.chance(0.3) {
                v.push("JUSTID".to_string());
            }
            return v;
        }
        for _ in 0..self.rng.random_range(1..4) {
            let id = self.id(false);
            v.push(id);
        }
        for _ in 0..self.rng.random_range(0..3) {
            match self.rng.random_range(0..7) {
                0 => v.push("FORCE".to_string()),
                1 => v.push("JUSTID".to_string()),
                2 => v.extend([
                    "IDLE".to_string(),
                    self.pick(&["0", "5000", "x"]).to_string(),
                ]),
                3 => v.extend([
                    "TIME".to_string(),
                    self.pick(&["0", "99999999999999", "x"]).to_string(),
                ]),
                4 => v.extend([
                    "RETRYCOUNT".to_string(),
                    self.pick(&["0", "7", "-1", "x"]).to_string(),
                ]),
                5 => {
                    let id = self.id(false);
                    v.extend(["LASTID".to_string(), id]);
                }
                _ => v.push("BOGUS".to_string()),
            }
        }
        v
    }

    fn xinfo(&mut self) -> Vec<String> {
        let sub = self.pick(&["STREAM", "STREAM", "GROUPS", "CONSUMERS", "STREAM"]);
        let mut v = vec!["XINFO".to_string(), sub.to_string(), self.key()];
        match sub {
            "CONSUMERS" => v.push(self.group()),
            "STREAM" if self.chance(0.4) => {
                v.push("FULL".to_string());
                if self.chance(0.5) {
                    v.push("COUNT".to_string());
                    v.push(self.pick(&["0", "2", "-1", "x"]).to_string());
                }
            }
            _ => {}
        }
        v
    }

    fn next(&mut self) -> Vec<String> {
        match self.rng.random_range(0..30) {
            28 | 29 => return self.xinfo(),
            26 | 27 => return self.xclaim(),
            20 | 21 => return self.xgroup(),
            22 | 23 => return self.xreadgroup(),
            24 => return self.xpending(),
            25 => return self.xack(),
            _ => {}
        }
        match self.rng.random_range(0..20) {
            0..=8 => self.xadd(),
            9..=12 => self.range(),
            13 | 14 => {
                let mut v = vec!["XDEL".to_string(), self.key()];
                for _ in 0..self.rng.random_range(1..4) {
                    let id = self.id(false);
                    v.push(id);
                }
                v
            }
            15 => {
                let mut v = vec!["XTRIM".to_string(), self.key()];
                self.trim_opts(&mut v);
                v
            }
            16 if self.chance(0.5) => vec!["XLEN".to_string(), self.key()],
            16 => self.xread(),
            17 if self.chance(0.5) => vec!["TYPE".to_string(), self.key()],
            17 => self.xsetid(),
            18 => vec!["OBJECT".to_string(), "ENCODING".to_string(), self.key()],
            _ => {
                let name = self.pick(&["XADD", "XLEN", "XRANGE", "XDEL", "XTRIM"]);
                vec![name.to_string(), self.key()]
            }
        }
    }
}

/// Sends `n` generated commands to both servers and returns (mismatches, errors, replies).
async fn run_sequence(seed: u64, n: usize, mine: &RedisNode, port: u16) -> (Vec<String>, usize) {
    let real: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let (mut m2, mut m3) = (
        Conn::open(mine.local_addr()).await,
        Conn::open(mine.local_addr()).await,
    );
    let (mut r2, mut r3) = (Conn::open(real).await, Conn::open(real).await);
    let hello = vec!["HELLO".to_string(), "3".to_string()];
    m3.cmd(&hello).await;
    r3.cmd(&hello).await;
    for c in [&mut m2, &mut r2] {
        c.cmd(&["FLUSHALL".to_string()]).await;
        c.cmd(&["SET", "str", "v"].map(String::from)).await;
        // Small nodes, so approximate trims meet node boundaries often.
        c.cmd(&["CONFIG", "SET", "stream-node-max-entries", "10"].map(String::from))
            .await;
    }
    let mut g = Gen {
        rng: StdRng::seed_from_u64(seed),
        clock: 1000,
    };
    let (mut bad, mut errors) = (Vec::new(), 0);
    for i in 0..n {
        let cmd = g.next();
        let resp3 = g.chance(0.4);
        let (mc, rc) = if resp3 {
            (&mut m3, &mut r3)
        } else {
            (&mut m2, &mut r2)
        };
        let (a, b) = (mc.cmd(&cmd).await, rc.cmd(&cmd).await);
        let (a, b) = if cmd[0] == "XPENDING" && cmd.len() >= 6 {
            (zero_idle(&a), zero_idle(&b))
        } else if cmd[0] == "XINFO" {
            (untimed(&a), untimed(&b))
        } else {
            (a, b)
        };
        if std::env::var("STREAM_DIFF_TRACE").is_ok() {
            eprintln!("#{i} {cmd:?} -> {:?}", String::from_utf8_lossy(&b));
        }
        if b.first() == Some(&b'-') {
            errors += 1;
            if std::env::var("STREAM_DIFF_ERRORS").is_ok() {
                eprintln!("{}", String::from_utf8_lossy(&b).trim_end());
            }
        }
        if a != b && bad.len() < 20 {
            // Long replies: show them from a little before where they part.
            let at = a.iter().zip(&b).position(|(x, y)| x != y).unwrap_or(0);
            let from = at.saturating_sub(120);
            bad.push(format!(
                "seed {seed} #{i} resp{} {:?} (differ at byte {at})\n  engine: {:?}\n  redis:  {:?}",
                if resp3 { 3 } else { 2 },
                cmd,
                String::from_utf8_lossy(&a[from.min(a.len())..]),
                String::from_utf8_lossy(&b[from.min(b.len())..])
            ));
        }
    }
    (bad, errors)
}

/// A fixed consumer-group story (deliveries, claims, auto-claims, acks) on both servers, so
/// claims of live entries are compared whatever the random run reaches.
async fn scripted_claims(mine: &RedisNode, port: u16) -> Vec<String> {
    let real: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let (mut m, mut r) = (Conn::open(mine.local_addr()).await, Conn::open(real).await);
    let script: &[&[&str]] = &[
        &["DEL", "cs"],
        &["XADD", "cs", "1-1", "a", "1"],
        &["XADD", "cs", "2-1", "b", "2"],
        &["XADD", "cs", "3-1", "c", "3"],
        &["XADD", "cs", "4-1", "d", "4"],
        &["XGROUP", "CREATE", "cs", "g", "0"],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "alice",
            "COUNT",
            "3",
            "STREAMS",
            "cs",
            ">",
        ],
        &["XCLAIM", "cs", "g", "bob", "0", "1-1", "2-1"],
        &["XCLAIM", "cs", "g", "bob", "0", "2-1", "JUSTID"],
        &["XCLAIM", "cs", "g", "carol", "0", "4-1"],
        &[
            "XCLAIM",
            "cs",
            "g",
            "carol",
            "0",
            "4-1",
            "FORCE",
            "RETRYCOUNT",
            "5",
        ],
        &["XCLAIM", "cs", "g", "bob", "100000000", "3-1"],
        &["XPENDING", "cs", "g"],
        &["XPENDING", "cs", "g", "-", "+", "10"],
        &["XDEL", "cs", "2-1"],
        &["XAUTOCLAIM", "cs", "g", "dave", "0", "0", "COUNT", "1"],
        &["XAUTOCLAIM", "cs", "g", "dave", "0", "0", "COUNT", "2"],
        &["XAUTOCLAIM", "cs", "g", "erin", "0", "(1-1", "JUSTID"],
        &["XPENDING", "cs", "g", "-", "+", "10", "dave"],
        &["XREADGROUP", "GROUP", "g", "dave", "STREAMS", "cs", "0"],
        &["XACK", "cs", "g", "1-1", "3-1", "9-9"],
        &["XGROUP", "DELCONSUMER", "cs", "g", "erin"],
        &["XPENDING", "cs", "g"],
        &[
            "XCLAIM", "cs", "g", "bob", "0", "1-1", "LASTID", "9-0", "JUSTID",
        ],
        &["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "cs", ">"],
    ];
    let mut bad = Vec::new();
    for cmd in script {
        let cmd: Vec<String> = cmd.iter().map(|a| a.to_string()).collect();
        let (a, b) = (m.cmd(&cmd).await, r.cmd(&cmd).await);
        let (a, b) = if cmd[0] == "XPENDING" && cmd.len() >= 6 {
            (zero_idle(&a), zero_idle(&b))
        } else {
            (a, b)
        };
        if a != b {
            bad.push(format!(
                "scripted {:?}\n  engine: {:?}\n  redis:  {:?}",
                cmd,
                String::from_utf8_lossy(&a),
                String::from_utf8_lossy(&b)
            ));
        }
    }
    bad
}

/// The body of a bulk-string reply (a DUMP payload); `None` for anything else.
fn bulk(reply: &[u8]) -> Option<Vec<u8>> {
    let rest = reply.strip_prefix(b"$")?;
    let nl = rest.windows(2).position(|w| w == b"\r\n")?;
    let n: usize = std::str::from_utf8(&rest[..nl]).ok()?.parse().ok()?;
    rest.get(nl + 2..nl + 2 + n).map(<[u8]>::to_vec)
}

/// DUMP of every stream key on one server RESTOREd on the other (as `copy:<key>`): there,
/// XINFO STREAM FULL (times set aside) and XPENDING of each group match the original's.
async fn dump_restore_cross(seed: u64, mine: &RedisNode, port: u16) -> Vec<String> {
    let real: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let (mut m, mut r) = (Conn::open(mine.local_addr()).await, Conn::open(real).await);
    let mut bad = Vec::new();
    let mut streams = 0;
    for key in ["s1", "s2"] {
        let t = r.cmd(&["TYPE".to_string(), key.to_string()]).await;
        if t != b"+stream\r\n" {
            continue;
        }
        streams += 1;
        let copy = format!("copy:{key}");
        for ours_first in [true, false] {
            let (from, to, dir) = if ours_first {
                (&mut m, &mut r, "ours->redis")
            } else {
                (&mut r, &mut m, "redis->ours")
            };
            let payload = bulk(&from.cmd_bytes(&[b"DUMP", key.as_bytes()]).await);
            let Some(payload) = payload else {
                bad.push(format!("seed {seed} {dir}: DUMP {key} gave no payload"));
                continue;
            };
            let restore = [b"RESTORE", copy.as_bytes(), b"0", &payload[..], b"REPLACE"];
            let ok = to.cmd_bytes(&restore).await;
            if ok != b"+OK\r\n" {
                bad.push(format!(
                    "seed {seed} {dir}: RESTORE {key}: {:?}",
                    String::from_utf8_lossy(&ok)
                ));
                continue;
            }
            let info = |k: &str| ["XINFO", "STREAM", k, "FULL", "COUNT", "0"].map(String::from);
            let (a, b) = (to.cmd(&info(key)).await, to.cmd(&info(&copy)).await);
            if untimed(&a) != untimed(&b) {
                bad.push(format!(
                    "seed {seed} {dir}: XINFO STREAM {key} FULL differs after RESTORE\n  original: {:?}\n  restored: {:?}",
                    String::from_utf8_lossy(&a),
                    String::from_utf8_lossy(&b)
                ));
            }
            for g in ["g1", "g2"] {
                let pending = |k: &str| ["XPENDING", k, g, "-", "+", "100"].map(String::from);
                let (a, b) = (to.cmd(&pending(key)).await, to.cmd(&pending(&copy)).await);
                // A missing group's error names the key: only its being an error must match.
                let both_errors = a.first() == Some(&b'-') && b.first() == Some(&b'-');
                if !both_errors && zero_idle(&a) != zero_idle(&b) {
                    bad.push(format!(
                        "seed {seed} {dir}: XPENDING {key} {g} differs after RESTORE\n  original: {:?}\n  restored: {:?}",
                        String::from_utf8_lossy(&a),
                        String::from_utf8_lossy(&b)
                    ));
                }
            }
        }
    }
    if streams == 0 {
        bad.push(format!("seed {seed}: no stream key to DUMP"));
    }
    bad
}

/// XINFO replies with the figures two servers cannot share set to 0: idle times, absolute
/// times (any integer above 10^12), and `radix-tree-nodes` (Redis' internal tree size).
fn untimed(reply: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(reply);
    let mut out = String::new();
    let mut prev = "";
    for line in text.split_inclusive("\r\n") {
        let body = line.trim_end_matches("\r\n");
        let timed = body
            .strip_prefix(':')
            .and_then(|n| n.parse::<i64>().ok())
            .is_some_and(|n| n > 1_000_000_000_000);
        if body.starts_with(':') && (timed || prev == "idle" || prev == "radix-tree-nodes") {
            out.push_str(":0\r\n");
        } else {
            out.push_str(line);
        }
        prev = body;
    }
    out.into_bytes()
}

/// Keyspace events of stream and geo writes, compared with redis-server's: the same
/// commands on both, every `__keyevent@0__` message collected in order.
async fn notifications_match(mine: &RedisNode, port: u16) -> Vec<String> {
    let real: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let script: &[&[&str]] = &[
        &["XADD", "ns", "1-1", "a", "1"],
        &["XADD", "ns", "MAXLEN", "1", "2-1", "b", "2"],
        &["XADD", "ns", "NOMKSTREAM", "3-1", "c", "3"],
        &["XDEL", "ns", "3-1", "9-9"],
        &["XTRIM", "ns", "MAXLEN", "0"],
        &["XSETID", "ns", "5-0"],
        &["XGROUP", "CREATE", "ns", "g", "$"],
        &["XGROUP", "CREATE", "nsm", "g", "$", "MKSTREAM"],
        &["XGROUP", "CREATECONSUMER", "ns", "g", "c1"],
        &["XADD", "ns", "6-1", "d", "4"],
        &["XREADGROUP", "GROUP", "g", "c2", "STREAMS", "ns", ">"],
        &["XCLAIM", "ns", "g", "c3", "0", "6-1"],
        &["XGROUP", "SETID", "ns", "g", "0"],
        &["XGROUP", "DELCONSUMER", "ns", "g", "c1"],
        &["XGROUP", "DESTROY", "ns", "g"],
        &[
            "GEOADD", "geo", "13.36", "38.11", "p", "15.08", "37.50", "c",
        ],
        &[
            "GEOSEARCHSTORE",
            "gdst",
            "geo",
            "FROMLONLAT",
            "14",
            "38",
            "BYRADIUS",
            "500",
            "km",
        ],
        &[
            "GEORADIUS",
            "geo",
            "14",
            "38",
            "500",
            "km",
            "STORE",
            "gdst2",
        ],
        &[
            "GEOSEARCHSTORE",
            "gdst",
            "geo",
            "FROMLONLAT",
            "0",
            "0",
            "BYRADIUS",
            "1",
            "m",
        ],
        &["PING"],
    ];
    let mut seen = Vec::new();
    for addr in [mine.local_addr(), real] {
        let mut c = Conn::open(addr).await;
        let mut sub = Conn::open(addr).await;
        c.cmd(&["FLUSHALL".to_string()]).await;
        c.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEA"].map(String::from))
            .await;
        sub.cmd(&["PSUBSCRIBE", "__keyevent@0__:*"].map(String::from))
            .await;
        for cmd in script {
            c.cmd(&cmd.iter().map(|a| a.to_string()).collect::<Vec<_>>())
                .await;
        }
        // The PING is not an event: read events until both commands' worth arrived.
        c.cmd(&["PUBLISH", "__keyevent@0__:end", "x"].map(String::from))
            .await;
        let mut events = Vec::new();
        loop {
            let m = String::from_utf8_lossy(&sub.read_frame().await).into_owned();
            if m.contains(":end") {
                break;
            }
            events.push(m);
        }
        seen.push(events);
    }
    assert!(seen[1].len() > 15, "too few events: {:?}", seen[1]);
    if seen[0] == seen[1] {
        Vec::new()
    } else {
        vec![format!(
            "notifications differ:\n  engine: {:?}\n  redis:  {:?}",
            seen[0], seen[1]
        )]
    }
}

/// XPENDING's extended rows carry idle milliseconds, which differ between two servers:
/// the first integer of each four-element row is set to 0.
fn zero_idle(reply: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(reply);
    let mut out = String::new();
    let mut in_row = false;
    for line in text.split_inclusive("\r\n") {
        if line == "*4\r\n" {
            in_row = true;
        } else if in_row && line.starts_with(':') {
            in_row = false;
            out.push_str(":0\r\n");
            continue;
        }
        out.push_str(line);
    }
    out.into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn differential_against_redis_server() {
    let Some(real) = common::ReferenceRedis::start(&["--sanitize-dump-payload", "yes"]) else {
        eprintln!("redis-server not installed: differential stream test skipped");
        return;
    };
    let mine = start_70();
    let seeds: Vec<u64> = match std::env::var("STREAM_DIFF_SEED") {
        Ok(s) => vec![s.parse().unwrap_or(1)],
        Err(_) => vec![1, 2, 3],
    };
    let mut bad = scripted_claims(&mine, real.port).await;
    bad.extend(notifications_match(&mine, real.port).await);
    let (mut errors, mut sent) = (0, 0);
    for seed in seeds {
        let (b, e) = run_sequence(seed, 1000, &mine, real.port).await;
        bad.extend(b);
        bad.extend(dump_restore_cross(seed, &mine, real.port).await);
        errors += e;
        sent += 1000;
    }
    eprintln!("stream differential: {sent} commands, {errors} errors");
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
    assert!(errors * 2 < sent, "the generator mostly hit errors");
}
