"""Cache parameter groups through boto3 (reference sections 2.4, 2.13, 3.3, 7)."""

from __future__ import annotations

import pytest

from helpers import aws_error

# Families whose default groups must exist. redis2.6/redis2.8 are end-of-life and accepting them
# is optional (reference 2.4), so they are not required here.
FAMILIES = [
    "memcached1.4", "memcached1.5", "memcached1.6", "redis3.2", "redis4.0", "redis5.0", "redis6.x",
    "redis7", "valkey7", "valkey8",
]


def _params(client, name, **kw) -> dict[str, dict]:
    out = {}
    for page in client.get_paginator("describe_cache_parameters").paginate(CacheParameterGroupName=name, **kw):
        for p in page["Parameters"]:
            assert p["ParameterName"] not in out, f"{p['ParameterName']} listed twice across pages"
            out[p["ParameterName"]] = p
    return out


def test_create_describe_delete(ec, resources, uid):
    name = resources.parameter_group(ec, uid("pg"))
    created = ec.create_cache_parameter_group(
        CacheParameterGroupName=name, CacheParameterGroupFamily="redis7", Description="my group"
    )["CacheParameterGroup"]
    assert created == {
        "CacheParameterGroupName": name,
        "CacheParameterGroupFamily": "redis7",
        "Description": "my group",
        "IsGlobal": False,
        "ARN": f"arn:aws:elasticache:us-east-1:000000000000:parametergroup:{name}",
    }
    (described,) = ec.describe_cache_parameter_groups(CacheParameterGroupName=name)["CacheParameterGroups"]
    assert described == created

    out = ec.delete_cache_parameter_group(CacheParameterGroupName=name)
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 200
    with aws_error(ec, "CacheParameterGroupNotFound", 404, "CacheParameterGroupNotFoundFault"):
        ec.describe_cache_parameter_groups(CacheParameterGroupName=name)
    with aws_error(ec, "CacheParameterGroupNotFound", 404, "CacheParameterGroupNotFoundFault"):
        ec.delete_cache_parameter_group(CacheParameterGroupName=name)


def test_names_are_lower_cased(ec, resources, uid):
    name = uid("PG").upper()
    resources.parameter_group(ec, name.lower())
    out = ec.create_cache_parameter_group(
        CacheParameterGroupName=name, CacheParameterGroupFamily="redis7", Description="d"
    )["CacheParameterGroup"]
    assert out["CacheParameterGroupName"] == name.lower()
    (g,) = ec.describe_cache_parameter_groups(CacheParameterGroupName=name)["CacheParameterGroups"]
    assert g["CacheParameterGroupName"] == name.lower()


@pytest.mark.parametrize("family", FAMILIES)
def test_default_groups_exist(ec, family):
    # Default parameter groups are pre-created for every family (reference 2.4).
    (g,) = ec.describe_cache_parameter_groups(CacheParameterGroupName=f"default.{family}")["CacheParameterGroups"]
    assert g["CacheParameterGroupFamily"] == family
    assert g["IsGlobal"] is False


def test_cluster_on_default_groups(ec):
    for family in ("redis7", "redis6.x", "valkey8"):
        name = f"default.{family}.cluster.on"
        (g,) = ec.describe_cache_parameter_groups(CacheParameterGroupName=name)["CacheParameterGroups"]
        assert g["CacheParameterGroupFamily"] == family
        assert _params(ec, name)["cluster-enabled"]["ParameterValue"] == "yes"
    assert _params(ec, "default.redis7")["cluster-enabled"]["ParameterValue"] == "no"


def test_create_errors(ec, resources, uid):
    name = resources.parameter_group(ec, uid("pg"))
    ec.create_cache_parameter_group(CacheParameterGroupName=name, CacheParameterGroupFamily="redis7", Description="d")
    with aws_error(ec, "CacheParameterGroupAlreadyExists", 400, "CacheParameterGroupAlreadyExistsFault"):
        ec.create_cache_parameter_group(
            CacheParameterGroupName=name, CacheParameterGroupFamily="redis7", Description="d"
        )
    with aws_error(ec, "InvalidParameterValue", 400, "InvalidParameterValueException"):
        ec.create_cache_parameter_group(
            CacheParameterGroupName=uid("pg"), CacheParameterGroupFamily="redis99", Description="d"
        )
    for bad in ("1digit-first", "double--dash", "trailing-", "under_score", "a" * 256):
        with aws_error(ec, "InvalidParameterValue", 400, "InvalidParameterValueException"):
            ec.create_cache_parameter_group(CacheParameterGroupName=bad, CacheParameterGroupFamily="redis7", Description="d")


