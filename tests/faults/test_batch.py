"""The nightly batch degrades, never stops: unreadable inputs are skipped and reported.

An event file under ``events/`` that cannot be read (corrupt, truncated, empty, another
schema) or a catalog delta line that cannot be used is left out; the run succeeds and says
so in its output (``skipped``, ``counts``), in the registry record of the version and in the
``UnreadableInputs`` metric the weight function prints (CloudWatch's embedded metric format,
which the CDK app alarms on). Past ``RECS_MAX_UNREADABLE_SHARE`` of the bytes the run fails
instead, and the live model serves on. The live model's rows carry no TTL, so a month of
failed runs cannot empty the answers: ``tests/unit/test_live_rows.py`` runs 35 nights of
them with the clock injected; here the rows the local stack exported are checked for it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from recs.contracts import layout, resources
from tests.local_stack import LocalStack, local_stack

SHARE = "0.5"  # of the bytes: the seed shop's events are a few KB, the bad files not much less


@pytest.fixture
def lenient(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalStack]:
    """A stack whose runs skip up to half of their input bytes before failing."""
    monkeypatch.setenv("RECS_MAX_UNREADABLE_SHARE", SHARE)
    with local_stack() as running:
        yield running


def yesterday() -> str:
    return (datetime.now(UTC) - timedelta(days=1)).date().isoformat()


def a_landed_file(stack: LocalStack) -> bytes:
    key = next(k for k in stack.keys(layout.EVENTS) if layout.event_file_date(k))
    return stack.get(key)


def foreign_parquet() -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.table({"order": ["o-1", "o-2"], "total": [9.5, 3.0]}), buffer)
    return buffer.getvalue()


BAD_FILES = {
    "corrupt": lambda stack: b"PAR1" + bytes(range(256)) * 2 + b"PAR1",
    "truncated": lambda stack: a_landed_file(stack)[:-200],
    "empty": lambda stack: b"",
    "foreign schema": lambda stack: foreign_parquet(),
}


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


@pytest.mark.parametrize("kind", BAD_FILES)
def test_an_unreadable_event_file_is_skipped_and_reported(
        lenient: LocalStack, capfd: pytest.CaptureFixture[str], kind: str) -> None:
    stack = lenient
    key = layout.event_file(yesterday(), f"bad-{kind.replace(' ', '-')}")
    stack.put(key, BAD_FILES[kind](stack))
    capfd.readouterr()

    result = stack.run_batch()

    assert result["status"] == "SUCCEEDED", result
    output = result["output"]
    assert [s["key"] for s in output["skipped"]["events"]] == [key]
    assert output["skipped"]["events"][0]["reason"]
    assert output["counts"]["skipped_event_files"] == 1
    assert output["counts"]["events"] == 7  # the seed shop's, none lost
    assert key in json.dumps(registry_record(output["version"]))
    assert metric_values(capfd.readouterr().out, resources.UNREADABLE_INPUTS_METRIC) == [1.0]
    serves_personalised(stack)


def test_too_much_unreadable_input_fails_the_run_and_live_serves_on(
        stack: LocalStack, capfd: pytest.CaptureFixture[str]) -> None:
    """Default threshold (a tenth of the bytes): a corrupt file as large as the shop's
    events fails the run before the pointer could move."""
    stack.put(layout.event_file(yesterday(), "bad-big"), b"PAR1" + b"\x00" * 20_000)
    capfd.readouterr()

    result = stack.run_batch()

    assert result["status"] == "FAILED"
    assert "unreadable" in f"{result['error']} {result['cause']}".lower()
    assert metric_values(capfd.readouterr().out, resources.UNREADABLE_INPUTS_METRIC) == [1.0]
    status, answer = stack.request("GET", "/models/status")
    assert status == 200 and answer["live_version"] == stack.version
    serves_personalised(stack)


def test_a_bad_catalog_delta_is_skipped_line_by_line_and_reported(
        lenient: LocalStack, capfd: pytest.CaptureFixture[str]) -> None:
    """Catalog deltas have no window: a bad line would otherwise fail every run for ever."""
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
    skipped = result["output"]["skipped"]["catalog"]
    assert {s["key"] for s in skipped} == {key, broken}
    assert sorted(s["line"] for s in skipped if s["key"] == key) == [1, 2, 4]
    assert all(s["reason"] for s in skipped)
    values = metric_values(capfd.readouterr().out, resources.UNREADABLE_INPUTS_METRIC)
    assert values and values[0] >= 3
    assert key in json.dumps(registry_record(result["output"]["version"]))
    serves_personalised(stack)


def test_re_running_the_live_day_leaves_it_live(stack: LocalStack) -> None:
    """A retried delivery of the nightly schedule: same data, same version, still live."""
    result = stack.run_batch()
    assert result["status"] == "SUCCEEDED", result
    assert result["output"]["version"] == stack.version
    assert registry_record(stack.version)["status"] == "live"
    status, answer = stack.request("GET", "/models/status")
    assert status == 200 and answer["live_version"] == stack.version
    serves_personalised(stack)


def test_the_live_models_rows_carry_no_ttl(stack: LocalStack) -> None:
    """What keeps a month of failed or refused runs from emptying the answers on AWS,
    where DynamoDB deletes rows past their TTL (moto does not)."""
    rows = boto3.client("dynamodb").scan(TableName=resources.RECOMMENDATIONS.local_name)["Items"]
    live = [row for row in rows if row["sk"]["S"] == stack.version]
    assert live and not [row["pk"]["S"] for row in live if "expires_at" in row]
