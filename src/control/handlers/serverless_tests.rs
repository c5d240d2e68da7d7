//! Unit tests of the serverless cache handlers through the `ElastiCacheApi` trait with a real
//! supervisor: the daily automatic snapshots under a manual clock, the data a snapshot holds
//! reaching a restored cache, and the transition statuses.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::state::{ManualClock, Store};

fn service(delay: Duration, clock: Option<Arc<ManualClock>>) -> Service {
    let mut cfg = Config::for_tests();
    let b = 2 + (std::process::id() % 200) as u8;
    cfg.loopback_base = format!("127.{b}.{}.1", 100 + rand::random::<u8>() % 20)
        .parse()
        .unwrap_or(cfg.loopback_base);
    cfg.create_delay = delay;
    let sup = Arc::new(Supervisor::new(&cfg));
    match clock {
        Some(c) => Service::with_store(&cfg, sup, Store::new(c)),
        None => Service::new(&cfg, sup),
    }
}

fn ctx() -> RequestContext {
    RequestContext::for_tests("Test")
}

async fn status(svc: &Service, name: &str) -> Option<String> {
    let input = DescribeServerlessCachesInput {
        serverless_cache_name: Some(name.to_string()),
        ..Default::default()
    };
    let out = svc.describe_serverless_caches(&ctx(), input).await.ok()?;
    out.serverless_caches?.into_iter().next()?.status
}

async fn wait_status(svc: &Service, name: &str, want: &str) {
    for _ in 0..500 {
        if status(svc, name).await.as_deref() == Some(want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{name} never became {want}");
}

/// (name, type, status) of every serverless snapshot.
async fn snapshots(svc: &Service) -> Vec<(String, String, String)> {
    let out = svc
        .describe_serverless_cache_snapshots(&ctx(), Default::default())
        .await
        .expect("describe snapshots");
    out.serverless_cache_snapshots
        .unwrap_or_default()
        .into_iter()
        .map(|s| {
            (
                s.serverless_cache_snapshot_name.unwrap_or_default(),
                s.snapshot_type.unwrap_or_default(),
                s.status.unwrap_or_default(),
            )
        })
        .collect()
}

async fn wait_snapshots_available(svc: &Service) {
    for _ in 0..500 {
        if snapshots(svc).await.iter().all(|s| s.2 == "available") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("snapshots never became available");
}

#[tokio::test]
async fn daily_snapshots_follow_the_time_and_the_retention() {
    let clock = Arc::new(ManualClock::new(
        time::macros::datetime!(2025-03-01 04:00 UTC),
    ));
    let svc = service(Duration::ZERO, Some(clock.clone()));
    let input = CreateServerlessCacheInput {
        serverless_cache_name: "daily".to_string(),
        engine: "valkey".to_string(),
        snapshot_retention_limit: Some(1),
        daily_snapshot_time: Some("05:00".to_string()),
        ..Default::default()
    };
    svc.create_serverless_cache(&ctx(), input)
        .await
        .expect("create");
    wait_status(&svc, "daily", "available").await;
    svc.run_snapshot_schedule();
    assert!(snapshots(&svc).await.is_empty(), "nothing before 05:00");

    clock.advance(time::Duration::minutes(90));
    svc.run_snapshot_schedule();
    svc.run_snapshot_schedule();
    wait_snapshots_available(&svc).await;
    let first = "automatic.daily-2025-03-01-05-00".to_string();
    let listed = snapshots(&svc).await;
    assert_eq!(
        listed,
        vec![(first.clone(), "automated".into(), "available".into())]
    );

    // A day later the first one has expired (1-day retention) and a second is taken.
    clock.advance(time::Duration::days(1));
    svc.run_snapshot_schedule();
    wait_snapshots_available(&svc).await;
    let names: Vec<String> = snapshots(&svc).await.into_iter().map(|s| s.0).collect();
    assert_eq!(names, vec!["automatic.daily-2025-03-02-05-00".to_string()]);

    // Retention 0: no new snapshot, and the automated ones go.
    let modify = ModifyServerlessCacheInput {
        serverless_cache_name: "daily".to_string(),
        snapshot_retention_limit: Some(0),
        ..Default::default()
    };
    svc.modify_serverless_cache(&ctx(), modify)
        .await
        .expect("modify");
    wait_status(&svc, "daily", "available").await;
    clock.advance(time::Duration::days(1));
    svc.run_snapshot_schedule();
    assert!(snapshots(&svc).await.is_empty());
}

#[tokio::test]
async fn statuses_move_through_creating_modifying_deleting() {
    let svc = service(Duration::from_millis(300), None);
    let input = CreateServerlessCacheInput {
        serverless_cache_name: "moves".to_string(),
        engine: "redis".to_string(),
        ..Default::default()
    };
    let out = svc
        .create_serverless_cache(&ctx(), input)
        .await
        .expect("create");
    let created = out.serverless_cache.expect("cache");
    assert_eq!(created.status.as_deref(), Some("creating"));
    assert!(created.endpoint.is_none());
    let snap = CreateServerlessCacheSnapshotInput {
        serverless_cache_name: "moves".to_string(),
        serverless_cache_snapshot_name: "early".to_string(),
        ..Default::default()
    };
    let refused = svc
        .create_serverless_cache_snapshot(&ctx(), snap)
        .await
        .expect_err("not available yet");
    assert_eq!(refused.wire_code(), "InvalidServerlessCacheStateFault");
    wait_status(&svc, "moves", "available").await;

    let modify = ModifyServerlessCacheInput {
        serverless_cache_name: "moves".to_string(),
        description: Some("changed".to_string()),
        ..Default::default()
    };
    let out = svc
        .modify_serverless_cache(&ctx(), modify)
        .await
        .expect("modify");
    assert_eq!(
        out.serverless_cache.and_then(|c| c.status).as_deref(),
        Some("modifying")
    );
    wait_status(&svc, "moves", "available").await;

    let delete = DeleteServerlessCacheInput {
        serverless_cache_name: "moves".to_string(),
        ..Default::default()
    };
    svc.delete_serverless_cache(&ctx(), delete.clone())
        .await
        .expect("delete");
    assert_eq!(status(&svc, "moves").await.as_deref(), Some("deleting"));
    let again = svc
        .delete_serverless_cache(&ctx(), delete)
        .await
        .expect_err("already deleting");
    assert_eq!(again.wire_code(), "InvalidServerlessCacheStateFault");
    for _ in 0..500 {
        if status(&svc, "moves").await.is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("moves was never deleted");
}
