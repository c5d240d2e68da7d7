"""Replication groups through boto3 (reference sections 2.3, 2.5, 2.6, 2.8, 2.9, 3), engines
through redis-py: cluster mode disabled groups (primary/reader endpoints, replicas, failover,
replica counts, adopted primary), cluster mode enabled groups (configuration endpoint, slots,
RedisCluster), waiters and error codes.
"""

from __future__ import annotations

import pytest
import redis
from redis.cluster import LoadBalancingStrategy, RedisCluster

from helpers import FAST_WAITER, assert_endpoint_port, aws_error, wait_available

NODE_TYPE = "cache.t3.micro"


@pytest.fixture
def groups(make_client):
    """Replication groups a test created; deleted (and waited for) afterwards."""
    created: list[str] = []
    yield created
    ec = make_client()
    for gid in created:
        try:
            ec.delete_replication_group(ReplicationGroupId=gid)
        except Exception:  # best effort: already deleted by the test, or never created
            pass
    for gid in created:
        try:
            ec.get_waiter("replication_group_deleted").wait(
                ReplicationGroupId=gid, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
            )
        except Exception:
            pass


def wait_group(ec, gid: str) -> dict:
    ec.get_waiter("replication_group_available").wait(ReplicationGroupId=gid, WaiterConfig=FAST_WAITER)
    return ec.describe_replication_groups(ReplicationGroupId=gid)["ReplicationGroups"][0]


def wait_members(ec, gid: str) -> list[dict]:
    """Waits until every member cluster is available (what Terraform waits for) and returns them."""
    group = wait_group(ec, gid)
    for member in group["MemberClusters"]:
        wait_available(ec, member)
    return [
        ec.describe_cache_clusters(CacheClusterId=m, ShowCacheNodeInfo=True)["CacheClusters"][0]
        for m in group["MemberClusters"]
    ]


def conn(endpoint: dict) -> redis.Redis:
    return redis.Redis(host=endpoint["Address"], port=endpoint["Port"], socket_timeout=10, decode_responses=True)


def eventually(fn, attempts: int = 300):
    """Retries a read until it returns something truthy (replication is asynchronous)."""
    import time

    value = None
    for _ in range(attempts):
        value = fn()
        if value:
            return value
        time.sleep(0.01)
    return value


def create_cmd(ec, groups, gid: str, **extra) -> dict:
    groups.append(gid)
    params = dict(
        ReplicationGroupId=gid,
        ReplicationGroupDescription=f"{gid} group",
        Engine="redis",
        CacheNodeType=NODE_TYPE,
    )
    params.update(extra)
    return ec.create_replication_group(**params)["ReplicationGroup"]


# ------------------------------------------------------------------------------------------
# Cluster mode disabled


