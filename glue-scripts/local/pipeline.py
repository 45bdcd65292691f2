"""The whole raw -> curated -> gold run on a local Spark, as the Glue jobs run it in AWS.

``npm run pipeline:local`` (``scripts/pipeline-local.sh``) calls :func:`main`: it generates
source tables and click events (``local/generator.py``) into a local raw zone, runs the three
transform jobs' ``run`` functions (click events raw -> curated, source tables raw -> curated,
curated -> gold Iceberg), then prints the row count of every table, the rows of the serving
stage's Athena views and the answers of its saved queries (``local/serving.py``). The benchmark
(``local/bench.py``) times the same steps.
"""

from __future__ import annotations

import argparse
import datetime as dt
import glob
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # annotations only: pyspark is imported where a session starts
    from pyspark.sql import SparkSession

GLUE_SCRIPTS = Path(__file__).resolve().parents[1]
for _path in (GLUE_SCRIPTS / "lib", GLUE_SCRIPTS):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from local import serving  # noqa: E402
from local.jobs import load_job  # noqa: E402
from local.spark import ICEBERG_CATALOG, local_spark  # noqa: E402
from undercurrent_glue.metrics import RecordingSink, RowCounts  # noqa: E402

#: The gold database of local runs (a namespace of the local Iceberg catalog).
LOCAL_GOLD_DATABASE = "gold"
_INGEST_DIR = re.compile(r"/ingest_date=(\d{4}-\d{2}-\d{2})/?$")


@dataclass(frozen=True)
class Zones:
    """The local lake: one directory per zone under ``root``, as ``file://`` URIs ending in ``/``."""

    root: Path

    def uri(self, zone: str, prefix: str = "") -> str:
        return (self.root / zone).resolve().as_uri() + "/" + prefix

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse"


@dataclass
class StepTiming:
    """Wall time of one step and the rows it read."""

    name: str
    seconds: float
    rows_in: int


@dataclass
class PipelineRun:
    """What :func:`run_pipeline` did: the timed steps and the row counts it reported."""

    steps: list[StepTiming] = field(default_factory=list)
    clickstream: RowCounts | None = None
    curated: dict[str, RowCounts] = field(default_factory=dict)
    gold: dict[str, int] = field(default_factory=dict)


_T = TypeVar("_T")


def _timed(run: PipelineRun, name: str, rows_in: Callable[[_T], int], action: Callable[[], _T]) -> _T:
    started = time.perf_counter()
    result = action()
    run.steps.append(StepTiming(name, time.perf_counter() - started, rows_in(result)))
    return result


def click_ingest_dates(raw_clickstream: Path) -> list[dt.date]:
    """The ``ingest_date`` values under ``<raw>/clickstream/event_date=*/``, sorted."""
    found = set()
    for directory in glob.glob(str(raw_clickstream / "event_date=*" / "ingest_date=*")):
        match = _INGEST_DIR.search(directory)
        if match:
            found.add(dt.date.fromisoformat(match.group(1)))
    return sorted(found)


def run_pipeline(spark: SparkSession, zones: Zones, run_id: str, now: dt.datetime) -> PipelineRun:
    """Run click events raw -> curated, source tables raw -> curated, curated -> gold.

    Returns the wall time of each step and the counts the jobs returned.
    """
    clickstream_job = load_job("clickstream_raw_to_curated")
    source_job = load_job("source_raw_to_curated")
    gold_job = load_job("curated_to_gold")
    run = PipelineRun()

    click_dates = click_ingest_dates(zones.root / "raw" / "clickstream")
    run.clickstream = _timed(
        run,
        "clickstream raw -> curated",
        lambda counts: counts.rows_in,
        lambda: clickstream_job.run(
            spark,
            zones.uri("raw", "clickstream/"),
            zones.uri("curated", "clickstream_events/"),
            zones.uri("quarantine", "clickstream_events/"),
            run_id,
            click_dates,
        ),
    )
    run.curated = _timed(
        run,
        "source tables raw -> curated",
        lambda counts: int(sum(c.rows_in for c in counts.values())),
        lambda: source_job.run(
            spark,
            zones.uri("raw", "source/"),
            zones.uri("curated"),
            zones.uri("quarantine"),
            run_id,
            now,
            RecordingSink("SourceToCurated"),
        ),
    )
    run.gold = _timed(
        run,
        "curated -> gold (Iceberg)",
        lambda _: sum(c.rows_curated for c in run.curated.values()),
        lambda: gold_job.run(
            spark,
            zones.uri("curated"),
            zones.uri("curated", "clickstream_events/"),
            LOCAL_GOLD_DATABASE,
            zones.uri("gold"),
            run_id,
            RecordingSink("CuratedToGold"),
            create_namespace=True,
        ),
    )
    return run


