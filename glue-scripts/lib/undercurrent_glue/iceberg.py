"""Gold Apache Iceberg tables: create or check them from their declarations, and write them.

Every gold table is declared in ``schemas/gold/<table>.json``
(:func:`undercurrent_glue.schema.load_gold_declaration`) and lives at
``<catalog>.<database>.<table>`` with its data under ``<gold_path><table>/``. In AWS the
CDK app (``lib/lake/catalog.ts``) has CloudFormation create each table, format version 2,
unpartitioned, with the declared columns then the partition keys; locally nothing creates
them. :func:`ensure_table` makes both cases the same before a write:

* absent -> ``CREATE TABLE IF NOT EXISTS`` with the declared columns then the partition
  keys, ``PARTITIONED BY months(<key>)`` when the declaration has a ``date`` partition key,
  ``LOCATION`` and the :data:`TABLE_PROPERTIES`;
* present -> its columns must be the declared ones (names, order and types; see
  :func:`check_columns`), a missing partition spec is added (``ALTER TABLE ... ADD
  PARTITION FIELD months(<key>)``), and properties that differ from
  :data:`TABLE_PROPERTIES` are set;
* in both cases the write order (:func:`write_order`) is set when it differs, so every
  writer clusters and sorts the data the same way.

Nullability is not part of the table: every column is created nullable (CloudFormation
creates them so too, the Glue catalog has no NOT NULL), and the declaration's
``"nullable": false`` is enforced by the gold data-quality rules before a write.

Write strategies: the rebuilt tables are replaced atomically, all rows, in one snapshot
(:func:`replace_all`: ``writeTo(t).overwrite(lit(True))``), and the gold job does it
through write-audit-publish (:func:`replace_audited`): the new rows are written to a branch,
checked there, and published only if the check accepts them. Dynamic partition overwrite
is not used on purpose: it would leave partitions that the new input no longer produces
(e.g. after a source row was deleted or its date corrected).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pyspark.sql import DataFrame, SparkSession, functions as F
from pyspark.sql.types import DataType, StructField, StructType, TimestampNTZType, TimestampType

from undercurrent_glue.schema import to_struct_type

#: Target size of a data file: 128 MB (Iceberg writers roll over at this size).
TARGET_FILE_SIZE_BYTES = 128 * 1024 * 1024
#: Properties of every gold table. Copy-on-write for MERGE/UPDATE/DELETE keeps the tables
#: free of delete files, which every reader (Athena, Redshift Spectrum) handles best;
#: metadata files beyond the last 20 are removed at commit.
TABLE_PROPERTIES: dict[str, str] = {
    "format-version": "2",
    "write.format.default": "parquet",
    "write.parquet.compression-codec": "zstd",
    "write.target-file-size-bytes": str(TARGET_FILE_SIZE_BYTES),
    "write.distribution-mode": "hash",
    "write.delete.mode": "copy-on-write",
    "write.update.mode": "copy-on-write",
    "write.merge.mode": "copy-on-write",
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "20",
}
#: The branch :func:`replace_audited` writes a table's new rows to and audits them on.
AUDIT_BRANCH = "audit"
#: Properties only settable at creation (changing them on an existing table is an upgrade
#: done on purpose, not by a job).
_CREATE_ONLY_PROPERTIES = ("format-version",)
#: Declared partition key type that gets a ``months(...)`` transform.
_MONTHLY_TYPES = ("date",)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class TableMismatchError(ValueError):
    """An existing gold table does not match its declaration (columns or partition spec)."""


def _identifier(value: str, what: str) -> str:
    if not isinstance(value, str) or not _IDENTIFIER.match(value):
        raise ValueError(f"{what} {value!r} must be a plain identifier (letters, digits, _).")
    return value


def table_name(catalog: str, database: str, table: str) -> str:
    """Return ``catalog.database.table``, each part checked to be a plain identifier.

    Raises:
        ValueError: a part is not a plain identifier (names which part).
    """
    return ".".join(
        (_identifier(catalog, "Catalog"), _identifier(database, "Database"), _identifier(table, "Table"))
    )


def declared_schema(declaration: Mapping[str, Any]) -> StructType:
    """The table's columns: the declared columns then the partition keys, all nullable."""
    struct = to_struct_type(declaration, include_partition_keys=True)
    return StructType([StructField(field.name, field.dataType, True) for field in struct.fields])


