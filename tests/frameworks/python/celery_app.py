"""The Celery application the Celery suite runs: broker and result backend on one Redis.

``FRAMEWORK_REDIS_URL`` names the Redis (an elasticache-local node or redis-server); the test
imports this module to send tasks, and ``celery -A celery_app worker`` imports it to run them.
"""

import os

from celery import Celery

URL = os.environ.get("FRAMEWORK_REDIS_URL", "redis://127.0.0.1:6379/0")

app = Celery("framework_suite", broker=URL, backend=URL)
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    broker_connection_retry_on_startup=True,
    result_expires=600,
    worker_hijack_root_logger=False,
)


@app.task
def add(a, b):
    return a + b


@app.task
def tsum(values):
    return sum(values)


@app.task(bind=True, max_retries=3)
def flaky(self, fail_times):
    """Fails `fail_times` times (retried 100 ms later), then returns how many retries it took."""
    if self.request.retries < fail_times:
        raise self.retry(exc=RuntimeError("not yet"), countdown=0.1)
    return self.request.retries


@app.task
def boom():
    raise ValueError("boom")
