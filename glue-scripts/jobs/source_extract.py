"""Glue 5.0 job: batch extract of source MySQL tables to the raw zone (Parquet, snappy).

Job arguments (the CDK app passes them as ``--connection_name undercurrent-mysql`` etc.):

* ``--connection_name`` (required): the Glue JDBC connection to the source MySQL database;
  the URL, credentials and network come from it (``useConnectionProperties``) and the job
  must list it in its connections;
* ``--database`` (required): the MySQL database (schema) holding the tables;
* ``--raw_path`` (required): the raw zone's source prefix, ``s3://<raw bucket>/source/``
  (ending in ``/``), the same value ``SourceToCurated`` reads from; each table goes to
  ``<raw_path><table>/``;
* ``--tables`` (required): comma-separated source tables to extract, each one of
  ``SOURCE_TABLES`` (``customers,employees,offices,order_lines,orders,payments,
  product_lines,products``); extracted in the given order, duplicates ignored.

The job must run with ``--job-bookmark-option job-bookmark-enable``: the incremental
tables are read with a ``transformation_ctx`` and their declared ``jobBookmarkKeys``, so
each run reads only rows past the last committed bookmark. Snapshot tables are read
without a ``transformation_ctx`` (no bookmark: Glue would otherwise bookmark them on the
primary key), i.e. whole, every run.

Raw layout (see ``undercurrent_glue.extract``), ``ingest_date`` being the UTC date the
run started::

    <raw_path><table>/ingest_date=YYYY-MM-DD/                  snapshot tables
    <raw_path><table>/ingest_date=YYYY-MM-DD/run_id=<run id>/  incremental tables

A snapshot run replaces that day's partition (dynamic partition overwrite); an
incremental run appends its own ``run_id`` partition (the Glue ``JOB_RUN_ID``).

Failing loudly: every table is planned, read and conformed (schema only, no data read)
before anything is written, so schema drift in any table (a declared column missing in
the source, or a type that cannot be cast safely) stops the run with the
``SchemaDriftError`` message before the first write, and ``job.commit()`` (called once,
at the end) is never reached, so no bookmark advances. A failure while writing (after
some tables were written) also leaves the bookmarks where they were; the next run then
re-extracts those increments under its own run id (the raw zone is at-least-once, see
``undercurrent_glue.extract``). Undeclared source columns are not written and are
reported in the table's log line (``"level": "WARN"``).

One JSON line is printed per table written (``table``, ``mode``, ``rows``,
``added_columns``, ...), for CloudWatch Logs metric filters. The logic lives in
``undercurrent_glue`` (shipped with ``--extra-py-files``); ``awsglue`` is imported only
inside :func:`main`, so the rest runs on plain local Spark in the tests.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession

from undercurrent_glue.extract import (
    ConformResult,
    ExtractPlan,
    conform,
    jdbc_connection_options,
    partition_columns,
    plan_for,
    source_table_path,
    transformation_ctx,
    write_mode,
    write_options,
)
from undercurrent_glue.ingest_dates import INGEST_DATE
from undercurrent_glue.schema import SOURCE_TABLES, load_source_declaration

#: Arguments every run must have.
JOB_ARGUMENTS = ["JOB_NAME", "connection_name", "database", "raw_path", "tables"]
TABLES_ARGUMENT = "tables"
RAW_PATH_ARGUMENT = "raw_path"


class Settings(NamedTuple):
    """The validated job arguments."""

    job_name: str
    connection_name: str
    database: str
    raw_path: str
    tables: tuple[str, ...]


class TableReport(NamedTuple):
    """What one table's extract wrote."""

    table: str
    mode: str
    rows: int
    added_columns: tuple[str, ...]
    path: str


def parse_tables(value: str) -> list[str]:
    """Parse the ``tables`` job argument: comma-separated names from ``SOURCE_TABLES``.

    Blanks around names are ignored; a repeated name is kept once, at its first place.

    Raises:
        ValueError: the list is empty, has an empty item or an unknown table; the message
            names the argument, the offending value and the known tables.
    """
    known = ", ".join(SOURCE_TABLES)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(
            f"Job argument '{TABLES_ARGUMENT}' is empty ({value!r}); give source tables separated by "
            f"commas, from: {known}."
        )
    tables: list[str] = []
    for item in value.split(","):
        name = item.strip()
        if name not in SOURCE_TABLES:
            raise ValueError(
                f"Job argument '{TABLES_ARGUMENT}' has {name!r} in {value!r}, which is not a source table; "
                f"known tables: {known}."
            )
        if name not in tables:
            tables.append(name)
    return tables