def test_cmd_group_with_two_replicas(ec, groups, uid):
    gid = uid("cmd")
    created = create_cmd(
        ec,
        groups,
        gid,
        NumCacheClusters=3,
        AutomaticFailoverEnabled=True,
        Port=6379,
        Tags=[{"Key": "env", "Value": "test"}],
    )
    assert created["Status"] == "creating"
    assert created["MemberClusters"] == [f"{gid}-001", f"{gid}-002", f"{gid}-003"]

    group = wait_group(ec, gid)
    assert group["Status"] == "available"
    assert group["ClusterEnabled"] is False
    assert group["ClusterMode"] == "disabled"
    assert group["AutomaticFailover"] == "enabled"
    assert group["MultiAZ"] == "disabled"
    assert group["CacheNodeType"] == NODE_TYPE
    assert group["Engine"] == "redis"
    assert group["AuthTokenEnabled"] is False
    assert group["ARN"].endswith(f":replicationgroup:{gid}")
    assert "ConfigurationEndpoint" not in group
    (ng,) = group["NodeGroups"]
    assert ng["NodeGroupId"] == "0001" and ng["Status"] == "available"
    primary, reader = ng["PrimaryEndpoint"], ng["ReaderEndpoint"]
    assert_endpoint_port(primary["Port"], 6379)
    assert_endpoint_port(reader["Port"], 6379)
    roles = {m["CacheClusterId"]: m["CurrentRole"] for m in ng["NodeGroupMembers"]}
    assert roles == {f"{gid}-001": "primary", f"{gid}-002": "replica", f"{gid}-003": "replica"}
    for m in ng["NodeGroupMembers"]:
        assert m["CacheNodeId"] == "0001"
        assert m["PreferredAvailabilityZone"].startswith("us-east-1")

    # Every member is a cache cluster of the group, tagged like it.
    members = wait_members(ec, gid)
    for c in members:
        assert c["ReplicationGroupId"] == gid
        assert c["NumCacheNodes"] == 1
        tags = ec.list_tags_for_resource(ResourceName=c["ARN"])["TagList"]
        assert {"Key": "env", "Value": "test"} in tags
    standalone = ec.describe_cache_clusters(ShowCacheClustersNotInReplicationGroups=True)["CacheClusters"]
    assert not any(c.get("ReplicationGroupId") == gid for c in standalone)

    # A write through the primary endpoint reaches every replica.
    p = conn(primary)
    assert p.set("answer", "42")
    assert p.execute_command("WAIT", 2, 5000) == 2
    for m in ng["NodeGroupMembers"]:
        r = conn(m["ReadEndpoint"])
        assert eventually(lambda: r.get("answer")) == "42"
    assert eventually(lambda: conn(reader).get("answer")) == "42"
    with pytest.raises(redis.exceptions.ReadOnlyError):
        conn(ng["NodeGroupMembers"][1]["ReadEndpoint"]).set("x", "1")

    ec.delete_replication_group(ReplicationGroupId=gid)
    ec.get_waiter("replication_group_deleted").wait(ReplicationGroupId=gid, WaiterConfig=FAST_WAITER)
    with aws_error(ec, "ReplicationGroupNotFoundFault", 404, "ReplicationGroupNotFoundFault"):
        ec.describe_replication_groups(ReplicationGroupId=gid)
    with aws_error(ec, "CacheClusterNotFound", 404):
        ec.describe_cache_clusters(CacheClusterId=f"{gid}-002")


def test_test_failover_keeps_data_and_moves_the_primary_endpoint(ec, groups, uid):
    gid = uid("fo")
    create_cmd(ec, groups, gid, NumCacheClusters=2, AutomaticFailoverEnabled=True, MultiAZEnabled=True)
    group = wait_group(ec, gid)
    primary = group["NodeGroups"][0]["PrimaryEndpoint"]
    p = conn(primary)
    for i in range(300):
        p.set(f"k{i}", i)
    assert p.execute_command("WAIT", 1, 5000) == 1

    with aws_error(ec, "NodeGroupNotFoundFault", 404, "NodeGroupNotFoundFault"):
        ec.test_failover(ReplicationGroupId=gid, NodeGroupId="0002")
    out = ec.test_failover(ReplicationGroupId=gid, NodeGroupId="0001")["ReplicationGroup"]
    assert out["Status"] == "modifying"
    group = wait_group(ec, gid)
    roles = {m["CacheClusterId"]: m["CurrentRole"] for m in group["NodeGroups"][0]["NodeGroupMembers"]}
    assert roles == {f"{gid}-001": "replica", f"{gid}-002": "primary"}
    assert group["NodeGroups"][0]["PrimaryEndpoint"] == primary

    p = conn(primary)
    assert p.execute_command("ROLE")[0] == "master"
    assert [p.get(f"k{i}") for i in range(300)] == [str(i) for i in range(300)]
    p.set("after", "yes")
    old = conn(group["NodeGroups"][0]["NodeGroupMembers"][0]["ReadEndpoint"])
    assert eventually(lambda: old.get("after")) == "yes"

    events = ec.describe_events(SourceIdentifier=gid, SourceType="replication-group")["Events"]
    messages = [e["Message"] for e in events]
    assert any("Test Failover API called for node group 0001" in m for m in messages), messages
    assert any(m.startswith(f"Failover from primary node {gid}-001 to replica node {gid}-002") for m in messages)

    # Manual switch back with ModifyReplicationGroup(PrimaryClusterId).
    ec.modify_replication_group(ReplicationGroupId=gid, PrimaryClusterId=f"{gid}-001", ApplyImmediately=True)
    group = wait_group(ec, gid)
    roles = {m["CacheClusterId"]: m["CurrentRole"] for m in group["NodeGroups"][0]["NodeGroupMembers"]}
    assert roles[f"{gid}-001"] == "primary"
    assert conn(primary).get("after") == "yes"


