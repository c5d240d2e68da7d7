//! Server introspection (INFO, CONFIG, COMMAND, SLOWLOG, MEMORY) and maxmemory behaviour
//! (noeviction OOM, LRU/LFU/TTL/random eviction) through the node handle and the wire.

mod common;
use common::{Raw, start, start_with};
use ecl_redis::Flavor;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_sections_are_truthful() {
    let node = start_with(|c| {
        c.engine_version = "7.0.7".into();
        c.parameters
            .push(("maxmemory-policy".into(), "allkeys-lru".into()));
    });
    let mut c = Raw::connect(&node).await;
    c.cmd(&["SET", "a", "1"]).await;
    c.cmd(&["SET", "b", "2", "EX", "100"]).await;
    c.cmd(&["GET", "a"]).await;
    c.cmd(&["GET", "zz"]).await;
    c.cmd(&["NOPE"]).await;
    let info = c.cmd(&["INFO"]).await;
    for needle in [
        "redis_version:7.0.7",
        "redis_mode:standalone",
        "connected_clients:1",
        "maxmemory_policy:allkeys-lru",
        "role:master",
        "connected_slaves:0",
        "keyspace_hits:1",
        "keyspace_misses:1",
        "db0:keys=2,expires=1,",
        "errorstat_ERR:count=1",
        "cluster_enabled:0",
        &format!("tcp_port:{}", node.local_addr().port()),
    ] {
        assert!(info.contains(needle), "missing {needle} in {info}");
    }
    assert!(!info.contains("cmdstat_"), "commandstats only with 'all'");
    let all = c.cmd(&["INFO", "commandstats"]).await;
    assert!(all.contains("cmdstat_set:calls=2"), "{all}");
    assert!(all.contains("cmdstat_get:calls=2"), "{all}");
    node.shutdown().await;

    let vk = start_with(|c| {
        c.flavor = Flavor::Valkey;
        c.engine_version = "8.0.1".into();
    });
    let mut c = Raw::connect(&vk).await;
    let info = c.cmd(&["INFO", "server"]).await;
    assert!(
        info.contains("redis_version:7.2.4")
            && info.contains("server_name:valkey")
            && info.contains("valkey_version:8.0.1"),
        "{info}"
    );
    let hello = c.cmd(&["HELLO", "3"]).await;
    assert!(hello.contains("$6\r\nvalkey\r\n"), "{hello}");
    vk.shutdown().await;
}

