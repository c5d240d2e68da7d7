"""Online migration from the sources AWS names in its requirements, each a real redis-server
7.0.15 (Debian): a source with AUTH (refused: AWS requires the source without AUTH), a TLS-only
source (the plaintext link fails and the migration ends with an event), a cluster-mode source
(migrated shard by shard into a cluster mode enabled group, each shard primary replicating the
source primary owning the same slots) and the mismatches AWS refuses (the other cluster mode,
another number of shards). Driven with boto3, redis-py and redis-py's RedisCluster.
"""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
import redis
from redis.cluster import RedisCluster

from helpers import aws_error
from test_migration import describe, events, free_port, until

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")


class Servers:
    """redis-server processes started by a test; killed at its end."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.procs: list[subprocess.Popen] = []

    def start(self, *extra: str, tls: bool = False) -> int:
        port = free_port()
        d = self.tmp_path / str(port)
        d.mkdir()
        listen = ["--port", "0", "--tls-port", str(port)] if tls else ["--port", str(port)]
        self.procs.append(
            subprocess.Popen(
                ["redis-server", *listen, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", str(d), *extra],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        return port

    def stop(self):
        for p in self.procs:
            p.kill()
            p.wait()


@pytest.fixture
def servers(tmp_path):
    s = Servers(tmp_path)
    yield s
    s.stop()


def ready(client: redis.Redis, check=lambda c: c.ping()):
    deadline = time.time() + 10
    while True:
        try:
            if check(client):
                return client
        except (redis.ConnectionError, redis.ResponseError):
            pass
        if time.time() > deadline:
            raise AssertionError("redis-server did not come up")
        time.sleep(0.05)


def source_cluster(servers: Servers, ranges: list[tuple[int, int]]) -> list[int]:
    """A redis-server cluster of one primary per slot range; answers their ports."""
    # An explicit bus port: the default (port + 10000) overflows for high free ports.
    buses = [free_port() for _ in ranges]
    ports = [
        servers.start("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-port", str(b))
        for b in buses
    ]
    clients = [ready(redis.Redis(host="127.0.0.1", port=p, decode_responses=True)) for p in ports]
    for c, (lo, hi) in zip(clients, ranges):
        c.execute_command("CLUSTER", "ADDSLOTSRANGE", lo, hi)
    for p, b in zip(ports[1:], buses[1:]):
        clients[0].execute_command("CLUSTER", "MEET", "127.0.0.1", p, b)
    for c in clients:
        ready(c, lambda c: c.cluster("info")["cluster_state"] == "ok"
              and len(c.execute_command("CLUSTER", "NODES").splitlines()) == len(ports))
    return ports


def make_group(ec, uid, name: str, **extra) -> str:
    gid = uid(name)
    params = dict(
        ReplicationGroupId=gid,
        ReplicationGroupDescription="migration target",
        Engine="redis",
        CacheNodeType="cache.t3.micro",
        AutomaticFailoverEnabled=True,
        MultiAZEnabled=True,
    )
    params.update(extra or {"NumCacheClusters": 2})
    ec.create_replication_group(**params)
    ec.get_waiter("replication_group_available").wait(ReplicationGroupId=gid, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    return gid


@pytest.fixture
def groups(ec):
    made: list[str] = []
    yield made
    for gid in made:
        try:
            ec.complete_migration(ReplicationGroupId=gid, Force=True)
        except Exception:
            pass
        ec.delete_replication_group(ReplicationGroupId=gid)


def one(port: int) -> list[dict]:
    return [{"Address": "127.0.0.1", "Port": port}]


def test_a_source_with_auth_is_refused(ec, uid, groups, servers):
    gid = make_group(ec, uid, "mauth")
    groups.append(gid)
    port = servers.start("--requirepass", "s3cret-s3cret-s3cret")
    ready(redis.Redis(host="127.0.0.1", port=port, password="s3cret-s3cret-s3cret"))
    with aws_error(ec, "InvalidParameterValue", 400) as err:
        ec.start_migration(ReplicationGroupId=gid, CustomerNodeEndpointList=one(port))
    assert "requires AUTH" in err.value.response["Error"]["Message"]
    assert describe(ec, gid)["Status"] == "available"
    ec.test_migration(ReplicationGroupId=gid, CustomerNodeEndpointList=one(port))
    assert any(m.startswith("Test migration failed") and "AUTH" in m for m in events(ec, gid))


def test_a_tls_only_source_ends_the_migration(ec, uid, groups, servers, tmp_path):
    gid = make_group(ec, uid, "mtls")
    groups.append(gid)
    key, cert = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1"],
        check=True, capture_output=True,
    )
    port = servers.start("--tls-cert-file", str(cert), "--tls-key-file", str(key), "--tls-ca-cert-file", str(cert),
                         "--tls-auth-clients", "no", tls=True)
    ready(redis.Redis(host="127.0.0.1", port=port, ssl=True, ssl_cert_reqs="none"))
    # The link speaks plaintext (CustomerNodeEndpoint has no TLS setting): it never syncs.
    ec.start_migration(ReplicationGroupId=gid, CustomerNodeEndpointList=one(port))
    until(lambda: describe(ec, gid)["Status"] == "available", timeout=60)
    assert any(m.startswith("Failed to start migration") for m in events(ec, gid))


def test_cluster_mode_source_migrates_shard_by_shard(ec, uid, groups, servers):
    gid = make_group(ec, uid, "mcme", NumNodeGroups=2, ReplicasPerNodeGroup=1,
                     CacheParameterGroupName="default.redis7.cluster.on")
    groups.append(gid)
    rg = describe(ec, gid)
    ranges = sorted(tuple(int(x) for x in ng["Slots"].split("-")) for ng in rg["NodeGroups"])
    ports = source_cluster(servers, ranges)
    src = RedisCluster(host="127.0.0.1", port=ports[0], decode_responses=True)
    for i in range(300):
        src.set(f"key:{i}", i)
    ec.test_migration(ReplicationGroupId=gid, CustomerNodeEndpointList=one(ports[0]))
    assert any(m.startswith("Test migration succeeded") for m in events(ec, gid)), events(ec, gid)

    out = ec.start_migration(ReplicationGroupId=gid, CustomerNodeEndpointList=one(ports[0]))
    assert out["ReplicationGroup"]["Status"] == "migrating"
    started = next(m for m in events(ec, gid) if m.startswith("Migration started"))
    assert all(f"127.0.0.1:{p}" in started for p in ports), started
    ep = rg["ConfigurationEndpoint"]
    target = RedisCluster(host=ep["Address"], port=ep["Port"], decode_responses=True, socket_timeout=10)
    until(lambda: all(target.get(f"key:{i}") == str(i) for i in range(300)))
    with pytest.raises(redis.exceptions.ReadOnlyError):
        target.set("key:mine", "1")
    src.set("key:later", "yes")
    until(lambda: target.get("key:later") == "yes")
    until(lambda: any("initial synchronization" in m for m in events(ec, gid)))

    assert ec.complete_migration(ReplicationGroupId=gid)["ReplicationGroup"]["Status"] == "available"
    target.set("key:mine", "1")
    assert target.get("key:mine") == "1"
    src.set("key:after", "1")
    time.sleep(0.3)
    assert target.exists("key:after") == 0


def test_cluster_mode_mismatches_are_refused(ec, uid, groups, servers):
    cmd = make_group(ec, uid, "mmd")
    cme = make_group(ec, uid, "mme", NumNodeGroups=2, ReplicasPerNodeGroup=1,
                     CacheParameterGroupName="default.redis7.cluster.on")
    groups.extend([cmd, cme])
    whole = source_cluster(servers, [(0, 16383)])[0]
    plain = servers.start()
    ready(redis.Redis(host="127.0.0.1", port=plain))
    cases = [
        (cmd, whole, "same cluster mode"),  # cluster-mode source into a cluster mode disabled group
        (cme, plain, "same cluster mode"),  # plain source into a cluster mode enabled group
        (cme, whole, "number of shards"),  # one source shard for two target shards
    ]
    for gid, port, words in cases:
        with aws_error(ec, "InvalidParameterValue", 400) as err:
            ec.start_migration(ReplicationGroupId=gid, CustomerNodeEndpointList=one(port))
        assert words in err.value.response["Error"]["Message"]
        assert describe(ec, gid)["Status"] == "available"
