//! A primary and one replica linked in-process, for measuring replication overhead with
//! redis-benchmark side by side with redis-server + a `--replicaof` redis-server.
//!
//! `cargo run --release -p ecl-redis --example repl_pair -- <primary-port> [seconds]`
//! prints the replica's port and serves for `seconds` (default 60), then prints both offsets.

use ecl_redis::{RedisConfig, RedisNode};
use std::net::SocketAddr;
use std::time::Duration;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(17390);
    let secs: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(60);
    let mut cfg = RedisConfig::for_tests();
    cfg.bind = SocketAddr::from(([127, 0, 0, 1], port));
    let primary = RedisNode::start(cfg)?;
    let replica = RedisNode::start(RedisConfig::for_tests())?;
    replica.replicate_from(&primary, ("127.0.0.1".into(), port));
    println!(
        "primary {} replica {}",
        primary.local_addr(),
        replica.local_addr()
    );
    tokio::time::sleep(Duration::from_secs(secs)).await;
    println!(
        "offsets primary {} replica {}",
        primary.replication_offset(),
        replica.replication_offset()
    );
    replica.shutdown().await;
    primary.shutdown().await;
    Ok(())
}
