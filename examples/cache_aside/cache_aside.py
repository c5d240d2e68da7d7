"""Cache-aside (lazy loading) with a TTL in front of a SQLite database.

What it shows:
  1. reads look in Redis first and, on a miss, load the row from SQLite and cache it with a TTL;
  2. the hit ratio of a read mix (each product read 10 times: 1 miss, then 9 hits);
  3. writes update the database and then delete the cached copy (invalidate on write), so the
     next read loads the new value instead of serving a stale one until the TTL runs out.

Run it against a running emulator (it creates and deletes a one-node Redis cluster):

    python examples/cache_aside/cache_aside.py --endpoint-url http://127.0.0.1:4566
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import tempfile

import boto3
import redis


class ProductCache:
    """Product reads through a Redis cache; writes go to SQLite and invalidate the cache."""

    def __init__(self, db: sqlite3.Connection, cache: redis.Redis, ttl: int = 300):
        self.db, self.cache, self.ttl = db, cache, ttl
        self.hits = self.misses = 0

    def get(self, product_id: int) -> dict | None:
        key = f"product:{product_id}"
        cached = self.cache.get(key)
        if cached is not None:
            self.hits += 1
            return json.loads(cached)
        self.misses += 1
        row = self.db.execute("SELECT id, name, price FROM products WHERE id = ?", (product_id,)).fetchone()
        if row is None:
            return None
        product = {"id": row[0], "name": row[1], "price": row[2]}
        self.cache.set(key, json.dumps(product), ex=self.ttl)  # the TTL bounds any staleness
        return product

    def update_price(self, product_id: int, price: float) -> None:
        # Commit first, then invalidate: deleting before the commit would let a concurrent reader
        # cache the old row again right away. (A reader that loaded the old row just before the
        # commit can still write it back after the delete; the TTL bounds that rare case.)
        with self.db:
            self.db.execute("UPDATE products SET price = ? WHERE id = ?", (price, product_id))
        self.cache.delete(f"product:{product_id}")

    @property
    def hit_ratio(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


def open_database(path: str, products: int = 100) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False)
    with db:
        db.execute("CREATE TABLE IF NOT EXISTS products (id INTEGER PRIMARY KEY, name TEXT, price REAL)")
        db.executemany(
            "INSERT OR REPLACE INTO products VALUES (?, ?, ?)",
            [(i, f"product {i}", 10.0 + i) for i in range(products)],
        )
    return db


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
    parser.add_argument("--name", default="cache-aside-example", help="cache cluster id")
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
        with tempfile.TemporaryDirectory() as tmp:
            db = open_database(os.path.join(tmp, "shop.db"))
            products = ProductCache(db, redis.Redis(host=host, port=port), ttl=60)
            for _ in range(10):
                for product_id in range(100):
                    products.get(product_id)
            print(f"hits={products.hits} misses={products.misses} hit ratio={products.hit_ratio:.2f}")

            products.update_price(7, 99.5)
            print(f"after the update product 7 costs {products.get(7)['price']}")
            db.close()
    finally:
        delete_redis(ec, args.name)


if __name__ == "__main__":
    main()
