#!/usr/bin/env bash
# `npm run pipeline:local`: glue-scripts/local/pipeline.py on a local Spark (same venv and Iceberg runtime as the tests).
# Usage: scripts/pipeline-local.sh [--scale N] [other options of glue-scripts/local/pipeline.py]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# shellcheck source=scripts/python-env.sh
source scripts/python-env.sh

PYTHONDONTWRITEBYTECODE=1 exec "$VENV/bin/python" glue-scripts/local/pipeline.py "$@"
