//! Unit tests of the state file: a round trip through `Store::encode` and `decode` keeps every
//! record, interrupted transitions settle, and corrupt, truncated or newer files are refused
//! with the file, line, column and byte offset.

use std::path::Path;
use std::sync::Arc;

use time::macros::datetime;

use super::persist::{FORMAT_VERSION, LoadError, decode};
use super::*;

fn store() -> Store {
    Store::new(Arc::new(ManualClock::new(
        datetime!(2025-01-01 00:00:00.123 UTC),
    )))
}

fn cluster(id: &str, status: ClusterStatus) -> CacheClusterRecord {
    let now = datetime!(2025-01-01 00:00:00.123 UTC);
    CacheClusterRecord {
        id: id.to_string(),
        engine: "redis".to_string(),
        engine_version: "7.1.0".to_string(),
        family: "redis7".to_string(),
        node_type: "cache.t3.micro".to_string(),
        status,
        nodes: vec![CacheNodeRecord {
            id: "0001".to_string(),
            status: NodeStatus::Creating,
            create_time: now,
            endpoint: Some(EndpointRecord {
                address: "127.0.1.7".to_string(),
                ip: "127.0.1.7"
                    .parse()
                    .unwrap_or(std::net::Ipv4Addr::LOCALHOST.into()),
                port: 6379,
            }),
            availability_zone: "us-east-1a".to_string(),
            parameter_group_status: ParameterStatus::InSync,
        }],
        az_mode: "single-az".to_string(),
        preferred_availability_zone: "us-east-1a".to_string(),
        port: 6379,
        parameter_group: "default.redis7".to_string(),
        parameter_apply_status: ParameterStatus::InSync,
        subnet_group: "default".to_string(),
        security_group_ids: vec!["sg-1".to_string()],
        cache_security_groups: Vec::new(),
        auto_minor_version_upgrade: true,
        snapshot_retention_limit: Some(1),
        snapshot_window: Some("05:00-06:00".to_string()),
        maintenance_window: "sun:23:00-mon:01:30".to_string(),
        notification_topic_arn: None,
        notification_topic_status: None,
        auth_token: Some("a-long-enough-token".to_string()),
        auth_token_previous: Some(PreviousAuth::Open),
        auth_token_last_modified: Some(now),
        transit_encryption_enabled: false,
        transit_encryption_mode: None,
        at_rest_encryption_enabled: false,
        network_type: "ipv4".to_string(),
        ip_discovery: "ipv4".to_string(),
        create_time: now,
        replication_group_id: None,
        configuration_endpoint: None,
        pending: PendingModifications {
            num_cache_nodes: Some(2),
            ..Default::default()
        },
        config_version: 3,
        generation: 7,
    }
}

/// A store with one record of each common kind in two regions.
fn populated() -> Store {
    let s = store();
    let now = s.now();
    {
        let r = s.region("000000000000", "us-east-1");
        let mut r = lock(&r);
        r.insert_cluster(cluster("web", ClusterStatus::Available));
        r.add_tags(
            ResourceKind::Cluster,
            "web",
            &[Tag {
                key: "team".into(),
                value: "cache".into(),
            }],
        );
        r.event(
            SourceType::CacheCluster,
            "web",
            "Cache cluster created",
            now,
        );
        if let Some(pg) = r.parameter_groups.get_mut("default.redis7") {
            pg.user_values
                .insert("maxmemory-policy".into(), "allkeys-lru".into());
        }
    }
    {
        // Collections keyed by pairs, and the global datastores outside the regions.
        let r = s.region("000000000000", "us-east-1");
        let mut r = lock(&r);
        r.update_actions.insert(
            ("elasticache-20250101-001".into(), "web".into()),
            UpdateActionRecord {
                service_update: "elasticache-20250101-001".into(),
                replication_group_id: None,
                cache_cluster_id: Some("web".into()),
                phase: UpdateActionPhase::Applying,
                since_ms: 1,
                until_ms: 2,
                started_ms: 1,
                nodes_done: Vec::new(),
                current: None,
                node_times: Default::default(),
                running: false,
            },
        );
    }
    s.globals()
        .accounts
        .entry("000000000000".into())
        .or_default()
        .insert(
            "ldgnf-g".into(),
            GlobalGroupRecord {
                id: "ldgnf-g".into(),
                description: String::new(),
                status: GlobalStatus::PrimaryOnly,
                engine: "redis".into(),
                engine_version: "7.1.0".into(),
                node_type: "cache.r7g.large".into(),
                cluster_enabled: false,
                auth_token_enabled: false,
                transit_encryption_enabled: false,
                at_rest_encryption_enabled: false,
                node_groups: vec![("ldgnf-g-0001".into(), vec![(0, 16383)])],
                members: Vec::new(),
                generation: 1,
            },
        );
    s.region("111111111111", "eu-west-1");
    s
}

