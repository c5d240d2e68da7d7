"""Pub/sub fan-out: one published message reaches every subscriber of the channel.

What it shows:
  1. several independent subscribers (each its own connection, served by redis-py's
     ``run_in_thread``) on one channel;
  2. waiting until ``PUBSUB NUMSUB`` counts them before publishing (pub/sub keeps nothing:
     a message published before a subscription is active is not delivered to it);
  3. ``PUBLISH`` answering how many subscribers received the message, which drops when one
     unsubscribes.

Run it against a running emulator (it creates and deletes a one-node Redis cluster):

    python examples/pubsub_fanout/fanout.py --endpoint-url http://127.0.0.1:4566
"""

from __future__ import annotations

import argparse
import os
import time

import boto3
import redis


class Subscriber:
    """Collects the messages of one channel on a background thread."""

    def __init__(self, cache: redis.Redis, channel: str):
        self.received: list[str] = []
        self.pubsub = cache.pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(**{channel: self._on_message})
        self.thread = self.pubsub.run_in_thread(sleep_time=0.01, daemon=True)

    def _on_message(self, message: dict) -> None:
        self.received.append(message["data"])

    def close(self) -> None:
        self.thread.stop()
        self.thread.join(timeout=5)
        self.pubsub.close()


def wait_for_subscribers(cache: redis.Redis, channel: str, count: int, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while dict(cache.pubsub_numsub(channel)).get(channel, 0) != count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{channel} never had {count} subscribers")
        time.sleep(0.01)


def wait_for_messages(subscribers: list[Subscriber], count: int, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while any(len(s.received) < count for s in subscribers) and time.monotonic() < deadline:
        time.sleep(0.01)


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
    parser.add_argument("--name", default="fanout-example", help="cache cluster id")
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
        cache = redis.Redis(host=host, port=port, decode_responses=True)
        subscribers = {name: Subscriber(cache, "orders") for name in ("billing", "email", "search")}
        wait_for_subscribers(cache, "orders", len(subscribers))
        receivers = [cache.publish("orders", f"order {i}") for i in range(5)]
        wait_for_messages(list(subscribers.values()), 5)
        for name, subscriber in subscribers.items():
            print(f"{name} received {subscriber.received}")
        print(f"PUBLISH reached {receivers} subscribers")
        subscribers.pop("search").close()
        wait_for_subscribers(cache, "orders", 2)
        print(f"after search unsubscribed, PUBLISH reached {cache.publish('orders', 'order 5')}")
        for subscriber in subscribers.values():
            subscriber.close()
    finally:
        delete_redis(ec, args.name)


if __name__ == "__main__":
    main()
