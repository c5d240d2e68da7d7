"""Global datastores through boto3 (reference section 2.17) with two regions of one account
(two clients, us-east-1 and us-west-2, against the same emulator), and their engines through
redis-py: writes on the primary region's endpoint are read on every node of the secondary
region, secondaries answer READONLY, failover swaps the roles, disassociation makes the
secondary standalone and writable again.
"""

from __future__ import annotations

import time

import pytest
import redis
from redis.cluster import RedisCluster

from helpers import FAST_WAITER, aws_error

NODE_TYPE = "cache.m5.large"
EAST, WEST = "us-east-1", "us-west-2"


def eventually(fn, attempts: int = 400):
    """Retries until `fn` returns something truthy (replication and transitions are async)."""
    value = None
    for _ in range(attempts):
        value = fn()
        if value:
            return value
        time.sleep(0.025)
    return value


@pytest.fixture
def regions(make_client):
    """(east, west) clients; groups and datastores created through them are cleaned up."""
    east, west = make_client(EAST), make_client(WEST)
    yield east, west
    for client in (east, west):
        for g in client.describe_global_replication_groups(ShowMemberInfo=True)["GlobalReplicationGroups"]:
            for m in g.get("Members", []):
                if m["Role"] == "SECONDARY":
                    try:
                        client.disassociate_global_replication_group(
                            GlobalReplicationGroupId=g["GlobalReplicationGroupId"],
                            ReplicationGroupId=m["ReplicationGroupId"],
                            ReplicationGroupRegion=m["ReplicationGroupRegion"],
                        )
                    except Exception:
                        pass
    for client in (east, west):
        for g in client.describe_global_replication_groups()["GlobalReplicationGroups"]:
            gid = g["GlobalReplicationGroupId"]
            eventually(lambda: settled(client, gid))
            try:
                client.delete_global_replication_group(GlobalReplicationGroupId=gid, RetainPrimaryReplicationGroup=True)
            except Exception:
                pass
            eventually(lambda: not client.describe_global_replication_groups()["GlobalReplicationGroups"])
    for client in (east, west):
        for rg in client.describe_replication_groups()["ReplicationGroups"]:
            try:
                client.delete_replication_group(ReplicationGroupId=rg["ReplicationGroupId"])
            except Exception:
                pass


def settled(client, gid: str) -> bool:
    g = client.describe_global_replication_groups(GlobalReplicationGroupId=gid)["GlobalReplicationGroups"]
    return bool(g) and g[0]["Status"] in ("available", "primary-only")


def describe(client, gid: str) -> dict:
    return client.describe_global_replication_groups(GlobalReplicationGroupId=gid, ShowMemberInfo=True)[
        "GlobalReplicationGroups"
    ][0]


def wait_group(client, rg: str) -> dict:
    client.get_waiter("replication_group_available").wait(ReplicationGroupId=rg, WaiterConfig=FAST_WAITER)
    return client.describe_replication_groups(ReplicationGroupId=rg)["ReplicationGroups"][0]


def create_primary(client, rg: str, **extra) -> dict:
    args = dict(
        ReplicationGroupId=rg,
        ReplicationGroupDescription="global primary",
        Engine="redis",
        EngineVersion="7.1",
        CacheNodeType=NODE_TYPE,
        NumCacheClusters=2,
        AutomaticFailoverEnabled=True,
    )
    args.update(extra)
    client.create_replication_group(**args)
    return wait_group(client, rg)


def create_global(client, suffix: str, primary: str) -> str:
    out = client.create_global_replication_group(
        GlobalReplicationGroupIdSuffix=suffix, PrimaryReplicationGroupId=primary
    )["GlobalReplicationGroup"]
    gid = out["GlobalReplicationGroupId"]
    assert eventually(lambda: settled(client, gid))
    return gid


def create_secondary(client, rg: str, gid: str, **extra) -> dict:
    client.create_replication_group(
        ReplicationGroupId=rg, ReplicationGroupDescription="global secondary", GlobalReplicationGroupId=gid, **extra
    )
    group = wait_group(client, rg)
    assert eventually(lambda: describe(client, gid)["Status"] == "available")
    return group


