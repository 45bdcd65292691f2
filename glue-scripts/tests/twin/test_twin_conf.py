"""The twin's session settings without Spark: Glue's ``--conf`` parsing and the catalog shims."""

from __future__ import annotations

from pathlib import Path

import pytest

from local.twin.spark import (
    HADOOP_FILE_IO,
    SHIMS,
    TWIN_GLUE_CATALOG,
    TwinConfError,
    apply_twin_shims,
    parse_glue_conf,
    twin_spark,
)

GLUE_CATALOG = "org.apache.iceberg.aws.glue.GlueCatalog"
S3_FILE_IO = "org.apache.iceberg.aws.s3.S3FileIO"


def test_parse_glue_conf_pairs():
    assert parse_glue_conf("a.b=1 --conf c.d=x --conf e=") == {"a.b": "1", "c.d": "x", "e": ""}


def test_parse_glue_conf_values_keep_equals_and_spaces():
    value = "spark.driver.extraJavaOptions=-Da=b -Dc=d --conf spark.sql.catalog.c.warehouse=s3://gold/"
    assert parse_glue_conf(value) == {
        "spark.driver.extraJavaOptions": "-Da=b -Dc=d",
        "spark.sql.catalog.c.warehouse": "s3://gold/",
    }


def test_parse_glue_conf_leading_conf_blanks_and_repeats():
    assert parse_glue_conf("  --conf k=v1   --conf  k=v2 ") == {"k": "v2"}  # last wins, as spark-submit
    assert parse_glue_conf("") == {}
    assert parse_glue_conf("   ") == {}


@pytest.mark.parametrize(
    "bad",
    [
        "spark.sql.shuffle.partitions",  # no '='
        "=1",  # no key
        "a=1 --conf b",  # second part has no '='
        "a=1 --confb=2",  # pairs run together
        "a b=1",  # space in the key
        "a=1 --conf --conf b=2",
    ],
)
def test_parse_glue_conf_rejects_malformed(bad):
    with pytest.raises(ValueError):
        parse_glue_conf(bad)


def _template_conf(catalog: str = "glue_catalog") -> dict:
    return {
        "spark.sql.extensions": "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions",
        f"spark.sql.catalog.{catalog}": "org.apache.iceberg.spark.SparkCatalog",
        f"spark.sql.catalog.{catalog}.warehouse": "s3://gold/",
        f"spark.sql.catalog.{catalog}.catalog-impl": GLUE_CATALOG,
        f"spark.sql.catalog.{catalog}.io-impl": S3_FILE_IO,
    }


def test_shims_replace_glue_catalog_and_s3_file_io(tmp_path: Path) -> None:
    conf = apply_twin_shims(_template_conf(), tmp_path)

    assert conf["spark.sql.catalog.glue_catalog.catalog-impl"] == TWIN_GLUE_CATALOG == "undercurrent.twin.TwinGlueCatalog"
    assert conf["spark.sql.catalog.glue_catalog.io-impl"] == HADOOP_FILE_IO == "org.apache.iceberg.hadoop.HadoopFileIO"
    assert conf["spark.sql.catalog.glue_catalog.uri"] == f"jdbc:sqlite:{tmp_path.resolve()}/catalog/iceberg.sqlite"
    assert conf["spark.sql.catalog.glue_catalog.clients"] == "1"
    assert conf["spark.sql.catalog.glue_catalog.warehouse"] == "s3://gold/"  # the rest as the template has it
    assert conf["spark.sql.catalog.glue_catalog"] == "org.apache.iceberg.spark.SparkCatalog"
    assert set(SHIMS.values()) == {TWIN_GLUE_CATALOG, HADOOP_FILE_IO}  # the only shims


def test_shims_give_hadoop_file_io_when_the_template_leaves_glue_default(tmp_path: Path) -> None:
    conf = _template_conf("other")
    del conf["spark.sql.catalog.other.io-impl"]  # GlueCatalog's default would be S3FileIO

    assert apply_twin_shims(conf, tmp_path)["spark.sql.catalog.other.io-impl"] == HADOOP_FILE_IO


def test_shims_leave_conf_without_catalogs_alone(tmp_path: Path) -> None:
    conf = {"spark.sql.shuffle.partitions": "8", "spark.sql.sources.partitionOverwriteMode": "dynamic"}
    assert apply_twin_shims(conf, tmp_path) == conf


@pytest.mark.parametrize(
    "key, value",
    [
        ("spark.sql.catalog.glue_catalog.catalog-impl", "org.apache.iceberg.hive.HiveCatalog"),
        ("spark.sql.catalog.glue_catalog.io-impl", "org.apache.iceberg.gcp.gcs.GCSFileIO"),
        ("spark.sql.catalog.glue_catalog.type", "glue"),
        ("spark.sql.catalog.rest.type", "rest"),
    ],
)
def test_shims_refuse_what_the_twin_cannot_stand_in_for(tmp_path: Path, key: str, value: str) -> None:
    conf = _template_conf()
    conf[key] = value
    with pytest.raises(TwinConfError, match="cannot stand in"):
        apply_twin_shims(conf, tmp_path)


def test_twin_spark_checks_the_run_id_before_starting_spark(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="run id"):
        twin_spark(tmp_path, "p", "../escape", {}, "app", "123456789012", "eu-west-1")
