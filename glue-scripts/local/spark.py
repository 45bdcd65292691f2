"""The local SparkSession every local run uses: tests, ``pipeline:local`` and the benchmark.

It mirrors what Glue 5.0 gives a job: Spark 3.5, the UTC session time zone, and an Apache
Iceberg catalog named :data:`ICEBERG_CATALOG` (in Glue it is the Glue Data Catalog; here a
Hadoop catalog in a local warehouse directory). The Iceberg Spark runtime jar is the one
``scripts/pytest.sh`` downloads from Maven Central and checks; its path comes from
``UNDERCURRENT_ICEBERG_JAR``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Optional

#: The Iceberg catalog name the gold job uses, in Glue and locally.
ICEBERG_CATALOG = "glue_catalog"
ICEBERG_JAR_VARIABLE = "UNDERCURRENT_ICEBERG_JAR"
#: Generated classes Spark keeps for reuse (``spark.sql.codegen.cache.maxEntries``; default 100).
CODEGEN_CACHE_ENTRIES = 2000
_DEFAULT_JAR = Path(__file__).resolve().parents[2] / ".venv" / "jars" / "iceberg-spark-runtime-3.5_2.12-1.7.1.jar"


def pin_utc() -> None:
    """Make the Python side use UTC too: PySpark converts collected timestamps with the process's zone."""
    os.environ["TZ"] = "UTC"
    time.tzset()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)


def iceberg_jar() -> Path:
    """The Iceberg Spark runtime jar: ``$UNDERCURRENT_ICEBERG_JAR`` or ``.venv/jars/...``.

    Raises:
        FileNotFoundError: the jar is not there; ``scripts/pytest.sh`` downloads it.
    """
    jar = Path(os.environ.get(ICEBERG_JAR_VARIABLE) or _DEFAULT_JAR)
    if not jar.is_file():
        raise FileNotFoundError(
            f"Iceberg Spark runtime not found at {jar}; run scripts/pytest.sh once (it downloads and "
            f"checks it) or set {ICEBERG_JAR_VARIABLE}."
        )
    return jar


def local_spark(
    warehouse: Path,
    app_name: str = "undercurrent-local",
    cores: int = 2,
    shuffle_partitions: Optional[int] = None,
):
    """Return a local SparkSession with the Iceberg catalog :data:`ICEBERG_CATALOG` at ``warehouse``.

    Args:
        warehouse: directory of the local Iceberg warehouse (created if missing).
        app_name: Spark application name.
        cores: local cores (``local[cores]``).
        shuffle_partitions: ``spark.sql.shuffle.partitions``; default ``cores``.
    """
    pin_utc()
    from pyspark.sql import SparkSession

    warehouse.mkdir(parents=True, exist_ok=True)
    partitions = str(shuffle_partitions or cores)
    session = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName(app_name)
        .config("spark.jars", str(iceberg_jar()))
        .config("spark.sql.extensions", "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions")
        .config(f"spark.sql.catalog.{ICEBERG_CATALOG}", "org.apache.iceberg.spark.SparkCatalog")
        .config(f"spark.sql.catalog.{ICEBERG_CATALOG}.type", "hadoop")
        .config(f"spark.sql.catalog.{ICEBERG_CATALOG}.warehouse", warehouse.resolve().as_uri())
        # No table cache: the benchmark and the tests delete warehouse directories between
        # runs, and a cached table (kept 30 s after its last use) would point at deleted metadata.
        .config(f"spark.sql.catalog.{ICEBERG_CATALOG}.cache-enabled", "false")
        # Iceberg 1.7.1's vectorized (Arrow) Parquet reader crashes the JVM (SIGSEGV) under
        # Spark 3.5.4 and later (apache/iceberg#11731, fixed in Iceberg 1.8.0); the row reader
        # gives the same rows.
        .config("spark.sql.iceberg.vectorization.enabled", "false")
        # Spark keeps 100 generated classes by default; the three transform jobs generate about
        # 500 per run, so a second run in the same JVM (the benchmark's repeats, the tests)
        # compiled them all again, and the JIT compiled their methods again. Glue runs each job
        # in a fresh JVM, which compiles its classes once either way.
        .config("spark.sql.codegen.cache.maxEntries", str(CODEGEN_CACHE_ENTRIES))
        .config("spark.sql.shuffle.partitions", partitions)
        .config("spark.default.parallelism", partitions)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.memory", "4g")
        .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
        .config("spark.executor.extraJavaOptions", "-Duser.timezone=UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session
