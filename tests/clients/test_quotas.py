"""Account/region quotas (reference section 2.5), each in a region of its own so the counts are
exactly this test's resources."""

from __future__ import annotations

from helpers import aws_error, create_memcached, wait_available


def test_security_group_quota(make_client, resources, uid):
    client = make_client(region="sa-east-1")
    existing = len(client.describe_cache_security_groups()["CacheSecurityGroups"])
    for _ in range(50 - existing):
        name = resources.security_group(client, uid("sec"))
        client.create_cache_security_group(CacheSecurityGroupName=name, Description="quota")
    # The wire code differs from the shape name here (reference 1.5).
    with aws_error(client, "QuotaExceeded.CacheSecurityGroup", 400, "CacheSecurityGroupQuotaExceededFault"):
        client.create_cache_security_group(CacheSecurityGroupName=uid("sec"), Description="one too many")


def test_parameter_group_quota(make_client, resources, uid):
    client = make_client(region="ap-northeast-2")
    created = 0
    code = None
    for _ in range(320):
        name = uid("pg")
        try:
            client.create_cache_parameter_group(
                CacheParameterGroupName=name, CacheParameterGroupFamily="redis7", Description="quota"
            )
        except client.exceptions.CacheParameterGroupQuotaExceededFault as err:
            code = err.response["Error"]["Code"]
            status = err.response["ResponseMetadata"]["HTTPStatusCode"]
            break
        resources.parameter_group(client, name)
        created += 1
    assert code == "CacheParameterGroupQuotaExceeded", f"no quota error after {created} parameter groups"
    assert status == 400
    assert created <= 300, "at most 300 parameter groups per region"


def test_node_quota_per_region(make_client, resources, uid):
    # 300 nodes per account and region: seven 40-node clusters (280) leave room for 20 more.
    client = make_client(region="eu-north-1")
    for _ in range(7):
        create_memcached(client, resources, uid("big"), nodes=40)
    with aws_error(client, "NodeQuotaForCustomerExceeded", 400, "NodeQuotaForCustomerExceededFault"):
        client.create_cache_cluster(
            CacheClusterId=uid("over"), Engine="memcached", CacheNodeType="cache.t3.micro", NumCacheNodes=21
        )
    last = create_memcached(client, resources, uid("fits"), nodes=20)
    assert last["NumCacheNodes"] == 20
    with aws_error(client, "NodeQuotaForCustomerExceeded", 400, "NodeQuotaForCustomerExceededFault"):
        client.modify_cache_cluster(CacheClusterId=last["CacheClusterId"], NumCacheNodes=21, ApplyImmediately=True)
    assert wait_available(client, last["CacheClusterId"])["NumCacheNodes"] == 20
