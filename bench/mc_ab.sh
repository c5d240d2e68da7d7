#!/usr/bin/env bash
# Same-run A/B of two ecl-memcached-server builds against Debian's memcached under memaslap:
# ops/s, server CPU µs per operation (utime + stime from /proc over the run) and context
# switches per operation, per repetition, alternating the three servers.
#
#   bench/mc_ab.sh SECS REPS OLD_BIN NEW_BIN [MEMASLAP ARGS...]
#   bench/mc_ab.sh 8 3 /tmp/mc_old target/release/ecl-memcached-server -d 10
#
# Base load: `memcaslap -t SECS -c 32 -T 2 -X 1024` (the bench's memaslap rows); extra
# arguments follow it (`-B` binary, `-d 10` 10-key multi-get).
set -euo pipefail
secs=$1 reps=$2 old=$3 new=$4
shift 4
"$old" --listen 127.0.0.1 --port 23111 --memory 1024 >/dev/null 2>&1 &
p_old=$!
"$new" --listen 127.0.0.1 --port 23112 --memory 1024 >/dev/null 2>&1 &
p_new=$!
memcached -u nobody -l 127.0.0.1 -p 23113 -U 0 -t 4 -m 1024 >/dev/null 2>&1 &
p_mc=$!
trap 'kill $p_old $p_new $p_mc 2>/dev/null || true' EXIT
sleep 0.5

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
switches() { cat /proc/"$1"/task/*/status | awk '/ctxt_switches/ {s += $2} END {print s}'; }

for rep in $(seq "$reps"); do
    for entry in "old:$p_old:23111" "new:$p_new:23112" "memcached:$p_mc:23113"; do
        IFS=: read -r name pid port <<<"$entry"
        c0=$(cpu_ticks "$pid") x0=$(switches "$pid")
        tps=$(memcaslap -s "127.0.0.1:$port" -t "${secs}s" -c 32 -T 2 -X 1024 "$@" 2>&1 |
            awk '/^Run time/ {print $7}')
        c1=$(cpu_ticks "$pid") x1=$(switches "$pid")
        python3 -c "
ops = $tps * $secs
tick_us = 1e6 / $(getconf CLK_TCK)
print('$rep', '$name', 'ops/s', $tps, 'cpu_us/op', round(($c1 - $c0) * tick_us / ops, 2),
      'switches/op', round(($x1 - $x0) / ops, 3))"
    done
done
