"""The local session's own behaviour (``local/spark.py``), beyond Glue's settings it mirrors."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from pyspark import SparkContext
from pyspark.sql import DataFrame, functions as F

from local.spark import CODEGEN_CACHE_ENTRIES

ROWS = [
    (1, Decimal("95.70"), dt.date(2024, 2, 29), dt.datetime(2024, 3, 1, 23, 59, 59, 123456), "Łódź ✓", [1, 2], {"k": "v"}, (7, "x")),
    (2, None, None, None, None, None, None, None),
    (3, Decimal("-0.01"), dt.date(1970, 1, 1), dt.datetime(1999, 12, 31), "", [], {}, (None, "")),
]
SCHEMA = (
    "id int, amount decimal(10,2), day date, at timestamp, name string, numbers array<int>, "
    "tags map<string,string>, inner struct<n:int,s:string>"
)


def python_rdds(df: DataFrame) -> list[str]:
    """The RDDs of the frame's lineage that run in Python workers."""
    return re.findall(r"\bPythonRDD\[\d+\]", str(df._jdf.queryExecution().toRdd().toDebugString()))


def test_local_rows_are_unpickled_in_the_jvm_without_a_python_worker_and_unchanged(spark, monkeypatch):
    direct = spark.createDataFrame(ROWS * 700, SCHEMA)  # several batches in each of the two slices
    assert python_rdds(direct) == []

    monkeypatch.setattr(SparkContext, "parallelize", SparkContext.parallelize.__wrapped__)  # type: ignore[attr-defined]  # PySpark's own
    through_python = spark.createDataFrame(ROWS * 700, SCHEMA)
    assert len(python_rdds(through_python)) == 1

    assert direct.orderBy("id").collect() == through_python.orderBy("id").collect()
    assert direct.count() == len(ROWS) * 700
    assert direct.where("id = 1").first() == spark.createDataFrame(ROWS[:1], SCHEMA).first()


def test_an_rdd_of_local_rows_still_maps_through_python(spark):
    assert spark.sparkContext.parallelize([1, 2, 3], 2).map(lambda x: x * 10).collect() == [10, 20, 30]
    assert spark.createDataFrame([], "id int").count() == 0


def test_packages_and_the_imported_classes_of_the_jvm_are_looked_up_once_and_classes_still_resolve(spark, monkeypatch):
    jvm = spark.sparkContext._jvm
    assert jvm.org.apache.hadoop.fs.Path("/lake/raw").getName() == "raw"  # resolves as before
    client = spark.sparkContext._gateway._gateway_client
    calls: list[str] = []
    send = client.send_command

    def recorded(command, *args, **kwargs):
        calls.append(command)
        return send(command, *args, **kwargs)

    monkeypatch.setattr(client, "send_command", recorded)

    path_class = jvm.org.apache.hadoop.fs.Path  # org, org.apache, org.apache.hadoop, org.apache.hadoop.fs: remembered
    assert len(calls) == 1 and "org.apache.hadoop.fs.Path" in calls[0]  # the class itself is still asked for
    assert path_class("/lake/curated").getParent().toString() == "/lake"
    assert jvm.java.util.ArrayList().size() == 0  # other packages resolve (and are remembered) as well

    calls.clear()
    functions = jvm.functions  # imported by its full name: no call
    assert getattr(jvm, "SparkSession$")._fqn == "org.apache.spark.sql.SparkSession$"
    assert calls == []
    assert functions._fqn == "org.apache.spark.sql.functions"
    assert functions.lit(7).toString() == "7"  # and it works
    assert spark.range(3).select(F.sum("id")).first()[0] == 3

    integer = jvm.java.lang.Integer
    calls.clear()
    assert integer.toHexString(255) == "ff" and integer.toHexString(16) == "10"
    assert integer.MAX_VALUE == integer.MAX_VALUE == 2**31 - 1
    reflection = [c.split("\n")[2:4] for c in calls if c.startswith("r\n")]
    # A static method is asked for once (then only called); a static field is read each time.
    assert reflection == [["java.lang.Integer", "toHexString"]] + [["java.lang.Integer", "MAX_VALUE"]] * 2


def test_the_session_reuses_the_classes_it_generated_for_more_queries_than_spark_keeps_by_default(spark_defaults):
    spark = spark_defaults
    compilations = spark.sparkContext._jvm.org.apache.spark.metrics.source.CodegenMetrics.METRIC_COMPILATION_TIME()
    # Each literal is inlined in the generated code, so every query is a class of its own;
    # Spark keeps 100 by default, so a second round would compile them all again (the
    # benchmark's warm repeats rely on this).
    queries = [spark.range(2).select((F.col("id") * (1_000 + i)).alias("x")) for i in range(110)]
    for query in queries:
        query.collect()
    before = compilations.getCount()
    for query in queries:
        query.collect()
    assert before >= len(queries)  # the first round compiled a class for each query
    assert compilations.getCount() == before
    assert spark.conf.get("spark.sql.codegen.cache.maxEntries") == str(CODEGEN_CACHE_ENTRIES)
