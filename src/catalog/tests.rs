//! Checks of the embedded catalogue data and its lookups.

use super::*;

#[test]
fn embedded_catalogue_parses_and_is_consistent() {
    let c = Catalog::load().expect("catalogue parses");
    for v in c.engine_versions() {
        let fam = c.family(&v.family).expect("family of every version exists");
        assert_eq!(fam.engine, v.engine, "{} family engine", v.version);
    }
    for name in c.family_names() {
        let fam = c.family(name).expect("family");
        assert!(!fam.parameters.is_empty());
        for p in &fam.parameters {
            assert!(
                value_allowed(p, &p.value),
                "{name}/{} default {:?} not allowed",
                p.name,
                p.value
            );
        }
    }
    assert!(c.node_types().len() > 60);
}

#[test]
fn resolves_versions_like_aws() {
    let c = catalog();
    assert_eq!(
        c.resolve_version("redis", Some("7.1"))
            .map(|v| v.full_version.as_str()),
        Some("7.1.0")
    );
    assert_eq!(
        c.resolve_version("redis", Some("6.2.6"))
            .map(|v| v.version.as_str()),
        Some("6.2")
    );
    assert_eq!(
        c.resolve_version("redis", Some("6.x"))
            .map(|v| v.version.as_str()),
        Some("6.2")
    );
    assert_eq!(
        c.resolve_version("redis", None).map(|v| v.version.as_str()),
        Some("7.1")
    );
    assert_eq!(
        c.resolve_version("valkey", None).map(|v| v.family.as_str()),
        Some("valkey8")
    );
    assert_eq!(
        c.resolve_version("memcached", None)
            .map(|v| v.version.as_str()),
        Some("1.6.22")
    );
    assert!(c.resolve_version("redis", Some("5.0.0")).is_none());
    assert!(c.resolve_version("nosuch", None).is_none());
}

#[test]
fn families_carry_expected_parameters() {
    let c = catalog();
    let r7 = c.family("redis7").expect("redis7");
    assert_eq!(
        r7.parameter("maxmemory-policy").map(|p| p.value.as_str()),
        Some("volatile-lru")
    );
    assert_eq!(
        r7.parameter("reserved-memory-percent")
            .map(|p| p.value.as_str()),
        Some("25")
    );
    assert!(r7.parameter("hash-max-listpack-entries").is_some());
    assert!(r7.parameter("hash-max-ziplist-entries").is_none());
    assert!(r7.node_type_parameter("maxmemory").is_some());
    let v8 = c.family("valkey8").expect("valkey8");
    assert_eq!(
        v8.parameter("repl-backlog-size").map(|p| p.value.as_str()),
        Some("10485760")
    );
    let m16 = c.family("memcached1.6").expect("memcached1.6");
    assert!(m16.node_type_parameter("max_cache_memory").is_some());
    let defaults = c.default_parameter_groups();
    assert!(
        defaults
            .iter()
            .any(|g| g.0 == "default.redis7.cluster.on" && g.3)
    );
    assert!(defaults.iter().any(|g| g.0 == "default.memcached1.6"));
    assert!(
        !defaults
            .iter()
            .any(|g| g.0 == "default.memcached1.6.cluster.on")
    );
}

#[test]
fn node_types_answer_memory() {
    let c = catalog();
    let t3 = c.node_type("cache.t3.micro").expect("t3.micro");
    assert_eq!(t3.memory_bytes("redis"), 536870912);
    assert_eq!(t3.memory_bytes("memcached"), 512 * 1024 * 1024);
    assert_eq!(
        t3.column(NodeColumn::ReplicaLimit).as_deref(),
        Some("53687091")
    );
    let r6gd = c.node_type("cache.r6gd.xlarge").expect("r6gd");
    assert!(!r6gd.supports("memcached"));
    assert!(r6gd.supports("valkey"));
}

#[test]
fn allowed_value_expressions() {
    let def = |dt: &str, allowed: &str| ParameterDef {
        name: "p".into(),
        value: String::new(),
        description: String::new(),
        data_type: dt.into(),
        allowed_values: Some(allowed.into()),
        modifiable: true,
        change_type: "immediate".into(),
        minimum_engine_version: "1".into(),
    };
    assert!(value_allowed(&def("string", "yes,no"), "yes"));
    assert!(!value_allowed(&def("string", "yes,no"), "maybe"));
    assert!(value_allowed(&def("integer", "0,20-"), "0"));
    assert!(!value_allowed(&def("integer", "0,20-"), "10"));
    assert!(value_allowed(&def("integer", "0,20-"), "300"));
    assert!(value_allowed(&def("integer", "-5,-4,-3,-2,-1,1-"), "-2"));
    assert!(!value_allowed(&def("integer", "-5,-4,-3,-2,-1,1-"), "0"));
    assert!(!value_allowed(&def("integer", "1-100"), "abc"));
    assert!(value_allowed(&def("float", "1-2"), "1.25"));
}

#[test]
fn version_ordering() {
    use std::cmp::Ordering::*;
    assert_eq!(compare_versions("7.1.0", "6.2.6"), Greater);
    assert_eq!(compare_versions("1.6.6", "1.6.22"), Less);
    assert_eq!(compare_versions("7.1", "7.1.0"), Equal);
}
