"""ModifyCacheCluster's ScaleConfig through boto3: a Memcached node type change (vertical
scaling) restarts the nodes in batches of ScalePercentage percent (rounded up to whole nodes;
AWS's defaults 20 % and 5 minutes when the request gives none), reported in
PendingModifiedValues.ScaleConfig and as one event per batch, with AWS's ranges (10-100 %,
2-30 minutes), Memcached 1.5 or later only, and Memcached clusters only.
"""

from __future__ import annotations

import re

from helpers import aws_error, create_memcached, create_redis, wait_available


def batch_events(ec, cid: str) -> list[list[str]]:
    """The node ids restarted in each batch, in order."""
    events = ec.describe_events(SourceIdentifier=cid, SourceType="cache-cluster")["Events"]
    found = []
    for e in reversed(events):  # newest first on the wire
        m = re.match(r"Scaling batch (\d+) of (\d+) \(\d+% of the nodes\): restarting cache nodes (.*)", e["Message"])
        if m:
            found.append(m.group(3).split(", "))
    return found


def test_scale_config_restarts_the_nodes_in_batches(ec, resources, uid):
    cid = uid("mcs")
    create_memcached(ec, resources, cid, nodes=4)
    out = ec.modify_cache_cluster(
        CacheClusterId=cid,
        CacheNodeType="cache.t3.small",
        ScaleConfig={"ScalePercentage": 50, "ScaleIntervalMinutes": 2},
        ApplyImmediately=True,
    )["CacheCluster"]
    assert out["CacheClusterStatus"] == "modifying"
    pending = out["PendingModifiedValues"]
    assert pending["CacheNodeType"] == "cache.t3.small"
    assert pending["ScaleConfig"] == {"ScalePercentage": 50, "ScaleIntervalMinutes": 2}
    c = wait_available(ec, cid)
    assert c["CacheNodeType"] == "cache.t3.small"
    assert "ScaleConfig" not in c.get("PendingModifiedValues", {})
    assert batch_events(ec, cid) == [["0001", "0002"], ["0003", "0004"]]
    assert all(n["CacheNodeStatus"] == "available" for n in c["CacheNodes"])


def test_aws_defaults_apply_without_scale_config(ec, resources, uid):
    cid = uid("mcd")
    create_memcached(ec, resources, cid, nodes=3)
    out = ec.modify_cache_cluster(CacheClusterId=cid, CacheNodeType="cache.t3.small", ApplyImmediately=True)
    assert out["CacheCluster"]["PendingModifiedValues"]["ScaleConfig"] == {
        "ScalePercentage": 20,
        "ScaleIntervalMinutes": 5,
    }
    wait_available(ec, cid)
    # 20 % of 3 nodes is 0.6, rounded up to one node per batch.
    assert batch_events(ec, cid) == [["0001"], ["0002"], ["0003"]]


def test_scale_config_errors(ec, resources, uid):
    cid = uid("mce")
    create_memcached(ec, resources, cid, nodes=2)
    for bad in ({"ScalePercentage": 9}, {"ScalePercentage": 101}, {"ScaleIntervalMinutes": 1},
                {"ScaleIntervalMinutes": 31}):
        with aws_error(ec, "InvalidParameterValue", 400):
            ec.modify_cache_cluster(
                CacheClusterId=cid, CacheNodeType="cache.t3.small", ScaleConfig=bad, ApplyImmediately=True
            )
    rid = uid("rcs")
    create_redis(ec, resources, rid)
    with aws_error(ec, "InvalidParameterCombination", 400):
        ec.modify_cache_cluster(
            CacheClusterId=rid, CacheNodeType="cache.t3.small", ScaleConfig={"ScalePercentage": 50},
            ApplyImmediately=True,
        )
    old = uid("mco")
    create_memcached(ec, resources, old, nodes=1, EngineVersion="1.4.5")
    with aws_error(ec, "InvalidParameterCombination", 400) as err:
        ec.modify_cache_cluster(CacheClusterId=old, CacheNodeType="cache.t3.small", ApplyImmediately=True)
    assert "1.5 or later" in err.value.response["Error"]["Message"]
    for c in (cid, rid, old):
        assert ec.describe_cache_clusters(CacheClusterId=c)["CacheClusters"][0]["CacheClusterStatus"] == "available"
