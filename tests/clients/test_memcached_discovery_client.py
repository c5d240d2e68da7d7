"""ElastiCache auto discovery used the way cluster clients use it (reference section 6).

A small discovery client polls the configuration endpoint with `config get cluster` in a
background thread while the cluster is scaled out and in through the API. Whenever the
configuration version changes it rebuilds a pymemcache HashClient from the advertised
`host|ip|port` list — it never reads node endpoints from the API — and the test stores and reads
keys through that client after every change.
"""

from __future__ import annotations

import threading
import time

from pymemcache.client.hash import HashClient

from helpers import config_get_cluster, create_memcached, wait_available

POLL_S = 0.05


class DiscoveryClient:
    """Polls `config get cluster` and keeps a HashClient over the nodes it advertises."""

    def __init__(self, endpoint: tuple[str, int]):
        self.endpoint = endpoint
        self.lock = threading.Lock()
        self.versions: list[int] = []
        self.nodes: list[tuple[str, int]] = []
        self.client: HashClient | None = None
        self.stop = threading.Event()
        self.errors: list[str] = []
        self._refresh()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _refresh(self) -> None:
        conf = config_get_cluster(*self.endpoint)
        with self.lock:
            if self.versions and conf.version == self.versions[-1]:
                return
            if self.versions and conf.version < self.versions[-1]:
                self.errors.append(f"version went back from {self.versions[-1]} to {conf.version}")
            self.versions.append(conf.version)
            # Connect by the IP field, as clients that do not resolve host names do.
            self.nodes = sorted((ip, port) for _host, ip, port in conf.nodes)
            if self.client is not None:
                self.client.close()
            self.client = HashClient(self.nodes, connect_timeout=5, timeout=5, use_pooling=False)

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                self._refresh()
            except Exception as exc:  # a failed poll is retried, but recorded
                self.errors.append(repr(exc))
            time.sleep(POLL_S)

    def wait_for(self, count: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.nodes) == count:
                    return
            time.sleep(POLL_S)
        raise AssertionError(f"discovery never listed {count} nodes: {self.nodes}")

    def round_trip(self, prefix: str, keys: int = 200) -> set[tuple[str, int]]:
        """Stores and reads keys through the discovered nodes; returns the nodes that got keys."""
        with self.lock:
            client, nodes = self.client, list(self.nodes)
        assert client is not None
        used = set()
        for i in range(keys):
            key = f"{prefix}-{i}"
            assert client.set(key, str(i).encode()) is True, key
            assert client.get(key) == str(i).encode(), key
            host, _, port = client.hasher.get_node(key).rpartition(":")
            used.add((host, int(port)))
        assert used <= set(nodes), (used, nodes)
        return used

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        with self.lock:
            if self.client is not None:
                self.client.close()


def test_discovery_client_follows_scale_out_and_in(ec, resources, uid):
    cid = uid("mcdisc")
    cluster = create_memcached(ec, resources, cid, nodes=2)
    cfg = (cluster["ConfigurationEndpoint"]["Address"], cluster["ConfigurationEndpoint"]["Port"])
    disco = DiscoveryClient(cfg)
    try:
        disco.wait_for(2)
        first_version = disco.versions[-1]
        assert len(disco.round_trip("two")) == 2, "keys spread over both discovered nodes"

        ec.modify_cache_cluster(CacheClusterId=cid, NumCacheNodes=4, ApplyImmediately=True)
        wait_available(ec, cid)
        disco.wait_for(4)
        # One increment per node added (reference section 6).
        assert disco.versions[-1] == first_version + 2, disco.versions
        assert len(disco.round_trip("four")) == 4, "the new nodes serve keys through discovery"

        ec.modify_cache_cluster(
            CacheClusterId=cid, NumCacheNodes=3, CacheNodeIdsToRemove=["0002"], ApplyImmediately=True
        )
        wait_available(ec, cid)
        disco.wait_for(3)
        assert disco.versions[-1] == first_version + 3, disco.versions
        used = disco.round_trip("three")
        assert len(used) == 3
        removed = ("0002",)
        api_nodes = {n["CacheNodeId"]: n["Endpoint"] for n in wait_available(ec, cid)["CacheNodes"]}
        assert not set(removed) & set(api_nodes)
        assert sorted(disco.nodes) == sorted((e["Address"], e["Port"]) for e in api_nodes.values())
        assert disco.errors == [], disco.errors
    finally:
        disco.close()
