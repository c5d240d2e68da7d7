//! The supervisor's snapshot calls with real Redis engine nodes, driven by the `redis` crate:
//! `snapshot_rdb` images a running node, `seed_rdb` makes a node's first start load an image
//! (and only its first: a reboot starts empty), and `decode_images` + `split` move keys into
//! images for another shard count by hash slot, every function library going to every image.

mod common;

use std::sync::Arc;

use elasticache_local::supervisor::{Endpoint, Supervisor, decode_images};
use redis::aio::MultiplexedConnection;

async fn connect(e: &Endpoint) -> MultiplexedConnection {
    let client = redis::Client::open(format!("redis://{}:{}/", e.ip, e.port));
    let Ok(client) = client else {
        panic!("bad url for {e:?}")
    };
    match client.get_multiplexed_async_connection().await {
        Ok(c) => c,
        Err(err) => panic!("cannot connect to {e:?}: {err}"),
    }
}

async fn set(con: &mut MultiplexedConnection, key: &str, value: &str) {
    let done: redis::RedisResult<()> = redis::cmd("SET").arg(key).arg(value).query_async(con).await;
    assert!(done.is_ok(), "SET {key}: {done:?}");
}

async fn get(con: &mut MultiplexedConnection, key: &str) -> Option<String> {
    let got: redis::RedisResult<Option<String>> = redis::cmd("GET").arg(key).query_async(con).await;
    got.ok().flatten()
}

async fn dbsize(con: &mut MultiplexedConnection) -> i64 {
    let n: redis::RedisResult<i64> = redis::cmd("DBSIZE").query_async(con).await;
    n.unwrap_or(-1)
}

#[tokio::test]
async fn an_image_taken_from_one_node_seeds_the_first_start_of_another() {
    let sup = Supervisor::new(&common::loopback_config("127.0.98.1", &[]));
    let src = sup
        .start_node(common::redis_spec("acct/r/src/0001", 6379, &[]))
        .await
        .expect("source starts");
    let mut con = connect(&src).await;
    for i in 0..50 {
        set(&mut con, &format!("key:{i}"), &format!("value-{i}")).await;
    }
    let image = sup.snapshot_rdb("acct/r/src/0001").await.expect("image");
    assert!(image.starts_with(b"REDIS"));
    set(&mut con, "after", "not in the image").await;

    sup.seed_rdb("acct/r/dst/0001", Arc::new(image));
    let dst = sup
        .start_node(common::redis_spec("acct/r/dst/0001", 6379, &[]))
        .await
        .expect("restored node starts");
    let mut con = connect(&dst).await;
    assert_eq!(dbsize(&mut con).await, 50);
    assert_eq!(get(&mut con, "key:7").await.as_deref(), Some("value-7"));
    assert_eq!(get(&mut con, "after").await, None);
    // The seed was for the first start only.
    sup.reboot_node("acct/r/dst/0001").await.expect("reboot");
    let mut con = connect(&dst).await;
    assert_eq!(dbsize(&mut con).await, 0);
    // Unknown nodes have no image.
    assert!(sup.snapshot_rdb("acct/r/none/0001").await.is_err());
    sup.shutdown_all().await;
}