def test_replica_count_up_and_down(ec, groups, uid):
    gid = uid("rc")
    create_cmd(ec, groups, gid, NumCacheClusters=2, AutomaticFailoverEnabled=True)
    group = wait_group(ec, gid)
    p = conn(group["NodeGroups"][0]["PrimaryEndpoint"])
    for i in range(1000):
        p.set(f"key:{i}", f"v{i}")

    with aws_error(ec, "NoOperationFault", 400, "NoOperationFault"):
        ec.increase_replica_count(ReplicationGroupId=gid, NewReplicaCount=1, ApplyImmediately=True)
    with aws_error(ec, "InvalidParameterValue", 400, "InvalidParameterValueException"):
        ec.increase_replica_count(ReplicationGroupId=gid, NewReplicaCount=6, ApplyImmediately=True)
    out = ec.increase_replica_count(ReplicationGroupId=gid, NewReplicaCount=3, ApplyImmediately=True)
    assert out["ReplicationGroup"]["Status"] == "modifying"
    members = wait_members(ec, gid)
    assert [c["CacheClusterId"] for c in members] == [f"{gid}-00{i}" for i in range(1, 5)]
    newest = conn(members[-1]["CacheNodes"][0]["Endpoint"])
    assert eventually(lambda: newest.dbsize() == 1000)
    assert newest.mget([f"key:{i}" for i in range(1000)]) == [f"v{i}" for i in range(1000)]

    with aws_error(ec, "InvalidParameterValue", 400, "InvalidParameterValueException"):
        # Automatic failover needs a replica left.
        ec.decrease_replica_count(ReplicationGroupId=gid, NewReplicaCount=0, ApplyImmediately=True)
    ec.decrease_replica_count(
        ReplicationGroupId=gid, NewReplicaCount=2, ReplicasToRemove=[f"{gid}-002"], ApplyImmediately=True
    )
    group = wait_group(ec, gid)
    assert group["MemberClusters"] == [f"{gid}-001", f"{gid}-003", f"{gid}-004"]
    ec.get_waiter("cache_cluster_deleted").wait(CacheClusterId=f"{gid}-002", WaiterConfig=FAST_WAITER)

    # CreateCacheCluster with ReplicationGroupId adds a replica; DeleteCacheCluster removes it.
    extra = f"{gid}-x"
    c = ec.create_cache_cluster(CacheClusterId=extra, ReplicationGroupId=gid)["CacheCluster"]
    assert c["ReplicationGroupId"] == gid and c["Engine"] == "redis"
    wait_available(ec, extra)
    group = wait_group(ec, gid)
    assert extra in group["MemberClusters"]
    ec.delete_cache_cluster(CacheClusterId=extra)
    ec.get_waiter("cache_cluster_deleted").wait(CacheClusterId=extra, WaiterConfig=FAST_WAITER)
    assert extra not in wait_group(ec, gid)["MemberClusters"]


def test_primary_cluster_id_adopts_a_standalone_cluster(ec, groups, resources, uid):
    cid = uid("solo")
    resources.cluster(ec, cid)
    ec.create_cache_cluster(CacheClusterId=cid, Engine="redis", CacheNodeType=NODE_TYPE, NumCacheNodes=1)
    wait_available(ec, cid)
    node = ec.describe_cache_clusters(CacheClusterId=cid, ShowCacheNodeInfo=True)["CacheClusters"][0]["CacheNodes"][0]
    conn(node["Endpoint"]).set("seed", "kept")
    gid = uid("adopt")
    groups.append(gid)
    ec.create_replication_group(
        ReplicationGroupId=gid, ReplicationGroupDescription="adopted", PrimaryClusterId=cid, NumCacheClusters=2
    )
    group = wait_group(ec, gid)
    ng = group["NodeGroups"][0]
    roles = {m["CacheClusterId"]: m["CurrentRole"] for m in ng["NodeGroupMembers"]}
    assert roles == {cid: "primary", f"{gid}-002": "replica"}
    replica = next(m for m in ng["NodeGroupMembers"] if m["CurrentRole"] == "replica")
    assert eventually(lambda: conn(replica["ReadEndpoint"]).get("seed")) == "kept"
    with aws_error(ec, "InvalidCacheClusterState", 400, "InvalidCacheClusterStateFault") as info:
        ec.delete_cache_cluster(CacheClusterId=cid)
    assert "serving as primary" in info.value.response["Error"]["Message"]
    ec.delete_replication_group(ReplicationGroupId=gid, RetainPrimaryCluster=True)
    ec.get_waiter("replication_group_deleted").wait(ReplicationGroupId=gid, WaiterConfig=FAST_WAITER)
    kept = ec.describe_cache_clusters(CacheClusterId=cid)["CacheClusters"][0]
    assert "ReplicationGroupId" not in kept


