"""Processes, ports and /proc readings.

Every child is started in its own session (its own process group) and registered here, so
``kill_all`` (called from ``finally`` and on SIGTERM/SIGINT) can end it and anything it forked,
even when a measurement fails halfway.
"""
import os
import signal
import socket
import subprocess
import time

_CHILDREN = []

try:
    import ctypes
    _LIBC = ctypes.CDLL(None, use_errno=True)
except OSError:  # not Linux/glibc: SIGTERM handling and finally blocks still apply
    _LIBC = None


def _die_with_parent():
    """In the child before exec: SIGKILL me if the suite dies (even by SIGKILL)."""
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def spawn(argv, **kw):
    """Start ``argv`` in a new process group, registered for cleanup."""
    kw.setdefault("stdout", subprocess.DEVNULL)
    kw.setdefault("stderr", subprocess.DEVNULL)
    p = subprocess.Popen(argv, start_new_session=True, preexec_fn=_die_with_parent, **kw)
    _CHILDREN.append(p)
    return p


def stop(p, grace=10.0):
    """SIGTERM the process group, wait up to ``grace`` seconds, then SIGKILL it."""
    if p is None:
        return
    try:
        os.killpg(p.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        p.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        p.wait(timeout=5)
    if p in _CHILDREN:
        _CHILDREN.remove(p)


def kill_all():
    """Stop every registered child (idempotent)."""
    for p in list(_CHILDREN):
        stop(p, grace=3.0)


def install_signal_handlers():
    """Turn SIGTERM into SystemExit so ``finally`` blocks run and children die with us."""
    def handler(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)


def run(argv, timeout, **kw):
    """Run a bounded command (own process group, killed on timeout); returns stdout text."""
    p = spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(p, grace=1.0)
        raise RuntimeError(f"timed out after {timeout}s: {' '.join(argv[:4])} …")
    finally:
        if p in _CHILDREN:
            _CHILDREN.remove(p)
    if p.returncode != 0:
        raise RuntimeError(f"{argv[0]} exited {p.returncode}: {err.strip()[-400:]}")
    return out


def free_port(host="127.0.0.1"):
    """An ephemeral port that is free on ``host`` right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_port(host, port, timeout=15.0):
    """Wait until ``host:port`` accepts TCP connections (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, port), 0.2).close()
            return
        except OSError:
            time.sleep(0.01)
    raise RuntimeError(f"{host}:{port} did not accept connections within {timeout}s")


def proc_status(pid, field):
    """A numeric field of /proc/PID/status (VmRSS in kB, Threads)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def rss_bytes(pid):
    return proc_status(pid, "VmRSS") * 1024


def threads(pid):
    return proc_status(pid, "Threads")


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))
