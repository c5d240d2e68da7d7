"""Service updates through boto3: the built-in catalogue (DescribeServiceUpdates with its
filters and pagination), the update actions every replication group and standalone cluster
gets (DescribeUpdateActions with every filter and node-level status), and BatchApply /
BatchStopUpdateAction moving actions not-applied -> in-progress -> complete and
in-progress -> stopping -> stopped, with AWS's unprocessed entries and errors.
"""

from __future__ import annotations

import random
from datetime import datetime, timezone

import pytest

from helpers import aws_error, create_memcached, create_redis, until

REDIS_SECURITY = "elasticache-20250318-001"
REDIS_ENGINE_7 = "elasticache-20250812-002"
MEMCACHED_SECURITY = "elasticache-20250605-001"
EXPIRED = "elasticache-20230404-001"


@pytest.fixture
def acct(make_client):
    """A client of an account of its own, so other suites' clusters do not show up."""
    return make_client(access_key=str(random.randint(10**11, 10**12 - 1)))



def test_service_updates_catalogue_filters_and_pages(acct):
    all_updates = acct.describe_service_updates()["ServiceUpdates"]
    names = [u["ServiceUpdateName"] for u in all_updates]
    assert REDIS_SECURITY in names and MEMCACHED_SECURITY in names and EXPIRED in names
    for u in all_updates:
        assert u["ServiceUpdateType"] in ("security-update", "engine-update")
        assert u["ServiceUpdateSeverity"] in ("critical", "important", "medium", "low")
        assert u["ServiceUpdateReleaseDate"] < u["ServiceUpdateRecommendedApplyByDate"]
        assert u["Engine"] in ("redis", "valkey", "memcached")
    one = acct.describe_service_updates(ServiceUpdateName=REDIS_SECURITY)["ServiceUpdates"]
    assert len(one) == 1 and one[0]["ServiceUpdateStatus"] == "available"
    assert one[0]["AutoUpdateAfterRecommendedApplyByDate"] is True
    expired = acct.describe_service_updates(ServiceUpdateStatus=["expired"])["ServiceUpdates"]
    assert [u["ServiceUpdateName"] for u in expired] == [EXPIRED]
    assert "ServiceUpdateEndDate" in expired[0]
    with aws_error(acct, "InvalidParameterValue", 400):
        acct.describe_service_updates(ServiceUpdateStatus=["finished"])
    with aws_error(acct, "InvalidParameterValue", 400):
        acct.describe_service_updates(MaxRecords=5)
    pages = list(acct.get_paginator("describe_service_updates").paginate(PaginationConfig={"PageSize": 20}))
    assert sum(len(p["ServiceUpdates"]) for p in pages) == len(all_updates)


