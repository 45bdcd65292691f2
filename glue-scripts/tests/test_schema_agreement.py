"""Schema agreement: the Spark side of the clickstream dataset against its one declaration.

``schemas/clickstream_event.json`` is the single description of the curated click events.
The CDK app derives the curated catalog table from it (``lib/lake/catalog.ts``; the jest test
``test/stacks/catalog.test.ts`` compares the synthesized table's columns with this same
file), and the Spark job derives its schema from it here. Each side is asserted against the
JSON itself, read independently of the loader, so the catalog table and the Spark job cannot
disagree without one of the two tests failing.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from undercurrent_glue import clickstream, extract, schema

DECLARATION_FILE = (
    Path(__file__).resolve().parents[1] / "lib" / "undercurrent_glue" / "schemas" / "clickstream_event.json"
)


def declared(section):
    """(name, Glue/Hive type string) of the declaration's ``columns`` or ``partition_keys``, in order."""
    declaration = json.loads(DECLARATION_FILE.read_text(encoding="utf-8"))
    return [(c["name"], c["type"]) for c in declaration.get(section, [])]


def names_and_types(struct):
    """(name, type) of a Spark schema in Glue/Hive spelling (``int``, ``bigint``, ``decimal(p,s)``...)."""
    return [(f.name, f.dataType.simpleString()) for f in struct.fields]


def test_the_spark_schema_of_the_declaration_has_the_declared_names_types_and_order():
    struct = schema.to_struct_type(schema.load_declaration(clickstream.DECLARATION))

    assert names_and_types(struct) == declared("columns")


def test_the_spark_schema_with_partition_keys_ends_with_the_declared_partition_keys_in_order():
    struct = schema.to_struct_type(schema.load_declaration(clickstream.DECLARATION), include_partition_keys=True)

    assert names_and_types(struct) == declared("columns") + declared("partition_keys")
    assert declared("partition_keys") == [("event_date", "date"), ("ingest_date", "date")]


def test_the_spark_schema_keeps_the_declared_nullability():
    declaration = json.loads(DECLARATION_FILE.read_text(encoding="utf-8"))
    struct = schema.to_struct_type(schema.load_declaration(clickstream.DECLARATION), include_partition_keys=True)

    assert [f.nullable for f in struct.fields] == [
        c["nullable"] for c in declaration["columns"] + declaration["partition_keys"]
    ]


def test_the_curated_dataframe_the_job_writes_has_the_declared_schema(spark):
    raw = json.dumps(
        {
            "event_id": "agree-1",
            "event_type": "page_view",
            "event_time": "2024-05-01T12:00:00Z",
            "session_id": "s-1",
            "customer_number": 103,
            "page_url": "https://shop.example/",
        }
    )
    lines = spark.createDataFrame([(raw, dt.date(2024, 5, 1))], "value string, ingest_date date")

    curated = clickstream.transform_clickstream(lines, "jr_agreement").curated

    assert names_and_types(curated.schema) == declared("columns") + declared("partition_keys")


def test_the_quarantine_columns_are_those_of_the_quarantine_catalog_table():
    # lib/lake/catalog.ts CLICKSTREAM_QUARANTINE_COLUMNS, then the partition key ingest_date.
    assert clickstream.QUARANTINE_COLUMNS == ("raw_line", "rule", "run_id", "quarantined_at", "ingest_date")


# --------------------------------------------------------------------------------------
# Source and gold declarations. The jest side (test/stacks/catalog.test.ts) asserts that the
# catalog table of each declaration has exactly these columns: raw.source_<table> = declared
# columns + _run_id + _extracted_at, partitioned by ingest_date; gold.<table> = declared
# columns + partition keys (Iceberg).
# --------------------------------------------------------------------------------------

SCHEMAS_DIR = DECLARATION_FILE.parent
#: The columns the catalog adds after the declared ones of every raw source table (lib/lake/catalog.ts
#: SOURCE_METADATA_COLUMNS), and its one partition key (SOURCE_PARTITION_KEYS).
CATALOG_SOURCE_METADATA = [("_run_id", "string"), ("_extracted_at", "timestamp")]
CATALOG_SOURCE_PARTITION_KEYS = [("ingest_date", "date")]


def declaration_json(directory, table):
    return json.loads((SCHEMAS_DIR / directory / f"{table}.json").read_text(encoding="utf-8"))


def test_the_gold_tables_are_exactly_the_gold_declaration_files():
    files = sorted(p.stem for p in (SCHEMAS_DIR / "gold").glob("*.json"))

    assert list(schema.GOLD_TABLES) == files


@pytest.mark.parametrize("table", schema.GOLD_TABLES)
def test_the_spark_schema_of_each_gold_declaration_builds_with_the_declared_columns(table):
    declared_json = declaration_json("gold", table)
    struct = schema.to_struct_type(schema.load_gold_declaration(table), include_partition_keys=True)

    assert names_and_types(struct) == [
        (c["name"], c["type"]) for c in declared_json["columns"] + declared_json.get("partition_keys", [])
    ]


@pytest.mark.parametrize("table", schema.SOURCE_TABLES)
def test_the_spark_schema_of_each_source_declaration_builds_with_the_declared_columns(table):
    struct = schema.to_struct_type(schema.load_source_declaration(table))

    assert names_and_types(struct) == [(c["name"], c["type"]) for c in declaration_json("source", table)["columns"]]


@pytest.mark.parametrize("table", schema.SOURCE_TABLES)
def test_the_raw_columns_the_extract_writes_are_the_glue_source_table_columns_then_its_partition_directories(table):
    declared_json = declaration_json("source", table)
    glue_columns = [c["name"] for c in declared_json["columns"]] + [n for n, _ in CATALOG_SOURCE_METADATA]
    glue_partition_keys = [n for n, _ in CATALOG_SOURCE_PARTITION_KEYS]
    # Incremental tables also write a run_id= directory below ingest_date; the catalog has no
    # key for it (Athena reads every object under the ingest_date partition's prefix).
    directories = ["run_id"] if declared_json["extract"]["mode"] == "incremental" else []

    assert extract.raw_columns(schema.load_source_declaration(table)) == glue_columns + glue_partition_keys + directories
    assert list(extract.METADATA_COLUMNS) == [n for n, _ in CATALOG_SOURCE_METADATA]