/// Each Valkey release identifies itself as that release does: 7.2 still answers HELLO as
/// Redis 7.2.4; 8.0 and 8.1 name themselves and their own version in HELLO and call the mode
/// field `server_mode`; every release reports `redis_version:7.2.4` and its `valkey_version`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valkey_releases_report_their_own_version() {
    for (version, own_name) in [("7.2.6", false), ("8.0.1", true), ("8.1.1", true)] {
        let node = start_with(|c| {
            c.flavor = Flavor::Valkey;
            c.engine_version = version.into();
        });
        let mut c = Raw::connect(&node).await;
        let info = c.cmd(&["INFO", "server"]).await;
        for needle in [
            "redis_version:7.2.4\r\n".to_string(),
            "server_name:valkey\r\n".to_string(),
            format!("valkey_version:{version}\r\n"),
            format!(
                "{}:standalone\r\n",
                if own_name {
                    "server_mode"
                } else {
                    "redis_mode"
                }
            ),
        ] {
            assert!(
                info.contains(&needle),
                "{version}: missing {needle} in {info}"
            );
        }
        let hello = c.cmd(&["HELLO", "3"]).await;
        let (server, reported) = if own_name {
            ("valkey", version)
        } else {
            ("redis", "7.2.4")
        };
        let expected = format!(
            "$6\r\nserver\r\n${}\r\n{server}\r\n$7\r\nversion\r\n$5\r\n{reported}\r\n",
            server.len()
        );
        assert!(hello.contains(&expected), "{version}: {hello}");
        // The command set is the Redis 7.2.4 one Valkey forked from (CLIENT NO-TOUCH is 7.2).
        let touch = c.cmd(&["CLIENT", "NO-TOUCH", "off"]).await;
        assert_eq!(touch, "+OK\r\n", "{version}");
        node.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_get_set_and_node_handle() {
    let node = start_with(|c| c.parameters.push(("timeout".into(), "300".into())));
    assert_eq!(node.config_get("timeout").as_deref(), Some("300"));
    node.config_set("maxmemory-policy", "volatile-ttl").unwrap();
    assert!(node.config_set("maxmemory-policy", "nope").is_err());
    let mut c = Raw::connect(&node).await;
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "maxmemory-policy"]).await,
        "*2\r\n$16\r\nmaxmemory-policy\r\n$12\r\nvolatile-ttl\r\n"
    );
    assert_eq!(
        c.cmd(&[
            "CONFIG",
            "SET",
            "maxmemory",
            "10mb",
            "maxmemory-samples",
            "7"
        ])
        .await,
        "+OK\r\n"
    );
    assert_eq!(node.config_get("maxmemory").as_deref(), Some("10485760"));
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "nosuch", "1"]).await,
        "-ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'\r\n"
    );
    // A failed multi-set changes nothing.
    assert!(
        c.cmd(&[
            "CONFIG",
            "SET",
            "maxmemory-samples",
            "3",
            "maxmemory-policy",
            "bad"
        ])
        .await
        .starts_with("-ERR CONFIG SET failed")
    );
    assert_eq!(node.config_get("maxmemory-samples").as_deref(), Some("7"));
    // redis-server 7.0.15's range for maxmemory-samples is 1..=INT_MAX (texts compared with it);
    // a huge count samples at most the whole database, so eviction still ends.
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "maxmemory-samples", "0"]).await,
        "-ERR CONFIG SET failed (possibly related to argument 'maxmemory-samples') - argument must be between 1 and 2147483647 inclusive\r\n"
    );
    assert_eq!(
        c.cmd(&[
            "CONFIG",
            "SET",
            "maxmemory-samples",
            "2147483647",
            "maxmemory-policy",
            "allkeys-lru",
            "maxmemory",
            "1"
        ])
        .await,
        "+OK\r\n"
    );
    for i in 0..20 {
        let k = format!("evict{i}");
        c.cmd(&["SET", &k, "v"]).await;
    }
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "maxmemory", "10mb"]).await,
        "+OK\r\n"
    );
    c.cmd(&["SET", "k", "v"]).await;
    node.flush_all();
    assert_eq!(c.cmd(&["DBSIZE"]).await, ":0\r\n");
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_introspection() {
    let node = start();
    let mut c = Raw::connect(&node).await;
    let count: usize = c
        .cmd(&["COMMAND", "COUNT"])
        .await
        .trim_start_matches(':')
        .trim()
        .parse()
        .unwrap();
    assert!(count > 80, "{count}");
    let info = c.cmd(&["COMMAND", "INFO", "get", "nope"]).await;
    assert!(
        info.starts_with("*2\r\n*10\r\n$3\r\nget\r\n:2\r\n"),
        "{info}"
    );
    assert!(info.ends_with("*-1\r\n"), "{info}");
    assert_eq!(
        c.cmd(&["COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"])
            .await,
        "*2\r\n$1\r\na\r\n$1\r\nb\r\n"
    );
    // As redis-server 7.0.15 answers: the command alone is an arity error of GETKEYS itself.
    assert_eq!(
        c.cmd(&["COMMAND", "GETKEYS", "PING"]).await,
        "-ERR wrong number of arguments for 'command|getkeys' command\r\n"
    );
    assert_eq!(
        c.cmd(&["COMMAND", "GETKEYS", "PING", "x"]).await,
        "-ERR The command has no key arguments\r\n"
    );
    let list = c
        .cmd(&["COMMAND", "LIST", "FILTERBY", "PATTERN", "get*"])
        .await;
    assert!(
        list.contains("getrange") && list.contains("getdel") && !list.contains("mget"),
        "{list}"
    );
    let docs = c.cmd(&["COMMAND", "DOCS", "set"]).await;
    assert!(
        docs.contains("summary") && docs.contains("string"),
        "{docs}"
    );
    assert_eq!(c.cmd(&["MODULE", "LIST"]).await, "*0\r\n");
    assert_eq!(c.cmd(&["REPLICAOF", "NO", "ONE"]).await, "+OK\r\n");
    assert_eq!(c.cmd(&["ROLE"]).await, "*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n");
    let all = c.cmd(&["COMMAND"]).await;
    assert!(all.starts_with(&format!("*{count}\r\n")));
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowlog_and_memory() {
    let node = start();
    let mut c = Raw::connect(&node).await;
    c.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "0"])
        .await;
    c.cmd(&["SET", "k", "v"]).await;
    assert!(c.cmd(&["SLOWLOG", "LEN"]).await != ":0\r\n");
    let log = c.cmd(&["SLOWLOG", "GET", "10"]).await;
    assert!(log.contains("$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"), "{log}");
    assert_eq!(c.cmd(&["SLOWLOG", "RESET"]).await, "+OK\r\n");
    let usage = c.cmd(&["MEMORY", "USAGE", "k"]).await;
    assert!(usage.starts_with(':'), "{usage}");
    assert_eq!(c.cmd(&["MEMORY", "USAGE", "none"]).await, "$-1\r\n");
    assert!(c.cmd(&["MEMORY", "STATS"]).await.contains("keys.count"));
    node.shutdown().await;
}

