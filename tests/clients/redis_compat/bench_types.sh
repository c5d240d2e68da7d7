#!/usr/bin/env bash
# Side-by-side throughput of the data-type families: our release ecl-redis-server and Debian's
# redis-server on loopback, same redis-benchmark invocation for each (-c 50 -P 16, random keys
# from a 100k space). Prints requests/second and the ratio ours/redis. The machine is shared:
# read small differences as noise.
# Usage: tests/clients/redis_compat/bench_types.sh [-n requests]
set -euo pipefail
N=200000
while getopts "n:" o; do
  case "$o" in
    n) N="$OPTARG" ;;
    *) echo "usage: $0 [-n requests]" >&2; exit 2 ;;
  esac
done
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
command -v redis-benchmark >/dev/null || { echo "needs redis-server/redis-tools (apt-get install redis-server)" >&2; exit 2; }
(cd "$ROOT" && cargo build --release -q -p ecl-redis --bin ecl-redis-server)
OURS_PORT=17390
REDIS_PORT=17391
"$ROOT/target/release/ecl-redis-server" --port "$OURS_PORT" --version 7.0.15 >/dev/null 2>&1 &
OURS_PID=$!
redis-server --port "$REDIS_PORT" --save "" --appendonly no >/dev/null 2>&1 &
REDIS_PID=$!
trap 'kill $OURS_PID $REDIS_PID 2>/dev/null || true' EXIT
for p in "$OURS_PORT" "$REDIS_PORT"; do
  for _ in $(seq 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
  # Preload: a 1,000-element list and sorted set for the read tests.
  python3 - "$p" <<'PY'
import socket, sys
def resp(*a):
    out = b"*%d\r\n" % len(a)
    for x in a:
        x = str(x).encode()
        out += b"$%d\r\n%s\r\n" % (len(x), x)
    return out
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"".join(resp("RPUSH", "bl", "v%d" % i) for i in range(1000))
          + b"".join(resp("ZADD", "bz", i, "m%d" % i) for i in range(1000)) + resp("PING"))
buf = b""
while not buf.endswith(b"+PONG\r\n"):
    buf += s.recv(65536)
PY
done
CMDS=(
  "LPUSH bl2 x" "RPOP bl2" "LRANGE bl 0 99" "LINDEX bl 500"
  "HSET bh f__rand_int__ v" "HGET bh f1" "HINCRBY bc f 1"
  "SADD bs __rand_int__" "SISMEMBER bs 42" "SPOP bs"
  "ZADD bz2 __rand_int__ m__rand_int__" "ZSCORE bz m500" "ZRANK bz m500"
  "ZRANGE bz 0 99 WITHSCORES" "ZRANGEBYSCORE bz 100 200 LIMIT 0 10" "ZINCRBY bz 1 m7"
  "PFADD hp __rand_int__" "PFCOUNT hp"
)
rps() {
  # shellcheck disable=SC2086
  redis-benchmark -p "$1" -n "$N" -c 50 -P 16 -r 100000 -q $2 2>/dev/null \
    | tr '\r' '\n' | grep -oE '[0-9.]+ requests per second' | tail -1 | cut -d' ' -f1
}
printf "%-38s %12s %12s %6s\n" command ours redis ratio
for c in "${CMDS[@]}"; do
  o=$(rps "$OURS_PORT" "$c"); r=$(rps "$REDIS_PORT" "$c")
  printf "%-38s %12s %12s %6s\n" "$c" "$o" "$r" "$(python3 -c "print(round(${o:-0}/max(${r:-1},1),2))")"
done
