"""Glue 5.0 job: curated zone -> gold Apache Iceberg tables (star schema and clickstream aggregates).

Job arguments (the CDK app passes them as ``--curated_path s3://.../`` etc.):

* ``--curated_path`` (required): the curated zone root, ``s3://<curated>/``; each source
  table's current state is Parquet under ``<curated_path><table>/``;
* ``--clickstream_path`` (required): the curated click events,
  ``s3://<curated>/clickstream_events/`` (``event_date=D/ingest_date=I/``);
* ``--gold_database`` (required): the Glue database of the gold tables;
* ``--gold_path`` (required): the gold zone root, ``s3://<gold>/``; table ``t`` lives at
  ``<gold_path>t/``;
* ``--metrics_namespace`` (required): the CloudWatch namespace of the run metrics;
* ``--session_gap_minutes`` (optional, default 30, 1..1440): the inactivity that ends a
  click session.

The Iceberg catalog is always ``glue_catalog``; the stack configures it with ``--conf``
(``spark.sql.catalog.glue_catalog`` = ``org.apache.iceberg.spark.SparkCatalog`` with the
Glue catalog implementation, and the Iceberg SQL extensions) and ``--datalake-formats iceberg``.

What a run writes, and why a rerun on the same input leaves the same tables:

* ``dim_customer`` accumulates history: one ``MERGE INTO`` closes the changed current
  versions and inserts the new ones (:mod:`undercurrent_glue.gold`); with nothing changed
  there is no MERGE at all, so a rerun adds no snapshot and no row.
* every other table is rebuilt from the whole curated input and replaced atomically, all
  rows, in one snapshot (``overwrite(lit(True))``): identical input gives identical rows,
  and rows a previous run wrote that the input no longer produces do not linger (dynamic
  partition overwrite would keep their partitions). The new rows are written once, to the
  table's audit branch, checked there, and published only if the check passes
  (write-audit-publish, :func:`undercurrent_glue.iceberg.replace_audited`).

Every table is checked against its declaration (created when missing) and every curated
input read before any table is built. The tables are then built side by side (one thread
each, sharing the Spark cluster), each once the tables it is built from are published: the
fact after the three dimensions (it looks its keys up in them), the clickstream outputs
after the events are deduplicated (which starts first, while the tables are checked),
dim_date after the fact and the clickstream outputs (it spans their dates). Before a
table's new rows are published (for dim_customer: before the MERGE),
``check_quality(table, df)`` sees them (see :func:`run`). Each table's rows written are
published as metric ``RowsWritten``.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession

from undercurrent_glue import gold, iceberg, quality
from undercurrent_glue.frames import release_all
from undercurrent_glue.ingest_dates import present_arguments
from undercurrent_glue.metrics import DATA_QUALITY_FAILURES, DATA_QUALITY_WARNINGS, ROWS_WRITTEN, MetricsSink
from undercurrent_glue.schema import load_gold_declaration, load_schema

#: Arguments every run must have.
JOB_ARGUMENTS = ["JOB_NAME", "curated_path", "clickstream_path", "gold_database", "gold_path", "metrics_namespace"]
SESSION_GAP_ARGUMENT = "session_gap_minutes"
#: Arguments resolved only when present in ``sys.argv``.
OPTIONAL_ARGUMENTS = [SESSION_GAP_ARGUMENT]
#: The Iceberg catalog of the gold tables (configured by the stack's ``--conf``).
ICEBERG_CATALOG = "glue_catalog"
#: The curated source tables the gold tables are built from.
CURATED_TABLES = ("customers", "employees", "offices", "order_lines", "orders", "product_lines", "products")

#: ``check_quality(table, df)``: evaluates the gold data-quality rules of ``table`` on its
#: new rows ``df`` before they are published; raises to stop the run there.
QualityCheck = Callable[[str, DataFrame], None]


def no_quality_check(table: str, df: DataFrame) -> None:
    """A :data:`QualityCheck` that accepts everything (tests of the transforms alone)."""


class GoldQualityCheck:
    """The gold :data:`QualityCheck`: the rules of ``schemas/gold/<table>.json`` (``quality.GOLD``).

    Each output is checked before it is published; ``references`` rules read the gold tables
    checked before it in the run (the dimensions come before the fact), as published, through
    ``read_table``. A failed warning rule is logged and counted in ``DataQualityWarnings``; a
    failed blocking rule is counted in ``DataQualityFailures`` and raises
    :class:`undercurrent_glue.quality.DataQualityError`: that table is not published, nor the
    tables built from it (dim_date, and after a dimension the fact), and the run fails once
    the other tables are done (they are published; every table is replaced atomically on its
    own).
    """

    def __init__(self, sink: MetricsSink, now: dt.datetime, read_table: Callable[[str], DataFrame]):
        self.sink = sink
        self.now = now
        self.read_table = read_table
        self.checked: list[str] = []

    def __call__(self, table: str, df: DataFrame) -> None:
        rules = quality.load_rules(load_gold_declaration(table), quality.GOLD)
        referenced = quality.reference_datasets(rules)
        missing = [d for d in referenced if d not in self.checked]
        if missing:
            raise ValueError(f"Gold table '{table}' references {', '.join(missing)}, which this run has not built yet.")
        results = quality.evaluate(df, rules, {d: self.read_table(d) for d in referenced}, self.now)
        warnings = [r for r in results if r.warning]
        failures = [r for r in results if r.blocking_failure]
        for result in warnings:
            print(f"curated_to_gold: data-quality warning on {table}: {result.detail}", flush=True)
        self.sink.publish(table, {DATA_QUALITY_WARNINGS: len(warnings), DATA_QUALITY_FAILURES: len(failures)})
        quality.raise_for_failures(table, results)
        self.checked.append(table)


def job_settings(argv: Sequence[str], get_resolved_options: Callable[[list[str], list[str]], Mapping[str, str]]) -> dict[str, str]:
    """Resolve the job arguments (the optional ones only when present in ``argv``).

    Raises:
        ValueError: ``session_gap_minutes`` is not an integer 1..1440.
    """
    names = JOB_ARGUMENTS + present_arguments(argv, OPTIONAL_ARGUMENTS)
    args = dict(get_resolved_options(list(argv), names))
    args[SESSION_GAP_ARGUMENT] = str(
        gold.parse_session_gap_minutes(args.get(SESSION_GAP_ARGUMENT, gold.DEFAULT_SESSION_GAP_MINUTES))
    )
    return args


def _path_exists(spark: SparkSession, path: str) -> bool:
    jvm = spark.sparkContext._jvm
    assert jvm is not None  # set while a SparkContext runs (as pyspark itself asserts)
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    return bool(hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).exists(hadoop_path))


def read_click_events(spark: SparkSession, clickstream_path: str) -> DataFrame:
    """The curated click events (declared columns and partition columns), empty when there are none yet."""
    schema = load_schema("clickstream_event", include_partition_keys=True)
    if not _path_exists(spark, clickstream_path):
        print(f"curated_to_gold: no click events under {clickstream_path}; clickstream outputs are empty.", flush=True)
        return spark.createDataFrame([], schema)
    return spark.read.schema(schema).option("basePath", clickstream_path).parquet(clickstream_path)


def run(
    spark: SparkSession,
    curated_path: str,
    clickstream_path: str,
    gold_database: str,
    gold_path: str,
    run_id: str,
    sink: MetricsSink,
    session_gap_minutes: int = gold.DEFAULT_SESSION_GAP_MINUTES,
    catalog: str = ICEBERG_CATALOG,
    create_namespace: bool = False,
    check_quality: QualityCheck | None = None,
    now: dt.datetime | None = None,
) -> dict[str, int]:
    """Build and write every gold table; return the rows written per table.

    Args:
        curated_path: curated zone root (``<curated_path><table>/``).
        clickstream_path: curated click events.
        gold_database: the gold database (Glue database / local namespace).
        gold_path: gold zone root; table ``t`` at ``<gold_path>t/``.
        run_id: the run's id (logged).
        sink: where ``RowsWritten`` per table is published.
        session_gap_minutes: the inactivity that ends a click session.
        catalog: the Iceberg catalog.
        create_namespace: create the database first (local runs only).
        check_quality: called with each table's new rows before they are published;
            default :class:`GoldQualityCheck` (the declared gold rules).
        now: the run's instant (freshness rules); default the current UTC time.

    Returns:
        ``{table: rows written}``: a rebuilt table's row count; for ``dim_customer`` the
        rows the MERGE inserted or closed (0 when nothing changed).
    """
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    gold._check_gap(session_gap_minutes)
    root = gold_path.rstrip("/") + "/"
    if create_namespace:
        iceberg.create_namespace_if_missing(spark, catalog, gold_database)

    def ensure(name: str) -> str:
        declaration = load_gold_declaration(name)
        return iceberg.ensure_table(spark, catalog, gold_database, declaration, f"{root}{name}/", sort_by=gold.SORT_BY[name])

    tables: dict[str, str] = {}
    if check_quality is None:
        check_quality = GoldQualityCheck(sink, now or dt.datetime.now(dt.UTC), lambda t: spark.table(tables[t]))
    written: dict[str, int] = {}

    def rebuild(name: str, df: DataFrame) -> DataFrame:
        """Replace the table with ``df`` if its check passes; return the table as published.

        Write-audit-publish (:func:`undercurrent_glue.iceberg.replace_audited`): ``df`` is
        computed once, by its write to the audit branch; the check reads the rows written.
        """
        spark.sparkContext.setJobDescription(f"gold {name}")
        # --- Data-quality hook: evaluate the gold rules of `name` on its new rows before they are published.
        iceberg.replace_audited(spark, tables[name], df, lambda written_rows: check_quality(name, written_rows))
        table = spark.table(tables[name])
        # The count of the snapshot just published (Iceberg answers it from its metadata).
        written[name] = table.count()
        return table

    def update_dim_customer() -> DataFrame:
        spark.sparkContext.setJobDescription("gold dim_customer")
        existing = spark.table(tables["dim_customer"])
        changes = gold.customer_changes(curated["customers"], existing).persist(StorageLevel.MEMORY_AND_DISK)
        # --- Data-quality hook: dim_customer as the MERGE will leave it.
        check_quality("dim_customer", gold.apply_customer_changes(existing, changes))
        written["dim_customer"] = changes.count()
        if written["dim_customer"]:
            gold.merge_customer_changes(spark, tables["dim_customer"], changes)
        return spark.table(tables["dim_customer"])

    tasks: list[Future] = []
    try:
        # One thread per task (the events, then each table): a task waiting for its inputs
        # holds no other back.
        with ThreadPoolExecutor(max_workers=len(gold.SORT_BY) + 1, thread_name_prefix="gold") as pool:

            def task(build: Callable[..., DataFrame], *inputs: Future) -> Future:
                """Run ``build(*results of inputs)`` once the inputs are done; a failed input fails it unrun."""
                future = pool.submit(lambda: build(*[i.result() for i in inputs]))
                tasks.append(future)
                return future

            # The events need no gold table: their deduplication starts while the tables are checked.
            events = task(lambda: gold.deduplicate_events(read_click_events(spark, clickstream_path)))
            # Every table is checked (or created) and every curated input read before any is built.
            tables.update(zip(gold.SORT_BY, pool.map(ensure, gold.SORT_BY), strict=True))
            curated_frames = pool.map(lambda t: gold.read_curated_table(spark, curated_path, t), CURATED_TABLES)
            curated = dict(zip(CURATED_TABLES, curated_frames, strict=True))
            product = task(lambda: rebuild("dim_product", gold.build_dim_product(curated["products"], curated["product_lines"])))
            employee = task(lambda: rebuild("dim_employee", gold.build_dim_employee(curated["employees"], curated["offices"])))
            customer = task(update_dim_customer)
            fact = task(
                lambda p, e, c: rebuild(
                    "fact_order_line", gold.build_fact_order_line(curated["orders"], curated["order_lines"], c, p, e)
                ),
                product, employee, customer,
            )
            sessions = task(lambda ev: rebuild("clickstream_sessions", gold.build_clickstream_sessions(ev, session_gap_minutes)), events)
            daily = task(lambda ev: rebuild("daily_product_views", gold.build_daily_product_views(ev)), events)
            task(lambda f, s, d: rebuild("dim_date", gold.build_dim_date(spark, gold.dates_used(f, s, d))), fact, sessions, daily)
        for future in tasks:
            future.result()  # the first failure, in submission order: the cause of the ones after it
    finally:
        # What the run persisted (the customer changes, duplicated event ids).
        release_all(spark)

    for name in gold.SORT_BY:
        sink.publish(name, {ROWS_WRITTEN: written[name]})
    print(
        json.dumps({"job": sink.job, "run_id": run_id, "rows_written": written}, sort_keys=True, separators=(",", ":")),
        flush=True,
    )
    return written


def main(argv: Sequence[str]) -> None:
    """Glue entrypoint: resolve arguments, init the job, run, publish metrics, commit."""
    from awsglue.context import GlueContext
    from awsglue.job import Job
    from awsglue.utils import getResolvedOptions
    from pyspark.context import SparkContext

    from undercurrent_glue.metrics import CloudWatchSink

    # Validate the arguments before starting anything.
    args = job_settings(argv, getResolvedOptions)
    sink = CloudWatchSink(args["JOB_NAME"], args["metrics_namespace"])
    glue_context = GlueContext(SparkContext.getOrCreate())
    spark = glue_context.spark_session
    job = Job(glue_context)
    job.init(args["JOB_NAME"], args)

    # JOB_RUN_ID is reserved (not requestable) but resolved whenever Glue passes it.
    run_id = args.get("JOB_RUN_ID") or "local-" + dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    try:
        run(
            spark,
            args["curated_path"],
            args["clickstream_path"],
            args["gold_database"],
            args["gold_path"],
            run_id,
            sink,
            session_gap_minutes=int(args[SESSION_GAP_ARGUMENT]),
            catalog=ICEBERG_CATALOG,
        )
    finally:
        sink.flush()
    job.commit()


if __name__ == "__main__":
    main(sys.argv)
