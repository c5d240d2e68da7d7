"""Encryption in transit with the clients users point at TLS endpoints: redis-cli --tls, redis-py
with ``ssl=True`` (verifying with the emulator's CA, and skipping verification), RedisCluster over
TLS, pymemcache with a TLS context, auto discovery over TLS. ``required`` refuses plaintext the
way ElastiCache does (the connection is closed unanswered); ``preferred`` serves both on one port.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import urllib.request

import pytest
import redis
from pymemcache.client.base import Client as MemcacheClient
from redis.cluster import RedisCluster

from helpers import FAST_WAITER, create_memcached, create_redis, node_endpoints

NODE_TYPE = "cache.t3.micro"


@pytest.fixture(scope="module")
def ca_file(endpoint_url, tmp_path_factory) -> str:
    """The emulator's CA, downloaded the way the README tells users to."""
    pem = urllib.request.urlopen(f"{endpoint_url}/_elasticache_local/ca.pem", timeout=10).read()
    assert pem.startswith(b"-----BEGIN CERTIFICATE-----")
    path = tmp_path_factory.mktemp("tls") / "ca.pem"
    path.write_bytes(pem)
    return str(path)


@pytest.fixture
def groups(make_client):
    created: list[str] = []
    yield created
    ec = make_client()
    for gid in created:
        try:
            ec.delete_replication_group(ReplicationGroupId=gid)
        except Exception:  # best effort: the test may have deleted it
            pass


def create_group(ec, groups, gid: str, **extra) -> dict:
    groups.append(gid)
    ec.create_replication_group(
        ReplicationGroupId=gid,
        ReplicationGroupDescription="tls",
        CacheNodeType=NODE_TYPE,
        TransitEncryptionEnabled=True,
        **extra,
    )
    ec.get_waiter("replication_group_available").wait(ReplicationGroupId=gid, WaiterConfig=FAST_WAITER)
    return ec.describe_replication_groups(ReplicationGroupId=gid)["ReplicationGroups"][0]


def plaintext_refused(host: str, port: int) -> bool:
    """A plaintext PING gets no answer: the server closes the connection (EOF or reset)."""
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(b"PING\r\n")
        try:
            return s.recv(64) == b""
        except ConnectionResetError:
            return True


def open_plaintext(host: str, port: int) -> socket.socket:
    """A plaintext connection that has been served (answered PING)."""
    sock = socket.create_connection((host, port), timeout=5)
    sock.sendall(b"PING\r\n")
    assert sock.recv(64) == b"+PONG\r\n"
    return sock


def dropped(sock: socket.socket) -> bool:
    """Whether the server closed the connection: a command gets no reply, the socket EOF."""
    try:
        sock.sendall(b"PING\r\n")
        return sock.recv(64) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    finally:
        sock.close()


def redis_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["redis-cli", *args], capture_output=True, text=True, timeout=20)


def test_required_group_serves_tls_on_nodes_and_primary_endpoint(ec, groups, uid, ca_file):
    gid = uid("tls")
    group = create_group(ec, groups, gid, NumCacheClusters=2)
    assert group["TransitEncryptionEnabled"] is True
    assert group["TransitEncryptionMode"] == "required"
    primary = group["NodeGroups"][0]["PrimaryEndpoint"]
    host, port = primary["Address"], str(primary["Port"])

    out = redis_cli("-h", host, "-p", port, "--tls", "--cacert", ca_file, "set", "greeting", "hello")
    assert out.stdout.strip() == "OK", out.stderr
    # redis-py verifying the certificate (host name = the endpoint's address) with the CA.
    r = redis.Redis(host=host, port=int(port), ssl=True, ssl_ca_certs=ca_file, socket_timeout=10)
    assert r.get("greeting") == b"hello"
    # Clients that skip verification connect too.
    loose = redis.Redis(host=host, port=int(port), ssl=True, ssl_cert_reqs=None, socket_timeout=10)
    assert loose.ping() is True
    # The replica's own endpoint serves TLS and has the replicated key.
    for member in group["MemberClusters"]:
        c = ec.describe_cache_clusters(CacheClusterId=member, ShowCacheNodeInfo=True)["CacheClusters"][0]
        assert c["TransitEncryptionEnabled"] is True
        (node_host, node_port), = node_endpoints(c).values()
        node = redis.Redis(host=node_host, port=node_port, ssl=True, ssl_ca_certs=ca_file, socket_timeout=10)
        for _ in range(50):
            if node.get("greeting") == b"hello":
                break
        assert node.get("greeting") == b"hello"
        assert plaintext_refused(node_host, node_port)
    assert plaintext_refused(host, int(port))
    plain_cli = redis_cli("-h", host, "-p", port, "ping")
    assert "PONG" not in plain_cli.stdout


