"""Fault injection (`/_elasticache_local/faults`) walked through with real clients: redis-py
with retries across a crash of the primary (automatic failover; no WAIT-acknowledged write
lost; reconnect time measured), latency against client timeouts, memory pressure (OOM then
recovery), a replication partition (WAIT times out, master_link_status:down, then recovery),
connection drops, an AZ power interruption, bad bodies, automatic clearing, and the CLI.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import redis
from redis.backoff import ConstantBackoff, NoBackoff
from redis.retry import Retry

from helpers import FAST_WAITER, connection_closed_by_peer, wait_available

NODE_TYPE = "cache.t3.micro"
REPO_ROOT = Path(__file__).resolve().parents[2]


def api(endpoint_url: str, method: str, path: str = "", body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        f"{endpoint_url}/_elasticache_local/faults{path}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            text = r.read()
            return r.status, (json.loads(text) if text else {})
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def inject(endpoint_url: str, body: dict) -> str:
    status, answer = api(endpoint_url, "POST", body=body)
    assert status == 200, answer
    return answer["faultId"]


def clear(endpoint_url: str, fault_id: str) -> None:
    status, answer = api(endpoint_url, "DELETE", f"/{fault_id}")
    assert status == 204, answer


@pytest.fixture
def groups(make_client):
    created: list[str] = []
    yield created
    ec = make_client()
    for gid in created:
        try:
            ec.delete_replication_group(ReplicationGroupId=gid)
        except Exception:  # best effort: the test reports its own failures
            pass


def make_group(ec, groups, gid: str, **extra) -> dict:
    groups.append(gid)
    params = dict(
        ReplicationGroupId=gid,
        ReplicationGroupDescription=f"{gid} group",
        Engine="redis",
        CacheNodeType=NODE_TYPE,
        NumCacheClusters=2,
        AutomaticFailoverEnabled=True,
    )
    params.update(extra)
    params = {k: v for k, v in params.items() if v is not None}
    ec.create_replication_group(**params)
    ec.get_waiter("replication_group_available").wait(ReplicationGroupId=gid, WaiterConfig=FAST_WAITER)
    group = ec.describe_replication_groups(ReplicationGroupId=gid)["ReplicationGroups"][0]
    for m in group["MemberClusters"]:
        wait_available(ec, m)
    return group


def member(ec, cid: str) -> dict:
    return ec.describe_cache_clusters(CacheClusterId=cid, ShowCacheNodeInfo=True)["CacheClusters"][0]


def node_client(ec, cid: str, **kw) -> redis.Redis:
    """A client of one node that does not retry (redis-py retries by default), so a fault shows."""
    ep = member(ec, cid)["CacheNodes"][0]["Endpoint"]
    kw.setdefault("retry", Retry(NoBackoff(), 0))
    return redis.Redis(host=ep["Address"], port=ep["Port"], decode_responses=True, **kw)


def primary_of(ec, gid: str) -> str:
    ng = ec.describe_replication_groups(ReplicationGroupId=gid)["ReplicationGroups"][0]["NodeGroups"][0]
    return next(m["CacheClusterId"] for m in ng["NodeGroupMembers"] if m["CurrentRole"] == "primary")


def until(fn, timeout: float = 15.0, pause: float = 0.05):
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        try:
            value = fn()
        except (redis.ConnectionError, redis.TimeoutError):
            value = None
        if value:
            return value
        time.sleep(pause)
    return value


def messages(ec, source: str) -> list[str]:
    events = ec.describe_events(SourceIdentifier=source, Duration=60)["Events"]
    return [e["Message"] for e in events]


def test_crash_of_the_primary_fails_over_and_the_old_primary_returns_as_replica(
    ec, groups, uid, endpoint_url
):
    gid = uid("crash")
    group = make_group(ec, groups, gid)
    old_primary = primary_of(ec, gid)
    ep = group["NodeGroups"][0]["PrimaryEndpoint"]
    client = redis.Redis(
        host=ep["Address"],
        port=ep["Port"],
        decode_responses=True,
        socket_timeout=2,
        retry=Retry(ConstantBackoff(0.05), 200),
        retry_on_error=[redis.ConnectionError, redis.TimeoutError],
    )
    acknowledged = []
    for i in range(200):
        client.set(f"k{i}", i)
        if client.wait(1, 1000) >= 1:
            acknowledged.append(i)
    assert len(acknowledged) == 200

    crashed = time.monotonic()
    fault = inject(endpoint_url, {"type": "crash", "target": {"cacheClusterId": old_primary}})
    print(f"\ncrash of the primary: failover done when the API answered, {time.monotonic() - crashed:.3f} s")
    new_primary = until(lambda: (p := primary_of(ec, gid)) != old_primary and p)
    assert new_primary and new_primary != old_primary
    # Through the same primary endpoint, with retries: writes work again on the new primary.
    client.set("after", "crash")
    reconnect = time.monotonic() - crashed
    print(f"crash of the primary: writes through the primary endpoint again after {reconnect:.3f} s")
    assert reconnect < 15
    for i in acknowledged:
        assert client.get(f"k{i}") == str(i), f"acknowledged write k{i} lost"
    node = member(ec, old_primary)["CacheNodes"][0]
    assert node["CacheNodeStatus"] == "rebooting"
    events = messages(ec, gid)
    assert any("failover started" in m.lower() for m in events), events
    assert any(f"Failover from primary node {old_primary}" in m for m in events), events
    status, health = api(endpoint_url, "GET")
    assert any(f["faultId"] == fault for f in health["faults"])
    # The status page lists it too, in its JSON and in the page's faults table.
    with urllib.request.urlopen(f"{endpoint_url}/_elasticache_local/status.json", timeout=10) as r:
        assert any(f["faultId"] == fault for f in json.loads(r.read())["faults"])
    with urllib.request.urlopen(f"{endpoint_url}/", timeout=10) as r:
        page = r.read().decode()
    assert "Injected faults" in page and fault in page

    clear(endpoint_url, fault)
    old = node_client(ec, old_primary, socket_timeout=2)
    info = until(lambda: (i := old.info("replication"))["role"] == "slave" and i["master_link_status"] == "up" and i)
    assert info, "old primary did not return as a replica"
    assert until(lambda: old.get("after") == "crash")
    assert member(ec, old_primary)["CacheNodes"][0]["CacheNodeStatus"] == "available"
    assert any("Finished recovery" in m for m in messages(ec, old_primary))


def test_crash_without_failover_leaves_the_node_down_until_cleared(ec, resources, uid, endpoint_url):
    cid = resources.cluster(ec, uid("solo"))
    ec.create_cache_cluster(CacheClusterId=cid, Engine="redis", CacheNodeType=NODE_TYPE, NumCacheNodes=1)
    wait_available(ec, cid)
    c = node_client(ec, cid, socket_timeout=1)
    c.set("k", "v")
    fault = inject(endpoint_url, {"type": "crash", "target": {"cacheClusterId": cid}, "durationSeconds": 3})
    with pytest.raises(redis.ConnectionError):
        c.ping()
    assert member(ec, cid)["CacheNodes"][0]["CacheNodeStatus"] == "rebooting"
    # durationSeconds clears it by itself; the node comes back empty.
    assert until(lambda: c.ping(), timeout=10)
    assert c.get("k") is None
    assert until(lambda: api(endpoint_url, "GET")[1]["faults"] == [] or None, timeout=5) is not None
    assert api(endpoint_url, "DELETE", f"/{fault}")[0] == 404


def test_latency_makes_a_short_timeout_fail_and_a_long_one_succeed(ec, resources, uid, endpoint_url):
    cid = resources.cluster(ec, uid("slow"))
    ec.create_cache_cluster(CacheClusterId=cid, Engine="redis", CacheNodeType=NODE_TYPE, NumCacheNodes=1)
    wait_available(ec, cid)
    impatient = node_client(ec, cid, socket_timeout=0.1)
    patient = node_client(ec, cid, socket_timeout=1)
    impatient.ping()
    patient.ping()
    fault = inject(
        endpoint_url,
        {"type": "latency", "target": {"cacheClusterId": cid, "cacheNodeId": "0001"}, "delayMs": 300, "jitterMs": 50},
    )
    with pytest.raises(redis.TimeoutError):
        impatient.ping()
    started = time.monotonic()
    assert patient.ping()
    took = time.monotonic() - started
    assert 0.2 <= took < 1.0, took
    clear(endpoint_url, fault)
    fresh = node_client(ec, cid, socket_timeout=0.1)
    assert fresh.ping()


def test_memory_pressure_gives_oom_then_clears(ec, resources, uid, endpoint_url):
    cid = resources.cluster(ec, uid("mem"))
    ec.create_cache_cluster(CacheClusterId=cid, Engine="redis", CacheNodeType=NODE_TYPE, NumCacheNodes=1)
    wait_available(ec, cid)
    c = node_client(ec, cid, socket_timeout=5)
    before = c.config_get("maxmemory")["maxmemory"]
    c.set("seed", "x" * 1000)
    c.config_set("maxmemory-policy", "noeviction")
    limit = c.info("memory")["used_memory"] + 20_000
    fault = inject(endpoint_url, {"type": "memory", "target": {"cacheClusterId": cid}, "maxmemoryBytes": limit})
    assert c.config_get("maxmemory")["maxmemory"] == str(limit)
    # As in Redis, a write is refused once used memory is above the limit (this one takes it there).
    c.set("over", "f" * 50_000)
    with pytest.raises(redis.exceptions.OutOfMemoryError):
        c.set("more", "y" * 50_000)
    # Under an evicting policy the same pressure evicts instead of refusing.
    c.config_set("maxmemory-policy", "allkeys-lru")
    evicted = c.info("stats")["evicted_keys"]
    for i in range(20):
        c.set(f"small{i}", "z" * 5000)
    assert c.info("stats")["evicted_keys"] > evicted
    assert c.dbsize() < 22
    assert c.info("memory")["used_memory"] <= limit + 10_000
    c.config_set("maxmemory-policy", "noeviction")
    clear(endpoint_url, fault)
    assert c.config_get("maxmemory")["maxmemory"] == before
    assert c.set("more", "y" * 50_000)


def test_replication_partition_stalls_wait_then_recovers(ec, groups, uid, endpoint_url):
    gid = uid("part")
    make_group(ec, groups, gid)
    primary = primary_of(ec, gid)
    replica = next(m for m in (f"{gid}-001", f"{gid}-002") if m != primary)
    p = node_client(ec, primary, socket_timeout=5)
    r = node_client(ec, replica, socket_timeout=5)
    p.set("a", 1)
    assert p.wait(1, 2000) == 1
    fault = inject(endpoint_url, {"type": "partition", "direction": "replication", "target": {"cacheClusterId": replica}})
    assert r.info("replication")["master_link_status"] == "down"
    p.set("b", 2)
    started = time.monotonic()
    assert p.wait(1, 300) == 0
    assert time.monotonic() - started >= 0.25
    assert r.get("b") is None
    assert r.get("a") == "1"
    # The replica falls behind: the primary's offset moves on, the replica's does not.
    lag = p.info("replication")["master_repl_offset"] - r.info("replication")["slave_repl_offset"]
    p.set("c", 3)
    assert p.info("replication")["master_repl_offset"] - r.info("replication")["slave_repl_offset"] > lag > 0
    clear(endpoint_url, fault)
    assert until(lambda: r.info("replication")["master_link_status"] == "up")
    assert until(lambda: r.get("b") == "2")
    assert p.wait(1, 2000) == 1


def test_clients_partition_refuses_then_lets_clients_back(ec, resources, uid, endpoint_url):
    cid = resources.cluster(ec, uid("cut"))
    ec.create_cache_cluster(CacheClusterId=cid, Engine="redis", CacheNodeType=NODE_TYPE, NumCacheNodes=1)
    wait_available(ec, cid)
    c = node_client(ec, cid, socket_timeout=1)
    c.set("k", "v")
    fault = inject(endpoint_url, {"type": "partition", "direction": "clients", "target": {"cacheClusterId": cid}})
    with pytest.raises(redis.ConnectionError):
        c.ping()
    with pytest.raises(redis.ConnectionError):
        node_client(ec, cid, socket_timeout=1).ping()
    clear(endpoint_url, fault)
    assert c.get("k") == "v", "the node kept running (and its data) while cut from clients"


def test_connection_drop_resets_open_connections_and_every_nth(ec, resources, uid, endpoint_url):
    cid = resources.cluster(ec, uid("drop"))
    ec.create_cache_cluster(CacheClusterId=cid, Engine="redis", CacheNodeType=NODE_TYPE, NumCacheNodes=1)
    wait_available(ec, cid)
    ep = member(ec, cid)["CacheNodes"][0]["Endpoint"]
    held = []
    for _ in range(3):
        sock = socket.create_connection((ep["Address"], ep["Port"]), timeout=2)
        sock.sendall(b"PING\r\n")
        assert sock.recv(16) == b"+PONG\r\n"
        held.append(sock)
    pooled = node_client(ec, cid, socket_timeout=1, retry=Retry(ConstantBackoff(0.01), 3))
    pooled.ping()
    fault = inject(endpoint_url, {"type": "connection-drop", "target": {"cacheClusterId": cid}})
    for sock in held:
        assert connection_closed_by_peer(sock), "open connection not reset"
        sock.close()
    # A client with reconnect logic (redis-py's pool) gets a fresh connection and carries on.
    assert pooled.ping()
    clear(endpoint_url, fault)
    # everyNth: 3 -> of 9 fresh connections, 3 are reset.
    fault = inject(endpoint_url, {"type": "connection-drop", "everyNth": 3, "target": {"cacheClusterId": cid}})
    failures = 0
    for _ in range(9):
        try:
            redis.Redis(
                host=ep["Address"], port=ep["Port"], socket_timeout=1, retry=Retry(NoBackoff(), 0)
            ).ping()
        except redis.ConnectionError:
            failures += 1
    assert failures == 3
    clear(endpoint_url, fault)


def test_az_power_interruption_fails_primaries_over_to_other_zones(ec, groups, uid, endpoint_url):
    gid = uid("azp")
    make_group(
        ec,
        groups,
        gid,
        NumCacheClusters=2,
        MultiAZEnabled=True,
        PreferredCacheClusterAZs=["us-east-1d", "us-east-1e"],
    )
    primary = primary_of(ec, gid)
    zone = member(ec, primary)["PreferredAvailabilityZone"]
    ep = ec.describe_replication_groups(ReplicationGroupId=gid)["ReplicationGroups"][0]["NodeGroups"][0][
        "PrimaryEndpoint"
    ]
    client = redis.Redis(
        host=ep["Address"],
        port=ep["Port"],
        decode_responses=True,
        socket_timeout=2,
        retry=Retry(ConstantBackoff(0.05), 200),
        retry_on_error=[redis.ConnectionError, redis.TimeoutError],
    )
    client.set("before", 1)
    assert client.wait(1, 2000) == 1
    started = time.monotonic()
    fault = inject(endpoint_url, {"type": "az-power", "target": {"availabilityZone": zone}, "durationSeconds": 30})
    print(f"\naz-power: failover done when the API answered, {time.monotonic() - started:.3f} s")
    assert until(lambda: primary_of(ec, gid) != primary)
    client.set("during", 1)
    print(f"az-power: writes through the primary endpoint again after {time.monotonic() - started:.3f} s")
    assert client.get("before") == "1"
    listed = api(endpoint_url, "GET")[1]["faults"]
    mine = next(f for f in listed if f["faultId"] == fault)
    assert {n["availabilityZone"] for n in mine["nodes"]} == {zone}
    assert mine["expiresAt"]
    clear(endpoint_url, fault)
    old = node_client(ec, primary, socket_timeout=2)
    assert until(lambda: old.info("replication")["master_link_status"] == "up")


@pytest.mark.parametrize(
    "body,field",
    [
        ({"target": {"cacheClusterId": "x"}}, "type"),
        ({"type": "meteor", "target": {"cacheClusterId": "x"}}, "type"),
        ({"type": "crash"}, "target"),
        ({"type": "crash", "target": {"cacheClusterId": "x", "replicationGroupId": "y"}}, "target"),
        ({"type": "crash", "target": {"cacheNodeId": "0001"}}, "target.cacheNodeId"),
        ({"type": "crash", "target": {"cacheClusterId": "no-such-cluster"}}, "target.cacheClusterId"),
        ({"type": "latency", "target": {"cacheClusterId": "x"}}, "delayMs"),
        ({"type": "memory", "target": {"cacheClusterId": "x"}, "maxmemoryBytes": "lots"}, "maxmemoryBytes"),
        ({"type": "partition", "target": {"cacheClusterId": "x"}, "direction": "sideways"}, "direction"),
        ({"type": "connection-drop", "target": {"cacheClusterId": "x"}, "everyNth": 0}, "everyNth"),
        ({"type": "crash", "target": {"cacheClusterId": "x"}, "durationSeconds": "soon"}, "durationSeconds"),
        ({"type": "az-power", "target": {"cacheClusterId": "x"}}, "target"),
        ({"type": "crash", "target": {"cacheClusterId": "x", "accountId": "me"}}, "target.accountId"),
    ],
)
def test_bad_bodies_get_400_naming_the_field(endpoint_url, body, field):
    status, answer = api(endpoint_url, "POST", body=body)
    assert status == 400, answer
    assert answer["message"].startswith(f"{field}:"), answer


def test_unknown_fault_is_404(endpoint_url):
    status, answer = api(endpoint_url, "DELETE", "/fault-nope")
    assert status == 404 and answer["message"].startswith("faultId:")


def test_cli_creates_lists_and_clears(ec, resources, uid, endpoint_url):
    binary = os.environ.get("ECL_BINARY") or str(REPO_ROOT / "target" / "debug" / "elasticache-local")
    cid = resources.cluster(ec, uid("cli"))
    ec.create_cache_cluster(CacheClusterId=cid, Engine="redis", CacheNodeType=NODE_TYPE, NumCacheNodes=1)
    wait_available(ec, cid)

    def cli(*args: str) -> dict:
        out = subprocess.run(
            [binary, "fault", "--endpoint-url", endpoint_url, *args], capture_output=True, text=True, timeout=30
        )
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    fid = cli("create", "--type", "latency", "--cache-cluster-id", cid, "--delay-ms", "50")["faultId"]
    listed = cli("list")["faults"]
    assert any(f["faultId"] == fid and f["delayMs"] == 50 for f in listed)
    cli("clear", fid)
    assert all(f["faultId"] != fid for f in cli("list")["faults"])
    bad = subprocess.run(
        [binary, "fault", "--endpoint-url", endpoint_url, "create", "--type", "nope", "--cache-cluster-id", cid],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert bad.returncode != 0 and "type:" in bad.stderr


def test_redis_cluster_rides_out_an_az_power_interruption_of_a_three_shard_group(ec, groups, uid, endpoint_url):
    from redis.cluster import RedisCluster

    gid = uid("azc")
    group = make_group(
        ec,
        groups,
        gid,
        NumCacheClusters=None,
        NumNodeGroups=3,
        ReplicasPerNodeGroup=1,
        MultiAZEnabled=True,
        NodeGroupConfiguration=[
            {"PrimaryAvailabilityZone": "us-east-1f", "ReplicaAvailabilityZones": ["us-east-1b"]} for _ in range(3)
        ],
    )
    cfg = group["ConfigurationEndpoint"]
    primaries = {ng["NodeGroupId"]: ng_primary(ec, ng) for ng in group["NodeGroups"]}
    assert {member(ec, p)["PreferredAvailabilityZone"] for p in primaries.values()} == {"us-east-1f"}
    rc = RedisCluster(
        host=cfg["Address"],
        port=cfg["Port"],
        decode_responses=True,
        socket_timeout=2,
        retry=Retry(ConstantBackoff(0.05), 20),
    )
    for i in range(300):
        rc.set(f"user:{i}", i)
    replicas = [
        node_client(ec, m["CacheClusterId"])
        for ng in group["NodeGroups"]
        for m in ng["NodeGroupMembers"]
        if m["CacheClusterId"] != primaries[ng["NodeGroupId"]]
    ]
    assert until(lambda: sum(r.dbsize() for r in replicas) == 300)

    started = time.monotonic()
    fault = inject(endpoint_url, {"type": "az-power", "target": {"availabilityZone": "us-east-1f"}})
    rc.set("after", "power-cut")
    print(f"\naz-power on 3 shards: RedisCluster writes again after {time.monotonic() - started:.3f} s")
    after = ec.describe_replication_groups(ReplicationGroupId=gid)["ReplicationGroups"][0]
    for ng in after["NodeGroups"]:
        assert ng_primary(ec, ng) != primaries[ng["NodeGroupId"]]
    assert [rc.get(f"user:{i}") for i in range(300)] == [str(i) for i in range(300)]
    assert sum(m.count("Failover from primary node") for m in messages(ec, gid)) == 3
    clear(endpoint_url, fault)
    for old in primaries.values():
        c = node_client(ec, old, socket_timeout=2)
        assert until(lambda c=c: c.info("replication")["master_link_status"] == "up")


def ng_primary(ec, ng: dict) -> str:
    """The shard's primary, as its nodes say (cluster mode groups report no CurrentRole)."""
    clients = {m["CacheClusterId"]: node_client(ec, m["CacheClusterId"], socket_timeout=2) for m in ng["NodeGroupMembers"]}
    for cid, c in clients.items():
        try:
            if c.info("replication")["role"] == "master":
                return cid
        except redis.ConnectionError:
            continue
    raise AssertionError(f"no primary in {ng}")


