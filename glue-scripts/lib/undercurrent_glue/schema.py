"""Dataset declarations: load the JSON files under ``schemas/`` and turn them into Spark types.

A declaration is the single description of a dataset. The CDK app (TypeScript) reads the
same file to define the Glue Data Catalog table, and the Glue jobs read it to parse and
type the data, so the two cannot drift apart. Its format::

    {
      "name": "clickstream_events",
      "description": "...",
      "columns": [
        {"name": "event_id", "type": "string", "nullable": false, "comment": "..."},
        ...
      ],
      "partition_keys": [...],            # optional, same shape as columns; in
                                          # partition order, outermost directory first
      "allowed_values": {"column": [...]} # optional, closed sets of values
    }

``type`` is a Hive/Glue type string: one of :data:`SUPPORTED_TYPES` or ``decimal(p,s)``.
"""

from __future__ import annotations

import json
import pkgutil
import re
from typing import Any, Dict, List, Mapping, Optional, Tuple

from pyspark.sql.types import (
    BooleanType,
    DataType,
    DateType,
    DecimalType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

#: Glue/Hive type strings a declaration may use, besides ``decimal(p,s)``.
SUPPORTED_TYPES = ("string", "int", "bigint", "double", "boolean", "date", "timestamp")

_SIMPLE_TYPES: Dict[str, DataType] = {
    "string": StringType(),
    "int": IntegerType(),
    "bigint": LongType(),
    "double": DoubleType(),
    "boolean": BooleanType(),
    "date": DateType(),
    "timestamp": TimestampType(),
}
_DECIMAL = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def spark_type(type_string: str, column: str = "<unnamed>") -> DataType:
    """Return the Spark ``DataType`` for a Glue/Hive type string.

    Args:
        type_string: ``string``, ``int``, ``bigint``, ``double``, ``boolean``, ``date``,
            ``timestamp`` or ``decimal(p,s)`` (1 <= p <= 38, 0 <= s <= p), lower case.
        column: the column being typed; used only in the error message.

    Raises:
        ValueError: the type is not supported; the message names the column and the type.
    """
    if not isinstance(type_string, str):
        raise ValueError(
            f"Column '{column}' has type {type_string!r}, which is not a type string; "
            f"use one of {', '.join(SUPPORTED_TYPES)} or decimal(p,s)."
        )
    if type_string in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[type_string]
    match = _DECIMAL.match(type_string)
    if match:
        precision, scale = int(match.group(1)), int(match.group(2))
        if not 1 <= precision <= 38 or scale > precision:
            raise ValueError(
                f"Column '{column}' has type '{type_string}': decimal precision must be "
                f"1..38 and scale 0..precision."
            )
        return DecimalType(precision, scale)
    raise ValueError(
        f"Column '{column}' has unsupported type '{type_string}'; "
        f"use one of {', '.join(SUPPORTED_TYPES)} or decimal(p,s)."
    )


def _validate_columns(where: str, columns: Any, seen: set) -> None:
    if not isinstance(columns, list):
        raise ValueError(f"{where} must be a list of column objects.")
    for index, column in enumerate(columns):
        if not isinstance(column, Mapping):
            raise ValueError(f"{where}[{index}] must be an object.")
        name = column.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(
                f"{where}[{index}].name is {name!r}; use a lower-case identifier (a-z, 0-9, _)."
            )
        if name in seen:
            raise ValueError(f"{where}[{index}]: column '{name}' is declared twice.")
        seen.add(name)
        spark_type(column.get("type"), name)
        if not isinstance(column.get("nullable"), bool):
            raise ValueError(f"Column '{name}' must set \"nullable\" to true or false.")


def validate_declaration(declaration: Mapping[str, Any]) -> None:
    """Check that a declaration has the documented shape.

    Checks: ``name`` and ``description`` are strings; ``columns`` is a non-empty list of
    unique, lower-case names with a supported ``type`` and a boolean ``nullable``;
    ``partition_keys`` (optional) likewise; every ``allowed_values`` key names a column
    and maps to a non-empty list of strings.

    Raises:
        ValueError: naming the offending field and what is allowed.
    """
    if not isinstance(declaration, Mapping):
        raise ValueError("A declaration must be a JSON object.")
    for key in ("name", "description"):
        if not isinstance(declaration.get(key), str) or not declaration.get(key):
            raise ValueError(f"Declaration field '{key}' must be a non-empty string.")
    columns = declaration.get("columns")
    if not isinstance(columns, list) or not columns:
        raise ValueError(f"Declaration '{declaration['name']}' must have a non-empty 'columns' list.")
    seen: set = set()
    _validate_columns("columns", columns, seen)
    _validate_columns("partition_keys", declaration.get("partition_keys", []), seen)
    allowed = declaration.get("allowed_values", {})
    if not isinstance(allowed, Mapping):
        raise ValueError("'allowed_values' must map column names to lists of values.")
    column_names = {c["name"] for c in columns}
    for name, values in allowed.items():
        if name not in column_names:
            raise ValueError(f"'allowed_values' names '{name}', which is not a declared column.")
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            raise ValueError(f"'allowed_values.{name}' must be a non-empty list of strings.")


def _read_json(resource: str) -> Any:
    """Read and parse the package data file ``resource`` (e.g. ``schemas/x.json``) with pkgutil."""
    try:
        data = pkgutil.get_data(__package__ or "undercurrent_glue", resource)
    except (FileNotFoundError, OSError) as error:
        raise FileNotFoundError(f"No schema declaration '{resource}' in undercurrent_glue.") from error
    if data is None:  # pragma: no cover - only for loaders without get_data
        raise FileNotFoundError(f"Cannot read '{resource}' through the package loader.")
    try:
        return json.loads(data.decode("utf-8"))
    except ValueError as error:
        raise ValueError(f"{resource} is not valid JSON: {error}") from error


def load_declaration(name: str) -> Dict[str, Any]:
    """Load and validate the declaration ``schemas/<name>.json`` shipped in this package.

    Uses :func:`pkgutil.get_data`, so it works from a directory and from the zip that
    Glue receives through ``--extra-py-files``.

    Args:
        name: the file stem, e.g. ``"clickstream_event"``.

    Raises:
        ValueError: the name is not a plain identifier, or the file is not valid.
        FileNotFoundError: no such declaration.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"Declaration name {name!r} must be a lower-case identifier (a-z, 0-9, _).")
    declaration = _read_json(f"schemas/{name}.json")
    validate_declaration(declaration)
    return declaration


def to_struct_type(declaration: Mapping[str, Any], include_partition_keys: bool = False) -> StructType:
    """Convert a declaration to a Spark ``StructType``, columns in declared order.

    Args:
        declaration: a declaration as returned by :func:`load_declaration`.
        include_partition_keys: also append the ``partition_keys`` columns, in their
            declared (partition) order.

    Raises:
        ValueError: a column has an unsupported type (names the column and the type).
    """
    columns = list(declaration["columns"])
    if include_partition_keys:
        columns += list(declaration.get("partition_keys", []))
    return StructType(
        [
            StructField(c["name"], spark_type(c["type"], c["name"]), nullable=bool(c["nullable"]))
            for c in columns
        ]
    )


def load_schema(name: str, include_partition_keys: bool = False) -> StructType:
    """Load the declaration ``name`` and return it as a Spark ``StructType``."""
    return to_struct_type(load_declaration(name), include_partition_keys)


# --------------------------------------------------------------------------------------
# Source-database declarations: schemas/source/<table>.json
# --------------------------------------------------------------------------------------

#: Package directory of the source-table declarations, one ``<table>.json`` per table.
SOURCE_SCHEMA_DIRECTORY = "schemas/source"
#: The source (MySQL) tables the extract knows, sorted; one file each in
#: :data:`SOURCE_SCHEMA_DIRECTORY` (a test compares this with the directory).
SOURCE_TABLES: Tuple[str, ...] = (
    "customers",
    "employees",
    "offices",
    "order_lines",
    "orders",
    "payments",
    "product_lines",
    "products",
)
#: ``extract.mode`` values: a full copy every run, or only the rows past the job bookmark.
EXTRACT_MODES = ("snapshot", "incremental")
MIN_HASH_PARTITIONS = 1
MAX_HASH_PARTITIONS = 64
#: Column names the extract adds to every raw row (metadata and partition columns); a
#: source declaration may not use them.
RESERVED_SOURCE_COLUMNS = ("ingest_date", "run_id", "_run_id", "_extracted_at")
_EXTRACT_KEYS = ("mode", "bookmark_keys", "hash_field", "hash_partitions")


def _column_name_list(where: str, value: Any, columns: List[str], allow_empty: bool) -> List[str]:
    """Check a list of unique declared column names; return it."""
    if not isinstance(value, list) or (not value and not allow_empty):
        raise ValueError(f"'{where}' must be a non-empty list of declared column names; got {value!r}.")
    for name in value:
        if not isinstance(name, str) or name not in columns:
            raise ValueError(
                f"'{where}' names {name!r}, which is not a declared column (declared: {', '.join(columns)})."
            )
    duplicates = sorted({name for name in value if value.count(name) > 1})
    if duplicates:
        raise ValueError(f"'{where}' lists {', '.join(duplicates)} more than once.")
    return value


def _validate_source(declaration: Mapping[str, Any], table: Optional[str]) -> None:
    validate_declaration(declaration)
    name = declaration["name"]
    if table is not None and name != table:
        raise ValueError(f"'name' is '{name}' but the file is {SOURCE_SCHEMA_DIRECTORY}/{table}.json; they must match.")
    if declaration.get("partition_keys"):
        raise ValueError(
            "'partition_keys' must not be set: the extract partitions the raw zone itself "
            "(ingest_date, and run_id for incremental tables)."
        )
    columns = [c["name"] for c in declaration["columns"]]
    reserved = [c for c in columns if c in RESERVED_SOURCE_COLUMNS]
    if reserved:
        raise ValueError(
            f"column '{reserved[0]}' uses a name the extract adds to raw rows "
            f"({', '.join(RESERVED_SOURCE_COLUMNS)}); rename it in the declaration."
        )

    primary_key = _column_name_list("primary_key", declaration.get("primary_key"), columns, allow_empty=False)
    nullable = [c["name"] for c in declaration["columns"] if c["name"] in primary_key and c["nullable"]]
    if nullable:
        raise ValueError(f"'primary_key' column '{nullable[0]}' is declared nullable; key columns are NOT NULL.")

    extract = declaration.get("extract")
    if not isinstance(extract, Mapping):
        raise ValueError(f"'extract' must be an object with 'mode' ({' or '.join(EXTRACT_MODES)}); got {extract!r}.")
    unknown = sorted(set(extract) - set(_EXTRACT_KEYS))
    if unknown:
        raise ValueError(f"'extract' has unknown field(s) {', '.join(unknown)}; allowed: {', '.join(_EXTRACT_KEYS)}.")
    mode = extract.get("mode")
    if mode not in EXTRACT_MODES:
        raise ValueError(f"'extract.mode' must be one of {', '.join(EXTRACT_MODES)}; got {mode!r}.")
    if mode == "incremental":
        _column_name_list("extract.bookmark_keys", extract.get("bookmark_keys"), columns, allow_empty=False)
    elif "bookmark_keys" in extract:
        raise ValueError("'extract.bookmark_keys' is only allowed with 'extract.mode' incremental.")

    if "hash_field" in extract:
        hash_field = extract["hash_field"]
        if not isinstance(hash_field, str) or hash_field not in columns:
            raise ValueError(
                f"'extract.hash_field' is {hash_field!r}, which is not a declared column "
                f"(declared: {', '.join(columns)})."
            )
    if "hash_partitions" in extract:
        partitions = extract["hash_partitions"]
        if (
            isinstance(partitions, bool)
            or not isinstance(partitions, int)
            or not MIN_HASH_PARTITIONS <= partitions <= MAX_HASH_PARTITIONS
        ):
            raise ValueError(
                f"'extract.hash_partitions' must be an integer from {MIN_HASH_PARTITIONS} to "
                f"{MAX_HASH_PARTITIONS}; got {partitions!r}."
            )
        if "hash_field" not in extract:
            raise ValueError("'extract.hash_partitions' needs 'extract.hash_field' (the column to hash).")


def validate_source_declaration(declaration: Mapping[str, Any], table: Optional[str] = None) -> None:
    """Check a source-table declaration: the common shape plus ``primary_key`` and ``extract``.

    Besides :func:`validate_declaration`: ``name`` equals ``table`` (when given, i.e. the
    file stem); no ``partition_keys`` and no column named like a raw metadata or
    partition column (:data:`RESERVED_SOURCE_COLUMNS`); ``primary_key`` is a non-empty
    list of unique, declared, non-nullable columns; ``extract`` is an object with only
    ``mode``, ``bookmark_keys``, ``hash_field``, ``hash_partitions``, where ``mode`` is
    one of :data:`EXTRACT_MODES`, ``incremental`` requires ``bookmark_keys`` (a non-empty
    list of unique declared columns) and ``snapshot`` forbids them, ``hash_field`` is a
    declared column and ``hash_partitions`` an integer 1..64 that needs ``hash_field``.

    Raises:
        ValueError: ``Source declaration '<table>': <field> ...``, naming the table and the
            offending field.
    """
    label = table
    if label is None and isinstance(declaration, Mapping) and isinstance(declaration.get("name"), str):
        label = declaration["name"]
    try:
        _validate_source(declaration, table)
    except ValueError as error:
        raise ValueError(f"Source declaration '{label or '<unnamed>'}': {error}") from None


def load_source_declaration(table: str) -> Dict[str, Any]:
    """Load and validate ``schemas/source/<table>.json``, the declaration of one source table.

    Read with :func:`pkgutil.get_data`, so it also works from the zip Glue gets through
    ``--extra-py-files``. See :func:`validate_source_declaration` for the checks.

    Args:
        table: the source table, e.g. ``"customers"`` (one of :data:`SOURCE_TABLES`).

    Raises:
        ValueError: the name is not a lower-case identifier, or the declaration is invalid
            (the message names the table and the field).
        FileNotFoundError: no declaration for that table.
    """
    if not isinstance(table, str) or not _NAME.match(table):
        raise ValueError(f"Source table name {table!r} must be a lower-case identifier (a-z, 0-9, _).")
    resource = f"{SOURCE_SCHEMA_DIRECTORY}/{table}.json"
    try:
        declaration = _read_json(resource)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"No source declaration '{resource}' in undercurrent_glue; known tables: {', '.join(SOURCE_TABLES)}."
        ) from None
    validate_source_declaration(declaration, table)
    return declaration


# --------------------------------------------------------------------------------------
# Gold declarations: schemas/gold/<table>.json (the star schema and clickstream aggregates)
# --------------------------------------------------------------------------------------

#: Package directory of the gold-table declarations, one ``<table>.json`` per table. The CDK
#: app creates the gold Iceberg tables from the same files (``lib/catalog.ts``).
GOLD_SCHEMA_DIRECTORY = "schemas/gold"
#: The gold tables, sorted; one file each in :data:`GOLD_SCHEMA_DIRECTORY`.
GOLD_TABLES: Tuple[str, ...] = (
    "clickstream_sessions",
    "daily_product_views",
    "dim_customer",
    "dim_date",
    "dim_employee",
    "dim_product",
    "fact_order_line",
)


def load_gold_declaration(table: str) -> Dict[str, Any]:
    """Load and validate ``schemas/gold/<table>.json``, the declaration of one gold table.

    Raises:
        ValueError: the name is not a lower-case identifier, the declaration is invalid, or
            its ``name`` is not ``table``.
        FileNotFoundError: no declaration for that table.
    """
    if not isinstance(table, str) or not _NAME.match(table):
        raise ValueError(f"Gold table name {table!r} must be a lower-case identifier (a-z, 0-9, _).")
    declaration = _read_json(f"{GOLD_SCHEMA_DIRECTORY}/{table}.json")
    validate_declaration(declaration)
    if declaration["name"] != table:
        raise ValueError(
            f"Gold declaration '{table}': 'name' is '{declaration['name']}'; it must be the file stem."
        )
    return declaration
