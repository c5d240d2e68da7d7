//! Every default parameter group of the catalogue, translated by the supervisor, is understood
//! by the engine it is meant for: each Redis setting the supervisor passes is one a real node
//! accepts (no parameter silently dropped by the engine), and each Memcached group yields a
//! valid node configuration.

use std::collections::BTreeMap;

use elasticache_local::catalog::catalog;
use elasticache_local::supervisor::params;

#[tokio::test]
async fn every_redis_and_valkey_default_group_translates_to_settings_the_engine_accepts() {
    let cat = catalog();
    let mut checked = 0;
    for version in cat.engine_versions() {
        if version.engine == "memcached" {
            continue;
        }
        let Some(family) = cat.family(&version.family) else {
            continue;
        };
        let group: BTreeMap<String, String> = family
            .parameters
            .iter()
            .map(|p| (p.name.clone(), p.value.clone()))
            .collect();
        let settings = params::redis_settings(&group, 536_870_912);
        let mut config = ecl_redis::RedisConfig::for_tests();
        config.engine_version = version.full_version.clone();
        config.flavor = if version.engine == "valkey" {
            ecl_redis::Flavor::Valkey
        } else {
            ecl_redis::Flavor::Redis
        };
        let node = ecl_redis::RedisNode::start(config);
        let Ok(node) = node else {
            panic!("node did not start")
        };
        for (name, value) in &settings {
            if name == "rename-commands" {
                continue; // applied to the command table at start, not a CONFIG parameter
            }
            if params::redis_requires_reboot(name) {
                // Set at start only; the engine must still know it.
                assert!(
                    node.config_get(name).is_some(),
                    "engine does not know {name}"
                );
                checked += 1;
                continue;
            }
            let set = node.config_set(name, value);
            assert!(
                set.is_ok(),
                "{} {}: engine refuses {name}={value:?}: {set:?}",
                version.engine,
                version.full_version
            );
            checked += 1;
        }
        node.shutdown().await;
    }
    assert!(checked > 100, "{checked} settings checked");
}

#[test]
fn every_memcached_default_group_translates_to_a_valid_node_configuration() {
    let cat = catalog();
    let mut checked = 0;
    for version in cat
        .engine_versions()
        .iter()
        .filter(|v| v.engine == "memcached")
    {
        let Some(family) = cat.family(&version.family) else {
            continue;
        };
        let group: BTreeMap<String, String> = family
            .parameters
            .iter()
            .map(|p| (p.name.clone(), p.value.clone()))
            .collect();
        let settings = params::memcached_settings(512 << 20, 2, &group, None);
        let Ok(settings) = settings else {
            panic!("{}: {settings:?}", version.family)
        };
        assert_eq!(settings.memory_limit, 412 << 20, "{}", version.family);
        assert_eq!(settings.max_item_size, 1 << 20);
        checked += 1;
    }
    assert!(checked > 0);
}
