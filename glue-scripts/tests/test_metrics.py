"""Tests of undercurrent_glue.metrics (no Spark needed)."""

import json

import pytest

from undercurrent_glue import metrics


class FakeCloudWatch:
    def __init__(self):
        self.calls = []

    def put_metric_data(self, **kwargs):
        self.calls.append(kwargs)


def test_recording_sink_keeps_values_and_logs_one_line(capsys):
    sink = metrics.RecordingSink("job")
    sink.publish("orders", {metrics.ROWS_IN: 10, metrics.ROWS_CURATED: 8})
    assert sink.values == {("orders", "RowsIn"): 10.0, ("orders", "RowsCurated"): 8.0}
    line = capsys.readouterr().out.strip()
    assert line.startswith("metrics ")
    assert json.loads(line[len("metrics "):]) == {"job": "job", "dataset": "orders", "RowsIn": 10.0, "RowsCurated": 8.0}


def test_unknown_metric_names_are_refused():
    with pytest.raises(ValueError, match="Unknown metric name.*Rows"):
        metrics.RecordingSink().publish("orders", {"Rows": 1})


def test_cloudwatch_sink_sends_on_flush_with_job_and_dataset_dimensions():
    client = FakeCloudWatch()
    sink = metrics.CloudWatchSink("SourceToCurated", "Undercurrent/Transform", client)
    sink.publish("orders", {metrics.SCHEMA_DRIFT: 1})
    assert client.calls == []
    sink.flush()
    assert client.calls == [
        {
            "Namespace": "Undercurrent/Transform",
            "MetricData": [
                {
                    "MetricName": "SchemaDrift",
                    "Dimensions": [{"Name": "Job", "Value": "SourceToCurated"}, {"Name": "Dataset", "Value": "orders"}],
                    "Value": 1.0,
                    "Unit": "Count",
                }
            ],
        }
    ]
    sink.flush()
    assert len(client.calls) == 1


def test_cloudwatch_sink_splits_large_batches():
    client = FakeCloudWatch()
    sink = metrics.CloudWatchSink("job", "Undercurrent/Transform", client)
    for index in range(300):
        sink.publish(f"d{index}", {name: 1 for name in metrics.METRIC_NAMES[:4]})
    sink.flush()
    assert [len(call["MetricData"]) for call in client.calls] == [1000, 200]


@pytest.mark.parametrize("namespace", ["", "AWS/Glue", "bad namespace", None])
def test_cloudwatch_sink_refuses_a_bad_namespace(namespace):
    with pytest.raises(ValueError, match="metrics_namespace"):
        metrics.CloudWatchSink("job", namespace, FakeCloudWatch())


def test_accounting_holds_when_every_row_is_curated_quarantined_or_a_duplicate():
    metrics.check_accounting("orders", metrics.RowCounts(10, 6, 3, 1))
    with pytest.raises(metrics.AccountingError, match=r"'orders' broken: rows_in=10 but .* = 9; rows were lost"):
        metrics.check_accounting("orders", metrics.RowCounts(10, 6, 2, 1))


def test_the_four_counts_become_their_metrics():
    assert metrics.count_metrics(metrics.RowCounts(10, 6, 3, 1)) == {
        "RowsIn": 10,
        "RowsCurated": 6,
        "RowsQuarantined": 3,
        "DuplicatesRemoved": 1,
    }
