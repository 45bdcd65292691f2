"""End to end on the local Spark: generated raw data -> curated -> gold, as ``npm run pipeline:local`` runs it.

One small generated lake (scale 0.02, with bad rows) goes through the three jobs; the tests
check what only the whole chain shows: every injected bad row is quarantined and accounted
for, gold answers agree with curated, a second run with an increment changes only what the
increment brings (its customers versioned, its lines added, every other gold row as it was,
though the run curated every table again), and a drifted source stops only its own table. The
serving stage's Athena views and saved queries run on the same gold, with asserted answers.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from pyspark.sql import functions as F

from local import generator, serving
from local.pipeline import LOCAL_GOLD_DATABASE, Zones, gold_table, run_pipeline, serving_report
from undercurrent_glue.curate import SourceCurationError
from undercurrent_glue.schema import GOLD_TABLES

AS_OF = dt.date(2025, 6, 30)
NOW = dt.datetime(2025, 6, 30, 6, 0, tzinfo=dt.UTC)
SCALE = 0.02


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


@pytest.fixture(scope="module")
def served(spark, lake):
    """The serving views over the lake's gold, registered in the session (``local/serving.py``)
    and cached while their tests read them (each is read by several)."""
    names = serving.register_views(spark, LOCAL_GOLD_DATABASE)
    for name in names:
        spark.catalog.cacheTable(name)
    yield names
    for name in names:
        spark.catalog.uncacheTable(name)
        spark.catalog.dropTempView(name)


def sold(spark):
    """The fact's lines that count as sales: every line that is not cancelled."""
    return spark.table(gold_table("fact_order_line")).where("status <> 'Cancelled'")


def answer(spark, name):
    """A saved query's rows (``lib/serving/sql/queries/<name>.sql``) on the local gold."""
    query = next(q for q in serving.queries() if q.name == name)
    return serving.run_query(spark, query, LOCAL_GOLD_DATABASE).collect()


def test_every_view_runs_on_the_local_gold_with_its_declared_columns_types_and_nulls(spark, served):
    assert served == ["customer_360", "daily_funnel", "product_performance", "revenue_by_month_and_product_line", "sales_rep_performance"]
    for name in served:
        view = spark.table(name)
        declared = serving.view_declaration(name)["columns"]
        assert [(f.name, f.dataType.simpleString()) for f in view.schema.fields] == [(c["name"], c["type"]) for c in declared], name
        not_null = [c["name"] for c in declared if not c["nullable"]]
        counts = view.selectExpr("count(*)", *(f"count({c})" for c in not_null)).first()
        assert counts[0] > 0, name
        assert list(counts[1:]) == [counts[0]] * len(not_null), (name, not_null)


def test_the_revenue_view_holds_the_revenue_orders_and_units_of_every_line_not_cancelled(spark, served):
    view = spark.table("revenue_by_month_and_product_line")
    totals = view.selectExpr("sum(revenue) AS revenue", "sum(units) AS units").first()
    expected = sold(spark).selectExpr("sum(amount) AS revenue", "sum(quantity_ordered) AS units").first()
    assert (totals.revenue, totals.units) == (expected.revenue, expected.units)
    assert spark.table(gold_table("fact_order_line")).where("status = 'Cancelled'").count() > 0  # something to leave out
    assert view.where("product_line = '(unknown)'").count() == 0  # every line's product is known
    assert view.select("year", "month", "product_line").distinct().count() == view.count()
    # An order with lines of two product lines counts in both; per month, at most all orders.
    per_month = view.groupBy("year", "month").agg(F.sum("orders").alias("orders")).collect()
    assert sum(r.orders for r in per_month) >= sold(spark).select("order_number").distinct().count()


def test_customer_360_has_each_current_customer_once_with_its_lifetime_revenue_and_no_pii(spark, served):
    view = spark.table("customer_360")
    customers = spark.table(gold_table("dim_customer"))
    assert view.count() == customers.where("is_current").count()
    assert view.select("customer_number").distinct().count() == view.count()
    assert not {"phone", "address_line1", "address_line2", "contact_last_name", "contact_first_name"} & set(view.columns)
    assert view.selectExpr("sum(lifetime_revenue)").first()[0] == sold(spark).selectExpr("sum(amount)").first()[0]
    assert view.selectExpr("sum(orders)").first()[0] == sold(spark).select("order_number").distinct().count()


