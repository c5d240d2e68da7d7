"""Snapshots through boto3 with real data checked through redis-py: CreateSnapshot of a cluster
and of replication groups (cluster mode disabled and enabled), restores into new clusters and
groups (every key checked, type, value and TTL), CopySnapshot (a copy, and an export to the S3
stand-in directory loaded by a real redis-server), SnapshotArns seeded from a dump.rdb that a
real redis-server wrote, FinalSnapshotIdentifier, tags, and the AWS error codes.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
import redis
from redis.cluster import RedisCluster

from helpers import FAST_WAITER, aws_error, create_memcached, create_redis, wait_available

NODE_TYPE = "cache.t3.micro"
REDIS_SERVER = shutil.which("redis-server")


@pytest.fixture
def groups(make_client):
    """Replication groups a test created; deleted (and waited for) afterwards."""
    created: list[str] = []
    yield created
    ec = make_client()
    for gid in created:
        try:
            ec.delete_replication_group(ReplicationGroupId=gid)
        except Exception:  # best effort: already deleted by the test
            pass
    for gid in created:
        try:
            ec.get_waiter("replication_group_deleted").wait(
                ReplicationGroupId=gid, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
            )
        except Exception:
            pass


@pytest.fixture
def snapshots(make_client):
    """Snapshot names a test created; deleted afterwards."""
    created: list[str] = []
    yield created
    ec = make_client()
    for name in created:
        try:
            ec.delete_snapshot(SnapshotName=name)
        except Exception:
            pass


@pytest.fixture(scope="module")
def s3_dir(endpoint_url) -> Path:
    """The emulator's S3 stand-in directory, as /health reports it."""
    with urllib.request.urlopen(f"{endpoint_url}/health", timeout=10) as resp:
        health = json.load(resp)
    return Path(health["resources"]["s3_dir"])


def wait_snapshot(ec, name: str, status: str = "available") -> dict:
    for _ in range(600):
        snaps = ec.describe_snapshots(SnapshotName=name, ShowNodeGroupConfig=True)["Snapshots"]
        if snaps and snaps[0]["SnapshotStatus"] == status:
            return snaps[0]
        time.sleep(0.05)
    raise AssertionError(f"snapshot {name} never became {status}: {snaps}")


def wait_group(ec, gid: str) -> dict:
    ec.get_waiter("replication_group_available").wait(ReplicationGroupId=gid, WaiterConfig=FAST_WAITER)
    return ec.describe_replication_groups(ReplicationGroupId=gid)["ReplicationGroups"][0]


def node_client(cluster: dict) -> redis.Redis:
    ep = cluster["CacheNodes"][0]["Endpoint"]
    return redis.Redis(host=ep["Address"], port=ep["Port"], socket_timeout=10, decode_responses=True)


def endpoint_client(ep: dict) -> redis.Redis:
    return redis.Redis(host=ep["Address"], port=ep["Port"], socket_timeout=10, decode_responses=True)


# ------------------------------------------------------------------------------------------
# Data written before a snapshot and checked key by key after a restore

KEYS = ["s:plain", "s:ttl", "n:int", "h:hash", "l:list", "st:set", "z:zset", "b:binary"]


def write_dataset(r, prefix: str = "") -> None:
    r.set(prefix + "s:plain", "hello world")
    r.set(prefix + "s:ttl", "expires later", ex=3600)
    r.set(prefix + "n:int", 12345)
    r.hset(prefix + "h:hash", mapping={"a": "1", "b": "two", "c": "3.5"})
    r.expire(prefix + "h:hash", 7200)
    r.rpush(prefix + "l:list", "one", "two", "three", "two")
    r.sadd(prefix + "st:set", "x", "y", "z")
    r.zadd(prefix + "z:zset", {"low": 1.5, "mid": 2, "high": 10})
    r.set(prefix + "b:binary", b"\x00\xffraw\r\n")


