"""Data-quality rules (undercurrent_glue.quality): loading, validation, row failures, evaluation."""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal

import pytest

from undercurrent_glue import quality
from undercurrent_glue.quality import DataQualityError, Rule, evaluate, load_rules, measure, row_failures
from undercurrent_glue.schema import SOURCE_TABLES, load_source_declaration

UTC = dt.UTC
NOW = dt.datetime(2024, 5, 3, 12, 0, tzinfo=UTC)

DECLARATION = {
    "name": "things",
    "description": "Test table.",
    "columns": [
        {"name": "thing_id", "type": "int", "nullable": False},
        {"name": "customer_number", "type": "int", "nullable": True},
        {"name": "amount", "type": "decimal(10,2)", "nullable": True},
        {"name": "status", "type": "string", "nullable": False},
        {"name": "seen_on", "type": "date", "nullable": True},
        {"name": "updated_at", "type": "timestamp", "nullable": True},
    ],
    "primary_key": ["thing_id"],
    "allowed_values": {"status": ["Open", "Closed"]},
    "extract": {"mode": "snapshot"},
}


def declaration(*rules):
    result = copy.deepcopy(DECLARATION)
    result["quality"] = list(rules)
    return result


def test_implicit_rules_come_first_with_the_zone_actions():
    rules = load_rules(declaration({"rule": "row_count", "min": 1, "action": "block"}), "curated")
    assert [(r.name, r.action, r.implicit) for r in rules] == [
        ("not_null:thing_id", "quarantine", True),
        ("not_null:status", "quarantine", True),
        ("unique:thing_id", "block", True),
        ("allowed_values:status", "quarantine", True),
        ("row_count", "block", False),
    ]
    gold = load_rules({**DECLARATION, "partition_keys": [{"name": "day", "type": "date", "nullable": False}]}, "gold")
    assert [(r.name, r.action) for r in gold] == [
        ("not_null:thing_id", "block"), ("not_null:status", "block"), ("not_null:day", "block"),
        ("unique:thing_id", "block"), ("allowed_values:status", "block"),
    ]
    assert rules[3].params["values"] == ("Open", "Closed")


def test_explicit_rules_keep_their_fields_and_names():
    rules = load_rules(declaration(
        {"rule": "range", "column": "amount", "min": 0, "max": 10.5, "action": "warn"},
        {"rule": "references", "column": "customer_number", "dataset": "customers", "key": "customer_number",
         "action": "quarantine"},
        {"rule": "not_null", "columns": ["amount", "seen_on"], "action": "warn"},
        {"rule": "freshness", "column": "updated_at", "max_age_hours": 48, "action": "warn"},
        {"rule": "completeness", "column": "seen_on", "min_ratio": 0.5, "action": "block"},
    ), "curated")[4:]
    assert [(r.name, r.kind, r.columns, dict(r.params)) for r in rules] == [
        ("range:amount", "range", ("amount",), {"min": 0, "max": 10.5}),
        ("references:customer_number", "references", ("customer_number",), {"dataset": "customers", "key": "customer_number"}),
        ("not_null:amount,seen_on", "not_null", ("amount", "seen_on"), {}),
        ("freshness:updated_at", "freshness", ("updated_at",), {"max_age_hours": 48}),
        ("completeness:seen_on", "completeness", ("seen_on",), {"min_ratio": 0.5}),
    ]


@pytest.mark.parametrize("table", SOURCE_TABLES)
def test_every_source_declaration_has_valid_rules(table):
    rules = load_rules(load_source_declaration(table), "curated")
    assert rules[-1].name == "row_count" and rules[-1].action == "block"
    assert len({r.name for r in rules}) == len(rules)


PREFIX = "Data-quality rules of 'things': quality[0]: "


