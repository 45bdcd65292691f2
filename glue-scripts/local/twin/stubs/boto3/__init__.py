"""The twin's ``boto3``: a recording CloudWatch client, and nothing that reaches AWS.

``local/twin/run_job.py`` puts ``local/twin/stubs`` on the job's ``sys.path``, so a job that
does ``import boto3; boto3.client("cloudwatch").put_metric_data(...)`` (as
``undercurrent_glue.metrics.CloudWatchSink.flush`` does) gets this module. Every
``put_metric_data`` call is checked against CloudWatch's request limits and appended as one
JSON line to ``<UNDERCURRENT_TWIN_WORK>/metrics/<UNDERCURRENT_TWIN_RUN_ID>.jsonl``::

    {"service": "cloudwatch", "operation": "PutMetricData", "at": "...", "jobName": "...",
     "runId": "...", "principal": "<job role ARN>", "region": "...",
     "Namespace": "...", "MetricData": [...]}

Any other service raises :class:`NotImplementedError`, any other operation or ``boto3``
attribute :class:`AttributeError`, naming it, so a job that starts calling more of AWS fails in
the twin instead of silently doing nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from pathlib import Path
from typing import Any, NoReturn

__version__ = "0.0.0+undercurrent-twin"

WORK_VARIABLE = "UNDERCURRENT_TWIN_WORK"
RUN_ID_VARIABLE = "UNDERCURRENT_TWIN_RUN_ID"
JOB_NAME_VARIABLE = "UNDERCURRENT_TWIN_JOB_NAME"
PRINCIPAL_VARIABLE = "UNDERCURRENT_TWIN_PRINCIPAL"
#: CloudWatch's PutMetricData limits (values per request, dimensions per value).
MAX_METRIC_DATA = 1000
MAX_DIMENSIONS = 30
UNITS = {
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
    "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
    "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
    "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
}


class InvalidParameterValue(ValueError):
    """The request breaks CloudWatch's rules (CloudWatch answers InvalidParameterValue)."""


def _check_name(value: Any, what: str, limit: int = 255) -> None:
    if not isinstance(value, str) or not 1 <= len(value) <= limit:
        raise InvalidParameterValue(f"{what} must be a string of 1 to {limit} characters; got {value!r}.")


def _check_metric(datum: Any, index: int) -> None:
    where = f"MetricData[{index}]"
    if not isinstance(datum, dict):
        raise InvalidParameterValue(f"{where} must be a dict; got {datum!r}.")
    _check_name(datum.get("MetricName"), f"{where}.MetricName")
    dimensions = datum.get("Dimensions", [])
    if not isinstance(dimensions, list) or len(dimensions) > MAX_DIMENSIONS:
        raise InvalidParameterValue(f"{where}.Dimensions must be a list of at most {MAX_DIMENSIONS}; got {dimensions!r}.")
    for d, dimension in enumerate(dimensions):
        if not isinstance(dimension, dict):
            raise InvalidParameterValue(f"{where}.Dimensions[{d}] must be a dict; got {dimension!r}.")
        _check_name(dimension.get("Name"), f"{where}.Dimensions[{d}].Name")
        _check_name(dimension.get("Value"), f"{where}.Dimensions[{d}].Value", 1024)
    value = datum.get("Value")
    if "Values" in datum or "StatisticValues" in datum:
        raise NotImplementedError(f"{where}: the twin's CloudWatch records single Values only.")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidParameterValue(f"{where}.Value must be a finite number; got {value!r}.")
    unit = datum.get("Unit", "None")
    if unit not in UNITS:
        raise InvalidParameterValue(f"{where}.Unit {unit!r} is not a CloudWatch unit.")


class CloudWatchClient:
    """``boto3.client("cloudwatch")``: records ``put_metric_data``; nothing else."""

    def __init__(self, region_name: str | None):
        self.region_name = region_name or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")

    def put_metric_data(self, *, Namespace: str, MetricData: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:  # noqa: N803
        if kwargs:
            raise NotImplementedError(f"put_metric_data arguments {', '.join(sorted(kwargs))} are not recorded by the twin.")
        _check_name(Namespace, "Namespace")
        if Namespace.startswith("AWS/"):
            raise InvalidParameterValue(f"Namespace {Namespace!r}: the AWS/ namespaces are reserved for AWS services.")
        if not isinstance(MetricData, list) or not 1 <= len(MetricData) <= MAX_METRIC_DATA:
            raise InvalidParameterValue(f"MetricData must be a list of 1 to {MAX_METRIC_DATA} values.")
        for index, datum in enumerate(MetricData):
            _check_metric(datum, index)
        work = os.environ.get(WORK_VARIABLE)
        run_id = os.environ.get(RUN_ID_VARIABLE)
        if not work or not run_id:
            raise RuntimeError(
                f"The twin's boto3 records metrics under ${WORK_VARIABLE}/metrics/${RUN_ID_VARIABLE}.jsonl; "
                "run the job through local/twin/run_job.py."
            )
        record = {
            "service": "cloudwatch",
            "operation": "PutMetricData",
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
            "jobName": os.environ.get(JOB_NAME_VARIABLE),
            "runId": run_id,
            "principal": os.environ.get(PRINCIPAL_VARIABLE),
            "region": self.region_name,
            "Namespace": Namespace,
            "MetricData": MetricData,
        }
        path = Path(work) / "metrics" / f"{run_id}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(record, sort_keys=True) + "\n")
        return {"ResponseMetadata": {"HTTPStatusCode": 200}}

    def __getattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"cloudwatch.{name} is not available in the twin (only put_metric_data is recorded).")


def client(service_name: str, region_name: str | None = None, **kwargs: Any) -> CloudWatchClient:
    """``boto3.client``: only ``"cloudwatch"``, and without endpoint or credential arguments."""
    if service_name != "cloudwatch":
        raise NotImplementedError(f"boto3.client({service_name!r}): the twin provides only a recording 'cloudwatch' client.")
    if kwargs:
        raise NotImplementedError(f"boto3.client arguments {', '.join(sorted(kwargs))} are not supported by the twin.")
    return CloudWatchClient(region_name)


def __getattr__(name: str) -> NoReturn:
    raise AttributeError(f"boto3.{name} is not available in the twin (only boto3.client('cloudwatch')).")
