//! Transactions, WATCH, Pub/Sub (RESP2 and RESP3), keyspace notifications, CLIENT commands,
//! MONITOR, blocking (WAIT) and CLIENT UNBLOCK.

mod common;
use common::{Raw, start};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_exec_rules() {
    let node = start();
    let mut c = Raw::connect(&node).await;
    assert_eq!(c.cmd(&["EXEC"]).await, "-ERR EXEC without MULTI\r\n");
    assert_eq!(c.cmd(&["DISCARD"]).await, "-ERR DISCARD without MULTI\r\n");
    assert_eq!(c.cmd(&["MULTI"]).await, "+OK\r\n");
    assert_eq!(
        c.cmd(&["MULTI"]).await,
        "-ERR MULTI calls can not be nested\r\n"
    );
    assert_eq!(c.cmd(&["SET", "a", "x"]).await, "+QUEUED\r\n");
    assert_eq!(c.cmd(&["INCR", "a"]).await, "+QUEUED\r\n");
    assert_eq!(c.cmd(&["GET", "a"]).await, "+QUEUED\r\n");
    assert_eq!(
        c.cmd(&["EXEC"]).await,
        "*3\r\n+OK\r\n-ERR value is not an integer or out of range\r\n$1\r\nx\r\n"
    );
    assert_eq!(c.cmd(&["MULTI"]).await, "+OK\r\n");
    assert_eq!(c.cmd(&["SET", "b", "1"]).await, "+QUEUED\r\n");
    assert!(c.cmd(&["NOSUCH"]).await.starts_with("-ERR unknown command"));
    assert_eq!(
        c.cmd(&["GET"]).await,
        "-ERR wrong number of arguments for 'get' command\r\n"
    );
    assert_eq!(
        c.cmd(&["EXEC"]).await,
        "-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    assert_eq!(c.cmd(&["EXISTS", "b"]).await, ":0\r\n");
    assert_eq!(c.cmd(&["MULTI"]).await, "+OK\r\n");
    assert_eq!(
        c.cmd(&["WATCH", "x"]).await,
        "-ERR WATCH inside MULTI is not allowed\r\n"
    );
    assert_eq!(c.cmd(&["SET", "b", "1"]).await, "+QUEUED\r\n");
    assert_eq!(c.cmd(&["DISCARD"]).await, "+OK\r\n");
    assert_eq!(c.cmd(&["EXISTS", "b"]).await, ":0\r\n");
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_is_invalidated_by_writes_expiry_and_flush() {
    let node = start();
    let mut c = Raw::connect(&node).await;
    let mut other = Raw::connect(&node).await;
    c.cmd(&["SET", "w", "1"]).await;
    // Untouched: EXEC runs.
    c.cmd(&["WATCH", "w"]).await;
    c.cmd(&["MULTI"]).await;
    c.cmd(&["INCR", "w"]).await;
    assert_eq!(c.cmd(&["EXEC"]).await, "*1\r\n:2\r\n");
    // Another client's write aborts.
    c.cmd(&["WATCH", "w"]).await;
    other.cmd(&["SET", "w", "10"]).await;
    c.cmd(&["MULTI"]).await;
    c.cmd(&["INCR", "w"]).await;
    assert_eq!(c.cmd(&["EXEC"]).await, "*-1\r\n");
    // Expiry of a watched key aborts.
    c.cmd(&["SET", "e", "1", "PX", "1000"]).await;
    c.cmd(&["WATCH", "e"]).await;
    node.advance_clock(Duration::from_secs(2));
    c.cmd(&["MULTI"]).await;
    c.cmd(&["PING"]).await;
    assert_eq!(c.cmd(&["EXEC"]).await, "*-1\r\n");
    // FLUSHALL aborts for a watched key it emptied, not for one that did not exist
    // (redis-server 7.0.15 flags only watched keys present in the flushed database).
    c.cmd(&["SET", "present", "1"]).await;
    c.cmd(&["WATCH", "present"]).await;
    other.cmd(&["FLUSHALL"]).await;
    c.cmd(&["MULTI"]).await;
    c.cmd(&["PING"]).await;
    assert_eq!(c.cmd(&["EXEC"]).await, "*-1\r\n");
    c.cmd(&["WATCH", "missing"]).await;
    other.cmd(&["FLUSHALL"]).await;
    c.cmd(&["MULTI"]).await;
    c.cmd(&["PING"]).await;
    assert_eq!(c.cmd(&["EXEC"]).await, "*1\r\n+PONG\r\n");
    // A watched key created and deleted again by another client counts as modified.
    c.cmd(&["WATCH", "transient"]).await;
    other.cmd(&["SET", "transient", "1"]).await;
    other.cmd(&["DEL", "transient"]).await;
    c.cmd(&["MULTI"]).await;
    c.cmd(&["PING"]).await;
    assert_eq!(c.cmd(&["EXEC"]).await, "*-1\r\n");
    // UNWATCH forgets.
    c.cmd(&["WATCH", "w"]).await;
    other.cmd(&["SET", "w", "5"]).await;
    c.cmd(&["UNWATCH"]).await;
    c.cmd(&["MULTI"]).await;
    c.cmd(&["GET", "w"]).await;
    assert_eq!(c.cmd(&["EXEC"]).await, "*1\r\n$1\r\n5\r\n");
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pubsub_resp2_and_resp3() {
    let node = start();
    let mut sub = Raw::connect(&node).await;
    let mut pub_ = Raw::connect(&node).await;
    assert_eq!(
        sub.cmd(&["SUBSCRIBE", "news", "sport"]).await,
        "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"
    );
    assert_eq!(
        sub.read().await,
        "*3\r\n$9\r\nsubscribe\r\n$5\r\nsport\r\n:2\r\n"
    );
    assert_eq!(
        sub.cmd(&["PSUBSCRIBE", "n*"]).await,
        "*3\r\n$10\r\npsubscribe\r\n$2\r\nn*\r\n:3\r\n"
    );
    assert_eq!(
        sub.cmd(&["GET", "x"]).await,
        "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
    );
    assert_eq!(sub.cmd(&["PING"]).await, "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    assert_eq!(pub_.cmd(&["PUBLISH", "news", "hello"]).await, ":2\r\n");
    assert_eq!(
        sub.read().await,
        "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n"
    );
    assert_eq!(
        sub.read().await,
        "*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$5\r\nhello\r\n"
    );
    let numsub = pub_.cmd(&["PUBSUB", "NUMSUB", "news", "none"]).await;
    assert_eq!(numsub, "*4\r\n$4\r\nnews\r\n:1\r\n$4\r\nnone\r\n:0\r\n");
    assert_eq!(pub_.cmd(&["PUBSUB", "NUMPAT"]).await, ":1\r\n");
    assert_eq!(
        sub.cmd(&["UNSUBSCRIBE", "news"]).await,
        "*3\r\n$11\r\nunsubscribe\r\n$4\r\nnews\r\n:2\r\n"
    );
    assert_eq!(
        sub.cmd(&["PUNSUBSCRIBE"]).await,
        "*3\r\n$12\r\npunsubscribe\r\n$2\r\nn*\r\n:1\r\n"
    );
    assert_eq!(
        sub.cmd(&["UNSUBSCRIBE"]).await,
        "*3\r\n$11\r\nunsubscribe\r\n$5\r\nsport\r\n:0\r\n"
    );
    assert_eq!(
        sub.cmd(&["GET", "x"]).await,
        "$-1\r\n",
        "left subscribed mode"
    );

    let mut s3 = Raw::connect(&node).await;
    s3.cmd(&["HELLO", "3"]).await;
    assert_eq!(
        s3.cmd(&["SSUBSCRIBE", "orders"]).await,
        ">3\r\n$10\r\nssubscribe\r\n$6\r\norders\r\n:1\r\n"
    );
    assert_eq!(
        s3.cmd(&["GET", "x"]).await,
        "_\r\n",
        "RESP3 clients may run commands while subscribed"
    );
    assert_eq!(pub_.cmd(&["SPUBLISH", "orders", "o1"]).await, ":1\r\n");
    assert_eq!(
        s3.read().await,
        ">3\r\n$8\r\nsmessage\r\n$6\r\norders\r\n$2\r\no1\r\n"
    );
    assert_eq!(
        pub_.cmd(&["PUBSUB", "SHARDCHANNELS"]).await,
        "*1\r\n$6\r\norders\r\n"
    );
    assert_eq!(
        pub_.cmd(&["PUBSUB", "SHARDNUMSUB", "orders"]).await,
        "*2\r\n$6\r\norders\r\n:1\r\n"
    );
    // A flat array even for a RESP3 client, as Redis replies.
    assert_eq!(
        s3.cmd(&["PUBSUB", "NUMSUB", "orders"]).await,
        "*2\r\n$6\r\norders\r\n:0\r\n"
    );
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyspace_notifications() {
    let node = start();
    let mut sub = Raw::connect(&node).await;
    let mut c = Raw::connect(&node).await;
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEA"])
            .await,
        "+OK\r\n"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "notify-keyspace-events"]).await,
        "*2\r\n$22\r\nnotify-keyspace-events\r\n$3\r\nAKE\r\n"
    );
    sub.cmd(&["PSUBSCRIBE", "__key*__:*"]).await;
    c.cmd(&["SET", "k", "v"]).await;
    let a = sub.read().await;
    assert!(
        a.contains("__keyspace@0__:k") && a.ends_with("$3\r\nset\r\n"),
        "{a}"
    );
    let b = sub.read().await;
    assert!(
        b.contains("__keyevent@0__:set") && b.ends_with("$1\r\nk\r\n"),
        "{b}"
    );
    c.cmd(&["PEXPIRE", "k", "10"]).await;
    sub.read().await;
    sub.read().await;
    node.advance_clock(Duration::from_secs(1));
    assert_eq!(c.cmd(&["GET", "k"]).await, "$-1\r\n");
    let e = sub.read().await;
    assert!(
        e.contains("__keyspace@0__:k") && e.ends_with("$7\r\nexpired\r\n"),
        "{e}"
    );
    assert!(
        c.cmd(&["CONFIG", "SET", "notify-keyspace-events", "Q"])
            .await
            .starts_with("-ERR CONFIG SET failed")
    );
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_commands_and_monitor() {
    let node = start();
    let mut a = Raw::connect(&node).await;
    let mut b = Raw::connect(&node).await;
    let id_b = b
        .cmd(&["CLIENT", "ID"])
        .await
        .trim_start_matches(':')
        .trim()
        .to_string();
    assert_eq!(b.cmd(&["CLIENT", "SETNAME", "worker-b"]).await, "+OK\r\n");
    assert_eq!(
        b.cmd(&["CLIENT", "SETNAME", "bad name"]).await,
        "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
    );
    let list = a.cmd(&["CLIENT", "LIST"]).await;
    assert!(list.contains("name=worker-b"), "{list}");
    assert!(list.contains("cmd=client|list"), "{list}");
    let info = b.cmd(&["CLIENT", "INFO"]).await;
    assert!(info.contains(&format!("id={id_b} ")), "{info}");
    // CLIENT REPLY OFF silences replies until ON.
    a.send(&["CLIENT", "REPLY", "OFF"]).await;
    a.send(&["SET", "silent", "1"]).await;
    assert_eq!(a.cmd(&["CLIENT", "REPLY", "ON"]).await, "+OK\r\n");
    assert_eq!(a.cmd(&["GET", "silent"]).await, "$1\r\n1\r\n");
    // MONITOR sees other clients' commands.
    let mut m = Raw::connect(&node).await;
    assert_eq!(m.cmd(&["MONITOR"]).await, "+OK\r\n");
    a.cmd(&["SET", "watched", "v"]).await;
    let line = m.read().await;
    assert!(
        line.starts_with('+') && line.contains("\"SET\" \"watched\" \"v\""),
        "{line}"
    );
    // CLIENT KILL by id closes the target.
    assert_eq!(a.cmd(&["CLIENT", "KILL", "ID", &id_b]).await, ":1\r\n");
    assert!(b.closed().await);
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_wait_times_out_and_unblocks() {
    let node = start();
    let mut c = Raw::connect(&node).await;
    let mut other = Raw::connect(&node).await;
    let id = c
        .cmd(&["CLIENT", "ID"])
        .await
        .trim_start_matches(':')
        .trim()
        .to_string();
    // With no replicas, WAIT 1 <timeout> waits for the timeout, then answers 0.
    assert_eq!(c.cmd(&["WAIT", "1", "50"]).await, ":0\r\n");
    // An unbounded WAIT is released by CLIENT UNBLOCK.
    c.send(&["WAIT", "1", "0"]).await;
    let mut n = ":0\r\n".to_string();
    for _ in 0..200 {
        n = other.cmd(&["CLIENT", "UNBLOCK", &id]).await;
        if n == ":1\r\n" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(n, ":1\r\n");
    assert_eq!(c.read().await, ":0\r\n");
    assert_eq!(c.cmd(&["PING"]).await, "+PONG\r\n");
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_subscriber_is_disconnected_not_buffered_forever() {
    let node = start();
    let mut sub = Raw::connect(&node).await;
    let mut p = Raw::connect(&node).await;
    sub.cmd(&["SUBSCRIBE", "firehose"]).await;
    // The subscriber never reads again; publish ~64 MB.
    let msg = "x".repeat(1 << 20);
    let mut dropped = false;
    for _ in 0..64 {
        if p.cmd(&["PUBLISH", "firehose", &msg]).await == ":0\r\n" {
            dropped = true;
            break;
        }
    }
    let mut gone = dropped;
    for _ in 0..200 {
        if gone {
            break;
        }
        gone = p
            .cmd(&["PUBSUB", "NUMSUB", "firehose"])
            .await
            .ends_with(":0\r\n");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(gone, "the stalled subscriber was disconnected");
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_side_caching_invalidations() {
    let node = start();
    let mut c = Raw::connect(&node).await;
    let mut w = Raw::connect(&node).await;
    c.cmd(&["HELLO", "3"]).await;
    assert_eq!(c.cmd(&["CLIENT", "TRACKING", "on"]).await, "+OK\r\n");
    w.cmd(&["SET", "a", "1"]).await;
    assert_eq!(c.cmd(&["GET", "a"]).await, "$1\r\n1\r\n");
    w.cmd(&["SET", "a", "2"]).await;
    // The next thing the tracking client sees is the invalidation push for `a`.
    assert_eq!(
        c.read().await,
        ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\na\r\n"
    );
    // Not read since: a second write sends nothing more; FLUSHALL sends a null invalidation.
    w.cmd(&["SET", "a", "3"]).await;
    w.cmd(&["FLUSHALL"]).await;
    assert_eq!(c.read().await, ">2\r\n$10\r\ninvalidate\r\n_\r\n");
    let info = c.cmd(&["CLIENT", "TRACKINGINFO"]).await;
    assert!(info.contains("$2\r\non\r\n"), "{info}");
    assert_eq!(c.cmd(&["CLIENT", "GETREDIR"]).await, ":0\r\n");
    assert_eq!(
        c.cmd(&["CLIENT", "TRACKING", "on", "PREFIX", "x"]).await,
        "-ERR PREFIX option requires BCAST mode to be enabled\r\n"
    );
    // BCAST with a prefix: writes to matching keys are announced without reads (switching
    // modes takes turning tracking off first).
    assert_eq!(c.cmd(&["CLIENT", "TRACKING", "off"]).await, "+OK\r\n");
    assert_eq!(
        c.cmd(&["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "user:"])
            .await,
        "+OK\r\n"
    );
    w.cmd(&["SET", "other", "1"]).await;
    w.cmd(&["SET", "user:1", "1"]).await;
    assert_eq!(
        c.read().await,
        ">2\r\n$10\r\ninvalidate\r\n*1\r\n$6\r\nuser:1\r\n"
    );

    // RESP2 with REDIRECT: messages arrive on __redis__:invalidate of the redirect client.
    let mut r = Raw::connect(&node).await;
    let rid = r
        .cmd(&["CLIENT", "ID"])
        .await
        .trim_start_matches(':')
        .trim()
        .to_string();
    r.cmd(&["SUBSCRIBE", "__redis__:invalidate"]).await;
    let mut t = Raw::connect(&node).await;
    assert_eq!(
        t.cmd(&["CLIENT", "TRACKING", "on", "REDIRECT", &rid]).await,
        "+OK\r\n"
    );
    assert_eq!(t.cmd(&["CLIENT", "GETREDIR"]).await, format!(":{rid}\r\n"));
    t.cmd(&["GET", "k"]).await;
    w.cmd(&["SET", "k", "v"]).await;
    assert_eq!(
        r.read().await,
        "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$1\r\nk\r\n"
    );
    assert_eq!(
        t.cmd(&["CLIENT", "TRACKING", "on", "REDIRECT", "999999"])
            .await,
        "-ERR The client ID you want redirect to does not exist\r\n"
    );
    node.shutdown().await;
}

/// SWAPDB marks a WATCHed key changed only when it exists in one of the two databases (as
/// redis-server 7.0.15 does): a watched key missing from both leaves EXEC to run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swapdb_touches_only_existing_watched_keys() {
    let node = start();
    let mut c = Raw::connect(&node).await;
    let cases: [(&[&[&str]], &str); 4] = [
        (&[&["WATCH", "k"], &["SWAPDB", "0", "2"]], "*0\r\n"),
        (
            &[&["SET", "k", "1"], &["WATCH", "k"], &["SWAPDB", "0", "2"]],
            "*-1\r\n",
        ),
        (
            &[
                &["SELECT", "3"],
                &["SET", "k", "1"],
                &["SELECT", "0"],
                &["WATCH", "k"],
                &["SWAPDB", "0", "3"],
            ],
            "*-1\r\n",
        ),
        (
            &[&["SET", "k", "1"], &["WATCH", "k"], &["SWAPDB", "1", "2"]],
            "*0\r\n",
        ),
    ];
    for (setup, want) in cases {
        c.cmd(&["FLUSHALL"]).await;
        for step in setup {
            c.cmd(step).await;
        }
        c.cmd(&["MULTI"]).await;
        assert_eq!(c.cmd(&["EXEC"]).await, want, "{setup:?}");
    }
}

/// Writes that change nothing Redis counts as a modification, each after a setup, as
/// `(setup, write)`: whether a WATCH on `k` aborts the next EXEC must match redis-server.
const WATCH_CASES: &[(&[&str], &[&str])] = &[
    (&["SADD", "k", "a"], &["SADD", "k", "a"]),
    (&["SADD", "k", "a"], &["SREM", "k", "zz"]),
    (&["SADD", "k", "a"], &["SMOVE", "s", "k", "a"]),
    (&["ZADD", "k", "1", "a"], &["ZADD", "k", "1", "a"]),
    (&["ZADD", "k", "1", "a"], &["ZINCRBY", "k", "0", "a"]),
    (&["ZADD", "k", "1", "a"], &["ZINCRBY", "k", "1", "a"]),
    (&["ZADD", "k", "1", "a"], &["ZADD", "k", "INCR", "0", "a"]),
    (
        &["ZADD", "k", "1", "a"],
        &["ZADD", "k", "NX", "INCR", "5", "a"],
    ),
    (
        &["ZADD", "k", "1", "a"],
        &["ZADD", "k", "GT", "INCR", "-1", "a"],
    ),
    (&["ZADD", "k", "1", "a"], &["ZPOPMIN", "k", "0"]),
    (&["ZADD", "k", "1", "a"], &["ZPOPMIN", "k", "1"]),
    (&["HSET", "k", "f", "v"], &["HDEL", "k", "zz"]),
    (&["SET", "k", "v"], &["SETBIT", "k", "0", "0"]),
    (&["SET", "k", "v"], &["SETBIT", "k", "1", "0"]),
    (&["SET", "k", "v"], &["SETBIT", "k", "100", "0"]),
    (&["XADD", "k", "1-1", "f", "v"], &["XSETID", "k", "5-5"]),
    (
        &["XADD", "k", "1-1", "f", "v"],
        &["XGROUP", "CREATE", "k", "g2", "$"],
    ),
    (
        &["XADD", "k", "1-1", "f", "v"],
        &["XGROUP", "SETID", "k", "g", "0"],
    ),
    (
        &["XADD", "k", "1-1", "f", "v"],
        &["XGROUP", "DELCONSUMER", "k", "g", "c"],
    ),
    (
        &["XADD", "k", "1-1", "f", "v"],
        &["XGROUP", "DESTROY", "k", "g"],
    ),
    (
        &["XADD", "k", "1-1", "f", "v"],
        &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "k", ">"],
    ),
    (&["XADD", "k", "1-1", "f", "v"], &["XDEL", "k", "1-1"]),
];

/// For each of [`WATCH_CASES`], the EXEC reply of a client that watched `k` before the write.
async fn watch_transcript(mut admin: Raw, mut watcher: Raw) -> Vec<String> {
    let mut seen = Vec::new();
    for (setup, write) in WATCH_CASES {
        admin.cmd(&["FLUSHALL"]).await;
        admin.cmd(setup).await;
        admin.cmd(&["SADD", "s", "a"]).await;
        if setup[0] == "XADD" {
            admin.cmd(&["XGROUP", "CREATE", "k", "g", "0"]).await;
        }
        watcher.cmd(&["WATCH", "k"]).await;
        admin.cmd(write).await;
        watcher.cmd(&["MULTI"]).await;
        watcher.cmd(&["PING"]).await;
        seen.push(format!("{write:?}: {}", watcher.cmd(&["EXEC"]).await));
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_sees_the_writes_redis_server_signals() {
    let Some((ours, theirs)) = common::ours_and_theirs(watch_transcript).await else {
        eprintln!("redis-server not installed: skipped");
        return;
    };
    assert_eq!(ours, theirs);
    // Both ways occur: a real change aborts the EXEC, an unchanged value does not.
    assert!(theirs.iter().any(|l| l.ends_with("*-1\r\n")), "{theirs:?}");
    assert!(
        theirs.iter().any(|l| l.ends_with("+PONG\r\n")),
        "{theirs:?}"
    );
}

/// What a subscriber with CLIENT REPLY OFF (then SKIP) receives, in RESP3 and RESP2: the
/// subscription confirmations and messages are pushed anyway, other replies and errors not.
async fn reply_off_subscriber_transcript(mut sub: Raw, mut publisher: Raw) -> Vec<String> {
    let mut seen = Vec::new();
    for (proto, channel) in [("3", "c3"), ("2", "c2")] {
        sub.cmd(&["HELLO", proto]).await;
        sub.send(&["CLIENT", "REPLY", "OFF"]).await;
        sub.send(&["SUBSCRIBE", channel]).await;
        seen.push(sub.read().await);
        sub.send(&["PSUBSCRIBE", "p*"]).await;
        seen.push(sub.read().await);
        seen.push(publisher.cmd(&["PUBLISH", channel, "hello"]).await);
        seen.push(sub.read().await);
        sub.send(&["SUBSCRIBE"]).await; // an arity error: not sent
        sub.send(&["UNSUBSCRIBE", channel]).await;
        seen.push(sub.read().await);
        sub.send(&["PUNSUBSCRIBE", "p*"]).await;
        seen.push(sub.read().await);
        sub.send(&["CLIENT", "REPLY", "SKIP"]).await;
        sub.send(&["SUBSCRIBE", "s"]).await;
        seen.push(sub.read().await);
        sub.send(&["UNSUBSCRIBE", "s"]).await;
        seen.push(sub.read().await);
        // Back on: the next reply is the PING's.
        seen.push(sub.cmd(&["CLIENT", "REPLY", "ON"]).await);
        seen.push(sub.cmd(&["PING"]).await);
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_confirmations_pass_client_reply_off_as_on_redis_server() {
    let Some((ours, theirs)) = common::ours_and_theirs(reply_off_subscriber_transcript).await
    else {
        eprintln!("redis-server not installed: skipped");
        return;
    };
    assert_eq!(ours, theirs);
    assert!(theirs[0].contains("subscribe"), "{theirs:?}");
}

/// SWAPDB leaves a WATCHed key unchanged when only an expired key (not yet deleted) takes or
/// leaves its place, as redis-server 7.0.15 does (multi.tcl's stale-key cases); a live key
/// in either database still aborts the EXEC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swapdb_ignores_stale_keys_for_watch() {
    let transcript = |mut c: Raw, _| async move {
        let mut log = Vec::new();
        let cases: [&[&[&str]]; 3] = [
            &[&["SELECT", "0"], &["SET", "x", "foo", "PX", "1"]],
            &[
                &["SELECT", "1"],
                &["SET", "x", "foo", "PX", "1"],
                &["SELECT", "0"],
                &["SET", "x", "bar", "PX", "1"],
            ],
            &[&["SELECT", "0"], &["SET", "x", "live"]],
        ];
        for setup in cases {
            c.cmd(&["FLUSHALL"]).await;
            for args in setup {
                c.cmd(args).await;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
            for args in [
                &["SELECT", "1"][..],
                &["WATCH", "x"],
                &["SWAPDB", "0", "1"],
                &["MULTI"],
                &["PING"],
                &["EXEC"],
            ] {
                log.push(c.cmd(args).await);
            }
        }
        log
    };
    let Some((ours, theirs)) = common::ours_and_theirs(transcript).await else {
        eprintln!("redis-server not installed: skipped");
        return;
    };
    assert_eq!(ours, theirs);
    assert_eq!(theirs[5], "*1\r\n+PONG\r\n");
    assert_eq!(theirs[17], "*-1\r\n");
}

/// A command held by CLIENT PAUSE counts among INFO's `blocked_clients` until it runs, as on
/// redis-server (pause.tcl waits for it there).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_client_counts_as_blocked() {
    let transcript = |mut c: Raw, mut w: Raw| async move {
        let mut log = vec![c.cmd(&["CLIENT", "PAUSE", "100000", "WRITE"]).await];
        w.send(&["SET", "k", "v"]).await;
        log.push(wait_blocked(&mut c, 1).await);
        log.push(c.cmd(&["CLIENT", "UNPAUSE"]).await);
        log.push(common::step_read(&mut w).await);
        log.push(blocked_clients(c.cmd(&["INFO", "clients"]).await));
        log
    };
    let Some((ours, theirs)) = common::ours_and_theirs(transcript).await else {
        eprintln!("redis-server not installed: skipped");
        return;
    };
    assert_eq!(ours, theirs);
    assert_eq!(theirs[1], "blocked_clients:1");
}

/// Under CLIENT PAUSE WRITE a script runs or waits by the flags it declares, as on
/// redis-server: a `no-writes` EVAL, EVALSHA or function and an EVAL_RO run at once (inside
/// MULTI too); an EVAL without a shebang or one that may write waits, and so does an EXEC
/// queuing one. A read-only script may not call PUBLISH (it would replicate).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_pause_holds_scripts_by_their_declared_flags() {
    let transcript = |mut c: Raw, mut w: Raw| async move {
        let no_writes = "#!lua flags=no-writes\nreturn 'unique script'";
        let lib = "#!lua name=f1\nredis.register_function{function_name='f1', \
                   callback=function() return 'hello' end, flags={'no-writes'}}";
        let mut log = vec![
            c.cmd(&["SET", "x", "y"]).await,
            c.cmd(&["FUNCTION", "LOAD", "REPLACE", lib]).await,
            c.cmd(&["EVAL_RO", "return redis.call('publish','ch','msg')", "0"])
                .await,
            c.cmd(&[
                "EVAL",
                "#!lua flags=no-writes\nreturn redis.call('publish','ch','m')",
                "0",
            ])
            .await,
            c.cmd(&["EVAL", "return redis.call('publish','ch','msg')", "0"])
                .await,
            c.cmd(&["CLIENT", "PAUSE", "100000", "WRITE"]).await,
        ];
        for cmd in [
            vec!["EVAL", no_writes, "0"],
            vec!["EVAL", no_writes, "0"],
            vec![
                "EVAL_RO",
                "return redis.call('GeT', 'x')..' unique script'",
                "1",
                "x",
            ],
            vec!["FCALL", "f1", "0"],
            vec!["FCALL_RO", "f1", "0"],
            vec!["MULTI"],
            vec!["EVAL", "#!lua flags=no-writes\nreturn 12", "0"],
            vec!["EXEC"],
        ] {
            w.send(&cmd).await;
            log.push(common::step_read(&mut w).await);
        }
        let sha = c
            .cmd(&["SCRIPT", "LOAD", "#!lua flags=no-writes\nreturn 2"])
            .await;
        let sha = sha.lines().nth(1).unwrap_or_default().to_string();
        w.send(&["EVALSHA", &sha, "0"]).await;
        log.push(common::step_read(&mut w).await);
        // These wait for the pause to end: a plain EVAL, a shebang without flags, an EXEC.
        for (i, cmd) in [
            vec!["EVAL", "return 1", "0"],
            vec!["EVAL", "#!lua\nreturn 1", "0"],
        ]
        .into_iter()
        .enumerate()
        {
            w.send(&cmd).await;
            log.push(wait_blocked(&mut c, i + 1).await);
        }
        log.push(c.cmd(&["CLIENT", "UNPAUSE"]).await);
        log.push(common::step_read(&mut w).await);
        log.push(common::step_read(&mut w).await);
        log.push(w.cmd(&["MULTI"]).await);
        log.push(w.cmd(&["EVAL", "#!lua\nreturn 13", "0"]).await);
        log.push(c.cmd(&["CLIENT", "PAUSE", "100000", "WRITE"]).await);
        w.send(&["EXEC"]).await;
        log.push(wait_blocked(&mut c, 1).await);
        log.push(c.cmd(&["CLIENT", "UNPAUSE"]).await);
        log.push(common::step_read(&mut w).await);
        log
    };
    let Some((ours, theirs)) = common::ours_and_theirs(transcript).await else {
        eprintln!("redis-server not installed: skipped");
        return;
    };
    common::assert_same_steps("scripts under a write pause", &ours, &theirs);
    assert!(theirs[2].starts_with("-ERR Write commands are not allowed from read-only scripts"));
    assert_eq!(theirs[6], "$13\r\nunique script\r\n");
    assert_eq!(theirs[16], "blocked_clients:1");
}

/// The `blocked_clients:` line of an INFO reply.
fn blocked_clients(info: String) -> String {
    info.lines()
        .find(|l| l.starts_with("blocked_clients:"))
        .unwrap_or_default()
        .to_string()
}

/// INFO's `blocked_clients` once it reaches `want` (or what it last was, after 2 s).
async fn wait_blocked(c: &mut Raw, want: usize) -> String {
    let mut seen = String::new();
    for _ in 0..200 {
        seen = blocked_clients(c.cmd(&["INFO", "clients"]).await);
        if seen == format!("blocked_clients:{want}") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    seen
}

/// A MONITOR line without its timestamp and client port: `[db origin] "args"`.
fn monitor_line(line: &str) -> String {
    let Some((_, rest)) = line.split_once(" [") else {
        return line.to_string();
    };
    let (db_addr, args) = rest.split_once("] ").unwrap_or((rest, ""));
    let (db, addr) = db_addr.split_once(' ').unwrap_or((db_addr, ""));
    let origin = if addr == "lua" { "lua" } else { "client" };
    format!("[{db} {origin}] {}", args.trim_end())
}

/// MONITOR sees commands once they ran, as redis-server 7.0 feeds it: EXEC after the
/// commands it ran, SELECT in the database it selected, EVAL before its script's commands,
/// an aborted transaction's MULTI and EXEC, never a refused command or an admin one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_sees_commands_in_redis_servers_order() {
    let transcript = |mut c: Raw, mut m: Raw| async move {
        let mut log = vec![m.cmd(&["MONITOR"]).await];
        for cmd in [
            vec!["MULTI"],
            vec!["SET", "foo", "bar"],
            vec!["EXEC"],
            vec!["MULTI"],
            vec!["syntax", "error"],
            vec!["EXEC"],
            vec!["SELECT", "5"],
            vec!["SET", "a", "b"],
            vec!["SELECT", "0"],
            vec!["GET"],
            vec!["BLPOP", "missing", "0.01"],
            vec!["EVAL", "return redis.call('set','x','1')", "0"],
            vec!["CONFIG", "GET", "maxmemory"],
            vec!["INCR", "foo"],
            vec!["PING"],
        ] {
            log.push(c.cmd(&cmd).await);
        }
        loop {
            let line = monitor_line(&common::step_read(&mut m).await);
            let done = line.contains("\"PING\"");
            log.push(line);
            if done {
                break log;
            }
        }
    };
    let Some((ours, theirs)) = common::ours_and_theirs(transcript).await else {
        eprintln!("redis-server not installed: skipped");
        return;
    };
    common::assert_same_steps("MONITOR", &ours, &theirs);
    let fed = theirs
        .iter()
        .skip(16)
        .map(String::as_str)
        .collect::<Vec<_>>();
    assert_eq!(
        fed[..3],
        [
            "[0 client] \"MULTI\"",
            "[0 client] \"SET\" \"foo\" \"bar\"",
            "[0 client] \"EXEC\""
        ]
    );
}
