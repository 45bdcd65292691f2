#!/usr/bin/env bash
# Runs the PySpark unit tests of glue-scripts/ in a local virtualenv (.venv).
# Usage: scripts/pytest.sh [extra pytest args]   (works from any cwd)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

REQ="glue-scripts/requirements-dev.txt"
VENV=".venv"
STAMP="$VENV/.requirements.sha256"

if ! command -v java >/dev/null 2>&1 || ! java -version >/dev/null 2>&1; then
  echo "scripts/pytest.sh: Java is required by pyspark but 'java -version' failed; install a JDK 17 (e.g. apt-get install -y openjdk-17-jre-headless)." >&2
  exit 1
fi

pick_python() {
  if command -v python3.11 >/dev/null 2>&1; then
    echo python3.11
  elif command -v python3 >/dev/null 2>&1 \
    && [ "$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')" = "3.11" ]; then
    echo python3
  else
    echo "scripts/pytest.sh: Python 3.11 is required (Glue 5.0's Python); neither python3.11 nor a python3 3.11 was found." >&2
    return 1
  fi
}

want="$(sha256sum "$REQ" | cut -d' ' -f1)"
have="$(cat "$STAMP" 2>/dev/null || true)"

if [ ! -x "$VENV/bin/python" ]; then
  py="$(pick_python)"
  echo "scripts/pytest.sh: creating $VENV with $py" >&2
  "$py" -m venv "$VENV"
  have=""
fi

if [ "$want" != "$have" ]; then
  echo "scripts/pytest.sh: installing $REQ into $VENV" >&2
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$REQ"
  echo "$want" > "$STAMP"
fi

PYTHONDONTWRITEBYTECODE=1 exec "$VENV/bin/python" -m pytest glue-scripts/tests -q -p no:cacheprovider "$@"
