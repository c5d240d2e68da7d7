"""A service that uses elasticache-local the way it would use Amazon ElastiCache.

Creates a Redis (OSS) cache cluster and a Memcached cluster through the ElastiCache API with
boto3, waits until they are available, stores and reads values through the endpoints the API
reports, then deletes both. Run by docker/compose.yaml; also runs on the host against a local
emulator: `ELASTICACHE_ENDPOINT=http://127.0.0.1:4566 python docker/demo/app.py`.
"""

import os
import sys
import time

import boto3
import pymemcache.client.base
import redis

ENDPOINT = os.environ.get("ELASTICACHE_ENDPOINT", "http://127.0.0.1:4566")
REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
POLL_SECONDS = 0.2
POLL_LIMIT = 150


def wait_available(client, cluster_id):
    """Polls DescribeCacheClusters (the emulator is ready in milliseconds; the botocore waiter
    would sleep 15 s between polls)."""
    for _ in range(POLL_LIMIT):
        cluster = client.describe_cache_clusters(
            CacheClusterId=cluster_id, ShowCacheNodeInfo=True
        )["CacheClusters"][0]
        if cluster["CacheClusterStatus"] == "available":
            return cluster
        time.sleep(POLL_SECONDS)
    sys.exit(f"{cluster_id} did not become available")


def main():
    client = boto3.client(
        "elasticache",
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "000000000000"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
    )

    client.create_cache_cluster(
        CacheClusterId="demo-redis",
        Engine="redis",
        CacheNodeType="cache.t3.micro",
        NumCacheNodes=1,
    )
    cluster = wait_available(client, "demo-redis")
    node = cluster["CacheNodes"][0]["Endpoint"]
    print(f"redis node at {node['Address']}:{node['Port']}")
    r = redis.Redis(host=node["Address"], port=node["Port"])
    r.set("greeting", "hello from elasticache-local")
    print("GET greeting ->", r.get("greeting").decode())
    print("maxmemory ->", r.info("memory")["maxmemory"])
    r.close()

    client.create_cache_cluster(
        CacheClusterId="demo-memcached",
        Engine="memcached",
        CacheNodeType="cache.t3.micro",
        NumCacheNodes=2,
    )
    cluster = wait_available(client, "demo-memcached")
    config = cluster["ConfigurationEndpoint"]
    print(f"memcached configuration endpoint at {config['Address']}:{config['Port']}")
    for node in cluster["CacheNodes"]:
        endpoint = node["Endpoint"]
        mc = pymemcache.client.base.Client((endpoint["Address"], endpoint["Port"]))
        mc.set("node", node["CacheNodeId"])
        print(f"memcached node {node['CacheNodeId']} get ->", mc.get("node").decode())
        mc.close()

    client.delete_cache_cluster(CacheClusterId="demo-redis")
    client.delete_cache_cluster(CacheClusterId="demo-memcached")
    print("done")


if __name__ == "__main__":
    main()
