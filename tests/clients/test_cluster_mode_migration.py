"""ModifyReplicationGroup ClusterMode, ElastiCache's two-step migration: disabled -> compatible
(one shard owning every slot, served to standalone clients on the primary endpoint and to cluster
clients on the configuration endpoint, keys kept) -> enabled (a cluster mode enabled group that
reshards, with MOVED redirects). AWS documents the change as one-way, so compatible -> disabled
is refused like enabled -> anything. Disallowed transitions and preconditions (keys only in
database 0 among them) answer AWS's errors. Driven with boto3, redis-py and redis-py's
RedisCluster.
"""

from __future__ import annotations

import pytest
import redis
from redis.cluster import RedisCluster

from helpers import aws_error, delete_groups, wait_group

KEYS = 200


@pytest.fixture
def groups(ec):
    created: list[str] = []
    yield created
    delete_groups(ec, created, settle_first=True)


def _create(ec, groups, gid: str, **extra) -> dict:
    params = {
        "ReplicationGroupId": gid,
        "ReplicationGroupDescription": "cluster mode migration",
        "CacheNodeType": "cache.t3.small",
        "Engine": "redis",
        "EngineVersion": "7.1",
        "NumCacheClusters": 2,
        "AutomaticFailoverEnabled": True,
    }
    params.update(extra)
    ec.create_replication_group(**params)
    groups.append(gid)
    return wait_group(ec, gid)


def _plain(ep: dict) -> redis.Redis:
    return redis.Redis(host=ep["Address"], port=ep["Port"], socket_timeout=10, decode_responses=True)


def _cluster(rg: dict) -> RedisCluster:
    ep = rg["ConfigurationEndpoint"]
    return RedisCluster(host=ep["Address"], port=ep["Port"], decode_responses=True, socket_timeout=10)


def _modify(ec, gid: str, **params) -> dict:
    answer = ec.modify_replication_group(ReplicationGroupId=gid, ApplyImmediately=True, **params)["ReplicationGroup"]
    assert answer["Status"] == "modifying"
    return wait_group(ec, gid)


def test_disabled_compatible_enabled_keeps_keys_and_serves_cluster_clients(ec, groups, uid):
    gid = uid("cmm")
    rg = _create(ec, groups, gid)
    primary = rg["NodeGroups"][0]["PrimaryEndpoint"]
    plain = _plain(primary)
    for i in range(KEYS):
        plain.set(f"key:{i}", str(i))

    # Straight to enabled is refused: compatible comes first. Nothing else changes with it.
    with aws_error(ec, "InvalidParameterValue", 400):
        ec.modify_replication_group(ReplicationGroupId=gid, ClusterMode="enabled", ApplyImmediately=True)
    with aws_error(ec, "InvalidParameterCombination", 400):
        ec.modify_replication_group(
            ReplicationGroupId=gid, ClusterMode="compatible", CacheNodeType="cache.t3.medium", ApplyImmediately=True
        )

    rg = _modify(ec, gid, ClusterMode="compatible")
    assert (rg["ClusterMode"], rg["ClusterEnabled"]) == ("compatible", False)
    assert rg["NodeGroups"][0]["PrimaryEndpoint"] == primary, "standalone clients keep their endpoint"
    assert "ConfigurationEndpoint" in rg, "cluster clients get a configuration endpoint"
    member = ec.describe_cache_clusters(CacheClusterId=rg["MemberClusters"][0])["CacheClusters"][0]
    assert member["CacheParameterGroup"]["CacheParameterGroupName"] == "default.redis7.cluster.on"
    # Both protocols work on the same keyspace.
    plain = _plain(primary)
    assert plain.get("key:7") == "7"
    assert plain.set("from-plain", "p") is True
    cluster = _cluster(rg)
    assert all(cluster.get(f"key:{i}") == str(i) for i in range(KEYS))
    assert cluster.get("from-plain") == "p"
    cluster.set("from-cluster", "c")
    assert plain.get("from-cluster") == "c"
    slots = _plain(rg["ConfigurationEndpoint"]).execute_command("CLUSTER", "SLOTS")
    assert [(s[0], s[1]) for s in slots] == [(0, 16383)], "one shard owns every slot"
    # Scaling waits until the migration ends.
    with aws_error(ec, "InvalidParameterCombination", 400):
        ec.modify_replication_group(ReplicationGroupId=gid, CacheNodeType="cache.t3.medium", ApplyImmediately=True)

    rg = _modify(ec, gid, ClusterMode="enabled")
    assert (rg["ClusterMode"], rg["ClusterEnabled"]) == ("enabled", True)
    assert rg["NodeGroups"][0]["Slots"] == "0-16383"
    assert "PrimaryEndpoint" not in rg["NodeGroups"][0]
    cluster = _cluster(rg)
    assert all(cluster.get(f"key:{i}") == str(i) for i in range(KEYS))
    # Enabled is final.
    for mode in ("disabled", "compatible"):
        with aws_error(ec, "InvalidParameterValue", 400):
            ec.modify_replication_group(ReplicationGroupId=gid, ClusterMode=mode, ApplyImmediately=True)

    # A cluster mode enabled group reshards: two shards, every key reachable, MOVED on the wrong node.
    ec.modify_replication_group_shard_configuration(ReplicationGroupId=gid, NodeGroupCount=2, ApplyImmediately=True)
    rg = wait_group(ec, gid)
    assert len(rg["NodeGroups"]) == 2
    cluster = _cluster(rg)
    assert all(cluster.get(f"key:{i}") == str(i) for i in range(KEYS))
    moved = 0
    for ng in rg["NodeGroups"]:
        node_id = next(m["CacheClusterId"] for m in ng["NodeGroupMembers"])
        node = ec.describe_cache_clusters(CacheClusterId=node_id, ShowCacheNodeInfo=True)["CacheClusters"][0]
        direct = _plain(node["CacheNodes"][0]["Endpoint"])
        for i in range(20):
            try:
                direct.get(f"key:{i}")
            except redis.exceptions.MovedError as err:
                # MOVED <slot> <address>:<port>: the slot's owner is the other shard's primary.
                assert err.slot_id == RedisCluster.keyslot(cluster, f"key:{i}")
                moved += 1
    assert moved > 0, "a node answers MOVED for keys of the other shard"


