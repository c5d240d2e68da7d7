"""Job functions the RQ suite enqueues; ``rq worker`` imports them by dotted name."""

from rq import get_current_job


def add(a, b):
    return a + b


def divide(a, b):
    return a / b


def flaky(key, fail_times):
    """Fails until it has run `fail_times` times (a counter in the job's own Redis)."""
    runs = get_current_job().connection.incr(key)
    if runs <= fail_times:
        raise RuntimeError(f"run {runs} fails")
    return runs
