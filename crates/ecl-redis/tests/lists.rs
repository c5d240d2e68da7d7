//! List family against a real node: pushes/pops with counts, ranges, LPOS/LINSERT/LREM/LTRIM,
//! LMOVE/LMPOP, blocking pops woken by another connection (FIFO), timeouts, MULTI, WRONGTYPE,
//! encodings and keyspace events.

mod common;
use common::{Raw, client, start, start_with};
use redis::aio::MultiplexedConnection;

async fn q<T: redis::FromRedisValue>(c: &mut MultiplexedConnection, args: &[&str]) -> T {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query_async(c).await.expect(args[0])
}

/// Waits until the node reports `n` blocked clients (bounded polling, no timing assertion).
async fn wait_blocked(c: &mut MultiplexedConnection, n: usize) {
    for _ in 0..500 {
        let info: String = q(c, &["INFO", "clients"]).await;
        if info.contains(&format!("blocked_clients:{n}\r\n")) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("never saw {n} blocked clients");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_pop_range_and_errors() {
    let node = start();
    let mut c = Raw::connect(&node).await;
    assert_eq!(c.cmd(&["RPUSH", "l", "a", "b", "c", "d"]).await, ":4\r\n");
    assert_eq!(c.cmd(&["LPUSH", "l", "z"]).await, ":5\r\n");
    assert_eq!(c.cmd(&["LPUSHX", "nol", "x"]).await, ":0\r\n");
    assert_eq!(c.cmd(&["EXISTS", "nol"]).await, ":0\r\n");
    assert_eq!(
        c.cmd(&["LRANGE", "l", "1", "-2"]).await,
        "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
    );
    assert_eq!(c.cmd(&["LINDEX", "l", "-1"]).await, "$1\r\nd\r\n");
    assert_eq!(c.cmd(&["LINDEX", "l", "99"]).await, "$-1\r\n");
    assert_eq!(
        c.cmd(&["LPOP", "l", "2"]).await,
        "*2\r\n$1\r\nz\r\n$1\r\na\r\n"
    );
    assert_eq!(c.cmd(&["LPOP", "l", "0"]).await, "*0\r\n");
    assert_eq!(c.cmd(&["LPOP", "nol", "2"]).await, "*-1\r\n");
    assert_eq!(c.cmd(&["RPOP", "nol"]).await, "$-1\r\n");
    assert_eq!(
        c.cmd(&["LPOP", "l", "-1"]).await,
        "-ERR value is out of range, must be positive\r\n"
    );
    assert_eq!(
        c.cmd(&["LSET", "l", "5", "x"]).await,
        "-ERR index out of range\r\n"
    );
    assert_eq!(
        c.cmd(&["LSET", "nol", "0", "x"]).await,
        "-ERR no such key\r\n"
    );
    assert_eq!(c.cmd(&["LSET", "l", "0", "B"]).await, "+OK\r\n");
    assert_eq!(c.cmd(&["LINSERT", "l", "BEFORE", "c", "x"]).await, ":4\r\n");
    assert_eq!(
        c.cmd(&["LINSERT", "l", "AFTER", "nope", "x"]).await,
        ":-1\r\n"
    );
    assert_eq!(
        c.cmd(&["LINSERT", "l", "MIDDLE", "c", "x"]).await,
        "-ERR syntax error\r\n"
    );
    assert_eq!(c.cmd(&["RPUSH", "l", "x", "x"]).await, ":6\r\n");
    assert_eq!(c.cmd(&["LPOS", "l", "x"]).await, ":1\r\n");
    assert_eq!(c.cmd(&["LPOS", "l", "x", "RANK", "-1"]).await, ":5\r\n");
    assert_eq!(
        c.cmd(&["LPOS", "l", "x", "COUNT", "0"]).await,
        "*3\r\n:1\r\n:4\r\n:5\r\n"
    );
    assert_eq!(
        c.cmd(&["LPOS", "l", "x", "RANK", "0"]).await,
        "-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list\r\n"
    );
    assert_eq!(c.cmd(&["LREM", "l", "-2", "x"]).await, ":2\r\n");
    assert_eq!(c.cmd(&["LTRIM", "l", "1", "-1"]).await, "+OK\r\n");
    assert_eq!(c.cmd(&["LLEN", "l"]).await, ":3\r\n");
    assert_eq!(c.cmd(&["LTRIM", "l", "5", "1"]).await, "+OK\r\n");
    assert_eq!(c.cmd(&["EXISTS", "l"]).await, ":0\r\n");
    assert_eq!(c.cmd(&["SET", "s", "v"]).await, "+OK\r\n");
    assert_eq!(
        c.cmd(&["LPUSH", "s", "a"]).await,
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_eq!(
        c.cmd(&["BLPOP", "s", "0"]).await,
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_eq!(
        c.cmd(&["BLPOP", "l", "-1"]).await,
        "-ERR timeout is negative\r\n"
    );
    assert_eq!(
        c.cmd(&["BLPOP", "l", "abc"]).await,
        "-ERR timeout is not a float or out of range\r\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lmove_lmpop_and_encoding() {
    let node = start();
    let mut c = client(&node).await;
    let _: i64 = q(&mut c, &["RPUSH", "src", "1", "2", "3"]).await;
    let v: String = q(&mut c, &["LMOVE", "src", "dst", "LEFT", "RIGHT"]).await;
    assert_eq!(v, "1");
    let v: String = q(&mut c, &["RPOPLPUSH", "src", "dst"]).await;
    assert_eq!(v, "3");
    let dst: Vec<String> = q(&mut c, &["LRANGE", "dst", "0", "-1"]).await;
    assert_eq!(dst, ["3", "1"]);
    let none: Option<String> = q(&mut c, &["LMOVE", "nosrc", "dst", "LEFT", "LEFT"]).await;
    assert_eq!(none, None);
    let r: (String, Vec<String>) = q(
        &mut c,
        &["LMPOP", "2", "empty", "dst", "RIGHT", "COUNT", "5"],
    )
    .await;
    assert_eq!(
        r,
        ("dst".to_string(), vec!["1".to_string(), "3".to_string()])
    );
    let r: Option<(String, Vec<String>)> = q(&mut c, &["LMPOP", "1", "dst", "LEFT"]).await;
    assert_eq!(r, None);
    let e = redis::cmd("LMPOP")
        .arg("0")
        .arg("k")
        .arg("LEFT")
        .query_async::<()>(&mut c)
        .await;
    assert!(
        e.unwrap_err()
            .to_string()
            .contains("numkeys should be greater than 0")
    );
    // Before 7.2 every list is a quicklist.
    let enc: String = q(&mut c, &["OBJECT", "ENCODING", "src"]).await;
    assert_eq!(enc, "quicklist");
    // 7.2: listpack until one node's size limit, then quicklist, and back when it shrinks.
    let node72 = start_with(|c| c.engine_version = "7.2.4".to_string());
    let mut c = client(&node72).await;
    let _: i64 = q(&mut c, &["RPUSH", "l", "a", "b"]).await;
    let enc: String = q(&mut c, &["OBJECT", "ENCODING", "l"]).await;
    assert_eq!(enc, "listpack");
    let big = "x".repeat(9000);
    let _: i64 = q(&mut c, &["RPUSH", "l", &big]).await;
    let enc: String = q(&mut c, &["OBJECT", "ENCODING", "l"]).await;
    assert_eq!(enc, "quicklist");
    let _: String = q(&mut c, &["RPOP", "l"]).await;
    let enc: String = q(&mut c, &["OBJECT", "ENCODING", "l"]).await;
    assert_eq!(enc, "listpack");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_pops_fifo_timeout_and_multi() {
    let node = start();
    let mut admin = client(&node).await;
    let mut a = client(&node).await;
    let mut b = client(&node).await;
    let ta = tokio::spawn(async move {
        let r: (String, String) = q(&mut a, &["BLPOP", "q1", "q2", "0"]).await;
        r
    });
    wait_blocked(&mut admin, 1).await;
    let tb = tokio::spawn(async move {
        let r: (String, String) = q(&mut b, &["BRPOP", "q2", "5"]).await;
        r
    });
    wait_blocked(&mut admin, 2).await;
    // One element: the client that blocked first gets it.
    let _: i64 = q(&mut admin, &["RPUSH", "q2", "first"]).await;
    assert_eq!(ta.await.unwrap(), ("q2".to_string(), "first".to_string()));
    wait_blocked(&mut admin, 1).await;
    let _: i64 = q(&mut admin, &["RPUSH", "q2", "second"]).await;
    assert_eq!(tb.await.unwrap(), ("q2".to_string(), "second".to_string()));
    assert_eq!(q::<i64>(&mut admin, &["EXISTS", "q2"]).await, 0);

    // BLMOVE served by a push, landing in the destination.
    let mut m = client(&node).await;
    let tm = tokio::spawn(async move {
        let r: String = q(&mut m, &["BLMOVE", "from", "to", "LEFT", "RIGHT", "0"]).await;
        r
    });
    wait_blocked(&mut admin, 1).await;
    let _: i64 = q(&mut admin, &["LPUSH", "from", "moved"]).await;
    assert_eq!(tm.await.unwrap(), "moved");
    let to: Vec<String> = q(&mut admin, &["LRANGE", "to", "0", "-1"]).await;
    assert_eq!(to, ["moved"]);

    // Timeout: a null reply.
    let r: Option<(String, String)> = q(&mut admin, &["BLPOP", "never", "0.05"]).await;
    assert_eq!(r, None);
    let r: Option<String> = q(&mut admin, &["BRPOPLPUSH", "never", "x", "0.05"]).await;
    assert_eq!(r, None);

    // Inside MULTI a blocking pop never blocks.
    let mut raw = Raw::connect(&node).await;
    assert_eq!(raw.cmd(&["MULTI"]).await, "+OK\r\n");
    assert_eq!(raw.cmd(&["BLPOP", "never", "0"]).await, "+QUEUED\r\n");
    assert_eq!(
        raw.cmd(&["BLMPOP", "0", "1", "never", "LEFT"]).await,
        "+QUEUED\r\n"
    );
    assert_eq!(raw.cmd(&["EXEC"]).await, "*2\r\n*-1\r\n*-1\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyspace_events_for_list_writes() {
    let node = start();
    let mut c = client(&node).await;
    let _: () = q(&mut c, &["CONFIG", "SET", "notify-keyspace-events", "KEA"]).await;
    let mut sub = Raw::connect(&node).await;
    sub.send(&["PSUBSCRIBE", "__keyevent@0__:*"]).await;
    let _ = sub.read().await;
    let _: i64 = q(&mut c, &["RPUSH", "k", "a"]).await;
    let _: String = q(&mut c, &["LPOP", "k"]).await;
    let mut events = Vec::new();
    for _ in 0..3 {
        events.push(sub.read().await);
    }
    assert!(events[0].contains("__keyevent@0__:rpush"), "{events:?}");
    assert!(events[1].contains("__keyevent@0__:lpop"), "{events:?}");
    assert!(events[2].contains("__keyevent@0__:del"), "{events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_clients_served_after_exec_chained_and_in_order() {
    let node = start();
    let mut admin = client(&node).await;
    // Two waiters, one push of three elements: each waiter gets one, in order.
    let mut a = client(&node).await;
    let mut b = client(&node).await;
    let ta = tokio::spawn(async move { q::<(String, String)>(&mut a, &["BLPOP", "k", "0"]).await });
    wait_blocked(&mut admin, 1).await;
    let tb = tokio::spawn(async move { q::<(String, String)>(&mut b, &["BLPOP", "k", "0"]).await });
    wait_blocked(&mut admin, 2).await;
    let _: i64 = q(&mut admin, &["RPUSH", "k", "x", "y", "z"]).await;
    assert_eq!(ta.await.unwrap().1, "x");
    assert_eq!(tb.await.unwrap().1, "y");
    let rest: Vec<String> = q(&mut admin, &["LRANGE", "k", "0", "-1"]).await;
    assert_eq!(rest, ["z"]);

    // A push and a pop inside one transaction: the waiter sees nothing and stays blocked.
    let _: i64 = q(&mut admin, &["DEL", "k"]).await;
    let mut w = Raw::connect(&node).await;
    w.send(&["BLPOP", "t", "0"]).await;
    wait_blocked(&mut admin, 1).await;
    let mut tx = Raw::connect(&node).await;
    tx.cmd(&["MULTI"]).await;
    tx.cmd(&["LPUSH", "t", "v"]).await;
    tx.cmd(&["LPOP", "t"]).await;
    assert_eq!(tx.cmd(&["EXEC"]).await, "*2\r\n:1\r\n$1\r\nv\r\n");
    wait_blocked(&mut admin, 1).await;
    // Chained: BLMOVE serves the waiter and its push wakes a BLPOP on the destination.
    let mut m = client(&node).await;
    let tm = tokio::spawn(async move {
        q::<String>(&mut m, &["BLMOVE", "src", "t", "LEFT", "LEFT", "0"]).await
    });
    wait_blocked(&mut admin, 2).await;
    let _: i64 = q(&mut admin, &["LPUSH", "src", "hop"]).await;
    assert_eq!(tm.await.unwrap(), "hop");
    assert_eq!(w.read().await, "*2\r\n$1\r\nt\r\n$3\r\nhop\r\n");
    assert_eq!(q::<i64>(&mut admin, &["EXISTS", "src", "t"]).await, 0);

    // BLMPOP with COUNT takes up to COUNT from the first ready key.
    let mut c = client(&node).await;
    let tc = tokio::spawn(async move {
        q::<(String, Vec<String>)>(
            &mut c,
            &["BLMPOP", "0", "2", "m1", "m2", "RIGHT", "COUNT", "2"],
        )
        .await
    });
    wait_blocked(&mut admin, 1).await;
    let _: i64 = q(&mut admin, &["RPUSH", "m2", "1", "2", "3"]).await;
    assert_eq!(
        tc.await.unwrap(),
        ("m2".to_string(), vec!["3".to_string(), "2".to_string()])
    );
}

/// The two writes of one transaction.
type Writes<'a> = [&'a [&'a str]; 2];

/// A pop blocked on several keys is served from the key an EXEC signalled first, whatever the
/// order of its own keys, and also when an earlier key of its list holds another type (replies
/// as redis-server 7.0.15 gives them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_key_waiter_served_from_first_signalled_key() {
    let node = start();
    let mut admin = client(&node).await;
    let mut w = Raw::connect(&node).await;
    let mut tx = Raw::connect(&node).await;
    let cases: [(&[&str], Writes, &str); 4] = [
        (
            &["BLPOP", "k1", "k2", "0"],
            [&["RPUSH", "k2", "x"], &["RPUSH", "k1", "y"]],
            "*2\r\n$2\r\nk2\r\n$1\r\nx\r\n",
        ),
        (
            &["BLMPOP", "0", "2", "k1", "k2", "LEFT", "COUNT", "2"],
            [&["RPUSH", "k2", "x"], &["RPUSH", "k1", "y"]],
            "*2\r\n$2\r\nk2\r\n*1\r\n$1\r\nx\r\n",
        ),
        (
            &["BZPOPMIN", "k1", "k2", "0"],
            [&["ZADD", "k2", "1", "x"], &["ZADD", "k1", "2", "y"]],
            "*3\r\n$2\r\nk2\r\n$1\r\nx\r\n$1\r\n1\r\n",
        ),
        (
            &["BZMPOP", "0", "2", "k2", "k1", "MAX"],
            [&["ZADD", "k1", "1", "a"], &["LPUSH", "k2", "a"]],
            "*2\r\n$2\r\nk1\r\n*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n",
        ),
    ];
    for (blocker, writes, want) in cases {
        let _: i64 = q(&mut admin, &["DEL", "k1", "k2"]).await;
        w.send(blocker).await;
        wait_blocked(&mut admin, 1).await;
        tx.cmd(&["MULTI"]).await;
        for write in writes {
            tx.cmd(write).await;
        }
        tx.cmd(&["EXEC"]).await;
        assert_eq!(w.read().await, want, "{blocker:?}");
    }
}

/// Polls `INFO clients` on `admin` until `n` clients are blocked (bounded, no timing assertion).
async fn wait_blocked_raw(admin: &mut Raw, n: usize) {
    for _ in 0..500 {
        if admin
            .cmd(&["INFO", "clients"])
            .await
            .contains(&format!("blocked_clients:{n}\r\n"))
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("never saw {n} blocked clients");
}

/// The replies of a blocked BRPOPLPUSH / BLMOVE / BLPOP whose source gets a push while its
/// destination (or the source itself) holds another type, in order: one transcript per server.
async fn wrong_type_wake_transcript(mut admin: Raw, mut waiter: Raw) -> Vec<String> {
    let mut seen = Vec::new();
    // Destination of the wrong type: the push wakes the waiter with WRONGTYPE, once, from a
    // connection that already had a WRONGTYPE answered at once; the element stays.
    for (cmd, timeout) in [("BRPOPLPUSH", "1"), ("BRPOPLPUSH", "0"), ("BLMOVE", "0")] {
        admin.cmd(&["DEL", "src", "dst"]).await;
        admin.cmd(&["SET", "dst", "nolist"]).await;
        if timeout == "1" {
            admin.cmd(&["LPUSH", "src", "now"]).await;
        }
        let mut args = vec![cmd, "src", "dst"];
        if cmd == "BLMOVE" {
            args.extend(["LEFT", "RIGHT"]);
        }
        args.push(timeout);
        waiter.send(&args).await;
        if timeout == "0" {
            wait_blocked_raw(&mut admin, 1).await;
            seen.push(admin.cmd(&["RPUSH", "src", "foo"]).await);
        }
        seen.push(waiter.read().await);
        seen.push(admin.cmd(&["LRANGE", "src", "0", "-1"]).await);
    }
    // A source that turns into a string keeps a list waiter blocked until it is a list again.
    admin.cmd(&["DEL", "src", "dst"]).await;
    waiter.send(&["BLPOP", "src", "0"]).await;
    wait_blocked_raw(&mut admin, 1).await;
    seen.push(admin.cmd(&["SET", "src", "str"]).await);
    seen.push(
        admin
            .cmd(&["INFO", "clients"])
            .await
            .lines()
            .filter(|l| l.starts_with("blocked_clients"))
            .collect(),
    );
    admin.cmd(&["DEL", "src"]).await;
    seen.push(admin.cmd(&["RPUSH", "src", "x"]).await);
    seen.push(waiter.read().await);
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_move_onto_wrong_type_matches_redis_server() {
    let Some((ours, theirs)) = common::ours_and_theirs(wrong_type_wake_transcript).await else {
        eprintln!("redis-server not installed: skipped");
        return;
    };
    assert_eq!(ours, theirs);
    // What redis-server 7.0.15 answers, so a change on both sides is noticed too: the woken
    // BRPOPLPUSH gets WRONGTYPE and the pushed element stays in the source.
    let wrongtype = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    assert_eq!(theirs[3], wrongtype, "{theirs:?}");
    assert_eq!(theirs[4], "*1\r\n$3\r\nfoo\r\n", "{theirs:?}");
}
