"""Persistence across restarts (``--data-dir``): every resource and every Redis node's data
survive a SIGTERM and a new start, on the same endpoints; a corrupt, truncated or newer state
file is refused; without a data directory nothing is kept.

These tests start their own emulator processes (the session's emulator has no data dir), each
with its own block of loopback addresses or ports, stop them with SIGTERM and start them again.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import boto3
import pytest
import redis
from botocore.config import Config
from pymemcache.client.base import Client as MemcacheClient
from redis.cluster import RedisCluster

import helpers
from conftest import DEFAULT_ACCOUNT, DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY, _binary, _free_port, _wait_healthy
from helpers import FAST_WAITER, aws_error, node_endpoints

NODE_TYPE = "cache.t3.micro"
STOP_TIMEOUT_S = 30
START_FAIL_TIMEOUT_S = 30


class Process:
    """One emulator process with fixed addressing, so a restart can reuse its addresses."""

    def __init__(self, workdir: Path, data_dir: Path | None):
        self.workdir = workdir
        self.data_dir = data_dir
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.addressing = ["--addressing", helpers.ADDRESSING]
        # Addresses apart from those conftest gives the session emulators (127.100-250.x.x,
        # ports 20000-31999), so no other emulator takes an address between a stop and a start.
        if helpers.ADDRESSING == "loopback":
            base = f"127.{random.randint(251, 254)}.{random.randint(0, 255)}.1"
            self.addressing += ["--loopback-base", base]
        else:
            first = random.randint(32000, 32600)
            self.addressing += ["--port-range", f"{first}-{first + 99}"]
        self.proc: subprocess.Popen | None = None
        self.runs = 0

    def args(self, data_dir: Path | None) -> list[str]:
        args = [str(_binary()), "--listen", f"127.0.0.1:{self.port}", "--log", "info", *self.addressing]
        if data_dir is not None:
            args += ["--data-dir", str(data_dir)]
        return args

    def env(self) -> dict:
        env = dict(os.environ)
        for name in ("ELASTICACHE_LOCAL_LISTEN", "ELASTICACHE_LOCAL_DATA_DIR"):
            env.pop(name, None)
        env["NO_COLOR"] = "1"
        return env

    def log_path(self) -> Path:
        return self.workdir / f"emulator-{self.runs}.log"

    def start(self, data_dir: Path | None | str = "same") -> None:
        self.runs += 1
        dd = self.data_dir if data_dir == "same" else data_dir
        log = open(self.log_path(), "wb")
        self.proc = subprocess.Popen(
            self.args(dd), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env(), cwd=self.workdir
        )
        log.close()
        try:
            _wait_healthy(self.endpoint, self.proc, self.log_path())
        except Exception:
            self.proc.kill()
            self.proc.wait()
            raise

    def start_failing(self) -> tuple[int, str]:
        """Starts with the data dir expecting a refusal: the exit code and the log."""
        self.runs += 1
        proc = subprocess.run(
            self.args(self.data_dir),
            capture_output=True,
            text=True,
            env=self.env(),
            cwd=self.workdir,
            timeout=START_FAIL_TIMEOUT_S,
        )
        return proc.returncode, proc.stdout + proc.stderr

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=STOP_TIMEOUT_S)
        assert code == 0, f"exit {code} on SIGTERM:\n{self.log_path().read_text(errors='replace')[-3000:]}"
        self.proc = None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def client(self, region: str = "us-east-1"):
        return boto3.client(
            "elasticache",
            region_name=region,
            endpoint_url=self.endpoint,
            aws_access_key_id=DUMMY_ACCESS_KEY,
            aws_secret_access_key=DUMMY_SECRET_KEY,
            config=Config(retries={"total_max_attempts": 1}, read_timeout=60),
        )

    def health(self) -> dict:
        import urllib.request

        with urllib.request.urlopen(self.endpoint + "/health", timeout=5) as resp:
            return json.loads(resp.read())


@pytest.fixture
def emulator_process(tmp_path):
    data = tmp_path / "data"
    p = Process(tmp_path, data)
    yield p
    p.kill()


def conn(address: str, port: int) -> redis.Redis:
    return redis.Redis(host=address, port=port, decode_responses=True, socket_timeout=10)


def saved_in_state(p, name: str) -> bool:
    """Whether the state file names `name` within a few seconds (it is written within 200 ms
    of a change; a SIGKILL before that loses the resource, as the README says)."""
    return eventually(lambda: name in (p.data_dir / "state.json").read_text())


def eventually(fn, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def wait_snapshot(ec, name: str) -> dict:
    for _ in range(400):
        (snap,) = ec.describe_snapshots(SnapshotName=name)["Snapshots"]
        if snap["SnapshotStatus"] == "available":
            return snap
        time.sleep(0.05)
    raise AssertionError(f"snapshot {name} not available: {snap}")


def write_dataset(r: redis.Redis) -> None:
    r.set("plain", "value")
    r.set("ttl", "expires", ex=3600)
    r.hset("hash", mapping={"a": "1", "b": "2"})
    r.expire("hash", 7200)
    r.rpush("list", "one", "two", "three")
    r.sadd("set", "x", "y")
    r.zadd("zset", {"low": 1.5, "high": 10})
    r.xadd("stream", {"field": "v"}, id="1-1")
    for i in range(200):
        r.set(f"bulk:{i}", i)


def check_dataset(r: redis.Redis) -> None:
    assert r.get("plain") == "value"
    assert r.get("ttl") == "expires"
    assert 3500 < r.ttl("ttl") <= 3600, r.ttl("ttl")
    assert r.hgetall("hash") == {"a": "1", "b": "2"}
    assert 7100 < r.ttl("hash") <= 7200
    assert r.ttl("plain") == -1
    assert r.lrange("list", 0, -1) == ["one", "two", "three"]
    assert r.smembers("set") == {"x", "y"}
    assert r.zrange("zset", 0, -1, withscores=True) == [("low", 1.5), ("high", 10.0)]
    assert r.xrange("stream") == [("1-1", {"field": "v"})]
    assert [r.get(f"bulk:{i}") for i in range(200)] == [str(i) for i in range(200)]


def create_everything(ec) -> None:
    """A Redis cluster on its own parameter group, a CMD group with a replica, a Memcached
    cluster, a user and a user group, a snapshot, tags."""
    ec.create_cache_parameter_group(CacheParameterGroupName="keep-pg", CacheParameterGroupFamily="redis7", Description="kept")
    ec.modify_cache_parameter_group(
        CacheParameterGroupName="keep-pg", ParameterNameValues=[{"ParameterName": "maxmemory-policy", "ParameterValue": "allkeys-lru"}]
    )
    ec.create_cache_cluster(
        CacheClusterId="keep-redis",
        Engine="redis",
        CacheNodeType=NODE_TYPE,
        NumCacheNodes=1,
        CacheParameterGroupName="keep-pg",
        Tags=[{"Key": "team", "Value": "cache"}],
    )
    ec.create_cache_cluster(CacheClusterId="keep-mc", Engine="memcached", CacheNodeType=NODE_TYPE, NumCacheNodes=2)
    ec.create_replication_group(
        ReplicationGroupId="keep-rg",
        ReplicationGroupDescription="kept group",
        Engine="redis",
        CacheNodeType=NODE_TYPE,
        NumCacheClusters=2,
        AutomaticFailoverEnabled=True,
        Tags=[{"Key": "env", "Value": "test"}],
    )
    ec.create_user(UserId="keep-user", UserName="keeper", Engine="redis", AccessString="on ~* +@all", Passwords=["a-password-of-16+"])
    ec.create_user_group(UserGroupId="keep-ug", Engine="redis", UserIds=["default", "keep-user"])
    for cid in ("keep-redis", "keep-mc"):
        ec.get_waiter("cache_cluster_available").wait(CacheClusterId=cid, WaiterConfig=FAST_WAITER)
    ec.get_waiter("replication_group_available").wait(ReplicationGroupId="keep-rg", WaiterConfig=FAST_WAITER)


def describe_all(ec) -> dict:
    clusters = {c["CacheClusterId"]: c for c in ec.describe_cache_clusters(ShowCacheNodeInfo=True)["CacheClusters"]}
    groups = {g["ReplicationGroupId"]: g for g in ec.describe_replication_groups()["ReplicationGroups"]}
    return {
        "clusters": clusters,
        "groups": groups,
        "endpoints": {cid: node_endpoints(c) for cid, c in clusters.items()},
        "mc_config": clusters["keep-mc"]["ConfigurationEndpoint"],
        "params": {
            p["ParameterName"]: p.get("ParameterValue")
            for p in ec.describe_cache_parameters(CacheParameterGroupName="keep-pg", Source="user")["Parameters"]
        },
        "users": sorted(u["UserId"] for u in ec.describe_users()["Users"]),
        "user_groups": {g["UserGroupId"]: sorted(g["UserIds"]) for g in ec.describe_user_groups()["UserGroups"]},
        "snapshots": sorted(s["SnapshotName"] for s in ec.describe_snapshots()["Snapshots"]),
        "tags": ec.list_tags_for_resource(ResourceName=clusters["keep-redis"]["ARN"])["TagList"],
        "rg_tags": ec.list_tags_for_resource(ResourceName=groups["keep-rg"]["ARN"])["TagList"],
    }


def test_resources_endpoints_and_data_survive_a_restart(emulator_process):
    p = emulator_process
    p.start()
    ec = p.client()
    assert p.health()["persistence"] == {
        "data_dir": str(p.data_dir),
        "state_file": str(p.data_dir / "state.json"),
        "restored": False,
    }
    create_everything(ec)
    before = describe_all(ec)
    (addr, port) = before["endpoints"]["keep-redis"]["0001"]
    write_dataset(conn(addr, port))
    ec.create_snapshot(CacheClusterId="keep-redis", SnapshotName="keep-snap")
    wait_snapshot(ec, "keep-snap")
    ec.get_waiter("cache_cluster_available").wait(CacheClusterId="keep-redis", WaiterConfig=FAST_WAITER)
    ng = before["groups"]["keep-rg"]["NodeGroups"][0]
    primary = conn(ng["PrimaryEndpoint"]["Address"], ng["PrimaryEndpoint"]["Port"])
    primary.set("group-key", "before", ex=600)
    assert primary.execute_command("WAIT", 1, 5000) == 1
    mc_addr, mc_port = before["endpoints"]["keep-mc"]["0001"]
    MemcacheClient((mc_addr, mc_port)).set("mc-key", b"gone after restart")
    before = describe_all(ec)
    events_before = ec.describe_events(SourceIdentifier="keep-redis", SourceType="cache-cluster", Duration=60)["Events"]
    p.stop()

    assert (p.data_dir / "state.json").is_file()
    saved = json.loads((p.data_dir / "state.json").read_text())
    assert saved["format_version"] == 1
    assert any((p.data_dir / "nodes").rglob("*.rdb")), "Redis node data written at shutdown"

    p.start()
    ec = p.client()
    health = p.health()
    assert health["persistence"]["restored"] is True
    assert health["nodes"]["redis"] == 3 and health["nodes"]["memcached"] == 2, health
    after = describe_all(ec)
    assert after["endpoints"] == before["endpoints"], "every node on the same endpoint"
    assert after["mc_config"] == before["mc_config"]
    for cid, c in after["clusters"].items():
        assert c["CacheClusterStatus"] == "available", (cid, c["CacheClusterStatus"])
        b = before["clusters"][cid]
        for field in ("Engine", "EngineVersion", "CacheNodeType", "CacheClusterCreateTime", "ARN", "CacheParameterGroup"):
            assert c[field] == b[field], (cid, field)
    for field in ("Status", "NodeGroups", "MemberClusters", "ARN", "Description", "AutomaticFailover"):
        assert after["groups"]["keep-rg"][field] == before["groups"]["keep-rg"][field], field
    for key in ("params", "users", "user_groups", "snapshots", "tags", "rg_tags"):
        assert after[key] == before[key], key
    assert after["params"]["maxmemory-policy"] == "allkeys-lru"
    assert "keep-user" in after["users"] and after["snapshots"] == ["keep-snap"]
    events_after = ec.describe_events(SourceIdentifier="keep-redis", SourceType="cache-cluster", Duration=60)["Events"]
    assert [e["Message"] for e in events_after] == [e["Message"] for e in events_before]

    # Every key with its TTL, on the same endpoint; the parameter group still applies.
    r = conn(addr, port)
    check_dataset(r)
    assert r.config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-lru"}
    # Replication still works: the replica has the old data and follows new writes.
    primary = conn(ng["PrimaryEndpoint"]["Address"], ng["PrimaryEndpoint"]["Port"])
    assert primary.get("group-key") == "before" and 0 < primary.ttl("group-key") <= 600
    primary.set("group-key-2", "after")
    replica = next(m for m in ng["NodeGroupMembers"] if m["CurrentRole"] == "replica")
    rr = conn(replica["ReadEndpoint"]["Address"], replica["ReadEndpoint"]["Port"])
    assert eventually(lambda: rr.get("group-key-2")) == "after"
    assert rr.get("group-key") == "before"
    with pytest.raises(redis.exceptions.ReadOnlyError):
        rr.set("x", "1")
    # Memcached has no persistence: the node is back, empty.
    assert MemcacheClient((mc_addr, mc_port)).get("mc-key") is None

    # The snapshot's image came back too: a restore from it has the data.
    ec.create_cache_cluster(CacheClusterId="from-snap", SnapshotName="keep-snap")
    ec.get_waiter("cache_cluster_available").wait(CacheClusterId="from-snap", WaiterConfig=FAST_WAITER)
    restored = ec.describe_cache_clusters(CacheClusterId="from-snap", ShowCacheNodeInfo=True)["CacheClusters"][0]
    check_dataset(conn(*node_endpoints(restored)["0001"]))
    p.stop()


def test_a_cluster_mode_group_survives_a_restart(emulator_process):
    p = emulator_process
    p.start()
    ec = p.client()
    ec.create_replication_group(
        ReplicationGroupId="keep-cme",
        ReplicationGroupDescription="sharded",
        CacheNodeType=NODE_TYPE,
        NumNodeGroups=3,
        ReplicasPerNodeGroup=1,
    )
    ec.get_waiter("replication_group_available").wait(ReplicationGroupId="keep-cme", WaiterConfig=FAST_WAITER)
    before = ec.describe_replication_groups(ReplicationGroupId="keep-cme")["ReplicationGroups"][0]
    cfg = before["ConfigurationEndpoint"]
    rc = RedisCluster(host=cfg["Address"], port=cfg["Port"], decode_responses=True, socket_timeout=10)
    for i in range(1000):
        rc.set(f"user:{i}", i)
    nodes_before = sorted((n.host, n.port, n.server_type) for n in rc.get_nodes())
    rc.close()
    p.stop()

    p.start()
    ec = p.client()
    after = ec.describe_replication_groups(ReplicationGroupId="keep-cme")["ReplicationGroups"][0]
    assert after["Status"] == "available"
    assert after["ConfigurationEndpoint"] == cfg
    assert after["NodeGroups"] == before["NodeGroups"]
    rc = RedisCluster(host=cfg["Address"], port=cfg["Port"], decode_responses=True, socket_timeout=10)
    assert sorted((n.host, n.port, n.server_type) for n in rc.get_nodes()) == nodes_before
    assert [rc.get(f"user:{i}") for i in range(1000)] == [str(i) for i in range(1000)]
    rc.set("after-restart", "yes")
    assert rc.get("after-restart") == "yes"
    rc.close()
    p.stop()


def test_a_corrupt_truncated_or_newer_state_file_is_refused(emulator_process):
    p = emulator_process
    p.start()
    ec = p.client()
    ec.create_cache_parameter_group(CacheParameterGroupName="pg-a", CacheParameterGroupFamily="redis7", Description="a")
    ec.create_cache_cluster(CacheClusterId="corrupt-redis", Engine="redis", CacheNodeType=NODE_TYPE, NumCacheNodes=1)
    ec.get_waiter("cache_cluster_available").wait(CacheClusterId="corrupt-redis", WaiterConfig=FAST_WAITER)
    endpoints = node_endpoints(ec.describe_cache_clusters(CacheClusterId="corrupt-redis", ShowCacheNodeInfo=True)["CacheClusters"][0])
    conn(*endpoints["0001"]).set("kept", "yes")
    p.stop()
    state = p.data_dir / "state.json"
    good = state.read_bytes()
    (rdb,) = (p.data_dir / "nodes").rglob("0001.rdb")
    good_rdb = rdb.read_bytes()

    # A node's data file that does not load stops the start too, naming the file.
    rdb.write_bytes(good_rdb[: len(good_rdb) - 12])
    code, log = p.start_failing()
    assert code != 0 and str(rdb) in log, log
    rdb.write_bytes(good_rdb)

    state.write_bytes(good[: len(good) // 2])
    code, log = p.start_failing()
    assert code != 0
    assert str(state) in log and "byte offset" in log and "line" in log and "column" in log, log
    assert "truncated" in log

    state.write_bytes(good.replace(b'"regions"', b'"regions" #', 1))
    code, log = p.start_failing()
    assert code != 0 and str(state) in log and "byte offset" in log, log

    state.write_text(json.dumps({"format_version": 999, "regions": []}))
    code, log = p.start_failing()
    assert code != 0 and "format version 999" in log, log

    # The good files still load.
    state.write_bytes(good)
    p.start()
    assert p.client().describe_cache_parameter_groups(CacheParameterGroupName="pg-a")["CacheParameterGroups"]
    assert conn(*endpoints["0001"]).get("kept") == "yes"
    p.stop()


def test_changes_reach_the_state_file_without_a_clean_stop(emulator_process):
    p = emulator_process
    p.start()
    ec = p.client()
    ec.create_cache_parameter_group(CacheParameterGroupName="pg-crash", CacheParameterGroupFamily="redis7", Description="c")
    ec.create_cache_cluster(CacheClusterId="crash-redis", Engine="redis", CacheNodeType=NODE_TYPE, NumCacheNodes=1)
    ec.get_waiter("cache_cluster_available").wait(CacheClusterId="crash-redis", WaiterConfig=FAST_WAITER)
    endpoints = node_endpoints(ec.describe_cache_clusters(CacheClusterId="crash-redis", ShowCacheNodeInfo=True)["CacheClusters"][0])
    conn(*endpoints["0001"]).set("lost", "on a crash")
    state = p.data_dir / "state.json"

    def saved() -> bool:
        if not state.exists():
            return False
        regions = json.loads(state.read_text())["regions"]
        clusters = {cid: c for r in regions for cid, c in r["clusters"].items()}
        return clusters.get("crash-redis", {}).get("status") == "Available"

    assert eventually(saved, timeout=5), "the writer saves without a stop"
    p.kill()
    p.start()
    ec = p.client()
    assert ec.describe_cache_parameter_groups(CacheParameterGroupName="pg-crash")["CacheParameterGroups"]
    after = ec.describe_cache_clusters(CacheClusterId="crash-redis", ShowCacheNodeInfo=True)["CacheClusters"][0]
    assert after["CacheClusterStatus"] == "available"
    assert node_endpoints(after) == endpoints
    # Node data is saved by a clean stop only: after a kill the node is back, empty.
    assert conn(*endpoints["0001"]).get("lost") is None
    p.stop()


def test_without_a_data_dir_nothing_is_kept(emulator_process, tmp_path):
    p = emulator_process
    p.start(data_dir=None)
    p.client().create_cache_parameter_group(CacheParameterGroupName="pg-b", CacheParameterGroupFamily="redis7", Description="b")
    assert p.health()["persistence"] == {"data_dir": None, "restored": False}
    p.stop()
    assert not p.data_dir.exists()
    assert sorted(x.name for x in tmp_path.iterdir() if not x.name.endswith(".log")) == [], "nothing written"
    p.start(data_dir=None)
    ec = p.client()
    with aws_error(ec, "CacheParameterGroupNotFound", 404):
        ec.describe_cache_parameter_groups(CacheParameterGroupName="pg-b")
    p.stop()


def endpoint_conn(group: dict) -> redis.Redis:
    """A connection to the primary endpoint of a cluster mode disabled group."""
    ep = group["NodeGroups"][0]["PrimaryEndpoint"]
    return conn(ep["Address"], ep["Port"])


def test_a_global_datastore_survives_a_restart_and_keeps_replicating(emulator_process):
    p = emulator_process
    p.start()
    east, west = p.client("us-east-1"), p.client("us-west-2")
    east.create_replication_group(
        ReplicationGroupId="keep-gp",
        ReplicationGroupDescription="global primary",
        EngineVersion="7.1",
        CacheNodeType="cache.m5.large",
        NumCacheClusters=2,
        AutomaticFailoverEnabled=True,
    )
    east.get_waiter("replication_group_available").wait(ReplicationGroupId="keep-gp", WaiterConfig=FAST_WAITER)
    gid = east.create_global_replication_group(
        GlobalReplicationGroupIdSuffix="keep", PrimaryReplicationGroupId="keep-gp"
    )["GlobalReplicationGroup"]["GlobalReplicationGroupId"]

    def datastore(client) -> dict:
        return client.describe_global_replication_groups(GlobalReplicationGroupId=gid, ShowMemberInfo=True)[
            "GlobalReplicationGroups"
        ][0]

    assert eventually(lambda: datastore(east)["Status"] == "primary-only")
    west.create_replication_group(
        ReplicationGroupId="keep-gs",
        ReplicationGroupDescription="secondary",
        GlobalReplicationGroupId=gid,
        NumCacheClusters=2,
    )
    west.get_waiter("replication_group_available").wait(ReplicationGroupId="keep-gs", WaiterConfig=FAST_WAITER)
    assert eventually(lambda: datastore(east)["Status"] == "available")
    before = datastore(east)
    primary = east.describe_replication_groups(ReplicationGroupId="keep-gp")["ReplicationGroups"][0]
    secondary = west.describe_replication_groups(ReplicationGroupId="keep-gs")["ReplicationGroups"][0]
    pw = endpoint_conn(primary)
    sr = endpoint_conn(secondary)
    pw.set("before", "1")
    assert eventually(lambda: sr.get("before") == "1")
    p.stop()

    p.start()
    east, west = p.client("us-east-1"), p.client("us-west-2")
    after = datastore(west)
    assert after["Status"] == "available"
    assert after["Members"] == before["Members"]
    assert after["GlobalNodeGroups"] == before["GlobalNodeGroups"]
    assert west.describe_replication_groups(ReplicationGroupId="keep-gs")["ReplicationGroups"][0][
        "GlobalReplicationGroupInfo"
    ] == {"GlobalReplicationGroupId": gid, "GlobalReplicationGroupMemberRole": "SECONDARY"}
    pw = endpoint_conn(primary)
    sr = endpoint_conn(secondary)
    assert sr.get("before") == "1"
    # The secondary still follows the primary region: a write made after the restart arrives.
    pw.set("after", "2")
    assert eventually(lambda: sr.get("after") == "2")
    with pytest.raises(redis.exceptions.ReadOnlyError):
        sr.set("x", "y")
    pw.close()
    sr.close()


# --------------------------------------------------------------------------------------------
# Each Redis node's own data directory: `<data-dir>/node-data/<node key>/` (dump.rdb, the AOF)


def create_redis(ec, cid: str, node_type: str = NODE_TYPE) -> tuple[str, int]:
    ec.create_cache_cluster(CacheClusterId=cid, Engine="redis", CacheNodeType=node_type, NumCacheNodes=1)
    ec.get_waiter("cache_cluster_available").wait(CacheClusterId=cid, WaiterConfig=FAST_WAITER)
    return node_endpoints(ec.describe_cache_clusters(CacheClusterId=cid, ShowCacheNodeInfo=True)["CacheClusters"][0])["0001"]


def node_dir(p: Process, cid: str) -> Path:
    """The data directory of the cluster's node 0001 (account and region joined by dots)."""
    return p.data_dir / "node-data" / f"{DEFAULT_ACCOUNT}.us-east-1.{cid}.0001"