def gold_table(name: str) -> str:
    return f"{ICEBERG_CATALOG}.{LOCAL_GOLD_DATABASE}.{name}"


def table_counts(spark: SparkSession, zones: Zones) -> dict[str, int]:
    """Rows of every curated, quarantine and gold table of the local lake."""
    counts: dict[str, int] = {}
    for zone in ("curated", "quarantine"):
        for directory in sorted((zones.root / zone).iterdir()):
            if directory.is_dir():
                uri = directory.resolve().as_uri()
                # Quarantine is JSON lines (one row per line; a table without rejects has no file).
                rows = spark.read.parquet(uri) if zone == "curated" else spark.read.text(uri)
                counts[f"{zone}.{directory.name}"] = rows.count()
    for row in spark.sql(f"SHOW TABLES IN {ICEBERG_CATALOG}.{LOCAL_GOLD_DATABASE}").collect():
        counts[f"gold.{row.tableName}"] = spark.table(gold_table(row.tableName)).count()
    return counts


def _print_table(title: str, rows: Sequence[Sequence[Any]], columns: Sequence[str]) -> None:
    print(f"\n{title}")
    widths = [max(len(c), *(len(str(r[i])) for r in rows)) if rows else len(c) for i, c in enumerate(columns)]
    print("  " + "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for r in rows:
        print("  " + "  ".join(str(r[i]).ljust(w) for i, w in enumerate(widths)))


def report(spark: SparkSession, zones: Zones) -> None:
    """Print every table's row count, then :func:`serving_report`."""
    counts = table_counts(spark, zones)
    _print_table("Rows per table", sorted(counts.items()), ["table", "rows"])
    serving_report(spark)


def serving_report(spark: SparkSession) -> None:
    """Print the serving stage's views (rows) and saved queries (answers) on the local gold, as
    Athena would answer them (``local/serving.py``)."""
    views = serving.register_views(spark, LOCAL_GOLD_DATABASE)
    _print_table("Serving views (lib/serving/sql/views)", [(v, spark.table(v).count()) for v in views], ["view", "rows"])
    for query in serving.queries():
        result = serving.run_query(spark, query, LOCAL_GOLD_DATABASE)
        _print_table(f"{query.name}: {query.description}", [tuple(r) for r in result.collect()], result.columns)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate data and run raw -> curated -> gold on a local Spark.")
    parser.add_argument("--scale", type=float, default=1.0, help="scale factor of the generated data (default 1)")
    parser.add_argument("--seed", type=int, default=7, help="generator seed (default 7)")
    parser.add_argument("--workdir", type=Path, help="where the local lake goes (default: a temporary directory, removed)")
    parser.add_argument("--clean", action="store_true", help="generate only clean rows (no injected bad rows)")
    args = parser.parse_args(argv)
    if args.scale <= 0:
        parser.error(f"--scale must be greater than 0; got {args.scale}")

    from local.generator import generate

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="undercurrent-local-"))
    zones = Zones(workdir)
    spark = local_spark(zones.warehouse, app_name="undercurrent-pipeline-local")
    try:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        manifest = generate(spark, zones.uri("raw"), scale=args.scale, seed=args.seed, as_of=now.date(),
                            bad_rows=not args.clean)
        print(f"Generated scale {args.scale} (seed {args.seed}) into {zones.uri('raw')}: {manifest.rows}")
        run = run_pipeline(spark, zones, f"local-{now:%Y%m%dT%H%M%SZ}", now)
        _print_table("Steps", [(s.name, f"{s.seconds:.1f} s", s.rows_in) for s in run.steps],
                     ["step", "wall time", "rows in"])
        _print_table(
            "Source tables: rows in = curated + quarantined + duplicates removed",
            [(table, *counts) for table, counts in sorted(run.curated.items())],
            ["table", "rows in", "curated", "quarantined", "duplicates removed"],
        )
        report(spark, zones)
    finally:
        spark.stop()
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
