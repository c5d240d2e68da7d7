"""Modifications that restart nodes keep what they hold, as on ElastiCache: a node type change
(online scaling) and an engine upgrade keep a Redis/Valkey node's keyspace and its endpoint, the
status goes `modifying` -> `available`, and the engine reports the new version afterwards; AUTH
token changes (SET / ROTATE) reach the running nodes with the data in place. A Memcached node
type change keeps the node endpoints but, as AWS documents ("the Memcached engine does not
persist data"), the replaced nodes start empty.
"""

from __future__ import annotations

import urllib.request

import pytest
import redis
from pymemcache.client.base import Client as MemcacheClient

from helpers import (
    create_memcached,
    create_redis,
    delete_groups,
    describe_cluster,
    node_endpoints,
    wait_available,
    wait_group,
)

TOKEN_1 = "first-token-0123456789"
TOKEN_2 = "second-token-0123456789"


def _redis(host: str, port: int, **kw) -> redis.Redis:
    return redis.Redis(host=host, port=port, socket_timeout=10, decode_responses=True, **kw)


def _fill(r: redis.Redis) -> None:
    """One key of each type, one with a TTL, in two databases."""
    r.set("s", "string-value")
    r.set("ttl", "expires-later", ex=3600)
    r.hset("h", mapping={"a": "1", "b": "2"})
    r.rpush("l", "x", "y", "z")
    r.sadd("set", "m1", "m2")
    r.zadd("z", {"one": 1.0, "two": 2.0})
    r.execute_command("SELECT", "3")
    r.set("in-db3", "three")
    r.execute_command("SELECT", "0")


def _assert_filled(r: redis.Redis) -> None:
    assert r.get("s") == "string-value"
    assert r.get("ttl") == "expires-later"
    assert 3000 < r.ttl("ttl") <= 3600, "the TTL travels with the key"
    assert r.hgetall("h") == {"a": "1", "b": "2"}
    assert r.lrange("l", 0, -1) == ["x", "y", "z"]
    assert r.smembers("set") == {"m1", "m2"}
    assert r.zrange("z", 0, -1, withscores=True) == [("one", 1.0), ("two", 2.0)]
    assert r.dbsize() == 6
    r.execute_command("SELECT", "3")
    assert r.get("in-db3") == "three"
    r.execute_command("SELECT", "0")


def _node(cluster: dict) -> tuple[str, int]:
    return node_endpoints(cluster)["0001"]


def _modify(ec, cid: str, **params) -> dict:
    answer = ec.modify_cache_cluster(CacheClusterId=cid, ApplyImmediately=True, **params)["CacheCluster"]
    assert answer["CacheClusterStatus"] == "modifying"
    return answer


def test_node_type_change_keeps_keyspace_and_endpoint(ec, resources, uid):
    cid = uid("scale")
    before = create_redis(ec, resources, cid)
    host, port = _node(before)
    r = _redis(host, port)
    _fill(r)
    maxmemory_before = r.info("memory")["maxmemory"]

    answer = _modify(ec, cid, CacheNodeType="cache.t3.small")
    assert answer["PendingModifiedValues"]["CacheNodeType"] == "cache.t3.small"
    after = wait_available(ec, cid)
    assert after["CacheNodeType"] == "cache.t3.small"
    assert after["PendingModifiedValues"] == {}
    assert after["CacheNodes"][0]["CacheNodeStatus"] == "available"
    assert _node(after) == (host, port), "the node keeps its address and port"
    r = _redis(host, port)
    _assert_filled(r)
    assert r.info("memory")["maxmemory"] > maxmemory_before, "the node runs with the larger type's memory"
    # The restarted node is a working node: it takes writes.
    assert r.set("after", "1") is True


