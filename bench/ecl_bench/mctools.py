"""Memcached with the standard load tools: libmemcached-tools' memaslap (`memcaslap` on Debian)
and memslap (`memcslap`), against our node and Debian's `memcached -t 4`, alternating.

Each workload runs once per server per repetition; the figures are ops/s (as the tool
reports it) and server CPU µs per operation (utime + stime of the server process, read from
/proc/PID/stat just before and after the run, divided by the operations the tool counted).

Run alone for quick comparisons while tuning (no emulator, our standalone server):

    python3 bench/ecl_bench/mctools.py --server target/release/ecl-memcached-server --reps 3
"""
import os
import re
import time

try:
    from . import procs
except ImportError:  # run as a script
    import procs  # type: ignore

CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

# (name, tool, arguments after the server address). memaslap: 32 connections on 2 threads,
# 90% get / 10% set of 1 KiB values, for a fixed time; memslap: 32 threads of 1,000 ops each.
# ``{secs}`` and ``{n}`` are filled from the configuration.
WORKLOADS = [
    ("memaslap text get/set 9:1, 1 KiB", "memcaslap",
     ["-t", "{secs}s", "-c", "32", "-T", "2", "-X", "1024"]),
    ("memaslap binary get/set 9:1, 1 KiB", "memcaslap",
     ["-t", "{secs}s", "-c", "32", "-T", "2", "-X", "1024", "-B"]),
    ("memaslap 10-key multi-get, 1 KiB", "memcaslap",
     ["-t", "{secs}s", "-c", "32", "-T", "2", "-X", "1024", "-d", "10"]),
    ("memslap set", "memcslap", ["--concurrency=32", "--execute-number={n}", "--test=set"]),
    ("memslap get", "memcslap", ["--concurrency=32", "--execute-number={n}", "--test=get"]),
]


def cpu_seconds(pid):
    """utime + stime of ``pid`` (all its threads) in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


def argv_for(tool, args, addr, secs, n):
    server = f"{addr[0]}:{addr[1]}"
    head = [tool, "-s", server] if tool == "memcaslap" else [tool, f"--servers={server}"]
    return head + [a.format(secs=secs, n=n) for a in args]


def parse_ops(tool, out):
    """(operations, ops/s) from a tool's output."""
    if tool == "memcaslap":
        m = re.search(r"Run time: ([\d.]+)s Ops: (\d+) TPS: (\d+)", out)
        if not m:
            raise RuntimeError(f"memcaslap printed no summary: {out[-300:]!r}")
        return int(m.group(2)), float(m.group(3))
    m = re.search(r"Time to (?:get|set)\s+(\d+) keys by\s+\d+ threads:\s+([\d.]+) seconds", out)
    if not m:
        raise RuntimeError(f"memcslap printed no timing: {out[-300:]!r}")
    ops, secs = int(m.group(1)), float(m.group(2))
    return ops, ops / max(secs, 1e-6)


def run_tool(tool, args, addr, pid, secs, n):
    """One tool run against ``addr`` served by process ``pid``: (ops/s, CPU µs per op)."""
    argv = argv_for(tool, args, addr, secs, n)
    cpu0 = cpu_seconds(pid)
    out = procs.run(argv, timeout=int(secs) * 4 + 120)
    cpu1 = cpu_seconds(pid)
    ops, rate = parse_ops(tool, out)
    return rate, (cpu1 - cpu0) * 1e6 / max(ops, 1)


def start_memcached():
    port = procs.free_port()
    # Debian's defaults (-t 4) with a memory budget larger than any test's data.
    p = procs.spawn(["memcached", "-u", "nobody", "-l", "127.0.0.1", "-p", str(port), "-U", "0",
                     "-t", "4", "-m", "1024", "-c", "4096"])
    procs.wait_port("127.0.0.1", port)
    return p, ("127.0.0.1", port)


def start_standalone(server_bin):
    """Our engine alone (ecl-memcached-server), 4 worker threads like `memcached -t 4`."""
    port = procs.free_port()
    p = procs.spawn([server_bin, "--listen", "127.0.0.1", "--port", str(port), "--threads", "4",
                     "--memory", "1024"])
    procs.wait_port("127.0.0.1", port)
    return p, ("127.0.0.1", port)


def compare(ours, theirs, reps, secs, n, log, only=None):
    """``ours``/``theirs``: (addr, pid). Returns {workload: {"ours": [(ops/s, µs/op)],
    "theirs": [...]}} over ``reps`` alternating repetitions."""
    res = {}
    for rep in range(reps):
        for name, tool, args in WORKLOADS:
            if only and not any(o in name for o in only):
                continue
            r = res.setdefault(name, {"tool": tool, "args": args, "ours": [], "theirs": []})
            # Alternate which server goes first, so neither always meets a warmer machine.
            order = [("ours", ours), ("theirs", theirs)]
            if rep % 2:
                order.reverse()
            for side, (addr, pid) in order:
                r[side].append(run_tool(tool, args, addr, pid, secs, n))
            (o, oc), (t, tc) = r["ours"][-1], r["theirs"][-1]
            log(f"{name} rep {rep + 1}: ops/s ours {o:,.0f} theirs {t:,.0f} "
                f"(x{o / t:.2f}); CPU us/op ours {oc:.2f} theirs {tc:.2f} (x{oc / tc:.2f})")
    return res


def _main():
    import argparse
    import statistics
    import sys
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", default="target/release/ecl-memcached-server")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--secs", type=int, default=4)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--only", default="", help="comma-separated substrings of workload names")
    a = ap.parse_args()
    procs.install_signal_handlers()
    log = lambda m: print(f"[{time.strftime('%H:%M:%S')}] {m}", file=sys.stderr, flush=True)
    try:
        op, oaddr = start_standalone(a.server)
        tp, taddr = start_memcached()
        res = compare((oaddr, op.pid), (taddr, tp.pid), a.reps, a.secs, a.n, log,
                      [s for s in a.only.split(",") if s])
    finally:
        procs.kill_all()
    print(f"{'workload':40} {'ops ratio':>9} {'cpu/op ours':>11} {'theirs':>7} {'cpu ratio':>9}")
    for name, r in res.items():
        ratio = statistics.median(o[0] / t[0] for o, t in zip(r["ours"], r["theirs"]))
        oc = statistics.median(o[1] for o in r["ours"])
        tc = statistics.median(t[1] for t in r["theirs"])
        cr = statistics.median(o[1] / t[1] for o, t in zip(r["ours"], r["theirs"]))
        print(f"{name:40} {ratio:9.2f} {oc:11.2f} {tc:7.2f} {cr:9.2f}")


if __name__ == "__main__":
    _main()
