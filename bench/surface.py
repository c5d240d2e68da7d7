#!/usr/bin/env python3
"""Scripting, stream and geo throughput: our engine vs Debian's redis-server, same run.

Starts `target/release/ecl-redis-server` (as Redis 7.0.15) and `redis-server` on ephemeral
loopback ports, then for each repetition (ours, theirs, ours, ...; the machine may be shared,
so judge the medians) flushes the server, loads the data and runs redis-benchmark on:
EVALSHA of a short script, XADD, XREADGROUP (a group, `>`, one new entry per call) and
GEOSEARCH on a small (100 members) and a large (100,000 members) set. Prints a markdown table
of requests/s (medians) and ours/theirs ratios (min / median / max), and the server's CPU time
per request (user + system from /proc, median), which a busy machine disturbs far less than
throughput.

    python3 bench/surface.py [--reps 3] [--requests 100000] [--clients 50] [--only EVALSHA]
        [--ours PATH] [--old PATH]

`--only` keeps the figures whose name contains one of the given words; `--ours` benchmarks
another build of our server; `--old` adds a previous build as a third server in the same run
(its column shows how a change moved the figures while the machine's load was the same).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import socket
import statistics
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OURS = ROOT / "target" / "release" / "ecl-redis-server"
SCRIPT = "return redis.call('GET', KEYS[1])"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int) -> None:
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def cli(port: int, *args: str, stdin: bytes | None = None) -> str:
    cmd = ["redis-cli", "-p", str(port), *args]
    return subprocess.run(cmd, input=stdin, capture_output=True, check=True).stdout.decode().strip()


def geo_commands(key: str, n: int, seed: int) -> bytes:
    rnd = random.Random(seed)
    lines = []
    for i in range(n):
        lon, lat = 15 + rnd.uniform(-1, 1), 37 + rnd.uniform(-1, 1)
        lines.append(f"GEOADD {key} {lon:.6f} {lat:.6f} m{i}\r\n")
    return "".join(lines).encode()


def prepare(port: int, geo: bool) -> str:
    """Loads the data the figures read; returns the script's SHA-1."""
    cli(port, "FLUSHALL")
    sha = cli(port, "SCRIPT", "LOAD", SCRIPT)
    cli(port, "SET", "k", "v")
    if geo:
        cli(port, "--pipe", stdin=geo_commands("geo:small", 100, 1))
        cli(port, "--pipe", stdin=geo_commands("geo:large", 100_000, 2))
    return sha


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench(server: tuple[int, int], n: int, clients: int, *command: str) -> tuple[float, float]:
    """(requests/s, server CPU µs per request)."""
    port, pid = server
    before = cpu_seconds(pid)
    out = subprocess.run(
        ["redis-benchmark", "-p", str(port), "-n", str(n), "-c", str(clients), "--csv", *command],
        capture_output=True,
        check=True,
    ).stdout.decode()
    rows = list(csv.reader(io.StringIO(out)))
    return float(rows[-1][1]), (cpu_seconds(pid) - before) * 1e6 / n


def wanted(name: str, only: list[str]) -> bool:
    return not only or any(w.lower() in name.lower() for w in only)


def repetition(server: tuple[int, int], requests: int, clients: int, only: list[str]) -> dict[str, tuple[float, float]]:
    port = server[0]
    sha = prepare(port, wanted("GEOSEARCH", only))
    r = {}
    if wanted("EVALSHA", only):
        r["EVALSHA (GET in a script)"] = bench(server, requests, clients, "EVALSHA", sha, "1", "k")
    if wanted("XADD", only) or wanted("XREADGROUP", only):
        # XADD fills `s` with exactly `requests` entries, which XREADGROUP then consumes.
        r["XADD"] = bench(server, requests, clients, "XADD", "s", "*", "field", "value")
        cli(port, "XGROUP", "CREATE", "s", "g", "0")
        r["XREADGROUP COUNT 1 >"] = bench(
            server, requests, clients, "XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s", ">"
        )
    if wanted("GEOSEARCH", only):
        r["GEOSEARCH small (100, 100 km)"] = bench(
            server, requests, clients, "GEOSEARCH", "geo:small", "FROMLONLAT", "15", "37", "BYRADIUS", "100", "km", "ASC"
        )
        r["GEOSEARCH large (100k, 5 km, COUNT 10)"] = bench(
            server, max(requests // 5, 1000), clients,
            "GEOSEARCH", "geo:large", "FROMLONLAT", "15", "37", "BYRADIUS", "5", "km", "ASC", "COUNT", "10",
        )
    return r


def start_servers(builds: list[Path]) -> list[tuple[subprocess.Popen, int]]:
    """Our builds (as Redis 7.0.15), then redis-server; each with its port."""
    servers = []
    for b in builds:
        port = free_port()
        servers.append((subprocess.Popen([str(b), "--port", str(port), "--version", "7.0.15"],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), port))
    port = free_port()
    servers.append((subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), port))
    return servers


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--only", nargs="*", default=[])
    ap.add_argument("--ours", type=Path, default=OURS)
    ap.add_argument("--old", type=Path)
    a = ap.parse_args()
    builds = [a.ours] + ([a.old] if a.old else [])
    servers = start_servers(builds)
    runs: list[list[dict[str, tuple[float, float]]]] = [[] for _ in servers]
    try:
        for p, port in servers:
            wait_listening(port)
        for rep in range(a.reps):
            for (p, port), results in zip(servers, runs):
                results.append(repetition((port, p.pid), a.requests, a.clients, a.only))
            print(f"rep {rep + 1}: " + "\n       ".join(str(r[-1]) for r in runs), flush=True)
    finally:
        for p, _ in servers:
            p.terminate()
            p.wait()
    ours, theirs = runs[0], runs[-1]
    old = runs[1] if a.old else None
    extra = " | old req/s | old CPU µs/req" if old else ""
    print("\n| figure | ours req/s | theirs req/s | ratio min / median / max "
          f"| server CPU µs/req ours / theirs{extra} |")
    print("|---|---:|---:|---:|---:|" + ("---:|---:|" if old else ""))
    for name in ours[0]:
        o = [r[name][0] for r in ours]
        t = [r[name][0] for r in theirs]
        ratios = sorted(x / y for x, y in zip(o, t))
        oc = statistics.median(r[name][1] for r in ours)
        tc = statistics.median(r[name][1] for r in theirs)
        row = (f"| {name} | {statistics.median(o):,.0f} | {statistics.median(t):,.0f} | "
               f"{ratios[0]:.2f} / {statistics.median(ratios):.2f} / {ratios[-1]:.2f} | {oc:.1f} / {tc:.1f} |")
        if old:
            row += (f" {statistics.median(r[name][0] for r in old):,.0f} |"
                    f" {statistics.median(r[name][1] for r in old):.1f} |")
        print(row)


if __name__ == "__main__":
    main()
