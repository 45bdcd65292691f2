"""The twin's ``awsglue`` reading a real MariaDB over verified TLS: bookmarks, hash partitions, TLS.

The scenarios run one after the other in one fresh Python process (this file, run as a script)
whose local Spark has MySQL Connector/J on the driver class path (the session the other tests
share has no JDBC driver); each test checks the output of its scenario. The MariaDB server comes from
``scripts/mariadb.sh`` (TLS required, a throwaway CA, UTC); the tests fail, with what to install,
when it, the MariaDB server or the Connector/J jar (``$UNDERCURRENT_TWIN_JARS``, ``.venv/jars`` or
the local Maven cache) is missing. The real extract job through ``run_job.py`` is run by the
twin's end-to-end test (test/twin/twin.test.ts).
"""

from __future__ import annotations

import getpass
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import traceback
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from twin_support import load_awsglue

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

GLUE_SCRIPTS = Path(__file__).resolve().parents[2]
ROOT = GLUE_SCRIPTS.parent
LIB = GLUE_SCRIPTS / "lib"
MARIADB_SH = ROOT / "scripts" / "mariadb.sh"
JOB = "SourceExtract"
DATABASE = "src"
SCENARIO_TIMEOUT = 600


def connector_jar() -> str | None:
    """MySQL Connector/J: from ``$UNDERCURRENT_TWIN_JARS`` (colon-separated), .venv/jars or ~/.m2."""
    listed = os.environ.get("UNDERCURRENT_TWIN_JARS", "").split(os.pathsep)
    candidates = [j for j in listed if "mysql-connector" in Path(j).name and Path(j).is_file()]
    candidates += sorted(glob.glob(str(ROOT / ".venv" / "jars" / "mysql-connector-j-*.jar")))
    candidates += sorted(glob.glob(str(Path.home() / ".m2/repository/com/mysql/mysql-connector-j/*/mysql-connector-j-*.jar")))
    return candidates[0] if candidates else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# --- pytest side -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A MariaDB server with database ``src`` and a SELECT-only user ``extract``; stopped afterwards."""
    if not MARIADB_SH.is_file() or not shutil.which("openssl"):
        pytest.fail("scripts/mariadb.sh or openssl is missing (apt-get install -y openssl)")
    if not (shutil.which("mariadbd") or Path("/usr/sbin/mariadbd").exists()):
        pytest.fail("mariadb-server is not installed: apt-get install -y mariadb-server (.ci/run does)")
    jar = connector_jar()
    if jar is None:
        pytest.fail("MySQL Connector/J not found ($UNDERCURRENT_TWIN_JARS or ~/.m2): source scripts/python-env.sh")
    base = tmp_path_factory.mktemp("mariadb")
    directory = base / "db"
    started = subprocess.run(
        ["bash", str(MARIADB_SH), "start", str(directory), str(_free_port())], capture_output=True, text=True, timeout=120
    )
    if started.returncode != 0:
        pytest.fail(f"mariadb.sh start failed: {started.stderr}")
    info = json.loads(started.stdout.strip().splitlines()[-1])
    try:
        password = "extract-" + os.urandom(12).hex()
        _sql(
            info,
            f"CREATE DATABASE {DATABASE}; CREATE USER 'extract'@'127.0.0.1' IDENTIFIED BY '{password}'; "
            f"GRANT SELECT ON {DATABASE}.* TO 'extract'@'127.0.0.1';",
        )
        other_ca = base / "other-ca.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "1", "-keyout", str(base / "other-key.pem"),
             "-out", str(other_ca), "-subj", "/CN=Some other CA", "-addext", "basicConstraints=critical,CA:TRUE"],
            check=True, capture_output=True,
        )
        url = f"jdbc:mysql://127.0.0.1:{info['port']}/{DATABASE}"
        connections = {
            "source": {"url": url, "user": "extract", "password": password, "enforceSsl": True, "caFile": info["caFile"]},
            "wrong-ca": {"url": url, "user": "extract", "password": password, "enforceSsl": True, "caFile": str(other_ca)},
            "no-ca": {"url": url, "user": "extract", "password": password, "enforceSsl": True},
        }
        connections_file = base / "connections.json"
        connections_file.write_text(json.dumps(connections))
        yield {"info": info, "jar": jar, "connections": str(connections_file), "base": str(base)}
    finally:
        subprocess.run(["bash", str(MARIADB_SH), "stop", str(directory)], capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def scenarios(server: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every scenario, one after the other in one fresh process (one JVM start, not one per test),
    each with its own work directory (bookmarks) and warehouse: their outputs or errors by name."""
    from local.twin.spark import TWIN_JVM_OPTIONS  # the pytest side only: a scenario process imports local later

    base = tmp_path_factory.mktemp("scenarios")
    params: dict[str, Any] = {}
    for name in SCENARIOS:
        (base / name / "work").mkdir(parents=True)
        params[name] = {"info": server["info"], "warehouse": str(base / name / "warehouse"), "work": str(base / name / "work")}
    params_file, out_file = base / "params.json", base / "out.json"
    params_file.write_text(json.dumps(params))
    env = dict(
        os.environ,
        PYSPARK_SUBMIT_ARGS=f"--driver-class-path {server['jar']} pyspark-shell",
        # A fresh JVM for a few queries, like the twin's job runs: the same options (client compiler
        # only, no bytecode verification, serial collector), which take less CPU to start and
        # change no result.
        SPARK_SUBMIT_OPTS=" ".join(TWIN_JVM_OPTIONS),
        UNDERCURRENT_TWIN_CONNECTIONS=server["connections"],
    )
    done = subprocess.run(
        [sys.executable, __file__, str(params_file), str(out_file)],
        env=env, capture_output=True, text=True, timeout=SCENARIO_TIMEOUT,
    )
    if done.returncode != 0:
        pytest.fail(f"the scenario process failed ({done.returncode}):\n{done.stderr[-6000:]}")
    outputs: dict[str, Any] = json.loads(out_file.read_text())
    return outputs


def run_scenario(scenarios: dict[str, Any], name: str) -> dict[str, Any]:
    """The output of scenario ``name``; the test fails with the scenario's error if it raised one."""
    out: dict[str, Any] = scenarios[name]
    if "error" in out:
        pytest.fail(f"scenario {name} failed:\n{out['error'][-6000:]}")
    return out


def test_bookmarks_read_only_past_the_last_commit(scenarios):
    out = run_scenario(scenarios, "bookmarks")

    assert out["run1"] == [1, 2, 3, 4, 5]
    assert out["run1_partitions"] == 3  # the declared hashpartitions
    assert out["schema"] == "struct<id:int,name:string,grp:int,updated_at:timestamp>"
    assert out["first_updated_at"] == "2025-01-01 00:00:00.001000"  # the UTC instant MySQL holds
    entry = out["bookmark1"]["entries"]["extract_events"]
    assert entry["values"] == [{"type": "timestamp", "text": "2025-01-01 00:00:00.005"}]
    assert entry["jobBookmarkKeys"] == ["updated_at"] and entry["runId"] == "jr_1"

    assert out["run2"] == [6, 7]  # only the rows past the bookmark ...
    assert out["bookmark2"] == out["bookmark1"]  # ... and no commit: the bookmark did not move,
    assert out["run3"] == [6, 7]  # so the next run reads them again;
    assert out["run3_again"] == [6, 7]  # a row inserted after the read was planned is not in it, even re-evaluated.
    assert out["bookmark3"]["entries"]["extract_events"]["values"][0]["text"] == "2025-01-01 00:00:00.007"

    assert out["run4_paused"] == [8]
    assert out["bookmark4"] == out["bookmark3"]  # pause reads past the bookmark but does not move it
    assert out["run5"] == [8]
    assert out["run6"] == []  # nothing new
    assert out["bookmark6"]["entries"]["extract_events"]["values"][0]["text"] == "2025-01-01 00:00:00.008"
    assert out["bookmark6"]["run"] == 4  # runs 1, 3, 5, 6 committed
    assert out["bookmark6"]["entries"]["extract_events"]["runId"] == "jr_5"  # the run that moved it

    assert out["run7_disabled"] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert out["run8_no_ctx"] == [1, 2, 3, 4, 5, 6, 7, 8]  # no transformation_ctx: whole table, nothing kept
    assert set(out["bookmark8"]["entries"]) == {"extract_events"}

    # Compound key (updated_at, id) with ties on updated_at.
    assert out["ticks1"] == [1, 2, 3]
    assert out["ticks2"] == [4, 5]
    assert [v["text"] for v in out["ticks_bookmark"]["values"]] == ["2025-01-01 00:00:01.000", "5"]


def test_hash_partitions_read_every_row_once(scenarios):
    out = run_scenario(scenarios, "hash")

    assert out["partitions"] == 5
    assert sorted(out["ids"]) == list(range(1, 201))  # every row, none twice
    assert out["partition_of"] == out["expected_partition_of"]  # MOD(CRC32(code), 5), NULLs in 0
    assert all(out["sizes"][str(p)] > 0 for p in range(5))
    assert out["default_partitions"] == 7

    assert out["bookmarked_partitions"] == 4
    assert sorted(out["bookmarked_ids"]) == list(range(1, 201))
    assert sorted(out["bookmarked_next"]) == list(range(201, 211))


def test_tls_is_verified(scenarios):
    out = run_scenario(scenarios, "tls")

    assert out["ssl_mode"] == "VERIFY_IDENTITY"
    assert out["ssl_version"] in ("TLSv1.2", "TLSv1.3")
    assert out["rows_with_right_ca"] == 1
    # The server's certificate does not chain to another CA: the read fails, nothing falls back.
    assert out["wrong_ca_error"] is not None
    assert any(s in out["wrong_ca_error"] for s in ("PKIX", "certification path", "unable to find valid certification"))
    assert "caFile None is not a file" in out["no_ca_error"]
    assert "is not one of the job's connections" in out["unknown_connection_error"]
    assert out["truststore_removed"] is False  # kept while the process runs, removed at exit


# --- scenario side (a fresh process) -----------------------------------------------------------


def _sql(info: dict[str, Any], statements: str) -> None:
    client = shutil.which("mariadb") or "/usr/bin/mariadb"
    subprocess.run(
        [client, "--no-defaults", "--protocol=socket", f"--socket={info['socket']}", f"--user={getpass.getuser()}",
         "--batch", "-e", statements],
        check=True, capture_output=True, text=True,
    )


def _run(spark: SparkSession, run_id: str, option: str) -> tuple[Any, Any]:
    from awsglue.context import GlueContext
    from awsglue.job import Job

    glue = GlueContext(spark.sparkContext)
    job = Job(glue)
    job.init(JOB, {"JOB_NAME": JOB, "JOB_RUN_ID": run_id, "job_bookmark_option": option})
    return glue, job


def _read(glue: Any, options: dict[str, Any], ctx: str = "") -> DataFrame:
    frame = glue.create_dynamic_frame.from_options(connection_type="mysql", connection_options=options, transformation_ctx=ctx)
    df: DataFrame = frame.toDF()
    return df


def _ids(df: DataFrame) -> list[int]:
    return sorted(r["id"] for r in df.select("id").collect())


def _bookmark(params: dict[str, Any]) -> dict[str, Any]:
    path = Path(params["work"]) / "bookmarks" / f"{JOB}.json"
    bookmark: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    return bookmark


def _events_plan():
    from undercurrent_glue.extract import ExtractPlan

    return ExtractPlan(
        table="events", mode="incremental", columns=("id", "name", "grp", "updated_at"), primary_key=("id",),
        bookmark_keys=("updated_at",), hash_field="id", hash_partitions=3,
    )


def scenario_bookmarks(spark: SparkSession, params: dict[str, Any]) -> dict[str, Any]:
    from undercurrent_glue.extract import jdbc_connection_options

    info = params["info"]
    _sql(info, f"""
        CREATE TABLE {DATABASE}.events (id INT PRIMARY KEY, name VARCHAR(20), grp INT NULL, updated_at TIMESTAMP(3) NOT NULL);
        INSERT INTO {DATABASE}.events VALUES
          (1, 'a', 1, '2025-01-01 00:00:00.001'), (2, 'b', 2, '2025-01-01 00:00:00.002'),
          (3, 'c', NULL, '2025-01-01 00:00:00.003'), (4, 'd', 4, '2025-01-01 00:00:00.004'),
          (5, 'e', 5, '2025-01-01 00:00:00.005');""")
    options = jdbc_connection_options(_events_plan(), "source", DATABASE)
    ctx = "extract_events"
    out: dict[str, Any] = {}

    glue, job = _run(spark, "jr_1", "job-bookmark-enable")
    df = _read(glue, options, ctx)
    out["run1"], out["run1_partitions"], out["schema"] = _ids(df), df.rdd.getNumPartitions(), df.schema.simpleString()
    out["first_updated_at"] = str(df.where("id = 1").collect()[0]["updated_at"])
    job.commit()
    out["bookmark1"] = _bookmark(params)

    _sql(info, f"INSERT INTO {DATABASE}.events VALUES (6, 'f', 6, '2025-01-01 00:00:00.006'), (7, 'g', 7, '2025-01-01 00:00:00.007');")
    glue, job = _run(spark, "jr_2", "job-bookmark-enable")
    out["run2"] = _ids(_read(glue, options, ctx))  # the run fails here: no commit
    out["bookmark2"] = _bookmark(params)

    glue, job = _run(spark, "jr_3", "job-bookmark-enable")
    df = _read(glue, options, ctx)
    _sql(info, f"INSERT INTO {DATABASE}.events VALUES (8, 'h', 8, '2025-01-01 00:00:00.008');")
    out["run3"] = _ids(df)
    out["run3_again"] = _ids(df)
    job.commit()
    out["bookmark3"] = _bookmark(params)

    glue, job = _run(spark, "jr_4", "job-bookmark-pause")
    out["run4_paused"] = _ids(_read(glue, options, ctx))
    job.commit()
    out["bookmark4"] = _bookmark(params)

    glue, job = _run(spark, "jr_5", "job-bookmark-enable")
    out["run5"] = _ids(_read(glue, options, ctx))
    job.commit()
    glue, job = _run(spark, "jr_6", "job-bookmark-enable")
    out["run6"] = _ids(_read(glue, options, ctx))
    job.commit()
    out["bookmark6"] = _bookmark(params)

    glue, job = _run(spark, "jr_7", "job-bookmark-disable")
    out["run7_disabled"] = _ids(_read(glue, options, ctx))
    job.commit()
    glue, job = _run(spark, "jr_8", "job-bookmark-enable")
    out["run8_no_ctx"] = _ids(_read(glue, options, ""))
    job.commit()
    out["bookmark8"] = _bookmark(params)

    _sql(info, f"""
        CREATE TABLE {DATABASE}.ticks (id INT PRIMARY KEY, updated_at TIMESTAMP(3) NOT NULL);
        INSERT INTO {DATABASE}.ticks VALUES (1, '2025-01-01 00:00:00.500'), (2, '2025-01-01 00:00:01'), (3, '2025-01-01 00:00:01');""")
    ticks = {"useConnectionProperties": "true", "connectionName": "source", "dbtable": f"{DATABASE}.ticks",
             "jobBookmarkKeys": ["updated_at", "id"], "jobBookmarkKeysSortOrder": "asc"}
    glue, job = _run(spark, "jr_9", "job-bookmark-enable")
    out["ticks1"] = _ids(_read(glue, ticks, "ticks"))
    job.commit()
    _sql(info, f"INSERT INTO {DATABASE}.ticks VALUES (4, '2025-01-01 00:00:01'), (5, '2025-01-01 00:00:01');")
    glue, job = _run(spark, "jr_10", "job-bookmark-enable")
    out["ticks2"] = _ids(_read(glue, ticks, "ticks"))
    job.commit()
    out["ticks_bookmark"] = _bookmark(params)["entries"]["ticks"]
    return out


def scenario_hash(spark: SparkSession, params: dict[str, Any]) -> dict[str, Any]:
    from pyspark.sql import functions as F

    from undercurrent_glue.extract import ExtractPlan, jdbc_connection_options

    info = params["info"]
    rows = ", ".join(
        f"({i}, {'NULL' if i % 17 == 0 else repr(f'C{i * 7919 % 1000:03d}')}, '2025-01-01 00:00:{i % 60:02d}.{i:03d}')"
        for i in range(1, 201)
    )
    _sql(info, f"""
        CREATE TABLE {DATABASE}.items (id INT PRIMARY KEY, code VARCHAR(10) NULL, updated_at TIMESTAMP(3) NOT NULL);
        INSERT INTO {DATABASE}.items VALUES {rows};""")
    codes = {i: (None if i % 17 == 0 else f"C{i * 7919 % 1000:03d}") for i in range(1, 201)}
    out: dict[str, Any] = {}
    glue, job = _run(spark, "jr_1", "job-bookmark-enable")
    base = {"useConnectionProperties": "true", "connectionName": "source", "dbtable": f"{DATABASE}.items"}
    df = _read(glue, dict(base, hashfield="code", hashpartitions="5"))
    out["partitions"] = df.rdd.getNumPartitions()
    tagged = df.select("id", F.spark_partition_id().alias("p")).collect()
    out["ids"] = [r["id"] for r in tagged]
    out["partition_of"] = {str(r["id"]): r["p"] for r in tagged}
    out["expected_partition_of"] = {
        str(i): (0 if code is None else zlib.crc32(code.encode("utf-8")) % 5) for i, code in codes.items()
    }
    sizes: dict[str, int] = {}
    for r in tagged:
        sizes[str(r["p"])] = sizes.get(str(r["p"]), 0) + 1
    out["sizes"] = sizes
    out["default_partitions"] = _read(glue, dict(base, hashfield="code")).rdd.getNumPartitions()

    plan = ExtractPlan(
        table="items", mode="incremental", columns=("id", "code", "updated_at"), primary_key=("id",),
        bookmark_keys=("updated_at",), hash_field="id", hash_partitions=4,
    )
    options = jdbc_connection_options(plan, "source", DATABASE)
    df = _read(glue, options, "extract_items")
    out["bookmarked_partitions"] = df.rdd.getNumPartitions()
    out["bookmarked_ids"] = _ids(df)
    job.commit()
    more = ", ".join(f"({i}, 'N{i}', '2025-01-02 00:00:00.{i:03d}')" for i in range(201, 211))
    _sql(info, f"INSERT INTO {DATABASE}.items VALUES {more};")
    glue, job = _run(spark, "jr_2", "job-bookmark-enable")
    out["bookmarked_next"] = [r["id"] for r in _read(glue, options, "extract_items").select("id").collect()]
    return out


def scenario_tls(spark: SparkSession, params: dict[str, Any]) -> dict[str, Any]:
    import awsglue._jdbc as jdbc

    info = params["info"]
    _sql(info, f"CREATE TABLE {DATABASE}.one (id INT PRIMARY KEY); INSERT INTO {DATABASE}.one VALUES (1);")
    out: dict[str, Any] = {}
    glue, job = _run(spark, "jr_1", "job-bookmark-disable")
    url, properties = jdbc._connection_properties(glue, "source")
    out["ssl_mode"] = properties["sslMode"]
    status = (
        spark.read.format("jdbc").option("url", url)
        .option("query", "SELECT VARIABLE_VALUE AS v FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'Ssl_version'")
        .options(**properties).load().collect()
    )
    out["ssl_version"] = status[0]["v"]
    base = {"useConnectionProperties": "true", "dbtable": f"{DATABASE}.one"}
    out["rows_with_right_ca"] = _read(glue, dict(base, connectionName="source")).count()

    def failure(connection: str) -> str | None:
        try:
            _read(glue, dict(base, connectionName=connection)).count()
        except Exception as error:  # noqa: BLE001 - the message is the result
            return f"{type(error).__name__}: {error}"[:20000]
        return None

    out["wrong_ca_error"] = failure("wrong-ca")
    out["no_ca_error"] = failure("no-ca")
    out["unknown_connection_error"] = failure("not-a-connection")
    store = Path(properties["trustCertificateKeyStoreUrl"][len("file://"):])
    out["truststore_removed"] = not store.exists()
    return out


SCENARIOS = {"bookmarks": scenario_bookmarks, "hash": scenario_hash, "tls": scenario_tls}


def _scenario_main(argv: list[str]) -> int:
    params_file, out_file = argv
    params = json.loads(Path(params_file).read_text())
    for path in (LIB, GLUE_SCRIPTS):
        sys.path.insert(0, str(path))
    load_awsglue()
    from local.spark import local_spark

    outputs: dict[str, Any] = {}
    for name, scenario in SCENARIOS.items():
        os.environ["UNDERCURRENT_TWIN_WORK"] = params[name]["work"]  # read by the stand-in on each use
        spark = local_spark(Path(params[name]["warehouse"]), app_name=f"awsglue-jdbc-{name}", cores=1)  # as the spark fixture
        try:
            outputs[name] = scenario(spark, params[name])
        except Exception:  # noqa: BLE001 - reported to the scenario's test, the others still run
            outputs[name] = {"error": traceback.format_exc()}
        finally:
            spark.stop()
    Path(out_file).write_text(json.dumps(outputs, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(_scenario_main(sys.argv[1:]))
