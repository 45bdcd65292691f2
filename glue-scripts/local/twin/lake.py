"""The twin's Glue Data Catalog: the catalog tables of the synthesized templates, created
before the jobs run and read back afterwards as Athena would read them.

``python lake.py create --spec <file>`` does what CloudFormation does for the templates'
``AWS::Glue::Table`` resources that are Iceberg tables (``OpenTableFormatInput`` ``CREATE``):
it creates each one, with the template's columns and LOCATION, in the twin's Iceberg catalog
(the SQLite-backed stand-in for the Glue catalog that the jobs' ``glue_catalog`` resolves to).

``python lake.py verify --spec <file> --out <file>`` reads every table of the templates as
Athena would: the Iceberg tables through the catalog, the others (Parquet or JSON) from the
template's location, columns and partition keys, with only the partitions that the table's
partition projection shows and every object under a partition's location (sub-prefixes
included); then every Athena view of the templates, its SQL as the template holds it. It writes
a JSON report: the rows of every table, the revenue of the gold fact, every quarantined row,
and each view's rows and column types. The twin (TypeScript) asserts on it.

The spec is written by the twin from the resolved templates::

    {"work": dir, "account": ..., "region": ..., "partition": ...,
     "tables": [{"database", "name", "location", "format": "iceberg"|"parquet"|"json",
                 "columns": [{"name", "type"}], "partitionKeys": [{"name", "type"}],
                 "parameters": {...}}],
     "views": [{"database", "name", "schema", "sql", "columns": [{"name", "type"}]}]}
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

GLUE_SCRIPTS = Path(__file__).resolve().parents[2]
for _path in (GLUE_SCRIPTS / "lib", GLUE_SCRIPTS):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from local.twin.spark import twin_spark  # noqa: E402

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

#: The Glue Data Catalog as an Iceberg catalog, configured as AWS documents it for Glue
#: (the twin's spark.py replaces GlueCatalog and S3FileIO by its local stand-ins).
CATALOG = "glue_catalog"
GLUE_CATALOG_CONF = {
    "spark.sql.extensions": "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions",
    f"spark.sql.catalog.{CATALOG}": "org.apache.iceberg.spark.SparkCatalog",
    f"spark.sql.catalog.{CATALOG}.catalog-impl": "org.apache.iceberg.aws.glue.GlueCatalog",
    f"spark.sql.catalog.{CATALOG}.io-impl": "org.apache.iceberg.aws.s3.S3FileIO",
}
#: Who the catalog's and the report's own accesses are recorded for (not a job role: never evaluated).
SETUP_PRINCIPAL = "twin:cloudformation"
VERIFY_PRINCIPAL = "twin:athena"


def _columns_ddl(columns: Sequence[Mapping[str, str]]) -> str:
    return ", ".join(f"`{c['name']}` {c['type']}" for c in columns)


def _session(spec: Mapping[str, Any], principal: str, run: str) -> SparkSession:
    # JdbcCatalog needs a warehouse (Glue's catalog does not: every table has its LOCATION);
    # the bucket of the Iceberg tables serves, no table is created at a default location.
    buckets = sorted({t["location"].split("/")[2] for t in spec["tables"] if t["format"] == "iceberg"})
    conf = dict(GLUE_CATALOG_CONF)
    if buckets:
        conf[f"spark.sql.catalog.{CATALOG}.warehouse"] = f"s3://{buckets[0]}/"
    return twin_spark(
        Path(spec["work"]), principal, run, conf, f"undercurrent-twin-{run}",
        spec["account"], spec["region"], spec.get("partition", "aws"),
    )


def create_iceberg_tables(spark: SparkSession, tables: Sequence[Mapping[str, Any]]) -> list[str]:
    """Create the Iceberg tables of ``tables`` as CloudFormation does: format version 2, the
    template's columns (partition keys are ordinary columns: Iceberg partitioning is set by the
    writer) and LOCATION. Return their names."""
    created = []
    for table in tables:
        if table["format"] != "iceberg":
            continue
        name = f"{CATALOG}.{table['database']}.{table['name']}"
        spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {CATALOG}.{table['database']}")
        columns = list(table["columns"]) + list(table.get("partitionKeys", []))
        spark.sql(
            f"CREATE TABLE {name} ({_columns_ddl(columns)}) USING iceberg "
            f"LOCATION '{table['location']}' TBLPROPERTIES ('format-version'='2')"
        )
        created.append(name)
    return created


def _projected(value: str, key: str, parameters: Mapping[str, str], today: dt.date) -> bool:
    """Whether Athena's partition projection of a table shows the partition value ``value`` of ``key``."""
    if parameters.get("projection.enabled") != "true":
        return True
    kind = parameters.get(f"projection.{key}.type")
    if kind != "date":
        raise ValueError(f"The twin models date projection only; {key} projects as {kind!r}.")
    if parameters.get(f"projection.{key}.format") != "yyyy-MM-dd":
        raise ValueError(f"The twin models the yyyy-MM-dd date format only; {key} has {parameters.get(f'projection.{key}.format')!r}.")
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        return False
    start, end = (part.strip() for part in parameters[f"projection.{key}.range"].split(","))
    last = today if end == "NOW" else dt.date.fromisoformat(end)
    return dt.date.fromisoformat(start) <= day <= last


def _file_system(spark: SparkSession, location: str) -> tuple[Any, Any]:
    """The Hadoop ``Path`` of ``location`` and its ``FileSystem`` (JVM objects, untyped in Python)."""
    jvm = spark.sparkContext._jvm
    assert jvm is not None  # set while a SparkContext runs
    path = jvm.org.apache.hadoop.fs.Path(location)
    return path, path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())


