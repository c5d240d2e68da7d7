"""Terraform and snapshots against the emulator: destroying an `aws_elasticache_replication_group`
with `final_snapshot_identifier` leaves a snapshot holding the group's data; a new
configuration restores a group from it with `snapshot_name`: apply, clean second plan, every
key read back with redis-py.

Reuses the harness of test_terraform.py (offline provider mirror, skipped when missing).
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from pathlib import Path

import pytest
import redis

from helpers import aws_error
from test_terraform import _assert_no_changes, terraform_in

HERE = Path(__file__).resolve().parent / "snapshots"

pytestmark = [pytest.mark.terraform, pytest.mark.timeout(1500)]

KEYS = {f"tf:key:{i}": f"value-{i}" for i in range(100)}


@pytest.fixture(scope="module")
def terraform_snap(tmp_path_factory):
    source = terraform_in(tmp_path_factory, HERE / "source")
    restore = terraform_in(tmp_path_factory, HERE / "restore")
    yield source, restore
    for tf in (source, restore):
        shutil.rmtree(tf.workdir / ".terraform", ignore_errors=True)


def _wait_snapshot(ec, name: str) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        snaps = ec.describe_snapshots(SnapshotName=name)["Snapshots"]
        if snaps and snaps[0]["SnapshotStatus"] == "available":
            return snaps[0]
        time.sleep(0.1)
    raise AssertionError(f"final snapshot {name} not available")


def test_final_snapshot_on_destroy_then_restore_with_snapshot_name(terraform_snap, endpoint_url, make_client):
    source, restore = terraform_snap
    ec = make_client()
    suffix = uuid.uuid4().hex[:8]
    variables = ["-var", f"endpoint={endpoint_url}", "-var", f"suffix={suffix}"]
    src_id, rst_id, snap = f"tf-snapsrc-{suffix}", f"tf-snaprst-{suffix}", f"tf-final-{suffix}"
    try:
        source.run("apply", "-auto-approve", "-no-color", *variables)
        primary = json.loads(source.run("output", "-json").stdout)["primary_address"]["value"]
        p = redis.Redis(host=primary, port=6379, socket_timeout=10, decode_responses=True)
        p.mset(KEYS)
        p.set("tf:ttl", "expiring", ex=3600)

        source.run("destroy", "-auto-approve", "-no-color", *variables)
        with aws_error(ec, "ReplicationGroupNotFoundFault", 404, "ReplicationGroupNotFoundFault"):
            ec.describe_replication_groups(ReplicationGroupId=src_id)
        taken = _wait_snapshot(ec, snap)
        assert taken["ReplicationGroupId"] == src_id and taken["SnapshotSource"] == "manual"

        restore.run("apply", "-auto-approve", "-no-color", *variables)
        _assert_no_changes(restore, variables)
        group = ec.describe_replication_groups(ReplicationGroupId=rst_id)["ReplicationGroups"][0]
        assert group["Status"] == "available" and len(group["MemberClusters"]) == 2
        primary = json.loads(restore.run("output", "-json").stdout)["primary_address"]["value"]
        assert group["NodeGroups"][0]["PrimaryEndpoint"]["Address"] == primary
        r = redis.Redis(host=primary, port=6379, socket_timeout=10, decode_responses=True)
        assert {k: r.get(k) for k in KEYS} == KEYS
        assert r.get("tf:ttl") == "expiring" and 3000 < r.ttl("tf:ttl") <= 3600
        assert r.dbsize() == len(KEYS) + 1
        # The replica of the restored group has the data too.
        replica = next(m for m in group["NodeGroups"][0]["NodeGroupMembers"] if m["CurrentRole"] == "replica")
        rr = redis.Redis(host=replica["ReadEndpoint"]["Address"], port=replica["ReadEndpoint"]["Port"], decode_responses=True)
        deadline = time.monotonic() + 10
        while rr.dbsize() != len(KEYS) + 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert rr.get("tf:key:42") == "value-42"

        restore.run("destroy", "-auto-approve", "-no-color", *variables)
        with aws_error(ec, "ReplicationGroupNotFoundFault", 404, "ReplicationGroupNotFoundFault"):
            ec.describe_replication_groups(ReplicationGroupId=rst_id)
    finally:
        restore.run("destroy", "-auto-approve", "-no-color", *variables, ok_codes=(0, 1))
        source.run("destroy", "-auto-approve", "-no-color", *variables, ok_codes=(0, 1))
        try:
            ec.delete_snapshot(SnapshotName=snap)
        except Exception:
            pass