def check_dataset(r, prefix: str = "") -> None:
    assert r.type(prefix + "s:plain") == "string"
    assert r.get(prefix + "s:plain") == "hello world"
    assert r.ttl(prefix + "s:plain") == -1
    assert r.get(prefix + "s:ttl") == "expires later"
    assert 3000 < r.ttl(prefix + "s:ttl") <= 3600
    assert r.get(prefix + "n:int") == "12345"
    assert r.hgetall(prefix + "h:hash") == {"a": "1", "b": "two", "c": "3.5"}
    assert 7000 < r.ttl(prefix + "h:hash") <= 7200
    assert r.lrange(prefix + "l:list", 0, -1) == ["one", "two", "three", "two"]
    assert r.smembers(prefix + "st:set") == {"x", "y", "z"}
    assert r.zrange(prefix + "z:zset", 0, -1, withscores=True) == [("low", 1.5), ("mid", 2.0), ("high", 10.0)]
    assert r.strlen(prefix + "b:binary") == 7


# ------------------------------------------------------------------------------------------
# Cache clusters


def test_cluster_snapshot_and_restore(ec, resources, snapshots, uid):
    cid = uid("src")
    src = create_redis(ec, resources, cid)
    write_dataset(node_client(src))
    name = uid("snap")
    snapshots.append(name)
    out = ec.create_snapshot(CacheClusterId=cid, SnapshotName=name, Tags=[{"Key": "team", "Value": "cache"}])[
        "Snapshot"
    ]
    assert out["SnapshotStatus"] == "creating"
    assert out["SnapshotSource"] == "manual"
    assert out["CacheClusterId"] == cid
    assert out["Engine"] == "redis" and out["CacheNodeType"] == NODE_TYPE
    assert out["NumCacheNodes"] == 1 and out["Port"] == 6379
    assert out["ARN"].endswith(f":snapshot:{name}")
    assert ec.describe_cache_clusters(CacheClusterId=cid)["CacheClusters"][0]["CacheClusterStatus"] in (
        "snapshotting",
        "available",
    )
    snap = wait_snapshot(ec, name)
    wait_available(ec, cid)
    (node,) = snap["NodeSnapshots"]
    assert node["CacheNodeId"] == "0001" and node["CacheClusterId"] == cid
    assert node["CacheSize"].endswith(" MB")
    assert "SnapshotCreateTime" in node and "CacheNodeCreateTime" in node
    assert snap["EngineVersion"] == src["EngineVersion"]
    assert snap["CacheParameterGroupName"] == src["CacheParameterGroup"]["CacheParameterGroupName"]
    events = ec.describe_events(SourceIdentifier=cid, SourceType="cache-cluster")["Events"]
    assert any(f"Snapshot succeeded for snapshot with ID '{name}'" in e["Message"] for e in events), events
    tags = ec.list_tags_for_resource(ResourceName=snap["ARN"])["TagList"]
    assert tags == [{"Key": "team", "Value": "cache"}]
    ec.add_tags_to_resource(ResourceName=snap["ARN"], Tags=[{"Key": "env", "Value": "dev"}])
    assert len(ec.list_tags_for_resource(ResourceName=snap["ARN"])["TagList"]) == 2

    # Writes after the snapshot are not in it.
    node_client(src).set("after", "snapshot")
    restored_id = uid("restored")
    resources.cluster(ec, restored_id)
    created = ec.create_cache_cluster(CacheClusterId=restored_id, SnapshotName=name)["CacheCluster"]
    assert created["Engine"] == "redis" and created["CacheNodeType"] == NODE_TYPE
    restored = wait_available(ec, restored_id)
    r = node_client(restored)
    check_dataset(r)
    assert r.get("after") is None
    assert r.dbsize() == len(KEYS)

    listed = ec.describe_snapshots(CacheClusterId=cid)["Snapshots"]
    assert [s["SnapshotName"] for s in listed] == [name]
    assert any(s["SnapshotName"] == name for s in ec.describe_snapshots(SnapshotSource="user")["Snapshots"])
    assert not any(s["SnapshotName"] == name for s in ec.describe_snapshots(SnapshotSource="system")["Snapshots"])


