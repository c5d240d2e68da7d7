//! Command-line and environment configuration of the emulator.
//!
//! Every flag has an environment variable twin so that containers and CI can configure the
//! emulator without a wrapper script. This is the first thing `main` reads; everything else
//! receives a `Config` (or the part of it that concerns it).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// How engine nodes get addresses that the API can report truthfully.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Addressing {
    /// Each endpoint binds its own loopback address (127.0.0.0/8 is all loopback on Linux) on
    /// the port the user asked for, so requested ports are honoured exactly.
    Loopback,
    /// Each endpoint gets its own port from `--port-range` on one host (macOS, containers).
    Ports,
}

/// An inclusive range of TCP ports, written `first-last`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRange {
    /// First port of the range.
    pub first: u16,
    /// Last port of the range (inclusive).
    pub last: u16,
}

impl std::str::FromStr for PortRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, b) = s
            .split_once('-')
            .ok_or_else(|| format!("expected FIRST-LAST, got {s:?}"))?;
        let first: u16 = a
            .trim()
            .parse()
            .map_err(|e| format!("bad first port {a:?}: {e}"))?;
        let last: u16 = b
            .trim()
            .parse()
            .map_err(|e| format!("bad last port {b:?}: {e}"))?;
        if first == 0 || last < first {
            return Err(format!("port range {s:?} must satisfy 0 < FIRST <= LAST"));
        }
        Ok(PortRange { first, last })
    }
}

impl std::fmt::Display for PortRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

/// A duration written as a number of seconds, or with a unit: `500ms`, `2s`, `1m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, scale_ms) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1000.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60_000.0)
    } else {
        (s, 1000.0)
    };
    let value: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("bad duration {s:?} (examples: 0, 500ms, 2s, 1m)"))?;
    if !(0.0..=3600.0 * 1000.0).contains(&(value * scale_ms)) {
        return Err(format!("duration {s:?} must be between 0 and 1 hour"));
    }
    Ok(Duration::from_micros((value * scale_ms * 1000.0) as u64))
}

/// A [`parse_duration`] that must be above zero (a zero timeout would close every connection).
pub fn parse_timeout(s: &str) -> Result<Duration, String> {
    match parse_duration(s)? {
        d if d.is_zero() => Err(format!("timeout {s:?} must be above zero")),
        d => Ok(d),
    }
}

/// A byte size: a number with an optional unit `b`, `kb`, `mb`, `gb` (powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let lower = s.trim().to_ascii_lowercase();
    let units = [
        ("gb", 1u64 << 30),
        ("mb", 1 << 20),
        ("kb", 1 << 10),
        ("b", 1),
    ];
    let (num, scale) = units
        .iter()
        .find_map(|(unit, scale)| lower.strip_suffix(unit).map(|n| (n.to_string(), *scale)))
        .unwrap_or((lower.clone(), 1));
    let value: u64 = num
        .trim()
        .parse()
        .map_err(|_| format!("bad size {s:?} (examples: 1048576, 512mb, 2gb)"))?;
    value
        .checked_mul(scale)
        .ok_or_else(|| format!("size {s:?} is too large"))
}

