"""The summary both held-out suite runners write (tests/clients/redis_tcl/run.py and
tests/clients/memcached_t/run.py): one table row per unit or file, then every test that passes
on the reference server and not on ours, then the expected differences with their reasons."""

from pathlib import Path


def write_summary(out: Path, column: str, reference: str, rows, unexpected, expected):
    """Writes `out`/summary.md. `rows`: (name, reference ok, reference ran, ours ok, ours ran,
    lost) per unit or file; `unexpected`: (name, test); `expected`: (name, test, reason)."""
    lines = [f"| {column} | {reference} ok | ours ok | pass only on {reference} |",
             "|---|---|---|---|"]
    lines += [f"| {n} | {a}/{b} | {c}/{d} | {e} |" for n, a, b, c, d, e in rows]
    lines += ["", f"Pass on {reference}, not on ours:"] + [f"- {n}: {t}" for n, t in unexpected]
    lines += ["", "Expected differences:"]
    lines += [f"- {n}: {t} ({why})" for n, t, why in expected]
    (out / "summary.md").write_text("\n".join(lines) + "\n")
