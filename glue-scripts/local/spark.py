"""The local SparkSession every local run uses: tests, ``pipeline:local`` and the benchmark.

It mirrors what Glue 5.0 gives a job: Spark 3.5, the UTC session time zone, and an Apache
Iceberg catalog named :data:`ICEBERG_CATALOG` (in Glue it is the Glue Data Catalog; here a
Hadoop catalog in a local warehouse directory). The Iceberg Spark runtime jar is the one
``scripts/python-env.sh`` resolves from Maven Central and checks; its path comes from
``UNDERCURRENT_ICEBERG_JAR``. :func:`session_builder` holds the settings that the local twin's
session (``local/twin/spark.py``) shares.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: pyspark is imported once the time zone is pinned
    from pyspark.sql import SparkSession

#: The Iceberg catalog name the gold job uses, in Glue and locally.
ICEBERG_CATALOG = "glue_catalog"
ICEBERG_JAR_VARIABLE = "UNDERCURRENT_ICEBERG_JAR"
#: The driver's JVM options every local session starts with (the twin's session adds its own).
DRIVER_JAVA_OPTIONS = "-Duser.timezone=UTC"
#: Driver JVM options for sessions that run small inputs for a short while (the PySpark tests and
#: the twin's job runs), whose CPU goes to loading classes, Spark's code generation and compiling
#: hot methods more than to rows. Neither changes a result. Not for ``pipeline:local`` or the
#: benchmark, whose larger runs need the optimizing compiler.
#:
#: * The client compiler only: the optimizing compiler would compile the hot methods again.
#:   Without it, the clickstream tests took 46 instead of 68 s of CPU in the same wall time, and
#:   three of the slowest test files 226 instead of 311 s (158 instead of 180 s of wall time).
#: * No bytecode verification of the class path's classes (a diagnostic option, hence the
#:   unlock): they are the pinned jars of Spark and Iceberg, the JDBC drivers and the twin's own
#:   jar, not code from elsewhere. A session's start took 7.8 instead of 9.0 core-seconds (five
#:   starts each way, alternated).
#: * A code cache of 256 MB (the client compiler alone reserves 48): a test process's JVM, which
#:   runs every query of its files, filled it, then flushed compiled methods and compiled them
#:   again. In the gold job's tests the compiler threads took 6 instead of 10 s and the sweeper
#:   none instead of 2; pytest took 293 to 298 instead of 329 core-seconds, 161 to 164 instead of
#:   179 s. The space is reserved, and used only as filled; the twin's job runs, one JVM each,
#:   took the same CPU either way.
SHORT_RUN_JAVA_OPTIONS = (
    "-XX:TieredStopAtLevel=1",
    "-XX:+UnlockDiagnosticVMOptions",
    "-XX:-BytecodeVerificationRemote",
    "-XX:ReservedCodeCacheSize=256m",
)
#: Spark settings for runs of a few rows (the PySpark tests' session and the twin's job runs),
#: where Spark's CPU goes to planning and compiling rather than to rows: no adaptive execution
#: (which plans each query again after every shuffle stage) and no generated code (expressions are
#: interpreted instead of compiled by Janino). Results do not depend on either: they change plans,
#: not rows. They took the gold tests from 147 to 114 s of CPU, the clickstream tests from 45 to
#: 36 s, and the twin of dev from about 84 to 76 core-seconds. The jobs on Glue, the local
#: pipeline and the benchmark keep Spark's defaults; a job's own ``--conf`` in the twin wins.
SMALL_INPUT_CONF = {
    "spark.sql.adaptive.enabled": "false",
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
}
#: Generated classes Spark keeps for reuse (``spark.sql.codegen.cache.maxEntries``; default 100).
CODEGEN_CACHE_ENTRIES = 2000
#: The JVM classes PySpark looks up by their short name, again on every call that needs them:
#: ``functions`` for every function of ``pyspark.sql.functions`` (``F.col``, ``F.lit``...),
#: ``SparkSession`` and ``SparkSession$`` for every DataFrame method that reads the active
#: session, the SQL and Python utilities (the gold job: about 1,600 lookups). Py4J resolves such a
#: name through PySpark's package imports in turn, and each package that lacks the class costs a
#: lookup through every jar on the class path. Imported by their full names
#: (:func:`resolve_jvm_names_once`), ``F.col`` took 0.3 ms instead of 1.2 ms. Local sessions only:
#: the same classes either way, so no result changes.
PYSPARK_CLASSES = (
    "org.apache.spark.sql.functions",
    "org.apache.spark.sql.Column",
    "org.apache.spark.sql.SparkSession",
    "org.apache.spark.sql.SparkSession$",
    "org.apache.spark.sql.api.python.PythonSQLUtils",
    "org.apache.spark.api.python.PythonUtils",
    "org.apache.spark.api.python.PythonRDD",
    "org.apache.spark.api.python.SerDeUtil",
)
#: What :func:`resolve_jvm_names_once` remembers, by (gateway client, view or package id, name):
#: the packages found, and the classes of :data:`PYSPARK_CLASSES` by their simple names in the
#: views that import them. Keyed by the gateway client itself (kept alive here, so a later
#: session's client never shares a key).
_RESOLVED: dict[tuple[object, str, str], Any] = {}
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
        FileNotFoundError: the jar is not there; ``scripts/pytest.sh`` resolves it.
    """
    jar = Path(os.environ.get(ICEBERG_JAR_VARIABLE) or _DEFAULT_JAR)
    if not jar.is_file():
        raise FileNotFoundError(
            f"Iceberg Spark runtime not found at {jar}; run scripts/pytest.sh once (it resolves and "
            f"checks it) or set {ICEBERG_JAR_VARIABLE}."
        )
    return jar


