#!/usr/bin/env bash
# Runs the PySpark unit tests of glue-scripts/ in a local virtualenv (.venv).
# Usage: scripts/pytest.sh [pytest options] [test paths]   (works from any cwd; default: every test)
# The tests run in two processes (pytest-xdist: -n 2 --dist loadfile, each file whole in one
# process, each process with its own local Spark); -n 0 runs them in this one (e.g. with -s or pdb).
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
workers=(-n 2 --dist loadfile)
for arg in "$@"; do
  if [ "$arg" = "no:xdist" ]; then workers=(); fi
done

PYTHONDONTWRITEBYTECODE=1 exec "$VENV/bin/python" -m pytest "${targets[@]}" -q -p no:cacheprovider "${workers[@]}" "$@"
