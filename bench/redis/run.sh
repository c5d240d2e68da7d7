#!/usr/bin/env bash
# Redis engine vs Debian's redis-server (redis-benchmark ratios, bytes per key): the redis and
# memory sections of the unified suite. Extra arguments go to bench/run.sh (e.g. --quick).
exec "$(dirname "$0")/../run.sh" --only redis,redis-memory "$@"
