//! The per-node key browser: `GET /_elasticache_local/nodes/<node key>/keys?pattern=&type=&cursor=`
//! answers one SCAN page of a Redis/Valkey node (pattern and type filters, next-page link by
//! cursor) with each key's type, TTL, size and a truncated preview of its value, and the
//! node's last slow commands (SLOWLOG GET). A Memcached node's page shows its figures only
//! (Memcached cannot list its keys).
//!
//! How it reads the node, and why: through `Supervisor::inspect_node`, which runs read-only
//! commands inside the engine as an internal client (`ecl_redis::RedisNode::inspect`), rather
//! than as a network client of the node's port. A network client would have to hold a user's
//! password or AUTH token (and could not log in at all as an IAM-only or disabled default
//! user), speak TLS to TLS-only nodes, and would show up in the node's CLIENT LIST; the
//! in-engine call needs none of that, keeps the layering (status → supervisor → engine crate,
//! the supervisor alone calling the engine) and the engine refuses anything but its fixed list
//! of reading commands. It does count as commands in the node's statistics.

use std::collections::HashMap;
use std::fmt::Write;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde_json::Value;

use super::Status;
use super::html::{escape, url_component};
use super::resp::{self, Resp};

/// Keys asked per SCAN call (SCAN's COUNT hint).
const PAGE: &str = "50";
/// Characters of a value preview, and elements of a collection preview.
const PREVIEW_CHARS: usize = 120;
const PREVIEW_ITEMS: usize = 8;
/// Slow log entries shown.
const SLOWLOG_ENTRIES: &str = "10";
/// Types the type filter offers (SCAN TYPE names).
const TYPES: &[&str] = &["string", "list", "set", "zset", "hash", "stream"];

/// One browsed key.
struct KeyRow {
    name: String,
    kind: String,
    ttl_ms: i64,
    size: String,
    preview: String,
}

/// The key browser route.
pub async fn handler(
    State(status): State<Status>,
    Path(key): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let figures = status
        .supervisor
        .node_figures()
        .into_iter()
        .find(|f| f.key == key);
    let Some(figures) = figures else {
        return (
            StatusCode::NOT_FOUND,
            Html(shell(&key, "<p>No such node.</p>")),
        )
            .into_response();
    };
    let figures = serde_json::to_value(&figures).unwrap_or(Value::Null);
    let mut body = figures_html(&figures);
    if figures["engine"] != "memcached" {
        match browse(&status, &key, &q).await {
            Ok(html) => body.push_str(&html),
            Err(e) => {
                let _ = write!(
                    body,
                    "<p class=\"error\">Cannot read the node: {}</p>",
                    escape(&e)
                );
            }
        }
    }
    Html(shell(&key, &body)).into_response()
}

fn shell(key: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><link rel=\"icon\" href=\"data:,\"><title>{0} · keys</title>\
         <style>{1}</style></head><body><header><h1>{0}</h1><a href=\"/\" style=\"color:#fff\">\
         ← status</a></header><main>{body}</main></body></html>",
        escape(key),
        include_str!("page.css"),
    )
}

fn figures_html(f: &Value) -> String {
    let mut out = String::from("<section><h2>Node</h2><table id=\"figures\"><tbody>");
    for (label, field) in [
        ("Engine", "engine"),
        ("Version", "engine_version"),
        ("Address", "address"),
        ("Port", "port"),
        ("Role", "role"),
        ("Keys", "keys"),
        ("Memory used (bytes)", "used_memory"),
        ("Max memory (bytes)", "maxmemory"),
        ("Ops/s", "ops_per_sec"),
        ("Commands", "total_commands"),
        ("Connections", "connections"),
        ("Evictions", "evictions"),
        ("Replication offset", "replication_offset"),
    ] {
        let v = match &f[field] {
            Value::String(s) => escape(s),
            Value::Null => "-".to_string(),
            other => other.to_string(),
        };
        let _ = write!(
            out,
            "<tr><th>{label}</th><td data-f=\"{field}\">{v}</td></tr>"
        );
    }
    out.push_str("</tbody></table></section>");
    out
}

/// Runs one inspection command and decodes its reply; error replies become `Err`.
async fn run(status: &Status, key: &str, args: &[&[u8]]) -> Result<Resp, String> {
    let args: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
    let bytes = status.supervisor.inspect_node(key, &args).await?;
    match resp::parse(&bytes) {
        Some(Resp::Error(e)) => Err(e),
        Some(v) => Ok(v),
        None => Err("unreadable reply".to_string()),
    }
}

