//! Unit tests of the handlers driven through the `ElastiCacheApi` trait with a real
//! supervisor: status transitions, the configured delay, events and time windows.

use std::sync::Arc;
use std::time::Duration;

use time::macros::datetime;

use super::*;
use crate::state::{ManualClock, Store};

fn config(delay: Duration) -> Config {
    let mut c = Config::for_tests();
    let b = 2 + (std::process::id() % 200) as u8;
    let third = 210 + (rand::random::<u8>() % 40);
    c.loopback_base = format!("127.{b}.{third}.1")
        .parse()
        .unwrap_or(c.loopback_base);
    c.create_delay = delay;
    c
}

fn service(delay: Duration) -> (Service, Arc<Supervisor>) {
    let cfg = config(delay);
    let sup = Arc::new(Supervisor::new(&cfg));
    (Service::new(&cfg, sup.clone()), sup)
}

fn ctx() -> RequestContext {
    RequestContext::for_tests("Test")
}

fn create_input(id: &str, engine: &str) -> CreateCacheClusterInput {
    CreateCacheClusterInput {
        cache_cluster_id: id.to_string(),
        engine: Some(engine.to_string()),
        cache_node_type: Some("cache.t3.micro".to_string()),
        ..Default::default()
    }
}

async fn status_of(svc: &Service, id: &str) -> Result<String, ApiError> {
    let out = svc
        .describe_cache_clusters(
            &ctx(),
            DescribeCacheClustersInput {
                cache_cluster_id: Some(id.to_string()),
                ..Default::default()
            },
        )
        .await?;
    Ok(out
        .cache_clusters
        .and_then(|c| c.into_iter().next())
        .and_then(|c| c.cache_cluster_status)
        .unwrap_or_default())
}

