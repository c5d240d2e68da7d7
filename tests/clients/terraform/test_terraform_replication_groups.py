"""Terraform `aws_elasticache_replication_group` against the emulator: a cluster mode disabled
group (2 replicas, automatic failover, port 6379) and a cluster mode enabled group (3 shards x 1
replica): apply, clean plan, in-place update (replica counts, tags), clean plan, destroy.

Reuses the harness of test_terraform.py (offline provider mirror, skipped when missing).
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest
import redis

from helpers import aws_error
from test_terraform import _assert_no_changes, _plan_actions, terraform_in

HERE = Path(__file__).resolve().parent / "replication_groups"

pytestmark = [pytest.mark.terraform, pytest.mark.timeout(1500)]


@pytest.fixture(scope="module")
def terraform_rg(tmp_path_factory):
    tf = terraform_in(tmp_path_factory, HERE)
    yield tf
    shutil.rmtree(tf.workdir / ".terraform", ignore_errors=True)


def _vars(endpoint: str, suffix: str, stage: str, cmd_clusters: int, cme_replicas: int) -> list[str]:
    values = {
        "endpoint": endpoint,
        "suffix": suffix,
        "stage": stage,
        "cmd_clusters": str(cmd_clusters),
        "cme_replicas": str(cme_replicas),
    }
    out: list[str] = []
    for k, v in values.items():
        out += ["-var", f"{k}={v}"]
    return out


def test_replication_groups_apply_update_destroy(terraform_rg, endpoint_url, make_client):
    tf = terraform_rg
    ec = make_client()
    suffix = uuid.uuid4().hex[:8]
    cmd_id, cme_id = f"tf-cmd-{suffix}", f"tf-cme-{suffix}"
    v1 = _vars(endpoint_url, suffix, "one", 3, 1)
    v2 = _vars(endpoint_url, suffix, "two", 4, 2)
    try:
        tf.run("apply", "-auto-approve", "-no-color", *v1)
        outputs = json.loads(tf.run("output", "-json").stdout)
        _assert_no_changes(tf, v1)

        cmd = ec.describe_replication_groups(ReplicationGroupId=cmd_id)["ReplicationGroups"][0]
        assert cmd["Status"] == "available" and len(cmd["MemberClusters"]) == 3
        assert cmd["AutomaticFailover"] == "enabled"
        ng = cmd["NodeGroups"][0]
        assert ng["PrimaryEndpoint"]["Address"] == outputs["primary_address"]["value"]
        assert ng["PrimaryEndpoint"]["Port"] == 6379
        p = redis.Redis(host=outputs["primary_address"]["value"], port=6379, socket_timeout=10, decode_responses=True)
        assert p.set("tf", "ok")
        assert p.execute_command("WAIT", 2, 5000) == 2
        cme = ec.describe_replication_groups(ReplicationGroupId=cme_id)["ReplicationGroups"][0]
        assert cme["ClusterEnabled"] is True and len(cme["MemberClusters"]) == 6
        assert cme["ConfigurationEndpoint"]["Address"] == outputs["configuration_address"]["value"]

        # In place: one more replica everywhere, new tags; nothing replaced.
        actions = _plan_actions(tf, v2)
        changed = {addr: act for addr, act in actions.items() if act != ["no-op"]}
        assert set(changed) == {
            "aws_elasticache_replication_group.cmd",
            "aws_elasticache_replication_group.cme",
        }, changed
        assert all(act == ["update"] for act in changed.values()), changed
        tf.run("apply", "-auto-approve", "-no-color", "tfplan")
        _assert_no_changes(tf, v2)
        cmd = ec.describe_replication_groups(ReplicationGroupId=cmd_id)["ReplicationGroups"][0]
        assert len(cmd["MemberClusters"]) == 4
        newest = next(m for m in cmd["NodeGroups"][0]["NodeGroupMembers"] if m["CacheClusterId"] == f"{cmd_id}-004")
        r = redis.Redis(host=newest["ReadEndpoint"]["Address"], port=newest["ReadEndpoint"]["Port"], decode_responses=True)
        assert r.get("tf") == "ok"
        cme = ec.describe_replication_groups(ReplicationGroupId=cme_id)["ReplicationGroups"][0]
        assert [len(ng["NodeGroupMembers"]) for ng in cme["NodeGroups"]] == [3, 3, 3]
        tags = {t["Key"]: t["Value"] for t in ec.list_tags_for_resource(ResourceName=cmd["ARN"])["TagList"]}
        assert tags == {"suite": "terraform", "stage": "two"}

        tf.run("destroy", "-auto-approve", "-no-color", *v2)
        for gid in (cmd_id, cme_id):
            with aws_error(ec, "ReplicationGroupNotFoundFault", 404, "ReplicationGroupNotFoundFault"):
                ec.describe_replication_groups(ReplicationGroupId=gid)
    finally:
        tf.run("destroy", "-auto-approve", "-no-color", *v2, ok_codes=(0, 1))