@pytest.mark.parametrize(
    "rule, zone, message",
    [
        ({"rule": "between", "action": "warn"}, "curated", "unknown rule 'between'"),
        ("not_null", "curated", "must be an object with 'rule' and 'action'"),
        ({"rule": "not_null", "columns": ["nope"], "action": "warn"}, "curated", "'columns' names 'nope', which is not a declared column"),
        ({"rule": "range", "column": "nope", "min": 0, "action": "warn"}, "curated", "'column' is 'nope', which is not a declared column"),
        ({"rule": "range", "column": "amount", "min": 0, "action": "drop"}, "curated",
         "range has action 'drop'; allowed: quarantine, block, warn"),
        ({"rule": "unique", "columns": ["amount"], "action": "quarantine"}, "curated",
         "unique has action 'quarantine' (quarantine is for row-level rules of source tables only); allowed: block, warn"),
        ({"rule": "range", "column": "amount", "min": 0, "action": "quarantine"}, "gold", "allowed: block, warn"),
        ({"rule": "range", "column": "amount", "min": 0, "step": 1, "action": "warn"}, "curated", "range has unknown field(s) step"),
        ({"rule": "range", "column": "amount", "action": "warn"}, "curated", "needs 'min' and/or 'max'"),
        ({"rule": "range", "column": "amount", "min": 5, "max": 1, "action": "warn"}, "curated", "'min' (5) is greater than 'max' (1)"),
        ({"rule": "range", "column": "amount", "min": "0", "action": "warn"}, "curated", "'min' must be a number"),
        ({"rule": "range", "column": "status", "min": 0, "action": "warn"}, "curated", "range needs a numeric column; 'status' is string"),
        ({"rule": "allowed_values", "column": "status", "values": [], "action": "warn"}, "curated",
         "'values' must be a non-empty list of strings"),
        ({"rule": "references", "column": "customer_number", "dataset": "clients", "key": "id", "action": "warn"}, "curated",
         "'dataset' is 'clients', which is not a source table"),
        ({"rule": "references", "column": "customer_number", "dataset": "customers", "key": "id", "action": "warn"}, "curated",
         "'key' is 'id', which is not a column of 'customers'"),
        ({"rule": "references", "column": "customer_number", "action": "warn"}, "curated", "references needs field(s) dataset, key"),
        ({"rule": "freshness", "column": "amount", "max_age_hours": 1, "action": "warn"}, "curated",
         "freshness needs a timestamp or date column"),
        ({"rule": "freshness", "column": "updated_at", "max_age_hours": 0, "action": "warn"}, "curated",
         "'max_age_hours' must be a number > 0"),
        ({"rule": "row_count", "min": -1, "action": "block"}, "curated", "'min' must be a whole number >= 0"),
        ({"rule": "completeness", "column": "amount", "min_ratio": 1.5, "action": "warn"}, "curated",
         "'min_ratio' must be a number from 0 to 1"),
        ({"rule": "not_null", "columns": ["status"], "action": "warn"}, "curated",
         "rule name 'not_null:status' is already used by an implicit rule"),
    ],
)
def test_invalid_rules_name_the_dataset_and_the_rule_index(rule, zone, message):
    with pytest.raises(ValueError) as error:
        load_rules(declaration(rule), zone)
    assert str(error.value).startswith(PREFIX)
    assert message in str(error.value)


def test_quality_must_be_a_list_and_the_zone_known():
    with pytest.raises(ValueError, match="'quality' must be a list"):
        load_rules({**DECLARATION, "quality": {"rule": "row_count"}}, "curated")
    with pytest.raises(ValueError, match="zone must be one of curated, gold"):
        load_rules(DECLARATION, "raw")


# ------------------------------------------------------------------------------------------
# Spark
# ------------------------------------------------------------------------------------------

SCHEMA = "thing_id int, customer_number int, amount decimal(10,2), status string, seen_on date, updated_at timestamp"
T = dt.datetime(2024, 5, 3, 0, 0, tzinfo=UTC)


def things(spark, *rows):
    defaults = (1, 103, Decimal("5.00"), "Open", dt.date(2024, 5, 2), T)
    return spark.createDataFrame([tuple(r.get(k, d) for k, d in zip(
        ("thing_id", "customer_number", "amount", "status", "seen_on", "updated_at"), defaults, strict=True)) for r in rows], SCHEMA)


