"""A session store with sliding expiry: each access pushes a session's expiry back.

What it shows:
  1. a session is one Redis string (JSON) set with an idle timeout (``SET … EX``);
  2. reading it uses ``GETEX … EX``, which returns the value and resets the TTL in one command,
     so an active user stays signed in and an idle one is signed out by Redis itself;
  3. signing out deletes the key; an expired session is simply gone.

Run it against a running emulator (it creates and deletes a one-node Redis cluster):

    python examples/sessions/session_store.py --endpoint-url http://127.0.0.1:4566
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import time

import boto3
import redis


class SessionStore:
    """Sessions that expire after `idle_timeout` seconds without an access."""

    def __init__(self, cache: redis.Redis, idle_timeout: int = 1800):
        self.cache, self.idle_timeout = cache, idle_timeout

    def create(self, user: str, **data) -> str:
        token = secrets.token_urlsafe(24)
        self.cache.set(f"session:{token}", json.dumps({"user": user, **data}), ex=self.idle_timeout)
        return token

    def get(self, token: str) -> dict | None:
        """The session's data, refreshing its expiry; None once it expired or was destroyed."""
        value = self.cache.getex(f"session:{token}", ex=self.idle_timeout)
        return json.loads(value) if value is not None else None

    def destroy(self, token: str) -> None:
        self.cache.delete(f"session:{token}")


def create_redis(ec, name: str) -> tuple[str, int]:
    """A one-node Redis cluster; answers its node's endpoint once it is available."""
    ec.create_cache_cluster(CacheClusterId=name, Engine="redis", CacheNodeType="cache.t3.micro", NumCacheNodes=1)
    ec.get_waiter("cache_cluster_available").wait(CacheClusterId=name, WaiterConfig={"Delay": 1})
    cluster = ec.describe_cache_clusters(CacheClusterId=name, ShowCacheNodeInfo=True)["CacheClusters"][0]
    endpoint = cluster["CacheNodes"][0]["Endpoint"]
    return endpoint["Address"], endpoint["Port"]


def delete_redis(ec, name: str) -> None:
    ec.delete_cache_cluster(CacheClusterId=name)
    ec.get_waiter("cache_cluster_deleted").wait(CacheClusterId=name, WaiterConfig={"Delay": 1})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"))
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    parser.add_argument("--name", default="session-example", help="cache cluster id")
    args = parser.parse_args(argv)

    ec = boto3.client(
        "elasticache",
        endpoint_url=args.endpoint_url,
        region_name=args.region,
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
    )
    host, port = create_redis(ec, args.name)
    try:
        sessions = SessionStore(redis.Redis(host=host, port=port), idle_timeout=2)
        active, idle = sessions.create("alice"), sessions.create("bob")
        for _ in range(3):  # alice keeps clicking for 3 s, past the 2 s idle timeout
            time.sleep(1)
            sessions.get(active)
        print(f"active session: {sessions.get(active)}; idle session: {sessions.get(idle)}")
    finally:
        delete_redis(ec, args.name)


if __name__ == "__main__":
    main()
