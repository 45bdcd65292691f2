"""The twin's ``s3://`` (``LocalS3FileSystem``) under a real local Spark, and its access log.

One twin session does all the Spark work of this module, in a fresh process (this file run as a
script): a SparkContext fixes its jars and file systems when it starts, so it cannot share the
test process's JVM with the other tests' sessions. The tests then check what it returned, the
files under ``<work>/s3`` and the lines of ``<work>/access/<run>.jsonl``, step by step.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from twin_support import lines, ok, raw_lines

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

GLUE_SCRIPTS = Path(__file__).resolve().parents[2]
PRINCIPAL = "arn:aws:iam::123456789012:role/undercurrent-dev-transform"
RUN = "jr_s3_test"
ACCOUNT = "123456789012"
REGION = "eu-west-1"
TIMEOUT = 600

ROWS = [(1, "a", "2024-01-01"), (2, "b", "2024-01-02"), (3, "c", "2024-01-02")]


# --- pytest side -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("twin-s3")
    work = base / "work"
    (work / "s3" / "bucket").mkdir(parents=True)  # the template's bucket; "nobucket" does not exist
    out = base / "out.json"
    done = subprocess.run(
        [sys.executable, __file__, str(work), str(out)], capture_output=True, text=True, timeout=TIMEOUT
    )
    if done.returncode != 0:
        pytest.fail(f"the twin session failed ({done.returncode}):\n{done.stderr[-6000:]}")
    result: dict[str, Any] = json.loads(out.read_text())
    result["work"] = work
    result["log"] = (work / "access" / f"{RUN}.jsonl").read_bytes()
    return result


def expected(op: str, action: str, key: str | None = None, prefix: str | None = None) -> str:
    """A log line as the file system writes it (json.dumps of the dict, keys in this order)."""
    line = {"principal": PRINCIPAL, "run": RUN, "op": op, "action": action}
    line["resource"] = "arn:aws:s3:::bucket" if key is None else f"arn:aws:s3:::bucket/{key}"
    if prefix is not None:
        line["prefix"] = prefix
    return json.dumps(line)


def get(op: str, key: str) -> str:
    return expected(op, "s3:GetObject", key)


def put(op: str, key: str) -> str:
    return expected(op, "s3:PutObject", key)


def delete(op: str, key: str) -> str:
    return expected(op, "s3:DeleteObject", key)


def list_(op: str, prefix: str) -> str:
    return expected(op, "s3:ListBucket", prefix=prefix)


def test_partitioned_parquet_is_written_under_the_bucket_directory(run):
    ok(run, "parquet_write")
    prefix = run["work"] / "s3" / "bucket" / "prefix"
    files = sorted(str(p.relative_to(prefix)) for p in prefix.rglob("*") if p.is_file())
    assert files[0] == "_SUCCESS"
    assert [f.split("/")[0] for f in files[1:]] == ["dt=2024-01-01", "dt=2024-01-02"]
    assert all(f.endswith(".snappy.parquet") for f in files[1:])
    assert not list((run["work"] / "s3").rglob("*.crc")), "the RawLocalFileSystem delegate writes no checksums"
    assert not (prefix / "_temporary").exists()


def test_partitioned_parquet_reads_back_with_s3_paths(run):
    read = ok(run, "parquet_read")
    assert read["rows"] == [list(r) for r in ROWS]
    assert read["files"] and all(f.startswith("s3://bucket/prefix/dt=") for f in read["files"])
    assert lines(run, "parquet_read")  # reads are recorded too
    assert {line["action"] for line in lines(run, "parquet_read")} == {"s3:GetObject", "s3:ListBucket"}


def test_parquet_write_stays_in_its_prefix_but_for_the_folder_marker(run):
    written = lines(run, "parquet_write")
    assert {(line["principal"], line["run"]) for line in written} == {(PRINCIPAL, RUN)}
    resources = {line["resource"] for line in written}
    # EMRFS's mkdirs marker of the output directory is the one object outside "prefix/".
    outside = {r for r in resources if not r.startswith("arn:aws:s3:::bucket/prefix/")}
    assert outside == {"arn:aws:s3:::bucket", "arn:aws:s3:::bucket/prefix", "arn:aws:s3:::bucket/prefix_$folder$"}
    assert {line["prefix"] for line in written if line["action"] == "s3:ListBucket"} >= {"prefix/"}
    assert all(line["prefix"].startswith("prefix/") for line in written if line["action"] == "s3:ListBucket")
    puts = {line["resource"] for line in written if line["action"] == "s3:PutObject"}
    assert "arn:aws:s3:::bucket/prefix_$folder$" in puts
    assert "arn:aws:s3:::bucket/prefix/_SUCCESS" in puts
    finals = [r for r in puts if r.startswith("arn:aws:s3:::bucket/prefix/dt=") and r.endswith(".parquet")]
    assert len(finals) == 2  # the committed part files, one per partition
    assert put("mkdirs s3://bucket/prefix/_temporary/0", "prefix_$folder$") in raw_lines(run, "parquet_write")


def test_dynamic_partition_overwrite_replaces_only_the_written_partitions(run):
    ok(run, "dynamic_first")
    ok(run, "dynamic_overwrite")
    assert ok(run, "dynamic_read") == [[1, "a", "2024-01-01"], [9, "z", "2024-01-02"]]
    deleted = {line["resource"] for line in lines(run, "dynamic_overwrite") if line["action"] == "s3:DeleteObject"}
    old = run["dynamic_first_files"]
    assert [f.split("/")[0] for f in old] == ["dt=2024-01-01", "dt=2024-01-02"]
    assert [f for f in old if f"arn:aws:s3:::bucket/dyn/{f}" in deleted] == [f for f in old if f.startswith("dt=2024-01-02/")]
    partition = run["work"] / "s3" / "bucket" / "dyn" / "dt=2024-01-01"
    assert [p.name for p in partition.iterdir()] == [old[0].split("/")[1]]  # untouched


def test_json_gzip_and_text(run):
    assert ok(run, "json_gzip") == [list(r) for r in ROWS]
    parts = sorted((run["work"] / "s3" / "bucket" / "json").glob("part-*"))
    assert parts and all(p.name.endswith(".json.gz") for p in parts)
    records = [json.loads(line) for p in parts for line in gzip.decompress(p.read_bytes()).splitlines()]
    assert sorted(r["id"] for r in records) == [1, 2, 3]
    assert ok(run, "text") == ["a", "b", "c"]


def test_missing_bucket_fails_like_no_such_bucket(run):
    for step in ("missing_bucket_read", "missing_bucket_write"):
        assert "NoSuchBucket" in run["errors"][step] and "nobucket" in run["errors"][step], run["errors"][step]
    assert b"nobucket" not in run["log"]


def test_file_system_calls_log_exact_requests(run):
    op = "mkdirs s3://bucket/ops/a/b"
    assert ok(run, "mkdirs") is True
    assert raw_lines(run, "mkdirs") == [
        get(op, "ops/a/b"), get(op, "ops/a/b_$folder$"), list_(op, "ops/a/b/"),
        get(op, "ops/a"), get(op, "ops/a_$folder$"), list_(op, "ops/a/"),
        get(op, "ops"), get(op, "ops_$folder$"), list_(op, "ops/"),
        put(op, "ops_$folder$"), put(op, "ops/a_$folder$"), put(op, "ops/a/b_$folder$"),
    ]
    ok(run, "create")
    assert raw_lines(run, "create") == [put("create s3://bucket/ops/a/b/f.txt", "ops/a/b/f.txt")]
    assert ok(run, "getFileStatus") == ["s3://bucket/ops/a/b", True]
    op = "getFileStatus s3://bucket/ops/a/b"
    assert raw_lines(run, "getFileStatus") == [get(op, "ops/a/b"), get(op, "ops/a/b_$folder$")]  # the marker answers
    assert ok(run, "listStatus") == ["s3://bucket/ops/a/b"]
    assert raw_lines(run, "listStatus") == [list_("listStatus s3://bucket/ops/a", "ops/a/")]
    assert ok(run, "rename") is True
    op = "rename s3://bucket/ops/a/b/f.txt -> s3://bucket/ops/g.txt"
    assert raw_lines(run, "rename") == [
        get(op, "ops/a/b/f.txt"),
        get(op, "ops/g.txt"), get(op, "ops/g.txt_$folder$"), list_(op, "ops/g.txt/"),
        get(op, "ops/a/b/f.txt"), put(op, "ops/g.txt"), delete(op, "ops/a/b/f.txt"),
    ]
    assert ok(run, "globStatus") == ["s3://bucket/ops/g.txt"]
    assert ok(run, "listFiles") == ["s3://bucket/ops/g.txt"]
    assert raw_lines(run, "listFiles") == [list_("listFiles s3://bucket/ops", "ops/")]  # one flat listing
    assert ok(run, "read_back") == "hello"
    assert ok(run, "delete") is True
    op = "delete s3://bucket/ops"
    assert raw_lines(run, "delete") == [
        get(op, "ops"), get(op, "ops_$folder$"), list_(op, "ops/"),
        delete(op, "ops/g.txt"),
        delete(op, "ops/a/b_$folder$"), delete(op, "ops/a_$folder$"), delete(op, "ops_$folder$"),
    ]
    assert ok(run, "exists_after_delete") is False
    assert not (run["work"] / "s3" / "bucket" / "ops").exists()
    assert not (run["work"] / "s3.folder-markers" / "bucket" / "ops_$folder$").exists()


def test_folder_markers_can_be_switched_off(run):
    assert ok(run, "mkdirs_without_markers") is True
    op = "mkdirs s3://bucket/plain/x"
    assert raw_lines(run, "mkdirs_without_markers") == [
        get(op, "plain/x"), list_(op, "plain/x/"), get(op, "plain"), list_(op, "plain/"),
    ]


# --- the twin session (a fresh process) --------------------------------------------------------


def scenario(work: Path, out: Path) -> None:
    for path in (GLUE_SCRIPTS / "lib", GLUE_SCRIPTS):
        sys.path.insert(0, str(path))
    from pyspark.sql import functions as F

    from local.twin.spark import access_log, twin_spark

    spark = twin_spark(work, PRINCIPAL, RUN, {}, "twin-s3-test", ACCOUNT, REGION)
    log = access_log(work, RUN)
    result: dict[str, Any] = {"offsets": {}, "errors": {}}

    def step(name: str, action: Callable[[], Any]) -> None:
        start = log.stat().st_size if log.exists() else 0
        try:
            result[name] = action()
        except Exception as error:  # noqa: BLE001 - reported to the test
            result[name] = None
            result["errors"][name] = f"{type(error).__name__}: {error}"
        result["offsets"][name] = [start, log.stat().st_size if log.exists() else 0]

    frame = spark.createDataFrame(ROWS, "id int, name string, dt string")

    def rows(df: DataFrame) -> list[list[Any]]:
        return [[r["id"], r["name"], str(r["dt"])] for r in df.orderBy("id").collect()]

    step("parquet_write", lambda: frame.write.partitionBy("dt").parquet("s3://bucket/prefix/"))

    def parquet_read():
        df = spark.read.parquet("s3://bucket/prefix/")
        files = sorted({r[0] for r in df.select(F.input_file_name()).collect()})
        return {"rows": rows(df), "files": files}

    step("parquet_read", parquet_read)

    step("dynamic_first", lambda: frame.where("id < 3").write.mode("overwrite").partitionBy("dt").parquet("s3://bucket/dyn/"))
    dyn = work / "s3" / "bucket" / "dyn"
    result["dynamic_first_files"] = sorted(str(p.relative_to(dyn)) for p in dyn.glob("dt=*/*"))
    replacement = spark.createDataFrame([(9, "z", "2024-01-02")], "id int, name string, dt string")
    step(
        "dynamic_overwrite",
        lambda: replacement.write.mode("overwrite").option("partitionOverwriteMode", "dynamic")
        .partitionBy("dt").parquet("s3://bucket/dyn/"),
    )
    step("dynamic_read", lambda: rows(spark.read.parquet("s3://bucket/dyn/")))

    def json_gzip():
        frame.coalesce(1).write.option("compression", "gzip").json("s3://bucket/json/")
        return rows(spark.read.json("s3://bucket/json/"))

    step("json_gzip", json_gzip)

    def text():
        frame.select("name").coalesce(1).write.text("s3://bucket/text/")
        return sorted(r[0] for r in spark.read.text("s3://bucket/text/").collect())

    step("text", text)
    step("missing_bucket_read", lambda: spark.read.parquet("s3://nobucket/x/").count())
    step("missing_bucket_write", lambda: frame.write.parquet("s3://nobucket/y/"))

    jvm = spark._jvm
    assert jvm is not None  # set while a SparkContext runs
    conf = spark._jsc.hadoopConfiguration()
    P = jvm.org.apache.hadoop.fs.Path
    fs = P("s3://bucket/").getFileSystem(conf)

    def create():
        stream = fs.create(P("s3://bucket/ops/a/b/f.txt"))
        stream.write(bytearray(b"hello"))
        stream.close()

    def file_status():
        status = fs.getFileStatus(P("s3://bucket/ops/a/b"))
        return [status.getPath().toString(), status.isDirectory()]

    def list_files():
        found = fs.listFiles(P("s3://bucket/ops"), True)
        paths = []
        while found.hasNext():
            paths.append(found.next().getPath().toString())
        return paths

    def read_back():
        stream = fs.open(P("s3://bucket/ops/g.txt"))
        try:
            return jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8")
        finally:
            stream.close()

    step("mkdirs", lambda: fs.mkdirs(P("s3://bucket/ops/a/b")))
    step("create", create)
    step("getFileStatus", file_status)
    step("listStatus", lambda: [s.getPath().toString() for s in fs.listStatus(P("s3://bucket/ops/a"))])
    step("rename", lambda: fs.rename(P("s3://bucket/ops/a/b/f.txt"), P("s3://bucket/ops/g.txt")))
    step("globStatus", lambda: [s.getPath().toString() for s in fs.globStatus(P("s3://bucket/ops/*.txt"))])
    step("listFiles", list_files)
    step("read_back", read_back)
    step("delete", lambda: fs.delete(P("s3://bucket/ops"), True))
    step("exists_after_delete", lambda: fs.exists(P("s3://bucket/ops")))

    plain = jvm.org.apache.hadoop.conf.Configuration(conf)
    plain.set("undercurrent.twin.s3.folder-markers", "false")
    step("mkdirs_without_markers", lambda: P("s3://bucket/").getFileSystem(plain).mkdirs(P("s3://bucket/plain/x")))

    spark.stop()
    out.write_text(json.dumps(result))


if __name__ == "__main__":
    scenario(Path(sys.argv[1]), Path(sys.argv[2]))
