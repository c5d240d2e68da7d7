#!/usr/bin/env bash
# Instructions per memcached operation under a fixed memaslap load, counted by callgrind: the
# figure the shared machine does not disturb (wall-clock ratios move by 20-40 % between runs).
# Starts the server under `valgrind --tool=callgrind` as user nobody (memcached refuses root
# without -u, and a server that drops to nobody itself cannot write callgrind's output file),
# runs one memaslap load of a fixed operation count, stops the server with SIGINT and prints
# callgrind's instruction total. Subtract a run with load `none` (start-up only) and divide by
# the operations to get instructions per operation.
#
#   bench/mc_callgrind.sh LABEL PORT "MEMASLAP ARGS|none" -- SERVER ARGV...
#   bench/mc_callgrind.sh mc 23001 "-x 100000 -c 8 -T 1 -X 1024" -- \
#       memcached -l 127.0.0.1 -p 23001 -U 0 -t 4 -m 1024 -c 1012
#   bench/mc_callgrind.sh ours 23001 "-x 100000 -c 8 -T 1 -X 1024 -B" -- \
#       target/release/ecl-memcached-server --port 23001 --threads 4 --memory 1024
#
# memcached under valgrind: valgrind keeps a few descriptors for itself and refuses a raised
# limit, so the script sets `ulimit -n 1024` and memcached needs `-c 1012` (memcached sets its
# descriptor limit to its connection limit). Output files: $OUT_DIR (default /tmp/mc-callgrind).
set -euo pipefail
label=$1 port=$2 load=$3
shift 4
out_dir=${OUT_DIR:-/tmp/mc-callgrind}
mkdir -p "$out_dir" && chmod 1777 "$out_dir"
out=$out_dir/cg.$label.out
rm -f "$out"
setsid bash -c 'ulimit -n 1024; exec setpriv --reuid=65534 --regid=65534 --clear-groups "$0" "$@"' \
    valgrind --tool=callgrind --callgrind-out-file="$out" --dump-instr=no "$@" \
    >"$out_dir/cg.$label.log" 2>&1 &
vpid=$!
for _ in $(seq 90); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $port))" 2>/dev/null && break
    sleep 1
done
result=""
if [ "$load" != none ]; then
    # shellcheck disable=SC2086 # the load is a list of arguments
    result=$(timeout 900 memcaslap -s "127.0.0.1:$port" $load 2>&1 | grep -E "Run time" || true)
fi
# The setsid'ed bash exec'ed into setpriv, then valgrind: $vpid is the server.
kill -INT "$vpid"
for _ in $(seq 60); do kill -0 "$vpid" 2>/dev/null || break; sleep 1; done
echo "$label [$load] $result instructions=$(grep -m1 '^summary' "$out" | cut -d' ' -f2)"
