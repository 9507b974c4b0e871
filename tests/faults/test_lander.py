"""The lander: one poison message never takes good ones down; redeliveries never double-count.

SQS delivers at least once and the lander's unit of failure is the queue message: a message
it cannot land is reported alone (a batch item failure), filed under ``events-rejected/``
with its reason and body, and after its last receive held by the dead-letter queue, from
which ``recs redrive`` sends it again once fixed. The messages around it land.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from recs.contracts import layout
from tests.conftest import event
from tests.local_stack import LocalStack


def good_events(user: str, now: datetime) -> list[dict[str, Any]]:
    """Three purchases today and two views yesterday: two partitions, two queue messages."""
    today, yesterday = now - timedelta(minutes=5), now - timedelta(days=1)
    return [event(user, "rice", at=today), event(user, "milk", at=today),
            event(user, "lamb", at=today),
            event(user, "tea", "view", at=yesterday), event(user, "coffee", "view", at=yesterday)]


def receive_all(stack: LocalStack) -> list[dict[str, Any]]:
    """Every visible message of the events queue, as the event source mapping takes them."""
    sqs = boto3.client("sqs")
    messages: dict[str, dict[str, Any]] = {}
    for _ in range(5):
        for message in sqs.receive_message(QueueUrl=stack.cloud.queue_url,
                                           MaxNumberOfMessages=10, VisibilityTimeout=60,
                                           AttributeNames=["All"]).get("Messages", []):
            messages[message["MessageId"]] = message
    return list(messages.values())


def sqs_record(message: dict[str, Any]) -> dict[str, Any]:
    """One record of the SQS event the lander receives."""
    return {"messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"], "attributes": message.get("Attributes", {}),
            "messageAttributes": {}, "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:0:recs-events",
            "awsRegion": "us-east-1"}


def delete(stack: LocalStack, messages: list[dict[str, Any]]) -> None:
    """What the event source mapping does with the messages a batch did not report."""
    for message in messages:
        boto3.client("sqs").delete_message(QueueUrl=stack.cloud.queue_url,
                                           ReceiptHandle=message["ReceiptHandle"])


def stored_event(stack: LocalStack) -> tuple[str, dict[str, Any]]:
    """The partition and first event of a real queue message, in the form ingest stores."""
    status, _ = stack.request("POST", "/events", {"events": [event("P", "rice")]})
    assert status == 200
    (message,) = receive_all(stack)
    assert stack.cloud.invoke("lander", {"Records": [sqs_record(message)]}) == {
        "batchItemFailures": []}
    delete(stack, [message])
    body = json.loads(message["Body"])
    return body["dt"], body["events"][0]


def poison(kind: str, dt: str, template: dict[str, Any]) -> str:
    """A queue message body the lander cannot land, of each kind the issue found."""
    bad = {**template, "event_id": f"poison-{kind}"}
    if kind == "lone surrogate":  # accepted by an ingest that did not check for it
        bad["item_id"] = "\ud800"
    elif kind == "no event_id":
        del bad["event_id"]
    elif kind == "unconvertible timestamp":
        bad["ts"] = "soon"
    elif kind == "another day's event":
        bad["ts"] = template["ts"] - 3 * 86_400_000
    elif kind == "not JSON":
        return '{"dt": "' + dt + '", "events": [{'
    return json.dumps({"dt": dt, "events": [bad]})


POISONS = ["lone surrogate", "no event_id", "unconvertible timestamp", "another day's event",
           "not JSON"]


@pytest.mark.parametrize("kind", POISONS)
def test_one_poison_message_among_good_ones_lands_every_good_event(
        stack: LocalStack, kind: str) -> None:
    dt, template = stored_event(stack)
    good = good_events("G", datetime.now(UTC))
    status, answer = stack.request("POST", "/events", {"events": good})
    assert status == 200 and answer["accepted"] == len(good)
    body = poison(kind, dt, template)
    boto3.client("sqs").send_message(QueueUrl=stack.cloud.queue_url, MessageBody=body)
    before = stack.landed_event_ids()

    messages = receive_all(stack)
    assert len(messages) == 3  # two partitions of good events and the poison, one batch
    poison_id = next(m["MessageId"] for m in messages if m["Body"] == body)
    result = stack.cloud.invoke("lander", {"Records": [sqs_record(m) for m in messages]})

    assert [f["itemIdentifier"] for f in result["batchItemFailures"]] == [poison_id]
    landed = Counter(stack.landed_event_ids()) - Counter(before)
    assert landed == Counter(e["event_id"] for e in good)  # every good event, once
    (filed,) = stack.keys(layout.EVENTS_REJECTED)
    record = json.loads(stack.get(filed))
    assert record["body"] == body and record["reason"]
    assert poison_id in filed

    delete(stack, [m for m in messages if m["MessageId"] != poison_id])
    (reported,) = [m for m in messages if m["MessageId"] == poison_id]
    boto3.client("sqs").change_message_visibility(  # its visibility timeout, run out
        QueueUrl=stack.cloud.queue_url, ReceiptHandle=reported["ReceiptHandle"],
        VisibilityTimeout=0)
    stack.cloud.pump_queue()  # SQS delivers the poison again until its receives run out
    assert stack.dead_letters() == [body]
    assert stack.keys(layout.EVENTS_REJECTED) == [filed]  # filed once, however often tried
    assert stack.queued(stack.cloud.queue_url) == 0


def test_a_batch_delivered_twice_is_counted_once(stack: LocalStack) -> None:
    """At-least-once delivery: the same message in two batches, alone and beside another
    message, lands in two files; the nightly run counts each event once."""
    now = datetime.now(UTC)
    first = [event("D", item, at=now - timedelta(hours=2)) for item in ("rice", "milk")]
    second = [event("D", "lamb", at=now - timedelta(hours=1))]
    for events in (first, second):
        assert stack.request("POST", "/events", {"events": events})[0] == 200
    messages = receive_all(stack)
    assert len(messages) == 2
    with_first = next(m for m in messages if first[0]["event_id"] in m["Body"])
    alone, beside = [sqs_record(with_first)], [sqs_record(m) for m in messages]
    for batch in (alone, alone, beside):
        assert stack.cloud.invoke("lander", {"Records": batch})["batchItemFailures"] == []
    delete(stack, messages)
    repeats = Counter(stack.landed_event_ids())
    assert repeats[first[0]["event_id"]] == 2  # the lake holds the redelivery

    result = stack.run_batch()
    assert result["status"] == "SUCCEEDED", result
    seed_events = 7
    assert result["output"]["counts"]["events"] == seed_events + len(first) + len(second)
