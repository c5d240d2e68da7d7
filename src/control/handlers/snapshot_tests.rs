//! Unit tests of the snapshot handlers through the `ElastiCacheApi` trait with a real
//! supervisor and a transition delay, so the in-between statuses (`snapshotting`, `creating`,
//! `deleting`) and the refusals they cause can be observed deterministically.

use std::sync::Arc;
use std::time::Duration;

use super::*;

fn service(delay: Duration, data_dir: Option<std::path::PathBuf>) -> Service {
    let mut cfg = Config::for_tests();
    let b = 2 + (std::process::id() % 200) as u8;
    let third = 160 + (rand::random::<u8>() % 40);
    cfg.loopback_base = format!("127.{b}.{third}.1")
        .parse()
        .unwrap_or(cfg.loopback_base);
    cfg.create_delay = delay;
    cfg.data_dir = data_dir;
    let sup = Arc::new(Supervisor::new(&cfg));
    Service::new(&cfg, sup)
}

fn ctx() -> RequestContext {
    RequestContext::for_tests("Test")
}

async fn available_cluster(svc: &Service, id: &str) {
    let input = CreateCacheClusterInput {
        cache_cluster_id: id.to_string(),
        engine: Some("redis".to_string()),
        cache_node_type: Some("cache.t3.micro".to_string()),
        ..Default::default()
    };
    svc.create_cache_cluster(&ctx(), input)
        .await
        .expect("create");
    wait_cluster(svc, id, "available").await;
}

