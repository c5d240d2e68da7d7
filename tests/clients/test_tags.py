"""Tags through boto3 (reference sections 2.2, 2.19)."""

from __future__ import annotations

from helpers import aws_error, create_memcached, wait_deleted


def _tags(client, arn) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in client.list_tags_for_resource(ResourceName=arn)["TagList"]}


def test_add_list_remove_on_cluster(ec, resources, uid):
    c = create_memcached(ec, resources, uid("mc"), nodes=1, Tags=[{"Key": "env", "Value": "dev"}])
    arn = c["ARN"]
    assert _tags(ec, arn) == {"env": "dev"}

    out = ec.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "x"}])
    # The full resulting list, with the same key overwritten.
    assert {t["Key"]: t["Value"] for t in out["TagList"]} == {"env": "prod", "team": "x"}
    assert _tags(ec, arn) == {"env": "prod", "team": "x"}

    out = ec.remove_tags_from_resource(ResourceName=arn, TagKeys=["env"])
    assert {t["Key"]: t["Value"] for t in out["TagList"]} == {"team": "x"}
    with aws_error(ec, "TagNotFound", 404, "TagNotFoundFault"):
        ec.remove_tags_from_resource(ResourceName=arn, TagKeys=["env"])
    assert _tags(ec, arn) == {"team": "x"}

    ec.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "empty", "Value": ""}])
    assert _tags(ec, arn) == {"team": "x", "empty": ""}


def test_tags_on_every_group_kind(ec, resources, uid):
    pg = resources.parameter_group(ec, uid("pg"))
    arn_pg = ec.create_cache_parameter_group(
        CacheParameterGroupName=pg, CacheParameterGroupFamily="redis7", Description="d", Tags=[{"Key": "k", "Value": "pg"}]
    )["CacheParameterGroup"]["ARN"]
    sng = resources.subnet_group(ec, uid("sng"))
    arn_sng = ec.create_cache_subnet_group(
        CacheSubnetGroupName=sng, CacheSubnetGroupDescription="d", SubnetIds=["subnet-12345678"],
        Tags=[{"Key": "k", "Value": "sng"}],
    )["CacheSubnetGroup"]["ARN"]
    sec = resources.security_group(ec, uid("sec"))
    arn_sec = ec.create_cache_security_group(
        CacheSecurityGroupName=sec, Description="d", Tags=[{"Key": "k", "Value": "sec"}]
    )["CacheSecurityGroup"]["ARN"]
    assert _tags(ec, arn_pg) == {"k": "pg"}
    assert _tags(ec, arn_sng) == {"k": "sng"}
    assert _tags(ec, arn_sec) == {"k": "sec"}
    for arn in (arn_pg, arn_sng, arn_sec):
        ec.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "added", "Value": "1"}])
        assert _tags(ec, arn)["added"] == "1"


def test_tag_errors(ec, resources, uid):
    c = create_memcached(ec, resources, uid("mc"), nodes=1)
    arn = c["ARN"]
    with aws_error(ec, "InvalidARN", 400, "InvalidARNFault"):
        ec.list_tags_for_resource(ResourceName="not-an-arn")
    with aws_error(ec, "InvalidARN", 400, "InvalidARNFault"):
        ec.list_tags_for_resource(ResourceName="arn:aws:elasticache:us-east-1:000000000000:nosuchtype:x")
    # A well-formed ARN of a missing resource answers that resource's NotFound.
    with aws_error(ec, "CacheClusterNotFound", 404, "CacheClusterNotFoundFault"):
        ec.list_tags_for_resource(ResourceName=f"arn:aws:elasticache:us-east-1:000000000000:cluster:{uid('gone')}")
    with aws_error(ec, "CacheParameterGroupNotFound", 404, "CacheParameterGroupNotFoundFault"):
        ec.add_tags_to_resource(
            ResourceName=f"arn:aws:elasticache:us-east-1:000000000000:parametergroup:{uid('gone')}",
            Tags=[{"Key": "a", "Value": "b"}],
        )
    with aws_error(ec, "CacheSubnetGroupNotFoundFault", 400, "CacheSubnetGroupNotFoundFault"):
        ec.list_tags_for_resource(ResourceName=f"arn:aws:elasticache:us-east-1:000000000000:subnetgroup:{uid('gone')}")
    with aws_error(ec, "CacheSecurityGroupNotFound", 404, "CacheSecurityGroupNotFoundFault"):
        ec.list_tags_for_resource(ResourceName=f"arn:aws:elasticache:us-east-1:000000000000:securitygroup:{uid('gone')}")

    # 50 tags per resource at most.
    ec.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    assert len(_tags(ec, arn)) == 50
    with aws_error(ec, "TagQuotaPerResourceExceeded", 400, "TagQuotaPerResourceExceeded"):
        ec.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "one-too-many", "Value": "v"}])
    assert len(_tags(ec, arn)) == 50
    # Overwriting an existing key does not count as a new tag.
    ec.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "k0", "Value": "changed"}])
    assert _tags(ec, arn)["k0"] == "changed"

    # The aws: prefix is reserved.
    code = None
    try:
        ec.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "aws:reserved", "Value": "v"}])
    except ec.exceptions.ClientError as err:
        code = err.response["Error"]["Code"]
    assert code in ("InvalidParameterValue", "TagQuotaPerResourceExceeded"), code


def test_create_with_too_many_tags(ec, uid):
    with aws_error(ec, "TagQuotaPerResourceExceeded", 400, "TagQuotaPerResourceExceeded"):
        ec.create_cache_parameter_group(
            CacheParameterGroupName=uid("pg"), CacheParameterGroupFamily="redis7", Description="d",
            Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)],
        )


def test_tags_vanish_with_resource(ec, resources, uid):
    cid = uid("mc")
    c = create_memcached(ec, resources, cid, nodes=1, Tags=[{"Key": "a", "Value": "1"}])
    ec.delete_cache_cluster(CacheClusterId=cid)
    wait_deleted(ec, cid)
    # Recreating the same id starts without the old tags.
    c2 = create_memcached(ec, resources, cid, nodes=1)
    assert c2["ARN"] == c["ARN"]
    assert _tags(ec, c2["ARN"]) == {}


def test_arn_region_and_account_are_checked(make_client, resources, uid):
    east = make_client()
    c = create_memcached(east, resources, uid("mc"), nodes=1)
    # The same resource seen from another region or account does not exist there.
    west = make_client(region="us-west-2")
    code = None
    try:
        west.list_tags_for_resource(ResourceName=c["ARN"])
    except west.exceptions.ClientError as err:
        code = err.response["Error"]["Code"]
    assert code in ("CacheClusterNotFound", "InvalidARN"), code
    other = make_client(access_key="123456789012")
    try:
        other.list_tags_for_resource(ResourceName=c["ARN"])
        code = None
    except other.exceptions.ClientError as err:
        code = err.response["Error"]["Code"]
    assert code in ("CacheClusterNotFound", "InvalidARN"), code
