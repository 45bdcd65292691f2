"""Shared fixtures: one local SparkSession (with an Iceberg catalog) per test process, pinned to UTC.

``scripts/pytest.sh`` runs the tests in two processes (pytest-xdist, ``--dist loadfile``): each
test file runs whole in one of them, so a module-scoped fixture (a generated lake, a pipeline
run) is built once, and each process starts its own session once.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

GLUE_SCRIPTS = Path(__file__).resolve().parents[1]
LIB = GLUE_SCRIPTS / "lib"
for path in (LIB, GLUE_SCRIPTS):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from local.spark import SMALL_INPUT_CONF, pin_utc  # noqa: E402

pin_utc()

#: Test files in the order the two processes take them (``scripts/pytest.sh`` passes
#: ``--no-loadscope-reorder``, or pytest-xdist would hand out the files with the most tests
#: first): the longest first, so that they finish together instead of one running a long file
#: alone at the end. Files not named here follow in their usual order. Only the order changes,
#: never what a file runs.
LONGEST_FIRST = (
    "test_pipeline_local.py",
    "test_gold_job.py",
    "test_generator.py",
    "test_source_curate_job.py",
    "test_clickstream.py",
    "twin/test_twin_iceberg.py",
    "test_gold.py",
    "twin/test_awsglue_jdbc.py",
    "twin/test_run_job.py",
    "test_clickstream_job.py",
    "twin/test_twin_s3.py",
    "test_local_spark.py",
    "test_curate.py",
)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Put the longest files first (a stable sort: the order within a file is kept)."""
    tests = Path(__file__).resolve().parent
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}

    def file_rank(item: pytest.Item) -> int:
        try:
            name = item.path.resolve().relative_to(tests).as_posix()
        except ValueError:
            return len(rank)
        return rank.get(name, len(rank))

    items.sort(key=file_rank)


@pytest.fixture(scope="session")
def iceberg_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory of the session's local Iceberg warehouse (catalog ``glue_catalog``)."""
    return tmp_path_factory.mktemp("iceberg-warehouse")


@pytest.fixture(scope="session")
def spark(iceberg_warehouse):
    """A local[1] SparkSession, 1 shuffle partition, UTC, Iceberg catalog ``glue_catalog``.

    One core: the tests run in two processes, which keep both cores busy; a second task thread in
    each added scheduling and contention for a few rows, not speed (the PySpark tests took 354
    instead of 400 core-seconds, 192 instead of 217 s). Tests about partitioning set their own
    partitions.
    """
    from local.spark import SHORT_RUN_JAVA_OPTIONS, local_spark

    session = local_spark(iceberg_warehouse, app_name="undercurrent-glue-tests", cores=1, java_options=SHORT_RUN_JAVA_OPTIONS)
    for key, value in SMALL_INPUT_CONF.items():
        session.conf.set(key, value)
    yield session
    session.stop()


@pytest.fixture
def spark_defaults(spark):
    """The session with Spark's own settings instead of :data:`SMALL_INPUT_CONF`, for the test's
    duration: for tests about generated code or the chosen plan, as on Glue."""
    for key in SMALL_INPUT_CONF:
        spark.conf.unset(key)
    yield spark
    for key, value in SMALL_INPUT_CONF.items():
        spark.conf.set(key, value)
