//! Sorted-set family against a real node: ZADD options, score formatting (RESP2 and RESP3
//! doubles), every range form, algebra with WEIGHTS/AGGREGATE, pops incl. blocking pops woken
//! by another connection, ZRANDMEMBER, ZSCAN and encodings.

mod common;
use common::{Raw, client, start, start_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zadd_options_and_scores() {
    let node = start_with(|c| c.engine_version = "7.2.4".to_string());
    let mut c = Raw::connect(&node).await;
    assert_eq!(
        c.cmd(&["ZADD", "z", "1", "a", "2", "b", "3", "c"]).await,
        ":3\r\n"
    );
    assert_eq!(
        c.cmd(&["ZADD", "z", "NX", "10", "a", "4", "d"]).await,
        ":1\r\n"
    );
    assert_eq!(
        c.cmd(&["ZADD", "z", "XX", "CH", "5", "a", "9", "zz"]).await,
        ":1\r\n"
    );
    assert_eq!(c.cmd(&["ZADD", "z", "GT", "CH", "1", "a"]).await, ":0\r\n");
    assert_eq!(c.cmd(&["ZADD", "z", "LT", "CH", "1", "a"]).await, ":1\r\n");
    assert_eq!(
        c.cmd(&["ZADD", "z", "INCR", "2.5", "a"]).await,
        "$3\r\n3.5\r\n"
    );
    assert_eq!(
        c.cmd(&["ZADD", "z", "NX", "INCR", "1", "a"]).await,
        "$-1\r\n"
    );
    assert_eq!(
        c.cmd(&["ZADD", "z", "NX", "XX", "1", "a"]).await,
        "-ERR XX and NX options at the same time are not compatible\r\n"
    );
    assert_eq!(
        c.cmd(&["ZADD", "z", "GT", "LT", "1", "a"]).await,
        "-ERR GT, LT, and/or NX options at the same time are not compatible\r\n"
    );
    assert_eq!(
        c.cmd(&["ZADD", "z", "INCR", "1", "a", "2", "b"]).await,
        "-ERR INCR option supports a single increment-element pair\r\n"
    );
    assert_eq!(
        c.cmd(&["ZADD", "z", "x", "a"]).await,
        "-ERR value is not a valid float\r\n"
    );
    assert_eq!(
        c.cmd(&["ZADD", "z", "NX", "1"]).await,
        "-ERR syntax error\r\n"
    );
    assert_eq!(c.cmd(&["ZADD", "z", "+inf", "top"]).await, ":1\r\n");
    assert_eq!(c.cmd(&["ZSCORE", "z", "top"]).await, "$3\r\ninf\r\n");
    assert_eq!(
        c.cmd(&["ZINCRBY", "z", "-inf", "top"]).await,
        "-ERR resulting score is not a number (NaN)\r\n"
    );
    assert_eq!(
        c.cmd(&["ZMSCORE", "z", "b", "nope"]).await,
        "*2\r\n$1\r\n2\r\n$-1\r\n"
    );
    // Order: b(2) c(3) a(3.5) d(4) top(inf).
    assert_eq!(c.cmd(&["ZRANK", "z", "c"]).await, ":1\r\n");
    assert_eq!(c.cmd(&["ZREVRANK", "z", "c"]).await, ":3\r\n");
    assert_eq!(
        c.cmd(&["ZRANK", "z", "c", "WITHSCORE"]).await,
        "*2\r\n:1\r\n$1\r\n3\r\n"
    );
    assert_eq!(c.cmd(&["ZCARD", "z"]).await, ":5\r\n");
    assert_eq!(c.cmd(&["ZCOUNT", "z", "(2", "+inf"]).await, ":4\r\n");
    assert_eq!(
        c.cmd(&["ZCOUNT", "z", "x", "1"]).await,
        "-ERR min or max is not a float\r\n"
    );
    let old = start();
    let mut o = Raw::connect(&old).await;
    o.cmd(&["ZADD", "z", "1", "a"]).await;
    assert_eq!(
        o.cmd(&["ZRANK", "z", "a", "WITHSCORE"]).await,
        "-ERR wrong number of arguments for 'zrank' command\r\n"
    );
    // Score formatting follows the version: %.17g before 7.2, shortest from 7.2.
    o.cmd(&["ZADD", "f", "1.1", "m"]).await;
    assert_eq!(
        o.cmd(&["ZSCORE", "f", "m"]).await,
        "$18\r\n1.1000000000000001\r\n"
    );
    c.cmd(&["ZADD", "f", "1.1", "m"]).await;
    assert_eq!(c.cmd(&["ZSCORE", "f", "m"]).await, "$3\r\n1.1\r\n");
    assert_eq!(c.cmd(&["ZADD", "f", "-0", "m"]).await, ":0\r\n");
    assert_eq!(c.cmd(&["ZSCORE", "f", "m"]).await, "$1\r\n0\r\n");
    c.cmd(&["HELLO", "3"]).await;
    assert_eq!(c.cmd(&["ZSCORE", "z", "b"]).await, ",2\r\n");
    assert_eq!(
        c.cmd(&["ZRANGE", "z", "0", "1", "WITHSCORES"]).await,
        "*2\r\n*2\r\n$1\r\nb\r\n,2\r\n*2\r\n$1\r\nc\r\n,3\r\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_and_removals() {
    let node = start();
    let mut c = Raw::connect(&node).await;
    c.cmd(&[
        "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e",
    ])
    .await;
    assert_eq!(
        c.cmd(&["ZRANGE", "z", "-2", "-1"]).await,
        "*2\r\n$1\r\nd\r\n$1\r\ne\r\n"
    );
    assert_eq!(
        c.cmd(&["ZRANGE", "z", "0", "1", "REV"]).await,
        "*2\r\n$1\r\ne\r\n$1\r\nd\r\n"
    );
    assert_eq!(
        c.cmd(&["ZRANGE", "z", "(1", "4", "BYSCORE", "LIMIT", "1", "2"])
            .await,
        "*2\r\n$1\r\nc\r\n$1\r\nd\r\n"
    );
    assert_eq!(
        c.cmd(&[
            "ZRANGE", "z", "4", "(1", "BYSCORE", "REV", "LIMIT", "0", "2"
        ])
        .await,
        "*2\r\n$1\r\nd\r\n$1\r\nc\r\n"
    );
    assert_eq!(
        c.cmd(&["ZRANGE", "z", "0", "1", "LIMIT", "0", "1"]).await,
        "-ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX\r\n"
    );
    assert_eq!(
        c.cmd(&["ZRANGEBYSCORE", "z", "-inf", "2", "WITHSCORES"])
            .await,
        "*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n"
    );
    assert_eq!(
        c.cmd(&["ZREVRANGEBYSCORE", "z", "+inf", "(4"]).await,
        "*1\r\n$1\r\ne\r\n"
    );
    assert_eq!(
        c.cmd(&["ZREVRANGE", "z", "0", "0"]).await,
        "*1\r\n$1\r\ne\r\n"
    );
    c.cmd(&["ZADD", "lex", "0", "a", "0", "b", "0", "c", "0", "d"])
        .await;
    assert_eq!(
        c.cmd(&["ZRANGEBYLEX", "lex", "[b", "(d"]).await,
        "*2\r\n$1\r\nb\r\n$1\r\nc\r\n"
    );
    assert_eq!(
        c.cmd(&["ZREVRANGEBYLEX", "lex", "+", "[c"]).await,
        "*2\r\n$1\r\nd\r\n$1\r\nc\r\n"
    );
    assert_eq!(c.cmd(&["ZLEXCOUNT", "lex", "-", "+"]).await, ":4\r\n");
    assert_eq!(
        c.cmd(&["ZLEXCOUNT", "lex", "b", "+"]).await,
        "-ERR min or max not valid string range item\r\n"
    );
    assert_eq!(
        c.cmd(&["ZRANGESTORE", "dst", "z", "2", "5", "BYSCORE"])
            .await,
        ":4\r\n"
    );
    assert_eq!(c.cmd(&["ZREMRANGEBYRANK", "dst", "0", "0"]).await, ":1\r\n");
    assert_eq!(
        c.cmd(&["ZREMRANGEBYSCORE", "dst", "(3", "4"]).await,
        ":1\r\n"
    );
    assert_eq!(
        c.cmd(&["ZREMRANGEBYLEX", "lex", "[a", "[b"]).await,
        ":2\r\n"
    );
    assert_eq!(
        c.cmd(&["ZRANGE", "dst", "0", "-1"]).await,
        "*2\r\n$1\r\nc\r\n$1\r\ne\r\n"
    );
    assert_eq!(c.cmd(&["ZREM", "dst", "c", "e", "x"]).await, ":2\r\n");
    assert_eq!(c.cmd(&["EXISTS", "dst"]).await, ":0\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn algebra_pops_and_random() {
    let node = start();
    let mut c = Raw::connect(&node).await;
    c.cmd(&["ZADD", "z1", "1", "a", "2", "b"]).await;
    c.cmd(&["ZADD", "z2", "3", "b", "4", "c"]).await;
    c.cmd(&["SADD", "s", "a"]).await;
    assert_eq!(
        c.cmd(&["ZUNION", "2", "z1", "z2", "WEIGHTS", "2", "1", "WITHSCORES"])
            .await,
        "*6\r\n$1\r\na\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n4\r\n$1\r\nb\r\n$1\r\n7\r\n"
    );
    assert_eq!(
        c.cmd(&["ZINTER", "2", "z1", "z2", "AGGREGATE", "MAX", "WITHSCORES"])
            .await,
        "*2\r\n$1\r\nb\r\n$1\r\n3\r\n"
    );
    assert_eq!(
        c.cmd(&["ZDIFF", "2", "z1", "z2"]).await,
        "*1\r\n$1\r\na\r\n"
    );
    assert_eq!(c.cmd(&["ZINTERSTORE", "o", "2", "z1", "s"]).await, ":1\r\n");
    assert_eq!(c.cmd(&["ZSCORE", "o", "a"]).await, "$1\r\n2\r\n");
    assert_eq!(
        c.cmd(&["ZUNIONSTORE", "o", "2", "z1", "z2", "AGGREGATE", "MIN"])
            .await,
        ":3\r\n"
    );
    assert_eq!(c.cmd(&["ZDIFFSTORE", "o", "2", "z1", "z1"]).await, ":0\r\n");
    assert_eq!(c.cmd(&["EXISTS", "o"]).await, ":0\r\n");
    assert_eq!(
        c.cmd(&["ZINTERCARD", "2", "z1", "z2", "LIMIT", "5"]).await,
        ":1\r\n"
    );
    assert_eq!(
        c.cmd(&["ZUNION", "2", "z1", "z2", "WEIGHTS", "x", "1"])
            .await,
        "-ERR weight value is not a float\r\n"
    );
    assert_eq!(
        c.cmd(&["ZPOPMIN", "z1"]).await,
        "*2\r\n$1\r\na\r\n$1\r\n1\r\n"
    );
    assert_eq!(
        c.cmd(&["ZPOPMAX", "z2", "5"]).await,
        "*4\r\n$1\r\nc\r\n$1\r\n4\r\n$1\r\nb\r\n$1\r\n3\r\n"
    );
    assert_eq!(c.cmd(&["ZPOPMIN", "nokey"]).await, "*0\r\n");
    assert_eq!(
        c.cmd(&["ZMPOP", "2", "nokey", "z1", "MIN"]).await,
        "*2\r\n$2\r\nz1\r\n*1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n"
    );
    assert_eq!(c.cmd(&["ZMPOP", "1", "z1", "MAX"]).await, "*-1\r\n");
    let mut r = client(&node).await;
    let mut cmd = redis::cmd("ZADD");
    cmd.arg("big");
    for i in 0..200 {
        cmd.arg(i).arg(format!("m{i}"));
    }
    let _: i64 = cmd.query_async(&mut r).await.unwrap();
    let enc: String = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg("big")
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(enc, "skiplist");
    let rank: i64 = redis::cmd("ZREVRANK")
        .arg("big")
        .arg("m10")
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(rank, 189);
    let picked: Vec<String> = redis::cmd("ZRANDMEMBER")
        .arg("big")
        .arg(-300)
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(picked.len(), 300);
    let with: Vec<String> = redis::cmd("ZRANDMEMBER")
        .arg("big")
        .arg(5)
        .arg("WITHSCORES")
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(with.len(), 10);
    let mut seen = std::collections::HashSet::new();
    let mut cursor = 0u64;
    for _ in 0..1000 {
        let (next, items): (u64, Vec<String>) = redis::cmd("ZSCAN")
            .arg("big")
            .arg(cursor)
            .query_async(&mut r)
            .await
            .unwrap();
        for pair in items.chunks(2) {
            assert_eq!(pair[0], format!("m{}", pair[1]));
            seen.insert(pair[0].clone());
        }
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    assert_eq!(seen.len(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_zpops() {
    let node = start();
    let mut admin = client(&node).await;
    let mut w = client(&node).await;
    let t = tokio::spawn(async move {
        let r: (String, String, f64) = redis::cmd("BZPOPMIN")
            .arg("bz")
            .arg(0)
            .query_async(&mut w)
            .await
            .unwrap();
        r
    });
    for _ in 0..500 {
        let info: String = redis::cmd("INFO")
            .arg("clients")
            .query_async(&mut admin)
            .await
            .unwrap();
        if info.contains("blocked_clients:1\r\n") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let _: i64 = redis::cmd("ZADD")
        .arg("bz")
        .arg(7)
        .arg("m")
        .arg(9)
        .arg("n")
        .query_async(&mut admin)
        .await
        .unwrap();
    assert_eq!(t.await.unwrap(), ("bz".to_string(), "m".to_string(), 7.0));
    let r: Option<(String, String, f64)> = redis::cmd("BZPOPMAX")
        .arg("none")
        .arg(0.05)
        .query_async(&mut admin)
        .await
        .unwrap();
    assert_eq!(r, None);
    let mut raw = Raw::connect(&node).await;
    assert_eq!(
        raw.cmd(&["BZMPOP", "0", "1", "bz", "MAX", "COUNT", "3"])
            .await,
        "*2\r\n$2\r\nbz\r\n*1\r\n*2\r\n$1\r\nn\r\n$1\r\n9\r\n"
    );
    raw.cmd(&["MULTI"]).await;
    raw.cmd(&["BZPOPMIN", "bz", "0"]).await;
    assert_eq!(raw.cmd(&["EXEC"]).await, "*1\r\n*-1\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_picks_encodings_from_content() {
    let node = start();
    let mut r = client(&node).await;
    let mut cmd = redis::cmd("ZADD");
    cmd.arg("big");
    for i in 0..200 {
        cmd.arg(i).arg(format!("m{i}"));
    }
    let _: i64 = cmd.query_async(&mut r).await.unwrap();
    let _: i64 = redis::cmd("SADD")
        .arg("s")
        .arg("a")
        .query_async(&mut r)
        .await
        .unwrap();
    for (key, want) in [("big", "skiplist"), ("s", "hashtable")] {
        let payload: Vec<u8> = redis::cmd("DUMP")
            .arg(key)
            .query_async(&mut r)
            .await
            .unwrap();
        let copy = format!("{key}-copy");
        let _: () = redis::cmd("RESTORE")
            .arg(&copy)
            .arg(0)
            .arg(payload)
            .query_async(&mut r)
            .await
            .unwrap();
        let enc: String = redis::cmd("OBJECT")
            .arg("ENCODING")
            .arg(&copy)
            .query_async(&mut r)
            .await
            .unwrap();
        assert_eq!(enc, want, "{key}");
    }
    let rank: i64 = redis::cmd("ZRANK")
        .arg("big-copy")
        .arg("m150")
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(rank, 150);
}
