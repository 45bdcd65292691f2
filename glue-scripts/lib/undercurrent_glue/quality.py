"""Data-quality rules: declared once in each declaration's ``"quality"`` key, checked on Spark.

A declaration (``schemas/source/<table>.json`` or ``schemas/gold/<table>.json``) yields two
kinds of rules (:func:`load_rules`):

* implicit rules, derived from the declaration and never written in ``"quality"``, in this
  order: ``not_null`` for every column with ``"nullable": false`` (one rule per column, in
  declared order; for gold, columns then ``partition_keys``), then ``unique`` on
  ``primary_key`` (when the declaration has one), then ``allowed_values`` for every key of
  ``allowed_values`` (in the order written). In the ``curated`` zone (source declarations)
  ``not_null`` and ``allowed_values`` quarantine failing rows and ``unique`` blocks (it is
  checked after deduplication); in the ``gold`` zone every implicit rule blocks;
* explicit rules, the ``"quality"`` list, in the order written, each an object with
  ``"rule"``, ``"action"`` and the kind's fields:

  ==================  ===========================================  ======================
  ``rule``            fields                                       actions
  ==================  ===========================================  ======================
  ``not_null``        ``columns`` (non-empty list)                 quarantine, block, warn
  ``range``           ``column`` (numeric), ``min`` and/or ``max``  quarantine, block, warn
  ``allowed_values``  ``column`` (string), ``values`` (strings)     quarantine, block, warn
  ``references``      ``column``, ``dataset``, ``key``              quarantine, block, warn
  ``unique``          ``columns`` (non-empty list)                 block, warn
  ``freshness``       ``column`` (timestamp/date), ``max_age_hours``  block, warn
  ``row_count``       ``min`` and/or ``max`` (integers >= 0)       block, warn
  ``completeness``    ``column``, ``min_ratio`` (0..1)             block, warn
  ==================  ===========================================  ======================

  ``quarantine`` is only allowed in the ``curated`` zone (gold has no quarantine).

Semantics (a row "fails" a row-level rule):

* ``not_null``: any of the columns is null;
* ``range``: the value is not null and below ``min`` or above ``max`` (both inclusive);
* ``allowed_values``: the value is not null and not one of ``values`` (exact match);
* ``references``: the value is not null and no row of ``dataset`` has it in ``key``;
* ``unique``: fails when two rows share the same values of ``columns`` (nulls compare
  equal); measured as rows minus distinct keys;
* ``freshness``: fails when the greatest value of ``column`` is older than
  ``max_age_hours`` before the run's ``now`` (a date counts as its midnight UTC), or when
  there is no non-null value;
* ``row_count``: fails when the row count is below ``min`` or above ``max``;
* ``completeness``: fails when non-null values / rows < ``min_ratio`` (an empty dataset
  passes; ``row_count`` is the rule for emptiness).

Nulls pass every rule but ``not_null`` (and count against ``completeness``).

Rule names, used as the quarantine ``rule`` and in reports: ``<rule>:<column>`` or
``<rule>:<col1>,<col2>`` for the column lists, and ``row_count``. Two rules of one
declaration may not have the same name (e.g. an explicit ``not_null`` on a non-nullable
column duplicates the implicit one).

Everything here is plain PySpark; nothing imports ``awsglue``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from pyspark.sql import Column, DataFrame, functions as F
from pyspark.sql.types import DateType, DecimalType

#: Zones: ``curated`` for source declarations, ``gold`` for gold declarations.
CURATED = "curated"
GOLD = "gold"
ZONES = (CURATED, GOLD)

QUARANTINE = "quarantine"
BLOCK = "block"
WARN = "warn"
ACTIONS = (QUARANTINE, BLOCK, WARN)

NOT_NULL = "not_null"
RANGE = "range"
ALLOWED_VALUES = "allowed_values"
REFERENCES = "references"
UNIQUE = "unique"
FRESHNESS = "freshness"
ROW_COUNT = "row_count"
COMPLETENESS = "completeness"
#: Kinds checked row by row; only these may quarantine.
ROW_KINDS = (NOT_NULL, RANGE, ALLOWED_VALUES, REFERENCES)
#: Kinds measured on the whole dataset.
DATASET_KINDS = (UNIQUE, FRESHNESS, ROW_COUNT, COMPLETENESS)
KINDS = ROW_KINDS + DATASET_KINDS

#: Column :func:`row_failures` adds: the name of the first quarantine rule a row fails, or null.
FAILED_RULE = "_failed_rule"

# Fields each kind may have besides "rule" and "action"; required ones first.
_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    NOT_NULL: (("columns",), ()),
    RANGE: (("column",), ("min", "max")),
    ALLOWED_VALUES: (("column", "values"), ()),
    REFERENCES: (("column", "dataset", "key"), ()),
    UNIQUE: (("columns",), ()),
    FRESHNESS: (("column", "max_age_hours"), ()),
    ROW_COUNT: ((), ("min", "max")),
    COMPLETENESS: (("column", "min_ratio"), ()),
}
_NUMERIC_PREFIXES = ("int", "bigint", "double", "decimal(")
_MICROS_PER_HOUR = 3_600_000_000
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Rule:
    """One data-quality rule.

    Attributes:
        kind: one of :data:`KINDS`.
        columns: the columns checked (one for the single-column kinds, none for ``row_count``).
        action: ``quarantine``, ``block`` or ``warn``.
        params: the kind's other fields: ``min``/``max`` (range, row_count), ``values``
            (allowed_values, a tuple), ``dataset``/``key`` (references), ``max_age_hours``
            (freshness), ``min_ratio`` (completeness).
        name: ``<kind>:<columns joined by ','>``, or ``row_count``.
        implicit: derived from the declaration rather than written in ``"quality"``.
    """

    kind: str
    columns: tuple[str, ...]
    action: str
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)
    name: str = ""
    implicit: bool = False

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", rule_name(self.kind, self.columns))

    @property
    def row_level(self) -> bool:
        """Whether the rule is checked row by row (:data:`ROW_KINDS`)."""
        return self.kind in ROW_KINDS


@dataclass(frozen=True)
class RuleResult:
    """The outcome of one block/warn rule on a dataset (:func:`evaluate`).

    Attributes:
        rule: the rule.
        passed: whether the dataset satisfies it.
        failing: the measure: failing rows (row-level kinds), surplus duplicate rows
            (unique), row count (row_count), age in hours of the newest value or None when
            there is none (freshness), ratio of non-null values or None for no rows
            (completeness).
        detail: a human message starting with the rule name, e.g.
            ``unique:order_number,product_code: 3 duplicate keys``.
    """

    rule: Rule
    passed: bool
    failing: float | None
    detail: str

    @property
    def blocking_failure(self) -> bool:
        """A failed ``block`` rule: the dataset must not be published."""
        return not self.passed and self.rule.action == BLOCK

    @property
    def warning(self) -> bool:
        """A failed ``warn`` rule: reported, nothing stops."""
        return not self.passed and self.rule.action == WARN


class Measurement(NamedTuple):
    """What :func:`measure` returns: the dataset's row count and one result per block/warn rule."""

    row_count: int
    results: list[RuleResult]


