"""Malformed, retried and oversized requests over HTTP: a 4xx naming the field, never a 5xx.

Each malformed entry the issue found is sent beside a good one: the answer is 207 naming the
bad entry's field, and the good entry is accepted and lands. A body that cannot be read at
all answers 400 naming ``body``. Then the same on the ingest side of the stores: a retried
``POST /events`` changes nothing, an SQS failure answers a clean 503 (nothing was taken), a
realtime-table brown-out costs freshness but never the events, and the catalog state stays
within DynamoDB's item limit.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from recs.contracts import layout, resources
from tests.conftest import event
from tests.faults import injection
from tests.local_stack import LocalStack, local_stack

NOW = datetime.now(UTC) - timedelta(minutes=1)
DEEP = 100  # levels of nesting: far past any sane context, well inside the JSON parser's
DYNAMODB_ITEM_LIMIT = 400 * 1024


def nested(depth: int) -> Any:
    value: Any = "bottom"
    for level in range(depth):
        value = {"level": value} if level % 2 else [value]
    return value if isinstance(value, dict) else {"top": value}


def good_event(n: int) -> dict[str, Any]:
    return event(f"shopper-{n}", "rice", "view", at=NOW)


EVENT_CASES: dict[str, tuple[dict[str, Any], str]] = {
    # name: the bad event, the field its rejection must name
    "event_type a list": ({**good_event(0), "event_type": ["view"]}, "event_type"),
    "event_type an object": ({**good_event(0), "event_type": {"view": 1}}, "event_type"),
    "timestamp of Unicode digits": ({**good_event(0), "timestamp": "²"}, "timestamp"),
    "timestamp of 5,000 digits": ({**good_event(0), "timestamp": "1" * 5000}, "timestamp"),
    "timestamp 10^300 ms": ({**good_event(0), "timestamp": 10**300}, "timestamp"),
    "timestamp in year 0104": ({**good_event(0), "timestamp": "0104-01-01T00:00:00Z"},
                               "timestamp"),
    "item_id a lone surrogate": ({**good_event(0), "item_id": "\ud800"}, "item_id"),
    "user_id a lone surrogate": ({**good_event(0), "user_id": "a\udfffb"}, "user_id"),
    "no event_id": ({k: v for k, v in good_event(0).items() if k != "event_id"}, "event_id"),
    "context nested 100 deep": ({**good_event(0), "context": nested(DEEP)}, "context"),
    "context with a lone surrogate": ({**good_event(0), "context": {"k": "\udc00"}},
                                      "context"),
    "price of 10^400": ({**good_event(0), "price": 10**400}, "price"),
}
# Numbers JSON can write but Python cannot hold as finite floats: sent as raw text.
RAW_EVENT_CASES = {
    "context number 1e309": ('"context": {"a": 1e309}', "context"),
    "price NaN": ('"price": NaN', "price"),
    "price Infinity": ('"price": Infinity', "price"),
}
ITEM_CASES: dict[str, tuple[dict[str, Any], str]] = {
    "category a lone surrogate": ({"item_id": "x", "category": "food/\ud800"}, "category"),
    "title a lone surrogate": ({"item_id": "x", "title": "\udbff"}, "title"),
    "created_at of Unicode digits": ({"item_id": "x", "created_at": "²"}, "created_at"),
    "created_at of 5,000 digits": ({"item_id": "x", "created_at": "9" * 5000}, "created_at"),
    "created_at in year 0104": ({"item_id": "x", "created_at": "0104-05-01T00:00:00Z"},
                                "created_at"),
    "created_at 10^300 ms": ({"item_id": "x", "created_at": 10**300}, "created_at"),
    "attributes nested 100 deep": ({"item_id": "x", "attributes": nested(DEEP)},
                                   "attributes"),
    "item_id a lone surrogate": ({"item_id": "\ud800"}, "item_id"),
}
RAW_ITEM_CASES = {
    "attributes number 1e309": ('"attributes": {"weight": 1e309}', "attributes"),
    "price -Infinity": ('"price": -Infinity', "price"),
}


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    """One stack for the module: each case sends its own shoppers' events and items."""
    with local_stack() as running:
        yield running


