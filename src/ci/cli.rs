//! The `reset` and `status` subcommands: small clients of a running emulator, so a CI job can
//! wipe it between suites or print (and wait for) what `/health` knows without curl and jq.
//!
//! Exit codes: 0 done / ready, 1 reachable but not ready (init still running or failed), 2 the
//! emulator could not be reached or answered an error. Output goes to stdout (it is the
//! command's result, not a log line); errors go to the log (stderr).

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::client;
use crate::config::Command;

/// Runs a subcommand to completion.
pub fn run(command: Command) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            tracing::error!(%err, "cannot start the async runtime");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(async {
        match command {
            Command::Reset { endpoint } => reset(&endpoint).await,
            Command::Status {
                endpoint,
                wait,
                json,
            } => status(&endpoint, wait, json).await,
        }
    })
}

fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

async fn reset(endpoint: &str) -> ExitCode {
    match client::request(endpoint, "POST", super::RESET_PATH, None, b"").await {
        Ok(a) if a.status == 200 => {
            out(&format!("{}\n", a.body));
            ExitCode::SUCCESS
        }
        Ok(a) => {
            tracing::error!(status = a.status, body = %a.body, "reset refused");
            ExitCode::from(2)
        }
        Err(err) => {
            tracing::error!(%endpoint, %err, "cannot reach the emulator");
            ExitCode::from(2)
        }
    }
}

async fn fetch_health(endpoint: &str) -> Result<Value, String> {
    let a = client::request(endpoint, "GET", "/health", None, b"")
        .await
        .map_err(|e| e.to_string())?;
    if a.status != 200 {
        return Err(format!("/health answered {}", a.status));
    }
    serde_json::from_str(&a.body).map_err(|e| format!("/health is not JSON: {e}"))
}

async fn status(endpoint: &str, wait: Option<u64>, json: bool) -> ExitCode {
    let deadline = Instant::now() + Duration::from_secs(wait.unwrap_or(0));
    let health = loop {
        let fetched = fetch_health(endpoint).await;
        let settled = match &fetched {
            Ok(h) => h["ready"] == Value::Bool(true) || h["init"]["state"] == "failed",
            Err(_) => false,
        };
        if settled || Instant::now() >= deadline {
            break fetched;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let health = match health {
        Ok(h) => h,
        Err(err) => {
            tracing::error!(%endpoint, %err, "cannot reach the emulator");
            return ExitCode::from(2);
        }
    };
    if json {
        out(&format!("{health:#}\n"));
    } else {
        out(&render(endpoint, &health));
    }
    if health["ready"] == Value::Bool(true) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The tables `status` prints.
pub fn render(endpoint: &str, h: &Value) -> String {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_string(),
        other => other.to_string(),
    };
    let mut s = format!(
        "elasticache-local {} at {endpoint}: up {} s, ready: {}, init: {}\n",
        text(&h["version"]),
        text(&h["uptime_seconds"]),
        if h["ready"] == Value::Bool(true) {
            "yes"
        } else {
            "no"
        },
        text(&h["init"]["state"]),
    );
    let files: Vec<Vec<String>> = (h["init"]["files"].as_array().into_iter().flatten())
        .map(|f| {
            let ok = if f["ok"] == Value::Bool(true) {
                "ok"
            } else {
                "FAILED"
            };
            vec![text(&f["file"]), ok.to_string(), text(&f["detail"])]
        })
        .collect();
    if !files.is_empty() {
        s.push('\n');
        s.push_str(&table(&["INIT FILE", "RESULT", "DETAIL"], &files));
    }
    for r in h["init"]["resources"].as_array().into_iter().flatten() {
        s.push_str(&format!("init resource: {}\n", text(r)));
    }
    let regions = h["resources"]["regions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let counts = [
        "cache_clusters",
        "replication_groups",
        "serverless_caches",
        "snapshots",
        "users",
        "user_groups",
    ];
    let rows: Vec<Vec<String>> = (regions.iter())
        .map(|r| {
            let mut row = vec![text(&r["account"]), text(&r["region"])];
            row.extend(counts.iter().map(|k| text(&r[*k])));
            row
        })
        .collect();
    s.push('\n');
    s.push_str(&table(
        &[
            "ACCOUNT",
            "REGION",
            "CLUSTERS",
            "REPL GROUPS",
            "SERVERLESS",
            "SNAPSHOTS",
            "USERS",
            "USER GROUPS",
        ],
        &rows,
    ));
    s.push('\n');
    s.push_str(&table(
        &[
            "CLUSTER",
            "ENGINE",
            "VERSION",
            "STATUS",
            "GROUP",
            "NODE",
            "NODE STATUS",
            "ENDPOINT",
        ],
        &node_rows(&regions, text),
    ));
    let nodes = h["nodes"].as_object().map(|m| {
        m.iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    });
    s.push_str(&format!("\nrunning nodes: {}\n", nodes.unwrap_or_default()));
    s
}

/// One row per node of every cluster.
fn node_rows(regions: &[Value], text: impl Fn(&Value) -> String) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for r in regions {
        for c in r["clusters"].as_array().into_iter().flatten() {
            for n in c["nodes"].as_array().into_iter().flatten() {
                rows.push(vec![
                    text(&c["id"]),
                    text(&c["engine"]),
                    text(&c["engine_version"]),
                    text(&c["status"]),
                    text(&c["replication_group"]),
                    text(&n["id"]),
                    text(&n["status"]),
                    text(&n["endpoint"]),
                ]);
            }
        }
    }
    rows
}

/// Left-aligned columns two spaces apart; `(none)` under the header when there is no row.
fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = (cells.iter().zip(&widths))
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut s = line(headers.to_vec());
    for row in rows {
        s.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    if rows.is_empty() {
        s.push_str("(none)\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let t = table(&["A", "LONGER"], &[vec!["wide-cell".into(), "x".into()]]);
        assert_eq!(t, "A          LONGER\nwide-cell  x\n");
        assert_eq!(table(&["A"], &[]), "A\n(none)\n");
    }
}
