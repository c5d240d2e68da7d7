#!/usr/bin/env bash
# Side-by-side throughput of our engine (ecl-redis-server) and Debian's redis-server, on loopback,
# with redis-benchmark: -c 50 -n 200000 at -P 1 and -P 16 for SET GET INCR LPUSH LPOP SADD HSET
# ZADD MSET. Prints requests/second for both and the ratio ours/redis.
#
# The machine is shared: run it when it is quiet, and read small differences as noise.
# Usage: bench/redis/run.sh [-n requests] [-c clients] [-r rounds (best of, default 2)]
set -euo pipefail

N=200000
C=50
ROUNDS=2
while getopts "n:c:r:" o; do
  case "$o" in
    n) N="$OPTARG" ;;
    c) C="$OPTARG" ;;
    r) ROUNDS="$OPTARG" ;;
    *) echo "usage: $0 [-n requests] [-c clients] [-r rounds]" >&2; exit 2 ;;
  esac
done

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
TESTS="SET GET INCR LPUSH LPOP SADD HSET ZADD MSET"
OURS_PORT=17380
REDIS_PORT=17381

if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
  echo "installing redis-server and redis-tools (Debian)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools >/dev/null
fi

echo "building release ecl-redis-server" >&2
(cd "$ROOT" && cargo build --release -q -p ecl-redis --bin ecl-redis-server)

OURS_PID=""
REDIS_PID=""
cleanup() {
  [ -n "$OURS_PID" ] && kill "$OURS_PID" 2>/dev/null || true
  [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null || true
}
trap cleanup EXIT

"$ROOT/target/release/ecl-redis-server" --port "$OURS_PORT" --version 7.2.4 >/dev/null 2>&1 &
OURS_PID=$!
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize no >/dev/null 2>&1 &
REDIS_PID=$!

for port in "$OURS_PORT" "$REDIS_PORT"; do
  for _ in $(seq 1 100); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.05
  done
done

# Commands our node does not implement yet are reported as n/a instead of measured.
supported() {
  local cmd="$1"
  local out
  out="$(redis-cli -p "$OURS_PORT" command info "$cmd" 2>/dev/null | head -1)"
  [ -n "$out" ]
}

# rps for one test: redis-benchmark --csv prints "test","rps",...
rps() {
  local port="$1" test="$2" pipe="$3"
  redis-cli -p "$port" flushall >/dev/null
  redis-benchmark -p "$port" -c "$C" -n "$N" -P "$pipe" -t "$test" --csv 2>/dev/null \
    | awk -F'","' 'NR>1 {gsub(/"/,"",$2); print $2; exit}'
}

echo "redis-server: $(redis-server --version | awk '{print $3}')   ours: ecl-redis-server (7.2.4 command set)"
echo "requests: $N  clients: $C  best of $ROUNDS alternating runs (shared machine: numbers are noisy)"
printf "%-6s %-4s %12s %12s %7s\n" test P ours redis ratio
for pipe in 1 16; do
  for t in $TESTS; do
    if ! supported "$t"; then
      printf "%-6s %-4s %12s %12s %7s\n" "$t" "$pipe" n/a "$(rps "$REDIS_PORT" "$t" "$pipe")" n/a
      continue
    fi
    # Alternate the two servers and keep each one's best of ROUNDS runs, which filters out
    # interference from other work on the machine better than a single run.
    o=0
    r=0
    for _ in $(seq 1 "$ROUNDS"); do
      o="$(awk -v a="$o" -v b="$(rps "$OURS_PORT" "$t" "$pipe")" 'BEGIN { print (b > a) ? b : a }')"
      r="$(awk -v a="$r" -v b="$(rps "$REDIS_PORT" "$t" "$pipe")" 'BEGIN { print (b > a) ? b : a }')"
    done
    ratio="$(awk -v o="$o" -v r="$r" 'BEGIN { if (r > 0) printf "%.2f", o / r; else print "n/a" }')"
    printf "%-6s %-4s %12s %12s %7s\n" "$t" "$pipe" "$o" "$r" "$ratio"
  done
done