def test_delete_snapshot_and_copy(ec, resources, snapshots, uid):
    cid = uid("src")
    src = create_redis(ec, resources, cid)
    node_client(src).set("k", "v")
    name, copy = uid("snap"), uid("copy")
    snapshots.extend([name, copy])
    ec.create_snapshot(CacheClusterId=cid, SnapshotName=name)
    wait_snapshot(ec, name)
    copied = ec.copy_snapshot(SourceSnapshotName=name, TargetSnapshotName=copy)["Snapshot"]
    assert copied["SnapshotName"] == copy and copied["CacheClusterId"] == cid
    with aws_error(ec, "SnapshotAlreadyExistsFault", 400, "SnapshotAlreadyExistsFault"):
        ec.copy_snapshot(SourceSnapshotName=name, TargetSnapshotName=copy)
    deleted = ec.delete_snapshot(SnapshotName=name)["Snapshot"]
    assert deleted["SnapshotStatus"] == "deleting"
    for _ in range(200):
        if not any(s["SnapshotName"] == name for s in ec.describe_snapshots()["Snapshots"]):
            break
        time.sleep(0.05)
    with aws_error(ec, "SnapshotNotFoundFault", 404, "SnapshotNotFoundFault"):
        ec.describe_snapshots(SnapshotName=name)
    # The copy still restores.
    rid = uid("fromcopy")
    resources.cluster(ec, rid)
    ec.create_cache_cluster(CacheClusterId=rid, SnapshotName=copy)
    assert node_client(wait_available(ec, rid)).get("k") == "v"


def test_final_snapshot_of_a_cluster(ec, resources, snapshots, uid):
    cid = uid("final")
    src = create_redis(ec, resources, cid)
    write_dataset(node_client(src))
    name = uid("last")
    snapshots.append(name)
    out = ec.delete_cache_cluster(CacheClusterId=cid, FinalSnapshotIdentifier=name)["CacheCluster"]
    assert out["CacheClusterStatus"] == "deleting"
    ec.get_waiter("cache_cluster_deleted").wait(CacheClusterId=cid, WaiterConfig=FAST_WAITER)
    snap = wait_snapshot(ec, name)
    assert snap["CacheClusterId"] == cid
    rid = uid("back")
    resources.cluster(ec, rid)
    ec.create_cache_cluster(CacheClusterId=rid, SnapshotName=name, CacheNodeType=NODE_TYPE)
    check_dataset(node_client(wait_available(ec, rid)))


# ------------------------------------------------------------------------------------------
# Replication groups


def test_cmd_group_snapshot_restores_into_group_with_replica(ec, groups, snapshots, uid):
    gid = uid("cmd")
    groups.append(gid)
    ec.create_replication_group(
        ReplicationGroupId=gid,
        ReplicationGroupDescription="source",
        Engine="redis",
        CacheNodeType=NODE_TYPE,
        NumCacheClusters=2,
    )
    g = wait_group(ec, gid)
    write_dataset(endpoint_client(g["NodeGroups"][0]["PrimaryEndpoint"]))
    name = uid("gsnap")
    snapshots.append(name)
    out = ec.create_snapshot(ReplicationGroupId=gid, SnapshotName=name)["Snapshot"]
    assert out["ReplicationGroupId"] == gid and out["ReplicationGroupDescription"] == "source"
    assert ec.describe_replication_groups(ReplicationGroupId=gid)["ReplicationGroups"][0]["Status"] in (
        "snapshotting",
        "available",
    )
    snap = wait_snapshot(ec, name)
    assert snap["NumNodeGroups"] == 1 and snap["AutomaticFailover"] in ("enabled", "disabled")
    (node,) = snap["NodeSnapshots"]
    assert node["NodeGroupId"] == "0001"
    assert node["NodeGroupConfiguration"]["ReplicaCount"] == 1
    assert [s["SnapshotName"] for s in ec.describe_snapshots(ReplicationGroupId=gid)["Snapshots"]] == [name]
    wait_group(ec, gid)

    rid = uid("cmdrest")
    groups.append(rid)
    ec.create_replication_group(
        ReplicationGroupId=rid, ReplicationGroupDescription="restored", SnapshotName=name, NumCacheClusters=2
    )
    restored = wait_group(ec, rid)
    check_dataset(endpoint_client(restored["NodeGroups"][0]["PrimaryEndpoint"]))
    reader = endpoint_client(restored["NodeGroups"][0]["ReaderEndpoint"])
    for _ in range(300):
        if reader.dbsize() == len(KEYS):
            break
        time.sleep(0.02)
    check_dataset(reader)


