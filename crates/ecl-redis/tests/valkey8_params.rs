//! Valkey 8 settings honoured end to end: the `commandlog-*` parameters (Valkey 8.1),
//! `cluster-slot-stats-enabled` with the CPU and network slot metrics (Valkey 8.0) and BGSAVE
//! CANCEL stopping a save that is writing its file (Valkey 8.1). Each runs on a real node over
//! TCP through the `redis` crate; older releases answer as redis-server 7.0.15 does.

mod common;

use common::{Raw, client, err_text, node, query, start_with};
use ecl_redis::cluster::key_slot;
use ecl_redis::{ClusterNodeInfo, ClusterShard, ClusterTopology, Flavor, RedisNode};
use redis::Value;
use std::collections::HashMap;

async fn config_get(con: &mut redis::aio::MultiplexedConnection, pattern: &str) -> Vec<String> {
    query(con, &["CONFIG", "GET", pattern]).await.unwrap()
}

async fn len(con: &mut redis::aio::MultiplexedConnection, kind: &str) -> i64 {
    query(con, &["COMMANDLOG", "LEN", kind]).await.unwrap()
}

const COMMANDLOG_PARAMS: [(&str, &str); 6] = [
    ("commandlog-execution-slower-than", "10000"),
    ("commandlog-slow-execution-max-len", "128"),
    ("commandlog-request-larger-than", "1048576"),
    ("commandlog-large-request-max-len", "128"),
    ("commandlog-reply-larger-than", "1048576"),
    ("commandlog-large-reply-max-len", "128"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commandlog_parameters_have_valkey_defaults_and_ranges() {
    let n = node(Flavor::Valkey, "8.1.1");
    let mut con = client(&n).await;
    for (name, default) in COMMANDLOG_PARAMS {
        assert_eq!(
            config_get(&mut con, name).await,
            vec![name.to_string(), default.to_string()]
        );
    }
    assert_eq!(config_get(&mut con, "commandlog-*").await.len(), 12);
    // The slow type's two settings and the slow log's are one value, under either name.
    let _: () = query(
        &mut con,
        &["CONFIG", "SET", "slowlog-log-slower-than", "2500"],
    )
    .await
    .unwrap();
    assert_eq!(
        config_get(&mut con, "commandlog-execution-slower-than").await[1],
        "2500"
    );
    let _: () = query(
        &mut con,
        &["CONFIG", "SET", "commandlog-slow-execution-max-len", "7"],
    )
    .await
    .unwrap();
    assert_eq!(config_get(&mut con, "slowlog-max-len").await[1], "7");
    // Ranges: thresholds from -1, lengths from 0.
    for (name, bad) in [
        ("commandlog-request-larger-than", "-2"),
        ("commandlog-reply-larger-than", "x"),
        ("commandlog-large-reply-max-len", "-1"),
        ("commandlog-execution-slower-than", "-2"),
    ] {
        let e = err_text(query::<()>(&mut con, &["CONFIG", "SET", name, bad]).await);
        let failed = format!("ERR CONFIG SET failed (possibly related to argument '{name}') - ");
        assert!(e.starts_with(&failed), "{name} {bad}: {e}");
    }
    for (name, good) in [
        ("commandlog-request-larger-than", "-1"),
        ("commandlog-large-request-max-len", "0"),
        ("commandlog-reply-larger-than", "0"),
        ("commandlog-large-reply-max-len", "1024"),
    ] {
        let _: () = query(&mut con, &["CONFIG", "SET", name, good])
            .await
            .unwrap();
        assert_eq!(config_get(&mut con, name).await[1], good);
    }
    n.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commandlog_thresholds_and_lengths_take_effect() {
    let n = node(Flavor::Valkey, "8.1.1");
    let mut con = client(&n).await;
    let set = |name: &'static str, v: &'static str| ["CONFIG", "SET", name, v];
    let _: () = query(&mut con, &set("commandlog-request-larger-than", "100"))
        .await
        .unwrap();
    let _: () = query(&mut con, &set("commandlog-reply-larger-than", "50"))
        .await
        .unwrap();
    // Below both thresholds: nothing logged.
    let _: () = query(&mut con, &["SET", "k", "small"]).await.unwrap();
    let _: String = query(&mut con, &["GET", "k"]).await.unwrap();
    assert_eq!(
        (
            len(&mut con, "large-request").await,
            len(&mut con, "large-reply").await
        ),
        (0, 0)
    );
    // A 60-byte value: its GET reply (67 bytes) is large, its SET request (87 bytes) is not.
    let v60 = "v".repeat(60);
    let _: () = query(&mut con, &["SET", "k", &v60]).await.unwrap();
    assert_eq!(len(&mut con, "large-request").await, 0);
    let _: String = query(&mut con, &["GET", "k"]).await.unwrap();
    assert_eq!(len(&mut con, "large-reply").await, 1);
    let entry: Vec<Value> = query(&mut con, &["COMMANDLOG", "GET", "1", "large-reply"])
        .await
        .unwrap();
    let Value::Array(fields) = &entry[0] else {
        panic!("{entry:?}")
    };
    assert_eq!(fields[2], Value::Int(67), "the reply's size in bytes");
    // A request of exactly the threshold (100 bytes: `SET k` and a 73-byte value) is logged.
    let _: () = query(&mut con, &["SET", "k", &"w".repeat(72)])
        .await
        .unwrap();
    assert_eq!(len(&mut con, "large-request").await, 0);
    let _: () = query(&mut con, &["SET", "k", &"w".repeat(73)])
        .await
        .unwrap();
    assert_eq!(len(&mut con, "large-request").await, 1);
    // A shorter max-len trims the log at its next entry; -1 disables the log. (COMMANDLOG
    // GET's own reply was large too: start afresh.)
    let _: () = query(&mut con, &["COMMANDLOG", "RESET", "large-reply"])
        .await
        .unwrap();
    for _ in 0..5 {
        let _: String = query(&mut con, &["GET", "k"]).await.unwrap();
    }
    assert_eq!(len(&mut con, "large-reply").await, 5);
    let _: () = query(&mut con, &set("commandlog-large-reply-max-len", "2"))
        .await
        .unwrap();
    let _: String = query(&mut con, &["GET", "k"]).await.unwrap();
    assert_eq!(len(&mut con, "large-reply").await, 2);
    let _: () = query(&mut con, &set("commandlog-reply-larger-than", "-1"))
        .await
        .unwrap();
    let _: () = query(&mut con, &["COMMANDLOG", "RESET", "large-reply"])
        .await
        .unwrap();
    let _: String = query(&mut con, &["GET", "k"]).await.unwrap();
    assert_eq!(len(&mut con, "large-reply").await, 0);
    // The slow type follows commandlog-execution-slower-than (0: every command).
    let _: () = query(&mut con, &set("commandlog-execution-slower-than", "0"))
        .await
        .unwrap();
    let _: () = query(&mut con, &["COMMANDLOG", "RESET", "slow"])
        .await
        .unwrap();
    let _: String = query(&mut con, &["PING"]).await.unwrap();
    let _: () = query(&mut con, &set("slowlog-log-slower-than", "-1"))
        .await
        .unwrap();
    // One log under two names: stopped, both report the same length.
    assert!(len(&mut con, "slow").await >= 1);
    let slowlog: i64 = query(&mut con, &["SLOWLOG", "LEN"]).await.unwrap();
    assert_eq!(slowlog, len(&mut con, "slow").await);
    n.shutdown().await;
}

/// The answers of a node without the 8.1 parameters, as redis-server 7.0.15 gives them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commandlog_parameters_are_unknown_before_valkey_8_1() {
    for (flavor, version) in [
        (Flavor::Redis, "7.0.15"),
        (Flavor::Valkey, "7.2.6"),
        (Flavor::Valkey, "8.0.1"),
    ] {
        let n = node(flavor, version);
        let mut raw = Raw::connect(&n).await;
        for (name, _) in COMMANDLOG_PARAMS {
            assert_eq!(
                raw.cmd(&["CONFIG", "GET", name]).await,
                "*0\r\n",
                "{version}"
            );
            assert_eq!(
                raw.cmd(&["CONFIG", "SET", name, "5"]).await,
                format!("-ERR Unknown option or number of arguments for CONFIG SET - '{name}'\r\n"),
                "{version}"
            );
        }
        // The slow log's own names are there on every release.
        assert_eq!(
            raw.cmd(&["CONFIG", "GET", "slowlog-max-len"]).await,
            "*2\r\n$15\r\nslowlog-max-len\r\n$3\r\n128\r\n"
        );
        n.shutdown().await;
    }
    if let Some(reference) = common::ReferenceRedis::start(&[]) {
        let mut theirs = reference.connect().await;
        let name = "commandlog-request-larger-than";
        assert_eq!(theirs.cmd(&["CONFIG", "GET", name]).await, "*0\r\n");
        assert_eq!(
            theirs.cmd(&["CONFIG", "SET", name, "5"]).await,
            format!("-ERR Unknown option or number of arguments for CONFIG SET - '{name}'\r\n")
        );
    }
}

fn cluster_node(version: &str) -> RedisNode {
    let version = version.to_string();
    start_with(move |c| {
        c.cluster_enabled = true;
        c.flavor = Flavor::Valkey;
        c.engine_version = version;
    })
}

/// A one-shard cluster of `n` serving every slot.
fn own_all_slots(n: &RedisNode) {
    n.set_cluster_topology(ClusterTopology {
        shards: vec![ClusterShard {
            shard_id: format!("{:040x}", 1),
            slots: vec![(0, 16383)],
            primary: ClusterNodeInfo {
                node_id: n.node_id(),
                ip: "127.0.0.1".into(),
                port: n.local_addr().port(),
                hostname: None,
            },
            replicas: vec![],
        }],
    });
}

/// A hash tag whose keys live in `slot`.
fn tag(slot: u16) -> String {
    (0..)
        .map(|i| format!("t{i}"))
        .find(|t| key_slot(t.as_bytes()) == slot)
        .unwrap_or_default()
}

/// Bytes of `args` as a RESP request.
fn request_len(args: &[&str]) -> i64 {
    let head = |n: usize| n.to_string().len() as i64 + 3;
    args.iter().fold(head(args.len()), |sum, a| {
        sum + head(a.len()) + a.len() as i64 + 2
    })
}

type Stats = Vec<(i64, HashMap<String, i64>)>;

async fn slot_stats(con: &mut redis::aio::MultiplexedConnection, args: &[&str]) -> Stats {
    let mut full = vec!["CLUSTER", "SLOT-STATS"];
    full.extend_from_slice(args);
    query(con, &full).await.unwrap()
}

async fn stats_of(con: &mut redis::aio::MultiplexedConnection, slot: u16) -> HashMap<String, i64> {
    let s = slot.to_string();
    let mut rows = slot_stats(con, &["SLOTSRANGE", &s, &s]).await;
    rows.pop().expect("the slot is served").1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slot_stats_metrics_follow_cluster_slot_stats_enabled() {
    let n = cluster_node("8.0.1");
    own_all_slots(&n);
    let mut con = client(&n).await;
    let mut raw = Raw::connect(&n).await;
    assert_eq!(
        config_get(&mut con, "cluster-slot-stats-enabled").await,
        vec!["cluster-slot-stats-enabled", "no"]
    );
    // Disabled: key-count only, and the usage metrics are no sort keys.
    let (k5, k6, k7, k8) = (tag(5), tag(6), tag(7), tag(8));
    let set5 = ["SET", &format!("{{{k5}}}:a"), "hello"];
    assert_eq!(raw.cmd(&set5).await, "+OK\r\n");
    let before = stats_of(&mut con, 5).await;
    assert_eq!(before, HashMap::from([("key-count".to_string(), 1)]));
    for metric in ["cpu-usec", "network-bytes-in", "network-bytes-out", "bogus"] {
        assert_eq!(
            err_text(query::<Value>(&mut con, &["CLUSTER", "SLOT-STATS", "ORDERBY", metric]).await),
            "ERR Unrecognized sort metric for ORDERBY."
        );
    }
    let _: () = query(
        &mut con,
        &["CONFIG", "SET", "cluster-slot-stats-enabled", "yes"],
    )
    .await
    .unwrap();
    // Enabled: a write and a read of slot 5 count their request and reply bytes there.
    assert_eq!(raw.cmd(&set5).await, "+OK\r\n");
    let get5 = ["GET", &format!("{{{k5}}}:a")];
    assert_eq!(raw.cmd(&get5).await, "$5\r\nhello\r\n");
    let s5 = stats_of(&mut con, 5).await;
    assert_eq!(s5["key-count"], 1);
    assert_eq!(
        s5["network-bytes-in"],
        request_len(&set5) + request_len(&get5)
    );
    assert_eq!(s5["network-bytes-out"], 5 + 11);
    assert!(s5.contains_key("cpu-usec"), "{s5:?}");
    assert_eq!(
        stats_of(&mut con, 6).await,
        HashMap::from([
            ("key-count".to_string(), 0),
            ("cpu-usec".to_string(), 0),
            ("network-bytes-in".to_string(), 0),
            ("network-bytes-out".to_string(), 0),
        ])
    );
    // A script declaring a key of slot 6 is counted there, with its run time.
    // (The run time before the script's last call counts too.)
    let spin = "local x = 0 for i = 1, 300000 do x = x + i end \
                return redis.call('INCR', KEYS[1])";
    let eval = ["EVAL", spin, "1", &format!("{{{k6}}}:n")];
    assert_eq!(raw.cmd(&eval).await, ":1\r\n");
    let s6 = stats_of(&mut con, 6).await;
    assert!(s6["cpu-usec"] > 1000, "{s6:?}");
    assert_eq!(s6["network-bytes-in"], request_len(&eval));
    assert_eq!(s6["network-bytes-out"], 4);
    let top = slot_stats(&mut con, &["ORDERBY", "cpu-usec", "LIMIT", "1"]).await;
    assert_eq!(top[0].0, 6);
    let top = slot_stats(&mut con, &["ORDERBY", "network-bytes-in", "LIMIT", "2"]).await;
    assert_eq!(
        (top[0].0, top[1].0),
        (6, 5),
        "the script's request is the longer"
    );
    let top = slot_stats(&mut con, &["ORDERBY", "network-bytes-out", "LIMIT", "1"]).await;
    assert_eq!(top[0].0, 5);
    // A transaction counts under its commands' slot: MULTI and EXEC's bytes, EXEC's reply.
    let k7a = format!("{{{k7}}}:a");
    assert_eq!(raw.cmd(&["MULTI"]).await, "+OK\r\n");
    assert_eq!(raw.cmd(&["SET", &k7a, "1"]).await, "+QUEUED\r\n");
    assert_eq!(raw.cmd(&["INCR", &k7a]).await, "+QUEUED\r\n");
    assert_eq!(raw.cmd(&["EXEC"]).await, "*2\r\n+OK\r\n:2\r\n");
    let s7 = stats_of(&mut con, 7).await;
    assert_eq!(
        (s7["network-bytes-in"], s7["network-bytes-out"]),
        (15 + 14, 13)
    );
    // SPUBLISH: the reply and the message each subscriber of this node receives (SSUBSCRIBE,
    // keyed by its channel, counts its own reply there too).
    let ch = format!("{{{k8}}}ch");
    let mut sub = Raw::connect(&n).await;
    let confirmed = sub.cmd(&["SSUBSCRIBE", &ch]).await.len() as i64;
    let publish = ["SPUBLISH", &ch, "hi"];
    assert_eq!(raw.cmd(&publish).await, ":1\r\n");
    let delivered = sub.read().await;
    assert!(delivered.contains("smessage"), "{delivered}");
    let s8 = stats_of(&mut con, 8).await;
    assert_eq!(
        s8["network-bytes-out"],
        confirmed + 4 + delivered.len() as i64
    );
    // CONFIG RESETSTAT zeroes the usage counters (not the key count).
    let _: () = query(&mut con, &["CONFIG", "RESETSTAT"]).await.unwrap();
    let s5 = stats_of(&mut con, 5).await;
    assert_eq!(
        (
            s5["key-count"],
            s5["network-bytes-in"],
            s5["network-bytes-out"]
        ),
        (1, 0, 0)
    );
    // RESP3: a map of the four figures; disabled again, one.
    raw.cmd(&["HELLO", "3"]).await;
    let shown = raw
        .cmd(&["CLUSTER", "SLOT-STATS", "SLOTSRANGE", "9", "9"])
        .await;
    assert!(
        shown.starts_with(
            "*1\r\n*2\r\n:9\r\n%4\r\n$9\r\nkey-count\r\n:0\r\n$8\r\ncpu-usec\r\n:0\r\n"
        ),
        "{shown}"
    );
    let _: () = query(
        &mut con,
        &["CONFIG", "SET", "cluster-slot-stats-enabled", "no"],
    )
    .await
    .unwrap();
    assert_eq!(
        raw.cmd(&["CLUSTER", "SLOT-STATS", "SLOTSRANGE", "9", "9"])
            .await,
        "*1\r\n*2\r\n:9\r\n%1\r\n$9\r\nkey-count\r\n:0\r\n"
    );
    n.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slot_stats_argument_errors_are_valkeys() {
    let n = cluster_node("8.0.1");
    own_all_slots(&n);
    let mut raw = Raw::connect(&n).await;
    let limit = "-ERR Limit has to lie in between 1 and 16384 (maximum number of slots).\r\n";
    for (args, answer) in [
        (&["ORDERBY", "key-count", "LIMIT", "0"][..], limit),
        (&["ORDERBY", "key-count", "LIMIT", "x"], limit),
        (
            &["ORDERBY", "key-count", "LIMIT", "1", "LIMIT", "2"],
            "-ERR Multiple filters of the same type are disallowed.\r\n",
        ),
        (
            &["ORDERBY", "key-count", "ASC", "DESC"],
            "-ERR Multiple filters of the same type are disallowed.\r\n",
        ),
        (&["ORDERBY", "key-count", "UP"], "-ERR syntax error\r\n"),
        (
            &["SLOTSRANGE", "1"],
            "-ERR unknown subcommand or wrong number of arguments for 'SLOT-STATS'. Try CLUSTER HELP.\r\n",
        ),
    ] {
        let mut full = vec!["CLUSTER", "SLOT-STATS"];
        full.extend_from_slice(args);
        assert_eq!(raw.cmd(&full).await, answer, "{args:?}");
    }
    n.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slot_stats_parameter_is_unknown_before_valkey_8() {
    let n = start_with(|c| {
        c.cluster_enabled = true;
        c.flavor = Flavor::Valkey;
        c.engine_version = "7.2.6".into();
    });
    let mut raw = Raw::connect(&n).await;
    let name = "cluster-slot-stats-enabled";
    assert_eq!(raw.cmd(&["CONFIG", "GET", name]).await, "*0\r\n");
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", name, "yes"]).await,
        format!("-ERR Unknown option or number of arguments for CONFIG SET - '{name}'\r\n")
    );
    n.shutdown().await;
}

/// A Valkey 8.1 node with a data directory of its own.
fn saving_node(tag: &str) -> (RedisNode, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("ecl-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.clone();
    let n = start_with(move |c| {
        c.flavor = Flavor::Valkey;
        c.engine_version = "8.1.1".into();
        c.data_dir = Some(d);
    });
    (n, dir)
}

/// `n` keys of 1000 random bytes each (the RDB writer cannot compress them), by a script.
async fn fill(con: &mut redis::aio::MultiplexedConnection, prefix: &str, n: u32) {
    let body = "local t = {} for j = 1, 1000 do t[j] = string.char(math.random(0, 255)) end \
                local v = table.concat(t) \
                for i = 1, tonumber(ARGV[2]) do redis.call('SET', ARGV[1] .. i, v) end";
    let _: () = query(con, &["EVAL", body, "0", prefix, &n.to_string()])
        .await
        .unwrap();
}

async fn persistence(con: &mut redis::aio::MultiplexedConnection) -> HashMap<String, String> {
    let info: String = query(con, &["INFO", "persistence"]).await.unwrap();
    info.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn wait_for_no_save(con: &mut redis::aio::MultiplexedConnection) {
    for _ in 0..3000 {
        if persistence(con).await["rdb_bgsave_in_progress"] == "0" {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the BGSAVE never ended");
}

/// Files in `dir` other than `dump.rdb` (a temporary file left behind).
fn strays(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "dump.rdb")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bgsave_cancel_while_writing_keeps_the_previous_file() {
    let (n, dir) = saving_node("bgsave-write-cancel");
    let mut con = client(&n).await;
    con.set_response_timeout(std::time::Duration::from_secs(120));
    let file = dir.join("dump.rdb");
    let _: () = query(&mut con, &["SET", "before", "1"]).await.unwrap();
    let _: () = query(&mut con, &["SAVE"]).await.unwrap();
    let (old_bytes, old_mtime) = (
        std::fs::read(&file).unwrap(),
        std::fs::metadata(&file).unwrap().modified().unwrap(),
    );
    let lastsave: i64 = query(&mut con, &["LASTSAVE"]).await.unwrap();
    // A dataset whose image takes a while to serialise and write (about 40 MB).
    fill(&mut con, "big:", 40_000).await;
    let started: String = query(&mut con, &["BGSAVE"]).await.unwrap();
    assert_eq!(started, "Background saving started");
    // Collection is over once the save is still running with no keys left to copy: the
    // image is being serialised or written.
    let mut writing = false;
    for _ in 0..20_000 {
        let p = persistence(&mut con).await;
        if p["rdb_bgsave_in_progress"] == "0" {
            break;
        }
        if p["current_save_keys_total"] == "0" {
            writing = true;
            break;
        }
    }
    assert!(writing, "the save ended before its write phase was seen");
    let cancelled: String = query(&mut con, &["BGSAVE", "CANCEL"]).await.unwrap();
    assert_eq!(cancelled, "Background saving cancelled");
    let p = persistence(&mut con).await;
    assert_eq!(
        (
            p["rdb_bgsave_in_progress"].as_str(),
            p["rdb_last_bgsave_status"].as_str()
        ),
        ("0", "ok")
    );
    // Give the abandoned thread time to notice: the previous file is untouched, its
    // temporary file removed, LASTSAVE unchanged.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert!(std::fs::read(&file).unwrap() == old_bytes);
    assert_eq!(
        std::fs::metadata(&file).unwrap().modified().unwrap(),
        old_mtime
    );
    assert!(strays(&dir).is_empty(), "{:?}", strays(&dir));
    assert_eq!(query::<i64>(&mut con, &["LASTSAVE"]).await, Ok(lastsave));
    // A BGSAVE afterwards runs to its end and replaces the file.
    let again: String = query(&mut con, &["BGSAVE"]).await.unwrap();
    assert_eq!(again, "Background saving started");
    wait_for_no_save(&mut con).await;
    let p = persistence(&mut con).await;
    assert_eq!(p["rdb_last_bgsave_status"], "ok");
    assert!(std::fs::read(&file).unwrap().len() > old_bytes.len() + 40_000_000);
    n.shutdown().await;
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bgsave_cancel_while_collecting_frees_the_snapshot_at_once() {
    let (n, dir) = saving_node("bgsave-collect-cancel");
    let mut con = client(&n).await;
    con.set_response_timeout(std::time::Duration::from_secs(120));
    fill(&mut con, "k:", 20_000).await;
    // CANCEL right behind BGSAVE (one pipeline): the save is still collecting; a BGSAVE
    // right after starts at once.
    let (started, cancelled, again): (String, String, String) = redis::pipe()
        .cmd("BGSAVE")
        .cmd("BGSAVE")
        .arg("CANCEL")
        .cmd("BGSAVE")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(
        (started.as_str(), cancelled.as_str(), again.as_str()),
        (
            "Background saving started",
            "Background saving cancelled",
            "Background saving started"
        )
    );
    wait_for_no_save(&mut con).await;
    let p = persistence(&mut con).await;
    assert_eq!(
        (
            p["rdb_saves"].as_str(),
            p["rdb_last_bgsave_status"].as_str()
        ),
        ("1", "ok")
    );
    // The completed save holds every key.
    let bytes = std::fs::read(dir.join("dump.rdb")).unwrap();
    assert!(bytes.len() > 20_000 * 1000, "{}", bytes.len());
    assert!(strays(&dir).is_empty(), "{:?}", strays(&dir));
    n.shutdown().await;
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bgsave_cancel_of_a_scheduled_save() {
    let (n, dir) = saving_node("bgsave-scheduled-cancel");
    let mut con = client(&n).await;
    con.set_response_timeout(std::time::Duration::from_secs(120));
    fill(&mut con, "k:", 20_000).await;
    // An AOF rewrite holds the snapshot: BGSAVE SCHEDULE waits, CANCEL drops it.
    let _: () = query(&mut con, &["CONFIG", "SET", "appendonly", "yes"])
        .await
        .unwrap();
    wait_for_no_save(&mut con).await;
    let (rewrite, scheduled, cancelled): (String, String, String) = redis::pipe()
        .cmd("BGREWRITEAOF")
        .cmd("BGSAVE")
        .arg("SCHEDULE")
        .cmd("BGSAVE")
        .arg("CANCEL")
        .query_async(&mut con)
        .await
        .unwrap();
    assert!(
        rewrite.starts_with("Background append only file rewriting"),
        "{rewrite}"
    );
    assert_eq!(scheduled, "Background saving scheduled");
    assert_eq!(cancelled, "Scheduled background saving cancelled");
    let none = err_text(query::<String>(&mut con, &["BGSAVE", "CANCEL"]).await);
    assert_eq!(
        none,
        "ERR Background saving is currently not in progress or scheduled"
    );
    n.shutdown().await;
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slot_stats_restart_for_a_slot_that_comes_back() {
    let n = cluster_node("8.0.1");
    own_all_slots(&n);
    let mut con = client(&n).await;
    let _: () = query(
        &mut con,
        &["CONFIG", "SET", "cluster-slot-stats-enabled", "yes"],
    )
    .await
    .unwrap();
    for slot in [5, 6] {
        let key = format!("{{{}}}:x", tag(slot));
        let _: () = query(&mut con, &["SET", &key, "v"]).await.unwrap();
    }
    // Slot 5 goes to another shard, then comes back.
    let me = ClusterNodeInfo {
        node_id: n.node_id(),
        ip: "127.0.0.1".into(),
        port: n.local_addr().port(),
        hostname: None,
    };
    let elsewhere = ClusterNodeInfo {
        node_id: format!("{:040x}", 9),
        ip: "127.0.0.1".into(),
        port: 1,
        hostname: None,
    };
    n.set_cluster_topology(ClusterTopology {
        shards: vec![
            ClusterShard {
                shard_id: format!("{:040x}", 1),
                slots: vec![(0, 4), (6, 16383)],
                primary: me,
                replicas: vec![],
            },
            ClusterShard {
                shard_id: format!("{:040x}", 2),
                slots: vec![(5, 5)],
                primary: elsewhere,
                replicas: vec![],
            },
        ],
    });
    own_all_slots(&n);
    assert_eq!(stats_of(&mut con, 5).await["network-bytes-in"], 0);
    assert!(stats_of(&mut con, 6).await["network-bytes-in"] > 0);
    n.shutdown().await;
}
