"""The twin's ``awsglue`` without a database: bookmark persistence, option checks (no Spark needed)."""

from __future__ import annotations

import json

import pytest

from twin_support import load_awsglue

awsglue = load_awsglue("_jdbc", "_twin", "context")
BookmarkStore = awsglue._twin.BookmarkStore
JdbcRead = awsglue._jdbc.JdbcRead
UnsupportedOptionError = awsglue._jdbc.UnsupportedOptionError

ENTRY = {
    "connectionType": "mysql",
    "dbtable": "src.events",
    "jobBookmarkKeys": ["updated_at"],
    "jobBookmarkKeysSortOrder": "asc",
    "values": [{"type": "timestamp", "text": "2025-01-01 00:00:00.005"}],
}


@pytest.fixture
def work(tmp_path, monkeypatch):
    monkeypatch.setenv("UNDERCURRENT_TWIN_WORK", str(tmp_path))
    return tmp_path


def test_enabled_commit_persists_atomically_and_counts_runs(work):
    first = BookmarkStore("SourceExtract", "jr_1", "job-bookmark-enable")
    assert first.committed("extract_events") is None
    first.record("extract_events", ENTRY)
    assert not (work / "bookmarks" / "SourceExtract.json").exists()  # only commit writes
    assert first.commit()

    saved = json.loads((work / "bookmarks" / "SourceExtract.json").read_text())
    assert saved["formatVersion"] == 1 and saved["jobName"] == "SourceExtract"
    assert (saved["version"], saved["run"], saved["runId"], saved["previousRunId"]) == (1, 1, "jr_1", None)
    assert saved["entries"]["extract_events"] == dict(ENTRY, runId="jr_1")
    assert [p.name for p in (work / "bookmarks").iterdir()] == ["SourceExtract.json"]  # no temporary file left

    second = BookmarkStore("SourceExtract", "jr_2", "job-bookmark-enable")
    assert second.committed("extract_events")["values"] == ENTRY["values"]
    second.record("extract_other", dict(ENTRY, dbtable="src.other"))
    second.commit()
    saved = json.loads((work / "bookmarks" / "SourceExtract.json").read_text())
    assert (saved["version"], saved["run"], saved["runId"], saved["previousRunId"]) == (2, 2, "jr_2", "jr_1")
    assert set(saved["entries"]) == {"extract_events", "extract_other"}  # entries not read this run are kept


def test_pause_and_disable_never_write(work):
    seeded = BookmarkStore("Job", "jr_1", "job-bookmark-enable")
    seeded.record("ctx", ENTRY)
    seeded.commit()
    before = (work / "bookmarks" / "Job.json").read_text()

    paused = BookmarkStore("Job", "jr_2", "job-bookmark-pause")
    assert paused.enabled and paused.committed("ctx")["values"] == ENTRY["values"]  # reads past the bookmark
    paused.record("ctx", dict(ENTRY, values=[{"type": "timestamp", "text": "2030-01-01 00:00:00"}]))
    assert not paused.commit()

    disabled = BookmarkStore("Job", "jr_3", "job-bookmark-disable")
    assert not disabled.enabled and disabled.committed("ctx") is None
    assert not disabled.commit()
    assert (work / "bookmarks" / "Job.json").read_text() == before


def test_a_context_reads_once_per_run(work):
    store = BookmarkStore("Job", "jr_1", "job-bookmark-enable")
    store.record("ctx", ENTRY)
    with pytest.raises(ValueError, match="transformation_ctx 'ctx' is used by two reads"):
        store.record("ctx", ENTRY)


def test_bookmarks_need_the_twin_work_dir_and_a_file_name(monkeypatch):
    monkeypatch.delenv("UNDERCURRENT_TWIN_WORK", raising=False)
    with pytest.raises(awsglue._twin.TwinConfigurationError, match="UNDERCURRENT_TWIN_WORK is not set"):
        BookmarkStore("Job", "jr_1", "job-bookmark-enable")
    BookmarkStore("Job", "jr_1", "job-bookmark-disable")  # nothing to load
    with pytest.raises(ValueError, match="cannot name a bookmark file"):
        BookmarkStore("../escape", "jr_1", "job-bookmark-disable")


def test_the_extract_jobs_options_are_accepted():
    from undercurrent_glue.extract import jdbc_connection_options, plan_for
    from undercurrent_glue.schema import SOURCE_TABLES, load_source_declaration

    for table in SOURCE_TABLES:
        plan = plan_for(load_source_declaration(table))
        read = JdbcRead(jdbc_connection_options(plan, "undercurrent-mysql", "classicmodels"))
        assert read.table == f"`classicmodels`.`{table}`"
        assert read.bookmark_keys == plan.bookmark_keys
        if plan.hash_field:
            assert read.hash_partitions == (plan.hash_partitions or 7)


@pytest.mark.parametrize(
    "options, error, message",
    [
        ({"url": "jdbc:mysql://h/db", "dbtable": "t"}, UnsupportedOptionError, "url are not supported"),
        ({"useConnectionProperties": "false", "connectionName": "c", "dbtable": "t"}, UnsupportedOptionError, "useConnectionProperties"),
        ({"useConnectionProperties": "true", "dbtable": "t"}, ValueError, "connectionName"),
        ({"useConnectionProperties": "true", "connectionName": "c", "dbtable": "a.b.c"}, ValueError, "dbtable"),
        ({"useConnectionProperties": "true", "connectionName": "c", "dbtable": "t; drop"}, ValueError, "dbtable"),
        ({"useConnectionProperties": "true", "connectionName": "c", "dbtable": "t", "hashfield": "id", "hashpartitions": "0"},
         ValueError, "hashpartitions"),
        ({"useConnectionProperties": "true", "connectionName": "c", "dbtable": "t", "hashexpression": "id"},
         UnsupportedOptionError, "hashexpression"),
        ({"useConnectionProperties": "true", "connectionName": "c", "dbtable": "t", "jobBookmarkKeys": "id"}, ValueError, "list"),
        ({"useConnectionProperties": "true", "connectionName": "c", "dbtable": "t", "jobBookmarkKeys": ["id"],
          "jobBookmarkKeysSortOrder": "desc"}, UnsupportedOptionError, "only 'asc'"),
    ],
)
def test_other_options_are_refused(options, error, message):
    with pytest.raises(error, match=message):
        JdbcRead(options)


def test_hash_partitions_default_to_seven():
    read = JdbcRead({"useConnectionProperties": "true", "connectionName": "c", "dbtable": "t", "hashfield": "id"})
    assert read.hash_field == "`id`" and read.hash_partitions == 7


def test_only_mysql_reads_are_supported():
    reader = awsglue.context.DynamicFrameReader(object())
    with pytest.raises(UnsupportedOptionError, match="connection_type 's3'"):
        reader.from_options(connection_type="s3", connection_options={"paths": ["s3://b/k"]})
    with pytest.raises(UnsupportedOptionError, match="format"):
        reader.from_options(connection_type="mysql", connection_options={}, format="json")


def test_bookmark_literals():
    literal = awsglue._jdbc.literal
    assert literal("int", "42") == "42"
    assert literal("decimal(10,2)", "-3.50") == "-3.50"
    assert literal("timestamp", "2025-01-01 00:00:00.005") == "'2025-01-01 00:00:00.005'"
    assert literal("string", "O'Brien\\") == "'O''Brien\\\\'"
    with pytest.raises(ValueError, match="not a number"):
        literal("bigint", "1 OR 1=1")
    with pytest.raises(UnsupportedOptionError, match="double"):
        literal("double", "1.5")