def conn(endpoint: dict) -> redis.Redis:
    return redis.Redis(host=endpoint["Address"], port=endpoint["Port"], socket_timeout=10, decode_responses=True)


def node_conns(group: dict) -> list[redis.Redis]:
    return [conn(m["ReadEndpoint"]) for m in group["NodeGroups"][0]["NodeGroupMembers"]]


def test_create_describe_and_the_id_prefix(regions, uid):
    east, west = regions
    rg = uid("gp")
    create_primary(east, rg)
    out = east.create_global_replication_group(
        GlobalReplicationGroupIdSuffix=f"{rg}-g", PrimaryReplicationGroupId=rg, GlobalReplicationGroupDescription="d"
    )["GlobalReplicationGroup"]
    gid = out["GlobalReplicationGroupId"]
    # us-east-1's prefix from the User Guide, then the suffix.
    assert gid == f"ldgnf-{rg}-g"
    assert out["Status"] == "creating"
    assert out["ARN"] == f"arn:aws:elasticache::000000000000:globalreplicationgroup:{gid}"
    assert eventually(lambda: settled(east, gid))
    # Readable from every region of the account; members only with ShowMemberInfo.
    g = west.describe_global_replication_groups(GlobalReplicationGroupId=gid)["GlobalReplicationGroups"][0]
    assert g["Status"] == "primary-only" and "Members" not in g
    g = describe(west, gid)
    assert (g["Engine"], g["EngineVersion"], g["CacheNodeType"], g["ClusterEnabled"]) == (
        "redis",
        "7.1.0",
        NODE_TYPE,
        False,
    )
    assert g["GlobalReplicationGroupDescription"] == "d"
    assert g["GlobalNodeGroups"] == [{"GlobalNodeGroupId": f"{gid}-0001"}]
    assert g["Members"] == [
        {
            "ReplicationGroupId": rg,
            "ReplicationGroupRegion": EAST,
            "Role": "PRIMARY",
            "AutomaticFailover": "enabled",
            "Status": "associated",
        }
    ]
    info = east.describe_replication_groups(ReplicationGroupId=rg)["ReplicationGroups"][0]["GlobalReplicationGroupInfo"]
    assert info == {"GlobalReplicationGroupId": gid, "GlobalReplicationGroupMemberRole": "PRIMARY"}
    # Joining moves the group to a generated `global-datastore-` parameter group (same values).
    member = east.describe_cache_clusters(CacheClusterId=f"{rg}-001")["CacheClusters"][0]
    assert member["CacheParameterGroup"]["CacheParameterGroupName"] == f"global-datastore-{gid}"
    pg = east.describe_cache_parameter_groups(CacheParameterGroupName=f"global-datastore-{gid}")["CacheParameterGroups"][0]
    assert (pg["CacheParameterGroupFamily"], pg["IsGlobal"]) == ("redis7", True)

    # Errors.
    with aws_error(east, "GlobalReplicationGroupAlreadyExistsFault", 400):
        east.create_global_replication_group(GlobalReplicationGroupIdSuffix=f"{rg}-g", PrimaryReplicationGroupId=rg)
    with aws_error(east, "InvalidReplicationGroupState", 400):
        east.create_global_replication_group(GlobalReplicationGroupIdSuffix=f"{rg}-h", PrimaryReplicationGroupId=rg)
    with aws_error(east, "ReplicationGroupNotFoundFault", 404):
        east.create_global_replication_group(GlobalReplicationGroupIdSuffix="x", PrimaryReplicationGroupId="nope")
    with aws_error(west, "GlobalReplicationGroupNotFoundFault", 404):
        west.describe_global_replication_groups(GlobalReplicationGroupId="ldgnf-nope")
    with aws_error(east, "InvalidParameterValue", 400):
        east.describe_global_replication_groups(MaxRecords=5)
    with aws_error(east, "InvalidReplicationGroupState", 400):
        east.delete_replication_group(ReplicationGroupId=rg)
    small = uid("gs")
    create_primary(east, small, CacheNodeType="cache.t3.micro")
    with aws_error(east, "InvalidParameterValue", 400):
        east.create_global_replication_group(GlobalReplicationGroupIdSuffix=small, PrimaryReplicationGroupId=small)

    # Pagination over the account's datastores (id order).
    second = uid("gq")
    create_primary(east, second)
    gid2 = create_global(east, f"{second}-g", second)
    page = west.describe_global_replication_groups(MaxRecords=20)
    ids = [g["GlobalReplicationGroupId"] for g in page["GlobalReplicationGroups"]]
    assert ids == sorted([gid, gid2]) and "Marker" not in page

    # Delete keeps the primary as a plain replication group.
    with aws_error(east, "InvalidParameterValue", 400):
        east.delete_global_replication_group(GlobalReplicationGroupId=gid, RetainPrimaryReplicationGroup=False)
    out = east.delete_global_replication_group(GlobalReplicationGroupId=gid, RetainPrimaryReplicationGroup=True)
    assert out["GlobalReplicationGroup"]["Status"] == "deleting"
    assert eventually(lambda: gid not in [g["GlobalReplicationGroupId"] for g in east.describe_global_replication_groups()["GlobalReplicationGroups"]])
    with aws_error(east, "GlobalReplicationGroupNotFoundFault", 404):
        east.delete_global_replication_group(GlobalReplicationGroupId=gid, RetainPrimaryReplicationGroup=True)
    group = east.describe_replication_groups(ReplicationGroupId=rg)["ReplicationGroups"][0]
    assert group["Status"] == "available" and "GlobalReplicationGroupInfo" not in group


