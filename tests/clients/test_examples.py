"""The pattern programs under ``examples/`` run against the emulator and do what they say.

Each example is run twice: as a script (a subprocess with ``--endpoint-url``, creating and
deleting its own resources, checked by what it prints) and imported, its classes driven against
a real node to check the behaviour the pattern promises (hit ratio, expiry, ranks, limits, ...).
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import time
import uuid

import pytest
import redis

from conftest import DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY, REPO_ROOT
from helpers import ResourceTracker, create_redis

EXAMPLES = REPO_ROOT / "examples"


def load(relative: str):
    """Imports ``examples/<relative>`` as a module (example directories are not packages)."""
    path = EXAMPLES / relative
    spec = importlib.util.spec_from_file_location(f"example_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def run(endpoint_url, ec):
    """Runs an example as a script against the emulator; answers its standard output, once the
    script exited 0 and left none of its cache clusters behind."""

    def run_example(relative: str, name: str, timeout: float = 180) -> str:
        env = dict(os.environ, AWS_ACCESS_KEY_ID=DUMMY_ACCESS_KEY, AWS_SECRET_ACCESS_KEY=DUMMY_SECRET_KEY)
        env.pop("AWS_ENDPOINT_URL", None)
        out = subprocess.run(
            [sys.executable, str(EXAMPLES / relative), "--endpoint-url", endpoint_url, "--name", name],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            stdin=subprocess.DEVNULL,
        )
        assert out.returncode == 0, f"{relative} exited {out.returncode}\nstdout: {out.stdout}\nstderr: {out.stderr}"
        left = [c["CacheClusterId"] for c in ec.describe_cache_clusters()["CacheClusters"]]
        assert not [c for c in left if c.startswith(name)], f"{relative} left {left} behind"
        return out.stdout

    return run_example


@pytest.fixture(scope="module")
def node(make_client):
    """One Redis node shared by this module's in-process tests: (host, port)."""
    ec = make_client()
    tracker = ResourceTracker(make_client)
    cluster = create_redis(ec, tracker, f"examples-{uuid.uuid4().hex[:8]}")
    endpoint = cluster["CacheNodes"][0]["Endpoint"]
    yield endpoint["Address"], endpoint["Port"]
    tracker.cleanup()


@pytest.fixture
def r(node) -> redis.Redis:
    """A client of the shared node, emptied for each test."""
    client = redis.Redis(*node, decode_responses=True)
    client.flushall()
    yield client
    client.close()


# --------------------------------------------------------------------------------------------
# 1. cache-aside


def test_cache_aside_script(run, uid):
    out = run("cache_aside/cache_aside.py", uid("aside"))
    assert "hits=900 misses=100 hit ratio=0.90" in out, out
    assert "after the update product 7 costs 99.5" in out, out


def test_cache_aside_hits_ttl_and_invalidation(r, tmp_path):
    mod = load("cache_aside/cache_aside.py")
    db = mod.open_database(str(tmp_path / "shop.db"), products=20)
    selects = []
    db.set_trace_callback(lambda sql: selects.append(sql) if sql.startswith("SELECT") else None)
    products = mod.ProductCache(db, r, ttl=30)

    reads = [i % 5 for i in range(40)]  # 5 distinct products, 8 reads each
    assert [products.get(i)["id"] for i in reads] == reads
    assert (products.hits, products.misses) == (35, 5)
    assert products.hit_ratio == pytest.approx(35 / 40)
    assert len(selects) == 5, "only misses reach the database"
    assert 0 < r.ttl("product:3") <= 30, "cached rows carry the TTL"
    assert products.get(999) is None and products.misses == 6

    products.update_price(3, 1.25)
    assert not r.exists("product:3"), "a write invalidates the cached copy"
    assert products.get(3)["price"] == 1.25, "the next read loads the new value"
    assert len(selects) == 7

    # A write that bypasses invalidation is served stale only until the TTL runs out.
    short = mod.ProductCache(db, r, ttl=1)
    assert short.get(10)["price"] == 20.0
    with db:
        db.execute("UPDATE products SET price = 0 WHERE id = 10")
    assert short.get(10)["price"] == 20.0, "stale until expiry"
    time.sleep(1.2)
    assert short.get(10)["price"] == 0.0, "fresh after the TTL"
    db.close()


