"""Terraform `aws_elasticache_serverless_cache` against the emulator: a Valkey cache with usage
limits, snapshot settings and tags plus a Memcached cache; apply, clean plan, data written over
TLS, an in-place update (description, data limit, a tag) that keeps the data, clean plan,
destroy.

Reuses the harness of test_terraform.py (offline provider mirror, skipped when missing).
"""

from __future__ import annotations

import json
import shutil
import urllib.request
import uuid
from pathlib import Path

import pytest
from redis.cluster import RedisCluster

from helpers import aws_error
from test_terraform import _assert_no_changes, _plan_actions, terraform_in

HERE = Path(__file__).resolve().parent / "serverless"

pytestmark = [pytest.mark.terraform, pytest.mark.timeout(1500)]


@pytest.fixture(scope="module")
def terraform_serverless(tmp_path_factory):
    tf = terraform_in(tmp_path_factory, HERE)
    yield tf
    shutil.rmtree(tf.workdir / ".terraform", ignore_errors=True)


def _vars(endpoint: str, suffix: str, stage: str, data_max: int) -> list[str]:
    values = {"endpoint": endpoint, "suffix": suffix, "stage": stage, "data_max": str(data_max)}
    out: list[str] = []
    for k, v in values.items():
        out += ["-var", f"{k}={v}"]
    return out


def test_serverless_apply_update_destroy(terraform_serverless, endpoint_url, make_client, tmp_path):
    tf = terraform_serverless
    ec = make_client()
    suffix = uuid.uuid4().hex[:8]
    name, mc_name = f"tf-sls-{suffix}", f"tf-slsmc-{suffix}"
    v1 = _vars(endpoint_url, suffix, "one", 1)
    v2 = _vars(endpoint_url, suffix, "two", 3)
    ca = tmp_path / "ca.pem"
    ca.write_bytes(urllib.request.urlopen(f"{endpoint_url}/_elasticache_local/ca.pem", timeout=10).read())
    try:
        tf.run("apply", "-auto-approve", "-no-color", *v1)
        _assert_no_changes(tf, v1)
        cache = ec.describe_serverless_caches(ServerlessCacheName=name)["ServerlessCaches"][0]
        assert cache["Status"] == "available" and cache["Engine"] == "valkey"
        assert cache["CacheUsageLimits"]["DataStorage"] == {"Maximum": 1, "Unit": "GB"}
        assert cache["DailySnapshotTime"] == "04:00" and cache["SnapshotRetentionLimit"] == 2
        outputs = json.loads(tf.run("output", "-json").stdout)
        assert outputs["address"]["value"] == cache["Endpoint"]["Address"]
        assert outputs["port"]["value"] == cache["Endpoint"]["Port"]
        assert outputs["reader_port"]["value"] == cache["ReaderEndpoint"]["Port"]
        mc = ec.describe_serverless_caches(ServerlessCacheName=mc_name)["ServerlessCaches"][0]
        assert mc["Status"] == "available" and outputs["memcached_address"]["value"] == mc["Endpoint"]["Address"]

        rc = RedisCluster(
            host=cache["Endpoint"]["Address"], port=cache["Endpoint"]["Port"], ssl=True, ssl_ca_certs=str(ca)
        )
        rc.set("tf", "kept")

        actions = _plan_actions(tf, v2)
        changed = {addr: act for addr, act in actions.items() if act != ["no-op"]}
        assert changed == {"aws_elasticache_serverless_cache.valkey": ["update"]}, changed
        tf.run("apply", "-auto-approve", "-no-color", "tfplan")
        _assert_no_changes(tf, v2)
        cache = ec.describe_serverless_caches(ServerlessCacheName=name)["ServerlessCaches"][0]
        assert cache["Description"] == "serverless two"
        assert cache["CacheUsageLimits"]["DataStorage"]["Maximum"] == 3
        tags = {t["Key"]: t["Value"] for t in ec.list_tags_for_resource(ResourceName=cache["ARN"])["TagList"]}
        assert tags == {"suite": "terraform", "stage": "two"}
        assert rc.get("tf") == b"kept"
        node = rc.get_primaries()[0]
        assert rc.config_get("maxmemory", target_nodes=node)["maxmemory"] == str(3 << 30)
        rc.close()

        tf.run("destroy", "-auto-approve", "-no-color", *v2)
        for gone in (name, mc_name):
            with aws_error(ec, "ServerlessCacheNotFoundFault", 404, "ServerlessCacheNotFoundFault"):
                ec.describe_serverless_caches(ServerlessCacheName=gone)
    finally:
        tf.run("destroy", "-auto-approve", "-no-color", *v2, ok_codes=(0, 1))
