"""Clickstream raw -> curated: parse, validate, clean and deduplicate click events.

Kinesis Data Firehose delivers click events to the raw zone as GZIP files of JSON lines
(one JSON object per line) under ``event_date=YYYY-MM-DD/ingest_date=YYYY-MM-DD/``
(``event_date``: the first 10 characters of the producer's ``event_time``;
``ingest_date``: the UTC arrival date). The job reads a window of ingest dates with
``spark.read.text``, giving a string column ``value`` and a date column ``ingest_date``
(the raw ``event_date`` directory is not passed on: ``event_date`` is computed here);
the functions here take that DataFrame and return

* the curated events: the columns of ``schemas/clickstream_event.json``, typed, trimmed,
  ``event_type`` lower case, ``event_time`` a UTC instant, plus the partition columns
  ``event_date`` (the UTC calendar date of ``event_time``) and ``ingest_date`` (the raw
  partition the kept line came from), one row per ``event_id``;
* the quarantine: every line that failed a rule, kept verbatim (``raw_line``) with the
  name of the first rule it failed (``rule``), the ``run_id``, ``quarantined_at`` and
  the ``ingest_date`` it came from.

No line is lost: ``rows_in == rows_curated + rows_quarantined + duplicates_removed``.

Deduplication keeps, per ``event_id``, the copy from the earliest ``ingest_date``, then
the earliest ``event_time``, then the smallest values of the other declared columns, in
declared order (copies equal in all of them make the same curated row). It only sees the
input it is given, i.e. the job's window of ingest dates: an event whose copies arrived on
ingest dates that are never in the same window (e.g. two days apart with the default
two-day lookback) is not removed here and appears once per such ingest date in the curated
zone; a later stage's merge on ``event_id`` removes it.

Rules, checked in this order (a line gets the first it fails):

1. ``malformed_json``: not a single JSON object (unparseable, blank, an array or a scalar,
   or text after the object, such as two objects on one line);
2. ``missing_<column>``: a non-nullable column is absent, null or blank (declared order:
   ``missing_event_id``, ``missing_event_type``, ``missing_event_time``,
   ``missing_session_id``, ``missing_page_url``);
3. ``invalid_event_type``: not one of the declared ``allowed_values`` (case-insensitive);
4. ``invalid_<column>`` for a value that does not convert to its declared type:
   ``invalid_event_time`` (not ISO-8601 ``yyyy-MM-ddTHH:mm:ss[.fraction]`` with a ``Z`` or
   ``+hh:mm`` offset, or not a real instant), ``invalid_customer_number`` (not an integer
   in the int range).

Nothing here depends on the session or machine time zone: an ``event_time`` without an
offset is rejected rather than read in a local zone, and ``event_date`` is computed from
the epoch, not with the session time zone.
"""

from __future__ import annotations

import copy
import functools
from typing import Any, NamedTuple

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, Window, WindowSpec, functions as F
from pyspark.sql.types import DateType, StringType, StructField, StructType

from undercurrent_glue.frames import checkpoint, release
from undercurrent_glue.ingest_dates import INGEST_DATE
from undercurrent_glue.metrics import AccountingError, RowCounts, check_accounting as _check_accounting  # noqa: F401 - AccountingError is part of this API
from undercurrent_glue.schema import load_declaration, spark_type
from undercurrent_glue.text import trim_whitespace

#: Name of the declaration file (``schemas/clickstream_event.json``).
DECLARATION = "clickstream_event"
#: The input column, as produced by ``spark.read.text``.
VALUE_COLUMN = "value"
#: The verbatim input line, kept on quarantined rows and on :func:`parse_events`'s valid rows.
RAW_LINE = "raw_line"
#: The name of the rule a quarantined row failed.
RULE = "rule"
#: Curated partition column: the UTC calendar date of ``event_time``.
EVENT_DATE = "event_date"
#: The curated partition columns, in order (as declared in ``partition_keys``).
PARTITION_COLUMNS = (EVENT_DATE, INGEST_DATE)
#: Columns of the quarantine DataFrame, in order; the last one is its partition column.
QUARANTINE_COLUMNS = (RAW_LINE, RULE, "run_id", "quarantined_at", INGEST_DATE)
MALFORMED_JSON = "malformed_json"

