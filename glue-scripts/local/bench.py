"""Benchmark of the transform jobs on a local Spark against a plain read-and-write floor.

``npm run bench:pipeline -- --scale 10`` (``scripts/bench-pipeline.sh``) generates the data
once, then runs each job ``--repeat`` times on fresh output zones and prints, per job, the
best wall time and the rows per second, and the same for its floor: a plain Spark read of
that job's input written straight back as Parquet, with no transform (:func:`floor_run`:
the click events' JSON lines, the raw source tables, the curated tables the gold job
reads). The ratio of the whole raw -> gold run to the sum of the floors is the figure to
watch (target: within 3x at scale 10); each job's own ratio is printed too. The best run is
a warm one: the local session keeps every class Spark generates for the jobs
(:data:`local.spark.CODEGEN_CACHE_ENTRIES`), so a repeat runs the code the first run
compiled, as the floor's repeats do; the first run's total is printed too. Figures are
printed, never asserted: a timing is not a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: pyspark is imported where a session starts
    from pyspark.sql import DataFrame, SparkSession

GLUE_SCRIPTS = Path(__file__).resolve().parents[1]
for _path in (GLUE_SCRIPTS / "lib", GLUE_SCRIPTS):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from local.jobs import load_job  # noqa: E402
from local.pipeline import Zones, run_pipeline  # noqa: E402
from local.spark import local_spark  # noqa: E402
from undercurrent_glue.schema import SOURCE_TABLES  # noqa: E402

#: The floor of each step: the step it stands for, and what it reads.
FLOOR_STEPS = (
    ("clickstream raw -> curated", "click events: JSON read + write"),
    ("source tables raw -> curated", "source tables: read + write"),
    ("curated -> gold (Iceberg)", "curated tables: read + write"),
)


def _read_write(spark: SparkSession, df: DataFrame, out: Path) -> int:
    """Write ``df`` as Parquet to ``out`` and return the rows written (read back)."""
    df.write.mode("overwrite").parquet(out.resolve().as_uri())
    return spark.read.parquet(out.resolve().as_uri()).count()


def floor_run(spark: SparkSession, zones: Zones) -> dict[str, tuple[float, int]]:
    """A plain Spark read of each step's input written straight back as Parquet, no transform.

    Returns ``{step: (seconds, rows)}`` for the three steps of :data:`FLOOR_STEPS`:

    * the click events: the raw GZIP JSON lines read with Spark's JSON reader and the
      declared event schema (a plain read of JSON parses it);
    * the source tables: every raw table's Parquet;
    * the curated tables the gold job reads: the source tables' and the click events'
      Parquet (as the last pipeline run left them).
    """
    from undercurrent_glue.schema import load_schema

    out = zones.root / "floor"
    shutil.rmtree(out, ignore_errors=True)
    floors: dict[str, tuple[float, int]] = {}
    inputs = {
        FLOOR_STEPS[0][0]: lambda: [
            ("clickstream", spark.read.schema(load_schema("clickstream_event")).json(zones.uri("raw", "clickstream/")))
        ],
        FLOOR_STEPS[1][0]: lambda: [
            (table, spark.read.parquet(zones.uri("raw", f"source/{table}/"))) for table in SOURCE_TABLES
        ],
        FLOOR_STEPS[2][0]: lambda: [
            (table, spark.read.parquet(zones.uri("curated", f"{table}/")))
            for table in (*load_job("curated_to_gold").CURATED_TABLES, "clickstream_events")
        ],
    }
    for step, frames in inputs.items():
        started = time.perf_counter()
        rows = sum(_read_write(spark, df, out / step.split()[0] / name) for name, df in frames())
        floors[step] = (time.perf_counter() - started, rows)
    return floors


def _reset_outputs(zones: Zones) -> None:
    for zone in ("curated", "quarantine", "gold", "warehouse/gold"):
        shutil.rmtree(zones.root / zone, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time the transform jobs against a plain read-and-write floor.")
    parser.add_argument("--scale", type=float, default=10.0, help="scale factor (default 10)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each measurement; the best is reported (default 2)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cores", type=int, default=2, help="local Spark cores (default 2)")
    args = parser.parse_args(argv)
    if args.scale <= 0 or args.repeat < 1 or args.cores < 1:
        parser.error("--scale must be > 0, --repeat and --cores >= 1")

    from local.generator import generate

    zones = Zones(Path(tempfile.mkdtemp(prefix="undercurrent-bench-")))
    spark = local_spark(zones.warehouse, app_name="undercurrent-bench", cores=args.cores,
                        shuffle_partitions=max(2, args.cores * 2))
    try:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        started = time.perf_counter()
        manifest = generate(spark, zones.uri("raw"), scale=args.scale, seed=args.seed, as_of=now.date(), bad_rows=True)
        print(f"generated scale {args.scale} in {time.perf_counter() - started:.1f} s: {manifest.rows}", flush=True)

        best_steps: dict[str, list[float]] = {}
        rows: dict[str, int] = {}
        for attempt in range(args.repeat):
            _reset_outputs(zones)
            run = run_pipeline(spark, zones, f"bench-{attempt}", now)
            for timing in run.steps:
                best_steps.setdefault(timing.name, []).append(timing.seconds)
                rows[timing.name] = timing.rows_in
        floor_runs = [floor_run(spark, zones) for _ in range(args.repeat)]
        floors = {step: min(run[step][0] for run in floor_runs) for step, _ in FLOOR_STEPS}

        print(f"\nscale {args.scale}, local[{args.cores}], best of {args.repeat}")
        print(f"{'step':40} {'wall s':>8} {'rows in':>10} {'rows/s':>10}   {'floor s':>8} {'ratio':>7}")
        total = floor_total = 0.0
        for step, _ in FLOOR_STEPS:
            best = min(best_steps[step])
            total += best
            floor_total += floors[step]
            print(f"{step:40} {best:8.2f} {rows[step]:10d} {rows[step] / best:10.0f}   {floors[step]:8.2f} "
                  f"{best / floors[step]:6.2f}x")
        for step, floor_name in FLOOR_STEPS:
            floor_rows = floor_runs[0][step][1]
            print(f"{'floor: ' + floor_name:40} {floors[step]:8.2f} {floor_rows:10d} {floor_rows / floors[step]:10.0f}")
        print(f"\nraw -> gold total {total:.2f} s; floor {floor_total:.2f} s; ratio {total / floor_total:.2f}x "
              "(target <= 3x at scale 10)")
        cold = sum(seconds[0] for seconds in best_steps.values())
        print(f"first run (Spark generates and the JIT compiles the jobs' code): {cold:.2f} s")
    finally:
        spark.stop()
        shutil.rmtree(zones.root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