/// The emulator's configuration.
#[derive(Clone, Debug, Parser)]
#[command(
    name = "elasticache-local",
    version,
    about = "Local Amazon ElastiCache: the ElastiCache Query API with real Redis/Valkey and Memcached engines behind every node"
)]
pub struct Config {
    /// Address and port of the ElastiCache Query API (HTTP).
    #[arg(
        long,
        env = "ELASTICACHE_LOCAL_LISTEN",
        default_value = "127.0.0.1:4566"
    )]
    pub listen: SocketAddr,

    /// How engine endpoints get addresses: `loopback` (own 127.x address, requested port) or
    /// `ports` (one host, a port from --port-range per endpoint).
    #[arg(long, env = "ELASTICACHE_LOCAL_ADDRESSING", value_enum, default_value_t = default_addressing())]
    pub addressing: Addressing,

    /// Ports handed to endpoints in `ports` addressing mode.
    #[arg(
        long,
        env = "ELASTICACHE_LOCAL_PORT_RANGE",
        default_value = "21000-22999"
    )]
    pub port_range: PortRange,

    /// Host name or address reported in endpoints in `ports` mode (for example a Docker
    /// service name). Defaults to the host part of --listen (or 127.0.0.1 when that is 0.0.0.0).
    #[arg(long, env = "ELASTICACHE_LOCAL_ADVERTISED_HOST")]
    pub advertised_host: Option<String>,

    /// First loopback address handed to endpoints in `loopback` mode; later endpoints count up.
    #[arg(
        long,
        env = "ELASTICACHE_LOCAL_LOOPBACK_BASE",
        default_value = "127.0.1.1"
    )]
    pub loopback_base: IpAddr,

    /// Region used when a request is not signed.
    #[arg(long, env = "ELASTICACHE_LOCAL_REGION", default_value = "us-east-1")]
    pub region: String,

    /// Account used when the access key id is not a 12-digit account id.
    #[arg(
        long,
        env = "ELASTICACHE_LOCAL_ACCOUNT_ID",
        default_value = "000000000000"
    )]
    pub account_id: String,

    /// Extra time a resource stays in `creating`/`modifying`/`deleting`, to mimic AWS timing
    /// (examples: 0, 500ms, 5s). Zero means a status changes as soon as the engine is ready.
    #[arg(long, env = "ELASTICACHE_LOCAL_CREATE_DELAY", default_value = "0", value_parser = parse_duration)]
    pub create_delay: Duration,

    /// Upper bound on any one node's memory limit (Redis `maxmemory`, Memcached `-m`), e.g.
    /// `256mb`. Unset: a node's limit is its node type's memory, as on AWS. Engines only account
    /// memory (nothing is pre-allocated), so this only matters when data is actually stored.
    #[arg(long, env = "ELASTICACHE_LOCAL_MAX_NODE_MEMORY", value_parser = parse_size)]
    pub max_node_memory: Option<u64>,

    /// Strict ElastiCache mode: Redis/Valkey nodes answer the commands ElastiCache restricts
    /// (`CONFIG`, `DEBUG`, `SAVE`, `BGSAVE`, `SHUTDOWN`, `REPLICAOF`, …) with "unknown command",
    /// as they do on AWS, so code that relies on them fails here first. Off by default, so test
    /// suites and tools that call `CONFIG GET/SET` keep working.
    #[arg(long, env = "ELASTICACHE_LOCAL_STRICT_COMMANDS")]
    pub strict_commands: bool,

    /// Threads each Redis/Valkey node serves its clients on (its own runtime: listener,
    /// connections, commands). 1, the default, serves a node on one thread as redis-server does
    /// (with its default `io-threads 1`); more let one node's connections do their I/O on
    /// several cores at the price of waiting for each other's node lock, which only pays on
    /// hosts with cores to spare. Several nodes always run in parallel.
    #[arg(long, env = "ELASTICACHE_LOCAL_REDIS_NODE_THREADS", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub redis_node_threads: u16,

    /// Directory for state that outlives a run: every resource of every account and region
    /// (`state.json`, kept current while running), each Redis/Valkey node's data (saved at
    /// shutdown, loaded at start; Memcached nodes start empty), snapshot files, and the local
    /// certificate authority that signs the TLS endpoints' certificates (`ca.pem`,
    /// `ca-key.pem`). Nodes come back on the same endpoints. Unset: nothing is written to disk
    /// and the CA changes every run (download it from `GET /_elasticache_local/ca.pem`).
    #[arg(long, env = "ELASTICACHE_LOCAL_DATA_DIR")]
    pub data_dir: Option<std::path::PathBuf>,

    /// Directory standing in for Amazon S3 in snapshot exports and seeds: CopySnapshot with
    /// `TargetBucket=b` writes `<dir>/b/<name>-0001.rdb`, ...; `SnapshotArns` entries
    /// `arn:aws:s3:::b/key` are read from `<dir>/b/key`. Default: `<data-dir>/s3`, or
    /// `elasticache-local-s3` under the system temporary directory without a data directory.
    #[arg(long, env = "ELASTICACHE_LOCAL_S3_DIR")]
    pub s3_dir: Option<std::path::PathBuf>,

    /// Time a client has to send a complete request head (request line and headers) on the
    /// Query API, counted from when the connection starts waiting for a request: it stops
    /// slow-header (slowloris) clients and also closes keep-alive connections left idle that
    /// long. Must be above zero.
    #[arg(long, env = "ELASTICACHE_LOCAL_API_HEADER_TIMEOUT", default_value = "30s", value_parser = parse_timeout)]
    pub api_header_timeout: Duration,

    /// Time a client has to send the whole request body once its head has arrived (a body
    /// shorter than its Content-Length is answered 408 and the connection closed).
    #[arg(long, env = "ELASTICACHE_LOCAL_API_BODY_TIMEOUT", default_value = "30s", value_parser = parse_timeout)]
    pub api_body_timeout: Duration,

    /// Most Query API connections served at once; further clients wait in the listen backlog
    /// until one closes. Keeps file handles for engine nodes when many clients connect.
    #[arg(long, env = "ELASTICACHE_LOCAL_API_MAX_CONNECTIONS", default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub api_max_connections: u32,

    /// Secrets IAM authentication tokens are checked with (users with `AuthenticationMode
    /// Type=iam`), as `ACCESS_KEY_ID:SECRET_ACCESS_KEY[,…]`: a token is admitted only when
    /// signed with one of these pairs. Unset: the dummy credentials of local testing are
    /// admitted, i.e. the secret `test` for any access key id, or a secret equal to the access
    /// key id (`AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test`).
    #[arg(
        long,
        env = "ELASTICACHE_LOCAL_IAM_CREDENTIALS",
        hide_env_values = true
    )]
    pub iam_credentials: Option<crate::auth::iam::IamCredentials>,

    /// Seconds an IAM-authenticated connection lasts before the node closes it, unless it
    /// sends AUTH or HELLO with a fresh token: ElastiCache's 12 hours by default. Lower it to
    /// test a client's token renewal without waiting half a day.
    #[arg(long, env = "ELASTICACHE_LOCAL_IAM_SESSION_SECONDS", default_value_t = 43_200, value_parser = clap::value_parser!(u64).range(1..=43_200))]
    pub iam_session_seconds: u64,

    /// Log filter, in tracing's env-filter syntax (for example `info`, `elasticache_local=debug`).
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    pub log: String,

    /// Directory of files run once at start, in name order: `*.json` (a list of Query API
    /// requests, `[{"Action": "CreateCacheCluster", "CacheClusterId": "c1", …}]`) and `*.sh`
    /// (run with `sh`, with `AWS_ENDPOINT_URL` and test credentials set for aws-cli). `/health`
    /// says `"ready": true` once they ran and every resource is `available`.
    #[arg(long, env = "ELASTICACHE_LOCAL_INIT_DIR")]
    pub init_dir: Option<std::path::PathBuf>,

    /// A subcommand talking to a running emulator; without one, the emulator runs.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What the binary does instead of running the emulator: the `reset` and `status`
