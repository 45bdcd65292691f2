"""Source extract: plans, Glue JDBC options, raw layout helpers, conform and schema drift."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from pyspark.sql import functions as F
from pyspark.sql.types import (
    BooleanType,
    ByteType,
    DateType,
    DecimalType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    ShortType,
    StringType,
    TimestampNTZType,
    TimestampType,
)

from undercurrent_glue import extract
from undercurrent_glue.extract import SchemaDriftError
from undercurrent_glue.schema import load_source_declaration

UTC = dt.UTC
MAY_1 = dt.date(2024, 5, 1)
EXTRACTED_AT = dt.datetime(2024, 5, 1, 2, 30, tzinfo=UTC)


def micros(instant: dt.datetime) -> int:
    return (instant - dt.datetime(1970, 1, 1, tzinfo=UTC)) // dt.timedelta(microseconds=1)


def source_df(spark, table, rows=(), types=None, drop=(), extra=()):
    """A DataFrame shaped like the JDBC read of ``table``: the declared columns with their
    declared types unless overridden in ``types``, minus ``drop``, plus ``extra`` (name, type)."""
    types = types or {}
    fields = [
        f"`{c['name']}` {types.get(c['name'], c['type'])}"
        for c in load_source_declaration(table)["columns"]
        if c["name"] not in drop
    ]
    fields += [f"`{name}` {type_}" for name, type_ in extra]
    return spark.createDataFrame(list(rows), ", ".join(fields))


# --- plans and Glue JDBC options -------------------------------------------------------


def test_a_snapshot_table_plans_a_whole_table_read_without_bookmark_keys():
    plan = extract.plan_for(load_source_declaration("offices"))

    assert plan == extract.ExtractPlan(
        table="offices",
        mode="snapshot",
        columns=(
            "office_code", "city", "phone", "address_line1", "address_line2",
            "state", "country", "postal_code", "territory", "updated_at",
        ),
        primary_key=("office_code",),
        bookmark_keys=(),
        hash_field=None,
        hash_partitions=None,
    )
    assert extract.jdbc_connection_options(plan, "undercurrent-mysql", "classicmodels") == {
        "useConnectionProperties": "true",
        "connectionName": "undercurrent-mysql",
        "dbtable": "classicmodels.offices",
    }


def test_an_incremental_table_reads_past_its_bookmark_keys_in_ascending_order_with_hash_options():
    plan = extract.plan_for(load_source_declaration("order_lines"))

    assert plan.mode == "incremental" and plan.incremental
    assert plan.primary_key == ("order_number", "product_code")
    assert extract.jdbc_connection_options(plan, "undercurrent-mysql", "classicmodels") == {
        "useConnectionProperties": "true",
        "connectionName": "undercurrent-mysql",
        "dbtable": "classicmodels.order_lines",
        "hashfield": "order_number",
        "hashpartitions": "8",
        "jobBookmarkKeys": ["updated_at"],
        "jobBookmarkKeysSortOrder": "asc",
    }


def test_a_snapshot_table_with_hash_options_gets_them_as_strings_and_no_bookmark_keys():
    options = extract.jdbc_connection_options(
        extract.plan_for(load_source_declaration("products")), "conn", "classicmodels"
    )

    assert options["hashfield"] == "product_code"
    assert options["hashpartitions"] == "2"
    assert "jobBookmarkKeys" not in options and "jobBookmarkKeysSortOrder" not in options


def test_a_hash_field_without_hash_partitions_sets_only_hashfield():
    declaration = load_source_declaration("employees")
    declaration["extract"]["hash_field"] = "employee_number"

    options = extract.jdbc_connection_options(extract.plan_for(declaration), "conn", "db")

    assert options["hashfield"] == "employee_number"
    assert "hashpartitions" not in options


@pytest.mark.parametrize(
    "connection_name, database, message",
    [
        ("", "classicmodels", "connection_name must name the Glue connection"),
        ("conn", "classic models", "database must be a MySQL database name"),
        ("conn", "db.customers", "database must be a MySQL database name"),
        ("conn", "", "database must be a MySQL database name"),
    ],
)
def test_jdbc_options_refuse_an_empty_connection_or_a_database_that_is_not_a_plain_name(
    connection_name, database, message
):
    plan = extract.plan_for(load_source_declaration("offices"))

    with pytest.raises(ValueError, match=message):
        extract.jdbc_connection_options(plan, connection_name, database)


def test_only_incremental_reads_get_a_transformation_ctx_so_snapshots_are_never_bookmarked():
    assert extract.transformation_ctx(extract.plan_for(load_source_declaration("orders"))) == "extract_orders"
    assert extract.transformation_ctx(extract.plan_for(load_source_declaration("offices"))) == ""


def test_plan_for_refuses_an_invalid_declaration():
    declaration = load_source_declaration("orders")
    declaration["extract"]["bookmark_keys"] = []

    with pytest.raises(ValueError, match="Source declaration 'orders': 'extract.bookmark_keys'"):
        extract.plan_for(declaration)


# --- raw layout helpers ---------------------------------------------------------------


def test_snapshots_overwrite_their_ingest_date_and_increments_append_a_run_id_partition():
    snapshot = extract.plan_for(load_source_declaration("products"))
    incremental = extract.plan_for(load_source_declaration("payments"))

    assert extract.partition_columns(snapshot) == ("ingest_date",)
    assert extract.write_mode(snapshot) == "overwrite"
    assert extract.partition_columns(incremental) == ("ingest_date", "run_id")
    assert extract.write_mode(incremental) == "append"
    for plan in (snapshot, incremental):
        assert extract.write_options(plan) == {"compression": "snappy", "partitionOverwriteMode": "dynamic"}


@pytest.mark.parametrize("root", ["s3://lake-raw/", "s3://lake-raw", "s3://lake-raw//"])
def test_the_raw_table_path_is_source_then_the_table_under_the_raw_root(root):
    assert extract.raw_table_path(root, "customers") == "s3://lake-raw/source/customers/"


@pytest.mark.parametrize("root", ["s3://lake-raw/source/", "s3://lake-raw/source"])
def test_a_source_table_path_is_the_table_under_the_source_prefix_with_no_second_source(root):
    assert extract.source_table_path(root, "customers") == "s3://lake-raw/source/customers/"


@pytest.mark.parametrize("root, table", [("", "customers"), ("/", "customers"), ("s3://r/source/", "../x")])
def test_a_source_table_path_refuses_an_empty_root_or_a_table_that_is_not_an_identifier(root, table):
    with pytest.raises(ValueError):
        extract.source_table_path(root, table)


@pytest.mark.parametrize("root, table", [("", "customers"), ("/", "customers"), ("s3://r/", "../x"), ("s3://r/", "")])
def test_the_raw_table_path_refuses_an_empty_root_or_a_table_that_is_not_an_identifier(root, table):
    with pytest.raises(ValueError):
        extract.raw_table_path(root, table)


# --- type compatibility ---------------------------------------------------------------


@pytest.mark.parametrize(
    "found, declared",
    [
        (ShortType(), IntegerType()),
        (ByteType(), IntegerType()),
        (DecimalType(9, 0), IntegerType()),
        (IntegerType(), LongType()),
        (DecimalType(18, 0), LongType()),
        (DecimalType(8, 2), DecimalType(10, 2)),
        (DecimalType(10, 1), DecimalType(12, 2)),
        (IntegerType(), DecimalType(12, 2)),
        (FloatType(), DoubleType()),
        (IntegerType(), DoubleType()),
        (TimestampNTZType(), TimestampType()),
        (DateType(), DateType()),
    ],
)
def test_lossless_widenings_are_safe_casts(found, declared):
    assert extract.cast_is_safe(found, declared)


@pytest.mark.parametrize(
    "found, declared",
    [
        (StringType(), IntegerType()),
        (LongType(), IntegerType()),
        (DecimalType(10, 0), IntegerType()),
        (DecimalType(10, 2), IntegerType()),
        (DecimalType(12, 2), DecimalType(10, 2)),
        (DecimalType(10, 3), DecimalType(10, 2)),
        (IntegerType(), DecimalType(10, 2)),
        (DoubleType(), DecimalType(10, 2)),
        (LongType(), DoubleType()),
        (StringType(), DateType()),
        (TimestampType(), DateType()),
        (DateType(), TimestampType()),
        (IntegerType(), StringType()),
        (IntegerType(), BooleanType()),
    ],
)
def test_narrowing_or_reinterpreting_casts_are_not_safe(found, declared):
    assert not extract.cast_is_safe(found, declared)


# --- conform: casting, order, metadata ------------------------------------------------


def test_conform_casts_jdbc_types_to_the_declared_types_and_keeps_the_values(spark):
    source = source_df(
        spark,
        "payments",
        [(103, "HQ336336", dt.date(2004, 10, 19), Decimal("6066.78"), dt.datetime(2024, 4, 30, 23, 59, 59, tzinfo=UTC))],
        types={"customer_number": "smallint", "amount": "decimal(8,2)"},
    )

    result = extract.conform(source, load_source_declaration("payments"), MAY_1, "jr_1", EXTRACTED_AT)
    row = result.df.withColumn("_updated_us", F.unix_micros("updated_at")).first()
    assert row is not None

    assert [(f.name, f.dataType) for f in result.df.schema.fields[:5]] == [
        ("customer_number", IntegerType()),
        ("check_number", StringType()),
        ("payment_date", DateType()),
        ("amount", DecimalType(10, 2)),
        ("updated_at", TimestampType()),
    ]
    assert (row["customer_number"], row["check_number"], row["payment_date"], row["amount"]) == (
        103, "HQ336336", dt.date(2004, 10, 19), Decimal("6066.78"),
    )
    assert row["_updated_us"] == micros(dt.datetime(2024, 4, 30, 23, 59, 59, tzinfo=UTC))
    assert (row["_run_id"], row["ingest_date"], row["run_id"]) == ("jr_1", MAY_1, "jr_1")
    assert result.added_columns == ()


def test_conform_selects_the_declared_columns_in_declared_order_then_metadata_then_partitions(spark):
    declaration = load_source_declaration("offices")
    declared = [c["name"] for c in declaration["columns"]]
    shuffled = spark.createDataFrame([], ", ".join(f"`{n}` string" for n in reversed(declared[:-1])) + ", updated_at timestamp")

    result = extract.conform(shuffled, declaration, MAY_1, "jr_1", EXTRACTED_AT)

    assert result.df.columns == declared + ["_run_id", "_extracted_at", "ingest_date"]
    assert result.df.columns == extract.raw_columns(declaration)
    assert [(f.name, f.dataType) for f in result.df.schema.fields[-3:]] == [
        ("_run_id", StringType()),
        ("_extracted_at", TimestampType()),
        ("ingest_date", DateType()),
    ]


def test_an_incremental_table_also_gets_the_run_id_partition_column_last(spark):
    declaration = load_source_declaration("orders")

    result = extract.conform(source_df(spark, "orders"), declaration, MAY_1, "jr_7", EXTRACTED_AT)

    assert result.df.columns[-4:] == ["_run_id", "_extracted_at", "ingest_date", "run_id"]
    assert result.df.columns == extract.raw_columns(declaration)


def test_source_columns_match_declared_ones_whatever_their_case(spark):
    source = spark.createDataFrame([], "CUSTOMER_NUMBER int, Check_Number string, payment_date date, "
                                       "amount decimal(10,2), UPDATED_AT timestamp")

    result = extract.conform(source, load_source_declaration("payments"), MAY_1, "jr_1", EXTRACTED_AT)

    assert result.df.columns[:5] == ["customer_number", "check_number", "payment_date", "amount", "updated_at"]
    assert result.added_columns == ()


@pytest.fixture
def los_angeles_session(spark):
    spark.conf.set("spark.sql.session.timeZone", "America/Los_Angeles")
    try:
        yield spark
    finally:
        spark.conf.set("spark.sql.session.timeZone", "UTC")


def test_extracted_at_and_zone_less_datetimes_are_utc_instants_whatever_the_session_time_zone(los_angeles_session):
    spark = los_angeles_session
    # 02:30 on 2024-03-10 does not exist in Los Angeles (DST gap): a local reading would shift it.
    source = source_df(
        spark,
        "payments",
        [(103, "HQ1", dt.date(2024, 3, 10), Decimal("1.00"), dt.datetime(2024, 3, 10, 2, 30, 0, 123456))],
        types={"updated_at": "timestamp_ntz"},
    )
    extracted_at = dt.datetime(2024, 5, 1, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    before = dt.datetime.now(UTC)

    explicit = extract.conform(source, load_source_declaration("payments"), MAY_1, "jr_1", extracted_at).df
    default = extract.conform(source, load_source_declaration("payments"), MAY_1, "jr_1").df
    row = explicit.select(
        F.unix_micros("_extracted_at").alias("extracted"), F.unix_micros("updated_at").alias("updated"), "ingest_date"
    ).first()
    assert row is not None
    default_extracted = default.select(F.unix_micros("_extracted_at")).take(1)[0][0]
    after = dt.datetime.now(UTC)

    assert row["extracted"] == micros(dt.datetime(2024, 4, 30, 22, 30, tzinfo=UTC))
    assert row["updated"] == micros(dt.datetime(2024, 3, 10, 2, 30, 0, 123456, tzinfo=UTC))
    assert row["ingest_date"] == MAY_1
    assert micros(before) <= default_extracted <= micros(after)


@pytest.mark.parametrize(
    "ingest_date, run_id, extracted_at, message",
    [
        (dt.datetime(2024, 5, 1, tzinfo=UTC), "jr_1", None, "ingest_date must be a datetime.date"),
        ("2024-05-01", "jr_1", None, "ingest_date must be a datetime.date"),
        (MAY_1, "", None, "run_id must be the Glue JOB_RUN_ID"),
        (MAY_1, "jr/1", None, "run_id must be the Glue JOB_RUN_ID"),
        (MAY_1, "jr_1", dt.datetime(2024, 5, 1, 12, 0), "extracted_at must be a time-zone-aware datetime"),
    ],
)
def test_conform_refuses_bad_run_arguments(spark, ingest_date, run_id, extracted_at, message):
    with pytest.raises(ValueError, match=message):
        extract.conform(source_df(spark, "offices"), load_source_declaration("offices"), ingest_date, run_id, extracted_at)


# --- schema drift ---------------------------------------------------------------------


def test_a_declared_column_missing_in_the_source_is_schema_drift_naming_table_and_column(spark):
    source = source_df(spark, "customers", drop=("credit_limit",))

    with pytest.raises(SchemaDriftError) as error:
        extract.conform(source, load_source_declaration("customers"), MAY_1, "jr_1", EXTRACTED_AT)

    assert "source table 'customers'" in str(error.value)
    assert "declared column 'credit_limit' (decimal(10,2)) is missing in source" in str(error.value)
    assert error.value.table == "customers"
    assert [(p.column, p.kind) for p in error.value.problems] == [("credit_limit", "missing")]


def test_a_source_type_that_cannot_be_cast_safely_is_schema_drift_naming_declared_and_found_types(spark):
    source = source_df(spark, "orders", types={"customer_number": "string", "order_date": "timestamp"})

    with pytest.raises(SchemaDriftError) as error:
        extract.conform(source, load_source_declaration("orders"), MAY_1, "jr_1", EXTRACTED_AT)

    message = str(error.value)
    assert "source table 'orders'" in message
    assert "column 'order_date' is declared date but found timestamp in source" in message
    assert "column 'customer_number' is declared int but found string in source" in message
    assert [(p.column, p.declared, p.found) for p in error.value.problems] == [
        ("order_date", "date", "timestamp"),
        ("customer_number", "int", "string"),
    ]


def test_a_bigint_where_an_int_is_declared_is_drift_too(spark):
    with pytest.raises(SchemaDriftError, match="column 'quantity_in_stock' is declared int but found bigint"):
        extract.conform(
            source_df(spark, "products", types={"quantity_in_stock": "bigint"}),
            load_source_declaration("products"),
            MAY_1,
            "jr_1",
            EXTRACTED_AT,
        )


def test_an_added_source_column_is_reported_and_not_carried_into_raw(spark):
    source = source_df(spark, "employees", extra=[("mobile_phone", "string"), ("ingest_date", "string")])

    result = extract.conform(source, load_source_declaration("employees"), MAY_1, "jr_1", EXTRACTED_AT)

    assert result.added_columns == ("mobile_phone", "ingest_date")
    assert "mobile_phone" not in result.df.columns
    assert result.df.columns == extract.raw_columns(load_source_declaration("employees"))
    assert dict(result.df.dtypes)["ingest_date"] == "date"  # the run's partition, not the source column