def persistence_info(r: redis.Redis) -> dict:
    return r.info("persistence")


@pytest.mark.parametrize("fsync", ["always", "everysec"])
def test_an_aof_keeps_acknowledged_writes_across_a_sigkill(emulator_process, fsync):
    p = emulator_process
    p.start()
    ec = p.client()
    address, port = create_redis(ec, "aof-redis")
    r = conn(address, port)
    assert r.config_set("appendonly", "yes")
    assert r.config_set("appendfsync", fsync)
    assert persistence_info(r)["aof_enabled"] == 1
    assert r.config_get("dir")["dir"] == str(node_dir(p, "aof-redis"))
    assert (node_dir(p, "aof-redis") / "appendonlydir" / "appendonly.aof.manifest").is_file()
    write_dataset(r)
    # Every write below is acknowledged before the next is sent; the last one right before
    # the kill.
    acked = 0
    for i in range(3000):
        r.set(f"acked:{i}", i)
        acked += 1
    for _ in range(50):
        r.incr("counter")
    r.close()
    p.kill()

    p.start()
    r = conn(address, port)
    info = persistence_info(r)
    assert info["aof_enabled"] == 1, "a node whose directory holds an AOF starts with appendonly yes"
    values = r.mget([f"acked:{i}" for i in range(acked)])
    missing = sum(v is None for v in values)
    if fsync == "always":
        assert missing == 0, f"appendfsync always lost {missing} of {acked} acknowledged writes"
        assert values == [str(i) for i in range(acked)]
    else:
        # Writes reach the file before their reply, so a killed process loses none; a machine
        # crash could lose the last second not yet fsynced.
        assert missing <= acked // 2, f"everysec lost {missing} of {acked}"
    check_dataset(r)
    assert r.get("counter") == "50"

    # A clean stop now leaves both the AOF and the clean-stop dataset: the AOF is loaded,
    # alone (the counter is not counted twice) and it holds the writes made after the stop's
    # dataset was taken too.
    r.incr("counter")
    r.close()
    p.stop()
    assert list((p.data_dir / "nodes").rglob("0001.rdb")), "the clean stop saved the dataset"
    p.start()
    r = conn(address, port)
    assert r.get("counter") == "51"
    assert r.mget([f"acked:{i}" for i in range(0, acked, 100)]) == [str(i) for i in range(0, acked, 100)]
    assert persistence_info(r)["aof_enabled"] == 1
    r.close()

    # Deleting the cluster removes its node's directory, AOF and all.
    ec = p.client()
    ec.delete_cache_cluster(CacheClusterId="aof-redis")
    ec.get_waiter("cache_cluster_deleted").wait(CacheClusterId="aof-redis", WaiterConfig=FAST_WAITER)
    assert not node_dir(p, "aof-redis").exists()
    p.stop()


