"""Glue 5.0 job SourceToCurated: source tables, raw zone (Parquet) -> curated zone (Parquet).

For every source table (``schemas/source/<table>.json``; job argument ``--tables`` to pick
some) the job rebuilds the table's full current state, one row per primary key:

* reads the raw table ``<raw_path><table>/``: a snapshot table's latest ``ingest_date=``
  partition only; an incremental table's every ``ingest_date=D/run_id=R/`` partition
  (Parquet footers merged, ``mergeSchema``);
* curates it with :func:`undercurrent_glue.curate.curate_table` (drift guard, types and
  cleaning, quarantine rules, dedup on the primary key, block/warn data-quality rules,
  row accounting);
* writes ``<curated_path><table>/`` (Parquet, snappy, not partitioned, replaced with a
  plain overwrite; a few files sized by the row count) and the quarantined rows to
  ``<quarantine_path><table>/ingest_date=D/`` (GZIP JSON lines ``record``, ``rule``,
  ``run_id``, ``quarantined_at``; dynamic partition overwrite, one file per partition, so
  a rerun replaces instead of duplicating);
* publishes RowsIn, RowsCurated, RowsQuarantined, DuplicatesRemoved, ColumnsAdded,
  SchemaDrift, DataQualityWarnings and DataQualityFailures per table (CloudWatch custom
  metrics in ``--metrics_namespace``) and logs one ``curate`` JSON line per table.

The tables are curated side by side (one thread each, sharing the Spark cluster), and a
table starts only once the tables its references rules name are curated or failed
(:func:`undercurrent_glue.curate.dependency_order` gives the order they are started in): a
references rule checks against this run's curated rows of a parent that passed its rules,
read from the rows the parent keeps in memory (its writes run beside its children), or
against the parent's curated table as it is on S3 when the parent was not in the run or
failed; a parent without a curated table counts as empty (logged). A table's kept rows are
released once its writes are done and each child has been checked against them. A table
whose raw schema drifted, that fails a blocking rule or has no raw data writes nothing (its
curated table stays as it was), the other tables still run, and the job then fails with one
error listing every failed table, so the stack's failed-run alarm fires.

Job arguments: ``--JOB_NAME``, ``--raw_path`` (``s3://<raw>/source/``), ``--curated_path``
(``s3://<curated>/``), ``--quarantine_path`` (``s3://<quarantine>/``),
``--metrics_namespace``; optional ``--tables`` (comma list, default every source table).
The run id is Glue's ``JOB_RUN_ID``. The session time zone is set to UTC.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pyspark.sql import DataFrame, SparkSession, functions as F

from undercurrent_glue import curate, quality
from undercurrent_glue.extract import INCREMENTAL, RUN_ID_PARTITION, source_table_path
from undercurrent_glue.ingest_dates import INGEST_DATE, present_arguments
from undercurrent_glue.metrics import MetricsSink
from undercurrent_glue.schema import SOURCE_TABLES, load_source_declaration, spark_type

#: Arguments every run must have.
JOB_ARGUMENTS = ["JOB_NAME", "raw_path", "curated_path", "quarantine_path", "metrics_namespace"]
#: Optional argument: comma-separated source tables to curate (default all).
TABLES_ARGUMENT = "tables"
OPTIONAL_ARGUMENTS = [TABLES_ARGUMENT]
#: Rows per curated Parquet file, at most (order_lines: about 13 MB per million rows).
ROWS_PER_FILE = 1_000_000
#: Rows per file, at least, of a table split over more files so that more cores write it.
MIN_ROWS_PER_FILE = 250_000
MAX_FILES = 64
_PARTITION_DIR = re.compile(rf"^{INGEST_DATE}=([0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}})$")


def parse_tables(value: str | None) -> list[str]:
    """Parse ``--tables``: comma-separated source tables, unique; None or absent -> all.

    Raises:
        ValueError: an unknown table or an empty list (names the argument and the value).
    """
    if value is None:
        return list(SOURCE_TABLES)
    tables = [t.strip() for t in value.split(",") if t.strip()]
    unknown = [t for t in tables if t not in SOURCE_TABLES]
    if not tables or unknown:
        raise ValueError(
            f"Job argument '{TABLES_ARGUMENT}' must list source tables separated by commas "
            f"({', '.join(SOURCE_TABLES)}); got {value!r}."
        )
    return list(dict.fromkeys(tables))


def job_settings(
    argv: Sequence[str], get_resolved_options: Callable[[list[str], list[str]], Mapping[str, str]]
) -> tuple[dict[str, str], list[str]]:
    """Resolve the job arguments (optional ones only when present) and the tables to curate."""
    names = JOB_ARGUMENTS + present_arguments(argv, OPTIONAL_ARGUMENTS)
    args = dict(get_resolved_options(list(argv), names))
    return args, parse_tables(args.get(TABLES_ARGUMENT))


def _table_path(root: str, table: str) -> str:
    return f"{root.rstrip('/')}/{table}/"


def _file_system(spark: SparkSession, path: str) -> tuple[Any, Any]:
    """The Hadoop ``Path`` of ``path`` and its ``FileSystem`` (JVM objects, untyped in Python)."""
    jvm = spark.sparkContext._jvm
    assert jvm is not None  # set while a SparkContext runs (as pyspark itself asserts)
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    return hadoop_path, hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())


def path_exists(spark: SparkSession, path: str) -> bool:
    """Whether ``path`` exists (any Hadoop file system: s3://, file:, local paths)."""
    hadoop_path, fs = _file_system(spark, path)
    return bool(fs.exists(hadoop_path))


def ingest_dates(spark: SparkSession, table_path: str) -> list[str]:
    """The ``YYYY-MM-DD`` of every ``ingest_date=`` directory directly under ``table_path``, sorted."""
    hadoop_path, fs = _file_system(spark, table_path)
    if not fs.exists(hadoop_path):
        return []
    names = [status.getPath().getName() for status in fs.listStatus(hadoop_path) if status.isDirectory()]
    return sorted(m.group(1) for m in map(_PARTITION_DIR.match, names) if m)


def read_raw(spark: SparkSession, raw_path: str, declaration: Mapping) -> DataFrame:
    """Read a raw source table: the latest ``ingest_date`` partition of a snapshot table,
    every partition of an incremental one. ``ingest_date`` is a date, ``run_id`` a string.

    The drift guard (:func:`undercurrent_glue.curate.check_drift`) sees the merged schema
    of the files read; for an incremental table it also checks the newest ``ingest_date``'s
    increments on their own, since merging with older files would hide a column they lost.

    Raises:
        RawDataNotFoundError: no ``ingest_date=`` partition under ``<raw_path><table>/``.
        SourceSchemaDriftError: the newest increments of an incremental table drifted.
    """
    table = declaration["name"]
    path = source_table_path(raw_path, table)
    dates = ingest_dates(spark, path)
    if not dates:
        raise curate.RawDataNotFoundError(f"No raw data for '{table}': no {INGEST_DATE}= partition under {path}.")
    reader = spark.read.option("mergeSchema", "true").option("basePath", path)
    latest = reader.parquet(f"{path}{INGEST_DATE}={dates[-1]}/")
    if declaration["extract"]["mode"] != INCREMENTAL:
        raw = latest
    else:
        # The merged schema of every increment still has a column that newer increments
        # dropped or renamed; the newest day's increments show the drift.
        curate.check_drift(table, latest.schema, declaration)
        raw = reader.parquet(path)
    raw = raw.withColumn(INGEST_DATE, F.col(INGEST_DATE).cast("date"))
    if RUN_ID_PARTITION in raw.columns:
        raw = raw.withColumn(RUN_ID_PARTITION, F.col(RUN_ID_PARTITION).cast("string"))
    return raw


def read_reference(spark: SparkSession, curated_path: str, dataset: str, key: str, log: Callable[[str], None]) -> DataFrame:
    """The ``key`` column of the curated table ``dataset`` as it is now; empty when there is none."""
    path = _table_path(curated_path, dataset)
    if path_exists(spark, path):
        return spark.read.parquet(path).select(key)
    column = next(c for c in load_source_declaration(dataset)["columns"] if c["name"] == key)
    log(f"reference dataset '{dataset}' has no curated table at {path}; treated as empty, so every "
        f"non-null value referencing it fails.")
    return spark.createDataFrame([], f"`{key}` {spark_type(column['type'], key).simpleString()}")


def curated_file_count(rows: int, cores: int) -> int:
    """Files of a curated table of ``rows`` rows: at most :data:`ROWS_PER_FILE` rows each, and
    one per core (``cores``) while each keeps :data:`MIN_ROWS_PER_FILE` rows (one file is
    written by one task); 1 to :data:`MAX_FILES`."""
    return min(MAX_FILES, max(1, math.ceil(rows / ROWS_PER_FILE), min(cores, rows // MIN_ROWS_PER_FILE)))


def write_curated(curated: DataFrame, path: str, rows: int) -> None:
    """Replace the curated table at ``path``: Parquet (snappy), :func:`curated_file_count` files."""
    files = curated_file_count(rows, curated.sparkSession.sparkContext.defaultParallelism)
    (
        curated.coalesce(files)
        .write.mode("overwrite")
        .option("partitionOverwriteMode", "static")
        .option("compression", "snappy")
        .parquet(path)
    )


def write_quarantine(quarantine: DataFrame, path: str) -> None:
    """Write quarantined rows as GZIP JSON lines by ``ingest_date``, one file per partition,
    replacing only the partitions written (dynamic partition overwrite)."""
    (
        quarantine.repartition(F.col(INGEST_DATE))
        .write.mode("overwrite")
        .option("partitionOverwriteMode", "dynamic")
        .option("compression", "gzip")
        .option("timestampFormat", "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX")
        .partitionBy(INGEST_DATE)
        .json(path)
    )


def _log(message: str) -> None:
    print(f"source_raw_to_curated: {message}", flush=True)


def counts_log_line(table: str, run_id: str, counts: curate.CurateCounts) -> str:
    """One JSON line with a table's accounting."""
    return "curate " + json.dumps({"dataset": table, "run_id": run_id, **counts._asdict()}, sort_keys=True)


class _Holds:
    """Releases each table's kept rows (:meth:`curate.CurateResult.release`) once nothing
    needs them: the table's own writes, and each child checked against its curated rows.

    ``counts``: per table, 1 (the table itself) + its children in the run; each of them
    calls :meth:`drop` once, whether it succeeded or not.
    """

    def __init__(self, counts: Mapping[str, int]):
        self._counts = dict(counts)
        self._results: dict[str, curate.CurateResult] = {}
        self._lock = threading.Lock()

    def keep(self, table: str, result: curate.CurateResult) -> None:
        with self._lock:
            self._results[table] = result

    def drop(self, table: str) -> None:
        with self._lock:
            self._counts[table] -= 1
            result = self._results.pop(table) if self._counts[table] == 0 and table in self._results else None
        if result is not None:
            result.release()


def run(
    spark: SparkSession,
    raw_path: str,
    curated_path: str,
    quarantine_path: str,
    run_id: str,
    now: dt.datetime,
    sink: MetricsSink,
    tables: Sequence[str] | None = None,
) -> dict[str, curate.CurateCounts]:
    """Curate ``tables`` (default all), side by side, each after the tables it references;
    write, log and publish each.

    Returns:
        The counts of every table, when all were curated.

    Raises:
        SourceCurationError: after every table ran, when at least one was not curated
            (schema drift, a blocking data-quality failure, no raw data); lists each.
        ValueError: an unknown table, or invalid declarations.
    """
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    names = parse_tables(",".join(tables)) if tables is not None else list(SOURCE_TABLES)
    declarations = {t: load_source_declaration(t) for t in names}
    rules = {t: quality.load_rules(d, quality.CURATED) for t, d in declarations.items()}
    order = curate.dependency_order(names, rules)
    counts: dict[str, curate.CurateCounts] = {}
    failures: dict[str, Exception] = {}

    parents = {
        t: [p for p in quality.reference_datasets(rules[t]) if p in declarations and p != t] for t in order
    }
    # Set once a table's curated rows passed its rules (they are final), or the table failed:
    # its children may run. The curated rows are kept in memory until the table's own writes
    # are done and every child has been checked against them (:class:`_Holds`).
    ready = {t: threading.Event() for t in order}
    passed: dict[str, DataFrame] = {}
    holds = _Holds({t: 1 + sum(t in parents[c] for c in order) for t in order})

    def curate_one(table: str) -> None:
        for parent in parents[table]:
            ready[parent].wait()
        try:
            curate_and_write(table)
        finally:
            ready[table].set()
            holds.drop(table)

    def reference(dataset: str, key: str) -> DataFrame:
        """The keys a references rule checks: this run's curated rows of a parent that passed,
        else the parent's curated table as it is now (not in the run, or failed)."""
        if dataset in passed:
            return passed[dataset].select(f"`{key}`")
        return read_reference(spark, curated_path, dataset, key, _log)

    def curate_and_write(table: str) -> None:
        spark.sparkContext.setJobDescription(f"curate {table}")
        declaration = declarations[table]
        try:
            references = {
                r.params["dataset"]: reference(r.params["dataset"], r.params["key"])
                for r in rules[table]
                if r.kind == quality.REFERENCES and r.params["dataset"] != table
            }
            result = curate.curate_table(read_raw(spark, raw_path, declaration), declaration, references, run_id, now)
        except curate.SourceSchemaDriftError as error:
            sink.publish(table, curate.metrics(None, None, True, []))
            failures[table] = error
            _log(f"FAILED {error}")
            return
        except curate.RawDataNotFoundError as error:
            failures[table] = error
            _log(f"FAILED {error}")
            return
        finally:
            # The parents' rows are read (the child's own rows are kept) by now.
            for parent in parents[table]:
                holds.drop(parent)
        holds.keep(table, result)
        sink.publish(table, curate.metrics(result.counts, result.drift, False, result.results))
        _log(counts_log_line(table, run_id, result.counts))
        if result.drift.added:
            _log(f"WARNING '{table}' has undeclared column(s) {', '.join(result.drift.added)}; carried into curated.")
        for warning in result.warnings:
            _log(f"WARNING data quality of '{table}': {warning.detail}")
        if result.failures:
            quality_error = quality.DataQualityError(table, result.results)
            failures[table] = quality_error
            _log(f"FAILED {quality_error}")
            return
        passed[table] = result.curated
        ready[table].set()
        write_curated(result.curated, _table_path(curated_path, table), result.counts.rows_curated)
        if result.counts.rows_quarantined:
            # Nothing to replace otherwise: the dynamic overwrite only replaces written partitions.
            write_quarantine(result.quarantine, _table_path(quarantine_path, table))
        counts[table] = result.counts

    try:
        # One thread per table: a thread waiting for its parents holds no other table back.
        with ThreadPoolExecutor(max_workers=len(order), thread_name_prefix="curate") as pool:
            futures = {table: pool.submit(curate_one, table) for table in order}
        for table in order:
            futures[table].result()  # an unexpected error of a table fails the run
    finally:
        sink.flush()
    if failures:
        raise curate.SourceCurationError({t: failures[t] for t in order if t in failures}, {t: counts[t] for t in order if t in counts})
    return {t: counts[t] for t in order}


def main(argv: Sequence[str]) -> None:
    """Glue entrypoint: resolve arguments, init the job, run, commit (a failed table fails the run)."""
    from awsglue.context import GlueContext
    from awsglue.job import Job
    from awsglue.utils import getResolvedOptions
    from pyspark.context import SparkContext

    from undercurrent_glue.metrics import CloudWatchSink

    args, tables = job_settings(argv, getResolvedOptions)
    sink = CloudWatchSink(args["JOB_NAME"], args["metrics_namespace"])
    glue_context = GlueContext(SparkContext.getOrCreate())
    spark = glue_context.spark_session
    job = Job(glue_context)
    job.init(args["JOB_NAME"], args)

    now = dt.datetime.now(dt.UTC)
    # JOB_RUN_ID is reserved (not requestable) but resolved whenever Glue passes it.
    run_id = args.get("JOB_RUN_ID") or "local-" + now.strftime("%Y%m%dT%H%M%SZ")
    run(spark, args["raw_path"], args["curated_path"], args["quarantine_path"], run_id, now, sink, tables)
    job.commit()


if __name__ == "__main__":
    main(sys.argv)