# --------------------------------------------------------------------------------------------
# 2. write-through


def test_write_through_script(run, uid):
    out = run("write_through/write_through.py", uid("wthrough"))
    assert 'cached right after the write: {"id": 1, "name": "Ada"' in out, out
    assert "refused by the database (NOT NULL constraint failed: users.email); cached: False" in out, out


def test_write_through_reads_from_cache_and_never_caches_a_refused_write(r, tmp_path):
    import sqlite3

    mod = load("write_through/write_through.py")
    db = sqlite3.connect(tmp_path / "users.db")
    users = mod.UserStore(db, r, ttl=60)
    selects = []
    db.set_trace_callback(lambda sql: selects.append(sql) if sql.startswith("SELECT") else None)

    for i in range(10):
        users.save({"id": i, "name": f"user {i}", "email": f"u{i}@example.com"})
    assert r.dbsize() == 10 and 0 < r.ttl("user:4") <= 60, "every write is in the cache with a TTL"
    assert db.execute("SELECT count(*) FROM users").fetchone()[0] == 10
    selects.clear()
    assert [users.get(i)["email"] for i in range(10)] == [f"u{i}@example.com" for i in range(10)]
    assert selects == [], "reads after a write-through never reach the database"

    users.save({"id": 4, "name": "renamed", "email": "new@example.com"})
    assert users.get(4)["name"] == "renamed" and selects == [], "an update is written through too"

    with pytest.raises(sqlite3.IntegrityError):
        users.save({"id": 99, "name": "nobody", "email": None})
    assert not r.exists("user:99"), "a write the database refused is not cached"
    assert users.get(99) is None

    r.delete("user:7")  # as if evicted
    assert users.get(7)["name"] == "user 7" and len(selects) == 2
    assert r.exists("user:7"), "a miss refills the cache"
    db.close()


# --------------------------------------------------------------------------------------------
# 3. session store with sliding expiry


def test_session_store_script(run, uid):
    out = run("sessions/session_store.py", uid("sessions"))
    assert "active session: {'user': 'alice'}; idle session: None" in out, out


def test_sessions_slide_on_access_and_expire_when_idle(r):
    mod = load("sessions/session_store.py")
    sessions = mod.SessionStore(r, idle_timeout=2)
    active = sessions.create("alice", role="admin")
    idle = sessions.create("bob")
    assert active != idle and len(active) >= 32

    time.sleep(1.2)
    assert r.pttl(f"session:{active}") <= 1000
    assert sessions.get(active) == {"user": "alice", "role": "admin"}
    assert r.pttl(f"session:{active}") > 1500, "an access resets the idle timeout"
    time.sleep(1.2)  # 2.4 s after creation: past the timeout, but alice was active
    assert sessions.get(active) is not None
    assert sessions.get(idle) is None and not r.exists(f"session:{idle}"), "idle session expired"

    sessions.destroy(active)
    assert sessions.get(active) is None and r.dbsize() == 0


# --------------------------------------------------------------------------------------------
# 4. leaderboard


def test_leaderboard_script(run, uid):
    out = run("leaderboard/leaderboard.py", uid("board"))
    assert out.splitlines() == ["#1 ed 70", "#1 bo 70", "#1 ann 70", "cy is #4"], out