def test_row_failures_name_the_first_failing_quarantine_rule(spark):
    rules = load_rules(declaration(
        {"rule": "range", "column": "amount", "min": 0, "max": 100, "action": "quarantine"},
        {"rule": "references", "column": "customer_number", "dataset": "customers", "key": "customer_number",
         "action": "quarantine"},
        {"rule": "range", "column": "thing_id", "max": 5, "action": "warn"},  # not a quarantine rule
    ), "curated")
    df = things(spark,
                {"thing_id": 1}, {"thing_id": 2, "status": None, "amount": Decimal("-1")},
                {"thing_id": 3, "amount": Decimal("-1"), "customer_number": 999},
                {"thing_id": 4, "customer_number": 999}, {"thing_id": 5, "customer_number": None, "amount": None},
                {"thing_id": 6, "status": "Lost"}, {"thing_id": 7, "amount": Decimal("100.01")}, {"thing_id": 9})
    customers = spark.createDataFrame([(103,), (103,)], "customer_number int")
    flagged = row_failures(df, rules, {"customers": customers})
    assert flagged.columns == df.columns + [quality.FAILED_RULE]
    assert sorted(tuple(r) for r in flagged.select("thing_id", quality.FAILED_RULE).collect()) == [
        (1, None), (2, "not_null:status"), (3, "range:amount"), (4, "references:customer_number"),
        (5, None), (6, "allowed_values:status"), (7, "range:amount"), (9, None),
    ]


def test_row_failures_needs_every_referenced_dataset(spark):
    rules = load_rules(declaration({"rule": "references", "column": "customer_number", "dataset": "customers",
                                    "key": "customer_number", "action": "quarantine"}), "curated")
    with pytest.raises(ValueError, match="references dataset 'customers', but no DataFrame was given"):
        row_failures(things(spark, {}), rules, {})


ALL_KINDS = (
    {"rule": "not_null", "columns": ["amount"], "action": "warn"},
    {"rule": "range", "column": "amount", "min": 0, "action": "block"},
    {"rule": "allowed_values", "column": "status", "values": ["Open"], "action": "warn"},
    {"rule": "references", "column": "customer_number", "dataset": "customers", "key": "customer_number", "action": "warn"},
    {"rule": "unique", "columns": ["customer_number"], "action": "warn"},
    {"rule": "freshness", "column": "updated_at", "max_age_hours": 24, "action": "block"},
    {"rule": "freshness", "column": "seen_on", "max_age_hours": 48, "action": "warn"},
    {"rule": "row_count", "min": 1, "max": 2, "action": "block"},
    {"rule": "completeness", "column": "customer_number", "min_ratio": 0.75, "action": "warn"},
)


def all_kinds():
    plain = declaration(*ALL_KINDS)
    del plain["allowed_values"]
    return [r for r in load_rules(plain, "curated") if not r.implicit]


def test_every_rule_kind_passes_on_good_data(spark):
    rules = all_kinds()
    customers = spark.createDataFrame([(103,), (104,)], "customer_number int")
    good = things(spark, {"thing_id": 1}, {"thing_id": 2, "customer_number": 104})
    measurement = measure(good, rules, {"customers": customers}, NOW)
    assert measurement.row_count == 2
    assert [(r.rule.name, r.passed) for r in measurement.results] == [(r.name, True) for r in rules]
    assert [r.detail for r in measurement.results] == [
        "not_null:amount: 0 of 2 row(s) fail",
        "range:amount: 0 of 2 row(s) fail",
        "allowed_values:status: 0 of 2 row(s) fail",
        "references:customer_number: 0 of 2 row(s) fail",
        "unique:customer_number: 0 duplicate key(s) (2 rows, 2 distinct keys)",
        "freshness:updated_at: newest value is 12.0 h old (max 24 h)",
        "freshness:seen_on: newest value is 36.0 h old (max 48 h)",
        "row_count: 2 row(s), expected at least 1 and at most 2",
        "completeness:customer_number: 100.00% of 2 row(s) non-null (min 75.00%)",
    ]
    quality.raise_for_failures("things", measurement.results)  # nothing failed: no error


