"""Shared fixtures: one local SparkSession (with an Iceberg catalog) for the whole test run, pinned to UTC."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

GLUE_SCRIPTS = Path(__file__).resolve().parents[1]
LIB = GLUE_SCRIPTS / "lib"
for path in (LIB, GLUE_SCRIPTS):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from local.spark import pin_utc  # noqa: E402

pin_utc()


@pytest.fixture(scope="session")
def iceberg_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory of the session's local Iceberg warehouse (catalog ``glue_catalog``)."""
    return tmp_path_factory.mktemp("iceberg-warehouse")


@pytest.fixture(scope="session")
def spark(iceberg_warehouse):
    """A local[2] SparkSession, 2 shuffle partitions, UTC, Iceberg catalog ``glue_catalog``."""
    from local.spark import local_spark

    session = local_spark(iceberg_warehouse, app_name="undercurrent-glue-tests")
    yield session
    session.stop()
