"""Curated -> gold transforms (undercurrent_glue.gold) and the Iceberg table helpers (undercurrent_glue.iceberg).

The builders below write tiny curated inputs by hand: each source table as the curated job
leaves it (declared columns in declared types, then ``_extracted_at`` and ``_run_id``), and
click events as the clickstream job does (partitioned by event_date, ingest_date).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession, functions as F
from pyspark.sql.types import StringType, StructField, StructType, TimestampType

from undercurrent_glue import gold, iceberg
from undercurrent_glue.schema import load_gold_declaration, load_schema, load_source_declaration, to_struct_type

D, T = dt.date, dt.datetime
CATALOG = "glue_catalog"
EXTRACTED_AT = T(2024, 6, 1, 3, 0)

_DEFAULTS: dict[str, dict[str, Any]] = {
    "customers": {
        "customer_name": "Atelier graphique",
        "contact_last_name": "Schmitt",
        "contact_first_name": "Carine",
        "phone": "40.32.2555",
        "address_line1": "54, rue Royale",
        "address_line2": None,
        "city": "Nantes",
        "state": None,
        "postal_code": "44000",
        "country": "France",
        "sales_rep_employee_number": 1370,
        "credit_limit": Decimal("21000.00"),
        "updated_at": T(2024, 1, 1),
    },
    "employees": {
        "last_name": "Hernandez",
        "first_name": "Gerard",
        "extension": "x2028",
        "email": "gerard@example.com",
        "office_code": "4",
        "reports_to": 1102,
        "job_title": "Sales Rep",
        "updated_at": T(2024, 1, 1),
    },
    "offices": {
        "city": "Paris",
        "phone": "+33 14 723 4404",
        "address_line1": "43 Rue Jouffroy D'abbans",
        "address_line2": None,
        "state": None,
        "country": "France",
        "postal_code": "75017",
        "territory": "EMEA",
        "updated_at": T(2024, 1, 1),
    },
    "product_lines": {"text_description": "Classic cars.", "html_description": None, "updated_at": T(2024, 1, 1)},
    "products": {
        "product_name": "1969 Harley Davidson Ultimate Chopper",
        "product_line": "Motorcycles",
        "product_scale": "1:10",
        "product_vendor": "Min Lin Diecast",
        "product_description": "A model.",
        "quantity_in_stock": 7933,
        "buy_price": Decimal("48.81"),
        "msrp": Decimal("95.70"),
        "updated_at": T(2024, 1, 1),
    },
    "orders": {
        "required_date": None,
        "shipped_date": None,
        "status": "Shipped",
        "comments": None,
        "updated_at": T(2024, 1, 1),
    },
    "order_lines": {"quantity_ordered": 1, "price_each": Decimal("10.00"), "order_line_number": 1, "updated_at": T(2024, 1, 1)},
}


def curated_df(spark: SparkSession, table: str, rows: Iterable[Mapping[str, Any]]) -> DataFrame:
    """A curated table's rows: declared columns (defaults filled in), ``_extracted_at``, ``_run_id``."""
    declaration = load_source_declaration(table)
    schema = StructType(
        to_struct_type(declaration).fields
        + [StructField("_extracted_at", TimestampType()), StructField("_run_id", StringType())]
    )
    full = []
    for row in rows:
        values = {**_DEFAULTS[table], **row}
        if table == "orders" and values.get("required_date") is None:
            values["required_date"] = values["order_date"] + dt.timedelta(days=7)
        full.append(tuple(values[c["name"]] for c in declaration["columns"]) + (EXTRACTED_AT, "curate-1"))
    return spark.createDataFrame(full, schema)


def write_curated(spark: SparkSession, curated: Path, table: str, rows: Iterable[Mapping[str, Any]]) -> None:
    """Write a curated table as the curated job does: ``<curated>/<table>/`` Parquet, overwritten."""
    curated_df(spark, table, rows).coalesce(1).write.mode("overwrite").parquet(str(curated / table))


def click(
    event_id: str,
    event_time: dt.datetime,
    event_type: str = "page_view",
    session_id: str = "s1",
    customer_number: int | None = None,
    product_code: str | None = None,
    ingest_date: dt.date | None = None,
) -> dict[str, Any]:
    """One curated click event (event_date = UTC date of event_time)."""
    return {
        "event_id": event_id,
        "event_type": event_type,
        "event_time": event_time,
        "session_id": session_id,
        "customer_number": customer_number,
        "product_code": product_code,
        "page_url": "https://shop.example.com/",
        "referrer": None,
        "user_agent": "test",
        "event_date": event_time.date(),
        "ingest_date": ingest_date or event_time.date(),
    }