class DataQualityError(Exception):
    """A dataset failed at least one blocking rule; it must not be published.

    Attributes:
        dataset: the dataset.
        results: the results given (all of them); :attr:`failures` are the blocking ones.
    """

    def __init__(self, dataset: str, results: Sequence[RuleResult]):
        self.dataset = dataset
        self.results = list(results)
        self.failures = [r for r in self.results if r.blocking_failure]
        details = "; ".join(r.detail for r in self.failures) or "no blocking rule failed"
        super().__init__(
            f"Data quality check failed for dataset '{dataset}' ({len(self.failures)} blocking "
            f"rule(s)): {details}."
        )


def rule_name(kind: str, columns: Sequence[str]) -> str:
    """``<kind>:<columns joined by ','>``, or just ``<kind>`` when there is no column (row_count)."""
    return f"{kind}:{','.join(columns)}" if columns else kind


# --------------------------------------------------------------------------------------
# Loading and validation
# --------------------------------------------------------------------------------------


def _declared_types(declaration: Mapping[str, Any]) -> dict[str, str]:
    columns = list(declaration.get("columns", [])) + list(declaration.get("partition_keys", []) or [])
    return {c["name"]: c["type"] for c in columns}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _reference_columns(dataset: str, zone: str) -> list[str]:
    """Declared columns of the dataset a ``references`` rule points to (ValueError if unknown)."""
    from undercurrent_glue import schema  # late: schema stays free of this module

    if zone == CURATED:
        if dataset not in schema.SOURCE_TABLES:
            raise ValueError(
                f"'dataset' is {dataset!r}, which is not a source table ({', '.join(schema.SOURCE_TABLES)})"
            )
        declaration = schema.load_source_declaration(dataset)
    else:
        if dataset not in schema.GOLD_TABLES:
            raise ValueError(f"'dataset' is {dataset!r}, which is not a gold table ({', '.join(schema.GOLD_TABLES)})")
        declaration = schema.load_gold_declaration(dataset)
    return list(_declared_types(declaration))


