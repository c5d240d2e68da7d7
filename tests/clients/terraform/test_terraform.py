"""Terraform AWS provider against the emulator: apply, no drift, in-place update, no drift, destroy.

Uses the real `terraform` binary and an offline mirror of the hashicorp/aws provider, found on
this machine (no network). Skipped cleanly when either is missing. Slow by nature: Terraform
waits 30 s before it first polls a cache cluster, whatever the emulator's speed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import redis
from pymemcache.client.base import Client as MemcacheClient

from helpers import aws_error, config_get_cluster, wait_port_closed

HERE = Path(__file__).resolve().parent
PROVIDER_PATH = Path("registry.terraform.io") / "hashicorp" / "aws"
MIRROR_ROOTS = ["/opt", "/usr/share", "/usr/local/share", "/usr/local/lib", "~/.terraform.d", "~/.local/share/terraform"]
MAX_DEPTH = 4

pytestmark = [pytest.mark.terraform, pytest.mark.timeout(1200)]


def find_provider_mirror() -> Path | None:
    """A directory holding registry.terraform.io/hashicorp/aws, searched to a bounded depth."""
    explicit = os.environ.get("ECL_TF_MIRROR")
    candidates = [explicit] if explicit else []
    candidates += MIRROR_ROOTS
    for root in candidates:
        root_path = Path(os.path.expanduser(root))
        if not root_path.is_dir():
            continue
        base_depth = len(root_path.parts)
        for dirpath, dirnames, _ in os.walk(root_path):
            here = Path(dirpath)
            if (here / PROVIDER_PATH).is_dir() and any((here / PROVIDER_PATH).iterdir()):
                return here
            if len(here.parts) - base_depth >= MAX_DEPTH:
                dirnames[:] = []
            # Do not descend into the mirror-like trees of unrelated tools or huge folders.
            dirnames[:] = [d for d in dirnames if not d.startswith(".") or d == ".terraform.d"]
    return None


class Terraform:
    def __init__(self, workdir: Path, cli_config: Path):
        self.workdir = workdir
        self.env = dict(os.environ)
        self.env.update(
            {
                "TF_CLI_CONFIG_FILE": str(cli_config),
                "TF_IN_AUTOMATION": "1",
                "TF_INPUT": "0",
                "CHECKPOINT_DISABLE": "1",
                "AWS_EC2_METADATA_DISABLED": "true",
            }
        )
        for var in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "TF_PLUGIN_CACHE_DIR"):
            self.env.pop(var, None)

    def run(self, *args: str, ok_codes=(0,), timeout: float = 900) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            ["terraform", *args],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if proc.returncode not in ok_codes:
            raise AssertionError(
                f"terraform {' '.join(args)} exited {proc.returncode}\n--- stdout\n{proc.stdout[-6000:]}\n"
                f"--- stderr\n{proc.stderr[-6000:]}"
            )
        return proc


def _vars(endpoint: str, suffix: str, stage: str, nodes: int, policy: str) -> list[str]:
    values = {
        "endpoint": endpoint,
        "suffix": suffix,
        "stage": stage,
        "memcached_nodes": str(nodes),
        "maxmemory_policy": policy,
    }
    out = []
    for k, v in values.items():
        out += ["-var", f"{k}={v}"]
    return out


def _plan_actions(tf: Terraform, variables: list[str]) -> dict[str, list[str]]:
    tf.run("plan", "-out=tfplan", "-no-color", *variables)
    shown = json.loads(tf.run("show", "-json", "tfplan").stdout)
    return {rc["address"]: rc["change"]["actions"] for rc in shown.get("resource_changes", [])}


def _assert_no_changes(tf: Terraform, variables: list[str]) -> None:
    proc = tf.run("plan", "-detailed-exitcode", "-no-color", *variables, ok_codes=(0, 2))
    assert proc.returncode == 0, f"plan after apply shows drift:\n{proc.stdout[-6000:]}"


def terraform_in(tmp_path_factory, source: Path) -> Terraform:
    """An initialised Terraform working directory holding `source`'s main.tf, with the AWS
    provider from the offline mirror; skips the test when terraform or the mirror is missing."""
    if shutil.which("terraform") is None:
        pytest.skip("terraform is not on PATH: Terraform suite skipped")
    mirror = find_provider_mirror()
    if mirror is None:
        pytest.skip("no offline hashicorp/aws provider mirror found (set ECL_TF_MIRROR): Terraform suite skipped")
    work = tmp_path_factory.mktemp(f"terraform-{source.name}")
    shutil.copy(source / "main.tf", work / "main.tf")
    cli_config = work / "cli.tfrc"
    cli_config.write_text(
        "provider_installation {\n"
        f"  filesystem_mirror {{\n    path    = {json.dumps(str(mirror))}\n"
        '    include = ["registry.terraform.io/hashicorp/aws"]\n  }\n'
        '  direct {\n    exclude = ["registry.terraform.io/hashicorp/aws"]\n  }\n'
        "}\n"
    )
    tf = Terraform(work, cli_config)
    tf.run("init", "-no-color", "-input=false", timeout=300)
    return tf


@pytest.fixture(scope="module")
def terraform_env(tmp_path_factory):
    tf = terraform_in(tmp_path_factory, HERE)
    yield tf
    # The provider plugin copied by init is large; do not leave it in the temp directory.
    shutil.rmtree(tf.workdir / ".terraform", ignore_errors=True)


def test_apply_update_destroy(terraform_env, endpoint_url, make_client):
    tf = terraform_env
    ec = make_client()
    suffix = uuid.uuid4().hex[:8]
    v1 = _vars(endpoint_url, suffix, "one", 3, "allkeys-lru")
    v2 = _vars(endpoint_url, suffix, "two", 4, "allkeys-lfu")
    redis_id, mc_id = f"tf-redis-{suffix}", f"tf-mc-{suffix}"
    pg, sng = f"tf-pg-{suffix}", f"tf-sng-{suffix}"

    try:
        # --- create
        tf.run("apply", "-auto-approve", "-no-color", *v1)
        outputs = json.loads(tf.run("output", "-json").stdout)
        _assert_no_changes(tf, v1)

        clusters = {c["CacheClusterId"]: c for c in ec.describe_cache_clusters(ShowCacheNodeInfo=True)["CacheClusters"]}
        assert clusters[redis_id]["CacheClusterStatus"] == "available"
        assert clusters[redis_id]["CacheParameterGroup"]["CacheParameterGroupName"] == pg
        assert clusters[redis_id]["CacheSubnetGroupName"] == sng
        assert len(clusters[mc_id]["CacheNodes"]) == 3
        for cid in (redis_id, mc_id):
            tags = {t["Key"]: t["Value"] for t in ec.list_tags_for_resource(ResourceName=clusters[cid]["ARN"])["TagList"]}
            assert tags == {"suite": "terraform", "stage": "one"}

        r = redis.Redis(host=outputs["redis_address"]["value"], port=outputs["redis_port"]["value"], socket_timeout=10, decode_responses=True)
        assert r.info("memory")["maxmemory_policy"] == "allkeys-lru"
        assert r.set("tf", "ok") and r.get("tf") == "ok"
        cfg = outputs["memcached_configuration_endpoint"]["value"]
        host, port = cfg.rsplit(":", 1)
        assert len(config_get_cluster(host, int(port)).nodes) == 3

        # --- in-place update: tags, num_cache_nodes, a parameter; nothing is replaced
        actions = _plan_actions(tf, v2)
        changed = {addr: act for addr, act in actions.items() if act != ["no-op"]}
        assert changed, "the second configuration must change something"
        assert all(act == ["update"] for act in changed.values()), f"expected in-place updates only: {changed}"
        assert "aws_elasticache_cluster.memcached" in changed
        assert "aws_elasticache_parameter_group.redis" in changed
        tf.run("apply", "-auto-approve", "-no-color", "tfplan")
        _assert_no_changes(tf, v2)

        mc = ec.describe_cache_clusters(CacheClusterId=mc_id, ShowCacheNodeInfo=True)["CacheClusters"][0]
        assert mc["NumCacheNodes"] == 4 and len(mc["CacheNodes"]) == 4
        for node in mc["CacheNodes"]:
            client = MemcacheClient((node["Endpoint"]["Address"], node["Endpoint"]["Port"]), timeout=10)
            client.set("k", b"v")
            assert client.get("k") == b"v"
            client.close()
        assert len(config_get_cluster(host, int(port)).nodes) == 4
        assert r.info("memory")["maxmemory_policy"] == "allkeys-lfu"
        tags = {t["Key"]: t["Value"] for t in ec.list_tags_for_resource(ResourceName=mc["ARN"])["TagList"]}
        assert tags == {"suite": "terraform", "stage": "two"}
        user = {
            p["ParameterName"]: p["ParameterValue"]
            for p in ec.describe_cache_parameters(CacheParameterGroupName=pg, Source="user")["Parameters"]
        }
        assert user == {"maxmemory-policy": "allkeys-lfu", "notify-keyspace-events": "Ex"}
        r.close()
        node_eps = [(n["Endpoint"]["Address"], n["Endpoint"]["Port"]) for n in mc["CacheNodes"]]

        # --- destroy
        tf.run("destroy", "-auto-approve", "-no-color", *v2)
        for cid in (redis_id, mc_id):
            with aws_error(ec, "CacheClusterNotFound", 404, "CacheClusterNotFoundFault"):
                ec.describe_cache_clusters(CacheClusterId=cid)
        with aws_error(ec, "CacheParameterGroupNotFound", 404, "CacheParameterGroupNotFoundFault"):
            ec.describe_cache_parameter_groups(CacheParameterGroupName=pg)
        with aws_error(ec, "CacheSubnetGroupNotFoundFault", 400, "CacheSubnetGroupNotFoundFault"):
            ec.describe_cache_subnet_groups(CacheSubnetGroupName=sng)
        for h, p in node_eps + [(outputs["redis_address"]["value"], outputs["redis_port"]["value"])]:
            assert wait_port_closed(h, p), f"{h}:{p} still open after terraform destroy"
    finally:
        # Best effort: never leave resources behind if an assertion fired midway.
        tf.run("destroy", "-auto-approve", "-no-color", *v2, ok_codes=(0, 1))
