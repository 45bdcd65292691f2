"""The PySpark rule loader derives the rules that the stacks' rulesets render (no Spark needed).

``fixtures/quality_rules.json`` lists, per declaration, every rule's name and action in order;
this test holds ``undercurrent_glue.quality`` to it and ``test/quality-agreement.test.ts``
holds ``lib/quality.ts`` to it, so the jobs and the Glue Data Quality rulesets agree.
"""

import json
from pathlib import Path

from undercurrent_glue import quality, schema

SHARED = Path(__file__).resolve().parent / "fixtures" / "quality_rules.json"


def test_the_pyspark_loader_derives_the_shared_rules_for_every_declaration():
    actual = {}
    for table in schema.SOURCE_TABLES:
        rules = quality.load_rules(schema.load_source_declaration(table), quality.CURATED)
        actual[f"source/{table}"] = [[r.name, r.action] for r in rules]
    for table in schema.GOLD_TABLES:
        rules = quality.load_rules(schema.load_gold_declaration(table), quality.GOLD)
        actual[f"gold/{table}"] = [[r.name, r.action] for r in rules]
    assert actual == json.loads(SHARED.read_text(encoding="utf-8"))