def test_update_actions_apply_and_stop(acct, resources, uid):
    rid = uid("su-redis")
    mid = uid("su-mc")
    create_redis(acct, resources, rid, EngineVersion="7.1")
    create_memcached(acct, resources, mid, nodes=2)

    actions = acct.describe_update_actions()["UpdateActions"]
    mine = {(a["ServiceUpdateName"], a.get("CacheClusterId")) for a in actions}
    assert (REDIS_SECURITY, rid) in mine and (REDIS_ENGINE_7, rid) in mine
    assert (MEMCACHED_SECURITY, mid) in mine
    assert (EXPIRED, rid) not in mine  # 6.x only
    assert all(a["UpdateActionStatus"] == "not-applied" for a in actions)

    mc = acct.describe_update_actions(Engine="memcached", ShowNodeLevelUpdateStatus=True)["UpdateActions"]
    assert {a["CacheClusterId"] for a in mc} == {mid}
    nodes = mc[0]["CacheNodeUpdateStatus"]
    assert [n["CacheNodeId"] for n in nodes] == ["0001", "0002"]
    assert all(n["NodeUpdateStatus"] == "not-applied" for n in nodes)
    assert mc[0]["NodesUpdated"] == "0/2"

    out = acct.batch_apply_update_action(ServiceUpdateName=MEMCACHED_SECURITY, CacheClusterIds=[mid, "nope-1"])
    assert out["ProcessedUpdateActions"] == [
        {"CacheClusterId": mid, "ServiceUpdateName": MEMCACHED_SECURITY, "UpdateActionStatus": "in-progress"}
    ]
    [bad] = out["UnprocessedUpdateActions"]
    assert bad["CacheClusterId"] == "nope-1" and bad["ErrorType"] == "CacheClusterNotFoundFault"
    assert bad["ErrorMessage"]

    def status(name, cid):
        got = acct.describe_update_actions(ServiceUpdateName=name, CacheClusterIds=[cid], ShowNodeLevelUpdateStatus=True)
        return got["UpdateActions"][0]

    until(lambda: status(MEMCACHED_SECURITY, mid)["UpdateActionStatus"] == "complete")
    done = status(MEMCACHED_SECURITY, mid)
    assert done["NodesUpdated"] == "2/2"
    assert all(n["NodeUpdateStatus"] == "complete" for n in done["CacheNodeUpdateStatus"])
    again = acct.batch_apply_update_action(ServiceUpdateName=MEMCACHED_SECURITY, CacheClusterIds=[mid])
    assert again["ProcessedUpdateActions"] == []
    assert again["UnprocessedUpdateActions"][0]["ErrorType"] == "InvalidParameterValue"

    # Stop: refused while not applied, accepted while in progress.
    refused = acct.batch_stop_update_action(ServiceUpdateName=REDIS_ENGINE_7, CacheClusterIds=[rid])
    assert refused["UnprocessedUpdateActions"][0]["CacheClusterId"] == rid
    acct.batch_apply_update_action(ServiceUpdateName=REDIS_ENGINE_7, CacheClusterIds=[rid])
    stopped = acct.batch_stop_update_action(ServiceUpdateName=REDIS_ENGINE_7, CacheClusterIds=[rid])
    if stopped["ProcessedUpdateActions"]:
        assert stopped["ProcessedUpdateActions"][0]["UpdateActionStatus"] == "stopping"
        until(lambda: status(REDIS_ENGINE_7, rid)["UpdateActionStatus"] == "stopped")
        by_status = acct.describe_update_actions(UpdateActionStatus=["stopped"])["UpdateActions"]
        assert [(a["ServiceUpdateName"], a["CacheClusterId"]) for a in by_status] == [(REDIS_ENGINE_7, rid)]
    else:  # the apply finished before the stop arrived
        assert stopped["UnprocessedUpdateActions"][0]["ErrorType"] == "InvalidParameterValue"

    # An update that does not cover the cluster, and an expired one.
    wrong = acct.batch_apply_update_action(ServiceUpdateName=MEMCACHED_SECURITY, CacheClusterIds=[rid])
    assert wrong["UnprocessedUpdateActions"][0]["ErrorType"] == "InvalidParameterValue"
    old = acct.batch_apply_update_action(ServiceUpdateName=EXPIRED, CacheClusterIds=[rid])
    assert old["UnprocessedUpdateActions"][0]["ErrorType"] == "InvalidParameterValue"


