//! Client-side caching (`CLIENT TRACKING`) against Debian's redis-server 7.0.15: the same
//! transcript on both servers, byte for byte. The invalidations a connection received are
//! read up to a PING: a message sent during a write reaches its target before the writer's
//! reply does, and so before a PING sent after that reply.

mod common;

use common::Raw;
use std::net::SocketAddr;

/// What `c` received before the reply to a PING. `pong` is that reply (RESP2 Pub/Sub mode
/// answers `*2 pong ""`, otherwise `+PONG`).
async fn inbox(c: &mut Raw, pong: &str) -> String {
    c.send(&["PING"]).await;
    let mut got = String::new();
    loop {
        let frame = c.read().await;
        if frame == pong {
            return got;
        }
        got.push_str(&frame);
    }
}

const SUB_PONG: &str = "*2\r\n$4\r\npong\r\n$0\r\n\r\n";

/// A connection subscribed to `__redis__:invalidate`, and its client id.
async fn redirect_target(addr: SocketAddr) -> (Raw, String) {
    let mut red = Raw::connect_addr(addr).await;
    let id = red.cmd(&["CLIENT", "ID"]).await;
    let id = id.trim_start_matches(':').trim().to_string();
    red.cmd(&["SUBSCRIBE", "__redis__:invalidate"]).await;
    (red, id)
}

/// Default mode: one message per key, and nothing for writes that change nothing (Redis
/// invalidates the keys it signals as modified, not every key a write command names).
async fn default_mode(addr: SocketAddr) -> Vec<String> {
    let (mut red, id) = redirect_target(addr).await;
    let mut t = Raw::connect_addr(addr).await;
    let mut w = Raw::connect_addr(addr).await;
    let mut log = vec![t.cmd(&["CLIENT", "TRACKING", "on", "REDIRECT", &id]).await];
    for c in [
        &["SET", "k", "v"][..],
        &["SADD", "s", "a"],
        &["HSET", "h", "f", "v"],
        &["RPUSH", "l", "a"],
        &["ZADD", "z", "1", "a"],
    ] {
        w.cmd(c).await;
    }
    for c in [
        &["GET", "k"][..],
        &["SMEMBERS", "s"],
        &["HGETALL", "h"],
        &["LRANGE", "l", "0", "-1"],
        &["ZRANGE", "z", "0", "-1"],
        &["GET", "missing"],
        &["EXISTS", "gone"],
    ] {
        log.push(t.cmd(c).await);
    }
    let no_ops: [&[&str]; 14] = [
        &["SET", "k", "w", "NX"],
        &["SADD", "s", "a"],
        &["HSETNX", "h", "f", "x"],
        &["DEL", "missing"],
        &["EXPIRE", "missing", "10"],
        &["SREM", "s", "zz"],
        &["LREM", "l", "0", "zz"],
        &["ZADD", "z", "NX", "2", "a"],
        &["ZINCRBY", "z", "0", "a"],
        &["HDEL", "h", "zz"],
        &["PERSIST", "k"],
        &["SETRANGE", "k", "0", ""],
        &["INCR", "k"],
        &["RPUSHX", "missing", "a"],
    ];
    for c in no_ops {
        log.push(w.cmd(c).await);
    }
    log.push(format!(
        "after no-op writes: {}",
        inbox(&mut red, SUB_PONG).await
    ));
    log.push(
        w.cmd(&["MSET", "k", "1", "missing", "2", "other", "3"])
            .await,
    );
    log.push(w.cmd(&["DEL", "s", "h", "gone"]).await);
    log.push(format!("after writes: {}", inbox(&mut red, SUB_PONG).await));
    log
}