def test_engine_upgrade_keeps_keyspace_and_reports_the_new_version(ec, resources, uid):
    cid = uid("upg")
    before = create_redis(ec, resources, cid, EngineVersion="6.2")
    host, port = _node(before)
    r = _redis(host, port)
    assert r.info("server")["redis_version"] == "6.2.6"
    _fill(r)

    answer = _modify(ec, cid, EngineVersion="7.0")
    assert answer["PendingModifiedValues"]["EngineVersion"] == "7.0.7"
    after = wait_available(ec, cid)
    assert after["EngineVersion"] == "7.0.7"
    assert after["CacheParameterGroup"]["CacheParameterGroupName"] == "default.redis7"
    assert _node(after) == (host, port)
    r = _redis(host, port)
    assert r.info("server")["redis_version"] == "7.0.7"
    _assert_filled(r)

    # Redis OSS to Valkey, in place, keeps the data too.
    _modify(ec, cid, Engine="valkey", EngineVersion="7.2")
    after = wait_available(ec, cid)
    assert (after["Engine"], after["EngineVersion"]) == ("valkey", "7.2.6")
    assert _node(after) == (host, port)
    r = _redis(host, port)
    assert r.info("server")["valkey_version"] == "7.2.6"
    _assert_filled(r)


def test_a_client_connected_during_the_change_reconnects_to_the_same_data(ec, resources, uid):
    cid = uid("held")
    before = create_redis(ec, resources, cid)
    host, port = _node(before)
    held = _redis(host, port)
    held.set("k", "v")
    _modify(ec, cid, CacheNodeType="cache.t3.medium")
    wait_available(ec, cid)
    # redis-py retries a dropped connection once; the key is there on the new engine.
    assert held.get("k") == "v"


@pytest.fixture(scope="module")
def ca_file(endpoint_url, tmp_path_factory) -> str:
    pem = urllib.request.urlopen(f"{endpoint_url}/_elasticache_local/ca.pem", timeout=10).read()
    path = tmp_path_factory.mktemp("modify-tls") / "ca.pem"
    path.write_bytes(pem)
    return str(path)


def _auth_refused(host: str, port: int, ca_file: str, password: str) -> bool:
    try:
        _redis(host, port, ssl=True, ssl_ca_certs=ca_file, password=password).ping()
    except redis.AuthenticationError:
        return True
    return False


def test_standalone_auth_rotate_then_set_keeps_data(ec, resources, uid, ca_file):
    cid = uid("auth")
    before = create_redis(ec, resources, cid, TransitEncryptionEnabled=True, AuthToken=TOKEN_1)
    host, port = _node(before)
    tls = {"ssl": True, "ssl_ca_certs": ca_file}
    _fill(_redis(host, port, password=TOKEN_1, **tls))

    answer = _modify(ec, cid, AuthToken=TOKEN_2, AuthTokenUpdateStrategy="ROTATE")
    assert answer["PendingModifiedValues"]["AuthTokenStatus"] == "ROTATING"
    after = wait_available(ec, cid)
    assert _node(after) == (host, port)
    # While rotating, both tokens are accepted and the data is there.
    _assert_filled(_redis(host, port, password=TOKEN_1, **tls))
    _assert_filled(_redis(host, port, password=TOKEN_2, **tls))

    answer = _modify(ec, cid, AuthToken=TOKEN_2, AuthTokenUpdateStrategy="SET")
    assert answer["PendingModifiedValues"]["AuthTokenStatus"] == "SETTING"
    wait_available(ec, cid)
    assert _auth_refused(host, port, ca_file, TOKEN_1), "after SET only the new token is accepted"
    _assert_filled(_redis(host, port, password=TOKEN_2, **tls))


def _create_group(ec, gid: str, **extra) -> dict:
    params = {
        "ReplicationGroupId": gid,
        "ReplicationGroupDescription": "modify keeps data",
        "CacheNodeType": "cache.t3.micro",
        "Engine": "redis",
        "NumCacheClusters": 1,
    }
    params.update(extra)
    ec.create_replication_group(**params)
    return wait_group(ec, gid)


@pytest.fixture
def groups(ec):
    created: list[str] = []
    yield created
    delete_groups(ec, created)


def _primary(rg: dict) -> tuple[str, int]:
    ep = rg["NodeGroups"][0]["PrimaryEndpoint"]
    return ep["Address"], ep["Port"]


def _modify_group(ec, gid: str, **params) -> dict:
    answer = ec.modify_replication_group(ReplicationGroupId=gid, ApplyImmediately=True, **params)
    assert answer["ReplicationGroup"]["Status"] == "modifying"
    return wait_group(ec, gid)