def test_secondary_replicates_every_write_and_refuses_writes(regions, uid, make_client):
    east, west = regions
    rg, sec = uid("gp"), uid("gs")
    primary = create_primary(east, rg)
    p = conn(primary["NodeGroups"][0]["PrimaryEndpoint"])
    assert p.set("before", "1")
    gid = create_global(east, rg, rg)
    out = west.create_replication_group(
        ReplicationGroupId=sec,
        ReplicationGroupDescription="secondary",
        GlobalReplicationGroupId=gid,
        NumCacheClusters=2,
    )["ReplicationGroup"]
    assert out["GlobalReplicationGroupInfo"] == {
        "GlobalReplicationGroupId": gid,
        "GlobalReplicationGroupMemberRole": "SECONDARY",
    }
    # The datastore is `modifying` while the secondary joins (it may be done already).
    g = describe(east, gid)
    assert g["Status"] in ("modifying", "available")
    assert g["Members"][1]["Status"] in ("associating", "associated")
    secondary = wait_group(west, sec)
    assert eventually(lambda: describe(east, gid)["Status"] == "available")
    g = describe(west, gid)
    assert [(m["ReplicationGroupId"], m["ReplicationGroupRegion"], m["Role"], m["Status"]) for m in g["Members"]] == [
        (rg, EAST, "PRIMARY", "associated"),
        (sec, WEST, "SECONDARY", "associated"),
    ]
    # Inherited from the datastore.
    assert (secondary["CacheNodeType"], secondary["AutomaticFailover"], secondary["ClusterEnabled"]) == (
        NODE_TYPE,
        "enabled",
        False,
    )
    assert len(secondary["MemberClusters"]) == 2

    # Data written before and after reaches every node of the secondary region.
    for i in range(50):
        p.set(f"k{i}", i)
    nodes = node_conns(secondary) + [conn(secondary["NodeGroups"][0]["PrimaryEndpoint"])]
    for n in nodes:
        assert eventually(lambda: n.get("k49") == "49")
        assert n.get("before") == "1"
    for n in nodes:
        with pytest.raises(redis.exceptions.ReadOnlyError, match="You can't write against a read only replica"):
            n.set("w", "1")
    assert nodes[0].execute_command("ROLE")[0] in ("slave", "replica")

    # One member per region, and members cannot be deleted while associated.
    with aws_error(west, "InvalidParameterValue", 400):
        west.create_replication_group(
            ReplicationGroupId=uid("gx"), ReplicationGroupDescription="x", GlobalReplicationGroupId=gid
        )
    with aws_error(west, "GlobalReplicationGroupNotFoundFault", 404):
        west.create_replication_group(
            ReplicationGroupId=uid("gx"), ReplicationGroupDescription="x", GlobalReplicationGroupId="ldgnf-nope"
        )
    other = make_client("eu-west-1")
    with aws_error(other, "InvalidParameterValue", 400):
        other.create_replication_group(
            ReplicationGroupId=uid("gx"),
            ReplicationGroupDescription="x",
            GlobalReplicationGroupId=gid,
            CacheNodeType="cache.r6g.large",
        )
    with aws_error(west, "InvalidReplicationGroupState", 400):
        west.delete_replication_group(ReplicationGroupId=sec)
    # What the datastore manages cannot be changed on one member.
    with aws_error(west, "InvalidParameterValue", 400) as info:
        west.modify_replication_group(ReplicationGroupId=sec, ApplyImmediately=True, CacheNodeType="cache.r6g.large")
    assert "is part of a global cluster" in str(info.value)
    with aws_error(east, "InvalidGlobalReplicationGroupState", 400):
        east.delete_global_replication_group(GlobalReplicationGroupId=gid, RetainPrimaryReplicationGroup=True)



