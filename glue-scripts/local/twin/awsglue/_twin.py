"""What the twin gives the ``awsglue`` stand-in: its environment, the job's Glue connections, and
the job bookmark store.

Environment (set by ``local/twin/run_job.py``):

* ``UNDERCURRENT_TWIN_WORK``: the twin's work directory; bookmarks live in
  ``<work>/bookmarks/<job name>.json``;
* ``UNDERCURRENT_TWIN_CONNECTIONS``: a JSON file with the job's Glue connections (only those
  the job lists), as Glue would resolve them from the catalog and Secrets Manager::

      {"<connection name>": {"url": "jdbc:mysql://127.0.0.1:3306/db", "user": "...",
                             "password": "...", "enforceSsl": true, "caFile": "/path/ca.pem"}}

Bookmark file (one per job, replaced atomically on every ``Job.commit()`` of an enabled run)::

    {"formatVersion": 1, "jobName": "...", "version": 3, "run": 3,
     "runId": "<run that committed it>", "previousRunId": "<run before>" | null,
     "committedOn": "2025-01-01T00:00:00.000000+00:00",
     "entries": {"<transformation_ctx>": {
         "connectionType": "mysql", "dbtable": "db.table",
         "jobBookmarkKeys": ["updated_at"], "jobBookmarkKeysSortOrder": "asc",
         "values": [{"type": "timestamp", "text": "2025-01-01 00:00:00.123"}],
         "runId": "<run that advanced this entry>"}}}

``values`` holds, per key, the greatest value read so far: its Spark type (``simpleString``)
and its text as the database renders it (``CAST(key AS CHAR)``), which is also how it is
compared next time (numbers unquoted, everything else as a quoted literal).
``version`` counts commits, ``run`` committed runs (Glue's JobBookmarkEntry fields).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

WORK_VARIABLE = "UNDERCURRENT_TWIN_WORK"
CONNECTIONS_VARIABLE = "UNDERCURRENT_TWIN_CONNECTIONS"
BOOKMARK_FORMAT_VERSION = 1
_JOB_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,254}$")


class TwinConfigurationError(RuntimeError):
    """The twin's environment does not give the stand-in what the job needs."""


def work_dir() -> Path:
    """``$UNDERCURRENT_TWIN_WORK``.

    Raises:
        TwinConfigurationError: the variable is unset or not a directory.
    """
    value = os.environ.get(WORK_VARIABLE)
    if not value:
        raise TwinConfigurationError(
            f"{WORK_VARIABLE} is not set: the awsglue stand-in keeps job bookmarks under the twin's work "
            "directory; run the job through local/twin/run_job.py."
        )
    path = Path(value)
    if not path.is_dir():
        raise TwinConfigurationError(f"{WORK_VARIABLE}={value} is not a directory.")
    return path


