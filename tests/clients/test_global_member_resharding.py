"""A global datastore member's shards belong to the datastore: ModifyReplicationGroupShardConfiguration
on a member (primary or secondary) is refused as AWS refuses member modifications
(InvalidParameterValue "Cluster [...] is part of a global cluster [...]. Request rejected."), the
member keeps its shards, and IncreaseNodeGroupsInGlobalReplicationGroup still reshards it. Once
disassociated, the group reshards on its own again.
"""

from __future__ import annotations

import time

import pytest

from helpers import FAST_WAITER, aws_error

EAST, WEST = "us-east-1", "us-west-2"


def eventually(fn, attempts: int = 2400):
    for _ in range(attempts):
        value = fn()
        if value:
            return value
        time.sleep(0.025)
    return None


def wait_group(client, rg: str) -> dict:
    client.get_waiter("replication_group_available").wait(ReplicationGroupId=rg, WaiterConfig=FAST_WAITER)
    return client.describe_replication_groups(ReplicationGroupId=rg)["ReplicationGroups"][0]


def datastore(client, gid: str) -> dict:
    return client.describe_global_replication_groups(GlobalReplicationGroupId=gid, ShowMemberInfo=True)[
        "GlobalReplicationGroups"
    ][0]


@pytest.fixture
def regions(make_client):
    east, west = make_client(EAST), make_client(WEST)
    made: dict = {"gid": None, "groups": []}
    yield east, west, made
    gid = made["gid"]
    if gid:
        for m in datastore(east, gid).get("Members", []):
            if m["Role"] == "SECONDARY":
                try:
                    east.disassociate_global_replication_group(
                        GlobalReplicationGroupId=gid,
                        ReplicationGroupId=m["ReplicationGroupId"],
                        ReplicationGroupRegion=m["ReplicationGroupRegion"],
                    )
                except Exception:
                    pass
        eventually(lambda: datastore(east, gid)["Status"] in ("available", "primary-only"))
        try:
            east.delete_global_replication_group(GlobalReplicationGroupId=gid, RetainPrimaryReplicationGroup=True)
        except Exception:
            pass
        eventually(lambda: not east.describe_global_replication_groups()["GlobalReplicationGroups"])
    for client, rg in made["groups"]:
        try:
            wait_group(client, rg)
            client.delete_replication_group(ReplicationGroupId=rg)
        except Exception:
            pass


def test_resharding_a_member_is_refused_and_the_datastore_reshards_it(regions, uid):
    east, west, made = regions
    rg, sec = uid("gm"), uid("gms")
    east.create_replication_group(
        ReplicationGroupId=rg,
        ReplicationGroupDescription="cme primary",
        Engine="redis",
        EngineVersion="7.1",
        CacheNodeType="cache.m5.large",
        NumNodeGroups=2,
        ReplicasPerNodeGroup=0,
    )
    made["groups"].append((east, rg))
    wait_group(east, rg)
    gid = east.create_global_replication_group(GlobalReplicationGroupIdSuffix=rg, PrimaryReplicationGroupId=rg)[
        "GlobalReplicationGroup"
    ]["GlobalReplicationGroupId"]
    made["gid"] = gid
    assert eventually(lambda: datastore(east, gid)["Status"] in ("available", "primary-only"))
    west.create_replication_group(
        ReplicationGroupId=sec, ReplicationGroupDescription="secondary", GlobalReplicationGroupId=gid
    )
    made["groups"].append((west, sec))
    wait_group(west, sec)
    assert eventually(lambda: datastore(east, gid)["Status"] == "available")

    for client, member in ((east, rg), (west, sec)):
        with aws_error(client, "InvalidParameterValue", 400) as err:
            client.modify_replication_group_shard_configuration(
                ReplicationGroupId=member, NodeGroupCount=3, ApplyImmediately=True
            )
        assert err.value.response["Error"]["Message"] == (
            f"Cluster [{member}] is part of a global cluster [{gid}]. Request rejected."
        )
        group = client.describe_replication_groups(ReplicationGroupId=member)["ReplicationGroups"][0]
        assert group["Status"] == "available" and len(group["NodeGroups"]) == 2, "the member keeps its shards"

    # The datastore reshards its members.
    east.increase_node_groups_in_global_replication_group(GlobalReplicationGroupId=gid, NodeGroupCount=3, ApplyImmediately=True)
    assert eventually(lambda: datastore(east, gid)["Status"] == "available" and len(datastore(east, gid)["GlobalNodeGroups"]) == 3)
    assert len(wait_group(east, rg)["NodeGroups"]) == 3
    assert len(wait_group(west, sec)["NodeGroups"]) == 3

    # Disassociated, the former secondary is a group of its own again and reshards itself.
    east.disassociate_global_replication_group(GlobalReplicationGroupId=gid, ReplicationGroupId=sec, ReplicationGroupRegion=WEST)
    assert eventually(lambda: "GlobalReplicationGroupInfo" not in wait_group(west, sec) or not wait_group(west, sec)["GlobalReplicationGroupInfo"])
    west.modify_replication_group_shard_configuration(ReplicationGroupId=sec, NodeGroupCount=2, NodeGroupsToRemove=["0003"], ApplyImmediately=True)
    assert eventually(lambda: len(wait_group(west, sec)["NodeGroups"]) == 2)
