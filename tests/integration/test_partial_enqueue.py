"""When SQS takes some of a request's messages and not the others, the events it took are
accepted (never answered 5xx, since they are safe) and the others are reported, by index, to
be sent again; when it takes none, the request fails whole (503)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from recs.contracts import resources
from recs.exceptions import PartlyEnqueued, StoreError
from recs.intake.ingest import ingest
from recs.stores.aws import SqsEventQueue
from recs.stores.memory import MemoryRealtimeStore
from tests.conftest import event
from tests.integration.conftest import MakeTable

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


class SqsDownAfter:
    """An SQS client that takes the first ``calls`` SendMessageBatch calls, then is down."""

    def __init__(self, calls: int) -> None:
        self.client = boto3.client("sqs")
        self.calls = calls

    def send_message_batch(self, **kwargs: Any) -> Any:
        if self.calls == 0:
            raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"}},
                              "SendMessageBatch")
        self.calls -= 1
        return self.client.send_message_batch(**kwargs)


@pytest.fixture
def queue_url(moto_aws: MakeTable) -> str:
    url: str = boto3.client("sqs").create_queue(QueueName=resources.LOCAL_QUEUE)["QueueUrl"]
    return url


def queued_ids(url: str) -> list[str]:
    sqs, ids = boto3.client("sqs"), []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                          VisibilityTimeout=60).get("Messages", []):
        ids += [e["event_id"] for m in messages for e in json.loads(m["Body"])["events"]]
    return ids


def one_event_a_day(days: int) -> list[dict[str, Any]]:
    """An event for each of ``days`` days: one queue message each, so more than one SQS batch
    (ten messages) for more than ten days. The newest is of today (realtime)."""
    return [event("A", f"i{n}", "view", at=NOW - timedelta(days=days - 1 - n))
            for n in range(days)]


def test_the_events_sqs_took_are_accepted_and_the_others_reported_to_resend(
        queue_url: str) -> None:
    events = one_event_a_day(25)  # messages 0-9 in the first batch, then SQS is down
    events.append(dict(events[3]))  # a repeat of an event that is sent
    events.append(dict(events[20]))  # a repeat of one that is not
    realtime = MemoryRealtimeStore()
    result = ingest(events, SqsEventQueue(queue_url, SqsDownAfter(1)), realtime,
                    now=int(NOW.timestamp() * 1000))
    sent = [e["event_id"] for e in events[:10]]
    assert sorted(queued_ids(queue_url)) == sorted(sent)
    assert (result.accepted, result.duplicates) == (11, 1)
    assert [(r.index, r.field, r.event_id) for r in result.rejected] == [
        (n, "event", events[n]["event_id"]) for n in (*range(10, 25), 26)]
    assert "send it again" in result.rejected[0].reason
    assert "U#A" not in realtime.shoppers  # today's event was not taken: not recorded


def test_a_queue_that_takes_nothing_fails_the_request(queue_url: str) -> None:
    with pytest.raises(StoreError) as caught:
        ingest(one_event_a_day(25), SqsEventQueue(queue_url, SqsDownAfter(0)),
               now=int(NOW.timestamp() * 1000))
    assert not isinstance(caught.value, PartlyEnqueued)
    assert queued_ids(queue_url) == []


def test_the_queue_names_the_bodies_it_did_not_take(queue_url: str) -> None:
    bodies = [f"m{n}" for n in range(23)]
    with pytest.raises(PartlyEnqueued) as caught:
        SqsEventQueue(queue_url, SqsDownAfter(2)).send(bodies)
    assert caught.value.unsent == [20, 21, 22]
