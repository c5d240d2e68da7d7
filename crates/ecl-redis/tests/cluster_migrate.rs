//! Live slot migration with real nodes: two shards (primary + replica each) give half of one
//! shard's slots to a third, new shard while raw clients watch: the source serves keys it still
//! holds and answers `-ASK` for the others, the target serves the moving slots only after
//! `ASKING`, keys move in batches with their TTLs, replicas follow, and after the new slot map
//! the old owner answers `-MOVED`. No key is lost or duplicated.

mod common;
use common::{Raw, start_with};
use ecl_redis::cluster::{SlotMove, key_slot};
use ecl_redis::{ClusterNodeInfo, ClusterShard, ClusterTopology, RedisNode};

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

fn topology(p: &[RedisNode], r: &[RedisNode], slots: &[Vec<(u16, u16)>]) -> ClusterTopology {
    ClusterTopology {
        shards: (0..p.len())
            .map(|i| ClusterShard {
                shard_id: format!("{:040x}", i + 1),
                slots: slots[i].clone(),
                primary: info(&p[i]),
                replicas: vec![info(&r[i])],
            })
            .collect(),
    }
}

fn set_all(nodes: &[&RedisNode], t: &ClusterTopology) {
    for n in nodes {
        n.set_cluster_topology(t.clone());
    }
}