/// The filter form, one SCAN page of keys and the slow log.
async fn browse(
    status: &Status,
    node: &str,
    q: &HashMap<String, String>,
) -> Result<String, String> {
    let pattern = q
        .get("pattern")
        .filter(|p| !p.is_empty())
        .map_or("*", String::as_str);
    let kind = q
        .get("type")
        .map(String::as_str)
        .filter(|t| TYPES.contains(t));
    let cursor = q.get("cursor").map_or("0", String::as_str);
    if cursor.is_empty() || !cursor.bytes().all(|b| b.is_ascii_digit()) {
        return Err("the cursor must be a number".to_string());
    }
    let mut args: Vec<&[u8]> = vec![
        b"SCAN",
        cursor.as_bytes(),
        b"MATCH",
        pattern.as_bytes(),
        b"COUNT",
        PAGE.as_bytes(),
    ];
    if let Some(k) = kind {
        args.extend([b"TYPE".as_slice(), k.as_bytes()]);
    }
    let reply = run(status, node, &args).await?;
    let next = reply.items().first().map(Resp::text).unwrap_or_default();
    let mut rows = Vec::new();
    for name in reply.items().get(1).map(Resp::items).unwrap_or(&[]) {
        if let Resp::Bulk(Some(raw)) = name {
            rows.push(describe(status, node, raw).await?);
        }
    }
    let mut out = form_html(pattern, kind);
    keys_table(&mut out, &rows);
    if next != "0" && !next.is_empty() {
        let mut link = format!(
            "?cursor={}&pattern={}",
            url_component(&next),
            url_component(pattern)
        );
        if let Some(k) = kind {
            let _ = write!(link, "&type={k}");
        }
        let _ = write!(
            out,
            "<p><a id=\"next\" href=\"{}\">next page →</a></p>",
            escape(&link)
        );
    }
    out.push_str(&slowlog_html(
        &run(
            status,
            node,
            &[b"SLOWLOG", b"GET", SLOWLOG_ENTRIES.as_bytes()],
        )
        .await?,
    ));
    Ok(out)
}

/// Type, TTL, size and preview of one key.
async fn describe(status: &Status, node: &str, key: &[u8]) -> Result<KeyRow, String> {
    let kind = run(status, node, &[b"TYPE", key]).await?.text();
    let ttl_ms = run(status, node, &[b"PTTL", key])
        .await?
        .int()
        .unwrap_or(-2);
    let items = PREVIEW_ITEMS.to_string();
    let last = (PREVIEW_ITEMS - 1).to_string();
    let chars = PREVIEW_CHARS.to_string();
    let (size_cmd, preview_cmd): (&[u8], Vec<&[u8]>) = match kind.as_str() {
        "string" => (b"STRLEN", vec![b"GETRANGE", key, b"0", chars.as_bytes()]),
        "list" => (b"LLEN", vec![b"LRANGE", key, b"0", last.as_bytes()]),
        "set" => (
            b"SCARD",
            vec![b"SSCAN", key, b"0", b"COUNT", items.as_bytes()],
        ),
        "zset" => (
            b"ZCARD",
            vec![b"ZRANGE", key, b"0", last.as_bytes(), b"WITHSCORES"],
        ),
        "hash" => (
            b"HLEN",
            vec![b"HSCAN", key, b"0", b"COUNT", items.as_bytes()],
        ),
        "stream" => (
            b"XLEN",
            vec![b"XRANGE", key, b"-", b"+", b"COUNT", items.as_bytes()],
        ),
        _ => (b"", Vec::new()),
    };
    let size = if size_cmd.is_empty() {
        String::new()
    } else {
        run(status, node, &[size_cmd, key]).await?.text()
    };
    let preview = if preview_cmd.is_empty() {
        String::new()
    } else {
        preview_text(&kind, &run(status, node, &preview_cmd).await?)
    };
    Ok(KeyRow {
        name: String::from_utf8_lossy(key).into_owned(),
        kind,
        ttl_ms,
        size,
        preview,
    })
}

