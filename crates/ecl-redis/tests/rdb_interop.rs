//! RDB files both ways with a real redis-server (Debian's 7.0): our node's snapshot loads into
//! redis-server and `redis-check-rdb` accepts it; redis-server's `SAVE` file loads into our
//! node. The same mixed workload (every type, small and large encodings, integers, binary and
//! compressible strings, TTLs, two databases; 12,000 keys) runs on both sides, then every key's
//! type, value, encoding and TTL are compared, and `DEBUG DIGEST-VALUE` between the two real
//! servers. Tests needing redis-server skip (with a note) when it is not installed. Also here:
//! SAVE / LASTSAVE / INFO persistence and starting from a data directory, against our node only.

mod common;

use common::start_with;
use ecl_redis::{RdbImage, RedisNode};
use redis::aio::MultiplexedConnection;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const KEYS: usize = 12_000;
/// Databases the workload writes to.
const DBS: [u8; 2] = [0, 3];

fn have(bin: &str) -> bool {
    Command::new(bin)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A scratch directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("ecl-rdb-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A redis-server child on a free loopback port, killed on drop.
struct RealServer {
    child: Child,
    port: u16,
}

impl RealServer {
    async fn start(dir: &Path, file: &str) -> RealServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args([
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--enable-debug-command",
                "yes",
            ])
            // Built without a config file, redis-server's hash threshold is 512; redis.conf
            // (and ElastiCache, and our node) use 128: align it so encodings compare.
            .args(["--hash-max-listpack-entries", "128"])
            // Files (ours among them) are loaded with Redis' deep integrity check.
            .args(["--sanitize-dump-payload", "yes"])
            .arg("--dir")
            .arg(dir)
            .args(["--dbfilename", file])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        let s = RealServer { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(mut c) = s.conn(0).await
                && redis::cmd("PING")
                    .query_async::<String>(&mut c)
                    .await
                    .is_ok()
            {
                return s;
            }
            assert!(Instant::now() < deadline, "redis-server did not come up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn conn(&self, db: u8) -> redis::RedisResult<MultiplexedConnection> {
        conn_to(self.port, db).await
    }
}

impl Drop for RealServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn conn_to(port: u16, db: u8) -> redis::RedisResult<MultiplexedConnection> {
    let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/{db}"))?
        .get_multiplexed_async_connection()
        .await?;
    // The client's default response timeout is shorter than a big SAVE or pipeline takes.
    c.set_response_timeout(Duration::from_secs(120));
    Ok(c)
}

/// Deterministic pseudo-random numbers (xorshift64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn cmd(name: &str) -> redis::Cmd {
    redis::cmd(name)
}

/// The commands for key `i`: a type and size chosen by `i`, content from `rng`.
fn key_commands(i: usize, rng: &mut Rng, out: &mut Vec<redis::Cmd>) {
    let k = format!("k:{i}");
    let big = i.is_multiple_of(97);
    match i % 12 {
        0 => {
            let ints = [
                0i64,
                -5,
                127,
                300,
                -32769,
                70_000,
                1 << 40,
                i64::MIN,
                i64::MAX,
            ];
            out.push(
                cmd("SET")
                    .arg(&k)
                    .arg(ints[i / 12 % ints.len()] + (i as i64 % 3))
                    .clone(),
            );
        }
        1 => {
            let n = (rng.next() % if big { 5000 } else { 300 }) as usize;
            let v: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            out.push(cmd("SET").arg(&k).arg(v).clone());
        }
        2 => {
            let v = "abcabcabd".repeat(3 + i % 200 + if big { 20_000 } else { 0 });
            out.push(cmd("SET").arg(&k).arg(v).clone());
        }
        3..=10 => collection_commands(i, &k, big, rng, out),
        _ => {
            let v: &[u8] = if i % 24 == 11 { b"" } else { b"plain value" };
            out.push(cmd("SET").arg(&k).arg(v).clone());
        }
    }
    if i.is_multiple_of(7) {
        out.push(cmd("PEXPIRE").arg(&k).arg(3_600_000 + i as u64).clone());
    }
}

/// Lists, sets, hashes and sorted sets for key `i` (`big`: past the listpack/intset limits).
fn collection_commands(i: usize, k: &str, big: bool, rng: &mut Rng, out: &mut Vec<redis::Cmd>) {
    match i % 12 {
        3 | 4 => {
            let n = if big { 3000 } else { 3 + i % 20 };
            let mut c = cmd("RPUSH");
            c.arg(k);
            for j in 0..n {
                match j % 4 {
                    0 => c.arg(j as i64 - 50),
                    1 => c.arg(format!("item-{j}-{}", rng.next() % 1000)),
                    2 => c.arg(vec![b'x'; (rng.next() % 90) as usize]),
                    _ => c.arg(if big && j == 7 {
                        vec![b'L'; 12_000]
                    } else {
                        b"07".to_vec()
                    }),
                };
            }
            out.push(c);
        }
        5 => {
            let n = if big { 700 } else { 2 + i % 30 };
            let mut c = cmd("SADD");
            c.arg(k);
            for _ in 0..n {
                c.arg((rng.next() % 200_000) as i64 - 100_000);
            }
            out.push(c);
        }
        6 => {
            let n = if big { 400 } else { 2 + i % 30 };
            let mut c = cmd("SADD");
            c.arg(k);
            for j in 0..n {
                c.arg(format!("member:{j}:{}", rng.next() % 10_000));
            }
            out.push(c);
        }
        7 | 8 => {
            let n = if big { 300 } else { 1 + i % 25 };
            let mut c = cmd("HSET");
            c.arg(k);
            for j in 0..n {
                c.arg(format!("f{j}"));
                if i % 24 == 8 && j == 0 {
                    c.arg("v".repeat(100));
                } else {
                    c.arg(rng.next() % 100_000);
                }
            }
            out.push(c);
        }
        9 | 10 => {
            let scores = [
                "1.5",
                "-3",
                "1e-7",
                "inf",
                "-inf",
                "0",
                "3.141592653589793",
                "1e300",
            ];
            let n = if big { 300 } else { 1 + i % 20 };
            let mut c = cmd("ZADD");
            c.arg(k);
            for j in 0..n {
                if j < scores.len() {
                    c.arg(scores[j]);
                } else {
                    c.arg((rng.next() % 1_000_000) as f64 / 7.0);
                }
                c.arg(format!("m{j}"));
            }
            out.push(c);
        }
        _ => {}
    }
}

/// The whole workload, per database.
fn workload() -> Vec<(u8, Vec<redis::Cmd>)> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut main = Vec::new();
    for i in 0..KEYS {
        key_commands(i, &mut rng, &mut main);
    }
    main.push(cmd("PFADD").arg("hll").arg(&["a", "b", "c", "d"]).clone());
    stream_commands(&mut main);
    let mut other = Vec::new();
    for i in 0..50 {
        key_commands(i * 13 + 1, &mut rng, &mut other);
    }
    vec![(0, main), (3, other)]
}

/// Stream keys added to the workload.
const STREAM_KEYS: usize = 3;

fn xadd(out: &mut Vec<redis::Cmd>, key: &str, id: String, fields: &[&str]) {
    out.push(cmd("XADD").arg(key).arg(id).arg(fields).clone());
}

/// Streams in several nodes with deleted entries and an exact trim, a consumer group with
/// pending entries (one acknowledged, one claimed), a second group with an idle consumer,
/// a stream emptied by XDEL that keeps its group, and one trimmed approximately.
fn stream_commands(out: &mut Vec<redis::Cmd>) {
    let line = |v: &[&str]| cmd(v[0]).arg(&v[1..]).clone();
    for i in 1..=250u32 {
        let n = i.to_string();
        let fields: &[&str] = if i % 40 == 0 {
            &["other", "x", "n", &n]
        } else {
            &["a", &n, "b", "text"]
        };
        xadd(out, "st:1", format!("{i}-1"), fields);
    }
    for l in [
        &["XGROUP", "CREATE", "st:1", "g1", "0"][..],
        &[
            "XREADGROUP",
            "GROUP",
            "g1",
            "alice",
            "COUNT",
            "10",
            "STREAMS",
            "st:1",
            ">",
        ],
        &[
            "XREADGROUP",
            "GROUP",
            "g1",
            "bob",
            "COUNT",
            "5",
            "STREAMS",
            "st:1",
            ">",
        ],
        &["XACK", "st:1", "g1", "3-1"],
        &["XCLAIM", "st:1", "g1", "bob", "0", "4-1"],
        &["XDEL", "st:1", "5-1", "7-1", "150-1"],
        &["XTRIM", "st:1", "MAXLEN", "180"],
        &["XGROUP", "CREATE", "st:1", "g2", "$"],
        &["XGROUP", "CREATECONSUMER", "st:1", "g2", "carol"],
        &["XADD", "st:2", "1-1", "f", "v"],
        &["XADD", "st:2", "2-1", "f", "w"],
        &["XGROUP", "CREATE", "st:2", "g", "0"],
        &["XREADGROUP", "GROUP", "g", "dave", "STREAMS", "st:2", ">"],
        &["XDEL", "st:2", "1-1", "2-1"],
    ] {
        out.push(line(l));
    }
    for i in 1..=300u32 {
        let fields = ["k", &format!("value-{i}")];
        out.push(
            cmd("XADD")
                .arg("st:3")
                .arg("MAXLEN")
                .arg("~")
                .arg(50)
                .arg(format!("{i}-0"))
                .arg(&fields)
                .clone(),
        );
    }
}

/// A reply flattened to its leaves as text (nested arrays in order).
fn flatten(v: &redis::Value, out: &mut Vec<Vec<u8>>) {
    match v {
        redis::Value::Array(items) => items.iter().for_each(|i| flatten(i, out)),
        redis::Value::BulkString(b) => out.push(b.clone()),
        redis::Value::Int(i) => out.push(i.to_string().into_bytes()),
        redis::Value::Nil => out.push(b"(nil)".to_vec()),
        other => out.push(format!("{other:?}").into_bytes()),
    }
}

/// XINFO STREAM FULL without `radix-tree-nodes` (internal to Redis' radix tree; this engine
/// reports an estimate), which holds entries, counters, groups, PELs and consumers.
/// With `rdb9`, the counters RDB 9's stream type lacks (they are estimated on load) go too.
fn stream_snapshot(v: &redis::Value, rdb9: bool) -> Vec<Vec<u8>> {
    let mut flat = Vec::new();
    flatten(v, &mut flat);
    let mut drop: Vec<&[u8]> = vec![b"radix-tree-nodes"];
    if rdb9 {
        drop.extend([
            &b"max-deleted-entry-id"[..],
            b"entries-added",
            b"entries-read",
            b"lag",
            b"recorded-first-entry-id",
        ]);
    }
    let mut out = Vec::with_capacity(flat.len());
    let mut it = flat.into_iter();
    while let Some(x) = it.next() {
        if drop.contains(&x.as_slice()) {
            it.next();
        } else {
            out.push(x);
        }
    }
    out
}

async fn run_workload(port: u16) {
    for (db, cmds) in workload() {
        let mut c = conn_to(port, db).await.expect("connect");
        for chunk in cmds.chunks(500) {
            let mut p = redis::pipe();
            for x in chunk {
                p.add_command(x.clone()).ignore();
            }
            p.query_async::<()>(&mut c).await.expect("workload");
        }
    }
}

/// What we compare per key: type, normalised value, encoding, TTL in ms (-1 none).
#[derive(Debug, PartialEq)]
struct Snap {
    ty: String,
    value: Vec<Vec<u8>>,
    encoding: String,
    pttl: i64,
}

async fn read_all(port: u16, db: u8, rdb9: bool) -> Vec<(Vec<u8>, Snap)> {
    let mut c = conn_to(port, db).await.expect("connect");
    let mut keys: Vec<Vec<u8>> = cmd("KEYS")
        .arg("*")
        .query_async(&mut c)
        .await
        .expect("keys");
    keys.sort();
    let mut out = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(500) {
        let mut p = redis::pipe();
        for k in chunk {
            p.cmd("TYPE")
                .arg(k)
                .cmd("OBJECT")
                .arg("ENCODING")
                .arg(k)
                .cmd("PTTL")
                .arg(k);
        }
        let meta: Vec<redis::Value> = p.query_async(&mut c).await.expect("meta");
        let mut p = redis::pipe();
        let mut types = Vec::new();
        for (j, k) in chunk.iter().enumerate() {
            let ty: String = redis::from_redis_value(meta[j * 3].clone()).expect("type");
            match ty.as_str() {
                "string" => p.cmd("GET").arg(k),
                "list" => p.cmd("LRANGE").arg(k).arg(0).arg(-1),
                "set" => p.cmd("SMEMBERS").arg(k),
                "hash" => p.cmd("HGETALL").arg(k),
                "stream" => p
                    .cmd("XINFO")
                    .arg("STREAM")
                    .arg(k)
                    .arg("FULL")
                    .arg("COUNT")
                    .arg(0),
                _ => p.cmd("ZRANGE").arg(k).arg(0).arg(-1).arg("WITHSCORES"),
            };
            types.push(ty);
        }
        let values: Vec<redis::Value> = p.query_async(&mut c).await.expect("values");
        for (j, (k, v)) in chunk.iter().zip(values).enumerate() {
            let value = match v {
                v if types[j] == "stream" => stream_snapshot(&v, rdb9),
                redis::Value::BulkString(b) => vec![b],
                v => {
                    let mut items: Vec<Vec<u8>> = redis::from_redis_value(v).expect("items");
                    if types[j] == "set" {
                        items.sort();
                    } else if types[j] == "hash" {
                        let mut pairs: Vec<Vec<u8>> = items.chunks(2).map(|p| p.concat()).collect();
                        pairs.sort();
                        items = pairs;
                    }
                    items
                }
            };
            let encoding = redis::from_redis_value(meta[j * 3 + 1].clone()).expect("encoding");
            let pttl = redis::from_redis_value(meta[j * 3 + 2].clone()).expect("pttl");
            out.push((
                k.clone(),
                Snap {
                    ty: types[j].clone(),
                    value,
                    encoding,
                    pttl,
                },
            ));
        }
    }
    out
}

/// Every key of `a` and `b` in the workload's databases matches: type, value, collection
/// encoding (strings' int/embstr/raw choice is left aside) and TTL within `ttl_slack` ms.
async fn assert_same(a: u16, b: u16, what: &str) {
    assert_same_as(a, b, what, false).await;
}

/// [`assert_same`], leaving out what `rdb9` files cannot carry when set.
async fn assert_same_as(a: u16, b: u16, what: &str, rdb9: bool) {
    for db in DBS {
        let (x, y) = (read_all(a, db, rdb9).await, read_all(b, db, rdb9).await);
        assert!(
            x.len() >= if db == 0 { KEYS } else { 50 },
            "{what}: db {db} has {} keys",
            x.len()
        );
        assert_eq!(x.len(), y.len(), "{what}: db {db} key counts");
        let mut bad = Vec::new();
        for ((ka, sa), (kb, sb)) in x.iter().zip(&y) {
            let same = ka == kb
                && sa.ty == sb.ty
                && sa.value == sb.value
                && (sa.ty == "string" || sa.encoding == sb.encoding)
                && (sa.pttl == sb.pttl
                    || (sa.pttl > 0 && sb.pttl > 0 && (sa.pttl - sb.pttl).abs() < 10_000));
            if !same {
                bad.push(format!(
                    "{}: {:?} vs {:?}",
                    String::from_utf8_lossy(ka),
                    short(sa),
                    short(sb)
                ));
            }
        }
        assert!(
            bad.is_empty(),
            "{what}: db {db}: {} mismatches, e.g. {:#?}",
            bad.len(),
            &bad[..bad.len().min(5)]
        );
    }
}

fn short(s: &Snap) -> String {
    format!(
        "{} {} pttl {} {} items, first {:?}",
        s.ty,
        s.encoding,
        s.pttl,
        s.value.len(),
        s.value
            .first()
            .map(|v| String::from_utf8_lossy(&v[..v.len().min(40)]).into_owned())
    )
}

/// `DEBUG DIGEST-VALUE` of every key agrees between two real servers.
async fn assert_same_digests(a: &RealServer, b: &RealServer) {
    for db in DBS {
        let (mut ca, mut cb) = (a.conn(db).await.unwrap(), b.conn(db).await.unwrap());
        let mut keys: Vec<Vec<u8>> = cmd("KEYS").arg("*").query_async(&mut ca).await.unwrap();
        keys.sort();
        for chunk in keys.chunks(1000) {
            let mut c = cmd("DEBUG");
            c.arg("DIGEST-VALUE").arg(chunk);
            let da: Vec<String> = c.query_async(&mut ca).await.unwrap();
            let db_: Vec<String> = c.query_async(&mut cb).await.unwrap();
            assert_eq!(da, db_, "digests differ in db {db}");
        }
    }
}

fn our_node(version: &str) -> RedisNode {
    start_with(|c| c.engine_version = version.into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ours_to_redis_server_and_back() {
    if !have("redis-server") {
        eprintln!("skipped: redis-server is not installed");
        return;
    }
    // The reference: the workload on a real server.
    let ref_dir = TempDir::new("ref");
    let real = RealServer::start(&ref_dir.0, "dump.rdb").await;
    run_workload(real.port).await;
    // (a) ours -> redis-server.
    let ours = our_node("7.0.15");
    run_workload(ours.local_addr().port()).await;
    let img = ours.snapshot_rdb();
    assert_eq!(&img[..9], b"REDIS0010", "Redis 7.0 writes RDB 10");
    let a_dir = TempDir::new("a");
    std::fs::write(a_dir.0.join("ours.rdb"), &img).unwrap();
    if have("redis-check-rdb") {
        let out = Command::new("redis-check-rdb")
            .arg(a_dir.0.join("ours.rdb"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("RDB looks OK"),
            "redis-check-rdb: {text}"
        );
    }
    let loaded = RealServer::start(&a_dir.0, "ours.rdb").await;
    assert_same(
        ours.local_addr().port(),
        loaded.port,
        "ours vs redis-server loaded from ours",
    )
    .await;
    assert_same_digests(&loaded, &real).await;
    // (b) redis-server -> ours.
    let mut rc = real.conn(0).await.unwrap();
    let _: () = cmd("SAVE").query_async(&mut rc).await.unwrap();
    let theirs = std::fs::read(ref_dir.0.join("dump.rdb")).unwrap();
    let back = our_node("7.0.15");
    let stats = back.load_rdb(&theirs).expect("redis-server's dump loads");
    assert_eq!(stats.rdb_version, 10);
    assert!(
        stats
            .aux
            .iter()
            .any(|(k, v)| k == "redis-ver" && v.starts_with("7.0"))
    );
    assert_eq!(stats.keys_loaded as usize, KEYS + 1 + STREAM_KEYS + 50);
    assert_same(
        back.local_addr().port(),
        real.port,
        "ours loaded from redis-server vs redis-server",
    )
    .await;
    // And the node starts from that file as from a data directory.
    let started = start_with(|c| {
        c.engine_version = "7.0.15".into();
        c.data_dir = Some(ref_dir.0.clone());
    });
    assert_same(
        started.local_addr().port(),
        real.port,
        "ours started on redis-server's dir",
    )
    .await;
    for n in [ours, back, started] {
        n.shutdown().await;
    }
}

/// A Redis 6.2 node writes RDB 9 (no listpack types: plain lists, hashes and sorted sets),
/// which redis-server 7.0 and redis-check-rdb accept with the same content.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rdb_9_from_a_6_2_node_loads_into_redis_server() {
    if !have("redis-server") {
        eprintln!("skipped: redis-server is not installed");
        return;
    }
    let ours = our_node("6.2.6");
    run_workload(ours.local_addr().port()).await;
    let img = ours.snapshot_rdb();
    assert_eq!(&img[..9], b"REDIS0009");
    let dir = TempDir::new("rdb9");
    std::fs::write(dir.0.join("v9.rdb"), &img).unwrap();
    let out = Command::new("redis-check-rdb")
        .arg(dir.0.join("v9.rdb"))
        .output();
    if let Ok(out) = out {
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("RDB looks OK"), "redis-check-rdb: {text}");
    }
    let loaded = RealServer::start(&dir.0, "v9.rdb").await;
    // Values, types and TTLs must agree; encodings are Redis 7.0's choice on both sides too.
    assert_same_as(
        ours.local_addr().port(),
        loaded.port,
        "6.2 node vs redis-server",
        true,
    )
    .await;
    ours.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn save_lastsave_info_and_data_dir() {
    let dir = TempDir::new("save");
    let node = start_with(|c| c.data_dir = Some(dir.0.clone()));
    let mut c = conn_to(node.local_addr().port(), 0).await.unwrap();
    let _: () = cmd("SET")
        .arg("a")
        .arg("1")
        .query_async(&mut c)
        .await
        .unwrap();
    let _: () = cmd("RPUSH")
        .arg("l")
        .arg(&["x", "y"])
        .query_async(&mut c)
        .await
        .unwrap();
    let _: () = cmd("PEXPIRE")
        .arg("l")
        .arg(500_000)
        .query_async(&mut c)
        .await
        .unwrap();
    let info: String = cmd("INFO")
        .arg("persistence")
        .query_async(&mut c)
        .await
        .unwrap();
    // SET 1 + RPUSH of two elements 2 + PEXPIRE 1, counted as Redis counts them.
    assert!(info.contains("rdb_changes_since_last_save:4"), "{info}");
    assert!(info.contains("rdb_saves:0"), "{info}");
    let _: () = cmd("SAVE").query_async(&mut c).await.unwrap();
    let info: String = cmd("INFO")
        .arg("persistence")
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(
        info.contains("rdb_changes_since_last_save:0") && info.contains("rdb_saves:1"),
        "{info}"
    );
    let last: i64 = cmd("LASTSAVE").query_async(&mut c).await.unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - last).abs() <= 2, "LASTSAVE {last} vs now {now}");
    let file = std::fs::read(dir.0.join("dump.rdb")).expect("SAVE wrote dir/dbfilename");
    assert_eq!(&file[..9], b"REDIS0010");
    let dir_cfg: Vec<String> = cmd("CONFIG")
        .arg("GET")
        .arg("dir")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(dir_cfg[1], dir.0.to_string_lossy());
    // DEBUG RELOAD round-trips the dataset.
    let _: () = cmd("DEBUG")
        .arg("RELOAD")
        .query_async(&mut c)
        .await
        .unwrap();
    let l: Vec<String> = cmd("LRANGE")
        .arg("l")
        .arg(0)
        .arg(-1)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(l, ["x", "y"]);
    let ttl: i64 = cmd("PTTL").arg("l").query_async(&mut c).await.unwrap();
    assert!(ttl > 400_000 && ttl <= 500_000, "{ttl}");
    // A node on the same directory starts with the saved data.
    let again = start_with(|c| c.data_dir = Some(dir.0.clone()));
    let mut c2 = conn_to(again.local_addr().port(), 0).await.unwrap();
    let a: String = cmd("GET").arg("a").query_async(&mut c2).await.unwrap();
    assert_eq!(a, "1");
    let info: String = cmd("INFO")
        .arg("persistence")
        .query_async(&mut c2)
        .await
        .unwrap();
    assert!(info.contains("rdb_last_load_keys_loaded:2"), "{info}");
    for n in [node, again] {
        n.shutdown().await;
    }
}

/// Without a data directory SAVE keeps the image in memory; an image starts a node; a
/// corrupt image is refused without touching the data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_image_and_corrupt_load() {
    let mem = start_with(|_| {});
    let mut c3 = conn_to(mem.local_addr().port(), 0).await.unwrap();
    let _: () = cmd("SET")
        .arg("m")
        .arg("v")
        .query_async(&mut c3)
        .await
        .unwrap();
    let _: () = cmd("BGSAVE").query_async(&mut c3).await.unwrap();
    let img = mem.last_saved_rdb().expect("image kept in memory");
    let from_img = start_with(|c| c.initial_rdb = Some(RdbImage(Arc::clone(&img))));
    let mut c4 = conn_to(from_img.local_addr().port(), 0).await.unwrap();
    let m: String = cmd("GET").arg("m").query_async(&mut c4).await.unwrap();
    assert_eq!(m, "v");
    // A corrupt image is refused without touching the data.
    let mut bad = img.to_vec();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x40;
    assert!(from_img.load_rdb(&bad).is_err());
    let m: String = cmd("GET").arg("m").query_async(&mut c4).await.unwrap();
    assert_eq!(m, "v");
    for n in [mem, from_img] {
        n.shutdown().await;
    }
}

