"""Curated -> gold: the sales star schema and the clickstream aggregates, as DataFrames.

Inputs are the curated zone: each source table's current state (one row per primary key,
the declared columns, :func:`read_curated_table`) and the curated click events
(``schemas/clickstream_event.json`` plus ``event_date``/``ingest_date``). Outputs have
exactly the columns of ``schemas/gold/<table>.json`` (columns then partition keys, in
declared types, :func:`to_gold`):

* ``dim_product``: products left-joined to product_lines (``product_line_description`` is
  the line's ``text_description``); type 1, the latest snapshot.
* ``dim_employee``: employees left-joined to offices (``office_*``); type 1.
* ``dim_customer``: a type 2 slowly changing dimension, see :func:`customer_changes`.
* ``fact_order_line``: order_lines x orders (inner join: a line without its order has no
  date and is left out), see :func:`build_fact_order_line`.
* ``clickstream_sessions`` and ``daily_product_views``: see :func:`build_clickstream_sessions`
  and :func:`build_daily_product_views`; both deduplicate the events on ``event_id`` first
  (:func:`deduplicate_events`), since the curated zone may hold an event once per ingest
  date it arrived on.
* ``dim_date``: whole calendar years covering every date the other outputs use
  (:func:`build_dim_date`).

Surrogate keys are deterministic, so a rebuild gives the same keys: ``xxhash64`` of the
natural key (``product_code``, ``employee_number``), and of ``customer_number`` and
``valid_from`` for a customer version. Date keys are ``yyyymmdd`` integers.

Nothing here depends on the session time zone except the casts of a ``date`` to the
instant it starts, which the job runs in UTC (as Glue does).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession, Window, functions as F

from undercurrent_glue.schema import load_gold_declaration, load_source_declaration, spark_type, to_struct_type

#: Default inactivity that ends a click session.
DEFAULT_SESSION_GAP_MINUTES = 30
#: Event types counted by the clickstream outputs.
PAGE_VIEW, PRODUCT_VIEW, ADD_TO_CART, PURCHASE = "page_view", "product_view", "add_to_cart", "purchase"
#: dim_customer's natural key and the source column that dates a version.
CUSTOMER_KEY_COLUMN = "customer_number"
CUSTOMER_VERSION_TIME = "updated_at"
#: Column of :func:`customer_changes` that drives the MERGE: the customer_number of the
#: current version to close, or null for a version to insert.
MERGE_KEY = "merge_key"
#: The write order of each gold table within a write task (``ensure_table(sort_by=...)``):
#: the natural key, after the partition column for the partitioned tables.
SORT_BY: dict[str, list[str]] = {
    "dim_customer": ["customer_number", "valid_from"],
    "dim_product": ["product_code"],
    "dim_employee": ["employee_number"],
    "dim_date": ["date_key"],
    "fact_order_line": ["order_date", "order_number", "order_line_number"],
    "clickstream_sessions": ["session_date", "session_id"],
    "daily_product_views": ["event_date", "product_code"],
}


def gold_columns(table: str) -> list[str]:
    """The gold table's column names: declared columns then partition keys."""
    declaration = load_gold_declaration(table)
    return [c["name"] for c in declaration["columns"] + declaration.get("partition_keys", [])]


def to_gold(table: str, df: DataFrame) -> DataFrame:
    """Select the gold table's columns from ``df``, in order, cast to their declared types.

    Raises:
        ValueError: ``df`` lacks a declared column (names the table and the column).
    """
    struct = to_struct_type(load_gold_declaration(table), include_partition_keys=True)
    missing = [f.name for f in struct.fields if f.name not in df.columns]
    if missing:
        raise ValueError(f"Gold table '{table}': the output has no column {', '.join(missing)}.")
    return df.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in struct.fields])


def read_curated_table(spark: SparkSession, curated_path: str, table: str) -> DataFrame:
    """Read the curated table ``<curated_path><table>/`` with its declared columns, in declared types.

    Columns the drift guard carried (undeclared) and the metadata columns are dropped.

    Raises:
        ValueError: the curated data lacks a declared column (names the table and the column).
    """
    declaration = load_source_declaration(table)
    df = spark.read.parquet(curated_path.rstrip("/") + f"/{table}/")
    missing = [c["name"] for c in declaration["columns"] if c["name"] not in df.columns]
    if missing:
        raise ValueError(f"Curated table '{table}' has no column {', '.join(missing)}; its declaration needs it.")
    return df.select(*[F.col(c["name"]).cast(spark_type(c["type"], c["name"])).alias(c["name"]) for c in declaration["columns"]])


