#!/usr/bin/env bash
# `npm run bench:pipeline`: glue-scripts/local/bench.py on a local Spark (same venv and Iceberg runtime as the tests).
# Usage: scripts/bench-pipeline.sh [--scale N] [other options of glue-scripts/local/bench.py]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# shellcheck source=scripts/python-env.sh
source scripts/python-env.sh

PYTHONDONTWRITEBYTECODE=1 exec "$VENV/bin/python" glue-scripts/local/bench.py "$@"
