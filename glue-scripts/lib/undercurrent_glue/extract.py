"""Source database (MySQL) -> raw zone: extract plans, Glue JDBC options, conforming, layout.

Each source table is declared in ``schemas/source/<table>.json`` (see
:func:`undercurrent_glue.schema.load_source_declaration`); its ``extract`` block says how
the batch extract reads it:

* ``snapshot``: the whole table every run. The run's copy lands under
  ``<raw_root>/source/<table>/ingest_date=YYYY-MM-DD/`` (:func:`raw_table_path`) and replaces that day's copy
  (dynamic partition overwrite), so a rerun on the same day is idempotent and other days
  are never touched. The latest snapshot is the greatest ``ingest_date``. A run reading an
  empty table writes no partition (Spark writes none for no rows), so an earlier copy of
  the same day would stay; the job logs ``rows: 0``.
* ``incremental``: only rows past the Glue job bookmark on ``bookmark_keys`` (the source's
  ``updated_at``). Each run appends its increment under
  ``<raw_root>/source/<table>/ingest_date=YYYY-MM-DD/run_id=<run id>/``, so a second run on
  the same day never overwrites the first one's increment. The raw zone is at-least-once:
  a run that fails after writing some tables does not commit its bookmarks, so the next
  run extracts those rows again under its own run id; consumers keep, per
  ``primary_key``, the row with the greatest bookmark key. A run reads only rows whose
  bookmark key is above the value the last committed run recorded, so the key must only
  grow (``updated_at``, maintained by MySQL ``ON UPDATE``); a row committed later with a
  value at or below that maximum (an update in the same second, a long transaction) is
  missed, and deletes are not seen at all: a periodic full reload catches both.

Every raw row has exactly the declared columns, in declared order and declared types,
then the metadata columns ``_run_id`` (string, the Glue ``JOB_RUN_ID``) and
``_extracted_at`` (timestamp, the UTC instant of the extract), then the partition
columns (``ingest_date`` date; ``run_id`` string for incremental tables). ``_run_id`` is
kept in the files of both modes, so a file says which run wrote it even when copied out
of its directory.

Schema drift is decided on Spark types, never on data (:func:`conform`):

* a declared column missing in the source -> :class:`SchemaDriftError`;
* a source column whose type cannot be cast to the declared type without loss (see
  :func:`cast_is_safe`) -> :class:`SchemaDriftError` naming declared and found types;
* a source column that is not declared -> not an error, and **not carried into raw**:
  raw keeps the declared shape (the catalog table and every reader rely on it), so a new
  source column reaches the lake only by declaring it. It is returned in
  :attr:`ConformResult.added_columns` for the job to log as a warning.

Source column names are matched case-insensitively (MySQL column names are). Nothing
here depends on the session or machine time zone, and nothing imports ``awsglue``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from pyspark.sql import Column, DataFrame, functions as F
from pyspark.sql.types import (
    ByteType,
    CharType,
    DataType,
    DateType,
    DecimalType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    ShortType,
    StringType,
    StructField,
    TimestampNTZType,
    TimestampType,
    VarcharType,
)

from undercurrent_glue.ingest_dates import INGEST_DATE
from undercurrent_glue.schema import spark_type, validate_source_declaration

SNAPSHOT = "snapshot"
INCREMENTAL = "incremental"
#: Metadata column: the run that wrote the row (the Glue ``JOB_RUN_ID``).
RUN_ID_COLUMN = "_run_id"
#: Metadata column: the UTC instant the table was extracted.
EXTRACTED_AT_COLUMN = "_extracted_at"
#: Partition column of incremental tables, below ``ingest_date``.
RUN_ID_PARTITION = "run_id"
#: Metadata columns, in order, after the declared columns.
METADATA_COLUMNS = (RUN_ID_COLUMN, EXTRACTED_AT_COLUMN)
#: Directory of the source tables under the raw root.
RAW_SOURCE_PREFIX = "source"
#: Parquet compression of the raw zone.
RAW_COMPRESSION = "snappy"

_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")
_TABLE = re.compile(r"^[a-z][a-z0-9_]*$")
_DATABASE = re.compile(r"^[A-Za-z0-9_]{1,64}$")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# Decimal digits of the integer types, to decide whether a decimal holds them exactly.
_INTEGER_DIGITS: dict[type[DataType], int] = {ByteType: 3, ShortType: 5, IntegerType: 10, LongType: 19}


class SchemaDriftError(Exception):
    """The source table no longer matches its declaration (see :func:`conform`).

    Attributes:
        table: the source table.
        problems: one :class:`DriftProblem` per missing or incompatible column.
    """

    def __init__(self, table: str, problems: list[DriftProblem]):
        self.table = table
        self.problems = list(problems)
        details = "; ".join(p.describe() for p in self.problems)
        super().__init__(
            f"Schema drift in source table '{table}': {details}. Update "
            f"schemas/source/{table}.json (and the catalog table) or fix the source."
        )


class DriftProblem(NamedTuple):
    """One column that breaks the declaration: ``kind`` is ``missing`` or ``incompatible_type``."""

    column: str
    kind: str
    declared: str
    found: str | None

    def describe(self) -> str:
        if self.kind == "missing":
            return f"declared column '{self.column}' ({self.declared}) is missing in source"
        return (
            f"column '{self.column}' is declared {self.declared} but found {self.found} in source, "
            "which cannot be cast safely"
        )


class ConformResult(NamedTuple):
    """Output of :func:`conform`: the raw-shaped DataFrame and the undeclared source columns."""

    df: DataFrame
    added_columns: tuple[str, ...]


@dataclass(frozen=True)
class ExtractPlan:
    """How one source table is extracted (from its declaration's ``extract`` block).

    Attributes:
        table: source table name (``<database>.<table>`` in MySQL).
        mode: ``snapshot`` or ``incremental``.
        columns: declared columns, in order.
        primary_key: the declared primary key columns.
        bookmark_keys: job bookmark keys (incremental only; empty for snapshots).
        hash_field: column Glue hashes to split the read into parallel queries, or None.
        hash_partitions: number of parallel queries, or None (Glue's default, 7, when
            only ``hash_field`` is set).
    """

    table: str
    mode: str
    columns: tuple[str, ...]
    primary_key: tuple[str, ...]
    bookmark_keys: tuple[str, ...]
    hash_field: str | None
    hash_partitions: int | None

    @property
    def incremental(self) -> bool:
        return self.mode == INCREMENTAL


def plan_for(declaration: Mapping[str, Any]) -> ExtractPlan:
    """Validate a source declaration and return its :class:`ExtractPlan`.

    Raises:
        ValueError: the declaration is invalid (see
            :func:`undercurrent_glue.schema.validate_source_declaration`).
    """
    validate_source_declaration(declaration)
    extract = declaration["extract"]
    return ExtractPlan(
        table=declaration["name"],
        mode=extract["mode"],
        columns=tuple(c["name"] for c in declaration["columns"]),
        primary_key=tuple(declaration["primary_key"]),
        bookmark_keys=tuple(extract.get("bookmark_keys", ())),
        hash_field=extract.get("hash_field"),
        hash_partitions=extract.get("hash_partitions"),
    )


def jdbc_connection_options(plan: ExtractPlan, connection_name: str, database: str) -> dict[str, Any]:
    """Return the ``connection_options`` for ``glueContext.create_dynamic_frame.from_options(
    connection_type="mysql", ...)`` reading ``plan.table``.

    Options:

    * ``useConnectionProperties`` ``"true"``: take the JDBC URL, the credentials (user and
      password or the Secrets Manager secret) and the SSL settings from the Glue
      connection, so none of them is in the script or the job arguments;
    * ``connectionName``: that Glue connection (it also gives the job its VPC, subnet and
      security group to reach the database);
    * ``dbtable``: ``<database>.<table>``, the table read (MySQL: database = schema);
    * ``hashfield`` (when declared): the column Glue hashes to split the read into
      non-overlapping parallel queries; ``hashpartitions`` (when declared): how many
      (as a string, as Glue expects);
    * incremental tables only: ``jobBookmarkKeys``, the columns (a list) whose greatest
      value read is stored in the job bookmark, so the next run reads only rows above
      it; ``jobBookmarkKeysSortOrder`` ``"asc"``: those keys only grow.

    Bookmarks apply only when the read also gets a ``transformation_ctx`` (see
    :func:`transformation_ctx`) and the job runs with ``--job-bookmark-option
    job-bookmark-enable``.

    Raises:
        ValueError: ``connection_name`` is empty or ``database`` is not a plain MySQL
            database name (letters, digits, ``_``; at most 64).
    """
    if not isinstance(connection_name, str) or not connection_name.strip():
        raise ValueError(f"connection_name must name the Glue connection to MySQL; got {connection_name!r}.")
    if not isinstance(database, str) or not _DATABASE.match(database):
        raise ValueError(
            f"database must be a MySQL database name of letters, digits and '_' (at most 64); got {database!r}."
        )
    options: dict[str, Any] = {
        "useConnectionProperties": "true",
        "connectionName": connection_name,
        "dbtable": f"{database}.{plan.table}",
    }
    if plan.hash_field is not None:
        options["hashfield"] = plan.hash_field
    if plan.hash_partitions is not None:
        options["hashpartitions"] = str(plan.hash_partitions)
    if plan.incremental:
        options["jobBookmarkKeys"] = list(plan.bookmark_keys)
        options["jobBookmarkKeysSortOrder"] = "asc"
    return options


def transformation_ctx(plan: ExtractPlan) -> str:
    """Return the ``transformation_ctx`` of the table's read: ``extract_<table>`` for
    incremental tables, ``""`` (no bookmark) for snapshots.

    The transformation context is the key of a source's bookmark state; without one Glue
    keeps no bookmark for that read. A snapshot must not have one: with bookmarks enabled
    on the job, Glue would bookmark the table on its primary key by default and later
    runs would read only rows with a greater key instead of the whole table.
    """
    return f"extract_{plan.table}" if plan.incremental else ""


def partition_columns(plan: ExtractPlan) -> tuple[str, ...]:
    """Raw partition columns, outermost first: ``ingest_date`` (and ``run_id`` if incremental)."""
    return (INGEST_DATE, RUN_ID_PARTITION) if plan.incremental else (INGEST_DATE,)


def write_mode(plan: ExtractPlan) -> str:
    """Spark save mode of the raw write: ``overwrite`` for snapshots (with dynamic partition
    overwrite: the run's ``ingest_date`` partition is replaced, nothing else), ``append``
    for incremental tables (a new ``run_id`` partition each run, earlier ones kept)."""
    return "append" if plan.incremental else "overwrite"


def write_options(plan: ExtractPlan) -> dict[str, str]:
    """Options of the raw Parquet write: snappy, and dynamic partition overwrite.

    ``partitionOverwriteMode`` is set for both modes: it is what makes ``overwrite``
    replace only the written partitions, and with ``append`` it is ignored, so a mode
    mix-up can never wipe a whole table.
    """
    return {"compression": RAW_COMPRESSION, "partitionOverwriteMode": "dynamic"}


def source_table_path(source_root: str, table: str) -> str:
    """Return ``<source_root>/<table>/`` (one trailing slash of ``source_root`` or not), where
    ``source_root`` is the raw zone's source prefix ``s3://<raw>/source/``: the one path both
    the extract job (writer) and ``SourceToCurated`` (reader) get as ``--raw_path``.

    Raises:
        ValueError: ``source_root`` is empty or ``table`` is not a lower-case identifier.
    """
    if not isinstance(source_root, str) or not source_root.strip("/ "):
        raise ValueError(f"source_root must be the raw zone's source prefix; got {source_root!r}.")
    if not isinstance(table, str) or not _TABLE.match(table):
        raise ValueError(f"table must be a lower-case identifier (a-z, 0-9, _); got {table!r}.")
    return f"{source_root.rstrip('/')}/{table}/"


def raw_table_path(raw_root: str, table: str) -> str:
    """Return ``<raw_root>/source/<table>/`` (one trailing slash of ``raw_root`` or not).

    Raises:
        ValueError: ``raw_root`` is empty or ``table`` is not a lower-case identifier.
    """
    if not isinstance(raw_root, str) or not raw_root.strip("/ "):
        raise ValueError(f"raw_root must be the raw zone's root path; got {raw_root!r}.")
    return source_table_path(f"{raw_root.rstrip('/')}/{RAW_SOURCE_PREFIX}/", table)


def cast_is_safe(found: DataType, declared: DataType) -> bool:
    """Whether every value of Spark type ``found`` converts to ``declared`` without loss.

    Allowed (besides equal types): ``int`` from tinyint/smallint and ``decimal(p,0)``
    with p <= 9; ``bigint`` from tinyint/smallint/int and ``decimal(p,0)`` with p <= 18;
    ``decimal(P,S)`` from a decimal with no more fraction digits (s <= S) and no more
    integer digits (p - s <= P - S), and from an integer type whose digits fit in P - S;
    ``double`` from tinyint/smallint/int/float; ``string`` from char/varchar;
    ``timestamp`` from ``timestamp_ntz``
    (read as UTC wall-clock time). Everything else is refused: strings to numbers or
    dates, narrowing (bigint to int, timestamp to date), date to timestamp (it would need
    a time zone), numbers to string (a changed source type to look at, not to hide).
    """
    if found == declared:
        return True
    if isinstance(declared, StringType):
        return isinstance(found, (CharType, VarcharType))
    if isinstance(declared, IntegerType):
        return isinstance(found, (ByteType, ShortType)) or _integral_decimal(found, 9)
    if isinstance(declared, LongType):
        return isinstance(found, (ByteType, ShortType, IntegerType)) or _integral_decimal(found, 18)
    if isinstance(declared, DecimalType):
        integer_digits = declared.precision - declared.scale
        if isinstance(found, DecimalType):
            return found.scale <= declared.scale and found.precision - found.scale <= integer_digits
        digits = _INTEGER_DIGITS.get(type(found))
        return digits is not None and digits <= integer_digits
    if isinstance(declared, DoubleType):
        return isinstance(found, (ByteType, ShortType, IntegerType, FloatType))
    if isinstance(declared, TimestampType):
        return isinstance(found, TimestampNTZType)
    return False


def _integral_decimal(found: DataType, max_precision: int) -> bool:
    return isinstance(found, DecimalType) and found.scale == 0 and found.precision <= max_precision


def _cast(column: Column, found: DataType, declared: DataType) -> Column:
    if isinstance(found, TimestampNTZType) and isinstance(declared, TimestampType):
        # A zone-less DATETIME holds UTC wall-clock time (see the declarations); build the
        # instant in UTC explicitly, whatever spark.sql.session.timeZone says.
        return F.make_timestamp(
            F.year(column),
            F.month(column),
            F.dayofmonth(column),
            F.hour(column),
            F.minute(column),
            F.date_part(F.lit("SECOND"), column),
            F.lit("UTC"),
        )
    return column if found == declared else column.cast(declared)


def _check_run_arguments(ingest_date: Any, run_id: Any, extracted_at: Any) -> None:
    if not isinstance(ingest_date, dt.date) or isinstance(ingest_date, dt.datetime):
        raise ValueError(f"ingest_date must be a datetime.date (the UTC date of the run); got {ingest_date!r}.")
    if not isinstance(run_id, str) or not _RUN_ID.match(run_id):
        raise ValueError(
            "run_id must be the Glue JOB_RUN_ID: letters, digits, '_', '.', '-', starting with a "
            f"letter or digit (it becomes a directory name); got {run_id!r}."
        )
    if extracted_at is not None and (
        not isinstance(extracted_at, dt.datetime) or extracted_at.utcoffset() is None
    ):
        raise ValueError(
            f"extracted_at must be a time-zone-aware datetime (a naive one has no instant); got {extracted_at!r}."
        )


def conform(
    df: DataFrame,
    declaration: Mapping[str, Any],
    ingest_date: dt.date,
    run_id: str,
    extracted_at: dt.datetime | None = None,
) -> ConformResult:
    """Shape a source table's DataFrame (as read over JDBC) into its raw form.

    Selects exactly the declared columns, in declared order, each cast to its declared
    type (e.g. MySQL SMALLINT -> ``int``, DECIMAL -> ``decimal(p,s)``, DATETIME ->
    ``timestamp``), then adds ``_run_id``, ``_extracted_at`` and the partition columns
    (see :func:`partition_columns`): ``ingest_date`` and, for incremental tables,
    ``run_id``. Only the schema is inspected; no Spark job runs.

    Undeclared source columns are not carried into raw (the raw table keeps its declared
    shape, which the catalog and every reader rely on); they are returned in
    :attr:`ConformResult.added_columns`, in source order, for the job to log loudly.
    Declare a column to start extracting it.

    Args:
        df: the source table as read (e.g. ``DynamicFrame.toDF()``).
        declaration: its source declaration (``load_source_declaration``).
        ingest_date: the UTC date of the run (the ``ingest_date`` partition).
        run_id: the Glue ``JOB_RUN_ID``; a directory name for incremental tables.
        extracted_at: the instant of the extract (time-zone aware); default now. Stored as
            that instant whatever the session time zone.

    Returns:
        :class:`ConformResult`.

    Raises:
        SchemaDriftError: a declared column is missing in ``df``, or has a type that does
            not cast safely to the declared one (:func:`cast_is_safe`); every such
            column is named, with the declared and found types.
        ValueError: an invalid declaration or argument.
    """
    plan = plan_for(declaration)
    _check_run_arguments(ingest_date, run_id, extracted_at)
    if extracted_at is None:
        extracted_at = dt.datetime.now(dt.UTC)

    by_name: dict[str, StructField] = {}
    for field in df.schema.fields:
        key = field.name.lower()
        if key in by_name:
            raise ValueError(
                f"Source table '{plan.table}' has columns '{by_name[key].name}' and '{field.name}', "
                "which differ only in case; cannot match them to the declaration."
            )
        by_name[key] = field

    problems: list[DriftProblem] = []
    selected: list[Column] = []
    for column in declaration["columns"]:
        name, declared_type = column["name"], column["type"]
        declared = spark_type(declared_type, name)
        found = by_name.get(name)
        if found is None:
            problems.append(DriftProblem(name, "missing", declared_type, None))
        elif not cast_is_safe(found.dataType, declared):
            problems.append(DriftProblem(name, "incompatible_type", declared_type, found.dataType.simpleString()))
        else:
            selected.append(_cast(F.col(f"`{found.name}`"), found.dataType, declared).alias(name))
    if problems:
        raise SchemaDriftError(plan.table, problems)

    declared_names = set(plan.columns)
    added = tuple(f.name for f in df.schema.fields if f.name.lower() not in declared_names)

    micros = (extracted_at - _EPOCH) // dt.timedelta(microseconds=1)
    extras = [
        F.lit(run_id).alias(RUN_ID_COLUMN),
        F.timestamp_micros(F.lit(micros)).alias(EXTRACTED_AT_COLUMN),
        F.lit(ingest_date.isoformat()).cast(DateType()).alias(INGEST_DATE),
    ]
    if plan.incremental:
        extras.append(F.lit(run_id).alias(RUN_ID_PARTITION))
    return ConformResult(df.select(*selected, *extras), added)


def raw_columns(declaration: Mapping[str, Any]) -> list[str]:
    """The columns of the conformed DataFrame, in order: declared, metadata, partition columns."""
    plan = plan_for(declaration)
    return [*plan.columns, *METADATA_COLUMNS, *partition_columns(plan)]

