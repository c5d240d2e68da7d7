#!/usr/bin/env python3
"""Differential oracle (issue 11): seeded command sequences sent to our engines and to the
reference servers (Debian redis-server 7.0.15, memcached 1.6.18), replies compared byte for
byte; mismatches shrunk to minimal reproducers. See README.md in this directory.

Usage: oracle.py [--engine redis|memcached|both] [--seed N] [--sequences N] [--no-replay]
Knobs: ECL_ORACLE_SEED (first seed, default 1), ECL_ORACLE_SEQUENCES (per engine, default 400), ECL_ORACLE_SEEDS (how many seeds, default 1).
Redis focused families: ECL_ORACLE_FAMILY_SEQUENCES (per family and seed, default sequences/8),
ECL_ORACLE_FAMILY=geo|streams|scripting|functions|blocking|hll|general (only that family);
ECL_ORACLE_BIN_DIR (another build's engine binaries; default target/debug).
Exit: 0 no unexpected mismatch, 1 mismatch (new family or a committed reproducer failing),
77 when neither reference server is installed.
"""

import argparse
import os
import sys
import time
from pathlib import Path

import memcached_oracle
import redis_oracle
from common import ROOT, env_int

KNOWN = ROOT / "tests" / "differential" / "known.txt"


def known_families(engine):
    """Families whose deviations are known and left open (known.txt: `engine family reason`)."""
    out = set()
    for line in KNOWN.read_text().splitlines():
        parts = line.split(None, 2)
        if len(parts) >= 2 and not line.startswith("#") and parts[0] == engine:
            out.add(parts[1])
    return out


def show(engine, mod, rendered, m):
    if m:
        print(f"  step {m[0]}: reference {m[1][:240]!r}\n           ours      {m[2][:240]!r}")
    print("  " + rendered.replace("\n", "\n  "))


def run_engine(engine, mod, binary, seeds, count, replay):
    servers = mod.start_servers(str(binary))
    if servers is None:
        print(f"{engine}: reference server not installed, skipped")
        return None
    ref, ours = servers
    bad = 0
    try:
        if replay and mod.DEFAULT_REPRO.exists():
            n, failures = mod.replay(ref, ours, mod.DEFAULT_REPRO)
            print(f"{engine}: replayed {n} committed reproducers, {len(failures)} failing")
            for rendered, m in failures:
                show(engine, mod, rendered, m)
            bad += len(failures)
        known, log, t0 = known_families(engine), {}, time.time()
        for seed in seeds:
            found = mod.fuzz(ref, ours, seed, count, log, known)
            for fam, (small, m) in sorted(found.items()):
                bad += 1
                print(f"{engine}: NEW mismatch in {fam} (seed {seed}), shrunk reproducer:")
                rendered = mod.render(*small) if engine == "memcached" else mod.render(small)
                show(engine, mod, rendered, m)
        unstable = log.pop("unstable", None)
        total = len(seeds) * getattr(mod, "per_seed", lambda c: c)(count)
        cmds = getattr(mod, "EXECUTED", {}).get("commands", 0)
        print(f"{engine}: {total} sequences ({cmds} commands) in {time.time() - t0:.1f}s, "
              f"seeds {f'{seeds[0]}..{seeds[-1]}' if seeds else 'none'}; "
              f"mismatching sequences per family: {dict(sorted(log.items())) or 'none'}")
        if unstable:
            print(f"{engine}: mismatches that did not reproduce on fresh servers (timing, not "
                  f"failing): {dict(sorted(unstable.items()))}")
        tolerated = sorted(f for f in log if f in known)
        if tolerated:
            print(f"{engine}: known open deviations hit (known.txt): {', '.join(tolerated)}")
    finally:
        ref.stop()
        ours.stop()
    return bad


def main():
    # Replies nest as deep as Redis's Lua stack allows (7995 arrays): the RESP reader and the
    # comparison recurse once per level.
    sys.setrecursionlimit(40_000)
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", default="both", choices=["redis", "memcached", "both"])
    ap.add_argument("--seed", type=int, default=env_int("ECL_ORACLE_SEED", 1))
    ap.add_argument("--seeds", type=int, default=env_int("ECL_ORACLE_SEEDS", 1))
    ap.add_argument("--sequences", type=int, default=env_int("ECL_ORACLE_SEQUENCES", 0))
    ap.add_argument("--no-replay", action="store_true")
    a = ap.parse_args()
    seeds = list(range(a.seed, a.seed + a.seeds))
    plan = [("redis", redis_oracle, "ecl-redis-server", 400),
            ("memcached", memcached_oracle, "ecl-memcached-server", 400)]
    results = []
    for engine, mod, binname, default in plan:
        if a.engine in (engine, "both"):
            # ECL_ORACLE_BIN_DIR: another build's binaries (an older commit, a release build).
            bin_dir = os.environ.get("ECL_ORACLE_BIN_DIR") or ROOT / "target" / "debug"
            binary = Path(bin_dir) / binname
            results.append(run_engine(engine, mod, binary, seeds, a.sequences or default, not a.no_replay))
    ran = [r for r in results if r is not None]
    if not ran:
        return 77
    return 1 if any(ran) else 0


if __name__ == "__main__":
    sys.exit(main())