_CORRUPT = "_corrupt_record"
_RANK = "_dup_rank"
# ISO-8601 date-time with seconds and an explicit offset; fractions beyond microseconds
# are truncated by Spark.
_ISO_INSTANT = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$"
# Spark's JSON parser silently ignores text after the first object, so a line holding
# two objects (Firehose records written without a newline) would lose all but the first.
# Such a line is malformed when it does not end with "}" or when an object starts right
# after one ends ("}{" followed by a key or "}"; inside a JSON string that can only occur
# at the very end of the string, a rare false positive that is quarantined, not lost).
_TRAILING_CONTENT = r"\}\s*\{\s*[\"}]"


class ParseResult(NamedTuple):
    """Output of :func:`parse_events`: valid events (with ``raw_line``) and quarantined lines."""

    valid: DataFrame
    quarantine: DataFrame


class DedupResult(NamedTuple):
    """Output of :func:`deduplicate`: one row per ``event_id`` and how many rows were dropped."""

    events: DataFrame
    duplicates_removed: int


#: Row counts of one :func:`transform_clickstream` run.
ClickstreamCounts = RowCounts


class ClickstreamResult(NamedTuple):
    """Output of :func:`transform_clickstream`."""

    curated: DataFrame
    quarantine: DataFrame
    counts: ClickstreamCounts


@functools.cache
def _declaration() -> dict[str, Any]:
    return load_declaration(DECLARATION)


def declaration() -> dict[str, Any]:
    """Return a copy of the clickstream event declaration (``schemas/clickstream_event.json``)."""
    return copy.deepcopy(_declaration())


def partition_columns() -> list[str]:
    """Return the curated partition columns in order: ``event_date``, then ``ingest_date``.

    Raises:
        ValueError: the declaration's ``partition_keys`` are not exactly these (the code
            computes them, so the declaration must not drift from it).
    """
    declared = [key["name"] for key in _declaration().get("partition_keys", [])]
    if declared != list(PARTITION_COLUMNS):
        raise ValueError(
            f"schemas/{DECLARATION}.json declares partition_keys {declared}; the clickstream "
            f"transform writes {list(PARTITION_COLUMNS)}."
        )
    return declared


def curated_columns() -> list[str]:
    """Return the curated columns in order: the declared columns, then the partition columns."""
    return [c["name"] for c in _declaration()["columns"]] + partition_columns()


def _rule_specs() -> list[tuple[str, str, str]]:
    """(rule name, kind, column) in checking order; kinds: malformed, missing, allowed, type."""
    decl = _declaration()
    specs: list[tuple[str, str, str]] = [(MALFORMED_JSON, "malformed", "")]
    specs += [(f"missing_{c['name']}", "missing", c["name"]) for c in decl["columns"] if not c["nullable"]]
    allowed = decl.get("allowed_values", {})
    specs += [(f"invalid_{name}", "allowed", name) for name in allowed]
    specs += [
        (f"invalid_{c['name']}", "type", c["name"])
        for c in decl["columns"]
        if c["type"] != "string" and c["name"] not in allowed
    ]
    return specs


def rule_names() -> list[str]:
    """Return every quarantine rule name, in the order the rules are checked."""
    return [name for name, _, _ in _rule_specs()]


def utc_date(timestamp: Column) -> Column:
    """Return the UTC calendar date of a timestamp column, whatever the session time zone."""
    # Whole days since the epoch; on seconds, the double division is exact far beyond
    # the precision needed to place an instant on the right side of midnight.
    seconds_per_day = 86_400
    return F.date_from_unix_date(F.floor(F.unix_seconds(timestamp) / seconds_per_day).cast("int"))


def _text(name: str) -> str:
    """Internal column holding the stripped text of a declared column."""
    return f"_text_{name}"


def _strip(column: Column, plain: Column) -> Column:
    """Trim all edge whitespace; blank becomes null.

    ``plain``: the value comes from a line without a backslash. JSON allows no raw control
    character in a string (Spark's parser rejects the line), so such a value's only possible
    whitespace is the space, which ``F.trim`` removes without the costlier scan of
    :func:`~undercurrent_glue.text.trim_whitespace`. A value whose JSON is not a string (a
    number, an object) is compact JSON text from the parser, with no whitespace outside its
    strings.
    """
    stripped = F.when(plain, F.trim(column)).otherwise(trim_whitespace(column))
    return F.when(stripped != "", stripped)


def _convert(name: str, type_string: str) -> Column:
    """Convert the stripped text of ``name`` to its declared type; null if it does not convert."""
    text = F.col(_text(name))
    if type_string == "string":
        return text
    if type_string == "timestamp":
        # The explicit offset makes the instant independent of the session time zone.
        return F.when(text.rlike(_ISO_INSTANT), F.try_to_timestamp(text))
    # try_cast never raises, also with spark.sql.ansi.enabled=true; "1.5" -> null for int.
    return F.expr(f"try_cast(`{_text(name)}` AS {spark_type(type_string, name).simpleString()})")


