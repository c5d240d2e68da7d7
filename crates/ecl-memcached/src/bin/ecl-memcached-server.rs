//! Development server: runs one ecl-memcached node standalone, for the compatibility suite
//! and the benchmark (`--port`, `--memory` in MiB, `--threads`, `--max-item-size`,
//! `--version`). Not used by elasticache-local itself.

#![forbid(unsafe_code)]

use std::net::SocketAddr;

use ecl_memcached::{MemcachedConfig, MemcachedNode};

fn usage() -> ! {
    eprintln!(
        "usage: ecl-memcached-server [--listen IP] [--port N] [--memory MiB] [--threads N] [--max-item-size BYTES] [--version V] [-M] [-C]"
    );
    std::process::exit(2)
}

fn main() {
    let mut config = MemcachedConfig::for_tests();
    let mut ip = "127.0.0.1".to_string();
    let mut port: u16 = 11211;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--listen" => ip = value(),
            "--port" => port = value().parse().unwrap_or_else(|_| usage()),
            "--memory" => {
                config.memory_limit = value().parse::<u64>().unwrap_or_else(|_| usage()) << 20
            }
            "--threads" => config.threads = value().parse().unwrap_or_else(|_| usage()),
            "--max-item-size" => config.max_item_size = value().parse().unwrap_or_else(|_| usage()),
            "--version" => config.engine_version = value(),
            "-M" => config.error_on_memory_exhausted = true,
            "-C" => config.cas_disabled = true,
            _ => usage(),
        }
    }
    config.bind = format!("{ip}:{port}")
        .parse::<SocketAddr>()
        .unwrap_or_else(|_| usage());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.threads.max(1))
        .enable_all()
        .build();
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start runtime: {e}");
            std::process::exit(1)
        }
    };
    runtime.block_on(async move {
        let node = match MemcachedNode::start(config) {
            Ok(n) => n,
            Err(e) => {
                eprintln!("cannot listen: {e}");
                std::process::exit(1)
            }
        };
        // The scripts read this line to learn the port when --port 0 is used.
        eprintln!("listening on {}", node.local_addr());
        let _ = tokio::signal::ctrl_c().await;
        node.shutdown().await;
    });
}