/// By hand, for the numbers in the README: 1,000,000 mixed keys on our node and on
/// redis-server; time to write an image (ours: `snapshot_rdb`, i.e. the time the node lock is
/// held; theirs: `SAVE`) and to load one (ours: `load_rdb`; theirs: start until it answers).
/// `cargo test --release -p ecl-redis --test rdb_interop -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement, run by hand"]
async fn measure_million_keys() {
    if !have("redis-server") {
        eprintln!("skipped: redis-server is not installed");
        return;
    }
    const N: usize = 1_000_000;
    let mut cmds = Vec::with_capacity(N);
    for i in 0..N {
        let k = format!("key:{i:07}");
        cmds.push(match i % 4 {
            0 | 1 => cmd("SET")
                .arg(&k)
                .arg(format!("value-{i}-{}", "x".repeat(i % 80)))
                .clone(),
            2 => cmd("HSET")
                .arg(&k)
                .arg(&["a", "1", "b", "two", "c", "3.5"])
                .clone(),
            _ => cmd("ZADD")
                .arg(&k)
                .arg(&["1", "m1", "2.5", "m2", "-3", "m3"])
                .clone(),
        });
    }
    let fill = |port: u16| {
        let cmds = &cmds;
        async move {
            let mut c = conn_to(port, 0).await.unwrap();
            for chunk in cmds.chunks(5000) {
                let mut p = redis::pipe();
                chunk.iter().for_each(|x| {
                    p.add_command(x.clone()).ignore();
                });
                p.query_async::<()>(&mut c).await.unwrap();
            }
        }
    };
    let ours = our_node("7.0.15");
    fill(ours.local_addr().port()).await;
    let t = Instant::now();
    let img = ours.snapshot_rdb();
    let write_ours = t.elapsed();
    let opts = ecl_redis::rdb::file::ReadOptions {
        max_version: 10,
        databases: 16,
        now_ms: 0,
        lfu: false,
    };
    let t = Instant::now();
    drop(ecl_redis::rdb::file::read(&img, &opts).unwrap());
    let parse_ours = t.elapsed();
    let other = our_node("7.0.15");
    let t = Instant::now();
    let stats = other.load_rdb(&img).unwrap();
    let load_ours = t.elapsed();
    assert_eq!(stats.keys_loaded as usize, N);
    let dir = TempDir::new("million");
    let real = RealServer::start(&dir.0, "dump.rdb").await;
    fill(real.port).await;
    let mut rc = real.conn(0).await.unwrap();
    let t = Instant::now();
    let _: () = cmd("SAVE").query_async(&mut rc).await.unwrap();
    let write_theirs = t.elapsed();
    let theirs_len = std::fs::metadata(dir.0.join("dump.rdb")).unwrap().len();
    drop(real);
    let t = Instant::now();
    let again = RealServer::start(&dir.0, "dump.rdb").await;
    let load_theirs = t.elapsed();
    let mut c = again.conn(0).await.unwrap();
    let n: usize = cmd("DBSIZE").query_async(&mut c).await.unwrap();
    assert_eq!(n, N);
    eprintln!(
        "1M keys: ours write {write_ours:?} ({} bytes), load {load_ours:?} (parse alone {parse_ours:?}); redis-server SAVE {write_theirs:?} ({theirs_len} bytes), start+load {load_theirs:?}",
        img.len()
    );
    ours.shutdown().await;
    other.shutdown().await;
}