async fn wait_cluster(svc: &Service, id: &str, want: &str) {
    for _ in 0..500 {
        let out = svc
            .describe_cache_clusters(
                &ctx(),
                DescribeCacheClustersInput {
                    cache_cluster_id: Some(id.to_string()),
                    ..Default::default()
                },
            )
            .await
            .expect("describe");
        let status = out.cache_clusters.and_then(|c| c.into_iter().next());
        if status.and_then(|c| c.cache_cluster_status).as_deref() == Some(want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{id} never became {want}");
}

async fn snapshot_status(svc: &Service, name: &str) -> Result<String, ApiError> {
    let input = DescribeSnapshotsInput {
        snapshot_name: Some(name.to_string()),
        ..Default::default()
    };
    let out = svc.describe_snapshots(&ctx(), input).await?;
    Ok(out
        .snapshots
        .and_then(|s| s.into_iter().next())
        .and_then(|s| s.snapshot_status)
        .unwrap_or_default())
}

fn snapshot_input(cluster: &str, name: &str) -> CreateSnapshotInput {
    CreateSnapshotInput {
        cache_cluster_id: Some(cluster.to_string()),
        snapshot_name: name.to_string(),
        ..Default::default()
    }
}

#[tokio::test]
async fn snapshot_statuses_and_the_refusals_they_cause() {
    let dir = std::env::temp_dir().join(format!("ecl-snap-test-{}", std::process::id()));
    let svc = service(Duration::from_millis(300), Some(dir.clone()));
    available_cluster(&svc, "snapsrc").await;
    let out = svc
        .create_snapshot(&ctx(), snapshot_input("snapsrc", "first"))
        .await
        .expect("snapshot");
    assert_eq!(
        out.snapshot.and_then(|s| s.snapshot_status).as_deref(),
        Some("creating")
    );
    wait_cluster(&svc, "snapsrc", "snapshotting").await;
    // A second snapshot (or any operation) waits for the first: InvalidCacheClusterState.
    let busy = svc
        .create_snapshot(&ctx(), snapshot_input("snapsrc", "second"))
        .await
        .expect_err("busy");
    assert_eq!(busy.wire_code(), "InvalidCacheClusterState");
    // A snapshot still `creating` cannot be restored, copied or deleted.
    let restore = CreateCacheClusterInput {
        cache_cluster_id: "early".to_string(),
        snapshot_name: Some("first".to_string()),
        ..Default::default()
    };
    let early = svc.create_cache_cluster(&ctx(), restore).await;
    assert_eq!(
        early.expect_err("creating").wire_code(),
        "InvalidSnapshotState"
    );
    let del = DeleteSnapshotInput {
        snapshot_name: "first".to_string(),
    };
    let early = svc.delete_snapshot(&ctx(), del.clone()).await;
    assert_eq!(
        early.expect_err("creating").wire_code(),
        "InvalidSnapshotState"
    );
    wait_cluster(&svc, "snapsrc", "available").await;
    assert_eq!(
        snapshot_status(&svc, "first").await.expect("describe"),
        "available"
    );
    // The image is also on disk under the data directory.
    let caller = ctx();
    let file = dir
        .join("snapshots")
        .join(&caller.account)
        .join(&caller.region);
    let file = file.join("first").join("0001.rdb");
    let bytes = std::fs::read(&file).expect("snapshot file");
    assert!(bytes.starts_with(b"REDIS"), "{}", file.display());
    // Deleting: `deleting` until the delay has passed, refused a second time, then gone.
    svc.delete_snapshot(&ctx(), del.clone())
        .await
        .expect("delete");
    assert_eq!(
        snapshot_status(&svc, "first").await.expect("describe"),
        "deleting"
    );
    let again = svc
        .delete_snapshot(&ctx(), del)
        .await
        .expect_err("deleting");
    assert_eq!(again.wire_code(), "InvalidSnapshotState");
    for _ in 0..100 {
        if snapshot_status(&svc, "first").await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let gone = snapshot_status(&svc, "first").await.expect_err("gone");
    assert_eq!(gone.wire_code(), "SnapshotNotFoundFault");
    assert!(!file.exists(), "the snapshot's files go with it");
    let _ = std::fs::remove_dir_all(&dir);
}

async fn snapshot_names(svc: &Service, source: &str) -> Vec<String> {
    let input = DescribeSnapshotsInput {
        snapshot_source: Some(source.to_string()),
        ..Default::default()
    };
    let out = svc
        .describe_snapshots(&ctx(), input)
        .await
        .expect("describe");
    out.snapshots
        .unwrap_or_default()
        .into_iter()
        .filter_map(|s| s.snapshot_name)
        .collect()
}

#[tokio::test]
async fn automatic_snapshots_follow_the_window_and_the_retention() {
    use crate::state::{ManualClock, Store};
    let mut cfg = Config::for_tests();
    let b = 2 + (std::process::id() % 200) as u8;
    cfg.loopback_base = format!("127.{b}.{}.1", 120 + rand::random::<u8>() % 30)
        .parse()
        .unwrap_or(cfg.loopback_base);
    let clock = Arc::new(ManualClock::new(
        time::macros::datetime!(2025-03-01 04:00 UTC),
    ));
    let sup = Arc::new(Supervisor::new(&cfg));
    let svc = Service::with_store(&cfg, sup, Store::new(clock.clone()));
    let input = CreateCacheClusterInput {
        cache_cluster_id: "auto".to_string(),
        engine: Some("redis".to_string()),
        cache_node_type: Some("cache.t3.micro".to_string()),
        snapshot_retention_limit: Some(1),
        snapshot_window: Some("05:00-06:00".to_string()),
        ..Default::default()
    };
    svc.create_cache_cluster(&ctx(), input)
        .await
        .expect("create");
    wait_cluster(&svc, "auto", "available").await;
    // Before the window: nothing.
    svc.run_snapshot_schedule();
    assert!(snapshot_names(&svc, "system").await.is_empty());
    // In the window: one automated snapshot, taken once.
    clock.advance(time::Duration::minutes(90));
    svc.run_snapshot_schedule();
    let first = "automatic.auto-2025-03-01-05-00".to_string();
    assert_eq!(snapshot_names(&svc, "system").await, vec![first.clone()]);
    assert!(snapshot_names(&svc, "user").await.is_empty());
    wait_cluster(&svc, "auto", "available").await;
    svc.run_snapshot_schedule();
    assert_eq!(snapshot_names(&svc, "system").await, vec![first.clone()]);
    // Next day: a second one; the day after, the first is past the 1-day retention.
    clock.advance(time::Duration::days(1));
    svc.run_snapshot_schedule();
    wait_cluster(&svc, "auto", "available").await;
    let second = "automatic.auto-2025-03-02-05-00".to_string();
    assert_eq!(
        snapshot_names(&svc, "system").await,
        vec![first.clone(), second.clone()]
    );
    clock.advance(time::Duration::days(1));
    svc.run_snapshot_schedule();
    wait_cluster(&svc, "auto", "available").await;
    let names = snapshot_names(&svc, "system").await;
    assert_eq!(
        names,
        vec![second, "automatic.auto-2025-03-03-05-00".to_string()]
    );
}

/// A write of snapshot files that fails part way (here the temporary file of the second
/// image cannot be created, as when the process dies or the disk fills before it is whole)
/// leaves the files already there intact and never puts half a file under an RDB name.
#[test]
fn a_failed_snapshot_write_leaves_the_previous_files_intact() {
    let dir = std::env::temp_dir().join(format!(
        "ecl-snapshot-write-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    let old: &[u8] = b"REDIS0011 the previous image";
    let first = vec![("0001.rdb".to_string(), old), ("0002.rdb".to_string(), old)];
    super::snapshots::write_rdb_files(&dir, first.into_iter()).expect("first write");
    // Something in the way of the second file's temporary name makes its write fail.
    std::fs::create_dir_all(dir.join("0002.rdb.tmp").join("x")).expect("obstacle");
    let new = vec![0x55u8; 1 << 20];
    let second = vec![
        ("0001.rdb".to_string(), new.as_slice()),
        ("0002.rdb".to_string(), new.as_slice()),
    ];
    let err = super::snapshots::write_rdb_files(&dir, second.into_iter());
    assert!(err.is_err(), "the obstacle makes the write fail");
    // The first file was replaced whole, the second is still the previous image.
    assert_eq!(std::fs::read(dir.join("0001.rdb")).unwrap(), new);
    assert_eq!(std::fs::read(dir.join("0002.rdb")).unwrap(), old);
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names
            .iter()
            .any(|n| n.ends_with(".rdb") && n != "0001.rdb" && n != "0002.rdb")
    );
    let _ = std::fs::remove_dir_all(&dir);
}