def date_key(column: Column) -> Column:
    """A date as an ``int`` ``yyyymmdd`` (null stays null)."""
    return (F.year(column) * 10000 + F.month(column) * 100 + F.dayofmonth(column)).cast("int")


def surrogate_key(*columns: Column) -> Column:
    """A deterministic ``bigint`` key: ``xxhash64`` of the natural key columns."""
    return F.xxhash64(*columns)


# --------------------------------------------------------------------------------------
# Type 1 dimensions
# --------------------------------------------------------------------------------------


def build_dim_product(products: DataFrame, product_lines: DataFrame) -> DataFrame:
    """dim_product: one row per product, with its line's text description (null when the line is unknown)."""
    lines = product_lines.select(
        F.col("product_line").alias("_line"), F.col("text_description").alias("product_line_description")
    )
    joined = products.join(lines, products["product_line"] == lines["_line"], "left")
    return to_gold("dim_product", joined.withColumn("product_key", surrogate_key(F.col("product_code"))))


def build_dim_employee(employees: DataFrame, offices: DataFrame) -> DataFrame:
    """dim_employee: one row per employee with the office's city, state, country and territory.

    Left join: an employee whose office is unknown keeps its row with null office columns,
    which the gold not-null rules report instead of the row silently disappearing.
    """
    office = offices.select(
        F.col("office_code").alias("_office"),
        F.col("city").alias("office_city"),
        F.col("state").alias("office_state"),
        F.col("country").alias("office_country"),
        F.col("territory").alias("office_territory"),
    )
    joined = employees.join(office, employees["office_code"] == office["_office"], "left")
    return to_gold("dim_employee", joined.withColumn("employee_key", surrogate_key(F.col("employee_number"))))


# --------------------------------------------------------------------------------------
# dim_customer: type 2
# --------------------------------------------------------------------------------------


def customer_tracked_columns() -> list[str]:
    """The attributes whose change makes a new customer version: every dim_customer column
    taken from the source except the natural key (all non-key columns)."""
    source = [c["name"] for c in load_source_declaration("customers")["columns"]]
    return [c for c in gold_columns("dim_customer") if c in source and c != CUSTOMER_KEY_COLUMN]


def customer_changes(customers: DataFrame, dim_customer: DataFrame) -> DataFrame:
    """The rows to MERGE into dim_customer so that it reflects the current curated customers.

    Compares each curated customer with its current version (``is_current``) on
    :func:`customer_tracked_columns` (null-safe):

    * no current version (a new customer) -> one row to insert, the first version:
      ``valid_from`` = the source ``updated_at``;
    * an attribute differs -> a row to close the current version (``merge_key`` =
      ``customer_number``, ``valid_from`` = the new version's start, which becomes the closed
      version's ``valid_to``) and a row to insert the new version (``valid_from`` = the
      source ``updated_at``; if that is not after the current version's start, which only a
      non-monotonic ``updated_at`` gives, 1 microsecond after it, so the chain stays ordered);
    * identical -> nothing, so a rerun with the same input changes nothing.

    A customer missing from the curated table (deleted upstream) is not touched: its history
    stays, its last version stays current (the curated zone carries no delete time).

    Args:
        customers: the curated customers (declared columns; one row per customer_number).
        dim_customer: the dim_customer table as it is (possibly empty).

    Returns:
        The dim_customer columns plus :data:`MERGE_KEY` (null for rows to insert).
    """
    tracked = customer_tracked_columns()
    current = dim_customer.filter(F.col("is_current")).select(
        F.col(CUSTOMER_KEY_COLUMN).alias("_cur_number"),
        F.col("valid_from").alias("_cur_valid_from"),
        *[F.col(c).alias(f"_cur_{c}") for c in tracked],
    )
    joined = customers.join(current, customers[CUSTOMER_KEY_COLUMN] == current["_cur_number"], "left")
    is_new = F.col("_cur_number").isNull()
    same = F.lit(True)
    for column in tracked:
        same = same & F.col(column).eqNullSafe(F.col(f"_cur_{column}"))
    starts = F.when(
        is_new | (F.col(CUSTOMER_VERSION_TIME) > F.col("_cur_valid_from")), F.col(CUSTOMER_VERSION_TIME)
    ).otherwise(F.col("_cur_valid_from") + F.expr("INTERVAL 1 MICROSECOND"))
    changed = joined.filter(is_new | ~same).withColumn("valid_from", starts)

    inserts = changed.select(
        F.lit(None).cast("int").alias(MERGE_KEY),
        *tracked,
        F.col(CUSTOMER_KEY_COLUMN),
        F.col("valid_from"),
        F.lit(None).cast("timestamp").alias("valid_to"),
        F.lit(True).alias("is_current"),
    ).withColumn("customer_key", surrogate_key(F.col(CUSTOMER_KEY_COLUMN), F.col("valid_from")))
    closes = changed.filter(~is_new).select(
        F.col(CUSTOMER_KEY_COLUMN).alias(MERGE_KEY),
        *[F.col(f"_cur_{c}").alias(c) for c in tracked],
        F.col(CUSTOMER_KEY_COLUMN),
        F.col("valid_from"),
        F.lit(None).cast("timestamp").alias("valid_to"),
        F.lit(False).alias("is_current"),
    ).withColumn("customer_key", F.lit(None).cast("bigint"))
    columns = [MERGE_KEY] + gold_columns("dim_customer")
    return inserts.select(*columns).unionByName(closes.select(*columns))