def events_df(spark: SparkSession, events: Iterable[Mapping[str, Any]]) -> DataFrame:
    schema = load_schema("clickstream_event", include_partition_keys=True)
    return spark.createDataFrame([tuple(e[f.name] for f in schema.fields) for e in events], schema)


def write_events(spark: SparkSession, path: Path, events: Iterable[Mapping[str, Any]]) -> None:
    """Write curated click events as the clickstream job does (Parquet by event_date, ingest_date)."""
    events_df(spark, events).write.mode("overwrite").partitionBy("event_date", "ingest_date").parquet(str(path))


def as_dicts(df: DataFrame, order_by: list[str]) -> list[dict[str, Any]]:
    return [row.asDict() for row in df.orderBy(*order_by).collect()]


def declared_struct(table: str) -> StructType:
    return to_struct_type(load_gold_declaration(table), include_partition_keys=True)


def assert_declared_columns(df: DataFrame, table: str) -> None:
    expected = declared_struct(table)
    assert [(f.name, f.dataType) for f in df.schema.fields] == [(f.name, f.dataType) for f in expected.fields]


# --------------------------------------------------------------------------------------
# Type 1 dimensions
# --------------------------------------------------------------------------------------


def test_dim_product_has_one_row_per_product_with_its_line_description(spark):
    products = curated_df(
        spark,
        "products",
        [
            {"product_code": "S10_1678", "product_line": "Motorcycles"},
            {"product_code": "S12_1099", "product_line": "Ships", "msrp": Decimal("194.57")},
        ],
    )
    lines = curated_df(spark, "product_lines", [{"product_line": "Motorcycles", "text_description": "Bikes."}])

    dim = gold.build_dim_product(products, lines)

    assert_declared_columns(dim, "dim_product")
    rows = as_dicts(dim, ["product_code"])
    assert [(r["product_code"], r["product_line"], r["product_line_description"], r["msrp"]) for r in rows] == [
        ("S10_1678", "Motorcycles", "Bikes.", Decimal("95.70")),
        ("S12_1099", "Ships", None, Decimal("194.57")),
    ]
    keys = [r["product_key"] for r in rows]
    assert len(set(keys)) == 2
    assert keys == [r["product_key"] for r in as_dicts(gold.build_dim_product(products, lines), ["product_code"])]


def test_dim_employee_joins_each_employee_with_its_office(spark):
    employees = curated_df(
        spark,
        "employees",
        [
            {"employee_number": 1002, "office_code": "1", "reports_to": None, "job_title": "President"},
            {"employee_number": 1370, "office_code": "4"},
        ],
    )
    offices = curated_df(
        spark,
        "offices",
        [
            {"office_code": "1", "city": "San Francisco", "state": "CA", "country": "USA", "territory": "NA"},
            {"office_code": "4"},
        ],
    )

    dim = gold.build_dim_employee(employees, offices)

    assert_declared_columns(dim, "dim_employee")
    rows = as_dicts(dim, ["employee_number"])
    assert [
        (r["employee_number"], r["reports_to"], r["office_code"], r["office_city"], r["office_state"], r["office_country"],
         r["office_territory"])
        for r in rows
    ] == [
        (1002, None, "1", "San Francisco", "CA", "USA", "NA"),
        (1370, 1102, "4", "Paris", None, "France", "EMEA"),
    ]
    assert rows[0]["employee_key"] != rows[1]["employee_key"]


# --------------------------------------------------------------------------------------
# dim_customer (SCD2) and the fact, without Iceberg (apply_customer_changes = the MERGE)
# --------------------------------------------------------------------------------------


def empty_dim_customer(spark):
    return spark.createDataFrame([], declared_struct("dim_customer"))


def scd2(spark: SparkSession, dim: DataFrame, customer_rows: list[dict[str, Any]]) -> DataFrame:
    changes = gold.customer_changes(curated_df(spark, "customers", customer_rows), dim)
    return gold.apply_customer_changes(dim, changes).localCheckpoint()