def test_every_rule_kind_fails_on_bad_data_and_block_failures_raise(spark):
    rules = all_kinds()
    customers = spark.createDataFrame([(103,)], "customer_number int")
    old = dt.datetime(2024, 5, 1, 0, 0, tzinfo=UTC)
    bad = things(
        spark,
        {"thing_id": 1, "amount": None, "updated_at": old, "seen_on": dt.date(2024, 4, 30)},
        {"thing_id": 2, "amount": Decimal("-3"), "status": "Closed", "customer_number": 555, "updated_at": None,
         "seen_on": None},
        {"thing_id": 3, "customer_number": None, "seen_on": None, "updated_at": old},
    )
    results = evaluate(bad, rules, {"customers": customers}, NOW)
    assert [(r.rule.name, r.passed, r.failing) for r in results] == [
        ("not_null:amount", False, 1),
        ("range:amount", False, 1),
        ("allowed_values:status", False, 1),
        ("references:customer_number", False, 1),
        ("unique:customer_number", True, 0),
        ("freshness:updated_at", False, 60.0),
        ("freshness:seen_on", False, 84.0),
        ("row_count", False, 3),
        ("completeness:customer_number", False, 2 / 3),
    ]
    assert [r.rule.name for r in results if r.warning] == [
        "not_null:amount", "allowed_values:status", "references:customer_number", "freshness:seen_on",
        "completeness:customer_number",
    ]
    with pytest.raises(DataQualityError) as error:
        quality.raise_for_failures("things", results)
    assert str(error.value) == (
        "Data quality check failed for dataset 'things' (3 blocking rule(s)): range:amount: 1 of 3 row(s) fail; "
        "freshness:updated_at: newest value is 60.0 h old (max 24 h); "
        "row_count: 3 row(s), expected at least 1 and at most 2."
    )
    assert error.value.dataset == "things" and len(error.value.failures) == 3


def test_unique_counts_duplicates_and_an_empty_dataset_fails_freshness_and_row_count(spark):
    rules = [
        Rule("unique", ("customer_number",), "block"),
        Rule("freshness", ("updated_at",), "warn", {"max_age_hours": 1}),
        Rule("row_count", (), "block", {"min": 1}),
        Rule("completeness", ("amount",), "warn", {"min_ratio": 1}),
    ]
    dupes = things(spark, {"thing_id": 1}, {"thing_id": 2}, {"thing_id": 3}, {"thing_id": 4, "customer_number": 7})
    unique = evaluate(dupes, rules[:1], {}, NOW)[0]
    assert (unique.passed, unique.failing, unique.detail) == (
        False, 2, "unique:customer_number: 2 duplicate key(s) (4 rows, 2 distinct keys)")
    empty = evaluate(things(spark, {}).limit(0), rules[1:], {}, NOW)
    assert [(r.passed, r.detail) for r in empty] == [
        (False, "freshness:updated_at: no value, so no data newer than 1 h"),
        (False, "row_count: 0 row(s), expected at least 1"),
        (True, "completeness:amount: no rows"),
    ]


def test_measure_takes_uniqueness_on_unique_by_as_given_and_counts_every_other_unique_rule(spark):
    rules = [Rule("unique", ("customer_number",), "block"), Rule("unique", ("thing_id",), "block")]
    dupes = things(spark, {"thing_id": 1}, {"thing_id": 1}, {"thing_id": 2})

    counted = quality.measure(dupes, rules, {}, NOW)
    given = quality.measure(dupes, rules, {}, NOW, unique_by=("customer_number",))

    assert [(r.passed, r.failing) for r in counted.results] == [(False, 2), (False, 1)]
    # The caller vouches for customer_number (e.g. it kept one row per key); thing_id is still counted.
    assert [(r.passed, r.failing) for r in given.results] == [(True, 0), (False, 1)]
    assert given.row_count == 3


def test_evaluate_needs_an_aware_now(spark):
    with pytest.raises(ValueError, match="time-zone-aware"):
        evaluate(things(spark, {}), [], {}, dt.datetime(2024, 5, 3))