def apply_customer_changes(dim_customer: DataFrame, changes: DataFrame) -> DataFrame:
    """What dim_customer becomes after the MERGE of ``changes``: the current versions that
    ``changes`` closes get ``valid_to`` and ``is_current`` false, the new versions are added.

    The same result as :func:`merge_customer_changes` without writing (the data-quality
    check sees it before the MERGE).
    """
    closes = changes.filter(F.col(MERGE_KEY).isNotNull()).select(
        F.col(MERGE_KEY).alias("_close_number"), F.col("valid_from").alias("_close_at")
    )
    existing = dim_customer.join(
        closes, (dim_customer[CUSTOMER_KEY_COLUMN] == closes["_close_number"]) & dim_customer["is_current"], "left"
    )
    closed = F.col("_close_number").isNotNull()
    existing = existing.withColumn("valid_to", F.when(closed, F.col("_close_at")).otherwise(F.col("valid_to")))
    existing = existing.withColumn("is_current", F.when(closed, F.lit(False)).otherwise(F.col("is_current")))
    inserts = changes.filter(F.col(MERGE_KEY).isNull())
    return to_gold("dim_customer", existing).unionByName(to_gold("dim_customer", inserts))


def merge_customer_changes(spark: SparkSession, table: str, changes: DataFrame) -> None:
    """Apply ``changes`` (:func:`customer_changes`) to the Iceberg table ``table`` in one MERGE INTO.

    One atomic commit closes the changed current versions and inserts the new ones. The
    caller skips the call when ``changes`` is empty (no snapshot at all).
    """
    view = "_undercurrent_dim_customer_changes"
    changes.createOrReplaceTempView(view)
    columns = gold_columns("dim_customer")
    try:
        spark.sql(
            f"""
            MERGE INTO {table} AS t
            USING {view} AS s
            ON t.{CUSTOMER_KEY_COLUMN} = s.{MERGE_KEY} AND t.is_current
            WHEN MATCHED THEN UPDATE SET t.valid_to = s.valid_from, t.is_current = false
            WHEN NOT MATCHED AND s.{MERGE_KEY} IS NULL THEN
              INSERT ({', '.join(columns)}) VALUES ({', '.join('s.' + c for c in columns)})
            """
        )
    finally:
        spark.catalog.dropTempView(view)


# --------------------------------------------------------------------------------------
# fact_order_line
# --------------------------------------------------------------------------------------


