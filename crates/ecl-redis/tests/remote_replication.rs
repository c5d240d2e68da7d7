//! Replication from a real redis-server over the network (online migration): the handshake,
//! both forms of the full sync (`$<len>` from a disk-backed source, `$EOF:<mark>` from a
//! diskless one), the command stream (several types, expiry, SELECT, MULTI/EXEC, scripts),
//! acknowledgements (`WAIT` on the source counts our node), READONLY for clients meanwhile,
//! the node's own in-process replica following along (chained), and writes accepted again
//! once the link stops. Skipped when redis-server is not installed.

mod common;
use common::{ReferenceRedis, start};
use ecl_redis::{RedisNode, RemoteStatus};
use redis::AsyncCommands;
use std::time::Duration;

async fn source_client(port: u16) -> redis::aio::MultiplexedConnection {
    for _ in 0..100 {
        if let Ok(c) = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
            .expect("url")
            .get_multiplexed_async_connection_with_config(
                &redis::AsyncConnectionConfig::new()
                    .set_response_timeout(Some(Duration::from_secs(10))),
            )
            .await
        {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("redis-server did not start");
}

async fn until<F: AsyncFnMut() -> bool>(what: &str, mut f: F) {
    for _ in 0..400 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("not reached: {what}");
}

async fn seed(src: &mut redis::aio::MultiplexedConnection) {
    for i in 0..300 {
        let _: () = src.set(format!("s{i}"), i).await.unwrap();
    }
    let _: () = src
        .hset_multiple("h", &[("a", "1"), ("b", "2")])
        .await
        .unwrap();
    let _: () = redis::cmd("RPUSH")
        .arg("l")
        .arg("x")
        .arg("y")
        .arg("z")
        .exec_async(src)
        .await
        .unwrap();
    let _: () = redis::cmd("SADD")
        .arg("set")
        .arg("m1")
        .arg("m2")
        .exec_async(src)
        .await
        .unwrap();
    let _: () = src.zadd("z", "one", 1.5).await.unwrap();
    let _: () = src.set_ex("ttl", "v", 1000).await.unwrap();
    let _: () = redis::cmd("SELECT").arg(2).exec_async(src).await.unwrap();
    let _: () = src.set("in-db2", "yes").await.unwrap();
    let _: () = redis::cmd("SELECT").arg(0).exec_async(src).await.unwrap();
}

async fn migrate(diskless: &str) {
    // A directory of its own: a disk-backed sync writes dump.rdb, which a later server in
    // the same directory would load at start.
    let dir = std::env::temp_dir().join(format!("ecl-remote-{}-{diskless}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dir_arg = dir.to_string_lossy().to_string();
    let Some(source) = ReferenceRedis::start(&[
        "--repl-diskless-sync",
        diskless,
        "--repl-diskless-sync-delay",
        "0",
        "--dir",
        &dir_arg,
    ]) else {
        eprintln!("redis-server not installed: skipped");
        return;
    };
    let mut src = source_client(source.port).await;
    seed(&mut src).await;
    let node = start();
    let replica = start();
    let mut ours = common::client(&node).await;
    // Keys of its own, dropped in the background when the full copy arrives
    // (`replica-lazy-flush yes`), as redis-server counts them.
    for k in ["own1", "own2", "own3"] {
        let _: () = ours.set(k, 1).await.unwrap();
    }
    replica.replicate_from(&node, ("127.0.0.1".into(), node.local_addr().port()));
    node.replicate_from_remote(("127.0.0.1".into(), source.port));
    until("link up", async || {
        node.remote_status() == Some(RemoteStatus::Up)
    })
    .await;
    until("old keys freed in the background", async || {
        let info: String = redis::cmd("INFO")
            .arg("memory")
            .query_async(&mut ours)
            .await
            .unwrap();
        info.contains("lazyfree_pending_objects:0\r\nlazyfreed_objects:3\r\n")
    })
    .await;

    let v: Option<String> = ours.get("s299").await.unwrap();
    assert_eq!(v.as_deref(), Some("299"));
    let h: Vec<(String, String)> = ours.hgetall("h").await.unwrap();
    assert_eq!(h.len(), 2);
    let l: Vec<String> = ours.lrange("l", 0, -1).await.unwrap();
    assert_eq!(l, ["x", "y", "z"]);
    let ttl: i64 = ours.ttl("ttl").await.unwrap();
    assert!(ttl > 900, "{ttl}");
    let err = ours.set::<_, _, ()>("mine", 1).await.unwrap_err();
    assert!(err.to_string().contains("read only replica"), "{err}");

    // The stream: plain writes, a transaction, a script, another database, a delete.
    let _: () = src.set("after", "1").await.unwrap();
    let _: () = redis::pipe()
        .atomic()
        .incr("counter", 5)
        .lpush("l", "w")
        .query_async(&mut src)
        .await
        .unwrap();
    let _: () = redis::cmd("EVAL")
        .arg("redis.call('SET', KEYS[1], ARGV[1]) return 1")
        .arg(1)
        .arg("scripted")
        .arg("ok")
        .query_async::<i64>(&mut src)
        .await
        .map(|_| ())
        .unwrap();
    let _: () = src.del("s0").await.unwrap();
    let _: () = redis::cmd("SELECT")
        .arg(2)
        .exec_async(&mut src)
        .await
        .unwrap();
    let _: () = src.set("later-db2", "2").await.unwrap();
    // WAIT on the source counts our node once it acknowledged (REPLCONF ACK).
    let acked: i64 = redis::cmd("WAIT")
        .arg(1)
        .arg(5000)
        .query_async(&mut src)
        .await
        .unwrap();
    assert_eq!(acked, 1);
    until("script on ours", async || {
        ours.get::<_, Option<String>>("scripted")
            .await
            .unwrap()
            .is_some()
    })
    .await;
    assert_eq!(
        ours.get::<_, Option<i64>>("counter").await.unwrap(),
        Some(5)
    );
    assert_eq!(ours.llen::<_, i64>("l").await.unwrap(), 4);
    assert!(!ours.exists::<_, bool>("s0").await.unwrap());
    let _: () = redis::cmd("SELECT")
        .arg(2)
        .exec_async(&mut ours)
        .await
        .unwrap();
    assert_eq!(
        ours.get::<_, Option<String>>("later-db2")
            .await
            .unwrap()
            .as_deref(),
        Some("2")
    );
    assert_eq!(
        ours.get::<_, Option<String>>("in-db2")
            .await
            .unwrap()
            .as_deref(),
        Some("yes")
    );

    // The node's own replica followed (it was resynchronized after the RDB load).
    let mut rc = common::client(&replica).await;
    until("script on replica", async || {
        rc.get::<_, Option<String>>("scripted")
            .await
            .unwrap()
            .is_some()
    })
    .await;
    assert_eq!(
        rc.get::<_, Option<String>>("s299")
            .await
            .unwrap()
            .as_deref(),
        Some("299")
    );

    let _: () = redis::cmd("SELECT")
        .arg(0)
        .exec_async(&mut ours)
        .await
        .unwrap();
    node.stop_remote_replication();
    assert_eq!(node.remote_status(), None);
    let _: () = ours.set("mine", 1).await.unwrap();
    let _: () = src.set("not-anymore", 1).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!ours.exists::<_, bool>("not-anymore").await.unwrap());
    until("own write on replica", async || {
        rc.exists::<_, bool>("mine").await.unwrap()
    })
    .await;
    drop(source);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrates_from_a_diskless_source() {
    migrate("yes").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrates_from_a_disk_backed_source() {
    migrate("no").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_source_fails_after_retries() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let node: RedisNode = start();
    node.replicate_from_remote(("127.0.0.1".into(), port));
    for _ in 0..200 {
        if let Some(RemoteStatus::Failed(msg)) = node.remote_status() {
            assert!(msg.contains("connect"), "{msg}");
            assert!(
                ecl_redis::replication::remote::probe(&("127.0.0.1".into(), port))
                    .await
                    .is_err()
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("link did not fail");
}

/// A payload of many reads (tens of thousands of keys and a 2 MB value) in the diskless form,
/// then a burst of stream writes arriving while the node applies them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_diskless_payload_and_stream_burst() {
    let dir = std::env::temp_dir().join(format!("ecl-remote-{}-large", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dir_arg = dir.to_string_lossy().to_string();
    let Some(source) =
        ReferenceRedis::start(&["--repl-diskless-sync-delay", "0", "--dir", &dir_arg])
    else {
        eprintln!("redis-server not installed: skipped");
        return;
    };
    let mut src = source_client(source.port).await;
    let mut pipe = redis::pipe();
    for i in 0..30_000 {
        pipe.set(format!("key:{i}"), format!("value-{i}")).ignore();
    }
    let _: () = pipe.query_async(&mut src).await.unwrap();
    let big = "x".repeat(2 << 20);
    let _: () = src.set("big", &big).await.unwrap();
    let node = start();
    let mut ours = common::client(&node).await;
    node.replicate_from_remote(("127.0.0.1".into(), source.port));
    until("link up", async || {
        node.remote_status() == Some(RemoteStatus::Up)
    })
    .await;
    let mut burst = redis::pipe();
    for i in 0..5_000 {
        burst.incr("hits", 1).ignore();
        burst.set(format!("new:{i}"), i).ignore();
    }
    let _: () = burst.query_async(&mut src).await.unwrap();
    until("burst applied", async || {
        ours.get::<_, Option<i64>>("hits").await.unwrap() == Some(5_000)
    })
    .await;
    let size: i64 = redis::cmd("DBSIZE").query_async(&mut ours).await.unwrap();
    assert_eq!(size, 30_000 + 1 + 1 + 5_000);
    assert_eq!(ours.strlen::<_, usize>("big").await.unwrap(), 2 << 20);
    node.stop_remote_replication();
    drop(source);
    let _ = std::fs::remove_dir_all(&dir);
}
