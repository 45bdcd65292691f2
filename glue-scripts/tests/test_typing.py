"""The type check (mypy, with glue-scripts/pyproject.toml) catches a wrong column type.

``scripts/lint-python.sh`` type-checks glue-scripts against pyspark's own type hints; this
proves the configuration makes them count: a column name passed where pyspark wants a
:class:`pyspark.sql.Column` is an error, and the same call with ``F.col`` is not. One mypy
run checks both modules (a few seconds, most of it reading pyspark's hints), with its cache
in a temporary directory.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mypy import api

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"

WRONG = """\
from pyspark.sql import DataFrame


def f(df: DataFrame) -> DataFrame:
    return df.withColumn("x", "a")
"""

RIGHT = """\
from pyspark.sql import DataFrame, functions as F


def f(df: DataFrame) -> DataFrame:
    return df.withColumn("x", F.col("a"))
"""


@pytest.fixture(scope="module")
def mypy_output(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, int]:
    """mypy's output and exit status for ``wrong_column.py`` and ``right_column.py``."""
    tmp = tmp_path_factory.mktemp("typing")
    (tmp / "wrong_column.py").write_text(WRONG, encoding="utf-8")
    (tmp / "right_column.py").write_text(RIGHT, encoding="utf-8")
    stdout, stderr, status = api.run(
        [
            "--config-file", str(PYPROJECT),
            "--cache-dir", str(tmp / ".mypy_cache"),
            # The project's overrides name modules these two files are not.
            "--no-warn-unused-configs",
            "--no-error-summary",
            str(tmp / "wrong_column.py"),
            str(tmp / "right_column.py"),
        ]
    )
    return stdout + stderr, status


def test_a_column_name_where_pyspark_wants_a_column_is_an_error(mypy_output):
    output, status = mypy_output
    assert status == 1, output
    assert (
        'wrong_column.py:5: error: Argument 2 to "withColumn" of "DataFrame" has incompatible type "str"; '
        'expected "Column"  [arg-type]'
    ) in output, output


def test_the_same_call_with_a_column_passes(mypy_output):
    output, _ = mypy_output
    assert "right_column.py" not in output, output
    assert [line for line in output.splitlines() if "error:" in line and "wrong_column.py:5:" not in line] == [], output