def _column(spec: Mapping[str, Any], key: str, types: Mapping[str, str]) -> str:
    value = spec.get(key)
    if not isinstance(value, str) or value not in types:
        raise ValueError(f"'{key}' is {value!r}, which is not a declared column (declared: {', '.join(types)})")
    return value


def _column_list(spec: Mapping[str, Any], types: Mapping[str, str]) -> tuple[str, ...]:
    value = spec.get("columns")
    if not isinstance(value, list) or not value:
        raise ValueError(f"'columns' must be a non-empty list of declared columns; got {value!r}")
    for name in value:
        if not isinstance(name, str) or name not in types:
            raise ValueError(f"'columns' names {name!r}, which is not a declared column (declared: {', '.join(types)})")
    if len(set(value)) != len(value):
        raise ValueError(f"'columns' lists a column more than once: {value!r}")
    return tuple(value)


def _bounds(spec: Mapping[str, Any], integers: bool) -> dict[str, Any]:
    bounds = {k: spec[k] for k in ("min", "max") if k in spec}
    if not bounds:
        raise ValueError("needs 'min' and/or 'max'")
    for key, value in bounds.items():
        if integers and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ValueError(f"'{key}' must be a whole number >= 0; got {value!r}")
        if not _is_number(value):
            raise ValueError(f"'{key}' must be a number; got {value!r}")
    if "min" in bounds and "max" in bounds and bounds["min"] > bounds["max"]:
        raise ValueError(f"'min' ({bounds['min']}) is greater than 'max' ({bounds['max']})")
    return bounds


