"""DescribeEvents through boto3 (reference section 2.18)."""

from __future__ import annotations

import datetime as dt
import re

from helpers import aws_error, create_memcached, create_redis, wait_available, wait_deleted


def _events(client, **kw):
    out = []
    for page in client.get_paginator("describe_events").paginate(**kw):
        out += page["Events"]
    return out


def test_cluster_lifecycle_events(ec, resources, uid):
    cid = uid("redis")
    create_redis(ec, resources, cid)
    events = _events(ec, SourceIdentifier=cid, SourceType="cache-cluster")
    assert events, "creating a cluster records events"
    for e in events:
        assert e["SourceIdentifier"] == cid
        assert e["SourceType"] == "cache-cluster"
        assert e["Date"].tzinfo is not None
    messages = [e["Message"] for e in events]
    assert "Cache cluster created" in messages
    assert any(re.fullmatch(r"Added cache node 0001 in availability zone us-east-1[a-z]", m) for m in messages), messages
    dates = [e["Date"] for e in events]
    assert dates == sorted(dates, reverse=True), "newest first"

    ec.reboot_cache_cluster(CacheClusterId=cid, CacheNodeIdsToReboot=["0001"])
    wait_available(ec, cid)
    ec.delete_cache_cluster(CacheClusterId=cid)
    wait_deleted(ec, cid)
    later = _events(ec, SourceIdentifier=cid, SourceType="cache-cluster")
    assert len(later) > len(events), "reboot and deletion are recorded too"


def test_memcached_node_events(ec, resources, uid):
    cid = uid("mc")
    create_memcached(ec, resources, cid, nodes=2)
    msgs = [e["Message"] for e in _events(ec, SourceIdentifier=cid, SourceType="cache-cluster")]
    for node in ("0001", "0002"):
        assert any(m.startswith(f"Added cache node {node} in availability zone") for m in msgs), msgs


def test_parameter_group_events_and_filters(ec, resources, uid):
    pg = resources.parameter_group(ec, uid("pg"))
    ec.create_cache_parameter_group(CacheParameterGroupName=pg, CacheParameterGroupFamily="redis7", Description="d")
    ec.modify_cache_parameter_group(
        CacheParameterGroupName=pg, ParameterNameValues=[{"ParameterName": "timeout", "ParameterValue": "60"}]
    )
    evs = _events(ec, SourceIdentifier=pg, SourceType="cache-parameter-group")
    assert evs and all(e["SourceType"] == "cache-parameter-group" for e in evs)
    # A source type filter excludes other types.
    assert _events(ec, SourceIdentifier=pg, SourceType="cache-cluster") == []


def test_time_window_filters(ec, resources, uid):
    cid = uid("mc")
    create_memcached(ec, resources, cid, nodes=1)
    now = dt.datetime.now(dt.timezone.utc)
    recent = _events(ec, SourceIdentifier=cid, SourceType="cache-cluster", Duration=60)
    assert recent
    future = _events(ec, SourceIdentifier=cid, SourceType="cache-cluster",
                     StartTime=now + dt.timedelta(hours=1), EndTime=now + dt.timedelta(hours=2))
    assert future == []
    window = _events(ec, SourceIdentifier=cid, SourceType="cache-cluster",
                     StartTime=now - dt.timedelta(hours=1), EndTime=now + dt.timedelta(minutes=5))
    assert {e["Message"] for e in window} == {e["Message"] for e in recent}


def test_no_match_is_empty_not_error(ec, uid):
    assert ec.describe_events(SourceIdentifier=uid("nothing"), SourceType="cache-cluster")["Events"] == []


def test_max_records_validated(ec):
    with aws_error(ec, "InvalidParameterValue", 400, "InvalidParameterValueException"):
        ec.describe_events(MaxRecords=5)


def test_events_are_isolated_by_region(make_client, resources, uid):
    east, west = make_client(), make_client(region="us-west-2")
    cid = uid("mc")
    create_memcached(east, resources, cid, nodes=1)
    assert _events(west, SourceIdentifier=cid, SourceType="cache-cluster") == []
