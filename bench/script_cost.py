#!/usr/bin/env python3
"""Instructions per request of GET and EVALSHA, counted with callgrind (issue 14).

Runs one server under `valgrind --tool=callgrind` (ours by default, or `redis-server`), loads
two scripts (`return 1`, run without keys, and `return redis.call('GET', KEYS[1])`) and a key,
then for each figure warms up with 500 requests, dumps the counters, sends N pipelined requests
(`redis-benchmark -c 1 -P 16`), dumps again and prints the instructions of the whole process per
request. Unlike throughput on a shared machine, the count repeats to about 1%, so it shows what
a change to the scripting path saves. bench/REPORT.md's scripting section quotes it.

    python3 bench/script_cost.py [--server PATH] [--requests 5000] [--pipeline 16]
"""

from __future__ import annotations

import argparse
import glob
import socket
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OURS = ROOT / "target" / "release" / "ecl-redis-server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_argv(server: str, port: int) -> list[str]:
    if Path(server).name == "redis-server":
        return [server, "--port", str(port), "--save", "", "--appendonly", "no"]
    return [server, "--port", str(port), "--version", "7.0.15"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", default=str(OURS))
    ap.add_argument("--requests", type=int, default=5000)
    ap.add_argument("--pipeline", type=int, default=16,
                    help="requests per round trip (1: every request pays the socket calls)")
    a = ap.parse_args()
    out = Path(tempfile.mkdtemp(prefix="script-cost."))
    port = free_port()
    proc = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/callgrind.out.%p",
         *server_argv(a.server, port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def cli(*args: str) -> str:
        return subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True,
                              check=True).stdout.decode().strip()

    def bench(cmd: list[str], n: int) -> None:
        subprocess.run(["redis-benchmark", "-p", str(port), "-n", str(n), "-c", "1", "-P", str(a.pipeline),
                        "-q", *cmd], capture_output=True, check=True)

    def instructions() -> int:
        """Instructions counted so far (the sum of every dump)."""
        subprocess.run(["callgrind_control", "-d", str(proc.pid)], capture_output=True,
                       check=True)
        time.sleep(0.5)
        total = 0
        for f in glob.glob(f"{out}/callgrind.out.{proc.pid}*"):
            for line in open(f):
                if line.startswith(("summary:", "totals:")):
                    total += int(line.split()[1])
                    break
        return total

    try:
        for _ in range(600):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        get_sha = cli("SCRIPT", "LOAD", "return redis.call('GET', KEYS[1])")
        one_sha = cli("SCRIPT", "LOAD", "return 1")
        cli("SET", "k", "v")
        figures = {
            "GET": ["GET", "k"],
            "EVALSHA return 1 (no keys)": ["EVALSHA", one_sha, "0"],
            "EVALSHA return redis.call('GET', KEYS[1])": ["EVALSHA", get_sha, "1", "k"],
        }
        for name, cmd in figures.items():
            bench(cmd, 500)
            before = instructions()
            bench(cmd, a.requests)
            print(f"{name}: {(instructions() - before) / a.requests:,.0f} instructions/request",
                  flush=True)
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
