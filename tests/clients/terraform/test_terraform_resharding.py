"""Terraform `aws_elasticache_replication_group` resharding against the emulator: a cluster mode
enabled group (1 replica per shard) going num_node_groups 2 -> 4 -> 3 with data in it: apply,
clean second plan, in-place update (ModifyReplicationGroupShardConfiguration, the provider
removing the highest node group ids), clean plan after each, destroy.

Reuses the harness of test_terraform.py (offline provider mirror, skipped when missing).
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest
from redis.cluster import RedisCluster

from helpers import aws_error
from test_terraform import _assert_no_changes, _plan_actions, terraform_in

HERE = Path(__file__).resolve().parent / "resharding"

pytestmark = [pytest.mark.terraform, pytest.mark.timeout(1500)]


@pytest.fixture(scope="module")
def terraform_rs(tmp_path_factory):
    tf = terraform_in(tmp_path_factory, HERE)
    yield tf
    shutil.rmtree(tf.workdir / ".terraform", ignore_errors=True)


def _vars(endpoint: str, suffix: str, shards: int) -> list[str]:
    return ["-var", f"endpoint={endpoint}", "-var", f"suffix={suffix}", "-var", f"shards={shards}"]


def test_num_node_groups_two_four_three(terraform_rs, endpoint_url, make_client):
    tf = terraform_rs
    ec = make_client()
    suffix = uuid.uuid4().hex[:8]
    gid = f"tf-rs-{suffix}"
    last = _vars(endpoint_url, suffix, 2)
    try:
        tf.run("apply", "-auto-approve", "-no-color", *last)
        _assert_no_changes(tf, last)
        outputs = json.loads(tf.run("output", "-json").stdout)
        rc = RedisCluster(
            host=outputs["configuration_address"]["value"],
            port=outputs["configuration_port"]["value"],
            decode_responses=True,
            socket_timeout=10,
        )
        for i in range(3000):
            rc.set(f"tf:{i}", i)

        for shards, ids in ((4, ["0001", "0002", "0003", "0004"]), (3, ["0001", "0002", "0003"])):
            step = _vars(endpoint_url, suffix, shards)
            actions = _plan_actions(tf, step)
            changed = {addr: act for addr, act in actions.items() if act != ["no-op"]}
            assert changed == {"aws_elasticache_replication_group.sharded": ["update"]}, changed
            tf.run("apply", "-auto-approve", "-no-color", "tfplan")
            _assert_no_changes(tf, step)
            last = step
            group = ec.describe_replication_groups(ReplicationGroupId=gid)["ReplicationGroups"][0]
            assert group["Status"] == "available"
            assert [ng["NodeGroupId"] for ng in group["NodeGroups"]] == ids
            assert all(len(ng["NodeGroupMembers"]) == 2 for ng in group["NodeGroups"])
            sizes = []
            for ng in group["NodeGroups"]:
                sizes.append(sum(int(b or a) - int(a) + 1 for a, _, b in (p.partition("-") for p in ng["Slots"].split(","))))
            assert sum(sizes) == 16384 and max(sizes) - min(sizes) <= 1
            assert [rc.get(f"tf:{i}") for i in range(3000)] == [str(i) for i in range(3000)]

        tf.run("destroy", "-auto-approve", "-no-color", *last)
        with aws_error(ec, "ReplicationGroupNotFoundFault", 404, "ReplicationGroupNotFoundFault"):
            ec.describe_replication_groups(ReplicationGroupId=gid)
    finally:
        tf.run("destroy", "-auto-approve", "-no-color", *last, ok_codes=(0, 1))
