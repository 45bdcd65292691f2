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

The schema of record of the format is the JSON Schema ``declaration.schema.json`` shipped
in this package: ``#/$defs/dataset`` (``schemas/<name>.json``), ``#/$defs/source``
(``schemas/source/<table>.json``: plus ``primary_key``, ``extract`` and ``quality``) and
``#/$defs/gold`` (``schemas/gold/<table>.json``: plus ``quality``). The CDK app validates
every declaration against it with ajv when it loads it (``lib/lake/datasets.ts``), and
:func:`validate_declaration` with jsonschema. What JSON Schema cannot say is checked by
:func:`semantic_problem`, the twin of ``semanticProblem`` in ``lib/lake/datasets.ts``; both
sides are held to the cases of ``glue-scripts/tests/fixtures/declaration_cases.json``.

jsonschema is a local and test dependency only (``requirements-dev.txt``): Glue 5.0 does
not provide it and the jobs install nothing, so on Glue :func:`validate_declaration` runs
the semantic checks alone. The declarations a job reads are the ones synthesis validated
(the Glue asset is built from the same files) and the tests validated.

The table lists (:data:`SOURCE_TABLES`, :data:`GOLD_TABLES`) are the declaration files;
the order parents-first (:func:`source_load_order`) follows the declarations'
``references`` rules.
"""

from __future__ import annotations

import importlib.resources
import json
import pkgutil
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

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

_SIMPLE_TYPES: dict[str, DataType] = {
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


# --------------------------------------------------------------------------------------
# Validation: the JSON Schema of record, then the semantic checks
# --------------------------------------------------------------------------------------

#: Declaration kinds, each a definition of :data:`DECLARATION_SCHEMA` (``#/$defs/<kind>``).
DATASET = "dataset"
SOURCE = "source"
GOLD = "gold"
DECLARATION_KINDS = (DATASET, SOURCE, GOLD)
#: The JSON Schema of the declarations, a package data file.
DECLARATION_SCHEMA = "declaration.schema.json"

_LABELS = {DATASET: "Declaration", SOURCE: "Source declaration", GOLD: "Gold declaration"}
_validators: dict[str, Any] = {}


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


def _check_kind(kind: str) -> None:
    if kind not in DECLARATION_KINDS:
        raise ValueError(f"Declaration kind must be one of {', '.join(DECLARATION_KINDS)}; got {kind!r}.")


def schema_validator(kind: str) -> Any | None:
    """The jsonschema validator of ``#/$defs/<kind>`` of :data:`DECLARATION_SCHEMA`, or None
    where jsonschema is not installed (on Glue). Built once per kind."""
    _check_kind(kind)
    if kind not in _validators:
        try:
            import jsonschema
        except ImportError:
            _validators[kind] = None
        else:
            root = _read_json(DECLARATION_SCHEMA)
            _validators[kind] = jsonschema.Draft202012Validator({**root, "$ref": f"#/$defs/{kind}"})
    return _validators[kind]


def _json(value: Any) -> str:
    """Compact JSON, as ``JSON.stringify`` writes it (the messages of both sides agree)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def field_path(parts: Iterable[Any]) -> str:
    """``columns[1].type`` for ``["columns", 1, "type"]``; ``declaration`` for the root."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "declaration"


def _schema_error(error: Any) -> tuple[list[Any], str]:
    """A jsonschema error as (path, problem), worded like ``schemaProblem`` in lib/lake/datasets.ts."""
    path = list(error.absolute_path)
    keyword, instance, schema = error.validator, error.instance, error.schema
    if keyword == "required":
        missing = next(p for p in error.validator_value if p not in instance)
        return path + [missing], "is missing"
    if keyword == "dependentRequired":
        for present, needed in error.validator_value.items():
            missing = [n for n in needed if n not in instance]
            if present in instance and missing:
                return path + [missing[0]], f"is missing (required with '{field_path(path + [present])}')"
    if keyword == "additionalProperties":
        known = list(schema.get("properties", {}))
        extra = next(k for k in instance if k not in known)
        return path + [extra], f"is not a known field (known: {', '.join(known)})"
    description = schema.get("description") if isinstance(schema, Mapping) else None
    return path, f"must be {description} (got {_json(instance)})" if description else error.message


def schema_problem(declaration: Any, kind: str) -> str | None:
    """The first problem the JSON Schema finds, ``'<field>' <problem>``, or None (also when
    jsonschema is not installed). Of several, the one deepest in the declaration, then the first."""
    validator = schema_validator(kind)
    if validator is None:
        return None
    found = [_schema_error(error) for error in validator.iter_errors(declaration)]
    if not found:
        return None
    path, problem = max(found, key=lambda item: len(item[0]))
    return f"'{field_path(path)}' {problem}"


def semantic_problem(declaration: Mapping[str, Any], kind: str, stem: str | None = None) -> str | None:
    """The first problem that JSON Schema cannot express, ``'<field>' <problem>``, or None.

    For a declaration of the documented shape: every column name once (columns, then
    partition keys); a decimal's scale at most its precision; ``allowed_values`` naming
    declared columns; for source and gold, ``name`` equal to the file stem ``stem`` (when
    given); for source, ``primary_key`` naming declared non-nullable columns, and
    ``extract.bookmark_keys`` and ``extract.hash_field`` naming declared columns.
    ``semanticProblem`` in lib/lake/datasets.ts is the same function.
    """
    _check_kind(kind)
    seen: dict[str, str] = {}
    for group in ("columns", "partition_keys"):
        for index, column in enumerate(declaration.get(group) or []):
            where = f"{group}[{index}]"
            name = column["name"]
            if name in seen:
                return f"'{where}.name' declares \"{name}\" a second time (first: {seen[name]})"
            seen[name] = where
            match = _DECIMAL.match(column["type"])
            if match and int(match.group(2)) > int(match.group(1)):
                return f"'{where}.type' has a decimal scale above its precision (got \"{column['type']}\")"
    columns = [c["name"] for c in declaration["columns"]]
    declared = f"declared: {', '.join(columns)}"
    for name in declaration.get("allowed_values") or {}:
        if name not in columns:
            return f"'allowed_values.{name}' names \"{name}\", which is not a declared column ({declared})"
    if kind in (SOURCE, GOLD) and stem is not None and declaration["name"] != stem:
        return f"'name' must be the file stem \"{stem}\" (got \"{declaration['name']}\")"
    if kind != SOURCE:
        return None
    nullable = {c["name"] for c in declaration["columns"] if c["nullable"]}
    for index, key in enumerate(declaration["primary_key"]):
        if key not in columns:
            return f"'primary_key[{index}]' names \"{key}\", which is not a declared column ({declared})"
        if key in nullable:
            return f"'primary_key[{index}]' names \"{key}\", which is declared nullable; key columns are NOT NULL"
    extract = declaration["extract"]
    for index, key in enumerate(extract.get("bookmark_keys") or []):
        if key not in columns:
            return f"'extract.bookmark_keys[{index}]' names \"{key}\", which is not a declared column ({declared})"
    if "hash_field" in extract and extract["hash_field"] not in columns:
        return f"'extract.hash_field' names \"{extract['hash_field']}\", which is not a declared column ({declared})"
    return None


def declaration_problem(declaration: Any, kind: str = DATASET, stem: str | None = None) -> str | None:
    """The first problem of a declaration, ``'<field>' <problem>``: the JSON Schema's
    (:func:`schema_problem`), else the semantic checks' (:func:`semantic_problem`); None when valid."""
    problem = schema_problem(declaration, kind)
    if problem is not None:
        return problem
    try:
        return semantic_problem(declaration, kind, stem)
    except (AttributeError, KeyError, TypeError) as error:
        # Only without jsonschema (on Glue): the shape was not checked first.
        return f"'declaration' does not have the documented shape ({type(error).__name__}: {error})"


