#!/usr/bin/env bash
# Lints and type-checks glue-scripts/ (ruff, then mypy), with the settings of
# glue-scripts/pyproject.toml and the tools pinned in glue-scripts/requirements-dev.txt.
# Usage: scripts/lint-python.sh   (works from any cwd; exits non-zero on any finding)
# Needs .venv with the requirements installed (scripts/pytest.sh makes it, or
# .venv/bin/pip install -r glue-scripts/requirements-dev.txt).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

CONFIG="glue-scripts/pyproject.toml"
VENV=".venv"

for tool in "$VENV/bin/ruff" "$VENV/bin/python"; do
  if [ ! -x "$tool" ]; then
    echo "lint-python: $tool is missing; install glue-scripts/requirements-dev.txt into $VENV." >&2
    exit 1
  fi
done

# ruff reads glue-scripts/pyproject.toml as the closest configuration of the files under
# glue-scripts/ (passing it with --config would resolve its relative paths, such as the isort
# first-party src directories, against the cwd instead of glue-scripts/).
run() {
  echo "+ $*" >&2
  "$@"
}

status=0
run "$VENV/bin/ruff" check --no-fix glue-scripts || status=1
run "$VENV/bin/python" -m mypy --config-file "$CONFIG" || status=1
exit "$status"
