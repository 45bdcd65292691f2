"""The Glue job's incremental, idempotent I/O: raw ingest_date window in, partitions replaced out.

The raw fixtures follow Firehose's dynamic partitioning:
``<raw>/event_date=<event_time[0:10] as sent>/ingest_date=<arrival date>/<object>.gz``.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections import defaultdict
from pathlib import Path

import pytest

from test_clickstream import event, load_job_module
from undercurrent_glue.clickstream import ClickstreamCounts

D = dt.date
APR_30, MAY_1, MAY_2, MAY_3 = D(2024, 4, 30), D(2024, 5, 1), D(2024, 5, 2), D(2024, 5, 3)


@pytest.fixture(scope="module")
def job():
    return load_job_module()


def firehose_event_date(raw_line: str, ingest_date: dt.date) -> str:
    """The ``event_date=`` value Firehose's partition key (jq ``.event_time[0:10]``) gives a line.

    A line without a string ``event_time`` (not JSON, ...) would go to Firehose's error prefix;
    the fixtures put it under ``event_date=<its ingest date>`` instead, to show that the job
    still quarantines whatever reaches the raw path.
    """
    try:
        event_time = json.loads(raw_line)["event_time"]
    except (ValueError, KeyError, TypeError):
        event_time = None
    return event_time[:10] if isinstance(event_time, str) else ingest_date.isoformat()


class Zones:
    """Local raw, curated and quarantine zones laid out like the S3 ones."""

    def __init__(self, root: Path):
        self.raw = root / "raw" / "clickstream"
        self.raw.mkdir(parents=True)
        self.curated = str(root / "curated")
        self.quarantine = str(root / "quarantine")
        self._files = 0

    def deliver(self, ingest_date: dt.date, *raw_lines: str) -> None:
        """Write what Firehose delivers for these lines on ``ingest_date``: one object (GZIP JSON
        lines) per ``event_date=`` directory, see :func:`firehose_event_date`."""
        objects = defaultdict(list)
        for line in raw_lines:
            objects[firehose_event_date(line, ingest_date)].append(line)
        for event_date, lines in objects.items():
            partition = self.raw / f"event_date={event_date}" / f"ingest_date={ingest_date.isoformat()}"
            partition.mkdir(parents=True, exist_ok=True)
            self._files += 1
            name = f"undercurrent-clickstream-1-{ingest_date.isoformat()}-00-00-00-{self._files:04d}.gz"
            with gzip.open(partition / name, "wt", encoding="utf-8") as handle:
                handle.write("".join(line + "\n" for line in lines))

    def raw_directories(self):
        """The raw directories holding files, relative to the raw path."""
        return sorted({p.parent.relative_to(self.raw).as_posix() for p in self.raw.rglob("*.gz")})

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
    # A directory without files counts as empty.
    (zones.raw / "event_date=2024-05-01" / "ingest_date=2024-05-01").mkdir(parents=True)
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


def test_every_event_date_directory_of_an_ingest_date_is_read_in_one_window(job, spark, zones):
    zones.deliver(
        MAY_2,
        event("on-time", event_time="2024-05-02T08:00:00Z"),
        event("late", event_time="2024-05-01T21:00:00Z"),
        event("very-late", event_time="2024-04-30T09:00:00Z"),
    )
    zones.deliver(MAY_1, event("other-day"))
    assert zones.raw_directories() == [
        "event_date=2024-04-30/ingest_date=2024-05-02",
        "event_date=2024-05-01/ingest_date=2024-05-01",
        "event_date=2024-05-01/ingest_date=2024-05-02",
        "event_date=2024-05-02/ingest_date=2024-05-02",
    ]

    counts = zones.run(job, spark, "jr_1", MAY_2)

    assert counts == ClickstreamCounts(3, 3, 0, 0)
    assert zones.curated_rows(spark) == [
        ("late", MAY_1, MAY_2),
        ("on-time", MAY_2, MAY_2),
        ("very-late", APR_30, MAY_2),
    ]


def test_a_line_whose_raw_event_date_differs_from_its_utc_date_is_curated_under_the_utc_date(
    job, spark, zones
):
    # Firehose keys on the characters the producer sent; the job ignores that directory.
    zones.deliver(
        MAY_2,
        event("west", event_time="2024-05-01T23:30:00-02:00"),  # 2024-05-02T01:30Z
        event("east", event_time="2024-05-02T00:30:00+02:00"),  # 2024-05-01T22:30Z
    )
    assert zones.raw_directories() == [
        "event_date=2024-05-01/ingest_date=2024-05-02",
        "event_date=2024-05-02/ingest_date=2024-05-02",
    ]

    zones.run(job, spark, "jr_1", MAY_2)

    assert zones.curated_rows(spark) == [("east", MAY_1, MAY_2), ("west", MAY_2, MAY_2)]


def test_an_empty_raw_event_date_directory_is_read_and_quarantined_instead_of_failing_the_run(
    job, spark, zones
):
    # event_time "" gives Firehose's key "" (event_date=/): partition discovery would reject it.
    blank = event("blank", event_time="")
    zones.deliver(MAY_1, blank, event("e-1"))
    assert zones.raw_directories() == [
        "event_date=/ingest_date=2024-05-01",
        "event_date=2024-05-01/ingest_date=2024-05-01",
    ]

    counts = zones.run(job, spark, "jr_1", MAY_1)

    assert counts == ClickstreamCounts(2, 1, 1, 0)
    assert zones.curated_rows(spark) == [("e-1", MAY_1, MAY_1)]
    quarantined = spark.read.json(zones.quarantine).collect()
    assert [(r["raw_line"], r["rule"], str(r["ingest_date"])) for r in quarantined] == [
        (blank, "missing_event_time", "2024-05-01")
    ]


def test_an_ingest_date_exists_when_its_glob_matches_an_event_date_directory(job, spark, zones):
    zones.deliver(MAY_1, event("e-1"))
    (zones.raw / "event_date=2024-05-02" / "ingest_date=2024-05-03").mkdir(parents=True)
    old_layout = zones.raw / "ingest_date=2024-04-30"  # the former layout is not read
    old_layout.mkdir()
    (old_layout / "old.gz").write_bytes(gzip.compress(event("old").encode() + b"\n"))

    found = job.existing_ingest_dates(spark, str(zones.raw), [MAY_3, MAY_2, MAY_1, MAY_1, APR_30])

    assert found == [MAY_3, MAY_1]


def test_the_run_publishes_its_four_counts_for_the_stack_alarms(job, spark, zones):
    from undercurrent_glue.metrics import RecordingSink

    zones.deliver(MAY_1, event("e-1"), event("e-1"), "bad line")
    sink = RecordingSink("ClickstreamToCurated")

    job.run(spark, str(zones.raw) + "/", zones.curated, zones.quarantine, "jr_1", [MAY_1], sink)

    assert sink.values == {
        ("clickstream_events", "RowsIn"): 3.0,
        ("clickstream_events", "RowsCurated"): 1.0,
        ("clickstream_events", "RowsQuarantined"): 1.0,
        ("clickstream_events", "DuplicatesRemoved"): 1.0,
    }