def _check_input(lines_df: DataFrame, run_id: str) -> None:
    if not isinstance(run_id, str) or not run_id.strip():
        raise ValueError("run_id must be a non-empty string (the Glue JOB_RUN_ID).")
    fields = {f.name: f.dataType for f in lines_df.schema.fields}
    if not isinstance(fields.get(VALUE_COLUMN), StringType):
        raise ValueError(
            f"lines_df must have a string column '{VALUE_COLUMN}' (as from spark.read.text); "
            f"got columns {sorted(fields)}."
        )
    if not isinstance(fields.get(INGEST_DATE), DateType):
        raise ValueError(
            f"lines_df must have a date column '{INGEST_DATE}' (the raw partition each line was "
            f"read from); got columns {sorted(fields)}."
        )


def _classify(lines_df: DataFrame) -> DataFrame:
    """Parse every line and attach its first failing rule (null when the line is valid).

    Returns one row per input line with ``raw_line``, ``rule``, the typed and cleaned
    declared columns and the partition columns.
    """
    decl = _declaration()
    columns = decl["columns"]
    allowed = decl.get("allowed_values", {})
    # Every declared field is read as a string first: a wrong type is then a named rule
    # instead of a silent null, and non-string JSON values keep their JSON text.
    parse_schema = StructType(
        [StructField(c["name"], StringType()) for c in columns] + [StructField(_CORRUPT, StringType())]
    )
    parsed = lines_df.select(F.col(VALUE_COLUMN).alias(RAW_LINE), INGEST_DATE).withColumn(
        "_json",
        F.from_json(
            F.col(RAW_LINE),
            parse_schema,
            {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": _CORRUPT},
        ),
    )
    plain = ~F.col(RAW_LINE).contains("\\")
    texts = []
    for c in columns:
        text = _strip(F.col("_json")[c["name"]], plain)
        if c["name"] in allowed:
            text = F.lower(text)
        texts.append(text.alias(_text(c["name"])))
    stripped = parsed.select(RAW_LINE, INGEST_DATE, "_json", *texts)
    typed = stripped.select(
        RAW_LINE,
        INGEST_DATE,
        "_json",
        *[_text(c["name"]) for c in columns],
        *[_convert(c["name"], c["type"]).alias(c["name"]) for c in columns],
    )

    rule: Column = F.lit(None).cast(StringType())
    first = True
    for name, kind, column in _rule_specs():
        if kind == "malformed":
            line = F.col(RAW_LINE)
            condition = (
                F.col("_json").isNull()
                | F.col("_json")[_CORRUPT].isNotNull()
                # The cheap test first: nearly every line ends with "}" itself.
                | (~line.endswith("}") & ~trim_whitespace(line).endswith("}"))
                # The regex only where it can match: a "{" that follows a "}" is not in the
                # line's leading run of "{" (a flat event has no other "{").
                | (F.expr(f"trim(LEADING '{{' FROM {RAW_LINE})").contains("{") & line.rlike(_TRAILING_CONTENT))
            )
        elif kind == "missing":
            condition = F.col(_text(column)).isNull()
        elif kind == "allowed":
            condition = F.col(_text(column)).isNotNull() & ~F.col(_text(column)).isin(allowed[column])
        else:  # type
            condition = F.col(_text(column)).isNotNull() & F.col(column).isNull()
        rule = F.when(condition, F.lit(name)) if first else rule.when(condition, F.lit(name))
        first = False

    event_time = next(c["name"] for c in columns if c["type"] == "timestamp")
    return typed.select(
        RAW_LINE,
        rule.alias(RULE),
        *[F.col(c["name"]) for c in columns],
        utc_date(F.col(event_time)).alias(EVENT_DATE),
        INGEST_DATE,
    )


def _quarantine_view(classified: DataFrame) -> DataFrame:
    return classified.filter(F.col(RULE).isNotNull()).select(*QUARANTINE_COLUMNS)


def _with_run_columns(classified: DataFrame, run_id: str) -> DataFrame:
    return classified.withColumn("run_id", F.lit(run_id)).withColumn(
        "quarantined_at", F.current_timestamp()
    )


def parse_events(lines_df: DataFrame, run_id: str) -> ParseResult:
    """Parse and validate raw JSON lines into valid events and quarantined lines.

    Args:
        lines_df: a string column ``value`` and a date column ``ingest_date``, one row per
            raw line (as the job reads the raw ``ingest_date=`` directories).
        run_id: identifies this run on quarantined rows (the Glue ``JOB_RUN_ID``).

    Returns:
        :class:`ParseResult` with ``valid`` (the curated columns, see :func:`curated_columns`,
        plus ``raw_line``; not yet deduplicated) and ``quarantine``
        (:data:`QUARANTINE_COLUMNS`). Every input row is in exactly one of the two.
        Both are lazy; cache the input if you act on both.

    Raises:
        ValueError: ``lines_df`` has no string ``value`` or no date ``ingest_date`` column,
            or ``run_id`` is empty.
    """
    _check_input(lines_df, run_id)
    classified = _with_run_columns(_classify(lines_df), run_id)
    valid = classified.filter(F.col(RULE).isNull()).select(*curated_columns(), RAW_LINE)
    return ParseResult(valid, _quarantine_view(classified))


def _dedup_order() -> list[str]:
    """The columns that rank the copies of one event_id, after ``ingest_date``: ``event_time``,
    then the other declared columns in declared order."""
    others = [c["name"] for c in _declaration()["columns"] if c["name"] not in ("event_id", "event_time")]
    return ["event_time", *others]


def _dedup_window(by_ingest_date: bool = True) -> WindowSpec:
    """Rank rows of one event_id: earliest ingest_date, then event_time, then the smallest
    values of the other declared columns (:func:`_dedup_order`).

    The earliest ingest date comes first so that a copy arriving later never displaces a
    row already written for an earlier ingest date (that partition would keep it too). The
    order is total on what is kept: copies that tie on every column are the same row.
    """
    order = [F.col(INGEST_DATE).asc()] if by_ingest_date else []
    return Window.partitionBy(F.col("event_id")).orderBy(
        *order, *[F.col(c).asc() for c in _dedup_order()]
    )


def deduplicate(df: DataFrame) -> DedupResult:
    """Keep one row per ``event_id``: the earliest ``ingest_date`` (when ``df`` has it), then
    the earliest ``event_time``, then the smallest values of the other declared columns.

    The choice is deterministic: the same input gives the same rows whatever its
    partitioning or order. Runs one Spark action (the count of removed rows) on a
    persisted ranking, which the returned DataFrame reuses. Only duplicates within ``df``
    are removed (the job's window of ingest dates; see the module docstring).

    Args:
        df: valid events with the declared columns (as in :attr:`ParseResult.valid`).

    Returns:
        :class:`DedupResult` with the kept rows (same columns as ``df``) and the number
        of rows removed.

    Raises:
        ValueError: a required column is missing.
    """
    missing = [c for c in ("event_id", *_dedup_order()) if c not in df.columns]
    if missing:
        raise ValueError(f"deduplicate needs columns {missing}; pass ParseResult.valid.")
    window = _dedup_window(by_ingest_date=INGEST_DATE in df.columns)
    ranked = df.withColumn(_RANK, F.row_number().over(window)).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    removed = ranked.filter(F.col(_RANK) > 1).count()
    return DedupResult(ranked.filter(F.col(_RANK) == 1).drop(_RANK), removed)


def _id_hash(event_id: Column) -> Column:
    """The 64-bit hash :func:`transform_clickstream` groups the valid lines by."""
    return F.xxhash64(event_id)


def transform_clickstream(lines_df: DataFrame, run_id: str) -> ClickstreamResult:
    """Run the whole raw -> curated transform: parse, validate, clean, deduplicate, count.

    Deduplication covers ``lines_df`` only, i.e. the job's window of ingest dates: an
    event duplicated across ingest dates that are never in one window is not removed
    here (each copy lands under its own ``ingest_date``); a later stage's merge on
    ``event_id`` handles it. Within the window the copy from the earliest ingest date is
    kept (see :func:`deduplicate`).

    The classified lines are kept (:func:`undercurrent_glue.frames.checkpoint`) by one
    aggregation, the only pass over the raw files, which counts the valid lines per 64-bit
    hash of ``event_id`` and the quarantined lines (only that hash is shuffled); the counts
    come from those per-hash rows. When some hash is held by several lines (copies of an
    id, or, very rarely, distinct ids), two more small actions keep those hashes and count
    their lines' distinct ids exactly, and only those lines are ranked (:func:`_dedup_window`,
    the same order as :func:`deduplicate`). The returned DataFrames read from the kept
    lines, so writing them does not re-read the raw files. Only a quarantined line keeps
    its ``raw_line``; the run columns (``run_id``, ``quarantined_at``) are added by the
    quarantine's own query, so ``quarantined_at`` is one instant for all its rows.

    Args:
        lines_df: a string column ``value`` and a date column ``ingest_date``, one row per
            raw line (as the job reads the raw ``ingest_date=`` directories).
        run_id: identifies this run on quarantined rows (the Glue ``JOB_RUN_ID``).

    Returns:
        :class:`ClickstreamResult` with ``curated`` (:func:`curated_columns`, one row per
        ``event_id``), ``quarantine`` (:data:`QUARANTINE_COLUMNS`) and
        :class:`ClickstreamCounts`.

    Raises:
        ValueError: bad arguments (see :func:`parse_events`), or a line without an
            ``ingest_date``.
        AccountingError: rows_in != rows_curated + rows_quarantined + duplicates_removed.
    """
    _check_input(lines_df, run_id)
    # The raw lines are parsed once: the classified lines are kept, not shuffled; a valid
    # line's raw text (most of a row's size) is not needed any more.
    is_valid = F.col(RULE).isNull()
    classified = checkpoint(_classify(lines_df).withColumn(RAW_LINE, F.when(~is_valid, F.col(RAW_LINE))))
    valid = classified.filter(is_valid)
    # One pass over the lines (it keeps them) groups them by a 64-bit hash of the event_id of
    # the valid lines, and the quarantined lines under a null key: only that long is shuffled
    # (hashing and shuffling a long costs far less than the id's text). Distinct ids that
    # share a hash look like copies of one id here; they are told apart exactly below.
    id_hash = _id_hash(F.col("event_id"))
    per_hash = (
        classified.groupBy(F.when(is_valid, id_hash).alias("_hash"))
        .agg(
            F.count(F.lit(1)).alias("_rows"),
            F.count(F.when(F.col(INGEST_DATE).isNull(), 1)).alias("_no_ingest_date"),
        )
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    is_hash = F.col("_hash").isNotNull()
    row = per_hash.agg(
        F.sum("_rows").alias("rows_in"),
        F.sum(F.when(~is_hash, F.col("_rows"))).alias("rows_quarantined"),
        F.sum(F.when(is_hash & (F.col("_rows") > 1), 1)).alias("shared_hashes"),
        F.sum("_no_ingest_date").alias("_no_ingest_date"),
    ).first()
    assert row is not None  # an aggregate without grouping has exactly one row
    if row["_no_ingest_date"]:
        per_hash.unpersist()
        release(classified)
        raise ValueError(
            f"{row['_no_ingest_date']} input line(s) have a null '{INGEST_DATE}'; every line must "
            "carry the raw partition it was read from."
        )
    rows_in = int(row["rows_in"] or 0)
    rows_quarantined = int(row["rows_quarantined"] or 0)
    if not row["shared_hashes"]:
        duplicates = 0
        curated = valid.select(*curated_columns())
    else:
        # The hashes held by several valid lines (usually none; a few when copies arrived):
        # only their lines are compared by event_id, and only they are ranked.
        shared = (
            per_hash.filter(is_hash & (F.col("_rows") > 1)).select("_hash").persist(StorageLevel.MEMORY_AND_DISK)
        )
        # Materialized now, so the joins below see its real (usually small: broadcast) size.
        shared.count()
        candidates = valid.withColumn("_hash", id_hash)
        sharing = candidates.join(shared, "_hash", "left_semi")
        exact = sharing.agg(F.count(F.lit(1)).alias("rows"), F.count_distinct("event_id").alias("ids")).first()
        assert exact is not None  # an aggregate without grouping has exactly one row
        duplicates = int(exact["rows"]) - int(exact["ids"])
        singles = candidates.join(shared, "_hash", "left_anti")
        first_copies = sharing.withColumn(_RANK, F.row_number().over(_dedup_window())).filter(F.col(_RANK) == 1)
        curated = singles.select(*curated_columns()).unionByName(first_copies.select(*curated_columns()))
    per_hash.unpersist()
    counts = ClickstreamCounts(
        rows_in=rows_in,
        rows_curated=rows_in - rows_quarantined - duplicates,
        rows_quarantined=rows_quarantined,
        duplicates_removed=duplicates,
    )
    check_accounting(counts)
    return ClickstreamResult(curated, _quarantine_view(_with_run_columns(classified, run_id)), counts)


def check_accounting(counts: ClickstreamCounts) -> None:
    """Raise :class:`AccountingError` unless every input row is curated, quarantined or a duplicate."""
    _check_accounting("clickstream_events", counts)
