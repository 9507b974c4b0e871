"""Land queued events in S3: one zstd Parquet file per ``dt`` partition per batch.

Every queue message is parsed and converted to the Parquet schema on its own, before anything
is written, so a message that cannot land is known by its id: it alone is reported as a
failure to SQS and filed, with the reason and its original body, under ``events-rejected/``
(``recs.contracts.layout.rejected_event``), while every other message of the batch lands.
``recs redrive`` (``recs_local.redrive``) sends filed and dead-lettered messages through
again once the cause is fixed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from recs.contracts import layout
from recs.contracts.events import Event
from recs.exceptions import RecsError, ValidationError
from recs.formats import event_files
from recs.intake.validation import event_date
from recs.stores.ports import ObjectStore

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_YEAR_10000_MS = 253_402_300_800_000


def parse_message(body: str) -> tuple[str, list[Event]]:
    """The partition and events of one queue message written by ``recs.intake.ingest``."""
    try:
        payload: Any = json.loads(body)
        dt, events = payload["dt"], payload["events"]
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise ValidationError("message", f"is not an events message ({exc})") from exc
    if not isinstance(events, list) or not isinstance(dt, str):
        raise ValidationError("message", "events must be a list and dt a date")
    return dt, events


def check_message(body: str) -> tuple[str, pa.Table]:
    """A message as the lander will write it: its partition and its events as a table of
    the Parquet schema. Raises ``ValidationError`` saying why the message cannot land: not an
    events message, no date, an event without an ``event_id``, an event of another date
    than the message's, or a value the schema cannot hold."""
    dt, events = parse_message(body)
    if not _DATE.fullmatch(dt):
        raise ValidationError("dt", "must be a date YYYY-MM-DD")
    try:
        date.fromisoformat(dt)
    except ValueError as exc:
        raise ValidationError("dt", "must be a date YYYY-MM-DD") from exc
    if not events:
        raise ValidationError("events", "must not be empty")
    for event in events:
        if not isinstance(event, dict):
            raise ValidationError("events", "must all be JSON objects")
        if not isinstance(event.get("event_id"), str) or not event["event_id"]:
            raise ValidationError("event_id", "is required in every event")
    events_table = event_files.table(events)
    stamps = pc.unique(events_table["ts"].cast(pa.int64())).to_pylist()
    if any(not 0 <= ts < _YEAR_10000_MS or event_date(ts) != dt for ts in stamps):
        raise ValidationError("ts", f"every event of a dt={dt} message must be of that day")
    return dt, events_table


@dataclass
class Refused:
    """A queue message that cannot land, and why."""

    message_id: str
    reason: str
    key: str = ""  # where it was filed under events-rejected/, once it is


@dataclass
class Landing:
    """What one batch of queue messages became."""

    written: dict[str, str] = field(default_factory=dict)  # dt -> the file's key
    landed: list[str] = field(default_factory=list)  # message ids
    events: int = 0  # the events of the landed messages (before deduplication by id)
    refused: list[Refused] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # message ids whose write failed

    def failures(self) -> list[str]:
        """The messages SQS must keep: refused ones (the DLQ after their last receive) and
        those whose partition could not be written (retried)."""
        return [r.message_id for r in self.refused] + self.failed


def land_messages(messages: Sequence[tuple[str, str]], objects: ObjectStore,
                  now_ms: int) -> Landing:
    """Land ``(message id, body)`` pairs: each message alone is checked and, if it cannot land,
    refused and filed under ``events-rejected/``; the others are written, one file per
    partition, deduplicated by ``event_id``. A partition whose write fails fails only its own
    messages. Nothing here raises for one message's sake."""
    landing = Landing()
    by_date: dict[str, list[tuple[str, pa.Table]]] = {}
    for message_id, body in messages:
        try:
            dt, table = check_message(body)
        except ValidationError as exc:
            landing.refused.append(Refused(message_id, str(exc)))
            continue
        by_date.setdefault(dt, []).append((message_id, table))
    for dt, parts in sorted(by_date.items()):
        ids = [message_id for message_id, _ in parts]
        try:
            landing.written[dt] = write_partition(dt, [table for _, table in parts], objects)
        except RecsError:
            landing.failed.extend(ids)
            continue
        landing.landed.extend(ids)
        landing.events += sum(table.num_rows for _, table in parts)
    day = datetime.fromtimestamp(now_ms / 1000, tz=UTC).date().isoformat()
    bodies = dict(messages)
    for refused in landing.refused:
        key = layout.rejected_event(day, refused.message_id)
        record = {"message_id": refused.message_id, "reason": refused.reason,
                  "rejected_at": now_ms, "body": bodies[refused.message_id]}
        try:
            objects.put(key, json.dumps(record, sort_keys=True).encode())
        except RecsError:
            continue  # still reported as failed: SQS keeps it, and the DLQ holds it at last
        refused.key = key
    return landing


def health_counts(landing: Landing, first_receipts: Collection[str]) -> dict[str, int]:
    """What a batch adds to the day's health row: the events landed, and the messages
    refused on their first receive (``first_receipts``: message ids). SQS hands a refused
    message back until its last receive, so counting every refusal would count it five
    times; whether a message is refused depends on its body alone, so its first receive
    refuses it too."""
    return {"landed": landing.events,
            "quarantined": sum(r.message_id in first_receipts for r in landing.refused)}


def write_partition(dt: str, tables: Sequence[pa.Table], objects: ObjectStore) -> str:
    """Write one partition's events, the first copy of each ``event_id`` only, to a key
    derived from those ids (so the same events landed again overwrite the same file)."""
    combined = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    first: dict[str, int] = {}
    for row, event_id in enumerate(combined["event_id"].to_pylist()):
        first.setdefault(event_id, row)
    if len(first) < combined.num_rows:
        combined = combined.take(pa.array(sorted(first.values()), type=pa.int64()))
    key = event_files.partition_key(dt, first)
    objects.put(key, event_files.encode_table(combined))
    return key


def land(batches: Iterable[tuple[str, list[Event]]], objects: ObjectStore) -> dict[str, str]:
    """Write each partition's events, deduplicated by ``event_id``; returns dt -> key.

    For events already known to convert (tests, tools): a value the schema cannot hold
    raises ``ValidationError``. The lander uses ``land_messages``.
    """
    by_date: dict[str, list[pa.Table]] = {}
    for dt, events in batches:
        by_date.setdefault(dt, []).append(event_files.table(events))
    return {dt: write_partition(dt, tables, objects) for dt, tables in sorted(by_date.items())}