def validate_declaration(declaration: Any, kind: str = DATASET, stem: str | None = None) -> None:
    """Check a declaration against ``#/$defs/<kind>`` of :data:`DECLARATION_SCHEMA` and the
    semantic checks (:func:`declaration_problem`).

    Args:
        declaration: the parsed JSON.
        kind: ``dataset``, ``source`` or ``gold``.
        stem: the file stem (the table, for source and gold, whose ``name`` must be it).

    Raises:
        ValueError: ``<Kind> declaration '<stem or name>': '<field>' <problem>``.
    """
    problem = declaration_problem(declaration, kind, stem)
    if problem is None:
        return
    label = stem
    if label is None and isinstance(declaration, Mapping) and isinstance(declaration.get("name"), str):
        label = declaration["name"]
    raise ValueError(f"{_LABELS[kind]} '{label or '<unnamed>'}': {problem}.")


def _declaration_stems(directory: str) -> tuple[str, ...]:
    """The stems of the ``*.json`` files in the package directory ``directory``, sorted.

    Through :mod:`importlib.resources`, so it also lists the zip Glue gets through
    ``--extra-py-files``.
    """
    folder = importlib.resources.files(__package__ or "undercurrent_glue").joinpath(*directory.split("/"))
    return tuple(sorted(entry.name[: -len(".json")] for entry in folder.iterdir() if entry.name.endswith(".json")))