/// BCAST: per prefix one message of the keys changed in a batch (a pipeline, an EXEC), in
/// byte order; NOLOOP leaves out the client's own writes; prefixes must not overlap.
async fn broadcast_mode(addr: SocketAddr) -> Vec<String> {
    let (mut red, id) = redirect_target(addr).await;
    let mut t = Raw::connect_addr(addr).await;
    let mut w = Raw::connect_addr(addr).await;
    let on = ["CLIENT", "TRACKING", "on", "BCAST", "REDIRECT", &id];
    let mut log = vec![
        t.cmd(&[&on[..], &["PREFIX", "a:", "PREFIX", "b:"]].concat())
            .await,
    ];
    for c in [
        &["MULTI"][..],
        &["INCR", "a:2"],
        &["INCR", "a:1"],
        &["INCR", "b:1"],
        &["INCR", "c:1"],
        &["EXEC"],
    ] {
        log.push(w.cmd(c).await);
    }
    log.push(format!("after EXEC: {}", inbox(&mut red, SUB_PONG).await));
    // Three writes in one packet: one batch.
    w.send_raw(b"*3\r\n$3\r\nSET\r\n$3\r\nb:9\r\n$1\r\n1\r\n*3\r\n$3\r\nSET\r\n$3\r\nb:3\r\n$1\r\n1\r\n*3\r\n$3\r\nSET\r\n$3\r\nx:1\r\n$1\r\n1\r\n").await;
    for _ in 0..3 {
        log.push(w.read().await);
    }
    log.push(format!(
        "after pipeline: {}",
        inbox(&mut red, SUB_PONG).await
    ));
    for c in [
        &["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a"][..],
        &[
            "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "c:x", "PREFIX", "c:",
        ],
        &["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "d:"],
        &["CLIENT", "TRACKING", "on"],
        &["CLIENT", "TRACKINGINFO"],
    ] {
        log.push(t.cmd(c).await);
    }
    // NOLOOP: the tracking client's own write is left out of the batch's message.
    log.push(t.cmd(&["CLIENT", "TRACKING", "off"]).await);
    log.push(t.cmd(&[&on[..], &["NOLOOP"]].concat()).await);
    log.push(t.cmd(&["SET", "mine", "1"]).await);
    log.push(w.cmd(&["SET", "theirs", "1"]).await);
    log.push(format!("after NOLOOP: {}", inbox(&mut red, SUB_PONG).await));
    let info = t.cmd(&["INFO", "stats"]).await;
    log.extend(
        info.lines()
            .filter(|l| l.starts_with("tracking_total_prefixes"))
            .map(String::from),
    );
    log
}

/// RESP3 and redirection: a RESP3 redirect target gets `invalidate` pushes without
/// subscribing; a RESP2 one that does not subscribe gets nothing; a target that leaves breaks
/// the redirection, which a RESP3 client is told.
async fn redirect_targets(addr: SocketAddr) -> Vec<String> {
    let mut r3 = Raw::connect_addr(addr).await;
    r3.cmd(&["HELLO", "3"]).await;
    let id3 = r3.cmd(&["CLIENT", "ID"]).await;
    let id3 = id3.trim_start_matches(':').trim().to_string();
    let mut t = Raw::connect_addr(addr).await;
    let mut w = Raw::connect_addr(addr).await;
    let mut log = vec![t.cmd(&["CLIENT", "TRACKING", "on", "REDIRECT", &id3]).await];
    log.push(t.cmd(&["GET", "k"]).await);
    log.push(w.cmd(&["SET", "k", "1"]).await);
    log.push(format!(
        "RESP3 target: {}",
        inbox(&mut r3, "+PONG\r\n").await
    ));
    // The target leaves: the RESP3 tracking client hears of it with the next invalidation.
    t.cmd(&["HELLO", "3"]).await;
    log.push(t.cmd(&["GET", "k"]).await);
    log.push(r3.cmd(&["QUIT"]).await);
    assert!(r3.closed().await);
    log.push(w.cmd(&["SET", "k", "2"]).await);
    let told = inbox(&mut t, "+PONG\r\n").await;
    log.push(format!(
        "tracking client: {}",
        told.replace(&format!(":{id3}\r\n"), ":ID\r\n")
    ));
    let info = t.cmd(&["CLIENT", "TRACKINGINFO"]).await;
    log.push(info.replace(&format!(":{id3}\r\n"), ":ID\r\n"));
    log
}

/// Ordering beside the client's own replies: a woken BLMOVE's invalidation follows its reply;
/// an evicted key's precedes the reply of the command before which it was evicted.
async fn ordering(addr: SocketAddr) -> Vec<String> {
    let mut t = Raw::connect_addr(addr).await;
    let mut w = Raw::connect_addr(addr).await;
    let mut log = vec![w.cmd(&["RPUSH", "dst", "a"]).await];
    t.cmd(&["HELLO", "3"]).await;
    log.push(t.cmd(&["CLIENT", "TRACKING", "on"]).await);
    log.push(t.cmd(&["LRANGE", "dst", "0", "-1"]).await);
    t.send(&["BLMOVE", "src", "dst", "LEFT", "LEFT", "0"]).await;
    while !w
        .cmd(&["INFO", "clients"])
        .await
        .contains("blocked_clients:1")
    {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    log.push(w.cmd(&["RPUSH", "src", "foo"]).await);
    log.push(t.read().await);
    log.push(t.read().await);
    log.push(t.cmd(&["SET", "e", "v"]).await);
    log.push(t.cmd(&["GET", "e"]).await);
    log.push(
        w.cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"])
            .await,
    );
    log.push(w.cmd(&["CONFIG", "SET", "maxmemory", "1"]).await);
    log.push(format!("before PONG: {}", inbox(&mut t, "+PONG\r\n").await));
    log.push(w.cmd(&["CONFIG", "SET", "maxmemory", "0"]).await);
    log
}

/// A script's read makes its caller track the script's declared keys (not the keys the read
/// names); EVAL_RO tracks nothing by itself.
async fn scripts(addr: SocketAddr) -> Vec<String> {
    let mut t = Raw::connect_addr(addr).await;
    let mut w = Raw::connect_addr(addr).await;
    t.cmd(&["HELLO", "3"]).await;
    let mut log = vec![t.cmd(&["CLIENT", "TRACKING", "on"]).await];
    log.push(
        t.cmd(&["EVAL", "redis.call('set', 'k3', 'x')", "2", "k1", "k2"])
            .await,
    );
    log.push(w.cmd(&["MSET", "k1", "1", "k2", "1", "k3", "1"]).await);
    log.push(format!(
        "write-only script: {}",
        inbox(&mut t, "+PONG\r\n").await
    ));
    log.push(t.cmd(&["EVAL_RO", "redis.call('ping')", "1", "k1"]).await);
    log.push(
        t.cmd(&["EVAL", "redis.call('get', 'k3')", "2", "k1", "k2"])
            .await,
    );
    log.push(w.cmd(&["MSET", "k2", "2", "k1", "2", "k3", "2"]).await);
    log.push(format!(
        "reading script: {}",
        inbox(&mut t, "+PONG\r\n").await
    ));
    log
}

async fn compare<F, Fut>(name: &str, transcript: F)
where
    F: Fn(SocketAddr) -> Fut,
    Fut: std::future::Future<Output = Vec<String>>,
{
    let Some((ours, theirs)) = common::ours_and_theirs_at(transcript).await else {
        eprintln!("redis-server not installed: skipped");
        return;
    };
    common::assert_same_steps(name, &ours, &theirs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_mode_sends_one_message_per_modified_key() {
    compare("default mode", default_mode).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_mode_batches_per_prefix_as_redis_server_does() {
    compare("BCAST", broadcast_mode).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_targets_by_protocol_and_a_broken_redirection() {
    compare("redirect", redirect_targets).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalidations_sit_beside_the_clients_replies_as_on_redis_server() {
    compare("ordering", ordering).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_track_their_declared_keys() {
    compare("scripts", scripts).await;
}

/// `tracking-table-max-keys`: the next command forgets keys over the limit and invalidates
/// them (which key is random, on redis-server too, so this runs on ours alone).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tracking_table_is_held_to_its_limit() {
    let node = common::start();
    let (mut red, id) = redirect_target(node.local_addr()).await;
    let mut t = Raw::connect(&node).await;
    t.cmd(&["CLIENT", "TRACKING", "on", "REDIRECT", &id]).await;
    t.cmd(&["MGET", "a", "b", "c"]).await;
    let info = t.cmd(&["INFO", "stats"]).await;
    assert!(
        info.contains("tracking_total_keys:3\r\ntracking_total_items:3"),
        "{info}"
    );
    t.cmd(&["CONFIG", "SET", "tracking-table-max-keys", "1"])
        .await;
    let got = inbox(&mut red, SUB_PONG).await;
    assert_eq!(got.matches("__redis__:invalidate").count(), 2, "{got}");
    let info = t.cmd(&["INFO", "stats"]).await;
    assert!(info.contains("tracking_total_keys:1\r\n"), "{info}");
    node.shutdown().await;
}