def test_dim_customer_keeps_history_as_type_2_versions(spark):
    day1 = [
        {"customer_number": 103, "city": "Nantes", "updated_at": T(2024, 1, 1)},
        {"customer_number": 112, "customer_name": "Signal Gift Stores", "updated_at": T(2024, 1, 2)},
    ]
    first = scd2(spark, empty_dim_customer(spark), day1)
    assert_declared_columns(first, "dim_customer")
    assert [(r["customer_number"], r["valid_from"], r["valid_to"], r["is_current"]) for r in as_dicts(first, ["customer_number"])] == [
        (103, T(2024, 1, 1), None, True),
        (112, T(2024, 1, 2), None, True),
    ]

    # 103 moves (city), 112 only gets a newer updated_at (no tracked change), 119 is new.
    day2: list[dict[str, Any]] = [
        {"customer_number": 103, "city": "Lyon", "updated_at": T(2024, 3, 1, 12)},
        {"customer_number": 112, "customer_name": "Signal Gift Stores", "updated_at": T(2024, 3, 5)},
        {"customer_number": 119, "credit_limit": None, "updated_at": T(2024, 3, 2)},
    ]
    second = scd2(spark, first, day2)
    rows = as_dicts(second, ["customer_number", "valid_from"])
    assert [(r["customer_number"], r["city"], r["valid_from"], r["valid_to"], r["is_current"]) for r in rows] == [
        (103, "Nantes", T(2024, 1, 1), T(2024, 3, 1, 12), False),
        (103, "Lyon", T(2024, 3, 1, 12), None, True),
        (112, "Nantes", T(2024, 1, 2), None, True),
        (119, "Nantes", T(2024, 3, 2), None, True),
    ]
    assert len({r["customer_key"] for r in rows}) == 4
    # The closed version keeps its key; every customer has exactly one current version.
    assert rows[0]["customer_key"] == as_dicts(first, ["customer_number"])[0]["customer_key"]
    assert second.filter("is_current").groupBy("customer_number").count().filter("count != 1").count() == 0

    # The same input again changes nothing; a customer deleted upstream keeps its history.
    assert gold.customer_changes(curated_df(spark, "customers", day2), second).count() == 0
    assert gold.customer_changes(curated_df(spark, "customers", day2[:1]), second).count() == 0


def test_a_change_of_a_nullable_attribute_to_null_is_a_new_version(spark):
    first = scd2(spark, empty_dim_customer(spark), [{"customer_number": 7, "state": "CA"}])
    changes = gold.customer_changes(
        curated_df(spark, "customers", [{"customer_number": 7, "state": None, "updated_at": T(2024, 2, 1)}]), first
    )
    assert sorted((r[gold.MERGE_KEY] or 0, r["state"] or "", r["valid_from"]) for r in changes.collect()) == [
        (0, "", T(2024, 2, 1)),  # the new version, to insert
        (7, "CA", T(2024, 2, 1)),  # the current version, to close
    ]


def test_a_change_without_a_later_updated_at_still_gives_an_ordered_chain(spark):
    first = scd2(spark, empty_dim_customer(spark), [{"customer_number": 7, "updated_at": T(2024, 2, 1)}])
    second = scd2(spark, first, [{"customer_number": 7, "city": "Lyon", "updated_at": T(2024, 1, 1)}])
    rows = as_dicts(second, ["valid_from"])
    assert [(r["valid_from"], r["valid_to"], r["is_current"]) for r in rows] == [
        (T(2024, 2, 1), T(2024, 2, 1, 0, 0, 0, 1), False),
        (T(2024, 2, 1, 0, 0, 0, 1), None, True),
    ]