@pytest.mark.parametrize("replicas", [0, 1])
def test_group_node_type_change_and_upgrade_keep_data(ec, groups, uid, replicas):
    gid = uid("rgscale")
    groups.append(gid)
    rg = _create_group(
        ec, gid, NumCacheClusters=1 + replicas, EngineVersion="6.2", AutomaticFailoverEnabled=replicas > 0
    )
    primary = _primary(rg)
    members = {m["CacheClusterId"]: m["ReadEndpoint"] for m in rg["NodeGroups"][0]["NodeGroupMembers"]}
    _fill(_redis(*primary))

    rg = _modify_group(ec, gid, CacheNodeType="cache.t3.small")
    assert rg["CacheNodeType"] == "cache.t3.small"
    assert _primary(rg) == primary, "the primary endpoint does not move"
    after = {m["CacheClusterId"]: m["ReadEndpoint"] for m in rg["NodeGroups"][0]["NodeGroupMembers"]}
    assert after == members, "every member keeps its address and port"
    _assert_filled(_redis(*primary))

    rg = _modify_group(ec, gid, EngineVersion="7.0")
    assert _primary(rg) == primary
    r = _redis(*primary)
    assert r.info("server")["redis_version"] == "7.0.7"
    _assert_filled(r)
    for cid in members:
        c = describe_cluster(ec, cid)
        assert (c["EngineVersion"], c["CacheNodeType"], c["CacheClusterStatus"]) == ("7.0.7", "cache.t3.small", "available")
        host, port = _node(c)
        node = _redis(host, port)
        assert node.info("server")["redis_version"] == "7.0.7"
    if replicas:
        # The replica follows the primary again and holds the same keyspace.
        replica_id = next(m["CacheClusterId"] for m in rg["NodeGroups"][0]["NodeGroupMembers"] if m["CurrentRole"] == "replica")
        replica = _redis(*_node(describe_cluster(ec, replica_id)))
        assert replica.info("replication")["role"] == "slave"
        assert replica.get("s") == "string-value"


def test_group_auth_rotate_then_set_keeps_data(ec, groups, uid, ca_file):
    gid = uid("rgauth")
    groups.append(gid)
    rg = _create_group(
        ec, gid, NumCacheClusters=2, AutomaticFailoverEnabled=True, TransitEncryptionEnabled=True, AuthToken=TOKEN_1
    )
    host, port = _primary(rg)
    tls = {"ssl": True, "ssl_ca_certs": ca_file}
    _fill(_redis(host, port, password=TOKEN_1, **tls))

    rg = _modify_group(ec, gid, AuthToken=TOKEN_2, AuthTokenUpdateStrategy="ROTATE")
    assert _primary(rg) == (host, port)
    _assert_filled(_redis(host, port, password=TOKEN_1, **tls))
    _assert_filled(_redis(host, port, password=TOKEN_2, **tls))

    rg = _modify_group(ec, gid, AuthToken=TOKEN_2, AuthTokenUpdateStrategy="SET")
    assert _auth_refused(host, port, ca_file, TOKEN_1)
    _assert_filled(_redis(host, port, password=TOKEN_2, **tls))


def test_memcached_node_type_change_keeps_endpoints_and_starts_empty(ec, resources, uid):
    cid = uid("mcscale")
    before = create_memcached(ec, resources, cid, nodes=2)
    endpoints = node_endpoints(before)
    limits = {}
    for node, (host, port) in endpoints.items():
        client = MemcacheClient((host, port), timeout=10)
        client.set("k", "v", noreply=False)
        limits[node] = int(client.stats()[b"limit_maxbytes"])

    _modify(ec, cid, CacheNodeType="cache.t3.small")
    after = wait_available(ec, cid)
    assert after["CacheNodeType"] == "cache.t3.small"
    assert node_endpoints(after) == endpoints, "the nodes keep their addresses (auto discovery lists the same)"
    for node, (host, port) in endpoints.items():
        client = MemcacheClient((host, port), timeout=10)
        # AWS: "the Memcached engine does not persist data" -- a replaced node starts empty.
        assert client.get("k") is None
        assert int(client.stats()[b"limit_maxbytes"]) > limits[node], "the node runs with the larger type's memory"
        assert client.set("k2", "v", noreply=False) is True
