#!/usr/bin/env bash
# Runs the PySpark unit tests of glue-scripts/ in a local virtualenv (.venv).
# Usage: scripts/pytest.sh [pytest options] [test paths]   (works from any cwd; default: every test)
# The tests run in two processes (pytest-xdist: -n 2 --dist loadfile, each file whole in one
# process, each process with its own local Spark, the longest files first); -n 0 runs them in
# this one (e.g. with -s or pdb).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# shellcheck source=scripts/python-env.sh
source scripts/python-env.sh

# Test paths given as arguments replace the default (every test under glue-scripts/tests).
targets=(glue-scripts/tests)
for arg in "$@"; do
  if [ -e "${arg%%::*}" ]; then targets=(); fi
done

# Two workers by default; an -n/--numprocesses or --dist given here wins (pytest keeps the last).
# --no-loadscope-reorder keeps the files in the order of conftest.py's LONGEST_FIRST: by default
# pytest-xdist hands out the files with the most tests first, which started the longest file
# (test_pipeline_local.py, a few tests) last, in one process while the other had finished.
workers=(-n 2 --dist loadfile --no-loadscope-reorder)
for arg in "$@"; do
  if [ "$arg" = "no:xdist" ]; then workers=(); fi
done

PYTHONDONTWRITEBYTECODE=1 exec "$VENV/bin/python" -m pytest "${targets[@]}" -q -p no:cacheprovider "${workers[@]}" "$@"
