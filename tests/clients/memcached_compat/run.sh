#!/usr/bin/env bash
# Compatibility of ecl-memcached with Debian's stock memcached, in one run:
# 1. wire_diff.py: the same raw request sequences (text, meta, binary, malformed ones) sent to
#    both fresh servers, replies compared byte for byte;
# 2. pymemcache's own integration tests (text protocol; PyPI source distribution, pinned);
# 3. python-binary-memcached's own test suite (binary protocol; PyPI sdist, pinned). Its
#    harness hard-codes port 11211 or a unix socket: we point it at MEMCACHED_HOST=ip:port
#    and leave out the files whose harness cannot take that (TLS, IPv6, SASL server, a proxy
#    binding MEMCACHED_HOST, host-string parsing).
# Pass counts are printed side by side. Fails on any wire difference or any test that passes
# on memcached but not on ours.
#
# Usage: tests/clients/memcached_compat/run.sh        (from anywhere in the repository)
# Needs: cargo, python3 with venv, apt (installs memcached if missing), PyPI.
set -euo pipefail

PYMEMCACHE_VERSION=4.0.0
BMEMCACHED_VERSION=0.33.0
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
MC_VERSION=$(memcached -V | awk '{print $2}')

echo "== preparing client test suites in $WORK"
python3 -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install -q "pytest==$PYTEST_VERSION" uhashring
"$WORK/venv/bin/pip" download -q --no-binary :all: --no-deps -d "$WORK" \
  "pymemcache==$PYMEMCACHE_VERSION" "python-binary-memcached==$BMEMCACHED_VERSION"
tar -xzf "$WORK/pymemcache-$PYMEMCACHE_VERSION.tar.gz" -C "$WORK"
tar -xzf "$WORK/python_binary_memcached-$BMEMCACHED_VERSION.tar.gz" -C "$WORK"
PMC="$WORK/pymemcache-$PYMEMCACHE_VERSION"
BMC="$WORK/python_binary_memcached-$BMEMCACHED_VERSION"
# Point the binary suite's fixed endpoints at MEMCACHED_HOST (host:port).
sed -i 's|"{}:11211".format(os.environ\["MEMCACHED_HOST"\])|os.environ["MEMCACHED_HOST"]|g; s|"/tmp/memcached.sock"|os.environ["MEMCACHED_HOST"]|g' "$BMC"/test/*.py
grep -q '^import os' "$BMC/test/test_socket.py" || sed -i '1i import os' "$BMC/test/test_socket.py"

echo "== building ecl-memcached-server"
(cd "$ROOT" && cargo build -q -p ecl-memcached --bin ecl-memcached-server)
SERVER="$ROOT/target/debug/ecl-memcached-server"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 1 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "server on port $1 did not start" >&2; return 1
}

MC_PORT=$(free_port)
memcached -u nobody -l 127.0.0.1 -p "$MC_PORT" -U 0 -t 4 -m 64 2>/dev/null &
PIDS+=($!)
OURS_PORT=$(free_port)
"$SERVER" --port "$OURS_PORT" --memory 64 --threads 4 --version "$MC_VERSION" 2>"$WORK/ours.log" &
PIDS+=($!)
wait_port "$MC_PORT"
wait_port "$OURS_PORT"
echo "== memcached $MC_VERSION on port $MC_PORT, ecl-memcached on port $OURS_PORT"

STATUS=0
echo "== raw wire comparison (fresh servers)"
python3 "$ROOT/tests/clients/memcached_compat/wire_diff.py" "$MC_PORT" "$OURS_PORT" || STATUS=1

run_pymemcache() { # name port
  (cd "$PMC" && "$WORK/venv/bin/python" -m pytest -q -o addopts="" -p no:cacheprovider \
      -m integration pymemcache/test/test_integration.py \
      --server 127.0.0.1 --port "$2" --junitxml "$WORK/pmc-$1.xml" >"$WORK/pmc-$1.out" 2>&1) || true
}
run_bmemcached() { # name port
  (cd "$BMC" && MEMCACHED_HOST="127.0.0.1:$2" "$WORK/venv/bin/python" -m pytest -q -p no:cacheprovider test \
      --ignore test/test_tls.py --ignore test/test_ipv6.py --ignore test/test_sasl_integration.py \
      --ignore test/test_error_handling.py --ignore test/test_server_parsing.py \
      --junitxml "$WORK/bmc-$1.xml" >"$WORK/bmc-$1.out" 2>&1) || true
}

compare() { # title real.xml ours.xml
  python3 - "$@" <<'PY'
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

title, real, ours = sys.argv[1], outcomes(sys.argv[2]), outcomes(sys.argv[3])
count = lambda d, k: sum(1 for v in d.values() if v == k)
print(f"{title:30}{'memcached':>10}{'ecl-memcached':>15}")
for k in ("passed", "failed", "skipped"):
    print(f"  {k:28}{count(real, k):>10}{count(ours, k):>15}")
regressions = [n for n, v in real.items() if v == "passed" and ours.get(n) != "passed"]
for n in regressions:
    print("  REGRESSION (passes on memcached, not on ours):", n)
sys.exit(1 if regressions else 0)
PY
}

echo "== pymemcache $PYMEMCACHE_VERSION integration tests (text protocol)"
run_pymemcache memcached "$MC_PORT"
run_pymemcache ours "$OURS_PORT"
compare "pymemcache $PYMEMCACHE_VERSION" "$WORK/pmc-memcached.xml" "$WORK/pmc-ours.xml" || STATUS=1

echo "== python-binary-memcached $BMEMCACHED_VERSION tests (binary protocol)"
run_bmemcached memcached "$MC_PORT"
run_bmemcached ours "$OURS_PORT"
compare "python-binary-memcached $BMEMCACHED_VERSION" "$WORK/bmc-memcached.xml" "$WORK/bmc-ours.xml" || STATUS=1

exit "$STATUS"
