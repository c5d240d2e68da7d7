"""Valkey 8 additions on nodes created through the API, driven by redis-py: a Valkey 8.1 node
reports its CustomerAvailabilityZone in HELLO and has COMMANDLOG and SCRIPT SHOW; a Valkey 8.0
node has SCRIPT SHOW and XREAD's `+` ID but neither COMMANDLOG nor the zone; a Redis 7.0 node
has none of them.
"""

from __future__ import annotations

import pytest
import redis

from helpers import create_redis, node_endpoints


def _node(ec, resources, cid: str, engine: str, version: str, zone: str | None = None):
    extra = {"Engine": engine, "EngineVersion": version}
    if zone:
        extra["PreferredAvailabilityZone"] = zone
    cluster = create_redis(ec, resources, cid, **extra)
    (host, port), = node_endpoints(cluster).values()
    return cluster, redis.Redis(host=host, port=port, socket_timeout=10, decode_responses=True)


def _hello(r: redis.Redis) -> dict:
    reply = r.execute_command("HELLO")  # no protocol change
    if isinstance(reply, dict):
        return reply
    return dict(zip(reply[::2], reply[1::2]))


def test_valkey_8_1_reports_its_zone_and_keeps_command_logs(ec, resources, uid):
    cluster, r = _node(ec, resources, uid("vk81"), "valkey", "8.1", zone="us-east-1c")
    zone = cluster["CacheNodes"][0]["CustomerAvailabilityZone"]
    assert zone == "us-east-1c"
    hello = _hello(r)
    assert hello["server"] == "valkey" and hello["version"] == "8.1.1"
    assert hello["availability_zone"] == zone
    sha = r.script_load("return ARGV[1]")
    assert r.execute_command("SCRIPT", "SHOW", sha) == "return ARGV[1]"
    r.set("big", "x" * ((1 << 20) + 1))
    assert r.execute_command("COMMANDLOG", "LEN", "large-request") == 1
    entry = r.execute_command("COMMANDLOG", "GET", "1", "large-request")[0]
    assert entry[3][:2] == ["SET", "big"] and entry[2] > (1 << 20)
    assert r.execute_command("COMMANDLOG", "RESET", "large-request") == "OK"
    assert r.execute_command("COMMANDLOG", "LEN", "large-request") == 0


def test_valkey_8_0_has_the_8_0_additions_only(ec, resources, uid):
    _, r = _node(ec, resources, uid("vk80"), "valkey", "8.0", zone="us-east-1b")
    assert "availability_zone" not in _hello(r)
    sha = r.script_load("return 1")
    assert r.execute_command("SCRIPT", "SHOW", sha) == "return 1"
    assert r.execute_command("CLIENT", "CAPA", "redirect") == "OK"
    r.xadd("s", {"f": "a"}, id="1-0")
    r.xadd("s", {"f": "b"}, id="2-0")
    assert r.xread({"s": "+"}) == [["s", [("2-0", {"f": "b"})]]]
    with pytest.raises(redis.ResponseError, match="unknown command 'COMMANDLOG'"):
        r.execute_command("COMMANDLOG", "LEN", "slow")


def test_redis_7_0_refuses_them(ec, resources, uid):
    _, r = _node(ec, resources, uid("r70"), "redis", "7.0")
    assert "availability_zone" not in _hello(r)
    with pytest.raises(redis.ResponseError, match="unknown subcommand 'SHOW'"):
        r.execute_command("SCRIPT", "SHOW", "0" * 40)
    with pytest.raises(redis.ResponseError, match="unknown subcommand 'CAPA'"):
        r.execute_command("CLIENT", "CAPA", "redirect")
    r.xadd("s", {"f": "a"}, id="1-0")
    with pytest.raises(redis.ResponseError, match="Invalid stream ID"):
        r.xread({"s": "+"})
