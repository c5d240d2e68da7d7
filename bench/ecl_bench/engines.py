"""Engine figures: our nodes (created through the emulator API) against Debian's redis-server
and memcached, in alternating repetitions on the same machine.

Each repetition yields one ours/theirs ratio; the report shows min–median–max of the ratios.
"""
import os
import re
import time

from . import mctools, procs
from .api import Emulator

REDIS_TESTS = ["SET", "GET", "INCR", "LPUSH", "LPOP", "SADD", "HSET", "ZADD", "MSET"]


def start_redis_server():
    port = procs.free_port()
    p = procs.spawn(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                     "--appendonly", "no", "--daemonize", "no", "--protected-mode", "no"])
    procs.wait_port("127.0.0.1", port)
    return p, ("127.0.0.1", port)


start_memcached = mctools.start_memcached


def redis_cli(addr, *args, timeout=30):
    return procs.run(["redis-cli", "-h", addr[0], "-p", str(addr[1]), *args], timeout=timeout)


def redis_benchmark(addr, tests, n, pipeline, clients=50):
    """One redis-benchmark invocation over ``tests`` in order (GET follows SET, LPOP follows
    LPUSH, so each reads what the previous wrote); returns {TEST: requests/s}."""
    redis_cli(addr, "FLUSHALL")
    out = procs.run(["redis-benchmark", "-h", addr[0], "-p", str(addr[1]), "-c", str(clients),
                     "-n", str(n), "-P", str(pipeline), "-t", ",".join(t.lower() for t in tests),
                     "--csv"], timeout=600)
    rps = {}
    for line in out.splitlines():
        cols = [c.strip('"') for c in line.split('","')]
        if len(cols) >= 2 and cols[0] != "test":
            name = cols[0].split()[0].upper()
            try:
                rps[name] = float(cols[1].strip('"'))
            except ValueError:
                pass
    return rps


def _fig(name, unit, ours, theirs, higher_better=True):
    return {"name": name, "unit": unit, "ours": ours, "theirs": theirs,
            "ratios": [o / t if t else float("nan") for o, t in zip(ours, theirs)],
            "higher_better": higher_better}


# -P 16 runs this many times the requests of -P 1: at over a million requests per second,
# the -P 1 count lasts about 0.15 s per test, where the 50 clients' connection set-up and the
# machine's noise moved single ratios between 0.55 and 2.28 within one run.
PIPELINED_SCALE = 10


def _cpu_per_request(pid, addr, n, pipe):
    """One redis-benchmark invocation, with the server process's CPU µs per request over it
    (utime + stime from /proc, all its threads; every test sends ``n`` requests)."""
    cpu0 = mctools.cpu_seconds(pid)
    rps = redis_benchmark(addr, REDIS_TESTS, n, pipe)
    cpu1 = mctools.cpu_seconds(pid)
    return rps, (cpu1 - cpu0) * 1e6 / (n * len(REDIS_TESTS))


def redis_throughput(binary, cfg, log):
    """redis-benchmark over REDIS_TESTS at -P 1 and -P 16, alternating ours/theirs, with each
    server's CPU per request over all nine tests."""
    emu = Emulator(binary)
    theirs_p = None
    try:
        ours = emu.create_node("bench-redis", "redis", "cache.m6g.large", version="7.0")
        theirs_p, theirs = start_redis_server()
        res, cpu = {}, {}
        for pipe in (1, 16):
            n = cfg.n * (PIPELINED_SCALE if pipe > 1 else 1)
            for rep in range(cfg.speed_reps):
                o, o_cpu = _cpu_per_request(emu.pid, ours, n, pipe)
                t, t_cpu = _cpu_per_request(theirs_p.pid, theirs, n, pipe)
                log(f"redis -P {pipe} rep {rep + 1}: " + " ".join(
                    f"{k}={o.get(k, 0) / max(t.get(k, 1), 1):.2f}" for k in REDIS_TESTS)
                    + f" cpu/req={o_cpu / max(t_cpu, 1e-9):.2f}")
                for k in REDIS_TESTS:
                    res.setdefault((k, pipe), ([], []))
                    res[(k, pipe)][0].append(o.get(k, 0.0))
                    res[(k, pipe)][1].append(t.get(k, 0.0))
                cpu.setdefault(pipe, ([], []))
                cpu[pipe][0].append(o_cpu)
                cpu[pipe][1].append(t_cpu)
        figs = [dict(_fig(f"{k} -P {p}", "req/s", o, t), test=k, pipeline=p)
                for (k, p), (o, t) in res.items()]
        figs += [dict(_fig(f"redis-benchmark -P {p}, all nine tests: server CPU per request",
                           "µs", o, t, higher_better=False), goal=("≤ 0.9×", 0.9), pipeline=p)
                 for p, (o, t) in cpu.items()]
        return figs
    finally:
        procs.stop(theirs_p)
        emu.stop()


