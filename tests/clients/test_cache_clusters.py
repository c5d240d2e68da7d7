"""Cache clusters through boto3 (reference sections 2.1, 2.4-2.7, 2.10, 3), engines through
redis-py and pymemcache: create/describe/modify/reboot/delete, defaults, identifier rules,
errors, waiters, pagination, account and region isolation.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import time
import uuid

import pytest
import redis
from pymemcache.client.base import Client as MemcacheClient
from pymemcache.exceptions import MemcacheServerError

from helpers import (
    assert_endpoint_port,
    FAST_WAITER,
    aws_error,
    can_connect,
    config_get_cluster,
    connection_closed_by_peer,
    create_memcached,
    create_redis,
    describe_cluster,
    memcached_exchange,
    node_endpoints,
    wait_available,
    wait_deleted,
    wait_port_closed,
)

MAINTENANCE_WINDOW = re.compile(r"^(sun|mon|tue|wed|thu|fri|sat):\d\d:\d\d-(sun|mon|tue|wed|thu|fri|sat):\d\d:\d\d$")
SNAPSHOT_WINDOW = re.compile(r"^\d\d:\d\d-\d\d:\d\d$")


def _redis(host: str, port: int) -> redis.Redis:
    return redis.Redis(host=host, port=port, socket_timeout=10, decode_responses=True)


def _policy(r: redis.Redis) -> str:
    """The node's eviction policy as INFO reports it (CONFIG is restricted on ElastiCache)."""
    return r.info("memory")["maxmemory_policy"]