def _partition_locations(spark: SparkSession, table: Mapping[str, Any]) -> list[dict[str, str]]:
    """The partitions under the table's location, Hive style (``k1=v1/k2=v2/``, which is also
    what the tables' ``storage.location.template`` says), as {key: value, "": location}."""
    keys = [k["name"] for k in table.get("partitionKeys", [])]
    root = table["location"].rstrip("/") + "/"
    path, fs = _file_system(spark, root)
    if not fs.exists(path):
        return []
    jvm = spark.sparkContext._jvm
    assert jvm is not None  # set while a SparkContext runs
    pattern = jvm.org.apache.hadoop.fs.Path(root + "/".join(f"{k}=*" for k in keys))
    found = []
    for status in fs.globStatus(pattern) or []:
        if not status.isDirectory():
            continue
        location = str(status.getPath())
        parts = location[len(root.rstrip("/")) + 1:].split("/")
        values = dict(part.split("=", 1) for part in parts)
        template = table.get("parameters", {}).get("storage.location.template")
        if template is not None:
            expected = template
            for key, value in values.items():
                expected = expected.replace("${" + key + "}", value)
            if expected.rstrip("/") != location.rstrip("/"):
                raise ValueError(f"{location} is not where storage.location.template {template} puts that partition.")
        found.append({**values, "": location})
    return found


def _empty(spark: SparkSession, ddl: str) -> DataFrame:
    """An empty frame of the columns ``ddl``. From an empty RDD: ``createDataFrame([])`` starts a
    Python worker to read its no rows, about half a second for each empty table."""
    return spark.createDataFrame(spark.sparkContext.emptyRDD(), ddl)


def athena_read(spark: SparkSession, table: Mapping[str, Any], today: dt.date) -> DataFrame:
    """Read a Parquet or JSON table of the catalog as Athena does: every object under the
    location (or under each partition's location, sub-prefixes included), only the partitions
    partition projection shows, columns by name with the declared types, the partition keys
    from the path."""
    from pyspark.sql import functions as F

    fmt = table["format"]
    schema = _columns_ddl(table["columns"])
    keys = list(table.get("partitionKeys", []))

    def read(location: str) -> DataFrame:
        return spark.read.format(fmt).schema(schema).option("recursiveFileLookup", "true").load(location)

    if not keys:
        path, fs = _file_system(spark, table["location"])
        if fs.exists(path):
            return read(table["location"])
        return _empty(spark, schema)
    parameters = table.get("parameters", {})
    frames = []
    for partition in _partition_locations(spark, table):
        if all(_projected(partition[k["name"]], k["name"], parameters, today) for k in keys):
            frame = read(partition[""])
            for key in keys:
                frame = frame.withColumn(key["name"], F.lit(partition[key["name"]]).cast(key["type"]))
            frames.append(frame)
    if not frames:
        return _empty(spark, _columns_ddl(list(table["columns"]) + keys))
    result = frames[0]
    for frame in frames[1:]:
        result = result.unionByName(frame)
    return result


def report(spark: SparkSession, tables: Sequence[Mapping[str, Any]], today: dt.date) -> dict[str, Any]:
    """Rows of every table, the gold fact's revenue and every quarantined row."""
    counts: dict[str, int] = {}
    quarantine: dict[str, list[dict[str, Any]]] = {}
    revenue = None
    for table in tables:
        if table["format"] == "iceberg":
            frame = spark.table(f"{CATALOG}.{table['database']}.{table['name']}")
        else:
            frame = athena_read(spark, table, today)
        key = f"{table['database']}.{table['name']}"
        if table["database"].endswith("_quarantine"):
            # Every row is read anyway: the count is theirs.
            rows = [row.asDict() for row in frame.drop(*[k["name"] for k in table.get("partitionKeys", [])]).collect()]
            quarantine[table["name"]] = rows
            counts[key] = len(rows)
        else:
            counts[key] = frame.count()
        if table["format"] == "iceberg" and table["name"] == "fact_order_line":
            revenue = str(frame.agg({"amount": "sum"}).collect()[0][0])
    return {"counts": counts, "revenue": revenue, "quarantine": quarantine}


def view_report(spark: SparkSession, spec: Mapping[str, Any]) -> dict[str, Any]:
    """Every Athena view of the templates run as Athena would run it on the twin's catalog: its
    SQL (Trino, decoded from the template) transpiled to Spark SQL over the tables of the
    view's database, registered under its name for the views after it; its rows and its columns
    with their Presto types (Athena calls a view "stale" when these differ from the stored ones)."""
    from local import serving

    result = {}
    for view in spec.get("views", []):
        tables = {t["name"] for t in spec["tables"] if t["database"] == view["schema"]}
        frame = spark.sql(serving.to_spark_sql(view["sql"], view["schema"], tables))
        frame.createOrReplaceTempView(view["name"])
        result[f"{view['database']}.{view['name']}"] = {
            "rows": frame.count(),
            "columns": [{"name": f.name, "type": serving.presto_type(f.dataType.simpleString())} for f in frame.schema.fields],
        }
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["create", "verify"])
    parser.add_argument("--spec", type=Path, required=True)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    spec = json.loads(args.spec.read_text())
    if args.command == "create":
        spark = _session(spec, SETUP_PRINCIPAL, "catalog-setup")
        try:
            created = create_iceberg_tables(spark, spec["tables"])
        finally:
            spark.stop()
        print(json.dumps({"created": created}))
        return 0
    if args.out is None:
        parser.error("verify needs --out")
    spark = _session(spec, VERIFY_PRINCIPAL, "verify")
    try:
        result = report(spark, spec["tables"], dt.datetime.now(dt.UTC).date())
        result["views"] = view_report(spark, spec)
    finally:
        spark.stop()
    args.out.write_text(json.dumps(result, default=str, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
