"""The Glue job's incremental, idempotent I/O: raw ingest_date window in, partitions replaced out."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import pytest

from test_clickstream import event, load_job_module
from undercurrent_glue.clickstream import ClickstreamCounts

D = dt.date
APR_30, MAY_1, MAY_2, MAY_3 = D(2024, 4, 30), D(2024, 5, 1), D(2024, 5, 2), D(2024, 5, 3)


@pytest.fixture(scope="module")
def job():
    return load_job_module()


class Zones:
    """Local raw, curated and quarantine zones laid out like the S3 ones."""

    def __init__(self, root: Path):
        self.raw = root / "raw" / "clickstream"
        self.raw.mkdir(parents=True)
        self.curated = str(root / "curated")
        self.quarantine = str(root / "quarantine")
        self._files = 0

    def deliver(self, ingest_date: dt.date, *raw_lines: str) -> None:
        """Write one Firehose object (GZIP JSON lines) under ingest_date=YYYY-MM-DD/."""
        partition = self.raw / f"ingest_date={ingest_date.isoformat()}"
        partition.mkdir(exist_ok=True)
        self._files += 1
        name = f"undercurrent-clickstream-1-{ingest_date.isoformat()}-00-00-00-{self._files:04d}.gz"
        with gzip.open(partition / name, "wt", encoding="utf-8") as handle:
            handle.write("".join(line + "\n" for line in raw_lines))

    def run(self, job, spark, run_id, *ingest_dates):
        return job.run(spark, str(self.raw) + "/", self.curated, self.quarantine, run_id, list(ingest_dates))

    def curated_rows(self, spark):
        rows = spark.read.parquet(self.curated).select("event_id", "event_date", "ingest_date").collect()
        return sorted((r["event_id"], r["event_date"], r["ingest_date"]) for r in rows)

    def quarantine_rows(self, spark):
        rows = spark.read.json(self.quarantine).collect()
        return sorted((r["raw_line"], r["run_id"], str(r["ingest_date"])) for r in rows)


@pytest.fixture
def zones(tmp_path):
    return Zones(tmp_path)


def test_the_job_reads_only_the_ingest_dates_of_its_window_and_tags_every_row_with_its_ingest_date(
    job, spark, zones
):
    zones.deliver(APR_30, event("old-1", event_time="2024-04-30T10:00:00Z"), "old bad line")
    zones.deliver(MAY_1, event("e-1"), "bad line")
    zones.deliver(MAY_2, event("e-2", event_time="2024-05-01T23:59:00Z"), event("e-3", event_time="2024-05-02T00:01:00Z"))

    counts = zones.run(job, spark, "jr_1", MAY_2, MAY_1)

    assert counts == ClickstreamCounts(rows_in=4, rows_curated=3, rows_quarantined=1, duplicates_removed=0)
    assert zones.curated_rows(spark) == [
        ("e-1", MAY_1, MAY_1),
        ("e-2", MAY_1, MAY_2),
        ("e-3", MAY_2, MAY_2),
    ]
    assert zones.quarantine_rows(spark) == [("bad line", "jr_1", "2024-05-01")]


def test_the_outputs_are_laid_out_as_event_date_then_ingest_date_and_as_ingest_date_directories(
    job, spark, zones
):
    zones.deliver(MAY_2, event("e-1", event_time="2024-05-01T22:00:00Z"), "not json")

    zones.run(job, spark, "jr_1", MAY_2)

    curated_files = sorted(
        p.relative_to(zones.curated).parent.as_posix() for p in Path(zones.curated).rglob("*.parquet")
    )
    quarantine_files = sorted(
        p.relative_to(zones.quarantine).parent.as_posix() for p in Path(zones.quarantine).rglob("*.json.gz")
    )
    assert set(curated_files) == {"event_date=2024-05-01/ingest_date=2024-05-02"}
    assert set(quarantine_files) == {"ingest_date=2024-05-02"}


def test_missing_ingest_date_directories_in_the_window_are_skipped(job, spark, zones):
    zones.deliver(MAY_1, event("e-1"))

    counts = zones.run(job, spark, "jr_1", MAY_3, MAY_2, MAY_1, APR_30)

    assert counts == ClickstreamCounts(1, 1, 0, 0)
    assert zones.curated_rows(spark) == [("e-1", MAY_1, MAY_1)]


def test_a_window_without_any_raw_partition_is_an_empty_run_that_leaves_the_outputs_alone(job, spark, zones):
    zones.deliver(APR_30, event("e-1", event_time="2024-04-30T12:00:00Z"), "bad")
    (zones.raw / "ingest_date=2024-05-01").mkdir()  # a directory without files counts as empty
    spark.createDataFrame([("e-1", APR_30, APR_30)], "event_id string, event_date date, ingest_date date") \
        .write.partitionBy("event_date", "ingest_date").parquet(zones.curated)
    spark.createDataFrame([("bad", "jr_1", APR_30)], "raw_line string, run_id string, ingest_date date") \
        .write.partitionBy("ingest_date").json(zones.quarantine)

    counts = zones.run(job, spark, "jr_2", MAY_2, MAY_1)

    assert counts == ClickstreamCounts(0, 0, 0, 0)
    assert zones.curated_rows(spark) == [("e-1", APR_30, APR_30)]
    assert zones.quarantine_rows(spark) == [("bad", "jr_1", "2024-04-30")]


def test_rerunning_only_the_later_ingest_date_keeps_the_events_of_the_same_event_date_from_the_earlier_one(
    job, spark, zones
):
    # Events of event_date 2024-04-30: one on time, one arriving late on 2024-05-01.
    zones.deliver(APR_30, event("on-time", event_time="2024-04-30T10:00:00Z"))
    zones.deliver(MAY_1, event("late", event_time="2024-04-30T23:50:00Z"), event("e-1"))
    zones.run(job, spark, "jr_1", MAY_1, APR_30)
    expected = [("e-1", MAY_1, MAY_1), ("late", APR_30, MAY_1), ("on-time", APR_30, APR_30)]
    assert zones.curated_rows(spark) == expected

    rerun = zones.run(job, spark, "jr_2", MAY_1)

    assert rerun == ClickstreamCounts(2, 2, 0, 0)
    assert zones.curated_rows(spark) == expected


def test_a_rerun_after_more_files_arrived_replaces_the_ingest_date_partitions_without_duplicates(
    job, spark, zones
):
    zones.deliver(MAY_1, event("e-1"), event("e-2"))
    zones.run(job, spark, "jr_1", MAY_2, MAY_1)
    zones.deliver(MAY_1, event("e-3"), event("e-1"))  # a new object, with a resent event

    counts = zones.run(job, spark, "jr_2", MAY_2, MAY_1)

    assert counts == ClickstreamCounts(rows_in=4, rows_curated=3, rows_quarantined=0, duplicates_removed=1)
    assert zones.curated_rows(spark) == [("e-1", MAY_1, MAY_1), ("e-2", MAY_1, MAY_1), ("e-3", MAY_1, MAY_1)]


def test_running_the_job_twice_replaces_its_quarantine_rows_instead_of_duplicating_them(job, spark, zones):
    zones.deliver(APR_30, "bad from april")
    zones.deliver(MAY_1, "bad 1", "bad 2", event("e-1"))

    first = zones.run(job, spark, "jr_1", MAY_1, APR_30)
    after_first = zones.quarantine_rows(spark)
    second = zones.run(job, spark, "jr_2", MAY_1)  # a rerun of one ingest date of the window
    after_second = zones.quarantine_rows(spark)

    assert first == ClickstreamCounts(rows_in=4, rows_curated=1, rows_quarantined=3, duplicates_removed=0)
    assert second == ClickstreamCounts(rows_in=3, rows_curated=1, rows_quarantined=2, duplicates_removed=0)
    assert len(after_first) == len(after_second) == 3
    assert after_second == [
        ("bad 1", "jr_2", "2024-05-01"),
        ("bad 2", "jr_2", "2024-05-01"),
        ("bad from april", "jr_1", "2024-04-30"),
    ]


def test_an_event_duplicated_across_ingest_dates_never_in_one_window_is_kept_once_per_ingest_date(
    job, spark, zones
):
    # Documented limitation: deduplication is within a run's window; a later merge removes these.
    zones.deliver(APR_30, event("dup", event_time="2024-04-30T12:00:00Z"))
    zones.deliver(MAY_2, event("dup", event_time="2024-04-30T12:00:00Z"))

    together = zones.run(job, spark, "jr_1", MAY_2, APR_30)
    assert together.duplicates_removed == 1
    assert zones.curated_rows(spark) == [("dup", APR_30, APR_30)]

    zones.run(job, spark, "jr_2", MAY_2)

    assert zones.curated_rows(spark) == [("dup", APR_30, APR_30), ("dup", APR_30, MAY_2)]
