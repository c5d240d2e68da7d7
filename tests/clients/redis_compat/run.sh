#!/bin/sh
# Runs redis-py's test-suite against Debian's redis-server and against ecl-redis, side by side.
# See run.py for details; arguments are passed through (e.g. --files test_commands.py).
set -e
exec python3 "$(dirname "$0")/run.py" "$@"
