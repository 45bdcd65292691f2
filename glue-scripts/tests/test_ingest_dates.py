"""The window of raw ingest dates a run processes, from its job arguments (pure Python)."""

from __future__ import annotations

import argparse
import ast
import datetime as dt
from pathlib import Path

import pytest

from local.jobs import load_job
from undercurrent_glue import ingest_dates
from undercurrent_glue.ingest_dates import (
    ingest_date_glob,
    lookback_window,
    parse_ingest_dates,
    parse_lookback_days,
    present_arguments,
    resolve_ingest_dates,
)

D = dt.date
TODAY = D(2024, 5, 10)
REQUIRED = ["--JOB_NAME", "clickstream", "--raw_path", "s3://raw/clickstream/",
            "--curated_path", "s3://curated/clickstream/", "--quarantine_path", "s3://q/clickstream/",
            "--metrics_namespace", "Undercurrent/dev/Transform"]


def test_the_lookback_window_is_today_then_each_previous_day_newest_first():
    assert lookback_window(TODAY, 3) == [D(2024, 5, 10), D(2024, 5, 9), D(2024, 5, 8)]


def test_a_one_day_lookback_is_only_today():
    assert lookback_window(TODAY, 1) == [TODAY]


def test_the_lookback_window_crosses_a_leap_day_and_a_year_end():
    assert lookback_window(D(2024, 3, 1), 2) == [D(2024, 3, 1), D(2024, 2, 29)]
    assert lookback_window(D(2025, 1, 1), 2) == [D(2025, 1, 1), D(2024, 12, 31)]


def test_a_400_day_lookback_reaches_back_399_days():
    window = lookback_window(TODAY, 400)

    assert len(window) == len(set(window)) == 400
    assert window[-1] == TODAY - dt.timedelta(days=399)


def test_the_lookback_window_refuses_a_datetime_for_today():
    with pytest.raises(ValueError, match="today must be a datetime.date"):
        lookback_window(dt.datetime(2024, 5, 10, 23, 0), 2)


def test_without_arguments_a_run_processes_today_and_yesterday():
    assert resolve_ingest_dates(TODAY) == [D(2024, 5, 10), D(2024, 5, 9)]


@pytest.mark.parametrize("value, expected", [("1", 1), ("2", 2), (" 7 ", 7), ("400", 400)])
def test_lookback_days_accepts_whole_numbers_from_1_to_400(value, expected):
    assert parse_lookback_days(value) == expected


@pytest.mark.parametrize("value", ["0", "401", "-1", "+3", "2.5", "1e2", "3_0", "two", "", " "])
def test_a_lookback_days_that_is_not_an_integer_from_1_to_400_fails_naming_the_argument_and_the_value(value):
    with pytest.raises(ValueError) as error:
        resolve_ingest_dates(TODAY, lookback_days=value)

    assert "'lookback_days'" in str(error.value)
    assert "from 1 to 400" in str(error.value)
    assert repr(value) in str(error.value)


def test_ingest_dates_override_the_lookback_window():
    assert resolve_ingest_dates(TODAY, "30", "2023-01-15,2023-01-14") == [D(2023, 1, 15), D(2023, 1, 14)]


def test_an_invalid_lookback_days_fails_even_when_ingest_dates_are_given():
    with pytest.raises(ValueError, match="'lookback_days'"):
        resolve_ingest_dates(TODAY, "0", "2023-01-15")


def test_ingest_dates_are_trimmed_deduplicated_and_sorted_newest_first():
    assert parse_ingest_dates(" 2024-04-30 ,2024-05-02,2024-04-30") == [D(2024, 5, 2), D(2024, 4, 30)]


