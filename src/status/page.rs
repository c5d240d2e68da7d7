//! Renders the status page (`GET /`) from the report `Status::report` builds: one table per
//! kind of resource, one row per node with its figures, and the inline script that polls
//! `status.json` and updates the node rows and statuses in place.
//!
//! Every value from the report is escaped with `html::escape` (the report holds user-chosen
//! ids); numbers are formatted here and, identically, by the script (`fmtBytes`).

use std::fmt::Write;

use serde_json::Value;

use super::html::{escape, url_component};

const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

/// The whole page.
pub fn render(report: &Value) -> String {
    let mut out = String::with_capacity(16 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <link rel=\"icon\" href=\"data:,\"><title>elasticache-local status</title><style>{STYLE}</style></head><body>\
         <header><h1>elasticache-local</h1><span>version {} · up <span id=\"uptime\">{}</span> s · \
         <span id=\"refreshed\">server-rendered</span></span></header><main id=\"main\">",
        escape(report["version"].as_str().unwrap_or("")),
        report["uptime_seconds"].as_u64().unwrap_or(0),
    );
    out.push_str(&main_html(report));
    let _ = write!(out, "</main><script>{SCRIPT}</script></body></html>");
    out
}

/// The `<main>` content: every table.
pub fn main_html(report: &Value) -> String {
    let mut out = String::new();
    let empty = Vec::new();
    let regions = report["regions"].as_array().unwrap_or(&empty);
    regions_table(&mut out, regions);
    clusters_table(&mut out, regions);
    groups_table(&mut out, regions);
    serverless_table(&mut out, regions);
    snapshots_table(&mut out, regions);
    globals_table(
        &mut out,
        report["global_datastores"].as_array().unwrap_or(&empty),
    );
    nodes_table(&mut out, report["nodes"].as_array().unwrap_or(&empty));
    faults_table(&mut out, report["faults"].as_array().unwrap_or(&empty));
    out
}

/// Active injected faults (`/_elasticache_local/faults`), with the nodes each one holds.
fn faults_table(out: &mut String, faults: &[Value]) {
    section(
        out,
        "faults",
        "Injected faults",
        &["Fault", "Type", "Nodes"],
    );
    for f in faults {
        let nodes: Vec<String> = list(&f["nodes"]).iter().map(t).collect();
        let _ = write!(
            out,
            "<tr><td class=\"id\">{}</td><td>{}</td><td>{}</td></tr>",
            t(&f["faultId"]),
            t(&f["type"]),
            nodes.join("<br>"),
        );
    }
    end(out, faults.len(), 3);
}

/// A JSON value as escaped text (`-` for null).
fn t(v: &Value) -> String {
    match v {
        Value::String(s) => escape(s),
        Value::Null => "-".to_string(),
        other => escape(&other.to_string()),
    }
}

fn section(out: &mut String, id: &str, title: &str, head: &[&str]) {
    let _ = write!(
        out,
        "<section><h2>{title}</h2><table id=\"{id}\"><thead><tr>"
    );
    for h in head {
        let _ = write!(out, "<th>{h}</th>");
    }
    out.push_str("</tr></thead><tbody>");
}

fn end(out: &mut String, rows: usize, cols: usize) {
    if rows == 0 {
        let _ = write!(
            out,
            "<tr><td colspan=\"{cols}\" class=\"none\">none</td></tr>"
        );
    }
    out.push_str("</tbody></table></section>");
}

/// `region · account` cell.
fn place(r: &Value) -> String {
    format!("{} · {}", t(&r["region"]), t(&r["account"]))
}

/// A status cell the script updates (`data-status` names the resource).
fn status_cell(kind: &str, r: &Value, id: &Value, status: &Value) -> String {
    let key = format!(
        "{kind}/{}/{}/{}",
        plain(&r["account"]),
        plain(&r["region"]),
        plain(id)
    );
    format!(
        "<td class=\"status s-{0}\" data-status=\"{1}\">{0}</td>",
        t(status),
        escape(&key)
    )
}

fn plain(v: &Value) -> String {
    v.as_str()
        .map(str::to_string)
        .unwrap_or_else(|| v.to_string())
}

fn list(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or(&[])
}

fn regions_table(out: &mut String, regions: &[Value]) {
    section(
        out,
        "regions",
        "Accounts and regions",
        &[
            "Account",
            "Region",
            "Clusters",
            "Replication groups",
            "Serverless",
            "Snapshots",
        ],
    );
    for r in regions {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            t(&r["account"]),
            t(&r["region"]),
            list(&r["clusters"]).len(),
            list(&r["replication_groups"]).len(),
            list(&r["serverless"]).len(),
            list(&r["snapshots"]).len(),
        );
    }
    end(out, regions.len(), 6);
}

