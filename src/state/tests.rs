//! Unit tests of the state layer: pre-created resources, tags, events, parameter values.

use std::sync::Arc;

use time::macros::datetime;

use super::*;

fn store() -> (Store, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(datetime!(2025-01-01 00:00 UTC)));
    (Store::new(clock.clone()), clock)
}

#[test]
fn regions_start_with_aws_defaults_and_are_isolated() {
    let (s, _) = store();
    let r = s.region("000000000000", "us-east-1");
    let r = lock(&r);
    assert!(r.subnet_groups.contains_key("default"));
    assert!(r.parameter_groups.contains_key("default.redis7"));
    assert_eq!(
        r.parameter_groups
            .get("default.redis7.cluster.on")
            .and_then(|g| g.system_values.get("cluster-enabled")),
        Some(&"yes".to_string())
    );
    assert!(r.users.contains_key("default"));
    assert!(r.vpc_id().starts_with("vpc-"));
    let other = s.region("111111111111", "us-east-1");
    assert_ne!(lock(&other).vpc_id(), r.vpc_id());
}

#[test]
fn tags_overwrite_and_remove() {
    let (s, _) = store();
    let r = s.region("000000000000", "us-east-1");
    let mut r = lock(&r);
    let t = |k: &str, v: &str| Tag {
        key: k.into(),
        value: v.into(),
    };
    let list = r.add_tags(ResourceKind::Cluster, "c1", &[t("a", "1"), t("b", "2")]);
    assert_eq!(list.len(), 2);
    let list = r.add_tags(ResourceKind::Cluster, "c1", &[t("a", "3")]);
    assert_eq!(list, vec![t("a", "3"), t("b", "2")]);
    assert_eq!(
        r.tag_count_after(ResourceKind::Cluster, "c1", &[t("a", "x"), t("c", "y")]),
        3
    );
    let list = r.remove_tags(ResourceKind::Cluster, "c1", &["a".into()]);
    assert_eq!(list, vec![t("b", "2")]);
    assert!(r.tags_of(ResourceKind::SubnetGroup, "c1").is_empty());
}

#[test]
fn events_are_newest_first_and_filtered() {
    let (s, clock) = store();
    let r = s.region("000000000000", "us-east-1");
    let mut r = lock(&r);
    r.event(
        SourceType::CacheCluster,
        "c1",
        "Cache cluster created",
        clock.now(),
    );
    clock.advance(time::Duration::minutes(1));
    r.event(SourceType::CacheSubnetGroup, "g1", "created", clock.now());
    clock.advance(time::Duration::minutes(1));
    r.event(
        SourceType::CacheCluster,
        "c1",
        "Cache cluster deleted",
        clock.now(),
    );
    let all = r.query_events(&EventQuery {
        source_identifier: None,
        source_type: None,
        start: clock.now() - time::Duration::hours(1),
        end: clock.now(),
    });
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].message, "Cache cluster deleted");
    let c1 = r.query_events(&EventQuery {
        source_identifier: Some("C1".into()),
        source_type: Some(SourceType::CacheCluster),
        start: clock.now() - time::Duration::seconds(90),
        end: clock.now(),
    });
    assert_eq!(c1.len(), 1);
}

#[test]
fn effective_parameters_layer_user_values_over_defaults() {
    let (s, _) = store();
    let r = s.region("000000000000", "us-east-1");
    let mut r = lock(&r);
    let mut g = r
        .parameter_groups
        .get("default.redis7")
        .cloned()
        .expect("default group");
    g.name = "mine".into();
    g.is_default = false;
    g.user_values
        .insert("maxmemory-policy".into(), "allkeys-lru".into());
    r.parameter_groups.insert("mine".into(), g);
    let eff = r.effective_parameters("mine");
    assert_eq!(
        eff.get("maxmemory-policy").map(String::as_str),
        Some("allkeys-lru")
    );
    assert_eq!(eff.get("cluster-enabled").map(String::as_str), Some("no"));
    let on = r.effective_parameters("default.redis7.cluster.on");
    assert_eq!(on.get("cluster-enabled").map(String::as_str), Some("yes"));
}
