"""The curated -> gold Glue job on local Spark: real Iceberg tables, SCD2 by MERGE across runs, idempotent reruns."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from local.jobs import load_job
from test_gold import CATALOG, D, T, click, declared_struct, write_curated, write_events
from undercurrent_glue import gold, iceberg
from undercurrent_glue.metrics import DATA_QUALITY_FAILURES, ROWS_WRITTEN, MetricsSink, RecordingSink
from undercurrent_glue.quality import DataQualityError
from undercurrent_glue.schema import GOLD_TABLES

if TYPE_CHECKING:
    from pyspark.sql import Row, SparkSession

MONTHLY = {"fact_order_line": "order_date", "clickstream_sessions": "session_date", "daily_product_views": "event_date"}


@pytest.fixture(scope="module")
def job():
    return load_job("curated_to_gold")


class Lake:
    """Local curated inputs and the gold database of one test."""

    def __init__(self, spark: SparkSession, root: Path, database: str) -> None:
        self.spark = spark
        self.curated = root / "curated"
        self.clicks = self.curated / "clickstream_events"
        self.database = database

    def write(self, customers: list[dict], orders: list[dict], order_lines: list[dict], events: list[dict]) -> None:
        spark = self.spark
        write_curated(spark, self.curated, "customers", customers)
        write_curated(spark, self.curated, "employees", [{"employee_number": 1370}, {"employee_number": 1102, "reports_to": None}])
        write_curated(spark, self.curated, "offices", [{"office_code": "4"}])
        write_curated(spark, self.curated, "product_lines", [{"product_line": "Motorcycles"}])
        write_curated(spark, self.curated, "products", [{"product_code": "S10_1678"}, {"product_code": "S12_1099"}])
        write_curated(spark, self.curated, "orders", orders)
        write_curated(spark, self.curated, "order_lines", order_lines)
        write_events(spark, self.clicks, events)

    def run(self, job: Any, sink: MetricsSink | None = None) -> dict[str, int]:
        written: dict[str, int] = job.run(
            self.spark,
            str(self.curated) + "/",
            str(self.clicks) + "/",
            self.database,
            "s3://gold-bucket/",
            "run-1",
            sink or RecordingSink("CuratedToGold"),
            create_namespace=True,
        )
        return written

    def table(self, name: str) -> str:
        return f"{CATALOG}.{self.database}.{name}"

    def rows(self, name: str) -> list[tuple]:
        df = self.spark.table(self.table(name))
        return sorted((tuple(r) for r in df.collect()), key=repr)

    def snapshots(self, name: str) -> int:
        return self.spark.table(self.table(name) + ".snapshots").count()


CUSTOMERS_1: list[dict[str, Any]] = [
    {"customer_number": 103, "sales_rep_employee_number": 1370, "updated_at": T(2024, 3, 1)},
    {"customer_number": 112, "sales_rep_employee_number": None, "updated_at": T(2024, 3, 1)},
]
ORDERS = [
    {"order_number": 10100, "order_date": D(2024, 2, 10), "customer_number": 103, "shipped_date": D(2024, 2, 12)},
    {"order_number": 10101, "order_date": D(2024, 4, 15), "customer_number": 103},
    {"order_number": 10102, "order_date": D(2024, 5, 20), "customer_number": 112},
]
LINES = [
    {"order_number": 10100, "product_code": "S10_1678", "quantity_ordered": 3, "price_each": Decimal("95.70")},
    {"order_number": 10100, "product_code": "S12_1099", "quantity_ordered": 2, "price_each": Decimal("1.05"), "order_line_number": 2},
    {"order_number": 10101, "product_code": "S10_1678", "quantity_ordered": 1},
    {"order_number": 10102, "product_code": "S12_1099", "quantity_ordered": 4},
]
T0 = T(2024, 5, 1, 9)
EVENTS = [
    click("e1", T0, "product_view", "s1", product_code="S10_1678"),
    click("e2", T0 + dt.timedelta(minutes=10), "purchase", "s1", customer_number=103, product_code="S10_1678"),
    click("e3", T0 + dt.timedelta(minutes=50), "page_view", "s1"),
    click("e4", T(2024, 6, 2, 8), "product_view", "s2", product_code="S12_1099"),
]


CUSTOMERS_2: list[dict[str, Any]] = [
    # 103 moves on 2024-05-01 (after order 10101, before the new order 10103), 112 only gets a
    # newer updated_at (no tracked change), 119 is new.
    {"customer_number": 103, "city": "Lyon", "sales_rep_employee_number": 1102, "updated_at": T(2024, 5, 1, 8)},
    {"customer_number": 112, "sales_rep_employee_number": None, "updated_at": T(2024, 5, 2)},
    {"customer_number": 119, "updated_at": T(2024, 5, 3)},
]
# Order 10102 and the June click events are gone from the second input.
ORDERS_2 = ORDERS[:2] + [{"order_number": 10103, "order_date": D(2024, 5, 2), "customer_number": 103}]
LINES_2 = LINES[:3] + [{"order_number": 10103, "product_code": "S10_1678", "quantity_ordered": 2}]


def collect(spark: SparkSession, lake: Lake, name: str, *order_by: str) -> list[Row]:
    return spark.table(lake.table(name)).orderBy(*order_by).collect()


def record_build_spans(monkeypatch: pytest.MonkeyPatch) -> dict[str, tuple[float, float]]:
    """From now on, when each gold table's publication starts and ends (monotonic clock), by name."""
    spans: dict[str, tuple[float, float]] = {}
    replace_audited, merge = iceberg.replace_audited, gold.merge_customer_changes

    def timed_replace(spark_, name, df, audit):
        started = time.monotonic()
        replace_audited(spark_, name, df, audit)
        spans[name.rsplit(".", 1)[-1]] = (started, time.monotonic())

    def timed_merge(spark_, name, changes):
        started = time.monotonic()
        merge(spark_, name, changes)
        spans["dim_customer"] = (started, time.monotonic())

    monkeypatch.setattr(iceberg, "replace_audited", timed_replace)
    monkeypatch.setattr(gold, "merge_customer_changes", timed_merge)
    return spans


