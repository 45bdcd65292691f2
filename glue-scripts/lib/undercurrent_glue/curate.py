"""Source tables, raw zone -> curated zone: drift guard, typing, cleaning, quarantine, dedup, DQ.

The raw zone holds what the extract wrote for each source table (see
:mod:`undercurrent_glue.extract`): the declared columns, ``_run_id``, ``_extracted_at`` and
the partition columns ``ingest_date`` (and ``run_id`` for incremental tables). A snapshot
table is read from its latest ``ingest_date`` partition only; an incremental table from
every partition (the curated table is the table's full current state). For one table,
:func:`curate_table` then:

1. checks the raw schema against the declaration (:func:`check_drift`, before any
   transform): an undeclared column is allowed, reported and carried into curated; a
   removed, renamed or retyped (not a safe cast) declared column raises
   :class:`SourceSchemaDriftError`;
2. casts each declared column to its declared type (safe casts only; ``timestamp_ntz`` is
   read as UTC wall-clock time) and cleans strings (:func:`standardize`): leading and
   trailing whitespace removed, inner runs of whitespace collapsed to one space, empty
   strings -> null, and values of an ``allowed_values`` column matched case-insensitively
   and rewritten with the declared spelling. Timestamps are UTC instants (Spark
   ``timestamp``; the jobs run with the UTC session time zone, and nothing here depends
   on it);
3. applies the row-level ``quarantine`` rules (:func:`undercurrent_glue.quality.row_failures`):
   a row failing one goes to the quarantine with the name of the first rule it failed;
4. keeps, per ``primary_key``, the latest passing version: greatest ``updated_at``, then
   greatest ``_extracted_at``, then greatest raw ``_run_id``, then greatest
   ``ingest_date``, then a hash of the row (deterministic for every input). A failing
   latest version is quarantined and the previous passing version stays current;
5. checks the ``block``/``warn`` rules on the result
   (:func:`undercurrent_glue.quality.measure`);
6. accounts for every row: ``rows_in == rows_curated + rows_quarantined +
   duplicates_removed`` (raises :class:`AccountingError` if not).

References rules read the curated tables they point to, so tables are curated in
:func:`dependency_order` (parents first). Nothing here imports ``awsglue`` or does I/O;
the job ``jobs/source_raw_to_curated.py`` reads and writes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from pyspark.sql import Column, DataFrame, Window, functions as F
from pyspark.sql.types import StringType, StructType

from undercurrent_glue import quality
from undercurrent_glue.extract import (
    EXTRACTED_AT_COLUMN,
    RUN_ID_COLUMN,
    RUN_ID_PARTITION,
    _cast as _safe_cast,
    cast_is_safe,
)
from undercurrent_glue.frames import checkpoint, release
from undercurrent_glue.ingest_dates import INGEST_DATE
from undercurrent_glue.metrics import AccountingError, RowCounts, check_accounting  # noqa: F401 - AccountingError is part of this API
from undercurrent_glue.schema import reference_order, spark_type
from undercurrent_glue.text import clean_whitespace

#: Raw columns the extract adds (metadata and partition columns); not compared with the declaration.
RAW_EXTRA_COLUMNS = (RUN_ID_COLUMN, EXTRACTED_AT_COLUMN, INGEST_DATE, RUN_ID_PARTITION)
#: Raw columns every raw table must have besides the declared ones.
REQUIRED_RAW_COLUMNS = (RUN_ID_COLUMN, EXTRACTED_AT_COLUMN, INGEST_DATE)
#: The column the dedup orders by first, when declared.
UPDATED_AT = "updated_at"
#: Columns of the quarantine DataFrame, in order; the last is its partition column.
QUARANTINE_COLUMNS = ("record", "rule", "run_id", "quarantined_at", INGEST_DATE)

_RAW = "__raw"
_ROW_HASH = "__row_hash"
_SOURCE_RUN_ID = "__source_run_id"
_RANK = "__rank"


class DriftChange(NamedTuple):
    """One declared column that no longer matches the raw data.

    ``change`` is ``removed`` (missing, no candidate), ``renamed`` (missing, and an
    undeclared column of a compatible type appeared: ``found`` is its name) or ``retyped``
    (``found`` is the raw type, which does not cast safely to ``declared``).
    """

    column: str
    change: str
    declared: str
    found: str | None = None

    def describe(self) -> str:
        if self.change == "removed":
            return f"column '{self.column}' ({self.declared}) was removed"
        if self.change == "renamed":
            return f"column '{self.column}' appears renamed to '{self.found}'"
        if self.change == "retyped":
            return (
                f"column '{self.column}' changed type from {self.declared} to {self.found}, "
                "which is not a safe cast"
            )
        return f"column '{self.column}' is missing: {self.declared}"  # metadata columns


class SourceSchemaDriftError(Exception):
    """The raw data of a source table no longer matches its declaration; it is not curated.

    Attributes:
        dataset: the source table.
        problems: one :class:`DriftChange` per removed, renamed or retyped column.
    """

    def __init__(self, dataset: str, problems: Sequence[DriftChange]):
        self.dataset = dataset
        self.problems = list(problems)
        details = "; ".join(p.describe() for p in self.problems)
        super().__init__(
            f"Schema drift in dataset '{dataset}': {details}. Its curated table was left as it was; "
            f"update schemas/source/{dataset}.json or fix the source."
        )




@dataclass(frozen=True)
class DriftReport:
    """The outcome of :func:`check_drift` for a table whose drift is allowed.

    Attributes:
        table: the source table.
        added: undeclared raw columns (carried into curated), in raw order.
    """

    table: str
    added: tuple[str, ...] = ()

    @property
    def drifted(self) -> bool:
        """Whether the raw schema differs from the declaration at all (added columns)."""
        return bool(self.added)


#: Row accounting of one table: ``rows_in == rows_curated + rows_quarantined + duplicates_removed``.
CurateCounts = RowCounts


class CurateResult(NamedTuple):
    """What :func:`curate_table` returns; nothing is written yet.

    Attributes:
        table: the source table.
        curated: the curated rows: declared columns, ``_extracted_at``, ``_run_id``,
            carried columns.
        quarantine: the quarantined rows (:data:`QUARANTINE_COLUMNS`).
        counts: the accounting.
        drift: the drift report (added columns).
        results: one result per block/warn rule, on ``curated``.
        cached: the kept intermediate frames (:func:`undercurrent_glue.frames.checkpoint`), dropped by :meth:`release`.
    """

    table: str
    curated: DataFrame
    quarantine: DataFrame
    counts: CurateCounts
    drift: DriftReport
    results: list[quality.RuleResult]
    cached: tuple[DataFrame, ...] = ()

    @property
    def failures(self) -> list[quality.RuleResult]:
        """Failed ``block`` rules: the table must not be published."""
        return [r for r in self.results if r.blocking_failure]

    @property
    def warnings(self) -> list[quality.RuleResult]:
        """Failed ``warn`` rules."""
        return [r for r in self.results if r.warning]

    def release(self) -> None:
        """Drop the kept intermediate frames (call after writing)."""
        for frame in self.cached:
            release(frame)


def check_drift(table: str, raw_schema: StructType, declaration: Mapping[str, Any]) -> DriftReport:
    """Compare a raw table's schema with its declaration (types only, no data read).

    The raw metadata and partition columns (:data:`RAW_EXTRA_COLUMNS`) are left out of the
    comparison; ``_run_id``, ``_extracted_at`` and ``ingest_date`` must be there. Names are
    compared exactly (the extract writes the declared, lower-case names). A declared column
    that is missing is reported as renamed when an undeclared raw column whose type casts
    safely to the declared one appeared (the first such in raw order, each used once),
    else as removed.

    Returns:
        :class:`DriftReport` with the undeclared raw columns (not consumed by a rename).

    Raises:
        SourceSchemaDriftError: a declared column was removed, renamed or retyped (its raw
            type does not cast safely, :func:`undercurrent_glue.extract.cast_is_safe`), or
            a metadata column is missing; the message names the dataset and each column.
    """
    fields = {f.name: f for f in raw_schema.fields}
    declared_names = [c["name"] for c in declaration["columns"]]
    candidates = [f for f in raw_schema.fields if f.name not in declared_names and f.name not in RAW_EXTRA_COLUMNS]
    problems: list[DriftChange] = []
    missing = []
    for column in declaration["columns"]:
        name, declared_type = column["name"], column["type"]
        declared = spark_type(declared_type, name)
        field = fields.get(name)
        if field is None:
            missing.append((name, declared_type, declared))
        elif not cast_is_safe(field.dataType, declared):
            problems.append(DriftChange(name, "retyped", declared_type, field.dataType.simpleString()))
    for name, declared_type, declared in missing:
        match = next((f for f in candidates if cast_is_safe(f.dataType, declared)), None)
        if match is None:
            problems.append(DriftChange(name, "removed", declared_type))
        else:
            candidates.remove(match)
            problems.append(DriftChange(name, "renamed", declared_type, match.name))
    for name in REQUIRED_RAW_COLUMNS:
        if name not in fields:
            problems.append(DriftChange(name, "metadata", "a raw metadata column the extract writes"))
    if problems:
        order = {n: i for i, n in enumerate(declared_names)}
        problems.sort(key=lambda p: order.get(p.column, len(order)))
        raise SourceSchemaDriftError(table, problems)
    return DriftReport(table, tuple(f.name for f in candidates))


def _clean_string(column: Column) -> Column:
    cleaned = clean_whitespace(column)
    return F.when(cleaned != "", cleaned)


def _declared_spelling(column: Column, values: Sequence[str]) -> Column:
    """Rewrite a value equal, ignoring case, to one of ``values`` with that value's spelling."""
    expression = None
    for value in values:
        test = F.lower(column) == F.lit(value.lower())
        expression = F.when(test, F.lit(value)) if expression is None else expression.when(test, F.lit(value))
    return expression.otherwise(column) if expression is not None else column