async fn fill(c: &mut Raw, prefix: &str, n: usize, ttl: bool) -> usize {
    let val = "x".repeat(1000);
    let mut oom = 0;
    for i in 0..n {
        let k = format!("{prefix}{i}");
        let r = if ttl {
            c.cmd(&["SET", &k, &val, "EX", "1000"]).await
        } else {
            c.cmd(&["SET", &k, &val]).await
        };
        if r.starts_with("-OOM") {
            oom += 1;
        }
    }
    oom
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maxmemory_noeviction_and_eviction_policies() {
    let node = start();
    let base = node.stats().used_memory;
    let limit = base + 200 * 1024;
    let mut c = Raw::connect(&node).await;
    c.cmd(&["CONFIG", "SET", "maxmemory", &limit.to_string()])
        .await;
    let oom = fill(&mut c, "k", 400, false).await;
    assert!(oom > 0, "noeviction refuses writes over the limit");
    assert_eq!(
        c.cmd(&["SET", "another", "x"]).await,
        "-OOM command not allowed when used memory > 'maxmemory'.\r\n"
    );
    assert!(c.cmd(&["GET", "k0"]).await.len() > 5, "reads still work");
    assert_eq!(c.cmd(&["DEL", "k0"]).await, ":1\r\n", "DEL is not denyoom");

    for policy in ["allkeys-lru", "allkeys-lfu", "allkeys-random"] {
        c.cmd(&["FLUSHALL"]).await;
        c.cmd(&["CONFIG", "SET", "maxmemory-policy", policy]).await;
        let oom = fill(&mut c, "p", 600, false).await;
        assert_eq!(oom, 0, "{policy} evicts instead of refusing");
        assert!(
            node.stats().used_memory <= limit + 4096,
            "{policy} stays near the limit"
        );
        assert!(node.stats().keys < 600, "{policy} evicted keys");
    }
    // volatile-ttl only evicts keys with a TTL; persistent keys survive.
    c.cmd(&["FLUSHALL"]).await;
    c.cmd(&["CONFIG", "SET", "maxmemory-policy", "volatile-ttl"])
        .await;
    fill(&mut c, "keep", 50, false).await;
    let oom = fill(&mut c, "tmp", 400, true).await;
    assert_eq!(oom, 0);
    for i in 0..50 {
        assert!(
            c.cmd(&["EXISTS", &format!("keep{i}")]).await == ":1\r\n",
            "persistent keep{i} survived"
        );
    }
    let info = c.cmd(&["INFO", "stats"]).await;
    let evicted: u64 = info
        .split("evicted_keys:")
        .nth(1)
        .and_then(|s| s.split("\r\n").next())
        .and_then(|s| s.parse().ok())
        .unwrap();
    assert!(evicted > 0, "{info}");
    node.shutdown().await;
}

/// MEMORY STATS' ratios are doubles printed as the node's version does: `%.17g` (17
/// significant digits) before 7.2, the shortest round-trip text from 7.2 on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stats_doubles_follow_the_version() {
    for (version, legacy) in [("7.0.15", true), ("7.2.4", false)] {
        let node = common::start_with(|c| c.engine_version = version.to_string());
        let mut c = common::client(&node).await;
        let _: () = redis::cmd("SET")
            .arg("k")
            .arg("v")
            .query_async(&mut c)
            .await
            .unwrap();
        let stats: Vec<redis::Value> = redis::cmd("MEMORY")
            .arg("STATS")
            .query_async(&mut c)
            .await
            .unwrap();
        let text = stats
            .chunks(2)
            .find(|kv| matches!(&kv[0], redis::Value::BulkString(k) if k == b"fragmentation"))
            .map(|kv| match &kv[1] {
                redis::Value::BulkString(b) => String::from_utf8(b.clone()).unwrap(),
                other => panic!("{other:?}"),
            })
            .expect("fragmentation field");
        let v: f64 = text.parse().unwrap();
        assert!(v > 1.0, "{version}: {text}");
        let significant = text.chars().filter(char::is_ascii_digit).count();
        if legacy {
            assert_eq!(significant, 17, "{version}: {text}");
        } else {
            assert_eq!(text, v.to_string(), "{version}: {text}");
        }
        node.shutdown().await;
    }
}

