#!/usr/bin/env bash
# The one command that runs every test of elasticache-local:
#   0. the lints CI enforces: cargo fmt --check, cargo clippy -D warnings and no import circle
#      between modules or files (scripts/import_cycles.py) (a failure counts in the summary;
#      the other suites still run);
#   1. builds the workspace once (debug): the binaries the client suites drive;
#   2. cargo test --workspace (unit and Rust integration tests);
#   3. the Python client suites under tests/clients/ (aws-cli, boto3, redis-py, pymemcache,
#      redis-cli, raw sockets), including the wire and memcached_compat suites and
#      redis_compat (redis-py's own test-suite, RESP2 and RESP3, on redis-server and ours);
#   3b. the differential oracle (tests/differential/oracle.py) against redis-server/memcached;
#   3c/3d. held-out suites: redis' own Tcl suite and memcached's own Perl suite, each on the
#      real server and on ours (in the background, beside Terraform);
#   4. the Terraform suite, when terraform and an offline AWS provider mirror are present;
#   5. the JavaScript SDK suite (tests/sdk/js), when node and npm are present, and the Rust AWS
#      SDK suite (tests/sdk/rust, a crate outside the workspace);
#   5b. the job-queue frameworks BullMQ, Celery and RQ (tests/frameworks) on our nodes and on
#      redis-server, outcomes compared (BullMQ when node and npm are present).
# A Python venv (.venv) with tests/clients/requirements.txt is created or refreshed if needed.
#
# Environment:
#   ECL_SKIP_LINT=1        skip cargo fmt --check, cargo clippy and the import-circle check
#   ECL_SKIP_RUST=1        skip cargo test (still builds the binary)
#   ECL_SKIP_TERRAFORM=1   skip the Terraform suite
#   ECL_SKIP_REDIS_TCL=1   skip redis' own Tcl suite (its CI units, beside Terraform)
#   ECL_SKIP_MEMCACHED_T=1 skip memcached's own Perl suite (its CI files, beside Terraform)
#   ECL_TERRAFORM_WORKERS=N parallel Terraform configs (default 8: they mostly wait)
#   ECL_SKIP_JS=1          skip the JavaScript SDK suite
#   ECL_SKIP_RUST_SDK=1    skip the Rust AWS SDK suite
#   ECL_SKIP_FRAMEWORKS=1  skip the job-queue framework suites (BullMQ, Celery, RQ)
#   ECL_PYTEST_WORKERS=N   parallel pytest workers for the client suites (default 2)
#   PYTEST_ADDOPTS         extra pytest options (e.g. "-k walkthrough")
#   ECL_ORACLE_SEED=N      first seed of the differential oracle (default 1)
#   ECL_ORACLE_SEQUENCES=N sequences per engine and seed (default 400 per engine)
# Prints "summary: N passed, N failed, N skipped" as its last line; exits non-zero on any failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"
LOGDIR="$(mktemp -d "${TMPDIR:-/tmp}/ecl-test.XXXXXX")"
# Tests that keep artifacts (the status page screenshot) write them next to the logs.
export ECL_ARTIFACTS_DIR="$LOGDIR"
VENV="${ECL_VENV:-$ROOT/.venv}"
REQ="$ROOT/tests/clients/requirements.txt"

passed=0 failed=0 skipped=0 problems=()

step() { printf '\n==> %s\n' "$*"; }

# ---- 0. lints -----------------------------------------------------------------------------
# Each lint that fails is one failed check; the suites below run regardless.
lint() {
  step "$*"
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1)); problems+=("$* failed")
  fi
}
if [[ "${ECL_SKIP_LINT:-0}" != 1 ]]; then
  lint cargo fmt --all -- --check
  lint cargo clippy --workspace --all-targets -- -D warnings
  lint python3 scripts/import_cycles.py
else
  step "lints skipped (ECL_SKIP_LINT=1)"
fi

# ---- 1. build once -------------------------------------------------------------------------
step "cargo build --workspace --bins (debug)"
cargo build --workspace --bins
BINARY="$ROOT/target/debug/elasticache-local"
[[ -x "$BINARY" ]] || { echo "error: $BINARY was not built" >&2; exit 1; }