def test_failover_swaps_roles_and_disassociate_makes_the_secondary_writable(regions, uid):
    east, west = regions
    rg, sec = uid("gp"), uid("gs")
    primary = create_primary(east, rg)
    gid = create_global(east, rg, rg)
    secondary = create_secondary(west, sec, gid, NumCacheClusters=2)
    p = conn(primary["NodeGroups"][0]["PrimaryEndpoint"])
    s = conn(secondary["NodeGroups"][0]["PrimaryEndpoint"])
    p.set("a", "1")
    assert eventually(lambda: s.get("a") == "1")

    # Errors first: unknown member, the primary itself, unknown datastore.
    with aws_error(east, "InvalidParameterValue", 400):
        east.failover_global_replication_group(
            GlobalReplicationGroupId=gid, PrimaryRegion=WEST, PrimaryReplicationGroupId="nope"
        )
    with aws_error(east, "InvalidParameterValue", 400):
        east.failover_global_replication_group(GlobalReplicationGroupId=gid, PrimaryRegion=EAST, PrimaryReplicationGroupId=rg)
    with aws_error(east, "GlobalReplicationGroupNotFoundFault", 404):
        east.failover_global_replication_group(
            GlobalReplicationGroupId="ldgnf-nope", PrimaryRegion=WEST, PrimaryReplicationGroupId=sec
        )

    out = west.failover_global_replication_group(
        GlobalReplicationGroupId=gid, PrimaryRegion=WEST, PrimaryReplicationGroupId=sec
    )["GlobalReplicationGroup"]
    assert out["Status"] == "modifying"
    assert eventually(lambda: describe(east, gid)["Status"] == "available")
    g = describe(east, gid)
    assert [(m["ReplicationGroupId"], m["Role"]) for m in g["Members"]] == [(sec, "PRIMARY"), (rg, "SECONDARY")]
    roles = {
        rg: east.describe_replication_groups(ReplicationGroupId=rg)["ReplicationGroups"][0],
        sec: west.describe_replication_groups(ReplicationGroupId=sec)["ReplicationGroups"][0],
    }
    assert roles[rg]["GlobalReplicationGroupInfo"]["GlobalReplicationGroupMemberRole"] == "SECONDARY"
    assert roles[sec]["GlobalReplicationGroupInfo"]["GlobalReplicationGroupMemberRole"] == "PRIMARY"
    # The new primary region takes writes; the old one follows it on every node, read-only.
    assert eventually(lambda: _writable(s))
    s.set("b", "2")
    for n in node_conns(roles[rg]) + [p]:
        assert eventually(lambda: n.get("b") == "2")
        assert n.get("a") == "1"
        with pytest.raises(redis.exceptions.ReadOnlyError):
            n.set("w", "1")

    # Disassociate the old primary (now the secondary): standalone and writable, data kept.
    with aws_error(east, "InvalidParameterValue", 400):
        east.disassociate_global_replication_group(
            GlobalReplicationGroupId=gid, ReplicationGroupId=sec, ReplicationGroupRegion=WEST
        )
    with aws_error(east, "InvalidParameterValue", 400) as info:
        east.disassociate_global_replication_group(
            GlobalReplicationGroupId=gid, ReplicationGroupId="nope", ReplicationGroupRegion=EAST
        )
    assert "is not associated with Global Replication Group" in str(info.value)
    east.disassociate_global_replication_group(
        GlobalReplicationGroupId=gid, ReplicationGroupId=rg, ReplicationGroupRegion=EAST
    )
    assert eventually(lambda: describe(west, gid)["Status"] == "primary-only")
    assert [m["ReplicationGroupId"] for m in describe(west, gid)["Members"]] == [sec]
    group = east.describe_replication_groups(ReplicationGroupId=rg)["ReplicationGroups"][0]
    assert "GlobalReplicationGroupInfo" not in group
    assert eventually(lambda: _writable(p))
    assert p.get("b") == "2"
    s.set("c", "3")
    time.sleep(0.2)
    assert p.get("c") is None
    # Its own replica still follows it.
    p.set("own", "x")
    assert eventually(lambda: node_conns(group)[1].get("own") == "x")
    east.delete_replication_group(ReplicationGroupId=rg)


