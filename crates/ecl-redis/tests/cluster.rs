//! Cluster mode with real nodes: a 3-shard topology (primary + replica each) driven by the
//! `redis` crate's cluster client, MOVED / CROSSSLOT / hash tags / READONLY on replicas, and
//! the exact CLUSTER SLOTS / SHARDS / NODES / INFO replies for a known topology.

mod common;
use common::{Raw, start_with};
use ecl_redis::{ClusterNodeInfo, ClusterShard, ClusterTopology, RedisNode};
use redis::AsyncCommands;

fn cluster_node() -> RedisNode {
    start_with(|c| c.cluster_enabled = true)
}

fn info(n: &RedisNode) -> ClusterNodeInfo {
    ClusterNodeInfo {
        node_id: n.node_id(),
        ip: "127.0.0.1".into(),
        port: n.local_addr().port(),
        hostname: None,
    }
}

/// Three shards with the ElastiCache default split, each a primary and one replica.
fn three_shards() -> (Vec<RedisNode>, Vec<RedisNode>, ClusterTopology) {
    let primaries: Vec<RedisNode> = (0..3).map(|_| cluster_node()).collect();
    let replicas: Vec<RedisNode> = (0..3).map(|_| cluster_node()).collect();
    let ranges = [(0u16, 5461u16), (5462, 10922), (10923, 16383)];
    let shards = (0..3)
        .map(|i| ClusterShard {
            shard_id: format!("{:040x}", i + 1),
            slots: vec![ranges[i]],
            primary: info(&primaries[i]),
            replicas: vec![info(&replicas[i])],
        })
        .collect();
    let topo = ClusterTopology { shards };
    for (p, r) in primaries.iter().zip(&replicas) {
        r.replicate_from(p, ("127.0.0.1".into(), p.local_addr().port()));
    }
    for n in primaries.iter().chain(&replicas) {
        n.set_cluster_topology(topo.clone());
    }
    (primaries, replicas, topo)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_client_writes_and_replica_reads() {
    let (primaries, replicas, _) = three_shards();
    let urls: Vec<String> = primaries
        .iter()
        .map(|n| format!("redis://{}/", n.local_addr()))
        .collect();
    let client = redis::cluster::ClusterClient::new(urls.clone()).unwrap();
    let mut con = client.get_async_connection().await.unwrap();
    for i in 0..10_000 {
        let _: () = con.set(format!("key:{i}"), i).await.unwrap();
    }
    // Every shard got a share, and each replica holds exactly its primary's keys.
    let mut total = 0;
    for (p, r) in primaries.iter().zip(&replicas) {
        let mut pc = common::client(p).await;
        let acked: i64 = redis::cmd("WAIT")
            .arg(1)
            .arg(0)
            .query_async(&mut pc)
            .await
            .unwrap();
        assert_eq!(acked, 1);
        let pn: i64 = redis::cmd("DBSIZE").query_async(&mut pc).await.unwrap();
        let mut rc = common::client(r).await;
        let rn: i64 = redis::cmd("DBSIZE").query_async(&mut rc).await.unwrap();
        assert!(pn > 2_000, "shard holds {pn}");
        assert_eq!(pn, rn);
        total += pn;
    }
    assert_eq!(total, 10_000);
    // Read everything back through the replicas (the client sends READONLY to them).
    let client = redis::cluster::ClusterClient::builder(urls)
        .read_routing_strategy(redis::cluster_read_routing::RandomReplicaStrategy)
        .build()
        .unwrap();
    let mut con = client.get_async_connection().await.unwrap();
    for i in (0..10_000).step_by(7) {
        let v: i64 = con.get(format!("key:{i}")).await.unwrap();
        assert_eq!(v, i);
    }
    // And explicitly: a replica with READONLY serves every key of its shard.
    let mut rc = common::client(&replicas[1]).await;
    let _: () = redis::cmd("READONLY").query_async(&mut rc).await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut rc)
        .await
        .unwrap();
    assert!(!keys.is_empty());
    for k in keys.iter().take(500) {
        let v: i64 = rc.get(k).await.unwrap();
        assert_eq!(format!("key:{v}"), *k);
    }
    for n in primaries.into_iter().chain(replicas) {
        n.shutdown().await;
    }
}

/// A key whose slot is in `range`.
fn key_in(range: (u16, u16), prefix: &str) -> (String, u16) {
    (0..100_000)
        .map(|i| format!("{prefix}{i}"))
        .map(|k| {
            let slot = slot_of(&k);
            (k, slot)
        })
        .find(|(_, s)| (range.0..=range.1).contains(s))
        .expect("some key hashes into every range")
}