fn clusters_table(out: &mut String, regions: &[Value]) {
    section(
        out,
        "clusters",
        "Cache clusters",
        &[
            "Region",
            "Cluster",
            "Engine",
            "Node type",
            "Status",
            "Replication group",
            "Nodes",
        ],
    );
    let mut rows = 0;
    for r in regions {
        for c in list(&r["clusters"]) {
            rows += 1;
            let nodes: Vec<String> = list(&c["nodes"]).iter().map(|n| t(&n["id"])).collect();
            let _ = write!(
                out,
                "<tr><td>{}</td><td class=\"id\">{}</td><td>{} {}</td><td>{}</td>{}<td>{}</td><td>{}</td></tr>",
                place(r),
                t(&c["id"]),
                t(&c["engine"]),
                t(&c["engine_version"]),
                t(&c["node_type"]),
                status_cell("cluster", r, &c["id"], &c["status"]),
                t(&c["replication_group_id"]),
                nodes.join(", "),
            );
        }
    }
    end(out, rows, 7);
}

fn groups_table(out: &mut String, regions: &[Value]) {
    section(
        out,
        "replication-groups",
        "Replication groups",
        &[
            "Region",
            "Group",
            "Engine",
            "Status",
            "Cluster mode",
            "Shards (role: member)",
        ],
    );
    let mut rows = 0;
    for r in regions {
        for g in list(&r["replication_groups"]) {
            rows += 1;
            let mut shards = String::new();
            for s in list(&g["shards"]) {
                let members: Vec<String> = list(&s["members"])
                    .iter()
                    .map(|m| {
                        format!(
                            "<span class=\"{0}\">{0}: {1}</span>",
                            t(&m["role"]),
                            t(&m["cluster_id"])
                        )
                    })
                    .collect();
                let slots = s["slots"]
                    .as_str()
                    .filter(|x| !x.is_empty())
                    .map(|x| format!(" [{}]", escape(x)))
                    .unwrap_or_default();
                let _ = write!(
                    shards,
                    "<div>shard {}{slots}: {}</div>",
                    t(&s["id"]),
                    members.join(", ")
                );
            }
            let _ = write!(
                out,
                "<tr><td>{}</td><td class=\"id\">{}</td><td>{} {}</td>{}<td>{}</td><td>{}</td></tr>",
                place(r),
                t(&g["id"]),
                t(&g["engine"]),
                t(&g["engine_version"]),
                status_cell("group", r, &g["id"], &g["status"]),
                if g["cluster_mode"].as_bool() == Some(true) {
                    "enabled"
                } else {
                    "disabled"
                },
                shards,
            );
        }
    }
    end(out, rows, 6);
}

fn serverless_table(out: &mut String, regions: &[Value]) {
    section(
        out,
        "serverless",
        "Serverless caches",
        &["Region", "Cache", "Engine", "Status", "Endpoint"],
    );
    let mut rows = 0;
    for r in regions {
        for c in list(&r["serverless"]) {
            rows += 1;
            let _ = write!(
                out,
                "<tr><td>{}</td><td class=\"id\">{}</td><td>{} {}</td>{}<td>{}</td></tr>",
                place(r),
                t(&c["name"]),
                t(&c["engine"]),
                t(&c["engine_version"]),
                status_cell("serverless", r, &c["name"], &c["status"]),
                t(&c["endpoint"]),
            );
        }
    }
    end(out, rows, 5);
}

fn snapshots_table(out: &mut String, regions: &[Value]) {
    section(
        out,
        "snapshots",
        "Snapshots",
        &["Region", "Snapshot", "Of", "Engine", "Source", "Status"],
    );
    let mut rows = 0;
    for r in regions {
        for s in list(&r["snapshots"]) {
            rows += 1;
            let _ = write!(
                out,
                "<tr><td>{}</td><td class=\"id\">{}</td><td>{}{}</td><td>{}</td><td>{}</td>{}</tr>",
                place(r),
                t(&s["name"]),
                t(&s["of"]),
                if s["serverless"].as_bool() == Some(true) {
                    " (serverless)"
                } else {
                    ""
                },
                t(&s["engine"]),
                t(&s["source"]),
                status_cell("snapshot", r, &s["name"], &s["status"]),
            );
        }
    }
    end(out, rows, 6);
}