def test_parameters_cloned_from_defaults(ec, resources, uid):
    name = resources.parameter_group(ec, uid("pg"))
    ec.create_cache_parameter_group(CacheParameterGroupName=name, CacheParameterGroupFamily="redis7", Description="d")
    params = _params(ec, name)
    defaults = _params(ec, "default.redis7")
    assert params.keys() == defaults.keys()
    policy = params["maxmemory-policy"]
    assert policy["ParameterValue"] == "volatile-lru"
    assert policy["DataType"] == "string"
    assert policy["IsModifiable"] is True
    assert policy["ChangeType"] == "immediate"
    assert "allkeys-lru" in policy["AllowedValues"]
    assert policy["Source"] in ("system", "engine-default")
    assert params["reserved-memory-percent"]["ParameterValue"] == "25"
    assert params["timeout"]["ParameterValue"] == "0"
    assert params["timeout"]["DataType"] == "integer"
    assert ec.describe_cache_parameters(CacheParameterGroupName=name, Source="user")["Parameters"] == []


def test_modify_and_reset(ec, resources, uid):
    name = resources.parameter_group(ec, uid("pg"))
    ec.create_cache_parameter_group(CacheParameterGroupName=name, CacheParameterGroupFamily="redis7", Description="d")
    out = ec.modify_cache_parameter_group(
        CacheParameterGroupName=name,
        ParameterNameValues=[
            {"ParameterName": "maxmemory-policy", "ParameterValue": "allkeys-lru"},
            {"ParameterName": "timeout", "ParameterValue": "300"},
        ],
    )
    assert out["CacheParameterGroupName"] == name

    # Source=user lists exactly the user-modified parameters (Terraform reads this).
    user = {p["ParameterName"]: p for p in ec.describe_cache_parameters(CacheParameterGroupName=name, Source="user")["Parameters"]}
    assert set(user) == {"maxmemory-policy", "timeout"}
    assert user["maxmemory-policy"]["ParameterValue"] == "allkeys-lru"
    assert user["maxmemory-policy"]["Source"] == "user"
    assert user["timeout"]["ParameterValue"] == "300"

    out = ec.reset_cache_parameter_group(
        CacheParameterGroupName=name, ParameterNameValues=[{"ParameterName": "timeout"}]
    )
    assert out["CacheParameterGroupName"] == name
    params = _params(ec, name)
    assert params["timeout"]["ParameterValue"] == "0"
    assert params["maxmemory-policy"]["ParameterValue"] == "allkeys-lru"

    ec.reset_cache_parameter_group(CacheParameterGroupName=name, ResetAllParameters=True)
    assert _params(ec, name)["maxmemory-policy"]["ParameterValue"] == "volatile-lru"
    assert ec.describe_cache_parameters(CacheParameterGroupName=name, Source="user")["Parameters"] == []


def test_modify_errors(ec, resources, uid):
    name = resources.parameter_group(ec, uid("pg"))
    ec.create_cache_parameter_group(CacheParameterGroupName=name, CacheParameterGroupFamily="redis7", Description="d")

    with aws_error(ec, "InvalidParameterValue", 400, "InvalidParameterValueException"):
        ec.modify_cache_parameter_group(
            CacheParameterGroupName=name,
            ParameterNameValues=[{"ParameterName": "no-such-parameter", "ParameterValue": "1"}],
        )
    # maxmemory and cluster-enabled are not modifiable (reference 7.1).
    with aws_error(ec, "InvalidParameterValue", 400, "InvalidParameterValueException"):
        ec.modify_cache_parameter_group(
            CacheParameterGroupName=name, ParameterNameValues=[{"ParameterName": "maxmemory", "ParameterValue": "1000"}]
        )
    # A value outside AllowedValues.
    with aws_error(ec, "InvalidParameterValue", 400, "InvalidParameterValueException"):
        ec.modify_cache_parameter_group(
            CacheParameterGroupName=name,
            ParameterNameValues=[{"ParameterName": "maxmemory-policy", "ParameterValue": "sometimes-lru"}],
        )
    # At most 20 parameters per call.
    many = [{"ParameterName": "timeout", "ParameterValue": str(20 + i)} for i in range(21)]
    with aws_error(ec, "InvalidParameterValue", 400, "InvalidParameterValueException"):
        ec.modify_cache_parameter_group(CacheParameterGroupName=name, ParameterNameValues=many)
    # Default groups are read-only.
    with aws_error(ec, "InvalidParameterValue", 400, "InvalidParameterValueException"):
        ec.modify_cache_parameter_group(
            CacheParameterGroupName="default.redis7",
            ParameterNameValues=[{"ParameterName": "timeout", "ParameterValue": "60"}],
        )
    with aws_error(ec, "InvalidParameterValue", 400, "InvalidParameterValueException"):
        ec.delete_cache_parameter_group(CacheParameterGroupName="default.redis7")
    missing = uid("missing")
    with aws_error(ec, "CacheParameterGroupNotFound", 404, "CacheParameterGroupNotFoundFault"):
        ec.modify_cache_parameter_group(
            CacheParameterGroupName=missing, ParameterNameValues=[{"ParameterName": "timeout", "ParameterValue": "60"}]
        )
    with aws_error(ec, "CacheParameterGroupNotFound", 404, "CacheParameterGroupNotFoundFault"):
        ec.reset_cache_parameter_group(CacheParameterGroupName=missing, ResetAllParameters=True)
    with aws_error(ec, "CacheParameterGroupNotFound", 404, "CacheParameterGroupNotFoundFault"):
        ec.describe_cache_parameters(CacheParameterGroupName=missing)
    # Nothing changed by the failed calls.
    assert ec.describe_cache_parameters(CacheParameterGroupName=name, Source="user")["Parameters"] == []