def _explicit_rule(spec: Any, types: Mapping[str, str], zone: str) -> Rule:
    """Validate one ``"quality"`` entry and return its Rule (ValueError without the prefix)."""
    if not isinstance(spec, Mapping):
        raise ValueError(f"must be an object with 'rule' and 'action'; got {spec!r}")
    kind = spec.get("rule")
    if kind not in KINDS:
        raise ValueError(f"unknown rule {kind!r}; known: {', '.join(KINDS)}")
    required, optional = _FIELDS[kind]
    unknown = sorted(set(spec) - {"rule", "action", *required, *optional})
    if unknown:
        raise ValueError(
            f"{kind} has unknown field(s) {', '.join(unknown)}; allowed: rule, action, "
            f"{', '.join(required + optional) or '(none)'}"
        )
    missing = [k for k in required if k not in spec]
    if missing:
        raise ValueError(f"{kind} needs field(s) {', '.join(missing)}")
    action: str | None = spec.get("action")
    allowed: tuple[str, ...] = (QUARANTINE, BLOCK, WARN) if kind in ROW_KINDS else (BLOCK, WARN)
    if zone == GOLD:
        allowed = tuple(a for a in allowed if a != QUARANTINE)
    if action not in allowed:
        why = ""
        if action == QUARANTINE:
            why = " (quarantine is for row-level rules of source tables only)"
        raise ValueError(f"{kind} has action {action!r}{why}; allowed: {', '.join(allowed)}")

    params: dict[str, Any] = {}
    if kind in (NOT_NULL, UNIQUE):
        columns = _column_list(spec, types)
    elif kind == ROW_COUNT:
        columns = ()
        params.update(_bounds(spec, integers=True))
    else:
        column = _column(spec, "column", types)
        columns = (column,)
        declared = types[column]
        if kind == RANGE:
            if not declared.startswith(_NUMERIC_PREFIXES):
                raise ValueError(f"range needs a numeric column; '{column}' is {declared}")
            params.update(_bounds(spec, integers=False))
        elif kind == ALLOWED_VALUES:
            values = spec["values"]
            if declared != "string":
                raise ValueError(f"allowed_values needs a string column; '{column}' is {declared}")
            if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
                raise ValueError(f"'values' must be a non-empty list of strings; got {values!r}")
            params["values"] = tuple(values)
        elif kind == REFERENCES:
            dataset, key = spec["dataset"], spec["key"]
            if not isinstance(dataset, str) or not isinstance(key, str):
                raise ValueError(f"'dataset' and 'key' must be strings; got {dataset!r}, {key!r}")
            target_columns = _reference_columns(dataset, zone)
            if key not in target_columns:
                raise ValueError(
                    f"'key' is {key!r}, which is not a column of '{dataset}' (columns: {', '.join(target_columns)})"
                )
            params.update(dataset=dataset, key=key)
        elif kind == FRESHNESS:
            hours = spec["max_age_hours"]
            if declared not in ("timestamp", "date"):
                raise ValueError(f"freshness needs a timestamp or date column; '{column}' is {declared}")
            if not _is_number(hours) or hours <= 0:
                raise ValueError(f"'max_age_hours' must be a number > 0; got {hours!r}")
            params["max_age_hours"] = hours
        elif kind == COMPLETENESS:
            ratio = spec["min_ratio"]
            if not _is_number(ratio) or not 0 <= ratio <= 1:
                raise ValueError(f"'min_ratio' must be a number from 0 to 1; got {ratio!r}")
            params["min_ratio"] = ratio
    return Rule(kind, columns, action, params)


def implicit_rules(declaration: Mapping[str, Any], zone: str) -> list[Rule]:
    """The rules derived from the declaration: not_null per non-nullable column, unique on
    ``primary_key``, allowed_values per ``allowed_values`` key (see the module doc)."""
    _check_zone(zone)
    row_action = QUARANTINE if zone == CURATED else BLOCK
    columns = list(declaration.get("columns", [])) + list(declaration.get("partition_keys", []) or [])
    rules = [Rule(NOT_NULL, (c["name"],), row_action, implicit=True) for c in columns if c.get("nullable") is False]
    if declaration.get("primary_key"):
        rules.append(Rule(UNIQUE, tuple(declaration["primary_key"]), BLOCK, implicit=True))
    for column, values in (declaration.get("allowed_values") or {}).items():
        rules.append(Rule(ALLOWED_VALUES, (column,), row_action, {"values": tuple(values)}, implicit=True))
    return rules


def _check_zone(zone: str) -> None:
    if zone not in ZONES:
        raise ValueError(f"zone must be one of {', '.join(ZONES)}; got {zone!r}.")