def test_fact_order_line_resolves_the_customer_version_valid_at_the_order_date(spark):
    dim_customer = scd2(
        spark,
        scd2(spark, empty_dim_customer(spark), [{"customer_number": 103, "sales_rep_employee_number": 1370, "updated_at": T(2024, 3, 1)}]),
        [{"customer_number": 103, "sales_rep_employee_number": None, "city": "Lyon", "updated_at": T(2024, 5, 1, 12)}],
    )
    versions = {r["valid_from"]: r["customer_key"] for r in dim_customer.collect()}
    dim_product = gold.build_dim_product(
        curated_df(spark, "products", [{"product_code": "S10_1678"}]), curated_df(spark, "product_lines", [{"product_line": "Motorcycles"}])
    )
    dim_employee = gold.build_dim_employee(
        curated_df(spark, "employees", [{"employee_number": 1370}]), curated_df(spark, "offices", [{"office_code": "4"}])
    )
    orders = curated_df(
        spark,
        "orders",
        [
            # Before the first version seen -> the earliest version.
            {"order_number": 1, "order_date": D(2023, 12, 24), "customer_number": 103, "shipped_date": D(2023, 12, 28)},
            {"order_number": 2, "order_date": D(2024, 4, 10), "customer_number": 103},
            # The change happened at noon of the order date: the version valid at 00:00 UTC.
            {"order_number": 3, "order_date": D(2024, 5, 1), "customer_number": 103, "status": "In Process"},
            {"order_number": 4, "order_date": D(2024, 5, 2), "customer_number": 103},
        ],
    )
    lines = curated_df(
        spark,
        "order_lines",
        [
            {"order_number": 1, "product_code": "S10_1678", "quantity_ordered": 3, "price_each": Decimal("95.70")},
            {"order_number": 2, "product_code": "S10_1678", "quantity_ordered": 20, "price_each": Decimal("81.35")},
            {"order_number": 2, "product_code": "S99_9999", "quantity_ordered": 1, "order_line_number": 2},
            {"order_number": 3, "product_code": "S10_1678", "quantity_ordered": 1},
            {"order_number": 4, "product_code": "S10_1678", "quantity_ordered": 1},
            {"order_number": 5, "product_code": "S10_1678"},  # no order: left out
        ],
    )

    fact = gold.build_fact_order_line(orders, lines, dim_customer, dim_product, dim_employee)

    assert_declared_columns(fact, "fact_order_line")
    old, new = versions[T(2024, 3, 1)], versions[T(2024, 5, 1, 12)]
    product_key = dim_product.take(1)[0]["product_key"]
    employee_key = dim_employee.take(1)[0]["employee_key"]
    rows = as_dicts(fact, ["order_number", "order_line_number"])
    assert [
        (r["order_number"], r["order_line_number"], r["customer_key"], r["product_key"], r["employee_key"], r["amount"])
        for r in rows
    ] == [
        (1, 1, old, product_key, employee_key, Decimal("287.10")),
        (2, 1, old, product_key, employee_key, Decimal("1627.00")),
        (2, 2, old, None, employee_key, Decimal("10.00")),
        (3, 1, old, product_key, employee_key, Decimal("10.00")),
        (4, 1, new, product_key, None, Decimal("10.00")),
    ]
    first = rows[0]
    assert (first["order_date_key"], first["required_date_key"], first["shipped_date_key"], first["order_date"]) == (
        20231224,
        20231231,
        20231228,
        D(2023, 12, 24),
    )
    assert rows[1]["shipped_date_key"] is None
    assert rows[3]["status"] == "In Process"


def test_fact_order_line_joins_the_lines_to_their_orders_without_broadcasting_the_lines(
    spark_defaults: SparkSession, tmp_path: Path
) -> None:
    spark = spark_defaults
    # Read from Parquet, as the job reads them: a small file makes Spark's size estimate small.
    def parquet(table: str, rows: list[dict[str, Any]]) -> DataFrame:
        curated_df(spark, table, rows).write.parquet(str(tmp_path / table))
        return spark.read.parquet(str(tmp_path / table))

    fact = gold.build_fact_order_line(
        parquet("orders", [{"order_number": 1, "order_date": D(2024, 4, 10), "customer_number": 103}]),
        parquet("order_lines", [{"order_number": 1, "product_code": "S10_1678"}]),
        scd2(spark, empty_dim_customer(spark), [{"customer_number": 103}]),
        gold.build_dim_product(
            parquet("products", [{"product_code": "S10_1678"}]), parquet("product_lines", [{"product_line": "Motorcycles"}])
        ),
        gold.build_dim_employee(parquet("employees", [{"employee_number": 1370}]), parquet("offices", [{"office_code": "4"}])),
    )

    plan = fact._jdf.queryExecution().executedPlan().toString()
    assert "SortMergeJoin [order_number" in plan, plan
    assert fact.count() == 1


# --------------------------------------------------------------------------------------
# Clickstream
# --------------------------------------------------------------------------------------


def test_deduplicate_events_keeps_the_earliest_copy_and_only_the_columns_the_outputs_use(spark):
    t0 = T(2024, 5, 1, 10, 0)
    later_day = D(2024, 5, 2)
    events = events_df(
        spark,
        [
            click("e1", t0 + dt.timedelta(minutes=5), session_id="s-b", ingest_date=later_day),
            click("e1", t0 + dt.timedelta(minutes=9), session_id="s-c"),  # earliest ingest_date wins
            click("e2", t0, session_id="s-z"),
            click("e2", t0, session_id="s-a"),  # same ingest_date and time: smallest session_id
            click("e3", t0),
            # Same ingest_date, time and session: the smallest of the other values decides.
            click("e4", t0, event_type="purchase", customer_number=7),
            click("e4", t0, event_type="purchase", customer_number=5),
            click("e4", t0, event_type="product_view", customer_number=9),
        ],
    )

    deduplicated = gold.deduplicate_events(events)

    assert deduplicated.columns == list(gold.EVENT_COLUMNS)
    assert [(r["event_id"], r["session_id"]) for r in deduplicated.orderBy("event_id").collect()] == [
        ("e1", "s-c"), ("e2", "s-a"), ("e3", "s1"), ("e4", "s1")]
    e4 = deduplicated.where("event_id = 'e4'").first()
    assert e4 is not None
    assert (e4["event_type"], e4["customer_number"]) == ("product_view", 9)


