"""The clickstream raw -> curated transform and the job's I/O, on a local Spark."""

from __future__ import annotations

import datetime as dt
import gzip
import json

import pytest
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, IntegerType, StringType, TimestampType

from local.jobs import load_job
from undercurrent_glue import clickstream
from undercurrent_glue.clickstream import (
    AccountingError,
    ClickstreamCounts,
    check_accounting,
    deduplicate,
    parse_events,
    transform_clickstream,
)

RUN_ID = "jr_test_0001"
INGEST_DATE = dt.date(2024, 5, 1)
ABSENT = object()


def event(event_id="3f1c9a52-8d7e-4a4b-9a43-1f0a2b3c4d5e", **overrides):
    """One valid raw click event as a JSON line; ABSENT removes a field."""
    body = {
        "event_id": event_id,
        "event_type": "page_view",
        "event_time": "2024-05-01T12:00:00Z",
        "session_id": "s-1",
        "customer_number": 103,
        "product_code": "S10_1678",
        "page_url": "https://shop.example/products/S10_1678",
        "referrer": "https://search.example/?q=bike",
        "user_agent": "Mozilla/5.0",
    }
    body.update(overrides)
    return json.dumps({k: v for k, v in body.items() if v is not ABSENT})


def lines(spark, *raw_lines, ingest_date=INGEST_DATE):
    """Raw lines as the job reads them: the line and the raw partition it came from."""
    return spark.createDataFrame(
        [(line, ingest_date) for line in raw_lines], "value string, ingest_date date"
    )


# (test id, raw line, rule it must fail). Every raw line is distinct.
RULE_CASES = [
    ("not json at all", "this is not json", "malformed_json"),
    ("truncated object", '{"event_id": "a", "event_type": "page_view"', "malformed_json"),
    ("json array", "[1, 2, 3]", "malformed_json"),
    ("json scalar", "42", "malformed_json"),
    ("blank line", "   ", "malformed_json"),
    ("empty line", "", "malformed_json"),
    ("two objects on one line", event("m-1") + event("m-2"), "malformed_json"),
    ("text after the object", event("m-3") + " trailing", "malformed_json"),
    ("two objects apart", event("m-4") + " \t " + event("m-5"), "malformed_json"),
    ("object after leading braces", "{{" + event("m-6")[1:] + event("m-7"), "malformed_json"),
    ("event_id absent", event(event_id=ABSENT, session_id="r-1"), "missing_event_id"),
    ("event_id null", event(event_id=None, session_id="r-2"), "missing_event_id"),
    ("event_id blank", event(event_id=" \t ", session_id="r-3"), "missing_event_id"),
    ("event_type absent", event("r-4", event_type=ABSENT), "missing_event_type"),
    ("event_time null", event("r-5", event_time=None), "missing_event_time"),
    ("session_id blank", event("r-6", session_id=""), "missing_session_id"),
    ("page_url absent", event("r-7", page_url=ABSENT), "missing_page_url"),
    ("event_type unknown", event("r-8", event_type="login"), "invalid_event_type"),
    ("event_time not a time", event("r-9", event_time="yesterday"), "invalid_event_time"),
    ("event_time without offset", event("r-10", event_time="2024-05-01T12:00:00"), "invalid_event_time"),
    ("event_time impossible date", event("r-11", event_time="2024-02-30T10:00:00Z"), "invalid_event_time"),
    ("event_time date only", event("r-12", event_time="2024-05-01"), "invalid_event_time"),
    ("customer_number text", event("r-13", customer_number="abc"), "invalid_customer_number"),
    ("customer_number fraction", event("r-14", customer_number=1.5), "invalid_customer_number"),
    ("customer_number over int", event("r-15", customer_number=99999999999), "invalid_customer_number"),
    ("customer_number boolean", event("r-16", customer_number=True), "invalid_customer_number"),
]


@pytest.fixture(scope="module")
def rule_outcomes(spark):
    """raw line -> rule, for all RULE_CASES parsed together in one run."""
    result = parse_events(lines(spark, *[raw for _, raw, _ in RULE_CASES]), RUN_ID)
    quarantined = {row["raw_line"]: row["rule"] for row in result.quarantine.collect()}
    return quarantined, result.valid.count()


