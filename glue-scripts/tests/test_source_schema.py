"""The source-table declarations (schemas/source/<table>.json) and their loader."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from test_declaration_contract import build
from undercurrent_glue import schema

LIB = Path(__file__).resolve().parents[1] / "lib"
PACKAGE = LIB / "undercurrent_glue"
SOURCE_DIR = PACKAGE / "schemas" / "source"


def valid_declaration(**extract):
    """A small valid incremental source declaration; ``extract`` replaces its extract block."""
    return {
        "name": "things",
        "description": "Test things.",
        "columns": [
            {"name": "thing_id", "type": "int", "nullable": False, "comment": ""},
            {"name": "label", "type": "string", "nullable": True, "comment": ""},
            {"name": "updated_at", "type": "timestamp", "nullable": False, "comment": ""},
        ],
        "primary_key": ["thing_id"],
        "extract": extract
        or {"mode": "incremental", "bookmark_keys": ["updated_at"], "hash_field": "thing_id", "hash_partitions": 4},
    }


def test_source_tables_lists_exactly_the_declaration_files_sorted():
    files = sorted(path.stem for path in SOURCE_DIR.glob("*.json"))

    assert list(schema.SOURCE_TABLES) == files
    assert list(schema.SOURCE_TABLES) == sorted(schema.SOURCE_TABLES)
    assert len(schema.SOURCE_TABLES) == 8


@pytest.mark.parametrize("table", schema.SOURCE_TABLES)
def test_every_source_declaration_loads_valid_and_is_named_after_its_file(table):
    declaration = schema.load_source_declaration(table)

    assert declaration["name"] == table
    assert declaration["extract"]["mode"] in schema.EXTRACT_MODES
    schema.to_struct_type(declaration)


def test_the_incremental_tables_are_bookmarked_on_updated_at_and_the_rest_are_snapshots():
    modes = {t: schema.load_source_declaration(t)["extract"] for t in schema.SOURCE_TABLES}

    assert sorted(t for t, e in modes.items() if e["mode"] == "incremental") == [
        "customers", "order_lines", "orders", "payments",
    ]
    assert all(e["bookmark_keys"] == ["updated_at"] for e in modes.values() if e["mode"] == "incremental")


def test_a_valid_declaration_passes_validation():
    schema.validate_source_declaration(valid_declaration(), "things")
    schema.validate_source_declaration(valid_declaration(mode="snapshot"))


# The invalid declarations and their problems are the shared cases of
# fixtures/declaration_cases.json (test_declaration_contract.py; test/declarations.test.ts
# holds the CDK app's loader to the same cases). Here: what validate_source_declaration adds.
CASES = json.loads((Path(__file__).resolve().parent / "fixtures" / "declaration_cases.json").read_text("utf-8"))
SOURCE_CASES = [c for c in CASES["invalid"] if c["kind"] == "source"]


@pytest.mark.parametrize("case", SOURCE_CASES, ids=lambda c: c["case"])
def test_an_invalid_source_declaration_raises_a_value_error_naming_the_table_and_the_field(case):
    with pytest.raises(ValueError) as error:
        schema.validate_source_declaration(build(case), case["stem"])

    assert str(error.value) == f"Source declaration '{case['stem']}': {case['problem']}."


def test_a_declaration_whose_name_differs_from_its_file_is_rejected():
    with pytest.raises(
        ValueError, match="Source declaration 'widgets': 'name' must be the file stem \"widgets\" \\(got \"things\"\\)"
    ):
        schema.validate_source_declaration(valid_declaration(), "widgets")


def test_an_unknown_source_table_raises_file_not_found_listing_the_known_tables():
    with pytest.raises(FileNotFoundError, match="schemas/source/invoices.json.*known tables: customers, employees"):
        schema.load_source_declaration("invoices")


@pytest.mark.parametrize("name", ["../clickstream_event", "Customers", "customers.json", ""])
def test_a_source_table_name_that_is_not_a_plain_identifier_is_rejected(name):
    with pytest.raises(ValueError, match="must be a lower-case identifier"):
        schema.load_source_declaration(name)


def test_source_declarations_and_the_extract_module_load_from_the_zip_shipped_to_glue(tmp_path):
    archive = tmp_path / "undercurrent_glue.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(PACKAGE.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                zf.write(path, path.relative_to(LIB).as_posix())
    probe = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(archive)!r})\n"
        "import undercurrent_glue.schema as s\n"
        "import undercurrent_glue.extract as e\n"
        "plans = [e.plan_for(s.load_source_declaration(t)) for t in s.SOURCE_TABLES]\n"
        "print(json.dumps({'file': e.__file__, 'modes': {p.table: p.mode for p in plans}}))\n"
    )

    completed = subprocess.run(
        [sys.executable, "-I", "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )

    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["file"].startswith(str(archive))
    assert result["modes"]["orders"] == "incremental" and result["modes"]["offices"] == "snapshot"
    assert sorted(result["modes"]) == list(schema.SOURCE_TABLES)

