#!/usr/bin/env bash
# Sourced by the scripts that run PySpark locally (pytest.sh, pipeline-local.sh, bench-pipeline.sh):
# makes .venv with the pinned requirements (Glue 5.0 = Spark 3.5 on Python 3.11) and the
# Iceberg Spark runtime, then exports UNDERCURRENT_ICEBERG_JAR. Needs ROOT set and cwd = ROOT.

REQ="glue-scripts/requirements-dev.txt"
VENV=".venv"
STAMP="$VENV/.requirements.sha256"

if ! command -v java >/dev/null 2>&1 || ! java -version >/dev/null 2>&1; then
  echo "python-env: Java is required by pyspark but 'java -version' failed; install a JDK 17 (e.g. apt-get install -y openjdk-17-jre-headless)." >&2
  exit 1
fi

pick_python() {
  if command -v python3.11 >/dev/null 2>&1; then
    echo python3.11
  elif command -v python3 >/dev/null 2>&1 \
    && [ "$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')" = "3.11" ]; then
    echo python3
  else
    echo "python-env: Python 3.11 is required (Glue 5.0's Python); neither python3.11 nor a python3 3.11 was found." >&2
    return 1
  fi
}

want="$(sha256sum "$REQ" | cut -d' ' -f1)"
have="$(cat "$STAMP" 2>/dev/null || true)"

if [ ! -x "$VENV/bin/python" ]; then
  py="$(pick_python)"
  echo "python-env: creating $VENV with $py" >&2
  "$py" -m venv "$VENV"
  have=""
fi

if [ "$want" != "$have" ]; then
  echo "python-env: installing $REQ into $VENV" >&2
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$REQ"
  echo "$want" > "$STAMP"
fi

# The Apache Iceberg Spark runtime that Glue 5.0 ships (Iceberg 1.7.1 for Spark 3.5), from
# Maven Central, checked against its pinned SHA-256. The tests and the local pipeline put it
# on the local Spark's class path (glue-scripts/lib/undercurrent_glue/local_spark.py).
ICEBERG_JAR="$VENV/jars/iceberg-spark-runtime-3.5_2.12-1.7.1.jar"
ICEBERG_SHA256="cdf7357865d8d91764e0f147a2d76bc3e1e2b8792ddc0d3be329b3d34aaf218c"
ICEBERG_URL="https://repo1.maven.org/maven2/org/apache/iceberg/iceberg-spark-runtime-3.5_2.12/1.7.1/iceberg-spark-runtime-3.5_2.12-1.7.1.jar"
if [ ! -f "$ICEBERG_JAR" ] || [ "$(sha256sum "$ICEBERG_JAR" | cut -d' ' -f1)" != "$ICEBERG_SHA256" ]; then
  echo "python-env: downloading $ICEBERG_URL" >&2
  mkdir -p "$(dirname "$ICEBERG_JAR")"
  curl -fsSL --retry 3 -o "$ICEBERG_JAR.part" "$ICEBERG_URL"
  if [ "$(sha256sum "$ICEBERG_JAR.part" | cut -d' ' -f1)" != "$ICEBERG_SHA256" ]; then
    echo "python-env: $ICEBERG_URL does not have the pinned SHA-256 $ICEBERG_SHA256; refusing it." >&2
    rm -f "$ICEBERG_JAR.part"
    exit 1
  fi
  mv "$ICEBERG_JAR.part" "$ICEBERG_JAR"
fi
export UNDERCURRENT_ICEBERG_JAR="$ROOT/$ICEBERG_JAR"