def _writable(c: redis.Redis) -> bool:
    try:
        c.set("__probe", "1")
        return True
    except redis.exceptions.ReadOnlyError:
        return False


def test_cluster_mode_secondary_replicates_shard_by_shard(regions, uid):
    east, west = regions
    rg, sec = uid("gp"), uid("gs")
    east.create_replication_group(
        ReplicationGroupId=rg,
        ReplicationGroupDescription="cme primary",
        Engine="redis",
        EngineVersion="7.1",
        CacheNodeType=NODE_TYPE,
        NumNodeGroups=2,
        ReplicasPerNodeGroup=1,
    )
    primary = wait_group(east, rg)
    gid = create_global(east, rg, rg)
    g = describe(east, gid)
    assert g["ClusterEnabled"] is True
    assert [(n["GlobalNodeGroupId"], n["Slots"]) for n in g["GlobalNodeGroups"]] == [
        (f"{gid}-0001", "0-8191"),
        (f"{gid}-0002", "8192-16383"),
    ]
    with aws_error(west, "InvalidParameterValue", 400):
        west.create_replication_group(
            ReplicationGroupId=sec, ReplicationGroupDescription="x", GlobalReplicationGroupId=gid, NumNodeGroups=3
        )
    secondary = create_secondary(west, sec, gid, ReplicasPerNodeGroup=1)
    assert secondary["ClusterEnabled"] is True and len(secondary["NodeGroups"]) == 2
    pc = RedisCluster(
        host=primary["ConfigurationEndpoint"]["Address"],
        port=primary["ConfigurationEndpoint"]["Port"],
        decode_responses=True,
    )
    for i in range(100):
        pc.set(f"key{i}", i)
    sc = RedisCluster(
        host=secondary["ConfigurationEndpoint"]["Address"],
        port=secondary["ConfigurationEndpoint"]["Port"],
        decode_responses=True,
    )
    assert eventually(lambda: all(sc.get(f"key{i}") == str(i) for i in range(100)), attempts=200)
    with pytest.raises(redis.exceptions.ReadOnlyError):
        sc.set("key1", "x")
    # The default split is already even: a rebalance passes through `modifying`, slots stay.
    out = east.rebalance_slots_in_global_replication_group(GlobalReplicationGroupId=gid, ApplyImmediately=True)
    assert out["GlobalReplicationGroup"]["Status"] == "modifying"
    assert eventually(lambda: describe(west, gid)["Status"] == "available")
    assert [n["Slots"] for n in describe(west, gid)["GlobalNodeGroups"]] == ["0-8191", "8192-16383"]
    with aws_error(east, "InvalidParameterValue", 400):
        east.rebalance_slots_in_global_replication_group(GlobalReplicationGroupId=gid, ApplyImmediately=False)
    pc.close()
    sc.close()