def test_preferred_mode_serves_tls_and_plaintext_on_one_port(ec, groups, uid, ca_file):
    gid = uid("pref")
    group = create_group(ec, groups, gid, NumCacheClusters=1, TransitEncryptionMode="preferred")
    assert group["TransitEncryptionMode"] == "preferred"
    primary = group["NodeGroups"][0]["PrimaryEndpoint"]
    tls = redis.Redis(host=primary["Address"], port=primary["Port"], ssl=True, ssl_ca_certs=ca_file)
    plain = redis.Redis(host=primary["Address"], port=primary["Port"])
    tls.set("k", "over tls")
    assert plain.get("k") == b"over tls"


def test_auth_token_over_tls(ec, groups, uid, ca_file):
    gid = uid("auth")
    token = "a-very-long-token-of-sixteen-plus"
    group = create_group(ec, groups, gid, NumCacheClusters=1, AuthToken=token)
    primary = group["NodeGroups"][0]["PrimaryEndpoint"]
    anonymous = redis.Redis(host=primary["Address"], port=primary["Port"], ssl=True, ssl_ca_certs=ca_file)
    with pytest.raises(redis.AuthenticationError):
        anonymous.set("k", "v")
    authed = redis.Redis(
        host=primary["Address"], port=primary["Port"], ssl=True, ssl_ca_certs=ca_file, password=token
    )
    assert authed.set("k", "v") is True


def test_cluster_mode_enabled_group_over_tls(ec, groups, uid, ca_file):
    gid = uid("cme")
    group = create_group(ec, groups, gid, NumNodeGroups=2, ReplicasPerNodeGroup=1)
    cfg = group["ConfigurationEndpoint"]
    rc = RedisCluster(
        host=cfg["Address"], port=cfg["Port"], ssl=True, ssl_ca_certs=ca_file, decode_responses=True, socket_timeout=10
    )
    for i in range(200):
        rc.set(f"user:{i}", i)
    assert [rc.get(f"user:{i}") for i in range(200)] == [str(i) for i in range(200)]
    # Every node the cluster announces is reached over TLS and verified against the CA.
    assert len(rc.get_primaries()) == 2
    assert plaintext_refused(cfg["Address"], cfg["Port"])


def test_cache_cluster_without_tls_stays_plaintext(ec, resources, uid):
    c = create_redis(ec, resources, uid("plain"))
    assert c["TransitEncryptionEnabled"] is False
    (host, port), = node_endpoints(c).values()
    assert redis.Redis(host=host, port=port).ping() is True


def test_redis_cache_cluster_with_tls(ec, resources, uid, ca_file):
    c = create_redis(ec, resources, uid("one"), TransitEncryptionEnabled=True)
    (host, port), = node_endpoints(c).values()
    r = redis.Redis(host=host, port=port, ssl=True, ssl_ca_certs=ca_file)
    assert r.ping() is True
    assert plaintext_refused(host, port)


def test_memcached_nodes_and_auto_discovery_over_tls(ec, resources, uid, ca_file):
    c = create_memcached(ec, resources, uid("mc"), nodes=2, EngineVersion="1.6.22", TransitEncryptionEnabled=True)
    assert c["TransitEncryptionEnabled"] is True
    context = ssl.create_default_context(cafile=ca_file)
    nodes = node_endpoints(c)
    for host, port in nodes.values():
        client = MemcacheClient((host, port), tls_context=context, timeout=10)
        client.set("k", b"v")
        assert client.get("k") == b"v"
        client.close()
        assert plaintext_refused(host, port)
    # Auto discovery on the configuration endpoint, over TLS.
    cfg = c["ConfigurationEndpoint"]
    raw = socket.create_connection((cfg["Address"], cfg["Port"]), timeout=10)
    with context.wrap_socket(raw, server_hostname=cfg["Address"]) as s:
        s.sendall(b"config get cluster\r\n")
        answer = b""
        while not answer.endswith(b"END\r\n"):
            chunk = s.recv(4096)
            assert chunk, "connection closed before END"
            answer += chunk
    # CONFIG cluster 0 <bytes>\r\n<version>\n<host|ip|port ...>\n\r\nEND\r\n
    version, listed = answer.split(b"\r\n")[1].decode().split("\n")[:2]
    assert int(version) >= 1
    listed = listed.split(" ")
    assert sorted(int(n.split("|")[2]) for n in listed) == sorted(p for _, p in nodes.values())


