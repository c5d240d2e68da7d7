"""Terraform `aws_elasticache_user`, `aws_elasticache_user_group` and a replication group with
`user_group_ids` against the emulator: apply, clean plan, an IAM user (`authentication_mode {
type = "iam" }`) connecting with a botocore-built token, in-place update (the app user's access
string and tags), clean plan, destroy.

Reuses the harness of test_terraform.py (offline provider mirror, skipped when missing).
"""

from __future__ import annotations

import json
import shutil
import sys
import urllib.request
import uuid
from pathlib import Path

import boto3
import pytest
import redis

from helpers import aws_error
from test_terraform import _assert_no_changes, _plan_actions, terraform_in

HERE = Path(__file__).resolve().parent / "rbac"
sys.path.insert(0, str(HERE.parents[3] / "examples" / "iam_auth"))

from iam_auth import generate_iam_auth_token  # noqa: E402

pytestmark = [pytest.mark.terraform, pytest.mark.timeout(1500)]


@pytest.fixture(scope="module")
def terraform_rbac(tmp_path_factory):
    tf = terraform_in(tmp_path_factory, HERE)
    yield tf
    shutil.rmtree(tf.workdir / ".terraform", ignore_errors=True)


def _vars(endpoint: str, suffix: str, stage: str, app_access: str) -> list[str]:
    values = {"endpoint": endpoint, "suffix": suffix, "stage": stage, "app_access": app_access}
    out: list[str] = []
    for k, v in values.items():
        out += ["-var", f"{k}={v}"]
    return out


def _assert_iam_user_connects(tf, endpoint_url: str, rg_id: str, user: str, tmp_path: Path) -> None:
    """The IAM user Terraform created authenticates with a token signed by `test`/`test`."""
    outputs = json.loads(tf.run("output", "-json").stdout)
    ca = tmp_path / "ca.pem"
    ca.write_bytes(urllib.request.urlopen(f"{endpoint_url}/_elasticache_local/ca.pem", timeout=10).read())
    creds = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test")
    token = generate_iam_auth_token(rg_id, user, "us-east-1", creds)
    client = redis.Redis(
        host=outputs["primary_address"]["value"],
        port=outputs["port"]["value"],
        ssl=True,
        ssl_ca_certs=str(ca),
        username=user,
        password=token,
        socket_timeout=10,
        decode_responses=True,
    )
    assert client.acl_whoami() == user


def test_rbac_apply_update_destroy(terraform_rbac, endpoint_url, make_client, tmp_path):
    tf = terraform_rbac
    ec = make_client()
    suffix = uuid.uuid4().hex[:8]
    app_id, def_id, iam_id, ug_id, rg_id = (f"tf-{k}-{suffix}" for k in ("app", "def", "iam", "ug", "rbac"))
    v1 = _vars(endpoint_url, suffix, "one", "on ~app:* -@all +get")
    v2 = _vars(endpoint_url, suffix, "two", "on ~app:* -@all +get +set")
    try:
        tf.run("apply", "-auto-approve", "-no-color", *v1)
        _assert_no_changes(tf, v1)
        rg = ec.describe_replication_groups(ReplicationGroupId=rg_id)["ReplicationGroups"][0]
        assert rg["UserGroupIds"] == [ug_id] and rg["TransitEncryptionEnabled"] is True
        ug = ec.describe_user_groups(UserGroupId=ug_id)["UserGroups"][0]
        assert ug["Status"] == "active" and ug["ReplicationGroups"] == [rg_id]
        assert sorted(ug["UserIds"]) == sorted([app_id, def_id, iam_id])
        app = ec.describe_users(UserId=app_id)["Users"][0]
        assert app["AccessString"] == "on ~app:* -@all +get"
        assert app["Authentication"] == {"Type": "password", "PasswordCount": 1}
        assert ec.describe_users(UserId=iam_id)["Users"][0]["Authentication"] == {"Type": "iam"}
        _assert_iam_user_connects(tf, endpoint_url, rg_id, iam_id, tmp_path)

        # In place: the app user's access string and tags change; nothing is replaced.
        actions = _plan_actions(tf, v2)
        changed = {addr: act for addr, act in actions.items() if act != ["no-op"]}
        assert changed == {"aws_elasticache_user.app": ["update"]}, changed
        tf.run("apply", "-auto-approve", "-no-color", "tfplan")
        _assert_no_changes(tf, v2)
        app = ec.describe_users(UserId=app_id)["Users"][0]
        assert app["AccessString"] == "on ~app:* -@all +get +set"
        tags = {t["Key"]: t["Value"] for t in ec.list_tags_for_resource(ResourceName=app["ARN"])["TagList"]}
        assert tags == {"suite": "terraform", "stage": "two"}

        tf.run("destroy", "-auto-approve", "-no-color", *v2)
        with aws_error(ec, "ReplicationGroupNotFoundFault", 404, "ReplicationGroupNotFoundFault"):
            ec.describe_replication_groups(ReplicationGroupId=rg_id)
        with aws_error(ec, "UserGroupNotFound", 404, "UserGroupNotFoundFault"):
            ec.describe_user_groups(UserGroupId=ug_id)
        for user in (app_id, def_id, iam_id):
            with aws_error(ec, "UserNotFound", 404, "UserNotFoundFault"):
                ec.describe_users(UserId=user)
    finally:
        tf.run("destroy", "-auto-approve", "-no-color", *v2, ok_codes=(0, 1))
