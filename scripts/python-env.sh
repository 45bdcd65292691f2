#!/usr/bin/env bash
# Sourced by the scripts that run PySpark locally (pytest.sh, pipeline-local.sh, bench-pipeline.sh):
# makes .venv with the pinned requirements (Glue 5.0 = Spark 3.5 on Python 3.11), the Iceberg Spark
# runtime and the local twin's jars, then exports UNDERCURRENT_ICEBERG_JAR and UNDERCURRENT_TWIN_JARS
# (colon-separated). Needs ROOT set and cwd = ROOT; mvn and a JDK 17 (javac, jar) for the jars.

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

# Jars, resolved by Maven coordinates from Maven Central with mvn (`dependency:copy-dependencies`
# of a POM written here, no transitive dependencies) into .venv/jars and checked against their
# pinned SHA-256:
# - the Apache Iceberg Spark runtime that Glue 5.0 ships (Iceberg 1.7.1 for Spark 3.5); the tests
#   and the local pipeline put it on the local Spark's class path (glue-scripts/local/spark.py);
# - for the local twin (glue-scripts/local/twin/): MySQL Connector/J, for the jobs' JDBC reads, and
#   sqlite-jdbc, under the twin's stand-in for the Glue Data Catalog.
JARS="$VENV/jars"
ICEBERG_COORDS="org.apache.iceberg:iceberg-spark-runtime-3.5_2.12:1.7.1"
ICEBERG_SHA256="cdf7357865d8d91764e0f147a2d76bc3e1e2b8792ddc0d3be329b3d34aaf218c"
MYSQL_COORDS="com.mysql:mysql-connector-j:9.4.0"
MYSQL_SHA256="49ed93c8b2bea9cb0929b85a8a28837b191d0f8eac6919fdcef16e36e2cd53b3"
SQLITE_COORDS="org.xerial:sqlite-jdbc:3.50.3.0"
SQLITE_SHA256="a3f53a2aa15ae9425a9e793bbe9c8e5288febeb4b65ef5c1a4e80d4c2045cf08"

# jar_path COORDS: where the jar of group:artifact:version goes.
jar_path() {
  local artifact version
  artifact="$(echo "$1" | cut -d: -f2)"
  version="$(echo "$1" | cut -d: -f3)"
  echo "$JARS/$artifact-$version.jar"
}