@pytest.mark.parametrize("raw, rule", [(raw, rule) for _, raw, rule in RULE_CASES],
                         ids=[case for case, _, _ in RULE_CASES])
def test_a_line_breaking_a_rule_is_quarantined_under_that_rule_name(rule_outcomes, raw, rule):
    quarantined, _ = rule_outcomes

    assert quarantined.get(raw) == rule


def test_no_rule_breaking_line_reaches_the_valid_events(rule_outcomes):
    quarantined, valid_count = rule_outcomes

    assert valid_count == 0
    assert len(quarantined) == len(RULE_CASES)


def test_every_declared_rule_has_a_breaking_case():
    assert set(clickstream.rule_names()) == {rule for _, _, rule in RULE_CASES}


def test_rules_are_checked_in_the_documented_order():
    assert clickstream.rule_names() == [
        "malformed_json",
        "missing_event_id",
        "missing_event_type",
        "missing_event_time",
        "missing_session_id",
        "missing_page_url",
        "invalid_event_type",
        "invalid_event_time",
        "invalid_customer_number",
    ]


def test_a_line_breaking_several_rules_is_quarantined_under_the_first(spark):
    raw = event(event_id=ABSENT, event_type="login", event_time="soon", customer_number="x")

    quarantine = parse_events(lines(spark, raw), RUN_ID).quarantine.collect()

    assert [row["rule"] for row in quarantine] == ["missing_event_id"]


def test_a_quarantined_row_keeps_the_raw_line_the_run_id_and_a_quarantine_time(spark):
    raw = '  {"event_id": broken  '
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(seconds=1)

    result = parse_events(lines(spark, raw), RUN_ID)
    [row] = result.quarantine.collect()

    assert result.quarantine.columns == ["raw_line", "rule", "run_id", "quarantined_at", "ingest_date"]
    assert row["raw_line"] == raw
    assert row["ingest_date"] == INGEST_DATE
    assert row["rule"] == "malformed_json"
    assert row["run_id"] == RUN_ID
    assert before <= row["quarantined_at"] <= before + dt.timedelta(minutes=5)


def test_a_valid_event_is_trimmed_lower_cased_and_typed(spark):
    raw = event(
        " e-1 ",
        event_type="  Add_To_Cart ",
        session_id="\ts-9\n",
        customer_number=" 112 ",
        page_url=" https://shop.example/cart ",
    )

    result = parse_events(lines(spark, raw), RUN_ID)
    [row] = result.valid.collect()

    assert result.quarantine.count() == 0
    assert row["event_id"] == "e-1"
    assert row["event_type"] == "add_to_cart"
    assert row["session_id"] == "s-9"
    assert row["customer_number"] == 112
    assert row["page_url"] == "https://shop.example/cart"
    assert row["event_time"] == dt.datetime(2024, 5, 1, 12, 0, 0)
    assert row["event_date"] == dt.date(2024, 5, 1)
    assert row["raw_line"] == raw


def test_a_line_without_escapes_has_its_spaces_trimmed(spark):
    raw = event(" e-1 ", event_type=" page_view  ", session_id="  s-9", page_url="https://shop.example/ ")
    assert "\\" not in raw

    [row] = parse_events(lines(spark, raw), RUN_ID).valid.collect()

    assert (row["event_id"], row["event_type"], row["session_id"]) == ("e-1", "page_view", "s-9")
    assert row["page_url"] == "https://shop.example/"


def test_every_escaped_whitespace_character_at_the_edges_is_trimmed(spark):
    raw = event("e-1", session_id="\u000b\f\r s-9 \t\n", page_url="\thttps://shop.example/\u000b")

    [row] = parse_events(lines(spark, raw), RUN_ID).valid.collect()

    assert row["session_id"] == "s-9"
    assert row["page_url"] == "https://shop.example/"


def test_a_raw_control_character_inside_a_string_makes_the_line_malformed(spark):
    # What lets a line without a backslash skip the full trim: JSON has no raw control
    # character in a string, and the parser rejects the line.
    raw = event("e-1", session_id="s-9").replace('"s-9"', '"\ts-9"')
    assert "\t" in raw and "\\" not in raw

    [row] = parse_events(lines(spark, raw), RUN_ID).quarantine.collect()

    assert row["rule"] == "malformed_json"