def session_builder(
    app_name: str,
    cores: int = 2,
    shuffle_partitions: int | None = None,
    jars: Sequence[Path] = (),
) -> SparkSession.Builder:
    """The builder every local session starts from (``local_spark`` and the twin's ``twin_spark``).

    It has Glue 5.0's settings that do not depend on where the data is: ``local[cores]``, UTC,
    the Iceberg SQL extensions, the settings below; ``jars`` go on the class path. No catalog.

    Args:
        app_name: Spark application name.
        cores: local cores (``local[cores]``).
        shuffle_partitions: ``spark.sql.shuffle.partitions``; default ``cores``.
        jars: jars for ``spark.jars``.
    """
    pin_utc()
    from pyspark.sql import SparkSession

    partitions = str(shuffle_partitions or cores)
    return (
        SparkSession.builder.master(f"local[{cores}]")
        .appName(app_name)
        .config("spark.jars", ",".join(str(jar) for jar in jars))
        .config("spark.sql.extensions", "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions")
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
        .config("spark.driver.extraJavaOptions", DRIVER_JAVA_OPTIONS)
        .config("spark.executor.extraJavaOptions", "-Duser.timezone=UTC")
    )


def local_spark(
    warehouse: Path,
    app_name: str = "undercurrent-local",
    cores: int = 2,
    shuffle_partitions: int | None = None,
    java_options: Sequence[str] = (),
) -> SparkSession:
    """Return a local SparkSession with the Iceberg catalog :data:`ICEBERG_CATALOG` at ``warehouse``.

    Args:
        warehouse: directory of the local Iceberg warehouse (created if missing).
        app_name: Spark application name.
        cores: local cores (``local[cores]``).
        shuffle_partitions: ``spark.sql.shuffle.partitions``; default ``cores``.
        java_options: driver JVM options after :data:`DRIVER_JAVA_OPTIONS` (the tests':
            :data:`SHORT_RUN_JAVA_OPTIONS`).
    """
    warehouse.mkdir(parents=True, exist_ok=True)
    session = (
        session_builder(app_name, cores, shuffle_partitions, [iceberg_jar()])
        .config("spark.driver.extraJavaOptions", " ".join([DRIVER_JAVA_OPTIONS, *java_options]))
        .config(f"spark.sql.catalog.{ICEBERG_CATALOG}", "org.apache.iceberg.spark.SparkCatalog")
        .config(f"spark.sql.catalog.{ICEBERG_CATALOG}.type", "hadoop")
        .config(f"spark.sql.catalog.{ICEBERG_CATALOG}.warehouse", warehouse.resolve().as_uri())
        # No table cache: the benchmark and the tests delete warehouse directories between
        # runs, and a cached table (kept 30 s after its last use) would point at deleted metadata.
        .config(f"spark.sql.catalog.{ICEBERG_CATALOG}.cache-enabled", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    resolve_jvm_names_once(session)
    unpickle_local_rows_in_the_jvm()
    return session


def unpickle_local_rows_in_the_jvm() -> None:
    """Let ``createDataFrame`` of local rows skip its pass through Python workers (process-wide).

    ``createDataFrame(rows)`` parallelizes the rows pickled in batches, one pickled list per batch
    (``BatchedSerializer``), and then asks for them as ``AutoBatchedSerializer`` batches, which are
    the same: pickled lists. Because the two serializers differ as objects, PySpark maps every row
    through a Python worker (``lambda x: x``) only to pickle it again, on every action that reads
    the frame. Declaring the parallelized batches as what they already are lets the JVM unpickle
    them directly: the same rows, without forking Python workers and piping each row through them.
    The tests build their inputs this way; in the gold, curate and clickstream tests the Python
    workers took about a quarter of the CPU. Only for local sessions: ``tests/test_local_spark.py``
    checks that the rows are the same and that no Python worker is in the plan. Idempotent.
    """
    from pyspark import SparkContext
    from pyspark.serializers import AutoBatchedSerializer, BatchedSerializer, CPickleSerializer

    if hasattr(SparkContext.parallelize, "__wrapped__"):
        return
    parallelize = SparkContext.parallelize

    @functools.wraps(parallelize)
    def parallelize_as_auto_batches(self: SparkContext, c: Any, numSlices: int | None = None) -> Any:  # noqa: N803 - PySpark's name
        rdd = parallelize(self, c, numSlices)
        batches = rdd._jrdd_deserializer
        if type(batches) is BatchedSerializer and type(batches.serializer) is CPickleSerializer:
            rdd._jrdd_deserializer = AutoBatchedSerializer(CPickleSerializer())
        return rdd

    SparkContext.parallelize = parallelize_as_auto_batches  # type: ignore[method-assign]


def resolve_jvm_names_once(session: SparkSession) -> None:
    """Spare Py4J its slowest lookups (process-wide): import :data:`PYSPARK_CLASSES` by their full
    names into the session's view of the JVM and remember them, remember which dotted names are
    packages, and which members of a class are its static methods.

    Code reaches a class through its packages (``jvm.org.apache.hadoop.fs.Path``, PySpark's
    ``jvm.py4j.reflection.TypeUtil`` for every ``isinstance`` check of a Java object): each step is
    a call into the JVM, which first tries the name as a class, through every jar on the class
    path, and a first step such as ``org`` under each of PySpark's package imports too. A name
    that is a package stays one, so the answer is kept. In the gold job's tests those lookups were
    about 6% of the JVM's CPU. A simple name imported here stays that class in the session's view
    (a single-type import comes before PySpark's package imports), and a class's static method
    stays one: ``F.col("x")`` was three calls into the JVM (``functions``, ``col`` of it, the call)
    and is one, 0.12 instead of 0.28 ms (20,000 calls, three rounds each way). Remembering the
    imported classes alone took the gold job's and the clickstream tests from about 72 to 66
    core-seconds (three runs each way, alternated). A static field is still read each time. Only
    the round trips change, never what a name resolves to.
    """
    from py4j.java_gateway import JavaClass, JavaMember, JavaPackage, JVMView, java_import

    jvm = session.sparkContext._jvm
    assert jvm is not None, "the session's SparkContext is stopped"
    for name in PYSPARK_CLASSES:
        java_import(jvm, name)
        _RESOLVED[(jvm._gateway_client, jvm._id, name.rsplit(".", 1)[-1])] = JavaClass(name, jvm._gateway_client)
    if hasattr(JVMView.__getattr__, "__wrapped__"):
        return

    def remembered(
        lookup: Callable[[Any, str], Any], key: Callable[[Any, str], tuple[object, str, str]], kept: tuple[type, ...]
    ) -> Callable[[Any, str], Any]:
        @functools.wraps(lookup)
        def wrapper(self: Any, name: str) -> Any:
            k = key(self, name)
            if k in _RESOLVED:
                return _RESOLVED[k]
            found = lookup(self, name)
            if isinstance(found, kept):
                _RESOLVED[k] = found
            return found

        return wrapper

    # Only attributes set in __init__ are read here (any other would come back through __getattr__).
    JVMView.__getattr__ = remembered(
        JVMView.__getattr__, lambda view, name: (view._gateway_client, view._id, name), (JavaPackage,)
    )
    JavaPackage.__getattr__ = remembered(
        JavaPackage.__getattr__,
        lambda package, name: (package._gateway_client, package._jvm_id, f"{package._fqn}.{name}"),
        (JavaPackage,),
    )
    # A static method (or a nested class) of a class; the "z:" of Py4J's static references keeps
    # these keys apart from the views' and packages' ids.
    JavaClass.__getattr__ = remembered(
        JavaClass.__getattr__, lambda cls, name: (cls._gateway_client, f"z:{cls._fqn}", name), (JavaMember, JavaClass)
    )