def test_deduplicate_events_without_duplicates_returns_every_event(spark):
    events = events_df(spark, [click(f"u{i}", T(2024, 5, 1, 10, i)) for i in range(4)])

    deduplicated = gold.deduplicate_events(events)

    assert sorted(r["event_id"] for r in deduplicated.collect()) == ["u0", "u1", "u2", "u3"]
    assert deduplicated.columns == list(gold.EVENT_COLUMNS)


def test_deduplicate_events_tells_apart_distinct_ids_that_share_a_hash(spark, monkeypatch):
    t0 = T(2024, 5, 1, 10, 0)
    events = events_df(
        spark,
        [click("a1", t0, session_id="s-2"), click("a1", t0, session_id="s-1"), click("b1", t0), click("c22", t0)],
    )
    # Every id "hashes" to the same value: only the ranking by event_id tells them apart.
    monkeypatch.setattr(gold, "_id_hash", lambda event_id: F.lit(7).cast("long"))

    deduplicated = gold.deduplicate_events(events)

    assert [(r["event_id"], r["session_id"]) for r in deduplicated.orderBy("event_id").collect()] == [
        ("a1", "s-1"), ("b1", "s1"), ("c22", "s1")]
    assert deduplicated.columns == list(gold.EVENT_COLUMNS)


def test_sessions_split_after_more_than_the_gap_and_count_events(spark):
    t0 = T(2024, 5, 1, 23, 40)
    events = events_df(
        spark,
        [
            click("a1", t0, session_id="s1"),
            click("a2", t0 + dt.timedelta(minutes=30), "product_view", "s1", product_code="P1"),  # exactly 30: same
            click("a3", t0 + dt.timedelta(minutes=40), "add_to_cart", "s1", customer_number=103, product_code="P1"),
            click("a4", t0 + dt.timedelta(minutes=45), "purchase", "s1", customer_number=104, product_code="P1"),
            # 30 minutes and 1 second later: a new session, on the next UTC day.
            click("a5", t0 + dt.timedelta(minutes=75, seconds=1), "page_view", "s1"),
            click("b1", t0, "product_view", "s2", product_code="P2"),
            click("b1", t0, "product_view", "s2", product_code="P2", ingest_date=D(2024, 5, 2)),  # duplicate
        ],
    )

    sessions = gold.build_clickstream_sessions(gold.deduplicate_events(events))

    assert_declared_columns(sessions, "clickstream_sessions")
    assert as_dicts(sessions, ["session_id"]) == [
        {
            "session_id": "s1-1",
            "customer_number": 103,
            "session_start": t0,
            "session_end": t0 + dt.timedelta(minutes=45),
            "events": 4,
            "page_views": 1,
            "product_views": 1,
            "added_to_cart": 1,
            "purchased": True,
            "session_date": D(2024, 5, 1),
        },
        {
            "session_id": "s1-2",
            "customer_number": None,
            "session_start": t0 + dt.timedelta(minutes=75, seconds=1),
            "session_end": t0 + dt.timedelta(minutes=75, seconds=1),
            "events": 1,
            "page_views": 1,
            "product_views": 0,
            "added_to_cart": 0,
            "purchased": False,
            "session_date": D(2024, 5, 2),
        },
        {
            "session_id": "s2-1",
            "customer_number": None,
            "session_start": t0,
            "session_end": t0,
            "events": 1,
            "page_views": 0,
            "product_views": 1,
            "added_to_cart": 0,
            "purchased": False,
            "session_date": D(2024, 5, 1),
        },
    ]

    shorter = gold.build_clickstream_sessions(gold.deduplicate_events(events), gap_minutes=5)
    assert sorted(r["session_id"] for r in shorter.collect()) == ["s1-1", "s1-2", "s1-3", "s1-4", "s2-1"]


