"""Serverless caches end to end: every serverless operation through boto3 with its errors, a
real TLS-only endpoint per cache (redis-py ``RedisCluster`` with ``ssl=True`` sees one shard
owning all 16384 slots, the reader endpoint listed as its replica; plaintext is refused),
pymemcache over TLS against a Memcached serverless cache, snapshots that keep the keys through a
restore and an export, an RBAC user group enforced on the node, and the DataStorage maximum as
the node's memory limit (LRU eviction of keys with a TTL, then OOM errors, as AWS documents).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
import pytest
import redis
from pymemcache.client.base import Client as MemcacheClient
from redis.cluster import LoadBalancingStrategy, RedisCluster

from helpers import aws_error

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "iam_auth"))
from iam_auth import generate_iam_auth_token  # noqa: E402

GIB = 1 << 30


@pytest.fixture
def caches(make_client):
    """Names of serverless caches a test created; deleted afterwards (best effort)."""
    created: list[str] = []
    yield created
    ec = make_client()
    for name in created:
        try:
            wait_status(ec, name, ("available", "create-failed"), timeout=30)
            ec.delete_serverless_cache(ServerlessCacheName=name)
        except Exception:  # already gone, or the test deleted it
            pass


@pytest.fixture(scope="module")
def ca_file(endpoint_url, tmp_path_factory) -> str:
    pem = urllib.request.urlopen(f"{endpoint_url}/_elasticache_local/ca.pem", timeout=10).read()
    path = tmp_path_factory.mktemp("sls-tls") / "ca.pem"
    path.write_bytes(pem)
    return str(path)


def wait_status(ec, name: str, statuses=("available",), timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        cache = ec.describe_serverless_caches(ServerlessCacheName=name)["ServerlessCaches"][0]
        if cache["Status"] in statuses:
            return cache
        assert time.monotonic() < deadline, f"{name} stayed {cache['Status']}"
        time.sleep(0.2)


def wait_gone(ec, name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            ec.describe_serverless_caches(ServerlessCacheName=name)
        except ec.exceptions.ServerlessCacheNotFoundFault:
            return
        time.sleep(0.2)
    raise AssertionError(f"{name} was not deleted")


def wait_snapshot(ec, name: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        snap = ec.describe_serverless_cache_snapshots(ServerlessCacheSnapshotName=name)[
            "ServerlessCacheSnapshots"
        ][0]
        if snap["Status"] == "available":
            return snap
        assert time.monotonic() < deadline, f"snapshot {name} stayed {snap['Status']}"
        time.sleep(0.2)


def create(ec, caches, name: str, engine: str = "valkey", **extra) -> dict:
    caches.append(name)
    out = ec.create_serverless_cache(ServerlessCacheName=name, Engine=engine, **extra)["ServerlessCache"]
    assert out["Status"] == "creating"
    return wait_status(ec, name)


def cluster_client(cache: dict, ca_file: str, **extra) -> RedisCluster:
    ep = cache["Endpoint"]
    return RedisCluster(
        host=ep["Address"], port=ep["Port"], ssl=True, ssl_ca_certs=ca_file, socket_timeout=10, **extra
    )


def plaintext_refused(host: str, port: int) -> bool:
    """A plaintext PING gets no answer: the server closes the connection."""
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(b"PING\r\n")
        try:
            return s.recv(64) == b""
        except ConnectionResetError:
            return True


def test_valkey_cache_serves_a_tls_single_shard_cluster(ec, caches, uid, ca_file):
    name = uid("sls")
    cache = create(
        ec,
        caches,
        name,
        Description="serverless",
        CacheUsageLimits={"DataStorage": {"Maximum": 1, "Unit": "GB"}, "ECPUPerSecond": {"Maximum": 5000}},
        Tags=[{"Key": "team", "Value": "cache"}],
    )
    assert cache["ARN"] == f"arn:aws:elasticache:us-east-1:000000000000:serverlesscache:{name}"
    assert cache["Engine"] == "valkey" and cache["MajorEngineVersion"] in ("7", "8")
    assert cache["FullEngineVersion"].startswith(cache["MajorEngineVersion"] + ".")
    assert cache["CacheUsageLimits"] == {
        "DataStorage": {"Maximum": 1, "Unit": "GB"},
        "ECPUPerSecond": {"Maximum": 5000},
    }
    assert cache["SecurityGroupIds"] and cache["SubnetIds"]
    ep, reader = cache["Endpoint"], cache["ReaderEndpoint"]
    tags = ec.list_tags_for_resource(ResourceName=cache["ARN"])["TagList"]
    assert tags == [{"Key": "team", "Value": "cache"}]

    rc = cluster_client(cache, ca_file)
    for i in range(50):
        rc.set(f"k{i}", f"v{i}")
    assert [rc.get(f"k{i}") for i in range(50)] == [f"v{i}".encode() for i in range(50)]
    node = rc.get_primaries()[0]
    slots = rc.cluster_slots(target_nodes=node)
    assert slots == {(0, 16383): {"primary": (ep["Address"], ep["Port"]), "replicas": [(reader["Address"], reader["Port"])]}}
    shards = rc.execute_command("CLUSTER SHARDS", target_nodes=node)
    assert len(shards) == 1
    memory = rc.config_get("maxmemory*", target_nodes=node)
    assert memory["maxmemory"] == str(GIB) and memory["maxmemory-policy"] == "volatile-lru"

    # Reads through the reader endpoint (the replica in the slot map) see the same data.
    ro = cluster_client(cache, ca_file, load_balancing_strategy=LoadBalancingStrategy.RANDOM_REPLICA)
    assert ro.get("k7") == b"v7"
    direct = redis.Redis(host=reader["Address"], port=reader["Port"], ssl=True, ssl_ca_certs=ca_file)
    assert direct.get("k9") == b"v9"

    # TLS is required, on both endpoints.
    assert plaintext_refused(ep["Address"], ep["Port"])
    assert plaintext_refused(reader["Address"], reader["Port"])
    rc.close()
    ro.close()


def test_modify_limits_description_and_version(ec, caches, uid, ca_file):
    name = uid("slsmod")
    cache = create(ec, caches, name, engine="redis")
    assert cache["Engine"] == "redis" and cache["MajorEngineVersion"] == "7"
    assert "CacheUsageLimits" not in cache
    rc = cluster_client(cache, ca_file)
    rc.set("keep", "me")

    out = ec.modify_serverless_cache(
        ServerlessCacheName=name,
        Description="bigger",
        CacheUsageLimits={"DataStorage": {"Maximum": 2, "Minimum": 1, "Unit": "GB"}},
        SnapshotRetentionLimit=3,
        DailySnapshotTime="04:30",
    )["ServerlessCache"]
    assert out["Status"] == "modifying"
    cache = wait_status(ec, name)
    assert cache["Description"] == "bigger"
    assert cache["CacheUsageLimits"]["DataStorage"] == {"Maximum": 2, "Minimum": 1, "Unit": "GB"}
    assert cache["SnapshotRetentionLimit"] == 3 and cache["DailySnapshotTime"] == "04:30"
    node = rc.get_primaries()[0]
    assert rc.config_get("maxmemory", target_nodes=node)["maxmemory"] == str(2 * GIB)
    assert rc.get("keep") == b"me"
    rc.close()

    # Redis OSS -> Valkey keeps the data (the node restarts on the new engine).
    ec.modify_serverless_cache(ServerlessCacheName=name, Engine="valkey", MajorEngineVersion="8")
    cache = wait_status(ec, name)
    assert cache["Engine"] == "valkey" and cache["MajorEngineVersion"] == "8"
    rc = cluster_client(cache, ca_file)
    assert rc.get("keep") == b"me"
    info = rc.info("server", target_nodes=rc.get_primaries()[0])
    assert "valkey_version" in info or info.get("server_name") == "valkey"
    rc.close()

    with aws_error(ec, "InvalidParameterCombination", 400, "InvalidParameterCombinationException"):
        ec.modify_serverless_cache(ServerlessCacheName=name, Engine="redis")
    with aws_error(ec, "InvalidParameterCombination", 400, "InvalidParameterCombinationException"):
        ec.modify_serverless_cache(ServerlessCacheName=name, MajorEngineVersion="7")


def test_create_describe_delete_errors(ec, caches, uid):
    name = uid("slserr")
    create(ec, caches, name)
    with aws_error(ec, "ServerlessCacheAlreadyExistsFault", 400, "ServerlessCacheAlreadyExistsFault"):
        ec.create_serverless_cache(ServerlessCacheName=name, Engine="valkey")
    with aws_error(ec, "ServerlessCacheNotFoundFault", 404, "ServerlessCacheNotFoundFault"):
        ec.describe_serverless_caches(ServerlessCacheName="nope-nope")
    with aws_error(ec, "ServerlessCacheNotFoundFault", 404, "ServerlessCacheNotFoundFault"):
        ec.delete_serverless_cache(ServerlessCacheName="nope-nope")
    with aws_error(ec, "ServerlessCacheNotFoundFault", 404, "ServerlessCacheNotFoundFault"):
        ec.modify_serverless_cache(ServerlessCacheName="nope-nope", Description="x")
    bad = [
        dict(Engine="mysql"),
        dict(Engine="redis", MajorEngineVersion="6"),
        dict(Engine="valkey", CacheUsageLimits={"DataStorage": {"Maximum": 0, "Unit": "GB"}}),
        dict(Engine="valkey", CacheUsageLimits={"DataStorage": {"Maximum": 10, "Unit": "TB"}}),
        dict(Engine="valkey", CacheUsageLimits={"ECPUPerSecond": {"Maximum": 10}}),
        dict(Engine="valkey", SnapshotRetentionLimit=36),
        dict(Engine="valkey", DailySnapshotTime="25:00"),
        dict(Engine="valkey", SecurityGroupIds=["nope"]),
    ]
    for extra in bad:
        with aws_error(ec, "InvalidParameterValue", 400, "InvalidParameterValueException"):
            ec.create_serverless_cache(ServerlessCacheName=uid("bad"), **extra)
    for bad_name in ("1-starts-with-digit", "a" * 41, "double--hyphen"):
        with aws_error(ec, "InvalidParameterValue", 400, "InvalidParameterValueException") as info:
            ec.create_serverless_cache(ServerlessCacheName=bad_name, Engine="valkey")
        assert "ServerlessCacheName" in info.value.response["Error"]["Message"]
    with aws_error(ec, "InvalidParameterValue", 400, "InvalidParameterValueException"):
        ec.create_serverless_cache_snapshot(ServerlessCacheName=name, ServerlessCacheSnapshotName="bad_name")
    with aws_error(ec, "InvalidParameterCombination", 400, "InvalidParameterCombinationException"):
        ec.create_serverless_cache(
            ServerlessCacheName=uid("bad"),
            Engine="valkey",
            CacheUsageLimits={"DataStorage": {"Maximum": 1, "Minimum": 5, "Unit": "GB"}},
        )
    with aws_error(ec, "UserGroupNotFound", 404, "UserGroupNotFoundFault"):
        ec.create_serverless_cache(ServerlessCacheName=uid("bad"), Engine="valkey", UserGroupId="missing")
    with aws_error(ec, "InvalidParameterCombination", 400, "InvalidParameterCombinationException"):
        ec.modify_serverless_cache(ServerlessCacheName=name, UserGroupId="x", RemoveUserGroup=True)

    listed = ec.describe_serverless_caches(MaxResults=1)
    assert len(listed["ServerlessCaches"]) == 1
    seen, token = [], None
    while True:
        page = ec.describe_serverless_caches(MaxResults=1, **({"NextToken": token} if token else {}))
        seen += [c["ServerlessCacheName"] for c in page["ServerlessCaches"]]
        token = page.get("NextToken")
        if not token:
            break
    assert name in seen and len(seen) == len(set(seen))
    events = ec.describe_events(SourceType="serverless-cache", SourceIdentifier=name)["Events"]
    assert {"Serverless cache created", "Serverless cache is available"} <= {e["Message"] for e in events}
    with aws_error(ec, "InvalidParameterValue", 400, "InvalidParameterValueException"):
        ec.describe_serverless_caches(MaxResults=0)

    out = ec.delete_serverless_cache(ServerlessCacheName=name)["ServerlessCache"]
    assert out["Status"] == "deleting"
    wait_gone(ec, name)
    arn = f"arn:aws:elasticache:us-east-1:000000000000:serverlesscache:{name}"
    with aws_error(ec, "ServerlessCacheNotFoundFault", 404, "ServerlessCacheNotFoundFault"):
        ec.list_tags_for_resource(ResourceName=arn)


def test_quota(make_client, uid):
    # A region of its own so the quota counts only this test's caches.
    ec = make_client(region="eu-north-1")
    names = [uid("q") for _ in range(40)]
    try:
        for n in names:
            ec.create_serverless_cache(ServerlessCacheName=n, Engine="valkey")
        with aws_error(
            ec, "ServerlessCacheQuotaForCustomerExceededFault", 400, "ServerlessCacheQuotaForCustomerExceededFault"
        ):
            ec.create_serverless_cache(ServerlessCacheName=uid("q"), Engine="valkey")
    finally:
        for n in names:
            try:
                wait_status(ec, n, ("available", "create-failed"))
                ec.delete_serverless_cache(ServerlessCacheName=n)
            except Exception:
                pass


def test_tags_add_and_remove(ec, caches, uid):
    cache = create(ec, caches, uid("slstag"))
    arn = cache["ARN"]
    ec.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    ec.remove_tags_from_resource(ResourceName=arn, TagKeys=["a"])
    assert ec.list_tags_for_resource(ResourceName=arn)["TagList"] == [{"Key": "b", "Value": "2"}]


def test_snapshot_restore_copy_export_delete(ec, caches, uid, ca_file, endpoint_url, tmp_path):
    name, snap, copy = uid("slsnap"), uid("snap"), uid("copy")
    cache = create(ec, caches, name)
    rc = cluster_client(cache, ca_file)
    for i in range(100):
        rc.set(f"key:{i}", f"value:{i}")
    rc.close()

    out = ec.create_serverless_cache_snapshot(
        ServerlessCacheName=name, ServerlessCacheSnapshotName=snap, Tags=[{"Key": "k", "Value": "v"}]
    )["ServerlessCacheSnapshot"]
    assert out["Status"] == "creating"
    assert out["ServerlessCacheConfiguration"]["ServerlessCacheName"] == name
    s = wait_snapshot(ec, snap)
    assert s["ARN"] == f"arn:aws:elasticache:us-east-1:000000000000:serverlesscachesnapshot:{snap}"
    assert s["SnapshotType"] == "manual" and int(s["BytesUsedForCache"]) > 0
    assert ec.list_tags_for_resource(ResourceName=s["ARN"])["TagList"] == [{"Key": "k", "Value": "v"}]
    with aws_error(
        ec, "ServerlessCacheSnapshotAlreadyExistsFault", 400, "ServerlessCacheSnapshotAlreadyExistsFault"
    ):
        ec.create_serverless_cache_snapshot(ServerlessCacheName=name, ServerlessCacheSnapshotName=snap)

    # Restore into a new cache: every key is there.
    restored = uid("slsrest")
    cache2 = create(ec, caches, restored, SnapshotArnsToRestore=[s["ARN"]])
    rc2 = cluster_client(cache2, ca_file)
    assert rc2.dbsize() == 100
    assert rc2.get("key:42") == b"value:42"
    rc2.close()

    copied = ec.copy_serverless_cache_snapshot(
        SourceServerlessCacheSnapshotName=snap, TargetServerlessCacheSnapshotName=copy
    )["ServerlessCacheSnapshot"]
    assert copied["Status"] == "available" and copied["BytesUsedForCache"] == s["BytesUsedForCache"]
    listed = ec.describe_serverless_cache_snapshots(ServerlessCacheName=name)["ServerlessCacheSnapshots"]
    assert {x["ServerlessCacheSnapshotName"] for x in listed} >= {snap, copy}
    assert ec.describe_serverless_cache_snapshots(SnapshotType="automated")["ServerlessCacheSnapshots"] == []

    # Export writes an RDB file that real redis-server loads.
    with urllib.request.urlopen(f"{endpoint_url}/health", timeout=10) as resp:
        s3_dir = Path(json.load(resp)["resources"]["s3_dir"])
    bucket = uid("bucket")
    try:
        ec.export_serverless_cache_snapshot(ServerlessCacheSnapshotName=snap, S3BucketName=bucket)
        rdb = s3_dir / bucket / f"{snap}-0001.rdb"
        assert rdb.read_bytes().startswith(b"REDIS")
        # ... and restores from its S3 ARN.
        from_s3 = uid("slss3")
        cache3 = create(ec, caches, from_s3, SnapshotArnsToRestore=[f"arn:aws:s3:::{bucket}/{snap}-0001.rdb"])
        rc3 = cluster_client(cache3, ca_file)
        assert rc3.get("key:99") == b"value:99"
        rc3.close()
    finally:
        shutil.rmtree(s3_dir / bucket, ignore_errors=True)

    deleted = ec.delete_serverless_cache_snapshot(ServerlessCacheSnapshotName=copy)["ServerlessCacheSnapshot"]
    assert deleted["Status"] == "deleting"
    for call, kwargs in [
        (ec.describe_serverless_cache_snapshots, dict(ServerlessCacheSnapshotName=copy)),
        (ec.delete_serverless_cache_snapshot, dict(ServerlessCacheSnapshotName=copy)),
        (ec.export_serverless_cache_snapshot, dict(ServerlessCacheSnapshotName=copy, S3BucketName="bucket-x")),
        (
            ec.copy_serverless_cache_snapshot,
            dict(SourceServerlessCacheSnapshotName=copy, TargetServerlessCacheSnapshotName=uid("c")),
        ),
    ]:
        with aws_error(ec, "ServerlessCacheSnapshotNotFoundFault", 404, "ServerlessCacheSnapshotNotFoundFault"):
            call(**kwargs)
    with aws_error(ec, "ServerlessCacheNotFoundFault", 404, "ServerlessCacheNotFoundFault"):
        ec.create_serverless_cache_snapshot(ServerlessCacheName="nope-nope", ServerlessCacheSnapshotName=uid("s"))
    with aws_error(ec, "InvalidParameterValue", 400, "InvalidParameterValueException"):
        ec.export_serverless_cache_snapshot(ServerlessCacheSnapshotName=snap, S3BucketName="Bad_Bucket")

    # Final snapshot on delete.
    final = uid("final")
    ec.delete_serverless_cache(ServerlessCacheName=name, FinalSnapshotName=final)
    wait_gone(ec, name)
    assert wait_snapshot(ec, final)["BytesUsedForCache"] == s["BytesUsedForCache"]
    by_cache = ec.describe_serverless_cache_snapshots(ServerlessCacheName=name)["ServerlessCacheSnapshots"]
    assert final in {x["ServerlessCacheSnapshotName"] for x in by_cache}
    ec.delete_serverless_cache_snapshot(ServerlessCacheSnapshotName=final)
    ec.delete_serverless_cache_snapshot(ServerlessCacheSnapshotName=snap)


def test_snapshot_listing_pages_through_every_snapshot(ec, caches, uid):
    """DescribeServerlessCacheSnapshots pages with MaxResults/NextToken: every snapshot of the
    cache exactly once, in name order, whatever the page size; MaxResults outside 1..50 is
    refused."""
    name = uid("slpage")
    create(ec, caches, name)
    snaps = sorted(uid(f"page{i}") for i in range(5))
    for snap in snaps:
        ec.create_serverless_cache_snapshot(ServerlessCacheName=name, ServerlessCacheSnapshotName=snap)
    for snap in snaps:
        wait_snapshot(ec, snap)
    for size in (1, 2, 3, 50):
        seen, token, pages = [], None, 0
        while True:
            page = ec.describe_serverless_cache_snapshots(
                ServerlessCacheName=name, MaxResults=size, **({"NextToken": token} if token else {})
            )
            pages += 1
            assert len(page["ServerlessCacheSnapshots"]) <= size
            seen += [x["ServerlessCacheSnapshotName"] for x in page["ServerlessCacheSnapshots"]]
            token = page.get("NextToken")
            if not token:
                break
        assert seen == snaps, f"page size {size}"
        assert pages == -(-len(snaps) // size)
    for bad in (0, 51):
        with aws_error(ec, "InvalidParameterValue", 400, "InvalidParameterValueException"):
            ec.describe_serverless_cache_snapshots(ServerlessCacheName=name, MaxResults=bad)
    for snap in snaps:
        ec.delete_serverless_cache_snapshot(ServerlessCacheSnapshotName=snap)


def test_memcached_cache_over_tls(ec, caches, uid, ca_file):
    name = uid("slsmc")
    limits = {"DataStorage": {"Maximum": 1, "Unit": "GB"}}
    cache = create(ec, caches, name, engine="memcached", CacheUsageLimits=limits)
    assert cache["MajorEngineVersion"] == "1.6" and "ReaderEndpoint" not in cache
    ep = cache["Endpoint"]
    client = MemcacheClient(
        (ep["Address"], ep["Port"]), tls_context=ssl.create_default_context(cafile=ca_file), timeout=10
    )
    client.set("greeting", b"hello")
    assert client.get("greeting") == b"hello"
    assert int(client.stats()[b"limit_maxbytes"]) == GIB
    # A new data limit reaches the running node; the data stays.
    ec.modify_serverless_cache(
        ServerlessCacheName=name, CacheUsageLimits={"DataStorage": {"Maximum": 2, "Unit": "GB"}}
    )
    wait_status(ec, name)
    assert int(client.stats()[b"limit_maxbytes"]) == 2 * GIB
    assert client.get("greeting") == b"hello"
    client.close()
    with socket.create_connection((ep["Address"], ep["Port"]), timeout=5) as s:
        s.sendall(b"version\r\n")
        try:
            assert s.recv(64) == b""
        except ConnectionResetError:
            pass
    with aws_error(ec, "InvalidParameterCombination", 400, "InvalidParameterCombinationException"):
        ec.create_serverless_cache_snapshot(ServerlessCacheName=name, ServerlessCacheSnapshotName=uid("s"))


def test_user_group_is_enforced_on_the_node(ec, caches, uid, ca_file):
    suffix = uid("u")
    default_id, app_id, ug = f"{suffix}-def", f"{suffix}-app", f"{suffix}-ug"
    # Redis OSS users and group: a Valkey cache takes them (a Valkey group would refuse the
    # password-less default user).
    ec.create_user(UserId=default_id, UserName="default", Engine="redis", AccessString="off -@all", NoPasswordRequired=True)
    ec.create_user(
        UserId=app_id, UserName=f"{suffix}-app", Engine="redis", AccessString="on ~* +@all", Passwords=["p" * 20]
    )
    ec.create_user_group(UserGroupId=ug, Engine="redis", UserIds=[default_id, app_id])
    deadline = time.monotonic() + 30
    while ec.describe_user_groups(UserGroupId=ug)["UserGroups"][0]["Status"] != "active":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    name = uid("slsrbac")
    try:
        cache = create(ec, caches, name, UserGroupId=ug)
        assert cache["UserGroupId"] == ug
        assert ec.describe_user_groups(UserGroupId=ug)["UserGroups"][0]["ServerlessCaches"] == [name]
        with aws_error(ec, "InvalidUserGroupState", 400, "InvalidUserGroupStateFault"):
            ec.delete_user_group(UserGroupId=ug)
        ep = cache["Endpoint"]
        anonymous = redis.Redis(host=ep["Address"], port=ep["Port"], ssl=True, ssl_ca_certs=ca_file)
        # The group's `default` user is off: an unauthenticated client is refused.
        with pytest.raises((redis.exceptions.ResponseError, redis.exceptions.AuthenticationError)):
            anonymous.set("x", "1")
        rc = cluster_client(cache, ca_file, username=f"{suffix}-app", password="p" * 20)
        rc.set("x", "1")
        assert rc.get("x") == b"1"
        rc.close()
        # A change to a user of the group reaches the node: the app user may only read now.
        ec.modify_user(UserId=app_id, AccessString="on ~* +@all -@write")
        deadline = time.monotonic() + 30
        while ec.describe_users(UserId=app_id)["Users"][0]["Status"] != "active":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        rc = cluster_client(cache, ca_file, username=f"{suffix}-app", password="p" * 20)
        assert rc.get("x") == b"1"
        with pytest.raises(redis.exceptions.NoPermissionError):
            rc.set("x", "2")
        rc.close()
        # Removing the user group opens the default user again.
        ec.modify_serverless_cache(ServerlessCacheName=name, RemoveUserGroup=True)
        cache = wait_status(ec, name)
        assert "UserGroupId" not in cache
        assert redis.Redis(host=ep["Address"], port=ep["Port"], ssl=True, ssl_ca_certs=ca_file).get("x") == b"1"
    finally:
        try:
            ec.delete_serverless_cache(ServerlessCacheName=name)
            wait_gone(ec, name)
        except Exception:
            pass
        for call in (
            lambda: ec.delete_user_group(UserGroupId=ug),
            lambda: ec.delete_user(UserId=app_id),
            lambda: ec.delete_user(UserId=default_id),
        ):
            try:
                call()
            except Exception:
                pass


def test_iam_user_connects_with_a_serverless_token(ec, caches, uid, ca_file):
    suffix = uid("i")
    default_id, iam_user, ug = f"{suffix}-def", f"{suffix}-iam", f"{suffix}-ug"
    ec.create_user(UserId=default_id, UserName="default", Engine="redis", AccessString="off -@all", NoPasswordRequired=True)
    ec.create_user(
        UserId=iam_user, UserName=iam_user, Engine="redis", AccessString="on ~* +@all", AuthenticationMode={"Type": "iam"}
    )
    ec.create_user_group(UserGroupId=ug, Engine="redis", UserIds=[default_id, iam_user])
    deadline = time.monotonic() + 30
    while ec.describe_user_groups(UserGroupId=ug)["UserGroups"][0]["Status"] != "active":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    name = uid("slsiam")
    try:
        cache = create(ec, caches, name, UserGroupId=ug)
        ep = cache["Endpoint"]
        creds = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test")

        def connect(token: str) -> redis.Redis:
            return redis.Redis(
                host=ep["Address"], port=ep["Port"], ssl=True, ssl_ca_certs=ca_file,
                username=iam_user, password=token, socket_timeout=10,
            )

        token = generate_iam_auth_token(name, iam_user, "us-east-1", creds, serverless=True)
        assert connect(token).acl_whoami() == iam_user
        # A token for a node-based cache of that name (no ResourceType) is refused.
        node_token = generate_iam_auth_token(name, iam_user, "us-east-1", creds)
        with pytest.raises(redis.exceptions.AuthenticationError):
            connect(node_token).ping()
    finally:
        try:
            ec.delete_serverless_cache(ServerlessCacheName=name)
            wait_gone(ec, name)
        except Exception:
            pass
        for call in (
            lambda: ec.delete_user_group(UserGroupId=ug),
            lambda: ec.delete_user(UserId=iam_user),
            lambda: ec.delete_user(UserId=default_id),
        ):
            try:
                call()
            except Exception:
                pass


# ----------------------------------------------------------------------------------------------
# An emulator of its own whose nodes are capped at a few MB (writing the smallest AWS data
# maximum, 1 GB, would take too long in a test) and whose transitions take a second (so the
# state errors of a cache that is not `available` can be seen).


@pytest.fixture(scope="module")
def small_emulator(tmp_path_factory):
    binary = Path(os.environ.get("ECL_BINARY") or Path(__file__).resolve().parents[2] / "target/debug/elasticache-local")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"127.{random.randint(100, 250)}.{random.randint(0, 255)}.1"
    log = open(tmp_path_factory.mktemp("small") / "emulator.log", "wb")
    args = [str(binary), "--listen", f"127.0.0.1:{port}", "--addressing", "loopback", "--loopback-base", base,
            "--max-node-memory", "4mb", "--create-delay", "1s"]
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url + "/health", timeout=2)
            break
        except Exception:
            assert proc.poll() is None and time.monotonic() < deadline, "small emulator did not start"
            time.sleep(0.1)
    yield url
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    log.close()


def small_client(url: str):
    return boto3.client(
        "elasticache", endpoint_url=url, region_name="us-east-1",
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="x",
    )


def test_operations_on_a_cache_that_is_not_available(small_emulator):
    ec = small_client(small_emulator)
    ec.create_serverless_cache(ServerlessCacheName="busy", Engine="valkey")
    state_error = ("InvalidServerlessCacheStateFault", 400, "InvalidServerlessCacheStateFault")
    with aws_error(ec, *state_error):
        ec.modify_serverless_cache(ServerlessCacheName="busy", Description="x")
    with aws_error(ec, *state_error):
        ec.create_serverless_cache_snapshot(ServerlessCacheName="busy", ServerlessCacheSnapshotName="s")
    with aws_error(ec, *state_error):
        ec.delete_serverless_cache(ServerlessCacheName="busy")
    wait_status(ec, "busy")
    ec.create_serverless_cache_snapshot(ServerlessCacheName="busy", ServerlessCacheSnapshotName="s")
    with aws_error(
        ec, "InvalidServerlessCacheSnapshotStateFault", 400, "InvalidServerlessCacheSnapshotStateFault"
    ):
        ec.delete_serverless_cache_snapshot(ServerlessCacheSnapshotName="s")
    ec.modify_serverless_cache(ServerlessCacheName="busy", Description="x")
    with aws_error(ec, *state_error):
        ec.modify_serverless_cache(ServerlessCacheName="busy", Description="y")
    wait_status(ec, "busy")
    assert ec.delete_serverless_cache(ServerlessCacheName="busy")["ServerlessCache"]["Status"] == "deleting"
    with aws_error(ec, *state_error):
        ec.delete_serverless_cache(ServerlessCacheName="busy")
    wait_gone(ec, "busy")
    wait_snapshot(ec, "s")
    ec.delete_serverless_cache_snapshot(ServerlessCacheSnapshotName="s")


def test_data_limit_evicts_keys_with_ttl_then_refuses_writes(small_emulator):
    ec = small_client(small_emulator)
    ec.create_serverless_cache(
        ServerlessCacheName="limited", Engine="valkey",
        CacheUsageLimits={"DataStorage": {"Maximum": 1, "Unit": "GB"}},
    )
    cache = wait_status(ec, "limited")
    ep = cache["Endpoint"]
    rc = RedisCluster(host=ep["Address"], port=ep["Port"], ssl=True, ssl_cert_reqs="none", socket_timeout=30)
    value = b"x" * 10_000
    # Keys with a TTL are evicted (LRU) to make room: 1,000 x 10 KB is more than the 4 MB cap.
    for i in range(1000):
        rc.set(f"ttl:{i}", value, ex=3600)
    node = rc.get_primaries()[0]
    assert rc.info("stats", target_nodes=node)["evicted_keys"] > 0
    # Keys without a TTL cannot be evicted: writes end with Redis's OOM error.
    with pytest.raises(redis.exceptions.OutOfMemoryError):
        for i in range(1000):
            rc.set(f"keep:{i}", value)
    assert rc.get("keep:0") == value
    rc.close()
    ec.delete_serverless_cache(ServerlessCacheName="limited")
    wait_gone(ec, "limited")