@pytest.mark.parametrize(
    "value, bad",
    [
        ("2024-02-30", "2024-02-30"),
        ("2024-5-1", "2024-5-1"),
        ("20240501", "20240501"),
        ("2024-05-01T00:00:00", "2024-05-01T00:00:00"),
        ("yesterday", "yesterday"),
        ("2024-05-01,,2024-05-02", ""),
        ("2024-05-01;2024-05-02", "2024-05-01;2024-05-02"),
    ],
)
def test_an_ingest_dates_item_that_is_not_a_real_yyyy_mm_dd_date_fails_naming_the_argument_and_the_value(value, bad):
    with pytest.raises(ValueError) as error:
        resolve_ingest_dates(TODAY, ingest_dates=value)

    assert "'ingest_dates'" in str(error.value)
    assert f"has {bad!r} in {value!r}" in str(error.value)


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_ingest_dates_fails_instead_of_falling_back_to_the_lookback(value):
    with pytest.raises(ValueError, match="Job argument 'ingest_dates' is empty"):
        resolve_ingest_dates(TODAY, ingest_dates=value)


def test_more_than_400_ingest_dates_are_refused():
    many = ",".join((D(2020, 1, 1) + dt.timedelta(days=i)).isoformat() for i in range(401))

    with pytest.raises(ValueError, match="'ingest_dates' lists 401 dates; at most 400"):
        parse_ingest_dates(many)


def test_optional_arguments_are_detected_only_when_present_in_argv():
    argv = ["job.py", *REQUIRED, "--ingest_dates=2024-05-01", "--lookback_days_extra", "1"]

    assert present_arguments(argv, ["lookback_days", "ingest_dates"]) == ["ingest_dates"]
    assert present_arguments(["job.py", "--lookback_days", "3"], ["lookback_days", "ingest_dates"]) == [
        "lookback_days"
    ]
    assert present_arguments(["job.py", *REQUIRED], ["lookback_days", "ingest_dates"]) == []


@pytest.mark.parametrize("raw_path", ["s3://raw/clickstream", "s3://raw/clickstream/"])
def test_the_raw_glob_of_an_ingest_date_spans_every_event_date_directory(raw_path):
    assert (
        ingest_date_glob(raw_path, D(2024, 5, 1))
        == "s3://raw/clickstream/event_date=*/ingest_date=2024-05-01"
    )


def test_the_ingest_dates_module_imports_only_the_standard_library():
    tree = ast.parse(Path(ingest_dates.__file__).read_text(encoding="utf-8"))
    imported = {
        ((node.module or "") if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }

    assert imported <= {"__future__", "collections", "datetime", "re", "typing"}


def fake_get_resolved_options(argv, names):
    """Behaves like awsglue.utils.getResolvedOptions: every requested name is required."""
    parser = argparse.ArgumentParser()
    for name in names:
        parser.add_argument(f"--{name}", required=True)
    known, _ = parser.parse_known_args(argv[1:])
    return vars(known)


def load_job_module():
    return load_job("clickstream_raw_to_curated")


def test_the_job_runs_without_optional_arguments_on_the_default_two_day_window():
    job = load_job_module()

    args, dates = job.job_settings(["job.py", *REQUIRED], TODAY, fake_get_resolved_options)

    assert args["raw_path"] == "s3://raw/clickstream/"
    assert "lookback_days" not in args and "ingest_dates" not in args
    assert dates == [D(2024, 5, 10), D(2024, 5, 9)]


def test_the_job_resolves_lookback_days_and_ingest_dates_when_given():
    job = load_job_module()

    _, by_lookback = job.job_settings(["job.py", *REQUIRED, "--lookback_days", "3"], TODAY,
                                      fake_get_resolved_options)
    _, by_dates = job.job_settings(
        ["job.py", *REQUIRED, "--lookback_days", "3", "--ingest_dates", "2024-01-02,2024-01-01"],
        TODAY,
        fake_get_resolved_options,
    )

    assert by_lookback == [D(2024, 5, 10), D(2024, 5, 9), D(2024, 5, 8)]
    assert by_dates == [D(2024, 1, 2), D(2024, 1, 1)]


def test_the_job_fails_on_an_invalid_lookback_days_before_reading_anything():
    job = load_job_module()

    with pytest.raises(ValueError, match="'lookback_days' must be an integer from 1 to 400; got '0'"):
        job.job_settings(["job.py", *REQUIRED, "--lookback_days", "0"], TODAY, fake_get_resolved_options)