def raw_event(n: int, extra: str) -> str:
    text = json.dumps(good_event(n))
    return text[:-1] + ", " + extra + "}"


@pytest.mark.parametrize("name", EVENT_CASES)
def test_a_bad_event_beside_a_good_one_answers_207_naming_its_field(
        stack: LocalStack, name: str) -> None:
    bad, field = EVENT_CASES[name]
    status, answer = stack.request("POST", "/events", {"events": [good_event(1), bad]})
    assert status == 207, answer
    assert (answer["accepted"], answer["rejected"]) == (1, 1)
    assert (answer["errors"][0]["index"], answer["errors"][0]["field"]) == (1, field)


@pytest.mark.parametrize("name", RAW_EVENT_CASES)
def test_a_non_finite_number_beside_a_good_event_answers_207_naming_its_field(
        stack: LocalStack, name: str) -> None:
    extra, field = RAW_EVENT_CASES[name]
    body = '{"events": [' + json.dumps(good_event(1)) + ", " + raw_event(0, extra) + "]}"
    status, answer = stack.request("POST", "/events", raw=body.encode())
    assert status == 207, answer
    assert (answer["errors"][0]["index"], answer["errors"][0]["field"]) == (1, field)


@pytest.mark.parametrize("name", ITEM_CASES)
def test_a_bad_item_beside_a_good_one_answers_207_naming_its_field(
        stack: LocalStack, name: str) -> None:
    bad, field = ITEM_CASES[name]
    status, answer = stack.request("PUT", "/items", {"items": [{"item_id": "tea"}, bad]})
    assert status == 207, answer
    assert (answer["accepted"], answer["rejected"]) == (1, 1)
    assert (answer["errors"][0]["index"], answer["errors"][0]["field"]) == (1, field)


@pytest.mark.parametrize("name", RAW_ITEM_CASES)
def test_a_non_finite_number_beside_a_good_item_answers_207_naming_its_field(
        stack: LocalStack, name: str) -> None:
    extra, field = RAW_ITEM_CASES[name]
    body = '{"items": [{"item_id": "tea"}, {"item_id": "x", ' + extra + "}]}"
    status, answer = stack.request("PUT", "/items", raw=body.encode())
    assert status == 207, answer
    assert (answer["errors"][0]["index"], answer["errors"][0]["field"]) == (1, field)


BODIES: dict[str, bytes] = {
    "nested 5,000 deep": ('{"events": ' + "[" * 5000 + "]" * 5000 + "}").encode(),
    "not JSON": b'{"events": [',
    "not UTF-8": b'{"events": ["\xff\xfe"]}',
    "empty": b"",
    "a list": b"[]",
    "events not a list": b'{"events": {"a": 1}}',
}


@pytest.mark.parametrize("name", BODIES)
@pytest.mark.parametrize("route", [("POST", "/events"), ("PUT", "/items")])
def test_a_body_that_cannot_be_read_answers_400_naming_it(
        stack: LocalStack, route: tuple[str, str], name: str) -> None:
    method, path = route
    body = BODIES[name].replace(b'"events"', b'"items"') if path == "/items" else BODIES[name]
    status, answer = stack.request(method, path, raw=body)
    assert status == 400, answer
    named = answer["field"] if "field" in answer else answer["errors"][0]["field"]
    assert named in ("body", path.strip("/"), path.strip("/")[:-1], "context", "attributes")


def deep_text(depth: int) -> str:
    """A JSON object ``depth`` levels deep, as text (``json.dumps`` would recurse)."""
    return '{"a": ' * depth + "1" + "}" * depth


@pytest.mark.parametrize("route", [("POST", "/events", "context"),
                                   ("PUT", "/items", "attributes")])