#[test]
fn a_round_trip_keeps_every_record_and_the_bytes() {
    let s = populated();
    let bytes = s.encode();
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains(&format!("\"format_version\": {FORMAT_VERSION}")));
    assert!(
        text.contains("\"2025-01-01T00:00:00.123Z\""),
        "AWS timestamps"
    );
    let doc = decode(Path::new("state.json"), &bytes).expect("decodes");
    assert_eq!(doc.regions.len(), 2);
    let again = store();
    again.restore(doc.regions, doc.globals);
    assert_eq!(again.encode(), bytes, "encode(decode(x)) == x");
    assert!(
        again
            .globals()
            .of("000000000000")
            .any(|g| g.id == "ldgnf-g")
    );
    let r = again.region("000000000000", "us-east-1");
    let r = lock(&r);
    assert_eq!(r.update_actions.len(), 1);
    let c = r.cluster("web").expect("cluster restored");
    assert_eq!(c.generation, 7);
    assert_eq!(c.pending.num_cache_nodes, Some(2));
    assert_eq!(c.auth_token_previous, Some(PreviousAuth::Open));
    assert_eq!(c.nodes[0].endpoint.as_ref().map(|e| e.port), Some(6379));
    assert_eq!(r.tags_of(ResourceKind::Cluster, "web").len(), 1);
    assert_eq!(r.cluster_order, vec!["web".to_string()]);
    assert_eq!(
        r.effective_parameters("default.redis7")
            .get("maxmemory-policy")
            .map(String::as_str),
        Some("allkeys-lru")
    );
    let q = EventQuery {
        source_identifier: None,
        source_type: None,
        start: datetime!(2024-12-31 00:00 UTC),
        end: datetime!(2025-01-02 00:00 UTC),
    };
    assert_eq!(r.query_events(&q).len(), 1);
}

#[test]
fn a_file_without_newer_collections_still_loads() {
    // A region written before a collection existed: the missing fields take their defaults.
    let doc = br#"{"format_version": 1, "regions": [{"account": "000000000000",
        "region": "us-east-1"}]}"#;
    let loaded = decode(Path::new("old.json"), doc).expect("older file loads");
    assert!(loaded.regions[0].clusters.is_empty());
    assert!(loaded.regions[0].snapshots.is_empty());
    assert!(loaded.globals.accounts.is_empty());
}

#[test]
fn interrupted_transitions_settle() {
    let s = store();
    let r = s.region("000000000000", "us-east-1");
    let mut r = lock(&r);
    r.insert_cluster(cluster("new", ClusterStatus::Creating));
    r.insert_cluster(cluster("rebooting", ClusterStatus::Rebooting));
    r.insert_cluster(cluster("gone", ClusterStatus::Deleting));
    r.settle_after_restart();
    assert_eq!(
        r.cluster("new").map(|c| c.status),
        Ok(ClusterStatus::Available)
    );
    assert_eq!(
        r.cluster("new").map(|c| c.nodes[0].status),
        Ok(NodeStatus::Available)
    );
    assert_eq!(
        r.cluster("rebooting").map(|c| c.status),
        Ok(ClusterStatus::Available)
    );
    assert!(r.cluster("gone").is_err(), "a deletion completes");
    assert!(!r.cluster_order.contains(&"gone".to_string()));
}

#[test]
fn corrupt_and_truncated_files_name_the_place() {
    let bytes = populated().encode();
    let cut = bytes.len() / 2;
    let err = decode(Path::new("/d/state.json"), &bytes[..cut]).err();
    let Some(LoadError::Corrupt {
        path, offset, len, ..
    }) = &err
    else {
        panic!("truncated file accepted: {err:?}");
    };
    assert_eq!(path, Path::new("/d/state.json"));
    assert_eq!(*len, cut);
    assert!(
        *offset <= cut && *offset + 2 >= cut,
        "offset {offset} near the cut {cut}"
    );
    let message = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        message.contains("/d/state.json") && message.contains("line"),
        "{message}"
    );

    let mut garbled = bytes.clone();
    garbled[40] = b'#';
    let err = decode(Path::new("s.json"), &garbled).err();
    match err {
        Some(LoadError::Corrupt { line, offset, .. }) => {
            assert_eq!(offset, 40, "offset of the bad byte");
            assert!(line >= 1);
        }
        other => panic!("garbled file accepted: {other:?}"),
    }
}

#[test]
fn a_newer_format_is_refused() {
    let doc = format!(
        r#"{{"format_version": {}, "regions": [], "something_new": 1}}"#,
        FORMAT_VERSION + 1
    );
    match decode(Path::new("s.json"), doc.as_bytes()) {
        Err(LoadError::Newer {
            found, supported, ..
        }) => {
            assert_eq!(found, FORMAT_VERSION + 1);
            assert_eq!(supported, FORMAT_VERSION);
        }
        other => panic!("newer file not refused: {other:?}"),
    }
}