# ---- 2. Rust tests -------------------------------------------------------------------------
if [[ "${ECL_SKIP_RUST:-0}" != 1 ]]; then
  step "cargo test --workspace"
  set +e
  cargo test --workspace 2>&1 | tee "$LOGDIR/cargo-test.log"
  rc=${PIPESTATUS[0]}
  set -e
  # Sum the "test result:" lines of every test binary and doc-test run.
  read -r p f i < <(awk '/^test result:/ {
      for (k = 1; k <= NF; k++) {
        if ($(k) ~ /^passed;?$/) p += $(k-1);
        if ($(k) ~ /^failed;?$/) f += $(k-1);
        if ($(k) ~ /^ignored;?$/) i += $(k-1);
      } } END { print p+0, f+0, i+0 }' "$LOGDIR/cargo-test.log")
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + i))
  if [[ $rc -ne 0 ]]; then
    problems+=("cargo test exited $rc")
    [[ $f -eq 0 ]] && failed=$((failed + 1))  # a build failure counts as a failure
  fi
else
  step "cargo test skipped (ECL_SKIP_RUST=1)"
fi

# ---- 3. Python venv ------------------------------------------------------------------------
want="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [[ ! -x "$VENV/bin/python" || "$(cat "$VENV/.requirements.sha256" 2>/dev/null)" != "$want" ]]; then
  step "creating Python venv $VENV from tests/clients/requirements.txt"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQ"
  echo "$want" > "$VENV/.requirements.sha256"
fi
PY="$VENV/bin/python"

# Runs pytest with junit output; adds its counts to the totals. Exit code 5 (nothing collected)
# is only accepted for suites that are allowed to be empty.
run_pytest() {
  local name="$1" allow_empty="$2"; shift 2
  step "pytest: $name"
  local xml="$LOGDIR/$name.xml" rc
  set +e
  ECL_BINARY="$BINARY" "$PY" -m pytest -p no:cacheprovider --junitxml="$xml" "$@"
  rc=$?
  set -e
  if [[ -f "$xml" ]]; then
    read -r t f e s < <("$PY" - "$xml" <<'PYEOF'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
tot = [sum(int(s.get(k, 0)) for s in suites) for k in ("tests", "failures", "errors", "skipped")]
print(*tot)
PYEOF
    )
    passed=$((passed + t - f - e - s)); failed=$((failed + f + e)); skipped=$((skipped + s))
  fi
  if [[ $rc -eq 5 && "$allow_empty" == yes ]]; then
    echo "($name: no tests collected)"
  elif [[ $rc -ne 0 ]]; then
    problems+=("pytest $name exited $rc")
    [[ ! -f "$xml" || $rc -ge 2 ]] && failed=$((failed + 1))
  fi
  return 0
}

workers="${ECL_PYTEST_WORKERS:-2}"
xdist=()
[[ "$workers" -gt 1 ]] && xdist=(-n "$workers")

# Our API suites are safe to run in parallel (each worker starts its own emulator).
run_pytest clients no tests/clients "${xdist[@]}" \
  --ignore=tests/clients/wire --ignore=tests/clients/memcached_compat --ignore=tests/clients/terraform
# The same suites against an emulator in `ports` addressing mode (one host, a port per endpoint:
# macOS and containers), where cluster redirects, auto discovery and failover must hold too.
export ECL_TEST_ADDRESSING=ports
run_pytest clients-ports-mode no tests/clients "${xdist[@]}" \
  --ignore=tests/clients/wire --ignore=tests/clients/memcached_compat --ignore=tests/clients/terraform
unset ECL_TEST_ADDRESSING
# Suites owned by other engineers run serially (they may start reference servers of their own):
# their pytest files, and their run.sh when they ship one (counted as one check).
for suite in wire memcached_compat redis_compat; do
  dir="tests/clients/$suite"
  [[ -d "$dir" ]] || continue
  if compgen -G "$dir/test_*.py" >/dev/null || compgen -G "$dir/*_test.py" >/dev/null; then
    run_pytest "$suite" yes "$dir"
  fi
  if [[ -f "$dir/run.sh" ]]; then
    step "$dir/run.sh"
    if ECL_BINARY="$BINARY" bash "$dir/run.sh"; then
      passed=$((passed + 1))
    else
      failed=$((failed + 1)); problems+=("$dir/run.sh failed")
    fi
  fi
done