def _resp_file(cfg, keys):
    """RESP for ``keys`` SETs of small keys (11-byte key, 10-byte value), cached on disk."""
    path = os.path.join(cfg.tmp, f"set-{keys}.resp")
    if not os.path.exists(path):
        with open(path + ".part", "wb") as f:
            for start in range(0, keys, 10000):
                f.write(b"".join(
                    b"*3\r\n$3\r\nSET\r\n$11\r\nkey:%07d\r\n$10\r\nvalue:%04d\r\n" % (i, i % 10000)
                    for i in range(start, min(keys, start + 10000))))
        os.replace(path + ".part", path)
    return path


def _used_memory(addr):
    m = re.search(r"used_memory:(\d+)", redis_cli(addr, "INFO", "memory"))
    return int(m.group(1)) if m else 0


def _fill_redis(addr, path, keys):
    with open(path, "rb") as f:
        procs.run(["redis-cli", "-h", addr[0], "-p", str(addr[1]), "--pipe"], timeout=300,
                  stdin=f)
    n = int(redis_cli(addr, "DBSIZE").strip() or 0)
    if n != keys:
        raise RuntimeError(f"expected {keys} keys after fill, found {n}")


def _measure_fill(pid, addr, path, keys):
    time.sleep(0.3)
    rss0, used0 = procs.rss_bytes(pid), _used_memory(addr)
    _fill_redis(addr, path, keys)
    time.sleep(0.5)
    return ((procs.rss_bytes(pid) - rss0) / keys, (_used_memory(addr) - used0) / keys)


def redis_memory(binary, cfg, log):
    """Bytes per key for cfg.keys small keys: INFO used_memory growth and process RSS growth.
    A fresh process per repetition, since freed memory is not handed back to the OS."""
    path = _resp_file(cfg, cfg.keys)
    o_rss, o_used, t_rss, t_used = [], [], [], []
    for rep in range(cfg.reps):
        p, addr = start_redis_server()
        try:
            r, u = _measure_fill(p.pid, addr, path, cfg.keys)
            t_rss.append(r)
            t_used.append(u)
        finally:
            procs.stop(p)
        emu = Emulator(binary)
        try:
            addr = emu.create_node("bench-mem", "redis", "cache.m6g.large", version="7.0")
            r, u = _measure_fill(emu.pid, addr, path, cfg.keys)
            o_rss.append(r)
            o_used.append(u)
        finally:
            emu.stop()
        log(f"redis memory rep {rep + 1}: used_memory/key ours {o_used[-1]:.1f} theirs "
            f"{t_used[-1]:.1f}; RSS/key ours {o_rss[-1]:.1f} theirs {t_rss[-1]:.1f}")
    return [_fig(f"redis used_memory per key ({cfg.keys:,} keys)", "bytes", o_used, t_used, False),
            _fig(f"redis RSS growth per key ({cfg.keys:,} keys)", "bytes", o_rss, t_rss, False)]


def _load(cfg, *args, timeout=600):
    return procs.run([cfg.load_bin, *args], timeout=timeout)


