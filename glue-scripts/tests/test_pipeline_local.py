"""End to end on the local Spark: generated raw data -> curated -> gold, as ``npm run pipeline:local`` runs it.

One small generated lake (scale 0.02, with bad rows) goes through the three jobs; the tests
check what only the whole chain shows: every injected bad row is quarantined and accounted
for, gold answers agree with curated, a second run with an increment changes only what the
increment brings (its customers versioned, its lines added, every other gold row as it was,
though the run curated every table again), and a drifted source stops only its own table.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest
import sqlglot
from pyspark.sql import functions as F
from sqlglot.optimizer.qualify_tables import qualify_tables

from local import generator
from local.pipeline import LOCAL_GOLD_DATABASE, Zones, gold_table, run_pipeline
from local.spark import ICEBERG_CATALOG
from undercurrent_glue.curate import SourceCurationError
from undercurrent_glue.schema import GOLD_TABLES

AS_OF = dt.date(2025, 6, 30)
NOW = dt.datetime(2025, 6, 30, 6, 0, tzinfo=dt.UTC)
SCALE = 0.02
#: The serving stage's Athena views: Trino SQL over the gold tables, unqualified (Athena resolves
#: them in the view's database).
VIEWS = Path(__file__).resolve().parents[2] / "lib" / "serving" / "sql" / "views"


def gold_rows(spark, table):
    return sorted(tuple(r) for r in spark.table(gold_table(table)).collect())


def customer_versions(spark):
    """Each customer's dim_customer rows (as dicts), oldest version first."""
    versions: dict[int, list[dict]] = {}
    for row in spark.table(gold_table("dim_customer")).orderBy("customer_number", "valid_from").collect():
        versions.setdefault(row.customer_number, []).append(row.asDict())
    return versions


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory):
    """A generated lake run once through the pipeline: (zones, manifest, first run)."""
    zones = Zones(tmp_path_factory.mktemp("lake"))
    spark.sql(f"DROP NAMESPACE IF EXISTS glue_catalog.{LOCAL_GOLD_DATABASE} CASCADE")
    manifest = generator.generate(spark, zones.uri("raw"), scale=SCALE, seed=11, as_of=AS_OF, bad_rows=True)
    first = run_pipeline(spark, zones, "run-1", NOW)
    return zones, manifest, first


def test_every_raw_row_is_curated_quarantined_or_a_removed_duplicate(lake):
    _zones, manifest, first = lake
    for table, counts in first.curated.items():
        assert counts.rows_in == manifest.rows[table], table
        assert counts.rows_in == counts.rows_curated + counts.rows_quarantined + counts.duplicates_removed, table


def test_the_injected_bad_rows_are_exactly_what_is_quarantined_or_removed(lake):
    _zones, manifest, first = lake
    clicks = dict(manifest.bad_rows[generator.CLICKSTREAM_DATASET])
    assert first.clickstream.duplicates_removed == clicks.pop("duplicate")
    assert first.clickstream.rows_quarantined == sum(clicks.values())
    for table, kinds in manifest.bad_rows.items():
        if table == generator.CLICKSTREAM_DATASET:
            continue
        quarantined = sum(n for kind, n in kinds.items() if ":" in kind)
        removed = sum(n for kind, n in kinds.items() if ":" not in kind)
        assert first.curated[table].rows_quarantined == quarantined, (table, kinds)
        assert first.curated[table].duplicates_removed == removed, (table, kinds)


def test_the_fact_holds_every_curated_order_line_and_its_revenue(spark, lake):
    zones, _manifest, first = lake
    assert first.gold["fact_order_line"] == first.curated["order_lines"].rows_curated
    curated = spark.read.parquet(zones.uri("curated", "order_lines/"))
    expected = curated.selectExpr("sum(quantity_ordered * price_each) AS total").first().total
    assert spark.table(gold_table("fact_order_line")).selectExpr("sum(amount) AS total").first().total == expected


def gold_view(spark, name):
    """A serving view (``lib/serving/sql/views/<name>.sql``) parsed as Athena's Trino SQL,
    transpiled to Spark SQL over the local gold tables, as a DataFrame."""
    parsed = sqlglot.parse_one((VIEWS / f"{name}.sql").read_text(), read="trino")
    return spark.sql(qualify_tables(parsed, db=LOCAL_GOLD_DATABASE, catalog=ICEBERG_CATALOG).sql(dialect="spark"))


def test_every_serving_view_is_trino_sql_that_spark_runs_on_the_local_gold(spark, lake):
    names = sorted(p.stem for p in VIEWS.glob("*.sql"))
    assert names == ["customer_360", "daily_funnel", "product_performance", "revenue_by_month_and_product_line", "sales_rep_performance"]
    for name in names:
        assert gold_view(spark, name).count() > 0, name


def test_the_revenue_view_holds_the_facts_revenue_orders_and_units(spark, lake):
    view = gold_view(spark, "revenue_by_month_and_product_line")
    fact = spark.table(gold_table("fact_order_line"))
    totals = view.selectExpr("sum(revenue) AS revenue", "sum(units) AS units").first()
    expected = fact.selectExpr("sum(amount) AS revenue", "sum(quantity_ordered) AS units").first()
    assert (totals.revenue, totals.units) == (expected.revenue, expected.units)
    assert view.where("product_line = '(unknown)'").count() == 0  # every line's product is known
    assert view.select("year", "month", "product_line").distinct().count() == view.count()
    # An order with lines of two product lines counts in both; per month, at most all orders.
    per_month = view.groupBy("year", "month").agg(F.sum("orders").alias("orders")).collect()
    assert sum(r.orders for r in per_month) >= fact.select("order_number").distinct().count()


