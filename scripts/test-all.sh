#!/usr/bin/env bash
# `npm test`: every check of the project, in order: type-check, lint, the TypeScript tests
# (jest: constructs, stacks, nag, config, snapshots) and the PySpark tests (pytest on a
# local Spark; scripts/pytest.sh creates .venv with pinned pyspark on first run).
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

step npx tsc --noEmit
step npx eslint .
step npx jest --ci --json --outputFile="$results/jest.json"
step bash scripts/pytest.sh --junitxml="$results/pytest.xml"
npx tsx scripts/test-summary.ts "$results" || status=1
exit "$status"