def memcached_throughput(binary, cfg, log):
    """The load tool's fixed mix (90% get / 10% set, 10,000 keys, 100-byte values, 50
    connections), alternating ours/theirs."""
    emu = Emulator(binary)
    theirs_p = None
    try:
        ours = emu.create_node("bench-mc", "memcached", "cache.m6g.xlarge")  # 4 threads, as -t 4
        theirs_p, theirs = start_memcached()
        for addr in (ours, theirs):
            _load(cfg, "fill", "--addr", f"{addr[0]}:{addr[1]}", "--items", "10000",
                  "--value-size", "100")
        o, t = [], []
        for rep in range(cfg.reps):
            for addr, acc in ((ours, o), (theirs, t)):
                out = _load(cfg, "mix", "--addr", f"{addr[0]}:{addr[1]}", "--conns", "50",
                            "--ops", str(cfg.mc_ops), "--get-ratio", "0.9", "--keys", "10000",
                            "--value-size", "100")
                acc.append(float(out.split()[1]))
            log(f"memcached mix rep {rep + 1}: ours {o[-1]:.0f} theirs {t[-1]:.0f} ops/s")
        return [dict(_fig("memcached get/set 90/10 mix", "ops/s", o, t), test="mix")]
    finally:
        procs.stop(theirs_p)
        emu.stop()


def memcached_memory(binary, cfg, log):
    """RSS growth per item for cfg.keys items of 10 bytes; a fresh process per repetition."""
    o, t = [], []
    for rep in range(cfg.reps):
        for kind in ("theirs", "ours"):
            emu = p = None
            try:
                if kind == "theirs":
                    p, addr = start_memcached()
                    pid = p.pid
                else:
                    emu = Emulator(binary)
                    addr = emu.create_node("bench-mcmem", "memcached", "cache.m6g.xlarge")
                    pid = emu.pid
                time.sleep(0.3)
                rss0 = procs.rss_bytes(pid)
                _load(cfg, "fill", "--addr", f"{addr[0]}:{addr[1]}", "--items", str(cfg.keys),
                      "--value-size", "10")
                time.sleep(0.5)
                (o if kind == "ours" else t).append((procs.rss_bytes(pid) - rss0) / cfg.keys)
            finally:
                procs.stop(p)
                if emu:
                    emu.stop()
        log(f"memcached memory rep {rep + 1}: RSS/item ours {o[-1]:.1f} theirs {t[-1]:.1f}")
    return [_fig(f"memcached RSS growth per item ({cfg.keys:,} items)", "bytes", o, t, False)]


def memcached_tools(binary, cfg, log):
    """The standard tools (memaslap, memslap; see mctools) against our node and Debian's
    memcached -t 4, alternating: per workload an ops/s figure (goal ≥ 1.2×) and a server CPU
    µs per op figure (goal ≤ 0.9×). Our side is a node created through the emulator, or with
    cfg.mc_standalone the release ecl-memcached-server on 4 threads."""
    emu = ours_p = theirs_p = None
    try:
        if cfg.mc_standalone:
            ours_p, ours = mctools.start_standalone(cfg.mc_standalone)
            ours_pid = ours_p.pid
        else:
            emu = Emulator(binary)
            ours = emu.create_node("bench-mctools", "memcached", "cache.m6g.xlarge")
            ours_pid = emu.pid
        theirs_p, theirs = start_memcached()
        res = mctools.compare((ours, ours_pid), (theirs, theirs_p.pid), cfg.speed_reps,
                              cfg.mc_tool_secs, cfg.mc_tool_n, log)
        figs = []
        for name, r in res.items():
            spec = dict(test="mc-tool", tool=r["tool"], args=r["args"])
            f = _fig(name, "ops/s", [o[0] for o in r["ours"]], [t[0] for t in r["theirs"]])
            figs.append(dict(f, goal=("≥ 1.2", 1.2), **spec))
            f = _fig(f"{name}: server CPU per op", "µs", [o[1] for o in r["ours"]],
                     [t[1] for t in r["theirs"]], higher_better=False)
            figs.append(dict(f, goal=("≤ 0.9×", 0.9), **spec))
        return figs
    finally:
        procs.stop(ours_p)
        procs.stop(theirs_p)
        if emu:
            emu.stop()
