#!/usr/bin/env bash
# Benchmark: ecl-memcached (release build) against Debian's memcached -t 4, same run,
# alternating, REPS repetitions. Load comes from a second process (ecl-memcached-load:
# 50 connections, fixed 90% get / 10% set mix over 10,000 keys, 100-byte values). Memory:
# RSS growth of each server after storing ITEMS items of 100 bytes, per item.
# Prints per-run numbers, medians and the ratios ours/memcached.
#
# Usage: bench/memcached/run.sh   (env: REPS=3 OPS=20000 ITEMS=200000)
# The machine may be shared: numbers are noisy; compare the ratio, not absolute values.
set -euo pipefail
REPS=${REPS:-3}
OPS=${OPS:-20000}
ITEMS=${ITEMS:-200000}
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

command -v memcached >/dev/null || apt-get install -y -q memcached >/dev/null
(cd "$ROOT" && cargo build -q --release -p ecl-memcached --bins)
SERVER="$ROOT/target/release/ecl-memcached-server"
LOAD="$ROOT/target/release/ecl-memcached-load"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 1 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

run_one() { # kind -> prints "ops mem_per_item"
  local port pid
  port=$(free_port)
  if [ "$1" = memcached ]; then
    memcached -u nobody -l 127.0.0.1 -p "$port" -U 0 -t 4 -m 1024 & pid=$!
  else
    "$SERVER" --port "$port" --threads 4 --memory 1024 2>/dev/null & pid=$!
  fi
  PIDS+=("$pid")
  wait_port "$port"
  local before after ops
  before=$(rss_kb "$pid")
  "$LOAD" fill --addr "127.0.0.1:$port" --items "$ITEMS" --value-size 100
  after=$(rss_kb "$pid")
  ops=$("$LOAD" mix --addr "127.0.0.1:$port" --conns 50 --ops "$OPS" --get-ratio 0.9 --keys 10000 --value-size 100 | awk '{print $2}')
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$ops $(( (after - before) * 1024 / ITEMS ))"
}

declare -a MC_OPS MC_MEM OURS_OPS OURS_MEM
for rep in $(seq 1 "$REPS"); do
  read -r o m < <(run_one memcached); MC_OPS+=("$o"); MC_MEM+=("$m")
  echo "rep $rep memcached      ops/s=$o  bytes/item=$m"
  read -r o m < <(run_one ours); OURS_OPS+=("$o"); OURS_MEM+=("$m")
  echo "rep $rep ecl-memcached  ops/s=$o  bytes/item=$m"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mo=$(median "${MC_OPS[@]}"); oo=$(median "${OURS_OPS[@]}")
mm=$(median "${MC_MEM[@]}"); om=$(median "${OURS_MEM[@]}")
echo "median ops/s:      memcached $mo   ecl-memcached $oo   ratio ours/memcached $(python3 -c "print(round($oo/$mo,2))")"
echo "median bytes/item: memcached $mm   ecl-memcached $om   ratio ours/memcached $(python3 -c "print(round($om/max($mm,1),2))")"