def test_cme_group_snapshot_restores_every_shard(ec, groups, snapshots, uid):
    gid = uid("cme")
    groups.append(gid)
    ec.create_replication_group(
        ReplicationGroupId=gid,
        ReplicationGroupDescription="sharded",
        Engine="redis",
        CacheNodeType=NODE_TYPE,
        NumNodeGroups=2,
        ReplicasPerNodeGroup=0,
    )
    g = wait_group(ec, gid)
    ep = g["ConfigurationEndpoint"]
    rc = RedisCluster(host=ep["Address"], port=ep["Port"], decode_responses=True, socket_timeout=10)
    keys = {f"key:{i}": f"value-{i}" for i in range(200)}
    for k, v in keys.items():
        rc.set(k, v)
    rc.close()
    name = uid("cmesnap")
    snapshots.append(name)
    ec.create_snapshot(ReplicationGroupId=gid, SnapshotName=name)
    snap = wait_snapshot(ec, name)
    assert snap["NumNodeGroups"] == 2
    assert [n["NodeGroupId"] for n in snap["NodeSnapshots"]] == ["0001", "0002"]
    assert [n["NodeGroupConfiguration"]["Slots"] for n in snap["NodeSnapshots"]] == ["0-8191", "8192-16383"]
    wait_group(ec, gid)

    with aws_error(ec, "InvalidParameterCombination", 400, "InvalidParameterCombinationException"):
        ec.create_cache_cluster(CacheClusterId=uid("one"), SnapshotName=name)
    with aws_error(ec, "InvalidParameterCombination", 400, "InvalidParameterCombinationException"):
        ec.create_snapshot(CacheClusterId=g["MemberClusters"][0], SnapshotName=uid("member"))

    rid = uid("cmerest")
    groups.append(rid)
    ec.create_replication_group(ReplicationGroupId=rid, ReplicationGroupDescription="restored", SnapshotName=name)
    restored = wait_group(ec, rid)
    assert len(restored["NodeGroups"]) == 2 and restored["ClusterEnabled"] is True
    check_cluster_keys(restored["ConfigurationEndpoint"], keys)


@pytest.mark.parametrize("shards", [1, 3])
def test_cme_restore_into_another_shard_count(ec, groups, snapshots, uid, shards):
    gid = uid("cmesrc")
    groups.append(gid)
    ec.create_replication_group(
        ReplicationGroupId=gid,
        ReplicationGroupDescription="sharded",
        Engine="redis",
        CacheNodeType=NODE_TYPE,
        NumNodeGroups=2,
        ReplicasPerNodeGroup=0,
    )
    ep = wait_group(ec, gid)["ConfigurationEndpoint"]
    rc = RedisCluster(host=ep["Address"], port=ep["Port"], decode_responses=True, socket_timeout=10)
    keys = {f"{{tag{i % 7}}}:k{i}": f"v{i}" for i in range(300)}
    for k, v in keys.items():
        rc.set(k, v)
    rc.expire(next(iter(keys)), 5000)
    rc.close()
    name = uid("resnap")
    snapshots.append(name)
    ec.create_snapshot(ReplicationGroupId=gid, SnapshotName=name)
    wait_snapshot(ec, name)
    rid = uid("reshard")
    groups.append(rid)
    ec.create_replication_group(
        ReplicationGroupId=rid,
        ReplicationGroupDescription="resharded",
        SnapshotName=name,
        NumNodeGroups=shards,
        ReplicasPerNodeGroup=1,
    )
    restored = wait_group(ec, rid)
    assert len(restored["NodeGroups"]) == shards and restored["ClusterEnabled"] is True
    check_cluster_keys(restored["ConfigurationEndpoint"], keys)
    ep = restored["ConfigurationEndpoint"]
    rc = RedisCluster(host=ep["Address"], port=ep["Port"], decode_responses=True, socket_timeout=10)
    try:
        assert 4900 < rc.ttl(next(iter(keys))) <= 5000
        # Every shard's primary (its first member) holds exactly the keys of its own slots.
        total = 0
        for ng in restored["NodeGroups"]:
            member = ng["NodeGroupMembers"][0]["CacheClusterId"]
            node = node_client(wait_available(ec, member))
            ranges = [tuple(int(x) for x in part.split("-")) for part in ng["Slots"].split(",")]
            for key in node.keys("*"):
                assert any(lo <= rc.keyslot(key) <= hi for lo, hi in ranges), (key, ng["Slots"])
                total += 1
        assert total == len(keys)
    finally:
        rc.close()


