#!/usr/bin/env bash
# `npm run twin -- -c env=dev [-c key=value ...] [--scale N] [--workdir DIR]`: the local twin (bin/twin.ts), with
# the Python venv, the Iceberg runtime and the twin's jars prepared by scripts/python-env.sh.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# shellcheck source=scripts/python-env.sh
source scripts/python-env.sh

UNDERCURRENT_PYTHON="$ROOT/$VENV/bin/python" exec npx tsx bin/twin.ts "$@"
