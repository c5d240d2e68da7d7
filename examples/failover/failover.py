"""Surviving a failover: a client writing through the primary endpoint retries and loses nothing.

What it shows:
  1. a replication group with a replica and automatic failover; the client only knows the
     group's primary endpoint, which follows the primary when roles change;
  2. every write is ``SET`` + ``WAIT 1`` sent together, and counts as done only once a replica
     has it: a write the old primary took but no replica acknowledged is sent again (``SET`` of
     the same value is idempotent, so sending it twice is harmless);
  3. ``TestFailover`` while the writer runs: the connection drops (or the demoted node answers
     READONLY), redis-py's ``Retry`` backs off, reconnects through the same endpoint, and the
     writer carries on against the new primary, with every acknowledged write still there.

Run it against a running emulator (it creates and deletes a two-node replication group):

    python examples/failover/failover.py --endpoint-url http://127.0.0.1:4566
"""

from __future__ import annotations

import argparse
import os
import threading
import time

import boto3
import redis
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.retry import Retry


class NotReplicated(Exception):
    """No replica acknowledged a write within WAIT's timeout."""


class DurableWriter:
    """Writes acknowledged by at least one replica, retried across a failover."""

    def __init__(self, host: str, port: int, name: str = "durable-writer"):
        # No retries inside redis-py: the one policy below sees (and counts) every failure. (A
        # connection the endpoint closed while idle is still replaced silently when taken from
        # the pool.) The name shows in CLIENT LIST on whichever node serves the writer.
        self.client = redis.Redis(
            host=host, port=port, socket_timeout=3, client_name=name, retry=Retry(NoBackoff(), 0)
        )
        self.retry = Retry(
            ExponentialBackoff(cap=1.0, base=0.02),
            retries=50,
            supported_errors=(redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError, NotReplicated),
        )
        self.failures: list[Exception] = []

    def set(self, key: str, value: str) -> None:
        self.retry.call_with_retry(lambda: self._set_and_wait(key, value), self._reconnect)

    def _set_and_wait(self, key: str, value: str) -> None:
        # One round trip on one connection: WAIT counts this SET, never a write of another link.
        _, replicas = self.client.pipeline(transaction=False).set(key, value).wait(1, 1000).execute()
        if replicas < 1:
            raise NotReplicated(key)

    def _reconnect(self, error: Exception) -> None:
        self.failures.append(error)
        self.client.connection_pool.disconnect()  # the next attempt dials the endpoint again


def create_group(ec, name: str) -> tuple[str, int]:
    """A replication group with one replica and automatic failover; answers its primary endpoint."""
    ec.create_replication_group(
        ReplicationGroupId=name,
        ReplicationGroupDescription="failover example",
        Engine="redis",
        CacheNodeType="cache.t3.micro",
        NumCacheClusters=2,
        AutomaticFailoverEnabled=True,
    )
    ec.get_waiter("replication_group_available").wait(ReplicationGroupId=name, WaiterConfig={"Delay": 1})
    group = ec.describe_replication_groups(ReplicationGroupId=name)["ReplicationGroups"][0]
    endpoint = group["NodeGroups"][0]["PrimaryEndpoint"]
    return endpoint["Address"], endpoint["Port"]


def primary_of(ec, name: str) -> str:
    group = ec.describe_replication_groups(ReplicationGroupId=name)["ReplicationGroups"][0]
    members = group["NodeGroups"][0]["NodeGroupMembers"]
    return next(m["CacheClusterId"] for m in members if m["CurrentRole"] == "primary")


def delete_group(ec, name: str) -> None:
    ec.delete_replication_group(ReplicationGroupId=name)
    ec.get_waiter("replication_group_deleted").wait(ReplicationGroupId=name, WaiterConfig={"Delay": 1})


def write_until(writer: DurableWriter, stop: threading.Event, acknowledged: list[int]) -> None:
    i = 0
    while not stop.is_set():
        writer.set(f"order:{i}", str(i))
        acknowledged.append(i)
        i += 1


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"))
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    parser.add_argument("--name", default="failover-example", help="replication group id")
    args = parser.parse_args(argv)

    ec = boto3.client(
        "elasticache",
        endpoint_url=args.endpoint_url,
        region_name=args.region,
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
    )
    host, port = create_group(ec, args.name)
    try:
        writer, stop, acknowledged = DurableWriter(host, port), threading.Event(), []
        thread = threading.Thread(target=write_until, args=(writer, stop, acknowledged))
        thread.start()
        time.sleep(0.5)
        before = primary_of(ec, args.name)
        ec.test_failover(ReplicationGroupId=args.name, NodeGroupId="0001")
        ec.get_waiter("replication_group_available").wait(ReplicationGroupId=args.name, WaiterConfig={"Delay": 1})
        at_failover = len(acknowledged)
        time.sleep(0.5)
        stop.set()
        thread.join()
        print(f"primary {before} -> {primary_of(ec, args.name)}")
        print(f"{len(acknowledged)} writes acknowledged ({len(acknowledged) - at_failover} after the failover)")
        print(f"writes retried: {len(writer.failures)} {[type(e).__name__ for e in writer.failures]}")

        check = redis.Redis(host=host, port=port, decode_responses=True)
        values = check.mget([f"order:{i}" for i in acknowledged])
        lost = [i for i, v in zip(acknowledged, values) if v != str(i)]
        print(f"acknowledged writes lost: {len(lost)}")
    finally:
        delete_group(ec, args.name)


if __name__ == "__main__":
    main()
