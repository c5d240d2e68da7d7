//! Hash family against a real node: field writes, counters, RESP3 map replies, HRANDFIELD
//! count rules, HSCAN, encodings and errors.

mod common;
use common::{Raw, client, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fields_counters_and_errors() {
    let node = start();
    let mut c = Raw::connect(&node).await;
    assert_eq!(c.cmd(&["HSET", "h", "a", "1", "b", "2"]).await, ":2\r\n");
    assert_eq!(c.cmd(&["HSET", "h", "a", "3"]).await, ":0\r\n");
    assert_eq!(
        c.cmd(&["HSET", "h", "a"]).await,
        "-ERR wrong number of arguments for 'hset' command\r\n"
    );
    assert_eq!(c.cmd(&["HSETNX", "h", "a", "9"]).await, ":0\r\n");
    assert_eq!(c.cmd(&["HMSET", "h", "c", "x"]).await, "+OK\r\n");
    assert_eq!(c.cmd(&["HGET", "h", "a"]).await, "$1\r\n3\r\n");
    assert_eq!(
        c.cmd(&["HMGET", "h", "a", "zz"]).await,
        "*2\r\n$1\r\n3\r\n$-1\r\n"
    );
    assert_eq!(c.cmd(&["HLEN", "h"]).await, ":3\r\n");
    assert_eq!(c.cmd(&["HSTRLEN", "h", "c"]).await, ":1\r\n");
    assert_eq!(c.cmd(&["HEXISTS", "h", "zz"]).await, ":0\r\n");
    assert_eq!(c.cmd(&["HINCRBY", "h", "a", "5"]).await, ":8\r\n");
    assert_eq!(
        c.cmd(&["HINCRBY", "h", "c", "1"]).await,
        "-ERR hash value is not an integer\r\n"
    );
    assert_eq!(
        c.cmd(&["HINCRBYFLOAT", "h", "f", "1.5"]).await,
        "$3\r\n1.5\r\n"
    );
    assert_eq!(
        c.cmd(&["HINCRBYFLOAT", "h", "c", "1"]).await,
        "-ERR hash value is not a float\r\n"
    );
    assert_eq!(
        c.cmd(&["HSET", "h", "m", "9223372036854775807"]).await,
        ":1\r\n"
    );
    assert_eq!(
        c.cmd(&["HINCRBY", "h", "m", "1"]).await,
        "-ERR increment or decrement would overflow\r\n"
    );
    assert_eq!(
        c.cmd(&["HDEL", "h", "a", "b", "c", "f", "m", "zz"]).await,
        ":5\r\n"
    );
    assert_eq!(c.cmd(&["EXISTS", "h"]).await, ":0\r\n");
    assert_eq!(c.cmd(&["HRANDFIELD", "h"]).await, "$-1\r\n");
    assert_eq!(c.cmd(&["HRANDFIELD", "h", "3"]).await, "*0\r\n");
    c.cmd(&["SET", "s", "v"]).await;
    assert_eq!(
        c.cmd(&["HGET", "s", "a"]).await,
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resp3_map_randfield_scan_encoding() {
    let node = start();
    let mut c = Raw::connect(&node).await;
    c.cmd(&["HELLO", "3"]).await;
    c.cmd(&["HSET", "h", "f", "v"]).await;
    assert_eq!(
        c.cmd(&["HGETALL", "h"]).await,
        "%1\r\n$1\r\nf\r\n$1\r\nv\r\n"
    );
    assert_eq!(
        c.cmd(&["HRANDFIELD", "h", "-3", "WITHVALUES"]).await,
        "*3\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n"
    );
    let mut r = client(&node).await;
    let mut cmd = redis::cmd("HSET");
    cmd.arg("big");
    for i in 0..300 {
        cmd.arg(format!("field{i}")).arg(i);
    }
    let n: i64 = cmd.query_async(&mut r).await.unwrap();
    assert_eq!(n, 300);
    let enc: String = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg("big")
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(enc, "hashtable");
    let enc: String = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg("h")
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(enc, "listpack");
    // A full HSCAN iteration sees every field exactly once.
    let mut cursor = 0u64;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..1000 {
        let (next, items): (u64, Vec<String>) = redis::cmd("HSCAN")
            .arg("big")
            .arg(cursor)
            .arg("COUNT")
            .arg(20)
            .query_async(&mut r)
            .await
            .unwrap();
        for pair in items.chunks(2) {
            seen.insert(pair[0].clone());
        }
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    assert_eq!(seen.len(), 300);
    let picked: Vec<String> = redis::cmd("HRANDFIELD")
        .arg("big")
        .arg(500)
        .query_async(&mut r)
        .await
        .unwrap();
    let distinct: std::collections::HashSet<_> = picked.iter().collect();
    assert_eq!((picked.len(), distinct.len()), (300, 300));
}

/// Reads `used_memory` from INFO.
async fn used_memory(c: &mut Raw) -> u64 {
    let info = c.cmd(&["INFO", "memory"]).await;
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_and_memory_accounting_for_every_family() {
    let node = start();
    let mut c = Raw::connect(&node).await;
    c.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEA"])
        .await;
    let mut sub = Raw::connect(&node).await;
    sub.send(&["PSUBSCRIBE", "__keyevent@0__:*"]).await;
    let _ = sub.read().await;
    let script: &[(&[&str], &[&str])] = &[
        (&["HSET", "h", "f", "1"], &["hset"]),
        (&["HINCRBY", "h", "f", "1"], &["hincrby"]),
        (&["HINCRBYFLOAT", "h", "f", "1"], &["hincrbyfloat"]),
        (&["HDEL", "h", "f"], &["hdel", "del"]),
        (&["SADD", "s", "a", "b"], &["sadd"]),
        (&["SREM", "s", "a"], &["srem"]),
        (&["SPOP", "s"], &["spop", "del"]),
        (&["ZADD", "z", "1", "a"], &["zadd"]),
        (&["ZINCRBY", "z", "1", "a"], &["zincr"]),
        (&["ZREM", "z", "a"], &["zrem", "del"]),
        (&["RPUSH", "l", "a", "b"], &["rpush"]),
        (&["LMOVE", "l", "l2", "LEFT", "RIGHT"], &["lpop", "rpush"]),
        (&["PFADD", "p", "x"], &["pfadd"]),
    ];
    for (cmd, events) in script {
        c.cmd(cmd).await;
        for e in *events {
            let got = sub.read().await;
            assert!(
                got.contains(&format!("__keyevent@0__:{e}\r\n")),
                "{cmd:?}: {got:?}"
            );
        }
    }
    // Memory grows with a big collection and returns once it is deleted.
    c.cmd(&["FLUSHALL"]).await;
    let base = used_memory(&mut c).await;
    let mut r = client(&node).await;
    for key in ["bh", "bs", "bz", "bl"] {
        for chunk in 0..20 {
            let mut cmd = match key {
                "bh" => redis::cmd("HSET"),
                "bs" => redis::cmd("SADD"),
                "bz" => redis::cmd("ZADD"),
                _ => redis::cmd("RPUSH"),
            };
            cmd.arg(key);
            for i in 0..500 {
                let m = format!("member-{chunk}-{i}");
                if key == "bz" {
                    cmd.arg(i);
                }
                cmd.arg(&m);
                if key == "bh" {
                    cmd.arg("value");
                }
            }
            let _: i64 = cmd.query_async(&mut r).await.unwrap();
        }
    }
    let full = used_memory(&mut c).await;
    assert!(full > base + 4 * 10_000 * 10, "base {base} full {full}");
    c.cmd(&["DEL", "bh", "bs", "bz", "bl"]).await;
    let after = used_memory(&mut c).await;
    assert!(
        after < base + (full - base) / 10,
        "base {base} full {full} after {after}"
    );
}