def _expired_event_delivered(r: redis.Redis) -> bool:
    """True when an expiring key publishes __keyevent@0__:expired (needs `Ex` notifications)."""
    key = f"ttl-{uuid.uuid4().hex[:6]}"
    pubsub = r.pubsub()
    pubsub.subscribe("__keyevent@0__:expired")
    try:
        pubsub.get_message(timeout=5)  # the subscribe confirmation
        r.set(key, "v", px=1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            r.get(key)  # an access expires the key if the active cycle has not yet
            msg = pubsub.get_message(timeout=0.5)
            if msg and msg["type"] == "message" and msg["data"] == key:
                return True
        return False
    finally:
        pubsub.close()


def _memcache(host: str, port: int) -> MemcacheClient:
    return MemcacheClient((host, port), connect_timeout=10, timeout=10)


# ------------------------------------------------------------------------------------------
# Redis: create, defaults, engine reachable


def test_create_redis_defaults_and_engine(ec, resources, uid):
    cid = uid("redis")
    resources.cluster(ec, cid)
    created = ec.create_cache_cluster(
        CacheClusterId=cid, Engine="redis", CacheNodeType="cache.t3.micro", NumCacheNodes=1
    )["CacheCluster"]
    assert created["CacheClusterId"] == cid
    assert created["CacheClusterStatus"] in ("creating", "available")

    c = wait_available(ec, cid)
    assert c["CacheClusterStatus"] == "available"
    assert c["Engine"] == "redis"
    assert c["EngineVersion"] == "7.1.0", "omitted EngineVersion means the newest redis, reported with its patch"
    assert c["CacheNodeType"] == "cache.t3.micro"
    assert c["NumCacheNodes"] == 1
    assert c["ARN"] == f"arn:aws:elasticache:us-east-1:000000000000:cluster:{cid}"
    assert c["CacheParameterGroup"]["CacheParameterGroupName"] == "default.redis7"
    assert c["CacheParameterGroup"]["ParameterApplyStatus"] == "in-sync"
    assert c["CacheSubnetGroupName"] == "default"
    assert c["AutoMinorVersionUpgrade"] is True
    assert c["SnapshotRetentionLimit"] == 0
    assert SNAPSHOT_WINDOW.match(c["SnapshotWindow"]), c["SnapshotWindow"]
    assert MAINTENANCE_WINDOW.match(c["PreferredMaintenanceWindow"]), c["PreferredMaintenanceWindow"]
    assert c["TransitEncryptionEnabled"] is False
    assert c["AtRestEncryptionEnabled"] is False
    assert c["AuthTokenEnabled"] is False
    assert c["PreferredAvailabilityZone"].startswith("us-east-1")
    assert c["CacheClusterCreateTime"] is not None
    assert c["ClientDownloadLandingPage"] == "https://console.aws.amazon.com/elasticache/home#client-download:"
    assert "ConfigurationEndpoint" not in c
    (node,) = c["CacheNodes"]
    assert node["CacheNodeId"] == "0001"
    assert node["CacheNodeStatus"] == "available"
    assert node["ParameterGroupStatus"] == "in-sync"
    assert node["CustomerAvailabilityZone"].startswith("us-east-1")
    assert node["CacheNodeCreateTime"] is not None
    assert_endpoint_port(node["Endpoint"]["Port"], 6379)

    r = _redis(node["Endpoint"]["Address"], node["Endpoint"]["Port"])
    assert r.set("greeting", "hello") is True
    assert r.get("greeting") == "hello"
    assert r.info("server")["redis_version"] == c["EngineVersion"], "INFO reports the API's engine version"
    # Node types mean memory: t3.micro is 512 MiB, less reserved-memory-percent 25 (reference section 5).
    memory = r.info("memory")
    assert int(memory["maxmemory"]) == 402653184
    assert memory["maxmemory_policy"] == "volatile-lru"
    # CONFIG works by default (ElastiCache's restrictions are the opt-in --strict-commands mode,
    # tested in tests/supervisor_redis.rs) and tells the same truth as INFO.
    assert r.config_get("maxmemory") == {"maxmemory": "402653184"}
    assert r.config_get("maxmemory-policy") == {"maxmemory-policy": "volatile-lru"}
    r.close()


def test_describe_without_node_info_omits_nodes(ec, resources, uid):
    cid = uid("redis")
    create_redis(ec, resources, cid)
    c = describe_cluster(ec, cid, nodes=False)
    assert not c.get("CacheNodes"), "CacheNodes only with ShowCacheNodeInfo=true"


def test_engine_version_and_family(ec, resources, uid):
    cid = uid("redis6")
    c = create_redis(ec, resources, cid, EngineVersion="6.2")
    assert c["EngineVersion"] == "6.2.6"
    assert c["CacheParameterGroup"]["CacheParameterGroupName"] == "default.redis6.x"
    host, port = node_endpoints(c)["0001"]
    r = _redis(host, port)
    assert r.info("server")["redis_version"] == "6.2.6"
    r.close()


def test_explicit_port_is_honoured(ec, resources, uid):
    cid = uid("redis")
    c = create_redis(ec, resources, cid, Port=6380)
    host, port = node_endpoints(c)["0001"]
    assert_endpoint_port(port, 6380)
    r = _redis(host, port)
    assert r.ping() is True
    r.close()


def test_ids_are_lower_cased_and_case_insensitive(ec, resources, uid):
    mixed = "Mixed-" + uuid.uuid4().hex[:6].upper()
    lower = mixed.lower()
    resources.cluster(ec, lower)
    out = ec.create_cache_cluster(
        CacheClusterId=mixed, Engine="redis", CacheNodeType="cache.t3.micro", NumCacheNodes=1
    )["CacheCluster"]
    assert out["CacheClusterId"] == lower
    wait_available(ec, lower)
    assert describe_cluster(ec, mixed.upper())["CacheClusterId"] == lower
    with aws_error(ec, "CacheClusterAlreadyExists", 400, "CacheClusterAlreadyExistsFault"):
        ec.create_cache_cluster(CacheClusterId=lower, Engine="redis", CacheNodeType="cache.t3.micro")


def test_maintenance_window_is_returned_lower_case(ec, resources, uid):
    cid = uid("redis")
    c = create_redis(ec, resources, cid, PreferredMaintenanceWindow="SUN:05:00-SUN:06:00")
    assert c["PreferredMaintenanceWindow"] == "sun:05:00-sun:06:00"


def test_tags_on_create(ec, resources, uid):
    cid = uid("redis")
    c = create_redis(ec, resources, cid, Tags=[{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "a"}])
    tags = ec.list_tags_for_resource(ResourceName=c["ARN"])["TagList"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("env", "dev"), ("team", "a")]


# ------------------------------------------------------------------------------------------
# Validation errors


@pytest.mark.parametrize(
    "bad_id",
    ["1starts-with-digit", "double--dash", "trailing-dash-", "under_score", "a" * 51, "has.dot", "spa ce"],
)
def test_invalid_cluster_ids(ec, bad_id):
    with aws_error(ec, "InvalidParameterValue", 400, "InvalidParameterValueException"):
        ec.create_cache_cluster(CacheClusterId=bad_id, Engine="redis", CacheNodeType="cache.t3.micro")


def test_fifty_character_id_is_accepted(ec, resources):
    cid = "x" + uuid.uuid4().hex + "y" * 17  # 1 + 32 + 17 = 50
    assert len(cid) == 50
    create_redis(ec, resources, cid)


@pytest.mark.parametrize(
    "params",
    [
        {"Engine": "redis", "CacheNodeType": "cache.t3.micro", "NumCacheNodes": 2},
        {"Engine": "redis", "CacheNodeType": "cache.nonexistent.huge"},
        {"Engine": "mongodb", "CacheNodeType": "cache.t3.micro"},
        {"Engine": "redis", "CacheNodeType": "cache.t3.micro", "EngineVersion": "99.0"},
        {"CacheNodeType": "cache.t3.micro"},
        {"Engine": "redis"},
        {"Engine": "redis", "CacheNodeType": "cache.t3.micro", "PreferredMaintenanceWindow": "sun:05:00-sun:05:30"},
        {"Engine": "redis", "CacheNodeType": "cache.t3.micro", "PreferredMaintenanceWindow": "someday"},
        {"Engine": "redis", "CacheNodeType": "cache.t3.micro", "SnapshotRetentionLimit": 36},
        {"Engine": "redis", "CacheNodeType": "cache.t3.micro", "AuthToken": "a-valid-looking-token-123"},
        {"Engine": "memcached", "CacheNodeType": "cache.t3.micro", "NumCacheNodes": 0},
    ],
    ids=[
        "redis-two-nodes", "unknown-node-type", "unknown-engine", "unknown-version", "no-engine",
        "no-node-type", "short-maintenance-window", "bad-maintenance-window", "retention-over-35",
        "auth-token-without-tls", "memcached-zero-nodes",
    ],
)
def test_create_invalid_parameter_values(ec, uid, params):
    with aws_error(ec, "InvalidParameterValue", 400, "InvalidParameterValueException"):
        ec.create_cache_cluster(CacheClusterId=uid("bad"), **params)


def test_memcached_node_quota_per_cluster(ec, uid):
    with aws_error(ec, "NodeQuotaForClusterExceeded", 400, "NodeQuotaForClusterExceededFault"):
        ec.create_cache_cluster(
            CacheClusterId=uid("mc"), Engine="memcached", CacheNodeType="cache.t3.micro", NumCacheNodes=41
        )


def test_missing_referenced_groups(ec, uid):
    base = {"Engine": "redis", "CacheNodeType": "cache.t3.micro"}
    with aws_error(ec, "CacheParameterGroupNotFound", 404, "CacheParameterGroupNotFoundFault"):
        ec.create_cache_cluster(CacheClusterId=uid("c"), CacheParameterGroupName=uid("nopg"), **base)
    with aws_error(ec, "CacheSubnetGroupNotFoundFault", 400, "CacheSubnetGroupNotFoundFault"):
        ec.create_cache_cluster(CacheClusterId=uid("c"), CacheSubnetGroupName=uid("nosg"), **base)
    with aws_error(ec, "CacheSecurityGroupNotFound", 404, "CacheSecurityGroupNotFoundFault"):
        ec.create_cache_cluster(CacheClusterId=uid("c"), CacheSecurityGroupNames=[uid("nosec")], **base)


def test_parameter_group_family_must_match_engine(ec, resources, uid):
    pg = resources.parameter_group(ec, uid("pg"))
    ec.create_cache_parameter_group(
        CacheParameterGroupName=pg, CacheParameterGroupFamily="memcached1.6", Description="mc"
    )
    with aws_error(ec, "InvalidParameterCombination", 400, "InvalidParameterCombinationException"):
        ec.create_cache_cluster(
            CacheClusterId=uid("c"), Engine="redis", CacheNodeType="cache.t3.micro", CacheParameterGroupName=pg
        )


def test_cluster_mode_parameter_group_rejected(ec, uid):
    # CreateCacheCluster cannot use a cluster-mode-enabled parameter group (reference 2.4).
    with aws_error(ec, "InvalidParameterCombination", 400, "InvalidParameterCombinationException"):
        ec.create_cache_cluster(
            CacheClusterId=uid("c"),
            Engine="redis",
            CacheNodeType="cache.t3.micro",
            CacheParameterGroupName="default.redis7.cluster.on",
        )


def test_custom_cluster_mode_group_rejected(ec, resources, uid):
    # Reference 7.1 marks cluster-enabled "not modifiable", but the AWS User Guide
    # ("Modifying an ElastiCache parameter group") changes cluster-enabled on a custom group as
    # its example, so the change is accepted; such a group then cannot back a cache cluster.
    pg = resources.parameter_group(ec, uid("pg"))
    ec.create_cache_parameter_group(CacheParameterGroupName=pg, CacheParameterGroupFamily="redis7", Description="t")
    ec.modify_cache_parameter_group(
        CacheParameterGroupName=pg, ParameterNameValues=[{"ParameterName": "cluster-enabled", "ParameterValue": "yes"}]
    )
    with aws_error(ec, "InvalidParameterCombination", 400, "InvalidParameterCombinationException"):
        ec.create_cache_cluster(
            CacheClusterId=uid("c"), Engine="redis", CacheNodeType="cache.t3.micro", CacheParameterGroupName=pg
        )


def test_memcached_rejects_snapshot_options(ec, uid):
    with aws_error(ec, "InvalidParameterCombination", 400, "InvalidParameterCombinationException"):
        ec.create_cache_cluster(
            CacheClusterId=uid("mc"), Engine="memcached", CacheNodeType="cache.t3.micro", SnapshotName="snap"
        )


def test_not_found_errors(ec, uid):
    missing = uid("missing")
    with aws_error(ec, "CacheClusterNotFound", 404, "CacheClusterNotFoundFault"):
        ec.describe_cache_clusters(CacheClusterId=missing)
    with aws_error(ec, "CacheClusterNotFound", 404, "CacheClusterNotFoundFault"):
        ec.modify_cache_cluster(CacheClusterId=missing, NumCacheNodes=2, ApplyImmediately=True)
    with aws_error(ec, "CacheClusterNotFound", 404, "CacheClusterNotFoundFault"):
        ec.delete_cache_cluster(CacheClusterId=missing)
    with aws_error(ec, "CacheClusterNotFound", 404, "CacheClusterNotFoundFault"):
        ec.reboot_cache_cluster(CacheClusterId=missing, CacheNodeIdsToReboot=["0001"])
    with aws_error(ec, "CacheClusterNotFound", 404, "CacheClusterNotFoundFault"):
        ec.list_allowed_node_type_modifications(CacheClusterId=missing)


# ------------------------------------------------------------------------------------------
# Memcached clusters, auto discovery, scaling


def test_memcached_cluster_nodes_and_discovery(ec, resources, uid):
    cid = uid("mc")
    c = create_memcached(ec, resources, cid, nodes=3)
    assert c["Engine"] == "memcached"
    assert c["EngineVersion"] == "1.6.22"
    assert c["CacheParameterGroup"]["CacheParameterGroupName"] == "default.memcached1.6"
    assert "SnapshotRetentionLimit" not in c, "memcached clusters carry no snapshot settings"
    eps = node_endpoints(c)
    assert list(eps) == ["0001", "0002", "0003"]
    assert all(n["CustomerAvailabilityZone"].startswith("us-east-1") for n in c["CacheNodes"])
    # The configuration endpoint is present even without ShowCacheNodeInfo.
    cfg = describe_cluster(ec, cid, nodes=False)["ConfigurationEndpoint"]
    assert_endpoint_port(cfg["Port"], 11211)

    for node_id, (host, port) in eps.items():
        mc = _memcache(host, port)
        mc.set("who", node_id.encode())
        assert mc.get("who") == node_id.encode()
        assert mc.version().decode() == "1.6.22"
        mc.close()
    # Nodes are separate servers: each kept its own value.
    for node_id, (host, port) in eps.items():
        mc = _memcache(host, port)
        assert mc.get("who") == node_id.encode()
        mc.close()

    conf = config_get_cluster(cfg["Address"], cfg["Port"])
    assert conf.version >= 1
    assert len(conf.nodes) == 3
    for hostname, ip, port in conf.nodes:
        ipaddress.IPv4Address(ip)  # the middle field must be an IPv4 address
        assert (hostname, port) in eps.values()
    assert [n[0] for n in conf.nodes] == sorted(n[0] for n in conf.nodes)
    # Every node answers `config get cluster` with the same configuration.
    for host, port in eps.values():
        assert config_get_cluster(host, port).raw == conf.raw


def test_memcached_scale_out_and_in(ec, resources, uid):
    cid = uid("mc")
    c = create_memcached(ec, resources, cid, nodes=3)
    cfg = (c["ConfigurationEndpoint"]["Address"], c["ConfigurationEndpoint"]["Port"])
    v1 = config_get_cluster(*cfg).version

    out = ec.modify_cache_cluster(CacheClusterId=cid, NumCacheNodes=5, ApplyImmediately=True)["CacheCluster"]
    assert out["CacheClusterStatus"] in ("modifying", "available")
    c = wait_available(ec, cid)
    assert c["NumCacheNodes"] == 5
    eps = node_endpoints(c)
    assert sorted(eps) == ["0001", "0002", "0003", "0004", "0005"]
    for node_id in ("0004", "0005"):
        mc = _memcache(*eps[node_id])
        mc.set("k", b"v")
        assert mc.get("k") == b"v"
        mc.close()
    conf = config_get_cluster(*cfg)
    assert conf.version > v1, "adding nodes bumps the configuration version"
    assert sorted((h, p) for h, _, p in conf.nodes) == sorted(eps.values())

    removed = {nid: eps[nid] for nid in ("0004", "0005")}
    held = socket.create_connection(removed["0005"], timeout=10)
    try:
        ec.modify_cache_cluster(
            CacheClusterId=cid, NumCacheNodes=3, CacheNodeIdsToRemove=["0004", "0005"], ApplyImmediately=True
        )
        c = wait_available(ec, cid)
        assert c["NumCacheNodes"] == 3
        assert sorted(node_endpoints(c)) == ["0001", "0002", "0003"]
        for host, port in removed.values():
            assert wait_port_closed(host, port), f"removed node {host}:{port} still listening"
        assert connection_closed_by_peer(held), "connection to a removed node stays open"
    finally:
        held.close()
    conf2 = config_get_cluster(*cfg)
    assert conf2.version > conf.version, "removing nodes bumps the configuration version"
    assert len(conf2.nodes) == 3
    # Surviving nodes kept their addresses.
    assert {nid: ep for nid, ep in node_endpoints(c).items()} == {nid: eps[nid] for nid in ("0001", "0002", "0003")}


def test_memcached_scale_in_requires_node_ids(ec, resources, uid):
    cid = uid("mc")
    create_memcached(ec, resources, cid, nodes=3)
    # Reference 2.7: the CacheNodeIdsToRemove count must equal the reduction. AWS documents no
    # code for this case; we expect InvalidParameterValue (a bad value of CacheNodeIdsToRemove).
    with aws_error(ec, "InvalidParameterValue", 400):
        ec.modify_cache_cluster(CacheClusterId=cid, NumCacheNodes=2, ApplyImmediately=True)
    with aws_error(ec, "InvalidParameterValue", 400):
        ec.modify_cache_cluster(
            CacheClusterId=cid, NumCacheNodes=2, CacheNodeIdsToRemove=["0002", "0003"], ApplyImmediately=True
        )
    with aws_error(ec, "NodeQuotaForClusterExceeded", 400, "NodeQuotaForClusterExceededFault"):
        ec.modify_cache_cluster(CacheClusterId=cid, NumCacheNodes=41, ApplyImmediately=True)
    assert wait_available(ec, cid)["NumCacheNodes"] == 3


def test_redis_cannot_scale_nodes(ec, resources, uid):
    cid = uid("redis")
    create_redis(ec, resources, cid)
    with aws_error(ec, "InvalidParameterValue", 400, "InvalidParameterValueException"):
        ec.modify_cache_cluster(CacheClusterId=cid, NumCacheNodes=2, ApplyImmediately=True)


def test_memcached_reboot_loses_data(ec, resources, uid):
    cid = uid("mc")
    c = create_memcached(ec, resources, cid, nodes=2)
    eps = node_endpoints(c)
    cfg = (c["ConfigurationEndpoint"]["Address"], c["ConfigurationEndpoint"]["Port"])
    version = config_get_cluster(*cfg).version
    for ep in eps.values():
        mc = _memcache(*ep)
        mc.set("k", b"v")
        mc.close()

    out = ec.reboot_cache_cluster(CacheClusterId=cid, CacheNodeIdsToReboot=["0001"])["CacheCluster"]
    assert out["CacheClusterStatus"] in ("rebooting cluster nodes", "available")
    c = wait_available(ec, cid)
    assert node_endpoints(c) == eps, "reboot keeps node addresses"
    mc = _memcache(*eps["0001"])
    assert mc.get("k") is None, "a rebooted memcached node starts empty"
    mc.close()
    mc = _memcache(*eps["0002"])
    assert mc.get("k") == b"v", "nodes not rebooted keep their data"
    mc.close()
    assert config_get_cluster(*cfg).version == version, "reboots do not change the node list"


def test_reboot_unknown_node_id(ec, resources, uid):
    cid = uid("redis")
    create_redis(ec, resources, cid)
    with aws_error(ec, "InvalidParameterValue", 400, "InvalidParameterValueException"):
        ec.reboot_cache_cluster(CacheClusterId=cid, CacheNodeIdsToReboot=["0009"])


def test_redis_reboot_keeps_endpoint(ec, resources, uid):
    cid = uid("redis")
    c = create_redis(ec, resources, cid)
    ep = node_endpoints(c)["0001"]
    ec.reboot_cache_cluster(CacheClusterId=cid, CacheNodeIdsToReboot=["0001"])
    c = wait_available(ec, cid)
    assert node_endpoints(c)["0001"] == ep
    r = _redis(*ep)
    assert r.ping() is True
    r.close()


def test_modify_node_type_and_windows(ec, resources, uid):
    cid = uid("redis")
    create_redis(ec, resources, cid)
    out = ec.modify_cache_cluster(
        CacheClusterId=cid,
        CacheNodeType="cache.t3.small",
        PreferredMaintenanceWindow="Mon:01:00-Mon:02:30",
        SnapshotRetentionLimit=3,
        ApplyImmediately=True,
    )["CacheCluster"]
    assert out["CacheClusterId"] == cid
    c = wait_available(ec, cid)
    assert c["CacheNodeType"] == "cache.t3.small"
    assert c["PreferredMaintenanceWindow"] == "mon:01:00-mon:02:30"
    assert c["SnapshotRetentionLimit"] == 3
    r = _redis(*node_endpoints(c)["0001"])
    assert r.ping() is True
    r.close()


def test_modify_engine_version_downgrade_rejected(ec, resources, uid):
    cid = uid("redis")
    create_redis(ec, resources, cid, EngineVersion="7.1")
    with aws_error(ec, "InvalidParameterValue", 400, "InvalidParameterValueException"):
        ec.modify_cache_cluster(CacheClusterId=cid, EngineVersion="6.2", ApplyImmediately=True)


def test_list_allowed_node_type_modifications(ec, resources, uid):
    cid = uid("redis")
    create_redis(ec, resources, cid)
    out = ec.list_allowed_node_type_modifications(CacheClusterId=cid)
    up = out.get("ScaleUpModifications", [])
    assert up, "a t3.micro can scale up"
    assert all(t.startswith("cache.") for t in up + out.get("ScaleDownModifications", []))
    assert "cache.t3.micro" not in up
    assert "cache.t3.small" in up


def test_list_allowed_node_type_modifications_needs_a_target(ec):
    # Exactly one of CacheClusterId / ReplicationGroupId is needed (reference 2.7).
    with aws_error(ec, "InvalidParameterCombination", 400, "InvalidParameterCombinationException"):
        ec.list_allowed_node_type_modifications()


# ------------------------------------------------------------------------------------------
# Delete


def test_delete_redis_closes_sockets(ec, resources, uid):
    cid = uid("redis")
    c = create_redis(ec, resources, cid)
    ep = node_endpoints(c)["0001"]
    held = socket.create_connection(ep, timeout=10)
    try:
        out = ec.delete_cache_cluster(CacheClusterId=cid)["CacheCluster"]
        assert out["CacheClusterStatus"] == "deleting"
        wait_deleted(ec, cid)
        with aws_error(ec, "CacheClusterNotFound", 404, "CacheClusterNotFoundFault"):
            ec.describe_cache_clusters(CacheClusterId=cid)
        assert wait_port_closed(*ep)
        assert connection_closed_by_peer(held)
    finally:
        held.close()
    # The id is free again and the port can be reused.
    c2 = create_redis(ec, resources, cid)
    assert c2["CacheClusterStatus"] == "available"
    assert can_connect(*node_endpoints(c2)["0001"])


def test_delete_memcached_with_final_snapshot_rejected(ec, resources, uid):
    cid = uid("mc")
    create_memcached(ec, resources, cid, nodes=1)
    with aws_error(ec, "SnapshotFeatureNotSupportedFault", 400, "SnapshotFeatureNotSupportedFault"):
        ec.delete_cache_cluster(CacheClusterId=cid, FinalSnapshotIdentifier=uid("final"))
    assert describe_cluster(ec, cid)["CacheClusterStatus"] == "available"


def test_deleting_cluster_cannot_be_modified(ec, resources, uid):
    cid = uid("redis")
    create_redis(ec, resources, cid)
    ec.delete_cache_cluster(CacheClusterId=cid)
    # Either it is still `deleting` (InvalidCacheClusterState) or already gone (NotFound).
    try:
        ec.modify_cache_cluster(CacheClusterId=cid, SnapshotRetentionLimit=1, ApplyImmediately=True)
    except ec.exceptions.InvalidCacheClusterStateFault as err:
        assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    except ec.exceptions.CacheClusterNotFoundFault:
        pass
    else:
        pytest.fail("a deleted cluster accepted ModifyCacheCluster")
    wait_deleted(ec, cid)


# ------------------------------------------------------------------------------------------
# Parameter groups applied to running engines


def test_parameter_group_applies_to_running_redis(ec, resources, uid):
    pg = resources.parameter_group(ec, uid("pg"))
    ec.create_cache_parameter_group(CacheParameterGroupName=pg, CacheParameterGroupFamily="redis7", Description="t")
    ec.modify_cache_parameter_group(
        CacheParameterGroupName=pg,
        ParameterNameValues=[{"ParameterName": "maxmemory-policy", "ParameterValue": "allkeys-lru"}],
    )
    cid = uid("redis")
    c = create_redis(ec, resources, cid, CacheParameterGroupName=pg)
    assert c["CacheParameterGroup"]["CacheParameterGroupName"] == pg
    r = _redis(*node_endpoints(c)["0001"])
    assert _policy(r) == "allkeys-lru"

    # An immediate parameter change reaches the running node.
    ec.modify_cache_parameter_group(
        CacheParameterGroupName=pg,
        ParameterNameValues=[
            {"ParameterName": "maxmemory-policy", "ParameterValue": "allkeys-lfu"},
            {"ParameterName": "notify-keyspace-events", "ParameterValue": "Ex"},
        ],
    )
    wait_available(ec, cid)
    assert _policy(r) == "allkeys-lfu"
    assert _expired_event_delivered(r), "notify-keyspace-events Ex reached the node"

    # Reset goes back to the family defaults on the running node too.
    ec.reset_cache_parameter_group(CacheParameterGroupName=pg, ResetAllParameters=True)
    wait_available(ec, cid)
    assert _policy(r) == "volatile-lru"

    # Switching the cluster to another group applies that group's values.
    pg2 = resources.parameter_group(ec, uid("pg"))
    ec.create_cache_parameter_group(CacheParameterGroupName=pg2, CacheParameterGroupFamily="redis7", Description="t")
    ec.modify_cache_parameter_group(
        CacheParameterGroupName=pg2,
        ParameterNameValues=[{"ParameterName": "maxmemory-policy", "ParameterValue": "noeviction"}],
    )
    ec.modify_cache_cluster(CacheClusterId=cid, CacheParameterGroupName=pg2, ApplyImmediately=True)
    c = wait_available(ec, cid)
    assert c["CacheParameterGroup"]["CacheParameterGroupName"] == pg2
    assert _policy(r) == "noeviction"
    r.close()

    # A group in use cannot be deleted.
    with aws_error(ec, "InvalidCacheParameterGroupState", 400, "InvalidCacheParameterGroupStateFault"):
        ec.delete_cache_parameter_group(CacheParameterGroupName=pg2)


# ------------------------------------------------------------------------------------------
# Waiters, pagination, isolation


def test_available_waiter_on_missing_cluster_fails_fast(ec, uid):
    from botocore.exceptions import WaiterError

    with pytest.raises(WaiterError) as info:
        ec.get_waiter("cache_cluster_available").wait(CacheClusterId=uid("nope"), WaiterConfig=FAST_WAITER)
    assert "CacheClusterNotFound" in str(info.value)


def test_pagination_of_clusters(make_client, resources, uid):
    # A region of its own, so the listing holds exactly this test's clusters.
    client = make_client(region="ap-southeast-2")
    ids = sorted(uid(f"p{i:02d}") for i in range(21))
    for cid in ids:
        resources.cluster(client, cid)
        client.create_cache_cluster(CacheClusterId=cid, Engine="memcached", CacheNodeType="cache.t3.micro")
    for cid in ids:
        wait_available(client, cid)

    first = client.describe_cache_clusters(MaxRecords=20)
    assert len(first["CacheClusters"]) == 20
    assert first.get("Marker")
    second = client.describe_cache_clusters(MaxRecords=20, Marker=first["Marker"])
    assert len(second["CacheClusters"]) == 1
    assert not second.get("Marker")

    seen = []
    for page in client.get_paginator("describe_cache_clusters").paginate(PaginationConfig={"PageSize": 20}):
        seen += [c["CacheClusterId"] for c in page["CacheClusters"]]
    assert sorted(seen) == ids

    for bad in (19, 101):
        with aws_error(client, "InvalidParameterValue", 400, "InvalidParameterValueException"):
            client.describe_cache_clusters(MaxRecords=bad)


def test_region_isolation(make_client, resources, uid):
    east, west = make_client(region="us-east-1"), make_client(region="us-west-2")
    cid = uid("iso")
    c_east = create_redis(east, resources, cid)
    with aws_error(west, "CacheClusterNotFound", 404, "CacheClusterNotFoundFault"):
        west.describe_cache_clusters(CacheClusterId=cid)
    # The same id may exist in another region.
    c_west = create_redis(west, resources, cid)
    assert c_west["ARN"] == f"arn:aws:elasticache:us-west-2:000000000000:cluster:{cid}"
    assert c_west["PreferredAvailabilityZone"].startswith("us-west-2")
    assert node_endpoints(c_west)["0001"] != node_endpoints(c_east)["0001"]
    assert all(c["CacheClusterId"] != cid or c["ARN"].split(":")[3] == "us-west-2"
               for c in west.describe_cache_clusters()["CacheClusters"])


def test_account_isolation(make_client, resources, uid):
    default, other = make_client(), make_client(access_key="123456789012")
    cid = uid("acct")
    create_redis(default, resources, cid)
    with aws_error(other, "CacheClusterNotFound", 404, "CacheClusterNotFoundFault"):
        other.describe_cache_clusters(CacheClusterId=cid)
    c = create_redis(other, resources, cid)
    assert c["ARN"] == f"arn:aws:elasticache:us-east-1:123456789012:cluster:{cid}"
    assert describe_cluster(default, cid)["ARN"] == f"arn:aws:elasticache:us-east-1:000000000000:cluster:{cid}"


def test_memcached_reboot_applies_pending_parameters(ec, resources, uid):
    # max_item_size is a requires-reboot parameter (reference 7.2): new clusters start with the
    # group's value; a change marks running nodes pending-reboot until RebootCacheCluster.
    pg = resources.parameter_group(ec, uid("pg"))
    ec.create_cache_parameter_group(CacheParameterGroupName=pg, CacheParameterGroupFamily="memcached1.6", Description="t")
    ec.modify_cache_parameter_group(
        CacheParameterGroupName=pg, ParameterNameValues=[{"ParameterName": "max_item_size", "ParameterValue": "2097152"}]
    )
    cid = uid("mc")
    c = create_memcached(ec, resources, cid, nodes=1, CacheParameterGroupName=pg)
    ep = node_endpoints(c)["0001"]
    mc = _memcache(*ep)
    assert int(mc.stats("settings")[b"item_size_max"]) == 2097152
    big = b"x" * (1536 * 1024)
    assert mc.set("big", big, noreply=False) is True
    assert mc.get("big") == big
    huge = b"y" * (3 * 1024 * 1024)
    with pytest.raises(MemcacheServerError, match="too large"):
        mc.set("huge", huge, noreply=False)  # 3 MiB exceeds max_item_size 2 MiB
    mc.close()

    ec.modify_cache_parameter_group(
        CacheParameterGroupName=pg, ParameterNameValues=[{"ParameterName": "max_item_size", "ParameterValue": "4194304"}]
    )
    c = describe_cluster(ec, cid)
    assert c["CacheParameterGroup"]["ParameterApplyStatus"] == "pending-reboot"
    assert c["CacheParameterGroup"]["CacheNodeIdsToReboot"] == ["0001"]
    assert c["CacheNodes"][0]["ParameterGroupStatus"] == "pending-reboot"
    mc = _memcache(*ep)
    assert int(mc.stats("settings")[b"item_size_max"]) == 2097152, "requires-reboot values wait for a reboot"
    mc.close()

    ec.reboot_cache_cluster(CacheClusterId=cid, CacheNodeIdsToReboot=["0001"])
    c = wait_available(ec, cid)
    assert c["CacheParameterGroup"]["ParameterApplyStatus"] == "in-sync"
    assert c["CacheNodes"][0]["ParameterGroupStatus"] == "in-sync"
    mc = _memcache(*ep)
    assert int(mc.stats("settings")[b"item_size_max"]) == 4194304
    assert mc.set("huge", huge, noreply=False) is True
    assert mc.get("huge") == huge
    mc.close()


def test_legacy_discovery_key_on_old_memcached(ec, resources, uid):
    # Engines older than 1.4.14 answer auto discovery through the key AmazonElastiCache:cluster
    # (reference 6), with the same body as `config get cluster`.
    c = create_memcached(ec, resources, uid("mc"), nodes=2, EngineVersion="1.4.5")
    assert c["EngineVersion"] == "1.4.5"
    assert c["CacheParameterGroup"]["CacheParameterGroupName"] == "default.memcached1.4"
    cfg = (c["ConfigurationEndpoint"]["Address"], c["ConfigurationEndpoint"]["Port"])
    raw = memcached_exchange(*cfg, b"get AmazonElastiCache:cluster\r\n")
    header, _, rest = raw.partition(b"\r\n")
    assert header.startswith(b"VALUE AmazonElastiCache:cluster 0 "), raw
    length = int(header.split(b" ")[3])
    body = rest[:length]
    assert rest[length:] == b"\r\nEND\r\n"
    version, nodes, empty = body.split(b"\n")
    assert int(version) >= 1 and empty == b""
    listed = sorted((h, int(p)) for h, _, p in (t.split("|") for t in nodes.decode().split(" ")))
    assert listed == sorted(node_endpoints(c).values())
    assert memcached_exchange(*cfg, b"version\r\n", until=(b"\r\n",)) == b"VERSION 1.4.5\r\n"
