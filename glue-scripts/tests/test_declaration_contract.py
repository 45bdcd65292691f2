"""One contract for the declarations, validated the same way on both sides (no Spark needed).

* ``undercurrent_glue/declaration.schema.json`` is the JSON Schema of record; the package
  validates with jsonschema, the CDK app with ajv (lib/lake/datasets.ts);
* ``fixtures/declaration_cases.json`` lists declarations each side must accept, or reject with
  exactly the same problem (JSON Schema and semantic checks alike); test/declarations.test.ts
  holds the TypeScript loader to the same file;
* ``fixtures/load_order.json`` is the order parents-first both sides derive from the
  declarations' references.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest

from undercurrent_glue import curate, quality, schema

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CASES = json.loads((FIXTURES / "declaration_cases.json").read_text(encoding="utf-8"))
LOAD_ORDER = json.loads((FIXTURES / "load_order.json").read_text(encoding="utf-8"))
LIB = Path(__file__).resolve().parents[1] / "lib"
PACKAGE = LIB / "undercurrent_glue"
SCHEMAS = PACKAGE / "schemas"


def build(case):
    """The case's declaration: its base with its changes applied (as declarations.test.ts does)."""
    document = copy.deepcopy(CASES["bases"][case["kind"]])
    for change in case["changes"]:
        path = change["path"]
        if not path:
            document = change["value"]
            continue
        parent = document
        for part in path[:-1]:
            parent = parent[part]
        if change.get("delete"):
            del parent[path[-1]]
        elif isinstance(parent, list) and path[-1] == len(parent):
            parent.append(change["value"])
        else:
            parent[path[-1]] = change["value"]
    return document


def test_the_declaration_schema_is_a_valid_json_schema_2020_12():
    jsonschema.Draft202012Validator.check_schema(json.loads((PACKAGE / schema.DECLARATION_SCHEMA).read_text("utf-8")))


@pytest.mark.parametrize(
    "kind, path",
    [("dataset", p) for p in sorted(SCHEMAS.glob("*.json"))]
    + [("source", p) for p in sorted((SCHEMAS / "source").glob("*.json"))]
    + [("gold", p) for p in sorted((SCHEMAS / "gold").glob("*.json"))],
    ids=lambda value: value if isinstance(value, str) else value.relative_to(SCHEMAS).as_posix(),
)
def test_every_shipped_declaration_satisfies_the_json_schema_and_the_semantic_checks(kind, path):
    declaration = json.loads(path.read_text(encoding="utf-8"))

    assert schema.schema_validator(kind) is not None
    assert schema.declaration_problem(declaration, kind, path.stem) is None


@pytest.mark.parametrize("case", CASES["valid"], ids=lambda c: c["case"])
def test_the_shared_valid_declarations_are_accepted(case):
    assert schema.declaration_problem(build(case), case["kind"], case["stem"]) is None


@pytest.mark.parametrize("case", CASES["invalid"], ids=lambda c: c["case"])
def test_the_shared_invalid_declarations_are_rejected_with_the_shared_problem(case):
    assert schema.declaration_problem(build(case), case["kind"], case["stem"]) == case["problem"]


def test_validation_raises_the_problem_with_the_kind_and_the_table():
    case = next(c for c in CASES["invalid"] if c["case"] == "hash partitions zero")

    with pytest.raises(ValueError) as error:
        schema.validate_source_declaration(build(case), "things")

    assert str(error.value) == f"Source declaration 'things': {case['problem']}."


def test_the_derived_constants_come_from_the_json_schema():
    assert schema.EXTRACT_MODES == ("snapshot", "incremental")
    assert (schema.MIN_HASH_PARTITIONS, schema.MAX_HASH_PARTITIONS) == (1, 64)
    assert schema.RESERVED_SOURCE_COLUMNS == ("ingest_date", "run_id", "_run_id", "_extracted_at")


