"""Reserved cache nodes through boto3: the offering table (every filter, both spellings of
Duration, pagination), purchases (payment-pending -> active, counts, tags on the
reserved-instance ARN), DescribeReservedCacheNodes with its filters, and AWS's errors
(ReservedCacheNodesOfferingNotFound, ReservedCacheNodeAlreadyExists,
ReservedCacheNodeQuotaExceeded, ReservedCacheNodeNotFound).
"""

from __future__ import annotations

import random
import time

import pytest

from helpers import aws_error

YEAR = 31536000


@pytest.fixture
def acct(make_client):
    """A client of an account of its own: purchases and quotas are per account and region."""
    return make_client(access_key=str(random.randint(10**11, 10**12 - 1)))


def offering(ec, **filters) -> dict:
    found = ec.describe_reserved_cache_nodes_offerings(**filters)["ReservedCacheNodesOfferings"]
    assert len(found) == 1, found
    return found[0]


def test_offerings_filters(acct):
    r6g = acct.describe_reserved_cache_nodes_offerings(CacheNodeType="cache.r6g.large", MaxRecords=100)[
        "ReservedCacheNodesOfferings"
    ]
    # 3 products x 2 terms x 3 payment options.
    assert len(r6g) == 18
    assert {o["ProductDescription"] for o in r6g} == {"redis", "valkey", "memcached"}
    assert {o["Duration"] for o in r6g} == {YEAR, 3 * YEAR}
    assert {o["OfferingType"] for o in r6g} == {"No Upfront", "Partial Upfront", "All Upfront"}
    one = offering(
        acct, CacheNodeType="cache.r6g.large", Duration="1", ProductDescription="redis", OfferingType="All Upfront"
    )
    assert one["FixedPrice"] > 0 and one["RecurringCharges"] == []
    same = offering(
        acct,
        CacheNodeType="cache.r6g.large",
        Duration=str(YEAR),
        ProductDescription="redis",
        OfferingType="All Upfront",
    )
    assert same == one
    no_upfront = offering(
        acct, CacheNodeType="cache.r6g.large", Duration="3", ProductDescription="valkey", OfferingType="No Upfront"
    )
    assert no_upfront["FixedPrice"] == 0
    [charge] = no_upfront["RecurringCharges"]
    assert charge["RecurringChargeFrequency"] == "Hourly" and charge["RecurringChargeAmount"] > 0
    by_id = offering(acct, ReservedCacheNodesOfferingId=one["ReservedCacheNodesOfferingId"])
    assert by_id == one
    # Bigger nodes cost more.
    big = offering(
        acct, CacheNodeType="cache.r6g.xlarge", Duration="1", ProductDescription="redis", OfferingType="All Upfront"
    )
    assert big["FixedPrice"] > one["FixedPrice"]
    assert acct.describe_reserved_cache_nodes_offerings(CacheNodeType="cache.nope.large")[
        "ReservedCacheNodesOfferings"
    ] == []
    with aws_error(acct, "InvalidParameterValue", 400):
        acct.describe_reserved_cache_nodes_offerings(Duration="2")
    with aws_error(acct, "InvalidParameterValue", 400):
        acct.describe_reserved_cache_nodes_offerings(OfferingType="Some Upfront")


def test_offerings_paginate(acct):
    pages = list(
        acct.get_paginator("describe_reserved_cache_nodes_offerings").paginate(
            ProductDescription="memcached", Duration="1", PaginationConfig={"PageSize": 50}
        )
    )
    sizes = [len(p["ReservedCacheNodesOfferings"]) for p in pages]
    assert len(sizes) > 1 and all(s == 50 for s in sizes[:-1])
    ids = [o["ReservedCacheNodesOfferingId"] for p in pages for o in p["ReservedCacheNodesOfferings"]]
    assert len(ids) == len(set(ids))