@pytest.mark.parametrize("gap", [0, -1, 1441, 1.5, True, "30"])
def test_an_invalid_session_gap_is_refused(spark, gap):
    with pytest.raises(ValueError, match="session_gap_minutes must be an integer from 1 to 1440"):
        gold.build_clickstream_sessions(events_df(spark, []), gap_minutes=gap)


def test_the_session_gap_argument_is_parsed():
    assert gold.parse_session_gap_minutes(" 45 ") == 45
    with pytest.raises(ValueError, match="got 'x'"):
        gold.parse_session_gap_minutes("x")


def test_daily_product_views_counts_the_funnel_and_the_conversion_rate(spark):
    t = T(2024, 5, 1, 10)
    events = events_df(
        spark,
        [
            click("v1", t, "product_view", product_code="P1"),
            click("v2", t, "product_view", product_code="P1"),
            click("v2", t, "product_view", product_code="P1", ingest_date=D(2024, 5, 2)),  # duplicate
            click("v3", t, "product_view", product_code="P1"),
            click("v4", t, "product_view", product_code="P1"),
            click("c1", t, "add_to_cart", product_code="P1"),
            click("p1", t, "purchase", product_code="P1"),
            click("p2", t, "purchase", product_code="P2"),  # bought without a view
            click("r1", t, "remove_from_cart", product_code="P3"),  # not in the funnel
            click("x1", t, "page_view"),
            click("v5", t + dt.timedelta(days=1), "product_view", product_code="P1"),
        ],
    )

    daily = gold.build_daily_product_views(gold.deduplicate_events(events))

    assert_declared_columns(daily, "daily_product_views")
    assert as_dicts(daily, ["event_date", "product_code"]) == [
        {"product_code": "P1", "views": 4, "add_to_carts": 1, "purchases": 1, "conversion_rate": 0.25, "event_date": D(2024, 5, 1)},
        {"product_code": "P2", "views": 0, "add_to_carts": 0, "purchases": 1, "conversion_rate": None, "event_date": D(2024, 5, 1)},
        {"product_code": "P1", "views": 1, "add_to_carts": 0, "purchases": 0, "conversion_rate": 0.0, "event_date": D(2024, 5, 2)},
    ]


# --------------------------------------------------------------------------------------
# dim_date
# --------------------------------------------------------------------------------------


def test_dates_used_bound_every_date_of_the_fact_and_the_clickstream_outputs(spark):
    fact = spark.createDataFrame(
        [(D(2024, 3, 1), 20240305, None), (D(2024, 2, 1), 20240210, 20231230)],
        "order_date date, required_date_key int, shipped_date_key int",
    )
    # A session that starts on the last day of 2024 and ends in 2025.
    sessions = spark.createDataFrame([(D(2024, 12, 31), T(2025, 1, 1, 0, 10))], "session_date date, session_end timestamp")
    daily = spark.createDataFrame([(D(2024, 6, 1),)], "event_date date")

    dates = gold.dates_used(fact, sessions, daily)

    assert dates.agg(F.min("d"), F.max("d")).first() == (D(2023, 12, 30), D(2025, 1, 1))
    assert gold.build_dim_date(spark, dates).agg(F.min("full_date"), F.max("full_date")).first() == (
        D(2023, 1, 1), D(2025, 12, 31)
    )


def test_dim_date_spans_whole_years_of_the_dates_used(spark):
    dates = spark.createDataFrame([(D(2023, 12, 24),), (D(2025, 1, 3),), (None,)], "d date")

    dim = gold.build_dim_date(spark, dates)

    assert_declared_columns(dim, "dim_date")
    assert dim.count() == 365 + 366 + 365
    bounds = dim.agg(F.min("full_date"), F.max("full_date"), F.countDistinct("date_key")).first()
    assert bounds is not None
    assert tuple(bounds) == (D(2023, 1, 1), D(2025, 12, 31), 1096)
    assert dim.filter("date_key = 20240501").take(1)[0].asDict() == {
        "date_key": 20240501,
        "full_date": D(2024, 5, 1),
        "year": 2024,
        "quarter": 2,
        "month": 5,
        "month_name": "May",
        "day_of_month": 1,
        "day_of_week": 3,
        "day_name": "Wednesday",
        "is_weekend": False,
    }
    sunday = dim.filter("date_key = 20240505").first()
    assert sunday is not None
    assert (sunday["day_of_week"], sunday["day_name"], sunday["is_weekend"]) == (7, "Sunday", True)
    assert gold.build_dim_date(spark, spark.createDataFrame([], "d date")).count() == 0


# --------------------------------------------------------------------------------------
# Iceberg tables
# --------------------------------------------------------------------------------------


