//! Valkey 8 additions exist on the Valkey release that brought them and nowhere else: SCRIPT
//! SHOW, CLIENT CAPA (with `-REDIRECT` from a standalone replica and READONLY outside cluster
//! mode), CLUSTER SLOT-STATS and XREAD's `+` ID (Valkey 8.0), BGSAVE CANCEL,
//! COMMANDLOG and HELLO's `availability_zone` (Valkey 8.1). Each is driven through the `redis`
//! crate on a node of the right release; on Redis 7.0 and Valkey 7.2 nodes the same commands
//! get the refusal redis-server 7.0.15 answers (compared byte for byte where it is installed).

mod common;

use common::{Raw, ReferenceRedis, client, err_text, node, query, start_with};
use ecl_redis::cluster::key_slot;
use ecl_redis::{ClusterNodeInfo, ClusterShard, ClusterTopology, Flavor, RedisNode};
use redis::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_show_returns_the_cached_source() {
    let n = node(Flavor::Valkey, "8.0.1");
    let mut con = client(&n).await;
    let body = "return redis.call('GET', KEYS[1])";
    let sha: String = query(&mut con, &["SCRIPT", "LOAD", body]).await.unwrap();
    let shown: String = query(&mut con, &["SCRIPT", "SHOW", &sha]).await.unwrap();
    assert_eq!(shown, body);
    // Any case of the digest names the same script; an unknown one is NOSCRIPT.
    let upper: String = query(&mut con, &["SCRIPT", "SHOW", &sha.to_uppercase()])
        .await
        .unwrap();
    assert_eq!(upper, body);
    let missing = err_text(query::<String>(&mut con, &["SCRIPT", "SHOW", &"0".repeat(40)]).await);
    assert!(missing.starts_with("NOSCRIPT"), "{missing}");
    // SCRIPT FLUSH forgets it.
    let _: () = query(&mut con, &["SCRIPT", "FLUSH"]).await.unwrap();
    assert!(
        query::<String>(&mut con, &["SCRIPT", "SHOW", &sha])
            .await
            .is_err()
    );
    n.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_capa_accepts_known_and_unknown_capabilities() {
    let n = node(Flavor::Valkey, "8.0.1");
    let mut con = client(&n).await;
    let ok: String = query(&mut con, &["CLIENT", "CAPA", "redirect"])
        .await
        .unwrap();
    assert_eq!(ok, "OK");
    let ok: String = query(&mut con, &["CLIENT", "CAPA", "redirect", "no-such-capa"])
        .await
        .unwrap();
    assert_eq!(ok, "OK");
    let arity = err_text(query::<String>(&mut con, &["CLIENT", "CAPA"]).await);
    assert!(arity.contains("wrong number of arguments"), "{arity}");
    n.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_capa_redirect_sends_data_commands_to_the_primary() {
    let (primary, replica) = (node(Flavor::Valkey, "8.0.1"), node(Flavor::Valkey, "8.0.1"));
    let port = primary.local_addr().port();
    replica.replicate_from(&primary, ("127.0.0.1".into(), port));
    let mut p = client(&primary).await;
    let _: () = query(&mut p, &["SET", "k", "v"]).await.unwrap();
    let mut plain = client(&replica).await;
    for _ in 0..100 {
        if query::<Option<String>>(&mut plain, &["GET", "k"]).await == Ok(Some("v".into())) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Without the capability: reads served, writes refused as READONLY.
    let e = err_text(query::<()>(&mut plain, &["SET", "k", "w"]).await);
    assert!(e.starts_with("READONLY"), "{e}");
    let mut raw = Raw::connect(&replica).await;
    assert_eq!(raw.cmd(&["CLIENT", "CAPA", "redirect"]).await, "+OK\r\n");
    let redirect = format!("-REDIRECT 127.0.0.1:{port}\r\n");
    assert_eq!(raw.cmd(&["GET", "k"]).await, redirect);
    assert_eq!(raw.cmd(&["SET", "k", "w"]).await, redirect);
    assert_eq!(raw.cmd(&["PING"]).await, "+PONG\r\n");
    // READONLY keeps reads here; writes still go to the primary.
    assert_eq!(raw.cmd(&["READONLY"]).await, "+OK\r\n");
    assert_eq!(raw.cmd(&["GET", "k"]).await, "$1\r\nv\r\n");
    assert_eq!(raw.cmd(&["SET", "k", "w"]).await, redirect);
    assert_eq!(raw.cmd(&["READWRITE"]).await, "+OK\r\n");
    assert_eq!(raw.cmd(&["GET", "k"]).await, redirect);
    // The primary serves such a client as any other.
    let mut on_primary = Raw::connect(&primary).await;
    on_primary.cmd(&["CLIENT", "CAPA", "redirect"]).await;
    assert_eq!(on_primary.cmd(&["GET", "k"]).await, "$1\r\nv\r\n");
    replica.shutdown().await;
    primary.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xread_plus_reads_the_newest_entry() {
    let n = node(Flavor::Valkey, "8.0.1");
    let mut con = client(&n).await;
    for (id, v) in [("1-0", "a"), ("2-0", "b"), ("3-0", "c")] {
        let _: String = query(&mut con, &["XADD", "s", id, "f", v]).await.unwrap();
    }
    let got: Value = query(&mut con, &["XREAD", "COUNT", "10", "STREAMS", "s", "+"])
        .await
        .unwrap();
    let expected = Value::Array(vec![Value::Array(vec![
        Value::BulkString(b"s".to_vec()),
        Value::Array(vec![Value::Array(vec![
            Value::BulkString(b"3-0".to_vec()),
            Value::Array(vec![
                Value::BulkString(b"f".to_vec()),
                Value::BulkString(b"c".to_vec()),
            ]),
        ])]),
    ])]);
    assert_eq!(got, expected);
    // The newest live entry after a deletion; nothing for a missing or emptied stream.
    let _: i64 = query(&mut con, &["XDEL", "s", "3-0"]).await.unwrap();
    let got: Value = query(&mut con, &["XREAD", "STREAMS", "s", "+"])
        .await
        .unwrap();
    assert!(format!("{got:?}").contains("2-0"), "{got:?}");
    let none: Value = query(&mut con, &["XREAD", "STREAMS", "missing", "+"])
        .await
        .unwrap();
    assert_eq!(none, Value::Nil);
    // XREADGROUP keeps refusing it.
    let _: String = query(&mut con, &["XGROUP", "CREATE", "s", "g", "0"])
        .await
        .unwrap();
    let e = err_text(
        query::<Value>(
            &mut con,
            &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "+"],
        )
        .await,
    );
    assert!(e.contains("Invalid stream ID"), "{e}");
    n.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_reports_the_availability_zone_from_valkey_8_1() {
    let with_zone = |flavor, version: &str| {
        let version = version.to_string();
        start_with(move |c| {
            c.flavor = flavor;
            c.engine_version = version;
            c.availability_zone = Some("us-east-1b".into());
        })
    };
    for (flavor, version, shown) in [
        (Flavor::Valkey, "8.1.1", true),
        (Flavor::Valkey, "8.0.1", false),
        (Flavor::Valkey, "7.2.6", false),
        (Flavor::Redis, "7.0.15", false),
    ] {
        let n = with_zone(flavor, version);
        let mut con = client(&n).await;
        let hello: Vec<Value> = query(&mut con, &["HELLO", "2"]).await.unwrap();
        let zone = hello
            .iter()
            .position(|v| *v == Value::BulkString(b"availability_zone".to_vec()))
            .map(|i| hello[i + 1].clone());
        let expected = shown.then(|| Value::BulkString(b"us-east-1b".to_vec()));
        assert_eq!(zone, expected, "{version}");
        assert_eq!(hello.len(), if shown { 16 } else { 14 }, "{version}");
        n.shutdown().await;
    }
    // Without a zone, Valkey 8.1 leaves the field out.
    let n = node(Flavor::Valkey, "8.1.1");
    let mut raw = Raw::connect(&n).await;
    let hello = raw.cmd(&["HELLO", "3"]).await;
    assert!(hello.starts_with("%7\r\n") && !hello.contains("availability_zone"));
    n.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commandlog_keeps_large_requests_and_replies() {
    let n = node(Flavor::Valkey, "8.1.1");
    let mut con = client(&n).await;
    let big = "x".repeat((1 << 20) + 10);
    let _: () = query(&mut con, &["SET", "big", &big]).await.unwrap();
    let _: String = query(&mut con, &["GET", "big"]).await.unwrap();
    let _: () = query(&mut con, &["SET", "small", "v"]).await.unwrap();
    assert_eq!(
        query::<i64>(&mut con, &["COMMANDLOG", "LEN", "large-request"]).await,
        Ok(1)
    );
    assert_eq!(
        query::<i64>(&mut con, &["COMMANDLOG", "LEN", "large-reply"]).await,
        Ok(1)
    );
    // id, time, size, arguments (128 bytes kept of each), address, name.
    let got: Vec<(i64, i64, i64, Vec<String>, String, String)> =
        query(&mut con, &["COMMANDLOG", "GET", "-1", "large-reply"])
            .await
            .unwrap();
    assert_eq!(got.len(), 1);
    let (id, _, size, args, addr, _) = &got[0];
    assert_eq!(*id, 0);
    assert!(*size as usize > big.len(), "{size}");
    assert_eq!(args, &["GET", "big"]);
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    let req: Vec<(i64, i64, i64, Vec<String>, String, String)> =
        query(&mut con, &["COMMANDLOG", "GET", "1", "large-request"])
            .await
            .unwrap();
    assert_eq!(req[0].3[0], "SET");
    assert!(req[0].3[2].ends_with(&format!("... ({} more bytes)", big.len() - 128)));
    assert!(req[0].2 as usize > big.len());
    // `slow` is the slow log.
    let _: () = query(&mut con, &["CONFIG", "SET", "slowlog-log-slower-than", "0"])
        .await
        .unwrap();
    let _: String = query(&mut con, &["PING"]).await.unwrap();
    let slow: Value = query(&mut con, &["COMMANDLOG", "GET", "1", "slow"])
        .await
        .unwrap();
    assert!(format!("{slow:?}").contains("PING"), "{slow:?}");
    let slowlog_len: i64 = query(&mut con, &["SLOWLOG", "LEN"]).await.unwrap();
    let slow_len: i64 = query(&mut con, &["COMMANDLOG", "LEN", "slow"])
        .await
        .unwrap();
    assert_eq!(
        slow_len,
        slowlog_len + 1,
        "the LEN itself is logged before the next"
    );
    // RESET empties one log; a bad type or count is an error.
    let _: () = query(&mut con, &["COMMANDLOG", "RESET", "large-reply"])
        .await
        .unwrap();
    assert_eq!(
        query::<i64>(&mut con, &["COMMANDLOG", "LEN", "large-reply"]).await,
        Ok(0)
    );
    assert_eq!(
        query::<i64>(&mut con, &["COMMANDLOG", "LEN", "large-request"]).await,
        Ok(1)
    );
    assert!(
        query::<i64>(&mut con, &["COMMANDLOG", "LEN", "huge"])
            .await
            .is_err()
    );
    assert!(
        query::<Value>(&mut con, &["COMMANDLOG", "GET", "-2", "slow"])
            .await
            .is_err()
    );
    n.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bgsave_cancel_drops_the_running_save() {
    let dir = std::env::temp_dir().join(format!("ecl-bgsave-cancel-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.clone();
    let n = start_with(move |c| {
        c.flavor = Flavor::Valkey;
        c.engine_version = "8.1.1".into();
        c.data_dir = Some(d);
    });
    let mut con = client(&n).await;
    // The fill below runs for a while in a debug build.
    con.set_response_timeout(std::time::Duration::from_secs(60));
    let nothing = err_text(query::<String>(&mut con, &["BGSAVE", "CANCEL"]).await);
    assert!(nothing.contains("not in progress"), "{nothing}");
    // Enough keys that the snapshot is still being collected when CANCEL arrives.
    let fill = "for i = 1, 200000 do redis.call('SET', 'key:' .. i, i) end";
    let _: () = query(&mut con, &["EVAL", fill, "0"]).await.unwrap();
    let before: i64 = query(&mut con, &["LASTSAVE"]).await.unwrap();
    let (started, cancelled): (String, String) = redis::pipe()
        .cmd("BGSAVE")
        .cmd("BGSAVE")
        .arg("CANCEL")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(started, "Background saving started");
    assert_eq!(cancelled, "Background saving cancelled");
    let info: String = query(&mut con, &["INFO", "persistence"]).await.unwrap();
    assert!(info.contains("rdb_bgsave_in_progress:0"), "{info}");
    // The abandoned save writes nothing, even once its collection ends.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(query::<i64>(&mut con, &["LASTSAVE"]).await, Ok(before));
    assert!(!dir.join("dump.rdb").exists());
    n.shutdown().await;
    std::fs::remove_dir_all(&dir).ok();
}

fn cluster_node(version: &str) -> RedisNode {
    let version = version.to_string();
    start_with(move |c| {
        c.cluster_enabled = true;
        c.flavor = Flavor::Valkey;
        c.engine_version = version;
    })
}

/// One node serving slots 0..=99 and 200..=299 of a two-shard topology.
fn two_shards(me: &RedisNode, other: &RedisNode) -> ClusterTopology {
    let info = |n: &RedisNode| ClusterNodeInfo {
        node_id: n.node_id(),
        ip: "127.0.0.1".into(),
        port: n.local_addr().port(),
        hostname: None,
    };
    ClusterTopology {
        shards: vec![
            ClusterShard {
                shard_id: format!("{:040x}", 1),
                slots: vec![(0, 99), (200, 299)],
                primary: info(me),
                replicas: vec![],
            },
            ClusterShard {
                shard_id: format!("{:040x}", 2),
                slots: vec![(100, 199), (300, 16383)],
                primary: info(other),
                replicas: vec![],
            },
        ],
    }
}

type SlotRow = (i64, (String, i64));

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_slot_stats_counts_keys_of_the_shards_slots() {
    let (me, other) = (cluster_node("8.0.1"), cluster_node("8.0.1"));
    let topo = two_shards(&me, &other);
    me.set_cluster_topology(topo.clone());
    other.set_cluster_topology(topo);
    let mut con = client(&me).await;
    // Keys of slots 5 (three), 6 (one) and 250 (two), through a hash tag of each slot.
    let tag = |slot: u16| {
        (0..)
            .map(|i| format!("t{i}"))
            .find(|t| key_slot(t.as_bytes()) == slot)
            .unwrap_or_default()
    };
    for (slot, n) in [(5, 3), (6, 1), (250, 2)] {
        let t = tag(slot);
        for i in 0..n {
            let _: () = query(&mut con, &["SET", &format!("{{{t}}}:{i}"), "v"])
                .await
                .unwrap();
        }
    }
    let range: Vec<SlotRow> = query(&mut con, &["CLUSTER", "SLOT-STATS", "SLOTSRANGE", "4", "7"])
        .await
        .unwrap();
    let kc = |s, n| (s, ("key-count".to_string(), n));
    assert_eq!(range, vec![kc(4, 0), kc(5, 3), kc(6, 1), kc(7, 0)]);
    // Slots of the other shard are left out of a range.
    let range: Vec<SlotRow> = query(
        &mut con,
        &["CLUSTER", "SLOT-STATS", "SLOTSRANGE", "98", "201"],
    )
    .await
    .unwrap();
    let slots: Vec<i64> = range.iter().map(|r| r.0).collect();
    assert_eq!(slots, vec![98, 99, 200, 201]);
    // ORDERBY: by count, ties by ascending slot; DESC by default.
    let top: Vec<SlotRow> = query(
        &mut con,
        &[
            "CLUSTER",
            "SLOT-STATS",
            "ORDERBY",
            "key-count",
            "LIMIT",
            "4",
        ],
    )
    .await
    .unwrap();
    assert_eq!(top, vec![kc(5, 3), kc(250, 2), kc(6, 1), kc(0, 0)]);
    let low: Vec<SlotRow> = query(
        &mut con,
        &[
            "CLUSTER",
            "SLOT-STATS",
            "ORDERBY",
            "KEY-COUNT",
            "LIMIT",
            "2",
            "ASC",
        ],
    )
    .await
    .unwrap();
    assert_eq!(low, vec![kc(0, 0), kc(1, 0)]);
    let all: Vec<SlotRow> = query(&mut con, &["CLUSTER", "SLOT-STATS", "ORDERBY", "key-count"])
        .await
        .unwrap();
    assert_eq!(all.len(), 200, "the 200 slots this shard serves");
    for bad in [
        &["CLUSTER", "SLOT-STATS", "SLOTSRANGE", "7", "4"][..],
        &["CLUSTER", "SLOT-STATS", "SLOTSRANGE", "0", "16384"],
        &[
            "CLUSTER",
            "SLOT-STATS",
            "ORDERBY",
            "key-count",
            "LIMIT",
            "0",
        ],
        &["CLUSTER", "SLOT-STATS", "ORDERBY", "no-such-metric"],
        &["CLUSTER", "SLOT-STATS", "BOGUS", "1"],
    ] {
        assert!(query::<Value>(&mut con, bad).await.is_err(), "{bad:?}");
    }
    // RESP3: each slot's statistics are a map.
    let mut raw = Raw::connect(&me).await;
    raw.cmd(&["HELLO", "3"]).await;
    assert_eq!(
        raw.cmd(&["CLUSTER", "SLOT-STATS", "SLOTSRANGE", "5", "5"])
            .await,
        "*1\r\n*2\r\n:5\r\n%1\r\n$9\r\nkey-count\r\n:3\r\n"
    );
    me.shutdown().await;
    other.shutdown().await;
}

/// Every addition, probed on a node without it.
const PROBES: &[&[&str]] = &[
    &["SCRIPT", "SHOW", "0000000000000000000000000000000000000000"],
    &["CLIENT", "CAPA", "redirect"],
    &["CLUSTER", "SLOT-STATS", "SLOTSRANGE", "0", "1"],
    &["BGSAVE", "CANCEL"],
    &["COMMANDLOG", "GET", "1", "slow"],
    &["COMMANDLOG", "LEN", "large-reply"],
    &["XREAD", "STREAMS", "s", "+"],
];

async fn probe_answers(raw: &mut Raw) -> Vec<String> {
    raw.cmd(&["XADD", "s", "1-0", "f", "v"]).await;
    let mut out = Vec::new();
    for p in PROBES {
        out.push(raw.cmd(p).await);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn older_releases_refuse_the_additions() {
    let mut older = Vec::new();
    for (flavor, version) in [
        (Flavor::Redis, "7.0.15"),
        (Flavor::Redis, "7.1.0"),
        (Flavor::Valkey, "7.2.6"),
    ] {
        let n = node(flavor, version);
        let mut raw = Raw::connect(&n).await;
        older.push(probe_answers(&mut raw).await);
        // READONLY still needs cluster mode; HELLO has no zone field.
        assert!(
            raw.cmd(&["READONLY"])
                .await
                .contains("cluster support disabled")
        );
        assert!(!raw.cmd(&["HELLO", "3"]).await.contains("availability_zone"));
        n.shutdown().await;
    }
    assert!(older.windows(2).all(|w| w[0] == w[1]), "{older:#?}");
    let answers = &older[0];
    assert!(
        answers[0].starts_with("-ERR unknown subcommand 'SHOW'"),
        "{answers:?}"
    );
    assert!(
        answers[4].starts_with("-ERR unknown command 'COMMANDLOG'"),
        "{answers:?}"
    );
    // Valkey 8.0 has the 8.0 additions but not the 8.1 ones.
    let n = node(Flavor::Valkey, "8.0.1");
    let mut raw = Raw::connect(&n).await;
    let vk80 = probe_answers(&mut raw).await;
    assert_eq!(vk80[3..6], answers[3..6]);
    assert!(vk80[1] == "+OK\r\n" && vk80[6].contains("1-0"), "{vk80:?}");
    n.shutdown().await;

    let Some(reference) = ReferenceRedis::start(&[]) else {
        eprintln!("redis-server not installed: comparison skipped");
        return;
    };
    let mut theirs = reference.connect().await;
    assert_eq!(&probe_answers(&mut theirs).await, answers);
}