def load_rules(declaration: Mapping[str, Any], zone: str) -> list[Rule]:
    """Return the declaration's rules: implicit ones first, then ``"quality"`` in written order.

    Args:
        declaration: a validated declaration (source or gold).
        zone: ``curated`` (source declarations) or ``gold`` (gold declarations); decides the
            implicit actions, whether ``quarantine`` is allowed and where ``references``
            datasets are looked up.

    Raises:
        ValueError: ``Data-quality rules of '<dataset>': quality[<i>]: <problem>`` for an
            entry that is not an object, an unknown rule kind or field, a missing field, an
            undeclared column, a bad action (quarantine on a dataset-level kind or in gold),
            a column of the wrong type, bad bounds or values, an unknown reference
            dataset/key, or a name already used by another rule; or ``quality`` not being a
            list, or an unknown zone.
    """
    _check_zone(zone)
    dataset = declaration.get("name", "<unnamed>")
    prefix = f"Data-quality rules of '{dataset}'"
    types = _declared_types(declaration)
    rules = implicit_rules(declaration, zone)
    explicit = declaration.get("quality", [])
    if not isinstance(explicit, list):
        raise ValueError(f"{prefix}: 'quality' must be a list of rule objects; got {explicit!r}.")
    names = {r.name: "an implicit rule" for r in rules}
    for index, spec in enumerate(explicit):
        try:
            rule = _explicit_rule(spec, types, zone)
            if rule.name in names:
                raise ValueError(
                    f"rule name '{rule.name}' is already used by {names[rule.name]}; "
                    "merge the two rules (names must be unique)"
                )
        except ValueError as error:
            raise ValueError(f"{prefix}: quality[{index}]: {error}.") from None
        names[rule.name] = f"quality[{index}]"
        rules.append(rule)
    return rules


def reference_datasets(rules: Sequence[Rule]) -> list[str]:
    """The datasets the ``references`` rules point to, unique, in rule order."""
    return list(dict.fromkeys(r.params["dataset"] for r in rules if r.kind == REFERENCES))


# --------------------------------------------------------------------------------------
# Spark evaluation
# --------------------------------------------------------------------------------------


def _literal(df: DataFrame, column: str, value: Any) -> Column:
    if isinstance(value, float) and isinstance(df.schema[column].dataType, DecimalType):
        return F.lit(Decimal(repr(value)))
    return F.lit(value)


def _attach_references(
    df: DataFrame, rules: Sequence[Rule], references: Mapping[str, DataFrame]
) -> tuple[DataFrame, dict[str, str]]:
    """Left-join the distinct keys of each references rule's dataset; return the frame and,
    per rule name, the marker column that is true when the row's value was found."""
    markers: dict[str, str] = {}
    for index, rule in enumerate(rules):
        if rule.kind != REFERENCES:
            continue
        dataset, key = rule.params["dataset"], rule.params["key"]
        if dataset not in references:
            raise ValueError(
                f"Rule '{rule.name}' references dataset '{dataset}', but no DataFrame was given for it "
                f"(given: {', '.join(sorted(references)) or 'none'})."
            )
        key_column, marker = f"__ref{index}_key", f"__ref{index}_found"
        keys = (
            references[dataset]
            .select(F.col(f"`{key}`").alias(key_column))
            .where(F.col(key_column).isNotNull())
            .distinct()
            .withColumn(marker, F.lit(True))
        )
        df = df.join(keys, F.col(f"`{rule.columns[0]}`") == F.col(key_column), "left").drop(key_column)
        markers[rule.name] = marker
    return df, markers


def _fails(df: DataFrame, rule: Rule, markers: Mapping[str, str]) -> Column:
    """A never-null boolean: whether the row fails the row-level ``rule``."""
    if rule.kind == NOT_NULL:
        condition = F.lit(False)
        for column in rule.columns:
            condition = condition | F.col(f"`{column}`").isNull()
        return condition
    value = F.col(f"`{rule.columns[0]}`")
    if rule.kind == RANGE:
        outside = F.lit(False)
        if "min" in rule.params:
            outside = outside | (value < _literal(df, rule.columns[0], rule.params["min"]))
        if "max" in rule.params:
            outside = outside | (value > _literal(df, rule.columns[0], rule.params["max"]))
        return value.isNotNull() & outside
    if rule.kind == ALLOWED_VALUES:
        return value.isNotNull() & ~value.isin(list(rule.params["values"]))
    if rule.kind == REFERENCES:
        return value.isNotNull() & F.col(markers[rule.name]).isNull()
    raise ValueError(f"Rule '{rule.name}' is not a row-level rule.")  # pragma: no cover