def test_compatible_cannot_go_back_to_disabled(ec, groups, uid):
    gid = uid("cmb")
    rg = _create(ec, groups, gid)
    primary = rg["NodeGroups"][0]["PrimaryEndpoint"]
    _plain(primary).set("k", "v")
    rg = _modify(ec, gid, ClusterMode="compatible")
    # "Reverting this configuration is not possible": the group stays compatible, keys and all.
    with aws_error(ec, "InvalidParameterValue", 400) as err:
        ec.modify_replication_group(ReplicationGroupId=gid, ClusterMode="disabled", ApplyImmediately=True)
    assert "only be changed from disabled to enabled" in err.value.response["Error"]["Message"]
    rg = ec.describe_replication_groups(ReplicationGroupId=gid)["ReplicationGroups"][0]
    assert (rg["Status"], rg["ClusterMode"]) == ("available", "compatible")
    assert "ConfigurationEndpoint" in rg
    assert _plain(primary).get("k") == "v"
    assert _cluster(rg).get("k") == "v"


def test_keys_outside_database_0_block_the_migration(ec, groups, uid):
    gid = uid("cmd")
    rg = _create(ec, groups, gid)
    ep = rg["NodeGroups"][0]["PrimaryEndpoint"]
    _plain(ep).set("in-db0", "x")
    db3 = redis.Redis(host=ep["Address"], port=ep["Port"], db=3, socket_timeout=10, decode_responses=True)
    db3.set("a", "1")
    db3.set("b", "2")
    with aws_error(ec, "InvalidParameterValue", 400) as err:
        ec.modify_replication_group(ReplicationGroupId=gid, ClusterMode="compatible", ApplyImmediately=True)
    assert "2 keys in other databases" in err.value.response["Error"]["Message"]
    rg = ec.describe_replication_groups(ReplicationGroupId=gid)["ReplicationGroups"][0]
    assert (rg["Status"], rg["ClusterMode"]) == ("available", "disabled")
    # Once database 3 is emptied the migration goes ahead, database 0 kept.
    db3.flushdb()
    rg = _modify(ec, gid, ClusterMode="compatible")
    assert rg["ClusterMode"] == "compatible"
    assert _cluster(rg).get("in-db0") == "x"


def test_migration_preconditions(ec, groups, uid):
    # No replica (so no automatic failover): refused.
    lone = uid("cml")
    _create(ec, groups, lone, NumCacheClusters=1, AutomaticFailoverEnabled=False)
    with aws_error(ec, "InvalidParameterValue", 400):
        ec.modify_replication_group(ReplicationGroupId=lone, ClusterMode="compatible", ApplyImmediately=True)
    # Redis OSS before 7.0: refused.
    old = uid("cmo")
    _create(ec, groups, old, EngineVersion="6.2")
    with aws_error(ec, "InvalidParameterValue", 400):
        ec.modify_replication_group(ReplicationGroupId=old, ClusterMode="compatible", ApplyImmediately=True)
    with aws_error(ec, "InvalidParameterValue", 400):
        ec.modify_replication_group(ReplicationGroupId=old, ClusterMode="sideways", ApplyImmediately=True)
    for gid in (lone, old):
        assert ec.describe_replication_groups(ReplicationGroupId=gid)["ReplicationGroups"][0]["ClusterMode"] == "disabled"
