#!/usr/bin/env python3
"""elasticache-local benchmark suite (run it through bench/run.sh, which installs the real
servers and builds the release binaries first).

Sections: redis (redis-benchmark ratios), redis-memory (bytes per key), memcached (get/set
mix), memcached-tools (memaslap and memslap: ops/s and server CPU per op), memcached-memory (bytes per item), control (create → available, cold start, idle RSS), scale (1,000
clusters), profile (when an engine ratio is below 1.0). Writes bench/REPORT.md and
bench/report-ratios.png for a full run of every section; a run restricted with --only writes
bench/results/REPORT-partial.md unless --out is given.
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import time
import traceback
from types import SimpleNamespace

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from ecl_bench import control, engines, procs, report  # noqa: E402
from ecl_bench.profile import profile, worst_engine_figure  # noqa: E402

SECTIONS = ["redis", "redis-memory", "memcached", "memcached-tools", "memcached-memory",
            "control", "scale", "profile"]
# speed_reps: repetitions of the redis-benchmark and memaslap/memslap comparisons, whose single
# ratios spread by up to +-0.3 on a shared 2-core machine (a median of 5 survives two outliers);
# the memslap runs do 32 x 10,000 operations (4,000 lasted about 1.5 s).
# idle_seconds: how long the scale section watches the CPU of its idle nodes.
FULL = dict(reps=3, speed_reps=5, n=200_000, keys=1_000_000, mc_ops=20_000, scale=1000,
            cold_reps=10, create_reps=20, describe_samples=200, profile_seconds=10,
            idle_seconds=10, mc_tool_secs=5, mc_tool_n=10_000)
QUICK = dict(reps=2, speed_reps=2, n=2_000, keys=20_000, mc_ops=200, scale=20, cold_reps=2,
             create_reps=3, describe_samples=20, profile_seconds=3, idle_seconds=2,
             mc_tool_secs=1, mc_tool_n=100)


def sh(*argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30,
                              cwd=ROOT).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) / 2 ** 20
    dirty = "-dirty" if sh("git", "status", "--porcelain", "--untracked-files=no") else ""
    return {"cpus": os.cpu_count(), "cpu_model": model, "mem_gib": mem,
            "kernel": os.uname().release,
            "load_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            "commit": sh("git", "rev-parse", "--short", "HEAD") + dirty,
            "redis_version": sh("redis-server", "--version").split(" v=")[-1].split()[0],
            "memcached_version": sh("memcached", "-V").split()[-1]}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke run: tiny counts")
    ap.add_argument("--only", default=",".join(SECTIONS),
                    help=f"comma-separated sections among {','.join(SECTIONS)}")
    ap.add_argument("--out", help="report path (default: bench/REPORT.md for a run of every "
                                  "section, bench/results/REPORT-partial.md otherwise)")
    ap.add_argument("--budget", type=float, default=900,
                    help="seconds; sections that would start after this are skipped")
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/elasticache-local"))
    ap.add_argument("--load-bin", default=os.path.join(ROOT, "target/release/ecl-memcached-load"))
    ap.add_argument("--mc-standalone", metavar="BIN", nargs="?", const=os.path.join(
        ROOT, "target/release/ecl-memcached-server"), default=None,
                    help="memcached-tools: measure the standalone ecl-memcached-server (4 threads) "
                         "instead of a node created through the emulator")
    args = ap.parse_args()
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    bad = [s for s in only if s not in SECTIONS]
    if bad:
        ap.error(f"unknown section(s) {bad}; choose among {SECTIONS}")
    full_suite = set(only) == set(SECTIONS)
    out = args.out or (os.path.join(HERE, "REPORT.md") if full_suite
                       else os.path.join(HERE, "results", "REPORT-partial.md"))
    cfg = SimpleNamespace(**(QUICK if args.quick else FULL), quick=args.quick,
                          tmp=os.path.join(HERE, "results", "tmp"), load_bin=args.load_bin,
                          mc_standalone=args.mc_standalone)
    os.makedirs(cfg.tmp, exist_ok=True)
    # memcached-tools alone against the standalone server needs no emulator binary.
    needs_emulator = not (set(only) <= {"memcached-tools"} and args.mc_standalone)
    for b in ([args.bin] if needs_emulator else []) + [args.load_bin]:
        if not os.access(b, os.X_OK):
            sys.exit(f"missing {b}: run bench/run.sh (it builds the release binaries)")

    def log(msg):
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    r_bin = os.path.relpath(os.path.abspath(args.bin if needs_emulator else args.mc_standalone),
                            ROOT)
    procs.install_signal_handlers()
    t0 = time.time()
    r = {"config": vars(cfg) | {"sections": only}, "machine": machine(),
         "started": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
         "command": "bench/run.sh " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
         "engines": [], "errors": []}
    r["machine"]["binary"] = r_bin

    def section(name, fn):
        if name not in only:
            return None
        if time.time() - t0 > args.budget:
            r["errors"].append(f"{name}: skipped, the run exceeded its {args.budget:.0f} s budget")
            return None
        log(f"== {name}")
        try:
            return fn()
        except Exception as e:  # one failed section must not lose the others
            traceback.print_exc()
            r["errors"].append(f"{name}: {type(e).__name__}: {e}")
            return None
        finally:
            procs.kill_all()

    try:
        r["engines"] += section("redis", lambda: engines.redis_throughput(args.bin, cfg, log)) or []
        r["engines"] += section("memcached",
                                lambda: engines.memcached_throughput(args.bin, cfg, log)) or []
        r["engines"] += section("memcached-tools",
                                lambda: engines.memcached_tools(args.bin, cfg, log)) or []
        r["engines"] += section("redis-memory",
                                lambda: engines.redis_memory(args.bin, cfg, log)) or []
        r["engines"] += section("memcached-memory",
                                lambda: engines.memcached_memory(args.bin, cfg, log)) or []
        r["control"] = section("control", lambda: control.control_plane(args.bin, cfg, log))
        r["scale"] = section("scale", lambda: control.scale(args.bin, cfg, log))
        worst = worst_engine_figure(r["engines"])
        if "profile" in only:
            if worst:
                res = section("profile", lambda: profile(args.bin, worst, cfg, log))
                if res:
                    import statistics
                    r["profile"] = {"figure": worst["name"],
                                    "ratio": statistics.median(worst["ratios"]),
                                    "tool": res[0], "command": res[1], "text": res[2]}
            else:
                r["profile_note"] = ("No profile: every engine throughput ratio measured in this "
                                     "run is at least 1.0 (or no engine section ran).")
    finally:
        procs.kill_all()
    r["machine"]["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    r["duration"] = time.time() - t0
    os.makedirs(os.path.dirname(out), exist_ok=True)
    if r["engines"]:
        png = os.path.splitext(out)[0].replace("REPORT", "report") + "-ratios.png"
        err = report.plot(r["engines"], png)
        if err:
            r["plot_error"] = err
        else:
            r["plot"] = os.path.relpath(png, os.path.dirname(out))
    text = report.render(r)
    with open(out, "w") as f:
        f.write(text)
    with open(os.path.splitext(out)[0] + ".json", "w") as f:
        json.dump(r, f, indent=1, default=str)
    print(text)
    log(f"wrote {out} in {r['duration']:.0f} s")
    return 1 if r["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
