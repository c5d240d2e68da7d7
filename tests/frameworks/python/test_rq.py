"""RQ 2.12, unchanged, on our nodes and on redis-server 7.0.15.

One scenario per server: jobs enqueued (plain, failing, retried, dependent, scheduled with
enqueue_in and enqueue_at), then ``rq worker --burst --with-scheduler`` run as a subprocess;
afterwards the results, statuses, the failed job registry, the finished registry, the
scheduled registry (a job due in an hour stays there) and the dependency chain are read back.
The outcome on each elasticache-local node must equal redis-server's.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
import uuid

from conftest import assert_outcomes, assert_parity, framework_env, reset_server_stats, server_errors
from redis import Redis
from rq import Queue, Retry
from rq.registry import FailedJobRegistry, FinishedJobRegistry, ScheduledJobRegistry

import rq_jobs

TIMEOUT = 60


def _enqueue(queue: Queue, counter: str) -> dict:
    jobs = {
        "add": queue.enqueue(rq_jobs.add, 2, 3),
        "fails": queue.enqueue(rq_jobs.divide, 1, 0),
        "retried": queue.enqueue(rq_jobs.flaky, counter, 2, retry=Retry(max=3)),
    }
    jobs["dependent"] = queue.enqueue(rq_jobs.add, 10, 20, depends_on=jobs["add"])
    jobs["after_failure"] = queue.enqueue(rq_jobs.add, 1, 1, depends_on=jobs["fails"])
    jobs["soon"] = queue.enqueue_in(dt.timedelta(seconds=1), rq_jobs.add, 100, 1)
    jobs["later"] = queue.enqueue_at(
        dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1), rq_jobs.add, 0, 0
    )
    return jobs


def _run_scenario(url: str) -> dict:
    reset_server_stats(url)
    conn = Redis.from_url(url)
    name = f"rq-{uuid.uuid4().hex[:6]}"
    queue = Queue(name, connection=conn)
    jobs = _enqueue(queue, f"{name}:runs")
    out = {
        "before": {k: j.get_status().value for k, j in jobs.items()},
        "queued": queue.count,
        "scheduled": ScheduledJobRegistry(queue=queue).count,
    }
    # The scheduler moves due jobs when the worker starts: let "soon" fall due first.
    time.sleep(1.2)
    worker = subprocess.run(
        [sys.executable, "-m", "rq.cli", "worker", "--burst", "--with-scheduler", "--url", url,
         "--logging_level", "WARNING", name],
        env=framework_env(url), stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT,
    )
    assert worker.returncode == 0, worker.stdout.decode()[-2000:] + worker.stderr.decode()[-2000:]
    for job in jobs.values():
        job.refresh()
    out["after"] = {k: j.get_status().value for k, j in jobs.items()}
    out["results"] = {k: j.return_value() for k, j in jobs.items() if k in
                      ("add", "retried", "dependent", "soon")}
    failed = FailedJobRegistry(queue=queue)
    out["failed_ids"] = sorted(failed.get_job_ids()) == sorted([jobs["fails"].id])
    out["failed_exc"] = "ZeroDivisionError" in (jobs["fails"].latest_result().exc_string or "")
    out["finished"] = FinishedJobRegistry(queue=queue).count
    out["still_scheduled"] = ScheduledJobRegistry(queue=queue).get_job_ids() == [jobs["later"].id]
    out["runs_of_retried"] = int(conn.get(f"{name}:runs"))
    out["queued_after"] = queue.count
    out["server_errors"] = server_errors(url)
    conn.close()
    return out


EXPECTED = {
    "before": {"add": "queued", "fails": "queued", "retried": "queued", "dependent": "deferred",
               "after_failure": "deferred", "soon": "scheduled", "later": "scheduled"},
    "queued": 3,
    "scheduled": 2,
    "after": {"add": "finished", "fails": "failed", "retried": "finished",
              "dependent": "finished", "after_failure": "deferred", "soon": "finished",
              "later": "scheduled"},
    "results": {"add": 5, "retried": 3, "dependent": 30, "soon": 101},
    "failed_ids": True,
    "failed_exc": True,
    "finished": 4,
    "still_scheduled": True,
    "runs_of_retried": 3,
    "queued_after": 0,
}


def test_rq_same_outcome_as_redis_server(servers):
    outcomes = {name: _run_scenario(url) for name, url in servers.items()}
    assert_outcomes(outcomes, EXPECTED)


def _management(url: str) -> dict:
    """Queue and job management without a worker (plus one burst to requeue a failure)."""
    conn = Redis.from_url(url)
    name = f"rqm-{uuid.uuid4().hex[:6]}"
    queue = Queue(name, connection=conn)
    reset_server_stats(url)
    many = queue.enqueue_many([Queue.prepare_data(rq_jobs.add, (i, i), job_id=f"{name}-{i}")
                               for i in range(4)])
    front = queue.enqueue(rq_jobs.add, 7, 7, at_front=True)
    out = {"order": [j.id.removeprefix(f"{name}-") for j in queue.get_jobs()][1:],
           "front_first": queue.get_job_ids()[0] == front.id,
           "position": many[2].get_position()}
    many[0].meta["owner"] = "test"
    many[0].save_meta()
    out["meta"] = queue.fetch_job(many[0].id).get_meta()
    many[1].cancel()
    out["canceled"] = (many[1].get_status().value, queue.canceled_job_registry.count, queue.count)
    many[3].delete()
    out["deleted_exists"] = queue.fetch_job(many[3].id) is None
    out["removed"] = queue.remove(front)
    out["count"] = queue.count
    # Queue.empty runs RQ's Lua script (LRANGE + DEL of every job hash).
    out["emptied"] = queue.empty()
    out["after_empty"] = (queue.count, conn.exists(many[2].key))
    failing = queue.enqueue(rq_jobs.divide, 1, 0)
    subprocess.run([sys.executable, "-m", "rq.cli", "worker", "--burst", "--url", url,
                    "--logging_level", "WARNING", name], env=framework_env(url),
                   stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT, check=True)
    registry = FailedJobRegistry(queue=queue)
    out["failed"] = registry.count
    registry.requeue(failing.id)
    out["requeued"] = (registry.count, queue.count, failing.get_status().value)
    out["queues"] = name in [q.name for q in Queue.all(connection=conn)]
    info = subprocess.run([sys.executable, "-m", "rq.cli", "info", "--url", url, "--only-queues",
                           name], capture_output=True, timeout=TIMEOUT, check=True)
    out["info"] = info.stdout.decode().split("\n")[0].replace(name, "QUEUE")
    out["server_errors"] = server_errors(url)
    queue.delete(delete_jobs=True)
    conn.close()
    return out


def test_rq_management_same_as_redis_server(servers):
    outcomes = {name: _management(url) for name, url in servers.items()}
    for name, out in outcomes.items():
        assert out["order"] == ["0", "1", "2", "3"], name
        assert out["front_first"] and out["position"] == 3, name
        assert out["meta"] == {"owner": "test"}, name
        assert out["canceled"] == ("canceled", 1, 4), name
        assert out["emptied"] == 2 and out["after_empty"] == (0, 0), name
        assert out["requeued"] == (0, 1, "queued"), name
        assert out["info"].startswith("QUEUE") and "0 executing, 0 finished, 0 failed" in out["info"], name
    assert_parity(outcomes)
