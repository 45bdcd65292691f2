"""Shared fixtures: one local SparkSession for the whole test run, pinned to UTC."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

GLUE_SCRIPTS = Path(__file__).resolve().parents[1]
LIB = GLUE_SCRIPTS / "lib"
if str(LIB) not in sys.path:
    sys.path.insert(0, str(LIB))

# The Python side too: PySpark converts collected timestamps with the process's local zone.
os.environ["TZ"] = "UTC"
time.tzset()
# The driver and its Python workers must use this interpreter (the project's .venv).
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)


@pytest.fixture(scope="session")
def spark():
    """A local[2] SparkSession with 2 shuffle partitions, no UI and the UTC session time zone."""
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("undercurrent-glue-tests")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
        .config("spark.executor.extraJavaOptions", "-Duser.timezone=UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
