"""Shared parts of the differential oracle: starting and stopping the servers under test on free
loopback ports, a raw RESP reader that keeps every reply's exact bytes next to its parsed value,
delta debugging (ddmin) for shrinking a failing sequence, and the mismatch log.

Used by redis_oracle.py and memcached_oracle.py; driven by oracle.py.
"""

import os
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port():
    """A currently free TCP port on 127.0.0.1."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc, timeout=20.0):
    """Waits until something accepts on port; raises when the process died or time ran out."""
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server for port {port} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not start")


class Server:
    """One server process on a free port; `restart()` gives a fresh one (empty, counters reset)."""

    def __init__(self, name, argv_for_port, after_start=None):
        self.name = name
        self.argv_for_port = argv_for_port
        # Called with the port once the server listens (settings every fresh process needs).
        self.after_start = after_start
        self.proc = None
        self.port = None
        self.start()

    def start(self):
        self.port = free_port()
        # Server logs (panics included) go to ECL_ORACLE_LOGDIR when set, else nowhere.
        logdir = os.environ.get("ECL_ORACLE_LOGDIR")
        err = open(os.path.join(logdir, f"{self.name}.log"), "ab") if logdir else subprocess.DEVNULL
        self.proc = subprocess.Popen(self.argv_for_port(self.port), stdout=err,
                                     stderr=err, stdin=subprocess.DEVNULL)
        wait_port(self.port, self.proc)
        if self.after_start:
            self.after_start(self.port)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def restart(self):
        self.stop()
        self.start()


class Closed(Exception):
    """The server closed the connection."""


class Reader:
    """Buffered reads from a socket; raises Closed on EOF and socket.timeout on silence."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        d = self.sock.recv(1 << 16)
        if not d:
            raise Closed()
        self.buf += d

    def line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                out, self.buf = self.buf[:i + 2], self.buf[i + 2:]
                return out
            self._fill()

    def exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


AGG = {ord("*"): "array", ord("~"): "set", ord(">"): "push", ord("%"): "map", ord("|"): "attr"}


def read_resp(r):
    """Reads one RESP2/RESP3 reply: (raw bytes, value). Values: ('+', bytes), ('-', bytes),
    (':', int-bytes), ('$', bytes|None), ('array'|'set'|'map'|'push', [values]), ..."""
    head = r.line()
    t, body = head[0], head[1:-2]
    if t in (ord("+"), ord("-"), ord(":"), ord(","), ord("("), ord("#"), ord("_")):
        return head, (chr(t), body)
    if t in (ord("$"), ord("="), ord("!")):
        n = int(body)
        if n < 0:
            return head, ("$", None)
        data = r.exact(n + 2)
        return head + data, (chr(t), data[:-2])
    if t in AGG:
        n = int(body)
        if n < 0:
            return head, ("array", None)
        if AGG[t] in ("map", "attr"):
            n *= 2
        raw, items = head, []
        for _ in range(n):
            b, v = read_resp(r)
            raw += b
            items.append((b, v))
        return raw, (AGG[t], items)
    raise ValueError(f"bad RESP type byte in {head!r}")


def ddmin(items, failing):
    """Delta debugging: a 1-minimal sub-list of items for which failing(list) still holds."""
    n = 2
    while len(items) >= 2:
        size = max(1, len(items) // n)
        chunks = [items[i:i + size] for i in range(0, len(items), size)]
        reduced = False
        for i in range(len(chunks)):
            rest = [x for j, c in enumerate(chunks) if j != i for x in c]
            if rest and failing(rest):
                items, n, reduced = rest, max(n - 1, 2), True
                break
        if not reduced:
            if n >= len(items):
                break
            n = min(len(items), n * 2)
    return items


def env_int(name, default):
    """An integer knob from the environment."""
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default