def load_declaration(name: str) -> dict[str, Any]:
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
    declaration: dict[str, Any] = _read_json(f"schemas/{name}.json")
    validate_declaration(declaration, DATASET, name)
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
#: The source (MySQL) tables the extract knows, sorted: the files of
#: :data:`SOURCE_SCHEMA_DIRECTORY`.
SOURCE_TABLES: tuple[str, ...] = _declaration_stems(SOURCE_SCHEMA_DIRECTORY)

_DEFINITIONS: Mapping[str, Any] = _read_json(DECLARATION_SCHEMA)["$defs"]
#: ``extract.mode`` values: a full copy every run, or only the rows past the job bookmark.
EXTRACT_MODES: tuple[str, ...] = tuple(_DEFINITIONS["extractMode"]["enum"])
#: The bounds of ``extract.hash_partitions``.
MIN_HASH_PARTITIONS: int = _DEFINITIONS["hashPartitions"]["minimum"]
MAX_HASH_PARTITIONS: int = _DEFINITIONS["hashPartitions"]["maximum"]
#: Column names the extract adds to every raw row (metadata and partition columns); a
#: source declaration may not use them.
RESERVED_SOURCE_COLUMNS: tuple[str, ...] = tuple(_DEFINITIONS["sourceColumnName"]["not"]["enum"])


def validate_source_declaration(declaration: Mapping[str, Any], table: str | None = None) -> None:
    """Check a source-table declaration: ``#/$defs/source`` of :data:`DECLARATION_SCHEMA`
    and the semantic checks (see :func:`validate_declaration`).

    The schema: the common shape plus ``primary_key`` (a non-empty list of unique column
    names) and ``extract`` (``mode`` snapshot or incremental; ``bookmark_keys`` required by
    incremental and refused by snapshot; ``hash_field``; ``hash_partitions`` 1..64, which
    needs ``hash_field``; nothing else), no ``partition_keys`` and no column named like a
    raw metadata or partition column (ingest_date, run_id, _run_id, _extracted_at). The
    semantic checks: ``name`` equals ``table`` (when given, the file stem), and the primary
    key, bookmark keys and hash field name declared columns, the key non-nullable ones.

    Raises:
        ValueError: ``Source declaration '<table>': '<field>' <problem>``.
    """
    validate_declaration(declaration, SOURCE, table)


