//! A read-only overview of every resource the control plane holds, for the emulator's status
//! page: per (account, region) the cache clusters, replication groups (shards with their
//! members' roles), serverless caches and snapshots, plus the global datastores of every
//! account, with the supervisor key of every node so the page can join them to the nodes'
//! figures.
//!
//! Place in the flow: `server` hands [`Service::overview`] to `crate::status` as a closure (as
//! it does resource counts to `/health`), so the page depends on no control-plane internals.
//! Reads each region under its lock briefly and copies plain values out.

use serde_json::{Value, json};

use crate::control::handlers::Service;
use crate::state::{Region, lock};

impl Service {
    /// `{"regions": [{"account", "region", "clusters", "replication_groups", "serverless",
    /// "snapshots"}], "global_datastores": [...]}`; regions without any resource are listed
    /// too (an account's region exists once a request named it).
    pub fn overview(&self) -> Value {
        let mut regions = Vec::new();
        for region in self.inner.store.regions() {
            let r = lock(&region);
            regions.push(json!({
                "account": r.account,
                "region": r.region,
                "clusters": clusters(&r),
                "replication_groups": replication_groups(&r),
                "serverless": serverless(&r),
                "snapshots": snapshots(&r),
            }));
        }
        regions.sort_by_key(|v| (v["account"].to_string(), v["region"].to_string()));
        json!({"regions": regions, "global_datastores": self.global_overview()})
    }

    fn global_overview(&self) -> Vec<Value> {
        let globals = self.inner.store.globals();
        let mut out = Vec::new();
        for (account, groups) in &globals.accounts {
            for g in groups.values() {
                let members: Vec<Value> = g
                    .members
                    .iter()
                    .map(|m| {
                        json!({
                            "replication_group_id": m.replication_group_id,
                            "region": m.region,
                            "role": m.role.as_str(),
                            "status": m.status.as_str(),
                        })
                    })
                    .collect();
                out.push(json!({
                    "account": account,
                    "id": g.id,
                    "status": g.status.as_str(),
                    "engine": g.engine,
                    "engine_version": g.engine_version,
                    "members": members,
                }));
            }
        }
        out
    }
}

/// Supervisor key of a cluster's node (the scheme `handlers::lifecycle` starts them under).
fn node_key(r: &Region, cluster: &str, node: &str) -> String {
    format!("{}/{}/{}/{}", r.account, r.region, cluster, node)
}

fn clusters(r: &Region) -> Vec<Value> {
    r.cluster_order
        .iter()
        .filter_map(|id| r.clusters.get(id))
        .map(|c| {
            let nodes: Vec<Value> = c
                .nodes
                .iter()
                .map(|n| json!({"id": n.id, "key": node_key(r, &c.id, &n.id)}))
                .collect();
            json!({
                "id": c.id,
                "engine": c.engine,
                "engine_version": c.engine_version,
                "node_type": c.node_type,
                "status": c.status.as_str(),
                "replication_group_id": c.replication_group_id,
                "nodes": nodes,
            })
        })
        .collect()
}

fn replication_groups(r: &Region) -> Vec<Value> {
    r.replication_group_order
        .iter()
        .filter_map(|id| r.replication_groups.get(id))
        .map(|g| {
            let shards: Vec<Value> = g
                .node_groups
                .iter()
                .map(|ng| {
                    let members: Vec<Value> = ng
                        .members
                        .iter()
                        .map(|m| {
                            json!({
                                "cluster_id": m,
                                "role": if *m == ng.primary { "primary" } else { "replica" },
                                "key": node_key(r, m, "0001"),
                            })
                        })
                        .collect();
                    json!({"id": ng.id, "slots": ng.slots_string(), "members": members})
                })
                .collect();
            json!({
                "id": g.id,
                "engine": g.engine,
                "engine_version": g.engine_version,
                "status": g.status.as_str(),
                "cluster_mode": g.cluster_enabled,
                "shards": shards,
            })
        })
        .collect()
}

fn serverless(r: &Region) -> Vec<Value> {
    r.serverless
        .caches
        .values()
        .map(|c| {
            json!({
                "name": c.name,
                "engine": c.engine,
                "engine_version": c.full_engine_version,
                "status": c.status.as_str(),
                "endpoint": c.endpoint.as_ref().map(|e| format!("{}:{}", e.address, e.port)),
                "key": format!("{}/{}/serverless:{}", r.account, r.region, c.name),
            })
        })
        .collect()
}

fn snapshots(r: &Region) -> Vec<Value> {
    let mut out: Vec<Value> = r
        .snapshots
        .values()
        .map(|s| {
            json!({
                "name": s.name,
                "status": s.status.as_str(),
                "source": s.source,
                "of": s.replication_group_id.clone().or_else(|| s.cache_cluster_id.clone()),
                "engine": s.engine,
                "serverless": false,
            })
        })
        .collect();
    out.extend(r.serverless.snapshots.values().map(|s| {
        json!({
            "name": s.name,
            "status": s.status,
            "source": s.snapshot_type,
            "of": s.cache_name,
            "engine": s.engine,
            "serverless": true,
        })
    }));
    out
}