def test_customer_360_has_each_current_customer_once_with_its_lifetime_revenue_and_no_pii(spark, lake):
    view = gold_view(spark, "customer_360")
    customers = spark.table(gold_table("dim_customer"))
    assert view.count() == customers.where("is_current").count()
    assert view.select("customer_number").distinct().count() == view.count()
    assert not {"phone", "address_line1", "address_line2", "contact_last_name", "contact_first_name"} & set(view.columns)
    fact = spark.table(gold_table("fact_order_line"))
    assert view.selectExpr("sum(lifetime_revenue)").first()[0] == fact.selectExpr("sum(amount)").first()[0]
    assert view.selectExpr("sum(orders)").first()[0] == fact.select("order_number").distinct().count()


def test_product_and_sales_rep_performance_add_up_to_the_fact(spark, lake):
    fact = spark.table(gold_table("fact_order_line"))
    products = gold_view(spark, "product_performance")
    assert products.count() == spark.table(gold_table("dim_product")).count()
    assert products.selectExpr("sum(revenue)").first()[0] == fact.selectExpr("sum(amount)").first()[0]
    views = spark.table(gold_table("daily_product_views")).selectExpr("sum(views)").first()[0]
    assert products.selectExpr("sum(views)").first()[0] == views
    reps = gold_view(spark, "sales_rep_performance")
    assert reps.select("employee_number").distinct().count() == reps.count()
    with_rep = fact.where("employee_key IS NOT NULL").selectExpr("sum(amount)").first()[0]
    assert reps.selectExpr("sum(revenue)").first()[0] == with_rep


def test_the_daily_funnel_counts_every_session_once(spark, lake):
    funnel = gold_view(spark, "daily_funnel")
    sessions = spark.table(gold_table("clickstream_sessions"))
    totals = funnel.selectExpr("sum(sessions)", "sum(purchasing_sessions)", "min(conversion_rate)", "max(conversion_rate)").first()
    assert totals[0] == sessions.count()
    assert totals[1] == sessions.where("purchased").count()
    assert 0 <= totals[2] <= totals[3] <= 1
    assert funnel.select("session_date").distinct().count() == funnel.count()


def test_a_later_increment_versions_its_customers_adds_its_lines_and_leaves_every_other_gold_row_as_it_was(spark, lake):
    # The second run re-curates every table under a new run id, the snapshot tables included;
    # gold must not take that for a change. Only what the increment brings may differ.
    zones, _manifest, _first = lake
    before = {table: gold_rows(spark, table) for table in GOLD_TABLES}
    customers_before = customer_versions(spark)
    increment = generator.generate_increment(spark, zones.uri("raw"), scale=SCALE, seed=11, as_of=AS_OF)
    run_pipeline(spark, zones, "run-2", NOW + dt.timedelta(hours=6))

    for table in ("dim_product", "dim_employee", "clickstream_sessions", "daily_product_views"):
        assert gold_rows(spark, table) == before[table], table
    assert set(before["dim_date"]) <= set(gold_rows(spark, "dim_date"))
    lines = gold_rows(spark, "fact_order_line")
    assert not Counter(before["fact_order_line"]) - Counter(lines)  # every earlier line is there, unchanged
    assert len(lines) - len(before["fact_order_line"]) == increment.rows["order_lines"]

    raw = spark.read.parquet(zones.uri("raw", "source/customers/")).where(F.col("run_id") == increment.run_id)
    changed = {r.customer_number for r in raw.select("customer_number").collect()}
    assert len(changed) == increment.rows["customers"]
    customers_after = customer_versions(spark)
    assert all(sum(v["is_current"] for v in versions) == 1 for versions in customers_after.values())
    assert {n: v for n, v in customers_after.items() if n not in changed} == {
        n: v for n, v in customers_before.items() if n not in changed
    }
    versioned = [n for n in changed if len(customers_after.get(n, [])) == 2]
    assert versioned  # at least one changed customer now has its first version closed and a second current
    for number in changed:
        versions = customers_after[number]
        assert [v["is_current"] for v in versions] == [False, True][-len(versions):], number
        if number in customers_before:  # its earlier version keeps its key, which the earlier lines hold
            assert versions[0]["customer_key"] == customers_before[number][0]["customer_key"], number


def test_a_drifted_source_stops_only_its_own_table(spark, tmp_path):
    zones = Zones(tmp_path)
    generator.generate(spark, zones.uri("raw"), scale=SCALE, seed=11, as_of=AS_OF, drift=("rename",))
    from local.jobs import load_job
    from undercurrent_glue.metrics import RecordingSink

    sink = RecordingSink("SourceToCurated")
    with pytest.raises(SourceCurationError, match=r"customers.*'phone' appears renamed to 'phone_number'"):
        load_job("source_raw_to_curated").run(
            spark, zones.uri("raw", "source/"), zones.uri("curated"), zones.uri("quarantine"), "drift-1", NOW, sink
        )
    assert sink.values[("customers", "SchemaDrift")] == 1
    assert not (tmp_path / "curated" / "customers").exists()
    assert (tmp_path / "curated" / "products").exists()