def test_purchase_and_describe(acct):
    o = offering(
        acct, CacheNodeType="cache.t3.small", Duration="1", ProductDescription="redis", OfferingType="Partial Upfront"
    )
    bought = acct.purchase_reserved_cache_nodes_offering(
        ReservedCacheNodesOfferingId=o["ReservedCacheNodesOfferingId"],
        ReservedCacheNodeId="my-reservation",
        CacheNodeCount=3,
        Tags=[{"Key": "team", "Value": "cache"}],
    )["ReservedCacheNode"]
    assert bought["ReservedCacheNodeId"] == "my-reservation"
    assert bought["State"] == "payment-pending"
    assert bought["CacheNodeCount"] == 3
    assert bought["FixedPrice"] == pytest.approx(o["FixedPrice"] * 3, abs=0.02)
    assert bought["ReservationARN"].endswith(":reserved-instance:my-reservation")
    tags = acct.list_tags_for_resource(ResourceName=bought["ReservationARN"])["TagList"]
    assert tags == [{"Key": "team", "Value": "cache"}]
    deadline = time.time() + 30
    while time.time() < deadline:
        [got] = acct.describe_reserved_cache_nodes(ReservedCacheNodeId="my-reservation")["ReservedCacheNodes"]
        if got["State"] == "active":
            break
        time.sleep(0.2)
    assert got["State"] == "active"

    other = offering(
        acct, CacheNodeType="cache.m5.large", Duration="3", ProductDescription="memcached", OfferingType="No Upfront"
    )
    generated = acct.purchase_reserved_cache_nodes_offering(
        ReservedCacheNodesOfferingId=other["ReservedCacheNodesOfferingId"]
    )["ReservedCacheNode"]
    assert generated["ReservedCacheNodeId"] and generated["CacheNodeCount"] == 1
    every = acct.describe_reserved_cache_nodes()["ReservedCacheNodes"]
    assert {n["ReservedCacheNodeId"] for n in every} == {"my-reservation", generated["ReservedCacheNodeId"]}
    assert [n["ReservedCacheNodeId"] for n in acct.describe_reserved_cache_nodes(Duration="3")["ReservedCacheNodes"]] == [
        generated["ReservedCacheNodeId"]
    ]
    assert [
        n["ReservedCacheNodeId"] for n in acct.describe_reserved_cache_nodes(ProductDescription="redis")["ReservedCacheNodes"]
    ] == ["my-reservation"]
    assert acct.describe_reserved_cache_nodes(CacheNodeType="cache.r5.large")["ReservedCacheNodes"] == []
    assert [
        n["ReservedCacheNodeId"]
        for n in acct.describe_reserved_cache_nodes(
            ReservedCacheNodesOfferingId=other["ReservedCacheNodesOfferingId"]
        )["ReservedCacheNodes"]
    ] == [generated["ReservedCacheNodeId"]]

    with aws_error(acct, "ReservedCacheNodeAlreadyExists", 404, "ReservedCacheNodeAlreadyExistsFault"):
        acct.purchase_reserved_cache_nodes_offering(
            ReservedCacheNodesOfferingId=o["ReservedCacheNodesOfferingId"], ReservedCacheNodeId="my-reservation"
        )
    with aws_error(acct, "ReservedCacheNodeNotFound", 404, "ReservedCacheNodeNotFoundFault"):
        acct.describe_reserved_cache_nodes(ReservedCacheNodeId="not-bought")
    with aws_error(acct, "ReservedCacheNodeNotFound", 404):
        acct.list_tags_for_resource(ResourceName=bought["ReservationARN"].replace("my-reservation", "other"))


def test_purchase_errors_and_quota(acct):
    with aws_error(acct, "ReservedCacheNodesOfferingNotFound", 404, "ReservedCacheNodesOfferingNotFoundFault"):
        acct.purchase_reserved_cache_nodes_offering(ReservedCacheNodesOfferingId="00000000-0000-0000-0000-000000000000")
    o = offering(
        acct, CacheNodeType="cache.t3.micro", Duration="1", ProductDescription="valkey", OfferingType="No Upfront"
    )
    oid = o["ReservedCacheNodesOfferingId"]
    with aws_error(acct, "InvalidParameterValue", 400):
        acct.purchase_reserved_cache_nodes_offering(ReservedCacheNodesOfferingId=oid, CacheNodeCount=0)
    acct.purchase_reserved_cache_nodes_offering(ReservedCacheNodesOfferingId=oid, ReservedCacheNodeId="big", CacheNodeCount=290)
    with aws_error(acct, "ReservedCacheNodeQuotaExceeded", 400, "ReservedCacheNodeQuotaExceededFault"):
        acct.purchase_reserved_cache_nodes_offering(ReservedCacheNodesOfferingId=oid, ReservedCacheNodeId="more", CacheNodeCount=11)
    acct.purchase_reserved_cache_nodes_offering(ReservedCacheNodesOfferingId=oid, ReservedCacheNodeId="last", CacheNodeCount=10)
    # Pagination of purchases.
    for i in range(25):
        with aws_error(acct, "ReservedCacheNodeQuotaExceeded", 400):
            acct.purchase_reserved_cache_nodes_offering(ReservedCacheNodesOfferingId=oid, ReservedCacheNodeId=f"x{i}")
    pages = list(acct.get_paginator("describe_reserved_cache_nodes").paginate(PaginationConfig={"PageSize": 20}))
    assert [n["ReservedCacheNodeId"] for p in pages for n in p["ReservedCacheNodes"]] == ["big", "last"]


def test_reserved_nodes_paginate(acct):
    o = offering(
        acct, CacheNodeType="cache.t3.medium", Duration="1", ProductDescription="redis", OfferingType="No Upfront"
    )
    ids = [f"res-{i:02d}" for i in range(23)]
    for rid in ids:
        acct.purchase_reserved_cache_nodes_offering(ReservedCacheNodesOfferingId=o["ReservedCacheNodesOfferingId"], ReservedCacheNodeId=rid)
    pages = list(acct.get_paginator("describe_reserved_cache_nodes").paginate(PaginationConfig={"PageSize": 20}))
    assert [len(p["ReservedCacheNodes"]) for p in pages] == [20, 3]
    assert [n["ReservedCacheNodeId"] for p in pages for n in p["ReservedCacheNodes"]] == ids
