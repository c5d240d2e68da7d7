//! Development server: runs one ecl-memcached node standalone, for the compatibility suites
//! and the benchmark. Takes its own long options (`--port`, `--memory` in MiB, `--threads`,
//! `--max-item-size`, `--version`) and memcached's flags for what a node has (`-p`, `-l`,
//! `-m`, `-t`, `-I` with a k/m suffix, `-c`, `-M`, `-C`, `-F`, `-o idle_timeout=N` and the
//! `-o` switches of the LRU crawler and maintainer: `[no_]lru_crawler`,
//! `[no_]lru_maintainer`, `[no_]modern`), so that
//! memcached's own test-suite can start it in place of memcached. Not used by
//! elasticache-local itself.

#![forbid(unsafe_code)]

use std::net::SocketAddr;

use ecl_memcached::{MemcachedConfig, MemcachedNode};

fn usage() -> ! {
    eprintln!(
        "usage: ecl-memcached-server [--listen|-l IP] [--port|-p N] [--memory|-m MiB] \
         [--threads|-t N] [--max-item-size BYTES | -I SIZE[k|m]] [-c CONNS] [--version V] \
         [-M] [-C] [-F] [-o idle_timeout=SECS,[no_]lru_crawler,[no_]lru_maintainer,[no_]modern]"
    );
    std::process::exit(2)
}

/// Refuses to start, as memcached does on a bad setting (its message goes to stderr).
fn refuse(why: &str) -> ! {
    eprintln!("{why}");
    std::process::exit(1)
}

/// memcached's `-I` value: bytes, or a number with a `k` or `m` suffix.
fn item_size(text: &str) -> usize {
    let (digits, unit) = match text.char_indices().last() {
        Some((i, 'k' | 'K')) => (&text[..i], 1 << 10),
        Some((i, 'm' | 'M')) => (&text[..i], 1 << 20),
        _ => (text, 1),
    };
    digits
        .parse::<usize>()
        .map(|n| n.saturating_mul(unit))
        .unwrap_or_else(|_| usage())
}

/// memcached's `-o` list: a node has `idle_timeout` and its background threads' switches
/// (`no_modern` turns off both the crawler and the maintainer, as in memcached); any other
/// option is refused by name.
fn extended_options(list: &str, config: &mut MemcachedConfig) {
    for option in list.split(',').filter(|o| !o.is_empty()) {
        match option.split_once('=') {
            Some(("idle_timeout", secs)) => {
                config.idle_timeout_secs = secs.parse().unwrap_or_else(|_| usage())
            }
            None if option == "no_modern" => {
                config.lru_crawler = false;
                config.lru_maintainer = false;
            }
            None if option == "modern" => {
                config.lru_crawler = true;
                config.lru_maintainer = true;
            }
            None if option == "lru_crawler" || option == "no_lru_crawler" => {
                config.lru_crawler = option == "lru_crawler";
            }
            None if option == "lru_maintainer" || option == "no_lru_maintainer" => {
                config.lru_maintainer = option == "lru_maintainer";
            }
            _ => refuse(&format!("Illegal suboption \"{option}\"")),
        }
    }
}

/// The node's configuration and listening address from the command line.
fn parse_args() -> MemcachedConfig {
    let mut config = MemcachedConfig::for_tests();
    // memcached's default connection limit (a node created through the API takes its
    // parameter group's, 65,000).
    config.max_connections = 1024;
    let mut ip = "127.0.0.1".to_string();
    let mut port: u16 = 11211;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--listen" | "-l" => ip = value(),
            "--port" | "-p" => port = value().parse().unwrap_or_else(|_| usage()),
            "--memory" | "-m" => {
                config.memory_limit = value().parse::<u64>().unwrap_or_else(|_| usage()) << 20
            }
            "--threads" | "-t" => config.threads = value().parse().unwrap_or_else(|_| usage()),
            "--max-item-size" => config.max_item_size = value().parse().unwrap_or_else(|_| usage()),
            "-I" => config.max_item_size = item_size(&value()),
            "-c" => config.max_connections = value().parse().unwrap_or_else(|_| usage()),
            "--version" => config.engine_version = value(),
            "-o" => extended_options(&value(), &mut config),
            "-M" => config.error_on_memory_exhausted = true,
            "-C" => config.cas_disabled = true,
            "-F" => config.disable_flush_all = true,
            _ => usage(),
        }
    }
    // memcached's limits on -I: at least 1 KiB, at most 1 GiB and half the memory limit
    // (ElastiCache's max_item_size parameter allows up to 128 MiB).
    if config.max_item_size < 1024 {
        refuse("Item max size cannot be less than 1024 bytes.");
    }
    if config.max_item_size > 128 << 20 {
        refuse("Cannot set item size limit higher than 128 mb.");
    }
    if config.max_item_size as u64 > config.memory_limit / 2 {
        refuse("Cannot set item size limit higher than 1/2 of memory max.");
    }
    config.bind = format!("{ip}:{port}")
        .parse::<SocketAddr>()
        .unwrap_or_else(|_| usage());
    config
}

fn main() {
    let config = parse_args();
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
