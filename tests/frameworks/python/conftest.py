"""Fixtures for the framework suites: Redis servers to run the same scenario on.

``servers`` maps a name to a ``redis://`` URL: ``cache`` (a one-node cache cluster created
through the Query API), ``group`` (the primary endpoint of a cluster-mode-disabled replication
group with a replica), ``tls`` (a one-node cache cluster with in-transit encryption, reached
with ``rediss://``) and, when Debian's redis-server is installed, ``redis-server`` (7.0.15,
started here on a free port) - the reference each framework's outcome on our nodes must equal.
The emulator and boto3 fixtures are those of tests/clients/conftest.py, loaded as a module so
both suites start and address the emulator the same way (ECL_BINARY, ECL_TEST_ADDRESSING).
"""

from __future__ import annotations

import importlib.util
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

CLIENTS = Path(__file__).resolve().parents[2] / "clients"
sys.path.insert(0, str(CLIENTS))
_spec = importlib.util.spec_from_file_location("ecl_clients_conftest", CLIENTS / "conftest.py")
_clients = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_clients)

# Re-exported fixtures (pytest finds fixtures by name in this module).
emulator = _clients.emulator
endpoint_url = _clients.endpoint_url
make_client = _clients.make_client
ec = _clients.ec

import helpers  # noqa: E402  (tests/clients/helpers.py, put on sys.path above)

HERE = Path(__file__).resolve().parent


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"redis-server exited with {proc.returncode}")
        if helpers.can_connect("127.0.0.1", port):
            return
        time.sleep(0.05)
    raise RuntimeError("redis-server did not listen within 20 s")


@pytest.fixture(scope="session")
def redis_server_url(tmp_path_factory):
    """A private redis-server 7.0.15 (no persistence), or None when it is not installed."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    port = _free_port()
    workdir = tmp_path_factory.mktemp("redis-server")
    log = open(workdir / "redis-server.log", "wb")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir)],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )
    _wait_port(port, proc)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


@pytest.fixture(scope="session")
def servers(ec, redis_server_url) -> dict[str, str]:
    """Name -> redis:// URL of every server the scenarios run on (ours first)."""
    tag = uuid.uuid4().hex[:8]
    cache_id, group_id, tls_id = f"fw-cache-{tag}", f"fw-group-{tag}", f"fw-tls-{tag}"
    ec.create_cache_cluster(
        CacheClusterId=cache_id, Engine="redis", CacheNodeType="cache.t3.micro", NumCacheNodes=1
    )
    # In-transit encryption, as AWS users turn it on: the frameworks speak TLS (rediss://); the
    # emulator's certificate is self-signed, so verification is off (tests/clients/test_tls.py
    # checks the chain itself).
    ec.create_cache_cluster(
        CacheClusterId=tls_id, Engine="redis", CacheNodeType="cache.t3.micro", NumCacheNodes=1,
        TransitEncryptionEnabled=True,
    )
    ec.create_replication_group(
        ReplicationGroupId=group_id, ReplicationGroupDescription="framework suites",
        Engine="redis", CacheNodeType="cache.t3.micro", NumCacheClusters=2,
    )
    cache = helpers.wait_available(ec, cache_id)
    tls = helpers.wait_available(ec, tls_id)["CacheNodes"][0]["Endpoint"]
    ec.get_waiter("replication_group_available").wait(
        ReplicationGroupId=group_id, WaiterConfig=helpers.FAST_WAITER
    )
    group = ec.describe_replication_groups(ReplicationGroupId=group_id)["ReplicationGroups"][0]
    assert group["ClusterEnabled"] is False
    node = cache["CacheNodes"][0]["Endpoint"]
    primary = group["NodeGroups"][0]["PrimaryEndpoint"]
    urls = {
        "cache": f"redis://{node['Address']}:{node['Port']}/0",
        "group": f"redis://{primary['Address']}:{primary['Port']}/0",
        "tls": f"rediss://{tls['Address']}:{tls['Port']}/0?ssl_cert_reqs=none",
    }
    if redis_server_url:
        urls["redis-server"] = redis_server_url
    yield urls
    ec.delete_replication_group(ReplicationGroupId=group_id)
    ec.delete_cache_cluster(CacheClusterId=cache_id)
    ec.delete_cache_cluster(CacheClusterId=tls_id)


def assert_parity(outcomes: dict[str, object]) -> None:
    """Every server's outcome equals redis-server's (when it ran)."""
    reference = outcomes.get("redis-server")
    if reference is None:
        return
    for name, outcome in outcomes.items():
        assert outcome == reference, f"{name} differs from redis-server 7.0.15"


def assert_outcomes(outcomes: dict[str, dict], expected: dict) -> None:
    """Every server's outcome, apart from its `server_errors`, is `expected`; and every
    server's outcome, errors included, equals redis-server's."""
    for name, outcome in outcomes.items():
        errors = outcome.pop("server_errors")
        assert outcome == expected, name
        outcome["server_errors"] = errors
    assert_parity(outcomes)


def reset_server_stats(url: str) -> None:
    """CONFIG RESETSTAT, so server_errors() counts one scenario only."""
    from redis import Redis

    with Redis.from_url(url) as conn:
        conn.config_resetstat()


def server_errors(url: str) -> dict:
    """The server's account of what went wrong: INFO errorstats codes, and per command whether
    any call was rejected or failed (counts vary with timing and connections; kinds must not)."""
    from redis import Redis

    with Redis.from_url(url) as conn:
        codes = sorted(conn.info("errorstats"))
        refused = {}
        for name, st in conn.info("commandstats").items():
            name = name.removeprefix("cmdstat_")
            kinds = [k for k, n in (("rejected", st["rejected_calls"]), ("failed", st["failed_calls"])) if n]
            if kinds and name != "config|resetstat":
                refused[name] = kinds
    return {"codes": codes, "refused": refused}


def framework_env(url: str) -> dict[str, str]:
    """Environment for a framework worker subprocess: this directory importable, its URL set."""
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = str(HERE) + (":" + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["FRAMEWORK_REDIS_URL"] = url
    return env