async fn wait_until(svc: &Service, id: &str, want: Option<&str>) {
    for _ in 0..400 {
        match (status_of(svc, id).await, want) {
            (Ok(s), Some(w)) if s == w => return,
            (Err(e), None) if e.wire_code() == "CacheClusterNotFound" => return,
            _ => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    panic!("{id} never reached {want:?}");
}

#[tokio::test]
async fn create_then_delete_walks_the_aws_statuses() {
    let (svc, sup) = service(Duration::ZERO);
    let out = svc
        .create_cache_cluster(&ctx(), create_input("Walk", "valkey"))
        .await
        .expect("create");
    let c = out.cache_cluster.expect("cluster");
    assert_eq!(c.cache_cluster_status.as_deref(), Some("creating"));
    assert_eq!(c.engine_version.as_deref(), Some("8.1.1"));
    assert_eq!(
        c.cache_parameter_group
            .and_then(|g| g.cache_parameter_group_name)
            .as_deref(),
        Some("default.valkey8")
    );
    wait_until(&svc, "walk", Some("available")).await;
    assert_eq!(sup.counts().nodes.get("valkey"), Some(&1));
    assert_eq!(svc.resource_counts()["nodes"]["valkey"], 1);

    // Operations that need `available` are refused while another transition runs.
    let del = svc
        .delete_cache_cluster(
            &ctx(),
            DeleteCacheClusterInput {
                cache_cluster_id: "walk".into(),
                ..Default::default()
            },
        )
        .await
        .expect("delete");
    assert_eq!(
        del.cache_cluster
            .and_then(|c| c.cache_cluster_status)
            .as_deref(),
        Some("deleting")
    );
    let again = svc
        .delete_cache_cluster(
            &ctx(),
            DeleteCacheClusterInput {
                cache_cluster_id: "walk".into(),
                ..Default::default()
            },
        )
        .await;
    if let Err(e) = again {
        assert!(matches!(
            e.wire_code(),
            "InvalidCacheClusterState" | "CacheClusterNotFound"
        ));
    }
    wait_until(&svc, "walk", None).await;
    assert_eq!(sup.counts().nodes.get("valkey").copied().unwrap_or(0), 0);
    sup.shutdown_all().await;
}

#[tokio::test]
async fn configured_delay_keeps_transitional_statuses() {
    let (svc, sup) = service(Duration::from_millis(300));
    svc.create_cache_cluster(&ctx(), create_input("slow", "redis"))
        .await
        .expect("create");
    // The delay has not passed yet: the cluster still reports `creating`, and a modification
    // is refused as AWS refuses it on a cluster that is not available.
    assert_eq!(status_of(&svc, "slow").await.expect("describe"), "creating");
    let m = svc
        .modify_cache_cluster(
            &ctx(),
            ModifyCacheClusterInput {
                cache_cluster_id: "slow".into(),
                snapshot_retention_limit: Some(2),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(
        m.err().map(|e| e.wire_code()),
        Some("InvalidCacheClusterState")
    );
    wait_until(&svc, "slow", Some("available")).await;
    sup.shutdown_all().await;
}

#[tokio::test]
async fn events_follow_the_clock_window() {
    let cfg = config(Duration::ZERO);
    let sup = Arc::new(Supervisor::new(&cfg));
    let clock = Arc::new(ManualClock::new(datetime!(2025-03-01 12:00 UTC)));
    let svc = Service::with_store(&cfg, sup.clone(), Store::new(clock.clone()));
    svc.create_cache_subnet_group(
        &ctx(),
        CreateCacheSubnetGroupInput {
            cache_subnet_group_name: "g1".into(),
            cache_subnet_group_description: "d".into(),
            subnet_ids: vec!["subnet-1".into()],
            tags: None,
        },
    )
    .await
    .expect("subnet group");
    clock.advance(time::Duration::minutes(90));
    let recent = svc
        .describe_events(&ctx(), DescribeEventsInput::default())
        .await
        .expect("events");
    assert!(
        recent.events.unwrap_or_default().is_empty(),
        "default window is the last 60 minutes"
    );
    let wide = svc
        .describe_events(
            &ctx(),
            DescribeEventsInput {
                duration: Some(120),
                ..Default::default()
            },
        )
        .await
        .expect("events");
    let events = wide.events.unwrap_or_default();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].source_type.as_deref(), Some("cache-subnet-group"));
    let bad = svc
        .describe_events(
            &ctx(),
            DescribeEventsInput {
                source_type: Some("widget".into()),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(
        bad.err().map(|e| e.wire_code()),
        Some("InvalidParameterValue")
    );
    sup.shutdown_all().await;
}

#[tokio::test]
async fn engine_upgrade_moves_default_group_and_refuses_downgrade() {
    let (svc, sup) = service(Duration::ZERO);
    let mut input = create_input("up", "redis");
    input.engine_version = Some("6.2".into());
    svc.create_cache_cluster(&ctx(), input)
        .await
        .expect("create");
    wait_until(&svc, "up", Some("available")).await;
    let down = svc
        .modify_cache_cluster(
            &ctx(),
            ModifyCacheClusterInput {
                cache_cluster_id: "up".into(),
                engine_version: Some("6.0".into()),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(
        down.err().map(|e| e.wire_code()),
        Some("InvalidParameterValue")
    );
    let up = svc
        .modify_cache_cluster(
            &ctx(),
            ModifyCacheClusterInput {
                cache_cluster_id: "up".into(),
                engine_version: Some("7.1".into()),
                apply_immediately: Some(true),
                ..Default::default()
            },
        )
        .await
        .expect("upgrade")
        .cache_cluster
        .expect("cluster");
    assert_eq!(up.cache_cluster_status.as_deref(), Some("modifying"));
    assert_eq!(
        up.pending_modified_values
            .and_then(|p| p.engine_version)
            .as_deref(),
        Some("7.1.0")
    );
    wait_until(&svc, "up", Some("available")).await;
    let c = svc
        .describe_cache_clusters(
            &ctx(),
            DescribeCacheClustersInput {
                cache_cluster_id: Some("up".into()),
                ..Default::default()
            },
        )
        .await
        .expect("describe")
        .cache_clusters
        .and_then(|c| c.into_iter().next())
        .expect("cluster");
    assert_eq!(c.engine_version.as_deref(), Some("7.1.0"));
    assert_eq!(
        c.cache_parameter_group
            .and_then(|g| g.cache_parameter_group_name)
            .as_deref(),
        Some("default.redis7")
    );
    assert_eq!(
        c.pending_modified_values.and_then(|p| p.engine_version),
        None
    );
    sup.shutdown_all().await;
}

#[tokio::test]
async fn redis_cluster_switches_to_valkey_in_place() {
    let (svc, sup) = service(Duration::ZERO);
    svc.create_cache_cluster(&ctx(), create_input("switch", "redis"))
        .await
        .expect("create");
    wait_until(&svc, "switch", Some("available")).await;
    let bad = svc
        .modify_cache_cluster(
            &ctx(),
            ModifyCacheClusterInput {
                cache_cluster_id: "switch".into(),
                engine: Some("memcached".into()),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(
        bad.err().map(|e| e.wire_code()),
        Some("InvalidParameterValue")
    );
    svc.modify_cache_cluster(
        &ctx(),
        ModifyCacheClusterInput {
            cache_cluster_id: "switch".into(),
            engine: Some("valkey".into()),
            engine_version: Some("8.0".into()),
            ..Default::default()
        },
    )
    .await
    .expect("switch");
    wait_until(&svc, "switch", Some("available")).await;
    let c = svc
        .describe_cache_clusters(
            &ctx(),
            DescribeCacheClustersInput {
                cache_cluster_id: Some("switch".into()),
                ..Default::default()
            },
        )
        .await
        .expect("describe")
        .cache_clusters
        .and_then(|c| c.into_iter().next())
        .expect("cluster");
    assert_eq!(
        (c.engine.as_deref(), c.engine_version.as_deref()),
        (Some("valkey"), Some("8.0.1"))
    );
    assert_eq!(
        c.cache_parameter_group
            .and_then(|g| g.cache_parameter_group_name)
            .as_deref(),
        Some("default.valkey8")
    );
    assert_eq!(sup.counts().nodes.get("valkey"), Some(&1));
    sup.shutdown_all().await;
}

#[tokio::test]
async fn describe_pages_through_every_record_once() {
    let (svc, sup) = service(Duration::ZERO);
    for i in 0..44 {
        svc.create_cache_subnet_group(
            &ctx(),
            CreateCacheSubnetGroupInput {
                cache_subnet_group_name: format!("g{i:02}"),
                cache_subnet_group_description: "d".into(),
                subnet_ids: vec![format!("subnet-{i}")],
                tags: None,
            },
        )
        .await
        .expect("create");
    }
    let mut names = Vec::new();
    let mut marker = None;
    let mut pages = 0;
    loop {
        let out = svc
            .describe_cache_subnet_groups(
                &ctx(),
                DescribeCacheSubnetGroupsInput {
                    max_records: Some(20),
                    marker: marker.clone(),
                    ..Default::default()
                },
            )
            .await
            .expect("page");
        pages += 1;
        names.extend(
            out.cache_subnet_groups
                .unwrap_or_default()
                .into_iter()
                .filter_map(|g| g.cache_subnet_group_name),
        );
        match out.marker {
            Some(m) => marker = Some(m),
            None => break,
        }
        assert!(pages < 10, "pagination must end");
    }
    // 44 groups plus the pre-created `default` one: 20 + 20 + 5.
    assert_eq!(pages, 3);
    assert_eq!(names.len(), 45);
    let mut unique = names.clone();
    unique.dedup();
    assert_eq!(unique.len(), 45);
    sup.shutdown_all().await;
}