def test_save_writes_dump_rdb_in_the_node_directory(emulator_process):
    p = emulator_process
    p.start()
    ec = p.client()
    address, port = create_redis(ec, "save-redis")
    r = conn(address, port)
    write_dataset(r)
    assert r.save()
    dump = node_dir(p, "save-redis") / "dump.rdb"
    assert dump.is_file()
    check = subprocess.run(["redis-check-rdb", str(dump)], capture_output=True, text=True)
    assert check.returncode == 0 and "RDB looks OK" in check.stdout, check.stdout + check.stderr
    info = persistence_info(r)
    assert info["rdb_saves"] == 1 and info["rdb_last_bgsave_status"] == "ok"
    assert info["rdb_changes_since_last_save"] == 0 and info["aof_enabled"] == 0
    r.set("after-save", "1")
    assert persistence_info(r)["rdb_changes_since_last_save"] == 1
    before = dump.stat().st_mtime_ns
    r.bgsave()
    assert eventually(lambda: persistence_info(r)["rdb_saves"] == 2)
    assert dump.stat().st_mtime_ns >= before
    r.set("after-bgsave", "lost on a kill")
    r.close()
    # The state file is written within 200 ms of a change; a kill before that would lose the
    # cluster itself (and its node directory with it), which is not what this test is about.
    assert saved_in_state(p, "save-redis")

    # After a SIGKILL the node starts from its last dump.rdb, as redis-server does.
    p.kill()
    p.start()
    r = conn(address, port)
    check_dataset(r)
    assert r.get("after-save") == "1"
    assert r.get("after-bgsave") is None
    assert persistence_info(r)["rdb_last_load_keys_loaded"] > 200
    r.close()

    # A reboot starts the node from its dump.rdb too.
    run_id = conn(address, port).info("server")["run_id"]
    ec = p.client()
    ec.reboot_cache_cluster(CacheClusterId="save-redis", CacheNodeIdsToReboot=["0001"])
    ec.get_waiter("cache_cluster_available").wait(CacheClusterId="save-redis", WaiterConfig=FAST_WAITER)
    r = conn(address, port)

    def rebooted_with_data() -> bool:
        try:
            return r.info("server")["run_id"] != run_id and r.get("after-save") == "1"
        except redis.ConnectionError:
            return False

    assert eventually(rebooted_with_data)
    check_dataset(r)
    r.close()

    ec.delete_cache_cluster(CacheClusterId="save-redis")
    ec.get_waiter("cache_cluster_deleted").wait(CacheClusterId="save-redis", WaiterConfig=FAST_WAITER)
    assert not node_dir(p, "save-redis").exists()
    p.stop()