def test_modify_applies_to_every_member_and_replication_survives(regions, uid):
    east, west = regions
    rg, sec = uid("gp"), uid("gs")
    primary = create_primary(east, rg)
    gid = create_global(east, rg, rg)
    secondary = create_secondary(west, sec, gid, NumCacheClusters=2)

    with aws_error(east, "InvalidParameterValue", 400):
        east.modify_global_replication_group(GlobalReplicationGroupId=gid, ApplyImmediately=False, CacheNodeType="cache.r6g.large")
    with aws_error(east, "InvalidParameterCombination", 400):
        east.modify_global_replication_group(GlobalReplicationGroupId=gid, ApplyImmediately=True)
    with aws_error(east, "InvalidParameterValue", 400):
        east.modify_global_replication_group(GlobalReplicationGroupId=gid, ApplyImmediately=True, CacheNodeType="cache.t3.micro")
    with aws_error(east, "GlobalReplicationGroupNotFoundFault", 404):
        east.modify_global_replication_group(GlobalReplicationGroupId="ldgnf-nope", ApplyImmediately=True, GlobalReplicationGroupDescription="x")
    with aws_error(east, "InvalidParameterValue", 400):
        east.rebalance_slots_in_global_replication_group(GlobalReplicationGroupId=gid, ApplyImmediately=True)

    out = west.modify_global_replication_group(
        GlobalReplicationGroupId=gid, ApplyImmediately=True, GlobalReplicationGroupDescription="new words"
    )["GlobalReplicationGroup"]
    assert out["GlobalReplicationGroupDescription"] == "new words"
    assert eventually(lambda: describe(east, gid)["Status"] == "available")

    out = east.modify_global_replication_group(
        GlobalReplicationGroupId=gid, ApplyImmediately=True, CacheNodeType="cache.r6g.large"
    )["GlobalReplicationGroup"]
    assert (out["Status"], out["CacheNodeType"]) == ("modifying", "cache.r6g.large")
    # A second change waits for the first.
    with aws_error(east, "InvalidGlobalReplicationGroupState", 400):
        east.modify_global_replication_group(GlobalReplicationGroupId=gid, ApplyImmediately=True, GlobalReplicationGroupDescription="x")
    assert eventually(lambda: describe(east, gid)["Status"] == "available", attempts=1200)
    for client, gid_rg in ((east, rg), (west, sec)):
        group = wait_group(client, gid_rg)
        assert group["CacheNodeType"] == "cache.r6g.large"
    # Replication still runs from the primary region to every secondary node.
    p = conn(east.describe_replication_groups(ReplicationGroupId=rg)["ReplicationGroups"][0]["NodeGroups"][0]["PrimaryEndpoint"])
    assert eventually(lambda: _writable(p))
    p.set("after-modify", "yes")
    for n in node_conns(west.describe_replication_groups(ReplicationGroupId=sec)["ReplicationGroups"][0]):
        assert eventually(lambda: n.get("after-modify") == "yes")
        with pytest.raises(redis.exceptions.ReadOnlyError):
            n.set("w", "1")
    assert primary and secondary


def test_encryption_and_auth_are_inherited_by_the_secondary(regions, uid):
    east, west = regions
    rg, sec = uid("gp"), uid("gs")
    token = "global-token-0123456789"
    primary = create_primary(
        east, rg, TransitEncryptionEnabled=True, AtRestEncryptionEnabled=True, AuthToken=token
    )
    gid = create_global(east, rg, rg)
    g = describe(east, gid)
    assert (g["TransitEncryptionEnabled"], g["AtRestEncryptionEnabled"], g["AuthTokenEnabled"]) == (True, True, True)
    secondary = create_secondary(west, sec, gid, NumCacheClusters=2)
    assert (
        secondary["TransitEncryptionEnabled"],
        secondary["AtRestEncryptionEnabled"],
        secondary["AuthTokenEnabled"],
    ) == (True, True, True)

    def tls(endpoint: dict, password: str | None) -> redis.Redis:
        return redis.Redis(
            host=endpoint["Address"],
            port=endpoint["Port"],
            ssl=True,
            ssl_cert_reqs=None,
            password=password,
            socket_timeout=10,
            decode_responses=True,
        )

    p = tls(primary["NodeGroups"][0]["PrimaryEndpoint"], token)
    p.set("secret", "kept")
    s = tls(secondary["NodeGroups"][0]["ReaderEndpoint"], token)
    assert eventually(lambda: s.get("secret") == "kept")
    with pytest.raises(redis.exceptions.AuthenticationError):
        tls(secondary["NodeGroups"][0]["ReaderEndpoint"], "wrong-password-0123").get("secret")


