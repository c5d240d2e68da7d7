//! Snapshots that do not stall the node, and are still one point in time: BGSAVE's file is the
//! dataset at the BGSAVE instant while writes of every kind (overwrites, deletes, new keys,
//! FLUSHALL) go on during the collection; `RedisNode::snapshot_rdb` taken while transactions
//! run holds each transaction entirely or not at all; and other clients are answered while
//! a snapshot of a big keyspace is being collected.

mod common;

use common::start_with;
use redis::aio::MultiplexedConnection;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const KEYS: usize = 200_000;

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("ecl-snap-{}-{tag}", std::process::id()));
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

async fn conn(port: u16) -> MultiplexedConnection {
    let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    c.set_response_timeout(Duration::from_secs(60));
    c
}

async fn fill(c: &mut MultiplexedConnection) {
    for chunk in (0..KEYS).collect::<Vec<_>>().chunks(10_000) {
        let mut p = redis::pipe();
        for i in chunk {
            p.cmd("SET").arg(format!("k:{i}")).arg(i).ignore();
        }
        p.cmd("HSET").arg("h").arg(chunk[0]).arg("v").ignore();
        p.query_async::<()>(c).await.unwrap();
    }
}

async fn persistence_field(c: &mut MultiplexedConnection, field: &str) -> String {
    let info: String = redis::cmd("INFO")
        .arg("persistence")
        .query_async(c)
        .await
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bgsave_image_is_the_dataset_at_the_bgsave_instant() {
    let dir = TempDir::new("first");
    let node = start_with(|c| c.data_dir = Some(dir.0.clone()));
    let mut c = conn(node.local_addr().port()).await;
    fill(&mut c).await;
    let mut p = redis::pipe();
    p.cmd("BGSAVE")
        .cmd("SET")
        .arg("k:5")
        .arg("changed")
        .cmd("DEL")
        .arg("k:6")
        .cmd("SET")
        .arg("brand-new")
        .arg("1")
        .cmd("HSET")
        .arg("h")
        .arg("extra")
        .arg("field");
    let (status, ..): (String, (), i64, (), i64) = p.query_async(&mut c).await.unwrap();
    assert_eq!(status, "Background saving started");
    let again: redis::RedisResult<String> = redis::cmd("BGSAVE").query_async(&mut c).await;
    assert!(again.is_err(), "a second BGSAVE while one runs is refused");
    let mut rounds = 0usize;
    while persistence_field(&mut c, "rdb_bgsave_in_progress").await == "1" {
        let mut p = redis::pipe();
        for j in 0..200 {
            let i = (rounds * 7919 + j * 104_729) % KEYS;
            p.cmd("SET").arg(format!("k:{i}")).arg("late").ignore();
            p.cmd("DEL").arg(format!("k:{}", (i + 1) % KEYS)).ignore();
            p.cmd("SET")
                .arg(format!("new:{rounds}:{j}"))
                .arg(1)
                .ignore();
        }
        if rounds == 3 {
            p.cmd("FLUSHALL").ignore();
        }
        p.query_async::<()>(&mut c).await.unwrap();
        rounds += 1;
    }
    assert!(
        rounds > 3,
        "the collection outlived only {rounds} rounds of writes"
    );
    assert_eq!(
        persistence_field(&mut c, "rdb_last_bgsave_status").await,
        "ok"
    );
    assert_eq!(persistence_field(&mut c, "rdb_saves").await, "1");
    node.shutdown().await;
    // The file: exactly the keys and values before the BGSAVE.
    let loaded = start_with(|c| c.data_dir = Some(dir.0.clone()));
    let mut c = conn(loaded.local_addr().port()).await;
    let n: usize = redis::cmd("DBSIZE").query_async(&mut c).await.unwrap();
    assert_eq!(n, KEYS + 1);
    for chunk in (0..KEYS).collect::<Vec<_>>().chunks(10_000) {
        let keys: Vec<String> = chunk.iter().map(|i| format!("k:{i}")).collect();
        let got: Vec<Option<String>> = redis::cmd("MGET")
            .arg(&keys)
            .query_async(&mut c)
            .await
            .unwrap();
        for (i, v) in chunk.iter().zip(got) {
            assert_eq!(v, Some(i.to_string()), "k:{i}");
        }
    }
    let fields: i64 = redis::cmd("HLEN")
        .arg("h")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(fields as usize, KEYS / 10_000);
    loaded.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_rdb_holds_whole_transactions_and_serves_meanwhile() {
    let node = start_with(|_| {});
    let port = node.local_addr().port();
    let mut c = conn(port).await;
    fill(&mut c).await;
    let _: () = redis::cmd("MSET")
        .arg(&["a", "1000000", "b", "0"])
        .query_async(&mut c)
        .await
        .unwrap();
    let node = std::sync::Arc::new(node);
    let snap = {
        let node = node.clone();
        tokio::task::spawn_blocking(move || {
            let t = Instant::now();
            let img = node.snapshot_rdb();
            (img, t.elapsed())
        })
    };
    // Transactions and reads go on while the snapshot is collected.
    let mut txns = 0i64;
    let mut worst = Duration::ZERO;
    while !snap.is_finished() {
        let t = Instant::now();
        let _: () = redis::pipe()
            .atomic()
            .cmd("DECR")
            .arg("a")
            .ignore()
            .cmd("INCR")
            .arg("b")
            .ignore()
            .cmd("RPUSH")
            .arg("log")
            .arg(txns)
            .ignore()
            .query_async(&mut c)
            .await
            .unwrap();
        worst = worst.max(t.elapsed());
        txns += 1;
    }
    let (img, took) = snap.await.unwrap();
    eprintln!(
        "snapshot of {KEYS} keys: {took:?}; {txns} transactions meanwhile, slowest {worst:?}"
    );
    assert!(
        txns > 0,
        "no transaction ran while the snapshot was collected"
    );
    let copy = start_with(|_| {});
    copy.load_rdb(&img).expect("image loads");
    let mut c = conn(copy.local_addr().port()).await;
    let (a, b): (i64, i64) = redis::cmd("MGET")
        .arg(&["a", "b"])
        .query_async(&mut c)
        .await
        .unwrap();
    let log: Vec<i64> = redis::cmd("LRANGE")
        .arg("log")
        .arg(0)
        .arg(-1)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(a + b, 1_000_000, "a transaction was cut in half");
    assert_eq!(log.len() as i64, b);
    assert_eq!(log, (0..b).collect::<Vec<_>>());
    let n: usize = redis::cmd("DBSIZE").query_async(&mut c).await.unwrap();
    assert_eq!(n, KEYS + 4 - usize::from(b == 0), "k:*, h, a, b and log");
    copy.shutdown().await;
}
