"""Profile of the hottest engine path when an engine ratio is below 1.0.

`perf record` with the cpu-clock software event (hardware counters are often unavailable in
containers and VMs) samples the emulator while the weakest workload runs; the report keeps the
top entries of `perf report --stdio`. Where perf cannot sample, valgrind's callgrind runs the
emulator through a short workload instead.
"""
import os
import re
import subprocess
import time

from . import mctools, procs
from .api import Emulator
from .engines import redis_benchmark, REDIS_TESTS


def _perf_works():
    try:
        procs.run(["perf", "record", "-e", "cpu-clock", "-o", "/dev/null", "--", "true"],
                  timeout=30)
        return True
    except (RuntimeError, FileNotFoundError):
        return False


def _workload(fig, addr, cfg, n):
    if fig.get("test") == "mc-tool":
        # A few seconds of the tool (memslap: enough operations per thread for that).
        procs.run(mctools.argv_for(fig["tool"], fig["args"], addr, max(1, n // 40_000),
                                   max(100, n // 100)), timeout=600)
    elif fig.get("test") == "mix":
        procs.run([cfg.load_bin, "mix", "--addr", f"{addr[0]}:{addr[1]}", "--conns", "50",
                   "--ops", str(max(100, n // 50)), "--get-ratio", "0.9", "--keys", "10000",
                   "--value-size", "100"], timeout=600)
    else:
        redis_benchmark(addr, [fig["test"]], n, fig["pipeline"])


def _node(emu, fig):
    if fig.get("test") in ("mix", "mc-tool"):
        return emu.create_node("prof", "memcached", "cache.m6g.xlarge")
    return emu.create_node("prof", "redis", "cache.m6g.large", version="7.0")


def profile(binary, fig, cfg, log, top=30):
    """Returns (tool, command line, text) for the workload of ``fig``."""
    data = os.path.join(cfg.tmp, "perf.data")
    if _perf_works():
        emu = Emulator(binary)
        rec = None
        try:
            addr = _node(emu, fig)
            rec = procs.spawn(["perf", "record", "-e", "cpu-clock", "-F", "999", "-g",
                               "-p", str(emu.pid), "-o", data])
            time.sleep(0.5)
            # Repeat the workload for a few seconds so the profile holds enough samples.
            deadline = time.monotonic() + cfg.profile_seconds
            for _ in range(200):
                _workload(fig, addr, cfg, cfg.n)
                if time.monotonic() > deadline:
                    break
        finally:
            if rec is not None:
                rec.send_signal(2)  # SIGINT: perf writes its data and exits
                try:
                    rec.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    pass
                procs.stop(rec)
            emu.stop()
        base = ["perf", "report", "--stdio", "--no-children", "-g", "none", "-i", data]

        def rows(*extra, limit):
            text = procs.run(base + list(extra), timeout=300)
            # Drop comments and the IPC columns (empty without hardware counters).
            return [re.sub(r"\s+-\s+-\s*$", "", l) for l in text.splitlines()
                    if l.strip() and not l.startswith("#")][:limit], text

        by_dso, text = rows("--sort", "dso", limit=6)
        samples = next((l.strip("# ") for l in text.splitlines() if l.startswith("# Samples")),
                       "")
        overall, _ = rows("--sort", "symbol", "--percent-limit", "0.5", limit=top // 2)
        ours, _ = rows("--sort", "symbol", "--dsos", os.path.basename(binary),
                       "--percent-limit", "0.2", limit=top)
        text = "\n".join(["# by binary", *by_dso, "", "# hottest symbols, all code",
                          *overall, "", f"# hottest symbols in {os.path.basename(binary)}",
                          *ours])
        cmd = " ".join(base[:-1] + [os.path.relpath(data)]) + " --sort dso|symbol [--dsos …]"
        return f"perf (cpu-clock, 999 Hz; {samples})", cmd, text
    out = os.path.join(cfg.tmp, "callgrind.out")
    emu_proc = None
    try:
        # The emulator under callgrind is ~50x slower: a short workload suffices.
        emu = Emulator.__new__(Emulator)
        emu.port = procs.free_port()
        emu.t_spawn = time.perf_counter()
        emu.proc = procs.spawn(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                                binary, "--listen", f"127.0.0.1:{emu.port}", "--loopback-base",
                                "127.77.0.1", "--log", "warn"])
        emu_proc = emu.proc
        emu.pid = emu.proc.pid
        emu.cold_start = emu._wait_health(timeout=120)
        from .api import Query
        emu.q, emu._boto = Query(emu.port), None
        addr = _node(emu, fig)
        _workload(fig, addr, cfg, 5000)
    finally:
        procs.stop(emu_proc, grace=60)
    text = procs.run(["callgrind_annotate", out], timeout=300)
    return "valgrind callgrind (5,000 requests)", f"callgrind_annotate {out}", \
        "\n".join(text.splitlines()[:top + 20])


def worst_engine_figure(figs):
    """The throughput figure with the lowest median ratio, if it is below 1.0."""
    import statistics
    cands = [f for f in figs if f.get("higher_better") and f.get("ratios")]
    if not cands:
        return None
    worst = min(cands, key=lambda f: statistics.median(f["ratios"]))
    return worst if statistics.median(worst["ratios"]) < 1.0 else None
