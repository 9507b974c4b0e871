"""Accept a batch of behaviour events: validate each, enqueue the good ones, report the bad.

Events are grouped by their ``dt`` partition before they are packed into SQS messages, so the
lander writes every message to exactly one partition file and a failed write retries only
the messages that belong to it.
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from recs.contracts import keys
from recs.contracts.events import EXPOSURES, Event
from recs.exceptions import PayloadTooLarge, StoreError, ValidationError
from recs.intake.validation import event_date, validate_event
from recs.stores.ports import EventQueue, RealtimeStore

logger = logging.getLogger(__name__)

MAX_EVENTS = 500
REALTIME_WRITERS = 16
# Only events this recent reach the realtime store: it serves the shopper's current visit,
# and a backfill of last month's history would only cost writes.
REALTIME_HORIZON_MS = 2 * 86_400_000
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


def now_ms() -> int:
    return int(time.time() * 1000)


def parse_body(body: str | bytes | None, key: str = "events", limit: int = MAX_EVENTS) -> list[Any]:
    """The ``key`` list of a request body, or an error naming what is wrong with it."""
    if body is None or body in ("", b""):
        raise ValidationError("body", f'is empty; send {{"{key}": [...]}}')
    size = len(body.encode() if isinstance(body, str) else body)
    if size > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"body is {size} bytes; the limit is {MAX_BODY_BYTES}")
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError("body", f"is not valid JSON ({exc})") from exc
    if not isinstance(payload, dict) or key not in payload:
        raise ValidationError(key, f'is required: send {{"{key}": [...]}}')
    entries = payload[key]
    if not isinstance(entries, list):
        raise ValidationError(key, "must be a list")
    if not entries:
        raise ValidationError(key, "must not be empty")
    if len(entries) > limit:
        raise PayloadTooLarge(f"{len(entries)} {key} in one request; the limit is {limit}")
    return entries


def ingest(
    raw_events: list[Any],
    queue: EventQueue,
    realtime: RealtimeStore | None = None,
    now: int | None = None,
) -> IngestResult:
    """Validate, deduplicate within the batch, enqueue, then update the realtime store.

    Raises only if enqueueing fails: the queue is the durable record. The realtime store is
    best effort (a failure there costs freshness, not data), so it is written second.
    """
    now = now_ms() if now is None else now
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
    if realtime is not None:
        horizon = now - REALTIME_HORIZON_MS
        record_recent(realtime, [e for events in by_date.values() for e in events
                                 if e["ts"] >= horizon], now)
    return result


def shopper_keys(event: Event) -> list[str]:
    """The realtime keys an event updates: the user's, and the session's."""
    return keys.shopper_keys(event["user_id"], event["session_id"])


def record_recent(realtime: RealtimeStore, events: list[Event], now_ms: int) -> None:
    recent: dict[str, list[tuple[str, str, int]]] = {}
    shown: dict[str, list[str]] = {}
    for event in sorted(events, key=lambda e: e["ts"]):
        for key in shopper_keys(event):
            if event["event_type"] in EXPOSURES:
                shown.setdefault(key, []).append(event["item_id"])
            else:
                recent.setdefault(key, []).append(
                    (event["item_id"], event["event_type"], event["ts"]))
    def update(key: str) -> None:
        try:
            realtime.record(key, recent.get(key, []), shown.get(key, []), now_ms)
        except StoreError as exc:
            logger.warning("realtime update skipped for %s: %s", key, exc)

    shoppers = sorted(recent.keys() | shown.keys())
    if len(shoppers) <= 2:  # the common case: one shopper's events from a frontend
        for key in shoppers:
            update(key)
        return
    # A backend's bulk upload touches many shoppers: one write each, a few at a time.
    with ThreadPoolExecutor(max_workers=REALTIME_WRITERS) as pool:
        list(pool.map(update, shoppers))