def check_raw_path(value: str) -> str:
    """Return the ``raw_path`` job argument if it is ``s3://<bucket>/...`` ending in ``/``.

    Raises:
        ValueError: naming the argument and the value.
    """
    if (
        not isinstance(value, str)
        or not value.startswith("s3://")
        or not value.endswith("/")
        or not value[len("s3://"):].strip("/")
    ):
        raise ValueError(
            f"Job argument '{RAW_PATH_ARGUMENT}' must be the raw zone's source prefix as s3://<bucket>/<prefix>/ "
            f"ending in '/'; got {value!r}."
        )
    return value


def job_settings(
    argv: Sequence[str],
    get_resolved_options: Callable[[list[str], list[str]], Mapping[str, str]],
) -> tuple[Settings, dict[str, str]]:
    """Resolve and validate the job arguments; also load and check every table's declaration
    and its JDBC options, so that a bad argument fails before Spark or Glue starts.

    Args:
        argv: ``sys.argv``.
        get_resolved_options: ``awsglue.utils.getResolvedOptions`` (a parameter, so this
            runs without ``awsglue``).

    Returns:
        The settings and the raw resolved arguments (for ``job.init``).

    Raises:
        ValueError: an invalid argument (names the argument and the value) or declaration.
    """
    args = dict(get_resolved_options(list(argv), JOB_ARGUMENTS))
    settings = Settings(
        job_name=args["JOB_NAME"],
        connection_name=args["connection_name"],
        database=args["database"],
        raw_path=check_raw_path(args[RAW_PATH_ARGUMENT]),
        tables=tuple(parse_tables(args[TABLES_ARGUMENT])),
    )
    for table in settings.tables:
        jdbc_connection_options(plan_for(load_source_declaration(table)), settings.connection_name, settings.database)
    return settings, args


def read_source(glue_context: Any, plan: ExtractPlan, connection_name: str, database: str) -> DataFrame:
    """Read one source table through the Glue MySQL connection; return it as a DataFrame.

    Incremental tables get ``transformation_ctx="extract_<table>"`` (their bookmark state);
    snapshots get none (see ``undercurrent_glue.extract.transformation_ctx``).
    """
    frame = glue_context.create_dynamic_frame.from_options(
        connection_type="mysql",
        connection_options=jdbc_connection_options(plan, connection_name, database),
        transformation_ctx=transformation_ctx(plan),
    )
    df: DataFrame = frame.toDF()
    return df


def _path_exists(spark: SparkSession, path: str) -> bool:
    """Whether ``path`` exists, through Hadoop's FileSystem (S3, HDFS or local)."""
    jvm = spark.sparkContext._jvm
    assert jvm is not None  # set while a SparkContext runs (as pyspark itself asserts)
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    return bool(hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).exists(hadoop_path))


def partition_path(raw_path: str, plan: ExtractPlan, ingest_date: dt.date, run_id: str) -> str:
    """The directory this run writes for the table (without a trailing slash)."""
    path = f"{source_table_path(raw_path, plan.table)}{INGEST_DATE}={ingest_date.isoformat()}"
    return f"{path}/run_id={run_id}" if plan.incremental else path


def write_table(spark: SparkSession, plan: ExtractPlan, conformed: ConformResult, raw_path: str) -> int:
    """Write a conformed table to ``source_table_path(raw_path, table)`` as snappy Parquet,
    partitioned and in the save mode of its plan; return the number of rows written.

    The DataFrame is persisted for the count, so the source is read once.
    """
    df = conformed.df.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        rows = df.count()
        writer = df.write.mode(write_mode(plan))
        for key, value in write_options(plan).items():
            writer = writer.option(key, value)
        writer.partitionBy(*partition_columns(plan)).parquet(source_table_path(raw_path, plan.table))
    finally:
        df.unpersist()
    return rows


