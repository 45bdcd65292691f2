"""Source tables raw -> curated (undercurrent_glue.curate): drift guard, typing, cleaning,
quarantine, dedup, accounting. The raw rows are hand-made in the extract's raw layout."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import (
    DecimalType,
    IntegerType,
    LongType,
    StructType,
    TimestampType,
)

from undercurrent_glue import curate, quality
from undercurrent_glue.curate import (
    CurateCounts,
    DriftReport,
    SourceSchemaDriftError,
    check_drift,
    curate_table,
    dependency_order,
)
from undercurrent_glue.schema import load_source_declaration

UTC = dt.UTC
NOW = dt.datetime(2024, 5, 3, 12, 0, tzinfo=UTC)
T1 = dt.datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
T2 = dt.datetime(2024, 5, 2, 8, 0, tzinfo=UTC)
MAY_1, MAY_2 = dt.date(2024, 5, 1), dt.date(2024, 5, 2)

# ------------------------------------------------------------------------------------------
# Raw rows in the extract's layout (shared with test_source_curate_job.py)
# ------------------------------------------------------------------------------------------

#: A valid row of each source table; tests override single columns.
DEFAULTS: dict[str, dict[str, Any]] = {
    "offices": dict(office_code="1", city="Paris", phone="+33 1", address_line1="43 Rue Jouffroy",
                    address_line2=None, state=None, country="France", postal_code="75017", territory="EMEA",
                    updated_at=T1),
    "employees": dict(employee_number=1002, last_name="Murphy", first_name="Diane", extension="x5800",
                      email="dmurphy@example.com", office_code="1", reports_to=None, job_title="President",
                      updated_at=T1),
    "customers": dict(customer_number=103, customer_name="Atelier", contact_last_name="Schmitt",
                      contact_first_name="Carine", phone="40.32.2555", address_line1="54, rue Royale",
                      address_line2=None, city="Nantes", state=None, postal_code="44000", country="France",
                      sales_rep_employee_number=1002, credit_limit=Decimal("21000.00"), updated_at=T1),
    "product_lines": dict(product_line="Classic Cars", text_description="Cars", html_description=None,
                          updated_at=T1),
    "products": dict(product_code="S10_1678", product_name="1969 Harley", product_line="Classic Cars",
                     product_scale="1:10", product_vendor="Min Lin", product_description="Replica",
                     quantity_in_stock=7933, buy_price=Decimal("48.81"), msrp=Decimal("95.70"), updated_at=T1),
    "orders": dict(order_number=10100, order_date=dt.date(2024, 4, 30), required_date=dt.date(2024, 5, 7),
                   shipped_date=None, status="In Process", comments=None, customer_number=103, updated_at=T1),
    "order_lines": dict(order_number=10100, product_code="S10_1678", quantity_ordered=30,
                        price_each=Decimal("136.00"), order_line_number=1, updated_at=T1),
    "payments": dict(customer_number=103, check_number="HQ336336", payment_date=dt.date(2024, 4, 30),
                     amount=Decimal("6066.78"), updated_at=T1),
}


def declared_ddl(declaration: Mapping[str, Any], types: Mapping[str, str] | None = None,
                 drop: Sequence[str] = (), add: Mapping[str, str] | None = None) -> str:
    """The raw file schema: declared columns (types overridable, some dropped), added ones,
    then ``_run_id`` and ``_extracted_at``."""
    types = dict(types or {})
    parts = [f"`{c['name']}` {types.get(c['name'], c['type'])}" for c in declaration["columns"] if c["name"] not in drop]
    parts += [f"`{name}` {kind}" for name, kind in (add or {}).items()]
    return ", ".join(parts + ["_run_id string", "_extracted_at timestamp"])


def raw_rows(table: str, rows: Iterable[Mapping[str, Any]], run_id: str, extracted_at: dt.datetime,
             declaration: Mapping[str, Any] | None = None, drop: Sequence[str] = (),
             add: Mapping[str, str] | None = None) -> list[tuple]:
    declaration = declaration or load_source_declaration(table)
    names = [c["name"] for c in declaration["columns"] if c["name"] not in drop] + list(add or {})
    defaults = DEFAULTS.get(table, {})
    return [tuple({**defaults, **row}.get(n) for n in names) + (run_id, extracted_at) for row in rows]


def raw_frame(spark: SparkSession, table: str, rows: Iterable[Mapping[str, Any]], run_id: str = "jr_1",
              extracted_at: dt.datetime = T1, ingest_date: dt.date = MAY_1,
              declaration: Mapping[str, Any] | None = None, types: Mapping[str, str] | None = None,
              drop: Sequence[str] = (), add: Mapping[str, str] | None = None, incremental: bool = True) -> DataFrame:
    """Raw rows as the job reads them: file columns plus ``ingest_date`` (and ``run_id``)."""
    from pyspark.sql import functions as F

    declaration = declaration or load_source_declaration(table)
    df = spark.createDataFrame(
        raw_rows(table, rows, run_id, extracted_at, declaration, drop, add),
        declared_ddl(declaration, types, drop, add),
    ).withColumn("ingest_date", F.lit(ingest_date))
    return df.withColumn("run_id", F.lit(run_id)) if incremental else df


def write_raw(spark: SparkSession, raw_root: Path, table: str, rows: Iterable[Mapping[str, Any]], ingest_date: dt.date,
              run_id: str = "jr_1", extracted_at: dt.datetime = T1, types: Mapping[str, str] | None = None,
              drop: Sequence[str] = (), add: Mapping[str, str] | None = None) -> Path:
    """Write rows in the raw layout under ``<raw_root>/<table>/ingest_date=D/[run_id=R/]``."""
    declaration = load_source_declaration(table)
    directory = raw_root / table / f"ingest_date={ingest_date.isoformat()}"
    if declaration["extract"]["mode"] == "incremental":
        directory = directory / f"run_id={run_id}"
    df = spark.createDataFrame(
        raw_rows(table, rows, run_id, extracted_at, declaration, drop, add),
        declared_ddl(declaration, types, drop, add),
    )
    df.coalesce(1).write.mode("overwrite").parquet(str(directory))
    return directory


# A small declaration of its own, for casts and cleaning without references.
THINGS = {
    "name": "things",
    "description": "Test table.",
    "columns": [
        {"name": "thing_id", "type": "int", "nullable": False},
        {"name": "big", "type": "bigint", "nullable": True},
        {"name": "amount", "type": "decimal(10,2)", "nullable": True},
        {"name": "label", "type": "string", "nullable": True},
        {"name": "status", "type": "string", "nullable": True},
        {"name": "updated_at", "type": "timestamp", "nullable": False},
    ],
    "primary_key": ["thing_id"],
    "allowed_values": {"status": ["Open", "On Hold"]},
    "extract": {"mode": "incremental", "bookmark_keys": ["updated_at"]},
    "quality": [
        {"rule": "range", "column": "amount", "min": 0, "max": 1000, "action": "quarantine"},
        {"rule": "row_count", "min": 1, "action": "block"},
    ],
}
THING = dict(thing_id=1, big=5, amount=Decimal("1.5"), label="a", status="Open", updated_at=T1)
THING_TYPES = {"thing_id": "smallint", "big": "int", "amount": "decimal(9,1)"}


def things(spark, rows, **kwargs):
    return raw_frame(spark, "things", [{**THING, **r} for r in rows], declaration=THINGS,
                     types=kwargs.pop("types", THING_TYPES), **kwargs)


def curated_rows(result, *columns):
    return sorted(tuple(r) for r in result.curated.select(*columns).collect())


def quarantined(result):
    """(record as a dict, rule, run_id) of every quarantined row, by rule then record."""
    rows = [(json.loads(r.record), r.rule, r.run_id) for r in result.quarantine.collect()]
    return sorted(rows, key=lambda t: (t[1], json.dumps(t[0], sort_keys=True)))


# ------------------------------------------------------------------------------------------
# Drift guard (schema only, no Spark job)
# ------------------------------------------------------------------------------------------

def raw_schema(table: str, types: Mapping[str, str] | None = None, drop: Sequence[str] = (),
               add: Mapping[str, str] | None = None) -> StructType:
    from pyspark.sql.types import _parse_datatype_string

    ddl = declared_ddl(load_source_declaration(table), types, drop, add) + ", ingest_date date, run_id string"
    schema = _parse_datatype_string(ddl)
    assert isinstance(schema, StructType)  # a list of columns parses as a struct
    return schema


def test_an_unchanged_raw_schema_has_no_drift(spark):
    assert check_drift("payments", raw_schema("payments"), load_source_declaration("payments")) == DriftReport("payments", ())


def test_an_added_column_is_reported_and_allowed(spark):
    report = check_drift("payments", raw_schema("payments", add={"channel": "string"}), load_source_declaration("payments"))
    assert report.added == ("channel",) and report.drifted


def test_safe_widening_is_not_drift(spark):
    schema = raw_schema("payments", types={"customer_number": "smallint", "amount": "decimal(9,1)"})
    assert check_drift("payments", schema, load_source_declaration("payments")).added == ()


@pytest.mark.parametrize(
    "types, drop, add, message",
    [
        ({}, ["amount"], {}, "Schema drift in dataset 'payments': column 'amount' (decimal(10,2)) was removed."),
        ({}, ["check_number"], {"check_reference": "string"},
         "Schema drift in dataset 'payments': column 'check_number' appears renamed to 'check_reference'."),
        ({"amount": "string"}, [], {},
         "Schema drift in dataset 'payments': column 'amount' changed type from decimal(10,2) to string, "
         "which is not a safe cast."),
        ({"customer_number": "bigint"}, [], {},
         "Schema drift in dataset 'payments': column 'customer_number' changed type from int to bigint, "
         "which is not a safe cast."),
        ({"amount": "decimal(12,2)"}, ["payment_date"], {},
         "Schema drift in dataset 'payments': column 'payment_date' (date) was removed; column 'amount' "
         "changed type from decimal(10,2) to decimal(12,2), which is not a safe cast."),
    ],
    ids=["removed", "renamed", "retyped", "narrowing", "several"],
)
def test_breaking_drift_names_the_dataset_the_column_and_the_change(types, drop, add, message):
    with pytest.raises(SourceSchemaDriftError) as error:
        check_drift("payments", raw_schema("payments", types, drop, add), load_source_declaration("payments"))
    assert str(error.value).startswith(message[:-1])
    assert "Its curated table was left as it was" in str(error.value)
    assert error.value.dataset == "payments"


def test_a_missing_column_with_an_incompatible_new_one_is_removed_and_the_new_one_added():
    with pytest.raises(SourceSchemaDriftError, match="column 'amount' \\(decimal\\(10,2\\)\\) was removed"):
        check_drift("payments", raw_schema("payments", drop=["amount"], add={"note": "string"}),
                    load_source_declaration("payments"))


def test_missing_metadata_columns_are_drift():
    schema = StructType([f for f in raw_schema("payments").fields if f.name != "_extracted_at"])
    with pytest.raises(SourceSchemaDriftError, match="column '_extracted_at' is missing"):
        check_drift("payments", schema, load_source_declaration("payments"))


# ------------------------------------------------------------------------------------------
# curate_table
# ------------------------------------------------------------------------------------------

def test_safe_casts_give_the_declared_types_and_values(spark):
    result = curate_table(things(spark, [{"thing_id": 1, "big": 7, "amount": Decimal("12.5")}]), THINGS, {}, "cr_1", NOW)
    schema = {f.name: f.dataType for f in result.curated.schema.fields}
    assert schema["thing_id"] == IntegerType() and schema["big"] == LongType()
    assert schema["amount"] == DecimalType(10, 2) and schema["updated_at"] == TimestampType()
    assert result.curated.columns == ["thing_id", "big", "amount", "label", "status", "updated_at", "_extracted_at", "_run_id"]
    assert curated_rows(result, "thing_id", "big", "amount", "_run_id") == [(1, 7, Decimal("12.50"), "cr_1")]


def test_strings_are_trimmed_collapsed_empty_to_null_and_spelled_as_declared(spark):
    rows = [
        {"thing_id": 1, "label": "  a \t  b\n", "status": " on   hold "},
        {"thing_id": 2, "label": "   ", "status": "OPEN"},
        {"thing_id": 3, "label": "", "status": ""},
    ]
    result = curate_table(things(spark, rows), THINGS, {}, "cr_1", NOW)
    assert curated_rows(result, "thing_id", "label", "status") == [(1, "a b", "On Hold"), (2, None, "Open"), (3, None, None)]


def test_dedup_keeps_the_latest_version_with_deterministic_ties(spark):
    older = things(spark, [{"thing_id": 1, "label": "old"}, {"thing_id": 2, "label": "run a"},
                           {"thing_id": 3, "label": "early"}], run_id="jr_a", extracted_at=T1)
    newer = things(spark, [{"thing_id": 1, "label": "new", "updated_at": T2}, {"thing_id": 2, "label": "run b"},
                           {"thing_id": 3, "label": "late"}], run_id="jr_b", extracted_at=T1, ingest_date=MAY_2)
    later = things(spark, [{"thing_id": 3, "label": "latest extract"}], run_id="jr_0", extracted_at=T2)
    raw = older.unionByName(newer).unionByName(later)
    result = curate_table(raw, THINGS, {}, "cr_1", NOW)
    # 1: greatest updated_at; 2: same updated_at and _extracted_at -> greatest _run_id;
    # 3: same updated_at -> greatest _extracted_at, whatever the run id.
    assert curated_rows(result, "thing_id", "label") == [(1, "new"), (2, "run b"), (3, "latest extract")]
    assert result.counts == CurateCounts(rows_in=7, rows_curated=3, rows_quarantined=0, duplicates_removed=4)


def test_exact_duplicates_collapse_to_one_row(spark):
    result = curate_table(things(spark, [{"thing_id": 1}, {"thing_id": 1}]), THINGS, {}, "cr_1", NOW)
    assert result.counts == CurateCounts(2, 1, 0, 1)


def test_row_rules_quarantine_with_the_first_failed_rule_and_the_run_id(spark):
    rows = [
        {"thing_id": 1},
        {"thing_id": None, "amount": Decimal("-1")},  # not_null comes first
        {"thing_id": 3, "amount": Decimal("-0.5")},
        {"thing_id": 4, "amount": Decimal("1000.1")},
        {"thing_id": 5, "status": "Closed"},
        {"thing_id": 6, "updated_at": None},
    ]
    result = curate_table(things(spark, rows), THINGS, {}, "cr_7", NOW)
    got = quarantined(result)
    assert [(record.get("thing_id"), rule, run_id) for record, rule, run_id in got] == [
        (5, "allowed_values:status", "cr_7"),
        (None, "not_null:thing_id", "cr_7"),
        (6, "not_null:updated_at", "cr_7"),
        (3, "range:amount", "cr_7"),
        (4, "range:amount", "cr_7"),
    ]
    record = next(r for r, rule, _ in got if r.get("thing_id") == 5)
    # The record is the raw row: every raw column, raw values (before cleaning).
    assert set(record) >= {"thing_id", "amount", "status", "_run_id", "_extracted_at", "ingest_date", "run_id"}
    assert record["status"] == "Closed" and record["_run_id"] == "jr_1" and record["ingest_date"] == "2024-05-01"
    assert result.quarantine.columns == list(curate.QUARANTINE_COLUMNS)
    assert result.counts == CurateCounts(rows_in=6, rows_curated=1, rows_quarantined=5, duplicates_removed=0)


def test_references_quarantine_rows_without_a_parent(spark):
    declaration = load_source_declaration("order_lines")
    raw = raw_frame(spark, "order_lines", [
        {"order_number": 10100, "product_code": "S10_1678"},
        {"order_number": 10100, "product_code": "UNKNOWN"},
        {"order_number": 99999, "product_code": "S10_1678"},
        {"order_number": 10100, "product_code": "S10_1678", "quantity_ordered": 0, "updated_at": T2},
    ])
    references = {
        "products": spark.createDataFrame([("S10_1678",)], "product_code string"),
        "orders": spark.createDataFrame([(10100,)], "order_number int"),
    }
    result = curate_table(raw, declaration, references, "cr_1", NOW)
    assert [(r["order_number"], r["product_code"], rule) for r, rule, _ in quarantined(result)] == [
        (10100, "S10_1678", "range:quantity_ordered"),
        (99999, "S10_1678", "references:order_number"),
        (10100, "UNKNOWN", "references:product_code"),
    ]
    # The failing latest version is quarantined; the previous passing version stays current.
    assert curated_rows(result, "order_number", "product_code", "quantity_ordered") == [(10100, "S10_1678", 30)]
    assert result.counts == CurateCounts(4, 1, 3, 0)


def test_a_self_reference_checks_against_the_table_itself(spark):
    raw = raw_frame(spark, "employees", [
        {"employee_number": 1002, "reports_to": None},
        {"employee_number": 1056, "reports_to": 1002},
        {"employee_number": 1076, "reports_to": 4242},
    ], incremental=False)
    offices = spark.createDataFrame([("1",)], "office_code string")
    result = curate_table(raw, load_source_declaration("employees"), {"offices": offices}, "cr_1", NOW)
    (warning,) = result.warnings
    assert warning.rule.name == "references:reports_to" and warning.failing == 1
    assert result.counts.rows_curated == 3 and not result.failures


def test_drift_is_raised_before_any_transform(spark):
    raw = raw_frame(spark, "payments", [{}], drop=["amount"])
    with pytest.raises(SourceSchemaDriftError, match="column 'amount'"):
        curate_table(raw, load_source_declaration("payments"), {}, "cr_1", NOW)


def test_added_columns_are_carried_after_the_metadata_columns(spark):
    raw = raw_frame(spark, "payments", [{"channel": " web ", "batch": 3}], add={"channel": "string", "batch": "int"})
    customers = spark.createDataFrame([(103,)], "customer_number int")
    result = curate_table(raw, load_source_declaration("payments"), {"customers": customers}, "cr_1", NOW)
    assert result.drift.added == ("channel", "batch")
    assert result.curated.columns[-4:] == ["_extracted_at", "_run_id", "channel", "batch"]
    assert curated_rows(result, "channel", "batch") == [(" web ", 3)]


def test_blocking_and_warning_results_are_returned_not_raised(spark):
    result = curate_table(things(spark, [{"thing_id": None}]), THINGS, {}, "cr_1", NOW)
    assert [r.rule.name for r in result.failures] == ["row_count"]
    assert result.counts == CurateCounts(1, 0, 1, 0)


def test_dependency_order_puts_parents_first():
    tables = ["order_lines", "orders", "products", "product_lines", "customers", "employees", "offices", "payments"]
    rules = {t: quality.load_rules(load_source_declaration(t), "curated") for t in tables}
    order = dependency_order(tables, rules)
    assert order == ["offices", "employees", "customers", "orders", "payments", "product_lines", "products", "order_lines"]
    assert dependency_order(["order_lines", "products"], rules) == ["products", "order_lines"]


def test_dependency_order_refuses_a_cycle():
    a = quality.Rule("references", ("x",), "quarantine", {"dataset": "b", "key": "y"})
    b = quality.Rule("references", ("y",), "quarantine", {"dataset": "a", "key": "x"})
    with pytest.raises(ValueError, match="cycle between a, b"):
        dependency_order(["a", "b"], {"a": [a], "b": [b]})