def load_connection(name: str) -> dict[str, Any]:
    """The Glue connection ``name`` from ``$UNDERCURRENT_TWIN_CONNECTIONS``.

    Raises:
        TwinConfigurationError: no connections file, or ``name`` is not one of the job's
            connections, or the entry lacks ``url``, ``user`` or ``password``.
    """
    path = os.environ.get(CONNECTIONS_VARIABLE)
    if not path:
        raise TwinConfigurationError(
            f"{CONNECTIONS_VARIABLE} is not set: the job has no Glue connections in the twin, so "
            f"connectionName '{name}' cannot be resolved."
        )
    with open(path, encoding="utf-8") as handle:
        connections = json.load(handle)
    if not isinstance(connections, dict) or name not in connections:
        known = ", ".join(sorted(connections)) if isinstance(connections, dict) else "none"
        raise TwinConfigurationError(
            f"Glue connection '{name}' is not one of the job's connections ({known}); a job reads "
            "through the connections it lists."
        )
    connection = connections[name]
    missing = [k for k in ("url", "user", "password") if not isinstance(connection.get(k), str) or not connection[k]]
    if missing:
        raise TwinConfigurationError(f"Glue connection '{name}' in {path} lacks {', '.join(missing)}.")
    return dict(connection)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def write_json_atomically(path: Path, document: Mapping[str, Any]) -> None:
    """Write ``document`` to ``path``: a temporary file in the same directory, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(document, out, indent=2, sort_keys=True)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


class BookmarkStore:
    """The bookmark state of one job run: what was committed before, what this run read.

    Args:
        job_name: the name given to ``Job.init``.
        run_id: this run's ``JOB_RUN_ID`` (recorded on commit).
        option: ``job-bookmark-enable``, ``job-bookmark-pause`` or ``job-bookmark-disable``.
    """

    def __init__(self, job_name: str, run_id: str | None, option: str):
        if not isinstance(job_name, str) or not _JOB_NAME.match(job_name):
            raise ValueError(
                f"Job name {job_name!r} cannot name a bookmark file: letters, digits, '_', '.', '-' "
                "(at most 255), not starting with '.' or '-'."
            )
        self.job_name = job_name
        self.run_id = run_id
        self.option = option
        self._pending: dict[str, dict[str, Any]] = {}
        self._committed_this_run = False
        self._state = self._load() if self.enabled else None

    @property
    def enabled(self) -> bool:
        """Whether reads with a ``transformation_ctx`` are bookmarked (enable or pause)."""
        return self.option != "job-bookmark-disable"

    @property
    def path(self) -> Path:
        return work_dir() / "bookmarks" / f"{self.job_name}.json"

    def _load(self) -> dict[str, Any]:
        path = self.path
        if not path.exists():
            return {
                "formatVersion": BOOKMARK_FORMAT_VERSION,
                "jobName": self.job_name,
                "version": 0,
                "run": 0,
                "runId": None,
                "previousRunId": None,
                "committedOn": None,
                "entries": {},
            }
        with open(path, encoding="utf-8") as handle:
            state: dict[str, Any] = json.load(handle)
        if state.get("formatVersion") != BOOKMARK_FORMAT_VERSION or state.get("jobName") != self.job_name:
            raise TwinConfigurationError(
                f"{path} is not a format-{BOOKMARK_FORMAT_VERSION} bookmark of job '{self.job_name}'."
            )
        return state

    def committed(self, ctx: str) -> dict[str, Any] | None:
        """The committed entry of ``ctx`` (as of ``Job.init``), or None."""
        if self._state is None:
            return None
        entry = self._state["entries"].get(ctx)
        return copy.deepcopy(entry) if entry is not None else None

    def record(self, ctx: str, entry: dict[str, Any]) -> None:
        """Keep ``entry`` as ``ctx``'s state after this run, saved by :meth:`commit`.

        Raises:
            ValueError: ``ctx`` was already read in this run (a transformation context names one read).
        """
        if ctx in self._pending:
            raise ValueError(
                f"transformation_ctx '{ctx}' is used by two reads in one run; each bookmarked read needs its own."
            )
        self._pending[ctx] = dict(entry, runId=self.run_id)

    def commit(self) -> bool:
        """Persist this run's entries over the committed ones, when bookmarks are enabled.

        Pause and disable persist nothing. Returns whether a file was written.
        """
        if self.option != "job-bookmark-enable":
            self._pending.clear()
            return False
        assert self._state is not None
        state = copy.deepcopy(self._state)
        state["entries"].update(copy.deepcopy(self._pending))
        state["version"] = int(state["version"]) + 1
        if not self._committed_this_run:
            state["run"] = int(state["run"]) + 1
            state["previousRunId"] = state["runId"] if state["runId"] != self.run_id else state["previousRunId"]
        state["runId"] = self.run_id
        state["committedOn"] = _now()
        write_json_atomically(self.path, state)
        self._state = state
        self._pending.clear()
        self._committed_this_run = True
        return True
