"""Memory limits end to end: a Redis node created through the API on a small node type evicts
according to its parameter group's `maxmemory-policy`, and refuses writes under `noeviction`
with Redis's OOM error — driven with boto3 and redis-py only (reference sections 5 and 7.1).

The node memory is made small the way an AWS user would: a custom parameter group that reserves
99 % of a cache.t3.micro (536870912 bytes), leaving a `maxmemory` of 1 % = 5368709 bytes.
"""

from __future__ import annotations

import socket

import pytest
import redis

from helpers import create_redis

T3_MICRO_BYTES = 536870912
RESERVED_PERCENT = 99
EXPECTED_MAXMEMORY = T3_MICRO_BYTES * (100 - RESERVED_PERCENT) // 100
VALUE = b"x" * 10_000  # 10 KB values: 2,000 of them are ~4x the node's memory
KEYS = 2_000


def _small_node(ec, resources, uid, policy: str) -> redis.Redis:
    pg = resources.parameter_group(ec, uid("pg"))
    ec.create_cache_parameter_group(CacheParameterGroupName=pg, CacheParameterGroupFamily="redis7", Description="small")
    ec.modify_cache_parameter_group(
        CacheParameterGroupName=pg,
        ParameterNameValues=[
            {"ParameterName": "reserved-memory-percent", "ParameterValue": str(RESERVED_PERCENT)},
            {"ParameterName": "maxmemory-policy", "ParameterValue": policy},
        ],
    )
    cluster = create_redis(ec, resources, uid("evict"), CacheParameterGroupName=pg)
    node = cluster["CacheNodes"][0]["Endpoint"]
    return redis.Redis(host=node["Address"], port=node["Port"], socket_timeout=30)


def _fill(r: redis.Redis, prefix: str, volatile: bool = False) -> None:
    pipe = r.pipeline(transaction=False)
    for i in range(KEYS):
        if volatile:
            pipe.set(f"{prefix}:{i}", VALUE, ex=3600 + i)
        else:
            pipe.set(f"{prefix}:{i}", VALUE)
        if i % 100 == 99:
            pipe.execute()
    pipe.execute()


@pytest.mark.parametrize("policy", ["allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-ttl"])
def test_small_node_evicts_by_policy_and_stays_within_maxmemory(ec, resources, uid, policy):
    r = _small_node(ec, resources, uid, policy)
    memory = r.info("memory")
    assert memory["maxmemory"] == EXPECTED_MAXMEMORY
    assert memory["maxmemory_policy"] == policy

    _fill(r, "k", volatile=policy.startswith("volatile"))

    memory = r.info("memory")
    stats = r.info("stats")
    assert stats["evicted_keys"] > 0, "writing 4x the node's memory must evict"
    assert memory["used_memory"] <= EXPECTED_MAXMEMORY, memory["used_memory"]
    held = r.dbsize()
    assert 0 < held < KEYS
    assert held + stats["evicted_keys"] == KEYS
    if policy in ("allkeys-lru", "volatile-ttl"):
        # The last write is the most recently used key and, under volatile-ttl, the one with the
        # longest TTL: both policies keep it.
        assert r.get(f"k:{KEYS - 1}") == VALUE
    r.close()


def test_noeviction_refuses_writes_with_redis_oom_error(ec, resources, uid):
    r = _small_node(ec, resources, uid, "noeviction")
    with pytest.raises(redis.exceptions.ResponseError):
        _fill(r, "k")
    # redis-py maps Redis's OOM error to its own class...
    with pytest.raises(redis.exceptions.OutOfMemoryError):
        r.set("one-more", VALUE)
    # ...and on the wire it is Redis's exact text.
    host, port = r.connection_pool.connection_kwargs["host"], r.connection_pool.connection_kwargs["port"]
    with socket.create_connection((host, port), timeout=30) as raw:
        raw.sendall(b"*3\r\n$3\r\nSET\r\n$3\r\nraw\r\n$5\r\nvalue\r\n")
        reply = b""
        while not reply.endswith(b"\r\n"):
            chunk = raw.recv(4096)
            assert chunk, "connection closed"
            reply += chunk
    assert reply == b"-OOM command not allowed when used memory > 'maxmemory'.\r\n"
    assert r.info("stats")["evicted_keys"] == 0
    assert r.info("memory")["used_memory"] <= EXPECTED_MAXMEMORY + len(VALUE) * 2
    # Reads and deletes still work on a full node, and free room for writes again.
    assert r.get("k:0") == VALUE
    assert r.delete("k:0", "k:1", "k:2") == 3
    assert r.set("after-delete", b"ok")
    r.close()


def test_volatile_lru_spares_keys_without_ttl(ec, resources, uid):
    r = _small_node(ec, resources, uid, "volatile-lru")
    r.set("persistent", b"keep me")
    _fill(r, "v", volatile=True)
    assert r.info("stats")["evicted_keys"] > 0
    assert r.get("persistent") == b"keep me"
    assert r.ttl("persistent") == -1
    r.close()