def row_failures(df: DataFrame, rules: Sequence[Rule], references: Mapping[str, DataFrame]) -> DataFrame:
    """Add :data:`FAILED_RULE`: the name of the first ``quarantine`` rule the row fails, in
    rule order, or null when it passes them all.

    Lazy (no Spark action). The rows and columns of ``df`` are kept (a references rule
    left-joins the distinct keys of its dataset, which neither adds nor drops rows).

    Args:
        df: the rows to check, with the rules' columns.
        rules: from :func:`load_rules`; only the ``quarantine`` ones are applied.
        references: the DataFrame of each dataset a quarantine ``references`` rule names.

    Raises:
        ValueError: a references rule's dataset is missing from ``references``.
    """
    quarantine = [r for r in rules if r.action == QUARANTINE]
    columns = df.columns
    flagged, markers = _attach_references(df, quarantine, references)
    if not quarantine:
        return flagged.withColumn(FAILED_RULE, F.lit(None).cast("string"))
    first = F.coalesce(*[F.when(_fails(flagged, r, markers), F.lit(r.name)) for r in quarantine])
    return flagged.select(*[F.col(f"`{c}`") for c in columns], first.alias(FAILED_RULE))


def _age_hours(now: dt.datetime, micros: int | None) -> float | None:
    if micros is None:
        return None
    now_micros = (now - _EPOCH) // dt.timedelta(microseconds=1)
    return (now_micros - micros) / _MICROS_PER_HOUR


def _format(number: float) -> str:
    return f"{number:g}" if isinstance(number, float) else str(number)


def measure(
    df: DataFrame,
    rules: Sequence[Rule],
    references: Mapping[str, DataFrame],
    now: dt.datetime,
    unique_by: Sequence[str] = (),
) -> Measurement:
    """Count ``df``'s rows and check every ``block``/``warn`` rule, in one Spark aggregation
    (and a second one for the distinct counts of the ``unique`` rules, when there are any).

    Args:
        df: the dataset (e.g. a curated table after deduplication).
        rules: from :func:`load_rules`; ``quarantine`` rules are skipped (they were applied
            row by row before).
        references: the DataFrame of each dataset a block/warn ``references`` rule names.
        now: the run's instant (time-zone aware), for freshness.
        unique_by: columns ``df`` is unique on by construction (the caller kept one row per
            value, e.g. deduplication on the primary key). A ``unique`` rule on exactly
            these columns then passes without the distinct count, the costliest
            aggregate (a shuffle of every key); any other ``unique`` rule is counted.

    Raises:
        ValueError: ``now`` is naive, or a references dataset is missing.
    """
    if not isinstance(now, dt.datetime) or now.utcoffset() is None:
        raise ValueError(f"now must be a time-zone-aware datetime; got {now!r}.")
    checked = [r for r in rules if r.action in (BLOCK, WARN)]
    known_unique = [r for r in checked if r.kind == UNIQUE and unique_by and set(r.columns) == set(unique_by)]
    frame, markers = _attach_references(df, checked, references)
    aggregates: list[Column] = [F.count(F.lit(1)).alias("__rows")]
    distinct_counts: list[Column] = []
    for index, rule in enumerate(checked):
        alias = f"__m{index}"
        if rule.row_level:
            aggregates.append(F.sum(F.when(_fails(frame, rule, markers), 1).otherwise(0)).alias(alias))
        elif rule.kind == UNIQUE and rule not in known_unique:
            distinct_counts.append(F.count_distinct(F.struct(*[F.col(f"`{c}`") for c in rule.columns])).alias(alias))
        elif rule.kind == FRESHNESS:
            column = F.col(f"`{rule.columns[0]}`")
            if isinstance(frame.schema[rule.columns[0]].dataType, DateType):
                newest = F.unix_date(F.max(column)).cast("long") * F.lit(86_400_000_000)
            else:
                newest = F.unix_micros(F.max(column).cast("timestamp"))
            aggregates.append(newest.alias(alias))
        elif rule.kind == COMPLETENESS:
            aggregates.append(F.count(F.col(f"`{rule.columns[0]}`")).alias(alias))
    values = frame.agg(*aggregates).collect()[0].asDict()
    if distinct_counts:
        # Apart: beside a distinct count, Spark keeps every other aggregate per distinct key.
        values.update(df.agg(*distinct_counts).collect()[0].asDict())
    for index, rule in enumerate(checked):
        if rule in known_unique:
            values[f"__m{index}"] = values["__rows"]
    rows = int(values["__rows"])
    results = [_result(rule, values.get(f"__m{index}"), rows, now) for index, rule in enumerate(checked)]
    return Measurement(rows, results)


