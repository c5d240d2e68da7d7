"""Online migration through boto3 and redis-py: a real redis-server 7.0.15 (Debian) is the
source; StartMigration makes the group's primary replicate it (full sync, then the stream),
the group is `migrating` and read-only for clients while its replica follows the primary,
CompleteMigration stops the link and the group takes writes again. TestMigration reports
reachability as an event; AWS's errors for each operation.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest
import redis

import helpers
from helpers import aws_error

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def source(tmp_path):
    """A redis-server on a free port (its own directory: a disk-backed sync writes dump.rdb)."""
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(host="127.0.0.1", port=port, decode_responses=True)
    deadline = time.time() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.time() > deadline:
                raise
            time.sleep(0.05)
    assert client.info("server")["redis_version"].startswith("7.")
    yield port, client
    proc.kill()
    proc.wait()


@pytest.fixture
def group(ec, uid):
    """A cluster-mode-disabled group with a primary and one replica; deleted afterwards."""
    gid = uid("mig")
    ec.create_replication_group(
        ReplicationGroupId=gid,
        ReplicationGroupDescription="migration target",
        Engine="redis",
        CacheNodeType="cache.t3.micro",
        NumCacheClusters=2,
        AutomaticFailoverEnabled=True,
        MultiAZEnabled=True,
    )
    ec.get_waiter("replication_group_available").wait(ReplicationGroupId=gid, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    yield gid
    try:
        ec.complete_migration(ReplicationGroupId=gid, Force=True)
    except Exception:
        pass
    ec.delete_replication_group(ReplicationGroupId=gid)


def until(fn, timeout: float = 30.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not reached")


def describe(ec, gid) -> dict:
    return ec.describe_replication_groups(ReplicationGroupId=gid)["ReplicationGroups"][0]


def events(ec, gid) -> list[str]:
    return [e["Message"] for e in ec.describe_events(SourceIdentifier=gid, SourceType="replication-group")["Events"]]


def endpoint_clients(ec, gid):
    g = describe(ec, gid)
    primary = g["NodeGroups"][0]["PrimaryEndpoint"]
    reader = g["NodeGroups"][0]["ReaderEndpoint"]
    mk = lambda e: redis.Redis(host=e["Address"], port=e["Port"], decode_responses=True, socket_timeout=10)  # noqa: E731
    return mk(primary), mk(reader)


def seed(src: redis.Redis):
    for i in range(200):
        src.set(f"k{i}", i)
    src.hset("hash", mapping={"a": "1", "b": "2"})
    src.rpush("list", "x", "y", "z")
    src.sadd("set", "m1", "m2", "m3")
    src.zadd("zset", {"one": 1, "two": 2})
    src.xadd("stream", {"f": "v"}, id="1-1")
    src.set("expiring", "v", ex=3600)


def test_online_migration_end_to_end(ec, source, group):
    port, src = source
    seed(src)
    ec.test_migration(ReplicationGroupId=group, CustomerNodeEndpointList=[{"Address": "127.0.0.1", "Port": port}])
    assert any(m.startswith("Test migration succeeded") and "7.0.15" in m for m in events(ec, group))

    out = ec.start_migration(ReplicationGroupId=group, CustomerNodeEndpointList=[{"Address": "127.0.0.1", "Port": port}])
    assert out["ReplicationGroup"]["Status"] == "migrating"
    assert describe(ec, group)["Status"] == "migrating"
    primary, reader = endpoint_clients(ec, group)
    until(lambda: primary.get("k199") == "199")
    assert primary.hgetall("hash") == {"a": "1", "b": "2"}
    assert primary.lrange("list", 0, -1) == ["x", "y", "z"]
    assert primary.smembers("set") == {"m1", "m2", "m3"}
    assert primary.zrange("zset", 0, -1, withscores=True) == [("one", 1.0), ("two", 2.0)]
    assert primary.xrange("stream") == [("1-1", {"f": "v"})]
    assert 3500 < primary.ttl("expiring") <= 3600
    assert primary.info("replication")["role"] == "slave"
    with pytest.raises(redis.ReadOnlyError):
        primary.set("mine", "1")

    # Writes on the source keep arriving, on the primary and on the group's replica.
    src.set("later", "1")
    src.incrby("counter", 7)
    src.delete("k0")
    src.lpush("list", "w")
    until(lambda: primary.get("later") == "1")
    assert primary.get("counter") == "7" and primary.exists("k0") == 0
    until(lambda: reader.get("counter") == "7")
    assert reader.lrange("list", 0, -1) == ["w", "x", "y", "z"]
    until(lambda: any("initial synchronization" in m for m in events(ec, group)))

    with aws_error(ec, "ReplicationGroupAlreadyUnderMigrationFault", 400, "ReplicationGroupAlreadyUnderMigrationFault"):
        ec.start_migration(ReplicationGroupId=group, CustomerNodeEndpointList=[{"Address": "127.0.0.1", "Port": port}])
    with aws_error(ec, "InvalidReplicationGroupState", 400):
        ec.modify_replication_group(ReplicationGroupId=group, ReplicationGroupDescription="x", ApplyImmediately=True)

    done = ec.complete_migration(ReplicationGroupId=group)["ReplicationGroup"]
    assert done["Status"] == "available"
    primary.set("mine", "1")
    assert primary.get("mine") == "1"
    assert primary.info("replication")["role"] == "master"
    src.set("after-complete", "1")
    time.sleep(0.3)
    assert primary.exists("after-complete") == 0
    until(lambda: reader.get("mine") == "1")
    with aws_error(ec, "ReplicationGroupNotUnderMigrationFault", 400, "ReplicationGroupNotUnderMigrationFault"):
        ec.complete_migration(ReplicationGroupId=group)
    assert "Migration completed" in events(ec, group)


def test_unreachable_source_ends_the_migration(ec, group):
    port = free_port()
    ec.test_migration(ReplicationGroupId=group, CustomerNodeEndpointList=[{"Address": "127.0.0.1", "Port": port}])
    assert any(m.startswith("Test migration failed") for m in events(ec, group))
    ec.start_migration(ReplicationGroupId=group, CustomerNodeEndpointList=[{"Address": "127.0.0.1", "Port": port}])
    # Not in sync: CompleteMigration needs Force meanwhile.
    with aws_error(ec, "InvalidReplicationGroupState", 400):
        ec.complete_migration(ReplicationGroupId=group)
    until(lambda: describe(ec, group)["Status"] == "available")
    assert any(m.startswith("Failed to start migration") for m in events(ec, group))
    # Force stops a migration that never synchronized.
    ec.start_migration(ReplicationGroupId=group, CustomerNodeEndpointList=[{"Address": "127.0.0.1", "Port": port}])
    assert ec.complete_migration(ReplicationGroupId=group, Force=True)["ReplicationGroup"]["Status"] == "available"


def test_migration_errors(ec, group, uid):
    one = [{"Address": "127.0.0.1", "Port": 6379}]
    with aws_error(ec, "ReplicationGroupNotFoundFault", 404):
        ec.start_migration(ReplicationGroupId="no-such-group", CustomerNodeEndpointList=one)
    with aws_error(ec, "ReplicationGroupNotFoundFault", 404):
        ec.complete_migration(ReplicationGroupId="no-such-group")
    with aws_error(ec, "InvalidParameterValue", 400):
        ec.start_migration(ReplicationGroupId=group, CustomerNodeEndpointList=one + one)
    with aws_error(ec, "InvalidParameterValue", 400):
        ec.test_migration(ReplicationGroupId=group, CustomerNodeEndpointList=[])
    with aws_error(ec, "InvalidParameterValue", 400):
        ec.start_migration(ReplicationGroupId=group, CustomerNodeEndpointList=[{"Address": "127.0.0.1", "Port": 0}])
    with aws_error(ec, "ReplicationGroupNotUnderMigrationFault", 400):
        ec.complete_migration(ReplicationGroupId=group)
    # The group's own primary is not a source.
    own = describe(ec, group)["NodeGroups"][0]["PrimaryEndpoint"]
    member = describe(ec, group)["MemberClusters"][0]
    node = ec.describe_cache_clusters(CacheClusterId=member, ShowCacheNodeInfo=True)["CacheClusters"][0]
    ep = node["CacheNodes"][0]["Endpoint"]
    with aws_error(ec, "InvalidParameterValue", 400):
        ec.start_migration(ReplicationGroupId=group, CustomerNodeEndpointList=[{"Address": ep["Address"], "Port": ep["Port"]}])
    if helpers.ADDRESSING == "loopback":
        # Loopback mode gives every endpoint its own address on the requested port.
        assert own["Port"] == ep["Port"]
    # In-transit encryption groups are refused.
    tls = uid("mig-tls")
    ec.create_replication_group(
        ReplicationGroupId=tls,
        ReplicationGroupDescription="tls",
        Engine="redis",
        CacheNodeType="cache.t3.micro",
        NumCacheClusters=1,
        TransitEncryptionEnabled=True,
    )
    try:
        ec.get_waiter("replication_group_available").wait(ReplicationGroupId=tls, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
        with aws_error(ec, "InvalidReplicationGroupState", 400):
            ec.start_migration(ReplicationGroupId=tls, CustomerNodeEndpointList=one)
    finally:
        ec.delete_replication_group(ReplicationGroupId=tls)


def test_an_elasticache_node_is_not_a_source(ec, group, resources, uid):
    """ElastiCache nodes refuse SYNC/PSYNC (restricted commands), so migrating from one fails
    to start: the group goes back to `available` with the failure event, as on AWS."""
    from helpers import create_redis

    cid = uid("mig-src")
    node = create_redis(ec, resources, cid)["CacheNodes"][0]["Endpoint"]
    src = redis.Redis(host=node["Address"], port=node["Port"], decode_responses=True)
    src.set("never", "copied")
    ec.start_migration(
        ReplicationGroupId=group, CustomerNodeEndpointList=[{"Address": node["Address"], "Port": node["Port"]}]
    )
    until(lambda: describe(ec, group)["Status"] == "available")
    failed = [m for m in events(ec, group) if m.startswith("Failed to start migration")]
    assert failed and "PSYNC" in failed[0], failed
    primary, _ = endpoint_clients(ec, group)
    assert primary.exists("never") == 0
    primary.set("writable", "1")