def test_without_a_data_dir_appendonly_is_refused(emulator_process, tmp_path):
    p = emulator_process
    p.start(data_dir=None)
    address, port = create_redis(p.client(), "no-dir-redis")
    r = conn(address, port)
    with pytest.raises(redis.ResponseError) as err:
        r.config_set("appendonly", "yes")
    assert "Unable to turn on AOF" in str(err.value) and "without a data directory" in str(err.value)
    assert r.config_get("appendonly")["appendonly"] == "no"
    assert persistence_info(r)["aof_enabled"] == 0
    # SAVE keeps the image in memory only.
    r.set("k", "v")
    assert r.save()
    assert persistence_info(r)["rdb_saves"] == 1
    r.close()
    p.stop()
    assert sorted(x.name for x in tmp_path.iterdir() if not x.name.endswith(".log")) == [], "nothing written"


def test_a_kill_while_a_snapshot_is_written_leaves_the_earlier_files_whole(emulator_process):
    p = emulator_process
    p.start()
    ec = p.client()
    address, port = create_redis(ec, "snap-kill")
    r = conn(address, port)
    write_dataset(r)
    ec.create_snapshot(CacheClusterId="snap-kill", SnapshotName="before")
    wait_snapshot(ec, "before")
    snapshots = p.data_dir / "snapshots" / DEFAULT_ACCOUNT / "us-east-1"
    old_file = snapshots / "before" / "0001.rdb"
    old_bytes = old_file.read_bytes()
    # A dataset whose image takes a while to write: 160 MB that LZF cannot shrink.
    pipe = r.pipeline(transaction=False)
    for i in range(160):
        pipe.set(f"big:{i}", os.urandom(1 << 20))
    pipe.execute()
    r.close()

    ec.create_snapshot(CacheClusterId="snap-kill", SnapshotName="during")
    tmp = snapshots / "during" / "0001.rdb.tmp"
    deadline = time.monotonic() + 60
    new_file = snapshots / "during" / "0001.rdb"
    while not tmp.exists() and not new_file.exists() and time.monotonic() < deadline:
        time.sleep(0.001)
    p.kill()
    # Killed while the new file was being written (or, on a slow poll, just after).
    assert tmp.exists() or new_file.exists()
    assert old_file.read_bytes() == old_bytes
    check = subprocess.run(["redis-check-rdb", str(old_file)], capture_output=True, text=True)
    assert check.returncode == 0 and "RDB looks OK" in check.stdout, check.stdout + check.stderr
    if new_file.exists():
        check = subprocess.run(["redis-check-rdb", str(new_file)], capture_output=True, text=True)
        assert check.returncode == 0, "a file under an RDB name is always whole:\n" + check.stdout

    p.start()
    ec = p.client()
    statuses = {s["SnapshotName"]: s["SnapshotStatus"] for s in ec.describe_snapshots()["Snapshots"]}
    assert statuses["before"] == "available"
    # The interrupted snapshot is failed (or gone, if the state file never listed it); only a
    # whole file could make it available.
    assert statuses.get("during", "failed") == "failed" or new_file.exists(), statuses
    ec.create_cache_cluster(CacheClusterId="from-before", SnapshotName="before", CacheNodeType=NODE_TYPE)
    ec.get_waiter("cache_cluster_available").wait(CacheClusterId="from-before", WaiterConfig=FAST_WAITER)
    restored = ec.describe_cache_clusters(CacheClusterId="from-before", ShowCacheNodeInfo=True)["CacheClusters"][0]
    check_dataset(conn(*node_endpoints(restored)["0001"]))
    p.stop()


