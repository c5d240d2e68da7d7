#!/bin/sh
# Runs redis-py's own test-suite against Debian's redis-server and against ecl-redis, side by
# side (see run.py). Fails when a test passes on redis-server and not on ours.
#
# Without arguments (as scripts/test.sh calls it): every default file in RESP2, then the
# protocol-sensitive ones in RESP3, each into its own directory under target/redis_compat/.
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
"$py" "$here/run.py" --protocol 2 --out "$root/target/redis_compat/resp2" || status=1
# RESP3 on the files whose replies it changes (the others test pools, retries, parsing).
resp3_files=test_commands.py,test_pubsub.py,test_pipeline.py,test_connection.py
resp3_files=$resp3_files,test_function.py,test_scripting.py,test_monitor.py
"$py" "$here/run.py" --protocol 3 --files "$resp3_files" \
  --out "$root/target/redis_compat/resp3" || status=1
exit $status
