//! Set family against a real node: membership, SPOP/SRANDMEMBER counts, algebra and STORE
//! forms, SINTERCARD LIMIT, SMOVE, RESP3 set replies, encodings, SSCAN.

mod common;
use common::{Raw, client, start, start_with};
use std::collections::HashSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn membership_and_algebra() {
    let node = start();
    let mut c = Raw::connect(&node).await;
    assert_eq!(c.cmd(&["SADD", "a", "1", "2", "3", "3"]).await, ":3\r\n");
    assert_eq!(c.cmd(&["SADD", "b", "2", "3", "4"]).await, ":3\r\n");
    assert_eq!(c.cmd(&["SISMEMBER", "a", "1"]).await, ":1\r\n");
    assert_eq!(
        c.cmd(&["SMISMEMBER", "a", "1", "9"]).await,
        "*2\r\n:1\r\n:0\r\n"
    );
    assert_eq!(c.cmd(&["SCARD", "a"]).await, ":3\r\n");
    assert_eq!(c.cmd(&["SINTERCARD", "2", "a", "b"]).await, ":2\r\n");
    assert_eq!(
        c.cmd(&["SINTERCARD", "2", "a", "b", "LIMIT", "1"]).await,
        ":1\r\n"
    );
    assert_eq!(
        c.cmd(&["SINTERCARD", "2", "a", "b", "LIMIT", "-1"]).await,
        "-ERR LIMIT can't be negative\r\n"
    );
    assert_eq!(
        c.cmd(&["SINTERCARD", "3", "a", "b"]).await,
        "-ERR Number of keys can't be greater than number of args\r\n"
    );
    assert_eq!(c.cmd(&["SINTERSTORE", "i", "a", "b"]).await, ":2\r\n");
    assert_eq!(c.cmd(&["SUNIONSTORE", "u", "a", "b"]).await, ":4\r\n");
    assert_eq!(c.cmd(&["SDIFFSTORE", "d", "a", "b"]).await, ":1\r\n");
    assert_eq!(c.cmd(&["SMEMBERS", "d"]).await, "*1\r\n$1\r\n1\r\n");
    assert_eq!(c.cmd(&["SDIFFSTORE", "d", "a", "a"]).await, ":0\r\n");
    assert_eq!(c.cmd(&["EXISTS", "d"]).await, ":0\r\n");
    assert_eq!(c.cmd(&["SMOVE", "a", "b", "1"]).await, ":1\r\n");
    assert_eq!(c.cmd(&["SMOVE", "a", "b", "1"]).await, ":0\r\n");
    assert_eq!(c.cmd(&["SREM", "a", "2", "3"]).await, ":2\r\n");
    assert_eq!(c.cmd(&["EXISTS", "a"]).await, ":0\r\n");
    assert_eq!(c.cmd(&["SPOP", "a", "3"]).await, "*0\r\n");
    assert_eq!(c.cmd(&["SPOP", "a"]).await, "$-1\r\n");
    assert_eq!(
        c.cmd(&["SPOP", "b", "-1"]).await,
        "-ERR value is out of range, must be positive\r\n"
    );
    c.cmd(&["HELLO", "3"]).await;
    assert_eq!(c.cmd(&["SMEMBERS", "i"]).await.chars().next(), Some('~'));
    assert_eq!(c.cmd(&["SINTER", "i", "nokey"]).await, "~0\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_members_encodings_and_scan() {
    // Redis 7.2 encodings: intset -> listpack -> hashtable.
    let node = start_with(|c| c.engine_version = "7.2.4".to_string());
    let mut r = client(&node).await;
    let mut cmd = redis::cmd("SADD");
    cmd.arg("s");
    for i in 0..100 {
        cmd.arg(i);
    }
    let _: i64 = cmd.query_async(&mut r).await.unwrap();
    let enc: String = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg("s")
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(enc, "intset");
    let _: i64 = redis::cmd("SADD")
        .arg("s")
        .arg("word")
        .query_async(&mut r)
        .await
        .unwrap();
    let enc: String = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg("s")
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(enc, "listpack");
    for i in 0..100 {
        let _: i64 = redis::cmd("SADD")
            .arg("s")
            .arg(format!("m{i}"))
            .query_async(&mut r)
            .await
            .unwrap();
    }
    let enc: String = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg("s")
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(enc, "hashtable");
    let rep: Vec<String> = redis::cmd("SRANDMEMBER")
        .arg("s")
        .arg(-500)
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(rep.len(), 500);
    let dist: Vec<String> = redis::cmd("SRANDMEMBER")
        .arg("s")
        .arg(50)
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(dist.iter().collect::<HashSet<_>>().len(), 50);
    let popped: Vec<String> = redis::cmd("SPOP")
        .arg("s")
        .arg(10)
        .query_async(&mut r)
        .await
        .unwrap();
    let card: i64 = redis::cmd("SCARD")
        .arg("s")
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!((popped.len(), card), (10, 191));
    let mut seen = HashSet::new();
    let mut cursor = 0u64;
    for _ in 0..1000 {
        let (next, items): (u64, Vec<String>) = redis::cmd("SSCAN")
            .arg("s")
            .arg(cursor)
            .arg("MATCH")
            .arg("m*")
            .query_async(&mut r)
            .await
            .unwrap();
        seen.extend(items);
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    let expected = (0..100)
        .filter(|i| !popped.contains(&format!("m{i}")))
        .count();
    assert_eq!(seen.len(), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_op_writes_leave_watchers_alone() {
    let node = start();
    let mut w = Raw::connect(&node).await;
    let mut o = Raw::connect(&node).await;
    o.cmd(&["SADD", "s", "a"]).await;
    o.cmd(&["HSET", "h", "f", "v"]).await;
    o.cmd(&["ZADD", "z", "1", "m"]).await;
    o.cmd(&["RPUSH", "l", "x"]).await;
    assert_eq!(w.cmd(&["WATCH", "s", "h", "z", "l"]).await, "+OK\r\n");
    // None of these changes anything, so the transaction still runs.
    assert_eq!(o.cmd(&["SADD", "s", "a"]).await, ":0\r\n");
    assert_eq!(o.cmd(&["SREM", "s", "zz"]).await, ":0\r\n");
    assert_eq!(o.cmd(&["HDEL", "h", "zz"]).await, ":0\r\n");
    assert_eq!(o.cmd(&["ZADD", "z", "NX", "5", "m"]).await, ":0\r\n");
    assert_eq!(o.cmd(&["ZADD", "z", "1", "m"]).await, ":0\r\n");
    assert_eq!(o.cmd(&["ZREM", "z", "zz"]).await, ":0\r\n");
    assert_eq!(o.cmd(&["ZREMRANGEBYSCORE", "z", "5", "9"]).await, ":0\r\n");
    assert_eq!(o.cmd(&["LREM", "l", "0", "zz"]).await, ":0\r\n");
    assert_eq!(
        o.cmd(&["LINSERT", "l", "BEFORE", "zz", "y"]).await,
        ":-1\r\n"
    );
    w.cmd(&["MULTI"]).await;
    w.cmd(&["PING"]).await;
    assert_eq!(w.cmd(&["EXEC"]).await, "*1\r\n+PONG\r\n");
    // A real change does abort it.
    w.cmd(&["WATCH", "s"]).await;
    o.cmd(&["SADD", "s", "b"]).await;
    w.cmd(&["MULTI"]).await;
    w.cmd(&["PING"]).await;
    assert_eq!(w.cmd(&["EXEC"]).await, "*-1\r\n");
}
