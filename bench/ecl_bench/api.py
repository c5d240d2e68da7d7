"""The emulator under test: start it, talk to its Query API, create nodes.

Latencies are timed with a minimal keep-alive HTTP client speaking the query protocol
(form-encoded POST, unsigned: the emulator then uses its configured region), so the figures
are the emulator's and not botocore's request building. Engine nodes and the 1,000-cluster
scale test go through boto3, as a user's code would.
"""
import http.client
import time
import urllib.parse
import xml.etree.ElementTree as ET

from . import procs

LOOPBACK_BASE = "127.77.0.1"  # away from the default 127.0.1.1 other local runs use


def _strip(tag):
    return tag.rsplit("}", 1)[-1]


def find_all(root, name):
    return [e for e in root.iter() if _strip(e.tag) == name]


def find_text(root, name, default=None):
    for e in root.iter():
        if _strip(e.tag) == name:
            return e.text
    return default


class ApiError(RuntimeError):
    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code


class Query:
    """A keep-alive ElastiCache query-protocol client."""

    def __init__(self, port):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, action, **params):
        body = urllib.parse.urlencode({"Action": action, "Version": "2015-02-02", **params})
        for attempt in range(2):
            try:
                self.conn.request("POST", "/", body=body, headers={
                    "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
                resp = self.conn.getresponse()
                data = resp.read()
                break
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt:
                    raise
        root = ET.fromstring(data)
        if resp.status >= 300:
            raise ApiError(find_text(root, "Code", str(resp.status)), find_text(root, "Message", ""))
        return root

    def cluster_status(self, cid):
        return find_text(self.call("DescribeCacheClusters", CacheClusterId=cid), "CacheClusterStatus")

    def health(self):
        self.conn.request("GET", "/health")
        r = self.conn.getresponse()
        r.read()
        return r.status


class Emulator:
    """One release-build emulator process on an ephemeral loopback port."""

    def __init__(self, binary, extra=()):
        self.port = procs.free_port()
        self.t_spawn = time.perf_counter()
        self.proc = procs.spawn([binary, "--listen", f"127.0.0.1:{self.port}",
                                 "--loopback-base", LOOPBACK_BASE, "--log", "warn", *extra])
        self.pid = self.proc.pid
        self.cold_start = self._wait_health()
        self.q = Query(self.port)
        self._boto = None

    def _wait_health(self, timeout=30.0):
        """Seconds from spawn to the first answered GET /health (polled every 0.5 ms)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"emulator exited with {self.proc.returncode} during start")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                c.request("GET", "/health")
                if c.getresponse().status == 200:
                    t = time.perf_counter() - self.t_spawn
                    c.close()
                    return t
            except OSError:
                pass
            time.sleep(0.0005)
        raise RuntimeError("emulator did not answer /health in time")

    @property
    def boto(self):
        """A boto3 client for us-east-1 (the region unsigned requests also land in)."""
        return self.boto_for("us-east-1")

    def boto_for(self, region):
        """A boto3 client signing for ``region`` (state is partitioned by region)."""
        if self._boto is None:
            self._boto = {}
        if region not in self._boto:
            import boto3
            from botocore.config import Config
            self._boto[region] = boto3.client(
                "elasticache", endpoint_url=f"http://127.0.0.1:{self.port}",
                region_name=region, aws_access_key_id="000000000000",
                aws_secret_access_key="test",
                config=Config(retries={"max_attempts": 2, "mode": "standard"}))
        return self._boto[region]

    def wait_available(self, cid, timeout=60.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            c = self.boto.describe_cache_clusters(CacheClusterId=cid, ShowCacheNodeInfo=True)
            cl = c["CacheClusters"][0]
            if cl["CacheClusterStatus"] == "available":
                return cl
            time.sleep(0.005)
        raise RuntimeError(f"{cid} not available within {timeout}s")

    def create_node(self, cid, engine, node_type, version=None, nodes=1):
        """Create a cluster through boto3, wait for `available`, return (host, port) of node 1."""
        args = dict(CacheClusterId=cid, Engine=engine, CacheNodeType=node_type,
                    NumCacheNodes=nodes)
        if version:
            args["EngineVersion"] = version
        self.boto.create_cache_cluster(**args)
        cl = self.wait_available(cid)
        ep = cl["CacheNodes"][0]["Endpoint"]
        return ep["Address"], ep["Port"]

    def stop(self):
        procs.stop(self.proc)
