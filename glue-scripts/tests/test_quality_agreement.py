"""The PySpark rule loader enforces what the stacks' rulesets render (no Spark needed).

``fixtures/quality_rules.json`` lists, per declaration, every rule in order with its name,
kind, columns, action, whether it is implicit, every parameter (bounds, values, referenced
dataset and key, hours, ratio) and the DQDL lines ``lib/transform/quality.ts`` renders for
it, and the two Glue Data Quality rulesets the transform stack deploys. This test holds
``undercurrent_glue.quality`` to it and ``test/quality-agreement.test.ts`` holds
``lib/transform/quality.ts`` to it. Python renders no DQDL, so it reads each rule's parameters
back out of its DQDL lines and compares them with the ones the jobs enforce, rule by rule.
"""

import json
import re
from pathlib import Path

import pytest

from undercurrent_glue import quality, schema

SHARED = json.loads((Path(__file__).resolve().parent / "fixtures" / "quality_rules.json").read_text(encoding="utf-8"))


def declarations():
    for table in schema.SOURCE_TABLES:
        yield f"source/{table}", schema.load_source_declaration(table), quality.CURATED
    for table in schema.GOLD_TABLES:
        yield f"gold/{table}", schema.load_gold_declaration(table), quality.GOLD


DECLARATIONS = list(declarations())


def as_shared(rule):
    """A Rule as the shared file writes it (without its DQDL)."""
    params = {k: list(v) if isinstance(v, tuple) else v for k, v in rule.params.items()}
    return {
        "name": rule.name,
        "kind": rule.kind,
        "columns": list(rule.columns),
        "action": rule.action,
        "implicit": rule.implicit,
        "params": params,
    }


# --- reading DQDL back: every construct lib/transform/quality.ts renders --------------------

_S = r'"((?:[^"\\]|\\.)*)"'
_N = r"(-?[0-9]+(?:\.[0-9]+)?)"
_NULLS_PASS = re.compile(rf"^\((.*)\) or \(ColumnValues {_S} = NULL\)$")


def _text(literal):
    """The value of a DQDL string literal's content (``\\`` and ``\"`` escaped)."""
    return re.sub(r"\\(.)", r"\1", literal)


def _texts(literals):
    return [_text(s) for s in re.findall(_S, literals)]


_DQDL = [
    (re.compile(rf"^IsComplete {_S}$"), lambda m: ("not_null", [_text(m[0])], {})),
    (re.compile(rf"^IsUnique {_S}$"), lambda m: ("unique", [_text(m[0])], {})),
    (re.compile(rf"^IsPrimaryKey((?: {_S})+)$"), lambda m: ("unique", _texts(m[0]), {})),
    (re.compile(rf"^ColumnValues {_S} >= {_N}$"), lambda m: ("range", [_text(m[0])], {"min": json.loads(m[1])})),
    (re.compile(rf"^ColumnValues {_S} <= {_N}$"), lambda m: ("range", [_text(m[0])], {"max": json.loads(m[1])})),
    (re.compile(rf"^ColumnValues {_S} in \[(.*)\]$"), lambda m: ("allowed_values", [_text(m[0])], {"values": _texts(m[1])})),
    (
        re.compile(rf"^ReferentialIntegrity {_S} {_S} = 1\.0$"),
        lambda m: ("references", [_text(m[0])], dict(zip(("dataset", "key"), _text(m[1]).split(".", 1), strict=False))),
    ),
    (
        re.compile(rf"^DataFreshness {_S} <= {_N} hours$"),
        lambda m: ("freshness", [_text(m[0])], {"max_age_hours": json.loads(m[1])}),
    ),
    (re.compile(rf"^RowCount >= {_N}$"), lambda m: ("row_count", [], {"min": json.loads(m[0])})),
    (re.compile(rf"^RowCount <= {_N}$"), lambda m: ("row_count", [], {"max": json.loads(m[0])})),
    (re.compile(rf"^Completeness {_S} >= {_N}$"), lambda m: ("completeness", [_text(m[0])], {"min_ratio": json.loads(m[1])})),
]


