"""The README walk-through, step by step, with the real aws-cli, redis-cli and raw Memcached.

This is what a user types: create a cluster, wait for it, read its endpoint, talk to the node
with a stock client, delete it, wait for the deletion, and find the node sockets closed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid

import pytest

from helpers import (
    assert_endpoint_port,
    can_connect,
    config_get_cluster,
    connection_closed_by_peer,
    memcached_exchange,
    wait_port_closed,
)


def _redis_cli() -> str:
    path = shutil.which("redis-cli")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("redis-cli is required in CI (apt-get install redis-tools)")
        pytest.skip("redis-cli not installed (apt-get install redis-tools)")
    return path


def _redis_cli_run(cli: str, host: str, port: int, *args: str) -> str:
    proc = subprocess.run(
        [cli, "-h", host, "-p", str(port), *args],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, f"redis-cli {args} failed: {proc.stdout} {proc.stderr}"
    return proc.stdout.strip()


def _delete_and_wait(aws, cluster_id: str) -> None:
    out = aws.json("elasticache", "delete-cache-cluster", "--cache-cluster-id", cluster_id)
    assert out["CacheCluster"]["CacheClusterId"] == cluster_id
    assert out["CacheCluster"]["CacheClusterStatus"] == "deleting"
    aws.run("elasticache", "wait", "cache-cluster-deleted", "--cache-cluster-id", cluster_id)
    gone = aws.run("elasticache", "describe-cache-clusters", "--cache-cluster-id", cluster_id, check=False)
    assert gone.returncode != 0, f"cluster still described after deletion: {gone.stdout}"
    assert "CacheClusterNotFound" in gone.stderr, gone.stderr


def test_redis_walkthrough(aws):
    cli = _redis_cli()
    cluster_id = f"web-{uuid.uuid4().hex[:6]}"

    created = aws.json(
        "elasticache", "create-cache-cluster",
        "--cache-cluster-id", cluster_id,
        "--engine", "redis",
        "--cache-node-type", "cache.t3.micro",
        "--num-cache-nodes", "1",
    )
    cluster = created["CacheCluster"]
    assert cluster["CacheClusterId"] == cluster_id
    assert cluster["Engine"] == "redis"
    assert cluster["CacheNodeType"] == "cache.t3.micro"
    assert cluster["NumCacheNodes"] == 1
    assert cluster["CacheClusterStatus"] in ("creating", "available")

    aws.run("elasticache", "wait", "cache-cluster-available", "--cache-cluster-id", cluster_id)

    described = aws.json(
        "elasticache", "describe-cache-clusters", "--cache-cluster-id", cluster_id, "--show-cache-node-info"
    )
    (cluster,) = described["CacheClusters"]
    assert cluster["CacheClusterStatus"] == "available"
    assert "ConfigurationEndpoint" not in cluster, "a standalone Redis cluster has no configuration endpoint"
    (node,) = cluster["CacheNodes"]
    assert node["CacheNodeId"] == "0001"
    assert node["CacheNodeStatus"] == "available"
    host, port = node["Endpoint"]["Address"], node["Endpoint"]["Port"]
    assert_endpoint_port(port, 6379)

    assert _redis_cli_run(cli, host, port, "set", "k", "v") == "OK"
    assert _redis_cli_run(cli, host, port, "get", "k") == "v"

    # An open client connection must be closed when the node goes away.
    held = socket.create_connection((host, port), timeout=10)
    try:
        _delete_and_wait(aws, cluster_id)
        assert wait_port_closed(host, port), f"{host}:{port} still accepts connections after deletion"
        assert connection_closed_by_peer(held), "an established client connection survived deletion"
    finally:
        held.close()


def test_memcached_walkthrough(aws):
    cluster_id = f"mc-{uuid.uuid4().hex[:6]}"

    aws.json(
        "elasticache", "create-cache-cluster",
        "--cache-cluster-id", cluster_id,
        "--engine", "memcached",
        "--cache-node-type", "cache.t3.micro",
        "--num-cache-nodes", "3",
    )
    aws.run("elasticache", "wait", "cache-cluster-available", "--cache-cluster-id", cluster_id)
    described = aws.json(
        "elasticache", "describe-cache-clusters", "--cache-cluster-id", cluster_id, "--show-cache-node-info"
    )
    (cluster,) = described["CacheClusters"]
    assert cluster["Engine"] == "memcached"
    assert cluster["NumCacheNodes"] == 3
    nodes = cluster["CacheNodes"]
    assert [n["CacheNodeId"] for n in nodes] == ["0001", "0002", "0003"]
    endpoints = [(n["Endpoint"]["Address"], n["Endpoint"]["Port"]) for n in nodes]
    assert len(set(endpoints)) == 3, f"every node needs its own endpoint: {endpoints}"
    for _, p in endpoints:
        assert_endpoint_port(p, 11211)
    cfg = cluster["ConfigurationEndpoint"]
    cfg_ep = (cfg["Address"], cfg["Port"])
    assert_endpoint_port(cfg_ep[1], 11211)
    assert cfg_ep not in endpoints, "the configuration endpoint is its own endpoint"

    # Each node is a working memcached server with its own data.
    for i, (host, port) in enumerate(endpoints):
        value = f"value-{i}".encode()
        reply = memcached_exchange(
            host, port, b"set k 0 0 %d\r\n%s\r\n" % (len(value), value), until=(b"STORED\r\n", b"ERROR\r\n")
        )
        assert reply == b"STORED\r\n", reply
    for i, (host, port) in enumerate(endpoints):
        value = f"value-{i}".encode()
        reply = memcached_exchange(host, port, b"get k\r\n")
        assert reply == b"VALUE k 0 %d\r\n%s\r\nEND\r\n" % (len(value), value), reply

    # Auto discovery (reference section 6): the configuration endpoint lists the three nodes.
    conf = config_get_cluster(*cfg_ep)
    assert conf.version >= 1
    listed = sorted((ip, port) for _, ip, port in conf.nodes)
    reported = sorted(endpoints)
    # The middle field is the IP; in loopback addressing the node address is that IP.
    assert [p for _, p in listed] == [p for _, p in reported]
    assert {h for h, _, _ in conf.nodes} == {h for h, _ in endpoints}
    assert [h for h, _, _ in conf.nodes] == sorted(h for h, _, _ in conf.nodes), "nodes sorted by host name"

    _delete_and_wait(aws, cluster_id)
    for host, port in endpoints + [cfg_ep]:
        assert wait_port_closed(host, port), f"{host}:{port} still accepts connections after deletion"
    assert not any(can_connect(h, p) for h, p in endpoints)


def test_unsigned_requests_use_default_region_and_account(aws, ec):
    # `aws --no-sign-request` sends no credential scope: the emulator answers for us-east-1 and
    # account 000000000000 (reference 1.3), the same partition the signed default client uses.
    cluster_id = f"nosign-{uuid.uuid4().hex[:6]}"
    out = aws.json(
        "--no-sign-request", "elasticache", "create-cache-cluster",
        "--cache-cluster-id", cluster_id, "--engine", "memcached",
        "--cache-node-type", "cache.t3.micro", "--num-cache-nodes", "1",
    )
    assert out["CacheCluster"]["ARN"] == f"arn:aws:elasticache:us-east-1:000000000000:cluster:{cluster_id}"
    seen = ec.describe_cache_clusters(CacheClusterId=cluster_id)["CacheClusters"]
    assert [c["CacheClusterId"] for c in seen] == [cluster_id]
    _delete_and_wait(aws, cluster_id)


def test_cli_pagination_and_errors(aws):
    # aws-cli maps --page-size to MaxRecords and follows Marker until the end.
    listed = aws.json("elasticache", "describe-cache-engine-versions", "--page-size", "20")
    versions = [(v["Engine"], v["EngineVersion"]) for v in listed["CacheEngineVersions"]]
    assert len(versions) == len(set(versions)) and ("redis", "7.1") in versions
    # Errors surface with their code and a non-zero exit status.
    missing = aws.run("elasticache", "describe-cache-clusters", "--cache-cluster-id", "no-such-cluster", check=False)
    assert missing.returncode != 0
    assert "(CacheClusterNotFound)" in missing.stderr


def test_cluster_mode_walkthrough(aws):
    """README's replication-group quick start: a cluster-mode-enabled group created with aws-cli,
    used with `redis-cli -c` through its configuration endpoint (redis-cli follows MOVED to the
    node endpoints the API reports), then deleted."""
    cli = _redis_cli()
    group_id = f"shop-{uuid.uuid4().hex[:6]}"
    created = aws.json(
        "elasticache", "create-replication-group",
        "--replication-group-id", group_id,
        "--replication-group-description", "shop",
        "--cache-node-type", "cache.t3.micro",
        "--num-node-groups", "3",
        "--replicas-per-node-group", "1",
    )
    assert created["ReplicationGroup"]["ReplicationGroupId"] == group_id
    aws.run("elasticache", "wait", "replication-group-available", "--replication-group-id", group_id)
    (group,) = aws.json("elasticache", "describe-replication-groups", "--replication-group-id", group_id)[
        "ReplicationGroups"
    ]
    assert group["ClusterEnabled"] is True
    cfg = group["ConfigurationEndpoint"]
    host, port = cfg["Address"], cfg["Port"]
    assert_endpoint_port(port, 6379)

    nodes = aws.json("elasticache", "describe-cache-clusters", "--show-cache-node-info")["CacheClusters"]
    api_endpoints = {
        f'{n["Endpoint"]["Address"]}:{n["Endpoint"]["Port"]}'
        for c in nodes
        if c.get("ReplicationGroupId") == group_id
        for n in c["CacheNodes"]
    }
    assert len(api_endpoints) == 6

    # Keys spread over the three shards: redis-cli -c follows each MOVED redirect.
    for i in range(30):
        assert _redis_cli_run(cli, host, port, "-c", "set", f"key:{i}", str(i)) == "OK"
    for i in range(30):
        assert _redis_cli_run(cli, host, port, "-c", "get", f"key:{i}") == str(i)
    # CLUSTER NODES announces exactly the node endpoints the API reports (`id ip:port@bus ...`).
    lines = _redis_cli_run(cli, host, port, "cluster", "nodes").splitlines()
    announced = {line.split()[1].split("@")[0] for line in lines if line.strip()}
    assert announced == api_endpoints, (announced, api_endpoints)

    deleted = aws.json("elasticache", "delete-replication-group", "--replication-group-id", group_id)
    assert deleted["ReplicationGroup"]["Status"] == "deleting"
    aws.run("elasticache", "wait", "replication-group-deleted", "--replication-group-id", group_id)
    assert wait_port_closed(host, port), "the configuration endpoint closes with its group"