def test_the_package_ships_the_json_schema_and_without_jsonschema_runs_the_semantic_checks_alone(tmp_path):
    """Glue 5.0 does not provide jsonschema: from the zip Glue gets, with jsonschema blocked,
    every declaration still loads, the semantic checks still refuse, the schema is skipped."""
    archive = tmp_path / "undercurrent_glue.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(PACKAGE.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                zf.write(path, path.relative_to(LIB).as_posix())
    bad_key = next(c for c in CASES["invalid"] if c["case"] == "a primary key that is not a column")
    schema_only = next(c for c in CASES["invalid"] if c["case"] == "hash partitions zero")
    probe = (
        "import json, sys\n"
        "sys.modules['jsonschema'] = None\n"
        f"sys.path.insert(0, {str(archive)!r})\n"
        "import undercurrent_glue.schema as s\n"
        "import pkgutil\n"
        "shipped = json.loads(pkgutil.get_data('undercurrent_glue', s.DECLARATION_SCHEMA))\n"
        "[s.load_source_declaration(t) for t in s.SOURCE_TABLES]\n"
        "[s.load_gold_declaration(t) for t in s.GOLD_TABLES]\n"
        "s.load_declaration('clickstream_event')\n"
        f"bad_key, schema_only = json.loads({json.dumps(json.dumps([build(bad_key), build(schema_only)]))})\n"
        "print(json.dumps({'file': s.__file__, 'validator': s.schema_validator('source') is not None,"
        " 'defs': sorted(shipped['$defs'])[:1], 'tables': list(s.SOURCE_TABLES), 'gold': list(s.GOLD_TABLES),"
        " 'order': s.source_load_order(),"
        " 'bad_key': s.declaration_problem(bad_key, 'source', 'things'),"
        " 'schema_only': s.declaration_problem(schema_only, 'source', 'things')}))\n"
    )

    completed = subprocess.run(
        [sys.executable, "-I", "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )

    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["file"].startswith(str(archive))
    assert result["validator"] is False
    assert result["defs"] == ["action"]
    assert result["tables"] == list(schema.SOURCE_TABLES)
    assert result["gold"] == list(schema.GOLD_TABLES)
    assert result["order"] == LOAD_ORDER["source"]
    assert result["bad_key"] == bad_key["problem"]
    assert result["schema_only"] is None


# --- table lists and the order parents-first -------------------------------------------


def test_the_table_lists_are_the_declaration_files_sorted():
    assert list(schema.SOURCE_TABLES) == sorted(p.stem for p in (SCHEMAS / "source").glob("*.json"))
    assert list(schema.GOLD_TABLES) == sorted(p.stem for p in (SCHEMAS / "gold").glob("*.json"))


def test_the_derived_orders_are_the_shared_ones():
    assert schema.source_load_order() == LOAD_ORDER["source"]
    assert schema.load_order([schema.load_gold_declaration(t) for t in schema.GOLD_TABLES]) == LOAD_ORDER["gold"]


@pytest.mark.parametrize("layer", ["source", "gold"])
def test_the_derived_order_puts_every_referenced_table_before_its_referrers(layer):
    load = schema.load_source_declaration if layer == "source" else schema.load_gold_declaration
    tables = schema.SOURCE_TABLES if layer == "source" else schema.GOLD_TABLES
    declarations = [load(t) for t in tables]
    order = schema.load_order(declarations)

    assert sorted(order) == sorted(tables)
    pairs = [(d["name"], ref) for d in declarations for ref in schema.referenced_datasets(d) if ref != d["name"]]
    assert pairs, "no references between the tables: the test would prove nothing"
    for table, parent in pairs:
        assert order.index(parent) < order.index(table), f"{parent} must come before {table}"


def test_the_order_and_the_curate_order_are_one_function():
    rules = {t: quality.load_rules(schema.load_source_declaration(t), quality.CURATED) for t in schema.SOURCE_TABLES}

    assert curate.dependency_order(list(schema.SOURCE_TABLES), rules) == schema.source_load_order()


def things(name, *references):
    rules = [{"rule": "references", "column": "x", "dataset": r, "key": "y", "action": "warn"} for r in references]
    return {"name": name, "quality": rules}


def test_the_order_ignores_self_references_and_breaks_ties_by_name():
    assert schema.load_order([things("b", "b"), things("c", "a"), things("a")]) == ["a", "b", "c"]


def test_the_order_refuses_a_reference_to_a_table_that_is_not_declared():
    with pytest.raises(ValueError) as error:
        schema.load_order([things("a"), things("b", "a", "z")])

    assert str(error.value) == (
        "Declaration 'b': 'quality[1].dataset' names \"z\", which is not a declaration of its layer (declared: a, b)."
    )


def test_the_order_refuses_a_cycle():
    with pytest.raises(ValueError) as error:
        schema.load_order([things("a", "c"), things("b"), things("c", "a")])

    assert str(error.value) == "references rules form a cycle between a, c."