def _cme_global(east, west, rg: str, sec: str) -> tuple[str, dict, dict]:
    """A two-shard cluster mode enabled datastore with a secondary in the other region."""
    east.create_replication_group(
        ReplicationGroupId=rg,
        ReplicationGroupDescription="cme primary",
        Engine="redis",
        EngineVersion="7.1",
        CacheNodeType=NODE_TYPE,
        NumNodeGroups=2,
        ReplicasPerNodeGroup=1,
    )
    primary = wait_group(east, rg)
    gid = create_global(east, rg, rg)
    secondary = create_secondary(west, sec, gid, ReplicasPerNodeGroup=1)
    return gid, primary, secondary


def _cluster(group: dict) -> RedisCluster:
    ep = group["ConfigurationEndpoint"]
    return RedisCluster(host=ep["Address"], port=ep["Port"], decode_responses=True, socket_timeout=10)


def _wait_reshard(east, west, gid: str, rg: str, sec: str, shards: int) -> tuple[dict, dict]:
    assert eventually(lambda: describe(east, gid)["Status"] == "available", attempts=2400)
    assert len(describe(west, gid)["GlobalNodeGroups"]) == shards
    primary, secondary = wait_group(east, rg), wait_group(west, sec)
    assert len(primary["NodeGroups"]) == shards and len(secondary["NodeGroups"]) == shards
    # Both regions hold the same slot layout, shard by shard.
    layout = sorted(ng["Slots"] for ng in primary["NodeGroups"])
    assert sorted(ng["Slots"] for ng in secondary["NodeGroups"]) == layout
    return primary, secondary


def _all_keys_on_secondary(secondary: dict, count: int) -> bool:
    sc = _cluster(secondary)
    try:
        return all(sc.get(f"gk{i}") == str(i) for i in range(count))
    except redis.exceptions.RedisError:
        return False
    finally:
        sc.close()


def test_node_group_changes_are_validated(regions, uid):
    east, west = regions
    rg, sec = uid("gp"), uid("gs")
    with aws_error(east, "GlobalReplicationGroupNotFoundFault", 404):
        east.increase_node_groups_in_global_replication_group(
            GlobalReplicationGroupId="ldgnf-nope", NodeGroupCount=3, ApplyImmediately=True
        )
    create_primary(east, rg)
    gid = create_global(east, rg, rg)
    # Cluster mode disabled datastores have no node groups to add.
    with aws_error(east, "InvalidParameterValue", 400):
        east.increase_node_groups_in_global_replication_group(
            GlobalReplicationGroupId=gid, NodeGroupCount=2, ApplyImmediately=True
        )
    east.delete_global_replication_group(GlobalReplicationGroupId=gid, RetainPrimaryReplicationGroup=True)
    assert eventually(lambda: not east.describe_global_replication_groups()["GlobalReplicationGroups"])
    gid, _, _ = _cme_global(east, west, uid("cp"), sec)
    ids = [n["GlobalNodeGroupId"] for n in describe(east, gid)["GlobalNodeGroups"]]
    bad = [
        dict(NodeGroupCount=3, ApplyImmediately=False),
        dict(NodeGroupCount=2, ApplyImmediately=True),
        dict(
            NodeGroupCount=3,
            ApplyImmediately=True,
            RegionalConfigurations=[
                {"ReplicationGroupId": "not-a-member", "ReplicationGroupRegion": WEST, "ReshardingConfiguration": []}
            ],
        ),
    ]
    for args in bad:
        with aws_error(east, "InvalidParameterValue", 400):
            east.increase_node_groups_in_global_replication_group(GlobalReplicationGroupId=gid, **args)
    dec = [
        ("InvalidParameterValue", dict(NodeGroupCount=2)),
        ("InvalidParameterValue", dict(NodeGroupCount=1)),
        ("InvalidParameterValue", dict(NodeGroupCount=1, GlobalNodeGroupsToRemove=[f"{gid}-0009"])),
        ("InvalidParameterValue", dict(NodeGroupCount=0, GlobalNodeGroupsToRemove=ids)),
        ("InvalidParameterCombination", dict(NodeGroupCount=1, GlobalNodeGroupsToRemove=ids[:1], GlobalNodeGroupsToRetain=ids[1:])),
    ]
    for code, args in dec:
        with aws_error(east, code, 400):
            east.decrease_node_groups_in_global_replication_group(
                GlobalReplicationGroupId=gid, ApplyImmediately=True, **args
            )
    assert describe(east, gid)["Status"] == "available"
    assert len(describe(east, gid)["GlobalNodeGroups"]) == 2