def check_cluster_keys(ep: dict, keys: dict) -> None:
    rc = RedisCluster(host=ep["Address"], port=ep["Port"], decode_responses=True, socket_timeout=10)
    try:
        for k, v in keys.items():
            assert rc.get(k) == v, k
    finally:
        rc.close()


def test_final_snapshot_of_a_group(ec, groups, snapshots, uid):
    gid = uid("gfinal")
    groups.append(gid)
    ec.create_replication_group(
        ReplicationGroupId=gid, ReplicationGroupDescription="d", Engine="redis", CacheNodeType=NODE_TYPE
    )
    g = wait_group(ec, gid)
    endpoint_client(g["NodeGroups"][0]["PrimaryEndpoint"]).set("kept", "yes")
    name = uid("glast")
    snapshots.append(name)
    ec.delete_replication_group(ReplicationGroupId=gid, FinalSnapshotIdentifier=name)
    ec.get_waiter("replication_group_deleted").wait(ReplicationGroupId=gid, WaiterConfig=FAST_WAITER)
    snap = wait_snapshot(ec, name)
    assert snap["ReplicationGroupId"] == gid
    rid = uid("gback")
    groups.append(rid)
    ec.create_replication_group(ReplicationGroupId=rid, ReplicationGroupDescription="d", SnapshotName=name)
    restored = wait_group(ec, rid)
    assert endpoint_client(restored["NodeGroups"][0]["PrimaryEndpoint"]).get("kept") == "yes"


# ------------------------------------------------------------------------------------------
# Export to and seed from the S3 stand-in, checked against a real redis-server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RealRedis:
    """A real redis-server on a free port, loading `dbfilename` from `dir` at start."""

    def __init__(self, directory: Path, dbfilename: str = "dump.rdb"):
        self.port = _free_port()
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--dir", str(directory), "--dbfilename", dbfilename, "--port", str(self.port),
             "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.client = redis.Redis(port=self.port, decode_responses=True, socket_timeout=10)
        for _ in range(200):
            try:
                if self.client.ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        self.stop()
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed")
def test_export_to_bucket_loads_in_real_redis(ec, resources, snapshots, s3_dir, uid):
    cid = uid("exp")
    src = create_redis(ec, resources, cid, EngineVersion="7.0")
    write_dataset(node_client(src))
    name = uid("tobucket")
    snapshots.append(name)
    ec.create_snapshot(CacheClusterId=cid, SnapshotName=name)
    wait_snapshot(ec, name)
    bucket = f"bucket-{uuid.uuid4().hex[:8]}"
    out = ec.copy_snapshot(SourceSnapshotName=name, TargetSnapshotName="exported", TargetBucket=bucket)["Snapshot"]
    assert out["SnapshotName"] == name
    rdb = s3_dir / bucket / "exported-0001.rdb"
    assert rdb.is_file() and rdb.read_bytes().startswith(b"REDIS")
    real = RealRedis(rdb.parent, rdb.name)
    try:
        check_dataset(real.client)
        assert real.client.dbsize() == len(KEYS)
    finally:
        real.stop()
        shutil.rmtree(s3_dir / bucket, ignore_errors=True)
    # A 7.0 snapshot restores into 7.0 or newer, never older.
    with aws_error(ec, "InvalidParameterCombination", 400, "InvalidParameterCombinationException"):
        ec.create_cache_cluster(CacheClusterId=uid("older"), SnapshotName=name, EngineVersion="6.2")


@pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed")
def test_seed_from_a_real_redis_dump(ec, resources, groups, s3_dir, uid):
    work = Path(tempfile.mkdtemp(prefix="ecl-seed-"))
    real = RealRedis(work)
    try:
        write_dataset(real.client)
        real.client.save()
    finally:
        real.stop()
    bucket = f"seed-{uuid.uuid4().hex[:8]}"
    (s3_dir / bucket / "backups").mkdir(parents=True)
    shutil.copy(work / "dump.rdb", s3_dir / bucket / "backups" / "dump.rdb")
    try:
        cid = uid("seeded")
        resources.cluster(ec, cid)
        ec.create_cache_cluster(
            CacheClusterId=cid,
            Engine="redis",
            CacheNodeType=NODE_TYPE,
            NumCacheNodes=1,
            SnapshotArns=[f"arn:aws:s3:::{bucket}/backups/dump.rdb"],
        )
        r = node_client(wait_available(ec, cid))
        check_dataset(r)
        assert r.dbsize() == len(KEYS)
        gid = uid("seededgrp")
        groups.append(gid)
        ec.create_replication_group(
            ReplicationGroupId=gid,
            ReplicationGroupDescription="seeded",
            Engine="redis",
            CacheNodeType=NODE_TYPE,
            NumCacheClusters=2,
            SnapshotArns=[f"arn:aws:s3:::{bucket}/backups/dump.rdb"],
        )
        g = wait_group(ec, gid)
        check_dataset(endpoint_client(g["NodeGroups"][0]["PrimaryEndpoint"]))
        with aws_error(ec, "InvalidParameterValue", 400, "InvalidParameterValueException"):
            ec.create_cache_cluster(
                CacheClusterId=uid("nofile"),
                Engine="redis",
                CacheNodeType=NODE_TYPE,
                SnapshotArns=[f"arn:aws:s3:::{bucket}/missing.rdb"],
            )
    finally:
        shutil.rmtree(s3_dir / bucket, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


# ------------------------------------------------------------------------------------------
# Errors


def test_snapshot_errors(ec, resources, snapshots, uid):
    cid = uid("err")
    create_redis(ec, resources, cid)
    name = uid("dup")
    snapshots.append(name)
    ec.create_snapshot(CacheClusterId=cid, SnapshotName=name)
    wait_snapshot(ec, name)
    wait_available(ec, cid)
    with aws_error(ec, "SnapshotAlreadyExistsFault", 400, "SnapshotAlreadyExistsFault"):
        ec.create_snapshot(CacheClusterId=cid, SnapshotName=name)
    with aws_error(ec, "InvalidParameterCombination", 400, "InvalidParameterCombinationException"):
        ec.create_snapshot(CacheClusterId=cid, ReplicationGroupId="g", SnapshotName=uid("x"))
    with aws_error(ec, "InvalidParameterCombination", 400, "InvalidParameterCombinationException"):
        ec.create_snapshot(SnapshotName=uid("x"))
    with aws_error(ec, "InvalidParameterValue", 400, "InvalidParameterValueException"):
        ec.create_snapshot(CacheClusterId=cid, SnapshotName="1-bad--name")
    with aws_error(ec, "CacheClusterNotFound", 404, "CacheClusterNotFoundFault"):
        ec.create_snapshot(CacheClusterId=uid("missing"), SnapshotName=uid("x"))
    with aws_error(ec, "ReplicationGroupNotFoundFault", 404, "ReplicationGroupNotFoundFault"):
        ec.create_snapshot(ReplicationGroupId=uid("missing"), SnapshotName=uid("x"))
    with aws_error(ec, "SnapshotNotFoundFault", 404, "SnapshotNotFoundFault"):
        ec.describe_snapshots(SnapshotName=uid("missing"))
    with aws_error(ec, "SnapshotNotFoundFault", 404, "SnapshotNotFoundFault"):
        ec.delete_snapshot(SnapshotName=uid("missing"))
    with aws_error(ec, "SnapshotNotFoundFault", 404, "SnapshotNotFoundFault"):
        ec.copy_snapshot(SourceSnapshotName=uid("missing"), TargetSnapshotName=uid("x"))
    with aws_error(ec, "SnapshotNotFoundFault", 404, "SnapshotNotFoundFault"):
        ec.create_cache_cluster(CacheClusterId=uid("r"), SnapshotName=uid("missing"))
    with aws_error(ec, "SnapshotNotFoundFault", 404, "SnapshotNotFoundFault"):
        ec.create_replication_group(
            ReplicationGroupId=uid("g"), ReplicationGroupDescription="d", SnapshotName=uid("missing")
        )
    with aws_error(ec, "InvalidParameterValue", 400, "InvalidParameterValueException"):
        ec.describe_snapshots(SnapshotSource="everyone")
    with aws_error(ec, "InvalidParameterValue", 400, "InvalidParameterValueException"):
        ec.copy_snapshot(SourceSnapshotName=name, TargetSnapshotName=uid("x"), TargetBucket="Bad_Bucket")
    with aws_error(ec, "InvalidParameterValue", 400, "InvalidParameterValueException"):
        ec.create_cache_cluster(
            CacheClusterId=uid("r"), Engine="redis", CacheNodeType=NODE_TYPE, SnapshotArns=["not-an-arn"]
        )
    with aws_error(ec, "InvalidParameterCombination", 400, "InvalidParameterCombinationException"):
        ec.create_cache_cluster(
            CacheClusterId=uid("r"), SnapshotName=name, SnapshotArns=["arn:aws:s3:::bucket/key.rdb"]
        )

    mc = uid("mc")
    create_memcached(ec, resources, mc, nodes=1)
    with aws_error(ec, "SnapshotFeatureNotSupportedFault", 400, "SnapshotFeatureNotSupportedFault"):
        ec.create_snapshot(CacheClusterId=mc, SnapshotName=uid("x"))


def test_snapshot_of_a_busy_cluster_is_refused(ec, resources, uid):
    cid = uid("busy")
    create_redis(ec, resources, cid)
    ec.delete_cache_cluster(CacheClusterId=cid)
    # Either still `deleting` (InvalidCacheClusterState) or already gone (NotFound).
    with pytest.raises(Exception) as info:
        ec.create_snapshot(CacheClusterId=cid, SnapshotName=uid("x"))
    assert info.value.response["Error"]["Code"] in ("InvalidCacheClusterState", "CacheClusterNotFound")


def test_snapshot_quota(make_client, resources, uid):
    ec = make_client(region="eu-west-3")
    cid = uid("quota")
    create_redis(ec, resources, cid)
    base = uid("q")
    ec.create_snapshot(CacheClusterId=cid, SnapshotName=base)
    wait_snapshot(ec, base)
    names = [base]
    try:
        with aws_error(ec, "SnapshotQuotaExceededFault", 400, "SnapshotQuotaExceededFault"):
            for i in range(200):
                name = f"{base}-{i}"
                ec.copy_snapshot(SourceSnapshotName=base, TargetSnapshotName=name)
                names.append(name)
        pages = list(ec.get_paginator("describe_snapshots").paginate(PaginationConfig={"PageSize": 50}))
        assert len(pages) >= 2
        seen = [s["SnapshotName"] for p in pages for s in p["Snapshots"]]
        assert sorted(seen) == sorted(names)
    finally:
        for name in names:
            ec.delete_snapshot(SnapshotName=name)