def test_leaderboard_top_rank_and_ties(r):
    mod = load("leaderboard/leaderboard.py")
    board = mod.Leaderboard(r, key="game:1")
    scores = {"p1": 10, "p2": 40, "p3": 40, "p4": 25, "p5": 5, "p6": 25}
    for player, points in scores.items():
        board.add_points(player, points)
    assert board.add_points("p5", 20) == 25.0, "ZINCRBY adds to the score"

    assert board.top(3) == [(1, "p3", 40.0), (1, "p2", 40.0), (3, "p6", 25.0)]
    assert board.top(10) == [
        (1, "p3", 40.0),
        (1, "p2", 40.0),
        (3, "p6", 25.0),
        (3, "p5", 25.0),
        (3, "p4", 25.0),
        (6, "p1", 10.0),
    ]
    assert [board.rank(p) for p in ("p2", "p3", "p4", "p5", "p6", "p1")] == [1, 1, 3, 3, 3, 6]
    assert board.rank("nobody") is None
    assert {r.zrevrank("game:1", "p2"), r.zrevrank("game:1", "p3")} == {0, 1}, "ZREVRANK splits ties"


# --------------------------------------------------------------------------------------------
# 5. rate limiters


def test_rate_limit_script(run, uid):
    out = run("rate_limit/rate_limit.py", uid("ratelimit"))
    assert "across a window boundary: fixed window let 10 through,\nsliding log 5\n" in out, out


def test_fixed_window_limits_per_client_and_window(r):
    mod = load("rate_limit/rate_limit.py")
    limiter = mod.FixedWindowLimiter(r, limit=3, window=10)
    start = (int(time.time()) // 10 + 1) * 10.0  # the start of the next window
    assert [limiter.allow("a", now=start + i) for i in range(5)] == [True, True, True, False, False]
    assert limiter.allow("b", now=start), "clients have their own counters"
    key = f"ratelimit:fixed:a:{int(start // 10)}"
    assert r.get(key) == "5" and 0 < r.ttl(key) <= 10, "the counter expires with its window"
    assert limiter.allow("a", now=start + 10), "a new window starts from zero"


def test_sliding_log_runs_by_sha_and_survives_script_flush(r):
    mod = load("rate_limit/rate_limit.py")
    calls_before = int(r.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0))
    limiter = mod.SlidingLogLimiter(r, limit=3, window_ms=1000)
    assert r.script_exists(limiter.sha) == [True], "loaded once at construction"
    t = int(time.time() * 1000)
    allowed = [limiter.allow("a", now_ms=t + ms) for ms in (0, 100, 200, 300, 999, 1001, 1050, 1150)]
    assert allowed == [True, True, True, False, False, True, False, True]
    assert r.zcard("ratelimit:log:a") == 3 and 0 < r.pttl("ratelimit:log:a") <= 1000
    calls = int(r.info("commandstats")["cmdstat_evalsha"]["calls"])
    assert calls - calls_before == 8, "every check is one EVALSHA"

    r.script_flush()
    assert limiter.allow("b"), "NOSCRIPT is answered by loading the script again"
    assert r.script_exists(limiter.sha) == [True]
    assert [limiter.allow("b") for _ in range(3)] == [True, True, False], "and real clocks work too"


# --------------------------------------------------------------------------------------------
# 6. pub/sub fan-out


def test_pubsub_fanout_script(run, uid):
    out = run("pubsub_fanout/fanout.py", uid("fanout"))
    orders = str([f"order {i}" for i in range(5)])
    for name in ("billing", "email", "search"):
        assert f"{name} received {orders}" in out, out
    assert "PUBLISH reached [3, 3, 3, 3, 3] subscribers" in out, out
    assert "after search unsubscribed, PUBLISH reached 2" in out, out


def test_pubsub_every_subscriber_gets_every_message_in_order(r):
    mod = load("pubsub_fanout/fanout.py")
    subscribers = [mod.Subscriber(r, "events") for _ in range(4)]
    other = mod.Subscriber(r, "other")
    try:
        mod.wait_for_subscribers(r, "events", 4)
        sent = [f"event {i}" for i in range(200)]
        assert {r.publish("events", m) for m in sent} == {4}
        mod.wait_for_messages(subscribers, len(sent))
        assert all(s.received == sent for s in subscribers), [len(s.received) for s in subscribers]

        subscribers[0].close()
        mod.wait_for_subscribers(r, "events", 3)
        assert r.publish("events", "late") == 3
        mod.wait_for_messages(subscribers[1:], len(sent) + 1)
        assert all(s.received[-1] == "late" for s in subscribers[1:])
        assert subscribers[0].received == sent, "an unsubscribed client gets nothing more"
        assert other.received == [], "other channels are not disturbed"
    finally:
        for s in subscribers[1:] + [other]:
            s.close()


