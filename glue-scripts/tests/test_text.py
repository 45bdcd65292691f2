"""The whitespace helpers give exactly what the regular expressions they replace give."""

from __future__ import annotations

import random

from pyspark.sql import functions as F

from undercurrent_glue.text import WHITESPACE, clean_whitespace, trim_whitespace

# Every whitespace character, characters that look like whitespace but are not (no-break and
# em spaces), and letters.
_ALPHABET = list(WHITESPACE) + ["\u00a0", "\u2003", "a", "b"]


def _strings(count=3000, seed=5):
    rng = random.Random(seed)
    values = ["", None, "a", "  ", "a  b", "\t", " a\u00a0 ", *WHITESPACE]
    values += ["".join(rng.choice(_ALPHABET) for _ in range(rng.randint(1, 8))) for _ in range(count)]
    return values


def test_trim_and_clean_match_the_regular_expressions_on_every_mix_of_whitespace(spark):
    df = spark.createDataFrame([(v,) for v in _strings()], "s string")
    value = F.col("s")
    trimmed_by_regex = F.regexp_replace(value, r"^\s+|\s+$", "")
    differences = df.filter(
        ~trim_whitespace(value).eqNullSafe(trimmed_by_regex)
        | ~clean_whitespace(value).eqNullSafe(F.regexp_replace(trimmed_by_regex, r"\s+", " "))
    )
    assert differences.count() == 0, differences.limit(5).collect()


def test_clean_keeps_characters_that_are_not_whitespace_to_java_regex(spark):
    rows = spark.createDataFrame([(" \u00a0a\u2003 \t b ",)], "s string").select(clean_whitespace(F.col("s"))).collect()
    assert rows[0][0] == "\u00a0a\u2003 b"