def test_in_place_migration_plaintext_to_preferred_to_required(ec, groups, uid, ca_file):
    gid = uid("mig")
    groups.append(gid)
    ec.create_replication_group(
        ReplicationGroupId=gid, ReplicationGroupDescription="migrate", CacheNodeType=NODE_TYPE, NumCacheClusters=2
    )
    ec.get_waiter("replication_group_available").wait(ReplicationGroupId=gid, WaiterConfig=FAST_WAITER)
    group = ec.describe_replication_groups(ReplicationGroupId=gid)["ReplicationGroups"][0]
    primary = group["NodeGroups"][0]["PrimaryEndpoint"]
    host, port = primary["Address"], primary["Port"]
    redis.Redis(host=host, port=port).set("kept", "across the migration")

    # Straight to `required` is refused: AWS makes it a two-step migration.
    with pytest.raises(ec.exceptions.InvalidParameterCombinationException):
        ec.modify_replication_group(
            ReplicationGroupId=gid, TransitEncryptionEnabled=True, TransitEncryptionMode="required", ApplyImmediately=True
        )

    def modify(**kwargs) -> dict:
        ec.modify_replication_group(ReplicationGroupId=gid, ApplyImmediately=True, **kwargs)
        ec.get_waiter("replication_group_available").wait(ReplicationGroupId=gid, WaiterConfig=FAST_WAITER)
        return ec.describe_replication_groups(ReplicationGroupId=gid)["ReplicationGroups"][0]

    g = modify(TransitEncryptionEnabled=True, TransitEncryptionMode="preferred")
    assert (g["TransitEncryptionEnabled"], g["TransitEncryptionMode"]) == (True, "preferred")
    tls = redis.Redis(host=host, port=port, ssl=True, ssl_ca_certs=ca_file)
    assert tls.get("kept") == b"across the migration"
    assert redis.Redis(host=host, port=port).get("kept") == b"across the migration"

    # Connections open under `preferred`: plaintext ones are dropped when `required` arrives
    # (through the primary endpoint and on a node directly); TLS ones stay.
    member = ec.describe_cache_clusters(CacheClusterId=g["MemberClusters"][0], ShowCacheNodeInfo=True)
    (node_host, node_port), = node_endpoints(member["CacheClusters"][0]).values()
    plain_endpoint = open_plaintext(host, port)
    plain_node = open_plaintext(node_host, node_port)
    kept_tls = redis.Redis(host=host, port=port, ssl=True, ssl_ca_certs=ca_file)
    kept_tls.ping()

    g = modify(TransitEncryptionMode="required")
    assert g["TransitEncryptionMode"] == "required"
    assert dropped(plain_endpoint) and dropped(plain_node)
    assert kept_tls.get("kept") == b"across the migration"
    assert redis.Redis(host=host, port=port, ssl=True, ssl_ca_certs=ca_file).get("kept") == b"across the migration"
    assert plaintext_refused(host, port)
    for member in g["MemberClusters"]:
        c = ec.describe_cache_clusters(CacheClusterId=member, ShowCacheNodeInfo=True)["CacheClusters"][0]
        assert c["TransitEncryptionMode"] == "required"
        (node_host, node_port), = node_endpoints(c).values()
        assert plaintext_refused(node_host, node_port)

    # Switching off goes back through `preferred`.
    with pytest.raises(ec.exceptions.InvalidParameterCombinationException):
        ec.modify_replication_group(ReplicationGroupId=gid, TransitEncryptionEnabled=False, ApplyImmediately=True)
    modify(TransitEncryptionMode="preferred")
    g = modify(TransitEncryptionEnabled=False)
    assert g["TransitEncryptionEnabled"] is False
    assert redis.Redis(host=host, port=port).get("kept") == b"across the migration"


def test_large_replies_arrive_whole_over_tls(ec, groups, uid, ca_file, resources):
    """Replies bigger than a TLS record and the socket buffer arrive whole (nothing stays
    buffered in the TLS session), on a node and through the primary endpoint."""
    group = create_group(ec, groups, uid("big"), NumCacheClusters=1)
    primary = group["NodeGroups"][0]["PrimaryEndpoint"]
    r = redis.Redis(host=primary["Address"], port=primary["Port"], ssl=True, ssl_ca_certs=ca_file, socket_timeout=20)
    value = bytes(range(256)) * (5 * 4096)  # 5 MiB
    r.set("big", value)
    assert r.get("big") == value
    pipe = r.pipeline(transaction=False)
    for i in range(2000):
        pipe.set(f"k{i}", str(i) * 50)
    pipe.execute()
    pipe = r.pipeline(transaction=False)
    for i in range(2000):
        pipe.get(f"k{i}")
    assert pipe.execute() == [(str(i) * 50).encode() for i in range(2000)]

    mc = create_memcached(ec, resources, uid("bigmc"), nodes=1, EngineVersion="1.6.22", TransitEncryptionEnabled=True)
    (host, port), = node_endpoints(mc).values()
    client = MemcacheClient((host, port), tls_context=ssl.create_default_context(cafile=ca_file), timeout=20)
    item = b"x" * (1024 * 1024 - 512)
    client.set_many({f"i{n}": item for n in range(4)})
    assert client.get_many([f"i{n}" for n in range(4)]) == {f"i{n}": item for n in range(4)}
    client.close()
