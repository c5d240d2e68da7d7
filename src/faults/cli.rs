//! `elasticache-local fault create|list|clear`: the fault injection API from the command line.
//! Each subcommand sends one HTTP request to a running emulator (`--endpoint-url`, default
//! `http://127.0.0.1:4566`) and writes the JSON answer to stdout; a refusal goes to stderr with
//! a failing exit code.
//!
//! Place in the flow: `main` hands the arguments here when the first one is `fault`; running
//! the emulator stays the default. The request is plain HTTP/1.1 over a tokio `TcpStream`
//! (`Connection: close`), which is all a local API needs.

use std::io::Write;

use clap::{Args, Parser, Subcommand};
use serde_json::{Map, Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `elasticache-local fault …`
#[derive(Debug, Parser)]
#[command(
    name = "elasticache-local fault",
    about = "Create, list and clear injected faults"
)]
pub struct FaultCli {
    /// URL of the running emulator.
    #[arg(
        long,
        env = "ELASTICACHE_LOCAL_ENDPOINT_URL",
        default_value = "http://127.0.0.1:4566",
        global = true
    )]
    endpoint_url: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Injects a fault; prints {"faultId": …}.
    Create(Box<CreateArgs>),
    /// Lists active faults.
    List,
    /// Clears a fault by id.
    Clear {
        /// The id `create` printed.
        fault_id: String,
    },
}

#[derive(Debug, Args)]
struct CreateArgs {
    /// crash, az-power, latency, partition, memory or connection-drop.
    #[arg(long = "type")]
    kind: String,
    /// Target: a cache cluster.
    #[arg(long)]
    cache_cluster_id: Option<String>,
    /// Target: the cluster's node (optional for single-node clusters).
    #[arg(long)]
    cache_node_id: Option<String>,
    /// Target: a replication group.
    #[arg(long)]
    replication_group_id: Option<String>,
    /// Target: one shard of the group.
    #[arg(long)]
    node_group_id: Option<String>,
    /// Target: every node in this Availability Zone.
    #[arg(long)]
    availability_zone: Option<String>,
    /// Account of the target (default: the emulator's).
    #[arg(long)]
    account_id: Option<String>,
    /// Region of the target (default: the emulator's).
    #[arg(long)]
    region: Option<String>,
    /// Clear by itself after this many seconds.
    #[arg(long)]
    duration_seconds: Option<u64>,
    /// latency: delay of every reply.
    #[arg(long)]
    delay_ms: Option<u64>,
    /// latency: random part, either way.
    #[arg(long)]
    jitter_ms: Option<u64>,
    /// memory: the lowered limit.
    #[arg(long)]
    maxmemory_bytes: Option<u64>,
    /// connection-drop: reset every N-th connection (default: all open ones, once).
    #[arg(long)]
    every_nth: Option<u64>,
    /// partition: replication or clients.
    #[arg(long)]
    direction: Option<String>,
}

impl CreateArgs {
    /// The request body of the contract.
    fn body(&self) -> Value {
        let mut target = Map::new();
        let texts = [
            ("cacheClusterId", &self.cache_cluster_id),
            ("cacheNodeId", &self.cache_node_id),
            ("replicationGroupId", &self.replication_group_id),
            ("nodeGroupId", &self.node_group_id),
            ("availabilityZone", &self.availability_zone),
            ("accountId", &self.account_id),
            ("region", &self.region),
        ];
        for (k, v) in texts {
            if let Some(v) = v {
                target.insert(k.to_string(), json!(v));
            }
        }
        let mut body = Map::new();
        body.insert("type".into(), json!(self.kind));
        body.insert("target".into(), Value::Object(target));
        let numbers = [
            ("durationSeconds", self.duration_seconds),
            ("delayMs", self.delay_ms),
            ("jitterMs", self.jitter_ms),
            ("maxmemoryBytes", self.maxmemory_bytes),
            ("everyNth", self.every_nth),
        ];
        for (k, v) in numbers {
            if let Some(v) = v {
                body.insert(k.to_string(), json!(v));
            }
        }
        if let Some(d) = &self.direction {
            body.insert("direction".into(), json!(d));
        }
        Value::Object(body)
    }
}

/// Runs `elasticache-local fault …` (`args` without the program name's `fault`); the exit code.
pub fn run(args: impl IntoIterator<Item = String>) -> std::process::ExitCode {
    // Usage lines name the whole command, not just `fault`.
    let args =
        std::iter::once("elasticache-local fault".to_string()).chain(args.into_iter().skip(1));
    let cli = FaultCli::parse_from(args);
    let (method, path, body) = match &cli.command {
        Command::Create(a) => ("POST", super::http::FAULTS_PATH.to_string(), Some(a.body())),
        Command::List => ("GET", super::http::FAULTS_PATH.to_string(), None),
        Command::Clear { fault_id } => (
            "DELETE",
            format!("{}/{fault_id}", super::http::FAULTS_PATH),
            None,
        ),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    let answer = runtime.block_on(request(&cli.endpoint_url, method, &path, body));
    match answer {
        Ok((status, text)) if (200..300).contains(&status) => {
            let mut out = std::io::stdout();
            let text = if text.is_empty() && method == "DELETE" {
                "{}".to_string()
            } else {
                text
            };
            let _ = writeln!(out, "{text}");
            std::process::ExitCode::SUCCESS
        }
        Ok((status, text)) => fail(&format!("HTTP {status}: {text}")),
        Err(e) => fail(&e),
    }
}

fn fail(message: &str) -> std::process::ExitCode {
    let _ = writeln!(std::io::stderr(), "elasticache-local fault: {message}");
    std::process::ExitCode::FAILURE
}

/// One HTTP/1.1 request; answers (status, body).
async fn request(
    url: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Result<(u16, String), String> {
    let host = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("--endpoint-url must start with http:// (got {url})"))?
        .trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(host)
        .await
        .map_err(|e| format!("cannot reach {url}: {e}"))?;
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        payload.len()
    );
    stream
        .write_all(format!("{head}{payload}").as_bytes())
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .await
        .map_err(|e| format!("answer failed: {e}"))?;
    let text = String::from_utf8_lossy(&raw);
    let (head, rest) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| "malformed HTTP answer".to_string())?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| "malformed HTTP status line".to_string())?;
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    Ok((status, body))
}

/// The payload of a chunked body.
fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}