/// CONFIG RESETSTAT zeroes the command counter while ops/sec samples from before the reset
/// may still be queued: INFO must keep answering (it once underflowed and dropped the
/// connection, seen as redis-py's test_info failing after test_config_resetstat).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_survives_resetstat_between_samples() {
    let node = start();
    let mut c = Raw::connect(&node).await;
    for _ in 0..200 {
        c.cmd(&["PING"]).await;
    }
    // Let the cron's 16-sample window (1.6 s) fill with samples of the high counter, so the
    // oldest one is newer than the pings (waiting, not asserting time).
    tokio::time::sleep(std::time::Duration::from_millis(1800)).await;
    assert_eq!(c.cmd(&["CONFIG", "RESETSTAT"]).await, "+OK\r\n");
    for _ in 0..3 {
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        let info = c.cmd(&["INFO", "stats"]).await;
        assert!(info.contains("instantaneous_ops_per_sec:"), "{info}");
    }
    assert_eq!(c.cmd(&["PING"]).await, "+PONG\r\n");
    node.shutdown().await;
}

/// Over `maxmemory` as redis-server 7.0.15 answers: inside MULTI every command is refused
/// (queuing takes memory), an EXEC whose transaction holds a write is refused whole as
/// EXECABORT, and CLIENT NO-EVICT (client eviction) does not exempt a client from OOM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_maxmemory_transactions_and_no_evict_match_redis_server() {
    let transcript = |mut c: Raw, mut admin: Raw| async move {
        let mut log = Vec::new();
        for (who, args) in [
            (0, &["SET", "a", "1"][..]),
            (1, &["CONFIG", "SET", "maxmemory", "1"]),
            (0, &["MULTI"]),
            (0, &["GET", "x"]),
            (0, &["PING"]),
            (0, &["EXEC"]),
            (1, &["CONFIG", "SET", "maxmemory", "0"]),
            (0, &["MULTI"]),
            (0, &["SET", "x", "1"]),
            (0, &["GET", "x"]),
            (1, &["CONFIG", "SET", "maxmemory", "1"]),
            (0, &["EXEC"]),
            (0, &["CLIENT", "NO-EVICT", "on"]),
            (0, &["SET", "y", "1"]),
            (0, &["GET", "a"]),
            (1, &["CONFIG", "SET", "maxmemory", "0"]),
            (0, &["EXISTS", "x", "y"]),
        ] {
            let conn = if who == 0 { &mut c } else { &mut admin };
            log.push(conn.cmd(args).await);
        }
        log
    };
    let Some((ours, theirs)) = common::ours_and_theirs(transcript).await else {
        eprintln!("redis-server not installed: skipped");
        return;
    };
    assert_eq!(ours, theirs);
    assert!(theirs[11].starts_with("-EXECABORT Transaction discarded because of: OOM"));
}

