"""Cache security groups (EC2-Classic legacy) through boto3 (reference section 2.14)."""

from __future__ import annotations

from helpers import aws_error, create_redis


def test_lifecycle_and_ingress(ec, resources, uid):
    name = resources.security_group(ec, uid("sec"))
    g = ec.create_cache_security_group(CacheSecurityGroupName=name, Description="legacy")["CacheSecurityGroup"]
    assert g["CacheSecurityGroupName"] == name
    assert g["Description"] == "legacy"
    assert g["OwnerId"] == "000000000000"
    assert g["ARN"] == f"arn:aws:elasticache:us-east-1:000000000000:securitygroup:{name}"
    assert not g.get("EC2SecurityGroups")

    a = ec.authorize_cache_security_group_ingress(
        CacheSecurityGroupName=name, EC2SecurityGroupName="web", EC2SecurityGroupOwnerId="111122223333"
    )["CacheSecurityGroup"]
    assert a["EC2SecurityGroups"] == [
        {"Status": "authorized", "EC2SecurityGroupName": "web", "EC2SecurityGroupOwnerId": "111122223333"}
    ]
    with aws_error(ec, "AuthorizationAlreadyExists", 400, "AuthorizationAlreadyExistsFault"):
        ec.authorize_cache_security_group_ingress(
            CacheSecurityGroupName=name, EC2SecurityGroupName="web", EC2SecurityGroupOwnerId="111122223333"
        )
    (d,) = ec.describe_cache_security_groups(CacheSecurityGroupName=name)["CacheSecurityGroups"]
    assert d["EC2SecurityGroups"] == a["EC2SecurityGroups"]

    r = ec.revoke_cache_security_group_ingress(
        CacheSecurityGroupName=name, EC2SecurityGroupName="web", EC2SecurityGroupOwnerId="111122223333"
    )["CacheSecurityGroup"]
    assert not r.get("EC2SecurityGroups") or all(e["Status"] == "revoking" for e in r["EC2SecurityGroups"])
    (d,) = ec.describe_cache_security_groups(CacheSecurityGroupName=name)["CacheSecurityGroups"]
    assert not d.get("EC2SecurityGroups")
    with aws_error(ec, "AuthorizationNotFound", 404, "AuthorizationNotFoundFault"):
        ec.revoke_cache_security_group_ingress(
            CacheSecurityGroupName=name, EC2SecurityGroupName="web", EC2SecurityGroupOwnerId="111122223333"
        )

    assert ec.delete_cache_security_group(CacheSecurityGroupName=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    with aws_error(ec, "CacheSecurityGroupNotFound", 404, "CacheSecurityGroupNotFoundFault"):
        ec.describe_cache_security_groups(CacheSecurityGroupName=name)
    with aws_error(ec, "CacheSecurityGroupNotFound", 404, "CacheSecurityGroupNotFoundFault"):
        ec.delete_cache_security_group(CacheSecurityGroupName=name)
    with aws_error(ec, "CacheSecurityGroupNotFound", 404, "CacheSecurityGroupNotFoundFault"):
        ec.authorize_cache_security_group_ingress(
            CacheSecurityGroupName=name, EC2SecurityGroupName="web", EC2SecurityGroupOwnerId="111122223333"
        )


def test_create_errors(ec, resources, uid):
    name = resources.security_group(ec, uid("sec"))
    ec.create_cache_security_group(CacheSecurityGroupName=name, Description="d")
    with aws_error(ec, "CacheSecurityGroupAlreadyExists", 400, "CacheSecurityGroupAlreadyExistsFault"):
        ec.create_cache_security_group(CacheSecurityGroupName=name, Description="d")
    # "Default" is reserved (reference 2.1).
    with aws_error(ec, "InvalidParameterValue", 400, "InvalidParameterValueException"):
        ec.create_cache_security_group(CacheSecurityGroupName="Default", Description="d")


def test_in_use_group_cannot_be_deleted(ec, resources, uid):
    name = resources.security_group(ec, uid("sec"))
    ec.create_cache_security_group(CacheSecurityGroupName=name, Description="d")
    c = create_redis(ec, resources, uid("redis"), CacheSecurityGroupNames=[name])
    assert [g["CacheSecurityGroupName"] for g in c["CacheSecurityGroups"]] == [name]
    assert c["CacheSecurityGroups"][0]["Status"] == "active"
    with aws_error(ec, "InvalidCacheSecurityGroupState", 400, "InvalidCacheSecurityGroupStateFault"):
        ec.delete_cache_security_group(CacheSecurityGroupName=name)


def test_vpc_security_group_ids_are_echoed(ec, resources, uid):
    c = create_redis(ec, resources, uid("redis"), SecurityGroupIds=["sg-0123456789abcdef0"])
    assert c["SecurityGroups"] == [{"SecurityGroupId": "sg-0123456789abcdef0", "Status": "active"}]
