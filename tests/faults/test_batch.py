"""The nightly batch degrades, never stops: a bad catalog delta is skipped line by line.

The batch's own suite replays the other nightly scenarios on the same state machine, and this
suite does not repeat them: ``tests/integration/test_degraded_batch.py`` puts an empty, a
truncated, a corrupt and a foreign-schema event file and a lone-surrogate catalog line under
the window (the run succeeds, each is named in the output, the registry record and the
``UnreadableInputs`` metric), passes the threshold (the run fails, live serves on), re-runs
the live day (still live), and fails 35 nights in a row (the live rows carry no TTL, the API
still answers from the model); ``tests/unit/test_live_rows.py`` runs the 35 nights with the
clock injected and the rows' TTL honoured.

Here: a catalog delta with each kind of unusable line, and one that is not text at all.
Catalog deltas have no window, so one bad line would otherwise fail every run for ever.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from recs.contracts import layout, resources
from tests.local_stack import LocalStack, local_stack

SHARE = "0.5"  # of the bytes: the seed shop's catalog is a few hundred, the bad lines not less


@pytest.fixture
def lenient(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalStack]:
    """A stack whose runs skip up to half of their input bytes before failing."""
    monkeypatch.setenv("RECS_MAX_UNREADABLE_SHARE", SHARE)
    with local_stack() as running:
        yield running


def metric_values(output: str, name: str) -> list[float]:
    """The values of ``name`` in the embedded-metric-format lines printed to stdout."""
    values = []
    for line in output.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and "_aws" in record and name in record:
            values.append(float(record[name] if not isinstance(record[name], list)
                                else record[name][0]))
    return values


def registry_record(version: str) -> dict[str, Any]:
    item = boto3.client("dynamodb").get_item(
        TableName=resources.REGISTRY.local_name,
        Key={"pk": {"S": "MODEL"}, "sk": {"S": version}})["Item"]
    return {name: next(iter(value.values())) for name, value in item.items()}


def serves_personalised(stack: LocalStack) -> None:
    """C bought rice and milk, as A did, who also bought lamb: the model says lamb."""
    status, answer = stack.request("GET", "/recommendations?user_id=C&num_items=5")
    assert status == 200
    assert answer["items"][0]["item_id"] == "lamb"
    assert answer["items"][0]["tier"] in ("session", "personalised")


def test_a_bad_catalog_delta_is_skipped_line_by_line_and_reported(
        lenient: LocalStack, capfd: pytest.CaptureFixture[str]) -> None:
    stack = lenient
    lines = [
        json.dumps({"item_id": "tea", "category": "drinks/\ud800", "updated_at": 1}),
        "{not json",
        json.dumps({"item_id": "coffee", "title": "Fresh coffee", "updated_at": 2}),
        json.dumps(["not", "an", "object"]),
    ]
    key = layout.catalog_delta(int(datetime.now(UTC).timestamp() * 1000), "bad")
    stack.put(key, "\n".join(lines).encode())
    broken = layout.catalog_delta(int(datetime.now(UTC).timestamp() * 1000) + 1, "binary")
    stack.put(broken, b"\xff\xfe\x00garbage")
    capfd.readouterr()

    result = stack.run_batch()

    assert result["status"] == "SUCCEEDED", result
    skipped = {(s["key"], s["line"]): s["reason"] for s in result["output"]["skipped"]["catalog"]}
    assert skipped == {(key, 1): "category: not encodable as UTF-8 (a lone surrogate)",
                       (key, 2): "not JSON", (key, 4): "not a JSON object",
                       (broken, 1): "not UTF-8"}
    assert result["output"]["counts"]["skipped_catalog_lines"] == 4
    assert metric_values(capfd.readouterr().out, resources.UNREADABLE_INPUTS_METRIC) == [4.0]
    assert key in json.dumps(registry_record(result["output"]["version"]))
    serves_personalised(stack)
