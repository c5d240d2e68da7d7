//! INFO lists the fields of the node's release: a Redis 7.0 node has redis-server 7.0.15's
//! fields in each section, in its order (compared with Debian's redis-server 7.0.15 where it
//! is installed), and the fields Redis 7.2 added (`pubsub_clients`, `watching_clients`,
//! `total_watched_keys`, `total_blocking_keys*`, `acl_access_denied_*`) appear from
//! ElastiCache's 7.1 and on Valkey only. The emulator's own `ecl_*` fields are left out of the
//! comparison (README lists them).

mod common;

use common::{Raw, ReferenceRedis, node};
use ecl_redis::Flavor;

/// Sections whose field names do not depend on what ran before (commandstats, errorstats,
/// latencystats and keyspace list what was used).
const FIXED_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "cluster",
];

const LATER_FIELDS: &[&str] = &[
    "pubsub_clients",
    "watching_clients",
    "total_watched_keys",
    "total_blocking_keys",
    "total_blocking_keys_on_nokey",
    "acl_access_denied_auth",
    "acl_access_denied_cmd",
    "acl_access_denied_key",
    "acl_access_denied_channel",
];

/// The field names of one INFO section, in order, without the emulator's own.
async fn field_names(c: &mut Raw, section: &str) -> Vec<String> {
    c.cmd(&["INFO", section])
        .await
        .lines()
        .filter(|l| !l.starts_with('$') && !l.starts_with('#') && l.contains(':'))
        .filter_map(|l| l.split(':').next())
        .filter(|name| !name.starts_with("ecl_"))
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_7_0_node_lists_redis_server_7_0s_fields() {
    let ours_node = node(Flavor::Redis, "7.0.15");
    let mut ours = Raw::connect(&ours_node).await;
    for section in FIXED_SECTIONS {
        let names = field_names(&mut ours, section).await;
        for later in LATER_FIELDS {
            assert!(!names.iter().any(|n| n == later), "{later} in {section}");
        }
    }
    let Some(reference) = ReferenceRedis::start(&[]) else {
        eprintln!("redis-server not installed: compared with the list of later fields only");
        return;
    };
    let mut theirs = reference.connect().await;
    for section in FIXED_SECTIONS {
        assert_eq!(
            field_names(&mut ours, section).await,
            field_names(&mut theirs, section).await,
            "INFO {section}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn later_releases_list_the_fields_redis_7_2_added() {
    for (flavor, version) in [
        (Flavor::Redis, "7.1.0"),
        (Flavor::Valkey, "7.2.6"),
        (Flavor::Valkey, "8.0.1"),
    ] {
        let n = node(flavor, version);
        let mut c = Raw::connect(&n).await;
        let mut names = field_names(&mut c, "clients").await;
        names.extend(field_names(&mut c, "stats").await);
        for later in LATER_FIELDS {
            assert!(names.iter().any(|n| n == later), "{later} on {version}");
        }
        // Counted, not printed as constants: a denied AUTH shows.
        c.cmd(&["AUTH", "nosuchuser", "pw"]).await;
        let stats = c.cmd(&["INFO", "stats"]).await;
        assert!(stats.contains("acl_access_denied_auth:1\r\n"), "{stats}");
    }
}

/// `total_net_input_bytes`, `total_reads_processed` and `total_writes_processed` count what
/// the sockets did as redis-server counts it: input when it is read (an INFO sees its own
/// request), every read (the one that finds the connection closed too) and every write; CONFIG
/// RESETSTAT zeroes them and `total_connections_received`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_counters_match_redis_server() {
    /// The same three connections on both servers: `warm` zeroes the counters (the reference
    /// server's start-up probe connections counted reads), then closes.
    async fn counters(mut conns: Vec<Raw>) -> Vec<String> {
        let (mut second, mut first, mut warm) = match (conns.pop(), conns.pop(), conns.pop()) {
            (Some(a), Some(b), Some(c)) => (a, b, c),
            _ => panic!("three connections"),
        };
        // All three registered first (a node takes a new connection on its own task, so a
        // count right after connect() may not have it yet).
        for _ in 0..100 {
            if warm
                .cmd(&["INFO", "clients"])
                .await
                .contains("connected_clients:3\r\n")
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(warm.cmd(&["CONFIG", "RESETSTAT"]).await, "+OK\r\n");
        drop(warm);
        // Time for the server to see `warm` close (its last read) before the counts below.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert_eq!(first.cmd(&["SET", "k", "v"]).await, "+OK\r\n");
        assert_eq!(first.cmd(&["GET", "k"]).await, "$1\r\nv\r\n");
        // Another connection's INFO sees the first one's reads and writes at once.
        let mut seen = network_counters(&mut second).await;
        drop(first);
        // Time for the server to see the first connection close (one more read).
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        seen.extend(network_counters(&mut second).await);
        seen
    }
    async fn network_counters(c: &mut Raw) -> Vec<String> {
        c.cmd(&["INFO", "stats"])
            .await
            .lines()
            .filter(|l| {
                l.starts_with("total_net_input_bytes:")
                    || l.starts_with("total_connections_received:")
                    || l.starts_with("total_reads_processed:")
                    || l.starts_with("total_writes_processed:")
            })
            .map(str::to_string)
            .collect()
    }
    let Some(reference) = ReferenceRedis::start(&[]) else {
        eprintln!("skipped: redis-server is not installed");
        return;
    };
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], reference.port));
    let mut conns = vec![reference.connect().await];
    for _ in 0..2 {
        conns.push(Raw::connect_addr(addr).await);
    }
    let theirs = counters(conns).await;
    let ours_node = node(Flavor::Redis, "7.0.15");
    let mut conns = Vec::new();
    for _ in 0..3 {
        conns.push(Raw::connect(&ours_node).await);
    }
    let ours = counters(conns).await;
    assert_eq!(theirs.len(), 8, "{theirs:?}");
    assert_eq!(ours, theirs);
}

/// Expiring a key, in the background or on access, is not a change for
/// `rdb_changes_since_last_save`, as on redis-server (the writes before it are).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_keys_are_not_changes_as_on_redis_server() {
    async fn changes(mut c: Raw) -> Vec<String> {
        let mut seen = Vec::new();
        for cmd in [
            vec!["SET", "e", "1", "PX", "100"],
            vec!["SET", "f", "1", "PX", "100"],
            vec!["SET", "g", "1"],
        ] {
            c.cmd(&cmd).await;
        }
        // Both expire in the background, then one more expires when read.
        tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
        c.cmd(&["SET", "h", "1", "PX", "50"]).await;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        c.cmd(&["GET", "h"]).await;
        for (section, field) in [
            ("persistence", "rdb_changes_since_last_save:"),
            ("stats", "expired_keys:"),
        ] {
            let info = c.cmd(&["INFO", section]).await;
            seen.extend(
                info.lines()
                    .filter(|l| l.starts_with(field))
                    .map(str::to_string),
            );
        }
        seen
    }
    let Some(reference) = ReferenceRedis::start(&[]) else {
        eprintln!("skipped: redis-server is not installed");
        return;
    };
    let theirs = changes(reference.connect().await).await;
    let ours_node = node(Flavor::Redis, "7.0.15");
    let ours = changes(Raw::connect(&ours_node).await).await;
    assert_eq!(theirs, ["rdb_changes_since_last_save:4", "expired_keys:3"]);
    assert_eq!(ours, theirs);
}
