"""Accept a batch of behaviour events: validate each, enqueue the good ones, report the bad.

Events are grouped by their ``dt`` partition before they are packed into SQS messages, so the
lander writes every message to exactly one partition file and a failed write retries only
the messages that belong to it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from recs.events import Event, event_date, validate_event
from recs.exceptions import PayloadTooLarge, ValidationError
from recs.stores.ports import EventQueue

MAX_EVENTS = 500
MAX_BODY_BYTES = 1_000_000
EVENTS_PER_MESSAGE = 100


@dataclass
class Rejection:
    index: int
    field: str
    reason: str
    event_id: str | None = None


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "rejected": len(self.rejected),
            "duplicates": self.duplicates,
            "errors": [r.__dict__ for r in self.rejected],
        }


def parse_body(body: str | bytes | None) -> list[Any]:
    """The ``events`` list of a request body, or an error naming what is wrong with it."""
    if body is None or body in ("", b""):
        raise ValidationError("body", 'is empty; send {"events": [...]}')
    size = len(body.encode() if isinstance(body, str) else body)
    if size > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"body is {size} bytes; the limit is {MAX_BODY_BYTES}")
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError("body", f"is not valid JSON ({exc})") from exc
    if not isinstance(payload, dict) or "events" not in payload:
        raise ValidationError("events", 'is required: send {"events": [...]}')
    events = payload["events"]
    if not isinstance(events, list):
        raise ValidationError("events", "must be a list")
    if not events:
        raise ValidationError("events", "must not be empty")
    if len(events) > MAX_EVENTS:
        raise PayloadTooLarge(f"{len(events)} events in one request; the limit is {MAX_EVENTS}")
    return events


def ingest(raw_events: list[Any], queue: EventQueue, now_ms: int | None = None) -> IngestResult:
    """Validate, deduplicate within the batch, and enqueue; raises only if enqueueing fails."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    result = IngestResult()
    by_date: dict[str, list[Event]] = {}
    seen: set[str] = set()
    for index, raw in enumerate(raw_events):
        try:
            event = validate_event(raw, now)
        except ValidationError as exc:
            event_id = raw.get("event_id") if isinstance(raw, dict) else None
            result.rejected.append(
                Rejection(index, exc.field, exc.reason, str(event_id) if event_id else None)
            )
            continue
        result.accepted += 1
        if event["event_id"] in seen:
            result.duplicates += 1
            continue
        seen.add(event["event_id"])
        event["received_at"] = now
        by_date.setdefault(event_date(event["ts"]), []).append(event)
    messages = [
        json.dumps({"dt": dt, "events": events[start : start + EVENTS_PER_MESSAGE]},
                   separators=(",", ":"))
        for dt, events in sorted(by_date.items())
        for start in range(0, len(events), EVENTS_PER_MESSAGE)
    ]
    if messages:
        queue.send(messages)
    return result
