"""What BatchApplyUpdateAction does to the nodes, through boto3 and redis-py: every node the
action covers restarts in place, one at a time (a replica before its primary, which fails over
first), a Redis OSS node keeps its keyspace, NodesUpdated counts the nodes done, and a stopped
action leaves the rest for the next apply, which goes on from there.
"""

from __future__ import annotations

import random

import pytest
import redis

from helpers import delete_groups, until, wait_group

REDIS_SECURITY = "elasticache-20250318-001"


@pytest.fixture
def acct(make_client):
    """A client of an account of its own, so other suites' clusters do not show up."""
    return make_client(access_key=str(random.randint(10**11, 10**12 - 1)))


@pytest.fixture
def groups(acct):
    made: list[str] = []
    yield made
    delete_groups(acct, made, settle_first=True)



def action(ec, gid: str) -> dict:
    return ec.describe_update_actions(
        ServiceUpdateName=REDIS_SECURITY, ReplicationGroupIds=[gid], ShowNodeLevelUpdateStatus=True
    )["UpdateActions"][0]


def run_ids(ec, rg: dict) -> dict[str, str]:
    """Each member's engine run id: a new one means the node restarted."""
    out = {}
    for member in rg["MemberClusters"]:
        node = ec.describe_cache_clusters(CacheClusterId=member, ShowCacheNodeInfo=True)["CacheClusters"][0]
        ep = node["CacheNodes"][0]["Endpoint"]
        out[member] = redis.Redis(host=ep["Address"], port=ep["Port"], socket_timeout=10).info("server")["run_id"]
    return out


def make_group(ec, groups, gid: str) -> dict:
    ec.create_replication_group(
        ReplicationGroupId=gid,
        ReplicationGroupDescription="service update target",
        Engine="redis",
        EngineVersion="7.1",
        CacheNodeType="cache.t3.micro",
        NumCacheClusters=2,
        AutomaticFailoverEnabled=True,
    )
    groups.append(gid)
    return wait_group(ec, gid)


def test_applying_an_update_restarts_every_node_keeping_the_keys(acct, groups, uid):
    gid = uid("su")
    rg = make_group(acct, groups, gid)
    ep = rg["NodeGroups"][0]["PrimaryEndpoint"]
    primary = redis.Redis(host=ep["Address"], port=ep["Port"], socket_timeout=10, decode_responses=True)
    for i in range(100):
        primary.set(f"k{i}", i)
    before = run_ids(acct, rg)
    first_primary = next(m["CacheClusterId"] for m in rg["NodeGroups"][0]["NodeGroupMembers"] if m["CurrentRole"] == "primary")
    assert action(acct, gid)["NodesUpdated"] == "0/2"

    out = acct.batch_apply_update_action(ServiceUpdateName=REDIS_SECURITY, ReplicationGroupIds=[gid])
    assert out["ProcessedUpdateActions"][0]["UpdateActionStatus"] == "in-progress"
    done = until(lambda: (a := action(acct, gid))["UpdateActionStatus"] == "complete" and a, timeout=60.0)
    assert done["NodesUpdated"] == "2/2"
    members = done["NodeGroupUpdateStatus"][0]["NodeGroupMemberUpdateStatus"]
    assert {m["NodeUpdateStatus"] for m in members} == {"complete"}

    rg = wait_group(acct, gid)
    after = run_ids(acct, rg)
    assert all(after[m] != before[m] for m in before), "every node restarted"
    # The primary failed over to the replica before its own restart, as ElastiCache does.
    roles = {m["CacheClusterId"]: m["CurrentRole"] for m in rg["NodeGroups"][0]["NodeGroupMembers"]}
    assert roles[first_primary] == "replica"
    primary = redis.Redis(host=ep["Address"], port=ep["Port"], socket_timeout=10, decode_responses=True)
    assert all(primary.get(f"k{i}") == str(i) for i in range(100)), "the keyspace is kept"
    assert primary.set("after", "1") is True


def test_a_stopped_update_goes_on_with_the_other_nodes_when_applied_again(acct, groups, uid):
    gid = uid("sus")
    rg = make_group(acct, groups, gid)
    # Enough keys that a node's restart (its keyspace carried over) outlasts the Stop call.
    ep = rg["NodeGroups"][0]["PrimaryEndpoint"]
    primary = redis.Redis(host=ep["Address"], port=ep["Port"], socket_timeout=30)
    for start in range(0, 200_000, 10_000):
        primary.mset({f"k{i}": i for i in range(start, start + 10_000)})
    before = run_ids(acct, rg)
    acct.batch_apply_update_action(ServiceUpdateName=REDIS_SECURITY, ReplicationGroupIds=[gid])
    stopped = acct.batch_stop_update_action(ServiceUpdateName=REDIS_SECURITY, ReplicationGroupIds=[gid])
    assert stopped["ProcessedUpdateActions"][0]["UpdateActionStatus"] == "stopping"
    halted = until(lambda: (a := action(acct, gid))["UpdateActionStatus"] == "stopped" and a, timeout=60.0)
    updated = int(halted["NodesUpdated"].split("/")[0])
    assert updated < 2, "the stop came before the last node"
    statuses = [m["NodeUpdateStatus"] for m in halted["NodeGroupUpdateStatus"][0]["NodeGroupMemberUpdateStatus"]]
    assert statuses.count("complete") == updated and statuses.count("stopped") == 2 - updated

    acct.batch_apply_update_action(ServiceUpdateName=REDIS_SECURITY, ReplicationGroupIds=[gid])
    done = until(lambda: (a := action(acct, gid))["UpdateActionStatus"] == "complete" and a, timeout=60.0)
    assert done["NodesUpdated"] == "2/2"
    after = run_ids(acct, wait_group(acct, gid))
    assert all(after[m] != before[m] for m in before)
