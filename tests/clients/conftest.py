"""Shared fixtures for the client suites: a real emulator process, boto3 clients, aws-cli.

Every suite under ``tests/clients/`` drives the real ``elasticache-local`` binary (built by
``cargo build``; override with ``ECL_BINARY``) with stock clients. The emulator is started once
per pytest session (once per xdist worker) on a free port, with its own random block of loopback
addresses so several sessions (xdist workers, other developers' test runs) can serve node
endpoints on the default ports 6379/11211 side by side.

Environment knobs:
  ECL_BINARY           path of the emulator binary (default: target/debug/elasticache-local)
  ECL_ENDPOINT         use an already running emulator at this URL instead of starting one
  ECL_TEST_ADDRESSING  ``loopback`` (default on Linux) or ``ports``
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent))

import helpers  # noqa: E402
from helpers import AwsCli, ResourceTracker  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
DUMMY_ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
DUMMY_SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
DEFAULT_REGION = "us-east-1"
# The account the emulator derives from any access key that is not a 12-digit account id.
DEFAULT_ACCOUNT = "000000000000"

STARTUP_TIMEOUT_S = 60
SHUTDOWN_TIMEOUT_S = 30


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _binary() -> Path:
    env = os.environ.get("ECL_BINARY")
    path = Path(env) if env else REPO_ROOT / "target" / "debug" / "elasticache-local"
    if not path.exists():
        pytest.exit(
            f"emulator binary {path} not found: run `cargo build` first (or set ECL_BINARY)",
            returncode=2,
        )
    return path


class Emulator:
    """A running emulator process and where to reach it."""

    def __init__(self, proc: subprocess.Popen | None, endpoint: str, log_path: Path | None):
        self.proc = proc
        self.endpoint = endpoint
        self.log_path = log_path

    def log_tail(self, lines: int = 60) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def assert_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(
                f"emulator exited with code {self.proc.returncode}; log tail:\n{self.log_tail()}"
            )


def _wait_healthy(url: str, proc: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    last_err: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"emulator exited during startup with code {proc.returncode}:\n"
                + log_path.read_text(errors="replace")[-4000:]
            )
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except Exception as err:  # not listening yet
            last_err = err
        time.sleep(0.1)
    raise RuntimeError(f"emulator not healthy after {STARTUP_TIMEOUT_S}s: {last_err}")


@pytest.fixture(scope="session")
def emulator(tmp_path_factory) -> Emulator:
    """Start the real emulator binary for this session; stop it with SIGTERM at the end."""
    external = os.environ.get("ECL_ENDPOINT")
    if external:
        yield Emulator(None, external.rstrip("/"), None)
        return

    binary = _binary()
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("emulator") / "emulator.log"
    args = [str(binary), "--listen", f"127.0.0.1:{port}", "--log", "info"]
    addressing = helpers.ADDRESSING
    if addressing == "loopback":
        # A random /24 inside 127/8 that no other test session is likely to use, so node
        # endpoints can listen on the default ports 6379/11211 without clashing.
        base = f"127.{random.randint(100, 250)}.{random.randint(0, 255)}.1"
        args += ["--addressing", "loopback", "--loopback-base", base]
    else:
        # Below Linux's ephemeral range (32768-60999 by default): an outgoing client socket may
        # otherwise take a port of the range before a node binds it.
        first = random.randint(20000, 31000)
        args += ["--addressing", "ports", "--port-range", f"{first}-{first + 999}"]
        helpers.PORT_RANGE = (first, first + 999)
    env = dict(os.environ)
    env.pop("ELASTICACHE_LOCAL_LISTEN", None)
    env["NO_COLOR"] = "1"
    log = open(log_path, "wb")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    emu = Emulator(proc, endpoint, log_path)
    try:
        _wait_healthy(endpoint, proc, log_path)
    except Exception:
        proc.kill()
        proc.wait()
        log.close()
        raise
    yield emu

    # Teardown: a clean SIGTERM must stop every node and exit 0.
    alive_before = proc.poll() is None
    if alive_before:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=SHUTDOWN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            log.close()
            raise AssertionError(
                f"emulator did not exit within {SHUTDOWN_TIMEOUT_S}s of SIGTERM; log tail:\n{emu.log_tail()}"
            )
    else:
        code = proc.returncode
    log.close()
    assert alive_before, f"emulator died during the tests (exit {code}); log tail:\n{emu.log_tail()}"
    assert code == 0, f"emulator exited with {code} on SIGTERM; log tail:\n{emu.log_tail()}"


@pytest.fixture(scope="session")
def endpoint_url(emulator) -> str:
    """Base URL of the ElastiCache Query API of the session's emulator."""
    return emulator.endpoint


# No retries: the emulator must never answer 5xx, and retries would hide it (and slow tests).
_BOTO_CONFIG = Config(retries={"total_max_attempts": 1}, connect_timeout=10, read_timeout=60)


@pytest.fixture(scope="session")
def make_client(endpoint_url):
    """Factory: an ElastiCache boto3 client for a region and access key (account isolation)."""

    def make(region: str = DEFAULT_REGION, access_key: str = DUMMY_ACCESS_KEY):
        return boto3.client(
            "elasticache",
            region_name=region,
            endpoint_url=endpoint_url,
            aws_access_key_id=access_key,
            aws_secret_access_key=DUMMY_SECRET_KEY,
            config=_BOTO_CONFIG,
        )

    return make


@pytest.fixture(scope="session")
def ec(make_client):
    """The default boto3 ElastiCache client: us-east-1, dummy credentials (account 000000000000)."""
    return make_client()


@pytest.fixture(scope="session")
def aws(endpoint_url) -> AwsCli:
    """Runs aws-cli against the emulator with dummy credentials from the environment."""
    return AwsCli(endpoint_url, DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY, DEFAULT_REGION)


@pytest.fixture
def uid(request) -> "callable":
    """Unique, valid identifiers per test: ``uid('redis')`` -> ``redis-3f9a1c2b``."""

    def make(prefix: str = "t") -> str:
        return f"{prefix}-{uuid.uuid4().hex[:8]}"

    return make


@pytest.fixture
def resources(make_client, emulator):
    """Tracks resources a test creates and deletes them afterwards (clusters first)."""
    tracker = ResourceTracker(make_client)
    yield tracker
    tracker.cleanup()
    emulator.assert_alive()
