#!/usr/bin/env python3
"""Compatibility comparison: redis-py's own test-suite against Debian's redis-server and
against our engine (ecl-redis-server), in the same run.

Steps: download the pinned redis-py source distribution from PyPI (`pip download
--no-binary :all: --no-deps`), make sure Debian's redis-server is installed (comparison only;
never used as the engine), build our dev server, start both on ephemeral loopback ports, run
the selected test files against each with `--redis-url`, parse the JUnit XML and write a
summary (counts per file side by side, and every test that passes on redis-server but not on
ours). Exits 1 when there is such a test.

Usage: run.py [--out DIR] [--files test_commands.py,...] [--protocol 2|3] [-k EXPR]

Files under tests/test_asyncio/ (e.g. --files test_asyncio/test_scripting.py) need
pytest-asyncio 0.23 in the running Python (redis-py 5.0.8's asyncio tests predate 0.24's API).
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

REDIS_PY_VERSION = "5.0.8"
DEFAULT_FILES = [
    "test_commands.py",
    "test_pubsub.py",
    "test_pipeline.py",
    "test_connection.py",
    "test_lock.py",
    "test_encoding.py",
    "test_function.py",
    "test_scripting.py",
    "test_monitor.py",
    "test_connection_pool.py",
    "test_command_parser.py",
    "test_credentials.py",
    "test_retry.py",
    "test_multiprocessing.py",
    "test_connect.py",
    "test_helpers.py",
]

# Tests that pass on redis-server and cannot pass here, each for a difference README's
# "Differences from AWS" states; reported, not counted as failures.
EXPECTED_DIFFERENCES = {
    "tests.test_command_parser.TestCommandsParser::test_get_moveable_keys":
        "asks COMMAND about MIGRATE, which ElastiCache restricts and a node does not have",
}
ROOT = Path(__file__).resolve().parents[3]


def log(msg):
    print(f"[compat] {msg}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=30.0):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server on {port} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on {port} did not start")


def fetch_redis_py(work):
    src = work / f"redis-{REDIS_PY_VERSION}"
    if src.exists():
        return src
    dl = work / "dl"
    dl.mkdir(parents=True, exist_ok=True)
    sdist = dl / f"redis-{REDIS_PY_VERSION}.tar.gz"
    if not sdist.exists():
        log(f"downloading redis-py {REDIS_PY_VERSION} sdist from PyPI")
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-binary", ":all:",
                        "--no-deps", f"redis=={REDIS_PY_VERSION}", "-d", str(dl)], check=True)
    with tarfile.open(sdist) as t:
        t.extractall(work, filter="data")
    return src


def ensure_redis_server():
    exe = shutil.which("redis-server")
    if exe:
        return exe
    log("installing Debian's redis-server (comparison only)")
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "redis-server"], check=True)
    exe = shutil.which("redis-server")
    if not exe:
        raise RuntimeError("redis-server not available")
    return exe


def build_ours():
    log("building ecl-redis-server (debug)")
    subprocess.run(["cargo", "build", "-q", "-p", "ecl-redis", "--bin", "ecl-redis-server"],
                   cwd=ROOT, check=True)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "debug" / "ecl-redis-server"


def start_reference(exe, port, work):
    d = work / "ref-data"
    d.mkdir(exist_ok=True)
    return subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(d), "--enable-debug-command", "yes"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_ours(exe, port, version):
    return subprocess.Popen([str(exe), "--port", str(port), "--bind", "127.0.0.1",
                             "--version", version],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# redis-py's asyncio tests are unmarked coroutines: pytest-asyncio's auto mode runs them (its
# project config, which says so, is not in the sdist). Only when the plugin is installed.
try:
    import pytest_asyncio  # noqa: F401
    ASYNCIO_OPTS = ["-o", "asyncio_mode=auto"]
except ImportError:
    ASYNCIO_OPTS = []


def run_pytest(src, fname, port, xml, protocol, kexpr, timeout):
    cmd = [sys.executable, "-m", "pytest", f"tests/{fname}", f"--redis-url=redis://127.0.0.1:{port}/0",
           f"--protocol={protocol}", "-p", "no:cacheprovider", "-q", "--tb=line",
           f"--junitxml={xml}", "-o", "junit_family=xunit1"] + ASYNCIO_OPTS
    if kexpr:
        cmd += ["-k", kexpr]
    try:
        r = subprocess.run(cmd, cwd=src, capture_output=True, text=True, timeout=timeout)
        return r.stdout[-4000:] + r.stderr[-2000:]
    except subprocess.TimeoutExpired:
        return "TIMEOUT"


def parse_junit(xml):
    res = {}
    if not xml.exists():
        return res
    for tc in ET.parse(xml).getroot().iter("testcase"):
        name = f"{tc.get('classname', '')}::{tc.get('name', '')}"
        state = "pass"
        detail = ""
        for child in tc:
            if child.tag in ("failure", "error"):
                state = "fail"
                detail = (child.get("message") or "")[:300]
            elif child.tag == "skipped":
                state = "skip"
        res[name] = (state, detail)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "target" / "redis_compat"))
    ap.add_argument("--files", default=",".join(DEFAULT_FILES))
    ap.add_argument("--protocol", default="2")
    ap.add_argument("--version", default="7.0.15", help="engine version our server reports")
    ap.add_argument("-k", dest="kexpr", default=None)
    ap.add_argument("--timeout", type=int, default=1800)
    a = ap.parse_args()
    work = Path(a.out)
    work.mkdir(parents=True, exist_ok=True)
    src = fetch_redis_py(work)
    ref_exe = ensure_redis_server()
    ours_exe = build_ours()
    files = [f for f in a.files.split(",") if f]
    rows, regressions, expected = [], [], []
    for fname in files:
        results = {}
        for label in ("redis-server", "ours"):
            port = free_port()
            proc = (start_reference(ref_exe, port, work) if label == "redis-server"
                    else start_ours(ours_exe, port, a.version))
            try:
                wait_port(port, proc)
                xml = work / f"{fname}.{label}.xml"
                # Files under a test directory (test_asyncio/…) keep their subdirectory.
                xml.parent.mkdir(parents=True, exist_ok=True)
                if xml.exists():
                    xml.unlink()
                log(f"{fname} against {label} (port {port})")
                out = run_pytest(src, fname, port, xml, a.protocol, a.kexpr, a.timeout)
                (work / f"{fname}.{label}.log").write_text(out)
                results[label] = parse_junit(xml)
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        counts = {}
        for label, res in results.items():
            c = {"pass": 0, "fail": 0, "skip": 0}
            for st, _ in res.values():
                c[st] += 1
            counts[label] = c
        rows.append((fname, counts))
        ref, ours = results.get("redis-server", {}), results.get("ours", {})
        for name, (st, _) in sorted(ref.items()):
            if st != "pass":
                continue
            o = ours.get(name, ("missing", ""))
            if o[0] == "pass":
                continue
            if name in EXPECTED_DIFFERENCES:
                expected.append((name, EXPECTED_DIFFERENCES[name]))
            else:
                regressions.append((name, o[0], o[1]))
    lines = [f"# redis-py {REDIS_PY_VERSION} test-suite: redis-server vs ecl-redis (RESP{a.protocol})", "",
             "| file | redis-server pass/fail/skip | ours pass/fail/skip |", "|---|---|---|"]
    for fname, c in rows:
        r, o = c.get("redis-server", {}), c.get("ours", {})
        fmt = lambda x: f"{x.get('pass', 0)}/{x.get('fail', 0)}/{x.get('skip', 0)}"
        lines.append(f"| {fname} | {fmt(r)} | {fmt(o)} |")
    lines += ["", f"## Pass on redis-server, fail on ours ({len(regressions)})", ""]
    lines += [f"- {n} [{st}] {d}" for n, st, d in regressions]
    lines += ["", f"## Expected differences ({len(expected)})", ""]
    lines += [f"- {n}: {why}" for n, why in expected]
    summary = work / "summary.md"
    summary.write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:4 + len(rows)]))
    print(f"regressions: {len(regressions)}  expected differences: {len(expected)}  full summary: {summary}")
    # Fails when a test that passes on redis-server does not pass on ours.
    return 1 if regressions else 0


if __name__ == "__main__":
    sys.exit(main())
