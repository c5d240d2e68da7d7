#!/usr/bin/env bash
# Memcached engine vs Debian's memcached (get/set mix, bytes per item): the memcached and
# memory sections of the unified suite. Extra arguments go to bench/run.sh (e.g. --quick).
exec "$(dirname "$0")/../run.sh" --only memcached,memcached-memory "$@"
