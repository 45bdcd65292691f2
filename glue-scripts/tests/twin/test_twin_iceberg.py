"""An Iceberg table through the twin's stand-in for the Glue Data Catalog, across two processes.

The job's ``--conf`` is the templates' (``GlueCatalog`` + ``S3FileIO``, warehouse ``s3://gold/``);
the twin turns it into its SQLite catalog + HadoopFileIO over ``LocalS3FileSystem``. A first
process (one twin session) creates the database and ``gold_db.my_table`` at LOCATION
``s3://gold/my_table/`` and writes it; a second process opens it again and reads it back. Both
record their Glue and S3 requests in their run's access log.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from twin_support import lines, ok, raw_lines

GLUE_SCRIPTS = Path(__file__).resolve().parents[2]
PRINCIPAL = "arn:aws:iam::123456789012:role/undercurrent-dev-gold"
ACCOUNT = "123456789012"
REGION = "eu-west-1"
TIMEOUT = 600
RUNS = {"create": "jr_iceberg_create", "read": "jr_iceberg_read"}

TEMPLATE_CONF = (
    "spark.sql.extensions=org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions"
    " --conf spark.sql.catalog.glue_catalog=org.apache.iceberg.spark.SparkCatalog"
    " --conf spark.sql.catalog.glue_catalog.warehouse=s3://gold/"
    " --conf spark.sql.catalog.glue_catalog.catalog-impl=org.apache.iceberg.aws.glue.GlueCatalog"
    " --conf spark.sql.catalog.glue_catalog.io-impl=org.apache.iceberg.aws.s3.S3FileIO"
)
#: A second Spark catalog over the same Glue Data Catalog, without a warehouse (GlueCatalog needs none).
OTHER_CONF = (
    " --conf spark.sql.catalog.other_catalog=org.apache.iceberg.spark.SparkCatalog"
    " --conf spark.sql.catalog.other_catalog.catalog-impl=org.apache.iceberg.aws.glue.GlueCatalog"
)
TABLE = "glue_catalog.gold_db.my_table"
ROWS = [[1, "a", "2024-01-01"], [2, "b", "2024-01-02"], [3, "c", "2024-01-02"]]
GLUE = f"arn:aws:glue:{REGION}:{ACCOUNT}:"
CATALOG_ARN = GLUE + "catalog"
DATABASE_ARN = GLUE + "database/gold_db"
TABLE_ARN = GLUE + "table/gold_db/my_table"


# --- pytest side -------------------------------------------------------------------------------


def _process(work: Path, mode: str, out: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, mode, str(work), str(out)], capture_output=True, text=True, timeout=TIMEOUT
    )
    if done.returncode != 0:
        pytest.fail(f"the {mode} process failed ({done.returncode}):\n{done.stderr[-6000:]}")
    result: dict[str, Any] = json.loads(out.read_text())
    result["log"] = (work / "access" / f"{RUNS[mode]}.jsonl").read_bytes()
    return result


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("twin-iceberg")
    work = base / "work"
    (work / "s3" / "gold").mkdir(parents=True)
    created = _process(work, "create", base / "create.json")
    read = _process(work, "read", base / "read.json")  # a NEW process: a new JVM, a new session
    return {"work": work, "create": created, "read": read}


def glue(run: str, op: str, action: str, resource: str) -> str:
    return json.dumps({"principal": PRINCIPAL, "run": run, "op": op, "action": action, "resource": resource})


def contains_in_order(haystack: list[str], needles: list[str]) -> bool:
    i = 0
    for line in haystack:
        if i < len(needles) and line == needles[i]:
            i += 1
    return i == len(needles)


def test_namespace_creation_records_get_and_create_database(runs):
    created = runs["create"]
    ok(created, "create_namespace")
    run = RUNS["create"]
    assert raw_lines(created, "create_namespace") == [
        glue(run, "loadNamespaceMetadata glue_catalog.gold_db", "glue:GetDatabase", CATALOG_ARN),
        glue(run, "loadNamespaceMetadata glue_catalog.gold_db", "glue:GetDatabase", DATABASE_ARN),
        glue(run, "createNamespace glue_catalog.gold_db", "glue:CreateDatabase", CATALOG_ARN),
        glue(run, "createNamespace glue_catalog.gold_db", "glue:CreateDatabase", DATABASE_ARN),
    ]


def test_create_table_keeps_its_location_and_records_create_table(runs):
    created = runs["create"]
    ok(created, "create_table")
    run = RUNS["create"]
    step = raw_lines(created, "create_table")
    op = f"createTable {TABLE}"
    assert contains_in_order(step, [
        glue(run, op, "glue:GetTable", CATALOG_ARN),
        glue(run, op, "glue:GetTable", DATABASE_ARN),
        glue(run, op, "glue:GetTable", TABLE_ARN),
        glue(run, op, "glue:CreateTable", CATALOG_ARN),
        glue(run, op, "glue:CreateTable", DATABASE_ARN),
        glue(run, op, "glue:CreateTable", TABLE_ARN),
    ])
    recorded = lines(created, "create_table")
    assert {line["action"] for line in recorded if line["action"].startswith("glue:")} == {"glue:GetTable", "glue:CreateTable"}
    metadata = [
        line["resource"] for line in recorded
        if line["action"] == "s3:PutObject" and line["resource"].endswith(".metadata.json")
    ]
    assert len(metadata) == 1 and metadata[0].startswith("arn:aws:s3:::gold/my_table/metadata/00000-")
    assert ok(created, "location") == "s3://gold/my_table"  # Iceberg drops the trailing slash, as in Glue


def test_insert_commits_with_update_table_and_writes_under_the_location(runs):
    created = runs["create"]
    ok(created, "insert")
    run = RUNS["create"]
    recorded = lines(created, "insert")
    op = f"commit {TABLE}"
    assert contains_in_order(raw_lines(created, "insert"), [
        glue(run, op, "glue:UpdateTable", CATALOG_ARN),
        glue(run, op, "glue:UpdateTable", DATABASE_ARN),
        glue(run, op, "glue:UpdateTable", TABLE_ARN),
    ])
    s3 = [line for line in recorded if line["action"].startswith("s3:")]
    assert {line["resource"] for line in s3} - {"arn:aws:s3:::gold"} <= {
        line["resource"] for line in s3 if line["resource"].startswith("arn:aws:s3:::gold/my_table/")
    }
    data = {line["resource"] for line in s3 if line["action"] == "s3:PutObject" and "/data/" in line["resource"]}
    assert {r.split("/data/")[1].split("/")[0] for r in data} == {"dt=2024-01-01", "dt=2024-01-02"}
    table = runs["work"] / "s3" / "gold" / "my_table"
    assert sorted(p.name for p in (table / "data").iterdir()) == ["dt=2024-01-01", "dt=2024-01-02"]
    assert len(list((table / "metadata").glob("*.metadata.json"))) == 2
    assert (runs["work"] / "catalog" / "iceberg.sqlite").is_file()
    assert ok(created, "rows") == ROWS


def test_a_new_process_reads_the_table_back(runs):
    read = runs["read"]
    assert ok(read, "rows") == ROWS
    assert ok(read, "location") == "s3://gold/my_table"
    run = RUNS["read"]
    recorded = lines(read, "rows")
    assert raw_lines(read, "rows")[:3] == [
        glue(run, f"loadTable {TABLE}", "glue:GetTable", CATALOG_ARN),
        glue(run, f"loadTable {TABLE}", "glue:GetTable", DATABASE_ARN),
        glue(run, f"loadTable {TABLE}", "glue:GetTable", TABLE_ARN),
    ]
    assert {line["action"] for line in recorded} <= {"glue:GetTable", "s3:GetObject", "s3:ListBucket"}
    reads = {line["resource"] for line in recorded if line["action"] == "s3:GetObject"}
    assert any(r.startswith("arn:aws:s3:::gold/my_table/metadata/00001-") for r in reads)
    assert any("/my_table/data/dt=2024-01-02/" in r for r in reads)


def test_listing_tables_records_get_tables(runs):
    assert ok(runs["read"], "show_tables") == ["my_table", "other", "t2"]
    run = RUNS["read"]
    op = "listTables glue_catalog.gold_db"
    assert raw_lines(runs["read"], "show_tables") == [
        glue(run, op, "glue:GetTables", CATALOG_ARN),
        glue(run, op, "glue:GetTables", DATABASE_ARN),
        glue(run, op, "glue:GetTables", GLUE + "table/gold_db/*"),
    ]


def test_a_table_without_location_goes_where_glue_catalog_puts_it(runs):
    created = runs["create"]
    assert ok(created, "default_location") == "s3://gold/gold_db.db/other"
    run = RUNS["create"]
    assert glue(run, "getDatabase glue_catalog.gold_db", "glue:GetDatabase", DATABASE_ARN) in raw_lines(created, "create_other")


def test_every_spark_catalog_over_glue_sees_the_same_data_catalog(runs):
    created = runs["create"]
    assert ok(created, "other_catalog_count") == 3
    ok(created, "other_catalog_create")
    assert "no database location and no warehouse" in created["errors"]["other_catalog_no_location"]
    run = RUNS["create"]
    op = "loadTable other_catalog.gold_db.my_table"
    assert raw_lines(created, "other_catalog_count")[:3] == [
        glue(run, op, "glue:GetTable", CATALOG_ARN),
        glue(run, op, "glue:GetTable", DATABASE_ARN),
        glue(run, op, "glue:GetTable", TABLE_ARN),
    ]


def test_glue_table_names_are_checked(runs):
    # GlueCatalog takes only [a-z0-9_] names: Iceberg's table builder refuses the identifier.
    error = runs["create"]["errors"]["invalid_name"]
    assert "Invalid table identifier: gold_db.Bad-Name" in error, error


# --- the twin sessions (fresh processes) -------------------------------------------------------


def scenario(mode: str, work: Path, out: Path) -> None:
    for path in (GLUE_SCRIPTS / "lib", GLUE_SCRIPTS):
        sys.path.insert(0, str(path))
    from local.twin.spark import access_log, parse_glue_conf, twin_spark

    run = RUNS[mode]
    spark = twin_spark(
        work, PRINCIPAL, run, parse_glue_conf(TEMPLATE_CONF + OTHER_CONF), f"twin-iceberg-{mode}", ACCOUNT, REGION
    )
    log = access_log(work, run)
    result: dict[str, Any] = {"offsets": {}, "errors": {}}

    def step(name: str, action: Callable[[], Any]) -> None:
        start = log.stat().st_size if log.exists() else 0
        try:
            result[name] = action()
        except Exception as error:  # noqa: BLE001 - reported to the test
            result[name] = None
            result["errors"][name] = f"{type(error).__name__}: {error}"
        result["offsets"][name] = [start, log.stat().st_size if log.exists() else 0]

    def rows() -> list[list[Any]]:
        return [[r["id"], r["name"], str(r["dt"])] for r in spark.sql(f"SELECT * FROM {TABLE} ORDER BY id").collect()]

    def location(table: str) -> str:
        described = spark.sql(f"DESCRIBE TABLE EXTENDED {table}").collect()
        found: str = next(r["data_type"] for r in described if r["col_name"] == "Location")
        return found

    if mode == "create":
        step("create_namespace", lambda: spark.sql("CREATE NAMESPACE IF NOT EXISTS glue_catalog.gold_db").collect())
        step(
            "create_table",
            lambda: spark.sql(
                f"CREATE TABLE {TABLE} (id bigint, name string, dt date) USING iceberg "
                "PARTITIONED BY (dt) LOCATION 's3://gold/my_table/'"
            ).collect(),
        )
        step("location", lambda: location(TABLE))
        values = ", ".join(f"({i}, '{n}', DATE'{d}')" for i, n, d in ROWS)
        step("insert", lambda: spark.sql(f"INSERT INTO {TABLE} VALUES {values}").collect())
        step("rows", rows)
        step("create_other", lambda: spark.sql("CREATE TABLE glue_catalog.gold_db.other (id bigint) USING iceberg").collect())
        step("default_location", lambda: location("glue_catalog.gold_db.other"))
        step("invalid_name", lambda: spark.sql("CREATE TABLE glue_catalog.gold_db.`Bad-Name` (id int) USING iceberg").collect())
        step("other_catalog_count", lambda: spark.sql("SELECT count(*) FROM other_catalog.gold_db.my_table").collect()[0][0])
        step(
            "other_catalog_create",
            lambda: spark.sql("CREATE TABLE other_catalog.gold_db.t2 (id bigint) USING iceberg LOCATION 's3://gold/t2/'").collect(),
        )
        step("other_catalog_no_location", lambda: spark.sql("CREATE TABLE other_catalog.gold_db.t3 (id bigint) USING iceberg").collect())
    else:
        step("rows", rows)
        step("location", lambda: location(TABLE))
        step("show_tables", lambda: sorted(r["tableName"] for r in spark.sql("SHOW TABLES IN glue_catalog.gold_db").collect()))

    spark.stop()
    out.write_text(json.dumps(result))


if __name__ == "__main__":
    scenario(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))
