"""CI conveniences: ``POST /_elasticache_local/reset`` and ``elasticache-local reset`` delete
every resource of every account and region and stop every node (ports freed, state file
rewritten); ``--init-dir`` runs JSON requests and shell scripts (aws-cli through
``AWS_ENDPOINT_URL``) at start and ``/health`` reports ready once every resource is available;
a failing init file is named and the emulator never reports ready; ``elasticache-local status``
prints what ``/health`` knows.

Each test starts its own emulator process (a reset would wipe the shared session emulator's
resources under other tests).
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
import pytest
import redis
from botocore.config import Config

import helpers
from conftest import DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY, _binary, _free_port, _wait_healthy
from helpers import FAST_WAITER, node_endpoints

NODE_TYPE = "cache.t3.micro"
READY_TIMEOUT_S = 90


class Emulator:
    """One private emulator process with its own block of addresses."""

    def __init__(self, workdir: Path, *extra: str, addressing: list[str] | None = None):
        self.workdir = workdir
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        args = [str(_binary()), "--listen", f"127.0.0.1:{self.port}", "--log", "info"]
        # Apart from the session emulators' addresses (conftest: 127.100-250.x.x, ports 20000-31999).
        if addressing is None and helpers.ADDRESSING == "loopback":
            addressing = ["--loopback-base", f"127.{random.randint(251, 254)}.{random.randint(0, 255)}.1"]
        elif addressing is None:
            first = random.randint(32000, 32600)
            addressing = ["--port-range", f"{first}-{first + 99}"]
        self.addressing = addressing
        args += ["--addressing", helpers.ADDRESSING, *addressing]
        env = {k: v for k, v in os.environ.items() if not k.startswith("ELASTICACHE_LOCAL_")}
        env["NO_COLOR"] = "1"
        # Init scripts call `aws`: the one installed beside this interpreter (awscli from
        # requirements.txt) comes first on their PATH.
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
        self.log_path = workdir / f"emulator-{self.port}.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                args + list(extra), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=workdir
            )
        _wait_healthy(self.endpoint, self.proc, self.log_path)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def health(self) -> dict:
        with urllib.request.urlopen(self.endpoint + "/health", timeout=5) as resp:
            return json.loads(resp.read())

    def wait_init_finished(self) -> dict:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            h = self.health()
            if h["init"]["state"] in ("done", "failed"):
                return h
            time.sleep(0.2)
        raise AssertionError(f"init not finished after {READY_TIMEOUT_S}s: {self.health()['init']}\n{self.log()}")

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(_binary()), *args, "--endpoint", self.endpoint],
            capture_output=True,
            text=True,
            timeout=READY_TIMEOUT_S + 30,
            stdin=subprocess.DEVNULL,
        )

    def client(self, region: str = "us-east-1"):
        return boto3.client(
            "elasticache",
            region_name=region,
            endpoint_url=self.endpoint,
            aws_access_key_id=DUMMY_ACCESS_KEY,
            aws_secret_access_key=DUMMY_SECRET_KEY,
            config=Config(retries={"total_max_attempts": 1}, read_timeout=60),
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def start(tmp_path):
    started: list[Emulator] = []

    def _start(*extra: str, addressing: list[str] | None = None) -> Emulator:
        emu = Emulator(tmp_path, *extra, addressing=addressing)
        started.append(emu)
        return emu

    yield _start
    for emu in started:
        emu.stop()


def write_init_dir(path: Path) -> Path:
    """One JSON file creating a cluster, one shell file creating a group with aws-cli."""
    path.mkdir()
    requests = [
        {"Action": "CreateCacheCluster", "CacheClusterId": "init-cache", "Engine": "redis",
         "CacheNodeType": NODE_TYPE, "NumCacheNodes": 1, "Tags.Tag.1.Key": "team", "Tags.Tag.1.Value": "ci"},
        {"Action": "CreateCacheCluster", "CacheClusterId": "init-mc", "Engine": "memcached",
         "CacheNodeType": NODE_TYPE, "NumCacheNodes": 2, "Region": "eu-west-1"},
    ]
    (path / "01-clusters.json").write_text(json.dumps(requests))
    (path / "02-group.sh").write_text(
        "set -e\n"
        'test "$AWS_ACCESS_KEY_ID" = test\n'
        "aws elasticache create-replication-group --replication-group-id init-group \\\n"
        "  --replication-group-description seeded --engine redis --cache-node-type cache.t3.micro \\\n"
        "  --num-cache-clusters 2 >/dev/null\n"
        'echo "seeded in $AWS_DEFAULT_REGION"\n'
    )
    (path / "README.txt").write_text("not run\n")
    return path


def test_init_dir_seeds_resources_and_health_reports_ready(start, tmp_path):
    emu = start("--init-dir", str(write_init_dir(tmp_path / "init")))
    h = emu.wait_init_finished()
    assert h["init"]["state"] == "done", (h["init"], emu.log())
    assert h["ready"] is True
    files = {f["file"]: f for f in h["init"]["files"]}
    assert list(files) == ["01-clusters.json", "02-group.sh"]  # name order; README.txt skipped
    assert files["01-clusters.json"] == {"file": "01-clusters.json", "ok": True, "detail": "2 requests"}
    assert files["02-group.sh"]["ok"] is True
    assert "seeded in us-east-1" in emu.log()

    # Ready means available: no waiter needed before using the endpoints.
    ec = emu.client()
    cache = ec.describe_cache_clusters(CacheClusterId="init-cache", ShowCacheNodeInfo=True)["CacheClusters"][0]
    assert cache["CacheClusterStatus"] == "available"
    group = ec.describe_replication_groups(ReplicationGroupId="init-group")["ReplicationGroups"][0]
    assert group["Status"] == "available"
    assert len(group["MemberClusters"]) == 2
    tags = ec.list_tags_for_resource(ResourceName=cache["ARN"])["TagList"]
    assert tags == [{"Key": "team", "Value": "ci"}]
    mc = emu.client("eu-west-1").describe_cache_clusters(CacheClusterId="init-mc")["CacheClusters"][0]
    assert mc["CacheClusterStatus"] == "available" and mc["NumCacheNodes"] == 2
    host, port = node_endpoints(cache)["0001"]
    r = redis.Redis(host=host, port=port, socket_timeout=10)
    assert r.set("seeded", "yes") and r.get("seeded") == b"yes"
    primary = group["NodeGroups"][0]["PrimaryEndpoint"]
    assert redis.Redis(host=primary["Address"], port=primary["Port"], socket_timeout=10).ping()

    # `status` prints the same as tables and exits 0 when ready.
    out = emu.cli("status")
    assert out.returncode == 0, out.stderr
    assert "ready: yes, init: done" in out.stdout
    assert re.search(r"^01-clusters\.json +ok +2 requests", out.stdout, re.M), out.stdout
    for line in ("000000000000  us-east-1  3", "000000000000  eu-west-1  1"):
        assert line in out.stdout, out.stdout
    for cluster in ("init-cache", "init-group-001", "init-group-002", "init-mc"):
        assert cluster in out.stdout
    assert f"{host}:{port}" in out.stdout
    as_json = json.loads(emu.cli("status", "--json").stdout)
    assert as_json["ready"] is True and as_json["init"]["state"] == "done"


def test_failing_init_files_are_named_and_never_ready(start, tmp_path):
    init = tmp_path / "init"
    init.mkdir()
    (init / "01-bad.json").write_text(json.dumps([
        {"Action": "CreateCacheCluster", "CacheClusterId": "ok-one", "Engine": "redis", "CacheNodeType": NODE_TYPE,
         "NumCacheNodes": 1},
        {"Action": "CreateCacheCluster", "CacheClusterId": "bad", "Engine": "oracle", "CacheNodeType": NODE_TYPE,
         "NumCacheNodes": 1},
    ]))
    (init / "02-fails.sh").write_text("echo about to fail >&2\nexit 3\n")
    (init / "03-after.json").write_text(json.dumps([
        {"Action": "CreateCacheCluster", "CacheClusterId": "after", "Engine": "redis", "CacheNodeType": NODE_TYPE,
         "NumCacheNodes": 1},
    ]))
    emu = start("--init-dir", str(init))
    h = emu.wait_init_finished()
    assert h["init"]["state"] == "failed" and h["ready"] is False
    files = {f["file"]: f for f in h["init"]["files"]}
    assert files["01-bad.json"]["ok"] is False
    assert files["01-bad.json"]["detail"].startswith("request 2 (CreateCacheCluster): InvalidParameterValue")
    assert files["02-fails.sh"]["ok"] is False
    assert "exit status: 3" in files["02-fails.sh"]["detail"] and "about to fail" in files["02-fails.sh"]["detail"]
    # The run goes on after a failure, and the emulator keeps serving (to be inspected).
    assert files["03-after.json"]["ok"] is True
    ids = {c["CacheClusterId"] for c in emu.client().describe_cache_clusters()["CacheClusters"]}
    assert ids == {"ok-one", "after"}
    started = time.monotonic()
    out = emu.cli("status", "--wait", "60")
    assert out.returncode == 1, out
    assert time.monotonic() - started < 30  # a failed init ends the wait at once
    assert "ready: no, init: failed" in out.stdout
    assert re.search(r"^02-fails\.sh +FAILED +exit status: 3", out.stdout, re.M), out.stdout


def test_init_files_do_not_run_again_on_restored_state(start, tmp_path):
    init = write_init_dir(tmp_path / "init")
    data = tmp_path / "data"
    first = start("--init-dir", str(init), "--data-dir", str(data))
    assert first.wait_init_finished()["ready"] is True
    first.stop()
    assert first.proc.returncode == 0, first.log()
    # Same addresses, so the restored nodes come back on their endpoints.
    second = start("--init-dir", str(init), "--data-dir", str(data), addressing=first.addressing)
    h = second.wait_init_finished()
    assert h["init"]["state"] == "done" and h["ready"] is True, (h["init"], second.log())
    assert h["init"]["files"] == []  # the restored state already holds what the files created
    assert h["persistence"]["restored"] is True
    ec = second.client()
    assert ec.describe_cache_clusters(CacheClusterId="init-cache")["CacheClusters"][0]["CacheClusterStatus"] == "available"
    assert ec.describe_replication_groups(ReplicationGroupId="init-group")["ReplicationGroups"][0]["Status"] == "available"


def populate(ec, ec_west) -> list[tuple[str, int]]:
    """A bit of everything in two regions; answers every node endpoint."""
    ec.create_cache_parameter_group(CacheParameterGroupName="pg", CacheParameterGroupFamily="redis7", Description="d")
    ec.create_cache_subnet_group(CacheSubnetGroupName="sn", CacheSubnetGroupDescription="d", SubnetIds=["subnet-1"])
    ec.create_user(UserId="alice", UserName="alice", Engine="redis", AccessString="on ~* +@all", NoPasswordRequired=True)
    ec.create_user_group(UserGroupId="team", Engine="redis", UserIds=["default", "alice"])
    ec.create_cache_cluster(CacheClusterId="solo", Engine="redis", CacheNodeType=NODE_TYPE, NumCacheNodes=1,
                            CacheParameterGroupName="pg", Tags=[{"Key": "k", "Value": "v"}])
    ec.create_replication_group(ReplicationGroupId="sharded", ReplicationGroupDescription="d", Engine="redis",
                                CacheNodeType=NODE_TYPE, NumNodeGroups=2, ReplicasPerNodeGroup=1,
                                CacheParameterGroupName="default.redis7.cluster.on")
    ec_west.create_cache_cluster(CacheClusterId="mc", Engine="memcached", CacheNodeType=NODE_TYPE, NumCacheNodes=2)
    ec.get_waiter("cache_cluster_available").wait(CacheClusterId="solo", WaiterConfig=FAST_WAITER)
    ec.get_waiter("replication_group_available").wait(ReplicationGroupId="sharded", WaiterConfig=FAST_WAITER)
    ec_west.get_waiter("cache_cluster_available").wait(CacheClusterId="mc", WaiterConfig=FAST_WAITER)
    ec.create_snapshot(CacheClusterId="solo", SnapshotName="snap")
    deadline = time.monotonic() + 60
    while ec.describe_snapshots(SnapshotName="snap")["Snapshots"][0]["SnapshotStatus"] != "available":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    endpoints = []
    for client in (ec, ec_west):
        for c in client.describe_cache_clusters(ShowCacheNodeInfo=True)["CacheClusters"]:
            endpoints += node_endpoints(c).values()
    return endpoints


def test_reset_deletes_everything_and_frees_ports(start, tmp_path):
    data = tmp_path / "data"
    emu = start("--data-dir", str(data))
    ec, ec_west = emu.client(), emu.client("eu-west-1")
    endpoints = populate(ec, ec_west)
    assert len(endpoints) == 1 + 4 + 2
    assert all(helpers.can_connect(h, p) for h, p in endpoints)
    state_file = data / "state.json"
    deadline = time.monotonic() + 10
    while "sharded" not in state_file.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.1)

    # An active fault is forgotten by the reset too (its nodes are gone).
    cid = ec.describe_cache_clusters()["CacheClusters"][0]["CacheClusterId"]
    body = json.dumps({"type": "latency", "target": {"cacheClusterId": cid, "cacheNodeId": "0001"},
                       "delayMs": 5}).encode()
    req = urllib.request.Request(emu.endpoint + "/_elasticache_local/faults", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert json.loads(resp.read())["faultId"]

    out = emu.cli("reset")
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert answer["reset"] is True and answer["nodes_stopped"] == 7
    assert answer["deleted"]["faults"] == 1
    with urllib.request.urlopen(emu.endpoint + "/_elasticache_local/faults", timeout=30) as resp:
        assert json.loads(resp.read())["faults"] == []
    d = answer["deleted"]
    assert (d["regions"], d["cache_clusters"], d["cache_nodes"], d["replication_groups"]) == (2, 6, 7, 1)
    assert (d["snapshots"], d["users"], d["user_groups"], d["parameter_groups"], d["subnet_groups"]) == (1, 1, 1, 1, 1)
    assert d["tags"] == 1 and d["events"] > 0

    for host, port in endpoints:
        assert helpers.wait_port_closed(host, port), f"{host}:{port} still open after reset"
    # The state file already reflects the reset when the answer arrives.
    assert json.loads(state_file.read_text())["regions"] == []
    h = emu.health()
    assert sum(h["nodes"].values()) == 0 and h["resources"]["regions"] == []
    assert h["configuration_endpoints"] == 0 and h["cluster_endpoints"] == 0

    # As freshly started: nothing but AWS's pre-created resources.
    assert ec.describe_cache_clusters()["CacheClusters"] == []
    assert ec_west.describe_cache_clusters()["CacheClusters"] == []
    assert ec.describe_replication_groups()["ReplicationGroups"] == []
    assert ec.describe_snapshots()["Snapshots"] == []
    assert [u["UserId"] for u in ec.describe_users()["Users"]] == ["default"]
    assert ec.describe_user_groups()["UserGroups"] == []
    assert all(g["CacheParameterGroupName"].startswith("default.")
               for g in ec.describe_cache_parameter_groups()["CacheParameterGroups"])
    assert [g["CacheSubnetGroupName"] for g in ec.describe_cache_subnet_groups()["CacheSubnetGroups"]] == ["default"]
    assert ec.describe_events(Duration=60)["Events"] == []

    # The same names can be used again at once, and the emulator serves them.
    ec.create_cache_cluster(CacheClusterId="solo", Engine="redis", CacheNodeType=NODE_TYPE, NumCacheNodes=1)
    again = helpers.wait_available(ec, "solo")
    host, port = node_endpoints(again)["0001"]
    r = redis.Redis(host=host, port=port, socket_timeout=10)
    assert r.dbsize() == 0 and r.set("k", "v")

    # The HTTP route answers the same document; a second reset deletes the new cluster only.
    req = urllib.request.Request(emu.endpoint + "/_elasticache_local/reset", data=b"", method="POST")
    with urllib.request.urlopen(req, timeout=30) as resp:
        second = json.loads(resp.read())
    assert second["nodes_stopped"] == 1 and second["deleted"]["cache_clusters"] == 1
    assert helpers.wait_port_closed(host, port)
