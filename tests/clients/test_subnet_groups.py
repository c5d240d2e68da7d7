"""Cache subnet groups through boto3 (reference sections 2.12, 1.5, 3.3)."""

from __future__ import annotations

import re

from helpers import aws_error, create_redis

VPC = re.compile(r"^vpc-[0-9a-f]{8,17}$")


def test_create_describe_modify_delete(ec, resources, uid):
    name = resources.subnet_group(ec, uid("sng"))
    g = ec.create_cache_subnet_group(
        CacheSubnetGroupName=name,
        CacheSubnetGroupDescription="my subnets",
        SubnetIds=["subnet-0a1b2c3d", "subnet-1a2b3c4d"],
    )["CacheSubnetGroup"]
    assert g["CacheSubnetGroupName"] == name
    assert g["CacheSubnetGroupDescription"] == "my subnets"
    assert VPC.match(g["VpcId"]), g["VpcId"]
    assert g["ARN"] == f"arn:aws:elasticache:us-east-1:000000000000:subnetgroup:{name}"
    assert [s["SubnetIdentifier"] for s in g["Subnets"]] == ["subnet-0a1b2c3d", "subnet-1a2b3c4d"]
    for s in g["Subnets"]:
        assert re.match(r"^us-east-1[a-z]$", s["SubnetAvailabilityZone"]["Name"]), s
    assert "ipv4" in g["SupportedNetworkTypes"]

    (d,) = ec.describe_cache_subnet_groups(CacheSubnetGroupName=name)["CacheSubnetGroups"]
    assert d["VpcId"] == g["VpcId"], "the synthesised VPC id is stable"
    assert d["Subnets"] == g["Subnets"]

    m = ec.modify_cache_subnet_group(
        CacheSubnetGroupName=name, CacheSubnetGroupDescription="changed", SubnetIds=["subnet-9f8e7d6c"]
    )["CacheSubnetGroup"]
    assert m["CacheSubnetGroupDescription"] == "changed"
    assert [s["SubnetIdentifier"] for s in m["Subnets"]] == ["subnet-9f8e7d6c"]
    (d,) = ec.describe_cache_subnet_groups(CacheSubnetGroupName=name)["CacheSubnetGroups"]
    assert d["CacheSubnetGroupDescription"] == "changed"

    out = ec.delete_cache_subnet_group(CacheSubnetGroupName=name)
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 200
    # Subnet group NotFound is the odd one: code ends in "Fault" and HTTP is 400 (reference 1.5).
    with aws_error(ec, "CacheSubnetGroupNotFoundFault", 400, "CacheSubnetGroupNotFoundFault"):
        ec.describe_cache_subnet_groups(CacheSubnetGroupName=name)
    with aws_error(ec, "CacheSubnetGroupNotFoundFault", 400, "CacheSubnetGroupNotFoundFault"):
        ec.delete_cache_subnet_group(CacheSubnetGroupName=name)
    with aws_error(ec, "CacheSubnetGroupNotFoundFault", 400, "CacheSubnetGroupNotFoundFault"):
        ec.modify_cache_subnet_group(CacheSubnetGroupName=name, CacheSubnetGroupDescription="x")


def test_default_group_exists_and_is_protected(ec):
    (d,) = ec.describe_cache_subnet_groups(CacheSubnetGroupName="default")["CacheSubnetGroups"]
    assert d["CacheSubnetGroupName"] == "default"
    assert d["CacheSubnetGroupDescription"] == "Default CacheSubnetGroup"
    code = None
    try:
        ec.delete_cache_subnet_group(CacheSubnetGroupName="default")
    except ec.exceptions.ClientError as err:
        code = err.response["Error"]["Code"]
    assert code is not None, "the default subnet group cannot be deleted"
    ec.describe_cache_subnet_groups(CacheSubnetGroupName="default")


def test_create_errors(ec, resources, uid):
    name = resources.subnet_group(ec, uid("sng"))
    ec.create_cache_subnet_group(CacheSubnetGroupName=name, CacheSubnetGroupDescription="d", SubnetIds=["subnet-11111111"])
    with aws_error(ec, "CacheSubnetGroupAlreadyExists", 400, "CacheSubnetGroupAlreadyExistsFault"):
        ec.create_cache_subnet_group(CacheSubnetGroupName=name, CacheSubnetGroupDescription="d", SubnetIds=["subnet-11111111"])
    with aws_error(ec, "InvalidSubnet", 400, "InvalidSubnet"):
        ec.create_cache_subnet_group(CacheSubnetGroupName=uid("sng"), CacheSubnetGroupDescription="d", SubnetIds=["not-a-subnet"])
    too_many = [f"subnet-{i:08x}" for i in range(21)]
    with aws_error(ec, "CacheSubnetQuotaExceededFault", 400, "CacheSubnetQuotaExceededFault"):
        ec.create_cache_subnet_group(CacheSubnetGroupName=uid("sng"), CacheSubnetGroupDescription="d", SubnetIds=too_many)
    with aws_error(ec, "InvalidParameterValue", 400, "InvalidParameterValueException"):
        ec.create_cache_subnet_group(CacheSubnetGroupName="bad_name!", CacheSubnetGroupDescription="d", SubnetIds=["subnet-11111111"])
    with aws_error(ec, "InvalidSubnet", 400, "InvalidSubnet"):
        ec.modify_cache_subnet_group(CacheSubnetGroupName=name, SubnetIds=["bogus"])


def test_names_are_lower_cased(ec, resources, uid):
    name = uid("SNG").upper()
    resources.subnet_group(ec, name.lower())
    g = ec.create_cache_subnet_group(CacheSubnetGroupName=name, CacheSubnetGroupDescription="d", SubnetIds=["subnet-11111111"])
    assert g["CacheSubnetGroup"]["CacheSubnetGroupName"] == name.lower()
    (d,) = ec.describe_cache_subnet_groups(CacheSubnetGroupName=name)["CacheSubnetGroups"]
    assert d["CacheSubnetGroupName"] == name.lower()


def test_in_use_group_cannot_be_deleted(ec, resources, uid):
    name = resources.subnet_group(ec, uid("sng"))
    ec.create_cache_subnet_group(CacheSubnetGroupName=name, CacheSubnetGroupDescription="d", SubnetIds=["subnet-22222222"])
    c = create_redis(ec, resources, uid("redis"), CacheSubnetGroupName=name)
    assert c["CacheSubnetGroupName"] == name
    with aws_error(ec, "CacheSubnetGroupInUse", 400, "CacheSubnetGroupInUse"):
        ec.delete_cache_subnet_group(CacheSubnetGroupName=name)


def test_pagination(make_client, resources, uid):
    client = make_client(region="ca-central-1")
    names = sorted(uid("sng") for _ in range(21))
    for name in names:
        resources.subnet_group(client, name)
        client.create_cache_subnet_group(CacheSubnetGroupName=name, CacheSubnetGroupDescription="p", SubnetIds=["subnet-33333333"])
    seen, pages = [], 0
    for page in client.get_paginator("describe_cache_subnet_groups").paginate(PaginationConfig={"PageSize": 20}):
        pages += 1
        seen += [g["CacheSubnetGroupName"] for g in page["CacheSubnetGroups"]]
    assert pages >= 2
    assert len(seen) == len(set(seen))
    assert set(names) <= set(seen)
    with aws_error(client, "InvalidParameterValue", 400, "InvalidParameterValueException"):
        client.describe_cache_subnet_groups(MaxRecords=10)