def test_an_entry_nested_5000_deep_beside_a_good_one_answers_207_naming_its_field(
        stack: LocalStack, route: tuple[str, str, str]) -> None:
    """Past the depth Python's JSON parser recurses to (about 1,000): still the field."""
    method, path, field = route
    good = json.dumps(good_event(3) if path == "/events" else {"item_id": "tea"})
    bad = good[:-1] + f', "{field}": {deep_text(5000)}}}'
    body = '{"' + path.strip("/") + '": [' + good + ", " + bad + "]}"
    status, answer = stack.request(method, path, raw=body.encode())
    assert status == 207, answer
    assert (answer["errors"][0]["index"], answer["errors"][0]["field"]) == (1, field)


@pytest.mark.parametrize("megabytes", [2, 7, 11])
@pytest.mark.parametrize("route", [("POST", "/events"), ("PUT", "/items")])
def test_an_oversized_body_answers_413(stack: LocalStack, route: tuple[str, str],
                                       megabytes: int) -> None:
    """Past ingest's 1 MB, past Lambda's 6 MB synchronous payload, past API Gateway's 10 MB."""
    method, path = route
    key = path.strip("/")
    filler = "x" * 1000
    count = megabytes * 1000
    body = json.dumps({key: [{"item_id": filler}] * count}).encode()
    status, answer = stack.request(method, path, raw=body)
    assert status == 413, answer
    assert answer["message"]


def test_every_good_event_of_a_batch_full_of_bad_ones_lands(stack: LocalStack) -> None:
    """Every bad event of the cases above, each after a good one, in one request: the good
    ones land, once each, and nothing is quarantined or dead-lettered."""
    good = [good_event(100 + n) for n in range(len(EVENT_CASES) + len(RAW_EVENT_CASES))]
    entries = [json.dumps(g) for g in good[:len(EVENT_CASES)]]
    bad = [json.dumps(b) for b, _ in EVENT_CASES.values()]
    bad += [raw_event(0, extra) for extra, _ in RAW_EVENT_CASES.values()]
    entries += [json.dumps(g) for g in good[len(EVENT_CASES):]]
    body = '{"events": [' + ", ".join(x for pair in zip(entries, bad, strict=True)
                                      for x in pair) + "]}"
    status, answer = stack.request("POST", "/events", raw=body.encode())
    assert status == 207, answer
    assert answer["accepted"] == len(good) and answer["rejected"] == len(bad)
    assert {e["index"] for e in answer["errors"]} == set(range(1, 2 * len(good), 2))
    stack.cloud.pump_queue()
    landed = Counter(stack.landed_event_ids())
    assert all(landed[g["event_id"]] == 1 for g in good)
    assert stack.keys(layout.EVENTS_REJECTED) == [] and stack.dead_letters() == []


def test_the_nightly_run_succeeds_after_the_malformed_requests(stack: LocalStack) -> None:
    result = stack.run_batch()
    assert result["status"] == "SUCCEEDED", result
    assert result["output"]["counts"].get("skipped_event_files", 0) == 0
    assert result["output"]["counts"].get("skipped_catalog_lines", 0) == 0


# --- retries and the stores behind ingest ---------------------------------------------------

def realtime_row(key: str) -> dict[str, Any]:
    item = boto3.client("dynamodb").get_item(
        TableName=resources.REALTIME.local_name, Key={"pk": {"S": key}}).get("Item", {})
    return {name: value for name, value in item.items() if name != "expires_at"}