def standardize(raw: DataFrame, declaration: Mapping[str, Any], rules: Sequence[quality.Rule]) -> list[Column]:
    """The declared columns of ``raw``, cast to their declared types and cleaned (see the module doc).

    Args:
        raw: the raw rows; every declared column present with a type that casts safely
            (checked by :func:`check_drift`).
        declaration: the source declaration.
        rules: the table's rules; ``allowed_values`` rules on string columns decide the
            declared spellings.
    """
    spellings: dict[str, list[str]] = {}
    for rule in rules:
        if rule.kind == quality.ALLOWED_VALUES:
            spellings.setdefault(rule.columns[0], []).extend(rule.params["values"])
    columns = []
    for column in declaration["columns"]:
        name = column["name"]
        declared = spark_type(column["type"], name)
        value = _safe_cast(F.col(f"`{name}`"), raw.schema[name].dataType, declared)
        if isinstance(declared, StringType):
            value = _clean_string(value)
            if name in spellings:
                value = _declared_spelling(value, list(dict.fromkeys(spellings[name])))
        columns.append(value.alias(name))
    return columns


def curated_columns(declaration: Mapping[str, Any], drift: DriftReport) -> list[str]:
    """The curated columns, in order: declared, ``_extracted_at``, ``_run_id``, carried columns."""
    return [c["name"] for c in declaration["columns"]] + [EXTRACTED_AT_COLUMN, RUN_ID_COLUMN, *drift.added]


