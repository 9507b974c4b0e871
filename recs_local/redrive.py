"""``recs redrive``: send refused event messages through the normal path again, after a fix.

Two places hold event messages that did not land: ``events-rejected/`` in the data bucket,
where the lander files each message it refused with the reason and the original body
(``recs.intake.landing``), and the dead-letter queue, where SQS moves a message after its
last receive. Each message is checked with the lander's own check
(``recs.intake.landing.check_message``): one that would now land is sent to the events queue
(the same ``SqsEventQueue.send`` ingest uses), and the lander writes it as any other; then it
is removed from where it was. One that would still be refused stays, and the report says
why. Running it twice is harmless: a message is removed once it is sent, and the lander and
the nightly batch deduplicate by ``event_id`` whatever is sent twice (a message filed and
also dead-lettered, a removal that failed after the send).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import boto3

from recs.contracts import layout
from recs.exceptions import ValidationError
from recs.intake.landing import check_message
from recs.stores.aws import SqsEventQueue

DLQ_ENV = "RECS_DLQ_URL"
QUARANTINE = "quarantine"
DLQ = "dlq"
# How long a dead-lettered message stays hidden while a run looks at it; the ones left in the
# queue are made visible again at the end of the run.
LOOK_SECONDS = 120

Status = Literal["replayed", "refused", "duplicate", "would replay"]


@dataclass
class Outcome:
    source: str  # QUARANTINE or DLQ
    message_id: str
    status: Status
    reason: str = ""
    key: str = ""  # the quarantine object's key

    def line(self) -> str:
        where = self.key or f"dead-letter queue, message {self.message_id}"
        return f"{self.status:12} {where}" + (f": {self.reason}" if self.reason else "")


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, status: Status) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def refused(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "refused"]

    def text(self) -> str:
        lines = [o.line() for o in self.outcomes]
        lines.append(f"{self.count('replayed')} replayed, {self.count('would replay')} would "
                     f"replay (dry run), {len(self.refused)} still refused, "
                     f"{self.count('duplicate')} duplicates removed")
        return "\n".join(lines)


def redrive(queue_url: str, *, bucket: str | None = None, dlq_url: str | None = None,
            dry_run: bool = False, s3: Any = None, sqs: Any = None) -> Report:
    """Replay the quarantine of ``bucket`` (when given), then the dead-letter queue at
    ``dlq_url`` (when given), into the events queue at ``queue_url``."""
    s3 = s3 or boto3.client("s3")
    sqs = sqs or boto3.client("sqs")
    queue = SqsEventQueue(queue_url, sqs)
    report = Report()
    sent: set[str] = set()  # message ids and body digests replayed in this run
    if bucket:
        for key in _quarantined(s3, bucket):
            outcome = _from_quarantine(s3, bucket, key, queue, sent, dry_run)
            report.outcomes.append(outcome)
    if dlq_url:
        report.outcomes.extend(_from_dlq(sqs, dlq_url, queue, sent, dry_run))
    return report


def _quarantined(s3: Any, bucket: str) -> Iterator[str]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                             Prefix=layout.EVENTS_REJECTED):
        for entry in page.get("Contents", []):
            if layout.is_rejected_event(entry["Key"]):
                yield entry["Key"]


def _from_quarantine(s3: Any, bucket: str, key: str, queue: SqsEventQueue, sent: set[str],
                     dry_run: bool) -> Outcome:
    try:
        record = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        message_id, body = str(record["message_id"]), record["body"]
        if not isinstance(body, str):
            raise TypeError("body is not text")
    except (ValueError, KeyError, TypeError) as exc:
        return Outcome(QUARANTINE, "", "refused", f"not a quarantine record ({exc})", key)
    outcome = _replay(QUARANTINE, message_id, body, queue, sent, dry_run)
    outcome.key = key
    if outcome.status in ("replayed", "duplicate"):
        s3.delete_object(Bucket=bucket, Key=key)
    return outcome


def _from_dlq(sqs: Any, dlq_url: str, queue: SqsEventQueue, sent: set[str],
              dry_run: bool) -> list[Outcome]:
    outcomes: list[Outcome] = []
    kept: list[str] = []  # receipt handles of messages left in the queue
    try:
        while True:
            messages = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10,
                                           VisibilityTimeout=LOOK_SECONDS,
                                           WaitTimeSeconds=0).get("Messages", [])
            if not messages:
                break
            for message in messages:
                outcome = _replay(DLQ, message["MessageId"], message["Body"], queue, sent,
                                  dry_run)
                outcomes.append(outcome)
                if outcome.status in ("replayed", "duplicate"):
                    sqs.delete_message(QueueUrl=dlq_url,
                                       ReceiptHandle=message["ReceiptHandle"])
                else:
                    kept.append(message["ReceiptHandle"])
    finally:
        for handle in kept:  # visible again at once, for the next look
            sqs.change_message_visibility(QueueUrl=dlq_url, ReceiptHandle=handle,
                                          VisibilityTimeout=0)
    return outcomes


def _replay(source: str, message_id: str, body: str, queue: SqsEventQueue, sent: set[str],
            dry_run: bool) -> Outcome:
    digest = hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()
    if message_id in sent or digest in sent:
        return Outcome(source, message_id, "duplicate", "replayed from another copy")
    try:
        check_message(body)
    except ValidationError as exc:
        return Outcome(source, message_id, "refused", str(exc))
    if dry_run:
        return Outcome(source, message_id, "would replay")
    queue.send([body])
    sent.update((message_id, digest))
    return Outcome(source, message_id, "replayed")


def dlq_url_by_name(name: str, sqs: Any = None) -> str:
    """The URL of a queue named ``name`` (the CDK app names the dead-letter queue itself: the
    stack's queue list or the console shows it)."""
    url: str = (sqs or boto3.client("sqs")).get_queue_url(QueueName=name)["QueueUrl"]
    return url

