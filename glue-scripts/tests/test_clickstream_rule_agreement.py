"""The curate job's clickstream rules on the lines of ``fixtures/clickstream_rule_cases.json``.

The live consumer of the click stream (``lib/serving/live-metrics/records.ts``) rejects a record
by the curate job's rules, so that its live ``Rejected`` count predicts what the curated zone
will quarantine. Both sides are held to the same fixture: here the Spark job's classification,
in jest (``test/serving/live-metrics-rule-agreement.test.ts``) the consumer's.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from undercurrent_glue import clickstream

CASES = json.loads((Path(__file__).parent / "fixtures" / "clickstream_rule_cases.json").read_text(encoding="utf-8"))["cases"]


def test_the_curate_job_fails_each_line_on_the_rule_the_fixture_names(spark):
    lines = spark.createDataFrame(
        [(case["line"], dt.date(2025, 6, 30)) for case in CASES], f"{clickstream.VALUE_COLUMN} string, {clickstream.INGEST_DATE} date"
    )
    rules = {row[clickstream.RAW_LINE]: row[clickstream.RULE] for row in clickstream._classify(lines).collect()}
    assert [(case["name"], rules[case["line"]]) for case in CASES] == [(case["name"], case["rule"]) for case in CASES]
    # Every rule of the job has a case: a new rule needs one here, and the consumer must agree on it.
    assert {case["rule"] for case in CASES} - {None} == set(clickstream.rule_names())
