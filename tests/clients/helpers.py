"""Helpers shared by the client suites: aws-cli runner, error assertions, waits, raw protocols.

Nothing here fakes the emulator: these are thin conveniences over real clients (aws-cli,
botocore, raw TCP for the Memcached text protocol and ElastiCache auto discovery).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import pytest
from botocore.exceptions import ClientError

# Waiters poll every 15 s by default; the emulator completes transitions in milliseconds, so a
# 1 s delay keeps the suites fast while still exercising botocore's real waiter definitions.
FAST_WAITER = {"Delay": 1, "MaxAttempts": 120}

# Upper bound for "this socket should now be closed / open" polls. Generous on purpose: it is a
# liveness bound for a loaded 2-core CI machine, not a performance assertion.
SOCKET_SETTLE_S = 10.0

# How the emulator under test gives endpoints addresses (conftest starts it so). In `loopback`
# mode every endpoint listens on its own 127.x address on the requested port, so the API reports
# 6379/11211 or the asked-for port; in `ports` mode each endpoint gets a port from the configured
# range on one host instead (docs/architecture.md, "Addresses and ports").
ADDRESSING = os.environ.get("ECL_TEST_ADDRESSING", "loopback" if sys.platform == "linux" else "ports")
# Set by conftest to the port range given to the emulator in `ports` mode.
PORT_RANGE: tuple[int, int] | None = None


def assert_endpoint_port(port: int, requested: int) -> None:
    """The port an endpoint reports: the requested one in loopback mode, one of the configured
    range in ports mode (where a requested port cannot be honoured on a single host)."""
    if ADDRESSING == "loopback":
        assert port == requested, f"the requested/default port {requested} is reported and honoured, got {port}"
    else:
        assert PORT_RANGE is not None
        assert PORT_RANGE[0] <= port <= PORT_RANGE[1], f"port {port} outside the ports-mode range {PORT_RANGE}"


# --------------------------------------------------------------------------------------------
# aws-cli


class AwsCliError(AssertionError):
    pass


@dataclass
class AwsCliResult:
    returncode: int
    stdout: str
    stderr: str

    def json(self):
        return json.loads(self.stdout) if self.stdout.strip() else {}


class AwsCli:
    """Runs aws-cli v1 (``python -m awscli`` from this interpreter, else ``aws`` on PATH)."""

    def __init__(self, endpoint_url: str, access_key: str, secret_key: str, region: str):
        self.endpoint_url = endpoint_url
        self.env = dict(os.environ)
        # Isolate from any developer configuration and profiles.
        empty = tempfile.mkdtemp(prefix="ecl-awscli-")
        self.env.update(
            {
                "AWS_ACCESS_KEY_ID": access_key,
                "AWS_SECRET_ACCESS_KEY": secret_key,
                "AWS_DEFAULT_REGION": region,
                "AWS_CONFIG_FILE": os.path.join(empty, "config"),
                "AWS_SHARED_CREDENTIALS_FILE": os.path.join(empty, "credentials"),
                "AWS_PAGER": "",
                "AWS_MAX_ATTEMPTS": "1",
            }
        )
        for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ELASTICACHE"):
            self.env.pop(var, None)
        try:
            import awscli  # noqa: F401

            self.base = [sys.executable, "-m", "awscli"]
        except ImportError:
            aws = shutil.which("aws")
            if aws is None:
                pytest.fail("aws-cli is not installed (pip install -r tests/clients/requirements.txt)")
            self.base = [aws]

    def run(self, *args: str, check: bool = True, timeout: float = 300) -> AwsCliResult:
        cmd = self.base + ["--endpoint-url", self.endpoint_url, "--output", "json", *args]
        proc = subprocess.run(
            cmd, env=self.env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
        result = AwsCliResult(proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            raise AwsCliError(
                f"aws {' '.join(args)} exited {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
            )
        return result

    def json(self, *args: str, timeout: float = 300):
        return self.run(*args, timeout=timeout).json()


# --------------------------------------------------------------------------------------------
# botocore errors


@contextlib.contextmanager
def aws_error(client, code: str, status: int, exception: str | None = None):
    """Asserts the block raises the modeled error: exact wire code, HTTP status, botocore class.

    ``exception`` is the botocore exception class name (the model's shape name); leave it None for
    unmodeled codes (e.g. ``InvalidParameterValue`` is modeled as InvalidParameterValueException).
    """
    with pytest.raises(ClientError) as info:
        yield info
    err = info.value.response.get("Error", {})
    meta = info.value.response.get("ResponseMetadata", {})
    assert err.get("Code") == code, f"expected code {code}, got {err.get('Code')}: {err.get('Message')}"
    assert meta.get("HTTPStatusCode") == status, (
        f"expected HTTP {status} for {code}, got {meta.get('HTTPStatusCode')}"
    )
    assert err.get("Message"), f"{code} carries no message"
    assert meta.get("RequestId"), f"{code} carries no RequestId"
    if exception is not None:
        cls = getattr(client.exceptions, exception)
        assert isinstance(info.value, cls), f"expected {exception}, got {type(info.value).__name__}"


def error_code(fn, *args, **kwargs) -> str | None:
    """Runs fn and returns the AWS error code it raised, or None when it succeeded."""
    try:
        fn(*args, **kwargs)
    except ClientError as err:
        return err.response["Error"]["Code"]
    return None


# --------------------------------------------------------------------------------------------
# waits


def until(fn, timeout: float = 30.0, pause: float = 0.2):
    """Polls `fn` until it returns something truthy (returned), or fails after `timeout` s."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(pause)
    raise AssertionError("condition not reached")


def wait_group(client, group_id: str) -> dict:
    """Waits until the replication group is available; answers its description."""
    client.get_waiter("replication_group_available").wait(ReplicationGroupId=group_id, WaiterConfig=FAST_WAITER)
    return client.describe_replication_groups(ReplicationGroupId=group_id)["ReplicationGroups"][0]


def delete_groups(client, group_ids: list[str], settle_first: bool = False) -> None:
    """Deletes replication groups a test created and waits until they are gone; best effort
    (the test may have deleted them). `settle_first` waits for `available` before deleting,
    for tests that leave a group modifying."""
    for gid in group_ids:
        try:
            if settle_first:
                wait_group(client, gid)
            client.delete_replication_group(ReplicationGroupId=gid)
        except Exception:  # best effort; the test itself reports failures
            pass
    for gid in group_ids:
        try:
            client.get_waiter("replication_group_deleted").wait(ReplicationGroupId=gid, WaiterConfig=FAST_WAITER)
        except Exception:
            pass


def wait_available(client, cluster_id: str) -> dict:
    client.get_waiter("cache_cluster_available").wait(CacheClusterId=cluster_id, WaiterConfig=FAST_WAITER)
    return describe_cluster(client, cluster_id)


def wait_deleted(client, cluster_id: str) -> None:
    client.get_waiter("cache_cluster_deleted").wait(CacheClusterId=cluster_id, WaiterConfig=FAST_WAITER)


def describe_cluster(client, cluster_id: str, nodes: bool = True) -> dict:
    out = client.describe_cache_clusters(CacheClusterId=cluster_id, ShowCacheNodeInfo=nodes)
    clusters = out["CacheClusters"]
    assert len(clusters) == 1, clusters
    return clusters[0]


def create_redis(client, tracker, cluster_id: str, **extra) -> dict:
    """Creates a one-node Redis cluster, waits until it is available, returns its description."""
    params = {"CacheClusterId": cluster_id, "Engine": "redis", "CacheNodeType": "cache.t3.micro", "NumCacheNodes": 1}
    params.update(extra)
    tracker.cluster(client, cluster_id)
    client.create_cache_cluster(**params)
    return wait_available(client, cluster_id)


def create_memcached(client, tracker, cluster_id: str, nodes: int = 3, **extra) -> dict:
    params = {
        "CacheClusterId": cluster_id,
        "Engine": "memcached",
        "CacheNodeType": "cache.t3.micro",
        "NumCacheNodes": nodes,
    }
    params.update(extra)
    tracker.cluster(client, cluster_id)
    client.create_cache_cluster(**params)
    return wait_available(client, cluster_id)


def node_endpoints(cluster: dict) -> dict[str, tuple[str, int]]:
    """CacheNodeId -> (address, port) of a cluster described with ShowCacheNodeInfo."""
    return {n["CacheNodeId"]: (n["Endpoint"]["Address"], n["Endpoint"]["Port"]) for n in cluster["CacheNodes"]}


# --------------------------------------------------------------------------------------------
# sockets


def can_connect(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def wait_port_closed(host: str, port: int) -> bool:
    """True once nothing accepts connections on host:port (bounded poll)."""
    deadline = time.monotonic() + SOCKET_SETTLE_S
    while time.monotonic() < deadline:
        if not can_connect(host, port):
            return True
        time.sleep(0.1)
    return False


def connection_closed_by_peer(sock: socket.socket) -> bool:
    """True once an established connection has been closed by the server (EOF or reset)."""
    sock.settimeout(SOCKET_SETTLE_S)
    try:
        return sock.recv(1) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


# --------------------------------------------------------------------------------------------
# memcached text protocol and ElastiCache auto discovery (reference section 6)


def memcached_exchange(host: str, port: int, payload: bytes, until: tuple[bytes, ...] = (b"END\r\n",)) -> bytes:
    """Sends payload, reads until the reply ends with one of ``until`` (or the peer closes)."""
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(payload)
        buf = b""
        while not any(buf.endswith(t) for t in until):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            if len(buf) > 1 << 20:
                raise AssertionError("memcached reply too large")
        return buf


@dataclass
class ClusterConfig:
    version: int
    nodes: list[tuple[str, str, int]]  # (hostname, ip, port)
    raw: bytes


def config_get_cluster(host: str, port: int) -> ClusterConfig:
    """Runs ``config get cluster`` and checks the reply framing byte for byte."""
    raw = memcached_exchange(host, port, b"config get cluster\r\n", until=(b"END\r\n", b"ERROR\r\n"))
    header, sep, rest = raw.partition(b"\r\n")
    assert sep, f"no header line in {raw!r}"
    parts = header.split(b" ")
    assert len(parts) == 4 and parts[:3] == [b"CONFIG", b"cluster", b"0"], f"bad header {header!r}"
    length = int(parts[3])
    body, trailer = rest[:length], rest[length:]
    assert trailer == b"\r\nEND\r\n", f"bad trailer after {length}-byte body: {rest!r}"
    lines = body.split(b"\n")
    assert len(lines) == 3 and lines[2] == b"", f"body must be exactly two \\n-terminated lines: {body!r}"
    version = int(lines[0])
    nodes = []
    for triple in lines[1].decode().split(" "):
        host_name, ip, p = triple.split("|")
        nodes.append((host_name, ip, int(p)))
    return ClusterConfig(version, nodes, raw)


# --------------------------------------------------------------------------------------------
# cleanup


class ResourceTracker:
    """Remembers what a test created, deletes it afterwards; failures are reported, not raised."""

    def __init__(self, make_client):
        self.make_client = make_client
        self.clusters: list[tuple[object, str]] = []
        self.parameter_groups: list[tuple[object, str]] = []
        self.subnet_groups: list[tuple[object, str]] = []
        self.security_groups: list[tuple[object, str]] = []

    def cluster(self, client, name: str) -> str:
        self.clusters.append((client, name))
        return name

    def parameter_group(self, client, name: str) -> str:
        self.parameter_groups.append((client, name))
        return name

    def subnet_group(self, client, name: str) -> str:
        self.subnet_groups.append((client, name))
        return name

    def security_group(self, client, name: str) -> str:
        self.security_groups.append((client, name))
        return name

    def cleanup(self) -> None:
        for client, name in self.clusters:
            try:
                client.delete_cache_cluster(CacheClusterId=name)
            except Exception:  # best effort; the test itself reports failures
                pass
        for client, name in self.clusters:
            try:
                client.get_waiter("cache_cluster_deleted").wait(
                    CacheClusterId=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
                )
            except Exception:
                pass
        for items, op, key in (
            (self.parameter_groups, "delete_cache_parameter_group", "CacheParameterGroupName"),
            (self.subnet_groups, "delete_cache_subnet_group", "CacheSubnetGroupName"),
            (self.security_groups, "delete_cache_security_group", "CacheSecurityGroupName"),
        ):
            for client, name in items:
                try:
                    getattr(client, op)(**{key: name})
                except Exception:  # best effort; the test itself reports failures
                    pass