def month_partition_key(declaration: Mapping[str, Any]) -> str | None:
    """The partition key to partition by ``months(...)``: the first ``date`` partition key, or None.

    Raises:
        ValueError: the declaration has a partition key that is not a date (no rule for it).
    """
    keys = declaration.get("partition_keys", [])
    for key in keys:
        if key["type"] not in _MONTHLY_TYPES:
            raise ValueError(
                f"Gold declaration '{declaration['name']}': partition key '{key['name']}' has type "
                f"'{key['type']}'; only date partition keys (-> months(key)) are supported."
            )
    return keys[0]["name"] if keys else None


def partition_spec(declaration: Mapping[str, Any]) -> list[str]:
    """The declared partition spec as Spark prints it, e.g. ``["months(order_date)"]`` (or ``[]``)."""
    key = month_partition_key(declaration)
    return [f"months({key})"] if key else []


def write_order(declaration: Mapping[str, Any], sort_by: Sequence[str] | None = None) -> list[str]:
    """The columns the data is sorted by within a write task: ``sort_by`` when given, else
    the first declared column (the surrogate or natural key of every gold table)."""
    return list(sort_by or [declaration["columns"][0]["name"]])


def _types_match(found: DataType, declared: DataType) -> bool:
    # A table created outside Spark (CloudFormation from Glue column types) may hold a declared
    # "timestamp" as Iceberg timestamp without zone (Spark TIMESTAMP_NTZ); both carry UTC here.
    if isinstance(declared, TimestampType) and isinstance(found, (TimestampType, TimestampNTZType)):
        return True
    return found == declared


def check_columns(name: str, found: StructType, declaration: Mapping[str, Any]) -> None:
    """Check that an existing table's columns are the declared ones, in order, with their types.

    Nullability is not compared (see the module docstring); a declared ``timestamp`` also
    accepts ``timestamp_ntz``.

    Raises:
        TableMismatchError: ``Gold table '<name>' does not match its declaration: column
            '<c>' ...``, naming the first differing column (missing, undeclared, wrong type
            or out of order).
    """
    declared = declared_schema(declaration)
    found_names = [f.name.lower() for f in found.fields]
    declared_names = [f.name for f in declared.fields]
    prefix = f"Gold table '{name}' does not match its declaration"
    for column in declared_names:
        if column not in found_names:
            raise TableMismatchError(f"{prefix}: column '{column}' is missing (found: {', '.join(found_names)}).")
    for column in found_names:
        if column not in declared_names:
            raise TableMismatchError(f"{prefix}: column '{column}' is not declared (declared: {', '.join(declared_names)}).")
    for field, expected in zip(found.fields, declared.fields, strict=False):
        if field.name.lower() != expected.name:
            raise TableMismatchError(
                f"{prefix}: column '{expected.name}' is out of order (found '{field.name}' at its position; "
                f"declared order: {', '.join(declared_names)})."
            )
        if not _types_match(field.dataType, expected.dataType):
            raise TableMismatchError(
                f"{prefix}: column '{expected.name}' has type {field.dataType.simpleString()}, "
                f"declared {expected.dataType.simpleString()}."
            )


def table_exists(spark: SparkSession, name: str) -> bool:
    """Whether the catalog has the table ``name`` (``catalog.database.table``)."""
    try:
        spark.table(name)
        return True
    except Exception as error:  # AnalysisException; its import path moved across versions.
        if "TABLE_OR_VIEW_NOT_FOUND" in str(error) or "not found" in str(error).lower():
            return False
        raise


def current_partition_spec(spark: SparkSession, name: str) -> list[str]:
    """The table's partition fields as Spark prints them (``DESCRIBE TABLE``), e.g. ``["months(order_date)"]``."""
    rows = spark.sql(f"DESCRIBE TABLE {name}").collect()
    spec: list[str] = []
    in_partitioning = False
    for row in rows:
        col_name = (row["col_name"] or "").strip()
        if col_name == "# Partitioning":
            in_partitioning = True
            continue
        if in_partitioning:
            if not col_name.startswith("Part "):
                break
            spec.append((row["data_type"] or "").strip())
    return spec