def test_node_groups_two_to_three_to_two_keep_every_key_in_both_regions(regions, uid):
    east, west = regions
    rg, sec = uid("gp"), uid("gs")
    gid, primary, secondary = _cme_global(east, west, rg, sec)
    pc = _cluster(primary)
    count = 600
    for i in range(count):
        pc.set(f"gk{i}", i)
    assert eventually(lambda: _all_keys_on_secondary(secondary, count), attempts=400)

    out = east.increase_node_groups_in_global_replication_group(
        GlobalReplicationGroupId=gid,
        NodeGroupCount=3,
        ApplyImmediately=True,
        RegionalConfigurations=[
            {
                "ReplicationGroupId": sec,
                "ReplicationGroupRegion": WEST,
                "ReshardingConfiguration": [{"PreferredAvailabilityZones": ["us-west-2a", "us-west-2b"]}],
            }
        ],
    )["GlobalReplicationGroup"]
    assert out["Status"] == "modifying"
    with aws_error(west, "InvalidGlobalReplicationGroupState", 400):
        west.increase_node_groups_in_global_replication_group(
            GlobalReplicationGroupId=gid, NodeGroupCount=4, ApplyImmediately=True
        )
    primary, secondary = _wait_reshard(east, west, gid, rg, sec, 3)
    g = describe(east, gid)
    assert [n["GlobalNodeGroupId"] for n in g["GlobalNodeGroups"]] == [f"{gid}-0001", f"{gid}-0002", f"{gid}-0003"]
    assert sorted(n["Slots"] for n in g["GlobalNodeGroups"]) == sorted(ng["Slots"] for ng in primary["NodeGroups"])
    zones = [
        m["PreferredAvailabilityZone"]
        for ng in secondary["NodeGroups"]
        if ng["NodeGroupId"] == "0003"
        for m in ng["NodeGroupMembers"]
    ]
    assert sorted(zones) == ["us-west-2a", "us-west-2b"]
    # Three shards hold an even share each: a rebalance has nothing to move.
    east.rebalance_slots_in_global_replication_group(GlobalReplicationGroupId=gid, ApplyImmediately=True)
    assert eventually(lambda: describe(east, gid)["Status"] == "available")
    assert [n["Slots"] for n in describe(east, gid)["GlobalNodeGroups"]] == [n["Slots"] for n in g["GlobalNodeGroups"]]
    # Writes after the resharding, placed by slot on the three shards, reach the secondary.
    pc.close()
    pc = _cluster(primary)
    for i in range(count, count + 200):
        pc.set(f"gk{i}", i)
    count += 200
    assert eventually(lambda: _all_keys_on_secondary(secondary, count), attempts=400)

    east.decrease_node_groups_in_global_replication_group(
        GlobalReplicationGroupId=gid,
        NodeGroupCount=2,
        GlobalNodeGroupsToRetain=[f"{gid}-0001", f"{gid}-0003"],
        ApplyImmediately=True,
    )
    primary, secondary = _wait_reshard(east, west, gid, rg, sec, 2)
    assert [n["GlobalNodeGroupId"] for n in describe(east, gid)["GlobalNodeGroups"]] == [f"{gid}-0001", f"{gid}-0003"]
    assert [ng["NodeGroupId"] for ng in secondary["NodeGroups"]] == ["0001", "0003"]
    pc.close()
    pc = _cluster(primary)
    assert all(pc.get(f"gk{i}") == str(i) for i in range(count))
    for i in range(count, count + 100):
        pc.set(f"gk{i}", i)
    count += 100
    assert eventually(lambda: _all_keys_on_secondary(secondary, count), attempts=400)
    sc = _cluster(secondary)
    with pytest.raises(redis.exceptions.ReadOnlyError):
        sc.set("gk1", "x")
    sc.close()
    pc.close()