def _result(rule: Rule, value: Any, rows: int, now: dt.datetime) -> RuleResult:
    name = rule.name
    if rule.row_level:
        failing = int(value or 0)
        return RuleResult(rule, failing == 0, failing, f"{name}: {failing} of {rows} row(s) fail")
    if rule.kind == UNIQUE:
        duplicates = rows - int(value or 0)
        return RuleResult(
            rule, duplicates == 0, duplicates, f"{name}: {duplicates} duplicate key(s) ({rows} rows, {rows - duplicates} distinct keys)"
        )
    if rule.kind == ROW_COUNT:
        low, high = rule.params.get("min"), rule.params.get("max")
        passed = (low is None or rows >= low) and (high is None or rows <= high)
        expected = " and ".join(
            part for part in (f"at least {low}" if low is not None else "", f"at most {high}" if high is not None else "") if part
        )
        return RuleResult(rule, passed, rows, f"{name}: {rows} row(s), expected {expected}")
    if rule.kind == FRESHNESS:
        limit = rule.params["max_age_hours"]
        age = _age_hours(now, None if value is None else int(value))
        if age is None:
            return RuleResult(rule, False, None, f"{name}: no value, so no data newer than {_format(limit)} h")
        return RuleResult(
            rule, age <= limit, round(age, 3), f"{name}: newest value is {age:.1f} h old (max {_format(limit)} h)"
        )
    if rule.kind == COMPLETENESS:
        minimum = rule.params["min_ratio"]
        if rows == 0:
            return RuleResult(rule, True, None, f"{name}: no rows")
        ratio = int(value) / rows
        return RuleResult(
            rule, ratio >= minimum, ratio, f"{name}: {ratio:.2%} of {rows} row(s) non-null (min {minimum:.2%})"
        )
    raise ValueError(f"Rule '{name}' has unknown kind {rule.kind!r}.")  # pragma: no cover


def evaluate(
    df: DataFrame, rules: Sequence[Rule], references: Mapping[str, DataFrame], now: dt.datetime
) -> list[RuleResult]:
    """Check every ``block``/``warn`` rule on ``df``; one result per rule, in rule order.

    One Spark action (see :func:`measure`). Raise :class:`DataQualityError` on the
    results with :func:`raise_for_failures` to stop on a blocking failure.
    """
    return measure(df, rules, references, now).results


def raise_for_failures(dataset: str, results: Sequence[RuleResult]) -> None:
    """Raise :class:`DataQualityError` when a ``block`` rule failed.

    Raises:
        DataQualityError: naming the dataset and each failed blocking rule.
    """
    if any(r.blocking_failure for r in results):
        raise DataQualityError(dataset, results)