/// TTL, TYPE and EXISTS leave a key's access time alone, GET does not (redis'
/// introspection-2.tcl; seen through OBJECT FREQ under LFU with a log factor of 0, where
/// every access counts).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_type_and_exists_do_not_touch_a_key() {
    let transcript = |mut c: Raw, _| async move {
        let mut log = Vec::new();
        for args in [
            &["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"][..],
            &["CONFIG", "SET", "lfu-log-factor", "0"],
            &["SET", "k", "v"],
            &["OBJECT", "FREQ", "k"],
            &["TTL", "k"],
            &["PTTL", "k"],
            &["EXPIRETIME", "k"],
            &["TYPE", "k"],
            &["EXISTS", "k"],
            &["OBJECT", "FREQ", "k"],
            &["GET", "k"],
            &["OBJECT", "FREQ", "k"],
        ] {
            log.push(c.cmd(args).await);
        }
        log
    };
    let Some((ours, theirs)) = common::ours_and_theirs(transcript).await else {
        eprintln!("redis-server not installed: skipped");
        return;
    };
    assert_eq!(ours, theirs);
    assert_eq!(theirs[3], theirs[9], "untouched");
    assert_ne!(theirs[9], theirs[11], "GET touches");
}

/// CLIENT NO-TOUCH (Valkey 7.2): the client's reads and writes leave a key's access time
/// alone, TOUCH still touches, and other clients are unaffected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_no_touch_leaves_access_times_alone() {
    let node = common::node(Flavor::Valkey, "7.2.6");
    let mut c = Raw::connect(&node).await;
    let mut other = Raw::connect(&node).await;
    for args in [
        &["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"][..],
        &["CONFIG", "SET", "lfu-log-factor", "0"],
        &["SET", "k", "v"],
        &["CLIENT", "NO-TOUCH", "on"],
    ] {
        assert_eq!(c.cmd(args).await, "+OK\r\n", "{args:?}");
    }
    let freq = |s: String| {
        s.trim_start_matches(':')
            .trim()
            .parse::<i64>()
            .expect("freq")
    };
    let start = freq(c.cmd(&["OBJECT", "FREQ", "k"]).await);
    c.cmd(&["GET", "k"]).await;
    c.cmd(&["APPEND", "k", "w"]).await;
    assert_eq!(
        freq(c.cmd(&["OBJECT", "FREQ", "k"]).await),
        start,
        "untouched"
    );
    c.cmd(&["TOUCH", "k"]).await;
    assert_eq!(
        freq(c.cmd(&["OBJECT", "FREQ", "k"]).await),
        start + 1,
        "TOUCH"
    );
    other.cmd(&["GET", "k"]).await;
    assert_eq!(
        freq(c.cmd(&["OBJECT", "FREQ", "k"]).await),
        start + 2,
        "others"
    );
    node.shutdown().await;
}

/// CONFIG SET maxmemory below the memory in use evicts at once, as redis-server does: a
/// subscriber hears `evicted` without another command being sent (pubsub.tcl); and the
/// event flags read back in redis-server's order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lowering_maxmemory_evicts_at_once_as_on_redis_server() {
    let transcript = |mut c: Raw, mut sub: Raw| async move {
        let mut log = Vec::new();
        for args in [
            &["CONFIG", "SET", "notify-keyspace-events", "Ee"][..],
            &["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"],
            &["SET", "foo", "bar"],
        ] {
            log.push(c.cmd(args).await);
        }
        log.push(sub.cmd(&["PSUBSCRIBE", "*"]).await);
        log.push(c.cmd(&["CONFIG", "SET", "maxmemory", "1"]).await);
        log.push(common::step_read(&mut sub).await);
        log.push(c.cmd(&["CONFIG", "SET", "maxmemory", "0"]).await);
        for flags in ["Km", "Kgn", "AKn", "Etd"] {
            c.cmd(&["CONFIG", "SET", "notify-keyspace-events", flags])
                .await;
            log.push(c.cmd(&["CONFIG", "GET", "notify-keyspace-events"]).await);
        }
        log
    };
    let Some((ours, theirs)) = common::ours_and_theirs(transcript).await else {
        eprintln!("redis-server not installed: skipped");
        return;
    };
    assert_eq!(ours, theirs);
    assert!(theirs[5].contains("evicted"), "{theirs:?}");
}