def test_braces_inside_strings_do_not_make_a_line_malformed(spark):
    raw = event("e-1", page_url="https://shop.example/?q={a}{b}", referrer="{x}")

    result = parse_events(lines(spark, raw), RUN_ID)

    assert result.quarantine.count() == 0
    assert result.valid.take(1)[0]["page_url"] == "https://shop.example/?q={a}{b}"


def test_anonymous_visitors_keep_a_null_customer_number_and_blank_optional_strings_become_null(spark):
    raw = event("e-2", customer_number=None, product_code=ABSENT, referrer="  ", user_agent="")

    [row] = parse_events(lines(spark, raw), RUN_ID).valid.collect()

    assert row["customer_number"] is None
    assert row["product_code"] is None
    assert row["referrer"] is None
    assert row["user_agent"] is None


def test_an_event_time_with_a_plus_two_hours_offset_lands_as_the_right_utc_instant_and_date(spark):
    raw = event("e-3", event_time="2024-03-01T01:30:00.250+02:00")

    valid = parse_events(lines(spark, raw), RUN_ID).valid
    [row] = valid.select(
        "event_time",
        "event_date",
        F.unix_micros("event_time").alias("micros"),
        F.date_format("event_time", "yyyy-MM-dd'T'HH:mm:ss.SSSXXX").alias("iso"),
    ).collect()

    expected = dt.datetime(2024, 2, 29, 23, 30, 0, 250000, tzinfo=dt.UTC)
    assert row["micros"] == int(expected.timestamp() * 1_000_000)
    assert row["iso"] == "2024-02-29T23:30:00.250Z"
    assert row["event_time"] == expected.replace(tzinfo=None)
    assert row["event_date"] == dt.date(2024, 2, 29)


def test_results_do_not_depend_on_the_session_time_zone(spark):
    raws = [
        event("tz-1", event_time="2024-03-01T01:30:00+02:00"),
        event("tz-2", event_time="2024-03-01T23:30:00-05:00"),
        event("tz-3", event_time="2024-03-01T00:00:00Z"),
        event("tz-4", event_time="2024-03-01T23:59:59.999999Z"),
    ]

    def outcome():
        valid = parse_events(lines(spark, *raws), RUN_ID).valid
        rows = valid.select("event_id", F.unix_micros("event_time").alias("m"),
                            F.col("event_date").cast("string").alias("d")).collect()
        return sorted((r["event_id"], r["m"], r["d"]) for r in rows)

    in_utc = outcome()
    original = spark.conf.get("spark.sql.session.timeZone")
    try:
        spark.conf.set("spark.sql.session.timeZone", "Pacific/Kiritimati")  # UTC+14
        far_east = outcome()
        spark.conf.set("spark.sql.session.timeZone", "America/Los_Angeles")
        far_west = outcome()
    finally:
        spark.conf.set("spark.sql.session.timeZone", original)

    assert in_utc == far_east == far_west
    assert [d for _, _, d in in_utc] == ["2024-02-29", "2024-03-02", "2024-03-01", "2024-03-01"]


def test_the_curated_columns_have_the_declared_types_and_the_event_date_then_ingest_date_partitions(spark):
    result = transform_clickstream(lines(spark, event("e-4")), RUN_ID)

    types = {f.name: f.dataType for f in result.curated.schema.fields}
    assert result.curated.columns == clickstream.curated_columns()
    assert result.curated.columns[-2:] == ["event_date", "ingest_date"]
    assert types["event_time"] == TimestampType()
    assert types["customer_number"] == IntegerType()
    assert types["event_date"] == DateType()
    assert types["ingest_date"] == DateType()
    assert types["event_id"] == StringType()
    assert result.curated.take(1)[0]["ingest_date"] == INGEST_DATE


