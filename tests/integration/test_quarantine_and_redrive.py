"""Poison messages on the local cloud (moto): the lander lands every good event of a batch,
files each poison message under events-rejected/ and reports it, SQS dead-letters it after its
last receive, and ``recs redrive`` replays what a fix made landable and reports the rest.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pyarrow.parquet as pq
import pytest

from recs.contracts import resources
from recs.exceptions import ValidationError
from recs.intake import landing
from recs_local.cli import main
from recs_local.redrive import redrive
from tests.conftest import api_event, call, event

# Landable by the data, refused only by the lander's bug below: what a fix makes landable.
NEEDS_FIX = "needs-fix"


def stored(user: str, item: str, **extra: Any) -> dict[str, Any]:
    """An event as ingest enqueues it (ts in epoch ms, received_at set)."""
    from recs.intake.validation import validate_event

    return {**validate_event(event(user, item), 1_800_000_000_000), "received_at": 1, **extra}


POISON = {
    "not json": "{oops",
    "lone surrogate": json.dumps({"dt": "2026-11-20", "events": [
        stored("P", "sku", item_id="sku\ud800")]}),  # escaped in JSON: SQS takes it
    "bug": json.dumps({"dt": "2026-11-20", "events": [stored("Q", "tea", category=NEEDS_FIX)]}),
}


@contextmanager
def lander_bug() -> Iterator[None]:
    """The lander as it was before a fix: it refuses events of one category."""
    check = landing.check_message

    def buggy(body: str) -> Any:
        if NEEDS_FIX in body:
            raise ValidationError("category", "refused by a bug in this lander")
        return check(body)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(landing, "check_message", buggy)
        yield


def landed_events(cloud: Any) -> list[dict[str, Any]]:
    s3 = boto3.client("s3")
    rows: list[dict[str, Any]] = []
    listing = s3.list_objects_v2(Bucket=resources.LOCAL_BUCKET, Prefix="events/")
    for entry in listing.get("Contents", []):
        body = s3.get_object(Bucket=resources.LOCAL_BUCKET, Key=entry["Key"])["Body"].read()
        rows.extend(pq.read_table(io.BytesIO(body)).to_pylist())
    return rows


def queued(url: str) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def quarantined() -> dict[str, dict[str, Any]]:
    s3 = boto3.client("s3")
    listing = s3.list_objects_v2(Bucket=resources.LOCAL_BUCKET, Prefix="events-rejected/")
    return {entry["Key"]: json.loads(s3.get_object(Bucket=resources.LOCAL_BUCKET,
                                                   Key=entry["Key"])["Body"].read())
            for entry in listing.get("Contents", [])}


def post_good_events(cloud: Any) -> list[str]:
    ids = []
    for request in range(2):
        events = [event(f"U{request}", f"item{n}") for n in range(3)]
        status, _ = call(cloud, "ingest", api_event("POST", "/events", body={"events": events}))
        assert status == 200
        ids += [e["event_id"] for e in events]
    return ids


def test_poison_messages_are_filed_and_dead_lettered_and_every_good_event_lands(
        cloud: Any) -> None:
    sqs = boto3.client("sqs")
    good = post_good_events(cloud)
    for body in POISON.values():  # among the good messages, in the same receive
        sqs.send_message(QueueUrl=cloud.queue_url, MessageBody=body)
    with lander_bug():
        cloud.pump_queue()

    assert sorted(e["event_id"] for e in landed_events(cloud)) == sorted(good)
    filed = quarantined()
    assert sorted(r["body"] for r in filed.values()) == sorted(POISON.values())
    reasons = " ".join(r["reason"] for r in filed.values())
    assert "message: is not an events message" in reasons and "item_id" in reasons
    # Each poison message was received five times, then moved by SQS to the DLQ.
    assert queued(cloud.queue_url) == 0 and queued(cloud.dlq_url) == len(POISON)


def test_redrive_replays_what_a_fix_made_landable_once_and_reports_the_rest(
        cloud: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    good = post_good_events(cloud)
    sqs = boto3.client("sqs")
    for body in POISON.values():
        sqs.send_message(QueueUrl=cloud.queue_url, MessageBody=body)
    with lander_bug():
        cloud.pump_queue()
    assert queued(cloud.dlq_url) == len(POISON) and len(quarantined()) == len(POISON)

    # The fixed lander is deployed (the patch is gone); the operator looks, then redrives.
    dry = redrive(cloud.queue_url, bucket=resources.LOCAL_BUCKET, dlq_url=cloud.dlq_url,
                  dry_run=True)
    assert dry.count("would replay") == 2 and len(dry.refused) == 4  # each source, each copy
    assert queued(cloud.dlq_url) == len(POISON) and len(quarantined()) == len(POISON)

    report = redrive(cloud.queue_url, bucket=resources.LOCAL_BUCKET, dlq_url=cloud.dlq_url)
    statuses = sorted((o.source, o.status) for o in report.outcomes)
    assert statuses == [("dlq", "duplicate"), ("dlq", "refused"), ("dlq", "refused"),
                        ("quarantine", "refused"), ("quarantine", "refused"),
                        ("quarantine", "replayed")]
    assert {o.reason.split(":")[0] for o in report.refused} == {"message", "item_id"}
    cloud.pump_queue()
    landed = sorted(e["event_id"] for e in landed_events(cloud))
    fixed = json.loads(POISON["bug"])["events"][0]["event_id"]
    assert landed == sorted([*good, fixed])

    # Again, through the CLI: nothing left to replay, the two poison messages still refused
    # (exit 1), and nothing lands twice.
    monkeypatch.setenv("RECS_DLQ_URL", cloud.dlq_url)
    assert main(["redrive"]) == 1
    printed = capsys.readouterr().out
    assert "0 replayed" in printed and "4 still refused" in printed
    assert printed.count("refused ") == 4 and "events-rejected/dt=" in printed
    cloud.pump_queue()
    assert sorted(e["event_id"] for e in landed_events(cloud)) == landed
    assert len(quarantined()) == 2 and queued(cloud.dlq_url) == 2