#[tokio::test]
async fn images_split_by_hash_slot_into_another_shard_count() {
    let sup = Supervisor::new(&common::loopback_config("127.0.99.1", &[]));
    let mut images = Vec::new();
    for (n, key_range) in [(1, 0..40), (2, 40..100)] {
        let key = format!("acct/r/s{n}/0001");
        let ep = sup
            .start_node(common::redis_spec(&key, 6379, &[]))
            .await
            .expect("start");
        let mut con = connect(&ep).await;
        for i in key_range {
            set(&mut con, &format!("k{i}"), &i.to_string()).await;
        }
        // Each source shard holds a function library (as FUNCTION LOAD on every primary).
        let lib = format!(
            "#!lua name=lib{n}\nredis.register_function('f{n}', function() return {n} end)"
        );
        let loaded: redis::RedisResult<String> = redis::cmd("FUNCTION")
            .arg("LOAD")
            .arg(&lib)
            .query_async(&mut con)
            .await;
        assert_eq!(loaded.ok().as_deref(), Some(format!("lib{n}").as_str()));
        images.push(Arc::new(sup.snapshot_rdb(&key).await.expect("image")));
    }
    let decoded = decode_images(&images).expect("decodes");
    let shards = vec![vec![(0, 5460)], vec![(5461, 10922)], vec![(10923, 16383)]];
    let split = decoded.split(&shards);
    assert_eq!(split.len(), 3);
    let mut total = 0;
    for (i, image) in split.into_iter().enumerate() {
        let key = format!("acct/r/new{i}/0001");
        sup.seed_rdb(&key, image);
        // Cluster mode, as a sharded group's nodes run (and for CLUSTER KEYSLOT).
        let mut spec = common::redis_spec(&key, 6379, &[]);
        spec.cluster_enabled = true;
        let ep = sup.start_node(spec).await.expect("start");
        let mut con = connect(&ep).await;
        let keys: redis::RedisResult<Vec<String>> =
            redis::cmd("KEYS").arg("*").query_async(&mut con).await;
        for k in keys.unwrap_or_default() {
            let slot: redis::RedisResult<u16> = redis::cmd("CLUSTER")
                .arg("KEYSLOT")
                .arg(&k)
                .query_async(&mut con)
                .await;
            let slot = slot.unwrap_or(u16::MAX);
            let (lo, hi) = shards[i][0];
            assert!((lo..=hi).contains(&slot), "{k} (slot {slot}) in shard {i}");
            total += 1;
        }
        // Every new shard has both libraries of the sources.
        for n in [1, 2] {
            let called: redis::RedisResult<i64> = redis::cmd("FCALL")
                .arg(format!("f{n}"))
                .arg(0)
                .query_async(&mut con)
                .await;
            assert_eq!(called.ok(), Some(n), "f{n} on shard {i}");
        }
    }
    assert_eq!(total, 100, "every key lands in exactly one shard");
    assert!(decode_images(&[Arc::new(b"REDIS0011garbage".to_vec())]).is_err());
    sup.shutdown_all().await;
}

/// The image is taken off the runtime's threads: on a single-threaded runtime (as this test
/// runs) the node still answers its clients while a large image is being made.
#[tokio::test]
async fn taking_an_image_leaves_the_runtime_serving_clients() {
    let sup = Supervisor::new(&common::loopback_config("127.0.97.1", &[]));
    let key = "acct/r/big/0001";
    let ep = sup
        .start_node(common::redis_spec(key, 6379, &[]))
        .await
        .expect("start");
    let mut con = connect(&ep).await;
    for batch in 0..40 {
        let mut cmd = redis::cmd("MSET");
        for i in 0..5000 {
            cmd.arg(format!("big:{batch}:{i}")).arg("x".repeat(64));
        }
        let done: redis::RedisResult<()> = cmd.query_async(&mut con).await;
        assert!(done.is_ok(), "MSET: {done:?}");
    }
    let finished = std::sync::atomic::AtomicBool::new(false);
    let snapshot = async {
        let image = sup.snapshot_rdb(key).await;
        finished.store(true, std::sync::atomic::Ordering::SeqCst);
        image
    };
    let pings = async {
        let mut during = 0;
        while !finished.load(std::sync::atomic::Ordering::SeqCst) {
            let pong: redis::RedisResult<String> = redis::cmd("PING").query_async(&mut con).await;
            assert_eq!(pong.ok().as_deref(), Some("PONG"));
            if !finished.load(std::sync::atomic::Ordering::SeqCst) {
                during += 1;
            }
        }
        during
    };
    let (image, during) = tokio::join!(snapshot, pings);
    assert!(image.expect("image").starts_with(b"REDIS"));
    assert!(
        during > 0,
        "no client was answered while the image was taken"
    );
    sup.shutdown_all().await;
}
