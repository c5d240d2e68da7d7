#!/usr/bin/env bash
# BGSAVE of 1,000,000 keys, ours vs Debian's redis-server in the same run: time until the save
# has finished, and GET latency (p50/p99/max over 4 closed-loop clients) while it runs, next to
# a baseline without a save. Both servers write their RDB into a scratch directory.
#
#   bench/bgsave.sh [KEYS] [CLIENTS]        (defaults 1000000 4)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
KEYS="${1:-1000000}"
CLIENTS="${2:-4}"
command -v redis-server >/dev/null || { echo "redis-server is needed" >&2; exit 1; }

cd "$ROOT"
cargo build --release -q -p ecl-redis --bin ecl-redis-server --example bgsave_latency
OURS="$ROOT/target/release/ecl-redis-server"
PROBE="$ROOT/target/release/examples/bgsave_latency"
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }

P1="$(free_port)"
mkdir -p "$WORK/ours" "$WORK/redis"
"$OURS" --port "$P1" --dir "$WORK/ours" >/dev/null 2>&1 &
PIDS+=($!)
wait_port "$P1"
echo "== ours (ecl-redis-server, release) =="
"$PROBE" "$P1" "$KEYS" "$CLIENTS"
kill "${PIDS[0]}"

P2="$(free_port)"
redis-server --port "$P2" --bind 127.0.0.1 --dir "$WORK/redis" --save "" --appendonly no \
  --daemonize no >/dev/null 2>&1 &
PIDS+=($!)
wait_port "$P2"
echo "== redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p') =="
"$PROBE" "$P2" "$KEYS" "$CLIENTS"
