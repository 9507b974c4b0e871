"""Land queued events in S3: one zstd Parquet file per ``dt`` partition per batch."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from recs.contracts.events import Event
from recs.exceptions import ValidationError
from recs.formats import event_files
from recs.stores.ports import ObjectStore


def parse_message(body: str) -> tuple[str, list[Event]]:
    """The partition and events of one queue message written by ``recs.intake.ingest``."""
    try:
        payload: Any = json.loads(body)
        dt, events = payload["dt"], payload["events"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValidationError("message", f"is not an events message ({exc})") from exc
    if not isinstance(events, list) or not isinstance(dt, str):
        raise ValidationError("message", "events must be a list and dt a date")
    return dt, events


def land(batches: Sequence[tuple[str, list[Event]]], objects: ObjectStore) -> dict[str, str]:
    """Write each partition's events, deduplicated by ``event_id``; returns dt -> key."""
    by_date: dict[str, dict[str, Event]] = {}
    for dt, events in batches:
        partition = by_date.setdefault(dt, {})
        for event in events:
            partition.setdefault(event["event_id"], event)
    written = {}
    for dt, unique in sorted(by_date.items()):
        events = list(unique.values())
        key = event_files.partition_key(dt, events)
        objects.put(key, event_files.encode(events))
        written[dt] = key
    return written
