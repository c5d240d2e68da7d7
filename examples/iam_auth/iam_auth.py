"""Connect to an elasticache-local replication group as an IAM-authenticated user.

What it shows, end to end, with stock AWS tools:
  1. CreateUser with AuthenticationMode Type=iam (UserId == UserName, as ElastiCache requires),
     CreateUserGroup, and a TLS replication group using that user group;
  2. an IAM authentication token built with botocore's own SigV4 presigner, as for ElastiCache
     on AWS (GET, service ``elasticache``, host = replication group id, ``Action=connect``);
  3. redis-py connecting over TLS with ``username=<user id>`` and ``password=<token>``.

Run it against a running emulator (default credentials ``test``/``test`` are admitted by an
emulator started without ``--iam-credentials``):

    AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \\
        python examples/iam_auth/iam_auth.py --endpoint-url http://127.0.0.1:4566

``generate_iam_auth_token`` works unchanged against real ElastiCache.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import urllib.request
from urllib.parse import urlencode

import boto3
import botocore.session
import redis
from botocore.model import ServiceId
from botocore.signers import RequestSigner

TOKEN_LIFETIME_S = 900  # the longest ElastiCache accepts


def generate_iam_auth_token(
    cache_name: str,
    user_id: str,
    region: str,
    session: boto3.Session | None = None,
    serverless: bool = False,
    expires_in: int = TOKEN_LIFETIME_S,
) -> str:
    """The IAM auth token (AUTH password) of `user_id` for replication group `cache_name`.

    A presigned ``GET https://<cache_name>/?Action=connect&User=<user_id>`` signed with SigV4
    for service ``elasticache``, printed without the scheme.
    """
    session = session or boto3.Session()
    credentials = session.get_credentials()
    if credentials is None:
        raise RuntimeError("no AWS credentials found (set AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)")
    events = botocore.session.get_session().get_component("event_emitter")
    signer = RequestSigner(ServiceId("elasticache"), region, "elasticache", "v4", credentials, events)
    query = {"Action": "connect", "User": user_id}
    if serverless:
        query["ResourceType"] = "ServerlessCache"
    request = {
        "method": "GET",
        "url": f"https://{cache_name}/?{urlencode(query)}",
        "body": {},
        "headers": {},
        "context": {},
    }
    url = signer.generate_presigned_url(
        request, operation_name="connect", expires_in=expires_in, region_name=region
    )
    return url.removeprefix("https://")


def wait_until(check, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("resource did not become active")
        time.sleep(0.2)


def setup(ec, name: str) -> dict:
    """An IAM user, a user group holding it and `default`, and a TLS replication group."""
    ec.create_user(
        UserId=name,
        UserName=name,
        Engine="redis",
        AccessString="on ~* +@all",
        AuthenticationMode={"Type": "iam"},
    )
    ec.create_user_group(UserGroupId=name, Engine="redis", UserIds=["default", name])
    wait_until(lambda: ec.describe_user_groups(UserGroupId=name)["UserGroups"][0]["Status"] == "active")
    ec.create_replication_group(
        ReplicationGroupId=name,
        ReplicationGroupDescription="IAM authentication example",
        Engine="redis",
        CacheNodeType="cache.t3.micro",
        NumCacheClusters=1,
        TransitEncryptionEnabled=True,
        UserGroupIds=[name],
    )
    ec.get_waiter("replication_group_available").wait(
        ReplicationGroupId=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )
    return ec.describe_replication_groups(ReplicationGroupId=name)["ReplicationGroups"][0]


def teardown(ec, name: str) -> None:
    ec.delete_replication_group(ReplicationGroupId=name)
    ec.get_waiter("replication_group_deleted").wait(
        ReplicationGroupId=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )
    ec.delete_user_group(UserGroupId=name)
    wait_until(lambda: not [g for g in ec.describe_user_groups()["UserGroups"] if g["UserGroupId"] == name])
    ec.delete_user(UserId=name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"))
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    parser.add_argument("--name", default="iam-example", help="user id, user group and replication group id")
    parser.add_argument("--keep", action="store_true", help="leave the resources in place")
    args = parser.parse_args()

    session = boto3.Session(region_name=args.region)
    ec = session.client("elasticache", endpoint_url=args.endpoint_url)
    group = setup(ec, args.name)
    try:
        primary = group["NodeGroups"][0]["PrimaryEndpoint"]
        with tempfile.NamedTemporaryFile(suffix=".pem") as ca:
            ca.write(urllib.request.urlopen(f"{args.endpoint_url}/_elasticache_local/ca.pem").read())
            ca.flush()
            token = generate_iam_auth_token(args.name, args.name, args.region, session)
            client = redis.Redis(
                host=primary["Address"],
                port=primary["Port"],
                ssl=True,
                ssl_ca_certs=ca.name,
                username=args.name,
                password=token,
                decode_responses=True,
            )
            client.set("greeting", "hello from IAM")
            print(f"connected as {client.acl_whoami()}: {client.get('greeting')}")
    finally:
        if not args.keep:
            teardown(ec, args.name)


if __name__ == "__main__":
    main()
