"""undercurrent_glue.frames: rows kept once for several actions, and dropped on release."""

from __future__ import annotations

from pyspark.sql import SparkSession, functions as F

from undercurrent_glue.frames import checkpoint, release, release_all


def _kept_rdds(spark: SparkSession) -> int:
    return len(spark.sparkContext._jsc.getPersistentRDDs())


def test_checkpoint_computes_the_rows_once_for_every_later_action(spark):
    # rand() gives new values each time the plan runs: equal sums prove the rows were kept.
    kept = checkpoint(spark.range(0, 1000, numPartitions=3).withColumn("r", F.rand()))

    first = kept.agg(F.sum("r")).take(1)[0][0]

    assert kept.agg(F.sum("r")).take(1)[0][0] == first
    assert kept.filter(F.col("r") >= 0).count() == 1000
    release(kept)


def test_release_drops_the_kept_rows_and_ignores_other_frames(spark):
    before = _kept_rdds(spark)
    kept = checkpoint(spark.range(10).withColumn("r", F.rand()))
    kept.count()
    assert _kept_rdds(spark) == before + 1

    release(kept.filter("id > 3"))  # not the checkpointed frame itself: nothing to drop
    assert _kept_rdds(spark) == before + 1
    release(kept)
    assert _kept_rdds(spark) == before


def test_release_all_drops_kept_and_persisted_frames(spark):
    kept = checkpoint(spark.range(10).withColumn("r", F.rand()))
    kept.count()
    cached = spark.range(5).persist()
    cached.count()

    release_all(spark)

    assert _kept_rdds(spark) == 0
    assert not (cached.storageLevel.useMemory or cached.storageLevel.useDisk)  # uncached too