/// A Valkey 8 node writes RDB 11 (listpack sets included) that another Valkey node loads and a
/// Redis 7.0 node refuses, as Redis refuses files newer than its own format.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rdb_11_from_valkey_and_version_refusal() {
    let valkey = start_with(|c| {
        c.flavor = ecl_redis::Flavor::Valkey;
        c.engine_version = "8.0.1".into();
    });
    let mut c = conn_to(valkey.local_addr().port(), 0).await.unwrap();
    let _: () = cmd("SADD")
        .arg("s")
        .arg(&["a", "b", "c"])
        .query_async(&mut c)
        .await
        .unwrap();
    let _: () = cmd("RPUSH")
        .arg("l")
        .arg(&["1", "x"])
        .query_async(&mut c)
        .await
        .unwrap();
    let mut streams = Vec::new();
    stream_commands(&mut streams);
    let mut p = redis::pipe();
    streams.iter().for_each(|x| {
        p.add_command(x.clone()).ignore();
    });
    p.query_async::<()>(&mut c).await.unwrap();
    let img = valkey.snapshot_rdb();
    assert_eq!(&img[..9], b"REDIS0011");
    // Streams in RDB 11 take the third stream type (consumers with an active time).
    let st1 = img.windows(5).position(|w| w == b"\x04st:1");
    assert_eq!(st1.map(|i| img[i - 1]), Some(21), "stream type byte");
    let other = start_with(|c| {
        c.flavor = ecl_redis::Flavor::Valkey;
        c.engine_version = "8.0.1".into();
    });
    let stats = other.load_rdb(&img).expect("RDB 11 loads on Valkey");
    assert_eq!(stats.keys_loaded, 2 + STREAM_KEYS as u64);
    for db in DBS {
        let (x, y) = (
            read_all(valkey.local_addr().port(), db, false).await,
            read_all(other.local_addr().port(), db, false).await,
        );
        assert_eq!(x, y, "Valkey node reloaded from its RDB 11 image");
    }
    assert!(
        stats
            .aux
            .iter()
            .any(|(k, v)| k == "redis-ver" && v == "7.2.4")
    );
    let mut c2 = conn_to(other.local_addr().port(), 0).await.unwrap();
    let enc: String = cmd("OBJECT")
        .arg("ENCODING")
        .arg("s")
        .query_async(&mut c2)
        .await
        .unwrap();
    assert_eq!(enc, "listpack");
    let mut members: Vec<String> = cmd("SMEMBERS").arg("s").query_async(&mut c2).await.unwrap();
    members.sort();
    assert_eq!(members, ["a", "b", "c"]);
    let old = our_node("7.0.15");
    let e = old.load_rdb(&img).unwrap_err();
    assert_eq!(
        (e.offset, e.reason.contains("RDB version 11")),
        (5, true),
        "{e}"
    );
    for n in [valkey, other, old] {
        n.shutdown().await;
    }
}