def test_a_retried_post_changes_nothing(stack: LocalStack) -> None:
    """Same event ids twice: the realtime state and the answers are unchanged, the lake holds
    them once after the nightly deduplication."""
    events = [event("R", item, kind, at=NOW - timedelta(minutes=n))
              for n, (item, kind) in enumerate([("rice", "view"), ("milk", "cart"),
                                                ("lamb", "purchase")])]
    assert stack.request("POST", "/events", {"events": events})[0] == 200
    state = realtime_row("U#R")
    first = stack.request("GET", "/recommendations?user_id=R")
    assert state

    status, answer = stack.request("POST", "/events", {"events": events})
    assert status == 200 and answer["accepted"] == len(events)
    assert realtime_row("U#R") == state
    again = stack.request("GET", "/recommendations?user_id=R")
    assert again[0] == 200
    assert [i["item_id"] for i in again[1]["items"]] == [i["item_id"] for i in first[1]["items"]]

    stack.cloud.pump_queue()
    result = stack.run_batch()
    assert result["status"] == "SUCCEEDED", result
    ids = {e["event_id"] for e in events}
    assert result["output"]["counts"]["events"] == len(
        set(stack.landed_event_ids()))  # every distinct event once
    assert ids <= set(stack.landed_event_ids())


def test_a_queue_that_refuses_answers_a_clean_503_and_takes_nothing(stack: LocalStack) -> None:
    events = [event("Q", "rice", at=NOW)]
    before = stack.queued(stack.cloud.queue_url)
    with injection.sqs("send_message_batch"), injection.sqs("send_message"):
        status, answer = stack.request("POST", "/events", {"events": events})
    assert status == 503, answer
    message = answer["message"]
    assert "botocore" not in message and "An error occurred" not in message
    assert "RequestThrottled" not in message
    assert stack.queued(stack.cloud.queue_url) == before
    assert realtime_row("U#Q") == {}  # nothing was taken, so nothing was shown either
    assert stack.request("POST", "/events", {"events": events})[0] == 200  # the resend


def test_a_realtime_brown_out_at_ingest_still_takes_the_events(stack: LocalStack) -> None:
    """The queue is the record; the realtime table is best effort."""
    events = [event("T", "rice", at=NOW)]
    with injection.dynamodb("update_item") as calls:
        status, answer = stack.request("POST", "/events", {"events": events})
    assert calls  # the brown-out was met
    assert status == 200 and answer["accepted"] == 1
    stack.cloud.pump_queue()
    assert events[0]["event_id"] in stack.landed_event_ids()


def test_unavailable_items_stay_within_dynamodbs_item_limit(stack: LocalStack) -> None:
    """Mark items unavailable, 500 at a time with 256-character ids, until a request is
    refused: every answer is 200 or a 4xx (never 5xx), every realtime row stays under
    400 KB, and a refused request writes no catalog delta."""
    statuses = []
    for batch in range(14):  # 7,000 ids of 256 characters: 1.8 MB of ids in all
        items = [{"item_id": f"{batch:03d}-{n:04d}-".ljust(256, "u"), "available": False}
                 for n in range(500)]
        deltas = len(stack.keys(layout.CATALOG))
        status, answer = stack.request("PUT", "/items", {"items": items})
        statuses.append(status)
        assert status < 500, answer
        if status >= 400:
            assert answer["message"]
            assert len(stack.keys(layout.CATALOG)) == deltas
    rows = boto3.client("dynamodb").scan(TableName=resources.REALTIME.local_name)["Items"]
    for row in rows:
        assert item_size(row) < DYNAMODB_ITEM_LIMIT, row["pk"]
    assert statuses[0] == 200 and any(400 <= status < 500 for status in statuses)
    assert stack.request("GET", "/recommendations?user_id=C")[0] == 200


def item_size(item: dict[str, Any]) -> int:
    """A DynamoDB item's size as DynamoDB counts it: names and values in UTF-8 bytes."""
    def size(value: dict[str, Any]) -> int:
        (kind, content), = value.items()
        if kind in ("S", "N", "B"):
            return len(str(content).encode())
        if kind in ("SS", "NS", "BS"):
            return sum(len(str(v).encode()) for v in content)
        if kind == "L":
            return sum(size(v) + 1 for v in content) + 3
        if kind == "M":
            return sum(len(k.encode()) + size(v) + 1 for k, v in content.items()) + 3
        return 1
    return sum(len(name.encode()) + size(value) for name, value in item.items())