def curate_table(
    raw: DataFrame,
    declaration: Mapping[str, Any],
    references: Mapping[str, DataFrame],
    run_id: str,
    now: dt.datetime,
) -> CurateResult:
    """Curate one source table (see the module doc for the steps).

    Runs two Spark actions: the accounting aggregate, which keeps the ranked rows
    (:func:`undercurrent_glue.frames.checkpoint`), and the rules' aggregate over the curated
    rows read from them; writing is the caller's.

    Args:
        raw: the raw rows to curate (a snapshot's latest partition, or every partition of
            an incremental table), with the metadata and partition columns.
        declaration: the table's source declaration.
        references: the curated DataFrame of each other dataset its references rules name
            (a rule naming the table itself checks against this input).
        run_id: the curate run (``_run_id`` of the curated rows, ``run_id`` of the quarantine).
        now: the run's instant (time-zone aware): ``quarantined_at`` and freshness.

    Raises:
        SourceSchemaDriftError: see :func:`check_drift`.
        AccountingError: the counts do not add up.
        ValueError: invalid rules or arguments.
    """
    if not isinstance(now, dt.datetime) or now.utcoffset() is None:
        raise ValueError(f"now must be a time-zone-aware datetime; got {now!r}.")
    table = declaration["name"]
    drift = check_drift(table, raw.schema, declaration)
    rules = quality.load_rules(declaration, quality.CURATED)
    primary_key = list(declaration["primary_key"])
    declared_names = [c["name"] for c in declaration["columns"]]

    raw_columns = [F.col(f"`{c}`") for c in raw.columns]
    typed = raw.select(
        *standardize(raw, declaration, rules),
        F.col(EXTRACTED_AT_COLUMN).cast("timestamp").alias(EXTRACTED_AT_COLUMN),
        F.col(RUN_ID_COLUMN).cast("string").alias(_SOURCE_RUN_ID),
        F.col(INGEST_DATE).cast("date").alias(INGEST_DATE),
        *[F.col(f"`{c}`") for c in drift.added],
        F.struct(*raw_columns).alias(_RAW),
        F.xxhash64(*raw_columns).alias(_ROW_HASH),
    )
    all_references = dict(references)
    if table in quality.reference_datasets(rules):
        all_references[table] = typed
    flagged = quality.row_failures(typed, rules, all_references)

    passing = F.col(quality.FAILED_RULE).isNull()
    order = [F.col(UPDATED_AT).desc_nulls_last()] if UPDATED_AT in declared_names else []
    order += [
        F.col(EXTRACTED_AT_COLUMN).desc_nulls_last(),
        F.col(_SOURCE_RUN_ID).desc_nulls_last(),
        F.col(INGEST_DATE).desc_nulls_last(),
        F.col(_ROW_HASH).desc(),
    ]
    window = Window.partitionBy(*[F.col(f"`{c}`") for c in primary_key], passing).orderBy(*order)
    # Only a quarantined row keeps its raw record (as JSON), before the shuffle of the
    # ranking: neither the shuffle nor the kept rows carry a copy of the others.
    ranked = checkpoint(
        flagged.withColumn(_RAW, F.when(~passing, F.to_json(F.col(_RAW))))
        .withColumn(_RANK, F.when(passing, F.row_number().over(window)))
        .drop(_ROW_HASH)
    )

    totals = ranked.agg(
        F.count(F.lit(1)).alias("rows_in"),
        F.count(F.col(quality.FAILED_RULE)).alias("quarantined"),
        F.count(F.when(F.col(_RANK) > 1, 1)).alias("duplicates"),
    ).collect()[0]

    curated = ranked.where(F.col(_RANK) == 1).select(
        *[F.col(f"`{c}`") for c in declared_names],
        F.col(EXTRACTED_AT_COLUMN),
        F.lit(run_id).cast("string").alias(RUN_ID_COLUMN),
        *[F.col(f"`{c}`") for c in drift.added],
    )
    if table in all_references:
        all_references[table] = curated
    # One row per primary key by construction (rank 1 of the passing rows of each key).
    measurement = quality.measure(curated, rules, all_references, now, unique_by=primary_key)
    counts = CurateCounts(
        rows_in=int(totals["rows_in"]),
        rows_curated=measurement.row_count,
        rows_quarantined=int(totals["quarantined"]),
        duplicates_removed=int(totals["duplicates"]),
    )
    check_accounting(table, counts)

    quarantine = ranked.where(~passing).select(
        F.col(_RAW).alias("record"),
        F.col(quality.FAILED_RULE).alias("rule"),
        F.lit(run_id).cast("string").alias("run_id"),
        F.lit(now.astimezone(dt.UTC)).cast("timestamp").alias("quarantined_at"),
        F.col(INGEST_DATE),
    )
    return CurateResult(table, curated, quarantine, counts, drift, measurement.results, (ranked,))


