"""Which raw ``ingest_date`` partitions a run processes: job arguments -> a list of dates.

Kinesis Data Firehose writes the raw zone with dynamic partitioning as
``<raw_path>/event_date=YYYY-MM-DD/ingest_date=YYYY-MM-DD/<files>``, where ``event_date`` is
the first 10 characters of the event's ``event_time`` as the producer sent it and
``ingest_date`` is the UTC date the records arrived. The records of one ingest date are
therefore spread over several ``event_date=`` directories, all matched by the glob
:func:`ingest_date_glob` returns. A run processes a window of ingest dates instead of the
whole history:

* by default the last ``lookback_days`` UTC dates ending today (job argument
  ``--lookback_days``, default ``2``: today and yesterday);
* for a backfill, an explicit list (job argument ``--ingest_dates 2024-05-01,2024-05-02``),
  which overrides the lookback.

Everything here is plain Python (no Spark, no ``awsglue``): ``today`` is a parameter, so
the window is a pure function of the arguments.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence

#: Name of the raw partition column (the Firehose arrival date, UTC).
INGEST_DATE = "ingest_date"
#: Key of the raw directory level above ``ingest_date=`` (Firehose's partition key: the first 10
#: characters of the producer's ``event_time``). Only globbed over, never read as a value.
RAW_EVENT_DATE = "event_date"
#: Optional job argument: how many UTC dates, ending today, a run processes.
LOOKBACK_DAYS_ARGUMENT = "lookback_days"
#: Optional job argument: explicit comma-separated YYYY-MM-DD dates (overrides the lookback).
INGEST_DATES_ARGUMENT = "ingest_dates"
#: Value of ``lookback_days`` when the argument is absent.
DEFAULT_LOOKBACK_DAYS = "2"
MIN_LOOKBACK_DAYS = 1
MAX_LOOKBACK_DAYS = 400
#: At most this many dates in ``ingest_dates`` (split larger backfills into several runs).
MAX_INGEST_DATES = MAX_LOOKBACK_DAYS

_DIGITS = re.compile(r"^[0-9]+$")
_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def parse_lookback_days(value: str) -> int:
    """Parse the ``lookback_days`` job argument: a whole number from 1 to 400.

    Raises:
        ValueError: naming the argument and the value it got.
    """
    text = value.strip() if isinstance(value, str) else ""
    number = int(text) if _DIGITS.match(text) else None
    if number is None or not MIN_LOOKBACK_DAYS <= number <= MAX_LOOKBACK_DAYS:
        raise ValueError(
            f"Job argument '{LOOKBACK_DAYS_ARGUMENT}' must be an integer from {MIN_LOOKBACK_DAYS} "
            f"to {MAX_LOOKBACK_DAYS}; got {value!r}."
        )
    return number


def parse_ingest_dates(value: str) -> list[dt.date]:
    """Parse the ``ingest_dates`` job argument: comma-separated ``YYYY-MM-DD`` dates.

    Blanks around each date are ignored; duplicates are dropped. Returns the dates newest
    first.

    Raises:
        ValueError: the list is empty, has an empty item, an item that is not a real
            ``YYYY-MM-DD`` date, or more than :data:`MAX_INGEST_DATES` dates; the message
            names the argument and the offending value.
    """
    if not isinstance(value, str) or not value.strip():
        raise ValueError(
            f"Job argument '{INGEST_DATES_ARGUMENT}' is empty ({value!r}); give YYYY-MM-DD dates "
            f"separated by commas, e.g. 2024-05-01,2024-05-02, or leave the argument out to use "
            f"'{LOOKBACK_DAYS_ARGUMENT}'."
        )
    dates = set()
    for item in value.split(","):
        text = item.strip()
        try:
            if not _ISO_DATE.match(text):
                raise ValueError(text)
            dates.add(dt.date.fromisoformat(text))
        except ValueError:
            raise ValueError(
                f"Job argument '{INGEST_DATES_ARGUMENT}' has {text!r} in {value!r}, which is not a "
                "YYYY-MM-DD date; give dates separated by commas, e.g. 2024-05-01,2024-05-02."
            ) from None
    if len(dates) > MAX_INGEST_DATES:
        raise ValueError(
            f"Job argument '{INGEST_DATES_ARGUMENT}' lists {len(dates)} dates; at most "
            f"{MAX_INGEST_DATES} per run, split the backfill into several runs."
        )
    return sorted(dates, reverse=True)


def lookback_window(today: dt.date, lookback_days: int) -> list[dt.date]:
    """Return ``today``, ``today - 1``, ..., ``today - (lookback_days - 1)``, newest first.

    Args:
        today: the current UTC date (the caller passes it, so this stays pure).
        lookback_days: 1..400.

    Raises:
        ValueError: ``today`` is not a date (a datetime is refused: its date would depend on
            its zone) or ``lookback_days`` is out of range.
    """
    if not isinstance(today, dt.date) or isinstance(today, dt.datetime):
        raise ValueError(f"today must be a datetime.date (the UTC date); got {today!r}.")
    if (
        isinstance(lookback_days, bool)
        or not isinstance(lookback_days, int)
        or not MIN_LOOKBACK_DAYS <= lookback_days <= MAX_LOOKBACK_DAYS
    ):
        raise ValueError(
            f"Job argument '{LOOKBACK_DAYS_ARGUMENT}' must be an integer from {MIN_LOOKBACK_DAYS} "
            f"to {MAX_LOOKBACK_DAYS}; got {lookback_days!r}."
        )
    return [today - dt.timedelta(days=offset) for offset in range(lookback_days)]


def resolve_ingest_dates(
    today: dt.date, lookback_days: str | None = None, ingest_dates: str | None = None
) -> list[dt.date]:
    """Return the ingest dates a run processes, newest first.

    Args:
        today: the current UTC date.
        lookback_days: the ``lookback_days`` job argument, or None when absent (then
            :data:`DEFAULT_LOOKBACK_DAYS`). Validated even when ``ingest_dates`` is given.
        ingest_dates: the ``ingest_dates`` job argument, or None when absent; when given,
            these dates are processed instead of the lookback window.

    Raises:
        ValueError: an argument is invalid (see :func:`parse_lookback_days`,
            :func:`parse_ingest_dates`).
    """
    days = parse_lookback_days(DEFAULT_LOOKBACK_DAYS if lookback_days is None else lookback_days)
    if ingest_dates is not None:
        return parse_ingest_dates(ingest_dates)
    return lookback_window(today, days)


def present_arguments(argv: Sequence[str], names: Iterable[str]) -> list[str]:
    """Return the names (in the given order) that appear in ``argv`` as ``--name`` or ``--name=...``.

    ``getResolvedOptions`` fails on a requested argument that is absent, so the job asks
    it only for the optional arguments this returns.
    """
    args = [a for a in argv if isinstance(a, str)]
    return [n for n in names if any(a == f"--{n}" or a.startswith(f"--{n}=") for a in args)]


def ingest_date_glob(raw_path: str, ingest_date: dt.date) -> str:
    """Return the Hadoop glob ``<raw_path>/event_date=*/ingest_date=YYYY-MM-DD`` of one ingest date.

    It matches every ``event_date=`` directory Firehose wrote for that arrival date (one
    trailing slash of ``raw_path`` or not). ``raw_path`` is used verbatim, so it must not
    contain glob characters (``*?[]{}\\``); the date never does.
    """
    return f"{raw_path.rstrip('/')}/{RAW_EVENT_DATE}=*/{INGEST_DATE}={ingest_date.isoformat()}"
