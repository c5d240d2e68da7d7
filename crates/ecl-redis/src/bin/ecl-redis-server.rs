//! Development server: one Redis-compatible node on a TCP port, for compatibility scripts and
//! benchmarks (`redis-benchmark`, `redis-cli`). Not used by elasticache-local itself.
//!
//! Usage: `ecl-redis-server [--port 6379] [--bind 127.0.0.1] [--version 7.1.0] [--valkey]
//! [--maxmemory 100mb] [--maxmemory-policy allkeys-lru] [--requirepass pw] [--cluster]
//! [--dir PATH] [--<parameter> <value> ...]`
//!
//! `--dir` gives the node a data directory (SAVE/BGSAVE files, `--appendonly yes`'s AOF);
//! without it nothing is written to disk. `--cluster` starts a one-shard cluster whose only
//! node owns all 16384 slots, so keyed commands go through cluster routing as on a real
//! cluster-mode node.

#![forbid(unsafe_code)]

use ecl_redis::{ClusterNodeInfo, ClusterShard, ClusterTopology, Flavor, RedisConfig, RedisNode};
use std::net::SocketAddr;

fn usage() -> ! {
    eprintln!(
        "usage: ecl-redis-server [--port N] [--bind IP] [--version X.Y.Z] [--valkey] [--maxmemory SIZE] \
         [--maxmemory-policy P] [--requirepass PW] [--cluster] [--dir PATH] [--<redis-parameter> VALUE ...]"
    );
    std::process::exit(2)
}

fn main() {
    tracing_subscriber_init();
    let mut cfg = RedisConfig::for_tests();
    let mut port: u16 = 6379;
    let mut ip = "127.0.0.1".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--port" => port = val().parse().unwrap_or_else(|_| usage()),
            "--bind" => ip = val(),
            "--version" => cfg.engine_version = val(),
            "--valkey" => {
                cfg.flavor = Flavor::Valkey;
                if cfg.engine_version == "7.1.0" {
                    cfg.engine_version = "8.0.1".to_string();
                }
            }
            "--maxmemory" => {
                let v = val();
                cfg.maxmemory = ecl_redis::memsize::parse_memory(&v).unwrap_or_else(|| usage());
            }
            // A CONFIG value, not the owner's AUTH token: like redis-server, the standalone
            // server lets clients change it with CONFIG SET.
            "--requirepass" => cfg.parameters.push(("requirepass".to_string(), val())),
            "--cluster" => cfg.cluster_enabled = true,
            "--dir" => cfg.data_dir = Some(val().into()),
            "-h" | "--help" => usage(),
            other if other.starts_with("--") => {
                let v = val();
                cfg.parameters
                    .push((other.trim_start_matches("--").to_string(), v));
            }
            _ => usage(),
        }
    }
    cfg.bind = match format!("{ip}:{port}").parse::<SocketAddr>() {
        Ok(a) => a,
        Err(_) => usage(),
    };
    // The node runs on a runtime of its own (ECL_THREADS workers, default 1, as the emulator's
    // nodes); this one only waits for the end.
    if let Some(threads) = std::env::var("ECL_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
    {
        cfg.threads = threads;
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start runtime: {e}");
            std::process::exit(1)
        }
    };
    let cluster = cfg.cluster_enabled;
    rt.block_on(async move {
        let node = match RedisNode::start(cfg) {
            Ok(n) => n,
            Err(e) => {
                eprintln!("cannot start node: {e}");
                std::process::exit(1)
            }
        };
        if cluster {
            node.set_cluster_topology(whole_cluster(&node));
        }
        eprintln!("ecl-redis-server listening on {}", node.local_addr());
        let _ = tokio::signal::ctrl_c().await;
        node.shutdown().await;
    });
}

/// A cluster of this node alone, serving every slot from its own address.
fn whole_cluster(node: &RedisNode) -> ClusterTopology {
    let addr = node.local_addr();
    let me = ClusterNodeInfo {
        node_id: node.node_id(),
        ip: addr.ip().to_string(),
        port: addr.port(),
        hostname: None,
    };
    ClusterTopology {
        shards: vec![ClusterShard {
            shard_id: ecl_redis::ids::random_hex40(),
            slots: vec![(0, 16383)],
            primary: me,
            replicas: Vec::new(),
        }],
    }
}

fn tracing_subscriber_init() {
    // The library logs through `tracing`; this binary has no subscriber dependency, so logs are
    // dropped unless a subscriber is added. Kept as a hook for local debugging.
}
