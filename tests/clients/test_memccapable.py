"""libmemcached's `memccapable` (Debian libmemcached-tools), a protocol conformance suite we did not
write, run against a Memcached node created through the API and against Debian's memcached in the
same run: every one of its ASCII and binary checks must pass on ours wherever it passes on theirs.

Held out until 2026-12-06, it found `version foo bar` answered ERROR (memcached ignores the extra
tokens) — a corner our own oracle's grammar had never produced.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time

import pytest

from helpers import create_memcached, node_endpoints

MEMCCAPABLE = shutil.which("memccapable")
MEMCACHED = shutil.which("memcached")
RESULT = re.compile(r"^(?P<name>(?:ascii|binary) [\w ]+?)\s+\[(?P<verdict>pass|FAIL|skipped)\]", re.M)

pytestmark = pytest.mark.skipif(
    MEMCCAPABLE is None or MEMCACHED is None,
    reason="memccapable (libmemcached-tools) or memcached is not installed",
)


def run_memccapable(host: str, port: int) -> dict[str, str]:
    """Test name -> pass/FAIL/skipped, from one full memccapable run."""
    proc = subprocess.run(
        [MEMCCAPABLE, "-h", host, "-p", str(port), "-t", "5"],
        capture_output=True, text=True, timeout=180,
    )
    results = {m["name"]: m["verdict"] for m in RESULT.finditer(proc.stdout)}
    assert results, f"memccapable printed no results:\n{proc.stdout}\n{proc.stderr}"
    return results


@pytest.fixture
def reference_memcached():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([MEMCACHED, "-u", "nobody", "-l", "127.0.0.1", "-p", str(port), "-U", "0"])
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "reference memcached did not start"
                time.sleep(0.05)
        yield ("127.0.0.1", port)
    finally:
        proc.kill()
        proc.wait()


def test_memccapable_passes_on_our_node_as_on_memcached(ec, resources, uid, reference_memcached):
    cluster = create_memcached(ec, resources, uid("mcap"), nodes=1)
    host, port = next(iter(node_endpoints(cluster).values()))

    theirs = run_memccapable(*reference_memcached)
    ours = run_memccapable(host, port)

    assert set(ours) == set(theirs), "both runs list the same checks"
    assert len(ours) >= 50, f"memccapable ran only {len(ours)} checks"
    regressions = sorted(name for name, verdict in theirs.items() if verdict == "pass" and ours[name] != "pass")
    assert not regressions, f"pass on memcached, not on ours: {regressions}"
    assert all(v == "pass" for v in ours.values()), ours