def table_properties(spark: SparkSession, name: str) -> dict[str, str]:
    """The table's properties (``SHOW TBLPROPERTIES``; Iceberg adds ``sort-order`` and others)."""
    return {row["key"]: row["value"] for row in spark.sql(f"SHOW TBLPROPERTIES {name}").collect()}


def is_path_based_catalog(spark: SparkSession, catalog: str) -> bool:
    """Whether ``catalog`` is an Iceberg Hadoop catalog (tables at fixed warehouse paths)."""
    return spark.conf.get(f"spark.sql.catalog.{catalog}.type", "") == "hadoop"


def _sql_properties(properties: Mapping[str, str]) -> str:
    return ", ".join(f"'{k}' = '{v}'" for k, v in properties.items())


def _sql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _column_ddl(declaration: Mapping[str, Any]) -> str:
    comments = {c["name"]: c.get("comment") for c in declaration["columns"] + declaration.get("partition_keys", [])}
    return ", ".join(
        f"{field.name} {field.dataType.simpleString()}"
        + (f" COMMENT {_sql_string(comments[field.name])}" if comments.get(field.name) else "")
        for field in declared_schema(declaration).fields
    )


def create_namespace_if_missing(spark: SparkSession, catalog: str, database: str) -> None:
    """``CREATE NAMESPACE IF NOT EXISTS catalog.database`` (local runs; in Glue the CDK app
    creates the database and the job role may not create one)."""
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {_identifier(catalog, 'Catalog')}.{_identifier(database, 'Database')}")


def ensure_table(
    spark: SparkSession,
    catalog: str,
    database: str,
    declaration: Mapping[str, Any],
    location: str,
    create_namespace: bool = False,
    sort_by: Sequence[str] | None = None,
) -> str:
    """Create the gold table of ``declaration`` if absent, else check and complete it.

    Args:
        spark: a session with the Iceberg catalog ``catalog`` and the Iceberg SQL extensions.
        catalog: the Iceberg catalog, ``glue_catalog``.
        database: the gold database (Glue database; a namespace of the local Hadoop catalog).
        declaration: a gold declaration (:func:`undercurrent_glue.schema.load_gold_declaration`).
        location: the table's location, ``<gold_path><table>/``. Ignored by a path-based
            catalog (the local Hadoop catalog puts a table at ``<warehouse>/<db>/<table>``
            and refuses any other location).
        create_namespace: run ``CREATE NAMESPACE IF NOT EXISTS`` first (local runs; in Glue
            the CDK app creates the database and the job role may not create one).

    Returns:
        The table's full name, ``catalog.database.table``.

    Raises:
        TableMismatchError: the existing table's columns differ from the declaration (names
            the table and the column), or it has a partition spec other than the declared one.
        ValueError: a name is not a plain identifier, or a partition key is not a date.
    """
    name = table_name(catalog, database, declaration["name"])
    spec = partition_spec(declaration)
    if create_namespace:
        create_namespace_if_missing(spark, catalog, database)
    if not table_exists(spark, name):
        partitioned = f"PARTITIONED BY ({', '.join(spec)}) " if spec else ""
        location_sql = ""
        if location and not is_path_based_catalog(spark, catalog):
            location_sql = f"LOCATION {_sql_string(location)} "
        spark.sql(
            f"CREATE TABLE IF NOT EXISTS {name} ({_column_ddl(declaration)}) "
            f"USING iceberg {partitioned}{location_sql}"
            f"TBLPROPERTIES ({_sql_properties(TABLE_PROPERTIES)})"
        )
    else:
        check_columns(name, spark.table(name).schema, declaration)
        found_spec = current_partition_spec(spark, name)
        if found_spec != spec:
            if found_spec:
                raise TableMismatchError(
                    f"Gold table '{name}' is partitioned by {', '.join(found_spec)}; its declaration "
                    f"needs {', '.join(spec) or 'no partitioning'}. Repartition it on purpose (ALTER TABLE "
                    f"... REPLACE PARTITION FIELD) or recreate it."
                )
            for field in spec:
                spark.sql(f"ALTER TABLE {name} ADD PARTITION FIELD {field}")
        found_properties = table_properties(spark, name)
        missing: dict[str, str] = {
            key: value
            for key, value in TABLE_PROPERTIES.items()
            if key not in _CREATE_ONLY_PROPERTIES and found_properties.get(key) != value
        }
        if missing:
            spark.sql(f"ALTER TABLE {name} SET TBLPROPERTIES ({_sql_properties(missing)})")
            found_properties = table_properties(spark, name)
        _ensure_write_order(spark, name, write_order(declaration, sort_by), found_properties)
        return name
    _ensure_write_order(spark, name, write_order(declaration, sort_by), {})
    return name