def build_fact_order_line(
    orders: DataFrame,
    order_lines: DataFrame,
    dim_customer: DataFrame,
    dim_product: DataFrame,
    dim_employee: DataFrame,
) -> DataFrame:
    """fact_order_line: one row per order line (order_lines inner-joined with orders).

    * ``customer_key``: the version of the order's customer valid at the start (00:00 UTC)
      of ``order_date`` (``valid_from <= t < valid_to``, open-ended when ``valid_to`` is
      null); when none is (the order predates the first version seen), the customer's
      earliest version; null when the customer has no version at all (the gold not-null
      rule reports it).
    * ``employee_key``: of that version's ``sales_rep_employee_number`` (null without one,
      or when the employee is not in dim_employee).
    * ``product_key``: from dim_product by ``product_code`` (null when unknown).
    * ``amount``: ``quantity_ordered * price_each`` as ``decimal(12,2)``.
    * date keys: ``yyyymmdd``; ``order_date`` is the partition column.
    """
    order_rows = orders.select(
        "order_number", "order_date", "required_date", "shipped_date", "status", CUSTOMER_KEY_COLUMN
    )
    versions = dim_customer.select(
        F.col(CUSTOMER_KEY_COLUMN).alias("_v_number"),
        F.col("customer_key"),
        F.col("valid_from").alias("_v_from"),
        F.col("valid_to").alias("_v_to"),
        F.col("sales_rep_employee_number").alias("_v_rep"),
    )
    # The version is chosen once per order (an order has one customer and one date), not
    # once per order line: the window sorts the orders, not the five times more lines.
    with_versions = order_rows.join(versions, order_rows[CUSTOMER_KEY_COLUMN] == versions["_v_number"], "left")
    at = F.col("order_date").cast("timestamp")
    valid = F.coalesce((F.col("_v_from") <= at) & (F.col("_v_to").isNull() | (at < F.col("_v_to"))), F.lit(False))
    pick = Window.partitionBy("order_number").orderBy(
        valid.desc(), F.col("_v_from").asc_nulls_last(), F.col("customer_key").asc_nulls_last()
    )
    chosen_orders = with_versions.withColumn("_rank", F.row_number().over(pick)).filter(F.col("_rank") == 1)
    # A sort-merge join: on its size estimate of the projected Parquet, Spark would otherwise
    # broadcast the order lines (about a million at scale 10), the larger side, building a
    # hash table of every line on the driver.
    chosen = (
        order_lines.select("order_number", "product_code", "order_line_number", "quantity_ordered", "price_each")
        .hint("merge")
        .join(chosen_orders, "order_number")
    )
    products = dim_product.select(F.col("product_code").alias("_p_code"), "product_key")
    employees = dim_employee.select(F.col("employee_number").alias("_e_number"), "employee_key")
    fact = chosen.join(products, chosen["product_code"] == products["_p_code"], "left").join(
        employees, chosen["_v_rep"] == employees["_e_number"], "left"
    )
    fact = fact.select(
        "*",
        date_key(F.col("order_date")).alias("order_date_key"),
        date_key(F.col("required_date")).alias("required_date_key"),
        date_key(F.col("shipped_date")).alias("shipped_date_key"),
        (F.col("quantity_ordered").cast("decimal(10,0)") * F.col("price_each")).cast("decimal(12,2)").alias("amount"),
    )
    return to_gold("fact_order_line", fact)


# --------------------------------------------------------------------------------------
# Clickstream
# --------------------------------------------------------------------------------------


#: The click event columns the clickstream outputs use (:func:`deduplicate_events` keeps these).
EVENT_COLUMNS = (
    "event_id", "event_type", "event_time", "session_id", "customer_number", "product_code", "event_date", "ingest_date",
)


def _id_hash(event_id: Column) -> Column:
    """The 64-bit hash :func:`deduplicate_events` first groups the events by."""
    return F.xxhash64(event_id)


