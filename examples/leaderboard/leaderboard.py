"""A leaderboard on a sorted set: scores, top N, a player's rank, and ties.

What it shows:
  1. ``ZINCRBY`` adds points; ``ZREVRANGE … WITHSCORES`` gives the top N (highest first; equal
     scores are ordered by member name, reversed, as Redis orders them);
  2. ties share a rank ("1, 2, 2, 4" competition ranking): a player's rank is one plus the
     number of players with a strictly higher score (``ZCOUNT (score +inf``), not ``ZREVRANK``,
     which gives tied players different positions.

Run it against a running emulator (it creates and deletes a one-node Redis cluster):

    python examples/leaderboard/leaderboard.py --endpoint-url http://127.0.0.1:4566
"""

from __future__ import annotations

import argparse
import os

import boto3
import redis


class Leaderboard:
    """Player scores in one sorted set (a client with ``decode_responses=True``)."""

    def __init__(self, cache: redis.Redis, key: str = "leaderboard"):
        self.cache, self.key = cache, key

    def add_points(self, player: str, points: float) -> float:
        return self.cache.zincrby(self.key, points, player)

    def rank(self, player: str) -> int | None:
        """1-based rank; tied players share it. None for an unknown player."""
        score = self.cache.zscore(self.key, player)
        if score is None:
            return None
        return self.cache.zcount(self.key, f"({score}", "+inf") + 1

    def top(self, n: int) -> list[tuple[int, str, float]]:
        """The best `n` players as (rank, player, score)."""
        entries = self.cache.zrevrange(self.key, 0, n - 1, withscores=True)
        ranked, previous, rank = [], None, 0
        for position, (player, score) in enumerate(entries, start=1):
            if score != previous:
                rank, previous = position, score
            ranked.append((rank, player, score))
        return ranked


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
    parser.add_argument("--name", default="leaderboard-example", help="cache cluster id")
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
        board = Leaderboard(redis.Redis(host=host, port=port, decode_responses=True))
        for player, points in [("ann", 50), ("bo", 70), ("cy", 50), ("di", 20), ("ann", 20), ("ed", 70)]:
            board.add_points(player, points)
        for rank, player, score in board.top(3):
            print(f"#{rank} {player} {score:g}")
        print(f"cy is #{board.rank('cy')}")
    finally:
        delete_redis(ec, args.name)


if __name__ == "__main__":
    main()