def test_deduplicate_keeps_the_earliest_event_time_then_the_smallest_other_values_in_declared_order(spark):
    raws = [
        event("d-1", event_time="2024-05-01T12:00:05Z", session_id="late"),
        event("d-1", event_time="2024-05-01T12:00:01Z", session_id="early-b"),
        event("d-1", event_time="2024-05-01T12:00:01Z", session_id="early-a"),
        event("d-2"),
        event("d-2"),
        event("d-3"),
        # The smaller raw line (leading space) holds the larger session_id: the values decide.
        " " + event("d-4", session_id="s-b"),
        event("d-4", session_id="s-a"),
    ]
    valid = parse_events(lines(spark, *raws), RUN_ID).valid

    events, removed = deduplicate(valid)
    kept = {row["event_id"]: row["session_id"] for row in events.collect()}

    assert removed == 4
    assert kept == {"d-1": "early-a", "d-2": "s-1", "d-3": "s-1", "d-4": "s-a"}
    assert transform_clickstream(lines(spark, *raws), RUN_ID).curated.where("event_id = 'd-4'").take(1)[0]["session_id"] == "s-a"
    assert events.columns == valid.columns


def test_deduplication_keeps_the_same_rows_whatever_the_input_order(spark):
    raws = [event("o-1", session_id=f"s-{i}", event_time="2024-05-01T00:00:00+00:00") for i in range(6)]

    forward = transform_clickstream(lines(spark, *raws), RUN_ID).curated.collect()
    backward = transform_clickstream(
        lines(spark, *reversed(raws)).repartition(3), RUN_ID
    ).curated.collect()

    assert forward == backward
    assert [row["session_id"] for row in forward] == ["s-0"]


def test_distinct_ids_that_share_a_hash_are_told_apart_exactly(spark, monkeypatch):
    raws = [
        event("a-1"), event("b-1"), event("a-1", session_id="s-2"), event("c-22"), event("dd-3"),
        event("dd-3", event_time="2024-05-01T11:00:00Z", session_id="s-0"), event("bad", event_type="login"),
    ]
    expected = transform_clickstream(lines(spark, *raws), RUN_ID)
    expected_rows = sorted(expected.curated.collect())
    # The length of the id as its "hash": a-1 and b-1 share one, c-22 and dd-3 another.
    monkeypatch.setattr(clickstream, "_id_hash", lambda event_id: F.length(event_id).cast("long"))

    result = transform_clickstream(lines(spark, *raws), RUN_ID)

    assert result.counts == expected.counts == ClickstreamCounts(7, 4, 1, 2)
    assert sorted(result.curated.collect()) == expected_rows
    assert {(r["event_id"], r["session_id"]) for r in expected_rows} == {
        ("a-1", "s-1"), ("b-1", "s-1"), ("c-22", "s-1"), ("dd-3", "s-0")
    }


def test_deduplicate_names_the_columns_it_needs(spark):
    with pytest.raises(ValueError, match="deduplicate needs columns \\['event_type', 'session_id'"):
        deduplicate(spark.createDataFrame([("a", None)], "event_id string, event_time timestamp"))


def test_transform_accounts_for_every_line_as_curated_quarantined_or_duplicate(spark):
    raws = [
        event("t-1"),
        event("t-1"),  # exact duplicate
        event("t-1", event_time="2024-05-01T13:00:00Z"),  # later duplicate
        event("t-2", event_type="PURCHASE", event_time="2024-05-02T08:00:00+08:00"),
        event("t-3", customer_number=None),
        "{not json",
        event("t-4", event_type="teleport"),
        event("t-1", event_time="garbage"),  # invalid, so not a duplicate of t-1
    ]

    curated, quarantine, counts = transform_clickstream(lines(spark, *raws), RUN_ID)

    assert counts == ClickstreamCounts(rows_in=8, rows_curated=3, rows_quarantined=3, duplicates_removed=2)
    assert counts.rows_in == counts.rows_curated + counts.rows_quarantined + counts.duplicates_removed
    assert curated.count() == counts.rows_curated
    assert quarantine.count() == counts.rows_quarantined
    assert sorted(r["rule"] for r in quarantine.collect()) == [
        "invalid_event_time",
        "invalid_event_type",
        "malformed_json",
    ]
    by_id = {r["event_id"]: r for r in curated.collect()}
    assert by_id["t-1"]["event_time"] == dt.datetime(2024, 5, 1, 12, 0)
    assert by_id["t-2"]["event_type"] == "purchase"
    assert by_id["t-2"]["event_date"] == dt.date(2024, 5, 2)