def _ensure_write_order(spark: SparkSession, name: str, order: Sequence[str], properties: Mapping[str, str]) -> None:
    """Cluster by partition (hash) and sort within each task by ``order``, unless ``properties``
    (the table's) say it is already so."""
    wanted = ", ".join(f"{column} ASC NULLS FIRST" for column in order)
    if properties.get("sort-order") == wanted and properties.get("write.distribution-mode") == "hash":
        return
    spark.sql(f"ALTER TABLE {name} WRITE DISTRIBUTED BY PARTITION LOCALLY ORDERED BY {', '.join(order)}")


def conform_to_table(spark: SparkSession, name: str, df: DataFrame) -> DataFrame:
    """Select the table's columns from ``df`` by name, in table order, cast to the table's types.

    Raises:
        ValueError: ``df`` lacks a column of the table (names it).
    """
    target = spark.table(name).schema
    missing = [f.name for f in target.fields if f.name not in df.columns]
    if missing:
        raise ValueError(f"Cannot write {name}: the output has no column {', '.join(missing)}.")
    return df.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in target.fields])


def replace_all(spark: SparkSession, name: str, df: DataFrame) -> None:
    """Replace every row of the table with ``df``, atomically (one Iceberg snapshot).

    Rows of a previous run that ``df`` no longer has are gone afterwards, whatever their
    partition; readers see either the old or the new table, never a mix.
    """
    conform_to_table(spark, name, df).writeTo(name).overwrite(F.lit(True))


def replace_audited(spark: SparkSession, name: str, df: DataFrame, audit: Callable[[DataFrame], None]) -> None:
    """Replace every row of the table with ``df`` only if ``audit`` accepts them (write-audit-publish).

    ``df`` is computed and written once, as a snapshot of the branch :data:`AUDIT_BRANCH`,
    made from the table's current state (a branch that a failed run left is replaced);
    readers of the table do not see it. ``audit`` gets the branch's rows, read back from the
    files just written. When it raises, the table stays as it was. Otherwise the table's
    ``main`` branch is fast-forwarded to the snapshot: one atomic commit, readers see either
    the old or the new table, never a mix (as with :func:`replace_all`). The branch is
    dropped either way; the files of a rejected snapshot stay until snapshot expiry or
    orphan-file removal deletes them.
    """
    catalog, identifier = name.split(".", 1)
    branch = f"{name}.branch_{AUDIT_BRANCH}"
    spark.sql(f"ALTER TABLE {name} CREATE OR REPLACE BRANCH {AUDIT_BRANCH}")
    try:
        replace_all(spark, branch, df)
        audit(spark.table(branch))
        spark.sql(f"CALL {catalog}.system.fast_forward('{identifier}', 'main', '{AUDIT_BRANCH}')")
    finally:
        spark.sql(f"ALTER TABLE {name} DROP BRANCH IF EXISTS {AUDIT_BRANCH}")


def data_file_count(spark: SparkSession, name: str) -> int:
    """Number of data files in the table's current snapshot (the ``files`` metadata table)."""
    return spark.table(f"{name}.files").count()


def partition_count(spark: SparkSession, name: str) -> int:
    """Number of partitions with data in the table's current snapshot."""
    return spark.table(f"{name}.partitions").count()
