//! The per-slot key index of cluster-mode nodes, end to end on real nodes: its memory is part
//! of INFO `used_memory` (so `maxmemory` sees it), and `CLUSTER COUNTKEYSINSLOT` /
//! `GETKEYSINSLOT` stay exact through bulk writes, deletes and key churn (the index sorts
//! written keys into their slots lazily, when first read).

mod common;
use common::start_with;
use ecl_redis::{ClusterNodeInfo, ClusterShard, ClusterTopology, RedisNode};

/// A cluster-mode node owning all 16384 slots, or a standalone node.
fn node(cluster: bool, maxmemory: u64) -> RedisNode {
    let n = start_with(|c| {
        c.cluster_enabled = cluster;
        c.maxmemory = maxmemory;
    });
    if cluster {
        let me = ClusterNodeInfo {
            node_id: n.node_id(),
            ip: "127.0.0.1".into(),
            port: n.local_addr().port(),
            hostname: None,
        };
        n.set_cluster_topology(ClusterTopology {
            shards: vec![ClusterShard {
                shard_id: format!("{:040x}", 1),
                slots: vec![(0, 16383)],
                primary: me,
                replicas: Vec::new(),
            }],
        });
    }
    n
}

async fn used_memory(con: &mut redis::aio::MultiplexedConnection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(con)
        .await
        .unwrap();
    let line = info
        .lines()
        .find(|l| l.starts_with("used_memory:"))
        .unwrap();
    line["used_memory:".len()..].trim().parse().unwrap()
}

/// `n` keys with hash tags, so that slot counts are known: key `{t<i % 100>}:<i>`.
async fn fill(con: &mut redis::aio::MultiplexedConnection, n: usize) -> redis::RedisResult<()> {
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let mut p = redis::pipe();
        for i in chunk {
            p.cmd("SET")
                .arg(format!("{{t{}}}:{i}", i % 100))
                .arg("v")
                .ignore();
        }
        p.query_async::<()>(con).await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_index_is_counted_in_used_memory_and_by_maxmemory() {
    let (sa, cl) = (node(false, 0), node(true, 0));
    let mut s = common::client(&sa).await;
    let mut c = common::client(&cl).await;
    let (s0, c0) = (used_memory(&mut s).await, used_memory(&mut c).await);
    // An empty index already holds its slot heads (16384 × 4 bytes).
    assert!(c0 >= s0 + 16384 * 4, "empty: standalone {s0}, cluster {c0}");
    fill(&mut s, 20_000).await.unwrap();
    fill(&mut c, 20_000).await.unwrap();
    let (s1, c1) = (used_memory(&mut s).await, used_memory(&mut c).await);
    // Each key adds its link (12 bytes) and, until read, a queued position (4 bytes).
    let per_key = ((c1 - c0) as f64 - (s1 - s0) as f64) / 20_000.0;
    assert!(per_key >= 12.0, "index bytes per key {per_key}");
    // Reading the index empties the queue but keeps the links.
    let n: i64 = redis::cmd("CLUSTER")
        .arg("COUNTKEYSINSLOT")
        .arg(ecl_redis::cluster::key_slot(b"t7"))
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(n, 200);
    assert!(used_memory(&mut c).await > s1 + 16384 * 4 + 20_000 * 12);

    // With the same maxmemory and no eviction, the cluster-mode node refuses writes first:
    // its index counts against the limit.
    let limit = s1 + 200_000;
    let (sa, cl) = (node(false, limit), node(true, limit));
    let mut s = common::client(&sa).await;
    let mut c = common::client(&cl).await;
    for con in [&mut s, &mut c] {
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("maxmemory-policy")
            .arg("noeviction")
            .query_async(con)
            .await
            .unwrap();
    }
    let mut accepted = Vec::new();
    for con in [&mut s, &mut c] {
        let mut n = 0;
        while n < 100_000 && fill_one(con, n).await {
            n += 1;
        }
        accepted.push(n);
    }
    let (s_keys, c_keys) = (accepted[0], accepted[1]);
    assert!(
        s_keys < 100_000,
        "standalone reached maxmemory ({s_keys} keys)"
    );
    assert!(
        c_keys < s_keys,
        "cluster {c_keys} keys, standalone {s_keys}"
    );
}

async fn fill_one(con: &mut redis::aio::MultiplexedConnection, i: usize) -> bool {
    redis::cmd("SET")
        .arg(format!("{{t{}}}:{i}", i % 100))
        .arg("v")
        .query_async::<()>(con)
        .await
        .is_ok()
}

async fn count(con: &mut redis::aio::MultiplexedConnection, tag: &str) -> i64 {
    redis::cmd("CLUSTER")
        .arg("COUNTKEYSINSLOT")
        .arg(ecl_redis::cluster::key_slot(tag.as_bytes()))
        .query_async(con)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slot_counts_stay_exact_through_writes_deletes_and_churn() {
    let cl = node(true, 0);
    let mut c = common::client(&cl).await;
    fill(&mut c, 5_000).await.unwrap();
    assert_eq!(count(&mut c, "t3").await, 50);
    // Delete every key of tag t3 but one, then churn one key far past the table's size
    // without reading the index (the queue of written positions must not grow without end).
    let mut p = redis::pipe();
    for i in (3..5_000).step_by(100).skip(1) {
        p.cmd("DEL").arg(format!("{{t3}}:{i}")).ignore();
    }
    p.query_async::<()>(&mut c).await.unwrap();
    let before = used_memory(&mut c).await;
    // 100,000 writes: an unbounded queue would hold 400 KB of positions; this table's bound
    // (twice its slab, plus 4096) is about 80 KB.
    for round in 0..100 {
        let mut p = redis::pipe();
        for _ in 0..1_000 {
            p.cmd("SET").arg("{t4}:churn").arg("x").ignore();
            p.cmd("DEL").arg("{t4}:churn").ignore();
        }
        p.query_async::<()>(&mut c).await.unwrap();
        let now = used_memory(&mut c).await;
        assert!(
            now < before + 256 * 1024,
            "round {round}: {before} -> {now}"
        );
    }
    assert_eq!(count(&mut c, "t3").await, 1);
    assert_eq!(count(&mut c, "t4").await, 50);
    let keys: Vec<String> = redis::cmd("CLUSTER")
        .arg("GETKEYSINSLOT")
        .arg(ecl_redis::cluster::key_slot(b"t3"))
        .arg(10)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(keys, ["{t3}:3"]);
    let _: () = redis::cmd("FLUSHALL").query_async(&mut c).await.unwrap();
    assert_eq!(count(&mut c, "t4").await, 0);
}