# --------------------------------------------------------------------------------------------
# 7. reliable work queue


def test_work_queue_script(run, uid):
    out = run("work_queue/work_queue.py", uid("queue"))
    assert "worker-1 took ['job-0', 'job-1', 'job-2'] and crashed" in out, out
    assert "recovered 3 jobs of dead workers" in out, out
    assert "worker-2 handled 10 jobs, all of them: True" in out, out


def test_work_queue_recovers_a_crashed_workers_jobs(r):
    import threading

    mod = load("work_queue/work_queue.py")
    queue = mod.WorkQueue(r, name="q", lease=1)
    jobs = [f"job-{i}" for i in range(60)]
    queue.push(*jobs)
    handled: list[tuple[str, str]] = []

    def crashing(job: str) -> None:
        if len([w for w, _ in handled if w == "crasher"]) == 4:
            raise RuntimeError("worker died")
        handled.append(("crasher", job))

    def slow(worker: str):
        return lambda job: (time.sleep(0.005), handled.append((worker, job)))

    crasher = mod.WorkQueue(r, name="q", lease=1)
    with pytest.raises(RuntimeError):
        mod.run_worker(crasher, "crasher", crashing)
    assert r.llen("q:processing:crasher") == 1, "the job being handled when it died is kept"
    lost = r.lindex("q:processing:crasher", 0)

    threads = [threading.Thread(target=mod.run_worker, args=(queue, w, slow(w), 0.3)) for w in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert r.llen("q:pending") == 0 and lost not in [j for _, j in handled]
    assert queue.recover() == 0, "the crashed worker's heartbeat has not expired yet"

    time.sleep(1.1)
    assert queue.recover() == 1
    assert r.lrange("q:pending", 0, -1) == [lost] and not r.exists("q:processing:crasher")
    mod.run_worker(queue, "a", slow("a"), 0.3)
    done = [j for _, j in handled]
    assert sorted(done) == sorted(jobs) and len(done) == len(jobs), "every job done exactly once"
    assert {w for w, _ in handled} == {"crasher", "a", "b"}, "both workers took jobs"
    assert r.keys("q:processing:*") == [], "nothing is left in progress"


# --------------------------------------------------------------------------------------------
# 8. memcached auto discovery through a node replacement


def test_memcached_discovery_script(run, uid):
    out = run("memcached_discovery/discovery.py", uid("mcdisc"))
    lines = out.splitlines()
    versions = [int(line.split()[1].rstrip(":")) for line in lines[:3]]
    assert versions == sorted(set(versions)), f"the configuration version only grows: {out}"
    assert lines[0].endswith(": 2 nodes") and lines[1].endswith("3 nodes after adding one"), out
    assert lines[2].endswith("2 nodes after removing node 0001"), out
    assert lines[3].endswith("after refilling 100/100"), out
    survived = int(lines[3].split("/")[0])
    assert 0 < survived < 100, f"keys of the removed node are gone, the others stay: {out}"


def test_memcached_discovery_client_follows_a_node_replacement(ec, resources, uid):
    from pymemcache.client.base import Client

    from helpers import create_memcached, node_endpoints, wait_available

    mod = load("memcached_discovery/discovery.py")
    cid = uid("mcrepl")
    cluster = create_memcached(ec, resources, cid, nodes=2)
    cfg = cluster["ConfigurationEndpoint"]
    cache = mod.DiscoveringClient((cfg["Address"], cfg["Port"]), interval=0.1)
    try:
        assert sorted(cache.nodes) == sorted(node_endpoints(cluster).values())
        first = cache.version

        mod.modify(ec, cid, NumCacheNodes=3)
        mod.wait_for(lambda: len(cache.nodes) == 3)
        mod.modify(ec, cid, NumCacheNodes=2, CacheNodeIdsToRemove=["0001"])
        mod.wait_for(lambda: len(cache.nodes) == 2)
        api = node_endpoints(wait_available(ec, cid))
        assert sorted(api) == ["0002", "0003"]
        assert sorted(cache.nodes) == sorted(api.values()), "the client uses exactly the nodes the API lists"
        assert cache.version > first
        assert cache.refresh() is False, "an unchanged configuration does not rebuild the client"

        keys = [f"k{i}" for i in range(60)]
        for key in keys:
            assert cache.set(key, key) is True
        per_node = {}
        for host, port in cache.nodes:
            direct = Client((host, port), connect_timeout=2, timeout=2)
            per_node[(host, port)] = {k for k in keys if direct.get(k) == k.encode()}
            direct.close()
        assert all(per_node.values()), f"keys spread over both current nodes: {per_node}"
        assert set().union(*per_node.values()) == set(keys) and sum(map(len, per_node.values())) == len(keys)
    finally:
        cache.close()


# --------------------------------------------------------------------------------------------
# 9. failover through the primary endpoint


def test_failover_script(run, uid):
    name = uid("failover")
    out = run("failover/failover.py", name)
    lines = out.splitlines()
    assert lines[0] == f"primary {name}-001 -> {name}-002", out
    counts = re.fullmatch(r"(\d+) writes acknowledged \((\d+) after the failover\)", lines[1])
    assert counts, out
    written, after = map(int, counts.groups())
    assert written > after > 0, f"the writer carried on after the failover: {out}"
    assert lines[2].startswith("writes retried: "), out
    assert lines[3] == "acknowledged writes lost: 0", out


def test_failover_writer_reconnects_and_keeps_every_acknowledged_write(ec, uid):
    import threading

    from helpers import FAST_WAITER

    mod = load("failover/failover.py")
    gid = uid("fowriter")
    host, port = mod.create_group(ec, gid)

    def writer_connections() -> dict[str, int]:
        """Per member cluster, how many connections named like the writer it serves."""
        group = ec.describe_replication_groups(ReplicationGroupId=gid)["ReplicationGroups"][0]
        counts = {}
        for m in group["NodeGroups"][0]["NodeGroupMembers"]:
            node = redis.Redis(m["ReadEndpoint"]["Address"], m["ReadEndpoint"]["Port"], decode_responses=True)
            counts[m["CacheClusterId"]] = sum(c["name"] == "example-writer" for c in node.client_list())
            node.close()
        return counts

    try:
        writer = mod.DurableWriter(host, port, name="example-writer")
        stop, acknowledged = threading.Event(), []
        thread = threading.Thread(target=mod.write_until, args=(writer, stop, acknowledged), daemon=True)
        thread.start()
        for expected in (f"{gid}-002", f"{gid}-001"):  # over and back
            time.sleep(0.3)
            count = len(acknowledged)
            ec.test_failover(ReplicationGroupId=gid, NodeGroupId="0001")
            ec.get_waiter("replication_group_available").wait(ReplicationGroupId=gid, WaiterConfig=FAST_WAITER)
            assert mod.primary_of(ec, gid) == expected
            deadline = time.monotonic() + 10
            while len(acknowledged) < count + 50 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(acknowledged) >= count + 50, "the writer goes on against the new primary"
            old = f"{gid}-001" if expected.endswith("2") else f"{gid}-002"
            assert writer_connections() == {expected: 1, old: 0}, "the writer reconnected to the new primary"
        stop.set()
        thread.join(timeout=30)
        assert not thread.is_alive()

        check = redis.Redis(host=host, port=port, decode_responses=True)
        assert check.execute_command("ROLE")[0] == "master"
        assert check.mget([f"order:{i}" for i in acknowledged]) == [str(i) for i in acknowledged]
        assert acknowledged == list(range(len(acknowledged))), "no write was skipped"
    finally:
        mod.delete_group(ec, gid)