def test_product_and_sales_rep_performance_add_up_to_the_fact(spark, served):
    products = spark.table("product_performance")
    assert products.count() == spark.table(gold_table("dim_product")).count()
    assert products.selectExpr("sum(revenue)").first()[0] == sold(spark).selectExpr("sum(amount)").first()[0]
    views = spark.table(gold_table("daily_product_views")).selectExpr("sum(views)").first()[0]
    assert products.selectExpr("sum(views)").first()[0] == views
    reps = spark.table("sales_rep_performance")
    assert reps.select("employee_number").distinct().count() == reps.count()
    with_rep = sold(spark).where("employee_key IS NOT NULL").selectExpr("sum(amount)").first()[0]
    assert reps.selectExpr("sum(revenue)").first()[0] == with_rep


def test_the_daily_funnel_counts_every_session_once(spark, served):
    funnel = spark.table("daily_funnel")
    sessions = spark.table(gold_table("clickstream_sessions"))
    totals = funnel.selectExpr("sum(sessions)", "sum(purchasing_sessions)", "min(conversion_rate)", "max(conversion_rate)").first()
    assert totals[0] == sessions.count()
    assert totals[1] == sessions.where("purchased").count()
    assert 0 <= totals[2] <= totals[3] <= 1
    assert funnel.select("session_date").distinct().count() == funnel.count()


def test_the_saved_queries_answer_the_business_questions_from_gold(spark, served):
    assert [q.name for q in serving.queries()] == [
        "latest_revenue_by_product_line", "product_conversion_by_day", "sales_rep_leaderboard", "top_customers_by_revenue"]
    # The ten customers with the highest revenue, computed here from the fact and the dimension.
    per_customer: Counter[int] = Counter()
    versions = {r.customer_key: r.customer_number for r in spark.table(gold_table("dim_customer")).collect()}
    for line in sold(spark).select("customer_key", "amount").collect():
        per_customer[versions[line.customer_key]] += line.amount
    top = sorted(per_customer.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    assert [(r.customer_number, r.lifetime_revenue) for r in answer(spark, "top_customers_by_revenue")] == top
    # The latest month's product lines first, by revenue.
    latest = answer(spark, "latest_revenue_by_product_line")
    assert len(latest) == 12
    months = [(r.year, r.month) for r in latest]
    assert months == sorted(months, reverse=True)
    newest = sold(spark).selectExpr("max(order_date)").first()[0]
    assert months[0] == (newest.year, newest.month)
    # Conversion per day: purchases over views, as a fraction (not Trino's integer division).
    days = {r.event_date: (r.views, r.purchases) for r in spark.table(gold_table("daily_product_views"))
            .groupBy("event_date").agg(F.sum("views").alias("views"), F.sum("purchases").alias("purchases")).collect()}
    conversion = answer(spark, "product_conversion_by_day")
    assert [r.event_date for r in conversion] == sorted(days, reverse=True)[:7]
    for r in conversion:
        assert (r.views, r.purchases) == days[r.event_date]
        assert r.conversion == round(r.purchases / r.views, 4)
    assert any(0 < r.conversion < 1 for r in conversion)  # a fraction: no integer division
    reps = answer(spark, "sales_rep_leaderboard")
    assert sum(r.revenue for r in reps) == sold(spark).where("employee_key IS NOT NULL").selectExpr("sum(amount)").first()[0]
    assert [r.revenue for r in reps] == sorted((r.revenue for r in reps), reverse=True)


def test_the_local_pipelines_report_prints_the_views_and_every_saved_querys_answer(spark, served, capsys):
    serving_report(spark)
    printed = capsys.readouterr().out
    for name in served:
        assert f"\n  {name}  " in printed, name
    for query in serving.queries():
        assert f"\n{query.name}: {query.description}\n" in printed, query.name


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