def load_source_declaration(table: str) -> dict[str, Any]:
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
        declaration: dict[str, Any] = _read_json(resource)
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
#: app creates the gold Iceberg tables from the same files (``lib/lake/catalog.ts``).
GOLD_SCHEMA_DIRECTORY = "schemas/gold"
#: The gold tables, sorted: the files of :data:`GOLD_SCHEMA_DIRECTORY`.
GOLD_TABLES: tuple[str, ...] = _declaration_stems(GOLD_SCHEMA_DIRECTORY)


def load_gold_declaration(table: str) -> dict[str, Any]:
    """Load and validate ``schemas/gold/<table>.json``, the declaration of one gold table.

    Raises:
        ValueError: the name is not a lower-case identifier, the declaration is invalid, or
            its ``name`` is not ``table``.
        FileNotFoundError: no declaration for that table.
    """
    if not isinstance(table, str) or not _NAME.match(table):
        raise ValueError(f"Gold table name {table!r} must be a lower-case identifier (a-z, 0-9, _).")
    declaration: dict[str, Any] = _read_json(f"{GOLD_SCHEMA_DIRECTORY}/{table}.json")
    validate_declaration(declaration, GOLD, table)
    return declaration


# --------------------------------------------------------------------------------------
# References between declarations: the order parents-first
# --------------------------------------------------------------------------------------


def referenced_datasets(declaration: Mapping[str, Any]) -> list[str]:
    """The datasets the declaration's ``references`` rules name, each once, in rule order
    (the declaration itself too when it references itself)."""
    rules = [r for r in declaration.get("quality") or [] if isinstance(r, Mapping)]
    return list(dict.fromkeys(r["dataset"] for r in rules if r.get("rule") == "references" and isinstance(r.get("dataset"), str)))


def reference_order(references: Mapping[str, Iterable[str]]) -> list[str]:
    """Order the tables (the keys of ``references``) so that every table comes after the
    tables it references (its value).

    Only references between the keys count; a reference to the table itself is ignored.
    Among the tables whose parents are placed, the alphabetically first goes next, so the
    order is deterministic. ``referenceOrder`` in lib/lake/load-order.ts is the same function.

    Raises:
        ValueError: the references form a cycle (names the tables on it).
    """
    pending = {t: {d for d in refs if d in references and d != t} for t, refs in references.items()}
    ordered: list[str] = []
    while pending:
        ready = sorted(t for t, parents in pending.items() if not parents)
        if not ready:
            raise ValueError(f"references rules form a cycle between {', '.join(sorted(pending))}.")
        table = ready[0]
        ordered.append(table)
        del pending[table]
        for parents in pending.values():
            parents.discard(table)
    return ordered


def load_order(declarations: Sequence[Mapping[str, Any]]) -> list[str]:
    """The names of ``declarations`` (one layer: the source or the gold tables), parents
    first by their ``references`` rules (:func:`reference_order`).

    Raises:
        ValueError: a ``references`` rule names a dataset that is not one of
            ``declarations``, or the references form a cycle.
    """
    names = [d["name"] for d in declarations]
    for declaration in declarations:
        for dataset in referenced_datasets(declaration):
            if dataset not in names:
                index = next(
                    i for i, r in enumerate(declaration["quality"]) if isinstance(r, Mapping) and r.get("dataset") == dataset
                )
                raise ValueError(
                    f"Declaration '{declaration['name']}': 'quality[{index}].dataset' names \"{dataset}\", "
                    f"which is not a declaration of its layer (declared: {', '.join(sorted(names))})."
                )
    return reference_order({d["name"]: referenced_datasets(d) for d in declarations})


def source_load_order() -> list[str]:
    """The source tables parents first (:func:`load_order`): the order to load or curate
    them in so that every table's references point at a table already there. The CDK app
    derives the same order (``sourceLoadOrder`` in lib/lake/datasets.ts)."""
    return load_order([load_source_declaration(table) for table in SOURCE_TABLES])