/// INFO's `lazyfreed_objects` once nothing is pending.
async fn lazyfreed(c: &mut Raw) -> String {
    for _ in 0..100 {
        let info = c.cmd(&["INFO", "memory"]).await;
        if info.contains("lazyfree_pending_objects:0\r\n") {
            return info
                .lines()
                .find(|l| l.starts_with("lazyfreed_objects:"))
                .unwrap_or_default()
                .to_string();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    "still pending".into()
}

/// UNLINK, FLUSHALL ASYNC and the `lazyfree-lazy-*` settings free large values in the
/// background and count them as redis-server does: a 100,000-member set is one object, a
/// small stream or a DEL is freed at once, a stream of many nodes with groups goes to the
/// background, an asynchronous flush counts its keys, and with their settings on a value a
/// write replaces, an expired one and an evicted one go too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lazy_free_counts_match_redis_server() {
    let transcript = |mut c: Raw, _: Raw| async move {
        let members: Vec<String> = (0..100_000).map(|i| i.to_string()).collect();
        let fill = |key: &'static str| {
            let mut cmd = vec!["SADD", key];
            cmd.extend(members.iter().map(String::as_str));
            cmd
        };
        let mut log = vec![c.cmd(&["CONFIG", "RESETSTAT"]).await];
        c.cmd(&fill("big")).await;
        log.push(c.cmd(&["DEL", "big"]).await);
        log.push(lazyfreed(&mut c).await);
        c.cmd(&fill("big")).await;
        log.push(c.cmd(&["UNLINK", "big"]).await);
        log.push(lazyfreed(&mut c).await);
        c.cmd(&["CONFIG", "SET", "lazyfree-lazy-user-del", "yes"])
            .await;
        c.cmd(&fill("big")).await;
        log.push(c.cmd(&["DEL", "big"]).await);
        log.push(lazyfreed(&mut c).await);
        c.cmd(&["CONFIG", "SET", "lazyfree-lazy-user-del", "no"])
            .await;
        c.cmd(&["XADD", "s", "*", "a", "b"]).await;
        log.push(c.cmd(&["UNLINK", "s"]).await);
        log.push(lazyfreed(&mut c).await);
        c.cmd(&["CONFIG", "SET", "stream-node-max-entries", "5"])
            .await;
        for i in 0..1000 {
            c.cmd(&["XADD", "s", "*", "foo", &i.to_string()]).await;
        }
        c.cmd(&["XGROUP", "CREATE", "s", "g", "0"]).await;
        c.cmd(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "Alice",
            "COUNT",
            "2",
            "STREAMS",
            "s",
            ">",
        ])
        .await;
        log.push(c.cmd(&["UNLINK", "s"]).await);
        log.push(lazyfreed(&mut c).await);
        for i in 0..10 {
            c.cmd(&["SET", &format!("k{i}"), "v"]).await;
        }
        log.push(c.cmd(&["FLUSHALL", "ASYNC"]).await);
        log.push(lazyfreed(&mut c).await);
        // A value a write replaces, and an expired one, with their settings on.
        c.cmd(&["CONFIG", "SET", "lazyfree-lazy-server-del", "yes"])
            .await;
        c.cmd(&fill("big")).await;
        log.push(c.cmd(&["SET", "big", "v"]).await);
        log.push(lazyfreed(&mut c).await);
        c.cmd(&["CONFIG", "SET", "lazyfree-lazy-expire", "yes"])
            .await;
        c.cmd(&fill("big2")).await;
        c.cmd(&["PEXPIRE", "big2", "1"]).await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        log.push(c.cmd(&["EXISTS", "big2"]).await);
        log.push(lazyfreed(&mut c).await);
        c.cmd(&["FLUSHALL", "SYNC"]).await;
        c.cmd(&fill("big3")).await;
        c.cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"])
            .await;
        c.cmd(&["CONFIG", "SET", "lazyfree-lazy-eviction", "yes"])
            .await;
        c.cmd(&["CONFIG", "SET", "maxmemory", "1"]).await;
        log.push(c.cmd(&["DBSIZE"]).await);
        log.push(lazyfreed(&mut c).await);
        c.cmd(&["CONFIG", "SET", "maxmemory", "0"]).await;
        log
    };
    let Some((ours, theirs)) = common::ours_and_theirs(transcript).await else {
        eprintln!("redis-server not installed: skipped");
        return;
    };
    common::assert_same_steps("lazy free", &ours, &theirs);
    assert_eq!(theirs[12], "lazyfreed_objects:13");
    assert_eq!(theirs[16], "lazyfreed_objects:15");
    assert_eq!(theirs[18], "lazyfreed_objects:16");
}
