"""Write-through: every write goes to SQLite and then to Redis, so reads find it cached.

What it shows:
  1. ``save`` commits the row to the database first and only then writes the cache, so a write
     the database refuses (here a missing e-mail) never reaches the cache;
  2. reads are served from Redis without touching the database, and fall back to it (and refill
     the cache) only when a key was evicted or expired.

Run it against a running emulator (it creates and deletes a one-node Redis cluster):

    python examples/write_through/write_through.py --endpoint-url http://127.0.0.1:4566
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3

import boto3
import redis


class UserStore:
    """Users in SQLite, every write written through to Redis."""

    def __init__(self, db: sqlite3.Connection, cache: redis.Redis, ttl: int = 3600):
        self.db, self.cache, self.ttl = db, cache, ttl
        with db:
            db.execute("CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, name TEXT, email TEXT NOT NULL)")

    def save(self, user: dict) -> None:
        with self.db:  # raises (and rolls back) before the cache is touched
            self.db.execute(
                "INSERT OR REPLACE INTO users (id, name, email) VALUES (:id, :name, :email)", user
            )
        self.cache.set(f"user:{user['id']}", json.dumps(user), ex=self.ttl)

    def get(self, user_id: int) -> dict | None:
        cached = self.cache.get(f"user:{user_id}")
        if cached is not None:
            return json.loads(cached)
        row = self.db.execute("SELECT id, name, email FROM users WHERE id = ?", (user_id,)).fetchone()
        if row is None:
            return None
        user = {"id": row[0], "name": row[1], "email": row[2]}
        self.cache.set(f"user:{user_id}", json.dumps(user), ex=self.ttl)
        return user


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
    parser.add_argument("--name", default="write-through-example", help="cache cluster id")
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
        users = UserStore(sqlite3.connect(":memory:"), redis.Redis(host=host, port=port))
        users.save({"id": 1, "name": "Ada", "email": "ada@example.com"})
        print(f"cached right after the write: {users.cache.get('user:1').decode()}")
        try:
            users.save({"id": 2, "name": "Bob", "email": None})
        except sqlite3.IntegrityError as err:
            print(f"refused by the database ({err}); cached: {users.cache.exists('user:2') == 1}")
    finally:
        delete_redis(ec, args.name)


if __name__ == "__main__":
    main()
