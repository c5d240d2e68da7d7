//! The `elasticache-local` binary itself: it logs where it listens, serves `/health`, and on
//! SIGTERM (or Ctrl-C) stops and exits 0 within a second, even with a client connected.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::api::{Answer, call};

/// The bound stated in the task: the process is gone within a second of the signal.
const EXIT_WITHIN: Duration = Duration::from_secs(1);

/// A spawned emulator, killed when dropped so a failing assertion never leaves it running.
struct Emulator(Child);

impl std::ops::Deref for Emulator {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Emulator {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Starts the binary on an ephemeral API port, node addresses from `loopback_base`, and reads
/// the logged API address.
fn spawn(loopback_base: &str) -> (Emulator, Option<SocketAddr>) {
    spawn_with(&["--loopback-base", loopback_base])
}

/// Starts the binary on an ephemeral API port with `args`, and reads the logged API address.
fn spawn_with(args: &[&str]) -> (Emulator, Option<SocketAddr>) {
    let child = Command::new(env!("CARGO_BIN_EXE_elasticache-local"))
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(child) = child else {
        panic!("cannot spawn the binary")
    };
    let mut child = Emulator(child);
    let mut addr = None;
    if let Some(stderr) = child.stderr.take() {
        let mut lines = BufReader::new(stderr).lines();
        // Bounded: the listening line is among the first few lines.
        for line in lines.by_ref().take(20) {
            let Ok(line) = line else { break };
            if let Some(rest) = line.split("listening on http://").nth(1) {
                addr = rest.split_whitespace().next().and_then(|a| a.parse().ok());
                break;
            }
        }
        // Keep draining stderr so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
    }
    (child, addr)
}

fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(status.map(|s| s.success()).unwrap_or(false));
}

/// Waits for the child to exit, up to `limit`; kills it if it did not.
fn wait_exit(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[test]
fn binary_serves_health_and_exits_zero_on_sigterm() {
    let (mut child, addr) = spawn("127.0.90.1");
    let Some(addr) = addr else {
        let _ = child.kill();
        panic!("the binary did not log its listening address")
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let Ok(rt) = rt else { panic!("no runtime") };
    let (status, body) = rt
        .block_on(common::api::http_get(addr, "/health"))
        .unwrap_or_default();
    assert_eq!(status, 200);
    assert!(body.contains("\"status\":\"running\""), "{body}");

    // A client connection left open must not delay the exit.
    let idle = std::net::TcpStream::connect(addr);
    assert!(idle.is_ok());
    sigterm(&child);
    let exit = wait_exit(&mut child, EXIT_WITHIN);
    assert_eq!(
        exit.and_then(|s| s.code()),
        Some(0),
        "exit 0 within a second of SIGTERM"
    );
}

#[test]
fn sigterm_stops_every_node_and_exits_zero() {
    let (mut child, addr) = spawn("127.0.94.1");
    let Some(addr) = addr else {
        let _ = child.kill();
        panic!("the binary did not log its listening address")
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let Ok(rt) = rt else { panic!("no runtime") };
    let created = rt.block_on(call(
        addr,
        "CreateCacheCluster",
        &[
            ("CacheClusterId", "sigterm-mc"),
            ("Engine", "memcached"),
            ("CacheNodeType", "cache.t3.micro"),
            ("NumCacheNodes", "2"),
        ],
    ));
    assert_eq!(created.status, 200, "{}", created.body);

    // The cluster becomes available in milliseconds; polling is bounded.
    let described = wait_available(&rt, addr, "sigterm-mc");
    let hosts = described.all("Address");
    let ports = described.all("Port");
    let endpoints: Vec<SocketAddr> = hosts
        .iter()
        .zip(&ports)
        .filter_map(|(h, p)| format!("{h}:{p}").parse().ok())
        .collect();
    assert_eq!(
        endpoints.len(),
        3,
        "configuration endpoint and two nodes: {endpoints:?}"
    );
    let (_, health) = rt
        .block_on(common::api::http_get(addr, "/health"))
        .unwrap_or_default();
    assert!(health.contains("\"memcached\":2"), "{health}");

    // A client stays connected to a node while the process is told to stop.
    let client = std::net::TcpStream::connect(endpoints[1]);
    assert!(client.is_ok());
    sigterm(&child);
    let exit = wait_exit(&mut child, EXIT_WITHIN);
    assert_eq!(
        exit.and_then(|s| s.code()),
        Some(0),
        "exit 0 within a second of SIGTERM"
    );
    for e in &endpoints {
        assert!(std::net::TcpStream::connect(e).is_err(), "{e} is closed");
    }
}

/// Polls DescribeCacheClusters until `id` is available (bounded); answers that description, or
/// an empty answer when the cluster never became available.
fn wait_available(rt: &tokio::runtime::Runtime, addr: SocketAddr, id: &str) -> Answer {
    let params = [("CacheClusterId", id), ("ShowCacheNodeInfo", "true")];
    for _ in 0..200 {
        let answer = rt.block_on(call(addr, "DescribeCacheClusters", &params));
        if answer.get("CacheClusterStatus").as_deref() == Some("available") {
            return answer;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Answer {
        status: 0,
        body: String::new(),
    }
}

#[test]
fn ports_addressing_reports_the_advertised_host_and_a_port_from_the_range() {
    let (mut child, addr) = spawn_with(&[
        "--addressing",
        "ports",
        "--port-range",
        "24700-24799",
        "--advertised-host",
        "localhost",
    ]);
    let Some(addr) = addr else {
        let _ = child.kill();
        panic!("the binary did not log its listening address")
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let Ok(rt) = rt else { panic!("no runtime") };
    let created = rt.block_on(call(
        addr,
        "CreateCacheCluster",
        &[
            ("CacheClusterId", "ports-redis"),
            ("Engine", "redis"),
            ("CacheNodeType", "cache.t3.micro"),
            ("NumCacheNodes", "1"),
        ],
    ));
    assert_eq!(created.status, 200, "{}", created.body);
    let described = wait_available(&rt, addr, "ports-redis");
    let host = described.all("Address");
    let port: Vec<u16> = described
        .all("Port")
        .iter()
        .filter_map(|p| p.parse().ok())
        .collect();
    assert_eq!(host, vec!["localhost".to_string()], "{}", described.body);
    assert_eq!(port.len(), 1);
    assert!((24_700..=24_799).contains(&port[0]), "{port:?}");

    // A stock client reaches the node through the advertised host and the reported port.
    let value: redis::RedisResult<String> = rt.block_on(async {
        let client = redis::Client::open(format!("redis://localhost:{}/", port[0]))?;
        let mut con = client.get_multiplexed_async_connection().await?;
        redis::cmd("SET")
            .arg("k")
            .arg("through ports mode")
            .query_async::<()>(&mut con)
            .await?;
        redis::cmd("GET").arg("k").query_async(&mut con).await
    });
    assert_eq!(value.ok().as_deref(), Some("through ports mode"));

    sigterm(&child);
    let exit = wait_exit(&mut child, EXIT_WITHIN);
    assert_eq!(exit.and_then(|s| s.code()), Some(0));
}

#[test]
fn binary_exits_nonzero_when_the_api_port_is_taken() {
    let squatter = std::net::TcpListener::bind("127.0.0.1:0");
    let Ok(squatter) = squatter else {
        panic!("no socket")
    };
    let Ok(taken) = squatter.local_addr() else {
        panic!("no address")
    };
    let child = Command::new(env!("CARGO_BIN_EXE_elasticache-local"))
        .args(["--listen", &taken.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(child) = child else {
        panic!("cannot spawn the binary")
    };
    let output = child.wait_with_output();
    let Ok(output) = output else {
        panic!("no output")
    };
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {taken}")),
        "{stderr}"
    );
}

#[test]
fn every_container_setting_is_a_flag_of_the_binary() {
    // The Dockerfile and compose file configure the binary through ELASTICACHE_LOCAL_* variables
    // and flags; each must be one the binary knows, or the container would silently ignore it.
    let help = Command::new(env!("CARGO_BIN_EXE_elasticache-local"))
        .arg("--help")
        .output();
    let Ok(help) = help else { panic!("no --help") };
    let help = String::from_utf8_lossy(&help.stdout).to_string();
    let root = env!("CARGO_MANIFEST_DIR");
    let mut checked = 0;
    for file in ["Dockerfile", "docker/compose.yaml"] {
        let text = std::fs::read_to_string(format!("{root}/{file}")).unwrap_or_default();
        assert!(!text.is_empty(), "{file} exists");
        for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-')) {
            if word.starts_with("ELASTICACHE_LOCAL_") || word == "RUST_LOG" {
                assert!(
                    help.contains(&format!("[env: {word}=")),
                    "{file}: {word} is not an env var of the binary"
                );
                checked += 1;
            } else if let Some(flag) = word
                .strip_prefix("--")
                .filter(|f| f.starts_with(|c: char| c.is_ascii_lowercase()))
            {
                let known_docker = [
                    "mount",
                    "from",
                    "locked",
                    "release",
                    "bin",
                    "system",
                    "uid",
                    "no-create-home",
                    "shell",
                    "interval",
                    "timeout",
                    "start-period",
                    "retries",
                    "quiet",
                    "disable-pip-version-check",
                    "build",
                    "abort-on-container-exit",
                    "rm",
                    "endpoint-url",
                    "cache-cluster-id",
                    "engine",
                    "cache-node-type",
                    "num-cache-nodes",
                ];
                if !known_docker.contains(&flag) {
                    assert!(
                        help.contains(&format!("--{flag} ")),
                        "{file}: --{flag} is not a flag of the binary"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(
        checked >= 4,
        "the container files configure the binary ({checked} settings checked)"
    );

    // The image publishes the port range it configures.
    let dockerfile = std::fs::read_to_string(format!("{root}/Dockerfile")).unwrap_or_default();
    let range = dockerfile
        .split("ELASTICACHE_LOCAL_PORT_RANGE=")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or("");
    assert!(!range.is_empty());
    assert!(
        dockerfile.contains(&format!("EXPOSE 4566 {range}")),
        "EXPOSE matches {range}"
    );
    assert!(dockerfile.contains("AS builder") && dockerfile.contains("--from=builder"));
    assert!(dockerfile.contains("ENTRYPOINT [\"elasticache-local\"]"));

    // Exec-form instructions must be valid JSON arrays of strings, or Docker silently runs them
    // through a shell as text.
    let joined = dockerfile.replace("\\\n", " ");
    let mut exec_forms = 0;
    for line in joined.lines() {
        let Some(start) = line.find('[') else {
            continue;
        };
        let keyword = line.split_whitespace().next().unwrap_or("");
        if !matches!(keyword, "ENTRYPOINT" | "CMD" | "HEALTHCHECK") {
            continue;
        }
        let parsed: Result<Vec<String>, _> = serde_json::from_str(line[start..].trim());
        assert!(parsed.is_ok(), "not a JSON exec form: {line}");
        exec_forms += 1;
    }
    assert!(
        exec_forms >= 2,
        "ENTRYPOINT and HEALTHCHECK use the exec form"
    );
}

#[test]
fn readme_configuration_table_lists_every_flag() {
    let help = Command::new(env!("CARGO_BIN_EXE_elasticache-local"))
        .arg("--help")
        .output();
    let Ok(help) = help else { panic!("no --help") };
    let help = String::from_utf8_lossy(&help.stdout).to_string();
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .unwrap_or_default();
    let flags: Vec<&str> = help
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("--"))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|f| *f != "help" && *f != "version")
        .collect();
    assert!(flags.len() >= 5, "{flags:?}");
    for flag in flags {
        assert!(
            readme.contains(&format!("| `--{flag}` |")),
            "README configuration table lacks --{flag}"
        );
    }
}
