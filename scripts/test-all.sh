#!/usr/bin/env bash
# `npm test`: every check of the project, in order: the Python environment (.venv with pinned
# pyspark, the Iceberg runtime and the twin's jars, made on first run by scripts/python-env.sh),
# type-check, lint, the TypeScript tests (jest: constructs, stacks, nag, config, snapshots, and
# the local twin of dev, which runs the PySpark jobs on a local MariaDB) and the PySpark tests
# (pytest on a local Spark).
# Every step runs even when an earlier one fails; the last line sums up all tests.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

results=".test-results"
rm -rf "$results" && mkdir -p "$results"
status=0
step() {
  echo "==> $*"
  "$@" || status=1
}

ROOT="$(pwd)"
echo "==> scripts/python-env.sh"
# In a subshell first: the script exits on failure; sourced again (a no-op then) for its exports.
if ( source scripts/python-env.sh ); then
  source scripts/python-env.sh
  export UNDERCURRENT_PYTHON="$ROOT/$VENV/bin/python"
else
  status=1
fi
step npx tsc --noEmit
step npx eslint .
step npx jest --ci --json --outputFile="$results/jest.json"
step bash scripts/pytest.sh --junitxml="$results/pytest.xml"
npx tsx scripts/test-summary.ts "$results" || status=1
exit "$status"
