"""REPORT.md and the ratio plot from the suite's results."""

import math
import os
import statistics

from .engines import PIPELINED_SCALE, REDIS_TESTS

MIB = 2 ** 20


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def mark(ok):
    return "**pass**" if ok else "**miss**"


def fmt_num(x, unit):
    if unit == "bytes":
        return f"{x:,.1f} B"
    if unit == "µs":
        return f"{x:,.2f} µs"
    return f"{x:,.0f}"


def engine_goal(f):
    """(goal text, passed) for an engine figure, judged on the median ratio."""
    m = med(f["ratios"])
    if f.get("goal"):  # the figure names its own goal (text, threshold)
        text, bound = f["goal"]
        return text, (m >= bound if f["higher_better"] else m <= bound)
    if not f["higher_better"]:
        return "≤ 1.3×", m <= 1.3
    if f.get("pipeline") == 16:
        return "≥ 1.2", m >= 1.2
    return "≥ 1.0", m >= 1.0


def geomean(xs):
    xs = [x for x in xs if x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


# The table of issue 17 ("Engine speed and memory"), each row a geometric mean of the median
# ratios of a group of figures, judged against the issue's own threshold. The per-figure goals
# in the main table are the floors a single workload must not fall under; these are the
# issue's "done when".
ISSUE_GOALS = [
    ("Redis ops/s, -P 1 (redis-benchmark, nine tests)",
     lambda f: f.get("test") in REDIS_TESTS and f.get("pipeline") == 1, ">=", 1.05),
    ("Redis ops/s, -P 16 (redis-benchmark, nine tests)",
     lambda f: f.get("test") in REDIS_TESTS and f.get("pipeline") == 16, ">=", 1.3),
    ("Redis server CPU per request, all tests (-P 1 and -P 16)",
     lambda f: "server CPU per request" in f["name"], "<=", 0.9),
    ("Redis RSS per small key", lambda f: f["name"].startswith("redis RSS growth"), "<=", 1.1),
    ("Memcached ops/s on memaslap / memslap",
     lambda f: f.get("test") == "mc-tool" and f["higher_better"], ">=", 1.2),
    ("Memcached server CPU per op on memaslap / memslap",
     lambda f: f.get("test") == "mc-tool" and not f["higher_better"], "<=", 0.9),
]


def issue_goal_rows(figs):
    """(name, geomean of median ratios, number of figures, goal text, passed) per issue row
    that has figures in this run."""
    rows = []
    for name, pick, op, bound in ISSUE_GOALS:
        group = [med(f["ratios"]) for f in figs if pick(f)]
        if not group:
            continue
        g = geomean(group)
        ok = g >= bound if op == ">=" else g <= bound
        rows.append((name, g, len(group), f"{'≥' if op == '>=' else '≤'} {bound}", ok))
    return rows


def plot(figs, path):
    """Ratio per figure, median dot with min–max whiskers, goal lines. Returns an error text
    when matplotlib is unavailable (the report then has tables only)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError as e:
        return f"no plot: {e} (bench/run.sh installs matplotlib in bench/.venv)"
    thr = [f for f in figs if f["higher_better"]]
    mem = [f for f in figs if not f["higher_better"]]
    panels = [p for p in (
        (thr, [(1.0, "goal -P 1 (≥ 1.0)", ":"), (1.2, "goal -P 16, memcached tools (≥ 1.2)",
                                                       "--")],
         "throughput ratio ours/theirs (higher is better)"),
        (mem, [(1.3, "goal memory (≤ 1.3)", "--"), (0.9, "goal CPU/op (≤ 0.9)", ":")],
         "memory, CPU per op: ours/theirs (lower is better)"))
        if p[0]]
    fig, axes = plt.subplots(1, len(panels), squeeze=False,
                             figsize=(6 * len(panels), 0.32 * max(len(thr), 6) + 1.8),
                             gridspec_kw={"width_ratios": [3, 2][:len(panels)]})
    for ax, (group, goals, title) in zip(axes[0], panels):
        names = [f["name"] for f in group][::-1]
        for y, f in enumerate(group[::-1]):
            lo, m, hi = min(f["ratios"]), med(f["ratios"]), max(f["ratios"])
            ok = engine_goal(f)[1]
            ax.errorbar([m], [y], xerr=[[m - lo], [hi - m]], fmt="o", capsize=4,
                        color="tab:green" if ok else "tab:red")
        for x, label, style in goals:
            ax.axvline(x, linestyle=style, color="grey", linewidth=1, label=label)
        ax.legend(fontsize=7, loc="lower right")
        ax.set_yticks(range(len(names)), names, fontsize=8)
        ax.set_ylim(-0.7, len(names) - 0.3)
        # Ratios are multiplicative: a log axis shows 0.5× and 2× equally far from 1.
        vals = [r for f in group for r in f["ratios"] if r > 0] + [g[0] for g in goals]
        ax.set_xscale("log", base=2)
        ax.set_xlim(min(min(vals), 0.5) / 1.15, max(max(vals), 2.0) * 1.15)
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}×"))
        ax.set_title(title, fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle("elasticache-local vs redis-server / memcached: median, whiskers min–max "
                 "(green = goal met)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return None


def render(r):
    """The Markdown text of the report for results ``r`` (see suite.py)."""
    L = []
    cfg = r["config"]
    L.append("# elasticache-local benchmark report\n")
    if cfg["quick"]:
        L.append("> **SMOKE RUN (`--quick`): tiny counts, two repetitions, taken on a loaded shared "
                 "machine. These numbers only show that the suite works; they say nothing about "
                 "performance. The full run replaces this file.**\n")
    m = r["machine"]
    L.append(f"- Date: {r['started']} UTC, duration {r['duration']:.0f} s; command: "
             f"`{r['command']}`")
    L.append(f"- Machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['mem_gib']:.0f} GiB, "
             f"kernel {m['kernel']}; load average before {m['load_before']}, after "
             f"{m['load_after']}")
    how = ("standalone" if cfg.get("mc_standalone") and set(cfg["sections"]) <= {
        "memcached-tools"} else "nodes created through the Query API")
    L.append(f"- Ours: `{m['binary']}` at commit `{m['commit']}`, {how}. Theirs: redis-server {m['redis_version']}, memcached "
             f"{m['memcached_version']} (Debian), on loopback ephemeral ports."
             + (" memaslap/memslap rows: ours is the standalone ecl-memcached-server "
                "(4 threads), not an emulator node." if cfg.get("mc_standalone") else ""))
    L.append(f"- Repetitions: {cfg.get('speed_reps', cfg['reps'])} of the redis-benchmark and "
             f"memaslap/memslap comparisons, {cfg['reps']} of the others, alternating (ours, "
             f"theirs, ours, …); requests per "
             f"redis-benchmark test {cfg['n']:,} at -P 1 and {cfg['n'] * PIPELINED_SCALE:,} at "
             f"-P 16, -c 50; memory with {cfg['keys']:,} keys; "
             f"scale with {cfg['scale']:,} clusters.")
    L.append("- Goals are judged on the median; ratios are ours/theirs per repetition, shown "
             "min / median / max.\n")
    figs = r.get("engines", [])
    if figs:
        L.append("## Engines vs the real servers\n")
        if r.get("plot"):
            L.append(f"![ratios]({r['plot']})\n")
        elif r.get("plot_error"):
            L.append(f"({r['plot_error']})\n")
        L.append("| figure | ours (median) | theirs (median) | ratio min / median / max | goal | |")
        L.append("|---|---:|---:|---:|---|---|")
        for f in figs:
            goal, ok = engine_goal(f)
            rs = f["ratios"]
            L.append(f"| {f['name']} | {fmt_num(med(f['ours']), f['unit'])} | "
                     f"{fmt_num(med(f['theirs']), f['unit'])} | {min(rs):.2f} / {med(rs):.2f} / "
                     f"{max(rs):.2f} | {goal} | {mark(ok)} |")
        rows = issue_goal_rows(figs)
        if rows:
            L.append("\n### The goals of issue 17 (geometric mean of the median ratios)\n")
            L.append("| figure (ours / theirs) | geomean | figures | goal | |")
            L.append("|---|---:|---:|---|---|")
            for name, g, n, goal, ok in rows:
                L.append(f"| {name} | {g:.2f} | {n} | {goal} | {mark(ok)} |")
        L.append("\nUnits: redis rows in requests/s (redis-benchmark), memcached mix in ops/s "
                 "(ecl-memcached-load), memaslap/memslap rows in ops/s as the tool reports them "
                 "and server CPU µs per op (utime + stime from /proc/PID/stat over the run, "
                 "divided by the tool's operation count), memory rows in bytes per key/item "
                 "(RSS: process growth from before to after the fill; used_memory: `INFO "
                 "memory` growth).\n")
    cp = r.get("control")
    if cp:
        L.append("## Control plane\n")
        L.append("| figure | min | median | max | goal | |")
        L.append("|---|---:|---:|---:|---|---|")
        for c in cp["create"]:
            if c["skipped"]:
                L.append(f"| {c['name']} | – | – | – | {'< 50 ms' if c['single_node'] else ''} | "
                         f"{c['skipped']} |")
                continue
            s = [x * 1000 for x in c["samples"]]
            goal = "< 50 ms" if c["single_node"] else "–"
            res = mark(med(s) < 50) if c["single_node"] else ""
            L.append(f"| {c['name']} (n={len(s)}) | {min(s):.1f} ms | {med(s):.1f} ms | "
                     f"{max(s):.1f} ms | {goal} | {res} |")
        s = [x * 1000 for x in cp["cold"]]
        L.append(f"| cold start: spawn → first answered GET /health (n={len(s)}) | {min(s):.1f} ms |"
                 f" {med(s):.1f} ms | {max(s):.1f} ms | < 50 ms | {mark(med(s) < 50)} |")
        s = [x / MIB for x in cp["idle_rss"]]
        L.append(f"| idle RSS, no clusters (n={len(s)}) | {min(s):.1f} MiB | {med(s):.1f} MiB | "
                 f"{max(s):.1f} MiB | < 20 MiB | {mark(med(s) < 20)} |")
        L.append("\nDescribeCacheClusters latency (p50/p99) is measured with all the scale "
                 "section's clusters present: see below.\n")
    sc = r.get("scale")
    if sc:
        n = sc["count"]
        L.append(f"## Scale: {n:,} single-node redis clusters in one process\n")
        L.append(f"AWS allows 300 clusters per region and the emulator enforces it, so the "
                 f"clusters are spread over {sc.get('regions', 4)} regions of one account (one "
                 f"process holds them all; a Describe sees its own region's "
                 f"{n // sc.get('regions', 4):,}).\n")
        L.append("| figure | value | goal | |")
        L.append("|---|---:|---|---|")
        L.append(f"| create {n:,} clusters (boto3, sequential) → all `available` | "
                 f"{sc['create_seconds']:.1f} s ({sc['create_seconds'] / n * 1000:.1f} ms each) | | |")
        L.append(f"| process RSS with {n:,} nodes (idle before: {sc['idle_rss'] / MIB:.1f} MiB) | "
                 f"{sc['rss'] / MIB:.0f} MiB ({(sc['rss'] - sc['idle_rss']) / n / 1024:.0f} KiB "
                 f"per node) | < 1 GiB | {mark(sc['rss'] < 2**30)} |")
        if "idle_cpu" in sc:
            L.append(f"| CPU with {n:,} idle nodes (no client, {sc.get('idle_seconds', 10)} s) | "
                     f"{sc['idle_cpu'] * 100:.2f} % of a core | < 1 % | "
                     f"{mark(sc['idle_cpu'] < 0.01)} |")
        L.append(f"| threads | {sc['threads']} | | |")
        L.append(f"| open file descriptors | {sc['fds']} | | |")
        for key, label in (("describe_one", "DescribeCacheClusters, one id"),
                           ("describe_page", f"DescribeCacheClusters, page of {sc['page_size']}")):
            s = [x * 1000 for x in sc[key]]
            L.append(f"| {label}, with {n:,} present (n={len(s)}) | p50 "
                     f"{pct(s, 50):.2f} ms, p99 {pct(s, 99):.2f} ms | | |")
        a, c = sc["ratio_alone"], sc["ratio_crowded"]
        rel = med(c) / med(a)
        L.append(f"| GET ratio ours/redis-server (-P 1), node alone | {min(a):.2f} / {med(a):.2f} "
                 f"/ {max(a):.2f} | | |")
        L.append(f"| GET ratio ours/redis-server (-P 1), with {n - 1:,} neighbours | "
                 f"{min(c):.2f} / {med(c):.2f} / {max(c):.2f} | | |")
        L.append(f"| crowded / alone | {rel:.2f} | ≥ 0.95 | {mark(rel >= 0.95)} |\n")
    pr = r.get("profile")
    if pr:
        L.append("## Profile of the weakest engine workload\n")
        L.append(f"Workload: **{pr['figure']}** (median ratio {pr['ratio']:.2f}), sampled with "
                 f"{pr['tool']}; `{pr['command']}`, top entries:\n")
        L.append("```\n" + pr["text"] + "\n```\n")
    elif r.get("profile_note"):
        L.append(f"## Profile\n\n{r['profile_note']}\n")
    if r.get("errors"):
        L.append("## Sections that failed\n")
        for e in r["errors"]:
            L.append(f"- {e}")
        L.append("")
    L.append("## Method\n")
    L.append("- redis-benchmark runs all nine tests in one invocation per (server, pipeline, "
             "repetition) after FLUSHALL, so GET reads what SET wrote and LPOP pops what LPUSH "
             "pushed; ours and redis-server alternate.")
    L.append("- Our nodes are created with boto3 (CreateCacheCluster, redis 7.0 on "
             "cache.m6g.large, one runtime thread per node like redis-server; memcached on "
             "cache.m6g.xlarge, whose 4 vCPUs make `stats` report 4 threads like `memcached -t 4`, "
             "served by the engine's worker threads, one per host core); the benchmark then "
             "connects to the endpoint the API "
             "reports. Memory figures use a fresh process per repetition, since freed memory is "
             "not returned to the OS; redis keys are `key:NNNNNNN` (11 bytes) with 10-byte "
             "values loaded with `redis-cli --pipe`, memcached items the same size loaded by "
             "`ecl-memcached-load fill`.")
    L.append("- memaslap (`memcaslap`) and memslap (`memcslap`) from Debian's libmemcached-tools "
             "run against our memcached node and `memcached -t 4`, alternating (the first "
             "server changes every repetition): memaslap for a fixed time with 32 connections "
             "on 2 threads, 1 KiB values, get/set 9:1, in text, binary (`-B`) and 10-key "
             "multi-get (`-d 10`); memslap `--test=set` and `--test=get` with 32 threads.")
    L.append("- Control-plane latencies are timed with a minimal keep-alive query-protocol client "
             "(unsigned form POST), polling Describe every 0.5 ms, so they are the emulator's, "
             "not botocore's.")
    L.append("")
    L.append(hand_kept())
    return "\n".join(L).rstrip() + "\n"


HAND_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "hand")


def hand_kept():
    """The hand-kept sections (bench/hand/*.md, in name order): measurements taken by other
    programs (bench/surface.py, mctools.py runs) that a suite run must carry over, not erase."""
    parts = ["# Hand-kept sections\n",
             "Kept in `bench/hand/*.md` and appended to every generated report; each says "
             "when and how it was measured.\n"]
    for name in sorted(os.listdir(HAND_DIR)) if os.path.isdir(HAND_DIR) else []:
        if name.endswith(".md"):
            with open(os.path.join(HAND_DIR, name)) as f:
                parts.append(f.read().rstrip() + "\n")
    return "\n".join(parts)


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(round(q / 100 * (len(xs) - 1)))))]