def read_dqdl(line):
    """(kind, columns, params, nulls pass) of one DQDL line; a NULL in an ``in`` list counts as nulls passing."""
    nulls_pass = False
    wrapped = _NULLS_PASS.match(line)
    if wrapped:
        line, nulls_pass = wrapped.group(1), True
        assert f'"{wrapped.group(2)}"' in line, f"the NULL clause names another column: {wrapped.group(0)}"
    for pattern, read in _DQDL:
        match = pattern.match(line)
        if match:
            kind, columns, params = read(match.groups())
            if kind == "allowed_values" and line.endswith(", NULL]"):
                nulls_pass = True
            return kind, columns, params, nulls_pass
    raise AssertionError(f"not a DQDL rule lib/transform/quality.ts renders: {line}")


def read_rule(lines):
    """One rule's (kind, columns, params, nulls pass) from its DQDL lines (range and row_count
    bounds and not_null columns may take a line each)."""
    read = [read_dqdl(line) for line in lines]
    assert read, "a rule without DQDL"
    kinds = {r[0] for r in read}
    assert len(kinds) == 1, f"one rule rendered as several kinds: {lines}"
    columns, params = [], {}
    for _, cols, values, _ in read:
        columns += [c for c in cols if c not in columns]
        params.update(values)
    return kinds.pop(), columns, params, {r[3] for r in read}


def test_the_pyspark_loader_derives_every_rule_and_parameter_of_the_shared_file():
    actual = {key: [as_shared(r) for r in quality.load_rules(d, zone)] for key, d, zone in DECLARATIONS}
    expected = {key: [{k: v for k, v in r.items() if k != "dqdl"} for r in d["rules"]] for key, d in SHARED.items()}

    assert actual == expected


@pytest.mark.parametrize("key, declaration, zone", DECLARATIONS, ids=[key for key, _, _ in DECLARATIONS])
def test_each_rule_enforces_the_parameters_its_rendered_dqdl_states(key, declaration, zone):
    nullable = {c["name"]: c["nullable"] for c in declaration["columns"] + declaration.get("partition_keys", [])}
    rules = quality.load_rules(declaration, zone)
    shared = SHARED[key]["rules"]
    assert len(shared) == len(rules)

    for rule, rendered in zip(rules, shared, strict=True):
        kind, columns, params, nulls_pass = read_rule(rendered["dqdl"])
        enforced = as_shared(rule)
        assert (kind, columns, params) == (enforced["kind"], enforced["columns"], enforced["params"]), rule.name
        if rule.kind in (quality.RANGE, quality.ALLOWED_VALUES):
            # The jobs let NULL pass these rules (not_null judges it); the DQDL must say so
            # exactly where a NULL can occur, on a nullable column.
            assert nulls_pass == {nullable[rule.columns[0]]}, rule.name
        else:
            assert nulls_pass == {False}, rule.name


@pytest.mark.parametrize("key, declaration, zone", DECLARATIONS, ids=[key for key, _, _ in DECLARATIONS])
def test_the_rulesets_hold_the_rules_the_jobs_treat_as_blocking_and_as_warnings(key, declaration, zone):
    rules = quality.load_rules(declaration, zone)
    lines = {r["name"]: r["dqdl"] for r in SHARED[key]["rules"]}

    def ruleset(selected):
        unique = list(dict.fromkeys(line for r in selected for line in lines[r.name]))
        return "Rules = [\n  " + ",\n  ".join(unique) + "\n]" if unique else None

    # Blocking: what stops the dataset (block), and quarantine (the curated rows must satisfy it).
    assert SHARED[key]["rulesets"]["blocking"] == ruleset([r for r in rules if r.action in (quality.BLOCK, quality.QUARANTINE)])
    assert SHARED[key]["rulesets"]["warning"] == ruleset([r for r in rules if r.action == quality.WARN])