@pytest.fixture(scope="module")
def history(spark, tmp_path_factory, job):
    """One lake through three runs: input 1 (with when each table was published), the same
    again, input 2 (a rerun of input 2 adds no MERGE either: test_gold checks that
    customer_changes of the same input is empty)."""
    lake = Lake(spark, tmp_path_factory.mktemp("gold-job"), "gold_job")
    state: dict[str, Any] = {"lake": lake, "sink": RecordingSink("CuratedToGold")}
    lake.write(CUSTOMERS_1, ORDERS, LINES, EVENTS)
    with pytest.MonkeyPatch.context() as monkeypatch:
        state["spans_1"] = record_build_spans(monkeypatch)
        state["written_1"] = lake.run(job, state["sink"])
    state["rows_1"] = {name: lake.rows(name) for name in GOLD_TABLES}
    state["fact_1"] = collect(spark, lake, "fact_order_line", "order_number", "order_line_number")
    state["customers_1"] = collect(spark, lake, "dim_customer", "customer_number")
    state["sessions_1"] = collect(spark, lake, "clickstream_sessions", "session_id")
    state["customer_snapshots_1"] = lake.snapshots("dim_customer")

    state["written_1b"] = lake.run(job)
    state["rows_1b"] = {name: lake.rows(name) for name in GOLD_TABLES}
    state["customer_snapshots_1b"] = lake.snapshots("dim_customer")

    lake.write(CUSTOMERS_2, ORDERS_2, LINES_2, EVENTS[:3])
    state["written_2"] = lake.run(job)
    return state