/// A replication group as StartMigration leaves it: `migrating`, one member.
fn migrating_group(id: &str) -> ReplicationGroupRecord {
    let now = datetime!(2025-01-01 00:00:00.123 UTC);
    let text = |s: &str| s.to_string();
    ReplicationGroupRecord {
        id: text(id),
        description: String::new(),
        status: GroupStatus::Migrating,
        engine: text("redis"),
        engine_version: text("7.1.0"),
        family: text("redis7"),
        node_type: text("cache.r7g.large"),
        port: 6379,
        parameter_group: text("default.redis7"),
        subnet_group: text("default"),
        security_group_ids: Vec::new(),
        cache_security_groups: Vec::new(),
        cluster_enabled: false,
        cluster_mode: text("disabled"),
        automatic_failover: false,
        multi_az: false,
        node_groups: vec![NodeGroupRecord {
            id: text("0001"),
            slots: Vec::new(),
            members: vec![format!("{id}-001")],
            primary: format!("{id}-001"),
            status: GroupStatus::Migrating,
        }],
        primary_endpoint: None,
        reader_endpoint: None,
        configuration_endpoint: None,
        auth_token: None,
        auth_token_previous: None,
        auth_token_last_modified: None,
        transit_encryption_enabled: false,
        transit_encryption_mode: None,
        at_rest_encryption_enabled: false,
        kms_key_id: None,
        snapshot_retention_limit: 0,
        snapshot_window: text("05:00-06:00"),
        snapshotting_cluster_id: None,
        maintenance_window: text("sun:23:00-mon:01:30"),
        auto_minor_version_upgrade: true,
        network_type: text("ipv4"),
        ip_discovery: text("ipv4"),
        data_tiering: text("disabled"),
        create_time: now,
        pending_primary: None,
        final_snapshot: None,
        generation: 3,
        user_group_ids: Vec::new(),
        pending_user_groups: None,
        pending_auth_token_status: None,
        global: None,
        resharding_progress: None,
    }
}

#[test]
fn an_interrupted_migration_ends_and_its_group_is_available() {
    // The source link of an online migration does not survive the process: after a restart
    // the group serves its own data again and takes a new StartMigration.
    let s = store();
    {
        let r = s.region("000000000000", "us-east-1");
        let mut r = lock(&r);
        r.replication_groups
            .insert("mig".into(), migrating_group("mig"));
        r.migrations.insert(
            "mig".into(),
            MigrationRecord {
                replication_group_id: "mig".into(),
                source: ("10.0.0.5".into(), 6379),
                primary_node: "000000000000/us-east-1/mig-001/0001".into(),
                started: 1_735_689_600,
                more_links: Vec::new(),
            },
        );
    }
    let doc = decode(Path::new("state.json"), &s.encode()).expect("decodes");
    let mut regions = doc.regions;
    assert_eq!(regions[0].migrations.len(), 1, "the record is in the file");
    regions[0].settle_after_restart();
    let r = &regions[0];
    assert!(r.migrations.is_empty(), "no migration runs after a restart");
    let g = r.replication_groups.get("mig").expect("group kept");
    assert_eq!(g.status, GroupStatus::Available);
    assert_eq!(g.node_groups[0].status, GroupStatus::Available);
}

#[test]
fn an_interrupted_service_update_reads_stopped_with_its_nodes_done() {
    // The node restarts of an applied update run in the process: after a restart the action
    // is stopped, keeps the nodes it finished, and a new apply goes on from there.
    let s = store();
    let key = ("elasticache-20250318-001".to_string(), "web".to_string());
    {
        let r = s.region("000000000000", "us-east-1");
        let mut r = lock(&r);
        r.update_actions.insert(
            key.clone(),
            UpdateActionRecord {
                service_update: key.0.clone(),
                replication_group_id: Some("web".into()),
                cache_cluster_id: None,
                phase: UpdateActionPhase::Applying,
                since_ms: 10,
                until_ms: 1_010,
                started_ms: 10,
                nodes_done: vec!["web-002/0001".into()],
                running: true,
                current: Some(("web-001/0001".into(), 900)),
                node_times: [("web-002/0001".to_string(), (10, 800))].into(),
            },
        );
    }
    let doc = decode(Path::new("state.json"), &s.encode()).expect("decodes");
    let mut regions = doc.regions;
    assert_eq!(regions[0].update_actions[&key].status(5_000), "in-progress");
    regions[0].settle_after_restart();
    let a = &regions[0].update_actions[&key];
    assert_eq!(a.status(5_000), "stopped");
    assert_eq!(a.nodes_done, ["web-002/0001"]);
    assert_eq!(a.node_status("web-002/0001", "stopped"), "complete");
    assert_eq!(
        a.current, None,
        "no node is being restarted after a restart"
    );
    assert_eq!(a.node_status("web-001/0001", "stopped"), "stopped");
    assert_eq!(a.node_times["web-002/0001"], (10, 800));
}
