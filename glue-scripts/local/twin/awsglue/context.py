"""``awsglue.context`` of the local twin: :class:`GlueContext` with ``spark_session`` and
``create_dynamic_frame.from_options`` for ``connection_type="mysql"`` (see :mod:`awsglue._jdbc`).

Anything else a Glue script could ask of a GlueContext (other connection types, catalog reads,
writers, ``format``) raises: the stand-in is as small as our jobs need, so a job that starts
using more fails loudly in the twin instead of running on a guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._jdbc import TrustStores, UnsupportedOptionError, read_mysql
from ._twin import BookmarkStore
from .dynamicframe import DynamicFrame


class DynamicFrameReader:
    """``glue_context.create_dynamic_frame``."""

    def __init__(self, glue_context: GlueContext):
        self._glue_context = glue_context

    def from_options(
        self,
        connection_type: str,
        connection_options: Mapping[str, Any] | None = None,
        format: str | None = None,  # noqa: A002 - Glue's parameter name
        format_options: Mapping[str, Any] | None = None,
        transformation_ctx: str = "",
        push_down_predicate: str = "",
        **kwargs: Any,
    ) -> DynamicFrame:
        """Read a source as a :class:`DynamicFrame` (only ``connection_type="mysql"`` here).

        ``transformation_ctx`` names the read's bookmark state; ``""`` (Glue's default) keeps none.

        Raises:
            UnsupportedOptionError: another connection type, ``format``/``format_options``,
                a push-down predicate or an extra argument.
        """
        if connection_type != "mysql":
            raise UnsupportedOptionError(
                f"connection_type {connection_type!r} is not supported by the twin's awsglue stand-in (only 'mysql')."
            )
        extras = sorted(
            name
            for name, value in (("format", format), ("format_options", format_options), ("push_down_predicate", push_down_predicate))
            if value
        ) + sorted(kwargs)
        if extras:
            raise UnsupportedOptionError(
                f"from_options arguments {', '.join(extras)} are not supported by the twin for mysql reads."
            )
        if not isinstance(transformation_ctx, str):
            raise ValueError(f"transformation_ctx must be a string; got {transformation_ctx!r}.")
        df = read_mysql(self._glue_context, connection_options or {}, transformation_ctx)
        return DynamicFrame(df, self._glue_context, transformation_ctx)


class GlueContext:
    """Wraps the job's SparkContext (the twin's session, created before the script runs).

    Attributes:
        spark_session: the active SparkSession of ``sparkContext``.
        create_dynamic_frame: a :class:`DynamicFrameReader`.
    """

    def __init__(self, sparkContext: Any, **options: Any):  # noqa: N803 - Glue's parameter name
        if options:
            raise UnsupportedOptionError(f"GlueContext options {', '.join(sorted(options))} are not supported by the twin.")
        from pyspark.sql import SparkSession

        session = SparkSession.builder.getOrCreate()
        if session.sparkContext is not sparkContext:
            raise ValueError("GlueContext needs the process's SparkContext (SparkContext.getOrCreate()).")
        self._sc = sparkContext
        self.spark_session = session
        self.create_dynamic_frame = DynamicFrameReader(self)
        #: Set by ``Job.init``: the run's bookmark state; None until then (no bookmarks).
        self._bookmarks: BookmarkStore | None = None
        self._trust_stores = TrustStores()

    def _trust_store(self, ca_file: str) -> tuple[Path, str]:
        return self._trust_stores.get(self._sc._jvm, ca_file)