/// CRC16/XMODEM of the hash tag, computed independently of the engine.
fn slot_of(key: &str) -> u16 {
    let b = key.as_bytes();
    let tag = match b.iter().position(|&c| c == b'{') {
        Some(o) => match b[o + 1..].iter().position(|&c| c == b'}') {
            Some(l) if l > 0 => &b[o + 1..o + 1 + l],
            _ => b,
        },
        None => b,
    };
    let mut crc: u16 = 0;
    for &byte in tag {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc % 16384
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moved_crossslot_hash_tags_and_readonly() {
    let (primaries, replicas, topo) = three_shards();
    let mut c = Raw::connect(&primaries[0]).await;
    let (mine, _) = key_in(topo.shards[0].slots[0], "k");
    let (other, other_slot) = key_in(topo.shards[1].slots[0], "k");
    let p1 = primaries[1].local_addr().port();
    assert_eq!(c.cmd(&["SET", &mine, "1"]).await, "+OK\r\n");
    assert_eq!(
        c.cmd(&["GET", &other]).await,
        format!("-MOVED {other_slot} 127.0.0.1:{p1}\r\n")
    );
    assert_eq!(
        c.cmd(&["MSET", &mine, "1", &other, "2"]).await,
        "-CROSSSLOT Keys in request don't hash to the same slot\r\n"
    );
    // Hash tags put different keys in one slot.
    let (tag, _) = key_in(topo.shards[0].slots[0], "tag");
    let (a, b) = (format!("{{{tag}}}:a"), format!("x{{{tag}}}:b"));
    assert_eq!(c.cmd(&["MSET", &a, "1", &b, "2"]).await, "+OK\r\n");
    assert_eq!(
        c.cmd(&["CLUSTER", "KEYSLOT", &a]).await,
        format!(":{}\r\n", slot_of(&tag))
    );
    assert_eq!(
        c.cmd(&["CLUSTER", "KEYSLOT", "somekey"]).await,
        ":11058\r\n"
    );
    assert_eq!(
        c.cmd(&["SELECT", "1"]).await,
        "-ERR SELECT is not allowed in cluster mode\r\n"
    );
    assert_eq!(c.cmd(&["SELECT", "0"]).await, "+OK\r\n");
    // MULTI: a redirection is reported at queueing time and aborts EXEC.
    assert_eq!(c.cmd(&["MULTI"]).await, "+OK\r\n");
    assert!(c.cmd(&["GET", &other]).await.starts_with("-MOVED"));
    assert!(c.cmd(&["EXEC"]).await.starts_with("-EXECABORT"));
    let mut pc = common::client(&primaries[0]).await;
    let acked: i64 = redis::cmd("WAIT")
        .arg(1)
        .arg(0)
        .query_async(&mut pc)
        .await
        .unwrap();
    assert_eq!(acked, 1);

    // The replica redirects until READONLY, and always for writes.
    let p0 = primaries[0].local_addr().port();
    let mine_slot = slot_of(&mine);
    let mut r = Raw::connect(&replicas[0]).await;
    let moved = format!("-MOVED {mine_slot} 127.0.0.1:{p0}\r\n");
    assert_eq!(r.cmd(&["GET", &mine]).await, moved);
    assert_eq!(r.cmd(&["READONLY"]).await, "+OK\r\n");
    assert_eq!(r.cmd(&["GET", &mine]).await, "$1\r\n1\r\n");
    assert_eq!(r.cmd(&["SET", &mine, "2"]).await, moved);
    assert_eq!(
        r.cmd(&["GET", &other]).await,
        format!("-MOVED {other_slot} 127.0.0.1:{p1}\r\n")
    );
    assert_eq!(r.cmd(&["READWRITE"]).await, "+OK\r\n");
    assert_eq!(r.cmd(&["GET", &mine]).await, moved);

    // Keys per slot.
    let tag_slot = slot_of(&tag).to_string();
    assert_eq!(
        c.cmd(&["CLUSTER", "COUNTKEYSINSLOT", &tag_slot]).await,
        ":2\r\n"
    );
    let got = c.cmd(&["CLUSTER", "GETKEYSINSLOT", &tag_slot, "10"]).await;
    assert!(
        got.starts_with("*2\r\n") && got.contains(&a) && got.contains(&b),
        "{got}"
    );
    assert_eq!(
        c.cmd(&["CLUSTER", "COUNTKEYSINSLOT", "16384"]).await,
        "-ERR Invalid slot\r\n"
    );
    let info: String = redis::cmd("INFO")
        .arg("cluster")
        .query_async(&mut pc)
        .await
        .unwrap();
    assert!(info.contains("cluster_enabled:1\r\n"));
    for n in primaries.into_iter().chain(replicas) {
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_slots_shards_nodes_formats() {
    // Redis 7.2 (CLUSTER MYSHARDID arrived in 7.2).
    let me = start_with(|c| {
        c.cluster_enabled = true;
        c.engine_version = "7.2.4".into();
    });
    let id = me.node_id();
    assert_eq!(id.len(), 40);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    let replica_id = "b".repeat(40);
    let peer_id = "c".repeat(40);
    let topo = ClusterTopology {
        shards: vec![
            ClusterShard {
                shard_id: "1".repeat(40),
                slots: vec![(0, 8191)],
                primary: ClusterNodeInfo {
                    node_id: id.clone(),
                    ip: "10.0.0.1".into(),
                    port: 6379,
                    hostname: None,
                },
                replicas: vec![ClusterNodeInfo {
                    node_id: replica_id.clone(),
                    ip: "10.0.0.2".into(),
                    port: 6379,
                    hostname: Some("r1.example".into()),
                }],
            },
            ClusterShard {
                shard_id: "2".repeat(40),
                slots: vec![(8192, 16383)],
                primary: ClusterNodeInfo {
                    node_id: peer_id.clone(),
                    ip: "10.0.0.3".into(),
                    port: 6380,
                    hostname: None,
                },
                replicas: vec![],
            },
        ],
    };
    me.set_cluster_topology(topo);
    let mut c = Raw::connect(&me).await;
    assert_eq!(
        c.cmd(&["CLUSTER", "SLOTS"]).await,
        format!(
            "*2\r\n\
             *4\r\n:0\r\n:8191\r\n*4\r\n$8\r\n10.0.0.1\r\n:6379\r\n$40\r\n{id}\r\n*0\r\n\
             *4\r\n$8\r\n10.0.0.2\r\n:6379\r\n$40\r\n{replica_id}\r\n*2\r\n$8\r\nhostname\r\n$10\r\nr1.example\r\n\
             *3\r\n:8192\r\n:16383\r\n*4\r\n$8\r\n10.0.0.3\r\n:6380\r\n$40\r\n{peer_id}\r\n*0\r\n"
        )
    );
    assert_eq!(
        c.cmd(&["CLUSTER", "MYID"]).await,
        format!("$40\r\n{id}\r\n")
    );
    assert_eq!(
        c.cmd(&["CLUSTER", "MYSHARDID"]).await,
        format!("$40\r\n{}\r\n", "1".repeat(40))
    );

    let mut con = common::client(&me).await;
    let nodes: String = redis::cmd("CLUSTER")
        .arg("NODES")
        .query_async(&mut con)
        .await
        .unwrap();
    let lines: Vec<&str> = nodes.lines().collect();
    assert_eq!(lines.len(), 3, "{nodes}");
    assert_eq!(
        lines[0],
        format!("{id} 10.0.0.1:6379@16379 myself,master - 0 0 1 connected 0-8191")
    );
    let f: Vec<&str> = lines[1].split(' ').collect();
    assert_eq!(
        (f[0], f[1], f[2], f[3], f[6], f[7]),
        (
            replica_id.as_str(),
            "10.0.0.2:6379@16379,r1.example",
            "slave",
            id.as_str(),
            "1",
            "connected"
        )
    );
    assert_eq!(f.len(), 8);
    let f: Vec<&str> = lines[2].split(' ').collect();
    assert_eq!(
        (f[0], f[1], f[2], f[3], f[8]),
        (
            peer_id.as_str(),
            "10.0.0.3:6380@16380",
            "master",
            "-",
            "8192-16383"
        )
    );

    let info: String = redis::cmd("CLUSTER")
        .arg("INFO")
        .query_async(&mut con)
        .await
        .unwrap();
    for line in [
        "cluster_state:ok",
        "cluster_slots_assigned:16384",
        "cluster_known_nodes:3",
        "cluster_size:2",
        "cluster_my_epoch:1",
    ] {
        assert!(info.contains(&format!("{line}\r\n")), "{line} in {info}");
    }

    // CLUSTER SHARDS: maps with the documented fields, in RESP3 to see the map types.
    assert!(c.cmd(&["HELLO", "3"]).await.starts_with('%'));
    let shards = c.cmd(&["CLUSTER", "SHARDS"]).await;
    assert!(
        shards.starts_with(
            "*2\r\n%2\r\n$5\r\nslots\r\n*2\r\n:0\r\n:8191\r\n$5\r\nnodes\r\n*2\r\n%7\r\n$2\r\nid\r\n"
        ),
        "{shards}"
    );
    for frag in [
        "$4\r\nport\r\n:6379\r\n$2\r\nip\r\n$8\r\n10.0.0.1\r\n$8\r\nendpoint\r\n$8\r\n10.0.0.1\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$18\r\nreplication-offset\r\n:",
        "%8\r\n$2\r\nid\r\n",
        "$8\r\nhostname\r\n$10\r\nr1.example\r\n$4\r\nrole\r\n$7\r\nreplica\r\n",
        "$6\r\nhealth\r\n$6\r\nonline\r\n",
    ] {
        assert!(shards.contains(frag), "{frag:?} in {shards:?}");
    }
    let replicas = c.cmd(&["CLUSTER", "REPLICAS", &id]).await;
    assert!(
        replicas.starts_with("*1\r\n=") && replicas.contains(&replica_id),
        "{replicas}"
    );
    assert_eq!(
        c.cmd(&["CLUSTER", "REPLICAS", &replica_id]).await,
        "-ERR The specified node is not a master\r\n"
    );
    let links = c.cmd(&["CLUSTER", "LINKS"]).await;
    assert!(
        links.starts_with("*4\r\n%6\r\n$9\r\ndirection\r\n$2\r\nto\r\n"),
        "{links}"
    );

    // Slots of the other shard are redirected to its announced address.
    let (k, slot) = key_in((8192, 16383), "x");
    assert_eq!(
        c.cmd(&["GET", &k]).await,
        format!("-MOVED {slot} 10.0.0.3:6380\r\n")
    );
    me.shutdown().await;

    // Without cluster mode the family is refused.
    let plain = common::start();
    let mut c = Raw::connect(&plain).await;
    assert_eq!(
        c.cmd(&["CLUSTER", "INFO"]).await,
        "-ERR This instance has cluster support disabled\r\n"
    );
    assert_eq!(
        c.cmd(&["READONLY"]).await,
        "-ERR This instance has cluster support disabled\r\n"
    );
    plain.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topology_replacement_moves_slots() {
    let a = cluster_node();
    let b = cluster_node();
    let whole = |n: &RedisNode| ClusterShard {
        shard_id: "a".repeat(40),
        slots: vec![(0, 16383)],
        primary: info(n),
        replicas: vec![],
    };
    a.set_cluster_topology(ClusterTopology {
        shards: vec![whole(&a)],
    });
    let mut c = Raw::connect(&a).await;
    assert_eq!(c.cmd(&["SET", "somekey", "1"]).await, "+OK\r\n");
    // Slot 11058 (somekey) now belongs to b; slots outside any shard are not served.
    let mut sa = whole(&a);
    sa.slots = vec![(0, 9999)];
    let mut sb = whole(&b);
    sb.shard_id = "b".repeat(40);
    sb.slots = vec![(10000, 16000)];
    a.set_cluster_topology(ClusterTopology {
        shards: vec![sa, sb],
    });
    let pb = b.local_addr().port();
    assert_eq!(
        c.cmd(&["GET", "somekey"]).await,
        format!("-MOVED 11058 127.0.0.1:{pb}\r\n")
    );
    let (k, _) = key_in((16001, 16383), "z");
    assert_eq!(
        c.cmd(&["GET", &k]).await,
        "-CLUSTERDOWN Hash slot not served\r\n"
    );
    let info = c.cmd(&["CLUSTER", "INFO"]).await;
    assert!(info.contains("cluster_state:fail\r\n"), "{info}");
    assert!(info.contains("cluster_slots_assigned:16001\r\n"), "{info}");
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_crosses_the_cluster_and_spublish_its_shard() {
    let (primaries, replicas, topo) = three_shards();
    // A classic subscriber on another shard's primary sees PUBLISH sent to shard 0.
    let mut sub = Raw::connect(&primaries[2]).await;
    assert!(
        sub.cmd(&["SUBSCRIBE", "news"])
            .await
            .starts_with("*3\r\n$9\r\nsubscribe")
    );
    let mut c = Raw::connect(&primaries[0]).await;
    assert_eq!(c.cmd(&["PUBLISH", "news", "hi"]).await, ":0\r\n");
    assert_eq!(
        sub.read().await,
        "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
    );
    // A sharded subscriber on the replica of the channel's shard sees SPUBLISH.
    let (ch, _) = key_in(topo.shards[1].slots[0], "ch");
    let mut ssub = Raw::connect(&replicas[1]).await;
    assert_eq!(
        ssub.cmd(&["SSUBSCRIBE", &ch]).await,
        format!("*3\r\n$10\r\nssubscribe\r\n${}\r\n{ch}\r\n:1\r\n", ch.len())
    );
    let mut c1 = Raw::connect(&primaries[1]).await;
    assert_eq!(c1.cmd(&["SPUBLISH", &ch, "x"]).await, ":0\r\n");
    assert_eq!(
        ssub.read().await,
        format!(
            "*3\r\n$8\r\nsmessage\r\n${}\r\n{ch}\r\n$1\r\nx\r\n",
            ch.len()
        )
    );
    // SPUBLISH to another shard's node is redirected.
    assert!(c.cmd(&["SPUBLISH", &ch, "x"]).await.starts_with("-MOVED"));
    for n in primaries.into_iter().chain(replicas) {
        n.shutdown().await;
    }
}

/// CLUSTER HELP exists (it answered "unknown subcommand"); on a cluster-disabled node it is
/// refused like every CLUSTER subcommand, with redis-server 7.0.15's error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_help() {
    let (primaries, _replicas, _) = three_shards();
    let mut c = Raw::connect(&primaries[0]).await;
    let help = c.cmd(&["CLUSTER", "HELP"]).await;
    assert!(
        help.starts_with("*") && help.contains("CLUSTER <subcommand>") && help.contains("KEYSLOT"),
        "{help}"
    );
    let plain = start_with(|_| {});
    let mut p = Raw::connect(&plain).await;
    assert_eq!(
        p.cmd(&["CLUSTER", "HELP"]).await,
        "-ERR This instance has cluster support disabled\r\n"
    );
}

/// SORT's BY and GET patterns in cluster mode: Redis 7.0 (and Valkey 7.2) refuse every one
/// (redis-server 7.0.15's replies, read from a one-node cluster); Valkey 8 accepts a pattern
/// whose hash tag puts every key it forms in the sorted key's slot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sort_patterns_in_cluster_mode() {
    for (flavor, version) in [
        (ecl_redis::Flavor::Redis, "7.0.15"),
        (ecl_redis::Flavor::Valkey, "8.0.1"),
    ] {
        let n = start_with(|c| {
            c.cluster_enabled = true;
            c.flavor = flavor;
            c.engine_version = version.into();
        });
        let shard = ClusterShard {
            shard_id: format!("{:040x}", 1),
            slots: vec![(0, 16383)],
            primary: info(&n),
            replicas: vec![],
        };
        n.set_cluster_topology(ClusterTopology {
            shards: vec![shard],
        });
        let mut c = Raw::connect(&n).await;
        assert_eq!(c.cmd(&["RPUSH", "{l}", "2", "1"]).await, ":2\r\n");
        assert_eq!(c.cmd(&["SET", "{l}w_1", "9"]).await, "+OK\r\n");
        assert_eq!(
            c.cmd(&["SORT", "{l}", "BY", "w"]).await,
            "*2\r\n$1\r\n2\r\n$1\r\n1\r\n"
        );
        let valkey8 = flavor == ecl_redis::Flavor::Valkey;
        let refused = |opt: &str| {
            if valkey8 {
                format!(
                    "-ERR {opt} option of SORT denied in Cluster mode when keys formed by the pattern may be in different slots.\r\n"
                )
            } else {
                format!("-ERR {opt} option of SORT denied in Cluster mode.\r\n")
            }
        };
        assert_eq!(c.cmd(&["SORT", "{l}", "BY", "w_*"]).await, refused("BY"));
        assert_eq!(c.cmd(&["SORT", "{l}", "GET", "#"]).await, refused("GET"));
        assert_eq!(
            c.cmd(&["SORT", "{l}", "GET", "w_*", "BY", "w_*"]).await,
            refused("GET")
        );
        let tagged = c
            .cmd(&["SORT", "{l}", "BY", "{l}w_*", "GET", "{l}w_*"])
            .await;
        if valkey8 {
            assert_eq!(tagged, "*2\r\n$-1\r\n$1\r\n9\r\n");
        } else {
            assert_eq!(tagged, refused("BY"));
        }
        n.shutdown().await;
    }
}
