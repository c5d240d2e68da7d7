"""A replication group stays reachable while BatchApplyUpdateAction restarts its nodes, as on
ElastiCache: redis-py writes through the primary endpoint the whole time; the nodes are updated
one at a time, replicas before the primary, which fails over first when automatic failover is
on; no acknowledged write is lost, the errors the writer sees fit in a short window, and the
node-level statuses read waiting-to-start / in-progress / complete as AWS reports them.
"""

from __future__ import annotations

import random
import threading
import time

import pytest
import redis

from helpers import delete_groups, until, wait_group

REDIS_SECURITY = "elasticache-20250318-001"

# Liveness bounds for a loaded 2-core machine, not performance assertions: the longest time the
# writer goes without an acknowledged write, and how long errors may keep coming back.
MAX_PAUSE_S = 5.0
PRELOAD = 100_000


@pytest.fixture
def acct(make_client):
    """A client of an account of its own, so other suites' clusters do not show up."""
    return make_client(access_key=str(random.randint(10**11, 10**12 - 1)))


@pytest.fixture
def groups(acct):
    made: list[str] = []
    yield made
    delete_groups(acct, made, settle_first=True)


class Writer(threading.Thread):
    """Writes `w<i>` = i through one endpoint until stopped; records what was acknowledged,
    every error with its time, and the longest gap between two acknowledged writes."""

    def __init__(self, address: str, port: int):
        super().__init__(daemon=True)
        self.client = redis.Redis(host=address, port=port, socket_timeout=5, socket_connect_timeout=5)
        self.acked: dict[str, int] = {}
        self.errors: list[tuple[float, str]] = []
        self.longest_pause = 0.0
        self.stop = threading.Event()

    def run(self) -> None:
        i, last_ok = 0, time.monotonic()
        while not self.stop.is_set():
            i += 1
            try:
                if self.client.set(f"w{i}", i):
                    self.acked[f"w{i}"] = i
                    now = time.monotonic()
                    self.longest_pause = max(self.longest_pause, now - last_ok)
                    last_ok = now
            except redis.RedisError as e:
                self.errors.append((time.monotonic(), type(e).__name__))
                time.sleep(0.02)


def node_members(ec, gid: str) -> tuple[str, list[dict]]:
    a = ec.describe_update_actions(
        ServiceUpdateName=REDIS_SECURITY, ReplicationGroupIds=[gid], ShowNodeLevelUpdateStatus=True
    )["UpdateActions"][0]
    return a["UpdateActionStatus"], a["NodeGroupUpdateStatus"][0]["NodeGroupMemberUpdateStatus"]


def node_statuses(ec, gid: str) -> tuple[str, dict[str, str]]:
    status, members = node_members(ec, gid)
    return status, {m["CacheClusterId"]: m["NodeUpdateStatus"] for m in members}


def apply_while_writing(ec, gid: str, rg: dict) -> tuple[Writer, list[dict[str, str]]]:
    """Applies the update with a writer running; returns it and every distinct node-status
    picture seen while the action ran."""
    ep = rg["NodeGroups"][0]["PrimaryEndpoint"]
    # A keyspace that takes a moment to carry over at each restart.
    loader = redis.Redis(host=ep["Address"], port=ep["Port"], socket_timeout=30)
    for start in range(0, PRELOAD, 10_000):
        loader.mset({f"pre{i}": i for i in range(start, start + 10_000)})
    writer = Writer(ep["Address"], ep["Port"])
    writer.start()
    until(lambda: len(writer.acked) > 50, timeout=10.0)
    ec.batch_apply_update_action(ServiceUpdateName=REDIS_SECURITY, ReplicationGroupIds=[gid])
    seen: list[dict[str, str]] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        status, nodes = node_statuses(ec, gid)
        if not seen or seen[-1] != nodes:
            seen.append(nodes)
        if status == "complete":
            break
        time.sleep(0.05)
    time.sleep(1.0)
    writer.stop.set()
    writer.join(timeout=30)
    return writer, seen


