"""DescribeCacheEngineVersions through boto3 (reference section 2.4)."""

from __future__ import annotations

import re


def _versions(client, **kw):
    out = []
    for page in client.get_paginator("describe_cache_engine_versions").paginate(**kw):
        out += page["CacheEngineVersions"]
    return out


def test_all_engines_listed(ec):
    versions = _versions(ec)
    engines = {v["Engine"] for v in versions}
    assert {"redis", "memcached", "valkey"} <= engines
    pairs = {(v["Engine"], v["EngineVersion"]) for v in versions}
    for expected in [("memcached", "1.6.22"), ("memcached", "1.4.5"), ("redis", "7.1"), ("redis", "6.2"),
                     ("redis", "5.0.6"), ("valkey", "7.2")]:
        assert expected in pairs, f"{expected} missing"
    for v in versions:
        assert v["CacheParameterGroupFamily"], v
        assert v["CacheEngineDescription"], v
        assert v["CacheEngineVersionDescription"], v


def test_redis_patch_in_description(ec):
    (v,) = _versions(ec, Engine="redis", EngineVersion="6.2")
    assert v["CacheParameterGroupFamily"] == "redis6.x"
    assert v["CacheEngineDescription"] == "Redis"
    assert v["CacheEngineVersionDescription"] == "redis version 6.2.6"
    (v,) = _versions(ec, Engine="memcached", EngineVersion="1.6.22")
    assert v["CacheParameterGroupFamily"] == "memcached1.6"
    assert v["CacheEngineDescription"] == "memcached"


def test_filters(ec):
    memcached = _versions(ec, Engine="memcached")
    assert memcached and all(v["Engine"] == "memcached" for v in memcached)
    fam = _versions(ec, CacheParameterGroupFamily="redis7")
    assert fam and all(v["CacheParameterGroupFamily"] == "redis7" for v in fam)
    assert {v["EngineVersion"] for v in fam} >= {"7.0", "7.1"}
    defaults = _versions(ec, Engine="redis", DefaultOnly=True)
    assert len(defaults) == 1 and defaults[0]["EngineVersion"] == "7.1"
    # No match is an empty list, never an error.
    assert _versions(ec, Engine="redis", EngineVersion="1.0") == []


def test_versions_are_dotted(ec):
    for v in _versions(ec):
        assert re.fullmatch(r"\d+\.(\d+|x)(\.\d+)?", v["EngineVersion"]), v["EngineVersion"]


def test_paging(ec):
    first = ec.describe_cache_engine_versions(MaxRecords=20)
    all_versions = _versions(ec)
    if len(all_versions) > 20:
        assert len(first["CacheEngineVersions"]) == 20 and first.get("Marker")
    seen = [(v["Engine"], v["EngineVersion"]) for v in _versions(ec, PaginationConfig={"PageSize": 20})]
    assert len(seen) == len(set(seen)) == len(all_versions)