def test_a_cluster_mode_group_with_aof_keeps_its_keys_across_a_sigkill(emulator_process):
    p = emulator_process
    p.start()
    ec = p.client()
    ec.create_replication_group(
        ReplicationGroupId="aof-cme",
        ReplicationGroupDescription="sharded with an AOF",
        CacheNodeType=NODE_TYPE,
        NumNodeGroups=2,
        ReplicasPerNodeGroup=1,
    )
    ec.get_waiter("replication_group_available").wait(ReplicationGroupId="aof-cme", WaiterConfig=FAST_WAITER)
    cfg = ec.describe_replication_groups(ReplicationGroupId="aof-cme")["ReplicationGroups"][0]["ConfigurationEndpoint"]
    rc = RedisCluster(host=cfg["Address"], port=cfg["Port"], decode_responses=True, socket_timeout=10)
    primaries = rc.get_primaries()
    assert len(primaries) == 2
    for node in primaries:
        assert rc.config_set("appendonly", "yes", target_nodes=node)
        assert rc.config_set("appendfsync", "always", target_nodes=node)
    for i in range(2000):
        rc.set(f"user:{i}", i)
    rc.close()
    p.kill()

    p.start()
    rc = RedisCluster(host=cfg["Address"], port=cfg["Port"], decode_responses=True, socket_timeout=10)
    assert [rc.get(f"user:{i}") for i in range(2000)] == [str(i) for i in range(2000)]
    infos = rc.info("persistence", target_nodes=RedisCluster.PRIMARIES)
    assert all(info["aof_enabled"] == 1 for info in infos.values()), infos
    rc.close()
    p.stop()
