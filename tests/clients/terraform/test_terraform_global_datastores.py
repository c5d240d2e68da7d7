"""Terraform `aws_elasticache_global_replication_group` against the emulator: a primary
replication group in us-east-1, the global datastore over it, and a secondary replication group
in us-west-2 (two provider aliases against one endpoint): apply, clean second plan, data written
in us-east-1 read in us-west-2, destroy (the secondary is disassociated, the datastore deleted
keeping its primary, then the primary deleted). A second configuration makes a cluster mode
enabled datastore go 2 -> 3 -> 2 node groups through `num_node_groups`.

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
from redis.cluster import RedisCluster

from helpers import aws_error
from test_terraform import _assert_no_changes, terraform_in

HERE = Path(__file__).resolve().parent / "global_datastores"

pytestmark = [pytest.mark.terraform, pytest.mark.timeout(1500)]


@pytest.fixture(scope="module")
def terraform_global(tmp_path_factory):
    tf = terraform_in(tmp_path_factory, HERE)
    yield tf
    shutil.rmtree(tf.workdir / ".terraform", ignore_errors=True)


@pytest.fixture(scope="module")
def terraform_global_resharding(tmp_path_factory):
    tf = terraform_in(tmp_path_factory, HERE.parent / "global_resharding")
    yield tf
    shutil.rmtree(tf.workdir / ".terraform", ignore_errors=True)


def test_global_datastore_apply_plan_destroy(terraform_global, endpoint_url, make_client):
    tf = terraform_global
    east, west = make_client("us-east-1"), make_client("us-west-2")
    suffix = uuid.uuid4().hex[:8]
    variables = ["-var", f"endpoint={endpoint_url}", "-var", f"suffix={suffix}"]
    try:
        tf.run("apply", "-auto-approve", "-no-color", *variables)
        outputs = json.loads(tf.run("output", "-json").stdout)
        _assert_no_changes(tf, variables)

        gid = outputs["global_id"]["value"]
        assert gid == f"ldgnf-tf-{suffix}"
        g = west.describe_global_replication_groups(GlobalReplicationGroupId=gid, ShowMemberInfo=True)[
            "GlobalReplicationGroups"
        ][0]
        assert g["Status"] == "available"
        assert [(m["ReplicationGroupId"], m["ReplicationGroupRegion"], m["Role"]) for m in g["Members"]] == [
            (f"tf-gp-{suffix}", "us-east-1", "PRIMARY"),
            (f"tf-gs-{suffix}", "us-west-2", "SECONDARY"),
        ]
        p = redis.Redis(host=outputs["primary_address"]["value"], port=6379, socket_timeout=10, decode_responses=True)
        s = redis.Redis(host=outputs["secondary_reader"]["value"], port=6379, socket_timeout=10, decode_responses=True)
        assert p.set("tf-global", "ok")
        for _ in range(200):
            if s.get("tf-global") == "ok":
                break
            time.sleep(0.05)
        assert s.get("tf-global") == "ok"

        tf.run("destroy", "-auto-approve", "-no-color", *variables)
        with aws_error(east, "GlobalReplicationGroupNotFoundFault", 404, "GlobalReplicationGroupNotFoundFault"):
            east.describe_global_replication_groups(GlobalReplicationGroupId=gid)
        with aws_error(west, "ReplicationGroupNotFoundFault", 404, "ReplicationGroupNotFoundFault"):
            west.describe_replication_groups(ReplicationGroupId=f"tf-gs-{suffix}")
        with aws_error(east, "ReplicationGroupNotFoundFault", 404, "ReplicationGroupNotFoundFault"):
            east.describe_replication_groups(ReplicationGroupId=f"tf-gp-{suffix}")
    finally:
        tf.run("destroy", "-auto-approve", "-no-color", *variables, ok_codes=(0, 1))


def _secondary_has_every_key(address: str, count: int) -> bool:
    sc = RedisCluster(host=address, port=6379, socket_timeout=10, decode_responses=True)
    try:
        return all(sc.get(f"tfk{i}") == str(i) for i in range(count))
    except redis.exceptions.RedisError:
        return False
    finally:
        sc.close()


def test_global_datastore_num_node_groups_up_and_down(terraform_global_resharding, endpoint_url, make_client):
    tf = terraform_global_resharding
    east, west = make_client("us-east-1"), make_client("us-west-2")
    suffix = uuid.uuid4().hex[:8]

    def variables(shards: int) -> list[str]:
        return ["-var", f"endpoint={endpoint_url}", "-var", f"suffix={suffix}", "-var", f"shards={shards}"]

    try:
        tf.run("apply", "-auto-approve", "-no-color", *variables(2))
        _assert_no_changes(tf, variables(2))
        outputs = json.loads(tf.run("output", "-json").stdout)
        gid = outputs["global_id"]["value"]
        pc = RedisCluster(
            host=outputs["primary_configuration"]["value"], port=6379, socket_timeout=10, decode_responses=True
        )
        for i in range(300):
            pc.set(f"tfk{i}", i)
        pc.close()
        secondary = outputs["secondary_configuration"]["value"]
        for shards in (3, 2):
            tf.run("apply", "-auto-approve", "-no-color", *variables(shards))
            _assert_no_changes(tf, variables(shards))
            g = west.describe_global_replication_groups(GlobalReplicationGroupId=gid)["GlobalReplicationGroups"][0]
            assert g["Status"] == "available"
            assert len(g["GlobalNodeGroups"]) == shards
            for client, rg in ((east, f"tf-gsp-{suffix}"), (west, f"tf-gss-{suffix}")):
                group = client.describe_replication_groups(ReplicationGroupId=rg)["ReplicationGroups"][0]
                assert len(group["NodeGroups"]) == shards, rg
            ok = False
            for _ in range(200):
                ok = _secondary_has_every_key(secondary, 300)
                if ok:
                    break
                time.sleep(0.05)
            assert ok, f"the secondary misses keys after going to {shards} node groups"
        tf.run("destroy", "-auto-approve", "-no-color", *variables(2))
        with aws_error(east, "GlobalReplicationGroupNotFoundFault", 404, "GlobalReplicationGroupNotFoundFault"):
            east.describe_global_replication_groups(GlobalReplicationGroupId=gid)
    finally:
        tf.run("destroy", "-auto-approve", "-no-color", *variables(2), ok_codes=(0, 1))