def test_the_first_run_writes_every_gold_table_and_publishes_rows_written(history):
    written = history["written_1"]
    assert written == {
        "dim_customer": 2,
        "dim_product": 2,
        "dim_employee": 2,
        "dim_date": 366,
        "fact_order_line": 4,
        "clickstream_sessions": 3,
        "daily_product_views": 2,
    }
    assert {dataset: v for (dataset, metric), v in history["sink"].values.items() if metric == ROWS_WRITTEN} == written
    assert {name: len(rows) for name, rows in history["rows_1"].items()} == {**written}


def test_the_gold_tables_have_the_declared_columns_partition_spec_and_few_files(spark, history):
    lake = history["lake"]
    for name in GOLD_TABLES:
        table = lake.table(name)
        assert [(f.name, f.dataType) for f in spark.table(table).schema.fields] == [
            (f.name, f.dataType) for f in declared_struct(name).fields
        ]
        assert iceberg.current_partition_spec(spark, table) == ([f"months({MONTHLY[name]})"] if name in MONTHLY else [])
        # Clustered by partition and sorted within: not one file per task and partition.
        assert iceberg.data_file_count(spark, table) <= max(1, iceberg.partition_count(spark, table)) * 2, name


def test_the_fact_resolves_keys_and_amounts(history):
    fact = history["fact_1"]
    assert [(r["order_number"], r["order_line_number"], r["amount"], r["order_date_key"], r["order_date"]) for r in fact] == [
        (10100, 1, Decimal("287.10"), 20240210, D(2024, 2, 10)),
        (10100, 2, Decimal("2.10"), 20240210, D(2024, 2, 10)),
        (10101, 1, Decimal("10.00"), 20240415, D(2024, 4, 15)),
        (10102, 1, Decimal("40.00"), 20240520, D(2024, 5, 20)),
    ]
    keys = {r["customer_number"]: r["customer_key"] for r in history["customers_1"]}
    # 10100 predates the first version seen (2024-03-01): the earliest version.
    assert [r["customer_key"] for r in fact] == [keys[103], keys[103], keys[103], keys[112]]
    assert fact[0]["employee_key"] is not None and fact[3]["employee_key"] is None
    assert [(r["session_id"], r["events"], r["purchased"], r["customer_number"]) for r in history["sessions_1"]] == [
        ("s1-1", 2, True, 103),
        ("s1-2", 1, False, None),
        ("s2-1", 1, False, None),
    ]


def test_a_rerun_on_the_same_input_leaves_every_table_unchanged(history):
    assert history["rows_1b"] == history["rows_1"]
    assert history["written_1b"] == {**history["written_1"], "dim_customer": 0}
    assert history["customer_snapshots_1b"] == history["customer_snapshots_1"]  # no MERGE at all


def test_a_second_input_versions_changed_customers_by_merge(spark, history):
    lake = history["lake"]
    assert history["written_2"]["dim_customer"] == 3  # 103 closed + 103's new version + 119's first
    dim = collect(spark, lake, "dim_customer", "customer_number", "valid_from")
    assert [(r["customer_number"], r["city"], r["valid_from"], r["valid_to"], r["is_current"]) for r in dim] == [
        (103, "Nantes", T(2024, 3, 1), T(2024, 5, 1, 8), False),
        (103, "Lyon", T(2024, 5, 1, 8), None, True),
        (112, "Nantes", T(2024, 3, 1), None, True),
        (119, "Nantes", T(2024, 5, 3), None, True),
    ]
    first_keys = {r["customer_number"]: r["customer_key"] for r in history["customers_1"]}
    old, new = dim[0]["customer_key"], dim[1]["customer_key"]
    assert (old, dim[2]["customer_key"]) == (first_keys[103], first_keys[112])

    fact = collect(spark, lake, "fact_order_line", "order_number", "order_line_number")
    assert [(r["order_number"], r["customer_key"]) for r in fact] == [(10100, old), (10100, old), (10101, old), (10103, new)]
    employees = {r["employee_number"]: r["employee_key"] for r in collect(spark, lake, "dim_employee", "employee_number")}
    assert [r["employee_key"] for r in fact] == [employees[1370]] * 3 + [employees[1102]]