def dependency_order(tables: Sequence[str], rules_by_table: Mapping[str, Sequence[quality.Rule]]) -> list[str]:
    """Order ``tables`` so that every table comes after the tables its references rules name.

    Only references between tables of ``tables`` count; a reference to the table itself is
    ignored. Among tables whose parents are done, the alphabetically first goes next, so
    the order is deterministic: :func:`undercurrent_glue.schema.reference_order`, the one
    order function of the package (of all source tables it gives
    :func:`undercurrent_glue.schema.source_load_order`).

    Raises:
        ValueError: the references form a cycle (names the tables on it).
    """
    return reference_order({t: quality.reference_datasets(rules_by_table.get(t, ())) for t in tables})


def metrics(counts: CurateCounts | None, drift: DriftReport | None, drifted: bool,
            results: Sequence[quality.RuleResult]) -> dict[str, float]:
    """The metric values of one table (metric names of :mod:`undercurrent_glue.metrics`)."""
    from undercurrent_glue import metrics as m

    values: dict[str, float] = {
        m.SCHEMA_DRIFT: 1 if drifted else 0,
        m.COLUMNS_ADDED: len(drift.added) if drift else 0,
        m.DATA_QUALITY_WARNINGS: sum(1 for r in results if r.warning),
        m.DATA_QUALITY_FAILURES: sum(1 for r in results if r.blocking_failure),
    }
    if counts is not None:
        values.update(m.count_metrics(counts))
    return values


class SourceCurationError(Exception):
    """At least one table of the run was not curated (drift, blocking data quality, no raw
    data); the other tables were. Raised at the end of the run, so the Glue run fails.

    Attributes:
        failures: table -> the error that stopped it, in processing order.
        counts: the counts of the tables that were curated.
    """

    def __init__(self, failures: Mapping[str, Exception], counts: Mapping[str, CurateCounts]):
        self.failures = dict(failures)
        self.counts = dict(counts)
        details = " | ".join(f"{table}: {error}" for table, error in self.failures.items())
        super().__init__(
            f"{len(self.failures)} source table(s) not curated ({', '.join(self.failures)}); their curated "
            f"tables were left as they were: {details}"
        )


class RawDataNotFoundError(Exception):
    """A table to curate has no raw data (no directory, or no ``ingest_date=`` partition)."""