def assert_nothing_lost(writer: Writer, address: str, port: int) -> None:
    check = redis.Redis(host=address, port=port, socket_timeout=10)
    # A write that failed on the client may still have landed; nothing else may add keys.
    n = check.dbsize()
    assert PRELOAD + len(writer.acked) <= n <= PRELOAD + len(writer.acked) + len(writer.errors), n
    keys = list(writer.acked)
    for start in range(0, len(keys), 1000):
        chunk = keys[start : start + 1000]
        values = check.mget(chunk)
        lost = [k for k, v in zip(chunk, values) if v is None or int(v) != writer.acked[k]]
        assert not lost, f"{len(lost)} acknowledged writes lost, e.g. {lost[:5]}"


def make_group(ec, groups, gid: str, failover: bool) -> dict:
    ec.create_replication_group(
        ReplicationGroupId=gid,
        ReplicationGroupDescription="service update availability",
        Engine="redis",
        EngineVersion="7.1",
        CacheNodeType="cache.t3.micro",
        NumCacheClusters=3,
        AutomaticFailoverEnabled=failover,
    )
    groups.append(gid)
    return wait_group(ec, gid)


def test_the_primary_endpoint_keeps_answering_through_an_update(acct, groups, uid):
    gid = uid("sua")
    rg = make_group(acct, groups, gid, failover=True)
    members = rg["NodeGroups"][0]["NodeGroupMembers"]
    first_primary = next(m["CacheClusterId"] for m in members if m["CurrentRole"] == "primary")
    writer, seen = apply_while_writing(acct, gid, rg)

    # One node at a time, replicas first: never two in progress, nodes not reached yet
    # waiting, and by their own start and end dates each restart after the previous one ended,
    # the primary last.
    assert all(list(s.values()).count("in-progress") <= 1 for s in seen), seen
    assert any("waiting-to-start" in s.values() for s in seen), seen
    assert set(seen[-1].values()) == {"complete"}
    _, done = node_members(acct, gid)
    spans = sorted((m["NodeUpdateStartDate"], m["NodeUpdateEndDate"], m["CacheClusterId"]) for m in done)
    assert all(prev[1] <= nxt[0] for prev, nxt in zip(spans, spans[1:])), spans
    assert spans[-1][2] == first_primary, spans

    # The primary failed over before its restart, and the endpoint followed it.
    rg = wait_group(acct, gid)
    roles = {m["CacheClusterId"]: m["CurrentRole"] for m in rg["NodeGroups"][0]["NodeGroupMembers"]}
    assert roles[first_primary] == "replica"
    ep = rg["NodeGroups"][0]["PrimaryEndpoint"]
    assert_nothing_lost(writer, ep["Address"], ep["Port"])
    window = writer.errors[-1][0] - writer.errors[0][0] if writer.errors else 0.0
    print(
        f"\nservice update, automatic failover on: {len(writer.acked)} writes acknowledged, "
        f"{len(writer.errors)} errors {sorted({e for _, e in writer.errors})} over {window:.2f} s, "
        f"longest pause {writer.longest_pause:.3f} s"
    )
    assert writer.longest_pause < MAX_PAUSE_S
    assert window < MAX_PAUSE_S, writer.errors


def test_without_automatic_failover_the_primary_restarts_in_place(acct, groups, uid):
    gid = uid("sun")
    rg = make_group(acct, groups, gid, failover=False)
    members = rg["NodeGroups"][0]["NodeGroupMembers"]
    first_primary = next(m["CacheClusterId"] for m in members if m["CurrentRole"] == "primary")
    writer, seen = apply_while_writing(acct, gid, rg)
    assert set(seen[-1].values()) == {"complete"}
    rg = wait_group(acct, gid)
    roles = {m["CacheClusterId"]: m["CurrentRole"] for m in rg["NodeGroups"][0]["NodeGroupMembers"]}
    assert roles[first_primary] == "primary", "no failover without automatic failover"
    ep = rg["NodeGroups"][0]["PrimaryEndpoint"]
    assert_nothing_lost(writer, ep["Address"], ep["Port"])
    window = writer.errors[-1][0] - writer.errors[0][0] if writer.errors else 0.0
    print(
        f"\nservice update, automatic failover off: {len(writer.acked)} writes acknowledged, "
        f"{len(writer.errors)} errors {sorted({e for _, e in writer.errors})} over {window:.2f} s, "
        f"longest pause {writer.longest_pause:.3f} s"
    )
    # The primary's own restart is the outage: short, and the endpoint answers after it.
    assert writer.longest_pause < MAX_PAUSE_S