def test_rows_the_new_input_no_longer_produces_do_not_linger(spark, history):
    lake = history["lake"]
    assert spark.table(lake.table("daily_product_views")).filter("event_date >= '2024-06-01'").count() == 0
    assert spark.table(lake.table("clickstream_sessions")).count() == 2
    assert spark.table(lake.table("fact_order_line")).filter("order_number = 10102").count() == 0
    assert spark.table(lake.table("dim_date")).count() == 366


def test_a_blocking_gold_failure_publishes_neither_that_table_nor_the_tables_built_from_it(spark, tmp_path, job):
    lake = Lake(spark, tmp_path, "gold_job_blocked")
    lake.write(CUSTOMERS_1, ORDERS, LINES, EVENTS)
    lake.run(job)
    before = {name: lake.rows(name) for name in GOLD_TABLES}
    # A line with quantity 0 breaks the fact's blocking range rule.
    lake.write(CUSTOMERS_1, ORDERS, LINES[:3] + [{**LINES[3], "quantity_ordered": 0}], EVENTS[:3])
    sink = RecordingSink("CuratedToGold")

    with pytest.raises(DataQualityError, match="'fact_order_line'.*range:quantity_ordered: 1 of 4 row"):
        lake.run(job, sink)

    assert sink.values[("fact_order_line", DATA_QUALITY_FAILURES)] == 1
    # The fact and dim_date (built from it) keep their previous rows; the clickstream outputs,
    # built side by side from other inputs, are published. No audit branch is left.
    for name in ("fact_order_line", "dim_date"):
        assert lake.rows(name) == before[name], name
    assert len(lake.rows("clickstream_sessions")) == len(before["clickstream_sessions"]) - 1  # e4's session is gone
    for name in GOLD_TABLES:
        assert [r["name"] for r in spark.table(lake.table(name) + ".refs").collect()] == ["main"], name


def test_a_gold_table_that_no_longer_matches_its_declaration_stops_the_run_before_any_table_is_built(spark, tmp_path, job):
    lake = Lake(spark, tmp_path, "gold_job_mismatch")
    lake.write(CUSTOMERS_1, ORDERS, LINES, EVENTS)
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {CATALOG}.{lake.database}")
    spark.sql(f"CREATE TABLE {lake.table('daily_product_views')} (event_date date, views bigint) USING iceberg")

    with pytest.raises(iceberg.TableMismatchError, match="daily_product_views"):
        lake.run(job)

    for name in GOLD_TABLES:
        assert lake.snapshots(name) == 0, name


def test_each_gold_table_is_built_after_the_tables_it_is_built_from_are_published(history):
    spans = history["spans_1"]
    assert set(spans) == set(GOLD_TABLES)
    inputs = {
        "fact_order_line": ["dim_product", "dim_employee", "dim_customer"],
        "dim_date": ["fact_order_line", "clickstream_sessions", "daily_product_views"],
    }
    for table, built_from in inputs.items():
        for source in built_from:
            assert spans[source][1] <= spans[table][0], f"{table} started before {source} was published"


def test_job_settings_resolve_the_optional_gap_only_when_present(job):
    def resolver(argv, names):
        assert "session_gap_minutes" in names or "--session_gap_minutes" not in argv
        return {name: "45" if name == "session_gap_minutes" else f"<{name}>" for name in names}

    assert job.job_settings(["job.py"], resolver)["session_gap_minutes"] == "30"
    assert job.job_settings(["job.py", "--session_gap_minutes", "45"], resolver)["session_gap_minutes"] == "45"
    with pytest.raises(ValueError, match="session_gap_minutes must be an integer from 1 to 1440"):
        job.job_settings(["job.py", "--session_gap_minutes", "0"], lambda argv, names: {n: "0" for n in names})
