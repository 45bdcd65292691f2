"""``awsglue.dynamicframe`` of the local twin: a :class:`DynamicFrame` is the DataFrame it was read as.

Our jobs only call ``toDF()`` on what ``create_dynamic_frame.from_options`` returns, so that is
all this stand-in has (any other DynamicFrame method is an AttributeError, on purpose).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only (the twin imports pyspark where it needs a session)
    from pyspark.sql import DataFrame


class DynamicFrame:
    """A read's result. ``toDF()`` returns the Spark DataFrame (the JDBC source's schema)."""

    def __init__(self, jdf: DataFrame, glue_ctx: Any, name: str = ""):
        self._df = jdf
        self.glue_ctx = glue_ctx
        self.name = name

    def toDF(self) -> DataFrame:  # noqa: N802 - Glue's name
        """The frame as a :class:`pyspark.sql.DataFrame`."""
        return self._df

    def __repr__(self) -> str:
        return f"DynamicFrame(name={self.name!r}, columns={self._df.columns!r})"
