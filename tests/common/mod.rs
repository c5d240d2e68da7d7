//! Helpers shared by the runtime integration tests: the HTTP/Query API client (`api`), node
//! specs and configurations for supervisor tests, and a raw memcached text exchange (the engine
//! wire is what those tests check, so they speak it byte for byte).

#![allow(dead_code)]

pub mod api;

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use std::collections::BTreeMap;

use clap::Parser;
use elasticache_local::config::Config;
use elasticache_local::supervisor::{EngineKind, NodeSpec};

/// A configuration for supervisor tests: loopback addressing from `base` (each test file uses
/// its own base so tests running in parallel never compete for addresses) plus `extra` flags.
pub fn loopback_config(base: &str, extra: &[&str]) -> Config {
    let mut args = vec![
        "elasticache-local",
        "--listen",
        "127.0.0.1:0",
        "--addressing",
        "loopback",
        "--loopback-base",
        base,
    ];
    args.extend_from_slice(extra);
    Config::parse_from(args)
}

/// A Redis node spec for a cache.t3.micro (512 MiB, 2 vCPUs) with the given parameters.
pub fn redis_spec(key: &str, port: u16, params: &[(&str, &str)]) -> NodeSpec {
    NodeSpec {
        key: key.to_string(),
        engine: EngineKind::Redis,
        engine_version: "7.1.0".to_string(),
        requested_port: port,
        node_memory_bytes: 536_870_912,
        vcpus: 2,
        parameters: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        auth_token: None,
        users: None,
        cluster_enabled: false,
        discovery_group: None,
        transit_encryption: None,
        availability_zone: None,
    }
}

/// A Memcached node spec for a cache.t3.micro (max_cache_memory 512 MB, 2 threads) in `group`.
pub fn memcached_spec(key: &str, group: &str, port: u16) -> NodeSpec {
    NodeSpec {
        key: key.to_string(),
        engine: EngineKind::Memcached,
        engine_version: "1.6.22".to_string(),
        requested_port: port,
        node_memory_bytes: 512 << 20,
        vcpus: 2,
        parameters: BTreeMap::new(),
        auth_token: None,
        users: None,
        cluster_enabled: false,
        discovery_group: Some(group.to_string()),
        transit_encryption: None,
        availability_zone: None,
    }
}

/// Sends one memcached text command and reads until a line equal to one of `terminators`
/// (bounded by `limit` bytes).
pub async fn memcached_exchange(
    addr: SocketAddr,
    command: &str,
    terminators: &[&str],
) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(command.as_bytes()).await?;
    read_until(&mut stream, terminators, 1 << 20).await
}

/// Reads from `stream` until the text read so far ends with one of `terminators` + CRLF.
pub async fn read_until(
    stream: &mut TcpStream,
    terminators: &[&str],
    limit: usize,
) -> std::io::Result<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        if terminators
            .iter()
            .any(|t| text.ends_with(&format!("{t}\r\n")))
            || buf.len() > limit
        {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&buf).to_string())
}
