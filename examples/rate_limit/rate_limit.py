"""Two rate limiters: a fixed window with INCR/EXPIRE and a sliding log in a Lua script.

What it shows:
  1. fixed window: one counter per client and window (``INCR``, and ``EXPIRE`` so old windows
     clean themselves up); cheap, but a burst at the end of one window and the start of the next
     may pass twice the limit;
  2. sliding log: a sorted set of request times per client, trimmed to the last window and
     checked atomically in Lua. The script is loaded once (``SCRIPT LOAD``) and run by its SHA1
     (``EVALSHA``); if the node forgot it (a restart, a failover, ``SCRIPT FLUSH``) it is loaded
     again.

Run it against a running emulator (it creates and deletes a one-node Redis cluster):

    python examples/rate_limit/rate_limit.py --endpoint-url http://127.0.0.1:4566
"""

from __future__ import annotations

import argparse
import os
import time
import uuid

import boto3
import redis


class FixedWindowLimiter:
    """At most `limit` requests per client in each `window`-second window."""

    def __init__(self, cache: redis.Redis, limit: int, window: int):
        self.cache, self.limit, self.window = cache, limit, window

    def allow(self, client_id: str, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        key = f"ratelimit:fixed:{client_id}:{int(now // self.window)}"
        with self.cache.pipeline() as pipe:  # MULTI/EXEC: the counter never lives without a TTL
            count, _ = pipe.incr(key).expire(key, self.window).execute()
        return count <= self.limit


SLIDING_LOG = """
local key, now, window, limit = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) >= limit then
  return 0
end
redis.call('ZADD', key, now, ARGV[4])
redis.call('PEXPIRE', key, window)
return 1
"""


class SlidingLogLimiter:
    """At most `limit` requests per client in any `window_ms` milliseconds."""

    def __init__(self, cache: redis.Redis, limit: int, window_ms: int):
        self.cache, self.limit, self.window_ms = cache, limit, window_ms
        self.sha = cache.script_load(SLIDING_LOG)  # once; every call sends only the SHA1

    def allow(self, client_id: str, now_ms: int | None = None) -> bool:
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        args = (f"ratelimit:log:{client_id}", now_ms, self.window_ms, self.limit, uuid.uuid4().hex)
        try:
            return self.cache.evalsha(self.sha, 1, *args) == 1
        except redis.exceptions.NoScriptError:
            self.sha = self.cache.script_load(SLIDING_LOG)
            return self.cache.evalsha(self.sha, 1, *args) == 1


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
    parser.add_argument("--name", default="rate-limit-example", help="cache cluster id")
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
        cache = redis.Redis(host=host, port=port)
        fixed = FixedWindowLimiter(cache, limit=5, window=1)
        sliding = SlidingLogLimiter(cache, limit=5, window_ms=1000)
        # 5 requests just before a window boundary and 5 just after, 100 ms apart in total.
        boundary = (int(time.time()) + 2) * 1000
        times = [boundary - 50 + 10 * i for i in range(10)]
        fixed_ok = sum(fixed.allow("alice", now=t / 1000) for t in times)
        sliding_ok = sum(sliding.allow("alice", now_ms=t) for t in times)
        print(f"10 requests in 100 ms across a window boundary: fixed window let {fixed_ok} through,")
        print(f"sliding log {sliding_ok}")
    finally:
        delete_redis(ec, args.name)


if __name__ == "__main__":
    main()