# ------------------------------------------------------------------------------------------
# Cluster mode enabled


def test_cme_three_shards_with_redis_cluster(ec, groups, uid):
    gid = uid("cme")
    groups.append(gid)
    ec.create_replication_group(
        ReplicationGroupId=gid,
        ReplicationGroupDescription="sharded",
        CacheNodeType=NODE_TYPE,
        NumNodeGroups=3,
        ReplicasPerNodeGroup=1,
    )
    group = wait_group(ec, gid)
    assert group["ClusterEnabled"] is True
    assert group["ClusterMode"] == "enabled"
    assert group["AutomaticFailover"] == "enabled"
    assert [ng["Slots"] for ng in group["NodeGroups"]] == ["0-5461", "5462-10922", "10923-16383"]
    assert [ng["NodeGroupId"] for ng in group["NodeGroups"]] == ["0001", "0002", "0003"]
    for ng in group["NodeGroups"]:
        assert "PrimaryEndpoint" not in ng
        for m in ng["NodeGroupMembers"]:
            assert "CurrentRole" not in m and "ReadEndpoint" not in m
    assert len(group["MemberClusters"]) == 6
    assert f"{gid}-0003-002" in group["MemberClusters"]
    cfg = group["ConfigurationEndpoint"]
    assert_endpoint_port(cfg["Port"], 6379)

    rc = RedisCluster(host=cfg["Address"], port=cfg["Port"], decode_responses=True, socket_timeout=10)
    for i in range(10_000):
        rc.set(f"user:{i}", i)
    members = wait_members(ec, gid)
    api = {(c["CacheNodes"][0]["Endpoint"]["Address"], c["CacheNodes"][0]["Endpoint"]["Port"]) for c in members}
    seen = {(n.host, n.port) for n in rc.get_nodes()}
    assert seen == api
    # Each key lives on one primary and on that shard's replica.
    replicas = rc.get_replicas()
    assert len(replicas) == 3
    assert eventually(lambda: sum(conn({"Address": n.host, "Port": n.port}).dbsize() for n in replicas) == 10_000)
    # Read everything back through the replicas (redis-py sends READONLY on those connections).
    replica_reads = RedisCluster(
        host=cfg["Address"],
        port=cfg["Port"],
        decode_responses=True,
        load_balancing_strategy=LoadBalancingStrategy.ROUND_ROBIN_REPLICAS,
    )
    assert [replica_reads.get(f"user:{i}") for i in range(10_000)] == [str(i) for i in range(10_000)]


# ------------------------------------------------------------------------------------------
# Errors


