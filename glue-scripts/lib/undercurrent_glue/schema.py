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
from typing import Any, Dict, Mapping

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
    try:
        data = pkgutil.get_data(__package__ or "undercurrent_glue", f"schemas/{name}.json")
    except (FileNotFoundError, OSError) as error:
        raise FileNotFoundError(f"No schema declaration 'schemas/{name}.json' in undercurrent_glue.") from error
    if data is None:  # pragma: no cover - only for loaders without get_data
        raise FileNotFoundError(f"Cannot read 'schemas/{name}.json' through the package loader.")
    try:
        declaration = json.loads(data.decode("utf-8"))
    except ValueError as error:
        raise ValueError(f"schemas/{name}.json is not valid JSON: {error}") from error
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
