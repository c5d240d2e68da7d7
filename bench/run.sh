#!/usr/bin/env bash
# The benchmark suite's one entry point. Installs what it measures against (Debian's
# redis-server, redis-tools, memcached, libmemcached-tools) when missing, builds the release
# binaries, prepares bench/.venv with matplotlib for the plot, then runs bench/suite.py.
#
#   bench/run.sh            full run (~8 min on 2 cores, budget 15; run it on a quiet machine)
#   bench/run.sh --quick    smoke run (tiny counts, under a minute; numbers are meaningless)
#   bench/run.sh --only redis,memcached   some sections (see bench/run.sh --help)
#
# Writes bench/REPORT.md (+ bench/report-ratios.png, bench/REPORT.json).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"

need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-benchmark >/dev/null || need+=(redis-tools)
command -v memcached >/dev/null || need+=(memcached)
# memaslap and memslap (Debian names them memcaslap and memcslap).
{ command -v memcaslap >/dev/null && command -v memcslap >/dev/null; } \
  || need+=(libmemcached-tools)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} (Debian)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
# The Debian packages start their own services; the suite starts its own servers on ephemeral
# ports, so stop those to keep the machine quiet.
for svc in redis-server memcached; do
  command -v systemctl >/dev/null && systemctl stop "$svc" >/dev/null 2>&1 || true
done

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  echo "building release binaries" >&2
  (cd "$ROOT" && cargo build --release -q --bin elasticache-local \
      && cargo build --release -q -p ecl-memcached --bin ecl-memcached-load --bin ecl-memcached-server)
fi

# 1,000 nodes need more than 1,024 descriptors.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

PY=python3
if [ ! -x "$HERE/.venv/bin/python" ]; then
  python3 -m venv --system-site-packages "$HERE/.venv" >/dev/null 2>&1 || true
fi
if [ -x "$HERE/.venv/bin/python" ]; then
  "$HERE/.venv/bin/python" -c 'import matplotlib' 2>/dev/null \
    || "$HERE/.venv/bin/pip" install -q matplotlib >/dev/null 2>&1 \
    || echo "matplotlib unavailable: the report will have tables only" >&2
  PY="$HERE/.venv/bin/python"
fi
cd "$ROOT"
exec "$PY" "$HERE/suite.py" "$@"
