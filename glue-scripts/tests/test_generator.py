"""The test-data generator: determinism, sizes, the raw layout, integrity, bad rows, drift, increments."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from local import generator
from undercurrent_glue.clickstream import transform_clickstream
from undercurrent_glue.extract import METADATA_COLUMNS, partition_columns, plan_for, raw_columns
from undercurrent_glue.schema import SOURCE_TABLES, load_declaration, load_source_declaration, spark_type

AS_OF = dt.date(2025, 6, 30)
SCALE = 0.05
UTC = dt.UTC
SHIPPED = ("Shipped", "Resolved", "Disputed")


class Generated:
    """A generated raw root and its manifest."""

    def __init__(self, root: Path, manifest: generator.Manifest):
        self.root = root
        self.manifest = manifest

    def table(self, spark, name):
        return spark.read.parquet(str(self.root / "source" / name))

    def lines(self, spark):
        return spark.read.text(str(self.root / "clickstream"))


@pytest.fixture(scope="module")
def clean(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("clean")
    return Generated(root, generator.generate(spark, str(root), scale=SCALE, seed=7, as_of=AS_OF))


@pytest.fixture(scope="module")
def dirty(spark, tmp_path_factory):
    """``clean``'s arguments plus bad rows, generated with other shuffle partitions and
    session time zone; then one increment."""
    root = tmp_path_factory.mktemp("dirty")
    before = {k: spark.conf.get(k) for k in ("spark.sql.shuffle.partitions", "spark.sql.session.timeZone")}
    spark.conf.set("spark.sql.shuffle.partitions", "7")
    spark.conf.set("spark.sql.session.timeZone", "America/Los_Angeles")
    try:
        manifest = generator.generate(spark, str(root), scale=SCALE, seed=7, as_of=AS_OF, bad_rows=True)
    finally:
        for key, value in before.items():
            spark.conf.set(key, value)
    increment = generator.generate_increment(spark, str(root), scale=SCALE, seed=7, as_of=AS_OF, run_id="inc-1")
    return Generated(root, manifest), increment


@pytest.fixture(scope="module")
def drifted(spark, tmp_path_factory):
    """Another seed, twice the scale, every drift kind."""
    root = tmp_path_factory.mktemp("drifted")
    manifest = generator.generate(
        spark, str(root), scale=2 * SCALE, seed=8, as_of=AS_OF, drift=["rename", "retype", "add"]
    )
    return Generated(root, manifest)


def data_rows(df):
    """Sorted rows of the data columns (without the metadata and partition columns)."""
    columns = [c for c in df.columns if c not in (*METADATA_COLUMNS, "ingest_date", "run_id")]
    return sorted(df.select(*columns).collect(), key=repr)


def anti_join_count(child, column, parent, key):
    keys = parent.select(F.col(key).alias(column)).distinct()
    return child.filter(F.col(column).isNotNull()).join(keys, column, "left_anti").count()


# --- determinism and sizes -------------------------------------------------------------


def test_the_same_seed_and_scale_give_identical_rows_whatever_the_partitioning_and_time_zone(spark, clean, dirty):
    # `dirty` has the arguments of `clean` plus bad rows, and ran with other shuffle partitions
    # and another session time zone: tables without bad rows are identical, the others are
    # the same rows plus exactly the injected ones.
    bad, _ = dirty
    for table in ("products", "employees", "offices", "product_lines"):  # snapshots: no bad rows
        assert data_rows(bad.table(spark, table)) == data_rows(clean.table(spark, table)), table
    for table in SOURCE_TABLES:
        base = bad.table(spark, table)
        if plan_for(load_source_declaration(table)).incremental:
            base = base.filter(F.col("run_id") == "gen-20250630-s7")
        expected = clean.manifest.rows[table] + bad.manifest.bad_row_count(table)
        assert base.count() == bad.manifest.rows[table] == expected, table
        assert clean.table(spark, table).exceptAll(base).count() == 0, table
    clean_lines = {r.value for r in clean.lines(spark).collect()}
    bad_lines = [r.value for r in bad.lines(spark).collect()]
    assert clean_lines <= set(bad_lines)
    assert len(bad_lines) - len(clean_lines) == bad.manifest.bad_row_count("clickstream_events")


def test_another_seed_gives_other_customers_and_orders(spark, clean, drifted):
    def by_number(g, table, key, columns):
        return {r[key]: tuple(r[c] for c in columns) for r in g.table(spark, table).collect()}

    for table, key, columns in (
        ("customers", "customer_number", ("customer_name", "contact_last_name", "credit_limit")),
        ("orders", "order_number", ("order_date", "customer_number", "status")),
    ):
        first = by_number(clean, table, key, columns)
        second = by_number(drifted, table, key, columns)
        common = set(first) & set(second)
        assert len(common) == len(first)  # the smaller scale's keys are a prefix of the larger's
        assert sum(first[k] == second[k] for k in common) < len(common) / 4, table


def test_row_counts_grow_linearly_with_the_scale_and_reference_tables_stay_small(clean, drifted):
    small, large = clean.manifest.rows, drifted.manifest.rows
    for dataset in ("customers", "orders", "order_lines", "payments", "clickstream_events"):
        assert 1.8 <= large[dataset] / small[dataset] <= 2.2, dataset
    assert large["offices"] == small["offices"] == 7
    assert large["product_lines"] == small["product_lines"] == 7
    assert small["products"] < large["products"] < 2 * small["products"]
    sizes = generator.table_sizes(1)
    assert (sizes["customers"], sizes["orders"], sizes["payments"], sizes["products"], sizes["employees"]) == (
        1000, 20000, 15000, 500, 50
    )
    assert sizes["clickstream_events"] == 100_000 and sizes["order_lines"] == 100_000


def test_tiny_scales_still_give_at_least_one_row_of_everything():
    sizes = generator.table_sizes(1e-9)
    assert min(sizes.values()) >= 1
    assert sizes["products"] == 20 and sizes["employees"] == 10


def test_the_manifest_counts_what_was_written(spark, clean):
    manifest = clean.manifest
    assert set(manifest.rows) == {*SOURCE_TABLES, "clickstream_events"}
    for table in SOURCE_TABLES:
        assert clean.table(spark, table).count() == manifest.rows[table], table
    assert clean.lines(spark).count() == manifest.rows["clickstream_events"]
    assert (manifest.as_of, manifest.seed, manifest.scale, manifest.run_id) == (AS_OF, 7, SCALE, "gen-20250630-s7")
    assert manifest.bad_rows == {} and manifest.drift == ()
    assert manifest.extracted_at == dt.datetime(2025, 6, 30, 1, tzinfo=UTC)


# --- raw layout --------------------------------------------------------------------------


@pytest.mark.parametrize("table", SOURCE_TABLES)
def test_every_raw_table_has_the_declared_columns_and_types_then_metadata_then_partitions(spark, clean, table):
    declaration = load_source_declaration(table)
    plan = plan_for(declaration)
    df = clean.table(spark, table)
    expected = [(c["name"], spark_type(c["type"], c["name"])) for c in declaration["columns"]]
    expected += [("_run_id", spark_type("string")), ("_extracted_at", spark_type("timestamp"))]
    expected += [("ingest_date", spark_type("date"))] + ([("run_id", spark_type("string"))] if plan.incremental else [])
    assert [(f.name, f.dataType) for f in df.schema.fields] == expected
    assert df.columns == raw_columns(declaration)

    table_dir = clean.root / "source" / table
    dirs = sorted({p.parent.relative_to(table_dir).as_posix() for p in table_dir.rglob("*.parquet")})
    wanted = "ingest_date=2025-06-30" + ("/run_id=gen-20250630-s7" if plan.incremental else "")
    assert dirs == [wanted]
    assert partition_columns(plan) == (("ingest_date", "run_id") if plan.incremental else ("ingest_date",))
    meta = df.select("_run_id", "_extracted_at").distinct().collect()
    assert [tuple(r) for r in meta] == [("gen-20250630-s7", dt.datetime(2025, 6, 30, 1))]


def test_click_files_are_gzip_json_lines_under_event_date_and_ingest_date(clean):
    files = sorted((clean.root / "clickstream").rglob("*.gz"))
    assert files
    for path in files:
        relative = path.relative_to(clean.root / "clickstream").as_posix()
        match = re.fullmatch(r"event_date=(\d{4}-\d{2}-\d{2})/ingest_date=(\d{4}-\d{2}-\d{2})/part-[^/]+\.gz", relative)
        assert match and match.group(1) == match.group(2), relative
    dates = {p.parent.parent.name for p in files}
    assert "event_date=2025-06-16" in dates and "event_date=2025-06-29" in dates
    assert all(d <= "event_date=2025-06-30" for d in dates)


# --- values and integrity -----------------------------------------------------------------


def test_keys_are_unique_non_nullable_columns_are_set_and_every_foreign_key_resolves(spark, clean):
    tables = {t: clean.table(spark, t).cache() for t in SOURCE_TABLES}
    for table, df in tables.items():
        declaration = load_source_declaration(table)
        required = [c["name"] for c in declaration["columns"] if not c["nullable"]]
        stats = df.agg(
            F.count(F.lit(1)).alias("rows"),
            F.count_distinct(F.struct(*declaration["primary_key"])).alias("keys"),
            *[F.count(F.when(F.col(c).isNull(), 1)).alias(c) for c in required],
        ).first().asDict()
        assert stats.pop("rows") == stats.pop("keys"), table
        assert set(stats.values()) == {0}, (table, stats)
    references = [
        ("order_lines", "order_number", "orders", "order_number"),
        ("order_lines", "product_code", "products", "product_code"),
        ("orders", "customer_number", "customers", "customer_number"),
        ("payments", "customer_number", "customers", "customer_number"),
        ("customers", "sales_rep_employee_number", "employees", "employee_number"),
        ("employees", "office_code", "offices", "office_code"),
        ("employees", "reports_to", "employees", "employee_number"),
        ("products", "product_line", "product_lines", "product_line"),
    ]
    for child, column, parent, key in references:
        assert anti_join_count(tables[child], column, tables[parent], key) == 0, (child, column)
    reps = tables["employees"].filter(F.col("job_title") == "Sales Rep").select(
        F.col("employee_number").alias("sales_rep_employee_number")
    )
    assert anti_join_count(tables["customers"], "sales_rep_employee_number", reps, "sales_rep_employee_number") == 0
    assert tables["orders"].select("order_number").subtract(tables["order_lines"].select("order_number")).count() == 0
    for df in tables.values():
        df.unpersist()


def test_values_look_like_classic_models(spark, clean):
    orders = clean.table(spark, "orders")
    statuses = {r.status for r in orders.select("status").distinct().collect()}
    assert statuses == {"Shipped", "Resolved", "Cancelled", "On Hold", "Disputed", "In Process"}
    assert orders.filter(F.col("shipped_date").isNull() != ~F.col("status").isin(*SHIPPED)).count() == 0
    assert orders.filter(F.col("shipped_date") < F.col("order_date")).count() == 0
    assert orders.filter(F.col("required_date") <= F.col("order_date")).count() == 0
    span = orders.agg(F.min("order_date"), F.max("order_date")).first()
    assert AS_OF - dt.timedelta(days=731) <= span[0] <= AS_OF - dt.timedelta(days=720)
    assert AS_OF - dt.timedelta(days=10) <= span[1] < AS_OF

    lines = clean.table(spark, "order_lines").join(clean.table(spark, "products"), "product_code")
    ratio = lines.select((F.col("price_each") / F.col("msrp")).alias("r")).agg(F.min("r"), F.max("r")).first()
    assert 0.84 <= ratio[0] and ratio[1] <= 1.0
    assert clean.table(spark, "order_lines").filter(F.col("quantity_ordered") <= 0).count() == 0
    products = clean.table(spark, "products")
    assert products.filter(F.col("msrp") <= F.col("buy_price")).count() == 0
    assert products.select("product_line").distinct().count() == 7
    assert clean.table(spark, "customers").filter(F.col("credit_limit") < 0).count() == 0

    for table in SOURCE_TABLES:
        latest = clean.table(spark, table).agg(F.max("updated_at")).first()[0]
        assert latest < dt.datetime(2025, 6, 30, 1), table


def test_click_events_parse_with_no_quarantine_and_follow_the_producers_shape(spark, clean):
    lines = clean.lines(spark).cache()
    result = transform_clickstream(lines.select("value", "ingest_date"), "test-run")
    assert result.counts.rows_in == clean.manifest.rows["clickstream_events"]
    assert result.counts.rows_quarantined == 0 and result.counts.duplicates_removed == 0

    declaration = load_declaration("clickstream_event")
    first = json.loads(lines.first().value)
    assert list(first) == [c["name"] for c in declaration["columns"]]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", first["event_time"])
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", first["event_id"])

    events = result.curated.cache()
    types = {r.event_type for r in events.select("event_type").distinct().collect()}
    assert types == set(declaration["allowed_values"]["event_type"])
    customers = clean.table(spark, "customers")
    products = clean.table(spark, "products")
    assert anti_join_count(events, "customer_number", customers, "customer_number") == 0
    assert anti_join_count(events, "product_code", products, "product_code") == 0
    assert events.filter(F.col("customer_number").isNull()).count() > 0
    assert events.filter(F.col("event_date") != F.col("ingest_date")).count() == 0

    sessions = events.groupBy("session_id").agg(
        F.count(F.lit(1)).alias("n"),
        F.sort_array(F.collect_list(F.unix_seconds("event_time"))).alias("times"),
    )
    assert sessions.filter(F.col("n") >= 3).count() > sessions.count() / 3
    steps = F.transform(F.slice("times", 2, 1000), lambda t, i: t - F.element_at("times", i + 1))
    gaps = sessions.select(F.array_max(steps).alias("longest_gap"))
    split = gaps.filter(F.col("longest_gap") > 30 * 60).count()
    assert 0.03 * sessions.count() < split < 0.15 * sessions.count()
    assert gaps.filter((F.col("longest_gap") > 60) & (F.col("longest_gap") <= 30 * 60)).count() == 0
    assert events.filter(F.col("event_type") == "purchase").select("session_id").distinct().count() > 10
    events.unpersist()
    lines.unpersist()


# --- bad rows ------------------------------------------------------------------------------


def test_the_manifest_lists_every_injected_bad_row_kind(dirty):
    manifest, _ = dirty
    assert manifest.manifest.bad_rows == {d: dict(k) for d, k in generator.BAD_ROW_KINDS.items()}
    for table, kinds in generator.BAD_ROW_KINDS.items():
        assert manifest.manifest.bad_row_count(table) == sum(kinds.values())


def test_each_source_bad_row_kind_is_in_the_data_in_the_manifests_count(spark, dirty):
    bad, _ = dirty
    kinds = bad.manifest.bad_rows
    base = "run_id = 'gen-20250630-s7'"
    customers = bad.table(spark, "customers").filter(base).drop("run_id", "_run_id")
    orders = bad.table(spark, "orders").filter(base).drop("run_id", "_run_id")
    lines = bad.table(spark, "order_lines").filter(base).drop("run_id", "_run_id")
    products = bad.table(spark, "products")

    assert customers.filter(F.col("customer_number").isNull()).count() == kinds["customers"]["not_null:customer_number"]
    keyed = customers.filter(F.col("customer_number").isNotNull())
    versions = keyed.groupBy("customer_number").agg(F.count(F.lit(1)).alias("n"), F.min("updated_at").alias("old"))
    assert versions.filter("n > 1").agg(F.sum(F.col("n") - 1)).first()[0] == kinds["customers"]["older_version"]
    older = keyed.join(versions.filter("n > 1"), "customer_number").filter(F.col("updated_at") == F.col("old"))
    newer = keyed.join(versions.filter("n > 1"), "customer_number").filter(F.col("updated_at") > F.col("old"))
    assert older.count() == newer.count() == kinds["customers"]["older_version"]
    assert older.join(newer.select("customer_number", F.col("phone").alias("new_phone")), "customer_number") \
        .filter(F.col("phone") == F.col("new_phone")).count() == 0

    assert orders.filter(F.col("order_number").isNull()).count() == kinds["orders"]["not_null:order_number"]
    assert orders.count() - orders.distinct().count() == kinds["orders"]["duplicate"]
    assert anti_join_count(orders, "customer_number", customers, "customer_number") == \
        kinds["orders"]["references:customer_number"]

    assert lines.filter(F.col("quantity_ordered") < 0).count() == kinds["order_lines"]["range:quantity_ordered"]
    assert lines.count() - lines.distinct().count() == kinds["order_lines"]["duplicate"]
    assert anti_join_count(lines, "product_code", products, "product_code") == \
        kinds["order_lines"]["references:product_code"]
    # Apart from exact duplicates, the primary key stays unique (a bad row breaks one rule only).
    distinct_lines = lines.distinct()
    assert distinct_lines.select("order_number", "product_code").distinct().count() == distinct_lines.count()


def test_the_bad_click_lines_are_quarantined_under_their_rules_and_the_copies_removed(spark, dirty):
    bad, _ = dirty
    result = transform_clickstream(bad.lines(spark).select("value", "ingest_date"), "test-run")
    by_rule = {r.rule: r["count"] for r in result.quarantine.groupBy("rule").count().collect()}
    kinds = dict(bad.manifest.bad_rows["clickstream_events"])
    assert result.counts.duplicates_removed == kinds.pop("duplicate") == 3
    assert by_rule == kinds
    assert result.counts.rows_in == bad.manifest.rows["clickstream_events"]


# --- drift -----------------------------------------------------------------------------------


def test_each_drift_kind_writes_the_documented_raw_schema(spark, drifted):
    def fields(table):
        return [(f.name, f.dataType.simpleString()) for f in drifted.table(spark, table).schema.fields]

    def declared(table):
        return [(c["name"], spark_type(c["type"], c["name"]).simpleString())
                for c in load_source_declaration(table)["columns"]]

    customers = declared("customers")
    customers[[n for n, _ in customers].index("phone")] = ("phone_number", "string")
    assert fields("customers")[: len(customers)] == customers

    lines = [(n, "double" if n == "quantity_ordered" else t) for n, t in declared("order_lines")]
    assert fields("order_lines")[: len(lines)] == lines

    products = declared("products") + [("weight_kg", "double"), ("_run_id", "string")]
    assert fields("products")[: len(products)] == products
    weights = drifted.table(spark, "products").agg(F.min("weight_kg"), F.count("weight_kg")).first()
    assert weights[0] > 0 and weights[1] == drifted.manifest.rows["products"]

    for table in ("employees", "offices", "orders", "payments", "product_lines"):
        assert fields(table)[: len(declared(table))] == declared(table), table
    assert drifted.manifest.drift == ("add", "rename", "retype")


# --- increments -------------------------------------------------------------------------------


def test_an_increment_changes_some_customers_with_a_later_updated_at_and_adds_orders(spark, dirty):
    base, increment = dirty
    assert increment.run_id == "inc-1" and increment.extracted_at == dt.datetime(2025, 6, 30, 3, tzinfo=UTC)
    assert set(increment.rows) == {"customers", "order_lines", "orders", "payments"}

    def part(table, run_id):
        return base.table(spark, table).filter(F.col("run_id") == run_id)

    changed = part("customers", "inc-1")
    assert changed.count() == increment.rows["customers"] >= 1
    before = part("customers", "gen-20250630-s7").filter(F.col("customer_number").isNotNull()) \
        .groupBy("customer_number").agg(F.max("updated_at").alias("before"), F.first("phone").alias("old_phone"))
    joined = changed.join(before, "customer_number")
    assert joined.count() == changed.count()  # existing customers only
    assert joined.filter(F.col("updated_at") <= F.col("before")).count() == 0
    assert joined.filter(F.col("phone") != F.col("old_phone")).count() > 0
    window = changed.agg(F.min("updated_at"), F.max("updated_at"), F.min("_extracted_at")).first()
    assert dt.datetime(2025, 6, 30, 1) < window[0] and window[1] < window[2] == dt.datetime(2025, 6, 30, 3)

    new_orders = part("orders", "inc-1")
    old_orders = part("orders", "gen-20250630-s7")
    assert new_orders.count() == increment.rows["orders"] >= 1
    assert new_orders.join(old_orders, "order_number").count() == 0
    assert {r.order_date for r in new_orders.select("order_date").distinct().collect()} == {AS_OF}
    new_lines = part("order_lines", "inc-1")
    assert new_lines.count() == increment.rows["order_lines"]
    assert anti_join_count(new_lines, "order_number", new_orders, "order_number") == 0
    payments = base.table(spark, "payments").filter(F.col("customer_number").isNotNull())
    assert payments.select("customer_number", "check_number").distinct().count() == payments.count()
    assert increment.rows["payments"] == part("payments", "inc-1").count() >= 1


# --- arguments ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"scale": 0}, "scale must be a number greater than 0"),
        ({"scale": -1.5}, "scale must be a number greater than 0"),
        ({"scale": math.nan}, "scale must be a number greater than 0"),
        ({"scale": "1"}, "scale must be a number greater than 0"),
        ({"scale": True}, "scale must be a number greater than 0"),
        ({"seed": -1}, "seed must be an integer from 0 to 4294967295"),
        ({"seed": 1.5}, "seed must be an integer from 0 to 4294967295"),
        ({"seed": 2**32}, "seed must be an integer from 0 to 4294967295"),
        ({"as_of": "2025-06-30"}, "as_of must be a datetime.date"),
        ({"as_of": dt.datetime(2025, 6, 30)}, "as_of must be a datetime.date"),
        ({"drift": "rename"}, "drift must be a list of drift kinds"),
        ({"drift": ["rename", "shrink"]}, "drift has unknown kind(s) ['shrink']"),
        ({"bad_rows": "yes"}, "bad_rows must be True or False"),
        ({"run_id": "no/slashes"}, "run_id must be"),
    ],
)
def test_bad_arguments_raise_value_error_and_write_nothing(spark, tmp_path, kwargs, message):
    with pytest.raises(ValueError) as error:
        generator.generate(spark, str(tmp_path / "raw"), **{"scale": SCALE, **kwargs})
    assert message in str(error.value)
    assert not (tmp_path / "raw").exists()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"increment": 0}, "increment must be an integer from 1 to 11"),
        ({"increment": 12}, "increment must be an integer from 1 to 11"),
        ({"scale": 0}, "scale must be a number greater than 0"),
        ({"raw_root": ""}, "raw_root must be the raw zone's root path"),
    ],
)
def test_bad_increment_arguments_raise_value_error(spark, tmp_path, kwargs, message):
    arguments = {"raw_root": str(tmp_path / "raw"), "scale": SCALE, **kwargs}
    with pytest.raises(ValueError) as error:
        generator.generate_increment(spark, **arguments)
    assert message in str(error.value)
    assert not (tmp_path / "raw").exists()
