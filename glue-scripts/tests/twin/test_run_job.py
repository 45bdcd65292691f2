"""``local/twin/run_job.py``: one Glue job run in its own process, with the twin's Spark session."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

GLUE_SCRIPTS = Path(__file__).resolve().parents[2]
TWIN = GLUE_SCRIPTS / "local" / "twin"
RUN_JOB = TWIN / "run_job.py"
RUN_TIMEOUT = 600

_spec = importlib.util.spec_from_file_location("twin_run_job", RUN_JOB)
assert _spec is not None and _spec.loader is not None
run_job = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_job)

PRINCIPAL = "arn:aws:iam::111122223333:role/undercurrent-dev-ingestion-SourceExtractRole"


def _spec_for(tmp_path: Path, script: Path, arguments: dict[str, str], run_id: str = "jr_0001", **extra: Any) -> dict[str, Any]:
    spec = {
        "work": str(tmp_path / "work"),
        "jobName": "TwinTestJob",
        "runId": run_id,
        "script": str(script),
        "extraPyFiles": [],
        "arguments": arguments,
        "principal": PRINCIPAL,
        "connections": {},
        "account": "111122223333",
        "region": "eu-west-1",
        "partition": "aws",
    }
    spec.update(extra)
    return spec


def _run(tmp_path: Path, spec: dict[str, Any], name: str = "spec.json") -> subprocess.CompletedProcess:
    path = tmp_path / name
    path.write_text(json.dumps(spec))
    return subprocess.run([sys.executable, str(RUN_JOB), "--spec", str(path)], capture_output=True, text=True, timeout=RUN_TIMEOUT)


def _record(spec: dict[str, Any]) -> dict[str, Any] | None:
    path = Path(spec["work"]) / "runs" / f"{spec['runId']}.json"
    return json.loads(path.read_text()) if path.exists() else None


# --- without Spark ---------------------------------------------------------------------------


def test_argv_is_built_as_glue_passes_it():
    argv = run_job.glue_argv(
        "/a/asset.1.py", "SourceExtract", "jr_7",
        {"--enable-metrics": "", "--conf": "a=b --conf c=d", "--tables": "customers", "--job-bookmark-option": "job-bookmark-enable"},
    )
    assert argv == [
        "/a/asset.1.py", "--JOB_ID", run_job.job_id("SourceExtract"), "--JOB_RUN_ID", "jr_7", "--JOB_NAME", "SourceExtract",
        "--enable-metrics", "--conf", "a=b --conf c=d", "--tables", "customers", "--job-bookmark-option", "job-bookmark-enable",
    ]
    assert run_job.job_id("SourceExtract").startswith("j_")

    sys.path.insert(0, str(TWIN))
    try:
        from awsglue.utils import getResolvedOptions  # noqa: PLC0415 - the stand-in, as the job imports it
    finally:
        sys.path.remove(str(TWIN))
    args = getResolvedOptions(argv, ["JOB_NAME", "tables"])
    assert (args["JOB_NAME"], args["JOB_RUN_ID"], args["tables"], args["job_bookmark_option"]) == (
        "SourceExtract", "jr_7", "customers", "job-bookmark-enable",
    )


def test_bad_specs_are_refused_without_a_record(tmp_path):
    script = tmp_path / "job.py"
    script.write_text("raise SystemExit(0)\n")
    missing = _spec_for(tmp_path, script, {})
    del missing["principal"]
    done = _run(tmp_path, missing)
    assert done.returncode == 2 and "missing principal" in done.stderr

    reserved = _spec_for(tmp_path, script, {"--JOB_NAME": "other"})
    done = _run(tmp_path, reserved)
    assert done.returncode == 2 and "--JOB_NAME is set by Glue itself" in done.stderr

    no_script = _spec_for(tmp_path, tmp_path / "nope.py", {})
    done = _run(tmp_path, no_script)
    assert done.returncode == 2 and "is not a file" in done.stderr
    assert not (tmp_path / "work" / "runs").exists()


def test_a_reused_run_id_is_refused(tmp_path):
    script = tmp_path / "job.py"
    script.write_text("raise SystemExit(0)\n")
    spec = _spec_for(tmp_path, script, {})
    record = Path(spec["work"]) / "runs" / "jr_0001.json"
    record.parent.mkdir(parents=True)
    record.write_text('{"status": "SUCCEEDED"}')
    done = _run(tmp_path, spec)
    assert done.returncode == 2 and "was used before" in done.stderr
    assert record.read_text() == '{"status": "SUCCEEDED"}'


def test_the_boto3_stand_in_records_what_the_jobs_metrics_sink_sends(tmp_path, monkeypatch):
    stub_spec = importlib.util.spec_from_file_location("twin_boto3", TWIN / "stubs" / "boto3" / "__init__.py")
    assert stub_spec is not None and stub_spec.loader is not None
    boto3 = importlib.util.module_from_spec(stub_spec)
    stub_spec.loader.exec_module(boto3)
    for name, value in {
        "UNDERCURRENT_TWIN_WORK": str(tmp_path), "UNDERCURRENT_TWIN_RUN_ID": "jr_9", "UNDERCURRENT_TWIN_JOB_NAME": "Gold",
        "UNDERCURRENT_TWIN_PRINCIPAL": PRINCIPAL, "AWS_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(name, value)
    from undercurrent_glue.metrics import CloudWatchSink

    sink = CloudWatchSink("Gold", "Undercurrent/Transform", client=boto3.client("cloudwatch"))
    sink.publish("orders", {"RowsIn": 3, "RowsCurated": 2, "RowsQuarantined": 1, "DuplicatesRemoved": 0})
    sink.flush()
    (record,) = [json.loads(line) for line in (tmp_path / "metrics" / "jr_9.jsonl").read_text().splitlines()]
    assert (record["Namespace"], record["jobName"], record["principal"], record["region"]) == (
        "Undercurrent/Transform", "Gold", PRINCIPAL, "eu-west-1",
    )
    assert {m["MetricName"]: m["Value"] for m in record["MetricData"]} == {
        "RowsIn": 3.0, "RowsCurated": 2.0, "RowsQuarantined": 1.0, "DuplicatesRemoved": 0.0,
    }
    assert record["MetricData"][0]["Dimensions"] == [{"Name": "Job", "Value": "Gold"}, {"Name": "Dataset", "Value": "orders"}]

    with pytest.raises(NotImplementedError, match="only a recording 'cloudwatch' client"):
        boto3.client("s3")
    with pytest.raises(AttributeError, match="cloudwatch.get_metric_data is not available"):
        _ = boto3.client("cloudwatch").get_metric_data
    with pytest.raises(boto3.InvalidParameterValue, match="reserved for AWS services"):
        boto3.client("cloudwatch").put_metric_data(Namespace="AWS/Glue", MetricData=[{"MetricName": "x", "Value": 1.0}])


# --- with the twin's Spark ------------------------------------------------------------------


OK_SCRIPT = textwrap.dedent(
    '''
    """A tiny Glue job: resolves its arguments, writes two rows to a local path, publishes a metric."""
    import importlib.util
    import json
    import os
    import sys

    from awsglue.context import GlueContext
    from awsglue.job import Job
    from awsglue.utils import getResolvedOptions
    from pyspark.context import SparkContext
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType


    def main(argv):
        args = getResolvedOptions(argv, ["JOB_NAME", "out", "facts"])
        glue = GlueContext(SparkContext.getOrCreate())
        spark = glue.spark_session
        job = Job(glue)
        job.init(args["JOB_NAME"], args)

        import twin_helper  # from the extra py files, also in the Python workers (the UDF)

        loud = F.udf(twin_helper.shout, StringType())
        df = spark.createDataFrame([(1, "a"), (2, "b")], ["id", "name"]).withColumn("loud", loud("name"))
        df.write.mode("overwrite").parquet(args["out"])
        rows = sorted(r["loud"] for r in spark.read.parquet(args["out"]).collect())

        import boto3

        boto3.client("cloudwatch").put_metric_data(
            Namespace="Undercurrent/Test",
            MetricData=[{"MetricName": "RowsWritten", "Dimensions": [{"Name": "Job", "Value": args["JOB_NAME"]}],
                         "Value": float(len(rows)), "Unit": "Count"}],
        )
        with open(os.environ["UNDERCURRENT_TWIN_CONNECTIONS"]) as handle:
            connections = sorted(json.load(handle))
        facts = {
            "argv": argv,
            "args": args,
            "rows": rows,
            "flag": spark.conf.get("spark.undercurrent.test.flag", None),
            "shuffle": spark.conf.get("spark.sql.shuffle.partitions"),
            "small_input": [spark.conf.get(k) for k in ("spark.sql.adaptive.enabled", "spark.sql.codegen.factoryMode")],
            "twin_run": spark.sparkContext.getConf().get("spark.hadoop.undercurrent.twin.run"),
            "name": __name__,
            "local_importable": importlib.util.find_spec("local") is not None,
            "boto3": os.path.realpath(boto3.__file__),
            "awsglue": os.path.realpath(sys.modules["awsglue"].__file__),
            "connections": connections,
            "region": os.environ.get("AWS_REGION"),
        }
        with open(args["facts"], "w") as out:
            json.dump(facts, out)
        print("twin-test: wrote", len(rows), "rows", flush=True)
        job.commit()


    if __name__ == "__main__":
        main(sys.argv)
    '''
)


def test_a_job_run_succeeds(tmp_path):
    script = tmp_path / "asset.0123.py"
    script.write_text(OK_SCRIPT)
    package = tmp_path / "asset.4567"
    package.mkdir()
    (package / "twin_helper.py").write_text("def shout(value):\n    return value.upper()\n")
    out, facts = tmp_path / "out", tmp_path / "facts.json"
    spec = _spec_for(
        tmp_path, script,
        {
            "--out": out.as_uri(),
            "--facts": str(facts),
            "--conf": "spark.undercurrent.test.flag=on --conf spark.sql.shuffle.partitions=3 --conf spark.sql.adaptive.enabled=true",
            "--job-bookmark-option": "job-bookmark-enable",
            "--enable-metrics": "",
            "--TempDir": "s3://temp-bucket/glue/",
        },
        extraPyFiles=[str(package)],
        connections={"undercurrent-mysql": {"url": "jdbc:mysql://127.0.0.1:1/db", "user": "u", "password": "p"}},
    )
    before = dt.datetime.now(dt.UTC)
    done = _run(tmp_path, spec)
    assert done.returncode == 0, done.stderr[-4000:]

    record = _record(spec)
    assert record is not None
    assert record["status"] == "SUCCEEDED" and record["error"] is None
    assert (record["jobName"], record["runId"]) == ("TwinTestJob", "jr_0001")
    started, completed = (dt.datetime.fromisoformat(record[k]) for k in ("startedOn", "completedOn"))
    assert before <= started <= completed
    assert "twin-test: wrote 2 rows" in done.stdout  # the job's stdout passes through

    seen = json.loads(facts.read_text())
    assert seen["name"] == "__main__"
    assert seen["argv"][0] == str(script) and "--enable-metrics" in seen["argv"]
    assert seen["args"]["JOB_RUN_ID"] == "jr_0001" and seen["args"]["JOB_NAME"] == "TwinTestJob"
    assert seen["args"]["job_bookmark_option"] == "job-bookmark-enable" and seen["args"]["TempDir"] == "s3://temp-bucket/glue/"
    assert seen["rows"] == ["A", "B"]
    assert (seen["flag"], seen["shuffle"]) == ("on", "3")  # --conf reached the session made before the script
    assert seen["small_input"] == ["true", "NO_CODEGEN"]  # the twin's settings for a few rows, under the job's --conf
    assert seen["twin_run"] == "jr_0001"  # SparkContext.getOrCreate() returned the twin's session
    assert seen["local_importable"] is False  # glue-scripts itself is not on the job's path
    assert seen["boto3"] == str((TWIN / "stubs" / "boto3" / "__init__.py").resolve())  # the recording stand-in
    assert seen["awsglue"] == str((TWIN / "awsglue" / "__init__.py").resolve())
    assert seen["connections"] == ["undercurrent-mysql"] and seen["region"] == "eu-west-1"
    assert list(out.glob("part-*.parquet"))

    metrics = [json.loads(line) for line in (Path(spec["work"]) / "metrics" / "jr_0001.jsonl").read_text().splitlines()]
    assert len(metrics) == 1
    assert (metrics[0]["Namespace"], metrics[0]["principal"], metrics[0]["region"]) == ("Undercurrent/Test", PRINCIPAL, "eu-west-1")
    assert metrics[0]["MetricData"][0]["Value"] == 2.0

    bookmark = json.loads((Path(spec["work"]) / "bookmarks" / "TwinTestJob.json").read_text())
    assert (bookmark["run"], bookmark["runId"], bookmark["entries"]) == (1, "jr_0001", {})


@pytest.mark.parametrize(
    "body, error",
    [
        ('args = getResolvedOptions(sys.argv, ["JOB_NAME"])\nprint("twin-test: about to fail", flush=True)\n'
         'raise ValueError("boom: failed on purpose")\n', "ValueError: boom: failed on purpose"),
        ('args = getResolvedOptions(sys.argv, ["JOB_NAME", "tables"])\n',
         "GlueArgumentError: the following arguments are required: --tables"),
    ],
    ids=["raises", "missing-argument"],
)
def test_a_failing_job_run_is_recorded(tmp_path, body, error):
    script = tmp_path / "job.py"
    script.write_text("import sys\nfrom awsglue.utils import getResolvedOptions\n" + body)
    spec = _spec_for(tmp_path, script, {"--job-bookmark-option": "job-bookmark-enable"}, run_id="jr_fail")
    done = _run(tmp_path, spec)
    assert done.returncode == 1
    record = _record(spec)
    assert record is not None
    assert record["status"] == "FAILED" and record["error"] == error
    assert "Traceback" in done.stderr
    if "about to fail" in body:
        assert "twin-test: about to fail" in done.stdout
    assert not (Path(spec["work"]) / "bookmarks").exists()  # no commit, no bookmark