/// A value preview, cut to [`PREVIEW_CHARS`] characters.
fn preview_text(kind: &str, v: &Resp) -> String {
    let text = match kind {
        "string" => v.text(),
        // SSCAN / HSCAN answer [cursor, elements].
        "set" => v
            .items()
            .get(1)
            .map(|e| join(e.items(), 1, ", "))
            .unwrap_or_default(),
        "hash" => v
            .items()
            .get(1)
            .map(|e| join(e.items(), 2, ", "))
            .unwrap_or_default(),
        "zset" => join(v.items(), 2, ", "),
        "stream" => v
            .items()
            .iter()
            .map(|entry| {
                let id = entry.items().first().map(Resp::text).unwrap_or_default();
                let fields = entry
                    .items()
                    .get(1)
                    .map(|f| join(f.items(), 2, " "))
                    .unwrap_or_default();
                format!("{id} {{{fields}}}")
            })
            .collect::<Vec<_>>()
            .join(", "),
        _ => join(v.items(), 1, ", "),
    };
    truncate(&text, PREVIEW_CHARS)
}

/// Elements joined in groups of `group` (`a=b` pairs for 2).
fn join(items: &[Resp], group: usize, sep: &str) -> String {
    items
        .chunks(group)
        .map(|c| c.iter().map(Resp::text).collect::<Vec<_>>().join("="))
        .collect::<Vec<_>>()
        .join(sep)
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max).collect();
    t.push('…');
    t
}

fn form_html(pattern: &str, kind: Option<&str>) -> String {
    let mut out = format!(
        "<section><h2>Keys</h2><form method=\"get\"><label>Pattern <input name=\"pattern\" \
         value=\"{}\"></label><label>Type <select name=\"type\"><option value=\"\">any</option>",
        escape(pattern)
    );
    for t in TYPES {
        let sel = if Some(*t) == kind { " selected" } else { "" };
        let _ = write!(out, "<option{sel}>{t}</option>");
    }
    out.push_str("</select></label><button>Scan</button></form>");
    out
}

fn keys_table(out: &mut String, rows: &[KeyRow]) {
    out.push_str(
        "<table id=\"keys\"><thead><tr><th>Key</th><th>Type</th><th>TTL</th>\
                  <th>Size</th><th>Preview</th></tr></thead><tbody>",
    );
    for r in rows {
        let ttl = match r.ttl_ms {
            -1 => "no expiry".to_string(),
            ms if ms < 0 => "gone".to_string(),
            ms => format!("{:.1} s", ms as f64 / 1000.0),
        };
        let _ = write!(
            out,
            "<tr><td class=\"id\">{}</td><td>{}</td><td class=\"ttl\">{ttl}</td><td>{}</td>\
             <td><pre>{}</pre></td></tr>",
            escape(&r.name),
            escape(&r.kind),
            escape(&r.size),
            escape(&r.preview)
        );
    }
    if rows.is_empty() {
        out.push_str("<tr><td colspan=\"5\" class=\"none\">no keys on this page</td></tr>");
    }
    out.push_str("</tbody></table></section>");
}

fn slowlog_html(log: &Resp) -> String {
    let mut out = String::from(
        "<section><h2>Last slow commands (SLOWLOG GET)</h2><table id=\"slowlog\">\
        <thead><tr><th>Id</th><th>Duration (µs)</th><th>Command</th><th>Client</th></tr></thead><tbody>",
    );
    for e in log.items() {
        let f = e.items();
        let text = |i: usize| f.get(i).map(Resp::text).unwrap_or_default();
        let cmd = f
            .get(3)
            .map(|c| join(c.items(), 1, " "))
            .unwrap_or_default();
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td><pre>{}</pre></td><td>{}</td></tr>",
            escape(&text(0)),
            escape(&text(2)),
            escape(&truncate(&cmd, PREVIEW_CHARS)),
            escape(&text(4))
        );
    }
    if log.items().is_empty() {
        out.push_str("<tr><td colspan=\"4\" class=\"none\">empty</td></tr>");
    }
    out.push_str("</tbody></table></section>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_are_cut() {
        let long = "x".repeat(PREVIEW_CHARS + 10);
        let t = truncate(&long, PREVIEW_CHARS);
        assert_eq!(t.chars().count(), PREVIEW_CHARS + 1);
        assert!(t.ends_with('…'));
        assert_eq!(truncate("short", PREVIEW_CHARS), "short");
    }
}