def run_tables(
    spark: SparkSession,
    sources: Sequence[tuple[Mapping[str, Any], DataFrame]],
    raw_path: str,
    ingest_date: dt.date,
    run_id: str,
    extracted_at: dt.datetime | None = None,
    on_written: Callable[[TableReport], None] | None = None,
) -> list[TableReport]:
    """Conform every table, then write them one by one; return one report per table.

    Nothing is written unless every table conforms: a ``SchemaDriftError`` (or any other
    conform error) is raised before the first write. An incremental table whose
    ``run_id`` partition of ``ingest_date`` already exists is refused (a reused run id
    would add the increment twice).

    Args:
        sources: (source declaration, DataFrame as read) per table, in write order.
        raw_path: the raw zone's source prefix (``s3://<raw>/source/``).
        ingest_date: the UTC date of the run.
        run_id: the Glue ``JOB_RUN_ID``.
        extracted_at: the instant of the extract, time-zone aware; default now.
        on_written: called with each table's report right after it is written (the job
            logs it there, so the lines of written tables appear even if a later one fails).

    Raises:
        SchemaDriftError: a table drifted from its declaration.
        ValueError: invalid arguments, or an incremental ``run_id`` partition exists.
    """
    if extracted_at is None:
        extracted_at = dt.datetime.now(dt.UTC)
    prepared: list[tuple[ExtractPlan, ConformResult]] = []
    for declaration, df in sources:
        plan = plan_for(declaration)
        conformed = conform(df, declaration, ingest_date, run_id, extracted_at)
        target = partition_path(raw_path, plan, ingest_date, run_id)
        if plan.incremental and _path_exists(spark, target):
            raise ValueError(
                f"{target} already exists: run id '{run_id}' was used before for table '{plan.table}'; "
                "every run needs its own run id (Glue's JOB_RUN_ID)."
            )
        prepared.append((plan, conformed))

    reports = []
    for plan, conformed in prepared:
        rows = write_table(spark, plan, conformed, raw_path)
        report = TableReport(plan.table, plan.mode, rows, conformed.added_columns, source_table_path(raw_path, plan.table))
        if on_written is not None:
            on_written(report)
        reports.append(report)
    return reports


def run_table(
    spark: SparkSession,
    df: DataFrame,
    declaration: Mapping[str, Any],
    raw_path: str,
    ingest_date: dt.date,
    run_id: str,
    extracted_at: dt.datetime | None = None,
) -> TableReport:
    """Conform one table's DataFrame and write it to the raw zone (see :func:`run_tables`)."""
    return run_tables(spark, [(declaration, df)], raw_path, ingest_date, run_id, extracted_at)[0]


def table_log_line(job_name: str, run_id: str, ingest_date: dt.date, report: TableReport) -> str:
    """One JSON line for a written table; ``level`` is ``WARN`` when the source has
    undeclared columns (not extracted), else ``INFO``."""
    record = {
        "job": job_name,
        "run_id": run_id,
        "ingest_date": ingest_date.isoformat(),
        "level": "WARN" if report.added_columns else "INFO",
        "table": report.table,
        "mode": report.mode,
        "rows": report.rows,
        "added_columns": list(report.added_columns),
        "path": report.path,
    }
    return json.dumps(record, sort_keys=True, separators=(",", ":"))


def main(argv: Sequence[str]) -> None:
    """Glue entrypoint: validate arguments, init the job, extract every table, commit once."""
    from awsglue.context import GlueContext
    from awsglue.job import Job
    from awsglue.utils import getResolvedOptions
    from pyspark.context import SparkContext

    settings, args = job_settings(argv, getResolvedOptions)
    glue_context = GlueContext(SparkContext.getOrCreate())
    spark = glue_context.spark_session
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    job = Job(glue_context)
    job.init(settings.job_name, args)

    # JOB_RUN_ID is reserved (not requestable) but resolved whenever Glue passes it.
    run_id = args.get("JOB_RUN_ID") or f"local-{uuid.uuid4().hex}"
    extracted_at = dt.datetime.now(dt.UTC)
    ingest_date = extracted_at.date()

    sources = []
    for table in settings.tables:
        declaration = load_source_declaration(table)
        plan = plan_for(declaration)
        sources.append((declaration, read_source(glue_context, plan, settings.connection_name, settings.database)))

    def log(report: TableReport) -> None:
        print(table_log_line(settings.job_name, run_id, ingest_date, report), flush=True)

    run_tables(spark, sources, settings.raw_path, ingest_date, run_id, extracted_at, on_written=log)
    job.commit()


if __name__ == "__main__":
    main(sys.argv)
