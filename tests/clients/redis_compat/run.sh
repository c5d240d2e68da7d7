#!/bin/sh
# Runs redis-py's own test-suite against Debian's redis-server and against ecl-redis, side by
# side (see run.py). Fails when a test passes on redis-server and not on ours.
#
# Without arguments (as scripts/test.sh calls it): RESP2, then RESP3, each into its own
# directory under target/redis_compat/. With arguments: one run.py call, arguments passed
# through (e.g. --files test_commands.py --protocol 3).
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
for protocol in 2 3; do
  "$py" "$here/run.py" --protocol "$protocol" --out "$root/target/redis_compat/resp$protocol" || status=1
done
exit $status
