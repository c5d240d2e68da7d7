"""A Memcached client that follows ElastiCache auto discovery through a node replacement.

What it shows:
  1. the client knows only the cluster's configuration endpoint; it asks it ``config get
     cluster`` (answer: a version and the ``host|ip|port`` of every node) and builds a pymemcache
     ``HashClient`` over those nodes;
  2. a background thread polls the configuration; when the version changes the HashClient is
     rebuilt over the new node list, with no restart and no node addresses in the code;
  3. a node replaced through the API (``ModifyCacheCluster`` adding a node, then removing an old
     one): the client moves to the new nodes; keys of the removed node are misses, to be refilled.

Run it against a running emulator (it creates and deletes a two-node Memcached cluster):

    python examples/memcached_discovery/discovery.py --endpoint-url http://127.0.0.1:4566
"""

from __future__ import annotations

import argparse
import os
import socket
import threading
import time

import boto3
from pymemcache.client.hash import HashClient


def config_get_cluster(host: str, port: int) -> tuple[int, list[tuple[str, int]]]:
    """The cluster configuration: its version and every node's (ip, port)."""
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(b"config get cluster\r\n")
        reply = b""
        while not reply.endswith(b"END\r\n"):
            chunk = sock.recv(4096)
            if not chunk:
                raise ConnectionError("configuration endpoint closed the connection")
            reply += chunk
    # CONFIG cluster 0 <bytes>\r\n<version>\n<host|ip|port> <host|ip|port> ...\n\r\nEND\r\n
    version, nodes = reply.split(b"\r\n")[1].decode().split("\n")[:2]
    return int(version), [(ip, int(p)) for _host, ip, p in (node.split("|") for node in nodes.split())]


class DiscoveringClient:
    """A HashClient over the nodes the configuration endpoint lists, kept current by polling."""

    def __init__(self, config_endpoint: tuple[str, int], interval: float = 60):
        self.config_endpoint, self.interval = config_endpoint, interval
        self.version, self.nodes, self.client = -1, [], None
        self.lock = threading.Lock()
        self.refresh()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def refresh(self) -> bool:
        """Reads the configuration; rebuilds the HashClient when it changed."""
        version, nodes = config_get_cluster(*self.config_endpoint)
        if version == self.version:
            return False
        # ignore_exc: until the next poll, a node that just went away answers as a miss.
        client = HashClient(nodes, connect_timeout=2, timeout=2, ignore_exc=True)
        with self.lock:
            old, self.client, self.version, self.nodes = self.client, client, version, nodes
        if old is not None:
            old.close()
        return True

    def _poll(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.refresh()
            except OSError:
                pass  # the endpoint is unreachable for a moment: keep the nodes we know

    def get(self, key: str) -> bytes | None:
        with self.lock:
            return self.client.get(key)

    def set(self, key: str, value: str | bytes, expire: int = 0) -> bool:
        # noreply=False: wait for the node's STORED, so True means the write is there.
        with self.lock:
            return self.client.set(key, value, expire=expire, noreply=False)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.client.close()


def wait_for(check, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("the change never showed")
        time.sleep(0.05)


def create_memcached(ec, name: str, nodes: int) -> tuple[str, int]:
    """A Memcached cluster; answers its configuration endpoint once it is available."""
    ec.create_cache_cluster(
        CacheClusterId=name, Engine="memcached", CacheNodeType="cache.t3.micro", NumCacheNodes=nodes
    )
    ec.get_waiter("cache_cluster_available").wait(CacheClusterId=name, WaiterConfig={"Delay": 1})
    endpoint = ec.describe_cache_clusters(CacheClusterId=name)["CacheClusters"][0]["ConfigurationEndpoint"]
    return endpoint["Address"], endpoint["Port"]


def modify(ec, name: str, **changes) -> None:
    ec.modify_cache_cluster(CacheClusterId=name, ApplyImmediately=True, **changes)
    ec.get_waiter("cache_cluster_available").wait(CacheClusterId=name, WaiterConfig={"Delay": 1})


def delete_cluster(ec, name: str) -> None:
    ec.delete_cache_cluster(CacheClusterId=name)
    ec.get_waiter("cache_cluster_deleted").wait(CacheClusterId=name, WaiterConfig={"Delay": 1})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"))
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    parser.add_argument("--name", default="discovery-example", help="cache cluster id")
    args = parser.parse_args(argv)

    ec = boto3.client(
        "elasticache",
        endpoint_url=args.endpoint_url,
        region_name=args.region,
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
    )
    config_endpoint = create_memcached(ec, args.name, nodes=2)
    cache = DiscoveringClient(config_endpoint, interval=0.2)
    try:
        print(f"version {cache.version}: {len(cache.nodes)} nodes")
        keys = [f"key-{i}" for i in range(100)]
        for key in keys:
            cache.set(key, key)

        modify(ec, args.name, NumCacheNodes=3)  # the replacement node first ...
        wait_for(lambda: len(cache.nodes) == 3)
        print(f"version {cache.version}: {len(cache.nodes)} nodes after adding one")
        modify(ec, args.name, NumCacheNodes=2, CacheNodeIdsToRemove=["0001"])  # ... then the old one goes
        wait_for(lambda: len(cache.nodes) == 2)
        print(f"version {cache.version}: {len(cache.nodes)} nodes after removing node 0001")

        hits = sum(cache.get(key) is not None for key in keys)
        for key in keys:
            cache.set(key, key)  # refill what the removed node held
        refilled = sum(cache.get(key) == key.encode() for key in keys)
        print(f"{hits}/100 keys survived the replacement; after refilling {refilled}/100")
    finally:
        cache.close()
        delete_cluster(ec, args.name)


if __name__ == "__main__":
    main()