def test_replication_group_errors(ec, groups, uid):
    gid = uid("err")
    with aws_error(ec, "InvalidParameterCombination", 400, "InvalidParameterCombinationException"):
        create_cmd(ec, groups, gid, AutomaticFailoverEnabled=True)
    with aws_error(ec, "InvalidParameterCombination", 400, "InvalidParameterCombinationException"):
        create_cmd(ec, groups, gid, NumCacheClusters=2, MultiAZEnabled=True)
    with aws_error(ec, "NodeQuotaForClusterExceeded", 400, "NodeQuotaForClusterExceededFault"):
        create_cmd(ec, groups, gid, NumCacheClusters=7)
    with aws_error(ec, "InvalidParameterCombination", 400, "InvalidParameterCombinationException"):
        create_cmd(ec, groups, gid, NumNodeGroups=2, AutomaticFailoverEnabled=False)
    with aws_error(ec, "InvalidParameterValue", 400, "InvalidParameterValueException"):
        create_cmd(
            ec,
            groups,
            gid,
            NodeGroupConfiguration=[{"Slots": "0-100"}, {"Slots": "200-16383"}],
        )
    with aws_error(ec, "InvalidParameterValue", 400, "InvalidParameterValueException"):
        create_cmd(ec, groups, gid, AuthToken="a-long-enough-token-123")
    with aws_error(ec, "CacheClusterNotFound", 404, "CacheClusterNotFoundFault"):
        create_cmd(ec, groups, gid, PrimaryClusterId="no-such-cluster")
    with aws_error(ec, "ReplicationGroupNotFoundFault", 404, "ReplicationGroupNotFoundFault"):
        ec.describe_replication_groups(ReplicationGroupId="no-such-group")
    with aws_error(ec, "ReplicationGroupNotFoundFault", 404, "ReplicationGroupNotFoundFault"):
        ec.create_cache_cluster(CacheClusterId=uid("r"), ReplicationGroupId="no-such-group")

    create_cmd(
        ec,
        groups,
        gid,
        NumCacheClusters=1,
        TransitEncryptionEnabled=True,
        AuthToken="a-long-enough-token-123",
        SnapshotRetentionLimit=3,
        SnapshotWindow="04:00-05:00",
    )
    with aws_error(ec, "ReplicationGroupAlreadyExists", 400, "ReplicationGroupAlreadyExistsFault"):
        create_cmd(ec, groups, gid.upper())
    group = wait_group(ec, gid)
    assert group["AuthTokenEnabled"] is True and group["TransitEncryptionEnabled"] is True
    assert group["SnapshotRetentionLimit"] == 3 and group["SnapshotWindow"] == "04:00-05:00"
    # The group encrypts in transit, so clients speak TLS (certificate checks: test_tls.py).
    ep = group["NodeGroups"][0]["PrimaryEndpoint"]
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(host=ep["Address"], port=ep["Port"], ssl=True, ssl_cert_reqs=None).ping()
    assert redis.Redis(
        host=ep["Address"], port=ep["Port"], ssl=True, ssl_cert_reqs=None, password="a-long-enough-token-123"
    ).ping()

    with aws_error(ec, "InvalidParameterCombination", 400, "InvalidParameterCombinationException") as info:
        ec.modify_replication_group(ReplicationGroupId=gid, ApplyImmediately=True)
    assert "No modifications were requested" in info.value.response["Error"]["Message"]
    with aws_error(ec, "InvalidReplicationGroupState", 400, "InvalidReplicationGroupStateFault"):
        ec.test_failover(ReplicationGroupId=gid, NodeGroupId="0001")
    with aws_error(ec, "InvalidCacheClusterState", 400, "InvalidCacheClusterStateFault") as info:
        ec.delete_cache_cluster(CacheClusterId=f"{gid}-001")
    assert "only member" in info.value.response["Error"]["Message"]
    out = ec.modify_replication_group(
        ReplicationGroupId=gid, ReplicationGroupDescription="changed", ApplyImmediately=True
    )["ReplicationGroup"]
    assert out["Description"] == "changed"
    wait_group(ec, gid)
    with aws_error(ec, "InvalidParameterValue", 400, "InvalidParameterValueException"):
        ec.increase_replica_count(ReplicationGroupId=gid, NewReplicaCount=1, ApplyImmediately=False)
    deleting = ec.delete_replication_group(ReplicationGroupId=gid, FinalSnapshotIdentifier="final-snap")
    assert deleting["ReplicationGroup"]["Status"] == "deleting"
    ec.get_waiter("replication_group_deleted").wait(ReplicationGroupId=gid, WaiterConfig=FAST_WAITER)


def test_describe_replication_groups_paginates(ec, groups, uid):
    prefix = uid("page")
    ids = [f"{prefix}-{i:02d}" for i in range(21)]
    for gid in ids:
        create_cmd(ec, groups, gid)
    pages = list(
        ec.get_paginator("describe_replication_groups").paginate(PaginationConfig={"PageSize": 20})
    )
    assert len(pages) >= 2
    seen = [g["ReplicationGroupId"] for page in pages for g in page["ReplicationGroups"]]
    assert len(seen) == len(set(seen)), "a group appears on two pages"
    assert [g for g in seen if g.startswith(prefix)] == ids, "creation order, every group once"
    with aws_error(ec, "InvalidParameterValue", 400, "InvalidParameterValueException"):
        ec.describe_replication_groups(MaxRecords=10)
