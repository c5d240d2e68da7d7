#!/usr/bin/env bash
# Compatibility of ecl-memcached with Debian's stock memcached, in one run:
# 1. wire_diff.py: the same raw request sequences (text, meta, binary, malformed ones) sent to
#    both fresh servers, replies compared byte for byte;
# 2. pymemcache's own integration tests (from its PyPI source distribution, pinned) against
#    both, pass counts side by side.
# Fails on any wire difference or any test that passes on memcached but not on ours.
#
# Usage: tests/clients/memcached_compat/run.sh        (from the repository root)
# Needs: cargo, python3 with venv, apt (installs memcached if missing), network to PyPI.
set -euo pipefail

PYMEMCACHE_VERSION=4.0.0
PYTEST_VERSION=7.4.4
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

if ! command -v memcached >/dev/null; then
  apt-get install -y -q memcached >/dev/null
fi

echo "== preparing pymemcache $PYMEMCACHE_VERSION tests in $WORK"
python3 -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install -q "pytest==$PYTEST_VERSION"
"$WORK/venv/bin/pip" download -q --no-binary :all: --no-deps "pymemcache==$PYMEMCACHE_VERSION" -d "$WORK"
tar -xzf "$WORK/pymemcache-$PYMEMCACHE_VERSION.tar.gz" -C "$WORK"
SRC="$WORK/pymemcache-$PYMEMCACHE_VERSION"

echo "== building ecl-memcached-server"
(cd "$ROOT" && cargo build -q -p ecl-memcached --bin ecl-memcached-server)
SERVER="$ROOT/target/debug/ecl-memcached-server"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 1 100); do
    python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "server on port $1 did not start" >&2; return 1
}

MC_PORT=$(free_port)
memcached -u nobody -l 127.0.0.1 -p "$MC_PORT" -U 0 -t 4 -m 64 2>/dev/null &
PIDS+=($!)
OURS_PORT=$(free_port)
"$SERVER" --port "$OURS_PORT" --memory 64 --threads 4 --version "$(memcached -V | awk '{print $2}')" 2>"$WORK/ours.log" &
PIDS+=($!)
wait_port "$MC_PORT"
wait_port "$OURS_PORT"

echo "== raw wire comparison"
WIRE_STATUS=0
python3 "$ROOT/tests/clients/memcached_compat/wire_diff.py" "$MC_PORT" "$OURS_PORT" || WIRE_STATUS=1

run_suite() { # name port
  (cd "$SRC" && "$WORK/venv/bin/python" -m pytest -q -o addopts="" -p no:cacheprovider \
      -m integration pymemcache/test/test_integration.py \
      --server 127.0.0.1 --port "$2" --junitxml "$WORK/$1.xml" >"$WORK/$1.out" 2>&1) || true
  tail -n 1 "$WORK/$1.out"
}

echo "== memcached $(memcached -V | awk '{print $2}') on port $MC_PORT"
MC_SUMMARY=$(run_suite memcached "$MC_PORT")
echo "== ecl-memcached on port $OURS_PORT"
OURS_SUMMARY=$(run_suite ours "$OURS_PORT")

python3 - "$WORK/memcached.xml" "$WORK/ours.xml" <<'PY'
import sys
import xml.etree.ElementTree as ET

def outcomes(path):
    res = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        name = case.get("classname", "") + "::" + case.get("name", "")
        if case.find("failure") is not None or case.find("error") is not None:
            res[name] = "failed"
        elif case.find("skipped") is not None:
            res[name] = "skipped"
        else:
            res[name] = "passed"
    return res

real, ours = outcomes(sys.argv[1]), outcomes(sys.argv[2])
count = lambda d, k: sum(1 for v in d.values() if v == k)
print(f"{'':14}{'memcached':>10}{'ecl-memcached':>15}")
for k in ("passed", "failed", "skipped"):
    print(f"{k:14}{count(real, k):>10}{count(ours, k):>15}")
regressions = [n for n, v in real.items() if v == "passed" and ours.get(n) != "passed"]
for n in regressions:
    print("REGRESSION (passes on memcached, not on ours):", n)
sys.exit(1 if regressions else 0)
PY
exit "$WIRE_STATUS"
