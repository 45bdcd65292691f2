"""Run metrics of the transform jobs: counts per dataset, logged and published.

A job reports each dataset's figures once per run through a :class:`MetricsSink`. In Glue the
sink is :class:`CloudWatchSink` (CloudWatch custom metrics in the namespace the stack passes
as ``--metrics_namespace``, dimensions ``Job`` and ``Dataset``; the stack's alarms watch
them); tests use :class:`RecordingSink`; local runs print with :class:`PrintSink`. Every sink
also logs one ``metrics`` line per dataset, so the figures are in the job's output log too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

#: Metric names the jobs publish (the stack's alarms and dashboards use the same names).
ROWS_IN = "RowsIn"
ROWS_CURATED = "RowsCurated"
ROWS_QUARANTINED = "RowsQuarantined"
DUPLICATES_REMOVED = "DuplicatesRemoved"
ROWS_WRITTEN = "RowsWritten"
SCHEMA_DRIFT = "SchemaDrift"
COLUMNS_ADDED = "ColumnsAdded"
DATA_QUALITY_FAILURES = "DataQualityFailures"
DATA_QUALITY_WARNINGS = "DataQualityWarnings"
METRIC_NAMES = (
    ROWS_IN,
    ROWS_CURATED,
    ROWS_QUARANTINED,
    DUPLICATES_REMOVED,
    ROWS_WRITTEN,
    SCHEMA_DRIFT,
    COLUMNS_ADDED,
    DATA_QUALITY_FAILURES,
    DATA_QUALITY_WARNINGS,
)


class RowCounts(NamedTuple):
    """Row accounting of one dataset in a raw -> curated run:
    ``rows_in == rows_curated + rows_quarantined + duplicates_removed``."""

    rows_in: int
    rows_curated: int
    rows_quarantined: int
    duplicates_removed: int


class AccountingError(RuntimeError):
    """``rows_in != rows_curated + rows_quarantined + duplicates_removed`` (a bug, never data)."""


def check_accounting(dataset: str, counts: RowCounts) -> None:
    """Raise :class:`AccountingError` unless every input row is curated, quarantined or a duplicate."""
    accounted = counts.rows_curated + counts.rows_quarantined + counts.duplicates_removed
    if counts.rows_in != accounted:
        raise AccountingError(
            f"Row accounting of '{dataset}' broken: rows_in={counts.rows_in} but rows_curated="
            f"{counts.rows_curated} + rows_quarantined={counts.rows_quarantined} + "
            f"duplicates_removed={counts.duplicates_removed} = {accounted}; "
            "rows were lost or duplicated by the transform."
        )


def count_metrics(counts: RowCounts) -> dict[str, float]:
    """The four accounting figures as metric values."""
    return {
        ROWS_IN: counts.rows_in,
        ROWS_CURATED: counts.rows_curated,
        ROWS_QUARANTINED: counts.rows_quarantined,
        DUPLICATES_REMOVED: counts.duplicates_removed,
    }


_NAMESPACE = re.compile(r"^[A-Za-z0-9._/#:-]{1,255}$")
_PUT_LIMIT = 1000  # CloudWatch PutMetricData accepts at most 1000 values per call.


def log_line(job: str, dataset: str, values: Mapping[str, float]) -> str:
    """The log line of one dataset's figures: ``metrics {"job": ..., "dataset": ..., ...}``."""
    return "metrics " + json.dumps({"job": job, "dataset": dataset, **values}, sort_keys=True)


def _check(values: Mapping[str, float]) -> dict[str, float]:
    unknown = sorted(set(values) - set(METRIC_NAMES))
    if unknown:
        raise ValueError(f"Unknown metric name(s) {', '.join(unknown)}; known: {', '.join(METRIC_NAMES)}.")
    return {name: float(value) for name, value in values.items()}


class MetricsSink:
    """Where a job reports its figures: :meth:`publish` once per dataset, :meth:`flush` at the end."""

    def __init__(self, job: str):
        self.job = job

    def publish(self, dataset: str, values: Mapping[str, float]) -> None:
        """Log and record ``values`` (metric name -> count) of ``dataset``.

        Raises:
            ValueError: a name is not one of :data:`METRIC_NAMES`.
        """
        checked = _check(values)
        print(log_line(self.job, dataset, checked), flush=True)
        self._record(dataset, checked)

    def _record(self, dataset: str, values: dict[str, float]) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def flush(self) -> None:
        """Send what is buffered (CloudWatch); a no-op for the other sinks."""


class RecordingSink(MetricsSink):
    """Keeps every published value in :attr:`values` as ``{(dataset, name): value}`` (tests)."""

    def __init__(self, job: str = "test"):
        super().__init__(job)
        self.values: dict[tuple[str, str], float] = {}

    def _record(self, dataset: str, values: dict[str, float]) -> None:
        for name, value in values.items():
            self.values[(dataset, name)] = value


class PrintSink(MetricsSink):
    """Only logs (local runs)."""

    def _record(self, dataset: str, values: dict[str, float]) -> None:
        pass


class CloudWatchSink(MetricsSink):
    """Buffers the values and sends them to CloudWatch on :meth:`flush` (boto3, in Glue).

    Args:
        job: the Glue job name (dimension ``Job``).
        namespace: the custom namespace, e.g. ``Undercurrent/Transform``.
        client: a boto3 CloudWatch client; created on first flush when omitted.
    """

    def __init__(self, job: str, namespace: str, client: Any | None = None):
        super().__init__(job)
        if not isinstance(namespace, str) or not _NAMESPACE.match(namespace) or namespace.startswith("AWS/"):
            raise ValueError(f"metrics_namespace must be a custom CloudWatch namespace (not AWS/...); got {namespace!r}.")
        self.namespace = namespace
        self._client = client
        self._data: list[dict[str, Any]] = []

    def _record(self, dataset: str, values: dict[str, float]) -> None:
        for name, value in values.items():
            self._data.append(
                {
                    "MetricName": name,
                    "Dimensions": [{"Name": "Job", "Value": self.job}, {"Name": "Dataset", "Value": dataset}],
                    "Value": value,
                    "Unit": "Count",
                }
            )

    def flush(self) -> None:
        if not self._data:
            return
        if self._client is None:  # pragma: no cover - needs AWS
            import boto3

            self._client = boto3.client("cloudwatch")
        for start in range(0, len(self._data), _PUT_LIMIT):
            self._client.put_metric_data(Namespace=self.namespace, MetricData=self._data[start : start + _PUT_LIMIT])
        self._data = []
