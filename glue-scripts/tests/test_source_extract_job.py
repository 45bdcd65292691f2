"""The source extract Glue job: arguments, the Glue read call, and the raw layout it writes."""

from __future__ import annotations

import datetime as dt
import json
import py_compile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from local.jobs import load_job
from undercurrent_glue.extract import SchemaDriftError
from undercurrent_glue.schema import SOURCE_TABLES, load_source_declaration

JOB_FILE = Path(__file__).resolve().parents[1] / "jobs" / "source_extract.py"
UTC = dt.UTC
MAY_1, MAY_2 = dt.date(2024, 5, 1), dt.date(2024, 5, 2)
AT = dt.datetime(2024, 5, 1, 6, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def job():
    return load_job("source_extract")


def offices(spark, *codes):
    """The offices table as read over JDBC, one row per office code."""
    rows = [
        (code, "Paris", "+33 1", "43 Rue Jouffroy", None, None, "France", "75017", "EMEA", AT.replace(tzinfo=None))
        for code in codes
    ]
    schema = ", ".join(f"`{c['name']}` {c['type']}" for c in load_source_declaration("offices")["columns"])
    return spark.createDataFrame(rows, schema.replace("updated_at timestamp", "updated_at timestamp_ntz"))


def payments(spark, *checks):
    """The payments table as read over JDBC (customer_number as SMALLINT), one row per check."""
    rows = [(103, check, dt.date(2024, 4, 30), Decimal("10.50"), AT, "n") for check in checks]
    return spark.createDataFrame(
        rows, "customer_number smallint, check_number string, payment_date date, amount decimal(10,2), "
              "updated_at timestamp, legacy_flag string"
    )


def partition_dirs(table_path: Path) -> list[str]:
    return sorted({p.parent.relative_to(table_path).as_posix() for p in table_path.rglob("*.parquet")})


def test_the_job_module_compiles(tmp_path):
    # cfile in tmp_path: no __pycache__ next to the job script (it is shipped as is).
    py_compile.compile(str(JOB_FILE), cfile=str(tmp_path / "source_extract.pyc"), doraise=True)


def test_a_snapshot_lands_under_its_ingest_date_and_a_rerun_that_day_replaces_it(job, spark, tmp_path):
    declaration = load_source_declaration("offices")
    raw = f"{tmp_path}/raw/source/"
    table_path = tmp_path / "raw" / "source" / "offices"

    job.run_table(spark, offices(spark, "1", "2"), declaration, raw, MAY_1, "jr_a", AT)
    job.run_table(spark, offices(spark, "1", "2", "3"), declaration, raw, MAY_2, "jr_b", AT)
    report = job.run_table(spark, offices(spark, "4"), declaration, raw, MAY_2, "jr_c", AT)

    assert report == job.TableReport("offices", "snapshot", 1, (), f"{raw}offices/")
    assert partition_dirs(table_path) == ["ingest_date=2024-05-01", "ingest_date=2024-05-02"]
    rows = spark.read.parquet(str(table_path)).select("office_code", "_run_id", "ingest_date").collect()
    assert sorted(tuple(r) for r in rows) == [("1", "jr_a", MAY_1), ("2", "jr_a", MAY_1), ("4", "jr_c", MAY_2)]


def test_incremental_runs_of_one_day_each_add_their_own_run_id_partition(job, spark, tmp_path):
    declaration = load_source_declaration("payments")
    raw = f"{tmp_path}/raw/source/"
    table_path = tmp_path / "raw" / "source" / "payments"

    first = job.run_table(spark, payments(spark, "A1", "A2"), declaration, raw, MAY_1, "jr_a", AT)
    second = job.run_table(spark, payments(spark, "A2"), declaration, raw, MAY_1, "jr_b", AT)

    assert (first.rows, second.rows) == (2, 1)
    assert first.added_columns == ("legacy_flag",)
    assert partition_dirs(table_path) == ["ingest_date=2024-05-01/run_id=jr_a", "ingest_date=2024-05-01/run_id=jr_b"]
    read = spark.read.parquet(str(table_path))
    assert "legacy_flag" not in read.columns
    assert sorted(tuple(r) for r in read.select("check_number", "run_id", "_run_id").collect()) == [
        ("A1", "jr_a", "jr_a"), ("A2", "jr_a", "jr_a"), ("A2", "jr_b", "jr_b"),
    ]
    assert dict(read.dtypes)["customer_number"] == "int"


def test_an_incremental_run_id_used_before_is_refused_instead_of_adding_the_increment_twice(job, spark, tmp_path):
    declaration = load_source_declaration("payments")
    raw = f"{tmp_path}/raw/source/"
    job.run_table(spark, payments(spark, "A1"), declaration, raw, MAY_1, "jr_a", AT)

    with pytest.raises(ValueError, match="run_id=jr_a already exists: run id 'jr_a' was used before"):
        job.run_table(spark, payments(spark, "A1"), declaration, raw, MAY_1, "jr_a", AT)


def test_schema_drift_in_any_table_stops_the_run_before_anything_is_written(job, spark, tmp_path):
    drifted = payments(spark, "A1").drop("amount")
    sources = [(load_source_declaration("offices"), offices(spark, "1")), (load_source_declaration("payments"), drifted)]
    written: list[Any] = []

    with pytest.raises(SchemaDriftError, match="declared column 'amount' .* is missing in source"):
        job.run_tables(spark, sources, f"{tmp_path}/raw/source/", MAY_1, "jr_a", AT, on_written=written.append)

    assert written == []
    assert not (tmp_path / "raw").exists()


def test_each_written_table_is_reported_as_it_is_written_and_logged_as_one_json_line(job, spark, tmp_path):
    sources = [(load_source_declaration("offices"), offices(spark, "1")), (load_source_declaration("payments"), payments(spark, "A1"))]
    written: list[Any] = []

    reports = job.run_tables(spark, sources, f"{tmp_path}/raw/source/", MAY_1, "jr_a", AT, on_written=written.append)

    assert written == reports
    assert [(r.table, r.mode, r.rows) for r in reports] == [("offices", "snapshot", 1), ("payments", "incremental", 1)]
    line = json.loads(job.table_log_line("extract", "jr_a", MAY_1, reports[1]))
    assert line == {
        "job": "extract", "run_id": "jr_a", "ingest_date": "2024-05-01", "level": "WARN", "table": "payments",
        "mode": "incremental", "rows": 1, "added_columns": ["legacy_flag"], "path": f"{tmp_path}/raw/source/payments/",
    }
    assert json.loads(job.table_log_line("extract", "jr_a", MAY_1, reports[0]))["level"] == "INFO"


class FakeGlueContext:
    """Records create_dynamic_frame.from_options calls; returns a frame whose toDF gives ``df``."""

    def __init__(self, df):
        self.calls = []
        self.create_dynamic_frame = self
        self._df = df

    def from_options(self, **kwargs):
        self.calls.append(kwargs)
        return type("Frame", (), {"toDF": lambda _self: self._df})()


@pytest.mark.parametrize("table, ctx", [("orders", "extract_orders"), ("products", "")])
def test_read_source_calls_glue_with_the_mysql_options_and_a_bookmark_context_only_for_increments(job, table, ctx):
    from undercurrent_glue.extract import jdbc_connection_options, plan_for

    plan = plan_for(load_source_declaration(table))
    glue = FakeGlueContext(df="the dataframe")

    assert job.read_source(glue, plan, "undercurrent-mysql", "classicmodels") == "the dataframe"
    assert glue.calls == [
        {
            "connection_type": "mysql",
            "connection_options": jdbc_connection_options(plan, "undercurrent-mysql", "classicmodels"),
            "transformation_ctx": ctx,
        }
    ]


# --- job arguments --------------------------------------------------------------------


def resolver(**overrides):
    values = {
        "JOB_NAME": "undercurrent-source-extract",
        "JOB_RUN_ID": "jr_123",
        "connection_name": "undercurrent-mysql",
        "database": "classicmodels",
        "raw_path": "s3://undercurrent-raw/source/",
        "tables": "orders, customers,orders",
        **overrides,
    }
    # Like getResolvedOptions: the requested names, plus JOB_RUN_ID, which Glue always resolves.
    return lambda argv, names: {**{name: values[name] for name in names}, "JOB_RUN_ID": values["JOB_RUN_ID"]}


def test_the_job_settings_resolve_the_five_arguments_and_keep_the_table_order_without_repeats(job):
    settings, args = job.job_settings(["source_extract.py"], resolver())

    assert job.JOB_ARGUMENTS == ["JOB_NAME", "connection_name", "database", "raw_path", "tables"]
    assert settings == job.Settings(
        "undercurrent-source-extract", "undercurrent-mysql", "classicmodels", "s3://undercurrent-raw/source/", ("orders", "customers")
    )
    assert args["JOB_RUN_ID"] == "jr_123"


def test_every_source_table_is_a_valid_tables_argument(job):
    assert job.parse_tables(",".join(SOURCE_TABLES)) == list(SOURCE_TABLES)


@pytest.mark.parametrize(
    "value, message",
    [
        ("", "Job argument 'tables' is empty"),
        ("  ", "Job argument 'tables' is empty"),
        ("orders,invoices", "Job argument 'tables' has 'invoices' in 'orders,invoices', which is not a source table; "
                            "known tables: customers, employees"),
        ("orders,,customers", "has '' in"),
        ("Orders", "has 'Orders'"),
    ],
)
def test_a_bad_tables_argument_is_refused_naming_the_value_and_the_known_tables(job, value, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        job.parse_tables(value)


@pytest.mark.parametrize("raw_path", ["s3://undercurrent-raw", "/tmp/raw/", "s3:///", "undercurrent-raw/"])
def test_a_raw_path_that_is_not_an_s3_prefix_ending_in_a_slash_is_refused(job, raw_path):
    with pytest.raises(ValueError, match="Job argument 'raw_path' must be the raw zone.s source prefix as s3://"):
        job.job_settings([], resolver(raw_path=raw_path))


def test_a_bad_database_argument_fails_before_glue_starts(job):
    with pytest.raises(ValueError, match="database must be a MySQL database name"):
        job.job_settings([], resolver(database="classic models"))