def test_an_empty_input_gives_empty_outputs_and_zero_counts(spark):
    curated, quarantine, counts = transform_clickstream(lines(spark), RUN_ID)

    assert counts == ClickstreamCounts(0, 0, 0, 0)
    assert curated.count() == 0
    assert quarantine.count() == 0
    assert curated.columns == clickstream.curated_columns()


def test_broken_accounting_raises_a_clear_error():
    with pytest.raises(AccountingError, match="rows_in=10 but rows_curated=5 \\+ rows_quarantined=2"):
        check_accounting(ClickstreamCounts(rows_in=10, rows_curated=5, rows_quarantined=2, duplicates_removed=1))


def test_input_without_a_string_value_column_is_rejected(spark):
    with pytest.raises(ValueError, match="string column 'value'"):
        parse_events(spark.createDataFrame([(1,)], "line int"), RUN_ID)


def test_an_empty_run_id_is_rejected(spark):
    with pytest.raises(ValueError, match="run_id must be a non-empty string"):
        transform_clickstream(lines(spark, event()), " ")


def test_input_without_a_date_ingest_date_column_is_rejected(spark):
    with pytest.raises(ValueError, match="date column 'ingest_date'"):
        transform_clickstream(spark.createDataFrame([(event(),)], "value string"), RUN_ID)
    with pytest.raises(ValueError, match="date column 'ingest_date'"):
        parse_events(spark.createDataFrame([(event(), "2024-05-01")], "value string, ingest_date string"), RUN_ID)


def test_a_line_without_an_ingest_date_fails_the_transform(spark):
    with pytest.raises(ValueError, match="1 input line\\(s\\) have a null 'ingest_date'"):
        transform_clickstream(lines(spark, event("n-1"), ingest_date=None), RUN_ID)


def test_every_curated_and_quarantined_row_keeps_the_ingest_date_of_its_line(spark):
    may_1, may_2 = dt.date(2024, 5, 1), dt.date(2024, 5, 2)
    window = lines(spark, event("i-1"), "bad 1", ingest_date=may_1).unionByName(
        lines(spark, event("i-2", event_time="2024-04-30T23:00:00Z"), "bad 2", ingest_date=may_2)
    )

    curated, quarantine, counts = transform_clickstream(window, RUN_ID)

    assert counts == ClickstreamCounts(rows_in=4, rows_curated=2, rows_quarantined=2, duplicates_removed=0)
    assert sorted((r["event_id"], r["event_date"], r["ingest_date"]) for r in curated.collect()) == [
        ("i-1", may_1, may_1),
        ("i-2", dt.date(2024, 4, 30), may_2),
    ]
    assert sorted((r["raw_line"], r["ingest_date"]) for r in quarantine.collect()) == [
        ("bad 1", may_1),
        ("bad 2", may_2),
    ]


def test_duplicates_within_the_window_keep_the_copy_from_the_earliest_ingest_date(spark):
    may_1, may_2 = dt.date(2024, 5, 1), dt.date(2024, 5, 2)
    # The later arrival has the earlier event_time and the same raw line as another copy.
    later = lines(spark, event("w-1", event_time="2024-05-01T11:00:00Z"), event("w-2"), ingest_date=may_2)
    earlier = lines(spark, event("w-1", event_time="2024-05-01T12:00:00Z"), event("w-2"), ingest_date=may_1)

    result = transform_clickstream(later.unionByName(earlier), RUN_ID)

    kept = {r["event_id"]: (r["ingest_date"], r["event_time"]) for r in result.curated.collect()}
    assert kept == {"w-1": (may_1, dt.datetime(2024, 5, 1, 12, 0)), "w-2": (may_1, dt.datetime(2024, 5, 1, 12, 0))}
    assert result.counts.duplicates_removed == 2
    events, removed = deduplicate(parse_events(later.unionByName(earlier), RUN_ID).valid)
    assert removed == 2
    assert {r["ingest_date"] for r in events.collect()} == {may_1}


