"""Control-plane figures (create → available, Describe latency, cold start, idle RSS) and the
1,000-cluster scale test. Latencies are timed with the minimal query client of :mod:`api`."""
import statistics
import time

from . import mctools, procs
from .api import ApiError, Emulator, find_all, find_text
from .engines import redis_benchmark, start_redis_server


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(round(q / 100 * (len(xs) - 1)))))]


def _poll(fn, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fn():
            return
        time.sleep(0.0005)
    raise RuntimeError("timed out waiting for status available")


def _create_to_available(emu, cid, params, group=False):
    q = emu.q
    t0 = time.perf_counter()
    if group:
        q.call("CreateReplicationGroup", ReplicationGroupId=cid, **params)
        _poll(lambda: find_text(q.call("DescribeReplicationGroups", ReplicationGroupId=cid),
                                "Status") == "available")
    else:
        q.call("CreateCacheCluster", CacheClusterId=cid, **params)
        _poll(lambda: q.cluster_status(cid) == "available")
    return time.perf_counter() - t0


def control_plane(binary, cfg, log):
    """Create → available for a 1-node redis, a 3-node memcached and a cluster-mode replication
    group (3 shards × 1 replica); cold start and idle RSS over fresh processes."""
    out = {"create": [], "cold": [], "idle_rss": [], "notes": []}
    colds, rss = [], []
    for _ in range(cfg.cold_reps):
        emu = Emulator(binary)
        try:
            colds.append(emu.cold_start)
            time.sleep(1.0)
            rss.append(procs.rss_bytes(emu.pid))
        finally:
            emu.stop()
    out["cold"] = colds
    out["idle_rss"] = rss
    log(f"cold start median {statistics.median(colds) * 1000:.1f} ms, idle RSS median "
        f"{statistics.median(rss) / 2**20:.1f} MiB")

    emu = Emulator(binary)
    try:
        cases = [
            ("CreateCacheCluster → available, 1-node redis", False,
             dict(Engine="redis", EngineVersion="7.0", CacheNodeType="cache.t3.micro",
                  NumCacheNodes="1")),
            ("CreateCacheCluster → available, 3-node memcached", False,
             dict(Engine="memcached", CacheNodeType="cache.t3.micro", NumCacheNodes="3")),
            ("CreateReplicationGroup → available, cluster mode, 3 shards × 1 replica", True,
             dict(ReplicationGroupDescription="bench", Engine="redis", EngineVersion="7.0",
                  CacheNodeType="cache.t3.micro", NumNodeGroups="3", ReplicasPerNodeGroup="1",
                  CacheParameterGroupName="default.redis7.cluster.on")),
        ]
        for name, group, params in cases:
            times, skipped = [], None
            for i in range(cfg.create_reps):
                cid = f"cp-{'rg' if group else 'cc'}-{len(out['create'])}-{i}"
                try:
                    times.append(_create_to_available(emu, cid, params, group))
                except ApiError as e:
                    if e.code == "InvalidAction":
                        skipped = ("skipped: CreateReplicationGroup is not implemented in this "
                                   "build (the replication-group API lands from branch "
                                   "repl-control)")
                        break
                    raise
                if group:
                    emu.q.call("DeleteReplicationGroup", ReplicationGroupId=cid)
                else:
                    emu.q.call("DeleteCacheCluster", CacheClusterId=cid)
            out["create"].append({"name": name, "samples": times, "skipped": skipped,
                                  "single_node": "1-node" in name})
            log(f"{name}: " + (skipped or f"median {statistics.median(times) * 1000:.1f} ms"))
    finally:
        emu.stop()
    return out


# AWS allows 300 clusters (and 300 nodes) per region, and the emulator enforces that quota, so
# the scale test spreads its clusters round-robin over four regions of one account: all of them
# live in one process, which is what the test is about.
REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-1"]


def _region(i):
    return REGIONS[i % len(REGIONS)]


def _create_many(emu, first, count, log):
    """Create ``count`` single-node redis clusters through boto3, then wait until all are
    available (paginated Describe in every region); returns seconds."""
    t0 = time.perf_counter()
    for i in range(first, first + count):
        emu.boto_for(_region(i)).create_cache_cluster(
            CacheClusterId=f"scale-{i:04d}", Engine="redis", EngineVersion="7.0",
            CacheNodeType="cache.t3.micro", NumCacheNodes=1)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        pending = 0
        for region in REGIONS:
            pag = emu.boto_for(region).get_paginator("describe_cache_clusters")
            for page in pag.paginate(MaxRecords=100):
                pending += sum(c["CacheClusterStatus"] != "available"
                               for c in page["CacheClusters"])
        if pending == 0:
            return time.perf_counter() - t0
        time.sleep(0.05)
    raise RuntimeError("clusters not available within 300 s")


def _idle_cpu_share(pid, seconds):
    """Share of one core the process uses while nothing talks to it (utime + stime over
    ``seconds`` of wall time): what a thousand idle nodes cost at rest."""
    cpu0, t0 = mctools.cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return (mctools.cpu_seconds(pid) - cpu0) / (time.monotonic() - t0)


def _get_ratios(ours, theirs, cfg):
    r = []
    for _ in range(cfg.reps):
        o = redis_benchmark(ours, ["SET", "GET"], cfg.n, 1)["GET"]
        t = redis_benchmark(theirs, ["SET", "GET"], cfg.n, 1)["GET"]
        r.append(o / t)
    return r


def scale(binary, cfg, log):
    """``cfg.scale`` single-node redis clusters in one emulator: creation time, RSS, threads,
    fds, Describe latency with all present, and the GET ratio of node 1 alone vs with the
    others present (each against a fresh redis-server, alternating)."""
    emu = Emulator(binary)
    theirs_p = None
    res = {"count": cfg.scale}
    try:
        idle = procs.rss_bytes(emu.pid)
        t_first = _create_many(emu, 0, 1, log)
        cl = emu.wait_available("scale-0000")
        ours = (cl["CacheNodes"][0]["Endpoint"]["Address"], cl["CacheNodes"][0]["Endpoint"]["Port"])
        theirs_p, theirs = start_redis_server()
        res["ratio_alone"] = _get_ratios(ours, theirs, cfg)
        log(f"GET ratio alone: {['%.2f' % x for x in res['ratio_alone']]}")
        t_rest = _create_many(emu, 1, cfg.scale - 1, log)
        res["create_seconds"] = t_first + t_rest
        time.sleep(1.0)
        res["rss"], res["idle_rss"] = procs.rss_bytes(emu.pid), idle
        res["threads"], res["fds"] = procs.threads(emu.pid), procs.fds(emu.pid)
        res["idle_cpu"] = _idle_cpu_share(emu.pid, cfg.idle_seconds)
        res["idle_seconds"] = cfg.idle_seconds
        log(f"idle CPU with {cfg.scale} nodes: {res['idle_cpu'] * 100:.2f} % of a core")
        log(f"{cfg.scale} clusters in {res['create_seconds']:.1f} s, RSS "
            f"{res['rss'] / 2**20:.0f} MiB, {res['threads']} threads, {res['fds']} fds")
        q = emu.q
        one, page = [], []
        for i in range(cfg.describe_samples):
            t0 = time.perf_counter()
            # Unsigned requests land in us-east-1: ask for one of its clusters.
            j = (i * len(REGIONS)) % cfg.scale
            q.call("DescribeCacheClusters", CacheClusterId=f"scale-{j:04d}",
                   ShowCacheNodeInfo="true")
            one.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            root = q.call("DescribeCacheClusters", MaxRecords="100", ShowCacheNodeInfo="true")
            page.append(time.perf_counter() - t0)
        res["describe_one"], res["describe_page"] = one, page
        res["page_size"] = len(find_all(root, "CacheClusterId"))
        res["regions"] = len(REGIONS)
        res["ratio_crowded"] = _get_ratios(ours, theirs, cfg)
        log(f"GET ratio with {cfg.scale - 1} neighbours: "
            f"{['%.2f' % x for x in res['ratio_crowded']]}")
        return res
    finally:
        procs.stop(theirs_p)
        emu.stop()
