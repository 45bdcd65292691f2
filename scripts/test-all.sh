#!/usr/bin/env bash
# `npm test`: every check of the project. The Python environment (.venv with pinned pyspark, the
# Iceberg runtime and the twin's jars, made on first run by scripts/python-env.sh) is made while
# the TypeScript is type-checked and linted; then the TypeScript tests (jest, two workers:
# constructs, stacks, config, snapshots under the nag packs, and the local twin of dev, which runs
# the PySpark jobs on a local MariaDB), with the Python lint (ruff, mypy) beside them; then the
# PySpark tests (pytest on a local Spark, two processes). jest and pytest one after the other,
# not side by side: each already keeps both cores busy, and side by side the same tests took
# about a fifth more CPU and longer (docs/testing.md#how-long-it-takes).
# Every step runs even when an earlier one fails; the phases' times, then one line per runner
# and a last line summing up all tests, close the output.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

results=".test-results"
rm -rf "$results" && mkdir -p "$results"
status=0
failed_steps=()
started=$(date +%s.%N)
timings=()

# elapsed SINCE: seconds since SINCE (a date +%s.%N), one decimal.
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# step NAME COMMAND...: runs COMMAND in the foreground, records its time, never stops the run.
step() {
  local name="$1" since rc
  shift
  echo "==> $name"
  since=$(date +%s.%N)
  "$@"
  rc=$?
  timings+=("$(printf '%-28s %7ss%s' "$name" "$(elapsed "$since")" "$([ "$rc" -eq 0 ] || echo '  FAILED')")")
  [ "$rc" -eq 0 ] || { status=1; failed_steps+=("$name"); }
}

# background NAME COMMAND...: starts COMMAND with its output in $results/NAME.log; `finish NAME`
# waits for it, prints the log and records its time.
declare -A pids since_of
background() {
  local name="$1"
  shift
  since_of[$name]=$(date +%s.%N)
  "$@" >"$results/$name.log" 2>&1 &
  pids[$name]=$!
}
finish() {
  local name="$1" rc
  wait "${pids[$name]}"
  rc=$?
  echo "==> $name"
  cat "$results/$name.log"
  timings+=("$(printf '%-28s %7ss%s' "$name" "$(elapsed "${since_of[$name]}")" "$([ "$rc" -eq 0 ] || echo '  FAILED')")")
  [ "$rc" -eq 0 ] || { status=1; failed_steps+=("$name"); }
  return "$rc"
}

export ROOT="$(pwd)"
# In a subshell (the script exits on failure); sourced again afterwards, a no-op then, for its exports.
background python-env bash -c 'source scripts/python-env.sh'
step "tsc --noEmit" npx tsc --noEmit
step "eslint" npx eslint .
python_ready=0
if finish python-env; then
  source scripts/python-env.sh
  export UNDERCURRENT_PYTHON="$ROOT/$VENV/bin/python"
  python_ready=1
fi

# The Python lint (a few seconds of CPU) runs beside jest rather than before it.
if [ "$python_ready" -eq 1 ]; then
  background "ruff + mypy" bash scripts/lint-python.sh
fi
# Without Python, jest still runs (its twin test fails, saying what is missing).
step jest npx jest --ci --json --outputFile="$results/jest.json"
if [ "$python_ready" -eq 1 ]; then
  finish "ruff + mypy"
  step pytest bash scripts/pytest.sh --junitxml="$results/pytest.xml"
fi

echo
echo "Phases (wall clock; python-env beside tsc and eslint, ruff + mypy beside jest):"
printf '  %s\n' "${timings[@]}"
printf '  %-28s %7ss\n' "npm test" "$(elapsed "$started")"
if [ ${#failed_steps[@]} -gt 0 ]; then
  echo "failed steps: $(IFS=,; echo "${failed_steps[*]}" | sed 's/,/, /g')"
fi
npx tsx scripts/test-summary.ts "$results" || status=1
exit "$status"
