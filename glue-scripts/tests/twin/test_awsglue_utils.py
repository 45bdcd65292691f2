"""The twin's ``awsglue.utils.getResolvedOptions``: Glue 5.0's argument resolution."""

from __future__ import annotations

import argparse

import pytest

from twin_support import load_awsglue

utils = load_awsglue("utils").utils
getResolvedOptions = utils.getResolvedOptions

GLUE_ARGV = [
    "/tmp/asset.0123abcd.py",
    "--JOB_ID", "j_0123",
    "--JOB_RUN_ID", "jr_0456",
    "--JOB_NAME", "SourceExtract",
    "--job-bookmark-option", "job-bookmark-enable",
    "--enable-metrics",
    "--conf", "spark.sql.extensions=x.Ext --conf spark.sql.catalog.glue_catalog=y.Catalog",
    "--datalake-formats", "iceberg",
    "--tables", "customers,orders",
    "--raw_path=s3://raw-bucket/source/",
]


def test_resolves_requested_and_glue_arguments():
    args = getResolvedOptions(GLUE_ARGV, ["JOB_NAME", "tables", "raw_path"])

    assert args["JOB_NAME"] == "SourceExtract"
    assert args["tables"] == "customers,orders"
    assert args["raw_path"] == "s3://raw-bucket/source/"  # --name=value works too
    # Resolved by Glue whether requested or not.
    assert args["JOB_RUN_ID"] == "jr_0456"
    assert args["JOB_ID"] == "j_0123"
    assert args["job_bookmark_option"] == "job-bookmark-enable"
    for absent in ("SECURITY_CONFIGURATION", "encryption_type", "enable_data_lineage", "TempDir", "RedshiftTempDir",
                   "job_bookmark_from", "job_bookmark_to"):
        assert args[absent] is None
    # Arguments nobody asked for are not resolved (--conf, --enable-metrics, --datalake-formats).
    assert "conf" not in args and "enable_metrics" not in args and "datalake_formats" not in args


def test_bookmark_option_defaults_to_disable_and_translates_continuations():
    assert getResolvedOptions(["s.py", "--JOB_NAME", "j"], ["JOB_NAME"])["job_bookmark_option"] == "job-bookmark-disable"
    old = getResolvedOptions(["s.py", "--continuation-option", "continuation-readonly"], [])
    assert old["job_bookmark_option"] == "job-bookmark-pause"
    assert "continuation_option" not in old


def test_missing_argument_names_it():
    with pytest.raises(utils.GlueArgumentError, match=r"the following arguments are required: --connection_name"):
        getResolvedOptions(GLUE_ARGV, ["JOB_NAME", "tables", "connection_name"])


def test_argument_without_value_fails():
    # An empty value reaches the script as the bare key: requesting it fails like in Glue.
    with pytest.raises(utils.GlueArgumentError, match=r"--enable-metrics: expected one argument"):
        getResolvedOptions(GLUE_ARGV, ["enable-metrics"])


def test_dashes_become_underscores_and_temp_dirs_mirror():
    args = getResolvedOptions(["s.py", "--metrics-namespace", "Undercurrent/T", "--TempDir", "s3://t/"], ["metrics-namespace"])
    assert args["metrics_namespace"] == "Undercurrent/T"
    assert args["TempDir"] == args["RedshiftTempDir"] == "s3://t/"


def test_reserved_arguments_cannot_be_requested():
    with pytest.raises(RuntimeError, match="Using reserved arguments job-bookmark-option"):
        getResolvedOptions(GLUE_ARGV, ["job-bookmark-option"])
    with pytest.raises(RuntimeError, match="Using reserved arguments --job-bookmark-from"):
        getResolvedOptions(GLUE_ARGV, ["job-bookmark-from"])
    # As in Glue, the run id is not caught by the reserved check but conflicts with Glue's own option.
    with pytest.raises(argparse.ArgumentError, match="conflicting option string: --JOB_RUN_ID"):
        getResolvedOptions(GLUE_ARGV, ["JOB_RUN_ID"])


def test_bookmark_option_values_are_checked():
    with pytest.raises(utils.GlueArgumentError, match="invalid choice: 'job-bookmark-on'"):
        getResolvedOptions(["s.py", "--job-bookmark-option", "job-bookmark-on"], [])


def test_bookmark_range_rules():
    with pytest.raises(RuntimeError, match="Missing option or value for --job-bookmark-to"):
        getResolvedOptions(["s.py", "--job-bookmark-option", "job-bookmark-pause", "--job-bookmark-from", "jr_1"], [])
    with pytest.raises(RuntimeError, match=r"Invalid option\(s\)--job-bookmark-from --job-bookmark-to"):
        getResolvedOptions(
            ["s.py", "--job-bookmark-option", "job-bookmark-enable", "--job-bookmark-from", "jr_1", "--job-bookmark-to", "jr_2"], []
        )
    paused = getResolvedOptions(
        ["s.py", "--job-bookmark-option", "job-bookmark-pause", "--job-bookmark-from", "jr_1", "--job-bookmark-to", "jr_2"], []
    )
    assert (paused["job_bookmark_from"], paused["job_bookmark_to"]) == ("jr_1", "jr_2")


def test_resolved_arguments_are_kept_globally():
    getResolvedOptions(GLUE_ARGV, ["JOB_NAME", "tables"])
    assert utils._global_args["tables"] == "customers,orders"


def test_the_jobs_settings_resolve_with_the_stand_in():
    from local.jobs import load_job

    extract = load_job("source_extract")
    argv = GLUE_ARGV + ["--connection_name", "undercurrent-mysql", "--database", "classicmodels"]
    settings, args = extract.job_settings(argv, getResolvedOptions)
    assert settings.tables == ("customers", "orders")
    assert settings.connection_name == "undercurrent-mysql"
    assert args["JOB_RUN_ID"] == "jr_0456"

    gold = load_job("curated_to_gold")
    gold_argv = [
        "g.py", "--JOB_NAME", "Gold", "--JOB_RUN_ID", "jr_1", "--curated_path", "s3://c/", "--clickstream_path", "s3://k/",
        "--gold_database", "gold", "--gold_path", "s3://g/", "--metrics_namespace", "Undercurrent/Transform",
        "--enable-metrics", "--conf", "a=b --conf c=d",
    ]
    try:
        gold_args = gold.job_settings(gold_argv, getResolvedOptions)
    except utils.GlueArgumentError as error:  # the job's required arguments changed: say which
        pytest.fail(f"curated_to_gold.job_settings: {error}")
    assert gold_args["JOB_NAME"] == "Gold"