def test_pymemcache_hash_client_carries_on_across_a_node_crash(ec, resources, uid, endpoint_url):
    from pymemcache.client.hash import HashClient

    from helpers import config_get_cluster, create_memcached

    cid = uid("mcc")
    cluster = create_memcached(ec, resources, cid, nodes=3)
    cfg = cluster["ConfigurationEndpoint"]
    conf = config_get_cluster(cfg["Address"], cfg["Port"])
    nodes = sorted((ip, port) for _host, ip, port in conf.nodes)
    client = HashClient(nodes, connect_timeout=1, timeout=1, retry_attempts=0, dead_timeout=60, use_pooling=False)
    for i in range(100):
        assert client.set(f"k{i}", i)
    fault = inject(endpoint_url, {"type": "crash", "target": {"cacheClusterId": cid, "cacheNodeId": "0002"}})
    assert member(ec, cid)["CacheNodes"][1]["CacheNodeStatus"] == "rebooting"
    # Auto discovery still lists the node (ElastiCache replaces a failed node on the same
    # endpoint); the client marks it dead and rehashes its keys onto the others.
    assert len(config_get_cluster(cfg["Address"], cfg["Port"]).nodes) == 3
    stored = 0
    for i in range(100):
        try:
            stored += bool(client.set(f"n{i}", i))
        except Exception:  # the calls that discover the dead node fail once
            pass
    assert stored >= 95
    assert all(client.get(f"n{i}") in (None, str(i).encode()) for i in range(100))
    clear(endpoint_url, fault)
    assert member(ec, cid)["CacheNodes"][1]["CacheNodeStatus"] == "available"