def test_ensure_table_creates_the_declared_table_partitioned_by_month(spark, iceberg_warehouse):
    declaration = load_gold_declaration("fact_order_line")

    name = iceberg.ensure_table(spark, CATALOG, "gold_ensure_create", declaration, "s3://ignored/", create_namespace=True)
    again = iceberg.ensure_table(spark, CATALOG, "gold_ensure_create", declaration, "s3://ignored/")

    assert name == again == "glue_catalog.gold_ensure_create.fact_order_line"
    assert [(f.name, f.dataType) for f in spark.table(name).schema.fields] == [
        (f.name, f.dataType) for f in declared_struct("fact_order_line").fields
    ]
    assert iceberg.current_partition_spec(spark, name) == ["months(order_date)"]
    properties = iceberg.table_properties(spark, name)
    for key, value in iceberg.TABLE_PROPERTIES.items():
        assert properties[key] == value
    assert properties["sort-order"] == "order_number ASC NULLS FIRST"
    assert (iceberg_warehouse / "gold_ensure_create" / "fact_order_line").is_dir()

    unpartitioned = iceberg.ensure_table(
        spark, CATALOG, "gold_ensure_create", load_gold_declaration("dim_date"), "s3://ignored/", sort_by=["date_key"]
    )
    assert iceberg.current_partition_spec(spark, unpartitioned) == []


def test_ensure_table_adds_the_partition_spec_and_properties_to_a_table_created_without_them(spark):
    # As CloudFormation creates it: the declared columns, unpartitioned, no properties.
    spark.sql("CREATE NAMESPACE IF NOT EXISTS glue_catalog.gold_ensure_alter")
    columns = ", ".join(f"{f.name} {f.dataType.simpleString()}" for f in declared_struct("daily_product_views").fields)
    spark.sql(f"CREATE TABLE glue_catalog.gold_ensure_alter.daily_product_views ({columns}) USING iceberg")

    name = iceberg.ensure_table(spark, CATALOG, "gold_ensure_alter", load_gold_declaration("daily_product_views"), "s3://x/")

    assert iceberg.current_partition_spec(spark, name) == ["months(event_date)"]
    properties = iceberg.table_properties(spark, name)
    assert properties["write.target-file-size-bytes"] == str(128 * 1024 * 1024)
    assert properties["write.distribution-mode"] == "hash"
    assert properties["write.parquet.compression-codec"] == "zstd"


@pytest.mark.parametrize(
    "database, columns, message",
    [
        ("gold_drift_missing", "date_key int, full_date date", "column 'year' is missing"),
        ("gold_drift_type", "date_key bigint", "column 'date_key' has type bigint, declared int"),
        ("gold_drift_extra", "extra string", "column 'extra' is not declared"),
    ],
)
def test_ensure_table_rejects_a_table_that_drifted_from_its_declaration(spark, database, columns, message):
    declared = declared_struct("dim_date")
    if columns == "date_key bigint":
        ddl = ", ".join(["date_key bigint"] + [f"{f.name} {f.dataType.simpleString()}" for f in declared.fields[1:]])
    elif columns == "extra string":
        ddl = ", ".join([f"{f.name} {f.dataType.simpleString()}" for f in declared.fields] + ["extra string"])
    else:
        ddl = columns
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS glue_catalog.{database}")
    spark.sql(f"DROP TABLE IF EXISTS glue_catalog.{database}.dim_date")
    spark.sql(f"CREATE TABLE glue_catalog.{database}.dim_date ({ddl}) USING iceberg")

    expected = f"Gold table 'glue_catalog.{database}.dim_date' does not match its declaration: {message}"
    with pytest.raises(iceberg.TableMismatchError, match=expected):
        iceberg.ensure_table(spark, CATALOG, database, load_gold_declaration("dim_date"), "s3://x/")


def test_ensure_table_rejects_another_partition_spec(spark):
    spark.sql("CREATE NAMESPACE IF NOT EXISTS glue_catalog.gold_ensure_days")
    columns = ", ".join(f"{f.name} {f.dataType.simpleString()}" for f in declared_struct("daily_product_views").fields)
    spark.sql(
        f"CREATE TABLE glue_catalog.gold_ensure_days.daily_product_views ({columns}) USING iceberg PARTITIONED BY (days(event_date))"
    )
    expected = r"is partitioned by days\(event_date\); its declaration needs months\(event_date\)"
    with pytest.raises(iceberg.TableMismatchError, match=expected):
        iceberg.ensure_table(spark, CATALOG, "gold_ensure_days", load_gold_declaration("daily_product_views"), "s3://x/")


