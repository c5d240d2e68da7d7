"""Celery 5.7 (Redis broker and result backend), unchanged, on our nodes and on redis-server.

One scenario per server: a worker subprocess (``celery -A celery_app worker --pool=solo``)
consumes tasks sent with delay/apply_async (countdown, ETA, priority), a group, a chord (the Redis
backend's chord counter), a chain, a task that retries twice, a task that fails, a revoked
task and a forgotten result; remote control (ping, inspect registered) answers; results are read
through the result backend (pub/sub), and the worker must shut down cleanly on SIGTERM. The
outcome on each elasticache-local node must equal redis-server 7.0.15's.
"""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
import time

import pytest
from celery.exceptions import TaskRevokedError
from conftest import assert_outcomes, framework_env, reset_server_stats, server_errors

TIMEOUT = 30


def _run_scenario(url: str) -> dict:
    # The app module reads its URL at import; a fresh import per server keeps them apart.
    sys.modules.pop("celery_app", None)
    import os

    os.environ["FRAMEWORK_REDIS_URL"] = url
    import celery_app
    from celery import chord, group

    reset_server_stats(url)
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "celery_app", "worker", "--pool=solo",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=WARNING"],
        env=framework_env(url), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    app = celery_app.app
    try:
        out = {}
        out["delay"] = celery_app.add.delay(2, 3).get(timeout=TIMEOUT)
        started = time.monotonic()
        out["countdown"] = celery_app.add.apply_async((4, 5), countdown=1).get(timeout=TIMEOUT)
        out["countdown_waited"] = time.monotonic() - started >= 0.9
        eta = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1)
        started = time.monotonic()
        out["eta"] = celery_app.add.apply_async((1, 1), eta=eta).get(timeout=TIMEOUT)
        out["eta_waited"] = time.monotonic() - started >= 0.9
        out["group"] = group(celery_app.add.s(i, i) for i in range(5))().get(timeout=TIMEOUT)
        out["chord"] = chord(celery_app.add.s(i, i) for i in range(4))(
            celery_app.tsum.s()).get(timeout=TIMEOUT)
        out["retries"] = celery_app.flaky.delay(2).get(timeout=TIMEOUT)
        out["chain"] = (celery_app.add.s(1, 2) | celery_app.add.s(3) | celery_app.add.s(4))().get(
            timeout=TIMEOUT)
        done = celery_app.add.apply_async((20, 22), priority=9)
        out["priority"] = done.get(timeout=TIMEOUT)
        done.forget()
        out["forgotten"] = celery_app.app.AsyncResult(done.id).state
        revoked = celery_app.add.apply_async((1, 1), countdown=1)
        revoked.revoke()
        with pytest.raises(TaskRevokedError):
            revoked.get(timeout=TIMEOUT)
        out["revoked_state"] = revoked.state
        registered = app.control.inspect(timeout=10, limit=1).registered() or {}
        out["registered"] = sorted(t for tasks in registered.values() for t in tasks)
        failing = celery_app.boom.delay()
        with pytest.raises(ValueError, match="boom"):
            failing.get(timeout=TIMEOUT)
        out["failed_state"] = failing.state
        # Remote control: a broadcast through the broker (kombu's fanout over PUBLISH), replies
        # on a reply queue.
        out["ping"] = [list(reply.values()) for reply in app.control.ping(timeout=10, limit=1)]
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            log, _ = worker.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            worker.kill()
            log, _ = worker.communicate()
        app.close()
    out["worker_exit"] = worker.returncode
    out["server_errors"] = server_errors(url)
    assert worker.returncode == 0, log.decode(errors="replace")[-3000:]
    return out


EXPECTED = {
    "delay": 5, "countdown": 9, "countdown_waited": True, "eta": 2, "eta_waited": True,
    "group": [0, 2, 4, 6, 8], "chord": 12, "retries": 2, "failed_state": "FAILURE",
    "chain": 10, "priority": 42, "forgotten": "PENDING", "revoked_state": "REVOKED",
    "registered": ["celery_app.add", "celery_app.boom", "celery_app.flaky", "celery_app.tsum"],
    "ping": [[{"ok": "pong"}]], "worker_exit": 0,
}


def test_celery_same_outcome_as_redis_server(servers):
    outcomes = {name: _run_scenario(url) for name, url in servers.items()}
    assert_outcomes(outcomes, EXPECTED)
