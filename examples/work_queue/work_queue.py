"""A reliable work queue on lists: BLMOVE into a processing list, recovery of a dead worker's jobs.

What it shows:
  1. producers ``LPUSH`` jobs; a worker takes the oldest with ``BLMOVE pending → processing``
     (blocking while the queue is empty), so a job is never only in the worker's memory;
  2. a finished job is removed from the worker's processing list (``LREM``);
  3. each worker refreshes a heartbeat key with a TTL when it takes a job; ``recover`` moves the
     jobs of workers whose heartbeat expired back to the queue, so a crashed worker's jobs are
     done by the others (delivery is at least once: handlers should be idempotent).

Run it against a running emulator (it creates and deletes a one-node Redis cluster):

    python examples/work_queue/work_queue.py --endpoint-url http://127.0.0.1:4566
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import boto3
import redis


class WorkQueue:
    """Jobs in ``<name>:pending``; a worker's jobs in progress in ``<name>:processing:<worker>``."""

    def __init__(self, cache: redis.Redis, name: str = "jobs", lease: int = 30):
        self.cache, self.name, self.lease = cache, name, lease
        self.pending = f"{name}:pending"

    def push(self, *jobs: str) -> None:
        self.cache.lpush(self.pending, *jobs)

    def take(self, worker: str, timeout: float = 1) -> str | None:
        """The oldest job, now in `worker`'s processing list; None after `timeout` s of nothing."""
        self.cache.set(f"{self.name}:alive:{worker}", 1, ex=self.lease)
        return self.cache.blmove(self.pending, f"{self.name}:processing:{worker}", timeout, "RIGHT", "LEFT")

    def done(self, worker: str, job: str) -> None:
        self.cache.lrem(f"{self.name}:processing:{worker}", 1, job)

    def recover(self) -> int:
        """Puts the jobs of workers whose heartbeat expired back at the head of the queue."""
        moved = 0
        for processing in self.cache.scan_iter(match=f"{self.name}:processing:*"):
            worker = processing.rsplit(":", 1)[1]
            if self.cache.exists(f"{self.name}:alive:{worker}"):
                continue
            while self.cache.lmove(processing, self.pending, "RIGHT", "RIGHT") is not None:
                moved += 1
        return moved


def run_worker(queue: WorkQueue, worker: str, handle: Callable[[str], None], idle: float = 0.5) -> None:
    """Handles jobs until the queue stays empty for `idle` seconds."""
    while (job := queue.take(worker, timeout=idle)) is not None:
        handle(job)  # an exception leaves the job in the processing list, for `recover`
        queue.done(worker, job)


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
    parser.add_argument("--name", default="work-queue-example", help="cache cluster id")
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
        queue = WorkQueue(redis.Redis(host=host, port=port, decode_responses=True), lease=1)
        queue.push(*(f"job-{i}" for i in range(10)))
        taken = [queue.take("worker-1") for _ in range(3)]
        print(f"worker-1 took {taken} and crashed")

        handled: list[str] = []
        run_worker(queue, "worker-2", handled.append)
        time.sleep(queue.lease + 0.1)  # worker-1's heartbeat expires
        print(f"recovered {queue.recover()} jobs of dead workers")
        run_worker(queue, "worker-2", handled.append)
        complete = sorted(handled) == sorted(f"job-{i}" for i in range(10))
        print(f"worker-2 handled {len(handled)} jobs, all of them: {complete}")
    finally:
        delete_redis(ec, args.name)


if __name__ == "__main__":
    main()
