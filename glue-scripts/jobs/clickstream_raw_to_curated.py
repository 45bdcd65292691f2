"""Glue 5.0 job: clickstream events, raw zone (Firehose GZIP JSON lines) -> curated zone.

Incremental and idempotent: a run processes a window of raw ``ingest_date`` partitions
and replaces exactly the output partitions that window produces, so rerunning it (or a
retry) gives the same result instead of duplicates, and the cost of a run does not grow
with the history.

Job arguments (the CDK app passes them as ``--raw_path s3://.../clickstream/`` etc.):

* ``--raw_path`` (required): the prefix under which Firehose writes, with dynamic
  partitioning, ``event_date=YYYY-MM-DD/ingest_date=YYYY-MM-DD/<files>.gz`` (GZIP JSON
  lines; ``event_date`` is the first 10 characters of the event's ``event_time`` as the
  producer sent it, ``ingest_date`` the UTC arrival date; records Firehose cannot parse
  go to a separate error prefix, which this job does not read);
* ``--curated_path`` (required): the curated dataset, Parquet partitioned by
  ``event_date`` then ``ingest_date`` (``event_date=D/ingest_date=I/``);
* ``--quarantine_path`` (required): rejected lines, GZIP JSON partitioned by the
  ``ingest_date`` they were read from;
* ``--metrics_namespace`` (required): the CloudWatch namespace where the run's four counts
  (``RowsIn``, ``RowsCurated``, ``RowsQuarantined``, ``DuplicatesRemoved``, dataset
  ``clickstream_events``) are published;
* ``--lookback_days`` (optional, default ``2``, 1..400): process the ingest dates today
  (UTC), today - 1, ..., today - (N - 1);
* ``--ingest_dates`` (optional): comma-separated ``YYYY-MM-DD`` ingest dates to process
  instead of the lookback window (backfills and reruns of specific days).

For each ingest date D of the window the job reads every directory matching the glob
``<raw_path>/event_date=*/ingest_date=D/``: the events that arrived on D, whatever the
event date they carry (late events included). Ingest dates without any match are skipped,
and a window with none is an empty run. Every line keeps the ``ingest_date`` of the
directory it was read from; the raw ``event_date`` directory is ignored, because the
transform computes the UTC ``event_date`` from ``event_time`` itself (the producer's date
prefix differs from it for an offset such as ``2024-05-01T23:30:00-02:00``, and may be
anything for an invalid ``event_time``). Not read: files of the former layout, directly
under ``<raw_path>/ingest_date=D/``, and any deeper directories (``*`` does not cross
``/``, e.g. if a producer's ``event_time`` started with ``2024/05/01``).

Both outputs are written with dynamic partition overwrite: a run replaces the curated
``(event_date, ingest_date)`` partitions and the quarantine ``ingest_date`` partitions it
produces and leaves every other partition alone, so events of an ``event_date`` that
arrived on other ingest dates are never touched. Deduplication is within the window (see
``undercurrent_glue.clickstream``).

The logic lives in ``undercurrent_glue`` (shipped with ``--extra-py-files``); this file
only parses arguments, does the I/O and commits the job. The raw files are read with
``spark.read.text`` (not tracked by job bookmarks: the window, not a bookmark, decides
what is read); ``job.init``/``job.commit`` still run, so the job's bookmark state and run
bookkeeping stay consistent if bookmarked sources are added later.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable, Mapping, Sequence

from pyspark.sql import DataFrame, SparkSession, functions as F

from undercurrent_glue.clickstream import (
    VALUE_COLUMN,
    ClickstreamCounts,
    partition_columns,
    transform_clickstream,
)
from undercurrent_glue.frames import release_all
from undercurrent_glue.ingest_dates import (
    DEFAULT_LOOKBACK_DAYS,
    INGEST_DATE,
    INGEST_DATES_ARGUMENT,
    LOOKBACK_DAYS_ARGUMENT,
    ingest_date_glob,
    lookback_window,
    parse_lookback_days,
    present_arguments,
    resolve_ingest_dates,
)
from undercurrent_glue.metrics import CloudWatchSink, MetricsSink, count_metrics

#: Arguments every run must have.
JOB_ARGUMENTS = ["JOB_NAME", "raw_path", "curated_path", "quarantine_path", "metrics_namespace"]
#: Arguments resolved only when present in ``sys.argv``.
OPTIONAL_ARGUMENTS = [LOOKBACK_DAYS_ARGUMENT, INGEST_DATES_ARGUMENT]
QUARANTINE_PARTITION = INGEST_DATE
#: The ``Dataset`` dimension of the published counts.
METRICS_DATASET = "clickstream_events"
_EMPTY_LINES_SCHEMA = f"{VALUE_COLUMN} string, {INGEST_DATE} date"
#: How the directory of a raw file that holds its ingest date starts.
_INGEST_DATE_PREFIX = f"{INGEST_DATE}="


def utc_today() -> dt.date:
    """Return the current UTC calendar date."""
    return dt.datetime.now(dt.UTC).date()


def job_settings(
    argv: Sequence[str],
    today: dt.date,
    get_resolved_options: Callable[[list[str], list[str]], Mapping[str, str]],
) -> tuple[dict[str, str], list[dt.date]]:
    """Resolve the job arguments and the ingest dates of this run.

    Args:
        argv: ``sys.argv``.
        today: the current UTC date.
        get_resolved_options: ``awsglue.utils.getResolvedOptions`` (a parameter so that this
            runs without ``awsglue``). It fails on a requested argument that is absent, so the
            optional arguments are requested only when present in ``argv``.

    Returns:
        The resolved arguments and the ingest dates to process, newest first.

    Raises:
        ValueError: ``lookback_days`` or ``ingest_dates`` is invalid (names the argument and
            the value).
    """
    names = JOB_ARGUMENTS + present_arguments(argv, OPTIONAL_ARGUMENTS)
    args = dict(get_resolved_options(list(argv), names))
    dates = resolve_ingest_dates(
        today, args.get(LOOKBACK_DAYS_ARGUMENT), args.get(INGEST_DATES_ARGUMENT)
    )
    return args, dates


def _glob_matches(spark: SparkSession, pattern: str) -> list[str]:
    """Return the paths matching a Hadoop glob (``FileSystem.globStatus``; it returns None or an
    empty array when nothing matches, depending on the pattern and the file system)."""
    jvm = spark.sparkContext._jvm
    assert jvm is not None  # set while a SparkContext runs (as pyspark itself asserts)
    hadoop_path = jvm.org.apache.hadoop.fs.Path(pattern)
    fs = hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    statuses = fs.globStatus(hadoop_path)
    return [] if statuses is None else [str(status.getPath()) for status in statuses]


def existing_ingest_dates(spark: SparkSession, raw_path: str, ingest_dates: Sequence[dt.date]) -> list[dt.date]:
    """Return the dates (unique, in the given order) with at least one
    ``<raw_path>/event_date=*/ingest_date=D`` directory."""
    unique = list(dict.fromkeys(ingest_dates))
    return [d for d in unique if _glob_matches(spark, ingest_date_glob(raw_path, d))]


def read_raw_lines(spark: SparkSession, raw_path: str, ingest_dates: Sequence[dt.date]) -> DataFrame:
    """Read every line under ``<raw_path>/event_date=*/ingest_date=D`` for D in ``ingest_dates``.

    GZIP is decompressed by extension. Returns ``value`` (the line) and ``ingest_date``
    (a date: that of the ``ingest_date=`` directory the line was read from). Ingest dates
    without a matching directory are skipped; when none has one, or none holds a file, the
    result is empty.
    """
    found = existing_ingest_dates(spark, raw_path, ingest_dates)
    missing = [d.isoformat() for d in dict.fromkeys(ingest_dates) if d not in found]
    if missing:
        print(f"clickstream_raw_to_curated: no raw partition for ingest_date {', '.join(missing)}; skipped.",
              flush=True)
    if not found:
        return spark.createDataFrame([], _EMPTY_LINES_SCHEMA)
    # Spark expands the globs itself (as globStatus did above), so a directory name taken from
    # the producer's event_time is never re-read as a pattern (it may hold "[" or "{").
    lines = spark.read.text([ingest_date_glob(raw_path, d) for d in found])
    # The raw event_date directory is ignored on purpose: the transform computes the UTC
    # event_date from event_time itself. ingest_date is taken from each file's path instead of
    # partition discovery (basePath), which would also parse the producer-controlled
    # event_date level and fail the whole read on an empty one ("event_date=/"). The path
    # ends with "/ingest_date=YYYY-MM-DD/<file>"; plain substrings find the date (a regex on
    # every line's path cost half a second per million lines). A path that does not end so
    # gives null, which the transform refuses: it fails loudly.
    directory = F.substring_index(F.substring_index(F.col("_metadata.file_path"), "/", -2), "/", 1)
    fits = directory.startswith(_INGEST_DATE_PREFIX) & (F.length(directory) == len(_INGEST_DATE_PREFIX) + 10)
    day = F.substring(directory, len(_INGEST_DATE_PREFIX) + 1, 10).cast("date")
    return lines.select(VALUE_COLUMN, F.when(fits, day).alias(INGEST_DATE))


def write_curated(curated: DataFrame, curated_path: str) -> None:
    """Write curated events as Parquet by event_date then ingest_date, replacing only the
    partitions written (dynamic partition overwrite)."""
    (
        curated.write.mode("overwrite")
        .option("partitionOverwriteMode", "dynamic")
        .option("compression", "snappy")
        .partitionBy(*partition_columns())
        .parquet(curated_path)
    )


def write_quarantine(quarantine: DataFrame, quarantine_path: str) -> None:
    """Write quarantined lines as GZIP JSON by ingest_date, replacing only the partitions
    written (dynamic partition overwrite), so a rerun replaces instead of duplicating."""
    (
        quarantine.write.mode("overwrite")
        .option("partitionOverwriteMode", "dynamic")
        .option("compression", "gzip")
        .partitionBy(QUARANTINE_PARTITION)
        .json(quarantine_path)
    )


def counts_log_line(
    job_name: str,
    run_id: str,
    counts: ClickstreamCounts,
    ingest_dates: Sequence[dt.date] | None = None,
) -> str:
    """Return the run's counts (and its window, when given) as one JSON line, for CloudWatch
    Logs metric filters."""
    record = {"job": job_name, "run_id": run_id, **counts._asdict()}
    if ingest_dates is not None:
        record["ingest_dates"] = [d.isoformat() for d in ingest_dates]
    return json.dumps(record, sort_keys=True, separators=(",", ":"))


def run(
    spark: SparkSession,
    raw_path: str,
    curated_path: str,
    quarantine_path: str,
    run_id: str,
    ingest_dates: Sequence[dt.date] | None = None,
    sink: MetricsSink | None = None,
) -> ClickstreamCounts:
    """Read the window's raw lines, transform them, write curated and quarantine; return the counts.

    Args:
        ingest_dates: the raw partitions to process; default the last
            ``DEFAULT_LOOKBACK_DAYS`` UTC dates ending today.
        sink: where the counts are published (dataset ``clickstream_events``), after the writes.
    """
    if ingest_dates is None:
        ingest_dates = lookback_window(utc_today(), parse_lookback_days(DEFAULT_LOOKBACK_DAYS))
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    result = transform_clickstream(read_raw_lines(spark, raw_path, ingest_dates), run_id)
    write_curated(result.curated, curated_path)
    write_quarantine(result.quarantine, quarantine_path)
    release_all(spark)
    if sink is not None:
        sink.publish(METRICS_DATASET, count_metrics(result.counts))
    return result.counts


def main(argv: Sequence[str]) -> None:
    """Glue entrypoint: resolve arguments, init the job, run, log counts, commit."""
    from awsglue.context import GlueContext
    from awsglue.job import Job
    from awsglue.utils import getResolvedOptions
    from pyspark.context import SparkContext

    # Validate the arguments before starting anything.
    args, ingest_dates = job_settings(argv, utc_today(), getResolvedOptions)
    glue_context = GlueContext(SparkContext.getOrCreate())
    spark = glue_context.spark_session
    job = Job(glue_context)
    job.init(args["JOB_NAME"], args)

    # JOB_RUN_ID is reserved (not requestable) but resolved whenever Glue passes it.
    run_id = args.get("JOB_RUN_ID") or "local-" + dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    sink = CloudWatchSink(args["JOB_NAME"], args["metrics_namespace"])
    try:
        counts = run(
            spark, args["raw_path"], args["curated_path"], args["quarantine_path"], run_id, ingest_dates, sink
        )
    finally:
        sink.flush()
    print(counts_log_line(args["JOB_NAME"], run_id, counts, ingest_dates), flush=True)
    job.commit()


if __name__ == "__main__":
    main(sys.argv)
