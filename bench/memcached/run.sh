#!/usr/bin/env bash
# Memcached engine vs Debian's memcached (get/set mix; memaslap and memslap ops/s and server
# CPU per op; bytes per item): the memcached, memcached-tools and memory sections of the
# unified suite. Extra arguments go to bench/run.sh (e.g. --quick, --mc-standalone).
exec "$(dirname "$0")/../run.sh" --only memcached,memcached-tools,memcached-memory "$@"