def deduplicate_events(events: DataFrame) -> DataFrame:
    """One row per ``event_id``: the copy from the earliest ``ingest_date``, then the earliest
    ``event_time``, then the smallest ``session_id``, then the smallest values of the other
    kept columns (the curated zone deduplicates only within a job window). The order is
    total on what is kept, so a rerun keeps the same copy.

    Returns only :data:`EVENT_COLUMNS`: the wide text columns (``page_url``, ``referrer``,
    ``user_agent``) are not read from the curated Parquet nor shuffled. Runs one Spark
    action: the 64-bit hashes of ``event_id`` held by several events (only the hash is
    shuffled). Usually there are none and the events are returned as they are; otherwise
    only those events are ranked, by ``event_id`` (distinct ids that share a hash keep one
    row each), and the hashes are kept in memory for the joins.
    """
    events = events.select(*EVENT_COLUMNS).withColumn("_hash", _id_hash(F.col("event_id")))
    shared = (
        events.groupBy("_hash").agg(F.count(F.lit(1)).alias("_copies")).filter(F.col("_copies") > 1).select("_hash")
    ).persist()
    if shared.isEmpty():
        shared.unpersist()
        return events.select(*EVENT_COLUMNS)
    ranked_first = ("ingest_date", "event_time", "session_id")
    first = Window.partitionBy("event_id").orderBy(
        F.col("ingest_date").asc_nulls_last(),
        F.col("event_time").asc(),
        F.col("session_id").asc(),
        *[F.col(c).asc() for c in EVENT_COLUMNS if c not in ("event_id", *ranked_first)],
    )
    first_copies = (
        events.join(shared, "_hash", "left_semi")
        .withColumn("_rank", F.row_number().over(first))
        .filter(F.col("_rank") == 1)
    )
    singles = events.join(shared, "_hash", "left_anti")
    return singles.select(*EVENT_COLUMNS).unionByName(first_copies.select(*EVENT_COLUMNS))


def _check_gap(gap_minutes: Any) -> int:
    if isinstance(gap_minutes, bool) or not isinstance(gap_minutes, int) or not 1 <= gap_minutes <= 24 * 60:
        raise ValueError(f"session_gap_minutes must be an integer from 1 to 1440; got {gap_minutes!r}.")
    return gap_minutes


def parse_session_gap_minutes(value: Any) -> int:
    """Parse the job argument ``session_gap_minutes`` (a string of an integer 1..1440).

    Raises:
        ValueError: not an integer 1..1440 (names the argument and the value).
    """
    try:
        return _check_gap(int(str(value).strip()))
    except ValueError:
        raise ValueError(f"session_gap_minutes must be an integer from 1 to 1440; got {value!r}.") from None


def _count(event_type: str) -> Column:
    return F.sum(F.when(F.col("event_type") == event_type, 1).otherwise(0))


def build_clickstream_sessions(events: DataFrame, gap_minutes: int = DEFAULT_SESSION_GAP_MINUTES) -> DataFrame:
    """clickstream_sessions: the events of each producer ``session_id`` split at inactivity.

    Within a producer session, ordered by ``event_time`` (then ``event_id``), an event more
    than ``gap_minutes`` after the previous one starts a new session; exactly
    ``gap_minutes`` does not. The n-th session (from 1) of producer session ``s`` is
    ``s-n``. ``customer_number``: of the first event that has one; ``purchased``: any
    ``purchase`` event; ``session_date``: the UTC date of ``session_start``.

    Args:
        events: curated click events, deduplicated (:func:`deduplicate_events`).
        gap_minutes: the inactivity that ends a session, 1..1440.

    Raises:
        ValueError: ``gap_minutes`` is not an integer 1..1440.
    """
    gap_micros = _check_gap(gap_minutes) * 60 * 1_000_000
    ordered = Window.partitionBy("session_id").orderBy("event_time", "event_id")
    previous = F.lag("event_time").over(ordered)
    starts = F.when(
        previous.isNull() | ((F.unix_micros(F.col("event_time")) - F.unix_micros(previous)) > gap_micros), 1
    ).otherwise(0)
    numbered = events.withColumn("_starts", starts).withColumn(
        "_n", F.sum("_starts").over(ordered.rowsBetween(Window.unboundedPreceding, Window.currentRow))
    )
    first_customer = F.min(
        F.when(
            F.col("customer_number").isNotNull(),
            F.struct(F.col("event_time").alias("t"), F.col("event_id").alias("i"), F.col("customer_number").alias("c")),
        )
    )
    sessions = numbered.groupBy("session_id", "_n").agg(
        first_customer.getField("c").alias("customer_number"),
        F.min("event_time").alias("session_start"),
        F.max("event_time").alias("session_end"),
        F.count(F.lit(1)).alias("events"),
        _count(PAGE_VIEW).alias("page_views"),
        _count(PRODUCT_VIEW).alias("product_views"),
        _count(ADD_TO_CART).alias("added_to_cart"),
        F.max(F.col("event_type") == PURCHASE).alias("purchased"),
    )
    sessions = sessions.withColumn("session_id", F.concat_ws("-", F.col("session_id"), F.col("_n").cast("string")))
    sessions = sessions.withColumn("session_date", F.to_date(F.col("session_start")))
    return to_gold("clickstream_sessions", sessions)


