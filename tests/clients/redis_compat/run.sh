#!/bin/sh
# Runs redis-py's own test-suite against Debian's redis-server and against ecl-redis, side by
# side (see run.py). Fails when a test passes on redis-server and not on ours.
#
# Without arguments (as scripts/test.sh calls it): every default file in RESP2, then the
# protocol-sensitive ones in RESP3, and redis-py's asyncio files (RESP2), each into its own
# directory under target/redis_compat/.
# With arguments: one run.py call, arguments passed through (e.g. --files test_commands.py
# --protocol 3).
# Uses the test venv scripts/test.sh makes ($ECL_VENV, default .venv: it has pytest) when it
# exists.
set -e
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
py=python3
venv="${ECL_VENV:-$root/.venv}"
[ -x "$venv/bin/python" ] && py="$venv/bin/python"
if [ $# -gt 0 ]; then
  exec "$py" "$here/run.py" "$@"
fi
status=0
out="$root/target/redis_compat"
mkdir -p "$out"
# The asyncio files need pytest-asyncio 0.23 (redis-py 5.0.8's tests predate 0.24's API),
# which needs pytest < 9: a venv of their own. They run beside the RESP2 run (both wait on
# the servers, not the CPU), their output printed after it.
avenv="$out/asyncio-venv"
if ! "$avenv/bin/python" -c "import pytest_asyncio" 2>/dev/null; then
  python3 -m venv "$avenv" && "$avenv/bin/python" -m pip install -q --disable-pip-version-check \
    "pytest==8.4.2" "pytest-asyncio==0.23.8" "pytest-timeout==2.4.0" || status=1
fi
asyncio_files=test_asyncio/test_commands.py,test_asyncio/test_pubsub.py
asyncio_files=$asyncio_files,test_asyncio/test_pipeline.py,test_asyncio/test_connection.py
asyncio_files=$asyncio_files,test_asyncio/test_lock.py,test_asyncio/test_monitor.py
asyncio_files=$asyncio_files,test_asyncio/test_connection_pool.py
asyncio_files=$asyncio_files,test_asyncio/test_encoding.py,test_asyncio/test_scripting.py
asyncio_files=$asyncio_files,test_asyncio/test_retry.py,test_asyncio/test_credentials.py
asyncio_pid=
if [ $status -eq 0 ]; then
  "$avenv/bin/python" "$here/run.py" --protocol 2 --files "$asyncio_files" \
    --out "$out/asyncio" > "$out/asyncio.log" 2>&1 &
  asyncio_pid=$!
else
  echo "redis_compat: no venv with pytest-asyncio 0.23; the asyncio files did not run" >&2
fi
"$py" "$here/run.py" --protocol 2 --out "$out/resp2" || status=1
# RESP3 on the files whose replies it changes (the others test pools, retries, parsing).
resp3_files=test_commands.py,test_pubsub.py,test_pipeline.py,test_connection.py
resp3_files=$resp3_files,test_function.py,test_scripting.py,test_monitor.py
"$py" "$here/run.py" --protocol 3 --files "$resp3_files" --out "$out/resp3" || status=1
if [ -n "$asyncio_pid" ]; then
  wait "$asyncio_pid" || status=1
  cat "$out/asyncio.log"
fi
exit $status
