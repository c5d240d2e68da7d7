"""README's "Quick start by client" runs as written: its Python blocks, in order and in one
namespace, against this suite's emulator (only the endpoint URL is swapped for the fixture's),
and the aws-cli environment variable it names reaches the emulator.

A quick start that drifts from what the emulator does is the first thing a new user meets.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = re.compile(r"^### Quick start by client\n(?P<body>.*?)(?=^### )", re.S | re.M)
PYTHON_BLOCK = re.compile(r"^```python\n(?P<code>.*?)^```", re.S | re.M)
README_ENDPOINT = "http://127.0.0.1:4566"


def quick_start_python_blocks() -> list[str]:
    section = SECTION.search(README.read_text())
    assert section, "README has no '### Quick start by client' section"
    blocks = [m["code"] for m in PYTHON_BLOCK.finditer(section["body"])]
    assert len(blocks) >= 3, "boto3 + redis-py, RedisCluster and pymemcache blocks expected"
    return blocks


def test_python_quick_start_runs_as_written(endpoint_url, ec, resources):
    for cluster_id in ("py-demo", "py-mc"):
        resources.cluster(ec, cluster_id)
    namespace: dict = {}
    try:
        for block in quick_start_python_blocks():
            exec(compile(block.replace(README_ENDPOINT, endpoint_url), "README.md", "exec"), namespace)
        # What the blocks left behind is real: the data went through the reported endpoints.
        assert namespace["r"].get("greeting") == "hello"
        assert sum(1 for i in range(100) if namespace["rc"].get(f"item:{i}") == str(i)) == 100
        assert namespace["mc"].get("session:1") == b"alice"
    finally:
        try:
            ec.delete_replication_group(ReplicationGroupId="py-shop")
        except Exception:  # not created if an earlier block failed; that failure is reported
            pass


def test_aws_cli_service_endpoint_variable(endpoint_url, aws):
    assert "export AWS_ENDPOINT_URL_ELASTICACHE=http://127.0.0.1:4566" in README.read_text()
    env = dict(aws.env, AWS_ENDPOINT_URL_ELASTICACHE=endpoint_url)
    out = subprocess.run([*aws.base, "elasticache", "describe-cache-engine-versions", "--engine", "redis",
                          "--max-items", "1", "--output", "json"],
                         env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    assert '"Engine": "redis"' in out.stdout