/// subcommands, which `ci::cli` carries out against a running emulator.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum Command {
    /// Delete every resource of every account and region and stop every node of a running
    /// emulator (`POST /_elasticache_local/reset`); prints what was deleted as JSON.
    Reset {
        /// The emulator's API endpoint.
        #[arg(
            long,
            env = "ELASTICACHE_LOCAL_ENDPOINT",
            default_value = "http://127.0.0.1:4566"
        )]
        endpoint: String,
    },
    /// Print what a running emulator's `/health` knows as tables: readiness and init files,
    /// resources per account and region, every cluster's nodes. Exits 0 when ready, 1 when
    /// not (yet), 2 when unreachable.
    Status {
        /// The emulator's API endpoint.
        #[arg(
            long,
            env = "ELASTICACHE_LOCAL_ENDPOINT",
            default_value = "http://127.0.0.1:4566"
        )]
        endpoint: String,
        /// Wait up to this many seconds for the emulator to be up and ready first (stops at
        /// once when init failed).
        #[arg(long, value_name = "SECONDS")]
        wait: Option<u64>,
        /// Print the `/health` document as JSON instead of tables.
        #[arg(long)]
        json: bool,
    },
}

/// Loopback addressing needs the whole 127/8 network on `lo`, which Linux provides; elsewhere
/// (macOS) only 127.0.0.1 exists unless aliases are added, so default to ports there.
fn default_addressing() -> Addressing {
    if cfg!(target_os = "linux") {
        Addressing::Loopback
    } else {
        Addressing::Ports
    }
}

impl Config {
    /// The host written into endpoints in `ports` mode.
    pub fn advertised_host(&self) -> String {
        if let Some(h) = &self.advertised_host {
            return h.clone();
        }
        match self.listen.ip() {
            ip if ip.is_unspecified() => "127.0.0.1".to_string(),
            ip => ip.to_string(),
        }
    }

    /// The directory standing in for S3 (see `s3_dir`).
    pub fn effective_s3_dir(&self) -> std::path::PathBuf {
        match (&self.s3_dir, &self.data_dir) {
            (Some(dir), _) => dir.clone(),
            (None, Some(data)) => data.join("s3"),
            (None, None) => std::env::temp_dir().join("elasticache-local-s3"),
        }
    }

    /// A configuration for tests: API on an ephemeral port, no delays.
    pub fn for_tests() -> Config {
        Config::parse_from(["elasticache-local", "--listen", "127.0.0.1:0"])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_range_parses_and_rejects() {
        assert_eq!(
            "10-20".parse::<PortRange>(),
            Ok(PortRange {
                first: 10,
                last: 20
            })
        );
        assert!("20-10".parse::<PortRange>().is_err());
        assert!("0-10".parse::<PortRange>().is_err());
        assert!("abc".parse::<PortRange>().is_err());
    }

    #[test]
    fn s3_dir_defaults_under_the_data_dir_or_the_temp_dir() {
        let parse = |args: &[&str]| {
            let mut all = vec!["elasticache-local"];
            all.extend_from_slice(args);
            Config::parse_from(all).effective_s3_dir()
        };
        assert_eq!(
            parse(&["--s3-dir", "/x/s3", "--data-dir", "/d"]),
            std::path::PathBuf::from("/x/s3")
        );
        assert_eq!(
            parse(&["--data-dir", "/d"]),
            std::path::PathBuf::from("/d/s3")
        );
        if std::env::var_os("ELASTICACHE_LOCAL_S3_DIR").is_none()
            && std::env::var_os("ELASTICACHE_LOCAL_DATA_DIR").is_none()
        {
            assert_eq!(
                parse(&[]),
                std::env::temp_dir().join("elasticache-local-s3")
            );
        }
    }

    #[test]
    fn sizes_accept_units() {
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("512mb"), Ok(512 << 20));
        assert_eq!(parse_size("2GB"), Ok(2 << 30));
        assert!(parse_size("lots").is_err());
    }

    #[test]
    fn durations_accept_units() {
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("soon").is_err());
        assert_eq!(parse_timeout("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_timeout("0").is_err());
    }
}