# ---- 3b. differential oracle ----------------------------------------------------------------
# Seeded command sequences against redis-server and memcached, replies compared byte for byte
# (tests/differential/README.md); one check. Skipped when neither reference server is installed.
# The two engines run side by side, about 2 minutes each on 2 cores: Redis 4 seeds, Memcached 3
# (ECL_ORACLE_REDIS_SEEDS / ECL_ORACLE_MEMCACHED_SEEDS change that; each log prints its seeds).
if command -v redis-server >/dev/null 2>&1 || command -v memcached >/dev/null 2>&1; then
  seed="${ECL_ORACLE_SEED:-1}"
  step "differential oracle (ECL_ORACLE_SEED=$seed, ECL_ORACLE_SEQUENCES=${ECL_ORACLE_SEQUENCES:-default})"
  "$PY" tests/differential/oracle.py --engine redis --seed "$seed" \
    --seeds "${ECL_ORACLE_REDIS_SEEDS:-4}" > "$LOGDIR/oracle-redis.txt" 2>&1 &
  redis_oracle=$!
  "$PY" tests/differential/oracle.py --engine memcached --seed "$seed" \
    --seeds "${ECL_ORACLE_MEMCACHED_SEEDS:-3}" > "$LOGDIR/oracle-memcached.txt" 2>&1 &
  memcached_oracle=$!
  for engine in redis memcached; do
    pid="${engine}_oracle"
    set +e
    wait "${!pid}"
    rc=$?
    set -e
    cat "$LOGDIR/oracle-$engine.txt"
    # 77: that engine's reference server is not installed (the oracle said so above).
    if [[ $rc -eq 0 ]]; then
      passed=$((passed + 1))
    elif [[ $rc -eq 77 ]]; then
      skipped=$((skipped + 1))
    else
      failed=$((failed + 1)); problems+=("differential oracle ($engine) failed")
    fi
  done
else
  step "differential oracle skipped: neither redis-server nor memcached is installed"
  skipped=$((skipped + 1))
fi

# ---- 3c. redis' own Tcl suite ------------------------------------------------------------------
# Held-out: the units of tests/clients/redis_tcl/run.py's CI_UNITS against redis-server and our
# debug server, one check; about 8 minutes, run in the background beside Terraform (which mostly
# waits). Skipped (77) without Tcl or when Debian's redis source package cannot be fetched.
redis_tcl=""
if [[ "${ECL_SKIP_REDIS_TCL:-0}" == 1 ]]; then
  step "redis Tcl suite skipped (ECL_SKIP_REDIS_TCL=1)"
elif command -v redis-server >/dev/null 2>&1; then
  step "redis Tcl suite (CI units) started in the background: $LOGDIR/redis-tcl.txt"
  "$PY" tests/clients/redis_tcl/run.py --units ci --binary "$ROOT/target/debug/ecl-redis-server" \
    --out "$LOGDIR/redis-tcl" > "$LOGDIR/redis-tcl.txt" 2>&1 &
  redis_tcl=$!
fi

# ---- 3d. memcached's own Perl suite ------------------------------------------------------------
# Held-out: the files of tests/clients/memcached_t/run.py's CI_FILES against memcached 1.6.18
# and our debug ecl-memcached-server, one check; a few minutes, in the background beside the
# Tcl suite and Terraform. Skipped (77) without perl's prove or when Debian's memcached source
# package cannot be fetched.
memcached_t=""
if [[ "${ECL_SKIP_MEMCACHED_T:-0}" == 1 ]]; then
  step "memcached Perl suite skipped (ECL_SKIP_MEMCACHED_T=1)"
elif command -v memcached >/dev/null 2>&1; then
  step "memcached Perl suite (CI files) started in the background: $LOGDIR/memcached-t.txt"
  "$PY" tests/clients/memcached_t/run.py --files ci \
    --binary "$ROOT/target/debug/ecl-memcached-server" --out "$LOGDIR/memcached-t" \
    > "$LOGDIR/memcached-t.txt" 2>&1 &
  memcached_t=$!
fi

# ---- 4. Terraform --------------------------------------------------------------------------
if [[ "${ECL_SKIP_TERRAFORM:-0}" == 1 ]]; then
  step "Terraform suite skipped (ECL_SKIP_TERRAFORM=1)"
elif ! command -v terraform >/dev/null 2>&1; then
  step "Terraform suite skipped: terraform is not on PATH"
elif [[ -d tests/clients/terraform ]]; then
  # The provider spends its time in its waiters' fixed delays, not CPU: the eight configs run
  # side by side (each worker its own emulator), ~7 min instead of ~30 serially on 2 cores.
  run_pytest terraform yes tests/clients/terraform -rs -n "${ECL_TERRAFORM_WORKERS:-8}" --dist load
fi

