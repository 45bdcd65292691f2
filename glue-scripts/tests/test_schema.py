"""The schema declarations and their loader."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from pyspark.sql.types import (
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    TimestampType,
)

from undercurrent_glue import schema

LIB = Path(__file__).resolve().parents[1] / "lib"
PACKAGE = LIB / "undercurrent_glue"
AWSGLUE_IMPORT = re.compile(r"^\s*(import\s+awsglue|from\s+awsglue[\s.])", re.MULTILINE)


def declaration_with(columns, **extra):
    return {"name": "things", "description": "Test things.", "columns": columns, **extra}


def test_the_clickstream_declaration_has_its_name_description_and_nine_commented_columns():
    declaration = schema.load_declaration("clickstream_event")

    assert declaration["name"] == "clickstream_events"
    assert declaration["description"]
    assert [c["name"] for c in declaration["columns"]] == [
        "event_id",
        "event_type",
        "event_time",
        "session_id",
        "customer_number",
        "product_code",
        "page_url",
        "referrer",
        "user_agent",
    ]
    assert all(c["comment"] for c in declaration["columns"])
    assert declaration["allowed_values"]["event_type"] == [
        "page_view",
        "product_view",
        "add_to_cart",
        "remove_from_cart",
        "checkout",
        "purchase",
    ]


def test_the_clickstream_schema_has_the_declared_spark_types_and_nullability():
    struct = schema.load_schema("clickstream_event")

    assert [(f.name, f.dataType, f.nullable) for f in struct.fields] == [
        ("event_id", StringType(), False),
        ("event_type", StringType(), False),
        ("event_time", TimestampType(), False),
        ("session_id", StringType(), False),
        ("customer_number", IntegerType(), True),
        ("product_code", StringType(), True),
        ("page_url", StringType(), False),
        ("referrer", StringType(), True),
        ("user_agent", StringType(), True),
    ]


def test_partition_keys_are_appended_only_when_asked_for():
    without = schema.load_schema("clickstream_event")
    with_keys = schema.load_schema("clickstream_event", include_partition_keys=True)

    assert "event_date" not in without.fieldNames()
    assert "ingest_date" not in without.fieldNames()
    assert with_keys.fieldNames() == without.fieldNames() + ["event_date", "ingest_date"]


def test_the_clickstream_partition_keys_are_event_date_then_ingest_date_both_non_null_dates():
    declaration = schema.load_declaration("clickstream_event")
    with_keys = schema.load_schema("clickstream_event", include_partition_keys=True)

    assert [k["name"] for k in declaration["partition_keys"]] == ["event_date", "ingest_date"]
    assert all(k["type"] == "date" and k["comment"] for k in declaration["partition_keys"])
    assert [(f.name, f.dataType, f.nullable) for f in with_keys.fields[-2:]] == [
        ("event_date", DateType(), False),
        ("ingest_date", DateType(), False),
    ]


@pytest.mark.parametrize(
    "type_string, expected",
    [
        ("string", StringType()),
        ("int", IntegerType()),
        ("bigint", LongType()),
        ("double", DoubleType()),
        ("boolean", BooleanType()),
        ("date", DateType()),
        ("timestamp", TimestampType()),
        ("decimal(10,2)", DecimalType(10, 2)),
        ("decimal(38, 0)", DecimalType(38, 0)),
    ],
)
def test_each_supported_type_string_maps_to_its_spark_type(type_string, expected):
    assert schema.spark_type(type_string, "c") == expected


def test_a_declaration_with_a_decimal_column_converts_to_a_decimal_field():
    struct = schema.to_struct_type(
        declaration_with([{"name": "amount", "type": "decimal(12,4)", "nullable": True}])
    )

    assert struct.fields[0].dataType == DecimalType(12, 4)


@pytest.mark.parametrize("bad_type", ["varchar(10)", "STRING", "decimal(10)", "map<string,int>", ""])
def test_an_unknown_type_raises_a_value_error_naming_the_column_and_the_type(bad_type):
    with pytest.raises(ValueError) as error:
        schema.to_struct_type(declaration_with([{"name": "weird", "type": bad_type, "nullable": True}]))

    assert "'weird'" in str(error.value)
    assert f"'{bad_type}'" in str(error.value)


def test_a_decimal_with_a_scale_above_its_precision_is_rejected():
    with pytest.raises(ValueError, match="Column 'amount' has type 'decimal\\(4,5\\)'"):
        schema.spark_type("decimal(4,5)", "amount")


def test_validation_rejects_a_column_declared_twice():
    columns = [{"name": "a", "type": "int", "nullable": True}] * 2

    with pytest.raises(ValueError, match="Declaration 'things': 'columns\\[1\\].name' declares \"a\" a second time"):
        schema.validate_declaration(declaration_with(columns))


def test_validation_rejects_a_column_without_a_boolean_nullable():
    with pytest.raises(ValueError, match="Declaration 'things': 'columns\\[0\\].nullable' is missing"):
        schema.validate_declaration(declaration_with([{"name": "a", "type": "int"}]))


def test_validation_rejects_allowed_values_for_an_undeclared_column():
    declaration = declaration_with(
        [{"name": "a", "type": "string", "nullable": True}], allowed_values={"b": ["x"]}
    )

    with pytest.raises(ValueError, match="'allowed_values.b' names \"b\", which is not a declared column"):
        schema.validate_declaration(declaration)


def test_an_unknown_declaration_name_raises_file_not_found():
    with pytest.raises(FileNotFoundError, match="schemas/no_such_dataset.json"):
        schema.load_declaration("no_such_dataset")


@pytest.mark.parametrize("name", ["../secrets", "clickstream_event.json", "Clickstream", ""])
def test_a_declaration_name_that_is_not_a_plain_identifier_is_rejected(name):
    with pytest.raises(ValueError, match="must be a lower-case identifier"):
        schema.load_declaration(name)


def test_every_shipped_declaration_is_valid():
    names = sorted(p.stem for p in (PACKAGE / "schemas").glob("*.json"))

    assert names, "no declarations found"
    for name in names:
        schema.load_schema(name, include_partition_keys=True)


def test_no_module_of_the_shipped_package_imports_awsglue():
    offenders = [
        str(path.relative_to(LIB))
        for path in PACKAGE.rglob("*.py")
        if AWSGLUE_IMPORT.search(path.read_text(encoding="utf-8"))
    ]

    assert offenders == []


def test_the_package_imports_from_a_zip_and_loads_its_schema_with_pkgutil(tmp_path):
    archive = tmp_path / "undercurrent_glue.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(PACKAGE.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                zf.write(path, path.relative_to(LIB).as_posix())
    probe = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(archive)!r})\n"
        "import undercurrent_glue.schema as s\n"
        "import undercurrent_glue.clickstream as c\n"
        "d = s.load_declaration('clickstream_event')\n"
        "t = s.to_struct_type(d)\n"
        "print(json.dumps({'file': s.__file__, 'name': d['name'],"
        " 'fields': t.fieldNames(), 'rules': c.rule_names()}))\n"
    )

    # -I: isolated, so neither the working directory nor PYTHONPATH can supply the package.
    completed = subprocess.run(
        [sys.executable, "-I", "-c", probe],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["file"].startswith(str(archive))
    assert result["name"] == "clickstream_events"
    assert result["fields"][0] == "event_id" and len(result["fields"]) == 9
    assert "invalid_event_time" in result["rules"]
