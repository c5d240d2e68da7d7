//! Replication between two or three real nodes of this process: full sync, the write stream
//! (expiry as absolute times and DELs, MULTI/EXEC, FLUSHALL, SPOP), READONLY replicas, WAIT,
//! ROLE/INFO, and promotion/demotion keeping acknowledged writes. Every check that needs the
//! replica to have caught up first waits with `WAIT n 0` on the primary, as an application
//! would.

mod common;
use common::{Raw, start};
use ecl_redis::{RedisNode, ReplicationRole};
use redis::AsyncCommands;
use std::time::Duration;

fn endpoint(n: &RedisNode) -> (String, u16) {
    (n.local_addr().ip().to_string(), n.local_addr().port())
}

async fn wait_for(c: &mut redis::aio::MultiplexedConnection, n: i64) -> i64 {
    redis::cmd("WAIT")
        .arg(n)
        .arg(0)
        .query_async(c)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_sync_then_stream() {
    let p = start();
    let r = start();
    let mut pc = common::client(&p).await;
    let mut rc = common::client(&r).await;
    for i in 0..500 {
        let _: () = pc.set(format!("k{i}"), i).await.unwrap();
    }
    let _: () = pc.hset("h", "f", "v").await.unwrap();
    let _: () = pc.rpush("l", &[1, 2, 3]).await.unwrap();
    let _: () = redis::cmd("SELECT")
        .arg(3)
        .exec_async(&mut pc)
        .await
        .unwrap();
    let _: () = pc.set("in3", "x").await.unwrap();
    let _: () = redis::cmd("SELECT")
        .arg(0)
        .exec_async(&mut pc)
        .await
        .unwrap();
    let _: () = pc.set_ex("ttl", "v", 1000).await.unwrap();

    r.replicate_from(&p, endpoint(&p));
    assert!(matches!(r.role(), ReplicationRole::Replica { .. }));
    assert_eq!(wait_for(&mut pc, 1).await, 1);
    assert_eq!(
        r.role(),
        ReplicationRole::Replica {
            primary: endpoint(&p),
            link_up: true
        }
    );
    // Full copy.
    let n: i64 = redis::cmd("DBSIZE").query_async(&mut rc).await.unwrap();
    assert_eq!(n, 503);
    let v: String = rc.get("k499").await.unwrap();
    assert_eq!(v, "499");
    let l: Vec<i64> = rc.lrange("l", 0, -1).await.unwrap();
    assert_eq!(l, vec![1, 2, 3]);
    let pt: i64 = redis::cmd("PEXPIRETIME")
        .arg("ttl")
        .query_async(&mut pc)
        .await
        .unwrap();
    let rt: i64 = redis::cmd("PEXPIRETIME")
        .arg("ttl")
        .query_async(&mut rc)
        .await
        .unwrap();
    assert_eq!(pt, rt);

    // Stream: plain writes, relative expiry (replicated as absolute times), SELECT.
    let _: () = pc.set("new", "1").await.unwrap();
    let _: () = pc.incr("new", 41).await.unwrap();
    let _: () = pc.expire("new", 500).await.unwrap();
    let _: () = redis::cmd("SET")
        .arg("sx")
        .arg("v")
        .arg("PX")
        .arg(123_456)
        .exec_async(&mut pc)
        .await
        .unwrap();
    let _: () = pc.del("k0").await.unwrap();
    let _: () = redis::cmd("SELECT")
        .arg(3)
        .exec_async(&mut pc)
        .await
        .unwrap();
    let _: () = pc.set("in3b", "y").await.unwrap();
    let _: () = redis::cmd("SELECT")
        .arg(0)
        .exec_async(&mut pc)
        .await
        .unwrap();
    assert_eq!(wait_for(&mut pc, 1).await, 1);
    let v: String = rc.get("new").await.unwrap();
    assert_eq!(v, "42");
    for key in ["new", "sx"] {
        let pt: i64 = redis::cmd("PEXPIRETIME")
            .arg(key)
            .query_async(&mut pc)
            .await
            .unwrap();
        let rt: i64 = redis::cmd("PEXPIRETIME")
            .arg(key)
            .query_async(&mut rc)
            .await
            .unwrap();
        assert!(pt > 0);
        assert_eq!(pt, rt, "{key}: absolute expiry replicated");
    }
    let gone: bool = rc.exists("k0").await.unwrap();
    assert!(!gone);
    let _: () = redis::cmd("SELECT")
        .arg(3)
        .exec_async(&mut rc)
        .await
        .unwrap();
    let v: String = rc.get("in3b").await.unwrap();
    assert_eq!(v, "y");
    let _: () = redis::cmd("SELECT")
        .arg(0)
        .exec_async(&mut rc)
        .await
        .unwrap();

    // MULTI/EXEC as a unit.
    let (a, b): (i64, i64) = redis::pipe()
        .atomic()
        .incr("ctr", 1)
        .incr("ctr", 10)
        .query_async(&mut pc)
        .await
        .unwrap();
    assert_eq!((a, b), (1, 11));
    // SPOP picks at random: the replica must drop the same members.
    let _: () = pc.sadd("s", &["a", "b", "c", "d", "e"]).await.unwrap();
    let _: Vec<String> = redis::cmd("SPOP")
        .arg("s")
        .arg(2)
        .query_async(&mut pc)
        .await
        .unwrap();
    assert_eq!(wait_for(&mut pc, 1).await, 1);
    let v: i64 = rc.get("ctr").await.unwrap();
    assert_eq!(v, 11);
    let mut ps: Vec<String> = pc.smembers("s").await.unwrap();
    let mut rs: Vec<String> = rc.smembers("s").await.unwrap();
    ps.sort();
    rs.sort();
    assert_eq!(ps.len(), 3);
    assert_eq!(ps, rs);

    // FLUSHALL.
    let _: () = redis::cmd("FLUSHALL").exec_async(&mut pc).await.unwrap();
    let _: () = pc.set("after", "flush").await.unwrap();
    assert_eq!(wait_for(&mut pc, 1).await, 1);
    let n: i64 = redis::cmd("DBSIZE").query_async(&mut rc).await.unwrap();
    assert_eq!(n, 1);
    let _: () = redis::cmd("SELECT")
        .arg(3)
        .exec_async(&mut rc)
        .await
        .unwrap();
    let n: i64 = redis::cmd("DBSIZE").query_async(&mut rc).await.unwrap();
    assert_eq!(n, 0);
    assert_eq!(r.replication_offset(), p.replication_offset());
    r.shutdown().await;
    p.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_refuse_writes_and_leave_expiry_to_the_primary() {
    let p = start();
    // ElastiCache restricts REPLICAOF/SLAVEOF; the supervisor disables them like this.
    let r = common::start_with(|c| {
        c.parameters
            .push(("disabled-commands".into(), "replicaof slaveof".into()))
    });
    r.replicate_from(&p, endpoint(&p));
    let mut pc = common::client(&p).await;
    let mut raw = Raw::connect(&r).await;
    assert_eq!(
        raw.cmd(&["SET", "a", "1"]).await,
        "-READONLY You can't write against a read only replica.\r\n"
    );
    assert_eq!(raw.cmd(&["GET", "a"]).await, "$-1\r\n");
    // Inside MULTI the write is refused at queueing time and the transaction aborts.
    assert_eq!(raw.cmd(&["MULTI"]).await, "+OK\r\n");
    assert!(raw.cmd(&["INCR", "a"]).await.starts_with("-READONLY"));
    assert!(raw.cmd(&["EXEC"]).await.starts_with("-EXECABORT"));
    // Restricted commands answer as unknown commands, as on ElastiCache.
    for c in ["REPLICAOF", "SLAVEOF"] {
        assert!(
            raw.cmd(&[c, "NO", "ONE"])
                .await
                .starts_with("-ERR unknown command"),
            "{c}"
        );
    }
    assert_eq!(
        raw.cmd(&["WAIT", "1", "0"]).await,
        "-ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.\r\n"
    );

    let _: () = pc.pset_ex("short", "v", 1000).await.unwrap();
    assert_eq!(wait_for(&mut pc, 1).await, 1);
    // The replica's clock passes the TTL: the key reads as missing, but the replica keeps it
    // until the primary's DEL (its cron and reads delete nothing).
    r.advance_clock(Duration::from_secs(5));
    assert_eq!(raw.cmd(&["GET", "short"]).await, "$-1\r\n");
    assert_eq!(raw.cmd(&["EXISTS", "short"]).await, ":0\r\n");
    assert_eq!(raw.cmd(&["DBSIZE"]).await, ":1\r\n");
    // The primary expires it and propagates DEL.
    p.advance_clock(Duration::from_secs(5));
    let got: Option<String> = pc.get("short").await.unwrap();
    assert_eq!(got, None);
    assert_eq!(wait_for(&mut pc, 1).await, 1);
    assert_eq!(raw.cmd(&["DBSIZE"]).await, ":0\r\n");
    r.shutdown().await;
    p.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_role_and_info() {
    let p = start();
    let r1 = start();
    let r2 = start();
    r2.set_announce(("10.0.0.2".into(), 6379));
    r1.replicate_from(&p, ("10.0.0.1".into(), 6379));
    r2.replicate_from(&p, ("10.0.0.1".into(), 6379));
    let mut pc = common::client(&p).await;
    let _: () = pc.set("a", "1").await.unwrap();
    assert_eq!(wait_for(&mut pc, 2).await, 2);
    // Asking for more replicas than exist answers the count reached when the timeout passes.
    let n: i64 = redis::cmd("WAIT")
        .arg(3)
        .arg(50)
        .query_async(&mut pc)
        .await
        .unwrap();
    assert_eq!(n, 2);
    let n: i64 = redis::cmd("WAIT")
        .arg(0)
        .arg(0)
        .query_async(&mut pc)
        .await
        .unwrap();
    assert_eq!(n, 2);

    let offset = p.replication_offset();
    assert!(offset > 0);
    let info: String = redis::cmd("INFO")
        .arg("replication")
        .query_async(&mut pc)
        .await
        .unwrap();
    assert!(info.contains("role:master\r\n"), "{info}");
    assert!(info.contains("connected_slaves:2\r\n"), "{info}");
    let r1_port = r1.local_addr().port();
    assert!(
        info.contains(&format!(
            "slave0:ip=127.0.0.1,port={r1_port},state=online,offset={offset},lag="
        )),
        "{info}"
    );
    assert!(
        info.contains(&format!(
            "slave1:ip=10.0.0.2,port=6379,state=online,offset={offset},lag="
        )),
        "{info}"
    );
    assert!(
        info.contains(&format!("master_repl_offset:{offset}\r\n")),
        "{info}"
    );

    let mut rc = common::client(&r1).await;
    let info: String = redis::cmd("INFO")
        .arg("replication")
        .query_async(&mut rc)
        .await
        .unwrap();
    for line in [
        "role:slave",
        "master_host:10.0.0.1",
        "master_port:6379",
        "master_link_status:up",
        "slave_read_only:1",
        &format!("slave_repl_offset:{offset}"),
        &format!("master_repl_offset:{offset}"),
    ] {
        assert!(info.contains(&format!("{line}\r\n")), "{line} in {info}");
    }
    // CONFIG GET replicaof names the same primary (and is empty on the primary).
    let replicaof: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("replicaof")
        .query_async(&mut rc)
        .await
        .unwrap();
    assert_eq!(replicaof, ["replicaof", "10.0.0.1 6379"]);

    let mut raw = Raw::connect(&p).await;
    assert_eq!(
        raw.cmd(&["CONFIG", "GET", "slaveof"]).await,
        "*2\r\n$7\r\nslaveof\r\n$0\r\n\r\n"
    );
    assert_eq!(
        raw.cmd(&["ROLE"]).await,
        format!(
            "*3\r\n$6\r\nmaster\r\n:{offset}\r\n*2\r\n*3\r\n$9\r\n127.0.0.1\r\n${}\r\n{r1_port}\r\n${}\r\n{offset}\r\n*3\r\n$8\r\n10.0.0.2\r\n$4\r\n6379\r\n${}\r\n{offset}\r\n",
            r1_port.to_string().len(),
            offset.to_string().len(),
            offset.to_string().len(),
        )
    );
    let mut raw = Raw::connect(&r1).await;
    let hello = raw.cmd(&["HELLO", "3"]).await;
    assert!(hello.contains("$4\r\nrole\r\n$7\r\nreplica\r\n"), "{hello}");
    assert_eq!(
        raw.cmd(&["ROLE"]).await,
        format!("*5\r\n$5\r\nslave\r\n$8\r\n10.0.0.1\r\n:6379\r\n$9\r\nconnected\r\n:{offset}\r\n")
    );
    for n in [r1, r2, p] {
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_and_demote_keep_acknowledged_writes() {
    let p = start();
    let r = start();
    r.replicate_from(&p, endpoint(&p));
    let mut pc = common::client(&p).await;
    // A connection opened while p is primary; it must see READONLY after the demotion.
    let mut old = Raw::connect(&p).await;
    for i in 0..1000 {
        let _: () = pc.set(format!("k{i}"), i).await.unwrap();
    }
    assert_eq!(wait_for(&mut pc, 1).await, 1);

    // Failover: the replica becomes primary, the old primary follows it.
    r.promote();
    assert_eq!(r.role(), ReplicationRole::Primary);
    p.replicate_from(&r, endpoint(&r));
    let mut rc = common::client(&r).await;
    assert_eq!(wait_for(&mut rc, 1).await, 1);
    for i in (0..1000).step_by(97) {
        let v: i64 = rc.get(format!("k{i}")).await.unwrap();
        assert_eq!(v, i);
    }
    assert!(old.cmd(&["SET", "x", "1"]).await.starts_with("-READONLY"));
    // Writes to the new primary reach the demoted node.
    let _: () = rc.set("after", "failover").await.unwrap();
    assert_eq!(wait_for(&mut rc, 1).await, 1);
    assert_eq!(old.cmd(&["GET", "after"]).await, "$8\r\nfailover\r\n");
    assert_eq!(old.cmd(&["DBSIZE"]).await, ":1001\r\n");
    let info: String = redis::cmd("INFO")
        .arg("replication")
        .query_async(&mut rc)
        .await
        .unwrap();
    assert!(
        info.contains("role:master\r\nconnected_slaves:1\r\n"),
        "{info}"
    );
    p.shutdown().await;
    r.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_key_rewritten_on_primary_keeps_new_value_on_replica() {
    let p = start();
    let r = start();
    r.replicate_from(&p, endpoint(&p));
    let mut pc = common::client(&p).await;
    let _: () = pc.pset_ex("k", "old", 1000).await.unwrap();
    let _: () = pc.rpush("list", "a").await.unwrap();
    let _: () = pc.pexpire("list", 1000).await.unwrap();
    assert_eq!(wait_for(&mut pc, 1).await, 1);
    // On the primary the keys are now expired; the writes below meet the expired values, so
    // the primary's DELs must reach the replica before the new writes, not after.
    p.advance_clock(Duration::from_secs(2));
    r.advance_clock(Duration::from_secs(2));
    let _: () = pc.append("k", "new").await.unwrap();
    let _: () = pc.rpush("list", "b").await.unwrap();
    assert_eq!(wait_for(&mut pc, 1).await, 1);
    let mut rc = common::client(&r).await;
    let v: String = rc.get("k").await.unwrap();
    assert_eq!(v, "new");
    let l: Vec<String> = rc.lrange("list", 0, -1).await.unwrap();
    assert_eq!(l, vec!["b".to_string()]);
    let ttl: i64 = rc.pttl("k").await.unwrap();
    assert_eq!(ttl, -1);
    // Eviction on the primary is propagated as DEL too.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory-policy")
        .arg("allkeys-random")
        .exec_async(&mut pc)
        .await
        .unwrap();
    for i in 0..200 {
        let _: () = pc.set(format!("fill{i}"), "x".repeat(1000)).await.unwrap();
    }
    let used: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(&mut pc)
        .await
        .unwrap();
    let used: u64 = used
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(used - 50_000)
        .exec_async(&mut pc)
        .await
        .unwrap();
    let _: () = pc.set("trigger", "1").await.unwrap();
    assert_eq!(wait_for(&mut pc, 1).await, 1);
    let pn: i64 = redis::cmd("DBSIZE").query_async(&mut pc).await.unwrap();
    let rn: i64 = redis::cmd("DBSIZE").query_async(&mut rc).await.unwrap();
    assert!(pn < 203, "the primary evicted ({pn} keys)");
    assert_eq!(pn, rn);
    r.shutdown().await;
    p.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_reaches_subscribers_of_replicas() {
    let p = start();
    let r = start();
    r.replicate_from(&p, endpoint(&p));
    let mut sub = Raw::connect(&r).await;
    assert_eq!(
        sub.cmd(&["SUBSCRIBE", "news"]).await,
        "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"
    );
    let mut pc = common::client(&p).await;
    // The primary has no subscriber of its own: PUBLISH counts local receivers only.
    let n: i64 = pc.publish("news", "hello").await.unwrap();
    assert_eq!(n, 0);
    assert_eq!(
        sub.read().await,
        "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n"
    );
    r.shutdown().await;
    p.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_goes_down_when_the_primary_stops() {
    let p = start();
    let r = start();
    r.replicate_from(&p, endpoint(&p));
    let mut pc = common::client(&p).await;
    let _: () = pc.set("kept", "1").await.unwrap();
    assert_eq!(wait_for(&mut pc, 1).await, 1);
    drop(pc);
    p.shutdown().await;
    let mut rc = Raw::connect(&r).await;
    // The link status changes asynchronously: poll INFO (bounded), as a monitoring tool would.
    let mut info = String::new();
    for _ in 0..200 {
        info = rc.cmd(&["INFO", "replication"]).await;
        if info.contains("master_link_status:down") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(info.contains("master_link_status:down\r\n"), "{info}");
    assert!(info.contains("master_sync_in_progress:0\r\n"), "{info}");
    assert!(info.contains("master_link_down_since_seconds:"), "{info}");
    assert!(matches!(
        r.role(),
        ReplicationRole::Replica { link_up: false, .. }
    ));
    // The data stays readable, and promotion makes the node writable again.
    assert_eq!(rc.cmd(&["GET", "kept"]).await, "$1\r\n1\r\n");
    r.promote();
    assert_eq!(rc.cmd(&["SET", "new", "1"]).await, "+OK\r\n");
    r.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_over_its_output_buffer_limit_resynchronizes() {
    let p = start();
    let r = start();
    r.replicate_from(&p, endpoint(&p));
    let mut pc = common::client(&p).await;
    // A tiny replica buffer: one pipelined burst overflows it, the link is dropped and the
    // replica takes a new full copy, as a Redis replica reconnecting after the same error.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("client-output-buffer-limit")
        .arg("slave 200 0 0")
        .exec_async(&mut pc)
        .await
        .unwrap();
    let mut pipe = redis::pipe();
    for i in 0..3000 {
        pipe.set(format!("burst{i}"), i).ignore();
    }
    let _: () = pipe.query_async(&mut pc).await.unwrap();
    assert_eq!(wait_for(&mut pc, 1).await, 1);
    let mut rc = common::client(&r).await;
    let n: i64 = redis::cmd("DBSIZE").query_async(&mut rc).await.unwrap();
    assert_eq!(n, 3000);
    let v: i64 = rc.get("burst2999").await.unwrap();
    assert_eq!(v, 2999);
    assert_eq!(r.replication_offset(), p.replication_offset());
    r.shutdown().await;
    p.shutdown().await;
}

/// Polls `args` on `raw` until it answers `want` (bounded): a sub-replica is two links away
/// from the primary, which `WAIT` on the primary does not cover.
async fn eventually(raw: &mut Raw, args: &[&str], want: &str) {
    let mut got = String::new();
    for _ in 0..300 {
        got = raw.cmd(args).await;
        if got == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(got, want, "{args:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chained_replicas_follow_through_an_intermediate_replica() {
    // p -> s -> r, as a global datastore's secondary primary follows the primary group's
    // primary while the secondary's own replicas follow it.
    let p = start();
    let s = start();
    let r = start();
    let mut pc = common::client(&p).await;
    let _: () = pc.set("before", "1").await.unwrap();
    let _: () = redis::cmd("SELECT")
        .arg(2)
        .exec_async(&mut pc)
        .await
        .unwrap();
    let _: () = pc.set("db2", "x").await.unwrap();
    r.replicate_from(&s, endpoint(&s));
    s.replicate_from(&p, endpoint(&p));
    let mut rr = Raw::connect(&r).await;
    // The full copy s loaded reaches r (r resynchronizes from s), and so does the stream,
    // in the database the stream is in.
    eventually(&mut rr, &["GET", "before"], "$1\r\n1\r\n").await;
    let _: () = pc.set("db2-later", "y").await.unwrap();
    assert_eq!(rr.cmd(&["SELECT", "2"]).await, "+OK\r\n");
    eventually(&mut rr, &["GET", "db2-later"], "$1\r\ny\r\n").await;
    assert_eq!(rr.cmd(&["GET", "db2"]).await, "$1\r\nx\r\n");
    assert!(rr.cmd(&["SET", "w", "1"]).await.starts_with("-READONLY"));
    let mut sr = Raw::connect(&s).await;
    assert!(sr.cmd(&["SET", "w", "1"]).await.starts_with("-READONLY"));
    let info = sr.cmd(&["INFO", "replication"]).await;
    assert!(
        info.contains("role:slave") && info.contains("connected_slaves:1"),
        "{info}"
    );
    // Promoting the intermediate keeps its replica: s's own writes reach r.
    s.promote();
    assert_eq!(sr.cmd(&["SET", "from-s", "2"]).await, "+OK\r\n");
    assert_eq!(rr.cmd(&["SELECT", "0"]).await, "+OK\r\n");
    eventually(&mut rr, &["GET", "from-s"], "$1\r\n2\r\n").await;
    // The intermediate follows another primary: r resynchronizes to q's data.
    let q = start();
    let mut qr = Raw::connect(&q).await;
    assert_eq!(qr.cmd(&["SET", "only-q", "3"]).await, "+OK\r\n");
    s.replicate_from(&q, endpoint(&q));
    eventually(&mut rr, &["GET", "only-q"], "$1\r\n3\r\n").await;
    eventually(&mut rr, &["DBSIZE"], ":1\r\n").await;
    assert_eq!(qr.cmd(&["SET", "after", "4"]).await, "+OK\r\n");
    eventually(&mut rr, &["GET", "after"], "$1\r\n4\r\n").await;
    for n in [r, s, q, p] {
        n.shutdown().await;
    }
}

/// A busy script's writes reach a replica as one unit when the script ends, even when other
/// clients' commands ran between its steps (AUTH, HELLO, WATCH… run there, as in Redis).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_scripts_writes_reach_replicas_when_it_ends() {
    let p = common::start_busy_after_ms(50);
    let r = start();
    r.replicate_from(&p, endpoint(&p));
    let mut pc = common::client(&p).await;
    assert_eq!(wait_for(&mut pc, 1).await, 1);
    let mut runner = Raw::connect(&p).await;
    let mut visitor = Raw::connect(&p).await;
    let mut on_replica = Raw::connect(&r).await;
    let body = "redis.call('set', 'x', '1') \
        local t0 = redis.call('time') \
        while true do \
          local t = redis.call('time') \
          if (t[1] - t0[1]) * 1000000 + (t[2] - t0[2]) > 3000000 then break end \
        end \
        redis.call('set', 'y', '1') return 1";
    runner.send(&["EVAL", body, "0"]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Commands that run while the script is busy.
    assert_eq!(visitor.cmd(&["WATCH", "k"]).await, "+OK\r\n");
    assert_eq!(visitor.cmd(&["UNWATCH"]).await, "+OK\r\n");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        on_replica.cmd(&["GET", "x"]).await,
        "$-1\r\n",
        "half a script replicated"
    );
    // The script still ran when the replica was read (else the check proved nothing).
    let busy = visitor.cmd(&["PING"]).await;
    assert!(busy.starts_with("-BUSY "), "{busy}");
    let done = tokio::time::timeout(Duration::from_secs(10), runner.read()).await;
    assert_eq!(done.expect("the script ends"), ":1\r\n");
    eventually(
        &mut on_replica,
        &["MGET", "x", "y"],
        "*2\r\n$1\r\n1\r\n$1\r\n1\r\n",
    )
    .await;
}

/// `min-replicas-to-write` on a primary without enough good replicas, as redis-server 7.0.15
/// answers: writes, a transaction holding one and a script that may write (declared, or a
/// legacy script's write) get NOREPLICAS; reads and `no-writes` scripts run; a lag of 0 turns
/// the check off (scripting.tcl's "not enough good replicas").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn min_replicas_to_write_refuses_writes_as_redis_server_does() {
    let transcript = |mut c: Raw, _| async move {
        let mut log = Vec::new();
        let steps: [&[&str]; 16] = [
            &["SET", "x", "some value"],
            &["CONFIG", "SET", "min-replicas-to-write", "1"],
            &["SET", "x", "1"],
            &["GET", "x"],
            &["MULTI"],
            &["SET", "x", "2"],
            &["EXEC"],
            &[
                "EVAL",
                "#!lua flags=no-writes\nreturn redis.call('get','x')",
                "1",
                "x",
            ],
            &["EVAL", "return redis.call('get','x')", "1", "x"],
            &["EVAL", "#!lua\nreturn redis.call('get','x')", "1", "x"],
            &["EVAL", "return redis.call('set','x',1)", "1", "x"],
            &["CONFIG", "SET", "min-replicas-max-lag", "0"],
            &["SET", "x", "3"],
            &["CONFIG", "SET", "min-replicas-max-lag", "10"],
            &["INFO", "errorstats"],
            &["CONFIG", "SET", "min-replicas-to-write", "0"],
        ];
        for args in steps {
            log.push(c.cmd(args).await);
        }
        let info = c.cmd(&["INFO", "replication"]).await;
        log.extend(
            info.lines()
                .filter(|l| l.starts_with("min_slaves"))
                .map(String::from),
        );
        c.cmd(&["CONFIG", "SET", "min-replicas-to-write", "1"])
            .await;
        let info = c.cmd(&["INFO", "replication"]).await;
        log.extend(
            info.lines()
                .filter(|l| l.starts_with("min_slaves"))
                .map(String::from),
        );
        log
    };
    let Some((ours, theirs)) = common::ours_and_theirs(transcript).await else {
        eprintln!("redis-server not installed: skipped");
        return;
    };
    common::assert_same_steps("min-replicas-to-write", &ours, &theirs);
    assert!(theirs[2].starts_with("-NOREPLICAS"), "{theirs:?}");
}

/// With a replica online and acknowledging, the same primary takes the writes
/// `min-replicas-to-write 1` refused without one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn min_replicas_to_write_lets_writes_through_with_a_good_replica() {
    let p = start();
    let mut raw = Raw::connect(&p).await;
    raw.cmd(&["CONFIG", "SET", "min-replicas-to-write", "1"])
        .await;
    assert!(raw.cmd(&["SET", "a", "1"]).await.starts_with("-NOREPLICAS"));
    let r = start();
    r.replicate_from(&p, endpoint(&p));
    eventually(&mut raw, &["SET", "a", "2"], "+OK\r\n").await;
    let info = raw.cmd(&["INFO", "replication"]).await;
    assert!(info.contains("min_slaves_good_slaves:1\r\n"), "{info}");
    r.shutdown().await;
    p.shutdown().await;
}