# Waits for a held-out suite started in the background (its pid, its log name under $LOGDIR)
# and counts it as one check: 0 passed, 77 skipped (cannot run here), anything else failed.
wait_held_out() {
  local name="$1" pid="$2" log="$3" reference="$4" rc
  [[ -n "$pid" ]] || return 0
  step "$name: waiting for it"
  set +e
  wait "$pid"
  rc=$?
  set -e
  cat "$LOGDIR/$log.txt"
  [[ -f "$LOGDIR/$log/summary.md" ]] && cat "$LOGDIR/$log/summary.md"
  if [[ $rc -eq 0 ]]; then
    passed=$((passed + 1))
  elif [[ $rc -eq 77 ]]; then
    skipped=$((skipped + 1))
  else
    failed=$((failed + 1)); problems+=("$name: a test passes on $reference and not on ours")
  fi
  return 0
}
wait_held_out "redis Tcl suite (CI units)" "$redis_tcl" redis-tcl redis-server
wait_held_out "memcached Perl suite (CI files)" "$memcached_t" memcached-t memcached

# ---- 5. SDKs beyond Python -----------------------------------------------------------------
# Runs a Node test suite (`npm ci && node --test`, versions pinned by its package-lock.json) and
# adds its TAP counts; skipped with a message when node or npm is absent.
run_node_suite() {
  local name="$1" dir="$2" out="$LOGDIR/$3.tap" rc
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    step "$name skipped: node/npm are not on PATH"
    skipped=$((skipped + 1))
    return 0
  fi
  step "$name ($dir: npm ci && node --test)"
  if ! (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error); then
    failed=$((failed + 1)); problems+=("npm ci in $dir failed")
    return 0
  fi
  set +e
  (cd "$dir" && ECL_BINARY="$BINARY" ECL_LOG_DIR="$LOGDIR" node --test --test-reporter=tap) | tee "$out"
  rc=${PIPESTATUS[0]}
  set -e
  tap_count() { grep -E "^# $1 [0-9]+$" "$out" | tail -n 1 | awk '{print $3}'; }
  passed=$((passed + $(tap_count pass || echo 0))); failed=$((failed + $(tap_count fail || echo 0)))
  skipped=$((skipped + $(tap_count skipped || echo 0)))
  [[ $rc -ne 0 ]] && problems+=("$name exited $rc")
  return 0
}

# AWS SDK for JavaScript v3 + ioredis + node-redis (tests/sdk/js).
if [[ "${ECL_SKIP_JS:-0}" == 1 ]]; then
  step "JavaScript SDK suite skipped (ECL_SKIP_JS=1)"
else
  run_node_suite "JavaScript SDK suite" tests/sdk/js sdk-js
fi

# ---- 5b. job-queue frameworks -----------------------------------------------------------------
# BullMQ (tests/frameworks/bullmq: npm ci && node --test), Celery and RQ (tests/frameworks/python,
# pinned in tests/clients/requirements.txt) run unchanged on nodes created through the API and on
# redis-server 7.0.15, outcomes compared. BullMQ is skipped with a message when node/npm are absent.
if [[ "${ECL_SKIP_FRAMEWORKS:-0}" == 1 ]]; then
  step "framework suites skipped (ECL_SKIP_FRAMEWORKS=1)"
else
  run_node_suite "BullMQ suite" tests/frameworks/bullmq frameworks-bullmq
  run_pytest frameworks no tests/frameworks/python
fi

# The Rust AWS SDK (tests/sdk/rust: a crate outside the workspace, its own Cargo.lock and
# target/; a clean build took 1m35s on the 2-core development machine).
if [[ "${ECL_SKIP_RUST_SDK:-0}" == 1 ]]; then
  step "Rust SDK suite skipped (ECL_SKIP_RUST_SDK=1)"
else
  step "Rust SDK suite (tests/sdk/rust: cargo test --locked)"
  rs_out="$LOGDIR/sdk-rust.txt"
  set +e
  (cd tests/sdk/rust && ECL_BINARY="$BINARY" cargo test --locked) 2>&1 | tee "$rs_out"
  rc=${PIPESTATUS[0]}
  set -e
  read -r p f < <(awk '/^test result:/ {p += $4; f += $6} END {print p + 0, f + 0}' "$rs_out")
  passed=$((passed + p)); failed=$((failed + f))
  if [[ $rc -ne 0 ]]; then
    problems+=("Rust SDK suite exited $rc"); [[ $f -eq 0 ]] && failed=$((failed + 1))
  fi
fi

# ---- summary -------------------------------------------------------------------------------
echo
for p in "${problems[@]}"; do echo "problem: $p"; done
echo "logs: $LOGDIR"
echo "summary: $passed passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 && ${#problems[@]} -eq 0 ]]