# fetch_jars COORDS SHA256 [COORDS SHA256 ...]: resolves, in one mvn run (one JVM, not one per
# jar), every jar that is not there with its SHA-256; refuses a jar whose SHA-256 differs.
fetch_jars() {
  local coords sha staging jar fetched group artifact version i missing=()
  while [ $# -gt 0 ]; do
    coords="$1" sha="$2"
    shift 2
    jar="$(jar_path "$coords")"
    if [ ! -f "$jar" ] || [ "$(sha256sum "$jar" | cut -d' ' -f1)" != "$sha" ]; then
      missing+=("$coords" "$sha")
    fi
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  if ! command -v mvn >/dev/null 2>&1; then
    echo "python-env: mvn is required to resolve the jars; install Maven (e.g. apt-get install -y maven)." >&2
    return 1
  fi
  mkdir -p "$JARS"
  staging="$(mktemp -d)"
  {
    echo '<project><modelVersion>4.0.0</modelVersion>'
    echo '<groupId>local</groupId><artifactId>undercurrent-jars</artifactId><version>0</version><dependencies>'
    for ((i = 0; i < ${#missing[@]}; i += 2)); do
      echo "python-env: resolving ${missing[i]}" >&2
      IFS=: read -r group artifact version <<<"${missing[i]}"
      echo "<dependency><groupId>$group</groupId><artifactId>$artifact</artifactId><version>$version</version></dependency>"
    done
    echo '</dependencies></project>'
  } >"$staging/pom.xml"
  if ! mvn -q -B -f "$staging/pom.xml" dependency:copy-dependencies -DexcludeTransitive=true \
      -DoutputDirectory="$staging/jars" >"$staging/mvn.log" 2>&1; then
    cat "$staging/mvn.log" >&2
    rm -rf "$staging"
    echo "python-env: mvn could not resolve ${missing[*]}." >&2
    return 1
  fi
  for ((i = 0; i < ${#missing[@]}; i += 2)); do
    jar="$(jar_path "${missing[i]}")"
    fetched="$staging/jars/$(basename "$jar")"
    if [ ! -f "$fetched" ] || [ "$(sha256sum "$fetched" | cut -d' ' -f1)" != "${missing[i + 1]}" ]; then
      rm -rf "$staging"
      echo "python-env: ${missing[i]} does not have the pinned SHA-256 ${missing[i + 1]}; refusing it." >&2
      return 1
    fi
    mv -f "$fetched" "$jar"
  done
  rm -rf "$staging"
}

# The jars resolve while the venv is made and filled (neither needs the other).
fetch_jars "$ICEBERG_COORDS" "$ICEBERG_SHA256" "$MYSQL_COORDS" "$MYSQL_SHA256" "$SQLITE_COORDS" "$SQLITE_SHA256" &
jars_pid=$!

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

if ! wait "$jars_pid"; then
  exit 1
fi
ICEBERG_JAR="$(jar_path "$ICEBERG_COORDS")"
MYSQL_JAR="$(jar_path "$MYSQL_COORDS")"
SQLITE_JAR="$(jar_path "$SQLITE_COORDS")"
export UNDERCURRENT_ICEBERG_JAR="$ROOT/$ICEBERG_JAR"

# The twin's JVM side (glue-scripts/local/twin/java: its s3:// file system and Glue catalog
# stand-in), compiled against pyspark's jars and the Iceberg runtime into one jar, again only
# when the sources, the requirements or the Iceberg jar change.
TWIN_SRC="glue-scripts/local/twin/java"
TWIN_JAR="$JARS/undercurrent-twin.jar"
TWIN_STAMP="$JARS/.undercurrent-twin.sha256"
twin_want="$( { echo "$want $ICEBERG_SHA256"; find "$TWIN_SRC" -name '*.java' -type f | LC_ALL=C sort | xargs sha256sum; } | sha256sum | cut -d' ' -f1)"
if [ ! -f "$TWIN_JAR" ] || [ "$twin_want" != "$(cat "$TWIN_STAMP" 2>/dev/null || true)" ]; then
  for tool in javac jar; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      echo "python-env: $tool is required to build the twin's jar; install a JDK 17 (e.g. apt-get install -y openjdk-17-jdk-headless)." >&2
      exit 1
    fi
  done
  echo "python-env: compiling $TWIN_JAR" >&2
  if ! pyspark_dir="$("$VENV/bin/python" -c 'import pyspark,os;print(os.path.dirname(pyspark.__file__))')"; then
    echo "python-env: cannot find pyspark in $VENV to compile the twin's jar against." >&2
    exit 1
  fi
  pyspark_jars="$pyspark_dir/jars"
  build="$(mktemp -d)"
  mkdir -p "$build/classes"
  find "$TWIN_SRC" -name '*.java' -type f | LC_ALL=C sort > "$build/sources"
  if ! javac -nowarn -Xlint:none -encoding UTF-8 --release 17 -cp "$pyspark_jars/*:$ICEBERG_JAR" \
      -d "$build/classes" "@$build/sources" >"$build/log" 2>&1; then
    cat "$build/log" >&2
    rm -rf "$build"
    echo "python-env: the twin's Java sources do not compile." >&2
    exit 1
  fi
  jar cf "$build/undercurrent-twin.jar" -C "$build/classes" .
  mv -f "$build/undercurrent-twin.jar" "$TWIN_JAR"
  rm -rf "$build"
  echo "$twin_want" > "$TWIN_STAMP"
fi
export UNDERCURRENT_TWIN_JARS="$ROOT/$TWIN_JAR:$ROOT/$MYSQL_JAR:$ROOT/$SQLITE_JAR"
