"""The alarms watch metrics the batch really emits, under the very names and dimensions.

``infra/constructs_monitoring.py`` alarms on ``UnreadableInputs`` and ``ModelPromoted`` in
the ``recs`` namespace with the one dimension ``service=recs`` (``tests/infra/test_stack.py``
checks the template). A CloudWatch alarm on a metric nobody emits under exactly that
namespace, name and dimension set never fires, or, treating missing data as breaching,
always does. So here the real handlers run nightly batches on moto and the embedded metric
format documents they print are read back: same namespace, same dimension set, and the
values the alarms count on.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3
import pytest

from recs.contracts import layout, resources
from tests.conftest import api_event, call, event

DAY = date(2026, 11, 20)


def _emitted(out: str) -> list[tuple[str, str, tuple[str, ...], float]]:
    """(namespace, metric, dimension names, value) of every EMF document printed."""
    found = []
    for line in out.splitlines():
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if not isinstance(document, dict) or "_aws" not in document:
            continue
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for dimensions in directive["Dimensions"]:
                assert all(document[name] == resources.SERVICE for name in dimensions)
                for metric in directive["Metrics"]:
                    values = document[metric["Name"]]
                    for value in values if isinstance(values, list) else [values]:
                        found.append((directive["Namespace"], metric["Name"],
                                      tuple(dimensions), float(value)))
    return found


def _values(out: str, metric: str) -> list[float]:
    emitted = _emitted(out)
    named = [e for e in emitted if e[1] == metric]
    # Exactly what the alarm reads: namespace recs, dimensions [service].
    assert all(e[0] == resources.METRICS_NAMESPACE and e[2] == ("service",) for e in named)
    return [e[3] for e in named]


@pytest.fixture
def shop(cloud: Any) -> Any:
    noon = datetime(DAY.year, DAY.month, DAY.day, 12, tzinfo=UTC)
    events = [event(user, item, at=noon + timedelta(minutes=i))
              for i, (user, item) in enumerate([("A", "rice"), ("A", "milk"), ("B", "rice"),
                                                ("B", "milk"), ("A", "lamb")])]
    assert call(cloud, "ingest", api_event("POST", "/events", body={"events": events}))[0] == 200
    assert cloud.pump_queue() >= 1
    return cloud


def test_a_promotion_counts_one_and_a_rerun_of_the_live_day_zero(
        shop: Any, capsys: pytest.CaptureFixture[str]) -> None:
    as_of = (DAY + timedelta(days=1)).isoformat()
    capsys.readouterr()
    assert shop.run_batch(as_of)["output"]["promoted"] is True
    first = capsys.readouterr().out
    assert _values(first, resources.MODEL_PROMOTED_METRIC) == [1.0]
    assert _values(first, resources.UNREADABLE_INPUTS_METRIC) == [0.0]  # data every night

    assert shop.run_batch(as_of)["status"] == "SUCCEEDED"
    assert _values(capsys.readouterr().out, resources.MODEL_PROMOTED_METRIC) == [0.0]


def test_a_corrupt_event_file_counts_as_one_unreadable_input(
        shop: Any, capsys: pytest.CaptureFixture[str]) -> None:
    boto3.client("s3").put_object(Bucket=resources.LOCAL_BUCKET,
                                  Key=layout.event_file(DAY.isoformat(), "corrupt"),
                                  Body=b"PAR1 this is not parquet")
    capsys.readouterr()
    shop.run_batch((DAY + timedelta(days=1)).isoformat())  # skipped, or too much to skip
    assert _values(capsys.readouterr().out, resources.UNREADABLE_INPUTS_METRIC) == [1.0]
