#!/usr/bin/env bash
# Runs the PySpark unit tests of glue-scripts/ in a local virtualenv (.venv).
# Usage: scripts/pytest.sh [pytest options] [test paths]   (works from any cwd; default: every test)
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

PYTHONDONTWRITEBYTECODE=1 exec "$VENV/bin/python" -m pytest "${targets[@]}" -q -p no:cacheprovider "$@"
