"""Memcached with the standard load tools: libmemcached-tools' memaslap (`memcaslap` on Debian)
and memslap (`memcslap`), against our node and Debian's `memcached -t 4`, alternating.

Each workload runs once per server per repetition; the figures are ops/s (as the tool
reports it) and server CPU µs per operation (utime + stime of the server process, read from
/proc/PID/stat just before and after the run, divided by the operations the tool counted).

Run alone for quick comparisons while tuning: one or more builds of ours (standalone server
or a node of an emulator binary), each against the same memcached, interleaved:

    python3 bench/ecl_bench/mctools.py --server target/release/ecl-memcached-server --reps 3
    .venv/bin/python bench/ecl_bench/mctools.py --emulator /tmp/before --emulator \
        target/release/elasticache-local --reps 3 --n 4000
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


def compare_builds(ours, theirs, reps, secs, n, log, only=None):
    """Several servers of ours (``[(label, addr, pid)]``, e.g. the build before and after a
    change) and memcached (``(addr, pid)``) in one run: per workload and repetition every
    server once, the order reversed every other repetition. Returns {workload: {label or
    "theirs": [(ops/s, µs/op)]}}."""
    servers = ours + [("theirs", *theirs)]
    res = {}
    for rep in range(reps):
        for name, tool, args in WORKLOADS:
            if only and not any(o in name for o in only):
                continue
            r = res.setdefault(name, {label: [] for label, _, _ in servers})
            for label, addr, pid in (servers if rep % 2 == 0 else servers[::-1]):
                r[label].append(run_tool(tool, args, addr, pid, secs, n))
            t = r["theirs"][-1]
            log(f"{name} rep {rep + 1}: " + "; ".join(
                f"{label} x{r[label][-1][0] / t[0]:.2f} ops, x{r[label][-1][1] / t[1]:.2f} cpu"
                for label, _, _ in ours))
    return res


def _start_ours(kind, binary):
    """(addr, pid, cleanup) of our node: the standalone server, or a node created through
    the emulator's API (cache.m6g.xlarge: 4 vCPUs, 4 threads like memcached -t 4)."""
    if kind == "server":
        p, addr = start_standalone(binary)
        return addr, p.pid, None
    try:
        from .api import Emulator
    except ImportError:  # run as a script: api.py imports its package relatively
        import sys
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        from ecl_bench.api import Emulator  # type: ignore
    emu = Emulator(binary)
    addr = emu.create_node("bench-mctools", "memcached", "cache.m6g.xlarge")
    return tuple(addr), emu.pid, emu


def _main():
    import argparse
    import statistics
    import sys
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", action="append", default=[],
                    help="our standalone server binary (repeatable)")
    ap.add_argument("--emulator", action="append", default=[],
                    help="an elasticache-local binary: measure a node it creates (repeatable; "
                         "needs boto3)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--secs", type=int, default=4)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--only", default="", help="comma-separated substrings of workload names")
    a = ap.parse_args()
    targets = [("server", b) for b in a.server] + [("emulator", b) for b in a.emulator]
    if not targets:
        targets = [("server", "target/release/ecl-memcached-server")]
    procs.install_signal_handlers()
    log = lambda m: print(f"[{time.strftime('%H:%M:%S')}] {m}", file=sys.stderr, flush=True)
    emus = []
    try:
        ours = []
        for i, (kind, binary) in enumerate(targets):
            addr, pid, emu = _start_ours(kind, binary)
            emus.append(emu)
            ours.append((f"S{i}", addr, pid))
            print(f"S{i}: {kind} {binary}")
        tp, taddr = start_memcached()
        print(f"load average before: {' '.join(open('/proc/loadavg').read().split()[:3])}")
        res = compare_builds(ours, (taddr, tp.pid), a.reps, a.secs, a.n, log,
                             [s for s in a.only.split(",") if s])
        print(f"load average after: {' '.join(open('/proc/loadavg').read().split()[:3])}")
    finally:
        for emu in emus:
            if emu is not None:
                emu.stop()
        procs.kill_all()
    print("medians over repetitions; ratios are ours/theirs within each repetition")
    print(f"{'workload':36} {'server':6} {'ops/s':>9} {'µs/op':>6} {'ops ratio':>9} {'cpu ratio':>9}")
    for name, r in res.items():
        t = r["theirs"]
        for label in [o[0] for o in ours] + ["theirs"]:
            v = r[label]
            ops = statistics.median(x[0] for x in v)
            cpu = statistics.median(x[1] for x in v)
            ratios = ""
            if label != "theirs":
                ratios = (f"{statistics.median(o[0] / x[0] for o, x in zip(v, t)):9.2f} "
                          f"{statistics.median(o[1] / x[1] for o, x in zip(v, t)):9.2f}")
            print(f"{name[:36]:36} {label:6} {ops:9,.0f} {cpu:6.2f} {ratios}")


if __name__ == "__main__":
    _main()
