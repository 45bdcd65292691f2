"""``awsglue.job`` of the local twin: :class:`Job` starts and commits the run's job bookmarks.

As in Glue, ``init`` loads the job's bookmark state (the ``--job-bookmark-option`` in ``args``,
``job-bookmark-disable`` when absent) and ``commit`` saves, atomically, what this run's
bookmarked reads got to: only with ``job-bookmark-enable`` (``pause`` reads past the bookmark
without moving it, ``disable`` reads everything and keeps nothing). A run that fails before
``commit`` leaves the bookmark where it was. See :mod:`awsglue._twin` for the file.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from ._twin import BookmarkStore
from .utils import JOB_BOOKMARK_DISABLE, JOB_BOOKMARK_ENABLE, JOB_BOOKMARK_OPTIONS, JOB_BOOKMARK_PAUSE


class Job:
    """The job run's bookmark lifecycle: ``init`` first, ``commit`` at the end."""

    @classmethod
    def job_bookmark_options(cls) -> list[str]:
        return ["--job-bookmark-option", *JOB_BOOKMARK_OPTIONS]

    def __init__(self, glue_context: Any):
        from .context import GlueContext

        if not isinstance(glue_context, GlueContext):
            raise TypeError(f"Job needs the GlueContext; got {type(glue_context).__name__}.")
        self._glue_context = glue_context
        self._store: BookmarkStore | None = None

    def init(self, job_name: str, args: Mapping[str, Any] | None = None) -> None:
        """Start the run: load job ``job_name``'s bookmarks per ``args['job_bookmark_option']``.

        Raises:
            RuntimeError: ``init`` was already called.
            ValueError: an unknown bookmark option or an unusable job name.
        """
        if self._store is not None:
            raise RuntimeError(f"Job '{job_name}' is already initialized.")
        args = dict(args or {})
        option = args.get("job_bookmark_option") or JOB_BOOKMARK_DISABLE
        if option not in JOB_BOOKMARK_OPTIONS:
            raise ValueError(f"job_bookmark_option must be one of {', '.join(JOB_BOOKMARK_OPTIONS)}; got {option!r}.")
        if option == JOB_BOOKMARK_PAUSE and (args.get("job_bookmark_from") or args.get("job_bookmark_to")):
            raise NotImplementedError("The twin does not replay bookmark ranges (--job-bookmark-from/--job-bookmark-to).")
        self._store = BookmarkStore(job_name, args.get("JOB_RUN_ID"), option)
        self._glue_context._bookmarks = self._store
        print(f"awsglue (twin): job '{job_name}' run {args.get('JOB_RUN_ID')} bookmarks {option}", file=sys.stderr, flush=True)

    def isInitialized(self) -> bool:  # noqa: N802 - Glue's name
        return self._store is not None

    def commit(self) -> None:
        """Save the bookmarks of this run's reads (``job-bookmark-enable`` only).

        Raises:
            RuntimeError: ``init`` was not called.
        """
        if self._store is None:
            raise RuntimeError("Job.commit() before Job.init(): nothing to commit.")
        if self._store.commit():
            print(f"awsglue (twin): committed bookmarks to {self._store.path}", file=sys.stderr, flush=True)
        elif self._store.option != JOB_BOOKMARK_ENABLE:
            print(f"awsglue (twin): {self._store.option}: bookmarks not moved", file=sys.stderr, flush=True)
