//! Geo commands over the wire: exact replies for known positions (values as redis-server 7.0
//! answers them), and a seeded differential run of thousands of generated geo commands sent
//! both to the engine and to the installed redis-server, replies compared byte for byte in
//! RESP2 and RESP3 (skipped when no redis-server is installed).

mod common;

use common::{Raw, start_with};
use ecl_redis::RedisNode;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A node speaking as Redis 7.0.15 (score formatting differs from 7.2 on).
fn start_70() -> RedisNode {
    start_with(|c| c.engine_version = "7.0.15".to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_replies() {
    let node = start_70();
    let mut c = Raw::connect(&node).await;
    let add = [
        "GEOADD",
        "Sicily",
        "13.361389",
        "38.115556",
        "Palermo",
        "15.087269",
        "37.502669",
        "Catania",
    ];
    assert_eq!(c.cmd(&add).await, ":2\r\n");
    assert_eq!(
        c.cmd(&["GEODIST", "Sicily", "Palermo", "Catania", "km"])
            .await,
        "$8\r\n166.2742\r\n"
    );
    assert_eq!(
        c.cmd(&["GEOPOS", "Sicily", "Palermo", "nope"]).await,
        "*2\r\n*2\r\n$20\r\n13.36138933897018433\r\n$20\r\n38.11555639549629859\r\n*-1\r\n"
    );
    assert_eq!(
        c.cmd(&["GEOHASH", "Sicily", "Palermo", "nope"]).await,
        "*2\r\n$11\r\nsqc8b49rny0\r\n$-1\r\n"
    );
    assert_eq!(
        c.cmd(&["ZSCORE", "Sicily", "Palermo"]).await,
        "$16\r\n3479099956230698\r\n"
    );
    assert_eq!(
        c.cmd(&["GEOADD", "Sicily", "181", "10", "x"]).await,
        "-ERR invalid longitude,latitude pair 181.000000,10.000000\r\n"
    );
    assert_eq!(
        c.cmd(&["GEODIST", "Sicily", "Palermo", "Catania", "yd"])
            .await,
        "-ERR unsupported unit provided. please use M, KM, FT, MI\r\n"
    );
    let search = [
        "GEOSEARCH",
        "Sicily",
        "FROMLONLAT",
        "15",
        "37",
        "BYRADIUS",
        "200",
        "km",
        "ASC",
        "WITHDIST",
        "WITHHASH",
    ];
    assert_eq!(
        c.cmd(&search).await,
        "*2\r\n*3\r\n$7\r\nCatania\r\n$7\r\n56.4413\r\n:3479447370796909\r\n\
         *3\r\n$7\r\nPalermo\r\n$8\r\n190.4424\r\n:3479099956230698\r\n"
    );
    let store = [
        "GEOSEARCHSTORE",
        "dst",
        "Sicily",
        "FROMMEMBER",
        "Palermo",
        "BYBOX",
        "400",
        "400",
        "km",
        "STOREDIST",
    ];
    assert_eq!(c.cmd(&store).await, ":2\r\n");
    assert_eq!(
        c.cmd(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"]).await,
        "*4\r\n$7\r\nPalermo\r\n$1\r\n0\r\n$7\r\nCatania\r\n$18\r\n166.27415156960032\r\n"
    );
    c.cmd(&["HELLO", "3"]).await;
    assert_eq!(
        c.cmd(&["GEOPOS", "Sicily", "Catania", "nope"]).await,
        "*2\r\n*2\r\n,15.08726745843887329\r\n,37.50266842333162032\r\n_\r\n"
    );
}

// ---- the differential run ----

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

/// The generator of geo commands.
struct Gen {
    rng: StdRng,
}

impl Gen {
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.rng.random_range(0..items.len())]
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn member(&mut self) -> String {
        format!("m{}", self.rng.random_range(0..40))
    }

    fn key(&mut self) -> String {
        self.pick(&[
            "g1", "g1", "g1", "g1", "g1", "g2", "g2", "str", "missing", "dst",
        ])
        .to_string()
    }

    /// A coordinate text: mostly valid, sometimes on an edge, sometimes invalid.
    fn coord(&mut self, lat: bool) -> String {
        let (lim, edge) = if lat {
            (85.05112878, "85.05112878")
        } else {
            (180.0, "180")
        };
        match self.rng.random_range(0..40) {
            0 => edge.to_string(),
            1 => format!("-{edge}"),
            2 => "0".to_string(),
            3 => self
                .pick(&[
                    "181",
                    "-180.0000001",
                    "85.06",
                    "-90",
                    "abc",
                    "inf",
                    "nan",
                    "1e400",
                    "",
                ])
                .to_string(),
            4 => format!("{:.3}", self.rng.random_range(-lim..=lim)),
            // Most points in one region (10..20 E, 35..45 N), so searches find several.
            5..=25 if lat => format!("{}", self.rng.random_range(35.0..45.0f64)),
            5..=25 => format!("{}", self.rng.random_range(10.0..20.0f64)),
            _ => format!("{}", self.rng.random_range(-lim..=lim)),
        }
    }

    fn unit(&mut self) -> String {
        self.pick(&[
            "m", "km", "KM", "ft", "mi", "Mi", "m", "km", "km", "km", "mi", "yd",
        ])
        .to_string()
    }

    fn distance(&mut self) -> String {
        match self.rng.random_range(0..30) {
            0 => "0".to_string(),
            1 => "-1".to_string(),
            2 => "x".to_string(),
            3 => "20000".to_string(),
            4 => "5000000".to_string(),
            _ => format!("{:.2}", self.rng.random_range(0.0..3000.0f64)),
        }
    }

    fn geoadd(&mut self) -> Vec<String> {
        let mut v = vec!["GEOADD".to_string(), self.key()];
        for opt in ["NX", "XX", "CH"] {
            if self.chance(0.15) {
                v.push(opt.to_string());
            }
        }
        for _ in 0..self.rng.random_range(1..4) {
            v.push(self.coord(false));
            v.push(self.coord(true));
            v.push(self.member());
        }
        if self.chance(0.05) {
            v.pop();
        }
        v
    }

    fn point_query(&mut self) -> Vec<String> {
        let name = self.pick(&["GEOPOS", "GEOHASH", "GEODIST"]);
        let mut v = vec![name.to_string(), self.key()];
        let n = if name == "GEODIST" {
            2
        } else {
            self.rng.random_range(0..4)
        };
        for _ in 0..n {
            v.push(self.member());
        }
        if name == "GEODIST" && self.chance(0.7) {
            v.push(self.unit());
            if self.chance(0.05) {
                v.push("extra".to_string());
            }
        }
        v
    }

    /// The optional tail shared by every search form.
    fn options(&mut self, v: &mut Vec<String>, store_ok: bool) {
        for _ in 0..self.rng.random_range(0..4) {
            match self.rng.random_range(0..10) {
                0 => v.push(self.pick(&["WITHDIST", "withdist"]).to_string()),
                1 => v.push("WITHHASH".to_string()),
                2 => v.push("WITHCOORD".to_string()),
                3 => v.push(self.pick(&["ASC", "DESC"]).to_string()),
                4 | 5 => {
                    v.push("COUNT".to_string());
                    v.push(
                        self.pick(&[
                            "1", "2", "3", "5", "10", "1", "2", "3", "5", "10", "0", "-2", "z",
                        ])
                        .to_string(),
                    );
                    if self.chance(0.3) {
                        v.push("ANY".to_string());
                    }
                }
                6 if self.chance(0.3) => v.push("ANY".to_string()),
                7 if store_ok => {
                    v.push(self.pick(&["STORE", "STOREDIST"]).to_string());
                    v.push("dst".to_string());
                }
                _ => {}
            }
        }
    }

    fn radius(&mut self) -> Vec<String> {
        let name = self.pick(&[
            "GEORADIUS",
            "GEORADIUS_RO",
            "GEORADIUSBYMEMBER",
            "GEORADIUSBYMEMBER_RO",
        ]);
        let mut v = vec![name.to_string(), self.key()];
        if name.starts_with("GEORADIUSBYMEMBER") {
            v.push(self.member());
        } else {
            v.push(self.coord(false));
            v.push(self.coord(true));
        }
        v.push(self.distance());
        v.push(self.unit());
        self.options(&mut v, true);
        v
    }

    fn search(&mut self) -> Vec<String> {
        let store = self.chance(0.3);
        let mut v = if store {
            vec!["GEOSEARCHSTORE".to_string(), "dst".to_string(), self.key()]
        } else {
            vec!["GEOSEARCH".to_string(), self.key()]
        };
        let mut parts: Vec<Vec<String>> = Vec::new();
        if !self.chance(0.05) {
            parts.push(if self.chance(0.5) {
                vec!["FROMMEMBER".to_string(), self.member()]
            } else {
                vec![
                    "FROMLONLAT".to_string(),
                    self.coord(false),
                    self.coord(true),
                ]
            });
        }
        if !self.chance(0.05) {
            parts.push(if self.chance(0.5) {
                vec!["BYRADIUS".to_string(), self.distance(), self.unit()]
            } else {
                let (w, h) = (self.distance(), self.distance());
                vec!["BYBOX".to_string(), w, h, self.unit()]
            });
        }
        if self.chance(0.5) {
            parts.reverse();
        }
        parts.into_iter().for_each(|p| v.extend(p));
        self.options(&mut v, false);
        if store && self.chance(0.4) {
            v.push("STOREDIST".to_string());
        }
        v
    }

    fn next(&mut self) -> Vec<String> {
        match self.rng.random_range(0..21) {
            0..=5 => self.geoadd(),
            19 => {
                let mut v = vec!["COMMAND".to_string(), "GETKEYS".to_string()];
                v.extend(if self.chance(0.5) {
                    self.radius()
                } else {
                    self.search()
                });
                v
            }
            6..=8 => self.point_query(),
            9..=12 => self.radius(),
            13..=17 => self.search(),
            18 => vec![
                "ZRANGE".to_string(),
                "dst".to_string(),
                "0".to_string(),
                "-1".to_string(),
                "WITHSCORES".to_string(),
            ],
            _ => {
                let name = self.pick(&["GEOADD", "GEOPOS", "GEODIST", "GEOSEARCH", "GEORADIUS"]);
                vec![name.to_string()]
            }
        }
    }
}

/// What a differential run saw: mismatches (readable lines) and reply kinds, so the test can
/// check the generator reaches past the error paths.
#[derive(Default)]
struct Outcome {
    bad: Vec<String>,
    errors: usize,
    empty: usize,
    substantive: usize,
    /// Searches answering two or more members (order and sorting are compared).
    multi: usize,
}

/// Sends `n` generated commands to both servers (RESP2 or RESP3 per command, chosen by the
/// generator) and compares the replies.
async fn run_sequence(seed: u64, n: usize, mine: &RedisNode, port: u16) -> Outcome {
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
    }
    let mut g = Gen {
        rng: StdRng::seed_from_u64(seed),
    };
    let mut out = Outcome::default();
    for i in 0..n {
        let cmd = g.next();
        let resp3 = g.chance(0.4);
        let (mc, rc) = if resp3 {
            (&mut m3, &mut r3)
        } else {
            (&mut m2, &mut r2)
        };
        let (a, b) = (mc.cmd(&cmd).await, rc.cmd(&cmd).await);
        if cmd[0].contains("SEARCH") || cmd[0].contains("RADIUS") {
            let head = b.split(|&c| c == b'\r').next().unwrap_or(b"");
            let n: i64 = String::from_utf8_lossy(head.get(1..).unwrap_or(b""))
                .parse()
                .unwrap_or(0);
            if b.first() == Some(&b'*') && n >= 2 {
                out.multi += 1;
            }
        }
        match b.first() {
            Some(b'-') => out.errors += 1,
            _ if b == b"*0\r\n" || b.starts_with(b"$-1") || b.starts_with(b"_") => out.empty += 1,
            _ => out.substantive += 1,
        }
        if a != b && out.bad.len() < 20 {
            out.bad.push(format!(
                "seed {seed} #{i} resp{} {:?}\n  engine: {:?}\n  redis:  {:?}",
                if resp3 { 3 } else { 2 },
                cmd,
                String::from_utf8_lossy(&a),
                String::from_utf8_lossy(&b)
            ));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn differential_against_redis_server() {
    let Some(real) = common::ReferenceRedis::start(&[]) else {
        eprintln!("redis-server not installed: differential geo test skipped");
        return;
    };
    let mine = start_70();
    let seeds: Vec<u64> = match std::env::var("GEO_DIFF_SEED") {
        Ok(s) => vec![s.parse().unwrap_or(1)],
        Err(_) => vec![1, 2, 3, 4],
    };
    let (mut bad, mut total) = (Vec::new(), Outcome::default());
    for seed in seeds {
        let o = run_sequence(seed, 1500, &mine, real.port).await;
        bad.extend(o.bad);
        total.errors += o.errors;
        total.empty += o.empty;
        total.substantive += o.substantive;
        total.multi += o.multi;
    }
    eprintln!(
        "geo differential: {} errors, {} empty, {} substantive replies ({} with several members)",
        total.errors, total.empty, total.substantive, total.multi
    );
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
    // The generator must mostly exercise real results, not only the error paths.
    assert!(
        total.substantive > total.errors,
        "too few substantive replies"
    );
    let sent = total.errors + total.empty + total.substantive;
    assert!(total.multi * 20 > sent, "too few multi-member searches");
}