def test_the_accounting_holds_over_a_window_of_several_ingest_dates(spark):
    window = lines(spark, event("a-1"), event("a-1"), "x", ingest_date=dt.date(2024, 5, 1)).unionByName(
        lines(spark, event("a-1"), event("a-2"), event("a-3", event_type="nope"), ingest_date=dt.date(2024, 5, 2))
    )

    counts = transform_clickstream(window, RUN_ID).counts

    assert counts == ClickstreamCounts(rows_in=6, rows_curated=2, rows_quarantined=2, duplicates_removed=2)
    assert counts.rows_in == counts.rows_curated + counts.rows_quarantined + counts.duplicates_removed


def test_the_partition_columns_are_the_declared_event_date_then_ingest_date(monkeypatch):
    assert clickstream.partition_columns() == ["event_date", "ingest_date"]
    assert list(clickstream.PARTITION_COLUMNS) == [
        k["name"] for k in clickstream.declaration()["partition_keys"]
    ]

    drifted = clickstream.declaration()
    drifted["partition_keys"] = drifted["partition_keys"][:1]
    monkeypatch.setattr(clickstream, "_declaration", lambda: drifted)
    with pytest.raises(ValueError, match="declares partition_keys \\['event_date'\\]"):
        clickstream.partition_columns()


def load_job_module():
    return load_job("clickstream_raw_to_curated")


def test_the_job_reads_gzip_json_lines_of_its_window_and_reruns_idempotently(spark, tmp_path):
    job = load_job_module()
    raw = tmp_path / "raw" / "clickstream"
    # Firehose's layout: event_date= is event_time[0:10] as sent, so g-2 (UTC 2024-05-01T23:00)
    # sits under event_date=2024-05-02; one ingest date spans both event_date directories.
    objects = {
        "2024-05-01": [event("g-1"), event("g-1"), "oops"],
        "2024-05-02": [event("g-2", event_time="2024-05-02T01:00:00+02:00")],
    }
    for event_date, raw_lines in objects.items():
        partition = raw / f"event_date={event_date}" / "ingest_date=2024-05-01"
        partition.mkdir(parents=True)
        name = f"undercurrent-clickstream-1-2024-05-01-12-00-00-{event_date}.gz"
        with gzip.open(partition / name, "wt") as handle:
            handle.write("\n".join(raw_lines) + "\n")
    raw_path = str(raw) + "/"
    curated_path = str(tmp_path / "curated")
    quarantine_path = str(tmp_path / "quarantine")
    untouched = spark.createDataFrame(
        [("old", dt.date(2020, 1, 1), dt.date(2020, 1, 1))],
        "event_id string, event_date date, ingest_date date",
    )
    untouched.write.partitionBy("event_date", "ingest_date").parquet(curated_path)
    window = [dt.date(2024, 5, 2), dt.date(2024, 5, 1)]

    first = job.run(spark, raw_path, curated_path, quarantine_path, "jr_1", window)
    second = job.run(spark, raw_path, curated_path, quarantine_path, "jr_2", window)

    assert first == second == ClickstreamCounts(4, 2, 1, 1)
    curated = spark.read.parquet(curated_path)
    assert sorted(
        (r["event_id"], str(r["event_date"]), str(r["ingest_date"])) for r in curated.collect()
    ) == [("g-1", "2024-05-01", "2024-05-01"), ("g-2", "2024-05-01", "2024-05-01"),
          ("old", "2020-01-01", "2020-01-01")]
    quarantine = spark.read.json(quarantine_path)
    assert [(r["run_id"], r["rule"], str(r["ingest_date"])) for r in quarantine.collect()] == [
        ("jr_2", "malformed_json", "2024-05-01")
    ]
    line = json.loads(job.counts_log_line("clickstream", "jr_2", second, window))
    assert line == {"job": "clickstream", "run_id": "jr_2", "rows_in": 4, "rows_curated": 2,
                    "rows_quarantined": 1, "duplicates_removed": 1,
                    "ingest_dates": ["2024-05-02", "2024-05-01"]}


def test_the_job_treats_a_raw_path_without_files_as_an_empty_run(spark, tmp_path):
    job = load_job_module()

    counts = job.run(spark, str(tmp_path / "nothing-yet"), str(tmp_path / "c"), str(tmp_path / "q"), "jr_0")

    assert counts == ClickstreamCounts(0, 0, 0, 0)
