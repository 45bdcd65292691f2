"""Benchmark of the transform jobs on a local Spark against a plain read-and-write floor.

``npm run bench:pipeline -- --scale 10`` (``scripts/bench-pipeline.sh``) generates the data
once, then runs each job ``--repeat`` times on fresh output zones and prints, per job, the
best wall time and the rows per second, and the same for the floor: a plain Spark read of
the same raw input (every source table's Parquet and the click events' GZIP text) written
straight back as Parquet, with no transform. The ratio of the whole raw -> gold run to the
floor is the figure to watch (target: within 3x at scale 10). Figures are printed, never
asserted: a timing is not a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

GLUE_SCRIPTS = Path(__file__).resolve().parents[1]
for _path in (GLUE_SCRIPTS / "lib", GLUE_SCRIPTS):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from local.pipeline import Zones, run_pipeline  # noqa: E402
from local.spark import local_spark  # noqa: E402
from undercurrent_glue.schema import SOURCE_TABLES  # noqa: E402


def floor_run(spark, zones: Zones) -> Dict[str, float]:
    """Plain read-and-write of the raw input: returns seconds and rows of the source tables and the click events."""
    out = zones.root / "floor"
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    source_rows = 0
    for table in SOURCE_TABLES:
        df = spark.read.parquet(zones.uri("raw", f"source/{table}/"))
        df.write.mode("overwrite").parquet((out / table).resolve().as_uri())
        source_rows += spark.read.parquet((out / table).resolve().as_uri()).count()
    source_seconds = time.perf_counter() - started
    started = time.perf_counter()
    lines = spark.read.text(zones.uri("raw", "clickstream/"))
    lines.write.mode("overwrite").parquet((out / "clickstream").resolve().as_uri())
    click_rows = spark.read.parquet((out / "clickstream").resolve().as_uri()).count()
    return {
        "source_seconds": source_seconds,
        "source_rows": source_rows,
        "click_seconds": time.perf_counter() - started,
        "click_rows": click_rows,
    }


def _reset_outputs(zones: Zones) -> None:
    for zone in ("curated", "quarantine", "gold", "warehouse/gold"):
        shutil.rmtree(zones.root / zone, ignore_errors=True)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Time the transform jobs against a plain read-and-write floor.")
    parser.add_argument("--scale", type=float, default=10.0, help="scale factor (default 10)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each measurement; the best is reported (default 2)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cores", type=int, default=2, help="local Spark cores (default 2)")
    args = parser.parse_args(argv)
    if args.scale <= 0 or args.repeat < 1 or args.cores < 1:
        parser.error("--scale must be > 0, --repeat and --cores >= 1")

    from undercurrent_glue.generator import generate

    zones = Zones(Path(tempfile.mkdtemp(prefix="undercurrent-bench-")))
    spark = local_spark(zones.warehouse, app_name="undercurrent-bench", cores=args.cores,
                        shuffle_partitions=max(2, args.cores * 2))
    try:
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        started = time.perf_counter()
        manifest = generate(spark, zones.uri("raw"), scale=args.scale, seed=args.seed, as_of=now.date(), bad_rows=True)
        print(f"generated scale {args.scale} in {time.perf_counter() - started:.1f} s: {manifest.rows}", flush=True)

        best_steps: Dict[str, List[float]] = {}
        rows: Dict[str, int] = {}
        for attempt in range(args.repeat):
            _reset_outputs(zones)
            run = run_pipeline(spark, zones, f"bench-{attempt}", now)
            for step in run.steps:
                best_steps.setdefault(step.name, []).append(step.seconds)
                rows[step.name] = step.rows_in
        floors = [floor_run(spark, zones) for _ in range(args.repeat)]
        floor_source = min(f["source_seconds"] for f in floors)
        floor_click = min(f["click_seconds"] for f in floors)

        print(f"\nscale {args.scale}, local[{args.cores}], best of {args.repeat}")
        print(f"{'step':34} {'wall s':>8} {'rows in':>10} {'rows/s':>10}")
        total = 0.0
        for name, seconds in best_steps.items():
            best = min(seconds)
            total += best
            print(f"{name:34} {best:8.2f} {rows[name]:10d} {rows[name] / best:10.0f}")
        floor_total = floor_source + floor_click
        print(f"{'floor: source tables read+write':34} {floor_source:8.2f} {floors[0]['source_rows']:10d} "
              f"{floors[0]['source_rows'] / floor_source:10.0f}")
        print(f"{'floor: click events read+write':34} {floor_click:8.2f} {floors[0]['click_rows']:10d} "
              f"{floors[0]['click_rows'] / floor_click:10.0f}")
        print(f"\nraw -> gold total {total:.2f} s; floor {floor_total:.2f} s; ratio {total / floor_total:.2f}x (target <= 3x at scale 10)")
    finally:
        spark.stop()
        shutil.rmtree(zones.root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
