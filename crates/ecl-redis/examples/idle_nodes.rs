//! Measures what idle nodes cost: starts N nodes (default 1000) on a two-worker runtime, lets
//! them idle for a few seconds, and prints the process CPU time used meanwhile and its thread
//! count. Run with `cargo run --release -p ecl-redis --example idle_nodes [N] [seconds]`.

use ecl_redis::{RedisConfig, RedisNode};
use std::time::Duration;

fn cpu_seconds() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = s.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0) / 100.0;
    tick(11) + tick(12)
}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .unwrap_or(0)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let secs: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("runtime: {e}");
            return;
        }
    };
    rt.block_on(async move {
        let mut nodes = Vec::with_capacity(n);
        for _ in 0..n {
            match RedisNode::start(RedisConfig::for_tests()) {
                Ok(node) => nodes.push(node),
                Err(e) => {
                    eprintln!("start: {e}");
                    return;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before = cpu_seconds();
        tokio::time::sleep(Duration::from_secs(secs)).await;
        let used = cpu_seconds() - before;
        eprintln!(
            "{n} idle nodes: {:.1}% of one core over {secs}s, {} threads",
            used * 100.0 / secs as f64,
            threads()
        );
        for node in nodes {
            node.shutdown().await;
        }
    });
}
