"""Ingest: good events are enqueued, bad ones reported by index and field, none lost."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from recs.exceptions import PayloadTooLarge, ValidationError
from recs.intake.ingest import MAX_EVENTS, ingest, parse_body
from recs.stores.memory import MemoryEventQueue
from tests.conftest import DAY0, event

NOW = int((DAY0 + timedelta(days=1)).timestamp() * 1000)


def queued_events(queue: MemoryEventQueue) -> list[dict]:
    return [e for body in queue.messages for e in json.loads(body)["events"]]


def test_three_events_one_bad_gives_two_accepted_one_rejected_with_its_field() -> None:
    queue = MemoryEventQueue()
    bad = {**event("A", "milk"), "event_type": "teleport"}
    result = ingest([event("A", "rice"), bad, event("C", "rice")], queue, now=NOW)
    answer = result.to_dict()
    assert answer["accepted"] == 2 and answer["rejected"] == 1
    assert answer["errors"] == [
        {"index": 1, "field": "event_type", "reason": answer["errors"][0]["reason"],
         "event_id": bad["event_id"]}
    ]
    assert "teleport" in answer["errors"][0]["reason"]
    assert sorted(e["user_id"] for e in queued_events(queue)) == ["A", "C"]


def test_a_repeated_event_id_in_one_batch_is_accepted_once() -> None:
    queue = MemoryEventQueue()
    first = event("A", "rice")
    result = ingest([first, dict(first)], queue, now=NOW)
    assert (result.accepted, result.duplicates) == (2, 1)
    assert len(queued_events(queue)) == 1


def test_each_message_holds_one_date_partition() -> None:
    queue = MemoryEventQueue()
    events = [event("A", f"i{n}", at=DAY0 - timedelta(days=n % 3)) for n in range(250)]
    ingest(events, queue, now=NOW)
    for body in queue.messages:
        message = json.loads(body)
        assert len(message["events"]) <= 100
        assert {e["ts"] // 86_400_000 for e in message["events"]} == {
            message["events"][0]["ts"] // 86_400_000}
    assert len(queued_events(queue)) == 250


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("", "body"),
        ("{not json", "body"),
        ('{"items": []}', "events"),
        ('{"events": {}}', "events"),
        ('{"events": []}', "events"),
    ],
)
def test_a_malformed_body_is_a_validation_error(body: str, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_body(body)
    assert caught.value.field == field


def test_too_many_events_or_bytes_is_payload_too_large() -> None:
    with pytest.raises(PayloadTooLarge):
        parse_body(json.dumps({"events": [{}] * (MAX_EVENTS + 1)}))
    with pytest.raises(PayloadTooLarge):
        parse_body("x" * 1_000_001)


def test_recent_events_reach_the_realtime_store_and_a_backfill_does_not() -> None:
    from recs.stores.memory import MemoryRealtimeStore

    realtime = MemoryRealtimeStore()
    fresh = event("A", "rice", "view", at=DAY0 + timedelta(hours=20), session_id="s1")
    shown = event("A", "milk", "impression", at=DAY0 + timedelta(hours=21))
    old = event("A", "lamb", "purchase", at=DAY0 - timedelta(days=10))
    ingest([fresh, shown, old], MemoryEventQueue(), realtime, now=NOW)
    assert [r[0] for r in realtime.shoppers["U#A"].recent] == ["rice"]
    assert realtime.shoppers["U#A"].shown == ["milk"]
    assert [r[0] for r in realtime.shoppers["S#s1"].recent] == ["rice"]