def test_memcached_parameters(ec, resources, uid):
    name = resources.parameter_group(ec, uid("pg"))
    ec.create_cache_parameter_group(
        CacheParameterGroupName=name, CacheParameterGroupFamily="memcached1.6", Description="d"
    )
    params = _params(ec, name)
    assert params["max_item_size"]["ParameterValue"] == "1048576"
    assert params["chunk_size"]["ParameterValue"] == "48"
    ec.modify_cache_parameter_group(
        CacheParameterGroupName=name, ParameterNameValues=[{"ParameterName": "max_item_size", "ParameterValue": "2097152"}]
    )
    assert _params(ec, name)["max_item_size"]["ParameterValue"] == "2097152"


def test_engine_default_parameters(ec):
    defaults = ec.describe_engine_default_parameters(CacheParameterGroupFamily="redis7")["EngineDefaults"]
    assert defaults["CacheParameterGroupFamily"] == "redis7"
    names = {p["ParameterName"] for p in defaults["Parameters"]}
    assert {"maxmemory-policy", "timeout", "notify-keyspace-events"} <= names
    # Node-type specific values (maxmemory) come as CacheNodeTypeSpecificParameters.
    specific = {p["ParameterName"]: p for p in defaults.get("CacheNodeTypeSpecificParameters", [])}
    if defaults.get("Marker"):
        # Everything lives on later pages; walk them all.
        for page in ec.get_paginator("describe_engine_default_parameters").paginate(CacheParameterGroupFamily="redis7"):
            for p in page["EngineDefaults"].get("CacheNodeTypeSpecificParameters", []):
                specific[p["ParameterName"]] = p
    assert "maxmemory" in specific
    values = {v["CacheNodeType"]: v["Value"] for v in specific["maxmemory"]["CacheNodeTypeSpecificValues"]}
    assert values["cache.t3.micro"] == "536870912"
    assert values["cache.m5.large"] == "6854542746"

    with aws_error(ec, "InvalidParameterValue", 400, "InvalidParameterValueException"):
        ec.describe_engine_default_parameters(CacheParameterGroupFamily="redis99")


def test_engine_default_parameters_paginate(ec):
    seen = []
    pages = 0
    for page in ec.get_paginator("describe_engine_default_parameters").paginate(
        CacheParameterGroupFamily="redis7", PaginationConfig={"PageSize": 20}
    ):
        pages += 1
        seen += [p["ParameterName"] for p in page["EngineDefaults"]["Parameters"]]
    assert pages >= 2, "redis7 has more than 20 parameters, so 20 per page needs several pages"
    assert len(seen) == len(set(seen))
    full = ec.describe_engine_default_parameters(CacheParameterGroupFamily="redis7", MaxRecords=100)
    assert set(seen) >= {p["ParameterName"] for p in full["EngineDefaults"]["Parameters"]}


def test_describe_parameters_paginate(ec):
    first = ec.describe_cache_parameters(CacheParameterGroupName="default.redis7", MaxRecords=20)
    assert len(first["Parameters"]) == 20
    assert first.get("Marker")
    second = ec.describe_cache_parameters(CacheParameterGroupName="default.redis7", MaxRecords=20, Marker=first["Marker"])
    assert {p["ParameterName"] for p in first["Parameters"]}.isdisjoint(p["ParameterName"] for p in second["Parameters"])


def test_pagination_of_groups(make_client, resources, uid):
    # A region of its own: its listing holds the default groups plus exactly this test's groups.
    client = make_client(region="eu-west-1")
    names = sorted(uid("pg") for _ in range(22))
    for name in names:
        resources.parameter_group(client, name)
        client.create_cache_parameter_group(
            CacheParameterGroupName=name, CacheParameterGroupFamily="redis7", Description="paging"
        )
    seen = []
    markers = []
    for page in client.get_paginator("describe_cache_parameter_groups").paginate(PaginationConfig={"PageSize": 20}):
        assert len(page["CacheParameterGroups"]) <= 20
        seen += [g["CacheParameterGroupName"] for g in page["CacheParameterGroups"]]
        markers.append(page.get("Marker"))
    assert len(markers) >= 2
    assert not markers[-1], "no Marker on the last page"
    assert len(seen) == len(set(seen)), "no group listed twice"
    assert set(names) <= set(seen)
    assert "default.redis7" in seen

    for bad in (0, 19, 101):
        with aws_error(client, "InvalidParameterValue", 400, "InvalidParameterValueException"):
            client.describe_cache_parameter_groups(MaxRecords=bad)
    # Other regions do not see these groups.
    with aws_error(make_client(region="eu-west-2"), "CacheParameterGroupNotFound", 404, "CacheParameterGroupNotFoundFault"):
        make_client(region="eu-west-2").describe_cache_parameter_groups(CacheParameterGroupName=names[0])