def test_update_actions_of_replication_groups_show_node_groups(acct, uid):
    gid = uid("su-group")
    acct.create_replication_group(
        ReplicationGroupId=gid,
        ReplicationGroupDescription="service updates",
        Engine="redis",
        CacheNodeType="cache.t3.micro",
        NumCacheClusters=2,
    )
    try:
        acct.get_waiter("replication_group_available").wait(
            ReplicationGroupId=gid, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
        got = acct.describe_update_actions(
            ReplicationGroupIds=[gid], ServiceUpdateName=REDIS_SECURITY, ShowNodeLevelUpdateStatus=True
        )["UpdateActions"]
        assert len(got) == 1 and got[0]["ReplicationGroupId"] == gid and "CacheClusterId" not in got[0]
        [shard] = got[0]["NodeGroupUpdateStatus"]
        assert shard["NodeGroupId"] == "0001"
        assert len(shard["NodeGroupMemberUpdateStatus"]) == 2
        # A member cluster is updated through its group.
        member = shard["NodeGroupMemberUpdateStatus"][0]["CacheClusterId"]
        out = acct.batch_apply_update_action(ServiceUpdateName=REDIS_SECURITY, CacheClusterIds=[member])
        assert out["UnprocessedUpdateActions"][0]["ErrorType"] == "InvalidParameterValue"
        out = acct.batch_apply_update_action(ServiceUpdateName=REDIS_SECURITY, ReplicationGroupIds=[gid, "nogroup"])
        assert out["ProcessedUpdateActions"][0]["ReplicationGroupId"] == gid
        assert out["UnprocessedUpdateActions"][0]["ErrorType"] == "ReplicationGroupNotFoundFault"
        in_progress_or_done = acct.describe_update_actions(
            UpdateActionStatus=["in-progress", "complete"], ReplicationGroupIds=[gid]
        )["UpdateActions"]
        assert [a["ServiceUpdateName"] for a in in_progress_or_done] == [REDIS_SECURITY]
        # Time range filter on the release date.
        after = datetime(2025, 8, 1, tzinfo=timezone.utc)
        recent = acct.describe_update_actions(
            ReplicationGroupIds=[gid], ServiceUpdateTimeRange={"StartTime": after}
        )["UpdateActions"]
        assert {a["ServiceUpdateName"] for a in recent} == {REDIS_ENGINE_7}
    finally:
        acct.delete_replication_group(ReplicationGroupId=gid)


def test_update_action_errors(acct):
    with aws_error(acct, "ServiceUpdateNotFoundFault", 404, "ServiceUpdateNotFoundFault"):
        acct.batch_apply_update_action(ServiceUpdateName="elasticache-20000101-001", CacheClusterIds=["x"])
    with aws_error(acct, "ServiceUpdateNotFoundFault", 404):
        acct.batch_stop_update_action(ServiceUpdateName="nope", ReplicationGroupIds=["x"])
    with aws_error(acct, "MissingParameter", 400):
        acct.batch_apply_update_action(ServiceUpdateName=REDIS_SECURITY)
    with aws_error(acct, "InvalidParameterCombination", 400):
        acct.describe_update_actions(ReplicationGroupIds=["a"], CacheClusterIds=["b"])
    with aws_error(acct, "InvalidParameterValue", 400):
        acct.describe_update_actions(UpdateActionStatus=["done"])
    with aws_error(acct, "InvalidParameterValue", 400):
        acct.describe_update_actions(Marker="not-a-marker")


def test_update_actions_paginate(acct, resources, uid):
    ids = [uid("su-page") for _ in range(11)]
    for cid in ids:
        resources.cluster(acct, cid)
        acct.create_cache_cluster(CacheClusterId=cid, Engine="redis", CacheNodeType="cache.t3.micro", NumCacheNodes=1)
    # Each Redis 7 cluster has two actions (security + 7.x engine update): 22 in all.
    pages = list(acct.get_paginator("describe_update_actions").paginate(PaginationConfig={"PageSize": 20}))
    assert [len(p["UpdateActions"]) for p in pages] == [20, 2]
    seen = [(a["ServiceUpdateName"], a["CacheClusterId"]) for p in pages for a in p["UpdateActions"]]
    assert len(set(seen)) == 22


def test_valkey_clusters_get_valkey_updates(acct, resources, uid):
    vid = uid("su-valkey")
    resources.cluster(acct, vid)
    acct.create_cache_cluster(CacheClusterId=vid, Engine="valkey", CacheNodeType="cache.t3.micro", NumCacheNodes=1)
    got = acct.describe_update_actions(Engine="valkey")["UpdateActions"]
    assert [(a["ServiceUpdateName"], a["CacheClusterId"], a["Engine"]) for a in got] == [
        ("elasticache-20251015-001", vid, "valkey")
    ]
    assert got[0]["ServiceUpdateSeverity"] == "critical"
    # Its apply-by date has passed and it was not applied: the SLA is missed.
    assert got[0]["SlaMet"] == "no"
    assert acct.describe_update_actions(Engine="redis", CacheClusterIds=[vid])["UpdateActions"] == []