def build_daily_product_views(events: DataFrame) -> DataFrame:
    """daily_product_views: per ``event_date`` and ``product_code``, the product_view,
    add_to_cart and purchase events and ``purchases / views`` (null when no views).

    Only events with a ``product_code`` count; a (day, product) appears when it has at least
    one of the three event types.

    Args:
        events: curated click events, deduplicated (:func:`deduplicate_events`).
    """
    funnel = events.filter(
        F.col("product_code").isNotNull() & F.col("event_type").isin(PRODUCT_VIEW, ADD_TO_CART, PURCHASE)
    )
    daily = funnel.groupBy("event_date", "product_code").agg(
        _count(PRODUCT_VIEW).cast("bigint").alias("views"),
        _count(ADD_TO_CART).cast("bigint").alias("add_to_carts"),
        _count(PURCHASE).cast("bigint").alias("purchases"),
    )
    daily = daily.withColumn(
        "conversion_rate",
        F.when(F.col("views") > 0, F.col("purchases").cast("double") / F.col("views").cast("double")),
    )
    return to_gold("daily_product_views", daily)


# --------------------------------------------------------------------------------------
# dim_date
# --------------------------------------------------------------------------------------


def dates_used(fact_order_line: DataFrame, sessions: DataFrame, daily_product_views: DataFrame) -> DataFrame:
    """The earliest and the latest date of each date the fact and the clickstream outputs use,
    as one ``date`` column ``d`` (what :func:`build_dim_date` needs: the bounds).

    Each bound is the ``min`` or ``max`` of a plain column, which Iceberg answers from its
    file statistics without reading the data (a ``yyyymmdd`` key orders as its date does).
    """
    def key_date(column: Column) -> Column:
        return F.to_date(column.cast("string"), "yyyyMMdd")

    columns = [
        (fact_order_line, "order_date", lambda c: c),
        (fact_order_line, "required_date_key", key_date),
        (fact_order_line, "shipped_date_key", key_date),
        (sessions, "session_date", lambda c: c),
        (sessions, "session_end", F.to_date),
        (daily_product_views, "event_date", lambda c: c),
    ]
    parts = [
        df.agg(bound(column).alias("v")).select(as_date(F.col("v")).alias("d"))
        for df, column, as_date in columns
        for bound in (F.min, F.max)
    ]
    result = parts[0]
    for part in parts[1:]:
        result = result.unionByName(part)
    return result


def build_dim_date(spark: SparkSession, dates: DataFrame) -> DataFrame:
    """dim_date: one row per day of every calendar year from the year of the earliest to the
    year of the latest date in ``dates`` (column ``d``); empty when ``dates`` has none."""
    bounds = dates.agg(F.min("d").alias("lo"), F.max("d").alias("hi")).collect()[0]
    if bounds["lo"] is None:
        days = spark.createDataFrame([], "full_date date")
    else:
        first, last = dt.date(bounds["lo"].year, 1, 1), dt.date(bounds["hi"].year, 12, 31)
        days = spark.range(0, (last - first).days + 1, numPartitions=1).select(
            F.date_add(F.lit(first), F.col("id").cast("int")).alias("full_date")
        )
    day = F.col("full_date")
    iso_day = ((F.dayofweek(day) + 5) % 7) + 1
    calendar = days.select(
        date_key(day).alias("date_key"),
        day,
        F.year(day).alias("year"),
        F.quarter(day).alias("quarter"),
        F.month(day).alias("month"),
        F.date_format(day, "MMMM").alias("month_name"),
        F.dayofmonth(day).alias("day_of_month"),
        iso_day.alias("day_of_week"),
        F.date_format(day, "EEEE").alias("day_name"),
        (iso_day >= 6).alias("is_weekend"),
    )
    return to_gold("dim_date", calendar)