async fn dbsize(n: &RedisNode) -> usize {
    let mut c = Raw::connect(n).await;
    let r = c.cmd(&["DBSIZE"]).await;
    r.trim().trim_start_matches(':').parse().expect("DBSIZE")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slots_move_with_their_keys_ask_asking_and_moved() {
    let p: Vec<RedisNode> = (0..3).map(|_| cluster_node()).collect();
    let r: Vec<RedisNode> = (0..3).map(|_| cluster_node()).collect();
    for (pn, rn) in p.iter().zip(&r) {
        rn.replicate_from(pn, ("127.0.0.1".into(), pn.local_addr().port()));
    }
    let all: Vec<&RedisNode> = p.iter().chain(&r).collect();
    let before = topology(&p, &r, &[vec![(0, 8191)], vec![(8192, 16383)], Vec::new()]);
    set_all(&all, &before);
    // 2000 keys on their owners; the even ones with a TTL.
    let mut conns = [Raw::connect(&p[0]).await, Raw::connect(&p[1]).await];
    let mut moving = Vec::new();
    for i in 0..2000u32 {
        let k = format!("key:{i}");
        let slot = key_slot(k.as_bytes());
        let c = &mut conns[usize::from(slot >= 8192)];
        let reply = if i.is_multiple_of(2) {
            c.cmd(&["SET", &k, &i.to_string(), "EX", "1000"]).await
        } else {
            c.cmd(&["SET", &k, &i.to_string()]).await
        };
        assert_eq!(reply, "+OK\r\n");
        if (4096..=8191).contains(&slot) {
            moving.push((k, slot));
        }
    }
    assert!(moving.len() > 300);
    let moves = vec![SlotMove {
        slots: vec![(4096, 8191)],
        source: 0,
        target: 2,
    }];
    for n in &all {
        n.set_slot_moves(moves.clone());
    }
    let (k0, s0) = moving[0].clone();
    let target = format!("127.0.0.1:{}", p[2].local_addr().port());
    let source = format!("127.0.0.1:{}", p[0].local_addr().port());
    let mut src = Raw::connect(&p[0]).await;
    let mut dst = Raw::connect(&p[2]).await;
    // Before any key moved: the source serves what it holds and sends new keys to the target.
    assert!(src.cmd(&["GET", &k0]).await.starts_with('$'));
    let newkey = (0..)
        .map(|i| format!("new:{i}"))
        .find(|k| (4096..=8191).contains(&key_slot(k.as_bytes())))
        .unwrap_or_default();
    let ns = key_slot(newkey.as_bytes());
    assert_eq!(
        src.cmd(&["SET", &newkey, "v"]).await,
        format!("-ASK {ns} {target}\r\n")
    );
    assert_eq!(
        dst.cmd(&["SET", &newkey, "v"]).await,
        format!("-MOVED {ns} {source}\r\n")
    );
    assert_eq!(dst.cmd(&["ASKING"]).await, "+OK\r\n");
    assert_eq!(dst.cmd(&["SET", &newkey, "v"]).await, "+OK\r\n");
    // ASKING holds for one command only.
    assert!(dst.cmd(&["GET", &newkey]).await.starts_with("-MOVED"));
    let nodes = src.cmd(&["CLUSTER", "NODES"]).await;
    assert!(nodes.contains(&format!("[4096->-{}]", p[2].node_id())));
    let nodes = dst.cmd(&["CLUSTER", "NODES"]).await;
    assert!(nodes.contains(&format!("[8191-<-{}]", p[0].node_id())));
    // Move every key, in small batches.
    let (mut cursor, mut moved, mut steps) = (0u64, 0usize, 0);
    loop {
        let step = p[0].migrate_keys(&p[2], &[(4096, 8191)], cursor, 16).await;
        moved += step.moved;
        cursor = step.cursor;
        steps += 1;
        if cursor == 0 {
            break;
        }
    }
    assert_eq!(moved, moving.len());
    assert!(steps > 1);
    assert_eq!(
        p[0].migrate_keys(&p[2], &[(4096, 8191)], 0, 100_000)
            .await
            .moved,
        0
    );
    // Moved keys: ASK from the source, served with ASKING on the target, TTL kept.
    assert_eq!(
        src.cmd(&["GET", &k0]).await,
        format!("-ASK {s0} {target}\r\n")
    );
    dst.cmd(&["ASKING"]).await;
    let idx: usize = k0.trim_start_matches("key:").parse().unwrap_or(0);
    assert_eq!(
        dst.cmd(&["GET", &k0]).await,
        format!("${}\r\n{idx}\r\n", idx.to_string().len())
    );
    // The new slot map: the old owner redirects for good.
    let after = topology(
        &p,
        &r,
        &[vec![(0, 4095)], vec![(8192, 16383)], vec![(4096, 8191)]],
    );
    set_all(&all, &after);
    assert_eq!(
        src.cmd(&["GET", &k0]).await,
        format!("-MOVED {s0} {target}\r\n")
    );
    for (k, _) in &moving {
        let i: usize = k.trim_start_matches("key:").parse().unwrap_or(0);
        let ttl = dst.cmd(&["TTL", k]).await;
        let ttl: i64 = ttl.trim().trim_start_matches(':').parse().unwrap_or(-3);
        if i.is_multiple_of(2) {
            assert!((990..=1000).contains(&ttl), "{k} ttl {ttl}");
        } else {
            assert_eq!(ttl, -1, "{k}");
        }
    }
    assert!(!dst.cmd(&["CLUSTER", "NODES"]).await.contains("-<-"));
    // Every key in exactly one place, and the replicas agree with their primaries.
    for n in [&p[0], &p[2]] {
        let mut c = Raw::connect(n).await;
        assert_eq!(c.cmd(&["WAIT", "1", "2000"]).await, ":1\r\n");
    }
    let sizes = [
        dbsize(&p[0]).await,
        dbsize(&p[1]).await,
        dbsize(&p[2]).await,
    ];
    assert_eq!(sizes.iter().sum::<usize>(), 2001);
    assert_eq!(sizes[2], moving.len() + 1);
    for i in 0..3 {
        assert_eq!(dbsize(&r[i]).await, sizes[i], "replica of shard {i}");
    }
    let mut rc = Raw::connect(&r[2]).await;
    rc.cmd(&["READONLY"]).await;
    let even = moving
        .iter()
        .map(|(k, _)| k)
        .find(|k| {
            k.trim_start_matches("key:")
                .parse::<usize>()
                .unwrap_or(1)
                .is_multiple_of(2)
        })
        .expect("an even key moved");
    let ttl = rc.cmd(&["PTTL", even]).await;
    assert!(ttl.starts_with(':') && !ttl.starts_with(":-"), "{ttl}");
}
