"""``awsglue.utils`` of the local twin: :func:`getResolvedOptions` as Glue 5.0 resolves job arguments.

Glue starts the job script with ``sys.argv`` = the script path followed by ``--name value``
pairs: the job's ``DefaultArguments`` merged with the run's ``Arguments`` (see
``local/twin/run_job.py``), plus what Glue adds itself (``--JOB_ID``, ``--JOB_RUN_ID``,
``--JOB_NAME``). ``getResolvedOptions(args, options)`` parses them the way Glue's own
implementation does (an :mod:`argparse` parser, ``parse_known_args``):

* every name in ``options`` is a *required* ``--name`` argument; a missing one raises
  :class:`GlueArgumentError` with argparse's message, which names it
  (``the following arguments are required: --tables``); a value may be given as
  ``--name value`` or ``--name=value``; a name is given without dashes, and a dash in it becomes
  ``_`` in the result's key (argparse's ``dest``);
* arguments nobody asked for are ignored (``--conf``, ``--enable-metrics`` with no value,
  ``--datalake-formats`` ...);
* the result always has the keys Glue resolves by itself, ``None`` when not passed:
  ``JOB_ID``, ``JOB_RUN_ID``, ``SECURITY_CONFIGURATION``, ``encryption_type``,
  ``enable_data_lineage``, ``TempDir`` and ``RedshiftTempDir`` (each other's copy),
  ``job_bookmark_from``, ``job_bookmark_to``; and ``job_bookmark_option``, one of
  ``job-bookmark-enable``, ``job-bookmark-pause``, ``job-bookmark-disable`` (the default when
  absent; an old-style ``--continuation-option`` is translated);
* reserved names: asking for ``job-bookmark-option``, ``continuation-option``,
  ``job-bookmark-from`` or ``job-bookmark-to`` raises ``RuntimeError("Using reserved arguments
  ...")``; asking for ``JOB_ID``, ``JOB_RUN_ID``, ``SECURITY_CONFIGURATION``,
  ``encryption-type`` or ``enable-data-lineage`` raises :class:`argparse.ArgumentError`
  (conflicting option string), as it does in Glue; ``JOB_NAME`` is requestable (and required
  when requested);
* ``--job-bookmark-pause`` with only one of ``--job-bookmark-from`` / ``--job-bookmark-to``
  raises ``RuntimeError("Missing option or value for ...")``; both of them with another
  bookmark option raises ``RuntimeError("Invalid option(s)...")``.

Written from Glue's documented behaviour ("Accessing parameters using getResolvedOptions",
"Using job parameters in AWS Glue jobs") and the ``glue-5.0`` branch of awslabs/aws-glue-libs.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import NoReturn

#: The values of ``--job-bookmark-option``; the last one is the default.
JOB_BOOKMARK_ENABLE = "job-bookmark-enable"
JOB_BOOKMARK_PAUSE = "job-bookmark-pause"
JOB_BOOKMARK_DISABLE = "job-bookmark-disable"
JOB_BOOKMARK_OPTIONS = (JOB_BOOKMARK_ENABLE, JOB_BOOKMARK_PAUSE, JOB_BOOKMARK_DISABLE)
#: The pre-bookmark spelling Glue still accepts, in the same order.
CONTINUATION_OPTIONS = ("continuation-enabled", "continuation-readonly", "continuation-ignore")
#: Arguments Glue itself passes to every run (never requested through ``options``).
ID_ARGUMENTS = ("--JOB_ID", "--JOB_RUN_ID", "--SECURITY_CONFIGURATION")
BOOKMARK_RANGE_ARGUMENTS = ("--job-bookmark-from", "--job-bookmark-to")

#: Every argument getResolvedOptions has resolved in this process (Glue keeps the same global).
_global_args: dict[str, str | None] = {}


class GlueArgumentError(Exception):
    """A job argument is missing or invalid (Glue raises this instead of argparse's exit)."""


class GlueArgumentParser(argparse.ArgumentParser):
    """An :class:`argparse.ArgumentParser` that raises :class:`GlueArgumentError` rather than exiting."""

    def error(self, message: str) -> NoReturn:
        raise GlueArgumentError(message)


def getResolvedOptions(args: Sequence[str], options: Sequence[str]) -> dict[str, str | None]:  # noqa: N802 - Glue's name
    """Resolve the job arguments in ``args`` (``sys.argv``; ``args[0]``, the script, is skipped).

    Args:
        args: ``sys.argv``.
        options: the names to resolve, without leading dashes (e.g. ``["JOB_NAME", "tables"]``).

    Returns:
        ``{name: value}`` for every requested name plus the arguments Glue always resolves
        (see the module docstring).

    Raises:
        GlueArgumentError: a requested argument is missing, has no value, or a Glue argument
            has a value outside its choices.
        RuntimeError: a reserved argument is requested, or the bookmark range arguments are
            inconsistent.
        argparse.ArgumentError: a Glue-resolved argument (``JOB_RUN_ID`` ...) is requested.
    """
    options = list(options)
    parser = GlueArgumentParser()

    for reserved in ("continuation-option", "job-bookmark-option"):
        if reserved in options:
            raise RuntimeError(f"Using reserved arguments {reserved}")
    parser.add_argument("--job-bookmark-option", choices=JOB_BOOKMARK_OPTIONS, required=False)
    parser.add_argument("--continuation-option", choices=CONTINUATION_OPTIONS, required=False)
    for option in BOOKMARK_RANGE_ARGUMENTS:
        if option[2:] in options:
            raise RuntimeError(f"Using reserved arguments {option}")
        parser.add_argument(option, required=False)
    # Glue compares these with the dashed spelling, so requesting e.g. JOB_RUN_ID is not caught
    # here but fails below as a conflicting option string (awslabs/aws-glue-libs issue #22).
    for option in ID_ARGUMENTS:
        parser.add_argument(option, required=False)
    parser.add_argument("--encryption-type", choices=["sse-s3"])
    parser.add_argument("--enable-data-lineage", required=False)
    options = [o for o in options if o not in ("RedshiftTempDir", "TempDir")]
    parser.add_argument("--RedshiftTempDir", required=False)
    parser.add_argument("--TempDir", required=False)
    for option in options:
        parser.add_argument(f"--{option}", required=True)

    parsed, _extra = parser.parse_known_args(list(args)[1:])
    resolved: dict[str, str | None] = vars(parsed)

    if resolved.get("TempDir") is not None:
        resolved["RedshiftTempDir"] = resolved["TempDir"]
    elif resolved.get("RedshiftTempDir") is not None:
        resolved["TempDir"] = resolved["RedshiftTempDir"]

    continuation = resolved.pop("continuation_option", None)
    if resolved.get("job_bookmark_option") is None:
        if continuation is None:
            resolved["job_bookmark_option"] = JOB_BOOKMARK_DISABLE
        else:
            resolved["job_bookmark_option"] = JOB_BOOKMARK_OPTIONS[CONTINUATION_OPTIONS.index(continuation)]

    absent: list[str] = [o for o in BOOKMARK_RANGE_ARGUMENTS if resolved.get(o[2:].replace("-", "_")) is None]
    if resolved["job_bookmark_option"] == JOB_BOOKMARK_PAUSE:
        if len(absent) == 1:
            raise RuntimeError(f"Missing option or value for {absent[0]}")
    elif not absent:
        raise RuntimeError("Invalid option(s)" + " ".join(BOOKMARK_RANGE_ARGUMENTS))

    _global_args.update(resolved)
    return resolved
