#!/usr/bin/env python3
"""A/B of emulator builds on redis-benchmark's nine tests, in one run with redis-server.

Starts one release emulator per `name=binary` (a node created through the Query API on each),
Debian's redis-server, and runs the suite's redis-benchmark tests (`-c 50`, no `-r`, as
bench/run.sh does) on each, alternating the order every repetition; prints per-test ratios to
redis-server (medians) and their geomean. `AB_THREADS=name=N,...` starts a build with N tokio
worker threads (TOKIO_WORKER_THREADS). Used for the issue-17 notes in bench/hand/.

    python3 bench/redis_ab.py old=/tmp/emu-old,new=target/release/elasticache-local 200000 16,1 3
"""
import os, sys, statistics
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ecl_bench.api import Emulator
from ecl_bench import engines, procs
bins = dict(a.split('=',1) for a in sys.argv[1].split(','))
n = int(sys.argv[2]); pipes = [int(x) for x in sys.argv[3].split(',')]; reps = int(sys.argv[4]) if len(sys.argv) > 4 else 3
threads = os.environ.get("AB_THREADS")  # name=N,... per binary
tmap = dict(a.split('=') for a in threads.split(',')) if threads else {}
tests = engines.REDIS_TESTS
emus = {}
for name, b in bins.items():
    if name in tmap: os.environ["TOKIO_WORKER_THREADS"] = tmap[name]
    else: os.environ.pop("TOKIO_WORKER_THREADS", None)
    e = Emulator(b)
    emus[name] = (e, e.create_node(f"ab-{name}", "redis", "cache.m6g.large", version="7.0"))
os.environ.pop("TOKIO_WORKER_THREADS", None)
tp, taddr = engines.start_redis_server()
res = {}
try:
    for pipe in pipes:
        for rep in range(reps):
            order = [("redis", taddr)] + [(k, v[1]) for k, v in emus.items()]
            if rep % 2: order.reverse()
            for name, addr in order:
                r = engines.redis_benchmark(addr, tests, n, pipe)
                for k in tests:
                    res.setdefault((pipe, k, name), []).append(r.get(k, 0))
    for pipe in pipes:
        for name in bins:
            ratios = [statistics.median(res[(pipe, k, name)]) / max(statistics.median(res[(pipe, k, "redis")]), 1) for k in tests]
            print(f"-P {pipe} {name}: geomean {statistics.geometric_mean(ratios):.2f}  " + " ".join(f"{k}={r:.2f}" for k, r in zip(tests, ratios)), flush=True)
finally:
    procs.stop(tp)
    for e, _ in emus.values(): e.stop()