fn globals_table(out: &mut String, globals: &[Value]) {
    section(
        out,
        "global-datastores",
        "Global datastores",
        &["Account", "Datastore", "Engine", "Status", "Members"],
    );
    for g in globals {
        let members: Vec<String> = list(&g["members"])
            .iter()
            .map(|m| {
                format!(
                    "{} in {} ({}, {})",
                    t(&m["replication_group_id"]),
                    t(&m["region"]),
                    t(&m["role"]),
                    t(&m["status"])
                )
            })
            .collect();
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"id\">{}</td><td>{} {}</td><td class=\"status\">{}</td><td>{}</td></tr>",
            t(&g["account"]),
            t(&g["id"]),
            t(&g["engine"]),
            t(&g["engine_version"]),
            t(&g["status"]),
            members.join("<br>"),
        );
    }
    end(out, globals.len(), 5);
}

/// Node table columns, in the order the script fills them too.
const NODE_COLUMNS: &[&str] = &[
    "Node",
    "Address",
    "Engine",
    "Role",
    "Keys",
    "Memory used / max",
    "Ops/s",
    "Connections",
    "Evictions",
    "Repl. offset",
    "Lag (bytes)",
];

fn nodes_table(out: &mut String, nodes: &[Value]) {
    section(out, "nodes", "Nodes", NODE_COLUMNS);
    for n in nodes {
        node_row(out, n);
    }
    end(out, nodes.len(), NODE_COLUMNS.len());
}

fn node_row(out: &mut String, n: &Value) {
    let key = plain(&n["key"]);
    let browsable = n["engine"] != "memcached";
    let name = if browsable {
        format!(
            "<a href=\"/_elasticache_local/nodes/{}/keys\">{}</a>",
            url_component(&key),
            escape(&key)
        )
    } else {
        escape(&key)
    };
    let role = match (&n["role"], &n["primary"]) {
        (r, Value::String(p)) if r == "replica" => format!("replica of {}", escape(p)),
        (r, _) => t(r),
    };
    let _ = write!(
        out,
        "<tr data-node=\"{}\"><td>{name}</td><td>{}:{}</td><td>{} {}</td><td>{role}</td>\
         <td data-f=\"keys\">{}</td><td data-f=\"memory\">{} / {}</td><td data-f=\"ops\">{}</td>\
         <td data-f=\"connections\">{}</td><td data-f=\"evictions\">{}</td>\
         <td data-f=\"offset\">{}</td><td data-f=\"lag\">{}</td></tr>",
        escape(&key),
        t(&n["address"]),
        t(&n["port"]),
        t(&n["engine"]),
        t(&n["engine_version"]),
        t(&n["keys"]),
        bytes(&n["used_memory"]),
        max_bytes(&n["maxmemory"]),
        t(&n["ops_per_sec"]),
        t(&n["connections"]),
        t(&n["evictions"]),
        t(&n["replication_offset"]),
        t(&n["replication_lag"]),
    );
}

/// Bytes in binary units (`1.5 MiB`), as the script's `fmtBytes` writes them.
fn bytes(v: &Value) -> String {
    let n = v.as_u64().unwrap_or(0) as f64;
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut x = n;
    let mut u = 0;
    while x >= 1024.0 && u + 1 < UNITS.len() {
        x /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{} B", n as u64)
    } else {
        format!("{x:.1} {}", UNITS[u])
    }
}

fn max_bytes(v: &Value) -> String {
    if v.as_u64().unwrap_or(0) == 0 {
        "no limit".to_string()
    } else {
        bytes(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn user_chosen_ids_are_escaped_in_every_table() {
        let evil = "<img src=x onerror=alert(1)>";
        let region = json!({"account": evil, "region": evil,
            "clusters": [{"id": evil, "engine": "redis", "status": evil, "nodes": [{"id": evil}]}],
            "replication_groups": [{"id": evil, "shards": [{"id": evil, "slots": evil,
                "members": [{"cluster_id": evil, "role": "primary"}]}]}],
            "serverless": [{"name": evil}], "snapshots": [{"name": evil, "of": evil}]});
        let report = json!({"version": evil, "regions": [region],
            "global_datastores": [{"id": evil, "members": [{"replication_group_id": evil}]}],
            "nodes": [{"key": evil, "engine": "redis", "role": "replica", "primary": evil}]});
        let page = render(&report);
        assert!(!page.contains("<img"), "unescaped markup in the page");
        assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;"));
    }

    #[test]
    fn bytes_read_in_binary_units() {
        assert_eq!(bytes(&json!(512)), "512 B");
        assert_eq!(bytes(&json!(1536)), "1.5 KiB");
        assert_eq!(bytes(&json!(3 * 1024 * 1024)), "3.0 MiB");
        assert_eq!(max_bytes(&json!(0)), "no limit");
    }
}