def test_table_names_must_be_plain_identifiers():
    with pytest.raises(ValueError, match="Database 'gold; DROP' must be a plain identifier"):
        iceberg.table_name(CATALOG, "gold; DROP", "dim_date")


def test_replace_all_replaces_every_row_and_partition_in_one_snapshot(spark):
    name = iceberg.ensure_table(
        spark, CATALOG, "gold_replace", load_gold_declaration("daily_product_views"), "s3://x/", create_namespace=True
    )
    row = {"product_code": "P1", "views": 1, "add_to_carts": 0, "purchases": 0, "conversion_rate": 0.0}
    first = spark.createDataFrame([{**row, "event_date": D(2024, 4, 30)}, {**row, "event_date": D(2024, 5, 1)}])
    second = spark.createDataFrame([{**row, "event_date": D(2024, 5, 1), "views": 2}])

    iceberg.replace_all(spark, name, first)
    iceberg.replace_all(spark, name, second)

    assert [(r["event_date"], r["views"]) for r in spark.table(name).collect()] == [(D(2024, 5, 1), 2)]
    assert spark.table(f"{name}.snapshots").count() == 2


def _views_table(spark, database):
    return iceberg.ensure_table(
        spark, CATALOG, database, load_gold_declaration("daily_product_views"), "s3://x/", create_namespace=True
    )


def _views_row(spark, day, views=1):
    row = {"product_code": "P1", "views": views, "add_to_carts": 0, "purchases": 0, "conversion_rate": 0.0}
    return spark.createDataFrame([{**row, "event_date": day}])


def _views(df):
    return sorted((r["event_date"], r["views"]) for r in df.collect())


def _refs(spark, name):
    return [r["name"] for r in spark.table(f"{name}.refs").collect()]


def test_replace_audited_publishes_the_rows_the_audit_accepted_read_back_from_the_branch(spark):
    name = _views_table(spark, "gold_wap_accept")
    seen = []

    def audit(staged):
        seen.append((_views(spark.table(name)), _views(staged)))

    # A table without any snapshot yet, then one with rows.
    iceberg.replace_audited(spark, name, _views_row(spark, D(2024, 4, 30)), audit)
    snapshots = spark.table(f"{name}.snapshots").count()
    iceberg.replace_audited(spark, name, _views_row(spark, D(2024, 5, 1), views=2), audit)

    # During each audit readers still saw the old table; the audit saw the new rows.
    assert seen == [([], [(D(2024, 4, 30), 1)]), ([(D(2024, 4, 30), 1)], [(D(2024, 5, 1), 2)])]
    assert _views(spark.table(name)) == [(D(2024, 5, 1), 2)]
    assert spark.table(f"{name}.snapshots").count() == snapshots + 1  # one commit published
    assert _refs(spark, name) == ["main"]


def test_replace_audited_leaves_the_table_as_it_was_when_the_audit_rejects_the_rows(spark):
    name = _views_table(spark, "gold_wap_reject")
    iceberg.replace_all(spark, name, _views_row(spark, D(2024, 4, 30)))
    current = spark.table(f"{name}.refs").collect()[0]["snapshot_id"]

    def reject(staged):
        raise ValueError(f"rejected {staged.count()} row(s)")

    with pytest.raises(ValueError, match="rejected 1 row"):
        iceberg.replace_audited(spark, name, _views_row(spark, D(2024, 5, 1), views=2), reject)

    assert _views(spark.table(name)) == [(D(2024, 4, 30), 1)]
    assert spark.table(f"{name}.refs").collect()[0]["snapshot_id"] == current
    assert _refs(spark, name) == ["main"]


def test_replace_audited_replaces_an_audit_branch_a_failed_run_left(spark):
    name = _views_table(spark, "gold_wap_leftover")
    iceberg.replace_all(spark, name, _views_row(spark, D(2024, 4, 30)))
    spark.sql(f"ALTER TABLE {name} CREATE BRANCH {iceberg.AUDIT_BRANCH}")
    _views_row(spark, D(2020, 1, 1)).select(*spark.table(name).columns).writeTo(f"{name}.branch_{iceberg.AUDIT_BRANCH}").append()

    iceberg.replace_audited(spark, name, _views_row(spark, D(2024, 5, 1), views=2), lambda staged: None)

    assert _views(spark.table(name)) == [(D(2024, 5, 1), 2)]
    assert _refs(spark, name) == ["main"]
